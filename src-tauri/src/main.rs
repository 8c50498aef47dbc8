//! Warden's desktop app: the embedded backend on 127.0.0.1, a SessionManager
//! per profile (the embedded server or remote ones), a local socket other
//! Warden processes get tokens from, and a window that shows the truth.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod core;
mod devtools;
mod profiles;
mod staff;
mod tray;

use std::sync::Arc;

use tauri::Manager as _;
use warden_desktop::AppPaths;
use warden_desktop::instance::{self, Launch};

/// WebKitGTK composites through OpenGL, and where there is no GPU (Xvfb,
/// remote desktops, many VMs) that GL is software: the web process then
/// burns a fifth of a core while the window merely shows a countdown. A window
/// of forms and text gains nothing from it, so Warden runs WebKit without
/// accelerated compositing. WebKit reads the switch once, from the
/// environment, before anything else starts; setting it in-process would take
/// `unsafe`, so the process replaces itself (same pid, same arguments) with the
/// variable set. `WARDEN_GPU_COMPOSITING=1` keeps WebKit's default (a machine
/// with a real GPU may prefer it), and a `WEBKIT_DISABLE_COMPOSITING_MODE` the
/// user set is left as it is.
#[cfg(target_os = "linux")]
fn without_gpu_compositing() {
    use std::os::unix::process::CommandExt as _;
    const SWITCH: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(SWITCH).is_some()
        || std::env::var_os("WARDEN_GPU_COMPOSITING").is_some_and(|v| v == "1")
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(argv0) = args.next() {
        command.arg0(argv0);
    }
    // exec() returns only if it failed; then run as we are.
    let error = command.args(args).env(SWITCH, "1").exec();
    eprintln!("warden-app: could not restart without GPU compositing ({error}); continuing");
}

fn main() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    without_gpu_compositing();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let paths = AppPaths::from_env()?;
    // Before anything reads the keyring: a second launch hands over to the
    // app that holds this data directory (which shows its window) and
    // exits, so that one process rotates each session.
    let claim = match tauri::async_runtime::block_on(instance::claim(&paths))? {
        Launch::First(claim) => claim,
        Launch::HandedOver => {
            eprintln!("Warden is already running; its window was asked to come forward.");
            return Ok(());
        }
    };
    tauri::Builder::default()
        .manage(core::Core::new(paths))
        .setup(move |app| {
            let handle = app.handle().clone();
            // The tray is a convenience: without a tray host (or its
            // library) the window works as before.
            match tray::build(&handle) {
                Ok(t) => {
                    app.manage(t);
                }
                Err(e) => tracing::warn!(error = %e, "no tray icon"),
            }
            tauri::async_runtime::spawn(async move {
                // The broker answers from now on (on the runtime its socket
                // was bound on); token requests wait for the start below.
                let running = claim.serve(Arc::new(core::TauriHost(handle.clone())));
                let core = handle.state::<core::Core>();
                core.hold(running).await;
                // Start the backend and restore the profiles while the window loads.
                if let Err(e) = core.started(&handle).await {
                    tracing::error!(error = %e, "the embedded backend did not start");
                    if let Some(tray) = handle.try_state::<tray::Tray>() {
                        tray.not_started();
                    }
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::create_account,
            commands::sign_in,
            commands::add_openid_provider,
            commands::session_state,
            commands::rotate_now,
            commands::check_access,
            commands::log_out,
            commands::log_out_everywhere,
            commands::sessions,
            commands::revoke_session,
            commands::timeline,
            commands::my_account,
            profiles::profiles,
            profiles::switch_profile,
            profiles::rename_profile,
            profiles::remove_profile,
            profiles::add_profile,
            profiles::activity,
            devtools::inspect_token,
            devtools::inspect_with_provider,
            devtools::lab_replay_previous,
            devtools::lab_concurrent_refresh,
            devtools::lab_server_online,
            devtools::exchange_detail,
            devtools::lab_clock_skew,
            staff::export_audit,
            staff::staff_users,
            staff::staff_user,
            staff::staff_lineage,
            staff::staff_action,
            staff::staff_audit,
        ])
        .build(tauri::generate_context!())?
        .run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                let core = handle.state::<core::Core>();
                tauri::async_runtime::block_on(core.shutdown());
            }
        });
    Ok(())
}
