//! Where a server is and how to talk to it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every route the client calls, relative to the base URL. The defaults are
/// SimpleJWT's (`urls.py` in its docs) and Warden's; a server mounted
/// elsewhere only needs the paths that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Paths {
    /// Obtain a pair with username and password (SimpleJWT's `TokenObtainPairView`).
    pub token: String,
    /// Trade a refresh token for a new access token (and, rotating, a new refresh).
    pub token_refresh: String,
    /// Ask whether a token is valid.
    pub token_verify: String,
    /// Blacklist a refresh token (SimpleJWT's logout).
    pub token_blacklist: String,
    /// Obtain a sliding token.
    pub token_sliding: String,
    /// Refresh a sliding token.
    pub token_sliding_refresh: String,
    /// End this session (Warden).
    pub logout: String,
    /// End every session of the user (Warden).
    pub logout_all: String,
    /// `GET` lists; `{sessions}{id}/` is one session.
    pub sessions: String,
    /// Change one's own password (Warden).
    pub password_change: String,
    /// Who the access token belongs to (Warden).
    pub me: String,
    /// Create an account (Warden, when the server allows it).
    pub register: String,
    /// Prefix of the staff routes (`users/`, `sessions/`, `audit/` below it).
    pub staff: String,
    /// Revoke a token by value (RFC 7009, Warden).
    pub token_revoke: String,
    /// What a token is and whether it is active (RFC 7662, Warden).
    pub token_introspect: String,
    /// The public keys of an asymmetric signer.
    pub jwks: String,
    /// Warden's capabilities document; a plain SimpleJWT server has none.
    pub capabilities: String,
    /// Warden's `{"hello": "world"}`: no authentication, a baseline for benchmarks.
    pub hello: String,
}

impl Default for Paths {
    fn default() -> Self {
        let s = |p: &str| p.to_string();
        Paths {
            token: s("api/token/"),
            token_refresh: s("api/token/refresh/"),
            token_verify: s("api/token/verify/"),
            token_blacklist: s("api/token/blacklist/"),
            token_sliding: s("api/token/sliding/"),
            token_sliding_refresh: s("api/token/sliding/refresh/"),
            logout: s("api/logout/"),
            logout_all: s("api/logout-all/"),
            sessions: s("api/sessions/"),
            password_change: s("api/password/change/"),
            me: s("api/me/"),
            register: s("api/register/"),
            staff: s("api/staff/"),
            token_revoke: s("api/token/revoke/"),
            token_introspect: s("api/token/introspect/"),
            jwks: s(".well-known/jwks.json"),
            capabilities: s("api/capabilities/"),
            hello: s("api/hello/"),
        }
    }
}

/// How to reach one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:8000/` or `https://example.com/auth/`.
    pub base_url: String,
    /// The routes, relative to `base_url`.
    pub paths: Paths,
    /// `Bearer` (default) or `JWT`: SimpleJWT's `AUTH_HEADER_TYPES`.
    pub auth_header_type: String,
    /// Whole-request limit, connect included.
    pub timeout: Duration,
    /// Limit on opening the connection alone.
    pub connect_timeout: Duration,
    /// Sent as `User-Agent` (`warden-client/<version>` by default).
    pub user_agent: String,
    /// Sent as `X-Warden-Device` at login: the session's name in the sessions list.
    pub device_label: Option<String>,
    /// Use the environment's HTTP(S)_PROXY; never for loopback servers.
    pub use_system_proxy: bool,
}

impl ClientConfig {
    /// SimpleJWT's defaults (paths, `Bearer`) for the server at `base_url`,
    /// 10 s per request, 5 s to connect.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            paths: Paths::default(),
            auth_header_type: "Bearer".to_string(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            user_agent: format!("warden-client/{}", env!("CARGO_PKG_VERSION")),
            device_label: None,
            use_system_proxy: true,
        }
    }
}

/// What a server may offer beyond SimpleJWT, named as in Warden's capabilities
/// document (`GET api/capabilities/` → `features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// [`Paths::logout`].
    Logout,
    /// [`Paths::logout_all`].
    LogoutAll,
    /// [`Paths::sessions`].
    Sessions,
    /// [`Paths::password_change`].
    ChangePassword,
    /// [`Paths::register`].
    Register,
    /// The routes under [`Paths::staff`].
    Staff,
    /// [`Paths::token_revoke`].
    Revoke,
    /// [`Paths::token_introspect`].
    Introspect,
    /// [`Paths::jwks`].
    Jwks,
}

impl Feature {
    /// Every feature, in the capabilities document's order.
    pub const ALL: [Feature; 9] = [
        Feature::Logout,
        Feature::LogoutAll,
        Feature::Sessions,
        Feature::ChangePassword,
        Feature::Register,
        Feature::Staff,
        Feature::Revoke,
        Feature::Introspect,
        Feature::Jwks,
    ];

    /// The name in the capabilities document's `features`.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Logout => "logout",
            Feature::LogoutAll => "logout_all",
            Feature::Sessions => "sessions",
            Feature::ChangePassword => "change_password",
            Feature::Register => "register",
            Feature::Staff => "staff",
            Feature::Revoke => "revoke",
            Feature::Introspect => "introspect",
            Feature::Jwks => "jwks",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_are_simplejwts() {
        let p = Paths::default();
        assert_eq!(p.token, "api/token/");
        assert_eq!(p.token_refresh, "api/token/refresh/");
        assert_eq!(p.token_verify, "api/token/verify/");
        assert_eq!(p.token_blacklist, "api/token/blacklist/");
        assert_eq!(p.logout_all, "api/logout-all/");
    }

    #[test]
    fn paths_override_only_what_differs() {
        let p: Paths = serde_json::from_str(r#"{"token":"auth/jwt/create/"}"#).unwrap();
        assert_eq!(p.token, "auth/jwt/create/");
        assert_eq!(p.token_refresh, "api/token/refresh/");
    }

    #[test]
    fn feature_names_match_the_capabilities_document() {
        for f in Feature::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
        }
    }
}
