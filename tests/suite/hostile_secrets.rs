//! Issue 7, client side and secrets: the client against servers that answer
//! garbage, answer slowly, or are gone; the session manager keeps its token
//! through an outage and never lets a token into its timeline, state or
//! debug output. (The server's own logs and file modes are checked against
//! the real binary in crates/warden-cli/tests/cli/crash.rs.)
#![cfg(test)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use warden_client::{Client, ClientConfig, Phase, Vault};
use warden_tests::PASSWORD;
use warden_tests::client::{LiveServer, memory_manager, short_lived};

/// A server on 127.0.0.1 that answers every connection the same hostile way.
struct Hostile {
    base: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn hostile(answer: &'static [u8], hang: bool) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while !flag.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
                    let mut buf = [0u8; 8192];
                    let _ = s.read(&mut buf);
                    if hang {
                        held.push(s); // never answer, never close
                    } else {
                        let _ = s.write_all(answer);
                        let _ = s.flush();
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Hostile { base, stop }
}

const MODES: &[(&str, &[u8], bool)] = &[
    ("binary garbage", b"\x00\xff\xfe\x13\x37 not http at all\r\n\r\n", false),
    ("HTML 500", b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\ncontent-length: 21\r\nconnection: close\r\n\r\n<h1>oops</h1>........", false),
    ("200 not JSON", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot json!", false),
    ("200 wrong shape", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{\"access\": 12345}", false),
    ("200 truncated", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{\"access\":\"eyJ", false),
    ("401 garbage body", b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 3\r\nconnection: close\r\n\r\n\xff\xfe\xfd", false),
    ("closes at once", b"", false),
    ("never answers", b"", true),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_gives_clear_errors_for_garbage_slow_and_dead_servers() {
    let mut lines = Vec::new();
    for (name, answer, hang) in MODES {
        let h = hostile(answer, *hang);
        let mut config = ClientConfig::new(h.base.clone());
        config.timeout = Duration::from_secs(2);
        config.connect_timeout = Duration::from_secs(2);
        let client = Client::new(config).unwrap();
        let t = Instant::now();
        let login = client.obtain_pair("alice", PASSWORD).await;
        let refresh = client.refresh("eyJ.fake.refresh").await;
        let took = t.elapsed();
        let (Err(e1), Err(e2)) = (&login, &refresh) else {
            panic!("{name}: a hostile server's answer was accepted: {login:?} {refresh:?}");
        };
        assert!(!e1.to_string().is_empty() && !e2.to_string().is_empty());
        assert!(took < Duration::from_secs(20), "{name}: took {took:?}");
        // Nothing the client records carries the password.
        let timeline = serde_json::to_string(&client.timeline()).unwrap();
        assert!(
            !timeline.contains(PASSWORD),
            "{name}: password in the timeline"
        );
        lines.push(format!("{name}: {e1}"));
    }
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(ClientConfig::new(format!("http://127.0.0.1:{port}/"))).unwrap();
    let e = client.obtain_pair("alice", PASSWORD).await.unwrap_err();
    lines.push(format!("unreachable: {e}"));
    println!("client vs hostile servers:\n  {}", lines.join("\n  "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_keeps_its_token_through_an_outage_and_never_shows_it() {
    let mut server = LiveServer::start(short_lived(300, 600)).unwrap();
    let (m, vault) = memory_manager(&server.base_url()).unwrap();
    m.login("alice", PASSWORD).await.unwrap();
    let first = vault.load(m.server_key(), "alice").unwrap().unwrap();
    let mut seen = vec![first.clone()];
    // Server gone: the rotation fails, the session and its token are kept.
    server.stop_http().unwrap();
    let e = m.rotate_now().await.unwrap_err();
    let state = m.state();
    assert!(
        !matches!(state.phase, Phase::SignedOut { .. }),
        "an outage signed the user out: {state:?} ({e})"
    );
    assert_eq!(
        vault.load(m.server_key(), "alice").unwrap().as_deref(),
        Some(first.as_str())
    );
    // Back: rotation works and the vault holds the successor.
    server.start_http().unwrap();
    m.rotate_now().await.unwrap();
    let second = vault.load(m.server_key(), "alice").unwrap().unwrap();
    assert_ne!(second, first);
    seen.push(second.clone());
    let access = m.access_token().await.unwrap();
    seen.push(access.clone());
    m.me().await.unwrap();
    // No token (nor its signature) in the timeline, the state or debug output.
    let exported = format!(
        "{}\n{}\n{:?}\n{:?}",
        serde_json::to_string(&m.timeline()).unwrap(),
        serde_json::to_string(&m.state()).unwrap(),
        m.state(),
        m
    );
    for t in &seen {
        let sig = t.rsplit('.').next().unwrap();
        assert!(!exported.contains(t.as_str()), "a token in the export");
        assert!(!exported.contains(sig), "a token signature in the export");
    }
    assert!(!exported.contains(PASSWORD));
    m.logout().await.unwrap();
    assert_eq!(vault.load(m.server_key(), "alice").unwrap(), None);
    println!(
        "outage: rotation refused while down ({e}), token kept; rotated after restart; {} exported bytes, no token",
        exported.len()
    );
}
