//! What survives a restart, and what can be forgotten.
//!
//! Both use one cutoff, `now - keep_for`: a record whose expiry is after it
//! still matters (it is returned by `live_revocations`), one whose expiry is
//! before it can go (`flush_expired`). A revoked session is judged by its
//! `max_expires_at`, the absolute cap no token of it outlives, never by the
//! expiry of its latest token, so a revocation that still matters is never
//! flushed.

use rusqlite::Connection;
use warden_auth::UnixTime;
use warden_auth::model::{FlushReport, LiveRevocations, RevocationReason};

use crate::error::Result;
use crate::rows;

pub(crate) fn live_revocations(
    conn: &Connection,
    now: UnixTime,
    keep_for: i64,
) -> Result<LiveRevocations> {
    let cutoff = now.saturating_sub(keep_for);
    let mut stmt = conn.prepare_cached(
        // Only the revoked sessions' partial index (migration 0004): the
        // cost follows the revoked sessions, not the live ones.
        "SELECT id, max_expires_at, revoked_reason FROM sessions INDEXED BY sessions_revoked
         WHERE revoked_at IS NOT NULL AND max_expires_at > ?1
         ORDER BY max_expires_at",
    )?;
    let sessions = rows::all(&mut stmt, [cutoff], |row| {
        let reason: Option<String> = row.get(2)?;
        Ok((
            rows::session_id_at(row, 0)?,
            row.get(1)?,
            reason.as_deref().and_then(RevocationReason::parse),
        ))
    })?;
    let mut stmt = conn.prepare_cached(
        "SELECT jti, expires_at FROM revoked_jtis WHERE expires_at > ?1 ORDER BY expires_at",
    )?;
    let jtis = rows::all(&mut stmt, [cutoff], |row| {
        Ok((rows::jti_at(row, 0)?, row.get(1)?))
    })?;
    Ok(LiveRevocations { sessions, jtis })
}

/// Sessions that can go: past their absolute cap, or never revoked and past
/// the expiry of their newest token (nothing can rotate them, and nothing of
/// theirs needs remembering as revoked). Written as a UNION so each arm uses
/// its expiry index.
///
/// The second arm finds never-revoked sessions past their expiry through their
/// head token's expiry index (sessions have no `expires_at` index since schema
/// 5 on SQLite, 4 on PostgreSQL: a rotation would rewrite it every time). That
/// finds them all: a session's `expires_at` is never earlier than its head
/// token's (opening and rotating set it to the head's, a sliding refresh only
/// moves it later), and a live session's head row is never flushed.
const DOOMED_SESSIONS: &str = "SELECT id FROM sessions WHERE max_expires_at < ?1
     UNION SELECT s.id FROM outstanding_tokens t CROSS JOIN sessions s
           WHERE t.expires_at < ?1 AND s.id = t.session_id AND s.head_jti = t.jti
             AND s.expires_at < ?1 AND s.revoked_at IS NULL";

pub(crate) fn flush(conn: &Connection, now: UnixTime, keep_for: i64) -> Result<FlushReport> {
    let cutoff = now.saturating_sub(keep_for);
    // The doomed sessions are noted first, with their heads: the query finds
    // expired sessions through their head tokens, and their tokens go before
    // they do. The job may run twice in one transaction (the writer's
    // savepoint pass), hence the emptying first.
    conn.prepare_cached(
        "CREATE TEMP TABLE IF NOT EXISTS flush_doomed (id BLOB PRIMARY KEY, head BLOB NOT NULL)
         WITHOUT ROWID",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM temp.flush_doomed")?
        .execute([])?;
    conn.prepare_cached(&format!(
        "INSERT INTO temp.flush_doomed (id, head)
         SELECT id, head_jti FROM sessions WHERE id IN ({DOOMED_SESSIONS})"
    ))?
    .execute([cutoff])?;
    // Expired tokens, except the head of a session that is not revoked (the
    // head of a sliding session keeps its jti while its expiry moves). A
    // token's expiry is never after its successor's, so this takes most of
    // a doomed session's chain too.
    let expired = conn
        .prepare_cached(
            "DELETE FROM outstanding_tokens AS t
             WHERE t.expires_at < ?1
               AND NOT EXISTS (SELECT 1 FROM sessions s
                               WHERE s.id = t.session_id AND s.head_jti = t.jti
                                 AND s.revoked_at IS NULL)",
        )?
        .execute([cutoff])?;
    // What is left of a doomed session's tokens, whatever their rows say: its
    // rotation chain (`sessions::chains_from`; schema 7 indexes tokens by jti
    // only), from the head through `parent_jti`. It ends at the first token
    // already gone: every token before that one expired no later.
    let chain_tokens = conn
        .prepare_cached(&format!(
            "{}
             DELETE FROM outstanding_tokens WHERE seq IN (SELECT seq FROM chain)",
            crate::sessions::chains_from(
                "SELECT head AS head_jti, id AS session_id FROM temp.flush_doomed"
            )
        ))?
        .execute([])?;
    let sessions = conn
        .prepare_cached("DELETE FROM sessions WHERE id IN (SELECT id FROM temp.flush_doomed)")?
        .execute([])?;
    conn.prepare_cached("DELETE FROM temp.flush_doomed")?
        .execute([])?;
    let outstanding_tokens = expired + chain_tokens;
    let revoked_jtis = conn
        .prepare_cached("DELETE FROM revoked_jtis WHERE expires_at < ?1")?
        .execute([cutoff])?;
    let throttle_entries = conn
        .prepare_cached("DELETE FROM login_throttle WHERE expires_at < ?1")?
        .execute([cutoff])?;
    // Not reported: the feed is bookkeeping between processes, not the engine's data.
    crate::feed::flush(conn, cutoff)?;
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    Ok(FlushReport {
        outstanding_tokens: n(outstanding_tokens),
        sessions: n(sessions),
        revoked_jtis: n(revoked_jtis),
        throttle_entries: n(throttle_entries),
    })
}
