//! The append-only audit log.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use warden_auth::model::{AuditEntry, AuditEvent, AuditQuery};

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
pub(crate) fn query(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(user) = q.user {
        sql.push_str(" AND (subject = ? OR actor = ?)");
        args.push(Value::Integer(user));
        args.push(Value::Integer(user));
    }
    if !q.kinds.is_empty() {
        let marks = vec!["?"; q.kinds.len()].join(", ");
        sql.push_str(&format!(" AND kind IN ({marks})"));
        args.extend(q.kinds.iter().map(|k| Value::Text(k.as_str().to_owned())));
    }
    if let Some(sid) = q.session_id {
        sql.push_str(" AND session_id = ?");
        args.push(Value::Blob(id_bytes(sid.0).to_vec()));
    }
    if let Some(since) = q.since {
        sql.push_str(" AND at >= ?");
        args.push(Value::Integer(since));
    }
    if let Some(until) = q.until {
        sql.push_str(" AND at <= ?");
        args.push(Value::Integer(until));
    }
    if let Some(before) = q.before_id {
        sql.push_str(" AND id < ?");
        args.push(Value::Integer(before));
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
