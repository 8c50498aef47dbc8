//! Issue 7, crashes and hostile storage, black-box against the `warden`
//! binary: SIGKILL under mixed load (logins, refreshes, logouts, logout-all)
//! then restart and audit every acknowledged operation; a full disk (a tiny
//! tmpfs in a private mount namespace) and a database made read-only under a
//! running server; and the server's own logs (at trace level) during a full
//! flow never hold a token, password or key, while its files are 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use warden_tests::hostile::{Reply, Wire, text};

use crate::common::{BIN, Env, FAST, PASSWORD, Server, log_in, scrub};

// ---------------------------------------------------------------------------
// Harness

impl Env {
    fn new(extra: &str) -> Env {
        Env::with_config(&format!("{FAST}{extra}"))
    }

    /// `warden serve` with its log at `level` (RUST_LOG).
    fn serve_logging(&self, level: &str) -> Server {
        let mut cmd = self.command(&["serve", "--bind", "127.0.0.1:0"]);
        cmd.env("RUST_LOG", level);
        Server::start(cmd, &log_in(self.dir.path()))
    }

    fn integrity(&self) -> String {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }
}

impl Server {
    fn wire(&self) -> Wire {
        Wire::new(self.base.clone())
    }
}

fn no_5xx(what: &str, r: &Reply) {
    assert!(r.status < 500, "{what}: {} {}", r.status, r.text);
}

// ---------------------------------------------------------------------------
// SIGKILL under mixed load

/// What one worker knows for sure: answers it received before the kill.
#[derive(Debug, Default)]
struct Ledger {
    /// Refresh tokens the server said were rotated away or logged out.
    dead_refresh: Vec<String>,
    /// Access tokens whose session an acknowledged logout / logout-all ended.
    dead_access: Vec<String>,
    /// The newest acknowledged pair of each live chain: (access, refresh).
    live: Vec<(String, String)>,
    /// A request was in flight when the server died; its chain's newest pair
    /// may have been legitimately rotated away or revoked by it.
    in_flight: Option<(Op, Option<(String, String)>)>,
    acknowledged: usize,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Refresh,
    Logout,
    LogoutAll,
    Login,
}

fn worker(w: &Wire, user: &str, seed: u64, stop: &AtomicBool) -> Ledger {
    let mut ledger = Ledger::default();
    let mut rng = seed;
    let mut next = || {
        // xorshift: deterministic per worker, no dependency.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            return ledger;
        }
        let op = if ledger.live.is_empty() {
            Op::Login
        } else {
            match next() % 20 {
                0..=11 => Op::Refresh,
                12..=14 => Op::Login,
                15..=17 => Op::Logout,
                _ => Op::LogoutAll,
            }
        };
        let pick = (next() as usize) % ledger.live.len().max(1);
        let target = ledger.live.get(pick).cloned();
        let sent = match (op, &target) {
            (Op::Login, _) => w.try_send(
                reqwest::Method::POST,
                "api/token/",
                None,
                Some(&json!({"username": user, "password": PASSWORD})),
            ),
            (Op::Refresh, Some((_, r))) => w.try_send(
                reqwest::Method::POST,
                "api/token/refresh/",
                None,
                Some(&json!({"refresh": r})),
            ),
            (Op::Logout, Some((a, r))) => w.try_send(
                reqwest::Method::POST,
                "api/logout/",
                Some(a),
                Some(&json!({"refresh": r})),
            ),
            (Op::LogoutAll, Some((a, _))) => w.try_send(
                reqwest::Method::POST,
                "api/logout-all/",
                Some(a),
                Some(&json!({})),
            ),
            _ => unreachable!(),
        };
        let r = match sent {
            Ok(r) => r,
            Err(_) => {
                // The server is gone: this request's outcome is unknown.
                ledger.in_flight = Some((op, target));
                return ledger;
            }
        };
        no_5xx(&format!("{op:?}"), &r);
        assert_eq!(r.status, 200, "{op:?} refused under load: {}", r.text);
        ledger.acknowledged += 1;
        match (op, target) {
            (Op::Login, _) => ledger
                .live
                .push((text(&r.body["access"]), text(&r.body["refresh"]))),
            (Op::Refresh, Some((a, old))) => {
                ledger.live[pick] = (text(&r.body["access"]), text(&r.body["refresh"]));
                // Rotated away; its access token stays valid (same session).
                let _ = a;
                ledger.dead_refresh.push(old);
            }
            (Op::Logout, Some((a, old))) => {
                ledger.live.remove(pick);
                ledger.dead_refresh.push(old);
                ledger.dead_access.push(a);
            }
            (Op::LogoutAll, Some(_)) => {
                for (a, f) in ledger.live.drain(..) {
                    ledger.dead_access.push(a);
                    ledger.dead_refresh.push(f);
                }
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn sigkill_under_mixed_load_loses_nothing_acknowledged() {
    let rounds = std::env::var("WARDEN_HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        * 4;
    let workers = 6;
    let env = Env::new("");
    let users: Vec<String> = (0..workers).map(|i| format!("crash{i}")).collect();
    for u in &users {
        env.add_user(u);
    }
    let (mut acked_total, mut revocations_checked, mut live_checked, mut in_flight_seen) =
        (0, 0, 0, 0);
    for round in 0..rounds {
        let mut server = env.serve();
        let w = server.wire();
        let stop = AtomicBool::new(false);
        let ledgers: Mutex<Vec<Ledger>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for (i, u) in users.iter().enumerate() {
                let (w, stop, ledgers) = (&w, &stop, &ledgers);
                scope.spawn(move || {
                    let l = worker(
                        w,
                        u,
                        0x9e37_79b9_7f4a_7c15 ^ ((round * 31 + i) as u64 + 1),
                        stop,
                    );
                    ledgers.lock().unwrap().push(l);
                });
            }
            // Kill mid-load, at a different moment each round.
            std::thread::sleep(Duration::from_millis(400 + 170 * round as u64));
            server.kill();
            stop.store(true, Ordering::SeqCst);
        });
        assert_eq!(
            env.integrity(),
            "ok",
            "round {round}: integrity_check after SIGKILL"
        );
        let server = env.serve();
        let w = server.wire();
        for l in ledgers.into_inner().unwrap() {
            acked_total += l.acknowledged;
            for f in &l.dead_refresh {
                let r = w.post("api/token/verify/", None, &json!({"token": f}));
                assert_eq!(
                    r.status, 401,
                    "round {round}: an acknowledged rotation/logout was lost: {}",
                    r.text
                );
                revocations_checked += 1;
            }
            for a in &l.dead_access {
                let r = w.get("api/me/", Some(a));
                assert_eq!(
                    r.status, 401,
                    "round {round}: an acknowledged logout was lost: {}",
                    r.text
                );
                revocations_checked += 1;
            }
            if l.in_flight.is_some() {
                in_flight_seen += 1;
            }
            for pair in &l.live {
                let me = w.get("api/me/", Some(&pair.0));
                let verify = w.post("api/token/verify/", None, &json!({"token": pair.1}));
                no_5xx("after restart", &me);
                no_5xx("after restart", &verify);
                let touched = match &l.in_flight {
                    Some((Op::LogoutAll, _)) => true,
                    Some((Op::Refresh | Op::Logout, Some(t))) => t == pair,
                    _ => false,
                };
                if touched {
                    // Its last request's fate is unknown: alive, or rotated away /
                    // revoked by that request, but never a 5xx.
                    assert!(verify.status == 200 || verify.status == 401);
                    continue;
                }
                assert_eq!(
                    me.status, 200,
                    "round {round}: an acknowledged session was lost: {}",
                    me.text
                );
                assert_eq!(
                    verify.status, 200,
                    "round {round}: an acknowledged rotation's token was lost: {}",
                    verify.text
                );
                live_checked += 1;
            }
        }
        assert_eq!(env.integrity(), "ok");
        let _ = server.terminate();
    }
    assert!(acked_total > 0);
    println!(
        "SIGKILL under load: {rounds} crashes survived, {workers} workers, {acked_total} acknowledged operations, {revocations_checked} acknowledged revocations held, {live_checked} acknowledged live tokens still work, {in_flight_seen} requests in flight at the kill, integrity_check ok every time, 0 lost"
    );
}

// ---------------------------------------------------------------------------
// Full disk and read-only database, in a private mount namespace

fn unshare_available() {
    let ok = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "these tests need `unshare -m` (util-linux) and the right to create a mount namespace (root or CAP_SYS_ADMIN)"
    );
}

/// Starts `warden serve` inside a new mount namespace where `dir` is a fresh
/// tmpfs of `size`, after creating `alice` there.
fn serve_on_tmpfs(env: &Env, dir: &Path, size: &str) -> Server {
    std::fs::create_dir_all(dir).unwrap();
    let script = format!(
        r#"set -e
mount -t tmpfs -o size={size} tmpfs "$D"
printf '%s\n' "$P" | "$B" --config "$C" --database "$D/warden.db" user add alice --password-stdin >/dev/null
exec "$B" --config "$C" --database "$D/warden.db" serve --bind 127.0.0.1:0"#
    );
    let mut cmd = Command::new("unshare");
    scrub(&mut cmd);
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("D", dir)
        .env("B", BIN)
        .env("C", &env.config)
        .env("P", PASSWORD);
    Server::start(cmd, &log_in(env.dir.path()))
}

/// The server's view of `path` (inside its mount namespace).
fn inside(server: &Server, path: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root", server.child.id())).join(path.strip_prefix("/").unwrap())
}

fn unavailable(what: &str, r: &Reply) {
    assert_eq!(r.status, 503, "{what}: {}", r.text);
    assert_eq!(
        r.body["detail"], "Service temporarily unavailable.",
        "{what}"
    );
    assert!(r.body["request_id"].is_string(), "{what}: {}", r.text);
}

#[test]
fn a_full_disk_gives_503_refusals_and_loses_nothing() {
    unshare_available();
    let env = Env::new(&format!(
        "SIGNING_KEY = \"{}\"\n",
        warden_tests::TEST_SECRET
    ));
    let dir = env.dir.path().join("tmpfs");
    let server = serve_on_tmpfs(&env, &dir, "8m");
    let w = server.wire();
    let (access, refresh) = w.login("alice").unwrap();
    let (access2, refresh2) = w.login("alice").unwrap();
    // An acknowledged logout before the disk fills.
    assert_eq!(
        w.post("api/logout/", Some(&access2), &json!({"refresh": refresh2}))
            .status,
        200
    );
    // Fill the tmpfs from outside, through the server's own mount namespace.
    let filler = inside(&server, &dir.join("filler"));
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    // Writes are refused with a clear 503; nothing is half-done.
    let mut refused = 0;
    for _ in 0..3 {
        let r = w.post(
            "api/token/",
            None,
            &json!({"username": "alice", "password": PASSWORD}),
        );
        no_5xx_but_503(&r);
        if r.status == 503 {
            unavailable("login on a full disk", &r);
            refused += 1;
        }
    }
    assert!(refused > 0, "no login was refused on a full disk");
    let r = w.refresh(&refresh);
    unavailable("refresh on a full disk", &r);
    let r = w.post("api/logout/", Some(&access), &json!({"refresh": refresh}));
    unavailable("logout on a full disk", &r);
    // The refused logout did not half-happen: the session is whole.
    assert!(
        w.access_ok(&access),
        "a 503 logout must not revoke in memory only"
    );
    // Reads still answer, and the earlier acknowledged logout still holds.
    assert_eq!(
        w.post("api/token/verify/", None, &json!({"token": refresh}))
            .status,
        200
    );
    assert_eq!(
        w.post("api/token/verify/", None, &json!({"token": refresh2}))
            .status,
        401
    );
    assert!(!w.access_ok(&access2));
    // Space again: everything works, no restart needed.
    std::fs::remove_file(&filler).unwrap();
    let r = w.refresh(&refresh);
    assert_eq!(r.status, 200, "after freeing space: {}", r.text);
    let (a3, r3) = (text(&r.body["access"]), text(&r.body["refresh"]));
    assert_eq!(
        w.post("api/logout/", Some(&a3), &json!({"refresh": r3}))
            .status,
        200
    );
    assert!(!w.access_ok(&a3));
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    println!(
        "full disk: {refused}/3 logins, 1 refresh, 1 logout refused with 503; recovered after freeing space"
    );
}

fn no_5xx_but_503(r: &Reply) {
    assert!(r.status < 500 || r.status == 503, "{} {}", r.status, r.text);
}

/// A database on a read-only file system: `warden serve` refuses to start
/// with one clear error line (it never serves without a writable store, so
/// it can never acknowledge a revocation it could not record). A store that
/// turns unwritable under a running server answers 503: see the full-disk
/// test (SQLite's FULL and READONLY take the same path); a live remount to
/// read-only is refused by the kernel while SQLite holds its files open.
#[test]
fn a_read_only_database_is_refused_with_a_clear_error() {
    unshare_available();
    let env = Env::new(&format!(
        "SIGNING_KEY = \"{}\"\n",
        warden_tests::TEST_SECRET
    ));
    env.add_user("alice");
    let dir = env.db.parent().unwrap().to_path_buf();
    let script = r#"set -e
mount --bind "$D" "$D"
mount -o remount,bind,ro "$D"
exec "$B" --config "$C" --database "$D/warden.db" serve --bind 127.0.0.1:0"#;
    let mut cmd = Command::new("unshare");
    scrub(&mut cmd);
    let out = cmd
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("D", &dir)
        .env("B", BIN)
        .env("C", &env.config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("cannot open database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    // The database is untouched and still whole.
    assert_eq!(env.integrity(), "ok");
}

// ---------------------------------------------------------------------------
// Secrets: logs at trace level, files 0600

#[test]
fn trace_logs_of_a_full_flow_hold_no_secret_and_files_are_0600() {
    let env = Env::new("[server]\nKEY_STORE = \"file\"\nALLOW_REGISTRATION = true\n");
    env.add_user("alice");
    let server = env.serve_logging("trace");
    let w = server.wire();
    let mut secrets: Vec<String> = vec![PASSWORD.to_string()];
    let (access, refresh) = w.login("alice").unwrap();
    secrets.extend([access.clone(), refresh.clone()]);
    let r = w.refresh(&refresh);
    let (a2, r2) = (text(&r.body["access"]), text(&r.body["refresh"]));
    secrets.extend([a2.clone(), r2.clone()]);
    let new_password = "a brand new password 42";
    let r = w.post(
        "api/register/",
        None,
        &json!({"username": "bob", "password": "bob's secret pw 99"}),
    );
    assert!(r.status == 201 || r.status == 200, "{}", r.text);
    secrets.push("bob's secret pw 99".into());
    // Every token-taking route, good and bad.
    for (route, body) in [
        ("api/token/verify/", json!({"token": a2})),
        ("api/token/introspect/", json!({"token": r2})),
        ("api/token/verify/", json!({"token": format!("{a2}x")})),
    ] {
        no_5xx(route, &w.post(route, Some(&a2), &body));
    }
    no_5xx("me", &w.get("api/me/", Some(&a2)));
    no_5xx(
        "bad bearer",
        &w.get("api/me/", Some(&format!("{a2}tampered"))),
    );
    no_5xx(
        "wrong pw",
        &w.post(
            "api/token/",
            None,
            &json!({"username": "alice", "password": "wrong-but-secret-guess"}),
        ),
    );
    secrets.push("wrong-but-secret-guess".into());
    let r = w.post(
        "api/password/change/",
        Some(&a2),
        &json!({"old_password": PASSWORD, "new_password": new_password}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    secrets.push(new_password.into());
    let (a3, r3) = w.login_with("alice", new_password).unwrap();
    secrets.extend([a3.clone(), r3.clone()]);
    no_5xx(
        "logout",
        &w.post("api/logout/", Some(&a3), &json!({"refresh": r3})),
    );
    // Replay (reuse detection logs a warning about the family).
    no_5xx("replay", &w.refresh(&refresh));
    // Files while the server runs (WAL and SHM exist now).
    let mut modes = BTreeMap::new();
    for entry in std::fs::read_dir(env.db.parent().unwrap()).unwrap() {
        let p = entry.unwrap().path();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        modes.insert(p.file_name().unwrap().to_string_lossy().into_owned(), mode);
    }
    let log = server.log();
    let _ = server.terminate();
    assert!(
        log.lines().count() > 10,
        "trace logging produced output:\n{log}"
    );
    // The signing key from the key file.
    let key_file = env.db.parent().unwrap().join("signing-keys.json");
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    collect_strings(&keys, &mut secrets, 20);
    let mut leaks = Vec::new();
    for s in &secrets {
        // A token's signature alone is a secret-derived value too.
        let parts: Vec<&str> = s.split('.').collect();
        let mut needles = vec![s.as_str()];
        if parts.len() == 3 {
            needles.push(parts[2]);
        }
        for n in needles {
            if log.contains(n) {
                leaks.push(n.chars().take(24).collect::<String>());
            }
        }
    }
    assert!(leaks.is_empty(), "secrets in the trace log: {leaks:?}");
    // Files: the database, its WAL/SHM and the key file are 0600.
    assert!(
        modes.contains_key("warden.db") && modes.contains_key("signing-keys.json"),
        "{modes:?}"
    );
    for (name, mode) in &modes {
        assert_eq!(*mode & 0o077, 0, "{name} is {mode:o}, readable by others");
    }
    println!(
        "secrets: {} log lines at trace level, {} secrets searched (passwords, tokens, signatures, key material), 0 found; files {}",
        log.lines().count(),
        secrets.len(),
        modes
            .iter()
            .map(|(n, m)| format!("{n} {m:o}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Long string leaves of a JSON value (key material, not labels).
fn collect_strings(v: &Value, out: &mut Vec<String>, min_len: usize) {
    match v {
        Value::String(s) if s.len() >= min_len => {
            out.push(s.clone());
            // PEM bodies: each base64 line is key material too.
            for line in s
                .lines()
                .filter(|l| l.len() >= min_len && !l.starts_with("-----"))
            {
                out.push(line.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out, min_len)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out, min_len)),
        _ => {}
    }
}
