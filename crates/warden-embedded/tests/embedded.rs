//! The embedded backend over real HTTP on loopback: no registration over
//! HTTP, the owner race, the offline switch that keeps its port, and a
//! server that answers only its own OS user.
//!
//! The other-user checks run a small Python program as `nobody` (through
//! `runuser`, else `setpriv`): they need root, as CI has.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden_auth::Settings;
use warden_embedded::{EmbeddedBackend, EmbeddedConfig, KeyStoreChoice};

const PASSWORD: &str = "correct horse battery 7";

async fn start(dir: &Path) -> EmbeddedBackend {
    let config = EmbeddedConfig {
        key_store: KeyStoreChoice::File,
        // Cheap hashing: these tests are about who may do what, not argon2.
        settings: Settings {
            ARGON2_MEMORY_KIB: 64,
            ARGON2_ITERATIONS: 1,
            ..Settings::default()
        },
        ..EmbeddedConfig::new(dir.join("data"))
    };
    EmbeddedBackend::start(config).await.unwrap()
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("content-type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let status = answer
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

async fn json_of(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let (status, text) = request(addr, method, path, &headers, body.as_ref())
        .await
        .unwrap();
    // Chunked bodies: the JSON is the one line that parses.
    let value = text
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (status, value)
}

async fn access_token(addr: SocketAddr, user: &str) -> String {
    let (status, pair) = json_of(
        addr,
        "POST",
        "/api/token/",
        None,
        Some(json!({"username": user, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    pair["access"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_over_http_is_closed_and_creates_nobody() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = start(tmp.path()).await;
    let addr = backend.addr();

    let (status, body) = json_of(
        addr,
        "POST",
        "/api/register/",
        None,
        Some(json!({"username": "mallory", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "Registration is closed.");
    assert!(!backend.has_users().await.unwrap(), "nobody was created");
    let (status, caps) = json_of(addr, "GET", "/api/capabilities/", None, None).await;
    assert_eq!(status, 200);
    let features = caps["features"].as_array().unwrap();
    assert!(features.contains(&json!("sessions")), "{caps}");
    assert!(!features.contains(&json!("register")), "{caps}");

    // So the first account is made in-process, and owns the server.
    let (user, owner) = backend.create_account("alice", PASSWORD).await.unwrap();
    assert!(owner && user.is_staff);
    let (status, body) = json_of(
        addr,
        "POST",
        "/api/register/",
        None,
        Some(json!({"username": "mallory", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(backend.service().user_by_username("mallory").is_err());
    backend.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_first_accounts_make_exactly_one_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = Arc::new(start(tmp.path()).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let sign_up = |name: &'static str| {
        let (backend, barrier) = (Arc::clone(&backend), Arc::clone(&barrier));
        tokio::spawn(async move {
            barrier.wait().await;
            backend.create_account(name, PASSWORD).await.unwrap()
        })
    };
    let (a, b) = (sign_up("ann"), sign_up("ben"));
    let ((ann, ann_owner), (ben, ben_owner)) = (a.await.unwrap(), b.await.unwrap());
    assert!(
        ann_owner ^ ben_owner,
        "exactly one owner: ann {ann_owner}, ben {ben_owner}"
    );
    assert_eq!(
        ann.is_staff, ann_owner,
        "the owner result is the staff flag"
    );
    assert_eq!(ben.is_staff, ben_owner);

    // Both exist; the server itself says which one is staff.
    let addr = backend.addr();
    for (name, owner) in [("ann", ann_owner), ("ben", ben_owner)] {
        let token = access_token(addr, name).await;
        let (status, me) = json_of(addr, "GET", "/api/me/", Some(&token), None).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["username"], name);
        assert_eq!(me["is_staff"], owner, "{me}");
    }
    // A later account is no one's owner.
    let (carl, owner) = backend.create_account("carl", PASSWORD).await.unwrap();
    assert!(!owner && !carl.is_staff);
    // A taken name is refused, in any case.
    let err = backend.create_account("ANN", PASSWORD).await.unwrap_err();
    assert!(
        matches!(
            err,
            warden_embedded::EmbeddedError::Account(warden_auth::AuthError::Conflict(_))
        ),
        "{err:?}"
    );
    // The audit log has the grant, for the owner only.
    let grants = |id| {
        backend
            .service()
            .store()
            .audit(&warden_auth::model::AuditQuery {
                user: Some(id),
                kinds: vec![warden_auth::model::AuditKind::StaffGranted],
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .len()
    };
    let (owner, other) = if ann_owner {
        (&ann, &ben)
    } else {
        (&ben, &ann)
    };
    assert_eq!(grants(owner.id), 1);
    assert_eq!(grants(other.id), 0);
    Arc::into_inner(backend).unwrap().shutdown().await;
}

// ---- other OS users --------------------------------------------------------

/// `runuser -u nobody --`, else `setpriv` to nobody's uid and gid.
fn as_nobody() -> Command {
    if let Some(runuser) = find_program("runuser") {
        let mut c = Command::new(runuser);
        c.args(["-u", "nobody", "--"]);
        c
    } else {
        let setpriv = find_program("setpriv").expect("neither runuser nor setpriv is installed");
        let mut c = Command::new(setpriv);
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]);
        c
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A Python that `nobody` may run (not one under root's home).
fn python() -> PathBuf {
    let system = PathBuf::from("/usr/bin/python3");
    if system.is_file() {
        system
    } else {
        find_program("python3").expect("python3 is not installed")
    }
}

/// Runs `script` with `port` as its argument, as `nobody` or as this
/// process's user; returns its output lines.
async fn run_python(nobody: bool, script: &'static str, port: u16) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        let mut cmd = if nobody {
            as_nobody()
        } else {
            Command::new(python())
        };
        if nobody {
            cmd.arg(python());
        }
        let out = cmd
            .args(["-c", script, &port.to_string()])
            .current_dir("/")
            .output()
            .expect("cannot run python3");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "python3 (nobody: {nobody}) failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().map(str::to_string).collect()
    })
    .await
    .unwrap()
}

/// Tries every way to take the port: plain, SO_REUSEADDR, SO_REUSEPORT, both;
/// 127.0.0.1 and 0.0.0.0; and IPv6's any address. One line each: "bound"
/// (and listening) or the errno.
const TAKE_PORT: &str = r#"
import socket, sys
port = int(sys.argv[1])
def attempt(family, host, reuseaddr, reuseport):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuseaddr: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host, port))
        s.listen()
        return "bound"
    except OSError as e:
        return "errno %d" % e.errno
    finally:
        s.close()
for host in ("127.0.0.1", "0.0.0.0"):
    for ra in (0, 1):
        for rp in (0, 1):
            print(host, ra, rp, attempt(socket.AF_INET, host, ra, rp))
print("::", 0, 1, attempt(socket.AF_INET6, "::", 0, 1))
"#;

const EADDRINUSE: &str = "errno 98";

fn assert_all(lines: &[String], outcome: &str, when: &str) {
    assert_eq!(lines.len(), 9, "{when}: {lines:?}");
    for line in lines {
        assert!(
            line.ends_with(outcome),
            "{when}: {line} (wanted {outcome}); all: {lines:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_refuses_connections_but_keeps_the_port_from_other_users() {
    let tmp = tempfile::tempdir().unwrap();
    let mut backend = start(tmp.path()).await;
    let addr = backend.addr();
    let port = addr.port();
    let hello = |addr| async move { request(addr, "GET", "/api/hello/", &[], None).await };
    assert_eq!(hello(addr).await.unwrap().0, 200);
    // Online: SO_REUSEPORT lets no other user join the port.
    assert_all(
        &run_python(true, TAKE_PORT, port).await,
        EADDRINUSE,
        "online",
    );

    backend.set_online(false).await.unwrap();
    assert!(!backend.is_online());
    let refused = hello(addr).await.unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    // The port is still taken: for this user's plain sockets...
    let taken = std::net::TcpListener::bind(addr).unwrap_err();
    assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    // ...and for every kind of socket of another user.
    assert_all(
        &run_python(true, TAKE_PORT, port).await,
        EADDRINUSE,
        "offline",
    );
    // Twice offline is still offline, still held.
    backend.set_online(false).await.unwrap();
    assert_all(
        &run_python(true, TAKE_PORT, port).await,
        EADDRINUSE,
        "offline again",
    );

    backend.set_online(true).await.unwrap();
    assert!(backend.is_online());
    assert_eq!(backend.addr(), addr);
    assert_eq!(
        hello(addr).await.unwrap().0,
        200,
        "served again on the same port"
    );
    assert_all(
        &run_python(true, TAKE_PORT, port).await,
        EADDRINUSE,
        "online again",
    );

    // The check can tell: once the backend is gone, nobody's SO_REUSEPORT
    // sockets bind the port. (Its plain ones may still meet this test's
    // connections in TIME_WAIT.)
    backend.shutdown().await;
    let after = run_python(true, TAKE_PORT, port).await;
    let reuseport: Vec<&String> = after
        .iter()
        .filter(|l| l.split_whitespace().nth(2) == Some("1"))
        .collect();
    assert_eq!(reuseport.len(), 5, "{after:?}");
    for line in reuseport {
        assert!(
            line.ends_with(" bound"),
            "after shutdown: {line}; all: {after:?}"
        );
    }
}

/// Connects (IPv4, and IPv4 through a dual-stack IPv6 socket), sends a
/// request and prints what came back: "answer HTTP/1.1 200 …", "closed" (EOF
/// before a byte) or "reset".
const ASK: &str = r#"
import socket, sys
port = int(sys.argv[1])
def ask(family, host):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(60)
    try:
        s.connect((host, port))
        s.sendall(b"GET /api/hello/ HTTP/1.1\r\nhost: 127.0.0.1:%d\r\nconnection: close\r\n\r\n" % port)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return ("answer " + data.decode(errors="replace").splitlines()[0]) if data else "closed"
    except ConnectionResetError:
        return "reset"
    finally:
        s.close()
print("v4", ask(socket.AF_INET, "127.0.0.1"))
print("v4-mapped", ask(socket.AF_INET6, "::ffff:127.0.0.1"))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_this_os_user_is_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = start(tmp.path()).await;
    let port = backend.addr().port();

    // The same program as this user: served, both ways.
    let mine = run_python(false, ASK, port).await;
    assert_eq!(
        mine,
        [
            "v4 answer HTTP/1.1 200 OK",
            "v4-mapped answer HTTP/1.1 200 OK"
        ]
    );

    // As nobody: closed without an HTTP status.
    let theirs = run_python(true, ASK, port).await;
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    for line in &theirs {
        assert!(
            line.ends_with(" closed") || line.ends_with(" reset"),
            "another user got an answer: {theirs:?}"
        );
    }
    // And the server still serves its own user afterwards.
    let (status, _) = request(backend.addr(), "GET", "/api/hello/", &[], None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    backend.shutdown().await;
}
