//! What the session manager tells the app: its state and its events.
//! Everything here is serialisable for the window and holds no token.

use std::fmt;

use serde::Serialize;
use warden_proto::{Capabilities, Reason, RevocationReason};

use crate::error::ClientError;
use crate::exchange::Exchange;
use crate::vault::VaultStatus;

/// Why a session ended. Terminal: only a new login (or a restore of another
/// stored session) leaves [`Phase::SignedOut`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignOutReason {
    /// This app logged out (logout, logout everywhere, revoking its own session).
    LoggedOut,
    /// The session was ended elsewhere; `cause` is the server's reason when it
    /// gave one (`logout`, `logout_all`, `staff_revoked`, `revoked`, `locked_out`, ...).
    Revoked {
        /// The server's reason, when it gave one.
        cause: Option<String>,
    },
    /// A rotated-away refresh token of this session was used again (theft, or
    /// a lost response); the server revoked the whole session.
    ReuseDetected,
    /// The account was deactivated.
    UserInactive,
    /// The account was deleted.
    UserNotFound,
    /// The refresh token expired (or the session reached its absolute cap).
    RefreshExpired,
    /// The password was changed (here or elsewhere), which ends every session.
    PasswordChanged,
    /// An OpenID provider refused the refresh token with an OAuth error that
    /// ends the session (`invalid_grant` after a replay or a revocation,
    /// `invalid_client`, `login_required`, ...).
    Provider {
        /// The OAuth `error` code.
        error: String,
        /// The provider's `error_description`, when it sent one.
        description: Option<String>,
    },
    /// The server refused the refresh token for another reason (e.g. its
    /// signing key changed); `message` is the server's.
    Rejected {
        /// The server's message.
        message: String,
    },
}

impl fmt::Display for SignOutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignOutReason::LoggedOut => f.write_str("logged out"),
            SignOutReason::Revoked { cause: Some(c) } => write!(f, "session ended elsewhere ({c})"),
            SignOutReason::Revoked { cause: None } => f.write_str("session ended elsewhere"),
            SignOutReason::ReuseDetected => {
                f.write_str("a replayed refresh token was detected; the session was revoked")
            }
            SignOutReason::UserInactive => f.write_str("the account was deactivated"),
            SignOutReason::UserNotFound => f.write_str("the account no longer exists"),
            SignOutReason::RefreshExpired => f.write_str("the session expired"),
            SignOutReason::PasswordChanged => f.write_str("the password was changed"),
            SignOutReason::Rejected { message } => write!(f, "refused by the server ({message})"),
            SignOutReason::Provider {
                error,
                description: Some(d),
            } => write!(f, "the provider ended the session ({error}: {d})"),
            SignOutReason::Provider {
                error,
                description: None,
            } => write!(f, "the provider ended the session ({error})"),
        }
    }
}

impl SignOutReason {
    /// The terminal reason a refused refresh means; `None` for errors that
    /// refused nothing (network, 5xx, throttling, an unexpected 4xx), which are
    /// retried with back-off instead.
    pub fn from_refresh_error(e: &ClientError) -> Option<SignOutReason> {
        match e {
            ClientError::ReuseDetected => Some(SignOutReason::ReuseDetected),
            ClientError::UserInactive => Some(SignOutReason::UserInactive),
            ClientError::UserNotFound => Some(SignOutReason::UserNotFound),
            ClientError::TokenNotValid { message, reason } => {
                Some(Self::from_token_error(message, reason.as_ref()))
            }
            ClientError::NotAuthenticated { detail } => Some(SignOutReason::Rejected {
                message: detail.clone(),
            }),
            ClientError::InvalidCredentials => Some(SignOutReason::Rejected {
                message: e.to_string(),
            }),
            ClientError::SignedOut(r) => Some(r.clone()),
            ClientError::OAuth(o) if o.code.ends_session() => Some(SignOutReason::Provider {
                error: o.code.as_str().to_string(),
                description: o.description.clone(),
            }),
            _ => None,
        }
    }

    fn from_token_error(message: &str, reason: Option<&Reason>) -> SignOutReason {
        use RevocationReason as R;
        match reason {
            Some(Reason::Expired) => SignOutReason::RefreshExpired,
            Some(Reason::Ended(R::ReuseDetected)) => SignOutReason::ReuseDetected,
            Some(Reason::Ended(R::PasswordChanged)) => SignOutReason::PasswordChanged,
            Some(Reason::Ended(R::Deactivated)) => SignOutReason::UserInactive,
            Some(Reason::Ended(R::UserDeleted)) => SignOutReason::UserNotFound,
            Some(
                cause @ (Reason::Ended(
                    R::Logout
                    | R::LogoutAll
                    | R::StaffRevoked
                    | R::Revoked
                    | R::Blacklisted
                    | R::LockedOut,
                )
                | Reason::Rotated),
            ) => SignOutReason::Revoked {
                cause: Some(cause.to_string()),
            },
            Some(_) => SignOutReason::Rejected {
                message: message.to_string(),
            },
            // SimpleJWT: the message is all there is.
            None => match message {
                crate::error::TOKEN_EXPIRED => SignOutReason::RefreshExpired,
                crate::error::TOKEN_BLACKLISTED => SignOutReason::Revoked { cause: None },
                other => SignOutReason::Rejected {
                    message: other.to_string(),
                },
            },
        }
    }
}

/// Where the session is in its life.
///
/// ```text
///            login / restore ok
/// SignedOut ───────────────────────▶ Active ◀──────────┐
///    ▲  ▲          │ restore        │   ▲   rotated     │ rotated
///    │  │          ▼                ▼   │               │
///    │  │      Restoring ───────▶ Rotating ──────▶ Offline { retry_in }
///    │  │                           │   network/5xx    │  back-off 1 s → 30 s
///    │  └── refused (reason) ───────┘                  │
///    └──────── logout / refresh expired ───────────────┘
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// No session. `reason` is why the last one ended (`None`: never signed in).
    SignedOut {
        /// Why the last session ended.
        reason: Option<SignOutReason>,
    },
    /// Reading the vault and refreshing the stored token.
    Restoring,
    /// Signed in, with a usable access token or one about to be rotated.
    Active,
    /// One refresh in flight.
    Rotating,
    /// The server could not be reached (or failed); the session is kept and
    /// the refresh retried in `retry_in_ms`.
    Offline {
        /// Milliseconds until the next try.
        retry_in_ms: u64,
        /// How many tries in a row failed (1 for the first).
        attempt: u32,
        /// The last failure, as text.
        cause: String,
    },
}

/// Times and ids of one token (never the token).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TokenInfo {
    /// The token's id.
    pub jti: Option<String>,
    /// As in the token (the server's clock).
    pub iat: Option<i64>,
    /// As in the token (the server's clock).
    pub exp: Option<i64>,
    /// Local Unix seconds when it expires (server time corrected for clock skew).
    pub expires_at: Option<f64>,
    /// `eyJhbG…`: enough to tell it is there, nothing more.
    pub hint: String,
}

/// Where the refresh token is kept, for the keyring indicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VaultInfo {
    /// Whether the vault can keep secrets now.
    pub status: VaultStatus,
    /// False when the session lives in memory only (no keyring): it ends with the app.
    pub persistent: bool,
    /// The current refresh token is in the vault.
    pub stored: bool,
    /// The last failure to write or delete, if the vault is behind.
    pub warning: Option<String>,
}

/// Everything the window shows about the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionState {
    /// Where the session is in its life.
    pub phase: Phase,
    /// The base URL.
    pub server: String,
    /// The username signed in with.
    pub user: Option<String>,
    /// The tokens' `user_id` claim.
    pub user_id: Option<String>,
    /// Warden's session id (the `sid` claim), when the server sends one.
    pub session_id: Option<String>,
    /// The access token held, if any.
    pub access: Option<TokenInfo>,
    /// The refresh token held, if any.
    pub refresh: Option<TokenInfo>,
    /// Local Unix seconds of the next scheduled rotation.
    pub next_rotation_at: Option<f64>,
    /// Rotations since this session's login or restore.
    pub rotation_count: u64,
    /// Where the refresh token is kept.
    pub vault: VaultInfo,
    /// `None` for a plain SimpleJWT server (or before the first contact).
    pub capabilities: Option<Capabilities>,
}

/// What the manager reports, on a broadcast channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The state after any change.
    StateChanged(Box<SessionState>),
    /// One HTTP exchange (no tokens, no bodies).
    Exchange(Exchange),
    /// A rotation succeeded; `count` is this session's total.
    Rotated {
        /// Rotations so far.
        count: u64,
    },
    /// The vault could not be written or cleared; the session goes on in memory.
    VaultWarning {
        /// What the vault answered.
        message: String,
    },
    /// The wall clock moved `seconds` more (or less) than the time that passed
    /// (suspend and resume, or the clock was set); the rotation was re-planned.
    ClockJump {
        /// Positive after a suspend or a clock set forward.
        seconds: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tnv(message: &str, reason: Option<&str>) -> ClientError {
        ClientError::TokenNotValid {
            message: message.into(),
            reason: reason.map(Reason::parse),
        }
    }

    #[test]
    fn refused_refreshes_map_to_reasons() {
        let r = |e: ClientError| SignOutReason::from_refresh_error(&e);
        assert_eq!(
            r(ClientError::ReuseDetected),
            Some(SignOutReason::ReuseDetected)
        );
        assert_eq!(
            r(ClientError::UserInactive),
            Some(SignOutReason::UserInactive)
        );
        assert_eq!(
            r(ClientError::UserNotFound),
            Some(SignOutReason::UserNotFound)
        );
        assert_eq!(
            r(tnv("Token is expired", Some("expired"))),
            Some(SignOutReason::RefreshExpired)
        );
        assert_eq!(
            r(tnv("Token is expired", None)),
            Some(SignOutReason::RefreshExpired)
        );
        assert_eq!(
            r(tnv("Token is blacklisted", Some("password_changed"))),
            Some(SignOutReason::PasswordChanged)
        );
        assert_eq!(
            r(tnv("Token is blacklisted", Some("deactivated"))),
            Some(SignOutReason::UserInactive)
        );
        assert_eq!(
            r(tnv("Token is blacklisted", Some("user_deleted"))),
            Some(SignOutReason::UserNotFound)
        );
        for cause in [
            "logout",
            "logout_all",
            "staff_revoked",
            "revoked",
            "locked_out",
        ] {
            assert_eq!(
                r(tnv("Token is blacklisted", Some(cause))),
                Some(SignOutReason::Revoked {
                    cause: Some(cause.into())
                })
            );
        }
        assert_eq!(
            r(tnv("Token is blacklisted", None)),
            Some(SignOutReason::Revoked { cause: None })
        );
        assert_eq!(
            r(tnv("Token is invalid", Some("bad_signature"))),
            Some(SignOutReason::Rejected {
                message: "Token is invalid".into()
            })
        );
        // SimpleJWT: refresh of a deactivated user's token.
        let e = ClientError::from_response(
            reqwest::StatusCode::UNAUTHORIZED,
            &reqwest::header::HeaderMap::new(),
            br#"{"detail":"No active account found for the given token."}"#,
        );
        assert_eq!(r(e), Some(SignOutReason::UserInactive));
    }

    #[test]
    fn errors_that_refused_nothing_are_not_terminal() {
        for e in [
            ClientError::Network {
                kind: crate::error::NetworkKind::Connect,
                message: "refused".into(),
            },
            ClientError::Server {
                status: 500,
                request_id: None,
            },
            ClientError::Server {
                status: 503,
                request_id: None,
            },
            ClientError::Throttled { retry_after: None },
            ClientError::NotFound,
            ClientError::Http {
                status: 405,
                detail: None,
            },
        ] {
            assert_eq!(SignOutReason::from_refresh_error(&e), None, "{e:?}");
        }
    }

    #[test]
    fn states_serialise_for_the_window() {
        let p = Phase::Offline {
            retry_in_ms: 2000,
            attempt: 2,
            cause: "connect".into(),
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"phase":"offline","retry_in_ms":2000,"attempt":2,"cause":"connect"})
        );
        let p = Phase::SignedOut {
            reason: Some(SignOutReason::Revoked {
                cause: Some("logout_all".into()),
            }),
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"phase":"signed_out","reason":{"kind":"revoked","cause":"logout_all"}})
        );
        assert_eq!(
            serde_json::to_value(Event::Rotated { count: 3 }).unwrap(),
            serde_json::json!({"event":"rotated","count":3})
        );
        assert_eq!(
            SignOutReason::Revoked {
                cause: Some("logout_all".into())
            }
            .to_string(),
            "session ended elsewhere (logout_all)"
        );
    }
}
