//! The OS keyring for real. In the test harness's private desktop session
//! (WARDEN_TEST_DESKTOP=1: D-Bus + unlocked gnome-keyring) a session survives
//! in the Secret Service, as `secret-tool` sees it. Everywhere, a keyring
//! without a session bus reports a clear reason (checked in a child process,
//! so this process's environment is never changed).

use std::process::{Command, Stdio};
use std::sync::Arc;

use warden_client::{
    ClientError, KeyringVault, Phase, SessionManager, SignOutReason, Vault, VaultStatus,
    decode_claims,
};
use warden_tests::client::{client, test_manager_config};
use warden_tests::http::TestServer;
use warden_tests::test_settings;

fn desktop() -> bool {
    std::env::var("WARDEN_TEST_DESKTOP").as_deref() == Ok("1")
}

/// `secret-tool lookup service warden username ACCOUNT`, `None` when absent.
fn secret_tool_lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "warden", "username", account])
        .stdin(Stdio::null())
        .output()
        .expect("run secret-tool (libsecret-tools)");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn manager(url: &str) -> SessionManager {
    SessionManager::new(
        client(url).unwrap(),
        Arc::new(KeyringVault::new()),
        test_manager_config(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_in_the_keyring_and_restores_without_a_password() {
    if !desktop() {
        eprintln!(
            "note: WARDEN_TEST_DESKTOP is not 1 (no private keyring session): the real-keyring \
             round trip is checked by scripts/test.sh; the no-bus check below runs everywhere"
        );
        return;
    }
    let server = TestServer::start(test_settings());
    server.engine.user("alice").unwrap();
    let url = server.url("");
    let account = format!("{url}|alice");

    let vault = KeyringVault::new();
    assert_eq!(
        vault.status(),
        VaultStatus::Available {
            backend: "Secret Service".into()
        }
    );

    let m = manager(&url);
    let s = m.login("alice", warden_tests::PASSWORD).await.unwrap();
    assert_eq!(s.phase, Phase::Active);
    assert!(s.vault.stored && s.vault.persistent, "{:?}", s.vault);
    assert!(s.vault.status.is_available(), "{:?}", s.vault);
    let stored = secret_tool_lookup(&account).expect("secret-tool finds the entry");
    let claims = decode_claims(&stored).unwrap();
    assert_eq!(claims.token_type.as_deref(), Some("refresh"));
    assert_eq!(claims.jti, s.refresh.unwrap().jti);
    drop(m);

    // A fresh manager (as after a restart) signs in from the keyring alone.
    let m = manager(&url);
    let s = m.restore("alice").await.unwrap();
    assert_eq!(s.phase, Phase::Active);
    assert_eq!(s.user.as_deref(), Some("alice"));
    assert_eq!(m.me().await.unwrap().username, "alice");
    // The restore rotated the refresh token; the keyring holds the new one.
    let rotated = secret_tool_lookup(&account).unwrap();
    assert_ne!(rotated, stored);
    assert_eq!(decode_claims(&rotated).unwrap().jti, s.refresh.unwrap().jti);

    // Logout clears the entry.
    m.logout().await.unwrap();
    assert_eq!(secret_tool_lookup(&account), None);
    assert_eq!(
        m.state().phase,
        Phase::SignedOut {
            reason: Some(SignOutReason::LoggedOut)
        }
    );
    let m = manager(&url);
    assert_eq!(
        m.restore("alice").await.unwrap_err(),
        ClientError::NoStoredSession
    );
}

const CHILD_FLAG: &str = "WARDEN_KEYRING_STATUS_CHILD";
const STATUS_PREFIX: &str = "WARDEN_VAULT_STATUS=";

/// Runs only when started by [`a_keyring_without_a_session_bus_says_so`]:
/// prints what a `KeyringVault` reports in the child's environment.
#[test]
fn keyring_status_in_child_process() {
    if std::env::var(CHILD_FLAG).as_deref() != Ok("1") {
        return;
    }
    let status = KeyringVault::new().status();
    println!("{STATUS_PREFIX}{}", serde_json::to_string(&status).unwrap());
}

fn status_in_child(env: &[(&str, &str)], remove: &[&str]) -> serde_json::Value {
    status_in_wrapped_child(&[], env, remove)
}

/// Runs [`keyring_status_in_child_process`] in a child (`wrapper` first, e.g.
/// `dbus-run-session --`) and reads the status it prints.
fn status_in_wrapped_child(
    wrapper: &[&str],
    env: &[(&str, &str)],
    remove: &[&str],
) -> serde_json::Value {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        "keyring::keyring_status_in_child_process",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_FLAG, "1")
    .env_remove("DISPLAY")
    .stdin(Stdio::null());
    for k in remove {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(STATUS_PREFIX).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no status line in: {stdout}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn a_keyring_without_a_session_bus_says_so() {
    // A bus address that points nowhere.
    let status = status_in_child(
        &[(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/warden-test/bus",
        )],
        &[],
    );
    assert_eq!(status["kind"], "unavailable", "{status}");
    let reason = status["detail"].as_str().unwrap();
    assert!(reason.contains("no D-Bus session bus"), "{reason}");

    // No address at all, and no $XDG_RUNTIME_DIR/bus either.
    let empty = tempfile::tempdir().unwrap();
    let status = status_in_child(
        &[("XDG_RUNTIME_DIR", empty.path().to_str().unwrap())],
        &["DBUS_SESSION_BUS_ADDRESS"],
    );
    assert_eq!(status["kind"], "unavailable", "{status}");
    let reason = status["detail"].as_str().unwrap();
    assert!(
        reason.contains("no D-Bus session bus") && reason.contains("DBUS_SESSION_BUS_ADDRESS"),
        "{reason}"
    );
}

/// A Secret Service whose default keyring was never created or unlocked (a
/// fresh gnome-keyring on a private bus, no display for its prompt): writes
/// are refused, and the vault says "locked" rather than failing later.
#[test]
fn a_locked_keyring_says_locked() {
    let found = Command::new("sh")
        .args([
            "-c",
            "command -v dbus-run-session && command -v gnome-keyring-daemon",
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!(
            "note: dbus-run-session or gnome-keyring-daemon missing; locked-keyring check skipped"
        );
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().to_str().unwrap();
    let status = status_in_wrapped_child(
        &["timeout", "60", "dbus-run-session", "--"],
        &[("XDG_DATA_HOME", dir), ("XDG_RUNTIME_DIR", dir)],
        &["DBUS_SESSION_BUS_ADDRESS"],
    );
    assert_eq!(status, serde_json::json!({"kind": "locked"}));
}
