//! The token inspector: the current access or refresh token, or a pasted
//! one, decoded, its signature checked with what the user picks, and
//! warnings. The same inspector as `warden decode` ([`warden_auth::inspect`]).

use std::fmt;

use serde::Deserialize;
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
