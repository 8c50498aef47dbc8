//! The `warden` binary, black-box: real processes, real database files, real
//! signals, HTTP over loopback. One test binary with a module per concern,
//! because every test binary costs a link of the whole dependency tree.
// Test code: a failed step fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod commands;
mod common;
mod crash;
mod devtools;
mod nodes;
mod oidc;
mod tokens;
