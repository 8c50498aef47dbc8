//! Every operation as SQL inside the caller's transaction. Mirrors the SQLite
//! store (crates/warden-store/src/{users,sessions,throttle,audit,housekeeping}.rs)
//! with PostgreSQL's row locks where SQLite relies on its single writer:
//!
//! - rotation locks the session row (`FOR UPDATE`) and only then reads the
//!   presented token and its successor: every change to a family's tokens
//!   happens under that lock, so concurrent refreshes of one token (on any
//!   node) are serialised and exactly one sees it as the head;
//! - user changes that revoke, and deletes, lock the user row first, so a
//!   login racing them either lands before (and is revoked) or fails;
//! - the throttle row is locked before counting.

use postgres::GenericClient;
use postgres::types::ToSql;
use warden_auth::feed::{FeedKind, encode_items, encode_users, entry_from_row};
use warden_auth::lockout;
use warden_auth::model::{
    AuditEntry, AuditEvent, AuditQuery, FeedPage, FlushReport, LiveRevocations, NewSession,
    NewUser, OutstandingToken, RevocationReason, RevokeRequest, RevokeTarget, RevokedJti,
    RevokedSession, RotationOutcome, RotationRequest, Session, ThrottleKey, ThrottleRequest,
    ThrottleScope, ThrottleState, ThrottleVerdict, User, UserQuery, UserUpdate,
};
use warden_auth::rotation::{RotationWrites, decide};
use warden_auth::{Conflict, Jti, SessionId, UnixTime, UserId};

use crate::error::{Error, Result};
use crate::rows::{
    self, AUDIT_COLUMNS, SESSION_COLUMNS, SESSION_FROM, TOKEN_COLUMNS, USER_COLUMNS, get, id_bytes,
    opt_id_bytes,
};

type P<'a> = &'a (dyn ToSql + Sync);

/// The NOTIFY channel the feed's writers signal and every node listens on.
pub(crate) const FEED_CHANNEL: &str = "warden_revocations";
/// `pg_advisory_xact_lock` key serialising feed appends ("Wrdn" + 1).
const FEED_LOCK: i64 = 0x5772_646e_0001;
/// How long flushed-out feed rows are kept at least (seconds).
pub(crate) const FEED_KEEP: i64 = 86_400;
pub(crate) const DEFAULT_SEARCH_LIMIT: u32 = 100;
pub(crate) const MAX_SEARCH_LIMIT: u32 = 1_000;
pub(crate) const DEFAULT_AUDIT_LIMIT: u32 = 100;
pub(crate) const MAX_AUDIT_LIMIT: u32 = 10_000;

/// Prepared statements of one connection, by SQL text.
pub(crate) type StatementCache = std::collections::HashMap<String, postgres::Statement>;
/// The most statements one connection keeps prepared (there are ~40 distinct ones).
const STATEMENT_CACHE: usize = 256;

/// A connection or one of its transactions, with that connection's prepared
/// statements: each distinct statement is parsed and planned once per
/// connection instead of on every call (one round trip less per statement).
pub(crate) struct Db<'a, C> {
    pub conn: &'a mut C,
    pub cache: &'a mut StatementCache,
}

impl<C> std::fmt::Debug for Db<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("prepared", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.conn.prepare(sql)?;
        if self.cache.len() < STATEMENT_CACHE {
            self.cache.insert(sql.to_owned(), s.clone());
        }
        Ok(s)
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<postgres::Row>> {
        let s = self.statement(sql)?;
        Ok(self.conn.query(&s, params)?)
    }

    pub(crate) fn query_one(&mut self, sql: &str, params: &[P]) -> Result<postgres::Row> {
        let s = self.statement(sql)?;
        Ok(self.conn.query_one(&s, params)?)
    }

    pub(crate) fn query_opt(&mut self, sql: &str, params: &[P]) -> Result<Option<postgres::Row>> {
        let s = self.statement(sql)?;
        Ok(self.conn.query_opt(&s, params)?)
    }

    pub(crate) fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let s = self.statement(sql)?;
        Ok(self.conn.execute(&s, params)?)
    }
}

fn one<T, C: GenericClient>(
    tx: &mut Db<'_, C>,
    sql: &str,
    params: &[P],
    f: impl Fn(&postgres::Row) -> Result<T>,
) -> Result<Option<T>> {
    match tx.query_opt(sql, params)? {
        Some(row) => f(&row).map(Some),
        None => Ok(None),
    }
}

fn all<T, C: GenericClient>(
    tx: &mut Db<'_, C>,
    sql: &str,
    params: &[P],
    f: impl Fn(&postgres::Row) -> Result<T>,
) -> Result<Vec<T>> {
    tx.query(sql, params)?.iter().map(f).collect()
}

// --- users ---

pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn email_key(email: Option<&str>) -> Option<String> {
    email.filter(|e| !e.is_empty()).map(fold)
}

fn check_unique<C: GenericClient>(
    tx: &mut Db<'_, C>,
    username_key: Option<&str>,
    email_key: Option<&str>,
    except: Option<UserId>,
) -> Result<()> {
    if let Some(key) = username_key {
        let taken = tx.query_opt(
            "SELECT 1 FROM users WHERE username_key = $1 AND id IS DISTINCT FROM $2",
            &[&key, &except],
        )?;
        if taken.is_some() {
            return Err(Error::Conflict(Conflict::Username));
        }
    }
    if let Some(key) = email_key {
        let taken = tx.query_opt(
            "SELECT 1 FROM users WHERE email_key = $1 AND id IS DISTINCT FROM $2",
            &[&key, &except],
        )?;
        if taken.is_some() {
            return Err(Error::Conflict(Conflict::Email));
        }
    }
    Ok(())
}

pub(crate) fn create_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    user: &NewUser,
    now: UnixTime,
    events: &[AuditEvent],
) -> Result<User> {
    let username_key = fold(&user.username);
    let email_key = email_key(user.email.as_deref());
    check_unique(tx, Some(&username_key), email_key.as_deref(), None)?;
    let row = tx.query_one(
        "INSERT INTO users (username, username_key, email, email_key, email_verified,
                            password_hash, is_active, is_staff, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &user.username,
            &username_key,
            &user.email,
            &email_key,
            &user.email_verified,
            &user.password_hash,
            &user.is_active,
            &user.is_staff,
            &now,
        ],
    )?;
    let id: i64 = get(&row, 0)?;
    let events: Vec<AuditEvent> = events
        .iter()
        .map(|e| AuditEvent {
            subject: e.subject.or(Some(id)),
            ..e.clone()
        })
        .collect();
    append_audit(tx, &events)?;
    user_by_id(tx, id)?.ok_or_else(|| Error::Corrupt(format!("user {id} vanished after insert")))
}

/// [`create_user`], made staff when it is the first user. The table lock
/// (which every insert into `users` waits for, and which waits for them)
/// makes "no user yet" and the insert one step for every node.
pub(crate) fn create_owner_or_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    user: &NewUser,
    now: UnixTime,
    events: &[AuditEvent],
    owner_events: &[AuditEvent],
) -> Result<User> {
    tx.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE", &[])?;
    let others: bool = get(
        &tx.query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])?,
        0,
    )?;
    if others {
        return create_user(tx, user, now, events);
    }
    let owner = NewUser {
        is_staff: true,
        ..user.clone()
    };
    create_user(tx, &owner, now, owner_events)
}

pub(crate) fn user_by_id<C: GenericClient>(tx: &mut Db<'_, C>, id: UserId) -> Result<Option<User>> {
    one(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
        &[&id],
        rows::user,
    )
}

pub(crate) fn user_by_username<C: GenericClient>(
    tx: &mut Db<'_, C>,
    username: &str,
) -> Result<Option<User>> {
    one(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1"),
        &[&fold(username)],
        rows::user,
    )
}

pub(crate) fn user_by_email<C: GenericClient>(
    tx: &mut Db<'_, C>,
    email: &str,
) -> Result<Option<User>> {
    let Some(key) = email_key(Some(email)) else {
        return Ok(None);
    };
    one(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1"),
        &[&key],
        rows::user,
    )
}

/// Substring match with `strpos` on the folded keys (no LIKE, so `%` and `_` are plain).
pub(crate) fn search_users<C: GenericClient>(
    tx: &mut Db<'_, C>,
    q: &UserQuery,
) -> Result<Vec<User>> {
    let text = q.text.as_deref().map(fold);
    let limit = i64::from(match q.limit {
        0 => DEFAULT_SEARCH_LIMIT,
        n => n.min(MAX_SEARCH_LIMIT),
    });
    let offset = i64::from(q.offset);
    all(
        tx,
        &format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE ($1::text IS NULL OR strpos(username_key, $1) > 0
                    OR strpos(coalesce(email_key, ''), $1) > 0)
               AND ($2::boolean IS NULL OR is_active = $2)
               AND ($3::boolean IS NULL OR is_staff = $3)
               AND ($4::bigint IS NULL OR locked_until > $4)
             ORDER BY id
             LIMIT $5 OFFSET $6"
        ),
        &[&text, &q.active, &q.staff, &q.locked_at, &limit, &offset],
        rows::user,
    )
}

pub(crate) fn update_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: UserId,
    update: &UserUpdate,
    revoke: Option<&RevokeRequest>,
    events: &[AuditEvent],
) -> Result<Option<(User, Vec<RevokedSession>)>> {
    // Locks the row: a login racing this waits, then sees the revocation.
    let Some(mut user) = one(
        tx,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"),
        &[&id],
        rows::user,
    )?
    else {
        return Ok(None);
    };
    if let Some(email) = &update.email {
        check_unique(tx, None, email_key(email.as_deref()).as_deref(), Some(id))?;
        user.email = email.clone();
    }
    if let Some(hash) = &update.password_hash {
        user.password_hash = hash.clone();
    }
    if let Some(at) = update.password_changed_at {
        user.password_changed_at = Some(at);
    }
    if let Some(v) = update.email_verified {
        user.email_verified = v;
    }
    if let Some(v) = update.is_active {
        user.is_active = v;
    }
    if let Some(v) = update.is_staff {
        user.is_staff = v;
    }
    if let Some(v) = update.locked_until {
        user.locked_until = v;
    }
    if let Some(v) = update.last_login {
        user.last_login = Some(v);
    }
    tx.execute(
        "UPDATE users SET email = $2, email_key = $3, email_verified = $4, password_hash = $5,
                          is_active = $6, is_staff = $7, last_login = $8,
                          password_changed_at = $9, locked_until = $10
         WHERE id = $1",
        &[
            &id,
            &user.email,
            &email_key(user.email.as_deref()),
            &user.email_verified,
            &user.password_hash,
            &user.is_active,
            &user.is_staff,
            &user.last_login,
            &user.password_changed_at,
            &user.locked_until,
        ],
    )?;
    let revoked = match revoke {
        Some(request) => revoke_sessions(tx, request)?,
        None => Vec::new(),
    };
    let at = revoke
        .map(|r| r.now)
        .or_else(|| events.first().map(|e| e.at))
        .unwrap_or(0);
    append_user(tx, at, id)?;
    append_audit(tx, events)?;
    Ok(Some((user, revoked)))
}

pub(crate) fn delete_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: UserId,
    now: UnixTime,
    events: &[AuditEvent],
) -> Result<bool> {
    if tx
        .query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&id])?
        .is_none()
    {
        return Ok(false);
    }
    revoke_sessions(
        tx,
        &RevokeRequest {
            target: RevokeTarget::User {
                user_id: id,
                except: None,
            },
            reason: RevocationReason::UserDeleted,
            actor: None,
            now,
            audit: Vec::new(),
        },
    )?;
    tx.execute("DELETE FROM users WHERE id = $1", &[&id])?;
    append_user(tx, now, id)?;
    append_audit(tx, events)?;
    Ok(true)
}

// --- throttle ---

const THROTTLE_COLUMNS: &str = "key, scope, user_id, address, failures, pending, pending_until, \
                                window_started_at, locked_until, last_success_at, expires_at";

fn count(row: &postgres::Row, idx: usize, what: &str) -> Result<u32> {
    let n: i64 = get(row, idx)?;
    u32::try_from(n).map_err(|_| Error::Corrupt(format!("{what} count {n}")))
}

fn throttle_state(row: &postgres::Row) -> Result<ThrottleState> {
    let scope: String = get(row, 1)?;
    Ok(ThrottleState {
        key: get(row, 0)?,
        scope: ThrottleScope::parse(&scope)
            .ok_or_else(|| Error::Corrupt(format!("unknown throttle scope `{scope}`")))?,
        user_id: get(row, 2)?,
        address: get(row, 3)?,
        failures: count(row, 4, "failure")?,
        pending: count(row, 5, "pending")?,
        pending_until: get(row, 6)?,
        window_started_at: get(row, 7)?,
        locked_until: get(row, 8)?,
        last_success_at: get(row, 9)?,
        expires_at: get(row, 10)?,
    })
}

pub(crate) fn throttles<C: GenericClient>(
    tx: &mut Db<'_, C>,
    keys: &[String],
) -> Result<Vec<ThrottleState>> {
    all(
        tx,
        &format!("SELECT {THROTTLE_COLUMNS} FROM login_throttle WHERE key = ANY($1)"),
        &[&keys],
        throttle_state,
    )
}

pub(crate) fn throttles_of_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    user: UserId,
) -> Result<Vec<ThrottleState>> {
    all(
        tx,
        &format!(
            "SELECT {THROTTLE_COLUMNS} FROM login_throttle WHERE user_id = $1
             ORDER BY scope, address, key"
        ),
        &[&user],
        throttle_state,
    )
}

fn put_throttle<C: GenericClient>(tx: &mut Db<'_, C>, row: &ThrottleState) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO login_throttle ({THROTTLE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (key) DO UPDATE SET
                 scope = excluded.scope, user_id = excluded.user_id,
                 address = excluded.address, failures = excluded.failures,
                 pending = excluded.pending, pending_until = excluded.pending_until,
                 window_started_at = excluded.window_started_at,
                 locked_until = excluded.locked_until,
                 last_success_at = excluded.last_success_at, expires_at = excluded.expires_at"
        ),
        &[
            &row.key,
            &row.scope.as_str(),
            &row.user_id,
            &row.address,
            &i64::from(row.failures),
            &i64::from(row.pending),
            &row.pending_until,
            &row.window_started_at,
            &row.locked_until,
            &row.last_success_at,
            &row.expires_at,
        ],
    )?;
    Ok(())
}

/// One throttle step on every node's behalf: the rows are made to exist
/// (a fresh row is what an absent one means) and locked `FOR UPDATE`, in
/// key order so two steps never wait on each other crosswise, before the
/// engine decides; concurrent steps on one key, from any node, queue here.
pub(crate) fn apply_throttle<C: GenericClient>(
    tx: &mut Db<'_, C>,
    request: &ThrottleRequest,
) -> Result<ThrottleVerdict> {
    let mut order: Vec<&ThrottleKey> = request.keys.iter().collect();
    order.sort_by(|a, b| a.key.cmp(&b.key));
    order.dedup_by(|a, b| a.key == b.key);
    let mut locked: Vec<ThrottleState> = Vec::with_capacity(order.len());
    for key in order {
        let fresh = ThrottleState::fresh(key, request.now);
        tx.execute(
            &format!(
                "INSERT INTO login_throttle ({THROTTLE_COLUMNS})
                 VALUES ($1, $2, $3, $4, 0, 0, NULL, $5, NULL, NULL, $5)
                 ON CONFLICT (key) DO NOTHING"
            ),
            &[
                &fresh.key,
                &fresh.scope.as_str(),
                &fresh.user_id,
                &fresh.address,
                &request.now,
            ],
        )?;
        if let Some(row) = one(
            tx,
            &format!("SELECT {THROTTLE_COLUMNS} FROM login_throttle WHERE key = $1 FOR UPDATE"),
            &[&key.key],
            throttle_state,
        )? {
            locked.push(row);
        }
    }
    let found: Vec<Option<ThrottleState>> = request
        .keys
        .iter()
        .map(|k| locked.iter().find(|r| r.key == k.key).cloned())
        .collect();
    let change = lockout::apply(request, &found);
    for row in &change.rows {
        if !request.keys.iter().any(|k| k.key == row.key) {
            return Err(Error::Invalid(
                "the lockout policy wrote a row it was not given".into(),
            ));
        }
        put_throttle(tx, row)?;
    }
    append_audit(tx, &change.audit)?;
    Ok(change.verdict)
}

pub(crate) fn clear_throttles_of_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    user: UserId,
) -> Result<u64> {
    tx.execute(
        "UPDATE login_throttle SET failures = 0, locked_until = NULL
          WHERE user_id = $1 AND (failures > 0 OR locked_until IS NOT NULL)",
        &[&user],
    )
}

// --- sessions and tokens ---

pub(crate) fn session<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: SessionId,
) -> Result<Option<Session>> {
    one(
        tx,
        &format!("SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.id = $1"),
        &[&id_bytes(id.0)],
        rows::session,
    )
}

fn session_for_update<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: SessionId,
) -> Result<Option<Session>> {
    one(
        tx,
        &format!("SELECT {SESSION_COLUMNS} FROM {SESSION_FROM} WHERE s.id = $1 FOR UPDATE OF s"),
        &[&id_bytes(id.0)],
        rows::session,
    )
}

pub(crate) fn sessions_of_user<C: GenericClient>(
    tx: &mut Db<'_, C>,
    user: UserId,
    include_revoked: bool,
) -> Result<Vec<Session>> {
    all(
        tx,
        &format!(
            "SELECT {SESSION_COLUMNS} FROM {SESSION_FROM}
             WHERE s.user_id = $1 AND ($2 OR s.revoked_at IS NULL)
             ORDER BY s.created_at DESC, s.id DESC"
        ),
        &[&user, &include_revoked],
        rows::session,
    )
}

pub(crate) fn token<C: GenericClient>(
    tx: &mut Db<'_, C>,
    session: SessionId,
    jti: Jti,
) -> Result<Option<OutstandingToken>> {
    one(
        tx,
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM outstanding_tokens WHERE jti = $1 AND session_id = $2"
        ),
        &[&id_bytes(jti.0), &id_bytes(session.0)],
        rows::token,
    )
}

pub(crate) fn tokens_of<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: SessionId,
) -> Result<Vec<OutstandingToken>> {
    all(
        tx,
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM outstanding_tokens WHERE session_id = $1 ORDER BY seq"
        ),
        &[&id_bytes(id.0)],
        rows::token,
    )
}

fn insert_token<C: GenericClient>(tx: &mut Db<'_, C>, t: &OutstandingToken) -> Result<()> {
    tx.execute(
        "INSERT INTO outstanding_tokens (jti, session_id, user_id, token_type,
             signing_input_sha256, kid, issued_at, expires_at, parent_jti, rotated_at,
             successor_jti, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &id_bytes(t.jti.0),
            &id_bytes(t.session_id.0),
            &t.user_id,
            &t.token_type.as_str(),
            &t.signing_input_sha256,
            &t.kid,
            &t.issued_at,
            &t.expires_at,
            &opt_id_bytes(t.parent_jti.map(|j| j.0)),
            &t.rotated_at,
            &opt_id_bytes(t.successor_jti.map(|j| j.0)),
            &t.address,
        ],
    )?;
    Ok(())
}

pub(crate) fn open_session<C: GenericClient>(tx: &mut Db<'_, C>, new: &NewSession) -> Result<()> {
    let s = &new.session;
    if new.token.session_id != s.id {
        return Err(Error::Invalid(
            "the first token of a session must belong to it".into(),
        ));
    }
    // First, and the existence check: a login racing a delete_user (which
    // locks the user row) waits for it and then finds no user.
    let users = tx.execute(
        "UPDATE users SET last_login = $2 WHERE id = $1",
        &[&s.user_id, &s.created_at],
    )?;
    if users == 0 {
        return Err(Error::Conflict(Conflict::NoSuchUser(s.user_id)));
    }
    tx.execute(
        "INSERT INTO sessions (user_id, id, kind, created_at, last_rotated_at, rotation_count,
             head_jti, expires_at, max_expires_at, revoked_at, revoked_reason, revoked_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &s.user_id,
            &id_bytes(s.id.0),
            &s.kind.as_str(),
            &s.created_at,
            &s.last_rotated_at,
            &i64::from(s.rotation_count),
            &id_bytes(s.head_jti.0),
            &s.expires_at,
            &s.max_expires_at,
            &s.revoked_at,
            &s.revoked_reason.map(RevocationReason::as_str),
            &s.revoked_by,
        ],
    )?;
    let c = &s.client;
    if c.device_label.is_some() || c.user_agent.is_some() || c.address.is_some() {
        tx.execute(
            "INSERT INTO session_clients (session_id, device_label, user_agent, address)
             VALUES ($1, $2, $3, $4)",
            &[
                &id_bytes(s.id.0),
                &c.device_label,
                &c.user_agent,
                &c.address,
            ],
        )?;
    }
    insert_token(tx, &new.token)?;
    // last_login moved: nodes that hold the user forget it.
    append_user(tx, s.created_at, s.user_id)?;
    append_audit(tx, &new.audit)
}

/// Revokes the target's live sessions with one `UPDATE ... RETURNING`
/// (row locks make it exact under concurrency) and appends the feed entry.
pub(crate) fn revoke_sessions<C: GenericClient>(
    tx: &mut Db<'_, C>,
    request: &RevokeRequest,
) -> Result<Vec<RevokedSession>> {
    let reason = request.reason.as_str();
    let map = |row: &postgres::Row| -> Result<RevokedSession> {
        Ok(RevokedSession {
            id: SessionId(rows::id_at(row, 0)?),
            user_id: get(row, 1)?,
            max_expires_at: get(row, 2)?,
            reason: request.reason,
        })
    };
    let revoked = match request.target {
        RevokeTarget::Session(id) => all(
            tx,
            "UPDATE sessions SET revoked_at = $2, revoked_reason = $3, revoked_by = $4
             WHERE id = $1 AND revoked_at IS NULL
             RETURNING id, user_id, max_expires_at",
            &[&id_bytes(id.0), &request.now, &reason, &request.actor],
            map,
        )?,
        RevokeTarget::User { user_id, except } => all(
            tx,
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4, revoked_by = $5
             WHERE user_id = $1 AND revoked_at IS NULL AND ($2::bytea IS NULL OR id <> $2)
             RETURNING id, user_id, max_expires_at",
            &[
                &user_id,
                &opt_id_bytes(except.map(|s| s.0)),
                &request.now,
                &reason,
                &request.actor,
            ],
            map,
        )?,
    };
    if let Some(first) = revoked.first() {
        let items = encode_items(revoked.iter().map(|s| (s.id.0, s.max_expires_at)));
        append_feed(
            tx,
            request.now,
            FeedKind::Sessions,
            Some(first.reason),
            items,
        )?;
    }
    append_audit(tx, &request.audit)?;
    Ok(revoked)
}

pub(crate) fn revoke_jti<C: GenericClient>(
    tx: &mut Db<'_, C>,
    r: &RevokedJti,
    events: &[AuditEvent],
) -> Result<()> {
    let inserted = tx.execute(
        "INSERT INTO revoked_jtis (jti, session_id, user_id, revoked_at, expires_at, reason)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (jti) DO NOTHING",
        &[
            &id_bytes(r.jti.0),
            &opt_id_bytes(r.session_id.map(|s| s.0)),
            &r.user_id,
            &r.revoked_at,
            &r.expires_at,
            &r.reason.as_str(),
        ],
    )?;
    if inserted > 0 {
        let items = encode_items([(r.jti.0, r.expires_at)]);
        append_feed(tx, r.revoked_at, FeedKind::Jtis, Some(r.reason), items)?;
    }
    append_audit(tx, events)
}

pub(crate) fn extend_session<C: GenericClient>(
    tx: &mut Db<'_, C>,
    id: SessionId,
    expires_at: UnixTime,
    now: UnixTime,
) -> Result<()> {
    tx.execute(
        "UPDATE sessions
         SET expires_at = least($2, max_expires_at), last_rotated_at = $3,
             rotation_count = rotation_count + 1
         WHERE id = $1 AND revoked_at IS NULL",
        &[&id_bytes(id.0), &expires_at, &now],
    )?;
    Ok(())
}

/// Locks the family (the session row), then reads the presented token and
/// its successor, decides with the engine's `decide`, and executes the
/// writes it returns, all in the caller's transaction.
pub(crate) fn rotate<C: GenericClient>(
    tx: &mut Db<'_, C>,
    req: &RotationRequest,
) -> Result<RotationOutcome> {
    // Looked up in the successor's session, as the SQLite store does.
    let sid = req.successor.session_id;
    let unlocked = token(tx, sid, req.presented_jti)?;
    let session = match &unlocked {
        Some(t) => session_for_update(tx, t.session_id)?,
        None => None,
    };
    // Re-read under the lock: a concurrent rotation committed before we got
    // it is visible now (READ COMMITTED takes a new snapshot per statement).
    let presented = match &session {
        Some(_) => token(tx, sid, req.presented_jti)?,
        None => unlocked,
    };
    let successor = match presented.as_ref().and_then(|t| t.successor_jti) {
        Some(jti) => token(tx, sid, jti)?,
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
            tx.execute(
                "UPDATE outstanding_tokens SET rotated_at = $2, successor_jti = $3 WHERE jti = $1",
                &[&id_bytes(rotated.0), rotated_at, &id_bytes(successor.jti.0)],
            )?;
            insert_token(tx, successor)?;
            tx.execute(
                "UPDATE sessions SET head_jti = $2, expires_at = $3, last_rotated_at = $4,
                                     rotation_count = $5
                 WHERE id = $1",
                &[
                    &id_bytes(session.id.0),
                    &id_bytes(session.head_jti.0),
                    &session.expires_at,
                    &session.last_rotated_at,
                    &i64::from(session.rotation_count),
                ],
            )?;
            append_audit(tx, std::slice::from_ref(audit))?;
        }
        RotationWrites::GraceReplay { audit, .. } => {
            append_audit(tx, std::slice::from_ref(audit))?;
        }
        RotationWrites::ReuseDetected { revoke, .. } => {
            revoke_sessions(tx, revoke)?;
        }
    }
    Ok(writes.into_outcome())
}

// --- the revocation feed ---

/// Appends one entry under the feed's transaction-scoped advisory lock (held
/// until commit, so positions are gapless and in commit order across nodes)
/// and queues the NOTIFY that PostgreSQL delivers at commit.
fn append_feed<C: GenericClient>(
    tx: &mut Db<'_, C>,
    at: UnixTime,
    kind: FeedKind,
    reason: Option<RevocationReason>,
    items: Vec<u8>,
) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    let row = tx.query_one(
        "INSERT INTO revocation_feed (seq, at, kind, reason, items)
         SELECT coalesce(max(seq), 0) + 1, $1, $2, $3, $4 FROM revocation_feed
         RETURNING seq",
        &[
            &at,
            &kind.as_str(),
            &reason.map(RevocationReason::as_str),
            &items,
        ],
    )?;
    let seq: i64 = get(&row, 0)?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&FEED_CHANNEL, &seq.to_string()],
    )?;
    Ok(())
}

/// Records that a user's stored state changed, so every node forgets what
/// it holds of them ([`warden_auth::UserCache`]).
fn append_user<C: GenericClient>(tx: &mut Db<'_, C>, at: UnixTime, id: UserId) -> Result<()> {
    append_feed(tx, at, FeedKind::Users, None, encode_users(&[id], at))
}

pub(crate) fn feed_head<C: GenericClient>(tx: &mut Db<'_, C>) -> Result<i64> {
    let row = tx.query_one("SELECT coalesce(max(seq), 0) FROM revocation_feed", &[])?;
    get(&row, 0)
}

pub(crate) fn feed_since<C: GenericClient>(
    tx: &mut Db<'_, C>,
    after: i64,
    limit: u32,
) -> Result<FeedPage> {
    let head = feed_head(tx)?;
    let entries = all(
        tx,
        "SELECT seq, at, kind, reason, items FROM revocation_feed
         WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&after, &i64::from(limit.max(1))],
        |row| {
            let kind: &str = get(row, 2)?;
            let reason: Option<&str> = get(row, 3)?;
            let items: &[u8] = get(row, 4)?;
            entry_from_row(get(row, 0)?, get(row, 1)?, kind, reason, items).map_err(Error::Corrupt)
        },
    )?;
    Ok(FeedPage { entries, head })
}

// --- audit and housekeeping ---

pub(crate) fn append_audit<C: GenericClient>(
    tx: &mut Db<'_, C>,
    events: &[AuditEvent],
) -> Result<()> {
    for e in events {
        let detail = if e.detail.is_null() {
            None
        } else {
            Some(
                serde_json::to_string(&e.detail)
                    .map_err(|err| Error::Invalid(format!("audit detail: {err}")))?,
            )
        };
        tx.execute(
            "INSERT INTO audit_log (at, kind, subject, actor, session_id, jti, address, reason, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &e.at,
                &e.kind.as_str(),
                &e.subject,
                &e.actor,
                &opt_id_bytes(e.session_id.map(|s| s.0)),
                &opt_id_bytes(e.jti.map(|j| j.0)),
                &e.address,
                &e.reason,
                &detail,
            ],
        )?;
    }
    Ok(())
}

pub(crate) fn audit<C: GenericClient>(
    tx: &mut Db<'_, C>,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>> {
    let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
    let kinds: Option<Vec<&str>> = if kinds.is_empty() { None } else { Some(kinds) };
    let limit = i64::from(match q.limit {
        0 => DEFAULT_AUDIT_LIMIT,
        n => n.min(MAX_AUDIT_LIMIT),
    });
    all(
        tx,
        &format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log
             WHERE ($1::bigint IS NULL OR subject = $1 OR actor = $1)
               AND ($2::text[] IS NULL OR kind = ANY($2))
               AND ($3::bytea IS NULL OR session_id = $3)
               AND ($4::bigint IS NULL OR at >= $4)
               AND ($5::bigint IS NULL OR at <= $5)
               AND ($6::bigint IS NULL OR id < $6)
             ORDER BY id DESC LIMIT $7"
        ),
        &[
            &q.user,
            &kinds,
            &opt_id_bytes(q.session_id.map(|s| s.0)),
            &q.since,
            &q.until,
            &q.before_id,
            &limit,
        ],
        rows::audit_entry,
    )
}

pub(crate) fn live_revocations<C: GenericClient>(
    tx: &mut Db<'_, C>,
    now: UnixTime,
    keep_for: i64,
) -> Result<LiveRevocations> {
    let cutoff = now.saturating_sub(keep_for);
    let sessions = all(
        tx,
        "SELECT id, max_expires_at, revoked_reason FROM sessions
         WHERE revoked_at IS NOT NULL AND max_expires_at > $1
         ORDER BY max_expires_at",
        &[&cutoff],
        |row| {
            Ok((
                SessionId(rows::id_at(row, 0)?),
                get(row, 1)?,
                rows::reason_at(row, 2).ok().flatten(),
            ))
        },
    )?;
    let jtis = all(
        tx,
        "SELECT jti, expires_at FROM revoked_jtis WHERE expires_at > $1 ORDER BY expires_at",
        &[&cutoff],
        |row| Ok((Jti(rows::id_at(row, 0)?), get(row, 1)?)),
    )?;
    Ok(LiveRevocations { sessions, jtis })
}

/// Sessions that can go: past their absolute cap, or never revoked and past
/// their expiry (as in the SQLite store).
///
/// The second arm finds never-revoked sessions past their expiry through their
/// head token's expiry index (sessions have no `expires_at` index since schema
/// 5 on SQLite, 4 on PostgreSQL: a rotation would rewrite it every time). That
/// finds them all: a session's `expires_at` is never earlier than its head
/// token's (opening and rotating set it to the head's, a sliding refresh only
/// moves it later), and a live session's head row is never flushed.
const DOOMED_SESSIONS: &str = "SELECT id FROM sessions WHERE max_expires_at < $1
     UNION SELECT s.id FROM outstanding_tokens t CROSS JOIN sessions s
           WHERE t.expires_at < $1 AND s.id = t.session_id AND s.head_jti = t.jti
             AND s.expires_at < $1 AND s.revoked_at IS NULL";

pub(crate) fn flush<C: GenericClient>(
    tx: &mut Db<'_, C>,
    now: UnixTime,
    keep_for: i64,
) -> Result<FlushReport> {
    let cutoff = now.saturating_sub(keep_for);
    // Counted first, then removed with their sessions (ON DELETE CASCADE): the
    // doomed-session query finds expired sessions through their head tokens,
    // so the sessions must go before their tokens do.
    let doomed: postgres::Row = tx.query_one(
        &format!("SELECT count(*) FROM outstanding_tokens WHERE session_id IN ({DOOMED_SESSIONS})"),
        &[&cutoff],
    )?;
    let doomed_tokens: i64 = get(&doomed, 0)?;
    let sessions = tx.execute(
        &format!("DELETE FROM sessions WHERE id IN ({DOOMED_SESSIONS})"),
        &[&cutoff],
    )?;
    // Expired tokens of sessions that stay; never the head of a live session.
    let outstanding_tokens = u64::try_from(doomed_tokens).unwrap_or(0)
        + tx.execute(
            "DELETE FROM outstanding_tokens AS t
             WHERE t.expires_at < $1
               AND NOT EXISTS (SELECT 1 FROM sessions s
                               WHERE s.id = t.session_id AND s.head_jti = t.jti
                                 AND s.revoked_at IS NULL)",
            &[&cutoff],
        )?;
    let revoked_jtis = tx.execute("DELETE FROM revoked_jtis WHERE expires_at < $1", &[&cutoff])?;
    let throttle_entries = tx.execute(
        "DELETE FROM login_throttle WHERE expires_at < $1",
        &[&cutoff],
    )?;
    let feed_cutoff = cutoff.min(cutoff.saturating_sub(FEED_KEEP));
    tx.execute(
        "DELETE FROM revocation_feed
         WHERE at < $1 AND seq < (SELECT max(seq) FROM revocation_feed)",
        &[&feed_cutoff],
    )?;
    Ok(FlushReport {
        outstanding_tokens,
        sessions,
        revoked_jtis,
        throttle_entries,
    })
}
