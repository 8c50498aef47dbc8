//! The error bodies: DRF's and SimpleJWT's shapes, and Warden's few own
//! (lockout, server errors, RFC 6749 errors).

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::Reason;

/// The error body SimpleJWT and DRF send: `detail`, and `code` when there is one.
///
/// `messages` is SimpleJWT's list on a protected route's refusal. Warden adds
/// `reason` (a stable machine-readable cause such as `expired` or
/// `reuse_detected`, see [`Reason`]) so its clients can say *why*; SimpleJWT
/// clients ignore unknown keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// The description api/schema/ has always served, word for word (see SessionInfo).
#[cfg_attr(
    feature = "openapi",
    schema(description = "DRF/SimpleJWT error body; the shape of `warden_proto::ErrorBody`.")
)]
pub struct ErrorBody {
    /// What went wrong, in words.
    pub detail: String,
    /// A stable name for the refusal (`token_not_valid`, `user_inactive`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// SimpleJWT's per-token messages on a protected route's refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<TokenMessage>>,
    /// Warden: a stable machine-readable cause (`expired`, `reuse_detected`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reason: Option<Reason>,
}

impl ErrorBody {
    /// `{"detail": ...}`, DRF's plain refusal.
    pub fn detail(detail: impl Into<String>) -> Self {
        ErrorBody {
            detail: detail.into(),
            code: None,
            messages: None,
            reason: None,
        }
    }

    /// `{"detail": ..., "code": ...}`.
    pub fn coded(detail: impl Into<String>, code: &str) -> Self {
        ErrorBody {
            code: Some(code.to_string()),
            ..ErrorBody::detail(detail)
        }
    }
}

/// SimpleJWT's `messages[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenMessage {
    /// SimpleJWT's class name (`AccessToken`).
    pub token_class: String,
    /// The `token_type` claim (`access`).
    pub token_type: String,
    /// Why the token was refused (`Token is expired`).
    pub message: String,
}

/// 429 after too many failed logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockedOutBody {
    /// What went wrong, in words.
    pub detail: String,
    /// `locked_out`.
    pub code: String,
    /// Seconds; also in `Retry-After`.
    pub retry_after: i64,
}

/// 500 and 503: nothing internal, only an id to find the log line by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerErrorBody {
    /// A fixed message: nothing internal.
    pub detail: String,
    /// The request's id, as in the `X-Request-Id` header and the server's log.
    pub request_id: String,
}

/// 400 for a body that is not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonFieldErrors {
    /// The messages.
    pub non_field_errors: Vec<String>,
}

/// RFC 6749 §5.2 error (`invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthError {
    /// The RFC 6749 error code.
    pub error: String,
}

/// DRF's field errors: `{"field": ["message", ...], ...}` in declaration order.
///
/// Written by the server only: it builds one while reading a request, field
/// by field. (`warden-client` reads a 400 more leniently, into a map.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, Vec<String>)>);

impl FieldErrors {
    /// One message for one field.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::default();
        e.add(field, message);
        e
    }

    /// Adds a message to `field`, after any it already has.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field.to_string(), vec![message])),
        }
    }

    /// No field is in error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Renames a field (the engine says `password` where a route says `new_password`).
    pub fn rename(mut self, from: &str, to: &str) -> Self {
        for (f, _) in &mut self.0 {
            if f == from {
                *f = to.to_string();
            }
        }
        self
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for FieldErrors {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        // A 400 is field errors, `non_field_errors` (a body that is JSON but
        // not an object), or `{"detail": "JSON parse error - ..."}` for a body
        // that cannot be read at all: `detail` is the one member that is a
        // string (schemathesis found the undocumented shape).
        ObjectBuilder::new()
            .description(Some(
                "DRF field errors: each field in error with its messages, e.g. \
                 {\"username\": [\"This field is required.\"]}; \
                 {\"non_field_errors\": [...]} when the body is not an object; \
                 {\"detail\": \"JSON parse error - ...\"} when it cannot be parsed",
            ))
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .additional_properties(Some(
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for FieldErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_matches_simplejwt_shape() {
        let e = ErrorBody {
            detail: "Token is invalid".into(),
            code: Some("token_not_valid".into()),
            messages: None,
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#
        );
        assert_eq!(
            serde_json::to_string(&ErrorBody::coded("Token is invalid", "token_not_valid"))
                .unwrap(),
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#
        );
        assert_eq!(
            serde_json::to_string(&ErrorBody::detail("x")).unwrap(),
            r#"{"detail":"x"}"#
        );
    }

    #[test]
    fn error_body_reason_is_its_name() {
        let e = ErrorBody {
            detail: "d".into(),
            code: Some("c".into()),
            messages: Some(vec![TokenMessage {
                token_class: "AccessToken".into(),
                token_type: "access".into(),
                message: "m".into(),
            }]),
            reason: Some(Reason::Expired),
        };
        let text = r#"{"detail":"d","code":"c","messages":[{"token_class":"AccessToken","token_type":"access","message":"m"}],"reason":"expired"}"#;
        assert_eq!(serde_json::to_string(&e).unwrap(), text);
        assert_eq!(serde_json::from_str::<ErrorBody>(text).unwrap(), e);
    }

    #[test]
    fn field_errors_keep_declaration_order() {
        let mut e = FieldErrors::default();
        e.add("username", "a");
        e.add("password", "b");
        e.add("username", "c");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"username":["a","c"],"password":["b"]}"#
        );
        assert_eq!(
            serde_json::to_string(&e.rename("password", "new_password")).unwrap(),
            r#"{"username":["a","c"],"new_password":["b"]}"#
        );
    }
}
