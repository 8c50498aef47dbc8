//! `AuthService`: every operation of the engine, written once.
//!
//! The HTTP server, the CLI and the desktop app are thin adapters over this.
//! Methods are synchronous (the store is); an async caller runs them on a
//! blocking thread. Every revocation is durable in the store before the method
//! returns, and is in the in-memory revocation set before the caller can answer.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use warden_proto::{Claims, SessionInfo, TokenType};

use crate::clock::{Clock, UnixTime};
use crate::error::{AuthError, Result, TokenError};
use crate::ids::{Jti, SessionId, UserId};
use crate::keys::{KeyMaterial, KeyRing};
use crate::lockout::{self, IdentifierHasher, LockoutPolicy, identifier_key};
use crate::model::{
    AuditEntry, AuditEvent, AuditKind, AuditQuery, ClientInfo, FlushReport, NewSession, NewUser,
    OutstandingToken, RevocationReason, RevokeRequest, RevokeTarget, RevokedJti, RevokedSession,
    RotationOutcome, RotationRequest, Session, SessionKind, ThrottleKey, ThrottleRequest,
    ThrottleScope, ThrottleState, ThrottleStep, ThrottleVerdict, User, UserQuery, UserUpdate,
};
use crate::passwords::PasswordHasher;
use crate::revocation::RevocationSet;
use crate::rotation::{RotationPolicy, RotationRefusal};
use crate::settings::{LoginField, Settings, UserIdField};
use crate::store::{Conflict, Store, StoreError};
use crate::tokens::{self, ClaimNames, Validated, ValidationPolicy};
use crate::wire::session_info;

mod account;
mod keys;
mod login;
mod memo;
mod refresh;
mod revoke;
mod staff;
mod verify;

pub use staff::{Actor, StaffProof};

/// A token as handed to a client, with the claims it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token: a credential.
    pub token: String,
    /// What it says.
    pub claims: Claims,
}

/// The answer to a login (`api/token/`).
#[derive(Debug, Clone)]
pub struct IssuedPair {
    /// The access token.
    pub access: IssuedToken,
    /// The session's first refresh token.
    pub refresh: IssuedToken,
    /// The session opened.
    pub session: Session,
    /// Who signed in.
    pub user: User,
}

/// How a refresh was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshKind {
    /// A new refresh token replaced the presented one.
    Rotated,
    /// A retry within the grace window got the existing successor again.
    GraceReplay,
    /// `ROTATE_REFRESH_TOKENS` is off: only a new access token.
    AccessOnly,
}

/// The answer to `api/token/refresh/`.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// A new access token.
    pub access: IssuedToken,
    /// The successor refresh token, unless only an access token was minted.
    pub refresh: Option<IssuedToken>,
    /// The session after the refresh.
    pub session: Session,
    /// How it was served.
    pub kind: RefreshKind,
}

/// Who a request is from, established from its access (or sliding) token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The token's user.
    pub user_id: UserId,
    /// The token's session.
    pub session_id: SessionId,
    /// The token's claims.
    pub claims: Claims,
}

/// A login attempt.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// What the user typed in the `username` field: a username or an e-mail per `LOGIN_FIELD`.
    pub identifier: String,
    /// The password typed.
    pub password: String,
    /// Where the attempt came from.
    pub client: ClientInfo,
}

/// A new account.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// Unique, case-insensitively.
    pub username: String,
    /// Unique when present.
    pub email: Option<String>,
    /// In the clear; hashed before it is stored.
    pub password: String,
    /// May use the staff routes.
    pub is_staff: bool,
    /// The address is already confirmed.
    pub email_verified: bool,
}

/// RFC 7662 introspection result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// Valid, live, and the caller may see it.
    pub active: bool,
    /// The token's claims, when active.
    pub claims: Option<Claims>,
    /// The owner's username, when active.
    pub username: Option<String>,
}

/// What logout-all and similar revocations ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationSummary {
    /// The sessions that were live and now are not.
    pub sessions: Vec<SessionId>,
}

impl RevocationSummary {
    /// How many sessions ended.
    pub fn count(&self) -> usize {
        self.sessions.len()
    }
}

/// The engine: every operation on users, sessions and tokens, over a
/// [`Store`], a [`Clock`] and a [`KeyRing`]. Shared behind an `Arc` by every
/// request of a process.
pub struct AuthService {
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    keys: RwLock<KeyRing>,
    revoked: RevocationSet,
    /// Whether `revoked` may be trusted now (see [`crate::feed`]).
    view: crate::feed::RevocationView,
    /// Users as the store last said, forgotten on every user write (here
    /// or, through the feed, on any node).
    users: crate::usercache::UserCache,
    /// Refresh and sliding token rows whose answer cannot change (`memo.rs`).
    outstanding_memo: memo::OutstandingMemo,
    /// Sessions' caps, which never change (`memo.rs`).
    caps: memo::SessionCaps,
    hasher: PasswordHasher,
    policy: ValidationPolicy,
    names: ClaimNames,
    /// `None` when every failed-login counter is off.
    lockout: Option<LockoutPolicy>,
    /// Keys throttle rows and unknown identifiers in the audit log.
    identifiers: IdentifierHasher,
    /// Counts settled attempts; waiting admissions are woken by it.
    settled: (Mutex<u64>, Condvar),
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("store", &self.store)
            .field("clock", &self.clock)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// Validates the settings and rebuilds the revocation set from the store.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: KeyRing,
    ) -> Result<Self> {
        settings.validate()?;
        let hasher = PasswordHasher::from_settings(&settings)?;
        let now = clock.now();
        let keep_for = settings.LEEWAY.get();
        let live = store.live_revocations(now, keep_for)?;
        let revoked = RevocationSet::from_live(&live, keep_for);
        let identifiers = IdentifierHasher::new(keys.identifier_secret());
        let lockout = LockoutPolicy::from_settings(&settings);
        Ok(AuthService {
            policy: ValidationPolicy::from_settings(&settings),
            names: ClaimNames::from_settings(&settings),
            settings,
            store,
            clock,
            keys: RwLock::new(keys),
            revoked,
            view: crate::feed::RevocationView::new(),
            users: crate::usercache::UserCache::new(),
            outstanding_memo: memo::OutstandingMemo::new(),
            caps: memo::SessionCaps::new(),
            hasher,
            lockout,
            identifiers,
            settled: (Mutex::new(0), Condvar::new()),
        })
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store it writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Its clock's time.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// The in-memory revocation set every token check consults.
    pub fn revocations(&self) -> &RevocationSet {
        &self.revoked
    }

    /// Whether this node's revocation set is current (a [`crate::feed::FeedFollower`] keeps it so).
    pub fn revocation_view(&self) -> &crate::feed::RevocationView {
        &self.view
    }

    /// What this node holds of users (see [`crate::UserCache`]).
    pub fn user_cache(&self) -> &crate::usercache::UserCache {
        &self.users
    }

    /// Adds revocations another node (or process) wrote: a feed entry.
    pub(crate) fn apply_revocations(&self, live: &crate::model::LiveRevocations) -> usize {
        self.revoked.apply_live(live, self.settings.LEEWAY.get())
    }

    /// Re-reads every live revocation from the store into the set (what
    /// [`Self::new`] does on start), after a gap in the revocation feed.
    pub(crate) fn reload_revocations(&self) -> Result<usize> {
        let keep_for = self.settings.LEEWAY.get();
        let live = self.store.live_revocations(self.now(), keep_for)?;
        Ok(self.revoked.apply_live(&live, keep_for))
    }
}

/// A username or e-mail that is taken, in DRF's words.
fn conflict_error(e: StoreError) -> AuthError {
    match e {
        StoreError::Conflict(Conflict::Email) => {
            AuthError::Conflict("A user with that email already exists.".into())
        }
        StoreError::Conflict(Conflict::Username) => {
            AuthError::Conflict("A user with that username already exists.".into())
        }
        other => other.into(),
    }
}

/// The error a revoked session's tokens get.
fn reason_error(reason: Option<RevocationReason>) -> AuthError {
    match reason {
        Some(RevocationReason::Deactivated) => AuthError::UserInactive,
        Some(RevocationReason::UserDeleted) => AuthError::UserNotFound,
        r => TokenError::Blacklisted(r).into(),
    }
}

/// What goes in the `user_id` claim for `user`.
fn user_ref(user: &User, settings: &Settings) -> String {
    if settings.USER_ID_FIELD == UserIdField::Username {
        user.username.clone()
    } else {
        user.id.to_string()
    }
}

fn required_reason(reason: &str) -> Result<&str> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(AuthError::invalid("reason", "This field may not be blank."));
    }
    if r.len() > 500 {
        return Err(AuthError::invalid(
            "reason",
            "Ensure this field has no more than 500 characters.",
        ));
    }
    Ok(r)
}

/// Django's username rule: 1–150 of letters, digits and `@.+-_`.
fn validate_username(username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(AuthError::invalid(
            "username",
            "This field may not be blank.",
        ));
    }
    if username.chars().count() > 150 {
        return Err(AuthError::invalid(
            "username",
            "Ensure this field has no more than 150 characters.",
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        return Err(AuthError::invalid(
            "username",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::invalid("email", "Enter a valid email address."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_django_rules() {
        assert!(validate_username("alice.b+c-d_e@x").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username(&"a".repeat(151)).is_err());
        assert!(validate_username("élodie").is_ok());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(validate_email("a@b.co").is_ok());
        for bad in ["a@b", "@b.co", "a b@c.de", "a@.co", "a@co.", "plain"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revoked_reasons_map_to_simplejwt_errors() {
        assert!(matches!(
            reason_error(Some(RevocationReason::Deactivated)),
            AuthError::UserInactive
        ));
        assert!(matches!(
            reason_error(Some(RevocationReason::UserDeleted)),
            AuthError::UserNotFound
        ));
        assert!(matches!(
            reason_error(Some(RevocationReason::ReuseDetected)),
            AuthError::Token(TokenError::Blacklisted(Some(
                RevocationReason::ReuseDetected
            )))
        ));
    }

    #[test]
    fn staff_reasons_are_required() {
        assert!(required_reason("  ").is_err());
        assert_eq!(required_reason(" fraud ").unwrap(), "fraud");
        assert!(required_reason(&"x".repeat(501)).is_err());
    }
}
