//! The app's state: the embedded backend and the active SessionManager.
//! Everything here is async and off the GUI thread; keyring calls go
//! through the client's vault (its own threads, 5 s timeouts).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use tauri::{AppHandle, Emitter as _};
use tokio::sync::{OnceCell, RwLock, broadcast};
use warden_client::{
    Client, ClientConfig, Event, KeyringVault, ManagerConfig, Phase, SessionManager, SessionState,
    Vault,
};
use warden_embedded::{EmbeddedBackend, EmbeddedConfig};

use crate::errors::{CmdResult, CommandError, account_error, reason_words};
use crate::remembered;
use crate::remote::RemoteServer;
use crate::vault::StableKeyVault;

/// `WARDEN_APP_DATA_DIR`, else the platform data directory (`~/.local/share/warden`).
pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WARDEN_APP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("dev", "warden", "warden")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("no home directory; set WARDEN_APP_DATA_DIR"))
}

/// What the embedded backend looks like from the window.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub key_store: String,
    pub vault_key: String,
}

struct Active {
    manager: Arc<SessionManager>,
    /// `None`: the embedded backend.
    remote: Option<RemoteServer>,
    forward: tauri::async_runtime::JoinHandle<()>,
}

pub struct Core {
    data_dir: PathBuf,
    started: OnceCell<Result<Started, CommandError>>,
    backend: tokio::sync::Mutex<Option<EmbeddedBackend>>,
    active: RwLock<Option<Active>>,
}

/// The session as the window renders it.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    #[serde(flatten)]
    pub state: SessionState,
    pub embedded: bool,
    /// Why the session ended, in the user's words (signed out only).
    pub signed_out_message: Option<String>,
    /// Seconds the fault lab has skewed this app's clock by: the window adds
    /// it to its own clock, so it shows what the session manager sees.
    pub clock_skew_s: f64,
}

impl Core {
    pub fn new(data_dir: PathBuf) -> Core {
        Core {
            data_dir,
            started: OnceCell::new(),
            backend: tokio::sync::Mutex::new(None),
            active: RwLock::new(None),
        }
    }

    /// Starts the backend once (every caller waits for the same start) and
    /// restores the last session.
    pub async fn started(&self, app: &AppHandle) -> CmdResult<Started> {
        self.started.get_or_init(|| self.start(app)).await.clone()
    }

    async fn start(&self, app: &AppHandle) -> Result<Started, CommandError> {
        let settings = warden_auth::Settings::load(None, std::env::vars())
            .map_err(|e| CommandError::new("settings", format!("Invalid WARDEN_* setting: {e}")))?;
        let config = EmbeddedConfig {
            settings,
            ..EmbeddedConfig::new(&self.data_dir)
        };
        let backend = EmbeddedBackend::start(config).await.map_err(|e| {
            CommandError::new("embedded", format!("The local server did not start: {e}"))
        })?;
        let started = Started {
            url: backend.base_url(),
            key_store: backend.key_store_kind().describe(),
            vault_key: format!("warden-embedded:{}", backend.database().display()),
        };
        *self.backend.lock().await = Some(backend);
        let remembered = remembered::load(&self.data_dir);
        let server = remembered.as_ref().and_then(|r| r.server());
        let manager = self.install(app, &started, server.as_ref()).await?;
        if let Some(r) = remembered
            && let Err(e) = manager.restore(&r.user).await
        {
            tracing::info!(code = e.code(), "the last session could not be restored");
        }
        Ok(started)
    }

    /// A new SessionManager for the embedded backend (`remote: None`) or a
    /// remote server, replacing (and stopping) the previous one.
    async fn install(
        &self,
        app: &AppHandle,
        started: &Started,
        remote: Option<&RemoteServer>,
    ) -> CmdResult<Arc<SessionManager>> {
        let embedded = remote.is_none();
        let mut config = match remote {
            Some(r) => r.client_config(),
            None => ClientConfig::new(started.url.clone()),
        };
        config.device_label = Some(device_label());
        config.use_system_proxy = !embedded;
        let client = Client::new(config)?;
        let keyring: Arc<dyn Vault> = Arc::new(KeyringVault::new());
        let vault: Arc<dyn Vault> = if embedded {
            Arc::new(StableKeyVault {
                inner: keyring,
                key: started.vault_key.clone(),
            })
        } else {
            keyring
        };
        let manager = Arc::new(SessionManager::new(client, vault, ManagerConfig::default()));
        let forward = forward(app.clone(), manager.subscribe(), embedded);
        let old = self.active.write().await.replace(Active {
            manager: Arc::clone(&manager),
            remote: remote.cloned(),
            forward,
        });
        if let Some(old) = old {
            old.manager.shutdown();
            old.forward.abort();
        }
        Ok(manager)
    }

    pub async fn manager(&self, app: &AppHandle) -> CmdResult<(Arc<SessionManager>, bool)> {
        self.started(app).await?;
        self.active
            .read()
            .await
            .as_ref()
            .map(|a| (Arc::clone(&a.manager), a.remote.is_none()))
            .ok_or_else(|| CommandError::new("not_started", "The app is still starting."))
    }

    /// The manager to sign in with: the current one when it talks to the
    /// right server and nobody is signed in there, else a fresh one.
    pub async fn manager_for(
        &self,
        app: &AppHandle,
        remote: Option<&RemoteServer>,
    ) -> CmdResult<Arc<SessionManager>> {
        let started = self.started(app).await?;
        let (current, _) = self.manager(app).await?;
        let same = self.remote().await.as_ref() == remote;
        if same && matches!(current.state().phase, Phase::SignedOut { .. }) {
            return Ok(current);
        }
        self.install(app, &started, remote).await
    }

    /// The remote server the current manager talks to (`None`: embedded).
    pub async fn remote(&self) -> Option<RemoteServer> {
        self.active
            .read()
            .await
            .as_ref()
            .and_then(|a| a.remote.clone())
    }

    pub fn remember(&self, user: &str, remote: Option<&RemoteServer>) {
        remembered::save(
            &self.data_dir,
            &remembered::Remembered {
                user: user.to_string(),
                server_url: None,
                remote: remote.cloned(),
            },
        );
    }

    pub fn forget(&self) {
        remembered::forget(&self.data_dir);
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The embedded server's engine, while it runs.
    pub async fn embedded_service(&self) -> Option<Arc<warden_auth::AuthService>> {
        self.backend
            .lock()
            .await
            .as_ref()
            .map(|b| Arc::clone(b.service()))
    }

    /// Creates a local account on the embedded backend, in-process (see
    /// [`EmbeddedBackend::create_account`]); `Ok(true)`: it owns the server.
    pub async fn create_account(&self, username: &str, password: &str) -> CmdResult<bool> {
        match self.backend.lock().await.as_ref() {
            Some(b) => b
                .create_account(username, password)
                .await
                .map(|(_, owner)| owner)
                .map_err(account_error),
            None => Err(CommandError::new(
                "not_started",
                "The local server is not running.",
            )),
        }
    }

    /// The developer tools' switch: the embedded server refuses connections
    /// while offline. `Ok(None)` when there is no embedded server.
    pub async fn set_embedded_online(&self, online: bool) -> CmdResult<Option<bool>> {
        match self.backend.lock().await.as_mut() {
            Some(b) => {
                b.set_online(online)
                    .await
                    .map_err(|e| CommandError::new("embedded", e.to_string()))?;
                Ok(Some(b.is_online()))
            }
            None => Ok(None),
        }
    }

    pub async fn first_run(&self) -> bool {
        match self.backend.lock().await.as_ref() {
            Some(b) => !b.has_users().await.unwrap_or(true),
            None => false,
        }
    }

    pub async fn shutdown(&self) {
        if let Some(active) = self.active.write().await.take() {
            active.manager.shutdown();
            active.forward.abort();
        }
        if let Some(backend) = self.backend.lock().await.take() {
            backend.shutdown().await;
        }
    }
}

pub fn view(state: SessionState, embedded: bool) -> StateView {
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

/// The session's name in the sessions list: visible ASCII only.
fn device_label() -> String {
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

/// Sends the manager's events to the window until the manager goes.
fn forward(
    app: AppHandle,
    mut rx: broadcast::Receiver<Event>,
    embedded: bool,
) -> tauri::async_runtime::JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        loop {
            let sent = match rx.recv().await {
                Ok(Event::StateChanged(state)) => {
                    app.emit("session-changed", view(*state, embedded))
                }
                Ok(Event::Exchange(exchange)) => app.emit("exchange", exchange),
                Ok(other) => app.emit("session-note", other),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot send an event to the window");
            }
        }
    })
}
