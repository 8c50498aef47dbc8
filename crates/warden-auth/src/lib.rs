//! Warden's auth engine.
//!
//! Everything SimpleJWT's `token` and `token_blacklist` apps do, and what they
//! leave open, with no HTTP and no GUI: settings under SimpleJWT's names, keys
//! pinned to one algorithm each with `kid` and JWKS, minting and fixed-order
//! validation, sessions (token families) with race-free rotation and reuse
//! detection, an in-memory revocation set, lockout, and an audit trail, all
//! over a [`Store`] and an injected [`Clock`].
#![forbid(unsafe_code)]

pub mod clock;
pub mod error;
pub mod feed;
pub mod ids;
pub mod inspect;
pub mod keys;
pub mod lockout;
pub mod model;
pub mod passwords;
pub mod revocation;
pub mod rotation;
pub mod service;
pub mod settings;
pub mod store;
pub mod tokens;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{AuthError, KeyError, Result, TokenError};
pub use ids::{Jti, SessionId, UserId};
pub use keys::KeyRing;
pub use revocation::RevocationSet;
pub use service::AuthService;
pub use settings::{Algorithm, Settings};
pub use store::{Conflict, Store, StoreError, StoreResult};
