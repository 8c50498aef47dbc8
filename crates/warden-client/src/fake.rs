//! A tiny SimpleJWT-like server for the crate's own tests, with knobs for
//! fault injection: slow or failing refreshes, server clock skew, tokens
//! declared expired, a Warden capabilities document or none.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::jwt::decode_claims;
use crate::scheduler::wall_now;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Default)]
pub struct FakeState {
    pub access_lifetime: AtomicI64,
    pub refresh_lifetime: AtomicI64,
    /// Server clock = local clock + skew (seconds).
    pub skew: AtomicI64,
    pub refresh_delay_ms: AtomicU64,
    pub refreshes: AtomicUsize,
    pub me_calls: AtomicUsize,
    pub me_refused: AtomicUsize,
    /// Answer every refresh with this status and body.
    pub fail_refresh: Mutex<Option<(u16, Value)>>,
    /// Serve Warden's capabilities document (else 404, as SimpleJWT).
    pub warden: AtomicBool,
    /// Access tokens with these jtis are refused as expired.
    pub expired_access: Mutex<HashSet<String>>,
    /// Refresh jtis that may be used.
    pub outstanding: Mutex<HashSet<String>>,
    /// Refresh jtis rotated away or blacklisted.
    pub blacklisted: Mutex<HashSet<String>>,
    counter: AtomicU64,
}

impl FakeState {
    pub fn server_now(&self) -> i64 {
        wall_now() as i64 + self.skew.load(Ordering::SeqCst)
    }

    fn jti(&self) -> String {
        format!("jti{:06}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    pub fn mint(&self, kind: &str, lifetime: i64) -> (String, String) {
        let now = self.server_now();
        let jti = self.jti();
        let payload = json!({
            "token_type": kind,
            "exp": now + lifetime,
            "iat": now,
            "jti": jti,
            "user_id": "1",
            "sid": "0123456789abcdef0123456789abcdef",
        });
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.to_string());
        (
            format!("{header}.{body}.ZmFrZS1zaWduYXR1cmUtbm90LWNoZWNrZWQ"),
            jti,
        )
    }

    fn pair(&self) -> Value {
        let (access, _) = self.mint("access", self.access_lifetime.load(Ordering::SeqCst));
        let (refresh, jti) = self.mint("refresh", self.refresh_lifetime.load(Ordering::SeqCst));
        self.outstanding.lock().insert(jti);
        json!({ "access": access, "refresh": refresh })
    }
}

pub struct FakeServer {
    pub url: String,
    pub state: Arc<FakeState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn token_error(message: &str, reason: Option<&str>) -> Response {
    let mut body = json!({ "detail": message, "code": "token_not_valid" });
    if let (Some(r), Some(o)) = (reason, body.as_object_mut()) {
        o.insert("reason".into(), Value::from(r));
    }
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

async fn obtain(State(st): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    if body.get("password").and_then(Value::as_str) == Some(PASSWORD) {
        Json(st.pair()).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "No active account found with the given credentials"})),
        )
            .into_response()
    }
}

async fn refresh(State(st): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    st.refreshes.fetch_add(1, Ordering::SeqCst);
    let delay = st.refresh_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some((status, body)) = st.fail_refresh.lock().clone() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, Json(body)).into_response();
    }
    let token = body.get("refresh").and_then(Value::as_str).unwrap_or("");
    let Ok(claims) = decode_claims(token) else {
        return token_error("Token is invalid", Some("malformed"));
    };
    let jti = claims.jti.unwrap_or_default();
    if st.blacklisted.lock().contains(&jti) {
        return token_error("Token is blacklisted", Some("reuse_detected"));
    }
    if !st.outstanding.lock().remove(&jti) {
        return token_error("Token is invalid", Some("not_outstanding"));
    }
    if claims.exp.unwrap_or(0) <= st.server_now() {
        return token_error("Token is expired", Some("expired"));
    }
    st.blacklisted.lock().insert(jti);
    Json(st.pair()).into_response()
}

async fn blacklist(State(st): State<Arc<FakeState>>, Json(body): Json<Value>) -> Response {
    let token = body.get("refresh").and_then(Value::as_str).unwrap_or("");
    let jti = decode_claims(token)
        .ok()
        .and_then(|c| c.jti)
        .unwrap_or_default();
    st.outstanding.lock().remove(&jti);
    st.blacklisted.lock().insert(jti);
    Json(json!({})).into_response()
}

async fn me(State(st): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    st.me_calls.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let claims = decode_claims(token).ok();
    let now = st.server_now();
    let fresh = claims.as_ref().is_some_and(|c| {
        c.token_type.as_deref() == Some("access")
            && c.exp.is_some_and(|exp| exp > now)
            && !c
                .jti
                .as_ref()
                .is_some_and(|j| st.expired_access.lock().contains(j))
    });
    if fresh {
        return Json(json!({"id": 1, "username": "alice"})).into_response();
    }
    st.me_refused.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "detail": "Given token not valid for any token type",
            "code": "token_not_valid",
            "messages": [{"token_class": "AccessToken", "token_type": "access", "message": "Token is expired"}],
        })),
    )
        .into_response()
}

async fn capabilities(State(st): State<Arc<FakeState>>) -> Response {
    if !st.warden.load(Ordering::SeqCst) {
        return (StatusCode::NOT_FOUND, "<h1>Not Found</h1>").into_response();
    }
    Json(json!({
        "server": "fake",
        "version": "0",
        "features": ["logout", "logout_all", "sessions"],
        "rotate_refresh_tokens": true,
        "blacklist_after_rotation": true,
        "access_token_lifetime": st.access_lifetime.load(Ordering::SeqCst),
        "refresh_token_lifetime": st.refresh_lifetime.load(Ordering::SeqCst),
        "auth_header_types": ["Bearer"],
    }))
    .into_response()
}

async fn logout_all() -> Response {
    Json(json!({"revoked": 1})).into_response()
}

impl FakeServer {
    /// A server on 127.0.0.1 (ephemeral port) issuing tokens with these lifetimes.
    pub async fn start(access_lifetime: i64, refresh_lifetime: i64) -> FakeServer {
        let state = Arc::new(FakeState::default());
        state
            .access_lifetime
            .store(access_lifetime, Ordering::SeqCst);
        state
            .refresh_lifetime
            .store(refresh_lifetime, Ordering::SeqCst);
        let app = Router::new()
            .route("/api/token/", post(obtain))
            .route("/api/token/refresh/", post(refresh))
            .route("/api/token/blacklist/", post(blacklist))
            .route("/api/me/", get(me))
            .route("/api/capabilities/", get(capabilities))
            .route("/api/logout-all/", post(logout_all))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        FakeServer {
            url: format!("http://{addr}/"),
            state,
            shutdown: Some(tx),
        }
    }
}
