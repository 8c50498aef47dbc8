//! The records the engine keeps: users, sessions (token families), outstanding
//! tokens, revocations, login throttling and the audit log.
//!
//! No record ever holds a raw token: an outstanding token is known by its
//! `jti` and the SHA-256 of its signing input (`header.payload`).

use serde::{Deserialize, Serialize};
use warden_proto::TokenType;

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`); never serialised to clients.
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub created_at: UnixTime,
    pub last_login: Option<UnixTime>,
    pub password_changed_at: Option<UnixTime>,
    /// Set by staff (`lock`); `Some(UnixTime::MAX)` means until unlocked.
    pub locked_until: Option<UnixTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub password_hash: String,
    pub is_active: bool,
    pub is_staff: bool,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub password_hash: Option<String>,
    pub password_changed_at: Option<UnixTime>,
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub locked_until: Option<Option<UnixTime>>,
    pub last_login: Option<UnixTime>,
}

/// How a session was opened: a refresh/access pair, or a sliding token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Pair,
    Sliding,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Pair => "pair",
            SessionKind::Sliding => "sliding",
        }
    }

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
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

/// A session, or token family: one login and every token rotated from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub client: ClientInfo,
    pub created_at: UnixTime,
    pub last_rotated_at: Option<UnixTime>,
    pub rotation_count: u32,
    /// The jti of the newest refresh (or sliding) token: the only one that may rotate.
    pub head_jti: Jti,
    /// When the newest refresh (or sliding) token expires.
    pub expires_at: UnixTime,
    /// The absolute cap (`SESSION_MAX_LIFETIME` after login): no token of the session outlives it.
    pub max_expires_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    pub revoked_reason: Option<RevocationReason>,
    pub revoked_by: Option<UserId>,
}

impl Session {
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
    pub jti: Jti,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub token_type: TokenType,
    /// Lowercase hex SHA-256 of the token's signing input (`header.payload`).
    pub signing_input_sha256: String,
    pub kid: String,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    /// The token this one was rotated from.
    pub parent_jti: Option<Jti>,
    /// When this token was rotated away (then it is blacklisted).
    pub rotated_at: Option<UnixTime>,
    pub successor_jti: Option<Jti>,
    pub address: Option<String>,
}

/// Why a session or token was revoked (a wire value too: see [`warden_proto::Reason`]).
pub use warden_proto::RevocationReason;

/// A single token revoked on its own (an access token through RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedJti {
    pub jti: Jti,
    pub session_id: Option<SessionId>,
    pub user_id: Option<UserId>,
    pub revoked_at: UnixTime,
    /// The token's own expiry: the entry is useless after it.
    pub expires_at: UnixTime,
    pub reason: RevocationReason,
}

/// What to revoke in one atomic step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeTarget {
    Session(SessionId),
    /// Every live session of the user, optionally sparing one (password change keeps the caller's).
    User {
        user_id: UserId,
        except: Option<SessionId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeRequest {
    pub target: RevokeTarget,
    pub reason: RevocationReason,
    pub actor: Option<UserId>,
    pub now: UnixTime,
    /// Written in the same transaction as the revocation.
    pub audit: Vec<AuditEvent>,
}

/// A session a revocation ended (only sessions that were live before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub max_expires_at: UnixTime,
    pub reason: RevocationReason,
}

/// Everything that makes up one login, written atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub session: Session,
    pub token: OutstandingToken,
    pub audit: Vec<AuditEvent>,
}

/// A rotation attempt: the presented token and the successor prepared for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRequest {
    pub presented_jti: Jti,
    pub presented_signing_input_sha256: String,
    pub successor: OutstandingToken,
    pub now: UnixTime,
    pub policy: crate::rotation::RotationPolicy,
    pub address: Option<String>,
}

/// How a rotation attempt ended; decided by [`crate::rotation::decide`] inside the store's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was the head: the prepared successor is now the head.
    Rotated {
        session: Session,
        successor: OutstandingToken,
    },
    /// A retry of the immediately previous token within the grace window: the
    /// existing successor (not the prepared one) is handed out again.
    GraceReplay {
        session: Session,
        successor: OutstandingToken,
    },
    /// A rotated-away token was presented again: the whole family is now revoked.
    ReuseDetected { session: Session },
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
    pub const ALL: [ThrottleScope; 3] = [
        ThrottleScope::Pair,
        ThrottleScope::Identifier,
        ThrottleScope::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::Pair => "pair",
            ThrottleScope::Identifier => "identifier",
            ThrottleScope::Address => "address",
        }
    }

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
    pub key: String,
    pub scope: ThrottleScope,
    pub user_id: Option<UserId>,
    pub address: Option<String>,
    /// Failures settled within the current window.
    pub failures: u32,
    /// Attempts admitted whose password check has not been settled yet.
    pub pending: u32,
    /// When still-pending attempts count as failures (their node went away).
    pub pending_until: Option<UnixTime>,
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
    pub keys: Vec<ThrottleKey>,
    pub step: ThrottleStep,
    pub now: UnixTime,
    pub policy: crate::lockout::LockoutPolicy,
    pub audit: Vec<AuditEvent>,
}

/// What a throttle step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// Reserved: check the password, then settle exactly these scopes.
    Admitted { charged: Vec<ThrottleScope> },
    /// Other attempts in flight may use up what is left: ask again when they settle.
    Wait,
    /// Refused without a password check, for this many seconds.
    Refused { retry_after: i64 },
    /// Settled; `locked` lists the scopes this failure locked (or, for the
    /// identifier, started delaying).
    Settled { locked: Vec<ThrottleScope> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    LoginSucceeded,
    LoginFailed,
    LockedOut,
    Rotated,
    GraceReplay,
    ReuseDetected,
    SessionRevoked,
    Logout,
    LogoutAll,
    Blacklisted,
    TokenRevoked,
    PasswordChanged,
    UserCreated,
    UserDeleted,
    UserDeactivated,
    UserReactivated,
    UserLocked,
    UserUnlocked,
    StaffGranted,
    StaffRevoked,
    EmailVerified,
    KeyRotated,
    Flushed,
}

impl AuditKind {
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

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One line of the audit log. `subject` is the user the event is about; `actor`
/// the user who caused it when that is someone else (staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: UnixTime,
    pub kind: AuditKind,
    pub subject: Option<UserId>,
    pub actor: Option<UserId>,
    pub session_id: Option<SessionId>,
    pub jti: Option<Jti>,
    pub address: Option<String>,
    /// Free text given by staff, or the engine's own explanation.
    pub reason: Option<String>,
    /// Extra structured facts (never a token, password or key).
    pub detail: serde_json::Value,
}

impl AuditEvent {
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

    pub fn subject(mut self, user: UserId) -> Self {
        self.subject = Some(user);
        self
    }

    pub fn actor(mut self, user: Option<UserId>) -> Self {
        self.actor = user;
        self
    }

    pub fn session(mut self, sid: SessionId) -> Self {
        self.session_id = Some(sid);
        self
    }

    pub fn jti(mut self, jti: Jti) -> Self {
        self.jti = Some(jti);
        self
    }

    pub fn address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An audit event as stored, with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Filters for reading the audit log; every field narrows, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events about this user, or caused by them.
    pub user: Option<UserId>,
    pub kinds: Vec<AuditKind>,
    pub session_id: Option<SessionId>,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    /// Only entries with an id below this (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Filters for the staff user search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of username or e-mail.
    pub text: Option<String>,
    pub active: Option<bool>,
    pub staff: Option<bool>,
    /// Only users locked (by staff) at `now`.
    pub locked_at: Option<UnixTime>,
    pub limit: u32,
    pub offset: u32,
}

/// What `flush_expired` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushReport {
    pub outstanding_tokens: u64,
    pub sessions: u64,
    pub revoked_jtis: u64,
    pub throttle_entries: u64,
}

/// Everything the in-memory revocation set must hold, read back on start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRevocations {
    /// Revoked sessions with the instant their tokens expire anyway, and why they were revoked.
    pub sessions: Vec<(SessionId, UnixTime, Option<RevocationReason>)>,
    pub jtis: Vec<(Jti, UnixTime)>,
}

/// One entry of the revocation feed: the revocations one transaction made,
/// in the order transactions committed. Every node of a cluster applies the
/// feed to its in-memory revocation set ([`crate::feed`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedEntry {
    /// Position in the feed: 1, 2, 3, ... without gaps, in commit order.
    pub seq: i64,
    pub at: UnixTime,
    /// What was revoked, with the instants the entries stop mattering (as
    /// [`LiveRevocations`]: a session's `max_expires_at`, a jti's `expires_at`).
    pub revocations: LiveRevocations,
}

/// A page of the feed after some position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedPage {
    /// Entries after the asked position, oldest first.
    pub entries: Vec<FeedEntry>,
    /// The newest position in the feed when the page was read (0: empty feed).
    pub head: i64,
}
