//! The local backend against web pages and the processes in front of it,
//! over real HTTP: a DNS-rebinding page (foreign `Host`) and a cross-site
//! form (foreign `Origin`) do nothing at all (no attempt counted, no account
//! created, no session touched); the default `ALLOWED_HOSTS` of a loopback
//! bind; CORS for an allowed origin; the client address behind
//! `TRUSTED_PROXIES`.
#![cfg(test)]

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{Value, json};
use warden_auth::Settings;
use warden_auth::model::{AuditKind, AuditQuery};
use warden_server::{AllowedHosts, AllowedOrigin, ServerConfig, TrustedProxies};
use warden_tests::hostile::{Wire, text};
use warden_tests::http::{TestServer, test_config};
use warden_tests::{PASSWORD, test_settings};

const EVIL_ORIGIN: &str = "https://evil.example";
const APP_ORIGIN: &str = "https://app.example.com";

/// An answer read off the socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
    text: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Sends exactly `head` (request line and header fields, each ending in
/// CRLF, without the blank line) and `body`, with `Content-Length` and
/// `Connection: close` added, and reads the whole answer.
fn raw(srv: &TestServer, head: &str, body: &str) -> Raw {
    let mut conn = TcpStream::connect(srv.addr).unwrap();
    let request = format!(
        "{head}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(status > 0 && status < 500, "{answer}");
    Raw {
        status,
        head: head.to_string(),
        body: serde_json::from_str(text).unwrap_or(Value::Null),
        text: text.to_string(),
    }
}

/// A request to `path` with this `Host` (none when `None`).
fn with_host(
    srv: &TestServer,
    method: &str,
    path: &str,
    host: Option<&str>,
    bearer: Option<&str>,
    json_body: Option<&Value>,
) -> Raw {
    let mut head = format!("{method} /{path} HTTP/1.1\r\n");
    if let Some(h) = host {
        head.push_str(&format!("host: {h}\r\n"));
    }
    if let Some(t) = bearer {
        head.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    let body = match json_body {
        Some(v) => {
            head.push_str("content-type: application/json\r\n");
            v.to_string()
        }
        None => String::new(),
    };
    raw(srv, &head, &body)
}

fn assert_disallowed_host(r: &Raw, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text);
    assert_eq!(
        r.body,
        json!({"detail": "Invalid Host header.", "code": "disallowed_host"}),
        "{what}"
    );
}

fn assert_foreign_origin(r: &warden_tests::hostile::Reply, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.text);
    assert_eq!(
        r.body,
        json!({"detail": "Cross-origin request refused.", "code": "origin_not_allowed"}),
        "{what}"
    );
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
    ] {
        assert!(!r.headers.contains_key(name), "{what}: {name}");
    }
}

/// Every audit entry of these kinds, newest first.
fn audit(srv: &TestServer, kinds: &[AuditKind]) -> Vec<warden_auth::model::AuditEntry> {
    srv.engine
        .service
        .store()
        .audit(&AuditQuery {
            kinds: kinds.to_vec(),
            limit: 1000,
            ..AuditQuery::default()
        })
        .unwrap()
}

const TOUCHING: [AuditKind; 6] = [
    AuditKind::LoginFailed,
    AuditKind::LoginSucceeded,
    AuditKind::LockedOut,
    AuditKind::UserCreated,
    AuditKind::LogoutAll,
    AuditKind::SessionRevoked,
];

/// alice signed in once (access, refresh, session id), and staff root.
struct Scene {
    srv: TestServer,
    w: Wire,
    access: String,
    refresh: String,
    sid: String,
    root: String,
}

fn scene(config: ServerConfig) -> Scene {
    let srv = TestServer::try_start(test_settings(), config).unwrap();
    let w = Wire::of(&srv);
    srv.engine.user("alice").unwrap();
    srv.engine.staff("root").unwrap();
    let (access, refresh) = w.login("alice").unwrap();
    let (root, _) = w.login("root").unwrap();
    let sessions = w.get("api/sessions/", Some(&access));
    assert_eq!(sessions.status, 200, "{}", sessions.text);
    let sid = text(&sessions.body[0]["id"]);
    assert_eq!(sid.len(), 32, "{}", sessions.text);
    Scene {
        srv,
        w,
        access,
        refresh,
        sid,
        root,
    }
}

impl Scene {
    /// alice's session is untouched: her access token works, a refresh rotates.
    fn assert_session_alive(&self) {
        assert!(
            self.w.access_ok(&self.access),
            "the access token still works"
        );
        let r = self.w.refresh(&self.refresh);
        assert_eq!(r.status, 200, "the refresh token still works: {}", r.text);
    }
}

#[test]
fn a_dns_rebinding_host_does_nothing() {
    let s = scene(test_config());
    let port = s.srv.addr.port();
    let evil = format!("evil.example:{port}");
    let before = audit(&s.srv, &TOUCHING).len();
    let login = json!({"username": "alice", "password": PASSWORD});
    let register = json!({"username": "mallory", "password": "a long enough password 1"});
    let session = format!("api/sessions/{}/", s.sid);
    let staff_revoke = format!("api/staff/sessions/{}/revoke/", s.sid);
    let attempts: Vec<(&str, &str, Option<&str>, Option<&Value>)> = vec![
        ("POST", "api/token/", None, Some(&login)),
        ("POST", "api/register/", None, Some(&register)),
        ("POST", "api/logout-all/", Some(&s.access), None),
        ("DELETE", &session, Some(&s.access), None),
        ("POST", &staff_revoke, Some(&s.root), None),
        ("GET", "api/me/", Some(&s.access), None),
    ];
    for (method, path, bearer, body) in &attempts {
        let r = with_host(&s.srv, method, path, Some(&evil), *bearer, *body);
        assert_disallowed_host(&r, path);
        assert!(r.header("access-control-allow-origin").is_none());
    }
    // The rebinding page's name in an absolute-form URI, the right Host beside it.
    let r = raw(
        &s.srv,
        &format!(
            "POST http://{evil}/api/token/ HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
             content-type: application/json\r\n"
        ),
        &login.to_string(),
    );
    assert_disallowed_host(&r, "absolute-form URI");

    assert_eq!(
        audit(&s.srv, &TOUCHING).len(),
        before,
        "no login attempt, account, logout or revocation was recorded"
    );
    let store = s.srv.engine.service.store();
    assert!(store.user_by_username("mallory").unwrap().is_none());
    s.assert_session_alive();

    // The same requests with the server's own Host are served, so the 400s
    // above were the Host and nothing else.
    let own = format!("127.0.0.1:{port}");
    let r = with_host(&s.srv, "POST", "api/token/", Some(&own), None, Some(&login));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = with_host(
        &s.srv,
        "POST",
        "api/register/",
        Some(&own),
        None,
        Some(&register),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(store.user_by_username("mallory").unwrap().is_some());
}

#[test]
fn a_cross_site_form_does_nothing() {
    let s = scene(test_config());
    let before = audit(&s.srv, &TOUCHING).len();
    let c = &s.w.c;
    let form = |path: &str, bearer: Option<&str>, pairs: &[(&str, &str)], origin: &str| {
        let mut b = c.post(s.w.url(path)).header("origin", origin).form(pairs);
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let r = b.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap();
        warden_tests::hostile::Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    };
    let login: &[(&str, &str)] = &[("username", "alice"), ("password", PASSWORD)];
    let register: &[(&str, &str)] = &[
        ("username", "mallory"),
        ("password", "a long enough password 1"),
    ];
    for origin in [EVIL_ORIGIN, "null", "http://127.0.0.1"] {
        assert_foreign_origin(&form("api/token/", None, login, origin), origin);
        assert_foreign_origin(&form("api/register/", None, register, origin), origin);
        assert_foreign_origin(
            &form("api/logout-all/", Some(&s.access), &[], origin),
            origin,
        );
        assert_foreign_origin(
            &form(
                &format!("api/staff/sessions/{}/revoke/", s.sid),
                Some(&s.root),
                &[("reason", "csrf")],
                origin,
            ),
            origin,
        );
        let r = c
            .delete(s.w.url(&format!("api/sessions/{}/", s.sid)))
            .header("origin", origin)
            .header("authorization", format!("Bearer {}", s.access))
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
    }
    assert_eq!(audit(&s.srv, &TOUCHING).len(), before, "nothing recorded");
    assert!(
        s.srv
            .engine
            .service
            .store()
            .user_by_username("mallory")
            .unwrap()
            .is_none()
    );
    s.assert_session_alive();
}

#[test]
fn wrong_passwords_from_a_foreign_origin_never_lock_anyone_out() {
    let settings = Settings {
        LOCKOUT_THRESHOLD: 5,
        ..test_settings()
    };
    let srv = TestServer::start(settings);
    let w = Wire::of(&srv);
    srv.engine.user("alice").unwrap();
    srv.engine.user("bob").unwrap();
    for i in 0..50 {
        let r =
            w.c.post(w.url("api/token/"))
                .header("origin", EVIL_ORIGIN)
                .form(&[("username", "alice"), ("password", &format!("guess {i}"))])
                .send()
                .unwrap();
        assert_eq!(r.status(), 403, "guess {i}");
    }
    assert!(
        audit(&srv, &[AuditKind::LoginFailed, AuditKind::LockedOut]).is_empty(),
        "no attempt was counted"
    );
    assert!(w.login("alice").is_ok(), "her right password still works");
    // The control: the same guesses without an Origin are counted and lock
    // bob out, so the 403s above are what kept alice in.
    for i in 0..5 {
        let r = w.form(
            "api/token/",
            &[("username", "bob"), ("password", &format!("guess {i}"))],
        );
        assert_eq!(r.status, 401, "guess {i}: {}", r.text);
    }
    let r = w.login("bob").unwrap_err();
    assert_eq!(r.status, 429, "{}", r.text);
}

#[test]
fn browser_requests_without_an_allowed_origin_are_refused() {
    let srv = TestServer::start(test_settings());
    let w = Wire::of(&srv);
    srv.engine.user("alice").unwrap();
    let (access, _) = w.login("alice").unwrap();
    let get = |headers: &[(&str, &str)]| {
        let mut b =
            w.c.get(w.url("api/me/"))
                .header("authorization", format!("Bearer {access}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let r = b.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap();
        warden_tests::hostile::Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
        }
    };
    for (what, headers) in [
        ("Origin: null", vec![("origin", "null")]),
        ("a foreign Origin", vec![("origin", EVIL_ORIGIN)]),
        (
            "a cross-site fetch without Origin",
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "a cross-site navigation",
            vec![
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate"),
            ],
        ),
    ] {
        assert_foreign_origin(&get(&headers), what);
    }
    // No Origin (curl, reqwest, the desktop app) and same-origin or
    // user-typed navigations are served as ever.
    for headers in [
        vec![],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
    ] {
        let r = get(&headers);
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text);
        assert!(!r.headers.contains_key("vary"), "no origins configured");
    }
}

#[test]
fn an_allowed_origin_gets_cors_answers() {
    let config = ServerConfig {
        cors_allowed_origins: AllowedOrigin::parse_list(&[APP_ORIGIN]).unwrap(),
        ..test_config()
    };
    let srv = TestServer::try_start(test_settings(), config).unwrap();
    let w = Wire::of(&srv);
    srv.engine.user("alice").unwrap();
    let preflight = |origin: &str| {
        w.c.request(reqwest::Method::OPTIONS, w.url("api/token/"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .unwrap()
    };
    let r = preflight(APP_ORIGIN);
    assert_eq!(r.status(), 200);
    let h = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(h("access-control-allow-origin"), APP_ORIGIN);
    assert_eq!(
        h("access-control-allow-methods"),
        "DELETE, GET, OPTIONS, PATCH, POST, PUT"
    );
    assert_eq!(
        h("access-control-allow-headers"),
        "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, \
         x-request-id, x-warden-device"
    );
    assert_eq!(h("access-control-max-age"), "86400");
    assert_eq!(h("vary"), "Origin");
    assert_eq!(h("content-length"), "0");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert_eq!(r.text().unwrap(), "");

    // The real request: served, readable by that origin.
    let r =
        w.c.post(w.url("api/token/"))
            .header("origin", APP_ORIGIN)
            .json(&json!({"username": "alice", "password": PASSWORD}))
            .send()
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(r.headers()["vary"], "Origin");
    let pair: Value = r.json().unwrap();
    assert!(w.access_ok(&text(&pair["access"])));

    // A foreign origin's preflight: 403 and no CORS header at all.
    let r = preflight(EVIL_ORIGIN);
    assert_eq!(r.status(), 403);
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    ] {
        assert!(r.headers().get(name).is_none(), "{name}");
    }
    // A lookalike of the allowed origin is foreign too.
    let r = preflight("https://app.example.com.evil.example");
    assert_eq!(r.status(), 403);
}

#[test]
fn the_default_allowed_hosts_are_the_loopback_names_with_the_bound_port() {
    let srv = TestServer::start(test_settings());
    let port = srv.addr.port();
    let other = if port == 65535 { port - 1 } else { port + 1 };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let r = with_host(&srv, "GET", "api/hello/", Some(&host), None, None);
        assert_eq!(r.status, 200, "{host}: {}", r.text);
    }
    for host in [
        format!("127.0.0.1:{other}"),
        format!("localhost:{other}"),
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        format!("evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        String::new(),
    ] {
        let r = with_host(&srv, "GET", "api/hello/", Some(&host), None, None);
        assert_disallowed_host(&r, &host);
    }
    let r = with_host(&srv, "GET", "api/hello/", None, None, None);
    assert_disallowed_host(&r, "HTTP/1.1 without Host");
    let r = raw(&srv, "GET /api/hello/ HTTP/1.0\r\n", "");
    assert_disallowed_host(&r, "HTTP/1.0 without Host");
    let two =
        format!("GET /api/hello/ HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nhost: evil.example\r\n");
    assert_disallowed_host(&raw(&srv, &two, ""), "two Host fields");
    // The kit's own clients (reqwest naming 127.0.0.1:PORT) get in.
    assert_eq!(Wire::of(&srv).get("api/hello/", None).status, 200);
}

#[test]
fn allowed_hosts_patterns_over_http() {
    let config = ServerConfig {
        allowed_hosts: AllowedHosts::parse(&[".example.com", "warden.test:8443"]).unwrap(),
        ..test_config()
    };
    let srv = TestServer::try_start(test_settings(), config).unwrap();
    let port = srv.addr.port();
    for host in [
        "example.com".to_string(),
        format!("api.example.com:{port}"),
        "warden.test:8443".to_string(),
    ] {
        let r = with_host(&srv, "GET", "api/hello/", Some(&host), None, None);
        assert_eq!(r.status, 200, "{host}: {}", r.text);
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "example.com.evil".to_string(),
        "warden.test".to_string(),
        "warden.test:8444".to_string(),
    ] {
        let r = with_host(&srv, "GET", "api/hello/", Some(&host), None, None);
        assert_disallowed_host(&r, &host);
    }
}

/// Logs alice in with this `X-Forwarded-For` (none when `None`) and returns
/// the address her new session and the audit's login line recorded.
fn recorded_address(srv: &TestServer, forwarded: Option<&str>) -> (String, String) {
    let w = Wire::of(srv);
    let mut b =
        w.c.post(w.url("api/token/"))
            .json(&json!({"username": "alice", "password": PASSWORD}));
    if let Some(f) = forwarded {
        b = b.header("x-forwarded-for", f);
    }
    let r = b.send().unwrap();
    assert_eq!(r.status(), 200);
    let pair: Value = r.json().unwrap();
    let sessions = w.get("api/sessions/", Some(&text(&pair["access"])));
    let list = sessions.body.as_array().unwrap();
    let me = list.iter().find(|x| x["current"] == true).unwrap();
    let logins = audit(srv, &[AuditKind::LoginSucceeded]);
    (
        text(&me["address"]),
        logins[0].event.address.clone().unwrap_or_default(),
    )
}

fn behind(proxies: &[&str]) -> TestServer {
    let config = ServerConfig {
        trusted_proxies: TrustedProxies::parse(proxies).unwrap(),
        ..test_config()
    };
    let srv = TestServer::try_start(test_settings(), config).unwrap();
    srv.engine.user("alice").unwrap();
    srv
}

fn both(address: &str) -> (String, String) {
    (address.to_string(), address.to_string())
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let srv = behind(&[]);
    assert_eq!(
        recorded_address(&srv, Some("203.0.113.7")),
        both("127.0.0.1")
    );
    let srv = behind(&["10.0.0.0/8"]);
    assert_eq!(
        recorded_address(&srv, Some("203.0.113.7")),
        both("127.0.0.1"),
        "a trusted network that does not hold the peer"
    );
}

#[test]
fn forwarded_for_from_a_trusted_proxy_names_the_rightmost_untrusted_hop() {
    let srv = behind(&["127.0.0.1"]);
    assert_eq!(
        recorded_address(&srv, Some("203.0.113.7")),
        both("203.0.113.7")
    );
    assert_eq!(
        recorded_address(&srv, Some("1.2.3.4, 203.0.113.7")),
        both("203.0.113.7"),
        "the left entry is the client's own claim"
    );
    assert_eq!(recorded_address(&srv, None), both("127.0.0.1"));
    for garbage in ["not-an-ip", "203.0.113.7, nope", "", "1.2.3.4 5.6.7.8"] {
        assert_eq!(
            recorded_address(&srv, Some(garbage)),
            both("127.0.0.1"),
            "{garbage:?}"
        );
    }
}

#[test]
fn trusted_proxies_take_networks() {
    let srv = behind(&["127.0.0.0/8", "10.0.0.0/8"]);
    assert_eq!(
        recorded_address(&srv, Some("198.51.100.2, 10.1.2.3, 127.0.0.9")),
        both("198.51.100.2")
    );
    let srv = behind(&["127.0.0.0/8"]);
    assert_eq!(
        recorded_address(&srv, Some("198.51.100.2, 10.1.2.3, 127.0.0.9")),
        both("10.1.2.3"),
        "10.1.2.3 is not trusted here"
    );
}
