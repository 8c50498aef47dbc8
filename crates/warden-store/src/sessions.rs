//! Sessions (token families), outstanding tokens, rotation and revocation.

use std::sync::LazyLock;

use rusqlite::{Connection, params};
use warden_auth::model::{
    AuditEvent, NewSession, OutstandingToken, RevocationReason, RevokeRequest, RevokeTarget,
    RevokedJti, RevokedSession, RotationOutcome, RotationRequest, Session,
};
use warden_auth::rotation::{RotationWrites, decide};
use warden_auth::{Conflict, Jti, SessionId, UnixTime, UserId};

use crate::audit;
use crate::error::{Error, Result};
use crate::rows::{self, SESSION_COLUMNS, SESSION_FROM, TOKEN_COLUMNS, id_bytes, opt_id_bytes};

/// The SQL of the hot reads, built once (a `format!` per call showed up in
/// the profile of a rotation).
static SESSION_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.id = ?1"));
static TOKEN_OF_SESSION: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {TOKEN_COLUMNS} FROM outstanding_tokens WHERE session_id = ?1 AND jti = ?2")
});
/// A rotation's read: the presented token (with its rowid, which the update
/// then uses instead of a second walk of the index) and its session, in
/// one statement instead of two; the session by its primary key.
static ROTATION_READ: LazyLock<String> = LazyLock::new(|| {
    let token_columns: Vec<String> = TOKEN_COLUMNS
        .split(", ")
        .map(|c| format!("t.{c}"))
        .collect();
    format!(
        "SELECT t.seq, {}, {SESSION_COLUMNS}
         FROM outstanding_tokens t
         LEFT JOIN sessions s ON s.user_id = t.user_id AND s.id = t.session_id
         LEFT JOIN session_clients c ON c.session_id = s.id
         WHERE t.session_id = ?1 AND t.jti = ?2",
        token_columns.join(", ")
    )
});
/// Where the session's columns start in [`ROTATION_READ`]: after `seq` and
/// the token's columns.
static ROTATION_READ_SESSION_AT: LazyLock<usize> =
    LazyLock::new(|| 1 + TOKEN_COLUMNS.split(", ").count());

pub(crate) fn by_id(conn: &Connection, id: SessionId) -> Result<Option<Session>> {
    let mut stmt = conn.prepare_cached(&SESSION_BY_ID)?;
    rows::optional(&mut stmt, [id_bytes(id.0)], rows::session)
}

pub(crate) fn of_user(
    conn: &Connection,
    user: UserId,
    include_revoked: bool,
) -> Result<Vec<Session>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM {SESSION_FROM}
         WHERE s.user_id = ?1 AND (?2 OR s.revoked_at IS NULL)
         ORDER BY s.created_at DESC, s.id DESC"
    ))?;
    rows::all(&mut stmt, params![user, include_revoked], rows::session)
}

/// The token `jti` of `session` (found by its jti, schema 7's index; the
/// session must match too).
pub(crate) fn token(
    conn: &Connection,
    session: SessionId,
    jti: Jti,
) -> Result<Option<OutstandingToken>> {
    let mut stmt = conn.prepare_cached(&TOKEN_OF_SESSION)?;
    rows::optional(
        &mut stmt,
        [id_bytes(session.0), id_bytes(jti.0)],
        rows::token,
    )
}

/// A session's tokens are its rotation chain: the head (in its `sessions`
/// row), its parent, and so on to the first, each found by its jti (schema 7
/// has no index by session, which took a random page per rotation). Every
/// token of a session is on that chain: a login writes the first, a rotation
/// writes the successor of the head and makes it the head.
///
/// The CTE `chain(seq, parent_jti, session_id)`: the tokens on the chains
/// that start at `heads`, a query of `head_jti, session_id` rows. One jti
/// lookup a token (a row-value `IN` over (jti, session) walked the chain
/// twice); `UNION` ends it even on a corrupt cycle. Listing walks one
/// session's chain, the flush every doomed one's.
pub(crate) fn chains_from(heads: &str) -> String {
    format!(
        "WITH RECURSIVE chain(seq, parent_jti, session_id) AS (
             SELECT t.seq, t.parent_jti, t.session_id FROM ({heads}) h
             JOIN outstanding_tokens t ON t.jti = h.head_jti AND t.session_id = h.session_id
             UNION
             SELECT t.seq, t.parent_jti, t.session_id FROM chain c
             JOIN outstanding_tokens t ON t.jti = c.parent_jti AND t.session_id = c.session_id
         )"
    )
}

/// In issue order: `seq` grows with every insert.
pub(crate) fn tokens_of(conn: &Connection, id: SessionId) -> Result<Vec<OutstandingToken>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{}
         SELECT {TOKEN_COLUMNS} FROM outstanding_tokens
         WHERE seq IN (SELECT seq FROM chain) ORDER BY seq",
        chains_from("SELECT head_jti, id AS session_id FROM sessions WHERE id = ?1")
    ))?;
    rows::all(&mut stmt, [id_bytes(id.0)], rows::token)
}

fn insert_token(conn: &Connection, t: &OutstandingToken) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO outstanding_tokens (jti, session_id, user_id, token_type,
             signing_input_sha256, kid, issued_at, expires_at, parent_jti, rotated_at,
             successor_jti, address)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        id_bytes(t.jti.0),
        id_bytes(t.session_id.0),
        t.user_id,
        t.token_type.as_str(),
        t.signing_input_sha256,
        t.kid,
        t.issued_at,
        t.expires_at,
        opt_id_bytes(t.parent_jti.map(|j| j.0)),
        t.rotated_at,
        opt_id_bytes(t.successor_jti.map(|j| j.0)),
        t.address,
    ])?;
    Ok(())
}

pub(crate) fn open(conn: &Connection, new: &NewSession) -> Result<()> {
    let s = &new.session;
    if new.token.session_id != s.id {
        return Err(Error::Invalid(
            "the first token of a session must belong to it".into(),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO sessions (user_id, id, kind, created_at, last_rotated_at, rotation_count,
             head_jti, expires_at, max_expires_at, revoked_at, revoked_reason, revoked_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        s.user_id,
        id_bytes(s.id.0),
        s.kind.as_str(),
        s.created_at,
        s.last_rotated_at,
        s.rotation_count,
        id_bytes(s.head_jti.0),
        s.expires_at,
        s.max_expires_at,
        s.revoked_at,
        s.revoked_reason.map(RevocationReason::as_str),
        s.revoked_by,
    ])?;
    let c = &s.client;
    if c.device_label.is_some() || c.user_agent.is_some() || c.address.is_some() {
        conn.prepare_cached(
            "INSERT INTO session_clients (session_id, device_label, user_agent, address)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            id_bytes(s.id.0),
            c.device_label,
            c.user_agent,
            c.address
        ])?;
    }
    insert_token(conn, &new.token)?;
    // Also the existence check: a login racing a delete_user must not leave a
    // live session behind for a user whose sessions were all just revoked.
    let users = conn
        .prepare_cached("UPDATE users SET last_login = ?2 WHERE id = ?1")?
        .execute(params![s.user_id, s.created_at])?;
    if users == 0 {
        return Err(Error::Conflict(Conflict::NoSuchUser(s.user_id)));
    }
    // last_login moved: nodes that hold the user forget it.
    crate::feed::user(conn, s.created_at, s.user_id)?;
    audit::append(conn, &new.audit)
}

/// The SQL function a logout-all's UPDATE calls once per revoked row:
/// `warden_collect_revoked(id, max_expires_at, revoked_at)` records
/// (id, max_expires_at) for [`revoke`] and returns `revoked_at`. Registered on
/// the writer connection by [`register_functions`].
pub(crate) const COLLECT_FN: &str = "warden_collect_revoked";

thread_local! {
    /// Rows recorded by [`COLLECT_FN`] during the current statement. Only the
    /// writer thread runs revocations, one statement at a time.
    static COLLECTED: std::cell::RefCell<Vec<(u128, UnixTime)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Registers [`COLLECT_FN`] on a connection that writes (`DIRECTONLY`: not
/// callable from triggers or views of a hostile schema).
pub(crate) fn register_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    let bad =
        |what: &str| rusqlite::Error::UserFunctionError(format!("{COLLECT_FN}: {what}").into());
    conn.create_scalar_function(
        COLLECT_FN,
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| {
            let id: [u8; 16] = ctx
                .get_raw(0)
                .as_blob()
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("the id is not 16 bytes"))?;
            let until = ctx
                .get_raw(1)
                .as_i64()
                .map_err(|_| bad("max_expires_at is not an integer"))?;
            let at = ctx
                .get_raw(2)
                .as_i64()
                .map_err(|_| bad("revoked_at is not an integer"))?;
            COLLECTED.with(|c| c.borrow_mut().push((u128::from_be_bytes(id), until)));
            Ok(at)
        },
    )?;
    Ok(())
}

/// Revokes the target's live (not yet revoked) sessions and writes the
/// request's audit lines. For a user, the statements touch only that user's
/// contiguous run of rows and no index.
///
/// A logout-all is ONE pass over the user's rows: the UPDATE's `SET` calls
/// [`COLLECT_FN`] for every row it changes, which records the row's id and cap
/// (what the caller and the feed need) and returns the revocation time. The
/// earlier form read the rows with a SELECT and then updated them with the
/// same predicate: two walks over the same 10,000 rows, the SELECT ~28 % of a
/// logout-all's instructions (callgrind, BENCHMARKS.md). `UPDATE ... RETURNING`
/// is no alternative: SQLite runs it in two passes through a temporary table,
/// which measured about three times slower.
pub(crate) fn revoke(conn: &Connection, request: &RevokeRequest) -> Result<Vec<RevokedSession>> {
    let reason = request.reason.as_str();
    let map = |row: &rusqlite::Row<'_>| -> Result<RevokedSession> {
        Ok(RevokedSession {
            id: rows::session_id_at(row, 0)?,
            user_id: row.get(1)?,
            max_expires_at: row.get(2)?,
            reason: request.reason,
        })
    };
    let revoked = match request.target {
        RevokeTarget::Session(id) => {
            let id = id_bytes(id.0);
            let mut stmt = conn.prepare_cached(
                "SELECT id, user_id, max_expires_at FROM sessions
                 WHERE id = ?1 AND revoked_at IS NULL",
            )?;
            let revoked = rows::all(&mut stmt, [id], map)?;
            if !revoked.is_empty() {
                conn.prepare_cached(
                    "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3, revoked_by = ?4
                     WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![id, request.now, reason, request.actor])?;
            }
            revoked
        }
        RevokeTarget::User { user_id, except } => {
            let except = opt_id_bytes(except.map(|s| s.0));
            COLLECTED.with(|c| c.borrow_mut().clear());
            let changed = conn
                .prepare_cached(
                    "UPDATE OR FAIL sessions SET revoked_at = warden_collect_revoked(id, max_expires_at, ?3),
                         revoked_reason = ?4, revoked_by = ?5
                     WHERE user_id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR id <> ?2)",
                )?
                .execute(params![user_id, except, request.now, reason, request.actor]);
            let collected = COLLECTED.with(|c| std::mem::take(&mut *c.borrow_mut()));
            let changed = changed?;
            if changed != collected.len() {
                return Err(Error::Invalid(format!(
                    "revoked {changed} sessions but recorded {}",
                    collected.len()
                )));
            }
            collected
                .into_iter()
                .map(|(id, max_expires_at)| RevokedSession {
                    id: SessionId(id),
                    user_id,
                    max_expires_at,
                    reason: request.reason,
                })
                .collect()
        }
    };
    crate::feed::sessions(conn, request.now, &revoked)?;
    audit::append(conn, &request.audit)?;
    Ok(revoked)
}

/// Revoking a jti twice keeps the first revocation and succeeds (RFC 7009:
/// revoking a revoked token is not an error).
pub(crate) fn revoke_jti(conn: &Connection, r: &RevokedJti, events: &[AuditEvent]) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO revoked_jtis (jti, session_id, user_id, revoked_at, expires_at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (jti) DO NOTHING",
        )?
        .execute(params![
            id_bytes(r.jti.0),
            opt_id_bytes(r.session_id.map(|s| s.0)),
            r.user_id,
            r.revoked_at,
            r.expires_at,
            r.reason.as_str(),
        ])?;
    if inserted > 0 {
        crate::feed::jti(conn, r)?;
    }
    audit::append(conn, events)
}

/// Sliding refresh: the session now expires at `expires_at`, never past its
/// absolute cap; it counts as a refresh (`last_rotated_at`, `rotation_count`).
/// The head token's row keeps the jti and the expiry it was issued with (the
/// store is not told the re-minted token's expiry); `flush_expired` never
/// removes the head of a live session, so the row stays while the session
/// can still slide. A revoked or unknown session is left alone.
pub(crate) fn extend(
    conn: &Connection,
    id: SessionId,
    expires_at: UnixTime,
    now: UnixTime,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sessions
         SET expires_at = min(?2, max_expires_at), last_rotated_at = ?3,
             rotation_count = rotation_count + 1
         WHERE id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![id_bytes(id.0), expires_at, now])?;
    Ok(())
}

/// Reads, decides and executes the writes in the caller's transaction (one
/// write job), so concurrent rotations of one token are serialised and
/// exactly one wins.
///
/// The presented token is looked up in the successor's session: the caller
/// mints the successor into the session the presented token names (and
/// `decide` refuses a successor of another session).
pub(crate) fn rotate(conn: &Connection, req: &RotationRequest) -> Result<RotationOutcome> {
    let sid = req.successor.session_id;
    let read = conn
        .prepare_cached(&ROTATION_READ)?
        .query_and_then(
            [id_bytes(sid.0), id_bytes(req.presented_jti.0)],
            |row| -> Result<_> {
                let seq: i64 = row.get(0)?;
                let token = rows::token_at(row, 1)?;
                let session = match row.get_ref(*ROTATION_READ_SESSION_AT)? {
                    rusqlite::types::ValueRef::Null => None,
                    _ => Some(rows::session_at(row, *ROTATION_READ_SESSION_AT)?),
                };
                Ok((seq, token, session))
            },
        )?
        .next()
        .transpose()?;
    let (seq, presented, session) = match read {
        Some((seq, token, session)) => (Some(seq), Some(token), session),
        None => (None, None, None),
    };
    let successor = match presented.as_ref().and_then(|t| t.successor_jti) {
        Some(jti) => token(conn, sid, jti)?,
        None => None,
    };
    let writes = decide(req, presented, session, successor)?;
    match &writes {
        RotationWrites::Refuse(_) => {}
        RotationWrites::Rotate {
            rotated,
            rotated_at,
            successor,
            session,
            audit,
        } => {
            // `decide` rotates only the token it was given, read above.
            let seq = seq.ok_or_else(|| Error::Invalid("rotated an unread token".into()))?;
            let changed = conn
                .prepare_cached(
                    "UPDATE outstanding_tokens SET rotated_at = ?3, successor_jti = ?4
                     WHERE seq = ?1 AND jti = ?2",
                )?
                .execute(params![
                    seq,
                    id_bytes(rotated.0),
                    rotated_at,
                    id_bytes(successor.jti.0)
                ])?;
            insert_token(conn, successor)?;
            // By the primary key (the session row read above gave its user).
            let changed = changed
                + conn
                    .prepare_cached(
                        "UPDATE sessions SET head_jti = ?3, expires_at = ?4, last_rotated_at = ?5,
                                             rotation_count = ?6
                         WHERE user_id = ?1 AND id = ?2",
                    )?
                    .execute(params![
                        session.user_id,
                        id_bytes(session.id.0),
                        id_bytes(session.head_jti.0),
                        session.expires_at,
                        session.last_rotated_at,
                        session.rotation_count,
                    ])?;
            if changed != 2 {
                return Err(Error::Invalid(format!(
                    "a rotation changed {changed} of its 2 rows"
                )));
            }
            audit::append(conn, std::slice::from_ref(audit))?;
        }
        RotationWrites::GraceReplay { audit, .. } => {
            audit::append(conn, std::slice::from_ref(audit))?;
        }
        RotationWrites::ReuseDetected {
            revoke: request, ..
        } => {
            revoke(conn, request)?;
        }
    }
    Ok(writes.into_outcome())
}
