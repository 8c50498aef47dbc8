//! The auth engine over a real SQLite file: every policy, end to end.

use warden_auth::model::{AuditKind, AuditQuery, ClientInfo, RevocationReason, UserQuery};
use warden_auth::{
    Actor, AuthError, IssuedPair, LoginField, NewAccount, RefreshKind, Secs, Settings, TokenError,
};
use warden_proto::TokenType;
use warden_tests::{Engine, PASSWORD, T0, login, test_settings};

fn engine() -> Engine {
    Engine::new(test_settings()).unwrap()
}

fn client() -> ClientInfo {
    ClientInfo::default()
}

/// An engine with a 20-second grace window for refresh retries, and alice
/// logged in.
fn alice_with_grace() -> (Engine, IssuedPair) {
    let e = Engine::new(Settings {
        REFRESH_GRACE_PERIOD: Secs(20),
        ..test_settings()
    })
    .unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    (e, pair)
}

fn blacklisted(e: &AuthError) -> Option<Option<RevocationReason>> {
    match e {
        AuthError::Token(TokenError::Blacklisted(r)) => Some(*r),
        _ => None,
    }
}

#[test]
fn login_issues_a_pair_with_simplejwt_claims_and_a_session() {
    let e = engine();
    let alice = e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let a = &pair.access.claims;
    assert_eq!(a.token_type, TokenType::Access);
    assert_eq!(a.user_id, alice.id.to_string());
    assert_eq!((a.iat, a.exp), (T0, T0 + 6 * 3600));
    assert_eq!(a.jti.len(), 32);
    let r = &pair.refresh.claims;
    assert_eq!(r.token_type, TokenType::Refresh);
    assert_eq!(r.exp, T0 + 86_400);
    assert_eq!(a.sid, r.sid);
    assert_ne!(a.jti, r.jti);
    let ctx = e.service.authenticate(&pair.access.token).unwrap();
    assert_eq!(ctx.user_id, alice.id);
    assert_eq!(ctx.session_id, pair.session.id);
    // The login is in the audit log, and the raw token is nowhere in it.
    let audit = e.service.store().audit(&AuditQuery::default()).unwrap();
    assert!(audit.iter().any(|x| x.event.kind == AuditKind::LoginSucceeded && x.event.subject == Some(alice.id)));
    let dump = serde_json::to_string(&audit).unwrap();
    assert!(!dump.contains(&pair.refresh.token) && !dump.contains(&pair.access.token));
}

#[test]
fn bad_logins_are_indistinguishable() {
    let e = engine();
    e.user("alice").unwrap();
    let inactive = e.user("bob").unwrap();
    let staff = e.staff("root").unwrap();
    e.service
        .set_active(
            &warden_tests::staff_actor(&e.service, staff.id),
            inactive.id,
            false,
            "left the company",
        )
        .unwrap();
    for (who, pw) in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
        ("", PASSWORD),
    ] {
        let err = e.service.obtain_pair(&login(who, pw)).unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidCredentials),
            "{who}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "No active account found with the given credentials"
        );
    }
}

#[test]
fn login_by_email_and_the_verified_email_rule() {
    let settings = Settings {
        LOGIN_FIELD: LoginField::UsernameOrEmail,
        REQUIRE_VERIFIED_EMAIL: true,
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    assert!(
        e.service
            .obtain_pair(&login("Alice@Example.com", PASSWORD))
            .is_ok()
    );
    assert!(e.service.obtain_pair(&login("alice", PASSWORD)).is_ok());
    e.service
        .create_user(
            &NewAccount {
                username: "carol".into(),
                email: Some("carol@example.com".into()),
                password: PASSWORD.into(),
                is_staff: false,
                email_verified: false,
            },
            None,
        )
        .unwrap();
    let err = e
        .service
        .obtain_pair(&login("carol@example.com", PASSWORD))
        .unwrap_err();
    // The right password of an unverified account is answered like a wrong
    // one: nothing tells a caller which it was.
    assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    // With an e-mail-only login field a username does not log in.
    let e2 = Engine::new(Settings {
        LOGIN_FIELD: LoginField::Email,
        ..test_settings()
    })
    .unwrap();
    e2.user("dave").unwrap();
    assert!(matches!(
        e2.service.obtain_pair(&login("dave", PASSWORD)),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(
        e2.service
            .obtain_pair(&login("dave@example.com", PASSWORD))
            .is_ok()
    );
}

#[test]
fn duplicate_usernames_are_refused_case_insensitively() {
    let e = engine();
    e.user("alice").unwrap();
    let err = e
        .user("ALICE")
        .unwrap_err()
        .downcast::<AuthError>()
        .unwrap();
    assert!(
        matches!(err, AuthError::Conflict(ref m) if m.contains("username")),
        "{err:?}"
    );
}

#[test]
fn refresh_rotates_and_a_replay_revokes_the_whole_family() {
    let e = engine();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    e.clock.advance(60);
    let r1 = e.service.refresh(&pair.refresh.token, &client()).unwrap();
    assert_eq!(r1.kind, RefreshKind::Rotated);
    let next = r1.refresh.clone().unwrap();
    assert_ne!(next.token, pair.refresh.token);
    assert_eq!(next.claims.exp, T0 + 60 + 86_400);
    assert_eq!(r1.session.rotation_count, 1);
    // The new pair works.
    e.service.authenticate(&r1.access.token).unwrap();
    // Replaying the rotated-away token is reuse: refused and the family dies.
    let err = e
        .service
        .refresh(&pair.refresh.token, &client())
        .unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected)),
        "{err:?}"
    );
    for token in [&next.token, &r1.access.token, &pair.access.token] {
        let err = e
            .service
            .authenticate(token)
            .or_else(|_| e.service.verify(token).map(|_| unreachable!()));
        assert!(err.is_err());
    }
    let err = e.service.refresh(&next.token, &client()).unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected))
    );
    let err = e.service.authenticate(&r1.access.token).unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected))
    );
    let audit = e
        .service
        .store()
        .audit(&AuditQuery {
            kinds: vec![AuditKind::ReuseDetected],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].event.session_id, Some(pair.session.id));
}

#[test]
fn grace_window_hands_a_retry_the_same_successor() {
    let (e, pair) = alice_with_grace();
    let first = e.service.refresh(&pair.refresh.token, &client()).unwrap();
    e.clock.advance(20);
    let retry = e.service.refresh(&pair.refresh.token, &client()).unwrap();
    assert_eq!(retry.kind, RefreshKind::GraceReplay);
    assert_eq!(
        retry.refresh.as_ref().unwrap().token,
        first.refresh.as_ref().unwrap().token
    );
    // The successor is still the live head and rotates normally.
    let second = e
        .service
        .refresh(&first.refresh.unwrap().token, &client())
        .unwrap();
    assert_eq!(second.kind, RefreshKind::Rotated);
    // A retry of the token two generations back is reuse, even inside the window.
    let err = e
        .service
        .refresh(&pair.refresh.token, &client())
        .unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected))
    );
}

/// Rows written before the pin became the signature's hash hold the SHA-256
/// of the token's signing input: such a refresh token still verifies, rotates
/// (its successor gets the new pin), is caught when replayed, and a grace
/// retry whose successor row is of the old form gets the same token again.
#[test]
fn tokens_pinned_the_old_way_still_verify_rotate_and_replay() {
    let (e, pair) = alice_with_grace();
    let token = &pair.refresh.token;
    let jti = pair.refresh.claims.jti.clone();
    let db = rusqlite::Connection::open(e.db_path()).unwrap();
    let set_pin = |jti: &str, pin: &str| {
        let changed = db
            .execute(
                "UPDATE outstanding_tokens SET signing_input_sha256 = ?2 WHERE hex(jti) = upper(?1)",
                rusqlite::params![jti, pin],
            )
            .unwrap();
        assert_eq!(changed, 1);
    };
    let stored = |jti: &str| -> String {
        db.query_row(
            "SELECT signing_input_sha256 FROM outstanding_tokens WHERE hex(jti) = upper(?1)",
            [jti],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(Some(stored(&jti)), warden_auth::tokens::pin(token));
    // Another token's pin is refused, in either form.
    set_pin(&jti, &"0".repeat(64));
    let err = e.service.refresh(token, &client()).unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::NotOutstanding)),
        "{err:?}"
    );
    let legacy = warden_auth::tokens::legacy_pin(token).unwrap();
    set_pin(&jti, &legacy);
    e.service.verify(token).unwrap();
    let first = e.service.refresh(token, &client()).unwrap();
    assert_eq!(first.kind, RefreshKind::Rotated);
    let next = first.refresh.unwrap();
    assert_eq!(
        Some(stored(&next.claims.jti)),
        warden_auth::tokens::pin(&next.token)
    );
    // The successor's row of the old form: a retry in the window re-mints it.
    set_pin(
        &next.claims.jti,
        &warden_auth::tokens::legacy_pin(&next.token).unwrap(),
    );
    e.clock.advance(5);
    let retry = e.service.refresh(token, &client()).unwrap();
    assert_eq!(retry.kind, RefreshKind::GraceReplay);
    assert_eq!(retry.refresh.unwrap().token, next.token);
    e.service.verify(&next.token).unwrap();
    // Past the window, the old-form token presented again is reuse.
    e.clock.advance(20);
    let err = e.service.refresh(token, &client()).unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected))
    );
}

#[test]
fn grace_window_closes() {
    let (e, pair) = alice_with_grace();
    e.service.refresh(&pair.refresh.token, &client()).unwrap();
    e.clock.advance(21);
    let err = e
        .service
        .refresh(&pair.refresh.token, &client())
        .unwrap_err();
    assert_eq!(
        blacklisted(&err),
        Some(Some(RevocationReason::ReuseDetected))
    );
}

#[test]
fn without_rotation_refresh_returns_only_an_access_token() {
    let e = Engine::new(Settings {
        ROTATE_REFRESH_TOKENS: false,
        ..test_settings()
    })
    .unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    for _ in 0..3 {
        let r = e.service.refresh(&pair.refresh.token, &client()).unwrap();
        assert_eq!(r.kind, RefreshKind::AccessOnly);
        assert!(r.refresh.is_none());
        e.service.authenticate(&r.access.token).unwrap();
    }
}

#[test]
fn the_session_cap_ends_rotation() {
    let settings = Settings {
        ACCESS_TOKEN_LIFETIME: Secs(300),
        REFRESH_TOKEN_LIFETIME: Secs(3600),
        SESSION_MAX_LIFETIME: Secs(3 * 3600),
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let cap = T0 + 3 * 3600;
    let mut token = pair.refresh.token;
    // Rotating every 50 minutes would otherwise keep the session alive forever.
    for _ in 0..3 {
        e.clock.advance(50 * 60);
        let r = e.service.refresh(&token, &client()).unwrap();
        let refresh = r.refresh.unwrap();
        assert!(refresh.claims.exp <= cap && r.access.claims.exp <= cap);
        token = refresh.token;
    }
    e.clock.set(cap);
    let err = e.service.refresh(&token, &client()).unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::Expired { .. })),
        "{err:?}"
    );
}

#[test]
fn expired_tokens_are_refused_with_leeway() {
    let e = Engine::new(Settings {
        LEEWAY: Secs(30),
        ..test_settings()
    })
    .unwrap();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    e.clock.set(pair.access.claims.exp + 29);
    e.service.authenticate(&pair.access.token).unwrap();
    e.clock.set(pair.access.claims.exp + 30);
    let err = e.service.authenticate(&pair.access.token).unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::Expired { .. })),
        "{err:?}"
    );
    assert_eq!(
        TokenError::Expired { exp: 0, now: 0 }.simplejwt_message(),
        "Token is expired"
    );
}

#[test]
fn token_types_are_not_interchangeable() {
    let e = engine();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    let err = e.service.authenticate(&pair.refresh.token).unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::WrongType { .. })),
        "{err:?}"
    );
    let err = e
        .service
        .refresh(&pair.access.token, &client())
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::WrongType { .. })),
        "{err:?}"
    );
    let err = e
        .service
        .blacklist(&pair.access.token, &client())
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::WrongType { .. })),
        "{err:?}"
    );
}

#[test]
fn logout_kills_the_session_and_its_access_tokens_at_once() {
    let e = engine();
    e.user("alice").unwrap();
    let laptop = e.login("alice").unwrap();
    let phone = e.login("alice").unwrap();
    let ctx = e.service.authenticate(&laptop.access.token).unwrap();
    e.service
        .logout(&ctx, &laptop.refresh.token, &client())
        .unwrap();
    let err = e.service.authenticate(&laptop.access.token).unwrap_err();
    assert_eq!(blacklisted(&err), Some(Some(RevocationReason::Logout)));
    let err = e
        .service
        .refresh(&laptop.refresh.token, &client())
        .unwrap_err();
    assert_eq!(blacklisted(&err), Some(Some(RevocationReason::Logout)));
    // The other device is untouched.
    e.service.authenticate(&phone.access.token).unwrap();
    e.service.refresh(&phone.refresh.token, &client()).unwrap();
}

#[test]
fn logout_with_someone_elses_refresh_token_is_refused() {
    let e = engine();
    e.user("alice").unwrap();
    e.user("mallory").unwrap();
    let alice = e.login("alice").unwrap();
    let mallory = e.login("mallory").unwrap();
    let ctx = e.service.authenticate(&mallory.access.token).unwrap();
    let err = e
        .service
        .logout(&ctx, &alice.refresh.token, &client())
        .unwrap_err();
    assert!(matches!(err, AuthError::Forbidden(_)), "{err:?}");
    e.service.authenticate(&alice.access.token).unwrap();
}

#[test]
fn blacklist_route_ends_the_session_like_simplejwt_and_more() {
    let e = engine();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    e.service.blacklist(&pair.refresh.token, &client()).unwrap();
    let err = e
        .service
        .blacklist(&pair.refresh.token, &client())
        .unwrap_err();
    assert_eq!(err.to_string(), "token is blacklisted (blacklisted)");
    assert_eq!(
        TokenError::Blacklisted(None).simplejwt_message(),
        "Token is blacklisted"
    );
    // SimpleJWT leaves the access token working; Warden does not.
    assert!(e.service.authenticate(&pair.access.token).is_err());
    assert!(e.service.verify(&pair.refresh.token).is_err());
}

#[test]
fn logout_everywhere_ends_every_session_of_the_user_only() {
    let e = engine();
    e.user("alice").unwrap();
    e.user("bob").unwrap();
    let a: Vec<_> = (0..3).map(|_| e.login("alice").unwrap()).collect();
    let b = e.login("bob").unwrap();
    let ctx = e.service.authenticate(&a[0].access.token).unwrap();
    let summary = e
        .service
        .end_sessions(&Actor::User(ctx.user_id), ctx.user_id, "", &client())
        .unwrap();
    assert_eq!(summary.count(), 3);
    for p in &a {
        assert_eq!(
            blacklisted(&e.service.authenticate(&p.access.token).unwrap_err()),
            Some(Some(RevocationReason::LogoutAll))
        );
    }
    e.service.authenticate(&b.access.token).unwrap();
    // Nothing left to end the second time.
    let ctx_b = e.service.authenticate(&b.access.token).unwrap();
    assert_eq!(e.service.my_sessions(&ctx_b, false).unwrap().len(), 1);
}

#[test]
fn sessions_are_listed_with_the_current_one_marked_and_can_be_revoked() {
    let e = engine();
    e.user("alice").unwrap();
    e.user("bob").unwrap();
    let one = e.login("alice").unwrap();
    e.clock.advance(5);
    let two = e.login("alice").unwrap();
    let bob = e.login("bob").unwrap();
    let ctx = e.service.authenticate(&two.access.token).unwrap();
    let list = e.service.my_sessions(&ctx, false).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, two.session.id.to_string(), "newest first");
    assert!(list[0].current && !list[1].current);
    assert_eq!(list[0].device_label.as_deref(), Some("test"));
    // Another user's session is "not found", not "forbidden".
    let err = e
        .service
        .revoke_session(&Actor::User(ctx.user_id), bob.session.id, "", &client())
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound(_)));
    assert!(
        e.service
            .revoke_session(&Actor::User(ctx.user_id), one.session.id, "", &client())
            .unwrap()
    );
    assert!(e.service.authenticate(&one.access.token).is_err());
    assert_eq!(e.service.my_sessions(&ctx, false).unwrap().len(), 1);
    assert_eq!(e.service.my_sessions(&ctx, true).unwrap().len(), 2);
}

#[test]
fn password_change_keeps_this_session_and_ends_the_others() {
    let e = engine();
    e.user("alice").unwrap();
    let here = e.login("alice").unwrap();
    let there = e.login("alice").unwrap();
    let ctx = e.service.authenticate(&here.access.token).unwrap();
    let err = e
        .service
        .change_password(&ctx, "not it", "new password 123", &client())
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::InvalidInput {
            field: "old_password",
            ..
        }
    ));
    let err = e
        .service
        .change_password(&ctx, PASSWORD, "short", &client())
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::InvalidInput {
            field: "password",
            ..
        }
    ));
    let ended = e
        .service
        .change_password(&ctx, PASSWORD, "new password 123", &client())
        .unwrap();
    assert_eq!(ended.sessions, vec![there.session.id]);
    e.service.authenticate(&here.access.token).unwrap();
    assert_eq!(
        blacklisted(&e.service.authenticate(&there.access.token).unwrap_err()),
        Some(Some(RevocationReason::PasswordChanged))
    );
    assert!(matches!(
        e.service.obtain_pair(&login("alice", PASSWORD)),
        Err(AuthError::InvalidCredentials)
    ));
    e.service
        .obtain_pair(&login("alice", "new password 123"))
        .unwrap();
}

#[test]
fn deactivation_and_deletion_answer_like_simplejwt() {
    let e = engine();
    let staff = e.staff("root").unwrap();
    let alice = e.user("alice").unwrap();
    let bob = e.user("bob").unwrap();
    let a = e.login("alice").unwrap();
    let b = e.login("bob").unwrap();
    e.service
        .set_active(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            false,
            "requested",
        )
        .unwrap();
    assert!(matches!(
        e.service.authenticate(&a.access.token),
        Err(AuthError::UserInactive)
    ));
    assert!(matches!(
        e.service.refresh(&a.refresh.token, &client()),
        Err(AuthError::UserInactive)
    ));
    // Reactivation does not bring old sessions back.
    e.service
        .set_active(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            true,
            "back",
        )
        .unwrap();
    assert!(e.service.authenticate(&a.access.token).is_err());
    e.login("alice").unwrap();
    assert!(e.service.delete_user(&Actor::System, bob.id, "").unwrap());
    assert!(matches!(
        e.service.authenticate(&b.access.token),
        Err(AuthError::UserNotFound)
    ));
    assert!(matches!(
        e.service.refresh(&b.refresh.token, &client()),
        Err(AuthError::UserNotFound)
    ));
}

#[test]
fn lockout_after_failures_for_known_and_unknown_names_alike() {
    let settings = Settings {
        LOCKOUT_THRESHOLD: 3,
        LOCKOUT_WINDOW: Secs(600),
        LOCKOUT_DURATION: Secs(900),
        ARGON2_MEMORY_KIB: 1024,
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let before = e.login("alice").unwrap();
    for name in ["alice", "ghost"] {
        for _ in 0..3 {
            assert!(matches!(
                e.service.obtain_pair(&login(name, "guess")),
                Err(AuthError::InvalidCredentials)
            ));
        }
        // Locked: even the right password is refused, with the time left, known or not.
        match e.service.obtain_pair(&login(name, PASSWORD)) {
            Err(AuthError::LockedOut { retry_after }) => assert_eq!(retry_after, 900),
            other => panic!("{name}: {other:?}"),
        }
    }
    // A lockout by failed logins ends no session (LOCKOUT_REVOKES_SESSIONS is off).
    e.service.authenticate(&before.access.token).unwrap();
    e.service
        .refresh(&before.refresh.token, &client())
        .expect("her session survives the guessing");
    e.clock.advance(899);
    assert!(matches!(
        e.service.obtain_pair(&login("ALICE", PASSWORD)),
        Err(AuthError::LockedOut { retry_after: 1 })
    ));
    e.clock.advance(1);
    e.service.obtain_pair(&login("alice", PASSWORD)).unwrap();
    let locked = e
        .service
        .store()
        .audit(&AuditQuery {
            kinds: vec![AuditKind::LockedOut],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(locked.len(), 2);
}

#[test]
fn lockout_revokes_sessions_only_when_configured_to() {
    let settings = Settings {
        LOCKOUT_THRESHOLD: 3,
        LOCKOUT_REVOKES_SESSIONS: true,
        ARGON2_MEMORY_KIB: 1024,
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let before = e.login("alice").unwrap();
    for _ in 0..3 {
        assert!(e.service.obtain_pair(&login("alice", "guess")).is_err());
    }
    // SimpleJWT's "blacklist when the user is locked out", for deployments that want it.
    assert_eq!(
        blacklisted(&e.service.authenticate(&before.access.token).unwrap_err()),
        Some(Some(RevocationReason::LockedOut))
    );
    // An unknown identifier that locks ends nobody's sessions, and says nothing.
    for _ in 0..3 {
        assert!(matches!(
            e.service.obtain_pair(&login("ghost", "guess")),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        e.service.obtain_pair(&login("ghost", "guess")),
        Err(AuthError::LockedOut { .. })
    ));
}

#[test]
fn failures_spread_beyond_the_window_do_not_lock() {
    let settings = Settings {
        LOCKOUT_THRESHOLD: 3,
        LOCKOUT_WINDOW: Secs(60),
        ARGON2_MEMORY_KIB: 1024,
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    for _ in 0..6 {
        assert!(matches!(
            e.service.obtain_pair(&login("alice", "guess")),
            Err(AuthError::InvalidCredentials)
        ));
        e.clock.advance(31);
    }
    e.service.obtain_pair(&login("alice", PASSWORD)).unwrap();
}

#[test]
fn staff_routes_refuse_non_staff_and_audit_actor_and_reason() {
    let e = engine();
    let staff = e.staff("root").unwrap();
    let alice = e.user("alice").unwrap();
    let bob = e.user("bob").unwrap();
    let s = e.login("alice").unwrap();
    let forbidden =
        |r: Result<(), AuthError>| assert!(matches!(r, Err(AuthError::Forbidden(_))), "{r:?}");
    let not_found =
        |r: Result<(), AuthError>| assert!(matches!(r, Err(AuthError::NotFound(_))), "{r:?}");
    // Someone who is not staff gets no staff proof, so no staff operation...
    forbidden(e.service.staff(bob.id).map(|_| ()));
    // ...and as a plain user, nothing of anyone else's: the operations for
    // staff are forbidden, other people's accounts and sessions not found.
    let bob_actor = Actor::User(bob.id);
    let none = ClientInfo::default();
    forbidden(
        e.service
            .search_users(&bob_actor, &UserQuery::default())
            .map(|_| ()),
    );
    not_found(
        e.service
            .sessions_of(&bob_actor, alice.id, true)
            .map(|_| ()),
    );
    not_found(
        e.service
            .revoke_session(&bob_actor, s.session.id, "x", &none)
            .map(|_| ()),
    );
    not_found(
        e.service
            .end_sessions(&bob_actor, alice.id, "x", &none)
            .map(|_| ()),
    );
    forbidden(e.service.lock(&bob_actor, alice.id, None, "x").map(|_| ()));
    forbidden(e.service.unlock(&bob_actor, alice.id, "x"));
    forbidden(
        e.service
            .set_active(&bob_actor, alice.id, false, "x")
            .map(|_| ()),
    );
    forbidden(e.service.set_staff(&bob_actor, bob.id, true, "x"));
    forbidden(
        e.service
            .set_password(&bob_actor, alice.id, "new password 1", "x")
            .map(|_| ()),
    );
    forbidden(
        e.service
            .audit(&bob_actor, &AuditQuery::default())
            .map(|_| ()),
    );
    not_found(e.service.lineage(&bob_actor, s.session.id).map(|_| ()));
    // A reason is required.
    assert!(matches!(
        e.service.revoke_session(
            &warden_tests::staff_actor(&e.service, staff.id),
            s.session.id,
            " ",
            &ClientInfo::default()
        ),
        Err(AuthError::InvalidInput {
            field: "reason",
            ..
        })
    ));
    assert!(
        e.service
            .revoke_session(
                &warden_tests::staff_actor(&e.service, staff.id),
                s.session.id,
                "ticket 42",
                &ClientInfo::default()
            )
            .unwrap()
    );
    e.service
        .lock(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            None,
            "fraud check",
        )
        .unwrap();
    // A staff lock is not an oracle: the right password gets a wrong one's answer.
    assert!(matches!(
        e.service.obtain_pair(&login("alice", PASSWORD)),
        Err(AuthError::InvalidCredentials)
    ));
    e.service
        .unlock(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            "cleared",
        )
        .unwrap();
    e.login("alice").unwrap();
    e.service
        .set_password(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            "temporary pass 1",
            "forgot",
        )
        .unwrap();
    e.service
        .end_sessions(
            &warden_tests::staff_actor(&e.service, staff.id),
            alice.id,
            "precaution",
            &ClientInfo::default(),
        )
        .unwrap();
    e.service
        .set_staff(
            &warden_tests::staff_actor(&e.service, staff.id),
            bob.id,
            true,
            "new hire",
        )
        .unwrap();
    let audit = e
        .service
        .audit(
            &warden_tests::staff_actor(&e.service, staff.id),
            &AuditQuery {
                user: Some(alice.id),
                ..AuditQuery::default()
            },
        )
        .unwrap();
    for (kind, reason) in [
        (AuditKind::SessionRevoked, "ticket 42"),
        (AuditKind::UserLocked, "fraud check"),
        (AuditKind::UserUnlocked, "cleared"),
        (AuditKind::PasswordChanged, "forgot"),
        (AuditKind::SessionRevoked, "precaution"),
    ] {
        assert!(
            audit.iter().any(|x| x.event.kind == kind
                && x.event.actor == Some(staff.id)
                && x.event.reason.as_deref() == Some(reason)),
            "{kind:?} {reason} missing from {audit:#?}"
        );
    }
    // Bob is staff now, so the same call works for him.
    e.service
        .search_users(
            &warden_tests::staff_actor(&e.service, bob.id),
            &UserQuery::default(),
        )
        .unwrap();
}

#[test]
fn revocations_survive_a_restart() {
    let mut e = engine();
    e.user("alice").unwrap();
    let gone = e.login("alice").unwrap();
    let kept = e.login("alice").unwrap();
    let ctx = e.service.authenticate(&gone.access.token).unwrap();
    e.service
        .logout(&ctx, &gone.refresh.token, &client())
        .unwrap();
    let single = e.login("alice").unwrap();
    let ctx2 = e.service.authenticate(&single.access.token).unwrap();
    assert!(
        e.service
            .revoke_token(&ctx2, &single.access.token, &client())
            .unwrap()
    );
    e.restart().unwrap();
    assert!(e.service.revocations().is_session_revoked(gone.session.id));
    assert_eq!(
        blacklisted(&e.service.authenticate(&gone.access.token).unwrap_err()),
        Some(Some(RevocationReason::Logout))
    );
    assert!(e.service.authenticate(&single.access.token).is_err());
    e.service.authenticate(&kept.access.token).unwrap();
    e.service.refresh(&kept.refresh.token, &client()).unwrap();
}

#[test]
fn rfc7009_revocation_and_rfc7662_introspection() {
    let e = engine();
    e.user("alice").unwrap();
    e.user("eve").unwrap();
    let a = e.login("alice").unwrap();
    let eve = e.login("eve").unwrap();
    let ctx = e.service.authenticate(&a.access.token).unwrap();
    let eve_ctx = e.service.authenticate(&eve.access.token).unwrap();
    let seen = e.service.introspect(&ctx, &a.refresh.token).unwrap();
    assert!(seen.active);
    assert_eq!(seen.username.as_deref(), Some("alice"));
    // Another user's token looks inactive to a non-staff caller.
    assert!(
        !e.service
            .introspect(&eve_ctx, &a.refresh.token)
            .unwrap()
            .active
    );
    assert!(matches!(
        e.service.revoke_token(&eve_ctx, &a.access.token, &client()),
        Err(AuthError::Forbidden(_))
    ));
    // Garbage is not an error (RFC 7009 §2.2).
    assert!(
        !e.service
            .revoke_token(&ctx, "not-a-token", &client())
            .unwrap()
    );
    // Revoking just the access token leaves the session's refresh token working.
    let second = e.service.refresh(&a.refresh.token, &client()).unwrap();
    let other_access = second.access.token.clone();
    assert!(
        e.service
            .revoke_token(&ctx, &a.access.token, &client())
            .unwrap()
    );
    assert!(e.service.authenticate(&a.access.token).is_err());
    e.service.authenticate(&other_access).unwrap();
    assert!(!e.service.introspect(&ctx, &a.access.token).unwrap().active);
    // Revoking a refresh token ends the session.
    assert!(
        e.service
            .revoke_token(&ctx, &second.refresh.unwrap().token, &client())
            .unwrap()
    );
    assert!(e.service.authenticate(&other_access).is_err());
}

#[test]
fn verify_checks_blacklist_and_outstanding() {
    let e = engine();
    e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    e.service.verify(&pair.access.token).unwrap();
    e.service.verify(&pair.refresh.token).unwrap();
    e.service.refresh(&pair.refresh.token, &client()).unwrap();
    let err = e.service.verify(&pair.refresh.token).unwrap_err();
    assert_eq!(blacklisted(&err), Some(None), "{err:?}");
    let err = e.service.verify("abc.def.ghi").unwrap_err();
    assert!(matches!(err, AuthError::Token(_)));
}

#[test]
fn a_validly_signed_refresh_token_never_issued_is_refused() {
    use warden_auth::KeyRing;
    use warden_auth::tokens::{ClaimNames, mint};
    let e = engine();
    let alice = e.user("alice").unwrap();
    let pair = e.login("alice").unwrap();
    // Forge a token with the real key (as an insider with the key could): a fresh jti.
    let mut claims = pair.refresh.claims.clone();
    claims.jti = warden_auth::Jti::random().to_string();
    let ring = KeyRing::from_materials(e.keys.clone()).unwrap();
    let forged = mint(&ring, &claims, &ClaimNames::from_settings(&e.settings)).unwrap();
    let err = e.service.refresh(&forged.token, &client()).unwrap_err();
    assert!(
        matches!(err, AuthError::Token(TokenError::NotOutstanding)),
        "{err:?}"
    );
    assert!(e.service.verify(&forged.token).is_err());
    let _ = alice;
}

#[test]
fn sliding_tokens_slide_until_refresh_exp() {
    let settings = Settings {
        SLIDING_TOKEN_LIFETIME: Secs(300),
        SLIDING_TOKEN_REFRESH_LIFETIME: Secs(900),
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let (tok, session) = e.service.obtain_sliding(&login("alice", PASSWORD)).unwrap();
    assert_eq!(tok.claims.token_type, TokenType::Sliding);
    assert_eq!(tok.claims.refresh_exp, Some(T0 + 900));
    e.service.authenticate(&tok.token).unwrap();
    e.clock.advance(200);
    let slid = e.service.refresh_sliding(&tok.token).unwrap();
    assert_eq!(slid.claims.jti, tok.claims.jti);
    assert_eq!(slid.claims.exp, T0 + 500);
    e.clock.advance(250);
    let slid = e.service.refresh_sliding(&slid.token).unwrap();
    assert_eq!(slid.claims.exp, T0 + 750);
    e.clock.set(T0 + 740);
    let last = e.service.refresh_sliding(&slid.token).unwrap();
    assert_eq!(last.claims.exp, T0 + 900, "never past refresh_exp");
    // Logging the session out kills the sliding token too.
    let ctx = e.service.authenticate(&last.token).unwrap();
    assert!(
        e.service
            .revoke_session(&Actor::User(ctx.user_id), session.id, "", &client())
            .unwrap()
    );
    assert!(e.service.authenticate(&last.token).is_err());
}

#[test]
fn signing_key_rotation_keeps_old_tokens_valid_until_they_expire() {
    let settings = Settings {
        ACCESS_TOKEN_LIFETIME: Secs(300),
        REFRESH_TOKEN_LIFETIME: Secs(3600),
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let old = e.login("alice").unwrap();
    let old_kid = e.service.active_kid();
    let materials = e.service.rotate_signing_key().unwrap();
    assert_eq!(materials.len(), 2);
    assert_ne!(e.service.active_kid(), old_kid);
    let new = e.login("alice").unwrap();
    e.service.authenticate(&old.access.token).unwrap();
    e.service.authenticate(&new.access.token).unwrap();
    // The old refresh token rotates onto the new key.
    let r = e.service.refresh(&old.refresh.token, &client()).unwrap();
    e.service.authenticate(&r.access.token).unwrap();
    // Past the longest lifetime any token can have (here the sliding refresh
    // lifetime, 1 day) the old key is gone.
    e.clock.advance(86_401);
    e.service.flush_expired().unwrap();
    assert_eq!(e.service.key_materials().len(), 1);
    let audit = e
        .service
        .store()
        .audit(&AuditQuery {
            kinds: vec![AuditKind::KeyRotated],
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
}

#[test]
fn flush_removes_what_cannot_matter_and_keeps_live_revocations() {
    let settings = Settings {
        ACCESS_TOKEN_LIFETIME: Secs(60),
        REFRESH_TOKEN_LIFETIME: Secs(120),
        SESSION_MAX_LIFETIME: Secs(600),
        ..test_settings()
    };
    let e = Engine::new(settings).unwrap();
    e.user("alice").unwrap();
    let old = e.login("alice").unwrap();
    // Past the refresh token's expiry plus the access lifetime (the longest an
    // access token minted from it can live), its row can go.
    e.clock.advance(181);
    let live = e.login("alice").unwrap();
    let ctx = e.service.authenticate(&live.access.token).unwrap();
    e.service
        .logout(&ctx, &live.refresh.token, &client())
        .unwrap();
    let report = e.service.flush_expired().unwrap();
    assert!(report.outstanding_tokens >= 1, "{report:?}");
    assert!(
        e.service
            .store()
            .outstanding(
                old.refresh.claims.sid.parse().unwrap(),
                old.refresh.claims.jti.parse().unwrap()
            )
            .unwrap()
            .is_none()
    );
    // The logged-out session's access token is still refused after the flush.
    assert!(e.service.authenticate(&live.access.token).is_err());
}
