//! The app's state: the embedded backend and the active SessionManager, and
//! the [`Host`] warden-desktop's operations run on. Everything here is async
//! and off the GUI thread; keyring calls go through the client's vault (its
//! own threads, 5 s timeouts).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tauri::{AppHandle, Emitter as _, Manager as _};
use tokio::sync::{OnceCell, RwLock, broadcast};
use warden_auth::AuthService;
use warden_client::{Event, KeyringVault, ManagerConfig, Phase, SessionManager};
use warden_desktop::session::{self, AppInfo, Server, StateView};
use warden_desktop::{Error, Host, RemoteServer, Result, Session, remembered};
use warden_embedded::{EmbeddedBackend, EmbeddedConfig};

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
    started: OnceCell<Result<Started>>,
    backend: tokio::sync::Mutex<Option<EmbeddedBackend>>,
    active: RwLock<Option<Active>>,
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
    pub async fn started(&self, app: &AppHandle) -> Result<Started> {
        match self.started.get_or_init(|| self.start(app)).await {
            Ok(started) => Ok(started.clone()),
            Err(e) => Err(e.repeated()),
        }
    }

    async fn start(&self, app: &AppHandle) -> Result<Started> {
        let settings = warden_auth::Settings::load(None, std::env::vars())
            .map_err(|e| Error::Settings(e.to_string()))?;
        let config = EmbeddedConfig {
            settings,
            ..EmbeddedConfig::new(&self.data_dir)
        };
        let backend = EmbeddedBackend::start(config)
            .await
            .map_err(|e| Error::Embedded(format!("The local server did not start: {e}")))?;
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
    ) -> Result<Arc<SessionManager>> {
        let server = match remote {
            Some(r) => Server::Remote(r),
            None => Server::Embedded {
                url: &started.url,
                vault_key: &started.vault_key,
            },
        };
        let manager = Arc::new(session::session_manager(
            server,
            Arc::new(KeyringVault::new()),
            ManagerConfig::default(),
        )?);
        let forward = forward(app.clone(), manager.subscribe(), remote.is_none());
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

    pub async fn session(&self, app: &AppHandle) -> Result<Session> {
        self.started(app).await?;
        self.active
            .read()
            .await
            .as_ref()
            .map(|a| Session {
                manager: Arc::clone(&a.manager),
                embedded: a.remote.is_none(),
            })
            .ok_or(Error::NotStarted("The app is still starting."))
    }

    /// Signs in on the embedded server (`remote: None`) or a remote one, with
    /// the current manager when it talks to that server and nobody is signed
    /// in there, else a fresh one; remembers who, for the next start.
    pub async fn sign_in(
        &self,
        app: &AppHandle,
        username: &str,
        password: &str,
        remote: Option<RemoteServer>,
    ) -> Result<StateView> {
        let remote = match remote {
            Some(r) => r.normalized()?,
            None => None,
        };
        let started = self.started(app).await?;
        let current = self.session(app).await?.manager;
        let same = self.remote().await == remote;
        let m = if same && matches!(current.state().phase, Phase::SignedOut { .. }) {
            current
        } else {
            self.install(app, &started, remote.as_ref()).await?
        };
        let state = m.login(username, password).await?;
        remembered::save(
            &self.data_dir,
            &remembered::Remembered {
                user: username.to_string(),
                server_url: None,
                remote: remote.clone(),
            },
        );
        Ok(StateView::new(state, remote.is_none()))
    }

    /// The remote server the current manager talks to (`None`: embedded).
    pub async fn remote(&self) -> Option<RemoteServer> {
        self.active
            .read()
            .await
            .as_ref()
            .and_then(|a| a.remote.clone())
    }

    pub fn forget(&self) {
        remembered::forget(&self.data_dir);
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub async fn app_info(&self, app: &AppHandle) -> Result<AppInfo> {
        let started = self.started(app).await?;
        let s = self.session(app).await?;
        Ok(AppInfo {
            server_url: s.manager.server_key().to_string(),
            embedded: s.embedded,
            embedded_url: started.url,
            first_run: self.first_run().await,
            keyring: s.manager.vault_status().await,
            signing_keys: started.key_store,
            version: env!("CARGO_PKG_VERSION"),
            remote: self.remote().await,
        })
    }

    /// The embedded server's engine, while it runs.
    pub async fn embedded_service(&self) -> Option<Arc<AuthService>> {
        self.backend
            .lock()
            .await
            .as_ref()
            .map(|b| Arc::clone(b.service()))
    }

    /// Creates a local account on the embedded backend, in-process (see
    /// [`EmbeddedBackend::create_account`]); `Ok(true)`: it owns the server.
    pub async fn create_account(&self, username: &str, password: &str) -> Result<bool> {
        match self.backend.lock().await.as_ref() {
            Some(b) => b
                .create_account(username, password)
                .await
                .map(|(_, owner)| owner)
                .map_err(Error::account),
            None => Err(Error::NotStarted("The local server is not running.")),
        }
    }

    /// The developer tools' switch: the embedded server refuses connections
    /// while offline. `Ok(None)` when there is no embedded server.
    pub async fn set_embedded_online(&self, online: bool) -> Result<Option<bool>> {
        match self.backend.lock().await.as_mut() {
            Some(b) => {
                b.set_online(online)
                    .await
                    .map_err(|e| Error::Embedded(e.to_string()))?;
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

/// The app as warden-desktop's operations see it: found from the handle
/// each command gets.
pub struct TauriHost(pub AppHandle);

impl TauriHost {
    fn core(&self) -> &Core {
        self.0.state::<Core>().inner()
    }
}

impl Host for TauriHost {
    async fn session(&self) -> Result<Session> {
        self.core().session(&self.0).await
    }

    async fn embedded_service(&self) -> Option<Arc<AuthService>> {
        self.core().embedded_service().await
    }

    async fn set_embedded_online(&self, online: bool) -> Result<Option<bool>> {
        self.core().set_embedded_online(online).await
    }

    fn export_dir(&self) -> PathBuf {
        warden_desktop::export::default_dir(self.core().data_dir())
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
                    app.emit("session-changed", StateView::new(*state, embedded))
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
