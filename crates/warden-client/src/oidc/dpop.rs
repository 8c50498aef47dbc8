//! DPoP (RFC 9449): one ES256 key per session, a proof on every token and
//! resource request, bound to the access token by `ath`.
//!
//! Written by hand on jsonwebtoken and p256 because neither `oauth2` nor
//! `openidconnect` implements DPoP: a proof depends on each request's method
//! and URL, the provider's nonce (which arrives in a response header and may
//! change on any answer), and a retry of the same request once on
//! `use_dpop_nonce`; none of which their request builders expose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};
use crate::jwt::Secret;

/// A session's DPoP key pair. `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct DpopKey {
    /// PKCS#8 DER of the private key, base64url (how it is kept in the keyring).
    private: Secret,
    key: EncodingKey,
    public: Jwk,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Proof<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

fn key_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::OpenId(format!("DPoP key: {e}"))
}

impl DpopKey {
    /// A new random P-256 key.
    pub fn generate() -> Result<DpopKey> {
        use p256::elliptic_curve::Generate;
        use p256::pkcs8::EncodePrivateKey;
        let key = p256::ecdsa::SigningKey::try_generate_from_rng(&mut rand::rngs::SysRng)
            .map_err(key_error)?;
        let der = key.to_pkcs8_der().map_err(key_error)?;
        DpopKey::from_stored(&URL_SAFE_NO_PAD.encode(der.as_bytes()))
    }

    /// The key as [`DpopKey::stored`] wrote it.
    pub fn from_stored(stored: &str) -> Result<DpopKey> {
        let der = URL_SAFE_NO_PAD.decode(stored).map_err(key_error)?;
        // Parse it once here, so a damaged keyring entry fails now, not at the first proof.
        {
            use p256::pkcs8::DecodePrivateKey;
            p256::ecdsa::SigningKey::from_pkcs8_der(&der).map_err(key_error)?;
        }
        let key = EncodingKey::from_ec_der(&der);
        let public = Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(key_error)?;
        let thumbprint = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(key_error)?;
        Ok(DpopKey {
            private: Secret::new(stored.to_string()),
            key,
            public,
            thumbprint,
        })
    }

    /// The private key for the keyring (PKCS#8 DER, base64url).
    pub fn stored(&self) -> &Secret {
        &self.private
    }

    /// The JWK SHA-256 thumbprint (RFC 7638): what a bound token's `cnf.jkt` holds.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for `method url`, with the provider's `nonce` and, for a
    /// resource request, the access token it goes with (`ath`).
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        let mut public = self.public.clone();
        public.common.key_algorithm = None;
        header.jwk = Some(public);
        // htu: the URL without query and fragment (RFC 9449 §4.2).
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).map_err(key_error)?;
        let claims = Proof {
            jti: URL_SAFE_NO_PAD.encode(jti),
            htm: method,
            htu,
            iat: crate::scheduler::wall_now() as i64,
            nonce,
            ath: access_token.map(|t| URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes()))),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(key_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_carries_key_method_url_nonce_and_ath() {
        let key = DpopKey::generate().expect("key");
        let again = DpopKey::from_stored(key.stored().expose()).expect("reload");
        assert_eq!(key.thumbprint(), again.thumbprint());
        let proof = key
            .proof("POST", "https://op.test/token?x=1", Some("n1"), Some("at"))
            .expect("proof");
        let header = jsonwebtoken::decode_header(&proof).expect("header");
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header.jwk.expect("jwk");
        assert_eq!(
            jwk.thumbprint(ThumbprintHash::SHA256).expect("jkt"),
            key.thumbprint()
        );
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let claims: serde_json::Value = jsonwebtoken::decode(&proof, &decoding, &v)
            .expect("verifies")
            .claims;
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://op.test/token");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"at")).as_str()
        );
        assert!(DpopKey::from_stored("not a key").is_err());
    }
}
