//! The token inspector: the current access or refresh token, or a pasted
//! one, decoded, its signature checked with what the user picks, and
//! warnings. The same inspector as `warden decode` ([`warden_auth::inspect`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_auth::inspect::{self, Expectations, Inspection, VerifyWith};
use warden_auth::{Clock as _, SystemClock};

use crate::error::{Error, Result};
use crate::host::{Host, Session};

/// Which token to inspect, as the window sends it:
/// `{"kind": "access"}`, `{"kind": "pasted", "value": "eyJ…"}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum TokenInput {
    /// The session's current access token (refreshed first if due).
    Access,
    /// The session's current refresh token.
    Refresh,
    /// A token the user pasted.
    Pasted(String),
}

/// What to check the signature with.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

// Tokens and secrets are never printed.
impl fmt::Debug for TokenInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenInput::Access => f.write_str("Access"),
            TokenInput::Refresh => f.write_str("Refresh"),
            TokenInput::Pasted(t) => write!(f, "Pasted(<{} bytes>)", t.len()),
        }
    }
}

impl fmt::Debug for VerifyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyInput::None => f.write_str("None"),
            VerifyInput::Server => f.write_str("Server"),
            VerifyInput::Secret(s) => write!(f, "Secret(<{} bytes>)", s.len()),
            VerifyInput::Pem(_) => f.write_str("Pem"),
            VerifyInput::JwksUrl(url) => write!(f, "JwksUrl({url})"),
        }
    }
}

/// Decodes `token`, checks its signature with `verify`, and warns about what
/// the session's server would refuse.
pub async fn inspect(
    host: &impl Host,
    token: TokenInput,
    verify: VerifyInput,
) -> Result<Inspection> {
    let session = host.session().await?;
    let token = token_text(&session, token).await?;
    let unreadable = Error::unreadable;
    if let VerifyInput::Server = verify {
        if !session.embedded {
            return Err(Error::Invalid(
                "The server's own keys are only at hand for the embedded server; use its JWKS URL or a key.",
            ));
        }
        let service = host
            .embedded_service()
            .await
            .ok_or_else(|| Error::Embedded("The embedded server is not running.".into()))?;
        // A signature check is CPU work under the key ring's lock: off the async workers.
        return tokio::task::spawn_blocking(move || service.inspect_token(&token))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(unreadable);
    }
    let expect = expectations(host, &session).await;
    let with = match verify {
        VerifyInput::None | VerifyInput::Server => VerifyWith::Nothing,
        VerifyInput::Secret(s) => VerifyWith::HmacSecret(s.into_bytes()),
        VerifyInput::Pem(p) => VerifyWith::PublicPem(p),
        VerifyInput::JwksUrl(url) => VerifyWith::Jwks(warden_client::fetch_jwks(&url).await?),
    };
    inspect::inspect(&token, &with, &expect, SystemClock.now()).map_err(unreadable)
}

async fn token_text(session: &Session, token: TokenInput) -> Result<String> {
    let m = &session.manager;
    let token = match token {
        TokenInput::Access => m.access_token().await?,
        TokenInput::Refresh => m
            .dev_refresh_tokens()
            .0
            .map(|s| s.expose().to_string())
            .ok_or(Error::NotSignedIn(
                "There is no refresh token: sign in first.",
            ))?,
        TokenInput::Pasted(t) => t,
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::Invalid("Paste a token, or pick the current one."));
    }
    Ok(token.to_string())
}

/// Which token of an OpenID session to check against its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ProviderToken {
    /// The session's latest ID token.
    Id,
    /// The session's current access token (refreshed first if due).
    Access,
}

/// What an OpenID provider's JWKS says about one of the session's tokens:
/// signature (key by `kid`), `iss`, `aud` and `exp`, and for a DPoP-bound
/// session whether the token's `cnf.jkt` is the session key's thumbprint.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProviderCheck {
    /// Which token.
    pub token: ProviderToken,
    /// The provider (its issuer).
    pub issuer: String,
    /// The token is a JWT; `false`: opaque, nothing to verify here.
    pub jwt: bool,
    /// Signature, `iss`, `aud` and `exp` all check out.
    pub verified: bool,
    /// In words: what was checked, or why it does not verify.
    pub reason: String,
    /// The header's `alg`.
    pub alg: Option<String>,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The header, indented (JWTs only).
    pub header_pretty: Option<String>,
    /// The claims, indented (JWTs; an opaque token's introspection answer).
    pub claims_pretty: Option<String>,
    /// `exp`, unix seconds.
    pub exp: Option<i64>,
    /// The token's `cnf.jkt` (RFC 9449 §6), from its claims or introspection.
    pub cnf_jkt: Option<String>,
    /// The thumbprint of the session's DPoP key (a sender-constrained session).
    pub session_jkt: Option<String>,
    /// `cnf.jkt` equals the session key's thumbprint (`None`: nothing to compare).
    pub jkt_matches: Option<bool>,
}

fn jwt_parts(token: &str) -> Option<(Value, Value)> {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (h, p, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let dec = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
    };
    Some((dec(h)?, dec(p)?))
}

/// Checks the OpenID session's ID or access token against its provider's
/// JWKS. An opaque access token is said to be one (and, when the session is
/// DPoP-bound, its `cnf.jkt` read from the provider's introspection).
pub async fn inspect_openid(host: &impl Host, which: ProviderToken) -> Result<ProviderCheck> {
    let session = host.session().await?;
    let m = &session.manager;
    let provider = m.provider().as_openid().cloned().ok_or(Error::Invalid(
        "Checking against a provider's JWKS is for OpenID profiles; pick a key below instead.",
    ))?;
    let token = match which {
        ProviderToken::Access => m.access_token().await?,
        ProviderToken::Id => provider.id_token().ok_or(Error::NotSignedIn(
            "This session has no ID token (sign in again to get one).",
        ))?,
    };
    check_provider_token(&provider, which, &token).await
}

/// Checks `token`, taken as the session's ID or access token (`which`),
/// against `provider`'s JWKS: what [`inspect_openid`] does with the
/// session's own token. A JWT access token (RFC 9068) is verified (signature,
/// `iss`, `aud`, `exp`) and its `cnf.jkt` read from its claims; an opaque one
/// is said to be one.
pub async fn check_provider_token(
    provider: &warden_client::oidc::OpenIdProvider,
    which: ProviderToken,
    token: &str,
) -> Result<ProviderCheck> {
    let client = provider.client().await?;
    let session_jkt = provider
        .session_dpop_key()
        .map(|k| k.thumbprint().to_string());
    let mut check = ProviderCheck {
        token: which,
        issuer: client.issuer().to_string(),
        jwt: false,
        verified: false,
        reason: String::new(),
        alg: None,
        kid: None,
        header_pretty: None,
        claims_pretty: None,
        exp: None,
        cnf_jkt: None,
        session_jkt: session_jkt.clone(),
        jkt_matches: None,
    };
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let jkt_of = |claims: &Value| {
        claims
            .pointer("/cnf/jkt")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let Some((header, claims)) = jwt_parts(token) else {
        check.reason = "opaque: not a JWT, so there is no signature to verify here; only the \
                        provider can say what it means (introspection)."
            .into();
        if session_jkt.is_some()
            && let Ok(answer) = client.introspect(token).await
        {
            check.cnf_jkt = jkt_of(&answer);
            check.exp = answer.get("exp").and_then(Value::as_i64);
            check.claims_pretty = Some(pretty(&answer));
        }
        check.jkt_matches = match (&check.cnf_jkt, &session_jkt) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        return Ok(check);
    };
    check.jwt = true;
    check.alg = header
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_string);
    check.kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    check.header_pretty = Some(pretty(&header));
    check.claims_pretty = Some(pretty(&claims));
    check.exp = claims.get("exp").and_then(Value::as_i64);
    check.cnf_jkt = jkt_of(&claims);
    check.jkt_matches = match (&check.cnf_jkt, &session_jkt) {
        (Some(a), Some(b)) => Some(a == b),
        (Some(_), None) => Some(false),
        _ => None,
    };
    let verdict = match which {
        ProviderToken::Id => client
            .validate_id_token(token, None)
            .await
            .map(|_| format!("aud {}", client.config().client_id)),
        // RFC 9068: the audience is the resource server's, which a client
        // cannot know in general; it must be there.
        ProviderToken::Access => {
            client
                .verify_jwt(token, None)
                .await
                .and_then(|c| match c.get("aud") {
                    Some(aud) if !aud.is_null() => Ok(format!("aud {aud}")),
                    _ => Err(warden_client::ClientError::OpenId(
                        "the access token has no aud (RFC 9068 requires one)".into(),
                    )),
                })
        }
    };
    match verdict {
        Ok(aud) => {
            check.verified = true;
            check.reason = format!(
                "verified against {}'s JWKS: signature ({} key {}), iss, {aud}, exp",
                check.issuer,
                check.alg.as_deref().unwrap_or("?"),
                check.kid.as_deref().unwrap_or("(no kid)"),
            );
        }
        Err(e) => check.reason = format!("not verified: {e}"),
    }
    Ok(check)
}

/// What the session's server accepts: the embedded server's settings, or
/// what a remote Warden's capabilities document says (nothing, for a plain
/// SimpleJWT server).
async fn expectations(host: &impl Host, session: &Session) -> Expectations {
    if session.embedded {
        return match host.embedded_service().await {
            Some(service) => Expectations::from_settings(service.settings()),
            None => Expectations::default(),
        };
    }
    let mut expect = Expectations::default();
    if let Ok(Some(caps)) = session.manager.client().capabilities().await {
        expect.access_lifetime = i64::try_from(caps.access_token_lifetime).ok();
        expect.refresh_lifetime = i64::try_from(caps.refresh_token_lifetime).ok();
    }
    expect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_read_the_windows_json_and_never_show_a_secret() {
        let json = |v| serde_json::from_value::<TokenInput>(v).unwrap();
        assert_eq!(
            json(serde_json::json!({"kind": "access"})),
            TokenInput::Access
        );
        assert_eq!(
            json(serde_json::json!({"kind": "refresh"})),
            TokenInput::Refresh
        );
        let pasted = json(serde_json::json!({"kind": "pasted", "value": "eyJ.secret.sig"}));
        assert_eq!(pasted, TokenInput::Pasted("eyJ.secret.sig".into()));
        assert!(!format!("{pasted:?}").contains("secret"));
        assert!(serde_json::from_value::<TokenInput>(serde_json::json!({"kind": "id"})).is_err());

        let verify: VerifyInput =
            serde_json::from_value(serde_json::json!({"kind": "secret", "value": "hunter2-key"}))
                .unwrap();
        assert!(!format!("{verify:?}").contains("hunter2"));
        let server: VerifyInput =
            serde_json::from_value(serde_json::json!({"kind": "server"})).unwrap();
        assert_eq!(server, VerifyInput::Server);
    }
}
