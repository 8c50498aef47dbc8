//! The staff console. The server decides who is staff: every call goes to
//! `api/staff/…` with the signed-in user's access token, and a 403 comes back
//! as "not staff" whatever the window shows.

use std::fmt;

use serde::{Deserialize, Serialize};
use warden_client::{
    AuditRecord, AuditSearch, Lineage, SessionInfo, SessionManager, StaffUser, StaffUserDetail,
    UserSearch,
};

use crate::error::{Error, Result};
use crate::host::Host;

/// Which users the search lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum UserFilter {
    /// Everyone.
    #[default]
    All,
    /// Not deactivated.
    Active,
    /// Deactivated.
    Inactive,
    /// Locked by staff now.
    Locked,
    /// Staff only.
    Staff,
}

impl UserFilter {
    fn narrow(self, search: &mut UserSearch) {
        match self {
            UserFilter::All => {}
            UserFilter::Active => search.active = Some(true),
            UserFilter::Inactive => search.active = Some(false),
            UserFilter::Locked => search.locked = Some(true),
            UserFilter::Staff => search.staff = Some(true),
        }
    }
}

/// Users matching `q` (username or e-mail; blank: everyone), at most 200.
pub async fn users(
    host: &impl Host,
    q: Option<&str>,
    filter: UserFilter,
) -> Result<Vec<StaffUser>> {
    let m = host.session().await?.manager;
    let mut search = UserSearch {
        q: q.map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string),
        limit: Some(200),
        ..UserSearch::default()
    };
    filter.narrow(&mut search);
    Ok(m.authorized(|client, token| {
        let search = search.clone();
        async move { client.staff_users(&token, &search).await }
    })
    .await?)
}

/// A user's page: profile, failed sign-ins, lock state, and sessions.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserView {
    /// The profile, failed sign-ins and lock state.
    pub detail: StaffUserDetail,
    /// The user's sessions, ended ones included.
    pub sessions: Vec<SessionInfo>,
}

/// The page of the user `id`.
pub async fn user(host: &impl Host, id: i64) -> Result<UserView> {
    let m = host.session().await?.manager;
    let detail = m
        .authorized(|client, token| async move { client.staff_user(&token, id).await })
        .await?;
    let sessions = m
        .authorized(|client, token| async move { client.staff_user_sessions(&token, id).await })
        .await?;
    Ok(UserView { detail, sessions })
}

/// A session's rotation chain, with the audit lines that mention it
/// (rotations, grace replays, reuse detections, who revoked it and why).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineageView {
    /// The session and its rotation chain.
    pub lineage: Lineage,
    /// The audit lines of the session (at most 500, newest first).
    pub events: Vec<AuditRecord>,
}

/// The lineage of the session `session_id`.
pub async fn lineage(host: &impl Host, session_id: &str) -> Result<LineageView> {
    let m = host.session().await?.manager;
    let lineage = m
        .authorized(|client, token| async move { client.staff_session(&token, session_id).await })
        .await?;
    let search = AuditSearch {
        session: Some(session_id.to_string()),
        limit: Some(500),
        ..AuditSearch::default()
    };
    let events = records(&m, &search).await?;
    Ok(LineageView { lineage, events })
}

/// One staff action and whom it is on, as the window sends it:
/// `{"kind": "lock", "user_id": 2}`, `{"kind": "revoke_session", "session_id": "…"}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StaffAction {
    /// Ends one session.
    RevokeSession {
        /// The session's id.
        session_id: String,
    },
    /// Ends every session of the user.
    LogoutAll {
        /// Whose sessions.
        user_id: i64,
    },
    /// Refuses the user's logins until unlocked; every session ends.
    Lock {
        /// Whom.
        user_id: i64,
    },
    /// Lifts a staff lock.
    Unlock {
        /// Whom.
        user_id: i64,
    },
    /// Turns the account off; every session ends.
    Deactivate {
        /// Whom.
        user_id: i64,
    },
    /// Turns the account back on.
    Reactivate {
        /// Whom.
        user_id: i64,
    },
    /// A temporary password; every session ends.
    SetPassword {
        /// Whose.
        user_id: i64,
        /// The temporary password.
        password: String,
    },
}

impl fmt::Debug for StaffAction {
    // Never print the temporary password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaffAction::RevokeSession { session_id } => {
                write!(f, "RevokeSession({session_id})")
            }
            StaffAction::LogoutAll { user_id } => write!(f, "LogoutAll({user_id})"),
            StaffAction::Lock { user_id } => write!(f, "Lock({user_id})"),
            StaffAction::Unlock { user_id } => write!(f, "Unlock({user_id})"),
            StaffAction::Deactivate { user_id } => write!(f, "Deactivate({user_id})"),
            StaffAction::Reactivate { user_id } => write!(f, "Reactivate({user_id})"),
            StaffAction::SetPassword { user_id, .. } => {
                write!(f, "SetPassword({user_id}, <hidden>)")
            }
        }
    }
}

/// Carries out `action` with `reason`, which goes into the audit log (a
/// blank one is refused before anything is sent), and says what happened.
pub async fn act(host: &impl Host, action: &StaffAction, reason: &str) -> Result<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(Error::ReasonRequired);
    }
    let m = host.session().await?.manager;
    let message = match action {
        StaffAction::RevokeSession { session_id } => {
            let revoked = m
                .authorized(|c, t| async move { c.staff_revoke_session(&t, session_id, r).await })
                .await?;
            if revoked {
                "Session revoked; its access and refresh tokens are refused from now on."
                    .to_string()
            } else {
                "That session had already ended.".to_string()
            }
        }
        &StaffAction::LogoutAll { user_id: id } => {
            let n = m
                .authorized(|c, t| async move { c.staff_logout_user(&t, id, r).await })
                .await?;
            format!(
                "{} revoked; their access tokens are refused from now on.",
                sessions(n)
            )
        }
        &StaffAction::Lock { user_id: id } => {
            let n = m
                .authorized(|c, t| async move { c.staff_lock_user(&t, id, r, None).await })
                .await?;
            format!("User locked; {} revoked.", sessions(n))
        }
        &StaffAction::Unlock { user_id: id } => {
            m.authorized(|c, t| async move { c.staff_unlock_user(&t, id, r).await })
                .await?;
            "User unlocked.".to_string()
        }
        &StaffAction::Deactivate { user_id: id } => {
            let n = m
                .authorized(|c, t| async move { c.staff_deactivate_user(&t, id, r).await })
                .await?;
            format!("User deactivated; {} revoked.", sessions(n))
        }
        &StaffAction::Reactivate { user_id: id } => {
            m.authorized(|c, t| async move { c.staff_reactivate_user(&t, id, r).await })
                .await?;
            "User reactivated.".to_string()
        }
        StaffAction::SetPassword {
            user_id: id,
            password,
        } => {
            if password.is_empty() {
                return Err(Error::Invalid("Type the temporary password."));
            }
            let id = *id;
            let n = m
                .authorized(|c, t| async move { c.staff_set_password(&t, id, password, r).await })
                .await?;
            format!("Temporary password set; {} revoked.", sessions(n))
        }
    };
    Ok(message)
}

fn sessions(n: usize) -> String {
    if n == 1 {
        "1 session".into()
    } else {
        format!("{n} sessions")
    }
}

/// The audit log's filters as the window sends them.
#[derive(Debug, Clone, Default, Deserialize)]
// Every field may be left out (`serde(default)`).
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
#[serde(default)]
pub struct AuditFilter {
    /// Events about or by this user.
    pub user: Option<i64>,
    /// Event kinds; blank ones are dropped.
    pub kinds: Vec<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    /// Unix seconds.
    pub until: Option<i64>,
    /// At most this many (500 when absent, never above 1000).
    pub limit: Option<u32>,
}

impl AuditFilter {
    /// The query the client sends for this filter.
    pub fn search(&self) -> AuditSearch {
        AuditSearch {
            user: self.user,
            kinds: self
                .kinds
                .iter()
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
            since: self.since,
            until: self.until,
            limit: Some(self.limit.unwrap_or(500).min(1000)),
            ..AuditSearch::default()
        }
    }
}

/// The audit log, newest first, as `filter` narrows it (at most 1000 lines).
pub async fn audit(host: &impl Host, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
    let m = host.session().await?.manager;
    records(&m, &filter.search()).await
}

async fn records(m: &SessionManager, search: &AuditSearch) -> Result<Vec<AuditRecord>> {
    Ok(
        m.authorized(|client, token| async move { client.staff_audit(&token, search).await })
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_the_windows_json_and_never_show_a_password() {
        let lock: StaffAction =
            serde_json::from_value(serde_json::json!({"kind": "lock", "user_id": 2})).unwrap();
        assert_eq!(lock, StaffAction::Lock { user_id: 2 });
        let set: StaffAction = serde_json::from_value(
            serde_json::json!({"kind": "set_password", "user_id": 2, "password": "tmp-Secret-9"}),
        )
        .unwrap();
        assert!(!format!("{set:?}").contains("tmp-Secret-9"));
        for wrong in [
            serde_json::json!({"kind": "explode", "user_id": 2}),
            serde_json::json!({"kind": "lock"}),
            serde_json::json!({"kind": "revoke_session", "user_id": 2}),
        ] {
            assert!(
                serde_json::from_value::<StaffAction>(wrong.clone()).is_err(),
                "{wrong}"
            );
        }
    }

    #[test]
    fn filters_are_the_selects_values() {
        for (text, filter) in [
            ("all", UserFilter::All),
            ("active", UserFilter::Active),
            ("inactive", UserFilter::Inactive),
            ("locked", UserFilter::Locked),
            ("staff", UserFilter::Staff),
        ] {
            assert_eq!(
                serde_json::from_value::<UserFilter>(text.into()).unwrap(),
                filter
            );
        }
        assert!(serde_json::from_value::<UserFilter>("admins".into()).is_err());
    }
}
