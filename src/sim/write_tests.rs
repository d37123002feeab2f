//! Tests of the simulator's writes over HTTP and through the `Simulator` API: each
//! endpoint's effect and LogEvents, `/api/v1/logs` polling and bounded semantics, and
//! event hook delivery to a real receiver (faults, retries, verification).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::tests::{TOKEN, get, links, start, walk};
use super::{EventHook, Simulator, time};

/// An Okta timestamp `n` days before now (log queries reject `since` beyond 180 days).
fn days_ago(n: i64) -> String {
    time::format(time::now() - n * time::DAY)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Send a write with the SSWS token; (status, body or `null` when empty).
async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client()
        .request(method, url)
        .header("Authorization", format!("SSWS {TOKEN}"))
        .header("Accept", "application/json");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

fn profile(login: &str) -> Value {
    json!({"login": login, "email": login, "firstName": "Ada", "lastName": "Lovelace"})
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect()
}

/// The target of `kind` (targets are looked up by type, never by position).
fn target<'a>(event: &'a Value, kind: &str) -> &'a Value {
    event["target"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} target in {event}"))
}

fn user_with(sim: &Simulator, status: &str) -> String {
    sim.users()
        .into_iter()
        .find(|u| u["status"] == status)
        .and_then(|u| u["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {status} user"))
}

fn group_of(sim: &Simulator, kind: &str) -> Value {
    sim.groups()
        .into_iter()
        .find(|g| g["type"] == kind)
        .unwrap()
}

#[tokio::test]
async fn polling_query_keeps_its_cursor_on_empty_pages_and_picks_up_new_events() {
    let (sim, base) = start(200, 12).await;
    assert!(
        sim.log_events().is_empty(),
        "a generated org has no history"
    );

    let (s, h, body) = get(&format!("{base}/api/v1/logs?limit=2")).await;
    assert_eq!(s, 200);
    assert_eq!(body, json!([]));
    assert_eq!(
        links(&h, "self"),
        vec![format!("{base}/api/v1/logs?limit=2")]
    );
    let next = links(&h, "next").pop().expect("polling always has next");
    let (_, h2, body2) = get(&next).await;
    assert_eq!(body2, json!([]));
    assert_eq!(links(&h2, "next"), vec![next.clone()], "cursor stays put");

    let users: Vec<String> = sim.users()[..3]
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    for id in &users {
        let mut patch = Map::new();
        patch.insert("title".into(), "Polled".into());
        assert!(sim.update_profile(id, patch));
    }
    let (_, h3, page) = get(&next).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let next2 = links(&h3, "next").pop().unwrap();
    assert_ne!(next2, next);
    let (_, h4, page2) = get(&next2).await;
    assert_eq!(page2.as_array().unwrap().len(), 1);
    let next3 = links(&h4, "next").pop().unwrap();
    let (_, h5, page3) = get(&next3).await;
    assert_eq!(page3, json!([]));
    assert_eq!(links(&h5, "next"), vec![next3]);

    let mut served: Vec<Value> = page.as_array().unwrap().clone();
    served.extend(page2.as_array().unwrap().iter().cloned());
    assert_eq!(
        served,
        sim.log_events(),
        "the log as served, in persistence order"
    );
    let target_ids: Vec<&str> = served
        .iter()
        .map(|e| target(e, "User")["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        target_ids,
        users.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let mut uuids: Vec<&str> = served.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    uuids.dedup();
    assert_eq!(uuids.len(), 3);
    assert!(uuids.iter().all(|u| u.len() == 36 && &u[14..15] == "4"));
}

#[tokio::test]
async fn next_links_keep_filter_and_limit_and_drop_since() {
    let (sim, base) = start(100, 10).await;
    let gid = sim.create_group("Tail Test", "for the log");
    let active = user_with(&sim, "ACTIVE");
    let uid = sim
        .users()
        .into_iter()
        .filter_map(|u| u["id"].as_str().map(str::to_string))
        .find(|id| *id != active)
        .unwrap();
    sim.add_member(&gid, &uid);
    sim.suspend_user(&active);

    let filter = "eventType%20sw%20%22group.%22";
    let url = format!(
        "{base}/api/v1/logs?since={}&filter={filter}&limit=1&sortOrder=ASCENDING",
        days_ago(1)
    );
    let (s, h, page) = get(&url).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        types(page.as_array().unwrap()),
        vec!["group.lifecycle.create"]
    );
    let next = links(&h, "next").pop().unwrap();
    assert!(!next.contains("since="), "{next}");
    assert!(
        next.contains(&format!("filter={}", "eventType+sw+%22group.%22")),
        "{next}"
    );
    assert!(next.contains("limit=1") && next.contains("sortOrder=ASCENDING"));
    let (_, h2, page2) = get(&next).await;
    assert_eq!(
        types(page2.as_array().unwrap()),
        vec!["group.user_membership.add"]
    );
    let next2 = links(&h2, "next").pop().unwrap();
    let (_, h3, page3) = get(&next2).await;
    assert_eq!(page3, json!([]), "the suspend is not a group event");
    assert_eq!(links(&h3, "next"), vec![next2]);

    let by_target = format!("{base}/api/v1/logs?filter=target.id%20eq%20%22{uid}%22");
    let (_, _, hits) = get(&by_target).await;
    assert_eq!(
        types(hits.as_array().unwrap()),
        vec!["group.user_membership.add"]
    );
    let combined = format!(
        "{base}/api/v1/logs?filter=(eventType%20ew%20%22.suspend%22%20or%20eventType%20co%20%22lifecycle.cre%22)%20and%20outcome.result%20eq%20%22SUCCESS%22"
    );
    let (_, _, hits) = get(&combined).await;
    assert_eq!(
        types(hits.as_array().unwrap()),
        vec!["group.lifecycle.create", "user.lifecycle.suspend"]
    );
}

#[tokio::test]
async fn bad_log_queries_are_400s() {
    let (_sim, base) = start(30, 8).await;
    let cases = [
        (format!("since={}&after=0", days_ago(1)), "E0000001"),
        (
            format!("filter=published%20gt%20%22{}%22", days_ago(1)),
            "E0000031",
        ),
        ("filter=eventType%20gt%20%22user%22".into(), "E0000031"),
        ("filter=target.id%20sw%20%2200u%22".into(), "E0000031"),
        ("limit=1001".into(), "E0000001"),
        ("limit=-1".into(), "E0000001"),
        ("sortOrder=UP".into(), "E0000001"),
        ("since=yesterday".into(), "E0000001"),
        ("after=abc".into(), "E0000001"),
        (format!("since={}", days_ago(181)), "E0000053"),
    ];
    for (q, code) in cases {
        let (s, _, body) = get(&format!("{base}/api/v1/logs?{q}")).await;
        assert_eq!(s, 400, "{q}: {body}");
        assert_eq!(body["errorCode"], code, "{q}");
    }
}

#[tokio::test]
async fn bounded_queries_end_without_next_and_sort_both_ways() {
    let (sim, base) = start(100, 10).await;
    for i in 0..5 {
        sim.create_group(&format!("Bounded {i}"), "");
    }
    let until = "2099-01-01T00:00:00.000Z";
    let (items, pages) = walk(&format!("{base}/api/v1/logs?until={until}&limit=2")).await;
    assert_eq!(pages, 3);
    assert_eq!(items, sim.log_events());
    let (desc, pages) = walk(&format!(
        "{base}/api/v1/logs?since={}&sortOrder=DESCENDING&limit=2",
        days_ago(1)
    ))
    .await;
    assert_eq!(pages, 3);
    let mut reversed = sim.log_events();
    reversed.reverse();
    assert_eq!(desc, reversed);
    let (none, _) = walk(&format!("{base}/api/v1/logs?until={}", days_ago(1))).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn log_requests_use_the_logs_bucket() {
    let (_sim, base) = start(30, 8).await;
    let (_, h, _) = get(&format!("{base}/api/v1/logs")).await;
    assert_eq!(h["x-rate-limit-limit"], "120");
    assert_eq!(h["x-rate-limit-remaining"], "119");
}

#[tokio::test]
async fn creating_users_validates_and_logs() {
    let (sim, base) = start(100, 10).await;
    let url = format!("{base}/api/v1/users");
    let (s, user) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": profile("new.person@example.com")})),
    )
    .await;
    assert_eq!(s, 200, "{user}");
    let id = user["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("00u") && id.len() == 20, "{id}");
    assert_eq!(user["status"], "ACTIVE");
    let (_, fetched) = send(reqwest::Method::GET, &format!("{url}/{id}"), None).await;
    assert_eq!(fetched, user);
    let everyone = group_of(&sim, "BUILT_IN");
    assert!(
        sim.user_groups(&id)
            .contains(&everyone["id"].as_str().unwrap().to_string())
    );

    let events = sim.log_events();
    assert_eq!(
        types(&events),
        vec!["user.lifecycle.create", "user.lifecycle.activate"]
    );
    for e in &events {
        let t = target(e, "User");
        assert_eq!(t["id"], id.as_str());
        assert_eq!(t["alternateId"], "new.person@example.com");
        assert_eq!(t["displayName"], "Ada Lovelace");
        assert_eq!(e["published"], user["created"]);
        assert_eq!(e["version"], "0");
        assert_eq!(e["severity"], "INFO");
        assert_eq!(e["outcome"], json!({"result": "SUCCESS", "reason": null}));
        assert_eq!(e["actor"]["type"], "User");
        assert_eq!(
            e["debugContext"]["debugData"]["requestUri"],
            "/api/v1/users"
        );
        assert!(e["displayMessage"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(events[0]["transaction"], events[1]["transaction"]);

    let (s, staged) = send(
        reqwest::Method::POST,
        &format!("{url}?activate=false"),
        Some(json!({"profile": profile("staged.person@example.com")})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(staged["status"], "STAGED");
    assert_eq!(types(&sim.log_events()[2..]), vec!["user.lifecycle.create"]);

    let (s, dup) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": profile("NEW.person@example.com")})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(dup["errorCode"], "E0000001");
    assert!(
        dup["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("login: An object with this field already exists")
    );
    let (s, missing) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": {"login": "x@example.com"}})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(missing["errorCode"], "E0000001");
    assert_eq!(missing["errorCauses"].as_array().unwrap().len(), 3);
    let (s, bad) = send(reqwest::Method::POST, &url, Some(json!([1]))).await;
    assert_eq!((s, bad["errorCode"].as_str()), (400, Some("E0000003")));
    assert_eq!(sim.log_events().len(), 3, "refused writes log nothing");

    let created = sim.create_user(map(profile("api.person@example.com")), false);
    assert!(created.is_some());
    assert!(
        sim.create_user(map(profile("api.person@example.com")), true)
            .is_none()
    );
}

#[tokio::test]
async fn profile_updates_merge_or_replace_and_name_changed_attributes() {
    let (sim, base) = start(100, 10).await;
    let id = user_with(&sim, "ACTIVE");
    let before = sim
        .users()
        .into_iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap();
    let url = format!("{base}/api/v1/users/{id}");
    let newest = sim
        .users()
        .iter()
        .filter_map(|u| u["lastUpdated"].as_str().map(str::to_string))
        .max()
        .unwrap();

    let (s, after) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": {"title": "Chief Tester", "city": null}})),
    )
    .await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["profile"]["title"], "Chief Tester");
    assert!(after["profile"].get("city").is_none());
    assert_eq!(after["profile"]["email"], before["profile"]["email"]);
    let e = sim.log_events().pop().unwrap();
    assert_eq!(e["eventType"], "user.account.update_profile");
    let expected = if before["profile"].get("city").is_some() {
        "city,title"
    } else {
        "title"
    };
    assert_eq!(
        e["debugContext"]["debugData"]["changedAttributes"],
        expected
    );
    assert_eq!(e["published"], after["lastUpdated"]);

    let (changed, _) = walk(&format!(
        "{base}/api/v1/users?filter=lastUpdated%20gt%20%22{newest}%22"
    ))
    .await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["id"], id.as_str());

    let full = json!({"profile": {"login": "replaced@example.com", "email": "replaced@example.com",
        "firstName": "Re", "lastName": "Placed"}});
    let (s, replaced) = send(reqwest::Method::PUT, &url, Some(full)).await;
    assert_eq!(s, 200, "{replaced}");
    assert_eq!(replaced["profile"].as_object().unwrap().len(), 4);
    let e = sim.log_events().pop().unwrap();
    assert_eq!(target(&e, "User")["alternateId"], "replaced@example.com");
    let changed = e["debugContext"]["debugData"]["changedAttributes"]
        .as_str()
        .unwrap();
    assert!(
        changed.contains("login") && changed.contains("firstName"),
        "{changed}"
    );
    let (s, _) = send(
        reqwest::Method::GET,
        &format!("{base}/api/v1/users/replaced@example.com"),
        None,
    )
    .await;
    assert_eq!(s, 200, "the login index follows the change");

    let (s, err) = send(
        reqwest::Method::PUT,
        &url,
        Some(json!({"profile": {"login": "only@example.com"}})),
    )
    .await;
    assert_eq!((s, err["errorCode"].as_str()), (400, Some("E0000001")));
    let (s, err) = send(
        reqwest::Method::POST,
        &format!("{base}/api/v1/users/00unobody"),
        Some(json!({"profile": {"title": "x"}})),
    )
    .await;
    assert_eq!((s, err["errorCode"].as_str()), (404, Some("E0000007")));

    let mut full = map(profile("api.replaced@example.com"));
    full.insert("title".into(), "Kept".into());
    assert!(sim.replace_profile(&id, full));
    assert!(!sim.replace_profile(&id, map(json!({"login": "a@b.c"}))));
}

#[tokio::test]
async fn lifecycle_follows_okta_status_rules() {
    let (sim, base) = start(200, 10).await;
    let id = user_with(&sim, "ACTIVE");
    let lc = |action: &str| format!("{base}/api/v1/users/{id}/lifecycle/{action}");
    let status = |sim: &Simulator| {
        sim.users()
            .into_iter()
            .find(|u| u["id"] == id.as_str())
            .unwrap()
    };
    let before = status(&sim);

    let (s, err) = send(reqwest::Method::POST, &lc("unsuspend"), None).await;
    assert_eq!((s, err["errorCode"].as_str()), (400, Some("E0000001")));
    assert!(
        err["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("ACTIVE")
    );
    assert_eq!(
        send(reqwest::Method::POST, &lc("suspend"), None).await.0,
        200
    );
    let suspended = status(&sim);
    assert_eq!(suspended["status"], "SUSPENDED");
    assert!(suspended["lastUpdated"].as_str() > before["lastUpdated"].as_str());
    assert_eq!(suspended["statusChanged"], suspended["lastUpdated"]);
    assert_eq!(
        send(reqwest::Method::POST, &lc("activate"), None).await.0,
        400
    );
    assert_eq!(
        send(reqwest::Method::POST, &lc("unsuspend"), None).await.0,
        200
    );
    assert_eq!(
        send(reqwest::Method::POST, &lc("deactivate"), None).await.0,
        200
    );
    assert_eq!(status(&sim)["status"], "DEPROVISIONED");
    assert_eq!(
        send(reqwest::Method::POST, &lc("deactivate"), None).await.0,
        400
    );
    assert_eq!(
        send(reqwest::Method::POST, &lc("reactivate"), None).await.0,
        200
    );
    assert_eq!(status(&sim)["status"], "ACTIVE");
    assert_eq!(
        send(reqwest::Method::POST, &lc("explode"), None).await.0,
        404
    );
    let (s, _) = send(
        reqwest::Method::POST,
        &format!("{base}/api/v1/users/00unobody/lifecycle/suspend"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        types(&sim.log_events()),
        vec![
            "user.lifecycle.suspend",
            "user.lifecycle.unsuspend",
            "user.lifecycle.deactivate",
            "user.lifecycle.reactivate"
        ]
    );
    assert_eq!(
        sim.log_events()[0]["debugContext"]["debugData"]["requestUri"],
        format!("/api/v1/users/{id}/lifecycle/suspend")
    );

    let staged = user_with(&sim, "STAGED");
    assert!(!sim.suspend_user(&staged));
    assert!(sim.activate_user(&staged));
    assert!(sim.suspend_user(&staged));
    assert!(sim.unsuspend_user(&staged));
    assert!(sim.deactivate_user(&staged));
    assert!(
        sim.deactivate_user(&staged),
        "already DEPROVISIONED still counts as found"
    );
    assert!(sim.reactivate_user(&staged));
    assert!(!sim.activate_user("00unobody"));
    let n = sim.log_events().len();
    assert_eq!(n, 4 + 5, "the no-op deactivation logs nothing");
}

#[tokio::test]
async fn delete_deactivates_first_then_deletes_without_membership_events() {
    let (sim, base) = start(300, 20).await;
    let id = sim
        .users()
        .into_iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().unwrap().to_string())
        .find(|id| sim.user_groups(id).len() >= 2)
        .unwrap();
    let groups = sim.user_groups(&id);
    let before: Vec<Value> = sim.groups();
    let url = format!("{base}/api/v1/users/{id}");

    let (s, body) = send(reqwest::Method::DELETE, &url, None).await;
    assert_eq!((s, body), (204, Value::Null));
    assert_eq!(
        send(reqwest::Method::GET, &url, None).await.1["status"],
        "DEPROVISIONED"
    );
    assert_eq!(
        sim.user_groups(&id),
        groups,
        "deactivation keeps memberships"
    );
    assert_eq!(send(reqwest::Method::DELETE, &url, None).await.0, 204);
    assert_eq!(send(reqwest::Method::GET, &url, None).await.0, 404);
    assert_eq!(send(reqwest::Method::DELETE, &url, None).await.0, 404);
    for g in &groups {
        assert!(!sim.group_members(g).contains(&id));
        let old = before.iter().find(|x| x["id"] == g.as_str()).unwrap();
        let new = sim
            .groups()
            .into_iter()
            .find(|x| x["id"] == g.as_str())
            .unwrap();
        assert!(new["lastMembershipUpdated"].as_str() > old["lastMembershipUpdated"].as_str());
    }
    let events = sim.log_events();
    assert_eq!(
        types(&events),
        vec![
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
            "user.lifecycle.delete.completed"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| target(e, "User")["id"] == id.as_str())
    );

    let other = user_with(&sim, "ACTIVE");
    assert!(sim.delete_user(&other));
    assert!(!sim.delete_user(&other));
    assert_eq!(
        types(&sim.log_events()[3..]),
        vec![
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
            "user.lifecycle.delete.completed"
        ]
    );
}

#[tokio::test]
async fn membership_changes_log_only_real_changes_with_targets_by_type() {
    let (sim, base) = start(300, 60).await;
    let gid = sim.create_group("Members", "");
    let uid = user_with(&sim, "ACTIVE");
    let url = format!("{base}/api/v1/groups/{gid}/users/{uid}");
    let gmax = sim
        .groups()
        .iter()
        .filter_map(|g| g["lastMembershipUpdated"].as_str().map(str::to_string))
        .max()
        .unwrap();

    assert_eq!(send(reqwest::Method::PUT, &url, None).await.0, 204);
    assert_eq!(send(reqwest::Method::PUT, &url, None).await.0, 204);
    assert_eq!(sim.group_members(&gid), vec![uid.clone()]);
    let (g, _) = walk(&format!(
        "{base}/api/v1/groups?filter=lastMembershipUpdated%20gt%20%22{gmax}%22"
    ))
    .await;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0]["id"], gid.as_str());
    assert_eq!(send(reqwest::Method::DELETE, &url, None).await.0, 204);
    assert_eq!(send(reqwest::Method::DELETE, &url, None).await.0, 204);
    assert!(sim.group_members(&gid).is_empty());

    let events = sim.log_events();
    assert_eq!(
        types(&events),
        vec![
            "group.lifecycle.create",
            "group.user_membership.add",
            "group.user_membership.remove"
        ]
    );
    let (add, remove) = (&events[1], &events[2]);
    assert_eq!(add["target"][0]["type"], "User");
    assert_eq!(
        remove["target"][0]["type"], "UserGroup",
        "UserGroup first on remove"
    );
    for e in [add, remove] {
        assert_eq!(target(e, "User")["id"], uid.as_str());
        let g = target(e, "UserGroup");
        assert_eq!(g["id"], gid.as_str());
        assert_eq!(g["alternateId"], "unknown");
        assert_eq!(g["displayName"], "Members");
    }

    for (path, code) in [
        (format!("{base}/api/v1/groups/00gnope/users/{uid}"), 404),
        (format!("{base}/api/v1/groups/{gid}/users/00unope"), 404),
    ] {
        assert_eq!(
            send(reqwest::Method::PUT, &path, None).await.0,
            code,
            "{path}"
        );
    }
    for kind in ["APP_GROUP", "BUILT_IN"] {
        let g = group_of(&sim, kind);
        let path = format!(
            "{base}/api/v1/groups/{}/users/{uid}",
            g["id"].as_str().unwrap()
        );
        let (s, err) = send(reqwest::Method::PUT, &path, None).await;
        assert_eq!(
            (s, err["errorCode"].as_str()),
            (403, Some("E0000006")),
            "{kind}"
        );
        assert!(!sim.remove_member(g["id"].as_str().unwrap(), &uid));
    }
    assert_eq!(sim.log_events().len(), 3);
}

#[tokio::test]
async fn groups_are_created_renamed_and_deleted_with_events() {
    let (sim, base) = start(300, 60).await;
    let url = format!("{base}/api/v1/groups");
    let (s, group) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": {"name": "Platform", "description": "Everyone on platform"}})),
    )
    .await;
    assert_eq!(s, 200, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    assert!(gid.starts_with("00g") && gid.len() == 20);
    assert_eq!(group["type"], "OKTA_GROUP");
    let (s, dup) = send(
        reqwest::Method::POST,
        &url,
        Some(json!({"profile": {"name": "Platform"}})),
    )
    .await;
    assert_eq!((s, dup["errorCode"].as_str()), (400, Some("E0000001")));
    assert_eq!(
        send(reqwest::Method::POST, &url, Some(json!({"profile": {}})))
            .await
            .0,
        400
    );

    let newest = sim
        .groups()
        .iter()
        .filter_map(|g| g["lastUpdated"].as_str().map(str::to_string))
        .max()
        .unwrap();
    let (s, renamed) = send(
        reqwest::Method::PUT,
        &format!("{url}/{gid}"),
        Some(json!({"profile": {"name": "Platform Team", "description": "Everyone on platform"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(renamed["profile"]["name"], "Platform Team");
    let (g, _) = walk(&format!("{url}?filter=lastUpdated%20gt%20%22{newest}%22")).await;
    assert_eq!(g.len(), 1);
    let e = sim.log_events().pop().unwrap();
    assert_eq!(e["eventType"], "group.profile.update");
    assert_eq!(e["debugContext"]["debugData"]["changedAttributes"], "name");
    assert_eq!(target(&e, "UserGroup")["displayName"], "Platform Team");
    let (_, q) = send(reqwest::Method::GET, &format!("{url}?q=Platform%20T"), None).await;
    assert_eq!(q.as_array().unwrap().len(), 1);

    let member = user_with(&sim, "ACTIVE");
    assert!(sim.add_member(&gid, &member));
    assert_eq!(
        send(reqwest::Method::DELETE, &format!("{url}/{gid}"), None)
            .await
            .0,
        204
    );
    assert!(!sim.user_groups(&member).contains(&gid));
    assert_eq!(
        send(reqwest::Method::GET, &format!("{url}/{gid}"), None)
            .await
            .0,
        404
    );
    let everyone = group_of(&sim, "BUILT_IN")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        send(reqwest::Method::DELETE, &format!("{url}/{everyone}"), None)
            .await
            .0,
        403
    );
    let app = group_of(&sim, "APP_GROUP")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!sim.rename_group(&app, "Hijacked"));
    assert_eq!(
        types(&sim.log_events()),
        vec![
            "group.lifecycle.create",
            "group.profile.update",
            "group.user_membership.add",
            "group.lifecycle.delete"
        ]
    );

    let a = sim.create_group("Twice", "");
    let b = sim.create_group("Twice", "");
    assert_ne!(a, b);
    assert!(sim.rename_group(&a, "Once"));
    assert!(!sim.rename_group(&b, "Once"));
    assert!(sim.delete_group(&a));
    assert!(!sim.delete_group(&a));
}

#[tokio::test]
async fn writes_need_credentials() {
    let (sim, base) = start(30, 8).await;
    let resp = client()
        .post(format!("{base}/api/v1/groups"))
        .json(&json!({"profile": {"name": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(sim.log_events().is_empty());
}

/// What the test receiver saw and how it answers.
#[derive(Default)]
struct Receiver {
    posts: Vec<(HeaderMap, Value)>,
    /// Statuses for the next POSTs (then 200).
    answers: VecDeque<u16>,
    /// Answer verification with a wrong value.
    wrong_verification: bool,
    gets: Vec<HeaderMap>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(State(r): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut r = r.lock().unwrap();
    r.posts
        .push((headers, serde_json::from_str(&body).unwrap()));
    let status = r.answers.pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap().into_response()
}

async fn verify(State(r): State<Shared>, headers: HeaderMap) -> Response {
    let mut r = r.lock().unwrap();
    let challenge = headers["x-okta-verification-challenge"]
        .to_str()
        .unwrap()
        .to_string();
    r.gets.push(headers);
    let value = if r.wrong_verification {
        "nope".to_string()
    } else {
        challenge
    };
    axum::Json(json!({ "verification": value })).into_response()
}

async fn receiver() -> (Shared, String) {
    let state = Shared::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive).get(verify))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, format!("http://{addr}/hook"))
}

/// Wait until the hook counters satisfy `done` (deliveries are asynchronous).
async fn settle(sim: &Simulator, done: impl Fn((u64, u64, u64, u64)) -> bool) {
    for _ in 0..500 {
        if done(sim.hook_deliveries()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("hook deliveries stuck at {:?}", sim.hook_deliveries());
}

fn hook(url: &str) -> EventHook {
    EventHook {
        auth_header: Some(("Authorization".into(), "Bearer s3cr3t".into())),
        ..EventHook::new(url)
    }
}

#[tokio::test]
async fn hooks_deliver_eligible_events_in_okta_envelopes() {
    let (sim, _base) = start(100, 10).await;
    let (rx, url) = receiver().await;
    sim.set_event_hook(Some(hook(&url)));
    let id = sim
        .create_user(map(profile("hooked@example.com")), true)
        .unwrap();
    assert!(sim.deactivate_user(&id));
    assert!(sim.delete_user(&id));
    settle(&sim, |(sent, ..)| sent == 3).await;
    assert_eq!(sim.hook_deliveries(), (3, 0, 0, 0));

    let posts = std::mem::take(&mut rx.lock().unwrap().posts);
    let logged = sim.log_events();
    let (headers, first) = &posts[0];
    assert_eq!(headers["authorization"], "Bearer s3cr3t");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["accept"], "application/json");
    assert_eq!(first["eventType"], "com.okta.event_hook");
    assert_eq!(first["eventTypeVersion"], "1.0");
    assert_eq!(first["cloudEventsVersion"], "0.1");
    assert_eq!(first["contentType"], "application/json");
    assert!(
        first["source"]
            .as_str()
            .unwrap()
            .contains("/api/v1/eventHooks/who")
    );
    assert!(first["eventTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        first["data"]["events"],
        json!(logged[..2]),
        "create + activate, one POST"
    );
    assert_eq!(posts[1].1["data"]["events"], json!([logged[2]]));
    assert_eq!(
        types(&logged[3..]),
        vec![
            "user.lifecycle.delete.initiated",
            "user.lifecycle.delete.completed"
        ]
    );
    assert_eq!(
        posts[2].1["data"]["events"],
        json!([logged[3]]),
        "delete.completed is not hook-eligible"
    );
    let ids: std::collections::HashSet<&str> = posts
        .iter()
        .map(|(_, b)| b["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);

    sim.set_event_hook(None);
    sim.create_group("After", "");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.lock().unwrap().posts.is_empty());
}

#[tokio::test]
async fn hooks_drop_duplicate_and_batch_as_configured() {
    let (sim, _base) = start(100, 10).await;
    let (rx, url) = receiver().await;
    sim.set_event_hook(Some(EventHook {
        drop_percent: 100,
        ..hook(&url)
    }));
    for i in 0..3 {
        sim.create_group(&format!("Dropped {i}"), "");
    }
    settle(&sim, |(_, dropped, ..)| dropped == 3).await;
    assert!(rx.lock().unwrap().posts.is_empty());

    sim.set_event_hook(Some(EventHook {
        duplicate_percent: 100,
        ..hook(&url)
    }));
    for i in 0..2 {
        sim.create_group(&format!("Doubled {i}"), "");
    }
    settle(&sim, |(sent, _, dup, _)| sent == 4 && dup == 2).await;
    let posts = std::mem::take(&mut rx.lock().unwrap().posts);
    assert_eq!(posts.len(), 4);
    assert_eq!(
        posts[0].1, posts[1].1,
        "a duplicate is the same delivery again"
    );
    assert_ne!(posts[1].1["eventId"], posts[2].1["eventId"]);

    sim.set_event_hook(Some(EventHook {
        batch_window: Duration::from_millis(300),
        ..hook(&url)
    }));
    for i in 0..3 {
        sim.create_group(&format!("Batched {i}"), "");
    }
    settle(&sim, |(sent, ..)| sent == 5).await;
    let posts = std::mem::take(&mut rx.lock().unwrap().posts);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1["data"]["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn hooks_retry_once_after_5xx_but_not_after_4xx() {
    let (sim, _base) = start(100, 10).await;
    let (rx, url) = receiver().await;
    sim.set_event_hook(Some(hook(&url)));
    rx.lock().unwrap().answers.extend([500]);
    sim.create_group("Retried", "");
    settle(&sim, |(sent, ..)| sent == 1).await;
    let posts = std::mem::take(&mut rx.lock().unwrap().posts);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].1, posts[1].1);

    rx.lock().unwrap().answers.extend([400]);
    sim.create_group("Rejected", "");
    settle(&sim, |(.., failed)| failed == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.lock().unwrap().posts.len(), 1, "4xx is not retried");

    rx.lock().unwrap().answers.extend([503, 502]);
    sim.create_group("Twice failed", "");
    settle(&sim, |(.., failed)| failed == 2).await;
    assert_eq!(rx.lock().unwrap().posts.len(), 3, "at most one retry");
    assert_eq!(sim.hook_deliveries(), (1, 0, 0, 2));
}

#[tokio::test]
async fn verification_echoes_the_challenge_with_the_auth_header() {
    let (sim, _base) = start(30, 8).await;
    assert!(sim.verify_event_hook().await.is_err(), "no hook set");
    let (rx, url) = receiver().await;
    sim.set_event_hook(Some(hook(&url)));
    sim.verify_event_hook().await.unwrap();
    {
        let r = rx.lock().unwrap();
        assert_eq!(r.gets.len(), 1);
        assert_eq!(r.gets[0]["authorization"], "Bearer s3cr3t");
        assert!(r.gets[0]["x-okta-verification-challenge"].len() >= 20);
    }
    rx.lock().unwrap().wrong_verification = true;
    let err = sim.verify_event_hook().await.unwrap_err();
    assert!(err.contains("verification"), "{err}");
    sim.set_event_hook(Some(EventHook::new("http://127.0.0.1:9/hook")));
    assert!(sim.verify_event_hook().await.is_err());
}

#[test]
fn hook_headers_parse_as_name_colon_value() {
    assert_eq!(
        EventHook::parse_header("Authorization: Bearer xyz"),
        Ok(("Authorization".into(), "Bearer xyz".into()))
    );
    assert_eq!(
        EventHook::parse_header("X-Key:abc"),
        Ok(("X-Key".into(), "abc".into()))
    );
    for bad in [
        "Authorization Bearer",
        ": x",
        "Bad Name: x",
        "X-Empty:",
        "X: a\u{7f}",
    ] {
        assert!(EventHook::parse_header(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hooks_work_from_synchronous_callers() {
    let sim = Simulator::new(super::SimOptions {
        users: 30,
        groups: Some(8),
        seed: 5,
        token: TOKEN.into(),
    });
    // Nothing listens on port 9: the delivery fails without the caller ever blocking.
    sim.set_event_hook(Some(EventHook::new("http://127.0.0.1:9/hook")));
    sim.create_group("Sync", "");
    for _ in 0..300 {
        if sim.hook_deliveries().3 == 1 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("delivery never attempted: {:?}", sim.hook_deliveries());
}
