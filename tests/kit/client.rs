//! Kit for the client suites: a Warden server on the real clock (tokens that
//! really expire), the Django SimpleJWT peer as a guard, and session managers.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::broadcast;
use warden_auth::model::{AuditKind, AuditQuery};
use warden_auth::{
    AuthService, Clock, KeyMaterial, KeyRing, NewAccount, Secs, Settings, SystemClock,
};
use warden_client::{
    Client, ClientConfig, Event, ManagerConfig, MemoryVault, SessionManager, Vault,
};
use warden_server::{AppState, ServerConfig};
use warden_store::SqliteStore;

use crate::{PASSWORD, test_settings};

/// Settings with short lifetimes, for watching rotation happen.
pub fn short_lived(access_secs: i64, refresh_secs: i64) -> Settings {
    Settings {
        ACCESS_TOKEN_LIFETIME: Secs(access_secs),
        REFRESH_TOKEN_LIFETIME: Secs(refresh_secs),
        ..test_settings()
    }
}

struct Running {
    shutdown: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<std::io::Result<()>>,
}

/// A Warden server over a temp SQLite database on the system clock, with
/// users alice, bob (password [`PASSWORD`]) and staff root. Its HTTP side can
/// be stopped and started again on the same port while the engine lives on.
pub struct LiveServer {
    pub service: Arc<AuthService>,
    pub addr: SocketAddr,
    pub alice_id: i64,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for LiveServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveServer")
            .field("addr", &self.addr)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl LiveServer {
    pub fn start(settings: Settings) -> anyhow::Result<LiveServer> {
        let dir = tempfile::tempdir()?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now();
        let keys = match KeyMaterial::from_settings(&settings, now)? {
            Some(k) => vec![k],
            None => vec![KeyMaterial::generate(settings.ALGORITHM, now)?],
        };
        let store = Arc::new(SqliteStore::open(dir.path().join("warden.db"))?);
        let ring = KeyRing::from_materials(keys)?;
        let service = Arc::new(AuthService::new(settings, store, clock, ring)?);
        let mut alice_id = 0;
        for (name, staff) in [("alice", false), ("bob", false), ("root", true)] {
            let user = service.create_user(
                &NewAccount {
                    username: name.into(),
                    email: Some(format!("{name}@example.com")),
                    password: PASSWORD.into(),
                    is_staff: staff,
                    email_verified: true,
                },
                None,
            )?;
            if name == "alice" {
                alice_id = user.id;
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut server = LiveServer {
            service,
            addr,
            alice_id,
            running: None,
            _dir: dir,
        };
        server.serve(listener)?;
        Ok(server)
    }

    fn serve(&mut self, listener: TcpListener) -> anyhow::Result<()> {
        listener.set_nonblocking(true)?;
        let state = AppState::new(
            self.service.clone(),
            ServerConfig {
                allow_registration: true,
                ..ServerConfig::default()
            },
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("warden-live-server-{}", self.addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    warden_server::serve(listener, state, async move {
                        let _ = rx.await;
                    })
                    .await
                })
            })?;
        self.running = Some(Running {
            shutdown: tx,
            thread,
        });
        Ok(())
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops answering (the port is closed); the engine and its data stay.
    pub fn stop_http(&mut self) -> anyhow::Result<()> {
        if let Some(r) = self.running.take() {
            let _ = r.shutdown.send(());
            match r.thread.join() {
                Ok(result) => result?,
                Err(_) => bail!("the server thread panicked"),
            }
        }
        Ok(())
    }

    /// Answers again on the same port.
    pub fn start_http(&mut self) -> anyhow::Result<()> {
        if self.running.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e).context("re-bind the server port"),
            }
        };
        self.serve(listener)
    }

    /// How many audit entries of `kind` the engine wrote.
    pub fn audit_count(&self, kind: AuditKind) -> anyhow::Result<usize> {
        let entries = self.service.store().audit(&AuditQuery {
            user: None,
            kinds: vec![kind],
            session_id: None,
            since: None,
            until: None,
            before_id: None,
            limit: 100_000,
        })?;
        Ok(entries.len())
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.stop_http();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn repo_root() -> PathBuf {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tests.parent().map(PathBuf::from).unwrap_or(tests)
}

/// The Django + DRF + SimpleJWT peer (`interop/peer.sh`) on a free port,
/// stopped when dropped.
#[derive(Debug)]
pub struct SimpleJwtPeer {
    pub port: u16,
    pub url: String,
}

impl SimpleJwtPeer {
    pub fn start(env: &[(&str, &str)]) -> anyhow::Result<SimpleJwtPeer> {
        let script = repo_root().join("interop/peer.sh");
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let out = Command::new(&script)
                .arg("start")
                .arg(port.to_string())
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("run {}", script.display()))?;
            if out.status.success() {
                let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
                return Ok(SimpleJwtPeer { port, url });
            }
            last_error = format!(
                "peer.sh start {port} exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            // Exit 5: some other program took the port; try another.
            if out.status.code() != Some(5) {
                break;
            }
        }
        bail!("{last_error}")
    }
}

impl Drop for SimpleJwtPeer {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("interop/peer.sh"))
            .arg("stop")
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Scheduling for tests: quick back-off, a fast tick.
pub fn test_manager_config() -> ManagerConfig {
    ManagerConfig {
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        tick: Duration::from_millis(250),
        ..ManagerConfig::default()
    }
}

pub fn client(base_url: &str) -> anyhow::Result<Client> {
    Ok(Client::new(ClientConfig::new(base_url))?)
}

/// A manager over `vault` (a fresh client each time).
pub fn manager(
    base_url: &str,
    vault: Arc<dyn Vault>,
    config: ManagerConfig,
) -> anyhow::Result<SessionManager> {
    Ok(SessionManager::new(client(base_url)?, vault, config))
}

/// A manager over a [`MemoryVault`] the test can look into.
pub fn memory_manager(base_url: &str) -> anyhow::Result<(SessionManager, Arc<MemoryVault>)> {
    let vault = Arc::new(MemoryVault::new());
    Ok((
        manager(base_url, vault.clone(), test_manager_config())?,
        vault,
    ))
}

/// The next event matching `pred` within `within`.
pub async fn wait_for_event(
    rx: &mut broadcast::Receiver<Event>,
    within: Duration,
    mut pred: impl FnMut(&Event) -> bool,
) -> anyhow::Result<Event> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if pred(&e) => return Ok(e),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => bail!("event stream closed: {e}"),
            Err(_) => bail!("no matching event within {within:?}"),
        }
    }
}
