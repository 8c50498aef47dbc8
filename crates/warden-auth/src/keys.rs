//! Signing keys, each pinned to one algorithm, with a `kid`, rotation and JWKS.
//!
//! A [`KeyRing`] holds one active key that signs and any number of retired keys
//! that still verify until their `verify_until`, so rotating a key never logs
//! anyone out: tokens signed before the rotation stay valid for as long as they
//! could live anyway.
//!
//! **kid scheme.** A kid is the first 16 hex digits (64 bits) of
//! `SHA-256("warden-kid\0" ‖ alg ‖ "\0" ‖ key)`, where `key` is the DER
//! `SubjectPublicKeyInfo` of an asymmetric key or the raw HMAC secret. It is
//! deterministic, so a key configured through `SIGNING_KEY` keeps its kid across
//! restarts, and it includes the algorithm because a key is pinned to exactly one:
//! the same RSA key used for RS256 and RS384 is two keys with two kids. Publishing
//! 64 bits of a hash of an HMAC secret reveals nothing a signature over a known
//! payload doesn't already: both only allow guessing a weak secret offline, which
//! the minimum secret length is there to prevent.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::UnixTime;
use crate::error::KeyError;
use crate::settings::{Algorithm, Settings};

/// Size of generated RSA keys, the smallest RFC 7518 §3.3 allows.
pub(crate) const RSA_GENERATED_BITS: usize = 2048;
/// Loaded RSA keys must have a modulus at least this long, in bytes (2048 bits).
const RSA_MIN_MODULUS_BYTES: usize = 256;
/// Generated HMAC secrets: 512 bits, enough for HS512's block-sized key.
pub(crate) const HMAC_GENERATED_BYTES: usize = 64;
const KID_HEX_DIGITS: usize = 16;
/// Kids arrive from persisted material; keep them short and printable since
/// they are copied into every token header.
const KID_MAX_LEN: usize = 64;
const SELF_TEST_MESSAGE: &[u8] = b"warden key self-test";

/// The `jsonwebtoken` algorithm for one of Warden's.
pub(crate) fn jwt_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        Algorithm::HS384 => jsonwebtoken::Algorithm::HS384,
        Algorithm::HS512 => jsonwebtoken::Algorithm::HS512,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::RS384 => jsonwebtoken::Algorithm::RS384,
        Algorithm::RS512 => jsonwebtoken::Algorithm::RS512,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

fn invalid(alg: Algorithm, message: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        alg: alg.as_str().to_string(),
        message: message.into(),
    }
}

fn generate_error(alg: Algorithm, message: impl fmt::Display) -> KeyError {
    KeyError::Generate {
        alg: alg.as_str().to_string(),
        message: message.to_string(),
    }
}

/// A new identifier secret (see [`KeyRing::identifier_secret`]): 32 random
/// bytes, base64url.
pub fn generate_identifier_secret() -> Result<String, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Generate {
        alg: "identifier secret".into(),
        message: e.to_string(),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(secret))
}

fn ring_error(message: impl Into<String>) -> KeyError {
    KeyError::Ring(message.into())
}

/// `jsonwebtoken` panics on first use when its process-wide crypto provider is
/// ambiguous (e.g. another crate in the build enables `aws_lc_rs` as well); pick
/// RustCrypto explicitly and turn a missing provider into an error at key-load
/// time instead of a panic on the hot path.
fn ensure_crypto_provider() -> Result<(), KeyError> {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_none() {
        // Losing a race with another installer is fine: any provider will do.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
    if CryptoProvider::try_get_default().is_none() {
        return Err(KeyError::Invalid {
            alg: "any".into(),
            message: "jsonwebtoken has no crypto provider".into(),
        });
    }
    Ok(())
}

fn derive_kid(alg: Algorithm, key_bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"warden-kid\0");
    hasher.update(alg.as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(key_bytes);
    let digest = hasher.finalize();
    let mut kid = hex::encode(digest);
    kid.truncate(KID_HEX_DIGITS);
    kid
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    let printable = kid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if kid.is_empty() || kid.len() > KID_MAX_LEN || !printable {
        return Err(ring_error(format!(
            "kid `{}` must be 1 to {KID_MAX_LEN} characters of [A-Za-z0-9._-]",
            kid.escape_debug()
        )));
    }
    Ok(())
}

/// A key in the serialisable form kept outside the process (database, OS keyring).
///
/// `secret` is the HMAC secret as unpadded base64url for HS*, or a PKCS#8 PEM
/// private key for RS*/ES*/EdDSA; `public_pem` the matching SPKI PEM public key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMaterial {
    /// The key's id, as minted tokens carry it.
    pub kid: String,
    /// The one algorithm the key is for.
    pub alg: Algorithm,
    /// The private part (see above).
    pub secret: String,
    /// The public part of an asymmetric key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_pem: Option<String>,
    /// When it was made.
    pub created_at: UnixTime,
    /// When it stopped signing; `None` for the active key.
    #[serde(default)]
    pub retired_at: Option<UnixTime>,
    /// After this, tokens it signed are refused; `None`: no end.
    #[serde(default)]
    pub verify_until: Option<UnixTime>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("secret", &"<redacted>")
            .field(
                "public_pem",
                &self.public_pem.as_ref().map(|_| "<public key>"),
            )
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish()
    }
}

impl KeyMaterial {
    /// A fresh random key for `alg`: 64 random bytes for HMAC, a new key pair otherwise.
    pub fn generate(alg: Algorithm, now: UnixTime) -> Result<KeyMaterial, KeyError> {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};

        let parsed = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let mut secret = [0u8; HMAC_GENERATED_BYTES];
                getrandom::fill(&mut secret).map_err(|e| generate_error(alg, e))?;
                parse_hmac(alg, &secret)?
            }
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, RSA_GENERATED_BITS)
                    .map_err(|e| generate_error(alg, e))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| generate_error(alg, e))?;
                parse_pem(alg, &pem, None)?
            }
            Algorithm::ES256 => {
                use p256::elliptic_curve::Generate;
                let key = p256::ecdsa::SigningKey::try_generate_from_rng(&mut rand::rngs::SysRng)
                    .map_err(|e| generate_error(alg, e))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| generate_error(alg, e))?;
                parse_pem(alg, &pem, None)?
            }
            Algorithm::ES384 => {
                use p384::elliptic_curve::Generate;
                let key = p384::ecdsa::SigningKey::try_generate_from_rng(&mut rand::rngs::SysRng)
                    .map_err(|e| generate_error(alg, e))?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| generate_error(alg, e))?;
                parse_pem(alg, &pem, None)?
            }
            Algorithm::EdDSA => {
                let mut seed = [0u8; ed25519_dalek::SECRET_KEY_LENGTH];
                getrandom::fill(&mut seed).map_err(|e| generate_error(alg, e))?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let pem = ed25519_pkcs8_pem(&key).map_err(|e| generate_error(alg, e))?;
                parse_pem(alg, &pem, None)?
            }
        };
        Ok(parsed.into_material(alg, now))
    }

    /// The key configured by `SIGNING_KEY` / `VERIFYING_KEY`, or `None` when
    /// `SIGNING_KEY` is not set. The kid is derived from the key, so it survives restarts.
    pub fn from_settings(
        settings: &Settings,
        now: UnixTime,
    ) -> Result<Option<KeyMaterial>, KeyError> {
        let Some(signing) = settings.SIGNING_KEY.as_deref() else {
            return Ok(None);
        };
        let alg = settings.ALGORITHM;
        let material = if alg.is_symmetric() {
            if settings.VERIFYING_KEY.is_some() {
                return Err(invalid(
                    alg,
                    "VERIFYING_KEY is for asymmetric algorithms; HMAC verifies with SIGNING_KEY",
                ));
            }
            KeyMaterial::from_hmac_secret(alg, signing.as_bytes(), now)?
        } else {
            KeyMaterial::from_pem(alg, signing, settings.VERIFYING_KEY.as_deref(), now)?
        };
        Ok(Some(material))
    }

    /// An HMAC key from raw secret bytes (at least the hash size, RFC 7518 §3.2).
    pub fn from_hmac_secret(
        alg: Algorithm,
        secret: &[u8],
        now: UnixTime,
    ) -> Result<KeyMaterial, KeyError> {
        if !alg.is_symmetric() {
            return Err(invalid(alg, "is not an HMAC algorithm"));
        }
        Ok(parse_hmac(alg, secret)?.into_material(alg, now))
    }

    /// An asymmetric key from a PEM private key (PKCS#8; PKCS#1 for RSA and SEC1
    /// for EC are accepted too) and optionally the PEM public key, which must match.
    pub fn from_pem(
        alg: Algorithm,
        private_pem: &str,
        public_pem: Option<&str>,
        now: UnixTime,
    ) -> Result<KeyMaterial, KeyError> {
        if alg.is_symmetric() {
            return Err(invalid(alg, "HMAC keys are secrets, not PEM keys"));
        }
        Ok(parse_pem(alg, private_pem, public_pem)?.into_material(alg, now))
    }

    /// True while the key signs (it has not been rotated away).
    pub fn is_active(&self) -> bool {
        self.retired_at.is_none()
    }
}

/// A key decoded into the forms signing and verifying need.
struct Parsed {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Canonical persisted form (see [`KeyMaterial::secret`]).
    secret: String,
    public_pem: Option<String>,
    derived_kid: String,
}

impl Parsed {
    fn into_material(self, alg: Algorithm, now: UnixTime) -> KeyMaterial {
        KeyMaterial {
            kid: self.derived_kid,
            alg,
            secret: self.secret,
            public_pem: self.public_pem,
            created_at: now,
            retired_at: None,
            verify_until: None,
        }
    }
}

fn parse_hmac(alg: Algorithm, secret: &[u8]) -> Result<Parsed, KeyError> {
    if secret.len() < alg.min_secret_len() {
        return Err(invalid(
            alg,
            format!(
                "the secret is {} bytes; {} needs at least {}",
                secret.len(),
                alg.as_str(),
                alg.min_secret_len()
            ),
        ));
    }
    let encoding = EncodingKey::from_secret(secret).map_err(|e| invalid(alg, e.to_string()))?;
    let decoding = DecodingKey::from_secret(secret).map_err(|e| invalid(alg, e.to_string()))?;
    Ok(Parsed {
        encoding,
        decoding,
        secret: URL_SAFE_NO_PAD.encode(secret),
        public_pem: None,
        derived_kid: derive_kid(alg, secret),
    })
}

fn ed25519_pkcs8_pem(key: &ed25519_dalek::SigningKey) -> Result<String, String> {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
    // PKCS#8 v1 (no embedded public key), the form OpenSSL writes and every JOSE library reads.
    let bytes = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    bytes
        .to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| e.to_string())
}

fn parse_pem(
    alg: Algorithm,
    private_pem: &str,
    public_pem: Option<&str>,
) -> Result<Parsed, KeyError> {
    let private_pem = private_pem.trim();
    let public_pem = public_pem.map(str::trim);
    let mismatch = || invalid(alg, "VERIFYING_KEY is not the public half of SIGNING_KEY");
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Err(invalid(alg, "HMAC keys are secrets, not PEM keys"))
        }
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
            use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
            use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
            use rsa::traits::PublicKeyParts;

            let key = rsa::PrivateKey::from_pkcs8_pem(private_pem)
                .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(private_pem))
                .map_err(|_| invalid(alg, "SIGNING_KEY is not a PEM RSA private key"))?;
            if key.size() < RSA_MIN_MODULUS_BYTES {
                return Err(invalid(alg, "RSA keys must be at least 2048 bits"));
            }
            let public = key.to_public_key();
            let spki = public
                .to_public_key_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            if let Some(given) = public_pem {
                let other = rsa::PublicKey::from_public_key_pem(given)
                    .or_else(|_| rsa::PublicKey::from_pkcs1_pem(given))
                    .map_err(|_| invalid(alg, "VERIFYING_KEY is not a PEM RSA public key"))?;
                let other = other
                    .to_public_key_der()
                    .map_err(|e| invalid(alg, e.to_string()))?;
                if other.as_bytes() != spki.as_bytes() {
                    return Err(mismatch());
                }
            }
            // jsonwebtoken's RustCrypto backend wants PKCS#1 DER for both halves.
            let private_der = key
                .to_pkcs1_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            let public_der = public
                .to_pkcs1_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            Ok(Parsed {
                encoding: EncodingKey::from_rsa_der(private_der.as_bytes()),
                decoding: DecodingKey::from_rsa_der(public_der.as_bytes()),
                secret: key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| invalid(alg, e.to_string()))?
                    .to_string(),
                public_pem: Some(
                    public
                        .to_public_key_pem(LineEnding::LF)
                        .map_err(|e| invalid(alg, e.to_string()))?,
                ),
                derived_kid: derive_kid(alg, spki.as_bytes()),
            })
        }
        Algorithm::ES256 => parse_ec_p256(alg, private_pem, public_pem),
        Algorithm::ES384 => parse_ec_p384(alg, private_pem, public_pem),
        Algorithm::EdDSA => {
            use ed25519_dalek::pkcs8::EncodePublicKey;
            use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
            use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};

            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(private_pem)
                .map_err(|_| invalid(alg, "SIGNING_KEY is not a PKCS#8 PEM Ed25519 private key"))?;
            let public = key.verifying_key();
            let spki = public
                .to_public_key_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            if let Some(given) = public_pem {
                let other = ed25519_dalek::VerifyingKey::from_public_key_pem(given)
                    .map_err(|_| invalid(alg, "VERIFYING_KEY is not a PEM Ed25519 public key"))?;
                if other != public {
                    return Err(mismatch());
                }
            }
            let secret = ed25519_pkcs8_pem(&key).map_err(|e| invalid(alg, e))?;
            let private_der = {
                use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
                KeypairBytes {
                    secret_key: key.to_bytes(),
                    public_key: None,
                }
                .to_pkcs8_der()
                .map_err(|e| invalid(alg, e.to_string()))?
            };
            Ok(Parsed {
                encoding: EncodingKey::from_ed_der(private_der.as_bytes()),
                decoding: DecodingKey::from_ed_der(public.as_bytes()),
                secret,
                public_pem: Some(
                    public
                        .to_public_key_pem(LineEnding::LF)
                        .map_err(|e| invalid(alg, e.to_string()))?,
                ),
                derived_kid: derive_kid(alg, spki.as_bytes()),
            })
        }
    }
}

/// One body for both NIST curves; the crates share an API but no common trait
/// that would make a generic function readable.
macro_rules! parse_ec {
    ($name:ident, $curve:ident, $label:literal) => {
        fn $name(
            alg: Algorithm,
            private_pem: &str,
            public_pem: Option<&str>,
        ) -> Result<Parsed, KeyError> {
            use $curve::pkcs8::{DecodePrivateKey, DecodePublicKey};
            use $curve::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

            let key = match $curve::ecdsa::SigningKey::from_pkcs8_pem(private_pem) {
                Ok(key) => key,
                Err(_) => $curve::SecretKey::from_sec1_pem(private_pem)
                    .map(|secret| $curve::ecdsa::SigningKey::from(&secret))
                    .map_err(|_| {
                        invalid(
                            alg,
                            concat!("SIGNING_KEY is not a PEM ", $label, " private key"),
                        )
                    })?,
            };
            let public = key.verifying_key();
            let spki = public
                .to_public_key_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            if let Some(given) = public_pem {
                let other =
                    $curve::ecdsa::VerifyingKey::from_public_key_pem(given).map_err(|_| {
                        invalid(
                            alg,
                            concat!("VERIFYING_KEY is not a PEM ", $label, " public key"),
                        )
                    })?;
                if other != *public {
                    return Err(invalid(
                        alg,
                        "VERIFYING_KEY is not the public half of SIGNING_KEY",
                    ));
                }
            }
            let private_der = key
                .to_pkcs8_der()
                .map_err(|e| invalid(alg, e.to_string()))?;
            Ok(Parsed {
                encoding: EncodingKey::from_ec_der(private_der.as_bytes()),
                // The RustCrypto verifier reads an uncompressed SEC1 point.
                decoding: DecodingKey::from_ec_der(public.to_sec1_point(false).as_bytes()),
                secret: key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| invalid(alg, e.to_string()))?
                    .to_string(),
                public_pem: Some(
                    public
                        .to_public_key_pem(LineEnding::LF)
                        .map_err(|e| invalid(alg, e.to_string()))?,
                ),
                derived_kid: derive_kid(alg, spki.as_bytes()),
            })
        }
    };
}

parse_ec!(parse_ec_p256, p256, "P-256");
parse_ec!(parse_ec_p384, p384, "P-384");

/// A usable key: pinned to one algorithm, ready to sign and verify.
///
/// The public fields describe the key; change them only through [`KeyRing`]
/// (the header minted tokens carry is fixed when the key is loaded).
pub struct SigningKey {
    /// The key's id.
    pub kid: String,
    /// The one algorithm this key signs and verifies with.
    pub alg: Algorithm,
    /// When it was made.
    pub created_at: UnixTime,
    /// When it stopped signing; `None` for the active key.
    pub retired_at: Option<UnixTime>,
    /// After this, tokens it signed are refused; `None`: no end.
    pub verify_until: Option<UnixTime>,
    /// Canonical persisted form of the secret (see [`KeyMaterial::secret`]).
    secret: String,
    public_pem: Option<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwt_alg: jsonwebtoken::Algorithm,
    /// Public JWK (RFC 7517) for asymmetric keys; HMAC keys have none to publish.
    jwk: Option<Jwk>,
    jwk_json: Option<serde_json::Value>,
    /// base64url of `{"alg":..,"typ":"JWT","kid":..}`, fixed per key so minting is deterministic.
    header_b64: String,
    /// HMAC keys: the MAC with the key's pads already absorbed, cloned per
    /// use (`jsonwebtoken` derives them again on every sign and verify).
    mac: Option<KeyedMac>,
    /// HMAC keys: [`Self::mac`] that has also absorbed `header_b64` and the
    /// dot, the start of every token this key signs. The header (~70 bytes)
    /// fills a whole SHA-256 block, so each sign and verify of such a token
    /// hashes one block less (of six, for a refresh token).
    header_mac: Option<KeyedMac>,
}

/// An HMAC keyed once; every signature starts from a clone.
#[derive(Clone)]
enum KeyedMac {
    S256(hmac::Hmac<Sha256>),
    S384(hmac::Hmac<sha2::Sha384>),
    S512(hmac::Hmac<sha2::Sha512>),
}

impl KeyedMac {
    fn new(alg: Algorithm, secret: &[u8]) -> Option<KeyedMac> {
        use hmac::KeyInit;
        Some(match alg {
            Algorithm::HS256 => KeyedMac::S256(hmac::Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => KeyedMac::S384(hmac::Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => KeyedMac::S512(hmac::Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// A clone that has absorbed `prefix`: its MAC of `m` is this one's of
    /// `prefix` followed by `m`.
    fn absorbed(&self, prefix: &[u8]) -> KeyedMac {
        use hmac::Mac;
        let mut mac = self.clone();
        match &mut mac {
            KeyedMac::S256(m) => m.update(prefix),
            KeyedMac::S384(m) => m.update(prefix),
            KeyedMac::S512(m) => m.update(prefix),
        }
        mac
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use hmac::Mac;
        match self.clone() {
            KeyedMac::S256(mut m) => {
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            KeyedMac::S384(mut m) => {
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            KeyedMac::S512(mut m) => {
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Constant-time comparison of the MAC of `message` with `tag`.
    fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        use hmac::Mac;
        match self.clone() {
            KeyedMac::S256(mut m) => {
                m.update(message);
                m.verify_slice(tag).is_ok()
            }
            KeyedMac::S384(mut m) => {
                m.update(message);
                m.verify_slice(tag).is_ok()
            }
            KeyedMac::S512(mut m) => {
                m.update(message);
                m.verify_slice(tag).is_ok()
            }
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("secret", &"<redacted>")
            .field("public", &self.jwk.is_some())
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("verify_until", &self.verify_until)
            .finish()
    }
}

impl SigningKey {
    /// Decodes and checks the material: the key must parse for its algorithm, a
    /// given public key must match, and a sign-then-verify self-test must pass.
    pub(crate) fn from_material(material: KeyMaterial) -> Result<SigningKey, KeyError> {
        ensure_crypto_provider()?;
        check_kid(&material.kid)?;
        let alg = material.alg;
        let mut mac = None;
        let parsed = if alg.is_symmetric() {
            if material.public_pem.is_some() {
                return Err(invalid(alg, "an HMAC key has no public key"));
            }
            let secret = URL_SAFE_NO_PAD
                .decode(material.secret.trim())
                .map_err(|_| invalid(alg, "the secret is not unpadded base64url"))?;
            mac = KeyedMac::new(alg, &secret);
            parse_hmac(alg, &secret)?
        } else {
            parse_pem(alg, &material.secret, material.public_pem.as_deref())?
        };
        let jwt_alg = jwt_algorithm(alg);
        let (jwk, jwk_json) = if alg.is_symmetric() {
            (None, None)
        } else {
            let mut jwk = Jwk::from_decoding_key(&parsed.decoding, Some(jwt_alg))
                .map_err(|e| invalid(alg, format!("cannot describe as JWK: {e}")))?;
            jwk.common.key_id = Some(material.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            let json = serde_json::to_value(&jwk)
                .map_err(|e| invalid(alg, format!("cannot serialise JWK: {e}")))?;
            (Some(jwk), Some(json))
        };
        let kid_json =
            serde_json::to_string(&material.kid).map_err(|e| ring_error(e.to_string()))?;
        let header = format!(
            r#"{{"alg":"{}","typ":"JWT","kid":{kid_json}}}"#,
            alg.as_str()
        );
        let key = SigningKey {
            kid: material.kid,
            alg,
            created_at: material.created_at,
            retired_at: material.retired_at,
            verify_until: material.verify_until,
            secret: parsed.secret,
            public_pem: parsed.public_pem,
            encoding: parsed.encoding,
            decoding: parsed.decoding,
            jwt_alg,
            jwk,
            jwk_json,
            header_mac: mac.as_ref().map(|m| {
                let mut prefix = URL_SAFE_NO_PAD.encode(&header).into_bytes();
                prefix.push(b'.');
                m.absorbed(&prefix)
            }),
            header_b64: URL_SAFE_NO_PAD.encode(header),
            mac,
        };
        key.self_test()?;
        Ok(key)
    }

    /// The keyed MAC to continue with and what it still has to absorb of
    /// `message`: [`Self::header_mac`] and the rest when `message` starts with
    /// this key's header and a dot, else [`Self::mac`] and all of it.
    fn mac_for<'m>(&self, message: &'m [u8]) -> Option<(&KeyedMac, &'m [u8])> {
        let header = self.header_b64.as_bytes();
        if let Some(mac) = &self.header_mac
            && let Some(rest) = message.strip_prefix(header)
            && let Some(rest) = rest.strip_prefix(b".")
        {
            return Some((mac, rest));
        }
        self.mac.as_ref().map(|mac| (mac, message))
    }

    /// The base64url signature of `message` (a token's signing input).
    pub(crate) fn sign_b64(&self, message: &[u8]) -> Result<String, KeyError> {
        match self.mac_for(message) {
            Some((mac, message)) => Ok(URL_SAFE_NO_PAD.encode(mac.sign(message))),
            None => jsonwebtoken::crypto::sign(message, &self.encoding, self.jwt_alg)
                .map_err(|e| KeyError::Sign(e.to_string())),
        }
    }

    /// Whether `signature_b64` is this key's signature of `message`.
    pub(crate) fn verify_b64(&self, signature_b64: &str, message: &[u8]) -> bool {
        match self.mac_for(message) {
            Some((mac, message)) => URL_SAFE_NO_PAD
                .decode(signature_b64)
                .is_ok_and(|tag| mac.verify(message, &tag)),
            None => matches!(
                jsonwebtoken::crypto::verify(signature_b64, message, &self.decoding, self.jwt_alg),
                Ok(true)
            ),
        }
    }

    /// Catches a key the crypto backend cannot use now rather than on the first login.
    fn self_test(&self) -> Result<(), KeyError> {
        let alg = self.alg;
        // The pre-keyed MACs must agree with jsonwebtoken's, both ways: on a
        // bare message, and on one that starts with the key's header.
        if self.mac.is_some() {
            let with_header = [self.header_b64.as_bytes(), b".", SELF_TEST_MESSAGE].concat();
            for message in [SELF_TEST_MESSAGE, with_header.as_slice()] {
                let ours = self.sign_b64(message)?;
                let theirs = jsonwebtoken::crypto::sign(message, &self.encoding, self.jwt_alg)
                    .map_err(|e| invalid(alg, format!("self-test signature failed: {e}")))?;
                if ours != theirs || !self.verify_b64(&theirs, message) {
                    return Err(invalid(alg, "self-test: the keyed MAC disagrees"));
                }
            }
        }
        let signature = jsonwebtoken::crypto::sign(SELF_TEST_MESSAGE, &self.encoding, self.jwt_alg)
            .map_err(|e| invalid(alg, format!("self-test signature failed: {e}")))?;
        match jsonwebtoken::crypto::verify(
            &signature,
            SELF_TEST_MESSAGE,
            &self.decoding,
            self.jwt_alg,
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(invalid(alg, "self-test signature does not verify")),
            Err(e) => Err(invalid(alg, format!("self-test verification failed: {e}"))),
        }
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it is pinned to.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The same, as jsonwebtoken names it.
    pub fn jwt_algorithm(&self) -> jsonwebtoken::Algorithm {
        self.jwt_alg
    }

    /// It signs new tokens (not retired).
    pub fn is_active(&self) -> bool {
        self.retired_at.is_none()
    }

    /// Whether a token signed by this key may still be accepted at `now`
    /// (`verify_until` itself included).
    pub(crate) fn verifies_at(&self, now: UnixTime) -> bool {
        self.verify_until.is_none_or(|until| now <= until)
    }

    /// The key to sign with.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public JWK (with kid, alg and `use: sig`); `None` for HMAC keys.
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.jwk.as_ref()
    }

    /// The SPKI PEM public key; `None` for HMAC keys.
    pub fn public_pem(&self) -> Option<&str> {
        self.public_pem.as_deref()
    }

    /// The persistable form, secret included.
    pub(crate) fn to_material(&self) -> KeyMaterial {
        KeyMaterial {
            kid: self.kid.clone(),
            alg: self.alg,
            secret: self.secret.clone(),
            public_pem: self.public_pem.clone(),
            created_at: self.created_at,
            retired_at: self.retired_at,
            verify_until: self.verify_until,
        }
    }

    /// base64url of this key's fixed JWT header.
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }
}

/// One active signing key plus the retired keys that still verify, and the
/// secret that keys identifier hashes.
pub struct KeyRing {
    active: SigningKey,
    retired: HashMap<String, SigningKey>,
    /// Keys [`crate::lockout::IdentifierHasher`]; kept by the key store
    /// beside the signing keys, so it outlives key rotations.
    identifier_secret: Option<String>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("retired", &self.retired)
            .field(
                "identifier_secret",
                &self.identifier_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl KeyRing {
    /// A ring with one key, which must not be retired.
    pub fn new(active: KeyMaterial) -> Result<KeyRing, KeyError> {
        if !active.is_active() || active.verify_until.is_some() {
            return Err(ring_error(format!(
                "key `{}` is retired and cannot be the active key",
                active.kid
            )));
        }
        Ok(KeyRing {
            active: SigningKey::from_material(active)?,
            retired: HashMap::new(),
            identifier_secret: None,
        })
    }

    /// Rebuilds a ring from [`KeyRing::materials`]: exactly one key is not
    /// retired (the active one); every retired key has a `verify_until`.
    pub fn from_materials(materials: Vec<KeyMaterial>) -> Result<KeyRing, KeyError> {
        let mut active = None;
        let mut retired: HashMap<String, SigningKey> = HashMap::new();
        for material in materials {
            let kid = material.kid.clone();
            let taken = retired.contains_key(&kid)
                || active.as_ref().is_some_and(|a: &SigningKey| a.kid() == kid);
            if taken {
                return Err(ring_error(format!("kid `{kid}` appears twice")));
            }
            if material.is_active() {
                if material.verify_until.is_some() {
                    return Err(ring_error(format!(
                        "key `{kid}` has a verify_until but was never retired"
                    )));
                }
                if active.is_some() {
                    return Err(ring_error("more than one key is active (not retired)"));
                }
                active = Some(SigningKey::from_material(material)?);
            } else {
                if material.verify_until.is_none() {
                    return Err(ring_error(format!(
                        "retired key `{kid}` has no verify_until"
                    )));
                }
                retired.insert(kid, SigningKey::from_material(material)?);
            }
        }
        let active = active.ok_or_else(|| ring_error("no active (unretired) key"))?;
        Ok(KeyRing {
            active,
            retired,
            identifier_secret: None,
        })
    }

    /// The ring with `secret` as its identifier secret (see
    /// [`KeyRing::identifier_secret`]).
    pub fn with_identifier_secret(mut self, secret: impl Into<String>) -> KeyRing {
        self.identifier_secret = Some(secret.into());
        self
    }

    /// The secret identifier hashes are keyed with: the key store's own
    /// (stable across key rotations), or, for a ring built without one
    /// (tests, tools that never count attempts), one derived from the active
    /// signing key.
    pub fn identifier_secret(&self) -> &[u8] {
        match &self.identifier_secret {
            Some(s) => s.as_bytes(),
            None => self.active.secret.as_bytes(),
        }
    }

    /// Whether the key store gave this ring its own identifier secret.
    pub fn has_identifier_secret(&self) -> bool {
        self.identifier_secret.is_some()
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// Any key in the ring by kid, whether or not it still verifies.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        if self.active.kid() == kid {
            return Some(&self.active);
        }
        self.retired.get(kid)
    }

    /// The key with this kid if a token signed by it may be accepted at `now`.
    pub(crate) fn verifying_key(&self, kid: &str, now: UnixTime) -> Option<&SigningKey> {
        self.get(kid).filter(|key| key.verifies_at(now))
    }

    /// Makes `next` the active key. The old active key is retired at `now` and
    /// keeps verifying until `now + keep_for` (pass the longest token lifetime
    /// plus leeway, so no token it signed is cut short).
    pub fn rotate(
        &mut self,
        next: KeyMaterial,
        now: UnixTime,
        keep_for: i64,
    ) -> Result<(), KeyError> {
        if keep_for < 0 {
            return Err(ring_error("keep_for must not be negative"));
        }
        if !next.is_active() || next.verify_until.is_some() {
            return Err(ring_error(format!(
                "key `{}` is retired and cannot become the active key",
                next.kid
            )));
        }
        if self.get(&next.kid).is_some() {
            return Err(ring_error(format!(
                "kid `{}` is already in the ring",
                next.kid
            )));
        }
        let next = SigningKey::from_material(next)?;
        let mut old = std::mem::replace(&mut self.active, next);
        old.retired_at = Some(now);
        old.verify_until = Some(now.saturating_add(keep_for));
        self.retired.insert(old.kid.clone(), old);
        Ok(())
    }

    /// Drops retired keys past their `verify_until`; returns their kids.
    pub fn prune(&mut self, now: UnixTime) -> Vec<String> {
        let mut dropped: Vec<String> = self
            .retired
            .iter()
            .filter(|(_, key)| !key.verifies_at(now))
            .map(|(kid, _)| kid.clone())
            .collect();
        for kid in &dropped {
            self.retired.remove(kid);
        }
        dropped.sort();
        dropped
    }

    /// Active key first, then retired keys, newest retirement first.
    fn ordered(&self) -> impl Iterator<Item = &SigningKey> {
        let mut retired: Vec<&SigningKey> = self.retired.values().collect();
        retired.sort_by(|a, b| {
            b.retired_at
                .cmp(&a.retired_at)
                .then_with(|| a.kid.cmp(&b.kid))
        });
        std::iter::once(&self.active).chain(retired)
    }

    /// Every key, in persistable form (secrets included): active first.
    pub fn materials(&self) -> Vec<KeyMaterial> {
        self.ordered().map(SigningKey::to_material).collect()
    }

    /// Every key in the ring: active first, then retired ones.
    pub fn keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.ordered()
    }

    /// The RFC 7517 JWK Set of public keys that verify at `now` (active first).
    /// HMAC keys are secrets and never appear.
    pub fn jwks(&self, now: UnixTime) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .ordered()
            .filter(|key| key.verifies_at(now))
            .filter_map(|key| key.jwk_json.clone())
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    const NOW: UnixTime = 1_750_000_000;

    const RSA_PEM: &str = include_str!("../tests/fixtures/rsa2048.pem");
    const RSA_PKCS1_PEM: &str = include_str!("../tests/fixtures/rsa2048.pkcs1.pem");
    const RSA_PUB_PEM: &str = include_str!("../tests/fixtures/rsa2048.pub.pem");
    const RSA_OTHER_PUB_PEM: &str = include_str!("../tests/fixtures/rsa2048-other.pub.pem");
    const RSA_1024_PEM: &str = include_str!("../tests/fixtures/rsa1024.pem");
    const P256_PEM: &str = include_str!("../tests/fixtures/p256.pem");
    const P256_SEC1_PEM: &str = include_str!("../tests/fixtures/p256.sec1.pem");
    const P256_PUB_PEM: &str = include_str!("../tests/fixtures/p256.pub.pem");
    const P384_PEM: &str = include_str!("../tests/fixtures/p384.pem");
    const P384_PUB_PEM: &str = include_str!("../tests/fixtures/p384.pub.pem");
    const ED25519_PEM: &str = include_str!("../tests/fixtures/ed25519.pem");
    const ED25519_PUB_PEM: &str = include_str!("../tests/fixtures/ed25519.pub.pem");

    fn settings(alg: Algorithm, signing: Option<&str>, verifying: Option<&str>) -> Settings {
        Settings {
            ALGORITHM: alg,
            SIGNING_KEY: signing.map(str::to_string),
            VERIFYING_KEY: verifying.map(str::to_string),
            ..Settings::default()
        }
    }

    fn from_settings(alg: Algorithm, signing: &str, verifying: Option<&str>) -> KeyMaterial {
        KeyMaterial::from_settings(&settings(alg, Some(signing), verifying), NOW)
            .unwrap()
            .unwrap()
    }

    /// Generating RSA keys is slow; one per test binary is enough.
    fn generated_rsa() -> &'static KeyMaterial {
        static KEY: OnceLock<KeyMaterial> = OnceLock::new();
        KEY.get_or_init(|| KeyMaterial::generate(Algorithm::RS256, NOW).unwrap())
    }

    fn hs256(now: UnixTime) -> KeyMaterial {
        KeyMaterial::generate(Algorithm::HS256, now).unwrap()
    }

    fn es256(now: UnixTime) -> KeyMaterial {
        KeyMaterial::generate(Algorithm::ES256, now).unwrap()
    }

    #[test]
    fn generated_keys_load_for_every_fast_algorithm() {
        for alg in Algorithm::ALL {
            if matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) {
                continue;
            }
            let m = KeyMaterial::generate(alg, NOW).unwrap();
            assert_eq!(m.alg, alg);
            assert_eq!(m.kid.len(), 16);
            assert!(m.kid.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(m.created_at, NOW);
            assert!(m.is_active() && m.verify_until.is_none());
            assert_eq!(m.public_pem.is_some(), !alg.is_symmetric());
            let key = SigningKey::from_material(m.clone()).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.kid(), m.kid);
            assert_eq!(
                key.to_material(),
                m,
                "generated material is already canonical"
            );
        }
    }

    #[test]
    fn generated_hmac_secret_is_64_random_bytes() {
        let a = KeyMaterial::generate(Algorithm::HS512, NOW).unwrap();
        let b = KeyMaterial::generate(Algorithm::HS512, NOW).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.secret).unwrap().len(), 64);
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.kid, b.kid);
    }

    #[test]
    fn generated_rsa_key_is_2048_bit_pkcs8() {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let m = generated_rsa();
        assert!(m.secret.starts_with("-----BEGIN PRIVATE KEY-----"));
        let key = rsa::PrivateKey::from_pkcs8_pem(&m.secret).unwrap();
        assert_eq!(key.size() * 8, 2048);
        SigningKey::from_material(m.clone()).unwrap();
    }

    #[test]
    fn from_settings_is_none_without_signing_key() {
        for alg in Algorithm::ALL {
            assert_eq!(
                KeyMaterial::from_settings(&settings(alg, None, None), NOW).unwrap(),
                None
            );
        }
    }

    #[test]
    fn from_settings_kid_is_deterministic_across_restarts() {
        let secret = "k".repeat(40);
        let cases: [(Algorithm, &str); 5] = [
            (Algorithm::HS256, &secret),
            (Algorithm::RS256, RSA_PEM),
            (Algorithm::ES256, P256_PEM),
            (Algorithm::ES384, P384_PEM),
            (Algorithm::EdDSA, ED25519_PEM),
        ];
        for (alg, signing) in cases {
            let first = KeyMaterial::from_settings(&settings(alg, Some(signing), None), NOW)
                .unwrap()
                .unwrap();
            let later = KeyMaterial::from_settings(&settings(alg, Some(signing), None), NOW + 99)
                .unwrap()
                .unwrap();
            assert_eq!(first.kid, later.kid, "{alg:?}");
            assert_eq!(first.kid.len(), 16);
        }
    }

    #[test]
    fn kid_depends_on_algorithm_and_key() {
        let rs256 = from_settings(Algorithm::RS256, RSA_PEM, None);
        let rs384 = from_settings(Algorithm::RS384, RSA_PEM, None);
        assert_ne!(rs256.kid, rs384.kid);
        let hs_a = from_settings(Algorithm::HS256, &"a".repeat(32), None);
        let hs_b = from_settings(Algorithm::HS256, &"b".repeat(32), None);
        assert_ne!(hs_a.kid, hs_b.kid);
        let generated = generated_rsa();
        assert_ne!(generated.kid, rs256.kid);
    }

    #[test]
    fn kid_is_derived_from_public_key_so_pem_flavour_does_not_matter() {
        let pkcs8 = from_settings(Algorithm::RS256, RSA_PEM, None);
        let pkcs1 = from_settings(Algorithm::RS256, RSA_PKCS1_PEM, None);
        assert_eq!(pkcs8.kid, pkcs1.kid);
        assert_eq!(pkcs1.secret, pkcs8.secret, "secret is normalised to PKCS#8");
        assert!(pkcs1.secret.starts_with("-----BEGIN PRIVATE KEY-----"));
        let ec_pkcs8 = from_settings(Algorithm::ES256, P256_PEM, None);
        let ec_sec1 = from_settings(Algorithm::ES256, P256_SEC1_PEM, None);
        assert_eq!(ec_pkcs8.kid, ec_sec1.kid);
    }

    #[test]
    fn from_settings_hmac_uses_raw_secret_bytes() {
        let secret = "correct horse battery staple 0123456789";
        let m = from_settings(Algorithm::HS256, secret, None);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&m.secret).unwrap(),
            secret.as_bytes()
        );
        assert_eq!(m.public_pem, None);
    }

    #[test]
    fn from_settings_accepts_matching_verifying_key() {
        let cases = [
            (Algorithm::RS256, RSA_PEM, RSA_PUB_PEM),
            (Algorithm::ES256, P256_PEM, P256_PUB_PEM),
            (Algorithm::ES384, P384_PEM, P384_PUB_PEM),
            (Algorithm::EdDSA, ED25519_PEM, ED25519_PUB_PEM),
        ];
        for (alg, private, public) in cases {
            let with = from_settings(alg, private, Some(public));
            let without = from_settings(alg, private, None);
            assert_eq!(with.kid, without.kid);
            assert_eq!(
                with.public_pem.as_deref().map(str::trim),
                Some(public.trim())
            );
        }
    }

    #[test]
    fn from_settings_rejects_verifying_key_of_another_key() {
        let err = KeyMaterial::from_settings(
            &settings(Algorithm::RS256, Some(RSA_PEM), Some(RSA_OTHER_PUB_PEM)),
            NOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, KeyError::Invalid { ref message, .. } if message.contains("public half")),
            "{err}"
        );
        let err = KeyMaterial::from_settings(
            &settings(Algorithm::ES256, Some(P256_PEM), Some(P384_PUB_PEM)),
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::Invalid { .. }));
    }

    #[test]
    fn from_settings_rejects_short_hmac_secret() {
        let err = KeyMaterial::from_settings(
            &settings(Algorithm::HS512, Some(&"x".repeat(63)), None),
            NOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, KeyError::Invalid { ref alg, .. } if alg == "HS512"),
            "{err}"
        );
    }

    #[test]
    fn from_settings_rejects_verifying_key_for_hmac() {
        let err = KeyMaterial::from_settings(
            &settings(Algorithm::HS256, Some(&"x".repeat(32)), Some(RSA_PUB_PEM)),
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::Invalid { .. }));
    }

    #[test]
    fn from_settings_rejects_key_of_the_wrong_type() {
        let cases = [
            (Algorithm::RS256, P256_PEM),
            (Algorithm::ES256, P384_PEM),
            (Algorithm::ES384, P256_PEM),
            (Algorithm::ES256, RSA_PEM),
            (Algorithm::EdDSA, P256_PEM),
            (
                Algorithm::RS256,
                "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----",
            ),
            (Algorithm::RS256, "not a pem"),
            (Algorithm::EdDSA, RSA_PUB_PEM),
        ];
        for (alg, pem) in cases {
            let err = KeyMaterial::from_settings(&settings(alg, Some(pem), None), NOW).unwrap_err();
            assert!(matches!(err, KeyError::Invalid { .. }), "{alg:?}: {err}");
        }
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        let err = KeyMaterial::from_pem(Algorithm::RS256, RSA_1024_PEM, None, NOW).unwrap_err();
        assert!(matches!(err, KeyError::Invalid { ref message, .. } if message.contains("2048")));
    }

    #[test]
    fn constructors_refuse_the_other_family() {
        assert!(KeyMaterial::from_pem(Algorithm::HS256, RSA_PEM, None, NOW).is_err());
        assert!(KeyMaterial::from_hmac_secret(Algorithm::RS256, &[7; 64], NOW).is_err());
    }

    #[test]
    fn material_with_bad_secret_is_refused() {
        let mut m = hs256(NOW);
        m.secret = "not base64url!".into();
        assert!(matches!(
            SigningKey::from_material(m).unwrap_err(),
            KeyError::Invalid { .. }
        ));

        let mut m = hs256(NOW);
        m.secret = URL_SAFE_NO_PAD.encode([1u8; 16]);
        assert!(matches!(
            SigningKey::from_material(m).unwrap_err(),
            KeyError::Invalid { .. }
        ));

        let mut m = hs256(NOW);
        m.public_pem = Some(RSA_PUB_PEM.into());
        assert!(matches!(
            SigningKey::from_material(m).unwrap_err(),
            KeyError::Invalid { .. }
        ));

        let mut m = es256(NOW);
        m.public_pem = Some(es256(NOW).public_pem.unwrap());
        assert!(matches!(
            SigningKey::from_material(m).unwrap_err(),
            KeyError::Invalid { .. }
        ));

        let mut m = es256(NOW);
        m.secret = "garbage".into();
        assert!(matches!(
            SigningKey::from_material(m).unwrap_err(),
            KeyError::Invalid { .. }
        ));
    }

    #[test]
    fn material_with_odd_kid_is_refused() {
        for kid in ["", "has space", "quote\"", &"a".repeat(65), "ünïcode"] {
            let mut m = hs256(NOW);
            m.kid = kid.to_string();
            assert!(
                matches!(SigningKey::from_material(m).unwrap_err(), KeyError::Ring(_)),
                "{kid:?}"
            );
        }
        let mut m = hs256(NOW);
        m.kid = "2024-key_1.a".into();
        SigningKey::from_material(m).unwrap();
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let hmac = from_settings(
            Algorithm::HS256,
            "super-secret-value-0123456789-abcdef",
            None,
        );
        let ec = from_settings(Algorithm::ES256, P256_PEM, None);
        for m in [hmac, ec] {
            let secret_line = m.secret.lines().nth(1).unwrap_or(&m.secret).to_string();
            let key = SigningKey::from_material(m.clone()).unwrap();
            let ring = KeyRing::new(m.clone()).unwrap();
            for text in [format!("{m:?}"), format!("{key:?}"), format!("{ring:?}")] {
                assert!(!text.contains(&m.secret), "{text}");
                assert!(!text.contains(&secret_line), "{text}");
                assert!(text.contains("<redacted>"), "{text}");
                assert!(text.contains(&m.kid), "{text}");
            }
        }
        let raw = "super-secret-value-0123456789-abcdef";
        let ring = KeyRing::new(from_settings(Algorithm::HS256, raw, None)).unwrap();
        assert!(!format!("{ring:?}").contains(raw));
    }

    #[test]
    fn key_material_serde_round_trips() {
        let mut m = from_settings(Algorithm::ES384, P384_PEM, None);
        m.retired_at = Some(NOW + 1);
        m.verify_until = Some(NOW + 2);
        let json = serde_json::to_string(&m).unwrap();
        let back: KeyMaterial = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["alg"], "ES384");
        assert_eq!(v["kid"], m.kid.as_str());
    }

    #[test]
    fn ring_new_refuses_retired_material() {
        let mut m = hs256(NOW);
        m.retired_at = Some(NOW);
        m.verify_until = Some(NOW + 10);
        assert!(matches!(KeyRing::new(m).unwrap_err(), KeyError::Ring(_)));
        let mut m = hs256(NOW);
        m.verify_until = Some(NOW + 10);
        assert!(matches!(KeyRing::new(m).unwrap_err(), KeyError::Ring(_)));
    }

    #[test]
    fn ring_serves_active_and_looks_up_by_kid() {
        let m = hs256(NOW);
        let ring = KeyRing::new(m.clone()).unwrap();
        assert_eq!(ring.active().kid(), m.kid);
        assert_eq!(ring.get(&m.kid).map(SigningKey::kid), Some(m.kid.as_str()));
        assert!(ring.get("0000000000000000").is_none());
        assert!(
            ring.verifying_key(&m.kid, i64::MAX).is_some(),
            "active keys never lapse"
        );
    }

    #[test]
    fn rotation_retires_old_key_until_verify_until() {
        let first = hs256(NOW);
        let second = es256(NOW + 100);
        let mut ring = KeyRing::new(first.clone()).unwrap();
        ring.rotate(second.clone(), NOW + 100, 3_600).unwrap();

        assert_eq!(ring.active().kid(), second.kid);
        let old = ring.get(&first.kid).unwrap();
        assert!(!old.is_active());
        assert_eq!(old.retired_at, Some(NOW + 100));
        assert_eq!(old.verify_until, Some(NOW + 3_700));
        assert_eq!(
            old.alg(),
            Algorithm::HS256,
            "a key stays pinned to its algorithm"
        );

        assert!(ring.verifying_key(&first.kid, NOW + 3_700).is_some());
        assert!(ring.verifying_key(&first.kid, NOW + 3_701).is_none());
        assert!(ring.get(&first.kid).is_some(), "get ignores verify_until");
        assert!(ring.verifying_key(&second.kid, NOW + 1_000_000).is_some());
    }

    #[test]
    fn rotation_refuses_bad_successors() {
        let first = hs256(NOW);
        let mut ring = KeyRing::new(first.clone()).unwrap();
        assert!(matches!(
            ring.rotate(first.clone(), NOW, 10).unwrap_err(),
            KeyError::Ring(_)
        ));
        assert!(matches!(
            ring.rotate(hs256(NOW), NOW, -1).unwrap_err(),
            KeyError::Ring(_)
        ));
        let mut retired = hs256(NOW);
        retired.retired_at = Some(NOW);
        retired.verify_until = Some(NOW);
        assert!(matches!(
            ring.rotate(retired, NOW, 10).unwrap_err(),
            KeyError::Ring(_)
        ));
        let mut broken = hs256(NOW);
        broken.secret = "!!".into();
        assert!(matches!(
            ring.rotate(broken, NOW, 10).unwrap_err(),
            KeyError::Invalid { .. }
        ));
        assert_eq!(
            ring.active().kid(),
            first.kid,
            "a failed rotation changes nothing"
        );

        let second = hs256(NOW);
        ring.rotate(second.clone(), NOW, 10).unwrap();
        assert!(
            matches!(ring.rotate(first, NOW, 10).unwrap_err(), KeyError::Ring(_)),
            "a retired kid cannot come back"
        );
    }

    #[test]
    fn prune_drops_only_keys_past_verify_until() {
        let a = hs256(NOW);
        let b = hs256(NOW);
        let c = hs256(NOW);
        let mut ring = KeyRing::new(a.clone()).unwrap();
        ring.rotate(b.clone(), NOW, 100).unwrap();
        ring.rotate(c.clone(), NOW + 50, 100).unwrap();

        assert!(ring.prune(NOW + 100).is_empty());
        assert_eq!(ring.prune(NOW + 101), vec![a.kid.clone()]);
        assert!(ring.get(&a.kid).is_none());
        assert!(ring.get(&b.kid).is_some());
        assert_eq!(ring.prune(NOW + 151), vec![b.kid.clone()]);
        assert_eq!(ring.materials().len(), 1);
        assert!(
            ring.prune(i64::MAX).is_empty(),
            "the active key is never pruned"
        );
        assert_eq!(ring.active().kid(), c.kid);
    }

    #[test]
    fn materials_round_trip_through_from_materials() {
        let a = hs256(NOW);
        let b = es256(NOW);
        let c = KeyMaterial::generate(Algorithm::EdDSA, NOW).unwrap();
        let mut ring = KeyRing::new(a.clone()).unwrap();
        ring.rotate(b.clone(), NOW + 10, 100).unwrap();
        ring.rotate(c.clone(), NOW + 20, 100).unwrap();

        let materials = ring.materials();
        assert_eq!(
            materials.iter().map(|m| m.kid.as_str()).collect::<Vec<_>>(),
            vec![c.kid.as_str(), b.kid.as_str(), a.kid.as_str()]
        );
        let json = serde_json::to_string(&materials).unwrap();
        let back: Vec<KeyMaterial> = serde_json::from_str(&json).unwrap();
        let rebuilt = KeyRing::from_materials(back).unwrap();
        assert_eq!(rebuilt.active().kid(), c.kid);
        assert_eq!(rebuilt.materials(), materials);
        assert_eq!(rebuilt.get(&a.kid).unwrap().verify_until, Some(NOW + 110));
        assert_eq!(rebuilt.keys().count(), 3);
    }

    #[test]
    fn from_materials_needs_exactly_one_active_key() {
        let a = hs256(NOW);
        let mut b = hs256(NOW);
        assert!(matches!(
            KeyRing::from_materials(vec![]).unwrap_err(),
            KeyError::Ring(_)
        ));
        assert!(matches!(
            KeyRing::from_materials(vec![a.clone(), b.clone()]).unwrap_err(),
            KeyError::Ring(_)
        ));
        b.retired_at = Some(NOW);
        b.verify_until = Some(NOW + 5);
        assert!(matches!(
            KeyRing::from_materials(vec![b.clone()]).unwrap_err(),
            KeyError::Ring(_)
        ));
        KeyRing::from_materials(vec![b.clone(), a.clone()]).unwrap();
    }

    #[test]
    fn from_materials_refuses_inconsistent_entries() {
        let a = hs256(NOW);
        let mut dup = a.clone();
        dup.retired_at = Some(NOW);
        dup.verify_until = Some(NOW + 1);
        assert!(matches!(
            KeyRing::from_materials(vec![a.clone(), dup]).unwrap_err(),
            KeyError::Ring(_)
        ));

        let mut no_until = hs256(NOW);
        no_until.retired_at = Some(NOW);
        assert!(matches!(
            KeyRing::from_materials(vec![a.clone(), no_until]).unwrap_err(),
            KeyError::Ring(_)
        ));

        let mut active_with_until = hs256(NOW);
        active_with_until.verify_until = Some(NOW);
        assert!(matches!(
            KeyRing::from_materials(vec![active_with_until]).unwrap_err(),
            KeyError::Ring(_)
        ));

        let mut broken = hs256(NOW);
        broken.retired_at = Some(NOW);
        broken.verify_until = Some(NOW);
        broken.secret = "@@".into();
        assert!(matches!(
            KeyRing::from_materials(vec![a, broken]).unwrap_err(),
            KeyError::Invalid { .. }
        ));
    }

    #[test]
    fn jwks_lists_only_public_keys_that_still_verify() {
        let hmac = hs256(NOW);
        let rsa = from_settings(Algorithm::RS256, RSA_PEM, None);
        let ec256 = from_settings(Algorithm::ES256, P256_PEM, None);
        let ec384 = from_settings(Algorithm::ES384, P384_PEM, None);
        let ed = from_settings(Algorithm::EdDSA, ED25519_PEM, None);

        let mut ring = KeyRing::new(rsa.clone()).unwrap();
        ring.rotate(hmac.clone(), NOW, 1_000).unwrap();
        ring.rotate(ec256.clone(), NOW + 1, 1_000).unwrap();
        ring.rotate(ec384.clone(), NOW + 2, 10).unwrap();
        ring.rotate(ed.clone(), NOW + 3, 1_000).unwrap();

        let jwks = ring.jwks(NOW + 5);
        let keys = jwks["keys"].as_array().unwrap();
        let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(
            kids,
            vec![
                ed.kid.as_str(),
                ec384.kid.as_str(),
                ec256.kid.as_str(),
                rsa.kid.as_str()
            ],
            "active first, HMAC never"
        );
        for key in keys {
            let obj = key.as_object().unwrap();
            assert_eq!(key["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(!obj.contains_key(private), "{private} leaked in {key}");
            }
        }
        let by_kid = |kid: &str| keys.iter().find(|k| k["kid"] == kid).unwrap().clone();
        assert_eq!(by_kid(&rsa.kid)["alg"], "RS256");
        assert_eq!(by_kid(&rsa.kid)["kty"], "RSA");
        assert_eq!(by_kid(&rsa.kid)["e"], "AQAB");
        assert_eq!(by_kid(&ec256.kid)["crv"], "P-256");
        assert_eq!(by_kid(&ec256.kid)["alg"], "ES256");
        assert_eq!(by_kid(&ec384.kid)["crv"], "P-384");
        assert_eq!(by_kid(&ed.kid)["kty"], "OKP");
        assert_eq!(by_kid(&ed.kid)["crv"], "Ed25519");
        assert_eq!(by_kid(&ed.kid)["alg"], "EdDSA");

        // ES256 was retired at NOW + 2 for 10 s only: gone once it no longer verifies.
        let later = ring.jwks(NOW + 13);
        let later_kids: Vec<&str> = later["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(!later_kids.contains(&ec256.kid.as_str()));
        assert!(later_kids.contains(&ec384.kid.as_str()));
        assert_eq!(later_kids.len(), 3);
    }

    #[test]
    fn jwks_keys_verify_tokens_of_their_key() {
        // The published JWK must describe the same public key the ring verifies with.
        for m in [
            from_settings(Algorithm::RS256, RSA_PEM, None),
            from_settings(Algorithm::ES256, P256_PEM, None),
            from_settings(Algorithm::EdDSA, ED25519_PEM, None),
        ] {
            let ring = KeyRing::new(m).unwrap();
            let key = ring.active();
            let jwk: Jwk = serde_json::from_value(ring.jwks(NOW)["keys"][0].clone()).unwrap();
            let decoding = DecodingKey::from_jwk(&jwk).unwrap();
            let sig = jsonwebtoken::crypto::sign(b"msg", key.encoding_key(), key.jwt_algorithm())
                .unwrap();
            assert!(
                jsonwebtoken::crypto::verify(&sig, b"msg", &decoding, key.jwt_algorithm()).unwrap()
            );
        }
    }

    /// The pre-keyed MACs (with and without the header absorbed) give
    /// jsonwebtoken's signatures, for messages that start with the key's
    /// header, almost do, or do not, and of every length around a block.
    #[test]
    fn keyed_macs_agree_with_jsonwebtoken_on_every_message_shape() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let ring = KeyRing::new(KeyMaterial::generate(alg, NOW).unwrap()).unwrap();
            let key = ring.active();
            let header = key.header_b64().to_string();
            let mut messages: Vec<Vec<u8>> = vec![
                header.clone().into_bytes(),
                format!("{header}.").into_bytes(),
                format!("{header}x").into_bytes(),
                format!("x{header}.payload").into_bytes(),
                header.as_bytes()[..header.len() - 1].to_vec(),
            ];
            for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300] {
                messages.push(format!("{header}.{}", "p".repeat(n)).into_bytes());
                messages.push("q".repeat(n).into_bytes());
            }
            for message in &messages {
                let theirs =
                    jsonwebtoken::crypto::sign(message, key.encoding_key(), key.jwt_algorithm())
                        .unwrap();
                assert_eq!(key.sign_b64(message).unwrap(), theirs, "{alg:?}");
                assert!(key.verify_b64(&theirs, message), "{alg:?}");
                let mut other = message.clone();
                other.push(b'.');
                assert!(!key.verify_b64(&theirs, &other), "{alg:?}");
            }
        }
    }

    #[test]
    fn hmac_only_ring_has_an_empty_jwks() {
        let ring = KeyRing::new(hs256(NOW)).unwrap();
        assert_eq!(ring.jwks(NOW), serde_json::json!({ "keys": [] }));
        assert!(ring.active().public_jwk().is_none());
    }

    #[test]
    fn ring_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<KeyRing>();
        shared::<SigningKey>();
    }

    #[test]
    fn header_is_fixed_per_key() {
        let m = from_settings(Algorithm::ES256, P256_PEM, None);
        let key = SigningKey::from_material(m.clone()).unwrap();
        let header = URL_SAFE_NO_PAD.decode(key.header_b64()).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, m.kid)
        );
    }
}
