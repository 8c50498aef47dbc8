//! Reading a JWT's payload without verifying it, and keeping tokens out of logs.
//!
//! A client cannot verify the signature of a remote SimpleJWT server's tokens
//! (HS256 with the server's secret), and does not need to: it only reads the
//! times and ids the server put there, to plan rotation and to show them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{ClientError, Result};

/// Longest token the client will try to decode (Warden's own limit is 8 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The claims a client cares about, read unverified from a token's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenClaims {
    /// `access`, `refresh` or `sliding` (SimpleJWT's `token_type` claim).
    pub token_type: Option<String>,
    /// Expiry (Unix seconds, server time).
    pub exp: Option<i64>,
    /// Issued at (Unix seconds, server time).
    pub iat: Option<i64>,
    /// The token's id: what tells tokens apart in logs and the timeline.
    pub jti: Option<String>,
    /// SimpleJWT sends it as a string; a number is read as its decimal text.
    pub user_id: Option<String>,
    /// Warden's session (token family) id.
    pub sid: Option<String>,
    /// Sliding tokens only.
    pub refresh_exp: Option<i64>,
}

impl TokenClaims {
    /// Seconds from `iat` to `exp`, when both are present and in order.
    pub fn lifetime(&self) -> Option<i64> {
        match (self.iat, self.exp) {
            (Some(iat), Some(exp)) if exp > iat => Some(exp - iat),
            _ => None,
        }
    }
}

fn malformed(why: &str) -> ClientError {
    ClientError::MalformedToken(why.to_string())
}

/// Decodes a token's payload (the middle part) without checking its signature.
pub fn decode_claims(token: &str) -> Result<TokenClaims> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(payload))
        .map_err(|_| malformed("payload is not base64url"))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| malformed("payload is not JSON"))?;
    let Value::Object(map) = value else {
        return Err(malformed("payload is not a JSON object"));
    };
    Ok(TokenClaims {
        token_type: text(&map, "token_type"),
        exp: time(&map, "exp"),
        iat: time(&map, "iat"),
        jti: text(&map, "jti"),
        user_id: text(&map, "user_id"),
        sid: text(&map, "sid"),
        refresh_exp: time(&map, "refresh_exp"),
    })
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A NumericDate: an integer, or a float truncated to whole seconds.
fn time(map: &Map<String, Value>, key: &str) -> Option<i64> {
    let n = map.get(key)?.as_number()?;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.trunc() as i64)
    })
}

/// How a token is shown where a UI must tell tokens apart: its first six
/// characters and an ellipsis, never more (so never the signature). Short
/// strings, which may not be JWTs at all, show nothing but the ellipsis.
pub fn redact(token: &str) -> String {
    if token.len() < 24 {
        return "…".to_string();
    }
    let prefix: String = token.chars().take(6).collect();
    format!("{prefix}…")
}

/// A credential held in memory: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`; from here on only [`Secret::expose`] shows it.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", redact(&self.0))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_with(payload: &str) -> String {
        format!(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn decodes_simplejwt_access_claims() {
        let t = token_with(
            r#"{"token_type":"access","exp":1800000300,"iat":1800000000,"jti":"4f1c2a","user_id":"1"}"#,
        );
        let c = decode_claims(&t).unwrap();
        assert_eq!(c.token_type.as_deref(), Some("access"));
        assert_eq!(c.exp, Some(1_800_000_300));
        assert_eq!(c.iat, Some(1_800_000_000));
        assert_eq!(c.jti.as_deref(), Some("4f1c2a"));
        assert_eq!(c.user_id.as_deref(), Some("1"));
        assert_eq!(c.sid, None);
        assert_eq!(c.lifetime(), Some(300));
    }

    #[test]
    fn decodes_warden_claims_numeric_user_id_and_float_times() {
        let t = token_with(
            r#"{"token_type":"refresh","exp":1800086400.9,"iat":1800000000,"jti":"j","user_id":7,"sid":"0123456789abcdef0123456789abcdef","refresh_exp":5}"#,
        );
        let c = decode_claims(&t).unwrap();
        assert_eq!(c.user_id.as_deref(), Some("7"));
        assert_eq!(c.exp, Some(1_800_086_400));
        assert_eq!(c.sid.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(c.refresh_exp, Some(5));
    }

    #[test]
    fn accepts_padded_payloads() {
        let payload = URL_SAFE.encode(r#"{"exp":10,"iat":1}"#);
        let t = format!("a.{payload}.b");
        assert_eq!(decode_claims(&t).unwrap().exp, Some(10));
    }

    #[test]
    fn missing_claims_are_none() {
        let c = decode_claims(&token_with("{}")).unwrap();
        assert_eq!(c.exp, None);
        assert_eq!(c.lifetime(), None);
        let c = decode_claims(&token_with(r#"{"exp":"soon","iat":[]}"#)).unwrap();
        assert_eq!((c.exp, c.iat), (None, None));
    }

    #[test]
    fn rejects_malformed_tokens() {
        for bad in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &token_with("not json"),
            &token_with("[1,2]"),
        ] {
            assert!(
                matches!(decode_claims(bad), Err(ClientError::MalformedToken(_))),
                "{bad}"
            );
        }
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(decode_claims(&huge).is_err());
    }

    #[test]
    fn redaction_never_shows_more_than_six_characters() {
        let t = token_with(r#"{"exp":1}"#);
        assert_eq!(redact(&t), "eyJhbG…");
        assert!(!redact(&t).contains("c2lnbmF0dXJl"));
        assert_eq!(redact("short-secret"), "…");
        assert_eq!(redact(""), "…");
        let s = Secret::new(t.clone());
        assert_eq!(format!("{s:?}"), "Secret(eyJhbG…)");
        assert_eq!(format!("{s}"), "eyJhbG…");
        assert_eq!(s.expose(), t);
    }
}
