//! The window's TypeScript types, `ui/js/wire.d.ts`, are rendered from the
//! Rust types that cross the IPC boundary (every command's arguments and
//! answer, every event's payload) and their dependencies. This test renders
//! them and fails when the committed file differs, so a change to a Rust type
//! the window reads shows up as a change to the window's types (and then to
//! `tsc`'s check of `ui/js`, `scripts/typecheck-ui.sh`).
//!
//! `WARDEN_UPDATE_WIRE_TYPES=1 cargo test -p warden-desktop --test wire_types`
//! rewrites the file.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use ts_rs::{Config, TS, TypeVisitor};

/// Collects the declaration of every exportable type reachable from the
/// roots, once each, by TypeScript name.
struct Collect {
    cfg: Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives, std containers and the like have no declaration of their
        // own: `visit_dependencies` already walked through them.
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(&self.cfg);
        let mut decl = T::docs().unwrap_or_default();
        decl.push_str("export ");
        decl.push_str(&T::decl(&self.cfg));
        // serde_json's Value and Map both render as JsonValue, identically.
        if let Some(old) = self.decls.insert(name.clone(), decl.clone()) {
            assert_eq!(old, decl, "two Rust types are called {name} in TypeScript");
        }
        T::visit_dependencies(self);
    }
}

/// Every type the window sends or receives.
fn render() -> String {
    let mut c = Collect {
        // Integers the window sees are counts, ids and unix times: `number`.
        cfg: Config::new().with_large_int("number"),
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    // Answers of the commands (src-tauri/src/{commands,devtools,staff}.rs).
    c.visit::<warden_desktop::session::AppInfo>();
    c.visit::<warden_desktop::session::AccountCreated>();
    c.visit::<warden_desktop::session::StateView>();
    c.visit::<warden_desktop::session::AccessCheck>();
    c.visit::<warden_proto::Me>();
    c.visit::<warden_proto::SessionInfo>();
    c.visit::<warden_client::Exchange>();
    c.visit::<warden_desktop::lab::LabStep>();
    c.visit::<warden_desktop::lab::ExchangeDetail>();
    c.visit::<warden_auth::inspect::Inspection>();
    c.visit::<warden_desktop::inspector::ProviderCheck>();
    c.visit::<warden_proto::StaffUser>();
    c.visit::<warden_desktop::staff::UserView>();
    c.visit::<warden_desktop::staff::LineageView>();
    c.visit::<warden_proto::AuditRecord>();
    c.visit::<warden_desktop::export::Exported>();
    c.visit::<warden_desktop::CommandError<'static>>();
    // Arguments the commands read.
    c.visit::<warden_desktop::RemoteServer>();
    c.visit::<warden_desktop::staff::UserFilter>();
    c.visit::<warden_desktop::staff::StaffAction>();
    c.visit::<warden_desktop::staff::AuditFilter>();
    c.visit::<warden_desktop::export::ExportFormat>();
    c.visit::<warden_desktop::inspector::TokenInput>();
    c.visit::<warden_desktop::inspector::VerifyInput>();
    c.visit::<warden_desktop::inspector::ProviderToken>();
    // Event payloads (src-tauri/src/core.rs): `session-changed` is a
    // StateView, `exchange` an Exchange, `session-note` any other Event,
    // `profiles-event` a ProfilesEvent (every profile's).
    c.visit::<warden_client::Event>();
    c.visit::<warden_desktop::profiles::ProfilesEvent>();
    // What the profile switcher and the outbox's notices will read.
    c.visit::<warden_desktop::profiles::ProfileView>();
    c.visit::<warden_desktop::profiles::RevocationOutcome>();

    let mut out = String::from(
        "// Rendered from the Rust types by crates/warden-desktop/tests/wire_types.rs.\n\
         // Do not edit: change the Rust type, then run\n\
         //   WARDEN_UPDATE_WIRE_TYPES=1 cargo test -p warden-desktop --test wire_types\n",
    );
    for decl in c.decls.values() {
        out.push('\n');
        out.push_str(decl);
        out.push('\n');
    }
    out
}

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/js/wire.d.ts")
}

#[test]
fn the_windows_types_are_rendered_from_the_rust_ones() {
    let rendered = render();
    let path = committed();
    if std::env::var_os("WARDEN_UPDATE_WIRE_TYPES").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != rendered {
        let first = on_disk
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| on_disk.lines().count().min(rendered.lines().count()));
        panic!(
            "ui/js/wire.d.ts is not what the Rust types render (first difference at line {}):\n\
             committed: {:?}\n rendered: {:?}\n\
             Run WARDEN_UPDATE_WIRE_TYPES=1 cargo test -p warden-desktop --test wire_types \
             and check the window's code against the new types (scripts/typecheck-ui.sh).",
            first + 1,
            on_disk.lines().nth(first),
            rendered.lines().nth(first),
        );
    }
}

#[test]
fn every_command_type_is_declared_once_with_its_name() {
    let rendered = render();
    for name in [
        "AppInfo",
        "StateView",
        "Inspection",
        "StaffAction",
        "TokenInput",
        "Event",
        "CommandError",
        "Reason",
    ] {
        let decl = format!("export type {name} = ");
        assert_eq!(
            rendered.matches(&decl).count(),
            1,
            "{name} should be declared exactly once"
        );
    }
    // Reason is an open set on the wire (other servers send other names).
    assert!(rendered.contains("export type Reason = string;"));
}
