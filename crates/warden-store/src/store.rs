//! [`SqliteStore`]: the engine's [`Store`] over one SQLite file.
//!
//! File mode: WAL; one writer connection (`synchronous=FULL`, so a write is
//! on disk when the call returns) owned by the group-commit thread; reads on a
//! small pool of read-only connections, which WAL lets run beside the writer.
//! WAL checkpoints stay SQLite's automatic ones (every ~1,000 pages, inside the
//! commit that crosses the mark): a checkpoint thread of its own was tried
//! twice and measured worse on two cores (the first write after each
//! background checkpoint took ~200 ms instead of ~9 ms for a 10,000-session
//! logout-all).
//! In-memory mode has a single connection, so reads go through the writer
//! thread too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use warden_auth::model::{
    AuditEntry, AuditEvent, AuditQuery, FeedPage, FlushReport, LiveRevocations, NewSession,
    NewUser, OutstandingToken, RevokeRequest, RevokedJti, RevokedSession, RotationOutcome,
    RotationRequest, Session, ThrottleRequest, ThrottleState, ThrottleVerdict, User, UserQuery,
    UserUpdate,
};
use warden_auth::{Jti, SessionId, Store, StoreResult, UnixTime, UserId};

use crate::error::{Error, Result};
use crate::writer::{WriteStats, Writer};
use crate::{audit, housekeeping, schema, sessions, throttle, users};

/// How long a connection waits for another process's lock before giving up
/// with `StoreError::Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle read connections kept open; more are opened under load and closed after.
/// Enough for the server's concurrent readers (16–32 blocking threads under
/// load): with 4, every read beyond the fourth opened a connection, parsed the
/// schema and re-prepared its statements (a callgrind profile of 16 concurrent
/// refresh chains showed ~10 % of all instructions there; BENCHMARKS.md).
const IDLE_READERS: usize = 32;
/// Distinct statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 64;
/// The writer's page cache (KiB): keeps the hot part of `sessions` in memory.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// After a checkpoint, the WAL file is truncated back to at most this.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// The commit that brings the WAL to this many pages checkpoints it (SQLite's
/// default is 1,000). Rotations rewrite the same hot pages (the tail of each
/// append-only table and index, sessions' rows), so a checkpoint four times
/// rarer copies far fewer than four times the pages; 4,000 frames still fit
/// one wal-index hash segment (4,096), so reads look up no more than before.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4000;

/// The engine's [`Store`](warden_auth::Store) over one SQLite database file
/// (or memory): one writer thread, a pool of read-only connections.
#[derive(Debug)]
pub struct SqliteStore {
    /// `None` in memory: the writer's connection is the only one. Declared
    /// first so the readers close before the writer: the last connection to
    /// close checkpoints the WAL and removes `-wal`/`-shm`.
    readers: Option<ReaderPool>,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600) and migrates the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        Ok(Self::open_file(path.as_ref())?)
    }

    /// A private database that lives as long as the store.
    pub fn open_in_memory() -> StoreResult<SqliteStore> {
        let mut conn = Connection::open_in_memory().map_err(Error::from)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            readers: None,
            writer: Writer::start(conn)?,
        })
    }

    fn open_file(path: &Path) -> Result<SqliteStore> {
        create_private(path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Schema(format!(
                "the database could not switch to WAL (journal_mode is {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        schema::migrate(&mut conn)?;
        restrict_sidecars(path)?;
        Ok(SqliteStore {
            readers: Some(ReaderPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            writer: Writer::start(conn)?,
        })
    }

    /// `PRAGMA integrity_check`: true when SQLite finds nothing wrong.
    pub fn integrity_check(&self) -> StoreResult<bool> {
        self.read(|conn| {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let lines = crate::rows::all(&mut stmt, [], |r| Ok(r.get::<_, String>(0)?))?;
            Ok(lines.len() == 1 && lines[0] == "ok")
        })
    }

    /// Copies the write-ahead log into the database file now, as SQLite's
    /// automatic checkpoint would inside some later commit. For maintenance and
    /// benchmarks that must not bill one request for earlier writes. No-op in memory.
    pub fn checkpoint(&self) -> StoreResult<()> {
        let Some(pool) = &self.readers else {
            return Ok(());
        };
        let conn = Connection::open_with_flags(
            &pool.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(Error::from)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(Error::from)?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(Error::from)?;
        Ok(())
    }

    /// How many transactions the writer ran for how many jobs.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer.submit(work)
    }

    fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        match &self.readers {
            Some(pool) => Ok(pool.with(work)?),
            None => self.writer.submit(work),
        }
    }
}

/// Settings every connection that writes needs.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Temporary files in memory, above all the statement journal of the
    // writer's per-job savepoints: past 64 KiB SQLite spills it to a file in
    // /var/tmp, so a large write (a 10,000-session logout-all changes ~290
    // pages) wrote every page twice, once to that file and once to the WAL.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    sessions::register_functions(conn)?;
    Ok(())
}

/// Creates the database file with mode 0600 before SQLite sees it, so there is
/// no moment when it exists with the umask's looser mode. An existing file is
/// left as it is.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// SQLite gives `-wal` and `-shm` the main file's mode (less the umask); set
/// 0600 explicitly on the ones that exist in case the main file was looser.
fn restrict_sidecars(path: &Path) -> Result<()> {
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let sidecar = PathBuf::from(name);
        if sidecar.exists() {
            std::fs::set_permissions(&sidecar, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Read-only connections to the file, opened on demand and kept when idle.
#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `work` in one read transaction, so a read of several statements
    /// sees one snapshot.
    fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.idle.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.connect()?,
        };
        // BEGIN and COMMIT as cached statements: `Transaction` would parse
        // them again for every read (two of the reads of a refresh).
        let result = (|| {
            conn.prepare_cached("BEGIN")?.execute([])?;
            let value = work(&conn);
            if !conn.is_autocommit() {
                conn.prepare_cached(if value.is_ok() { "COMMIT" } else { "ROLLBACK" })?
                    .execute([])?;
            }
            value
        })();
        if !conn.is_autocommit() {
            // A failed COMMIT or ROLLBACK: never pool a connection that is
            // still inside a transaction.
            if conn.execute_batch("ROLLBACK").is_err() {
                return result;
            }
        }
        let mut idle = self.idle.lock();
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

impl Store for SqliteStore {
    fn create_user(
        &self,
        user: &NewUser,
        now: UnixTime,
        audit: &[AuditEvent],
    ) -> StoreResult<User> {
        let (user, audit) = (user.clone(), audit.to_vec());
        self.write(move |c| users::create(c, &user, now, &audit))
    }

    fn create_owner_or_user(
        &self,
        user: &NewUser,
        now: UnixTime,
        audit: &[AuditEvent],
        audit_owner: &[AuditEvent],
    ) -> StoreResult<User> {
        let (user, audit, audit_owner) = (user.clone(), audit.to_vec(), audit_owner.to_vec());
        self.write(move |c| users::create_owner_or_user(c, &user, now, &audit, &audit_owner))
    }

    fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |c| users::by_id(c, id))
    }

    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.read(move |c| users::by_username(c, &username))
    }

    fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_owned();
        self.read(move |c| users::by_email(c, &email))
    }

    fn search_users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let query = query.clone();
        self.read(move |c| users::search(c, &query))
    }

    fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        revoke: Option<&RevokeRequest>,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<(User, Vec<RevokedSession>)>> {
        let (update, revoke, audit) = (update.clone(), revoke.cloned(), audit.to_vec());
        self.write(move |c| users::update(c, id, &update, revoke.as_ref(), &audit))
    }

    fn delete_user(&self, id: UserId, now: UnixTime, audit: &[AuditEvent]) -> StoreResult<bool> {
        let audit = audit.to_vec();
        self.write(move |c| users::delete(c, id, now, &audit))
    }

    fn throttles(&self, keys: &[String]) -> StoreResult<Vec<ThrottleState>> {
        let keys = keys.to_vec();
        self.read(move |c| throttle::get_many(c, &keys))
    }

    fn throttles_of_user(&self, user: UserId) -> StoreResult<Vec<ThrottleState>> {
        self.read(move |c| throttle::of_user(c, user))
    }

    fn apply_throttle(&self, request: &ThrottleRequest) -> StoreResult<ThrottleVerdict> {
        let request = request.clone();
        self.write(move |c| throttle::apply(c, &request))
    }

    fn clear_throttles_of_user(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |c| throttle::clear_user(c, user))
    }

    fn open_session(&self, new: &NewSession) -> StoreResult<()> {
        let new = new.clone();
        self.write(move |c| sessions::open(c, &new))
    }

    fn session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        self.read(move |c| sessions::by_id(c, id))
    }

    fn user_and_session(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StoreResult<(Option<User>, Option<Session>)> {
        self.read(move |c| Ok((users::by_id(c, user)?, sessions::by_id(c, session)?)))
    }

    fn sessions_of_user(&self, user: UserId, include_revoked: bool) -> StoreResult<Vec<Session>> {
        self.read(move |c| sessions::of_user(c, user, include_revoked))
    }

    fn outstanding(&self, session: SessionId, jti: Jti) -> StoreResult<Option<OutstandingToken>> {
        self.read(move |c| sessions::token(c, session, jti))
    }

    fn tokens_of_session(&self, id: SessionId) -> StoreResult<Vec<OutstandingToken>> {
        self.read(move |c| sessions::tokens_of(c, id))
    }

    fn rotate(&self, request: &RotationRequest) -> StoreResult<RotationOutcome> {
        let request = request.clone();
        self.write(move |c| sessions::rotate(c, &request))
    }

    fn extend_session(
        &self,
        id: SessionId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.write(move |c| sessions::extend(c, id, expires_at, now))
    }

    fn revoke_sessions(&self, request: &RevokeRequest) -> StoreResult<Vec<RevokedSession>> {
        let request = request.clone();
        self.write(move |c| sessions::revoke(c, &request))
    }

    fn revoke_jti(&self, revoked: &RevokedJti, audit: &[AuditEvent]) -> StoreResult<()> {
        let (revoked, audit) = (revoked.clone(), audit.to_vec());
        self.write(move |c| sessions::revoke_jti(c, &revoked, &audit))
    }

    fn live_revocations(&self, now: UnixTime, keep_for: i64) -> StoreResult<LiveRevocations> {
        self.read(move |c| housekeeping::live_revocations(c, now, keep_for))
    }

    fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.write(move |c| audit::append(c, &events))
    }

    fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let query = query.clone();
        self.read(move |c| audit::query(c, &query))
    }

    fn flush_expired(&self, now: UnixTime, keep_for: i64) -> StoreResult<FlushReport> {
        self.write(move |c| housekeeping::flush(c, now, keep_for))
    }

    fn has_feed(&self) -> bool {
        true
    }

    fn feed_head(&self) -> StoreResult<i64> {
        self.read(crate::feed::head)
    }

    fn feed_since(&self, after: i64, limit: u32) -> StoreResult<FeedPage> {
        self.read(move |c| crate::feed::since(c, after, limit))
    }
}
