//! The staff console's commands, over [`warden_desktop::staff`] and
//! [`warden_desktop::export`].

use tauri::AppHandle;
use warden_client::{AuditRecord, StaffUser};
use warden_desktop::Result;
use warden_desktop::export::{self, ExportFormat, Exported};
use warden_desktop::staff::{self, AuditFilter, LineageView, StaffAction, UserFilter, UserView};

use crate::core::TauriHost;

#[tauri::command]
pub async fn staff_users(
    app: AppHandle,
    q: Option<String>,
    filter: Option<UserFilter>,
) -> Result<Vec<StaffUser>> {
    staff::users(&TauriHost(app), q.as_deref(), filter.unwrap_or_default()).await
}

#[tauri::command]
pub async fn staff_user(app: AppHandle, id: i64) -> Result<UserView> {
    staff::user(&TauriHost(app), id).await
}

#[tauri::command]
pub async fn staff_lineage(app: AppHandle, session_id: String) -> Result<LineageView> {
    staff::lineage(&TauriHost(app), &session_id).await
}

/// One staff action; every one carries the reason that goes to the audit log.
#[tauri::command]
pub async fn staff_action(app: AppHandle, action: StaffAction, reason: String) -> Result<String> {
    staff::act(&TauriHost(app), &action, &reason).await
}

#[tauri::command]
pub async fn staff_audit(app: AppHandle, filter: AuditFilter) -> Result<Vec<AuditRecord>> {
    staff::audit(&TauriHost(app), &filter).await
}

/// Writes the filtered audit log to the Downloads folder (or the data
/// directory when there is none) as JSON Lines or CSV, 0600.
#[tauri::command]
pub async fn export_audit(
    app: AppHandle,
    format: ExportFormat,
    filter: AuditFilter,
) -> Result<Exported> {
    export::export(&TauriHost(app), format, &filter).await
}
