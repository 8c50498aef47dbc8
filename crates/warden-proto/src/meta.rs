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
    pub server: String,
    pub version: String,
    pub features: Vec<String>,
    pub rotate_refresh_tokens: bool,
    pub blacklist_after_rotation: bool,
    /// Seconds.
    pub access_token_lifetime: u64,
    /// Seconds.
    pub refresh_token_lifetime: u64,
    pub auth_header_types: Vec<String>,
}

/// `api/hello/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    pub hello: String,
}
