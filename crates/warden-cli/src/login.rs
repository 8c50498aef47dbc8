//! `warden login --trace URL USER`: sign in to any Warden or SimpleJWT server
//! with warden-client and print the request timeline (method, path, status,
//! latency, error code), with a plain-language explanation of every refusal
//! and, on request, each exchange as a `curl` command. Tokens are always
//! redacted; passwords are never printed.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use warden_client::{
    Client, ClientConfig, Exchange, LocalContext, TokenTimes, decode_claims, explain,
};

/// What `warden login` was asked to do.
#[derive(Debug)]
pub struct LoginOptions {
    pub url: String,
    pub username: String,
    /// Read the password from this environment variable.
    pub password_env: Option<String>,
    /// Read the password from stdin (one line).
    pub password_stdin: bool,
    /// `Bearer` or `JWT` (SimpleJWT's AUTH_HEADER_TYPES).
    pub header_type: String,
    /// Rotate the refresh token once after signing in.
    pub refresh: bool,
    /// After `refresh`, present the rotated-away refresh token again.
    pub replay: bool,
    /// Verify the access token (`api/token/verify/`).
    pub verify: bool,
    /// Print each exchange as a curl command (tokens redacted).
    pub curl: bool,
}

fn read_password(opts: &LoginOptions) -> anyhow::Result<String> {
    if let Some(var) = &opts.password_env {
        let value = std::env::var(var)
            .map_err(|_| anyhow!("environment variable {var} is not set (or not UTF-8)"))?;
        if value.is_empty() {
            bail!("environment variable {var} is empty");
        }
        return Ok(value);
    }
    if opts.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so the password cannot be prompted for; \
             pass --password-stdin or --password-env VAR"
        );
    }
    rpassword::prompt_password(format!("Password for {}: ", opts.username))
        .context("cannot read the password")
}

/// Gives every exchange recorded since the last call the same local context.
fn note(client: &Client, ctx: LocalContext, contexts: &mut Vec<LocalContext>) {
    let n = client.timeline().len();
    while contexts.len() < n {
        contexts.push(ctx.clone());
    }
}

/// What this client knew locally when it sent the exchange.
#[derive(Default)]
struct Known {
    /// Refresh tokens this client already rotated away.
    rotated: Vec<String>,
}

fn times_of(token: &str) -> Option<TokenTimes> {
    let claims = decode_claims(token).ok()?;
    Some(TokenTimes {
        token_type: claims.token_type,
        exp: claims.exp,
        iat: claims.iat,
        nbf: None,
    })
}

pub async fn run(opts: LoginOptions) -> anyhow::Result<ExitCode> {
    if opts.replay && !opts.refresh {
        bail!("--replay needs --refresh (it replays the refresh token rotated away)");
    }
    let password = read_password(&opts)?;
    let mut config = ClientConfig::new(opts.url.clone());
    config.auth_header_type = opts.header_type.clone();
    let client = Client::new(config).map_err(|e| anyhow!(e))?;

    // Each step's exchange, with the local context to explain it.
    let mut contexts: Vec<LocalContext> = Vec::new();
    let mut known = Known::default();
    let mut failure: Option<String> = None;

    let pair = client.obtain_pair(&opts.username, &password).await;
    drop(password);
    note(&client, LocalContext::default(), &mut contexts);
    match pair {
        Err(e) => failure = Some(format!("sign-in refused: {e}")),
        Ok(pair) => {
            let mut access = pair.access;
            let old_refresh = pair.refresh;
            if opts.refresh {
                let result = client.refresh(&old_refresh).await;
                note(
                    &client,
                    LocalContext {
                        token: times_of(&old_refresh),
                        ..LocalContext::default()
                    },
                    &mut contexts,
                );
                match result {
                    Ok(rotated) => {
                        access = rotated.access;
                        if rotated.refresh.is_some() {
                            known.rotated.push(old_refresh.clone());
                        }
                    }
                    Err(e) => failure = Some(format!("refresh refused: {e}")),
                }
            }
            if opts.verify && failure.is_none() {
                let result = client.verify(&access).await;
                note(
                    &client,
                    LocalContext {
                        token: times_of(&access),
                        ..LocalContext::default()
                    },
                    &mut contexts,
                );
                if let Err(e) = result {
                    failure = Some(format!("verify refused: {e}"));
                }
            }
            // Last: on Warden a replay revokes the whole session.
            if opts.replay && failure.is_none() {
                let result = client.refresh(&old_refresh).await;
                note(
                    &client,
                    LocalContext {
                        token: times_of(&old_refresh),
                        rotated_already: known.rotated.contains(&old_refresh),
                        ..LocalContext::default()
                    },
                    &mut contexts,
                );
                if result.is_ok() {
                    outln!(
                        "note: the server accepted the rotated-away refresh token again \
                             (no rotation or no blacklist after rotation)"
                    );
                }
            }
        }
    }

    print_timeline(&client.timeline(), &contexts, opts.curl);
    match failure {
        Some(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn print_timeline(timeline: &[Exchange], contexts: &[LocalContext], curl: bool) {
    outln!("Timeline:");
    let fallback = LocalContext::default();
    for (i, ex) in timeline.iter().enumerate() {
        let status = ex
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "---".to_string());
        let code = ex.error_code.as_deref().unwrap_or("");
        let credential = ex
            .credential
            .as_deref()
            .map(|c| format!("  [{c}]"))
            .unwrap_or_default();
        outln!(
            "{:>2}. {:<6} {:<28} {status:>3} {:>5} ms  {code}{credential}",
            i + 1,
            ex.method,
            ex.path,
            ex.latency_ms
        );
        let local = contexts.get(i).unwrap_or(&fallback);
        if let Some(why) = explain(ex, local) {
            outln!("    refused ({}): {}", why.code, why.cause);
            outln!("    fix: {}", why.fix);
        }
        if curl {
            outln!("    {}", ex.to_curl(false));
        }
    }
}
