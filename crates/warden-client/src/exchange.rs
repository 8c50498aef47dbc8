//! A record of every HTTP exchange, for the app's timeline: method, URL,
//! status, latency, the error's code, and the request as "copy as curl" needs
//! it with every credential redacted.
//!
//! Tokens sent (Authorization header, `refresh`/`access`/`token` body fields)
//! appear only in a redacted form (`eyJhbG…<redacted>`) in everything that is
//! serialised or debug-printed; the raw values are kept in memory only, in
//! [`Exchange::secrets`], so [`Exchange::to_curl`] can reveal them on explicit
//! request. Passwords are never kept, not even in memory: they are replaced by
//! `<password>` before the exchange is recorded.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

/// How many exchanges the timeline keeps.
pub const TIMELINE_CAPACITY: usize = 200;

/// One request and its answer (or the lack of one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Exchange {
    /// Unix time in milliseconds when the request was sent.
    pub at: i64,
    /// The HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// Relative to the base URL, query included; paths never carry tokens.
    pub path: String,
    /// `None` when no answer came (network error, timeout).
    pub status: Option<u16>,
    /// From sending the request to the whole answer read.
    pub latency_ms: u64,
    /// The server's `code` (`token_not_valid`, `locked_out`, ...) or, when the
    /// body has none, the client's (`connect`, `timeout`, `invalid_credentials`, ...).
    pub error_code: Option<String>,
    /// Warden's `reason`, or SimpleJWT's message when there is no reason.
    pub reason: Option<String>,
    /// Which credential went with the request, redacted (`access eyJhbG…`).
    pub credential: Option<String>,
    /// Warden's request id, to find the server's log line.
    pub request_id: Option<String>,
    /// What the developer tools need beyond the timeline row: the server's
    /// `detail`, the full URL and the redacted request. Boxed to keep the
    /// exchange small; serialised flat (`detail`, `url`, `request_headers`,
    /// `request_body` next to the fields above).
    #[serde(flatten)]
    pub record: Box<ExchangeRecord>,
}

/// The request side of an [`Exchange`], redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExchangeRecord {
    /// The server's `detail` message when the request was refused.
    pub detail: Option<String>,
    /// The full URL, query included (URLs never carry tokens).
    pub url: String,
    /// Request headers that matter for reproducing it (Authorization with the
    /// credential redacted, X-Warden-Device, Content-Type), in sending order.
    pub request_headers: Vec<(String, String)>,
    /// The JSON request body with passwords as `<password>` and tokens redacted.
    pub request_body: Option<Value>,
    /// The raw tokens behind the redacted values, in memory only: never
    /// serialised, never shown by `Debug`.
    #[serde(skip)]
    pub secrets: Secrets,
}

/// Where a redacted token sits in the recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSlot {
    /// A request header, by lowercase name; the value is the whole header value.
    Header(String),
    /// A top-level field of the JSON body.
    BodyField(String),
}

/// The raw tokens of one exchange. `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(Vec<(SecretSlot, String)>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0.len())
    }
}

impl Secrets {
    /// No token went with the request.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, slot: &SecretSlot) -> Option<&str> {
        self.0
            .iter()
            .find(|(s, _)| s == slot)
            .map(|(_, v)| v.as_str())
    }
}

/// Body fields that hold tokens.
const TOKEN_FIELDS: [&str; 5] = [
    "refresh",
    "access",
    "token",
    "refresh_token",
    "access_token",
];

/// How a token is shown in the timeline: its first six characters then
/// `…<redacted>`; short values show nothing of themselves.
pub(crate) fn redact_secret(value: &str) -> String {
    if value.chars().count() < 24 {
        return "<redacted>".to_string();
    }
    let prefix: String = value.chars().take(6).collect();
    format!("{prefix}…<redacted>")
}

fn is_password_field(name: &str) -> bool {
    name.to_ascii_lowercase().contains("password")
}

/// The request as the timeline keeps it: headers and body with secrets
/// redacted (passwords dropped), and the raw tokens set aside.
pub(crate) fn record_request(
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> (Vec<(String, String)>, Option<Value>, Secrets) {
    let mut secrets = Vec::new();
    let mut shown = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = name.to_string();
        if name.eq_ignore_ascii_case("authorization") {
            let (scheme, credential) = value.split_once(' ').unwrap_or(("", value.as_str()));
            let redacted = if scheme.is_empty() {
                redact_secret(credential)
            } else {
                format!("{scheme} {}", redact_secret(credential))
            };
            secrets.push((SecretSlot::Header(name.to_ascii_lowercase()), value.clone()));
            shown.push((name, redacted));
        } else {
            shown.push((name, value.clone()));
        }
    }
    let body = body.map(|body| match body {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let shown_value = if is_password_field(key) {
                    Value::String("<password>".into())
                } else if TOKEN_FIELDS.contains(&key.as_str())
                    && let Some(token) = value.as_str()
                {
                    secrets.push((SecretSlot::BodyField(key.clone()), token.to_string()));
                    Value::String(redact_secret(token))
                } else {
                    value.clone()
                };
                out.insert(key.clone(), shown_value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    });
    (shown, body, Secrets(secrets))
}

/// A word for a POSIX shell: single-quoted, `'` as `'\''`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Exchange {
    /// The request as a `curl` command line. Tokens are redacted unless
    /// `reveal`; passwords are always `<password>` (they are never kept).
    pub fn to_curl(&self, reveal: bool) -> String {
        let mut parts = vec!["curl".to_string()];
        if self.method != "GET" {
            parts.push(format!("-X {}", self.method));
        }
        let record = &self.record;
        let url = if record.url.is_empty() {
            self.path.clone()
        } else {
            record.url.clone()
        };
        parts.push(shell_quote(&url));
        for (name, value) in &record.request_headers {
            let slot = SecretSlot::Header(name.to_ascii_lowercase());
            let value = match record.secrets.get(&slot) {
                Some(raw) if reveal => raw,
                _ => value.as_str(),
            };
            parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
        }
        if let Some(body) = &record.request_body {
            let mut body = body.clone();
            if reveal && let Value::Object(map) = &mut body {
                for (key, value) in map.iter_mut() {
                    if let Some(raw) = record.secrets.get(&SecretSlot::BodyField(key.clone())) {
                        *value = Value::String(raw.to_string());
                    }
                }
            }
            parts.push(format!("--data-raw {}", shell_quote(&body.to_string())));
        }
        parts.join(" ")
    }
}

type Listener = Box<dyn Fn(&Exchange) + Send + Sync>;

/// The last [`TIMELINE_CAPACITY`] exchanges, and who wants to hear of new ones.
#[derive(Default)]
pub(crate) struct ExchangeLog {
    ring: Mutex<VecDeque<Exchange>>,
    listeners: Mutex<Vec<Listener>>,
}

impl fmt::Debug for ExchangeLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeLog")
            .field("len", &self.ring.lock().len())
            .field("listeners", &self.listeners.lock().len())
            .finish()
    }
}

impl ExchangeLog {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ExchangeLog::default())
    }

    pub(crate) fn record(&self, exchange: Exchange) {
        {
            let mut ring = self.ring.lock();
            if ring.len() == TIMELINE_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(exchange.clone());
        }
        for listener in self.listeners.lock().iter() {
            listener(&exchange);
        }
    }

    /// Oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Exchange> {
        self.ring.lock().iter().cloned().collect()
    }

    /// Calls `f` for every exchange recorded from now on (on the recording task;
    /// keep it short and never block).
    pub(crate) fn subscribe(&self, f: impl Fn(&Exchange) + Send + Sync + 'static) {
        self.listeners.lock().push(Box::new(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ex(i: i64) -> Exchange {
        Exchange {
            at: i,
            method: "GET".into(),
            path: "api/me/".into(),
            status: Some(200),
            latency_ms: 1,
            error_code: None,
            reason: None,
            credential: None,
            request_id: None,
            ..Exchange::default()
        }
    }

    #[test]
    fn keeps_the_last_200_oldest_first() {
        let log = ExchangeLog::new();
        for i in 0..250 {
            log.record(ex(i));
        }
        let snap = log.snapshot();
        assert_eq!(snap.len(), TIMELINE_CAPACITY);
        assert_eq!(snap.first().unwrap().at, 50);
        assert_eq!(snap.last().unwrap().at, 249);
    }

    #[test]
    fn listeners_hear_every_exchange() {
        let log = ExchangeLog::new();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        log.subscribe(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        for i in 0..5 {
            log.record(ex(i));
        }
        assert_eq!(n.load(Ordering::SeqCst), 5);
    }
    // ------------------------------------------------------------------
    // Redaction and copy as curl

    const PASSWORD: &str = "hunter2-very-secret";

    fn jwt_like(tag: &str) -> String {
        format!("eyJhbGciOiJIUzI1NiJ9.eyJ{tag}aaaaaaaaaaaaaaaaaaaaaaaa.sig{tag}nature0000000000")
    }

    fn assert_clean(text: &str, secrets: &[&str]) {
        for s in secrets {
            assert!(!text.contains(s), "a secret leaked into: {text}");
        }
    }

    #[test]
    fn recorded_requests_redact_tokens_and_drop_passwords() {
        let access = jwt_like("ACCESS");
        let refresh = jwt_like("REFRESH");
        let body = serde_json::json!({
            "refresh": refresh, "username": "alice", "password": PASSWORD,
            "old_password": PASSWORD, "new_password": PASSWORD, "n": 3
        });
        let (headers, body, secrets) = record_request(
            &[
                ("Authorization", format!("Bearer {access}")),
                ("X-Warden-Device", "laptop".into()),
                ("Content-Type", "application/json".into()),
            ],
            Some(&body),
        );
        let ex = Exchange {
            method: "POST".into(),
            path: "api/logout/".into(),
            record: Box::new(ExchangeRecord {
                url: "http://127.0.0.1:9/api/logout/".into(),
                request_headers: headers,
                request_body: body,
                secrets,
                ..ExchangeRecord::default()
            }),
            ..Exchange::default()
        };
        let all = [access.as_str(), refresh.as_str(), PASSWORD];
        let json = serde_json::to_string(&ex).unwrap();
        assert_clean(&json, &all);
        assert!(!json.contains("secrets"), "{json}");
        assert!(json.contains("eyJhbG…<redacted>"), "{json}");
        assert!(json.contains("<password>"), "{json}");
        assert!(json.contains("laptop"), "{json}");
        assert_clean(&format!("{ex:?}"), &all);
        assert_clean(&format!("{ex:#?}"), &all);

        let curl = ex.to_curl(false);
        assert_clean(&curl, &all);
        assert!(
            curl.starts_with("curl -X POST 'http://127.0.0.1:9/api/logout/'"),
            "{curl}"
        );
        assert!(
            curl.contains("-H 'Authorization: Bearer eyJhbG…<redacted>'"),
            "{curl}"
        );
        assert!(curl.contains("-H 'X-Warden-Device: laptop'"), "{curl}");

        let revealed = ex.to_curl(true);
        assert!(
            revealed.contains(&format!("Authorization: Bearer {access}")),
            "{revealed}"
        );
        assert!(revealed.contains(&refresh), "{revealed}");
        assert_clean(&revealed, &[PASSWORD]);
        assert!(
            revealed.contains("\"password\":\"<password>\""),
            "{revealed}"
        );
    }

    #[test]
    fn curl_quotes_for_the_shell_and_short_values_show_nothing() {
        let (headers, body, secrets) = record_request(
            &[],
            Some(&serde_json::json!({"token": "short", "q": "it's"})),
        );
        let ex = Exchange {
            method: "POST".into(),
            record: Box::new(ExchangeRecord {
                url: "http://h/api/token/verify/".into(),
                request_headers: headers,
                request_body: body,
                secrets,
                ..ExchangeRecord::default()
            }),
            ..Exchange::default()
        };
        let curl = ex.to_curl(false);
        assert!(curl.contains("\"token\":\"<redacted>\""), "{curl}");
        assert!(curl.contains("it'\\''s"), "{curl}");
        assert!(ex.to_curl(true).contains("\"token\":\"short\""));
        let get = Exchange {
            method: "GET".into(),
            record: Box::new(ExchangeRecord {
                url: "http://h/api/me/".into(),
                ..ExchangeRecord::default()
            }),
            ..Exchange::default()
        };
        assert_eq!(get.to_curl(false), "curl 'http://h/api/me/'");
    }

    #[tokio::test]
    async fn a_real_client_records_full_requests_without_secrets() {
        use crate::fake::{FakeServer, PASSWORD as FAKE_PASSWORD};
        use crate::{Client, ClientConfig};

        let server = FakeServer::start(300, 600).await;
        let mut config = ClientConfig::new(server.url.clone());
        config.device_label = Some("test-device".into());
        let client = Client::new(config).unwrap();
        let pair = client.obtain_pair("alice", FAKE_PASSWORD).await.unwrap();
        client.me(&pair.access).await.unwrap();
        let rotated = client.refresh(&pair.refresh).await.unwrap();
        // Replaying the rotated-away token is refused.
        let _ = client.refresh(&pair.refresh).await.unwrap_err();
        let _ = client
            .obtain_pair("alice", "wrong password!")
            .await
            .unwrap_err();

        let timeline = client.timeline();
        let mut all = vec![
            pair.access.as_str(),
            pair.refresh.as_str(),
            FAKE_PASSWORD,
            "wrong password!",
        ];
        if let Some(r) = rotated.refresh.as_deref() {
            all.push(r);
        }
        all.push(rotated.access.as_str());
        let json = serde_json::to_string(&timeline).unwrap();
        assert_clean(&json, &all);
        assert_clean(&format!("{timeline:?}"), &all);
        for ex in &timeline {
            assert!(ex.record.url.starts_with(&server.url), "{}", ex.record.url);
            assert_clean(&ex.to_curl(false), &all);
            assert_clean(&ex.to_curl(true), &[FAKE_PASSWORD, "wrong password!"]);
        }
        let login = &timeline[0];
        assert_eq!(login.path, "api/token/");
        assert_eq!(
            login.record.request_body.as_ref().unwrap()["password"],
            "<password>"
        );
        assert!(
            login
                .record
                .request_headers
                .iter()
                .any(|(n, v)| n == "X-Warden-Device" && v == "test-device")
        );
        let me = timeline.iter().find(|e| e.path == "api/me/").unwrap();
        assert!(me.to_curl(true).contains(&pair.access));
        let replay = timeline
            .iter()
            .filter(|e| e.path == "api/token/refresh/")
            .nth(1)
            .unwrap();
        assert_eq!(replay.status, Some(401));
        assert!(replay.to_curl(true).contains(&pair.refresh));
        assert!(replay.record.detail.is_some(), "{replay:?}");
        let failed_login = timeline.last().unwrap();
        assert_eq!(
            failed_login.error_code.as_deref(),
            Some("invalid_credentials")
        );
    }
}
