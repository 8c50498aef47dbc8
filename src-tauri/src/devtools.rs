//! Developer tools: the token inspector, and the fault lab (replay the
//! previous refresh token, fire concurrent refreshes, take the embedded
//! server offline). The lab talks to the server for real: what it shows is
//! what the server answered.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use warden_auth::inspect::{self, Expectations, Inspection, VerifyWith};
use warden_auth::{Clock as _, SystemClock};

use crate::core::Core;
use crate::errors::{CmdResult, CommandError};

/// What to check the signature with.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum VerifyInput {
    /// Nothing: decode only.
    None,
    /// The embedded server's own key ring and settings.
    Server,
    /// An HMAC secret (text).
    Secret(String),
    /// A PEM public key.
    Pem(String),
    /// A JWK Set fetched from this URL.
    JwksUrl(String),
}

#[tauri::command]
pub async fn inspect_token(
    app: AppHandle,
    core: State<'_, Core>,
    token: Option<String>,
    pick: Option<String>,
    verify: VerifyInput,
) -> CmdResult<Inspection> {
    let (m, embedded) = core.manager(&app).await?;
    let token = match pick.as_deref() {
        Some("access") => m.access_token().await?,
        Some("refresh") => m
            .dev_refresh_tokens()
            .0
            .map(|s| s.expose().to_string())
            .ok_or_else(|| {
                CommandError::new("not_signed_in", "There is no refresh token: sign in first.")
            })?,
        Some(other) => {
            return Err(CommandError::new(
                "invalid",
                format!("Unknown token {other:?}."),
            ));
        }
        None => token.unwrap_or_default(),
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(CommandError::new(
            "invalid",
            "Paste a token, or pick the current one.",
        ));
    }
    let err = |e: inspect::InspectError| {
        CommandError::new(
            e.reason().as_str(),
            format!("This is not a JWT that can be read: {e}"),
        )
    };
    if let VerifyInput::Server = verify {
        if !embedded {
            return Err(CommandError::new(
                "invalid",
                "The server's own keys are only at hand for the embedded server; use its JWKS URL or a key.",
            ));
        }
        let service = core
            .embedded_service()
            .await
            .ok_or_else(|| CommandError::new("embedded", "The embedded server is not running."))?;
        return tokio::task::spawn_blocking(move || service.inspect_token(&token))
            .await
            .map_err(|e| CommandError::new("internal", e.to_string()))?
            .map_err(err);
    }
    let mut expect = match core.embedded_service().await {
        Some(service) if embedded => Expectations::from_settings(service.settings()),
        _ => Expectations::default(),
    };
    if !embedded && let Ok(Some(caps)) = m.client().capabilities().await {
        expect.access_lifetime = i64::try_from(caps.access_token_lifetime).ok();
        expect.refresh_lifetime = i64::try_from(caps.refresh_token_lifetime).ok();
    }
    let with = match verify {
        VerifyInput::None | VerifyInput::Server => VerifyWith::Nothing,
        VerifyInput::Secret(s) => VerifyWith::HmacSecret(s.into_bytes()),
        VerifyInput::Pem(p) => VerifyWith::PublicPem(p),
        VerifyInput::JwksUrl(url) => VerifyWith::Jwks(fetch_jwks(&url).await?),
    };
    inspect::inspect(&token, &with, &expect, SystemClock.now()).map_err(err)
}

async fn fetch_jwks(url: &str) -> CmdResult<String> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CommandError::new(
            "invalid_url",
            "The JWKS URL must start with http:// or https://.",
        ));
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| CommandError::new("internal", e.to_string()))?;
    let fail = |e: reqwest::Error| CommandError::new("jwks", format!("Cannot fetch the JWKS: {e}"));
    let r = client.get(url).send().await.map_err(fail)?;
    if !r.status().is_success() {
        return Err(CommandError::new(
            "jwks",
            format!("The JWKS URL answered {}.", r.status()),
        ));
    }
    r.text().await.map_err(fail)
}

/// One step of a lab experiment, as the server answered it.
#[derive(Debug, Serialize)]
pub struct LabStep {
    pub what: String,
    pub ok: bool,
    pub outcome: String,
}

fn step<T>(
    what: &str,
    r: &Result<T, warden_client::ClientError>,
    ok_text: impl Fn(&T) -> String,
) -> LabStep {
    match r {
        Ok(v) => LabStep {
            what: what.into(),
            ok: true,
            outcome: ok_text(v),
        },
        Err(e) => LabStep {
            what: what.into(),
            ok: false,
            outcome: format!(
                "refused: {} ({})",
                CommandError::from(e.clone()).message,
                e.code()
            ),
        },
    }
}

fn refresh_text(r: &warden_client::RefreshResponse) -> String {
    let jti = r
        .refresh
        .as_deref()
        .and_then(|t| warden_client::decode_claims(t).ok())
        .and_then(|c| c.jti)
        .map(|j| format!("new refresh {}…", &j[..j.len().min(8)]))
        .unwrap_or_else(|| "no new refresh token".into());
    format!("200: a new pair ({jti})")
}

/// Replays the refresh token the last rotation replaced, then lets the
/// session rotate: with `BLACKLIST_AFTER_ROTATION` (and no grace window) the
/// server treats the replay as theft and revokes the whole family.
#[tauri::command]
pub async fn lab_replay_previous(app: AppHandle, core: State<'_, Core>) -> CmdResult<Vec<LabStep>> {
    let (m, _) = core.manager(&app).await?;
    let (_, previous) = m.dev_refresh_tokens();
    let previous = previous.ok_or_else(|| {
        CommandError::new(
            "no_previous",
            "No refresh token was replaced yet: rotate once first.",
        )
    })?;
    let replay = m.client().refresh(previous.expose()).await;
    let mut steps = vec![step(
        "Replay the previous refresh token",
        &replay,
        refresh_text,
    )];
    let rotate = m.rotate_now().await;
    steps.push(step("Then this session rotates", &rotate, |_| {
        "200: the session lives on".into()
    }));
    Ok(steps)
}

/// Fires `n` refreshes of the current refresh token at once (bypassing the
/// session's single-flight), then lets the session rotate.
#[tauri::command]
pub async fn lab_concurrent_refresh(
    app: AppHandle,
    core: State<'_, Core>,
    n: usize,
) -> CmdResult<Vec<LabStep>> {
    if !(2..=64).contains(&n) {
        return Err(CommandError::new(
            "invalid",
            "Fire between 2 and 64 refreshes.",
        ));
    }
    let (m, _) = core.manager(&app).await?;
    let current = m
        .dev_refresh_tokens()
        .0
        .ok_or_else(|| CommandError::new("not_signed_in", "Sign in first."))?;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = m.client().clone();
        let token = current.clone();
        set.spawn(async move { client.refresh(token.expose()).await });
    }
    let mut steps = Vec::new();
    let mut i = 0;
    while let Some(joined) = set.join_next().await {
        i += 1;
        let r = joined.map_err(|e| CommandError::new("internal", e.to_string()))?;
        steps.push(step(&format!("Refresh #{i}"), &r, refresh_text));
    }
    let winners = steps.iter().filter(|s| s.ok).count();
    let rotate = m.rotate_now().await;
    steps.push(step(
        &format!("{winners} of {n} got a new pair; then this session rotates"),
        &rotate,
        |_| "200: the session lives on".into(),
    ));
    Ok(steps)
}

/// Takes the embedded server offline or brings it back.
#[tauri::command]
pub async fn lab_server_online(core: State<'_, Core>, online: bool) -> CmdResult<bool> {
    core.set_embedded_online(online).await?.ok_or_else(|| {
        CommandError::new(
            "invalid",
            "Only the embedded server can be switched off from here.",
        )
    })
}

/// One exchange of the timeline: as curl (tokens redacted unless `reveal`)
/// and, for a refusal, why.
#[derive(Debug, Serialize)]
pub struct ExchangeDetail {
    pub curl: String,
    pub explanation: Option<warden_client::Explanation>,
}

#[tauri::command]
pub async fn exchange_detail(
    app: AppHandle,
    core: State<'_, Core>,
    at: i64,
    reveal: bool,
) -> CmdResult<ExchangeDetail> {
    let (m, _) = core.manager(&app).await?;
    let exchange = m
        .timeline()
        .into_iter()
        .rev()
        .find(|x| x.at == at)
        .ok_or_else(|| {
            CommandError::new("not_found", "That exchange is no longer in the timeline.")
        })?;
    let local = warden_client::LocalContext {
        phase: Some(m.state().phase),
        ..warden_client::LocalContext::default()
    };
    Ok(ExchangeDetail {
        curl: exchange.to_curl(reveal),
        explanation: warden_client::explain(&exchange, &local),
    })
}

/// Skews this app's wall clock by `secs` (0 resets it), then lets the session
/// rotate: the manager sees the jump and re-measures the server's clock from
/// the new token's `iat`, so lifetimes stay right on a wrong local clock.
#[tauri::command]
pub async fn lab_clock_skew(
    app: AppHandle,
    core: State<'_, Core>,
    secs: f64,
) -> CmdResult<Vec<LabStep>> {
    if !secs.is_finite() || secs.abs() > 7.0 * 86_400.0 {
        return Err(CommandError::new("invalid", "Skew by at most a week."));
    }
    let (m, _) = core.manager(&app).await?;
    warden_client::set_simulated_clock_skew(secs);
    let mut steps = vec![LabStep {
        what: "Skew the client clock".into(),
        ok: true,
        outcome: if secs == 0.0 {
            "the local clock is right again".into()
        } else {
            format!("the local clock is now off by {secs:+.0} s")
        },
    }];
    let rotate = m.rotate_now().await;
    steps.push(step("Then this session rotates", &rotate, |_| {
        "200: the server's clock was re-measured from the new token".into()
    }));
    if let Some(access) = m.state().access
        && let Some(at) = access.expires_at
    {
        let left = at - warden_client::wall_now();
        steps.push(LabStep {
            what: "Access token, by the skewed clock".into(),
            ok: true,
            outcome: format!("{left:.0} s left"),
        });
    }
    Ok(steps)
}
