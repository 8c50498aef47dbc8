//! Where the refresh token lives between runs: the OS keyring, or memory.
//!
//! The [`Vault`] trait is synchronous because keyrings are (D-Bus round trips,
//! possibly an unlock prompt). Async code goes through [`AsyncVault`], which
//! runs every call on a blocking thread with a timeout, so a keyring that hangs
//! on an invisible prompt cannot stall the session manager. Nothing is ever
//! written to disk in plaintext: [`KeyringVault`] stores in the Secret Service
//! (GNOME Keyring, KWallet), Keychain or Credential Manager; [`MemoryVault`]
//! keeps secrets in this process only.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::jwt::Secret;

/// The keyring service every entry is stored under.
pub(crate) const KEYRING_SERVICE: &str = "warden";

/// How long one keyring call may take from async code.
pub(crate) const VAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether secrets can be kept, as the app tells the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum VaultStatus {
    /// Reads and writes work; `backend` names the store (e.g. `Secret Service`).
    Available {
        /// The store's name, for the user.
        backend: String,
    },
    /// The store is there but locked (writes need an unlock the user has not given).
    Locked,
    /// No store can be used; the reason says why in the user's words.
    Unavailable(String),
}

impl VaultStatus {
    /// Secrets can be kept now.
    pub fn is_available(&self) -> bool {
        matches!(self, VaultStatus::Available { .. })
    }
}

/// Why the vault could not keep or read a secret. Each variant holds the
/// platform's text, cut to 300 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// No session bus to reach a keyring over (a server, a container, SSH).
    #[error("no D-Bus session bus, so no keyring (DBUS_SESSION_BUS_ADDRESS is unset or dead): {0}")]
    NoSessionBus(String),
    #[error(
        "no Secret Service on the session bus (is gnome-keyring-daemon or KWallet running?): {0}"
    )]
    /// A session bus, but no keyring daemon on it.
    NoSecretService(String),
    /// The keyring wants an unlock the user has not given.
    #[error("the keyring is locked: {0}")]
    Locked(String),
    /// No answer within [`AsyncVault`]'s timeout (an unlock prompt nobody sees).
    #[error("the keyring did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// What is stored is not a UTF-8 string.
    #[error("the stored secret is not valid text")]
    Corrupt,
    /// Any other failure of the platform's store.
    #[error("keyring error: {0}")]
    Platform(String),
}

impl VaultError {
    /// The status this error implies.
    pub fn status(&self) -> VaultStatus {
        match self {
            VaultError::Locked(_) => VaultStatus::Locked,
            other => VaultStatus::Unavailable(other.to_string()),
        }
    }
}

/// A place to keep one secret per server and user.
pub trait Vault: Send + Sync + fmt::Debug {
    /// Keeps `secret`, replacing what was there.
    fn store(&self, server_key: &str, user: &str, secret: &str) -> Result<(), VaultError>;
    /// `None` when nothing is stored.
    fn load(&self, server_key: &str, user: &str) -> Result<Option<String>, VaultError>;
    /// Deleting what is not there succeeds.
    fn delete(&self, server_key: &str, user: &str) -> Result<(), VaultError>;
    /// Checks that the store works now (a real write and read where possible).
    fn status(&self) -> VaultStatus;
    /// Whether a stored secret survives this process.
    fn persistent(&self) -> bool {
        true
    }
}

/// A [`Vault`] for async code: every call on a blocking thread, within a timeout.
///
/// A call that times out keeps running on its blocking thread (a keyring
/// waiting for an unlock prompt cannot be interrupted); the caller moves on.
#[derive(Debug, Clone)]
pub struct AsyncVault {
    inner: Arc<dyn Vault>,
    timeout: Duration,
}

impl AsyncVault {
    /// `inner`, with every call given at most `timeout`.
    pub fn new(inner: Arc<dyn Vault>, timeout: Duration) -> Self {
        AsyncVault { inner, timeout }
    }

    /// The vault it wraps.
    pub fn inner(&self) -> &Arc<dyn Vault> {
        &self.inner
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Vault) -> Result<T, VaultError> + Send + 'static,
    ) -> Result<T, VaultError> {
        let vault = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || f(&*vault));
        match tokio::time::timeout(self.timeout, task).await {
            Err(_) => Err(VaultError::Timeout(self.timeout)),
            Ok(Err(join)) => Err(VaultError::Platform(format!("vault task failed: {join}"))),
            Ok(Ok(result)) => result,
        }
    }

    /// [`Vault::store`].
    pub async fn store(
        &self,
        server_key: &str,
        user: &str,
        secret: &Secret,
    ) -> Result<(), VaultError> {
        let (k, u, s) = (server_key.to_string(), user.to_string(), secret.clone());
        self.run(move |v| v.store(&k, &u, s.expose())).await
    }

    /// [`Vault::load`].
    pub async fn load(&self, server_key: &str, user: &str) -> Result<Option<Secret>, VaultError> {
        let (k, u) = (server_key.to_string(), user.to_string());
        self.run(move |v| v.load(&k, &u).map(|s| s.map(Secret::new)))
            .await
    }

    /// [`Vault::delete`].
    pub async fn delete(&self, server_key: &str, user: &str) -> Result<(), VaultError> {
        let (k, u) = (server_key.to_string(), user.to_string());
        self.run(move |v| v.delete(&k, &u)).await
    }

    /// [`Vault::status`]; a failed or timed-out check is the status its error implies.
    pub async fn status(&self) -> VaultStatus {
        match self.run(|v| Ok(v.status())).await {
            Ok(status) => status,
            Err(e) => e.status(),
        }
    }
}

// ---------------------------------------------------------------------------
// Memory

/// Secrets in this process only: for tests, and the fallback without a keyring.
#[derive(Debug, Default)]
pub struct MemoryVault {
    entries: Mutex<HashMap<(String, String), Secret>>,
    fail_writes: AtomicBool,
}

impl MemoryVault {
    /// An empty vault.
    pub fn new() -> Self {
        MemoryVault::default()
    }

    /// Makes every `store` fail (tests of a keyring that breaks mid-session).
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::SeqCst);
    }

    /// How many secrets it holds.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// It holds no secret.
    pub fn is_empty(&self) -> bool {
        self.entries.lock().is_empty()
    }
}

impl Vault for MemoryVault {
    fn store(&self, server_key: &str, user: &str, secret: &str) -> Result<(), VaultError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(VaultError::Platform(
                "writes are failing (simulated)".into(),
            ));
        }
        self.entries.lock().insert(
            (server_key.to_string(), user.to_string()),
            Secret::new(secret),
        );
        Ok(())
    }

    fn load(&self, server_key: &str, user: &str) -> Result<Option<String>, VaultError> {
        Ok(self
            .entries
            .lock()
            .get(&(server_key.to_string(), user.to_string()))
            .map(|s| s.expose().to_string()))
    }

    fn delete(&self, server_key: &str, user: &str) -> Result<(), VaultError> {
        self.entries
            .lock()
            .remove(&(server_key.to_string(), user.to_string()));
        Ok(())
    }

    fn status(&self) -> VaultStatus {
        VaultStatus::Available {
            backend: "memory (this run only)".to_string(),
        }
    }

    fn persistent(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------
// OS keyring

/// The OS keyring through keyring 4 (`keyring-core` and its stores): service
/// `warden`, account `"{server_url}|{username}"`, one entry per
/// server and user. On Linux it talks to the Secret Service over D-Bus
/// (`secret-tool lookup service warden username "<url>|alice"` finds it).
///
/// The store is connected on first use and again after a failure, so a keyring
/// daemon that starts later is picked up without restarting the app.
pub struct KeyringVault {
    service: String,
    store: Mutex<Option<Arc<keyring_core::CredentialStore>>>,
}

impl fmt::Debug for KeyringVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringVault")
            .field("service", &self.service)
            .field("connected", &self.store.lock().is_some())
            .finish()
    }
}

impl Default for KeyringVault {
    fn default() -> Self {
        KeyringVault::new()
    }
}

impl KeyringVault {
    /// Entries under the service `warden`.
    pub fn new() -> Self {
        KeyringVault::with_service(KEYRING_SERVICE)
    }

    /// Another service name (tests that must not touch real entries).
    pub fn with_service(service: impl Into<String>) -> Self {
        KeyringVault {
            service: service.into(),
            store: Mutex::new(None),
        }
    }

    /// The account an entry is stored under.
    pub fn account(server_key: &str, user: &str) -> String {
        format!("{server_key}|{user}")
    }

    fn connected(&self) -> Result<Arc<keyring_core::CredentialStore>, VaultError> {
        let mut slot = self.store.lock();
        if let Some(store) = slot.as_ref() {
            return Ok(store.clone());
        }
        let store = platform::connect()?;
        *slot = Some(store.clone());
        Ok(store)
    }

    /// Runs `f` on an entry; a failure of the connection itself drops the
    /// store so that the next call reconnects.
    fn with_entry<T>(
        &self,
        server_key: &str,
        user: &str,
        f: impl FnOnce(&keyring_core::Entry) -> keyring_core::Result<T>,
    ) -> Result<T, keyring_core::Error> {
        let store = self
            .connected()
            .map_err(|e| keyring_core::Error::PlatformFailure(Box::new(e)))?;
        let entry = keyring_core::Entry::new_in_store(
            &store,
            &self.service,
            &Self::account(server_key, user),
        )?;
        let result = f(&entry);
        if matches!(result, Err(keyring_core::Error::PlatformFailure(_))) {
            *self.store.lock() = None;
        }
        result
    }
}

static PROBE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Vault for KeyringVault {
    fn store(&self, server_key: &str, user: &str, secret: &str) -> Result<(), VaultError> {
        self.with_entry(server_key, user, |e| e.set_password(secret))
            .map_err(map_error)
    }

    fn load(&self, server_key: &str, user: &str) -> Result<Option<String>, VaultError> {
        match self.with_entry(server_key, user, |e| e.get_password()) {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    fn delete(&self, server_key: &str, user: &str) -> Result<(), VaultError> {
        match self.with_entry(server_key, user, |e| e.delete_credential()) {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }

    fn status(&self) -> VaultStatus {
        // A real round trip: connecting alone succeeds on a locked keyring.
        let n = PROBE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let key = format!("warden-probe-{}-{n}", std::process::id());
        let value = format!("probe-{n}");
        let round_trip = || -> Result<(), VaultError> {
            self.store(&key, "probe", &value)?;
            let read = self.load(&key, "probe");
            let deleted = self.delete(&key, "probe");
            match read? {
                Some(v) if v == value => deleted,
                _ => Err(VaultError::Platform(
                    "a probe written to the keyring could not be read back".into(),
                )),
            }
        };
        match round_trip() {
            Ok(()) => VaultStatus::Available {
                backend: platform::BACKEND.to_string(),
            },
            Err(e) => e.status(),
        }
    }
}

/// Reads a keyring error as one a user can act on (KEYRING.md lists them).
fn map_error(e: keyring_core::Error) -> VaultError {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(inner) => VaultError::Locked(inner.to_string()),
        K::PlatformFailure(inner) => {
            // Our own connection errors come back wrapped; keep them as they are.
            if let Some(v) = inner.downcast_ref::<VaultError>() {
                return v.clone();
            }
            classify_platform_failure(&format!("{inner} ({inner:?})"))
        }
        K::BadEncoding(_) | K::BadDataFormat(..) => VaultError::Corrupt,
        K::NoDefaultStore => VaultError::Platform("no credential store on this platform".into()),
        other => VaultError::Platform(other.to_string()),
    }
}

/// Tells "no bus" from "no Secret Service" from anything else, by the D-Bus
/// error text (zbus and secret-service do not expose a finer type through
/// keyring-core).
pub(crate) fn classify_platform_failure(text: &str) -> VaultError {
    let short = text.chars().take(300).collect::<String>();
    let lower = text.to_ascii_lowercase();
    if lower.contains("org.freedesktop.secrets")
        || lower.contains("serviceunknown")
        || lower.contains("not provided by any .service")
    {
        VaultError::NoSecretService(short)
    } else if lower.contains("address")
        || lower.contains("no such file")
        || lower.contains("connection refused")
        || lower.contains("inputoutput")
        || lower.contains("connect")
    {
        VaultError::NoSessionBus(short)
    } else if lower.contains("locked") || lower.contains("prompt") {
        VaultError::Locked(short)
    } else {
        VaultError::Platform(short)
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod platform {
    use std::path::Path;
    use std::sync::Arc;

    use super::{VaultError, map_error};

    pub(crate) const BACKEND: &str = "Secret Service";

    pub(crate) fn connect() -> Result<Arc<keyring_core::CredentialStore>, VaultError> {
        let address = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").filter(|a| !a.is_empty());
        if address.is_none() {
            let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR")
                .map(|d| Path::new(&d).join("bus"))
                .filter(|p| p.exists());
            if runtime_bus.is_none() {
                return Err(VaultError::NoSessionBus(
                    "DBUS_SESSION_BUS_ADDRESS is not set and there is no $XDG_RUNTIME_DIR/bus"
                        .into(),
                ));
            }
        }
        let store: Arc<keyring_core::CredentialStore> =
            zbus_secret_service_keyring_store::Store::new().map_err(map_error)?;
        Ok(store)
    }
}

#[cfg(not(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
)))]
mod platform {
    use std::sync::Arc;

    use super::VaultError;

    pub const BACKEND: &str = "system keychain";

    pub fn connect() -> Result<Arc<keyring_core::CredentialStore>, VaultError> {
        match keyring::Entry::store_status() {
            Ok(()) => keyring_core::get_default_store()
                .ok_or_else(|| VaultError::Platform("no default credential store".into())),
            Err(e) => Err(VaultError::Platform(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_vault_keeps_one_secret_per_server_and_user() {
        let v = MemoryVault::new();
        assert!(v.is_empty());
        v.store("http://a/", "alice", "s1").unwrap();
        v.store("http://b/", "alice", "s2").unwrap();
        v.store("http://a/", "bob", "s3").unwrap();
        v.store("http://a/", "alice", "s4").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.load("http://a/", "alice").unwrap().as_deref(), Some("s4"));
        assert_eq!(v.load("http://b/", "alice").unwrap().as_deref(), Some("s2"));
        v.delete("http://a/", "alice").unwrap();
        v.delete("http://a/", "alice").unwrap();
        assert_eq!(v.load("http://a/", "alice").unwrap(), None);
        assert!(!v.persistent());
        assert!(v.status().is_available());
    }

    #[test]
    fn memory_vault_never_shows_secrets_in_debug() {
        let v = MemoryVault::new();
        v.store(
            "k",
            "u",
            "eyJhbGciOiJIUzI1NiJ9.payload-payload.signature-signature",
        )
        .unwrap();
        let shown = format!("{v:?}");
        assert!(!shown.contains("signature"), "{shown}");
        assert!(!shown.contains("payload"), "{shown}");
    }

    #[test]
    fn memory_vault_can_simulate_failing_writes() {
        let v = MemoryVault::new();
        v.store("k", "u", "old").unwrap();
        v.fail_writes(true);
        assert!(v.store("k", "u", "new").is_err());
        assert_eq!(v.load("k", "u").unwrap().as_deref(), Some("old"));
        v.fail_writes(false);
        v.store("k", "u", "new").unwrap();
        assert_eq!(v.load("k", "u").unwrap().as_deref(), Some("new"));
    }

    #[test]
    fn accounts_name_server_and_user() {
        assert_eq!(
            KeyringVault::account("http://127.0.0.1:8000/", "alice"),
            "http://127.0.0.1:8000/|alice"
        );
    }

    #[test]
    fn keyring_failures_read_as_user_facing_causes() {
        let no_bus = classify_platform_failure(
            "Zbus(InputOutput(Os { code: 2, kind: NotFound, message: \"No such file or directory\" }))",
        );
        assert!(matches!(no_bus, VaultError::NoSessionBus(_)), "{no_bus:?}");
        let no_ss = classify_platform_failure(
            "Zbus(MethodError(OwnedErrorName(\"org.freedesktop.DBus.Error.ServiceUnknown\"), Some(\"The name org.freedesktop.secrets was not provided by any .service files\")))",
        );
        assert!(matches!(no_ss, VaultError::NoSecretService(_)), "{no_ss:?}");
        assert_eq!(
            map_error(keyring_core::Error::NoStorageAccess(Box::new(
                VaultError::Platform("Prompt".into())
            )))
            .status(),
            VaultStatus::Locked
        );
        assert_eq!(
            map_error(keyring_core::Error::BadEncoding(vec![0xff])),
            VaultError::Corrupt
        );
        let ours = VaultError::NoSessionBus("x".into());
        assert_eq!(
            map_error(keyring_core::Error::PlatformFailure(Box::new(ours.clone()))),
            ours
        );
        let s = VaultError::NoSessionBus("x".into()).status();
        let VaultStatus::Unavailable(reason) = s else {
            panic!("{s:?}")
        };
        assert!(reason.contains("no D-Bus session bus"), "{reason}");
    }

    #[tokio::test]
    async fn async_vault_times_out_a_hanging_store() {
        #[derive(Debug)]
        struct Hangs;
        impl Vault for Hangs {
            fn store(&self, _: &str, _: &str, _: &str) -> Result<(), VaultError> {
                std::thread::sleep(Duration::from_millis(500));
                Ok(())
            }
            fn load(&self, _: &str, _: &str) -> Result<Option<String>, VaultError> {
                Ok(None)
            }
            fn delete(&self, _: &str, _: &str) -> Result<(), VaultError> {
                Ok(())
            }
            fn status(&self) -> VaultStatus {
                std::thread::sleep(Duration::from_millis(500));
                VaultStatus::Locked
            }
        }
        let v = AsyncVault::new(Arc::new(Hangs), Duration::from_millis(50));
        let e = v.store("k", "u", &Secret::new("s")).await.unwrap_err();
        assert_eq!(e, VaultError::Timeout(Duration::from_millis(50)));
        assert!(
            matches!(v.status().await, VaultStatus::Unavailable(r) if r.contains("did not answer"))
        );
        assert_eq!(v.load("k", "u").await.unwrap(), None);
    }
}
