//! The app's profiles at run time: one [`SessionManager`] per profile, each
//! with its own rotation schedule, timeline and keyring entry, so that one
//! server going away disturbs no other profile. The set restores every
//! profile on start without passwords, adds, renames and removes profiles,
//! says which is active, hands tokens to other programs (the broker) and
//! owns the revocation outbox.
//!
//! The app holds each profile's lock file for as long as it manages that
//! profile, and reads the profile's refresh token from the keyring only
//! once it holds it: the `warden` command, rotating without the app, takes
//! the same lock, so no two processes ever present one refresh token.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use warden_client::{
    AsyncVault, Client, ClientConfig, ClientError, Event, Feature, ManagerConfig, Phase,
    SessionManager, SessionState, Vault, decode_claims, wall_now,
};

use crate::broker::{ProfileSummary, TokenGrant};
use crate::error::{Error, Result};
use crate::locks::LockFile;
use crate::outbox::{Attempt, Job, Outbox, OutboxConfig, PendingRevocation, Revocation};
use crate::paths::{AppPaths, ensure_private_dir};
use crate::profiles::{Profile, ProfileId, ProfilesFile, ServerKind, check_name};
use crate::session::StateView;
use crate::vault::StableKeyVault;

/// Entries kept per profile beyond its HTTP exchanges.
const ACTIVITY_CAPACITY: usize = 200;
/// How long an operation waits for a profile whose lock another Warden
/// process holds (the `warden` command rotating: well under a second).
const READY_WAIT: Duration = Duration::from_secs(30);
/// Where an embedded profile points when this set has no embedded server
/// (the discard port: nothing answers, nothing is sent).
const NOWHERE: &str = "http://127.0.0.1:9/";

/// This computer's embedded server, as the app started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedServer {
    /// `http://127.0.0.1:PORT/` (a new port every run).
    pub url: String,
    /// The keyring entry its sessions were filed under before profiles
    /// (`warden-embedded:<database path>`): the upgrade keeps it.
    pub vault_key: String,
}

/// How to run the profiles.
#[derive(Debug, Clone)]
pub struct ProfileSetConfig {
    /// The data and runtime directories.
    pub paths: AppPaths,
    /// Where refresh tokens live (the OS keyring; memory in some tests).
    pub vault: Arc<dyn Vault>,
    /// This computer's server, when the app runs one.
    pub embedded: Option<EmbeddedServer>,
    /// Each profile's rotation schedule and back-off.
    pub manager: ManagerConfig,
    /// The outbox's retries.
    pub outbox: OutboxConfig,
}

/// Something for a profile's timeline besides its HTTP exchanges.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Activity {
    /// Unix milliseconds, as an exchange's `at`.
    pub at: i64,
    /// What happened.
    pub what: ActivityKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
/// What an [`Activity`] was.
pub enum ActivityKind {
    /// An access token went to another program (`warden token`, `warden exec`).
    HandedOut {
        /// `warden (pid 4242)`.
        to: String,
        /// The token's `jti`.
        jti: Option<String>,
        /// The token's `exp`.
        expires_at: Option<i64>,
    },
    /// Signed out here; the server is to be told.
    RevocationQueued {
        /// What is to be revoked.
        what: Revocation,
        /// Where (`this computer` or host and port).
        server: String,
    },
    /// The server ended it (`revoked`: how many sessions, for log out everywhere).
    RevocationDelivered {
        /// What was revoked.
        what: Revocation,
        /// Where.
        server: String,
        /// How many sessions ended (log out everywhere, a revoked session).
        revoked: Option<usize>,
    },
    /// It could not be delivered and never will be.
    RevocationAbandoned {
        /// What was to be revoked.
        what: Revocation,
        /// Where.
        server: String,
        /// Why it never will be.
        reason: String,
    },
    /// RP-initiated logout: the OpenID provider's own browser session.
    BrowserLogout {
        /// Where.
        server: String,
        /// How far it got.
        outcome: BrowserLogoutOutcome,
        /// In words.
        detail: String,
    },
}

/// How an OpenID provider's browser logout went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BrowserLogoutOutcome {
    /// The end-session page is open in the browser.
    Opened,
    /// The provider sent the browser back: its session there has ended.
    Done,
    /// It could not be done (the words say why).
    Failed,
    /// Not tried: the provider could not be reached (or had no hint).
    Skipped,
}

/// What the set reports, on one broadcast channel for every profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProfilesEvent {
    /// One profile's session manager reported `event`.
    Session {
        /// Whose.
        profile: ProfileId,
        /// What its manager said.
        event: Event,
    },
    /// Profiles were added, renamed or removed, or another became active.
    Changed,
    /// A new entry of a profile's [`ProfileSet::activity`].
    Activity {
        /// Whose.
        profile: ProfileId,
        /// The entry.
        activity: Activity,
    },
    /// The outbox changed: see [`ProfileSet::pending`].
    Outbox,
}

/// One profile as the window shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProfileView {
    /// The profile.
    pub profile: Profile,
    /// It is the one the window shows.
    pub active: bool,
    /// Its session now.
    pub session: StateView,
    /// Its revocations waiting for the server.
    pub pending: Vec<PendingRevocation>,
}

/// How a logout (or log out everywhere, or a revoked session) went.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RevocationOutcome {
    /// The server ended it; `revoked`: how many sessions (log out everywhere).
    Delivered {
        /// How many sessions ended, when the server says.
        revoked: Option<usize>,
    },
    /// Ended here; the server is told when it can be reached.
    Pending {
        /// The outbox's entry, for the window.
        pending: PendingRevocation,
    },
    /// Ended here; the server cannot be told (the reason says why).
    Abandoned {
        /// Why.
        reason: String,
    },
    /// Nobody was signed in.
    NotSignedIn,
}

impl RevocationOutcome {
    /// As a command answers it: how many sessions ended (when the server
    /// says), or why the server has not heard of it (yet) as an error the
    /// window shows, "Signed out here. This session will be revoked when
    /// auth.example.com is reachable."
    pub fn revoked(self) -> Result<Option<usize>> {
        match self {
            RevocationOutcome::Delivered { revoked } => Ok(revoked),
            RevocationOutcome::NotSignedIn => Ok(None),
            RevocationOutcome::Pending { pending } => Err(Error::Pending(pending.message)),
            RevocationOutcome::Abandoned { reason } => Err(Error::NotRevoked(reason)),
        }
    }
}

struct Slot {
    profile: Profile,
    manager: Arc<SessionManager>,
    /// True once this set holds the profile's lock and has restored it.
    ready: watch::Receiver<bool>,
    /// The profile's lock file, once held; released when the slot goes (or,
    /// if a restore is under way then, once it has stored what it got).
    _lock: Arc<Mutex<Option<LockFile>>>,
    /// Forwards the manager's events; stopped with the slot.
    forward: JoinHandle<()>,
    activity: VecDeque<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.manager.shutdown();
        // Not the task restoring the profile: cut off between the server's
        // rotation and the keyring write, it would lose the successor and
        // leave a rotated-away token to be presented next time (reuse). It
        // notices the slot is gone while it waits for the lock.
        self.forward.abort();
    }
}

struct SetState {
    active: Option<ProfileId>,
    /// In the file's order.
    slots: Vec<Slot>,
}

impl SetState {
    fn slot(&self, id: &ProfileId) -> Option<&Slot> {
        self.slots.iter().find(|s| &s.profile.id == id)
    }

    fn slot_mut(&mut self, id: &ProfileId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| &s.profile.id == id)
    }

    fn file(&self) -> ProfilesFile {
        ProfilesFile {
            version: 1,
            active: self.active.clone(),
            profiles: self.slots.iter().map(|s| s.profile.clone()).collect(),
        }
    }
}

/// Opens a URL in the configured browser (the system's, or a test's automaton).
pub type BrowserOpener = Arc<dyn Fn(&str) -> warden_client::Result<()> + Send + Sync>;

struct Inner {
    /// Where an OpenID provider's logout page is opened.
    browser: Mutex<BrowserOpener>,
    paths: AppPaths,
    vault: Arc<dyn Vault>,
    embedded: Option<EmbeddedServer>,
    manager_config: ManagerConfig,
    state: Mutex<SetState>,
    events: broadcast::Sender<ProfilesEvent>,
    outbox: Outbox,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The profiles, running. Cheap to clone.
#[derive(Clone)]
pub struct ProfileSet {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProfileSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.state.lock();
        f.debug_struct("ProfileSet")
            .field("data_dir", &self.inner.paths.data_dir)
            .field("profiles", &s.slots.len())
            .field("active", &s.active)
            .finish_non_exhaustive()
    }
}

impl ProfileSet {
    /// Reads the profiles (migrating the single remembered session on the
    /// first start after an upgrade) and the outbox, and starts restoring
    /// every profile in the background: each as soon as its lock is free.
    pub async fn open(config: ProfileSetConfig) -> Result<ProfileSet> {
        let ProfileSetConfig {
            paths,
            vault,
            embedded,
            manager,
            outbox,
        } = config;
        for dir in [&paths.data_dir, &paths.locks_dir()] {
            ensure_private_dir(dir).map_err(|e| Error::io("prepare", dir, e))?;
        }
        let embedded_key = embedded
            .as_ref()
            .map(|e| e.vault_key.clone())
            .unwrap_or_default();
        let file = ProfilesFile::load_or_migrate(&paths, &embedded_key)?;
        let outbox = Outbox::open(&paths, Arc::clone(&vault), outbox)?;
        let (events, _) = broadcast::channel(1024);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            browser: Mutex::new(Arc::new(warden_client::oidc::system_browser)),
            paths,
            vault,
            embedded,
            manager_config: manager,
            state: Mutex::new(SetState {
                active: None,
                slots: Vec::new(),
            }),
            events,
            outbox,
            shutdown,
        });
        let mut slots = Vec::new();
        for profile in &file.profiles {
            slots.push(inner.open_slot(profile.clone(), None)?);
        }
        {
            let mut s = inner.state.lock();
            s.slots = slots;
            s.active = file
                .active
                .filter(|id| s.slot(id).is_some())
                .or_else(|| s.slots.first().map(|x| x.profile.id.clone()));
        }
        tokio::spawn(delivery_loop(
            Arc::downgrade(&inner),
            Arc::clone(inner.outbox.wake()),
            inner.shutdown.subscribe(),
        ));
        Ok(ProfileSet { inner })
    }

    /// Opens OpenID providers' logout pages with `open` from now on (the
    /// system browser, `$BROWSER`, until then).
    pub fn set_browser(&self, open: BrowserOpener) {
        *self.inner.browser.lock() = open;
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ProfilesEvent> {
        self.inner.events.subscribe()
    }

    /// Its directories.
    pub fn paths(&self) -> &AppPaths {
        &self.inner.paths
    }

    /// The profiles, in order.
    pub fn profiles(&self) -> Vec<Profile> {
        let s = self.inner.state.lock();
        s.slots.iter().map(|x| x.profile.clone()).collect()
    }

    /// One profile.
    pub fn profile(&self, id: &ProfileId) -> Option<Profile> {
        self.inner.state.lock().slot(id).map(|x| x.profile.clone())
    }

    /// The profile the window shows (`None`: no profiles).
    pub fn active(&self) -> Option<ProfileId> {
        self.inner.state.lock().active.clone()
    }

    /// The active profile and its session manager.
    pub fn active_session(&self) -> Option<(Profile, Arc<SessionManager>)> {
        let s = self.inner.state.lock();
        let slot = s.active.as_ref().and_then(|id| s.slot(id))?;
        Some((slot.profile.clone(), Arc::clone(&slot.manager)))
    }

    /// A profile's session manager (restoring it may still be under way:
    /// [`ProfileSet::ready`] waits for that).
    pub fn manager(&self, id: &ProfileId) -> Result<Arc<SessionManager>> {
        let s = self.inner.state.lock();
        s.slot(id)
            .map(|x| Arc::clone(&x.manager))
            .ok_or_else(|| unknown(id, &s))
    }

    /// Waits until the set holds `id`'s lock and has restored it; then its manager.
    pub async fn ready(&self, id: &ProfileId) -> Result<Arc<SessionManager>> {
        self.inner.ready(id).await.map(|(_, m)| m)
    }

    /// Every profile with its session and pending revocations.
    pub fn views(&self) -> Vec<ProfileView> {
        let pending = self.inner.outbox.pending();
        let s = self.inner.state.lock();
        s.slots
            .iter()
            .map(|x| ProfileView {
                profile: x.profile.clone(),
                active: s.active.as_ref() == Some(&x.profile.id),
                session: StateView::new(
                    x.manager.state(),
                    x.profile.server == ServerKind::Embedded,
                ),
                pending: pending
                    .iter()
                    .filter(|p| p.profile == x.profile.id)
                    .cloned()
                    .collect(),
            })
            .collect()
    }

    /// Every revocation waiting for its server (profiles removed since included).
    pub fn pending(&self) -> Vec<PendingRevocation> {
        self.inner.outbox.pending()
    }

    /// A profile's hand-outs and revocations, oldest first.
    pub fn activity(&self, id: &ProfileId) -> Vec<Activity> {
        let s = self.inner.state.lock();
        s.slot(id)
            .map(|x| x.activity.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The profiles as `warden profiles` lists them.
    pub fn summaries(&self) -> (Vec<ProfileSummary>, Option<ProfileId>) {
        let s = self.inner.state.lock();
        let list = s
            .slots
            .iter()
            .map(|x| ProfileSummary {
                id: x.profile.id.clone(),
                name: x.profile.name.clone(),
                server: x.profile.server.place(),
                account: x.profile.account.clone(),
                state: phase_name(&x.manager.state().phase).to_string(),
            })
            .collect();
        (list, s.active.clone())
    }

    /// `server` is reachable again as far as the app knows (the embedded
    /// server switched back on): revocations waiting for it are tried now,
    /// not at their next back-off.
    pub fn server_seen(&self, server: &ServerKind) {
        self.inner.outbox.kick(server);
    }

    /// Makes `id` the profile the window shows and `warden token` uses.
    pub fn set_active(&self, id: &ProfileId) -> Result<()> {
        {
            let mut s = self.inner.state.lock();
            if s.slot(id).is_none() {
                return Err(unknown(id, &s));
            }
            s.active = Some(id.clone());
        }
        self.inner.save()?;
        self.inner.emit(ProfilesEvent::Changed);
        Ok(())
    }

    /// Renames `id` (names are unique, in any case).
    pub fn rename(&self, id: &ProfileId, name: &str) -> Result<()> {
        let name = check_name(name)?;
        {
            let mut s = self.inner.state.lock();
            let file = s.file();
            if file.unique_name(&name, Some(id)) != name {
                return Err(Error::NameTaken(name));
            }
            let Some(slot) = s.slot_mut(id) else {
                return Err(unknown(id, &s));
            };
            slot.profile.name = name;
        }
        self.inner.save()?;
        self.inner.emit(ProfilesEvent::Changed);
        Ok(())
    }

    /// Signs in to `server` as `username` in a new profile (named `name`, or
    /// `username @ server`), which becomes the active one. Nothing is kept
    /// when the sign-in fails.
    pub async fn sign_in_new(
        &self,
        server: ServerKind,
        username: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<ProfileId> {
        let inner = &self.inner;
        let name = match name {
            Some(n) => Some(check_name(n)?),
            None => None,
        };
        let id = ProfileId::generate()?;
        let lock_path = inner.paths.profile_lock(&id);
        let lock = LockFile::try_acquire(&lock_path)
            .map_err(|e| Error::io("lock", &lock_path, e))?
            .ok_or_else(|| Error::Busy(format!("{} is locked", lock_path.display())))?;
        let profile = Profile {
            name: name.unwrap_or_else(|| Profile::default_name(username, &server)),
            vault_key: Profile::vault_key_for(&id),
            id: id.clone(),
            server,
            account: username.to_string(),
        };
        let slot = inner.open_slot(profile, Some(lock))?;
        let manager = Arc::clone(&slot.manager);
        if let Err(e) = manager.login(username, password).await {
            drop(slot);
            let _ = std::fs::remove_file(&lock_path);
            return Err(e.into());
        }
        inner.add_signed_in(slot, id)
    }

    /// Signs in at an OpenID provider through `open` (the system browser:
    /// authorization code with PKCE, a loopback listener) and adds the
    /// session as a new, active profile. The window's "Add an OpenID provider".
    ///
    /// A confidential client's `client_secret` goes to the profile's own
    /// keyring entry once the sign-in worked, never to a file.
    pub async fn sign_in_openid(
        &self,
        server: crate::openid::OpenIdServer,
        client_secret: Option<warden_client::Secret>,
        open: warden_client::oidc::Opener,
        name: Option<&str>,
    ) -> Result<ProfileId> {
        let inner = &self.inner;
        let name = match name {
            Some(n) => Some(check_name(n)?),
            None => None,
        };
        let server = crate::openid::OpenIdServer {
            confidential: client_secret.is_some(),
            client_auth: match client_secret {
                Some(_) => server.client_auth,
                None => Default::default(),
            },
            ..server
        };
        let client = Arc::new(
            warden_client::oidc::OpenIdClient::discover(server.config_with(client_secret.clone()))
                .await?,
        );
        let signed = client.sign_in_browser(open).await?;
        let id_token = signed.tokens.id_token.clone();
        let kind = ServerKind::OpenId(server.clone());
        // Signing in again as someone signed out of this provider: into that
        // profile (its timeline, its name), not a new one.
        let again = {
            let s = inner.state.lock();
            s.slots
                .iter()
                .find(|x| {
                    matches!(&x.profile.server, ServerKind::OpenId(o)
                        if o.issuer == server.issuer && o.client_id == server.client_id)
                        && x.profile.account == signed.subject
                        && matches!(x.manager.state().phase, Phase::SignedOut { .. })
                })
                .map(|x| (x.profile.id.clone(), Arc::clone(&x.manager)))
        };
        if let Some((id, manager)) = again {
            use warden_client::TokenProvider as _;
            if let Some(secret) = &client_secret {
                crate::openid::store_client_secret(Arc::clone(&inner.vault), &id, &server, secret)
                    .await?;
            }
            let refresh = signed.tokens.refresh_token.clone().unwrap_or_default();
            // The sign-in's DPoP key and ID token go to the profile's provider.
            let provider = warden_client::oidc::OpenIdProvider::new(client);
            provider.set_id_token(id_token);
            let sealed = provider.seal(&warden_client::Secret::new(refresh))?;
            manager.provider().unseal(sealed)?;
            manager
                .login_with(&signed.subject, warden_client::oidc::issued(signed.tokens))
                .await?;
            inner.state.lock().active = Some(id.clone());
            inner.save()?;
            inner.emit(ProfilesEvent::Changed);
            return Ok(id);
        }
        let id = ProfileId::generate()?;
        let lock_path = inner.paths.profile_lock(&id);
        let lock = LockFile::try_acquire(&lock_path)
            .map_err(|e| Error::io("lock", &lock_path, e))?
            .ok_or_else(|| Error::Busy(format!("{} is locked", lock_path.display())))?;
        let profile = Profile {
            name: name.unwrap_or_else(|| Profile::default_name(&signed.subject, &kind)),
            vault_key: Profile::vault_key_for(&id),
            id: id.clone(),
            server: kind,
            account: signed.subject.clone(),
        };
        let provider = warden_client::oidc::OpenIdProvider::new(client);
        provider.set_id_token(id_token);
        let slot = inner.open_slot_with(profile, Some(lock), Some(provider))?;
        let manager = Arc::clone(&slot.manager);
        let tokens = warden_client::oidc::issued(signed.tokens);
        let stored = async {
            if let Some(secret) = &client_secret {
                crate::openid::store_client_secret(Arc::clone(&inner.vault), &id, &server, secret)
                    .await?;
            }
            manager
                .login_with(&signed.subject, tokens)
                .await
                .map_err(Error::from)
        };
        if let Err(e) = stored.await {
            drop(slot);
            if client_secret.is_some() {
                let _ = crate::openid::delete_client_secret(Arc::clone(&inner.vault), &id, &server)
                    .await;
            }
            let _ = std::fs::remove_file(&lock_path);
            return Err(e);
        }
        inner.add_signed_in(slot, id)
    }

    /// The window's sign-in, while it shows one session at a time: into the
    /// active profile when it is for `server` and signed out, else into a
    /// signed-out profile of `server` and `username`, else into a new
    /// profile. The profile becomes the active one.
    pub async fn sign_in_to(
        &self,
        server: ServerKind,
        username: &str,
        password: &str,
    ) -> Result<ProfileId> {
        let target = {
            let s = self.inner.state.lock();
            let free = |x: &&Slot| {
                x.profile.server == server
                    && matches!(x.manager.state().phase, Phase::SignedOut { .. })
            };
            s.active
                .as_ref()
                .and_then(|id| s.slot(id))
                .filter(free)
                .or_else(|| {
                    s.slots
                        .iter()
                        .filter(free)
                        .find(|x| x.profile.account == username)
                })
                .map(|x| x.profile.id.clone())
        };
        match target {
            Some(id) => {
                self.sign_in(&id, username, password).await?;
                self.set_active(&id)?;
                Ok(id)
            }
            None => self.sign_in_new(server, username, password, None).await,
        }
    }

    /// Signs profile `id` in (again), as `username`: a profile that is signed
    /// out may be signed in to another account of its server.
    pub async fn sign_in(
        &self,
        id: &ProfileId,
        username: &str,
        password: &str,
    ) -> Result<SessionState> {
        let (profile, manager) = self.inner.ready(id).await?;
        let state = manager.login(username, password).await?;
        if profile.account != username {
            {
                let mut s = self.inner.state.lock();
                let file = s.file();
                if let Some(slot) = s.slot_mut(id) {
                    if slot.profile.name == Profile::default_name(&profile.account, &profile.server)
                    {
                        let fresh = Profile::default_name(username, &profile.server);
                        slot.profile.name = file.unique_name(&fresh, Some(id));
                    }
                    slot.profile.account = username.to_string();
                }
            }
            self.inner.save()?;
            self.inner.emit(ProfilesEvent::Changed);
        }
        Ok(state)
    }

    /// Logs `id` out: its secrets go at once; the server is told now, or
    /// from the outbox once it can be reached.
    ///
    /// An OpenID provider with an `end_session_endpoint` is then also asked,
    /// in the browser, to end its own session (RP-initiated logout), once the
    /// revocation was delivered; the profile's activity says how it went, or
    /// that it was skipped (the provider could not be reached).
    pub async fn logout(&self, id: &ProfileId) -> Result<RevocationOutcome> {
        let (profile, manager) = self.inner.ready(id).await?;
        // The ID token is the logout's hint; it goes with the session.
        let openid = manager.provider().as_openid().cloned();
        let id_token = openid.as_ref().and_then(|p| p.id_token());
        let Some(ended) = manager.sign_out_locally().await else {
            return Ok(RevocationOutcome::NotSignedIn);
        };
        if let Some(p) = &openid {
            p.set_id_token(None);
        }
        let outcome = self
            .inner
            .revoke_ended(&profile, Revocation::Logout, ended)
            .await;
        if let Some(provider) = openid {
            self.inner
                .browser_logout(&profile, provider, id_token, &outcome);
        }
        Ok(outcome)
    }

    /// Ends every session of `id`'s account, as [`ProfileSet::logout`] does
    /// this one. A server known not to offer it is refused before anything ends.
    pub async fn logout_all(&self, id: &ProfileId) -> Result<RevocationOutcome> {
        let (profile, manager) = self.inner.ready(id).await?;
        if !manager.provider().warden_routes() {
            // An OpenID provider: refused before anything ends.
            return Err(ClientError::Unavailable(Feature::LogoutAll).into());
        }
        if let Ok(false) = manager.client().supports(Feature::LogoutAll).await {
            return Err(ClientError::Unavailable(Feature::LogoutAll).into());
        }
        match manager.sign_out_locally().await {
            Some(ended) => Ok(self
                .inner
                .revoke_ended(&profile, Revocation::LogoutAll, ended)
                .await),
            None => Ok(RevocationOutcome::NotSignedIn),
        }
    }

    /// Ends session `session_id` of `id`'s account: this profile's own
    /// session is a logout; another one is revoked now or, if the server
    /// cannot be reached, from the outbox through this profile's session.
    pub async fn revoke_session(
        &self,
        id: &ProfileId,
        session_id: &str,
    ) -> Result<RevocationOutcome> {
        let (profile, manager) = self.inner.ready(id).await?;
        if manager.state().session_id.as_deref() == Some(session_id) {
            return self.logout(id).await;
        }
        match manager.revoke_session(session_id).await {
            Ok(revoked) => Ok(RevocationOutcome::Delivered {
                revoked: Some(usize::from(revoked)),
            }),
            Err(e) if e.is_transient() => {
                let what = Revocation::Session {
                    session_id: session_id.to_string(),
                };
                let job = self
                    .inner
                    .outbox
                    .queue(&profile, what.clone(), None, None)
                    .await?;
                self.inner.queued(&profile.id, &what, &profile.server);
                // Not delivered now: the server was just found unreachable.
                let view = self.inner.outbox.finish_later(&job, &e.to_string()).await;
                Ok(RevocationOutcome::Pending { pending: view })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes profile `id`: logs it out (the revocation delivered or
    /// queued), deletes its keyring entry and its lock file.
    pub async fn remove(&self, id: &ProfileId) -> Result<RevocationOutcome> {
        let outcome = self.logout(id).await?;
        let slot = {
            let mut s = self.inner.state.lock();
            let Some(at) = s.slots.iter().position(|x| &x.profile.id == id) else {
                return Err(unknown(id, &s));
            };
            let slot = s.slots.remove(at);
            if s.active.as_ref() == Some(id) {
                s.active = s.slots.first().map(|x| x.profile.id.clone());
            }
            slot
        };
        self.inner.save()?;
        // Whatever another account of this profile left behind.
        let vault = self.inner.profile_vault(&slot.profile);
        if let Err(e) = vault.delete("", &slot.profile.account).await {
            tracing::warn!(error = %e, "could not delete a removed profile's keyring entry");
        }
        let cache = self.inner.access_cache_vault(&slot.profile);
        if let Err(e) = cache.delete("", &slot.profile.account).await {
            tracing::warn!(error = %e, "could not delete a removed profile's cached access token");
        }
        // A confidential client's secret: now, unless a revocation still
        // needs it (the outbox's delivery deletes it then).
        if let ServerKind::OpenId(server) = &slot.profile.server
            && server.confidential
            && !self.inner.outbox.pending().iter().any(|p| &p.profile == id)
            && let Err(e) =
                crate::openid::delete_client_secret(Arc::clone(&self.inner.vault), id, server).await
        {
            tracing::warn!(error = %e, "could not delete a removed profile's client secret");
        }
        drop(slot);
        let _ = std::fs::remove_file(self.inner.paths.profile_lock(id));
        self.inner.emit(ProfilesEvent::Changed);
        Ok(outcome)
    }

    /// A valid access token of the profile `selector` names (see
    /// [`ProfilesFile::resolve`]), for the program `to`; rotated first when
    /// its rotation point has passed, or whatever its age when `rotate`.
    /// Recorded in the profile's activity.
    pub async fn hand_out(
        &self,
        selector: Option<&str>,
        to: &str,
        rotate: bool,
    ) -> Result<TokenGrant> {
        let id = {
            let s = self.inner.state.lock();
            s.file().resolve(selector)?.id.clone()
        };
        let (profile, manager) = self.inner.ready(&id).await?;
        if profile.server == ServerKind::Embedded && self.inner.embedded.is_none() {
            return Err(Error::NeedsApp {
                profile: profile.name,
            });
        }
        let token = async {
            if rotate {
                manager.rotate_now().await?;
            }
            manager.access_token().await
        };
        let token = token.await.map_err(|e| match e {
            ClientError::NotSignedIn => Error::ProfileNotSignedIn {
                profile: profile.name.clone(),
                reason: None,
            },
            ClientError::SignedOut(reason) => Error::ProfileNotSignedIn {
                profile: profile.name.clone(),
                reason: Some(reason.to_string()),
            },
            other => Error::Client(other),
        })?;
        let claims = decode_claims(&token).ok();
        let state = manager.state();
        let jti = claims.as_ref().and_then(|c| c.jti.clone());
        let expires_in = state
            .access
            .as_ref()
            .filter(|a| a.jti == jti)
            .and_then(|a| a.expires_at)
            .map(|at| (at - wall_now()).floor() as i64);
        let expires_at = claims.as_ref().and_then(|c| c.exp);
        self.inner.record(
            &id,
            ActivityKind::HandedOut {
                to: to.to_string(),
                jti,
                expires_at,
            },
        );
        Ok(TokenGrant {
            access_token: token,
            token_type: manager.client().config().auth_header_type.clone(),
            expires_at,
            expires_in,
            profile: profile.id,
            profile_name: profile.name,
            server: manager.server_key().to_string(),
            user: state.user.unwrap_or(profile.account),
        })
    }

    /// Stops every profile's scheduler and the outbox (also done when the
    /// last clone drops); the locks go with the set.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        for slot in &self.inner.state.lock().slots {
            slot.manager.shutdown();
        }
    }

    /// [`ProfileSet::shutdown`], then waits for the refreshes in flight to
    /// store what they got (see `SessionManager::stop`): before the app exits.
    pub async fn close(&self) {
        self.shutdown();
        let managers: Vec<_> = {
            let s = self.inner.state.lock();
            s.slots.iter().map(|x| Arc::clone(&x.manager)).collect()
        };
        for m in managers {
            m.stop().await;
        }
    }
}

fn unknown(id: &ProfileId, s: &SetState) -> Error {
    Error::UnknownProfile {
        name: id.to_string(),
        known: s.file().labels(),
    }
}

/// A phase as one word.
pub fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::SignedOut { .. } => "signed_out",
        Phase::Restoring => "restoring",
        Phase::Active => "active",
        Phase::Rotating => "rotating",
        Phase::Offline { .. } => "offline",
    }
}

impl Inner {
    /// Adds the slot of a session that has just started as the shown
    /// profile (its name made unique among the others), saved.
    fn add_signed_in(&self, slot: Slot, id: ProfileId) -> Result<ProfileId> {
        {
            let mut s = self.state.lock();
            let mut slot = slot;
            let unique = s.file().unique_name(&slot.profile.name, None);
            slot.profile.name = unique;
            s.slots.push(slot);
            s.active = Some(id.clone());
        }
        self.save()?;
        self.emit(ProfilesEvent::Changed);
        Ok(id)
    }

    fn emit(&self, event: ProfilesEvent) {
        let _ = self.events.send(event);
    }

    fn save(&self) -> Result<()> {
        let file = self.state.lock().file();
        file.save(&self.paths)
    }

    fn record(&self, id: &ProfileId, what: ActivityKind) {
        let activity = Activity {
            at: (wall_now() * 1000.0) as i64,
            what,
        };
        if let Some(slot) = self.state.lock().slot_mut(id) {
            if slot.activity.len() >= ACTIVITY_CAPACITY {
                slot.activity.pop_front();
            }
            slot.activity.push_back(activity.clone());
        }
        self.emit(ProfilesEvent::Activity {
            profile: id.clone(),
            activity,
        });
    }

    fn queued(&self, id: &ProfileId, what: &Revocation, server: &ServerKind) {
        self.record(
            id,
            ActivityKind::RevocationQueued {
                what: what.clone(),
                server: server.place(),
            },
        );
        self.emit(ProfilesEvent::Outbox);
    }

    /// The vault of `profile`'s keyring entry.
    fn profile_vault(&self, profile: &Profile) -> AsyncVault {
        AsyncVault::new(
            Arc::new(StableKeyVault {
                inner: Arc::clone(&self.vault),
                key: profile.vault_key.clone(),
            }),
            self.manager_config.vault_timeout,
        )
    }

    /// The vault of `profile`'s cached access token (see
    /// [`Profile::access_cache_key`]).
    fn access_cache_vault(&self, profile: &Profile) -> AsyncVault {
        AsyncVault::new(
            Arc::new(StableKeyVault {
                inner: Arc::clone(&self.vault),
                key: profile.access_cache_key(),
            }),
            self.manager_config.vault_timeout,
        )
    }

    fn client_config(&self, server: &ServerKind) -> Option<ClientConfig> {
        let mut config = server.client_config(self.embedded.as_ref().map(|e| e.url.as_str()))?;
        config.device_label = Some(crate::session::device_label());
        config.use_system_proxy = server.remote().is_some();
        Some(config)
    }

    /// A profile's session manager (its client, its keyring entry), and the
    /// tasks that forward its events and, unless `lock` is given (a new
    /// profile), take its lock and restore it.
    fn open_slot(self: &Arc<Self>, profile: Profile, lock: Option<LockFile>) -> Result<Slot> {
        self.open_slot_with(profile, lock, None)
    }

    /// [`Inner::open_slot`], an OpenID profile's provider already discovered
    /// (a sign-in in progress: it holds the session's DPoP key).
    fn open_slot_with(
        self: &Arc<Self>,
        profile: Profile,
        lock: Option<LockFile>,
        discovered: Option<warden_client::oidc::OpenIdProvider>,
    ) -> Result<Slot> {
        let reachable = self.client_config(&profile.server);
        let vault: Arc<dyn Vault> = Arc::new(StableKeyVault {
            inner: Arc::clone(&self.vault),
            key: profile.vault_key.clone(),
        });
        // A confidential client's secret, read from the keyring before the
        // restore (the provider discovers with it on first use).
        let mut secret_for = None;
        let (manager, restore) = match &profile.server {
            // An OpenID provider: tokens through its endpoints (discovered on
            // first use); the client only carries the timeline.
            ServerKind::OpenId(server) => {
                let provider = match discovered {
                    Some(p) => p,
                    None => {
                        let p = warden_client::oidc::OpenIdProvider::lazy(server.config());
                        if server.confidential {
                            secret_for = Some((p.clone(), server.clone()));
                        }
                        p
                    }
                };
                let mut config = ClientConfig::new(server.issuer.clone());
                config.device_label = Some(crate::session::device_label());
                let manager = SessionManager::with_provider(
                    Client::new(config)?,
                    Arc::new(provider),
                    vault,
                    self.manager_config.clone(),
                );
                (Arc::new(manager), true)
            }
            _ => {
                let restore = reachable.is_some();
                let config = reachable.unwrap_or_else(|| ClientConfig::new(NOWHERE));
                let manager =
                    SessionManager::new(Client::new(config)?, vault, self.manager_config.clone());
                (Arc::new(manager), restore)
            }
        };
        let held = lock.is_some();
        let (ready_tx, ready) = watch::channel(held);
        let lock = Arc::new(Mutex::new(lock));
        let forward = tokio::spawn(forward(
            Arc::downgrade(self),
            profile.id.clone(),
            profile.server.clone(),
            manager.subscribe(),
        ));
        if !held {
            let path = self.paths.profile_lock(&profile.id);
            let (cell, manager, account) = (
                Arc::clone(&lock),
                Arc::clone(&manager),
                profile.account.clone(),
            );
            let cache = self.access_cache_vault(&profile);
            let (keyring, profile_id) = (Arc::clone(&self.vault), profile.id.clone());
            tokio::spawn(async move {
                let acquired = tokio::select! {
                    a = LockFile::acquire(&path) => a,
                    // The slot went (the profile removed, the set closed).
                    () = ready_tx.closed() => return,
                };
                match acquired {
                    Ok(file) => *cell.lock() = Some(file),
                    Err(e) => {
                        tracing::error!(error = %e, path = %path.display(), "cannot lock a profile; it stays signed out");
                        return;
                    }
                }
                // From now on tokens for other programs come from here: an
                // access token `warden token` kept while no app ran goes.
                if let Err(e) = cache.delete("", &account).await {
                    tracing::warn!(error = %e, "cannot delete the command line's cached access token");
                }
                if let Some((provider, server)) = secret_for {
                    match crate::openid::load_client_secret(keyring, &profile_id, &server).await {
                        Ok(secret) => provider.set_client_secret(secret),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read a confidential client's secret")
                        }
                    }
                }
                // Read from the keyring only now: whoever held the lock
                // before may have rotated and stored a successor.
                if restore
                    && !ready_tx.is_closed()
                    && let Err(e) = manager.restore(&account).await
                {
                    tracing::info!(code = e.code(), "a profile could not be restored");
                }
                let _ = ready_tx.send(true);
            });
        }
        Ok(Slot {
            profile,
            manager,
            ready,
            _lock: lock,
            forward,
            activity: VecDeque::new(),
        })
    }

    /// `id`'s profile and manager once the set holds its lock and restored it.
    async fn ready(&self, id: &ProfileId) -> Result<(Profile, Arc<SessionManager>)> {
        let (profile, manager, mut ready) = {
            let s = self.state.lock();
            let slot = s.slot(id).ok_or_else(|| unknown(id, &s))?;
            (
                slot.profile.clone(),
                Arc::clone(&slot.manager),
                slot.ready.clone(),
            )
        };
        let waited = tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await;
        match waited {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => {
                return Err(Error::Busy(format!(
                    "Profile \"{}\" is being used by another Warden process; try again in a moment.",
                    profile.name
                )));
            }
        }
        // The latest name and account (a rename may have happened meanwhile).
        let profile = self
            .state
            .lock()
            .slot(id)
            .map(|x| x.profile.clone())
            .unwrap_or(profile);
        Ok((profile, manager))
    }

    /// A session ended here: its token into the outbox first, then the
    /// profile's own keyring entry cleared, then one delivery at once.
    async fn revoke_ended(
        &self,
        profile: &Profile,
        what: Revocation,
        ended: warden_client::EndedSession,
    ) -> RevocationOutcome {
        let profile = Profile {
            account: ended.username.clone(),
            ..profile.clone()
        };
        let job = self
            .outbox
            .queue(&profile, what.clone(), Some(ended.refresh), ended.access)
            .await;
        if ended.stored_in_vault {
            let vault = self.profile_vault(&profile);
            if let Err(e) = vault.delete("", &profile.account).await {
                tracing::warn!(error = %e, "could not delete a signed-out profile's keyring entry");
            }
        }
        let mut job = match job {
            Ok(job) => job,
            Err(e) => {
                // The outbox could not be written: nothing left to deliver from.
                return RevocationOutcome::Abandoned {
                    reason: e.to_string(),
                };
            }
        };
        self.queued(&profile.id, &what, &profile.server);
        let attempt = self.attempt(&mut job).await;
        self.finish(&job, &attempt).await;
        match attempt {
            Attempt::Delivered { revoked } => RevocationOutcome::Delivered { revoked },
            Attempt::Abandoned(reason) => RevocationOutcome::Abandoned { reason },
            Attempt::Retry(_) => match self.outbox.pending().into_iter().find(|p| p.id == job.id) {
                Some(pending) => RevocationOutcome::Pending { pending },
                None => RevocationOutcome::Delivered { revoked: None },
            },
        }
    }

    /// One delivery of `job`.
    async fn attempt(&self, job: &mut Job) -> Attempt {
        if let Revocation::Session { session_id } = &job.what {
            let slot = {
                let s = self.state.lock();
                s.slot(&job.profile)
                    .map(|x| (Arc::clone(&x.manager), *x.ready.borrow()))
            };
            return match slot {
                None => Attempt::Abandoned("its profile was removed".into()),
                Some((_, false)) => Attempt::Retry("its profile is not restored yet".into()),
                Some((manager, true)) => match manager.revoke_session(session_id).await {
                    Ok(_) => Attempt::Delivered { revoked: Some(1) },
                    Err(e) if e.is_transient() => Attempt::Retry(e.to_string()),
                    Err(ClientError::NotSignedIn | ClientError::SignedOut(_)) => {
                        Attempt::Abandoned(format!(
                            "{} was signed out before the server could be told",
                            job.profile_name
                        ))
                    }
                    Err(e) => Attempt::Abandoned(e.to_string()),
                },
            };
        }
        // An OpenID provider: RFC 7009 revocation at its endpoint.
        if let ServerKind::OpenId(server) = &job.server {
            let server = server.clone();
            let secret = match crate::openid::load_client_secret(
                Arc::clone(&self.vault),
                &job.profile,
                &server,
            )
            .await
            {
                Ok(secret) => secret,
                Err(e) => return Attempt::Retry(e.to_string()),
            };
            return self.outbox.deliver_openid(job, &server, secret).await;
        }
        // Through the profile's own client when it still talks to that
        // server, so the delivery shows in the profile's timeline.
        let client = {
            let s = self.state.lock();
            s.slot(&job.profile)
                .filter(|x| x.profile.server == job.server)
                .map(|x| x.manager.client().clone())
        };
        let client = match client {
            Some(c) => c,
            None => match self.client_config(&job.server).map(Client::new) {
                Some(Ok(c)) => c,
                Some(Err(e)) => return Attempt::Abandoned(e.to_string()),
                None => return Attempt::Retry("the embedded server is not running".into()),
            },
        };
        self.outbox.deliver_tokens(job, &client).await
    }

    /// Records a delivery's outcome in the outbox and the profile's activity.
    async fn finish(&self, job: &Job, attempt: &Attempt) {
        self.outbox.finish(job, attempt).await;
        let server = job.server.place();
        match attempt {
            Attempt::Delivered { revoked } => self.record(
                &job.profile,
                ActivityKind::RevocationDelivered {
                    what: job.what.clone(),
                    server,
                    revoked: *revoked,
                },
            ),
            Attempt::Abandoned(reason) => {
                tracing::warn!(reason = %reason, "a revocation could not be delivered");
                self.record(
                    &job.profile,
                    ActivityKind::RevocationAbandoned {
                        what: job.what.clone(),
                        server,
                        reason: reason.clone(),
                    },
                );
            }
            Attempt::Retry(_) => {}
        }
        // A removed profile's client secret waited for this delivery.
        if !matches!(attempt, Attempt::Retry(_))
            && let ServerKind::OpenId(server) = &job.server
            && server.confidential
            && self.state.lock().slot(&job.profile).is_none()
            && !self
                .outbox
                .pending()
                .iter()
                .any(|p| p.profile == job.profile)
            && let Err(e) =
                crate::openid::delete_client_secret(Arc::clone(&self.vault), &job.profile, server)
                    .await
        {
            tracing::warn!(error = %e, "could not delete a removed profile's client secret");
        }
        self.emit(ProfilesEvent::Outbox);
    }

    /// Delivers what is due.
    async fn deliver_due(&self) {
        for id in self.outbox.due() {
            match self.outbox.begin(&id).await {
                None => {}
                Some(Ok(mut job)) => {
                    let attempt = self.attempt(&mut job).await;
                    self.finish(&job, &attempt).await;
                }
                Some(Err((job, attempt))) => self.finish(&job, &attempt).await,
            }
        }
    }

    /// After an OpenID profile's logout: RP-initiated logout in the browser
    /// once the provider has heard of the revocation, in the background (a
    /// person may take their time on the provider's page); its outcome goes
    /// to the profile's activity.
    fn browser_logout(
        self: &Arc<Self>,
        profile: &Profile,
        provider: warden_client::oidc::OpenIdProvider,
        id_token: Option<String>,
        outcome: &RevocationOutcome,
    ) {
        let server = profile.server.place();
        let id = profile.id.clone();
        let skipped = |reason: String| ActivityKind::BrowserLogout {
            server: server.clone(),
            outcome: BrowserLogoutOutcome::Skipped,
            detail: reason,
        };
        let ends_browser = provider
            .discovered()
            .map(|c| c.metadata().end_session_endpoint.is_some());
        match outcome {
            RevocationOutcome::NotSignedIn => {}
            _ if ends_browser == Some(false) => {}
            RevocationOutcome::Pending { .. } => self.record(
                &id,
                skipped(format!(
                    "Browser logout skipped: {server} could not be reached. Its own browser \
                     session may still be open; sign out on its page when it is back."
                )),
            ),
            RevocationOutcome::Abandoned { reason } => self.record(
                &id,
                skipped(format!(
                    "Browser logout skipped: the revocation was not delivered ({reason})."
                )),
            ),
            RevocationOutcome::Delivered { .. } => {
                let open = Arc::clone(&*self.browser.lock());
                let weak = Arc::downgrade(self);
                tokio::spawn(async move {
                    let record = |outcome, detail: String| {
                        if let Some(inner) = weak.upgrade() {
                            inner.record(
                                &id,
                                ActivityKind::BrowserLogout {
                                    server: server.clone(),
                                    outcome,
                                    detail,
                                },
                            );
                        }
                    };
                    let client = match provider.client().await {
                        Ok(c) => c,
                        Err(e) => {
                            record(
                                BrowserLogoutOutcome::Skipped,
                                format!("Browser logout skipped: {e}."),
                            );
                            return;
                        }
                    };
                    if client.metadata().end_session_endpoint.is_none() {
                        return;
                    }
                    record(
                        BrowserLogoutOutcome::Opened,
                        "Opened the provider's logout page in the browser, to end its own \
                         session there too."
                            .into(),
                    );
                    let result = client
                        .logout_in_browser(id_token.as_deref(), Box::new(move |url| open(url)))
                        .await;
                    match result {
                        Ok(_) => record(
                            BrowserLogoutOutcome::Done,
                            "The provider ended its browser session: the next sign-in there \
                             asks for the password again."
                                .into(),
                        ),
                        Err(e) => record(
                            BrowserLogoutOutcome::Failed,
                            format!(
                                "The provider's browser session may still be open ({e}); sign \
                                 out on its own page."
                            ),
                        ),
                    }
                });
            }
        }
    }
}

/// Forwards a profile's events, and tells the outbox when its server answers.
async fn forward(
    weak: Weak<Inner>,
    id: ProfileId,
    server: ServerKind,
    mut rx: broadcast::Receiver<Event>,
) {
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let Some(inner) = weak.upgrade() else {
            break;
        };
        if matches!(&event, Event::Exchange(ex) if ex.status.is_some()) {
            inner.outbox.kick(&server);
        }
        inner.emit(ProfilesEvent::Session {
            profile: id.clone(),
            event,
        });
    }
}

/// Delivers the outbox's revocations as they come due, until shut down.
async fn delivery_loop(weak: Weak<Inner>, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        let wait = {
            let Some(inner) = weak.upgrade() else {
                break;
            };
            inner.deliver_due().await;
            inner.outbox.next_due_in()
        };
        tokio::select! {
            _ = async {
                match wait {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => {}
            _ = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
}
