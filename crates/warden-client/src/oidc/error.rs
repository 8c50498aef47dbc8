//! OAuth 2.0 error answers (RFC 6749 §5.2, RFC 8628 §3.5, RFC 9449 §7.1,
//! OpenID Connect Core §3.1.2.6), typed, with the "Why?" text for each.

use std::fmt;

use serde::Serialize;

use crate::explain::Explanation;

/// The `error` code of an OAuth answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// The grant (code, refresh token, device code) is invalid, expired,
    /// revoked, already used, or was issued to another client.
    InvalidGrant,
    /// The client is unknown, or its authentication failed.
    InvalidClient,
    /// The DPoP proof was refused.
    InvalidDpopProof,
    /// The provider wants a DPoP proof carrying its nonce.
    UseDpopNonce,
    /// The user must sign in again at the provider.
    LoginRequired,
    /// Device grant: poll more slowly.
    SlowDown,
    /// Device grant: the user has not finished yet.
    AuthorizationPending,
    /// The user (or the provider) refused.
    AccessDenied,
    /// Device grant: the device code expired.
    ExpiredToken,
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// A requested scope is unknown or not allowed.
    InvalidScope,
    /// The client may not use this grant.
    UnauthorizedClient,
    /// The provider does not support this grant.
    UnsupportedGrantType,
    /// A resource server refused the access token (RFC 6750).
    InvalidToken,
    /// Anything else, as sent.
    Other(String),
}

impl OAuthErrorCode {
    /// Reads the `error` field.
    pub fn parse(code: &str) -> OAuthErrorCode {
        match code {
            "invalid_grant" => OAuthErrorCode::InvalidGrant,
            "invalid_client" => OAuthErrorCode::InvalidClient,
            "invalid_dpop_proof" => OAuthErrorCode::InvalidDpopProof,
            "use_dpop_nonce" => OAuthErrorCode::UseDpopNonce,
            "login_required" => OAuthErrorCode::LoginRequired,
            "slow_down" => OAuthErrorCode::SlowDown,
            "authorization_pending" => OAuthErrorCode::AuthorizationPending,
            "access_denied" => OAuthErrorCode::AccessDenied,
            "expired_token" => OAuthErrorCode::ExpiredToken,
            "invalid_request" => OAuthErrorCode::InvalidRequest,
            "invalid_scope" => OAuthErrorCode::InvalidScope,
            "unauthorized_client" => OAuthErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => OAuthErrorCode::UnsupportedGrantType,
            "invalid_token" => OAuthErrorCode::InvalidToken,
            other => OAuthErrorCode::Other(other.to_string()),
        }
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            OAuthErrorCode::UseDpopNonce => "use_dpop_nonce",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::SlowDown => "slow_down",
            OAuthErrorCode::AuthorizationPending => "authorization_pending",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::ExpiredToken => "expired_token",
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidToken => "invalid_token",
            OAuthErrorCode::Other(s) => s,
        }
    }

    /// A refresh refused with this code ends the session: asking again with
    /// the same refresh token cannot succeed.
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            OAuthErrorCode::InvalidGrant
                | OAuthErrorCode::InvalidClient
                | OAuthErrorCode::LoginRequired
                | OAuthErrorCode::AccessDenied
                | OAuthErrorCode::UnauthorizedClient
                | OAuthErrorCode::UnsupportedGrantType
                | OAuthErrorCode::InvalidScope
                | OAuthErrorCode::InvalidToken
                | OAuthErrorCode::InvalidDpopProof
        )
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error answer: the code, the provider's description, the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// The `error_description`, when sent.
    pub description: Option<String>,
    /// The HTTP status it came with.
    pub status: u16,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{} ({d})", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

fn ex(code: &str, cause: String, fix: &str) -> Explanation {
    Explanation {
        code: code.to_string(),
        cause,
        fix: fix.to_string(),
    }
}

/// "Why?" for an OAuth error answer: the cause in plain words and the fix.
pub fn explain_oauth(e: &OAuthError) -> Explanation {
    let said = e
        .description
        .as_deref()
        .map(|d| format!(" The provider said: \"{d}\"."))
        .unwrap_or_default();
    let code = e.code.as_str();
    match &e.code {
        OAuthErrorCode::InvalidGrant => ex(
            code,
            format!(
                "The provider refused the refresh token or code (invalid_grant): it was already \
                 used (a rotated-away refresh token replayed, which makes a rotating provider \
                 revoke the whole grant), revoked (a logout), expired, or issued to another \
                 client.{said}"
            ),
            "Sign in again. If this happens right after a rotation, another copy of the \
             session (a second app, a restored backup) used the token first: keep one copy.",
        ),
        OAuthErrorCode::InvalidClient => ex(
            code,
            format!(
                "The provider does not know this client or refused its authentication \
                 (invalid_client).{said}"
            ),
            "Check the client id, the client secret in the keyring and the authentication \
             method the client is registered with: Warden sends a secret with \
             client_secret_basic when the provider offers it; a client registered for \
             client_secret_post only needs that method picked (`warden login --oidc … \
             --client-auth post`, or \"Client authentication: in the form\" when adding the \
             provider).",
        ),
        OAuthErrorCode::InvalidDpopProof => ex(
            code,
            format!(
                "The provider refused the DPoP proof (invalid_dpop_proof): wrong key for a \
                 DPoP-bound token, a clock far off (iat), or a wrong method or URL.{said}"
            ),
            "Check this computer's clock; if the session's DPoP key was lost, sign in again \
             (a new key is made at sign-in).",
        ),
        OAuthErrorCode::UseDpopNonce => ex(
            code,
            format!(
                "The provider wants DPoP proofs to carry its nonce (use_dpop_nonce); Warden \
                 retries once with the nonce it sent.{said}"
            ),
            "Nothing, when the retry succeeded. If it keeps failing the provider rotates \
             nonces faster than requests arrive: check the clock and the network.",
        ),
        OAuthErrorCode::LoginRequired => ex(
            code,
            format!(
                "The provider needs the user to sign in again (login_required): its session \
                 ended or a policy demands it.{said}"
            ),
            "Sign in again in the browser.",
        ),
        OAuthErrorCode::SlowDown => ex(
            code,
            format!("The provider asked the device to poll more slowly (slow_down).{said}"),
            "Nothing: Warden adds 5 seconds to its polling interval, as RFC 8628 says.",
        ),
        OAuthErrorCode::AuthorizationPending => ex(
            code,
            format!("The user has not finished at the verification page yet.{said}"),
            "Open the verification address, enter the code and approve.",
        ),
        OAuthErrorCode::AccessDenied => ex(
            code,
            format!("The user or the provider refused the request (access_denied).{said}"),
            "Sign in again and approve the consent page.",
        ),
        OAuthErrorCode::ExpiredToken => ex(
            code,
            format!("The device code expired before the user approved it.{said}"),
            "Start the device sign-in again.",
        ),
        OAuthErrorCode::InvalidToken => ex(
            code,
            format!("The resource refused the access token (invalid_token).{said}"),
            "Warden rotates and retries once; if that fails too, sign in again.",
        ),
        _ => ex(
            code,
            format!("The provider refused the request ({code}).{said}"),
            "Check the provider's configuration for this client (grants, scopes, redirect URIs).",
        ),
    }
}
