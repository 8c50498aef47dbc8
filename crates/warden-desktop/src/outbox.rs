//! The revocation outbox: a logout, a "log out everywhere" or a revoked
//! session the server could not be told about yet. The local session ends at
//! once; what the server needs to end it (the refresh token) waits in the
//! keyring under an entry of its own (`outbox:{id}|{account}`), never in a
//! file, and `outbox.json` (0600) keeps the rest, without secrets, so the
//! revocation survives a restart. Delivery is retried with back-off, and at
//! once when the server is seen again ([`Outbox::kick`]).
//!
//! Every revocation goes through here, reachable server or not: the token is
//! put in the outbox before the session's own keyring entry is cleared, so
//! a crash at any point leaves a revocation to deliver, never one lost.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use warden_client::{
    AsyncVault, Client, ClientError, Secret, SignOutReason, Vault, backoff_delay, jitter, wall_now,
};

use crate::error::{Error, Result};
use crate::paths::AppPaths;
use crate::profiles::{Profile, ProfileId, ServerKind};

/// When to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxConfig {
    /// The first retry after a failed delivery (2 s), doubling...
    pub retry_initial: Duration,
    /// ...up to this (2 min). A server seen again is tried at once anyway.
    pub retry_max: Duration,
    /// Limit for each keyring call (5 s).
    pub vault_timeout: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            retry_initial: Duration::from_secs(2),
            retry_max: Duration::from_secs(120),
            vault_timeout: Duration::from_secs(5),
        }
    }
}

/// What the server is to be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revocation {
    /// End this session (its refresh token, blacklisted).
    Logout,
    /// End every session of the account (one rotation of the kept refresh
    /// token buys the access token `api/logout-all/` needs).
    LogoutAll,
    /// End another session of the account, through the profile's own
    /// session (nothing of the other session is kept here).
    Session {
        /// Warden's id of that session.
        session_id: String,
    },
}

impl Revocation {
    fn words(&self) -> &'static str {
        match self {
            Revocation::Logout => "This session",
            Revocation::LogoutAll => "Every session of this account",
            Revocation::Session { .. } => "That session",
        }
    }
}

/// One revocation in `outbox.json` (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    id: String,
    profile: ProfileId,
    profile_name: String,
    server: ServerKind,
    account: String,
    what: Revocation,
    /// Unix seconds.
    queued_at: i64,
    /// The refresh token is in the keyring under `outbox:{id}|{account}`.
    keyring: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutboxFile {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    items: Vec<Stored>,
}

/// A revocation still to be delivered, as the window shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PendingRevocation {
    /// The outbox's id of it (`r-` and 12 hex digits).
    pub id: String,
    /// The profile it was queued for (it may have been removed since).
    pub profile: ProfileId,
    /// That profile's name then.
    pub profile_name: String,
    /// The account whose session it ends.
    pub account: String,
    /// Where it goes: `this computer` or the server's host and port.
    pub server: String,
    /// What the server is to be told.
    pub what: Revocation,
    /// Unix seconds.
    pub queued_at: i64,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// Local Unix seconds of the next try (`None`: being delivered now).
    pub next_attempt_at: Option<f64>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// It survives a restart. False when the keyring could not take the
    /// token: then it is delivered only while this app runs.
    pub persistent: bool,
    /// "This session will be revoked when auth.example.com is reachable."
    pub message: String,
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Done: the server ended it, or it had ended already. `revoked`: how
    /// many sessions `api/logout-all/` ended.
    Delivered { revoked: Option<usize> },
    /// Not now (the server cannot be reached, or failed): try again later.
    Retry(String),
    /// Never: the server cannot do it, or what was needed is gone.
    Abandoned(String),
}

/// What a delivery needs, taken out for the time it runs.
#[derive(Debug)]
pub(crate) struct Job {
    pub id: String,
    pub profile: ProfileId,
    pub profile_name: String,
    pub server: ServerKind,
    pub account: String,
    pub what: Revocation,
    pub refresh: Option<Secret>,
    /// The access token, for the first try only (it may expire before a retry).
    pub access: Option<Secret>,
}

#[derive(Debug)]
struct Item {
    stored: Stored,
    refresh: Option<Secret>,
    access: Option<Secret>,
    attempts: u32,
    next_at: f64,
    last_error: Option<String>,
    delivering: bool,
    /// Written to `outbox.json` (and, with a token, to the keyring).
    persistent: bool,
}

impl Item {
    fn view(&self) -> PendingRevocation {
        let s = &self.stored;
        let place = s.server.place();
        PendingRevocation {
            id: s.id.clone(),
            profile: s.profile.clone(),
            profile_name: s.profile_name.clone(),
            account: s.account.clone(),
            server: place.clone(),
            what: s.what.clone(),
            queued_at: s.queued_at,
            attempts: self.attempts,
            next_attempt_at: (!self.delivering).then_some(self.next_at),
            last_error: self.last_error.clone(),
            persistent: self.persistent,
            message: format!(
                "{} will be revoked when {place} is reachable.",
                s.what.words()
            ),
        }
    }
}

/// The keyring entry of an outbox item's token.
fn vault_key(id: &str) -> String {
    format!("outbox:{id}")
}

/// Revocations waiting for their server.
#[derive(Debug)]
pub struct Outbox {
    paths: AppPaths,
    vault: AsyncVault,
    config: OutboxConfig,
    items: Mutex<Vec<Item>>,
    wake: Arc<Notify>,
}

impl Outbox {
    /// The outbox in `paths`' data directory, with tokens in `vault`. Every
    /// revocation left from the last run is tried soon.
    pub fn open(paths: &AppPaths, vault: Arc<dyn Vault>, config: OutboxConfig) -> Result<Outbox> {
        let path = paths.outbox_file();
        let file: OutboxFile = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(file) => file,
                Err(e) => {
                    // Not overwritten: its tokens are still in the keyring.
                    let aside = path.with_extension("json.unreadable");
                    tracing::warn!(error = %e, aside = %aside.display(), "setting the outbox file aside");
                    std::fs::rename(&path, &aside).map_err(|e| Error::io("rename", &path, e))?;
                    OutboxFile::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => OutboxFile::default(),
            Err(e) => return Err(Error::io("read", &path, e)),
        };
        let now = wall_now();
        let items = file
            .items
            .into_iter()
            .map(|stored| Item {
                stored,
                refresh: None,
                access: None,
                attempts: 0,
                next_at: now,
                last_error: None,
                delivering: false,
                persistent: true,
            })
            .collect();
        Ok(Outbox {
            paths: paths.clone(),
            vault: AsyncVault::new(vault, config.vault_timeout),
            config,
            items: Mutex::new(items),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Takes a revocation in: the token into the keyring (memory if the
    /// keyring refuses it), the rest into `outbox.json`. Answers it taken out
    /// for its first delivery, which the caller makes at once.
    pub(crate) async fn queue(
        &self,
        profile: &Profile,
        what: Revocation,
        refresh: Option<Secret>,
        access: Option<Secret>,
    ) -> Result<Job> {
        let id = new_id()?;
        let keyring = match &refresh {
            Some(token) => match self
                .vault
                .store(&vault_key(&id), &profile.account, token)
                .await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "the keyring cannot keep a revocation; it waits in memory only");
                    false
                }
            },
            None => false,
        };
        let persistent = keyring || refresh.is_none();
        let job = Job {
            id: id.clone(),
            profile: profile.id.clone(),
            profile_name: profile.name.clone(),
            server: profile.server.clone(),
            account: profile.account.clone(),
            what: what.clone(),
            refresh: refresh.clone(),
            access,
        };
        let item = Item {
            stored: Stored {
                id,
                profile: profile.id.clone(),
                profile_name: profile.name.clone(),
                server: profile.server.clone(),
                account: profile.account.clone(),
                what,
                queued_at: wall_now() as i64,
                keyring,
            },
            refresh,
            access: None,
            attempts: 0,
            next_at: wall_now(),
            last_error: None,
            delivering: true,
            persistent,
        };
        self.items.lock().push(item);
        if let Err(e) = self.save() {
            // Kept in memory and delivered while this app runs; the window
            // says it does not survive a restart.
            tracing::warn!(error = %e, "could not write the outbox file");
            if let Some(i) = self.items.lock().iter_mut().find(|i| i.stored.id == job.id) {
                i.persistent = false;
            }
        }
        Ok(job)
    }

    /// Records a first delivery that could not be made now; the item as it
    /// waits.
    pub(crate) async fn finish_later(&self, job: &Job, error: &str) -> PendingRevocation {
        self.finish(job, &Attempt::Retry(error.to_string())).await;
        let items = self.items.lock();
        match items.iter().find(|i| i.stored.id == job.id) {
            Some(i) => i.view(),
            None => PendingRevocation {
                id: job.id.clone(),
                profile: job.profile.clone(),
                profile_name: job.profile_name.clone(),
                account: job.account.clone(),
                server: job.server.place(),
                what: job.what.clone(),
                queued_at: wall_now() as i64,
                attempts: 1,
                next_attempt_at: None,
                last_error: Some(error.to_string()),
                persistent: false,
                message: String::new(),
            },
        }
    }

    /// Writes what survives a restart (items whose token is in the keyring,
    /// or that need none).
    fn save(&self) -> Result<()> {
        use warden_embedded::keystore::{Replace, write_private_atomic};
        let file = OutboxFile {
            version: 1,
            items: self
                .items
                .lock()
                .iter()
                .filter(|i| i.persistent)
                .map(|i| i.stored.clone())
                .collect(),
        };
        let path = self.paths.outbox_file();
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Internal(e.to_string()))?;
        write_private_atomic(&path, &bytes, Replace::Always)
            .map_err(|e| Error::io("write", &path, e))
    }

    /// Every revocation still to deliver, oldest first.
    pub fn pending(&self) -> Vec<PendingRevocation> {
        self.items.lock().iter().map(Item::view).collect()
    }

    /// The ids due now.
    pub(crate) fn due(&self) -> Vec<String> {
        let now = wall_now();
        self.items
            .lock()
            .iter()
            .filter(|i| !i.delivering && i.next_at <= now)
            .map(|i| i.stored.id.clone())
            .collect()
    }

    /// How long until the next one is due (`None`: nothing waits).
    pub(crate) fn next_due_in(&self) -> Option<Duration> {
        let now = wall_now();
        self.items
            .lock()
            .iter()
            .filter(|i| !i.delivering)
            .map(|i| i.next_at)
            .min_by(f64::total_cmp)
            .map(|t| Duration::from_secs_f64((t - now).clamp(0.0, 3600.0)))
    }

    /// Wakes the delivery loop.
    pub(crate) fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// The server `server` answered something: what waits for it is due now.
    pub(crate) fn kick(&self, server: &ServerKind) {
        let now = wall_now();
        let mut any = false;
        for i in self.items.lock().iter_mut() {
            if &i.stored.server == server && !i.delivering && i.next_at > now {
                i.next_at = now;
                any = true;
            }
        }
        if any {
            self.wake.notify_one();
        }
    }

    /// Takes item `id` out for a delivery, its token read back from the
    /// keyring when this run does not hold it. `Err`: it cannot be tried now
    /// (or ever), as [`Outbox::finish`] should record.
    pub(crate) async fn begin(&self, id: &str) -> Option<std::result::Result<Job, (Job, Attempt)>> {
        let (mut job, needs_keyring) = {
            let mut items = self.items.lock();
            let item = items
                .iter_mut()
                .find(|i| i.stored.id == id && !i.delivering)?;
            item.delivering = true;
            let s = &item.stored;
            let job = Job {
                id: s.id.clone(),
                profile: s.profile.clone(),
                profile_name: s.profile_name.clone(),
                server: s.server.clone(),
                account: s.account.clone(),
                what: s.what.clone(),
                refresh: item.refresh.clone(),
                access: item.access.take(),
            };
            let needs = job.refresh.is_none() && s.keyring;
            (job, needs)
        };
        if needs_keyring {
            match self.vault.load(&vault_key(id), &job.account).await {
                Ok(Some(token)) => job.refresh = Some(token),
                Ok(None) => {
                    let gone =
                        Attempt::Abandoned("its refresh token is no longer in the keyring".into());
                    return Some(Err((job, gone)));
                }
                Err(e) => {
                    let later = Attempt::Retry(format!("the keyring: {e}"));
                    return Some(Err((job, later)));
                }
            }
        }
        Some(Ok(job))
    }

    /// The refresh token of `job` was rotated (to get an access token): the
    /// successor replaces it, in the keyring first.
    pub(crate) async fn replace_token(&self, job: &mut Job, successor: Secret) {
        let keyring = self
            .items
            .lock()
            .iter()
            .any(|i| i.stored.id == job.id && i.stored.keyring);
        if keyring
            && let Err(e) = self
                .vault
                .store(&vault_key(&job.id), &job.account, &successor)
                .await
        {
            tracing::warn!(error = %e, "the keyring did not take the rotated revocation token");
        }
        if let Some(i) = self.items.lock().iter_mut().find(|i| i.stored.id == job.id) {
            i.refresh = Some(successor.clone());
        }
        job.refresh = Some(successor);
    }

    /// Records how a delivery went: a done or abandoned item leaves (its
    /// keyring entry first), a failed one is due again after a back-off.
    pub(crate) async fn finish(&self, job: &Job, attempt: &Attempt) {
        match attempt {
            Attempt::Retry(error) => {
                if let Some(i) = self.items.lock().iter_mut().find(|i| i.stored.id == job.id) {
                    i.delivering = false;
                    i.attempts = i.attempts.saturating_add(1);
                    i.last_error = Some(error.clone());
                    if job.refresh.is_some() {
                        i.refresh = job.refresh.clone();
                    }
                    let delay = backoff_delay(
                        i.attempts,
                        self.config.retry_initial,
                        self.config.retry_max,
                        jitter(),
                    );
                    i.next_at = wall_now() + delay.as_secs_f64();
                }
                // The delivery loop may be asleep with nothing due before this.
                self.wake.notify_one();
            }
            Attempt::Delivered { .. } | Attempt::Abandoned(_) => {
                let keyring = self
                    .items
                    .lock()
                    .iter()
                    .any(|i| i.stored.id == job.id && i.stored.keyring);
                if keyring
                    && let Err(e) = self.vault.delete(&vault_key(&job.id), &job.account).await
                {
                    // The token is dead on the server (or unusable): a leftover
                    // entry is untidy, not dangerous.
                    tracing::warn!(error = %e, "could not clear a delivered revocation's keyring entry");
                }
                self.items.lock().retain(|i| i.stored.id != job.id);
                if let Err(e) = self.save() {
                    tracing::warn!(error = %e, "could not update the outbox file");
                }
            }
        }
    }

    /// Delivers a logout or a "log out everywhere" with its kept token.
    pub(crate) async fn deliver_tokens(&self, job: &mut Job, client: &Client) -> Attempt {
        let Some(refresh) = job.refresh.clone() else {
            return Attempt::Abandoned("no refresh token was kept for it".into());
        };
        match job.what {
            Revocation::Logout => match client.blacklist(refresh.expose()).await {
                Ok(()) => Attempt::Delivered { revoked: None },
                Err(e) => refused_or_retry(e),
            },
            Revocation::LogoutAll => {
                let access = match job.access.take() {
                    Some(access) => access,
                    None => match client.refresh(refresh.expose()).await {
                        Ok(answer) => {
                            if let Some(next) = answer.refresh {
                                self.replace_token(job, Secret::new(next)).await;
                            }
                            Secret::new(answer.access)
                        }
                        Err(e) if e.is_transient() => return Attempt::Retry(e.to_string()),
                        Err(e) => {
                            return Attempt::Abandoned(
                                match SignOutReason::from_refresh_error(&e) {
                                    Some(reason) => format!(
                                        "this session had already ended ({reason}), so the other sessions could not be ended from here"
                                    ),
                                    None => e.to_string(),
                                },
                            );
                        }
                    },
                };
                match client.logout_all(access.expose()).await {
                    Ok(n) => Attempt::Delivered { revoked: Some(n) },
                    Err(e @ ClientError::Unavailable(_)) => Attempt::Abandoned(e.to_string()),
                    // An access token that expired on the way: the next try
                    // rotates for a fresh one.
                    Err(e) => Attempt::Retry(e.to_string()),
                }
            }
            Revocation::Session { .. } => {
                Attempt::Abandoned("a session is revoked through its profile".into())
            }
        }
    }
}

impl Outbox {
    /// Delivers a logout to an OpenID provider: RFC 7009 revocation of the
    /// refresh token, then the access token (with a confidential client's
    /// `client_secret`). Logging out everywhere does not
    /// exist at a provider.
    pub(crate) async fn deliver_openid(
        &self,
        job: &mut Job,
        server: &crate::openid::OpenIdServer,
        client_secret: Option<Secret>,
    ) -> Attempt {
        use warden_client::TokenProvider as _;
        let Some(refresh) = job.refresh.clone() else {
            return Attempt::Abandoned("no refresh token was kept for it".into());
        };
        match job.what {
            Revocation::Logout => {
                // A confidential client authenticates its revocation too.
                let provider =
                    warden_client::oidc::OpenIdProvider::lazy(server.config_with(client_secret));
                let access = job.access.clone();
                match provider
                    .end(access.as_ref().map(Secret::expose), refresh.expose())
                    .await
                {
                    Ok(()) => Attempt::Delivered { revoked: None },
                    Err(e) => refused_or_retry(e),
                }
            }
            Revocation::LogoutAll => {
                Attempt::Abandoned(crate::openid::unavailable("Logging out everywhere"))
            }
            Revocation::Session { .. } => {
                Attempt::Abandoned("a session is revoked through its profile".into())
            }
        }
    }
}

/// A refused blacklist: the token is over already (done), the server cannot
/// blacklist (abandoned), or it could not be asked (retry).
fn refused_or_retry(e: ClientError) -> Attempt {
    if e.is_transient() {
        return Attempt::Retry(e.to_string());
    }
    if SignOutReason::from_refresh_error(&e).is_some() {
        return Attempt::Delivered { revoked: None };
    }
    match e {
        ClientError::NotFound | ClientError::Unavailable(_) => Attempt::Abandoned(
            "this server has no route to end a session (api/token/blacklist/)".into(),
        ),
        ClientError::Http { status: 405, .. } => Attempt::Abandoned(
            "this server has no route to end a session (api/token/blacklist/)".into(),
        ),
        other => Attempt::Retry(other.to_string()),
    }
}

fn new_id() -> Result<String> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for an outbox id: {e}")))?;
    Ok(format!(
        "r-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_client::MemoryVault;

    fn profile() -> Profile {
        Profile {
            id: ProfileId::try_from("p-1".to_string()).unwrap(),
            name: "work".into(),
            server: ServerKind::Remote(crate::remote::RemoteServer {
                url: "http://127.0.0.1:9/".into(),
                ..Default::default()
            }),
            account: "alice".into(),
            vault_key: "profile:p-1".into(),
        }
    }

    #[tokio::test]
    async fn a_queued_revocation_keeps_its_token_in_the_keyring_and_the_rest_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::new(dir.path(), dir.path().join("run"));
        let vault = Arc::new(MemoryVault::new());
        let outbox = Outbox::open(&paths, vault.clone(), OutboxConfig::default()).unwrap();
        let token =
            "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let job = outbox
            .queue(
                &profile(),
                Revocation::Logout,
                Some(Secret::new(token)),
                None,
            )
            .await
            .unwrap();
        assert!(outbox.due().is_empty(), "being delivered by the caller");
        let view = outbox.finish_later(&job, "connect").await;
        assert!(view.persistent);
        assert_eq!(view.attempts, 1);
        assert_eq!(
            view.message,
            "This session will be revoked when 127.0.0.1:9 is reachable."
        );
        let key = vault_key(&view.id);
        assert_eq!(vault.load(&key, "alice").unwrap().as_deref(), Some(token));
        let text = std::fs::read_to_string(paths.outbox_file()).unwrap();
        assert!(
            !text.contains("c2lnbmF0dXJl"),
            "no token in the file: {text}"
        );
        assert!(text.contains(&view.id));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(paths.outbox_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // Another run reads it back, due at once, token from the keyring.
        drop(outbox);
        let outbox = Outbox::open(&paths, vault.clone(), OutboxConfig::default()).unwrap();
        assert_eq!(outbox.due(), vec![view.id.clone()]);
        let job = outbox.begin(&view.id).await.unwrap().unwrap();
        assert_eq!(job.refresh.as_ref().map(Secret::expose), Some(token));
        assert!(
            outbox.begin(&view.id).await.is_none(),
            "one delivery at a time"
        );
        outbox.finish(&job, &Attempt::Retry("connect".into())).await;
        let p = outbox.pending();
        assert_eq!(p[0].attempts, 1);
        assert_eq!(p[0].last_error.as_deref(), Some("connect"));
        assert!(outbox.due().is_empty(), "backing off");
        outbox.kick(&profile().server);
        assert_eq!(
            outbox.due(),
            vec![view.id.clone()],
            "due once its server answers"
        );
        let job = outbox.begin(&view.id).await.unwrap().unwrap();
        outbox
            .finish(&job, &Attempt::Delivered { revoked: None })
            .await;
        assert!(outbox.pending().is_empty());
        assert!(vault.is_empty(), "the keyring entry went with it");
        let text = std::fs::read_to_string(paths.outbox_file()).unwrap();
        assert!(!text.contains(&view.id));
    }

    #[tokio::test]
    async fn without_a_keyring_it_waits_in_memory_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let paths = AppPaths::new(dir.path(), dir.path().join("run"));
        let vault = Arc::new(MemoryVault::new());
        vault.fail_writes(true);
        let outbox = Outbox::open(&paths, vault.clone(), OutboxConfig::default()).unwrap();
        let job = outbox
            .queue(
                &profile(),
                Revocation::LogoutAll,
                Some(Secret::new("t")),
                None,
            )
            .await
            .unwrap();
        let view = outbox.finish_later(&job, "connect").await;
        assert!(!view.persistent);
        outbox.kick(&profile().server);
        let job = outbox.begin(&view.id).await.unwrap().unwrap();
        assert_eq!(job.refresh.as_ref().map(Secret::expose), Some("t"));
        drop(outbox);
        let again = Outbox::open(&paths, vault, OutboxConfig::default()).unwrap();
        assert!(
            again.pending().is_empty(),
            "nothing on disk without its token"
        );
    }
}
