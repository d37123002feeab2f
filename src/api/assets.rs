//! The browser files the mirror serves itself: the GraphiQL page, its start script and the vendored
//! GraphiQL and React bundles (`assets/vendor/VERSIONS.md`), and the directory's script and
//! styles (`assets/web/`), embedded in the binary, so no page needs another origin; and the
//! security headers every HTML answer carries.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The GraphiQL page served at `GET /graphql` to browsers. Its references are relative
/// (`assets/...`), so the page also works behind a proxy that adds a path prefix.
pub(crate) const GRAPHIQL_PAGE: &str = include_str!("assets/graphiql.html");

/// The Content-Security-Policy of every HTML answer: the mirror's own origin and nothing else.
/// - `style-src 'self'` plus one hash, no `'unsafe-inline'`: GraphiQL sets styles through the
///   CSSOM (React `style` props, CodeMirror's `style.cssText`), which CSP does not restrict. The
///   one inline `<style>` it writes is react-remove-scroll-bar's scroll lock while a dialog
///   (settings, shortcuts) is open. The hash allows exactly that text for a page with no body
///   padding and no scrollbar (ours: GraphiQL fills the window), i.e. graphiql 3.8.3's
///   `getStyles({left: 0, top: 0, right: 0, gap: 0}, true, 'margin', '!important')`. Were a
///   scrollbar showing, the text (which holds its width) would be refused, which only leaves the
///   page scrollable behind the dialog. A GraphiQL upgrade must recompute it (Chromium's console
///   prints the hash of a refused style).
/// - `font-src 'self' data:` and `img-src 'self' data:`: GraphiQL's CSS embeds its fonts
///   (Roboto, Fira Code) and a few images as `data:` URLs.
/// - `connect-src 'self'`: the fetcher POSTs to the page's own `/graphql`.
/// - No `'unsafe-eval'`, `worker-src` or `blob:`: the bundle evaluates no strings and starts no
///   workers. Checked in headless Chromium: no violations loading the page, running a query,
///   opening the docs, history, settings and shortcuts dialogs, and autocompleting.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Vendored files never change under a path (the version is in it): a year, immutable.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Our own files change with the binary at the same path: revalidate (by ETag) every time.
const REVALIDATE: &str = "no-cache";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One embedded file, served at `/assets/{path}`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
    bytes: &'static [u8],
}

macro_rules! vendored {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            cache_control: IMMUTABLE,
            bytes: include_bytes!(concat!("assets/", $path)),
        }
    };
}

static ASSETS: &[Asset] = &[
    vendored!("vendor/graphiql-3.8.3/graphiql.min.js", JS),
    vendored!("vendor/graphiql-3.8.3/graphiql.min.css", CSS),
    vendored!("vendor/react-18.3.1/react.production.min.js", JS),
    vendored!("vendor/react-dom-18.3.1/react-dom.production.min.js", JS),
    Asset {
        path: "graphiql-init.js",
        content_type: JS,
        cache_control: REVALIDATE,
        bytes: include_bytes!("assets/graphiql-init.js"),
    },
    Asset {
        path: "web/app.js",
        content_type: JS,
        cache_control: REVALIDATE,
        bytes: include_bytes!("assets/web/app.js"),
    },
    Asset {
        path: "web/app.css",
        content_type: CSS,
        cache_control: REVALIDATE,
        bytes: include_bytes!("assets/web/app.css"),
    },
    Asset {
        path: "graphiql-page.css",
        content_type: CSS,
        cache_control: REVALIDATE,
        bytes: include_bytes!("assets/graphiql-page.css"),
    },
];

/// Each asset's strong ETag (the first 128 bits of its SHA-256), by position in `ASSETS`;
/// computed on first use (about 10 ms for all of them).
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let hex = crate::access::sha256_hex(a.bytes, 16);
            HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"\""))
        })
        .collect()
});

/// `GET /assets/{*path}`: an embedded file with its type, caching and ETag (a matching
/// `If-None-Match` gets a 304); 404 for any other path.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some((i, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let etag = &ETAGS[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag.as_bytes()));
    let mut resp = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(asset.bytes));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// True when an `If-None-Match` list names `etag` (weak comparison, as RFC 9110 asks) or is `*`.
fn etag_matches(if_none_match: &str, etag: &[u8]) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == etag)
}

/// Middleware for every route: an HTML answer gets the Content-Security-Policy, `nosniff` and
/// `no-referrer` (unless its handler set them itself).
pub(crate) async fn secure_html(mut resp: Response) -> Response {
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    if is_html {
        let h = resp.headers_mut();
        for (name, value) in [
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ] {
            h.entry(name).or_insert(HeaderValue::from_static(value));
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let tag = b"\"abc\"";
        assert!(etag_matches("\"abc\"", tag));
        assert!(etag_matches("W/\"abc\"", tag));
        assert!(etag_matches("\"x\", \"abc\"", tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"abd\"", tag));
        assert!(!etag_matches("abc", tag));
    }

    #[test]
    fn asset_paths_are_unique() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(ASSETS[..i].iter().all(|b| b.path != a.path), "{}", a.path);
        }
    }
}
