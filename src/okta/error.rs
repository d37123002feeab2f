//! Okta failures, each phrased as one sentence that says what went wrong and what to fix.
//! Branches only on `errorCode` (Okta may reword `errorSummary`), never shows a token.

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error(
        "the Okta domain {host} does not resolve: check --okta-url for a typo (it is your org domain, like https://example.okta.com)"
    )]
    UnknownHost { host: String },
    #[error(
        "cannot reach Okta at {url}: {detail}. Check --okta-url and that this machine can reach it"
    )]
    Unreachable { url: String, detail: String },
    #[error(
        "Okta did not answer {path} within {secs} s; it may be overloaded or the network is slow. The next sync will retry"
    )]
    Timeout { path: String, secs: u64 },
    #[error(
        "Okta rejected the API token (E0000011 {summary}): it is invalid, expired (tokens unused for 30 days expire) or revoked. Create a new token in the Okta Admin Console under Security > API > Tokens and set OKTA_API_TOKEN or --okta-token-file"
    )]
    TokenRejected { summary: String },
    #[error(
        "Okta refused {path} (E0000006 {summary}): the admin who owns the API token lacks permission. Use a token created by an admin with at least the Read-Only Administrator role"
    )]
    Forbidden { path: String, summary: String },
    #[error("Okta answered HTTP {status} {code} for {path}: {summary} (request id {request_id})")]
    Status {
        status: u16,
        code: String,
        summary: String,
        path: String,
        request_id: String,
    },
    #[error(
        "Okta sent a response for {path} that is not the expected JSON ({detail}); the next sync will retry"
    )]
    Body { path: String, detail: String },
    #[error(
        "Okta's next-page link points to {link}, outside {base}; refusing to send the token there"
    )]
    ForeignLink { link: String, base: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl OktaError {
    /// True when retrying later cannot help: the configuration must change.
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            OktaError::UnknownHost { .. }
                | OktaError::TokenRejected { .. }
                | OktaError::Forbidden { .. }
        )
    }
}

/// Okta's error body. Every field but `errorCode` is optional (System Log errors omit some).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_summary: String,
}

/// Maps a non-success response to an error.
pub fn from_status(status: u16, body: &[u8], path: &str, request_id: &str) -> OktaError {
    let b: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    match b.error_code.as_str() {
        "E0000011" => OktaError::TokenRejected {
            summary: b.error_summary,
        },
        "E0000006" => OktaError::Forbidden {
            path: path.to_owned(),
            summary: b.error_summary,
        },
        _ => OktaError::Status {
            status,
            code: if b.error_code.is_empty() {
                "(no error code)".into()
            } else {
                b.error_code
            },
            summary: if b.error_summary.is_empty() {
                String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
            } else {
                b.error_summary
            },
            path: path.to_owned(),
            request_id: if request_id.is_empty() {
                "none".into()
            } else {
                request_id.to_owned()
            },
        },
    }
}

/// Maps a transport failure to an error, telling DNS failures apart from other connect errors.
pub fn from_transport(e: &reqwest::Error, url: &url::Url, timeout_secs: u64) -> OktaError {
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        chain.push_str(&s.to_string());
        chain.push_str(": ");
        src = s.source();
    }
    let lower = chain.to_lowercase();
    let host = url.host_str().unwrap_or("").to_owned();
    if e.is_timeout() {
        return OktaError::Timeout {
            path: url.path().to_owned(),
            secs: timeout_secs,
        };
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        return OktaError::UnknownHost { host };
    }
    let detail = if lower.contains("certificate") || lower.contains("tls") {
        "the TLS handshake failed (a proxy intercepting TLS, or a wrong host?)".to_owned()
    } else if lower.contains("connection refused") {
        "connection refused".to_owned()
    } else {
        chain.trim_end_matches(": ").to_owned()
    };
    OktaError::Unreachable {
        url: format!("{}://{}", url.scheme(), url.authority()),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes_to_actionable_errors() {
        let e = from_status(
            401,
            br#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#,
            "/api/v1/users",
            "r1",
        );
        assert!(e.to_string().contains("expired") && e.is_config_error());
        let e = from_status(500, b"oops", "/api/v1/users", "r2");
        assert!(e.to_string().contains("HTTP 500") && e.to_string().contains("r2"));
        assert!(!e.is_config_error());
    }
}
