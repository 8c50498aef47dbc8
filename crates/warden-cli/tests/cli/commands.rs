//! The `warden` binary, black-box: real processes, a real database file, real
//! signals, HTTP over loopback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{
    BIN, Env, FAST, PASSWORD, Pair, Server, log_in, login, refresh_status, run_command, runtime,
    scrub,
};

// ---------------------------------------------------------------------------
// Harness

impl Env {
    /// Keys generated into the file beside the database.
    fn file_keys() -> Env {
        Env::with_config(&format!("{FAST}[server]\nKEY_STORE = \"file\"\n"))
    }

    fn key_file(&self) -> PathBuf {
        self.db.parent().unwrap().join("signing-keys.json")
    }

    /// Runs and expects failure; returns stderr, which must be one `error:` line.
    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        failure_line(&out, args)
    }

    fn integrity_ok(&self) {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let result: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(result, "ok");
    }
}

fn failure_line(out: &Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "warden {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit status of {args:?}: {stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one error line expected from {args:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    errors[0].to_string()
}

impl Server {
    fn stop(self) {
        let log = self.log();
        let (status, took) = self.terminate();
        assert!(status.success(), "serve exited with {status}; log:\n{log}");
        assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn me_status(http: &reqwest::Client, server_url: &str, access: &str) -> u16 {
    http.get(format!("{server_url}api/me/"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn base(server: &Server) -> String {
    server.url("")
}

/// The `kid` in a token's header, via `warden decode`.
fn kid_of(env: &Env, token: &str) -> String {
    let out = env.ok(&["decode", token], None);
    let start = out.find("\"kid\": \"").unwrap() + 8;
    out[start..start + out[start..].find('"').unwrap()].to_string()
}

fn stored_kids(path: &Path) -> Vec<String> {
    let keys: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

fn stored_secret(path: &Path) -> String {
    let keys: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    keys[0]["secret"].as_str().unwrap().to_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `name: value` line of `warden user show`.
fn field(show: &str, name: &str) -> String {
    show.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {show}"))
        .trim()
        .to_string()
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Users and sessions

#[test]
fn user_administration_on_a_temp_database() {
    let env = Env::config_key();
    let out = env.ok(
        &[
            "user",
            "add",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.contains("created user alice"), "{out}");
    env.add_user("bob");

    // No password source: refused clearly, nothing created.
    let err = env.fails(&["user", "add", "carol"], Some("whatever\n"));
    assert!(err.contains("--password-stdin"), "{err}");
    let err = env.fails(
        &["user", "add", "alice", "--password-stdin"],
        Some("another password\n"),
    );
    assert!(err.contains("already exists"), "{err}");
    let err = env.fails(
        &["user", "add", "dave", "--password-stdin"],
        Some("short\n"),
    );
    assert!(err.contains("password"), "{err}");

    let list = env.ok(&["user", "list"], None);
    assert!(
        list.contains("alice") && list.contains("alice@example.com"),
        "{list}"
    );
    assert!(list.contains("bob"), "{list}");
    assert!(!list.contains("carol") && !list.contains("dave"), "{list}");
    let only = env.ok(&["user", "list", "--query", "ALI"], None);
    assert!(only.contains("alice") && !only.contains("bob"), "{only}");

    let sessions = env.ok(&["sessions", "list", "alice"], None);
    assert!(sessions.contains("no live sessions"), "{sessions}");
    let err = env.fails(&["sessions", "list", "nobody"], None);
    assert!(err.contains("no user named `nobody`"), "{err}");

    let out = env.ok(
        &[
            "user",
            "lock",
            "alice",
            "--for",
            "1h",
            "--reason",
            "test lock",
        ],
        None,
    );
    assert!(out.contains("locked until"), "{out}");
    let show = env.ok(&["user", "show", "alice"], None);
    assert!(field(&show, "locked").starts_with("until 2"), "{show}");
    env.ok(&["user", "unlock", "alice"], None);
    let show = env.ok(&["user", "show", "alice"], None);
    assert_eq!(field(&show, "locked"), "no", "{show}");
    let err = env.fails(
        &[
            "user",
            "lock",
            "alice",
            "--until",
            "2001-01-01T00:00:00Z",
            "--reason",
            "r",
        ],
        None,
    );
    assert!(err.contains("not in the future"), "{err}");

    env.ok(&["user", "deactivate", "bob", "--reason", "left"], None);
    assert_eq!(
        field(&env.ok(&["user", "show", "bob"], None), "active"),
        "no"
    );
    env.ok(&["user", "reactivate", "bob"], None);
    env.ok(&["user", "staff", "bob", "--grant"], None);
    assert_eq!(
        field(&env.ok(&["user", "show", "bob"], None), "staff"),
        "yes"
    );
    env.ok(&["user", "staff", "bob", "--revoke"], None);
    let out = env.ok(
        &["user", "passwd", "bob", "--password-stdin"],
        Some("a brand new password\n"),
    );
    assert!(out.contains("0 session(s) ended"), "{out}");

    let err = env.fails(&["sessions", "revoke", "not-a-session"], None);
    assert!(err.contains("not a session id"), "{err}");
    let err = env.fails(&["sessions", "revoke", &"a".repeat(32)], None);
    assert!(err.contains("no such session"), "{err}");
    let out = env.ok(&["sessions", "revoke-all", "alice"], None);
    assert!(out.contains("0 session(s)"), "{out}");
    assert!(env.ok(&["flush"], None).contains("removed:"));

    // Config errors name the key.
    let bad = Env::with_config("ACCESS_TOKEN_LIFETIME = \"soon\"\n");
    let err = bad.fails(&["user", "list"], None);
    assert!(err.contains("ACCESS_TOKEN_LIFETIME"), "{err}");
}

// ---------------------------------------------------------------------------
// Serving

#[test]
fn serve_logs_in_and_stops_on_sigterm() {
    let env = Env::file_keys();
    env.add_user("alice");
    let server = env.serve();
    let url = base(&server);
    let rt = runtime();
    let pair = rt.block_on(async {
        let http = client();
        let pair = login(&http, &url, "alice").await;
        assert_eq!(me_status(&http, &url, &pair.access).await, 200);
        let bad = http
            .post(format!("{url}api/token/"))
            .json(&json!({ "username": "alice", "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        pair
    });

    // The CLI reads the live database beside the running server.
    let list = env.ok(&["sessions", "list", "alice"], None);
    let line = list.lines().nth(1).unwrap_or_default();
    assert!(line.ends_with("active"), "{list}");
    let sid = line.split_whitespace().next().unwrap().to_string();
    assert_eq!(sid.len(), 32);
    let out = env.ok(&["sessions", "revoke", &sid], None);
    assert!(out.contains("revoked"), "{out}");
    // Rotation reads the database, so the running server refuses the refresh token at once.
    rt.block_on(async {
        assert_eq!(refresh_status(&client(), &url, &pair.refresh).await, 401);
    });
    let all = env.ok(&["sessions", "list", "alice", "--all"], None);
    assert!(all.contains("revoked (staff_revoked)"), "{all}");

    let log = server.log();
    assert!(
        !log.contains(&pair.access) && !log.contains(&pair.refresh),
        "tokens in logs"
    );
    server.stop();
}

/// Logouts acknowledged before a SIGKILL survive it: after a restart on the
/// same database and keys, their access and refresh tokens are refused.
#[test]
fn acknowledged_logouts_survive_sigkill() {
    const USERS: usize = 3;
    const SESSIONS_PER_USER: usize = 8;
    const WORKERS: usize = 4;
    const ROUNDS: usize = 3;

    let env = Env::file_keys();
    for u in 0..USERS {
        env.add_user(&format!("user{u}"));
    }
    let rt = runtime();
    let http = client();
    let mut acknowledged: Vec<Pair> = Vec::new();
    let mut untouched: Vec<Pair> = Vec::new();
    let mut server = env.serve();
    let mut cut_off = 0;

    for round in 0..ROUNDS {
        let url = base(&server);
        // Log in; one session per user is never logged out, as a control.
        let mut targets = Vec::new();
        rt.block_on(async {
            for u in 0..USERS {
                for s in 0..SESSIONS_PER_USER {
                    let pair = login(&http, &url, &format!("user{u}")).await;
                    if s == 0 {
                        untouched.push(pair);
                    } else {
                        targets.push(pair);
                    }
                }
            }
        });
        let total = targets.len();

        // Stream logouts from several workers; SIGKILL mid-stream.
        let acked: Arc<Mutex<Vec<Pair>>> = Arc::new(Mutex::new(Vec::new()));
        let chunks: Vec<Vec<Pair>> = (0..WORKERS)
            .map(|w| targets.iter().skip(w).step_by(WORKERS).cloned().collect())
            .collect();
        let failed_after_kill = rt.block_on(async {
            let mut workers = Vec::new();
            for chunk in chunks {
                let http = http.clone();
                let url = url.clone();
                let acked = Arc::clone(&acked);
                workers.push(tokio::spawn(async move {
                    let mut failures = 0;
                    for pair in chunk {
                        let r = http
                            .post(format!("{url}api/logout/"))
                            .bearer_auth(&pair.access)
                            .json(&json!({ "refresh": pair.refresh }))
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => acked.lock().unwrap().push(pair),
                            Ok(r) => panic!("logout answered {}", r.status()),
                            Err(_) => failures += 1,
                        }
                    }
                    failures
                }));
            }
            // Kill at a different point of the stream each round.
            let threshold = total * (round + 1) / (ROUNDS + 1);
            let t0 = Instant::now();
            while acked.lock().unwrap().len() < threshold {
                assert!(t0.elapsed() < Duration::from_secs(30), "logouts too slow");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            server.kill();
            let mut failures = 0;
            for w in workers {
                failures += w.await.unwrap();
            }
            failures
        });
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        eprintln!(
            "round {round}: {} of {total} logouts acknowledged before SIGKILL, \
             {failed_after_kill} failed (in flight or sent after it)",
            acked.len()
        );
        cut_off += failed_after_kill;
        acknowledged.extend(acked);

        env.integrity_ok();
        server = env.serve();
        let url = base(&server);
        rt.block_on(async {
            for pair in &acknowledged {
                assert_eq!(
                    me_status(&http, &url, &pair.access).await,
                    401,
                    "access token of an acknowledged logout"
                );
                assert_eq!(
                    refresh_status(&http, &url, &pair.refresh).await,
                    401,
                    "refresh token of an acknowledged logout"
                );
            }
            for pair in &untouched {
                assert_eq!(
                    me_status(&http, &url, &pair.access).await,
                    200,
                    "a session never logged out still works"
                );
            }
        });
    }
    server.stop();
    env.integrity_ok();
    assert!(
        cut_off > 0,
        "every kill landed after all logouts had finished: nothing was in flight"
    );
    assert!(!acknowledged.is_empty());
}

// ---------------------------------------------------------------------------
// Keys

#[test]
fn keys_are_generated_once_into_a_private_file_and_rotate() {
    let env = Env::file_keys();
    env.add_user("alice");
    let rt = runtime();
    let http = client();

    // First run, under umask 000: the key file must still be 0600.
    let mut cmd = Command::new("sh");
    scrub(&mut cmd);
    cmd.arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(BIN)
        .arg("--config")
        .arg(&env.config)
        .arg("--database")
        .arg(&env.db)
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let server = Server::start(cmd, &log_in(env.dir.path()));
    let first = rt.block_on(login(&http, &base(&server), "alice"));
    server.stop();
    let file = env.key_file();
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let kids = stored_kids(&file);
    assert_eq!(kids.len(), 1);
    let k1 = kids[0].clone();
    assert_eq!(kid_of(&env, &first.access), k1);
    let listed = env.ok(&["keys", "list"], None);
    assert!(
        listed.contains(&k1) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains("secret"), "{listed}");

    // Second run reuses the key.
    let server = env.serve();
    let second = rt.block_on(login(&http, &base(&server), "alice"));
    server.stop();
    assert_eq!(kid_of(&env, &second.access), k1);
    assert_eq!(stored_kids(&file), vec![k1.clone()]);

    // Rotation adds a key; tokens signed by the old one still verify.
    let out = env.ok(&["keys", "rotate"], None);
    assert!(out.contains("new signing key"), "{out}");
    let kids = stored_kids(&file);
    assert_eq!(kids.len(), 2);
    let k2 = kids[0].clone();
    assert_ne!(k2, k1);
    assert!(kids.contains(&k1));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let listed = env.ok(&["keys", "list"], None);
    assert!(listed.contains("retired"), "{listed}");

    let server = env.serve();
    let url = base(&server);
    rt.block_on(async {
        assert_eq!(me_status(&http, &url, &first.access).await, 200);
        assert_eq!(me_status(&http, &url, &second.access).await, 200);
        let third = login(&http, &url, "alice").await;
        assert_eq!(kid_of(&env, &third.access), k2);
        // A refresh token signed by the retired key still rotates.
        assert_eq!(refresh_status(&http, &url, &second.refresh).await, 200);
    });
    server.stop();
}

#[test]
fn keyring_store() {
    if std::env::var("WARDEN_TEST_DESKTOP").as_deref() == Ok("1") {
        keyring_store_in_a_desktop_session();
    } else {
        keyring_store_without_a_session_bus();
    }
}

fn keyring_store_in_a_desktop_session() {
    let env = Env::with_config(&format!("{FAST}[server]\nKEY_STORE = \"keyring\"\n"));
    env.add_user("alice");
    let rt = runtime();
    let http = client();
    let server = env.serve();
    let pair = rt.block_on(login(&http, &base(&server), "alice"));
    server.stop();

    let user = format!("signing-keys:{}", env.db.display());
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "warden", "username", &user])
        .output()
        .unwrap();
    assert!(
        lookup.status.success(),
        "secret-tool found nothing for {user}"
    );
    let stored: Vec<Value> = serde_json::from_slice(&lookup.stdout).unwrap();
    let kid = stored[0]["kid"].as_str().unwrap().to_string();
    assert_eq!(kid_of(&env, &pair.access), kid);
    assert!(!env.key_file().exists(), "no key file in keyring mode");

    // Second run: same key, from the keyring.
    let server = env.serve();
    let again = rt.block_on(login(&http, &base(&server), "alice"));
    server.stop();
    assert_eq!(kid_of(&env, &again.access), kid);
    let listed = env.ok(&["keys", "list"], None);
    assert!(
        listed.contains("OS keyring") && listed.contains(&kid),
        "{listed}"
    );
    assert!(!env.key_file().exists());

    // auto picks the keyring too when it works.
    let auto = Env::with_config(FAST);
    auto.add_user("alice");
    let server = auto.serve();
    rt.block_on(login(&http, &base(&server), "alice"));
    server.stop();
    assert!(!auto.key_file().exists(), "auto used the working keyring");

    for e in [&env, &auto] {
        let _ = Command::new("secret-tool")
            .args(["clear", "service", "warden", "username"])
            .arg(format!("signing-keys:{}", e.db.display()))
            .status();
    }
}

/// Runs everywhere: the keyring is unreachable when there is no session bus.
fn keyring_store_without_a_session_bus() {
    let env = Env::with_config(&format!("{FAST}[server]\nKEY_STORE = \"keyring\"\n"));
    let no_bus = tempfile::tempdir().unwrap();
    let mut cmd = env.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", no_bus.path());
    let t0 = Instant::now();
    let out = run_command(cmd, None);
    assert!(t0.elapsed() < Duration::from_secs(15));
    let err = failure_line(&out, &["serve"]);
    assert!(
        err.contains("KEY_STORE = \"keyring\"") && err.contains("keyring"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(
        !env.key_file().exists(),
        "no fallback to a file when the keyring was required"
    );
}

#[test]
fn auto_falls_back_to_a_private_file_without_a_keyring() {
    let env = Env::with_config(FAST);
    env.add_user("alice");
    let no_bus = tempfile::tempdir().unwrap();
    let mut cmd = env.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", no_bus.path());
    let server = Server::start(cmd, &log_in(env.dir.path()));
    let pair = runtime().block_on(login(&client(), &base(&server), "alice"));
    let log = server.log();
    server.stop();
    assert!(
        log.contains("WARN") && log.contains("keyring unavailable"),
        "{log}"
    );
    assert!(log.contains("signing-keys.json"), "{log}");
    assert!(
        !log.contains(&stored_secret(&env.key_file())),
        "key in the log"
    );
    #[cfg(unix)]
    assert_eq!(mode(&env.key_file()), 0o600);
    assert_eq!(kid_of(&env, &pair.access), stored_kids(&env.key_file())[0]);
}

#[test]
fn signing_key_conflicts_with_a_key_store() {
    let env = Env::with_config(&format!(
        "{FAST}SIGNING_KEY = \"{}\"\n[server]\nKEY_STORE = \"file\"\n",
        warden_tests::TEST_SECRET
    ));
    let err = env.fails(&["keys", "rotate"], None);
    assert!(err.contains("conflicts with SIGNING_KEY"), "{err}");
    let env = Env::config_key();
    let err = env.fails(&["keys", "rotate"], None);
    assert!(err.contains("SIGNING_KEY"), "{err}");
    let out = env.ok(&["keys", "list"], None);
    assert!(
        out.contains("config file") && !out.contains(warden_tests::TEST_SECRET),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// Decode

#[test]
fn decode_shows_a_token_and_refuses_garbage() {
    let env = Env::config_key();
    env.add_user("alice");
    let server = env.serve();
    let pair = runtime().block_on(login(&client(), &base(&server), "alice"));
    server.stop();

    let out = env.ok(&["decode", &pair.access], None);
    assert!(out.contains("Header:") && out.contains("Payload:"), "{out}");
    assert!(out.contains("\"token_type\": \"access\""), "{out}");
    assert!(out.contains("expires in"), "{out}");
    assert!(out.contains("Z "), "RFC 3339 times: {out}");
    assert!(!out.contains("Warnings:"), "{out}");
    let piped = env.ok(&["decode", "-"], Some(&format!("{}\n", pair.refresh)));
    assert!(piped.contains("\"token_type\": \"refresh\""), "{piped}");
    let verified = env.ok(&["decode", "--verify", &pair.access], None);
    assert!(verified.contains("Signature: valid"), "{verified}");

    // Another database with other keys: the kid is unknown there.
    let other = Env::file_keys();
    other.add_user("bob");
    let server = other.serve();
    runtime().block_on(login(&client(), &base(&server), "bob"));
    server.stop();
    let out = other.ok(&["decode", &pair.access], None);
    assert!(out.contains("is not one of the local keys"), "{out}");
    let err = other.fails(&["decode", "--verify", &pair.access], None);
    assert!(err.contains("signature check failed"), "{err}");

    // Unsigned and over-long tokens decode, with warnings.
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64url(br#"{"token_type":"access","iat":1000,"exp":999999999999,"jti":"x"}"#);
    let forged = format!("{header}.{payload}.AAAA");
    let out = env.ok(&["decode", &forged], None);
    assert!(out.contains("alg is `none`"), "{out}");
    assert!(out.contains("longer than ACCESS_TOKEN_LIFETIME"), "{out}");
    assert!(out.contains("no `kid`"), "{out}");
    let no_exp = format!("{header}.{}.AAAA", b64url(br#"{"a":1}"#));
    assert!(
        env.ok(&["decode", &no_exp], None)
            .contains("no `exp` claim")
    );

    for garbage in ["garbage", "a.b.c", "", "-"] {
        let out = env.run(&["decode", garbage], Some(""));
        let err = failure_line(&out, &["decode", garbage]);
        assert!(err.contains("not a decodable JWT"), "{err}");
    }
}

// ---------------------------------------------------------------------------
// Serving: ALLOWED_HOSTS, CORS_ALLOWED_ORIGINS, TRUSTED_PROXIES

/// The status of `GET /api/hello/` sent to `server` with this Host and extra
/// header lines, and the answer's head.
fn hello_with_host(server: &Server, host: &str, extra: &str) -> (u16, String) {
    use std::io::Read;
    let port = port_of(server);
    let mut conn = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(
        conn,
        "GET /api/hello/ HTTP/1.1\r\nhost: {host}\r\n{extra}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    (status, head.to_ascii_lowercase())
}

fn port_of(server: &Server) -> String {
    server
        .base
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn serve_takes_the_guards_from_the_file_and_the_environment_wins() {
    let env = Env::with_config(&format!(
        "{FAST}[server]\nKEY_STORE = \"file\"\nALLOWED_HOSTS = [\"warden.test\"]\n\
         CORS_ALLOWED_ORIGINS = [\"https://app.example.com\"]\n"
    ));
    env.add_user("alice");
    let server = env.serve();
    let own = format!("127.0.0.1:{}", port_of(&server));
    assert_eq!(hello_with_host(&server, "warden.test", "").0, 200);
    assert_eq!(hello_with_host(&server, "WARDEN.test:8000", "").0, 200);
    assert_eq!(
        hello_with_host(&server, &own, "").0,
        400,
        "a list replaces the loopback default"
    );
    let (status, head) = hello_with_host(
        &server,
        "warden.test",
        "origin: https://app.example.com\r\n",
    );
    assert_eq!(status, 200);
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com"),
        "{head}"
    );
    let evil = "origin: https://evil.example\r\n";
    assert_eq!(hello_with_host(&server, "warden.test", evil).0, 403);
    let log = server.log();
    assert!(log.contains("warden.test"), "the guards are logged: {log}");
    server.stop();

    // WARDEN_* win over the file, comma-separated.
    let mut cmd = env.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("WARDEN_ALLOWED_HOSTS", "127.0.0.1, .override.test")
        .env("WARDEN_CORS_ALLOWED_ORIGINS", "http://localhost:3000")
        .env("WARDEN_TRUSTED_PROXIES", "127.0.0.0/8");
    let server = Server::start(cmd, &log_in(env.dir.path()));
    let own = format!("127.0.0.1:{}", port_of(&server));
    assert_eq!(hello_with_host(&server, &own, "").0, 200);
    assert_eq!(hello_with_host(&server, "api.override.test", "").0, 200);
    assert_eq!(hello_with_host(&server, "warden.test", "").0, 400);
    let app = "origin: http://localhost:3000\r\n";
    assert_eq!(hello_with_host(&server, &own, app).0, 200);
    let file_origin = "origin: https://app.example.com\r\n";
    assert_eq!(hello_with_host(&server, &own, file_origin).0, 403);
    // The peer (127.0.0.1) is a trusted proxy now: its X-Forwarded-For counts.
    runtime().block_on(async {
        let r = client()
            .post(format!("{}api/token/", base(&server)))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.7")
            .json(&json!({ "username": "alice", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    let list = env.ok(&["sessions", "list", "alice"], None);
    assert!(list.contains("203.0.113.7"), "{list}");
    assert!(!list.contains("198.51.100.1"), "{list}");
    server.stop();
}

#[test]
fn serve_refuses_a_public_bind_without_allowed_hosts() {
    let env = Env::file_keys();
    let out = run_command(env.command(&["serve", "--bind", "0.0.0.0:0"]), None);
    let err = failure_line(&out, &["serve", "--bind", "0.0.0.0:0"]);
    assert!(err.contains("ALLOWED_HOSTS is not set"), "{err}");
    assert!(err.contains("0.0.0.0"), "{err}");
    assert!(!env.db.exists(), "refused before the database was created");
    assert!(!env.key_file().exists(), "refused before keys were made");

    // With ALLOWED_HOSTS it starts, and answers only those names.
    let mut cmd = env.command(&["serve", "--bind", "0.0.0.0:0"]);
    cmd.env("WARDEN_ALLOWED_HOSTS", "warden.example.com");
    let server = Server::start(cmd, &log_in(env.dir.path()));
    assert_eq!(hello_with_host(&server, "warden.example.com", "").0, 200);
    let own = format!("127.0.0.1:{}", port_of(&server));
    assert_eq!(hello_with_host(&server, &own, "").0, 400);
    server.stop();
}

/// A `[server]` table, environment variables, and what the error must say.
type BadGuard = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

#[test]
fn serve_names_the_key_of_a_bad_guard_entry() {
    let cases: [BadGuard; 6] = [
        (
            "[server]\nALLOWED_HOSTS = [\"ok.example\", \"https://warden.example.com/\"]\n",
            &[],
            &[
                "ALLOWED_HOSTS",
                "\"https://warden.example.com/\"",
                "is a URL",
            ],
        ),
        (
            "",
            &[("WARDEN_ALLOWED_HOSTS", "*.example.com")],
            &["ALLOWED_HOSTS", "\"*.example.com\"", "\".example.com\""],
        ),
        (
            "",
            &[("WARDEN_CORS_ALLOWED_ORIGINS", "https://app.example.com/")],
            &[
                "CORS_ALLOWED_ORIGINS",
                "\"https://app.example.com/\"",
                "trailing slash",
            ],
        ),
        (
            "[server]\nTRUSTED_PROXIES = [\"10.0.0.1/8\"]\n",
            &[],
            &["TRUSTED_PROXIES", "\"10.0.0.1/8\"", "10.0.0.0/8"],
        ),
        (
            "[server]\nTRUST_PROXY_HEADERS = true\n",
            &[],
            &["TRUST_PROXY_HEADERS was replaced by TRUSTED_PROXIES"],
        ),
        (
            "[server]\nCORS_ALLOWED_ORIGINS = \"https://app.example.com\"\n",
            &[],
            &["CORS_ALLOWED_ORIGINS must be an array of strings"],
        ),
    ];
    for (server_table, vars, says) in cases {
        let env = Env::with_config(&format!("{FAST}{server_table}"));
        let mut cmd = env.command(&["serve", "--bind", "127.0.0.1:0"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = run_command(cmd, None);
        let err = failure_line(&out, &["serve"]);
        for s in says {
            assert!(err.contains(s), "{s} in {err}");
        }
        assert!(!env.db.exists(), "refused before the database was created");
    }
}
