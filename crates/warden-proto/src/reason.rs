//! Why a token was refused or a session ended, as the wire says it.
//!
//! Warden's 401 bodies carry a `reason` (SimpleJWT clients ignore it), and a
//! session's `revoked_reason` is one of [`RevocationReason`]. One definition,
//! for the server that writes them and the clients that read them; a reason
//! another server sends that this build does not know is kept as
//! [`Reason::Unknown`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a session (or a single token) was revoked. Stored as its `as_str` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// `api/logout/`: the user ended this session.
    Logout,
    /// `api/logout-all/`: the user ended every session.
    LogoutAll,
    /// `api/token/blacklist/`: SimpleJWT's blacklist route.
    Blacklisted,
    /// A rotated-away refresh token was presented again.
    ReuseDetected,
    /// The user's password changed.
    PasswordChanged,
    /// The account was deactivated.
    Deactivated,
    /// The account was locked: by staff, or by failed logins when
    /// `LOCKOUT_REVOKES_SESSIONS` is on.
    LockedOut,
    /// A staff member revoked it.
    StaffRevoked,
    /// RFC 7009 revocation.
    Revoked,
    /// The account was deleted.
    UserDeleted,
}

impl RevocationReason {
    /// Every reason.
    pub const ALL: [RevocationReason; 10] = [
        RevocationReason::Logout,
        RevocationReason::LogoutAll,
        RevocationReason::Blacklisted,
        RevocationReason::ReuseDetected,
        RevocationReason::PasswordChanged,
        RevocationReason::Deactivated,
        RevocationReason::LockedOut,
        RevocationReason::StaffRevoked,
        RevocationReason::Revoked,
        RevocationReason::UserDeleted,
    ];

    /// The wire and storage name: `logout_all`, `reuse_detected`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Logout => "logout",
            RevocationReason::LogoutAll => "logout_all",
            RevocationReason::Blacklisted => "blacklisted",
            RevocationReason::ReuseDetected => "reuse_detected",
            RevocationReason::PasswordChanged => "password_changed",
            RevocationReason::Deactivated => "deactivated",
            RevocationReason::LockedOut => "locked_out",
            RevocationReason::StaffRevoked => "staff_revoked",
            RevocationReason::Revoked => "revoked",
            RevocationReason::UserDeleted => "user_deleted",
        }
    }

    /// The reason named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Why Warden refused a token: the `reason` of its `token_not_valid` bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// On the wire it is its name, and another server may send any name.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub enum Reason {
    /// Over the server's size limit.
    TooLarge,
    /// Not three base64url parts separated by dots.
    Malformed,
    /// The header does not decode.
    BadHeader,
    /// The header has a `crit` parameter.
    CriticalHeader,
    /// The header's `alg` is not one the server accepts.
    AlgorithmNotAllowed,
    /// The header has no `kid`.
    MissingKid,
    /// No key has the token's `kid`.
    UnknownKid,
    /// The `alg` is not the one the `kid`'s key is pinned to.
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The payload does not decode as claims.
    BadPayload,
    /// A required claim is absent.
    MissingClaim,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `iss` is not the server's.
    WrongIssuer,
    /// `aud` is not the server's.
    WrongAudience,
    /// No `token_type` claim.
    NoType,
    /// An access token where a refresh token was expected, or the like.
    WrongType,
    /// No `jti` claim.
    NoId,
    /// A `jti` or `sid` that is not one the server issues.
    BadId,
    /// A refresh token that was rotated away (blacklisted after rotation).
    Rotated,
    /// Not a token this server issued and still holds.
    NotOutstanding,
    /// The token's session ended, for this cause.
    Ended(RevocationReason),
    /// A reason this build does not know (another server's), as it was sent.
    Unknown(String),
}

/// The reasons that are not [`Reason::Ended`] or [`Reason::Unknown`], with their names.
const NAMED: [(Reason, &str); 22] = [
    (Reason::TooLarge, "too_large"),
    (Reason::Malformed, "malformed"),
    (Reason::BadHeader, "bad_header"),
    (Reason::CriticalHeader, "critical_header"),
    (Reason::AlgorithmNotAllowed, "algorithm_not_allowed"),
    (Reason::MissingKid, "missing_kid"),
    (Reason::UnknownKid, "unknown_kid"),
    (Reason::AlgorithmMismatch, "algorithm_mismatch"),
    (Reason::BadSignature, "bad_signature"),
    (Reason::BadPayload, "bad_payload"),
    (Reason::MissingClaim, "missing_claim"),
    (Reason::Expired, "expired"),
    (Reason::NotYetValid, "not_yet_valid"),
    (Reason::IssuedInFuture, "issued_in_future"),
    (Reason::WrongIssuer, "wrong_issuer"),
    (Reason::WrongAudience, "wrong_audience"),
    (Reason::NoType, "no_type"),
    (Reason::WrongType, "wrong_type"),
    (Reason::NoId, "no_id"),
    (Reason::BadId, "bad_id"),
    (Reason::Rotated, "rotated"),
    (Reason::NotOutstanding, "not_outstanding"),
];

impl Reason {
    /// The wire name: `expired`, `reuse_detected`, ...
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Ended(r) => r.as_str(),
            Reason::Unknown(s) => s,
            named => NAMED
                .iter()
                .find(|(r, _)| r == named)
                .map_or("unknown", |(_, name)| name),
        }
    }

    /// Any text: a name this build does not know is [`Reason::Unknown`].
    pub fn parse(s: &str) -> Reason {
        if let Some((r, _)) = NAMED.iter().find(|(_, name)| *name == s) {
            return r.clone();
        }
        match RevocationReason::parse(s) {
            Some(r) => Reason::Ended(r),
            None => Reason::Unknown(s.to_string()),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Reason::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_reason_round_trips_through_its_name() {
        let mut all: Vec<Reason> = NAMED.iter().map(|(r, _)| r.clone()).collect();
        all.extend(RevocationReason::ALL.into_iter().map(Reason::Ended));
        for r in all {
            assert_eq!(Reason::parse(r.as_str()), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), r);
        }
        assert_eq!(
            Reason::parse("reuse_detected"),
            Reason::Ended(RevocationReason::ReuseDetected)
        );
        // Another server's reason is kept, not lost.
        let other = Reason::parse("session_expired_upstream");
        assert_eq!(other, Reason::Unknown("session_expired_upstream".into()));
        assert_eq!(other.to_string(), "session_expired_upstream");
    }
}
