//! The PostgreSQL store against a real server (scripts/pg.sh): the shared
//! conformance suite, each check in a fresh schema, then what only a shared
//! database shows: two stores (two nodes) on one database.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use warden_auth::Store;
use warden_auth::model::{RevocationReason, RevokeRequest, RevokeTarget, RotationOutcome};
use warden_store_conformance::pg::{drop_schema, fresh_schema, server_url};
use warden_store_conformance::{self as conformance, NOW, STRICT};
use warden_store_pg::PgStore;

fn base() -> String {
    server_url().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh schema and a store on it; the schema is dropped with the guard.
struct Fresh {
    base: String,
    schema: String,
    url: String,
}

impl Fresh {
    fn new() -> Fresh {
        let base = base();
        let (url, schema) = fresh_schema(&base).unwrap();
        Fresh { base, schema, url }
    }

    fn store(&self) -> PgStore {
        PgStore::open(&self.url).unwrap()
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let _ = drop_schema(&self.base, &self.schema);
    }
}

#[test]
fn conformance() {
    for (name, check) in conformance::CHECKS {
        eprintln!("store conformance (postgres): {name}");
        let fresh = Fresh::new();
        let store = fresh.store();
        check(&store);
    }
}

#[test]
fn migrating_again_is_a_no_op_and_a_foreign_schema_is_refused() {
    let fresh = Fresh::new();
    let store = fresh.store();
    let alice = conformance::make_user(&store, "alice");
    drop(store);
    let again = fresh.store();
    assert_eq!(again.user(alice.id).unwrap().unwrap().username, "alice");

    let foreign = Fresh::new();
    let mut c = postgres::Client::connect(&foreign.url, postgres::NoTls).unwrap();
    c.batch_execute("CREATE TABLE users (id int)").unwrap();
    let err = PgStore::open(&foreign.url).unwrap_err();
    assert!(err.to_string().contains("not a Warden database"), "{err}");
}

#[test]
fn an_unreachable_server_is_unavailable_not_a_panic() {
    // Port 1 on loopback: nothing listens there.
    let err =
        PgStore::open("postgres://postgres@127.0.0.1:1/warden?connect_timeout=2").unwrap_err();
    assert!(
        matches!(err, warden_auth::StoreError::Unavailable(_)),
        "{err:?}"
    );
}

/// Two stores on one database rotate one token from 32 threads (16 each):
/// exactly one rotation wins, repeated over several tokens.
#[test]
fn two_stores_rotate_exactly_once() {
    let fresh = Fresh::new();
    let a = Arc::new(fresh.store());
    let b = Arc::new(fresh.store());
    let alice = conformance::make_user(a.as_ref(), "alice");
    for round in 0..5 {
        let login = conformance::open_session(a.as_ref(), alice.id, NOW + round);
        let barrier = Arc::new(Barrier::new(32));
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let store: Arc<PgStore> = if i % 2 == 0 { a.clone() } else { b.clone() };
                let barrier = barrier.clone();
                let req = conformance::rotation(&login.token, NOW + round + 5, STRICT);
                std::thread::spawn(move || {
                    barrier.wait();
                    store.rotate(&req).unwrap()
                })
            })
            .collect();
        let outcomes: Vec<RotationOutcome> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, RotationOutcome::Rotated { .. }))
            .count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        let children = a
            .tokens_of_session(login.session.id)
            .unwrap()
            .iter()
            .filter(|t| t.parent_jti == Some(login.token.jti))
            .count();
        assert_eq!(children, 1);
    }
}

/// A revocation through one store wakes a waiter on the other (LISTEN/NOTIFY)
/// well before the poll timeout, and the feed carries it.
#[test]
fn a_revocation_notifies_the_other_store() {
    let fresh = Fresh::new();
    let a = fresh.store();
    let b = Arc::new(fresh.store());
    let alice = conformance::make_user(&a, "alice");
    let login = conformance::open_session(&a, alice.id, NOW);
    // The first wait opens the listener (after the login's own entry, so
    // only the revocation below can wake the waiter) and returns at once.
    b.wait_for_feed(Duration::from_millis(10)).unwrap();
    let waiter = {
        let b = b.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            b.wait_for_feed(Duration::from_secs(20)).unwrap();
            t0.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    a.revoke_sessions(&RevokeRequest {
        target: RevokeTarget::Session(login.session.id),
        reason: RevocationReason::Logout,
        actor: None,
        now: NOW + 1,
        audit: Vec::new(),
    })
    .unwrap();
    let waited = waiter.join().unwrap();
    assert!(
        waited < Duration::from_secs(10),
        "woken by the NOTIFY, not the 20 s timeout: {waited:?}"
    );
    let page = b.feed_since(0, 10).unwrap();
    // The login's entry (last_login moved), then the revocation.
    assert_eq!(page.head, 2);
    assert_eq!(page.entries[0].users, [alice.id]);
    assert_eq!(page.entries[1].revocations.sessions[0].0, login.session.id);
}

/// Killing the listener's backend (what a network cut or a database restart
/// does to it) makes the wait fail, and the next one reconnects.
#[test]
fn a_lost_listener_reconnects() {
    let fresh = Fresh::new();
    // Named, so only this test's listener is killed (tests run in parallel).
    let app = format!("warden_{}", fresh.schema);
    let store = PgStore::open(&format!("{}&application_name={app}", fresh.url)).unwrap();
    store.wait_for_feed(Duration::from_millis(10)).unwrap();
    let mut admin = postgres::Client::connect(&fresh.base, postgres::NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE query LIKE 'LISTEN warden_revocations%' AND application_name = $1",
            &[&app],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    let mut failed = false;
    for _ in 0..20 {
        if store.wait_for_feed(Duration::from_millis(100)).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the lost connection is reported");
    // Reconnects.
    store.wait_for_feed(Duration::from_millis(10)).unwrap();
    assert!(store.feed_head().is_ok());
}

/// Two engines (two nodes) on one database, each over its own store.
fn two_nodes(
    fresh: &Fresh,
    settings: &warden_auth::Settings,
) -> [Arc<warden_auth::AuthService>; 2] {
    two_nodes_on(fresh, settings, &warden_auth::ManualClock::new(NOW))
}

fn two_nodes_on(
    fresh: &Fresh,
    settings: &warden_auth::Settings,
    clock: &warden_auth::ManualClock,
) -> [Arc<warden_auth::AuthService>; 2] {
    let key = warden_auth::KeyMaterial::generate(warden_auth::Algorithm::HS256, NOW).unwrap();
    let node = || {
        Arc::new(
            warden_auth::AuthService::new(
                settings.clone(),
                Arc::new(fresh.store()),
                Arc::new(clock.clone()) as Arc<dyn warden_auth::Clock>,
                warden_auth::KeyRing::new(key.clone())
                    .unwrap()
                    .with_identifier_secret("shared by both nodes"),
            )
            .unwrap(),
        )
    };
    [node(), node()]
}

/// Deactivation, a lock, staff rights, a password change and a login on
/// one node reach the other node's user cache through the feed: its first
/// request after the catch-up sees them.
#[test]
fn user_changes_reach_the_other_node() {
    let fresh = Fresh::new();
    let settings = warden_auth::Settings {
        ARGON2_MEMORY_KIB: 1024,
        ..warden_auth::Settings::default()
    };
    let clock = warden_auth::ManualClock::new(NOW);
    let [a, b] = two_nodes_on(&fresh, &settings, &clock);
    conformance::nodes::user_changes_reach_every_node(&a, &b, &clock);
}

fn attempt(
    node: &warden_auth::AuthService,
    who: &str,
    password: &str,
    address: &str,
) -> Result<(), warden_auth::AuthError> {
    node.obtain_pair(&warden_auth::LoginRequest {
        identifier: who.into(),
        password: password.into(),
        client: warden_auth::model::ClientInfo {
            address: Some(address.into()),
            ..Default::default()
        },
    })
    .map(|_| ())
}

/// 64 wrong guesses for one user from one address, released together and
/// spread over two nodes: the reservations in the shared database admit
/// exactly the threshold (5) to a password check, not 5 per node.
#[test]
fn the_lockout_holds_across_nodes() {
    let fresh = Fresh::new();
    let settings = warden_auth::Settings {
        ARGON2_MEMORY_KIB: 1024,
        ..warden_auth::Settings::default()
    };
    let nodes = two_nodes(&fresh, &settings);
    nodes[0]
        .create_user(
            &warden_auth::NewAccount {
                username: "alice".into(),
                password: "correct horse battery".into(),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let barrier = Barrier::new(64);
    let results: Vec<Result<(), warden_auth::AuthError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let node = nodes[i % 2].clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    attempt(&node, "alice", &format!("guess {i}"), "198.51.100.7")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = results
        .iter()
        .filter(|r| matches!(r, Err(warden_auth::AuthError::InvalidCredentials)))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(warden_auth::AuthError::LockedOut { .. })))
        .count();
    println!("two nodes, 64 parallel wrong guesses: {checked} checked, {refused} refused");
    assert_eq!((checked, refused), (5, 59), "{results:?}");
    for node in &nodes {
        assert!(matches!(
            attempt(node, "alice", "correct horse battery", "198.51.100.7"),
            Err(warden_auth::AuthError::LockedOut { .. })
        ));
        attempt(node, "alice", "correct horse battery", "192.0.2.1").unwrap();
    }
}

/// Guesses from many addresses, alternating between two nodes: the identifier
/// ceiling counts them all, wherever they land.
#[test]
fn the_identifier_ceiling_holds_across_nodes() {
    let fresh = Fresh::new();
    let settings = warden_auth::Settings {
        ARGON2_MEMORY_KIB: 1024,
        LOCKOUT_IDENTIFIER_CEILING: 10,
        ..warden_auth::Settings::default()
    };
    let nodes = two_nodes(&fresh, &settings);
    let mut checked = 0;
    for n in 0..30 {
        match attempt(&nodes[n % 2], "ghost", "guess", &format!("203.0.113.{n}")) {
            Err(warden_auth::AuthError::InvalidCredentials) => checked += 1,
            Err(warden_auth::AuthError::LockedOut { retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(checked, 10);
}
