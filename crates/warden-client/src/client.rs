//! The HTTP client: every SimpleJWT and Warden route, typed.
//!
//! Stateless apart from the capabilities document (read once) and the exchange
//! log; tokens are passed in by the caller (usually the [`SessionManager`]).
//!
//! [`SessionManager`]: crate::SessionManager

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;
use warden_proto::{
    AuditRecord, Capabilities, ChangePasswordRequest, Introspection, Lineage, LockRequest, Me,
    ObtainRequest, Reason, ReasonRequest, RefreshRequest, RefreshResponse, RegisterRequest,
    Registered, RevokeRequest, RevokedCount, RevokedFlag, SessionInfo, SetPasswordRequest,
    SetStaffRequest, SlidingToken, StaffUser, StaffUserDetail, TokenPair, TokenRequest,
};

use crate::config::{ClientConfig, Feature};
use crate::error::{ClientError, Result};
use crate::exchange::{Exchange, ExchangeLog};
use crate::jwt::{decode_claims, redact};
use crate::search::{AuditSearch, UserSearch};

/// A success answer: status and body (the body is JSON on every route).
#[derive(Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The body as received.
    pub body: Vec<u8>,
}

impl fmt::Debug for Answer {
    // Bodies can hold tokens: show their size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Answer {
    /// The body as `T`; [`ClientError::UnexpectedBody`] when it is not one.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| ClientError::UnexpectedBody {
            status: self.status,
            message: e.to_string(),
        })
    }

    /// The body as JSON; an empty body is `null`.
    pub fn value(&self) -> Result<Value> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        self.json()
    }
}

/// What goes with a request: a Bearer token, and a label for the timeline.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// Sent as `Authorization: <auth_header_type> <token>`.
    pub bearer: Option<&'a str>,
    /// A token in the body (refresh, verify, blacklist), only for the timeline label.
    pub body_token: Option<(&'static str, &'a str)>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label().as_deref().unwrap_or("none"))
    }
}

impl<'a> Credentials<'a> {
    /// An access token in the `Authorization` header.
    pub fn bearer(token: &'a str) -> Self {
        Credentials {
            bearer: Some(token),
            body_token: None,
        }
    }

    /// A token of `kind` (`refresh`, `token`) sent in the body.
    pub fn body(kind: &'static str, token: &'a str) -> Self {
        Credentials {
            bearer: None,
            body_token: Some((kind, token)),
        }
    }

    fn label(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(t) = self.bearer {
            parts.push(token_label("access", t));
        }
        if let Some((kind, t)) = self.body_token {
            parts.push(token_label(kind, t));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// `access jti 3f2a1c…`: the token's id tells tokens apart; the token itself is
/// shown as its first six characters at most.
pub(crate) fn token_label(kind: &str, token: &str) -> String {
    match decode_claims(token).ok().and_then(|c| c.jti) {
        Some(jti) => format!("{kind} jti {}", redact_id(&jti)),
        None => format!("{kind} {}", redact(token)),
    }
}

fn redact_id(id: &str) -> String {
    let prefix: String = id.chars().take(6).collect();
    if prefix.len() < id.len() {
        format!("{prefix}…")
    } else {
        prefix
    }
}

pub(crate) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A request body as JSON. Through a `Value` the keys go out in serde_json's
/// map order (sorted), so the bytes sent do not depend on the order of the
/// type's fields.
fn request_body(req: &impl Serialize) -> Result<Value> {
    // Cannot fail: the request types hold strings, booleans and integers only.
    serde_json::to_value(req).map_err(|e| ClientError::InvalidConfig(format!("request body: {e}")))
}

fn obtain_request(username: &str, password: &str) -> ObtainRequest {
    ObtainRequest {
        username: username.to_string(),
        password: password.to_string(),
        // The label goes in the `X-Warden-Device` header (ClientConfig::device_label).
        device_label: None,
    }
}

/// An id that may go into a path as one segment.
fn path_id(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(id)
    } else {
        Err(ClientError::NotFound)
    }
}

struct ClientInner {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    capabilities: OnceCell<Option<Arc<Capabilities>>>,
    log: Arc<ExchangeLog>,
}

/// A client for one server. Cheap to clone; clones share the connection pool,
/// the capabilities and the exchange log.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("auth_header_type", &self.inner.config.auth_header_type)
            .finish_non_exhaustive()
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Client {
    /// A client for `config`'s server. Nothing is sent yet; an unusable
    /// configuration is [`ClientError::InvalidConfig`].
    pub fn new(config: ClientConfig) -> Result<Client> {
        let mut base_text = config.base_url.trim().to_string();
        if !base_text.ends_with('/') {
            base_text.push('/');
        }
        let base = Url::parse(&base_text)
            .map_err(|e| ClientError::InvalidConfig(format!("base_url `{base_text}`: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::InvalidConfig(format!(
                "base_url `{base_text}`: only http and https are supported"
            )));
        }
        if config.auth_header_type.trim().is_empty()
            || config.auth_header_type.contains(char::is_whitespace)
        {
            return Err(ClientError::InvalidConfig(
                "auth_header_type must be one word, e.g. Bearer or JWT".to_string(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone());
        if !config.use_system_proxy || is_loopback(&base) {
            builder = builder.no_proxy();
        }
        if let Some(label) = &config.device_label {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_str(label).map_err(|_| {
                ClientError::InvalidConfig("device_label must be visible ASCII".to_string())
            })?;
            headers.insert("x-warden-device", value);
            builder = builder.default_headers(headers);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::InvalidConfig(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                http,
                base,
                config,
                capabilities: OnceCell::new(),
                log: ExchangeLog::new(),
            }),
        })
    }

    /// The base URL, normalised to end with `/` (the vault keys entries by it).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The exchange log every request is recorded in.
    /// The exchange log (the timeline) OpenID requests are recorded into too.
    pub(crate) fn exchanges(&self) -> &Arc<ExchangeLog> {
        &self.inner.log
    }

    /// The last exchanges, oldest first.
    pub fn timeline(&self) -> Vec<Exchange> {
        self.inner.log.snapshot()
    }

    fn paths(&self) -> &crate::config::Paths {
        &self.inner.config.paths
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.inner
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ClientError::InvalidConfig(format!("path `{path}`: {e}")))
    }

    /// Sends one request and records it. Non-success answers become the
    /// matching [`ClientError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        credentials: Credentials<'_>,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let url = self.url(path)?;
        let mut full_url = url.clone();
        if !query.is_empty() {
            full_url
                .query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        // What the timeline keeps of the request (secrets redacted, see exchange.rs).
        let mut shown_headers: Vec<(&str, String)> = Vec::new();
        let mut shown_path = path.trim_start_matches('/').to_string();
        let mut request = self.inner.http.request(method.clone(), url);
        if !query.is_empty() {
            request = request.query(query);
            if let Ok(q) = serde_urlencoded_pairs(query) {
                shown_path.push('?');
                shown_path.push_str(&q);
            }
        }
        if let Some(token) = credentials.bearer {
            let value = format!("{} {}", self.inner.config.auth_header_type, token);
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| ClientError::MalformedToken("not a valid header value".into()))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
            shown_headers.push((
                "Authorization",
                format!("{} {}", self.inner.config.auth_header_type, token),
            ));
        }
        if let Some(label) = &self.inner.config.device_label {
            shown_headers.push(("X-Warden-Device", label.clone()));
        }
        if let Some(body) = body {
            request = request.json(body);
            shown_headers.push(("Content-Type", "application/json".to_string()));
        }
        let (request_headers, request_body, secrets) =
            crate::exchange::record_request(&shown_headers, body);
        drop(shown_headers);
        let at = unix_ms();
        let started = Instant::now();
        let outcome = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        }
        .await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut exchange = Exchange {
            at,
            method: method.to_string(),
            path: shown_path,
            status: None,
            latency_ms,
            error_code: None,
            reason: None,
            credential: credentials.label(),
            request_id: None,
            record: Box::new(crate::exchange::ExchangeRecord {
                detail: None,
                url: full_url.to_string(),
                request_headers,
                request_body,
                secrets,
            }),
        };
        let result = match outcome {
            Err(e) => Err(ClientError::from(e)),
            Ok((status, headers, bytes)) => {
                exchange.status = Some(status.as_u16());
                exchange.request_id = headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                if status.is_success() {
                    Ok(Answer {
                        status: status.as_u16(),
                        body: bytes.to_vec(),
                    })
                } else {
                    let json = serde_json::from_slice::<Value>(&bytes).ok();
                    exchange.error_code = json
                        .as_ref()
                        .and_then(|v| v.get("code")?.as_str().map(str::to_string));
                    exchange.record.detail = json
                        .as_ref()
                        .and_then(|v| v.get("detail")?.as_str().map(str::to_string));
                    Err(ClientError::from_response(status, &headers, &bytes))
                }
            }
        };
        if let Err(e) = &result {
            if exchange.error_code.is_none() {
                exchange.error_code = Some(e.code().to_string());
            }
            // The timeline keeps Warden's reason, or SimpleJWT's message when
            // there is none (explain::explain reads either).
            exchange.reason = match e {
                ClientError::TokenNotValid { message, reason } => Some(
                    reason
                        .as_ref()
                        .map_or_else(|| message.clone(), Reason::to_string),
                ),
                other => other.reason().map(|r| r.to_string()),
            };
        }
        tracing::debug!(
            method = %exchange.method,
            path = %exchange.path,
            status = ?exchange.status,
            latency_ms = exchange.latency_ms,
            error_code = ?exchange.error_code,
            "exchange"
        );
        self.inner.log.record(exchange);
        result
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        credentials: Credentials<'_>,
        body: Option<&Value>,
    ) -> Result<T> {
        self.send(method, path, &[], credentials, body)
            .await?
            .json()
    }

    async fn call_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        access: &str,
    ) -> Result<T> {
        self.send(Method::GET, path, query, Credentials::bearer(access), None)
            .await?
            .json()
    }

    // ------------------------------------------------------------------
    // Capabilities

    /// The server's capabilities document, read once. `None` means a plain
    /// SimpleJWT server (the route answered 404): Warden-only features are then
    /// [`ClientError::Unavailable`].
    pub async fn capabilities(&self) -> Result<Option<Arc<Capabilities>>> {
        let caps = self
            .inner
            .capabilities
            .get_or_try_init(|| async {
                let path = self.paths().capabilities.clone();
                match self
                    .send(Method::GET, &path, &[], Credentials::default(), None)
                    .await
                {
                    Ok(answer) => Ok(answer.json::<Capabilities>().ok().map(Arc::new)),
                    Err(
                        ClientError::NotFound
                        | ClientError::NotAuthenticated { .. }
                        | ClientError::Forbidden { .. }
                        | ClientError::Http { status: 405, .. },
                    ) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(caps.clone())
    }

    /// Whether the server offers `feature` (reads the capabilities once).
    pub async fn supports(&self, feature: Feature) -> Result<bool> {
        Ok(self
            .capabilities()
            .await?
            .is_some_and(|c| c.features.iter().any(|f| f == feature.as_str())))
    }

    async fn require(&self, feature: Feature) -> Result<()> {
        if self.supports(feature).await? {
            Ok(())
        } else {
            Err(ClientError::Unavailable(feature))
        }
    }

    // ------------------------------------------------------------------
    // SimpleJWT's routes

    /// `POST api/token/`.
    pub async fn obtain_pair(&self, username: &str, password: &str) -> Result<TokenPair> {
        let body = request_body(&obtain_request(username, password))?;
        self.call(
            Method::POST,
            &self.paths().token,
            Credentials::default(),
            Some(&body),
        )
        .await
    }

    /// `POST api/token/refresh/`: `refresh` in the answer only when the server rotates.
    pub async fn refresh(&self, refresh: &str) -> Result<RefreshResponse> {
        let body = request_body(&RefreshRequest {
            refresh: refresh.to_string(),
        })?;
        self.call(
            Method::POST,
            &self.paths().token_refresh,
            Credentials::body("refresh", refresh),
            Some(&body),
        )
        .await
    }

    /// `POST api/token/verify/`.
    pub async fn verify(&self, token: &str) -> Result<()> {
        let body = request_body(&TokenRequest {
            token: token.to_string(),
        })?;
        self.send(
            Method::POST,
            &self.paths().token_verify,
            &[],
            Credentials::body("token", token),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `POST api/token/blacklist/`.
    pub async fn blacklist(&self, refresh: &str) -> Result<()> {
        let body = request_body(&RefreshRequest {
            refresh: refresh.to_string(),
        })?;
        self.send(
            Method::POST,
            &self.paths().token_blacklist,
            &[],
            Credentials::body("refresh", refresh),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `POST api/token/sliding/`: one sliding token.
    pub async fn obtain_sliding(&self, username: &str, password: &str) -> Result<String> {
        let body = request_body(&obtain_request(username, password))?;
        let r: SlidingToken = self
            .call(
                Method::POST,
                &self.paths().token_sliding,
                Credentials::default(),
                Some(&body),
            )
            .await?;
        Ok(r.token)
    }

    /// `POST api/token/sliding/refresh/`.
    pub async fn refresh_sliding(&self, token: &str) -> Result<String> {
        let body = request_body(&TokenRequest {
            token: token.to_string(),
        })?;
        let r: SlidingToken = self
            .call(
                Method::POST,
                &self.paths().token_sliding_refresh,
                Credentials::body("sliding", token),
                Some(&body),
            )
            .await?;
        Ok(r.token)
    }

    /// `GET api/me/` (Warden, and the interop peer).
    pub async fn me(&self, access: &str) -> Result<Me> {
        self.call(
            Method::GET,
            &self.paths().me,
            Credentials::bearer(access),
            None,
        )
        .await
    }

    /// `GET api/hello/`: no authentication.
    pub async fn hello(&self) -> Result<Value> {
        self.send(
            Method::GET,
            &self.paths().hello,
            &[],
            Credentials::default(),
            None,
        )
        .await?
        .value()
    }

    // ------------------------------------------------------------------
    // Warden's routes for the signed-in user

    /// `POST api/logout/`: ends the session the refresh token belongs to.
    pub async fn logout(&self, access: &str, refresh: &str) -> Result<()> {
        self.require(Feature::Logout).await?;
        let body = request_body(&RefreshRequest {
            refresh: refresh.to_string(),
        })?;
        let credentials = Credentials {
            bearer: Some(access),
            body_token: Some(("refresh", refresh)),
        };
        self.send(
            Method::POST,
            &self.paths().logout,
            &[],
            credentials,
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `POST api/logout-all/`: ends every session of the user; how many ended.
    pub async fn logout_all(&self, access: &str) -> Result<usize> {
        self.require(Feature::LogoutAll).await?;
        let r: RevokedCount = self
            .call(
                Method::POST,
                &self.paths().logout_all,
                Credentials::bearer(access),
                None,
            )
            .await?;
        Ok(r.revoked)
    }

    /// `GET api/sessions/`.
    pub async fn sessions(&self, access: &str, include_revoked: bool) -> Result<Vec<SessionInfo>> {
        self.require(Feature::Sessions).await?;
        let query = if include_revoked {
            vec![("include_revoked", "true".to_string())]
        } else {
            Vec::new()
        };
        self.call_query(&self.paths().sessions, &query, access)
            .await
    }

    /// `DELETE api/sessions/{id}/`: false when it had already ended.
    pub async fn revoke_session(&self, access: &str, id: &str) -> Result<bool> {
        self.require(Feature::Sessions).await?;
        let path = format!("{}{}/", self.paths().sessions, path_id(id)?);
        let r: RevokedFlag = self
            .call(Method::DELETE, &path, Credentials::bearer(access), None)
            .await?;
        Ok(r.revoked)
    }

    /// `POST api/password/change/`: how many other sessions ended.
    pub async fn change_password(
        &self,
        access: &str,
        old_password: &str,
        new_password: &str,
    ) -> Result<usize> {
        self.require(Feature::ChangePassword).await?;
        let body = request_body(&ChangePasswordRequest {
            old_password: old_password.to_string(),
            new_password: new_password.to_string(),
        })?;
        let r: RevokedCount = self
            .call(
                Method::POST,
                &self.paths().password_change,
                Credentials::bearer(access),
                Some(&body),
            )
            .await?;
        Ok(r.revoked)
    }

    /// `POST api/register/` (only where the server has registration open).
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> Result<Registered> {
        self.require(Feature::Register).await?;
        let body = request_body(&RegisterRequest {
            username: username.to_string(),
            password: password.to_string(),
            email: email.map(str::to_string),
        })?;
        self.call(
            Method::POST,
            &self.paths().register,
            Credentials::default(),
            Some(&body),
        )
        .await
    }

    /// `POST api/token/revoke/` (RFC 7009): succeeds for unknown tokens too.
    pub async fn revoke_token(
        &self,
        access: &str,
        token: &str,
        token_type_hint: Option<&str>,
    ) -> Result<()> {
        self.require(Feature::Revoke).await?;
        let body = request_body(&RevokeRequest {
            token: token.to_string(),
            token_type_hint: token_type_hint.map(str::to_string),
        })?;
        let credentials = Credentials {
            bearer: Some(access),
            body_token: Some(("token", token)),
        };
        self.send(
            Method::POST,
            &self.paths().token_revoke,
            &[],
            credentials,
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `POST api/token/introspect/` (RFC 7662).
    pub async fn introspect(&self, access: &str, token: &str) -> Result<Introspection> {
        self.require(Feature::Introspect).await?;
        let body = request_body(&TokenRequest {
            token: token.to_string(),
        })?;
        let credentials = Credentials {
            bearer: Some(access),
            body_token: Some(("token", token)),
        };
        self.call(
            Method::POST,
            &self.paths().token_introspect,
            credentials,
            Some(&body),
        )
        .await
    }

    /// `GET .well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<Value> {
        self.require(Feature::Jwks).await?;
        self.send(
            Method::GET,
            &self.paths().jwks,
            &[],
            Credentials::default(),
            None,
        )
        .await?
        .value()
    }

    // ------------------------------------------------------------------
    // Staff

    fn staff_path(&self, rest: &str) -> String {
        format!("{}{}", self.paths().staff, rest)
    }

    async fn staff_post<T: DeserializeOwned>(
        &self,
        access: &str,
        rest: &str,
        body: &impl Serialize,
    ) -> Result<T> {
        self.require(Feature::Staff).await?;
        let body = request_body(body)?;
        let path = self.staff_path(rest);
        self.call(
            Method::POST,
            &path,
            Credentials::bearer(access),
            Some(&body),
        )
        .await
    }

    async fn staff_get<T: DeserializeOwned>(
        &self,
        access: &str,
        rest: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        self.require(Feature::Staff).await?;
        let path = self.staff_path(rest);
        self.call_query(&path, query, access).await
    }

    /// `GET api/staff/users/`.
    pub async fn staff_users(&self, access: &str, search: &UserSearch) -> Result<Vec<StaffUser>> {
        self.staff_get(access, "users/", &search.query()).await
    }

    /// `GET api/staff/users/{id}/`.
    pub async fn staff_user(&self, access: &str, user_id: i64) -> Result<StaffUserDetail> {
        self.staff_get(access, &format!("users/{user_id}/"), &[])
            .await
    }

    /// `GET api/staff/users/{id}/sessions/`.
    pub async fn staff_user_sessions(
        &self,
        access: &str,
        user_id: i64,
    ) -> Result<Vec<SessionInfo>> {
        self.staff_get(access, &format!("users/{user_id}/sessions/"), &[])
            .await
    }

    /// `GET api/staff/sessions/{sid}/`: the session and its rotation chain.
    pub async fn staff_session(&self, access: &str, session_id: &str) -> Result<Lineage> {
        let rest = format!("sessions/{}/", path_id(session_id)?);
        self.staff_get(access, &rest, &[]).await
    }

    /// `POST api/staff/sessions/{sid}/revoke/`.
    pub async fn staff_revoke_session(
        &self,
        access: &str,
        session_id: &str,
        reason: &str,
    ) -> Result<bool> {
        let rest = format!("sessions/{}/revoke/", path_id(session_id)?);
        let r: RevokedFlag = self
            .staff_post(access, &rest, &reason_request(reason))
            .await?;
        Ok(r.revoked)
    }

    async fn staff_user_action(
        &self,
        access: &str,
        user_id: i64,
        action: &str,
        body: &impl Serialize,
    ) -> Result<usize> {
        let r: RevokedCount = self
            .staff_post(access, &format!("users/{user_id}/{action}/"), body)
            .await?;
        Ok(r.revoked)
    }

    /// `POST api/staff/users/{id}/logout-all/`: how many sessions ended.
    pub async fn staff_logout_user(
        &self,
        access: &str,
        user_id: i64,
        reason: &str,
    ) -> Result<usize> {
        self.staff_user_action(access, user_id, "logout-all", &reason_request(reason))
            .await
    }

    /// `POST api/staff/users/{id}/lock/` until `until` (Unix time) or until unlocked.
    pub async fn staff_lock_user(
        &self,
        access: &str,
        user_id: i64,
        reason: &str,
        until: Option<i64>,
    ) -> Result<usize> {
        let body = LockRequest {
            reason: reason.to_string(),
            until,
        };
        self.staff_user_action(access, user_id, "lock", &body).await
    }

    /// `POST api/staff/users/{id}/unlock/`.
    pub async fn staff_unlock_user(&self, access: &str, user_id: i64, reason: &str) -> Result<()> {
        self.staff_user_action(access, user_id, "unlock", &reason_request(reason))
            .await
            .map(drop)
    }

    /// `POST api/staff/users/{id}/deactivate/`: how many sessions ended.
    pub async fn staff_deactivate_user(
        &self,
        access: &str,
        user_id: i64,
        reason: &str,
    ) -> Result<usize> {
        self.staff_user_action(access, user_id, "deactivate", &reason_request(reason))
            .await
    }

    /// `POST api/staff/users/{id}/reactivate/`.
    pub async fn staff_reactivate_user(
        &self,
        access: &str,
        user_id: i64,
        reason: &str,
    ) -> Result<()> {
        self.staff_user_action(access, user_id, "reactivate", &reason_request(reason))
            .await
            .map(drop)
    }

    /// `POST api/staff/users/{id}/password/`: how many sessions ended.
    pub async fn staff_set_password(
        &self,
        access: &str,
        user_id: i64,
        password: &str,
        reason: &str,
    ) -> Result<usize> {
        let body = SetPasswordRequest {
            password: password.to_string(),
            reason: reason.to_string(),
        };
        self.staff_user_action(access, user_id, "password", &body)
            .await
    }

    /// `POST api/staff/users/{id}/staff/`.
    pub async fn staff_set_staff(
        &self,
        access: &str,
        user_id: i64,
        is_staff: bool,
        reason: &str,
    ) -> Result<()> {
        let body = SetStaffRequest {
            is_staff,
            reason: reason.to_string(),
        };
        self.staff_user_action(access, user_id, "staff", &body)
            .await
            .map(drop)
    }

    /// `GET api/staff/audit/`, newest first.
    pub async fn staff_audit(
        &self,
        access: &str,
        search: &AuditSearch,
    ) -> Result<Vec<AuditRecord>> {
        self.staff_get(access, "audit/", &search.query()).await
    }
}

fn reason_request(reason: &str) -> ReasonRequest {
    ReasonRequest {
        reason: reason.to_string(),
    }
}

/// `a=1&b=2` for the timeline (values are ids and filters, never tokens).
fn serde_urlencoded_pairs(query: &[(&str, String)]) -> Result<String, ()> {
    let mut url = Url::parse("http://q.invalid/").map_err(drop)?;
    url.query_pairs_mut()
        .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    Ok(url.query().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_is_normalised_and_checked() {
        let c = Client::new(ClientConfig::new("http://127.0.0.1:8000")).unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8000/");
        assert_eq!(
            c.url("api/token/").unwrap().as_str(),
            "http://127.0.0.1:8000/api/token/"
        );
        let c = Client::new(ClientConfig::new("https://example.com/auth")).unwrap();
        assert_eq!(
            c.url("/api/token/").unwrap().as_str(),
            "https://example.com/auth/api/token/"
        );
        assert!(matches!(
            Client::new(ClientConfig::new("ftp://x/")),
            Err(ClientError::InvalidConfig(_))
        ));
        assert!(matches!(
            Client::new(ClientConfig::new("not a url")),
            Err(ClientError::InvalidConfig(_))
        ));
        let mut cfg = ClientConfig::new("http://localhost/");
        cfg.auth_header_type = "Bear er".into();
        assert!(Client::new(cfg).is_err());
    }

    #[test]
    fn loopback_hosts_skip_proxies() {
        for (u, lo) in [
            ("http://127.0.0.1:1/", true),
            ("http://localhost/", true),
            ("http://[::1]:8000/", true),
            ("https://example.com/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), lo, "{u}");
        }
    }

    #[test]
    fn path_ids_are_one_safe_segment() {
        assert!(path_id("0123456789abcdef0123456789abcdef").is_ok());
        for bad in ["", "../x", "a/b", "a?b", "a b", "%2e"] {
            assert_eq!(path_id(bad), Err(ClientError::NotFound), "{bad}");
        }
    }

    #[test]
    fn credential_labels_never_hold_the_token() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"jti":"3f2a1c9b8d7e","token_type":"access"}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2lnbmF0dXJlc2lnbmF0dXJl");
        let label = Credentials::bearer(&token).label().unwrap();
        assert_eq!(label, "access jti 3f2a1c…");
        assert!(!label.contains(&token[..20]));
        assert_eq!(
            token_label("refresh", "opaque-secret-value-1234567890"),
            "refresh opaque…"
        );
        let both = Credentials {
            bearer: Some(&token),
            body_token: Some(("refresh", &token)),
        };
        assert_eq!(
            both.label().unwrap(),
            "access jti 3f2a1c…, refresh jti 3f2a1c…"
        );
    }

    #[test]
    fn request_bodies_go_out_with_sorted_keys_and_no_absent_options() {
        let sent = |v: Value| serde_json::to_string(&v).unwrap();
        assert_eq!(
            sent(request_body(&obtain_request("alice", "pw")).unwrap()),
            r#"{"password":"pw","username":"alice"}"#
        );
        let register = |email: Option<&str>| RegisterRequest {
            username: "bob".into(),
            password: "pw".into(),
            email: email.map(str::to_string),
        };
        assert_eq!(
            sent(request_body(&register(None)).unwrap()),
            r#"{"password":"pw","username":"bob"}"#
        );
        assert_eq!(
            sent(request_body(&register(Some("b@x.io"))).unwrap()),
            r#"{"email":"b@x.io","password":"pw","username":"bob"}"#
        );
        let lock = LockRequest {
            reason: "r".into(),
            until: Some(9),
        };
        assert_eq!(
            sent(request_body(&lock).unwrap()),
            r#"{"reason":"r","until":9}"#
        );
        let staff = SetStaffRequest {
            is_staff: true,
            reason: "r".into(),
        };
        assert_eq!(
            sent(request_body(&staff).unwrap()),
            r#"{"is_staff":true,"reason":"r"}"#
        );
    }

    #[test]
    fn query_strings_are_shown_encoded() {
        assert_eq!(
            serde_urlencoded_pairs(&[("q", "a b".into()), ("limit", "5".into())]).unwrap(),
            "q=a+b&limit=5"
        );
    }
}
