//! Warden's storage on PostgreSQL: the engine's [`warden_auth::Store`] for
//! several `warden serve` nodes sharing one database.
//!
//! - Every write is one transaction, committed (PostgreSQL's default
//!   `synchronous_commit = on`: on disk) before the call returns; a
//!   serialization failure or deadlock is retried a few times.
//! - Rotation is exactly-once across nodes: it locks the session row
//!   (`SELECT ... FOR UPDATE`) before reading the presented token (see `sql.rs`).
//! - Every revoking transaction appends to the revocation feed under an
//!   advisory lock (gapless, commit-ordered positions) and sends
//!   `NOTIFY warden_revocations`; [`PgStore::wait_for_feed`] LISTENs on a
//!   connection of its own and reconnects when it is lost.
//! - Migrations come from `crates/warden-migrations/migrations/postgres/`
//!   ([`warden_migrations::POSTGRES`]), tracked in `warden_schema`.
//!
//! The client is the synchronous `postgres` crate (it drives a private
//! current-thread runtime per connection). Call the store from ordinary or
//! `spawn_blocking` threads, as the server does, never from inside an async
//! task: blocking there would stall the runtime (and `postgres` refuses).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod rows;
mod sql;

use std::str::FromStr;
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use parking_lot::{Condvar, Mutex};
use postgres::{Client, Config, IsolationLevel, NoTls, Transaction};
use warden_auth::model::{
    AuditEntry, AuditEvent, AuditQuery, FeedPage, FlushReport, LiveRevocations, NewSession,
    NewUser, OutstandingToken, RevokeRequest, RevokedJti, RevokedSession, RotationOutcome,
    RotationRequest, Session, ThrottleRequest, ThrottleState, ThrottleVerdict, User, UserQuery,
    UserUpdate,
};
use warden_auth::{Jti, SessionId, Store, StoreError, StoreResult, UnixTime, UserId};

use error::{Error, Result};

/// Connections kept at most (per store, i.e. per node).
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;
/// How long a caller waits for a free connection before `Unavailable`.
const POOL_WAIT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a transaction that failed with a serialization failure or deadlock.
const MAX_RETRIES: u32 = 5;
/// `pg_advisory_xact_lock` key serialising migrations of concurrently starting nodes.
const MIGRATE_LOCK: i64 = 0x5772_646e_0000;

/// True for `postgres://` and `postgresql://` URLs.
pub fn is_postgres_url(s: &str) -> bool {
    let lower = s.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL with any password replaced by `***`, for logs and messages.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<database url>".into();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // Query parameters may carry a password too.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The schema version this build creates and expects.
pub fn schema_version() -> i64 {
    warden_migrations::POSTGRES.len() as i64
}

/// The engine's [`Store`] over a PostgreSQL database that several nodes may share.
pub struct PgStore {
    pool: Pool,
    /// The LISTEN connection, (re)opened by `wait_for_feed`.
    listener: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("max_connections", &self.pool.max)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or a key=value string),
    /// migrating the schema when needed. Fails when the database is
    /// unreachable, is not Warden's, or has a newer schema.
    pub fn open(url: &str) -> StoreResult<PgStore> {
        Self::open_with(url, DEFAULT_MAX_CONNECTIONS)
    }

    /// [`Self::open`] with at most `max_connections` connections.
    pub fn open_with(url: &str, max_connections: usize) -> StoreResult<PgStore> {
        let mut config =
            Config::from_str(url).map_err(|e| StoreError::Backend(format!("database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("warden");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        let store = PgStore {
            pool: Pool {
                config,
                idle: Mutex::new(Vec::new()),
                in_use: Mutex::new(0),
                freed: Condvar::new(),
                max: max_connections.max(1),
            },
            listener: Mutex::new(None),
        };
        {
            let mut conn = store.pool.get()?;
            migrate(conn.parts()?.0).map_err(StoreError::from)?;
        }
        Ok(store)
    }

    /// One write transaction, retried on serialization failures and deadlocks.
    fn write<T>(
        &self,
        work: impl Fn(&mut sql::Db<'_, Transaction<'_>>) -> Result<T>,
    ) -> StoreResult<T> {
        let mut attempt = 0;
        loop {
            let outcome = (|| -> Result<T> {
                let mut conn = self.pool.get()?;
                let (client, cache) = conn.parts()?;
                let mut tx = client.transaction()?;
                let value = work(&mut sql::Db {
                    conn: &mut tx,
                    cache,
                })?;
                tx.commit()?;
                Ok(value)
            })();
            match outcome {
                Err(e) if e.is_retryable() && attempt < MAX_RETRIES => attempt += 1,
                other => return other.map_err(StoreError::from),
            }
        }
    }

    /// A read of one statement: no transaction needed (a statement sees one
    /// snapshot), which saves the BEGIN and COMMIT round trips.
    fn read_one<T>(&self, work: impl Fn(&mut sql::Db<'_, Client>) -> Result<T>) -> StoreResult<T> {
        let outcome = (|| -> Result<T> {
            let mut conn = self.pool.get()?;
            let (client, cache) = conn.parts()?;
            work(&mut sql::Db {
                conn: client,
                cache,
            })
        })();
        outcome.map_err(StoreError::from)
    }

    /// One read-only transaction on one snapshot (reads of several statements).
    fn read<T>(
        &self,
        work: impl Fn(&mut sql::Db<'_, Transaction<'_>>) -> Result<T>,
    ) -> StoreResult<T> {
        let outcome = (|| -> Result<T> {
            let mut conn = self.pool.get()?;
            let (client, cache) = conn.parts()?;
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let value = work(&mut sql::Db {
                conn: &mut tx,
                cache,
            })?;
            tx.commit()?;
            Ok(value)
        })();
        outcome.map_err(StoreError::from)
    }
}

fn migrate(client: &mut Client) -> Result<()> {
    let migrations = warden_migrations::POSTGRES;
    let latest = migrations.len() as i64;
    let mut tx = client.transaction()?;
    // Nodes starting together migrate one after the other.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    let tracked = tx
        .query_one("SELECT to_regclass('warden_schema') IS NOT NULL", &[])?
        .try_get::<_, bool>(0)?;
    let version: i64 = if tracked {
        match tx.query_opt("SELECT version FROM warden_schema", &[])? {
            Some(row) => row.try_get(0)?,
            None => 0,
        }
    } else {
        let foreign = tx
            .query_one(
                "SELECT count(*) FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name IN ('users', 'sessions')",
                &[],
            )?
            .try_get::<_, i64>(0)?;
        if foreign > 0 {
            return Err(Error::Schema(
                "not a Warden database (it has tables but no warden_schema)".into(),
            ));
        }
        tx.batch_execute("CREATE TABLE warden_schema (version bigint NOT NULL)")?;
        0
    };
    if version > latest {
        return Err(Error::Schema(format!(
            "database schema version {version} is newer than this build ({latest})"
        )));
    }
    if version == latest {
        return Ok(());
    }
    let start = usize::try_from(version)
        .map_err(|_| Error::Schema(format!("database schema version {version} is not valid")))?;
    for sql in &migrations[start..] {
        tx.batch_execute(sql)?;
    }
    tx.execute("DELETE FROM warden_schema", &[])?;
    tx.execute(
        "INSERT INTO warden_schema (version) VALUES ($1)",
        &[&latest],
    )?;
    tx.commit()?;
    Ok(())
}

/// A small blocking pool: at most `max` connections, idle ones kept.
struct Pool {
    config: Config,
    idle: Mutex<Vec<(Client, sql::StatementCache)>>,
    in_use: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

struct Conn<'a> {
    pool: &'a Pool,
    client: Option<(Client, sql::StatementCache)>,
}

impl Conn<'_> {
    /// `client` is only `None` inside `drop`; the error is for completeness.
    fn parts(&mut self) -> Result<(&mut Client, &mut sql::StatementCache)> {
        self.client
            .as_mut()
            .map(|(c, cache)| (c, cache))
            .ok_or_else(|| Error::Unavailable("the pooled connection was returned".into()))
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(pooled) = self.client.take()
            && !pooled.0.is_closed()
        {
            self.pool.idle.lock().push(pooled);
        }
        let mut n = self.pool.in_use.lock();
        *n = n.saturating_sub(1);
        self.pool.freed.notify_one();
    }
}

impl Pool {
    fn get(&self) -> Result<Conn<'_>> {
        {
            let mut n = self.in_use.lock();
            while *n >= self.max {
                if self.freed.wait_for(&mut n, POOL_WAIT).timed_out() && *n >= self.max {
                    return Err(Error::Unavailable(format!(
                        "all {} database connections stayed busy for {} s",
                        self.max,
                        POOL_WAIT.as_secs()
                    )));
                }
            }
            *n += 1;
        }
        // From here on the slot is ours; `Conn`'s drop gives it back.
        let mut conn = Conn {
            pool: self,
            client: None,
        };
        loop {
            let pooled = self.idle.lock().pop();
            match pooled {
                Some(c) if c.0.is_closed() => continue,
                Some(c) => {
                    conn.client = Some(c);
                    break;
                }
                None => {
                    conn.client = Some((self.config.connect(NoTls)?, sql::StatementCache::new()));
                    break;
                }
            }
        }
        Ok(conn)
    }
}

impl Store for PgStore {
    fn create_user(
        &self,
        user: &NewUser,
        now: UnixTime,
        audit: &[AuditEvent],
    ) -> StoreResult<User> {
        self.write(|tx| sql::create_user(tx, user, now, audit))
    }

    fn create_owner_or_user(
        &self,
        user: &NewUser,
        now: UnixTime,
        audit: &[AuditEvent],
        audit_owner: &[AuditEvent],
    ) -> StoreResult<User> {
        self.write(|tx| sql::create_owner_or_user(tx, user, now, audit, audit_owner))
    }

    fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read_one(|c| sql::user_by_id(c, id))
    }

    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.read_one(|c| sql::user_by_username(c, username))
    }

    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.read_one(|c| sql::user_by_email(c, email))
    }

    fn search_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        self.read_one(|c| sql::search_users(c, query))
    }

    fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        revoke: Option<&RevokeRequest>,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<(User, Vec<RevokedSession>)>> {
        self.write(|tx| sql::update_user(tx, id, update, revoke, audit))
    }

    fn delete_user(&self, id: UserId, now: UnixTime, audit: &[AuditEvent]) -> StoreResult<bool> {
        self.write(|tx| sql::delete_user(tx, id, now, audit))
    }

    fn throttles(&self, keys: &[String]) -> StoreResult<Vec<ThrottleState>> {
        self.read_one(|c| sql::throttles(c, keys))
    }

    fn throttles_of_user(&self, user: UserId) -> StoreResult<Vec<ThrottleState>> {
        self.read_one(|c| sql::throttles_of_user(c, user))
    }

    fn apply_throttle(&self, request: &ThrottleRequest) -> StoreResult<ThrottleVerdict> {
        self.write(|tx| sql::apply_throttle(tx, request))
    }

    fn clear_throttles_of_user(&self, user: UserId) -> StoreResult<u64> {
        self.write(|tx| sql::clear_throttles_of_user(tx, user))
    }

    fn open_session(&self, new: &NewSession) -> StoreResult<()> {
        self.write(|tx| sql::open_session(tx, new))
    }

    fn session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        self.read_one(|c| sql::session(c, id))
    }

    fn sessions_of_user(&self, user: UserId, include_revoked: bool) -> StoreResult<Vec<Session>> {
        self.read_one(|c| sql::sessions_of_user(c, user, include_revoked))
    }

    fn outstanding(&self, session: SessionId, jti: Jti) -> StoreResult<Option<OutstandingToken>> {
        self.read_one(|c| sql::token(c, session, jti))
    }

    fn tokens_of_session(&self, id: SessionId) -> StoreResult<Vec<OutstandingToken>> {
        self.read_one(|c| sql::tokens_of(c, id))
    }

    fn rotate(&self, request: &RotationRequest) -> StoreResult<RotationOutcome> {
        self.write(|tx| sql::rotate(tx, request))
    }

    fn extend_session(
        &self,
        id: SessionId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.write(|tx| sql::extend_session(tx, id, expires_at, now))
    }

    fn revoke_sessions(&self, request: &RevokeRequest) -> StoreResult<Vec<RevokedSession>> {
        self.write(|tx| sql::revoke_sessions(tx, request))
    }

    fn revoke_jti(&self, revoked: &RevokedJti, audit: &[AuditEvent]) -> StoreResult<()> {
        self.write(|tx| sql::revoke_jti(tx, revoked, audit))
    }

    fn live_revocations(&self, now: UnixTime, keep_for: i64) -> StoreResult<LiveRevocations> {
        self.read(|tx| sql::live_revocations(tx, now, keep_for))
    }

    fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        self.write(|tx| sql::append_audit(tx, events))
    }

    fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        self.read_one(|c| sql::audit(c, query))
    }

    fn flush_expired(&self, now: UnixTime, keep_for: i64) -> StoreResult<FlushReport> {
        self.write(|tx| sql::flush(tx, now, keep_for))
    }

    fn has_feed(&self) -> bool {
        true
    }

    fn feed_head(&self) -> StoreResult<i64> {
        self.read_one(sql::feed_head)
    }

    fn feed_since(&self, after: i64, limit: u32) -> StoreResult<FeedPage> {
        self.read(|tx| sql::feed_since(tx, after, limit))
    }

    /// Waits for a NOTIFY on the feed's channel (or `timeout`). A new or
    /// re-opened listener returns at once, so the caller catches up on
    /// whatever it may have missed while it was not listening.
    fn wait_for_feed(&self, timeout: Duration) -> StoreResult<()> {
        let mut guard = self.listener.lock();
        let usable = guard.as_ref().is_some_and(|c| !c.is_closed());
        if !usable {
            *guard = None;
            let mut client = self
                .pool
                .config
                .connect(NoTls)
                .map_err(|e| StoreError::from(Error::from(e)))?;
            client
                .batch_execute(&format!("LISTEN {}", sql::FEED_CHANNEL))
                .map_err(|e| StoreError::from(Error::from(e)))?;
            *guard = Some(client);
            return Ok(());
        }
        let Some(client) = guard.as_mut() else {
            return Ok(());
        };
        let outcome = {
            let mut notifications = client.notifications();
            let received = notifications.timeout_iter(timeout).next();
            match received {
                Ok(Some(_)) => {
                    // Take whatever else is already buffered: one catch-up covers it all.
                    while let Ok(Some(_)) = notifications.iter().next() {}
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(StoreError::from(Error::from(e))),
            }
        };
        let closed = client.is_closed();
        if outcome.is_err() || closed {
            *guard = None;
            return Err(outcome.err().unwrap_or_else(|| {
                StoreError::Unavailable("the LISTEN connection was closed".into())
            }));
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_redacted() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("PostgreSQL://h/db"));
        assert!(!is_postgres_url("/var/lib/warden.db"));
        assert!(!is_postgres_url("postgres.db"));
        assert_eq!(
            redacted_url("postgres://alice:s3cret@db.example:5432/warden?sslmode=disable"),
            "postgres://alice:***@db.example:5432/warden?sslmode=disable"
        );
        assert_eq!(
            redacted_url("postgres://alice@h/warden?password=s3cret&x=1"),
            "postgres://alice@h/warden?password=***&x=1"
        );
        assert_eq!(redacted_url("postgres://h"), "postgres://h");
        assert!(!redacted_url("postgres://u:p%40ss@h/db").contains("p%40ss"));
    }
}
