//! A real Warden HTTP server on 127.0.0.1 (ephemeral port) over the kit's
//! [`Engine`] (real SQLite file, manual clock), on a thread with its own tokio
//! runtime, so plain synchronous tests can drive it with a blocking client.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warden_auth::{KeyRing, Settings};
use warden_server::{AppState, ServerConfig};

use crate::Engine;

/// A running server; stopped (gracefully) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Engine,
    pub config: ServerConfig,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

/// The config [`TestServer::start`] uses: defaults, with registration open.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        allow_registration: true,
        ..ServerConfig::default()
    }
}

impl TestServer {
    /// Starts a server over a fresh engine with `settings` and [`test_config`].
    ///
    /// A test kit that cannot start its server has nothing to test, so this
    /// panics with the cause; use [`TestServer::try_start`] to handle it.
    #[allow(clippy::panic)]
    pub fn start(settings: Settings) -> TestServer {
        match Self::try_start(settings, test_config()) {
            Ok(server) => server,
            Err(e) => panic!("cannot start the test server: {e:#}"),
        }
    }

    pub fn try_start(settings: Settings, config: ServerConfig) -> anyhow::Result<TestServer> {
        let engine = Engine::new(settings)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = AppState::new(engine.service.clone(), config.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("build the server runtime")?;
        let thread = std::thread::Builder::new()
            .name(format!("warden-test-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    warden_server::serve(listener, state, async move {
                        let _ = rx.await;
                    })
                    .await
                })
            })
            .context("spawn the server thread")?;
        Ok(TestServer {
            addr,
            engine,
            config,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/` + `path` (with or without a leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// A blocking client that ignores proxy settings.
    pub fn client(&self) -> reqwest::blocking::Client {
        client()
    }

    /// Stops the server and waits for it to finish.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(std::io::Error::other("the server thread panicked")),
            None => Ok(()),
        }
    }

    /// Signs an arbitrary payload with the engine's active key, as Warden
    /// would sign its own tokens: for forging tokens Warden never issued
    /// (no `jti`, a non-numeric `user_id`, an unknown session...).
    pub fn sign(&self, payload: &serde_json::Value) -> anyhow::Result<String> {
        let ring = KeyRing::from_materials(self.engine.service.key_materials())?;
        let key = ring.active();
        let mut token = key.header_b64().to_string();
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload)?));
        let signature =
            jsonwebtoken::crypto::sign(token.as_bytes(), key.encoding_key(), key.jwt_algorithm())?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// A blocking client for test servers: no proxies, a generous timeout.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}

/// [`client`], with its connections made from `local` (e.g. 127.0.0.2:
/// every 127.0.0.0/8 address is this machine's), so a test server sees
/// requests from several client addresses.
pub fn client_from(local: std::net::IpAddr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .local_address(local)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}

/// The parts of a token, decoded (header and payload JSON), for assertions.
pub fn decode_parts(token: &str) -> anyhow::Result<(serde_json::Value, serde_json::Value)> {
    let mut parts = token.split('.');
    let mut next = || -> anyhow::Result<serde_json::Value> {
        let part = parts.next().context("token has too few parts")?;
        Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
    };
    let header = next()?;
    let payload = next()?;
    Ok((header, payload))
}
