//! List and search parameters (RFC 7644 §3.4.2–3.4.3): `filter`, `sortBy`/`sortOrder`,
//! `startIndex`/`count`, `attributes`/`excludedAttributes`, from a query string or a
//! `SearchRequest` body; the `ListResponse`; attribute projection; and the weak ETag.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::errors::{ScimError, ScimResult};
use super::filter::{self, AttrPath, Filter, get_ci};

/// Results per page when `count` is not given, and the most one page may hold.
pub(crate) const DEFAULT_COUNT: usize = 100;
pub(crate) const MAX_COUNT: usize = 1000;

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list request, validated.
#[derive(Debug, Default)]
pub(crate) struct ListParams {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub projection: Projection,
}

/// `attributes` / `excludedAttributes`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

/// An integer parameter; one too large for 64 bits is held at the largest (a `startIndex` past
/// any list is an empty page, a `count` past the cap is the cap), not refused as "not an integer".
fn int_param(name: &str, v: &str) -> ScimResult<i64> {
    let t = v.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    match t.parse::<i64>() {
        Ok(n) => Ok(n),
        Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(if t.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            })
        }
        Err(_) => Err(ScimError::invalid_value(format!(
            "{name} must be an integer, not \"{}\"",
            t.chars().take(40).collect::<String>()
        ))),
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ListParams {
    /// From the query string's pairs (GET).
    pub fn from_query(pairs: &[(String, String)]) -> ScimResult<ListParams> {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let start = get("startIndex")
            .map(|v| int_param("startIndex", v))
            .transpose()?;
        let count = get("count").map(|v| int_param("count", v)).transpose()?;
        Self::build(
            get("filter"),
            get("sortBy"),
            get("sortOrder"),
            start,
            count,
            Projection {
                attributes: get("attributes").map(split_list).unwrap_or_default(),
                excluded: get("excludedAttributes")
                    .map(split_list)
                    .unwrap_or_default(),
            },
        )
    }

    /// From a `SearchRequest` body (POST `.search`).
    pub fn from_body(body: &Value) -> ScimResult<ListParams> {
        let Value::Object(o) = body else {
            return Err(ScimError::invalid_syntax(
                "the body must be a SearchRequest JSON object",
            ));
        };
        if let Some(schemas) = o.get("schemas")
            && !schemas
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(SEARCH_URN)))
        {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must list {SEARCH_URN}"
            )));
        }
        let s = |k: &str| -> ScimResult<Option<&str>> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(v)) => Ok(Some(v)),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "\"{k}\" must be a string"
                ))),
            }
        };
        let n = |k: &str| -> ScimResult<Option<i64>> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(v)) => v
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("\"{k}\" must be an integer"))),
                Some(Value::String(v)) => int_param(k, v).map(Some),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "\"{k}\" must be an integer"
                ))),
            }
        };
        let list = |k: &str| -> ScimResult<Vec<String>> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(v)) => Ok(split_list(v)),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::invalid_value(format!("\"{k}\" must list strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "\"{k}\" must be an array of attribute names"
                ))),
            }
        };
        Self::build(
            s("filter")?,
            s("sortBy")?,
            s("sortOrder")?,
            n("startIndex")?,
            n("count")?,
            Projection {
                attributes: list("attributes")?,
                excluded: list("excludedAttributes")?,
            },
        )
    }

    fn build(
        filter: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        start: Option<i64>,
        count: Option<i64>,
        projection: Projection,
    ) -> ScimResult<ListParams> {
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(filter::parse(f)?),
            None => None,
        };
        let sort_by = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(AttrPath::parse(s).map_err(ScimError::invalid_value)?),
            None => None,
        };
        let descending = match sort_order.map(|s| s.trim().to_ascii_lowercase()) {
            None => false,
            Some(s) if s.is_empty() || s == "ascending" => false,
            Some(s) if s == "descending" => true,
            Some(s) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not \"{s}\""
                )));
            }
        };
        // RFC 7644 §3.4.2.4: startIndex < 1 is 1, a negative count is 0.
        let start_index = usize::try_from(start.unwrap_or(1).max(1)).unwrap_or(1);
        let count = match count {
            None => DEFAULT_COUNT,
            Some(c) => usize::try_from(c.max(0)).unwrap_or(0).min(MAX_COUNT),
        };
        Ok(ListParams {
            filter,
            sort_by,
            descending,
            start_index,
            count,
            projection,
        })
    }
}

/// Orders two resources by `sort_by` (RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its
/// primary value, else its first; resources without the attribute come last ascending).
pub(crate) fn sort_key(resource: &Value, path: &AttrPath) -> Option<Value> {
    let values = path.values(resource);
    let pick = values
        .iter()
        .find(|v| get_ci(v, "primary").and_then(Value::as_bool) == Some(true))
        .or(values.first())
        .copied()?;
    match pick {
        Value::Object(_) => get_ci(pick, "value").cloned(),
        Value::Null => None,
        v => Some(v.clone()),
    }
}

pub(crate) fn compare_keys(a: &Option<Value>, b: &Option<Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => filter::order(x, y, false).unwrap_or(Ordering::Equal),
    }
}

/// The `ListResponse` envelope (the resources moved in, not copied).
pub(crate) fn list_response(total: u64, start_index: usize, resources: Vec<Value>) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([LIST_URN]));
    o.insert("totalResults".into(), Value::from(total));
    o.insert("startIndex".into(), Value::from(start_index));
    o.insert("itemsPerPage".into(), Value::from(resources.len()));
    o.insert("Resources".into(), Value::Array(resources));
    Value::Object(o)
}

/// [`list_response`] as JSON text around resources already serialised (each built, serialised
/// and dropped on the thread that built it, `build_in_parallel` in `mod.rs`).
pub(crate) fn list_bytes(total: u64, start_index: usize, resources: &[Vec<u8>]) -> Vec<u8> {
    let inner: usize = resources.iter().map(|r| r.len() + 1).sum();
    let mut out = Vec::with_capacity(inner + 160);
    out.extend_from_slice(b"{\"schemas\":[\"");
    out.extend_from_slice(LIST_URN.as_bytes());
    out.extend_from_slice(
        format!(
            "\"],\"totalResults\":{total},\"startIndex\":{start_index},\"itemsPerPage\":{},\"Resources\":[",
            resources.len()
        )
        .as_bytes(),
    );
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The weak ETag of a resource: a SHA-256 of its JSON text without `meta.version` (compact,
/// keys in a `serde_json::Map`'s order, as `serde_json` writes a `Value`), so it changes
/// whenever anything served changes (the profile, the groups and their names, the manager's
/// name and chain). A page of whole users writes that text anyway (`users::write_user`, which
/// hashes it with [`etag`]); a `Value` is written into a buffer kept per thread.
pub(crate) fn version(resource: &Value) -> String {
    thread_local! {
        /// The buffer, kept per thread: a fresh allocation of several KB per resource costs
        /// more than the hash.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *buffer, resource);
        let tag = etag(buffer);
        // A buffer grown by one huge resource is not kept.
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        tag
    })
}

/// The weak ETag of a resource's JSON text (see [`version`]).
pub(crate) fn etag(text: &[u8]) -> String {
    use std::fmt::Write;
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text);
    let mut tag = String::with_capacity(28);
    tag.push_str("W/\"");
    for b in &hash.as_ref()[..12] {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    tag
}

/// Sets `meta.version` and returns it.
pub(crate) fn with_version(resource: &mut Value) -> String {
    let v = version(resource);
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("version".into(), Value::String(v.clone()));
    }
    v
}

/// Attributes returned whatever `attributes` / `excludedAttributes` say.
const ALWAYS: &[&str] = &["id", "schemas"];

impl Projection {
    /// Whether the served resource will hold `attr` (a top-level name, or an extension URN)
    /// at all: callers skip the work of building what would be removed.
    pub fn wants(&self, attr: &str) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                let attr = attr.to_ascii_lowercase();
                a == attr
                    || a.starts_with(&format!("{attr}."))
                    || a.starts_with(&format!("{attr}:"))
            })
        };
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !self.excluded.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    /// Whether the served resource may keep anything `pick` accepts: `pick` gets each of
    /// `attributes`' extension URN (`None` for core) and attribute (lowercase; `None` for a
    /// whole extension). Without `attributes` everything is kept (`excludedAttributes` only
    /// removes), so this is true; so is a name that does not parse (`apply` refuses it).
    pub fn keeps_any(
        &self,
        extensions: &[&str],
        pick: impl Fn(Option<&str>, Option<&str>) -> bool,
    ) -> bool {
        if self.attributes.is_empty() {
            return true;
        }
        self.attributes.iter().any(|a| match split(a, extensions) {
            Ok((container, path)) => {
                pick(container.as_deref(), path.as_ref().map(|p| p.attr.as_str()))
            }
            Err(_) => true,
        })
    }

    /// Applies the projection to a built resource.
    pub fn apply(&self, resource: Value, extensions: &[&str]) -> ScimResult<Value> {
        let Value::Object(obj) = resource else {
            return Ok(resource);
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for k in ALWAYS {
                if let Some(v) = obj.get(*k) {
                    out.insert((*k).into(), v.clone());
                }
            }
            for a in &self.attributes {
                let (container, path) = split(a, extensions)?;
                let Some(path) = path else {
                    // A whole extension.
                    if let Some(c) = container
                        && let Some((k, v)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(&c))
                    {
                        out.insert(k.clone(), v.clone());
                    }
                    continue;
                };
                let src = match &container {
                    Some(c) => obj
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(c))
                        .map(|(k, v)| (Some(k.clone()), v)),
                    None => Some((None, &Value::Null)),
                };
                let Some((ext_key, ext_val)) = src else {
                    continue;
                };
                let from = match &ext_key {
                    Some(_) => ext_val.as_object(),
                    None => Some(&obj),
                };
                let Some(from) = from else { continue };
                let Some((key, value)) = from
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&path.attr))
                else {
                    continue;
                };
                let picked = match &path.sub {
                    None => value.clone(),
                    Some(sub) => pick_sub(value, sub),
                };
                let target = match &ext_key {
                    Some(ek) => match out
                        .entry(ek.clone())
                        .or_insert_with(|| Value::Object(Map::new()))
                        .as_object_mut()
                    {
                        Some(t) => t,
                        None => continue,
                    },
                    None => &mut out,
                };
                merge_into(target, key, picked);
            }
            return Ok(Value::Object(out));
        }
        let mut obj = obj;
        for a in &self.excluded {
            let (container, path) = split(a, extensions)?;
            let Some(path) = path else {
                if let Some(c) = container {
                    obj.retain(|k, _| !k.eq_ignore_ascii_case(&c));
                }
                continue;
            };
            let target = match &container {
                Some(c) => obj
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(c))
                    .and_then(|(_, v)| v.as_object_mut()),
                None => Some(&mut obj),
            };
            let Some(target) = target else { continue };
            match &path.sub {
                None => {
                    if container.is_none() && ALWAYS.contains(&path.attr.as_str()) {
                        continue;
                    }
                    target.retain(|k, _| !k.eq_ignore_ascii_case(&path.attr));
                }
                Some(sub) => {
                    if let Some((_, v)) = target
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&path.attr))
                    {
                        drop_sub(v, sub);
                    }
                }
            }
        }
        Ok(Value::Object(obj))
    }
}

/// Splits `urn:…:attr.sub` into (the extension key, if not core) and the path; a bare
/// extension URN gives (Some(urn), None).
fn split(a: &str, extensions: &[&str]) -> ScimResult<(Option<String>, Option<AttrPath>)> {
    if let Some(ext) = extensions.iter().find(|e| e.eq_ignore_ascii_case(a.trim())) {
        return Ok((Some((*ext).to_owned()), None));
    }
    let path = AttrPath::parse(a)
        .map_err(|e| ScimError::invalid_value(format!("attributes / excludedAttributes: {e}")))?;
    if path.is_core() {
        return Ok((None, Some(path)));
    }
    let schema = path.schema.clone().unwrap_or_default();
    Ok((Some(schema), Some(path)))
}

fn pick_sub(value: &Value, sub: &str) -> Value {
    let one = |v: &Value| -> Option<Value> {
        get_ci(v, sub).map(|s| {
            let mut m = Map::new();
            let key = v
                .as_object()
                .and_then(|o| o.keys().find(|k| k.eq_ignore_ascii_case(sub)))
                .cloned()
                .unwrap_or_else(|| sub.to_owned());
            m.insert(key, s.clone());
            Value::Object(m)
        })
    };
    match value {
        Value::Array(a) => Value::Array(a.iter().filter_map(one).collect()),
        v => one(v).unwrap_or(Value::Null),
    }
}

fn drop_sub(value: &mut Value, sub: &str) {
    let strip = |v: &mut Value| {
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
        }
    };
    match value {
        Value::Array(a) => a.iter_mut().for_each(strip),
        v => strip(v),
    }
}

/// Adds `key: value` to `target`, merging sub-attribute picks of the same attribute
/// (`name.givenName,name.familyName`).
fn merge_into(target: &mut Map<String, Value>, key: &str, value: Value) {
    if value.is_null() {
        return;
    }
    match (target.get_mut(key), value) {
        (Some(Value::Object(have)), Value::Object(add)) => have.extend(add),
        (Some(Value::Array(have)), Value::Array(add)) if have.len() == add.len() => {
            for (h, a) in have.iter_mut().zip(add) {
                if let (Some(h), Value::Object(a)) = (h.as_object_mut(), a) {
                    h.extend(a);
                }
            }
        }
        (_, v) => {
            target.insert(key.to_owned(), v);
        }
    }
}
