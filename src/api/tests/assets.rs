//! GraphiQL from the binary: the HTML the server serves references only its own origin, every
//! referenced file is served with its type and caching, unknown assets are 404, and HTML answers
//! carry the Content-Security-Policy and the other security headers.

use super::Server;

/// Paths a browser might load as a page. Those that answer HTML are checked.
const PAGES: &[&str] = &[
    "/graphql",
    "/healthz",
    "/readyz",
    "/hooks/okta",
    "/assets/",
    "/assets/nope.js",
];

/// A full answer with its headers.
pub(super) struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub(super) async fn fetch(req: reqwest::RequestBuilder) -> Page {
    let resp = req.send().await.expect("request");
    Page {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

/// The values of every `attr="..."` (or `'...'`) in `html`, for `attr` in `src` and `href`.
pub(super) fn references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut refs = Vec::new();
    for attr in ["src", "href"] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(attr) {
            let start = from + at;
            from = start + attr.len();
            // Whole attribute names only (not `data-src`, `xsrc`).
            let before = lower[..start].chars().next_back();
            if !before.is_some_and(char::is_whitespace) {
                continue;
            }
            let rest = lower[from..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            let rest = rest.trim_start();
            let value_at = html.len() - rest.len();
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let v = &html[value_at + 1..];
                    v.split(q).next().unwrap_or("")
                }
                _ => html[value_at..]
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            refs.push(value.to_owned());
        }
    }
    refs
}

/// True when `r` can only resolve against the page's own origin.
pub(super) fn same_origin(r: &str) -> bool {
    let r = r.trim().to_ascii_lowercase();
    // A scheme (`https:`, `data:`, `javascript:`) or a protocol-relative `//host`.
    let has_scheme = r
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|first| first.contains(':'));
    !r.starts_with("//") && !r.starts_with("\\\\") && !has_scheme
}

#[test]
fn reference_scanner_finds_cdn_links() {
    let old = r#"<link rel="stylesheet" href="https://unpkg.com/graphiql/graphiql.min.css" />
        <script crossorigin src='//cdn.example/react.js'></script><img data-src="x" SRC=pic.png>"#;
    let refs = references(old);
    assert_eq!(
        refs,
        [
            "//cdn.example/react.js",
            "pic.png",
            "https://unpkg.com/graphiql/graphiql.min.css"
        ]
    );
    assert_eq!(
        refs.iter().map(|r| same_origin(r)).collect::<Vec<_>>(),
        [false, true, false]
    );
    for ok in ["assets/a.js", "/assets/a.js", "./a.js?v=1:2"] {
        assert!(same_origin(ok), "{ok}");
    }
    for bad in [
        "http://x/a.js",
        "data:text/javascript,1",
        "javascript:1",
        " //x",
    ] {
        assert!(!same_origin(bad), "{bad}");
    }
}

#[tokio::test]
async fn html_references_only_same_origin_files_that_are_served() {
    let s = Server::start().await;
    let mut pages = 0;
    let mut checked_refs = 0;
    for path in PAGES {
        for accept in ["text/html,application/xhtml+xml,*/*;q=0.8", "*/*"] {
            let page = fetch(s.get(path).header("accept", accept)).await;
            if !page.header("content-type").starts_with("text/html") {
                continue;
            }
            pages += 1;
            assert_eq!(page.status, 200, "{path}");
            let csp = page.header("content-security-policy");
            for directive in [
                "default-src 'self'",
                "script-src 'self'",
                "connect-src 'self'",
                "img-src 'self' data:",
                "frame-ancestors 'none'",
            ] {
                assert!(
                    csp.contains(directive),
                    "{path}: {directive} not in {csp:?}"
                );
            }
            assert!(!csp.contains("unsafe-eval"), "{csp}");
            assert!(
                !csp.contains("'unsafe-inline'"),
                "{path}: GraphiQL needs no inline scripts or styles: {csp}"
            );
            assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");

            // The policy forbids inline code, so the page must have none.
            let lower = page.body.to_ascii_lowercase();
            assert!(!lower.contains("<style"), "{path}: inline <style>");
            assert!(!lower.contains(" style="), "{path}: a style attribute");
            for (i, _) in lower.match_indices("<script") {
                let tag = &lower[i..i + lower[i..].find('>').expect("a whole tag")];
                assert!(tag.contains(" src="), "{path}: an inline script: {tag}");
            }

            let base = url::Url::parse(&format!("{}{path}", s.url)).expect("url");
            let refs = references(&page.body);
            assert!(!refs.is_empty(), "{path}: no references in {}", page.body);
            for r in refs {
                assert!(same_origin(&r), "{path}: {r:?} is another origin");
                let url = base.join(&r).expect("a valid reference");
                let asset = fetch(s.client.get(url.clone())).await;
                assert_eq!(asset.status, 200, "{url}");
                let ct = asset.header("content-type");
                let want = if r.ends_with(".js") {
                    "text/javascript"
                } else if r.ends_with(".css") {
                    "text/css"
                } else {
                    panic!("{path}: an unexpected kind of reference {r}")
                };
                assert!(ct.starts_with(want), "{url}: {ct}");
                assert_eq!(asset.header("x-content-type-options"), "nosniff");
                assert!(!asset.header("etag").is_empty(), "{url}: no ETag");
                assert!(
                    asset
                        .header("cache-control")
                        .contains(if r.contains("/vendor/") {
                            "immutable"
                        } else {
                            "no-cache"
                        }),
                    "{url}"
                );
                if want == "text/css" {
                    // Stylesheets load nothing from elsewhere either (fonts are data: URLs).
                    for (i, _) in asset.body.match_indices("url(") {
                        let arg = asset.body[i + 4..]
                            .trim_start_matches(['"', '\'', ' '])
                            .to_ascii_lowercase();
                        assert!(
                            arg.starts_with("data:") || same_origin(&arg),
                            "{url}: loads {}",
                            &arg[..arg.len().min(60)]
                        );
                    }
                    assert!(!asset.body.contains("@import"), "{url}");
                }
                checked_refs += 1;
            }
        }
    }
    // GraphiQL at /graphql, for a browser.
    assert_eq!(pages, 1, "HTML pages served");
    assert!(checked_refs >= 6, "{checked_refs} references checked");
}

#[tokio::test]
async fn unknown_assets_are_404_and_etags_revalidate() {
    let s = Server::start().await;
    for path in [
        "/assets/nope.js",
        "/assets/vendor/graphiql-0.0.0/graphiql.min.js",
        "/assets/graphiql.html",
        "/assets/vendor/VERSIONS.md",
        "/assets/vendor/graphiql-3.8.3/LICENSE",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/assets/",
    ] {
        let a = fetch(s.get(path)).await;
        assert_eq!(a.status, 404, "{path}");
    }

    let path = "/assets/graphiql-init.js";
    let first = fetch(s.get(path)).await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("GraphiQL.createFetcher"));
    let etag = first.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let again = fetch(s.get(path).header("if-none-match", &etag)).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);
    let other = fetch(s.get(path).header("if-none-match", "\"0\"")).await;
    assert_eq!(other.status, 200);
}
