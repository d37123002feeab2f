//! Provisioning mode's mapping: a SCIM User document as a client pushes it becomes the Okta-style
//! profile the rest of the mirror reads (userName → login, name.givenName → firstName, the
//! primary email → email, enterprise attributes and `manager.value` → managerId, …), and a SCIM
//! Group body or PATCH becomes a `GroupChange`. The document itself is kept as sent (less
//! read-only attributes and the password), so a client reads back exactly what it wrote.

use serde_json::{Map, Value};

use super::errors::{ScimError, ScimResult};
use super::filter::{Filter, Op, get_ci};
use super::patch::{Operation, Target, Verb};
use super::users::{ENTERPRISE_URN, MIRROR_URN, OKTA_BASE};
use crate::model::{GroupChange, MemberOp, PushedGroup, PushedUser, UserStatus};

/// User attributes a client may not write (RFC 7643 `readOnly`): left out of the document.
pub(crate) const USER_READ_ONLY: &[&str] = &["id", "meta", "schemas", "groups"];
/// Never kept: Okta sends a random password even when password sync is off.
const NEVER_KEPT: &[&str] = &["password"];
/// Read-only attributes of the oktamirror extension.
const MIRROR_READ_ONLY: &[&str] = &["status", "managerChain"];

/// Attribute names in their RFC 7643 spelling, so a document sent as `username` is served back
/// as `userName`.
const CANONICAL: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
    "externalId",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "value",
    "display",
    "type",
    "primary",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "$ref",
    "customAttributes",
    "managerId",
];

fn canonical_key(k: &str) -> String {
    [ENTERPRISE_URN, MIRROR_URN]
        .iter()
        .chain(CANONICAL)
        .find(|c| c.eq_ignore_ascii_case(k))
        .map_or_else(|| k.to_owned(), |c| (*c).to_owned())
}

/// The document with known attribute names in their canonical spelling (custom attributes
/// are left as they are).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let k = canonical_key(&k);
                    let v = if k == "customAttributes" {
                        v
                    } else {
                        canonical(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// A string-valued attribute as text (numbers and booleans as their text).
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `active` as a boolean; some clients send "True"/"False".
fn boolean(v: &Value) -> ScimResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::invalid_value(format!(
            "active must be true or false, not {other}"
        ))),
    }
}

/// The element of a multi-valued attribute that counts as primary: `primary: true`, else the
/// one of `prefer` type, else the first.
fn primary<'a>(items: &'a [Value], prefer: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|e| get_ci(e, "primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            items.iter().find(|e| {
                get_ci(e, "type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(prefer))
            })
        })
        .or_else(|| items.first())
}

fn items<'a>(doc: &'a Value, attr: &str) -> &'a [Value] {
    get_ci(doc, attr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A pushed SCIM User document as the mirror stores it. `current` is the person's status
/// before this write (`None` on create): `active: true` makes an inactive person ACTIVE,
/// `active: false` makes an active one DEPROVISIONED (as deactivating in Okta does), and no
/// `active` keeps the status (ACTIVE on create).
pub(crate) fn user(doc: &Value, current: Option<UserStatus>) -> ScimResult<PushedUser> {
    let Value::Object(obj) = canonical(doc.clone()) else {
        return Err(ScimError::invalid_syntax(
            "a User is a JSON object with at least userName",
        ));
    };
    let mut document = Map::new();
    for (k, v) in obj {
        if USER_READ_ONLY.contains(&k.as_str()) || NEVER_KEPT.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        let v = match (k.as_str(), v) {
            ("active", v) => Value::Bool(boolean(&v)?),
            (MIRROR_URN, Value::Object(mut ext)) => {
                ext.retain(|k, _| !MIRROR_READ_ONLY.contains(&k.as_str()));
                Value::Object(ext)
            }
            (_, v) => v,
        };
        document.insert(k, v);
    }
    let doc = Value::Object(document);
    let login = text(doc.get("userName"))
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| {
            ScimError::invalid_value("userName is required: the person's unique login")
        })?;
    let mut p = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            p.insert(k.to_owned(), Value::String(v));
        }
    };
    put("login", Some(login));
    if let Some(name) = doc.get("name") {
        put("firstName", text(name.get("givenName")));
        put("lastName", text(name.get("familyName")));
        put("middleName", text(name.get("middleName")));
        put("honorificPrefix", text(name.get("honorificPrefix")));
        put("honorificSuffix", text(name.get("honorificSuffix")));
    }
    for k in [
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "profileUrl",
    ] {
        put(k, text(doc.get(k)));
    }
    let emails = items(&doc, "emails");
    let first = primary(emails, "work");
    put("email", first.and_then(|e| text(e.get("value"))));
    put(
        "secondEmail",
        emails
            .iter()
            .find(|e| Some(*e) != first)
            .and_then(|e| text(e.get("value"))),
    );
    let phones = items(&doc, "phoneNumbers");
    let is_mobile = |e: &&Value| {
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("mobile"))
    };
    let mobile = phones.iter().find(is_mobile);
    let others: Vec<Value> = phones.iter().filter(|e| !is_mobile(e)).cloned().collect();
    put(
        "primaryPhone",
        primary(&others, "work").and_then(|e| text(e.get("value"))),
    );
    put("mobilePhone", mobile.and_then(|e| text(e.get("value"))));
    if let Some(a) = primary(items(&doc, "addresses"), "work") {
        put("streetAddress", text(a.get("streetAddress")));
        put("city", text(a.get("locality")));
        put("state", text(a.get("region")));
        put("zipCode", text(a.get("postalCode")));
        put("countryCode", text(a.get("country")));
    }
    let mut manager_ref = None;
    if let Some(ent) = doc.get(ENTERPRISE_URN) {
        for k in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        ] {
            put(k, text(ent.get(k)));
        }
        match ent.get("manager") {
            Some(m @ Value::Object(_)) => {
                manager_ref = text(m.get("value"));
                put("manager", text(m.get("displayName")));
            }
            other => manager_ref = text(other),
        }
    }
    if let Some(ext) = doc.get(MIRROR_URN) {
        if manager_ref.is_none() {
            manager_ref = text(ext.get("managerId"));
        }
        if let Some(Value::Object(custom)) = ext.get("customAttributes") {
            for (k, v) in custom {
                if !OKTA_BASE.contains(&k.as_str()) && !v.is_null() {
                    p.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(m) = manager_ref {
        p.insert("managerId".into(), Value::String(m));
    }
    let active = doc.get("active").and_then(Value::as_bool);
    let status = match (active, current) {
        (None, None) | (Some(true), None) => UserStatus::Active,
        (Some(false), None) => UserStatus::Deprovisioned,
        (None, Some(s)) => s,
        (Some(want), Some(s)) if super::users::active(s) == want => s,
        (Some(true), Some(_)) => UserStatus::Active,
        (Some(false), Some(_)) => UserStatus::Deprovisioned,
    };
    Ok(PushedUser {
        status,
        profile: p,
        external_id: text(doc.get("externalId")),
        document: doc,
    })
}

/// The member ids of a `members` value: an array of `{value}` objects (Okta, RFC 7643) or of
/// ids. Nested groups are refused.
fn member_ids(v: &Value) -> ScimResult<Vec<String>> {
    let list = match v {
        Value::Array(a) => a.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(ScimError::invalid_value(
                "members is an array of {\"value\": USER_ID}",
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        if get_ci(m, "type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
        {
            return Err(ScimError::invalid_value(
                "nested groups are not supported: members are users",
            ));
        }
        let id = match m {
            Value::String(s) => Some(s.clone()),
            other => text(get_ci(other, "value")),
        };
        out.push(id.ok_or_else(|| {
            ScimError::invalid_value("each member needs a \"value\": the user's id")
        })?);
    }
    Ok(out)
}

fn group_name(v: Option<&Value>) -> ScimResult<String> {
    text(v)
        .map(|n| n.trim().to_owned())
        .ok_or_else(|| ScimError::invalid_value("displayName is required: the group's name"))
}

/// A `POST /Groups` body.
pub(crate) fn new_group(body: &Value) -> ScimResult<PushedGroup> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax(
            "a Group is a JSON object with at least displayName",
        ));
    }
    Ok(PushedGroup {
        name: group_name(get_ci(body, "displayName"))?,
        description: None,
        external_id: text(get_ci(body, "externalId")),
        members: member_ids(get_ci(body, "members").unwrap_or(&Value::Null))?,
    })
}

/// A `PUT /Groups/{id}` body: name, externalId and the whole member list (absent: none).
pub(crate) fn replaced_group(body: &Value) -> ScimResult<GroupChange> {
    let new = new_group(body)?;
    Ok(GroupChange {
        name: Some(new.name),
        description: None,
        external_id: Some(new.external_id),
        members: vec![MemberOp::Replace(new.members)],
    })
}

/// The ids a `members[...]` filter selects: `value eq "ID"`, possibly joined with `or`.
fn filtered_ids(f: &Filter, out: &mut Vec<String>) -> ScimResult<()> {
    match f {
        Filter::Or(a, b) => {
            filtered_ids(a, out)?;
            filtered_ids(b, out)
        }
        Filter::Compare(p, Op::Eq, Value::String(id)) if p.attr == "value" && p.sub.is_none() => {
            out.push(id.clone());
            Ok(())
        }
        _ => Err(ScimError::invalid_filter(
            "a members path selects members by id: members[value eq \"USER_ID\"] (joined with or)",
        )),
    }
}

/// One attribute of a group written by a PATCH operation (with or without a path).
fn group_attr(
    change: &mut GroupChange,
    verb: Verb,
    attr: &str,
    value: Option<&Value>,
) -> ScimResult<()> {
    let a = attr.to_ascii_lowercase();
    match (a.as_str(), verb) {
        ("id" | "meta" | "schemas", _) => Ok(()),
        ("displayname", Verb::Remove) => Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("mutability"),
            "displayName is required and cannot be removed",
        )),
        ("displayname", _) => {
            change.name = Some(group_name(value)?);
            Ok(())
        }
        ("externalid", Verb::Remove) => {
            change.external_id = Some(None);
            Ok(())
        }
        ("externalid", _) => {
            change.external_id = Some(text(value));
            Ok(())
        }
        ("members", Verb::Add) => {
            let ids = member_ids(value.unwrap_or(&Value::Null))?;
            change.members.push(MemberOp::Add(ids));
            Ok(())
        }
        ("members", Verb::Replace) => {
            let ids = member_ids(value.unwrap_or(&Value::Null))?;
            change.members.push(MemberOp::Replace(ids));
            Ok(())
        }
        ("members", Verb::Remove) => {
            // Without a value: every member; with one (Azure): those listed.
            match value {
                None | Some(Value::Null) => change.members.push(MemberOp::Replace(Vec::new())),
                Some(v) => change.members.push(MemberOp::Remove(member_ids(v)?)),
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_path(format!(
            "a Group's writable attributes are displayName, externalId and members, not \"{attr}\""
        ))),
    }
}

/// A `PATCH /Groups/{id}`'s operations as one change: Okta's member adds and removes
/// (`members[value eq "…"]` included), whole-list replaces and renames without a path.
pub(crate) fn patched_group(ops: &[Operation]) -> ScimResult<GroupChange> {
    let mut change = GroupChange::default();
    for op in ops {
        match &op.path {
            None => {
                let Some(Value::Object(attrs)) = &op.value else {
                    continue;
                };
                for (k, v) in attrs {
                    group_attr(&mut change, op.verb, k, Some(v))?;
                }
            }
            Some(Target {
                attr: Some(attr),
                filter: Some(f),
                sub,
                ..
            }) if attr.eq_ignore_ascii_case("members") => {
                let mut ids = Vec::new();
                filtered_ids(f, &mut ids)?;
                match (op.verb, sub) {
                    (Verb::Remove, None) => change.members.push(MemberOp::Remove(ids)),
                    (Verb::Replace, None) => {
                        change.members.push(MemberOp::Remove(ids));
                        let new = member_ids(&Value::Array(op.value.iter().cloned().collect()))?;
                        change.members.push(MemberOp::Add(new));
                    }
                    _ => {
                        return Err(ScimError::invalid_path(
                            "members[value eq \"ID\"] can be removed or replaced; its sub-attributes are read-only",
                        ));
                    }
                }
            }
            Some(Target {
                attr: Some(attr),
                filter: None,
                sub: None,
                ..
            }) => group_attr(&mut change, op.verb, attr, op.value.as_ref())?,
            Some(t) => {
                return Err(ScimError::invalid_path(format!(
                    "\"{}{}\" is not a writable path of a Group",
                    t.attr.as_deref().unwrap_or(""),
                    t.sub
                        .as_deref()
                        .map(|s| format!(".{s}"))
                        .unwrap_or_default()
                )));
            }
        }
    }
    Ok(change)
}

/// Whether a filter is usable on members (for tests).
#[cfg(test)]
fn members_filter(text: &str) -> ScimResult<Vec<String>> {
    let mut ids = Vec::new();
    filtered_ids(&super::filter::parse(text)?, &mut ids)?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn okta_create_body_maps_to_the_okta_profile() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": true,
            ENTERPRISE_URN: {"department": "R&D", "employeeNumber": 42,
                             "manager": {"value": "00uBOSS", "displayName": "The Boss"}},
        });
        let u = user(&body, None).expect("maps");
        assert_eq!(u.status, UserStatus::Active);
        assert_eq!(u.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
        let p = Value::Object(u.profile);
        assert_eq!(p["login"], "test.user@okta.local");
        assert_eq!(p["firstName"], "Test");
        assert_eq!(p["lastName"], "User");
        assert_eq!(p["email"], "test.user@okta.local");
        assert_eq!(p["department"], "R&D");
        assert_eq!(p["employeeNumber"], "42");
        assert_eq!(p["managerId"], "00uBOSS");
        assert_eq!(p["manager"], "The Boss");
        assert_eq!(p["locale"], "en-US");
        assert!(
            u.document.get("password").is_none(),
            "the password is never kept"
        );
        assert!(u.document.get("groups").is_none());
    }

    #[test]
    fn active_moves_the_status_only_across_the_line() {
        let doc = |a: Value| json!({"userName": "a", "active": a});
        let s = |d: Value, c| user(&d, c).expect("ok").status;
        assert_eq!(
            s(doc(json!(false)), Some(UserStatus::Active)),
            UserStatus::Deprovisioned
        );
        assert_eq!(
            s(doc(json!("False")), Some(UserStatus::Suspended)),
            UserStatus::Suspended
        );
        assert_eq!(
            s(doc(json!(true)), Some(UserStatus::Deprovisioned)),
            UserStatus::Active
        );
        assert_eq!(
            s(doc(json!(true)), Some(UserStatus::LockedOut)),
            UserStatus::LockedOut
        );
        assert_eq!(
            s(json!({"userName": "a"}), Some(UserStatus::Staged)),
            UserStatus::Staged
        );
        assert!(user(&doc(json!("maybe")), None).is_err());
        assert!(user(&json!({"name": {}}), None).is_err());
    }

    #[test]
    fn group_patches_read_okta_and_azure_shapes() {
        let ops = super::super::patch::parse(
            &json!({"Operations": [
                {"op": "remove", "path": "members[value eq \"u1\"]"},
                {"op": "add", "path": "members", "value": [{"value": "u2", "display": "x"}]},
                {"op": "replace", "value": {"id": "g", "displayName": "New"}},
                {"op": "Remove", "path": "members", "value": [{"value": "u3"}]},
            ]}),
            &[],
        )
        .expect("parses");
        let c = patched_group(&ops).expect("maps");
        assert_eq!(c.name.as_deref(), Some("New"));
        assert_eq!(
            c.members,
            vec![
                MemberOp::Remove(vec!["u1".into()]),
                MemberOp::Add(vec!["u2".into()]),
                MemberOp::Remove(vec!["u3".into()]),
            ]
        );
        assert_eq!(
            members_filter("value eq \"a\" or value eq \"b\"").expect("ok"),
            vec!["a".to_owned(), "b".to_owned()]
        );
        assert!(members_filter("display eq \"a\"").is_err());
    }
}
