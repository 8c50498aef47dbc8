//! Any bytes as an `application/json` body, through `RawBody::data` and every
//! request type's reader: a value or a 4xx, never a panic or a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warden_fuzz::body("application/json", data);
    warden_fuzz::body("application/json; charset=utf-8", data);
});
