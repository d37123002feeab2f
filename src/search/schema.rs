//! The people index's tantivy schema and how a `Person` becomes a document: folded words, edge
//! prefixes, exact full names and logins, filter keys and facet values.

use serde_json::Value as Json;
use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, STORED, STRING, Schema};

use super::text::{self, folded_phrase};
use crate::model::Person;

/// Bumped whenever the schema, the analysis or the storage settings change: an index of another
/// version is rebuilt.
///
/// 6: built without tantivy's zstd (fast-field dictionaries of version 5 may hold zstd blocks
/// this build cannot read).
pub const VERSION: u32 = 6;

/// The fields of the people index.
#[derive(Clone, Copy)]
pub struct Fields {
    /// Okta id: the delete key and the link back to the store.
    pub id: Field,
    /// Every folded word of every searchable attribute.
    pub words: Field,
    /// Every word, stored (not indexed) as one space-separated text: the re-ranker reads it.
    pub stored_words: Field,
    /// Every prefix of every word (typeahead as a term lookup).
    pub prefixes: Field,
    /// Whole names as folded phrases ("jonathan smith", "smith jonathan", "jon smith").
    pub names: Field,
    /// Lower-cased login, email and employee number, compared whole.
    pub logins: Field,
    pub status: Field,
    /// Lower-cased, trimmed values for `PersonFilter` (exact, case-insensitive).
    pub department_key: Field,
    pub title_key: Field,
    pub city_key: Field,
    pub country_key: Field,
    /// `name=value` of each extended attribute (lower-cased name, filter-key value).
    pub attribute_key: Field,
    /// Values as Okta holds them, for facet counts.
    pub department: Field,
    pub title: Field,
    pub city: Field,
    pub country_code: Field,
    /// The user type id (`type.id`), for the filter and the facet.
    pub user_type: Field,
}

/// Facet fields by name, as the facet collector reads them.
pub const FACET_FIELDS: [&str; 5] = ["department", "title", "city", "country_code", "user_type"];

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut b = Schema::builder();
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            words: b.add_text_field("words", STRING),
            stored_words: b.add_text_field("stored_words", STORED),
            prefixes: b.add_text_field("prefixes", STRING),
            names: b.add_text_field("names", STRING),
            logins: b.add_text_field("logins", STRING),
            status: b.add_text_field("status", STRING),
            department_key: b.add_text_field("department_key", STRING),
            title_key: b.add_text_field("title_key", STRING),
            city_key: b.add_text_field("city_key", STRING),
            country_key: b.add_text_field("country_key", STRING),
            attribute_key: b.add_text_field("attribute_key", STRING),
            department: b.add_text_field(FACET_FIELDS[0], STRING | FAST),
            title: b.add_text_field(FACET_FIELDS[1], STRING | FAST),
            city: b.add_text_field(FACET_FIELDS[2], STRING | FAST),
            country_code: b.add_text_field(FACET_FIELDS[3], STRING | FAST),
            user_type: b.add_text_field(FACET_FIELDS[4], STRING | FAST),
        };
        (b.build(), fields)
    }

    /// The document for `p`; `custom` holds the values of the configured custom attributes.
    pub fn document(&self, p: &Person, custom: &[String]) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, &p.id);
        doc.add_text(self.status, p.status.as_str());

        // Each distinct word once, in first-seen order: `all` is the stored text, `seen` the
        // byte ranges of its words (a person has a few dozen, so a linear check beats hashing
        // and allocates nothing per word).
        let mut all = String::with_capacity(256);
        let mut seen: Vec<(usize, usize)> = Vec::with_capacity(32);
        let values = searchable_values(p)
            .map(|(_, v)| v)
            .chain(custom.iter().map(String::as_str));
        for value in values {
            text::each_word(value, |w| {
                if seen.iter().any(|&(s, e)| &all[s..e] == w) {
                    return;
                }
                for prefix in text::prefixes(w) {
                    doc.add_text(self.prefixes, prefix);
                }
                doc.add_text(self.words, w);
                if !all.is_empty() {
                    all.push(' ');
                }
                seen.push((all.len(), all.len() + w.len()));
                all.push_str(w);
            });
        }
        doc.add_text(self.stored_words, all);

        let mut names = std::collections::BTreeSet::new();
        let first = p.first_name.as_deref().map(folded_phrase);
        let last = p.last_name.as_deref().map(folded_phrase);
        let nick = p.nick_name.as_deref().map(folded_phrase);
        names.insert(folded_phrase(&p.name()));
        for given in [&first, &nick].into_iter().flatten() {
            if let Some(last) = &last {
                names.insert(format!("{given} {last}"));
                names.insert(format!("{last} {given}"));
            }
        }
        for n in names.into_iter().filter(|n| !n.is_empty()) {
            doc.add_text(self.names, &n);
        }
        for login in [Some(&p.login), p.email.as_ref(), p.employee_number.as_ref()]
            .into_iter()
            .flatten()
        {
            doc.add_text(self.logins, login_key(login));
        }

        let pairs = [
            (self.department_key, self.department, &p.department),
            (self.title_key, self.title, &p.title),
            (self.city_key, self.city, &p.city),
            (self.country_key, self.country_code, &p.country_code),
        ];
        for (key, facet, value) in pairs {
            if let Some(v) = value {
                doc.add_text(key, filter_key(v));
                doc.add_text(facet, v);
            }
        }
        for a in &p.attributes {
            doc.add_text(self.attribute_key, attribute_key(&a.name, &a.value));
        }
        if let Some(t) = &p.user_type_id {
            doc.add_text(self.user_type, t);
        }
        doc
    }
}

/// The searchable attributes of a person, by their GraphQL field name (the extended attributes'
/// values as `attributes`).
pub fn searchable_values(p: &Person) -> impl Iterator<Item = (&'static str, &str)> {
    [
        ("displayName", p.display_name.as_deref()),
        ("firstName", p.first_name.as_deref()),
        ("lastName", p.last_name.as_deref()),
        ("nickName", p.nick_name.as_deref()),
        ("login", Some(p.login.as_str())),
        ("email", p.email.as_deref()),
        ("title", p.title.as_deref()),
        ("department", p.department.as_deref()),
        ("division", p.division.as_deref()),
        ("organization", p.organization.as_deref()),
        ("city", p.city.as_deref()),
        ("countryCode", p.country_code.as_deref()),
        ("employeeNumber", p.employee_number.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .chain(
        p.attributes
            .iter()
            .map(|a| ("attributes", a.value.as_str())),
    )
}

/// The term an extended attribute's filter looks up: `name=value`, both compared
/// case-insensitively.
pub fn attribute_key(name: &str, value: &str) -> String {
    format!("{}={}", name.trim().to_lowercase(), filter_key(value))
}

/// The values of the configured custom attributes in a raw Okta user (strings and numbers;
/// arrays of them too).
pub fn custom_values(raw: Option<&Json>, attributes: &[String]) -> Vec<String> {
    let Some(profile) = raw.and_then(|r| r.get("profile")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in attributes {
        let mut push = |v: &Json| match v {
            Json::String(s) => out.push(s.clone()),
            Json::Number(n) => out.push(n.to_string()),
            _ => {}
        };
        match profile.get(a) {
            Some(Json::Array(items)) => items.iter().for_each(&mut push),
            Some(v) => push(v),
            None => {}
        }
    }
    out
}

/// How logins, emails and employee numbers are compared whole.
pub fn login_key(s: &str) -> String {
    s.trim().to_lowercase()
}

/// How filter values are compared: the same rule as `store::PersonFilter` (trimmed,
/// case-insensitive).
pub fn filter_key(s: &str) -> String {
    s.trim().to_lowercase()
}
