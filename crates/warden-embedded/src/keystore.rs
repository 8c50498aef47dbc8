//! Where the embedded backend's signing keys live between runs: the OS
//! keyring (service `warden`, user `signing-keys:<absolute database path>`),
//! or, when no keyring can be used, `signing-keys.json` beside the database
//! (mode 0600, written atomically) with a warning. The same layout as
//! `warden serve`, so the two can share a data directory.
//!
//! Once keys are in the keyring a non-secret marker file says so, so a later
//! run whose keyring is locked fails instead of quietly generating new keys
//! (which would end every session). Keyring calls run on their own thread
//! and are abandoned after 5 s (a locked keyring can wait on a prompt).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};
use warden_auth::keys::KeyMaterial;
use warden_auth::{Settings, UnixTime};

use crate::error::{EmbeddedError, Result};

pub const KEYRING_SERVICE: &str = "warden";
pub const KEY_FILE_NAME: &str = "signing-keys.json";
pub const MARKER_FILE_NAME: &str = "signing-keys.keyring";
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
    Keyring {
        user: String,
    },
    File {
        path: PathBuf,
    },
}

impl KeyStoreKind {
    pub fn describe(&self) -> String {
        match self {
            KeyStoreKind::Settings => "SIGNING_KEY in the settings".into(),
            KeyStoreKind::Keyring { .. } => "OS keyring".into(),
            KeyStoreKind::File { path } => format!("file {}", path.display()),
        }
    }
}

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
}

/// Loads the database's keys, generating and storing them on first use.
pub async fn load_or_create(
    settings: &Settings,
    db: &Path,
    choice: KeyStoreChoice,
    now: UnixTime,
) -> Result<(KeyStoreKind, Vec<KeyMaterial>)> {
    if let Some(key) = KeyMaterial::from_settings(settings, now)
        .map_err(|e| EmbeddedError::Keys(format!("SIGNING_KEY: {e}")))?
    {
        return Ok((KeyStoreKind::Settings, vec![key]));
    }
    let loc = Locations::for_database(db);
    let file_kind = KeyStoreKind::File {
        path: loc.file.clone(),
    };
    let ring_kind = KeyStoreKind::Keyring {
        user: loc.keyring_user.clone(),
    };
    if choice != KeyStoreChoice::Keyring
        && let Some(keys) = read_file(&loc.file)?
    {
        return Ok((file_kind, keys));
    }
    if choice == KeyStoreChoice::File {
        let keys = create_in_file(&loc.file, settings, now)?;
        return Ok((file_kind, keys));
    }
    let must_use_keyring = choice == KeyStoreChoice::Keyring || loc.marker.exists();
    let failure = match keyring_get(&loc.keyring_user).await {
        Ok(Some(text)) => {
            let keys = parse_keys(&text)?;
            write_marker(&loc)?;
            return Ok((ring_kind, keys));
        }
        Ok(None) if loc.marker.exists() => {
            return Err(EmbeddedError::Keys(format!(
                "the signing keys were stored in the OS keyring but are gone; delete {} to \
                 generate new ones (every session ends)",
                loc.marker.display()
            )));
        }
        Ok(None) => {
            let keys = generate(settings, now)?;
            match keyring_set_verified(&loc.keyring_user, to_json(&keys)?).await {
                Ok(()) => {
                    write_marker(&loc)?;
                    info!(kid = %keys[0].kid, "generated a signing key and stored it in the OS keyring");
                    return Ok((ring_kind, keys));
                }
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    if must_use_keyring {
        return Err(EmbeddedError::Keys(format!(
            "the signing keys belong in the OS keyring, which is not usable: {failure}; unlock it and retry"
        )));
    }
    warn!(
        cause = %failure,
        file = %loc.file.display(),
        "OS keyring unavailable; keeping the signing keys in a file readable only by this user"
    );
    let keys = create_in_file(&loc.file, settings, now)?;
    Ok((file_kind, keys))
}

fn generate(settings: &Settings, now: UnixTime) -> Result<Vec<KeyMaterial>> {
    let key = KeyMaterial::generate(settings.ALGORITHM, now)
        .map_err(|e| EmbeddedError::Keys(format!("cannot generate a signing key: {e}")))?;
    Ok(vec![key])
}

fn to_json(keys: &[KeyMaterial]) -> Result<String> {
    serde_json::to_string_pretty(keys).map_err(|e| EmbeddedError::Internal(e.to_string()))
}

fn parse_keys(text: &str) -> Result<Vec<KeyMaterial>> {
    // serde_json's messages quote no input, so no secret leaks through them.
    let keys: Vec<KeyMaterial> = serde_json::from_str(text).map_err(|e| {
        EmbeddedError::Keys(format!("the stored signing keys are not readable: {e}"))
    })?;
    if keys.is_empty() {
        return Err(EmbeddedError::Keys(
            "the key store holds no signing keys".into(),
        ));
    }
    Ok(keys)
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> EmbeddedError {
    EmbeddedError::Keys(format!("{}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<Option<Vec<KeyMaterial>>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| io_err(path, e))?;
    parse_keys(&text).map(Some)
}

fn create_in_file(path: &Path, settings: &Settings, now: UnixTime) -> Result<Vec<KeyMaterial>> {
    let keys = generate(settings, now)?;
    match write_private_new(path, to_json(&keys)?.as_bytes()) {
        Ok(()) => {
            info!(file = %path.display(), kid = %keys[0].kid, "generated a signing key");
            Ok(keys)
        }
        // Another process created it first: its keys win.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read_file(path)?.ok_or_else(|| io_err(path, "vanished while being created"))
        }
        Err(e) => Err(io_err(path, e)),
    }
}

/// Creates `path` with mode 0600 (whatever the umask) and `bytes`, failing
/// with `AlreadyExists` when it is there: a synced temp file hard-linked into place.
pub(crate) fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    if result.is_ok()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    result
}

fn write_marker(loc: &Locations) -> Result<()> {
    if loc.marker.exists() {
        return Ok(());
    }
    let json = serde_json::json!({
        "store": "keyring",
        "service": KEYRING_SERVICE,
        "user": loc.keyring_user,
    })
    .to_string();
    match write_private_new(&loc.marker, json.as_bytes()) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(io_err(&loc.marker, e)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Keyring

#[derive(Debug)]
enum KeyringFailure {
    Failed(String),
    TimedOut,
}

impl std::fmt::Display for KeyringFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyringFailure::Failed(why) => f.write_str(why),
            KeyringFailure::TimedOut => write!(
                f,
                "no answer within {} s (is the keyring locked?)",
                KEYRING_TIMEOUT.as_secs()
            ),
        }
    }
}

fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            format!("the keyring is locked or not accessible ({inner})")
        }
        keyring::Error::PlatformFailure(inner) => inner.to_string(),
        keyring::Error::NoDefaultStore => match keyring::Entry::store_status() {
            Err(cause) => format!("no keyring service: {cause}"),
            Ok(()) => "no keyring service".into(),
        },
        other => other.to_string(),
    }
}

fn entry(user: &str) -> std::result::Result<keyring::Entry, KeyringFailure> {
    keyring::Entry::new(KEYRING_SERVICE, user).map_err(|e| KeyringFailure::Failed(describe(&e)))
}

/// Runs a keyring call on its own OS thread (zbus may not be called from a
/// runtime thread), abandoning it after the timeout.
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

async fn keyring_get(user: &str) -> std::result::Result<Option<String>, KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || match entry(&user)?.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(KeyringFailure::Failed(describe(&e))),
    })
    .await
}

/// Writes and reads back: a keyring that accepts writes but does not keep them is no keyring.
async fn keyring_set_verified(user: &str, json: String) -> std::result::Result<(), KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || {
        let entry = entry(&user)?;
        entry
            .set_password(&json)
            .map_err(|e| KeyringFailure::Failed(describe(&e)))?;
        let back = entry
            .get_password()
            .map_err(|e| KeyringFailure::Failed(describe(&e)))?;
        if back != json {
            return Err(KeyringFailure::Failed(
                "the keyring did not return what was written".into(),
            ));
        }
        Ok(())
    })
    .await
}
