//! The staff console's commands. The server decides who is staff: every call
//! goes to `api/staff/…` with the signed-in user's access token, and a 403
//! comes back as "not staff" whatever the window shows.

use serde::Serialize;
use tauri::{AppHandle, State};
use warden_client::{
    AuditRecord, AuditSearch, Lineage, SessionInfo, StaffUser, StaffUserDetail, UserSearch,
};

use crate::core::Core;
use crate::errors::{CmdResult, CommandError};

#[tauri::command]
pub async fn staff_users(
    app: AppHandle,
    core: State<'_, Core>,
    q: Option<String>,
    filter: Option<String>,
) -> CmdResult<Vec<StaffUser>> {
    let (m, _) = core.manager(&app).await?;
    let mut search = UserSearch {
        q: q.map(|q| q.trim().to_string()).filter(|q| !q.is_empty()),
        limit: Some(200),
        ..UserSearch::default()
    };
    match filter.as_deref().unwrap_or("all") {
        "all" => {}
        "active" => search.active = Some(true),
        "inactive" => search.active = Some(false),
        "locked" => search.locked = Some(true),
        "staff" => search.staff = Some(true),
        other => {
            return Err(CommandError::new(
                "invalid_filter",
                format!("Unknown filter {other:?}."),
            ));
        }
    }
    Ok(m.authorized(|client, token| {
        let search = search.clone();
        async move { client.staff_users(&token, &search).await }
    })
    .await?)
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub detail: StaffUserDetail,
    pub sessions: Vec<SessionInfo>,
}

#[tauri::command]
pub async fn staff_user(app: AppHandle, core: State<'_, Core>, id: i64) -> CmdResult<UserView> {
    let (m, _) = core.manager(&app).await?;
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
pub struct LineageView {
    pub lineage: Lineage,
    pub events: Vec<AuditRecord>,
}

#[tauri::command]
pub async fn staff_lineage(
    app: AppHandle,
    core: State<'_, Core>,
    session_id: String,
) -> CmdResult<LineageView> {
    let (m, _) = core.manager(&app).await?;
    let lineage = m
        .authorized(|client, token| {
            let sid = session_id.clone();
            async move { client.staff_session(&token, &sid).await }
        })
        .await?;
    let search = AuditSearch {
        session: Some(session_id.clone()),
        limit: Some(500),
        ..AuditSearch::default()
    };
    let events = m
        .authorized(|client, token| {
            let search = search.clone();
            async move { client.staff_audit(&token, &search).await }
        })
        .await?;
    Ok(LineageView { lineage, events })
}

/// One staff action; every one carries the reason that goes to the audit log.
#[tauri::command]
#[allow(clippy::too_many_arguments)]
pub async fn staff_action(
    app: AppHandle,
    core: State<'_, Core>,
    action: String,
    reason: String,
    user_id: Option<i64>,
    session_id: Option<String>,
    password: Option<String>,
) -> CmdResult<String> {
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(CommandError::new(
            "reason_required",
            "Say why: the reason goes into the audit log.",
        ));
    }
    let (m, _) = core.manager(&app).await?;
    let need_user =
        || user_id.ok_or_else(|| CommandError::new("invalid", "This action needs a user."));
    let r = reason.as_str();
    let message = match action.as_str() {
        "revoke_session" => {
            let sid = session_id
                .clone()
                .ok_or_else(|| CommandError::new("invalid", "This action needs a session."))?;
            let revoked = m
                .authorized(|c, t| {
                    let sid = sid.clone();
                    async move { c.staff_revoke_session(&t, &sid, r).await }
                })
                .await?;
            if revoked {
                "Session revoked; its access and refresh tokens are refused from now on."
                    .to_string()
            } else {
                "That session had already ended.".to_string()
            }
        }
        "logout_all" => {
            let id = need_user()?;
            let n = m
                .authorized(|c, t| async move { c.staff_logout_user(&t, id, r).await })
                .await?;
            format!(
                "{} revoked; their access tokens are refused from now on.",
                sessions(n)
            )
        }
        "lock" => {
            let id = need_user()?;
            let n = m
                .authorized(|c, t| async move { c.staff_lock_user(&t, id, r, None).await })
                .await?;
            format!("User locked; {} revoked.", sessions(n))
        }
        "unlock" => {
            let id = need_user()?;
            m.authorized(|c, t| async move { c.staff_unlock_user(&t, id, r).await })
                .await?;
            "User unlocked.".to_string()
        }
        "deactivate" => {
            let id = need_user()?;
            let n = m
                .authorized(|c, t| async move { c.staff_deactivate_user(&t, id, r).await })
                .await?;
            format!("User deactivated; {} revoked.", sessions(n))
        }
        "reactivate" => {
            let id = need_user()?;
            m.authorized(|c, t| async move { c.staff_reactivate_user(&t, id, r).await })
                .await?;
            "User reactivated.".to_string()
        }
        "set_password" => {
            let id = need_user()?;
            let password = password.unwrap_or_default();
            if password.is_empty() {
                return Err(CommandError::new("invalid", "Type the temporary password."));
            }
            let pw = password.as_str();
            let n = m
                .authorized(|c, t| async move { c.staff_set_password(&t, id, pw, r).await })
                .await?;
            format!("Temporary password set; {} revoked.", sessions(n))
        }
        other => {
            return Err(CommandError::new(
                "invalid_action",
                format!("Unknown staff action {other:?}."),
            ));
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
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub user: Option<i64>,
    pub kinds: Vec<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<u32>,
}

impl AuditFilter {
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

pub async fn audit_records(
    app: &AppHandle,
    core: &Core,
    filter: &AuditFilter,
) -> CmdResult<Vec<AuditRecord>> {
    let (m, _) = core.manager(app).await?;
    let search = filter.search();
    Ok(m.authorized(|client, token| {
        let search = search.clone();
        async move { client.staff_audit(&token, &search).await }
    })
    .await?)
}

#[tauri::command]
pub async fn staff_audit(
    app: AppHandle,
    core: State<'_, Core>,
    filter: AuditFilter,
) -> CmdResult<Vec<AuditRecord>> {
    audit_records(&app, &core, &filter).await
}

#[derive(Debug, Serialize)]
pub struct Exported {
    pub path: String,
    pub lines: usize,
}

/// Writes the filtered audit log to the Downloads folder (or the data
/// directory when there is none) as JSON Lines or CSV, 0600.
#[tauri::command]
pub async fn export_audit(
    app: AppHandle,
    core: State<'_, Core>,
    format: String,
    filter: AuditFilter,
) -> CmdResult<Exported> {
    let records = audit_records(&app, &core, &filter).await?;
    let (text, ext) = match format.as_str() {
        "jsonl" => (warden_client::export::to_jsonl(&records), "jsonl"),
        "csv" => (warden_client::export::to_csv(&records), "csv"),
        other => {
            return Err(CommandError::new(
                "invalid",
                format!("Unknown format {other:?}."),
            ));
        }
    };
    let dir = std::env::var_os("WARDEN_EXPORT_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            directories::UserDirs::new().and_then(|u| u.download_dir().map(|d| d.to_path_buf()))
        })
        .unwrap_or_else(|| core.data_dir().to_path_buf());
    let stamp = time_stamp();
    let path = dir.join(format!("warden-audit-{stamp}.{ext}"));
    let write = || -> std::io::Result<()> {
        use warden_embedded::keystore::{Replace, write_private_atomic};
        std::fs::create_dir_all(&dir)?;
        write_private_atomic(&path, text.as_bytes(), Replace::Never)
    };
    write().map_err(|e| {
        CommandError::new("export", format!("Cannot write {}: {e}", path.display()))
    })?;
    Ok(Exported {
        path: path.display().to_string(),
        lines: records.len(),
    })
}

/// `20261129-101500-123` (UTC), unique enough for one person's exports.
fn time_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_stamps_are_civil_dates() {
        let s = super::time_stamp();
        assert_eq!(s.len(), "20261129-101500-123".len(), "{s}");
        assert!(s.starts_with("20"), "{s}");
    }
}
