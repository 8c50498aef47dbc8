//! The window's commands: each a few lines over Core and the SessionManager.

use serde::Serialize;
use tauri::{AppHandle, State};
use warden_client::{Exchange, SessionInfo, VaultStatus};

use crate::core::{Core, StateView, view};
use crate::errors::CmdResult;
use crate::remote::RemoteServer;

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub server_url: String,
    pub embedded: bool,
    pub embedded_url: String,
    pub first_run: bool,
    pub keyring: VaultStatus,
    pub signing_keys: String,
    pub version: &'static str,
    /// The remote server of the current (or last) session, to prefill the form.
    pub remote: Option<RemoteServer>,
}

#[tauri::command]
pub async fn app_info(app: AppHandle, core: State<'_, Core>) -> CmdResult<AppInfo> {
    let started = core.started(&app).await?;
    let (m, embedded) = core.manager(&app).await?;
    Ok(AppInfo {
        server_url: m.server_key().to_string(),
        embedded,
        embedded_url: started.url,
        first_run: core.first_run().await,
        keyring: m.vault_status().await,
        signing_keys: started.key_store,
        version: env!("CARGO_PKG_VERSION"),
        remote: core.remote().await,
    })
}

/// What `create_account` answers: the new session, and whether the account
/// owns this computer's server (the first one does: it is staff).
#[derive(Debug, Serialize)]
pub struct AccountCreated {
    pub owner: bool,
    pub session: StateView,
}

/// Creates a local account on the embedded server, in-process (registration
/// over HTTP is closed there), and signs in over HTTP as usual.
#[tauri::command]
pub async fn create_account(
    app: AppHandle,
    core: State<'_, Core>,
    username: String,
    password: String,
) -> CmdResult<AccountCreated> {
    core.started(&app).await?;
    let owner = core.create_account(&username, &password).await?;
    let session = sign_in(app, core, username, password, None).await?;
    Ok(AccountCreated { owner, session })
}

/// The signed-in account as the server sees it (`GET api/me/`): the window
/// shows the staff console when the server says `is_staff`.
#[tauri::command]
pub async fn my_account(app: AppHandle, core: State<'_, Core>) -> CmdResult<warden_client::Me> {
    let (m, _) = core.manager(&app).await?;
    Ok(m.me().await?)
}

#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    core: State<'_, Core>,
    username: String,
    password: String,
    remote: Option<RemoteServer>,
) -> CmdResult<StateView> {
    let remote = match remote {
        Some(r) => r.normalized()?,
        None => None,
    };
    let m = core.manager_for(&app, remote.as_ref()).await?;
    let state = m.login(&username, &password).await?;
    core.remember(&username, remote.as_ref());
    Ok(view(state, remote.is_none()))
}

/// What the server says about the access token: `GET` the account route
/// (`api/me/`, or the form's account path) with it.
#[derive(Debug, Serialize)]
pub struct AccessCheck {
    pub id: i64,
    pub username: String,
    pub path: String,
}

#[tauri::command]
pub async fn check_access(app: AppHandle, core: State<'_, Core>) -> CmdResult<AccessCheck> {
    let (m, _) = core.manager(&app).await?;
    let me = m.me().await?;
    Ok(AccessCheck {
        id: me.id,
        username: me.username,
        path: m.client().config().paths.me.clone(),
    })
}

#[tauri::command]
pub async fn session_state(app: AppHandle, core: State<'_, Core>) -> CmdResult<StateView> {
    let (m, embedded) = core.manager(&app).await?;
    Ok(view(m.state(), embedded))
}

#[tauri::command]
pub async fn rotate_now(app: AppHandle, core: State<'_, Core>) -> CmdResult<StateView> {
    let (m, embedded) = core.manager(&app).await?;
    m.rotate_now().await?;
    Ok(view(m.state(), embedded))
}

#[tauri::command]
pub async fn log_out(app: AppHandle, core: State<'_, Core>) -> CmdResult<()> {
    let (m, _) = core.manager(&app).await?;
    core.forget();
    Ok(m.logout().await?)
}

#[tauri::command]
pub async fn log_out_everywhere(app: AppHandle, core: State<'_, Core>) -> CmdResult<usize> {
    let (m, _) = core.manager(&app).await?;
    core.forget();
    Ok(m.logout_all().await?)
}

#[tauri::command]
pub async fn sessions(app: AppHandle, core: State<'_, Core>) -> CmdResult<Vec<SessionInfo>> {
    Ok(core.manager(&app).await?.0.sessions().await?)
}

#[tauri::command]
pub async fn revoke_session(app: AppHandle, core: State<'_, Core>, id: String) -> CmdResult<bool> {
    Ok(core.manager(&app).await?.0.revoke_session(&id).await?)
}

#[tauri::command]
pub async fn timeline(app: AppHandle, core: State<'_, Core>) -> CmdResult<Vec<Exchange>> {
    Ok(core.manager(&app).await?.0.timeline())
}
