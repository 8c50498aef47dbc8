//! What the black-box CLI tests share: the binary, a scrubbed command, a
//! config and database in a temp directory, a running `warden serve` (its
//! address, its log, SIGTERM / SIGKILL), and logging in over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_warden");
pub const PASSWORD: &str = warden_tests::PASSWORD;
/// Cheap password hashing and no lockout, for tests that are not about either.
pub const FAST: &str = "ARGON2_MEMORY_KIB = 64\nARGON2_ITERATIONS = 1\nLOCKOUT_THRESHOLD = 0\n";

/// Keeps the caller's WARDEN_* settings and RUST_LOG away from `cmd` (the
/// desktop session marker stays: the keyring tests need it).
pub fn scrub(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("WARDEN_") && k != "WARDEN_TEST_DESKTOP" {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RUST_LOG");
}

/// `warden`, scrubbed.
pub fn warden() -> Command {
    let mut cmd = Command::new(BIN);
    scrub(&mut cmd);
    cmd
}

/// A new log file name in `dir`, so several servers of one test keep theirs.
pub fn log_in(dir: &Path) -> PathBuf {
    dir.join(format!(
        "serve-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

/// A running `warden serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT/`
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Spawns `cmd` (a `warden serve … --bind 127.0.0.1:0`) with stderr in
    /// `log` and waits for the line that says where it listens.
    pub fn start(mut cmd: Command, log: &Path) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining so the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("warden listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no listening line from warden serve; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        };
        assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");
        Server {
            child,
            base: format!("http://{addr}/"),
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status and how long it took (within 10 s).
    pub fn terminate(mut self) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, t0.elapsed());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "warden serve ignored SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A config file and a SQLite database in a temp directory.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub config: PathBuf,
}

impl Env {
    pub fn with_config(text: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let config = root.join("warden.toml");
        std::fs::write(&config, text).unwrap();
        Env {
            db: root.join("data").join("warden.db"),
            config,
            dir,
        }
    }

    /// HS256 with the test secret as SIGNING_KEY in the config.
    pub fn config_key() -> Env {
        Env::with_config(&format!(
            "{FAST}SIGNING_KEY = \"{}\"\n",
            warden_tests::TEST_SECRET
        ))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = warden();
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--database")
            .arg(&self.db)
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_command(self.command(args), stdin)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        succeeded(self.run(args, stdin), args)
    }

    pub fn add_user(&self, name: &str) {
        let out = self.ok(
            &["user", "add", name, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(out.contains(&format!("created user {name}")), "{out}");
    }

    pub fn serve(&self) -> Server {
        Server::start(
            self.command(&["serve", "--bind", "127.0.0.1:0"]),
            &log_in(self.dir.path()),
        )
    }
}

/// Runs `cmd` with `stdin` (or an empty one) and collects its output.
pub fn run_command(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// `warden {args}` must have succeeded; its stdout.
pub fn succeeded(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "warden {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
}

pub async fn login(http: &reqwest::Client, server_url: &str, username: &str) -> Pair {
    let r = http
        .post(format!("{server_url}api/token/"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login of {username}");
    let body: Value = r.json().await.unwrap();
    Pair {
        access: body["access"].as_str().unwrap().to_string(),
        refresh: body["refresh"].as_str().unwrap().to_string(),
    }
}

pub async fn refresh_status(http: &reqwest::Client, server_url: &str, refresh: &str) -> u16 {
    http.post(format!("{server_url}api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
