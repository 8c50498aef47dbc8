//! Login admission over real HTTP: every attempt reserves its place in the
//! store before its password is checked, so parallel attempts on one
//! identifier never get more passwords checked than failures are left before
//! the lock, and parallel logins with the right password wait for a place
//! and all succeed.
#![cfg(test)]

use std::sync::Barrier;

use serde_json::json;
use warden_auth::Settings;
use warden_auth::model::ThrottleScope;
use warden_tests::hostile::{Reply, Wire};
use warden_tests::http::TestServer;
use warden_tests::{PASSWORD, test_settings};

const THRESHOLD: u32 = 5;

fn start() -> TestServer {
    let srv = TestServer::start(Settings {
        LOCKOUT_THRESHOLD: THRESHOLD,
        ..test_settings()
    });
    srv.engine.user("alice").unwrap();
    srv
}

fn attempt(w: &Wire, password: &str) -> Reply {
    let r = w.post(
        "api/token/",
        None,
        &json!({"username": "alice", "password": password}),
    );
    assert!(r.status < 500, "{} {}", r.status, r.text);
    r
}

/// `passwords` tried together; returns the statuses.
fn together(w: &Wire, passwords: &[String]) -> Vec<u16> {
    let barrier = Barrier::new(passwords.len());
    std::thread::scope(|scope| {
        let hs: Vec<_> = passwords
            .iter()
            .map(|pw| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    attempt(w, pw).status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn count(statuses: &[u16], s: u16) -> usize {
    statuses.iter().filter(|x| **x == s).count()
}

/// alice's failures from this test's address (127.0.0.1).
fn failures(srv: &TestServer) -> u32 {
    let alice = srv.engine.service.user_by_username("alice").unwrap();
    srv.engine
        .service
        .store()
        .throttles_of_user(alice.id)
        .unwrap()
        .iter()
        .filter(|t| t.scope == ThrottleScope::Pair)
        .map(|t| t.failures)
        .sum()
}

#[test]
fn after_three_failures_parallel_guesses_get_at_most_two_checks() {
    let srv = start();
    let w = Wire::of(&srv);
    for i in 0..3 {
        assert_eq!(attempt(&w, &format!("wrong {i}")).status, 401);
    }
    assert_eq!(failures(&srv), 3);
    let guesses: Vec<String> = (0..64).map(|i| format!("guess {i}")).collect();
    let st = together(&w, &guesses);
    let (checked, locked) = (count(&st, 401), count(&st, 429));
    println!(
        "3 failures, then 64 parallel wrong guesses: {checked} checked (401), {locked} refused as locked (429)"
    );
    assert_eq!(checked + locked, 64, "{st:?}");
    assert!(
        checked <= (THRESHOLD - 3) as usize,
        "{checked} guesses checked with only {} failures left before the lock",
        THRESHOLD - 3
    );
    assert_eq!(attempt(&w, PASSWORD).status, 429);
}

#[test]
fn parallel_logins_with_the_right_password_all_succeed_and_clear_the_counter() {
    let srv = start();
    let w = Wire::of(&srv);
    let right: Vec<String> = (0..16).map(|_| PASSWORD.to_string()).collect();
    let st = together(&w, &right);
    assert_eq!(count(&st, 200), 16, "{st:?}");
    // With failures recorded, the success that clears them does so alone.
    for i in 0..2 {
        assert_eq!(attempt(&w, &format!("wrong {i}")).status, 401);
    }
    assert_eq!(failures(&srv), 2);
    let st = together(&w, &right);
    assert_eq!(count(&st, 200), 16, "{st:?}");
    assert_eq!(failures(&srv), 0, "a successful login clears the failures");
    // Mixed: the right password and wrong guesses together. Every answer is a
    // 200, 401 or 429, and no more wrong guesses are checked than a full
    // threshold per success that cleared the counter allows.
    let mut mixed: Vec<String> = (0..24).map(|i| format!("guess {i}")).collect();
    mixed.extend((0..8).map(|_| PASSWORD.to_string()));
    let st = together(&w, &mixed);
    let (ok, checked, locked) = (count(&st, 200), count(&st, 401), count(&st, 429));
    println!(
        "8 right + 24 wrong in parallel: {ok} accepted, {checked} checked and refused, {locked} refused as locked"
    );
    assert_eq!(ok + checked + locked, 32, "{st:?}");
    assert!(
        checked <= THRESHOLD as usize * (ok + 1),
        "{checked} wrong guesses checked around {ok} successes"
    );
}
