//! The real OpenID provider (node-oidc-provider, interop/oidc) started on a
//! free loopback port, and the browser automaton that plays the person.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// interop/oidc in this checkout.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/oidc")
}

/// The command line that runs the browser automaton (usable as `$BROWSER`).
pub fn browser_command() -> String {
    let dir = interop_dir();
    format!(
        "{} {}",
        dir.join("node.sh").display(),
        dir.join("browser.mjs").display()
    )
}

/// A running provider; stopped when dropped.
pub struct Provider {
    pub issuer: String,
    child: Child,
}

/// Provider settings.
#[derive(Default, Clone, Copy)]
pub struct Settings {
    /// Access token lifetime (seconds); 4 when 0.
    pub access_ttl: u64,
    /// Every DPoP proof must carry the provider's nonce.
    pub dpop_nonce: bool,
}

impl Provider {
    pub async fn start(settings: Settings) -> Result<Provider> {
        let dir = interop_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "node-oidc-provider is not installed: run scripts/install-deps.sh (interop/oidc/setup.sh)"
            );
        }
        let ttl = if settings.access_ttl == 0 {
            4
        } else {
            settings.access_ttl
        };
        let mut child = Command::new(dir.join("node.sh"))
            .arg(dir.join("provider.mjs"))
            .env("OIDC_PORT", "0")
            .env("OIDC_ACCESS_TTL", ttl.to_string())
            .env(
                "OIDC_DPOP_NONCE",
                if settings.dpop_nonce { "1" } else { "0" },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("WARDEN_OIDC_PROVIDER_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .context("starting interop/oidc/provider.mjs")?;
        let stdout = child.stdout.take().context("provider stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .context("the provider did not start within 60 s")??
            .context("the provider exited before it was ready")?;
        // Keep reading (the provider may log to stdout): a closed pipe would kill it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let ready: serde_json::Value = serde_json::from_str(&line)?;
        let issuer = ready["issuer"].as_str().context("no issuer")?.to_string();
        Ok(Provider { issuer, child })
    }

    /// Makes the provider sign with a new key (the old one stays published).
    pub async fn rotate_keys(&self) -> Result<String> {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/__test__/rotate-keys", self.issuer))
            .send()
            .await?
            .json()
            .await?;
        Ok(r["kid"].as_str().context("kid")?.to_string())
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Runs the browser automaton on `url` to the end (the loopback answer).
pub async fn browse(url: &str, login: &str) -> Result<()> {
    let dir = interop_dir();
    let out = Command::new(dir.join("node.sh"))
        .arg(dir.join("browser.mjs"))
        .arg("--login")
        .arg(login)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        bail!(
            "the browser automaton failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// An opener for `OpenIdClient::sign_in_browser` that runs the automaton
/// (in the background, as a browser would be).
pub fn automaton(login: &str) -> warden_client::oidc::Opener {
    let login = login.to_string();
    Box::new(move |url: &str| {
        let url = url.to_string();
        tokio::spawn(async move {
            if let Err(e) = browse(&url, &login).await {
                eprintln!("{e:#}");
            }
        });
        Ok(())
    })
}
