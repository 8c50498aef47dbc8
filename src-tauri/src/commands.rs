//! The window's session commands: each a few lines over Core and the
//! SessionManager.

use tauri::{AppHandle, State};
use warden_client::{Exchange, Me, SessionInfo};
use warden_desktop::session::{self, AccessCheck, AccountCreated, AppInfo, StateView};
use warden_desktop::{RemoteServer, Result};

use crate::core::Core;

#[tauri::command]
pub async fn app_info(app: AppHandle, core: State<'_, Core>) -> Result<AppInfo> {
    core.app_info(&app).await
}

/// Creates a local account on the embedded server, in-process (registration
/// over HTTP is closed there), and signs in over HTTP as usual.
#[tauri::command]
pub async fn create_account(
    app: AppHandle,
    core: State<'_, Core>,
    username: String,
    password: String,
) -> Result<AccountCreated> {
    core.started(&app).await?;
    let owner = core.create_account(&username, &password).await?;
    let session = core.sign_in(&app, &username, &password, None).await?;
    Ok(AccountCreated { owner, session })
}

/// The signed-in account as the server sees it (`GET api/me/`): the window
/// shows the staff console when the server says `is_staff`.
#[tauri::command]
pub async fn my_account(app: AppHandle, core: State<'_, Core>) -> Result<Me> {
    Ok(core.session(&app).await?.manager.me().await?)
}

#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    core: State<'_, Core>,
    username: String,
    password: String,
    remote: Option<RemoteServer>,
) -> Result<StateView> {
    core.sign_in(&app, &username, &password, remote).await
}

/// "Add an OpenID provider": issuer URL, client id, a confidential
/// client's secret (to the profile's keyring entry; empty: a public client)
/// and how it is sent (automatic, HTTP Basic, in the form), scopes besides
/// `openid offline_access`, an RFC 8707 resource, DPoP when the provider
/// offers it.
#[tauri::command]
#[allow(
    clippy::too_many_arguments,
    reason = "the form's fields as the window names them, beside the injected app and state"
)]
pub async fn add_openid_provider(
    app: AppHandle,
    core: State<'_, Core>,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Vec<String>,
    dpop: bool,
    client_auth: Option<warden_desktop::openid::ClientAuthChoice>,
    resource: Option<String>,
) -> Result<StateView> {
    let client_secret = client_secret
        .filter(|s| !s.is_empty())
        .map(warden_client::Secret::new);
    let server = warden_desktop::openid::OpenIdServer {
        issuer: issuer.trim().trim_end_matches('/').to_string(),
        client_id: client_id.trim().to_string(),
        confidential: client_secret.is_some(),
        client_auth: client_auth.unwrap_or_default(),
        resource: resource
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        scopes: scopes
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        dpop,
    };
    core.sign_in_openid(&app, server, client_secret).await
}

#[tauri::command]
pub async fn check_access(app: AppHandle, core: State<'_, Core>) -> Result<AccessCheck> {
    session::check_access(&core.session(&app).await?.manager).await
}

#[tauri::command]
pub async fn session_state(app: AppHandle, core: State<'_, Core>) -> Result<StateView> {
    Ok(StateView::of(&core.session(&app).await?))
}

/// `seen`: the token the window showed (see `SessionManager::rotate_now_from`);
/// without it (the fault lab) the session rotates whatever happened meanwhile.
#[tauri::command]
pub async fn rotate_now(
    app: AppHandle,
    core: State<'_, Core>,
    seen: Option<String>,
) -> Result<StateView> {
    let s = core.session(&app).await?;
    match seen {
        Some(seen) => s.manager.rotate_now_from(&seen).await?,
        None => s.manager.rotate_now().await?,
    }
    Ok(StateView::of(&s))
}

/// Signed out at once; the server is told now or, when it cannot be
/// reached, from the outbox later (the error then says so).
#[tauri::command]
pub async fn log_out(app: AppHandle, core: State<'_, Core>) -> Result<()> {
    let Some(id) = core.profiles(&app).await?.active() else {
        return Ok(());
    };
    core.profiles(&app)
        .await?
        .logout(&id)
        .await?
        .revoked()
        .map(drop)
}

#[tauri::command]
pub async fn log_out_everywhere(app: AppHandle, core: State<'_, Core>) -> Result<usize> {
    let (set, id) = core.active(&app).await?;
    Ok(set.logout_all(&id).await?.revoked()?.unwrap_or(0))
}

#[tauri::command]
pub async fn sessions(app: AppHandle, core: State<'_, Core>) -> Result<Vec<SessionInfo>> {
    Ok(core.session(&app).await?.manager.sessions().await?)
}

#[tauri::command]
pub async fn revoke_session(app: AppHandle, core: State<'_, Core>, id: String) -> Result<bool> {
    let (set, profile) = core.active(&app).await?;
    let revoked = set.revoke_session(&profile, &id).await?.revoked()?;
    Ok(revoked.is_none_or(|n| n > 0))
}

#[tauri::command]
pub async fn timeline(app: AppHandle, core: State<'_, Core>) -> Result<Vec<Exchange>> {
    Ok(core.session(&app).await?.manager.timeline())
}
