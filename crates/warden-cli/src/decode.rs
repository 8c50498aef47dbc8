//! `warden decode`: a token's header and claims for people, with warnings.
//!
//! A thin adapter over [`warden_auth::inspect`], the same inspector the
//! desktop app uses. Nothing shown is trusted unless the signature is checked:
//! `--verify` with the local keys, `--jwks URL|FILE`, `--key FILE` (a PEM
//! public key) or `--secret-env VAR` (an HMAC secret). Local keys are looked up
//! best effort (for the unknown-kid warning) and nothing is ever created.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use warden_auth::inspect::{self, Expectations, Inspection, SignatureStatus, VerifyWith};
use warden_auth::{Clock, KeyMaterial, KeyRing, SystemClock, UnixTime};

use crate::config::Context;
use crate::keystore;
use crate::output::{relative, rfc3339, span};

/// Where the signature check's key comes from.
#[derive(Debug, Default)]
pub struct KeySource {
    /// The local signing keys (database key store or SIGNING_KEY).
    pub verify: bool,
    /// A JWKS document: an http(s) URL or a file.
    pub jwks: Option<String>,
    /// A PEM public key file.
    pub key: Option<PathBuf>,
    /// The name of an environment variable holding an HMAC secret.
    pub secret_env: Option<String>,
}

impl KeySource {
    fn any(&self) -> bool {
        self.verify || self.jwks.is_some() || self.key.is_some() || self.secret_env.is_some()
    }
}

pub async fn run(
    ctx: &Context,
    token: &str,
    keys: KeySource,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from stdin")?;
        text.trim().to_string()
    } else {
        token.trim().to_string()
    };
    let now = SystemClock.now();
    // Undecodable input fails before any key is looked at.
    let probe = inspect::inspect(&token, &VerifyWith::Nothing, &Expectations::default(), now);
    if let Err(e) = probe {
        eprintln!("error: {e}");
        return Ok(ExitCode::FAILURE);
    }

    let local = local_keys(ctx, now, keys.verify).await;
    let mut expect = Expectations::from_settings(&ctx.settings);
    if let LocalKeys::Found { kids, source, .. } = &local {
        expect.known_kids = Some(kids.clone());
        expect.known_kids_source = Some(format!("local keys ({source})"));
    }
    let inspection = if keys.verify {
        let ring = match &local {
            LocalKeys::Found { ring, .. } => ring,
            LocalKeys::None(why) => {
                eprintln!("error: cannot verify: {why}");
                return Ok(ExitCode::FAILURE);
            }
        };
        inspect::inspect(&token, &VerifyWith::KeyRing(ring), &expect, now)
    } else {
        let with = external_key(&keys).await?;
        inspect::inspect(&token, &with, &expect, now)
    }
    .map_err(|e| anyhow!(e))?;

    if json {
        outln!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print_human(&inspection, &ctx.settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM);
    }
    if !keys.any() {
        return Ok(ExitCode::SUCCESS);
    }
    match &inspection.signature {
        SignatureStatus::Valid { .. } => Ok(ExitCode::SUCCESS),
        SignatureStatus::Unchecked { why } => {
            eprintln!("error: cannot verify: {why}");
            Ok(ExitCode::FAILURE)
        }
        SignatureStatus::Invalid { why } | SignatureStatus::KeyNotFound { why, .. } => {
            eprintln!("error: signature check failed: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The key from `--jwks`, `--key` or `--secret-env` (or none).
async fn external_key(keys: &KeySource) -> anyhow::Result<VerifyWith<'static>> {
    if let Some(source) = &keys.jwks {
        return Ok(VerifyWith::Jwks(read_jwks(source).await?));
    }
    if let Some(path) = &keys.key {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?;
        if !pem.contains("-----BEGIN") {
            bail!(
                "{} is not a PEM public key (for an HMAC secret use --secret-env VAR)",
                path.display()
            );
        }
        return Ok(VerifyWith::PublicPem(pem));
    }
    if let Some(var) = &keys.secret_env {
        let secret = std::env::var_os(var)
            .ok_or_else(|| anyhow!("environment variable {var} is not set"))?;
        let secret = secret
            .into_string()
            .map_err(|_| anyhow!("environment variable {var} is not UTF-8"))?;
        return Ok(VerifyWith::HmacSecret(secret.into_bytes()));
    }
    Ok(VerifyWith::Nothing)
}

/// A JWKS from an http(s) URL (at most [`warden_client::JWKS_MAX_BYTES`],
/// the desktop inspector's fetcher) or a file.
async fn read_jwks(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        Ok(warden_client::fetch_jwks(source).await?)
    } else {
        std::fs::read_to_string(source)
            .with_context(|| format!("cannot read the JWKS file {source}"))
    }
}

fn print_human(i: &Inspection, refresh_exp_claim: &str) {
    outln!("Header:");
    outln!("{}", i.header_pretty);
    outln!("Payload:");
    outln!("{}", i.payload_pretty);
    let now = i.now;
    let times = [
        ("exp", i.times.exp),
        ("iat", i.times.iat),
        ("nbf", i.times.nbf),
        (refresh_exp_claim, i.times.refresh_exp),
    ];
    let lines: Vec<String> = times
        .into_iter()
        .filter_map(|(name, t)| {
            let t = t?;
            let phrase = match name {
                "exp" => relative(t, now, "expires", "expired"),
                "iat" if t > now => format!("issued in the future ({} from now)", span(t - now)),
                "iat" => relative(t, now, "issued", "issued"),
                "nbf" if t > now => format!("not valid for another {}", span(t - now)),
                "nbf" => relative(t, now, "becomes valid", "valid since"),
                _ => relative(t, now, "refreshable until", "no longer refreshable since"),
            };
            Some(format!("{name:<12} {:<22} {phrase}", rfc3339(t)))
        })
        .collect();
    if !lines.is_empty() {
        outln!("Times (UTC):");
        for line in lines {
            outln!("  {line}");
        }
    }
    if !i.warnings.is_empty() {
        outln!("Warnings:");
        for w in &i.warnings {
            outln!("  - {} [{}]", w.message, w.code.as_str());
        }
    }
    match &i.signature {
        SignatureStatus::Unchecked { why } if why == "no key was given" => {}
        SignatureStatus::Unchecked { why } => outln!("Signature: not checked ({why})"),
        SignatureStatus::Valid { key } => match &i.claims {
            Some(c) if c.ok => outln!(
                "Signature: valid ({key}), and the claims pass validation (revocation not checked)"
            ),
            Some(c) => outln!(
                "Signature: valid ({key}), but the token is not acceptable: {}",
                c.message.as_deref().unwrap_or("claims refused")
            ),
            None => outln!("Signature: valid ({key})"),
        },
        SignatureStatus::Invalid { why } => outln!("Signature: NOT verified ({why})"),
        SignatureStatus::KeyNotFound { why, .. } => {
            outln!("Signature: NOT verified, no key ({why})");
        }
    }
}

enum LocalKeys {
    Found {
        ring: Box<KeyRing>,
        kids: Vec<String>,
        source: String,
    },
    /// Why there are none.
    None(String),
}

async fn local_keys(ctx: &Context, now: UnixTime, verify: bool) -> LocalKeys {
    let found = match ctx.existing_database() {
        Some(db) => keystore::load_existing(ctx, &db, now).await,
        None => match KeyMaterial::from_settings(&ctx.settings, now) {
            Ok(Some(k)) => Ok(Some((keystore::Backend::Settings, vec![k]))),
            Ok(None) => Ok(None),
            Err(e) => Err(anyhow!(e)),
        },
    };
    match found {
        Ok(Some((backend, keys))) => {
            let kids = keys.iter().map(|k| k.kid.clone()).collect();
            match KeyRing::from_materials(keys) {
                Ok(ring) => LocalKeys::Found {
                    ring: Box::new(ring),
                    kids,
                    source: keystore::describe(&backend),
                },
                Err(e) => LocalKeys::None(format!("the local keys are unusable: {e}")),
            }
        }
        Ok(None) => LocalKeys::None("no local signing keys were found".into()),
        Err(e) => {
            if verify {
                LocalKeys::None(format!("{e:#}"))
            } else {
                tracing::debug!(error = %format!("{e:#}"), "local keys not available");
                LocalKeys::None("local keys unavailable".into())
            }
        }
    }
}
