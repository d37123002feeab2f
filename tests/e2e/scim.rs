//! SCIM 2.0 over real sockets against a mirror of the simulator with API keys: every filter
//! operator and value paths, attribute names in any case and schema-qualified, sorting, paging
//! and its cap, projection, `.search`, ETags and 304s across a change, SCIM errors, roles
//! (401, directory / hr / admin visibility), and the SCIM and GraphQL views of the same 2,000
//! people agreeing field by field. Expected values come from the simulator's users as Okta
//! serves them (`support::truth`), never from the mirror.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use oktamirror::access::{Role, keys};
use oktamirror::startup::Application;

use crate::support::{AppOptions, TOKEN, TestSim, patch, truth, wait_for};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MIRROR: &str = "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User";
const GROUP_EXT: &str = "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:Group";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A mirror of a simulator with three keys (directory, hr, admin).
struct Scim {
    sim: TestSim,
    app: Application,
    http: reqwest::Client,
    keys: BTreeMap<&'static str, String>,
    _dir: tempfile::TempDir,
}

/// One SCIM answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Scim {
    async fn start(users: usize, seed: u64) -> Scim {
        let sim = TestSim::lifted(users, seed).await;
        let dir = tempfile::tempdir().expect("tmp");
        let keys_file: PathBuf = dir.path().join("keys.jsonl");
        let mut keys = BTreeMap::new();
        for (name, role) in [
            ("directory", Role::Directory),
            ("hr", Role::Hr),
            ("admin", Role::Admin),
        ] {
            let (key, _) = keys::create(&keys_file, name, role).expect("key");
            keys.insert(name, key.expose().to_owned());
        }
        let mut o = AppOptions::new(TOKEN);
        o.retry_base = Some(Duration::from_millis(10));
        o.poll_interval = Duration::from_millis(200);
        let mut s = crate::support::settings(sim.addr, &dir.path().join("data"), &o);
        s.server.keys_file = Some(keys_file);
        let app = Application::build(s).await.expect("build the mirror");
        let scim = Scim {
            sim,
            app,
            http: reqwest::Client::new(),
            keys,
            _dir: dir,
        };
        let ready = format!("{}/readyz", scim.app.url());
        wait_for("/readyz", Duration::from_millis(100), || async {
            scim.http
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
        scim
    }

    fn key(&self, role: &str) -> &str {
        &self.keys[role]
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> Answer {
        let resp = r.send().await.expect("send");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// GET `path` (under /scim/v2) as `role` (`None`: no key).
    async fn get(&self, role: Option<&str>, path: &str) -> Answer {
        let mut r = self.http.get(format!("{}/scim/v2{path}", self.app.url()));
        if let Some(role) = role {
            r = r.bearer_auth(self.key(role));
        }
        self.send(r).await
    }

    /// GET /Users with `params` as `role`; asserts 200.
    async fn users(&self, role: &str, params: &[(&str, &str)]) -> Value {
        let a = self.get(Some(role), &with_query("/Users", params)).await;
        assert_eq!(a.status, StatusCode::OK, "{params:?}: {}", a.body);
        a.body
    }

    /// Every id matching `filter` as `role` (one page of up to 1,000), checked against
    /// totalResults.
    async fn filtered(&self, role: &str, filter: &str) -> BTreeSet<String> {
        let body = self
            .users(role, &[("filter", filter), ("count", "1000")])
            .await;
        let got = ids(&body);
        assert_eq!(body["totalResults"], got.len(), "{filter}: {body}");
        got.into_iter().collect()
    }
}

fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{path}?{q}")
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A SCIM error of `status` (and `scim_type` if given), with the Error schema and a detail.
fn scim_error(a: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    let ct = a
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/scim+json"), "{ct}");
    assert_eq!(a.body["schemas"][0], ERROR, "{}", a.body);
    assert_eq!(a.body["status"], status.to_string(), "{}", a.body);
    assert!(
        a.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        a.body
    );
    if let Some(t) = scim_type {
        assert_eq!(a.body["scimType"], t, "{}", a.body);
    }
}

/// A user as the simulator serves it, reduced to what the filters ask about.
#[derive(Clone, Debug)]
struct U {
    id: String,
    status: String,
    login: String,
    email: String,
    first: String,
    last: String,
    title: Option<String>,
    department: Option<String>,
    created: DateTime<Utc>,
}

fn sim_users(sim: &TestSim) -> Vec<U> {
    let text = |u: &Value, k: &str| {
        u["profile"][k]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let mut out: Vec<U> = sim
        .sim
        .users()
        .iter()
        .map(|u| U {
            id: u["id"].as_str().expect("id").to_owned(),
            status: u["status"].as_str().expect("status").to_owned(),
            login: text(u, "login").expect("login"),
            email: text(u, "email").unwrap_or_default(),
            first: text(u, "firstName").unwrap_or_default(),
            last: text(u, "lastName").unwrap_or_default(),
            title: text(u, "title"),
            department: text(u, "department"),
            created: u["created"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .expect("created")
                .with_timezone(&Utc),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn set(users: &[U], keep: impl Fn(&U) -> bool) -> BTreeSet<String> {
    users
        .iter()
        .filter(|u| keep(u))
        .map(|u| u.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_filters_sorting_paging_projection_etags_errors_and_roles() {
    let s = Scim::start(300, 21).await;
    let users = sim_users(&s.sim);
    let all = set(&users, |_| true);
    let lc = |s: &str| s.to_lowercase();

    // ---- every operator, on values picked from the simulator's org ----
    let ana = users
        .iter()
        .find(|u| u.status == "ACTIVE" && u.title.is_some() && u.department.is_some())
        .expect("an active user with a title and a department");
    let eq = s
        .filtered(
            "admin",
            &format!("userName eq {}", quoted(&ana.login.to_uppercase())),
        )
        .await;
    assert_eq!(eq, set(&users, |u| u.id == ana.id), "eq ignores case");
    let ne = s
        .filtered("admin", &format!("userName ne {}", quoted(&ana.login)))
        .await;
    assert_eq!(ne, set(&users, |u| u.id != ana.id));
    let part: String = ana.last.chars().skip(1).take(3).collect();
    assert_eq!(
        s.filtered("admin", &format!("name.familyName co {}", quoted(&part)))
            .await,
        set(&users, |u| lc(&u.last).contains(&lc(&part)))
    );
    let start: String = ana.login.chars().take(2).collect();
    assert_eq!(
        s.filtered("admin", &format!("userName sw {}", quoted(&start)))
            .await,
        set(&users, |u| lc(&u.login).starts_with(&lc(&start)))
    );
    let end: String = {
        let c: Vec<char> = ana.first.chars().collect();
        c[c.len().saturating_sub(2)..].iter().collect()
    };
    assert_eq!(
        s.filtered("admin", &format!("name.givenName ew {}", quoted(&end)))
            .await,
        set(&users, |u| lc(&u.first).ends_with(&lc(&end)))
    );
    let titled = set(&users, |u| u.title.is_some());
    assert_eq!(s.filtered("admin", "title pr").await, titled);
    // pr on an attribute some lack: the resolved manager (the CEO and anomalies have none).
    let managed: BTreeSet<String> = truth::people(&s.sim.sim)
        .into_iter()
        .filter(|(p, _)| p.manager_id.is_some())
        .map(|(p, _)| p.id)
        .collect();
    assert!(!managed.is_empty() && managed.len() < all.len());
    assert_eq!(
        s.filtered("admin", &format!("{ENT}:manager pr")).await,
        managed
    );
    assert_eq!(
        s.filtered("admin", &format!("not ({ENT}:manager pr)"))
            .await,
        all.difference(&managed).cloned().collect::<BTreeSet<_>>()
    );
    let mut times: Vec<DateTime<Utc>> = users.iter().map(|u| u.created).collect();
    times.sort();
    let mid = times[times.len() / 2];
    let t = quoted(&mid.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    for (op, keep) in [
        (
            "gt",
            Box::new(|u: &U| u.created > mid) as Box<dyn Fn(&U) -> bool>,
        ),
        ("ge", Box::new(|u: &U| u.created >= mid)),
        ("lt", Box::new(|u: &U| u.created < mid)),
        ("le", Box::new(|u: &U| u.created <= mid)),
    ] {
        assert_eq!(
            s.filtered("admin", &format!("meta.created {op} {t}")).await,
            set(&users, keep),
            "meta.created {op} {t}"
        );
    }

    // ---- and / or / not / parentheses, value paths, names in any case, schema URNs ----
    let f = format!(
        "(title pr and not (userName sw {})) or name.familyName eq {}",
        quoted(&start),
        quoted(&ana.last)
    );
    assert_eq!(
        s.filtered("admin", &f).await,
        set(&users, |u| (u.title.is_some()
            && !lc(&u.login).starts_with(&lc(&start)))
            || lc(&u.last) == lc(&ana.last))
    );
    let domain = ana.email.split('@').nth(1).expect("an email domain");
    let f = format!(
        "emails[type eq \"work\" and value co {}]",
        quoted(&format!("@{domain}"))
    );
    let work = set(&users, |u| {
        lc(&u.email).contains(&format!("@{}", lc(domain)))
    });
    assert!(!work.is_empty());
    assert_eq!(s.filtered("admin", &f).await, work);
    assert!(
        s.filtered(
            "admin",
            &format!("emails[type eq \"home\" and value co \"@{domain}\"]")
        )
        .await
        .is_empty(),
        "no work email matches type home"
    );
    assert_eq!(
        s.filtered(
            "admin",
            &format!(
                "USERNAME Eq {} OR Name.FamilyName CO {}",
                quoted(&ana.login),
                quoted(&part)
            )
        )
        .await,
        set(&users, |u| u.id == ana.id
            || lc(&u.last).contains(&lc(&part)))
    );
    let dept = ana.department.clone().expect("department");
    let in_dept = set(&users, |u| {
        u.department.as_deref().map(lc) == Some(lc(&dept))
    });
    assert_eq!(
        s.filtered(
            "admin",
            &format!("{ENT}:department eq {}", quoted(&dept.to_uppercase()))
        )
        .await,
        in_dept
    );
    assert_eq!(
        s.filtered(
            "admin",
            &format!(
                "{}:Department eq {} and title pr",
                ENT.to_uppercase(),
                quoted(&dept)
            )
        )
        .await,
        set(&users, |u| {
            u.department.as_deref().map(lc) == Some(lc(&dept)) && u.title.is_some()
        })
    );
    assert_eq!(
        s.filtered(
            "admin",
            &format!(
                "urn:ietf:params:scim:schemas:core:2.0:User:userName eq {}",
                quoted(&ana.login)
            )
        )
        .await,
        set(&users, |u| u.id == ana.id)
    );

    // ---- sorting ----
    for (order, desc) in [("ascending", false), ("descending", true)] {
        let body = s
            .users(
                "admin",
                &[
                    ("sortBy", "name.familyName"),
                    ("sortOrder", order),
                    ("count", "1000"),
                ],
            )
            .await;
        let got: Vec<String> = body["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|r| lc(r["name"]["familyName"].as_str().unwrap_or_default()))
            .collect();
        let mut want: Vec<String> = users.iter().map(|u| lc(&u.last)).collect();
        want.sort();
        if desc {
            want.reverse();
        }
        assert_eq!(got, want, "sortOrder={order}");
    }

    // ---- paging ----
    let mut seen = Vec::new();
    let mut start_index = 1;
    loop {
        let body = s
            .users(
                "admin",
                &[("startIndex", &start_index.to_string()), ("count", "7")],
            )
            .await;
        assert_eq!(body["totalResults"], all.len());
        assert_eq!(body["startIndex"], start_index);
        let page = ids(&body);
        assert!(page.len() <= 7);
        assert_eq!(body["itemsPerPage"], page.len());
        if page.is_empty() {
            break;
        }
        start_index += page.len();
        seen.extend(page);
    }
    assert_eq!(seen.len(), all.len(), "no one twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);
    let none = s.users("admin", &[("count", "0")]).await;
    assert_eq!(none["totalResults"], all.len());
    assert_eq!(none["itemsPerPage"], 0);
    let past = s
        .users("admin", &[("startIndex", &(all.len() + 1).to_string())])
        .await;
    assert!(ids(&past).is_empty());

    // ---- projection and .search ----
    let body = s
        .users(
            "admin",
            &[
                ("filter", &format!("userName eq {}", quoted(&ana.login))),
                ("attributes", "userName,name.givenName"),
            ],
        )
        .await;
    let r = &body["Resources"][0];
    let mut keys: Vec<&str> = r
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "name", "schemas", "userName"], "{r}");
    assert_eq!(r["name"], json!({"givenName": ana.first}));
    let body = s
        .users(
            "admin",
            &[
                ("filter", &format!("userName eq {}", quoted(&ana.login))),
                ("excludedAttributes", &format!("emails,groups,{ENT}")),
            ],
        )
        .await;
    let r = &body["Resources"][0];
    assert!(r.get("emails").is_none() && r.get("groups").is_none() && r.get(ENT).is_none());
    assert_eq!(r["userName"], ana.login.as_str());
    assert!(r.get(MIRROR).is_some());
    let searched = s
        .send(
            s.http
                .post(format!("{}/scim/v2/Users/.search", s.app.url()))
                .bearer_auth(s.key("admin"))
                .header("content-type", "application/scim+json")
                .json(&json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "title pr",
                    "sortBy": "userName",
                    "startIndex": 3,
                    "count": 10,
                    "attributes": ["userName"],
                })),
        )
        .await;
    assert_eq!(searched.status, StatusCode::OK, "{}", searched.body);
    let mut titled_logins: Vec<(String, String)> = users
        .iter()
        .filter(|u| u.title.is_some())
        .map(|u| (lc(&u.login), u.id.clone()))
        .collect();
    titled_logins.sort();
    let want: Vec<String> = titled_logins
        .iter()
        .skip(2)
        .take(10)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(ids(&searched.body), want);
    assert_eq!(searched.body["totalResults"], titled.len());

    // ---- errors ----
    let a = s
        .get(
            Some("admin"),
            &with_query("/Users", &[("filter", "userName eq")]),
        )
        .await;
    scim_error(&a, 400, Some("invalidFilter"));
    let a = s
        .get(
            Some("admin"),
            &with_query("/Users", &[("sortOrder", "sideways")]),
        )
        .await;
    scim_error(&a, 400, Some("invalidValue"));
    let a = s
        .get(Some("admin"), &with_query("/Users", &[("count", "many")]))
        .await;
    scim_error(&a, 400, Some("invalidValue"));
    scim_error(&s.get(Some("admin"), "/Users/00unothere").await, 404, None);
    scim_error(&s.get(Some("admin"), "/Groups/00gnothere").await, 404, None);

    // ---- roles ----
    let a = s.get(None, "/Users").await;
    scim_error(&a, 401, None);
    assert!(a.headers.contains_key("www-authenticate"));
    let a = s
        .send(
            s.http
                .get(format!("{}/scim/v2/Users", s.app.url()))
                .bearer_auth("om_not-a-key"),
        )
        .await;
    scim_error(&a, 401, None);
    let visible = set(&users, |u| u.status != "DEPROVISIONED");
    assert!(
        visible.len() < all.len(),
        "the org has deprovisioned people"
    );
    let gone = users
        .iter()
        .find(|u| u.status == "DEPROVISIONED")
        .expect("a deprovisioned user");
    for role in ["hr", "admin"] {
        let body = s.users(role, &[("count", "1000")]).await;
        assert_eq!(
            ids(&body).into_iter().collect::<BTreeSet<_>>(),
            all,
            "{role}"
        );
        let a = s.get(Some(role), &format!("/Users/{}", gone.id)).await;
        assert_eq!(a.status, StatusCode::OK, "{role}");
        assert_eq!(a.body["active"], false);
    }
    let body = s.users("directory", &[("count", "1000")]).await;
    assert_eq!(ids(&body).into_iter().collect::<BTreeSet<_>>(), visible);
    scim_error(
        &s.get(Some("directory"), &format!("/Users/{}", gone.id))
            .await,
        404,
        None,
    );
    assert!(
        s.filtered("directory", &format!("userName eq {}", quoted(&gone.login)))
            .await
            .is_empty()
    );
    // The raw profile: phone numbers and custom attributes for hr and admin only.
    let phoned = s
        .sim
        .sim
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE" && u["profile"]["mobilePhone"].is_string())
        .expect("an active user with a mobile phone");
    let pid = phoned["id"].as_str().expect("id");
    let phone = &phoned["profile"]["mobilePhone"];
    let custom: Vec<(&String, &Value)> = phoned["profile"]
        .as_object()
        .expect("profile")
        .iter()
        .filter(|(k, _)| ["badgeId", "slackHandle", "startDate"].contains(&k.as_str()))
        .collect();
    for role in ["hr", "admin"] {
        let a = s.get(Some(role), &format!("/Users/{pid}")).await;
        let phones = a.body["phoneNumbers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            phones
                .iter()
                .any(|p| &p["value"] == phone && p["type"] == "mobile"),
            "{role}: {}",
            a.body
        );
        for (k, v) in &custom {
            assert_eq!(
                &a.body[MIRROR]["customAttributes"][k.as_str()],
                *v,
                "{role}"
            );
        }
    }
    let a = s.get(Some("directory"), &format!("/Users/{pid}")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.get("phoneNumbers").is_none(), "{}", a.body);
    assert!(
        a.body[MIRROR]["customAttributes"]
            .as_object()
            .is_none_or(|o| o.is_empty()),
        "{}",
        a.body
    );

    // ---- ETags: 304 while unchanged, a new version after a change in Okta ----
    let path = format!("/Users/{}", ana.id);
    let first = s.get(Some("admin"), &path).await;
    let etag = first.headers.get("etag").expect("an ETag").clone();
    assert_eq!(first.body["meta"]["version"], etag.to_str().expect("ascii"));
    let again = s
        .send(
            s.http
                .get(format!("{}/scim/v2{path}", s.app.url()))
                .bearer_auth(s.key("admin"))
                .header("if-none-match", etag.clone()),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let group = s
        .sim
        .sim
        .groups()
        .into_iter()
        .find(|g| g["type"] == "OKTA_GROUP")
        .expect("an Okta group");
    let gid = group["id"].as_str().expect("id").to_owned();
    let gpath = format!("/Groups/{gid}");
    let g_first = s.get(Some("admin"), &gpath).await;
    let g_etag = g_first.headers.get("etag").expect("a group ETag").clone();
    let members: BTreeSet<String> = g_first.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().expect("value").to_owned())
        .collect();
    let mut truth_members: Vec<String> = s.sim.sim.group_members(&gid);
    truth_members.sort();
    assert_eq!(
        members,
        truth_members.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        g_first.body[GROUP_EXT]["memberCount"],
        truth_members.len(),
        "{}",
        g_first.body
    );
    let lean = s
        .get(
            Some("admin"),
            &format!("{gpath}?excludedAttributes=members"),
        )
        .await;
    assert!(lean.body.get("members").is_none());
    assert_eq!(
        lean.headers.get("etag"),
        Some(&g_etag),
        "one version per group"
    );

    assert!(
        s.sim
            .sim
            .update_profile(&ana.id, patch(&[("title", json!("Chief Tester"))]))
    );
    let outsider = users
        .iter()
        .find(|u| u.status == "ACTIVE" && !truth_members.contains(&u.id))
        .expect("someone outside the group");
    assert!(s.sim.sim.add_member(&gid, &outsider.id));
    let conditional = |p: String, tag: HeaderValue| {
        let r = s
            .http
            .get(format!("{}/scim/v2{p}", s.app.url()))
            .bearer_auth(s.key("admin"))
            .header("if-none-match", tag);
        s.send(r)
    };
    wait_for(
        "the title change over SCIM",
        Duration::from_millis(100),
        || async { conditional(path.clone(), etag.clone()).await.status == StatusCode::OK },
    )
    .await;
    let changed = conditional(path.clone(), etag.clone()).await;
    assert_eq!(changed.body["title"], "Chief Tester");
    assert_ne!(changed.headers.get("etag"), Some(&etag));
    wait_for(
        "the new member over SCIM",
        Duration::from_millis(100),
        || async { conditional(gpath.clone(), g_etag.clone()).await.status == StatusCode::OK },
    )
    .await;
    let g_changed = s.get(Some("admin"), &gpath).await;
    assert!(
        g_changed.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["value"] == outsider.id.as_str())
    );
    // The member list of a group, pageable, from the membership index.
    let mut page_ids = BTreeSet::new();
    let mut start_index = 1;
    loop {
        let body = s
            .users(
                "admin",
                &[
                    ("filter", &format!("groups.value eq {}", quoted(&gid))),
                    ("startIndex", &start_index.to_string()),
                    ("count", "5"),
                ],
            )
            .await;
        let page = ids(&body);
        if page.is_empty() {
            break;
        }
        start_index += page.len();
        page_ids.extend(page);
    }
    let mut now_members = s.sim.sim.group_members(&gid);
    now_members.sort();
    assert_eq!(page_ids, now_members.into_iter().collect::<BTreeSet<_>>());
}

/// The SCIM and GraphQL views of the same 2,000 people (the demo's org size) agree field by
/// field, for a directory key and an hr key; the default page size and the cap on `count`
/// are the ones ServiceProviderConfig states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_and_graphql_agree_on_two_thousand_people() {
    let s = Scim::start(2000, 42).await;
    let spc = s.get(Some("directory"), "/ServiceProviderConfig").await;
    let max = spc.body["filter"]["maxResults"]
        .as_u64()
        .expect("filter.maxResults") as usize;
    let stated = spc.body["authenticationSchemes"][0]["description"]
        .as_str()
        .expect("a description");
    let default = stated
        .split("Lists return ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("the default page size stated in ServiceProviderConfig");
    let body = s.users("hr", &[]).await;
    assert_eq!(ids(&body).len(), default);
    let body = s.users("hr", &[("count", &(max * 3).to_string())]).await;
    assert_eq!(
        ids(&body).len(),
        max,
        "count is capped at filter.maxResults"
    );
    assert_eq!(body["totalResults"], 2000);

    let truth: BTreeMap<String, String> = truth::people(&s.sim.sim)
        .into_iter()
        .map(|(p, _)| (p.id.clone(), p.status.as_str().to_owned()))
        .collect();
    for role in ["directory", "hr"] {
        let scim = scim_people(&s, role).await;
        let gql = graphql_people(&s, role).await;
        let want: BTreeSet<&String> = truth
            .iter()
            .filter(|(_, status)| role == "hr" || status.as_str() != "DEPROVISIONED")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            scim.keys().collect::<BTreeSet<_>>(),
            want,
            "{role}: SCIM's people"
        );
        assert_eq!(
            gql.keys().collect::<BTreeSet<_>>(),
            want,
            "{role}: GraphQL's people"
        );
        for (id, p) in &gql {
            let u = &scim[id];
            // A missing SCIM attribute reads as null, GraphQL's answer for it.
            let field = |what: &str, scim: &Value, gql: &Value| {
                assert_eq!(
                    scim, gql,
                    "{role}: {id} {what}: SCIM {scim} vs GraphQL {gql}"
                );
            };
            field("userName/login", &u["userName"], &p["login"]);
            field("givenName", &u["name"]["givenName"], &p["firstName"]);
            field("familyName", &u["name"]["familyName"], &p["lastName"]);
            field("displayName", &u["displayName"], &p["displayName"]);
            let primary = u["emails"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["primary"] == true))
                .map_or(Value::Null, |e| e["value"].clone());
            field("primary email", &primary, &p["email"]);
            field("title", &u["title"], &p["title"]);
            let ent = &u[ENT];
            for (scim_name, gql_name) in [
                ("department", "department"),
                ("division", "division"),
                ("organization", "organization"),
                ("costCenter", "costCenter"),
                ("employeeNumber", "employeeNumber"),
            ] {
                field(scim_name, &ent[scim_name], &p[gql_name]);
            }
            field("manager", &ent["manager"]["value"], &p["manager"]["id"]);
            field(
                "manager's name",
                &ent["manager"]["displayName"],
                &p["manager"]["displayName"],
            );
            let status = p["status"].as_str().expect("status");
            let active = !matches!(status, "STAGED" | "SUSPENDED" | "DEPROVISIONED");
            field("active", &u["active"], &json!(active));
            field("status", &u[MIRROR]["status"], &p["status"]);
            field("city", &u["addresses"][0]["locality"], &p["city"]);
            field("country", &u["addresses"][0]["country"], &p["countryCode"]);
            let scim_groups: BTreeSet<(String, String)> = u["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| (g["value"].to_string(), g["display"].to_string()))
                .collect();
            let gql_groups: BTreeSet<(String, String)> = p["groups"]["nodes"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| (g["id"].to_string(), g["name"].to_string()))
                .collect();
            assert_eq!(scim_groups, gql_groups, "{role}: {id} groups");
            assert_eq!(p["groups"]["totalCount"], gql_groups.len(), "{role}: {id}");
        }
    }

    // A page is built on several threads, each with its own memo of managers and groups: every
    // user in it is exactly that user read alone (built on one thread), ETag included.
    let page = s
        .users("hr", &[("startIndex", "101"), ("count", "100")])
        .await;
    let resources = page["Resources"].as_array().expect("Resources");
    assert_eq!(resources.len(), 100);
    assert_eq!(page["itemsPerPage"], 100);
    assert_eq!(page["startIndex"], 101);
    for r in resources {
        let id = r["id"].as_str().expect("id");
        let alone = s.get(Some("hr"), &format!("/Users/{id}")).await;
        assert_eq!(alone.status, StatusCode::OK, "{id}: {}", alone.body);
        assert!(r["meta"]["version"].is_string(), "{id}: {r}");
        assert_eq!(&alone.body, r, "{id}: in a page and alone");
    }
}

/// A user in a list page as `role` (every user on one page).
async fn listed(s: &Scim, role: &str, id: &str) -> Value {
    let page = s.users(role, &[("count", "1000")]).await;
    page["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Pages are built with a server-wide memo of managers' chains and groups' entries, shared by
/// the requests that read the same state of the store: a page served again after a manager or
/// a group was renamed, or a manager deactivated, shows the change (each role as it may see
/// it), exactly as the user read alone does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_renamed_and_deactivated_managers_for_each_role() {
    let s = Scim::start(400, 7).await;
    let sim = &s.sim.sim;
    let status: BTreeMap<String, String> = sim_users(&s.sim)
        .into_iter()
        .map(|u| (u.id, u.status))
        .collect();
    let active = |id: &String| status.get(id).is_some_and(|s| s == "ACTIVE");
    // Okta groups (the only ones Okta lets an admin rename).
    let renamable: BTreeSet<String> = sim
        .groups()
        .iter()
        .filter(|g| g["type"] == "OKTA_GROUP")
        .filter_map(|g| g["id"].as_str().map(str::to_owned))
        .collect();
    // Someone active under two active managers, in an Okta group.
    let (uid, m1, m2, gid) = status
        .keys()
        .filter(|id| active(id))
        .find_map(|id| {
            let gid = sim
                .user_groups(id)
                .into_iter()
                .find(|g| renamable.contains(g))?;
            let m1 = sim.true_manager(id).filter(active)?;
            let m2 = sim.true_manager(&m1).filter(active)?;
            Some((id.clone(), m1, m2, gid))
        })
        .expect("someone with two managers above, in an Okta group");
    for role in ["directory", "hr"] {
        let u = listed(&s, role, &uid).await;
        assert_eq!(u[ENT]["manager"]["value"], m1.as_str(), "{role}: {u}");
        assert_eq!(u[MIRROR]["managerChain"][1]["value"], m2.as_str(), "{role}");
    }

    assert!(sim.update_profile(&m2, patch(&[("displayName", json!("Renamed Manager"))])));
    assert!(sim.rename_group(&gid, "Renamed Group"));
    let renamed = |u: &Value| {
        u[MIRROR]["managerChain"][1]["display"] == "Renamed Manager"
            && u["groups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["display"] == "Renamed Group"))
    };
    for role in ["hr", "directory"] {
        wait_for(
            "the renames in a page",
            Duration::from_millis(100),
            || async { renamed(&listed(&s, role, &uid).await) },
        )
        .await;
        let alone = s.get(Some(role), &format!("/Users/{uid}")).await;
        let paged = listed(&s, role, &uid).await;
        assert_eq!(alone.body, paged, "{role}: in a page and alone");
    }

    // The direct manager deprovisioned: an hr key still sees them above the user, a directory
    // key sees no manager (each role's chains are memoized apart: hr reads first).
    assert!(sim.deactivate_user(&m1));
    wait_for(
        "the manager deprovisioned",
        Duration::from_millis(100),
        || async { s.get(Some("hr"), &format!("/Users/{m1}")).await.body["active"] == false },
    )
    .await;
    for role in ["hr", "directory", "hr"] {
        let u = listed(&s, role, &uid).await;
        if role == "hr" {
            assert_eq!(u[ENT]["manager"]["value"], m1.as_str(), "hr: {u}");
            assert_eq!(u[MIRROR]["managerChain"][0]["value"], m1.as_str(), "hr");
            assert_eq!(u[MIRROR]["managerChain"][1]["display"], "Renamed Manager");
        } else {
            assert!(u[ENT].get("manager").is_none(), "directory: {u}");
            assert_eq!(u[MIRROR]["managerChain"], json!([]), "directory: {u}");
        }
        let alone = s.get(Some(role), &format!("/Users/{uid}")).await;
        assert_eq!(alone.body, u, "{role}: in a page and alone");
    }
}

/// Every person SCIM lists for `role`, 1,000 a page, by id.
async fn scim_people(s: &Scim, role: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut start = 1;
    loop {
        let body = s
            .users(
                role,
                &[("startIndex", &start.to_string()), ("count", "1000")],
            )
            .await;
        let page = body["Resources"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return out;
        }
        start += page.len();
        for r in page {
            out.insert(r["id"].as_str().expect("id").to_owned(), r);
        }
    }
}

/// Every person GraphQL lists for `role` (every status the role may see), by id.
async fn graphql_people(s: &Scim, role: &str) -> BTreeMap<String, Value> {
    let query = "query($after: String) { people(filter: {status: []}, first: 200, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id login firstName lastName displayName email title department division
                organization costCenter employeeNumber city countryCode status
                manager { id displayName }
                groups(first: 100) { totalCount nodes { id name } } } } }";
    let mut out = BTreeMap::new();
    let mut after = Value::Null;
    loop {
        let resp: Value = s
            .http
            .post(format!("{}/graphql", s.app.url()))
            .bearer_auth(s.key(role))
            .json(&json!({"query": query, "variables": {"after": after}}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert!(resp.get("errors").is_none(), "{resp}");
        let people = &resp["data"]["people"];
        for p in people["nodes"].as_array().expect("nodes") {
            out.insert(p["id"].as_str().expect("id").to_owned(), p.clone());
        }
        if people["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = people["pageInfo"]["endCursor"].clone();
    }
}

/// Every attribute a User has, for an `attributes` list that keeps the whole User (which is
/// then built as a value and projected, where a page without projection is written as text).
const EVERY_USER_ATTRIBUTE: &str = "id,externalId,userName,name,displayName,nickName,title,\
    userType,preferredLanguage,locale,timezone,profileUrl,active,emails,phoneNumbers,addresses,\
    groups,meta,schemas,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,\
    urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User";

/// Pages without projection are written as JSON text, straight from the typed record, the raw
/// profile and the memo's groups and chains; a page with `attributes` is built as values.
/// For every role both give every person the same User, field by field, ETag included (which
/// is also the ETag of the user read alone); who is listed, the groups and the raw profile's
/// phones and custom attributes are the simulator's, as each role may see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_pages_are_the_projected_users_for_every_role() {
    let s = Scim::start(600, 11).await;
    let truth: BTreeMap<String, (String, Value)> = truth::people(&s.sim.sim)
        .into_iter()
        .map(|(p, raw)| (p.id.clone(), (p.status.as_str().to_owned(), raw)))
        .collect();
    for role in ["directory", "hr", "admin"] {
        let whole = scim_people(&s, role).await;
        let mut projected = BTreeMap::new();
        for start in (1..=truth.len()).step_by(250) {
            let page = s
                .users(
                    role,
                    &[
                        ("startIndex", &start.to_string()),
                        ("count", "250"),
                        ("attributes", EVERY_USER_ATTRIBUTE),
                    ],
                )
                .await;
            for r in page["Resources"].as_array().expect("Resources") {
                projected.insert(r["id"].as_str().expect("id").to_owned(), r.clone());
            }
        }
        let want: BTreeSet<&String> = truth
            .iter()
            .filter(|(_, (status, _))| role != "directory" || status != "DEPROVISIONED")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(whole.keys().collect::<BTreeSet<_>>(), want, "{role}");
        assert_eq!(projected.keys().collect::<BTreeSet<_>>(), want, "{role}");
        let raw = role != "directory";
        let (mut with_phones, mut with_custom) = (0, 0);
        for (id, u) in &whole {
            let p = &projected[id];
            let fields: BTreeSet<&String> = u
                .as_object()
                .expect("a User")
                .keys()
                .chain(p.as_object().expect("a User").keys())
                .collect();
            for f in fields {
                assert_eq!(u.get(f), p.get(f), "{role}: {id} {f}");
            }
            assert!(u["meta"]["version"].is_string(), "{role}: {id}");
            let profile = &truth[id].1["profile"];
            let groups: BTreeSet<String> = u["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| g["value"].as_str().expect("value").to_owned())
                .collect();
            let member_of: BTreeSet<String> = s.sim.sim.user_groups(id).into_iter().collect();
            assert_eq!(groups, member_of, "{role}: {id} groups");
            let phones: Vec<&Value> = u["phoneNumbers"]
                .as_array()
                .map(|a| a.iter().map(|n| &n["value"]).collect())
                .unwrap_or_default();
            let sim_phones: Vec<&Value> = ["primaryPhone", "mobilePhone"]
                .iter()
                .map(|k| &profile[k])
                .filter(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
                .collect();
            with_phones += usize::from(!phones.is_empty());
            if raw {
                assert_eq!(phones, sim_phones, "{role}: {id} phones");
            } else {
                assert!(phones.is_empty(), "{role}: {id} phones {phones:?}");
            }
            let custom = u[MIRROR]["customAttributes"]
                .as_object()
                .expect("customAttributes");
            if !raw {
                assert!(custom.is_empty(), "{role}: {id} {custom:?}");
            }
            with_custom += usize::from(!custom.is_empty());
            for (k, v) in custom {
                assert_eq!(&profile[k], v, "{role}: {id} custom {k}");
            }
        }
        if raw {
            assert!(
                with_phones > 0 && with_custom > 0,
                "{role}: {with_phones} {with_custom}"
            );
        }
        // The version in a page is the ETag of the user read alone.
        for id in whole.keys().step_by(37) {
            let alone = s.get(Some(role), &format!("/Users/{id}")).await;
            assert_eq!(alone.status, StatusCode::OK, "{role}: {id}");
            let etag = alone.headers.get("etag").and_then(|v| v.to_str().ok());
            assert_eq!(
                etag,
                whole[id]["meta"]["version"].as_str(),
                "{role}: {id} ETag"
            );
            assert_eq!(alone.body, whole[id], "{role}: {id} alone");
        }
    }
}
