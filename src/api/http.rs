//! The `/graphql` endpoint per GraphQL-over-HTTP: GET (queries only, or GraphiQL for browsers) and
//! POST application/json, content negotiation, and status codes for request errors. Every request
//! passes the bounds of `limits` before its document is parsed or run, and runs under a time
//! limit.
//!
//! Status codes for the bounds: a body over `MAX_BODY_BYTES` gets 413 whatever the media type;
//! the other refusals (query text, nesting, variables, aliases, root fields, fields) are request
//! errors like a syntax error: 400 for `application/graphql-response+json`, 200 for
//! `application/json`, with `extensions.code = "LIMIT_EXCEEDED"`. A request that runs out of
//! time answers `{"errors": [{"extensions": {"code": "TIMEOUT"}, ...}]}` without `data`: 503 for
//! `application/graphql-response+json` (the server, not the request, failed, so 4xx would be
//! wrong and 200 would claim a GraphQL result), 200 for `application/json`, as that media type
//! asks for every well-formed GraphQL response.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, Variables};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Shared;
use super::assets;
use super::graphql;
use super::limits::{self, Deadline, LimitError};
use super::media::{self, ResponseType};
use crate::access::Caller;

/// Most documents kept parsed; when full the cache starts over (clients send a handful of
/// distinct documents with changing variables, so it refills at once).
const CACHED_DOCUMENTS: usize = 256;
/// Longer documents are parsed every time rather than kept.
const CACHED_DOCUMENT_CHARS: usize = 8 * 1024;

/// A parsed document and whether it passes `limits::check_document` (measured once, cached with
/// it).
#[derive(Clone)]
pub(crate) struct Parsed {
    pub(crate) doc: ExecutableDocument,
    pub(crate) verdict: Result<(), LimitError>,
}

/// Parsed GraphQL documents by their text. Parsing (a pest grammar) cost more than anything else
/// in a `person(login:)` request: about 120,000 of 275,000 instructions, and 60,000 in a search.
/// Validation still runs per request: it depends on the variables.
#[derive(Default)]
pub(crate) struct Documents(RwLock<HashMap<String, Parsed>>);

impl Documents {
    /// The parsed `query`, from the cache or parsed now; `None` when it does not parse (the
    /// executor parses it again and reports the syntax error as usual). Callers check the text
    /// with `limits::check_text` first.
    pub(crate) fn get(&self, query: &str) -> Option<Parsed> {
        let cached = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(query)
            .cloned();
        if cached.is_some() {
            return cached;
        }
        let doc = async_graphql::parser::parse_query(query).ok()?;
        let parsed = Parsed {
            verdict: limits::check_document(&doc),
            doc,
        };
        if query.len() <= CACHED_DOCUMENT_CHARS {
            let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
            if map.len() >= CACHED_DOCUMENTS {
                map.clear();
            }
            map.insert(query.to_owned(), parsed.clone());
        }
        Some(parsed)
    }
}

/// The parameters of one GraphQL request, after validation.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

pub(crate) async fn graphql_get(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let accept = header_str(&headers, header::ACCEPT);
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let has_query = pairs.iter().any(|(k, _)| k == "query");
    if !has_query && (accept.is_none() || media::wants_html(accept)) {
        // Our own page over embedded files: it loads nothing from another origin.
        return Html(assets::GRAPHIQL_PAGE).into_response();
    }
    let Some(rt) = media::negotiate(accept) else {
        return not_acceptable();
    };
    // The access layer lets a keyless GET through only for the page above; anything else
    // without a caller is refused here too, however its query string was spelled.
    let Some(Extension(caller)) = caller else {
        let mut resp = error_body(
            rt,
            StatusCode::UNAUTHORIZED,
            "this mirror needs an API key: send the header `Authorization: Bearer KEY`",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    let params = match params_from_pairs(&pairs) {
        Ok(p) => p,
        Err(msg) => return request_error(rt, StatusCode::BAD_REQUEST, &msg),
    };
    if let Err(e) = limits::check_text(&params.query, params.variables.as_ref()) {
        return limit_error(rt, &e);
    }
    if is_mutation(&shared.documents, &params) {
        let mut resp = request_error(
            rt,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are not allowed over GET; use POST",
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&shared, caller, rt, params).await
}

pub(crate) async fn graphql_post(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(rt) = media::negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    // The router caps the body at `MAX_BODY_BYTES` (axum's `DefaultBodyLimit`), and refuses a
    // larger Content-Length before reading it.
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return errors_response(
                rt,
                StatusCode::PAYLOAD_TOO_LARGE,
                &[limits::coded(
                    &format!(
                        "the request body is larger than {} KiB: send a shorter query and fewer variables",
                        limits::MAX_BODY_BYTES / 1024
                    ),
                    limits::LIMIT_CODE,
                )],
            );
        }
        Err(e) => {
            return error_body(
                rt,
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body: {e}"),
            );
        }
    };
    if let Err(e) = media::check_body_type(header_str(&headers, header::CONTENT_TYPE)) {
        return error_body(
            ResponseType::Json,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &e.to_string(),
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return error_body(
            rt,
            StatusCode::BAD_REQUEST,
            "the request body is empty; send {\"query\": \"...\"}",
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_body(
                rt,
                StatusCode::BAD_REQUEST,
                &format!("the request body is not valid JSON: {e}"),
            );
        }
    };
    match params_from_json(value) {
        Ok(params) => match limits::check_text(&params.query, params.variables.as_ref()) {
            Ok(()) => execute(&shared, caller, rt, params).await,
            Err(e) => limit_error(rt, &e),
        },
        Err(msg) => request_error(rt, StatusCode::BAD_REQUEST, &msg),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads `query`, `operationName`, `variables` and `extensions` from a JSON request body.
fn params_from_json(value: Value) -> Result<Params, String> {
    let Value::Object(mut obj) = value else {
        return Err("the request body must be a JSON object with a \"query\" string".into());
    };
    let query = match obj.remove("query") {
        Some(Value::String(q)) => q,
        None | Some(Value::Null) => return Err("the request has no \"query\" string".into()),
        Some(_) => return Err("\"query\" must be a string".into()),
    };
    let operation_name = match obj.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("\"operationName\" must be a string or null".into()),
    };
    Ok(Params {
        query,
        operation_name,
        variables: map_param("variables", obj.remove("variables"))?,
        extensions: map_param("extensions", obj.remove("extensions"))?,
    })
}

fn map_param(name: &str, v: Option<Value>) -> Result<Option<Map<String, Value>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("\"{name}\" must be a JSON object or null")),
    }
}

/// Reads the same parameters from a GET query string (`variables`/`extensions` as JSON text).
fn params_from_pairs(pairs: &[(String, String)]) -> Result<Params, String> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let json_param = |k: &str| -> Result<Option<Map<String, Value>>, String> {
        match get(k) {
            None | Some("") => Ok(None),
            Some(text) => {
                let v: Value = serde_json::from_str(text)
                    .map_err(|e| format!("\"{k}\" is not valid JSON: {e}"))?;
                map_param(k, Some(v))
            }
        }
    };
    Ok(Params {
        query: get("query")
            .ok_or("the request has no \"query\" parameter")?
            .to_owned(),
        operation_name: get("operationName")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        variables: json_param("variables")?,
        extensions: json_param("extensions")?,
    })
}

/// True when the operation the request selects is a mutation or subscription. A document that
/// does not parse is left to the executor, which reports the syntax error.
fn is_mutation(documents: &Documents, params: &Params) -> bool {
    let Some(parsed) = documents.get(&params.query) else {
        return false;
    };
    matches!(
        operation_type(&parsed.doc, params.operation_name.as_deref()),
        Some(OperationType::Mutation | OperationType::Subscription)
    )
}

/// The type of the operation a request selects (`None`: no such operation, or several and
/// no name).
pub(crate) fn operation_type(
    doc: &ExecutableDocument,
    name: Option<&str>,
) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Runs one GraphQL request and records it in the metrics (operation, outcome, duration).
async fn execute(shared: &Shared, caller: Caller, rt: ResponseType, params: Params) -> Response {
    let started = std::time::Instant::now();
    let mut operation = None;
    let (resp, outcome) = run(shared, caller, rt, params, &mut operation).await;
    crate::metrics::global().graphql_request(operation.as_deref(), outcome, started.elapsed());
    resp
}

/// The request's answer and its outcome: `ok`, `error` (errors in the answer), `refused` (a
/// limit or a request error) or `timeout`. `operation` gets the operation's name when known.
async fn run(
    shared: &Shared,
    caller: Caller,
    rt: ResponseType,
    params: Params,
    operation: &mut Option<String>,
) -> (Response, &'static str) {
    let parsed = shared.documents.get(&params.query);
    let mut req = async_graphql::Request::new(params.query);
    if let Some(parsed) = parsed {
        if let Err(e) = parsed.verdict {
            return (limit_error(rt, &e), "refused");
        }
        // The access log and the metrics name the operation: the one asked for, or a
        // document's only one.
        if params.operation_name.is_none()
            && let DocumentOperations::Multiple(ops) = &parsed.doc.operations
            && ops.len() == 1
            && let Some(name) = ops.keys().next()
        {
            *operation = Some(name.to_string());
        }
        req.set_parsed_query(parsed.doc);
    }
    if let Some(name) = params.operation_name {
        *operation = Some(name.clone());
        req = req.operation_name(name);
    }
    if let Some(name) = operation {
        tracing::Span::current().record("operation", name.as_str());
    }
    if let Some(vars) = params.variables {
        req = req.variables(Variables::from_json(Value::Object(vars)));
    }
    if let Some(ext) = params.extensions {
        for (k, v) in ext {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                req.extensions.insert(k, v);
            }
        }
    }
    let deadline = Deadline::after(shared.request_timeout);
    let view = shared.mirror.view(caller);
    let req = graphql::for_request(req, view.clone()).data(deadline);
    // Two ways a request ends at its time limit. `timeout` drops the execution future at the
    // limit when it is waiting (on a DataLoader batch, say), which cancels every resolver it
    // holds. But most resolvers read the store or the search index synchronously, and a future
    // that never returns `Pending` cannot be interrupted from outside: for those the schema's
    // `limits::Deadlines` extension refuses to resolve any further field once the deadline has
    // passed, so the execution ends soon after. Work already handed to a blocking thread
    // (`spawn_blocking`) cannot be cancelled at all; it runs to its end and its result is dropped.
    let resp = match tokio::time::timeout(shared.request_timeout, shared.schema.execute(req)).await
    {
        Ok(resp) if !resp.errors.iter().any(is_timeout) => resp,
        _ => {
            // Scans already on a blocking thread stop at their next record.
            view.cancel();
            tracing::warn!(
                limit_ms = shared.request_timeout.as_millis() as u64,
                "a GraphQL request ran out of time and was stopped"
            );
            let status = match rt {
                ResponseType::GraphQLResponse => StatusCode::SERVICE_UNAVAILABLE,
                ResponseType::Json => StatusCode::OK,
            };
            return (errors_response(rt, status, &[deadline.error()]), "timeout");
        }
    };

    // A request error (syntax, validation, limits) has no data: the spec wants no `data` entry
    // and, for application/graphql-response+json, a 400.
    let request_failed = resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty());
    let headers = resp.http_headers.clone();
    let outcome = match (request_failed, resp.errors.is_empty()) {
        (true, _) => "refused",
        (false, true) => "ok",
        (false, false) => "error",
    };
    let mut out = if request_failed {
        let status = match rt {
            ResponseType::GraphQLResponse => StatusCode::BAD_REQUEST,
            ResponseType::Json => StatusCode::OK,
        };
        errors_response(rt, status, &resp.errors)
    } else {
        match serde_json::to_vec(&resp) {
            Ok(bytes) => typed(rt, StatusCode::OK, bytes),
            Err(e) => internal(&e),
        }
    };
    out.headers_mut().extend(headers);
    (out, outcome)
}

/// True for the error `limits::Deadlines` puts on fields resolved after the deadline.
fn is_timeout(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .is_some_and(|c| *c == async_graphql::Value::from(limits::TIMEOUT_CODE))
}

/// A request refused by one of `limits`: a request error, with its code.
fn limit_error(rt: ResponseType, e: &LimitError) -> Response {
    let status = match rt {
        ResponseType::GraphQLResponse => StatusCode::BAD_REQUEST,
        ResponseType::Json => StatusCode::OK,
    };
    errors_response(rt, status, &[e.to_server_error()])
}

/// A request error before execution: 4xx for application/graphql-response+json, 200 with an
/// `errors` entry for application/json (as the spec asks for well-formed JSON bodies).
fn request_error(rt: ResponseType, graphql_status: StatusCode, message: &str) -> Response {
    let status = match rt {
        ResponseType::GraphQLResponse => graphql_status,
        ResponseType::Json if graphql_status == StatusCode::METHOD_NOT_ALLOWED => graphql_status,
        ResponseType::Json => StatusCode::OK,
    };
    error_body(rt, status, message)
}

fn error_body(rt: ResponseType, status: StatusCode, message: &str) -> Response {
    errors_response(rt, status, &[ServerError::new(message, None)])
}

fn errors_response(rt: ResponseType, status: StatusCode, errors: &[ServerError]) -> Response {
    match serde_json::to_vec(&json!({ "errors": errors })) {
        Ok(bytes) => typed(rt, status, bytes),
        Err(e) => internal(&e),
    }
}

fn not_acceptable() -> Response {
    let mut resp = error_body(
        ResponseType::Json,
        StatusCode::NOT_ACCEPTABLE,
        "this endpoint answers application/graphql-response+json or application/json",
    );
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    resp
}

fn typed(rt: ResponseType, status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rt.content_type()),
    );
    resp
}

fn internal(e: &serde_json::Error) -> Response {
    tracing::error!(error = %e, "cannot encode a GraphQL response");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "cannot encode the response",
    )
        .into_response()
}
