//! The behaviour every [`Store`] must show, written against the trait alone so
//! the SQLite store and the PostgreSQL store run the very same checks.
//!
//! Call [`run_all`] with a factory of fresh, empty stores; each check gets its
//! own. The checks are also public one by one ([`CHECKS`]). [`pg`] finds the
//! test PostgreSQL server and makes a fresh schema on it per store.
//!
//! Test code only: a dev-dependency of the store crates (and of the CLI's
//! multi-node tests), never of anything that ships.
#![forbid(unsafe_code)]
// A test suite: a failed check must stop with a message, which is what
// unwrap/expect/panic/assert are for here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod nodes;
pub mod pg;

use std::collections::HashSet;
use std::sync::Barrier;

use warden_auth::lockout::{Ceiling, IdentifierHasher, Limit, LockoutPolicy};
use warden_auth::model::{
    AuditEvent, AuditKind, AuditQuery, ClientInfo, NewSession, NewUser, OutstandingToken,
    RevocationReason, RevokeRequest, RevokeTarget, RevokedJti, RotationOutcome, RotationRequest,
    Session, SessionKind, ThrottleKey, ThrottleRequest, ThrottleScope, ThrottleState, ThrottleStep,
    ThrottleVerdict, User, UserQuery, UserUpdate,
};
use warden_auth::rotation::{RotationPolicy, RotationRefusal};
use warden_auth::{Jti, SessionId, Store, StoreError, UnixTime, UserId};
use warden_proto::TokenType;

/// A fixed instant, so expiries are easy to reason about.
pub const NOW: UnixTime = 1_700_000_000;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

pub const STRICT: RotationPolicy = RotationPolicy {
    blacklist_after_rotation: true,
    grace_period: 0,
};
pub const GRACE: RotationPolicy = RotationPolicy {
    blacklist_after_rotation: true,
    grace_period: 30,
};

/// One behavioural check, run on a fresh store.
pub type Check = fn(&dyn Store);

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("users_round_trip", users_round_trip),
    (
        "usernames_and_emails_are_unique",
        usernames_and_emails_are_unique,
    ),
    ("search_users_filters", search_users_filters),
    ("update_user_applies_changes", update_user_applies_changes),
    (
        "update_user_with_revoke_is_atomic",
        update_user_with_revoke_is_atomic,
    ),
    (
        "delete_user_keeps_revocations",
        delete_user_keeps_revocations,
    ),
    (
        "the_first_account_is_the_only_owner",
        the_first_account_is_the_only_owner,
    ),
    ("throttle_steps_round_trip", throttle_steps_round_trip),
    (
        "throttle_reservations_are_atomic",
        throttle_reservations_are_atomic,
    ),
    (
        "sessions_and_tokens_round_trip",
        sessions_and_tokens_round_trip,
    ),
    ("rotation_moves_the_head", rotation_moves_the_head),
    (
        "rotation_refusals_write_nothing",
        rotation_refusals_write_nothing,
    ),
    ("reuse_revokes_the_family", reuse_revokes_the_family),
    (
        "grace_replay_returns_the_same_successor",
        grace_replay_returns_the_same_successor,
    ),
    ("extend_session_moves_expiry", extend_session_moves_expiry),
    (
        "revoke_sessions_returns_only_live_ones",
        revoke_sessions_returns_only_live_ones,
    ),
    (
        "revoked_jtis_and_live_revocations",
        revoked_jtis_and_live_revocations,
    ),
    ("audit_filters", audit_filters),
    (
        "flush_expired_keeps_what_matters",
        flush_expired_keeps_what_matters,
    ),
    ("concurrent_rotation_strict", concurrent_rotation_strict),
    (
        "concurrent_rotation_with_grace",
        concurrent_rotation_with_grace,
    ),
    ("concurrent_writes_fail_alone", concurrent_writes_fail_alone),
    (
        "feed_records_every_revocation",
        feed_records_every_revocation,
    ),
    (
        "concurrent_revocations_keep_the_feed_gapless",
        concurrent_revocations_keep_the_feed_gapless,
    ),
    (
        "feed_records_every_user_change",
        feed_records_every_user_change,
    ),
    ("logout_all_races_logins", logout_all_races_logins),
    (
        "user_and_session_reads_both_or_none",
        user_and_session_reads_both_or_none,
    ),
];

/// Runs every check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        eprintln!("store conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

// --- fixtures ---

pub fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        email: Some(format!("{}@example.com", username.to_lowercase())),
        email_verified: false,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        is_active: true,
        is_staff: false,
    }
}

pub fn make_user(store: &dyn Store, username: &str) -> User {
    store
        .create_user(
            &new_user(username),
            NOW,
            &[AuditEvent::new(NOW, AuditKind::UserCreated)],
        )
        .unwrap()
}

fn fake_sha256(jti: Jti) -> String {
    format!("{:064x}", jti.0)
}

/// A refresh token of `session`, issued at `at`, living a day.
pub fn refresh_token(session: SessionId, user: UserId, at: UnixTime) -> OutstandingToken {
    let jti = Jti::random();
    OutstandingToken {
        jti,
        session_id: session,
        user_id: user,
        token_type: TokenType::Refresh,
        signing_input_sha256: fake_sha256(jti),
        kid: "k1".into(),
        issued_at: at,
        expires_at: at + DAY,
        parent_jti: None,
        rotated_at: None,
        successor_jti: None,
        address: Some("192.0.2.1".into()),
    }
}

/// A login of `user` at `at`: session capped at 30 days, first token a day.
pub fn new_session(user: UserId, at: UnixTime) -> NewSession {
    let id = SessionId::random();
    let token = refresh_token(id, user, at);
    NewSession {
        session: Session {
            id,
            user_id: user,
            kind: SessionKind::Pair,
            client: ClientInfo {
                device_label: Some("laptop".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Warden-Test/1.0".into()),
                address: Some("192.0.2.1".into()),
            },
            created_at: at,
            last_rotated_at: None,
            rotation_count: 0,
            head_jti: token.jti,
            expires_at: token.expires_at,
            max_expires_at: at + 30 * DAY,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
        },
        token,
        audit: vec![
            AuditEvent::new(at, AuditKind::LoginSucceeded)
                .subject(user)
                .session(id),
        ],
    }
}

pub fn open_session(store: &dyn Store, user: UserId, at: UnixTime) -> NewSession {
    let new = new_session(user, at);
    store.open_session(&new).unwrap();
    new
}

/// A request to rotate `presented` at `now` into a fresh successor.
pub fn rotation(
    presented: &OutstandingToken,
    now: UnixTime,
    policy: RotationPolicy,
) -> RotationRequest {
    let mut successor = refresh_token(presented.session_id, presented.user_id, now);
    successor.parent_jti = Some(presented.jti);
    RotationRequest {
        presented_jti: presented.jti,
        presented_signing_input_sha256: presented.signing_input_sha256.clone(),
        successor,
        now,
        policy,
        address: Some("198.51.100.7".into()),
    }
}

fn revoke_request(target: RevokeTarget, reason: RevocationReason, now: UnixTime) -> RevokeRequest {
    RevokeRequest {
        target,
        reason,
        actor: None,
        now,
        audit: Vec::new(),
    }
}

fn audit_all(store: &dyn Store) -> Vec<warden_auth::model::AuditEntry> {
    store
        .audit(&AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        })
        .unwrap()
}

fn kinds_of(entries: &[warden_auth::model::AuditEntry]) -> Vec<AuditKind> {
    entries.iter().map(|e| e.event.kind).collect()
}

fn is_conflict_naming(err: &StoreError, what: &str) -> bool {
    matches!(err, StoreError::Conflict(m) if m.to_string().to_lowercase().contains(what))
}

// --- users ---

pub fn users_round_trip(store: &dyn Store) {
    let created = make_user(store, "Alice");
    assert_eq!(created.username, "Alice");
    assert_eq!(created.email.as_deref(), Some("alice@example.com"));
    assert_eq!(created.created_at, NOW);
    assert!(created.is_active && !created.is_staff && !created.email_verified);
    assert_eq!(created.last_login, None);
    assert!(created.password_hash.starts_with("$argon2id$"));

    assert_eq!(store.user(created.id).unwrap(), Some(created.clone()));
    assert_eq!(
        store.user_by_username("aLiCe").unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store.user_by_email("ALICE@Example.COM").unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.user(created.id + 1000).unwrap(), None);
    assert_eq!(store.user_by_username("bob").unwrap(), None);
    assert_eq!(store.user_by_email("").unwrap(), None);

    // The creation's audit line is about the new user, though the caller
    // could not know its id.
    let lines = audit_all(store);
    assert_eq!(kinds_of(&lines), [AuditKind::UserCreated]);
    assert_eq!(lines[0].event.subject, Some(created.id));

    // Ids are distinct and never reused after a delete.
    let bob = make_user(store, "bob");
    assert_ne!(bob.id, created.id);
    assert!(store.delete_user(bob.id, NOW, &[]).unwrap());
    let bob2 = make_user(store, "bob");
    assert!(
        bob2.id > bob.id,
        "a deleted user's id must not be handed out again"
    );
}

pub fn usernames_and_emails_are_unique(store: &dyn Store) {
    let alice = make_user(store, "Alice");
    let before = audit_all(store).len();

    let err = store
        .create_user(
            &new_user("aLICE"),
            NOW,
            &[AuditEvent::new(NOW, AuditKind::UserCreated)],
        )
        .unwrap_err();
    assert!(is_conflict_naming(&err, "username"), "{err:?}");

    let mut other = new_user("alice2");
    other.email = Some("ALICE@EXAMPLE.com".into());
    let err = store.create_user(&other, NOW, &[]).unwrap_err();
    assert!(is_conflict_naming(&err, "email"), "{err:?}");

    // Beyond ASCII too.
    make_user(store, "Émile");
    let err = store.create_user(&new_user("émile"), NOW, &[]).unwrap_err();
    assert!(is_conflict_naming(&err, "username"), "{err:?}");

    // A failed create writes nothing, audit included.
    assert_eq!(audit_all(store).len(), before + 1);
    assert_eq!(
        store.user_by_username("alice").unwrap().unwrap().id,
        alice.id
    );

    // Users without an e-mail do not collide with each other.
    for name in ["nomail1", "nomail2"] {
        let mut u = new_user(name);
        u.email = None;
        store.create_user(&u, NOW, &[]).unwrap();
    }
    // An e-mail change onto a taken address is a conflict too.
    let bob = make_user(store, "bob");
    let err = store
        .update_user(
            bob.id,
            &UserUpdate {
                email: Some(Some("Alice@example.com".into())),
                ..UserUpdate::default()
            },
            None,
            &[],
        )
        .unwrap_err();
    assert!(is_conflict_naming(&err, "email"), "{err:?}");
    assert_eq!(
        store.user(bob.id).unwrap().unwrap().email.as_deref(),
        Some("bob@example.com")
    );
}

pub fn search_users_filters(store: &dyn Store) {
    let alice = make_user(store, "Alice");
    let bob = make_user(store, "bob_the_builder");
    let carol = make_user(store, "Carol");
    let percent = make_user(store, "100%real");
    let staff = make_user(store, "StaffPerson");
    store
        .update_user(
            staff.id,
            &UserUpdate {
                is_staff: Some(true),
                ..UserUpdate::default()
            },
            None,
            &[],
        )
        .unwrap();
    store
        .update_user(
            carol.id,
            &UserUpdate {
                is_active: Some(false),
                locked_until: Some(Some(NOW + HOUR)),
                ..UserUpdate::default()
            },
            None,
            &[],
        )
        .unwrap();
    let ids = |q: UserQuery| -> Vec<UserId> {
        store
            .search_users(&q)
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect()
    };
    let text = |t: &str| UserQuery {
        text: Some(t.into()),
        ..UserQuery::default()
    };

    assert_eq!(ids(UserQuery::default()).len(), 5);
    assert_eq!(ids(text("ALI")), [alice.id]);
    // E-mail matches too (every fixture e-mail is @example.com).
    assert_eq!(ids(text("EXAMPLE.COM")).len(), 5);
    // LIKE wildcards are plain characters.
    assert_eq!(ids(text("%")), [percent.id]);
    assert_eq!(ids(text("_")), [bob.id]);
    assert_eq!(ids(text("zzz")), Vec::<UserId>::new());
    assert_eq!(
        ids(UserQuery {
            staff: Some(true),
            ..UserQuery::default()
        }),
        [staff.id]
    );
    assert_eq!(
        ids(UserQuery {
            active: Some(false),
            ..UserQuery::default()
        }),
        [carol.id]
    );
    assert_eq!(
        ids(UserQuery {
            locked_at: Some(NOW),
            ..UserQuery::default()
        }),
        [carol.id]
    );
    assert_eq!(
        ids(UserQuery {
            locked_at: Some(NOW + HOUR),
            ..UserQuery::default()
        }),
        Vec::<UserId>::new(),
        "a lock that ended is not a lock"
    );
    assert_eq!(
        ids(UserQuery {
            text: Some("a".into()),
            active: Some(true),
            staff: Some(false),
            ..UserQuery::default()
        }),
        [alice.id, bob.id, percent.id]
    );
    // Paging, in id order.
    let all = ids(UserQuery::default());
    assert_eq!(
        ids(UserQuery {
            limit: 2,
            offset: 1,
            ..UserQuery::default()
        }),
        all[1..3]
    );
}

pub fn update_user_applies_changes(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let (updated, revoked) = store
        .update_user(
            alice.id,
            &UserUpdate {
                password_hash: Some("$argon2id$new".into()),
                password_changed_at: Some(NOW + 5),
                email: Some(Some("New@Example.com".into())),
                email_verified: Some(true),
                is_active: Some(false),
                is_staff: Some(true),
                locked_until: Some(Some(i64::MAX)),
                last_login: Some(NOW + 3),
            },
            None,
            &[AuditEvent::new(NOW + 5, AuditKind::PasswordChanged).subject(alice.id)],
        )
        .unwrap()
        .unwrap();
    assert!(revoked.is_empty());
    assert_eq!(updated.password_hash, "$argon2id$new");
    assert_eq!(updated.password_changed_at, Some(NOW + 5));
    assert_eq!(updated.email.as_deref(), Some("New@Example.com"));
    assert!(updated.email_verified && !updated.is_active && updated.is_staff);
    assert_eq!(updated.locked_until, Some(i64::MAX));
    assert_eq!(updated.last_login, Some(NOW + 3));
    assert_eq!(store.user(alice.id).unwrap(), Some(updated.clone()));
    assert_eq!(
        store.user_by_email("new@example.com").unwrap(),
        Some(updated)
    );
    assert_eq!(store.user_by_email("alice@example.com").unwrap(), None);

    // Fields left as None stay; Some(None) clears.
    let (cleared, _) = store
        .update_user(
            alice.id,
            &UserUpdate {
                email: Some(None),
                locked_until: Some(None),
                ..UserUpdate::default()
            },
            None,
            &[],
        )
        .unwrap()
        .unwrap();
    assert_eq!(cleared.email, None);
    assert_eq!(cleared.locked_until, None);
    assert_eq!(cleared.password_hash, "$argon2id$new");

    // An unknown user: None, and nothing written.
    let before = audit_all(store).len();
    assert!(
        store
            .update_user(
                alice.id + 999,
                &UserUpdate::default(),
                None,
                &[AuditEvent::new(NOW, AuditKind::UserLocked)]
            )
            .unwrap()
            .is_none()
    );
    assert_eq!(audit_all(store).len(), before);
}

pub fn update_user_with_revoke_is_atomic(store: &dyn Store) {
    let alice = make_user(store, "alice");
    make_user(store, "bob");
    let keep = open_session(store, alice.id, NOW);
    let a = open_session(store, alice.id, NOW + 1);
    let b = open_session(store, alice.id, NOW + 2);
    let revoke = RevokeRequest {
        target: RevokeTarget::User {
            user_id: alice.id,
            except: Some(keep.session.id),
        },
        reason: RevocationReason::PasswordChanged,
        actor: None,
        now: NOW + 10,
        audit: vec![AuditEvent::new(NOW + 10, AuditKind::LogoutAll).subject(alice.id)],
    };

    // The update fails (e-mail taken): the revocation must not happen either.
    let audit_before = audit_all(store).len();
    let err = store
        .update_user(
            alice.id,
            &UserUpdate {
                password_hash: Some("$argon2id$x".into()),
                email: Some(Some("bob@example.com".into())),
                ..UserUpdate::default()
            },
            Some(&revoke),
            &[AuditEvent::new(NOW + 10, AuditKind::PasswordChanged)],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.sessions_of_user(alice.id, false).unwrap().len(), 3);
    assert_eq!(audit_all(store).len(), audit_before);
    assert_eq!(
        store.user(alice.id).unwrap().unwrap().password_hash,
        alice.password_hash
    );

    // It succeeds: both happen, and only the two other sessions are returned.
    let (user, revoked) = store
        .update_user(
            alice.id,
            &UserUpdate {
                password_hash: Some("$argon2id$x".into()),
                password_changed_at: Some(NOW + 10),
                ..UserUpdate::default()
            },
            Some(&revoke),
            &[AuditEvent::new(NOW + 10, AuditKind::PasswordChanged).subject(alice.id)],
        )
        .unwrap()
        .unwrap();
    assert_eq!(user.password_hash, "$argon2id$x");
    let got: HashSet<SessionId> = revoked.iter().map(|r| r.id).collect();
    assert_eq!(got, HashSet::from([a.session.id, b.session.id]));
    assert!(revoked.iter().all(|r| r.user_id == alice.id));
    let live = store.sessions_of_user(alice.id, false).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, keep.session.id);
    let gone = store.session(a.session.id).unwrap().unwrap();
    assert_eq!(gone.revoked_at, Some(NOW + 10));
    assert_eq!(gone.revoked_reason, Some(RevocationReason::PasswordChanged));
    let kinds = kinds_of(&audit_all(store)[..2]);
    assert!(kinds.contains(&AuditKind::PasswordChanged) && kinds.contains(&AuditKind::LogoutAll));
}

pub fn delete_user_keeps_revocations(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let s1 = open_session(store, alice.id, NOW);
    let s2 = open_session(store, alice.id, NOW);
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(s2.session.id),
            RevocationReason::Logout,
            NOW + 1,
        ))
        .unwrap();

    assert!(
        store
            .delete_user(
                alice.id,
                NOW + 5,
                &[AuditEvent::new(NOW + 5, AuditKind::UserDeleted).subject(alice.id)]
            )
            .unwrap()
    );
    assert_eq!(store.user(alice.id).unwrap(), None);
    assert_eq!(store.user_by_username("alice").unwrap(), None);
    let s1_after = store.session(s1.session.id).unwrap().unwrap();
    assert_eq!(s1_after.revoked_reason, Some(RevocationReason::UserDeleted));
    assert_eq!(s1_after.revoked_at, Some(NOW + 5));
    // The earlier revocation keeps its own reason.
    let s2_after = store.session(s2.session.id).unwrap().unwrap();
    assert_eq!(s2_after.revoked_reason, Some(RevocationReason::Logout));

    // Both revocations stay visible until the sessions' tokens expire anyway,
    // flush or not.
    store.flush_expired(NOW + 6, HOUR).unwrap();
    let live = store.live_revocations(NOW + 6, HOUR).unwrap();
    let ids: HashSet<SessionId> = live.sessions.iter().map(|(id, _, _)| *id).collect();
    assert!(ids.contains(&s1.session.id) && ids.contains(&s2.session.id));
    assert!(kinds_of(&audit_all(store)).contains(&AuditKind::UserDeleted));

    // A rotation of the deleted user's token is refused.
    let outcome = store.rotate(&rotation(&s1.token, NOW + 7, STRICT)).unwrap();
    assert_eq!(
        outcome,
        RotationOutcome::Refused(RotationRefusal::SessionRevoked(Some(
            RevocationReason::UserDeleted
        )))
    );

    assert!(!store.delete_user(alice.id, NOW + 8, &[]).unwrap());
    // The name is free again, for a new user with a new id and no sessions.
    let again = make_user(store, "alice");
    assert_ne!(again.id, alice.id);
    assert!(store.sessions_of_user(again.id, true).unwrap().is_empty());
}

/// Concurrent first accounts, each on its own thread (own connection on
/// PostgreSQL): exactly one is made the owner, with its own audit lines.
pub fn the_first_account_is_the_only_owner(store: &dyn Store) {
    let n = 8;
    let barrier = Barrier::new(n);
    let users: Vec<User> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    store
                        .create_owner_or_user(
                            &new_user(&format!("first{i}")),
                            NOW,
                            &[AuditEvent::new(NOW, AuditKind::UserCreated)],
                            &[
                                AuditEvent::new(NOW, AuditKind::UserCreated),
                                AuditEvent::new(NOW, AuditKind::StaffGranted),
                            ],
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let owners: Vec<&User> = users.iter().filter(|u| u.is_staff).collect();
    assert_eq!(owners.len(), 1, "{users:?}");
    let granted = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::StaffGranted],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].event.subject, Some(owners[0].id));
    // Later accounts are not owners; a taken name is a conflict, as for create_user.
    let later = store
        .create_owner_or_user(&new_user("later"), NOW, &[], &[])
        .unwrap();
    assert!(!later.is_staff);
    assert!(matches!(
        store.create_owner_or_user(&new_user("FIRST0"), NOW, &[], &[]),
        Err(StoreError::Conflict(_))
    ));
}

// --- throttling ---

fn throttle_policy() -> LockoutPolicy {
    LockoutPolicy {
        pair: Some(Limit {
            threshold: 3,
            window: 300,
            lock_for: 900,
        }),
        identifier: Some(Ceiling {
            ceiling: 10,
            window: DAY,
            max_delay: 900,
        }),
        address: Some(Limit {
            threshold: 20,
            window: 300,
            lock_for: 900,
        }),
        known_for: 30 * DAY,
        attempt_timeout: 60,
    }
}

/// The rows one attempt of `who` from `address` touches.
pub fn throttle_keys(who: &str, address: &str, user: Option<UserId>) -> Vec<ThrottleKey> {
    IdentifierHasher::new(b"conformance").keys(who, Some(address), user, &throttle_policy())
}

fn throttle_step(
    store: &dyn Store,
    keys: &[ThrottleKey],
    step: ThrottleStep,
    at: UnixTime,
    audit: Vec<AuditEvent>,
) -> ThrottleVerdict {
    store
        .apply_throttle(&ThrottleRequest {
            keys: keys.to_vec(),
            step,
            now: at,
            policy: throttle_policy(),
            audit,
        })
        .unwrap()
}

fn throttle_row(store: &dyn Store, key: &ThrottleKey) -> Option<ThrottleState> {
    let mut found = store.throttles(std::slice::from_ref(&key.key)).unwrap();
    assert!(found.len() <= 1);
    found.pop()
}

pub fn throttle_steps_round_trip(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let keys = throttle_keys("alice", "198.51.100.7", Some(alice.id));
    assert!(store.throttles(&[keys[0].key.clone()]).unwrap().is_empty());
    // Reserve: every row of the attempt is written, with the attempt pending.
    let verdict = throttle_step(store, &keys, ThrottleStep::Reserve, NOW, vec![]);
    assert_eq!(
        verdict,
        ThrottleVerdict::Admitted {
            charged: vec![
                ThrottleScope::Pair,
                ThrottleScope::Identifier,
                ThrottleScope::Address
            ]
        }
    );
    let pair = throttle_row(store, &keys[0]).unwrap();
    assert_eq!(
        (pair.scope, pair.user_id, pair.address.as_deref()),
        (ThrottleScope::Pair, Some(alice.id), Some("198.51.100.7"))
    );
    assert_eq!(
        (pair.failures, pair.pending, pair.pending_until),
        (0, 1, Some(NOW + 60))
    );
    let found = store
        .throttles(&keys.iter().map(|k| k.key.clone()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(found.len(), 3);
    // Failed, with its audit line in the same transaction.
    let failed = |at: UnixTime| {
        throttle_step(
            store,
            &keys,
            ThrottleStep::Failed,
            at,
            vec![AuditEvent::new(at, AuditKind::LoginFailed).subject(alice.id)],
        )
    };
    assert_eq!(failed(NOW), ThrottleVerdict::Settled { locked: vec![] });
    let pair = throttle_row(store, &keys[0]).unwrap();
    assert_eq!(
        (pair.failures, pair.pending, pair.pending_until),
        (1, 0, None)
    );
    // Up to the threshold: the third failure locks the pair (and says so in the audit log).
    for at in [NOW + 1, NOW + 2] {
        throttle_step(store, &keys, ThrottleStep::Reserve, at, vec![]);
    }
    failed(NOW + 3);
    assert_eq!(
        failed(NOW + 4),
        ThrottleVerdict::Settled {
            locked: vec![ThrottleScope::Pair]
        }
    );
    let pair = throttle_row(store, &keys[0]).unwrap();
    assert_eq!((pair.failures, pair.locked_until), (3, Some(NOW + 904)));
    assert!(pair.expires_at >= NOW + 904);
    assert_eq!(
        throttle_step(store, &keys, ThrottleStep::Reserve, NOW + 5, vec![]),
        ThrottleVerdict::Refused { retry_after: 899 }
    );
    let audit = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::LoginFailed, AuditKind::LockedOut],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert!(
        audit
            .iter()
            .any(|e| e.event.kind == AuditKind::LockedOut && e.event.subject == Some(alice.id))
    );
    // The rows that name alice, for the staff console; another user's are not among them.
    let bob = make_user(store, "bob");
    let bobs = throttle_keys("bob", "203.0.113.1", Some(bob.id));
    throttle_step(store, &bobs, ThrottleStep::Reserve, NOW, vec![]);
    throttle_step(store, &bobs, ThrottleStep::Failed, NOW, vec![]);
    let ghost = throttle_keys("ghost", "203.0.113.1", None);
    throttle_step(store, &ghost, ThrottleStep::Reserve, NOW, vec![]);
    let of_alice = store.throttles_of_user(alice.id).unwrap();
    assert_eq!(of_alice.len(), 2, "pair and identifier: {of_alice:?}");
    assert!(of_alice.iter().all(|r| r.user_id == Some(alice.id)));
    // Staff unlock lifts alice's lock and failures, and nothing of bob's.
    assert_eq!(store.clear_throttles_of_user(alice.id).unwrap(), 2);
    let pair = throttle_row(store, &keys[0]).unwrap();
    assert_eq!((pair.failures, pair.locked_until), (0, None));
    assert!(matches!(
        throttle_step(store, &keys, ThrottleStep::Reserve, NOW + 6, vec![]),
        ThrottleVerdict::Admitted { .. }
    ));
    assert_eq!(throttle_row(store, &bobs[0]).unwrap().failures, 1);
    assert_eq!(store.clear_throttles_of_user(999_999).unwrap(), 0);
    // A right password: the pair starts over and remembers the address.
    throttle_step(store, &keys, ThrottleStep::Succeeded, NOW + 7, vec![]);
    let pair = throttle_row(store, &keys[0]).unwrap();
    assert_eq!(
        (pair.failures, pair.pending, pair.last_success_at),
        (0, 0, Some(NOW + 7))
    );
    assert_eq!(pair.expires_at, NOW + 7 + 30 * DAY);
}

/// Parallel reservations on one identifier, each on its own thread (on
/// PostgreSQL, its own connection: as good as another node): the store's
/// transaction admits exactly the threshold, never one more.
pub fn throttle_reservations_are_atomic(store: &dyn Store) {
    let keys = throttle_keys("alice", "198.51.100.7", None);
    let n = 24;
    let barrier = Barrier::new(n);
    let verdicts: Vec<ThrottleVerdict> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    throttle_step(store, &keys, ThrottleStep::Reserve, NOW, vec![])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let admitted = verdicts
        .iter()
        .filter(|v| matches!(v, ThrottleVerdict::Admitted { .. }))
        .count();
    let waiting = verdicts
        .iter()
        .filter(|v| **v == ThrottleVerdict::Wait)
        .count();
    assert_eq!((admitted, waiting), (3, n - 3), "{verdicts:?}");
    assert_eq!(throttle_row(store, &keys[0]).unwrap().pending, 3);
}

// --- sessions, tokens, rotation ---

pub fn sessions_and_tokens_round_trip(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let bob = make_user(store, "bob");
    let first = open_session(store, alice.id, NOW);
    let second = open_session(store, alice.id, NOW + 60);
    let mut bare = new_session(bob.id, NOW);
    bare.session.client = ClientInfo::default();
    bare.session.kind = SessionKind::Sliding;
    bare.token.token_type = TokenType::Sliding;
    bare.token.address = None;
    store.open_session(&bare).unwrap();

    assert_eq!(
        store.session(first.session.id).unwrap(),
        Some(first.session.clone())
    );
    assert_eq!(
        store.session(bare.session.id).unwrap(),
        Some(bare.session.clone())
    );
    assert_eq!(store.session(SessionId::random()).unwrap(), None);
    assert_eq!(
        store
            .outstanding(first.token.session_id, first.token.jti)
            .unwrap(),
        Some(first.token.clone())
    );
    assert_eq!(
        store
            .outstanding(bare.token.session_id, bare.token.jti)
            .unwrap(),
        Some(bare.token.clone())
    );
    assert_eq!(
        store
            .outstanding(first.token.session_id, Jti::random())
            .unwrap(),
        None
    );
    assert_eq!(
        store.tokens_of_session(first.session.id).unwrap(),
        std::slice::from_ref(&first.token)
    );
    assert_eq!(
        store.user(alice.id).unwrap().unwrap().last_login,
        Some(NOW + 60),
        "open_session sets last_login to the session's created_at"
    );

    // Newest first.
    let listed: Vec<SessionId> = store
        .sessions_of_user(alice.id, false)
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [second.session.id, first.session.id]);

    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(first.session.id),
            RevocationReason::Logout,
            NOW + 100,
        ))
        .unwrap();
    assert_eq!(store.sessions_of_user(alice.id, false).unwrap().len(), 1);
    assert_eq!(store.sessions_of_user(alice.id, true).unwrap().len(), 2);

    // The same session twice is a conflict, and leaves nothing behind.
    let mut dup = new_session(alice.id, NOW);
    dup.session.id = first.session.id;
    dup.token.session_id = first.session.id;
    assert!(matches!(
        store.open_session(&dup),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.sessions_of_user(alice.id, true).unwrap().len(), 2);
    // So is a jti twice, in one session or across two: a successor that
    // reuses its session's jti, or another session's, changes nothing.
    let mut same_jti = rotation(&second.token, NOW + 70, STRICT);
    same_jti.successor.jti = second.token.jti;
    assert!(matches!(
        store.rotate(&same_jti),
        Err(StoreError::Conflict(_))
    ));
    let mut other_jti = rotation(&second.token, NOW + 70, STRICT);
    other_jti.successor.jti = first.token.jti;
    assert!(matches!(
        store.rotate(&other_jti),
        Err(StoreError::Conflict(_))
    ));
    let unchanged = store.session(second.session.id).unwrap().unwrap();
    assert_eq!(
        (unchanged.head_jti, unchanged.rotation_count),
        (second.token.jti, 0)
    );
    assert_eq!(
        store
            .tokens_of_session(second.session.id)
            .unwrap()
            .iter()
            .map(|t| t.jti)
            .collect::<Vec<_>>(),
        [second.token.jti]
    );
    // No session for a user that does not exist (or was deleted meanwhile).
    let ghost = new_session(alice.id + 999, NOW);
    assert!(matches!(
        store.open_session(&ghost),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.session(ghost.session.id).unwrap(), None);

    let logins = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::LoginSucceeded],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(logins.len(), 3);
}

pub fn rotation_moves_the_head(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let request = rotation(&login.token, NOW + 300, STRICT);
    let RotationOutcome::Rotated { session, successor } = store.rotate(&request).unwrap() else {
        panic!("the head token must rotate");
    };
    assert_eq!(successor.jti, request.successor.jti);
    assert_eq!(successor.parent_jti, Some(login.token.jti));
    assert_eq!(session.head_jti, successor.jti);
    assert_eq!(session.expires_at, successor.expires_at);
    assert_eq!(session.last_rotated_at, Some(NOW + 300));
    assert_eq!(session.rotation_count, 1);
    assert_eq!(session.max_expires_at, login.session.max_expires_at);
    assert_eq!(store.session(session.id).unwrap(), Some(session.clone()));

    let old = store
        .outstanding(login.token.session_id, login.token.jti)
        .unwrap()
        .unwrap();
    assert_eq!(old.rotated_at, Some(NOW + 300));
    assert_eq!(old.successor_jti, Some(successor.jti));
    assert_eq!(
        store
            .outstanding(successor.session_id, successor.jti)
            .unwrap(),
        Some(successor.clone())
    );

    // A second rotation continues the chain, in issue order.
    let next = rotation(&successor, NOW + 600, STRICT);
    let RotationOutcome::Rotated { session, .. } = store.rotate(&next).unwrap() else {
        panic!("the new head must rotate");
    };
    assert_eq!(session.rotation_count, 2);
    let chain: Vec<Jti> = store
        .tokens_of_session(session.id)
        .unwrap()
        .iter()
        .map(|t| t.jti)
        .collect();
    assert_eq!(chain, [login.token.jti, successor.jti, next.successor.jti]);

    let rotated = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::Rotated],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(rotated.len(), 2);
    assert_eq!(rotated[1].event.jti, Some(login.token.jti));
    assert_eq!(rotated[1].event.session_id, Some(session.id));
    assert_eq!(rotated[1].event.subject, Some(alice.id));
    assert_eq!(rotated[1].event.address.as_deref(), Some("198.51.100.7"));
    // By session, with the session's other lines, newest first; another
    // session of the same user shows none of them.
    let other = open_session(store, alice.id, NOW + 1);
    let of = |id: SessionId| {
        kinds_of(
            &store
                .audit(&AuditQuery {
                    session_id: Some(id),
                    ..AuditQuery::default()
                })
                .unwrap(),
        )
    };
    assert_eq!(
        of(session.id),
        [
            AuditKind::Rotated,
            AuditKind::Rotated,
            AuditKind::LoginSucceeded
        ]
    );
    assert_eq!(of(other.session.id), [AuditKind::LoginSucceeded]);
}

pub fn rotation_refusals_write_nothing(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let audit_before = audit_all(store).len();
    let refused = |request: &RotationRequest| match store.rotate(request).unwrap() {
        RotationOutcome::Refused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    };

    let unknown = refresh_token(login.session.id, alice.id, NOW);
    assert_eq!(
        refused(&rotation(&unknown, NOW + 1, STRICT)),
        RotationRefusal::NotOutstanding
    );
    let mut wrong = rotation(&login.token, NOW + 1, STRICT);
    wrong.presented_signing_input_sha256 = "0".repeat(64);
    assert_eq!(refused(&wrong), RotationRefusal::Mismatch);
    assert_eq!(
        refused(&rotation(&login.token, login.token.expires_at, STRICT)),
        RotationRefusal::Expired
    );

    assert_eq!(audit_all(store).len(), audit_before);
    assert_eq!(
        store.tokens_of_session(login.session.id).unwrap(),
        std::slice::from_ref(&login.token)
    );
    assert_eq!(
        store.session(login.session.id).unwrap(),
        Some(login.session.clone())
    );

    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(login.session.id),
            RevocationReason::Logout,
            NOW + 2,
        ))
        .unwrap();
    assert_eq!(
        refused(&rotation(&login.token, NOW + 3, STRICT)),
        RotationRefusal::SessionRevoked(Some(RevocationReason::Logout))
    );
    assert_eq!(store.tokens_of_session(login.session.id).unwrap().len(), 1);
}

pub fn reuse_revokes_the_family(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let other = open_session(store, alice.id, NOW);
    let first = rotation(&login.token, NOW + 10, STRICT);
    assert!(matches!(
        store.rotate(&first).unwrap(),
        RotationOutcome::Rotated { .. }
    ));

    // The rotated-away token again, even a second later: reuse.
    let replay = rotation(&login.token, NOW + 11, STRICT);
    let RotationOutcome::ReuseDetected { session } = store.rotate(&replay).unwrap() else {
        panic!("presenting a rotated-away token is reuse");
    };
    assert_eq!(session.revoked_at, Some(NOW + 11));
    assert_eq!(
        session.revoked_reason,
        Some(RevocationReason::ReuseDetected)
    );
    assert_eq!(session.revoked_by, None);
    assert_eq!(store.session(session.id).unwrap(), Some(session.clone()));
    // The replay's successor was never written.
    assert_eq!(
        store
            .outstanding(replay.successor.session_id, replay.successor.jti)
            .unwrap(),
        None
    );

    // The whole family is dead: the current head cannot rotate either.
    let head = store
        .outstanding(first.successor.session_id, first.successor.jti)
        .unwrap()
        .unwrap();
    assert_eq!(
        store.rotate(&rotation(&head, NOW + 12, STRICT)).unwrap(),
        RotationOutcome::Refused(RotationRefusal::SessionRevoked(Some(
            RevocationReason::ReuseDetected
        )))
    );
    // Other sessions are untouched.
    assert!(
        !store
            .session(other.session.id)
            .unwrap()
            .unwrap()
            .is_revoked()
    );

    let reuse = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::ReuseDetected],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].event.jti, Some(login.token.jti));
    assert_eq!(reuse[0].event.session_id, Some(session.id));
    assert_eq!(reuse[0].event.subject, Some(alice.id));

    let live = store.live_revocations(NOW + 12, HOUR).unwrap();
    assert_eq!(
        live.sessions,
        [(
            session.id,
            session.max_expires_at,
            Some(RevocationReason::ReuseDetected)
        )]
    );
}

pub fn grace_replay_returns_the_same_successor(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let first = rotation(&login.token, NOW, GRACE);
    let RotationOutcome::Rotated { successor, .. } = store.rotate(&first).unwrap() else {
        panic!("the head token must rotate");
    };

    // A retry within the window gets the existing successor, not its own.
    let retry = rotation(&login.token, NOW + 30, GRACE);
    let RotationOutcome::GraceReplay {
        session,
        successor: again,
    } = store.rotate(&retry).unwrap()
    else {
        panic!("a retry within the grace period is replayed");
    };
    assert_eq!(again, successor);
    assert_eq!(session.head_jti, successor.jti);
    assert!(!session.is_revoked());
    assert_eq!(
        store
            .outstanding(retry.successor.session_id, retry.successor.jti)
            .unwrap(),
        None
    );
    assert_eq!(store.tokens_of_session(login.session.id).unwrap().len(), 2);
    let replays = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::GraceReplay],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0].event.jti, Some(login.token.jti));

    // Past the window it is reuse.
    let late = rotation(&login.token, NOW + 31, GRACE);
    assert!(matches!(
        store.rotate(&late).unwrap(),
        RotationOutcome::ReuseDetected { .. }
    ));
}

pub fn extend_session_moves_expiry(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let mut new = new_session(alice.id, NOW);
    new.session.kind = SessionKind::Sliding;
    new.token.token_type = TokenType::Sliding;
    store.open_session(&new).unwrap();

    store
        .extend_session(new.session.id, NOW + 2 * DAY, NOW + HOUR)
        .unwrap();
    let s = store.session(new.session.id).unwrap().unwrap();
    assert_eq!(s.expires_at, NOW + 2 * DAY);
    assert_eq!(s.head_jti, new.token.jti, "sliding refresh keeps the jti");
    assert_eq!(s.last_rotated_at, Some(NOW + HOUR));
    assert_eq!(s.rotation_count, 1);
    assert!(
        store
            .outstanding(new.token.session_id, new.token.jti)
            .unwrap()
            .is_some()
    );

    // Never past the absolute cap.
    store
        .extend_session(new.session.id, NOW + 365 * DAY, NOW + 2 * HOUR)
        .unwrap();
    assert_eq!(
        store.session(new.session.id).unwrap().unwrap().expires_at,
        new.session.max_expires_at
    );

    // A revoked session stays as it is.
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(new.session.id),
            RevocationReason::Logout,
            NOW + 3 * HOUR,
        ))
        .unwrap();
    let before = store.session(new.session.id).unwrap().unwrap();
    store
        .extend_session(new.session.id, NOW + 3 * DAY, NOW + 4 * HOUR)
        .unwrap();
    assert_eq!(store.session(new.session.id).unwrap(), Some(before));
    store
        .extend_session(SessionId::random(), NOW + DAY, NOW)
        .unwrap();
}

pub fn revoke_sessions_returns_only_live_ones(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let bob = make_user(store, "bob");
    let a1 = open_session(store, alice.id, NOW);
    let a2 = open_session(store, alice.id, NOW + 1);
    let a3 = open_session(store, alice.id, NOW + 2);
    let b1 = open_session(store, bob.id, NOW);

    let one = store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(a1.session.id),
            RevocationReason::Logout,
            NOW + 10,
        ))
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, a1.session.id);
    assert_eq!(one[0].user_id, alice.id);
    assert_eq!(one[0].max_expires_at, a1.session.max_expires_at);
    // Already revoked: nothing to return, and the first revocation stands.
    assert!(
        store
            .revoke_sessions(&revoke_request(
                RevokeTarget::Session(a1.session.id),
                RevocationReason::StaffRevoked,
                NOW + 11,
            ))
            .unwrap()
            .is_empty()
    );
    let a1_now = store.session(a1.session.id).unwrap().unwrap();
    assert_eq!(
        (a1_now.revoked_at, a1_now.revoked_reason),
        (Some(NOW + 10), Some(RevocationReason::Logout))
    );

    let all = store
        .revoke_sessions(&RevokeRequest {
            target: RevokeTarget::User {
                user_id: alice.id,
                except: Some(a3.session.id),
            },
            reason: RevocationReason::StaffRevoked,
            actor: Some(bob.id),
            now: NOW + 20,
            audit: vec![
                AuditEvent::new(NOW + 20, AuditKind::SessionRevoked)
                    .subject(alice.id)
                    .actor(Some(bob.id)),
            ],
        })
        .unwrap();
    assert_eq!(all.len(), 1, "a1 was revoked already and a3 is spared");
    assert_eq!(all[0].id, a2.session.id);
    let a2_now = store.session(a2.session.id).unwrap().unwrap();
    assert_eq!(a2_now.revoked_by, Some(bob.id));
    assert_eq!(a2_now.revoked_reason, Some(RevocationReason::StaffRevoked));
    assert!(!store.session(a3.session.id).unwrap().unwrap().is_revoked());
    assert!(!store.session(b1.session.id).unwrap().unwrap().is_revoked());

    let rest = store
        .revoke_sessions(&revoke_request(
            RevokeTarget::User {
                user_id: alice.id,
                except: None,
            },
            RevocationReason::LogoutAll,
            NOW + 30,
        ))
        .unwrap();
    assert_eq!(
        rest.iter().map(|r| r.id).collect::<Vec<_>>(),
        [a3.session.id]
    );
    assert!(
        store
            .revoke_sessions(&revoke_request(
                RevokeTarget::Session(SessionId::random()),
                RevocationReason::Logout,
                NOW
            ))
            .unwrap()
            .is_empty()
    );
    let revoked_lines = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::SessionRevoked],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(revoked_lines.len(), 1);
    assert_eq!(revoked_lines[0].event.actor, Some(bob.id));
}

pub fn revoked_jtis_and_live_revocations(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let session = open_session(store, alice.id, NOW);
    let access = RevokedJti {
        jti: Jti::random(),
        session_id: Some(session.session.id),
        user_id: Some(alice.id),
        revoked_at: NOW,
        expires_at: NOW + 300,
        reason: RevocationReason::Revoked,
    };
    store
        .revoke_jti(
            &access,
            &[AuditEvent::new(NOW, AuditKind::TokenRevoked).jti(access.jti)],
        )
        .unwrap();
    // Revoking it again is fine and keeps the first revocation.
    store.revoke_jti(&access, &[]).unwrap();
    let orphan = RevokedJti {
        jti: Jti::random(),
        session_id: None,
        user_id: None,
        revoked_at: NOW,
        expires_at: NOW + 10,
        reason: RevocationReason::Blacklisted,
    };
    store.revoke_jti(&orphan, &[]).unwrap();

    let live = store.live_revocations(NOW, 0).unwrap();
    let jtis: HashSet<(Jti, UnixTime)> = live.jtis.iter().copied().collect();
    assert_eq!(
        jtis,
        HashSet::from([(access.jti, NOW + 300), (orphan.jti, NOW + 10)])
    );
    assert!(live.sessions.is_empty(), "no session is revoked yet");

    // An entry is live while expires_at + keep_for is after now.
    let later = store.live_revocations(NOW + 20, 10).unwrap();
    assert_eq!(later.jtis, [(access.jti, NOW + 300)]);
    let edge = store.live_revocations(NOW + 19, 10).unwrap();
    assert_eq!(edge.jtis.len(), 2);

    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(session.session.id),
            RevocationReason::Logout,
            NOW + 1,
        ))
        .unwrap();
    let max = session.session.max_expires_at;
    let live = store.live_revocations(NOW + 2, 60).unwrap();
    assert_eq!(
        live.sessions,
        [(session.session.id, max, Some(RevocationReason::Logout))]
    );
    assert!(
        store
            .live_revocations(max + 60, 60)
            .unwrap()
            .sessions
            .is_empty()
    );
    assert_eq!(
        store.live_revocations(max + 59, 60).unwrap().sessions.len(),
        1
    );
    let lines = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::TokenRevoked],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].event.jti, Some(access.jti));
}

// --- audit ---

pub fn audit_filters(store: &dyn Store) {
    let s1 = SessionId::random();
    let jti = Jti::random();
    let events = vec![
        AuditEvent::new(NOW, AuditKind::LoginSucceeded)
            .subject(1)
            .session(s1),
        AuditEvent::new(NOW + 10, AuditKind::LoginFailed)
            .subject(2)
            .address(Some("203.0.113.9".into())),
        AuditEvent::new(NOW + 20, AuditKind::UserLocked)
            .subject(2)
            .actor(Some(1))
            .reason("too many attempts")
            .detail(serde_json::json!({ "until": NOW + 900, "note": "x" })),
        AuditEvent::new(NOW + 30, AuditKind::Rotated)
            .subject(1)
            .session(s1)
            .jti(jti),
        AuditEvent::new(NOW + 40, AuditKind::KeyRotated),
    ];
    store.append_audit(&events).unwrap();
    store.append_audit(&[]).unwrap();

    let all = audit_all(store);
    assert_eq!(all.len(), 5);
    // Newest first, ids increasing with insertion, events as written.
    let written: Vec<AuditEvent> = all.iter().rev().map(|e| e.event.clone()).collect();
    assert_eq!(written, events);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));

    let query = |q: AuditQuery| -> Vec<AuditKind> { kinds_of(&store.audit(&q).unwrap()) };
    assert_eq!(
        query(AuditQuery {
            user: Some(1),
            ..AuditQuery::default()
        }),
        [
            AuditKind::Rotated,
            AuditKind::UserLocked,
            AuditKind::LoginSucceeded
        ],
        "a user's events: about them or caused by them"
    );
    assert_eq!(
        query(AuditQuery {
            kinds: vec![AuditKind::LoginFailed, AuditKind::KeyRotated],
            ..AuditQuery::default()
        }),
        [AuditKind::KeyRotated, AuditKind::LoginFailed]
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            ..AuditQuery::default()
        }),
        [AuditKind::Rotated, AuditKind::LoginSucceeded]
    );
    // A session's lines by kind, alone and with the other filters (the SQLite
    // store finds a session's rotations another way than its other lines).
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            kinds: vec![AuditKind::Rotated],
            ..AuditQuery::default()
        }),
        [AuditKind::Rotated]
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            kinds: vec![AuditKind::LoginSucceeded, AuditKind::UserLocked],
            ..AuditQuery::default()
        }),
        [AuditKind::LoginSucceeded]
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            kinds: vec![AuditKind::LoginSucceeded, AuditKind::Rotated],
            user: Some(1),
            since: Some(NOW + 1),
            ..AuditQuery::default()
        }),
        [AuditKind::Rotated]
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            user: Some(2),
            ..AuditQuery::default()
        }),
        []
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(s1),
            limit: 1,
            ..AuditQuery::default()
        }),
        [AuditKind::Rotated],
        "newest first across both kinds of line"
    );
    assert_eq!(
        query(AuditQuery {
            kinds: vec![AuditKind::Rotated],
            ..AuditQuery::default()
        }),
        [AuditKind::Rotated]
    );
    assert_eq!(
        query(AuditQuery {
            session_id: Some(SessionId::random()),
            ..AuditQuery::default()
        }),
        []
    );
    assert_eq!(
        query(AuditQuery {
            since: Some(NOW + 10),
            until: Some(NOW + 30),
            ..AuditQuery::default()
        }),
        [
            AuditKind::Rotated,
            AuditKind::UserLocked,
            AuditKind::LoginFailed
        ],
        "since and until are inclusive"
    );
    assert_eq!(
        query(AuditQuery {
            before_id: Some(all[1].id),
            ..AuditQuery::default()
        }),
        [
            AuditKind::UserLocked,
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded
        ]
    );
    assert_eq!(
        query(AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        }),
        [AuditKind::KeyRotated, AuditKind::Rotated]
    );
    assert_eq!(
        query(AuditQuery {
            user: Some(2),
            kinds: vec![AuditKind::UserLocked],
            since: Some(NOW),
            ..AuditQuery::default()
        }),
        [AuditKind::UserLocked]
    );

    // limit 0 means a default page, and every page is capped.
    let many: Vec<AuditEvent> = (0..10_050)
        .map(|i| AuditEvent::new(NOW + 100 + i, AuditKind::LoginFailed).subject(9))
        .collect();
    store.append_audit(&many).unwrap();
    let default_page = store.audit(&AuditQuery::default()).unwrap().len();
    assert!((1..=1_000).contains(&default_page), "{default_page}");
    let capped = store
        .audit(&AuditQuery {
            limit: u32::MAX,
            ..AuditQuery::default()
        })
        .unwrap()
        .len();
    assert_eq!(capped, 10_000);
}

// --- housekeeping ---

pub fn flush_expired_keeps_what_matters(store: &dyn Store) {
    let keep_for = HOUR;
    let alice = make_user(store, "alice");
    // Revoked, capped far in the future: its revocation still matters.
    let revoked_live = open_session(store, alice.id, NOW);
    // Revoked, and capped before the cutoff: can go.
    let mut old = new_session(alice.id, NOW - 40 * DAY);
    old.session.max_expires_at = NOW - 10 * DAY;
    // Its token row claims a later expiry than the session's cap: a doomed
    // session's tokens go with it whatever their rows say.
    old.token.expires_at = NOW + DAY;
    store.open_session(&old).unwrap();
    // Never revoked, its newest token long expired: can go. Rotated once.
    let stale = open_session(store, alice.id, NOW - 5 * DAY);
    let RotationOutcome::Rotated { .. } = store
        .rotate(&rotation(&stale.token, NOW - 5 * DAY + 60, STRICT))
        .unwrap()
    else {
        panic!("rotation failed");
    };
    // Live and rotated twice: its first two tokens expired before the cutoff,
    // the head did not.
    let rotated = open_session(store, alice.id, NOW - DAY - 3 * HOUR);
    let step = rotation(&rotated.token, NOW - DAY - 2 * HOUR, STRICT);
    let RotationOutcome::Rotated { .. } = store.rotate(&step).unwrap() else {
        panic!("rotation failed");
    };
    let step2 = rotation(&step.successor, NOW - 3 * HOUR, STRICT);
    let RotationOutcome::Rotated { .. } = store.rotate(&step2).unwrap() else {
        panic!("rotation failed");
    };
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(revoked_live.session.id),
            RevocationReason::Logout,
            NOW - 1,
        ))
        .unwrap();
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(old.session.id),
            RevocationReason::Logout,
            NOW - 20 * DAY,
        ))
        .unwrap();
    let expired_jti = RevokedJti {
        jti: Jti::random(),
        session_id: None,
        user_id: Some(alice.id),
        revoked_at: NOW - DAY,
        expires_at: NOW - keep_for - 1,
        reason: RevocationReason::Revoked,
    };
    let live_jti = RevokedJti {
        jti: Jti::random(),
        expires_at: NOW - keep_for + 1,
        ..expired_jti.clone()
    };
    store.revoke_jti(&expired_jti, &[]).unwrap();
    store.revoke_jti(&live_jti, &[]).unwrap();
    // A sliding session: its token row still says the first, short expiry
    // (sliding refresh keeps the jti), but the session runs on. Its head stays.
    let mut sliding = new_session(alice.id, NOW - DAY);
    sliding.session.kind = SessionKind::Sliding;
    sliding.token.token_type = TokenType::Sliding;
    sliding.token.expires_at = NOW - DAY + 300;
    sliding.session.expires_at = NOW + DAY;
    store.open_session(&sliding).unwrap();
    store
        .extend_session(sliding.session.id, NOW + DAY, NOW - 2 * HOUR)
        .unwrap();
    // Throttle rows: "stale" ended long before the cutoff, "locked" counted
    // failures in a window that ended before it but is locked past it,
    // "recent" is counting now.
    let stale_row = throttle_keys("stale", "a", None);
    let locked_row = throttle_keys("locked", "a", None);
    let recent_row = throttle_keys("recent", "a", None);
    for (keys, at, times) in [
        (&stale_row, NOW - 40 * DAY, 1),
        (&locked_row, NOW - HOUR - 600, 3),
        (&recent_row, NOW - 10, 1),
    ] {
        for i in 0..times {
            throttle_step(store, &keys[..1], ThrottleStep::Reserve, at + i, vec![]);
            throttle_step(store, &keys[..1], ThrottleStep::Failed, at + i, vec![]);
        }
    }
    let audit_before = audit_all(store).len();

    let report = store.flush_expired(NOW, keep_for).unwrap();
    assert_eq!(report.sessions, 2, "{report:?}");
    assert_eq!(report.revoked_jtis, 1, "{report:?}");
    assert_eq!(report.throttle_entries, 1, "{report:?}");
    // old's token and stale's two, and the first two of `rotated`.
    assert_eq!(report.outstanding_tokens, 5, "{report:?}");

    assert!(store.session(old.session.id).unwrap().is_none());
    assert!(store.session(stale.session.id).unwrap().is_none());
    assert!(
        store
            .outstanding(old.token.session_id, old.token.jti)
            .unwrap()
            .is_none()
    );
    assert!(store.session(revoked_live.session.id).unwrap().is_some());
    assert!(
        store
            .outstanding(revoked_live.token.session_id, revoked_live.token.jti)
            .unwrap()
            .is_some()
    );
    let chain: Vec<Jti> = store
        .tokens_of_session(rotated.session.id)
        .unwrap()
        .iter()
        .map(|t| t.jti)
        .collect();
    assert_eq!(chain, [step2.successor.jti]);
    assert_eq!(
        store
            .outstanding(sliding.token.session_id, sliding.token.jti)
            .unwrap()
            .map(|t| t.jti),
        Some(sliding.token.jti),
        "the head of a live sliding session is kept"
    );
    assert!(throttle_row(store, &stale_row[0]).is_none());
    assert!(throttle_row(store, &locked_row[0]).is_some());
    assert!(throttle_row(store, &recent_row[0]).is_some());
    assert_eq!(
        audit_all(store).len(),
        audit_before,
        "the audit log is kept"
    );
    // A flushed session's lines are still found by session, its rotation too.
    let stale_lines = store
        .audit(&AuditQuery {
            session_id: Some(stale.session.id),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        kinds_of(&stale_lines),
        [AuditKind::Rotated, AuditKind::LoginSucceeded]
    );

    let live = store.live_revocations(NOW, keep_for).unwrap();
    assert_eq!(
        live.sessions,
        [(
            revoked_live.session.id,
            revoked_live.session.max_expires_at,
            Some(RevocationReason::Logout)
        )]
    );
    assert_eq!(live.jtis, [(live_jti.jti, live_jti.expires_at)]);

    // The live session still rotates after a flush.
    let step3 = rotation(&step2.successor, NOW + 1, STRICT);
    assert!(matches!(
        store.rotate(&step3).unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // A second flush at the same instant finds nothing.
    let again = store.flush_expired(NOW, keep_for).unwrap();
    assert_eq!(again, warden_auth::model::FlushReport::default());
}

// --- concurrency ---

const RACERS: usize = 64;

/// Every racer presents the same token at once, each with its own successor.
fn race(
    store: &dyn Store,
    presented: &OutstandingToken,
    policy: RotationPolicy,
) -> Vec<RotationOutcome> {
    let barrier = Barrier::new(RACERS);
    let requests: Vec<RotationRequest> = (0..RACERS)
        .map(|_| rotation(presented, NOW + 5, policy))
        .collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|request| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    store.rotate(request).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

pub fn concurrent_rotation_strict(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let outcomes = race(store, &login.token, STRICT);
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotationOutcome::Rotated { .. }))
        .count();
    let reuse = outcomes
        .iter()
        .filter(|o| matches!(o, RotationOutcome::ReuseDetected { .. }))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                RotationOutcome::Refused(RotationRefusal::SessionRevoked(Some(
                    RevocationReason::ReuseDetected
                )))
            )
        })
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert_eq!(reuse, 1, "the second presentation is reuse");
    assert_eq!(rotated + reuse + refused, RACERS, "{outcomes:?}");
    let tokens = store.tokens_of_session(login.session.id).unwrap();
    let children = tokens
        .iter()
        .filter(|t| t.parent_jti == Some(login.token.jti))
        .count();
    assert_eq!(children, 1, "at most one successor per parent");
    assert_eq!(tokens.len(), 2);
    assert!(
        store
            .session(login.session.id)
            .unwrap()
            .unwrap()
            .is_revoked()
    );
}

pub fn concurrent_rotation_with_grace(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let outcomes = race(store, &login.token, GRACE);
    let mut winner = None;
    let mut replayed = Vec::new();
    for o in &outcomes {
        match o {
            RotationOutcome::Rotated { successor, .. } => {
                assert!(winner.is_none(), "two rotations won");
                winner = Some(successor.jti);
            }
            RotationOutcome::GraceReplay { successor, .. } => replayed.push(successor.jti),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    let winner = winner.expect("one rotation wins");
    assert_eq!(replayed.len(), RACERS - 1);
    assert!(
        replayed.iter().all(|j| *j == winner),
        "every replay hands out the winner"
    );
    let session = store.session(login.session.id).unwrap().unwrap();
    assert_eq!(session.head_jti, winner);
    assert!(!session.is_revoked());
    assert_eq!(store.tokens_of_session(login.session.id).unwrap().len(), 2);
}

/// Many writers at once, some of them bound to fail: each failure is its own.
pub fn concurrent_writes_fail_alone(store: &dyn Store) {
    make_user(store, "taken");
    let names: Vec<String> = (0..48)
        .map(|i| {
            if i % 8 == 0 {
                "TAKEN".to_owned()
            } else {
                format!("user{i}")
            }
        })
        .collect();
    let barrier = Barrier::new(names.len());
    let results: Vec<(String, Result<User, StoreError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let r = store.create_user(
                        &new_user(name),
                        NOW,
                        &[AuditEvent::new(NOW, AuditKind::UserCreated)],
                    );
                    (name.clone(), r)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (name, result) in &results {
        if name == "TAKEN" {
            assert!(
                matches!(result, Err(StoreError::Conflict(_))),
                "{name}: {result:?}"
            );
        } else {
            let user = result.as_ref().unwrap();
            assert_eq!(store.user_by_username(name).unwrap().as_ref(), Some(user));
        }
    }
    let created = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::UserCreated],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(created.len(), 1 + 42, "one line per user actually created");
}

// --- the revocation feed ---

fn feed_all(store: &dyn Store) -> Vec<warden_auth::model::FeedEntry> {
    let page = store.feed_since(0, 10_000).unwrap();
    assert_eq!(
        page.head,
        page.entries.last().map_or(0, |e| e.seq),
        "the head is the newest entry"
    );
    page.entries
}

/// The whole feed, numbered 1, 2, 3, ... without a gap, split into the
/// entries that revoke and the users the other entries name, in order.
fn feed_split(store: &dyn Store) -> (Vec<warden_auth::model::FeedEntry>, Vec<UserId>) {
    let all = feed_all(store);
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "{all:?}"
    );
    let mut revocations = Vec::new();
    let mut users = Vec::new();
    for e in all {
        let revokes = !e.revocations.sessions.is_empty() || !e.revocations.jtis.is_empty();
        assert!(
            revokes == e.users.is_empty(),
            "an entry either revokes or names users: {e:?}"
        );
        if revokes {
            revocations.push(e);
        } else {
            users.extend(e.users);
        }
    }
    (revocations, users)
}

/// Every revoking write appends exactly one revoking entry, in the same
/// transaction, numbered 1, 2, 3, ... among all entries; writes that revoke
/// nothing append no revoking entry.
pub fn feed_records_every_revocation(store: &dyn Store) {
    assert!(store.has_feed(), "a store must keep a revocation feed");
    assert_eq!(store.feed_head().unwrap(), 0);
    assert!(feed_all(store).is_empty());

    let alice = make_user(store, "alice");
    let one = open_session(store, alice.id, NOW);
    let two = open_session(store, alice.id, NOW + 1);
    let three = open_session(store, alice.id, NOW + 2);
    let (revoking, users) = feed_split(store);
    assert!(revoking.is_empty(), "logins are not revocations");
    assert_eq!(users, [alice.id; 3], "a login moves last_login");

    // 1: one session.
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(one.session.id),
            RevocationReason::Logout,
            NOW + 3,
        ))
        .unwrap();
    // Revoking it again revokes nothing and appends nothing.
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(one.session.id),
            RevocationReason::Logout,
            NOW + 3,
        ))
        .unwrap();
    // 2: a jti; the second revocation of the same jti appends nothing.
    let access = RevokedJti {
        jti: Jti::random(),
        session_id: Some(two.session.id),
        user_id: Some(alice.id),
        revoked_at: NOW + 4,
        expires_at: NOW + 300,
        reason: RevocationReason::Revoked,
    };
    store.revoke_jti(&access, &[]).unwrap();
    store.revoke_jti(&access, &[]).unwrap();
    // 3: reuse detected in a rotation.
    let rotated = match store
        .rotate(&rotation(&two.token, NOW + 5, STRICT))
        .unwrap()
    {
        RotationOutcome::Rotated { successor, .. } => successor,
        other => panic!("{other:?}"),
    };
    assert_eq!(feed_split(store).0.len(), 2);
    assert_eq!(
        store.feed_head().unwrap(),
        5,
        "a rotation is no revocation and changes no user"
    );
    assert!(matches!(
        store
            .rotate(&rotation(&two.token, NOW + 6, STRICT))
            .unwrap(),
        RotationOutcome::ReuseDetected { .. }
    ));
    let _ = rotated;
    // 4: update_user with a revocation (the remaining session).
    store
        .update_user(
            alice.id,
            &UserUpdate {
                is_active: Some(false),
                ..UserUpdate::default()
            },
            Some(&RevokeRequest {
                target: RevokeTarget::User {
                    user_id: alice.id,
                    except: None,
                },
                reason: RevocationReason::Deactivated,
                actor: None,
                now: NOW + 7,
                audit: Vec::new(),
            }),
            &[],
        )
        .unwrap();
    // 5: logout-all of several sessions is one entry.
    let bob = make_user(store, "bob");
    let bobs: Vec<NewSession> = (0..3)
        .map(|i| open_session(store, bob.id, NOW + i))
        .collect();
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::User {
                user_id: bob.id,
                except: None,
            },
            RevocationReason::LogoutAll,
            NOW + 8,
        ))
        .unwrap();
    // 6: deleting a user with a live session.
    let carol = make_user(store, "carol");
    let carols = open_session(store, carol.id, NOW);
    assert!(store.delete_user(carol.id, NOW + 9, &[]).unwrap());
    // Deleting a user with no live session appends nothing.
    let dave = make_user(store, "dave");
    assert!(store.delete_user(dave.id, NOW + 9, &[]).unwrap());

    let (feed, users) = feed_split(store);
    assert_eq!(feed.len(), 6, "{feed:?}");
    assert_eq!(
        users,
        [
            vec![alice.id; 4],
            vec![bob.id; 3],
            vec![carol.id; 2],
            vec![dave.id]
        ]
        .concat(),
        "logins, the update and both deletions name their user"
    );
    let sessions_of = |i: usize| -> Vec<(SessionId, UnixTime, Option<RevocationReason>)> {
        let mut v = feed[i].revocations.sessions.clone();
        v.sort_by_key(|s| s.0.0);
        v
    };
    let max = |n: &NewSession| n.session.max_expires_at;
    assert_eq!(
        sessions_of(0),
        [(one.session.id, max(&one), Some(RevocationReason::Logout))]
    );
    assert_eq!(feed[0].at, NOW + 3);
    assert!(feed[0].revocations.jtis.is_empty());
    assert_eq!(feed[1].revocations.jtis, [(access.jti, NOW + 300)]);
    assert!(feed[1].revocations.sessions.is_empty());
    assert_eq!(
        sessions_of(2),
        [(
            two.session.id,
            max(&two),
            Some(RevocationReason::ReuseDetected)
        )]
    );
    assert_eq!(
        sessions_of(3),
        [(
            three.session.id,
            max(&three),
            Some(RevocationReason::Deactivated)
        )]
    );
    let mut expected: Vec<_> = bobs
        .iter()
        .map(|n| (n.session.id, max(n), Some(RevocationReason::LogoutAll)))
        .collect();
    expected.sort_by_key(|s| s.0.0);
    assert_eq!(sessions_of(4), expected);
    assert_eq!(
        sessions_of(5),
        [(
            carols.session.id,
            max(&carols),
            Some(RevocationReason::UserDeleted)
        )]
    );

    // Paging: after 2, two at a time.
    let head = store.feed_head().unwrap();
    assert_eq!(head, 16);
    let page = store.feed_since(2, 2).unwrap();
    assert_eq!(page.head, head);
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4]
    );
    let page = store.feed_since(head, 10).unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.head, head);

    // Flushing long after drops old entries but never the newest: the head stays.
    let far = NOW + 400 * DAY;
    store.flush_expired(far, 0).unwrap();
    let page = store.feed_since(0, 100).unwrap();
    assert_eq!(page.head, head, "the head never goes back");
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [head],
        "only the newest entry is kept"
    );
    // Numbering goes on from the head.
    let erin = make_user(store, "erin");
    let erins = open_session(store, erin.id, far);
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(erins.session.id),
            RevocationReason::Logout,
            far + 1,
        ))
        .unwrap();
    assert_eq!(
        store.feed_head().unwrap(),
        head + 2,
        "the login, the revocation"
    );
}

/// Every write that changes a stored user appends an entry naming them, in
/// the same transaction (what lets every node's user cache forget them):
/// updates with or without a revocation, a login's `last_login`, a deletion.
/// Creating a user, failed writes and writes to other rows append nothing.
pub fn feed_records_every_user_change(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let bob = make_user(store, "bob");
    assert_eq!(
        store.feed_head().unwrap(),
        0,
        "a new user changes no held state"
    );
    let update = |id, u: UserUpdate| {
        store
            .update_user(
                id,
                &u,
                None,
                &[AuditEvent::new(NOW + 1, AuditKind::StaffGranted)],
            )
            .unwrap()
    };
    update(
        alice.id,
        UserUpdate {
            is_staff: Some(true),
            ..UserUpdate::default()
        },
    );
    update(
        bob.id,
        UserUpdate {
            locked_until: Some(Some(NOW + 60)),
            ..UserUpdate::default()
        },
    );
    // An update of no one writes nothing.
    assert!(
        store
            .update_user(999_999, &UserUpdate::default(), None, &[])
            .unwrap()
            .is_none()
    );
    let login = open_session(store, bob.id, NOW + 2);
    // A session ending changes no user.
    store
        .revoke_sessions(&revoke_request(
            RevokeTarget::Session(login.session.id),
            RevocationReason::Logout,
            NOW + 3,
        ))
        .unwrap();
    // A taken username is refused and appends nothing.
    assert!(store.create_user(&new_user("ALICE"), NOW, &[]).is_err());
    assert!(store.delete_user(alice.id, NOW + 4, &[]).unwrap());
    let (revoking, users) = feed_split(store);
    assert_eq!(revoking.len(), 1);
    assert_eq!(users, [alice.id, bob.id, bob.id, alice.id]);
    let all = feed_all(store);
    assert_eq!(
        all[0].at,
        NOW + 1,
        "an update's entry carries its audit time"
    );
    assert_eq!(all[2].at, NOW + 2, "a login's entry carries its time");
}

/// Revocations from many threads at once: one entry each, positions 1..=n
/// with no gap and no duplicate, every session in exactly one entry.
pub fn concurrent_revocations_keep_the_feed_gapless(store: &dyn Store) {
    const N: usize = 32;
    let alice = make_user(store, "alice");
    let logins: Vec<NewSession> = (0..N)
        .map(|i| open_session(store, alice.id, NOW + i as i64))
        .collect();
    let barrier = Barrier::new(N);
    std::thread::scope(|scope| {
        for (i, login) in logins.iter().enumerate() {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                if i % 4 == 0 {
                    let r = RevokedJti {
                        jti: login.token.jti,
                        session_id: None,
                        user_id: None,
                        revoked_at: NOW,
                        expires_at: NOW + 60,
                        reason: RevocationReason::Revoked,
                    };
                    store.revoke_jti(&r, &[]).unwrap();
                }
                let ended = store
                    .revoke_sessions(&revoke_request(
                        RevokeTarget::Session(login.session.id),
                        RevocationReason::StaffRevoked,
                        NOW + 100,
                    ))
                    .unwrap();
                assert_eq!(ended.len(), 1);
            });
        }
    });
    let feed = feed_all(store);
    // The logins' last_login entries, then the revocations.
    let expected = N + N + N / 4;
    assert_eq!(
        feed.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=expected as i64).collect::<Vec<_>>()
    );
    let sessions: HashSet<SessionId> = feed
        .iter()
        .flat_map(|e| e.revocations.sessions.iter().map(|s| s.0))
        .collect();
    assert_eq!(sessions.len(), N);
    assert!(logins.iter().all(|l| sessions.contains(&l.session.id)));
    let jtis = feed.iter().map(|e| e.revocations.jtis.len()).sum::<usize>();
    assert_eq!(jtis, N / 4);
}

/// Logout-alls racing logins of the same user: each call returns exactly the
/// sessions it revoked, each with its own cap; no session is returned twice or
/// missed; a session is either revoked by one call or still live, and a final
/// logout-all ends the rest. The feed lists every revoked session once, and
/// every call wrote its audit line. (The SQLite store revokes a user's sessions
/// in one pass that records the rows as it updates them.)
pub fn logout_all_races_logins(store: &dyn Store) {
    const BEFORE: usize = 300;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 40;
    const CALLS: i64 = 5;
    let alice = make_user(store, "alice");
    let bob = make_user(store, "bob");
    let bob_login = open_session(store, bob.id, NOW);
    let mut logins: Vec<NewSession> = (0..BEFORE)
        .map(|i| open_session(store, alice.id, NOW + (i % 97) as i64))
        .collect();
    let logout_all = |at: UnixTime| {
        store
            .revoke_sessions(&RevokeRequest {
                target: RevokeTarget::User {
                    user_id: alice.id,
                    except: None,
                },
                reason: RevocationReason::LogoutAll,
                actor: Some(alice.id),
                now: at,
                audit: vec![
                    AuditEvent::new(at, AuditKind::LogoutAll)
                        .subject(alice.id)
                        .actor(Some(alice.id)),
                ],
            })
            .unwrap()
    };
    let mut returned = Vec::new();
    std::thread::scope(|scope| {
        let racers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            open_session(store, alice.id, NOW + 200 + (t * PER_THREAD + i) as i64)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for k in 0..CALLS {
            returned.push(logout_all(NOW + 1_000 + k));
        }
        for r in racers {
            logins.extend(r.join().unwrap());
        }
    });
    returned.push(logout_all(NOW + 2_000));
    assert_eq!(logins.len(), BEFORE + THREADS * PER_THREAD);

    let caps: std::collections::HashMap<SessionId, UnixTime> = logins
        .iter()
        .map(|l| (l.session.id, l.session.max_expires_at))
        .collect();
    let mut seen = HashSet::new();
    for (call, ended) in returned.iter().enumerate() {
        for r in ended {
            assert!(seen.insert(r.id), "session {} returned twice", r.id);
            assert_eq!(r.user_id, alice.id);
            assert_eq!(r.reason, RevocationReason::LogoutAll);
            assert_eq!(
                Some(&r.max_expires_at),
                caps.get(&r.id),
                "the cap of {}",
                r.id
            );
            let stored = store.session(r.id).unwrap().unwrap();
            let at = if call == returned.len() - 1 {
                NOW + 2_000
            } else {
                NOW + 1_000 + call as i64
            };
            assert_eq!(
                (stored.revoked_at, stored.revoked_reason, stored.revoked_by),
                (Some(at), Some(RevocationReason::LogoutAll), Some(alice.id)),
                "session {} was revoked by the call that returned it",
                r.id
            );
        }
    }
    assert_eq!(
        seen.len(),
        logins.len(),
        "every session of alice was ended once"
    );
    assert!(store.sessions_of_user(alice.id, false).unwrap().is_empty());
    assert_eq!(
        store.sessions_of_user(alice.id, true).unwrap().len(),
        logins.len()
    );
    assert!(
        !store
            .session(bob_login.session.id)
            .unwrap()
            .unwrap()
            .is_revoked()
    );

    let mut fed = HashSet::new();
    for entry in feed_all(store) {
        for (id, until, _) in &entry.revocations.sessions {
            assert!(fed.insert(*id), "session {id} in the feed twice");
            assert_eq!(Some(until), caps.get(id));
        }
    }
    assert_eq!(fed, seen, "the feed lists exactly the revoked sessions");
    let lines = store
        .audit(&AuditQuery {
            kinds: vec![AuditKind::LogoutAll],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(lines.len(), returned.len(), "one audit line per call");
}

/// `user_and_session` (the refresh path's one read) answers what `user` and
/// `session` answer, absent ones included.
pub fn user_and_session_reads_both_or_none(store: &dyn Store) {
    let alice = make_user(store, "alice");
    let login = open_session(store, alice.id, NOW);
    let (user, session) = store.user_and_session(alice.id, login.session.id).unwrap();
    assert_eq!(user, store.user(alice.id).unwrap());
    assert_eq!(user.map(|u| u.username), Some("alice".to_owned()));
    assert_eq!(session, store.session(login.session.id).unwrap());
    assert_eq!(session.map(|s| s.id), Some(login.session.id));
    let (user, session) = store
        .user_and_session(alice.id + 1_000, SessionId::random())
        .unwrap();
    assert!(user.is_none() && session.is_none());
}
