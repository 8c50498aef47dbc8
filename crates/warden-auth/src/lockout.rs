//! Brute-force protection that cannot be turned against the user, as pure
//! functions over throttle rows. The stores apply them atomically, as they
//! execute the writes [`crate::rotation::decide`] returns.
//!
//! Three counters, after Auth0's brute-force protection (per user *and*
//! source address) and its throttling of one address across many users:
//!
//! - **pair**: one identifier from one client address. `LOCKOUT_THRESHOLD`
//!   failures within `LOCKOUT_WINDOW` lock that pair for `LOCKOUT_DURATION`.
//!   The same user signing in from another address is not stopped, and the
//!   lock ends nobody's sessions unless `LOCKOUT_REVOKES_SESSIONS` says so.
//! - **identifier**: one identifier from every address, on every node.
//!   Past `LOCKOUT_IDENTIFIER_CEILING` failures within
//!   `LOCKOUT_IDENTIFIER_WINDOW`, each failure makes the next attempt wait
//!   1 s, 2 s, 4 s, ... (at most `LOCKOUT_DURATION`), one attempt at a time:
//!   guessing from many addresses slows to a trickle, without a wall that
//!   keeps the owner out for good.
//! - **address**: one address across every identifier
//!   (`LOCKOUT_ADDRESS_THRESHOLD` within `LOCKOUT_WINDOW`, then blocked for
//!   `LOCKOUT_DURATION`), against credential stuffing.
//!
//! An address from which the account signed in with its right password
//! within `SESSION_MAX_LIFETIME` is *known* for it: there the identifier
//! ceiling and the address block do not apply, only the pair's own limit, so
//! an attacker elsewhere cannot keep the owner out of her usual places.
//!
//! **Admission before the check.** Every attempt reserves its place in the
//! store before its password is hashed ([`ThrottleStep::Reserve`]). A
//! reservation counts against the limits while it is pending, becomes a
//! failure or goes away when settled, and counts as a failure when it was
//! never settled within `ATTEMPT_TIMEOUT` (its node went away). Reservations
//! are writes in the store's transactions, so parallel guesses, on one node or
//! on many sharing a PostgreSQL database, never get more checks than the
//! limits allow, and a right password waits for a place instead of being
//! refused.
//!
//! Known and unknown identifiers are counted and answered alike, and rows
//! are keyed by an HMAC of the normalised identifier and address
//! ([`IdentifierHasher`]): what somebody typed into the username field (a
//! password, often) is never stored readable.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::clock::UnixTime;
use crate::ids::UserId;
use crate::model::{
    AuditEvent, AuditKind, ThrottleKey, ThrottleRequest, ThrottleScope, ThrottleState,
    ThrottleStep, ThrottleVerdict,
};
use crate::settings::Settings;

/// Seconds an admitted attempt may stay unsettled before it counts as a
/// failure. A password check takes milliseconds; only a node that died
/// between reserving and settling leaves one behind.
pub(crate) const ATTEMPT_TIMEOUT: i64 = 60;

/// The identifier ceiling's first delay, in seconds; it doubles per failure.
const FIRST_DELAY: i64 = 1;

/// A counter that locks at a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures within `window` that lock.
    pub threshold: u32,
    /// Seconds over which failures are counted.
    pub window: i64,
    /// How long a lock lasts.
    pub lock_for: i64,
}

/// The identifier ceiling: past `ceiling` failures, progressive delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ceiling {
    /// Failures within `window` before delays begin.
    pub ceiling: u32,
    /// Seconds over which failures are counted.
    pub window: i64,
    /// The longest delay.
    pub max_delay: i64,
}

/// Everything [`apply`] needs to know of the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// One identifier from one address; `None`: not counted.
    pub pair: Option<Limit>,
    /// One identifier from every address; `None`: not counted.
    pub identifier: Option<Ceiling>,
    /// One address across every identifier; `None`: not counted.
    pub address: Option<Limit>,
    /// How long an address stays known for an account after a right password.
    pub known_for: i64,
    /// Seconds an unsettled reservation waits before it counts as a failure.
    pub attempt_timeout: i64,
}

impl LockoutPolicy {
    /// `None` when failed logins are not counted at all: `LOCKOUT_THRESHOLD
    /// = 0` turns every counter off, as it turned the lockout off before
    /// there were three.
    pub fn from_settings(s: &Settings) -> Option<LockoutPolicy> {
        if s.LOCKOUT_THRESHOLD == 0 {
            return None;
        }
        let limit = |threshold: u32| {
            (threshold > 0).then_some(Limit {
                threshold,
                window: s.LOCKOUT_WINDOW.get(),
                lock_for: s.LOCKOUT_DURATION.get(),
            })
        };
        let policy = LockoutPolicy {
            pair: limit(s.LOCKOUT_THRESHOLD),
            identifier: (s.LOCKOUT_IDENTIFIER_CEILING > 0).then_some(Ceiling {
                ceiling: s.LOCKOUT_IDENTIFIER_CEILING,
                window: s.LOCKOUT_IDENTIFIER_WINDOW.get(),
                max_delay: s.LOCKOUT_DURATION.get().max(FIRST_DELAY),
            }),
            address: limit(s.LOCKOUT_ADDRESS_THRESHOLD),
            known_for: s.SESSION_MAX_LIFETIME.get().max(0),
            attempt_timeout: ATTEMPT_TIMEOUT,
        };
        Some(policy)
    }

    /// The locking limit of a pair or address row (`None` for the identifier's ceiling).
    fn limit(&self, scope: ThrottleScope) -> Option<Limit> {
        match scope {
            ThrottleScope::Pair => self.pair,
            ThrottleScope::Address => self.address,
            ThrottleScope::Identifier => None,
        }
    }

    fn window(&self, scope: ThrottleScope) -> Option<i64> {
        match scope {
            ThrottleScope::Pair => self.pair.map(|l| l.window),
            ThrottleScope::Identifier => self.identifier.map(|c| c.window),
            ThrottleScope::Address => self.address.map(|l| l.window),
        }
    }
}

/// The form attempts are counted under: trimmed and lower-cased, so `Alice`
/// and `alice ` share one counter.
pub(crate) fn identifier_key(identifier: &str) -> String {
    identifier.trim().to_lowercase()
}

/// Keys throttle rows (and the audit log's mention of unknown identifiers)
/// by an HMAC-SHA256 under a server secret, so that nothing typed into a
/// login form is stored readable, and nobody without the secret can test
/// guesses against what is stored.
#[derive(Clone)]
pub struct IdentifierHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for IdentifierHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentifierHasher(<secret>)")
    }
}

fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so the fallback is never taken.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()))
}

/// Hex digits kept of each HMAC: 128 bits, plenty against collisions.
const HASH_HEX: usize = 32;

impl IdentifierHasher {
    /// A hasher keyed by `secret` (the server's identifier secret; see
    /// [`crate::keys::KeyRing::identifier_secret`]).
    pub fn new(secret: &[u8]) -> IdentifierHasher {
        // Domain-separate the secret first, so the same bytes used elsewhere
        // (a signing key, in the fallback) give unrelated hashes here.
        let mut derive = hmac_with(secret);
        derive.update(b"warden identifier hash v1");
        let key = derive.finalize().into_bytes();
        IdentifierHasher {
            mac: hmac_with(&key),
        }
    }

    fn hash(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.mac.clone();
        for part in parts {
            // Length-prefixed, so no two different part lists hash alike.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        let mut out = hex::encode(digest);
        out.truncate(HASH_HEX);
        out
    }

    /// The identifier as the audit log names it when it names no account.
    pub fn identifier(&self, normalised: &str) -> String {
        self.hash(&[b"identifier", normalised.as_bytes()])
    }

    fn pair(&self, normalised: &str, address: &str) -> String {
        self.hash(&[b"pair", normalised.as_bytes(), address.as_bytes()])
    }

    fn address(&self, address: &str) -> String {
        self.hash(&[b"address", address.as_bytes()])
    }

    /// The rows one attempt reads: its pair, its identifier and its address
    /// (the last only when the address is known), for the counters `policy`
    /// has on. The pair row is always read: it says whether the address is
    /// known for the account.
    pub fn keys(
        &self,
        normalised: &str,
        address: Option<&str>,
        user: Option<UserId>,
        policy: &LockoutPolicy,
    ) -> Vec<ThrottleKey> {
        let mut keys = vec![ThrottleKey {
            key: self.pair(normalised, address.unwrap_or("")),
            scope: ThrottleScope::Pair,
            user_id: user,
            address: address.map(str::to_string),
        }];
        if policy.identifier.is_some() {
            keys.push(ThrottleKey {
                key: self.identifier(normalised),
                scope: ThrottleScope::Identifier,
                user_id: user,
                address: None,
            });
        }
        if let (Some(address), Some(_)) = (address, policy.address) {
            keys.push(ThrottleKey {
                key: self.address(address),
                scope: ThrottleScope::Address,
                user_id: None,
                address: Some(address.to_string()),
            });
        }
        keys
    }
}

/// What one row says about admitting one more attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Admit,
    Wait,
    Refuse(i64),
}

/// The row as it stands at `now`: a lock or delay that has run out, a window
/// that has passed and reservations left behind by a node that went away are
/// accounted for.
fn current(row: &ThrottleState, now: UnixTime, policy: &LockoutPolicy) -> ThrottleState {
    let mut row = row.clone();
    if row.pending > 0
        && let Some(at) = row.pending_until
        && at <= now
    {
        // Fail closed: an attempt nobody settled counts as a failure, as of
        // its deadline (not of this read, so the result does not move
        // while nothing is written).
        row.failures = row.failures.saturating_add(row.pending);
        row.pending = 0;
        row.pending_until = None;
        lock_if_due(&mut row, at, policy);
    }
    if row.pending == 0 {
        row.pending_until = None;
    }
    if let Some(until) = row.locked_until
        && until <= now
    {
        row.locked_until = None;
        if row.scope != ThrottleScope::Identifier {
            // A lock that ran out starts a clean slate: the next lock needs a
            // full threshold. (The identifier's delays keep counting up.)
            row.failures = 0;
            row.window_started_at = now;
        }
    }
    if row.locked_until.is_none()
        && let Some(window) = policy.window(row.scope)
        && now.saturating_sub(row.window_started_at) >= window
    {
        row.failures = 0;
        row.window_started_at = now;
    }
    row
}

fn admission(row: &ThrottleState, now: UnixTime, policy: &LockoutPolicy) -> Admission {
    if let Some(secs) = row.retry_after(now) {
        return Admission::Refuse(secs);
    }
    let counted = row.failures.saturating_add(row.pending);
    match row.scope {
        ThrottleScope::Pair | ThrottleScope::Address => match policy.limit(row.scope) {
            Some(l) if row.failures >= l.threshold => Admission::Refuse(l.lock_for.max(1)),
            Some(l) if counted >= l.threshold => Admission::Wait,
            _ => Admission::Admit,
        },
        ThrottleScope::Identifier => match policy.identifier {
            // Past the ceiling, one attempt at a time: each failure sets the
            // delay the next one must wait.
            Some(c) if counted >= c.ceiling && row.pending > 0 => Admission::Wait,
            _ => Admission::Admit,
        },
    }
}

/// The delay after the `n`-th failure past the ceiling (n = 0, 1, ...).
pub(crate) fn ceiling_delay(n: u32, max_delay: i64) -> i64 {
    let shift = n.min(62);
    FIRST_DELAY
        .checked_shl(shift)
        .unwrap_or(i64::MAX)
        .min(max_delay.max(FIRST_DELAY))
}

/// Sets the row's lock when its failures call for one; true if it did now.
fn lock_if_due(row: &mut ThrottleState, now: UnixTime, policy: &LockoutPolicy) -> bool {
    match row.scope {
        ThrottleScope::Pair | ThrottleScope::Address => match policy.limit(row.scope) {
            Some(l) if row.failures >= l.threshold && row.locked_until.is_none() => {
                row.locked_until = Some(now.saturating_add(l.lock_for));
                true
            }
            _ => false,
        },
        ThrottleScope::Identifier => match policy.identifier {
            Some(c) if row.failures >= c.ceiling => {
                let delay = ceiling_delay(row.failures - c.ceiling, c.max_delay);
                row.locked_until = Some(now.saturating_add(delay));
                row.failures == c.ceiling
            }
            _ => false,
        },
    }
}

/// When the row stops mattering: its window, lock, reservations and known
/// address have all run out.
fn expires_at(row: &ThrottleState, policy: &LockoutPolicy) -> UnixTime {
    let window = policy.window(row.scope).unwrap_or(0);
    [
        Some(row.window_started_at.saturating_add(window)),
        row.locked_until,
        row.pending_until,
        row.last_success_at
            .map(|t| t.saturating_add(policy.known_for)),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(row.window_started_at)
}

/// Whether `pair` says the account signed in from this address recently.
fn is_known(pair: Option<&ThrottleState>, now: UnixTime, policy: &LockoutPolicy) -> bool {
    pair.and_then(|p| p.last_success_at)
        .is_some_and(|t| now.saturating_sub(t) < policy.known_for)
}

/// What [`apply`] decided: the rows to write, the verdict, and audit lines
/// to write with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleChange {
    /// The counters to write.
    pub rows: Vec<ThrottleState>,
    /// What the attempt gets.
    pub verdict: ThrottleVerdict,
    /// Audit lines for locks that began.
    pub audit: Vec<AuditEvent>,
}

/// The read-only answer for `rows` (as read, in any order) at `now`: whether
/// a [`ThrottleStep::Reserve`] would admit, wait or refuse. Used to refuse a
/// locked identifier without writing anything (a flood of refused attempts
/// costs reads, not writes); the write then decides again.
pub(crate) fn precheck(
    rows: &[ThrottleState],
    now: UnixTime,
    policy: &LockoutPolicy,
) -> ThrottleVerdict {
    let pair = rows.iter().find(|r| r.scope == ThrottleScope::Pair);
    let known = is_known(pair, now, policy);
    let mut verdict = ThrottleVerdict::Admitted {
        charged: Vec::new(),
    };
    for row in rows {
        if known && row.scope != ThrottleScope::Pair {
            continue;
        }
        verdict = combine(verdict, admission(&current(row, now, policy), now, policy));
    }
    verdict
}

fn combine(verdict: ThrottleVerdict, admission: Admission) -> ThrottleVerdict {
    match (verdict, admission) {
        (ThrottleVerdict::Refused { retry_after: a }, Admission::Refuse(b)) => {
            ThrottleVerdict::Refused {
                retry_after: a.max(b),
            }
        }
        (ThrottleVerdict::Refused { retry_after }, _) | (_, Admission::Refuse(retry_after)) => {
            ThrottleVerdict::Refused { retry_after }
        }
        (ThrottleVerdict::Wait, _) | (_, Admission::Wait) => ThrottleVerdict::Wait,
        (v, Admission::Admit) => v,
    }
}

/// One throttle step over the rows the store found for `request.keys`
/// (`found[i]` is the row of `request.keys[i]`, `None` if there is none).
pub fn apply(request: &ThrottleRequest, found: &[Option<ThrottleState>]) -> ThrottleChange {
    let now = request.now;
    let policy = &request.policy;
    let rows: Vec<ThrottleState> = request
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let mut row = match found.get(i).and_then(Option::as_ref) {
                Some(row) => current(row, now, policy),
                None => ThrottleState::fresh(key, now),
            };
            // A known account's name is attached once it is known.
            if row.user_id.is_none() {
                row.user_id = key.user_id;
            }
            row
        })
        .collect();
    let mut change = match request.step {
        ThrottleStep::Reserve => reserve(rows, now, policy),
        ThrottleStep::Failed | ThrottleStep::Succeeded => settle(rows, request, now, policy),
    };
    for row in &mut change.rows {
        row.expires_at = expires_at(row, policy);
    }
    change
}

fn reserve(rows: Vec<ThrottleState>, now: UnixTime, policy: &LockoutPolicy) -> ThrottleChange {
    let pair = rows.iter().find(|r| r.scope == ThrottleScope::Pair);
    let known = is_known(pair, now, policy);
    let charged: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !known || r.scope == ThrottleScope::Pair)
        .map(|(i, _)| i)
        .collect();
    let mut verdict = ThrottleVerdict::Admitted {
        charged: Vec::new(),
    };
    for &i in &charged {
        verdict = combine(verdict, admission(&rows[i], now, policy));
    }
    if !matches!(verdict, ThrottleVerdict::Admitted { .. }) {
        // Nothing is written for a refusal or a wait.
        return ThrottleChange {
            rows: Vec::new(),
            verdict,
            audit: Vec::new(),
        };
    }
    let mut rows = rows;
    let mut scopes = Vec::new();
    let mut written = Vec::new();
    for i in charged {
        let row = &mut rows[i];
        row.pending = row.pending.saturating_add(1);
        row.pending_until = Some(now.saturating_add(policy.attempt_timeout));
        scopes.push(row.scope);
        written.push(row.clone());
    }
    ThrottleChange {
        rows: written,
        verdict: ThrottleVerdict::Admitted { charged: scopes },
        audit: Vec::new(),
    }
}

fn settle(
    mut rows: Vec<ThrottleState>,
    request: &ThrottleRequest,
    now: UnixTime,
    policy: &LockoutPolicy,
) -> ThrottleChange {
    let mut locked = Vec::new();
    let mut audit = request.audit.clone();
    for row in &mut rows {
        row.pending = row.pending.saturating_sub(1);
        if row.pending == 0 {
            row.pending_until = None;
        }
        match request.step {
            ThrottleStep::Failed => {
                row.failures = row.failures.saturating_add(1);
                if lock_if_due(row, now, policy) {
                    locked.push(row.scope);
                    let mut event = AuditEvent::new(now, AuditKind::LockedOut)
                        .address(row.address.clone())
                        .detail(serde_json::json!({
                            "scope": row.scope.as_str(),
                            "until": row.locked_until,
                            "failures": row.failures,
                        }));
                    if let Some(user) = row.user_id {
                        event = event.subject(user);
                    }
                    audit.push(event);
                }
            }
            ThrottleStep::Succeeded if row.scope == ThrottleScope::Pair => {
                // The right password from here: this pair starts over, and
                // the address is known for the account from now on.
                row.failures = 0;
                row.locked_until = None;
                row.window_started_at = now;
                row.last_success_at = Some(now);
            }
            ThrottleStep::Succeeded | ThrottleStep::Reserve => {}
        }
    }
    ThrottleChange {
        rows,
        verdict: ThrottleVerdict::Settled { locked },
        audit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LockoutPolicy = LockoutPolicy {
        pair: Some(Limit {
            threshold: 3,
            window: 60,
            lock_for: 300,
        }),
        identifier: Some(Ceiling {
            ceiling: 5,
            window: 3600,
            max_delay: 300,
        }),
        address: Some(Limit {
            threshold: 10,
            window: 60,
            lock_for: 300,
        }),
        known_for: 86_400,
        attempt_timeout: 60,
    };

    /// An in-memory store of rows, applying requests the way a store does.
    #[derive(Default)]
    struct Rows(std::collections::HashMap<String, ThrottleState>);

    impl Rows {
        fn run(
            &mut self,
            keys: &[ThrottleKey],
            step: ThrottleStep,
            now: UnixTime,
        ) -> ThrottleVerdict {
            self.run_with(keys, step, now, POLICY)
        }

        fn run_with(
            &mut self,
            keys: &[ThrottleKey],
            step: ThrottleStep,
            now: UnixTime,
            policy: LockoutPolicy,
        ) -> ThrottleVerdict {
            let request = ThrottleRequest {
                keys: keys.to_vec(),
                step,
                now,
                policy,
                audit: Vec::new(),
            };
            let found: Vec<_> = keys.iter().map(|k| self.0.get(&k.key).cloned()).collect();
            let change = apply(&request, &found);
            for row in change.rows {
                self.0.insert(row.key.clone(), row);
            }
            change.verdict
        }

        fn row(&self, key: &ThrottleKey) -> ThrottleState {
            self.0.get(&key.key).cloned().unwrap()
        }

        /// Reserve, then settle as `ok` says; the verdict of whichever refused.
        fn attempt(&mut self, keys: &[ThrottleKey], now: UnixTime, ok: bool) -> ThrottleVerdict {
            match self.run(keys, ThrottleStep::Reserve, now) {
                ThrottleVerdict::Admitted { charged } => {
                    let charged: Vec<ThrottleKey> = keys
                        .iter()
                        .filter(|k| charged.contains(&k.scope))
                        .cloned()
                        .collect();
                    let step = if ok {
                        ThrottleStep::Succeeded
                    } else {
                        ThrottleStep::Failed
                    };
                    self.run(&charged, step, now)
                }
                other => other,
            }
        }
    }

    fn hasher() -> IdentifierHasher {
        IdentifierHasher::new(b"test secret")
    }

    fn keys(who: &str, from: &str) -> Vec<ThrottleKey> {
        hasher().keys(&identifier_key(who), Some(from), None, &POLICY)
    }

    fn refused(v: &ThrottleVerdict) -> bool {
        matches!(v, ThrottleVerdict::Refused { .. })
    }

    #[test]
    fn identifiers_are_normalised_and_hashed_never_kept() {
        assert_eq!(identifier_key("  Alice@Example.COM "), "alice@example.com");
        let h = hasher();
        let typed = "correct horse battery staple";
        let k = h.keys(&identifier_key(typed), Some("10.0.0.1"), None, &POLICY);
        assert_eq!(k.len(), 3);
        for key in &k {
            assert_eq!(key.key.len(), HASH_HEX);
            assert!(!key.key.contains("horse"), "{key:?}");
        }
        // Stable for one secret, different under another and per scope.
        assert_eq!(h.identifier("alice"), hasher().identifier("alice"));
        assert_ne!(
            h.identifier("alice"),
            IdentifierHasher::new(b"other").identifier("alice")
        );
        let pair = |id: &str, addr: &str| h.keys(id, Some(addr), None, &POLICY)[0].key.clone();
        assert_ne!(pair("alice", "10.0.0.1"), pair("alice", "10.0.0.2"));
        // Length prefixes: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(pair("ab", "c"), pair("a", "bc"));
        assert_ne!(h.identifier("alice"), pair("alice", ""));
        // No address: no address row.
        assert_eq!(h.keys("alice", None, None, &POLICY).len(), 2);
    }

    #[test]
    fn a_pair_locks_at_its_threshold_and_another_address_is_not_stopped() {
        let mut rows = Rows::default();
        let there = keys("alice", "198.51.100.7");
        for t in 0..3 {
            assert!(matches!(
                rows.attempt(&there, t, false),
                ThrottleVerdict::Settled { .. }
            ));
        }
        assert_eq!(rows.row(&there[0]).locked_until, Some(2 + 300));
        // 50 more guesses from there: all refused without a check.
        for t in 3..53 {
            assert!(refused(&rows.attempt(&there, t, false)));
        }
        assert_eq!(rows.row(&there[0]).failures, 3, "refusals are not counted");
        // Her right password from her own address is not stopped.
        let home = keys("alice", "192.0.2.1");
        assert_eq!(
            rows.attempt(&home, 60, true),
            ThrottleVerdict::Settled { locked: vec![] }
        );
        // The attacker's pair stays locked until its time is up...
        assert!(refused(&rows.attempt(&there, 301, true)));
        // ... and then starts over with a full threshold.
        assert!(matches!(
            rows.attempt(&there, 302, false),
            ThrottleVerdict::Settled { .. }
        ));
        assert_eq!(rows.row(&there[0]).failures, 1);
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let mut rows = Rows::default();
        let k = keys("alice", "a");
        rows.attempt(&k, 100, false);
        rows.attempt(&k, 159, false);
        assert_eq!(rows.row(&k[0]).failures, 2);
        rows.attempt(&k, 160, false);
        let row = rows.row(&k[0]);
        assert_eq!(
            (row.failures, row.window_started_at, row.locked_until),
            (1, 160, None)
        );
    }

    #[test]
    fn a_right_password_resets_its_pair_and_makes_the_address_known() {
        let mut rows = Rows::default();
        let k = keys("alice", "a");
        rows.attempt(&k, 0, false);
        rows.attempt(&k, 1, false);
        rows.attempt(&k, 2, true);
        let pair = rows.row(&k[0]);
        assert_eq!(
            (pair.failures, pair.pending, pair.last_success_at),
            (0, 0, Some(2))
        );
        // The identifier row keeps the others' failures: a success forgives only its own pair.
        assert_eq!(rows.row(&k[1]).failures, 2);
        // Known for `known_for`, and the row lives that long.
        assert_eq!(pair.expires_at, 2 + POLICY.known_for);
    }

    #[test]
    fn the_identifier_ceiling_delays_progressively_but_not_known_addresses() {
        let mut rows = Rows::default();
        // The owner signed in from home once.
        let home = keys("alice", "192.0.2.1");
        rows.attempt(&home, 0, true);
        // Distributed guessing: 2 failures from each of many addresses (under the pair threshold).
        let mut t = 10;
        let mut checked = 0;
        let mut delays = Vec::new();
        for n in 0..40 {
            let k = keys("alice", &format!("203.0.113.{n}"));
            for _ in 0..2 {
                match rows.attempt(&k, t, false) {
                    ThrottleVerdict::Settled { .. } => checked += 1,
                    ThrottleVerdict::Refused { retry_after } => delays.push(retry_after),
                    other => panic!("{other:?}"),
                }
                t += 1;
            }
        }
        // 80 guesses, one a second: 5 free failures, then each check waits
        // 1 s, 2 s, 4 s, 8 s, 16 s, 32 s after the one before (the next, 64 s,
        // runs past the end): 11 checked, the rest refused unchecked.
        assert_eq!(checked, 11, "delays {delays:?}");
        assert!(delays.iter().any(|d| *d > 1), "{delays:?}");
        let id = rows.row(&home[1]);
        assert!(id.retry_after(t).is_some(), "{id:?}");
        // A new address waits like everyone else ...
        assert!(refused(&rows.attempt(
            &keys("alice", "198.51.100.1"),
            t,
            true
        )));
        // ... but the owner's known address is not delayed.
        assert_eq!(
            rows.attempt(&home, t, true),
            ThrottleVerdict::Settled { locked: vec![] }
        );
        // The delay grows with every failure past the ceiling, capped.
        assert_eq!(ceiling_delay(0, 300), 1);
        assert_eq!(ceiling_delay(3, 300), 8);
        assert_eq!(ceiling_delay(9, 300), 300);
        assert_eq!(ceiling_delay(200, 300), 300);
    }

    #[test]
    fn one_address_across_many_identifiers_is_blocked_except_for_its_known_accounts() {
        let mut rows = Rows::default();
        let office = "198.51.100.50";
        rows.attempt(&keys("carol", office), 0, true);
        for n in 0..10 {
            rows.attempt(&keys(&format!("user{n}"), office), 1, false);
        }
        // The 11th identifier from there is refused before any check ...
        assert!(refused(&rows.attempt(&keys("dave", office), 2, true)));
        // ... carol, who signs in from there, is not.
        assert!(matches!(
            rows.attempt(&keys("carol", office), 2, true),
            ThrottleVerdict::Settled { .. }
        ));
        // Elsewhere, dave is fine.
        assert!(matches!(
            rows.attempt(&keys("dave", "192.0.2.9"), 2, true),
            ThrottleVerdict::Settled { .. }
        ));
    }

    #[test]
    fn reservations_count_until_settled_so_parallel_guesses_wait() {
        let mut rows = Rows::default();
        let k = keys("alice", "a");
        let mut admitted = 0;
        let mut waits = 0;
        for _ in 0..10 {
            match rows.run(&k, ThrottleStep::Reserve, 0) {
                ThrottleVerdict::Admitted { .. } => admitted += 1,
                ThrottleVerdict::Wait => waits += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((admitted, waits), (3, 7));
        // All three fail: the pair locks, and the waiting ones are refused.
        for _ in 0..3 {
            rows.run(&k, ThrottleStep::Failed, 0);
        }
        assert!(refused(&rows.run(&k, ThrottleStep::Reserve, 0)));
        // Right passwords in parallel: one success frees a place for the next.
        let mut rows = Rows::default();
        for _ in 0..3 {
            assert!(matches!(
                rows.run(&k, ThrottleStep::Reserve, 0),
                ThrottleVerdict::Admitted { .. }
            ));
        }
        assert_eq!(
            rows.run(&k, ThrottleStep::Reserve, 0),
            ThrottleVerdict::Wait
        );
        rows.run(&k, ThrottleStep::Succeeded, 0);
        assert!(matches!(
            rows.run(&k, ThrottleStep::Reserve, 0),
            ThrottleVerdict::Admitted { .. }
        ));
    }

    #[test]
    fn reservations_nobody_settled_count_as_failures() {
        let mut rows = Rows::default();
        let k = keys("alice", "a");
        for _ in 0..3 {
            rows.run(&k, ThrottleStep::Reserve, 0);
        }
        // Their node died: after the timeout they are failures, and lock.
        assert_eq!(
            rows.run(&k, ThrottleStep::Reserve, 30),
            ThrottleVerdict::Wait
        );
        assert!(refused(&rows.run(&k, ThrottleStep::Reserve, 60)));
        let found = [Some(rows.row(&k[0]))];
        assert!(refused(&precheck(
            &[found[0].clone().unwrap()],
            61,
            &POLICY
        )));
    }

    #[test]
    fn precheck_mirrors_reserve() {
        let mut rows = Rows::default();
        let k = keys("alice", "a");
        let read = |rows: &Rows| -> Vec<ThrottleState> {
            k.iter()
                .filter_map(|key| rows.0.get(&key.key).cloned())
                .collect()
        };
        assert!(matches!(
            precheck(&read(&rows), 0, &POLICY),
            ThrottleVerdict::Admitted { .. }
        ));
        for t in 0..3 {
            rows.attempt(&k, t, false);
        }
        assert_eq!(
            precheck(&read(&rows), 3, &POLICY),
            ThrottleVerdict::Refused { retry_after: 299 }
        );
        assert!(matches!(
            precheck(&read(&rows), 302, &POLICY),
            ThrottleVerdict::Admitted { .. }
        ));
    }

    #[test]
    fn locking_writes_an_audit_line_naming_the_account_when_there_is_one() {
        let k = hasher().keys("alice", Some("a"), Some(7), &POLICY);
        let mut found = vec![None, None, None];
        let mut last = None;
        for t in 0..3 {
            let reserve = ThrottleRequest {
                keys: k.clone(),
                step: ThrottleStep::Reserve,
                now: t,
                policy: POLICY,
                audit: vec![],
            };
            let change = apply(&reserve, &found);
            found = k
                .iter()
                .map(|key| change.rows.iter().find(|r| r.key == key.key).cloned())
                .collect();
            let fail = ThrottleRequest {
                step: ThrottleStep::Failed,
                ..reserve
            };
            let change = apply(&fail, &found);
            found = k
                .iter()
                .map(|key| change.rows.iter().find(|r| r.key == key.key).cloned())
                .collect();
            last = Some(change);
        }
        let change = last.unwrap();
        assert_eq!(
            change.verdict,
            ThrottleVerdict::Settled {
                locked: vec![ThrottleScope::Pair]
            }
        );
        let locked: Vec<_> = change
            .audit
            .iter()
            .filter(|e| e.kind == AuditKind::LockedOut)
            .collect();
        assert_eq!(locked.len(), 1);
        assert_eq!(locked[0].subject, Some(7));
        assert_eq!(locked[0].detail["scope"], "pair");
    }

    #[test]
    fn a_zero_threshold_turns_every_counter_off() {
        let s = Settings {
            LOCKOUT_THRESHOLD: 0,
            ..Settings::default()
        };
        assert!(LockoutPolicy::from_settings(&s).is_none());
        let p = LockoutPolicy::from_settings(&Settings::default()).unwrap();
        assert_eq!(p.pair.map(|l| l.threshold), Some(5));
        assert_eq!(p.identifier.map(|c| c.ceiling), Some(20));
        assert_eq!(p.address.map(|l| l.threshold), Some(100));
        let p = LockoutPolicy::from_settings(&Settings {
            LOCKOUT_IDENTIFIER_CEILING: 0,
            LOCKOUT_ADDRESS_THRESHOLD: 0,
            ..Settings::default()
        })
        .unwrap();
        assert_eq!((p.identifier, p.address), (None, None));
        // The pair row alone (no counters but known status) is harmless.
        let only_ceiling = LockoutPolicy {
            pair: None,
            address: None,
            ..POLICY
        };
        let mut rows = Rows::default();
        let k = hasher().keys("alice", Some("a"), None, &only_ceiling);
        for t in 0..5 {
            assert!(matches!(
                rows.run_with(&k, ThrottleStep::Reserve, t, only_ceiling),
                ThrottleVerdict::Admitted { .. }
            ));
            rows.run_with(&k, ThrottleStep::Failed, t, only_ceiling);
        }
        // Past the ceiling: the next attempt waits the first delay (1 s).
        assert_eq!(
            rows.run_with(&k, ThrottleStep::Reserve, 4, only_ceiling),
            ThrottleVerdict::Refused { retry_after: 1 }
        );
        assert!(matches!(
            rows.run_with(&k, ThrottleStep::Reserve, 5, only_ceiling),
            ThrottleVerdict::Admitted { .. }
        ));
    }
}
