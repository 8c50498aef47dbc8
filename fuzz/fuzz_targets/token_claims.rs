//! Any payload, validly signed: the fuzzer controls the claims JSON (and the
//! header's extra fields) past the signature check, so steps 7–8 (time window,
//! iss/aud, type, ids, duplicates, number types) are fuzzed too.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use warden_auth::tokens::{decode_unverified, validate};
use warden_fuzz::{NOW, fixture};
use warden_proto::TokenType;

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let key = f.ring.active();
    // First byte picks the expected type and the policy; the rest is the payload.
    let (selector, payload) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, data),
    };
    let mut token = key.header_b64().to_string();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature =
        match jsonwebtoken::crypto::sign(token.as_bytes(), key.encoding_key(), key.jwt_algorithm())
        {
            Ok(s) => s,
            Err(e) => panic!("signing with the fixture key failed: {e}"),
        };
    token.push('.');
    token.push_str(&signature);

    let expected = match selector % 4 {
        0 => None,
        1 => Some(TokenType::Access),
        2 => Some(TokenType::Refresh),
        _ => Some(TokenType::Sliding),
    };
    let policy = if selector & 0x80 != 0 {
        &f.strict
    } else {
        &f.policy
    };
    if let Ok(validated) = validate(&token, &f.ring, policy, NOW, expected) {
        let claims = &validated.claims;
        // Whatever got through obeys the contract.
        assert!(claims.exp > NOW - policy.leeway, "expired token accepted");
        assert!(claims.iat <= NOW + policy.leeway, "future iat accepted");
        if let Some(nbf) = claims.nbf {
            assert!(nbf <= NOW + policy.leeway, "future nbf accepted");
        }
        if let Some(want) = expected {
            assert_eq!(claims.token_type, want, "wrong type accepted");
        }
        // The typed ids are the claims' ids, parsed once.
        assert_eq!(validated.jti.to_string(), claims.jti.to_ascii_lowercase());
        assert_eq!(validated.sid.to_string(), claims.sid.to_ascii_lowercase());
        // A token validate accepts is one the inspector can show.
        assert!(
            decode_unverified(&token).is_ok(),
            "accepted but not decodable"
        );
    }
});
