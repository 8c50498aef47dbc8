//! Warden's auth engine.
//!
//! Everything SimpleJWT's `token` and `token_blacklist` apps do, and what they
//! leave open, with no HTTP and no GUI: settings under SimpleJWT's names, keys
//! pinned to one algorithm each with `kid` and JWKS, minting and fixed-order
//! validation, sessions (token families) with race-free rotation and reuse
//! detection, an in-memory revocation set, lockout, and an audit trail, all
//! over a [`Store`] and an injected [`Clock`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Namespaces callers name: the records a `Store` reads and writes (`model`),
// and the engine's parts the stores, the server and the tools call by
// function (`rotation::decide`, `tokens::validate`, `feed::encode_items`,
// `lockout`'s keys, `wire::lineage`, `inspect::inspect`).
pub mod feed;
pub mod inspect;
pub mod lockout;
pub mod model;
pub mod rotation;
pub mod tokens;
pub mod wire;

mod clock;
mod error;
mod ids;
mod keys;
mod passwords;
mod revocation;
mod service;
mod settings;
mod store;
mod usercache;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{AuthError, KeyError, Result, TokenError};
pub use ids::{InvalidId, Jti, SessionId, UserId};
pub use keys::{KeyMaterial, KeyRing, SigningKey, generate_identifier_secret};
pub use passwords::PasswordHasher;
pub use revocation::RevocationSet;
pub use service::{
    Actor, AuthContext, AuthService, Introspection, IssuedPair, IssuedToken, LoginRequest,
    NewAccount, RefreshKind, Refreshed, RevocationSummary, StaffProof,
};
pub use settings::{Algorithm, LoginField, Secs, Settings, SettingsError, UserIdField};
pub use store::{Conflict, Store, StoreError, StoreResult};
pub use usercache::UserCache;
