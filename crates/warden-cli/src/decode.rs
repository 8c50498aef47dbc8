//! `warden decode`: a token's header and claims for people, with warnings.
//!
//! Nothing shown is trusted unless `--verify` checks the signature with the
//! local keys. Local-key checks are best effort: without a database directory
//! or key store they are skipped, and nothing is ever created.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use serde_json::Value;
use warden_auth::keys::{KeyMaterial, KeyRing};
use warden_auth::settings::Settings;
use warden_auth::tokens::{self, ValidationPolicy};
use warden_auth::{Algorithm, Clock, SystemClock, TokenError, UnixTime};

use crate::config::Context;
use crate::keystore;
use crate::output::{relative, rfc3339, span};

pub async fn run(ctx: &Context, token: &str, verify: bool) -> anyhow::Result<ExitCode> {
    let token = if token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the token from stdin")?;
        text.trim().to_string()
    } else {
        token.trim().to_string()
    };
    let (header, payload) = match tokens::decode_unverified(&token) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("error: not a decodable JWT: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let now = SystemClock.now();
    let local = local_keys(ctx, now, verify).await;

    outln!("Header:");
    outln!("{}", pretty(&header));
    outln!("Payload:");
    outln!("{}", pretty(&payload));
    let times = times(&ctx.settings, &payload, now);
    if !times.is_empty() {
        outln!("Times (UTC):");
        for line in times {
            outln!("  {line}");
        }
    }
    let warnings = warnings(&ctx.settings, &header, &payload, now, &local);
    if !warnings.is_empty() {
        outln!("Warnings:");
        for w in &warnings {
            outln!("  - {w}");
        }
    }
    if !verify {
        return Ok(ExitCode::SUCCESS);
    }
    let ring = match local {
        LocalKeys::Found { ring, .. } => ring,
        LocalKeys::None(why) => {
            eprintln!("error: cannot verify: {why}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let policy = ValidationPolicy::from_settings(&ctx.settings);
    match tokens::validate(&token, &ring, &policy, now, None) {
        Ok(_) => {
            outln!("Signature: valid, and the claims pass validation (revocation not checked)");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if signature_checked(&e) => {
            outln!("Signature: valid, but the token is not acceptable: {e}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            outln!("Signature: NOT verified");
            eprintln!("error: signature check failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// True for rejections that come after the signature step, i.e. the
/// signature itself verified.
fn signature_checked(e: &TokenError) -> bool {
    !matches!(
        e,
        TokenError::TooLarge { .. }
            | TokenError::Malformed
            | TokenError::BadHeader(_)
            | TokenError::CriticalHeader
            | TokenError::AlgorithmNotAllowed(_)
            | TokenError::MissingKid
            | TokenError::UnknownKid(_)
            | TokenError::AlgorithmMismatch { .. }
            | TokenError::BadSignature
    )
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

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn int_claim(payload: &Value, name: &str) -> Option<i64> {
    payload.get(name).and_then(Value::as_i64)
}

fn times(settings: &Settings, payload: &Value, now: UnixTime) -> Vec<String> {
    let refresh_exp = settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM.as_str();
    let mut lines = Vec::new();
    for name in ["exp", "iat", "nbf", refresh_exp] {
        let Some(t) = int_claim(payload, name) else {
            continue;
        };
        let phrase = match name {
            "exp" => relative(t, now, "expires", "expired"),
            "iat" => relative(t, now, "issued", "issued"),
            "nbf" => relative(t, now, "becomes valid", "valid since"),
            _ => relative(t, now, "refreshable until", "no longer refreshable since"),
        };
        let phrase = match name {
            "iat" if t > now => format!("issued in the future ({} from now)", span(t - now)),
            "nbf" if t > now => format!("not valid for another {}", span(t - now)),
            _ => phrase,
        };
        lines.push(format!("{name:<12} {:<22} {phrase}", rfc3339(t)));
    }
    lines
}

fn warnings(
    settings: &Settings,
    header: &Value,
    payload: &Value,
    now: UnixTime,
    local: &LocalKeys,
) -> Vec<String> {
    let mut w = Vec::new();
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none") {
        w.push("alg is `none`: the token is unsigned and must never be accepted".to_string());
    } else if Algorithm::parse(alg).is_none() {
        w.push(format!("alg `{alg}` is not one Warden accepts"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    if kid.is_none() {
        w.push("no `kid` in the header: Warden refuses tokens without one".into());
    }
    let exp = int_claim(payload, "exp");
    match exp {
        None if payload.get("exp").is_some() => w.push("`exp` is not an integer".into()),
        None => w.push("no `exp` claim: the token never expires".into()),
        Some(e) if e <= now => w.push(format!("expired {} ago", span(now - e))),
        Some(_) => {}
    }
    let iat = int_claim(payload, "iat");
    if let Some(i) = iat
        && i > now + settings.LEEWAY.get()
    {
        w.push(format!("issued {} in the future", span(i - now)));
    }
    if let Some(n) = int_claim(payload, "nbf")
        && n > now + settings.LEEWAY.get()
    {
        w.push(format!("not valid for another {}", span(n - now)));
    }
    let type_claim = settings.TOKEN_TYPE_CLAIM.as_str();
    let token_type = payload.get(type_claim).and_then(Value::as_str);
    if token_type.is_none() {
        w.push(format!("no `{type_claim}` claim"));
    }
    if payload.get(settings.JTI_CLAIM.as_str()).is_none() {
        w.push(format!(
            "no `{}` claim: it cannot be revoked by id",
            settings.JTI_CLAIM
        ));
    }
    if let (Some(e), Some(i)) = (exp, iat) {
        let limit = match token_type {
            Some("access") => Some(("ACCESS_TOKEN_LIFETIME", settings.ACCESS_TOKEN_LIFETIME)),
            Some("refresh") => Some(("REFRESH_TOKEN_LIFETIME", settings.REFRESH_TOKEN_LIFETIME)),
            Some("sliding") => Some(("SLIDING_TOKEN_LIFETIME", settings.SLIDING_TOKEN_LIFETIME)),
            _ => None,
        };
        if let Some((name, limit)) = limit
            && e - i > limit.get()
        {
            w.push(format!(
                "lifetime {} is longer than {name} ({})",
                span(e - i),
                span(limit.get())
            ));
        }
    }
    if token_type == Some("sliding")
        && let (Some(r), Some(i)) = (
            int_claim(payload, settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM.as_str()),
            iat,
        )
        && r - i > settings.SLIDING_TOKEN_REFRESH_LIFETIME.get()
    {
        w.push(format!(
            "refresh window {} is longer than SLIDING_TOKEN_REFRESH_LIFETIME ({})",
            span(r - i),
            span(settings.SLIDING_TOKEN_REFRESH_LIFETIME.get())
        ));
    }
    if let (Some(kid), LocalKeys::Found { kids, source, .. }) = (kid, local)
        && !kids.iter().any(|k| k == kid)
    {
        w.push(format!(
            "kid `{kid}` is not one of the local keys ({source})"
        ));
    }
    w
}
