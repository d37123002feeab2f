//! An Okta-style SCIM 2.0 push client: provisions the simulated org into a SCIM server with the
//! requests Okta's provisioning sends (shared/okta-api.md §9), then keeps pushing its changes.
//!
//! Users: `GET /Users?filter=userName eq "…"&startIndex=1&count=100`, then `POST /Users` (the
//! enterprise extension with `manager.value` = Okta's `managerId`, `externalId` = the Okta id)
//! or, when found, a link and an update; updates are `PATCH` `replace` with a value object and no
//! path (OIN-template style); deactivation is `PATCH` `replace` `{"active": false}`. Groups
//! (Group Push): `POST /Groups` with no members, then `PATCH` `add` / `remove`
//! (`members[value eq "…"]`) of members, renames as `replace` `{id, displayName}`, `DELETE` when
//! the group goes. Changes come from the simulator's own System Log: each event names what to
//! read again, and the pushed state is compared with what was last sent.
//!
//! Requests run with bounded concurrency and are retried after 5xx, 429 (its `Retry-After`) and
//! transport failures with a doubling wait. The token is sent only in `Authorization`: it is
//! never in an error, a log line or `Debug` output.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value, json};

use super::Simulator;

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Members added or removed per Group PATCH.
const MEMBERS_PER_PATCH: usize = 500;

/// Where and how to push.
#[derive(Clone)]
pub struct ScimPushOptions {
    /// The SCIM base URL, e.g. `http://127.0.0.1:8080/scim/v2`.
    pub base_url: String,
    /// The bearer token (a `provisioner` key); never shown.
    pub token: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Tries per request (the first included) before giving up.
    pub max_attempts: u32,
    /// The first wait before a retry (doubled each time, at most 30 s).
    pub retry_base: Duration,
    /// How often the change stream is read.
    pub poll: Duration,
}

impl ScimPushOptions {
    /// Okta-like defaults for `base_url` and `token`.
    pub fn new(base_url: &str, token: &str) -> ScimPushOptions {
        ScimPushOptions {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            concurrency: 8,
            max_attempts: 6,
            retry_base: Duration::from_millis(250),
            poll: Duration::from_millis(200),
        }
    }
}

impl fmt::Debug for ScimPushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimPushOptions")
            .field("base_url", &self.base_url)
            .field("token", &"(hidden)")
            .field("concurrency", &self.concurrency)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base", &self.retry_base)
            .field("poll", &self.poll)
            .finish()
    }
}

/// A request that failed for good. The text names the request and the answer, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushError(pub String);

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PushError {}

/// What the client has sent so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushCounts {
    /// Requests answered (retries included).
    pub requests: u64,
    /// Retries after a 5xx, a 429 or a transport failure.
    pub retries: u64,
    /// `POST /Users` answered 201.
    pub users_created: u64,
    /// Users updated (or linked after a lookup found them) with `PATCH` `replace`.
    pub users_updated: u64,
    /// Users deactivated with `PATCH` `replace` `{"active": false}`.
    pub users_deactivated: u64,
    /// `POST /Groups` answered 201.
    pub groups_created: u64,
    /// Groups renamed or whose members changed.
    pub groups_updated: u64,
    /// `DELETE /Groups/{id}` sent.
    pub groups_deleted: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    users_created: AtomicU64,
    users_updated: AtomicU64,
    users_deactivated: AtomicU64,
    groups_created: AtomicU64,
    groups_updated: AtomicU64,
    groups_deleted: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A user as last pushed.
#[derive(Clone)]
struct PushedUser {
    scim_id: String,
    /// The attributes last sent (what a PATCH replace compares against).
    attributes: Value,
    active: bool,
}

/// A group as last pushed.
#[derive(Clone)]
struct PushedGroup {
    scim_id: String,
    name: String,
    /// Okta ids of the members pushed.
    members: BTreeSet<String>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, PushedUser>,
    groups: HashMap<String, PushedGroup>,
    /// Log events already read.
    cursor: u64,
}

/// The push client of one simulator.
#[derive(Clone)]
pub struct ScimPush {
    sim: Simulator,
    http: reqwest::Client,
    opts: Arc<ScimPushOptions>,
    state: Arc<tokio::sync::Mutex<State>>,
    counters: Arc<Counters>,
}

impl Simulator {
    /// A SCIM push client of this org (nothing is sent until `provision` or `run`).
    pub fn scim_push(&self, opts: ScimPushOptions) -> ScimPush {
        ScimPush {
            sim: self.clone(),
            http: reqwest::Client::builder()
                .user_agent("Okta SCIM Client 1.0.0")
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            opts: Arc::new(opts),
            state: Arc::new(tokio::sync::Mutex::new(State::default())),
            counters: Arc::new(Counters::default()),
        }
    }
}

/// What the org holds for a user, rendered as Okta serves it.
fn user_json(sim: &Simulator, id: &str) -> Option<Value> {
    let base = sim.base_url();
    let org = sim.shared.org();
    let u = org.users.get(id)?;
    serde_json::from_str(&u.render(&base, false)).ok()
}

fn group_json(sim: &Simulator, id: &str) -> Option<Value> {
    let base = sim.base_url();
    let org = sim.shared.org();
    let g = org.groups.get(id)?;
    serde_json::from_str(&g.render(&base, None)).ok()
}

/// Okta assigns people who are not deprovisioned; a deactivated user is sent `active: false`.
fn assigned(user: &Value) -> bool {
    user["status"] != "DEPROVISIONED"
}

/// The attributes Okta's SCIM app maps from a user's profile (core and enterprise).
fn attributes(user: &Value) -> Value {
    let p = &user["profile"];
    let text = |k: &str| {
        p[k].as_str()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Value::String(s.to_owned()))
    };
    let mut a = Map::new();
    a.insert("userName".into(), text("login").unwrap_or(Value::Null));
    let mut name = Map::new();
    for (scim, okta) in [("givenName", "firstName"), ("familyName", "lastName")] {
        if let Some(v) = text(okta) {
            name.insert(scim.into(), v);
        }
    }
    a.insert("name".into(), Value::Object(name));
    let mut emails = Vec::new();
    if let Some(e) = text("email") {
        emails.push(json!({"primary": true, "value": e, "type": "work"}));
    }
    if let Some(e) = text("secondEmail") {
        emails.push(json!({"primary": false, "value": e, "type": "other"}));
    }
    a.insert("emails".into(), Value::Array(emails));
    for (scim, okta) in [
        ("displayName", "displayName"),
        ("nickName", "nickName"),
        ("title", "title"),
        ("userType", "userType"),
        ("locale", "locale"),
        ("preferredLanguage", "preferredLanguage"),
        ("timezone", "timezone"),
    ] {
        if let Some(v) = text(okta) {
            a.insert(scim.into(), v);
        }
    }
    let mut phones = Vec::new();
    if let Some(n) = text("primaryPhone") {
        phones.push(json!({"primary": true, "value": n, "type": "work"}));
    }
    if let Some(n) = text("mobilePhone") {
        phones.push(json!({"primary": false, "value": n, "type": "mobile"}));
    }
    if !phones.is_empty() {
        a.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let mut ent = Map::new();
    for k in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        if let Some(v) = text(k) {
            ent.insert(k.into(), v);
        }
    }
    // Okta sends whatever `managerId` holds, untranslated (okta-api.md §9.3).
    if let Some(m) = text("managerId") {
        let mut manager = json!({"value": m});
        if let Some(n) = text("manager") {
            manager["displayName"] = n;
        }
        ent.insert("manager".into(), manager);
    }
    a.insert(ENTERPRISE_URN.into(), Value::Object(ent));
    Value::Object(a)
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A placeholder password, as Okta sends one even without password sync.
fn placeholder_password(id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn scim_id(body: &Value, what: &str) -> Result<String, PushError> {
    body["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| PushError(format!("{what} answered without an id: {body}")))
}

impl ScimPush {
    /// What has been sent so far.
    pub fn counts(&self) -> PushCounts {
        let c = &self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PushCounts {
            requests: n(&c.requests),
            retries: n(&c.retries),
            users_created: n(&c.users_created),
            users_updated: n(&c.users_updated),
            users_deactivated: n(&c.users_deactivated),
            groups_created: n(&c.groups_created),
            groups_updated: n(&c.groups_updated),
            groups_deleted: n(&c.groups_deleted),
        }
    }

    /// The SCIM id a user was pushed as.
    pub async fn scim_user_id(&self, okta_id: &str) -> Option<String> {
        let state = self.state.lock().await;
        state.users.get(okta_id).map(|u| u.scim_id.clone())
    }

    /// One request, retried after 5xx, 429 and transport failures. `Ok` holds the status and
    /// the JSON body (`Null` when empty); 4xx answers other than 429 are returned, not retried.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), PushError> {
        let url = format!("{}{path}", self.opts.base_url);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut r = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.opts.token)
                .header("Accept", "application/scim+json");
            if let Some(b) = body {
                r = r
                    .header("Content-Type", "application/scim+json; charset=utf-8")
                    .body(b.to_string());
            }
            let outcome = r.send().await;
            bump(&self.counters.requests);
            let wait = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = resp.text().await.unwrap_or_default();
                    if status == 429 || status >= 500 {
                        if attempt >= self.opts.max_attempts {
                            return Err(PushError(format!(
                                "{method} {path}: {status} after {attempt} tries: {}",
                                text.chars().take(300).collect::<String>()
                            )));
                        }
                        retry_after.unwrap_or_else(|| self.backoff(attempt))
                    } else {
                        let json = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| {
                                PushError(format!(
                                    "{method} {path}: {status} with a body that is not JSON ({e})"
                                ))
                            })?
                        };
                        return Ok((status, json));
                    }
                }
                Err(e) => {
                    if attempt >= self.opts.max_attempts {
                        // reqwest's error names the URL, never the headers.
                        return Err(PushError(format!(
                            "{method} {path} failed after {attempt} tries: {e}"
                        )));
                    }
                    self.backoff(attempt)
                }
            };
            bump(&self.counters.retries);
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let d = self
            .opts
            .retry_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        d.min(Duration::from_secs(30))
    }

    /// A call whose answer must be `want` (one of).
    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        want: &[u16],
    ) -> Result<(u16, Value), PushError> {
        let (status, json) = self.call(method.clone(), path, body).await?;
        if want.contains(&status) {
            Ok((status, json))
        } else {
            Err(PushError(format!(
                "{method} {path} answered {status}: {}",
                json.to_string().chars().take(300).collect::<String>()
            )))
        }
    }

    async fn patch_replace(&self, path: &str, value: Value) -> Result<(), PushError> {
        let body = json!({"schemas": [PATCH_URN],
                          "Operations": [{"op": "replace", "value": value}]});
        self.expect(reqwest::Method::PATCH, path, Some(&body), &[200, 204])
            .await
            .map(|_| ())
    }

    /// Finds a user by userName the way Okta does before creating one.
    async fn find_user(&self, login: &str) -> Result<Option<String>, PushError> {
        let filter = format!("userName eq {}", quoted(login));
        let path = format!("/Users?filter={}&startIndex=1&count=100", encode(&filter));
        let (status, body) = self
            .expect(reqwest::Method::GET, &path, None, &[200, 404])
            .await?;
        if status == 404 {
            return Ok(None);
        }
        match body["Resources"].as_array().and_then(|r| r.first()) {
            Some(r) => scim_id(r, "a userName lookup").map(Some),
            None => Ok(None),
        }
    }

    /// Brings one user to what the org holds now: create (after a lookup), update,
    /// deactivate or reactivate; nothing when nothing changed.
    async fn push_user(&self, okta_id: &str) -> Result<(), PushError> {
        let user = user_json(&self.sim, okta_id);
        let before = self.state.lock().await.users.get(okta_id).cloned();
        let want_active = user.as_ref().is_some_and(assigned);
        let path_of = |scim: &str| format!("/Users/{}", encode(scim));
        let Some(user) = user.filter(|_| want_active) else {
            // Deprovisioned or deleted in Okta: deactivated at the app (Okta never deletes).
            if let Some(b) = before.filter(|b| b.active) {
                self.patch_replace(&path_of(&b.scim_id), json!({"active": false}))
                    .await?;
                bump(&self.counters.users_deactivated);
                let mut state = self.state.lock().await;
                if let Some(u) = state.users.get_mut(okta_id) {
                    u.active = false;
                }
            }
            return Ok(());
        };
        let attrs = attributes(&user);
        let login = attrs["userName"].as_str().unwrap_or_default().to_owned();
        let pushed = match before {
            Some(b) if b.attributes == attrs && b.active => return Ok(()),
            Some(b) => {
                let mut value = attrs.clone();
                if let Some(o) = value.as_object_mut() {
                    o.insert("active".into(), Value::Bool(true));
                }
                self.patch_replace(&path_of(&b.scim_id), value).await?;
                bump(&self.counters.users_updated);
                PushedUser {
                    scim_id: b.scim_id,
                    attributes: attrs,
                    active: true,
                }
            }
            None => {
                let scim = match self.find_user(&login).await? {
                    Some(found) => {
                        // Okta links to the existing user and updates it.
                        let mut value = attrs.clone();
                        if let Some(o) = value.as_object_mut() {
                            o.insert("active".into(), Value::Bool(true));
                        }
                        self.patch_replace(&path_of(&found), value).await?;
                        bump(&self.counters.users_updated);
                        found
                    }
                    None => self.create_user(okta_id, &login, &attrs).await?,
                };
                PushedUser {
                    scim_id: scim,
                    attributes: attrs,
                    active: true,
                }
            }
        };
        self.state
            .lock()
            .await
            .users
            .insert(okta_id.to_owned(), pushed);
        Ok(())
    }

    async fn create_user(
        &self,
        okta_id: &str,
        login: &str,
        attrs: &Value,
    ) -> Result<String, PushError> {
        let mut body = attrs.clone();
        if let Some(o) = body.as_object_mut() {
            o.insert("schemas".into(), json!([USER_URN, ENTERPRISE_URN]));
            o.insert("externalId".into(), Value::String(okta_id.to_owned()));
            o.insert("groups".into(), json!([]));
            o.insert(
                "password".into(),
                Value::String(placeholder_password(okta_id)),
            );
            o.insert("active".into(), Value::Bool(true));
        }
        let (status, created) = self
            .expect(reqwest::Method::POST, "/Users", Some(&body), &[201, 409])
            .await?;
        if status == 409 {
            // Created meanwhile (by another push): link to it.
            return self.find_user(login).await?.ok_or_else(|| {
                PushError(format!(
                    "POST /Users for {login} answered 409, but a userName lookup finds no one"
                ))
            });
        }
        bump(&self.counters.users_created);
        scim_id(&created, "POST /Users")
    }

    /// Brings one group to what the org holds now (Okta groups only; app and built-in groups
    /// are not pushed): create, rename, membership changes, delete.
    async fn push_group(&self, okta_id: &str) -> Result<(), PushError> {
        let group = group_json(&self.sim, okta_id).filter(|g| g["type"] == "OKTA_GROUP");
        let before = self.state.lock().await.groups.get(okta_id).cloned();
        let Some(group) = group else {
            if let Some(b) = before {
                self.expect(
                    reqwest::Method::DELETE,
                    &format!("/Groups/{}", encode(&b.scim_id)),
                    None,
                    &[200, 204, 404],
                )
                .await?;
                bump(&self.counters.groups_deleted);
                self.state.lock().await.groups.remove(okta_id);
            }
            return Ok(());
        };
        let name = group["profile"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // Members are pushed once their user is (a user pushed later brings the group again).
        let pushed_users: HashMap<String, (String, String)> = {
            let state = self.state.lock().await;
            self.sim
                .group_members(okta_id)
                .into_iter()
                .filter_map(|m| {
                    let u = state.users.get(&m).filter(|u| u.active)?;
                    let login = u.attributes["userName"].as_str().unwrap_or("").to_owned();
                    Some((m, (u.scim_id.clone(), login)))
                })
                .collect()
        };
        let want: BTreeSet<String> = pushed_users.keys().cloned().collect();
        let (scim, had) = match before {
            Some(b) => {
                if b.name != name {
                    self.patch_replace(
                        &format!("/Groups/{}", encode(&b.scim_id)),
                        json!({"id": b.scim_id, "displayName": name}),
                    )
                    .await?;
                    bump(&self.counters.groups_updated);
                }
                (b.scim_id, b.members)
            }
            None => {
                let body = json!({"schemas": [GROUP_URN], "displayName": name, "members": []});
                let (_, created) = self
                    .expect(reqwest::Method::POST, "/Groups", Some(&body), &[201])
                    .await?;
                bump(&self.counters.groups_created);
                (scim_id(&created, "POST /Groups")?, BTreeSet::new())
            }
        };
        // Record the group before its members, so a failure below is retried as a membership
        // change, not a second create.
        self.state.lock().await.groups.insert(
            okta_id.to_owned(),
            PushedGroup {
                scim_id: scim.clone(),
                name: name.clone(),
                members: had.clone(),
            },
        );
        let added: Vec<&String> = want.difference(&had).collect();
        let removed: Vec<&String> = had.difference(&want).collect();
        let path = format!("/Groups/{}", encode(&scim));
        let removed_scim: Vec<String> = {
            let state = self.state.lock().await;
            removed
                .iter()
                .filter_map(|m| state.users.get(*m).map(|u| u.scim_id.clone()))
                .collect()
        };
        for chunk in removed_scim.chunks(MEMBERS_PER_PATCH) {
            let ops: Vec<Value> = chunk
                .iter()
                .map(
                    |s| json!({"op": "remove", "path": format!("members[value eq {}]", quoted(s))}),
                )
                .collect();
            let body = json!({"schemas": [PATCH_URN], "Operations": ops});
            self.expect(reqwest::Method::PATCH, &path, Some(&body), &[200, 204])
                .await?;
        }
        for chunk in added.chunks(MEMBERS_PER_PATCH) {
            let value: Vec<Value> = chunk
                .iter()
                .filter_map(|m| pushed_users.get(*m))
                .map(|(s, login)| json!({"value": s, "display": login}))
                .collect();
            let body = json!({"schemas": [PATCH_URN],
                              "Operations": [{"op": "add", "path": "members", "value": value}]});
            self.expect(reqwest::Method::PATCH, &path, Some(&body), &[200, 204])
                .await?;
        }
        if !added.is_empty() || !removed.is_empty() {
            bump(&self.counters.groups_updated);
        }
        if let Some(g) = self.state.lock().await.groups.get_mut(okta_id) {
            g.members = want;
        }
        Ok(())
    }

    /// Pushes `ids` (users) and then `groups`, `concurrency` at a time; the first failure is
    /// returned after every push ran.
    async fn push(&self, users: Vec<String>, groups: Vec<String>) -> Result<(), PushError> {
        let n = self.opts.concurrency.max(1);
        let mut first = None;
        let results: Vec<_> = futures::stream::iter(users)
            .map(|id| async move { self.push_user(&id).await })
            .buffer_unordered(n)
            .collect()
            .await;
        first = first.or(results.into_iter().find_map(Result::err));
        let results: Vec<_> = futures::stream::iter(groups)
            .map(|id| async move { self.push_group(&id).await })
            .buffer_unordered(n)
            .collect()
            .await;
        first = first.or(results.into_iter().find_map(Result::err));
        first.map_or(Ok(()), Err)
    }

    /// Provisions the whole org: every assigned user, then every Okta group with its members.
    /// Changes made meanwhile are read by the next [`ScimPush::push_changes`].
    pub async fn provision(&self) -> Result<(), PushError> {
        let (users, groups, cursor) = {
            let org = self.sim.shared.org();
            let users: Vec<String> = org.users.keys().cloned().collect();
            let groups: Vec<String> = org.groups.keys().cloned().collect();
            (users, groups, org.log.len())
        };
        self.state.lock().await.cursor = cursor;
        self.push(users, groups).await
    }

    /// Pushes what the System Log says changed since the last read; returns how many users and
    /// groups were looked at again.
    pub async fn push_changes(&self) -> Result<usize, PushError> {
        let after = self.state.lock().await.cursor;
        let (targets, cursor) = {
            let org = self.sim.shared.org();
            let (targets, cursor) = org.log.targets_after(after);
            (targets.into_iter().collect::<BTreeSet<String>>(), cursor)
        };
        if targets.is_empty() {
            self.state.lock().await.cursor = cursor;
            return Ok(0);
        }
        // A target is a user or a group; one that is gone is whichever was pushed.
        let (mut users, mut groups) = (Vec::new(), BTreeSet::new());
        {
            let state = self.state.lock().await;
            let org = self.sim.shared.org();
            for id in &targets {
                if org.users.contains_key(id) || state.users.contains_key(id) {
                    users.push(id.clone());
                    // A user's status decides whether the groups hold them.
                    if let Some(gs) = org.user_groups.get(id) {
                        groups.extend(gs.iter().cloned());
                    }
                }
                if org.groups.contains_key(id) || state.groups.contains_key(id) {
                    groups.insert(id.clone());
                }
            }
            // A deleted user's groups no longer list them: the pushed memberships do.
            for (gid, g) in &state.groups {
                if g.members.iter().any(|m| targets.contains(m)) {
                    groups.insert(gid.clone());
                }
            }
        }
        let looked = users.len() + groups.len();
        self.push(users, groups.into_iter().collect()).await?;
        self.state.lock().await.cursor = cursor;
        Ok(looked)
    }

    /// Provisions the org, then pushes its changes every `poll` until `stop` turns true.
    /// A failed push is logged (without the token) and tried again at the next poll.
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut provisioned = false;
        loop {
            let result = if provisioned {
                self.push_changes().await.map(|_| ())
            } else {
                self.provision().await
            };
            match result {
                Ok(()) if !provisioned => {
                    provisioned = true;
                    let c = self.counts();
                    tracing::info!(
                        "SCIM push: provisioned {} users and {} groups ({} requests)",
                        c.users_created + c.users_updated,
                        c.groups_created,
                        c.requests
                    );
                }
                Ok(()) => {}
                Err(e) => tracing::warn!("SCIM push: {e}; trying again"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.opts.poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
