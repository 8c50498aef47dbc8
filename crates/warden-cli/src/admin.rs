//! `warden user …`, `warden sessions …` and `warden flush`: administration
//! through the engine on the database, as [`Actor::System`] (audited with
//! no staff actor, with the administrator's `--reason` when given).
//!
//! A running `warden serve` on the same database learns of the revocations
//! made here through the store's revocation feed, within its poll interval.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context as _, anyhow, bail};
use warden_auth::model::{ClientInfo, ThrottleScope, ThrottleState, User, UserQuery};
use warden_auth::{Actor, AuthError, AuthService, NewAccount, SessionId, UnixTime};

use crate::config::Context;
use crate::output::{Table, parse_rfc3339, relative, rfc3339, sanitize};

/// A new password from stdin (`--password-stdin`) or typed twice on a terminal.
pub fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        let password = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line)
            .to_string();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so the password cannot be prompted for; pass --password-stdin to read it from stdin"
        );
    }
    let first = rpassword::prompt_password("New password: ").context("cannot read the password")?;
    let second =
        rpassword::prompt_password("Repeat password: ").context("cannot read the password")?;
    if first != second {
        bail!("the passwords do not match");
    }
    if first.is_empty() {
        bail!("the password must not be empty");
    }
    Ok(first)
}

pub fn add_user(
    ctx: &Context,
    username: &str,
    email: Option<String>,
    staff: bool,
    password: &str,
) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let user = service
        .create_user(
            &NewAccount {
                username: username.to_string(),
                email,
                password: password.to_string(),
                is_staff: staff,
                email_verified: false,
            },
            None,
        )
        .map_err(explain)?;
    outln!(
        "created user {} (id {}){}",
        user.username,
        user.id,
        if user.is_staff { ", staff" } else { "" }
    );
    Ok(())
}

pub fn set_password(ctx: &Context, username: &str, password: &str) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let user = find_user(&service, username)?;
    let ended = service
        .set_password(&Actor::System, user.id, password, "")
        .map_err(explain)?;
    outln!(
        "password of {} changed; {} session(s) ended",
        user.username,
        ended.count()
    );
    Ok(())
}

/// What `user lock|unlock|deactivate|reactivate|staff` does.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Until when (`UnixTime::MAX`: until unlocked).
    Lock(UnixTime),
    Unlock,
    Active(bool),
    Staff(bool),
}

/// `--until` / `--for` into an instant; neither means until unlocked.
pub fn lock_until(until: Option<&str>, for_: Option<&str>) -> anyhow::Result<UnixTime> {
    let now = warden_auth::Clock::now(&warden_auth::SystemClock);
    let t = match (until, for_) {
        (Some(u), _) => parse_rfc3339(u).map_err(|e| anyhow!("--until: {e}"))?,
        (None, Some(d)) => {
            let d = humantime::parse_duration(d.trim())
                .map_err(|e| anyhow!("--for: `{d}` is not a duration such as 1h or 30m ({e})"))?;
            let secs = i64::try_from(d.as_secs()).map_err(|_| anyhow!("--for is too long"))?;
            if secs == 0 {
                bail!("--for must be longer than 0 seconds");
            }
            now.saturating_add(secs)
        }
        (None, None) => return Ok(UnixTime::MAX),
    };
    if t <= now {
        bail!("--until {} is not in the future", rfc3339(t));
    }
    Ok(t)
}

/// Applies a change as the system (audited with no actor, and the
/// administrator's reason when one is given).
pub fn change(
    ctx: &Context,
    username: &str,
    change: Change,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let user = find_user(&service, username)?;
    let reason = reason.unwrap_or("");
    if reason.trim().len() > 500 {
        bail!("--reason must be at most 500 characters");
    }
    let actor = Actor::System;
    let ended = match change {
        Change::Lock(until) => Some(
            service
                .lock(
                    &actor,
                    user.id,
                    (until != UnixTime::MAX).then_some(until),
                    reason,
                )
                .map_err(explain)?,
        ),
        Change::Unlock => {
            service.unlock(&actor, user.id, reason).map_err(explain)?;
            None
        }
        Change::Active(active) => {
            let ended = service
                .set_active(&actor, user.id, active, reason)
                .map_err(explain)?;
            (!active).then_some(ended)
        }
        Change::Staff(staff) => {
            service
                .set_staff(&actor, user.id, staff, reason)
                .map_err(explain)?;
            None
        }
    };
    let what = match change {
        Change::Lock(UnixTime::MAX) => "locked until unlocked".to_string(),
        Change::Lock(t) => format!("locked until {}", rfc3339(t)),
        Change::Unlock => "unlocked".into(),
        Change::Active(true) => "reactivated".into(),
        Change::Active(false) => "deactivated".into(),
        Change::Staff(true) => "granted staff rights".into(),
        Change::Staff(false) => "no longer staff".into(),
    };
    match ended {
        Some(ended) => outln!(
            "{} {what}; {} session(s) ended",
            user.username,
            ended.count()
        ),
        None => outln!("{} {what}", user.username),
    }
    Ok(())
}

pub fn list_users(ctx: &Context, query: Option<String>) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let now = service.now();
    const PAGE: u32 = 500;
    let mut users: Vec<User> = Vec::new();
    loop {
        let page = service.search_users(
            &Actor::System,
            &UserQuery {
                text: query.clone().filter(|q| !q.trim().is_empty()),
                limit: PAGE,
                offset: u32::try_from(users.len()).unwrap_or(u32::MAX),
                ..UserQuery::default()
            },
        )?;
        let done = page.len() < PAGE as usize;
        users.extend(page);
        if done {
            break;
        }
    }
    if users.is_empty() {
        outln!("no users");
        return Ok(());
    }
    let mut table = Table::new([
        "ID",
        "USERNAME",
        "EMAIL",
        "ACTIVE",
        "STAFF",
        "LOCKED",
        "LAST LOGIN",
    ]);
    for u in &users {
        table.row([
            u.id.to_string(),
            u.username.clone(),
            u.email.clone().unwrap_or_else(|| "-".into()),
            yes_no(u.is_active),
            yes_no(u.is_staff),
            locked(u, now),
            u.last_login.map_or_else(|| "never".into(), rfc3339),
        ]);
    }
    table.print();
    Ok(())
}

pub fn show_user(ctx: &Context, username: &str) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let u = find_user(&service, username)?;
    let now = service.now();
    let live = service.sessions_of(&Actor::System, u.id, false)?;
    let (_, throttles) = service.user_detail(&Actor::System, u.id)?;
    let rows = [
        ("id", u.id.to_string()),
        ("username", u.username.clone()),
        (
            "email",
            match &u.email {
                Some(e) => format!(
                    "{e} ({})",
                    if u.email_verified {
                        "verified"
                    } else {
                        "not verified"
                    }
                ),
                None => "-".into(),
            },
        ),
        ("active", yes_no(u.is_active)),
        ("staff", yes_no(u.is_staff)),
        ("locked", locked(&u, now)),
        ("created", rfc3339(u.created_at)),
        (
            "last login",
            u.last_login.map_or_else(|| "never".into(), rfc3339),
        ),
        (
            "password changed",
            u.password_changed_at
                .map_or_else(|| "never".into(), rfc3339),
        ),
        ("live sessions", live.len().to_string()),
        ("failed logins", failed_logins(&throttles, now)),
    ];
    for (k, v) in rows {
        outln!("{:<17} {}", format!("{k}:"), sanitize(&v));
    }
    Ok(())
}

/// The user's failed-login counters in one line: the failures from every
/// address, then each lock or delay that is on now.
fn failed_logins(throttles: &[ThrottleState], now: UnixTime) -> String {
    let total = throttles
        .iter()
        .find(|t| t.scope == ThrottleScope::Identifier)
        .map(|t| t.failures)
        .unwrap_or_else(|| throttles.iter().map(|t| t.failures).sum());
    let mut out = total.to_string();
    for t in throttles {
        if let Some(l) = t.locked_until.filter(|l| *l > now) {
            let what = match (t.scope, &t.address) {
                (ThrottleScope::Pair, Some(a)) => format!("locked out from {a}"),
                (ThrottleScope::Pair, None) => "locked out".to_string(),
                _ => "every new address delayed".to_string(),
            };
            out.push_str(&format!(
                " ({what}, {})",
                relative(l, now, "lifts", "lifted")
            ));
        }
    }
    out
}

pub fn list_sessions(ctx: &Context, username: &str, all: bool) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let user = find_user(&service, username)?;
    let now = service.now();
    let sessions = service.sessions_of(&Actor::System, user.id, all)?;
    if sessions.is_empty() {
        outln!(
            "no {}sessions for {}",
            if all { "" } else { "live " },
            user.username
        );
        return Ok(());
    }
    let mut table = Table::new([
        "ID",
        "DEVICE",
        "ADDRESS",
        "CREATED",
        "LAST ROTATION",
        "EXPIRES",
        "STATE",
    ]);
    for s in &sessions {
        let state = match (&s.revoked_at, &s.revoked_reason) {
            (Some(_), Some(r)) => format!("revoked ({r})"),
            (Some(_), None) => "revoked".into(),
            (None, _) if s.expires_at <= now => "expired".into(),
            (None, _) => "active".into(),
        };
        let device = s
            .device_label
            .clone()
            .or_else(|| s.user_agent.clone())
            .unwrap_or_else(|| "-".into());
        table.row([
            s.id.clone(),
            truncate(&device, 40),
            s.address.clone().unwrap_or_else(|| "-".into()),
            rfc3339(s.created_at),
            s.last_rotated_at.map_or_else(|| "never".into(), rfc3339),
            rfc3339(s.expires_at),
            state,
        ]);
    }
    table.print();
    Ok(())
}

pub fn revoke_session(ctx: &Context, session_id: &str) -> anyhow::Result<()> {
    let sid = SessionId::parse(session_id.trim())
        .ok_or_else(|| anyhow!("`{session_id}` is not a session id (32 hex digits)"))?;
    let service = ctx.admin_service()?;
    let revoked = service
        .revoke_session(&Actor::System, sid, "", &ClientInfo::default())
        .map_err(explain)?;
    if revoked {
        outln!("session {sid} revoked");
    } else {
        outln!("session {sid} was already revoked");
    }
    Ok(())
}

pub fn revoke_all(ctx: &Context, username: &str) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let user = find_user(&service, username)?;
    let ended = service
        .end_sessions(&Actor::System, user.id, "", &ClientInfo::default())
        .map_err(explain)?;
    outln!("{} session(s) of {} revoked", ended.count(), user.username);
    Ok(())
}

pub fn flush(ctx: &Context) -> anyhow::Result<()> {
    let service = ctx.admin_service()?;
    let r = service.flush_expired()?;
    outln!("removed:");
    outln!("  outstanding tokens  {}", r.outstanding_tokens);
    outln!("  sessions            {}", r.sessions);
    outln!("  revoked token ids   {}", r.revoked_jtis);
    outln!("  throttle entries    {}", r.throttle_entries);
    Ok(())
}

fn find_user(service: &AuthService, username: &str) -> anyhow::Result<User> {
    match service.user_by_username(username.trim()) {
        Err(AuthError::NotFound(_)) => Err(anyhow!("no user named `{username}`")),
        other => Ok(other?),
    }
}

/// Engine errors in the words an administrator needs.
fn explain(e: AuthError) -> anyhow::Error {
    match e {
        AuthError::NotFound(what) => anyhow!("no such {what}"),
        AuthError::InvalidInput { field, message } => anyhow!("{field}: {message}"),
        other => anyhow::Error::new(other),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn locked(u: &User, now: UnixTime) -> String {
    match u.locked_until {
        Some(UnixTime::MAX) => "until unlocked".into(),
        Some(t) if t > now => format!("until {}", rfc3339(t)),
        _ => "no".into(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
