//! Issue 13 over real HTTP: knowing a username is not enough to end anyone's
//! sessions or keep them out. Clients come from several loopback addresses
//! (127.0.0.0/8 is all this machine), so the server sees real, distinct
//! client addresses from its sockets; the clock is the kit's manual clock,
//! so every lock and delay is exact.
#![cfg(test)]

use std::collections::BTreeMap;

use serde_json::json;
use warden_auth::model::{AuditEntry, AuditKind, AuditQuery, ThrottleScope};
use warden_auth::{Actor, Settings};
use warden_tests::hostile::{Reply, Wire};
use warden_tests::http::TestServer;
use warden_tests::{PASSWORD, test_settings};

/// alice's usual address.
const HOME: &str = "127.0.0.2";
/// Where the guessing comes from.
const ATTACKER: &str = "127.0.0.1";
/// An address alice has never used.
const CAFE: &str = "127.0.0.3";

fn guess(w: &Wire, who: &str, password: &str) -> Reply {
    let r = w.post(
        "api/token/",
        None,
        &json!({"username": who, "password": password}),
    );
    assert!(r.status < 500, "{who}: {} {}", r.status, r.text);
    r
}

fn tally(replies: impl IntoIterator<Item = Reply>) -> BTreeMap<u16, usize> {
    let mut t = BTreeMap::new();
    for r in replies {
        *t.entry(r.status).or_insert(0) += 1;
    }
    t
}

fn audit(srv: &TestServer, kind: AuditKind) -> Vec<AuditEntry> {
    srv.engine
        .service
        .store()
        .audit(&AuditQuery {
            kinds: vec![kind],
            limit: 10_000,
            ..AuditQuery::default()
        })
        .unwrap()
}

fn retry_after(r: &Reply) -> i64 {
    r.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[test]
fn fifty_wrong_guesses_from_one_address_leave_her_sessions_and_her_other_addresses_alone() {
    let srv = TestServer::start(test_settings());
    let alice = srv.engine.user("alice").unwrap();
    let home = Wire::from(&srv, HOME);
    let (access, refresh) = home.login("alice").unwrap();
    let attacker = Wire::from(&srv, ATTACKER);

    let t = tally((0..50).map(|i| guess(&attacker, "alice", &format!("guess {i}"))));
    assert_eq!(
        t,
        BTreeMap::from([(401, 5), (429, 45)]),
        "5 checked, the rest refused unchecked"
    );
    // Her session goes on: the access token works, the refresh token rotates.
    assert!(home.access_ok(&access));
    let r = home.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    // Her right password from her own address, and from one she never used.
    assert!(home.login("alice").is_ok());
    assert!(Wire::from(&srv, CAFE).login("alice").is_ok());
    // From the guessing address even the right password waits out the lock.
    let r = guess(&attacker, "alice", PASSWORD);
    assert_eq!(r.status, 429);
    assert_eq!(retry_after(&r), 900);
    assert_eq!(r.body["code"], "locked_out");
    // What was recorded: the 5 checked guesses, from there, and one lock of that pair.
    let failed = audit(&srv, AuditKind::LoginFailed);
    assert_eq!(failed.len(), 5);
    assert!(
        failed
            .iter()
            .all(|e| e.event.address.as_deref() == Some(ATTACKER)
                && e.event.subject == Some(alice.id))
    );
    let locked = audit(&srv, AuditKind::LockedOut);
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].event.detail["scope"], "pair");
    assert_eq!(locked[0].event.address.as_deref(), Some(ATTACKER));
    let sessions = srv
        .engine
        .service
        .sessions_of(&Actor::System, alice.id, true)
        .unwrap();
    assert_eq!(sessions.len(), 3);
    assert!(
        sessions.iter().all(|s| s.revoked_at.is_none()),
        "no session was revoked: {sessions:?}"
    );
    println!(
        "one address, 50 wrong guesses for alice: {t:?}; her session, refresh and right password from {HOME} and {CAFE} unaffected; 0 sessions revoked"
    );
}

#[test]
fn guessing_from_many_addresses_slows_down_but_her_known_address_does_not() {
    let srv = TestServer::start(test_settings());
    let ceiling = srv.engine.settings.LOCKOUT_IDENTIFIER_CEILING as usize;
    srv.engine.user("alice").unwrap();
    let home = Wire::from(&srv, HOME);
    assert!(home.login("alice").is_ok());

    // 40 addresses, 3 guesses each: under each address's own threshold (5).
    let replies: Vec<Reply> = (1..=40)
        .flat_map(|n| {
            let w = Wire::from(&srv, &format!("127.0.1.{n}"));
            (0..3)
                .map(|j| guess(&w, "alice", &format!("guess {n}.{j}")))
                .collect::<Vec<_>>()
        })
        .collect();
    let t = tally(replies.iter().cloned());
    assert_eq!(
        t,
        BTreeMap::from([(401, ceiling), (429, 120 - ceiling)]),
        "the ceiling ({ceiling}) holds across addresses"
    );
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| retry_after(r) == 1),
        "past the ceiling the first delay is one second"
    );
    // Her known address is not delayed; a new one waits like the guessers.
    assert!(home.login("alice").is_ok());
    let cafe = Wire::from(&srv, CAFE);
    let r = guess(&cafe, "alice", PASSWORD);
    assert_eq!((r.status, retry_after(&r)), (429, 1));
    assert_eq!(
        r.body["detail"],
        "Too many failed login attempts. Try again in 1 second."
    );
    // Progressive: each failure past the ceiling doubles the next wait.
    let guesser = Wire::from(&srv, "127.0.1.41");
    let mut waits = Vec::new();
    for _ in 0..4 {
        srv.engine.clock.advance(waits.last().copied().unwrap_or(1));
        assert_eq!(guess(&guesser, "alice", "another guess").status, 401);
        let r = guess(&guesser, "alice", "and another");
        assert_eq!(r.status, 429);
        waits.push(retry_after(&r));
    }
    assert_eq!(waits, [2, 4, 8, 16]);
    // Once the wait is over, her right password from the new address gets in.
    srv.engine.clock.advance(16);
    assert!(cafe.login("alice").is_ok());
    println!(
        "40 addresses x 3 guesses for alice: {t:?} (ceiling {ceiling}, then waits of 1 s doubling: {waits:?}); her known address never waited; a new address got in after the wait"
    );
}

#[test]
fn one_address_guessing_many_usernames_is_blocked_except_for_its_own_users() {
    let threshold = 30;
    let srv = TestServer::start(Settings {
        LOCKOUT_ADDRESS_THRESHOLD: threshold,
        ..test_settings()
    });
    srv.engine.user("alice").unwrap();
    srv.engine.user("bob").unwrap();
    let office = Wire::from(&srv, "127.0.0.4");
    assert!(
        office.login("alice").is_ok(),
        "alice signs in from the office"
    );
    // Credential stuffing from the office: one guess for each of many names.
    let t = tally((0..threshold).map(|n| guess(&office, &format!("user{n}"), "Summer2026!")));
    assert_eq!(t, BTreeMap::from([(401, threshold as usize)]));
    let r = guess(&office, "bob", PASSWORD);
    assert_eq!(
        r.status, 429,
        "the address is blocked, for names it never used"
    );
    assert!(
        office.login("alice").is_ok(),
        "alice, who signs in from there, is not"
    );
    assert!(
        Wire::from(&srv, HOME).login("bob").is_ok(),
        "bob elsewhere is not"
    );
}

#[test]
fn password_change_guesses_count_like_login_guesses() {
    let srv = TestServer::start(test_settings());
    srv.engine.user("alice").unwrap();
    let home = Wire::from(&srv, HOME);
    let (access, _) = home.login("alice").unwrap();
    let (other_access, _) = home.login("alice").unwrap();
    // A thief with her access token, elsewhere, tries old passwords.
    let thief = Wire::from(&srv, ATTACKER);
    let change = |w: &Wire, token: &str, old: &str| {
        w.post(
            "api/password/change/",
            Some(token),
            &json!({"old_password": old, "new_password": "the thief's password 1"}),
        )
    };
    for i in 0..5 {
        let r = change(&thief, &access, &format!("old guess {i}"));
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["old_password"].is_array(), "{}", r.body);
    }
    for old in ["one more guess", PASSWORD] {
        let r = change(&thief, &access, old);
        assert_eq!(r.status, 429, "{}", r.text);
        assert_eq!(retry_after(&r), 900);
    }
    // Nothing changed: her password and her sessions are as they were.
    assert!(home.access_ok(&other_access));
    assert!(home.login("alice").is_ok());
    // From her own address she can still change it herself.
    let r = change(&home, &other_access, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    let failed = audit(&srv, AuditKind::LoginFailed);
    assert_eq!(failed.len(), 5);
    assert!(failed.iter().all(|e| {
        e.event.reason.as_deref() == Some("wrong old password (password change)")
            && e.event.address.as_deref() == Some(ATTACKER)
    }));
}

/// A password typed into the username field (it happens) is a failed login
/// for an identifier that names no account: it must not be stored readable
/// anywhere, in any case, while a real account's name may be.
#[test]
fn nothing_typed_into_the_username_field_is_stored_readable() {
    let srv = TestServer::start(test_settings());
    let root = srv.engine.staff("root").unwrap();
    srv.engine.user("alice").unwrap();
    let typed = "Tr0ub4dor&3-MySecret";
    let w = Wire::from(&srv, ATTACKER);
    for _ in 0..7 {
        guess(&w, typed, "whatever");
    }
    guess(&w, "alice", "wrong");
    let entries = srv
        .engine
        .service
        .audit(
            &warden_tests::staff_actor(&srv.engine.service, root.id),
            &AuditQuery::default(),
        )
        .unwrap();
    let unknown: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| e.event.kind == AuditKind::LoginFailed && e.event.subject.is_none())
        .collect();
    assert_eq!(unknown.len(), 5, "5 checked, 2 refused unchecked");
    let hash = unknown[0].event.detail["identifier_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 32);
    assert!(
        unknown
            .iter()
            .all(|e| e.event.detail["identifier_hash"] == hash),
        "one identifier, one hash: its attempts can be told apart from others"
    );
    let locked = audit(&srv, AuditKind::LockedOut);
    assert!(locked.iter().any(|e| e.event.subject.is_none()));
    let throttles = srv
        .engine
        .service
        .store()
        .throttles_of_user(root.id)
        .unwrap();
    assert!(throttles.is_empty());
    // The audit log as staff read and export it, and the database files themselves.
    let audit_json = serde_json::to_string(&entries).unwrap();
    let mut stored = std::fs::read(srv.engine.db_path()).unwrap();
    let wal = srv.engine.db_path().with_extension("db-wal");
    if let Ok(more) = std::fs::read(&wal) {
        stored.extend(more);
    }
    for form in [
        typed.to_string(),
        typed.to_lowercase(),
        typed.to_uppercase(),
    ] {
        assert!(!audit_json.contains(&form), "{form} in the audit log");
        assert!(
            !stored.windows(form.len()).any(|w| w == form.as_bytes()),
            "{form} is in the database files"
        );
    }
    // A real account is named: by its id, and the lock rows carry it.
    assert!(
        entries
            .iter()
            .any(|e| e.event.subject.is_some() && e.event.kind == AuditKind::LoginFailed)
    );
    let alice = srv.engine.service.user_by_username("alice").unwrap();
    let rows = srv
        .engine
        .service
        .store()
        .throttles_of_user(alice.id)
        .unwrap();
    assert!(rows.iter().any(|r| r.scope == ThrottleScope::Pair));
    assert!(rows.iter().all(|r| !r.key.contains("alice")));
    println!(
        "a password typed as a username, 7 attempts: stored as identifier hash {hash}, absent from the audit log and the database files ({} bytes scanned)",
        stored.len()
    );
}
