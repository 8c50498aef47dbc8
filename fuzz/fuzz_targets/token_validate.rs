//! Any string as a token: `tokens::validate` returns a typed error or claims,
//! never panics, for every expected type and both policies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_auth::tokens::validate;
use warden_fuzz::{NOW, fixture};
use warden_proto::TokenType;

fuzz_target!(|data: &[u8]| {
    // Tokens arrive as text (JSON strings, headers); invalid UTF-8 is lossily
    // decoded the way a lenient front end would, so every byte string reaches
    // the validator.
    let token = String::from_utf8_lossy(data);
    let f = fixture();
    for expected in [
        None,
        Some(TokenType::Access),
        Some(TokenType::Refresh),
        Some(TokenType::Sliding),
    ] {
        let ok = validate(&token, &f.ring, &f.policy, NOW, expected).is_ok();
        let strict_ok = validate(&token, &f.ring, &f.strict, NOW, expected).is_ok();
        // Only a signature from the fixture's keys can get through: random input cannot.
        if ok || strict_ok {
            assert!(token.len() <= f.policy.max_bytes);
        }
    }
});
