//! Failed-login throttling, as pure functions.
//!
//! Attempts are counted per login identifier, not per user row, so an
//! unknown username is throttled exactly like a known one and lockout cannot
//! be used to find out which usernames exist.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::clock::UnixTime;
use crate::model::ThrottleState;
use crate::settings::Settings;
use crate::store::ThrottlePolicy;

/// One gate per login identifier being tried right now: attempts on the same
/// identifier are judged one at a time, so each sees the failures of the ones
/// before it. Without it, parallel guesses all read the counter before any of
/// them recorded a failure and every one gets its password checked (64
/// parallel guesses: 41 checked against a threshold of 5). Different
/// identifiers never wait for each other; an entry lives only while attempts
/// on its identifier are in flight.
#[derive(Debug, Default)]
pub struct LoginGates {
    gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl LoginGates {
    /// Runs `f` holding `key`'s gate.
    pub fn run<T>(&self, key: &str, f: impl FnOnce() -> T) -> T {
        let gate = self
            .gates
            .lock()
            .entry(key.to_string())
            .or_default()
            .clone();
        let out = {
            let _held = gate.lock();
            f()
        };
        let mut gates = self.gates.lock();
        // Clones are only taken under the map lock: 2 = the map's and ours.
        if Arc::strong_count(&gate) == 2 {
            gates.remove(key);
        }
        out
    }

    /// Identifiers with attempts in flight (for tests).
    pub fn in_flight(&self) -> usize {
        self.gates.lock().len()
    }
}

impl ThrottlePolicy {
    /// `None` when lockout is off (`LOCKOUT_THRESHOLD = 0`).
    pub fn from_settings(s: &Settings) -> Option<ThrottlePolicy> {
        (s.LOCKOUT_THRESHOLD > 0).then_some(ThrottlePolicy {
            threshold: s.LOCKOUT_THRESHOLD,
            window: s.LOCKOUT_WINDOW.get(),
            lock_for: s.LOCKOUT_DURATION.get(),
        })
    }
}

/// The key attempts are counted under: trimmed and lower-cased, so `Alice`
/// and `alice ` share one counter.
pub fn identifier_key(identifier: &str) -> String {
    identifier.trim().to_lowercase()
}

/// Seconds until the identifier may try again, if it is locked now.
pub fn retry_after(state: Option<&ThrottleState>, now: UnixTime) -> Option<i64> {
    let until = state?.locked_until?;
    (until > now).then(|| until - now)
}

/// The state after one more failure. Stores apply this atomically.
pub fn after_failure(
    prev: Option<&ThrottleState>,
    key: &str,
    now: UnixTime,
    policy: ThrottlePolicy,
) -> ThrottleState {
    let fresh = ThrottleState {
        key: key.to_string(),
        failures: 0,
        window_started_at: now,
        locked_until: None,
    };
    let mut state = match prev {
        // A lock that has run out starts a clean slate, so the next lock needs a full threshold.
        Some(p) if p.locked_until.is_some_and(|u| u <= now) => fresh,
        Some(p)
            if now.saturating_sub(p.window_started_at) >= policy.window
                && p.locked_until.is_none() =>
        {
            fresh
        }
        Some(p) => p.clone(),
        None => fresh,
    };
    state.failures = state.failures.saturating_add(1);
    if state.failures >= policy.threshold && state.locked_until.is_none() {
        state.locked_until = Some(now.saturating_add(policy.lock_for));
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: ThrottlePolicy = ThrottlePolicy {
        threshold: 3,
        window: 60,
        lock_for: 300,
    };

    #[test]
    fn identifiers_are_normalised() {
        assert_eq!(identifier_key("  Alice@Example.COM "), "alice@example.com");
    }

    #[test]
    fn locks_at_threshold_within_window() {
        let mut s = after_failure(None, "a", 100, P);
        assert_eq!(s.failures, 1);
        assert_eq!(retry_after(Some(&s), 100), None);
        s = after_failure(Some(&s), "a", 110, P);
        s = after_failure(Some(&s), "a", 120, P);
        assert_eq!(s.locked_until, Some(420));
        assert_eq!(retry_after(Some(&s), 120), Some(300));
        assert_eq!(retry_after(Some(&s), 419), Some(1));
        assert_eq!(retry_after(Some(&s), 420), None);
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let s = after_failure(None, "a", 100, P);
        let s = after_failure(Some(&s), "a", 159, P);
        assert_eq!(s.failures, 2);
        let s = after_failure(Some(&s), "a", 160, P);
        assert_eq!(
            (s.failures, s.window_started_at, s.locked_until),
            (1, 160, None)
        );
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lock() {
        let mut s = None;
        for t in [0, 1, 2] {
            s = Some(after_failure(s.as_ref(), "a", t, P));
        }
        let locked = s.clone().unwrap().locked_until;
        let s2 = after_failure(s.as_ref(), "a", 50, P);
        assert_eq!(s2.locked_until, locked);
    }

    #[test]
    fn an_expired_lock_needs_a_full_threshold_again() {
        let mut s = None;
        for t in [0, 1, 2] {
            s = Some(after_failure(s.as_ref(), "a", t, P));
        }
        let after = after_failure(s.as_ref(), "a", 302, P);
        assert_eq!((after.failures, after.locked_until), (1, None));
    }

    #[test]
    fn off_when_threshold_is_zero() {
        let s = Settings {
            LOCKOUT_THRESHOLD: 0,
            ..Settings::default()
        };
        assert!(ThrottlePolicy::from_settings(&s).is_none());
        assert!(ThrottlePolicy::from_settings(&Settings::default()).is_some());
    }

    #[test]
    fn login_gates_serialise_one_identifier_and_forget_it_afterwards() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gates = LoginGates::default();
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    gates.run("alice", || {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    });
                });
            }
        });
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "two attempts on one identifier overlapped"
        );
        assert_eq!(gates.in_flight(), 0, "gates are dropped when idle");
        // Different identifiers do not wait for each other.
        let r = gates.run("a", || gates.run("b", || 7));
        assert_eq!(r, 7);
    }
}
