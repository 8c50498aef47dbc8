//! "Why was this refused?": a plain-language cause and fix for a refused
//! exchange (401, 403, a lockout) or one that got no answer, from the error
//! code and reason the server sent plus what this client knows locally (its
//! clock offset from the server, the token's times, whether it already
//! rotated that token, the session's phase).
//!
//! Works for Warden (precise `reason`s) and plain SimpleJWT (messages only).

use serde::Serialize;
use warden_proto::{Reason, RevocationReason};

use crate::error::{TOKEN_BLACKLISTED, TOKEN_EXPIRED};
use crate::exchange::Exchange;
use crate::state::{Phase, SignOutReason};

/// Clock differences under this many seconds are not worth mentioning.
const SKEW_NOTICE_SECS: i64 = 5;

/// The token that went with the request, as this client decoded it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenTimes {
    /// `access`, `refresh` or `sliding`, when known.
    pub token_type: Option<String>,
    /// Expiry (Unix seconds, server time).
    pub exp: Option<i64>,
    /// Issued at (Unix seconds, server time).
    pub iat: Option<i64>,
    /// Not before (Unix seconds, server time).
    pub nbf: Option<i64>,
}

/// What this client knows besides the exchange itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LocalContext {
    /// Server clock minus local clock in seconds (from the `Date` header), if known.
    pub clock_offset: Option<i64>,
    /// The token sent with the request, if any.
    pub token: Option<TokenTimes>,
    /// This client already exchanged that refresh token for a newer one.
    pub rotated_already: bool,
    /// The session's phase now, if there is a session manager.
    pub phase: Option<Phase>,
    /// The server's LEEWAY when known (seconds).
    pub leeway: i64,
}

/// A refusal explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Explanation {
    /// Stable cause code: `expired`, `clock_skew`, `blacklisted_after_rotation`,
    /// `reuse_detected`, `session_revoked`, `user_inactive`, `user_not_found`,
    /// `wrong_token_type`, `no_credentials`, `wrong_header_type`, `bad_header`,
    /// `bad_signature`, `malformed_token`, `not_issued_here`, `wrong_audience`,
    /// `locked_out`, `throttled`, `wrong_credentials`, `forbidden`,
    /// `unreachable`, `timeout`, `token_invalid`.
    pub code: String,
    /// What happened, in plain language.
    pub cause: String,
    /// What to do about it.
    pub fix: String,
}

fn ex(code: &str, cause: impl Into<String>, fix: impl Into<String>) -> Explanation {
    Explanation {
        code: code.to_string(),
        cause: cause.into(),
        fix: fix.into(),
    }
}

/// Explains `exchange` when it was refused (401, 403, 429) or got no answer;
/// `None` for anything else.
pub fn explain(exchange: &Exchange, local: &LocalContext) -> Option<Explanation> {
    let Some(status) = exchange.status else {
        return Some(network(exchange));
    };
    // An OpenID provider's OAuth error answer (invalid_grant, use_dpop_nonce, ...).
    if let Some(code) = exchange.error_code.as_deref()
        && matches!(status, 400 | 401)
    {
        let code = crate::oidc::OAuthErrorCode::parse(code);
        if !matches!(code, crate::oidc::OAuthErrorCode::Other(_)) {
            return Some(crate::oidc::explain_oauth(&crate::oidc::OAuthError {
                code,
                description: exchange.reason.clone(),
                status,
            }));
        }
    }
    if !matches!(status, 401 | 403 | 429) {
        return None;
    }
    let code = exchange.error_code.as_deref().unwrap_or("");
    let reason = exchange.reason.as_deref();
    let detail = exchange.record.detail.as_deref().unwrap_or("");
    Some(match code {
        "invalid_credentials" => ex(
            "wrong_credentials",
            "The server found no active account for this username and password. It says the \
             same for a wrong password, an unknown user, and a right password of an account \
             that cannot sign in now (deactivated, locked by staff, e-mail not verified), so \
             that nothing reveals which accounts exist or which password was right.",
            "Check the username and password (and the caps lock). If they are right, ask support \
             whether the account is active and not locked.",
        ),
        "locked_out" => lockout(detail),
        "throttled" => ex(
            "throttled",
            "The server is rate-limiting requests from this client.",
            "Wait a little (the Retry-After header says how long) and try again.",
        ),
        "user_inactive" => ex(
            "user_inactive",
            "The account has been deactivated, so its tokens are refused.",
            "Ask support to reactivate the account, then sign in again.",
        ),
        "user_not_found" => ex(
            "user_not_found",
            "The account this token belongs to no longer exists.",
            "Sign in with an existing account.",
        ),
        "reuse_detected" => reuse_detected(),
        "bad_authorization_header" => ex(
            "bad_header",
            "The Authorization header is malformed: it must be exactly two space-separated \
             values, the header type and the token (e.g. `Bearer eyJ…`).",
            "Send `Authorization: <type> <token>` with one space and no extra parts.",
        ),
        "not_authenticated" => not_authenticated(exchange),
        "forbidden" => ex(
            "forbidden",
            "The server knows who you are but does not allow this action (staff-only routes, or \
             someone else's session).",
            "Use a staff account for staff actions, or act only on your own sessions.",
        ),
        "token_not_valid" => token_not_valid(exchange, local, reason, detail),
        _ if status == 403 => ex(
            "forbidden",
            format!("The server refused the request: {}", or_unknown(detail)),
            "Check that this account may do this.",
        ),
        _ if status == 429 => lockout(detail),
        _ => ex(
            "token_invalid",
            format!("The server refused the request: {}", or_unknown(detail)),
            "Sign in again; if it keeps happening, check the server's log for this request id.",
        ),
    })
}

fn or_unknown(detail: &str) -> &str {
    if detail.is_empty() {
        "no reason given"
    } else {
        detail
    }
}

fn network(exchange: &Exchange) -> Explanation {
    match exchange.error_code.as_deref() {
        Some("timeout") => ex(
            "timeout",
            "The server did not answer in time.",
            "Check the network and whether the server is overloaded; the app retries with back-off.",
        ),
        _ => ex(
            "unreachable",
            "The server could not be reached (nothing listening, DNS, TLS or the network failed).",
            "Check the server URL and that the server is running; the session is kept and \
             retried when it comes back.",
        ),
    }
}

fn lockout(detail: &str) -> Explanation {
    ex(
        "locked_out",
        format!(
            "Too many failed sign-ins: the server pauses sign-ins for this name from this \
             address (or, after guessing from many addresses, from addresses this account has \
             not used before). Existing sessions are not affected. {}",
            detail
        )
        .trim_end()
        .to_string(),
        "Wait for the time the server gives (Retry-After). Signing in from a network you have \
         used before is not paused; support can lift the pause.",
    )
}

fn reuse_detected() -> Explanation {
    ex(
        "reuse_detected",
        "A refresh token of this session that had already been rotated away was used again. \
         The server treats that as possible theft and revoked the whole session (every token \
         of the family).",
        "Sign in again. If you did not replay the token yourself (two copies of the app or a \
         script sharing it), someone else may have it: change your password.",
    )
}

fn not_authenticated(exchange: &Exchange) -> Explanation {
    if exchange.credential.is_some() {
        ex(
            "wrong_header_type",
            "A token was sent, but the server did not recognise the Authorization header's type, \
             so it treated the request as anonymous (SimpleJWT does this for a type outside \
             AUTH_HEADER_TYPES).",
            "Use the header type the server expects (AUTH_HEADER_TYPES, e.g. `Bearer` or `JWT`) \
             in the connection settings.",
        )
    } else {
        ex(
            "no_credentials",
            "The request carried no credentials, and this route needs a signed-in user.",
            "Sign in first, then retry; the app sends the access token automatically.",
        )
    }
}

/// Local clock skew, when known and large enough to matter.
fn skew_note(local: &LocalContext) -> Option<String> {
    let offset = local.clock_offset?;
    if offset.abs() < SKEW_NOTICE_SECS.max(local.leeway) {
        return None;
    }
    Some(if offset > 0 {
        format!("This computer's clock is {offset} s behind the server's.")
    } else {
        format!(
            "This computer's clock is {} s ahead of the server's.",
            -offset
        )
    })
}

fn token_not_valid(
    exchange: &Exchange,
    local: &LocalContext,
    reason: Option<&str>,
    detail: &str,
) -> Explanation {
    // Warden sends a precise reason; SimpleJWT only a message.
    let message = reason.unwrap_or(detail);
    let now = exchange.at / 1000;
    let kind = local
        .token
        .as_ref()
        .and_then(|t| t.token_type.clone())
        .unwrap_or_else(|| {
            if exchange.path.contains("refresh") || exchange.path.contains("logout") {
                "refresh".into()
            } else {
                "access".into()
            }
        });
    // Warden's reason as the enum; SimpleJWT's messages parse as Unknown and
    // are matched as the text they are.
    use RevocationReason as R;
    match (&Reason::parse(message), message) {
        (Reason::Expired, _) | (_, TOKEN_EXPIRED) => expired(local, now, &kind),
        (Reason::NotYetValid | Reason::IssuedInFuture, _) => {
            let note = skew_note(local).unwrap_or_else(|| {
                "The server that issued it and the server checking it disagree about the time."
                    .to_string()
            });
            ex(
                "clock_skew",
                format!(
                    "The server thinks this token is not valid yet (its `nbf` or `iat` is in the \
                     server's future). {note}"
                ),
                "Synchronise the clocks (NTP) of the servers, or raise LEEWAY a little.",
            )
        }
        (Reason::Rotated, _) => {
            if local.rotated_already {
                blacklisted_after_rotation()
            } else {
                ex(
                    "blacklisted_after_rotation",
                    "This refresh token was already exchanged for a new one, but not by this \
                     client: another copy of the app or a script holding the same token rotated \
                     it first.",
                    "Use the newest refresh token; let only one process refresh a session.",
                )
            }
        }
        (_, TOKEN_BLACKLISTED) if local.rotated_already => blacklisted_after_rotation(),
        (_, TOKEN_BLACKLISTED) => ex(
            "session_revoked",
            "The token is blacklisted: it was rotated away elsewhere, logged out, or revoked.",
            "Sign in again.",
        ),
        (Reason::Ended(R::ReuseDetected), _) => reuse_detected(),
        (Reason::Ended(why), _) => session_revoked(*why, local),
        (Reason::WrongType | Reason::NoType, _)
        | (_, "Token has wrong type" | "Token has no type") => {
            let detail = match kind.as_str() {
                "refresh" => {
                    "The refresh route was given a token that is not a refresh token (an access \
                     token, probably)."
                }
                _ => {
                    "A protected route was given a token that is not an access token (the \
                     refresh token, probably)."
                }
            };
            ex(
                "wrong_token_type",
                detail,
                "Send the access token in the Authorization header and the refresh token only \
                 to the refresh and logout routes.",
            )
        }
        (
            Reason::UnknownKid
            | Reason::MissingKid
            | Reason::BadSignature
            | Reason::AlgorithmMismatch
            | Reason::AlgorithmNotAllowed,
            _,
        ) => ex(
            "bad_signature",
            format!(
                "The token's signature does not check out with any key the server has ({message}). \
                 The server's signing key may have changed (a rotation past the old key's \
                 verify window, a new SIGNING_KEY), or the token is from another server or was \
                 altered."
            ),
            "Sign in again to get a token signed with the current key; compare the token's `kid` \
             with the server's JWKS in the inspector.",
        ),
        (
            Reason::Malformed
            | Reason::BadHeader
            | Reason::CriticalHeader
            | Reason::BadPayload
            | Reason::TooLarge
            | Reason::MissingClaim,
            _,
        ) => ex(
            "malformed_token",
            format!("The token is not one the server can read ({message})."),
            "Send the token exactly as the server issued it (no quotes, spaces or truncation).",
        ),
        (Reason::NoId | Reason::BadId | Reason::NotOutstanding, _) | (_, "Token has no id") => ex(
            "not_issued_here",
            "The token's ids are not ones this server issued (another server, or a database that \
             was reset).",
            "Sign in again on this server.",
        ),
        (Reason::WrongIssuer | Reason::WrongAudience, _) => ex(
            "wrong_audience",
            "The token was issued for another issuer or audience than this server expects.",
            "Sign in on the server that is meant to accept the token, or align ISSUER/AUDIENCE.",
        ),
        _ => {
            // SimpleJWT's catch-all "Token is invalid": use local knowledge.
            if let Some(t) = &local.token
                && let Some(exp) = t.exp
                && exp <= now.saturating_add(local.clock_offset.unwrap_or(0))
            {
                return expired(local, now, &kind);
            }
            ex(
                "token_invalid",
                format!(
                    "The server refused the token ({}). SimpleJWT says this for a bad signature, \
                     a malformed token or a key it does not have.",
                    or_unknown(message)
                ),
                "Sign in again; if that token keeps being refused, inspect it and compare its \
                 signature with the server's key.",
            )
        }
    }
}

fn blacklisted_after_rotation() -> Explanation {
    ex(
        "blacklisted_after_rotation",
        "This refresh token was already exchanged for a new one by this client, and rotation \
         blacklisted the old one (ROTATE_REFRESH_TOKENS with BLACKLIST_AFTER_ROTATION).",
        "Use the newest refresh token. Retrying the old one does not work, and on Warden it can \
         end the whole session as a suspected replay.",
    )
}

fn session_revoked(why: RevocationReason, local: &LocalContext) -> Explanation {
    let by = match why {
        RevocationReason::Logout => "this session was logged out",
        RevocationReason::LogoutAll => "the user logged out everywhere",
        RevocationReason::Blacklisted => {
            "the refresh token was blacklisted (SimpleJWT's blacklist route)"
        }
        RevocationReason::StaffRevoked => "a staff member revoked the session",
        RevocationReason::Revoked => "the token was revoked (RFC 7009)",
        RevocationReason::PasswordChanged => "the password was changed, which ends every session",
        RevocationReason::Deactivated => "the account was deactivated",
        RevocationReason::LockedOut => "the account was locked",
        RevocationReason::UserDeleted => "the account was deleted",
        RevocationReason::ReuseDetected => "a replayed refresh token revoked it",
    };
    let here = match &local.phase {
        Some(Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut),
        }) => " (by this app)",
        _ => "",
    };
    ex(
        "session_revoked",
        format!("The session has ended: {by}{here}. Its access and refresh tokens are refused."),
        "Sign in again.",
    )
}

fn expired(local: &LocalContext, now: i64, kind: &str) -> Explanation {
    let server_now = now.saturating_add(local.clock_offset.unwrap_or(0));
    let exp = local.token.as_ref().and_then(|t| t.exp);
    // Still valid by this computer's clock but not by the server's: skew.
    if let Some(exp) = exp
        && exp > now
        && local.clock_offset.is_some_and(|o| o > 0)
    {
        let note = skew_note(local).unwrap_or_default();
        return ex(
            "clock_skew",
            format!(
                "The token has expired by the server's clock, though not by this computer's. \
                 {note}"
            )
            .trim_end()
            .to_string(),
            "Synchronise this computer's clock (NTP). The app refreshes early using the server's \
             Date header, so this fixes itself after the next refresh.",
        );
    }
    if let Some(t) = &local.token
        && let Some(iat) = t.iat.or(t.nbf)
        && iat
            > now
                .saturating_add(local.leeway)
                .saturating_add(SKEW_NOTICE_SECS)
    {
        return ex(
            "clock_skew",
            "The token was issued in this computer's future: this clock is behind the server's, \
             so expiry times here are misjudged.",
            "Synchronise this computer's clock (NTP).",
        );
    }
    let ago = exp
        .map(|e| format!(" {} s ago", server_now.saturating_sub(e).max(0)))
        .unwrap_or_default();
    let (what, fix) = if kind == "refresh" {
        (
            "The refresh token has expired",
            "Sign in again (a refresh token's life is REFRESH_TOKEN_LIFETIME).",
        )
    } else {
        (
            "The access token has expired",
            "Refresh it with the refresh token and retry; the app does this before expiry.",
        )
    };
    ex("expired", format!("{what}{ago}."), fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT_MS: i64 = 1_750_000_000_000;
    const NOW: i64 = AT_MS / 1000;

    fn refused(status: u16, code: &str, reason: Option<&str>, detail: &str) -> Exchange {
        Exchange {
            at: AT_MS,
            method: "POST".into(),
            path: "api/token/refresh/".into(),
            status: Some(status),
            latency_ms: 3,
            error_code: Some(code.into()),
            reason: reason.map(str::to_string),
            credential: Some("refresh jti 012345…".into()),
            request_id: None,
            record: Box::new(crate::exchange::ExchangeRecord {
                detail: (!detail.is_empty()).then(|| detail.to_string()),
                ..Default::default()
            }),
        }
    }

    fn me(status: u16, code: &str, reason: Option<&str>, detail: &str) -> Exchange {
        Exchange {
            method: "GET".into(),
            path: "api/me/".into(),
            credential: Some("access jti 012345…".into()),
            ..refused(status, code, reason, detail)
        }
    }

    fn code_of(e: &Exchange, l: &LocalContext) -> String {
        explain(e, l).unwrap().code
    }

    fn token(kind: &str, exp: i64, iat: i64) -> Option<TokenTimes> {
        Some(TokenTimes {
            token_type: Some(kind.into()),
            exp: Some(exp),
            iat: Some(iat),
            nbf: None,
        })
    }

    #[test]
    fn successes_and_other_statuses_are_not_explained() {
        let mut ok = refused(200, "", None, "");
        ok.error_code = None;
        assert_eq!(explain(&ok, &LocalContext::default()), None);
        assert_eq!(
            explain(
                &refused(404, "not_found", None, "Not found."),
                &LocalContext::default()
            ),
            None
        );
    }

    #[test]
    fn expired_access_and_refresh() {
        let l = LocalContext {
            token: token("access", NOW - 30, NOW - 330),
            ..LocalContext::default()
        };
        let e = explain(&me(401, "token_not_valid", Some("expired"), ""), &l).unwrap();
        assert_eq!(e.code, "expired");
        assert!(
            e.cause.contains("access token has expired 30 s ago"),
            "{}",
            e.cause
        );
        assert!(e.fix.contains("Refresh"));
        // SimpleJWT: message only, on the refresh route.
        let l = LocalContext {
            token: token("refresh", NOW - 5, NOW - 86_405),
            ..LocalContext::default()
        };
        let e = explain(
            &refused(401, "token_not_valid", None, "Token is expired"),
            &l,
        )
        .unwrap();
        assert_eq!(e.code, "expired");
        assert!(e.cause.contains("refresh token"), "{}", e.cause);
        assert!(e.fix.contains("Sign in again"));
    }

    #[test]
    fn clock_skew_when_only_the_server_clock_says_expired() {
        let l = LocalContext {
            clock_offset: Some(120),
            token: token("access", NOW + 60, NOW - 240),
            ..LocalContext::default()
        };
        let e = explain(&me(401, "token_not_valid", Some("expired"), ""), &l).unwrap();
        assert_eq!(e.code, "clock_skew");
        assert!(e.cause.contains("120 s behind"), "{}", e.cause);
        // iat in this computer's future.
        let l = LocalContext {
            token: token("access", NOW + 400, NOW + 100),
            ..LocalContext::default()
        };
        assert_eq!(
            code_of(&me(401, "token_not_valid", Some("expired"), ""), &l),
            "clock_skew"
        );
        // The server says nbf/iat in its future.
        let e = explain(
            &me(401, "token_not_valid", Some("not_yet_valid"), ""),
            &LocalContext::default(),
        )
        .unwrap();
        assert_eq!(e.code, "clock_skew");
        assert!(e.fix.contains("LEEWAY"));
    }

    #[test]
    fn blacklisted_after_rotation_versus_someone_else_rotating() {
        let mine = LocalContext {
            rotated_already: true,
            ..LocalContext::default()
        };
        let e = explain(&refused(401, "token_not_valid", Some("rotated"), ""), &mine).unwrap();
        assert_eq!(e.code, "blacklisted_after_rotation");
        assert!(e.cause.contains("by this client"));
        // SimpleJWT's message.
        assert_eq!(
            code_of(
                &refused(401, "token_not_valid", None, "Token is blacklisted"),
                &mine
            ),
            "blacklisted_after_rotation"
        );
        let e = explain(
            &refused(401, "token_not_valid", Some("rotated"), ""),
            &LocalContext::default(),
        )
        .unwrap();
        assert!(e.cause.contains("not by this client"), "{}", e.cause);
        assert_eq!(
            code_of(
                &refused(401, "token_not_valid", None, "Token is blacklisted"),
                &LocalContext::default()
            ),
            "session_revoked"
        );
    }

    #[test]
    fn reuse_detected_revokes_the_family() {
        let e = explain(
            &refused(401, "reuse_detected", Some("reuse_detected"), ""),
            &LocalContext::default(),
        )
        .unwrap();
        assert_eq!(e.code, "reuse_detected");
        assert!(e.cause.contains("whole session"));
        assert_eq!(
            code_of(
                &refused(401, "token_not_valid", Some("reuse_detected"), ""),
                &LocalContext::default()
            ),
            "reuse_detected"
        );
    }

    #[test]
    fn session_revoked_by_logout_logout_all_and_staff() {
        for (reason, words) in [
            ("logout", "logged out"),
            ("logout_all", "everywhere"),
            ("staff_revoked", "staff member"),
            ("password_changed", "password"),
        ] {
            let e = explain(
                &me(401, "token_not_valid", Some(reason), ""),
                &LocalContext::default(),
            )
            .unwrap();
            assert_eq!(e.code, "session_revoked", "{reason}");
            assert!(e.cause.contains(words), "{reason}: {}", e.cause);
        }
        let here = LocalContext {
            phase: Some(Phase::SignedOut {
                reason: Some(SignOutReason::LoggedOut),
            }),
            ..LocalContext::default()
        };
        let e = explain(&me(401, "token_not_valid", Some("logout"), ""), &here).unwrap();
        assert!(e.cause.contains("by this app"), "{}", e.cause);
    }

    #[test]
    fn user_inactive_and_not_found() {
        let l = LocalContext::default();
        assert_eq!(
            code_of(&me(401, "user_inactive", None, "User is inactive"), &l),
            "user_inactive"
        );
        assert_eq!(
            code_of(&me(401, "user_not_found", None, "User not found"), &l),
            "user_not_found"
        );
    }

    #[test]
    fn wrong_token_type_on_each_route() {
        let l = LocalContext::default();
        let e = explain(
            &me(401, "token_not_valid", None, "Token has wrong type"),
            &l,
        )
        .unwrap();
        assert_eq!(e.code, "wrong_token_type");
        assert!(e.cause.contains("not an access token"), "{}", e.cause);
        let e = explain(&refused(401, "token_not_valid", Some("wrong_type"), ""), &l).unwrap();
        assert!(e.cause.contains("not a refresh token"), "{}", e.cause);
    }

    #[test]
    fn missing_credentials_wrong_header_type_and_bad_header() {
        let l = LocalContext::default();
        let mut none = me(
            401,
            "not_authenticated",
            None,
            "Authentication credentials were not provided.",
        );
        none.credential = None;
        assert_eq!(code_of(&none, &l), "no_credentials");
        let typed = me(
            401,
            "not_authenticated",
            None,
            "Authentication credentials were not provided.",
        );
        let e = explain(&typed, &l).unwrap();
        assert_eq!(e.code, "wrong_header_type");
        assert!(e.fix.contains("AUTH_HEADER_TYPES"));
        assert_eq!(
            code_of(
                &me(
                    401,
                    "bad_authorization_header",
                    None,
                    "Authorization header must contain two space-delimited values"
                ),
                &l
            ),
            "bad_header"
        );
    }

    #[test]
    fn unknown_kid_and_bad_signature() {
        let l = LocalContext::default();
        for reason in ["unknown_kid", "bad_signature", "algorithm_mismatch"] {
            let e = explain(&me(401, "token_not_valid", Some(reason), ""), &l).unwrap();
            assert_eq!(e.code, "bad_signature", "{reason}");
            assert!(e.cause.contains(reason));
        }
        // SimpleJWT's catch-all, token not expired locally.
        let l = LocalContext {
            token: token("access", NOW + 100, NOW - 100),
            ..LocalContext::default()
        };
        assert_eq!(
            code_of(&me(401, "token_not_valid", None, "Token is invalid"), &l),
            "token_invalid"
        );
    }

    #[test]
    fn locked_out_throttled_wrong_credentials_forbidden() {
        let l = LocalContext::default();
        let mut login = refused(
            401,
            "invalid_credentials",
            None,
            "No active account found with the given credentials",
        );
        login.path = "api/token/".into();
        login.credential = None;
        let e = explain(&login, &l).unwrap();
        assert_eq!(e.code, "wrong_credentials");
        assert!(e.fix.contains("password"));
        let e = explain(
            &refused(
                429,
                "locked_out",
                None,
                "Too many failed login attempts. Try again in 5 minutes.",
            ),
            &l,
        )
        .unwrap();
        assert_eq!(e.code, "locked_out");
        assert!(e.cause.contains("5 minutes"));
        assert_eq!(
            code_of(&refused(429, "throttled", None, ""), &l),
            "throttled"
        );
        assert_eq!(
            code_of(
                &me(
                    403,
                    "forbidden",
                    None,
                    "You do not have permission to perform this action."
                ),
                &l
            ),
            "forbidden"
        );
    }

    #[test]
    fn network_failures() {
        let mut e = refused(200, "connect", None, "");
        e.status = None;
        assert_eq!(code_of(&e, &LocalContext::default()), "unreachable");
        e.error_code = Some("timeout".into());
        assert_eq!(code_of(&e, &LocalContext::default()), "timeout");
    }

    #[test]
    fn malformed_and_foreign_tokens() {
        let l = LocalContext::default();
        assert_eq!(
            code_of(&me(401, "token_not_valid", Some("malformed"), ""), &l),
            "malformed_token"
        );
        assert_eq!(
            code_of(&me(401, "token_not_valid", Some("not_outstanding"), ""), &l),
            "not_issued_here"
        );
        assert_eq!(
            code_of(&me(401, "token_not_valid", Some("wrong_audience"), ""), &l),
            "wrong_audience"
        );
    }

    #[test]
    fn explanations_serialise() {
        let e = explain(
            &me(401, "user_inactive", None, ""),
            &LocalContext::default(),
        )
        .unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "user_inactive");
        assert!(v["cause"].as_str().unwrap().contains("deactivated"));
        assert!(v["fix"].is_string());
    }
}
