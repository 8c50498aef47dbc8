//! Shared fixtures for Warden's fuzz targets: a fixed key ring, a fixed clock,
//! and the request-body parsers of warden-server run end to end.
//!
//! Every target asserts the same contract the server relies on: any input
//! yields `Ok` or a typed error (never a panic, an abort, or an overflow),
//! and an error renders as a 4xx response, never a 5xx.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use axum::response::IntoResponse;
use serde_json::{Map, Value};
use warden_auth::{UnixTime, KeyMaterial, KeyRing, Algorithm, Settings};
use warden_auth::tokens::ValidationPolicy;
use warden_proto::{
    ChangePasswordRequest, LockRequest, ObtainRequest, ReasonRequest, RefreshRequest,
    RegisterRequest, RevokeRequest, SetPasswordRequest, SetStaffRequest, TokenRequest,
};
use warden_server::{ApiError, RawBody, ReadBody};

/// The fuzzers' clock: tokens in the seed corpus are valid at this instant.
pub const NOW: UnixTime = 1_800_000_000;
/// The active HS256 key's secret (fuzzing only).
pub const HMAC_SECRET: &[u8] = b"warden-fuzz-secret-0123456789abcdef-0123456789abcdef-0123456789";

const RSA_PEM: &str = include_str!("../../crates/warden-auth/tests/fixtures/rsa2048.pem");
const ED25519_PEM: &str = include_str!("../../crates/warden-auth/tests/fixtures/ed25519.pem");

/// A ring as a running server has one after two rotations: HS256 active,
/// an RS256 key retired but still verifying, an EdDSA key past its grace.
pub struct Fixture {
    pub ring: KeyRing,
    pub policy: ValidationPolicy,
    /// Same ring, with `ISSUER`/`AUDIENCE` set and some leeway.
    pub strict: ValidationPolicy,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    // A fixture that cannot be built is a harness bug: fail loudly.
    FIXTURE.get_or_init(|| {
        let ed = KeyMaterial::from_pem(Algorithm::EdDSA, ED25519_PEM, None, NOW - 10_000)
            .expect("EdDSA fixture key");
        let rsa = KeyMaterial::from_pem(Algorithm::RS256, RSA_PEM, None, NOW - 5_000)
            .expect("RS256 fixture key");
        let hs = KeyMaterial::from_hmac_secret(Algorithm::HS256, HMAC_SECRET, NOW - 100)
            .expect("HS256 fixture key");
        let mut ring = KeyRing::new(ed).expect("ring");
        // EdDSA retired with a 10 s grace, long over at NOW.
        ring.rotate(rsa, NOW - 5_000, 10).expect("rotate to RS256");
        // RS256 retired but still verifying at NOW.
        ring.rotate(hs, NOW - 100, 1_000_000)
            .expect("rotate to HS256");
        let policy = ValidationPolicy::from_settings(&Settings::default());
        let mut strict = ValidationPolicy::from_settings(&Settings::default());
        strict.issuer = Some("https://warden.example".into());
        strict.audience = Some("warden-app".into());
        strict.leeway = 30;
        Fixture {
            ring,
            policy,
            strict,
        }
    })
}

/// An API error must be the client's fault: a 4xx with a JSON body.
pub fn assert_client_error(e: ApiError) {
    let what = format!("{e:?}");
    let response = e.into_response();
    let status = response.status();
    assert!(
        status.is_client_error(),
        "bad input produced {status}: {what}"
    );
}

/// Every request-body parser of warden-server, in route order.
pub fn read_all(data: &Map<String, Value>) {
    fn check<T>(r: Result<T, ApiError>) {
        if let Err(e) = r {
            assert_client_error(e);
        }
    }
    check(ObtainRequest::read(data));
    check(RefreshRequest::read(data));
    check(TokenRequest::read(data));
    check(RevokeRequest::read(data));
    check(RegisterRequest::read(data));
    check(ChangePasswordRequest::read(data));
    check(ReasonRequest::read(data));
    check(LockRequest::read(data));
    check(SetPasswordRequest::read(data));
    check(SetStaffRequest::read(data));
}

/// A body as the server receives it, parsed as `request.data` and then by
/// every request type.
pub fn body(content_type: &str, bytes: &[u8]) {
    let raw = RawBody {
        content_type: Some(content_type.to_string()),
        bytes: axum::body::Bytes::copy_from_slice(bytes),
    };
    match raw.data() {
        Ok(map) => {
            // Parsed data must be usable as-is: round-trip and every parser.
            let _ = serde_json::to_vec(&map);
            read_all(&map);
        }
        Err(e) => assert_client_error(e),
    }
}
