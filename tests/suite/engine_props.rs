//! Property tests: any sequence of refreshes, replays and clock moves on one
//! session behaves like a small model of the rotation rules.

use proptest::prelude::*;
use warden_auth::model::{ClientInfo, RevocationReason};
use warden_auth::{AuthError, RefreshKind, Secs, Settings, TokenError};
use warden_tests::{Engine, test_settings};

#[derive(Debug, Clone)]
enum Op {
    /// Present the token issued `back` generations before the newest (0 = the head).
    Refresh {
        back: usize,
    },
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..3).prop_map(|back| Op::Refresh { back }),
        1 => (1i64..40).prop_map(Op::Advance),
    ]
}

fn settings(grace: i64) -> Settings {
    Settings {
        REFRESH_GRACE_PERIOD: Secs(grace),
        // Cheap hashing: these cases exercise rotation, not passwords.
        ARGON2_MEMORY_KIB: 64,
        ARGON2_ITERATIONS: 1,
        ..test_settings()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn rotation_chains_follow_the_model(grace in prop_oneof![Just(0i64), Just(15i64)], ops in proptest::collection::vec(op(), 1..25)) {
        let e = Engine::new(settings(grace)).unwrap();
        e.user("alice").unwrap();
        let pair = e.login("alice").unwrap();
        // Model: every refresh token issued, when each was rotated away, and whether the family is dead.
        let mut chain: Vec<String> = vec![pair.refresh.token.clone()];
        let mut rotated_at: Vec<Option<i64>> = vec![None];
        let mut revoked = false;
        let mut accesses = vec![pair.access.token.clone()];
        for op in ops {
            match op {
                Op::Advance(s) => e.clock.advance(s),
                Op::Refresh { back } => {
                    if back >= chain.len() { continue; }
                    let i = chain.len() - 1 - back;
                    let now = e.service.now();
                    let got = e.service.refresh(&chain[i], &ClientInfo::default());
                    if revoked {
                        let err = got.unwrap_err();
                        prop_assert!(matches!(err, AuthError::Token(TokenError::Blacklisted(Some(RevocationReason::ReuseDetected)))), "{err:?}");
                    } else if back == 0 {
                        let r = got.unwrap();
                        prop_assert_eq!(r.kind, RefreshKind::Rotated);
                        rotated_at[i] = Some(now);
                        chain.push(r.refresh.unwrap().token);
                        rotated_at.push(None);
                        accesses.push(r.access.token);
                    } else if back == 1 && grace > 0 && now - rotated_at[i].unwrap() <= grace {
                        let r = got.unwrap();
                        prop_assert_eq!(r.kind, RefreshKind::GraceReplay);
                        prop_assert_eq!(&r.refresh.unwrap().token, chain.last().unwrap());
                        accesses.push(r.access.token);
                    } else {
                        let err = got.unwrap_err();
                        prop_assert!(matches!(err, AuthError::Token(TokenError::Blacklisted(Some(RevocationReason::ReuseDetected)))), "{err:?}");
                        revoked = true;
                    }
                }
            }
            // Invariant: every access token of the family works exactly while it is alive.
            for a in &accesses {
                prop_assert_eq!(e.service.authenticate(a).is_ok(), !revoked);
            }
        }
        // Invariant: the store holds one token per generation and at most one live head.
        let tokens = e.service.store().tokens_of_session(pair.session.id).unwrap();
        prop_assert_eq!(tokens.len(), chain.len());
        prop_assert!(tokens.iter().filter(|t| t.rotated_at.is_none()).count() <= 1);
    }
}
