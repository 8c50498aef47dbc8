//! Warden's backend in-process, for the desktop app: the SQLite store in a
//! private data directory, signing keys in the OS keyring (or a 0600 file),
//! and the HTTP server on 127.0.0.1 with an ephemeral port, plus the flush job.
//!
//! The server is this computer's user's alone: accounts are made in-process
//! ([`EmbeddedBackend::create_account`]; the first one owns the server) and
//! never over HTTP, connections from other OS users are closed unanswered,
//! and while offline the port stays bound so nobody else can take it.
//!
//! ```no_run
//! # async fn run() -> warden_embedded::Result<()> {
//! use warden_embedded::{EmbeddedBackend, EmbeddedConfig};
//! let backend = EmbeddedBackend::start(EmbeddedConfig::new("/tmp/warden-data")).await?;
//! println!("http://{}/", backend.addr());
//! backend.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Where the signing keys and the identifier secret live; the CLI's `keys`
// commands call it by name (`keystore::load_existing`, `keystore::rotate_and_save`).
pub mod keystore;

mod error;
mod listener;
mod proc_net;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use warden_auth::model::{User, UserQuery};
use warden_auth::{AuthService, Clock, NewAccount, Settings, SystemClock};
use warden_server::{AllowedHosts, AppState, ServerConfig};

pub use error::{EmbeddedError, Result};
pub use keystore::{KeyStoreChoice, KeyStoreError, KeyStoreKind};

use listener::{PortHold, SameUserListener};

/// The database's file name inside the data directory.
const DATABASE_FILE: &str = "warden.db";
const FLUSH_INTERVAL: Duration = Duration::from_secs(3600);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start the embedded backend.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Created 0700 when missing; holds `warden.db` (0600).
    pub data_dir: PathBuf,
    /// The engine's settings (lifetimes, rotation, lockout).
    pub settings: Settings,
    /// Where the signing keys are kept.
    pub key_store: KeyStoreChoice,
}

impl EmbeddedConfig {
    /// Default settings, keys in the keyring when it works.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EmbeddedConfig {
            data_dir: data_dir.into(),
            settings: Settings::default(),
            key_store: KeyStoreChoice::Auto,
        }
    }
}

/// A running backend; [`EmbeddedBackend::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct EmbeddedBackend {
    addr: SocketAddr,
    database: PathBuf,
    service: Arc<AuthService>,
    key_store: KeyStoreKind,
    /// Stops the flush job (and, on shutdown, everything).
    stop: watch::Sender<bool>,
    /// The HTTP server while it is online: its own stop switch and task.
    serving: Option<Serving>,
    /// The port while offline, bound without listening.
    held: Option<PortHold>,
    /// This process's uid: the only one the server answers.
    uid: u32,
    state: AppState,
    flush: JoinHandle<()>,
}

#[derive(Debug)]
struct Serving {
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Serving {
    /// [`warden_server::serve`]'s work, on a listener that admits only `uid`.
    fn start(listener: tokio::net::TcpListener, uid: u32, state: AppState) -> Serving {
        use axum::serve::ListenerExt as _;
        let (stop, stop_rx) = watch::channel(false);
        // tap_io does nothing here but wrap the listener in the type axum
        // gives `ConnectInfo<SocketAddr>` for (the client address the
        // router's lockout and logs use).
        let listener = SameUserListener::new(listener, uid).tap_io(|_| {});
        let app = warden_server::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped(stop_rx))
                .await
        });
        Serving { stop, task }
    }

    /// Stops accepting and lets requests in flight finish (up to 5 s).
    async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        match tokio::time::timeout(DRAIN_TIMEOUT, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => warn!(error = %e, "the embedded server stopped with an error"),
            Ok(Err(e)) => warn!(error = %e, "the embedded server task failed"),
            Err(_) => {
                warn!("requests still running after the drain timeout; stopping anyway");
                task.abort();
                // Until the task is gone its listener may still accept.
                let _ = task.await;
            }
        }
    }
}

impl EmbeddedBackend {
    /// Opens the store, loads (or creates) the signing keys and starts
    /// serving on the current tokio runtime.
    pub async fn start(config: EmbeddedConfig) -> Result<EmbeddedBackend> {
        let EmbeddedConfig {
            data_dir,
            settings,
            key_store,
        } = config;
        // Never over HTTP: any local process could then enumerate names or
        // make itself the owner first. Accounts are made in-process.
        let allow_registration = false;
        let uid = proc_net::own_uid().map_err(EmbeddedError::Listen)?;
        let dir = data_dir.clone();
        let (database, store) = blocking(move || open_store(&dir)).await??;
        let now = SystemClock.now();
        let (kind, keys) = keystore::load_or_create(&settings, &database, key_store, now).await?;
        let mut ring = keystore::ring_for_serving(&settings, keys, now)?;
        if let Some(secret) = keystore::identifier_secret(&kind).await? {
            ring = ring.with_identifier_secret(secret);
        }
        let service =
            blocking(move || AuthService::new(settings, store, Arc::new(SystemClock), ring))
                .await??;
        let service = Arc::new(service);

        let listener = listener::bind_listener(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(EmbeddedError::Listen)?;
        let addr = listener.local_addr().map_err(EmbeddedError::Listen)?;
        let (stop, stop_rx) = watch::channel(false);
        let flush = tokio::spawn(warden_server::flush_loop(
            Arc::clone(&service),
            FLUSH_INTERVAL,
            stop_rx,
        ));
        let state = AppState::new(
            Arc::clone(&service),
            ServerConfig {
                allow_registration,
                server_name: "warden-embedded".into(),
                // Exactly what base_url() names, and no browser origin: the
                // app's window talks to the backend through Tauri commands,
                // so any page that reaches this port is a stranger.
                allowed_hosts: AllowedHosts::exactly(addr),
                cors_allowed_origins: Vec::new(),
                ..ServerConfig::default()
            },
        );
        // What warden_server::serve does before serving; Serving::start
        // serves the router itself, on its own listener.
        let state = state
            .bound_to(addr)
            .map_err(|e| EmbeddedError::Internal(e.to_string()))?;
        let serving = Serving::start(listener, uid, state.clone());
        info!(%addr, keys = %kind.describe(), "embedded backend listening");
        Ok(EmbeddedBackend {
            addr,
            database,
            service,
            key_store: kind,
            stop,
            serving: Some(serving),
            held: None,
            uid,
            state,
            flush,
        })
    }

    /// Whether the HTTP server is accepting connections.
    pub fn is_online(&self) -> bool {
        self.serving.is_some()
    }

    /// Takes the HTTP server offline or brings it back on the same address:
    /// the developer tools' "server offline" switch. Offline, connections are
    /// refused but the port stays bound (with `SO_REUSEPORT`, which Linux
    /// shares only within one OS user), so no one else can take it and answer
    /// the app's retries;
    /// the store and keys stay.
    pub async fn set_online(&mut self, online: bool) -> Result<()> {
        if online == self.is_online() {
            return Ok(());
        }
        if online {
            // Bound next to the hold (both SO_REUSEPORT), then the hold goes:
            // the port is never free in between.
            let listener = listener::bind_listener(self.addr).map_err(EmbeddedError::Listen)?;
            self.serving = Some(Serving::start(listener, self.uid, self.state.clone()));
            self.held = None;
            info!(addr = %self.addr, "embedded backend online again");
        } else {
            // Held before the listener closes, for the same reason.
            self.held = Some(PortHold::bind(self.addr).map_err(EmbeddedError::HoldPort)?);
            if let Some(serving) = self.serving.take() {
                serving.stop().await;
            }
            info!(addr = %self.addr, "embedded backend offline; its port stays held");
        }
        Ok(())
    }

    /// Creates a local account. The first one owns this computer's server:
    /// it is made staff in the same store transaction as its insert (of two
    /// first sign-ups at once, exactly one is the owner), audit-logged.
    /// Returns the account and whether it is the owner.
    pub async fn create_account(&self, username: &str, password: &str) -> Result<(User, bool)> {
        let service = Arc::clone(&self.service);
        let account = NewAccount {
            username: username.to_string(),
            email: None,
            password: password.to_string(),
            is_staff: false,
            email_verified: false,
        };
        let (user, owner) = blocking(move || service.create_local_account(&account))
            .await?
            .map_err(EmbeddedError::Account)?;
        info!(user = user.id, owner, "local account created");
        Ok((user, owner))
    }

    /// The loopback address it listens on (the port stays the same while offline).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The SQLite database's path.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// The engine, for what the app does in-process (the inspector's key ring).
    pub fn service(&self) -> &Arc<AuthService> {
        &self.service
    }

    /// Where the signing keys are.
    pub fn key_store_kind(&self) -> &KeyStoreKind {
        &self.key_store
    }

    /// Whether no account exists yet (the app's first run).
    pub async fn has_users(&self) -> Result<bool> {
        let service = Arc::clone(&self.service);
        let found = blocking(move || {
            service.store().search_users(&UserQuery {
                limit: 1,
                ..UserQuery::default()
            })
        })
        .await??;
        Ok(!found.is_empty())
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), stops the flush job.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(serving) = self.serving {
            serving.stop().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.flush).await;
        info!("embedded backend stopped");
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EmbeddedError::Internal(e.to_string()))
}

fn data_dir_error(path: &Path, e: impl std::fmt::Display) -> EmbeddedError {
    EmbeddedError::DataDir {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates the data directory 0700 when missing and opens `warden.db` (0600) in it.
fn open_store(dir: &Path) -> Result<(PathBuf, Arc<dyn warden_auth::Store>)> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| data_dir_error(dir, e))?;
    }
    let dir = dir.canonicalize().map_err(|e| data_dir_error(dir, e))?;
    let database = dir.join(DATABASE_FILE);
    let store = warden_store::SqliteStore::open(&database)?;
    Ok((database, Arc::new(store)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn starts_serves_and_stops_with_keys_in_a_private_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let config = EmbeddedConfig {
            key_store: KeyStoreChoice::File,
            ..EmbeddedConfig::new(&dir)
        };
        let backend = EmbeddedBackend::start(config.clone()).await.unwrap();
        assert!(backend.addr().ip().is_loopback());
        assert!(!backend.has_users().await.unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(DATABASE_FILE)), 0o600);
            assert_eq!(mode(&dir.join(keystore::KEY_FILE_NAME)), 0o600);
        }
        let kid = backend.service().active_kid();
        // The port answers HTTP.
        let mut stream = tokio::net::TcpStream::connect(backend.addr())
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = backend.addr();
        stream
            .write_all(
                format!(
                    "GET /api/capabilities/ HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        backend.shutdown().await;

        // A restart keeps the same keys.
        let again = EmbeddedBackend::start(config).await.unwrap();
        assert_eq!(again.service().active_kid(), kid);
        again.shutdown().await;
    }

    async fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_account_owns_the_server_and_the_server_goes_offline_and_back() {
        let tmp = tempfile::tempdir().unwrap();
        let config = EmbeddedConfig {
            key_store: KeyStoreChoice::File,
            ..EmbeddedConfig::new(tmp.path().join("data"))
        };
        let mut backend = EmbeddedBackend::start(config).await.unwrap();
        let service = Arc::clone(backend.service());
        let (owner, is_owner) = backend
            .create_account("Owner", "correct horse battery 7")
            .await
            .unwrap();
        assert!(is_owner, "first account");
        assert!(owner.is_staff);
        assert_eq!(service.user_by_username("owner").unwrap().id, owner.id);
        // The inspector checks the owner's token with the server's own keys.
        let svc = Arc::clone(&service);
        let pair = tokio::task::spawn_blocking(move || {
            svc.obtain_pair(&warden_auth::LoginRequest {
                identifier: "owner".into(),
                password: "correct horse battery 7".into(),
                client: Default::default(),
            })
        })
        .await
        .unwrap()
        .unwrap();
        let seen = service.inspect_token(&pair.access.token).unwrap();
        assert!(seen.signature.is_valid(), "{:?}", seen.signature);
        let (second, is_owner) = backend
            .create_account("second", "correct horse battery 7")
            .await
            .unwrap();
        assert!(!is_owner, "not the first account");
        assert!(!second.is_staff);
        assert!(!service.user_by_username("second").unwrap().is_staff);

        let addr = backend.addr();
        assert!(
            get(addr, "/api/hello/")
                .await
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
        backend.set_online(false).await.unwrap();
        assert!(!backend.is_online());
        assert!(
            get(addr, "/api/hello/").await.is_err(),
            "refused while offline"
        );
        backend.set_online(true).await.unwrap();
        assert!(backend.is_online());
        assert!(
            get(addr, "/api/hello/")
                .await
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
        backend.shutdown().await;
    }

    /// What reaches the port without being the app: a page rebinding its
    /// name to 127.0.0.1 (foreign Host), a page posting across origins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_its_own_address_and_no_origin_are_served() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tmp = tempfile::tempdir().unwrap();
        let config = EmbeddedConfig {
            key_store: KeyStoreChoice::File,
            ..EmbeddedConfig::new(tmp.path().join("data"))
        };
        let backend = EmbeddedBackend::start(config).await.unwrap();
        let addr = backend.addr();
        assert_eq!(
            backend.base_url(),
            format!("http://127.0.0.1:{}/", addr.port())
        );
        let status = |head: String| async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer.get(9..12).unwrap_or_default().to_string()
        };
        let get = |host: String, extra: &str| {
            format!("GET /api/hello/ HTTP/1.1\r\nhost: {host}\r\n{extra}connection: close\r\n\r\n")
        };
        assert_eq!(status(get(addr.to_string(), "")).await, "200");
        let port = addr.port();
        for host in [
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
            format!("evil.example:{port}"),
            "127.0.0.1".to_string(),
        ] {
            assert_eq!(status(get(host.clone(), "")).await, "400", "{host}");
        }
        for origin in ["http://127.0.0.1", "tauri://localhost", "null"] {
            let extra = format!("origin: {origin}\r\n");
            assert_eq!(
                status(get(addr.to_string(), &extra)).await,
                "403",
                "{origin}"
            );
        }
        backend.shutdown().await;
    }
}
