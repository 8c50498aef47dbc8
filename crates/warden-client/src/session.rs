//! The session manager: signs in, keeps the access token fresh, survives
//! network loss and clock jumps, and says clearly when a session is over.
//!
//! One refresh is in flight at a time, whoever asks (the scheduler, fifty
//! callers of [`SessionManager::access_token`], a 401 retry): they all queue
//! on one async mutex, and a caller that was waiting for someone else's
//! refresh takes its result instead of refreshing again (an attempt counter
//! tells). The refresh token lives in the vault and in memory, the access
//! token in memory only.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::{Notify, broadcast, watch};
use warden_proto::{Capabilities, Me, SessionInfo};

use crate::client::{Client, Credentials};
use crate::config::Feature;
use crate::error::{ClientError, Result};
use crate::exchange::Exchange;
use crate::jwt::{Secret, TokenClaims, decode_claims, redact};
use crate::provider::{Issued, TokenProvider};
use crate::scheduler::{ClockWatch, backoff_delay, clock_offset, jitter, plan_rotation, wall_now};
use crate::state::{Event, Phase, SessionState, SignOutReason, TokenInfo, VaultInfo};
use crate::vault::{AsyncVault, MemoryVault, Vault, VaultStatus};

/// How the manager schedules and retries.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// Rotate after this fraction of the access token's lifetime (0.8)...
    pub rotate_fraction: f64,
    /// ...or this long before it expires, whichever is sooner (30 s).
    pub rotate_margin: Duration,
    /// First retry delay when the server cannot be reached (1 s), doubling...
    pub backoff_initial: Duration,
    /// ...up to this (30 s).
    pub backoff_max: Duration,
    /// The scheduler looks at the clocks at least this often (1 s).
    pub tick: Duration,
    /// A wall-clock jump beyond this (relative to monotonic time) re-plans (3 s).
    pub clock_jump_threshold: Duration,
    /// Limit for each vault call (5 s).
    pub vault_timeout: Duration,
    /// Events buffered per subscriber before it lags.
    pub event_capacity: usize,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            rotate_fraction: 0.8,
            rotate_margin: Duration::from_secs(30),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            tick: Duration::from_secs(1),
            clock_jump_threshold: Duration::from_secs(3),
            vault_timeout: crate::vault::VAULT_TIMEOUT,
            event_capacity: 1024,
        }
    }
}

/// How often a vault that failed to take the current refresh token is retried.
const VAULT_RETRY_SECS: f64 = 30.0;

/// The scheduler leaves at least this long between its own rotations, so a
/// server that hands out tokens already past their rotation point (or
/// expired) is not asked again in a tight loop.
const MIN_SCHEDULED_GAP_SECS: f64 = 1.0;

/// A token and what it says, with the offset from the server's clock to ours.
#[derive(Debug, Clone)]
struct HeldToken {
    secret: Secret,
    claims: TokenClaims,
    /// Local Unix seconds when it arrived.
    received_at: f64,
}

impl HeldToken {
    fn parse(raw: String, received_at: f64) -> Result<HeldToken> {
        let claims = decode_claims(&raw)?;
        Ok(HeldToken {
            secret: Secret::new(raw),
            claims,
            received_at,
        })
    }

    /// A token that may be opaque (OAuth): a JWT's claims when it is one,
    /// else times from `expires_in` (local clock) and an id made from its
    /// hash, so tokens can be told apart without showing them. No
    /// `expires_in` for an opaque token means no stated expiry.
    fn parse_lenient(raw: String, received_at: f64, expires_in: Option<u64>) -> HeldToken {
        let claims = match decode_claims(&raw) {
            Ok(c) if c.exp.is_some() => c,
            _ => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(raw.as_bytes());
                let id: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                TokenClaims {
                    token_type: None,
                    exp: expires_in.map(|e| received_at as i64 + e as i64),
                    iat: expires_in.map(|_| received_at as i64),
                    jti: Some(format!("sha256:{id}")),
                    user_id: None,
                    sid: None,
                    refresh_exp: None,
                }
            }
        };
        HeldToken {
            secret: Secret::new(raw),
            claims,
            received_at,
        }
    }

    fn local_exp(&self, offset: f64) -> Option<f64> {
        self.claims.exp.map(|e| e as f64 + offset)
    }

    fn info(&self, offset: f64) -> TokenInfo {
        TokenInfo {
            jti: self.claims.jti.clone(),
            iat: self.claims.iat,
            exp: self.claims.exp,
            expires_at: self.local_exp(offset),
            hint: redact(self.secret.expose()),
        }
    }
}

#[derive(Debug)]
struct Session {
    username: String,
    /// `None` only while restoring, or offline right after a restore.
    access: Option<HeldToken>,
    refresh: HeldToken,
    /// Local time = server time + offset (see [`clock_offset`]).
    offset: f64,
    /// Local Unix seconds.
    rotate_at: Option<f64>,
    rotation_count: u64,
    /// The refresh token this session rotated away last (memory only), for
    /// the developer tools' replay.
    previous_refresh: Option<Secret>,
}

impl Session {
    fn access_valid_at(&self, now: f64) -> Option<&HeldToken> {
        self.access
            .as_ref()
            .filter(|a| a.local_exp(self.offset).is_some_and(|exp| now < exp))
    }

    fn replan(&mut self, config: &ManagerConfig, now: f64) {
        self.rotate_at = self.access.as_ref().and_then(|a| {
            // `iat` is truncated to the second and the answer took time to
            // arrive: the token's life as we can use it starts on arrival.
            let start = (a.claims.iat? as f64 + self.offset).max(a.received_at);
            let exp = a.claims.exp? as f64 + self.offset;
            Some(plan_rotation(
                start,
                exp,
                now,
                config.rotate_fraction,
                config.rotate_margin.as_secs_f64(),
            ))
        });
        // A token without times cannot be planned for: rotate on the next tick.
        if self.access.is_some() && self.rotate_at.is_none() {
            self.rotate_at = Some(now);
        }
    }
}

#[derive(Debug)]
struct Shared {
    phase: Phase,
    session: Option<Session>,
    /// Bumped after every refresh attempt and every login / sign-out: a caller
    /// that saw an older value knows someone else already tried.
    attempts: u64,
    last_outcome: Result<(), ClientError>,
    retry_at: Option<f64>,
    backoff_attempt: u32,
    vault: VaultInfo,
    /// The vault in use is memory, because the configured one is unusable.
    using_fallback: bool,
    /// The vault does not hold the current refresh token; retry at `vault_retry_at`.
    vault_dirty: bool,
    vault_retry_at: f64,
    capabilities: Option<Capabilities>,
    /// Local Unix seconds of the last refresh attempt.
    last_attempt_at: f64,
}

struct Inner {
    client: Client,
    provider: Arc<dyn TokenProvider>,
    vault: AsyncVault,
    fallback: AsyncVault,
    persistent: bool,
    config: ManagerConfig,
    shared: Mutex<Shared>,
    refresh_lock: tokio::sync::Mutex<()>,
    events: broadcast::Sender<Event>,
    wake: Arc<Notify>,
    shutdown: watch::Sender<bool>,
    scheduler_started: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.wake.notify_one();
    }
}

/// A session [`SessionManager::sign_out_locally`] let go of: what the server
/// still needs to end it. `Debug` shows no token.
#[derive(Debug, Clone)]
pub struct EndedSession {
    /// Who was signed in.
    pub username: String,
    /// Presented to the server to end the session (logout, blacklist), or
    /// rotated once for an access token (log out everywhere).
    pub refresh: Secret,
    /// The access token, while it is valid for a moment longer.
    pub access: Option<Secret>,
    /// Warden's session id (`sid`), when the server sends one.
    pub session_id: Option<String>,
    /// The refresh token was in the configured vault (not the in-memory
    /// fallback): the caller clears that entry once it holds the token.
    pub stored_in_vault: bool,
}

/// Signs in to one server and keeps the session alive. Cheap to clone; the
/// background scheduler stops when the last clone is dropped.
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.shared.lock();
        f.debug_struct("SessionManager")
            .field("server", &self.inner.client.base_url())
            .field("phase", &s.phase)
            .finish_non_exhaustive()
    }
}

fn signed_out_error(phase: &Phase) -> ClientError {
    match phase {
        Phase::SignedOut {
            reason: Some(reason),
        } => ClientError::SignedOut(reason.clone()),
        _ => ClientError::NotSignedIn,
    }
}

fn secs(d: f64) -> Duration {
    Duration::from_secs_f64(if d.is_finite() { d.max(0.0) } else { 0.0 })
}

impl SessionManager {
    /// A manager for `client`'s server that keeps refresh tokens in `vault`
    /// (or, when that is unusable, in memory, and says so).
    pub fn new(client: Client, vault: Arc<dyn Vault>, config: ManagerConfig) -> SessionManager {
        let provider: Arc<dyn TokenProvider> = Arc::new(client.clone());
        SessionManager::with_provider(client, provider, vault, config)
    }

    /// A manager whose tokens come from `provider` (an OpenID provider);
    /// `client` still carries the timeline. Sign in elsewhere and hand the
    /// tokens to [`SessionManager::login_with`].
    pub fn with_provider(
        client: Client,
        provider: Arc<dyn TokenProvider>,
        vault: Arc<dyn Vault>,
        config: ManagerConfig,
    ) -> SessionManager {
        provider.attach_timeline(&client);
        let (events, _) = broadcast::channel(config.event_capacity.max(16));
        // Weak: the client may outlive this manager, and subscribers should
        // see the stream close when the manager goes.
        let tx = events.downgrade();
        client.exchanges().subscribe(move |ex: &Exchange| {
            if let Some(tx) = tx.upgrade() {
                let _ = tx.send(Event::Exchange(ex.clone()));
            }
        });
        let persistent = vault.persistent();
        let (shutdown, _) = watch::channel(false);
        let inner = Inner {
            vault: AsyncVault::new(vault, config.vault_timeout),
            fallback: AsyncVault::new(Arc::new(MemoryVault::new()), config.vault_timeout),
            persistent,
            shared: Mutex::new(Shared {
                phase: Phase::SignedOut { reason: None },
                session: None,
                attempts: 0,
                last_outcome: Err(ClientError::NotSignedIn),
                retry_at: None,
                backoff_attempt: 0,
                vault: VaultInfo {
                    status: VaultStatus::Unavailable("not checked yet".into()),
                    persistent,
                    stored: false,
                    warning: None,
                },
                using_fallback: false,
                vault_dirty: false,
                vault_retry_at: 0.0,
                capabilities: None,
                last_attempt_at: 0.0,
            }),
            refresh_lock: tokio::sync::Mutex::new(()),
            events,
            wake: Arc::new(Notify::new()),
            shutdown,
            scheduler_started: AtomicBool::new(false),
            client,
            provider,
            config,
        };
        SessionManager {
            inner: Arc::new(inner),
        }
    }

    /// The client it sends through (for routes it does not wrap).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Where its tokens come from.
    pub fn provider(&self) -> &Arc<dyn TokenProvider> {
        &self.inner.provider
    }

    /// The key vault entries of this server are stored under (its base URL).
    pub fn server_key(&self) -> &str {
        self.inner.provider.key()
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The state now.
    pub fn state(&self) -> SessionState {
        self.inner.snapshot()
    }

    /// The last 200 HTTP exchanges, oldest first (no tokens, no bodies).
    pub fn timeline(&self) -> Vec<Exchange> {
        self.inner.client.timeline()
    }

    /// Checks the configured vault now (a real write and read for the keyring).
    pub async fn vault_status(&self) -> VaultStatus {
        self.inner.vault.status().await
    }

    /// Stops the background scheduler (also done when the last clone drops).
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        self.inner.wake.notify_one();
    }

    /// Stops the scheduler, then waits for a refresh in flight (and its
    /// vault write) to finish: for an app on its way out, which would
    /// otherwise lose a successor the server already issued and present the
    /// rotated-away token next time (which reads as theft).
    pub async fn stop(&self) {
        self.shutdown();
        drop(self.inner.refresh_lock.lock().await);
    }

    /// Signs in with a password; the refresh token goes to the vault.
    pub async fn login(&self, username: &str, password: &str) -> Result<SessionState> {
        let inner = &self.inner;
        let _guard = inner.refresh_lock.lock().await;
        if inner.shared.lock().session.is_some() {
            return Err(ClientError::AlreadySignedIn);
        }
        let capabilities = inner.client.capabilities().await.ok().flatten();
        let pair = inner.client.obtain_pair(username, password).await?;
        let received = wall_now();
        let access = HeldToken::parse(pair.access, received)?;
        let refresh = HeldToken::parse(pair.refresh, received)?;
        self.begin(
            username,
            access,
            refresh,
            received,
            capabilities.map(|c| (*c).clone()),
        )
        .await
    }

    /// Takes a session signed in elsewhere (an OpenID provider's browser or
    /// device sign-in): `issued` needs a refresh token, which goes to the
    /// vault as the provider seals it (with its DPoP key).
    pub async fn login_with(&self, username: &str, issued: Issued) -> Result<SessionState> {
        let inner = &self.inner;
        let _guard = inner.refresh_lock.lock().await;
        if inner.shared.lock().session.is_some() {
            return Err(ClientError::AlreadySignedIn);
        }
        let received = wall_now();
        let Some(raw_refresh) = issued.refresh else {
            return Err(ClientError::OpenId(
                "the provider issued no refresh token (ask for offline_access, and check the \
                 client may use the refresh_token grant)"
                    .into(),
            ));
        };
        let access = inner.held(issued.access, received, issued.expires_in)?;
        let refresh = inner.held(raw_refresh, received, issued.refresh_expires_in)?;
        self.begin(username, access, refresh, received, None).await
    }

    /// Starts the session just issued (called with the refresh lock held):
    /// the refresh token to the vault, the state to active, the schedule
    /// planned, one state event.
    async fn begin(
        &self,
        username: &str,
        access: HeldToken,
        refresh: HeldToken,
        received: f64,
        capabilities: Option<Capabilities>,
    ) -> Result<SessionState> {
        let inner = &self.inner;
        let offset = access
            .claims
            .iat
            .map(|iat| clock_offset(iat, received))
            .unwrap_or(0.0);
        let (status, using_fallback) = inner.choose_vault().await;
        let vault = inner.vault_in_use(using_fallback);
        let write = inner.store_refresh(vault, username, &refresh.secret).await;
        {
            let mut s = inner.shared.lock();
            let mut session = Session {
                username: username.to_string(),
                access: Some(access),
                refresh,
                offset,
                rotate_at: None,
                rotation_count: 0,
                previous_refresh: None,
            };
            session.replan(&inner.config, wall_now());
            s.session = Some(session);
            s.phase = Phase::Active;
            s.attempts += 1;
            s.last_outcome = Ok(());
            s.retry_at = None;
            s.backoff_attempt = 0;
            s.capabilities = capabilities;
            s.using_fallback = using_fallback;
            s.vault.status = status;
            s.vault.persistent = inner.persistent && !using_fallback;
            inner.note_vault_write(&mut s, &write);
        }
        if let Err(e) = write {
            inner.emit(Event::VaultWarning {
                message: format!(
                    "the refresh token could not be stored: {e}; the session lives in memory only"
                ),
            });
        }
        inner.emit_state();
        self.ensure_scheduler();
        Ok(inner.snapshot())
    }

    /// Signs `username` back in from the vault, without a password: refreshes
    /// the stored token and goes on. Offline, the session is kept and retried
    /// (the state says [`Phase::Offline`]); refused, it ends with the reason.
    pub async fn restore(&self, username: &str) -> Result<SessionState> {
        let inner = &self.inner;
        let guard = inner.refresh_lock.lock().await;
        if inner.shared.lock().session.is_some() {
            return Err(ClientError::AlreadySignedIn);
        }
        let previous = inner.shared.lock().phase.clone();
        inner.set_phase(Phase::Restoring);
        let (status, using_fallback) = inner.choose_vault().await;
        {
            // Whatever happens next, the app learns whether a keyring is there.
            let mut s = inner.shared.lock();
            s.vault.status = status.clone();
            s.vault.persistent = inner.persistent && !using_fallback;
        }
        let vault = inner.vault_in_use(using_fallback);
        let loaded = vault.load(inner.provider.key(), username).await;
        let stored = match loaded.map(|o| o.map(|s| inner.provider.unseal(s))) {
            Ok(Some(Ok(secret))) => secret,
            Ok(Some(Err(e))) => {
                let _ = vault.delete(inner.provider.key(), username).await;
                inner.set_phase(previous);
                return Err(e);
            }
            Ok(None) => {
                inner.set_phase(previous);
                return Err(ClientError::NoStoredSession);
            }
            Err(e) => {
                {
                    let mut s = inner.shared.lock();
                    s.vault.status = e.status();
                    s.phase = previous;
                }
                inner.emit_state();
                return Err(e.into());
            }
        };
        let refresh = match inner.held(stored.expose().to_string(), wall_now(), None) {
            Ok(t) => t,
            Err(e) => {
                let _ = vault.delete(inner.provider.key(), username).await;
                inner.set_phase(previous);
                return Err(e);
            }
        };
        let capabilities = inner.client.capabilities().await.ok().flatten();
        {
            let mut s = inner.shared.lock();
            s.session = Some(Session {
                username: username.to_string(),
                access: None,
                refresh,
                offset: 0.0,
                rotate_at: None,
                rotation_count: 0,
                previous_refresh: None,
            });
            s.phase = Phase::Restoring;
            s.capabilities = capabilities.map(|c| (*c).clone());
            s.using_fallback = using_fallback;
            s.vault.status = status;
            s.vault.persistent = inner.persistent && !using_fallback;
            s.vault.stored = true;
            s.vault.warning = None;
            s.vault_dirty = false;
            s.backoff_attempt = 0;
        }
        inner.emit_state();
        self.ensure_scheduler();
        match inner.refresh_locked(&guard).await {
            Ok(()) => Ok(inner.snapshot()),
            Err(e) if e.is_transient() => Ok(inner.snapshot()),
            Err(e) => Err(e),
        }
    }

    /// A valid access token, refreshed first when the rotation point has
    /// passed. However many callers ask at once, one refresh is made.
    pub async fn access_token(&self) -> Result<String> {
        self.inner.access_token().await.map(|(t, _)| t)
    }

    /// For developer tools only: the current refresh token and the one the
    /// last rotation replaced (memory only; never logged or stored). The
    /// fault lab replays them to show reuse detection.
    pub fn dev_refresh_tokens(&self) -> (Option<Secret>, Option<Secret>) {
        let s = self.inner.shared.lock();
        match &s.session {
            Some(session) => (
                Some(session.refresh.secret.clone()),
                session.previous_refresh.clone(),
            ),
            None => (None, None),
        }
    }

    /// Rotates now (or joins the rotation already in flight).
    pub async fn rotate_now(&self) -> Result<()> {
        let seq = self.inner.shared.lock().attempts;
        self.inner.refresh_after(seq).await
    }

    /// A person's "Rotate now": rotates unless the tokens they were looking
    /// at have been replaced since, in which case the rotation they asked for
    /// has already happened. `seen` names what was on screen: the access
    /// token's `jti` as [`SessionState::access`] showed it, or the refresh
    /// token's when no access token was shown (restored while offline).
    ///
    /// Why not [`SessionManager::rotate_now`]: a window shows the state a
    /// moment late. After an outage the manager's scheduled retry can succeed
    /// between the server coming back and a click that was meant as "retry
    /// now"; rotating again on that click made two rotations of one request
    /// (the e2e test's "3 rotations" where 2 were expected).
    pub async fn rotate_now_from(&self, seen: &str) -> Result<()> {
        let seq = {
            let s = self.inner.shared.lock();
            let current = s.session.as_ref().and_then(|x| {
                x.access
                    .as_ref()
                    .map_or(x.refresh.claims.jti.as_deref(), |a| a.claims.jti.as_deref())
            });
            if matches!(s.phase, Phase::Active) && current.is_some_and(|c| c != seen) {
                return Ok(());
            }
            s.attempts
        };
        self.inner.refresh_after(seq).await
    }

    /// `method path` with the access token. A 401 for the token (expired, or
    /// refused) refreshes once and retries once; a refused refresh ends the
    /// session with its reason. Answers the body as JSON.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let path = path.to_string();
        self.authorized(move |client, token| {
            let (method, path, body) = (method.clone(), path.clone(), body.clone());
            async move {
                client
                    .send(
                        method,
                        &path,
                        &[],
                        Credentials::bearer(&token),
                        body.as_ref(),
                    )
                    .await?
                    .value()
            }
        })
        .await
    }

    /// Who the access token belongs to by the issuer's own endpoint (an
    /// OpenID provider's userinfo, with a DPoP proof for a bound session):
    /// `None` when the issuer has none besides `api/me/` ([`SessionManager::me`]).
    pub async fn provider_identity(&self) -> Option<Result<(String, String)>> {
        let provider = Arc::clone(&self.inner.provider);
        if provider.warden_routes() {
            return None;
        }
        Some(
            self.authorized(move |_, token| {
                let provider = Arc::clone(&provider);
                async move {
                    match provider.identity(&token) {
                        Some(f) => f.await,
                        None => Err(ClientError::Unavailable(Feature::Staff)),
                    }
                }
            })
            .await,
        )
    }

    /// `GET api/me/`.
    pub async fn me(&self) -> Result<Me> {
        if !self.inner.provider.warden_routes() {
            // An OpenID provider has no `api/me/` (its userinfo is another shape).
            return Err(ClientError::Unavailable(Feature::Staff));
        }
        self.authorized(|client, token| async move { client.me(&token).await })
            .await
    }

    /// Ends this session on the server (`api/logout/`, or SimpleJWT's
    /// `api/token/blacklist/`) and here. The local sign-out happens even when
    /// the server cannot be reached; the error then says so.
    pub async fn logout(&self) -> Result<()> {
        let inner = &self.inner;
        let guard = inner.refresh_lock.lock().await;
        let (access, refresh) = {
            let s = inner.shared.lock();
            let Some(session) = &s.session else {
                return Ok(());
            };
            let now = wall_now();
            (
                session.access_valid_at(now + 1.0).map(|a| a.secret.clone()),
                session.refresh.secret.clone(),
            )
        };
        let result = inner
            .provider
            .end(access.as_ref().map(Secret::expose), refresh.expose())
            .await;
        inner
            .sign_out_locked(&guard, SignOutReason::LoggedOut)
            .await;
        match result {
            Ok(()) => Ok(()),
            // Already over on the server: the outcome the caller wanted.
            Err(e) if SignOutReason::from_refresh_error(&e).is_some() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Ends the session here and hands its tokens to the caller, telling the
    /// server nothing and leaving the vault entry as it is; `None` when
    /// nobody is signed in.
    ///
    /// For a caller that delivers the revocation itself, later if the server
    /// cannot be reached now (the desktop app's revocation outbox): it puts
    /// the refresh token somewhere safe first, and only then clears the vault
    /// entry, so a crash in between leaves a session to revoke rather than a
    /// revocation lost. No rotation can slip in between: the session is gone
    /// from this manager before the refresh lock is released.
    pub async fn sign_out_locally(&self) -> Option<EndedSession> {
        let inner = &self.inner;
        let _guard = inner.refresh_lock.lock().await;
        let ended = {
            let mut s = inner.shared.lock();
            let session = s.session.take()?;
            let reason = SignOutReason::LoggedOut;
            s.phase = Phase::SignedOut {
                reason: Some(reason.clone()),
            };
            s.attempts += 1;
            s.last_outcome = Err(ClientError::SignedOut(reason));
            s.retry_at = None;
            s.backoff_attempt = 0;
            s.vault_dirty = false;
            s.vault.stored = false;
            s.vault.warning = None;
            let now = wall_now();
            EndedSession {
                session_id: session
                    .access
                    .as_ref()
                    .and_then(|a| a.claims.sid.clone())
                    .or_else(|| session.refresh.claims.sid.clone()),
                access: session.access_valid_at(now + 1.0).map(|a| a.secret.clone()),
                refresh: session.refresh.secret,
                username: session.username,
                stored_in_vault: !s.using_fallback,
            }
        };
        inner.emit_state();
        Some(ended)
    }

    /// Ends every session of the user (this one included); how many ended.
    pub async fn logout_all(&self) -> Result<usize> {
        self.require(Feature::LogoutAll).await?;
        let n = self
            .authorized(|client, token| async move { client.logout_all(&token).await })
            .await?;
        let guard = self.inner.refresh_lock.lock().await;
        self.inner
            .sign_out_locked(&guard, SignOutReason::LoggedOut)
            .await;
        Ok(n)
    }

    /// The user's live sessions.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        self.require(Feature::Sessions).await?;
        self.authorized(|client, token| async move { client.sessions(&token, false).await })
            .await
    }

    /// Ends one of the user's sessions; ending this one signs out here too.
    pub async fn revoke_session(&self, id: &str) -> Result<bool> {
        self.require(Feature::Sessions).await?;
        let id_owned = id.to_string();
        let revoked = self
            .authorized(move |client, token| {
                let id = id_owned.clone();
                async move { client.revoke_session(&token, &id).await }
            })
            .await?;
        if self.current_session_id().as_deref() == Some(id) {
            let guard = self.inner.refresh_lock.lock().await;
            self.inner
                .sign_out_locked(&guard, SignOutReason::LoggedOut)
                .await;
        }
        Ok(revoked)
    }

    /// Changes the password; the server ends the user's other sessions (how many).
    pub async fn change_password(&self, old_password: &str, new_password: &str) -> Result<usize> {
        self.require(Feature::ChangePassword).await?;
        let (old, new) = (old_password.to_string(), new_password.to_string());
        self.authorized(move |client, token| {
            let (old, new) = (old.clone(), new.clone());
            async move { client.change_password(&token, &old, &new).await }
        })
        .await
    }

    /// Runs `call` with a valid access token; on a 401 for that token,
    /// refreshes once and runs it once more.
    pub async fn authorized<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(Client, String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let inner = &self.inner;
        let (token, seq) = inner.access_token().await?;
        match call(inner.client.clone(), token).await {
            Err(e @ (ClientError::UserInactive | ClientError::UserNotFound)) => {
                let reason =
                    SignOutReason::from_refresh_error(&e).unwrap_or(SignOutReason::UserInactive);
                let guard = inner.refresh_lock.lock().await;
                inner.sign_out_locked(&guard, reason.clone()).await;
                Err(ClientError::SignedOut(reason))
            }
            Err(ClientError::TokenNotValid { .. }) => {
                inner.refresh_after(seq).await?;
                let (token, _) = inner.access_token().await?;
                call(inner.client.clone(), token).await
            }
            other => other,
        }
    }

    fn current_session_id(&self) -> Option<String> {
        let s = self.inner.shared.lock();
        let session = s.session.as_ref()?;
        session
            .access
            .as_ref()
            .and_then(|a| a.claims.sid.clone())
            .or_else(|| session.refresh.claims.sid.clone())
    }

    async fn require(&self, feature: Feature) -> Result<()> {
        if !self.inner.provider.warden_routes() {
            // An OpenID provider: Warden's routes do not exist there.
            return Err(ClientError::Unavailable(feature));
        }
        if self.inner.client.supports(feature).await? {
            Ok(())
        } else {
            Err(ClientError::Unavailable(feature))
        }
    }

    fn ensure_scheduler(&self) {
        if self.inner.scheduler_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let wake = self.inner.wake.clone();
        let shutdown = self.inner.shutdown.subscribe();
        let threshold = self.inner.config.clock_jump_threshold;
        tokio::spawn(run_scheduler(weak, wake, shutdown, threshold));
    }
}

async fn run_scheduler(
    weak: Weak<Inner>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    threshold: Duration,
) {
    let mut watch = ClockWatch::new(threshold);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let sleep_for = match weak.upgrade() {
            Some(inner) => inner.next_wakeup(),
            None => break,
        };
        tokio::select! {
            _ = async {
                match sleep_for {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => {}
            _ = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        }
        let Some(inner) = weak.upgrade() else {
            break;
        };
        if let Some(jump) = watch.observe() {
            inner.on_clock_jump(jump);
        }
        inner.tick().await;
    }
    tracing::debug!("session scheduler stopped");
}

impl Inner {
    /// A token as this session's provider issues them.
    fn held(&self, raw: String, received: f64, expires_in: Option<u64>) -> Result<HeldToken> {
        if self.provider.opaque_tokens() {
            Ok(HeldToken::parse_lenient(raw, received, expires_in))
        } else {
            HeldToken::parse(raw, received)
        }
    }

    /// Stores the refresh token as the provider seals it.
    async fn store_refresh(
        &self,
        vault: &AsyncVault,
        username: &str,
        refresh: &Secret,
    ) -> std::result::Result<(), crate::vault::VaultError> {
        match self.provider.seal(refresh) {
            Ok(sealed) => vault.store(self.provider.key(), username, &sealed).await,
            Err(e) => Err(crate::vault::VaultError::Platform(e.to_string())),
        }
    }

    fn snapshot(&self) -> SessionState {
        let s = self.shared.lock();
        let session = s.session.as_ref();
        SessionState {
            phase: s.phase.clone(),
            server: self.provider.key().to_string(),
            user: session.map(|x| x.username.clone()),
            user_id: session.and_then(|x| {
                x.access
                    .as_ref()
                    .and_then(|a| a.claims.user_id.clone())
                    .or_else(|| x.refresh.claims.user_id.clone())
            }),
            session_id: session.and_then(|x| {
                x.access
                    .as_ref()
                    .and_then(|a| a.claims.sid.clone())
                    .or_else(|| x.refresh.claims.sid.clone())
            }),
            access: session.and_then(|x| x.access.as_ref().map(|a| a.info(x.offset))),
            refresh: session.map(|x| x.refresh.info(x.offset)),
            next_rotation_at: match s.phase {
                Phase::Offline { .. } => s.retry_at,
                _ => session.and_then(|x| x.rotate_at),
            },
            rotation_count: session.map(|x| x.rotation_count).unwrap_or(0),
            vault: s.vault.clone(),
            capabilities: s.capabilities.clone(),
        }
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    fn emit_state(&self) {
        self.emit(Event::StateChanged(Box::new(self.snapshot())));
    }

    fn set_phase(&self, phase: Phase) {
        self.shared.lock().phase = phase;
        self.emit_state();
    }

    fn vault_in_use(&self, using_fallback: bool) -> &AsyncVault {
        if using_fallback {
            &self.fallback
        } else {
            &self.vault
        }
    }

    /// The configured vault when it works now, else memory.
    async fn choose_vault(&self) -> (VaultStatus, bool) {
        let status = self.vault.status().await;
        let fallback = !status.is_available();
        if fallback {
            tracing::warn!(status = ?status, "vault unavailable; keeping the session in memory only");
        }
        (status, fallback)
    }

    fn note_vault_write(
        &self,
        s: &mut Shared,
        write: &std::result::Result<(), crate::vault::VaultError>,
    ) {
        match write {
            Ok(()) => {
                s.vault.stored = true;
                s.vault.warning = None;
                s.vault_dirty = false;
            }
            Err(e) => {
                s.vault.stored = false;
                s.vault.warning = Some(e.to_string());
                s.vault_dirty = true;
                s.vault_retry_at = wall_now() + VAULT_RETRY_SECS;
            }
        }
    }

    async fn access_token(&self) -> Result<(String, u64)> {
        let seq = {
            let s = self.shared.lock();
            let Some(session) = &s.session else {
                return Err(signed_out_error(&s.phase));
            };
            let now = wall_now();
            if let (Some(access), Phase::Active | Phase::Rotating) = (&session.access, &s.phase)
                && session.rotate_at.is_some_and(|t| now < t)
            {
                return Ok((access.secret.expose().to_string(), s.attempts));
            }
            if let Phase::Offline { .. } = s.phase {
                if let Some(access) = session.access_valid_at(now + 0.5) {
                    return Ok((access.secret.expose().to_string(), s.attempts));
                }
                if let Some(retry_at) = s.retry_at.filter(|t| now < *t) {
                    return Err(ClientError::Offline {
                        retry_in: secs(retry_at - now),
                    });
                }
            }
            s.attempts
        };
        let outcome = self.refresh_after(seq).await;
        let s = self.shared.lock();
        let Some(session) = &s.session else {
            return Err(match outcome {
                Err(e) => e,
                Ok(()) => signed_out_error(&s.phase),
            });
        };
        // After a refresh (ours or another caller's), or a failed one that left
        // the old token still valid, hand out what is valid.
        match session.access_valid_at(wall_now()) {
            Some(access) => Ok((access.secret.expose().to_string(), s.attempts)),
            None => Err(match outcome {
                Err(e) => e,
                Ok(()) => ClientError::Offline {
                    retry_in: secs(s.retry_at.map(|t| t - wall_now()).unwrap_or(0.0)),
                },
            }),
        }
    }

    /// Refreshes unless someone else attempted a refresh since `seen`, in which
    /// case their outcome is ours.
    async fn refresh_after(&self, seen: u64) -> Result<()> {
        let guard = self.refresh_lock.lock().await;
        {
            let s = self.shared.lock();
            if s.attempts != seen {
                return s.last_outcome.clone();
            }
            if s.session.is_none() {
                return Err(signed_out_error(&s.phase));
            }
        }
        self.refresh_locked(&guard).await
    }

    /// One refresh; the caller holds the refresh lock.
    async fn refresh_locked(&self, guard: &tokio::sync::MutexGuard<'_, ()>) -> Result<()> {
        let (refresh, username, using_fallback) = {
            let mut s = self.shared.lock();
            let Some(session) = &s.session else {
                return Err(signed_out_error(&s.phase));
            };
            let out = (
                session.refresh.secret.clone(),
                session.username.clone(),
                s.using_fallback,
            );
            if !matches!(s.phase, Phase::Restoring) {
                s.phase = Phase::Rotating;
            }
            out
        };
        self.emit_state();
        let result = self.provider.refresh(refresh.expose()).await;
        let received = wall_now();
        let answer = result.and_then(|r| {
            let access = self.held(r.access, received, r.expires_in)?;
            // No new refresh token: the one presented stays (RFC 6749 §6).
            let refresh = r
                .refresh
                .map(|t| self.held(t, received, r.refresh_expires_in))
                .transpose()?;
            Ok((access, refresh))
        });
        let (access, new_refresh) = match answer {
            Ok(tokens) => tokens,
            Err(e) => {
                return match SignOutReason::from_refresh_error(&e) {
                    Some(reason) => {
                        tracing::info!(reason = %reason, "refresh refused; signing out");
                        self.sign_out_locked(guard, reason.clone()).await;
                        Err(ClientError::SignedOut(reason))
                    }
                    None => {
                        self.go_offline(&e);
                        Err(e)
                    }
                };
            }
        };
        // Write the new refresh token before forgetting the old one: with
        // BLACKLIST_AFTER_ROTATION the old one is dead from now on.
        let vault = self.vault_in_use(using_fallback);
        let write = match &new_refresh {
            Some(t) => Some(self.store_refresh(vault, &username, &t.secret).await),
            None => None,
        };
        if let Some(Err(_)) = &write {
            // The vault still holds the rotated-away token; replaying it on the
            // next start would look like theft. Clear it if we can.
            let _ = vault.delete(self.provider.key(), &username).await;
        }
        let count = {
            let mut s = self.shared.lock();
            let now = wall_now();
            let Some(session) = s.session.as_mut() else {
                return Err(signed_out_error(&s.phase));
            };
            let offset = access
                .claims
                .iat
                .map(|iat| clock_offset(iat, received))
                .unwrap_or(session.offset);
            session.offset = offset;
            session.access = Some(access);
            if let Some(t) = new_refresh {
                let old = std::mem::replace(&mut session.refresh, t);
                session.previous_refresh = Some(old.secret);
            }
            session.rotation_count += 1;
            session.replan(&self.config, now);
            let count = session.rotation_count;
            s.phase = Phase::Active;
            s.attempts += 1;
            s.last_outcome = Ok(());
            s.last_attempt_at = now;
            s.retry_at = None;
            s.backoff_attempt = 0;
            if let Some(w) = &write {
                self.note_vault_write(&mut s, w);
            }
            count
        };
        if let Some(Err(e)) = write {
            tracing::warn!(error = %e, "could not store the rotated refresh token");
            self.emit(Event::VaultWarning {
                message: format!(
                    "the new refresh token could not be stored: {e}; the session goes on in memory"
                ),
            });
        }
        self.emit(Event::Rotated { count });
        self.emit_state();
        Ok(())
    }

    fn go_offline(&self, e: &ClientError) {
        {
            let mut s = self.shared.lock();
            s.backoff_attempt = s.backoff_attempt.saturating_add(1);
            let delay = backoff_delay(
                s.backoff_attempt,
                self.config.backoff_initial,
                self.config.backoff_max,
                jitter(),
            );
            s.retry_at = Some(wall_now() + delay.as_secs_f64());
            s.phase = Phase::Offline {
                retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                attempt: s.backoff_attempt,
                cause: e.to_string(),
            };
            s.attempts += 1;
            s.last_outcome = Err(e.clone());
            s.last_attempt_at = wall_now();
        }
        tracing::info!(error = %e, "refresh failed; retrying with back-off");
        self.emit_state();
    }

    /// Ends the session here and clears its vault entry. The caller holds the refresh lock.
    async fn sign_out_locked(
        &self,
        _guard: &tokio::sync::MutexGuard<'_, ()>,
        reason: SignOutReason,
    ) {
        let (username, using_fallback) = {
            let mut s = self.shared.lock();
            let username = s.session.take().map(|x| x.username);
            s.phase = Phase::SignedOut {
                reason: Some(reason.clone()),
            };
            s.attempts += 1;
            s.last_outcome = Err(ClientError::SignedOut(reason));
            s.retry_at = None;
            s.backoff_attempt = 0;
            s.vault_dirty = false;
            (username, s.using_fallback)
        };
        if let Some(username) = username {
            let deleted = self
                .vault_in_use(using_fallback)
                .delete(self.provider.key(), &username)
                .await;
            let mut s = self.shared.lock();
            match deleted {
                Ok(()) => {
                    s.vault.stored = false;
                    s.vault.warning = None;
                }
                Err(e) => {
                    let message = format!("the stored session could not be deleted: {e}");
                    s.vault.warning = Some(message.clone());
                    drop(s);
                    self.emit(Event::VaultWarning { message });
                }
            }
        }
        self.emit_state();
    }

    /// How long the scheduler may sleep: until the next rotation or retry.
    fn next_wakeup(&self) -> Option<Duration> {
        let s = self.shared.lock();
        let session = s.session.as_ref()?;
        let now = wall_now();
        let due = match s.phase {
            Phase::Offline { .. } => s.retry_at,
            Phase::Active => session
                .rotate_at
                .map(|t| t.max(s.last_attempt_at + MIN_SCHEDULED_GAP_SECS)),
            _ => None,
        };
        let tick = self.config.tick;
        Some(due.map(|t| secs(t - now).min(tick)).unwrap_or(tick))
    }

    fn on_clock_jump(&self, jump: f64) {
        tracing::info!(seconds = jump, "wall clock jumped; re-planning rotation");
        {
            let mut s = self.shared.lock();
            let now = wall_now();
            if let Some(session) = s.session.as_mut() {
                // Set back: the server's clock did not move with ours.
                // Forward (suspend, or set forward): real time passed or the next
                // token's `iat` will reveal the new skew.
                if jump < 0.0 {
                    session.offset += jump;
                }
                session.replan(&self.config, now);
            }
            if jump < 0.0
                && let Some(t) = s.retry_at.as_mut()
            {
                *t += jump;
            }
        }
        self.emit(Event::ClockJump { seconds: jump });
        self.emit_state();
    }

    async fn tick(&self) {
        let now = wall_now();
        let (due, expired) = {
            let s = self.shared.lock();
            match (&s.phase, &s.session) {
                (Phase::Active, Some(session)) => (
                    session
                        .rotate_at
                        .is_some_and(|t| {
                            now >= t && now >= s.last_attempt_at + MIN_SCHEDULED_GAP_SECS
                        })
                        .then_some(s.attempts),
                    false,
                ),
                (Phase::Offline { .. }, Some(session)) => {
                    let expired = session
                        .refresh
                        .local_exp(session.offset)
                        .is_some_and(|exp| now >= exp);
                    (
                        s.retry_at.is_some_and(|t| now >= t).then_some(s.attempts),
                        expired,
                    )
                }
                _ => (None, false),
            }
        };
        if expired {
            let guard = self.refresh_lock.lock().await;
            if self.shared.lock().session.is_some() {
                self.sign_out_locked(&guard, SignOutReason::RefreshExpired)
                    .await;
            }
            return;
        }
        if let Some(seq) = due {
            let _ = self.refresh_after(seq).await;
        }
        self.retry_vault_write().await;
    }

    /// Puts the current refresh token into a vault that missed it.
    async fn retry_vault_write(&self) {
        let now = wall_now();
        let pending = {
            let s = self.shared.lock();
            match &s.session {
                Some(session) if s.vault_dirty && now >= s.vault_retry_at => Some((
                    session.username.clone(),
                    session.refresh.secret.clone(),
                    s.using_fallback,
                )),
                _ => None,
            }
        };
        let Some((username, secret, using_fallback)) = pending else {
            return;
        };
        let _guard = self.refresh_lock.lock().await;
        // The token may have rotated while we waited; store the current one.
        let secret = match &self.shared.lock().session {
            Some(session) if session.username == username => session.refresh.secret.clone(),
            _ => secret,
        };
        let write = self
            .store_refresh(self.vault_in_use(using_fallback), &username, &secret)
            .await;
        {
            let mut s = self.shared.lock();
            if s.session.is_some() {
                self.note_vault_write(&mut s, &write);
            }
        }
        if write.is_ok() {
            self.emit_state();
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
