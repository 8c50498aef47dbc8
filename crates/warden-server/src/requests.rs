//! How the server reads each request body of `warden_proto`.
//!
//! Not with serde: a body is DRF's `request.data` read field by field with
//! [`Fields`] (a number is a valid username, a blank one is an error, every
//! field error is reported at once), so the order of the field errors is the
//! order of the reads below. The RFC 7009 body is read in
//! [`crate::routes::oauth`], with that route's stricter rules.

use serde_json::{Map, Value};
use warden_proto::{
    ChangePasswordRequest, LockRequest, ObtainRequest, ReasonRequest, RefreshRequest,
    RegisterRequest, SetPasswordRequest, SetStaffRequest, TokenRequest,
};

use crate::body::Fields;
use crate::error::ApiError;

/// A request body read from DRF's `request.data`.
pub trait ReadBody: Sized {
    /// The request from the body's fields; field errors as DRF words them.
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError>;
}

impl ReadBody for ObtainRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ObtainRequest {
            username: f.text("username"),
            password: f.password("password"),
            device_label: f.optional_text("device_label"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for RefreshRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = RefreshRequest {
            refresh: f.text("refresh"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for TokenRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = TokenRequest {
            token: f.text("token"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for RegisterRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = RegisterRequest {
            username: f.text("username"),
            password: f.password("password"),
            email: f.optional_text("email"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for ChangePasswordRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ChangePasswordRequest {
            old_password: f.password("old_password"),
            new_password: f.password("new_password"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for ReasonRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = ReasonRequest {
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for LockRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = LockRequest {
            reason: f.text("reason"),
            until: f.optional_integer("until"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for SetPasswordRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = SetPasswordRequest {
            password: f.password("password"),
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}

impl ReadBody for SetStaffRequest {
    fn read(data: &Map<String, Value>) -> Result<Self, ApiError> {
        let mut f = Fields::new(data);
        let r = SetStaffRequest {
            is_staff: f.boolean("is_staff"),
            reason: f.text("reason"),
        };
        f.finish()?;
        Ok(r)
    }
}
