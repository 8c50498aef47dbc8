//! The workspace's integration suite: one test binary, one module per area.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
mod engine;
mod engine_props;
mod engine_race;
mod hostile_brute;
mod hostile_lockout;
mod hostile_origin;
mod hostile_races;
mod hostile_secrets;
mod hostile_tokens;
mod http;
mod interop;
mod keyring;
mod login_gates;
mod scaleout;
