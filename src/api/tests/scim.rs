//! SCIM 2.0 at `/scim/v2` over the fixture org (see `fixture_ops`: 00u4 suspended, 00u5
//! deprovisioned, 00u6 staged): discovery, filters, sorting, paging, projection, ETags, errors,
//! roles and the read-only refusal.

use serde_json::{Value, json};

use super::{Answer, Server};
use crate::access::{Policy, Role};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MIRROR: &str = "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User";

async fn get(s: &Server, path: &str) -> Answer {
    s.send(s.get(&format!("/scim/v2{path}"))).await
}

/// GET with `filter` (and other parameters) URL-encoded; asserts 200 and returns the ids.
async fn ids(s: &Server, params: &[(&str, &str)]) -> (u64, Vec<String>) {
    let a = s.send(s.get(&with_query("/scim/v2/Users", params))).await;
    assert_eq!(a.status, 200, "{params:?}: {}", a.body);
    let j = a.json();
    let ids = j["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    (j["totalResults"].as_u64().expect("totalResults"), ids)
}

async fn filtered(s: &Server, f: &str) -> Vec<String> {
    ids(s, &[("filter", f)]).await.1
}

/// `path?k=v&…`, URL-encoded.
fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{path}?{q}")
}

fn error(a: &Answer, status: u16) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.content_type.starts_with("application/scim+json"),
        "{}",
        a.content_type
    );
    let j = a.json();
    assert_eq!(
        j["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(j["status"], status.to_string());
    assert!(j["detail"].as_str().is_some_and(|d| !d.is_empty()));
    j
}

#[tokio::test]
async fn discovery_is_honest() {
    let s = Server::start().await;
    let a = get(&s, "/ServiceProviderConfig").await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("application/scim+json"));
    let c = a.json();
    assert_eq!(c["filter"]["supported"], true);
    assert_eq!(c["filter"]["maxResults"], 1000);
    assert_eq!(c["sort"]["supported"], true);
    assert_eq!(c["etag"]["supported"], true);
    assert_eq!(c["patch"]["supported"], false);
    assert_eq!(c["bulk"]["supported"], false);
    assert_eq!(c["changePassword"]["supported"], false);
    assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let rt = get(&s, "/ResourceTypes").await.json();
    assert_eq!(rt["totalResults"], 2);
    let user = get(&s, "/ResourceTypes/User").await.json();
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schemaExtensions"][0]["schema"], ENT);

    let schemas = get(&s, "/Schemas").await.json();
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .expect("schemas")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for want in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        ENT,
        MIRROR,
    ] {
        assert!(ids.contains(&want), "{want} in {ids:?}");
    }
    let one = get(&s, &format!("/Schemas/{ENT}")).await.json();
    assert_eq!(one["name"], "EnterpriseUser");
    error(&get(&s, "/Schemas/urn:nope").await, 404);
    error(&get(&s, "/Nope").await, 404);
}

#[tokio::test]
async fn a_user_has_every_mapped_attribute() {
    let s = Server::start().await;
    let a = get(&s, "/Users/00u3").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let u = a.json();
    assert_eq!(u["id"], "00u3");
    assert_eq!(u["userName"], "eng1@example.com");
    assert_eq!(u["name"]["givenName"], "00u3");
    assert_eq!(u["name"]["familyName"], "Test");
    assert_eq!(u["name"]["formatted"], "00u3 Test");
    assert_eq!(u["title"], "Engineer");
    assert_eq!(u["active"], true);
    assert_eq!(
        u["emails"][0],
        json!({"value": "eng1@example.com", "type": "work", "primary": true})
    );
    assert_eq!(u["addresses"][0]["locality"], "Berlin");
    assert_eq!(u["addresses"][0]["country"], "DE");
    let groups: Vec<&str> = u["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["value"].as_str())
        .collect();
    assert_eq!(groups, ["00g1", "00g2"]);
    assert_eq!(u["groups"][0]["display"], "Engineering");
    assert_eq!(u[ENT]["department"], "Engineering");
    assert_eq!(u[ENT]["employeeNumber"], "1003");
    assert_eq!(u[ENT]["manager"]["value"], "00u2");
    assert_eq!(u[ENT]["manager"]["displayName"], "00u2 Test");
    assert_eq!(u[ENT]["manager"]["$ref"], "/scim/v2/Users/00u2");
    assert_eq!(u[MIRROR]["status"], "ACTIVE");
    let chain: Vec<&str> = u[MIRROR]["managerChain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(chain, ["00u2", "00u1"]);
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["meta"]["location"], "/scim/v2/Users/00u3");
    assert_eq!(u["meta"]["created"], "2024-01-02T03:04:05.000Z");
    assert!(
        u["meta"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("W/\""))
    );

    // Custom attributes (hr, admin): the raw profile's non-standard keys.
    let ceo = get(&s, "/Users/00u1").await.json();
    assert_eq!(ceo[MIRROR]["customAttributes"]["badgeColour"], "gold");
    assert_eq!(ceo["displayName"], "Cara Chief");
    // Not active: staged, suspended, deprovisioned.
    for id in ["00u4", "00u5", "00u6"] {
        assert_eq!(
            get(&s, &format!("/Users/{id}")).await.json()["active"],
            false,
            "{id}"
        );
    }
    let g = get(&s, "/Groups/00g1").await.json();
    assert_eq!(g["displayName"], "Engineering");
    assert_eq!(g["members"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        g["members"][0],
        json!({"value": "00u2", "display": "00u2 Test",
        "$ref": "/scim/v2/Users/00u2", "type": "User"})
    );
    assert_eq!(g["meta"]["resourceType"], "Group");
    error(&get(&s, "/Groups/00gNope").await, 404);
    error(&get(&s, "/Users/00uNope").await, 404);
}

#[tokio::test]
async fn every_filter_operator_and_value_paths() {
    let s = Server::start().await;
    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ENG1@example.com""#, &["00u3"]),
        (r#"id eq "00u2""#, &["00u2"]),
        (r#"emails eq "vp@example.com""#, &["00u2"]),
        (r#"emails.value eq "vp@example.com""#, &["00u2"]),
        (r#"title ne "Engineer""#, &["00u1", "00u2", "00u6"]),
        (r#"userName co "eng""#, &["00u3", "00u4"]),
        (r#"userName sw "ceo""#, &["00u1"]),
        (r#"userName ew "new@example.com""#, &["00u6"]),
        (r#"title pr"#, &["00u2", "00u3", "00u4", "00u5"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber gt "1001""#,
            &["00u3"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ge "1001""#,
            &["00u1", "00u3"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber lt "1003""#,
            &["00u1"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber le "1003""#,
            &["00u1", "00u3"],
        ),
        (
            r#"meta.created gt "2024-01-01T00:00:00Z""#,
            &["00u1", "00u2", "00u3", "00u4", "00u5", "00u6"],
        ),
        (r#"meta.created lt "2024-01-01T00:00:00Z""#, &[]),
        (
            r#"active eq false and not (userName sw "gone")"#,
            &["00u4", "00u6"],
        ),
        (
            r#"(title eq "VP" or userName eq "ceo@example.com") and active eq true"#,
            &["00u1", "00u2"],
        ),
        (
            r#"emails[type eq "work" and value co "eng"]"#,
            &["00u3", "00u4"],
        ),
        (r#"emails[type eq "home"]"#, &[]),
        (
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT eq "engineering""#,
            &["00u2", "00u3", "00u4", "00u5"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "00u2""#,
            &["00u3", "00u4", "00u5"],
        ),
        (r#"groups.value eq "00g3""#, &["00u1"]),
        (r#"groups[value eq "00g1"] and title eq "VP""#, &["00u2"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User:status eq "SUSPENDED""#,
            &["00u4"],
        ),
        (r#"addresses.locality eq "paris""#, &["00u1"]),
        (r#"userName eq "nobody@example.com""#, &[]),
    ];
    for (f, want) in cases {
        assert_eq!(filtered(&s, f).await, *want, "{f}");
    }
    // Groups: eq on displayName (the index, case-insensitive), members value path, co.
    let g = |f: &'static str| {
        let s = &s;
        async move {
            let a = s
                .send(s.get(&with_query("/scim/v2/Groups", &[("filter", f)])))
                .await;
            assert_eq!(a.status, 200, "{}", a.body);
            a.json()["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(g(r#"displayName eq "engineering""#).await, ["00g1"]);
    assert_eq!(g(r#"members[value eq "00u1"]"#).await, ["00g2", "00g3"]);
    assert_eq!(g(r#"displayName co "e""#).await, ["00g1", "00g2", "00g3"]);
}

#[tokio::test]
async fn sorting_and_paging() {
    let s = Server::start().await;
    let (total, all) = ids(&s, &[]).await;
    assert_eq!(total, 6);
    assert_eq!(all, ["00u1", "00u2", "00u3", "00u4", "00u5", "00u6"]);
    let (_, by_login) = ids(&s, &[("sortBy", "userName")]).await;
    assert_eq!(by_login, ["00u1", "00u3", "00u4", "00u5", "00u6", "00u2"]);
    let (_, desc) = ids(&s, &[("sortBy", "userName"), ("sortOrder", "descending")]).await;
    assert_eq!(desc, ["00u2", "00u6", "00u5", "00u4", "00u3", "00u1"]);
    let (_, by_emp) = ids(
        &s,
        &[
            ("sortBy", format!("{ENT}:employeeNumber").as_str()),
            ("filter", "active eq true"),
        ],
    )
    .await;
    assert_eq!(by_emp, ["00u1", "00u3", "00u2"], "missing values sort last");

    let a = s.send(s.get("/scim/v2/Users?startIndex=2&count=2")).await;
    let j = a.json();
    assert_eq!(j["totalResults"], 6);
    assert_eq!(j["startIndex"], 2);
    assert_eq!(j["itemsPerPage"], 2);
    assert_eq!(j["Resources"][0]["id"], "00u2");
    assert_eq!(j["Resources"][1]["id"], "00u3");
    let (total, page) = ids(
        &s,
        &[
            ("filter", "active eq true"),
            ("startIndex", "3"),
            ("count", "5"),
        ],
    )
    .await;
    assert_eq!((total, page), (3, vec!["00u3".to_owned()]));
    let (total, page) = ids(
        &s,
        &[("sortBy", "userName"), ("startIndex", "5"), ("count", "1")],
    )
    .await;
    assert_eq!((total, page), (6, vec!["00u6".to_owned()]));
    let (total, page) = ids(&s, &[("count", "0")]).await;
    assert_eq!((total, page.len()), (6, 0));
    let (_, page) = ids(&s, &[("startIndex", "0"), ("count", "-3")]).await;
    assert!(page.is_empty());
    let (_, page) = ids(&s, &[("startIndex", "99")]).await;
    assert!(page.is_empty());
    // count is capped at 1000.
    let j = s.send(s.get("/scim/v2/Users?count=5000")).await.json();
    assert_eq!(j["itemsPerPage"], 6);
    // Paging through groups with count 1 gives the same order as one page.
    let mut paged = Vec::new();
    for i in 1..=3 {
        let j = s
            .send(s.get(&format!("/scim/v2/Groups?startIndex={i}&count=1")))
            .await
            .json();
        assert_eq!(j["totalResults"], 3);
        paged.push(j["Resources"][0]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(paged, ["00g1", "00g2", "00g3"]);

    // POST .search takes the same parameters in a body.
    let a = s
        .send(
            s.post("/scim/v2/Users/.search")
                .header("content-type", "application/scim+json")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                           "filter": "title eq \"Engineer\"", "sortBy": "userName",
                           "sortOrder": "descending", "startIndex": 1, "count": 2,
                           "attributes": ["userName"]})
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    assert_eq!(j["totalResults"], 3);
    assert_eq!(
        j["Resources"],
        json!([{"id": "00u5", "schemas": j["Resources"][0]["schemas"], "userName": "gone@example.com"},
        {"id": "00u4", "schemas": j["Resources"][1]["schemas"], "userName": "eng2@example.com"}])
    );
    let a = s
        .send(
            s.post("/scim/v2/Groups/.search")
                .header("content-type", "application/json")
                .body(json!({"filter": "displayName sw \"sales\""}).to_string()),
        )
        .await;
    assert_eq!(a.json()["Resources"][0]["id"], "00g3");
}

#[tokio::test]
async fn attributes_and_excluded_attributes() {
    let s = Server::start().await;
    let u = get(
        &s,
        &format!("/Users/00u3?attributes=userName,name.familyName,emails.value,{ENT}:department"),
    )
    .await
    .json();
    let keys: Vec<&String> = u.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 6, "{u}");
    assert_eq!(u["userName"], "eng1@example.com");
    assert_eq!(u["name"], json!({"familyName": "Test"}));
    assert_eq!(u["emails"], json!([{"value": "eng1@example.com"}]));
    assert_eq!(u[ENT], json!({"department": "Engineering"}));
    assert!(u["id"].is_string() && u["schemas"].is_array());

    let u = get(
        &s,
        &format!("/Users/00u3?excludedAttributes=groups,emails,{MIRROR},name.formatted,id"),
    )
    .await
    .json();
    assert!(u.get("groups").is_none() && u.get("emails").is_none() && u.get(MIRROR).is_none());
    assert_eq!(u["id"], "00u3", "id is always returned");
    assert!(u["name"].get("formatted").is_none() && u["name"]["givenName"] == "00u3");

    let j = s
        .send(s.get("/scim/v2/Groups?excludedAttributes=members"))
        .await
        .json();
    for g in j["Resources"].as_array().expect("groups") {
        assert!(g.get("members").is_none(), "{g}");
        assert!(g["displayName"].is_string());
        let count =
            &g["urn:ietf:params:scim:schemas:extension:oktamirror:2.0:Group"]["memberCount"];
        assert!(count.as_u64().is_some_and(|n| n > 0), "{g}");
    }
    let g = get(&s, "/Groups/00g2?attributes=displayName").await.json();
    assert!(g.get("members").is_none() && g["displayName"] == "Everyone");

    // A list carries members only when `attributes` asks; versions agree with single reads,
    // with or without members.
    let plain = s.send(s.get("/scim/v2/Groups")).await.json();
    let asked = s
        .send(s.get("/scim/v2/Groups?attributes=displayName,members,meta"))
        .await
        .json();
    let full = get(&s, "/Groups/00g2").await.json();
    let lean = get(&s, "/Groups/00g2?excludedAttributes=members")
        .await
        .json();
    assert!(full["members"].as_array().is_some_and(|m| !m.is_empty()));
    assert_eq!(full["meta"]["version"], lean["meta"]["version"]);
    for (list, with_members) in [(&plain, false), (&asked, true)] {
        let g = list["Resources"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["id"] == "00g2")
            .expect("00g2 listed");
        assert_eq!(g.get("members").is_some(), with_members, "{g}");
        assert_eq!(g["meta"]["version"], full["meta"]["version"]);
    }
}

#[tokio::test]
async fn etags_and_not_modified() {
    let s = Server::start().await;
    let (_, etag) = user_and_etag(&s, "00u2").await;
    assert!(etag.starts_with("W/\""));
    let again = s
        .get("/scim/v2/Users/00u2")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status().as_u16(), 304);
    let other = s
        .get("/scim/v2/Users/00u2")
        .header("if-none-match", "W/\"something-else\"")
        .send()
        .await
        .expect("request");
    assert_eq!(other.status().as_u16(), 200);

    // A change to the person changes the version.
    s.store
        .apply(
            &[super::person(
                "00u2",
                "vp@example.com",
                "ACTIVE",
                Some("00u1"),
                json!({"department": "Engineering", "title": "SVP"}),
            )],
            &[],
        )
        .expect("apply");
    let changed = s
        .get("/scim/v2/Users/00u2")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(changed.status().as_u16(), 200);
    assert_ne!(
        changed.headers().get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    let g = s.get("/scim/v2/Groups/00g1").send().await.expect("request");
    let getag = g.headers().get("etag").expect("group ETag").clone();
    let again = s
        .get("/scim/v2/Groups/00g1")
        .header("if-none-match", getag.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(again.status().as_u16(), 304);
    // A membership change changes the group's version.
    s.store
        .apply(
            &[crate::store::Op::AddMember {
                group_id: "00g1".into(),
                user_id: "00u1".into(),
            }],
            &[],
        )
        .expect("apply");
    let g = s
        .get("/scim/v2/Groups/00g1")
        .header("if-none-match", getag)
        .send()
        .await
        .expect("request");
    assert_eq!(g.status().as_u16(), 200);
}

/// `GET /Users/{id}`: the user and its ETag (which `meta.version` repeats).
async fn user_and_etag(s: &Server, id: &str) -> (Value, String) {
    let resp = s
        .get(&format!("/scim/v2/Users/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("ETag")
        .to_owned();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["meta"]["version"], etag.as_str());
    (body, etag)
}

#[tokio::test]
async fn a_user_etag_follows_its_groups_managers_and_profile() {
    let s = Server::start().await;
    let apply = |ops: Vec<crate::store::Op>| s.store.apply(&ops, &[]).expect("apply");
    let eng1_with = |extra: Value| {
        let mut profile = json!({"department": "Engineering", "title": "Engineer",
            "employeeNumber": "1003", "city": "Berlin", "countryCode": "DE"});
        if let (Some(p), Some(e)) = (profile.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        super::person("00u3", "eng1@example.com", "ACTIVE", Some("00u2"), profile)
    };
    let (_, etag) = user_and_etag(&s, "00u3").await;
    assert_eq!(user_and_etag(&s, "00u3").await.1, etag, "read twice");
    let (_, listed) = ids(&s, &[("filter", r#"userName eq "eng1@example.com""#)]).await;
    assert_eq!(listed, ["00u3"]);
    let page = get(&s, &with_query("/Users", &[("filter", r#"id eq "00u3""#)])).await;
    assert_eq!(
        page.json()["Resources"][0]["meta"]["version"],
        etag.as_str()
    );

    // Nothing 00u3 shows changes: the same record again, someone else, a group they are not in.
    apply(vec![
        eng1_with(json!({})),
        super::person(
            "00u6",
            "new@example.com",
            "STAGED",
            None,
            json!({"title": "Intern"}),
        ),
        super::member("00g3", "00u6"),
        super::group("00g3", "Salesforce Admins", "APP_GROUP"),
    ]);
    assert_eq!(
        user_and_etag(&s, "00u3").await.1,
        etag,
        "changes to others keep 00u3's ETag"
    );
    let unchanged = s
        .get("/scim/v2/Users/00u3")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(unchanged.status().as_u16(), 304);

    let mut seen = vec![etag];
    /// A change, the ops that make it, and how the user shows it.
    type Step = (&'static str, Vec<crate::store::Op>, fn(&Value) -> bool);
    let steps: Vec<Step> = vec![
        (
            "joining a group",
            vec![super::member("00g3", "00u3")],
            |u| u["groups"].as_array().is_some_and(|g| g.len() == 3),
        ),
        (
            "leaving a group",
            vec![crate::store::Op::RemoveMember {
                group_id: "00g1".into(),
                user_id: "00u3".into(),
            }],
            |u| u["groups"].as_array().is_some_and(|g| g.len() == 2),
        ),
        (
            "a group of theirs renamed",
            vec![super::group("00g2", "All staff", "BUILT_IN")],
            |u| u["groups"].to_string().contains("All staff"),
        ),
        (
            "the manager renamed",
            vec![super::person(
                "00u2",
                "vp@example.com",
                "ACTIVE",
                Some("00u1"),
                json!({"department": "Engineering", "title": "VP", "displayName": "Vera VP"}),
            )],
            |u| u[ENT]["manager"]["displayName"] == "Vera VP",
        ),
        (
            "the manager's manager renamed (the chain)",
            vec![super::person(
                "00u1",
                "ceo@example.com",
                "ACTIVE",
                None,
                json!({"employeeNumber": "1001", "displayName": "Cara Boss", "department": "Exec",
                    "city": "Paris", "countryCode": "FR", "badgeColour": "gold"}),
            )],
            |u| u[MIRROR]["managerChain"][1]["display"] == "Cara Boss",
        ),
        (
            "a raw profile attribute only",
            vec![eng1_with(json!({"mobilePhone": "+49 30 1234"}))],
            |u| u["phoneNumbers"][0]["value"] == "+49 30 1234",
        ),
        (
            "a custom attribute",
            vec![eng1_with(
                json!({"mobilePhone": "+49 30 1234", "shoeSize": 44}),
            )],
            |u| u[MIRROR]["customAttributes"]["shoeSize"] == 44,
        ),
        (
            "a typed attribute",
            vec![eng1_with(
                json!({"mobilePhone": "+49 30 1234", "shoeSize": 44,
                "title": "Staff Engineer"}),
            )],
            |u| u["title"] == "Staff Engineer",
        ),
    ];
    for (what, ops, shows) in steps {
        apply(ops);
        let (user, etag) = user_and_etag(&s, "00u3").await;
        assert!(shows(&user), "{what}: {user}");
        assert!(!seen.contains(&etag), "{what} left the ETag as it was");
        assert_eq!(
            user_and_etag(&s, "00u3").await.1,
            etag,
            "{what}, read again"
        );
        seen.push(etag);
    }
}

#[tokio::test]
async fn errors_are_scim_errors() {
    let s = Server::start().await;
    for f in [
        r#"userName eq"#,
        r#"userName zz "x""#,
        r#"(userName eq "x""#,
        r#"active gt true"#,
    ] {
        let a = s
            .send(s.get(&with_query("/scim/v2/Users", &[("filter", f)])))
            .await;
        assert_eq!(error(&a, 400)["scimType"], "invalidFilter", "{f}");
    }
    let a = s.send(s.get("/scim/v2/Users?startIndex=abc")).await;
    assert_eq!(error(&a, 400)["scimType"], "invalidValue");
    let a = s.send(s.get("/scim/v2/Users?sortOrder=sideways")).await;
    assert_eq!(error(&a, 400)["scimType"], "invalidValue");
    let a = s
        .send(
            s.post("/scim/v2/Users/.search")
                .header("content-type", "application/scim+json")
                .body("{nope"),
        )
        .await;
    assert_eq!(error(&a, 400)["scimType"], "invalidSyntax");
    let a = s
        .send(
            s.post("/scim/v2/Users/.search")
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    error(&a, 415);
    error(&get(&s, "/Bulk").await, 501);

    // Past the scan budget: tooMany.
    let tiny = Server::start_as(
        Role::Hr,
        Policy {
            scan_budget: 3,
            ..Policy::default()
        },
    )
    .await;
    let a = tiny
        .send(tiny.get(&with_query(
            "/scim/v2/Users",
            &[("filter", "title co \"e\"")],
        )))
        .await;
    assert_eq!(error(&a, 400)["scimType"], "tooMany");
}

#[tokio::test]
async fn roles_apply_through_the_view() {
    let dir = Server::start_as(Role::Directory, Policy::default()).await;
    let (total, all) = ids(&dir, &[]).await;
    assert_eq!(total, 5);
    assert!(!all.contains(&"00u5".to_owned()));
    error(&get(&dir, "/Users/00u5").await, 404);
    assert!(
        filtered(&dir, r#"userName eq "gone@example.com""#)
            .await
            .is_empty()
    );
    assert!(
        filtered(&dir, r#"emails eq "gone@example.com""#)
            .await
            .is_empty()
    );
    assert_eq!(filtered(&dir, "active eq false").await, ["00u4", "00u6"]);
    let (_, sorted) = ids(&dir, &[("sortBy", "userName")]).await;
    assert_eq!(sorted.len(), 5);
    let g = get(&dir, "/Groups/00g1").await.json();
    let members: Vec<&str> = g["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(members, ["00u2", "00u3", "00u4"]);
    // The directory key gets no raw profile: no custom attributes' values.
    let ceo = get(&dir, "/Users/00u1").await.json();
    assert_eq!(ceo[MIRROR]["customAttributes"], json!({}));
    assert_eq!(ceo[ENT]["employeeNumber"], "1001");
    assert_eq!(ceo["addresses"][0]["locality"], "Paris");

    let hr = Server::start_as(Role::Hr, Policy::default()).await;
    assert_eq!(ids(&hr, &[]).await.0, 6);
    assert_eq!(get(&hr, "/Users/00u5").await.json()["active"], false);
    assert_eq!(
        filtered(&hr, r#"userName eq "gone@example.com""#).await,
        ["00u5"]
    );

    let metrics = Server::start_as(Role::Metrics, Policy::default()).await;
    error(&get(&metrics, "/Users").await, 403);
    error(&get(&metrics, "/Groups/00g1").await, 403);

    // Without a key: 401 as a SCIM error.
    let anon = reqwest::Client::new()
        .get(format!("{}/scim/v2/Users", hr.url))
        .send()
        .await
        .expect("request");
    assert_eq!(anon.status().as_u16(), 401);
    assert!(anon.headers().get("www-authenticate").is_some());
    let body: Value = anon.json().await.expect("json");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "401");
}

#[tokio::test]
async fn writes_are_refused_in_mirror_mode() {
    let s = Server::start_as(Role::Provisioner, Policy::default()).await;
    let body =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@y"})
            .to_string();
    for req in [
        s.post("/scim/v2/Users").body(body.clone()),
        s.client
            .put(format!("{}/scim/v2/Users/00u1", s.url))
            .body(body.clone()),
        s.client
            .patch(format!("{}/scim/v2/Users/00u1", s.url))
            .body(body.clone()),
        s.client.delete(format!("{}/scim/v2/Users/00u1", s.url)),
        s.post("/scim/v2/Groups").body(body.clone()),
        s.client
            .put(format!("{}/scim/v2/Groups/00g1", s.url))
            .body(body.clone()),
        s.client
            .patch(format!("{}/scim/v2/Groups/00g1", s.url))
            .body(body.clone()),
        s.client.delete(format!("{}/scim/v2/Groups/00g1", s.url)),
    ] {
        let a = s
            .send(req.header("content-type", "application/scim+json"))
            .await;
        let e = error(&a, 403);
        let detail = e["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("read-only") && detail.contains("--source scim"),
            "{detail}"
        );
    }
    // Nothing changed.
    assert_eq!(
        get(&s, "/Users/00u1").await.json()["userName"],
        "ceo@example.com"
    );
}

/// Every query input at its empty, largest and garbage value: a SCIM error or a sane page,
/// never a crash or a hang.
#[tokio::test]
async fn query_inputs_at_their_extremes() {
    let s = Server::start().await;
    let deep = format!("{}userName eq \"x\"{}", "(".repeat(33), ")".repeat(33));
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    // An empty filter parameter is no filter (what a client that always sends `filter=` means).
    for f in ["", "   "] {
        assert_eq!(ids(&s, &[("filter", f)]).await.0, 6, "{f:?}");
    }
    for f in ["\u{1F600}", "userName eq", &deep, &long] {
        let a = s
            .send(s.get(&with_query("/scim/v2/Users", &[("filter", f)])))
            .await;
        assert_eq!(
            error(&a, 400)["scimType"],
            "invalidFilter",
            "{}",
            f.chars().take(40).collect::<String>()
        );
    }
    // Just inside the nesting bound still answers.
    let ok = format!(
        "{}userName eq \"ceo@example.com\"{}",
        "(".repeat(30),
        ")".repeat(30)
    );
    assert_eq!(filtered(&s, &ok).await, ["00u1"]);
    // Paging: past the end is an empty page; below 1 is 1; a negative count is 0.
    let (total, page) = ids(&s, &[("startIndex", "18446744073709551615")]).await;
    assert!(total > 0 && page.is_empty(), "{total} {page:?}");
    let (_, first) = ids(&s, &[("startIndex", "-5"), ("count", "1")]).await;
    let (_, one) = ids(&s, &[("startIndex", "1"), ("count", "1")]).await;
    assert_eq!(first, one);
    let (_, none) = ids(&s, &[("count", "-3")]).await;
    assert!(none.is_empty());
    let (_, past) = ids(&s, &[("startIndex", "99999999999999999999999")]).await;
    assert!(past.is_empty());
    for garbage in [
        ("count", ""),
        ("count", "1e9"),
        ("startIndex", "--1"),
        ("startIndex", "12abc"),
    ] {
        let a = s
            .send(s.get(&with_query("/scim/v2/Users", &[garbage])))
            .await;
        assert_eq!(error(&a, 400)["scimType"], "invalidValue", "{garbage:?}");
    }
    // An attributes list of a thousand unknown names is still an answer, and a small one.
    let many: Vec<String> = (0..1000).map(|i| format!("nope{i}")).collect();
    let (_, projected) = ids(&s, &[("attributes", &many.join(","))]).await;
    assert!(!projected.is_empty());
}
