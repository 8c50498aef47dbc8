//! The SQLite store: the shared conformance suite on both modes, then what
//! only a file can show (restart, migrations, file modes, group commit, speed).
// Setup helpers outside #[test] functions fail the test by panicking, like the tests.
#![allow(clippy::unwrap_used)]

use std::sync::{Barrier, Mutex};
use std::time::Instant;

use tempfile::TempDir;
use warden_auth::model::{
    AuditEvent, AuditKind, AuditQuery, RevocationReason, RevokeRequest, RevokeTarget,
};
use warden_auth::{Store, StoreError};
use warden_store::{SqliteStore, schema_version};
use warden_store_conformance::{self as conformance, NOW};

fn temp_store() -> (TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

#[test]
fn conformance_in_memory() {
    conformance::run_all(&|| Box::new(SqliteStore::open_in_memory().unwrap()));
}

#[test]
fn conformance_file() {
    // Each store gets its own directory, kept until the suite ends.
    let dirs = Mutex::new(Vec::new());
    conformance::run_all(&|| {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("warden.db")).unwrap();
        dirs.lock().unwrap().push(dir);
        Box::new(store)
    });
}

#[test]
fn revocations_and_audit_survive_a_restart() {
    let (_dir, path, store) = temp_store();
    let alice = conformance::make_user(&store, "alice");
    let login = conformance::open_session(&store, alice.id, NOW);
    let revoked = store
        .revoke_sessions(&RevokeRequest {
            target: RevokeTarget::User {
                user_id: alice.id,
                except: None,
            },
            reason: RevocationReason::LogoutAll,
            actor: None,
            now: NOW + 10,
            audit: vec![AuditEvent::new(NOW + 10, AuditKind::LogoutAll).subject(alice.id)],
        })
        .unwrap();
    assert_eq!(revoked.len(), 1);
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let session = store.session(login.session.id).unwrap().unwrap();
    assert_eq!(session.revoked_at, Some(NOW + 10));
    assert_eq!(session.revoked_reason, Some(RevocationReason::LogoutAll));
    let live = store.live_revocations(NOW + 20, 3600).unwrap();
    assert_eq!(
        live.sessions,
        [(
            login.session.id,
            login.session.max_expires_at,
            Some(RevocationReason::LogoutAll)
        )]
    );
    let lines = store
        .audit(&AuditQuery {
            user: Some(alice.id),
            ..AuditQuery::default()
        })
        .unwrap();
    let kinds: Vec<AuditKind> = lines.iter().map(|l| l.event.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::LogoutAll,
            AuditKind::LoginSucceeded,
            AuditKind::UserCreated
        ]
    );
    assert!(store.integrity_check().unwrap());
}

#[test]
fn reopening_does_not_migrate_again() {
    let (_dir, path, store) = temp_store();
    conformance::make_user(&store, "alice");
    drop(store);
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.user_by_username("ALICE").unwrap().is_some());
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}

#[test]
fn a_database_that_is_not_wardens_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); PRAGMA user_version = 7;")
        .unwrap();
    drop(conn);
    assert!(SqliteStore::open(&path).is_err());
}

#[cfg(unix)]
#[test]
fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path, store) = temp_store();
    conformance::make_user(&store, "alice");
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let meta = std::fs::metadata(&name).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}",
            std::path::Path::new(&name).display()
        );
    }
}

#[test]
fn a_row_that_does_not_decode_is_corrupt() {
    let (_dir, path, store) = temp_store();
    let alice = conformance::make_user(&store, "alice");
    let login = conformance::open_session(&store, alice.id, NOW);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE sessions SET kind = 'bogus'", [])
        .unwrap();
    drop(conn);
    let err = store.session(login.session.id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[test]
fn concurrent_writes_share_commits() {
    let (_dir, _path, store) = temp_store();
    let alice = conformance::make_user(&store, "alice");
    let before = store.write_stats();
    let threads = 64;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (store, barrier) = (&store, &barrier);
            s.spawn(move || {
                barrier.wait();
                conformance::open_session(store, alice.id, NOW);
            });
        }
    });
    let after = store.write_stats();
    let jobs = after.jobs - before.jobs;
    let batches = after.batches - before.batches;
    println!(
        "group commit: {jobs} concurrent writes in {batches} transactions (largest batch {})",
        after.largest_batch
    );
    assert_eq!(jobs, threads as u64);
    assert_eq!(
        store.sessions_of_user(alice.id, false).unwrap().len(),
        threads
    );
    assert!(
        after.largest_batch > 1,
        "concurrent writes should share a commit"
    );
}

/// Not an assertion on time: prints how long a logout-all of one user with
/// 10,000 live sessions takes (including its commit) amid other users'
/// sessions, for three such users in turn. Run with
/// `cargo test --release -p warden-store --test sqlite -- --nocapture logout_all_timing`.
#[test]
fn logout_all_timing() {
    const TARGETS: usize = 3;
    const PER_TARGET: usize = 10_000;
    const OTHER_USERS: usize = 40;
    const PER_OTHER_USER: usize = 500;
    let (_dir, _path, store) = temp_store();
    let targets: Vec<_> = (0..TARGETS)
        .map(|i| conformance::make_user(&store, &format!("target{i}")).id)
        .collect();
    let others: Vec<_> = (0..OTHER_USERS)
        .map(|i| conformance::make_user(&store, &format!("other{i}")).id)
        .collect();
    // Interleave owners, so no user's sessions were written together.
    let mut owners = Vec::new();
    let mut next_other = 0;
    for _ in 0..PER_TARGET {
        owners.extend(&targets);
        for _ in 0..(OTHER_USERS * PER_OTHER_USER / PER_TARGET) {
            owners.push(others[next_other % OTHER_USERS]);
            next_other += 1;
        }
    }
    let started = Instant::now();
    let workers = 16;
    std::thread::scope(|s| {
        for w in 0..workers {
            let (store, owners) = (&store, &owners);
            s.spawn(move || {
                for (i, owner) in owners.iter().enumerate() {
                    if i % workers == w {
                        let at = NOW + i64::try_from(i).unwrap();
                        conformance::open_session(store, *owner, at);
                    }
                }
            });
        }
    });
    println!(
        "setup: {} sessions by 16 threads in {:.1} s ({:?})",
        owners.len(),
        started.elapsed().as_secs_f64(),
        store.write_stats()
    );

    let mut times = Vec::new();
    for target in &targets {
        let request = RevokeRequest {
            target: RevokeTarget::User {
                user_id: *target,
                except: None,
            },
            reason: RevocationReason::LogoutAll,
            actor: None,
            now: NOW + 100_000,
            audit: vec![AuditEvent::new(NOW + 100_000, AuditKind::LogoutAll).subject(*target)],
        };
        let started = Instant::now();
        let revoked = store.revoke_sessions(&request).unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(revoked.len(), PER_TARGET);
        println!(
            "logout-all: {} sessions of one user revoked in {ms:.2} ms (including commit), among {} sessions",
            revoked.len(),
            owners.len()
        );
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "logout-all of 10,000 sessions: best {:.2} ms, median {:.2} ms",
        times[0],
        times[times.len() / 2]
    );
    assert!(store.integrity_check().unwrap());
}
