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
use std::sync::{Arc, Mutex, PoisonError};

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

/// A manager's display name and the visible chain from them up (`None`: not visible).
type Chain = Option<Arc<(String, Vec<Value>)>>;

/// Managers and groups already read while building the users of one answer: the people of a
/// page share most of their managers and groups, so each is read (and its JSON built) once per
/// request, and, through [`SharedMemo`], once per state of the store.
#[derive(Default)]
pub(crate) struct Memo {
    people: HashMap<String, Option<Person>>,
    /// A group's entry in `groups` (`None`: unknown).
    groups: HashMap<String, Option<Value>>,
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

    fn group(&mut self, view: &View, id: &str) -> Result<Option<Value>> {
        if let Some(g) = self.groups.get(id) {
            return Ok(g.clone());
        }
        let g = match self.shared_get(|s, _| s.groups.get(id).cloned()) {
            Some(g) => g,
            None => {
                let g = view.group(id)?.map(|g| {
                    json!({"value": g.id, "display": g.name,
                           "$ref": super::groups::location(&g.id), "type": "direct"})
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
                    Some(m) => Some(Arc::new((m.name(), manager_chain(view, m, self)?))),
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

/// Entries the shared memo holds before it starts again: 20,000 chains of about 1 KB and group
/// entries of about 150 B bound it to some 20 MB, while the managers near the top of an org
/// and its large groups, the ones every page shares, stay in it.
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
    groups: HashMap<String, Option<Value>>,
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
        view.profile_and_document(&p.id)?
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
    let formatted = match (&p.first_name, &p.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.clone().or_else(|| l.clone()),
    };
    put(&mut name, "formatted", formatted);
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
                groups.push(g);
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
                    chain = up.clone();
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
