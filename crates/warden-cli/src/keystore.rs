//! Where the signing keys live between runs.
//!
//! - `SIGNING_KEY` in the config: used as it is (`KEY_STORE = "config"`).
//! - Otherwise keys are generated on first use and kept as JSON
//!   (`Vec<KeyMaterial>`) in the OS keyring (service `warden`, user
//!   `signing-keys:<absolute database path>`) or in `signing-keys.json`
//!   beside the database (mode 0600, replaced atomically).
//!
//! With `KEY_STORE = "auto"` the keyring is tried first, with a real write
//! and read-back; when it cannot be used, the file is. Once keys are in the
//! keyring a small marker file (`signing-keys.keyring`, no secrets) says so,
//! so that a later run whose keyring is locked or unreachable fails instead
//! of quietly generating a second set of keys, which would log everyone out.
//!
//! Keyring calls block (D-Bus) and can hang on an invisible unlock prompt, so
//! each runs on its own OS thread (not a runtime thread: a zbus built with its
//! tokio feature panics inside a runtime) and is abandoned after 5 seconds.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use warden_auth::keys::{KeyMaterial, KeyRing};
use warden_auth::{AuthService, Clock, SystemClock, UnixTime};

use crate::config::{Context, KeyStoreKind};
use crate::output::{Table, rfc3339};

pub const KEYRING_SERVICE: &str = "warden";
pub const KEY_FILE_NAME: &str = "signing-keys.json";
pub const MARKER_FILE_NAME: &str = "signing-keys.keyring";
const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// Where this database's keys are (or will be) kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Config,
    Keyring { user: String, marker: PathBuf },
    File { path: PathBuf },
}

impl Backend {
    pub fn describe(&self) -> String {
        match self {
            Backend::Config => "SIGNING_KEY in the config file".into(),
            Backend::Keyring { user, .. } => {
                format!("the OS keyring (service \"{KEYRING_SERVICE}\", user \"{user}\")")
            }
            Backend::File { path } => format!("{}", path.display()),
        }
    }
}

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

    fn keyring(&self) -> Backend {
        Backend::Keyring {
            user: self.keyring_user.clone(),
            marker: self.marker.clone(),
        }
    }

    fn file(&self) -> Backend {
        Backend::File {
            path: self.file.clone(),
        }
    }
}

/// The non-secret marker left beside the database when keys are in the keyring.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    store: String,
    service: String,
    user: String,
}

/// Loads this database's keys, generating and storing them on first use.
/// `db` is the database's absolute path.
pub async fn load_or_create(
    ctx: &Context,
    db: &Path,
    now: UnixTime,
) -> anyhow::Result<(Backend, Vec<KeyMaterial>)> {
    if let Some(found) = configured(ctx, now)? {
        return Ok(found);
    }
    let loc = Locations::for_database(db);
    match ctx.server.key_store() {
        KeyStoreKind::Config => unreachable_config(),
        KeyStoreKind::File => {
            let backend = loc.file();
            match read_file(&loc.file)? {
                Some(keys) => Ok((backend, keys)),
                None => {
                    let keys = create_in_file(&loc.file, ctx, now)?;
                    Ok((backend, keys))
                }
            }
        }
        KeyStoreKind::Keyring => {
            let backend = loc.keyring();
            let found = keyring_get(&loc.keyring_user)
                .await
                .map_err(|e| keyring_required(&e))?;
            let keys = match found {
                Some(text) => parse_keys(&text, &backend)?,
                None => create_in_keyring(&loc, ctx, now)
                    .await
                    .map_err(|e| keyring_required(&e))?,
            };
            write_marker(&loc)?;
            Ok((backend, keys))
        }
        KeyStoreKind::Auto => auto(&loc, ctx, now).await,
    }
}

async fn auto(
    loc: &Locations,
    ctx: &Context,
    now: UnixTime,
) -> anyhow::Result<(Backend, Vec<KeyMaterial>)> {
    if let Some(keys) = read_file(&loc.file)? {
        return Ok((loc.file(), keys));
    }
    let backend = loc.keyring();
    if loc.marker.exists() {
        let found = keyring_get(&loc.keyring_user).await.map_err(|e| {
            anyhow!(
                "the signing keys of this database are in the OS keyring ({}), which is not usable: {e}; \
                 unlock it and retry (delete {} only if you want new keys, which ends every session)",
                backend.describe(),
                loc.marker.display()
            )
        })?;
        return match found {
            Some(text) => Ok((backend.clone(), parse_keys(&text, &backend)?)),
            None => bail!(
                "the signing keys of this database were stored in the OS keyring ({}) but are gone; \
                 delete {} to generate new ones (every session ends)",
                backend.describe(),
                loc.marker.display()
            ),
        };
    }
    let failure = match keyring_get(&loc.keyring_user).await {
        Ok(Some(text)) => {
            let keys = parse_keys(&text, &backend)?;
            write_marker(loc)?;
            return Ok((backend, keys));
        }
        Ok(None) => match create_in_keyring(loc, ctx, now).await {
            Ok(keys) => {
                write_marker(loc)?;
                return Ok((backend, keys));
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
    let keys = create_in_file(&loc.file, ctx, now)?;
    Ok((loc.file(), keys))
}

/// The keys as they are, without creating anything; `None` when there are none
/// yet (or, in `auto` mode, when the keyring cannot be asked).
pub async fn load_existing(
    ctx: &Context,
    db: &Path,
    now: UnixTime,
) -> anyhow::Result<Option<(Backend, Vec<KeyMaterial>)>> {
    if let Some(found) = configured(ctx, now)? {
        return Ok(Some(found));
    }
    let loc = Locations::for_database(db);
    let kind = ctx.server.key_store();
    if kind != KeyStoreKind::Keyring
        && let Some(keys) = read_file(&loc.file)?
    {
        return Ok(Some((loc.file(), keys)));
    }
    let ask_keyring = match kind {
        KeyStoreKind::Keyring => true,
        KeyStoreKind::Auto => true,
        KeyStoreKind::File | KeyStoreKind::Config => false,
    };
    if !ask_keyring {
        return Ok(None);
    }
    let backend = loc.keyring();
    match keyring_get(&loc.keyring_user).await {
        Ok(Some(text)) => Ok(Some((backend.clone(), parse_keys(&text, &backend)?))),
        Ok(None) => Ok(None),
        Err(e) if kind == KeyStoreKind::Keyring || loc.marker.exists() => Err(anyhow!(
            "the signing keys are in the OS keyring, which is not usable: {e}"
        )),
        Err(_) => Ok(None),
    }
}

/// Replaces the stored keys (after a rotation).
pub async fn save(backend: &Backend, keys: &[KeyMaterial]) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(keys)?;
    match backend {
        Backend::Config => bail!("keys set by SIGNING_KEY are not stored by warden"),
        Backend::File { path } => write_private_atomic(path, json.as_bytes(), Replace::Always),
        Backend::Keyring { user, .. } => keyring_set_verified(user, json)
            .await
            .map_err(|e| anyhow!("cannot store the signing keys in the OS keyring: {e}")),
    }
}

fn configured(ctx: &Context, now: UnixTime) -> anyhow::Result<Option<(Backend, Vec<KeyMaterial>)>> {
    let kind = ctx.server.key_store();
    match KeyMaterial::from_settings(&ctx.settings, now).context("SIGNING_KEY")? {
        Some(key) => match kind {
            KeyStoreKind::Auto | KeyStoreKind::Config => Ok(Some((Backend::Config, vec![key]))),
            other => bail!(
                "[server] KEY_STORE = \"{}\" conflicts with SIGNING_KEY: a key in the config file is used as it is; \
                 remove SIGNING_KEY to let warden generate and keep keys, or set KEY_STORE = \"config\"",
                other.as_str()
            ),
        },
        None if kind == KeyStoreKind::Config => unreachable_config(),
        None => Ok(None),
    }
}

fn unreachable_config<T>() -> anyhow::Result<T> {
    bail!("[server] KEY_STORE = \"config\" needs SIGNING_KEY in the config file")
}

fn keyring_required(e: &KeyringFailure) -> anyhow::Error {
    anyhow!("[server] KEY_STORE = \"keyring\" but the OS keyring is not usable: {e}")
}

fn generate(ctx: &Context, now: UnixTime) -> anyhow::Result<Vec<KeyMaterial>> {
    let key = KeyMaterial::generate(ctx.settings.ALGORITHM, now)
        .context("cannot generate a signing key")?;
    Ok(vec![key])
}

fn parse_keys(text: &str, from: &Backend) -> anyhow::Result<Vec<KeyMaterial>> {
    // serde_json's messages quote no input, so a secret cannot leak through them.
    let keys: Vec<KeyMaterial> = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "the signing keys in {} are not readable: {e}",
            from.describe()
        )
    })?;
    if keys.is_empty() {
        bail!("{} holds no signing keys", from.describe());
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------
// File

fn read_file(path: &Path) -> anyhow::Result<Option<Vec<KeyMaterial>>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warn!(
                file = %path.display(),
                mode = format!("{mode:o}"),
                "the signing key file is readable by other users; run chmod 600 on it"
            );
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let backend = Backend::File {
        path: path.to_path_buf(),
    };
    parse_keys(&text, &backend).map(Some)
}

/// First run: writes new keys unless another process just did, whose keys then win.
fn create_in_file(path: &Path, ctx: &Context, now: UnixTime) -> anyhow::Result<Vec<KeyMaterial>> {
    let keys = generate(ctx, now)?;
    let json = serde_json::to_string_pretty(&keys)?;
    match write_private_atomic(path, json.as_bytes(), Replace::Never) {
        Ok(()) => {
            info!(file = %path.display(), kid = %keys[0].kid, "generated a signing key");
            Ok(keys)
        }
        Err(e) if is_already_exists(&e) => read_file(path)?
            .ok_or_else(|| anyhow!("{} vanished while being created", path.display())),
        Err(e) => Err(e),
    }
}

fn is_already_exists(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == ErrorKind::AlreadyExists)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replace {
    Always,
    /// Fail with `AlreadyExists` if the target exists (first creation).
    Never,
}

/// Writes `bytes` to `path` with mode 0600 whatever the umask: a temp file
/// created 0600 beside it, synced, then renamed (or hard-linked, when the
/// target must not be replaced) into place, and the directory synced.
fn write_private_atomic(path: &Path, bytes: &[u8], replace: Replace) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} names no file", path.display()))?
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
        if e.kind() == ErrorKind::AlreadyExists {
            return Err(anyhow::Error::new(e));
        }
        return Err(anyhow!("cannot write {}: {e}", path.display()));
    }
    sync_dir(dir);
    Ok(())
}

fn unique_temp(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let candidate = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        if !candidate.exists() {
            return Ok(candidate);
        }
    }
    bail!(
        "cannot find a free temporary file name in {}",
        dir.display()
    )
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every platform can open a directory.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn write_marker(loc: &Locations) -> anyhow::Result<()> {
    if loc.marker.exists() {
        return Ok(());
    }
    let marker = Marker {
        store: "keyring".into(),
        service: KEYRING_SERVICE.into(),
        user: loc.keyring_user.clone(),
    };
    let json = serde_json::to_string_pretty(&marker)?;
    match write_private_atomic(&loc.marker, json.as_bytes(), Replace::Never) {
        Err(e) if !is_already_exists(&e) => Err(e),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Keyring

/// Why the keyring could not be used.
#[derive(Debug)]
pub enum KeyringFailure {
    Unavailable(String),
    Failed(String),
    TimedOut,
}

impl std::fmt::Display for KeyringFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyringFailure::Unavailable(why) => write!(f, "no keyring service: {why}"),
            KeyringFailure::Failed(why) => write!(f, "{why}"),
            KeyringFailure::TimedOut => write!(
                f,
                "no answer within {} s (is the keyring locked and waiting for an unlock prompt?)",
                KEYRING_TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::error::Error for KeyringFailure {}

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

fn entry(user: &str) -> Result<keyring::Entry, KeyringFailure> {
    keyring::Entry::new(KEYRING_SERVICE, user).map_err(|e| match e {
        keyring::Error::NoDefaultStore => {
            let why = match keyring::Entry::store_status() {
                Err(cause) => describe_keyring_error(cause),
                Ok(()) => describe_keyring_error(&e),
            };
            KeyringFailure::Unavailable(why)
        }
        other => KeyringFailure::Failed(describe_keyring_error(&other)),
    })
}

/// Runs a keyring call on its own thread, abandoning it after the timeout.
async fn off_runtime<T, F>(work: F) -> Result<T, KeyringFailure>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, KeyringFailure> + Send + 'static,
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
async fn keyring_get(user: &str) -> Result<Option<String>, KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || match entry(&user)?.get_password() {
        Ok(text) => Ok(Some(text)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(KeyringFailure::Failed(describe_keyring_error(&e))),
    })
    .await
}

/// Writes and reads back: a keyring that accepts writes but does not keep
/// them (a stub, a locked collection) is not a keyring.
async fn keyring_set_verified(user: &str, json: String) -> Result<(), KeyringFailure> {
    let user = user.to_string();
    off_runtime(move || {
        let entry = entry(&user)?;
        entry
            .set_password(&json)
            .map_err(|e| KeyringFailure::Failed(describe_keyring_error(&e)))?;
        let back = entry
            .get_password()
            .map_err(|e| KeyringFailure::Failed(describe_keyring_error(&e)))?;
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
    ctx: &Context,
    now: UnixTime,
) -> Result<Vec<KeyMaterial>, KeyringFailure> {
    let keys = generate(ctx, now).map_err(|e| KeyringFailure::Failed(format!("{e:#}")))?;
    let json =
        serde_json::to_string_pretty(&keys).map_err(|e| KeyringFailure::Failed(e.to_string()))?;
    keyring_set_verified(&loc.keyring_user, json).await?;
    info!(
        service = KEYRING_SERVICE,
        user = %loc.keyring_user,
        kid = %keys[0].kid,
        "generated a signing key and stored it in the OS keyring"
    );
    Ok(keys)
}

// ---------------------------------------------------------------------------
// Commands

/// A key ring for serving: expired retired keys dropped, algorithm checked.
pub fn ring_for_serving(
    ctx: &Context,
    keys: Vec<KeyMaterial>,
    now: UnixTime,
) -> anyhow::Result<KeyRing> {
    let mut ring = KeyRing::from_materials(keys).context("the stored signing keys")?;
    ring.prune(now);
    let active = ring.active().alg();
    if active != ctx.settings.ALGORITHM {
        warn!(
            active = active.as_str(),
            configured = ctx.settings.ALGORITHM.as_str(),
            "the active signing key's algorithm differs from ALGORITHM; run `warden keys rotate` to switch"
        );
    }
    Ok(ring)
}

pub async fn list_command(ctx: &Context) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let Some(db) = ctx.existing_database() else {
        outln!("no signing keys yet (the database directory does not exist)");
        return Ok(());
    };
    let Some((backend, keys)) = load_existing(ctx, &db, now).await? else {
        outln!("no signing keys yet; `warden serve` or `warden keys rotate` creates them");
        return Ok(());
    };
    outln!("signing keys in {}", backend.describe());
    let mut table = Table::new([
        "KID",
        "ALG",
        "STATE",
        "CREATED",
        "RETIRED",
        "VERIFIES UNTIL",
    ]);
    for k in &keys {
        let state = match k.verify_until {
            None => "active",
            Some(t) if t > now => "retired",
            Some(_) => "expired",
        };
        table.row([
            k.kid.clone(),
            k.alg.as_str().to_string(),
            state.to_string(),
            rfc3339(k.created_at),
            k.retired_at.map_or_else(|| "-".into(), rfc3339),
            k.verify_until.map_or_else(|| "-".into(), rfc3339),
        ]);
    }
    table.print();
    Ok(())
}

pub async fn rotate_command(ctx: &Context) -> anyhow::Result<()> {
    let now = SystemClock.now();
    let (db, store) = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || ctx.open_store())
            .await
            .map_err(|e| anyhow!("internal error: {e}"))??
    };
    let (backend, keys) = load_or_create(ctx, &db, now).await?;
    if backend == Backend::Config {
        bail!(
            "the signing key is SIGNING_KEY in the config file; to rotate, move the old key out \
             (it stops verifying at once) or remove SIGNING_KEY to let warden keep rotating keys"
        );
    }
    let ring = ring_for_serving(ctx, keys, now)?;
    let old = ring.active().kid().to_string();
    let settings = ctx.settings.clone();
    let materials = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<KeyMaterial>> {
        let service = AuthService::new(settings, store, Arc::new(SystemClock), ring)?;
        Ok(service.rotate_signing_key()?)
    })
    .await
    .map_err(|e| anyhow!("internal error: {e}"))??;
    save(&backend, &materials).await?;
    let new = materials
        .iter()
        .find(|k| k.is_active())
        .map_or_else(|| "?".into(), |k| k.kid.clone());
    let until = materials
        .iter()
        .find(|k| k.kid == old)
        .and_then(|k| k.verify_until);
    outln!(
        "new signing key {new} ({})",
        ctx.settings.ALGORITHM.as_str()
    );
    match until {
        Some(t) => outln!("old key {old} keeps verifying until {}", rfc3339(t)),
        None => outln!("old key {old} retired"),
    }
    outln!("a running `warden serve` signs with the new key after a restart");
    Ok(())
}

#[cfg(test)]
mod tests {
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
        assert!(is_already_exists(&err));
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

    #[test]
    fn keyring_user_names_the_absolute_database() {
        let loc = Locations::for_database(Path::new("/srv/warden/warden.db"));
        assert_eq!(loc.keyring_user, "signing-keys:/srv/warden/warden.db");
        assert_eq!(loc.file, Path::new("/srv/warden/signing-keys.json"));
    }
}
