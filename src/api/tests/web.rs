//! The directory pages over HTTP (no browser): each page is same-origin only under the pages'
//! Content-Security-Policy, the first page is small, user data is escaped everywhere, and a
//! `directory` caller sees neither deprovisioned people nor attributes its role hides.

use serde_json::json;

use super::assets::{fetch, references, same_origin};
use super::{Server, person};
use crate::access::{Policy, Role};

const DIRECTORY_PAGES: &[&str] = &[
    "/",
    "/?q=engineer",
    "/?q=engineer&department=Engineering&city=Berlin",
    "/people/eng1@example.com",
    "/people/ceo@example.com",
    "/org/ceo@example.com",
    "/org/vp@example.com?page=1",
    "/departments",
    "/departments/Engineering",
];

#[tokio::test]
async fn directory_pages_are_same_origin_under_a_strict_policy() {
    let s = Server::start().await;
    for path in DIRECTORY_PAGES {
        let page = fetch(s.get(path)).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        let csp = page.header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: {directive} not in {csp:?}"
            );
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        let lower = page.body.to_ascii_lowercase();
        assert!(!lower.contains("<style"), "{path}: inline <style>");
        assert!(!lower.contains(" style="), "{path}: a style attribute");
        for (i, _) in lower.match_indices("<script") {
            let tag = &lower[i..i + lower[i..].find('>').expect("a whole tag")];
            assert!(tag.contains(" src="), "{path}: an inline script: {tag}");
        }
        // Links may leave for mail and phone apps; everything else stays on this origin.
        for r in references(&page.body) {
            let external_app = r.starts_with("mailto:") || r.starts_with("tel:");
            assert!(same_origin(&r) || external_app, "{path}: {r:?}");
            if r.starts_with("/assets/") {
                assert_eq!(fetch(s.get(&r)).await.status, 200, "{path}: {r}");
            }
        }
        assert!(lower.contains("<main"), "{path}: a main landmark");
        assert!(
            lower.contains("role=\"search\""),
            "{path}: a search landmark"
        );
        assert!(
            lower.contains("<label for=\"q\""),
            "{path}: the search box's label"
        );
    }
}

#[tokio::test]
async fn the_first_page_with_its_script_and_styles_is_under_100_kb() {
    let s = Server::start().await;
    let page = fetch(s.get("/")).await;
    let mut bytes = page.body.len();
    for r in references(&page.body)
        .into_iter()
        .filter(|r| r.starts_with("/assets/"))
    {
        bytes += fetch(s.get(&r)).await.body.len();
    }
    assert!(bytes < 100_000, "{bytes} bytes uncompressed");
}

#[tokio::test]
async fn names_are_escaped_on_every_page() {
    let s = Server::start().await;
    let evil = "<script>alert(1)</script>";
    let title = "\"><img src=x onerror=alert(2)>";
    s.store
        .apply(
            &[person(
                "00u9",
                "evil@example.com",
                "ACTIVE",
                Some("00u2"),
                json!({"displayName": evil, "title": title, "department": "<b>Ops</b>",
                    "badge": "<i>x</i>"}),
            )],
            &[],
        )
        .expect("apply");
    for path in [
        "/people/evil@example.com",
        "/org/vp@example.com",
        "/people/eng1@example.com",
        "/departments",
        "/departments/%3Cb%3EOps%3C%2Fb%3E",
    ] {
        let page = fetch(s.get(path)).await;
        assert_eq!(page.status, 200, "{path}");
        for raw in [evil, title, "<b>Ops", "<i>x"] {
            assert!(!page.body.contains(raw), "{path}: {raw} unescaped");
        }
    }
    let profile = fetch(s.get("/people/evil@example.com")).await.body;
    assert!(profile.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(profile.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    // A query is escaped where the page repeats it.
    let q = "<svg onload=alert(3)>";
    let page = fetch(s.get("/?q=%3Csvg%20onload%3Dalert(3)%3E")).await;
    assert!(!page.body.contains(q), "the query echoed raw");
    assert!(page.body.contains("&lt;svg onload=alert(3)&gt;"));
}

#[tokio::test]
async fn a_directory_caller_sees_no_hidden_people_or_attributes() {
    let open = Server::start().await;
    let dir = Server::start_as(Role::Directory, Policy::default()).await;
    // The deprovisioned engineer: on the open server a profile, for `directory` no one.
    assert_eq!(
        fetch(open.get("/people/gone@example.com")).await.status,
        200
    );
    let hidden = fetch(dir.get("/people/gone@example.com")).await;
    assert_eq!(hidden.status, 404);
    for path in [
        "/org/vp@example.com",
        "/people/eng1@example.com",
        "/departments/Engineering",
    ] {
        let shown = fetch(dir.get(path)).await.body;
        assert!(
            !shown.contains("gone@example.com"),
            "{path}: shown to directory"
        );
    }
    let all = fetch(open.get("/org/vp@example.com")).await.body;
    assert!(
        all.contains("gone@example.com"),
        "the open server shows them"
    );
    let reports = fetch(dir.get("/web/reports/vp@example.com")).await;
    assert!(
        reports.body.contains("eng1@example.com"),
        "{}",
        reports.body
    );
    assert!(
        !reports.body.contains("gone@example.com"),
        "{}",
        reports.body
    );
    // A custom attribute outside directory_attributes: shown to the open (admin) caller only.
    let ceo = "/people/ceo@example.com";
    assert!(fetch(open.get(ceo)).await.body.contains("badgeColour"));
    assert!(!fetch(dir.get(ceo)).await.body.contains("badgeColour"));
    let listed = Server::start_as(
        Role::Directory,
        Policy {
            directory_attributes: vec!["badgeColour".into()],
            ..Policy::default()
        },
    )
    .await;
    assert!(fetch(listed.get(ceo)).await.body.contains("badgeColour"));
}

#[tokio::test]
async fn unknown_people_and_bad_queries_say_what_is_wrong() {
    let s = Server::start().await;
    let missing = fetch(s.get("/people/nobody@example.com")).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("nobody@example.com"));
    assert_eq!(fetch(s.get("/org/nobody@example.com")).await.status, 404);
    assert_eq!(fetch(s.get("/departments/Nowhere")).await.status, 404);
    let long = "x".repeat(5_000);
    let page = fetch(s.get(&format!("/?q={long}"))).await;
    assert_eq!(page.status, 400, "{}", page.body);
    let api = fetch(s.get(&format!("/web/search?q={long}"))).await;
    assert_eq!(api.status, 400);
    let hits = fetch(s.get("/web/search?q=eng&facets=1")).await;
    assert_eq!(hits.status, 200);
    let v: serde_json::Value = serde_json::from_str(&hits.body).expect("json");
    assert!(v["people"].as_array().is_some_and(|p| !p.is_empty()), "{v}");
    assert!(v["facets"]["department"].is_array(), "{v}");
}
