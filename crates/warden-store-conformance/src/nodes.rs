//! Two engines (two nodes) on one database, whatever the store: what each
//! node holds of a user in memory ([`warden_auth::UserCache`]) is never
//! older than the last write to that user it has been told of. The node
//! that writes answers from the new state on its next request; the other
//! node on its first request after its follower has read the feed (the
//! same path revocations take). Run over SQLite (two engines on one file,
//! `tests/suite/scaleout.rs`) and PostgreSQL (`warden-store-pg/tests/pg.rs`).

use std::sync::Arc;

use warden_auth::feed::{FeedFollower, FollowSettings};
use warden_auth::model::ClientInfo;
use warden_auth::{
    Actor, AuthContext, AuthError, AuthService, LoginRequest, NewAccount, TokenError,
};

/// The password every account here has.
pub const PASSWORD: &str = "correct horse battery";

fn login(node: &AuthService, who: &str, password: &str) -> warden_auth::IssuedPair {
    node.obtain_pair(&LoginRequest {
        identifier: who.into(),
        password: password.into(),
        client: ClientInfo::default(),
    })
    .unwrap_or_else(|e| panic!("login of {who}: {e}"))
}

fn follower(node: &Arc<AuthService>) -> FeedFollower {
    let mut f = FeedFollower::new(
        Arc::clone(node),
        FollowSettings {
            // Never stale during the test: only explicit catch-ups happen.
            stale_after: std::time::Duration::from_secs(3_600),
            ..FollowSettings::default()
        },
    );
    f.start().unwrap();
    f
}

/// Both nodes read alice (so both hold her), as a request does.
fn warm(nodes: &[&Arc<AuthService>], id: i64) {
    for n in nodes {
        n.current_user(id).unwrap();
        assert!(n.cached_user(id).is_some(), "a read fills the cache");
    }
}

fn refused_as(r: Result<AuthContext, AuthError>, what: &str) {
    assert!(
        matches!(
            r,
            Err(AuthError::UserInactive | AuthError::Token(TokenError::Blacklisted(_)))
        ),
        "{what}: {r:?}"
    );
}

/// Staff rights, deactivation, a staff lock, a password change and a login
/// made on one node take effect on that node's next request, and on the
/// other node's first request after it has read the feed. `clock` is the
/// nodes' shared clock.
pub fn user_changes_reach_every_node(
    a: &Arc<AuthService>,
    b: &Arc<AuthService>,
    clock: &warden_auth::ManualClock,
) {
    let mut fa = follower(a);
    let mut fb = follower(b);
    let account = |name: &str| NewAccount {
        username: name.into(),
        password: PASSWORD.into(),
        ..Default::default()
    };
    let alice = a.create_user(&account("alice"), None).unwrap();
    let bob = a.create_user(&account("bob"), None).unwrap();
    let carol = a.create_user(&account("carol"), None).unwrap();
    let dave = a.create_user(&account("dave"), None).unwrap();

    // Staff rights granted on A: A's next staff check passes; B's passes once it has read the feed.
    warm(&[a, b], alice.id);
    assert!(a.staff(alice.id).is_err() && b.staff(alice.id).is_err());
    a.set_staff(&Actor::System, alice.id, true, "").unwrap();
    assert!(
        a.cached_user(alice.id).is_none(),
        "the writer forgets at once"
    );
    assert!(a.staff(alice.id).is_ok());
    assert!(a.current_user(alice.id).unwrap().is_staff);
    fb.sync().unwrap();
    assert!(b.cached_user(alice.id).is_none(), "the feed made B forget");
    assert!(b.staff(alice.id).is_ok());
    assert!(b.current_user(alice.id).unwrap().is_staff);
    // And withdrawn on B: the other way round.
    warm(&[a, b], alice.id);
    b.set_staff(&Actor::System, alice.id, false, "").unwrap();
    assert!(b.staff(alice.id).is_err());
    fa.sync().unwrap();
    assert!(a.staff(alice.id).is_err());
    assert!(!a.current_user(alice.id).unwrap().is_staff);

    // Deactivation on A: bob's token is refused and his state is inactive, on both.
    let pair = login(b, "bob", PASSWORD);
    warm(&[a, b], bob.id);
    a.set_active(&Actor::System, bob.id, false, "").unwrap();
    refused_as(a.authenticate(&pair.access.token), "A after deactivation");
    assert!(!a.current_user(bob.id).unwrap().is_active);
    fb.sync().unwrap();
    refused_as(b.authenticate(&pair.access.token), "B after deactivation");
    assert!(!b.current_user(bob.id).unwrap().is_active);
    // Reactivated on B: both see it active again.
    b.set_active(&Actor::System, bob.id, true, "").unwrap();
    assert!(b.current_user(bob.id).unwrap().is_active);
    fa.sync().unwrap();
    assert!(a.current_user(bob.id).unwrap().is_active);

    // A staff lock on B: carol's session ends and the lock shows, on both.
    let pair = login(a, "carol", PASSWORD);
    warm(&[a, b], carol.id);
    b.lock(&Actor::System, carol.id, None, "").unwrap();
    refused_as(b.authenticate(&pair.access.token), "B after the lock");
    assert!(b.current_user(carol.id).unwrap().locked_until.is_some());
    fa.sync().unwrap();
    refused_as(a.authenticate(&pair.access.token), "A after the lock");
    assert!(a.current_user(carol.id).unwrap().locked_until.is_some());

    // dave changes his password on A: his other session ends, and both
    // nodes see the change time (and a later login, last_login).
    let kept = login(a, "dave", PASSWORD);
    let other = login(b, "dave", PASSWORD);
    fa.sync().unwrap();
    fb.sync().unwrap();
    warm(&[a, b], dave.id);
    let before = b.current_user(dave.id).unwrap();
    assert!(before.password_changed_at.is_none());
    let ctx = a.authenticate(&kept.access.token).unwrap();
    a.change_password(
        &ctx,
        PASSWORD,
        "a new and long password",
        &ClientInfo::default(),
    )
    .unwrap();
    assert!(
        a.current_user(dave.id)
            .unwrap()
            .password_changed_at
            .is_some()
    );
    fb.sync().unwrap();
    refused_as(
        b.authenticate(&other.access.token),
        "B after the password change",
    );
    assert!(
        a.authenticate(&kept.access.token).is_ok(),
        "the changing session stays"
    );
    assert!(
        b.current_user(dave.id)
            .unwrap()
            .password_changed_at
            .is_some()
    );
    // A login on B moves last_login; A sees it after its catch-up.
    warm(&[a, b], dave.id);
    let seen = a.current_user(dave.id).unwrap().last_login;
    clock.advance(60);
    login(b, "dave", "a new and long password");
    let moved = b.current_user(dave.id).unwrap().last_login;
    assert!(moved.is_some() && moved != seen, "{seen:?} -> {moved:?}");
    fa.sync().unwrap();
    assert_eq!(a.current_user(dave.id).unwrap().last_login, moved);

    // Deleting a user on A: both nodes stop finding her.
    warm(&[a, b], carol.id);
    a.delete_user(&Actor::System, carol.id, "").unwrap();
    assert!(matches!(
        a.current_user(carol.id),
        Err(AuthError::NotFound(_))
    ));
    fb.sync().unwrap();
    assert!(matches!(
        b.current_user(carol.id),
        Err(AuthError::NotFound(_))
    ));
}
