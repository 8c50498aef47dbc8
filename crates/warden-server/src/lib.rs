//! Warden's HTTP server: SimpleJWT's API and Warden's own routes over
//! [`AuthService`], on axum.
//!
//! [`router`] builds the whole application as a plain `Router` (tests call it
//! with `oneshot`); [`serve`] runs it on a listener until a shutdown future
//! completes; [`flush_loop`] is the background job that drops expired records.
//! Every route is documented in [`openapi`], which is built from the same
//! table as the router.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The route table and the OpenAPI document built from it: callers name it
// (`api::openapi_json`, `api::documented_routes`).
pub mod api;

mod auth;
mod body;
mod error;
mod guard;
mod hosts;
mod observe;
mod proxies;
mod requests;
mod routes;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use warden_auth::AuthService;

pub use body::RawBody;
pub use error::{ApiError, ConfigError};
pub use hosts::{ALLOWED_HOSTS, AllowedHosts, AllowedOrigin, CORS_ALLOWED_ORIGINS, HostPattern};
pub use proxies::{IpNetwork, TRUSTED_PROXIES, TrustedProxies};
pub use requests::ReadBody;

/// How the HTTP layer behaves; the engine's settings live in [`AuthService`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Whether `api/register/` creates accounts (403 "Registration is closed." otherwise).
    pub allow_registration: bool,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Largest header block accepted (431 beyond).
    pub max_header_bytes: usize,
    /// `ALLOWED_HOSTS`: the `Host` values served (400 otherwise, before routing).
    pub allowed_hosts: AllowedHosts,
    /// `CORS_ALLOWED_ORIGINS`: the browser origins served (a request with any
    /// other `Origin` gets 403 before routing). Empty: no origin.
    pub cors_allowed_origins: Vec<AllowedOrigin>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The `server` field of the capabilities document.
    pub server_name: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            allow_registration: false,
            max_body_bytes: 16 * 1024,
            max_header_bytes: 8 * 1024,
            allowed_hosts: AllowedHosts::default(),
            cors_allowed_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            server_name: "warden".to_string(),
        }
    }
}

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub service: Arc<AuthService>,
    /// The HTTP layer's settings.
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// The state for `service` served as `config` says.
    pub fn new(service: Arc<AuthService>, config: ServerConfig) -> Self {
        AppState {
            service,
            config: Arc::new(config),
        }
    }

    /// This state for a server listening on `bound`: the default
    /// `ALLOWED_HOSTS` gets the bound port (refused for a non-loopback bind).
    pub fn bound_to(&self, bound: SocketAddr) -> Result<AppState, ConfigError> {
        let allowed_hosts = self.config.allowed_hosts.bind(bound)?;
        if allowed_hosts == self.config.allowed_hosts {
            return Ok(self.clone());
        }
        Ok(AppState {
            service: Arc::clone(&self.service),
            config: Arc::new(ServerConfig {
                allowed_hosts,
                ..(*self.config).clone()
            }),
        })
    }
}

/// The whole application: every documented route, DRF's 404 and 405, the
/// request id, tracing and size guards.
pub fn router(state: AppState) -> axum::Router {
    api::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::middleware,
        ))
        .with_state(state)
}

/// The OpenAPI 3.1 document served at `api/schema/`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::openapi()
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets
/// requests in flight finish. The default `ALLOWED_HOSTS` is fixed to the
/// listener's address here (see [`AppState::bound_to`]); a non-loopback
/// listener without `ALLOWED_HOSTS` is an `InvalidInput` error.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    let state = state
        .bound_to(bound)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Every `every`, drops expired tokens, sessions and revocations (SimpleJWT's
/// `flushexpiredtokens`) on a blocking thread; stops when `shutdown` turns
/// true or its sender is dropped.
pub async fn flush_loop(
    service: Arc<AuthService>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = every.max(Duration::from_secs(1));
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        }
        let svc = service.clone();
        match tokio::task::spawn_blocking(move || svc.flush_expired()).await {
            Ok(Ok(report)) => tracing::info!(
                outstanding_tokens = report.outstanding_tokens,
                sessions = report.sessions,
                revoked_jtis = report.revoked_jtis,
                throttle_entries = report.throttle_entries,
                "flushed expired records"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing expired records failed"),
            Err(e) => tracing::error!(error = %e, "flush task failed"),
        }
    }
    tracing::debug!("flush loop stopped");
}

/// The capabilities document of this server.
pub(crate) fn capabilities(state: &AppState) -> warden_proto::Capabilities {
    let s = state.service.settings();
    let mut features: Vec<&str> = vec![
        "logout",
        "logout_all",
        "sessions",
        "change_password",
        "me",
        "staff",
        "lineage",
        "audit",
        "revoke",
        "introspect",
        "jwks",
        "sliding",
        "openapi",
        "access_revocation",
        "session_cap",
        "verify_blacklist",
    ];
    if state.config.allow_registration {
        features.push("register");
    }
    if s.ROTATE_REFRESH_TOKENS && s.BLACKLIST_AFTER_ROTATION {
        features.push("reuse_detection");
    }
    if s.REFRESH_GRACE_PERIOD.get() > 0 {
        features.push("refresh_grace_period");
    }
    if s.LOCKOUT_THRESHOLD > 0 {
        features.push("lockout");
    }
    warden_proto::Capabilities {
        server: state.config.server_name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        features: features.into_iter().map(str::to_string).collect(),
        rotate_refresh_tokens: s.ROTATE_REFRESH_TOKENS,
        blacklist_after_rotation: s.BLACKLIST_AFTER_ROTATION,
        access_token_lifetime: u64::try_from(s.ACCESS_TOKEN_LIFETIME.get()).unwrap_or(0),
        refresh_token_lifetime: u64::try_from(s.REFRESH_TOKEN_LIFETIME.get()).unwrap_or(0),
        auth_header_types: s.AUTH_HEADER_TYPES.clone(),
    }
}
