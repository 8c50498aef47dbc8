//! Failed-login throttling, as pure functions.
//!
//! Attempts are counted per login identifier, not per user row, so an
//! unknown username is throttled exactly like a known one and lockout cannot
//! be used to find out which usernames exist.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::clock::UnixTime;
use crate::model::ThrottleState;
use crate::settings::Settings;
use crate::store::ThrottlePolicy;

/// Admission of login attempts per login identifier, so that parallel
/// guesses cannot outrun the lockout. Without it, parallel guesses all read
/// the failure counter before any of them recorded a failure and every one
/// got its password checked (64 parallel guesses: 41 checked against a
/// threshold of 5).
///
/// Each attempt admitted holds a reservation for the one failure it may
/// record. For an identifier, the entry's `budget` is `threshold - failures`
/// as read from the store by an attempt that was alone in the entry, minus
/// every reservation spent since (an attempt that leaves without declaring
/// that it recorded no failure spends its reservation). Attempts are
/// admitted only while `in_flight < budget`, so:
///
/// **Invariant**: failures recorded since the read + attempts in flight
/// <= `threshold - failures at the read`. Hence the store never counts more
/// than `threshold` failures before the lock, and no more than `threshold`
/// passwords are checked before it; a locked identifier publishes budget 0
/// and nothing is checked.
///
/// A stale budget is only ever too small (failures that leave the window,
/// or reservations spent without a failure, are not given back), never too
/// large. It is refreshed whenever an attempt finds nobody in flight: that
/// attempt enters alone and must read the store and [`Pass::publish`]
/// before anyone joins it. Clearing the failure counter after a correct
/// password must not race with failures being recorded, so it is done by an
/// attempt that re-entered alone ([`Pass::reenter_alone`]; waiting for that
/// holds back new admissions so it cannot starve).
///
/// Different identifiers never wait for each other; an entry lives only
/// while attempts on its identifier are in flight or waiting.
/// The scheme is per process, like the lock it protects: two servers on one
/// database each admit their own reservations.
#[derive(Debug, Default)]
pub struct LoginGates {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    /// Attempts admitted and not yet left.
    in_flight: u32,
    /// `None` while the attempt that entered alone has not published yet.
    budget: Option<u32>,
    /// Attempts blocked in [`LoginGates::enter`] or [`Pass::reenter_alone`].
    waiting: u32,
    /// Of those, the ones re-entering alone: they go first.
    waiting_alone: u32,
    wake: Arc<Condvar>,
}

impl Entry {
    fn new() -> Entry {
        Entry {
            in_flight: 0,
            budget: None,
            waiting: 0,
            waiting_alone: 0,
            wake: Arc::new(Condvar::new()),
        }
    }

    /// Admits one attempt if the rules allow it; `Some(alone)`.
    fn admit(&mut self, want_alone: bool) -> Option<bool> {
        if self.in_flight == 0 {
            // Nobody in flight: enter alone and re-read, the budget may be stale.
            self.in_flight = 1;
            self.budget = None;
            return Some(true);
        }
        if want_alone || self.waiting_alone > 0 {
            return None;
        }
        match self.budget {
            Some(b) if self.in_flight < b => {
                self.in_flight += 1;
                Some(false)
            }
            _ => None,
        }
    }
}

/// One admitted login attempt; leaving (drop) spends its reservation unless
/// [`Pass::no_failure`] was called.
#[derive(Debug)]
pub struct Pass<'a> {
    gates: &'a LoginGates,
    key: String,
    alone: bool,
    spent: bool,
}

impl LoginGates {
    /// Waits until an attempt on `key` may run.
    pub fn enter(&self, key: &str) -> Pass<'_> {
        self.wait_for(key, false)
    }

    /// [`LoginGates::enter`] without waiting (for tests).
    pub fn try_enter(&self, key: &str) -> Option<Pass<'_>> {
        let mut entries = self.entries.lock();
        let entry = entries.entry(key.to_string()).or_insert_with(Entry::new);
        // An entry that did not exist always admits, so none is left behind.
        entry.admit(false).map(|alone| self.pass(key, alone))
    }

    fn pass(&self, key: &str, alone: bool) -> Pass<'_> {
        Pass {
            gates: self,
            key: key.to_string(),
            alone,
            spent: true,
        }
    }

    fn wait_for(&self, key: &str, want_alone: bool) -> Pass<'_> {
        let mut entries = self.entries.lock();
        let mut registered = false;
        loop {
            let entry = entries.entry(key.to_string()).or_insert_with(Entry::new);
            if let Some(alone) = entry.admit(want_alone) {
                if registered {
                    entry.waiting = entry.waiting.saturating_sub(1);
                    if want_alone {
                        entry.waiting_alone = entry.waiting_alone.saturating_sub(1);
                    }
                }
                return self.pass(key, alone);
            }
            if !registered {
                // Registered waiters keep the entry alive (see `leave`).
                entry.waiting += 1;
                if want_alone {
                    entry.waiting_alone += 1;
                }
                registered = true;
            }
            let wake = entry.wake.clone();
            wake.wait(&mut entries);
        }
    }

    fn leave(&self, key: &str, spent: bool) {
        let mut entries = self.entries.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        if spent {
            entry.budget = entry.budget.map(|b| b.saturating_sub(1));
        }
        if entry.in_flight == 0 && entry.waiting == 0 {
            entries.remove(key);
        } else {
            entry.wake.notify_all();
        }
    }

    fn publish(&self, key: &str, budget: u32) {
        let mut entries = self.entries.lock();
        if let Some(entry) = entries.get_mut(key) {
            entry.budget = Some(budget);
            entry.wake.notify_all();
        }
    }

    /// Identifiers with attempts in flight or waiting (for tests).
    pub fn in_flight(&self) -> usize {
        self.entries.lock().len()
    }

    /// Attempts on `key` admitted and not yet left (for tests).
    pub fn attempts_in_flight(&self, key: &str) -> u32 {
        self.entries.lock().get(key).map_or(0, |e| e.in_flight)
    }
}

impl Pass<'_> {
    /// True if this attempt entered alone and has not published yet: it must
    /// read the throttle state and [`Pass::publish`] the budget before anyone
    /// else is admitted.
    pub fn alone(&self) -> bool {
        self.alone
    }

    /// Sets the identifier's budget: how many attempts may be in flight at
    /// once, this one included ([`remaining_attempts`]). Only an attempt that
    /// entered alone may publish, and only before it changes the counter
    /// otherwise than by recording its own failure.
    /// Later calls do nothing: a second publish would forget the
    /// reservations spent since the first.
    pub fn publish(&mut self, budget: u32) {
        if self.alone {
            self.alone = false;
            self.gates.publish(&self.key, budget);
        }
    }

    /// This attempt recorded no failure: leaving gives its reservation back.
    pub fn no_failure(&mut self) {
        self.spent = false;
    }

    /// Leaves without spending the reservation and waits to enter again
    /// alone (ahead of new attempts); the caller must re-read the state and
    /// publish.
    pub fn reenter_alone(mut self) -> Self {
        self.spent = false;
        let gates = self.gates;
        let key = self.key.clone();
        // Leaves, giving the reservation back.
        drop(self);
        gates.wait_for(&key, true)
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gates.leave(&self.key, self.spent);
    }
}

/// How many attempts may be in flight at once for an identifier whose
/// stored state is `state` at `now`: 0 while locked, else the failures left
/// before the lock. Mirrors [`after_failure`]: an expired lock or window
/// starts over with a full threshold.
pub fn remaining_attempts(
    state: Option<&ThrottleState>,
    now: UnixTime,
    policy: ThrottlePolicy,
) -> u32 {
    let Some(s) = state else {
        return policy.threshold;
    };
    match s.locked_until {
        Some(until) if until > now => 0,
        Some(_) => policy.threshold,
        None if now.saturating_sub(s.window_started_at) >= policy.window => policy.threshold,
        None => policy.threshold.saturating_sub(s.failures),
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

    const FIVE: ThrottlePolicy = ThrottlePolicy {
        threshold: 5,
        window: 60,
        lock_for: 300,
    };

    fn with_failures(failures: u32, window_started_at: UnixTime) -> ThrottleState {
        ThrottleState {
            key: "alice".into(),
            failures,
            window_started_at,
            locked_until: None,
        }
    }

    #[test]
    fn the_first_attempt_enters_alone_and_its_budget_admits_the_rest() {
        let gates = LoginGates::default();
        let mut first = gates.enter("alice");
        assert!(first.alone());
        // Nobody joins before the budget is published.
        assert!(gates.try_enter("alice").is_none());
        // Other identifiers do not wait.
        let bob = gates.try_enter("bob").unwrap();
        assert!(bob.alone());
        drop(bob);
        first.publish(remaining_attempts(None, 0, FIVE));
        let mut others: Vec<_> = (0..4).map(|_| gates.try_enter("alice").unwrap()).collect();
        assert!(others.iter().all(|p| !p.alone()));
        assert_eq!(gates.attempts_in_flight("alice"), 5);
        assert!(gates.try_enter("alice").is_none(), "a sixth got in");
        // A failure spends its reservation: 4 in flight, budget 4.
        others.pop();
        assert_eq!(gates.attempts_in_flight("alice"), 4);
        assert!(gates.try_enter("alice").is_none());
        // An attempt that recorded no failure gives its reservation back.
        let mut ok = others.pop().unwrap();
        ok.no_failure();
        drop(ok);
        let again = gates.try_enter("alice").unwrap();
        assert!(gates.try_enter("alice").is_none());
        drop(again);
        drop(others);
        drop(first);
        assert_eq!(gates.in_flight(), 0, "entries are dropped when idle");
        // A fresh entry starts alone again and re-reads.
        assert!(gates.enter("alice").alone());
    }

    #[test]
    fn budget_shrinks_with_recorded_failures() {
        let gates = LoginGates::default();
        let state = with_failures(3, 100);
        assert_eq!(remaining_attempts(Some(&state), 110, FIVE), 2);
        let mut first = gates.enter("alice");
        first.publish(remaining_attempts(Some(&state), 110, FIVE));
        let second = gates.try_enter("alice").unwrap();
        assert!(
            gates.try_enter("alice").is_none(),
            "3 failures + 3 in flight > 5"
        );
        // A second publish cannot raise the budget again.
        first.publish(5);
        assert!(gates.try_enter("alice").is_none());
        drop((first, second));
    }

    #[test]
    fn remaining_attempts_mirrors_after_failure() {
        assert_eq!(remaining_attempts(None, 0, FIVE), 5);
        let mut s = None;
        for t in 0..4 {
            s = Some(after_failure(s.as_ref(), "a", t, FIVE));
            assert_eq!(remaining_attempts(s.as_ref(), t, FIVE), 4 - t as u32);
        }
        // Window over: the next failure starts over, so the full threshold is left.
        assert_eq!(remaining_attempts(s.as_ref(), 60, FIVE), 5);
        // Locked: nothing is checked; after the lock, a full threshold again.
        s = Some(after_failure(s.as_ref(), "a", 4, FIVE));
        assert_eq!(remaining_attempts(s.as_ref(), 4, FIVE), 0);
        assert_eq!(remaining_attempts(s.as_ref(), 303, FIVE), 0);
        assert_eq!(remaining_attempts(s.as_ref(), 304, FIVE), 5);
    }

    /// One login attempt the way `AuthService` runs it, against an in-memory
    /// counter; `check` stands for the password check and says if it matched.
    fn attempt(
        gates: &LoginGates,
        store: &Mutex<Option<ThrottleState>>,
        now: UnixTime,
        check: impl FnOnce() -> bool,
    ) -> Result<(), bool> {
        let mut pass = gates.enter("alice");
        let state = store.lock().clone();
        pass.publish(remaining_attempts(state.as_ref(), now, FIVE));
        if retry_after(state.as_ref(), now).is_some() {
            pass.no_failure();
            return Err(true);
        }
        if !check() {
            let mut s = store.lock();
            *s = Some(after_failure(s.as_ref(), "alice", now, FIVE));
            return Err(false);
        }
        pass.no_failure();
        if state.is_some_and(|s| s.failures > 0) {
            let mut pass = pass.reenter_alone();
            let state = store.lock().clone();
            if retry_after(state.as_ref(), now).is_some() {
                pass.publish(0);
                return Err(true);
            }
            *store.lock() = None;
            pass.publish(FIVE.threshold);
        }
        Ok(())
    }

    #[test]
    fn parallel_wrong_guesses_get_at_most_threshold_checks() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        for failures_before in [0, 3] {
            let gates = LoginGates::default();
            let store =
                Mutex::new((failures_before > 0).then(|| with_failures(failures_before, 0)));
            let checked = AtomicUsize::new(0);
            let barrier = std::sync::Barrier::new(64);
            std::thread::scope(|s| {
                for _ in 0..64 {
                    s.spawn(|| {
                        barrier.wait();
                        let r = attempt(&gates, &store, 1, || {
                            checked.fetch_add(1, Ordering::SeqCst);
                            std::thread::yield_now();
                            false
                        });
                        assert!(r.is_err());
                    });
                }
            });
            let left = (FIVE.threshold - failures_before) as usize;
            assert_eq!(
                checked.load(Ordering::SeqCst),
                left,
                "{failures_before} failures before: more checks than the lockout allows"
            );
            assert!(retry_after(store.lock().as_ref(), 1).is_some());
            assert_eq!(gates.in_flight(), 0);
        }
    }

    #[test]
    fn parallel_right_passwords_run_together_up_to_the_budget() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gates = LoginGates::default();
        let store = Mutex::new(None);
        let inside = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let reached = (Mutex::new(false), Condvar::new());
        // A correctness bound, not a timing: a gate that never lets the
        // budget in together fails here instead of hanging.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let r = attempt(&gates, &store, 1, || {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        let mut full = reached.0.lock();
                        if n == FIVE.threshold as usize {
                            *full = true;
                            reached.1.notify_all();
                        }
                        while !*full && !reached.1.wait_until(&mut full, deadline).timed_out() {}
                        drop(full);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        true
                    });
                    assert_eq!(r, Ok(()));
                });
            }
        });
        assert_eq!(
            peak.load(Ordering::SeqCst),
            FIVE.threshold as usize,
            "logins with the right password should run together, up to the threshold"
        );
        assert_eq!(gates.in_flight(), 0);
    }

    #[test]
    fn clearing_waits_alone_and_goes_before_new_attempts() {
        let gates = LoginGates::default();
        let mut first = gates.enter("alice");
        first.publish(5);
        let other = gates.try_enter("alice").unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let pass = first.reenter_alone();
                (pass.alone(), gates.attempts_in_flight("alice"))
            });
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while gates.entries.lock().get("alice").map(|e| e.waiting_alone) != Some(1) {
                assert!(std::time::Instant::now() < deadline, "never queued");
                std::thread::yield_now();
            }
            // Budget is left (1 of 5 in flight) but the waiter goes first.
            assert!(gates.try_enter("alice").is_none());
            drop(other);
            assert_eq!(waiter.join().unwrap(), (true, 1));
        });
        assert_eq!(gates.in_flight(), 0);
    }
}
