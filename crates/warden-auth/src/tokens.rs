//! Minting and fixed-order validation of JWTs.
//!
//! [`validate`] checks a token in one fixed order and stops at the first
//! failure, each step with its own [`TokenError`]: size, shape, header,
//! algorithm allowlist, key by `kid` (pinned algorithm), signature, then the
//! payload's claims and time window, then Warden's own claims (type, ids,
//! user, session). Nothing in the payload is looked at before the signature
//! verifies, and nothing in the header other than `alg`, `typ`, `kid` and
//! `crit` is used: `jku`, `x5u`, `jwk` and `x5c` are never fetched or trusted.
//!
//! Revocation is not checked here; the engine consults its revocation set
//! after `validate` succeeds.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_proto::{Claims, TokenType};

use crate::clock::UnixTime;
use crate::error::{KeyError, TokenError};
use crate::ids::{Jti, SessionId};
use crate::keys::{KeyRing, SigningKey};
use crate::settings::{Algorithm, Settings};

/// Longest encoded header accepted. Warden's own headers are ~80 bytes; this
/// leaves room for other issuers' headers in the inspector while bounding the
/// stack buffer the header is decoded into.
pub(crate) const MAX_HEADER_B64_BYTES: usize = 2048;
const MAX_HEADER_JSON_BYTES: usize = MAX_HEADER_B64_BYTES / 4 * 3;
/// Size cap of [`decode_unverified`], which has no policy: the inspector also
/// looks at tokens from other issuers, so it is more generous than `MAX_TOKEN_BYTES`.
pub(crate) const MAX_INSPECT_BYTES: usize = 64 * 1024;

/// Names of the configurable claims (SimpleJWT's `*_CLAIM` settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimNames {
    /// `USER_ID_CLAIM`.
    pub user_id: String,
    /// `TOKEN_TYPE_CLAIM`.
    pub token_type: String,
    /// `JTI_CLAIM`.
    pub jti: String,
    /// `SLIDING_TOKEN_REFRESH_EXP_CLAIM`.
    pub refresh_exp: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            user_id: "user_id".into(),
            token_type: "token_type".into(),
            jti: "jti".into(),
            refresh_exp: "refresh_exp".into(),
        }
    }
}

impl ClaimNames {
    /// The names `settings` configure.
    pub fn from_settings(settings: &Settings) -> Self {
        ClaimNames {
            user_id: settings.USER_ID_CLAIM.clone(),
            token_type: settings.TOKEN_TYPE_CLAIM.clone(),
            jti: settings.JTI_CLAIM.clone(),
            refresh_exp: settings.SLIDING_TOKEN_REFRESH_EXP_CLAIM.clone(),
        }
    }
}

/// Everything [`validate`] needs besides the key ring, built once from settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Longest token accepted, checked before anything else.
    pub max_bytes: usize,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
    /// When set, `iss` must equal it; when unset, `iss` is not checked.
    pub issuer: Option<String>,
    /// When set, `aud` must equal or (array) contain it; when unset, a token
    /// with an `aud` is refused (as PyJWT does, and RFC 7519 §4.1.3 requires).
    pub audience: Option<String>,
    /// Which claims hold the type, the id and the user.
    pub claim_names: ClaimNames,
}

impl ValidationPolicy {
    /// The policy of a server running with `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        ValidationPolicy {
            max_bytes: settings.MAX_TOKEN_BYTES,
            leeway: settings.LEEWAY.get(),
            issuer: settings.ISSUER.clone(),
            audience: settings.AUDIENCE.clone(),
            claim_names: ClaimNames::from_settings(settings),
        }
    }
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        ValidationPolicy::from_settings(&Settings::default())
    }
}

/// A freshly signed token.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The token itself: a credential.
    pub token: String,
    /// The token's pin, what the store keeps instead of the token: lowercase
    /// hex SHA-256 of its signature part (see [`pin`]).
    pub signing_input_sha256: String,
    /// The key that signed it.
    pub kid: String,
}

impl fmt::Debug for MintedToken {
    // A token is a credential; keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &format_args!("<{} bytes>", self.token.len()))
            .field("signing_input_sha256", &self.signing_input_sha256)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Signs `claims` with the ring's active key.
pub fn mint(ring: &KeyRing, claims: &Claims, names: &ClaimNames) -> Result<MintedToken, KeyError> {
    mint_with_key(ring.active(), claims, names)
}

/// Signs `claims` with a given key. The output is a pure function of the key
/// and the claims (all of Warden's algorithms sign deterministically), so
/// re-minting with the key that signed a token reproduces it byte for byte,
/// which the rotation grace window relies on even after a key rotation.
pub(crate) fn mint_with_key(
    key: &SigningKey,
    claims: &Claims,
    names: &ClaimNames,
) -> Result<MintedToken, KeyError> {
    let mut signing_input_sha256 = String::new();
    let token = sign_claims(key, claims, names, Some(&mut signing_input_sha256))?;
    Ok(MintedToken {
        token,
        signing_input_sha256,
        kid: key.kid().to_string(),
    })
}

/// [`mint`] without the pin, which only tokens the store pins (refresh,
/// sliding) need: one digest less per access token.
pub(crate) fn mint_unpinned(
    ring: &KeyRing,
    claims: &Claims,
    names: &ClaimNames,
) -> Result<String, KeyError> {
    sign_claims(ring.active(), claims, names, None)
}

fn sign_claims(
    key: &SigningKey,
    claims: &Claims,
    names: &ClaimNames,
    digest: Option<&mut String>,
) -> Result<String, KeyError> {
    let payload = payload_json(claims, names)
        .map_err(|e| KeyError::Sign(format!("cannot serialise claims: {e}")))?;
    let header = key.header_b64();
    let mut token = String::with_capacity(header.len() + payload.len() * 4 / 3 + 700);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign_b64(token.as_bytes())?;
    if let Some(digest) = digest {
        *digest = sha256_hex(signature.as_bytes());
    }
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}

/// The payload in a fixed member order (SimpleJWT's, then Warden's additions),
/// so equal claims always give equal bytes.
fn payload_json(claims: &Claims, names: &ClaimNames) -> Result<Vec<u8>, serde_json::Error> {
    fn key(out: &mut Vec<u8>, name: &str) -> Result<(), serde_json::Error> {
        if out.len() > 1 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, name)?;
        out.push(b':');
        Ok(())
    }
    fn text(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), serde_json::Error> {
        key(out, name)?;
        serde_json::to_writer(&mut *out, value)
    }
    fn int(out: &mut Vec<u8>, name: &str, value: i64) -> Result<(), serde_json::Error> {
        key(out, name)?;
        serde_json::to_writer(&mut *out, &value)
    }

    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    text(&mut out, &names.token_type, claims.token_type.as_str())?;
    int(&mut out, "exp", claims.exp)?;
    int(&mut out, "iat", claims.iat)?;
    text(&mut out, &names.jti, &claims.jti)?;
    text(&mut out, &names.user_id, &claims.user_id)?;
    text(&mut out, "sid", &claims.sid)?;
    if let Some(nbf) = claims.nbf {
        int(&mut out, "nbf", nbf)?;
    }
    if let Some(iss) = &claims.iss {
        text(&mut out, "iss", iss)?;
    }
    if let Some(aud) = &claims.aud {
        text(&mut out, "aud", aud)?;
    }
    if let Some(refresh_exp) = claims.refresh_exp {
        int(&mut out, &names.refresh_exp, refresh_exp)?;
    }
    out.push(b'}');
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The token's pin: lowercase hex SHA-256 of everything after its last dot
/// (the base64url signature of a well-formed token); `None` when there is no dot.
///
/// What the store keeps of a refresh or sliding token instead of the token.
/// Compared only after the signature has been verified, equal pins mean the
/// same signature, hence the same signing input (all of Warden's algorithms
/// sign deterministically, and a valid signature binds its input). A 43-byte
/// HS256 signature is one SHA-256 block; the signing input it replaces
/// (`header.payload`, ~300 bytes) was five: two digests of a durable rotation
/// cost ~30 % of its instructions under callgrind (BENCHMARKS.md, issue 17).
pub fn pin(token: &str) -> Option<String> {
    let start = token.rfind('.')? + 1;
    Some(sha256_hex(&token.as_bytes()[start..]))
}

/// The pin of rows written before [`pin`] (Warden up to issue 17's second
/// round): lowercase hex SHA-256 of everything before the token's last dot
/// (`header.payload`); `None` when there is no dot.
pub fn legacy_pin(token: &str) -> Option<String> {
    let end = token.rfind('.')?;
    Some(sha256_hex(&token.as_bytes()[..end]))
}

/// Whether `stored` is the pin of `token`, in either form: [`pin`] (every
/// row written now), else [`legacy_pin`] (rows written before it, which a
/// refresh token issued then still presents until it rotates or expires).
pub fn pin_matches(token: &str, stored: &str) -> bool {
    pin(token).as_deref() == Some(stored) || legacy_pin(token).as_deref() == Some(stored)
}

/// The three parts of a compact JWS, borrowed from the token.
struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    signing_input: &'t str,
}

/// Steps 1 and 2: size, then exactly three non-empty unpadded base64url parts.
/// `unsigned_ok`: an empty signature part is accepted (`alg: none` tokens
/// look like `header.payload.`); only for reading a token, never validating.
/// The bytes a compact JWS may hold: base64url's alphabet and `.`.
const BASE64URL_OR_DOT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.');
        b += 1;
    }
    table
};

fn split(token: &str, max_bytes: usize, unsigned_ok: bool) -> Result<Parts<'_>, TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLarge {
            len: token.len(),
            max: max_bytes,
        });
    }
    // Every byte is base64url or a dot (not padding, whitespace, the standard
    // alphabet's `+/`, anything else), and there are exactly two dots.
    // One pass: the alphabet check and the dots' places.
    let mut dots = [0usize; 2];
    let mut count = 0;
    for (i, b) in token.bytes().enumerate() {
        if !BASE64URL_OR_DOT[usize::from(b)] {
            return Err(TokenError::Malformed);
        }
        if b == b'.' {
            if count == 2 {
                return Err(TokenError::Malformed);
            }
            dots[count] = i;
            count += 1;
        }
    }
    if count != 2 {
        return Err(TokenError::Malformed);
    }
    let [first, second] = dots;
    let parts = Parts {
        header: &token[..first],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
        signing_input: &token[..second],
    };
    // A base64 text of length 4n+1 encodes no whole byte: it cannot be a part.
    let well_formed = |part: &str| !part.is_empty() && part.len() % 4 != 1;
    let signature_ok = well_formed(parts.signature) || (unsigned_ok && parts.signature.is_empty());
    if !(well_formed(parts.header) && well_formed(parts.payload) && signature_ok) {
        return Err(TokenError::Malformed);
    }
    Ok(parts)
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }

    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// A JSON integer that fits in i64: floats, strings and larger numbers are refused.
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
        }
        d.deserialize_i64(IntVisitor)
    }
}

/// Any JSON value, read and dropped. Unlike `IgnoredAny`, which serde_json
/// skips with an unbounded iterative scanner, this recurses through
/// `deserialize_any`, so serde_json's recursion limit (128) refuses nesting
/// bombs in members Warden does not read, as it does for the ones it reads.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(SkipVisitor)
    }
}

/// Any JSON value, kept only when it is a string or an integer, so a claim of
/// the wrong type is reported by the step that owns the claim.
enum Loose<'a> {
    Text(Cow<'a, str>),
    Int(i128),
    Other,
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LooseVisitor;
        impl<'de> Visitor<'de> for LooseVisitor {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose<'de>, E> {
                Ok(Loose::Int(i128::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose<'de>, E> {
                Ok(Loose::Int(i128::from(v)))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<'de>, E> {
                Ok(Loose::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'de>, E> {
                Ok(Loose::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(LooseVisitor)
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
enum Audience<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'de> Deserialize<'de> for Audience<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Audience<'de>, E> {
                Ok(Audience::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience<'de>, E> {
                Ok(Audience::One(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Audience<'de>, E> {
                Ok(Audience::One(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience<'de>, A::Error> {
                let mut all = Vec::new();
                while let Some(Text(aud)) = seq.next_element::<Text<'de>>()? {
                    all.push(aud);
                }
                Ok(Audience::Many(all))
            }
        }
        d.deserialize_any(AudienceVisitor)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), E> {
    if slot.is_some() {
        // Two parsers disagreeing on which duplicate wins is a classic JWT bypass.
        return Err(E::custom(format_args!("duplicate `{name}`")));
    }
    *slot = Some(value);
    Ok(())
}

/// The header members Warden reads; every other member is skipped unread.
#[derive(Default)]
struct RawHeader<'a> {
    alg: Option<Text<'a>>,
    typ: Option<Text<'a>>,
    kid: Option<Text<'a>>,
    crit: bool,
}

impl<'de> Deserialize<'de> for RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = RawHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader<'de>, A::Error> {
                let mut header = RawHeader::default();
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    match name.as_str() {
                        "alg" => set_once(&mut header.alg, "alg", map.next_value()?)?,
                        "typ" => set_once(&mut header.typ, "typ", map.next_value()?)?,
                        "kid" => set_once(&mut header.kid, "kid", map.next_value()?)?,
                        "crit" => {
                            header.crit = true;
                            map.next_value::<Skip>()?;
                        }
                        // `jku`, `x5u`, `jwk`, `x5c` included: a key named by the
                        // token itself proves nothing, so they are never used.
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(header)
            }
        }
        d.deserialize_map(HeaderVisitor)
    }
}

/// A header that passed step 3.
struct Header<'a> {
    alg: Text<'a>,
    kid: Option<Text<'a>>,
}

fn bad_header(message: impl fmt::Display) -> TokenError {
    TokenError::BadHeader(message.to_string())
}

fn bad_payload(message: impl fmt::Display) -> TokenError {
    TokenError::BadPayload(message.to_string())
}

fn decode_header<'b>(
    encoded: &str,
    buf: &'b mut [u8; MAX_HEADER_JSON_BYTES],
) -> Result<&'b [u8], TokenError> {
    if encoded.len() > MAX_HEADER_B64_BYTES {
        return Err(bad_header(format_args!(
            "header is over {MAX_HEADER_B64_BYTES} bytes"
        )));
    }
    let len = URL_SAFE_NO_PAD
        .decode_slice(encoded, &mut buf[..])
        .map_err(|_| bad_header("header is not base64url"))?;
    Ok(&buf[..len])
}

/// Step 3. Nesting depth is bounded by serde_json's recursion limit (128)
/// (see [`Skip`]), which turns a nesting bomb into an error, not a stack overflow.
fn parse_header(json: &[u8]) -> Result<Header<'_>, TokenError> {
    let raw: RawHeader<'_> = serde_json::from_slice(json).map_err(bad_header)?;
    if raw.crit {
        return Err(TokenError::CriticalHeader);
    }
    if let Some(typ) = &raw.typ
        && !typ.as_str().eq_ignore_ascii_case("JWT")
    {
        return Err(bad_header(format_args!(
            "`typ` is `{}`, not JWT",
            typ.as_str().escape_debug()
        )));
    }
    let alg = raw.alg.ok_or_else(|| bad_header("no `alg`"))?;
    Ok(Header { alg, kid: raw.kid })
}

/// The payload members Warden reads.
#[derive(Default)]
struct RawClaims<'a> {
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    iss: Option<Text<'a>>,
    aud: Option<Audience<'a>>,
    sid: Option<Loose<'a>>,
    token_type: Option<Loose<'a>>,
    jti: Option<Loose<'a>>,
    user_id: Option<Loose<'a>>,
    refresh_exp: Option<i64>,
}

/// Reads the payload with the configured claim names.
struct ClaimsSeed<'n>(&'n ClaimNames);

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawClaims<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims<'de>, A::Error> {
        let names = self.0;
        let mut raw = RawClaims::default();
        while let Some(name) = map.next_key::<Text<'de>>()? {
            let name = name.as_str();
            match name {
                "exp" => set_once(&mut raw.exp, name, map.next_value::<Int>()?.0)?,
                "iat" => set_once(&mut raw.iat, name, map.next_value::<Int>()?.0)?,
                "nbf" => set_once(&mut raw.nbf, name, map.next_value::<Int>()?.0)?,
                "iss" => set_once(&mut raw.iss, name, map.next_value()?)?,
                "aud" => set_once(&mut raw.aud, name, map.next_value()?)?,
                "sid" => set_once(&mut raw.sid, name, map.next_value()?)?,
                _ if name == names.token_type => {
                    set_once(&mut raw.token_type, name, map.next_value()?)?;
                }
                _ if name == names.jti => set_once(&mut raw.jti, name, map.next_value()?)?,
                _ if name == names.user_id => {
                    set_once(&mut raw.user_id, name, map.next_value()?)?;
                }
                _ if name == names.refresh_exp => {
                    set_once(&mut raw.refresh_exp, name, map.next_value::<Int>()?.0)?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(raw)
    }
}

fn decode_payload(encoded: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| bad_payload("payload is not base64url"))
}

fn parse_claims<'p>(json: &'p [u8], names: &ClaimNames) -> Result<RawClaims<'p>, TokenError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let raw = ClaimsSeed(names)
        .deserialize(&mut de)
        .map_err(bad_payload)?;
    de.end().map_err(bad_payload)?;
    Ok(raw)
}

/// A token that passed [`validate`]: its claims, and the session and token
/// ids step 8 parsed from them, so nobody parses them again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The claims.
    pub claims: Claims,
    /// `claims.sid`, parsed.
    pub sid: SessionId,
    /// `claims.jti`, parsed.
    pub jti: Jti,
}

/// Steps 3–5 of [`validate`]: the header, the algorithm allowlist, and the
/// key by kid, which decides the algorithm.
fn key_of_header<'r>(
    encoded: &str,
    ring: &'r KeyRing,
    now: UnixTime,
) -> Result<&'r SigningKey, TokenError> {
    // 3. Header.
    let mut header_buf = [0u8; MAX_HEADER_JSON_BYTES];
    let header_json = decode_header(encoded, &mut header_buf)?;
    let header = parse_header(header_json)?;

    // 4. Algorithm allowlist (exact, case-sensitive; `none` is not an algorithm).
    let alg = Algorithm::parse(header.alg.as_str())
        .ok_or_else(|| TokenError::AlgorithmNotAllowed(header.alg.as_str().to_string()))?;

    // 5. Key by kid, and the key decides the algorithm, not the token.
    let kid = header.kid.as_ref().ok_or(TokenError::MissingKid)?.as_str();
    let key = ring
        .verifying_key(kid, now)
        .ok_or_else(|| TokenError::UnknownKid(kid.to_string()))?;
    if key.alg() != alg {
        return Err(TokenError::AlgorithmMismatch {
            kid: kid.to_string(),
            header: alg.as_str().to_string(),
            key: key.alg().as_str().to_string(),
        });
    }

    Ok(key)
}

/// Validates a token in the fixed order described in the module docs.
/// `expected` restricts the token type; `None` accepts access, refresh and sliding.
pub fn validate(
    token: &str,
    ring: &KeyRing,
    policy: &ValidationPolicy,
    now: UnixTime,
    expected: Option<TokenType>,
) -> Result<Validated, TokenError> {
    // 1–2. Size and shape.
    let parts = split(token, policy.max_bytes, false)?;

    // 3–5, the common case first: a header that is, byte for byte, the one
    // the active key writes into every token decodes to that key's `alg` and
    // `kid` (and `typ: JWT`), so steps 3–5 would find that key: skip decoding it.
    let active = ring.active();
    let key = match ring.verifying_key(active.kid(), now) {
        Some(key) if parts.header == key.header_b64() => key,
        _ => key_of_header(parts.header, ring, now)?,
    };

    // 6. Signature.
    if !key.verify_b64(parts.signature, parts.signing_input.as_bytes()) {
        return Err(TokenError::BadSignature);
    }

    // 7. Registered claims.
    let payload = decode_payload(parts.payload)?;
    let raw = parse_claims(&payload, &policy.claim_names)?;
    check_claims(raw, policy, now, expected)
}

/// Steps 7–8 of [`validate`] alone, for a token whose signature the caller
/// has already verified some other way (the token inspector's JWKS, PEM and
/// raw-secret paths). Never use this on a token whose signature is unchecked.
pub(crate) fn validate_claims_of_verified(
    token: &str,
    policy: &ValidationPolicy,
    now: UnixTime,
    expected: Option<TokenType>,
) -> Result<Validated, TokenError> {
    let parts = split(token, policy.max_bytes, false)?;
    let payload = decode_payload(parts.payload)?;
    let raw = parse_claims(&payload, &policy.claim_names)?;
    check_claims(raw, policy, now, expected)
}

/// Steps 7 (time window, issuer, audience) and 8 (Warden's claims) on a parsed payload.
fn check_claims(
    raw: RawClaims<'_>,
    policy: &ValidationPolicy,
    now: UnixTime,
    expected: Option<TokenType>,
) -> Result<Validated, TokenError> {
    let leeway = policy.leeway;
    let exp = raw.exp.ok_or(TokenError::MissingClaim("exp"))?;
    // PyJWT's rule: expired once `exp <= now - leeway`, so a token is already
    // dead at the second its `exp` names (with no leeway).
    if exp <= now.saturating_sub(leeway) {
        return Err(TokenError::Expired { exp, now });
    }
    if let Some(nbf) = raw.nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(TokenError::NotYetValid { nbf, now });
    }
    // `Claims::iat` is not optional, and SimpleJWT always writes it.
    let iat = raw.iat.ok_or(TokenError::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture { iat, now });
    }
    if let Some(want) = &policy.issuer
        && raw.iss.as_ref().map(Text::as_str) != Some(want.as_str())
    {
        return Err(TokenError::WrongIssuer);
    }
    let aud = match (&policy.audience, raw.aud) {
        (None, None) => None,
        (Some(want), Some(Audience::One(aud))) if aud == want.as_str() => Some(aud.into_owned()),
        (Some(want), Some(Audience::Many(all))) if all.iter().any(|a| a == want.as_str()) => {
            Some(want.clone())
        }
        _ => return Err(TokenError::WrongAudience),
    };

    // 8. Warden's claims.
    let token_type = match raw.token_type {
        None => return Err(TokenError::NoType),
        Some(Loose::Text(found)) => {
            TokenType::parse(&found).ok_or_else(|| TokenError::WrongType {
                expected: expected_name(expected).into(),
                found: found.into_owned(),
            })?
        }
        Some(_) => {
            return Err(TokenError::WrongType {
                expected: expected_name(expected).into(),
                found: "a non-string".into(),
            });
        }
    };
    if let Some(want) = expected
        && want != token_type
    {
        return Err(TokenError::wrong_type(want, token_type));
    }
    let (jti, jti_id) = match raw.jti {
        None => return Err(TokenError::NoId),
        Some(Loose::Text(jti)) => match Jti::parse(&jti) {
            Some(id) => (canonical_id(jti), id),
            None => return Err(TokenError::BadId),
        },
        Some(_) => return Err(TokenError::BadId),
    };
    let user_id = match raw.user_id {
        None => return Err(TokenError::MissingClaim("user_id")),
        Some(Loose::Text(user)) => user.into_owned(),
        // SimpleJWT writes whatever type the user's pk has; Warden's form is a string.
        Some(Loose::Int(user)) => user.to_string(),
        Some(Loose::Other) => return Err(bad_payload("user id is not a string")),
    };
    let (sid, sid_id) = match raw.sid {
        None => return Err(TokenError::MissingClaim("sid")),
        Some(Loose::Text(sid)) => match SessionId::parse(&sid) {
            Some(id) => (canonical_id(sid), id),
            None => return Err(TokenError::BadId),
        },
        Some(_) => return Err(TokenError::BadId),
    };
    if token_type == TokenType::Sliding && raw.refresh_exp.is_none() {
        return Err(TokenError::MissingClaim("refresh_exp"));
    }

    Ok(Validated {
        claims: Claims {
            token_type,
            exp,
            iat,
            jti,
            user_id,
            sid,
            nbf: raw.nbf,
            iss: raw.iss.map(Text::into_owned),
            aud,
            refresh_exp: raw.refresh_exp,
        },
        sid: sid_id,
        jti: jti_id,
    })
}

/// An id that parsed as 32 hex digits, in canonical lowercase so the
/// revocation set and the store only ever see one spelling.
fn canonical_id(id: Cow<'_, str>) -> String {
    if id.bytes().any(|b| b.is_ascii_uppercase()) {
        id.to_ascii_lowercase()
    } else {
        id.into_owned()
    }
}

fn expected_name(expected: Option<TokenType>) -> &'static str {
    match expected {
        Some(t) => t.as_str(),
        None => "access, refresh or sliding",
    }
}

/// Header and payload of a token without any key, for the token inspector:
/// the same size, shape and header checks as [`validate`] (steps 1–3, with a
/// 64 KiB cap) and a payload that must be a JSON object.
/// Nothing returned here is verified.
pub fn decode_unverified(
    token: &str,
) -> Result<(serde_json::Value, serde_json::Value), TokenError> {
    let parts = split(token, MAX_INSPECT_BYTES, true)?;
    let mut header_buf = [0u8; MAX_HEADER_JSON_BYTES];
    let header_json = decode_header(parts.header, &mut header_buf)?;
    parse_header(header_json)?;
    let header: serde_json::Value = serde_json::from_slice(header_json).map_err(bad_header)?;
    let payload_json = decode_payload(parts.payload)?;
    let payload: serde_json::Value = serde_json::from_slice(&payload_json).map_err(bad_payload)?;
    if !payload.is_object() {
        return Err(bad_payload("payload is not a JSON object"));
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use serde_json::{Value, json};

    use super::*;
    use crate::keys::KeyMaterial;

    const NOW: UnixTime = 1_750_000_000;
    const JTI: &str = "0123456789abcdef0123456789abcdef";
    const SID: &str = "fedcba9876543210fedcba9876543210";
    const HMAC_SECRET: &[u8] = b"an HMAC secret of at least 64 bytes for every HS* algorithm .....";

    const RSA_PEM: &str = include_str!("../tests/fixtures/rsa2048.pem");
    const RSA_PUB_PEM: &str = include_str!("../tests/fixtures/rsa2048.pub.pem");
    const P256_PEM: &str = include_str!("../tests/fixtures/p256.pem");
    const P384_PEM: &str = include_str!("../tests/fixtures/p384.pem");
    const ED25519_PEM: &str = include_str!("../tests/fixtures/ed25519.pem");

    fn material(alg: Algorithm) -> KeyMaterial {
        match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                KeyMaterial::from_hmac_secret(alg, HMAC_SECRET, NOW).unwrap()
            }
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                KeyMaterial::from_pem(alg, RSA_PEM, None, NOW).unwrap()
            }
            Algorithm::ES256 => KeyMaterial::from_pem(alg, P256_PEM, None, NOW).unwrap(),
            Algorithm::ES384 => KeyMaterial::from_pem(alg, P384_PEM, None, NOW).unwrap(),
            Algorithm::EdDSA => KeyMaterial::from_pem(alg, ED25519_PEM, None, NOW).unwrap(),
        }
    }

    fn ring(alg: Algorithm) -> KeyRing {
        KeyRing::new(material(alg)).unwrap()
    }

    fn hs256() -> &'static KeyRing {
        static RING: OnceLock<KeyRing> = OnceLock::new();
        RING.get_or_init(|| ring(Algorithm::HS256))
    }

    fn policy() -> ValidationPolicy {
        ValidationPolicy::default()
    }

    fn claims(token_type: TokenType) -> Claims {
        Claims {
            token_type,
            exp: NOW + 300,
            iat: NOW,
            jti: JTI.into(),
            user_id: "42".into(),
            sid: SID.into(),
            nbf: None,
            iss: None,
            aud: None,
            refresh_exp: (token_type == TokenType::Sliding).then_some(NOW + 86_400),
        }
    }

    fn access() -> Claims {
        claims(TokenType::Access)
    }

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    /// A token with an arbitrary header and payload, validly signed by `key`.
    fn forge(key: &SigningKey, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.jwt_algorithm())
                .unwrap();
        format!("{input}.{sig}")
    }

    fn header_of(key: &SigningKey) -> String {
        format!(
            r#"{{"alg":"{}","typ":"JWT","kid":"{}"}}"#,
            key.alg().as_str(),
            key.kid()
        )
    }

    fn good_payload() -> Value {
        json!({
            "token_type": "access", "exp": NOW + 300, "iat": NOW,
            "jti": JTI, "user_id": "42", "sid": SID,
        })
    }

    /// The HS256 test ring's key signing `payload` under the usual header.
    fn signed(payload: &str) -> String {
        let key = hs256().active();
        forge(key, &header_of(key), payload)
    }

    fn signed_json(payload: &Value) -> String {
        signed(&payload.to_string())
    }

    fn with(changes: &[(&str, Value)]) -> Value {
        let mut p = good_payload();
        for (name, value) in changes {
            p[*name] = value.clone();
        }
        p
    }

    fn without(name: &str) -> Value {
        let mut p = good_payload();
        p.as_object_mut().unwrap().remove(name);
        p
    }

    fn check(token: &str) -> Result<Claims, TokenError> {
        validate(token, hs256(), &policy(), NOW, None).map(|v| v.claims)
    }

    fn check_with(token: &str, policy: &ValidationPolicy) -> Result<Claims, TokenError> {
        validate(token, hs256(), policy, NOW, None).map(|v| v.claims)
    }

    fn with_header(header: &str) -> String {
        forge(hs256().active(), header, &good_payload().to_string())
    }

    fn is_bad_header(r: Result<Claims, TokenError>) -> bool {
        matches!(r, Err(TokenError::BadHeader(_)))
    }

    fn is_bad_payload(r: Result<Claims, TokenError>) -> bool {
        matches!(r, Err(TokenError::BadPayload(_)))
    }

    // ---- round trips -------------------------------------------------------

    #[test]
    fn every_algorithm_round_trips() {
        for alg in Algorithm::ALL {
            let ring = ring(alg);
            for t in [TokenType::Access, TokenType::Refresh, TokenType::Sliding] {
                let minted = mint(&ring, &claims(t), &ClaimNames::default()).unwrap();
                assert_eq!(minted.kid, ring.active().kid());
                let got = validate(&minted.token, &ring, &policy(), NOW, Some(t))
                    .unwrap_or_else(|e| panic!("{alg:?} {t:?}: {e}"));
                // The ids come back parsed, the same as the claims' text.
                assert_eq!(got.sid.to_string(), got.claims.sid);
                assert_eq!(got.jti.to_string(), got.claims.jti);
                assert_eq!(got.claims, claims(t), "{alg:?}");
            }
        }
    }

    #[test]
    fn generated_keys_round_trip() {
        for alg in [Algorithm::HS384, Algorithm::ES384, Algorithm::EdDSA] {
            let ring = KeyRing::new(KeyMaterial::generate(alg, NOW).unwrap()).unwrap();
            let minted = mint(&ring, &access(), &ClaimNames::default()).unwrap();
            validate(&minted.token, &ring, &policy(), NOW, None).unwrap();
        }
    }

    #[test]
    fn optional_claims_round_trip() {
        let mut c = access();
        c.nbf = Some(NOW - 5);
        c.iss = Some("https://warden.example".into());
        c.aud = Some("desktop".into());
        let policy = ValidationPolicy {
            issuer: c.iss.clone(),
            audience: c.aud.clone(),
            ..policy()
        };
        let minted = mint(hs256(), &c, &ClaimNames::default()).unwrap();
        assert_eq!(
            validate(&minted.token, hs256(), &policy, NOW, None)
                .unwrap()
                .claims,
            c
        );
    }

    #[test]
    fn minted_payload_has_simplejwt_shape() {
        let minted = mint(hs256(), &access(), &ClaimNames::default()).unwrap();
        let (header, payload) = decode_unverified(&minted.token).unwrap();
        assert_eq!(
            header,
            json!({"alg": "HS256", "typ": "JWT", "kid": hs256().active().kid()})
        );
        assert_eq!(payload, good_payload());
        let raw = URL_SAFE_NO_PAD
            .decode(minted.token.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            format!(
                r#"{{"token_type":"access","exp":{},"iat":{NOW},"jti":"{JTI}","user_id":"42","sid":"{SID}"}}"#,
                NOW + 300
            )
        );
    }

    #[test]
    fn mint_is_deterministic_for_every_algorithm() {
        for alg in Algorithm::ALL {
            let ring = ring(alg);
            let a = mint(&ring, &claims(TokenType::Refresh), &ClaimNames::default()).unwrap();
            let b = mint(&ring, &claims(TokenType::Refresh), &ClaimNames::default()).unwrap();
            assert_eq!(a.signing_input_sha256, b.signing_input_sha256, "{alg:?}");
            assert_eq!(a.token, b.token, "{alg:?}");
        }
    }

    #[test]
    fn an_unpinned_mint_is_the_same_token_without_the_digest() {
        for alg in Algorithm::ALL {
            let ring = ring(alg);
            let pinned = mint(&ring, &claims(TokenType::Access), &ClaimNames::default()).unwrap();
            let token =
                mint_unpinned(&ring, &claims(TokenType::Access), &ClaimNames::default()).unwrap();
            assert_eq!(token, pinned.token, "{alg:?}");
            assert_eq!(pin(&token).unwrap(), pinned.signing_input_sha256, "{alg:?}");
        }
    }

    #[test]
    fn remint_with_a_retired_key_reproduces_the_token() {
        let mut ring = ring(Algorithm::ES256);
        let first = mint(&ring, &access(), &ClaimNames::default()).unwrap();
        ring.rotate(material(Algorithm::EdDSA), NOW, 600).unwrap();
        let old_key = ring.get(&first.kid).unwrap();
        let again = mint_with_key(old_key, &access(), &ClaimNames::default()).unwrap();
        assert_eq!(again, first);
        assert_ne!(
            mint(&ring, &access(), &ClaimNames::default()).unwrap().kid,
            first.kid
        );
    }

    #[test]
    fn the_pin_is_the_hash_of_the_signature_and_the_legacy_pin_still_matches() {
        for alg in Algorithm::ALL {
            let ring = ring(alg);
            let minted = mint(&ring, &access(), &ClaimNames::default()).unwrap();
            let (input, signature) = minted.token.rsplit_once('.').unwrap();
            let expected = hex::encode(Sha256::digest(signature.as_bytes()));
            assert_eq!(minted.signing_input_sha256, expected, "{alg:?}");
            assert_eq!(pin(&minted.token), Some(expected.clone()), "{alg:?}");
            assert!(expected.bytes().all(|b| !b.is_ascii_uppercase()));
            // Rows written before the pin changed hold the signing input's hash.
            let legacy = hex::encode(Sha256::digest(input.as_bytes()));
            assert_eq!(legacy_pin(&minted.token), Some(legacy.clone()), "{alg:?}");
            assert!(pin_matches(&minted.token, &expected));
            assert!(pin_matches(&minted.token, &legacy));
            assert!(!pin_matches(&minted.token, &"0".repeat(64)));
            // Another token's pin, in either form, does not match.
            let other = mint(&ring, &claims(TokenType::Refresh), &ClaimNames::default()).unwrap();
            assert!(!pin_matches(&other.token, &expected), "{alg:?}");
            assert!(!pin_matches(&other.token, &legacy), "{alg:?}");
        }
        assert_eq!(pin("no-dots"), None);
        assert_eq!(legacy_pin("no-dots"), None);
        assert!(!pin_matches("no-dots", &"0".repeat(64)));
    }

    #[test]
    fn custom_claim_names_are_written_and_read() {
        let names = ClaimNames {
            user_id: "uid".into(),
            token_type: "typ_".into(),
            jti: "token_id".into(),
            refresh_exp: "rexp".into(),
        };
        let policy = ValidationPolicy {
            claim_names: names.clone(),
            ..policy()
        };
        let c = claims(TokenType::Sliding);
        let minted = mint(hs256(), &c, &names).unwrap();
        let (_, payload) = decode_unverified(&minted.token).unwrap();
        for name in ["uid", "typ_", "token_id", "rexp", "sid"] {
            assert!(payload.get(name).is_some(), "{name} missing from {payload}");
        }
        assert!(payload.get("user_id").is_none());
        assert_eq!(
            validate(&minted.token, hs256(), &policy, NOW, None)
                .unwrap()
                .claims,
            c
        );
        // Under the default names the same token has no type.
        assert_eq!(check(&minted.token), Err(TokenError::NoType));
    }

    #[test]
    fn claim_names_and_policy_come_from_settings() {
        let settings = Settings {
            USER_ID_CLAIM: "uid".into(),
            TOKEN_TYPE_CLAIM: "kind".into(),
            JTI_CLAIM: "id".into(),
            SLIDING_TOKEN_REFRESH_EXP_CLAIM: "rexp".into(),
            ISSUER: Some("iss".into()),
            AUDIENCE: Some("aud".into()),
            LEEWAY: crate::settings::Secs(7),
            MAX_TOKEN_BYTES: 4096,
            ..Settings::default()
        };
        let policy = ValidationPolicy::from_settings(&settings);
        assert_eq!(policy.max_bytes, 4096);
        assert_eq!(policy.leeway, 7);
        assert_eq!(policy.issuer.as_deref(), Some("iss"));
        assert_eq!(policy.audience.as_deref(), Some("aud"));
        assert_eq!(
            policy.claim_names,
            ClaimNames {
                user_id: "uid".into(),
                token_type: "kind".into(),
                jti: "id".into(),
                refresh_exp: "rexp".into(),
            }
        );
        assert_eq!(
            ClaimNames::from_settings(&Settings::default()),
            ClaimNames::default()
        );
    }

    #[test]
    fn minted_token_debug_hides_the_token() {
        let minted = mint(hs256(), &access(), &ClaimNames::default()).unwrap();
        let text = format!("{minted:?}");
        assert!(!text.contains(&minted.token));
        assert!(text.contains(&minted.kid));
    }

    // ---- step 1: size ------------------------------------------------------

    #[test]
    fn oversized_token_is_refused_before_parsing() {
        let policy = ValidationPolicy {
            max_bytes: 300,
            ..policy()
        };
        let garbage = "!".repeat(301);
        assert_eq!(
            check_with(&garbage, &policy),
            Err(TokenError::TooLarge { len: 301, max: 300 })
        );
        let minted = mint(hs256(), &access(), &ClaimNames::default()).unwrap();
        let tight = ValidationPolicy {
            max_bytes: minted.token.len() - 1,
            ..policy
        };
        assert!(matches!(
            check_with(&minted.token, &tight),
            Err(TokenError::TooLarge { .. })
        ));
        let exact = ValidationPolicy {
            max_bytes: minted.token.len(),
            ..tight
        };
        check_with(&minted.token, &exact).unwrap();
    }

    // ---- step 2: shape -----------------------------------------------------

    #[test]
    fn tokens_that_are_not_three_base64url_parts_are_malformed() {
        let good = signed_json(&good_payload());
        let (h, rest) = good.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let cases = [
            String::new(),
            "abc".to_string(),
            format!("{h}.{p}"),
            format!("{h}.{p}.{s}.{s}"),
            format!("{h}.{p}."),
            format!(".{p}.{s}"),
            format!("{h}..{s}"),
            format!("{h}.{p}.{s}="),
            format!("{h}=.{p}.{s}"),
            format!("{h}.{p}.{s} "),
            format!(" {h}.{p}.{s}"),
            format!("{h}.{p}\n.{s}"),
            format!("{h}.{p}.{s}+"),
            format!("{h}.{p}/.{s}"),
            format!("{h}.{p}.{s}\u{e9}"),
            format!("{h}.{p}.{}", &s[..s.len() / 4 * 4 + 1]), // length 4n+1
            "..".to_string(),
        ];
        for token in &cases {
            assert_eq!(check(token), Err(TokenError::Malformed), "{token:?}");
        }
        check(&good).unwrap();
    }

    // ---- step 3: header ----------------------------------------------------

    #[test]
    fn header_that_is_not_base64url_json_object_is_bad() {
        let key = hs256().active();
        let p = b64(&good_payload().to_string());
        // "Zm9vYg" decodes fine; "Zm9vYh" has non-zero trailing bits, which base64url forbids.
        let not_canonical = format!("Zm9vYh.{p}.c2ln");
        assert!(is_bad_header(check(&not_canonical)));
        let cases = [
            "not json".to_string(),
            format!(r#"["HS256","JWT","{}"]"#, key.kid()),
            "null".into(),
            r#""HS256""#.into(),
            format!(r#"{{"alg":"HS256","kid":"{}"}} trailing"#, key.kid()),
            format!(r#"{{"alg":"HS256","kid":"{}""#, key.kid()),
        ];
        for header in &cases {
            assert!(is_bad_header(check(&with_header(header))), "{header}");
        }
        let invalid_utf8 = format!(
            "{}.{p}.c2ln",
            URL_SAFE_NO_PAD.encode(b"{\"alg\":\"HS256\xff\",\"kid\":\"k\"}")
        );
        assert!(is_bad_header(check(&invalid_utf8)));
    }

    #[test]
    fn header_without_string_alg_is_bad() {
        let kid = hs256().active().kid();
        for header in [
            format!(r#"{{"typ":"JWT","kid":"{kid}"}}"#),
            format!(r#"{{"alg":null,"kid":"{kid}"}}"#),
            format!(r#"{{"alg":256,"kid":"{kid}"}}"#),
            format!(r#"{{"alg":["HS256"],"kid":"{kid}"}}"#),
        ] {
            assert!(is_bad_header(check(&with_header(&header))), "{header}");
        }
    }

    #[test]
    fn header_with_duplicate_members_is_bad() {
        let kid = hs256().active().kid();
        for header in [
            format!(r#"{{"alg":"HS256","alg":"none","kid":"{kid}"}}"#),
            format!(r#"{{"alg":"HS256","kid":"{kid}","kid":"other"}}"#),
            format!(r#"{{"alg":"HS256","typ":"JWT","typ":"JWT","kid":"{kid}"}}"#),
        ] {
            assert!(is_bad_header(check(&with_header(&header))), "{header}");
        }
    }

    #[test]
    fn typ_must_be_jwt_in_any_case() {
        let kid = hs256().active().kid();
        for typ in ["JWT", "jwt", "Jwt"] {
            let header = format!(r#"{{"alg":"HS256","typ":"{typ}","kid":"{kid}"}}"#);
            check(&with_header(&header)).unwrap();
        }
        check(&with_header(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#))).unwrap();
        for typ in [r#""JWS""#, r#""at+jwt""#, r#""""#, "1", "null"] {
            let header = format!(r#"{{"alg":"HS256","typ":{typ},"kid":"{kid}"}}"#);
            assert!(is_bad_header(check(&with_header(&header))), "{typ}");
        }
    }

    #[test]
    fn kid_that_is_not_a_string_is_bad() {
        let header = r#"{"alg":"HS256","typ":"JWT","kid":7}"#;
        assert!(is_bad_header(check(&with_header(header))));
    }

    #[test]
    fn crit_header_is_refused() {
        let kid = hs256().active().kid();
        for crit in [r#"["exp"]"#, "[]", r#""b64""#] {
            let header = format!(r#"{{"alg":"HS256","kid":"{kid}","crit":{crit},"exp":1}}"#);
            assert_eq!(
                check(&with_header(&header)),
                Err(TokenError::CriticalHeader)
            );
        }
    }

    #[test]
    fn oversized_header_is_bad() {
        let kid = hs256().active().kid();
        let header = format!(
            r#"{{"alg":"HS256","kid":"{kid}","pad":"{}"}}"#,
            "x".repeat(MAX_HEADER_B64_BYTES)
        );
        let policy = ValidationPolicy {
            max_bytes: 1024 * 1024,
            ..policy()
        };
        assert!(is_bad_header(check_with(&with_header(&header), &policy)));
        // Just under the cap is fine.
        let fill =
            MAX_HEADER_JSON_BYTES - format!(r#"{{"alg":"HS256","kid":"{kid}","pad":""}}"#).len();
        let header = format!(
            r#"{{"alg":"HS256","kid":"{kid}","pad":"{}"}}"#,
            "x".repeat(fill)
        );
        check_with(&with_header(&header), &policy).unwrap();
    }

    #[test]
    fn deeply_nested_header_is_refused_without_overflowing_the_stack() {
        let kid = hs256().active().kid();
        let depth = 500;
        let header = format!(
            r#"{{"alg":"HS256","kid":"{kid}","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(is_bad_header(check(&with_header(&header))));
        assert!(matches!(
            decode_unverified(&with_header(&header)),
            Err(TokenError::BadHeader(_))
        ));
    }

    #[test]
    fn key_material_in_the_header_is_ignored() {
        // The attacker signs with their own key and ships it in the header,
        // once under the ring's kid and once under their own.
        let attacker = KeyRing::new(material(Algorithm::ES256)).unwrap();
        let attacker_key = attacker.active();
        let jwk = serde_json::to_string(attacker_key.public_jwk().unwrap()).unwrap();
        // The ring's own ES256 key is a different key from the attacker's.
        let victim = KeyRing::new(KeyMaterial::generate(Algorithm::ES256, NOW).unwrap()).unwrap();
        let payload = good_payload().to_string();
        let victim_kid = victim.active().kid();
        for header in [
            format!(r#"{{"alg":"ES256","kid":"{victim_kid}","jwk":{jwk}}}"#),
            format!(
                r#"{{"alg":"ES256","kid":"{victim_kid}","jku":"https://evil.example/jwks","x5u":"https://evil.example/x5u"}}"#
            ),
            format!(r#"{{"alg":"ES256","kid":"{victim_kid}","x5c":["MIIB"]}}"#),
        ] {
            let token = forge(attacker_key, &header, &payload);
            assert_eq!(
                validate(&token, &victim, &policy(), NOW, None),
                Err(TokenError::BadSignature),
                "{header}"
            );
        }
        let own_kid = format!(
            r#"{{"alg":"ES256","kid":"{}","jwk":{jwk}}}"#,
            attacker_key.kid()
        );
        let token = forge(attacker_key, &own_kid, &payload);
        assert_eq!(
            validate(&token, &victim, &policy(), NOW, None),
            Err(TokenError::UnknownKid(attacker_key.kid().to_string()))
        );
        // Sanity: the attacker's own ring would accept it, so only the header key was ignored.
        validate(&token, &attacker, &policy(), NOW, None).unwrap();
    }

    // ---- step 4: algorithm allowlist ---------------------------------------

    #[test]
    fn algorithms_outside_the_allowlist_are_refused() {
        let kid = hs256().active().kid();
        for alg in [
            "none", "None", "NONE", "nOnE", "hs256", "Hs256", "HS256 ", "PS256", "ES512", "",
        ] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#);
            assert_eq!(
                check(&with_header(&header)),
                Err(TokenError::AlgorithmNotAllowed(alg.to_string())),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn unsigned_none_token_is_refused() {
        // alg=none tokens carry an empty signature: they never get past the shape check.
        let kid = hs256().active().kid();
        let token = format!(
            "{}.{}.",
            b64(&format!(r#"{{"alg":"none","kid":"{kid}"}}"#)),
            b64(&good_payload().to_string())
        );
        assert_eq!(check(&token), Err(TokenError::Malformed));
        // ...but the inspector can read it, to say what it is.
        let (header, payload) = decode_unverified(&token).unwrap();
        assert_eq!(header["alg"], "none");
        assert_eq!(payload, good_payload());
        assert_eq!(decode_unverified("e30.e30"), Err(TokenError::Malformed));
        assert_eq!(decode_unverified(".e30."), Err(TokenError::Malformed));
    }

    // ---- step 5: key by kid ------------------------------------------------

    #[test]
    fn missing_kid_is_refused() {
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        assert_eq!(check(&with_header(header)), Err(TokenError::MissingKid));
    }

    #[test]
    fn unknown_kid_is_refused() {
        for kid in ["0000000000000000", "", "../../etc/passwd"] {
            let header = format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#);
            assert_eq!(
                check(&with_header(&header)),
                Err(TokenError::UnknownKid(kid.to_string()))
            );
        }
    }

    #[test]
    fn algorithm_must_match_the_keys_pinned_algorithm() {
        // HS384 token under an HS256 key's kid, properly HMAC'd with the same secret.
        let key = hs256().active();
        let hs384 = KeyRing::new(material(Algorithm::HS384)).unwrap();
        let header = format!(r#"{{"alg":"HS384","kid":"{}"}}"#, key.kid());
        let token = forge(hs384.active(), &header, &good_payload().to_string());
        assert_eq!(
            check(&token),
            Err(TokenError::AlgorithmMismatch {
                kid: key.kid().to_string(),
                header: "HS384".into(),
                key: "HS256".into(),
            })
        );
    }

    #[test]
    fn rs256_ring_refuses_hs256_token_keyed_with_its_public_key() {
        // The classic key-confusion attack: HMAC with the RSA public key as secret.
        let ring = ring(Algorithm::RS256);
        let kid = ring.active().kid().to_string();
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
        let input = format!("{}.{}", b64(&header), b64(&good_payload().to_string()));
        for public in [RSA_PUB_PEM, ring.active().public_pem().unwrap()] {
            let hmac = jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).unwrap();
            let sig =
                jsonwebtoken::crypto::sign(input.as_bytes(), &hmac, jsonwebtoken::Algorithm::HS256)
                    .unwrap();
            assert_eq!(
                validate(&format!("{input}.{sig}"), &ring, &policy(), NOW, None),
                Err(TokenError::AlgorithmMismatch {
                    kid: kid.clone(),
                    header: "HS256".into(),
                    key: "RS256".into(),
                })
            );
        }
    }

    #[test]
    fn token_of_a_retired_key_verifies_until_verify_until() {
        let mut ring = ring(Algorithm::HS256);
        let old = mint(&ring, &access(), &ClaimNames::default()).unwrap();
        let mut long = access();
        long.exp = NOW + 10_000;
        let old_long = mint(&ring, &long, &ClaimNames::default()).unwrap();
        ring.rotate(material(Algorithm::EdDSA), NOW + 10, 200)
            .unwrap();

        validate(&old.token, &ring, &policy(), NOW + 10, None).unwrap();
        validate(&old_long.token, &ring, &policy(), NOW + 210, None).unwrap();
        assert_eq!(
            validate(&old_long.token, &ring, &policy(), NOW + 211, None),
            Err(TokenError::UnknownKid(old.kid.clone()))
        );
        ring.prune(NOW + 211);
        assert_eq!(
            validate(&old_long.token, &ring, &policy(), NOW + 20, None),
            Err(TokenError::UnknownKid(old.kid.clone()))
        );
        let fresh = mint(&ring, &long, &ClaimNames::default()).unwrap();
        validate(&fresh.token, &ring, &policy(), NOW + 211, None).unwrap();
    }

    // ---- step 6: signature -------------------------------------------------

    #[test]
    fn tampered_or_foreign_signatures_are_refused() {
        for alg in Algorithm::ALL {
            let ring = ring(alg);
            let minted = mint(&ring, &access(), &ClaimNames::default()).unwrap();
            let (input, sig) = minted.token.rsplit_once('.').unwrap();

            let mut flipped = sig.as_bytes().to_vec();
            flipped[2] = if flipped[2] == b'A' { b'B' } else { b'A' };
            let flipped = format!("{input}.{}", String::from_utf8(flipped).unwrap());
            assert_eq!(
                validate(&flipped, &ring, &policy(), NOW, None),
                Err(TokenError::BadSignature),
                "{alg:?}"
            );

            let short = format!("{input}.{}", &sig[..sig.len() - 4]);
            assert_eq!(
                validate(&short, &ring, &policy(), NOW, None),
                Err(TokenError::BadSignature),
                "{alg:?}"
            );

            // The payload changed after signing (user 42 → 1).
            let forged_payload = b64(&with(&[("user_id", json!("1"))]).to_string());
            let header = input.split('.').next().unwrap();
            let swapped = format!("{header}.{forged_payload}.{sig}");
            assert_eq!(
                validate(&swapped, &ring, &policy(), NOW, None),
                Err(TokenError::BadSignature),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn same_kid_but_another_key_is_a_bad_signature() {
        let ring = ring(Algorithm::HS256);
        let other = KeyRing::new(KeyMaterial::generate(Algorithm::HS256, NOW).unwrap()).unwrap();
        let token = forge(
            other.active(),
            &header_of(ring.active()),
            &good_payload().to_string(),
        );
        assert_eq!(
            validate(&token, &ring, &policy(), NOW, None),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn signature_is_checked_before_claims() {
        // Expired and untyped, but the signature fails first.
        let payload = json!({"exp": 1});
        let token = signed_json(&payload);
        let (input, _) = token.rsplit_once('.').unwrap();
        let other = KeyRing::new(KeyMaterial::generate(Algorithm::HS256, NOW).unwrap()).unwrap();
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            other.active().encoding_key(),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(
            check(&format!("{input}.{sig}")),
            Err(TokenError::BadSignature)
        );
        assert!(matches!(check(&token), Err(TokenError::Expired { .. })));
    }

    // ---- step 7: payload and registered claims ------------------------------

    #[test]
    fn payload_that_is_not_a_json_object_is_bad() {
        for payload in [
            "not json",
            "[1,2,3]",
            "null",
            "42",
            r#""text""#,
            "{} {}",
            "{",
        ] {
            assert!(is_bad_payload(check(&signed(payload))), "{payload}");
        }
        let key = hs256().active();
        let header = b64(&header_of(key));
        let input = format!(
            "{header}.{}",
            URL_SAFE_NO_PAD.encode(b"{\"user_id\":\"\xff\"}")
        );
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.jwt_algorithm())
                .unwrap();
        assert!(is_bad_payload(check(&format!("{input}.{sig}"))));
    }

    #[test]
    fn payload_with_non_canonical_base64_is_bad() {
        // Signed as-is, so the signature passes and the payload decoder must refuse it.
        let key = hs256().active();
        let input = format!("{}.e30h", b64(&header_of(key)));
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), key.encoding_key(), key.jwt_algorithm())
                .unwrap();
        assert!(is_bad_payload(check(&format!("{input}.{sig}"))));
    }

    #[test]
    fn duplicate_claims_are_bad() {
        let base = good_payload().to_string();
        let body = &base[1..base.len() - 1];
        for dup in [
            format!(r#""exp":{}"#, NOW + 9_999),
            r#""iat":1"#.into(),
            r#""nbf":1,"nbf":2"#.into(),
            r#""user_id":"1""#.into(),
            r#""token_type":"refresh""#.into(),
            format!(r#""jti":"{JTI}""#),
            format!(r#""sid":"{SID}""#),
            r#""iss":"a","iss":"a""#.into(),
            r#""aud":"a","aud":"a""#.into(),
            r#""refresh_exp":1,"refresh_exp":1"#.into(),
        ] {
            let payload = format!("{{{body},{dup}}}");
            assert!(is_bad_payload(check(&signed(&payload))), "{payload}");
        }
        // Unknown members may repeat: they are never read.
        check(&signed(&format!(r#"{{{body},"x":1,"x":2}}"#))).unwrap();
    }

    #[test]
    fn time_claims_must_be_i64_integers() {
        for name in ["exp", "iat", "nbf"] {
            for value in [
                json!(1.5),
                json!(1_750_000_300.0),
                json!("1750000300"),
                json!(null),
                json!(true),
                json!([1]),
                json!(u64::MAX),
            ] {
                let payload = with(&[(name, value.clone())]);
                assert!(
                    is_bad_payload(check(&signed_json(&payload))),
                    "{name}={value}"
                );
            }
            for raw in [
                "1e10",
                "99999999999999999999999",
                "-99999999999999999999999",
            ] {
                // Spliced in as text: serde_json::Value cannot hold these numbers.
                let mut payload = without(name).to_string();
                payload.insert_str(1, &format!(r#""{name}":{raw},"#));
                assert!(is_bad_payload(check(&signed(&payload))), "{name}={raw}");
            }
        }
        let payload = with(&[("refresh_exp", json!(1.5))]);
        assert!(is_bad_payload(check(&signed_json(&payload))));
    }

    #[test]
    fn iss_and_aud_must_be_strings() {
        for (name, value) in [
            ("iss", json!(1)),
            ("iss", json!(["a"])),
            ("aud", json!(1)),
            ("aud", json!([1])),
            ("aud", json!({"a": 1})),
        ] {
            let payload = with(&[(name, value.clone())]);
            assert!(
                is_bad_payload(check(&signed_json(&payload))),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn deeply_nested_payload_is_refused_without_overflowing_the_stack() {
        let depth = 10_000;
        let payload = format!(
            r#"{{"exp":{},"deep":{}{}}}"#,
            NOW + 300,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let policy = ValidationPolicy {
            max_bytes: 1024 * 1024,
            ..policy()
        };
        assert!(is_bad_payload(check_with(&signed(&payload), &policy)));
        let nested_objects = format!(
            r#"{{"exp":{},"deep":{}1{}}}"#,
            NOW + 300,
            r#"{"a":"#.repeat(200),
            "}".repeat(200)
        );
        assert!(is_bad_payload(check_with(
            &signed(&nested_objects),
            &policy
        )));
        assert!(matches!(
            decode_unverified(&signed(&payload)),
            Err(TokenError::BadPayload(_)) | Err(TokenError::TooLarge { .. })
        ));
    }

    #[test]
    fn missing_exp_is_refused() {
        assert_eq!(
            check(&signed_json(&without("exp"))),
            Err(TokenError::MissingClaim("exp"))
        );
    }

    #[test]
    fn missing_iat_is_refused() {
        assert_eq!(
            check(&signed_json(&without("iat"))),
            Err(TokenError::MissingClaim("iat"))
        );
    }

    #[test]
    fn expiry_matches_pyjwt_with_leeway() {
        let at = |exp: i64| check(&signed_json(&with(&[("exp", json!(exp))])));
        assert_eq!(at(NOW), Err(TokenError::Expired { exp: NOW, now: NOW }));
        assert_eq!(
            at(NOW - 1),
            Err(TokenError::Expired {
                exp: NOW - 1,
                now: NOW
            })
        );
        assert_eq!(
            at(i64::MIN),
            Err(TokenError::Expired {
                exp: i64::MIN,
                now: NOW
            })
        );
        at(NOW + 1).unwrap();
        at(i64::MAX).unwrap();

        let lenient = ValidationPolicy {
            leeway: 30,
            ..policy()
        };
        let token = signed_json(&with(&[
            ("exp", json!(NOW - 29)),
            ("iat", json!(NOW - 100)),
        ]));
        check_with(&token, &lenient).unwrap();
        let token = signed_json(&with(&[
            ("exp", json!(NOW - 30)),
            ("iat", json!(NOW - 100)),
        ]));
        assert!(matches!(
            check_with(&token, &lenient),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn not_before_is_honoured_with_leeway() {
        let token = signed_json(&with(&[("nbf", json!(NOW + 1))]));
        assert_eq!(
            check(&token),
            Err(TokenError::NotYetValid {
                nbf: NOW + 1,
                now: NOW
            })
        );
        check(&signed_json(&with(&[("nbf", json!(NOW))]))).unwrap();
        let lenient = ValidationPolicy {
            leeway: 5,
            ..policy()
        };
        check_with(&signed_json(&with(&[("nbf", json!(NOW + 5))])), &lenient).unwrap();
        assert!(matches!(
            check_with(&signed_json(&with(&[("nbf", json!(NOW + 6))])), &lenient),
            Err(TokenError::NotYetValid { .. })
        ));
    }

    #[test]
    fn issued_in_the_future_is_refused() {
        let token = signed_json(&with(&[("iat", json!(NOW + 1))]));
        assert_eq!(
            check(&token),
            Err(TokenError::IssuedInFuture {
                iat: NOW + 1,
                now: NOW
            })
        );
        let lenient = ValidationPolicy {
            leeway: 1,
            ..policy()
        };
        check_with(&token, &lenient).unwrap();
    }

    #[test]
    fn issuer_is_checked_only_when_configured() {
        let strict = ValidationPolicy {
            issuer: Some("https://warden.example".into()),
            ..policy()
        };
        let right = signed_json(&with(&[("iss", json!("https://warden.example"))]));
        let wrong = signed_json(&with(&[("iss", json!("https://evil.example"))]));
        let none = signed_json(&good_payload());
        assert_eq!(
            check_with(&right, &strict).unwrap().iss.as_deref(),
            Some("https://warden.example")
        );
        assert_eq!(check_with(&wrong, &strict), Err(TokenError::WrongIssuer));
        assert_eq!(check_with(&none, &strict), Err(TokenError::WrongIssuer));
        assert_eq!(
            check(&wrong).unwrap().iss.as_deref(),
            Some("https://evil.example"),
            "no ISSUER configured: iss is not checked"
        );
    }

    #[test]
    fn audience_must_match_when_configured_and_be_absent_otherwise() {
        let strict = ValidationPolicy {
            audience: Some("desktop".into()),
            ..policy()
        };
        let one = signed_json(&with(&[("aud", json!("desktop"))]));
        let many = signed_json(&with(&[("aud", json!(["web", "desktop"]))]));
        let other = signed_json(&with(&[("aud", json!("web"))]));
        let others = signed_json(&with(&[("aud", json!(["web", "cli"]))]));
        let empty = signed_json(&with(&[("aud", json!([]))]));
        let none = signed_json(&good_payload());

        assert_eq!(
            check_with(&one, &strict).unwrap().aud.as_deref(),
            Some("desktop")
        );
        assert_eq!(
            check_with(&many, &strict).unwrap().aud.as_deref(),
            Some("desktop")
        );
        for token in [&other, &others, &empty, &none] {
            assert_eq!(check_with(token, &strict), Err(TokenError::WrongAudience));
        }
        // PyJWT refuses a token with an audience when the verifier expects none.
        assert_eq!(check(&one), Err(TokenError::WrongAudience));
        assert_eq!(check(&many), Err(TokenError::WrongAudience));
        assert_eq!(check(&none).unwrap().aud, None);
    }

    // ---- step 8: Warden's claims ---------------------------------------------

    #[test]
    fn missing_type_is_refused() {
        assert_eq!(
            check(&signed_json(&without("token_type"))),
            Err(TokenError::NoType)
        );
    }

    #[test]
    fn unknown_or_unexpected_type_is_refused() {
        for value in [
            json!("Access"),
            json!("id"),
            json!(""),
            json!(1),
            json!(null),
        ] {
            let token = signed_json(&with(&[("token_type", value.clone())]));
            assert!(
                matches!(check(&token), Err(TokenError::WrongType { .. })),
                "{value}"
            );
        }
        let access = signed_json(&good_payload());
        assert_eq!(
            validate(&access, hs256(), &policy(), NOW, Some(TokenType::Refresh)),
            Err(TokenError::wrong_type(
                TokenType::Refresh,
                TokenType::Access
            ))
        );
        validate(&access, hs256(), &policy(), NOW, Some(TokenType::Access)).unwrap();
        validate(&access, hs256(), &policy(), NOW, None).unwrap();
    }

    #[test]
    fn missing_jti_is_no_id() {
        assert_eq!(check(&signed_json(&without("jti"))), Err(TokenError::NoId));
    }

    #[test]
    fn ids_must_be_32_hex_digits() {
        for name in ["jti", "sid"] {
            for value in [
                json!("not-hex"),
                json!(&JTI[..31]),
                json!(format!("{JTI}0")),
                json!(format!("+{}", &JTI[1..])),
                json!(uuid::Uuid::nil().hyphenated().to_string()),
                json!(12345),
                json!(null),
            ] {
                let token = signed_json(&with(&[(name, value.clone())]));
                assert_eq!(check(&token), Err(TokenError::BadId), "{name}={value}");
            }
        }
    }

    #[test]
    fn ids_are_returned_in_canonical_lowercase() {
        let upper = JTI.to_uppercase();
        let token = signed_json(&with(&[
            ("jti", json!(upper)),
            ("sid", json!(SID.to_uppercase())),
        ]));
        let claims = check(&token).unwrap();
        assert_eq!(claims.jti, JTI);
        assert_eq!(claims.sid, SID);
    }

    #[test]
    fn user_id_must_be_present() {
        assert_eq!(
            check(&signed_json(&without("user_id"))),
            Err(TokenError::MissingClaim("user_id"))
        );
    }

    #[test]
    fn numeric_user_id_is_accepted_as_a_string() {
        for (value, expected) in [
            (json!(42), "42"),
            (json!(-7), "-7"),
            (json!(u64::MAX), "18446744073709551615"),
        ] {
            let token = signed_json(&with(&[("user_id", value)]));
            assert_eq!(check(&token).unwrap().user_id, expected);
        }
    }

    #[test]
    fn user_id_of_another_type_is_bad() {
        for value in [
            json!(4.2),
            json!(true),
            json!(null),
            json!(["42"]),
            json!({"id": 42}),
        ] {
            let token = signed_json(&with(&[("user_id", value.clone())]));
            assert!(is_bad_payload(check(&token)), "{value}");
        }
    }

    #[test]
    fn missing_sid_is_refused() {
        assert_eq!(
            check(&signed_json(&without("sid"))),
            Err(TokenError::MissingClaim("sid"))
        );
    }

    #[test]
    fn sliding_tokens_need_refresh_exp() {
        let sliding = with(&[("token_type", json!("sliding"))]);
        assert_eq!(
            check(&signed_json(&sliding)),
            Err(TokenError::MissingClaim("refresh_exp"))
        );
        let mut ok = sliding;
        ok["refresh_exp"] = json!(NOW + 100);
        assert_eq!(
            check(&signed_json(&ok)).unwrap().refresh_exp,
            Some(NOW + 100)
        );
    }

    #[test]
    fn unknown_claims_are_ignored() {
        let token = signed_json(&with(&[
            ("extra", json!({"nested": [1, 2, {"x": null}]})),
            ("username", json!("alice")),
        ]));
        assert_eq!(check(&token).unwrap(), access());
    }

    #[test]
    fn steps_run_in_order() {
        let key = hs256().active();
        // Size beats shape.
        let policy_small = ValidationPolicy {
            max_bytes: 256,
            ..policy()
        };
        assert!(matches!(
            check_with(&" ".repeat(257), &policy_small),
            Err(TokenError::TooLarge { .. })
        ));
        // Header beats algorithm: crit with alg none.
        let header = format!(r#"{{"alg":"none","kid":"{}","crit":["x"]}}"#, key.kid());
        assert_eq!(
            check(&with_header(&header)),
            Err(TokenError::CriticalHeader)
        );
        // Algorithm beats kid.
        assert_eq!(
            check(&with_header(r#"{"alg":"none"}"#)),
            Err(TokenError::AlgorithmNotAllowed("none".into()))
        );
        // Expiry beats type and ids.
        let payload = json!({"exp": NOW, "iat": NOW});
        assert!(matches!(
            check(&signed_json(&payload)),
            Err(TokenError::Expired { .. })
        ));
        // Type beats ids.
        let payload = json!({"exp": NOW + 1, "iat": NOW, "jti": "bad"});
        assert_eq!(check(&signed_json(&payload)), Err(TokenError::NoType));
        // jti beats user and session.
        let payload = json!({"exp": NOW + 1, "iat": NOW, "token_type": "access"});
        assert_eq!(check(&signed_json(&payload)), Err(TokenError::NoId));
    }

    // ---- decode_unverified ---------------------------------------------------

    #[test]
    fn decode_unverified_returns_header_and_payload_without_a_key() {
        let ring = ring(Algorithm::EdDSA);
        let mut c = access();
        c.exp = 1; // long expired: the inspector does not care
        let minted = mint(&ring, &c, &ClaimNames::default()).unwrap();
        let (header, payload) = decode_unverified(&minted.token).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], ring.active().kid());
        assert_eq!(payload["exp"], 1);
        assert_eq!(payload["user_id"], "42");
    }

    #[test]
    fn decode_unverified_applies_the_shape_checks() {
        let good = signed_json(&good_payload());
        assert_eq!(decode_unverified("a.b"), Err(TokenError::Malformed));
        assert_eq!(
            decode_unverified(&format!("{good}=")),
            Err(TokenError::Malformed)
        );
        assert!(matches!(
            decode_unverified(&"a".repeat(MAX_INSPECT_BYTES + 1)),
            Err(TokenError::TooLarge { .. })
        ));
        let kid = hs256().active().kid();
        let crit = with_header(&format!(r#"{{"alg":"HS256","kid":"{kid}","crit":[]}}"#));
        assert_eq!(decode_unverified(&crit), Err(TokenError::CriticalHeader));
        let typ = with_header(&format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"JWS"}}"#));
        assert!(matches!(
            decode_unverified(&typ),
            Err(TokenError::BadHeader(_))
        ));
        assert!(matches!(
            decode_unverified(&signed("[1]")),
            Err(TokenError::BadPayload(_))
        ));
        // No key involved: a bad signature and an unknown kid still decode.
        let foreign = with_header(r#"{"alg":"RS256","kid":"someone-else"}"#);
        decode_unverified(&foreign).unwrap();
    }
}
