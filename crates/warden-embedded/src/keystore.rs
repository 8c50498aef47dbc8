//! Where the signing keys live between runs; shared by the embedded backend
//! and `warden serve` / `warden keys`, so the two can share a data directory.
//!
//! - `SIGNING_KEY` in the settings: used as it is ([`KeyStoreKind::Settings`]).
//! - Otherwise keys are generated on first use and kept as JSON
//!   (`Vec<KeyMaterial>`) in the OS keyring (service `warden`, user
//!   `signing-keys:<absolute database path>`) or in `signing-keys.json`
//!   beside the database (mode 0600, replaced atomically).
//!
//! With [`KeyStoreChoice::Auto`] the keyring is tried first, with a real write
//! and read-back; when it cannot be used, the file is (with a warning). Once
//! keys are in the keyring a small marker file (`signing-keys.keyring`, no
//! secrets) says so, so that a later run whose keyring is locked or
//! unreachable fails instead of quietly generating a second set of keys,
//! which would log everyone out.
//!
//! Keyring calls block (D-Bus) and can hang on an invisible unlock prompt, so
//! each runs on its own OS thread (not a runtime thread: a zbus built with its
//! tokio feature panics inside a runtime) and is abandoned after 5 seconds.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};
use warden_auth::{
    AuthError, AuthService, KeyError, KeyMaterial, KeyRing, Settings, Store, SystemClock, UnixTime,
};

/// The keyring service the keys are stored under (the client's refresh tokens too).
const KEYRING_SERVICE: &str = "warden";
/// The key file beside the database, when the keys are not in the keyring.
pub(crate) const KEY_FILE_NAME: &str = "signing-keys.json";
/// Beside the database: says the keys are in the keyring (no secret in it).
const MARKER_FILE_NAME: &str = "signing-keys.keyring";
/// Beside [`KEY_FILE_NAME`]: the secret that keys identifier hashes.
const IDENTIFIER_SECRET_FILE_NAME: &str = "identifier-secret";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Which key store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStoreChoice {
    /// The keyring when it works (checked by a real write and read-back), else a 0600 file.
    #[default]
    Auto,
    /// The keyring or nothing.
    Keyring,
    /// A 0600 file beside the database.
    File,
}

/// Where the keys actually are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyStoreKind {
    /// `SIGNING_KEY` in the settings, used as it is.
    Settings,
    /// The OS keyring, service `warden`.
    Keyring {
        /// The keyring entry's user: `signing-keys:<database path>`.
        user: String,
    },
    /// A 0600 JSON file.
    File {
        /// The file.
        path: PathBuf,
    },
}

impl KeyStoreKind {
    /// Where the keys are, in words for logs and the app's status.
    pub fn describe(&self) -> String {
        match self {
            KeyStoreKind::Settings => "SIGNING_KEY in the settings".into(),
            KeyStoreKind::Keyring { user } => {
                format!("the OS keyring (service \"{KEYRING_SERVICE}\", user \"{user}\")")
            }
            KeyStoreKind::File { path } => format!("{}", path.display()),
        }
    }
}

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringFailure {
    /// No keyring to talk to (no session bus, no Secret Service).
    #[error("no keyring service: {0}")]
    Unavailable(String),
    /// The keyring answered with an error, or wrote what it cannot read back.
    #[error("{0}")]
    Failed(String),
    /// No answer within 5 seconds.
    #[error(
        "no answer within {} s (is the keyring locked and waiting for an unlock prompt?)",
        KEYRING_TIMEOUT.as_secs()
    )]
    TimedOut,
}

/// What went wrong with the signing keys' store.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// `SIGNING_KEY` in the settings is not a usable key.
    #[error("SIGNING_KEY: {0}")]
    SigningKey(KeyError),
    /// Generating a key (or the identifier secret) failed.
    #[error("cannot generate a signing key: {0}")]
    Generate(KeyError),
    /// [`KeyStoreChoice::Keyring`] and the keyring does not work.
    #[error("the key store is the OS keyring, which is not usable: {0}")]
    KeyringRequired(KeyringFailure),
    #[error(
        "the signing keys of this database are in the OS keyring ({store}), which is not usable: {cause}; \
         unlock it and retry (delete {} only if you want new keys, which ends every session)",
        marker.display()
    )]
    /// The marker says the keys are in the keyring, and the keyring does not work.
    MarkedKeyringUnusable {
        /// The keyring entry, in words.
        store: String,
        /// The marker file.
        marker: PathBuf,
        /// Why the keyring cannot be used.
        cause: KeyringFailure,
    },
    #[error(
        "the signing keys of this database were stored in the OS keyring ({store}) but are gone; \
         delete {} to generate new ones (every session ends)",
        marker.display()
    )]
    /// The marker says the keys are in the keyring, and the keyring has none.
    MarkedKeyringGone {
        /// The keyring entry, in words.
        store: String,
        /// The marker file.
        marker: PathBuf,
    },
    /// Reading keys from a keyring that does not work.
    #[error("the signing keys are in the OS keyring, which is not usable: {0}")]
    KeyringUnusable(KeyringFailure),
    /// The keyring refused the keys.
    #[error("cannot store the signing keys in the OS keyring: {0}")]
    KeyringWrite(KeyringFailure),
    /// What is stored is not a key list.
    // serde_json's messages quote no input, so a secret cannot leak through them.
    #[error("the signing keys in {store} are not readable: {message}")]
    Unreadable {
        /// Where, in words.
        store: String,
        /// What serde_json found wrong.
        message: String,
    },
    /// The store is there but holds no key.
    #[error("{store} holds no signing keys")]
    Empty {
        /// Where, in words.
        store: String,
    },
    /// A key file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },
    /// A key, secret or marker file could not be written.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },
    /// Another process created the file first, then it was gone before it could be read.
    #[error("{} vanished while being created", path.display())]
    Vanished {
        /// The file.
        path: PathBuf,
    },
    /// Saving or rotating keys that come from `SIGNING_KEY`.
    #[error("keys set by SIGNING_KEY are not stored by warden")]
    NotStored,
    /// The stored keys do not make a key ring for these settings.
    #[error("the stored signing keys: {0}")]
    Ring(KeyError),
    /// The engine refused (rotating the signing key).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Something that should not fail did (a blocking task, serialising keys).
    #[error("internal error: {0}")]
    Internal(String),
}

type Result<T> = std::result::Result<T, KeyStoreError>;

/// The places derived from the database path.
#[derive(Debug, Clone)]
struct Locations {
    file: PathBuf,
    marker: PathBuf,
    keyring_user: String,
}

impl Locations {
    fn for_database(db: &Path) -> Locations {
        let dir = db.parent().unwrap_or_else(|| Path::new("."));
        Locations {
            file: dir.join(KEY_FILE_NAME),
            marker: dir.join(MARKER_FILE_NAME),
            keyring_user: format!("signing-keys:{}", db.display()),
        }
    }

    fn keyring(&self) -> KeyStoreKind {
        KeyStoreKind::Keyring {
            user: self.keyring_user.clone(),
        }
    }

    fn file(&self) -> KeyStoreKind {
        KeyStoreKind::File {
            path: self.file.clone(),
        }
    }

    fn marked_unusable(&self, cause: KeyringFailure) -> KeyStoreError {
        KeyStoreError::MarkedKeyringUnusable {
            store: self.keyring().describe(),
            marker: self.marker.clone(),
            cause,
        }
    }

    fn marked_gone(&self) -> KeyStoreError {
        KeyStoreError::MarkedKeyringGone {
            store: self.keyring().describe(),
            marker: self.marker.clone(),
        }
    }
}

/// The non-secret marker left beside the database when keys are in the keyring.
#[derive(Debug, Serialize)]
struct Marker<'a> {
    store: &'a str,
    service: &'a str,
    user: &'a str,
}

fn from_settings(settings: &Settings, now: UnixTime) -> Result<Option<KeyMaterial>> {
    KeyMaterial::from_settings(settings, now).map_err(KeyStoreError::SigningKey)
}

/// Loads the database's keys, generating and storing them on first use.
/// `db` is the database's absolute path.
pub async fn load_or_create(
    settings: &Settings,
    db: &Path,
    choice: KeyStoreChoice,
    now: UnixTime,
) -> Result<(KeyStoreKind, Vec<KeyMaterial>)> {
    if let Some(key) = from_settings(settings, now)? {
        return Ok((KeyStoreKind::Settings, vec![key]));
    }
    let loc = Locations::for_database(db);
    match choice {
        KeyStoreChoice::File => {
            let keys = match read_file(&loc.file)? {
                Some(keys) => keys,
                None => create_in_file(&loc.file, settings, now)?,
            };
            Ok((loc.file(), keys))
        }
        KeyStoreChoice::Keyring => {
            let kind = loc.keyring();
            let found = keyring_get(&loc.keyring_user)
                .await
                .map_err(KeyStoreError::KeyringRequired)?;
            let keys = match found {
                Some(text) => parse_keys(&text, &kind)?,
                None if loc.marker.exists() => return Err(loc.marked_gone()),
                None => create_in_keyring(&loc, settings, now)
                    .await
                    .map_err(KeyStoreError::KeyringRequired)?,
            };
            write_marker(&loc)?;
            Ok((kind, keys))
        }
        KeyStoreChoice::Auto => auto(&loc, settings, now).await,
    }
}

async fn auto(
    loc: &Locations,
    settings: &Settings,
    now: UnixTime,
) -> Result<(KeyStoreKind, Vec<KeyMaterial>)> {
    if let Some(keys) = read_file(&loc.file)? {
        return Ok((loc.file(), keys));
    }
    let kind = loc.keyring();
    if loc.marker.exists() {
        return match keyring_get(&loc.keyring_user).await {
            Ok(Some(text)) => Ok((kind.clone(), parse_keys(&text, &kind)?)),
            Ok(None) => Err(loc.marked_gone()),
            Err(cause) => Err(loc.marked_unusable(cause)),
        };
    }
    let failure = match keyring_get(&loc.keyring_user).await {
        Ok(Some(text)) => {
            let keys = parse_keys(&text, &kind)?;
            write_marker(loc)?;
            return Ok((kind, keys));
        }
        Ok(None) => match create_in_keyring(loc, settings, now).await {
            Ok(keys) => {
                write_marker(loc)?;
                return Ok((kind, keys));
            }
            Err(e) => e,
        },
        Err(e) => e,
    };
    warn!(
        cause = %failure,
        file = %loc.file.display(),
        "OS keyring unavailable; keeping the signing keys in a file readable only by this user"
    );
    let keys = create_in_file(&loc.file, settings, now)?;
    Ok((loc.file(), keys))
}

/// The keys as they are, without creating anything; `None` when there are none
/// yet (or, in `Auto` mode without a marker, when the keyring cannot be asked).
pub async fn load_existing(
    settings: &Settings,
    db: &Path,
    choice: KeyStoreChoice,
    now: UnixTime,
) -> Result<Option<(KeyStoreKind, Vec<KeyMaterial>)>> {
    if let Some(key) = from_settings(settings, now)? {
        return Ok(Some((KeyStoreKind::Settings, vec![key])));
    }
    let loc = Locations::for_database(db);
    if choice != KeyStoreChoice::Keyring
        && let Some(keys) = read_file(&loc.file)?
    {
        return Ok(Some((loc.file(), keys)));
    }
    if choice == KeyStoreChoice::File {
        return Ok(None);
    }
    let kind = loc.keyring();
    match keyring_get(&loc.keyring_user).await {
        Ok(Some(text)) => Ok(Some((kind.clone(), parse_keys(&text, &kind)?))),
        Ok(None) => Ok(None),
        Err(e) if choice == KeyStoreChoice::Keyring || loc.marker.exists() => {
            Err(KeyStoreError::KeyringUnusable(e))
        }
        Err(_) => Ok(None),
    }
}

/// Replaces the stored keys (after a rotation).
pub async fn save(kind: &KeyStoreKind, keys: &[KeyMaterial]) -> Result<()> {
    let json = to_json(keys)?;
    match kind {
        KeyStoreKind::Settings => Err(KeyStoreError::NotStored),
        KeyStoreKind::File { path } => write_private_atomic(path, json.as_bytes(), Replace::Always)
            .map_err(|error| KeyStoreError::Write {
                path: path.clone(),
                error,
            }),
        KeyStoreKind::Keyring { user } => keyring_set_verified(user, json)
            .await
            .map_err(KeyStoreError::KeyringWrite),
    }
}

/// The secret that keys the hashes under which failed logins are counted
/// and unknown identifiers are audited ([`KeyRing::identifier_secret`]),
/// kept where the signing keys are (the keyring entry
/// `identifier-secret:<database>`, or `identifier-secret` beside the key
/// file, 0600), and created there on first use. Unlike the signing keys it
/// never rotates, so counters and audit lines stay comparable across key
/// rotations. `None` for keys from `SIGNING_KEY`: the ring then derives it
/// from that key, the same on every node that shares the setting.
pub async fn identifier_secret(kind: &KeyStoreKind) -> Result<Option<String>> {
    match kind {
        KeyStoreKind::Settings => Ok(None),
        KeyStoreKind::File { path } => {
            let path = path.with_file_name(IDENTIFIER_SECRET_FILE_NAME);
            if let Some(secret) = read_secret_file(&path)? {
                return Ok(Some(secret));
            }
            let secret =
                warden_auth::generate_identifier_secret().map_err(KeyStoreError::Generate)?;
            match write_private_atomic(&path, secret.as_bytes(), Replace::Never) {
                Ok(()) => Ok(Some(secret)),
                // Another process made it first: its secret wins.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => read_secret_file(&path)?
                    .map(Some)
                    .ok_or(KeyStoreError::Vanished { path }),
                Err(error) => Err(KeyStoreError::Write { path, error }),
            }
        }
        KeyStoreKind::Keyring { user } => {
            let user = identifier_secret_user(user);
            if let Some(secret) = keyring_get(&user)
                .await
                .map_err(KeyStoreError::KeyringUnusable)?
                .filter(|s| !s.trim().is_empty())
            {
                return Ok(Some(secret.trim().to_string()));
            }
            let secret =
                warden_auth::generate_identifier_secret().map_err(KeyStoreError::Generate)?;
            keyring_set_verified(&user, secret.clone())
                .await
                .map_err(KeyStoreError::KeyringWrite)?;
            info!(service = KEYRING_SERVICE, %user, "generated the identifier secret");
            Ok(Some(secret))
        }
    }
}

/// The keyring user of the identifier secret that goes with the signing
/// keys stored under `signing_keys_user`.
fn identifier_secret_user(signing_keys_user: &str) -> String {
    match signing_keys_user.strip_prefix("signing-keys:") {
        Some(db) => format!("identifier-secret:{db}"),
        None => format!("identifier-secret:{signing_keys_user}"),
    }
}

fn read_secret_file(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(KeyStoreError::Empty {
            store: path.display().to_string(),
        }),
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(KeyStoreError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// A key ring for serving: expired retired keys dropped, algorithm checked.
pub fn ring_for_serving(
    settings: &Settings,
    keys: Vec<KeyMaterial>,
    now: UnixTime,
) -> Result<KeyRing> {
    let mut ring = KeyRing::from_materials(keys).map_err(KeyStoreError::Ring)?;
    ring.prune(now);
    let active = ring.active().alg();
    if active != settings.ALGORITHM {
        warn!(
            active = active.as_str(),
            configured = settings.ALGORITHM.as_str(),
            "the active signing key's algorithm differs from ALGORITHM; run `warden keys rotate` to switch"
        );
    }
    Ok(ring)
}

/// Makes a new active signing key (the old one keeps verifying until its
/// tokens expire) and stores the result where `kind` says; returns the
/// stored keys.
pub async fn rotate_and_save(
    settings: Settings,
    store: Arc<dyn Store>,
    kind: &KeyStoreKind,
    keys: Vec<KeyMaterial>,
    now: UnixTime,
) -> Result<Vec<KeyMaterial>> {
    if *kind == KeyStoreKind::Settings {
        return Err(KeyStoreError::NotStored);
    }
    let ring = ring_for_serving(&settings, keys, now)?;
    let materials = tokio::task::spawn_blocking(move || -> Result<Vec<KeyMaterial>> {
        let service = AuthService::new(settings, store, Arc::new(SystemClock), ring)?;
        Ok(service.rotate_signing_key()?)
    })
    .await
    .map_err(|e| KeyStoreError::Internal(e.to_string()))??;
    save(kind, &materials).await?;
    Ok(materials)
}

fn generate(settings: &Settings, now: UnixTime) -> Result<Vec<KeyMaterial>> {
    let key = KeyMaterial::generate(settings.ALGORITHM, now).map_err(KeyStoreError::Generate)?;
    Ok(vec![key])
}

fn to_json(keys: &[KeyMaterial]) -> Result<String> {
    serde_json::to_string_pretty(keys).map_err(|e| KeyStoreError::Internal(e.to_string()))
}

fn parse_keys(text: &str, from: &KeyStoreKind) -> Result<Vec<KeyMaterial>> {
    let keys: Vec<KeyMaterial> =
        serde_json::from_str(text).map_err(|e| KeyStoreError::Unreadable {
            store: from.describe(),
            message: e.to_string(),
        })?;
    if keys.is_empty() {
        return Err(KeyStoreError::Empty {
            store: from.describe(),
        });
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------
// File

fn read_file(path: &Path) -> Result<Option<Vec<KeyMaterial>>> {
    let read_error = |error| KeyStoreError::Read {
        path: path.to_path_buf(),
        error,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warn!(
                file = %path.display(),
                mode = format!("{mode:o}"),
                "the signing key file is readable by other users; run chmod 600 on it"
            );
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_error)?;
    let kind = KeyStoreKind::File {
        path: path.to_path_buf(),
    };
    parse_keys(&text, &kind).map(Some)
}

/// First run: writes new keys unless another process just did, whose keys then win.
fn create_in_file(path: &Path, settings: &Settings, now: UnixTime) -> Result<Vec<KeyMaterial>> {
    let keys = generate(settings, now)?;
    match write_private_atomic(path, to_json(&keys)?.as_bytes(), Replace::Never) {
        Ok(()) => {
            info!(file = %path.display(), kid = %keys[0].kid, "generated a signing key");
            Ok(keys)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read_file(path)?.ok_or_else(|| KeyStoreError::Vanished {
                path: path.to_path_buf(),
            })
        }
        Err(error) => Err(KeyStoreError::Write {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Whether [`write_private_atomic`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Replace it.
    Always,
    /// Fail with `AlreadyExists` if the target exists (first creation).
    Never,
}

/// Writes `bytes` to `path` with mode 0600 whatever the umask: a temp file
/// created 0600 beside it, synced, then renamed (or hard-linked, when the
/// target must not be replaced) into place, and the directory synced.
pub fn write_private_atomic(path: &Path, bytes: &[u8], replace: Replace) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?
        .to_string_lossy()
        .into_owned();
    let tmp = unique_temp(dir, &name)?;
    let written = (|| -> std::io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match replace {
            Replace::Always => std::fs::rename(&tmp, path),
            Replace::Never => {
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                linked
            }
        }
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir);
    Ok(())
}

fn unique_temp(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let candidate = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        if !candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(std::io::Error::other(format!(
        "cannot find a free temporary file name in {}",
        dir.display()
    )))
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every platform can open a directory.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn write_marker(loc: &Locations) -> Result<()> {
    if loc.marker.exists() {
        return Ok(());
    }
    let marker = Marker {
        store: "keyring",
        service: KEYRING_SERVICE,
        user: &loc.keyring_user,
    };
    let json = serde_json::to_string_pretty(&marker)
        .map_err(|e| KeyStoreError::Internal(e.to_string()))?;
    match write_private_atomic(&loc.marker, json.as_bytes(), Replace::Never) {
        Err(error) if error.kind() != ErrorKind::AlreadyExists => Err(KeyStoreError::Write {
            path: loc.marker.clone(),
            error,
        }),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Keyring

fn describe_keyring_error(e: &keyring::Error) -> String {
    use keyring::Error as E;
    let text = match e {
        E::NoStorageAccess(inner) => format!("the keyring is locked or not accessible ({inner})"),
        E::PlatformFailure(inner) => format!("{inner}"),
        other => other.to_string(),
    };
    let no_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none();
    if cfg!(target_os = "linux") && no_bus && matches!(e, E::PlatformFailure(_) | E::NoDefaultStore)
    {
        format!("{text} (DBUS_SESSION_BUS_ADDRESS is not set: no D-Bus session)")
    } else {
        text
    }
}

fn failed(e: &keyring::Error) -> KeyringFailure {
    KeyringFailure::Failed(describe_keyring_error(e))
}

fn entry(user: &str) -> std::result::Result<keyring::Entry, KeyringFailure> {
    keyring::Entry::new(KEYRING_SERVICE, user).map_err(|e| match e {
        keyring::Error::NoDefaultStore => {
            let why = match keyring::Entry::store_status() {
                Err(cause) => describe_keyring_error(cause),
                Ok(()) => describe_keyring_error(&e),
            };
            KeyringFailure::Unavailable(why)
        }
        other => failed(&other),
    })
}

/// Runs a keyring call on its own thread, abandoning it after the timeout.
async fn off_runtime<T, F>(work: F) -> std::result::Result<T, KeyringFailure>
where
    T: Send + 'static,
    F: FnOnce() -> std::result::Result<T, KeyringFailure> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("warden-keyring".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| KeyringFailure::Failed(format!("cannot start a thread: {e}")))?;
    match tokio::time::timeout(KEYRING_TIMEOUT, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(KeyringFailure::Failed("the keyring call crashed".into())),
        Err(_) => Err(KeyringFailure::TimedOut),
    }
}

/// The stored text, or `None` when there is no entry.
async fn keyring_get(user: &str) -> std::result::Result<Option<String>, KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || match entry(&user)?.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(failed(&e)),
    })
    .await
}

/// Writes and reads back: a keyring that accepts writes but does not keep
/// them (a stub, a locked collection) is not a keyring.
async fn keyring_set_verified(user: &str, json: String) -> std::result::Result<(), KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || {
        let entry = entry(&user)?;
        entry.set_password(&json).map_err(|e| failed(&e))?;
        let back = entry.get_password().map_err(|e| failed(&e))?;
        if back != json {
            return Err(KeyringFailure::Failed(
                "the keyring did not return what was written".into(),
            ));
        }
        Ok(())
    })
    .await
}

async fn create_in_keyring(
    loc: &Locations,
    settings: &Settings,
    now: UnixTime,
) -> std::result::Result<Vec<KeyMaterial>, KeyringFailure> {
    let keys = generate(settings, now).map_err(|e| KeyringFailure::Failed(e.to_string()))?;
    let json = to_json(&keys).map_err(|e| KeyringFailure::Failed(e.to_string()))?;
    keyring_set_verified(&loc.keyring_user, json).await?;
    info!(
        service = KEYRING_SERVICE,
        user = %loc.keyring_user,
        kid = %keys[0].kid,
        "generated a signing key and stored it in the OS keyring"
    );
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn atomic_write_is_0600_and_never_replaces_when_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        write_private_atomic(&path, b"one", Replace::Never).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let err = write_private_atomic(&path, b"two", Replace::Never).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_private_atomic(&path, b"three", Replace::Always).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn the_identifier_secret_is_made_once_beside_the_key_file_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let kind = KeyStoreKind::File {
            path: dir.path().join(KEY_FILE_NAME),
        };
        let first = identifier_secret(&kind).await.unwrap().unwrap();
        assert!(first.len() >= 40, "32 random bytes, base64url");
        assert_eq!(identifier_secret(&kind).await.unwrap().unwrap(), first);
        let path = dir.path().join(IDENTIFIER_SECRET_FILE_NAME);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Another data directory gets its own.
        let other = tempfile::tempdir().unwrap();
        let other = KeyStoreKind::File {
            path: other.path().join(KEY_FILE_NAME),
        };
        assert_ne!(identifier_secret(&other).await.unwrap().unwrap(), first);
        // Keys from SIGNING_KEY: the ring derives it from that key.
        assert_eq!(
            identifier_secret(&KeyStoreKind::Settings).await.unwrap(),
            None
        );
        // An emptied file is an error, not a silent new secret.
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            identifier_secret(&kind).await,
            Err(KeyStoreError::Empty { .. })
        ));
        assert_eq!(
            identifier_secret_user("signing-keys:/srv/w/warden.db"),
            "identifier-secret:/srv/w/warden.db"
        );
    }

    /// In the test command's private desktop session (a real gnome-keyring):
    /// the identifier secret goes into the keyring beside the signing keys,
    /// as `secret-tool` sees it, and is read back, not regenerated.
    #[tokio::test]
    async fn the_identifier_secret_lives_in_the_keyring_with_the_keys() {
        if std::env::var("WARDEN_TEST_DESKTOP").as_deref() != Ok("1") {
            eprintln!(
                "note: no private keyring session (WARDEN_TEST_DESKTOP != 1); scripts/test.sh runs this for real"
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("warden.db");
        let (kind, _) = load_or_create(&Settings::default(), &db, KeyStoreChoice::Keyring, 0)
            .await
            .unwrap();
        assert!(matches!(kind, KeyStoreKind::Keyring { .. }), "{kind:?}");
        let secret = identifier_secret(&kind).await.unwrap().unwrap();
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", KEYRING_SERVICE, "username"])
            .arg(format!("identifier-secret:{}", db.display()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), secret);
        assert_eq!(identifier_secret(&kind).await.unwrap().unwrap(), secret);
        assert!(!dir.path().join(IDENTIFIER_SECRET_FILE_NAME).exists());
    }

    #[test]
    fn keyring_user_names_the_absolute_database() {
        let loc = Locations::for_database(Path::new("/srv/warden/warden.db"));
        assert_eq!(loc.keyring_user, "signing-keys:/srv/warden/warden.db");
        assert_eq!(loc.file, Path::new("/srv/warden/signing-keys.json"));
        assert_eq!(loc.marker, Path::new("/srv/warden/signing-keys.keyring"));
    }
}
