//! Helpers for the hostile-conditions suites (issue 7): a small HTTP wire
//! client that never hides a 5xx, and token forging (raw header and payload
//! JSON, any key, any algorithm).

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use warden_auth::{KeyMaterial, KeyRing};

use crate::PASSWORD;
use crate::http::{TestServer, client};

/// An HTTP answer: status, body as JSON (Null when not JSON) and raw text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

/// A client of one server at `base` (`http://127.0.0.1:PORT/`).
#[derive(Debug, Clone)]
pub struct Wire {
    pub base: String,
    pub c: Client,
}

impl Wire {
    pub fn new(base: impl Into<String>) -> Wire {
        let mut base = base.into();
        if !base.ends_with('/') {
            base.push('/');
        }
        Wire { base, c: client() }
    }

    pub fn of(srv: &TestServer) -> Wire {
        Wire::new(srv.url(""))
    }

    /// A client of `srv` whose connections come from `local` (a loopback
    /// address such as 127.0.0.2), so the server sees another client address.
    #[allow(clippy::panic)]
    pub fn from(srv: &TestServer, local: &str) -> Wire {
        let ip = match local.parse() {
            Ok(ip) => ip,
            Err(e) => panic!("{local}: {e}"),
        };
        Wire {
            c: crate::http::client_from(ip),
            ..Wire::of(srv)
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends a request; a transport error is an `Err`, any HTTP answer an `Ok`.
    pub fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        json_body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut b = self.c.request(method, self.url(path));
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(v) = json_body {
            b = b.json(v);
        }
        let r = b.send().with_context(|| format!("send {path}"))?;
        reply(r)
    }

    /// Like [`Wire::try_send`], but a transport error panics (the server is
    /// expected to be up).
    #[allow(clippy::panic)]
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        json_body: Option<&Value>,
    ) -> Reply {
        match self.try_send(method, path, bearer, json_body) {
            Ok(r) => r,
            Err(e) => panic!("{path}: {e:#}"),
        }
    }

    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, bearer, Some(body))
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, bearer, None)
    }

    /// A form-encoded POST.
    #[allow(clippy::panic)]
    pub fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        match self
            .c
            .post(self.url(path))
            .form(pairs)
            .send()
            .map_err(anyhow::Error::from)
            .and_then(reply)
        {
            Ok(r) => r,
            Err(e) => panic!("{path}: {e:#}"),
        }
    }

    /// Logs in with the kit's password: (access, refresh), or the refusal.
    pub fn login(&self, username: &str) -> Result<(String, String), Box<Reply>> {
        self.login_with(username, PASSWORD)
    }

    pub fn login_with(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, String), Box<Reply>> {
        let r = self.post(
            "api/token/",
            None,
            &json!({"username": username, "password": password}),
        );
        if r.status == 200 {
            Ok((text(&r.body["access"]), text(&r.body["refresh"])))
        } else {
            Err(Box::new(r))
        }
    }

    pub fn refresh(&self, refresh: &str) -> Reply {
        self.post("api/token/refresh/", None, &json!({"refresh": refresh}))
    }

    /// Whether an access token authenticates `GET api/me/`.
    pub fn access_ok(&self, access: &str) -> bool {
        self.get("api/me/", Some(access)).status == 200
    }
}

fn reply(r: reqwest::blocking::Response) -> anyhow::Result<Reply> {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().context("read the body")?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        body,
        text,
        headers,
    })
}

/// A JSON string value as a `String` ("" otherwise).
pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a forged token is signed.
#[derive(Debug, Clone)]
pub enum Signer {
    /// No signature at all (empty third part).
    Empty,
    /// A fixed third part, verbatim.
    Raw(String),
    /// HMAC with these secret bytes and this algorithm.
    Hmac(jsonwebtoken::Algorithm, Vec<u8>),
    /// The active key of a ring rebuilt from these materials (e.g. a server's
    /// keys captured before a rotation).
    Key(Vec<KeyMaterial>),
}

/// `header.payload.signature` from raw header and payload bytes (not
/// necessarily JSON, not necessarily UTF-8).
pub fn forge(header: &[u8], payload: &[u8], signer: &Signer) -> anyhow::Result<String> {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = match signer {
        Signer::Empty => String::new(),
        Signer::Raw(s) => s.clone(),
        Signer::Hmac(alg, secret) => jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret)?,
            *alg,
        )?,
        Signer::Key(materials) => {
            let ring = KeyRing::from_materials(materials.clone())?;
            let key = ring.active();
            jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.jwt_algorithm())?
        }
    };
    Ok(format!("{input}.{signature}"))
}

/// The server's active key header (`{"alg","typ","kid"}`) as JSON.
pub fn active_header(srv: &TestServer) -> anyhow::Result<Value> {
    let ring = KeyRing::from_materials(srv.engine.service.key_materials())?;
    let raw = URL_SAFE_NO_PAD.decode(ring.active().header_b64())?;
    Ok(serde_json::from_slice(&raw)?)
}

/// Signs raw header and payload bytes with the server's active key.
pub fn sign_raw(srv: &TestServer, header: &[u8], payload: &[u8]) -> anyhow::Result<String> {
    forge(
        header,
        payload,
        &Signer::Key(srv.engine.service.key_materials()),
    )
}
