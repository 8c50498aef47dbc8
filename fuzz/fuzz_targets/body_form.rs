//! Any bytes as a form body (and, after the first NUL, a content type of the
//! fuzzer's choosing): a value or a 4xx, never a panic or a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warden_fuzz::body("application/x-www-form-urlencoded", data);
    if let Some(nul) = data.iter().position(|b| *b == 0) {
        let content_type = String::from_utf8_lossy(&data[..nul]);
        warden_fuzz::body(&content_type, &data[nul + 1..]);
    }
});
