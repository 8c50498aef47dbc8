//! The OpenAPI document served at `api/schema/` is the contract clients and
//! schemathesis are driven by: it changes only on purpose. `docs/openapi.json`
//! is the committed copy; a change to a route or a wire type that moves the
//! document fails here until the copy is regenerated (and reviewed):
//!
//! `WARDEN_UPDATE_OPENAPI=1 cargo test -p warden-server --test openapi`
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_served_document_is_the_committed_one() {
    let doc: serde_json::Value = serde_json::from_str(&warden_server::api::openapi_json()).unwrap();
    let rendered = format!("{}\n", serde_json::to_string_pretty(&doc).unwrap());
    let path = committed();
    if std::env::var_os("WARDEN_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != rendered {
        panic!(
            "the OpenAPI document differs from {}; if the change is intended, regenerate it with \
             WARDEN_UPDATE_OPENAPI=1 cargo test -p warden-server --test openapi and review the diff",
            path.display()
        );
    }
}
