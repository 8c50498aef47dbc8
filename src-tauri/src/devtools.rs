//! Developer tools' commands: the token inspector, the timeline's detail and
//! the fault lab, over [`warden_desktop::inspector`] and [`warden_desktop::lab`].

use tauri::AppHandle;
use warden_auth::inspect::Inspection;
use warden_desktop::Result;
use warden_desktop::inspector::{self, ProviderCheck, ProviderToken, TokenInput, VerifyInput};
use warden_desktop::lab::{self, ExchangeDetail, LabStep};

use crate::core::TauriHost;

#[tauri::command]
pub async fn inspect_token(
    app: AppHandle,
    token: TokenInput,
    verify: VerifyInput,
) -> Result<Inspection> {
    inspector::inspect(&TauriHost(app), token, verify).await
}

/// An OpenID profile's ID or access token checked against its provider's JWKS.
#[tauri::command]
pub async fn inspect_with_provider(app: AppHandle, token: ProviderToken) -> Result<ProviderCheck> {
    inspector::inspect_openid(&TauriHost(app), token).await
}

#[tauri::command]
pub async fn lab_replay_previous(app: AppHandle) -> Result<Vec<LabStep>> {
    lab::replay_previous(&TauriHost(app)).await
}

#[tauri::command]
pub async fn lab_concurrent_refresh(app: AppHandle, n: usize) -> Result<Vec<LabStep>> {
    lab::concurrent_refresh(&TauriHost(app), n).await
}

#[tauri::command]
pub async fn lab_server_online(app: AppHandle, online: bool) -> Result<bool> {
    lab::server_online(&TauriHost(app), online).await
}

#[tauri::command]
pub async fn lab_clock_skew(app: AppHandle, secs: f64) -> Result<Vec<LabStep>> {
    lab::clock_skew(&TauriHost(app), secs).await
}

#[tauri::command]
pub async fn exchange_detail(app: AppHandle, at: i64, reveal: bool) -> Result<ExchangeDetail> {
    lab::exchange_detail(&TauriHost(app), at, reveal).await
}
