//! Issue 7, attack corpus: a table of hostile tokens, each sent over real HTTP
//! to every endpoint that takes a token (Bearer on an authenticated GET and
//! POSTs, verify, refresh, blacklist, sliding refresh, logout, RFC 7009
//! revocation and RFC 7662 introspection). Each must get the documented
//! refusal (WIRE.md: 401 `token_not_valid` with SimpleJWT's message, Warden's
//! `reason`; `200 {}` / `{"active": false}` on the RFC endpoints, which must
//! not tell) and never a 5xx.
#![cfg(test)]

use std::io::ErrorKind;
use std::net::TcpListener;

use jsonwebtoken::Algorithm as Jwa;
use serde_json::{Value, json};
use warden_auth::{Algorithm, Settings};
use warden_server::ServerConfig;
use warden_tests::hostile::{Reply, Signer, Wire, active_header, b64, forge, sign_raw, text};
use warden_tests::http::{TestServer, decode_parts, test_config};
use warden_tests::{PASSWORD, T0, TEST_SECRET, test_settings};

const ISSUER: &str = "https://warden.test";
const AUDIENCE: &str = "warden-app";
const INVALID: &str = "Token is invalid";
const EXPIRED: &str = "Token is expired";
const WRONG_TYPE: &str = "Token has wrong type";
const RSA_PEM: &str = include_str!("../../crates/warden-auth/tests/fixtures/rsa2048.pem");
const RSA_PUB_PEM: &str = include_str!("../../crates/warden-auth/tests/fixtures/rsa2048.pub.pem");

fn token_error(message: &str, reason: &str) -> Value {
    json!({"detail": message, "code": "token_not_valid", "reason": reason})
}

fn bearer_error(message: &str, reason: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
        "reason": reason,
    })
}

/// A live session whose tokens authenticate the RFC and logout calls.
struct Control {
    access: String,
    refresh: String,
}

/// One hostile token and the refusal WIRE.md documents for it.
struct Case {
    name: String,
    token: String,
    message: &'static str,
    reason: &'static str,
    /// The defect is in a claim checked after the token type, so endpoints
    /// that want a refresh or sliding token see an access token of the wrong
    /// type first.
    after_type: bool,
}

fn case(
    name: impl Into<String>,
    token: String,
    message: &'static str,
    reason: &'static str,
) -> Case {
    Case {
        name: name.into(),
        token,
        message,
        reason,
        after_type: false,
    }
}

fn after_type(mut c: Case) -> Case {
    c.after_type = true;
    c
}

fn no_5xx(name: &str, route: &str, r: &Reply) {
    assert!(r.status < 500, "{name} on {route}: {} {}", r.status, r.text);
}

/// Sends `c.token` to every token-taking endpoint; returns how many requests.
/// A 5xx fails at once; any other mismatch is collected into `failures`.
fn refused_everywhere(w: &Wire, ctl: &Control, c: &Case, failures: &mut Vec<String>) -> usize {
    let (name, t) = (c.name.as_str(), c.token.as_str());
    let want_token = token_error(c.message, c.reason);
    let want_bearer = bearer_error(c.message, c.reason);
    let wrong_type = token_error(WRONG_TYPE, "wrong_type");
    let want_typed = if c.after_type {
        &wrong_type
    } else {
        &want_token
    };
    // hyper refuses a header block of some hundreds of KB before Warden sees
    // it: 431 (WIRE.md framing); below that the validator's 401 too_large.
    let header_too_big = t.len() > 64 * 1024;
    let mut sent = 0;
    // Bearer: an authenticated GET and each authenticated POST.
    if header_too_big {
        // 401 too_large, or hyper answers 431 and closes; a client still writing its request may
        // see the close first. Either way the server refused and stays up.
        for (method, route) in [
            (reqwest::Method::GET, "api/me/"),
            (reqwest::Method::POST, "api/logout/"),
            (reqwest::Method::POST, "api/logout-all/"),
            (reqwest::Method::POST, "api/token/introspect/"),
            (reqwest::Method::POST, "api/token/revoke/"),
            (reqwest::Method::GET, "api/sessions/"),
        ] {
            sent += 1;
            match w.try_send(method, route, Some(t), None) {
                Ok(r) if r.status == 431 || (r.status == 401 && r.body == want_bearer) => {}
                Ok(r) => failures.push(format!(
                    "{name} on {route}: got {} {}, want 431",
                    r.status, r.text
                )),
                Err(e) => assert!(
                    format!("{e:#}").contains("connection")
                        || format!("{e:#}").contains("Broken pipe"),
                    "{name} on {route}: {e:#}"
                ),
            }
            assert_eq!(
                w.get("api/hello/", None).status,
                200,
                "the server is still up"
            );
        }
    }
    let mut check = |route: &str, r: Reply, status: u16, body: &Value| {
        sent += 1;
        no_5xx(name, route, &r);
        if r.status != status || &r.body != body {
            failures.push(format!(
                "{name} on {route}: got {} {}, want {status} {body}",
                r.status, r.text
            ));
        }
    };
    if !header_too_big {
        check("GET api/me/", w.get("api/me/", Some(t)), 401, &want_bearer);
        for route in [
            "api/logout/",
            "api/logout-all/",
            "api/token/introspect/",
            "api/token/revoke/",
            "api/sessions/",
        ] {
            let r = if route == "api/sessions/" {
                w.get(route, Some(t))
            } else {
                w.post(
                    route,
                    Some(t),
                    &json!({"refresh": ctl.refresh, "token": ctl.refresh}),
                )
            };
            check(route, r, 401, &want_bearer);
        }
    }
    // Token bodies, JSON and form.
    for (route, field) in [
        ("api/token/verify/", "token"),
        ("api/token/refresh/", "refresh"),
        ("api/token/blacklist/", "refresh"),
        ("api/token/sliding/refresh/", "token"),
    ] {
        let want = if route == "api/token/verify/" {
            &want_token
        } else {
            want_typed
        };
        check(route, w.post(route, None, &json!({ field: t })), 401, want);
        check(route, w.form(route, &[(field, t)]), 401, want);
    }
    check(
        "api/logout/ body",
        w.post("api/logout/", Some(&ctl.access), &json!({"refresh": t})),
        401,
        want_typed,
    );
    // RFC 7009 / 7662 never tell a bad token from a good one of someone else.
    check(
        "api/token/revoke/ body",
        w.post("api/token/revoke/", Some(&ctl.access), &json!({"token": t})),
        200,
        &json!({}),
    );
    check(
        "api/token/introspect/ body",
        w.post(
            "api/token/introspect/",
            Some(&ctl.access),
            &json!({"token": t}),
        ),
        200,
        &json!({"active": false}),
    );
    sent
}

fn settings_with_iss_aud() -> Settings {
    Settings {
        ISSUER: Some(ISSUER.into()),
        AUDIENCE: Some(AUDIENCE.into()),
        ..test_settings()
    }
}

/// Room for a 1 MB token in a body and in a header, so it reaches the validator.
fn roomy() -> ServerConfig {
    ServerConfig {
        max_body_bytes: 4 << 20,
        max_header_bytes: 4 << 20,
        ..test_config()
    }
}

fn control(srv: &TestServer, w: &Wire, name: &str) -> Control {
    srv.engine.user(name).unwrap();
    let (access, refresh) = w.login(name).unwrap();
    Control { access, refresh }
}

fn with(base: &Value, edits: &[(&str, Value)]) -> Vec<u8> {
    let mut v = base.clone();
    for (k, val) in edits {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(*k);
        } else {
            v[*k] = val.clone();
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// `[[[...1...]]]` (or `{"a":{"a":...}}`) nested `depth` times.
fn bomb(depth: usize, object: bool) -> String {
    let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn hostile_token_corpus_is_refused_on_every_endpoint() {
    let srv = TestServer::try_start(settings_with_iss_aud(), roomy()).unwrap();
    let w = Wire::of(&srv);
    let ctl = control(&srv, &w, "alice");
    let (_, victim_refresh) = w.login("alice").unwrap();
    let (hdr, pl) = decode_parts(&ctl.access).unwrap();
    assert_eq!(pl["iss"], ISSUER, "the server stamps iss");
    let kid = text(&hdr["kid"]);
    let key = Signer::Key(srv.engine.service.key_materials());
    let h = |v: Value| serde_json::to_vec(&v).unwrap();
    let real = |header: &[u8], payload: &[u8]| sign_raw(&srv, header, payload).unwrap();
    let hdr_b = h(hdr.clone());
    let pl_b = h(pl.clone());
    let sig = ctl.access.rsplit('.').next().unwrap().to_string();
    let attacker = b"an attacker's own HMAC secret, long enough to pass 0123456789".to_vec();
    let alg_hdr = |alg: &str| h(json!({"alg": alg, "typ": "JWT", "kid": kid}));
    let kid_hdr = |k: Value| h(json!({"alg": "HS256", "typ": "JWT", "kid": k}));
    let extra_hdr = |name: &str, v: Value| {
        let mut x = hdr.clone();
        x[name] = v;
        h(x)
    };

    // A listener that must never be contacted: the target of jku/x5u.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}/jwks.json", trap.local_addr().unwrap());
    let attacker_jwk = json!({"kty": "oct", "kid": kid, "k": b64(&attacker)});

    let mut cases = Vec::new();
    // alg none in every spelling, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let forged = forge(&alg_hdr(alg), &pl_b, &Signer::Empty).unwrap();
        cases.push(case(
            format!("alg {alg}, empty signature"),
            forged,
            INVALID,
            "malformed",
        ));
        let forged = forge(&alg_hdr(alg), &pl_b, &Signer::Raw(sig.clone())).unwrap();
        cases.push(case(
            format!("alg {alg}, signature kept"),
            forged,
            INVALID,
            "algorithm_not_allowed",
        ));
    }
    for alg in ["hs256", "HS256 ", "", "RS1", "ES256K"] {
        let forged = forge(
            &alg_hdr(alg),
            &pl_b,
            &Signer::Hmac(Jwa::HS256, TEST_SECRET.into()),
        )
        .unwrap();
        cases.push(case(
            format!("alg {alg:?}"),
            forged,
            INVALID,
            "algorithm_not_allowed",
        ));
    }
    cases.push(case(
        "no alg",
        real(&h(json!({"typ": "JWT", "kid": kid})), &pl_b),
        INVALID,
        "bad_header",
    ));
    cases.push(case(
        "alg is a number",
        real(&h(json!({"alg": 256, "typ": "JWT", "kid": kid})), &pl_b),
        INVALID,
        "bad_header",
    ));
    cases.push(case(
        "HS512 with the server's own secret (key pinned to HS256)",
        forge(
            &alg_hdr("HS512"),
            &pl_b,
            &Signer::Hmac(Jwa::HS512, TEST_SECRET.into()),
        )
        .unwrap(),
        INVALID,
        "algorithm_mismatch",
    ));
    cases.push(case(
        "RS256 header on an HMAC key",
        forge(&alg_hdr("RS256"), &pl_b, &Signer::Raw(sig.clone())).unwrap(),
        INVALID,
        "algorithm_mismatch",
    ));
    // kid: path traversal, SQL, odd types.
    for k in [
        "../../../../../../etc/passwd",
        "/dev/null",
        "..\\..\\..\\windows\\win.ini",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "file:///etc/shadow",
        "' OR '1'='1",
        "x'; DROP TABLE sessions; --",
        "1 UNION SELECT signing_key FROM keys --",
        "\u{0}",
        "",
    ] {
        let forged = forge(
            &kid_hdr(json!(k)),
            &pl_b,
            &Signer::Hmac(Jwa::HS256, TEST_SECRET.into()),
        )
        .unwrap();
        cases.push(case(format!("kid {k:?}"), forged, INVALID, "unknown_kid"));
    }
    cases.push(case(
        "no kid",
        real(&h(json!({"alg": "HS256", "typ": "JWT"})), &pl_b),
        INVALID,
        "missing_kid",
    ));
    for (label, k) in [
        ("number", json!(1)),
        ("null", Value::Null),
        ("object", json!({"a": 1})),
    ] {
        let forged = real(&kid_hdr(k), &pl_b);
        cases.push(case(
            format!("kid is {label}"),
            forged,
            INVALID,
            "bad_header",
        ));
    }
    // jku / x5u / jwk / x5c: the attacker's key is offered, never used.
    let mine = Signer::Hmac(Jwa::HS256, attacker.clone());
    for (name, v) in [
        ("jku", json!(trap_url)),
        ("x5u", json!(trap_url)),
        ("jwk", attacker_jwk.clone()),
        ("x5c", json!([b64(b"not a certificate")])),
    ] {
        let forged = forge(&extra_hdr(name, v.clone()), &pl_b, &mine).unwrap();
        cases.push(case(
            format!("{name} header, attacker-signed"),
            forged,
            INVALID,
            "bad_signature",
        ));
        let mut hx = hdr.clone();
        hx.as_object_mut().unwrap().remove("kid");
        hx[name] = v;
        let forged = forge(&h(hx), &pl_b, &mine).unwrap();
        cases.push(case(
            format!("{name} header, no kid"),
            forged,
            INVALID,
            "missing_kid",
        ));
    }
    // crit.
    for v in [json!(["exp"]), json!(["b64"]), json!([]), json!("exp")] {
        cases.push(case(
            format!("crit {v}"),
            real(&extra_hdr("crit", v), &pl_b),
            INVALID,
            "critical_header",
        ));
    }
    // typ.
    cases.push(case(
        "typ at+jwt",
        real(&extra_hdr("typ", json!("at+jwt")), &pl_b),
        INVALID,
        "bad_header",
    ));
    // Duplicated members (the last-wins vs first-wins ambiguity is refused).
    let body = String::from_utf8(pl_b.clone()).unwrap();
    let inner = body.trim_end_matches('}');
    for (claim, v) in [
        ("exp", json!(T0 + 10_000_000)),
        ("token_type", json!("refresh")),
        ("jti", json!("0123456789abcdef0123456789abcdef")),
        ("sid", json!("0123456789abcdef0123456789abcdef")),
        ("user_id", json!("2")),
        ("iss", json!(ISSUER)),
        ("aud", json!(AUDIENCE)),
    ] {
        let dup = format!("{inner},\"{claim}\":{v}}}");
        cases.push(case(
            format!("duplicated {claim}"),
            real(&hdr_b, dup.as_bytes()),
            INVALID,
            "bad_payload",
        ));
    }
    let hdr_s = String::from_utf8(hdr_b.clone()).unwrap();
    let dup_alg = format!("{{\"alg\":\"none\",{}", hdr_s.trim_start_matches('{'));
    cases.push(case(
        "duplicated alg in the header",
        real(dup_alg.as_bytes(), &pl_b),
        INVALID,
        "bad_header",
    ));
    // Numbers: huge, negative, fractional, strings.
    let raw_exp = |lit: &str| {
        let mut v = pl.clone();
        v["exp"] = json!("@");
        serde_json::to_string(&v).unwrap().replace("\"@\"", lit)
    };
    for lit in [
        "1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "1.9e9",
        "1900000000.5",
        "\"1900000000\"",
        "null",
        "true",
        "[1900000000]",
    ] {
        cases.push(case(
            format!("exp {lit}"),
            real(&hdr_b, raw_exp(lit).as_bytes()),
            INVALID,
            "bad_payload",
        ));
    }
    for v in [json!(-1), json!(i64::MIN), json!(0), json!(T0)] {
        cases.push(case(
            format!("exp {v}"),
            real(&hdr_b, &with(&pl, &[("exp", v)])),
            EXPIRED,
            "expired",
        ));
    }
    cases.push(case(
        "no exp",
        real(&hdr_b, &with(&pl, &[("exp", Value::Null)])),
        INVALID,
        "missing_claim",
    ));
    cases.push(case(
        "nbf in the future",
        real(&hdr_b, &with(&pl, &[("nbf", json!(T0 + 3600))])),
        INVALID,
        "not_yet_valid",
    ));
    cases.push(case(
        "nbf i64::MAX",
        real(&hdr_b, &with(&pl, &[("nbf", json!(i64::MAX))])),
        INVALID,
        "not_yet_valid",
    ));
    cases.push(case(
        "iat in the future",
        real(&hdr_b, &with(&pl, &[("iat", json!(T0 + 3600))])),
        INVALID,
        "issued_in_future",
    ));
    cases.push(case(
        "iat 1e30",
        real(
            &hdr_b,
            raw_exp("1")
                .replace(&format!("\"iat\":{T0}"), "\"iat\":1e30")
                .as_bytes(),
        ),
        INVALID,
        "bad_payload",
    ));
    // Issuer and audience.
    for (label, edits) in [
        ("wrong iss", vec![("iss", json!("https://evil.example"))]),
        ("no iss", vec![("iss", Value::Null)]),
        ("iss case", vec![("iss", json!(ISSUER.to_uppercase()))]),
    ] {
        cases.push(case(
            label,
            real(&hdr_b, &with(&pl, &edits)),
            INVALID,
            "wrong_issuer",
        ));
    }
    for (label, edits) in [
        ("wrong aud", vec![("aud", json!("other-app"))]),
        ("aud list without ours", vec![("aud", json!(["a", "b"]))]),
        ("no aud", vec![("aud", Value::Null)]),
        ("aud empty list", vec![("aud", json!([]))]),
    ] {
        cases.push(case(
            label,
            real(&hdr_b, &with(&pl, &edits)),
            INVALID,
            "wrong_audience",
        ));
    }
    // Warden's claims.
    cases.push(case(
        "no token_type",
        real(&hdr_b, &with(&pl, &[("token_type", Value::Null)])),
        "Token has no type",
        "no_type",
    ));
    cases.push(case(
        "token_type admin",
        real(&hdr_b, &with(&pl, &[("token_type", json!("admin"))])),
        WRONG_TYPE,
        "wrong_type",
    ));
    cases.push(case(
        "token_type 1",
        real(&hdr_b, &with(&pl, &[("token_type", json!(1))])),
        WRONG_TYPE,
        "wrong_type",
    ));
    cases.push(after_type(case(
        "no jti",
        real(&hdr_b, &with(&pl, &[("jti", Value::Null)])),
        "Token has no id",
        "no_id",
    )));
    cases.push(after_type(case(
        "jti SQL",
        real(&hdr_b, &with(&pl, &[("jti", json!("' OR 1=1 --"))])),
        INVALID,
        "bad_id",
    )));
    cases.push(after_type(case(
        "sid traversal",
        real(&hdr_b, &with(&pl, &[("sid", json!("../../etc/passwd"))])),
        INVALID,
        "bad_id",
    )));
    // Shape: truncated, padded, wrong alphabet, wrong part count.
    let a = &ctl.access;
    let mut shapes = vec![
        (
            "signature truncated by 1",
            a[..a.len() - 1].to_string(),
            "bad_signature",
        ),
        (
            "signature truncated by 2 (4n+1 chars)",
            a[..a.len() - 2].to_string(),
            "malformed",
        ),
        (
            "signature truncated to 4",
            format!("{}{}", &a[..a.rfind('.').unwrap() + 1], &sig[..4]),
            "bad_signature",
        ),
        ("padded with =", format!("{a}="), "malformed"),
        ("padded with ==", format!("{a}=="), "malformed"),
        (
            "payload padded",
            {
                let p: Vec<&str> = a.split('.').collect();
                format!("{}.{}==.{}", p[0], p[1], p[2])
            },
            "malformed",
        ),
        (
            "standard alphabet",
            a.replace('-', "+").replace('_', "/") + "+/",
            "malformed",
        ),
        (
            "two parts",
            a[..a.rfind('.').unwrap()].to_string(),
            "malformed",
        ),
        ("four parts", format!("{a}.{sig}"), "malformed"),
        ("empty parts", "..".to_string(), "malformed"),
        ("just dots", "...".to_string(), "malformed"),
        ("header only", b64(&hdr_b), "malformed"),
        (
            "not base64 at all",
            "definitely.not.a-token!".to_string(),
            "malformed",
        ),
    ];
    let signature_flip = {
        let mut b = a.clone().into_bytes();
        let i = b.len() - 3;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    shapes.push(("signature bit flipped", signature_flip, "bad_signature"));
    for (label, t, reason) in shapes {
        cases.push(case(label, t, INVALID, reason));
    }
    // Not UTF-8, not JSON, not an object.
    cases.push(case(
        "payload not UTF-8",
        real(&hdr_b, b"\xff\xfe\xfd{\"exp\":1}"),
        INVALID,
        "bad_payload",
    ));
    let mut bad_utf8 = pl_b.clone();
    let at = bad_utf8.len() - 1;
    bad_utf8.splice(at..at, b",\"x\":\"\xc3\x28\"".iter().copied());
    cases.push(case(
        "claim string not UTF-8",
        real(&hdr_b, &bad_utf8),
        INVALID,
        "bad_payload",
    ));
    cases.push(case(
        "header not UTF-8",
        forge(b"{\"alg\":\"\xff\"}", &pl_b, &key).unwrap(),
        INVALID,
        "bad_header",
    ));
    cases.push(case(
        "payload an array",
        real(&hdr_b, b"[1,2,3]"),
        INVALID,
        "bad_payload",
    ));
    cases.push(case(
        "payload a string",
        real(&hdr_b, b"\"claims\""),
        INVALID,
        "bad_payload",
    ));
    cases.push(case(
        "payload trailing garbage",
        real(&hdr_b, &[pl_b.clone(), b"xyz".to_vec()].concat()),
        INVALID,
        "bad_payload",
    ));
    cases.push(case(
        "header an array",
        forge(b"[\"HS256\"]", &pl_b, &key).unwrap(),
        INVALID,
        "bad_header",
    ));
    // JSON bombs: nested in the payload (signed, so they reach the parser) and in the header.
    for (label, depth, object) in [
        ("array", 100_000, false),
        ("object", 20_000, true),
        ("array 129", 129, false),
    ] {
        let mut v = pl.clone();
        v["x"] = json!("@");
        let p = serde_json::to_string(&v)
            .unwrap()
            .replace("\"@\"", &bomb(depth, object));
        cases.push(case(
            format!("payload {label} bomb depth {depth}"),
            real(&hdr_b, p.as_bytes()),
            INVALID,
            if depth > 6000 {
                "too_large"
            } else {
                "bad_payload"
            },
        ));
    }
    let small_bomb = {
        let mut v = pl.clone();
        v["x"] = json!("@");
        serde_json::to_string(&v)
            .unwrap()
            .replace("\"@\"", &bomb(1500, false))
    };
    cases.push(case(
        "payload bomb under the size cap",
        real(&hdr_b, small_bomb.as_bytes()),
        INVALID,
        "bad_payload",
    ));
    let hdr_bomb = format!(
        "{{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"{kid}\",\"x\":{}}}",
        bomb(700, false)
    );
    cases.push(case(
        "header bomb",
        real(hdr_bomb.as_bytes(), &pl_b),
        INVALID,
        "bad_header",
    ));
    // Size: 1 MB tokens (the server's limits leave room, so the validator decides).
    let mb = 1 << 20;
    cases.push(case("1 MB of A", "A".repeat(mb), INVALID, "too_large"));
    cases.push(case(
        "1 MB payload",
        format!("{}.{}.{}", b64(&hdr_b), "A".repeat(mb), sig),
        INVALID,
        "too_large",
    ));
    cases.push(case("1 MB of dots", ".".repeat(mb), INVALID, "too_large"));
    cases.push(case(
        "MAX_TOKEN_BYTES + 1",
        format!("{}.{}.{}", b64(&hdr_b), "A".repeat(8192), sig)[..8193].to_string(),
        INVALID,
        "too_large",
    ));
    // Another user's id in a token signed by someone else.
    cases.push(case(
        "user_id swapped, signature kept",
        {
            let p: Vec<&str> = a.split('.').collect();
            format!(
                "{}.{}.{}",
                p[0],
                b64(with(&pl, &[("user_id", json!("1"))])),
                p[2]
            )
        },
        INVALID,
        "bad_signature",
    ));

    let mut requests = 0;
    let mut failures = Vec::new();
    for c in &cases {
        requests += refused_everywhere(&w, &ctl, c, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // jku/x5u were never fetched.
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the server contacted a jku/x5u URL: {other:?}"),
    }
    // Nothing above was collateral damage: the control session still works
    // (revoke/introspect/logout only ever saw refused tokens).
    assert!(w.access_ok(&ctl.access));
    assert_eq!(w.refresh(&victim_refresh).status, 200);
    // The extra headers are ignored, not fatal: the server's own signature still counts.
    for name in ["jku", "x5u", "jwk", "x5c"] {
        let v = if name == "jwk" {
            attacker_jwk.clone()
        } else if name == "x5c" {
            json!([])
        } else {
            json!(trap_url)
        };
        let t = real(&extra_hdr(name, v), &pl_b);
        assert!(
            w.access_ok(&t),
            "{name}: a Warden-signed token with {name} is judged by Warden's key"
        );
    }
    match trap.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the server contacted a jku/x5u URL: {other:?}"),
    }
    println!(
        "hostile token corpus: {} cases x {} endpoints/encodings = {requests} requests, 0 x 5xx",
        cases.len(),
        requests / cases.len()
    );
}

/// Type confusion in every direction, per endpoint (verify takes every type).
#[test]
fn type_confusion_in_every_direction() {
    let srv = TestServer::try_start(test_settings(), test_config()).unwrap();
    let w = Wire::of(&srv);
    srv.engine.user("bob").unwrap();
    let (access, refresh) = w.login("bob").unwrap();
    let sliding = {
        let r = w.post(
            "api/token/sliding/",
            None,
            &json!({"username": "bob", "password": PASSWORD}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        text(&r.body["token"])
    };
    let wrong = token_error(WRONG_TYPE, "wrong_type");
    let mut n = 0;
    let mut expect = |label: &str, r: Reply, body: &Value| {
        n += 1;
        no_5xx(label, "", &r);
        assert_eq!(r.status, 401, "{label}: {}", r.text);
        assert_eq!(&r.body, body, "{label}");
    };
    for (kind, t) in [("access", &access), ("sliding", &sliding)] {
        expect(&format!("{kind} as refresh"), w.refresh(t), &wrong);
        expect(
            &format!("{kind} to blacklist"),
            w.post("api/token/blacklist/", None, &json!({"refresh": t})),
            &wrong,
        );
        expect(
            &format!("{kind} to logout"),
            w.post("api/logout/", Some(&access), &json!({"refresh": t})),
            &wrong,
        );
    }
    for (kind, t) in [("access", &access), ("refresh", &refresh)] {
        expect(
            &format!("{kind} as sliding"),
            w.post("api/token/sliding/refresh/", None, &json!({"token": t})),
            &wrong,
        );
    }
    expect(
        "refresh as Bearer",
        w.get("api/me/", Some(&refresh)),
        &bearer_error(WRONG_TYPE, "wrong_type"),
    );
    expect(
        "refresh as Bearer on a POST",
        w.post("api/logout-all/", Some(&refresh), &json!({})),
        &bearer_error(WRONG_TYPE, "wrong_type"),
    );
    // Re-typed by an attacker: the claim change breaks the signature.
    for (kind, t, to) in [
        ("access", &access, "refresh"),
        ("refresh", &refresh, "access"),
        ("sliding", &sliding, "refresh"),
    ] {
        let (h, mut p) = decode_parts(t).unwrap();
        p["token_type"] = json!(to);
        let sig = t.rsplit('.').next().unwrap();
        let forged = format!(
            "{}.{}.{sig}",
            b64(serde_json::to_vec(&h).unwrap()),
            b64(serde_json::to_vec(&p).unwrap())
        );
        expect(
            &format!("{kind} re-typed {to}"),
            w.post("api/token/verify/", None, &json!({"token": forged})),
            &token_error(INVALID, "bad_signature"),
        );
    }
    // verify answers 200 for every genuine type (documented), and nothing was lost.
    for t in [&access, &refresh, &sliding] {
        assert_eq!(
            w.post("api/token/verify/", None, &json!({"token": t}))
                .status,
            200
        );
    }
    assert!(w.access_ok(&access) && w.access_ok(&sliding));
    assert_eq!(w.refresh(&refresh).status, 200);
    println!("type confusion: {n} cross-type requests, all 401 wrong_type/bad_signature");
}

/// RS256 server: a token re-signed as HS256 with the public key (the classic
/// key-confusion attack) and with the JWKS modulus is refused.
#[test]
fn rs256_public_key_as_hmac_secret_is_refused() {
    let settings = Settings {
        ALGORITHM: Algorithm::RS256,
        SIGNING_KEY: Some(RSA_PEM.into()),
        ..Settings::default()
    };
    let srv = TestServer::try_start(settings, test_config()).unwrap();
    let w = Wire::of(&srv);
    let ctl = control(&srv, &w, "carol");
    let (hdr, pl) = decode_parts(&ctl.access).unwrap();
    assert_eq!(hdr["alg"], "RS256");
    let kid = hdr["kid"].clone();
    let jwks = w.get(".well-known/jwks.json", None);
    assert_eq!(jwks.status, 200);
    let n = text(&jwks.body["keys"][0]["n"]);
    assert!(
        !n.is_empty(),
        "the JWKS publishes the RSA key: {}",
        jwks.text
    );
    let pl_b = serde_json::to_vec(&pl).unwrap();
    let mut cases = Vec::new();
    for (alg, jwa) in [
        ("HS256", Jwa::HS256),
        ("HS384", Jwa::HS384),
        ("HS512", Jwa::HS512),
    ] {
        let hs_hdr = serde_json::to_vec(&json!({"alg": alg, "typ": "JWT", "kid": kid})).unwrap();
        for (secret_name, secret) in [
            ("public PEM", RSA_PUB_PEM.as_bytes().to_vec()),
            (
                "public PEM, trimmed",
                RSA_PUB_PEM.trim().as_bytes().to_vec(),
            ),
            ("JWKS n", n.clone().into_bytes()),
        ] {
            let t = forge(&hs_hdr, &pl_b, &Signer::Hmac(jwa, secret)).unwrap();
            cases.push(case(
                format!("{alg} signed with the {secret_name}"),
                t,
                INVALID,
                "algorithm_mismatch",
            ));
        }
    }
    // The right algorithm with a signature of the wrong key.
    let other = include_str!("../../crates/warden-auth/tests/fixtures/rsa2048-other.pem");
    let other_key = jsonwebtoken::EncodingKey::from_rsa_pem(other.as_bytes()).unwrap();
    let input = format!("{}.{}", b64(serde_json::to_vec(&hdr).unwrap()), b64(&pl_b));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &other_key, Jwa::RS256).unwrap();
    cases.push(case(
        "RS256 by another key",
        format!("{input}.{sig}"),
        INVALID,
        "bad_signature",
    ));
    let ps_hdr = serde_json::to_vec(&json!({"alg": "PS256", "typ": "JWT", "kid": kid})).unwrap();
    let t = forge(
        &ps_hdr,
        &pl_b,
        &Signer::Raw(ctl.access.rsplit('.').next().unwrap().into()),
    )
    .unwrap();
    cases.push(case("PS256 header", t, INVALID, "algorithm_not_allowed"));
    let mut requests = 0;
    let mut failures = Vec::new();
    for c in &cases {
        requests += refused_everywhere(&w, &ctl, c, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(w.access_ok(&ctl.access));
    println!(
        "RS256 key confusion: {} cases, {requests} requests",
        cases.len()
    );
}

/// A key rotated out is honoured during its grace and refused after it, even
/// for a token with a far-future `exp` signed by it.
#[test]
fn tokens_of_a_rotated_out_key_die_after_its_grace() {
    let srv = TestServer::try_start(test_settings(), test_config()).unwrap();
    let w = Wire::of(&srv);
    let ctl = control(&srv, &w, "dave");
    let old = srv.engine.service.key_materials();
    let (old_hdr, pl) = decode_parts(&ctl.access).unwrap();
    srv.engine.service.rotate_signing_key().unwrap();
    let (_, fresh_refresh) = w.login("dave").unwrap();
    let new_hdr = active_header(&srv).unwrap();
    assert_ne!(old_hdr["kid"], new_hdr["kid"]);
    // During the grace: the old key's tokens work.
    assert!(w.access_ok(&ctl.access));
    let grace = srv.engine.settings.longest_token_lifetime();
    srv.engine.clock.advance(grace + 1);
    let now = T0 + grace + 1;
    let mut p = pl.clone();
    p["iat"] = json!(now);
    p["exp"] = json!(now + 3600);
    let p_b = serde_json::to_vec(&p).unwrap();
    let by_old = forge(
        &serde_json::to_vec(&old_hdr).unwrap(),
        &p_b,
        &Signer::Key(old),
    )
    .unwrap();
    // Same claims under the new key pass: only the key decides.
    let by_new = sign_raw(&srv, &serde_json::to_vec(&new_hdr).unwrap(), &p_b).unwrap();
    assert!(w.access_ok(&by_new), "control: the new key's token works");
    let ctl2 = Control {
        access: by_new,
        refresh: fresh_refresh,
    };
    let c = case(
        "signed by a key past its grace",
        by_old,
        INVALID,
        "unknown_kid",
    );
    let mut failures = Vec::new();
    let requests = refused_everywhere(&w, &ctl2, &c, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("rotated-out key: {requests} requests refused after a {grace} s grace");
}

/// With the default limits, a 1 MB token never reaches the validator: 413 in
/// a body, 431 in a header, and neither is a 5xx nor a dropped connection.
#[test]
fn megabyte_tokens_hit_the_documented_limits() {
    let srv = TestServer::try_start(test_settings(), test_config()).unwrap();
    let w = Wire::of(&srv);
    let big = "A".repeat(1 << 20);
    for (route, field) in [
        ("api/token/verify/", "token"),
        ("api/token/refresh/", "refresh"),
        ("api/token/blacklist/", "refresh"),
    ] {
        let r = w.post(route, None, &json!({ field: big }));
        assert_eq!(r.status, 413, "{route}: {}", r.text);
    }
    let r = w.get("api/me/", Some(&big));
    assert_eq!(r.status, 431, "{}", r.text);
    // A non-UTF-8 body or header never becomes a 5xx either.
    let r =
        w.c.post(w.url("api/token/verify/"))
            .header("content-type", "application/json")
            .body(b"{\"token\":\"\xff\xfe\"}".to_vec())
            .send()
            .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r =
        w.c.get(w.url("api/me/"))
            .header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe.\xfd.\xfc").unwrap(),
            )
            .send()
            .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = w.form("api/token/verify/", &[("token", "\u{0}")]);
    assert_eq!(r.status, 400, "{}", r.text);
}

/// A client still sending a body the server refused before reading it gets
/// the refusal and a clean end of the connection, not a reset: the server
/// reads (and drops) the rest first. Without that, closing with unread data
/// makes the kernel reset the connection, and the 413 can be lost (seen once
/// in the test above, under load, as a transport error).
#[test]
fn a_client_still_sending_a_refused_body_gets_its_413_and_no_reset() {
    use std::io::{Read, Write};
    let srv = TestServer::try_start(test_settings(), test_config()).unwrap();
    // More than the kernel's buffers on both ends hold (tcp_wmem 4 MiB +
    // tcp_rmem up to 32 MiB here), so without the drain the server always
    // closes on unread data (4 MiB passed without it; 64 MiB failed).
    let body = vec![b'A'; 64 << 20];
    let mut conn = std::net::TcpStream::connect(srv.addr).unwrap();
    let head = format!(
        "POST /api/token/verify/ HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        srv.addr,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&body));
    let mut answer = Vec::new();
    let read = conn.read_to_end(&mut answer);
    let sent = sending.join().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        sent.is_ok(),
        "the body was cut off: {sent:?}; answer: {answer}"
    );
    assert!(
        read.is_ok(),
        "the answer was cut off: {read:?}; answer: {answer}"
    );
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
}

/// Found by schemathesis: unreadable bodies on the RFC 7009/7662 routes were
/// DRF's `detail`/`non_field_errors` where `{"error": "invalid_request"}` is
/// documented, and the documented 400 schema of the other routes had no room
/// for `{"detail": "JSON parse error - ..."}`.
#[test]
fn unreadable_bodies_get_the_documented_400_shapes() {
    let srv = TestServer::try_start(test_settings(), test_config()).unwrap();
    let w = Wire::of(&srv);
    let ctl = control(&srv, &w, "ivy");
    for route in ["api/token/revoke/", "api/token/introspect/"] {
        for body in [&b"[1,2]"[..], b"{not json", b"\"str\"", b"null"] {
            let r =
                w.c.post(w.url(route))
                    .bearer_auth(&ctl.access)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .unwrap();
            assert_eq!(r.status().as_u16(), 400, "{route}");
            let v: Value = r.json().unwrap();
            assert_eq!(v, json!({"error": "invalid_request"}), "{route} {body:?}");
        }
        // A wrong media type keeps its 415.
        let r =
            w.c.post(w.url(route))
                .bearer_auth(&ctl.access)
                .header("content-type", "text/plain")
                .body("token=x")
                .send()
                .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{route}");
    }
    // The served schema documents `detail` on field-error 400s.
    let schema = w.get("api/schema/", None);
    let field_errors = &schema.body["components"]["schemas"]["FieldErrors"];
    assert_eq!(
        field_errors["properties"]["detail"]["type"], "string",
        "{field_errors}"
    );
    let r =
        w.c.post(w.url("api/token/verify/"))
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().unwrap();
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - ")
    );
}
