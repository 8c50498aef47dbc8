//! What the black-box CLI tests share: the binary, a scrubbed command, and a
//! running `warden serve` (its address, its log, SIGTERM / SIGKILL).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
