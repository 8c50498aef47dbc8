//! Failed-login counting (crates/warden-auth/src/lockout.rs): one row per
//! pair, identifier or address, keyed by a keyed hash.

use rusqlite::{Connection, params};
use warden_auth::UserId;
use warden_auth::lockout;
use warden_auth::model::{ThrottleRequest, ThrottleState, ThrottleVerdict};

use crate::audit;
use crate::error::{Error, Result};
use crate::rows::{self, THROTTLE_COLUMNS};

fn get(conn: &Connection, key: &str) -> Result<Option<ThrottleState>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {THROTTLE_COLUMNS} FROM login_throttle WHERE key = ?1"
    ))?;
    rows::optional(&mut stmt, [key], rows::throttle)
}

/// The rows of `keys` that exist.
pub(crate) fn get_many(conn: &Connection, keys: &[String]) -> Result<Vec<ThrottleState>> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(row) = get(conn, key)? {
            found.push(row);
        }
    }
    Ok(found)
}

pub(crate) fn of_user(conn: &Connection, user: UserId) -> Result<Vec<ThrottleState>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {THROTTLE_COLUMNS} FROM login_throttle WHERE user_id = ?1 ORDER BY scope, address, key"
    ))?;
    rows::all(&mut stmt, [user], rows::throttle)
}

fn put(conn: &Connection, row: &ThrottleState) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO login_throttle ({THROTTLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (key) DO UPDATE SET
             scope = excluded.scope,
             user_id = excluded.user_id,
             address = excluded.address,
             failures = excluded.failures,
             pending = excluded.pending,
             pending_until = excluded.pending_until,
             window_started_at = excluded.window_started_at,
             locked_until = excluded.locked_until,
             last_success_at = excluded.last_success_at,
             expires_at = excluded.expires_at"
    ))?
    .execute(params![
        row.key,
        row.scope.as_str(),
        row.user_id,
        row.address,
        row.failures,
        row.pending,
        row.pending_until,
        row.window_started_at,
        row.locked_until,
        row.last_success_at,
        row.expires_at,
    ])?;
    Ok(())
}

/// Reads the rows, lets the engine decide ([`lockout::apply`]) and writes
/// what it returns, inside the caller's write job: the single writer makes
/// the read and the write one transaction, so concurrent steps on one key
/// never lose a count (the PostgreSQL store locks the rows instead).
pub(crate) fn apply(conn: &Connection, request: &ThrottleRequest) -> Result<ThrottleVerdict> {
    let found = request
        .keys
        .iter()
        .map(|k| get(conn, &k.key))
        .collect::<Result<Vec<_>>>()?;
    let change = lockout::apply(request, &found);
    for row in &change.rows {
        if !request.keys.iter().any(|k| k.key == row.key) {
            return Err(Error::Invalid(
                "the lockout policy wrote a row it was not given".into(),
            ));
        }
        put(conn, row)?;
    }
    audit::append(conn, &change.audit)?;
    Ok(change.verdict)
}

/// Staff unlock: locks, delays and failures of the user's rows are lifted.
pub(crate) fn clear_user(conn: &Connection, user: UserId) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE login_throttle SET failures = 0, locked_until = NULL
              WHERE user_id = ?1 AND (failures > 0 OR locked_until IS NOT NULL)",
        )?
        .execute([user])?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}
