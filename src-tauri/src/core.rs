//! The app's state: the embedded backend, the profiles (one SessionManager
//! each, warden-desktop's [`ProfileSet`]), the instance claim with its
//! broker socket, and the [`Host`] warden-desktop's operations run on (the
//! active profile). Everything here is async and off the GUI thread; keyring
//! calls go through the client's vault (its own threads, 5 s timeouts).

use std::path::Path;
use std::sync::Arc;

use tauri::{AppHandle, Emitter as _, Manager as _};
use tokio::sync::{Mutex, OnceCell, broadcast};
use warden_auth::AuthService;
use warden_client::{Event, KeyringVault, ManagerConfig, MemoryVault, SessionManager, wall_now};
use warden_desktop::alerts::{self, Notifier};
use warden_desktop::broker::BrokerHost;
use warden_desktop::instance::RunningInstance;
use warden_desktop::profiles::{EmbeddedServer, ProfileSetConfig, ProfilesEvent, ServerKind};
use warden_desktop::session::{self, AppInfo, Server, StateView};
use warden_desktop::{AppPaths, Error, Host, ProfileSet, RemoteServer, Result, Session};
use warden_embedded::{EmbeddedBackend, EmbeddedConfig};

use crate::tray::Tray;

/// What the embedded backend looks like from the window.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: String,
    pub key_store: String,
}

pub struct Core {
    paths: AppPaths,
    started: OnceCell<Result<Started>>,
    backend: Mutex<Option<EmbeddedBackend>>,
    profiles: OnceCell<ProfileSet>,
    /// What the window shows while there is no profile (the first run): a
    /// manager for the embedded server that nobody signs in with.
    nobody: OnceCell<Arc<SessionManager>>,
    forward: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// The data directory's claim and the broker's socket.
    instance: Mutex<Option<RunningInstance>>,
}

impl Core {
    pub fn new(paths: AppPaths) -> Core {
        Core {
            paths,
            started: OnceCell::new(),
            backend: Mutex::new(None),
            profiles: OnceCell::new(),
            nobody: OnceCell::new(),
            forward: Mutex::new(None),
            instance: Mutex::new(None),
        }
    }

    /// Keeps the running claim (the socket stays open until shutdown).
    pub async fn hold(&self, instance: RunningInstance) {
        *self.instance.lock().await = Some(instance);
    }

    /// Starts the backend once (every caller waits for the same start) and
    /// opens the profiles, restoring each.
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
            ..EmbeddedConfig::new(&self.paths.data_dir)
        };
        let backend = EmbeddedBackend::start(config)
            .await
            .map_err(|e| Error::Embedded(format!("The local server did not start: {e}")))?;
        let started = Started {
            url: backend.base_url(),
            key_store: backend.key_store_kind().describe(),
        };
        // Sessions of the embedded server were filed under this key before profiles.
        let vault_key = format!("warden-embedded:{}", backend.database().display());
        *self.backend.lock().await = Some(backend);
        let nobody = session::session_manager(
            Server::Embedded {
                url: &started.url,
                vault_key: &vault_key,
            },
            Arc::new(MemoryVault::new()),
            ManagerConfig::default(),
        )?;
        let _ = self.nobody.set(Arc::new(nobody));
        let set = ProfileSet::open(ProfileSetConfig {
            paths: self.paths.clone(),
            vault: Arc::new(KeyringVault::new()),
            embedded: Some(EmbeddedServer {
                url: started.url.clone(),
                vault_key,
            }),
            manager: ManagerConfig::default(),
            outbox: Default::default(),
        })
        .await?;
        *self.forward.lock().await = Some(forward(app.clone(), set.clone(), set.subscribe()));
        let _ = self.profiles.set(set);
        Ok(started)
    }

    /// The profiles, once started.
    pub async fn profiles(&self, app: &AppHandle) -> Result<ProfileSet> {
        self.started(app).await?;
        self.profiles
            .get()
            .cloned()
            .ok_or(Error::NotStarted("The app is still starting."))
    }

    /// The profiles and the active profile's id.
    pub async fn active(
        &self,
        app: &AppHandle,
    ) -> Result<(ProfileSet, warden_desktop::profiles::ProfileId)> {
        let set = self.profiles(app).await?;
        let id = set
            .active()
            .ok_or(Error::NotSignedIn("You are not signed in."))?;
        Ok((set, id))
    }

    /// The active profile's session (or, with no profile yet, a signed-out
    /// one for the embedded server).
    pub async fn session(&self, app: &AppHandle) -> Result<Session> {
        let set = self.profiles(app).await?;
        if let Some((profile, manager)) = set.active_session() {
            return Ok(Session {
                manager,
                embedded: profile.server == ServerKind::Embedded,
            });
        }
        self.nobody
            .get()
            .map(|m| Session {
                manager: Arc::clone(m),
                embedded: true,
            })
            .ok_or(Error::NotStarted("The app is still starting."))
    }

    /// Signs in on the embedded server (`remote: None`) or a remote one, in
    /// the profile [`ProfileSet::sign_in_to`] picks, which becomes active.
    pub async fn sign_in(
        &self,
        app: &AppHandle,
        username: &str,
        password: &str,
        remote: Option<RemoteServer>,
    ) -> Result<StateView> {
        let server = match remote {
            Some(r) => r
                .normalized()?
                .map_or(ServerKind::Embedded, ServerKind::Remote),
            None => ServerKind::Embedded,
        };
        let set = self.profiles(app).await?;
        set.sign_in_to(server, username, password).await?;
        Ok(StateView::of(&self.session(app).await?))
    }

    /// "Add an OpenID provider": signs in at the provider in the system
    /// browser (authorization code + PKCE through a loopback listener) and
    /// makes the session a new, active profile.
    pub async fn sign_in_openid(
        &self,
        app: &AppHandle,
        server: warden_desktop::openid::OpenIdServer,
        client_secret: Option<warden_client::Secret>,
    ) -> Result<StateView> {
        let set = self.profiles(app).await?;
        set.sign_in_openid(
            server,
            client_secret,
            Box::new(warden_client::oidc::system_browser),
            None,
        )
        .await?;
        Ok(StateView::of(&self.session(app).await?))
    }

    /// The active profile's remote server (`None`: embedded, or no profile).
    pub async fn remote(&self, app: &AppHandle) -> Option<RemoteServer> {
        let set = self.profiles(app).await.ok()?;
        let (profile, _) = set.active_session()?;
        profile.server.remote().cloned()
    }

    pub fn data_dir(&self) -> &Path {
        &self.paths.data_dir
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
            remote: self.remote(app).await,
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
                if b.is_online()
                    && let Some(set) = self.profiles.get()
                {
                    set.server_seen(&ServerKind::Embedded);
                }
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

    /// Closes the broker's socket first (a launch from now on starts a new
    /// app instead of handing over to this one), then the profiles, then the
    /// embedded server.
    pub async fn shutdown(&self) {
        if let Some(instance) = self.instance.lock().await.take() {
            instance.stop().await;
        }
        if let Some(forward) = self.forward.lock().await.take() {
            forward.abort();
        }
        if let Some(set) = self.profiles.get() {
            set.close().await;
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

    fn export_dir(&self) -> std::path::PathBuf {
        warden_desktop::export::default_dir(self.core().data_dir())
    }
}

impl BrokerHost for TauriHost {
    /// A second launch: bring the window forward, and tell the window.
    fn focus(&self) {
        if let Some(window) = self.0.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
        let _ = self.0.emit("focus-requested", ());
    }

    async fn profiles(&self) -> Result<Arc<ProfileSet>> {
        self.core().profiles(&self.0).await.map(Arc::new)
    }
}

/// Sends the profiles' events to the window: the active profile's as
/// before (`session-changed`, `exchange`, `session-note`), and every one as
/// `profiles-event`; keeps the tray current and tells the desktop when a
/// session ended from elsewhere or runs out while offline.
fn forward(
    app: AppHandle,
    set: ProfileSet,
    mut rx: broadcast::Receiver<ProfilesEvent>,
) -> tauri::async_runtime::JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        let mut notifier = Notifier::new();
        for view in set.views() {
            notifier.prime(&view.profile.id, &view.session.state);
        }
        refresh_tray(&app, &set);
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let active = set.active_session();
            let sent = match (&event, &active) {
                (ProfilesEvent::Session { profile, event }, Some((p, _))) if *profile == p.id => {
                    let embedded = p.server == ServerKind::Embedded;
                    match event {
                        Event::StateChanged(state) => app.emit(
                            "session-changed",
                            StateView::new((**state).clone(), embedded),
                        ),
                        Event::Exchange(exchange) => app.emit("exchange", exchange),
                        other => app.emit("session-note", other),
                    }
                }
                (ProfilesEvent::Changed, Some((p, m))) => app.emit(
                    "session-changed",
                    StateView::new(m.state(), p.server == ServerKind::Embedded),
                ),
                _ => Ok(()),
            };
            let all = app.emit("profiles-event", &event);
            if let Err(e) = sent.and(all) {
                tracing::warn!(error = %e, "cannot send an event to the window");
            }
            match &event {
                ProfilesEvent::Session {
                    profile,
                    event: Event::StateChanged(_),
                } => {
                    refresh_tray(&app, &set);
                    if let ProfilesEvent::Session { event, .. } = &event
                        && let Some(p) = set.profile(profile)
                        && let Some(n) = notifier.on_event(&p, event, wall_now())
                    {
                        tauri::async_runtime::spawn(async move {
                            if let Err(e) = alerts::send(&n).await {
                                tracing::info!(error = %e, summary = %n.summary, "no desktop notification");
                            }
                        });
                    }
                }
                ProfilesEvent::Changed => {
                    refresh_tray(&app, &set);
                    let known = set.profiles();
                    for view in set.views() {
                        notifier.prime(&view.profile.id, &view.session.state);
                    }
                    notifier.retain(|id| known.iter().any(|p| &p.id == id));
                }
                _ => {}
            }
        }
    })
}

fn refresh_tray(app: &AppHandle, set: &ProfileSet) {
    if let Some(tray) = app.try_state::<Tray>() {
        tray.refresh(set);
    }
}
