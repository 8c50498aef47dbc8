//! Warden's client for any SimpleJWT-compatible server.
//!
//! - [`Client`]: every route of SimpleJWT and Warden, typed, with SimpleJWT's
//!   error bodies read into [`ClientError`]; Warden-only features answer
//!   [`ClientError::Unavailable`] on a plain SimpleJWT server.
//! - [`SessionManager`]: login and restore, single-flight rotation before
//!   expiry, back-off while offline, clock-jump detection, a clear terminal
//!   state, and an [`Event`] stream for the desktop app.
//! - [`Vault`]: where the refresh token lives between runs, [`KeyringVault`]
//!   (the OS keyring) or [`MemoryVault`].
//!
//! No token or password is ever logged or put in an event; the few places
//! that must identify a token show its id or its first six characters.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod config;
mod error;
mod exchange;
mod explain;
pub mod export;
#[cfg(test)]
mod fake;
mod jwks;
mod jwt;
pub mod oidc;
mod provider;
mod scheduler;
mod search;
mod session;
mod state;
mod vault;

pub use client::{Answer, Client, Credentials};
pub use config::{ClientConfig, Feature, Paths};
pub use error::{ClientError, FieldErrors, NetworkKind, Result};
pub use exchange::{Exchange, ExchangeRecord, Secrets, TIMELINE_CAPACITY};
pub use explain::{Explanation, LocalContext, TokenTimes, explain};
pub use jwks::{JWKS_MAX_BYTES, JwksError, fetch_jwks};
pub use jwt::{Secret, TokenClaims, decode_claims, redact};
pub use provider::{BoxFuture, Issued, TokenProvider};
pub use reqwest::Method;
pub use scheduler::{
    backoff_delay, jitter, plan_rotation, set_simulated_clock_skew, simulated_clock_skew, wall_now,
};
pub use search::{AuditSearch, UserSearch};
pub use session::{EndedSession, ManagerConfig, SessionManager};
pub use state::{Event, Phase, SessionState, SignOutReason, TokenInfo, VaultInfo};
pub use vault::{AsyncVault, KeyringVault, MemoryVault, Vault, VaultError, VaultStatus};
pub use warden_proto::{
    AuditRecord, Capabilities, Introspection, Lineage, LineageToken, Me, RefreshResponse,
    Registered, SessionInfo, SignInThrottle, StaffUser, StaffUserDetail, TokenPair,
};
