//! Documents about a server: what it offers, and the benchmarks' baseline.

use serde::{Deserialize, Serialize};

/// What a server offers beyond SimpleJWT, so a client can degrade gracefully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// The description api/schema/ has always served, word for word (see SessionInfo).
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "What this server offers beyond SimpleJWT; the shape of `warden_proto::Capabilities`."
    )
)]
pub struct Capabilities {
    /// The server's configured name.
    pub server: String,
    /// The server's version.
    pub version: String,
    /// The optional routes it serves (`logout`, `sessions`, `staff`, `jwks`, ...).
    pub features: Vec<String>,
    /// SimpleJWT's `ROTATE_REFRESH_TOKENS`: a refresh also answers a new refresh token.
    pub rotate_refresh_tokens: bool,
    /// SimpleJWT's `BLACKLIST_AFTER_ROTATION`: a rotated-away refresh token is refused.
    pub blacklist_after_rotation: bool,
    /// Seconds.
    pub access_token_lifetime: u64,
    /// Seconds.
    pub refresh_token_lifetime: u64,
    /// The words accepted before the token in `Authorization` (`Bearer`).
    pub auth_header_types: Vec<String>,
}

/// `api/hello/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    /// `world`.
    pub hello: String,
}
