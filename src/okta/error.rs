//! Okta failures, each phrased as one sentence that says what went wrong and what to fix.
//! Branches only on `errorCode` (Okta may reword `errorSummary`), never shows a token.

use serde::Deserialize;

/// A failed call to Okta, sorted by what the operator must do about it.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    /// DNS lookup of the configured Okta domain failed, usually a typo in `--okta-url`.
    #[error(
        "the Okta domain {host} does not resolve: check --okta-url for a typo (it is your org domain, like https://example.okta.com)"
    )]
    UnknownHost {
        /// The host name taken from `--okta-url`.
        host: String,
    },
    /// The connection could not be opened or was cut (refused, reset, no route).
    #[error(
        "cannot reach Okta at {url}: {detail}. Check --okta-url and that this machine can reach it"
    )]
    Unreachable {
        /// The full request URL that was tried.
        url: String,
        /// The transport error text from the HTTP client.
        detail: String,
    },
    /// Okta sent no complete answer before the request timeout ran out.
    #[error(
        "Okta did not answer {path} within {secs} s; it may be overloaded or the network is slow. The next sync will retry"
    )]
    Timeout {
        /// The API path requested, without the host.
        path: String,
        /// The timeout that expired, in seconds.
        secs: u64,
    },
    /// Okta answered 401 `E0000011` to an SSWS API token: invalid, expired or revoked.
    #[error(
        "Okta rejected the API token (E0000011 {summary}): it is invalid, expired (tokens unused for 30 days expire) or revoked. Create a new token in the Okta Admin Console under Security > API > Tokens and set OKTA_API_TOKEN or --okta-token-file"
    )]
    TokenRejected {
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// Okta answered 403 `E0000006` to an SSWS token: its admin lacks a role covering the call.
    #[error(
        "Okta refused {path} (E0000006 {summary}): the admin who owns the API token lacks permission. Use a token created by an admin with at least the Read-Only Administrator role"
    )]
    Forbidden {
        /// The API path refused.
        path: String,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// Okta answered 403 `E0000006` under OAuth: the service app has no admin role covering it.
    #[error(
        "Okta refused {path} (E0000006 {summary}): the service app has no admin role that covers it. In the Okta Admin Console open the app's Admin roles tab and assign it the Read-Only Administrator role"
    )]
    ForbiddenApp {
        /// The API path refused.
        path: String,
        /// Okta's `errorSummary`.
        summary: String,
    },
    /// Okta rejected an OAuth access token (`invalid_token` or 401) even after a fresh one was minted.
    #[error(
        "Okta rejected the OAuth access token for {path} ({detail}) even after minting a new one: check that this machine's clock is right and that the service app is active"
    )]
    AccessTokenRejected {
        /// The API path refused.
        path: String,
        /// The challenge's `error_description` or Okta's `errorSummary`.
        detail: String,
    },
    /// The `WWW-Authenticate` challenge said `insufficient_scope`: the app lacks a granted scope.
    #[error(
        "Okta refused {path} because the access token lacks the scope {scope}: grant {scope} to the service app on its Okta API Scopes tab (a Super Admin must do it) and keep it in okta_scopes"
    )]
    MissingScope {
        /// The API path refused.
        path: String,
        /// The scope Okta named in the challenge, such as `okta.users.read`.
        scope: String,
    },
    /// The token endpoint answered `invalid_client`: wrong client id, key or assertion time.
    #[error("Okta rejected the client credentials (invalid_client: {detail}): {fix}")]
    InvalidClient {
        /// Okta's `error_description`.
        detail: String,
        /// The one setting to fix, chosen from the description.
        fix: &'static str,
    },
    /// The token endpoint answered `invalid_scope`: a requested scope is not granted to the app.
    #[error(
        "Okta refused the requested scopes {scopes} (invalid_scope: {detail}): grant them to the service app on its Okta API Scopes tab, or remove the ones you do not need from okta_scopes"
    )]
    InvalidScope {
        /// The space-separated scopes that were requested.
        scopes: String,
        /// Okta's `error_description`.
        detail: String,
    },
    /// Okta answered `invalid_dpop_proof`, typically clock skew or an unusable DPoP key.
    #[error(
        "Okta rejected the DPoP proof (invalid_dpop_proof: {detail}): check that this machine's clock is right and, if okta_dpop_key_file is set, that it holds an RS256 or ES256 private key"
    )]
    InvalidDpopProof {
        /// Okta's `error_description`.
        detail: String,
    },
    /// Any other token-endpoint error not mapped to a more specific variant.
    #[error(
        "Okta's token endpoint refused the request ({error}: {detail}); check the service app's settings in the Okta Admin Console"
    )]
    OAuth {
        /// The OAuth `error` code.
        error: String,
        /// Okta's `error_description`.
        detail: String,
    },
    /// The TLS handshake failed, often a TLS-intercepting proxy whose CA is not trusted.
    #[error(
        "the TLS handshake with {url} failed ({detail}): if a proxy intercepts TLS, install its CA certificate in the system trust store; otherwise check --okta-url"
    )]
    Tls {
        /// The request URL whose handshake failed.
        url: String,
        /// The TLS error text.
        detail: String,
    },
    /// Okta kept answering 429 after the client's own waits and retries ran out.
    #[error(
        "Okta kept answering 429 (rate limit exceeded) for {path} (request id {request_id}): other integrations are using this bucket; lower rate_limit_share or raise the app's share in Reports > Rate Limits"
    )]
    RateLimited {
        /// The API path throttled.
        path: String,
        /// Okta's `X-Okta-Request-Id` of the last 429 answer.
        request_id: String,
    },
    /// Okta kept answering concurrency 429s (too many requests in flight at the org) for longer
    /// than the client's patience.
    #[error(
        "Okta refused {path} for {waited_secs} s because too many requests were in flight at the org at once (its concurrency limit, shared with every other integration; last request id {request_id}). Find the integration holding the org's concurrency (System Log event core.concurrency.org.limit.violation, Reports > Rate Limits) or lower concurrency; the next sync retries"
    )]
    ConcurrencyLimited {
        /// The API path refused.
        path: String,
        /// Okta's `X-Okta-Request-Id` of the last concurrency 429.
        request_id: String,
        /// How long the client waited it out before giving up.
        waited_secs: u64,
    },
    /// A configured private key (client assertion or DPoP) could not be read or used.
    #[error(
        "the private key in {setting} cannot be used: {detail}. Give a PEM (PKCS#8, PKCS#1 or SEC1) or JWK private key, RS256 (2048+ bits) or ES256"
    )]
    Key {
        /// The setting that names the key file, such as `okta_private_key_file`.
        setting: &'static str,
        /// Why the key was refused.
        detail: String,
    },
    /// The configured scope (`user_filter`, `user_types`, `include_groups`) cannot be used.
    #[error("{0}")]
    Scope(String),
    /// Any other non-success HTTP answer, with Okta's error body.
    #[error("Okta answered HTTP {status} {code} for {path}: {summary} (request id {request_id})")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// Okta's `errorCode`, such as `E0000047`.
        code: String,
        /// Okta's `errorSummary`.
        summary: String,
        /// The API path requested.
        path: String,
        /// Okta's `X-Okta-Request-Id`, for support tickets.
        request_id: String,
    },
    /// A success answer whose body was cut off or did not parse as the expected JSON.
    #[error(
        "Okta sent a response for {path} that is not the expected JSON ({detail}); the next sync will retry"
    )]
    Body {
        /// The API path requested.
        path: String,
        /// The read or parse error.
        detail: String,
    },
    /// A `Link: rel="next"` header pointed off the configured org, so it was not followed.
    #[error(
        "Okta's next-page link points to {link}, outside {base}; the token is not sent there. If {link} is this org's other domain (its okta.com domain behind a custom domain, or the reverse), list it in okta_url_aliases; otherwise check --okta-url"
    )]
    ForeignLink {
        /// The next-page URL Okta sent.
        link: String,
        /// The configured org URL it should have been under.
        base: String,
    },
    /// Pagination did not terminate (a repeated cursor or too many pages).
    #[error(
        "Okta's pages of {path} do not end ({detail}); stopped rather than read for ever. The next sync retries; if this repeats, report it to Okta support with this path"
    )]
    Paging {
        /// The API path being paged.
        path: String,
        /// What showed the pages do not end.
        detail: String,
    },
    /// Okta answered with a 3xx; redirects are never followed so the token stays on the org.
    #[error(
        "Okta answered {path} with a redirect (HTTP {status}) to {location}; redirects are not followed, so the token is never sent elsewhere. Check that --okta-url is the org URL itself (https://example.okta.com, not a custom or vanity domain that redirects)"
    )]
    Redirect {
        /// The API path requested.
        path: String,
        /// The 3xx status code.
        status: u16,
        /// The `Location` header value.
        location: String,
    },
    /// The HTTP client could not be built (TLS setup failed); holds the builder's error text.
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
                | OktaError::ForbiddenApp { .. }
                | OktaError::MissingScope { .. }
                | OktaError::InvalidClient { .. }
                | OktaError::InvalidScope { .. }
                | OktaError::Tls { .. }
                | OktaError::Key { .. }
                | OktaError::Redirect { .. }
                | OktaError::ForeignLink { .. }
                | OktaError::Scope(_)
        )
    }

    /// True for failures a retry may cure: 5xx, timeouts, resets, cut-off or malformed bodies.
    pub fn is_retryable(&self) -> bool {
        match self {
            OktaError::Timeout { .. } | OktaError::Unreachable { .. } | OktaError::Body { .. } => {
                true
            }
            OktaError::Status { status, .. } => *status >= 500,
            _ => false,
        }
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
    /// Okta's `errorCauses[].errorSummary`: the reason behind a 400 (a bad search, say).
    #[serde(default)]
    pub error_causes: Vec<ErrorCause>,
}

/// One of Okta's `errorCauses`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCause {
    #[serde(default)]
    pub error_summary: String,
}

/// A parsed `WWW-Authenticate` challenge: the scheme (`Bearer`, `DPoP`) and its parameters.
#[derive(Debug, Default, PartialEq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses `Scheme k="v", k2=v2` (quoted values may hold commas and spaces).
    pub fn parse(header: &str) -> Challenge {
        let header = header.trim();
        let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            let Some((k, after)) = rest.split_once('=') else {
                break;
            };
            let (v, tail) = match after.strip_prefix('"') {
                Some(q) => match q.find('"') {
                    Some(end) => (&q[..end], &q[end + 1..]),
                    None => (q, ""),
                },
                None => after.split_once(',').unwrap_or((after, "")),
            };
            params.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            rest = tail;
        }
        Challenge {
            scheme: scheme.to_owned(),
            params,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Maps a failed resource call, reading `WWW-Authenticate` first (a missing scope comes with an
/// empty body) and then the Okta error body. `oauth` tells app credentials from an SSWS token.
pub fn from_response(
    status: u16,
    challenge: Option<&Challenge>,
    body: &[u8],
    path: &str,
    request_id: &str,
    oauth: bool,
) -> OktaError {
    if let Some(c) = challenge {
        let detail = c.get("error_description").unwrap_or("").to_owned();
        match c.get("error") {
            Some("insufficient_scope") => {
                return OktaError::MissingScope {
                    path: path.to_owned(),
                    scope: c.get("scope").unwrap_or("(not named)").to_owned(),
                };
            }
            Some("invalid_dpop_proof") => return OktaError::InvalidDpopProof { detail },
            Some("invalid_token") if oauth => {
                return OktaError::AccessTokenRejected {
                    path: path.to_owned(),
                    detail,
                };
            }
            _ => {}
        }
    }
    match from_status(status, body, path, request_id) {
        OktaError::Forbidden { path, summary } if oauth => {
            OktaError::ForbiddenApp { path, summary }
        }
        OktaError::TokenRejected { summary } if oauth => OktaError::AccessTokenRejected {
            path: path.to_owned(),
            detail: summary,
        },
        other => other,
    }
}

/// The OAuth error body of `/oauth2/v1/token`.
#[derive(Debug, Default, Deserialize)]
pub struct OAuthErrorBody {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// Maps a token-endpoint error to the one thing to fix. Okta's descriptions tell a wrong client
/// id from a wrong key, so the fix is chosen from them.
pub fn from_oauth(status: u16, body: &OAuthErrorBody, scopes: &str) -> OktaError {
    let detail = body.error_description.clone();
    let d = detail.to_ascii_lowercase();
    match body.error.as_str() {
        "invalid_client" => OktaError::InvalidClient {
            fix: if d.contains("client_id") || d.contains("client id") {
                "okta_client_id does not name a service app in this org; copy the Client ID (0oa…) from the app's General tab"
            } else if d.contains("signature") || d.contains("key") {
                "the private key does not match a public key registered on the service app; add its public key under the app's Client Credentials > Public keys, or point okta_private_key_file at the registered key (set okta_key_id if the app has several keys)"
            } else if d.contains("exp") || d.contains("iat") || d.contains("expired") {
                "the client assertion's time is off; check that this machine's clock is right"
            } else {
                "check okta_client_id and that okta_private_key_file holds the key registered on the service app"
            },
            detail,
        },
        "invalid_scope" => OktaError::InvalidScope {
            scopes: scopes.to_owned(),
            detail,
        },
        "invalid_dpop_proof" => OktaError::InvalidDpopProof { detail },
        "" => OktaError::OAuth {
            error: format!("HTTP {status}"),
            detail: "no OAuth error in the response".into(),
        },
        other => OktaError::OAuth {
            error: other.to_owned(),
            detail,
        },
    }
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
            } else if b.error_causes.iter().any(|c| !c.error_summary.is_empty()) {
                let causes: Vec<&str> = b
                    .error_causes
                    .iter()
                    .map(|c| c.error_summary.as_str())
                    .filter(|c| !c.is_empty())
                    .collect();
                format!("{} {}", b.error_summary, causes.join("; "))
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
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return OktaError::Tls {
            url: format!("{}://{}", url.scheme(), url.authority()),
            detail: chain.trim_end_matches(": ").to_owned(),
        };
    }
    let detail = if lower.contains("connection refused") {
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

    #[test]
    fn missing_scope_is_read_from_www_authenticate() {
        let c = Challenge::parse(
            r#"Bearer authorization_uri="http://o/oauth2/v1/authorize", realm="http://o", scope="okta.groups.read", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="/api/v1/groups""#,
        );
        assert_eq!(c.scheme, "Bearer");
        let e = from_response(403, Some(&c), b"", "/api/v1/groups", "r", true);
        assert!(e.to_string().contains("grant okta.groups.read"), "{e}");
        let c = Challenge::parse(r#"DPoP error="use_dpop_nonce", error_description="x""#);
        assert_eq!(c.get("error"), Some("use_dpop_nonce"));
    }

    #[test]
    fn oauth_errors_name_the_fix() {
        let b = |d: &str| OAuthErrorBody {
            error: "invalid_client".into(),
            error_description: d.into(),
        };
        let e = from_oauth(401, &b("Invalid value for 'client_id' parameter."), "s");
        assert!(e.to_string().contains("copy the Client ID"), "{e}");
        let e = from_oauth(401, &b("The client_assertion signature is invalid."), "s");
        assert!(e.to_string().contains("Public keys"), "{e}");
        let e = from_response(
            403,
            None,
            br#"{"errorCode":"E0000006","errorSummary":"no"}"#,
            "/api/v1/users",
            "r",
            true,
        );
        assert!(e.to_string().contains("Admin roles"), "{e}");
    }
}
