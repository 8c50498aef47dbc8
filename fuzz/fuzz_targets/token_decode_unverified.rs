//! The token inspector (`warden decode`, the app): any input, no panic; what it
//! returns is a JSON object payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_auth::tokens::decode_unverified;

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    if let Ok((header, payload)) = decode_unverified(&token) {
        assert!(header.is_object());
        assert!(payload.is_object());
    }
});
