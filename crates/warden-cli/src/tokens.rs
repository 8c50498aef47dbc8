//! `warden token`, `warden exec` and `warden profiles`: the desktop app's
//! sessions for other programs, like `gh auth token`. The token comes from
//! the running app over its socket; without an app, the access token the
//! last call kept in the keyring while it is fresh, else one rotation of the
//! profile's refresh token here, under the profile's lock (warden-desktop's
//! `handout`), so the app and this command never present one refresh token
//! twice.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use warden_client::KeyringVault;
use warden_desktop::AppPaths;
use warden_desktop::broker::TokenGrant;
use warden_desktop::handout;

/// The variable `warden exec` puts the token in unless told otherwise.
pub const DEFAULT_ENV: &str = "WARDEN_ACCESS_TOKEN";

fn paths() -> anyhow::Result<AppPaths> {
    AppPaths::from_env().context("cannot find the Warden app's data directory")
}

async fn grant(profile: Option<&str>, rotate: bool) -> anyhow::Result<TokenGrant> {
    let paths = paths()?;
    // The keyring is read only when no app runs (and then under the lock).
    Ok(handout::token(&paths, profile, Arc::new(KeyringVault::new()), rotate).await?)
}

/// `warden token [PROFILE] [--json] [--rotate]`.
pub async fn token(profile: Option<&str>, json: bool, rotate: bool) -> anyhow::Result<()> {
    let grant = grant(profile, rotate).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&grant)?);
    } else {
        outln!("{}", grant.access_token);
    }
    Ok(())
}

/// `warden exec [PROFILE] [--env NAME] -- CMD [ARG...]`: replaces this
/// process with CMD, the token in its environment, so CMD's exit status and
/// signals are its own. The token is not renewed while CMD runs.
pub async fn exec(
    profile: Option<&str>,
    env: &str,
    command: &[OsString],
) -> anyhow::Result<ExitCode> {
    if !is_env_name(env) {
        bail!("--env {env:?} is not an environment variable name (letters, digits and _)");
    }
    let Some((program, args)) = command.split_first() else {
        bail!("no command to run: warden exec [PROFILE] -- COMMAND [ARG...]");
    };
    let grant = grant(profile, false).await?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).env(env, &grant.access_token);
    let error = exec_replacing(&mut cmd);
    eprintln!("error: cannot run {}: {error}", program.to_string_lossy());
    // The shell's codes for "not found" and "not executable".
    Ok(match error.kind() {
        std::io::ErrorKind::NotFound => ExitCode::from(127),
        std::io::ErrorKind::PermissionDenied => ExitCode::from(126),
        _ => ExitCode::FAILURE,
    })
}

#[cfg(unix)]
fn exec_replacing(cmd: &mut std::process::Command) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    // Returns only if it failed.
    cmd.exec()
}

#[cfg(not(unix))]
fn exec_replacing(cmd: &mut std::process::Command) -> std::io::Error {
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `warden profiles [--json]`.
pub async fn profiles(json: bool) -> anyhow::Result<()> {
    let (list, active) = handout::profiles(&paths()?).await?;
    if json {
        let value = serde_json::json!({ "profiles": list, "active": active });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if list.is_empty() {
        outln!("No profiles yet: sign in in the Warden app first.");
        return Ok(());
    }
    let name_width = list
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let id_width = list.iter().map(|p| p.id.as_str().len()).max().unwrap_or(0);
    for p in &list {
        let mark = if active.as_ref() == Some(&p.id) {
            "*"
        } else {
            " "
        };
        outln!(
            "{mark} {:name_width$}  {:id_width$}  {} @ {}  {}",
            p.name,
            p.id.as_str(),
            p.account,
            p.server,
            p.state
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_checked() {
        for ok in ["WARDEN_ACCESS_TOKEN", "_x", "TOKEN2"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "2X", "A-B", "A B", "A=B", "Ä"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }
}
