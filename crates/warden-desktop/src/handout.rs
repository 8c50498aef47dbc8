//! A profile's access token for another program (`warden token`,
//! `warden exec`): from the running app over its socket, or, when no app
//! runs, by rotating the profile's refresh token here, under the profile's
//! lock: re-read the keyring, rotate, write the successor back, unlock. The
//! app holds every profile's lock while it runs, so the two paths never
//! present the same refresh token.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use warden_client::{
    AsyncVault, Client, SignOutReason, Vault, decode_claims, plan_rotation, wall_now,
};

use crate::broker::{self, AskError, BrokerAnswer, BrokerRequest, ProfileSummary, TokenGrant};
use crate::error::{Error, Result};
use crate::locks::LockFile;
use crate::paths::AppPaths;
use crate::profiles::{Profile, ProfileId, ProfilesFile, ServerKind};
use crate::vault::StableKeyVault;

/// How long to keep trying: the app may be starting (its socket not yet
/// open) or another `warden` may be rotating the profile.
const WAIT: Duration = Duration::from_secs(20);
const RETRY: Duration = Duration::from_millis(50);
/// How long the app may take to answer (it may be rotating first).
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// An access token of the profile `selector` names (id or name; `None`: the
/// active profile, else the only one), from the app when it runs, else the
/// one kept from the last call while it is fresh, else rotated here with the
/// refresh token in `vault` (the OS keyring). `rotate`: a new one in any case.
pub async fn token(
    paths: &AppPaths,
    selector: Option<&str>,
    vault: Arc<dyn Vault>,
    rotate: bool,
) -> Result<TokenGrant> {
    let request = BrokerRequest::Token {
        profile: selector.map(str::to_string),
        rotate,
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match ask(paths, &request).await? {
            Some(BrokerAnswer::Token(grant)) => return Ok(grant),
            Some(BrokerAnswer::Error { code, message }) => {
                return Err(Error::FromApp { code, message });
            }
            Some(other) => return Err(Error::Protocol(format!("{other:?} to a token request"))),
            None => {}
        }
        // No app answers: the profile is ours to rotate if nobody holds it.
        let profile = read_profile(paths, selector)?;
        if profile.server == ServerKind::Embedded {
            return Err(Error::NeedsApp {
                profile: profile.name,
            });
        }
        let lock_path = paths.profile_lock(&profile.id);
        if let Some(lock) =
            LockFile::try_acquire(&lock_path).map_err(|e| Error::io("lock", &lock_path, e))?
        {
            // What we read before the lock may have changed (renamed,
            // removed, signed in as someone else): read it again.
            let again = read_profile(paths, Some(profile.id.as_str()))?;
            let grant = token_here(&again, vault, rotate).await;
            drop(lock);
            return grant;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Busy(format!(
                "Profile \"{}\" is held by another Warden process (the app?) that does not answer on {}.",
                profile.name,
                paths.socket().display()
            )));
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// The profiles, from the app when it runs, else from the file.
pub async fn profiles(paths: &AppPaths) -> Result<(Vec<ProfileSummary>, Option<ProfileId>)> {
    match ask(paths, &BrokerRequest::Profiles).await? {
        Some(BrokerAnswer::Profiles { profiles, active }) => Ok((profiles, active)),
        Some(BrokerAnswer::Error { code, message }) => Err(Error::FromApp { code, message }),
        Some(other) => Err(Error::Protocol(format!("{other:?} to a profiles request"))),
        None => {
            let Some(file) = ProfilesFile::load(paths)? else {
                return Ok((Vec::new(), None));
            };
            let list = file
                .profiles
                .iter()
                .map(|p| ProfileSummary {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    server: p.server.place(),
                    account: p.account.clone(),
                    state: "app not running".into(),
                })
                .collect();
            Ok((list, file.active))
        }
    }
}

/// The app's answer, `None` when no app listens.
async fn ask(paths: &AppPaths, request: &BrokerRequest) -> Result<Option<BrokerAnswer>> {
    match broker::ask(&paths.socket(), request, ANSWER_WAIT).await {
        Ok(answer) => Ok(Some(answer)),
        Err(AskError::NotRunning) => Ok(None),
        Err(AskError::Protocol(p)) => Err(Error::Protocol(p)),
        Err(e) => Err(Error::Busy(e.to_string())),
    }
}

fn load(paths: &AppPaths) -> Result<ProfilesFile> {
    match ProfilesFile::load(paths)? {
        Some(file) => Ok(file),
        // A remembered session from before profiles becomes one only in the
        // app (it alone may write the file).
        None => Err(Error::NoProfiles),
    }
}

fn read_profile(paths: &AppPaths, selector: Option<&str>) -> Result<Profile> {
    load(paths)?.resolve(selector).cloned()
}

/// The access token `warden token` keeps in the keyring between runs while
/// no app runs ([`Profile::access_cache_key`]), with what it needs to tell
/// whether it is still good without decoding it again.
#[derive(Debug, Serialize, Deserialize)]
struct CachedAccess {
    access_token: String,
    token_type: String,
    server: String,
    /// Server times of the token, as its claims say.
    iat: Option<i64>,
    exp: i64,
}

impl CachedAccess {
    /// Still before the point where the app would rotate it (the session
    /// manager's own rule: 80 % of its life, or 30 s before expiry).
    fn fresh(&self, now: f64) -> bool {
        let config = warden_client::ManagerConfig::default();
        let exp = self.exp as f64;
        let iat = self.iat.map_or(exp, |iat| iat as f64);
        let rotate_at = plan_rotation(
            iat,
            exp,
            f64::MIN,
            config.rotate_fraction,
            config.rotate_margin.as_secs_f64(),
        );
        now < rotate_at && now < exp
    }
}

/// An access token of `profile`: the one kept from the last call while it is
/// fresh (unless `rotate`), else one rotation of its refresh token. The
/// caller holds its lock.
async fn token_here(profile: &Profile, vault: Arc<dyn Vault>, rotate: bool) -> Result<TokenGrant> {
    let timeout = warden_client::ManagerConfig::default().vault_timeout;
    let cache = AsyncVault::new(
        Arc::new(StableKeyVault {
            inner: Arc::clone(&vault),
            key: profile.access_cache_key(),
        }),
        timeout,
    );
    let kept = match cache.load("", &profile.account).await {
        Ok(kept) => kept.and_then(|k| serde_json::from_str::<CachedAccess>(k.expose()).ok()),
        Err(e) => {
            tracing::debug!(error = %e, "no cached access token to read");
            None
        }
    };
    let now = wall_now();
    if let Some(kept) = kept.filter(|k| !rotate && k.fresh(now)) {
        return Ok(TokenGrant {
            expires_in: Some(kept.exp - now.floor() as i64),
            expires_at: Some(kept.exp),
            access_token: kept.access_token,
            token_type: kept.token_type,
            profile: profile.id.clone(),
            profile_name: profile.name.clone(),
            server: kept.server,
            user: profile.account.clone(),
        });
    }
    // Whatever happens next, the kept token is no longer the one to give.
    let _ = cache.delete("", &profile.account).await;
    let grant = rotate_here(profile, vault).await?;
    if let Some(exp) = grant.expires_at {
        let kept = CachedAccess {
            access_token: grant.access_token.clone(),
            token_type: grant.token_type.clone(),
            server: grant.server.clone(),
            // An opaque token (OAuth) has no iat: its life starts now, as
            // its expires_in counted.
            iat: decode_claims(&grant.access_token)
                .ok()
                .and_then(|c| c.iat)
                .or_else(|| grant.expires_in.map(|e| exp - e)),
            exp,
        };
        if let Ok(json) = serde_json::to_string(&kept)
            && let Err(e) = cache
                .store("", &profile.account, &warden_client::Secret::new(json))
                .await
        {
            tracing::debug!(error = %e, "the access token is not kept: the next call rotates");
        }
    }
    Ok(grant)
}

/// One rotation of `profile`'s refresh token; the caller holds its lock.
async fn rotate_here(profile: &Profile, vault: Arc<dyn Vault>) -> Result<TokenGrant> {
    if let ServerKind::OpenId(server) = &profile.server {
        return crate::openid::rotate_here(profile, server, vault).await;
    }
    let vault = AsyncVault::new(
        Arc::new(StableKeyVault {
            inner: vault,
            key: profile.vault_key.clone(),
        }),
        warden_client::ManagerConfig::default().vault_timeout,
    );
    let Some(config) = profile.server.client_config(None) else {
        return Err(Error::NeedsApp {
            profile: profile.name.clone(),
        });
    };
    let client = Client::new(config)?;
    let not_signed_in = |reason: Option<String>| Error::ProfileNotSignedIn {
        profile: profile.name.clone(),
        reason,
    };
    let refresh = vault
        .load("", &profile.account)
        .await
        .map_err(warden_client::ClientError::from)?
        .ok_or_else(|| not_signed_in(None))?;
    let answer = match client.refresh(refresh.expose()).await {
        Ok(answer) => answer,
        Err(e) => {
            if let Some(reason) = SignOutReason::from_refresh_error(&e) {
                // The session is over: its entry would only be refused again.
                let _ = vault.delete("", &profile.account).await;
                return Err(not_signed_in(Some(reason.to_string())));
            }
            return Err(e.into());
        }
    };
    if let Some(next) = answer.refresh {
        let next = warden_client::Secret::new(next);
        if let Err(e) = vault.store("", &profile.account, &next).await {
            // The entry holds the rotated-away token now; replaying it later
            // would look like theft. Clear it; this token still works.
            let _ = vault.delete("", &profile.account).await;
            tracing::warn!(error = %e, "the keyring did not take the new refresh token; sign in again in the app");
        }
    }
    let claims = decode_claims(&answer.access).ok();
    let expires_at = claims.as_ref().and_then(|c| c.exp);
    Ok(TokenGrant {
        token_type: client.config().auth_header_type.clone(),
        expires_in: expires_at.map(|exp| exp - wall_now().floor() as i64),
        expires_at,
        access_token: answer.access,
        profile: profile.id.clone(),
        profile_name: profile.name.clone(),
        server: client.base_url().to_string(),
        user: profile.account.clone(),
    })
}
