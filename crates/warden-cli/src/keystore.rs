//! The CLI's side of the signing-key store: `[server] KEY_STORE` and
//! `SIGNING_KEY` mapped onto [`warden_embedded::keystore`] (which holds the
//! logic: keyring, 0600 file, marker), plus `warden keys list|rotate`.
//!
//! - `SIGNING_KEY` in the config: used as it is (`KEY_STORE = "config"`).
//! - Otherwise keys are generated on first use and kept in the OS keyring or
//!   in `signing-keys.json` beside the database; `KEY_STORE = "auto"` tries
//!   the keyring first.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use warden_auth::{Clock, KeyMaterial, KeyRing, SystemClock, UnixTime};
use warden_embedded::keystore::{self as store, KeyStoreChoice, KeyStoreError};

use crate::config::{Context, KeyStoreKind};
use crate::output::{Table, rfc3339};

/// Where this database's keys are (or will be) kept.
pub use warden_embedded::keystore::KeyStoreKind as Backend;

/// How the CLI names a key store (`SIGNING_KEY` lives in its config file).
pub fn describe(backend: &Backend) -> String {
    match backend {
        Backend::Settings => "SIGNING_KEY in the config file".into(),
        other => other.describe(),
    }
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
    if ctx.is_postgres() {
        // `db` is no file then: keys cannot be kept "beside" it, and nodes must share them.
        bail!(
            "on a PostgreSQL database the signing key comes from the config file: set SIGNING_KEY \
             (and VERIFYING_KEY for asymmetric algorithms), the same on every node"
        );
    }
    let choice = choice(ctx)?;
    store::load_or_create(&ctx.settings, db, choice, now)
        .await
        .map_err(cli_error)
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
    let choice = choice(ctx)?;
    Ok(store::load_existing(&ctx.settings, db, choice, now).await?)
}

/// A key ring for serving: expired retired keys dropped, algorithm checked.
pub fn ring_for_serving(
    ctx: &Context,
    keys: Vec<KeyMaterial>,
    now: UnixTime,
) -> anyhow::Result<KeyRing> {
    Ok(store::ring_for_serving(&ctx.settings, keys, now)?)
}

/// `SIGNING_KEY` against `[server] KEY_STORE`.
fn configured(ctx: &Context, now: UnixTime) -> anyhow::Result<Option<(Backend, Vec<KeyMaterial>)>> {
    let kind = ctx.server.key_store();
    match KeyMaterial::from_settings(&ctx.settings, now).context("SIGNING_KEY")? {
        Some(key) => match kind {
            KeyStoreKind::Auto | KeyStoreKind::Config => Ok(Some((Backend::Settings, vec![key]))),
            other => bail!(
                "[server] KEY_STORE = \"{}\" conflicts with SIGNING_KEY: a key in the config file is used as it is; \
                 remove SIGNING_KEY to let warden generate and keep keys, or set KEY_STORE = \"config\"",
                other.as_str()
            ),
        },
        None if kind == KeyStoreKind::Config => Err(config_without_key()),
        None => Ok(None),
    }
}

fn choice(ctx: &Context) -> anyhow::Result<KeyStoreChoice> {
    match ctx.server.key_store() {
        KeyStoreKind::Auto => Ok(KeyStoreChoice::Auto),
        KeyStoreKind::Keyring => Ok(KeyStoreChoice::Keyring),
        KeyStoreKind::File => Ok(KeyStoreChoice::File),
        KeyStoreKind::Config => Err(config_without_key()),
    }
}

fn config_without_key() -> anyhow::Error {
    anyhow!("[server] KEY_STORE = \"config\" needs SIGNING_KEY in the config file")
}

/// The library's errors in the config file's terms.
fn cli_error(e: KeyStoreError) -> anyhow::Error {
    match e {
        KeyStoreError::KeyringRequired(cause) => {
            anyhow!("[server] KEY_STORE = \"keyring\" but the OS keyring is not usable: {cause}")
        }
        other => other.into(),
    }
}

// ---------------------------------------------------------------------------
// Commands

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
    outln!("signing keys in {}", describe(&backend));
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
    let (db, db_store) = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || ctx.open_store())
            .await
            .map_err(|e| anyhow!("internal error: {e}"))??
    };
    let (backend, keys) = load_or_create(ctx, &db, now).await?;
    if backend == Backend::Settings {
        bail!(
            "the signing key is SIGNING_KEY in the config file; to rotate, move the old key out \
             (it stops verifying at once) or remove SIGNING_KEY to let warden keep rotating keys"
        );
    }
    let old = keys
        .iter()
        .find(|k| k.is_active())
        .map_or_else(|| "?".into(), |k| k.kid.clone());
    let materials =
        store::rotate_and_save(ctx.settings.clone(), db_store, &backend, keys, now).await?;
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
