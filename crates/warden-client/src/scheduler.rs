//! The arithmetic of staying signed in: when to rotate, how long to back off,
//! how to tell a clock jump or a suspend from ordinary time passing. Pure
//! functions over plain numbers (Unix seconds as `f64`), so each rule is tested
//! without waiting.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Rotation never happens in the first half of a token's life (unless the
/// configured fraction itself is lower): a margin longer than the lifetime
/// would otherwise rotate every token the moment it arrives.
pub(crate) const MIN_LIFETIME_FRACTION: f64 = 0.5;

/// A token whose `iat` is further than this from the local clock at receipt
/// tells us the server's clock differs from ours; closer is truncation and latency.
pub(crate) const SKEW_TOLERANCE_SECS: f64 = 5.0;

/// The local time (Unix seconds) to rotate a token issued at `iat` that expires
/// at `exp` (both already in local time): the earlier of `fraction` of its
/// lifetime and `margin` seconds before expiry, but never in the first half of
/// its life (unless `fraction` is lower); `now` if that moment has passed.
pub fn plan_rotation(iat: f64, exp: f64, now: f64, fraction: f64, margin: f64) -> f64 {
    let lifetime = exp - iat;
    if !lifetime.is_finite() || lifetime <= 0.0 {
        return now;
    }
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.05, 1.0)
    } else {
        0.8
    };
    let margin = if margin.is_finite() {
        margin.max(0.0)
    } else {
        0.0
    };
    let by_fraction = iat + lifetime * fraction;
    let by_margin = exp - margin;
    let floor = iat + lifetime * fraction.min(MIN_LIFETIME_FRACTION);
    by_fraction.min(by_margin).max(floor).max(now)
}

/// Seconds to add to the server's times to get local times, judged from a
/// token's `iat` and the local time it arrived: 0 while the clocks agree
/// within [`SKEW_TOLERANCE_SECS`].
pub(crate) fn clock_offset(iat: i64, received_at: f64) -> f64 {
    let skew = received_at - iat as f64;
    if skew.abs() <= SKEW_TOLERANCE_SECS {
        0.0
    } else {
        skew
    }
}

/// How far the wall clock moved beyond the monotonic clock between two
/// observations, when that is more than `threshold` seconds: positive after a
/// suspend or a clock set forward, negative after a clock set back.
pub(crate) fn detect_jump(wall_elapsed: f64, mono_elapsed: f64, threshold: f64) -> Option<f64> {
    let jump = wall_elapsed - mono_elapsed;
    (jump.abs() > threshold).then_some(jump)
}

/// The delay before retry number `attempt` (1 for the first retry): `initial`,
/// doubling each time, at most `max`, spread by ±25 % (`jitter` in `[0, 1)`) so
/// that many clients do not retry in step. Never above `max`.
pub fn backoff_delay(attempt: u32, initial: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = (initial.as_secs_f64() * f64::from(1u32 << exponent)).min(max.as_secs_f64());
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let secs = (base * (0.75 + 0.5 * jitter)).min(max.as_secs_f64());
    Duration::from_secs_f64(secs.max(0.0))
}

/// Milliseconds added to the wall clock: the developer tools' "skew the
/// client clock". Process-wide, 0 unless a fault lab sets it.
static SIMULATED_SKEW_MS: AtomicI64 = AtomicI64::new(0);

/// Makes this process's session managers see a wall clock `secs` off
/// (developer tools only). The managers notice the jump, replan, and
/// re-measure the server's clock at their next rotation.
pub fn set_simulated_clock_skew(secs: f64) {
    let ms = if secs.is_finite() {
        (secs * 1000.0) as i64
    } else {
        0
    };
    SIMULATED_SKEW_MS.store(ms, Ordering::SeqCst);
}

/// The skew set by [`set_simulated_clock_skew`], in seconds.
pub fn simulated_clock_skew() -> f64 {
    SIMULATED_SKEW_MS.load(Ordering::SeqCst) as f64 / 1000.0
}

/// The local wall clock, in Unix seconds (plus any simulated skew).
pub fn wall_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
        + simulated_clock_skew()
}

/// A number in `[0, 1)` for jitter (splitmix64 over time and a counter; not for secrets).
pub fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut z = COUNTER
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(u64::from(nanos));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Watches the wall clock against the monotonic clock between ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClockWatch {
    wall: f64,
    mono: Instant,
    threshold: f64,
}

impl ClockWatch {
    pub(crate) fn new(threshold: Duration) -> Self {
        ClockWatch {
            wall: wall_now(),
            mono: Instant::now(),
            threshold: threshold.as_secs_f64(),
        }
    }

    /// The jump since the last observation, if any; then starts over from now.
    pub(crate) fn observe(&mut self) -> Option<f64> {
        self.observe_at(wall_now(), Instant::now())
    }

    pub(crate) fn observe_at(&mut self, wall: f64, mono: Instant) -> Option<f64> {
        let mono_elapsed = mono.saturating_duration_since(self.mono).as_secs_f64();
        let jump = detect_jump(wall - self.wall, mono_elapsed, self.threshold);
        self.wall = wall;
        self.mono = mono;
        jump
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: f64 = 1_800_000_000.0;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn long_tokens_rotate_at_the_fraction() {
        // 5 min: 80 % = 240 s is earlier than 30 s before expiry (270 s).
        assert!(close(plan_rotation(T, T + 300.0, T, 0.8, 30.0), T + 240.0));
        // 6 h: 80 % = 4.8 h.
        assert!(close(
            plan_rotation(T, T + 21_600.0, T, 0.8, 30.0),
            T + 17_280.0
        ));
    }

    #[test]
    fn short_tokens_rotate_at_the_margin() {
        // 100 s: 30 s before expiry (70 s) is earlier than 80 % (80 s).
        assert!(close(plan_rotation(T, T + 100.0, T, 0.8, 30.0), T + 70.0));
        // Equal at 150 s.
        assert!(close(plan_rotation(T, T + 150.0, T, 0.8, 30.0), T + 120.0));
    }

    #[test]
    fn a_margin_longer_than_half_the_lifetime_is_capped() {
        // 2 s tokens with a 30 s margin: not immediately, but half-way.
        assert!(close(plan_rotation(T, T + 2.0, T, 0.8, 30.0), T + 1.0));
        assert!(close(plan_rotation(T, T + 40.0, T, 0.8, 30.0), T + 20.0));
        // An explicit low fraction is honoured.
        assert!(close(plan_rotation(T, T + 100.0, T, 0.3, 30.0), T + 30.0));
        // No margin: the fraction alone.
        assert!(close(plan_rotation(T, T + 2.0, T, 0.8, 0.0), T + 1.6));
    }

    #[test]
    fn already_past_means_now() {
        assert!(close(
            plan_rotation(T, T + 300.0, T + 250.0, 0.8, 30.0),
            T + 250.0
        ));
        // Expired long ago.
        assert!(close(
            plan_rotation(T, T + 300.0, T + 9_999.0, 0.8, 30.0),
            T + 9_999.0
        ));
        // Nonsense lifetimes rotate now.
        assert!(close(plan_rotation(T, T, T + 1.0, 0.8, 30.0), T + 1.0));
        assert!(close(plan_rotation(T + 5.0, T, T, 0.8, 30.0), T));
        assert!(close(plan_rotation(f64::NAN, T, T, 0.8, 30.0), T));
    }

    #[test]
    fn odd_fractions_and_margins_are_clamped() {
        assert!(close(plan_rotation(T, T + 100.0, T, 7.0, 0.0), T + 100.0));
        assert!(close(plan_rotation(T, T + 100.0, T, -1.0, 0.0), T + 5.0));
        assert!(close(plan_rotation(T, T + 100.0, T, 0.8, -5.0), T + 80.0));
        assert!(close(
            plan_rotation(T, T + 100.0, T, f64::NAN, f64::INFINITY),
            T + 80.0
        ));
    }

    #[test]
    fn clock_jump_replans_from_the_new_now() {
        // Planned at T+240; a suspend moves now to T+600 (past expiry): rotate now.
        let planned = plan_rotation(T, T + 300.0, T + 10.0, 0.8, 30.0);
        assert!(close(planned, T + 240.0));
        let jump = detect_jump(590.0, 2.0, 3.0).unwrap();
        assert!(close(jump, 588.0));
        assert!(close(
            plan_rotation(T, T + 300.0, T + 600.0, 0.8, 30.0),
            T + 600.0
        ));
        // A jump that stays before the rotation point keeps the plan.
        assert!(close(
            plan_rotation(T, T + 300.0, T + 100.0, 0.8, 30.0),
            T + 240.0
        ));
    }

    #[test]
    fn jumps_below_the_threshold_are_ordinary_time() {
        assert_eq!(detect_jump(1.0, 1.0, 3.0), None);
        assert_eq!(detect_jump(3.5, 1.0, 3.0), None);
        assert_eq!(detect_jump(1.0, 5.0, 3.0), Some(-4.0));
        assert_eq!(detect_jump(-3600.0, 1.0, 3.0), Some(-3601.0));
    }

    #[test]
    fn clock_watch_reports_each_jump_once() {
        let mono = Instant::now();
        let mut w = ClockWatch {
            wall: T,
            mono,
            threshold: 3.0,
        };
        assert_eq!(w.observe_at(T + 1.0, mono + Duration::from_secs(1)), None);
        let j = w
            .observe_at(T + 3_601.0, mono + Duration::from_secs(2))
            .unwrap();
        assert!(close(j, 3_599.0));
        assert_eq!(
            w.observe_at(T + 3_602.0, mono + Duration::from_secs(3)),
            None
        );
    }

    #[test]
    fn skew_is_ignored_within_tolerance() {
        assert_eq!(clock_offset(1_000, 1_000.9), 0.0);
        assert_eq!(clock_offset(1_000, 1_004.0), 0.0);
        assert_eq!(clock_offset(1_000, 996.0), 0.0);
        assert!(close(clock_offset(1_000, 1_100.5), 100.5));
        assert!(close(clock_offset(1_000, 400.0), -600.0));
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(30));
        let mid: Vec<f64> = (1..=7)
            .map(|a| backoff_delay(a, i, m, 0.5).as_secs_f64())
            .collect();
        assert_eq!(mid, vec![1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
        for attempt in 1..=40 {
            for j in [0.0, 0.25, 0.999, 1.0, f64::NAN] {
                let d = backoff_delay(attempt, i, m, j);
                assert!(d <= m, "attempt {attempt} jitter {j}: {d:?}");
                let base = (1u64 << (attempt - 1).min(20)) as f64;
                assert!(d.as_secs_f64() >= 0.75 * base.min(30.0) - 1e-9);
            }
        }
        assert_eq!(backoff_delay(0, i, m, 0.5), Duration::from_secs(1));
        assert!((backoff_delay(1, i, m, 0.0).as_secs_f64() - 0.75).abs() < 1e-9);
        assert!((backoff_delay(1, i, m, 1.0).as_secs_f64() - 1.25).abs() < 1e-9);
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..1000).map(|_| jitter()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
