//! Group commit: one thread owns the write connection.
//!
//! Callers send a job and block on its reply. The writer takes one job, then
//! whatever else is already waiting, and runs them in ONE transaction; jobs
//! that arrive while it runs them join that transaction too, until the queue
//! is empty or the batch holds [`MAX_BATCH`] jobs. (A job that arrived during
//! the run used to wait for the whole commit, fsync included, and then commit
//! with a batch of its own: with 16 callers rotating, batches held 8.7 jobs on
//! average, now 15; see BENCHMARKS.md, issue 17.) A job that fails gets its
//! own error and leaves nothing behind, the others carry on. Jobs rarely
//! fail, so the batch first runs without savepoints; only when a job fails is
//! the transaction rolled back and the batch run again with each job inside
//! its own SAVEPOINT (a job that fails then rolls back only its savepoint; no
//! more jobs join after a failure). A job may therefore run
//! twice, so a job must have no effect outside the connection; its result is
//! the one of its last run. (A SAVEPOINT per job cost ~20 % of the instructions
//! of a durable rotation: the statement text parsed twice per job, and every
//! page a job touches copied into SQLite's statement journal first.)
//! Then it COMMITs once (one fsync for the whole batch) and only then sends
//! the replies. No reply leaves before the commit succeeded; when the commit
//! (or the transaction) fails, every job of the batch gets that error.
//!
//! Under load this turns N concurrent writes into about N / batch fsyncs,
//! which is what lets dozens of simultaneous rotations share one disk flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use rusqlite::Connection;
use warden_auth::{StoreError, StoreResult};

use crate::error::{Error, Result};

/// The most jobs one transaction carries.
pub(crate) const MAX_BATCH: usize = 65;

/// A unit of work for the writer, type-erased so one channel carries them all.
trait WriteJob: Send {
    /// Runs the job on the writer connection (inside its savepoint) and keeps
    /// the result; returns the error class when the job failed.
    fn run(&mut self, conn: &Connection) -> std::result::Result<(), StoreError>;
    /// Sends the kept result, unless the batch failed (`batch_error`): then
    /// that error, except that a job which failed on its own keeps its error.
    fn finish(self: Box<Self>, batch_error: Option<&StoreError>);
}

struct Pending<T, F> {
    work: F,
    result: Option<StoreResult<T>>,
    reply: SyncSender<StoreResult<T>>,
}

impl<T, F> WriteJob for Pending<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> std::result::Result<(), StoreError> {
        let outcome = (self.work)(conn).map_err(StoreError::from);
        let status = match &outcome {
            Ok(_) => Ok(()),
            Err(e) => Err(copy_error(e)),
        };
        self.result = Some(outcome);
        status
    }

    fn finish(self: Box<Self>, batch_error: Option<&StoreError>) {
        let reply = match (self.result, batch_error) {
            (Some(Err(own)), _) => Err(own),
            (_, Some(batch)) => Err(copy_error(batch)),
            (Some(Ok(v)), None) => Ok(v),
            (None, None) => Err(StoreError::Unavailable("the write was not run".into())),
        };
        // The caller may have gone away; nothing to do about it then.
        let _ = self.reply.send(reply);
    }
}

/// `StoreError` is not `Clone`; one batch error is handed to many callers.
pub(crate) fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::ReadOnly(m) => StoreError::ReadOnly(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
    }
}

/// How much batching happened; for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions the writer committed or attempted.
    pub batches: u64,
    /// Jobs it ran.
    pub jobs: u64,
    /// The largest batch so far.
    pub largest_batch: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
    largest_batch: AtomicU64,
}

/// The handle callers hold; dropping it stops the thread after the queued jobs.
pub(crate) struct Writer {
    sender: Option<Sender<Box<dyn WriteJob>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("running", &self.sender.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Writer {
    /// Starts the writer thread; it owns `conn` until the handle is dropped.
    pub(crate) fn start(conn: Connection) -> Result<Writer> {
        let (sender, receiver) = mpsc::channel::<Box<dyn WriteJob>>();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("warden-store-writer".into())
            .spawn(move || writer_loop(conn, receiver, &thread_counters))?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
            counters,
        })
    }

    /// Runs `work` in the next batch and waits until that batch committed.
    /// `work` may run more than once (see the module notes): only its last
    /// run's writes and result count.
    pub(crate) fn submit<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Box::new(Pending {
            work,
            result: None,
            reply,
        });
        let sender = self.sender.as_ref().ok_or(Error::WriterStopped)?;
        sender.send(job).map_err(|_| Error::WriterStopped)?;
        answer.recv().map_err(|_| Error::WriterStopped)?
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
            largest_batch: self.counters.largest_batch.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the loop once the queue is drained.
        drop(self.sender.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the database writer thread panicked");
        }
    }
}

fn writer_loop(conn: Connection, receiver: Receiver<Box<dyn WriteJob>>, counters: &Counters) {
    while let Ok(first) = receiver.recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        let failure = run_batch(&conn, &mut batch, &mut || receiver.try_recv().ok()).err();
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .jobs
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters
            .largest_batch
            .fetch_max(batch.len() as u64, Ordering::Relaxed);
        if let Some(e) = &failure {
            tracing::warn!(error = %e, jobs = batch.len(), "write batch did not commit");
        }
        for job in batch {
            job.finish(failure.as_ref());
        }
    }
    // Keeps the query planner's statistics fresh; cheap, and failure is harmless.
    if let Err(e) = conn.execute_batch("PRAGMA optimize") {
        tracing::debug!(error = %e, "PRAGMA optimize on close failed");
    }
}

/// One transaction for the whole batch; `Err` when it did not commit.
///
/// `more` hands over a job that is waiting, if any: once the jobs in `batch`
/// ran, waiting ones join (pushed onto `batch`, so they get their replies with
/// it) until `more` has none or the batch is full. Nothing is committed before
/// that, so a late job is as durable as the others when the replies go out.
fn run_batch(
    conn: &Connection,
    batch: &mut Vec<Box<dyn WriteJob>>,
    more: &mut dyn FnMut() -> Option<Box<dyn WriteJob>>,
) -> std::result::Result<(), StoreError> {
    let fail = |e: rusqlite::Error| {
        abandon(conn);
        StoreError::from(Error::from(e))
    };
    cached(conn, "BEGIN IMMEDIATE").map_err(|e| StoreError::from(Error::from(e)))?;
    // Optimistic pass: no savepoints. A SAVEPOINT per job would copy every
    // page the job changes into SQLite's statement journal first (for a
    // 10,000-session logout-all, ~290 pages, ~8 % of its instructions).
    let mut ran = 0;
    let failed = loop {
        if let Some(job) = batch.get_mut(ran) {
            if job.run(conn).is_err() {
                break true;
            }
            ran += 1;
            continue;
        }
        if batch.len() >= MAX_BATCH {
            break false;
        }
        match more() {
            Some(job) => batch.push(job),
            None => break false,
        }
    };
    if !failed {
        return cached(conn, "COMMIT").map_err(fail);
    }
    if batch.len() == 1 {
        // Alone in its transaction: rolling it back undoes exactly the job's
        // writes, and the job keeps its own error (`finish`).
        return rollback(conn);
    }
    // A job failed: undo the whole pass and run the batch again, each job in
    // its own savepoint, so that only the failing job's writes are dropped.
    rollback(conn)?;
    cached(conn, "BEGIN IMMEDIATE").map_err(|e| StoreError::from(Error::from(e)))?;
    for job in batch.iter_mut() {
        cached(conn, "SAVEPOINT job").map_err(fail)?;
        match job.run(conn) {
            Ok(()) => cached(conn, "RELEASE job").map_err(fail)?,
            Err(e) => {
                if conn.is_autocommit() {
                    // SQLite rolled the whole transaction back (disk full, I/O
                    // error...): the jobs before this one are lost too.
                    return Err(copy_error(&e));
                }
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
                    .map_err(fail)?;
            }
        }
    }
    cached(conn, "COMMIT").map_err(fail)
}

/// Runs one of the writer's transaction-control statements through the
/// statement cache (`execute_batch` parses the text every time).
fn cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Rolls the open transaction back (nothing to do when SQLite already did).
fn rollback(conn: &Connection) -> std::result::Result<(), StoreError> {
    if conn.is_autocommit() {
        return Ok(());
    }
    conn.execute_batch("ROLLBACK")
        .map_err(|e| StoreError::from(Error::from(e)))
}

fn abandon(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "rolling back a failed write batch failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        Writer::start(table("")).unwrap()
    }

    fn insert(v: &str) -> impl Fn(&Connection) -> Result<()> + Send + 'static {
        let v = v.to_owned();
        move |conn| {
            conn.execute("INSERT INTO t (v) VALUES (?1)", [&v])?;
            Ok(())
        }
    }

    fn count(w: &Writer) -> i64 {
        w.submit(|conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap()
    }

    #[test]
    fn one_failing_job_does_not_fail_its_batch() {
        // Drive one batch by hand: three jobs, the middle one breaks a UNIQUE rule.
        let conn = table("");
        let (tx_a, rx_a) = mpsc::sync_channel(1);
        let (tx_b, rx_b) = mpsc::sync_channel(1);
        let (tx_c, rx_c) = mpsc::sync_channel(1);
        let mut batch: Vec<Box<dyn WriteJob>> = vec![
            Box::new(Pending {
                work: insert("a"),
                result: None,
                reply: tx_a,
            }),
            Box::new(Pending {
                work: |conn: &Connection| -> Result<()> {
                    conn.execute("INSERT INTO t (v) VALUES ('b')", [])?;
                    // Written, then the job fails: its own row must go too.
                    conn.execute("INSERT INTO t (v) VALUES ('a')", [])?;
                    Ok(())
                },
                result: None,
                reply: tx_b,
            }),
            Box::new(Pending {
                work: insert("c"),
                result: None,
                reply: tx_c,
            }),
        ];
        run_batch(&conn, &mut batch, &mut || None).unwrap();
        for job in batch {
            job.finish(None);
        }
        assert!(rx_a.recv().unwrap().is_ok());
        assert!(matches!(rx_b.recv().unwrap(), Err(StoreError::Conflict(_))));
        assert!(rx_c.recv().unwrap().is_ok());
        let rows = values(&conn);
        assert_eq!(rows, ["a", "c"]);
    }

    /// A job that inserts `v` (failing on a duplicate) and counts its runs.
    fn counted(
        v: &'static str,
        runs: &Arc<AtomicU64>,
    ) -> (Box<dyn WriteJob>, Receiver<StoreResult<()>>) {
        let (tx, rx) = mpsc::sync_channel(1);
        let runs = Arc::clone(runs);
        let job = Box::new(Pending {
            work: move |conn: &Connection| -> Result<()> {
                runs.fetch_add(1, Ordering::Relaxed);
                conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                Ok(())
            },
            result: None,
            reply: tx,
        });
        (job, rx)
    }

    /// An in-memory connection with the test table `t`, after `seed` (SQL).
    fn table(seed: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL UNIQUE)")
            .unwrap();
        conn.execute_batch(seed).unwrap();
        conn
    }

    /// The values in `t`, sorted.
    fn values(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Counted jobs inserting `vs`: the first as a batch, the others waiting
    /// to join it; their run counters and replies.
    #[allow(clippy::type_complexity)]
    fn queued(
        vs: &[&'static str],
    ) -> (
        Vec<Box<dyn WriteJob>>,
        std::collections::VecDeque<Box<dyn WriteJob>>,
        Vec<Arc<AtomicU64>>,
        Vec<Receiver<StoreResult<()>>>,
    ) {
        let runs: Vec<_> = vs.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
        let (mut jobs, replies): (Vec<_>, Vec<_>) =
            vs.iter().zip(&runs).map(|(v, n)| counted(v, n)).unzip();
        let batch = vec![jobs.remove(0)];
        (batch, jobs.into(), runs, replies)
    }

    #[test]
    fn jobs_run_once_unless_one_fails_then_the_batch_reruns_with_savepoints() {
        let conn = table("INSERT INTO t VALUES ('x');");
        // No failure: one optimistic pass, every job ran exactly once.
        let runs: Vec<_> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let (mut batch, replies): (Vec<_>, Vec<_>) = ["a", "b", "c"]
            .iter()
            .zip(&runs)
            .map(|(v, n)| counted(v, n))
            .unzip();
        run_batch(&conn, &mut batch, &mut || None).unwrap();
        for job in batch {
            job.finish(None);
        }
        assert!(replies.iter().all(|r| r.recv().unwrap().is_ok()));
        assert_eq!(
            runs.iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
            [1, 1, 1]
        );
        // The second job fails: the first pass stops there and is rolled back,
        // the second pass runs all three, each in its savepoint.
        let runs: Vec<_> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let (mut batch, replies): (Vec<_>, Vec<_>) = ["d", "x", "e"]
            .iter()
            .zip(&runs)
            .map(|(v, n)| counted(v, n))
            .unzip();
        run_batch(&conn, &mut batch, &mut || None).unwrap();
        for job in batch {
            job.finish(None);
        }
        let answers: Vec<_> = replies.iter().map(|r| r.recv().unwrap()).collect();
        assert!(answers[0].is_ok());
        assert!(matches!(answers[1], Err(StoreError::Conflict(_))));
        assert!(answers[2].is_ok());
        assert_eq!(
            runs.iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let rows = values(&conn);
        assert_eq!(
            rows,
            ["a", "b", "c", "d", "e", "x"],
            "each write exactly once"
        );
    }

    #[test]
    fn jobs_that_arrive_while_a_batch_runs_join_its_transaction() {
        let conn = table("");
        let (mut batch, mut waiting, runs, replies) = queued(&["a", "b", "c"]);
        // What ran when `more` was asked: it is asked only once every job in
        // the batch ran, and again after each late job ran.
        let mut asked = Vec::new();
        let mut more = || {
            asked.push(runs.iter().map(|n| n.load(Ordering::Relaxed)).sum::<u64>());
            waiting.pop_front()
        };
        run_batch(&conn, &mut batch, &mut more).unwrap();
        assert_eq!(asked, [1, 2, 3], "asked after each run, until none waited");
        assert_eq!(batch.len(), 3, "the late jobs joined the batch");
        for job in batch {
            job.finish(None);
        }
        assert!(replies.iter().all(|r| r.recv().unwrap().is_ok()));
        assert!(conn.is_autocommit(), "committed");
        assert_eq!(values(&conn), ["a", "b", "c"]);
    }

    #[test]
    fn a_late_job_that_fails_takes_only_its_own_writes() {
        let conn = table("INSERT INTO t VALUES ('x');");
        let (mut batch, mut waiting, runs, replies) = queued(&["a", "x", "b"]);
        run_batch(&conn, &mut batch, &mut || waiting.pop_front()).unwrap();
        // The late "x" failed: no more joined after it ("b" still waits), and
        // the batch ("a", "x") ran again with savepoints.
        assert_eq!(batch.len(), 2);
        assert_eq!(waiting.len(), 1);
        for job in batch {
            job.finish(None);
        }
        assert!(replies[0].recv().unwrap().is_ok());
        assert!(matches!(
            replies[1].recv().unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            runs.iter()
                .map(|n| n.load(Ordering::Relaxed))
                .collect::<Vec<_>>(),
            [2, 2, 0]
        );
        assert_eq!(values(&conn), ["a", "x"]);
    }

    #[test]
    fn a_batch_takes_no_more_than_max_batch_jobs() {
        let conn = table("");
        let mut offered = 0;
        let mut replies = Vec::new();
        let mut more = || -> Option<Box<dyn WriteJob>> {
            offered += 1;
            let (tx, rx) = mpsc::sync_channel(1);
            replies.push(rx);
            Some(Box::new(Pending {
                work: insert(&format!("late{offered}")),
                result: None,
                reply: tx,
            }))
        };
        let (tx, rx) = mpsc::sync_channel(1);
        let mut batch: Vec<Box<dyn WriteJob>> = vec![Box::new(Pending {
            work: insert("first"),
            result: None,
            reply: tx,
        })];
        run_batch(&conn, &mut batch, &mut more).unwrap();
        assert_eq!(batch.len(), MAX_BATCH);
        assert_eq!(offered, MAX_BATCH - 1, "not asked once the batch was full");
        for job in batch {
            job.finish(None);
        }
        assert!(rx.recv().unwrap().is_ok());
        assert!(replies.iter().all(|r| r.recv().unwrap().is_ok()));
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, MAX_BATCH as i64);
    }

    #[test]
    fn a_job_alone_in_its_batch_runs_without_a_savepoint_and_fails_cleanly() {
        let conn = table("INSERT INTO t VALUES ('a');");
        let (tx_ok, rx_ok) = mpsc::sync_channel(1);
        let mut batch: Vec<Box<dyn WriteJob>> = vec![Box::new(Pending {
            work: insert("b"),
            result: None,
            reply: tx_ok,
        })];
        run_batch(&conn, &mut batch, &mut || None).unwrap();
        for job in batch {
            job.finish(None);
        }
        assert!(rx_ok.recv().unwrap().is_ok());
        // A lone job that writes, then fails: its error, and none of its writes.
        let (tx_bad, rx_bad) = mpsc::sync_channel(1);
        let mut batch: Vec<Box<dyn WriteJob>> = vec![Box::new(Pending {
            work: |conn: &Connection| -> Result<()> {
                conn.execute("INSERT INTO t (v) VALUES ('c')", [])?;
                conn.execute("INSERT INTO t (v) VALUES ('a')", [])?;
                Ok(())
            },
            result: None,
            reply: tx_bad,
        })];
        let failure = run_batch(&conn, &mut batch, &mut || None).err();
        assert!(
            failure.is_none(),
            "the job's failure is its own, not the batch's"
        );
        for job in batch {
            job.finish(failure.as_ref());
        }
        assert!(matches!(
            rx_bad.recv().unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert!(conn.is_autocommit(), "the transaction was rolled back");
        let rows = values(&conn);
        assert_eq!(rows, ["a", "b"]);
    }

    #[test]
    fn a_failed_commit_fails_every_job_of_the_batch() {
        let conn = Connection::open_in_memory().unwrap();
        // A deferred foreign key is checked at COMMIT, so COMMIT itself fails.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id INTEGER PRIMARY KEY);
             CREATE TABLE c (p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let (tx_a, rx_a) = mpsc::sync_channel(1);
        let (tx_b, rx_b) = mpsc::sync_channel(1);
        let mut batch: Vec<Box<dyn WriteJob>> = vec![
            Box::new(Pending {
                work: |conn: &Connection| -> Result<()> {
                    conn.execute("INSERT INTO p (id) VALUES (1)", [])?;
                    Ok(())
                },
                result: None,
                reply: tx_a,
            }),
            Box::new(Pending {
                work: |conn: &Connection| -> Result<()> {
                    conn.execute("INSERT INTO c (p) VALUES (2)", [])?;
                    Ok(())
                },
                result: None,
                reply: tx_b,
            }),
        ];
        let failure = run_batch(&conn, &mut batch, &mut || None).err();
        assert!(failure.is_some());
        for job in batch {
            job.finish(failure.as_ref());
        }
        assert!(rx_a.recv().unwrap().is_err());
        assert!(rx_b.recv().unwrap().is_err());
        assert!(conn.is_autocommit());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM p", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "nothing of a failed batch may stay");
    }

    #[test]
    fn concurrent_jobs_share_batches_and_all_complete() {
        let w = writer();
        std::thread::scope(|s| {
            for i in 0..64 {
                let w = &w;
                s.spawn(move || w.submit(insert(&format!("v{i}"))).unwrap());
            }
        });
        assert_eq!(count(&w), 64);
        let stats = w.stats();
        assert_eq!(stats.jobs, 65);
        assert!(stats.batches <= 65);
    }

    #[test]
    fn dropping_the_writer_stops_its_thread() {
        let w = writer();
        w.submit(insert("x")).unwrap();
        drop(w); // joins; would hang if the loop did not end
    }
}
