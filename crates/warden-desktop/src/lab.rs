//! The fault lab: replay the previous refresh token, fire concurrent
//! refreshes, take the embedded server offline, skew the client clock. It
//! talks to the server for real: what it shows is what the server answered.

use serde::Serialize;
use warden_client::{ClientError, RefreshResponse};

use crate::error::{Error, Result, client_words};
use crate::host::Host;

/// One step of an experiment, as the server answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabStep {
    /// What was tried.
    pub what: String,
    /// The server accepted it.
    pub ok: bool,
    /// What came back, in words.
    pub outcome: String,
}

fn step<T>(what: &str, r: &Result<T, ClientError>, ok_text: impl Fn(&T) -> String) -> LabStep {
    match r {
        Ok(v) => LabStep {
            what: what.into(),
            ok: true,
            outcome: ok_text(v),
        },
        Err(e) => LabStep {
            what: what.into(),
            ok: false,
            outcome: format!("refused: {} ({})", client_words(e), e.code()),
        },
    }
}

fn refresh_text(r: &RefreshResponse) -> String {
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
pub async fn replay_previous(host: &impl Host) -> Result<Vec<LabStep>> {
    let m = host.session().await?.manager;
    let previous = m.dev_refresh_tokens().1.ok_or(Error::NoPreviousRefresh)?;
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
pub async fn concurrent_refresh(host: &impl Host, n: usize) -> Result<Vec<LabStep>> {
    if !(2..=64).contains(&n) {
        return Err(Error::Invalid("Fire between 2 and 64 refreshes."));
    }
    let m = host.session().await?.manager;
    let current = m
        .dev_refresh_tokens()
        .0
        .ok_or(Error::NotSignedIn("Sign in first."))?;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = m.client().clone();
        let token = current.clone();
        set.spawn(async move { client.refresh(token.expose()).await });
    }
    let mut steps = Vec::new();
    while let Some(joined) = set.join_next().await {
        let r = joined.map_err(|e| Error::Internal(e.to_string()))?;
        steps.push(step(
            &format!("Refresh #{}", steps.len() + 1),
            &r,
            refresh_text,
        ));
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

/// Takes the embedded server offline or brings it back; whether it is online now.
pub async fn server_online(host: &impl Host, online: bool) -> Result<bool> {
    host.set_embedded_online(online)
        .await?
        .ok_or(Error::Invalid(
            "Only the embedded server can be switched off from here.",
        ))
}

/// Skews this app's wall clock by `secs` (0 resets it), then lets the session
/// rotate: the manager sees the jump and re-measures the server's clock from
/// the new token's `iat`, so lifetimes stay right on a wrong local clock.
pub async fn clock_skew(host: &impl Host, secs: f64) -> Result<Vec<LabStep>> {
    if !secs.is_finite() || secs.abs() > 7.0 * 86_400.0 {
        return Err(Error::Invalid("Skew by at most a week."));
    }
    let m = host.session().await?.manager;
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

/// One exchange of the timeline: as curl (tokens redacted unless `reveal`)
/// and, for a refusal, why.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExchangeDetail {
    /// The request as a `curl` command line.
    pub curl: String,
    /// Why it was refused; `None` when it was not.
    pub explanation: Option<warden_client::Explanation>,
}

/// The newest exchange at `at` (milliseconds, as the timeline lists it).
pub async fn exchange_detail(host: &impl Host, at: i64, reveal: bool) -> Result<ExchangeDetail> {
    let m = host.session().await?.manager;
    let exchange = m
        .timeline()
        .into_iter()
        .rev()
        .find(|x| x.at == at)
        .ok_or(Error::ExchangeGone)?;
    let local = warden_client::LocalContext {
        phase: Some(m.state().phase),
        ..warden_client::LocalContext::default()
    };
    Ok(ExchangeDetail {
        curl: exchange.to_curl(reveal),
        explanation: warden_client::explain(&exchange, &local),
    })
}
