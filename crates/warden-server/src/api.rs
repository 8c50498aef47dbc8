//! The one route table.
//!
//! Each handler is listed once below. Its `#[utoipa::path]` attribute says its
//! method and path; the OpenAPI document is derived from the list, and the
//! router is built from the document (operation id → handler), so a route
//! cannot exist without being documented or be documented without existing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::AppState;
use crate::routes;

/// Adds the `jwt` Bearer scheme the protected operations name.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_string());
        components.add_security_scheme("jwt", SecurityScheme::Http(bearer));
    }
}

macro_rules! route_table {
    ($($module:ident :: $handler:ident),* $(,)?) => {
        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "Warden",
                description = "A JWT session manager speaking djangorestframework-simplejwt's API, \
                               with sessions, revocation, reuse detection and staff tools."
            ),
            paths($(routes::$module::$handler),*),
            modifiers(&SecuritySchemes),
            tags(
                (name = "simplejwt", description = "SimpleJWT's routes, wire-compatible"),
                (name = "warden", description = "Warden's routes for the signed-in user"),
                (name = "staff", description = "Staff only"),
                (name = "meta", description = "Documents about the server"),
            )
        )]
        struct ApiDoc;

        /// The handler documented under `operation_id` (its function name).
        fn handler(operation_id: &str, filter: MethodFilter) -> Option<MethodRouter<AppState>> {
            $(
                if operation_id == stringify!($handler) {
                    return Some(axum::routing::on(filter, routes::$module::$handler));
                }
            )*
            None
        }
    };
}

route_table! {
    tokens::obtain_pair,
    tokens::refresh,
    tokens::verify,
    tokens::blacklist,
    tokens::obtain_sliding,
    tokens::refresh_sliding,
    account::logout,
    account::logout_all,
    account::list_sessions,
    account::revoke_session,
    account::register,
    account::change_password,
    account::me,
    account::whoami,
    staff::staff_search_users,
    staff::staff_get_user,
    staff::staff_user_sessions,
    staff::staff_get_session,
    staff::staff_revoke_session,
    staff::staff_logout_user,
    staff::staff_lock_user,
    staff::staff_unlock_user,
    staff::staff_deactivate_user,
    staff::staff_reactivate_user,
    staff::staff_set_password,
    staff::staff_set_staff,
    staff::staff_audit,
    oauth::revoke,
    oauth::introspect,
    meta::jwks,
    meta::capabilities,
    meta::schema,
    meta::hello,
}

/// The OpenAPI 3.1 document served at `api/schema/`.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as JSON, rendered once.
pub fn openapi_json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| match openapi().to_json() {
        Ok(json) => json,
        Err(e) => {
            tracing::error!(error = %e, "cannot render the OpenAPI document");
            "{}".to_string()
        }
    })
    .clone()
}

/// One documented operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// As in the document (`/api/staff/users/{id}/`).
    pub path: String,
    /// The HTTP method.
    pub method: Method,
    /// The handler's name, the document's `operationId`.
    pub operation_id: String,
}

fn operations(item: &PathItem) -> Vec<(Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

/// Every documented operation, in path order.
pub fn documented_routes() -> Vec<Route> {
    let doc = openapi();
    let mut routes = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in operations(item) {
            routes.push(Route {
                path: path.clone(),
                method,
                operation_id: op.operation_id.clone().unwrap_or_default(),
            });
        }
    }
    routes.sort();
    routes
}

fn method_filter(method: &Method) -> Option<MethodFilter> {
    Some(match *method {
        Method::GET => MethodFilter::GET,
        Method::PUT => MethodFilter::PUT,
        Method::POST => MethodFilter::POST,
        Method::DELETE => MethodFilter::DELETE,
        Method::OPTIONS => MethodFilter::OPTIONS,
        Method::HEAD => MethodFilter::HEAD,
        Method::PATCH => MethodFilter::PATCH,
        Method::TRACE => MethodFilter::TRACE,
        _ => return None,
    })
}

/// The routed operations: every documented one that has a handler (all of
/// them; a test holds the two lists equal).
pub(crate) fn routed() -> Vec<(Route, MethodRouter<AppState>)> {
    let mut out = Vec::new();
    for route in documented_routes() {
        let found = method_filter(&route.method).and_then(|f| handler(&route.operation_id, f));
        match found {
            Some(h) => out.push((route, h)),
            None => tracing::error!(
                operation_id = %route.operation_id,
                path = %route.path,
                "documented operation has no handler"
            ),
        }
    }
    out
}

/// The router without state or middleware: one entry per path, each with
/// DRF's 405 for other methods, and DRF's 404 for unknown paths.
pub(crate) fn routes() -> Router<AppState> {
    let mut by_path: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    for (route, h) in routed() {
        let merged = match by_path.remove(&route.path) {
            Some(prev) => prev.merge(h),
            None => h,
        };
        by_path.insert(route.path, merged);
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(&path, methods.fallback(routes::method_not_allowed));
    }
    router.fallback(routes::not_found)
}
