//! OpenID Connect against a real, OpenID Certified provider:
//! node-oidc-provider started on loopback by each test (PKCE required,
//! refresh-token rotation, DPoP, 4 s access tokens), the browser played by
//! interop/oidc/browser.mjs. The provider is never mocked.
//!
//! Runs inside scripts/with-desktop-session.sh (the restart test uses the
//! real keyring).

mod support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use warden_client::oidc::{
    ClientAuth, OAuthErrorCode, OpenIdClient, OpenIdConfig, OpenIdProvider, explain_oauth, issued,
};
use warden_client::{
    Client, ClientConfig, ClientError, KeyringVault, ManagerConfig, MemoryVault, Phase,
    SessionManager, SessionState, SignOutReason, Vault,
};

use support::{Provider, Settings, automaton};

fn manager_config() -> ManagerConfig {
    ManagerConfig {
        // 4 s access tokens: rotate at 3 s.
        rotate_margin: Duration::from_secs(1),
        ..ManagerConfig::default()
    }
}

async fn discover(issuer: &str, client_id: &str) -> Result<Arc<OpenIdClient>> {
    let mut config = OpenIdConfig::new(issuer, client_id);
    config.scopes.push("email".into());
    config.browser_timeout = Duration::from_secs(60);
    Ok(Arc::new(OpenIdClient::discover(config).await?))
}

fn manager(oidc: &Arc<OpenIdClient>, vault: Arc<dyn Vault>) -> Result<SessionManager> {
    let client = Client::new(ClientConfig::new(oidc.issuer()))?;
    Ok(SessionManager::with_provider(
        client,
        Arc::new(OpenIdProvider::new(oidc.clone())),
        vault,
        manager_config(),
    ))
}

/// Signs `login` in through the browser automaton and hands the tokens to a manager.
async fn sign_in(
    oidc: &Arc<OpenIdClient>,
    vault: Arc<dyn Vault>,
    login: &str,
) -> Result<(SessionManager, SessionState)> {
    let signed = oidc.sign_in_browser(automaton(login)).await?;
    assert_eq!(signed.subject, login);
    let m = manager(oidc, vault)?;
    let state = m.login_with(&signed.subject, issued(signed.tokens)).await?;
    Ok((m, state))
}

/// Waits (on the manager's events) until `done` holds for its state.
async fn wait_for(
    m: &SessionManager,
    what: &str,
    done: impl Fn(&SessionState) -> bool,
) -> Result<SessionState> {
    let mut events = m.subscribe();
    let limit = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let s = m.state();
        if done(&s) {
            return Ok(s);
        }
        match tokio::time::timeout_at(limit, events.recv()).await {
            Ok(_) => {}
            Err(_) => bail!("timed out waiting for {what}; state: {:?}", m.state()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_checks_the_issuer_and_reads_the_metadata() -> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    let m = oidc.metadata();
    assert!(m.code_challenge_methods_supported.contains(&"S256".into()));
    assert!(m.revocation_endpoint.is_some() && m.device_authorization_endpoint.is_some());
    assert!(oidc.uses_dpop(), "the provider advertises DPoP");
    // The same provider under another name: the document's issuer differs.
    let other = p.issuer.replace("127.0.0.1", "localhost");
    let err = OpenIdClient::discover(OpenIdConfig::new(&other, "warden-public"))
        .await
        .expect_err("issuer mismatch");
    assert!(
        matches!(&err, ClientError::OpenId(m) if m.contains("names issuer")),
        "{err}"
    );
    // Not a provider at all.
    let err = OpenIdClient::discover(OpenIdConfig::new(
        format!("{}/nothing-here", p.issuer),
        "warden-public",
    ))
    .await
    .expect_err("no document");
    assert!(!matches!(err, ClientError::OpenId(ref m) if m.contains("names issuer")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_rotates_through_several_lifetimes_restarts_from_the_keyring_and_logs_out()
-> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new());
    let (m, state) = sign_in(&oidc, vault.clone(), "alice").await?;
    assert_eq!(state.phase, Phase::Active);
    assert!(
        state.vault.stored,
        "the session is in the keyring: {:?}",
        state.vault
    );
    let key = oidc.dpop_key().context("a DPoP key for the session")?;
    let first_access = state.access.clone().context("access")?;
    let lifetime = first_access.exp.zip(first_access.iat).map(|(e, i)| e - i);
    assert_eq!(lifetime, Some(4), "lifetime from expires_in");
    assert_eq!(
        state.refresh.as_ref().and_then(|r| r.exp),
        None,
        "no stated refresh expiry"
    );

    // Several access lifetimes: each rotation a new access and refresh token.
    let mut seen = vec![
        m.dev_refresh_tokens()
            .0
            .context("refresh")?
            .expose()
            .to_string(),
    ];
    for n in 1..=3 {
        wait_for(&m, "a rotation", |s| s.rotation_count >= n).await?;
        let current = m
            .dev_refresh_tokens()
            .0
            .context("refresh")?
            .expose()
            .to_string();
        assert!(
            !seen.contains(&current),
            "rotation {n} gave a new refresh token"
        );
        seen.push(current);
    }
    // Warden-only features are unavailable at a provider (not a 404 later).
    assert!(matches!(
        m.sessions().await,
        Err(ClientError::Unavailable(_))
    ));
    let token = m.access_token().await?;
    let me = oidc.userinfo(&token).await?;
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["email"], "alice@example.test");
    // The access token is DPoP-bound: as a bearer token it is refused.
    let bearer = reqwest::Client::new()
        .get(
            oidc.metadata()
                .userinfo_endpoint
                .clone()
                .context("userinfo")?,
        )
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(bearer.status(), 401);

    // Restart: the app stops, a new one restores from the keyring (refresh
    // token and DPoP key, or the bound refresh token would be refused).
    m.stop().await;
    drop(m);
    let oidc2 = discover(&p.issuer, "warden-public").await?;
    assert!(oidc2.dpop_key().is_none());
    let m2 = manager(&oidc2, vault.clone())?;
    let restored = m2.restore("alice").await?;
    assert_eq!(restored.phase, Phase::Active, "{restored:?}");
    assert_eq!(
        oidc2.dpop_key().map(|k| k.thumbprint().to_string()),
        Some(key.thumbprint().to_string()),
        "the session's DPoP key came back from the keyring"
    );
    let token = m2.access_token().await?;
    assert_eq!(oidc2.userinfo(&token).await?["sub"], "alice");
    wait_for(&m2, "a rotation after restore", |s| s.rotation_count >= 2).await?;

    // Logout: RFC 7009 revocation; the refresh token is refused afterwards.
    let refresh = m2.dev_refresh_tokens().0.context("refresh")?;
    m2.logout().await?;
    assert!(matches!(
        m2.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    ));
    assert_eq!(
        vault.load(oidc2.issuer(), "alice")?,
        None,
        "keyring entry gone"
    );
    let err = oidc2
        .refresh(refresh.expose())
        .await
        .expect_err("revoked refresh token");
    assert!(
        matches!(&err, ClientError::OAuth(o) if o.code == OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_rotated_away_refresh_token_ends_the_session_with_the_providers_reason()
-> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    let (m, _) = sign_in(&oidc, Arc::new(MemoryVault::new()), "bob").await?;
    m.rotate_now().await?;
    let (_, previous) = m.dev_refresh_tokens();
    let previous = previous.context("a rotated-away refresh token")?;
    // Someone replays the rotated-away token: the provider revokes the grant.
    let err = oidc
        .refresh(previous.expose())
        .await
        .expect_err("replay refused");
    let ClientError::OAuth(oauth) = &err else {
        bail!("not an OAuth error: {err}");
    };
    assert_eq!(oauth.code, OAuthErrorCode::InvalidGrant);
    // The session's next rotation meets the revoked grant and ends with the provider's reason.
    let err = m.rotate_now().await.expect_err("grant revoked");
    let ClientError::SignedOut(SignOutReason::Provider { error, description }) = &err else {
        bail!("not the provider's reason: {err:?}");
    };
    assert_eq!(error, "invalid_grant");
    assert!(description.is_some(), "the provider's description is kept");
    assert!(matches!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::Provider { .. })
        }
    ));
    // The refused rotation is in the session's timeline, with its "Why?".
    let refused = m
        .timeline()
        .into_iter()
        .rev()
        .find(|x| x.error_code.as_deref() == Some("invalid_grant"))
        .context("the refused refresh in the timeline")?;
    assert_eq!(refused.path, "/token");
    assert_eq!(refused.status, Some(400));
    assert!(
        refused
            .credential
            .as_deref()
            .is_some_and(|c| c.contains("grant refresh_token")),
        "{refused:?}"
    );
    let timeline_why = warden_client::explain(&refused, &warden_client::LocalContext::default())
        .context("a Why? for invalid_grant")?;
    assert_eq!(timeline_why.code, "invalid_grant");
    let why = explain_oauth(oauth);
    assert_eq!(why.code, "invalid_grant");
    assert!(why.cause.contains("replayed") && why.fix.contains("Sign in again"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_at_the_provider_refetches_the_jwks_once() -> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    let signed = oidc.sign_in_browser(automaton("carol")).await?;
    let before = oidc.jwks_kids().await;
    assert_eq!(before.len(), 1);
    let new_kid = p.rotate_keys().await?;
    assert!(!before.contains(&new_kid));
    // The old ID token still verifies from the cache; a new one needs the new key.
    oidc.validate_id_token(signed.tokens.id_token.as_deref().context("id")?, None)
        .await?;
    let again = oidc.sign_in_browser(automaton("carol")).await?;
    let header = jsonwebtoken::decode_header(again.tokens.id_token.as_deref().context("id")?)?;
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    let after = oidc.jwks_kids().await;
    assert!(after.contains(&new_kid), "re-fetched: {after:?}");
    // A token with a kid the provider never had is refused after one re-fetch.
    let mut forged = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    forged.kid = Some("nobody".into());
    let fake = jsonwebtoken::encode(
        &forged,
        &serde_json::json!({"iss": p.issuer, "exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(b"x")?,
    )?;
    assert!(oidc.verify_jwt(&fake, None).await.is_err(), "HS256 refused");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_session_meets_the_nonce_challenge_and_goes_on() -> Result<()> {
    let p = Provider::start(Settings {
        dpop_nonce: true,
        ..Settings::default()
    })
    .await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    // What the session meets at its first token request: a proof without
    // the provider's nonce is answered use_dpop_nonce, with the nonce.
    let probe = warden_client::oidc::DpopKey::generate()?;
    let token_endpoint = oidc.metadata().token_endpoint.clone();
    let answer = reqwest::Client::new()
        .post(&token_endpoint)
        .header("DPoP", probe.proof("POST", &token_endpoint, None, None)?)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "warden-public"),
        ])
        .send()
        .await?;
    assert!(answer.headers().contains_key("dpop-nonce"));
    let body: serde_json::Value = answer.json().await?;
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    // The session retries once with the nonce, at sign-in and at every rotation.
    let (m, _) = sign_in(&oidc, Arc::new(MemoryVault::new()), "dave").await?;
    let key = oidc.dpop_key().context("key")?;
    // The provider binds the tokens to the key (introspection as the
    // confidential client shows cnf.jkt).
    let token = m.access_token().await?;
    let mut config = OpenIdConfig::new(&p.issuer, "warden-confidential");
    config.auth = ClientAuth::ClientSecretBasic;
    config.client_secret = Some(warden_client::Secret::new(
        "confidential-client-secret-for-tests",
    ));
    let confidential = OpenIdClient::discover(config).await?;
    let info = confidential.introspect(&token).await?;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["cnf"]["jkt"], key.thumbprint(), "{info}");
    wait_for(&m, "two rotations with nonces", |s| s.rotation_count >= 2).await?;
    let token = m.access_token().await?;
    assert_eq!(oidc.userinfo(&token).await?["sub"], "dave");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_grant_and_confidential_clients() -> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-public").await?;
    let device = oidc.device_start().await?;
    let url = device
        .verification_uri_complete
        .clone()
        .context("verification_uri_complete")?;
    let person = tokio::spawn(async move { support::browse(&url, "erin").await });
    let signed = oidc.device_finish(&device).await?;
    person.await??;
    assert_eq!(signed.subject, "erin");
    assert!(signed.tokens.refresh_token.is_some());

    // client_secret_post; and a wrong secret is a typed invalid_client.
    let mut config = OpenIdConfig::new(&p.issuer, "warden-post");
    config.auth = ClientAuth::ClientSecretPost;
    config.client_secret = Some(warden_client::Secret::new("post-client-secret-for-tests"));
    config.dpop = false;
    let post = OpenIdClient::discover(config.clone()).await?;
    let signed = post.sign_in_browser(automaton("frank")).await?;
    assert_eq!(signed.tokens.token_type.as_deref(), Some("Bearer"));
    config.client_secret = Some(warden_client::Secret::new("wrong"));
    let wrong = OpenIdClient::discover(config).await?;
    let err = wrong
        .refresh(signed.tokens.refresh_token.as_deref().context("rt")?)
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(&err, ClientError::OAuth(o) if o.code == OAuthErrorCode::InvalidClient),
        "{err}"
    );
    Ok(())
}

/// A provider that does not rotate refresh tokens answers a refresh with a
/// new access token and no refresh token (RFC 6749 §6): the session keeps
/// the one it holds and goes on rotating with it (Insomnia #1492's bug is
/// dropping it), restart included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_answer_without_a_refresh_token_keeps_the_one_held() -> Result<()> {
    let p = Provider::start(Settings::default()).await?;
    let oidc = discover(&p.issuer, "warden-norotate").await?;
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::new());
    let (m, state) = sign_in(&oidc, vault.clone(), "nora").await?;
    assert_eq!(state.phase, Phase::Active);
    let held = m
        .dev_refresh_tokens()
        .0
        .context("refresh")?
        .expose()
        .to_string();
    let mut accesses = vec![m.access_token().await?];
    for n in 1..=3 {
        let s = wait_for(&m, "a rotation", |s| s.rotation_count >= n).await?;
        assert_eq!(s.phase, Phase::Active, "rotation {n}: {s:?}");
        let refresh = m
            .dev_refresh_tokens()
            .0
            .context("refresh")?
            .expose()
            .to_string();
        assert_eq!(refresh, held, "rotation {n} kept the refresh token it held");
        let access = m.access_token().await?;
        assert!(
            !accesses.contains(&access),
            "rotation {n} gave a new access token"
        );
        accesses.push(access);
    }
    // The provider still takes it: it was never replaced.
    let again = oidc.refresh(&held).await?;
    assert!(again.refresh_token.is_none(), "no rotation at this client");
    assert_eq!(
        oidc.userinfo(&m.access_token().await?).await?["sub"],
        "nora"
    );

    // Restart: the kept token is what the vault holds, and it still works.
    m.stop().await;
    drop(m);
    let oidc2 = discover(&p.issuer, "warden-norotate").await?;
    let m2 = manager(&oidc2, vault.clone())?;
    let restored = m2.restore("nora").await?;
    assert_eq!(restored.phase, Phase::Active, "{restored:?}");
    assert_eq!(
        m2.dev_refresh_tokens().0.context("refresh")?.expose(),
        held.as_str()
    );
    wait_for(&m2, "a rotation after restore", |s| s.rotation_count >= 1).await?;
    m2.logout().await?;
    let err = oidc2.refresh(&held).await.expect_err("revoked at logout");
    assert!(
        matches!(&err, ClientError::OAuth(o) if o.code == OAuthErrorCode::InvalidGrant),
        "{err}"
    );
    Ok(())
}
