//! The records the engine keeps: users, sessions (token families), outstanding
//! tokens, revocations, login throttling and the audit log.
//!
//! No record ever holds a raw token: an outstanding token is known by its
//! `jti` and its pin, the SHA-256 of its signature (see [`crate::tokens::pin`]).

use serde::{Deserialize, Serialize};
use warden_proto::TokenType;

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId, UserId};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The store's id.
    pub id: UserId,
    /// Unique.
    pub username: String,
    /// Unique when present.
    pub email: Option<String>,
    /// The address was confirmed (`REQUIRE_VERIFIED_EMAIL` refuses logins until it is).
    pub email_verified: bool,
    /// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`); never serialised to clients.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    /// False once deactivated: no login, every token refused.
    pub is_active: bool,
    /// May use the staff routes.
    pub is_staff: bool,
    /// When the account was made.
    pub created_at: UnixTime,
    /// The last successful login.
    pub last_login: Option<UnixTime>,
    /// The last password change (by the user or staff).
    pub password_changed_at: Option<UnixTime>,
    /// Set by staff (`lock`); `Some(UnixTime::MAX)` means until unlocked.
    pub locked_until: Option<UnixTime>,
}

/// An account to create; the store assigns the id and the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique.
    pub username: String,
    /// Unique when present.
    pub email: Option<String>,
    /// The address is already confirmed.
    pub email_verified: bool,
    /// PHC string, already hashed.
    pub password_hash: String,
    /// May sign in.
    pub is_active: bool,
    /// May use the staff routes.
    pub is_staff: bool,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// A new PHC string.
    pub password_hash: Option<String>,
    /// When the password changed.
    pub password_changed_at: Option<UnixTime>,
    /// A new address, or `Some(None)` to remove it.
    pub email: Option<Option<String>>,
    /// Whether the address is confirmed.
    pub email_verified: Option<bool>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// Grant or withdraw staff rights.
    pub is_staff: Option<bool>,
    /// A staff lock, or `Some(None)` to lift it.
    pub locked_until: Option<Option<UnixTime>>,
    /// A successful login's time.
    pub last_login: Option<UnixTime>,
}

/// How a session was opened: a refresh/access pair, or a sliding token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// `api/token/`: a refresh token rotated for access tokens.
    Pair,
    /// `api/token/sliding/`: one token, refreshed in place.
    Sliding,
}

impl SessionKind {
    /// The stored name: `pair`, `sliding`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Pair => "pair",
            SessionKind::Sliding => "sliding",
        }
    }

    /// The kind named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pair" => Some(SessionKind::Pair),
            "sliding" => Some(SessionKind::Sliding),
            _ => None,
        }
    }
}

/// Where a request came from; recorded on sessions and audit events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The `X-Warden-Device` header (or the login body's `device_label`).
    pub device_label: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's address (after the trusted proxies).
    pub address: Option<String>,
}

/// A session, or token family: one login and every token rotated from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The tokens' `sid`.
    pub id: SessionId,
    /// The owner.
    pub user_id: UserId,
    /// Pair or sliding.
    pub kind: SessionKind,
    /// Where the login came from.
    pub client: ClientInfo,
    /// The login's time.
    pub created_at: UnixTime,
    /// The last rotation; `None` before the first.
    pub last_rotated_at: Option<UnixTime>,
    /// Rotations so far.
    pub rotation_count: u32,
    /// The jti of the newest refresh (or sliding) token: the only one that may rotate.
    pub head_jti: Jti,
    /// When the newest refresh (or sliding) token expires.
    pub expires_at: UnixTime,
    /// The absolute cap (`SESSION_MAX_LIFETIME` after login): no token of the session outlives it.
    pub max_expires_at: UnixTime,
    /// When it ended; `None` while live.
    pub revoked_at: Option<UnixTime>,
    /// Why it ended.
    pub revoked_reason: Option<RevocationReason>,
    /// Who ended it (the user or a staff member); `None` when the engine did.
    pub revoked_by: Option<UserId>,
}

impl Session {
    /// It has ended.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Until when a revocation of this session must be remembered in memory:
    /// past this instant no token of the session can validate anyway.
    pub fn revocation_horizon(&self, access_lifetime: i64, leeway: i64) -> UnixTime {
        self.max_expires_at
            .saturating_add(access_lifetime)
            .saturating_add(leeway)
    }
}

/// A refresh or sliding token the server issued (SimpleJWT's `OutstandingToken`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutstandingToken {
    /// The token's id.
    pub jti: Jti,
    /// Its session.
    pub session_id: SessionId,
    /// Its owner.
    pub user_id: UserId,
    /// Refresh or sliding.
    pub token_type: TokenType,
    /// The token's pin ([`crate::tokens::pin`]): lowercase hex SHA-256 of its
    /// signature part; rows written before that pin hold the SHA-256 of its
    /// signing input (`header.payload`, [`crate::tokens::legacy_pin`]). The
    /// column and field keep their first name.
    pub signing_input_sha256: String,
    /// The key that signed it.
    pub kid: String,
    /// Its `iat`.
    pub issued_at: UnixTime,
    /// Its `exp`.
    pub expires_at: UnixTime,
    /// The token this one was rotated from.
    pub parent_jti: Option<Jti>,
    /// When this token was rotated away (then it is blacklisted).
    pub rotated_at: Option<UnixTime>,
    /// The token it was rotated into.
    pub successor_jti: Option<Jti>,
    /// Where the request that minted it came from.
    pub address: Option<String>,
}

/// Why a session or token was revoked (a wire value too: see [`warden_proto::Reason`]).
pub use warden_proto::RevocationReason;

/// A single token revoked on its own (an access token through RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedJti {
    /// The token's id.
    pub jti: Jti,
    /// Its session, when it had one.
    pub session_id: Option<SessionId>,
    /// Its owner, when known.
    pub user_id: Option<UserId>,
    /// When it was revoked.
    pub revoked_at: UnixTime,
    /// The token's own expiry: the entry is useless after it.
    pub expires_at: UnixTime,
    /// Why.
    pub reason: RevocationReason,
}

/// What to revoke in one atomic step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeTarget {
    /// One session.
    Session(SessionId),
    /// Every live session of the user, optionally sparing one (password change keeps the caller's).
    User {
        /// Whose sessions.
        user_id: UserId,
        /// The session to keep.
        except: Option<SessionId>,
    },
}

/// A revocation for the store to carry out, with its audit lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    /// What to revoke.
    pub target: RevokeTarget,
    /// Why.
    pub reason: RevocationReason,
    /// Who asked (the user or a staff member); `None` for the engine itself.
    pub actor: Option<UserId>,
    /// The revocation's time.
    pub now: UnixTime,
    /// Written in the same transaction as the revocation.
    pub audit: Vec<AuditEvent>,
}

/// A session a revocation ended (only sessions that were live before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedSession {
    /// The session.
    pub id: SessionId,
    /// Its owner.
    pub user_id: UserId,
    /// Past this no token of it validates anyway.
    pub max_expires_at: UnixTime,
    /// Why it ended.
    pub reason: RevocationReason,
}

/// Everything that makes up one login, written atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// Its first refresh (or sliding) token.
    pub token: OutstandingToken,
    /// The login's audit lines.
    pub audit: Vec<AuditEvent>,
}

/// A rotation attempt: the presented token and the successor prepared for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRequest {
    /// The `jti` of the token presented. Stores look it up in
    /// `successor.session_id`: the successor is minted into the session the
    /// presented token names.
    pub presented_jti: Jti,
    /// Its pin ([`crate::tokens::pin`], or [`crate::tokens::legacy_pin`] when
    /// the row predates it): a token with a known jti but other bytes is refused.
    pub presented_signing_input_sha256: String,
    /// The token to make the head if the presented one is.
    pub successor: OutstandingToken,
    /// The attempt's time.
    pub now: UnixTime,
    /// Grace window, blacklisting, the session cap.
    pub policy: crate::rotation::RotationPolicy,
    /// Where the attempt came from.
    pub address: Option<String>,
}

/// How a rotation attempt ended; decided by [`crate::rotation::decide`] inside the store's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was the head: the prepared successor is now the head.
    Rotated {
        /// The session, updated.
        session: Session,
        /// The new head.
        successor: OutstandingToken,
    },
    /// A retry of the immediately previous token within the grace window: the
    /// existing successor (not the prepared one) is handed out again.
    GraceReplay {
        /// The session.
        session: Session,
        /// The successor handed out the first time.
        successor: OutstandingToken,
    },
    /// A rotated-away token was presented again: the whole family is now revoked.
    ReuseDetected {
        /// The session, revoked.
        session: Session,
    },
    /// Refused without any change.
    Refused(crate::rotation::RotationRefusal),
}

/// What one throttle row counts (see [`crate::lockout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleScope {
    /// One login identifier from one client address (`LOCKOUT_THRESHOLD`).
    Pair,
    /// One login identifier from every address (`LOCKOUT_IDENTIFIER_CEILING`).
    Identifier,
    /// One client address across every identifier (`LOCKOUT_ADDRESS_THRESHOLD`).
    Address,
}

impl ThrottleScope {
    /// Every scope.
    pub const ALL: [ThrottleScope; 3] = [
        ThrottleScope::Pair,
        ThrottleScope::Identifier,
        ThrottleScope::Address,
    ];

    /// The stored name: `pair`, `identifier`, `address`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::Pair => "pair",
            ThrottleScope::Identifier => "identifier",
            ThrottleScope::Address => "address",
        }
    }

    /// The scope named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Which row a throttle step reads and writes, and what a new row records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleKey {
    /// A keyed hash of the normalised identifier and/or address
    /// ([`crate::lockout::IdentifierHasher`]): never what the user typed.
    pub key: String,
    /// What the row counts.
    pub scope: ThrottleScope,
    /// The account the identifier names, when it names one.
    pub user_id: Option<UserId>,
    /// The client address (pair and address rows).
    pub address: Option<String>,
}

/// One throttle row: failed-login counting for a pair, an identifier or an
/// address. Unknown identifiers are counted exactly like known ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleState {
    /// The row's key (see [`ThrottleKey::key`]).
    pub key: String,
    /// What the row counts.
    pub scope: ThrottleScope,
    /// The account the identifier names, when it names one.
    pub user_id: Option<UserId>,
    /// The client address (pair and address rows).
    pub address: Option<String>,
    /// Failures settled within the current window.
    pub failures: u32,
    /// Attempts admitted whose password check has not been settled yet.
    pub pending: u32,
    /// When still-pending attempts count as failures (their node went away).
    pub pending_until: Option<UnixTime>,
    /// When the current counting window began.
    pub window_started_at: UnixTime,
    /// Refused until then (a lock, or the identifier ceiling's delay).
    pub locked_until: Option<UnixTime>,
    /// The last right password for this identifier from this address (pair rows).
    pub last_success_at: Option<UnixTime>,
    /// After this the row no longer matters and a flush may delete it.
    pub expires_at: UnixTime,
}

impl ThrottleState {
    /// A row with nothing counted yet.
    pub fn fresh(key: &ThrottleKey, now: UnixTime) -> ThrottleState {
        ThrottleState {
            key: key.key.clone(),
            scope: key.scope,
            user_id: key.user_id,
            address: key.address.clone(),
            failures: 0,
            pending: 0,
            pending_until: None,
            window_started_at: now,
            locked_until: None,
            last_success_at: None,
            expires_at: now,
        }
    }

    /// Seconds until this row admits attempts again, if it refuses them at `now`.
    pub fn retry_after(&self, now: UnixTime) -> Option<i64> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }
}

/// What a throttle step does to its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleStep {
    /// Admit an attempt before its password is checked (a reservation that
    /// counts against the limits until it is settled).
    Reserve,
    /// The attempt's password was wrong (or the account cannot sign in).
    Failed,
    /// The attempt's password was right.
    Succeeded,
}

/// One atomic read-decide-write of throttle rows: the store reads the rows of
/// `keys` (locking them), calls [`crate::lockout::apply`], and writes the rows
/// and audit lines it returns, with `audit`, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRequest {
    /// The rows the attempt touches (pair, identifier, address).
    pub keys: Vec<ThrottleKey>,
    /// Reserve, or settle as failed or succeeded.
    pub step: ThrottleStep,
    /// The step's time.
    pub now: UnixTime,
    /// The limits.
    pub policy: crate::lockout::LockoutPolicy,
    /// Audit lines to write in the same transaction.
    pub audit: Vec<AuditEvent>,
}

/// What a throttle step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// Reserved: check the password, then settle exactly these scopes.
    Admitted {
        /// The scopes the reservation counts against.
        charged: Vec<ThrottleScope>,
    },
    /// Other attempts in flight may use up what is left: ask again when they settle.
    Wait,
    /// Refused without a password check, for this many seconds.
    Refused {
        /// Seconds until an attempt may be admitted.
        retry_after: i64,
    },
    /// Settled; `locked` lists the scopes this failure locked (or, for the
    /// identifier, started delaying).
    Settled {
        /// The scopes now locked (or delaying).
        locked: Vec<ThrottleScope>,
    },
}

/// What an audit line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A login with the right password.
    LoginSucceeded,
    /// A refused login (wrong password, or an account that cannot sign in).
    LoginFailed,
    /// Failed logins locked a pair or an address, or started the identifier's delays.
    LockedOut,
    /// A refresh token was rotated.
    Rotated,
    /// A retried refresh within the grace window got the same successor.
    GraceReplay,
    /// A rotated-away refresh token came back: its session was revoked.
    ReuseDetected,
    /// One session was revoked (by its user, staff or the engine).
    SessionRevoked,
    /// The user logged out of one session.
    Logout,
    /// Every session of the user was ended.
    LogoutAll,
    /// A refresh token was blacklisted (SimpleJWT's logout).
    Blacklisted,
    /// One token was revoked through RFC 7009.
    TokenRevoked,
    /// A password changed (by the user or staff).
    PasswordChanged,
    /// An account was made.
    UserCreated,
    /// An account was deleted.
    UserDeleted,
    /// An account was deactivated.
    UserDeactivated,
    /// An account was reactivated.
    UserReactivated,
    /// Staff locked an account.
    UserLocked,
    /// Staff lifted a lock.
    UserUnlocked,
    /// Staff rights were granted.
    StaffGranted,
    /// Staff rights were withdrawn.
    StaffRevoked,
    /// An e-mail address was confirmed.
    EmailVerified,
    /// A new signing key became active.
    KeyRotated,
    /// Expired rows were deleted.
    Flushed,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [AuditKind; 23] = [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::LockedOut,
        AuditKind::Rotated,
        AuditKind::GraceReplay,
        AuditKind::ReuseDetected,
        AuditKind::SessionRevoked,
        AuditKind::Logout,
        AuditKind::LogoutAll,
        AuditKind::Blacklisted,
        AuditKind::TokenRevoked,
        AuditKind::PasswordChanged,
        AuditKind::UserCreated,
        AuditKind::UserDeleted,
        AuditKind::UserDeactivated,
        AuditKind::UserReactivated,
        AuditKind::UserLocked,
        AuditKind::UserUnlocked,
        AuditKind::StaffGranted,
        AuditKind::StaffRevoked,
        AuditKind::EmailVerified,
        AuditKind::KeyRotated,
        AuditKind::Flushed,
    ];

    /// The stored and wire name: `login_succeeded`, `reuse_detected`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::LockedOut => "locked_out",
            AuditKind::Rotated => "rotated",
            AuditKind::GraceReplay => "grace_replay",
            AuditKind::ReuseDetected => "reuse_detected",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::Logout => "logout",
            AuditKind::LogoutAll => "logout_all",
            AuditKind::Blacklisted => "blacklisted",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::UserCreated => "user_created",
            AuditKind::UserDeleted => "user_deleted",
            AuditKind::UserDeactivated => "user_deactivated",
            AuditKind::UserReactivated => "user_reactivated",
            AuditKind::UserLocked => "user_locked",
            AuditKind::UserUnlocked => "user_unlocked",
            AuditKind::StaffGranted => "staff_granted",
            AuditKind::StaffRevoked => "staff_revoked",
            AuditKind::EmailVerified => "email_verified",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::Flushed => "flushed",
        }
    }

    /// The kind named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One line of the audit log. `subject` is the user the event is about; `actor`
/// the user who caused it when that is someone else (staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: UnixTime,
    /// What.
    pub kind: AuditKind,
    /// About whom.
    pub subject: Option<UserId>,
    /// By whom, when someone caused it.
    pub actor: Option<UserId>,
    /// The session concerned.
    pub session_id: Option<SessionId>,
    /// The token concerned.
    pub jti: Option<Jti>,
    /// The client's address.
    pub address: Option<String>,
    /// Free text given by staff, or the engine's own explanation.
    pub reason: Option<String>,
    /// Extra structured facts (never a token, password or key).
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event of `kind` at `at`, about nobody yet; the builders below fill it in.
    pub fn new(at: UnixTime, kind: AuditKind) -> Self {
        AuditEvent {
            at,
            kind,
            subject: None,
            actor: None,
            session_id: None,
            jti: None,
            address: None,
            reason: None,
            detail: serde_json::Value::Null,
        }
    }

    /// Sets [`Self::subject`].
    pub fn subject(mut self, user: UserId) -> Self {
        self.subject = Some(user);
        self
    }

    /// Sets [`Self::actor`].
    pub fn actor(mut self, user: Option<UserId>) -> Self {
        self.actor = user;
        self
    }

    /// Sets [`Self::session_id`].
    pub fn session(mut self, sid: SessionId) -> Self {
        self.session_id = Some(sid);
        self
    }

    /// Sets [`Self::jti`].
    pub fn jti(mut self, jti: Jti) -> Self {
        self.jti = Some(jti);
        self
    }

    /// Sets [`Self::address`].
    pub fn address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    /// Sets [`Self::reason`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets [`Self::detail`].
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An audit event as stored, with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing with every line written.
    pub id: i64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Filters for reading the audit log; every field narrows, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events about this user, or caused by them.
    pub user: Option<UserId>,
    /// Any of these kinds; empty: every kind.
    pub kinds: Vec<AuditKind>,
    /// Events of this session.
    pub session_id: Option<SessionId>,
    /// At or after.
    pub since: Option<UnixTime>,
    /// At or before.
    pub until: Option<UnixTime>,
    /// Only entries with an id below this (for paging backwards).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Filters for the staff user search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of username or e-mail.
    pub text: Option<String>,
    /// Only active (`true`) or deactivated (`false`) users.
    pub active: Option<bool>,
    /// Only staff (`true`) or non-staff (`false`).
    pub staff: Option<bool>,
    /// Only users locked (by staff) at `now`.
    pub locked_at: Option<UnixTime>,
    /// At most this many.
    pub limit: u32,
    /// Skip this many.
    pub offset: u32,
}

/// What `flush_expired` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushReport {
    /// Expired refresh and sliding tokens.
    pub outstanding_tokens: u64,
    /// Sessions past their cap, or expired without being revoked.
    pub sessions: u64,
    /// Revoked jtis past their expiry.
    pub revoked_jtis: u64,
    /// Throttle rows that no longer matter.
    pub throttle_entries: u64,
}

/// Everything the in-memory revocation set must hold, read back on start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRevocations {
    /// Revoked sessions with the instant their tokens expire anyway, and why they were revoked.
    pub sessions: Vec<(SessionId, UnixTime, Option<RevocationReason>)>,
    /// Revoked jtis with their expiry.
    pub jtis: Vec<(Jti, UnixTime)>,
}

/// One entry of the revocation feed: the revocations one transaction made,
/// in the order transactions committed. Every node of a cluster applies the
/// feed to its in-memory revocation set ([`crate::feed`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedEntry {
    /// Position in the feed: 1, 2, 3, ... without gaps, in commit order.
    pub seq: i64,
    /// The revocation's time.
    pub at: UnixTime,
    /// What was revoked, with the instants the entries stop mattering (as
    /// [`LiveRevocations`]: a session's `max_expires_at`, a jti's `expires_at`).
    pub revocations: LiveRevocations,
    /// Users whose stored state changed (an update, a deletion, a login's
    /// `last_login`): every node forgets what it holds of them.
    pub users: Vec<UserId>,
}

/// A page of the feed after some position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPage {
    /// Entries after the asked position, oldest first.
    pub entries: Vec<FeedEntry>,
    /// The newest position in the feed when the page was read (0: empty feed).
    pub head: i64,
}
