//! Failed-login counting, one row per normalised identifier.

use rusqlite::{Connection, params};
use warden_auth::UnixTime;
use warden_auth::lockout;
use warden_auth::model::{AuditEvent, ThrottleState};
use warden_auth::store::ThrottlePolicy;

use crate::audit;
use crate::error::Result;
use crate::rows;

fn state(row: &rusqlite::Row<'_>) -> Result<ThrottleState> {
    Ok(ThrottleState {
        key: row.get(0)?,
        failures: row.get(1)?,
        window_started_at: row.get(2)?,
        locked_until: row.get(3)?,
    })
}

pub fn get(conn: &Connection, key: &str) -> Result<Option<ThrottleState>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, failures, window_started_at, locked_until FROM login_throttle WHERE key = ?1",
    )?;
    rows::optional(&mut stmt, [key], state)
}

/// Applies the engine's [`lockout::after_failure`] to the stored row and
/// writes the result, inside the caller's write job: the read and the write
/// are one transaction on the single writer, so concurrent failures for one
/// key never lose a count (a PostgreSQL store would read with `FOR UPDATE`).
pub fn record_failure(
    conn: &Connection,
    key: &str,
    now: UnixTime,
    policy: ThrottlePolicy,
    events: &[AuditEvent],
) -> Result<ThrottleState> {
    let previous = get(conn, key)?;
    let next = lockout::after_failure(previous.as_ref(), key, now, policy);
    conn.prepare_cached(
        "INSERT INTO login_throttle (key, failures, window_started_at, window_ends_at, locked_until)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (key) DO UPDATE SET
             failures = excluded.failures,
             window_started_at = excluded.window_started_at,
             window_ends_at = excluded.window_ends_at,
             locked_until = excluded.locked_until",
    )?
    .execute(params![
        next.key,
        next.failures,
        next.window_started_at,
        next.window_started_at.saturating_add(policy.window),
        next.locked_until,
    ])?;
    audit::append(conn, events)?;
    Ok(next)
}

pub fn clear(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_throttle WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}
