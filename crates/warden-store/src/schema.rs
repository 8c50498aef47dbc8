//! Embedded migrations, tracked with `PRAGMA user_version`.
//!
//! Migration `n` (1-based) brings the schema to version `n`. Every pending
//! migration runs in one `BEGIN IMMEDIATE` transaction together with the
//! version bump (both live in the database file, so an interrupted upgrade
//! leaves the old version intact). `application_id` marks the file as
//! Warden's, so pointing the store at some other SQLite database fails instead
//! of "migrating" it.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// In order; the index + 1 is the schema version a migration produces.
/// Listed in [`warden_migrations`] beside the PostgreSQL store's.
const MIGRATIONS: &[&str] = warden_migrations::SQLITE;

/// "Wrdn" as a big-endian 32-bit integer.
const APPLICATION_ID: i64 = 0x5772_646e;

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to the latest version; a no-op when it is there.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app_id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(Error::Schema(format!(
            "not a Warden database (application_id {app_id:#x})"
        )));
    }
    if app_id == 0 && version != 0 {
        return Err(Error::Schema(format!(
            "not a Warden database (user_version {version} without Warden's application_id)"
        )));
    }
    if version > latest_version() {
        return Err(Error::Schema(format!(
            "database schema version {version} is newer than this build ({})",
            latest_version()
        )));
    }
    if version == latest_version() {
        return Ok(());
    }
    let start = usize::try_from(version)
        .map_err(|_| Error::Schema(format!("database schema version {version} is not valid")))?;
    for sql in &MIGRATIONS[start..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", latest_version())?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        assert!(matches!(migrate(&mut conn), Err(Error::Schema(_))));
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "application_id", 42).unwrap();
        assert!(matches!(migrate(&mut conn), Err(Error::Schema(_))));
    }

    /// Version 3 removes what was typed for names that are no account from
    /// audit lines written before it, and keeps the log append-only.
    /// A Warden database as schema `version` left it.
    fn at_version(version: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn
    }

    #[test]
    fn version_3_scrubs_typed_identifiers_from_old_audit_lines() {
        let mut conn = at_version(2);
        conn.execute_batch(
            r#"INSERT INTO audit_log (at, kind, subject, detail) VALUES
                 (1, 'login_failed', NULL, '{"identifier":"hunter2-secret"}'),
                 (2, 'locked_out', NULL, '{"identifier":"hunter2-secret","until":9}'),
                 (3, 'login_failed', 7, '{"identifier":"alice"}'),
                 (4, 'user_created', 7, '{"username":"alice"}'),
                 (5, 'logout', 7, NULL);
               INSERT INTO login_throttle (key, failures, window_started_at, window_ends_at)
                 VALUES ('hunter2-secret', 3, 1, 100);"#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let details: Vec<Option<String>> = conn
            .prepare("SELECT detail FROM audit_log ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            details,
            [
                Some("{}".to_string()),
                Some(r#"{"until":9}"#.to_string()),
                Some(r#"{"identifier":"alice"}"#.to_string()),
                Some(r#"{"username":"alice"}"#.to_string()),
                None,
            ]
        );
        let throttled: i64 = conn
            .query_row("SELECT count(*) FROM login_throttle", [], |r| r.get(0))
            .unwrap();
        assert_eq!(throttled, 0, "the old readable counters are gone");
        assert!(
            conn.execute("UPDATE audit_log SET reason = 'x'", [])
                .is_err(),
            "append-only again"
        );
    }

    /// Version 6 rebuilds `audit_log` (no AUTOINCREMENT, partial kind and
    /// session indexes): every line keeps its id and values, new ids go on
    /// from the largest, and the log stays append-only.
    #[test]
    fn version_6_keeps_every_audit_line_and_id() {
        let mut conn = at_version(5);
        conn.execute_batch(
            "INSERT INTO audit_log (at, kind, subject, session_id, address, detail) VALUES
                 (1, 'login', 1, x'01', '::1', NULL),
                 (2, 'rotated', 1, x'01', '::1', '{\"successor\":\"ab\"}'),
                 (3, 'logout', 1, x'01', NULL, NULL);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();

        let lines: Vec<(i64, i64, String, Option<String>)> = conn
            .prepare("SELECT id, at, kind, detail FROM audit_log ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            lines,
            [
                (1, 1, "login".to_string(), None),
                (
                    2,
                    2,
                    "rotated".to_string(),
                    Some(r#"{"successor":"ab"}"#.to_string())
                ),
                (3, 3, "logout".to_string(), None),
            ]
        );
        conn.execute("INSERT INTO audit_log (at, kind) VALUES (4, 'login')", [])
            .unwrap();
        let last: i64 = conn
            .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last, 4);
        assert!(
            conn.execute("UPDATE audit_log SET reason = 'x'", [])
                .is_err()
        );
        assert!(conn.execute("DELETE FROM audit_log", []).is_err());
        let sequences: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_sequence WHERE name = 'audit_log'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sequences, 0, "no AUTOINCREMENT bookkeeping left");
        // The partial kind index serves a query that says it wants no rotations.
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM audit_log
                 WHERE kind IN ('logout') AND kind <> 'rotated'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("audit_log_kind"), "{plan}");
    }

    /// Versions 6 and 7 rebuild `outstanding_tokens` (6: one index on
    /// (session, jti); 7: on jti alone, no foreign key): every token keeps its
    /// row, is found by its session and jti, and lists in issue order.
    #[test]
    fn versions_6_and_7_keep_every_token() {
        use warden_auth::{Jti, SessionId};
        let mut conn = at_version(5);
        let (sid, other) = (SessionId::random(), SessionId::random());
        let (j1, j2, j3) = (Jti::random(), Jti::random(), Jti::random());
        let b = |v: u128| crate::rows::id_bytes(v).to_vec();
        conn.execute(
            "INSERT INTO users (username, username_key, password_hash, created_at)
             VALUES ('alice', 'alice', 'x', 1)",
            [],
        )
        .unwrap();
        for (id, head) in [(sid, j2), (other, j3)] {
            conn.execute(
                "INSERT INTO sessions (user_id, id, kind, created_at, head_jti, expires_at,
                                       max_expires_at)
                 VALUES (1, ?1, 'pair', 1, ?2, 500, 900)",
                rusqlite::params![b(id.0), b(head.0)],
            )
            .unwrap();
        }
        // sid's chain j1 -> j2 with other's j3 issued between them.
        for (jti, session, parent) in [(j1, sid, None), (j3, other, None), (j2, sid, Some(j1))] {
            conn.execute(
                "INSERT INTO outstanding_tokens (jti, session_id, user_id, token_type,
                     signing_input_sha256, kid, issued_at, expires_at, parent_jti, address)
                 VALUES (?1, ?2, 1, 'refresh', 'pin', 'k1', 10, 500, ?3, '::1')",
                rusqlite::params![b(jti.0), b(session.0), parent.map(|j: Jti| b(j.0))],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();

        let listed: Vec<Jti> = crate::sessions::tokens_of(&conn, sid)
            .unwrap()
            .into_iter()
            .map(|t| t.jti)
            .collect();
        assert_eq!(listed, [j1, j2]);
        let head = crate::sessions::token(&conn, sid, j2).unwrap().unwrap();
        assert_eq!(
            (head.parent_jti, head.address.as_deref()),
            (Some(j1), Some("::1"))
        );
        assert_eq!(crate::sessions::token(&conn, other, j2).unwrap(), None);
        assert!(crate::sessions::token(&conn, other, j3).unwrap().is_some());
        // A jti is unique across sessions again (version 6: within one).
        for session in [sid, other] {
            let dup = conn.execute(
                "INSERT INTO outstanding_tokens (jti, session_id, user_id, token_type,
                     signing_input_sha256, kid, issued_at, expires_at)
                 VALUES (?1, ?2, 1, 'refresh', 'pin', 'k1', 10, 500)",
                rusqlite::params![b(j1.0), b(session.0)],
            );
            assert!(dup.is_err(), "{session:?}");
        }
        // No foreign key: deleting a session would scan every token without
        // an index on session_id (the flush removes the chain itself).
        let keys: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_foreign_key_list('outstanding_tokens')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(keys, 0);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT seq FROM outstanding_tokens
                 WHERE session_id = x'00' AND jti = x'00'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("outstanding_tokens_jti"), "{plan}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert!(matches!(migrate(&mut conn), Err(Error::Schema(_))));
    }
}
