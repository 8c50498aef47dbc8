//! OpenID Connect and OAuth 2.0 providers: discovery, sign-in (authorization
//! code with PKCE through a loopback listener, or the device grant), ID token
//! validation against the provider's JWKS, refresh, revocation, userinfo,
//! DPoP.
//!
//! Written on reqwest and jsonwebtoken (already in every build of this crate)
//! rather than `openidconnect`/`oauth2`: those do not do RFC 8414 discovery
//! as a fallback, JWKS re-fetch on an unknown `kid`, or DPoP (see [`dpop`]),
//! and each of those touches every request; `openidconnect` 4 would also add
//! a second RSA stack (rsa 0.9 beside jsonwebtoken's 0.10) and chrono. What
//! is here is the protocol's small core, checked against a real provider
//! (node-oidc-provider) by the tests in `tests/oidc.rs`.

pub mod dpop;
pub mod error;
mod loopback;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use self::dpop::DpopKey;
pub use self::error::{OAuthError, OAuthErrorCode, explain_oauth};
use crate::error::{ClientError, Result};
use crate::jwt::Secret;
use crate::provider::{BoxFuture, Issued, TokenProvider};

/// Most bytes read from any provider answer.
const MAX_BODY_BYTES: usize = 1 << 20;

/// How a confidential client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A public client (the default): `client_id` in the form, no secret.
    #[default]
    None,
    /// `client_secret_basic`: HTTP Basic with the id and secret.
    ClientSecretBasic,
    /// `client_secret_post`: the secret in the form.
    ClientSecretPost,
}

impl ClientAuth {
    /// How a confidential client authenticates at a provider that accepts
    /// `supported` (its `token_endpoint_auth_methods_supported`):
    /// `client_secret_basic` when offered (RFC 6749 §2.3.1 makes it the one
    /// every server must support, and RFC 8414 its default when the list is
    /// absent), else `client_secret_post`; `None` when it offers neither.
    pub fn choose(supported: &[String]) -> Option<ClientAuth> {
        let offers = |m: &str| supported.iter().any(|s| s == m);
        if supported.is_empty() || offers("client_secret_basic") {
            Some(ClientAuth::ClientSecretBasic)
        } else if offers("client_secret_post") {
            Some(ClientAuth::ClientSecretPost)
        } else {
            None
        }
    }

    /// Its name in discovery documents (`none`, `client_secret_basic`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
        }
    }
}

/// What Warden needs to know about an OpenID provider and its client.
#[derive(Debug, Clone)]
pub struct OpenIdConfig {
    /// The issuer URL (discovery starts here; must equal the document's `issuer`).
    pub issuer: String,
    /// The registered client id.
    pub client_id: String,
    /// A confidential client's secret (kept in the keyring by the caller).
    pub client_secret: Option<Secret>,
    /// How the client authenticates. With a secret and [`ClientAuth::None`],
    /// discovery picks it from what the provider supports ([`ClientAuth::choose`]).
    pub auth: ClientAuth,
    /// Scopes asked for (`openid` is always added).
    pub scopes: Vec<String>,
    /// An RFC 8707 resource indicator (the API the access token is for),
    /// sent on the authorization, device authorization and token requests;
    /// many providers issue JWT access tokens (RFC 9068) with it as `aud`.
    pub resource: Option<String>,
    /// Use DPoP when the provider advertises it (default true).
    pub dpop: bool,
    /// Limit for each request (15 s).
    pub timeout: Duration,
    /// How long sign-in waits for the browser to come back (5 min).
    pub browser_timeout: Duration,
}

impl OpenIdConfig {
    /// A public client of `issuer` asking for `openid offline_access`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> OpenIdConfig {
        OpenIdConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            auth: ClientAuth::None,
            scopes: vec!["openid".into(), "offline_access".into()],
            resource: None,
            dpop: true,
            timeout: Duration::from_secs(15),
            browser_timeout: Duration::from_secs(300),
        }
    }

    fn scope(&self) -> String {
        let mut scopes = vec!["openid".to_string()];
        for s in &self.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        scopes.join(" ")
    }
}

/// The provider's metadata (OpenID Connect Discovery 1.0 / RFC 8414).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer, as the document states it.
    pub issuer: String,
    /// Where the browser goes to sign in.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// The provider's public keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// OpenID Connect userinfo.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RFC 7009.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RFC 7662.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// RFC 8628.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// How clients may authenticate at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9449: present when the provider does DPoP.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Grants.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
}

/// A token endpoint's answer. `Debug` shows no token.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token (opaque or a JWT).
    pub access_token: String,
    /// `Bearer` or `DPoP`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds the access token lives.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A new refresh token, when the provider rotates or issues one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Keycloak's refresh lifetime, when sent.
    #[serde(default)]
    pub refresh_expires_in: Option<u64>,
    /// The ID token (sign-in; some providers on refresh too).
    #[serde(default)]
    pub id_token: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A device authorization (RFC 8628 §3.2): what to show the user.
#[derive(Clone, Deserialize)]
pub struct DeviceAuthorization {
    device_code: String,
    /// The code the user types.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the code filled in, when the provider offers it.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Seconds the codes live.
    pub expires_in: u64,
    /// Seconds between polls (5 when not sent).
    #[serde(default)]
    pub interval: Option<u64>,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A finished sign-in: the tokens and the validated ID token's claims.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The ID token's `sub`.
    pub subject: String,
    /// The validated ID token's claims.
    pub id_claims: Value,
    /// The tokens.
    pub tokens: TokenResponse,
}

/// Opens a URL for the person (the system browser, or a test's automaton).
pub type Opener = Box<dyn FnOnce(&str) -> Result<()> + Send>;

/// Opens `url` with `$BROWSER` (a command line; the URL is added as its last
/// argument) or else `xdg-open` / `open`; does not wait for it.
pub fn system_browser(url: &str) -> Result<()> {
    let (program, mut args) = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => {
            let mut parts = b.split_whitespace().map(str::to_string);
            let program = parts.next().unwrap_or_default();
            (program, parts.collect::<Vec<_>>())
        }
        _ if cfg!(target_os = "macos") => ("open".to_string(), Vec::new()),
        _ => ("xdg-open".to_string(), Vec::new()),
    };
    args.push(url.to_string());
    let mut child = tokio::process::Command::new(&program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| ClientError::OpenId(format!("could not open the browser ({program}): {e}")))?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

/// The OAuth error a redirect back to the loopback listener carries
/// (`error`, `error_description`), if it carries one.
fn redirected_error(answer: &std::collections::HashMap<String, String>) -> Option<ClientError> {
    answer.get("error").map(|error| {
        ClientError::OAuth(OAuthError {
            code: OAuthErrorCode::parse(error),
            description: answer.get("error_description").cloned(),
            status: 302,
        })
    })
}

fn protocol(msg: impl Into<String>) -> ClientError {
    ClientError::OpenId(msg.into())
}

fn random_b64(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| protocol(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A client of one OpenID provider. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct OpenIdClient {
    config: OpenIdConfig,
    metadata: ProviderMetadata,
    http: reqwest::Client,
    jwks: tokio::sync::Mutex<Option<JwkSet>>,
    dpop: Mutex<Option<DpopKey>>,
    nonce: Mutex<Option<String>>,
    /// The timeline its requests are recorded into (a session manager's client's).
    log: Mutex<Option<Arc<crate::exchange::ExchangeLog>>>,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn read(resp: reqwest::Response) -> Result<Answer> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(protocol(format!(
                "the provider's answer is over {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The OAuth error in an answer, or the closest [`ClientError`].
fn refusal(a: &Answer) -> ClientError {
    #[derive(Deserialize)]
    struct Body {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(&a.body) {
        return ClientError::OAuth(OAuthError {
            code: OAuthErrorCode::parse(&b.error),
            description: b.error_description,
            status: a.status,
        });
    }
    // RFC 6750 / RFC 9449: a resource's refusal is in WWW-Authenticate.
    if let Some(code) = www_authenticate_error(&a.headers) {
        return ClientError::OAuth(OAuthError {
            code: OAuthErrorCode::parse(&code),
            description: None,
            status: a.status,
        });
    }
    match a.status {
        500..=599 => ClientError::Server {
            status: a.status,
            request_id: None,
        },
        429 => ClientError::Throttled { retry_after: None },
        s => ClientError::Http {
            status: s,
            detail: Some(String::from_utf8_lossy(&a.body).chars().take(200).collect()),
        },
    }
}

fn www_authenticate_error(headers: &HeaderMap) -> Option<String> {
    headers.get_all(WWW_AUTHENTICATE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let start = v.find("error=\"")? + 7;
        let end = v[start..].find('"')? + start;
        Some(v[start..end].to_string())
    })
}

impl OpenIdClient {
    /// Reads the provider's metadata: OpenID Connect Discovery
    /// (`/.well-known/openid-configuration`), else RFC 8414
    /// (`/.well-known/oauth-authorization-server`); the document's `issuer`
    /// must equal the one asked for.
    pub async fn discover(mut config: OpenIdConfig) -> Result<OpenIdClient> {
        let issuer = config.issuer.trim_end_matches('/').to_string();
        reqwest::Url::parse(&issuer)
            .map_err(|e| ClientError::InvalidConfig(format!("issuer URL: {e}")))?;
        if config.client_id.is_empty() {
            return Err(ClientError::InvalidConfig("client id is empty".into()));
        }
        if config.auth != ClientAuth::None && config.client_secret.is_none() {
            return Err(ClientError::InvalidConfig(
                "a confidential client needs its secret".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()?;
        let mut metadata = None;
        let mut last = None;
        for well_known in [
            format!("{issuer}/.well-known/openid-configuration"),
            rfc8414_url(&issuer)?,
        ] {
            let a = read(http.get(&well_known).send().await?).await?;
            if a.status == 200 {
                let m: ProviderMetadata = serde_json::from_slice(&a.body).map_err(|e| {
                    protocol(format!("the discovery document is not valid metadata: {e}"))
                })?;
                metadata = Some(m);
                break;
            }
            last = Some(refusal(&a));
        }
        let Some(metadata) = metadata else {
            return Err(last.unwrap_or_else(|| protocol("no discovery document")));
        };
        if metadata.issuer.trim_end_matches('/') != issuer {
            return Err(protocol(format!(
                "the discovery document names issuer {} instead of {issuer}",
                metadata.issuer
            )));
        }
        if config.client_secret.is_some() && config.auth == ClientAuth::None {
            let supported = &metadata.token_endpoint_auth_methods_supported;
            config.auth = ClientAuth::choose(supported).ok_or_else(|| {
                ClientError::InvalidConfig(format!(
                    "the provider accepts neither client_secret_basic nor client_secret_post \
                     for a client secret (it supports: {})",
                    supported.join(", ")
                ))
            })?;
        }
        Ok(OpenIdClient {
            config,
            metadata,
            http,
            jwks: tokio::sync::Mutex::new(None),
            dpop: Mutex::new(None),
            nonce: Mutex::new(None),
            log: Mutex::new(None),
        })
    }

    /// Records its requests from now on into `client`'s timeline (no
    /// tokens: the path, status, latency, OAuth error and description), so
    /// they show beside the session's other exchanges with a "Why?".
    pub fn record_into(&self, client: &crate::Client) {
        *self.log.lock() = Some(client.exchanges().clone());
    }

    fn record(
        &self,
        method: &str,
        url: &str,
        started: std::time::Instant,
        result: &Result<Answer>,
        credential: &str,
    ) {
        let Some(log) = self.log.lock().clone() else {
            return;
        };
        let path = url
            .strip_prefix(self.metadata.issuer.trim_end_matches('/'))
            .unwrap_or(url)
            .to_string();
        let (status, error_code, reason) = match result {
            Ok(a) if (200..300).contains(&a.status) => (Some(a.status), None, None),
            Ok(a) => match refusal(a) {
                ClientError::OAuth(o) => (
                    Some(a.status),
                    Some(o.code.as_str().to_string()),
                    o.description,
                ),
                other => (Some(a.status), Some(other.code().to_string()), None),
            },
            Err(e) => (None, Some(e.code().to_string()), Some(e.to_string())),
        };
        log.record(crate::exchange::Exchange {
            at: crate::client::unix_ms()
                - i64::try_from(started.elapsed().as_millis()).unwrap_or(0),
            method: method.to_string(),
            path,
            status,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error_code,
            reason: reason.clone(),
            credential: Some(credential.to_string()),
            request_id: None,
            record: Box::new(crate::exchange::ExchangeRecord {
                detail: reason,
                url: url.to_string(),
                ..Default::default()
            }),
        });
    }

    /// The provider's metadata.
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &OpenIdConfig {
        &self.config
    }

    /// The issuer (the key its sessions are stored under).
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// The provider advertises DPoP with ES256 and the configuration allows it.
    pub fn uses_dpop(&self) -> bool {
        self.config.dpop
            && self
                .metadata
                .dpop_signing_alg_values_supported
                .iter()
                .any(|a| a == "ES256")
    }

    /// The session's DPoP key, when it has one.
    pub fn dpop_key(&self) -> Option<DpopKey> {
        self.dpop.lock().clone()
    }

    /// Sets the session's DPoP key (restored from the keyring).
    pub fn set_dpop_key(&self, key: Option<DpopKey>) {
        *self.dpop.lock() = key;
    }

    fn fresh_dpop_key(&self) -> Result<()> {
        if self.uses_dpop() {
            *self.dpop.lock() = Some(DpopKey::generate()?);
        } else {
            *self.dpop.lock() = None;
        }
        Ok(())
    }

    fn remember_nonce(&self, headers: &HeaderMap) {
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            *self.nonce.lock() = Some(n.to_string());
        }
    }

    /// Adds the configured resource indicator (RFC 8707) to a request's form.
    fn with_resource(&self, mut form: Vec<(String, String)>) -> Vec<(String, String)> {
        if let Some(resource) = &self.config.resource {
            form.push(("resource".into(), resource.clone()));
        }
        form
    }

    fn client_form(&self, form: &mut Vec<(String, String)>) {
        match self.config.auth {
            ClientAuth::None => form.push(("client_id".into(), self.config.client_id.clone())),
            ClientAuth::ClientSecretPost => {
                form.push(("client_id".into(), self.config.client_id.clone()));
                if let Some(s) = &self.config.client_secret {
                    form.push(("client_secret".into(), s.expose().to_string()));
                }
            }
            ClientAuth::ClientSecretBasic => {}
        }
    }

    /// POSTs `form` (with the client's authentication and, when the session
    /// has a key, a DPoP proof) to `url`; a `use_dpop_nonce` answer is
    /// retried once with the nonce the provider sent.
    async fn post(&self, url: &str, mut form: Vec<(String, String)>, dpop: bool) -> Result<Answer> {
        self.client_form(&mut form);
        for attempt in 0..2 {
            let mut req = self.http.post(url).form(&form);
            if self.config.auth == ClientAuth::ClientSecretBasic {
                // RFC 6749 §2.3.1: both parts form-urlencoded first.
                let enc = |s: &str| {
                    serde_urlencoded::to_string([("", s)])
                        .map(|x| x.trim_start_matches('=').to_string())
                        .unwrap_or_default()
                };
                let secret = self
                    .config
                    .client_secret
                    .as_ref()
                    .map(|s| enc(s.expose()))
                    .unwrap_or_default();
                req = req.basic_auth(enc(&self.config.client_id), Some(secret));
            }
            let key = if dpop { self.dpop_key() } else { None };
            if let Some(key) = &key {
                let nonce = self.nonce.lock().clone();
                req = req.header("DPoP", key.proof("POST", url, nonce.as_deref(), None)?);
            }
            let started = std::time::Instant::now();
            let sent = async { read(req.send().await?).await }.await;
            let field = |name: &str| {
                form.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            let what = match (field("grant_type"), field("token_type_hint")) {
                (Some(grant), _) => format!("grant {grant}"),
                (None, Some(hint)) => hint.to_string(),
                (None, None) => "client".to_string(),
            };
            let credential = match &key {
                Some(k) => format!("{what}, DPoP proof (jkt {})", k.thumbprint()),
                None => what,
            };
            self.record("POST", url, started, &sent, &credential);
            let a = sent?;
            self.remember_nonce(&a.headers);
            if (200..300).contains(&a.status) {
                return Ok(a);
            }
            let e = refusal(&a);
            let nonce_wanted =
                matches!(&e, ClientError::OAuth(o) if o.code == OAuthErrorCode::UseDpopNonce);
            if nonce_wanted && key.is_some() && attempt == 0 {
                tracing::debug!("provider asked for a DPoP nonce; retrying once");
                continue;
            }
            return Err(e);
        }
        Err(protocol("unreachable retry state"))
    }

    async fn token(&self, form: Vec<(String, String)>) -> Result<TokenResponse> {
        let form = self.with_resource(form);
        let a = self.post(&self.metadata.token_endpoint, form, true).await?;
        let t: TokenResponse =
            serde_json::from_slice(&a.body).map_err(|e| ClientError::UnexpectedBody {
                status: a.status,
                message: e.to_string(),
            })?;
        if let Some(key) = self.dpop_key()
            && !t
                .token_type
                .as_deref()
                .is_some_and(|tt| tt.eq_ignore_ascii_case("dpop"))
        {
            tracing::warn!(
                jkt = key.thumbprint(),
                "DPoP proof sent, but a bearer token came back"
            );
        }
        Ok(t)
    }

    /// Signs in through the browser: authorization code with PKCE (S256),
    /// the answer on a loopback listener on a random port (RFC 8252 §7.3),
    /// `state`, `iss` and `nonce` checked, the listener closed after one answer.
    pub async fn sign_in_browser(&self, open: Opener) -> Result<SignedIn> {
        let auth_endpoint = self
            .metadata
            .authorization_endpoint
            .clone()
            .ok_or_else(|| protocol("the provider has no authorization endpoint"))?;
        let listener = loopback::Listener::bind("Signed in").await?;
        let redirect_uri = listener.redirect_uri();
        let verifier = random_b64(32)?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_b64(16)?;
        let nonce = random_b64(16)?;
        self.fresh_dpop_key()?;
        let mut params = vec![
            ("response_type", "code".to_string()),
            ("client_id", self.config.client_id.clone()),
            ("redirect_uri", redirect_uri.clone()),
            ("scope", self.config.scope()),
            ("state", state.clone()),
            ("nonce", nonce.clone()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_string()),
        ];
        if self.config.scopes.iter().any(|s| s == "offline_access") {
            // Providers issue refresh tokens for offline_access only with consent.
            params.push(("prompt", "consent".to_string()));
        }
        if let Some(key) = self.dpop_key() {
            // RFC 9449 §10: bind the code to the key.
            params.push(("dpop_jkt", key.thumbprint().to_string()));
        }
        if let Some(resource) = &self.config.resource {
            params.push(("resource", resource.clone()));
        }
        let url = reqwest::Url::parse_with_params(&auth_endpoint, &params)
            .map_err(|e| protocol(format!("authorization endpoint: {e}")))?;
        open(url.as_str())?;
        let answer = listener.answer(self.config.browser_timeout).await?;
        if let Some(error) = redirected_error(&answer) {
            return Err(error);
        }
        if answer.get("state") != Some(&state) {
            return Err(protocol(
                "the browser came back with another sign-in's state (a forged or stale answer)",
            ));
        }
        if let Some(iss) = answer.get("iss")
            && iss != &self.metadata.issuer
        {
            return Err(protocol(format!(
                "the answer came from issuer {iss}, not {} (RFC 9207)",
                self.metadata.issuer
            )));
        }
        let code = answer
            .get("code")
            .ok_or_else(|| protocol("the browser came back without a code"))?;
        let tokens = self
            .token(vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), code.clone()),
                ("redirect_uri".into(), redirect_uri),
                ("code_verifier".into(), verifier),
            ])
            .await?;
        self.signed_in(tokens, Some(&nonce)).await
    }

    async fn signed_in(&self, tokens: TokenResponse, nonce: Option<&str>) -> Result<SignedIn> {
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| protocol("the provider sent no ID token"))?;
        let id_claims = self.validate_id_token(id_token, nonce).await?;
        let subject = id_claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol("the ID token has no sub"))?
            .to_string();
        Ok(SignedIn {
            subject,
            id_claims,
            tokens,
        })
    }

    /// Starts the device authorization grant (RFC 8628): show the user the
    /// code and address, then call [`OpenIdClient::device_finish`].
    pub async fn device_start(&self) -> Result<DeviceAuthorization> {
        let endpoint = self
            .metadata
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| protocol("the provider has no device authorization endpoint"))?;
        self.fresh_dpop_key()?;
        let a = self
            .post(
                &endpoint,
                self.with_resource(vec![("scope".into(), self.config.scope())]),
                false,
            )
            .await?;
        serde_json::from_slice(&a.body).map_err(|e| ClientError::UnexpectedBody {
            status: a.status,
            message: e.to_string(),
        })
    }

    /// Polls the token endpoint until the user approved (or refused, or the
    /// code expired); `slow_down` adds 5 s to the interval.
    pub async fn device_finish(&self, device: &DeviceAuthorization) -> Result<SignedIn> {
        let mut interval = device.interval.unwrap_or(5).max(1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(device.expires_in);
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let form = vec![
                (
                    "grant_type".into(),
                    "urn:ietf:params:oauth:grant-type:device_code".into(),
                ),
                ("device_code".into(), device.device_code.clone()),
            ];
            match self.token(form).await {
                Ok(tokens) => return self.signed_in(tokens, None).await,
                Err(ClientError::OAuth(e)) if e.code == OAuthErrorCode::AuthorizationPending => {}
                Err(ClientError::OAuth(e)) if e.code == OAuthErrorCode::SlowDown => interval += 5,
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::OAuth(OAuthError {
                    code: OAuthErrorCode::ExpiredToken,
                    description: Some("the device code expired while waiting".into()),
                    status: 400,
                }));
            }
        }
    }

    /// Exchanges a refresh token (with a DPoP proof when the session has a key).
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse> {
        self.token(vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.to_string()),
        ])
        .await
    }

    /// RFC 7009: revokes `token` (`hint`: `refresh_token` or `access_token`).
    pub async fn revoke(&self, token: &str, hint: &str) -> Result<()> {
        let endpoint = self
            .metadata
            .revocation_endpoint
            .clone()
            .ok_or_else(|| protocol("the provider has no revocation endpoint"))?;
        self.post(
            &endpoint,
            vec![
                ("token".into(), token.to_string()),
                ("token_type_hint".into(), hint.to_string()),
            ],
            false,
        )
        .await
        .map(drop)
    }

    /// RFC 7662 introspection (when the provider lets this client use it).
    pub async fn introspect(&self, token: &str) -> Result<Value> {
        let endpoint = self
            .metadata
            .introspection_endpoint
            .clone()
            .ok_or_else(|| protocol("the provider has no introspection endpoint"))?;
        let a = self
            .post(&endpoint, vec![("token".into(), token.to_string())], false)
            .await?;
        serde_json::from_slice(&a.body).map_err(|e| ClientError::UnexpectedBody {
            status: a.status,
            message: e.to_string(),
        })
    }

    /// GETs a protected resource with the access token (a DPoP proof with
    /// `ath` for a bound session; one retry on `use_dpop_nonce`).
    pub async fn get_resource(&self, url: &str, access_token: &str) -> Result<Value> {
        for attempt in 0..2 {
            let key = self.dpop_key();
            let mut req = self.http.get(url);
            req = match &key {
                Some(key) => {
                    let nonce = self.nonce.lock().clone();
                    req.header("Authorization", format!("DPoP {access_token}"))
                        .header(
                            "DPoP",
                            key.proof("GET", url, nonce.as_deref(), Some(access_token))?,
                        )
                }
                None => req.bearer_auth(access_token),
            };
            let started = std::time::Instant::now();
            let sent = async { read(req.send().await?).await }.await;
            let credential = if key.is_some() {
                "DPoP access token"
            } else {
                "Bearer access token"
            };
            self.record("GET", url, started, &sent, credential);
            let a = sent?;
            self.remember_nonce(&a.headers);
            if (200..300).contains(&a.status) {
                return serde_json::from_slice(&a.body).map_err(|e| ClientError::UnexpectedBody {
                    status: a.status,
                    message: e.to_string(),
                });
            }
            let e = refusal(&a);
            let nonce_wanted =
                matches!(&e, ClientError::OAuth(o) if o.code == OAuthErrorCode::UseDpopNonce);
            if nonce_wanted && key.is_some() && attempt == 0 {
                continue;
            }
            return Err(e);
        }
        Err(protocol("unreachable retry state"))
    }

    /// OpenID Connect userinfo: "Check with server" for a provider.
    pub async fn userinfo(&self, access_token: &str) -> Result<Value> {
        let endpoint = self
            .metadata
            .userinfo_endpoint
            .clone()
            .ok_or_else(|| protocol("the provider has no userinfo endpoint"))?;
        self.get_resource(&endpoint, access_token).await
    }

    /// The provider's JWKS (cached; `refetch` reads it again).
    async fn jwks(&self, refetch: bool) -> Result<JwkSet> {
        let mut cached = self.jwks.lock().await;
        if let (Some(set), false) = (cached.as_ref(), refetch) {
            return Ok(set.clone());
        }
        let uri = self
            .metadata
            .jwks_uri
            .clone()
            .ok_or_else(|| protocol("the provider publishes no jwks_uri"))?;
        let a = read(self.http.get(&uri).send().await?).await?;
        if a.status != 200 {
            return Err(refusal(&a));
        }
        let set: JwkSet = serde_json::from_slice(&a.body)
            .map_err(|e| protocol(format!("the provider's JWKS is not a JWK set: {e}")))?;
        *cached = Some(set.clone());
        Ok(set)
    }

    /// How many times the JWKS was fetched (for tests and the inspector).
    pub async fn jwks_kids(&self) -> Vec<String> {
        self.jwks
            .lock()
            .await
            .as_ref()
            .map(|s| {
                s.keys
                    .iter()
                    .filter_map(|k| k.common.key_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Verifies a JWT's signature against the provider's JWKS (an unknown
    /// `kid` re-fetches it once) and its `iss`; answers its claims. For the
    /// inspector's access tokens (RFC 9068) and ID tokens.
    pub async fn verify_jwt(&self, token: &str, audience: Option<&str>) -> Result<Value> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| protocol(format!("not a JWT: {e}")))?;
        let allowed = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        if !allowed.contains(&header.alg) {
            return Err(protocol(format!(
                "a token signed with {:?} is not accepted from a provider",
                header.alg
            )));
        }
        let kid = header.kid.clone();
        let mut set = self.jwks(false).await?;
        let find = |set: &JwkSet| match &kid {
            Some(k) => set.find(k).cloned(),
            None => (set.keys.len() == 1).then(|| set.keys[0].clone()),
        };
        let jwk = match find(&set) {
            Some(j) => j,
            None => {
                // The provider may have rotated its keys: read them once more.
                tracing::info!(kid = ?kid, "unknown key id; re-fetching the provider's JWKS");
                set = self.jwks(true).await?;
                find(&set).ok_or_else(|| {
                    protocol(format!(
                        "no key {} in the provider's JWKS, even after re-fetching it",
                        kid.as_deref().unwrap_or("(no kid)")
                    ))
                })?
            }
        };
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| protocol(format!("the provider's key cannot be used: {e}")))?;
        let mut v = Validation::new(header.alg);
        v.leeway = 60;
        v.set_issuer(&[self.metadata.issuer.as_str()]);
        match audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        v.set_required_spec_claims(&["exp", "iss"]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| protocol(format!("the token does not verify: {}", jwt_failure(&e))))
    }

    /// Validates an ID token: signature by the JWKS, `iss`, `aud` (and `azp`
    /// when there are several audiences), `exp`, `iat`, and `nonce` when one
    /// was sent. Answers its claims.
    pub async fn validate_id_token(&self, id_token: &str, nonce: Option<&str>) -> Result<Value> {
        let claims = self
            .verify_jwt(id_token, Some(&self.config.client_id))
            .await
            .map_err(|e| protocol(format!("ID token: {e}")))?;
        let iat = claims.get("iat").and_then(Value::as_f64);
        match iat {
            None => return Err(protocol("ID token: no iat")),
            Some(iat) if iat > crate::scheduler::wall_now() + 60.0 => {
                return Err(protocol("ID token: issued in the future (check the clock)"));
            }
            Some(_) => {}
        }
        if let Some(Value::Array(auds)) = claims.get("aud")
            && auds.len() > 1
            && claims.get("azp").and_then(Value::as_str) != Some(self.config.client_id.as_str())
        {
            return Err(protocol(
                "ID token: several audiences and azp is not this client",
            ));
        }
        if let Some(expected) = nonce
            && claims.get("nonce").and_then(Value::as_str) != Some(expected)
        {
            return Err(protocol(
                "ID token: the nonce is not this sign-in's (a replayed token)",
            ));
        }
        Ok(claims)
    }

    /// RP-initiated logout: the provider's `end_session_endpoint` with
    /// `id_token_hint`, `client_id`, `post_logout_redirect_uri` and `state`
    /// (OpenID Connect RP-Initiated Logout 1.0 §2); `None` when the provider
    /// has no such endpoint.
    pub fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Option<String> {
        let endpoint = self.metadata.end_session_endpoint.as_deref()?;
        let mut params = Vec::new();
        if let Some(hint) = id_token_hint {
            params.push(("id_token_hint", hint));
        }
        params.push(("client_id", self.config.client_id.as_str()));
        if let Some(uri) = post_logout_redirect_uri {
            params.push(("post_logout_redirect_uri", uri));
        }
        if let Some(state) = state {
            params.push(("state", state));
        }
        reqwest::Url::parse_with_params(endpoint, &params)
            .ok()
            .map(String::from)
    }

    /// RP-initiated logout in the browser: opens the end-session URL through
    /// `open` and waits (up to the browser timeout) for the provider to send
    /// the browser back to a loopback listener with this logout's `state`,
    /// which says the provider ended its browser session. `Ok(false)`: the
    /// provider has no `end_session_endpoint`.
    pub async fn logout_in_browser(
        &self,
        id_token_hint: Option<&str>,
        open: Opener,
    ) -> Result<bool> {
        if self.metadata.end_session_endpoint.is_none() {
            return Ok(false);
        }
        let listener = loopback::Listener::bind("Signed out").await?;
        let redirect_uri = listener.redirect_uri();
        let state = random_b64(16)?;
        let url = self
            .end_session_url(id_token_hint, Some(&redirect_uri), Some(&state))
            .ok_or_else(|| protocol("the end_session_endpoint is not a URL"))?;
        open(&url)?;
        let answer = listener.answer(self.config.browser_timeout).await?;
        if let Some(error) = redirected_error(&answer) {
            return Err(error);
        }
        if answer.get("state") != Some(&state) {
            return Err(protocol(
                "the browser came back from the logout with another state (a forged or stale answer)",
            ));
        }
        Ok(true)
    }
}

/// Why a provider's JWT does not verify, in words.
fn jwt_failure(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::InvalidSignature => {
            "bad signature: it does not match the provider's key (the token was altered, or \
             signed by someone else)"
                .into()
        }
        ErrorKind::ExpiredSignature => "expired (exp is past)".into(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "iss is not this provider".into(),
        ErrorKind::InvalidAudience => "aud is not this client".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("no {c} claim"),
        _ => e.to_string(),
    }
}

fn rfc8414_url(issuer: &str) -> Result<String> {
    // RFC 8414 §3.1: the well-known part goes between the host and the path.
    let url = reqwest::Url::parse(issuer)
        .map_err(|e| ClientError::InvalidConfig(format!("issuer URL: {e}")))?;
    let path = url.path().trim_end_matches('/');
    let mut base = url.clone();
    base.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(base.to_string())
}

/// What an OpenID session keeps in the keyring: the refresh token, the
/// session's DPoP key and its latest ID token (the `id_token_hint` of an
/// RP-initiated logout), in one entry so they can never disagree.
#[derive(Serialize, Deserialize)]
struct Sealed {
    v: u8,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

/// An OpenID provider as the session manager's [`TokenProvider`]: refresh
/// through the token endpoint, logout by RFC 7009 revocation. Made from a
/// discovered client, or [`OpenIdProvider::lazy`]: discovery on first use
/// (an app restoring its profiles at start, perhaps offline: a provider not
/// reached yet is a transient error, retried with back-off).
#[derive(Debug, Clone)]
pub struct OpenIdProvider {
    issuer: String,
    config: OpenIdConfig,
    client: Arc<tokio::sync::OnceCell<Arc<OpenIdClient>>>,
    /// A DPoP key unsealed before discovery, for the client once it is made.
    pending_key: Arc<Mutex<Option<DpopKey>>>,
    /// The timeline to record into, for the client once it is made.
    timeline: Arc<Mutex<Option<crate::Client>>>,
    /// A confidential client's secret, for the client once it is made
    /// (read from the keyring after the provider was built).
    client_secret: Arc<Mutex<Option<Secret>>>,
    /// The session's latest ID token (sign-in, or a refresh that sent one).
    id_token: Arc<Mutex<Option<String>>>,
}

impl OpenIdProvider {
    /// The provider for `client`'s sessions.
    pub fn new(client: Arc<OpenIdClient>) -> OpenIdProvider {
        let issuer = client.issuer().to_string();
        let config = client.config().clone();
        OpenIdProvider {
            issuer,
            config,
            client: Arc::new(tokio::sync::OnceCell::new_with(Some(client))),
            pending_key: Arc::new(Mutex::new(None)),
            timeline: Arc::new(Mutex::new(None)),
            client_secret: Arc::new(Mutex::new(None)),
            id_token: Arc::new(Mutex::new(None)),
        }
    }

    /// A provider that discovers `config.issuer` when first asked to refresh.
    pub fn lazy(config: OpenIdConfig) -> OpenIdProvider {
        OpenIdProvider {
            issuer: config.issuer.trim_end_matches('/').to_string(),
            config,
            client: Arc::new(tokio::sync::OnceCell::new()),
            pending_key: Arc::new(Mutex::new(None)),
            timeline: Arc::new(Mutex::new(None)),
            client_secret: Arc::new(Mutex::new(None)),
            id_token: Arc::new(Mutex::new(None)),
        }
    }

    /// The discovered client, discovering it now when needed.
    pub async fn client(&self) -> Result<Arc<OpenIdClient>> {
        self.client
            .get_or_try_init(|| async {
                let mut config = self.config.clone();
                if let Some(secret) = self.client_secret.lock().clone() {
                    config.client_secret = Some(secret);
                }
                let client = Arc::new(OpenIdClient::discover(config).await?);
                if let Some(key) = self.pending_key.lock().take() {
                    client.set_dpop_key(Some(key));
                }
                if let Some(timeline) = self.timeline.lock().as_ref() {
                    client.record_into(timeline);
                }
                Ok::<_, ClientError>(client)
            })
            .await
            .cloned()
    }

    /// The client when it was discovered already.
    pub fn discovered(&self) -> Option<Arc<OpenIdClient>> {
        self.client.get().cloned()
    }

    /// A confidential client's secret (from the keyring), used from the
    /// discovery on: call it before the provider's first use.
    pub fn set_client_secret(&self, secret: Option<Secret>) {
        *self.client_secret.lock() = secret;
    }

    /// The session's latest ID token: the `id_token_hint` of a logout, and
    /// what the inspector verifies.
    pub fn id_token(&self) -> Option<String> {
        self.id_token.lock().clone()
    }

    /// Sets the session's ID token (a sign-in's).
    pub fn set_id_token(&self, id_token: Option<String>) {
        *self.id_token.lock() = id_token;
    }

    /// The session's DPoP key, when it is sender-constrained.
    pub fn session_dpop_key(&self) -> Option<DpopKey> {
        self.dpop_key()
    }

    fn dpop_key(&self) -> Option<DpopKey> {
        match self.client.get() {
            Some(c) => c.dpop_key(),
            None => self.pending_key.lock().clone(),
        }
    }
}

/// A token endpoint answer as the session manager takes it.
pub fn issued(t: TokenResponse) -> Issued {
    Issued {
        access: t.access_token,
        refresh: t.refresh_token,
        expires_in: t.expires_in,
        refresh_expires_in: t.refresh_expires_in,
    }
}

impl TokenProvider for OpenIdProvider {
    fn key(&self) -> &str {
        &self.issuer
    }

    fn opaque_tokens(&self) -> bool {
        true
    }

    fn warden_routes(&self) -> bool {
        false
    }

    fn identity<'a>(&'a self, access: &'a str) -> Option<BoxFuture<'a, Result<(String, String)>>> {
        Some(Box::pin(async move {
            let client = self.client().await?;
            let (info, endpoint) = match client.userinfo(access).await {
                Ok(info) => (info, client.metadata().userinfo_endpoint.clone()),
                // A token for another resource (RFC 8707) is not userinfo's
                // to accept. A JWT (RFC 9068) is the provider's signed word:
                // its JWKS says whose it is (providers do not introspect
                // their own structured tokens); an opaque one, introspection.
                Err(ClientError::OAuth(e))
                    if e.code == OAuthErrorCode::InvalidToken
                        && client.config().resource.is_some()
                        && jsonwebtoken::decode_header(access).is_ok() =>
                {
                    let claims = client.verify_jwt(access, None).await?;
                    (claims, client.metadata().jwks_uri.clone())
                }
                Err(ClientError::OAuth(e))
                    if e.code == OAuthErrorCode::InvalidToken
                        && client.config().resource.is_some()
                        && client.metadata().introspection_endpoint.is_some() =>
                {
                    let answer = client.introspect(access).await?;
                    if answer.get("active").and_then(Value::as_bool) != Some(true) {
                        return Err(ClientError::OAuth(OAuthError {
                            code: OAuthErrorCode::InvalidToken,
                            description: Some("introspection: the token is not active".into()),
                            status: 200,
                        }));
                    }
                    (answer, client.metadata().introspection_endpoint.clone())
                }
                Err(e) => return Err(e),
            };
            let name = ["preferred_username", "email", "username", "sub"]
                .iter()
                .find_map(|k| info.get(*k).and_then(Value::as_str))
                .unwrap_or_default()
                .to_string();
            let endpoint = endpoint.unwrap_or_default();
            let path = endpoint
                .strip_prefix(client.issuer().trim_end_matches('/'))
                .unwrap_or(&endpoint)
                .trim_start_matches('/')
                .to_string();
            Ok((name, path))
        }))
    }

    fn attach_timeline(&self, client: &crate::Client) {
        match self.client.get() {
            Some(c) => c.record_into(client),
            None => *self.timeline.lock() = Some(client.clone()),
        }
    }

    fn as_openid(&self) -> Option<&OpenIdProvider> {
        Some(self)
    }

    fn refresh<'a>(&'a self, refresh: &'a str) -> BoxFuture<'a, Result<Issued>> {
        Box::pin(async move {
            let answer = self.client().await?.refresh(refresh).await?;
            if let Some(id_token) = &answer.id_token {
                // Kept (sealed with the successor) as the next logout's hint.
                self.set_id_token(Some(id_token.clone()));
            }
            Ok(issued(answer))
        })
    }

    fn end<'a>(&'a self, access: Option<&'a str>, refresh: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let client = self.client().await?;
            // The refresh token first: it is what keeps the grant alive.
            client.revoke(refresh, "refresh_token").await?;
            if let Some(access) = access {
                // Best effort: many providers revoke the grant's access tokens with it.
                let _ = client.revoke(access, "access_token").await;
            }
            Ok(())
        })
    }

    fn seal(&self, refresh: &Secret) -> Result<Secret> {
        let sealed = Sealed {
            v: 1,
            refresh_token: refresh.expose().to_string(),
            dpop_key: self.dpop_key().map(|k| k.stored().expose().to_string()),
            id_token: self.id_token(),
        };
        serde_json::to_string(&sealed)
            .map(Secret::new)
            .map_err(|e| protocol(format!("sealing the session: {e}")))
    }

    fn unseal(&self, stored: Secret) -> Result<Secret> {
        let sealed: Sealed = serde_json::from_str(stored.expose())
            .map_err(|_| ClientError::MalformedToken("not an OpenID session entry".into()))?;
        let key = sealed
            .dpop_key
            .as_deref()
            .map(DpopKey::from_stored)
            .transpose()?;
        match self.client.get() {
            Some(c) => c.set_dpop_key(key),
            None => *self.pending_key.lock() = key,
        }
        if sealed.id_token.is_some() {
            self.set_id_token(sealed.id_token);
        }
        Ok(Secret::new(sealed.refresh_token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_goes_basic_when_offered_else_post() {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ClientAuth::choose(&list(&[
                "client_secret_post",
                "client_secret_basic",
                "none"
            ])),
            Some(ClientAuth::ClientSecretBasic)
        );
        assert_eq!(
            ClientAuth::choose(&list(&["private_key_jwt", "client_secret_post"])),
            Some(ClientAuth::ClientSecretPost)
        );
        // RFC 8414 §2: absent means client_secret_basic.
        assert_eq!(ClientAuth::choose(&[]), Some(ClientAuth::ClientSecretBasic));
        assert_eq!(ClientAuth::choose(&list(&["private_key_jwt"])), None);
    }
}
