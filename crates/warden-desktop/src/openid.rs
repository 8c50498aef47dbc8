//! OpenID Connect / OAuth 2.0 provider profiles (`ServerKind::OpenId`): made
//! by `warden login --oidc`, rotated by `warden token` through the provider's
//! token endpoint. The session (refresh token and DPoP key) is one keyring
//! entry, sealed by [`OpenIdProvider`].
//!
//! Warden-only features (the session list, staff, logout everywhere) do not
//! exist at a provider: [`unavailable`] says so in the user's words.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_client::oidc::{OpenIdConfig, OpenIdProvider};
use warden_client::{AsyncVault, Secret, SignOutReason, TokenProvider, Vault, wall_now};

use crate::broker::{BrokerRequest, TokenGrant};
use crate::error::{Error, Result};
use crate::paths::AppPaths;
use crate::profiles::{Profile, ProfileId, ProfilesFile, ServerKind};
use crate::vault::StableKeyVault;

/// An OpenID provider as a profile's server: issuer, client id, scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpenIdServer {
    /// The issuer URL (discovery starts there).
    pub issuer: String,
    /// The registered client id (a public client).
    pub client_id: String,
    /// Scopes asked for besides `openid`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Sender-constrained tokens (DPoP) when the provider offers them. Off
    /// for profiles whose tokens `warden token` hands to other programs,
    /// which cannot make proofs.
    #[serde(default)]
    pub dpop: bool,
}

impl OpenIdServer {
    /// The client configuration for this server.
    pub fn config(&self) -> OpenIdConfig {
        let mut config = OpenIdConfig::new(&self.issuer, &self.client_id);
        for s in &self.scopes {
            if !config.scopes.contains(s) {
                config.scopes.push(s.clone());
            }
        }
        config.dpop = self.dpop;
        config
    }
}

/// What a Warden-only feature says for an OpenID profile.
pub fn unavailable(feature: &str) -> String {
    format!(
        "{feature} is a Warden server feature; an OpenID provider does not offer it (its own \
         console manages sessions and users)."
    )
}

fn entry(profile: &Profile, vault: Arc<dyn Vault>) -> AsyncVault {
    AsyncVault::new(
        Arc::new(StableKeyVault {
            inner: vault,
            key: profile.vault_key.clone(),
        }),
        warden_client::ManagerConfig::default().vault_timeout,
    )
}

/// Adds a profile for a session signed in at `server` as `subject` (the ID
/// token's `sub`), its sealed session in the keyring, and makes it active
/// when there was none. Refused while the app runs (it owns the file then).
pub async fn add_profile(
    paths: &AppPaths,
    vault: Arc<dyn Vault>,
    server: OpenIdServer,
    subject: &str,
    sealed: &Secret,
    name: Option<&str>,
) -> Result<Profile> {
    if crate::broker::ask(
        &paths.socket(),
        &BrokerRequest::Profiles,
        std::time::Duration::from_secs(2),
    )
    .await
    .is_ok()
    {
        return Err(Error::Busy(
            "The Warden app is running: add the OpenID provider in its window, or close it first."
                .into(),
        ));
    }
    crate::paths::ensure_private_dir(&paths.data_dir)
        .map_err(|e| Error::io("create", &paths.data_dir, e))?;
    let locks = paths.locks_dir();
    crate::paths::ensure_private_dir(&locks).map_err(|e| Error::io("create", &locks, e))?;
    let mut file = ProfilesFile::load(paths)?.unwrap_or_default();
    let id = ProfileId::generate()?;
    let kind = ServerKind::OpenId(server);
    let wanted = match name {
        Some(n) => crate::profiles::check_name(n)?,
        None => Profile::default_name(subject, &kind),
    };
    let profile = Profile {
        name: file.unique_name(&wanted, None),
        vault_key: Profile::vault_key_for(&id),
        id,
        server: kind,
        account: subject.to_string(),
    };
    let entry = entry(&profile, vault);
    entry
        .store("", subject, sealed)
        .await
        .map_err(warden_client::ClientError::from)?;
    if file.active.is_none() {
        file.active = Some(profile.id.clone());
    }
    file.profiles.push(profile.clone());
    if let Err(e) = file.save(paths) {
        // No profile names the entry: do not leave the session behind.
        let _ = entry.delete("", subject).await;
        return Err(e);
    }
    Ok(profile)
}

/// One rotation of an OpenID profile's session through the provider's token
/// endpoint (the caller holds the profile's lock): the successor (or, when
/// the provider returns none, the same refresh token) goes back to the
/// keyring before the access token is handed out.
pub(crate) async fn rotate_here(
    profile: &Profile,
    server: &OpenIdServer,
    vault: Arc<dyn Vault>,
) -> Result<TokenGrant> {
    let vault = entry(profile, vault);
    let not_signed_in = |reason: Option<String>| Error::ProfileNotSignedIn {
        profile: profile.name.clone(),
        reason,
    };
    let stored = vault
        .load("", &profile.account)
        .await
        .map_err(warden_client::ClientError::from)?
        .ok_or_else(|| not_signed_in(None))?;
    let provider = OpenIdProvider::lazy(server.config());
    let refresh = provider.unseal(stored)?;
    let client = provider.client().await?;
    let answer = match client.refresh(refresh.expose()).await {
        Ok(answer) => answer,
        Err(e) => {
            if let Some(reason) = SignOutReason::from_refresh_error(&e) {
                let _ = vault.delete("", &profile.account).await;
                return Err(not_signed_in(Some(reason.to_string())));
            }
            return Err(e.into());
        }
    };
    if let Some(next) = &answer.refresh_token {
        let sealed = provider.seal(&Secret::new(next.clone()))?;
        if let Err(e) = vault.store("", &profile.account, &sealed).await {
            let _ = vault.delete("", &profile.account).await;
            tracing::warn!(error = %e, "the keyring did not take the new refresh token; sign in again");
        }
    }
    let now = wall_now().floor() as i64;
    let expires_in = answer.expires_in.map(|e| e as i64);
    Ok(TokenGrant {
        token_type: answer.token_type.clone().unwrap_or_else(|| "Bearer".into()),
        expires_in,
        expires_at: expires_in.map(|e| now + e),
        access_token: answer.access_token,
        profile: profile.id.clone(),
        profile_name: profile.name.clone(),
        server: client.issuer().to_string(),
        user: profile.account.clone(),
    })
}
