//! The token inspector: a JWT's header and claims for people, its times, a
//! signature check against whatever key the caller has (the local key ring, an
//! HMAC secret, a PEM public key or a JWKS document) and warnings.
//!
//! Pure: no I/O, no clock (the caller passes `now`). Shared by `warden decode`
//! and the desktop app's inspector, so both say the same thing about a token.
//! Nothing in the payload is trusted unless [`SignatureStatus::Valid`].

use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_proto::Reason;

use crate::clock::UnixTime;
use crate::error::TokenError;
use crate::keys::{KeyRing, jwt_algorithm};
use crate::settings::{Algorithm, Settings};
use crate::tokens::{self, ClaimNames, MAX_INSPECT_BYTES, ValidationPolicy};

/// What to check the signature with.
pub enum VerifyWith<'a> {
    /// No key: the signature is not checked.
    Nothing,
    /// A key ring (the server's own keys); the key is picked by `kid`.
    KeyRing(&'a KeyRing),
    /// A raw HMAC secret (HS256/384/512).
    HmacSecret(Vec<u8>),
    /// A PEM public key (RSA, EC or Ed25519; SPKI, PKCS#1 RSA also accepted).
    PublicPem(String),
    /// A JWK Set document (JSON text, e.g. a server's `.well-known/jwks.json`);
    /// the key is picked by `kid`.
    Jwks(String),
}

impl fmt::Debug for VerifyWith<'_> {
    // Never print a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyWith::Nothing => f.write_str("Nothing"),
            VerifyWith::KeyRing(_) => f.write_str("KeyRing"),
            VerifyWith::HmacSecret(s) => write!(f, "HmacSecret(<{} bytes>)", s.len()),
            VerifyWith::PublicPem(_) => f.write_str("PublicPem"),
            VerifyWith::Jwks(_) => f.write_str("Jwks"),
        }
    }
}

/// What the server is known to accept, for warnings and claim validation.
/// Every field is optional: unknown settings produce no warning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectations {
    /// `ACCESS_TOKEN_LIFETIME`, in seconds.
    #[serde(default)]
    pub access_lifetime: Option<i64>,
    /// `REFRESH_TOKEN_LIFETIME`, in seconds.
    #[serde(default)]
    pub refresh_lifetime: Option<i64>,
    /// `SLIDING_TOKEN_LIFETIME`, in seconds.
    #[serde(default)]
    pub sliding_lifetime: Option<i64>,
    /// `SLIDING_TOKEN_REFRESH_LIFETIME`, in seconds.
    #[serde(default)]
    pub sliding_refresh_lifetime: Option<i64>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    #[serde(default)]
    pub leeway: i64,
    /// Kids the server signs or verifies with, when known (besides those of
    /// the key given to [`inspect`]).
    #[serde(default)]
    pub known_kids: Option<Vec<String>>,
    /// Where `known_kids` came from, for the warning (`local keys (key file)`).
    #[serde(default)]
    pub known_kids_source: Option<String>,
    /// `ISSUER`: the `iss` a token must carry.
    #[serde(default)]
    pub issuer: Option<String>,
    /// `AUDIENCE`: the `aud` a token must carry.
    #[serde(default)]
    pub audience: Option<String>,
    /// Which claims hold the type, the id and the user.
    #[serde(default)]
    pub claim_names: ClaimNames,
}

impl Expectations {
    /// The expectations of a server running with `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        Expectations {
            access_lifetime: Some(settings.ACCESS_TOKEN_LIFETIME.get()),
            refresh_lifetime: Some(settings.REFRESH_TOKEN_LIFETIME.get()),
            sliding_lifetime: Some(settings.SLIDING_TOKEN_LIFETIME.get()),
            sliding_refresh_lifetime: Some(settings.SLIDING_TOKEN_REFRESH_LIFETIME.get()),
            leeway: settings.LEEWAY.get(),
            known_kids: None,
            known_kids_source: None,
            issuer: settings.ISSUER.clone(),
            audience: settings.AUDIENCE.clone(),
            claim_names: ClaimNames::from_settings(settings),
        }
    }

    fn policy(&self) -> ValidationPolicy {
        ValidationPolicy {
            max_bytes: MAX_INSPECT_BYTES,
            leeway: self.leeway,
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            claim_names: self.claim_names.clone(),
        }
    }
}

/// The token's time claims, as unix seconds (the UI renders local times).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Times {
    /// Expiry.
    pub exp: Option<UnixTime>,
    /// Issued at.
    pub iat: Option<UnixTime>,
    /// Not before.
    pub nbf: Option<UnixTime>,
    /// A sliding token's refresh deadline (`SLIDING_TOKEN_REFRESH_EXP_CLAIM`).
    pub refresh_exp: Option<UnixTime>,
    /// `exp - iat`, when both are present.
    pub lifetime: Option<i64>,
}

/// The outcome of the signature check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureStatus {
    /// The signature verifies with `key` (a description: `kid abc… in the key ring`).
    Valid {
        /// Which key.
        key: String,
    },
    /// A key was found and the signature does not verify with it, or the
    /// token's algorithm cannot be used with the key.
    Invalid {
        /// Why, in words.
        why: String,
    },
    /// Not checked: no key was given, or the key given is unusable.
    Unchecked {
        /// Why, in words.
        why: String,
    },
    /// The key set has no key for this token.
    KeyNotFound {
        /// The token's `kid`, if it has one.
        kid: Option<String>,
        /// Why, in words.
        why: String,
    },
}

impl SignatureStatus {
    /// The signature verified.
    pub fn is_valid(&self) -> bool {
        matches!(self, SignatureStatus::Valid { .. })
    }
}

/// Claim validation (time window, issuer, audience, Warden's claims), done
/// only when the signature is valid. Revocation is never checked here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClaimCheck {
    /// The claims pass.
    pub ok: bool,
    /// The rejection's stable reason (`expired`, `wrong_audience`, ...), as
    /// Warden sends it on the wire.
    pub reason: Option<Reason>,
    /// The rejection, in words.
    pub message: Option<String>,
}

/// Machine-readable warning codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// `alg` is `none`: an unsigned token.
    AlgNone,
    /// `alg` is absent or not one Warden accepts.
    AlgNotAllowed,
    /// No `kid`: Warden refuses such tokens.
    MissingKid,
    /// The HMAC key is shorter than its algorithm needs (RFC 7518 §3.2).
    ShortHmacKey,
    /// No `exp`: the token never expires.
    MissingExp,
    /// `exp` is not an integer.
    ExpNotInteger,
    /// `exp` has passed.
    Expired,
    /// `exp - iat` is longer than the server's lifetime for the type.
    LifetimeTooLong,
    /// A sliding token's refresh window is longer than the server's.
    RefreshWindowTooLong,
    /// `iat` is in the future.
    IatInFuture,
    /// `nbf` is in the future.
    NbfInFuture,
    /// No token type claim.
    TokenTypeMissing,
    /// A token type other than access, refresh or sliding.
    TokenTypeUnknown,
    /// No `jti`: the token cannot be revoked by id.
    MissingJti,
    /// The `kid` is not one of the known keys.
    KidUnknown,
}

impl WarningCode {
    /// The code's name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::AlgNone => "alg_none",
            WarningCode::AlgNotAllowed => "alg_not_allowed",
            WarningCode::MissingKid => "missing_kid",
            WarningCode::ShortHmacKey => "short_hmac_key",
            WarningCode::MissingExp => "missing_exp",
            WarningCode::ExpNotInteger => "exp_not_integer",
            WarningCode::Expired => "expired",
            WarningCode::LifetimeTooLong => "lifetime_too_long",
            WarningCode::RefreshWindowTooLong => "refresh_window_too_long",
            WarningCode::IatInFuture => "iat_in_future",
            WarningCode::NbfInFuture => "nbf_in_future",
            WarningCode::TokenTypeMissing => "token_type_missing",
            WarningCode::TokenTypeUnknown => "token_type_unknown",
            WarningCode::MissingJti => "missing_jti",
            WarningCode::KidUnknown => "kid_unknown",
        }
    }
}

/// Something about the token worth a second look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Warning {
    /// What kind.
    pub code: WarningCode,
    /// The details, in words.
    pub message: String,
}

/// Everything the inspector shows about one token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Inspection {
    /// The header, decoded.
    pub header: Value,
    /// The payload, decoded (unverified unless the signature is valid).
    pub payload: Value,
    /// The header as indented JSON.
    pub header_pretty: String,
    /// The payload as indented JSON.
    pub payload_pretty: String,
    /// The header's `alg`.
    pub alg: Option<String>,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The `TOKEN_TYPE_CLAIM` value, whatever it is.
    pub token_type: Option<String>,
    /// The time claims.
    pub times: Times,
    /// The `now` the inspection was made at (unix seconds).
    pub now: UnixTime,
    /// The signature check's outcome.
    pub signature: SignatureStatus,
    /// `Some` only when the signature is valid.
    pub claims: Option<ClaimCheck>,
    /// What looks wrong.
    pub warnings: Vec<Warning>,
}

impl Inspection {
    /// A warning with this code was raised.
    pub fn has_warning(&self, code: WarningCode) -> bool {
        self.warnings.iter().any(|w| w.code == code)
    }
}

/// The token cannot be inspected at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// Not a JWT: the parts do not decode.
    #[error("not a decodable JWT: {0}")]
    Undecodable(TokenError),
}

impl InspectError {
    /// Stable reason, as [`TokenError::reason`].
    pub fn reason(&self) -> Reason {
        match self {
            InspectError::Undecodable(e) => e.reason(),
        }
    }
}

/// Inspects `token` (surrounding whitespace is ignored).
pub fn inspect(
    token: &str,
    keys: &VerifyWith<'_>,
    expect: &Expectations,
    now: UnixTime,
) -> Result<Inspection, InspectError> {
    let token = token.trim();
    let (header, payload) = tokens::decode_unverified(token).map_err(InspectError::Undecodable)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_string);
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let names = &expect.claim_names;
    let token_type = payload
        .get(names.token_type.as_str())
        .and_then(Value::as_str)
        .map(str::to_string);
    let int = |name: &str| payload.get(name).and_then(Value::as_i64);
    let (exp, iat) = (int("exp"), int("iat"));
    let times = Times {
        exp,
        iat,
        nbf: int("nbf"),
        refresh_exp: int(names.refresh_exp.as_str()),
        lifetime: match (exp, iat) {
            (Some(e), Some(i)) => Some(e.saturating_sub(i)),
            _ => None,
        },
    };

    let checked = check_signature(token, alg.as_deref(), kid.as_deref(), keys, expect, now);
    let mut warnings = claim_warnings(
        &header,
        &payload,
        &times,
        token_type.as_deref(),
        expect,
        now,
    );
    warnings.extend(checked.warnings);
    if let Some(kid) = &kid {
        let (known, source) = match (&checked.known_kids, &expect.known_kids) {
            (Some(k), _) => (Some(k), checked.source.as_deref()),
            (None, Some(k)) => (Some(k), expect.known_kids_source.as_deref()),
            (None, None) => (None, None),
        };
        if let Some(known) = known
            && !known.iter().any(|k| k == kid)
        {
            let source = source.unwrap_or("known keys");
            warnings.push(warning(
                WarningCode::KidUnknown,
                format!("kid `{kid}` is not one of the {source}"),
            ));
        }
    }

    let claims = if checked.status.is_valid() {
        let result = match keys {
            VerifyWith::KeyRing(ring) => {
                tokens::validate(token, ring, &expect.policy(), now, None).map(|_| ())
            }
            _ => {
                tokens::validate_claims_of_verified(token, &expect.policy(), now, None).map(|_| ())
            }
        };
        Some(match result {
            Ok(()) => ClaimCheck {
                ok: true,
                reason: None,
                message: None,
            },
            Err(e) => ClaimCheck {
                ok: false,
                reason: Some(e.reason()),
                message: Some(e.to_string()),
            },
        })
    } else {
        None
    };

    Ok(Inspection {
        header_pretty: pretty(&header),
        payload_pretty: pretty(&payload),
        header,
        payload,
        alg,
        kid,
        token_type,
        times,
        now,
        signature: checked.status,
        claims,
        warnings,
    })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn warning(code: WarningCode, message: impl Into<String>) -> Warning {
    Warning {
        code,
        message: message.into(),
    }
}

/// A duration for people (the sign dropped), in its largest unit and the
/// one next to it: `45s`, `5m 3s`, `6h`, `2d 1h`, `400d 3h`. Units stay
/// adjacent, so a day and five seconds is `1d`, not `1d 5s`; days are the
/// largest unit, since a year is not a fixed number of them. Shared by the
/// inspector's warnings and the CLI's times.
pub fn span(secs: i64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let secs = secs.unsigned_abs();
    let Some(first) = UNITS.iter().position(|(size, _)| secs >= *size) else {
        return "0s".to_string();
    };
    let (size, unit) = UNITS[first];
    let mut out = format!("{}{unit}", secs / size);
    if let Some(&(next, next_unit)) = UNITS.get(first + 1) {
        let n = secs % size / next;
        if n > 0 {
            out.push_str(&format!(" {n}{next_unit}"));
        }
    }
    out
}

fn claim_warnings(
    header: &Value,
    payload: &Value,
    times: &Times,
    token_type: Option<&str>,
    expect: &Expectations,
    now: UnixTime,
) -> Vec<Warning> {
    let mut w = Vec::new();
    let names = &expect.claim_names;
    match header.get("alg").and_then(Value::as_str) {
        Some(alg) if alg.eq_ignore_ascii_case("none") => w.push(warning(
            WarningCode::AlgNone,
            "alg is `none`: the token is unsigned and must never be accepted",
        )),
        Some(alg) if Algorithm::parse(alg).is_none() => w.push(warning(
            WarningCode::AlgNotAllowed,
            format!("alg `{alg}` is not one Warden accepts"),
        )),
        Some(_) => {}
        None => w.push(warning(
            WarningCode::AlgNotAllowed,
            "no `alg` in the header (or not a string)",
        )),
    }
    if header.get("kid").and_then(Value::as_str).is_none() {
        w.push(warning(
            WarningCode::MissingKid,
            "no `kid` in the header: Warden refuses tokens without one",
        ));
    }
    match times.exp {
        None if payload.get("exp").is_some() => {
            w.push(warning(
                WarningCode::ExpNotInteger,
                "`exp` is not an integer",
            ));
        }
        None => w.push(warning(
            WarningCode::MissingExp,
            "no `exp` claim: the token never expires",
        )),
        Some(e) if e <= now => w.push(warning(
            WarningCode::Expired,
            format!("expired {} ago", span(now.saturating_sub(e))),
        )),
        Some(_) => {}
    }
    if let Some(i) = times.iat
        && i > now.saturating_add(expect.leeway)
    {
        w.push(warning(
            WarningCode::IatInFuture,
            format!("issued {} in the future", span(i.saturating_sub(now))),
        ));
    }
    if let Some(n) = times.nbf
        && n > now.saturating_add(expect.leeway)
    {
        w.push(warning(
            WarningCode::NbfInFuture,
            format!("not valid for another {}", span(n.saturating_sub(now))),
        ));
    }
    let type_claim = names.token_type.as_str();
    match token_type {
        None => w.push(warning(
            WarningCode::TokenTypeMissing,
            format!("no `{type_claim}` claim"),
        )),
        Some("access" | "refresh" | "sliding") => {}
        Some(other) => w.push(warning(
            WarningCode::TokenTypeUnknown,
            format!("`{type_claim}` is `{other}`, not access, refresh or sliding"),
        )),
    }
    if payload.get(names.jti.as_str()).is_none() {
        w.push(warning(
            WarningCode::MissingJti,
            format!("no `{}` claim: it cannot be revoked by id", names.jti),
        ));
    }
    if let Some(lifetime) = times.lifetime {
        let limit = match token_type {
            Some("access") => expect.access_lifetime.map(|l| ("ACCESS_TOKEN_LIFETIME", l)),
            Some("refresh") => expect
                .refresh_lifetime
                .map(|l| ("REFRESH_TOKEN_LIFETIME", l)),
            Some("sliding") => expect
                .sliding_lifetime
                .map(|l| ("SLIDING_TOKEN_LIFETIME", l)),
            _ => None,
        };
        if let Some((name, limit)) = limit
            && lifetime > limit
        {
            w.push(warning(
                WarningCode::LifetimeTooLong,
                format!(
                    "lifetime {} is longer than {name} ({})",
                    span(lifetime),
                    span(limit)
                ),
            ));
        }
    }
    if token_type == Some("sliding")
        && let (Some(r), Some(i), Some(limit)) = (
            times.refresh_exp,
            times.iat,
            expect.sliding_refresh_lifetime,
        )
        && r.saturating_sub(i) > limit
    {
        w.push(warning(
            WarningCode::RefreshWindowTooLong,
            format!(
                "refresh window {} is longer than SLIDING_TOKEN_REFRESH_LIFETIME ({})",
                span(r.saturating_sub(i)),
                span(limit)
            ),
        ));
    }
    w
}

struct Checked {
    status: SignatureStatus,
    warnings: Vec<Warning>,
    /// Kids of the key set given, when it has kids.
    known_kids: Option<Vec<String>>,
    source: Option<String>,
}

impl Checked {
    fn new(status: SignatureStatus) -> Self {
        Checked {
            status,
            warnings: Vec::new(),
            known_kids: None,
            source: None,
        }
    }
}

/// `jsonwebtoken` needs a process-wide crypto provider; pick RustCrypto when
/// none is installed yet (as the key ring does when it loads keys).
fn ensure_crypto_provider() -> bool {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_none() {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
    CryptoProvider::try_get_default().is_some()
}

fn unchecked(why: impl Into<String>) -> Checked {
    Checked::new(SignatureStatus::Unchecked { why: why.into() })
}

fn invalid(why: impl Into<String>) -> Checked {
    Checked::new(SignatureStatus::Invalid { why: why.into() })
}

/// The signing input and signature of a decodable token.
fn split(token: &str) -> Option<(&str, &str)> {
    let dot = token.rfind('.')?;
    Some((&token[..dot], &token[dot + 1..]))
}

fn verify_raw(token: &str, key: &DecodingKey, alg: Algorithm) -> bool {
    let Some((input, signature)) = split(token) else {
        return false;
    };
    ensure_crypto_provider()
        && matches!(
            jsonwebtoken::crypto::verify(signature, input.as_bytes(), key, jwt_algorithm(alg)),
            Ok(true)
        )
}

fn check_signature(
    token: &str,
    alg: Option<&str>,
    kid: Option<&str>,
    keys: &VerifyWith<'_>,
    expect: &Expectations,
    now: UnixTime,
) -> Checked {
    if matches!(keys, VerifyWith::Nothing) {
        return unchecked("no key was given");
    }
    let Some(alg_text) = alg else {
        return invalid("the header has no `alg`");
    };
    if alg_text.eq_ignore_ascii_case("none") {
        return invalid("alg `none`: the token is unsigned");
    }
    let Some(alg) = Algorithm::parse(alg_text) else {
        return invalid(format!("alg `{alg_text}` is not one Warden accepts"));
    };
    match keys {
        VerifyWith::Nothing => unchecked("no key was given"),
        VerifyWith::KeyRing(ring) => with_ring(token, ring, expect, now),
        VerifyWith::HmacSecret(secret) => with_secret(token, alg, secret),
        VerifyWith::PublicPem(pem) => with_pem(token, alg, pem),
        VerifyWith::Jwks(doc) => with_jwks(token, alg, kid, doc),
    }
}

fn with_ring(token: &str, ring: &KeyRing, expect: &Expectations, now: UnixTime) -> Checked {
    let mut checked = match tokens::validate(token, ring, &expect.policy(), now, None) {
        Err(TokenError::MissingKid) => Checked::new(SignatureStatus::KeyNotFound {
            kid: None,
            why: "the header has no `kid`, so no key can be picked".into(),
        }),
        Err(TokenError::UnknownKid(kid)) => Checked::new(SignatureStatus::KeyNotFound {
            why: format!("no key in the ring verifies kid `{kid}` now"),
            kid: Some(kid),
        }),
        Err(
            e @ (TokenError::TooLarge { .. }
            | TokenError::Malformed
            | TokenError::BadHeader(_)
            | TokenError::CriticalHeader
            | TokenError::AlgorithmNotAllowed(_)
            | TokenError::AlgorithmMismatch { .. }
            | TokenError::BadSignature),
        ) => invalid(e.to_string()),
        // Everything else comes after the signature step: it verified.
        _ => {
            let kid = ring
                .keys()
                .map(|k| k.kid().to_string())
                .find(|k| token_kid(token).as_deref() == Some(k.as_str()))
                .unwrap_or_default();
            Checked::new(SignatureStatus::Valid {
                key: format!("kid `{kid}` in the key ring"),
            })
        }
    };
    checked.known_kids = Some(ring.keys().map(|k| k.kid().to_string()).collect());
    checked.source = Some("keys in the key ring".into());
    checked
}

fn token_kid(token: &str) -> Option<String> {
    let (header, _) = tokens::decode_unverified(token).ok()?;
    header.get("kid")?.as_str().map(str::to_string)
}

fn short_key_warning(alg: Algorithm, len: usize) -> Option<Warning> {
    let min = alg.min_secret_len().max(32);
    (len < min).then(|| {
        warning(
            WarningCode::ShortHmacKey,
            format!(
                "the {} key is {len} bytes; {} needs at least {min} (RFC 7518 §3.2), \
                 or the key can be guessed offline from any token",
                alg.as_str(),
                alg.as_str()
            ),
        )
    })
}

fn with_secret(token: &str, alg: Algorithm, secret: &[u8]) -> Checked {
    if !alg.is_symmetric() {
        return invalid(format!(
            "the token is {} but the key given is an HMAC secret",
            alg.as_str()
        ));
    }
    if secret.is_empty() {
        return unchecked("the HMAC secret is empty");
    }
    let key = match DecodingKey::from_secret(secret) {
        Ok(key) => key,
        Err(e) => return unchecked(format!("the HMAC secret is unusable: {e}")),
    };
    let mut checked = if verify_raw(token, &key, alg) {
        Checked::new(SignatureStatus::Valid {
            key: format!("the {}-byte HMAC secret", secret.len()),
        })
    } else {
        invalid("the signature does not verify with the HMAC secret")
    };
    checked
        .warnings
        .extend(short_key_warning(alg, secret.len()));
    checked
}

fn pem_key(alg: Algorithm, pem: &str) -> Result<DecodingKey, String> {
    let bytes = pem.as_bytes();
    let key = match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => DecodingKey::from_rsa_pem(bytes),
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(bytes),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(bytes),
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Err(format!(
                "the token is {} (HMAC) but the key given is a public key; accepting it \
                 would be the RS256-to-HS256 confusion attack",
                alg.as_str()
            ));
        }
    };
    key.map_err(|e| format!("the PEM key is not a {} public key: {e}", alg.as_str()))
}

fn with_pem(token: &str, alg: Algorithm, pem: &str) -> Checked {
    match pem_key(alg, pem) {
        Err(why) if alg.is_symmetric() => invalid(why),
        Err(why) => unchecked(why),
        Ok(key) if verify_raw(token, &key, alg) => Checked::new(SignatureStatus::Valid {
            key: "the PEM public key".into(),
        }),
        Ok(_) => invalid(format!(
            "the signature does not verify with the PEM public key (as {})",
            alg.as_str()
        )),
    }
}

fn key_algorithm_name(alg: KeyAlgorithm) -> String {
    format!("{alg:?}")
}

fn jwk_fits(jwk: &Jwk, alg: Algorithm) -> Result<(), String> {
    if let Some(declared) = jwk.common.key_algorithm {
        let declared = key_algorithm_name(declared);
        if declared != alg.as_str() {
            return Err(format!(
                "the JWK is for {declared} but the token says {}",
                alg.as_str()
            ));
        }
    }
    let family_ok = matches!(
        (&jwk.algorithm, alg),
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) | (
            AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256 | Algorithm::ES384
        ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
            | (
                AlgorithmParameters::OctetKey(_),
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            )
    );
    if family_ok {
        Ok(())
    } else {
        Err(format!(
            "the JWK's key type does not fit the token's {}",
            alg.as_str()
        ))
    }
}

fn with_jwks(token: &str, alg: Algorithm, kid: Option<&str>, doc: &str) -> Checked {
    let set: JwkSet = match serde_json::from_str(doc) {
        Ok(set) => set,
        Err(e) => return unchecked(format!("the JWKS document is not a valid JWK Set: {e}")),
    };
    let kids: Vec<String> = set
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    let mut checked = match kid {
        None => Checked::new(SignatureStatus::KeyNotFound {
            kid: None,
            why: "the header has no `kid`, so no key of the JWKS can be picked".into(),
        }),
        Some(kid) => match set.find(kid) {
            None => Checked::new(SignatureStatus::KeyNotFound {
                kid: Some(kid.to_string()),
                why: format!("the JWKS has no key with kid `{kid}`"),
            }),
            Some(jwk) => match jwk_fits(jwk, alg) {
                Err(why) => invalid(why),
                Ok(()) => match DecodingKey::from_jwk(jwk) {
                    Err(e) => unchecked(format!("the JWK with kid `{kid}` is unusable: {e}")),
                    Ok(key) if verify_raw(token, &key, alg) => {
                        Checked::new(SignatureStatus::Valid {
                            key: format!("kid `{kid}` in the JWKS"),
                        })
                    }
                    Ok(_) => invalid(format!(
                        "the signature does not verify with the JWKS key `{kid}`"
                    )),
                },
            },
        },
    };
    checked.known_kids = Some(kids);
    checked.source = Some("keys in the JWKS".into());
    checked
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::EncodingKey;
    use serde_json::json;
    use warden_proto::{Claims, TokenType};

    use super::*;
    use crate::keys::KeyMaterial;
    use crate::tokens::{ClaimNames, mint};

    const NOW: UnixTime = 1_750_000_000;
    const SECRET: &[u8] = b"an HMAC secret of at least 64 bytes for every HS* algorithm .....";
    const RSA_PEM: &str = include_str!("../tests/fixtures/rsa2048.pem");
    const RSA_PUB_PEM: &str = include_str!("../tests/fixtures/rsa2048.pub.pem");
    const RSA_OTHER_PEM: &str = include_str!("../tests/fixtures/rsa2048-other.pem");
    const P256_PEM: &str = include_str!("../tests/fixtures/p256.pem");
    const P256_PUB_PEM: &str = include_str!("../tests/fixtures/p256.pub.pem");
    const JWKS: &str = include_str!("../tests/fixtures/rsa2048.jwks.json");

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    /// A token with any header and payload, signed with `key` under `alg`
    /// (or with a junk signature when `key` is `None`).
    fn forge(header: Value, payload: Value, key: Option<(&EncodingKey, Algorithm)>) -> String {
        let input = format!("{}.{}", b64(&header), b64(&payload));
        let sig = match key {
            Some((key, alg)) => {
                assert!(ensure_crypto_provider());
                jsonwebtoken::crypto::sign(input.as_bytes(), key, jwt_algorithm(alg)).unwrap()
            }
            None => "AAAA".to_string(),
        };
        format!("{input}.{sig}")
    }

    fn good_payload() -> Value {
        json!({
            "token_type": "access", "exp": NOW + 300, "iat": NOW - 10,
            "jti": "0123456789abcdef0123456789abcdef", "user_id": "1",
            "sid": "fedcba9876543210fedcba9876543210"
        })
    }

    fn expect() -> Expectations {
        Expectations::from_settings(&Settings::default())
    }

    fn hs_ring() -> KeyRing {
        KeyRing::new(KeyMaterial::from_hmac_secret(Algorithm::HS256, SECRET, NOW).unwrap()).unwrap()
    }

    fn minted(ring: &KeyRing, exp: i64, iat: i64) -> String {
        let claims = Claims {
            token_type: TokenType::Access,
            exp,
            iat,
            jti: "0123456789abcdef0123456789abcdef".into(),
            user_id: "1".into(),
            sid: "fedcba9876543210fedcba9876543210".into(),
            nbf: None,
            iss: None,
            aud: None,
            refresh_exp: None,
        };
        mint(ring, &claims, &ClaimNames::default()).unwrap().token
    }

    #[test]
    fn a_good_warden_token_has_no_warnings_and_verifies_with_the_ring() {
        let ring = hs_ring();
        let token = minted(&ring, NOW + 300, NOW);
        let i = inspect(&token, &VerifyWith::KeyRing(&ring), &expect(), NOW).unwrap();
        assert!(i.warnings.is_empty(), "{:?}", i.warnings);
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        assert!(i.claims.as_ref().unwrap().ok);
        assert_eq!(i.alg.as_deref(), Some("HS256"));
        assert_eq!(i.kid.as_deref(), Some(ring.active().kid()));
        assert_eq!(i.token_type.as_deref(), Some("access"));
        assert_eq!(i.times.exp, Some(NOW + 300));
        assert_eq!(i.times.iat, Some(NOW));
        assert_eq!(i.times.lifetime, Some(300));
        assert!(i.payload_pretty.contains("\"token_type\": \"access\""));
        assert_eq!(i.header["alg"], "HS256");
        // The whole result serialises for the window.
        let json = serde_json::to_value(&i).unwrap();
        assert_eq!(json["signature"]["status"], "valid");
        assert_eq!(json["times"]["exp"], NOW + 300);
    }

    #[test]
    fn without_a_key_the_signature_is_unchecked_and_claims_are_not_validated() {
        let token = minted(&hs_ring(), NOW + 300, NOW);
        let i = inspect(&token, &VerifyWith::Nothing, &expect(), NOW).unwrap();
        assert!(matches!(i.signature, SignatureStatus::Unchecked { .. }));
        assert!(i.claims.is_none());
        assert_eq!(
            serde_json::to_value(&i).unwrap()["signature"]["status"],
            "unchecked"
        );
    }

    #[test]
    fn ring_paths_valid_claims_failing_bad_signature_and_unknown_kid() {
        let ring = hs_ring();
        // Expired: the signature is valid, the claims are not.
        let expired = minted(&ring, NOW - 5, NOW - 100);
        let i = inspect(&expired, &VerifyWith::KeyRing(&ring), &expect(), NOW).unwrap();
        assert!(i.signature.is_valid());
        let claims = i.claims.unwrap();
        assert!(!claims.ok);
        assert_eq!(claims.reason, Some(Reason::Expired));
        assert!(i.warnings.iter().any(|w| w.code == WarningCode::Expired));

        // Tampered signature.
        let good = minted(&ring, NOW + 300, NOW);
        let tampered = format!("{}AAAA", &good[..good.len() - 4]);
        let i = inspect(&tampered, &VerifyWith::KeyRing(&ring), &expect(), NOW).unwrap();
        assert!(
            matches!(i.signature, SignatureStatus::Invalid { .. }),
            "{:?}",
            i.signature
        );
        assert!(i.claims.is_none());

        // Signed by another ring: its kid is not in this one.
        let other =
            KeyRing::new(KeyMaterial::from_hmac_secret(Algorithm::HS256, &[7u8; 64], NOW).unwrap())
                .unwrap();
        let foreign = minted(&other, NOW + 300, NOW);
        let i = inspect(&foreign, &VerifyWith::KeyRing(&ring), &expect(), NOW).unwrap();
        assert!(matches!(
            i.signature,
            SignatureStatus::KeyNotFound { kid: Some(_), .. }
        ));
        assert!(i.has_warning(WarningCode::KidUnknown), "{:?}", i.warnings);
        assert!(i.warnings.iter().any(|w| w.message.contains("key ring")));
    }

    #[test]
    fn alg_none_in_any_case_is_warned_and_never_valid() {
        let ring = hs_ring();
        for alg in ["none", "None", "NONE", "nOnE"] {
            let token = forge(json!({"alg": alg, "typ": "JWT"}), good_payload(), None);
            let i = inspect(&token, &VerifyWith::KeyRing(&ring), &expect(), NOW).unwrap();
            assert!(
                i.has_warning(WarningCode::AlgNone),
                "{alg}: {:?}",
                i.warnings
            );
            assert!(
                matches!(i.signature, SignatureStatus::Invalid { .. }),
                "{alg}"
            );
            let i = inspect(
                &token,
                &VerifyWith::HmacSecret(SECRET.to_vec()),
                &expect(),
                NOW,
            )
            .unwrap();
            assert!(
                matches!(i.signature, SignatureStatus::Invalid { .. }),
                "{alg}"
            );
        }
        let token = forge(json!({"alg": "PS256", "kid": "k"}), good_payload(), None);
        let i = inspect(&token, &VerifyWith::Nothing, &expect(), NOW).unwrap();
        assert!(i.has_warning(WarningCode::AlgNotAllowed));
    }

    #[test]
    fn hmac_secret_paths_and_the_short_key_warning() {
        let key = EncodingKey::from_secret(SECRET).unwrap();
        let header = json!({"alg": "HS256", "kid": "k1", "typ": "JWT"});
        let token = forge(
            header.clone(),
            good_payload(),
            Some((&key, Algorithm::HS256)),
        );
        let i = inspect(
            &token,
            &VerifyWith::HmacSecret(SECRET.to_vec()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        assert!(i.claims.as_ref().unwrap().ok, "{:?}", i.claims);
        assert!(!i.has_warning(WarningCode::ShortHmacKey));

        let i = inspect(
            &token,
            &VerifyWith::HmacSecret(b"wrong".to_vec()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(matches!(i.signature, SignatureStatus::Invalid { .. }));

        // A short key: the signature verifies, and the key is called out.
        let short = b"secret";
        let token = forge(
            header,
            good_payload(),
            Some((&EncodingKey::from_secret(short).unwrap(), Algorithm::HS256)),
        );
        let i = inspect(
            &token,
            &VerifyWith::HmacSecret(short.to_vec()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(i.signature.is_valid());
        assert!(i.has_warning(WarningCode::ShortHmacKey), "{:?}", i.warnings);
        // The key's length is unknown without the key: no warning.
        let i = inspect(&token, &VerifyWith::Nothing, &expect(), NOW).unwrap();
        assert!(!i.has_warning(WarningCode::ShortHmacKey));

        // An RS256 token with an HMAC secret is refused, not tried.
        let rs = forge(
            json!({"alg": "RS256", "kid": "k"}),
            good_payload(),
            Some((
                &EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
                Algorithm::RS256,
            )),
        );
        let i = inspect(
            &rs,
            &VerifyWith::HmacSecret(SECRET.to_vec()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(matches!(i.signature, SignatureStatus::Invalid { .. }));
    }

    #[test]
    fn pem_public_key_paths() {
        let rsa = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
        let token = forge(
            json!({"alg": "RS256", "kid": "k"}),
            good_payload(),
            Some((&rsa, Algorithm::RS256)),
        );
        let pem = VerifyWith::PublicPem(RSA_PUB_PEM.to_string());
        let i = inspect(&token, &pem, &expect(), NOW).unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        assert!(i.claims.unwrap().ok);

        let other = EncodingKey::from_rsa_pem(RSA_OTHER_PEM.as_bytes()).unwrap();
        let wrong = forge(
            json!({"alg": "RS256", "kid": "k"}),
            good_payload(),
            Some((&other, Algorithm::RS256)),
        );
        let i = inspect(&wrong, &pem, &expect(), NOW).unwrap();
        assert!(matches!(i.signature, SignatureStatus::Invalid { .. }));

        let es = EncodingKey::from_ec_pem(P256_PEM.as_bytes()).unwrap();
        let token = forge(
            json!({"alg": "ES256", "kid": "k"}),
            good_payload(),
            Some((&es, Algorithm::ES256)),
        );
        let i = inspect(
            &token,
            &VerifyWith::PublicPem(P256_PUB_PEM.into()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        // An ES256 token against an RSA key: the key does not fit.
        let i = inspect(&token, &pem, &expect(), NOW).unwrap();
        assert!(!i.signature.is_valid());

        // RS256-to-HS256 confusion: an HS256 token "signed" with the public key's bytes.
        let confused = forge(
            json!({"alg": "HS256", "kid": "k"}),
            good_payload(),
            Some((
                &EncodingKey::from_secret(RSA_PUB_PEM.as_bytes()).unwrap(),
                Algorithm::HS256,
            )),
        );
        let i = inspect(&confused, &pem, &expect(), NOW).unwrap();
        assert!(
            matches!(i.signature, SignatureStatus::Invalid { ref why } if why.contains("confusion"))
        );

        // Garbage PEM: unchecked, with the reason.
        let i = inspect(
            &token,
            &VerifyWith::PublicPem("not a key".into()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(
            matches!(i.signature, SignatureStatus::Unchecked { .. }),
            "{:?}",
            i.signature
        );
    }

    #[test]
    fn jwks_paths_pick_the_key_by_kid() {
        let rsa = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
        let other = EncodingKey::from_rsa_pem(RSA_OTHER_PEM.as_bytes()).unwrap();
        let jwks = VerifyWith::Jwks(JWKS.to_string());
        let sign = |kid: Option<&str>, key: &EncodingKey| {
            let mut header = json!({"alg": "RS256", "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            forge(header, good_payload(), Some((key, Algorithm::RS256)))
        };

        let i = inspect(&sign(Some("fixture-rsa"), &rsa), &jwks, &expect(), NOW).unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        assert!(!i.has_warning(WarningCode::KidUnknown));
        let i = inspect(
            &sign(Some("fixture-rsa-other"), &other),
            &jwks,
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);

        // The right kid, the wrong key.
        let i = inspect(&sign(Some("fixture-rsa"), &other), &jwks, &expect(), NOW).unwrap();
        assert!(matches!(i.signature, SignatureStatus::Invalid { .. }));

        // An unknown kid: not found, and warned.
        let i = inspect(&sign(Some("nope"), &rsa), &jwks, &expect(), NOW).unwrap();
        assert!(
            matches!(i.signature, SignatureStatus::KeyNotFound { kid: Some(ref k), .. } if k == "nope")
        );
        assert!(i.has_warning(WarningCode::KidUnknown));
        assert!(i.warnings.iter().any(|w| w.message.contains("JWKS")));

        // No kid at all.
        let i = inspect(&sign(None, &rsa), &jwks, &expect(), NOW).unwrap();
        assert!(matches!(
            i.signature,
            SignatureStatus::KeyNotFound { kid: None, .. }
        ));
        assert!(i.has_warning(WarningCode::MissingKid));

        // The JWK says RS256; a token claiming RS384 under that kid is refused.
        let rs384 = forge(
            json!({"alg": "RS384", "kid": "fixture-rsa"}),
            good_payload(),
            Some((&rsa, Algorithm::RS384)),
        );
        let i = inspect(&rs384, &jwks, &expect(), NOW).unwrap();
        assert!(
            matches!(i.signature, SignatureStatus::Invalid { .. }),
            "{:?}",
            i.signature
        );

        // Not a JWKS.
        let i = inspect(
            &sign(Some("fixture-rsa"), &rsa),
            &VerifyWith::Jwks("{\"keys\": 1}".into()),
            &expect(),
            NOW,
        )
        .unwrap();
        assert!(matches!(i.signature, SignatureStatus::Unchecked { .. }));
    }

    #[test]
    fn a_jwks_from_a_real_key_ring_verifies_its_tokens() {
        let material = KeyMaterial::from_pem(Algorithm::RS256, RSA_PEM, None, NOW).unwrap();
        let ring = KeyRing::new(material).unwrap();
        let token = minted(&ring, NOW + 60, NOW);
        let doc = ring.jwks(NOW).to_string();
        let i = inspect(&token, &VerifyWith::Jwks(doc), &expect(), NOW).unwrap();
        assert!(i.signature.is_valid(), "{:?}", i.signature);
        assert!(i.claims.unwrap().ok);
    }

    #[test]
    fn time_warnings_missing_exp_expired_future_iat_and_nbf() {
        let none = |payload: Value| {
            inspect(
                &forge(json!({"alg": "HS256", "kid": "k"}), payload, None),
                &VerifyWith::Nothing,
                &expect(),
                NOW,
            )
            .unwrap()
        };
        let mut p = good_payload();
        p.as_object_mut().unwrap().remove("exp");
        let i = none(p);
        assert!(i.has_warning(WarningCode::MissingExp), "{:?}", i.warnings);
        assert_eq!(i.times.exp, None);

        let mut p = good_payload();
        p["exp"] = json!("soon");
        assert!(none(p).has_warning(WarningCode::ExpNotInteger));

        let mut p = good_payload();
        p["exp"] = json!(NOW - 90);
        p["iat"] = json!(NOW - 200);
        let i = none(p);
        assert!(i.has_warning(WarningCode::Expired));
        assert!(
            i.warnings.iter().any(|w| w.message == "expired 1m 30s ago"),
            "{:?}",
            i.warnings
        );

        let mut p = good_payload();
        p["iat"] = json!(NOW + 3600);
        p["nbf"] = json!(NOW + 3600);
        p["exp"] = json!(NOW + 3700);
        let i = none(p.clone());
        assert!(i.has_warning(WarningCode::IatInFuture));
        assert!(i.has_warning(WarningCode::NbfInFuture));
        assert_eq!(i.times.nbf, Some(NOW + 3600));
        // Within the leeway: no warning.
        let mut lenient = expect();
        lenient.leeway = 7200;
        let token = forge(json!({"alg": "HS256", "kid": "k"}), p, None);
        let i = inspect(&token, &VerifyWith::Nothing, &lenient, NOW).unwrap();
        assert!(!i.has_warning(WarningCode::IatInFuture));
        assert!(!i.has_warning(WarningCode::NbfInFuture));
    }

    #[test]
    fn lifetime_longer_than_the_servers_setting() {
        let mut settings = Settings::default();
        settings.ACCESS_TOKEN_LIFETIME = crate::settings::Secs(300);
        let expect = Expectations::from_settings(&settings);
        let mut p = good_payload();
        p["iat"] = json!(NOW);
        p["exp"] = json!(NOW + 301);
        let token = forge(json!({"alg": "HS256", "kid": "k"}), p, None);
        let i = inspect(&token, &VerifyWith::Nothing, &expect, NOW).unwrap();
        assert!(
            i.has_warning(WarningCode::LifetimeTooLong),
            "{:?}",
            i.warnings
        );
        assert!(
            i.warnings
                .iter()
                .any(|w| w.message.contains("ACCESS_TOKEN_LIFETIME"))
        );
        // Exactly the setting: fine. Unknown settings: no warning.
        let mut p = good_payload();
        p["iat"] = json!(NOW);
        p["exp"] = json!(NOW + 300);
        let token = forge(json!({"alg": "HS256", "kid": "k"}), p, None);
        let i = inspect(&token, &VerifyWith::Nothing, &expect, NOW).unwrap();
        assert!(!i.has_warning(WarningCode::LifetimeTooLong));
        let mut p = good_payload();
        p["exp"] = json!(NOW + 999_999);
        let token = forge(json!({"alg": "HS256", "kid": "k"}), p, None);
        let i = inspect(&token, &VerifyWith::Nothing, &Expectations::default(), NOW).unwrap();
        assert!(!i.has_warning(WarningCode::LifetimeTooLong));
        // Refresh tokens compare with REFRESH_TOKEN_LIFETIME.
        let mut p = good_payload();
        p["token_type"] = json!("refresh");
        p["iat"] = json!(NOW);
        p["exp"] = json!(NOW + 86_401);
        let token = forge(json!({"alg": "HS256", "kid": "k"}), p, None);
        let i = inspect(&token, &VerifyWith::Nothing, &expect, NOW).unwrap();
        assert!(
            i.warnings
                .iter()
                .any(|w| w.message.contains("REFRESH_TOKEN_LIFETIME"))
        );
    }

    #[test]
    fn token_type_missing_or_unknown_and_missing_jti() {
        let run = |payload: Value| {
            let token = forge(json!({"alg": "HS256", "kid": "k"}), payload, None);
            inspect(&token, &VerifyWith::Nothing, &expect(), NOW).unwrap()
        };
        let mut p = good_payload();
        p.as_object_mut().unwrap().remove("token_type");
        p.as_object_mut().unwrap().remove("jti");
        let i = run(p);
        assert!(i.has_warning(WarningCode::TokenTypeMissing));
        assert!(i.has_warning(WarningCode::MissingJti));
        assert_eq!(i.token_type, None);
        let mut p = good_payload();
        p["token_type"] = json!("id");
        let i = run(p);
        assert!(i.has_warning(WarningCode::TokenTypeUnknown));
        assert_eq!(i.token_type.as_deref(), Some("id"));
        assert!(!run(good_payload()).has_warning(WarningCode::TokenTypeUnknown));
    }

    #[test]
    fn known_kids_from_expectations() {
        let token = forge(json!({"alg": "HS256", "kid": "abc"}), good_payload(), None);
        let mut e = expect();
        e.known_kids = Some(vec!["def".into()]);
        e.known_kids_source = Some("local keys (key file)".into());
        let i = inspect(&token, &VerifyWith::Nothing, &e, NOW).unwrap();
        let w = i
            .warnings
            .iter()
            .find(|w| w.code == WarningCode::KidUnknown)
            .unwrap();
        assert_eq!(
            w.message,
            "kid `abc` is not one of the local keys (key file)"
        );
        e.known_kids = Some(vec!["abc".into()]);
        let i = inspect(&token, &VerifyWith::Nothing, &e, NOW).unwrap();
        assert!(!i.has_warning(WarningCode::KidUnknown));
        assert_eq!(
            serde_json::to_value(&i.warnings).unwrap(),
            json!([]),
            "serialised warnings"
        );
    }

    #[test]
    fn undecodable_tokens_are_an_error_not_a_panic() {
        for garbage in [
            "",
            "garbage",
            "a.b.c",
            "..",
            "eyJ.eyJ.",
            &"A".repeat(MAX_INSPECT_BYTES + 1),
        ] {
            let e = inspect(garbage, &VerifyWith::Nothing, &expect(), NOW).unwrap_err();
            assert!(e.to_string().starts_with("not a decodable JWT"), "{e}");
        }
    }

    #[test]
    fn warning_codes_serialise_as_their_names() {
        for code in [
            WarningCode::AlgNone,
            WarningCode::KidUnknown,
            WarningCode::ShortHmacKey,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
        }
        assert_eq!(span(0), "0s");
        assert_eq!(span(90_061), "1d 1h");
        assert_eq!(span(86_400 + 5), "1d", "adjacent units only");
        assert_eq!(span(47_481 * 86_400 + 23 * 3600 + 59), "47481d 23h");
    }

    #[test]
    fn debug_of_a_secret_key_does_not_show_it() {
        let v = VerifyWith::HmacSecret(SECRET.to_vec());
        let shown = format!("{v:?}");
        assert!(!shown.contains("HMAC secret of"), "{shown}");
    }
}
