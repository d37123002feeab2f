//! A person as a SCIM User (RFC 7643 §4.1) with the enterprise extension and the oktamirror
//! extension (Okta status, custom attributes, manager chain), read through the caller's `View`.
//!
//! Where values come from: the typed `Person` fields (every role sees them) and, for the rest,
//! `View::profile`, which applies the role's attribute rules. A `directory` key gets the raw
//! profile only for the attributes listed in `directory_attributes` (default none), so unless
//! those are listed it does NOT get: `phoneNumbers`, `addresses` beyond `locality` and `country`,
//! the second email, `userType` (unless it comes from Okta's user type, read by everyone), `preferredLanguage`, `locale`, `timezone`, and the extension's
//! `customAttributes`. `status`, the enterprise attributes and the manager chain come from the
//! typed fields and are served to every role; deprovisioned people (and managers) are not
//! served to a `directory` key at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{Map, Value, json};

use super::filter::USER_URN;
use crate::access::{Result, View};
use crate::model::{Person, UserStatus};

pub(crate) const ENTERPRISE_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const MIRROR_URN: &str = "urn:ietf:params:scim:schemas:extension:oktamirror:2.0:User";

/// Okta's base profile attributes; anything else in a profile is a custom attribute.
pub(crate) const OKTA_BASE: &[&str] = &crate::model::mapping::BASE_PROFILE;

/// Core attributes (lowercase) whose values come, wholly or in part, from the raw profile
/// (`pf` in [`resource_with`]); with the extension's `customAttributes`, what a User without
/// [`Parts::profile`] lacks.
pub(crate) const FROM_PROFILE: &[&str] = &[
    "name",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "profileurl",
    "emails",
    "phonenumbers",
    "addresses",
];

/// Whether a User reads profile attribute `k` (through `pf` in [`resource_with`] and
/// [`write_user`], or as a custom attribute): all but the base attributes a User takes from
/// the typed record, which are then skipped, not decoded.
fn read_from_profile(k: &str) -> bool {
    !matches!(
        k,
        "login"
            | "email"
            | "firstName"
            | "lastName"
            | "title"
            | "displayName"
            | "nickName"
            | "city"
            | "countryCode"
            | "postalAddress"
            | "employeeNumber"
            | "costCenter"
            | "organization"
            | "division"
            | "department"
            | "managerId"
            | "manager"
    )
}

/// Longest manager chain followed (cycles are broken by the sync engine; this is a guard).
const MAX_CHAIN: usize = 64;

/// Which expensive parts of a User to build: each costs store reads per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    /// The raw profile (phones, addresses, locale…, custom attributes).
    pub profile: bool,
    /// The person's groups.
    pub groups: bool,
    /// The manager's display name and the whole manager chain.
    pub managers: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        profile: true,
        groups: true,
        managers: true,
    };
    /// Only what the typed `Person` holds: for filtering and sorting on those attributes.
    pub const TYPED: Parts = Parts {
        profile: false,
        groups: false,
        managers: false,
    };
}

/// A manager's display name and the visible chain from them up, an array (`None`: not
/// visible).
type Chain = Option<Arc<(String, Fragment)>>;

/// A group's entry in a user's `groups` (`None`: unknown).
type GroupEntry = Option<Arc<Fragment>>;

/// A part of Users built once and shared by every user that holds it (a group's entry, a
/// manager chain): kept as its JSON text, which [`write_user`] copies as is into an answer,
/// and parsed into a `Value` the first time a user built as one ([`resource_with`]) needs it.
pub(crate) struct Fragment {
    json: Box<str>,
    value: OnceLock<Value>,
}

impl Fragment {
    fn new(value: &Value) -> Fragment {
        Fragment {
            json: String::from_utf8(super::errors::json_bytes(value))
                .unwrap_or_default()
                .into(),
            value: OnceLock::new(),
        }
    }

    /// The fragment's JSON text.
    pub(crate) fn json(&self) -> &str {
        &self.json
    }

    /// The fragment as a `Value` (its own text, which always parses).
    pub(crate) fn value(&self) -> &Value {
        self.value
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or(Value::Null))
    }
}

/// Managers and groups already read while building the users of one answer: the people of a
/// page share most of their managers and groups, so each is read (and its JSON built) once per
/// request, and, through [`SharedMemo`], once per state of the store.
#[derive(Default)]
pub(crate) struct Memo {
    people: HashMap<String, Option<Person>>,
    groups: HashMap<String, GroupEntry>,
    chains: HashMap<String, Chain>,
    user_types: Option<Vec<crate::model::UserType>>,
    /// The server's memo, with the store generation this request reads and the caller's
    /// visibility class; `None` for a memo of one request only.
    shared: Option<(Arc<SharedMemo>, u64, usize)>,
}

impl Memo {
    /// A memo that also reads and fills `shared`, for what `view` may see of the store as it
    /// is now. Made before the request reads what it memoizes: an entry read before a write
    /// committed is then filed under the generation before it, which the next request empties.
    pub(crate) fn with_shared(shared: &Arc<SharedMemo>, view: &View) -> Memo {
        let generation = *view.written().borrow();
        let class = usize::from(view.may(crate::access::Permission::SeeDeprovisioned));
        Memo {
            shared: Some((shared.clone(), generation, class)),
            ..Memo::default()
        }
    }

    /// An empty memo for another thread of the same request: the same shared memo,
    /// generation and class.
    pub(crate) fn sibling(&self) -> Memo {
        Memo {
            shared: self.shared.clone(),
            ..Memo::default()
        }
    }

    /// The display name of Okta user type `id`, when the mirror knows it.
    fn user_type(&mut self, view: &View, id: &str) -> Result<Option<String>> {
        if self.user_types.is_none() {
            self.user_types = Some(view.user_types()?);
        }
        Ok(self
            .user_types
            .iter()
            .flatten()
            .find(|t| t.id == id)
            .map(|t| t.display_name.clone().unwrap_or_else(|| t.name.clone())))
    }

    fn person(&mut self, view: &View, id: &str) -> Result<Option<Person>> {
        if let Some(p) = self.people.get(id) {
            return Ok(p.clone());
        }
        let p = view.person(id)?;
        self.people.insert(id.to_owned(), p.clone());
        Ok(p)
    }

    fn group(&mut self, view: &View, id: &str) -> Result<GroupEntry> {
        if let Some(g) = self.groups.get(id) {
            return Ok(g.clone());
        }
        let g = match self.shared_get(|s, _| s.groups.get(id).cloned()) {
            Some(g) => g,
            None => {
                let g = view.group(id)?.map(|g| {
                    Arc::new(Fragment::new(&json!({"value": g.id, "display": g.name,
                           "$ref": super::groups::location(&g.id), "type": "direct"})))
                });
                self.shared_put(|s, _| {
                    s.groups.insert(id.to_owned(), g.clone());
                });
                g
            }
        };
        self.groups.insert(id.to_owned(), g.clone());
        Ok(g)
    }

    /// The manager `id`'s display name and chain (them first, the root last).
    fn chain(&mut self, view: &View, id: &str) -> Result<Chain> {
        if let Some(c) = self.chains.get(id) {
            return Ok(c.clone());
        }
        let c = match self.shared_get(|s, class| s.chains[class].get(id).cloned()) {
            Some(c) => c,
            None => {
                let c = match self.person(view, id)? {
                    Some(m) => {
                        let name = m.name();
                        let chain = Value::Array(manager_chain(view, m, self)?);
                        Some(Arc::new((name, Fragment::new(&chain))))
                    }
                    None => None,
                };
                self.shared_put(|s, class| {
                    s.chains[class].insert(id.to_owned(), c.clone());
                });
                c
            }
        };
        self.chains.insert(id.to_owned(), c.clone());
        Ok(c)
    }

    /// What `get` finds in the shared memo, when it holds this request's generation.
    fn shared_get<T>(&self, get: impl FnOnce(&Generation, usize) -> Option<T>) -> Option<T> {
        let (shared, generation, class) = self.shared.as_ref()?;
        let g = shared.0.lock().unwrap_or_else(PoisonError::into_inner);
        if g.number != *generation {
            return None;
        }
        get(&g, *class)
    }

    /// Files an entry with `put`, unless the shared memo has moved on to a later generation
    /// (this request read an older state). A later generation, or a full memo, starts it
    /// again empty (the old entries dropped once the lock is released).
    fn shared_put(&self, put: impl FnOnce(&mut Generation, usize)) {
        let Some((shared, generation, class)) = self.shared.as_ref() else {
            return;
        };
        let mut g = shared.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *generation < g.number {
            return;
        }
        let mut old = None;
        if *generation > g.number || g.entries >= SHARED_MEMO_MAX {
            old = Some(std::mem::replace(
                &mut *g,
                Generation {
                    number: *generation,
                    ..Generation::default()
                },
            ));
        }
        g.entries += 1;
        put(&mut g, *class);
        drop(g);
        drop(old);
    }
}

/// Entries the shared memo holds before it starts again: 20,000 chains of about 1 KB of JSON
/// text and group entries of about 150 B bound it to some 20 MB (a few times that once users
/// built as `Value`s have parsed them too, [`Fragment::value`]), while the managers near the
/// top of an org and its large groups, the ones every page shares, stay in it.
const SHARED_MEMO_MAX: usize = 20_000;

/// Managers' chains and groups' entries for SCIM users, shared by every request of one server
/// that reads the same state of the store (the generation `View::written` counts): the users
/// of any page share the managers near the top of the org and the large groups, so after the
/// first pages those are neither read nor built again. The first request that sees a later
/// generation (a committed batch) empties it.
#[derive(Default)]
pub(crate) struct SharedMemo(Mutex<Generation>);

#[derive(Default)]
struct Generation {
    number: u64,
    entries: usize,
    /// Chains by manager id, for callers who do not (0) and who do (1) see deprovisioned
    /// people: a chain stops below a manager the caller may not see.
    chains: [HashMap<String, Chain>; 2],
    groups: HashMap<String, GroupEntry>,
}

/// The path of a user, relative to the server's root.
pub(crate) fn location(id: &str) -> String {
    format!("{}/Users/{id}", super::BASE)
}

/// SCIM `active`: false for people who cannot sign in by Okta's lifecycle (staged, suspended,
/// deprovisioned), true otherwise.
pub(crate) fn active(status: UserStatus) -> bool {
    !matches!(
        status,
        UserStatus::Staged | UserStatus::Suspended | UserStatus::Deprovisioned
    )
}

fn put(o: &mut Map<String, Value>, k: &str, v: Option<String>) {
    if let Some(v) = v.filter(|v| !v.is_empty()) {
        o.insert(k.into(), Value::String(v));
    }
}

fn text(profile: &Value, k: &str) -> Option<String> {
    match profile.get(k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `name.formatted`: the first and last names.
fn formatted(p: &Person) -> Option<String> {
    match (&p.first_name, &p.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.clone().or_else(|| l.clone()),
    }
}

/// `person` as a SCIM User, without `meta.version` (see `with_version`).
pub(crate) fn resource(view: &View, p: &Person, parts: Parts) -> Result<Value> {
    resource_with(view, p, parts, &mut Memo::default())
}

/// [`resource`], reading managers and groups through `memo`.
pub(crate) fn resource_with(
    view: &View,
    p: &Person,
    parts: Parts,
    memo: &mut Memo,
) -> Result<Value> {
    let (profile, document) = if parts.profile {
        view.profile_and_document(&p.id, read_from_profile)?
    } else {
        (Value::Object(Map::new()), None)
    };
    let pf = |k: &str| text(&profile, k);
    let mut u = Map::new();
    u.insert(
        "schemas".into(),
        json!([USER_URN, ENTERPRISE_URN, MIRROR_URN]),
    );
    u.insert("id".into(), Value::String(p.id.clone()));
    put(&mut u, "externalId", p.external_id.clone());
    u.insert("userName".into(), Value::String(p.login.clone()));

    let mut name = Map::new();
    put(&mut name, "givenName", p.first_name.clone());
    put(&mut name, "familyName", p.last_name.clone());
    put(&mut name, "middleName", pf("middleName"));
    put(&mut name, "honorificPrefix", pf("honorificPrefix"));
    put(&mut name, "honorificSuffix", pf("honorificSuffix"));
    put(&mut name, "formatted", formatted(p));
    if !name.is_empty() {
        u.insert("name".into(), Value::Object(name));
    }
    put(&mut u, "displayName", Some(p.name()));
    put(&mut u, "nickName", p.nick_name.clone());
    put(&mut u, "title", p.title.clone());
    // Okta's user type (`type.id`) by its display name; else the profile's free-text label.
    let user_type = match &p.user_type_id {
        Some(id) => memo.user_type(view, id)?,
        None => None,
    };
    put(&mut u, "userType", user_type.or_else(|| pf("userType")));
    put(&mut u, "preferredLanguage", pf("preferredLanguage"));
    put(&mut u, "locale", pf("locale"));
    put(&mut u, "timezone", pf("timezone"));
    put(&mut u, "profileUrl", pf("profileUrl"));
    u.insert("active".into(), Value::Bool(active(p.status)));

    let mut emails = Vec::new();
    if let Some(e) = &p.email {
        emails.push(json!({"value": e, "type": "work", "primary": true}));
    }
    if let Some(e) = pf("secondEmail") {
        emails.push(json!({"value": e, "type": "other", "primary": false}));
    }
    if !emails.is_empty() {
        u.insert("emails".into(), Value::Array(emails));
    }
    let mut phones = Vec::new();
    if let Some(n) = pf("primaryPhone") {
        phones.push(json!({"value": n, "type": "work", "primary": true}));
    }
    if let Some(n) = pf("mobilePhone") {
        phones.push(json!({"value": n, "type": "mobile", "primary": false}));
    }
    if !phones.is_empty() {
        u.insert("phoneNumbers".into(), Value::Array(phones));
    }
    let mut addr = Map::new();
    put(&mut addr, "streetAddress", pf("streetAddress"));
    // The typed (mapped) values, never the raw attribute: see `attribute_map`.
    put(&mut addr, "locality", p.city.clone());
    put(&mut addr, "region", pf("state"));
    put(&mut addr, "postalCode", pf("zipCode"));
    put(&mut addr, "country", p.country_code.clone());
    if !addr.is_empty() {
        addr.insert("type".into(), Value::String("work".into()));
        addr.insert("primary".into(), Value::Bool(true));
        u.insert("addresses".into(), json!([addr]));
    }

    if parts.groups {
        let ids = view.group_ids_of_person(p)?;
        let mut groups = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(g) = memo.group(view, id)? {
                groups.push(g.value().clone());
            }
        }
        u.insert("groups".into(), Value::Array(groups));
    }

    let mut ent = Map::new();
    put(&mut ent, "employeeNumber", p.employee_number.clone());
    put(&mut ent, "costCenter", p.cost_center.clone());
    put(&mut ent, "organization", p.organization.clone());
    put(&mut ent, "division", p.division.clone());
    put(&mut ent, "department", p.department.clone());
    let mut chain = Vec::new();
    if let Some(mid) = &p.manager_id {
        let mut manager = json!({"value": mid, "$ref": location(mid)});
        if parts.managers {
            // A manager the caller may not see is left out altogether.
            match memo.chain(view, mid)? {
                Some(found) => {
                    let (name, up) = &*found;
                    manager["displayName"] = Value::String(name.clone());
                    chain = up.value().as_array().cloned().unwrap_or_default();
                }
                None => manager = Value::Null,
            }
        }
        if !manager.is_null() {
            ent.insert("manager".into(), manager);
        }
    }
    u.insert(ENTERPRISE_URN.into(), Value::Object(ent));

    let mut ext = Map::new();
    // In provisioning mode the extension holds only what a client writes (the status is
    // `active`, the chain is GraphQL's), so a client reads back exactly what it wrote.
    let mirrored = !view.provisioning();
    if mirrored {
        ext.insert("status".into(), Value::String(p.status.as_str().into()));
        ext.insert("inScope".into(), Value::Bool(!p.outside_scope));
    }
    put(&mut ext, "managerId", p.manager_ref.clone());
    if parts.managers && mirrored {
        ext.insert("managerChain".into(), Value::Array(chain));
    }
    if parts.profile
        && let Value::Object(all) = &profile
    {
        let custom: Map<String, Value> = all
            .iter()
            .filter(|(k, _)| !OKTA_BASE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ext.insert("customAttributes".into(), Value::Object(custom));
    }
    u.insert(MIRROR_URN.into(), Value::Object(ext));

    let mut meta = Map::new();
    meta.insert("resourceType".into(), Value::String("User".into()));
    put(&mut meta, "created", p.created.map(|t| super::time(&t)));
    put(
        &mut meta,
        "lastModified",
        p.last_updated.or(p.created).map(|t| super::time(&t)),
    );
    meta.insert("location".into(), Value::String(location(&p.id)));
    u.insert("meta".into(), Value::Object(meta));
    if let Some(doc) = document {
        as_pushed(&mut u, doc);
    }
    Ok(Value::Object(u))
}

/// Core attributes a provisioning client writes (and reads back as it wrote them).
const WRITABLE: &[&str] = &[
    "externalId",
    "name",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "profileUrl",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
];

/// A pushed person (provisioning mode) as its client wrote them: every writable attribute
/// comes from the pushed document, so what was sent is what is read back (an attribute the
/// client removed stays absent); the read-only ones (id, groups, meta, status, manager
/// chain) are the mirror's. Only for callers who may read raw profiles (`View::provisioned`).
fn as_pushed(u: &mut Map<String, Value>, doc: Value) {
    let Value::Object(doc) = doc else {
        return;
    };
    for k in WRITABLE {
        u.remove(*k);
    }
    let mut ext = match u.remove(MIRROR_URN) {
        Some(Value::Object(e)) => e,
        _ => Map::new(),
    };
    ext.remove("managerId");
    ext.remove("customAttributes");
    u.remove(ENTERPRISE_URN);
    for (k, v) in doc {
        if k == MIRROR_URN {
            if let Value::Object(mine) = v {
                ext.extend(mine);
            }
        } else {
            u.insert(k, v);
        }
    }
    if !ext.is_empty() {
        u.insert(MIRROR_URN.into(), Value::Object(ext));
    }
}

/// Writes `p` as a whole SCIM User ([`Parts::ALL`], `meta.version` included) as JSON text at
/// the end of `out`, without building a `Value`: the text `serde_json` writes for
/// [`resource_with`]'s `Value` after `query::with_version`, byte for byte (keys in a
/// `serde_json::Map`'s order, the memo's groups and chains copied in as text). Returns false,
/// having written nothing, for a person with a pushed document (provisioning mode), whose
/// User [`resource_with`] merges with it.
pub(crate) fn write_user(
    view: &View,
    p: &Person,
    memo: &mut Memo,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let (profile, document) = view.profile_and_document(&p.id, read_from_profile)?;
    if document.is_some() {
        return Ok(false);
    }
    let pf = |k: &str| text(&profile, k);
    let user_type = match &p.user_type_id {
        Some(id) => memo.user_type(view, id)?,
        None => None,
    };
    let mut groups = Vec::new();
    for id in &view.group_ids_of_person(p)? {
        if let Some(g) = memo.group(view, id)? {
            groups.push(g);
        }
    }
    let chain = match &p.manager_id {
        Some(mid) => memo.chain(view, mid)?.map(|c| (mid, c)),
        None => None,
    };
    let start = out.len();
    let mut u = Obj::open(out);
    u.bool("active", active(p.status));
    let (street, region, postal) = (pf("streetAddress"), pf("state"), pf("zipCode"));
    let address = [
        ("country", p.country_code.as_deref()),
        ("locality", p.city.as_deref()),
        ("postalCode", postal.as_deref()),
        ("region", region.as_deref()),
        ("streetAddress", street.as_deref()),
    ];
    if address
        .iter()
        .any(|(_, v)| v.is_some_and(|v| !v.is_empty()))
    {
        let o = u.key("addresses");
        o.push(b'[');
        let mut a = Obj::open(o);
        for (k, v) in &address[..3] {
            a.put(k, *v);
        }
        a.bool("primary", true);
        for (k, v) in &address[3..] {
            a.put(k, *v);
        }
        a.str("type", "work");
        a.close().push(b']');
    }
    u.put("displayName", Some(&p.name()));
    let second_email = pf("secondEmail");
    contacts(
        &mut u,
        "emails",
        [
            (p.email.as_deref(), "work", true),
            (second_email.as_deref(), "other", false),
        ],
    );
    u.put("externalId", p.external_id.as_deref());
    let o = u.key("groups");
    o.push(b'[');
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(g.json().as_bytes());
    }
    o.push(b']');
    u.str("id", &p.id);
    u.put("locale", pf("locale").as_deref());
    let mut meta = Obj::open(u.key("meta"));
    meta.put("created", p.created.map(|t| super::time(&t)).as_deref());
    meta.put(
        "lastModified",
        p.last_updated
            .or(p.created)
            .map(|t| super::time(&t))
            .as_deref(),
    );
    meta.str("location", &location(&p.id));
    meta.str("resourceType", "User");
    // `version`, the last key of `meta`, goes here once the rest is written and hashed.
    let version_at = meta.out.len();
    meta.close();
    let formatted = formatted(p);
    let (middle, prefix, suffix) = (
        pf("middleName"),
        pf("honorificPrefix"),
        pf("honorificSuffix"),
    );
    let name = [
        ("familyName", p.last_name.as_deref()),
        ("formatted", formatted.as_deref()),
        ("givenName", p.first_name.as_deref()),
        ("honorificPrefix", prefix.as_deref()),
        ("honorificSuffix", suffix.as_deref()),
        ("middleName", middle.as_deref()),
    ];
    if name.iter().any(|(_, v)| v.is_some_and(|v| !v.is_empty())) {
        let mut n = Obj::open(u.key("name"));
        for (k, v) in name {
            n.put(k, v);
        }
        n.close();
    }
    u.put("nickName", p.nick_name.as_deref());
    let (phone, mobile) = (pf("primaryPhone"), pf("mobilePhone"));
    contacts(
        &mut u,
        "phoneNumbers",
        [
            (phone.as_deref(), "work", true),
            (mobile.as_deref(), "mobile", false),
        ],
    );
    u.put("preferredLanguage", pf("preferredLanguage").as_deref());
    u.put("profileUrl", pf("profileUrl").as_deref());
    let o = u.key("schemas");
    o.push(b'[');
    for (i, urn) in [USER_URN, ENTERPRISE_URN, MIRROR_URN]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            o.push(b',');
        }
        json_str(o, urn);
    }
    o.push(b']');
    u.put("timezone", pf("timezone").as_deref());
    u.put("title", p.title.as_deref());

    let mut ent = Obj::open(u.key(ENTERPRISE_URN));
    ent.put("costCenter", p.cost_center.as_deref());
    ent.put("department", p.department.as_deref());
    ent.put("division", p.division.as_deref());
    ent.put("employeeNumber", p.employee_number.as_deref());
    // A manager the caller may not see is left out altogether.
    if let Some((mid, found)) = &chain {
        let mut m = Obj::open(ent.key("manager"));
        m.str("$ref", &location(mid));
        m.str("displayName", &found.0);
        m.str("value", mid);
        m.close();
    }
    ent.put("organization", p.organization.as_deref());
    ent.close();

    // In provisioning mode the extension holds only what a client writes (see `resource_with`).
    let mirrored = !view.provisioning();
    let mut ext = Obj::open(u.key(MIRROR_URN));
    let o = ext.key("customAttributes");
    o.push(b'{');
    if let Value::Object(all) = &profile {
        let custom = all.iter().filter(|(k, _)| !OKTA_BASE.contains(&k.as_str()));
        for (i, (k, v)) in custom.enumerate() {
            if i > 0 {
                o.push(b',');
            }
            json_str(o, k);
            o.push(b':');
            json_value(o, v);
        }
    }
    o.push(b'}');
    if mirrored {
        ext.bool("inScope", !p.outside_scope);
        let chain = chain.as_ref().map_or("[]", |(_, c)| c.1.json());
        ext.key("managerChain").extend_from_slice(chain.as_bytes());
    }
    ext.put("managerId", p.manager_ref.as_deref());
    if mirrored {
        ext.str("status", p.status.as_str());
    }
    ext.close();
    u.str("userName", &p.login);
    u.put("userType", user_type.or_else(|| pf("userType")).as_deref());
    let out = u.close();

    let version = super::query::etag(&out[start..]);
    let mut field = b",\"version\":".to_vec();
    json_str(&mut field, &version);
    out.splice(version_at..version_at, field);
    Ok(true)
}

/// `emails` or `phoneNumbers` as [`resource_with`] builds them: an array of the values there
/// are (value, type, primary), left out when there is none.
fn contacts(u: &mut Obj, key: &'static str, items: [(Option<&str>, &str, bool); 2]) {
    if items.iter().all(|(v, _, _)| v.is_none()) {
        return;
    }
    let o = u.key(key);
    o.push(b'[');
    for (i, (v, kind, primary)) in items
        .into_iter()
        .filter_map(|(v, kind, primary)| Some((v?, kind, primary)))
        .enumerate()
    {
        if i > 0 {
            o.push(b',');
        }
        let mut c = Obj::open(o);
        c.bool("primary", primary);
        c.str("type", kind);
        c.str("value", v);
        c.close();
    }
    o.push(b']');
}

/// Writes `s` as a JSON string, escaped as `serde_json` escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes `v` as `serde_json` does.
fn json_value(out: &mut Vec<u8>, v: &Value) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// A JSON object being written by [`write_user`]. Its keys must come in the order a
/// `serde_json::Map` (a `BTreeMap`) keeps them, so that the text is the one `serde_json`
/// writes for the `Value` (checked in debug builds).
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    last: Option<&'static str>,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, last: None }
    }

    /// Writes `key` (and the comma before it) and returns the buffer for its value.
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(
            self.last.is_none_or(|l| l < key),
            "{key} written after {:?}",
            self.last
        );
        if self.last.is_some() {
            self.out.push(b',');
        }
        self.last = Some(key);
        json_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &'static str, v: &str) {
        json_str(self.key(key), v);
    }

    /// A string attribute as `put` keeps it: only when there is one and it is not empty.
    fn put(&mut self, key: &'static str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.str(key, v);
        }
    }

    fn bool(&mut self, key: &'static str, v: bool) {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.key(key).extend_from_slice(text);
    }

    /// Ends the object; returns the buffer.
    fn close(self) -> &'a mut Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// The visible chain above `first` (its manager first, the root last).
fn manager_chain(view: &View, first: Person, memo: &mut Memo) -> Result<Vec<Value>> {
    let mut chain = Vec::new();
    let mut seen = vec![first.id.clone()];
    let mut next = Some(first);
    while let Some(m) = next.take() {
        chain.push(json!({"value": m.id, "display": m.name(), "$ref": location(&m.id)}));
        if chain.len() >= MAX_CHAIN {
            break;
        }
        if let Some(up) = &m.manager_id
            && !seen.contains(up)
        {
            seen.push(up.clone());
            next = memo.person(view, up)?;
        }
    }
    Ok(chain)
}

#[cfg(test)]
#[path = "../tests/scim_users.rs"]
mod tests;
