//! The storage contract. The engine owns the policies; a store owns
//! durability and atomicity. Every method that writes is one transaction and
//! returns only after it is durable (committed with a synchronous fsync), so a
//! caller that acknowledges a revocation can rely on it.
//!
//! The trait is synchronous: the SQLite store is, and an async server calls
//! it from a blocking thread. Implementations must be safe to call from many
//! threads at once.

use crate::clock::UnixTime;
use crate::ids::{Jti, SessionId, UserId};
use crate::model::{
    AuditEntry, AuditEvent, AuditQuery, FlushReport, LiveRevocations, NewSession, NewUser,
    OutstandingToken, RevokeRequest, RevokedJti, RevokedSession, RotationOutcome, RotationRequest,
    Session, ThrottleRequest, ThrottleState, ThrottleVerdict, User, UserQuery, UserUpdate,
};

/// Which rule a write broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The username (case-insensitive) belongs to another user.
    #[error("username is taken")]
    Username,
    /// The e-mail (case-insensitive) belongs to another user.
    #[error("email is taken")]
    Email,
    /// The user the write is for does not exist (any more).
    #[error("user {0} does not exist")]
    NoSuchUser(UserId),
    /// Another uniqueness rule of the database (a duplicate id), as it said.
    #[error("{0}")]
    Other(String),
}

/// Why a store operation failed; none of them half-happened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (username or e-mail taken, duplicate jti).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The database cannot be written (read-only file, full disk).
    #[error("storage is not writable: {0}")]
    ReadOnly(String),
    /// The database is busy or unreachable; the operation did not happen.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database holds something the engine cannot read back.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    /// Any other failure of the database, as it said.
    #[error("storage error: {0}")]
    Backend(String),
}

/// A store operation's result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where the engine keeps its records: SQLite (`warden-store`) or PostgreSQL
/// (`warden-store-pg`), both held to one conformance suite. Every method is
/// one transaction.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    // --- users ---
    /// Creates a user; `StoreError::Conflict` if the username (case-insensitive)
    /// or e-mail (case-insensitive) is taken. Writes `audit` in the same transaction.
    fn create_user(&self, user: &NewUser, now: UnixTime, audit: &[AuditEvent])
    -> StoreResult<User>;
    /// [`Self::create_user`], except that the user is made staff when no
    /// other user exists, decided in the same transaction (so of concurrent
    /// first accounts, on any connection, exactly one is made staff); writes
    /// `audit_owner` instead of `audit` when it does.
    fn create_owner_or_user(
        &self,
        user: &NewUser,
        now: UnixTime,
        audit: &[AuditEvent],
        audit_owner: &[AuditEvent],
    ) -> StoreResult<User>;
    /// The user `id`, if there is one.
    fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Case-insensitive.
    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Case-insensitive.
    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Users matching `query`, by id.
    fn search_users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;
    /// Applies `update`; when `revoke` is given, revokes those sessions in the
    /// same transaction. `None` if the user does not exist (nothing written).
    fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        revoke: Option<&RevokeRequest>,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<(User, Vec<RevokedSession>)>>;
    /// Deletes the user, revoking their sessions (reason `UserDeleted`). False if absent.
    fn delete_user(&self, id: UserId, now: UnixTime, audit: &[AuditEvent]) -> StoreResult<bool>;

    // --- login throttling (see [`crate::lockout`]) ---
    /// The rows of `keys` that exist, in any order.
    fn throttles(&self, keys: &[String]) -> StoreResult<Vec<ThrottleState>>;
    /// Every row that names `user` (its identifiers, from every address).
    fn throttles_of_user(&self, user: UserId) -> StoreResult<Vec<ThrottleState>>;
    /// Reads the rows of `request.keys`, locked against concurrent steps on
    /// them (on every node), calls [`crate::lockout::apply`] with them, and
    /// writes the rows and audit lines it returns, and `request.audit`, in one
    /// transaction. What it decided is returned only once that is durable.
    fn apply_throttle(&self, request: &ThrottleRequest) -> StoreResult<ThrottleVerdict>;
    /// Lifts every lock and delay on rows that name `user` and forgets their
    /// failures (staff unlock); reservations in flight and known addresses
    /// stay. Returns how many rows changed.
    fn clear_throttles_of_user(&self, user: UserId) -> StoreResult<u64>;

    // --- sessions and tokens ---
    /// Writes the session, its first token and the audit lines, and sets the
    /// user's `last_login` to the session's `created_at`.
    fn open_session(&self, new: &NewSession) -> StoreResult<()>;
    /// The session `id`, live or not.
    fn session(&self, id: SessionId) -> StoreResult<Option<Session>>;
    /// Newest first; revoked sessions included only when asked.
    fn sessions_of_user(&self, user: UserId, include_revoked: bool) -> StoreResult<Vec<Session>>;
    /// The refresh or sliding token `jti` of `session`, if the store holds it.
    /// A token names its session, and is looked up in it (the row must name
    /// the same session). A jti is unique across all tokens.
    fn outstanding(&self, session: SessionId, jti: Jti) -> StoreResult<Option<OutstandingToken>>;
    /// [`Self::user`] and [`Self::session`] together, for the refresh path: a
    /// store that can reads both in one round trip (one read transaction).
    fn user_and_session(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StoreResult<(Option<User>, Option<Session>)> {
        Ok((self.user(user)?, self.session(session)?))
    }
    /// Every token of a session in issue order: its rotation chain, which is
    /// all of them (a login writes the first token, a rotation the head's
    /// successor). The SQLite store walks it from the head through
    /// `parent_jti` (schema 7 has no index by session).
    fn tokens_of_session(&self, id: SessionId) -> StoreResult<Vec<OutstandingToken>>;
    /// Reads the presented token, its session and successor, calls
    /// [`crate::rotation::decide`], and executes the writes it returns, all in
    /// one transaction. Writes an audit line for rotations, grace replays and reuse.
    fn rotate(&self, request: &RotationRequest) -> StoreResult<RotationOutcome>;
    /// Moves a sliding session's expiry (sliding refresh keeps the jti).
    fn extend_session(&self, id: SessionId, expires_at: UnixTime, now: UnixTime)
    -> StoreResult<()>;
    /// Revokes live sessions and writes the audit lines, atomically. Returns
    /// only the sessions that were live before the call.
    fn revoke_sessions(&self, request: &RevokeRequest) -> StoreResult<Vec<RevokedSession>>;
    /// Records one revoked token (an access token through RFC 7009) with the audit lines.
    fn revoke_jti(&self, revoked: &RevokedJti, audit: &[AuditEvent]) -> StoreResult<()>;
    /// Every revoked session whose `max_expires_at + keep_for` is after `now`
    /// (with its `max_expires_at`), and every revoked jti whose `expires_at +
    /// keep_for` is after `now` (with its `expires_at`): what the in-memory
    /// revocation set must hold after a restart.
    fn live_revocations(&self, now: UnixTime, keep_for: i64) -> StoreResult<LiveRevocations>;

    // --- audit and housekeeping ---
    /// Writes audit lines that go with no other write.
    fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Audit lines matching `query`, newest first. A `rotated` line (only a
    /// rotation writes one) belongs to its session through its subject, the
    /// session's user, and follows the session's opening line: a store may
    /// find a session's rotations that way (the SQLite store does, to keep
    /// them out of its session index).
    fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Removes what can no longer matter at `now`: tokens and sessions past
    /// their expiry by more than `keep_for` seconds, expired revoked jtis and
    /// stale throttle entries. The audit log is kept.
    fn flush_expired(&self, now: UnixTime, keep_for: i64) -> StoreResult<FlushReport>;

    // --- the revocation feed (several nodes, or other processes, on one database) ---
    /// Whether this store keeps a revocation feed. A store that does appends
    /// one [`crate::model::FeedEntry`] in the same transaction as every write
    /// that revokes a session or a jti (`revoke_sessions`, `revoke_jti`,
    /// `update_user` with a revocation, `delete_user`, reuse in `rotate`), and
    /// one naming the user in the same transaction as every write that changes
    /// a stored user (`update_user`, `delete_user`, and `open_session`, which
    /// moves `last_login`), so that every node's [`crate::UserCache`] forgets
    /// them; positions 1, 2, 3, ... in commit order and no gaps.
    /// `flush_expired` may drop old entries but always keeps the newest.
    fn has_feed(&self) -> bool {
        false
    }
    /// The feed's newest position (0 when it is empty).
    fn feed_head(&self) -> StoreResult<i64> {
        Err(StoreError::Backend(
            "this store keeps no revocation feed".into(),
        ))
    }
    /// Up to `limit` entries after position `after`, oldest first, and the head.
    fn feed_since(&self, after: i64, limit: u32) -> StoreResult<crate::model::FeedPage> {
        let _ = (after, limit);
        Err(StoreError::Backend(
            "this store keeps no revocation feed".into(),
        ))
    }
    /// Blocks until the feed may have grown, or `timeout` passed. A store that
    /// can be told (PostgreSQL's LISTEN/NOTIFY) returns early; the default
    /// sleeps, which makes the caller poll. An error means the store cannot
    /// be waited on now (the caller backs off and retries).
    fn wait_for_feed(&self, timeout: std::time::Duration) -> StoreResult<()> {
        std::thread::sleep(timeout);
        Ok(())
    }
}
