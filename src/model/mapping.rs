//! The attribute mapping (`[attribute_map]`, `extended_attributes`): which Okta profile attribute,
//! or which template over several, each typed `Person` field is read from. Pure data, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The typed `Person` fields read from the Okta profile that a mapping may redirect, by their
/// Okta (and GraphQL) names. `login` is left out on purpose: it is Okta's unique sign-in name,
/// and the mirror's login index relies on that uniqueness.
pub const MAPPABLE_FIELDS: [&str; 15] = [
    "city",
    "costCenter",
    "countryCode",
    "department",
    "displayName",
    "division",
    "email",
    "employeeNumber",
    "firstName",
    "lastName",
    "manager",
    "managerId",
    "nickName",
    "organization",
    "title",
];

/// Okta's base user profile attributes: what a template may name besides the extended
/// attributes and the attributes the map reads.
pub const BASE_PROFILE: [&str; 31] = [
    "login",
    "email",
    "secondEmail",
    "firstName",
    "lastName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "title",
    "displayName",
    "nickName",
    "profileUrl",
    "primaryPhone",
    "mobilePhone",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "countryCode",
    "postalAddress",
    "preferredLanguage",
    "locale",
    "timezone",
    "userType",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "managerId",
    "manager",
];

/// Where one typed field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// One profile attribute, read as today (a string that is not blank, or a number's text).
    Attribute(String),
    /// A template: literal text and `{attribute}` placeholders.
    Template(Vec<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Attribute(String),
}

/// How typed fields are derived from an Okta user's profile. The default reads each field from
/// the attribute of the same name and exposes no extended attributes.
///
/// A template (a value holding `{`) renders its placeholders from the raw profile's attributes
/// (Okta's names, never other mapped fields): a string as it is, a number or boolean as its
/// text, an array as its items joined with ", ". A missing, null or blank attribute renders as
/// the empty string; the result then has its runs of whitespace collapsed to one space and is
/// trimmed. When no placeholder had a value the field is absent (as if Okta had no value), so
/// `{firstName} {lastName} ({pronouns})` gives `Ada Lovelace (she/her)`, `Ada Lovelace ()` without
/// pronouns, and no value at all for a profile with none of the three. `{{` and `}}` are
/// literal braces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeMap {
    fields: BTreeMap<String, Source>,
    extended: Vec<String>,
}

/// One extended attribute's value on a person (`extended_attributes`): an array in Okta gives
/// one pair per item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribute {
    /// The Okta profile attribute's name, as configured.
    pub name: String,
    /// Its value as text.
    pub value: String,
}

impl AttributeMap {
    /// Parses the configured map (typed field → attribute name or template) and extended
    /// attribute names; each error is one sentence naming what to fix.
    pub fn parse(
        fields: &BTreeMap<String, String>,
        extended: &[String],
    ) -> Result<AttributeMap, String> {
        let mut ext: Vec<String> = Vec::new();
        for name in extended.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            if !is_attribute_name(name) {
                return Err(format!(
                    "extended attribute \"{name}\" is not an Okta profile attribute name: use names like costCenterCode, without \"profile.\""
                ));
            }
            ext.push(name.to_owned());
        }
        ext.sort();
        ext.dedup();
        let mut parsed = BTreeMap::new();
        for (field, value) in fields {
            let field = field.trim();
            if field == "login" {
                return Err("attribute_map cannot map login: it is Okta's unique sign-in name, which the mirror's lookups rely on; map another field".into());
            }
            if !MAPPABLE_FIELDS.contains(&field) {
                return Err(format!(
                    "attribute_map key \"{field}\" is not a typed field: the fields that can be mapped are {}",
                    MAPPABLE_FIELDS.join(", ")
                ));
            }
            let value = value.trim();
            let source = if value.contains(['{', '}']) {
                Source::Template(
                    parse_template(value)
                        .map_err(|e| format!("attribute_map.{field} = \"{value}\": {e}"))?,
                )
            } else if is_attribute_name(value) {
                Source::Attribute(value.to_owned())
            } else {
                return Err(format!(
                    "attribute_map.{field} = \"{value}\" is not an Okta profile attribute name: give a name like officeLocation (without \"profile.\"), or a template like \"{{firstName}} {{lastName}}\""
                ));
            };
            parsed.insert(field.to_owned(), source);
        }
        let map = AttributeMap {
            fields: parsed,
            extended: ext,
        };
        map.check_placeholders()?;
        Ok(map)
    }

    /// Every placeholder must name a base profile attribute, an extended attribute or an
    /// attribute the map reads: anything else is a typo.
    fn check_placeholders(&self) -> Result<(), String> {
        let mut known: BTreeSet<&str> = BASE_PROFILE.into_iter().collect();
        known.extend(self.extended.iter().map(String::as_str));
        for source in self.fields.values() {
            if let Source::Attribute(a) = source {
                known.insert(a);
            }
        }
        for (field, source) in &self.fields {
            let Source::Template(parts) = source else {
                continue;
            };
            for part in parts {
                let Part::Attribute(a) = part else {
                    continue;
                };
                if !known.contains(a.as_str()) {
                    return Err(format!(
                        "attribute_map.{field}: unknown placeholder {{{a}}}: a template may name Okta's base profile attributes ({}), the extended_attributes and the attributes the map reads; to use a custom attribute, list it in extended_attributes",
                        BASE_PROFILE.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// The extended attributes, sorted.
    pub fn extended(&self) -> &[String] {
        &self.extended
    }

    /// Whether this is the default mapping (every field from its own attribute, no extended
    /// attributes).
    pub fn is_default(&self) -> bool {
        self.fields.is_empty() && self.extended.is_empty()
    }

    /// The mapping as one canonical line (empty for the default), stored with the mirror so a
    /// changed mapping is noticed at start: `city=officeLocation; displayName={firstName} …;
    /// extended=costCenterCode,pronouns`.
    pub fn fingerprint(&self) -> String {
        let mut parts: Vec<String> = self
            .fields
            .iter()
            .map(|(field, source)| match source {
                Source::Attribute(a) => format!("{field}={a}"),
                Source::Template(t) => format!("{field}={}", render_template_text(t)),
            })
            .collect();
        if !self.extended.is_empty() {
            parts.push(format!("extended={}", self.extended.join(",")));
        }
        parts.join("; ")
    }

    /// The value of typed field `field` (an entry of [`MAPPABLE_FIELDS`]) for `profile`.
    pub fn field(&self, profile: &Map<String, Value>, field: &str) -> Option<String> {
        match self.fields.get(field) {
            None => scalar(profile.get(field)),
            Some(Source::Attribute(a)) => scalar(profile.get(a)),
            Some(Source::Template(parts)) => render(parts, profile),
        }
    }

    /// The extended attributes' values for `profile`, in name order.
    pub fn attributes(&self, profile: &Map<String, Value>) -> Vec<Attribute> {
        let mut out = Vec::new();
        for name in &self.extended {
            let mut push = |v: &Value| {
                if let Some(value) = scalar(Some(v)).or_else(|| boolean(v)) {
                    out.push(Attribute {
                        name: name.clone(),
                        value,
                    });
                }
            };
            match profile.get(name) {
                Some(Value::Array(items)) => items.iter().for_each(&mut push),
                Some(v) => push(v),
                None => {}
            }
        }
        out
    }
}

/// Okta attribute names are plain identifiers.
fn is_attribute_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A string that is not blank, or a number's text: how every typed field reads Okta's JSON.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<String> {
    v.as_bool().map(|b| b.to_string())
}

fn parse_template(t: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = t.chars().peekable();
    let mut placeholders = 0;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "the placeholder {{{name} is not closed: write {{attribute}}, and {{{{ or }}}} for a literal brace"
                            ));
                        }
                        Some(ch) => name.push(ch),
                    }
                }
                let name = name.trim().to_owned();
                if !is_attribute_name(&name) {
                    return Err(format!(
                        "the placeholder {{{name}}} is not an attribute name: write {{attribute}} with an Okta profile attribute, like {{firstName}}"
                    ));
                }
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Attribute(name));
                placeholders += 1;
            }
            '}' => {
                return Err(
                    "a \"}\" closes no placeholder: write {attribute}, and }} for a literal brace"
                        .into(),
                );
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    if placeholders == 0 {
        return Err("the template has no {attribute} placeholder".into());
    }
    Ok(parts)
}

/// The template as configured (braces escaped again), for the fingerprint.
fn render_template_text(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.replace('{', "{{").replace('}', "}}"),
            Part::Attribute(a) => format!("{{{a}}}"),
        })
        .collect()
}

fn render(parts: &[Part], profile: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Attribute(a) => {
                let value = match profile.get(a) {
                    Some(Value::Array(items)) => {
                        let items: Vec<String> = items
                            .iter()
                            .filter_map(|v| scalar(Some(v)).or_else(|| boolean(v)))
                            .collect();
                        (!items.is_empty()).then(|| items.join(", "))
                    }
                    Some(v) => scalar(Some(v)).or_else(|| boolean(v)),
                    None => None,
                };
                if let Some(v) = value {
                    any = true;
                    out.push_str(&v);
                }
            }
        }
    }
    any.then(|| out.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(pairs: &[(&str, &str)], ext: &[&str]) -> Result<AttributeMap, String> {
        let fields = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let ext: Vec<String> = ext.iter().map(|s| (*s).to_owned()).collect();
        AttributeMap::parse(&fields, &ext)
    }

    fn profile(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    #[test]
    fn attributes_and_templates_render_as_documented() {
        let m = map(
            &[
                ("city", "officeLocation"),
                ("displayName", "{firstName} {lastName} ({pronouns})"),
                ("title", "{{{title}}}"),
            ],
            &["pronouns", "costCenterCode"],
        )
        .expect("valid");
        let full = profile(
            json!({"firstName": "Ada", "lastName": "Lovelace", "pronouns": "she/her",
            "city": "Paris", "officeLocation": "London", "title": "Engineer",
            "costCenterCode": 4711, "badges": [1, 2]}),
        );
        assert_eq!(m.field(&full, "city").as_deref(), Some("London"));
        assert_eq!(
            m.field(&full, "displayName").as_deref(),
            Some("Ada Lovelace (she/her)")
        );
        assert_eq!(m.field(&full, "title").as_deref(), Some("{Engineer}"));
        assert_eq!(m.field(&full, "department"), None);
        assert_eq!(
            m.attributes(&full),
            vec![
                Attribute {
                    name: "costCenterCode".into(),
                    value: "4711".into()
                },
                Attribute {
                    name: "pronouns".into(),
                    value: "she/her".into()
                },
            ]
        );
        // A missing placeholder renders empty, whitespace collapses; none at all: absent.
        let partial = profile(json!({"firstName": "Ada", "lastName": "  ", "pronouns": null}));
        assert_eq!(m.field(&partial, "displayName").as_deref(), Some("Ada ()"));
        assert_eq!(m.field(&profile(json!({})), "displayName"), None);
        // The mapped attribute missing means no value, never the unmapped one.
        assert_eq!(m.field(&profile(json!({"city": "Paris"})), "city"), None);
        let arr = profile(json!({"pronouns": ["she", "her"], "firstName": "Ada"}));
        assert_eq!(m.attributes(&arr).len(), 2);
        assert_eq!(
            m.field(&arr, "displayName").as_deref(),
            Some("Ada (she, her)")
        );
    }

    #[test]
    fn bad_maps_are_refused_with_what_to_fix() {
        let e = map(&[("cty", "officeLocation")], &[]).unwrap_err();
        assert!(
            e.contains("\"cty\" is not a typed field") && e.contains("employeeNumber"),
            "{e}"
        );
        let e = map(&[("login", "email")], &[]).unwrap_err();
        assert!(e.contains("cannot map login"), "{e}");
        let e = map(&[("displayName", "{firstName} {pronoun}")], &["pronouns"]).unwrap_err();
        assert!(e.contains("unknown placeholder {pronoun}"), "{e}");
        let e = map(&[("displayName", "{firstName")], &[]).unwrap_err();
        assert!(e.contains("not closed"), "{e}");
        let e = map(&[("displayName", "first}")], &[]).unwrap_err();
        assert!(e.contains("closes no placeholder"), "{e}");
        let e = map(&[("displayName", "{}")], &[]).unwrap_err();
        assert!(e.contains("not an attribute name"), "{e}");
        let e = map(&[("city", "profile.office")], &[]).unwrap_err();
        assert!(e.contains("not an Okta profile attribute name"), "{e}");
        let e = map(&[], &["cost center"]).unwrap_err();
        assert!(e.contains("extended attribute"), "{e}");
        // An attribute the map reads may be a placeholder elsewhere.
        assert!(
            map(
                &[("city", "officeLocation"), ("title", "{officeLocation}")],
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn the_fingerprint_is_canonical() {
        assert_eq!(AttributeMap::default().fingerprint(), "");
        let a = map(&[("title", "{a_b}x{{"), ("city", "office")], &["b", "a"]);
        let a = a.unwrap_err();
        assert!(a.contains("unknown placeholder {a_b}"), "{a}");
        let a = map(
            &[("title", "{city}x{{"), ("city", "office")],
            &["b", "a", "b"],
        )
        .expect("ok");
        assert_eq!(
            a.fingerprint(),
            "city=office; title={city}x{{; extended=a,b"
        );
        assert!(!a.is_default());
    }
}
