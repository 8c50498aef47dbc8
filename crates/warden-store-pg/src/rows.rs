//! Turning rows into the engine's records. Ids of sessions and tokens are the
//! 16 big-endian bytes of the 128-bit value (`bytea`), as in the SQLite store.
//! Anything that does not decode is [`Error::Corrupt`], never a panic.

use postgres::Row;
use postgres::types::FromSql;
use warden_auth::model::{
    AuditEntry, AuditEvent, AuditKind, ClientInfo, OutstandingToken, RevocationReason, Session,
    SessionKind, User,
};
use warden_auth::{Jti, SessionId};
use warden_proto::TokenType;

use crate::error::{Error, Result};

pub(crate) fn id_bytes(v: u128) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

pub(crate) fn opt_id_bytes(v: Option<u128>) -> Option<Vec<u8>> {
    v.map(id_bytes)
}

pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx)
        .map_err(|e| Error::Corrupt(format!("column {idx}: {e}")))
}

fn to_id(bytes: &[u8]) -> Result<u128> {
    let b: [u8; 16] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("an id of {} bytes", bytes.len())))?;
    Ok(u128::from_be_bytes(b))
}

pub(crate) fn id_at(row: &Row, idx: usize) -> Result<u128> {
    let b: &[u8] = get(row, idx)?;
    to_id(b)
}

fn opt_id_at(row: &Row, idx: usize) -> Result<Option<u128>> {
    let b: Option<&[u8]> = get(row, idx)?;
    b.map(to_id).transpose()
}

fn parsed<T>(value: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(value).ok_or_else(|| Error::Corrupt(format!("unknown {what} `{value}`")))
}

pub(crate) fn reason_at(row: &Row, idx: usize) -> Result<Option<RevocationReason>> {
    let r: Option<&str> = get(row, idx)?;
    r.map(|r| parsed(r, RevocationReason::parse, "revocation reason"))
        .transpose()
}

pub(crate) const USER_COLUMNS: &str = "id, username, email, email_verified, password_hash, is_active, \
     is_staff, created_at, last_login, password_changed_at, locked_until";

pub(crate) fn user(row: &Row) -> Result<User> {
    Ok(User {
        id: get(row, 0)?,
        username: get(row, 1)?,
        email: get(row, 2)?,
        email_verified: get(row, 3)?,
        password_hash: get(row, 4)?,
        is_active: get(row, 5)?,
        is_staff: get(row, 6)?,
        created_at: get(row, 7)?,
        last_login: get(row, 8)?,
        password_changed_at: get(row, 9)?,
        locked_until: get(row, 10)?,
    })
}

pub(crate) const SESSION_COLUMNS: &str = "s.id, s.user_id, s.kind, c.device_label, c.user_agent, \
     c.address, s.created_at, s.last_rotated_at, s.rotation_count, s.head_jti, s.expires_at, \
     s.max_expires_at, s.revoked_at, s.revoked_reason, s.revoked_by";

pub(crate) const SESSION_FROM: &str =
    "sessions s LEFT JOIN session_clients c ON c.session_id = s.id";

pub(crate) fn session(row: &Row) -> Result<Session> {
    let kind: &str = get(row, 2)?;
    let count: i64 = get(row, 8)?;
    Ok(Session {
        id: SessionId(id_at(row, 0)?),
        user_id: get(row, 1)?,
        kind: parsed(kind, SessionKind::parse, "session kind")?,
        client: ClientInfo {
            device_label: get(row, 3)?,
            user_agent: get(row, 4)?,
            address: get(row, 5)?,
        },
        created_at: get(row, 6)?,
        last_rotated_at: get(row, 7)?,
        rotation_count: u32::try_from(count)
            .map_err(|_| Error::Corrupt(format!("rotation count {count}")))?,
        head_jti: Jti(id_at(row, 9)?),
        expires_at: get(row, 10)?,
        max_expires_at: get(row, 11)?,
        revoked_at: get(row, 12)?,
        revoked_reason: reason_at(row, 13)?,
        revoked_by: get(row, 14)?,
    })
}

pub(crate) const TOKEN_COLUMNS: &str = "jti, session_id, user_id, token_type, signing_input_sha256, kid, \
     issued_at, expires_at, parent_jti, rotated_at, successor_jti, address";

pub(crate) fn token(row: &Row) -> Result<OutstandingToken> {
    let token_type: &str = get(row, 3)?;
    Ok(OutstandingToken {
        jti: Jti(id_at(row, 0)?),
        session_id: SessionId(id_at(row, 1)?),
        user_id: get(row, 2)?,
        token_type: parsed(token_type, TokenType::parse, "token type")?,
        signing_input_sha256: get(row, 4)?,
        kid: get(row, 5)?,
        issued_at: get(row, 6)?,
        expires_at: get(row, 7)?,
        parent_jti: opt_id_at(row, 8)?.map(Jti),
        rotated_at: get(row, 9)?,
        successor_jti: opt_id_at(row, 10)?.map(Jti),
        address: get(row, 11)?,
    })
}

pub(crate) const AUDIT_COLUMNS: &str =
    "id, at, kind, subject, actor, session_id, jti, address, reason, detail";

pub(crate) fn audit_entry(row: &Row) -> Result<AuditEntry> {
    let kind: &str = get(row, 2)?;
    let detail: Option<&str> = get(row, 9)?;
    let detail = match detail {
        None => serde_json::Value::Null,
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::Corrupt(format!("audit detail is not JSON: {e}")))?,
    };
    Ok(AuditEntry {
        id: get(row, 0)?,
        event: AuditEvent {
            at: get(row, 1)?,
            kind: parsed(kind, AuditKind::parse, "audit kind")?,
            subject: get(row, 3)?,
            actor: get(row, 4)?,
            session_id: opt_id_at(row, 5)?.map(SessionId),
            jti: opt_id_at(row, 6)?.map(Jti),
            address: get(row, 7)?,
            reason: get(row, 8)?,
            detail,
        },
    })
}
