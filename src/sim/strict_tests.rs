//! Tests of the unkind behaviours: `search`, 400s for what Okta refuses, `_links` by
//! representation, sign-ins, scoped admin roles, late and failed log events, imports,
//! expiring cursors, churn and `next` links on a second host.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use super::tests::{get, links, start, walk};

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

async fn search(base: &str, what: &str, expr: &str, extra: &str) -> (u16, Value) {
    let (status, _, body) = get(&format!("{base}/api/v1/{what}?search={}{extra}", enc(expr))).await;
    (status.as_u16(), body)
}

fn assert_400(status: u16, body: &Value, code: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["errorSummary"].is_string());
    assert!(
        body["errorCauses"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn user_search_follows_okta_semantics() {
    let (sim, base) = start(300, 20).await;
    let users = sim.users();
    let a = &users[5];
    let title = a["profile"]["title"].as_str().unwrap();

    // eq on any profile attribute, case-insensitive value; DEPROVISIONED included
    let (s, body) = search(
        &base,
        "users",
        &format!("profile.title eq \"{}\"", title.to_uppercase()),
        "&limit=200",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let want: Vec<&Value> = users
        .iter()
        .filter(|u| u["profile"]["title"] == title)
        .collect();
    assert_eq!(body.as_array().unwrap().len(), want.len().min(200));
    let (all, _) = walk(&format!(
        "{base}/api/v1/users?search={}&limit=50",
        enc("status pr")
    ))
    .await;
    assert_eq!(all.len(), users.len(), "search returns every status");
    assert!(all.iter().any(|u| u["status"] == "DEPROVISIONED"));

    // sw, co where allowed, dates, not, and/or
    let login = a["profile"]["login"].as_str().unwrap();
    let (_, body) = search(
        &base,
        "users",
        &format!(
            "profile.login sw \"{}\"",
            login.chars().take(4).collect::<String>()
        ),
        "",
    )
    .await;
    assert!(ids(body.as_array().unwrap()).contains(&a["id"].as_str().unwrap().to_string()));
    let (s, _) = search(
        &base,
        "users",
        &format!(
            "profile.lastName co \"{}\"",
            a["profile"]["lastName"]
                .as_str()
                .unwrap()
                .chars()
                .skip(1)
                .collect::<String>()
        ),
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = search(&base, "users", "profile.title co \"eng\"", "").await;
    assert_400(s, &body, "E0000031");
    let (_, body) = search(
        &base,
        "users",
        "created lt \"2000-01-01T00:00:00.000Z\"",
        "",
    )
    .await;
    assert!(body.as_array().unwrap().is_empty());
    let (_, body) = search(
        &base,
        "users",
        "not (status eq \"active\") and lastUpdated gt \"2000-01-01T00:00:00.000Z\"",
        "&limit=200",
    )
    .await;
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|u| u["status"] != "ACTIVE")
    );
    assert!(!body.as_array().unwrap().is_empty());
    let (_, body) = search(
        &base,
        "users",
        &format!(
            "id eq \"{}\" or type.id eq \"nope\"",
            a["id"].as_str().unwrap()
        ),
        "",
    )
    .await;
    assert_eq!(
        ids(body.as_array().unwrap()),
        vec![a["id"].as_str().unwrap().to_string()]
    );

    // what search refuses: ne, ew, an unknown attribute, bad syntax, a bad date
    for bad in [
        "status ne \"ACTIVE\"",
        "profile.login ew \"x\"",
        "profile.nope eq \"x\"",
        "status eq",
        "lastLogin gt \"2020-01-01T00:00:00.000Z\"",
    ] {
        let (s, body) = search(&base, "users", bad, "").await;
        assert_400(s, &body, "E0000031");
    }
    let (s, body) = search(&base, "users", "created gt \"yesterday\"", "").await;
    assert_400(s, &body, "E0000001");

    // custom attributes are searchable once a user has one
    let id = a["id"].as_str().unwrap();
    let mut patch = serde_json::Map::new();
    patch.insert("badgeId".into(), "B-1815".into());
    assert!(sim.update_profile(id, patch));
    let (_, body) = search(&base, "users", "profile.badgeId eq \"b-1815\"", "").await;
    assert_eq!(ids(body.as_array().unwrap()), vec![id.to_string()]);

    // sortBy / sortOrder, ties by id; pages follow next links
    let (items, pages) = walk(&format!(
        "{base}/api/v1/users?search={}&sortBy=profile.lastName&sortOrder=desc&limit=40",
        enc("status pr")
    ))
    .await;
    assert_eq!(items.len(), users.len());
    assert!(pages > 1);
    let names: Vec<String> = items
        .iter()
        .map(|u| u["profile"]["lastName"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "sorted descending");
    let (s, body) = search(&base, "users", "status pr", "&sortBy=profile.nope").await;
    assert_400(s, &body, "E0000031");
    let (s, _, body) = get(&format!("{base}/api/v1/users?sortBy=id")).await;
    assert_400(s.as_u16(), &body, "E0000031");
    let (s, body) = search(
        &base,
        "users",
        "status pr",
        "&filter=status%20eq%20%22ACTIVE%22",
    )
    .await;
    assert_400(s, &body, "E0000031");
}

#[tokio::test]
async fn group_search_covers_profile_and_top_level_attributes() {
    let (sim, base) = start(200, 30).await;
    let groups = sim.groups();
    let g = &groups[3];
    let name = g["profile"]["name"].as_str().unwrap();
    let (s, body) = search(
        &base,
        "groups",
        &format!("profile.name eq \"{}\"", name.to_lowercase()),
        "",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(ids(body.as_array().unwrap()).contains(&g["id"].as_str().unwrap().to_string()));
    let (_, body) = search(&base, "groups", "type eq \"APP_GROUP\"", "&limit=200").await;
    let apps = groups.iter().filter(|x| x["type"] == "APP_GROUP").count();
    assert_eq!(body.as_array().unwrap().len(), apps);
    let (s, _) = search(
        &base,
        "groups",
        &format!(
            "profile.name co \"{}\"",
            name.chars().skip(1).take(2).collect::<String>()
        ),
        "",
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = search(&base, "groups", "type co \"APP\"", "").await;
    assert_400(s, &body, "E0000031");
    let (s, body) = search(
        &base,
        "groups",
        "lastMembershipUpdated gt \"2000-01-01T00:00:00.000Z\"",
        "&sortBy=created",
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn unknown_parameters_are_400s_unless_switched_off() {
    let (sim, base) = start(50, 10).await;
    let gid = sim.groups()[0]["id"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/users?limit=5&serach=x".to_string(),
        "/api/v1/groups?filters=x".to_string(),
        format!("/api/v1/groups/{gid}/users?filter=x"),
        "/api/v1/logs?sort=ASCENDING".to_string(),
    ] {
        let (s, _, body) = get(&format!("{base}{path}")).await;
        assert_400(s.as_u16(), &body, "E0000031");
    }
    let (s, _, body) = get(&format!(
        "{base}/api/v1/groups?filter={}",
        enc("profile.name eq \"x\"")
    ))
    .await;
    assert_400(s.as_u16(), &body, "E0000031");
    sim.set_reject_unknown_params(false);
    let (s, _, _) = get(&format!("{base}/api/v1/users?limit=5&serach=x")).await;
    assert_eq!(s, 200);
    // logs q: keywords
    assert!(sim.deactivate_user(sim.users()[0]["id"].as_str().unwrap()));
    let (s, _, body) = get(&format!("{base}/api/v1/logs?q=deactivate")).await;
    assert_eq!(s, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn list_items_link_only_self_and_single_users_link_their_lifecycle() {
    let (sim, base) = start(50, 10).await;
    let (_, _, page) = get(&format!("{base}/api/v1/users?limit=3")).await;
    let item = &page[0];
    let keys: Vec<&String> = item["_links"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["self"]);
    let id = item["id"].as_str().unwrap();
    let (_, _, one) = get(&format!("{base}/api/v1/users/{id}")).await;
    let links = one["_links"].as_object().unwrap();
    assert!(
        links.contains_key("self")
            && links.contains_key("deactivate")
            && links.contains_key("schema"),
        "{one}"
    );
    assert_eq!(links["deactivate"]["method"], "POST");
    assert!(
        links["resetPassword"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/users/{id}/lifecycle/reset_password"))
    );
    assert_ne!(&one, item);
    sim.set_full_links_on_get(false);
    let (_, _, one) = get(&format!("{base}/api/v1/users/{id}")).await;
    assert_eq!(&one, item);
}

#[tokio::test]
async fn sign_ins_move_last_login_and_log_session_start_only() {
    let (sim, base) = start(60, 10).await;
    let u = sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE")
        .unwrap();
    let id = u["id"].as_str().unwrap();
    assert!(sim.sign_in(id));
    let after: Value = sim.users().into_iter().find(|x| x["id"] == id).unwrap();
    assert_ne!(after["lastLogin"], u["lastLogin"]);
    assert_eq!(
        after["lastUpdated"], u["lastUpdated"],
        "a sign-in is not an admin change"
    );
    let events = sim.log_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventType"], "user.session.start");
    assert_eq!(events[0]["actor"]["id"], id);
    let dep = sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "DEPROVISIONED")
        .unwrap();
    assert!(!sim.sign_in(dep["id"].as_str().unwrap()));

    sim.start_sign_ins(Duration::from_millis(20), 2).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.stop_sign_ins();
    let n = sim.log_events().len();
    assert!(n > 3, "{n}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.log_events().len(), n, "stopped");
    let (_, _, page) = get(&format!(
        "{base}/api/v1/logs?filter={}",
        enc("eventType eq \"user.session.start\"")
    ))
    .await;
    assert_eq!(page.as_array().unwrap().len(), n);
}

#[tokio::test]
async fn a_scoped_admin_sees_only_its_groups_and_their_members() {
    let (sim, base) = start(200, 20).await;
    let g = sim
        .groups()
        .into_iter()
        .find(|g| {
            g["type"] == "OKTA_GROUP" && !sim.group_members(g["id"].as_str().unwrap()).is_empty()
        })
        .unwrap();
    let gid = g["id"].as_str().unwrap().to_string();
    assert!(
        sim.scope_admin_to_groups(Some(&[
            g["profile"]["name"].as_str().unwrap(),
            "no such group"
        ])) == vec!["no such group".to_string()]
    );
    let members: HashSet<String> = sim.group_members(&gid).into_iter().collect();
    let (listed, _) = walk(&format!(
        "{base}/api/v1/users?filter={}&limit=50",
        enc("lastUpdated gt \"2000-01-01T00:00:00.000Z\"")
    ))
    .await;
    assert_eq!(ids(&listed).into_iter().collect::<HashSet<_>>(), members);
    let outsider = sim
        .users()
        .into_iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .find(|id| !members.contains(id))
        .unwrap();
    let (s, _, body) = get(&format!("{base}/api/v1/users/{outsider}")).await;
    assert_eq!(
        (s.as_u16(), body["errorCode"].as_str()),
        (403, Some("E0000006"))
    );
    let insider = members.iter().next().unwrap();
    let (s, _, _) = get(&format!("{base}/api/v1/users/{insider}")).await;
    assert_eq!(s, 200);
    let (_, _, groups) = get(&format!("{base}/api/v1/groups")).await;
    assert_eq!(ids(groups.as_array().unwrap()), vec![gid.clone()]);
    let other = sim
        .groups()
        .into_iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .find(|id| *id != gid)
        .unwrap();
    for path in [
        format!("/api/v1/groups/{other}"),
        format!("/api/v1/groups/{other}/users"),
    ] {
        let (s, _, body) = get(&format!("{base}{path}")).await;
        assert_eq!(
            (s.as_u16(), body["errorCode"].as_str()),
            (403, Some("E0000006")),
            "{path}"
        );
    }
    let (_, _, theirs) = get(&format!("{base}/api/v1/users/{insider}/groups")).await;
    assert_eq!(ids(theirs.as_array().unwrap()), vec![gid.clone()]);
    sim.scope_admin_to_groups(None);
    let (s, _, _) = get(&format!("{base}/api/v1/users/{outsider}")).await;
    assert_eq!(s, 200);
}

/// Poll the log from the start until `want` events came, following `next`.
async fn poll_all(base: &str, want: usize) -> Vec<Value> {
    let since = super::time::format(super::time::now() - 60_000);
    let mut url = format!("{base}/api/v1/logs?since={since}&limit=3");
    let mut got = Vec::new();
    for _ in 0..400 {
        let (s, h, page) = get(&url).await;
        assert_eq!(s, 200, "{page}");
        got.extend(page.as_array().unwrap().iter().cloned());
        url = links(&h, "next").remove(0);
        if got.len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

#[tokio::test]
async fn delayed_events_arrive_late_and_out_of_order_but_none_is_lost() {
    let (sim, base) = start(100, 10).await;
    sim.set_log_delay(Duration::from_millis(400));
    let active: Vec<String> = sim
        .users()
        .into_iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().unwrap().to_string())
        .take(12)
        .collect();
    for id in &active {
        assert!(sim.suspend_user(id));
    }
    let (_, _, first) = get(&format!("{base}/api/v1/logs")).await;
    assert!(
        first.as_array().unwrap().len() < active.len(),
        "some are not readable yet"
    );
    let got = poll_all(&base, active.len()).await;
    assert_eq!(got.len(), active.len());
    let uuids: HashSet<&str> = got.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(uuids.len(), active.len(), "each once");
    let published: Vec<&str> = got
        .iter()
        .map(|e| e["published"].as_str().unwrap())
        .collect();
    let mut sorted = published.clone();
    sorted.sort();
    assert_ne!(
        published, sorted,
        "polling order is persistence order, not published order"
    );
}

#[tokio::test]
async fn failed_and_import_events() {
    let (sim, base) = start(200, 30).await;
    let g = sim
        .groups()
        .into_iter()
        .find(|g| g["type"] == "OKTA_GROUP")
        .unwrap();
    let gid = g["id"].as_str().unwrap();
    let u = sim
        .users()
        .into_iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .find(|u| !sim.group_members(gid).contains(u))
        .unwrap();
    assert!(sim.log_failed_membership_add(gid, &u));
    assert!(!sim.group_members(gid).contains(&u));
    let (_, _, page) = get(&format!(
        "{base}/api/v1/logs?filter={}",
        enc("outcome.result eq \"FAILURE\"")
    ))
    .await;
    assert_eq!(page[0]["eventType"], "group.user_membership.add");
    assert_eq!(page[0]["outcome"]["result"], "FAILURE");

    let app = sim
        .groups()
        .into_iter()
        .find(|g| g["type"] == "APP_GROUP")
        .unwrap();
    let aid = app["id"].as_str().unwrap();
    let u = sim
        .users()
        .into_iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .find(|u| !sim.group_members(aid).contains(u))
        .unwrap();
    assert_eq!(
        sim.import_membership(gid, std::slice::from_ref(&u), &[]),
        None,
        "only APP_GROUPs import"
    );
    assert_eq!(
        sim.import_membership(aid, std::slice::from_ref(&u), &[]),
        Some(1)
    );
    assert!(sim.group_members(aid).contains(&u));
    let events = sim.log_events();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        &types[1..],
        [
            "system.import.start",
            "system.import.group_membership.complete",
            "system.import.complete"
        ]
    );
    assert_eq!(events[2]["target"][0]["id"], aid);
    assert_eq!(events[2]["transaction"]["type"], "JOB");
}

#[tokio::test]
async fn cursors_expire_when_asked() {
    let (sim, base) = start(100, 10).await;
    sim.set_cursor_ttl(Some(Duration::from_millis(1500)));
    let (_, h, _) = get(&format!("{base}/api/v1/users?limit=10")).await;
    let next = links(&h, "next").remove(0);
    let (s, _, _) = get(&next).await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let (s, _, body) = get(&next).await;
    assert_400(s.as_u16(), &body, "E0000001");
    // a fresh walk still covers everything
    let (items, _) = walk(&format!("{base}/api/v1/users?limit=30")).await;
    assert_eq!(
        items.len(),
        sim.users()
            .iter()
            .filter(|u| u["status"] != "DEPROVISIONED")
            .count()
    );
}

#[tokio::test]
async fn churn_changes_the_org_until_stopped() {
    let (sim, base) = start(150, 15).await;
    let before: HashSet<String> = ids(&sim.users()).into_iter().collect();
    sim.start_churn(Duration::from_millis(5)).unwrap();
    let (items, _) = walk(&format!("{base}/api/v1/users?limit=10")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.stop_churn();
    let n = sim.churn_changes();
    assert!(n > 10, "{n}");
    let events = sim.log_events().len();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sim.log_events().len(), events, "stopped");
    assert!(!items.is_empty());
    let after: HashSet<String> = ids(&sim.users()).into_iter().collect();
    assert_ne!(before, after);
}

#[tokio::test]
async fn next_links_can_point_at_the_orgs_other_host() {
    let (sim, base) = start(60, 10).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = sim.serve_second_host(listener).unwrap();
    sim.set_next_link_base(Some(format!("http://{other}")));
    let (_, h, _) = get(&format!("{base}/api/v1/users?limit=10")).await;
    assert!(links(&h, "self")[0].starts_with(&base));
    let next = links(&h, "next").remove(0);
    assert!(
        next.starts_with(&format!("http://{other}/api/v1/users?")),
        "{next}"
    );
    let (items, _) = walk(&format!("{base}/api/v1/users?limit=10")).await;
    assert_eq!(
        items.len(),
        sim.users()
            .iter()
            .filter(|u| u["status"] != "DEPROVISIONED")
            .count()
    );
    let (_, h, _) = get(&format!("{base}/api/v1/logs")).await;
    assert!(links(&h, "next")[0].starts_with(&format!("http://{other}/")));
}
