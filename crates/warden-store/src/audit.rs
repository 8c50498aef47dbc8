//! The append-only audit log.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use warden_auth::model::{AuditEntry, AuditEvent, AuditKind, AuditQuery};

use crate::error::{Error, Result};
use crate::rows::{self, AUDIT_COLUMNS, id_bytes, opt_id_bytes};

/// What `limit: 0` means.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// The most lines one query returns.
pub(crate) const MAX_LIMIT: u32 = 10_000;

pub(crate) fn append(conn: &Connection, events: &[AuditEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit_log (at, kind, subject, actor, session_id, jti, address, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for e in events {
        let detail = if e.detail.is_null() {
            None
        } else {
            Some(
                serde_json::to_string(&e.detail)
                    .map_err(|err| Error::Invalid(format!("audit detail: {err}")))?,
            )
        };
        stmt.execute(params![
            e.at,
            e.kind.as_str(),
            e.subject,
            e.actor,
            opt_id_bytes(e.session_id.map(|s| s.0)),
            opt_id_bytes(e.jti.map(|j| j.0)),
            e.address,
            e.reason,
            detail,
        ])?;
    }
    Ok(())
}

/// Newest first (by id: the order lines were written, whatever clock wrote them).
/// `since` and `until` are both inclusive.
///
/// `rotated` lines, the most frequent (one per durable rotation), are in
/// neither `audit_log_kind` nor `audit_log_session` (schema 6): a rotation
/// then writes two index entries less, and the second was a random page per
/// rotation. A query that wants no rotations says `kind <> 'rotated'`, which
/// lets it use those partial indexes. A session's rotations are found
/// through its user's lines (`audit_log_subject`, named so that the plan does
/// not depend on the statistics): a `rotated` line's subject
/// is its session's user, known from the session's row, or, once the session
/// is flushed, from the session's other lines (its opening `login_succeeded`);
/// they follow that opening line, so the walk stops there: a session's
/// history costs a walk over the user's lines since it began (BENCHMARKS.md:
/// 1.5 ms for a session with 3.6k of its user's 57k lines, 16 ms of CPU for
/// an old one with 6 lines before 53k newer ones; the session index took
/// under 1 ms for either).
pub(crate) fn query(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    // The filters every arm shares.
    let mut common = String::new();
    let mut common_args: Vec<Value> = Vec::new();
    if let Some(user) = q.user {
        common.push_str(" AND (subject = ? OR actor = ?)");
        common_args.push(Value::Integer(user));
        common_args.push(Value::Integer(user));
    }
    if let Some(since) = q.since {
        common.push_str(" AND at >= ?");
        common_args.push(Value::Integer(since));
    }
    if let Some(until) = q.until {
        common.push_str(" AND at <= ?");
        common_args.push(Value::Integer(until));
    }
    if let Some(before) = q.before_id {
        common.push_str(" AND id < ?");
        common_args.push(Value::Integer(before));
    }
    let rotated = AuditKind::Rotated.as_str();
    let wants_rotations = q.kinds.is_empty() || q.kinds.contains(&AuditKind::Rotated);
    let others: Vec<AuditKind> = q
        .kinds
        .iter()
        .copied()
        .filter(|k| *k != AuditKind::Rotated)
        .collect();
    let wants_others = q.kinds.is_empty() || !others.is_empty();
    // ` AND kind IN (…)` over `kinds`; nothing for none (every kind).
    let kind_in = |kinds: &[AuditKind], sql: &mut String, args: &mut Vec<Value>| {
        if !kinds.is_empty() {
            let marks = vec!["?"; kinds.len()].join(", ");
            sql.push_str(&format!(" AND kind IN ({marks})"));
            args.extend(kinds.iter().map(|k| Value::Text(k.as_str().to_owned())));
        }
    };

    let mut sql = String::new();
    let mut args: Vec<Value> = Vec::new();
    match q.session_id {
        None => {
            sql.push_str(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1 = 1"
            ));
            if wants_rotations {
                kind_in(&q.kinds, &mut sql, &mut args);
            } else {
                sql.push_str(&format!(" AND kind <> '{rotated}'"));
                kind_in(&others, &mut sql, &mut args);
            }
            sql.push_str(&common);
            args.extend(common_args.iter().cloned());
        }
        Some(sid) => {
            let sid = Value::Blob(id_bytes(sid.0).to_vec());
            let mut arms = Vec::new();
            if wants_others {
                let mut arm = format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log
                     WHERE session_id = ? AND kind <> '{rotated}'"
                );
                args.push(sid.clone());
                kind_in(&others, &mut arm, &mut args);
                arm.push_str(&common);
                args.extend(common_args.iter().cloned());
                arms.push(arm);
            }
            if wants_rotations {
                let mut arm = format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log INDEXED BY audit_log_subject
                     WHERE kind = '{rotated}' AND session_id = ?
                       AND subject IN (SELECT user_id FROM sessions WHERE id = ?
                                       UNION SELECT subject FROM audit_log
                                             WHERE session_id = ? AND kind <> '{rotated}'
                                               AND subject IS NOT NULL)
                       AND id > coalesce((SELECT min(id) FROM audit_log
                                          WHERE session_id = ? AND kind <> '{rotated}'), 0)"
                );
                args.extend([sid.clone(), sid.clone(), sid.clone(), sid]);
                arm.push_str(&common);
                args.extend(common_args.iter().cloned());
                arms.push(arm);
            }
            sql.push_str(&arms.join(" UNION ALL "));
        }
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    let limit = match q.limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    args.push(Value::Integer(i64::from(limit)));
    let mut stmt = conn.prepare_cached(&sql)?;
    rows::all(&mut stmt, params_from_iter(args), rows::audit_entry)
}
