//! Users.
//!
//! Usernames and e-mail addresses are unique and looked up case-insensitively
//! through `*_key` columns holding `str::to_lowercase` of the value (Unicode,
//! not just ASCII as SQLite's NOCASE; the same rule the engine uses for
//! throttle keys). An empty e-mail has no key: many users may leave it blank.

use rusqlite::{Connection, OptionalExtension, params};
use warden_auth::model::{
    AuditEvent, RevocationReason, RevokeRequest, RevokeTarget, RevokedSession, User, UserQuery,
    UserUpdate,
};
use warden_auth::{Conflict, UnixTime, UserId};

use crate::audit;
use crate::error::{Error, Result};
use crate::rows::{self, USER_COLUMNS};
use crate::sessions;

/// What `limit: 0` means in a search.
pub(crate) const DEFAULT_SEARCH_LIMIT: u32 = 100;
pub(crate) const MAX_SEARCH_LIMIT: u32 = 1_000;

pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn email_key(email: Option<&str>) -> Option<String> {
    email.filter(|e| !e.is_empty()).map(fold)
}

/// Names the rule a username or e-mail would break, ignoring user `except`.
fn check_unique(
    conn: &Connection,
    username_key: Option<&str>,
    email_key: Option<&str>,
    except: Option<UserId>,
) -> Result<()> {
    if let Some(key) = username_key {
        let taken = conn
            .prepare_cached("SELECT 1 FROM users WHERE username_key = ?1 AND id IS NOT ?2")?
            .exists(params![key, except])?;
        if taken {
            return Err(Error::Conflict(Conflict::Username));
        }
    }
    if let Some(key) = email_key {
        let taken = conn
            .prepare_cached("SELECT 1 FROM users WHERE email_key = ?1 AND id IS NOT ?2")?
            .exists(params![key, except])?;
        if taken {
            return Err(Error::Conflict(Conflict::Email));
        }
    }
    Ok(())
}

/// Creates the user. Audit events without a subject get the new user's id:
/// the caller cannot know it beforehand.
pub(crate) fn create(
    conn: &Connection,
    user: &warden_auth::model::NewUser,
    now: UnixTime,
    events: &[AuditEvent],
) -> Result<User> {
    let username_key = fold(&user.username);
    let email_key = email_key(user.email.as_deref());
    check_unique(conn, Some(&username_key), email_key.as_deref(), None)?;
    conn.prepare_cached(
        "INSERT INTO users (username, username_key, email, email_key, email_verified,
                            password_hash, is_active, is_staff, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        user.username,
        username_key,
        user.email,
        email_key,
        user.email_verified,
        user.password_hash,
        user.is_active,
        user.is_staff,
        now,
    ])?;
    let id = conn.last_insert_rowid();
    let events: Vec<AuditEvent> = events
        .iter()
        .map(|e| AuditEvent {
            subject: e.subject.or(Some(id)),
            ..e.clone()
        })
        .collect();
    audit::append(conn, &events)?;
    by_id(conn, id)?.ok_or_else(|| Error::Corrupt(format!("user {id} vanished after insert")))
}

/// [`create`], made staff when it is the first user (one transaction on the single writer).
pub(crate) fn create_owner_or_user(
    conn: &Connection,
    user: &warden_auth::model::NewUser,
    now: UnixTime,
    events: &[AuditEvent],
    owner_events: &[AuditEvent],
) -> Result<User> {
    let others: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users)")?
        .query_row([], |r| r.get(0))?;
    if others {
        return create(conn, user, now, events);
    }
    let owner = warden_auth::model::NewUser {
        is_staff: true,
        ..user.clone()
    };
    create(conn, &owner, now, owner_events)
}

/// Built once: `by_id` is on the refresh path.
static USER_BY_ID: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"));

pub(crate) fn by_id(conn: &Connection, id: UserId) -> Result<Option<User>> {
    let mut stmt = conn.prepare_cached(&USER_BY_ID)?;
    rows::optional(&mut stmt, [id], rows::user)
}

pub(crate) fn by_username(conn: &Connection, username: &str) -> Result<Option<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username_key = ?1"
    ))?;
    rows::optional(&mut stmt, [fold(username)], rows::user)
}

pub(crate) fn by_email(conn: &Connection, email: &str) -> Result<Option<User>> {
    let Some(key) = email_key(Some(email)) else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email_key = ?1"
    ))?;
    rows::optional(&mut stmt, [key], rows::user)
}

/// Substring match with `instr` on the folded keys: no LIKE, so `%` and `_`
/// in the search text are plain characters and need no escaping.
pub(crate) fn search(conn: &Connection, q: &UserQuery) -> Result<Vec<User>> {
    let text = q.text.as_deref().map(fold);
    let limit = match q.limit {
        0 => DEFAULT_SEARCH_LIMIT,
        n => n.min(MAX_SEARCH_LIMIT),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE (?1 IS NULL OR instr(username_key, ?1) > 0 OR instr(email_key, ?1) > 0)
           AND (?2 IS NULL OR is_active = ?2)
           AND (?3 IS NULL OR is_staff = ?3)
           AND (?4 IS NULL OR locked_until > ?4)
         ORDER BY id
         LIMIT ?5 OFFSET ?6"
    ))?;
    rows::all(
        &mut stmt,
        params![text, q.active, q.staff, q.locked_at, limit, q.offset],
        rows::user,
    )
}

pub(crate) fn update(
    conn: &Connection,
    id: UserId,
    update: &UserUpdate,
    revoke: Option<&RevokeRequest>,
    events: &[AuditEvent],
) -> Result<Option<(User, Vec<RevokedSession>)>> {
    let Some(mut user) = by_id(conn, id)? else {
        return Ok(None);
    };
    if let Some(email) = &update.email {
        check_unique(conn, None, email_key(email.as_deref()).as_deref(), Some(id))?;
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
    conn.prepare_cached(
        "UPDATE users SET email = ?2, email_key = ?3, email_verified = ?4, password_hash = ?5,
                          is_active = ?6, is_staff = ?7, last_login = ?8,
                          password_changed_at = ?9, locked_until = ?10
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        user.email,
        email_key(user.email.as_deref()),
        user.email_verified,
        user.password_hash,
        user.is_active,
        user.is_staff,
        user.last_login,
        user.password_changed_at,
        user.locked_until,
    ])?;
    let revoked = match revoke {
        Some(request) => sessions::revoke(conn, request)?,
        None => Vec::new(),
    };
    crate::feed::user(conn, write_time(revoke, events), id)?;
    audit::append(conn, events)?;
    Ok(Some((user, revoked)))
}

/// Revokes every live session of the user (`UserDeleted`), then deletes the
/// user row. Sessions and tokens stay: the revocations must stay visible to
/// `live_revocations` until the tokens would have expired, and `flush_expired`
/// removes them then. User ids are never reused (AUTOINCREMENT), so nothing
/// left behind can be mistaken for a later user's.
pub(crate) fn delete(
    conn: &Connection,
    id: UserId,
    now: UnixTime,
    events: &[AuditEvent],
) -> Result<bool> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(false);
    }
    sessions::revoke(
        conn,
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
    conn.prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute([id])?;
    crate::feed::user(conn, now, id)?;
    audit::append(conn, events)?;
    Ok(true)
}

/// When an update happened, for its feed entry: the revocation's time, else
/// the audit line's (every caller writes one), else 0 (an entry that old is
/// flushed at the next housekeeping; a node that had not read it yet sees
/// the gap and forgets every user, which is safe).
fn write_time(revoke: Option<&RevokeRequest>, events: &[AuditEvent]) -> UnixTime {
    revoke
        .map(|r| r.now)
        .or_else(|| events.first().map(|e| e.at))
        .unwrap_or(0)
}
