//! The router without a socket: body and header parsing, error mapping, and
//! the route table against the OpenAPI document.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Method, Request, StatusCode, header};
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use warden_auth::model::*;
use warden_auth::{
    AuthService, Clock, Jti, KeyMaterial, KeyRing, ManualClock, NewAccount, SessionId, Settings,
    Store, StoreError, StoreResult, UnixTime, UserId,
};
use warden_store::SqliteStore;

use crate::{AppState, ServerConfig, router};

const SECRET: &str = "warden-server-unit-test-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";
const T0: i64 = 1_800_000_000;

fn settings() -> Settings {
    Settings {
        SIGNING_KEY: Some(SECRET.into()),
        // Cheap hashing: these tests are about HTTP, not argon2.
        ARGON2_MEMORY_KIB: 64,
        ARGON2_ITERATIONS: 1,
        ..Settings::default()
    }
}

fn service_over(store: Arc<dyn Store>, settings: Settings) -> Arc<AuthService> {
    service_with_clock(store, settings, ManualClock::new(T0))
}

fn service_with_clock(
    store: Arc<dyn Store>,
    settings: Settings,
    clock: ManualClock,
) -> Arc<AuthService> {
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let key = KeyMaterial::from_settings(&settings, T0).unwrap().unwrap();
    Arc::new(AuthService::new(settings, store, clock, KeyRing::new(key).unwrap()).unwrap())
}

fn state_with(config: ServerConfig) -> AppState {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    AppState::new(service_over(store, settings()), config)
}

fn state() -> AppState {
    state_with(ServerConfig {
        allow_registration: true,
        ..ServerConfig::default()
    })
}

fn add_user(state: &AppState, username: &str, staff: bool) -> User {
    state
        .service
        .create_user(
            &NewAccount {
                username: username.into(),
                email: None,
                password: PASSWORD.into(),
                is_staff: staff,
                email_verified: true,
            },
            None,
        )
        .unwrap()
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

async fn send(state: &AppState, request: Request<Body>) -> Reply {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// A request as a local client sends it: the router without a socket allows
/// the loopback names on any port.
fn req(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost")
}

fn json_post(path: &str, body: Value) -> Request<Body> {
    req(Method::POST, path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn raw_post(path: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut b = req(Method::POST, path);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn get(path: &str, bearer: Option<&str>) -> Request<Body> {
    let mut b = req(Method::GET, path);
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

async fn login(state: &AppState, username: &str) -> (String, String) {
    let r = send(
        state,
        json_post(
            "/api/token/",
            json!({"username": username, "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["access"].as_str().unwrap().to_string(),
        r.body["refresh"].as_str().unwrap().to_string(),
    )
}

// ---------------------------------------------------------------------------
// Framing: 404, 405, 415, 400, 413, 431, request ids

#[tokio::test]
async fn unknown_paths_are_drf_404s() {
    let s = state();
    for path in ["/nope", "/api/token", "/api/", "/api/sessions/x/y/"] {
        let r = send(&s, get(path, None)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, json!({"detail": "Not found."}), "{path}");
    }
}

#[tokio::test]
async fn wrong_methods_are_drf_405s_with_allow() {
    let s = state();
    let r = send(&s, get("/api/token/", None)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.headers[header::ALLOW], "POST");
    let r = send(
        &s,
        req(Method::PUT, "/api/hello/").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method \"PUT\" not allowed."}));
    assert!(r.headers[header::ALLOW].to_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn other_media_types_are_415() {
    let s = state();
    let r = send(
        &s,
        raw_post("/api/token/", Some("text/plain"), "username=a"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
    let r = send(&s, raw_post("/api/token/", None, "{}")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"\" in request."})
    );
}

#[tokio::test]
async fn bad_json_and_non_objects_are_400() {
    let s = state();
    let r = send(
        &s,
        raw_post("/api/token/", Some("application/json"), "{\"username\":"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("JSON parse error - "), "{detail}");
    let r = send(&s, json_post("/api/token/", json!(["a"]))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    );
}

#[tokio::test]
async fn field_errors_are_collected_in_declaration_order() {
    let s = state();
    let r = send(
        &s,
        json_post("/api/token/", json!({"password": " ", "username": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text,
        r#"{"username":["Not a valid string."],"password":["This field may not be blank."]}"#
    );
    let r = send(&s, raw_post("/api/token/", None, "")).await;
    assert_eq!(
        r.body,
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let s = state();
    let big = "x".repeat(20 * 1024);
    let r = send(&s, raw_post("/api/token/", Some("application/json"), &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.body,
        json!({"detail": "Request body is larger than 16384 bytes."})
    );
    // No Content-Length: the limit is enforced while reading.
    let chunks = (0..20).map(|_| Bytes::from("y".repeat(1024))).collect();
    let r = send(
        &s,
        req(Method::POST, "/api/token/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::new(Chunks(chunks)))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// A body of unknown length, sent chunk by chunk.
struct Chunks(Vec<Bytes>);

impl HttpBody for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop().map(|b| Ok(Frame::data(b))))
    }
}

#[tokio::test]
async fn headers_over_the_limit_are_431() {
    let s = state();
    let r = send(
        &s,
        req(Method::GET, "/api/hello/")
            .header("x-filler", "f".repeat(9 * 1024))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert!(r.body["detail"].as_str().unwrap().contains("8192"));
    assert!(r.headers.contains_key("x-request-id"));
}

// ---------------------------------------------------------------------------
// Before routing: Host (400), Origin (403), then sizes; CORS answers

fn with_origins(origins: &[&str]) -> AppState {
    state_with(ServerConfig {
        allow_registration: true,
        cors_allowed_origins: crate::AllowedOrigin::parse_list(origins).unwrap(),
        ..ServerConfig::default()
    })
}

fn login_failures(state: &AppState) -> usize {
    state
        .service
        .store()
        .audit(&AuditQuery {
            kinds: vec![AuditKind::LoginFailed, AuditKind::LoginSucceeded],
            limit: 100,
            ..AuditQuery::default()
        })
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_missing_duplicated_or_foreign_host_is_400_before_any_work() {
    let s = state();
    add_user(&s, "alice", false);
    let login_body = json!({"username": "alice", "password": PASSWORD}).to_string();
    let post = |host: Option<&str>, uri: &str| {
        let mut b = Request::builder().method(Method::POST).uri(uri);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        b.header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(login_body.clone()))
            .unwrap()
    };
    for (host, uri) in [
        (None, "/api/token/"),
        (Some("evil.example"), "/api/token/"),
        (Some("evil.example:80"), "/api/token/"),
        (Some("localhost.evil.example"), "/api/token/"),
        (Some(""), "/api/token/"),
        (Some("local host"), "/api/token/"),
        // An absolute-form URI names the host too; it is checked as well.
        (Some("localhost"), "http://evil.example/api/token/"),
        (None, "http://evil.example/api/token/"),
        (Some("localhost"), "http://user@localhost/api/token/"),
    ] {
        let r = send(&s, post(host, uri)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{host:?} {uri}");
        assert_eq!(
            r.body,
            json!({"detail": "Invalid Host header.", "code": "disallowed_host"}),
            "{host:?} {uri}"
        );
        assert!(r.headers.contains_key("x-request-id"));
    }
    let mut two = post(Some("localhost"), "/api/token/");
    two.headers_mut()
        .append(header::HOST, "127.0.0.1".parse().unwrap());
    assert_eq!(send(&s, two).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(login_failures(&s), 0, "no login was attempted");
    // Allowed: the loopback names, and an absolute URI naming one of them.
    for (host, uri) in [
        (Some("localhost"), "/api/token/"),
        (Some("127.0.0.1:9"), "/api/token/"),
        (Some("[::1]:8000"), "/api/token/"),
        (None, "http://localhost:8000/api/token/"),
    ] {
        let r = send(&s, post(host, uri)).await;
        assert_eq!(r.status, StatusCode::OK, "{host:?} {uri}: {}", r.text);
    }
    // A foreign Host is refused before a foreign Origin or an oversized body.
    let r = send(
        &s,
        req(Method::POST, "/api/token/")
            .header(header::HOST, "evil.example")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_LENGTH, "999999")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_foreign_origin_is_403_before_the_body_is_read() {
    let s = with_origins(&["https://app.example.com"]);
    add_user(&s, "alice", false);
    let form = |origin: &str, extra: Option<(&str, &str)>| {
        let mut b = req(Method::POST, "/api/token/")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        b.body(Body::from(format!("username=alice&password={PASSWORD}")))
            .unwrap()
    };
    for origin in [
        "https://evil.example",
        "null",
        "",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "https://app.example.com/",
    ] {
        let r = send(&s, form(origin, None)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin:?}");
        assert_eq!(
            r.body,
            json!({"detail": "Cross-origin request refused.", "code": "origin_not_allowed"})
        );
        assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    }
    // Origin before the size guard: the declared length is never looked at.
    let r = send(
        &s,
        form(
            "https://evil.example",
            Some(("x-filler", &"f".repeat(9 * 1024))),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A browser's cross-site request without Origin.
    let r = send(
        &s,
        req(Method::GET, "/api/me/")
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(login_failures(&s), 0, "no login was attempted");
    // The allowed origin is served, with its CORS headers.
    let r = send(&s, form("https://app.example.com", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(r.headers[header::VARY], "Origin");
    assert!(
        !r.headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
    );
    // Same-site and same-origin fetches without Origin are not refused.
    for site in ["same-origin", "same-site", "none"] {
        let r = send(
            &s,
            req(Method::GET, "/api/hello/")
                .header("sec-fetch-site", site)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{site}");
        assert_eq!(r.headers[header::VARY], "Origin", "origins are configured");
    }
}

#[tokio::test]
async fn preflights_are_answered_for_allowed_origins_only() {
    let s = with_origins(&["https://app.example.com", "http://localhost:3000"]);
    let preflight = |origin: &str| {
        req(Method::OPTIONS, "/api/token/")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type, authorization",
            )
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&s, preflight("http://localhost:3000")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, "");
    let h = |name: header::HeaderName| r.headers[name].to_str().unwrap().to_string();
    assert_eq!(
        h(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "http://localhost:3000"
    );
    assert_eq!(
        h(header::ACCESS_CONTROL_ALLOW_METHODS),
        "DELETE, GET, OPTIONS, PATCH, POST, PUT"
    );
    let allowed = h(header::ACCESS_CONTROL_ALLOW_HEADERS);
    for name in [
        "accept",
        "authorization",
        "content-type",
        "user-agent",
        "x-csrftoken",
        "x-requested-with",
        "x-request-id",
        "x-warden-device",
    ] {
        assert!(
            allowed.split(", ").any(|a| a == name),
            "{name} in {allowed}"
        );
    }
    assert_eq!(h(header::ACCESS_CONTROL_MAX_AGE), "86400");
    assert_eq!(h(header::VARY), "Origin");
    assert!(
        !r.headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
    );
    // Answered before routing: even a path that does not exist.
    let mut unknown = preflight("https://app.example.com");
    *unknown.uri_mut() = "/nope/".parse().unwrap();
    assert_eq!(send(&s, unknown).await.status, StatusCode::OK);
    // A foreign origin's preflight: 403, no CORS headers.
    let r = send(&s, preflight("https://evil.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for name in [
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::ACCESS_CONTROL_MAX_AGE,
    ] {
        assert!(!r.headers.contains_key(&name), "{name}");
    }
    // OPTIONS without Access-Control-Request-Method is no preflight: routed.
    let r = send(
        &s,
        req(Method::OPTIONS, "/api/token/")
            .header(header::ORIGIN, "https://app.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    // Without CORS_ALLOWED_ORIGINS every origin is foreign, preflights too.
    let closed = state();
    assert_eq!(
        send(&closed, preflight("http://localhost:3000"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = send(&closed, get("/api/hello/", None)).await;
    assert!(!r.headers.contains_key(header::VARY), "nothing varies");
}

#[tokio::test]
async fn an_allowed_origin_can_read_refusals_too() {
    let s = with_origins(&["https://app.example.com"]);
    let r = send(
        &s,
        req(Method::GET, "/api/me/")
            .header(header::ORIGIN, "https://app.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let r = send(
        &s,
        req(Method::GET, "/api/hello/")
            .header(header::ORIGIN, "https://app.example.com")
            .header("x-filler", "f".repeat(9 * 1024))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn the_session_records_the_client_behind_trusted_proxies_only() {
    use axum::extract::ConnectInfo;
    let peer: std::net::SocketAddr = "10.1.2.3:5555".parse().unwrap();
    let login_from = |s: &AppState, forwarded: &str| {
        let s = s.clone();
        let forwarded = forwarded.to_string();
        async move {
            let mut request = json_post(
                "/api/token/",
                json!({"username": "alice", "password": PASSWORD}),
            );
            request.extensions_mut().insert(ConnectInfo(peer));
            request
                .headers_mut()
                .insert("x-forwarded-for", forwarded.parse().unwrap());
            let r = send(&s, request).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let access = r.body["access"].as_str().unwrap().to_string();
            let ctx = s.service.authenticate(&access).unwrap();
            s.service
                .store()
                .session(ctx.session_id)
                .unwrap()
                .unwrap()
                .client
                .address
                .unwrap()
        }
    };
    let untrusted = state();
    add_user(&untrusted, "alice", false);
    assert_eq!(login_from(&untrusted, "203.0.113.7").await, "10.1.2.3");
    let trusted = state_with(ServerConfig {
        trusted_proxies: crate::TrustedProxies::parse(&["10.0.0.0/8"]).unwrap(),
        ..ServerConfig::default()
    });
    add_user(&trusted, "alice", false);
    assert_eq!(
        login_from(&trusted, "1.2.3.4, 203.0.113.7, 10.9.9.9").await,
        "203.0.113.7"
    );
    assert_eq!(login_from(&trusted, "garbage").await, "10.1.2.3");
}

#[tokio::test]
async fn serve_refuses_a_non_loopback_listener_without_allowed_hosts() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = crate::serve(listener, state(), async {}).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("ALLOWED_HOSTS"), "{err}");
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let listed = state_with(ServerConfig {
        allowed_hosts: crate::AllowedHosts::parse(&["warden.example.com"]).unwrap(),
        ..ServerConfig::default()
    });
    // Served (and stopped at once by the finished shutdown future).
    crate::serve(listener, listed, async {}).await.unwrap();
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let s = state();
    let r = send(&s, get("/api/hello/", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"hello": "world"}));
    assert_eq!(r.headers["x-request-id"].len(), 32);
    let r = send(
        &s,
        req(Method::GET, "/nope")
            .header("x-request-id", "trace-42")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.headers["x-request-id"], "trace-42");
}

// ---------------------------------------------------------------------------
// Authorization header

#[tokio::test]
async fn authorization_header_variants() {
    let s = state();
    let not_provided = json!({"detail": "Authentication credentials were not provided."});
    let bad = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header"
    });
    let cases: Vec<(Option<&str>, Value)> = vec![
        (None, not_provided.clone()),
        (Some(""), not_provided.clone()),
        (Some("Basic dXNlcjpwYXNz"), not_provided.clone()),
        (Some("bearer abc"), not_provided.clone()),
        (Some("Bearer"), bad.clone()),
        (Some("Bearer a b"), bad.clone()),
        (Some("JWT"), bad),
    ];
    for (h, expected) in cases {
        let mut b = req(Method::GET, "/api/me/");
        if let Some(h) = h {
            b = b.header(header::AUTHORIZATION, h);
        }
        let r = send(&s, b.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{h:?}");
        assert_eq!(r.body, expected, "{h:?}");
        assert_eq!(
            r.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"api\"",
            "{h:?}"
        );
    }
    let r = send(&s, get("/api/me/", Some("not.a.token"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body,
        json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid"}],
            "reason": "malformed",
        })
    );
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test]
async fn whoami_answers_from_the_token_and_refuses_a_revoked_session() {
    let s = state();
    let alice = add_user(&s, "alice", false);
    let (access, refresh) = login(&s, "alice").await;
    let r = send(&s, get("/api/whoami/", Some(&access))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["user_id"], alice.id);
    let sid = r.body["session_id"].as_str().unwrap().to_string();
    let me = send(&s, get("/api/me/", Some(&access))).await;
    assert_eq!(me.body["session_id"], sid.as_str());
    let r = send(&s, get("/api/whoami/", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(&s, get("/api/whoami/", Some(&refresh))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["messages"][0]["message"], "Token has wrong type");
    // Logging out the session revokes its access token at once: the revocation set is checked.
    let r = send(
        &s,
        json_post("/api/token/blacklist/", json!({"refresh": refresh})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(&s, get("/api/whoami/", Some(&access))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["code"], "token_not_valid");
}

#[tokio::test]
async fn a_refresh_token_is_not_a_bearer_token() {
    let s = state();
    add_user(&s, "alice", false);
    let (access, refresh) = login(&s, "alice").await;
    let r = send(&s, get("/api/me/", Some(&refresh))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["messages"][0]["message"], "Token has wrong type");
    let r = send(&s, get("/api/me/", Some(&access))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["username"], "alice");
    let r = send(
        &s,
        req(Method::GET, "/api/me/")
            .header(header::AUTHORIZATION, format!("JWT {access}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// Routes over the real engine

#[tokio::test]
async fn login_accepts_json_and_form_and_refuses_alike() {
    let s = state();
    add_user(&s, "alice", false);
    login(&s, "alice").await;
    let r = send(
        &s,
        raw_post(
            "/api/token/",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            "username=alice&password=correct+horse+battery&device_label=%20laptop%20",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let refused = json!({"detail": "No active account found with the given credentials"});
    for (u, p) in [("alice", "wrong password"), ("nobody", PASSWORD)] {
        let r = send(
            &s,
            json_post("/api/token/", json!({"username": u, "password": p})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, refused);
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let r = send(&s, get("/api/sessions/", Some(&login(&s, "alice").await.0))).await;
    let labels: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["device_label"])
        .collect();
    assert!(labels.contains(&&json!("laptop")), "{labels:?}");
}

#[tokio::test]
async fn lockout_is_429_with_retry_after() {
    let s = state();
    add_user(&s, "alice", false);
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            send(
                &s,
                json_post(
                    "/api/token/",
                    json!({"username": "alice", "password": "nope nope"}),
                ),
            )
            .await,
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "900");
    assert_eq!(
        r.body,
        json!({
            "detail": "Too many failed login attempts. Try again in 15 minutes.",
            "code": "locked_out",
            "retry_after": 900,
        })
    );
}

#[tokio::test]
async fn registration_follows_the_config() {
    let closed = state_with(ServerConfig::default());
    let r = send(
        &closed,
        json_post(
            "/api/register/",
            json!({"username": "bob", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": "Registration is closed."}));

    let s = state();
    let r = send(
        &s,
        json_post(
            "/api/register/",
            json!({"username": "bob", "password": PASSWORD, "email": "bob@example.com"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["email"], "bob@example.com");
    let r = send(
        &s,
        json_post(
            "/api/register/",
            json!({"username": "BOB", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"username": ["A user with that username already exists."]})
    );
    let r = send(
        &s,
        json_post(
            "/api/register/",
            json!({"username": "carol", "password": "short"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["password"][0]
            .as_str()
            .unwrap()
            .contains("too short")
    );
}

#[tokio::test]
async fn capabilities_name_the_features() {
    let s = state();
    let r = send(&s, get("/api/capabilities/", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["server"], "warden");
    let features: Vec<&str> = r.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "logout",
        "logout_all",
        "sessions",
        "register",
        "revoke",
        "introspect",
        "jwks",
        "staff",
        "audit",
        "reuse_detection",
    ] {
        assert!(features.contains(&f), "{f}");
    }
    assert_eq!(r.body["access_token_lifetime"], 6 * 3600);
    let closed = state_with(ServerConfig::default());
    let r = send(&closed, get("/api/capabilities/", None)).await;
    assert!(
        !r.body["features"]
            .as_array()
            .unwrap()
            .contains(&json!("register"))
    );
}

#[tokio::test]
async fn non_numeric_and_non_hex_ids_are_404_for_staff_and_403_for_others() {
    let s = state();
    add_user(&s, "root", true);
    add_user(&s, "alice", false);
    let (staff, _) = login(&s, "root").await;
    let (user, _) = login(&s, "alice").await;
    for path in [
        "/api/staff/users/abc/",
        "/api/staff/users/-1/",
        "/api/staff/sessions/xyz/",
    ] {
        assert_eq!(
            send(&s, get(path, Some(&staff))).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            send(&s, get(path, Some(&user))).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = send(
        &s,
        req(Method::DELETE, "/api/sessions/not-hex/")
            .header(header::AUTHORIZATION, format!("Bearer {user}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
}

// ---------------------------------------------------------------------------
// Store failures: 503 for read-only/unavailable, 500 otherwise, never details

#[derive(Debug)]
struct FailingStore(fn() -> StoreError);

impl FailingStore {
    fn fail<T>(&self) -> StoreResult<T> {
        Err((self.0)())
    }
}

impl Store for FailingStore {
    fn create_user(&self, _: &NewUser, _: UnixTime, _: &[AuditEvent]) -> StoreResult<User> {
        self.fail()
    }
    fn create_owner_or_user(
        &self,
        _: &NewUser,
        _: UnixTime,
        _: &[AuditEvent],
        _: &[AuditEvent],
    ) -> StoreResult<User> {
        self.fail()
    }
    fn user(&self, _: UserId) -> StoreResult<Option<User>> {
        self.fail()
    }
    fn user_by_username(&self, _: &str) -> StoreResult<Option<User>> {
        self.fail()
    }
    fn user_by_email(&self, _: &str) -> StoreResult<Option<User>> {
        self.fail()
    }
    fn search_users(&self, _: &UserQuery) -> StoreResult<Vec<User>> {
        self.fail()
    }
    fn update_user(
        &self,
        _: UserId,
        _: &UserUpdate,
        _: Option<&RevokeRequest>,
        _: &[AuditEvent],
    ) -> StoreResult<Option<(User, Vec<RevokedSession>)>> {
        self.fail()
    }
    fn delete_user(&self, _: UserId, _: UnixTime, _: &[AuditEvent]) -> StoreResult<bool> {
        self.fail()
    }
    fn throttles(&self, _: &[String]) -> StoreResult<Vec<ThrottleState>> {
        self.fail()
    }
    fn throttles_of_user(&self, _: UserId) -> StoreResult<Vec<ThrottleState>> {
        self.fail()
    }
    fn apply_throttle(&self, _: &ThrottleRequest) -> StoreResult<ThrottleVerdict> {
        self.fail()
    }
    fn clear_throttles_of_user(&self, _: UserId) -> StoreResult<u64> {
        self.fail()
    }
    fn open_session(&self, _: &NewSession) -> StoreResult<()> {
        self.fail()
    }
    fn session(&self, _: SessionId) -> StoreResult<Option<Session>> {
        self.fail()
    }
    fn sessions_of_user(&self, _: UserId, _: bool) -> StoreResult<Vec<Session>> {
        self.fail()
    }
    fn outstanding(&self, _: SessionId, _: Jti) -> StoreResult<Option<OutstandingToken>> {
        self.fail()
    }
    fn tokens_of_session(&self, _: SessionId) -> StoreResult<Vec<OutstandingToken>> {
        self.fail()
    }
    fn rotate(&self, _: &RotationRequest) -> StoreResult<RotationOutcome> {
        self.fail()
    }
    fn extend_session(&self, _: SessionId, _: UnixTime, _: UnixTime) -> StoreResult<()> {
        self.fail()
    }
    fn revoke_sessions(&self, _: &RevokeRequest) -> StoreResult<Vec<RevokedSession>> {
        self.fail()
    }
    fn revoke_jti(&self, _: &RevokedJti, _: &[AuditEvent]) -> StoreResult<()> {
        self.fail()
    }
    fn live_revocations(&self, _: UnixTime, _: i64) -> StoreResult<LiveRevocations> {
        Ok(LiveRevocations::default())
    }
    fn append_audit(&self, _: &[AuditEvent]) -> StoreResult<()> {
        self.fail()
    }
    fn audit(&self, _: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        self.fail()
    }
    fn flush_expired(&self, _: UnixTime, _: i64) -> StoreResult<FlushReport> {
        self.fail()
    }
}

fn failing_state(error: fn() -> StoreError) -> AppState {
    let store: Arc<dyn Store> = Arc::new(FailingStore(error));
    AppState::new(service_over(store, settings()), ServerConfig::default())
}

#[tokio::test]
async fn store_failures_are_generic_503_or_500_with_a_request_id() {
    let login_body = json!({"username": "alice", "password": PASSWORD});
    let s = failing_state(|| StoreError::ReadOnly("disk full at /secret/path".into()));
    let r = send(&s, json_post("/api/token/", login_body.clone())).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["detail"], "Service temporarily unavailable.");
    assert_eq!(
        r.body["request_id"],
        r.headers["x-request-id"].to_str().unwrap()
    );
    assert!(!r.text.contains("secret"));

    let s = failing_state(|| StoreError::Backend("SELECT * FROM secret_table".into()));
    let r = send(&s, json_post("/api/token/", login_body)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.body,
        json!({"detail": "Internal server error", "request_id": r.headers["x-request-id"].to_str().unwrap()})
    );
}

// ---------------------------------------------------------------------------
// The route table and the OpenAPI document

#[test]
fn every_documented_operation_has_a_handler_and_a_unique_id() {
    let documented = crate::api::documented_routes();
    let routed = crate::api::routed();
    assert_eq!(documented.len(), routed.len());
    assert_eq!(documented.len(), 33);
    let ids: BTreeSet<&str> = documented.iter().map(|r| r.operation_id.as_str()).collect();
    assert_eq!(ids.len(), documented.len(), "operation ids must be unique");
    let doc: Value = serde_json::from_str(&crate::api::openapi_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn the_documented_paths_are_the_contract() {
    let documented: BTreeSet<(String, String)> = crate::api::documented_routes()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/api/token/"),
        ("POST", "/api/token/refresh/"),
        ("POST", "/api/token/verify/"),
        ("POST", "/api/token/blacklist/"),
        ("POST", "/api/token/sliding/"),
        ("POST", "/api/token/sliding/refresh/"),
        ("POST", "/api/logout/"),
        ("POST", "/api/logout-all/"),
        ("GET", "/api/sessions/"),
        ("DELETE", "/api/sessions/{id}/"),
        ("POST", "/api/register/"),
        ("POST", "/api/password/change/"),
        ("GET", "/api/me/"),
        ("GET", "/api/whoami/"),
        ("GET", "/api/staff/users/"),
        ("GET", "/api/staff/users/{id}/"),
        ("GET", "/api/staff/users/{id}/sessions/"),
        ("GET", "/api/staff/sessions/{sid}/"),
        ("POST", "/api/staff/sessions/{sid}/revoke/"),
        ("POST", "/api/staff/users/{id}/logout-all/"),
        ("POST", "/api/staff/users/{id}/lock/"),
        ("POST", "/api/staff/users/{id}/unlock/"),
        ("POST", "/api/staff/users/{id}/deactivate/"),
        ("POST", "/api/staff/users/{id}/reactivate/"),
        ("POST", "/api/staff/users/{id}/password/"),
        ("POST", "/api/staff/users/{id}/staff/"),
        ("GET", "/api/staff/audit/"),
        ("POST", "/api/token/revoke/"),
        ("POST", "/api/token/introspect/"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/api/capabilities/"),
        ("GET", "/api/schema/"),
        ("GET", "/api/hello/"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(documented, expected);
}

/// Fills `{param}` segments with plausible values.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{sid}", "0123456789abcdef0123456789abcdef")
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_others_are_not() {
    let s = state();
    for route in crate::api::documented_routes() {
        let path = concrete(&route.path);
        let r = send(
            &s,
            req(route.method.clone(), &path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert!(
            r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}: {}",
            route.method,
            r.status
        );
        assert!(
            !r.status.is_server_error(),
            "{} {path}: {}",
            route.method,
            r.status
        );
        // A method the document does not list for this path is 405.
        let other = if route.method == Method::PATCH {
            Method::PUT
        } else {
            Method::PATCH
        };
        let r = send(&s, req(other.clone(), &path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{other} {path}");
        assert_eq!(
            r.body,
            json!({"detail": format!("Method \"{other}\" not allowed.")})
        );
    }
}

#[tokio::test]
async fn the_schema_route_serves_the_document() {
    let s = state();
    let r = send(&s, get("/api/schema/", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(r.body["openapi"], "3.1.0");
    assert!(r.body["paths"]["/api/token/"]["post"].is_object());
    assert!(r.body["components"]["securitySchemes"]["jwt"].is_object());
    let schemas = r.body["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("TokenPair"));
    // Every named schema is a type of this crate (no stray primitives).
    for name in schemas.keys() {
        assert!(name.chars().next().unwrap().is_ascii_uppercase(), "{name}");
    }
}

// ---------------------------------------------------------------------------
// serve() and flush_loop()

#[tokio::test]
async fn serve_answers_over_tcp_and_shuts_down_gracefully() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(listener, state(), async move {
        let _ = rx.await;
    }));
    let raw_get = |host: String| async move {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            format!("GET /api/hello/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let answer = raw_get(addr.to_string()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"hello":"world"}"#), "{answer}");
    // serve() pinned the default ALLOWED_HOSTS to the bound port.
    let answer = raw_get(format!("localhost:{}", addr.port())).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let other = addr.port().wrapping_add(1).max(1);
    let answer = raw_get(format!("localhost:{other}")).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    tx.send(()).unwrap();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
}

#[tokio::test]
async fn flush_loop_stops_on_shutdown_or_when_the_sender_goes() {
    let s = state();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let job = tokio::spawn(crate::flush_loop(
        s.service.clone(),
        std::time::Duration::from_secs(3600),
        rx,
    ));
    tx.send(true).unwrap();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), job).await;
    assert!(matches!(done, Ok(Ok(()))));

    let (tx, rx) = tokio::sync::watch::channel(false);
    let job = tokio::spawn(crate::flush_loop(
        s.service.clone(),
        std::time::Duration::from_secs(3600),
        rx,
    ));
    drop(tx);
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), job).await;
    assert!(matches!(done, Ok(Ok(()))));
}

#[tokio::test]
async fn flush_loop_flushes() {
    let clock = ManualClock::new(T0);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let s = AppState::new(
        service_with_clock(store, settings(), clock.clone()),
        ServerConfig::default(),
    );
    add_user(&s, "alice", false);
    login(&s, "alice").await;
    // Everything the login made is long expired.
    clock.advance(60 * 86_400);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let job = tokio::spawn(crate::flush_loop(
        s.service.clone(),
        std::time::Duration::from_secs(1),
        rx,
    ));
    let flushed = || {
        s.service
            .store()
            .audit(&AuditQuery {
                kinds: vec![AuditKind::Flushed],
                limit: 10,
                ..AuditQuery::default()
            })
            .unwrap()
    };
    let mut waited = 0;
    while flushed().is_empty() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    tx.send(true).unwrap();
    job.await.unwrap();
    let entries = flushed();
    assert_eq!(entries.len(), 1, "one flush removed something");
    assert!(
        entries[0].event.detail["outstanding_tokens"]
            .as_u64()
            .unwrap()
            >= 1
    );
}
