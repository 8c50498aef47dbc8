//! The session as the window sees it, and the session manager the app
//! builds for a server.

use std::sync::Arc;

use serde::Serialize;
use warden_client::{
    Client, ClientConfig, ManagerConfig, Phase, SessionManager, SessionState, Vault, VaultStatus,
};

use crate::error::{Result, reason_words};
use crate::remote::RemoteServer;
use crate::vault::StableKeyVault;

/// The session as the window renders it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StateView {
    /// The session manager's state, flattened into the view.
    #[serde(flatten)]
    pub state: SessionState,
    /// Signed in to this computer's embedded server.
    pub embedded: bool,
    /// Why the session ended, in the user's words (signed out only).
    pub signed_out_message: Option<String>,
    /// Seconds the fault lab has skewed this app's clock by: the window adds
    /// it to its own clock, so it shows what the session manager sees.
    pub clock_skew_s: f64,
}

impl StateView {
    /// `state` with the words and the clock skew the window shows beside it.
    pub fn new(state: SessionState, embedded: bool) -> StateView {
        let signed_out_message = match &state.phase {
            Phase::SignedOut { reason: Some(r) } => Some(reason_words(r)),
            _ => None,
        };
        StateView {
            state,
            embedded,
            signed_out_message,
            clock_skew_s: warden_client::simulated_clock_skew(),
        }
    }

    /// The manager's state now.
    pub fn of(session: &crate::Session) -> StateView {
        StateView::new(session.manager.state(), session.embedded)
    }
}

/// What the window's top bar and sign-in form start from.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppInfo {
    /// The current session's server (its vault key, for the embedded one).
    pub server_url: String,
    /// The current session is with the embedded server.
    pub embedded: bool,
    /// Where the embedded server listens.
    pub embedded_url: String,
    /// The embedded server has no account yet: the window offers to create the owner.
    pub first_run: bool,
    /// Whether the OS keyring can keep refresh tokens.
    pub keyring: VaultStatus,
    /// Where the embedded server's signing keys are kept, in words.
    pub signing_keys: String,
    /// The app's version.
    pub version: &'static str,
    /// The remote server of the current (or last) session, to prefill the form.
    pub remote: Option<RemoteServer>,
}

/// What creating a local account answers: the new session, and whether the
/// account owns this computer's server (the first one does: it is staff).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountCreated {
    /// The account is the server's first, hence staff.
    pub owner: bool,
    /// The session it was signed in to.
    pub session: StateView,
}

/// What the server says about the access token: `GET` the account route
/// (`api/me/`, or the form's account path) with it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccessCheck {
    /// The user's id (`None` from an OpenID provider, whose subject is a string).
    pub id: Option<i64>,
    /// The user's name.
    pub username: String,
    /// The route asked.
    pub path: String,
}

/// Asks the server who the session's access token belongs to.
pub async fn check_access(manager: &SessionManager) -> Result<AccessCheck> {
    // An OpenID provider: its userinfo endpoint.
    if let Some(answer) = manager.provider_identity().await {
        let (username, path) = answer?;
        return Ok(AccessCheck {
            id: None,
            username,
            path,
        });
    }
    let me = manager.me().await?;
    Ok(AccessCheck {
        id: Some(me.id),
        username: me.username,
        path: manager.client().config().paths.me.clone(),
    })
}

/// The server a session manager is for.
#[derive(Debug, Clone, Copy)]
pub enum Server<'a> {
    /// This computer's embedded server at `url`. Its port changes every run,
    /// so its refresh tokens are filed under `vault_key` instead of the URL.
    Embedded {
        /// Where it listens this run.
        url: &'a str,
        /// The stable name its refresh tokens are filed under.
        vault_key: &'a str,
    },
    /// A server elsewhere, as the sign-in form describes it.
    Remote(&'a RemoteServer),
}

/// A session manager for `server`, keeping refresh tokens in `keyring`.
/// The embedded server is reached directly; a remote one through the
/// system's proxy settings, as a browser would.
pub fn session_manager(
    server: Server<'_>,
    keyring: Arc<dyn Vault>,
    config: ManagerConfig,
) -> Result<SessionManager> {
    let (mut client, vault): (ClientConfig, Arc<dyn Vault>) = match server {
        Server::Embedded { url, vault_key } => (
            ClientConfig::new(url),
            Arc::new(StableKeyVault {
                inner: keyring,
                key: vault_key.to_string(),
            }),
        ),
        Server::Remote(remote) => (remote.client_config(), keyring),
    };
    client.device_label = Some(device_label());
    client.use_system_proxy = matches!(server, Server::Remote(_));
    Ok(SessionManager::new(Client::new(client)?, vault, config))
}

/// The session's name in the sessions list: visible ASCII only.
pub(crate) fn device_label() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect();
    if host.is_empty() {
        "Warden desktop".into()
    } else {
        format!("Warden desktop on {host}")
    }
}
