//! WIRE.md over real HTTP: every route's success shape, every error body,
//! body and header framing, every deliberate difference from SimpleJWT,
//! hostile inputs, races, and the staff routes.

// The whole module is test code (so clippy allows unwrap in its helpers too).
#![cfg(test)]

use std::collections::BTreeSet;
use std::sync::Barrier;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use warden_auth::{Actor, Secs, Settings};
use warden_server::{ServerConfig, TrustedProxies};
use warden_tests::http::{TestServer, client, decode_parts, test_config};
use warden_tests::{PASSWORD, T0, test_settings};

// ---------------------------------------------------------------------------
// Harness

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Raw(Option<&'static str>, Vec<u8>),
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

struct Api {
    srv: TestServer,
    c: Client,
}

impl Api {
    fn new() -> Api {
        Api::with(test_settings())
    }

    fn with(settings: Settings) -> Api {
        Api {
            srv: TestServer::start(settings),
            c: client(),
        }
    }

    fn with_config(settings: Settings, config: ServerConfig) -> Api {
        Api {
            srv: TestServer::try_start(settings, config).unwrap(),
            c: client(),
        }
    }

    fn send_with(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = self.c.request(method, self.srv.url(path));
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b = match body {
            Body::None => b,
            Body::Json(v) => b.json(&v),
            Body::Form(pairs) => b.form(&pairs),
            Body::Raw(ct, bytes) => {
                let b = match ct {
                    Some(ct) => b.header("content-type", ct),
                    None => b,
                };
                b.body(bytes)
            }
        };
        let r = b.send().unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status < 500, "{status} for {path}: {text}");
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    fn send(&self, method: Method, path: &str, bearer: Option<&str>, body: Body) -> Reply {
        self.send_with(method, path, bearer, body, &[])
    }

    fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, bearer, Body::Json(body))
    }

    fn form(&self, path: &str, bearer: Option<&str>, pairs: &[(&str, &str)]) -> Reply {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.send(Method::POST, path, bearer, Body::Form(pairs))
    }

    fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.send(Method::GET, path, bearer, Body::None)
    }

    fn delete(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, bearer, Body::None)
    }

    fn user(&self, name: &str) -> i64 {
        self.srv.engine.user(name).unwrap().id
    }

    fn staff(&self, name: &str) -> i64 {
        self.srv.engine.staff(name).unwrap().id
    }

    /// Logs in over HTTP: (access, refresh).
    fn login(&self, name: &str) -> (String, String) {
        let r = self.post(
            "api/token/",
            None,
            json!({"username": name, "password": PASSWORD}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        (s(&r.body["access"]), s(&r.body["refresh"]))
    }

    fn refresh(&self, refresh: &str) -> Reply {
        self.post("api/token/refresh/", None, json!({"refresh": refresh}))
    }

    /// Whether an access token still authenticates.
    fn access_ok(&self, access: &str) -> bool {
        self.get("api/me/", Some(access)).status == 200
    }

    fn sign(&self, payload: Value) -> String {
        self.srv.sign(&payload).unwrap()
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn claims(token: &str) -> Value {
    decode_parts(token).unwrap().1
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn token_error(detail: &str, reason: &str) -> Value {
    json!({"detail": detail, "code": "token_not_valid", "reason": reason})
}

fn bearer_error(message: &str, reason: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
        "reason": reason,
    })
}

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const NO_ACCOUNT: &str = "No active account found with the given credentials";
const DENIED: &str = "You do not have permission to perform this action.";
const REALM: &str = "Bearer realm=\"api\"";

fn hex32(n: u128) -> String {
    format!("{n:032x}")
}

// ---------------------------------------------------------------------------
// SimpleJWT's routes: success shapes

#[test]
fn obtain_refresh_verify_blacklist_have_simplejwt_shapes() {
    let api = Api::new();
    let alice = api.user("alice");
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), set(&["refresh", "access"]));
    let (access, refresh) = (s(&r.body["access"]), s(&r.body["refresh"]));
    let a = claims(&access);
    for claim in ["token_type", "exp", "iat", "jti", "user_id"] {
        assert!(a.get(claim).is_some(), "{claim}");
    }
    assert_eq!(a["token_type"], "access");
    assert_eq!(a["user_id"], alice.to_string());
    assert_eq!(a["iat"], T0);
    assert_eq!(a["exp"], T0 + 6 * 3600);
    assert_eq!(claims(&refresh)["token_type"], "refresh");
    assert_eq!(claims(&refresh)["exp"], T0 + 86_400);

    let r = api.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["access", "refresh"]));
    let rotated = s(&r.body["refresh"]);
    assert_ne!(rotated, refresh);
    let r = api.post("api/token/verify/", None, json!({"token": rotated}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    let r = api.post("api/token/verify/", None, json!({"token": access}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})));

    let r = api.post("api/token/blacklist/", None, json!({"refresh": rotated}));
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    let r = api.post("api/token/verify/", None, json!({"token": rotated}));
    assert_eq!(r.status, 401);
    assert_eq!(r.body, token_error("Token is blacklisted", "blacklisted"));
}

#[test]
fn refresh_without_rotation_answers_access_only() {
    let api = Api::with(Settings {
        ROTATE_REFRESH_TOKENS: false,
        ..test_settings()
    });
    api.user("alice");
    let (_, refresh) = api.login("alice");
    let r = api.refresh(&refresh);
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), set(&["access"]));
    assert_eq!(api.refresh(&refresh).status, 200);
}

#[test]
fn sliding_tokens() {
    let api = Api::new();
    api.user("alice");
    let r = api.post(
        "api/token/sliding/",
        None,
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), set(&["token"]));
    let token = s(&r.body["token"]);
    let c = claims(&token);
    assert_eq!(c["token_type"], "sliding");
    assert_eq!(c["refresh_exp"], T0 + 86_400);
    assert!(api.access_ok(&token), "a sliding token authenticates");
    api.srv.engine.clock.advance(60);
    let r = api.post("api/token/sliding/refresh/", None, json!({"token": token}));
    assert_eq!(r.status, 200, "{}", r.text);
    let c2 = claims(&s(&r.body["token"]));
    assert_eq!(c2["jti"], c["jti"]);
    assert_eq!(c2["exp"], T0 + 60 + 300);
    // A sliding token is not a refresh token, nor the reverse.
    let r = api.post("api/token/refresh/", None, json!({"refresh": token}));
    assert_eq!(r.body, token_error("Token has wrong type", "wrong_type"));
    let (_, refresh) = api.login("alice");
    let r = api.post(
        "api/token/sliding/refresh/",
        None,
        json!({"token": refresh}),
    );
    assert_eq!(r.body, token_error("Token has wrong type", "wrong_type"));
}

#[test]
fn form_bodies_work_on_every_token_route() {
    let api = Api::new();
    api.user("alice");
    let r = api.form(
        "api/token/",
        None,
        &[("username", "alice"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (access, refresh) = (s(&r.body["access"]), s(&r.body["refresh"]));
    let r = api.form("api/token/verify/", None, &[("token", &access)]);
    assert_eq!((r.status, r.body), (200, json!({})));
    let r = api.form("api/token/refresh/", None, &[("refresh", &refresh)]);
    assert_eq!(r.status, 200);
    let newest = s(&r.body["refresh"]);
    let r = api.form("api/token/blacklist/", None, &[("refresh", &newest)]);
    assert_eq!((r.status, r.body), (200, json!({})));
    let r = api.form(
        "api/token/sliding/",
        None,
        &[("username", "alice"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 200);
    let r = api.form(
        "api/token/sliding/refresh/",
        None,
        &[("token", &s(&r.body["token"]))],
    );
    assert_eq!(r.status, 200);
    // charset parameters are fine.
    let r = api.send(
        Method::POST,
        "api/token/",
        None,
        Body::Raw(
            Some("application/json; charset=utf-8"),
            json!({"username": "alice", "password": PASSWORD})
                .to_string()
                .into_bytes(),
        ),
    );
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------------------
// Error bodies

#[test]
fn token_errors_on_token_endpoints() {
    let api = Api::new();
    let alice = api.user("alice");
    let (access, refresh) = api.login("alice");
    let r = api.refresh("garbage");
    assert_eq!(r.status, 401);
    assert_eq!(r.body, token_error("Token is invalid", "malformed"));
    assert_eq!(r.header("www-authenticate"), REALM);

    let r = api.refresh(&access);
    assert_eq!(r.body, token_error("Token has wrong type", "wrong_type"));

    let now = T0;
    let no_type = api.sign(json!({
        "exp": now + 60, "iat": now, "jti": hex32(1), "user_id": alice.to_string(), "sid": hex32(2)
    }));
    let r = api.post("api/token/verify/", None, json!({"token": no_type}));
    assert_eq!(r.body, token_error("Token has no type", "no_type"));

    let no_id = api.sign(json!({
        "token_type": "refresh", "exp": now + 60, "iat": now, "user_id": alice.to_string(), "sid": hex32(2)
    }));
    let r = api.post("api/token/verify/", None, json!({"token": no_id}));
    assert_eq!(r.body, token_error("Token has no id", "no_id"));

    api.srv.engine.clock.advance(2 * 86_400);
    let r = api.refresh(&refresh);
    assert_eq!(r.status, 401);
    assert_eq!(r.body, token_error("Token is expired", "expired"));
    let r = api.get("api/me/", Some(&access));
    assert_eq!(r.body, bearer_error("Token is expired", "expired"));
}

#[test]
fn authorization_header_variants() {
    let api = Api::new();
    api.user("alice");
    let (access, refresh) = api.login("alice");
    let not_provided = json!({"detail": NOT_PROVIDED});
    let malformed = json!({
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    });
    let cases: Vec<(String, u16, Value)> = vec![
        (String::new(), 401, not_provided.clone()),
        ("Basic YWxpY2U6cHc=".into(), 401, not_provided.clone()),
        (format!("bearer {access}"), 401, not_provided.clone()),
        (format!("Token {access}"), 401, not_provided.clone()),
        ("Bearer".into(), 401, malformed.clone()),
        (format!("Bearer {access} extra"), 401, malformed.clone()),
        ("JWT a b c".into(), 401, malformed),
        (
            "Bearer not-a-token".into(),
            401,
            bearer_error("Token is invalid", "malformed"),
        ),
        (
            format!("Bearer {refresh}"),
            401,
            bearer_error("Token has wrong type", "wrong_type"),
        ),
    ];
    for (value, status, body) in cases {
        let headers: Vec<(&str, &str)> = if value.is_empty() {
            vec![]
        } else {
            vec![("authorization", value.as_str())]
        };
        let r = api.send_with(Method::GET, "api/me/", None, Body::None, &headers);
        assert_eq!(r.status, status, "{value:?}");
        assert_eq!(r.body, body, "{value:?}");
        assert_eq!(r.header("www-authenticate"), REALM, "{value:?}");
    }
    for value in [
        format!("Bearer {access}"),
        format!("JWT {access}"),
        format!("Bearer \t {access}  "),
    ] {
        let r = api.send_with(
            Method::GET,
            "api/me/",
            None,
            Body::None,
            &[("authorization", value.as_str())],
        );
        assert_eq!(r.status, 200, "{value:?}");
    }
}

#[test]
fn bad_logins_are_identical_and_lockout_is_too() {
    let api = Api::new();
    api.user("alice");
    let root = api.staff("root");
    let bob = api.user("bob");
    api.srv
        .engine
        .service
        .set_active(
            &warden_tests::staff_actor(&api.srv.engine.service, root),
            bob,
            false,
            "left",
        )
        .unwrap();
    let mut bodies = Vec::new();
    for (u, p) in [
        ("alice", "wrong password"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
    ] {
        let r = api.post("api/token/", None, json!({"username": u, "password": p}));
        assert_eq!(r.status, 401, "{u}");
        assert_eq!(r.header("www-authenticate"), REALM);
        bodies.push(r.text);
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(
        serde_json::from_str::<Value>(&bodies[0]).unwrap(),
        json!({"detail": NO_ACCOUNT})
    );

    let mut locked = Vec::new();
    for who in ["alice", "ghost"] {
        let mut last = None;
        for _ in 0..6 {
            last = Some(api.post(
                "api/token/",
                None,
                json!({"username": who, "password": "nope nope nope"}),
            ));
        }
        let r = last.unwrap();
        assert_eq!(r.status, 429, "{who}");
        assert_eq!(r.header("retry-after"), "900");
        locked.push(r.body);
    }
    assert_eq!(locked[0], locked[1]);
    assert_eq!(
        locked[0],
        json!({
            "detail": "Too many failed login attempts. Try again in 15 minutes.",
            "code": "locked_out",
            "retry_after": 900,
        })
    );
    // Even the right password is refused while locked.
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": PASSWORD}),
    );
    assert_eq!(r.status, 429);
}

#[test]
fn unverified_email_is_answered_like_a_wrong_password() {
    let api = Api::with(Settings {
        REQUIRE_VERIFIED_EMAIL: true,
        ..test_settings()
    });
    let r = api.post(
        "api/register/",
        None,
        json!({"username": "dave", "password": PASSWORD, "email": "dave@example.com"}),
    );
    assert_eq!(r.status, 201);
    // No oracle: the right and a wrong password get the same status and body.
    let right = api.post(
        "api/token/",
        None,
        json!({"username": "dave", "password": PASSWORD}),
    );
    let wrong = api.post(
        "api/token/",
        None,
        json!({"username": "dave", "password": "not the password"}),
    );
    assert_eq!((right.status, wrong.status), (401, 401));
    assert_eq!(right.text, wrong.text);
    assert_eq!(right.body, json!({"detail": NO_ACCOUNT}));
}

#[test]
fn field_errors_follow_drf_charfield_rules() {
    let api = Api::new();
    api.user("123");
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
        (
            json!({"username": "", "password": "   "}),
            json!({"username": ["This field may not be blank."], "password": ["This field may not be blank."]}),
        ),
        (
            json!({"username": null, "password": "x"}),
            json!({"username": ["This field may not be null."]}),
        ),
        (
            json!({"username": true, "password": ["x"]}),
            json!({"username": ["Not a valid string."], "password": ["Not a valid string."]}),
        ),
        (
            json!({"username": {"a": 1}, "password": "x"}),
            json!({"username": ["Not a valid string."]}),
        ),
    ];
    for (body, expected) in cases {
        let r = api.post("api/token/", None, body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body, expected, "{body}");
    }
    // Numbers are strings to a CharField.
    let r = api.post(
        "api/token/",
        None,
        json!({"username": 123, "password": PASSWORD}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // Field order is DRF's declaration order.
    let r = api.post("api/token/", None, json!({"password": null}));
    assert_eq!(
        r.text,
        r#"{"username":["This field is required."],"password":["This field may not be null."]}"#
    );
    let r = api.post("api/token/refresh/", None, json!({"refresh": "  "}));
    assert_eq!(r.body, json!({"refresh": ["This field may not be blank."]}));
    let r = api.form("api/token/verify/", None, &[]);
    assert_eq!(r.body, json!({"token": ["This field is required."]}));
}

#[test]
fn framing_errors_405_415_413_431_404() {
    let api = Api::new();
    let r = api.get("api/token/", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.body, json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.header("allow"), "POST");
    let r = api.send(Method::PUT, "api/sessions/", None, Body::None);
    assert_eq!(r.status, 405);
    assert_eq!(r.body, json!({"detail": "Method \"PUT\" not allowed."}));

    let r = api.send(
        Method::POST,
        "api/token/",
        None,
        Body::Raw(Some("text/plain"), b"username=a&password=b".to_vec()),
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );
    let r = api.send(
        Method::POST,
        "api/token/",
        None,
        Body::Raw(Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
    );
    assert_eq!(r.status, 415);
    let r = api.send(
        Method::POST,
        "api/token/",
        None,
        Body::Raw(None, b"{\"username\":\"a\"}".to_vec()),
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        r.body,
        json!({"detail": "Unsupported media type \"\" in request."})
    );

    let r = api.send(
        Method::POST,
        "api/token/",
        None,
        Body::Raw(Some("application/json"), b"{\"username\": ".to_vec()),
    );
    assert_eq!(r.status, 400);
    assert!(
        s(&r.body["detail"]).starts_with("JSON parse error - "),
        "{}",
        r.text
    );
    for (text, name) in [("[1,2]", "list"), ("\"x\"", "str"), ("42", "int")] {
        let r = api.send(
            Method::POST,
            "api/token/",
            None,
            Body::Raw(Some("application/json"), text.as_bytes().to_vec()),
        );
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body,
            json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {name}.")]})
        );
    }

    let big = json!({"username": "a".repeat(20_000), "password": "x"});
    let r = api.post("api/token/", None, big);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        json!({"detail": "Request body is larger than 16384 bytes."})
    );

    let r = api.send_with(
        Method::GET,
        "api/hello/",
        None,
        Body::None,
        &[("x-filler", &"f".repeat(16 * 1024))],
    );
    assert_eq!(r.status, 431);
    assert_eq!(
        r.body,
        json!({"detail": "Request headers are larger than 8192 bytes."})
    );

    for path in ["nope", "api/token", "api/tokens/", "api/staff/"] {
        let r = api.get(path, None);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body, json!({"detail": "Not found."}));
    }
    let r = api.get("api/hello/", None);
    assert_eq!((r.status, r.body.clone()), (200, json!({"hello": "world"})));
    assert_eq!(r.header("x-request-id").len(), 32);
}

#[test]
fn enormous_headers_are_refused_without_a_5xx() {
    let api = Api::new();
    let huge = "h".repeat(600 * 1024);
    let result = api
        .c
        .get(api.srv.url("api/hello/"))
        .header("x-huge", huge.as_str())
        .send();
    // Past hyper's own buffer the connection may be closed instead of answered.
    if let Ok(r) = result {
        assert_eq!(r.status().as_u16(), 431);
    }
    let mut b = api.c.get(api.srv.url("api/hello/"));
    for i in 0..120 {
        b = b.header(format!("x-h{i}"), "v");
    }
    if let Ok(r) = b.send() {
        assert_eq!(r.status().as_u16(), 431);
    }
    // The server is still fine.
    assert_eq!(api.get("api/hello/", None).status, 200);
}

// ---------------------------------------------------------------------------
// Where Warden differs, on purpose

#[test]
fn no_5xx_for_deleted_users_non_numeric_ids_or_missing_jti() {
    let api = Api::new();
    let alice = api.user("alice");
    let (access, refresh) = api.login("alice");
    assert!(
        api.srv
            .engine
            .service
            .delete_user(&Actor::System, alice, "")
            .unwrap()
    );
    let r = api.refresh(&refresh);
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(
        r.body["code"] == "user_not_found" || r.body["code"] == "token_not_valid",
        "{}",
        r.text
    );
    let r = api.get("api/me/", Some(&access));
    assert_eq!(r.status, 401, "{}", r.text);

    let forged = api.sign(json!({
        "token_type": "refresh", "exp": T0 + 3600, "iat": T0, "jti": hex32(7),
        "user_id": "not-a-number", "sid": hex32(8),
    }));
    let r = api.refresh(&forged);
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"detail": "User not found", "code": "user_not_found"})
    );
    let forged_access = api.sign(json!({
        "token_type": "access", "exp": T0 + 3600, "iat": T0, "jti": hex32(9),
        "user_id": "not-a-number", "sid": hex32(10),
    }));
    assert_eq!(api.get("api/me/", Some(&forged_access)).status, 401);

    let no_jti = api.sign(json!({
        "token_type": "refresh", "exp": T0 + 3600, "iat": T0, "user_id": "1", "sid": hex32(8),
    }));
    let r = api.post("api/token/blacklist/", None, json!({"refresh": no_jti}));
    assert_eq!(r.status, 401);
    assert_eq!(r.body, token_error("Token has no id", "no_id"));
    let bad_jti = api.sign(json!({
        "token_type": "refresh", "exp": T0 + 3600, "iat": T0, "jti": 12, "user_id": "1", "sid": hex32(8),
    }));
    let r = api.post("api/token/blacklist/", None, json!({"refresh": bad_jti}));
    assert_eq!(r.body, token_error("Token is invalid", "bad_id"));
}

#[test]
fn access_tokens_die_with_their_session() {
    let api = Api::new();
    api.user("alice");
    api.user("bob");
    let root = api.staff("root");
    let (root_access, _) = api.login("root");

    // logout
    let (a1, r1) = api.login("alice");
    let r = api.post("api/logout/", Some(&a1), json!({"refresh": r1}));
    assert_eq!((r.status, r.body), (200, json!({})));
    let r = api.get("api/me/", Some(&a1));
    assert_eq!(r.body, bearer_error("Token is blacklisted", "logout"));

    // blacklist
    let (a2, r2) = api.login("alice");
    assert_eq!(
        api.post("api/token/blacklist/", None, json!({"refresh": r2}))
            .status,
        200
    );
    assert_eq!(
        api.get("api/me/", Some(&a2)).body,
        bearer_error("Token is blacklisted", "blacklisted")
    );

    // logout-all
    let (a3, _) = api.login("alice");
    let (a4, r4) = api.login("alice");
    let r = api.post("api/logout-all/", Some(&a3), json!({}));
    assert_eq!((r.status, r.body), (200, json!({"revoked": 2})));
    assert!(!api.access_ok(&a3) && !api.access_ok(&a4));
    assert_eq!(api.refresh(&r4).status, 401);

    // password change: the other sessions end, this one stays
    let (a5, _) = api.login("alice");
    let (a6, r6) = api.login("alice");
    let r = api.post(
        "api/password/change/",
        Some(&a5),
        json!({"old_password": PASSWORD, "new_password": "a brand new passphrase"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 1})));
    assert!(api.access_ok(&a5));
    assert!(!api.access_ok(&a6));
    assert_eq!(
        api.refresh(&r6).body,
        token_error("Token is blacklisted", "password_changed")
    );

    // deactivation by staff
    let (b1, b_refresh) = api.login("bob");
    let bob = api.srv.engine.service.user_by_username("bob").unwrap().id;
    let r = api.post(
        &format!("api/staff/users/{bob}/deactivate/"),
        Some(&root_access),
        json!({"reason": "left the company"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 1})));
    let r = api.get("api/me/", Some(&b1));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"detail": "User is inactive", "code": "user_inactive"})
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    let r = api.post("api/token/verify/", None, json!({"token": b_refresh}));
    assert_eq!(
        r.body,
        json!({"detail": "User is inactive", "code": "user_inactive"})
    );
    let _ = root;
}

#[test]
fn reuse_revokes_the_family_and_is_audited() {
    let api = Api::new();
    api.user("alice");
    api.staff("root");
    let (_, r0) = api.login("alice");
    let r = api.refresh(&r0);
    let (a1, r1) = (s(&r.body["access"]), s(&r.body["refresh"]));
    assert!(api.access_ok(&a1));
    let r = api.refresh(&r0);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        token_error("Token is blacklisted", "reuse_detected")
    );
    // Unlike SimpleJWT, the newest token of the chain is dead too.
    assert_eq!(
        api.refresh(&r1).body,
        token_error("Token is blacklisted", "reuse_detected")
    );
    assert!(!api.access_ok(&a1));
    let r = api.post("api/token/verify/", None, json!({"token": r1}));
    assert_eq!(r.status, 401);
    assert_eq!(r.body["detail"], "Token is blacklisted");

    let (root_access, _) = api.login("root");
    let r = api.get("api/staff/audit/?kind=reuse_detected", Some(&root_access));
    assert_eq!(r.status, 200);
    let entries = r.body.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", r.text);
    assert_eq!(entries[0]["session_id"], claims(&r0)["sid"]);
}

#[test]
fn only_issued_tokens_are_accepted_and_sessions_have_a_cap() {
    let api = Api::with(Settings {
        SESSION_MAX_LIFETIME: Secs(86_400),
        ..test_settings()
    });
    let alice = api.user("alice");
    let (_, refresh) = api.login("alice");
    let sid = s(&claims(&refresh)["sid"]);
    // Validly signed, a live session's sid, but a jti Warden never issued.
    let forged = api.sign(json!({
        "token_type": "refresh", "exp": T0 + 3600, "iat": T0, "jti": hex32(99),
        "user_id": alice.to_string(), "sid": sid,
    }));
    let r = api.refresh(&forged);
    assert_eq!(r.body, token_error("Token is invalid", "not_outstanding"));
    let r = api.post("api/token/verify/", None, json!({"token": forged}));
    assert_eq!(r.body, token_error("Token is invalid", "not_outstanding"));
    // The real one still works: the forgery did not count as reuse.
    api.srv.engine.clock.advance(12 * 3600);
    let r = api.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = s(&r.body["refresh"]);
    // Rotation does not extend the session past its cap.
    assert_eq!(claims(&rotated)["exp"], T0 + 86_400);
    assert!(claims(&s(&r.body["access"]))["exp"].as_i64().unwrap() <= T0 + 86_400);
    api.srv.engine.clock.advance(12 * 3600);
    assert_eq!(api.refresh(&rotated).status, 401);
}

#[test]
fn logout_refuses_another_users_refresh_token() {
    let api = Api::new();
    api.user("alice");
    api.user("bob");
    let (alice_access, _) = api.login("alice");
    let (bob_access, bob_refresh) = api.login("bob");
    let r = api.post(
        "api/logout/",
        Some(&alice_access),
        json!({"refresh": bob_refresh}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.body, json!({"detail": DENIED}));
    assert!(api.access_ok(&bob_access));
    assert_eq!(api.refresh(&bob_refresh).status, 200);
    // Without credentials, logout is 401; with a bad refresh token, a token error.
    let r = api.post("api/logout/", None, json!({"refresh": "x"}));
    assert_eq!((r.status, r.body), (401, json!({"detail": NOT_PROVIDED})));
    let r = api.post("api/logout/", Some(&alice_access), json!({"refresh": "x"}));
    assert_eq!(r.body, token_error("Token is invalid", "malformed"));
    let r = api.post("api/logout/", Some(&alice_access), json!({}));
    assert_eq!(r.body, json!({"refresh": ["This field is required."]}));
}

// ---------------------------------------------------------------------------
// Hostile tokens

#[test]
fn hostile_tokens_are_refused() {
    let api = Api::new();
    api.user("alice");
    let (access, refresh) = api.login("alice");
    let parts: Vec<&str> = access.split('.').collect();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());

    let none_header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let alg_none_empty = format!("{none_header}.{}.", parts[1]);
    let alg_none_sig = format!("{none_header}.{}.{}", parts[1], parts[2]);
    let mut payload = claims(&access);
    payload["user_id"] = json!("2");
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    let other_key = {
        let key =
            jsonwebtoken::EncodingKey::from_secret(b"another secret of enough length 0123456789")
                .unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{input}.{sig}")
    };
    let mut header = decode_parts(&access).unwrap().0;
    header["kid"] = json!("someone-elses-key");
    let unknown_kid = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    let mut header = decode_parts(&access).unwrap().0;
    header["alg"] = json!("HS512");
    let alg_swap = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    let huge = format!("{}.{}.{}", parts[0], "A".repeat(10_000), parts[2]);

    let cases = [
        (alg_none_empty, "malformed"),
        (alg_none_sig, "algorithm_not_allowed"),
        (tampered, "bad_signature"),
        (other_key, "bad_signature"),
        (unknown_kid, "unknown_kid"),
        (alg_swap, "algorithm_mismatch"),
        (huge, "too_large"),
        ("a.b.c.d".to_string(), "malformed"),
        (format!("{access} "), "malformed"),
    ];
    for (token, reason) in &cases {
        let trailing_space = token.ends_with(' ');
        let r = api.get("api/me/", Some(token.trim_end()));
        if *reason == "too_large" {
            // A token over MAX_TOKEN_BYTES cannot fit in the default header budget.
            assert_eq!(r.status, 431);
        } else if !trailing_space {
            assert_eq!(r.body, bearer_error("Token is invalid", reason), "{reason}");
        }
        let r = api.post("api/token/verify/", None, json!({"token": token}));
        if trailing_space {
            // DRF trims CharFields: the real token with a trailing space verifies.
            assert_eq!(r.status, 200);
        } else {
            assert_eq!(r.body, token_error("Token is invalid", reason), "{reason}");
        }
        let r = api.refresh(token);
        assert_eq!(r.status, 401, "{reason}");
    }
    // Type confusion both ways.
    assert_eq!(
        api.get("api/me/", Some(&refresh)).body,
        bearer_error("Token has wrong type", "wrong_type")
    );
    assert_eq!(
        api.post("api/token/blacklist/", None, json!({"refresh": access}))
            .body,
        token_error("Token has wrong type", "wrong_type")
    );
    // A validly signed nesting bomb in the payload is refused, not a crash.
    let mut bomb = json!(1);
    for _ in 0..300 {
        bomb = json!([bomb]);
    }
    let bomb_token = api.sign(json!({
        "token_type": "access", "exp": T0 + 60, "iat": T0, "jti": hex32(1),
        "user_id": "1", "sid": hex32(2), "x": bomb,
    }));
    assert_eq!(
        api.get("api/me/", Some(&bomb_token)).body,
        bearer_error("Token is invalid", "bad_payload")
    );
}

// ---------------------------------------------------------------------------
// Races

fn race(api: &Api, refresh: &str, n: usize) -> Vec<Reply> {
    let barrier = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    api.refresh(refresh)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn parallel_refreshes_of_one_token_have_exactly_one_winner() {
    let api = Api::new();
    api.user("alice");
    let (_, refresh) = api.login("alice");
    let replies = race(&api, &refresh, 32);
    let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 401));
    for r in replies.iter().filter(|r| r.status == 401) {
        assert_eq!(r.body["detail"], "Token is blacklisted", "{}", r.text);
    }
    // The losers were replays: the whole family, the winner's tokens included, is gone.
    let newest = s(&winners[0].body["refresh"]);
    let access = s(&winners[0].body["access"]);
    assert_eq!(api.refresh(&newest).status, 401);
    assert!(!api.access_ok(&access));
}

#[test]
fn with_a_grace_period_every_parallel_caller_gets_the_same_successor() {
    let api = Api::with(Settings {
        REFRESH_GRACE_PERIOD: Secs(30),
        ..test_settings()
    });
    api.user("alice");
    let (_, refresh) = api.login("alice");
    let replies = race(&api, &refresh, 32);
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.text.clone()))
            .collect::<Vec<_>>()
    );
    let successors: BTreeSet<String> = replies.iter().map(|r| s(&r.body["refresh"])).collect();
    assert_eq!(successors.len(), 1);
    let successor = successors.into_iter().next().unwrap();
    assert!(replies.iter().all(|r| api.access_ok(&s(&r.body["access"]))));
    assert_eq!(api.refresh(&successor).status, 200);
    // Past the window a replay is reuse again.
    api.srv.engine.clock.advance(31);
    assert_eq!(api.refresh(&refresh).status, 401);
}

// ---------------------------------------------------------------------------
// Warden's own routes

#[test]
fn sessions_list_and_revoke() {
    // The test client is the proxy on 127.0.0.1; 10.0.0.1 is a second one
    // in front of it, so the client is the hop left of it.
    let cfg = ServerConfig {
        trusted_proxies: TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap(),
        ..test_config()
    };
    let api = Api::with_config(test_settings(), cfg);
    api.user("alice");
    api.user("bob");
    let r = api.send_with(
        Method::POST,
        "api/token/",
        None,
        Body::Json(json!({"username": "alice", "password": PASSWORD})),
        &[
            ("x-warden-device", "  phone  "),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
            ("user-agent", "warden-http-suite"),
        ],
    );
    let first_access = s(&r.body["access"]);
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": PASSWORD, "device_label": "laptop"}),
    );
    let (access, refresh) = (s(&r.body["access"]), s(&r.body["refresh"]));
    let r = api.get("api/sessions/", Some(&access));
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let me = list.iter().find(|x| x["current"] == true).unwrap();
    assert_eq!(me["device_label"], "laptop");
    assert_eq!(
        me["address"], "127.0.0.1",
        "no X-Forwarded-For: the peer address"
    );
    assert_eq!(me["id"], claims(&access)["sid"]);
    let phone = list.iter().find(|x| x["current"] == false).unwrap();
    assert_eq!(phone["device_label"], "phone");
    assert_eq!(phone["address"], "203.0.113.9");
    assert_eq!(phone["user_agent"], "warden-http-suite");
    for key in [
        "id",
        "user_id",
        "device_label",
        "user_agent",
        "address",
        "created_at",
        "last_rotated_at",
        "rotation_count",
        "expires_at",
        "max_expires_at",
        "revoked_at",
        "revoked_reason",
        "current",
    ] {
        assert!(me.get(key).is_some(), "{key}");
    }

    let phone_id = s(&phone["id"]);
    let r = api.delete(&format!("api/sessions/{phone_id}/"), Some(&access));
    assert_eq!((r.status, r.body), (200, json!({"revoked": true})));
    let r = api.delete(&format!("api/sessions/{phone_id}/"), Some(&access));
    assert_eq!((r.status, r.body), (200, json!({"revoked": false})));
    assert!(!api.access_ok(&first_access));
    assert_eq!(
        api.get("api/sessions/", Some(&access))
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let all = api.get("api/sessions/?include_revoked=true", Some(&access));
    assert_eq!(all.body.as_array().unwrap().len(), 2);
    let bad = api.get("api/sessions/?include_revoked=perhaps", Some(&access));
    assert_eq!(bad.status, 400);

    // Someone else's session, an unknown one, a malformed id: 404 alike.
    let (bob_access, _) = api.login("bob");
    let mine = s(&claims(&refresh)["sid"]);
    for path in [
        format!("api/sessions/{mine}/"),
        format!("api/sessions/{}/", hex32(5)),
        "api/sessions/not-hex/".to_string(),
        "api/sessions/%FF%FE/".to_string(),
    ] {
        let r = api.delete(&path, Some(&bob_access));
        assert_eq!(
            (r.status, r.body),
            (404, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    assert!(api.access_ok(&access));
    assert_eq!(api.get("api/sessions/", None).status, 401);
}

#[test]
fn forwarded_for_is_ignored_unless_trusted_and_labels_are_capped() {
    let api = Api::new();
    api.user("alice");
    let long = "d".repeat(150);
    let r = api.send_with(
        Method::POST,
        "api/token/",
        None,
        Body::Json(json!({"username": "alice", "password": PASSWORD})),
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-warden-device", long.as_str()),
        ],
    );
    let access = s(&r.body["access"]);
    let list = api.get("api/sessions/", Some(&access)).body;
    assert_eq!(list[0]["address"], "127.0.0.1");
    assert_eq!(s(&list[0]["device_label"]).len(), 100);
}

#[test]
fn register_me_and_change_password() {
    let api = Api::new();
    let r = api.post(
        "api/register/",
        None,
        json!({"username": "erin", "password": PASSWORD, "email": "erin@example.com"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(keys(&r.body), set(&["id", "username", "email"]));
    let id = r.body["id"].clone();
    let r = api.form(
        "api/register/",
        None,
        &[("username", "Erin"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"username": ["A user with that username already exists."]})
    );
    let r = api.post(
        "api/register/",
        None,
        json!({"username": "fred", "password": PASSWORD, "email": "ERIN@example.com"}),
    );
    assert_eq!(
        r.body,
        json!({"email": ["A user with that email already exists."]})
    );
    let r = api.post(
        "api/register/",
        None,
        json!({"username": "bad name", "password": PASSWORD}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.get("username").is_some());
    let r = api.post("api/register/", None, json!({}));
    assert_eq!(
        r.body,
        json!({"username": ["This field is required."], "password": ["This field is required."]})
    );

    let (access, _) = api.login("erin");
    let r = api.get("api/me/", Some(&access));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["username"], "erin");
    assert_eq!(r.body["is_staff"], false);
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["last_login"], T0);
    assert_eq!(r.body["session_id"], claims(&access)["sid"]);
    assert_eq!(
        keys(&r.body),
        set(&[
            "id",
            "username",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "last_login",
            "session_id"
        ])
    );

    let r = api.post(
        "api/password/change/",
        Some(&access),
        json!({"old_password": "wrong one", "new_password": "another long passphrase"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"old_password": ["Your old password was entered incorrectly. Please enter it again."]})
    );
    let r = api.post(
        "api/password/change/",
        Some(&access),
        json!({"old_password": PASSWORD, "new_password": "short"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.get("new_password").is_some(), "{}", r.text);
    let r = api.post(
        "api/password/change/",
        Some(&access),
        json!({"old_password": PASSWORD, "new_password": "another long passphrase"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 0})));
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "erin", "password": "another long passphrase"}),
    );
    assert_eq!(r.status, 200);

    let closed = Api::with_config(test_settings(), ServerConfig::default());
    let r = closed.post(
        "api/register/",
        None,
        json!({"username": "x", "password": PASSWORD}),
    );
    assert_eq!(
        (r.status, r.body),
        (403, json!({"detail": "Registration is closed."}))
    );
}

#[test]
fn rfc7009_revocation() {
    let api = Api::new();
    api.user("alice");
    api.user("bob");
    let (access, refresh) = api.login("alice");
    let (victim, _) = api.login("alice");
    let (bob_access, bob_refresh) = api.login("bob");

    // Another user's token: 200 {} and nothing happens.
    let r = api.form(
        "api/token/revoke/",
        Some(&access),
        &[("token", &bob_access)],
    );
    assert_eq!((r.status, r.body), (200, json!({})));
    assert!(api.access_ok(&bob_access));
    let r = api.post(
        "api/token/revoke/",
        Some(&access),
        json!({"token": bob_refresh}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(api.refresh(&bob_refresh).status, 200);

    // Invalid or unknown tokens: 200 {} too.
    for t in ["garbage", "a.b.c"] {
        let r = api.post("api/token/revoke/", Some(&access), json!({"token": t}));
        assert_eq!((r.status, r.body), (200, json!({})), "{t}");
    }
    // An access token is refused from now on; its session lives.
    let r = api.form(
        "api/token/revoke/",
        Some(&access),
        &[("token", &victim), ("token_type_hint", "access_token")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        api.get("api/me/", Some(&victim)).body,
        bearer_error("Token is blacklisted", "revoked")
    );
    assert!(api.access_ok(&access));
    // A refresh token ends its session.
    let r = api.post(
        "api/token/revoke/",
        Some(&access),
        json!({"token": refresh}),
    );
    assert_eq!(r.status, 200);
    assert!(!api.access_ok(&access));

    let (access, _) = api.login("alice");
    for body in [json!({}), json!({"token": ""}), json!({"token": 5})] {
        let r = api.post("api/token/revoke/", Some(&access), body.clone());
        assert_eq!(
            (r.status, r.body),
            (400, json!({"error": "invalid_request"})),
            "{body}"
        );
    }
    let r = api.form("api/token/revoke/", None, &[("token", &access)]);
    assert_eq!(r.status, 401);
}

#[test]
fn rfc7662_introspection() {
    let api = Api::new();
    let alice = api.user("alice");
    api.user("bob");
    api.staff("root");
    let (access, refresh) = api.login("alice");
    let (bob_access, _) = api.login("bob");
    let (root_access, _) = api.login("root");

    let r = api.form(
        "api/token/introspect/",
        Some(&access),
        &[("token", &refresh)],
    );
    assert_eq!(r.status, 200);
    let c = claims(&refresh);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["token_type"], "refresh");
    assert_eq!(r.body["exp"], c["exp"]);
    assert_eq!(r.body["iat"], c["iat"]);
    assert_eq!(r.body["jti"], c["jti"]);
    assert_eq!(r.body["sid"], c["sid"]);
    assert_eq!(r.body["sub"], alice.to_string());
    assert_eq!(r.body["user_id"], alice.to_string());
    assert_eq!(r.body["username"], "alice");

    let inactive = json!({"active": false});
    let r = api.post(
        "api/token/introspect/",
        Some(&bob_access),
        json!({"token": access}),
    );
    assert_eq!(r.body, inactive);
    let r = api.post(
        "api/token/introspect/",
        Some(&access),
        json!({"token": "garbage"}),
    );
    assert_eq!(r.body, inactive);
    let r = api.post(
        "api/token/introspect/",
        Some(&root_access),
        json!({"token": access}),
    );
    assert_eq!(r.body["active"], true);
    let r = api.post("api/token/introspect/", Some(&access), json!({}));
    assert_eq!(
        (r.status, r.body),
        (400, json!({"error": "invalid_request"}))
    );
    assert_eq!(
        api.post("api/token/introspect/", None, json!({"token": access}))
            .status,
        401
    );
    api.post("api/token/blacklist/", None, json!({"refresh": refresh}));
    let r = api.post(
        "api/token/introspect/",
        Some(&root_access),
        json!({"token": refresh}),
    );
    assert_eq!(r.body, inactive);
}

#[test]
fn jwks_capabilities_schema_and_hello() {
    let api = Api::new();
    let r = api.get(".well-known/jwks.json", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["keys"], json!([]));

    let r = api.get("api/capabilities/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["server"], "warden");
    assert_eq!(r.body["rotate_refresh_tokens"], true);
    assert_eq!(r.body["blacklist_after_rotation"], true);
    assert_eq!(r.body["access_token_lifetime"], 21_600);
    assert_eq!(r.body["refresh_token_lifetime"], 86_400);
    assert_eq!(r.body["auth_header_types"], json!(["Bearer", "JWT"]));
    let caps: warden_proto::Capabilities = serde_json::from_value(r.body.clone()).unwrap();
    for f in [
        "logout",
        "logout_all",
        "sessions",
        "register",
        "change_password",
        "staff",
        "revoke",
        "introspect",
        "jwks",
        "audit",
        "sliding",
        "reuse_detection",
    ] {
        assert!(caps.features.iter().any(|x| x == f), "{f}");
    }

    let r = api.get("api/schema/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"], "3.1.0");
    let r = api.get("api/hello/", None);
    assert_eq!(r.body, json!({"hello": "world"}));
}

#[test]
fn jwks_lists_public_keys_for_asymmetric_algorithms() {
    let settings = Settings {
        ALGORITHM: warden_auth::Algorithm::ES256,
        SIGNING_KEY: None,
        ..test_settings()
    };
    let api = Api::with(settings);
    let r = api.get(".well-known/jwks.json", None);
    let keys = r.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert!(keys[0].get("d").is_none(), "never the private key");
    api.user("alice");
    let (access, _) = api.login("alice");
    assert_eq!(decode_parts(&access).unwrap().0["kid"], keys[0]["kid"]);
    assert!(api.access_ok(&access));
}

#[test]
fn every_documented_route_is_served() {
    let api = Api::new();
    for route in warden_server::api::documented_routes() {
        let path = route.path.replace("{id}", "1").replace("{sid}", &hex32(1));
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let r = api.send(method, &path, None, Body::Json(json!({})));
        assert!(
            r.status != 404 && r.status != 405,
            "{} {path}: {}",
            route.method,
            r.status
        );
    }
}

// ---------------------------------------------------------------------------
// Staff

#[test]
fn every_staff_route_refuses_non_staff() {
    let api = Api::new();
    api.user("alice");
    let target = api.user("bob");
    let (access, refresh) = api.login("alice");
    let sid = s(&claims(&refresh)["sid"]);
    let staff_routes: Vec<_> = warden_server::api::documented_routes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/staff/"))
        .collect();
    assert_eq!(staff_routes.len(), 13);
    for route in staff_routes {
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        for path in [
            route
                .path
                .replace("{id}", &target.to_string())
                .replace("{sid}", &sid),
            route.path.replace("{id}", "x").replace("{sid}", "y"),
        ] {
            let r = api.send(
                method.clone(),
                &path,
                Some(&access),
                Body::Json(json!({"reason": "because", "password": "p", "is_staff": true})),
            );
            assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
            assert_eq!(r.body, json!({"detail": DENIED}), "{method} {path}");
            // Bodies are not even parsed for non-staff.
            let r = api.send(
                method.clone(),
                &path,
                Some(&access),
                Body::Raw(Some("text/plain"), b"x".to_vec()),
            );
            assert_eq!(r.status, 403, "{method} {path}");
            let r = api.send(method.clone(), &path, None, Body::None);
            assert_eq!(r.status, 401, "{method} {path}");
        }
    }
    // Nothing happened to the target.
    assert!(api.srv.engine.service.user(target).unwrap().is_active);
}

#[test]
fn staff_actions_work_and_land_in_the_audit_log() {
    let api = Api::new();
    let root = api.staff("root");
    let alice = api.user("alice");
    let (root_access, _) = api.login("root");
    let (alice_access, alice_refresh) = api.login("alice");
    let t = |p: &str| p.replace("{id}", &alice.to_string());

    // Search and details.
    let r = api.get("api/staff/users/?q=ali", Some(&root_access));
    assert_eq!(r.status, 200);
    let users = r.body.as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["username"], "alice");
    assert!(users[0].get("password_hash").is_none());
    let r = api.get("api/staff/users/?staff=true", Some(&root_access));
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = api.get("api/staff/users/?active=maybe&limit=x", Some(&root_access));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"active": ["Must be a valid boolean."], "limit": ["A valid integer is required."]})
    );
    api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": "bad guess"}),
    );
    let r = api.get(&t("api/staff/users/{id}/"), Some(&root_access));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], "alice");
    // alice signed in from here before: the guess counts against her pair
    // (this address) only, which also remembers her last right password.
    let throttles = r.body["throttles"].as_array().unwrap();
    let pair = throttles.iter().find(|t| t["scope"] == "pair").unwrap();
    assert_eq!(pair["failures"], 1, "{throttles:?}");
    assert_eq!(pair["address"], "127.0.0.1");
    assert!(pair["last_success_at"].is_i64(), "{pair}");
    assert!(
        throttles
            .iter()
            .all(|t| t["scope"] == "pair" || t["failures"] == 0),
        "a known address's guesses do not count against the identifier: {throttles:?}"
    );
    assert_eq!(
        api.get("api/staff/users/999999/", Some(&root_access))
            .status,
        404
    );
    assert_eq!(
        api.get("api/staff/users/999999/sessions/", Some(&root_access))
            .status,
        404
    );

    // Sessions and lineage.
    let rotated = api.refresh(&alice_refresh);
    let new_refresh = s(&rotated.body["refresh"]);
    let r = api.get(&t("api/staff/users/{id}/sessions/"), Some(&root_access));
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let sid = s(&claims(&alice_refresh)["sid"]);
    let r = api.get(&format!("api/staff/sessions/{sid}/"), Some(&root_access));
    assert_eq!(r.status, 200, "{}", r.text);
    let tokens = r.body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["jti"], claims(&alice_refresh)["jti"]);
    assert_eq!(tokens[0]["successor_jti"], claims(&new_refresh)["jti"]);
    assert_eq!(tokens[1]["parent_jti"], claims(&alice_refresh)["jti"]);
    assert!(tokens[0]["rotated_at"].is_i64());
    assert_eq!(r.body["session"]["id"], sid);
    assert!(!r.text.contains(&alice_refresh) && !r.text.contains(&new_refresh));
    assert!(!r.text.contains("sha256"), "no token hashes");
    assert_eq!(
        api.get(
            &format!("api/staff/sessions/{}/", hex32(3)),
            Some(&root_access)
        )
        .status,
        404
    );

    // Lock, unlock, staff flag, password, deactivate, reactivate, logout-all, revoke.
    let r = api.post(
        &t("api/staff/users/{id}/lock/"),
        Some(&root_access),
        json!({"reason": "suspicious"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 1})));
    assert!(!api.access_ok(&alice_access));
    // Locked by staff: her right password gets exactly a wrong one's answer.
    let right = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": PASSWORD}),
    );
    let wrong = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": "a wrong one"}),
    );
    assert_eq!((right.status, wrong.status), (401, 401));
    assert_eq!(right.text, wrong.text);
    let r = api.get("api/staff/users/?locked=true", Some(&root_access));
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = api.get("api/staff/users/?locked=false", Some(&root_access));
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = api.post(
        &t("api/staff/users/{id}/unlock/"),
        Some(&root_access),
        json!({"reason": "cleared"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 0})));
    let (alice_access, _) = api.login("alice");

    let r = api.post(
        &t("api/staff/users/{id}/lock/"),
        Some(&root_access),
        json!({}),
    );
    assert_eq!(
        (r.status, r.body),
        (400, json!({"reason": ["This field is required."]}))
    );
    let r = api.post(
        &t("api/staff/users/{id}/staff/"),
        Some(&root_access),
        json!({"is_staff": "yes", "reason": "on call"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.get("api/staff/users/", Some(&alice_access)).status, 200);
    let r = api.form(
        &t("api/staff/users/{id}/staff/"),
        Some(&root_access),
        &[("is_staff", "false"), ("reason", "off call")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(api.get("api/staff/users/", Some(&alice_access)).status, 403);

    let r = api.post(
        &t("api/staff/users/{id}/password/"),
        Some(&root_access),
        json!({"password": "temporary passphrase", "reason": "forgot it"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 1})));
    assert!(!api.access_ok(&alice_access));
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": "temporary passphrase"}),
    );
    assert_eq!(r.status, 200);
    let alice_access = s(&r.body["access"]);
    let alice_sid = s(&claims(&alice_access)["sid"]);

    let r = api.post(
        &format!("api/staff/sessions/{alice_sid}/revoke/"),
        Some(&root_access),
        json!({"reason": "stolen laptop"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": true})));
    assert_eq!(
        api.get("api/me/", Some(&alice_access)).body,
        bearer_error("Token is blacklisted", "staff_revoked")
    );

    let r = api.post(
        &t("api/staff/users/{id}/deactivate/"),
        Some(&root_access),
        json!({"reason": "offboarding"}),
    );
    assert_eq!(r.status, 200);
    let r = api.post(
        &format!("api/staff/users/{root}/deactivate/"),
        Some(&root_access),
        json!({"reason": "oops"}),
    );
    assert_eq!(
        r.status, 400,
        "staff cannot deactivate themselves: {}",
        r.text
    );
    let r = api.post(
        &t("api/staff/users/{id}/reactivate/"),
        Some(&root_access),
        json!({"reason": "rehired"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 0})));
    api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": "temporary passphrase"}),
    );
    let r = api.post(
        &t("api/staff/users/{id}/logout-all/"),
        Some(&root_access),
        json!({"reason": "rotate everything"}),
    );
    assert_eq!((r.status, r.body), (200, json!({"revoked": 1})));

    // The audit log has every action with actor and reason.
    let r = api.get(
        &format!("api/staff/audit/?user={alice}&kind=user_locked,user_unlocked&kind=staff_granted"),
        Some(&root_access),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.body.as_array().unwrap();
    let kinds: BTreeSet<String> = entries.iter().map(|e| s(&e["kind"])).collect();
    assert_eq!(
        kinds,
        set(&["user_locked", "user_unlocked", "staff_granted"])
    );
    for e in entries {
        assert_eq!(e["actor"], root);
        assert_eq!(e["subject"], alice);
    }
    let lock = entries.iter().find(|e| e["kind"] == "user_locked").unwrap();
    assert_eq!(lock["reason"], "suspicious");
    let reasons: Vec<String> = api
        .get(
            &format!("api/staff/audit/?user={alice}&limit=1000"),
            Some(&root_access),
        )
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == root)
        .map(|e| s(&e["reason"]))
        .collect();
    for reason in [
        "suspicious",
        "cleared",
        "on call",
        "off call",
        "forgot it",
        "stolen laptop",
        "offboarding",
        "rehired",
        "rotate everything",
    ] {
        assert!(reasons.iter().any(|r| r == reason), "{reason}: {reasons:?}");
    }
    let r = api.get("api/staff/audit/?kind=bogus", Some(&root_access));
    assert_eq!(
        (r.status, r.body),
        (400, json!({"kind": ["\"bogus\" is not a valid choice."]}))
    );
    let r = api.get(
        &format!("api/staff/audit/?session={alice_sid}"),
        Some(&root_access),
    );
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["session_id"] == alice_sid.as_str())
    );
    let r = api.get("api/staff/audit/?limit=2", Some(&root_access));
    let page = r.body.as_array().unwrap();
    assert_eq!(page.len(), 2);
    let before = page[1]["id"].as_i64().unwrap();
    let r = api.get(
        &format!("api/staff/audit/?limit=2&before={before}"),
        Some(&root_access),
    );
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < before)
    );
    // Nothing secret in the log.
    let all = api
        .get("api/staff/audit/?limit=1000", Some(&root_access))
        .text;
    assert!(!all.contains(PASSWORD) && !all.contains("temporary passphrase"));
    assert!(!all.contains(&root_access));
}

/// `api/me/` answers from the node's user cache, and every write to the
/// user shows on the caller's next request: staff rights, the profile a
/// login moves, a lock, deactivation, a password change (here one node;
/// two nodes: tests/suite/scaleout.rs and crates/warden-store-pg/tests/pg.rs).
#[test]
fn me_shows_every_user_write_on_the_next_request() {
    let api = Api::new();
    let alice = api.user("alice");
    api.staff("root");
    let (root, _) = api.login("root");
    let (access, _) = api.login("alice");
    let me = |token: &str| api.get("api/me/", Some(token));
    let t = |path: &str| path.replace("{id}", &alice.to_string());

    let first = me(&access);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["is_staff"], json!(false));
    // Served twice from memory: the same answer.
    assert_eq!(me(&access).body, first.body);

    let r = api.post(
        &t("api/staff/users/{id}/staff/"),
        Some(&root),
        json!({"is_staff": true, "reason": "on call"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(me(&access).body["is_staff"], json!(true));
    assert_eq!(api.get("api/staff/users/", Some(&access)).status, 200);
    let r = api.post(
        &t("api/staff/users/{id}/staff/"),
        Some(&root),
        json!({"is_staff": false, "reason": "off call"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(me(&access).body["is_staff"], json!(false));
    assert_eq!(api.get("api/staff/users/", Some(&access)).status, 403);

    // A second login moves last_login; the first session's next request sees it.
    api.srv.engine.clock.advance(60);
    let (second, _) = api.login("alice");
    let after = me(&access);
    assert_eq!(after.body["last_login"], json!(T0 + 60), "{}", after.text);

    // A password change ends the other session at once; the changer's own
    // session stays and is answered with the new state.
    let r = api.post(
        "api/password/change/",
        Some(&second),
        json!({"old_password": PASSWORD, "new_password": "another long passphrase"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(me(&access).status, 401);
    assert_eq!(me(&second).status, 200);

    // A lock, then deactivation: refused on the next request.
    let r = api.post(
        &t("api/staff/users/{id}/lock/"),
        Some(&root),
        json!({"reason": "suspicious"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(me(&second).status, 401);
    let r = api.post(
        &t("api/staff/users/{id}/unlock/"),
        Some(&root),
        json!({"reason": "cleared"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.post(
        "api/token/",
        None,
        json!({"username": "alice", "password": "another long passphrase"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let third = s(&r.body["access"]);
    assert_eq!(me(&third).status, 200, "unlocked");
    let r = api.post(
        &t("api/staff/users/{id}/deactivate/"),
        Some(&root),
        json!({"reason": "left"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = me(&third);
    assert_eq!(r.status, 401, "{}", r.text);
}

/// `api/token/verify/` of refresh tokens: what is answered from memory
/// (a rotated-away token stays refused) agrees with the store every time.
#[test]
fn verify_of_refresh_tokens_follows_rotation_and_revocation() {
    let api = Api::new();
    api.user("alice");
    let (_, refresh) = api.login("alice");
    let verify = |t: &str| {
        api.post("api/token/verify/", None, json!({"token": t}))
            .status
    };
    assert_eq!(verify(&refresh), 200);
    assert_eq!(verify(&refresh), 200);
    let r = api.refresh(&refresh);
    assert_eq!(r.status, 200, "{}", r.text);
    let next = s(&r.body["refresh"]);
    for _ in 0..2 {
        let r = api.post("api/token/verify/", None, json!({"token": refresh}));
        assert_eq!(r.status, 401, "rotated away: {}", r.text);
        assert_eq!(
            r.body["detail"],
            json!("Token is blacklisted"),
            "{}",
            r.text
        );
    }
    assert_eq!(verify(&next), 200);
    let r = api.post("api/token/blacklist/", None, json!({"refresh": next}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(verify(&next), 401);
    assert_eq!(verify(&refresh), 401);
}
