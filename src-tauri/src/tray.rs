//! The tray icon: its colour follows the worst profile (warden-desktop's
//! [`alerts::tray_summary`] decides), its menu opens the window, rotates
//! the shown profile now, or logs it out. On Linux it is an
//! AppIndicator (StatusNotifierItem over D-Bus, libayatana-appindicator3).

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager as _};
use warden_desktop::ProfileSet;
use warden_desktop::alerts::{self, TrayState};

use crate::core::Core;

/// The tray's parts that change.
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<tauri::Wry>,
    rotate: MenuItem<tauri::Wry>,
    log_out: MenuItem<tauri::Wry>,
    shown: std::sync::Mutex<Option<TrayState>>,
}

/// Builds the tray icon and its menu (signed out until the profiles open).
pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let status = MenuItem::with_id(app, "status", "Warden: starting…", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Warden", true, None::<&str>)?;
    let rotate = MenuItem::with_id(app, "rotate", "Rotate now", false, None::<&str>)?;
    let log_out = MenuItem::with_id(app, "log-out", "Log out", false, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Warden", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &rotate,
            &log_out,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let icon = TrayIconBuilder::with_id("warden")
        .icon(icon(TrayState::SignedOut))
        .tooltip("Warden")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(Tray {
        icon,
        status,
        rotate,
        log_out,
        shown: std::sync::Mutex::new(None),
    })
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "open" => show_window(app),
        "quit" => app.exit(0),
        "rotate" | "log-out" => {
            let (app, id) = (app.clone(), id.to_string());
            tauri::async_runtime::spawn(async move {
                let core = app.state::<Core>();
                let Ok((set, profile)) = core.active(&app).await else {
                    return;
                };
                let done = if id == "rotate" {
                    match set.manager(&profile) {
                        Ok(m) => m.rotate_now().await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                } else {
                    match set.logout(&profile).await {
                        Ok(outcome) => outcome.revoked().map(drop).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                };
                if let Err(e) = done {
                    // Already in the window (the session's state, the outbox).
                    tracing::info!(action = %id, error = %e, "the tray's action did not complete");
                }
            });
        }
        _ => {}
    }
}

/// Brings the window forward.
pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

impl Tray {
    /// Says that the app could not start (the window says why), instead of
    /// "starting…" forever.
    pub fn not_started(&self) {
        let text = "Warden: did not start (open the window for why)";
        if let Err(e) = self
            .status
            .set_text(text)
            .and(self.icon.set_tooltip(Some(text)))
        {
            tracing::warn!(error = %e, "cannot update the tray");
        }
    }

    /// Shows what `set` is in now.
    pub fn refresh(&self, set: &ProfileSet) {
        let views = set.views();
        let summary = alerts::tray_summary(
            views
                .iter()
                .map(|v| (v.profile.name.as_str(), &v.session.state)),
        );
        let active = views.iter().find(|v| v.active);
        let signed_in = active.is_some_and(|v| {
            !matches!(
                v.session.state.phase,
                warden_client::Phase::SignedOut { .. }
            )
        });
        let name = active.map(|v| v.profile.name.as_str()).unwrap_or("");
        let results = [
            self.status.set_text(&summary.tooltip),
            self.rotate.set_text(if signed_in {
                format!("Rotate now ({name})")
            } else {
                "Rotate now".into()
            }),
            self.rotate.set_enabled(signed_in),
            self.log_out.set_text(if signed_in {
                format!("Log out of {name}")
            } else {
                "Log out".into()
            }),
            self.log_out.set_enabled(signed_in),
            self.icon.set_tooltip(Some(&summary.tooltip)),
        ];
        let mut shown = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let icon = if *shown != Some(summary.state) {
            *shown = Some(summary.state);
            self.icon.set_icon(Some(icon(summary.state)))
        } else {
            Ok(())
        };
        for r in results.into_iter().chain([icon]) {
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot update the tray");
            }
        }
    }
}

/// A 32 px disc in the state's colour (green, amber, grey) with a light
/// ring, drawn here: no image files, no decoder.
fn icon(state: TrayState) -> Image<'static> {
    const N: u32 = 32;
    let (r, g, b) = match state {
        TrayState::SignedIn => (0x1d, 0x9a, 0x4e),
        TrayState::ExpiringOffline => (0xf4, 0xb7, 0x40),
        TrayState::SignedOut => (0x8a, 0x90, 0x9c),
    };
    let mut rgba = Vec::with_capacity((N * N * 4) as usize);
    let c = (N as f32 - 1.0) / 2.0;
    for y in 0..N {
        for x in 0..N {
            let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
            let px = if d <= 11.0 {
                [r, g, b, 0xff]
            } else if d <= 14.5 {
                [0xff, 0xff, 0xff, 0xe0]
            } else {
                [0, 0, 0, 0]
            };
            rgba.extend_from_slice(&px);
        }
    }
    Image::new_owned(rgba, N, N)
}
