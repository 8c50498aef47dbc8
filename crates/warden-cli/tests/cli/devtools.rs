//! Developer tools on the command line, black-box: `warden decode` with every
//! key source and `warden login --trace` against a real `warden serve` over
//! loopback (real processes, a real database file).

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{Env, FAST, PASSWORD, run_command};

impl Env {
    /// EdDSA keys generated into the key file (public keys in the JWKS).
    fn eddsa() -> Env {
        Env::with_config(&format!(
            "{FAST}ALGORITHM = \"EdDSA\"\n[server]\nKEY_STORE = \"file\"\n"
        ))
    }
}

/// Exit status 1 and exactly one `error:` line on stderr; returns (stdout, that line).
fn failure(out: &Output, what: &str) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: stdout {stdout} stderr {stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{what}: one error line expected: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (stdout, errors[0].to_string())
}

fn get_text(url: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.text().await.unwrap()
    })
}

/// A token pair straight from the server (no warden code on the client side).
fn login(base: &str, username: &str) -> (String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}api/token/"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        (
            body["access"].as_str().unwrap().to_string(),
            body["refresh"].as_str().unwrap().to_string(),
        )
    })
}

/// Every `eyJ` in `text` is a redacted token (`eyJhbG…`), never a whole one.
fn assert_redacted(text: &str, tokens: &[&str]) {
    for t in tokens {
        assert!(!text.contains(t), "a token leaked: {text}");
        // No part of the signature or payload either.
        let tail = &t[t.len() - 20..];
        assert!(!text.contains(tail), "part of a token leaked: {text}");
    }
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
}

// ---------------------------------------------------------------------------
// decode

#[test]
fn decode_checks_the_signature_with_a_jwks_url_or_file_and_json_output() {
    let env = Env::eddsa();
    env.add_user("alice");
    let server = env.serve();
    let (access, _) = login(&server.url(""), "alice");
    let jwks_url = format!("{}.well-known/jwks.json", server.url(""));

    let out = env.ok(&["decode", "--jwks", &jwks_url, &access], None);
    assert!(out.contains("Signature: valid (kid `"), "{out}");
    assert!(out.contains("in the JWKS"), "{out}");
    assert!(out.contains("claims pass validation"), "{out}");

    // The JSON form the desktop app shows.
    let out = env.ok(&["decode", "--json", "--jwks", &jwks_url, &access], None);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signature"]["status"], "valid", "{v}");
    assert_eq!(v["alg"], "EdDSA");
    assert_eq!(v["token_type"], "access");
    assert_eq!(v["claims"]["ok"], true);
    assert!(v["times"]["exp"].as_i64().unwrap() > v["now"].as_i64().unwrap());

    // The same JWKS saved to a file.
    let file = env.dir.path().join("jwks.json");
    let doc = get_text(&jwks_url);
    std::fs::write(&file, doc).unwrap();
    let out = env.ok(&["decode", "--jwks", file.to_str().unwrap(), &access], None);
    assert!(out.contains("Signature: valid"), "{out}");

    // Another JWKS (the fixture's RSA keys): no key for this kid.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../warden-auth/tests/fixtures/rsa2048.jwks.json");
    let out = env.run(
        &["decode", "--jwks", fixture.to_str().unwrap(), &access],
        None,
    );
    let (stdout, err) = failure(&out, "decode with a foreign JWKS");
    assert!(err.contains("signature check failed"), "{err}");
    assert!(
        stdout.contains("is not one of the keys in the JWKS"),
        "{stdout}"
    );
    assert!(stdout.contains("[kid_unknown]"), "{stdout}");

    // A PEM key of another type: cannot verify.
    let pem =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../warden-auth/tests/fixtures/rsa2048.pub.pem");
    let out = env.run(&["decode", "--key", pem.to_str().unwrap(), &access], None);
    let (_, err) = failure(&out, "decode with an RSA key");
    assert!(err.contains("cannot verify"), "{err}");

    // An unreachable JWKS URL is a clear error.
    drop(server);
    let out = env.run(&["decode", "--jwks", &jwks_url, &access], None);
    let (_, err) = failure(&out, "decode with the server gone");
    assert!(err.contains("cannot fetch the JWKS"), "{err}");
}

#[test]
fn decode_checks_an_hmac_secret_from_the_environment() {
    let env = Env::config_key();
    env.add_user("alice");
    let server = env.serve();
    let (access, _) = login(&server.url(""), "alice");
    drop(server);

    let mut cmd = env.command(&["decode", "--secret-env", "DEVTOOLS_SECRET", &access]);
    cmd.env("DEVTOOLS_SECRET", warden_tests::TEST_SECRET);
    let out = run_command(cmd, None);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("Signature: valid (the 52-byte HMAC secret)"),
        "{stdout}"
    );
    assert!(!stdout.contains(warden_tests::TEST_SECRET));

    let mut cmd = env.command(&["decode", "--secret-env", "DEVTOOLS_SECRET", &access]);
    cmd.env("DEVTOOLS_SECRET", "short");
    let out = run_command(cmd, None);
    let (stdout, err) = failure(&out, "decode with a wrong short secret");
    assert!(err.contains("signature check failed"), "{err}");
    assert!(stdout.contains("[short_hmac_key]"), "{stdout}");

    let out = env.run(
        &["decode", "--secret-env", "DEVTOOLS_UNSET_VAR", &access],
        None,
    );
    let (_, err) = failure(&out, "decode with an unset variable");
    assert!(err.contains("DEVTOOLS_UNSET_VAR is not set"), "{err}");

    // Key sources are exclusive.
    let out = env.run(&["decode", "--verify", "--jwks", "x", &access], None);
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------
// login --trace

#[test]
fn login_trace_prints_the_timeline_and_explains_the_replay_refusal() {
    let env = Env::config_key();
    env.add_user("alice");
    let server = env.serve();
    let url = server.url("");

    let out = env.run(
        &[
            "login",
            "--trace",
            &url,
            "alice",
            "--password-stdin",
            "--refresh",
            "--verify",
            "--replay",
            "--curl",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stdout {stdout}\nstderr {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(
        rows[0].contains("POST") && rows[0].contains("api/token/ ") && rows[0].contains(" 200 "),
        "{stdout}"
    );
    assert!(
        rows[1].contains("api/token/refresh/") && rows[1].contains(" 200 "),
        "{stdout}"
    );
    assert!(
        rows[2].contains("api/token/verify/") && rows[2].contains(" 200 "),
        "{stdout}"
    );
    assert!(
        rows[3].contains("api/token/refresh/") && rows[3].contains(" 401 "),
        "{stdout}"
    );
    assert!(rows[3].contains("token_not_valid"), "{stdout}");
    assert!(rows.iter().all(|r| r.contains(" ms")), "{stdout}");
    // The replay is refused and explained: Warden revokes the family.
    assert!(stdout.contains("refused (reuse_detected)"), "{stdout}");
    assert!(stdout.contains("fix: Sign in again"), "{stdout}");
    // Each exchange as curl, redacted.
    assert!(
        stdout.contains(&format!("curl -X POST '{url}api/token/'")),
        "{stdout}"
    );
    assert!(stdout.contains("\"password\":\"<password>\""), "{stdout}");
    assert!(
        stdout.contains("\"refresh\":\"eyJhbG…<redacted>\""),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    // No token leaks: whatever tokens the server handed out, none appears.
    let (access, refresh) = login(&url, "alice");
    assert_redacted(&stdout, &[&access, &refresh]);
    for chunk in stdout.split("eyJ").skip(1) {
        assert!(
            chunk.starts_with("hbG…<redacted>"),
            "unredacted token in {stdout}"
        );
    }
}

#[test]
fn login_trace_explains_a_wrong_password_and_an_unreachable_server() {
    let env = Env::config_key();
    env.add_user("alice");
    let server = env.serve();
    let url = server.url("");

    let mut cmd = env.command(&[
        "login",
        "--trace",
        &url,
        "alice",
        "--password-env",
        "DEVTOOLS_PW",
    ]);
    cmd.env("DEVTOOLS_PW", "not the password");
    let out = run_command(cmd, None);
    let (stdout, err) = failure(&out, "login with a wrong password");
    assert!(err.contains("sign-in refused"), "{err}");
    assert!(stdout.contains(" 401 "), "{stdout}");
    assert!(stdout.contains("invalid_credentials"), "{stdout}");
    assert!(stdout.contains("refused (wrong_credentials)"), "{stdout}");
    assert!(!stdout.contains("not the password") && !err.contains("not the password"));

    // The right password with the password on stdin: signed in and verified.
    let out = env.run(
        &[
            "login",
            "--trace",
            &url,
            "alice",
            "--password-stdin",
            "--verify",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("refused ("));

    // Nothing listening: the refusal is explained as unreachable.
    drop(server);
    let out = env.run(
        &["login", "--trace", &url, "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let (stdout, err) = failure(&out, "login with the server gone");
    assert!(err.contains("sign-in refused"), "{err}");
    assert!(stdout.contains("refused (unreachable)"), "{stdout}");

    // A script without a password source gets a clear error, not a hang.
    let out = env.run(&["login", "--trace", &url, "alice"], Some(""));
    let (_, err) = failure(&out, "login without a password");
    assert!(err.contains("--password-stdin"), "{err}");
}
