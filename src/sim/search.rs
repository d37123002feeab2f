//! Okta's `search` parameter on users and groups (okta-api.md 2.3, 3.1): the filter grammar
//! plus `not`, over any profile attribute (custom ones too) and a few top-level ones, with
//! `eq`, `sw`, `co` (only on the name-like attributes), `gt`/`ge`/`lt`/`le`, `pr`; string
//! values compare case-insensitively; `ne` and `ew` are refused. Results include
//! DEPROVISIONED users and may be sorted by any one property (`sortBy`/`sortOrder`).
//!
//! Unlike `filter`, which has a fixed attribute table, `search` is checked against the
//! attributes the org's records actually carry, so a typo in a custom attribute is a 400
//! rather than a silently empty (or, before this module, unfiltered) answer.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::filter::{self, Expr, FilterError, Literal, Op};
use super::model::{Group, User};
use super::time::{self, Millis};

/// Which object a search runs over; decides the top-level attributes and where `co` works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    User,
    Group,
}

impl Object {
    /// Top-level attributes and whether each is a date.
    fn top_level(self, name: &str) -> Option<bool> {
        match (self, name) {
            (_, "id") => Some(false),
            (Object::User, "status" | "type.id") => Some(false),
            (Object::User, "created" | "activated" | "statusChanged" | "lastUpdated") => Some(true),
            (Object::Group, "type" | "source.id") => Some(false),
            (Object::Group, "created" | "lastUpdated" | "lastMembershipUpdated") => Some(true),
            _ => None,
        }
    }

    /// Where `co` is allowed (SPEC: users' names, email and login; groups' name and
    /// description).
    fn allows_co(self, name: &str) -> bool {
        match self {
            Object::User => matches!(
                name,
                "profile.firstName" | "profile.lastName" | "profile.email" | "profile.login"
            ),
            Object::Group => matches!(name, "profile.name" | "profile.description"),
        }
    }

    /// Standard profile attributes, known even when no record has a value.
    fn standard_profile(self) -> &'static [&'static str] {
        match self {
            Object::User => &[
                "login",
                "email",
                "firstName",
                "lastName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
                "displayName",
                "nickName",
                "profileUrl",
                "secondEmail",
                "title",
                "userType",
                "department",
                "division",
                "organization",
                "costCenter",
                "employeeNumber",
                "manager",
                "managerId",
                "mobilePhone",
                "primaryPhone",
                "streetAddress",
                "city",
                "state",
                "zipCode",
                "countryCode",
                "postalAddress",
                "preferredLanguage",
                "locale",
                "timezone",
            ],
            Object::Group => &["name", "description"],
        }
    }
}

/// One value of an attribute on one record.
#[derive(Clone, Debug)]
pub enum Val {
    /// Lower-cased text (string values compare case-insensitively).
    Text(String),
    Date(Millis),
}

/// A record prepared for searching: its id, top-level values and parsed profile.
pub struct Record<'a, T> {
    pub item: &'a T,
    id: &'a str,
    top: Vec<(&'static str, Option<Val>)>,
    profile: Map<String, Value>,
}

impl<'a> Record<'a, User> {
    pub fn user(u: &'a User) -> Self {
        let date = |v: Option<Millis>| v.map(Val::Date);
        Record {
            item: u,
            id: &u.id,
            top: vec![
                ("id", Some(Val::Text(u.id.to_lowercase()))),
                ("status", Some(Val::Text(u.status.as_str().to_lowercase()))),
                ("type.id", Some(Val::Text(u.type_id.to_lowercase()))),
                ("created", Some(Val::Date(u.created))),
                ("activated", date(u.activated)),
                ("statusChanged", date(u.status_changed)),
                ("lastUpdated", Some(Val::Date(u.last_updated))),
            ],
            profile: serde_json::from_str(&u.profile).unwrap_or_default(),
        }
    }
}

impl<'a> Record<'a, Group> {
    pub fn group(g: &'a Group) -> Self {
        Record {
            item: g,
            id: &g.id,
            top: vec![
                ("id", Some(Val::Text(g.id.to_lowercase()))),
                ("type", Some(Val::Text(g.kind.as_str().to_lowercase()))),
                (
                    "source.id",
                    g.source_app.as_ref().map(|s| Val::Text(s.to_lowercase())),
                ),
                ("created", Some(Val::Date(g.created))),
                ("lastUpdated", Some(Val::Date(g.last_updated))),
                (
                    "lastMembershipUpdated",
                    Some(Val::Date(g.last_membership_updated)),
                ),
            ],
            profile: serde_json::from_str(&g.profile).unwrap_or_default(),
        }
    }
}

impl<T> Record<'_, T> {
    /// Every value of `attr` (an array-valued profile attribute has several).
    fn values(&self, attr: &str) -> Vec<Val> {
        if let Some(key) = attr.strip_prefix("profile.") {
            return match self.profile.get(key) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
                Some(v) => scalar(v).into_iter().collect(),
            };
        }
        self.top
            .iter()
            .find(|(name, _)| *name == attr)
            .and_then(|(_, v)| v.clone())
            .into_iter()
            .collect()
    }
}

fn scalar(v: &Value) -> Option<Val> {
    match v {
        Value::String(s) => Some(Val::Text(s.to_lowercase())),
        Value::Number(n) => Some(Val::Text(n.to_string())),
        Value::Bool(b) => Some(Val::Text(b.to_string())),
        _ => None,
    }
}

/// A checked search expression.
#[derive(Debug)]
pub enum Search {
    Cmp {
        attr: String,
        op: Op,
        value: Option<Val>,
    },
    And(Box<Search>, Box<Search>),
    Or(Box<Search>, Box<Search>),
    Not(Box<Search>),
}

fn invalid(msg: String) -> FilterError {
    FilterError::InvalidCriteria(msg)
}

/// The attributes a search may name: the object's top-level ones, its standard profile
/// attributes, and every profile key some record carries (custom attributes included).
pub struct Schema {
    object: Object,
    profile_keys: BTreeSet<String>,
}

impl Schema {
    pub fn new<'a, T: 'a>(
        object: Object,
        records: impl IntoIterator<Item = &'a Record<'a, T>>,
    ) -> Schema {
        let mut profile_keys: BTreeSet<String> = object
            .standard_profile()
            .iter()
            .map(|s| s.to_string())
            .collect();
        for r in records {
            profile_keys.extend(r.profile.keys().cloned());
        }
        Schema {
            object,
            profile_keys,
        }
    }

    /// Whether `attr` exists, and whether it is a date.
    fn attribute(&self, attr: &str) -> Result<bool, FilterError> {
        if let Some(is_date) = self.object.top_level(attr) {
            return Ok(is_date);
        }
        match attr.strip_prefix("profile.") {
            Some(key) if self.profile_keys.contains(key) => Ok(false),
            _ => Err(invalid(format!("unsupported attribute {attr}"))),
        }
    }

    /// Parse and check a `search` expression.
    pub fn compile(&self, text: &str) -> Result<Search, FilterError> {
        self.check(&filter::parse(text)?)
    }

    fn check(&self, expr: &Expr) -> Result<Search, FilterError> {
        match expr {
            Expr::And(a, b) => Ok(Search::And(
                Box::new(self.check(a)?),
                Box::new(self.check(b)?),
            )),
            Expr::Or(a, b) => Ok(Search::Or(
                Box::new(self.check(a)?),
                Box::new(self.check(b)?),
            )),
            Expr::Not(a) => Ok(Search::Not(Box::new(self.check(a)?))),
            Expr::Cmp { attr, op, value } => {
                let is_date = self.attribute(attr)?;
                let allowed = match op {
                    Op::Eq | Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::Pr => true,
                    Op::Sw => !is_date,
                    Op::Co => self.object.allows_co(attr),
                    Op::Ne | Op::Ew => false,
                };
                if !allowed {
                    return Err(invalid(format!(
                        "operator {op:?} is not supported on {attr}"
                    )));
                }
                let value = match value {
                    None => None,
                    Some(Literal::Str(s)) if is_date => Some(Val::Date(
                        time::parse(s).ok_or_else(|| FilterError::BadDate(s.clone()))?,
                    )),
                    Some(_) if is_date => {
                        return Err(invalid(format!("{attr} needs a date in quotes")));
                    }
                    Some(Literal::Str(s)) => Some(Val::Text(s.to_lowercase())),
                    Some(Literal::Num(n)) => Some(Val::Text(n.clone())),
                    Some(Literal::Bool(b)) => Some(Val::Text(b.to_string())),
                    Some(Literal::Null) => {
                        return Err(invalid(format!("{attr}: use pr, not null")));
                    }
                };
                Ok(Search::Cmp {
                    attr: attr.clone(),
                    op: *op,
                    value,
                })
            }
        }
    }

    /// Check a `sortBy` property (any single attribute the search could name).
    pub fn sort_key(&self, attr: &str) -> Result<String, FilterError> {
        self.attribute(attr).map(|_| attr.to_string())
    }
}

fn compare(op: Op, actual: &Val, wanted: &Val) -> bool {
    let ord = match (actual, wanted) {
        (Val::Text(a), Val::Text(w)) => match op {
            Op::Sw => return a.starts_with(w.as_str()),
            Op::Co => return a.contains(w.as_str()),
            _ => a.as_str().cmp(w.as_str()),
        },
        (Val::Date(a), Val::Date(w)) => a.cmp(w),
        _ => return false,
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        _ => false,
    }
}

impl Search {
    pub fn matches<T>(&self, r: &Record<'_, T>) -> bool {
        match self {
            Search::And(a, b) => a.matches(r) && b.matches(r),
            Search::Or(a, b) => a.matches(r) || b.matches(r),
            Search::Not(a) => !a.matches(r),
            Search::Cmp { attr, op, value } => {
                let values = r.values(attr);
                match value {
                    None => values
                        .iter()
                        .any(|v| !matches!(v, Val::Text(t) if t.is_empty())),
                    Some(w) => values.iter().any(|v| compare(*op, v, w)),
                }
            }
        }
    }
}

/// Sort matches by `key` (missing values last), ties by id; `descending` reverses the key
/// order only, as Okta breaks ties by id.
pub fn sort<T>(records: &mut [Record<'_, T>], key: &str, descending: bool) {
    let first = |r: &Record<'_, T>| r.values(key).into_iter().next();
    records.sort_by(|a, b| {
        let ord = match (first(a), first(b)) {
            (Some(x), Some(y)) => {
                let o = match (&x, &y) {
                    (Val::Text(p), Val::Text(q)) => p.cmp(q),
                    (Val::Date(p), Val::Date(q)) => p.cmp(q),
                    (Val::Text(_), Val::Date(_)) => Ordering::Greater,
                    (Val::Date(_), Val::Text(_)) => Ordering::Less,
                };
                if descending { o.reverse() } else { o }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        ord.then_with(|| a.id.cmp(b.id))
    });
}
