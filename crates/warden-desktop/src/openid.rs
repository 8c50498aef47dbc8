//! OpenID Connect / OAuth 2.0 provider profiles (`ServerKind::OpenId`): made
//! by `warden login --oidc`, rotated by `warden token` through the provider's
//! token endpoint. The session (refresh token and DPoP key) is one keyring
//! entry, sealed by [`OpenIdProvider`].
//!
//! A confidential client's secret is a keyring entry of the profile's own
//! ([`client_secret_key`]), never in `profiles.json`: read when the profile
//! is restored, used on token, refresh and revocation requests, deleted with
//! the profile.
//!
//! Warden-only features (the session list, staff, logout everywhere) do not
//! exist at a provider: [`unavailable`] says so in the user's words.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_client::oidc::{ClientAuth, OpenIdConfig, OpenIdProvider};
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
    /// The registered client id.
    pub client_id: String,
    /// A confidential client: its secret is in the profile's keyring entry
    /// ([`client_secret_key`]); the way it is sent is [`OpenIdServer::client_auth`].
    #[serde(default)]
    pub confidential: bool,
    /// How a confidential client sends its secret on token, refresh and
    /// revocation requests (not a secret itself).
    #[serde(default)]
    pub client_auth: ClientAuthChoice,
    /// Scopes asked for besides `openid`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// An RFC 8707 resource indicator: the API the access tokens are for
    /// (providers often issue them as JWTs, RFC 9068, for a resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Sender-constrained tokens (DPoP) when the provider offers them. Off
    /// for profiles whose tokens `warden token` hands to other programs,
    /// which cannot make proofs.
    #[serde(default)]
    pub dpop: bool,
}

/// How a confidential client authenticates at the provider's token,
/// refresh and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthChoice {
    /// From the provider's discovery: `client_secret_basic` when it offers
    /// it, else `client_secret_post` ([`ClientAuth::choose`]).
    #[default]
    Automatic,
    /// `client_secret_basic`: HTTP Basic.
    Basic,
    /// `client_secret_post`: the secret in the request's form.
    Post,
}

impl ClientAuthChoice {
    /// The method itself (`None`: automatic).
    pub fn method(self) -> Option<ClientAuth> {
        match self {
            ClientAuthChoice::Automatic => None,
            ClientAuthChoice::Basic => Some(ClientAuth::ClientSecretBasic),
            ClientAuthChoice::Post => Some(ClientAuth::ClientSecretPost),
        }
    }
}

impl std::str::FromStr for ClientAuthChoice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "automatic" | "auto" => Ok(ClientAuthChoice::Automatic),
            "basic" | "client_secret_basic" => Ok(ClientAuthChoice::Basic),
            "post" | "client_secret_post" => Ok(ClientAuthChoice::Post),
            other => Err(format!(
                "unknown client authentication {other:?} (automatic, basic or post)"
            )),
        }
    }
}

impl OpenIdServer {
    /// The client configuration for this server, with the client's secret.
    pub fn config_with(&self, client_secret: Option<Secret>) -> OpenIdConfig {
        let mut config = self.config();
        if client_secret.is_none() {
            config.auth = ClientAuth::None;
        }
        config.client_secret = client_secret;
        config
    }

    /// The client configuration for this server (no secret: a confidential
    /// client's comes from the keyring, [`OpenIdProvider::set_client_secret`]).
    pub fn config(&self) -> OpenIdConfig {
        let mut config = OpenIdConfig::new(&self.issuer, &self.client_id);
        for s in &self.scopes {
            if !config.scopes.contains(s) {
                config.scopes.push(s.clone());
            }
        }
        config.dpop = self.dpop;
        config.resource = self.resource.clone();
        if self.confidential
            && let Some(method) = self.client_auth.method()
        {
            config.auth = method;
        }
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

/// The keyring entry (service `warden`, account `{key}|{client id}`) of a
/// confidential client's secret for profile `id`: the profile's own, apart
/// from its session's so that signing out keeps it.
pub fn client_secret_key(id: &ProfileId) -> String {
    format!("client-secret:{}", Profile::vault_key_for(id))
}

fn secret_entry(vault: Arc<dyn Vault>) -> AsyncVault {
    AsyncVault::new(vault, warden_client::ManagerConfig::default().vault_timeout)
}

/// Keeps `server`'s client secret for profile `id` in the keyring.
pub async fn store_client_secret(
    vault: Arc<dyn Vault>,
    id: &ProfileId,
    server: &OpenIdServer,
    secret: &Secret,
) -> Result<()> {
    secret_entry(vault)
        .store(&client_secret_key(id), &server.client_id, secret)
        .await
        .map_err(warden_client::ClientError::from)?;
    Ok(())
}

/// The client secret of profile `id` (`None`: a public client, or no entry).
pub async fn load_client_secret(
    vault: Arc<dyn Vault>,
    id: &ProfileId,
    server: &OpenIdServer,
) -> Result<Option<Secret>> {
    if !server.confidential {
        return Ok(None);
    }
    let secret = secret_entry(vault)
        .load(&client_secret_key(id), &server.client_id)
        .await
        .map_err(warden_client::ClientError::from)?;
    if secret.is_none() {
        tracing::warn!(profile = %id, "a confidential client's secret is missing from the keyring");
    }
    Ok(secret)
}

/// Deletes the client secret of profile `id` (a removed profile's).
pub async fn delete_client_secret(
    vault: Arc<dyn Vault>,
    id: &ProfileId,
    server: &OpenIdServer,
) -> Result<()> {
    secret_entry(vault)
        .delete(&client_secret_key(id), &server.client_id)
        .await
        .map_err(warden_client::ClientError::from)?;
    Ok(())
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
/// token's `sub`), its sealed session (and a confidential client's secret)
/// in the keyring, and makes it active when there was none. Refused while
/// the app runs (it owns the file then).
pub async fn add_profile(
    paths: &AppPaths,
    vault: Arc<dyn Vault>,
    server: OpenIdServer,
    client_secret: Option<&Secret>,
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
    let server = OpenIdServer {
        confidential: client_secret.is_some(),
        client_auth: match client_secret {
            Some(_) => server.client_auth,
            None => ClientAuthChoice::Automatic,
        },
        ..server
    };
    if let Some(secret) = client_secret {
        store_client_secret(Arc::clone(&vault), &id, &server, secret).await?;
    }
    let kind = ServerKind::OpenId(server.clone());
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
    let session = entry(&profile, Arc::clone(&vault));
    let saved = async {
        session
            .store("", subject, sealed)
            .await
            .map_err(warden_client::ClientError::from)?;
        if file.active.is_none() {
            file.active = Some(profile.id.clone());
        }
        file.profiles.push(profile.clone());
        file.save(paths)
    };
    if let Err(e) = saved.await {
        // No profile names the entries: do not leave the secrets behind.
        let _ = session.delete("", subject).await;
        if client_secret.is_some() {
            let _ = delete_client_secret(vault, &profile.id, &server).await;
        }
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
    let client_secret = load_client_secret(Arc::clone(&vault), &profile.id, server).await?;
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
    let provider = OpenIdProvider::lazy(server.config_with(client_secret));
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
    if let Some(id_token) = &answer.id_token {
        provider.set_id_token(Some(id_token.clone()));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_authentication_is_kept_in_the_profile_and_used_with_a_secret() {
        // A profile written before the choice existed: automatic.
        let old: OpenIdServer = serde_json::from_value(serde_json::json!({
            "issuer": "https://id.example.com", "client_id": "app", "confidential": true
        }))
        .unwrap();
        assert_eq!(old.client_auth, ClientAuthChoice::Automatic);
        assert_eq!(old.resource, None);
        assert_eq!(old.config().auth, ClientAuth::None, "discovery picks it");

        let post = OpenIdServer {
            client_auth: "post".parse().unwrap(),
            resource: Some("https://api.example.com/".into()),
            ..old.clone()
        };
        let json = serde_json::to_value(&post).unwrap();
        assert_eq!(json["client_auth"], "post");
        assert_eq!(json["resource"], "https://api.example.com/");
        let config = post.config_with(Some(Secret::new("s")));
        assert_eq!(config.auth, ClientAuth::ClientSecretPost);
        assert_eq!(config.resource.as_deref(), Some("https://api.example.com/"));
        // The restore's config, its secret read from the keyring later.
        assert_eq!(post.config().auth, ClientAuth::ClientSecretPost);
        // No secret: a public client, whatever was picked.
        assert_eq!(post.config_with(None).auth, ClientAuth::None);
        let basic: ClientAuthChoice = "client_secret_basic".parse().unwrap();
        assert_eq!(basic.method(), Some(ClientAuth::ClientSecretBasic));
        assert!("jwt".parse::<ClientAuthChoice>().is_err());
    }
}
