//! What the desktop core needs from the app running it.
//!
//! The operations in this crate (the staff console, the token inspector, the
//! fault lab, the audit export) act on the session the window shows and, for a
//! few, on the app itself: the embedded server's engine and its on/off
//! switch, and the folder exported files go to. `Host` is that handful and
//! nothing more. The desktop app implements it over its Tauri state; the
//! tests implement it over the test kit's real server and a session manager
//! with an in-memory vault, so the same bodies run in both.
//!
//! What stays with the app, deliberately not here: starting the embedded
//! backend, replacing the session manager when the user signs in elsewhere,
//! and forwarding the manager's events to the window (all of which need the
//! window), and the keyring.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use warden_auth::AuthService;
use warden_client::SessionManager;

use crate::error::Result;

/// The session the window shows.
#[derive(Debug, Clone)]
pub struct Session {
    /// Holds and rotates the session's tokens.
    pub manager: Arc<SessionManager>,
    /// It talks to this computer's embedded server (not a remote one).
    pub embedded: bool,
}

/// The window's commands run on Tauri's multi-threaded runtime and hold the
/// host across awaits, so a host is `Sync` and every future it hands out is
/// `Send`: those bounds are the commands' needs, stated once here rather than
/// at each of them.
pub trait Host: Sync {
    /// The active session manager; waits for the app to have started one.
    fn session(&self) -> impl Future<Output = Result<Session>> + Send;

    /// The embedded server's engine, while it runs: its key ring checks
    /// signatures for the inspector, its settings say what it accepts.
    fn embedded_service(&self) -> impl Future<Output = Option<Arc<AuthService>>> + Send;

    /// Takes the embedded server offline (`false`) or brings it back, and
    /// says whether it is online now; `Ok(None)` when there is no embedded
    /// server to switch.
    fn set_embedded_online(
        &self,
        online: bool,
    ) -> impl Future<Output = Result<Option<bool>>> + Send;

    /// Where exported files go (the app: the Downloads folder, see
    /// [`crate::export::default_dir`]).
    fn export_dir(&self) -> PathBuf;
}
