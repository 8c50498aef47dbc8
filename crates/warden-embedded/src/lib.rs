//! Warden's backend in-process, for the desktop app: the SQLite store in a
//! private data directory, signing keys in the OS keyring (or a 0600 file),
//! and the HTTP server on 127.0.0.1 with an ephemeral port, plus the flush job.
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

pub mod error;
pub mod keystore;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use warden_auth::model::{AuditKind, UserQuery, UserUpdate};
use warden_auth::{AuthService, Clock, Settings, SystemClock};
use warden_server::{AllowedHosts, AppState, ServerConfig};

pub use error::{EmbeddedError, Result};
pub use keystore::{KeyStoreChoice, KeyStoreError, KeyStoreKind};

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "warden.db";
const FLUSH_INTERVAL: Duration = Duration::from_secs(3600);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How to start the embedded backend.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Created 0700 when missing; holds `warden.db` (0600).
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub allow_registration: bool,
    pub key_store: KeyStoreChoice,
}

impl EmbeddedConfig {
    /// Default settings, registration open, keys in the keyring when it works.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EmbeddedConfig {
            data_dir: data_dir.into(),
            settings: Settings::default(),
            allow_registration: true,
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
    state: AppState,
    flush: JoinHandle<()>,
}

#[derive(Debug)]
struct Serving {
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Serving {
    fn start(listener: tokio::net::TcpListener, state: AppState) -> Serving {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(warden_server::serve(listener, state, stopped(stop_rx)));
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
            allow_registration,
            key_store,
        } = config;
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

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
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
        let serving = Serving::start(listener, state.clone());
        info!(%addr, keys = %kind.describe(), "embedded backend listening");
        Ok(EmbeddedBackend {
            addr,
            database,
            service,
            key_store: kind,
            stop,
            serving: Some(serving),
            state,
            flush,
        })
    }

    /// Whether the HTTP server is accepting connections.
    pub fn is_online(&self) -> bool {
        self.serving.is_some()
    }

    /// Takes the HTTP server offline (connections are refused; the store and
    /// keys stay) or brings it back on the same address: the developer
    /// tools' "server offline" switch.
    pub async fn set_online(&mut self, online: bool) -> Result<()> {
        match (online, self.serving.take()) {
            (true, Some(s)) => self.serving = Some(s),
            (false, None) => {}
            (false, Some(s)) => {
                s.stop().await;
                info!(addr = %self.addr, "embedded backend offline");
            }
            (true, None) => {
                let listener = tokio::net::TcpListener::bind(self.addr)
                    .await
                    .map_err(EmbeddedError::Listen)?;
                self.serving = Some(Serving::start(listener, self.state.clone()));
                info!(addr = %self.addr, "embedded backend online again");
            }
        }
        Ok(())
    }

    /// Makes `username` staff when it is the only account: the first local
    /// account owns this computer's server and may use the staff console.
    /// Returns whether it did.
    pub async fn make_owner(&self, username: &str) -> Result<bool> {
        let service = Arc::clone(&self.service);
        let username = username.to_string();
        let done = blocking(
            move || -> std::result::Result<bool, warden_auth::AuthError> {
                let users = service.store().search_users(&UserQuery {
                    limit: 2,
                    ..UserQuery::default()
                })?;
                let [only] = users.as_slice() else {
                    return Ok(false);
                };
                if !only.username.eq_ignore_ascii_case(&username) || only.is_staff {
                    return Ok(only.is_staff && only.username.eq_ignore_ascii_case(&username));
                }
                service.admin_update_user(
                    only.id,
                    UserUpdate {
                        is_staff: Some(true),
                        ..UserUpdate::default()
                    },
                    AuditKind::StaffGranted,
                    None,
                )?;
                Ok(true)
            },
        )
        .await?
        .map_err(|e| EmbeddedError::Internal(e.to_string()))?;
        Ok(done)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn database(&self) -> &Path {
        &self.database
    }

    pub fn service(&self) -> &Arc<AuthService> {
        &self.service
    }

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
        let register = |name: &'static str| {
            let service = Arc::clone(&service);
            async move {
                tokio::task::spawn_blocking(move || {
                    let account = warden_auth::service::NewAccount {
                        username: name.into(),
                        email: None,
                        password: "correct horse battery 7".into(),
                        is_staff: false,
                        email_verified: false,
                    };
                    service.create_user(&account, None)
                })
                .await
                .unwrap()
                .unwrap()
            }
        };
        register("Owner").await;
        assert!(backend.make_owner("owner").await.unwrap(), "first account");
        let owner = service.user_by_username("owner").unwrap();
        assert!(owner.is_staff);
        // The inspector checks the owner's token with the server's own keys.
        let svc = Arc::clone(&service);
        let pair = tokio::task::spawn_blocking(move || {
            svc.obtain_pair(&warden_auth::service::LoginRequest {
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
        register("second").await;
        assert!(
            !backend.make_owner("second").await.unwrap(),
            "not the only account"
        );
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
