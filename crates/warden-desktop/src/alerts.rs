//! What the tray icon shows and when the desktop is told: the decisions,
//! written once here and tested without a window; `src-tauri` draws the icon
//! and [`send`] delivers a notification over D-Bus
//! (`org.freedesktop.Notifications`, the desktop's notification server).
//!
//! - [`TrayState`]: one profile's state as the tray sees it, and
//!   [`tray_summary`] the worst of them (signed in, expiring while offline,
//!   signed out) with the words of its tooltip.
//! - [`Notifier`]: which profile events become a notification: a session
//!   ended from elsewhere (revoked, reuse detected, password changed, the
//!   account deactivated or deleted), and a session whose access token will
//!   expire before the server can be reached again (once per outage).

use std::collections::HashMap;

use serde::Serialize;
use warden_client::{Event, Phase, SessionState, SignOutReason};

use crate::profiles::{Profile, ProfileId};
use crate::{Error, Result};

/// One profile as the tray sees it; the order is "worse is greater".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    /// Signed in and rotating (or restoring from the keyring).
    SignedIn,
    /// Signed in, but the server cannot be reached: the session is kept and
    /// its tokens run down until it answers.
    ExpiringOffline,
    /// Not signed in (or there is no profile at all).
    SignedOut,
}

impl TrayState {
    /// The state of a session.
    pub fn of(state: &SessionState) -> TrayState {
        match state.phase {
            Phase::Active | Phase::Rotating | Phase::Restoring => TrayState::SignedIn,
            Phase::Offline { .. } => TrayState::ExpiringOffline,
            Phase::SignedOut { .. } => TrayState::SignedOut,
        }
    }

    /// In words, for a tooltip.
    pub fn words(self) -> &'static str {
        match self {
            TrayState::SignedIn => "signed in",
            TrayState::ExpiringOffline => "expiring while offline",
            TrayState::SignedOut => "signed out",
        }
    }
}

/// What the tray shows: the worst state and a tooltip naming the profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TraySummary {
    /// The worst profile's state (signed out when there are no profiles).
    pub state: TrayState,
    /// `Warden: 2 signed in, 1 expiring while offline (staging)`.
    pub tooltip: String,
}

/// The worst of `profiles` (name and session each), for the tray.
pub fn tray_summary<'a>(
    profiles: impl IntoIterator<Item = (&'a str, &'a SessionState)>,
) -> TraySummary {
    let mut by_state: Vec<(TrayState, Vec<&str>)> = Vec::new();
    for (name, state) in profiles {
        let s = TrayState::of(state);
        match by_state.iter_mut().find(|(k, _)| *k == s) {
            Some((_, names)) => names.push(name),
            None => by_state.push((s, vec![name])),
        }
    }
    if by_state.is_empty() {
        return TraySummary {
            state: TrayState::SignedOut,
            tooltip: "Warden: no profiles yet".into(),
        };
    }
    by_state.sort_by_key(|(s, _)| *s);
    let worst = by_state.last().map_or(TrayState::SignedOut, |(s, _)| *s);
    let parts: Vec<String> = by_state
        .iter()
        .map(|(s, names)| match s {
            // Who is in trouble is named; who is fine is counted.
            TrayState::SignedIn => format!("{} {}", names.len(), s.words()),
            _ => format!("{} {} ({})", names.len(), s.words(), names.join(", ")),
        })
        .collect();
    TraySummary {
        state: worst,
        tooltip: format!("Warden: {}", parts.join(", ")),
    }
}

/// A desktop notification to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notification {
    /// The profile it is about.
    pub profile: ProfileId,
    /// One line: `Signed out of work`.
    pub summary: String,
    /// What happened and what to do, in the user's words.
    pub body: String,
    /// Shown until dismissed (a session ended) rather than for a while.
    pub critical: bool,
}

#[derive(Debug, Default)]
struct Seen {
    /// The last phase was "signed out".
    signed_out: bool,
    /// This outage was already announced.
    warned_offline: bool,
}

/// Decides which profile events notify, remembering per profile what it said.
#[derive(Debug, Default)]
pub struct Notifier {
    seen: HashMap<ProfileId, Seen>,
}

impl Notifier {
    /// A notifier that has seen nothing yet.
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// Remembers `state` of `profile` without notifying (the state on start).
    pub fn prime(&mut self, profile: &ProfileId, state: &SessionState) {
        let seen = self.seen.entry(profile.clone()).or_default();
        seen.signed_out = matches!(state.phase, Phase::SignedOut { .. });
    }

    /// Forgets a removed profile.
    pub fn forget(&mut self, profile: &ProfileId) {
        self.seen.remove(profile);
    }

    /// Keeps only the profiles `keep` says yes to (the others were removed).
    pub fn retain(&mut self, mut keep: impl FnMut(&ProfileId) -> bool) {
        self.seen.retain(|id, _| keep(id));
    }

    /// The notification `event` of `profile` calls for, if any; `now` is
    /// local Unix seconds.
    pub fn on_event(&mut self, profile: &Profile, event: &Event, now: f64) -> Option<Notification> {
        let Event::StateChanged(state) = event else {
            return None;
        };
        let seen = self.seen.entry(profile.id.clone()).or_default();
        match &state.phase {
            Phase::SignedOut { reason } => {
                let was_signed_out = std::mem::replace(&mut seen.signed_out, true);
                seen.warned_offline = false;
                if was_signed_out {
                    return None;
                }
                let reason = reason.as_ref()?;
                let why = ended_elsewhere(reason)?;
                Some(Notification {
                    profile: profile.id.clone(),
                    summary: format!("Signed out of {}", profile.name),
                    body: format!("{why} Sign in again in Warden to continue."),
                    critical: true,
                })
            }
            Phase::Offline { retry_in_ms, .. } => {
                seen.signed_out = false;
                if seen.warned_offline {
                    return None;
                }
                let next_try = now + (*retry_in_ms as f64) / 1000.0;
                let access_ends = state.access.as_ref().and_then(|a| a.expires_at)?;
                if access_ends > next_try {
                    return None;
                }
                seen.warned_offline = true;
                let server = profile.server.place();
                let session_ends = state.refresh.as_ref().and_then(|r| r.expires_at);
                let body = match session_ends {
                    Some(end) if end <= next_try => format!(
                        "{server} cannot be reached, and the session ends before the next try: it will have to be signed in again."
                    ),
                    _ if access_ends <= now => format!(
                        "{server} cannot be reached and the access token has expired: programs asking Warden for a token get none until it is back. The session is kept."
                    ),
                    _ => format!(
                        "{server} cannot be reached: the access token expires in {} s, before the next try. The session is kept and rotated once the server answers.",
                        (access_ends - now).max(0.0).round()
                    ),
                };
                Some(Notification {
                    profile: profile.id.clone(),
                    summary: format!("{}: expiring while offline", profile.name),
                    body,
                    critical: false,
                })
            }
            Phase::Active | Phase::Rotating => {
                seen.signed_out = false;
                seen.warned_offline = false;
                None
            }
            Phase::Restoring => None,
        }
    }
}

/// The words for a session that ended from elsewhere; `None` for an end
/// this app caused or that was expected (a logout here, the session's
/// planned expiry).
pub fn ended_elsewhere(reason: &SignOutReason) -> Option<&'static str> {
    match reason {
        SignOutReason::Revoked { .. } => {
            Some("The session was ended elsewhere (revoked on another device or by staff).")
        }
        SignOutReason::ReuseDetected => Some(
            "A refresh token of this session was used twice, so the server revoked the session. If you did not cause this, change your password.",
        ),
        SignOutReason::PasswordChanged => {
            Some("The account's password was changed, which ends every session.")
        }
        SignOutReason::UserInactive => Some("The account was deactivated."),
        SignOutReason::UserNotFound => Some("The account no longer exists."),
        SignOutReason::Provider { .. } => Some(
            "The identity provider ended the session (revoked there, or a refresh token of it was used twice).",
        ),
        SignOutReason::LoggedOut
        | SignOutReason::RefreshExpired
        | SignOutReason::Rejected { .. } => None,
    }
}

/// The name the app gives itself to the notification server.
pub const APP_NAME: &str = "Warden";

/// Shows `n` through the desktop's notification server on the session bus
/// (`org.freedesktop.Notifications.Notify`); returns the server's id of it.
/// One connection for the app's life (opened at the first notification).
pub async fn send(n: &Notification) -> Result<u32> {
    static BUS: tokio::sync::OnceCell<zbus::Connection> = tokio::sync::OnceCell::const_new();
    let connection = BUS
        .get_or_try_init(zbus::Connection::session)
        .await
        .map_err(|e| Error::Notify(e.to_string()))?;
    send_on(connection, n).await
}

/// [`send`] on a given bus connection.
pub async fn send_on(connection: &zbus::Connection, n: &Notification) -> Result<u32> {
    use zbus::zvariant::Value;
    // urgency: 1 normal, 2 critical (the Desktop Notifications spec).
    let urgency: u8 = if n.critical { 2 } else { 1 };
    let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
    hints.insert("urgency", Value::U8(urgency));
    hints.insert("desktop-entry", Value::from("warden"));
    let actions: Vec<&str> = Vec::new();
    let reply = connection
        .call_method(
            Some("org.freedesktop.Notifications"),
            "/org/freedesktop/Notifications",
            Some("org.freedesktop.Notifications"),
            "Notify",
            &(
                APP_NAME,
                0u32,
                "dialog-password",
                n.summary.as_str(),
                n.body.as_str(),
                actions,
                hints,
                // -1: the server's default time; 0: until dismissed.
                if n.critical { 0i32 } else { -1i32 },
            ),
        )
        .await
        .map_err(|e| Error::Notify(e.to_string()))?;
    reply
        .body()
        .deserialize::<u32>()
        .map_err(|e| Error::Notify(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::profiles::ServerKind;
    use warden_client::{TokenInfo, VaultInfo, VaultStatus};

    fn state(
        phase: Phase,
        access_expires_at: Option<f64>,
        refresh_at: Option<f64>,
    ) -> SessionState {
        let token = |at: Option<f64>| {
            at.map(|at| TokenInfo {
                jti: Some("j".into()),
                iat: None,
                exp: None,
                expires_at: Some(at),
                hint: String::new(),
            })
        };
        SessionState {
            phase,
            server: "http://127.0.0.1:1/".into(),
            user: Some("alice".into()),
            user_id: None,
            session_id: None,
            access: token(access_expires_at),
            refresh: token(refresh_at),
            next_rotation_at: None,
            rotation_count: 0,
            vault: VaultInfo {
                status: VaultStatus::Unavailable(String::new()),
                persistent: false,
                stored: false,
                warning: None,
            },
            capabilities: None,
        }
    }

    fn active() -> SessionState {
        state(Phase::Active, Some(1000.0), Some(9000.0))
    }

    fn offline(retry_ms: u64, access: f64, refresh: f64) -> SessionState {
        state(
            Phase::Offline {
                retry_in_ms: retry_ms,
                attempt: 1,
                cause: "connection refused".into(),
            },
            Some(access),
            Some(refresh),
        )
    }

    fn signed_out(reason: Option<SignOutReason>) -> SessionState {
        state(Phase::SignedOut { reason }, None, None)
    }

    fn profile(name: &str) -> Profile {
        Profile {
            id: ProfileId::generate().unwrap(),
            name: name.into(),
            server: ServerKind::Embedded,
            account: "alice".into(),
            vault_key: "k".into(),
        }
    }

    fn changed(s: SessionState) -> Event {
        Event::StateChanged(Box::new(s))
    }

    #[test]
    fn the_tray_follows_the_worst_profile() {
        let (a, o, s) = (
            active(),
            offline(5000, 100.0, 9000.0),
            signed_out(Some(SignOutReason::LoggedOut)),
        );
        let t = tray_summary([("work", &a), ("home", &a)]);
        assert_eq!(t.state, TrayState::SignedIn);
        assert_eq!(t.tooltip, "Warden: 2 signed in");
        let t = tray_summary([("work", &a), ("staging", &o)]);
        assert_eq!(t.state, TrayState::ExpiringOffline);
        assert_eq!(
            t.tooltip,
            "Warden: 1 signed in, 1 expiring while offline (staging)"
        );
        let t = tray_summary([("old", &s), ("work", &a), ("staging", &o)]);
        assert_eq!(t.state, TrayState::SignedOut);
        assert_eq!(
            t.tooltip,
            "Warden: 1 signed in, 1 expiring while offline (staging), 1 signed out (old)"
        );
        let restoring = state(Phase::Restoring, None, None);
        assert_eq!(TrayState::of(&restoring), TrayState::SignedIn);
        let none = tray_summary(std::iter::empty());
        assert_eq!(none.state, TrayState::SignedOut);
        assert_eq!(none.tooltip, "Warden: no profiles yet");
    }

    #[test]
    fn a_session_ended_elsewhere_notifies_once_a_logout_here_never() {
        let p = profile("work");
        let mut n = Notifier::new();
        n.prime(&p.id, &active());
        for reason in [
            SignOutReason::Revoked {
                cause: Some("staff_revoked".into()),
            },
            SignOutReason::ReuseDetected,
            SignOutReason::PasswordChanged,
            SignOutReason::UserInactive,
            SignOutReason::UserNotFound,
            SignOutReason::Provider {
                error: "invalid_grant".into(),
                description: None,
            },
        ] {
            let got = n
                .on_event(&p, &changed(signed_out(Some(reason.clone()))), 0.0)
                .unwrap_or_else(|| panic!("{reason:?} must notify"));
            assert_eq!(got.summary, "Signed out of work");
            assert!(got.critical);
            assert!(got.body.contains(ended_elsewhere(&reason).unwrap()));
            // The same state again (another event while signed out): nothing new.
            assert_eq!(
                n.on_event(&p, &changed(signed_out(Some(reason))), 0.0),
                None
            );
            assert_eq!(n.on_event(&p, &changed(active()), 0.0), None);
        }
        for quiet in [
            None,
            Some(SignOutReason::LoggedOut),
            Some(SignOutReason::RefreshExpired),
            Some(SignOutReason::Rejected {
                message: "bad key".into(),
            }),
        ] {
            assert_eq!(n.on_event(&p, &changed(signed_out(quiet)), 0.0), None);
            assert_eq!(n.on_event(&p, &changed(active()), 0.0), None);
        }
        // Signed out when the app started: a later event of the same kind is old news.
        let q = profile("home");
        n.prime(&q.id, &signed_out(Some(SignOutReason::ReuseDetected)));
        assert_eq!(
            n.on_event(
                &q,
                &changed(signed_out(Some(SignOutReason::ReuseDetected))),
                0.0
            ),
            None
        );
        // Exchanges and rotations never notify.
        assert_eq!(n.on_event(&p, &Event::Rotated { count: 3 }, 0.0), None);
    }

    #[test]
    fn expiring_before_the_next_try_notifies_once_per_outage() {
        let p = profile("staging");
        let mut n = Notifier::new();
        n.prime(&p.id, &active());
        let now = 100.0;
        // Next try in 5 s, the access token lives 60 s more: nothing to say.
        assert_eq!(
            n.on_event(&p, &changed(offline(5_000, now + 60.0, now + 9000.0)), now),
            None
        );
        // Next try in 30 s, the access token ends in 10 s: say so, once.
        let got = n
            .on_event(&p, &changed(offline(30_000, now + 10.0, now + 9000.0)), now)
            .unwrap();
        assert_eq!(got.summary, "staging: expiring while offline");
        assert!(got.body.contains("expires in 10 s"), "{}", got.body);
        assert!(!got.critical);
        assert_eq!(
            n.on_event(&p, &changed(offline(60_000, now + 10.0, now + 9000.0)), now),
            None
        );
        // Back online, then a new outage where even the session ends first.
        assert_eq!(n.on_event(&p, &changed(active()), now), None);
        let got = n
            .on_event(&p, &changed(offline(60_000, now - 1.0, now + 30.0)), now)
            .unwrap();
        assert!(
            got.body.contains("session ends before the next try"),
            "{}",
            got.body
        );
        assert_eq!(n.on_event(&p, &changed(active()), now), None);
        let got = n
            .on_event(&p, &changed(offline(1_000, now - 1.0, now + 9000.0)), now)
            .unwrap();
        assert!(got.body.contains("has expired"), "{}", got.body);
    }
}
