//! GraphQL-over-HTTP media types: picks the response type from `Accept` and checks a POST body's
//! `Content-Type`. Pure functions over header strings, so they are tested without a server.

/// The response media types the server can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseType {
    /// `application/graphql-response+json`: request errors get 4xx status codes.
    GraphQLResponse,
    /// `application/json`: the legacy type; request errors still get 200 with an `errors` entry.
    Json,
}

impl ResponseType {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            ResponseType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            ResponseType::Json => "application/json; charset=utf-8",
        }
    }
}

pub(crate) const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Chooses the response type from an `Accept` header. A missing or empty header, `*/*` and
/// `application/*` mean `application/json` (what the GraphQL-over-HTTP spec asks of servers until
/// its "watershed"); `application/graphql-response+json` wins when it is listed with the highest
/// quality. `None` means nothing acceptable (answer 406).
pub(crate) fn negotiate(accept: Option<&str>) -> Option<ResponseType> {
    let accept = match accept.map(str::trim) {
        None | Some("") => return Some(ResponseType::Json),
        Some(a) => a,
    };
    let (mut q_graphql, mut q_json) = (0.0f32, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        match essence.as_str() {
            GRAPHQL_RESPONSE => q_graphql = q_graphql.max(q),
            JSON | "*/*" | "application/*" => q_json = q_json.max(q),
            _ => {}
        }
    }
    if q_graphql > 0.0 && q_graphql >= q_json {
        Some(ResponseType::GraphQLResponse)
    } else if q_json > 0.0 {
        Some(ResponseType::Json)
    } else {
        None
    }
}

/// True when the `Accept` header asks for HTML (a browser page load).
pub(crate) fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// Why a POST body's media type is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyTypeError {
    Missing,
    Unsupported(String),
}

impl std::fmt::Display for BodyTypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyTypeError::Missing => write!(
                f,
                "the request has no Content-Type; send the GraphQL request as application/json"
            ),
            BodyTypeError::Unsupported(t) => write!(
                f,
                "unsupported Content-Type {t:?}; send the GraphQL request as application/json (UTF-8)"
            ),
        }
    }
}

/// Accepts `application/json` (optionally with `charset=utf-8`) as a POST body type.
pub(crate) fn check_body_type(content_type: Option<&str>) -> Result<(), BodyTypeError> {
    let ct = content_type
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(BodyTypeError::Missing)?;
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, v)| {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        });
    if essence == JSON && charset_ok {
        Ok(())
    } else {
        Err(BodyTypeError::Unsupported(ct.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_spec() {
        use ResponseType::*;
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(negotiate(Some(GRAPHQL_RESPONSE)), Some(GraphQLResponse));
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphQLResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }

    #[test]
    fn body_types() {
        assert!(check_body_type(Some("application/json")).is_ok());
        assert!(check_body_type(Some("Application/JSON; charset=UTF-8")).is_ok());
        assert_eq!(check_body_type(None), Err(BodyTypeError::Missing));
        assert!(check_body_type(Some("text/plain")).is_err());
        assert!(check_body_type(Some("application/json; charset=latin1")).is_err());
    }
}
