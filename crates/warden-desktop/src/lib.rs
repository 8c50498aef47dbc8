//! The desktop app's core, without Tauri: what the window's commands
//! compute, written once and tested against a real server.
//!
//! - [`staff`]: the staff console (find users, a user's page, lineage, actions
//!   with a reason, the audit log) and [`export`] of the audit log.
//! - [`inspector`]: the token inspector (the current token or a pasted one,
//!   checked with the server's keys, a JWKS URL, a secret or a PEM key).
//! - [`lab`]: the fault lab and the timeline's detail.
//! - [`session`], [`remembered`]: the session the window shows (signed in to
//!   the embedded server or a [`RemoteServer`]) and who was signed in last
//!   before profiles.
//! - [`profiles`]: the named sessions the app holds at once (`profiles.json`)
//!   and [`ProfileSet`], the running set of them, one session manager each;
//!   [`outbox`]: revocations waiting for an unreachable server.
//! - [`instance`], [`broker`]: one app per data directory and its local
//!   socket (tokens for other programs, a second launch's hand-over);
//!   [`handout`]: `warden token`'s side of it (ask the app, or rotate under
//!   the profile's [`LockFile`] when none runs); [`AppPaths`]: where all of
//!   it lives.
//!
//! - [`alerts`]: what the tray shows (the worst profile) and which events
//!   become a desktop notification, and their delivery over D-Bus.
//!
//! The operations are generic over [`Host`], the little they need from the
//! app; `src-tauri` implements it over its state and wires each command to
//! one call here. Errors reach the window as `{code, message}` ([`Error`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The window's command groups are namespaces: `session::login`,
// `staff::users`, `export::export`; so are the profiles and the processes
// around them (`profiles::ProfileSet`, `broker::ask`, `instance::claim`).
// The rest is re-exported below.
pub mod alerts;
pub mod broker;
pub mod export;
pub mod handout;
pub mod inspector;
pub mod instance;
pub mod lab;
pub mod openid;
pub mod outbox;
pub mod profiles;
pub mod remembered;
pub mod session;
pub mod staff;

mod error;
mod host;
mod locks;
mod paths;
mod profile_set;
mod remote;
mod vault;

pub use error::{CommandError, Error, Result};
pub use host::{Host, Session};
pub use locks::LockFile;
pub use paths::AppPaths;
pub use profile_set::ProfileSet;
pub use remote::RemoteServer;
