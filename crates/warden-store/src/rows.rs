//! Turning rows into the engine's records and back.
//!
//! Ids of sessions and tokens are stored as the 16 big-endian bytes of the
//! 128-bit value (what `uuid` bytes are), so byte order equals numeric order
//! and a PostgreSQL `uuid`/`bytea` column holds the same bytes. Enums are
//! stored as their `as_str` form. Anything that does not decode is
//! [`Error::Corrupt`], never a panic or a silent default.

use rusqlite::Row;
use warden_auth::model::{
    AuditEntry, AuditEvent, AuditKind, ClientInfo, OutstandingToken, RevocationReason, Session,
    SessionKind, ThrottleScope, ThrottleState, User,
};
use warden_auth::{Jti, SessionId};
use warden_proto::TokenType;

use crate::error::{Error, Result};

pub(crate) fn id_bytes(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

pub(crate) fn opt_id_bytes(v: Option<u128>) -> Option<[u8; 16]> {
    v.map(id_bytes)
}

fn id_at(row: &Row<'_>, idx: usize) -> Result<u128> {
    let b: [u8; 16] = row.get(idx)?;
    Ok(u128::from_be_bytes(b))
}

fn opt_id_at(row: &Row<'_>, idx: usize) -> Result<Option<u128>> {
    let b: Option<[u8; 16]> = row.get(idx)?;
    Ok(b.map(u128::from_be_bytes))
}

pub(crate) fn jti_at(row: &Row<'_>, idx: usize) -> Result<Jti> {
    id_at(row, idx).map(Jti)
}

pub(crate) fn session_id_at(row: &Row<'_>, idx: usize) -> Result<SessionId> {
    id_at(row, idx).map(SessionId)
}

fn parsed<T>(value: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(value).ok_or_else(|| Error::Corrupt(format!("unknown {what} `{value}`")))
}

pub(crate) fn bool_at(row: &Row<'_>, idx: usize) -> Result<bool> {
    match row.get::<_, i64>(idx)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(Error::Corrupt(format!("{n} is not a boolean"))),
    }
}

pub(crate) const USER_COLUMNS: &str = "id, username, email, email_verified, password_hash, is_active, \
     is_staff, created_at, last_login, password_changed_at, locked_until";

pub(crate) fn user(row: &Row<'_>) -> Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        email_verified: bool_at(row, 3)?,
        password_hash: row.get(4)?,
        is_active: bool_at(row, 5)?,
        is_staff: bool_at(row, 6)?,
        created_at: row.get(7)?,
        last_login: row.get(8)?,
        password_changed_at: row.get(9)?,
        locked_until: row.get(10)?,
    })
}

/// Select list for [`session`]; the query must join `session_clients c` to `sessions s`.
pub(crate) const SESSION_COLUMNS: &str = "s.id, s.user_id, s.kind, c.device_label, c.user_agent, \
     c.address, s.created_at, s.last_rotated_at, s.rotation_count, s.head_jti, s.expires_at, \
     s.max_expires_at, s.revoked_at, s.revoked_reason, s.revoked_by";

pub(crate) const SESSION_FROM: &str =
    "sessions s LEFT JOIN session_clients c ON c.session_id = s.id";

pub(crate) fn session(row: &Row<'_>) -> Result<Session> {
    session_at(row, 0)
}

/// [`session`] from the [`SESSION_COLUMNS`] that start at column `at`.
pub(crate) fn session_at(row: &Row<'_>, at: usize) -> Result<Session> {
    let kind: String = row.get(at + 2)?;
    let reason: Option<String> = row.get(at + 13)?;
    Ok(Session {
        id: session_id_at(row, at)?,
        user_id: row.get(at + 1)?,
        kind: parsed(&kind, SessionKind::parse, "session kind")?,
        client: ClientInfo {
            device_label: row.get(at + 3)?,
            user_agent: row.get(at + 4)?,
            address: row.get(at + 5)?,
        },
        created_at: row.get(at + 6)?,
        last_rotated_at: row.get(at + 7)?,
        rotation_count: row.get(at + 8)?,
        head_jti: jti_at(row, at + 9)?,
        expires_at: row.get(at + 10)?,
        max_expires_at: row.get(at + 11)?,
        revoked_at: row.get(at + 12)?,
        revoked_reason: reason
            .map(|r| parsed(&r, RevocationReason::parse, "revocation reason"))
            .transpose()?,
        revoked_by: row.get(at + 14)?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str = "jti, session_id, user_id, token_type, signing_input_sha256, kid, \
     issued_at, expires_at, parent_jti, rotated_at, successor_jti, address";

pub(crate) fn token(row: &Row<'_>) -> Result<OutstandingToken> {
    token_at(row, 0)
}

/// [`token`] from the [`TOKEN_COLUMNS`] that start at column `at`.
pub(crate) fn token_at(row: &Row<'_>, at: usize) -> Result<OutstandingToken> {
    let token_type: String = row.get(at + 3)?;
    Ok(OutstandingToken {
        jti: jti_at(row, at)?,
        session_id: session_id_at(row, at + 1)?,
        user_id: row.get(at + 2)?,
        token_type: parsed(&token_type, TokenType::parse, "token type")?,
        signing_input_sha256: row.get(at + 4)?,
        kid: row.get(at + 5)?,
        issued_at: row.get(at + 6)?,
        expires_at: row.get(at + 7)?,
        parent_jti: opt_id_at(row, at + 8)?.map(Jti),
        rotated_at: row.get(at + 9)?,
        successor_jti: opt_id_at(row, at + 10)?.map(Jti),
        address: row.get(at + 11)?,
    })
}

pub(crate) const AUDIT_COLUMNS: &str =
    "id, at, kind, subject, actor, session_id, jti, address, reason, detail";

pub(crate) fn audit_entry(row: &Row<'_>) -> Result<AuditEntry> {
    let kind: String = row.get(2)?;
    let detail: Option<String> = row.get(9)?;
    let detail = match detail {
        None => serde_json::Value::Null,
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt(format!("audit detail is not JSON: {e}")))?,
    };
    Ok(AuditEntry {
        id: row.get(0)?,
        event: AuditEvent {
            at: row.get(1)?,
            kind: parsed(&kind, AuditKind::parse, "audit kind")?,
            subject: row.get(3)?,
            actor: row.get(4)?,
            session_id: opt_id_at(row, 5)?.map(SessionId),
            jti: opt_id_at(row, 6)?.map(Jti),
            address: row.get(7)?,
            reason: row.get(8)?,
            detail,
        },
    })
}

pub(crate) const THROTTLE_COLUMNS: &str = "key, scope, user_id, address, failures, pending, \
     pending_until, window_started_at, locked_until, last_success_at, expires_at";

pub(crate) fn throttle(row: &Row<'_>) -> Result<ThrottleState> {
    let scope: String = row.get(1)?;
    Ok(ThrottleState {
        key: row.get(0)?,
        scope: parsed(&scope, ThrottleScope::parse, "throttle scope")?,
        user_id: row.get(2)?,
        address: row.get(3)?,
        failures: row.get(4)?,
        pending: row.get(5)?,
        pending_until: row.get(6)?,
        window_started_at: row.get(7)?,
        locked_until: row.get(8)?,
        last_success_at: row.get(9)?,
        expires_at: row.get(10)?,
    })
}

/// Runs a query expected to return at most one row.
pub(crate) fn optional<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    stmt.query_and_then(params, f)?.next().transpose()
}

/// Runs a query and collects every row.
pub(crate) fn all<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    stmt.query_and_then(params, f)?.collect()
}
