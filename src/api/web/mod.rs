//! The people directory in a browser: server-rendered pages at `/`, `/people/{login}`,
//! `/org/{login}`, `/departments` and `/departments/{name}`, two small JSON answers for the
//! typeahead and the org chart (`/web/search`, `/web/reports/{login}`), and sign-in with Okta
//! (`oidc.rs`, under `/auth/`). Every read goes through the caller's `access::View`.

mod html;
mod json;
pub mod oidc;
mod pages;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::Shared;
use crate::access::{AccessError, Caller, View};

pub use oidc::{KEY_FILE as SESSION_KEY_FILE, OidcSettings, SignIn};

/// People per page in lists (reports, members, org chart children).
pub(crate) const PAGE_SIZE: usize = 50;

/// What the directory pages are configured with beyond the access rules.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// A photo URL per person, `{login}` and `{id}` replaced (percent-encoded); `None` shows
    /// initials only. Its origin is added to the pages' `img-src`.
    pub photo_url_template: Option<String>,
}

/// What a page renders with besides the `View`.
pub(crate) struct Ctx {
    photo: Option<String>,
}

impl Ctx {
    pub(crate) fn photo(&self) -> Option<&str> {
        self.photo.as_deref()
    }
}

/// A rendered page's parts, framed by `html::page`.
pub(crate) struct Page {
    title: String,
    body: String,
    query: String,
    autofocus: bool,
}

impl Page {
    pub(crate) fn new(title: &str, body: String) -> Page {
        Page {
            title: title.to_owned(),
            body,
            query: String::new(),
            autofocus: false,
        }
    }

    /// Puts the search text back in the box.
    pub(crate) fn query(mut self, q: &str) -> Page {
        q.clone_into(&mut self.query);
        self
    }

    /// Focuses the search box on load.
    pub(crate) fn autofocus(mut self) -> Page {
        self.autofocus = true;
        self
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum WebError {
    /// 404 with this sentence.
    NotFound(String),
    /// 400 with this sentence.
    BadInput(String),
    /// The access layer's refusal or failure.
    Access(AccessError),
}

impl From<AccessError> for WebError {
    fn from(e: AccessError) -> WebError {
        WebError::Access(e)
    }
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadInput(_) => StatusCode::BAD_REQUEST,
            WebError::Access(e) if e.is_forbidden() => StatusCode::FORBIDDEN,
            WebError::Access(e) if e.is_bad_input() => StatusCode::BAD_REQUEST,
            WebError::Access(e) if e.is_too_costly() => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Access(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            WebError::NotFound(m) | WebError::BadInput(m) => m.clone(),
            WebError::Access(e) => e.message(),
        }
    }
}

/// The routes of the directory and of sign-in.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(home))
        .route("/people/{login}", get(person))
        .route("/org/{login}", get(org))
        .route("/departments", get(departments))
        .route("/departments/{name}", get(department))
        .route("/web/search", get(json::search))
        .route("/web/reports/{login}", get(json::reports))
        .route("/auth/login", get(oidc::login))
        .route("/auth/callback", get(oidc::callback))
        .route("/auth/logout", post(oidc::logout))
        .route("/auth/signed-out", get(oidc::signed_out))
}

/// Whether a path is one of the directory's (a signed-in browser's session counts there).
pub(crate) fn is_directory_path(path: &str) -> bool {
    path == "/"
        || ["/people/", "/org/", "/departments", "/web/"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// The Content-Security-Policy of the directory's pages: the mirror's own origin, plus the
/// photo template's origin for images when one is configured.
pub(crate) fn content_security_policy(photo_url_template: Option<&str>) -> String {
    let photo = photo_url_template
        .and_then(|t| url::Url::parse(&t.replace("{login}", "x").replace("{id}", "x")).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .filter(|o| o != " null")
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{photo}; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Runs `render` for the caller on a blocking thread under the request deadline and frames
/// the page (or the error) as HTML.
async fn run<F>(
    shared: Arc<Shared>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
    render: F,
) -> Response
where
    F: FnOnce(&View, &Ctx) -> Result<Page, WebError> + Send + 'static,
{
    let viewer_login = signed_in.as_ref().map(|s| s.0.login.clone());
    let viewer_csrf = signed_in.as_ref().map(|s| s.0.csrf.clone());
    let viewer = html::Viewer {
        signed_in: viewer_login.as_deref(),
        csrf: viewer_csrf.as_deref(),
    };
    let Some(Extension(caller)) = caller else {
        return framed(
            &shared,
            &viewer,
            StatusCode::UNAUTHORIZED,
            Page::new(
                "Sign in",
                "<h1>Sign in</h1><p>This directory needs you to sign in.</p>".into(),
            ),
        );
    };
    let view = shared.mirror.view(caller);
    let ctx = Ctx {
        photo: shared.web.photo_url_template.clone(),
    };
    let work = view.blocking(move |v| Ok(render(v, &ctx)));
    let outcome = match tokio::time::timeout(shared.request_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(WebError::Access(e)),
        Err(_) => {
            view.cancel();
            Err(WebError::BadInput(format!(
                "This page took longer than the server's request_timeout ({} s): try a narrower search.",
                shared.request_timeout.as_secs_f64()
            )))
        }
    };
    match outcome {
        Ok(page) => framed(&shared, &viewer, StatusCode::OK, page),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                tracing::warn!("a directory page failed: {}", e.message());
            }
            let title = match status {
                StatusCode::NOT_FOUND => "Not found",
                StatusCode::FORBIDDEN => "Not allowed",
                _ => "Something went wrong",
            };
            let body = format!(
                "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/\">Back to search</a></p>",
                html::esc(title),
                html::esc(&e.message())
            );
            framed(&shared, &viewer, status, Page::new(title, body))
        }
    }
}

fn framed(shared: &Shared, viewer: &html::Viewer<'_>, status: StatusCode, page: Page) -> Response {
    let text = html::page(&page.title, &page.query, page.autofocus, viewer, &page.body);
    let mut r = (status, text).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // People data: never kept by a shared cache, nor by the browser after sign-out.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&shared.web_csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

type Params = Query<HashMap<String, String>>;

async fn home(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
    Query(params): Params,
) -> Response {
    let q = params
        .get("q")
        .map(|q| q.trim().to_owned())
        .unwrap_or_default();
    run(shared, caller, signed_in, move |v, ctx| {
        if q.is_empty() {
            pages::home(v, ctx)
        } else {
            pages::results(v, ctx, &q, &params)
        }
    })
    .await
}

async fn person(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
    Path(login): Path<String>,
) -> Response {
    run(shared, caller, signed_in, move |v, ctx| {
        pages::profile(v, ctx, &login)
    })
    .await
}

async fn org(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
    Path(login): Path<String>,
    Query(params): Params,
) -> Response {
    run(shared, caller, signed_in, move |v, ctx| {
        pages::org(v, ctx, &login, &params)
    })
    .await
}

async fn departments(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
) -> Response {
    run(shared, caller, signed_in, pages::departments).await
}

async fn department(
    State(shared): State<Arc<Shared>>,
    caller: Option<Extension<Caller>>,
    signed_in: Option<Extension<oidc::SignedIn>>,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    run(shared, caller, signed_in, move |v, ctx| {
        pages::department(v, ctx, &name, &params)
    })
    .await
}
