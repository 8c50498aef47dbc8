//! Request bodies the way DRF reads them.
//!
//! [`RawBody`] only reads the bytes (bounded by `max_body_bytes`); parsing is
//! deferred, as DRF's `request.data` is, so a route checks authentication and
//! permissions before a bad body can be reported. [`RawBody::data`] accepts
//! JSON and `application/x-www-form-urlencoded`; [`Fields`] applies DRF's
//! `CharField` (and `BooleanField`, `IntegerField`) rules and collects every
//! field error into one 400.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};
use warden_proto::FieldErrors;

use crate::AppState;
use crate::error::ApiError;

pub(crate) const REQUIRED: &str = "This field is required.";
pub(crate) const BLANK: &str = "This field may not be blank.";
pub(crate) const NULL: &str = "This field may not be null.";
pub(crate) const NOT_A_STRING: &str = "Not a valid string.";
pub(crate) const NULL_CHARACTERS: &str = "Null characters are not allowed.";
pub(crate) const NOT_A_BOOLEAN: &str = "Must be a valid boolean.";
pub(crate) const NOT_AN_INTEGER: &str = "A valid integer is required.";

/// The request body, read but not parsed.
#[derive(Debug, Clone, Default)]
pub struct RawBody {
    /// The Content-Type header as sent.
    pub content_type: Option<String>,
    /// The body, within the size limit.
    pub bytes: axum::body::Bytes,
}

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let limit = state.config.max_body_bytes;
        let bytes = read_limited(request.into_body(), limit).await?;
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

async fn read_limited(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(_) => Err(ApiError::BadRequest(
            "The request body could not be read.".into(),
        )),
    }
}

/// The body's media type without parameters, lower-cased.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Python's name for a JSON value's type, as DRF reports it.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl RawBody {
    /// Parses the body into DRF's `request.data`: an empty body is an empty
    /// object whatever its type; JSON must be an object; form values are strings.
    pub fn data(&self) -> Result<Map<String, Value>, ApiError> {
        if self.bytes.is_empty() {
            return Ok(Map::new());
        }
        let content_type = self.content_type.clone().unwrap_or_default();
        match media_type(&content_type).as_str() {
            "application/json" => {
                let value: Value = serde_json::from_slice(&self.bytes)
                    .map_err(|e| ApiError::JsonParse(e.to_string()))?;
                match value {
                    Value::Object(map) => Ok(map),
                    other => Err(ApiError::NonField(format!(
                        "Invalid data. Expected a dictionary, but got {}.",
                        python_type(&other)
                    ))),
                }
            }
            "application/x-www-form-urlencoded" => {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&self.bytes)
                    .map_err(|_| ApiError::BadRequest("Form data could not be parsed.".into()))?;
                // Django's QueryDict: the last value of a repeated key wins.
                let mut map = Map::new();
                for (k, v) in pairs {
                    map.insert(k, Value::String(v));
                }
                Ok(map)
            }
            _ => Err(ApiError::UnsupportedMediaType(content_type)),
        }
    }
}

/// Reads fields with DRF's rules, collecting every error; [`Fields::finish`]
/// turns them into one 400. A field in error reads as empty: callers only use
/// the values after `finish` succeeded.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    data: &'a Map<String, Value>,
    errors: FieldErrors,
}

/// A CharField value before trimming, or the error it gets.
fn char_value(v: &Value) -> Result<String, &'static str> {
    match v {
        Value::Null => Err(NULL),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(NOT_A_STRING),
    }
}

impl<'a> Fields<'a> {
    pub(crate) fn new(data: &'a Map<String, Value>) -> Self {
        Fields {
            data,
            errors: FieldErrors::default(),
        }
    }

    fn fail(&mut self, field: &str, message: &str) {
        self.errors.add(field, message);
    }

    /// A required CharField, trimmed (`trim_whitespace=True`).
    pub(crate) fn text(&mut self, name: &str) -> String {
        self.char_field(name, true, true).unwrap_or_default()
    }

    /// A required password: blank-checked on its trimmed form, returned as sent.
    pub(crate) fn password(&mut self, name: &str) -> String {
        self.char_field(name, true, false).unwrap_or_default()
    }

    /// An optional CharField (`required=False, allow_blank=True`): `None` when
    /// absent or blank.
    pub(crate) fn optional_text(&mut self, name: &str) -> Option<String> {
        self.char_field(name, false, true).filter(|s| !s.is_empty())
    }

    fn char_field(&mut self, name: &str, required: bool, trim: bool) -> Option<String> {
        let Some(value) = self.data.get(name) else {
            if required {
                self.fail(name, REQUIRED);
            }
            return None;
        };
        let raw = match char_value(value) {
            Ok(s) => s,
            Err(message) => {
                self.fail(name, message);
                return None;
            }
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            if required {
                self.fail(name, BLANK);
                return None;
            }
            return Some(String::new());
        }
        if raw.contains('\0') {
            self.fail(name, NULL_CHARACTERS);
            return None;
        }
        Some(if trim { trimmed.to_string() } else { raw })
    }

    /// A required BooleanField.
    pub(crate) fn boolean(&mut self, name: &str) -> bool {
        match self.data.get(name) {
            None => {
                self.fail(name, REQUIRED);
                false
            }
            Some(Value::Null) => {
                self.fail(name, NULL);
                false
            }
            Some(v) => match parse_bool_value(v) {
                Some(b) => b,
                None => {
                    self.fail(name, NOT_A_BOOLEAN);
                    false
                }
            },
        }
    }

    /// An optional IntegerField (`null` and blank read as absent).
    pub(crate) fn optional_integer(&mut self, name: &str) -> Option<i64> {
        let value = self.data.get(name)?;
        let parsed = match value {
            Value::Null => return None,
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) if s.trim().is_empty() => return None,
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.fail(name, NOT_AN_INTEGER);
        }
        parsed
    }

    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self.errors))
        }
    }
}

/// DRF's `BooleanField` spellings.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let f = n.as_f64()?;
            if f == 1.0 {
                Some(true)
            } else if f == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(content_type: Option<&str>, bytes: &str) -> RawBody {
        RawBody {
            content_type: content_type.map(str::to_string),
            bytes: axum::body::Bytes::from(bytes.to_string()),
        }
    }

    fn errors(e: ApiError) -> Value {
        match e {
            ApiError::Fields(f) => serde_json::to_value(&f).unwrap(),
            other => panic!("not field errors: {other:?}"),
        }
    }

    #[test]
    fn json_and_form_bodies_parse_to_the_same_data() {
        let j = body(
            Some("application/json; charset=utf-8"),
            r#"{"a":"1","b":2}"#,
        )
        .data()
        .unwrap();
        assert_eq!(j.get("a"), Some(&json!("1")));
        let f = body(
            Some("application/x-www-form-urlencoded"),
            "a=1&b=x+y&b=z%21",
        )
        .data()
        .unwrap();
        assert_eq!(f.get("a"), Some(&json!("1")));
        assert_eq!(f.get("b"), Some(&json!("z!")));
    }

    #[test]
    fn empty_bodies_are_empty_objects_whatever_the_type() {
        assert!(body(None, "").data().unwrap().is_empty());
        assert!(body(Some("text/plain"), "").data().unwrap().is_empty());
    }

    #[test]
    fn other_media_types_are_refused_with_the_type_as_sent() {
        match body(Some("text/plain; charset=UTF-8"), "x").data() {
            Err(ApiError::UnsupportedMediaType(t)) => assert_eq!(t, "text/plain; charset=UTF-8"),
            other => panic!("{other:?}"),
        }
        match body(None, "x").data() {
            Err(ApiError::UnsupportedMediaType(t)) => assert_eq!(t, ""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_objects_name_their_python_type() {
        for (text, name) in [
            ("[1]", "list"),
            ("\"x\"", "str"),
            ("1", "int"),
            ("1.5", "float"),
            ("true", "bool"),
            ("null", "NoneType"),
        ] {
            match body(Some("application/json"), text).data() {
                Err(ApiError::NonField(m)) => assert_eq!(
                    m,
                    format!("Invalid data. Expected a dictionary, but got {name}.")
                ),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            body(Some("application/json"), "{").data(),
            Err(ApiError::JsonParse(_))
        ));
    }

    #[test]
    fn char_fields_follow_drf() {
        let data = json!({
            "blank": "  ", "null": null, "num": 12, "float": 1.5, "bool": true,
            "list": [], "obj": {}, "ok": "  x ", "nul": "a\u{0}b",
        });
        let data = data.as_object().unwrap();
        let mut f = Fields::new(data);
        assert_eq!(f.text("ok"), "x");
        assert_eq!(f.text("num"), "12");
        assert_eq!(f.text("float"), "1.5");
        f.text("missing");
        f.text("blank");
        f.text("null");
        f.text("bool");
        f.text("list");
        f.text("obj");
        f.text("nul");
        assert_eq!(
            errors(f.finish().unwrap_err()),
            json!({
                "missing": [REQUIRED], "blank": [BLANK], "null": [NULL],
                "bool": [NOT_A_STRING], "list": [NOT_A_STRING], "obj": [NOT_A_STRING],
                "nul": [NULL_CHARACTERS],
            })
        );
    }

    #[test]
    fn passwords_keep_their_spaces_and_optionals_may_be_blank() {
        let data = json!({"p": " secret ", "o": "", "n": null});
        let data = data.as_object().unwrap();
        let mut f = Fields::new(data);
        assert_eq!(f.password("p"), " secret ");
        assert_eq!(f.optional_text("o"), None);
        assert_eq!(f.optional_text("absent"), None);
        f.optional_text("n");
        assert_eq!(errors(f.finish().unwrap_err()), json!({"n": [NULL]}));
    }

    #[test]
    fn booleans_and_integers() {
        let data = json!({"a": "yes", "b": 0, "c": "maybe", "i": "42", "j": "x", "k": 7});
        let data = data.as_object().unwrap();
        let mut f = Fields::new(data);
        assert!(f.boolean("a"));
        assert!(!f.boolean("b"));
        f.boolean("c");
        f.boolean("d");
        assert_eq!(f.optional_integer("i"), Some(42));
        assert_eq!(f.optional_integer("k"), Some(7));
        assert_eq!(f.optional_integer("none"), None);
        f.optional_integer("j");
        assert_eq!(
            errors(f.finish().unwrap_err()),
            json!({"c": [NOT_A_BOOLEAN], "d": [REQUIRED], "j": [NOT_AN_INTEGER]})
        );
    }
}
