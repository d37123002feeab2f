//! SCIM responses: `application/scim+json` bodies, the RFC 7644 §3.12 `Error` body (with
//! `scimType` where the RFC names one), and the mapping of `access` refusals to SCIM statuses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::access::AccessError;
use crate::model::ProvisionError;

/// The media type of every SCIM answer.
pub(crate) const SCIM_JSON: &str = "application/scim+json; charset=utf-8";
pub(crate) const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: the HTTP status, the RFC 7644 `scimType` (if any) and one sentence saying
/// what to fix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 `invalidFilter`: the filter does not parse or cannot be applied.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    /// 400 `invalidValue`: a parameter or body value is unusable.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    /// 400 `invalidSyntax`: the request body is not the JSON the endpoint expects.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    /// 400 `invalidPath`: a PATCH path that does not parse or names nothing writable.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    /// 404 for an unknown (or hidden) resource.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("no {kind} with id \"{id}\" in this mirror (ids are case-sensitive)"),
        )
    }

    /// The `Error` body as JSON.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(o)) = (self.scim_type, body.as_object_mut()) {
            o.insert("scimType".into(), Value::String(t.into()));
        }
        body
    }

    pub fn into_response(self) -> Response {
        scim_response(self.status, &self.body())
    }
}

impl From<AccessError> for ScimError {
    /// A refusal by the rules is 403; too much work is 400 `tooMany` (RFC 7644 §3.4.2.2: "the
    /// specified filter yields many more results than the server is willing to process");
    /// store and search failures are 500.
    fn from(e: AccessError) -> ScimError {
        if e.is_forbidden() {
            ScimError::new(StatusCode::FORBIDDEN, None, e.message())
        } else if e.is_too_costly() {
            ScimError::new(StatusCode::BAD_REQUEST, Some("tooMany"), e.message())
        } else if e.is_bad_input() {
            ScimError::invalid_value(e.message())
        } else {
            tracing::error!(error = %e.message(), "a SCIM read failed");
            ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.message())
        }
    }
}

impl From<ProvisionError> for ScimError {
    /// Unknown ids are 404, taken unique values 409 `uniqueness`, unusable values 400
    /// `invalidValue`, store failures 500.
    fn from(e: ProvisionError) -> ScimError {
        match &e {
            ProvisionError::NotFound { kind, id } => ScimError::not_found(kind, id),
            ProvisionError::Conflict(m) => {
                ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), m.clone())
            }
            ProvisionError::Invalid(m) => ScimError::invalid_value(m.clone()),
            ProvisionError::Store(_) => {
                tracing::error!(error = %e, "a SCIM write failed");
                ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string())
            }
        }
    }
}

/// Shorthand for SCIM handler results.
pub(crate) type ScimResult<T> = std::result::Result<T, ScimError>;

/// A JSON body as `application/scim+json`.
pub(crate) fn scim_response(status: StatusCode, body: &Value) -> Response {
    scim_bytes(status, json_bytes(body))
}

/// A JSON value as text (a `Value` always serialises; the fallback is unreachable).
pub(crate) fn json_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// [`scim_response`] of a body already serialised.
pub(crate) fn scim_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}
