//! The desktop app's core, without Tauri: what the window's commands
//! compute, written once and tested against a real server.
//!
//! - [`staff`]: the staff console (find users, a user's page, lineage, actions
//!   with a reason, the audit log) and [`export`] of the audit log.
//! - [`inspector`]: the token inspector (the current token or a pasted one,
//!   checked with the server's keys, a JWKS URL, a secret or a PEM key).
//! - [`lab`]: the fault lab and the timeline's detail.
//! - [`session`], [`remote`], [`remembered`], [`vault`]: the session the
//!   window shows, the remote server form, who was signed in last before
//!   profiles, and where the embedded server's refresh tokens are kept.
//! - [`profiles`], [`profile_set`]: the named sessions the app holds at once
//!   (`profiles.json`) and the running set of them, one session manager each.
//! - [`outbox`]: revocations waiting for an unreachable server.
//! - [`instance`], [`broker`], [`locks`], [`paths`]: one app per data
//!   directory, its local socket (tokens for other programs, a second
//!   launch's hand-over), the per-profile lock files, where things live.
//! - [`handout`]: `warden token`'s side: ask the app, or rotate under the
//!   profile's lock when none runs.
//!
//! The operations are generic over [`Host`], the little they need from the
//! app; `src-tauri` implements it over its state and wires each command to
//! one call here. Errors reach the window as `{code, message}` ([`Error`]).
#![forbid(unsafe_code)]

pub mod broker;
pub mod error;
pub mod export;
pub mod handout;
pub mod host;
pub mod inspector;
pub mod instance;
pub mod lab;
pub mod locks;
pub mod outbox;
pub mod paths;
pub mod profile_set;
pub mod profiles;
pub mod remembered;
pub mod remote;
pub mod session;
pub mod staff;
pub mod vault;

pub use error::{Error, Result};
pub use host::{Host, Session};
