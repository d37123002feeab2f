//! HTTP-level tests: a real listener, a reqwest client, and Okta-style paging
//! through `link` headers, checked against the simulator's ground truth.

use std::collections::HashSet;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{Faults, SimOptions, Simulator};

pub(super) const TOKEN: &str = "00test-token";

pub(super) async fn start(users: usize, groups: usize) -> (Simulator, String) {
    let sim = Simulator::new(SimOptions {
        users,
        groups: Some(groups),
        seed: 77,
        token: TOKEN.into(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = sim.serve(listener).unwrap();
    (sim, format!("http://{addr}"))
}

pub(super) fn links(headers: &HeaderMap, rel: &str) -> Vec<String> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.ends_with(&format!("rel=\"{rel}\"")))
        .filter_map(|v| {
            let start = v.find('<')? + 1;
            let end = v.find('>')?;
            Some(v[start..end].to_string())
        })
        .collect()
}

pub(super) async fn get(url: &str) -> (reqwest::StatusCode, HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("SSWS {TOKEN}"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap();
    (status, headers, body)
}

/// Follow `next` links from `url`; returns every item and the number of pages.
pub(super) async fn walk(url: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut next = Some(url.to_string());
    let mut pages = 0;
    while let Some(url) = next {
        let (status, headers, body) = get(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(links(&headers, "self").len(), 1);
        let page = body.as_array().unwrap().clone();
        next = links(&headers, "next").into_iter().next();
        if next.is_some() {
            assert!(
                !page.is_empty(),
                "a next link must not lead off an empty page"
            );
        }
        items.extend(page);
        pages += 1;
        assert!(pages < 10_000);
    }
    (items, pages)
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn users_pages_cover_every_non_deprovisioned_user_once() {
    let (sim, base) = start(1200, 40).await;
    let (items, pages) = walk(&format!("{base}/api/v1/users?limit=77")).await;
    let got = ids(&items);
    assert_eq!(pages, got.len().div_ceil(77));
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "served in cursor (id) order");
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        got.len(),
        "no duplicates"
    );
    let truth: Vec<Value> = sim
        .users()
        .into_iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .collect();
    assert_eq!(items, truth, "exactly as served, no gaps");

    let (deprov, _) = walk(&format!(
        "{base}/api/v1/users?limit=10&filter=status%20eq%20%22DEPROVISIONED%22"
    ))
    .await;
    assert!(!deprov.is_empty());
    assert!(deprov.iter().all(|u| u["status"] == "DEPROVISIONED"));
    assert_eq!(items.len() + deprov.len(), sim.users().len());

    // default limit is 200
    let (_, headers, body) = get(&format!("{base}/api/v1/users")).await;
    assert_eq!(body.as_array().unwrap().len(), 200);
    let next = &links(&headers, "next")[0];
    assert!(
        next.starts_with(&format!("{base}/api/v1/users?after=00u")),
        "{next}"
    );
}

#[tokio::test]
async fn every_response_carries_okta_headers() {
    let (sim, base) = start(50, 10).await;
    let mut request_ids = HashSet::new();
    for path in ["/api/v1/users?limit=5", "/api/v1/groups", "/api/v1/nope"] {
        let (_, h, _) = get(&format!("{base}{path}")).await;
        assert_eq!(h["content-type"], "application/json");
        assert!(h.contains_key("date"));
        request_ids.insert(h["x-okta-request-id"].to_str().unwrap().to_string());
        for k in [
            "x-rate-limit-limit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
        ] {
            assert!(h[k].to_str().unwrap().parse::<i64>().is_ok(), "{k}");
        }
    }
    assert_eq!(request_ids.len(), 3);
    let (_, h1, _) = get(&format!("{base}/api/v1/users")).await;
    assert_eq!(h1["x-rate-limit-limit"], "600");
    assert_eq!(h1["x-rate-limit-remaining"], "598");
    let (_, h2, _) = get(&format!("{base}/api/v1/groups")).await;
    assert_eq!(h2["x-rate-limit-limit"], "500");
    assert_eq!(sim.request_count(), 5);
}

#[tokio::test]
async fn auth_and_bad_input_errors() {
    let (_sim, base) = start(50, 10).await;
    let client = reqwest::Client::new();
    for auth in [None, Some("SSWS wrong"), Some("Bearer 00test-token")] {
        let mut req = client.get(format!("{base}/api/v1/users"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
        assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
        assert!(body["errorCauses"].is_array());
    }
    let cases = [
        ("/api/v1/users?filter=status%20eq", 400, "E0000031"),
        (
            "/api/v1/users?filter=profile.city%20eq%20%22x%22",
            400,
            "E0000031",
        ),
        (
            "/api/v1/users?filter=status%20sw%20%22A%22",
            400,
            "E0000031",
        ),
        (
            "/api/v1/users?filter=lastUpdated%20gt%20%22nope%22",
            400,
            "E0000001",
        ),
        ("/api/v1/users?limit=abc", 400, "E0000001"),
        ("/api/v1/groups?filter=name%20eq%20%22x%22", 400, "E0000031"),
        ("/api/v1/users/nobody@nowhere.example", 404, "E0000007"),
        ("/api/v1/groups/00gmissing", 404, "E0000007"),
        ("/api/v1/groups/00gmissing/users", 404, "E0000007"),
        ("/api/v1/users/00umissing/groups", 404, "E0000007"),
        ("/api/v1/authorizationServers", 404, "E0000007"),
    ];
    for (path, status, code) in cases {
        let (s, _, body) = get(&format!("{base}{path}")).await;
        assert_eq!(s.as_u16(), status, "{path}");
        assert_eq!(body["errorCode"], code, "{path}");
    }
    let (_, _, body) = get(&format!("{base}/api/v1/users/nobody@nowhere.example")).await;
    assert_eq!(
        body["errorSummary"],
        "Not found: Resource not found: nobody@nowhere.example (User)"
    );
    let resp = client
        .delete(format!("{base}/api/v1/users"))
        .header("Authorization", format!("SSWS {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn single_user_lookups_and_quick_search() {
    let (sim, base) = start(300, 20).await;
    let user = sim.users()[10].clone();
    let id = user["id"].as_str().unwrap();
    let login = user["profile"]["login"].as_str().unwrap().to_uppercase();
    let (s, _, mut by_id) = get(&format!("{base}/api/v1/users/{id}")).await;
    assert_eq!(s, 200);
    let (_, _, mut by_login) = get(&format!("{base}/api/v1/users/{login}")).await;
    assert_eq!(by_login, by_id);
    // A single user links more than a list item (strict_tests covers which); the rest is equal.
    assert_eq!(by_id["_links"]["self"], user["_links"]["self"]);
    let mut user = user.clone();
    for v in [&mut by_id, &mut by_login, &mut user] {
        v.as_object_mut().unwrap().remove("_links");
    }
    assert_eq!(by_id, user);

    let (_, _, groups) = get(&format!("{base}/api/v1/users/{id}/groups")).await;
    assert_eq!(ids(groups.as_array().unwrap()), sim.user_groups(id));

    let prefix: String = user["profile"]["email"]
        .as_str()
        .unwrap()
        .chars()
        .take(1)
        .collect();
    let (_, h, found) = get(&format!("{base}/api/v1/users?q={prefix}")).await;
    let found = found.as_array().unwrap();
    assert!(!found.is_empty() && found.len() <= 10);
    assert!(links(&h, "next").is_empty());
    assert!(found.iter().all(|u| u["status"] != "DEPROVISIONED"));
}

#[tokio::test]
async fn group_lists_members_and_filters() {
    let (sim, base) = start(900, 60).await;
    let (groups, pages) = walk(&format!("{base}/api/v1/groups?limit=7&expand=stats")).await;
    assert_eq!(pages, 9);
    assert_eq!(groups.len(), 60);
    for g in &groups {
        let gid = g["id"].as_str().unwrap();
        assert_eq!(
            g["_embedded"]["stats"]["usersCount"].as_u64().unwrap() as usize,
            sim.group_members(gid).len()
        );
    }
    let everyone = groups.iter().find(|g| g["type"] == "BUILT_IN").unwrap();
    let gid = everyone["id"].as_str().unwrap();
    let (members, pages) = walk(&format!("{base}/api/v1/groups/{gid}/users?limit=100")).await;
    assert_eq!(pages, 9);
    assert_eq!(ids(&members), sim.group_members(gid));
    assert!(members.iter().any(|u| u["status"] == "DEPROVISIONED"));

    let (app, _) = walk(&format!(
        "{base}/api/v1/groups?filter=type%20eq%20%22APP_GROUP%22"
    ))
    .await;
    assert!(!app.is_empty());
    assert!(app.iter().all(|g| g["type"] == "APP_GROUP"));

    let (_, h, q) = get(&format!("{base}/api/v1/groups?q=team:")).await;
    assert!(q.as_array().unwrap().iter().all(|g| {
        g["profile"]["name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .starts_with("team:")
    }));
    assert!(links(&h, "next").is_empty());
}

#[tokio::test]
async fn incremental_filters_see_mutations() {
    let (sim, base) = start(400, 20).await;
    let newest = sim
        .users()
        .iter()
        .filter_map(|u| u["lastUpdated"].as_str().map(str::to_string))
        .max()
        .unwrap();
    let url = format!("{base}/api/v1/users?filter=lastUpdated%20gt%20%22{newest}%22");
    assert!(walk(&url).await.0.is_empty());

    let target = sim.users()[5]["id"].as_str().unwrap().to_string();
    let mut patch = serde_json::Map::new();
    patch.insert("title".into(), "Renamed".into());
    assert!(sim.update_profile(&target, patch));
    let (changed, _) = walk(&url).await;
    assert_eq!(ids(&changed), vec![target.clone()]);
    assert_eq!(changed[0]["profile"]["title"], "Renamed");

    let group = sim.groups()[3]["id"].as_str().unwrap().to_string();
    let gmax = sim
        .groups()
        .iter()
        .filter_map(|g| g["lastMembershipUpdated"].as_str().map(str::to_string))
        .max()
        .unwrap();
    let other = sim.users()[6]["id"].as_str().unwrap().to_string();
    sim.remove_member(&group, &other);
    sim.add_member(&group, &other);
    let (g, _) = walk(&format!(
        "{base}/api/v1/groups?filter=lastMembershipUpdated%20gt%20%22{gmax}%22"
    ))
    .await;
    assert_eq!(ids(&g), vec![group]);

    assert!(sim.delete_user(&target));
    let (s, _, _) = get(&format!("{base}/api/v1/users/{target}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn list_faults_fail_after_n_pages() {
    let (sim, base) = start(100, 10).await;
    sim.set_faults(Faults {
        fail_list_pages_after: Some(2),
        ..Default::default()
    });
    let url = format!("{base}/api/v1/users?limit=10");
    assert_eq!(get(&url).await.0, 200);
    assert_eq!(get(&format!("{base}/api/v1/groups")).await.0, 200);
    let (s, _, body) = get(&url).await;
    assert_eq!(s, 500);
    assert_eq!(body["errorCode"], "E0000009");
    let gid = sim.groups()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&format!("{base}/api/v1/groups/{gid}/users")).await.0,
        500
    );
    // single-object reads are unaffected
    assert_eq!(get(&format!("{base}/api/v1/groups/{gid}")).await.0, 200);
    sim.set_faults(Faults::default());
    assert_eq!(get(&url).await.0, 200);
}

#[tokio::test]
async fn undecodable_path_ids_get_json_404() {
    let (_sim, base) = start(20, 8).await;
    let (s, h, body) = get(&format!("{base}/api/v1/users/%FF%FE")).await;
    assert_eq!(s, 404);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(body["errorCode"], "E0000007");
}
