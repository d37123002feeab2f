//! SCIM PATCH (RFC 7644 §3.5.2): the `PatchOp` body read into operations, and the `add`,
//! `replace` and `remove` operations applied to a JSON document, with paths that are plain
//! (`title`), sub-attributes (`name.givenName`), schema-qualified
//! (`urn:…:enterprise:2.0:User:manager.value`), whole extensions, or value paths
//! (`emails[type eq "work"].value`, `members[value eq "…"]`). Attribute names ignore case.

use serde_json::{Map, Value};

use super::errors::{ScimError, ScimResult};
use super::filter::{self, Filter};

pub(crate) const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 1000;

/// An operation's verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Add,
    Replace,
    Remove,
}

/// Where an operation applies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    /// The extension URN (as the server spells it) when the attribute is in one.
    pub schema: Option<String>,
    /// The attribute; `None` when the path names a whole extension.
    pub attr: Option<String>,
    /// Elements of a multi-valued attribute this applies to (`attr[filter]`).
    pub filter: Option<Filter>,
    /// The sub-attribute (`attr.sub` or `attr[filter].sub`).
    pub sub: Option<String>,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub verb: Verb,
    pub path: Option<Target>,
    pub value: Option<Value>,
}

/// Reads a `PatchOp` body. `extensions` are the URNs of the resource's extensions (a path may
/// name one whole, or an attribute inside one).
pub(crate) fn parse(body: &Value, extensions: &[&str]) -> ScimResult<Vec<Operation>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PATCH body is a JSON object (a PatchOp)"))?;
    if let Some(schemas) = filter::get_ci(body, "schemas")
        && !schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(PATCH_URN)))
    {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body's schemas must be [\"{PATCH_URN}\"]"
        )));
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ScimError::invalid_syntax(
                "a PATCH body needs \"Operations\": a non-empty array of {op, path, value}",
            )
        })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("at most {MAX_OPERATIONS} operations per PATCH: split the request"),
        ));
    }
    ops.iter().map(|op| operation(op, extensions)).collect()
}

fn operation(op: &Value, extensions: &[&str]) -> ScimResult<Operation> {
    let verb = match filter::get_ci(op, "op").and_then(Value::as_str) {
        Some(v) if v.eq_ignore_ascii_case("add") => Verb::Add,
        Some(v) if v.eq_ignore_ascii_case("replace") => Verb::Replace,
        Some(v) if v.eq_ignore_ascii_case("remove") => Verb::Remove,
        other => {
            return Err(ScimError::invalid_syntax(format!(
                "\"op\" must be add, replace or remove, not {}",
                other.map_or("missing".to_owned(), |o| format!("\"{o}\""))
            )));
        }
    };
    let path = match filter::get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(target(p, extensions)?),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = filter::get_ci(op, "value").cloned();
    match (verb, &path, &value) {
        (Verb::Remove, None, _) => Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("noTarget"),
            "a remove operation needs a \"path\"",
        )),
        (Verb::Add | Verb::Replace, _, None) => Err(ScimError::invalid_value(
            "add and replace operations need a \"value\"",
        )),
        (Verb::Add | Verb::Replace, None, Some(v)) if !v.is_object() => {
            Err(ScimError::invalid_value(
                "without a \"path\", the \"value\" is an object of attributes",
            ))
        }
        _ => Ok(Operation { verb, path, value }),
    }
}

/// Reads a PATCH path.
pub(crate) fn target(text: &str, extensions: &[&str]) -> ScimResult<Target> {
    let text = text.trim();
    if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(text)) {
        return Ok(Target {
            schema: Some((*ext).to_owned()),
            attr: None,
            filter: None,
            sub: None,
        });
    }
    let (schema, rest) = match extensions.iter().find(|e| {
        text.len() > e.len()
            && text.is_char_boundary(e.len())
            && text[..e.len()].eq_ignore_ascii_case(e)
            && text[e.len()..].starts_with(':')
    }) {
        Some(ext) => (Some((*ext).to_owned()), &text[ext.len() + 1..]),
        None => {
            let core = [filter::USER_URN, filter::GROUP_URN];
            match core.iter().find(|c| {
                text.len() > c.len()
                    && text.is_char_boundary(c.len())
                    && text[..c.len()].eq_ignore_ascii_case(c)
                    && text[c.len()..].starts_with(':')
            }) {
                Some(c) => (None, &text[c.len() + 1..]),
                None if text.to_ascii_lowercase().starts_with("urn:") => {
                    return Err(ScimError::invalid_path(format!(
                        "\"{text}\" names a schema this resource does not have"
                    )));
                }
                None => (None, text),
            }
        }
    };
    let bad = || {
        ScimError::invalid_path(format!(
            "\"{text}\" is not a path (attr, attr.sub, attr[filter] or attr[filter].sub)"
        ))
    };
    let (attr, filter, sub) = match rest.find('[') {
        Some(open) => {
            let close = rest.rfind(']').filter(|c| *c > open).ok_or_else(bad)?;
            let inner = &rest[open + 1..close];
            let after = &rest[close + 1..];
            let sub = match after.strip_prefix('.') {
                Some(s) => Some(s.to_owned()),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (&rest[..open], Some(filter::parse(inner)?), sub)
        }
        None => match rest.split_once('.') {
            Some((a, s)) => (a, None, Some(s.to_owned())),
            None => (rest, None, None),
        },
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
    };
    if !name_ok(attr) || sub.as_deref().is_some_and(|s| !name_ok(s)) {
        return Err(bad());
    }
    Ok(Target {
        schema,
        attr: Some(attr.to_owned()),
        filter,
        sub,
    })
}

/// The key of `obj` that is `name` ignoring case, if any.
fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    if obj.contains_key(name) {
        return Some(name.to_owned());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The object `schema` names in `doc` (the document itself for the core schema), created
/// when `create`.
fn container<'a>(
    doc: &'a mut Map<String, Value>,
    schema: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(schema) = schema else {
        return Some(doc);
    };
    let key = match key_ci(doc, schema) {
        Some(k) => k,
        None if create => {
            doc.insert(schema.to_owned(), Value::Object(Map::new()));
            schema.to_owned()
        }
        None => return None,
    };
    let slot = doc.get_mut(&key)?;
    if !slot.is_object() {
        if !create {
            return None;
        }
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Sets `name` in `obj` (keeping the key's existing spelling).
fn set(obj: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_ci(obj, name).unwrap_or_else(|| name.to_owned());
    obj.insert(key, value);
}

fn remove(obj: &mut Map<String, Value>, name: &str) {
    if let Some(k) = key_ci(obj, name) {
        obj.remove(&k);
    }
}

/// `add` of `value` at `name`: appended to a multi-valued attribute (equal values once),
/// merged into a complex one, set otherwise.
fn add(obj: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_ci(obj, name).unwrap_or_else(|| name.to_owned());
    match (obj.get_mut(&key), value) {
        (Some(Value::Array(have)), Value::Array(more)) => {
            for v in more {
                if !have.contains(&v) {
                    have.push(v);
                }
            }
        }
        (Some(Value::Array(have)), v) => {
            if !have.contains(&v) {
                have.push(v);
            }
        }
        (Some(Value::Object(have)), Value::Object(more)) => {
            for (k, v) in more {
                set(have, &k, v);
            }
        }
        (_, v) => {
            obj.insert(key, v);
        }
    }
}

/// `replace` of `name` with `value`: a complex attribute keeps the sub-attributes the value
/// does not name (RFC 7644 §3.5.2.3); anything else is replaced whole.
fn replace(obj: &mut Map<String, Value>, name: &str, value: Value) {
    let key = key_ci(obj, name).unwrap_or_else(|| name.to_owned());
    match (obj.get_mut(&key), value) {
        (Some(Value::Object(have)), Value::Object(more)) => {
            for (k, v) in more {
                set(have, &k, v);
            }
        }
        (_, v) => {
            obj.insert(key, v);
        }
    }
}

/// Applies `ops` in order to `doc` (a resource's writable attributes). `read_only` names
/// attributes a path may not change (RFC 7644 `mutability`); a value without a path that
/// carries them is accepted as long as it leaves them alone (Okta sends `id` in renames).
pub(crate) fn apply(
    doc: &mut Value,
    ops: &[Operation],
    extensions: &[&str],
    read_only: &[&str],
) -> ScimResult<()> {
    let Some(obj) = doc.as_object_mut() else {
        return Err(ScimError::invalid_value(
            "the resource is not a JSON object",
        ));
    };
    for op in ops {
        apply_one(obj, op, extensions, read_only)?;
    }
    Ok(())
}

fn apply_one(
    doc: &mut Map<String, Value>,
    op: &Operation,
    extensions: &[&str],
    read_only: &[&str],
) -> ScimResult<()> {
    let Some(t) = &op.path else {
        // No path: the value is a set of attributes (extensions by URN, holding theirs).
        let Some(Value::Object(attrs)) = &op.value else {
            return Ok(());
        };
        for (k, v) in attrs {
            if read_only.iter().any(|r| r.eq_ignore_ascii_case(k)) {
                continue;
            }
            if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(k)) {
                let Value::Object(inner) = v else {
                    return Err(ScimError::invalid_value(format!(
                        "the value of {ext} is an object of its attributes"
                    )));
                };
                let Some(c) = container(doc, Some(ext), true) else {
                    continue;
                };
                for (ik, iv) in inner {
                    write(c, op.verb, ik, iv.clone());
                }
            } else if k.contains(':') {
                // A schema-qualified attribute (`urn:…:User:manager`) as a key.
                let sub = target(k, extensions)?;
                let with_path = Operation {
                    verb: op.verb,
                    path: Some(sub),
                    value: Some(v.clone()),
                };
                apply_one(doc, &with_path, extensions, read_only)?;
            } else {
                write(doc, op.verb, k, v.clone());
            }
        }
        return Ok(());
    };
    let Some(attr) = &t.attr else {
        // A whole extension.
        return match op.verb {
            Verb::Remove => {
                if let Some(schema) = &t.schema {
                    remove(doc, schema);
                }
                Ok(())
            }
            verb => {
                let Some(Value::Object(inner)) = &op.value else {
                    return Err(ScimError::invalid_value(
                        "the value of an extension is an object of its attributes",
                    ));
                };
                let Some(c) = container(doc, t.schema.as_deref(), true) else {
                    return Ok(());
                };
                for (k, v) in inner {
                    write(c, verb, k, v.clone());
                }
                Ok(())
            }
        };
    };
    if t.schema.is_none() && read_only.iter().any(|r| r.eq_ignore_ascii_case(attr)) {
        return Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("mutability"),
            format!("\"{attr}\" is read-only here"),
        ));
    }
    let create = op.verb != Verb::Remove;
    let Some(c) = container(doc, t.schema.as_deref(), create) else {
        return Ok(());
    };
    let value = op.value.clone().unwrap_or(Value::Null);
    match (&t.filter, &t.sub) {
        (None, None) => match op.verb {
            Verb::Remove => remove(c, attr),
            verb => write(c, verb, attr, value),
        },
        (None, Some(sub)) => {
            let key = key_ci(c, attr);
            match (op.verb, key) {
                (Verb::Remove, None) => {}
                (Verb::Remove, Some(k)) => match c.get_mut(&k) {
                    Some(Value::Object(o)) => remove(o, sub),
                    Some(Value::Array(items)) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            remove(i, sub);
                        }
                    }
                    _ => {}
                },
                (verb, k) => {
                    let k = k.unwrap_or_else(|| attr.clone());
                    let slot = c.entry(k).or_insert_with(|| Value::Object(Map::new()));
                    match slot {
                        Value::Array(items) => {
                            for i in items.iter_mut().filter_map(Value::as_object_mut) {
                                write(i, verb, sub, value.clone());
                            }
                        }
                        other => {
                            if !other.is_object() {
                                *other = Value::Object(Map::new());
                            }
                            if let Some(o) = other.as_object_mut() {
                                write(o, verb, sub, value);
                            }
                        }
                    }
                }
            }
        }
        (Some(f), sub) => {
            let Some(k) = key_ci(c, attr) else {
                return no_target(op.verb, attr);
            };
            let Some(Value::Array(items)) = c.get_mut(&k) else {
                return no_target(op.verb, attr);
            };
            let hits: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, e)| f.matches(e))
                .map(|(i, _)| i)
                .collect();
            if hits.is_empty() {
                return no_target(op.verb, attr);
            }
            match (op.verb, sub) {
                (Verb::Remove, None) => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                    if items.is_empty() {
                        c.remove(&k);
                    }
                }
                (Verb::Remove, Some(sub)) => {
                    for i in hits {
                        if let Some(o) = items[i].as_object_mut() {
                            remove(o, sub);
                        }
                    }
                }
                (verb, None) => {
                    for i in hits {
                        match (&mut items[i], &value) {
                            (Value::Object(o), Value::Object(v)) if verb == Verb::Add => {
                                for (vk, vv) in v {
                                    set(o, vk, vv.clone());
                                }
                            }
                            (slot, v) => *slot = v.clone(),
                        }
                    }
                }
                (verb, Some(sub)) => {
                    for i in hits {
                        if let Some(o) = items[i].as_object_mut() {
                            write(o, verb, sub, value.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn write(obj: &mut Map<String, Value>, verb: Verb, name: &str, value: Value) {
    match verb {
        Verb::Add => add(obj, name, value),
        Verb::Replace => replace(obj, name, value),
        Verb::Remove => remove(obj, name),
    }
}

/// A value path that matched nothing: `remove` has nothing to do, `add` and `replace` are
/// refused with `noTarget` (RFC 7644 §3.5.2).
fn no_target(verb: Verb, attr: &str) -> ScimResult<()> {
    match verb {
        Verb::Remove => Ok(()),
        _ => Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("noTarget"),
            format!("the filter on \"{attr}\" matches no value"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn run(doc: Value, body: Value) -> ScimResult<Value> {
        let mut doc = doc;
        let ops = parse(&body, &[ENT])?;
        apply(&mut doc, &ops, &[ENT], &["id", "groups"])?;
        Ok(doc)
    }

    fn patch(ops: Value) -> Value {
        json!({"schemas": [PATCH_URN], "Operations": ops})
    }

    #[test]
    fn okta_shapes_apply() {
        // Deactivation without a path.
        let d = run(
            json!({"userName": "a", "active": true}),
            patch(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .expect("ok");
        assert_eq!(d, json!({"userName": "a", "active": false}));
        // With a path, and Azure's capitalised verb.
        let d = run(
            json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}}),
            patch(json!([{"op": "Replace", "path": "name.givenName", "value": "Z"}])),
        )
        .expect("ok");
        assert_eq!(d["name"], json!({"givenName": "Z", "familyName": "B"}));
        // Extension attributes, by path and inside a no-path value.
        let d = run(
            json!({"userName": "a"}),
            patch(json!([
                {"op": "add", "path": format!("{ENT}:manager.value"), "value": "00u1"},
                {"op": "replace", "value": {ENT: {"department": "R&D"}}},
            ])),
        )
        .expect("ok");
        assert_eq!(
            d[ENT],
            json!({"manager": {"value": "00u1"}, "department": "R&D"})
        );
    }

    #[test]
    fn value_paths_select_elements() {
        let doc = json!({"emails": [
            {"value": "a@x", "type": "work", "primary": true},
            {"value": "b@x", "type": "home"}]});
        let d = run(
            doc.clone(),
            patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@x"}])),
        )
        .expect("ok");
        assert_eq!(d["emails"][0]["value"], "c@x");
        assert_eq!(d["emails"][1]["value"], "b@x");
        let d = run(
            doc.clone(),
            patch(json!([{"op": "remove", "path": "emails[value eq \"b@x\"]"}])),
        )
        .expect("ok");
        assert_eq!(d["emails"].as_array().map(Vec::len), Some(1));
        let e = run(
            doc,
            patch(
                json!([{"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"}]),
            ),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let e = run(json!({}), json!({"Operations": []})).unwrap_err();
        assert!(e.detail.contains("Operations"), "{}", e.detail);
        let e = run(json!({}), patch(json!([{"op": "move", "path": "x"}]))).unwrap_err();
        assert!(e.detail.contains("add, replace or remove"), "{}", e.detail);
        let e = run(json!({}), patch(json!([{"op": "remove"}]))).unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = run(
            json!({}),
            patch(json!([{"op": "replace", "path": "groups", "value": []}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
        let e = run(
            json!({}),
            patch(json!([{"op": "add", "path": "a[b eq", "value": 1}])),
        )
        .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }
}
