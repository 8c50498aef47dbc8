//! Warden's wire types.
//!
//! Everything that crosses HTTP between a Warden server, a SimpleJWT server and
//! Warden's clients is defined here, once, with serde: the server writes these
//! types and reads its requests into them, the client sends and reads the same
//! ones. The shapes follow `djangorestframework-simplejwt` 5.5 (see `WIRE.md`);
//! Warden's own additions live beside them and never change a SimpleJWT shape.
//!
//! Reading is lenient where another SimpleJWT server may send less than
//! Warden (`#[serde(default)]`, `Option`); writing is exactly what Warden's
//! server sends. With the `openapi` feature every body also derives
//! `utoipa::ToSchema`: the server's OpenAPI document (`api/schema/`) is made
//! from these types, so their doc comments are its descriptions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod errors;
mod meta;
mod reason;
mod staff;
mod tokens;

pub use account::{
    ChangePasswordRequest, Me, RegisterRequest, Registered, RevokedCount, RevokedFlag, SessionInfo,
    WhoAmI,
};
pub use errors::{
    ErrorBody, FieldErrors, LockedOutBody, NonFieldErrors, OAuthError, ServerErrorBody,
    TokenMessage,
};
pub use meta::{Capabilities, Hello};
pub use reason::{Reason, RevocationReason};
pub use staff::{
    AuditRecord, Lineage, LineageToken, LockRequest, ReasonRequest, SetPasswordRequest,
    SetStaffRequest, SignInThrottle, StaffUser, StaffUserDetail,
};
pub use tokens::{
    Claims, Empty, Introspection, ObtainRequest, RefreshRequest, RefreshResponse, RevokeRequest,
    SlidingToken, TokenPair, TokenRequest, TokenType,
};
