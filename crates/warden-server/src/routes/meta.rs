//! Documents about the server: JWKS, capabilities, the OpenAPI schema, and a
//! baseline route for benchmarks.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use warden_proto::{Capabilities, Hello};

use crate::AppState;

/// The public keys (RFC 7517 JWK Set); empty for HMAC algorithms.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "meta",
    responses((status = 200, description = "JWK Set", body = Object))
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.service.jwks())
}

/// Which of Warden's features this server offers, so a client can degrade
/// gracefully against a plain SimpleJWT server.
#[utoipa::path(
    get,
    path = "/api/capabilities/",
    tag = "meta",
    responses((status = 200, description = "Capabilities", body = Capabilities))
)]
pub(crate) async fn capabilities(State(state): State<AppState>) -> Json<Capabilities> {
    Json(crate::capabilities(&state))
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/api/schema/",
    tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object))
)]
pub(crate) async fn schema() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::api::openapi_json(),
    )
        .into_response()
}

/// `{"hello": "world"}`: no authentication, no store; a baseline for benchmarks.
#[utoipa::path(
    get,
    path = "/api/hello/",
    tag = "meta",
    responses((status = 200, description = "Hello", body = Hello))
)]
pub(crate) async fn hello() -> Json<Hello> {
    Json(Hello {
        hello: "world".to_string(),
    })
}
