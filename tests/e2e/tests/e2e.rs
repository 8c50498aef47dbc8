//! The real Warden window, driven through tauri-driver + WebKitWebDriver.
//!
//! Run by `scripts/test.sh` (step `e2e`) inside the private desktop session,
//! after `cargo build -p warden-app -p warden-cli`, one test at a time:
//!   WARDEN_E2E=1 cargo test -p warden-e2e -- --test-threads=1
//! Without WARDEN_E2E=1 (e.g. in `cargo test --workspace`) every test
//! returns at once: it needs a display, a keyring and the built app.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use anyhow::{Context as _, Result};
use fantoccini::Locator;
use warden_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_sessions_revoke_logout_everywhere_wrong_password_and_restore() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let user = "alice";
    let w = Window::open(4444, data.path(), &[]).await?;

    // First run: create the local account, which will own this server.
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    w.wait_text(
        "#first-run",
        |t| t.contains("first account created here owns it"),
        5,
    )
    .await?;
    w.screenshot("01-first-run").await?;
    // A weak password is refused with the field's message; nothing is created.
    w.fill("#username", user).await?;
    w.fill("#password", "short").await?;
    w.click("#signin-submit").await?;
    let err = w.wait_text("#signin-error", |t| !t.is_empty(), 10).await?;
    assert_eq!(
        err,
        "Please check the form: password: This password is too short. It must contain at least 8 characters. (validation)"
    );
    create_account(&w, user).await?;

    // The window says so, once, and the staff console is there.
    let owner = w
        .wait_text("#owner-notice", |t| t.starts_with("You own"), 10)
        .await?;
    assert!(
        owner.contains("this account is staff") && owner.contains("staff console"),
        "{owner}"
    );
    w.wait_for("#rail button[data-view=users]:not([hidden])", 15)
        .await?;
    w.screenshot("24-owner-notice").await?;
    w.click("#owner-notice-dismiss").await?;
    w.wait_gone("#owner-notice", 5).await?;
    // Nothing is left where the notice was: the cards follow the title.
    let next = w
        .js("const n = document.querySelector('#main h1').nextSibling; return n && n.nodeType === 1 ? n.className : String(n && n.textContent);")
        .await?;
    assert_eq!(next, "cards");

    // Two countdowns, ticking.
    let a1 = w
        .wait_text("#access-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    let r1 = w
        .wait_text("#refresh-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a2 = w
        .wait_text("#access-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    assert_ne!(a1, a2, "the access countdown did not move");
    let keyring = w
        .wait_text("#keyring", |t| t.contains("stored"), 10)
        .await?;
    assert!(keyring.contains(", stored"), "{keyring}");
    eprintln!("access {a1} -> {a2}; refresh {r1}; {keyring}");
    w.screenshot("02-session").await?;

    // A second session over HTTP shows up in Sessions...
    let base = w.base_url().await?;
    let (access2, refresh2) = login_over_http(&base, user, "e2e-phone").await?;
    w.click("#rail button[data-view=sessions]").await?;
    w.wait_text(
        "#sessions-table",
        |t| t.contains("e2e-phone") && t.contains("this device"),
        15,
    )
    .await?;
    w.screenshot("03-sessions").await?;

    // ...and is revoked from the window.
    w.click("#sessions-table tbody tr:not(.current) button.revoke")
        .await?;
    w.wait_text("#confirm-text", |t| t.contains("e2e-phone"), 5)
        .await?;
    w.screenshot("04-revoke-confirm").await?;
    w.click("#confirm-ok").await?;
    w.wait_gone("#sessions-table tbody tr:not(.current)", 15)
        .await?;
    assert_eq!(status_of_refresh(&base, &refresh2).await, 401);
    assert_eq!(status_of_access(&base, &access2).await, 401);

    // Log out everywhere ends this one and another.
    let (access3, refresh3) = login_over_http(&base, user, "e2e-laptop").await?;
    w.click("#rail button[data-view=session]").await?;
    w.click("#log-out-everywhere").await?;
    w.wait_text("#confirm-text", |t| t.contains("2 sessions"), 5)
        .await?;
    w.screenshot("05-logout-everywhere-confirm").await?;
    w.click("#confirm-ok").await?;
    let notice = w
        .wait_text("#signin-notice", |t| t.contains("revoked"), 15)
        .await?;
    assert_eq!(
        notice,
        "2 sessions revoked; their access tokens are refused from now on."
    );
    w.screenshot("06-after-logout-everywhere").await?;
    assert_eq!(status_of_access(&base, &access3).await, 401);
    assert_eq!(status_of_refresh(&base, &refresh3).await, 401);

    // The name is taken now: a second local account cannot have it.
    w.wait_text("#signin-title", |t| t == "Sign in", 10).await?;
    w.click("#signin-toggle").await?;
    w.wait_text("#signin-title", |t| t == "Create your local account", 5)
        .await?;
    w.fill("#username", user).await?;
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    let err = w.wait_text("#signin-error", |t| !t.is_empty(), 10).await?;
    assert!(
        err.starts_with("A user with that username already exists.") && err.ends_with("(conflict)"),
        "{err}"
    );
    w.click("#signin-toggle").await?;

    // A wrong password says so.
    w.wait_text("#signin-title", |t| t == "Sign in", 10).await?;
    w.fill("#username", user).await?;
    w.fill("#password", "not the password").await?;
    w.click("#signin-submit").await?;
    let err = w.wait_text("#signin-error", |t| !t.is_empty(), 10).await?;
    assert!(err.starts_with("Wrong username or password."), "{err}");
    w.screenshot("07-wrong-password").await?;

    // Sign in, then a restart restores the session without a password.
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    w.close().await;

    let w = Window::open(4444, data.path(), &[]).await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 30)
        .await?;
    let who = w.wait_text("#who", |t| t.starts_with(user), 5).await?;
    eprintln!("restored: {who}");
    w.screenshot("08-restored").await?;
    w.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lifetimes_rotate_automatically_and_the_count_goes_up() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let w = Window::open(4454, data.path(), &[("WARDEN_ACCESS_TOKEN_LIFETIME", "4")]).await?;
    create_account(&w, "bob").await?;
    w.wait_text("#rotation-count", |t| t == "0 rotations", 5)
        .await?;
    let count = w
        .wait_text(
            "#rotation-count",
            |t| t != "0 rotations" && !t.is_empty(),
            20,
        )
        .await?;
    eprintln!("after auto-rotation: {count}");
    w.screenshot("09-auto-rotation").await?;

    // Another device logs out everywhere: at its next rotation the window
    // returns to the sign-in screen and says why.
    let base = w.base_url().await?;
    let (access, _) = login_over_http(&base, "bob", "e2e-other").await?;
    let r = http()
        .post(format!("{base}api/logout-all/"))
        .bearer_auth(&access)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let notice = w
        .wait_text(
            "#signin-notice",
            |t| t.contains("ended on another device"),
            20,
        )
        .await?;
    eprintln!("{notice}");
    w.screenshot("10-revoked-elsewhere").await?;
    w.close().await;
    Ok(())
}

/// A real Django + SimpleJWT server mounted where djoser mounts it and
/// accepting only `Authorization: JWT …`: the window signs in with custom
/// paths and header type, checks the access token, rotates; the server goes
/// away (banner, session kept, countdown turns amber then red) and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_simplejwt_custom_paths_header_type_offline_and_back() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let peer_dir = tempfile::tempdir()?;
    let db = peer_dir.path().join("peer.sqlite3");
    let db = db.to_str().unwrap();
    let peer = Peer::start(
        18977,
        &[
            ("PEER_AUTH_HEADER_TYPES", "JWT"),
            ("PEER_ACCESS_SECONDS", "30"),
            ("PEER_KEEP_DB", "1"),
            ("PEER_DB", db),
            ("PEER_USERS", &format!("alice:{PASSWORD}")),
        ],
    )?;
    let data = tempfile::tempdir()?;
    let w = Window::open(4484, data.path(), &[]).await?;

    // The first-run screen offers the local account; switch to signing in.
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    w.click("#signin-toggle").await?;
    w.wait_text("#signin-title", |t| t == "Sign in", 5).await?;
    w.click("#remote > summary").await?;
    w.fill("#server-url", &peer.url).await?;
    w.click("#remote-advanced > summary").await?;
    w.fill("#header-type", "JWT").await?;
    w.fill("#path-token", "auth/jwt/create/").await?;
    w.fill("#path-refresh", "/auth/jwt/refresh/").await?;
    w.fill("#path-verify", "auth/jwt/verify/").await?;
    w.fill("#path-blacklist", "auth/jwt/blacklist/").await?;
    w.fill("#path-me", "auth/users/me/").await?;
    w.fill("#username", "alice").await?;
    w.fill("#password", PASSWORD).await?;
    w.screenshot("11-remote-signin").await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    let host = peer.url.trim_start_matches("http://").trim_end_matches('/');
    let who = w.wait_text("#who", |t| t.starts_with("alice @"), 5).await?;
    assert!(who.contains(host), "{who} should name {host}");

    // The server accepts the access token under the JWT header type only.
    w.click("#check-access").await?;
    let check = w
        .wait_text(
            "#access-check",
            |t| t.starts_with("The server") || t.starts_with("Refused"),
            10,
        )
        .await?;
    assert_eq!(
        check,
        "The server accepts the access token: alice (user 1), GET auth/users/me/"
    );

    // Rotate now, through the custom refresh path.
    w.click("#rotate-now").await?;
    w.wait_text("#rotation-count", |t| t == "1 rotation", 10)
        .await?;
    w.screenshot("12-remote-session").await?;
    let log = peer.log();
    assert!(log.contains("\"POST /auth/jwt/create/ "), "{log}");
    assert!(log.contains("\"POST /auth/jwt/refresh/ "), "{log}");
    assert!(log.contains("\"GET /auth/users/me/ "), "{log}");
    assert!(
        !log.contains("/api/token/"),
        "a default path was used:\n{log}"
    );

    // The server goes away: a banner, the session stays, the countdown runs down.
    peer.stop()?;
    w.click("#rotate-now").await?;
    let banner = w
        .wait_text("#offline", |t| t.starts_with("Server unreachable"), 15)
        .await?;
    assert!(banner.ends_with("Your session is kept."), "{banner}");
    w.wait_text("#conn", |t| t == "offline", 5).await?;
    w.wait_for("#access-card.tone-amber", 40).await?;
    let state = w
        .wait_text("#access-card [data-state]", |t| !t.is_empty(), 2)
        .await?;
    assert!(state.ends_with("expiring soon"), "{state}");
    w.screenshot("13-offline-expiring").await?;
    w.wait_for("#access-card.tone-red, #access-card.tone-expired", 15)
        .await?;
    w.wait_for("#access-card.tone-expired", 10).await?;
    assert!(
        w.c()
            .find(Locator::Css("#refresh-card.tone-calm"))
            .await
            .is_ok()
    );
    w.screenshot("14-offline-expired").await?;

    // Back: the retry scheduled during the outage rotates on its own (within
    // the back-off's 30 s cap), the banner goes, the access token is fresh.
    // No "Rotate now" here: the retry may already have run by the time a
    // click arrives, and a click on the fresh token rightly rotates again.
    peer.restart()?;
    w.wait_text("#conn", |t| t == "online", 45).await?;
    w.wait_for("#offline[hidden]", 5).await?;
    w.wait_for("#access-card.tone-calm", 5).await?;
    w.wait_text("#rotation-count", |t| t == "2 rotations", 10)
        .await?;

    // Log out blacklists the refresh token through the custom path.
    w.click("#log-out").await?;
    w.wait_text("#signin-title", |t| t == "Sign in", 10).await?;
    // The form is drawn when the session ends and again, with the notice,
    // when the command answers (after the server was told): read it then.
    w.wait_text("#signin-notice", |t| t.starts_with("You logged out."), 10)
        .await?;
    // The form remembers the server and its paths.
    let url = w
        .c()
        .find(Locator::Css("#server-url"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(url.as_deref(), Some(peer.url.as_str()));
    let log = peer.log();
    assert!(
        log.contains("\"POST /auth/jwt/blacklist/ HTTP/1.1\" 200"),
        "{log}"
    );
    w.close().await;
    drop(peer);
    Ok(())
}

/// The window at its minimum size, used with the keyboard only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_at_800x600() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let w = Window::open(4494, data.path(), &[]).await?;
    w.c().set_window_size(800, 600).await?;
    w.wait_text("#signin-title", |t| t == "Create your local account", 30)
        .await?;
    // The app replaced itself (same pid) to run WebKit without GPU
    // compositing, which costs a fifth of a core on software GL.
    let apps: Vec<u32> = app_tree()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "warden-app")
        })
        .collect();
    assert!(!apps.is_empty(), "no warden-app process found");
    for pid in apps {
        let environ = std::fs::read(format!("/proc/{pid}/environ"))?;
        assert!(
            environ
                .split(|b| *b == 0)
                .any(|kv| kv == b"WEBKIT_DISABLE_COMPOSITING_MODE=1"),
            "warden-app {pid} runs with WebKit's GPU compositing"
        );
    }
    let size = w
        .js("return [window.innerWidth, window.innerHeight];")
        .await?;
    eprintln!("viewport at 800x600: {size}");
    assert_no_horizontal_overflow(&w, "first run").await?;

    // The username field has focus; Tab moves to the password; Enter submits.
    assert_eq!(w.focused().await?, "username");
    w.keys("dave").await?;
    w.keys(TAB).await?;
    assert_eq!(w.focused().await?, "password");
    w.keys(PASSWORD).await?;
    w.keys(ENTER).await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    assert_no_horizontal_overflow(&w, "session").await?;
    w.screenshot("15-session-800x600").await?;

    // Every action is reachable with Tab and works with Enter.
    let passed = w.tab_to("rotate-now", 12).await?;
    eprintln!("Tab order to Rotate now: {passed:?}");
    w.keys(ENTER).await?;
    w.wait_text("#rotation-count", |t| t == "1 rotation", 10)
        .await?;
    let passed = w.tab_to("BUTTON[sessions]", 12).await?;
    eprintln!("then to the Sessions view: {passed:?}");
    w.keys(ENTER).await?;
    w.wait_text("#sessions-table", |t| t.contains("this device"), 15)
        .await?;
    assert_no_horizontal_overflow(&w, "sessions").await?;
    w.screenshot("16-sessions-800x600").await?;

    // The next Tab lands on the session's Revoke button, with a visible focus ring.
    w.keys(TAB).await?;
    let focus = w
        .js("const a = document.activeElement; return [a.textContent, getComputedStyle(a).outlineStyle];")
        .await?;
    assert_eq!(
        focus,
        serde_json::json!(["Revoke", "solid"]),
        "focus and its ring"
    );
    w.close().await;
    Ok(())
}

/// Nothing sticks out to the right at this size: no horizontal scrolling,
/// every button fully inside the window.
async fn assert_no_horizontal_overflow(w: &Window, screen: &str) -> Result<()> {
    let v = w
        .js("const W = document.documentElement.clientWidth;
             const over = [...document.querySelectorAll('button, input, .card, table, .exchange')]
               .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > W + 0.5)
               .map((e) => (e.id || e.tagName) + ':' + Math.round(e.getBoundingClientRect().right));
             return {W, scroll: document.documentElement.scrollWidth, over};")
        .await?;
    let width = v["W"].as_f64().unwrap_or(0.0);
    let scroll = v["scroll"].as_f64().unwrap_or(f64::MAX);
    assert!(
        scroll <= width && v["over"].as_array().is_some_and(|a| a.is_empty()),
        "{screen}: content wider than the window at 800x600: {v}"
    );
    Ok(())
}

/// POST `path` with a JSON body; (status, body).
async fn post(base: &str, path: &str, body: serde_json::Value) -> Result<(u16, serde_json::Value)> {
    let r = http()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or_default()))
}

/// Staff: the first local account owns the embedded server. Another user's
/// refresh token is replayed (reuse detection revokes the family); staff
/// find the user, see the lineage with the reuse marked, revoke another
/// session with a reason, and find it in the audit log, and export it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_console_lineage_after_replay_revoke_and_audit() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let w = Window::open(4504, data.path(), &[]).await?;
    create_account(&w, "owner").await?;
    w.wait_for("#rail button[data-view=users]:not([hidden])", 15)
        .await?;
    let base = w.base_url().await?;

    // Nobody signs up over HTTP on the embedded server...
    let (s, closed) = post(
        &base,
        "api/register/",
        serde_json::json!({"username": "bob", "password": PASSWORD}),
    )
    .await?;
    assert_eq!(s, 403, "{closed}");
    assert_eq!(closed["detail"], "Registration is closed.");
    // ...so bob is added with the CLI, straight into the app's database.
    let added = add_user_with_cli(data.path(), "bob")?;
    assert_eq!(added, "created user bob (id 2)");

    // bob: one session whose old refresh token is replayed, one live session.
    let (_, stolen) = login_over_http(&base, "bob", "bob-laptop").await?;
    let (s, rotated) = post(
        &base,
        "api/token/refresh/",
        serde_json::json!({"refresh": stolen}),
    )
    .await?;
    assert_eq!(s, 200, "{rotated}");
    let (s, replay) = post(
        &base,
        "api/token/refresh/",
        serde_json::json!({"refresh": stolen}),
    )
    .await?;
    assert_eq!(s, 401, "{replay}");
    // Someone on another address (127.0.0.2) guesses bob's password, and
    // tries a password as a username: that address is locked out for bob,
    // which stops neither bob (his phone signs in below) nor his sessions.
    let guesser = reqwest::Client::builder()
        .no_proxy()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>()?)
        .build()?;
    let mut statuses = Vec::new();
    for (who, password) in [
        ("bob", "guess 1"),
        ("bob", "guess 2"),
        ("bob", "guess 3"),
        ("bob", "guess 4"),
        ("bob", "guess 5"),
        ("bob", PASSWORD),
        ("hunter2-Secret", "oops"),
    ] {
        let r = guesser
            .post(format!("{base}api/token/"))
            .json(&serde_json::json!({"username": who, "password": password}))
            .send()
            .await?;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 401]);
    let (phone_access, phone_refresh) = login_over_http(&base, "bob", "bob-phone").await?;

    // Find bob, open him, open the laptop session's lineage.
    w.click("#rail button[data-view=users]").await?;
    w.fill("#user-search", "bob").await?;
    w.click("#user-search-go").await?;
    w.click("#users-table button.open-user[data-user=bob]")
        .await?;
    w.wait_text(
        "#staff-sessions",
        |t| t.contains("bob-laptop") && t.contains("bob-phone"),
        15,
    )
    .await?;
    let failed = w
        .wait_text("#user-failed", |t| t.contains("locked out from"), 15)
        .await?;
    assert!(failed.starts_with('5'), "{failed}");
    assert!(failed.contains("127.0.0.2"), "{failed}");
    assert!(
        failed.contains("known address"),
        "bob signs in from 127.0.0.1: {failed}"
    );
    w.screenshot("26-staff-failed-sign-ins").await?;
    w.click("#staff-sessions tr.revoked button.lineage").await?;
    let chain = w
        .wait_text("#lineage-chain", |t| t.contains("reuse detected"), 15)
        .await?;
    eprintln!("lineage: {chain}");
    let revoked = w
        .wait_text("#lineage-revoked", |t| !t.is_empty(), 5)
        .await?;
    assert!(revoked.contains("reuse"), "{revoked}");
    w.screenshot("17-staff-lineage").await?;

    // Revoke the phone, with a reason.
    w.click("#staff-sessions tr:not(.revoked) button.staff-revoke")
        .await?;
    w.wait_for("#ask[open]", 5).await?;
    w.fill("#ask-reason", "phone reported stolen").await?;
    w.screenshot("18-staff-revoke-reason").await?;
    w.click("#ask-ok").await?;
    w.wait_text("#staff-result", |t| t.starts_with("Session revoked"), 15)
        .await?;
    assert_eq!(status_of_refresh(&base, &phone_refresh).await, 401);
    assert_eq!(status_of_access(&base, &phone_access).await, 401);

    // The audit log has it, with the actor and the reason.
    w.click("#rail button[data-view=audit]").await?;
    w.fill("#audit-user", "bob").await?;
    w.c()
        .find(Locator::Css("#audit-kind"))
        .await?
        .select_by_value("session_revoked")
        .await?;
    w.click("#audit-go").await?;
    let table = w
        .wait_text("#audit-table", |t| t.contains("phone reported stolen"), 15)
        .await?;
    assert!(table.contains("session revoked"), "{table}");
    // "By" names the actor: the owner, user 1 (the id is resolved to a name).
    let mut row = serde_json::Value::Null;
    for _ in 0..50 {
        row = w
            .js("const r = [...document.querySelectorAll('#audit-table tbody tr')].find((r) => r.textContent.includes('phone reported stolen')); return [...r.cells].map((c) => c.textContent);")
            .await?;
        if row[3] == "owner (1)" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(row[3], "owner (1)", "actor is the owner (user 1): {row}");
    assert_eq!(row[2], "bob (2)", "the line is about bob (user 2): {row}");
    w.screenshot("19-audit-log").await?;

    // Export as JSON Lines: the file holds the same line.
    w.click("#audit-export-jsonl").await?;
    let status = w
        .wait_text(
            "#audit-status",
            |t| t.starts_with("Exported") || t.starts_with("Export failed"),
            15,
        )
        .await?;
    let path = status
        .split(" to ")
        .nth(1)
        .unwrap_or_else(|| panic!("{status}"))
        .trim()
        .to_string();
    let text = std::fs::read_to_string(&path)?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert!(
        lines
            .iter()
            .any(|l| l["reason"] == "phone reported stolen" && l["actor"] == 1),
        "{text}"
    );
    assert!(
        !text.contains(&phone_refresh) && !text.contains(&stolen),
        "a token in the export"
    );

    // A name that is no account is "unknown user" with its hash, never as typed.
    w.fill("#audit-user", "").await?;
    w.c()
        .find(Locator::Css("#audit-kind"))
        .await?
        .select_by_value("login_failed")
        .await?;
    w.click("#audit-go").await?;
    let failures = w
        .wait_text("#audit-table", |t| t.contains("unknown user ("), 15)
        .await?;
    assert!(!failures.to_lowercase().contains("hunter2"), "{failures}");
    w.screenshot("27-audit-unknown-user").await?;
    w.close().await;
    Ok(())
}

/// Developers: the inspector checks the current token against the server's
/// keys and flags a forged one; a refresh-token replay from the fault lab
/// ends the session, and the timeline explains the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developer_inspector_fault_lab_and_why_refused() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let data = tempfile::tempdir()?;
    let w = Window::open(4514, data.path(), &[]).await?;
    create_account(&w, "devi").await?;

    // The current access token, checked with the server's own keys.
    w.click("#rail button[data-view=inspector]").await?;
    w.c()
        .find(Locator::Css("#inspect-verify"))
        .await?
        .select_by_value("server")
        .await?;
    w.click("#inspect-access").await?;
    let sig = w
        .wait_text("#inspect-signature", |t| t.starts_with("Signature:"), 10)
        .await?;
    assert!(sig.starts_with("Signature: valid"), "{sig}");
    let payload = w
        .wait_text("#inspect-payload", |t| !t.is_empty(), 5)
        .await?;
    assert!(payload.contains("\"token_type\": \"access\""), "{payload}");
    w.screenshot("20-inspector").await?;

    // The same token with alg none and no signature: refused and flagged.
    let forged = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b
            .encode(br#"{"token_type":"access","user_id":"1","jti":"x","iat":1,"exp":4102444800}"#);
        format!("{header}.{payload}.")
    };
    w.fill("#inspect-token", &forged).await?;
    w.click("#inspect-go").await?;
    let sig = w
        .wait_text(
            "#inspect-signature",
            |t| !t.starts_with("Signature: valid"),
            10,
        )
        .await?;
    eprintln!("forged: {sig}");
    let warnings = w
        .wait_text("#inspect-warnings", |t| !t.is_empty(), 5)
        .await?;
    assert!(warnings.contains("alg none"), "{warnings}");
    w.screenshot("21-inspector-forged").await?;

    // Fault lab: a client clock 10 minutes fast. The session re-measures the
    // server's clock, so the access token still has its whole life left.
    w.click("#rail button[data-view=timeline]").await?;
    w.fill("#lab-skew", "600").await?;
    w.click("#lab-skew-go").await?;
    let skewed = w
        .wait_text(
            "#lab-result",
            |t| t.contains("s left") || t.contains("refused"),
            15,
        )
        .await?;
    eprintln!("skew: {skewed}");
    assert!(skewed.contains("off by +600 s"), "{skewed}");
    let left: f64 = skewed
        .rsplit(": ")
        .next()
        .and_then(|t| t.trim_end_matches(" s left").parse().ok())
        .unwrap_or_else(|| panic!("{skewed}"));
    assert!(
        (21_000.0..=21_600.0).contains(&left),
        "6 h token, {left} s left by the skewed clock"
    );
    w.click("#rail button[data-view=session]").await?;
    let shown = w
        .wait_text("#access-card [data-left]", |t| t.ends_with("left"), 5)
        .await?;
    assert!(
        shown.starts_with("5:5") || shown.starts_with("6:00"),
        "{shown}"
    );
    w.click("#rail button[data-view=timeline]").await?;
    w.click("#lab-skew-reset").await?;
    w.wait_text("#lab-result", |t| t.contains("right again"), 15)
        .await?;

    // Fault lab: the server goes offline. Connections are refused, but the
    // port stays the app's (no other OS user can bind it and answer the
    // retries); the window keeps the session and says so; then it comes back.
    let base = w.base_url().await?;
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()?;
    w.click("#lab-offline").await?;
    w.wait_text(
        "#lab-result",
        |t| t.contains("offline: connections are refused"),
        15,
    )
    .await?;
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(bind_as_nobody(addr.port())?, "errno 98", "EADDRINUSE");
    w.click("#lab-rotate").await?;
    let banner = w
        .wait_text("#offline", |t| t.starts_with("Server unreachable"), 15)
        .await?;
    assert!(banner.ends_with("Your session is kept."), "{banner}");
    w.wait_text("#conn", |t| t == "offline", 5).await?;
    w.screenshot("25-lab-server-offline").await?;
    w.click("#lab-online").await?;
    w.wait_text(
        "#lab-result",
        |t| t.contains("Bring the server back: online"),
        15,
    )
    .await?;
    w.click("#lab-rotate").await?;
    w.wait_text("#conn", |t| t == "online", 30).await?;
    w.wait_for("#offline[hidden]", 5).await?;
    assert_eq!(w.base_url().await?, base, "back on the same port");

    // Fault lab: rotate, then replay the refresh token that rotation replaced.
    w.click("#lab-rotate").await?;
    w.wait_text("#lab-result", |t| t.contains("Rotate now"), 10)
        .await?;
    w.click("#lab-replay").await?;
    // Reuse detection revokes the family: the window returns to sign-in and says why.
    let notice = w
        .wait_text("#signin-notice", |t| t.contains("reuse_detected"), 20)
        .await?;
    eprintln!("{notice}");
    w.screenshot("22-reuse-signed-out").await?;

    // Sign in again: the timeline still has the refused replay; ask why.
    w.fill("#username", "devi").await?;
    w.fill("#password", PASSWORD).await?;
    w.click("#signin-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 20)
        .await?;
    w.click("#rail button[data-view=timeline]").await?;
    w.wait_for("#timeline-table tr[data-status='401'] button.why", 10)
        .await?;
    w.click("#timeline-table tr[data-status='401'] button.why")
        .await?;
    let cause = w
        .wait_text("#explanation-cause", |t| !t.is_empty(), 10)
        .await?;
    let fix = w
        .wait_text("#explanation-fix", |t| !t.is_empty(), 5)
        .await?;
    eprintln!("why: {cause} / {fix}");
    assert!(
        cause.contains("already been rotated away was used again"),
        "{cause}"
    );
    assert!(fix.contains("Sign in again"), "{fix}");
    let curl = w
        .wait_text("#exchange-curl", |t| t.starts_with("curl"), 5)
        .await?;
    assert!(curl.contains("<redacted>") || curl.contains('…'), "{curl}");
    w.screenshot("23-why-refused").await?;
    w.close().await;
    Ok(())
}

/// node-oidc-provider (interop/oidc) on loopback, stopped on drop.
struct OidcProvider {
    issuer: String,
    child: std::process::Child,
}

impl OidcProvider {
    fn start() -> Result<OidcProvider> {
        use std::io::BufRead as _;
        let dir = root().join("interop/oidc");
        let mut child = std::process::Command::new(dir.join("node.sh"))
            .arg(dir.join("provider.mjs"))
            .env("OIDC_ACCESS_TTL", "20")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start interop/oidc/node.sh")?;
        // The ready line, on a thread of its own: a provider that never
        // starts fails the test after a minute instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "node-oidc-provider did not say it was ready within 60 s ({other:?}; \
                     is interop/oidc set up? scripts/install-deps.sh runs interop/oidc/setup.sh)"
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line)?;
        Ok(OidcProvider {
            issuer: ready["issuer"].as_str().unwrap().to_string(),
            child,
        })
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// "Add an OpenID provider": the window's form, the sign-in in the "browser"
/// (interop/oidc/browser.mjs as $BROWSER, filling in the provider's pages),
/// the live session; then the provider revokes the session, the next
/// rotation is refused invalid_grant, and the timeline explains why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_an_openid_provider_live_session_and_why_of_invalid_grant() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let provider = OidcProvider::start()?;
    let data = tempfile::tempdir()?;
    let dir = root().join("interop/oidc");
    let browser = format!(
        "{} {}",
        dir.join("node.sh").display(),
        dir.join("browser.mjs").display()
    );
    let w = Window::open(
        4470,
        data.path(),
        &[
            ("BROWSER", browser.as_str()),
            ("WARDEN_TEST_BROWSER_LOGIN", "olivia"),
        ],
    )
    .await?;
    w.wait_for("#openid summary", 30).await?;
    w.click("#openid summary").await?;
    w.fill("#oidc-issuer", &provider.issuer).await?;
    w.fill("#oidc-client-id", "warden-public").await?;
    w.fill("#oidc-scopes", "email profile").await?;
    w.screenshot("30-add-openid-provider").await?;
    w.click("#oidc-submit").await?;
    // The browser signs in; the window shows the provider's live session.
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 40)
        .await?;
    // An opaque refresh token without a stated expiry says so.
    w.wait_text(
        "#refresh-card [data-state]",
        |t| t == "no stated expiry",
        10,
    )
    .await?;
    w.wait_text("#keyring", |t| t.contains("stored"), 10)
        .await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    w.screenshot("31-openid-session").await?;
    // "Check with server": the provider's userinfo (with a DPoP proof).
    w.click("#check-access").await?;
    let check = w
        .wait_text(
            "#access-check",
            |t| !t.is_empty() && !t.starts_with("Asking"),
            15,
        )
        .await?;
    assert_eq!(
        check,
        "The server accepts the access token: olivia@example.test, GET me"
    );

    // The provider ends every session; the next rotation is refused.
    let revoked = http()
        .post(format!(
            "{}/__test__/revoke-refresh-tokens",
            provider.issuer
        ))
        .send()
        .await?;
    assert!(revoked.status().is_success());
    let notice = w
        .wait_text("#signin-notice", |t| t.contains("invalid_grant"), 40)
        .await?;
    eprintln!("{notice}");
    // Sign in again: the same profile, its timeline with the refused rotation.
    w.wait_for("#openid summary", 10).await?;
    w.click("#openid summary").await?;
    w.fill("#oidc-issuer", &provider.issuer).await?;
    w.fill("#oidc-client-id", "warden-public").await?;
    w.click("#oidc-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 40)
        .await?;
    w.click("#rail button[data-view=timeline]").await?;
    w.wait_for("#timeline-table tr[data-status='400'] button.why", 10)
        .await?;
    w.click("#timeline-table tr[data-status='400'] button.why")
        .await?;
    let cause = w
        .wait_text("#explanation-cause", |t| !t.is_empty(), 10)
        .await?;
    assert!(cause.contains("invalid_grant"), "{cause}");
    w.screenshot("32-openid-why-invalid-grant").await?;
    w.close().await;
    Ok(())
}

/// "Add an OpenID provider" with a confidential client's secret (into the
/// keyring), then the inspector's verdicts against the provider's JWKS (a
/// verified ID token; an opaque, DPoP-bound access token whose cnf.jkt is
/// the session key's) and the Warden-only features shown as unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_confidential_client_and_the_inspectors_verdict() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let provider = OidcProvider::start()?;
    let data = tempfile::tempdir()?;
    let dir = root().join("interop/oidc");
    let browser = format!(
        "{} {}",
        dir.join("node.sh").display(),
        dir.join("browser.mjs").display()
    );
    let w = Window::open(
        4560,
        data.path(),
        &[
            ("BROWSER", browser.as_str()),
            ("WARDEN_TEST_BROWSER_LOGIN", "peggy"),
        ],
    )
    .await?;
    w.wait_for("#openid summary", 30).await?;
    w.click("#openid summary").await?;
    w.fill("#oidc-issuer", &provider.issuer).await?;
    w.fill("#oidc-client-id", "warden-confidential").await?;
    w.fill(
        "#oidc-client-secret",
        "confidential-client-secret-for-tests",
    )
    .await?;
    w.fill("#oidc-scopes", "email").await?;
    w.screenshot("37-add-openid-confidential-client").await?;
    w.click("#oidc-submit").await?;
    w.wait_text("#access-card [data-left]", |t| t.ends_with("left"), 40)
        .await?;
    let line = w.wait_text("#warden-only", |t| !t.is_empty(), 10).await?;
    assert!(
        line.contains("unavailable for an OpenID provider"),
        "{line}"
    );
    // Nothing of the secret in the app's files.
    for entry in std::fs::read_dir(data.path())? {
        let path = entry?.path();
        if path.is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(&path)?).to_string();
            assert!(
                !text.contains("confidential-client-secret-for-tests"),
                "{} holds the client secret",
                path.display()
            );
        }
    }

    w.click("#rail button[data-view=inspector]").await?;
    w.wait_for("#inspect-provider-id", 10).await?;
    w.click("#inspect-provider-id").await?;
    let verdict = w
        .wait_text("#inspect-provider-verdict", |t| !t.is_empty(), 20)
        .await?;
    assert!(
        verdict.starts_with("ID token: verified against"),
        "{verdict}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    w.screenshot("35-openid-inspector").await?;
    w.click("#inspect-provider-access").await?;
    let verdict = w
        .wait_text("#inspect-provider-verdict", |t| t.starts_with("Access"), 20)
        .await?;
    assert!(verdict.contains("opaque: not a JWT"), "{verdict}");
    let dpop = w
        .wait_text("#inspect-provider-dpop", |t| !t.is_empty(), 10)
        .await?;
    assert!(dpop.contains("matches this session"), "{dpop}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    w.screenshot("36-openid-inspector-opaque-dpop").await?;

    w.click("#rail button[data-view=sessions]").await?;
    let unavailable = w
        .wait_text("#sessions-unavailable", |t| !t.is_empty(), 10)
        .await?;
    assert!(
        unavailable.starts_with("Unavailable for this profile"),
        "{unavailable}"
    );
    w.close().await;
    Ok(())
}
