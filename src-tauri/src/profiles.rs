//! The window's profile commands: the switcher, add / rename / remove, and
//! each profile's activity (hand-outs, revocations) for its timeline. Each is
//! a few lines over warden-desktop's [`ProfileSet`](warden_desktop::ProfileSet).

use tauri::{AppHandle, State};
use warden_desktop::Result;
use warden_desktop::profiles::{Activity, ProfileId, ProfileView, RevocationOutcome, ServerKind};

use crate::core::Core;

/// Every profile with its session and pending revocations, in order.
#[tauri::command]
pub async fn profiles(app: AppHandle, core: State<'_, Core>) -> Result<Vec<ProfileView>> {
    Ok(core.profiles(&app).await?.views())
}

/// Shows profile `id` (the window, the tray and `warden token` without a
/// name follow it).
#[tauri::command]
pub async fn switch_profile(app: AppHandle, core: State<'_, Core>, id: ProfileId) -> Result<()> {
    core.profiles(&app).await?.set_active(&id)
}

#[tauri::command]
pub async fn rename_profile(
    app: AppHandle,
    core: State<'_, Core>,
    id: ProfileId,
    name: String,
) -> Result<()> {
    core.profiles(&app).await?.rename(&id, &name)
}

/// Logs the profile out (now, or from the outbox later) and forgets it.
#[tauri::command]
pub async fn remove_profile(
    app: AppHandle,
    core: State<'_, Core>,
    id: ProfileId,
) -> Result<RevocationOutcome> {
    core.profiles(&app).await?.remove(&id).await
}

/// Signs in to `server` in a new profile (named `name`, or `user @ server`),
/// which becomes the one shown. `server` is a [`ServerKind`]: the form
/// picks the kind, so a new kind of server is one more option there.
#[tauri::command]
pub async fn add_profile(
    app: AppHandle,
    core: State<'_, Core>,
    server: ServerKind,
    username: String,
    password: String,
    name: Option<String>,
) -> Result<ProfileId> {
    let server = match server {
        ServerKind::Remote(r) => r
            .normalized()?
            .map_or(ServerKind::Embedded, ServerKind::Remote),
        other => other,
    };
    let name = name.filter(|n| !n.trim().is_empty());
    core.profiles(&app)
        .await?
        .sign_in_new(server, &username, &password, name.as_deref())
        .await
}

/// The active profile's hand-outs and revocations, oldest first.
#[tauri::command]
pub async fn activity(app: AppHandle, core: State<'_, Core>) -> Result<Vec<Activity>> {
    let set = core.profiles(&app).await?;
    Ok(set.active().map(|id| set.activity(&id)).unwrap_or_default())
}
