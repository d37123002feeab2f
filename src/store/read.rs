//! Read side of the store: lookups by id and secondary index, ordered scans for pagination,
//! reports and memberships. Reads never take locks the writer waits on (sled is lock-free).

use serde_json::{Map, Value};

use super::{Result, Store, StoreError, T, decode, id_of, keys};
use crate::model::{Change, Group, Person, SyncRun, UserStatus};

/// Attribute filters over people, applied during ordered scans. Text matches are
/// case-insensitive and exact (after trimming), as directory queries expect.
#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    /// Statuses to include; empty means every status.
    pub statuses: Vec<UserStatus>,
    /// `profile.department` to match.
    pub department: Option<String>,
    /// `profile.title` to match.
    pub title: Option<String>,
    /// `profile.city` to match.
    pub city: Option<String>,
    /// `profile.countryCode` to match.
    pub country_code: Option<String>,
    /// An extended attribute (name, value) the person must have (both case-insensitive).
    pub attribute: Option<(String, String)>,
    /// User type ids, one of which must match (`type.id`); empty means any type.
    pub user_types: Vec<String>,
}

impl PersonFilter {
    /// The attribute comparisons the filter asks (each answered by the attribute index).
    pub fn attrs(&self) -> Vec<(super::Attr, &str)> {
        use super::Attr;
        [
            (Attr::Department, &self.department),
            (Attr::Title, &self.title),
            (Attr::City, &self.city),
            (Attr::CountryCode, &self.country_code),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.as_deref().map(|v| (a, v)))
        .collect()
    }

    /// True when `p` passes every filter given.
    pub fn matches(&self, p: &Person) -> bool {
        fn eq(want: &Option<String>, have: &Option<String>) -> bool {
            match want {
                None => true,
                Some(w) => have
                    .as_deref()
                    .is_some_and(|h| keys::fold(h) == keys::fold(w)),
            }
        }
        (self.statuses.is_empty() || self.statuses.contains(&p.status))
            && eq(&self.department, &p.department)
            && eq(&self.title, &p.title)
            && eq(&self.city, &p.city)
            && eq(&self.country_code, &p.country_code)
            && self.attribute.as_ref().is_none_or(|(name, value)| {
                p.attributes.iter().any(|a| {
                    a.name.eq_ignore_ascii_case(name.trim())
                        && keys::fold(&a.value) == keys::fold(value)
                })
            })
            && (self.user_types.is_empty()
                || p.user_type_id
                    .as_ref()
                    .is_some_and(|t| self.user_types.contains(t)))
    }
}

impl Store {
    /// The person with this Okta user id.
    pub fn person(&self, id: &str) -> Result<Option<Person>> {
        match self.tree(T::People).get(id)? {
            None => Ok(None),
            Some(b) => decode("person", &b).map(Some),
        }
    }

    /// The raw Okta JSON of a user, as last fetched.
    pub fn person_raw(&self, id: &str) -> Result<Option<Value>> {
        match self.tree(T::RawUsers).get(id)? {
            None => Ok(None),
            Some(b) => decode("raw user", &b).map(Some),
        }
    }

    /// The `profile` object of a user's raw Okta JSON (an empty object when it has none) and
    /// the provisioned document (`model::PROVISIONED_DOCUMENT`), if any, decoded without the
    /// rest of the record (links, credentials, times): what SCIM reads for every user it
    /// serves. Only the profile attributes `keep` accepts are decoded (SCIM serves most base
    /// attributes from the typed record). `None` for an unknown id.
    pub fn person_profile(&self, id: &str, keep: fn(&str) -> bool) -> Result<Option<RawProfile>> {
        match self.tree(T::RawUsers).get(id)? {
            None => Ok(None),
            // A record that is not an object (none is written) has no profile, as before.
            Some(b) if b.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'{') => {
                Ok(Some(RawProfile::default()))
            }
            Some(b) => {
                use serde::de::DeserializeSeed;
                let mut de = serde_json::Deserializer::from_slice(&b);
                RawProfileSeed { keep }
                    .deserialize(&mut de)
                    .and_then(|r| de.end().map(|()| r))
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("raw user: {e}")))
            }
        }
    }

    /// Logins are unique and case-insensitive in Okta.
    pub fn person_by_login(&self, login: &str) -> Result<Option<Person>> {
        match self.tree(T::IdxLogin).get(keys::fold(login))? {
            None => Ok(None),
            Some(id) => self.person(&id_of(&id)?),
        }
    }

    /// Okta does not enforce unique emails; the first match in id order is returned,
    /// preferring a person who is not deprovisioned.
    pub fn person_by_email(&self, email: &str) -> Result<Option<Person>> {
        self.first_by_index(T::IdxEmail, &keys::fold(email))
    }

    /// Employee numbers are an HR key Okta does not enforce; same rule as email.
    pub fn person_by_employee_number(&self, n: &str) -> Result<Option<Person>> {
        self.first_by_index(T::IdxEmpNo, n.trim())
    }

    /// Everyone whose email is `email` (case-insensitive), in id order.
    pub fn people_by_email(&self, email: &str) -> Result<Vec<Person>> {
        self.all_by_index(T::IdxEmail, &keys::fold(email))
    }

    /// Everyone whose employee number is `n`, in id order.
    pub fn people_by_employee_number(&self, n: &str) -> Result<Vec<Person>> {
        self.all_by_index(T::IdxEmpNo, n.trim())
    }

    fn all_by_index(&self, t: T, value: &str) -> Result<Vec<Person>> {
        let mut out = Vec::new();
        for kv in self.tree(t).scan_prefix(keys::prefix(value)) {
            let (k, _) = kv?;
            let Some(id) = keys::second(&k) else { continue };
            if let Some(p) = self.person(&id)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn first_by_index(&self, t: T, value: &str) -> Result<Option<Person>> {
        let mut fallback = None;
        for kv in self.tree(t).scan_prefix(keys::prefix(value)) {
            let (k, _) = kv?;
            let Some(id) = keys::second(&k) else { continue };
            if let Some(p) = self.person(&id)? {
                if p.status != UserStatus::Deprovisioned {
                    return Ok(Some(p));
                }
                fallback.get_or_insert(p);
            }
        }
        Ok(fallback)
    }

    /// People in id order, strictly after `after` (the pagination cursor).
    pub fn people_after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<Person>> + 'a {
        self.people_iter_after(after).map(|kv| {
            let (_, v) = kv?;
            decode("person", &v)
        })
    }

    /// Ids of people in id order, strictly after `after`, without decoding the records.
    pub fn person_ids_after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<String>> + 'a {
        self.people_iter_after(after).map(|kv| id_of(&kv?.0))
    }

    /// The `people` tree from the first id strictly after `after` (all of it for `None`).
    fn people_iter_after(&self, after: Option<&str>) -> sled::Iter {
        match after {
            None => self.tree(T::People).iter(),
            Some(a) => {
                let mut start = a.as_bytes().to_vec();
                start.push(0);
                self.tree(T::People).range(start..)
            }
        }
    }

    /// Ids of the people whose department equals `department` ignoring case, in id order.
    pub fn department_member_ids(&self, department: &str) -> Result<Vec<String>> {
        self.seconds(T::IdxDepartment, &keys::department(department))
    }

    /// The same ids, read lazily (a page need not read the whole department).
    pub fn department_ids<'a>(
        &'a self,
        department: &str,
    ) -> impl Iterator<Item = Result<String>> + 'a {
        self.tree(T::IdxDepartment)
            .scan_prefix(keys::prefix(&keys::department(department)))
            .map(|kv| {
                let (k, _) = kv?;
                keys::second(&k).ok_or_else(|| StoreError::Corrupt("pair key".into()))
            })
    }

    /// How many people [`Store::department_ids`] lists (`shown_only`: those not deprovisioned),
    /// from the stored counters.
    pub fn department_count(&self, department: &str, shown_only: bool) -> Result<u64> {
        let which = if shown_only { "shown" } else { "all" };
        let key = keys::pair(&keys::department(department), which);
        Ok(self
            .tree(T::DepartmentCounts)
            .get(key)?
            .map(|v| keys::read_u64(&v))
            .unwrap_or(0))
    }

    /// Ids of the people whose resolved manager is `manager_id`, in id order.
    pub fn direct_report_ids(&self, manager_id: &str) -> Result<Vec<String>> {
        self.seconds(T::Reports, manager_id)
    }

    /// The group with this Okta group id.
    pub fn group(&self, id: &str) -> Result<Option<Group>> {
        match self.tree(T::Groups).get(id)? {
            None => Ok(None),
            Some(b) => decode("group", &b).map(Some),
        }
    }

    /// The raw Okta JSON of a group, as last fetched.
    pub fn group_raw(&self, id: &str) -> Result<Option<Value>> {
        match self.tree(T::RawGroups).get(id)? {
            None => Ok(None),
            Some(b) => decode("raw group", &b).map(Some),
        }
    }

    /// Group by name, case-insensitive. Okta group names are unique for Okta groups, but an
    /// imported app group may share a name; then the first in id order wins.
    pub fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        match self.seconds(T::IdxGroupName, &keys::fold(name))?.first() {
            None => Ok(None),
            Some(id) => self.group(id),
        }
    }

    /// Groups in id order, strictly after `after`.
    pub fn groups_after<'a>(
        &'a self,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<Group>> + 'a {
        let iter = match after {
            None => self.tree(T::Groups).iter(),
            Some(a) => {
                let mut start = a.as_bytes().to_vec();
                start.push(0);
                self.tree(T::Groups).range(start..)
            }
        };
        iter.map(|kv| {
            let (_, v) = kv?;
            decode("group", &v)
        })
    }

    /// Member ids of a group in id order, strictly after `after`.
    pub fn member_ids_after<'a>(
        &'a self,
        group_id: &str,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<String>> + 'a {
        let prefix = keys::prefix(group_id);
        let start = match after {
            None => prefix.clone(),
            Some(a) => {
                let mut k = keys::pair(group_id, a);
                k.push(0);
                k
            }
        };
        self.tree(T::Members)
            .range(start..)
            .take_while(move |kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|kv| {
                let (k, _) = kv?;
                keys::second(&k).ok_or_else(|| StoreError::Corrupt("membership key".into()))
            })
    }

    /// Number of members of a group, kept as a counter beside the membership pairs.
    pub fn member_count(&self, group_id: &str) -> Result<u64> {
        Ok(self
            .tree(T::GroupCounts)
            .get(group_id)?
            .map(|v| keys::read_u64(&v))
            .unwrap_or(0))
    }

    /// Ids of the groups a person belongs to, in id order.
    pub fn group_ids_of(&self, user_id: &str) -> Result<Vec<String>> {
        self.seconds(T::MemberOf, user_id)
    }

    /// Change-log entries with a sequence number greater than `after`, in order.
    pub fn changes_after<'a>(&'a self, after: u64) -> impl Iterator<Item = Result<Change>> + 'a {
        // Nothing follows the largest sequence: start past every 8-byte key (`after + 1` would
        // overflow there).
        let from = after
            .checked_add(1)
            .map_or([0xff; 9].to_vec(), |n| keys::u64_be(n).to_vec());
        self.tree(T::Changes).range(from..).map(|kv| {
            let (_, v) = kv?;
            decode("change", &v)
        })
    }

    /// The newest `first` recorded runs, newest first.
    pub fn runs(&self, first: usize) -> Result<Vec<SyncRun>> {
        self.tree(T::Runs)
            .iter()
            .rev()
            .take(first)
            .map(|kv| {
                let (_, v) = kv?;
                decode("run", &v)
            })
            .collect()
    }

    fn seconds(&self, t: T, first: &str) -> Result<Vec<String>> {
        self.tree(t)
            .scan_prefix(keys::prefix(first))
            .map(|kv| {
                let (k, _) = kv?;
                keys::second(&k).ok_or_else(|| StoreError::Corrupt("pair key".into()))
            })
            .collect()
    }
}

/// The parts of a user's raw Okta JSON that [`Store::person_profile`] decodes.
#[derive(Debug, Default, PartialEq)]
pub struct RawProfile {
    /// `profile`: always an object (empty when the record has none or another value).
    pub profile: serde_json::Map<String, Value>,
    /// The provisioned document, as stored (provisioning mode only).
    pub document: Option<Value>,
}

/// Decodes a [`RawProfile`], keeping the profile attributes `keep` accepts: the others are
/// skipped as text, never decoded into values.
struct RawProfileSeed {
    keep: fn(&str) -> bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for RawProfileSeed {
    type Value = RawProfile;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<RawProfile, D::Error> {
        use serde::de::{DeserializeSeed, Error, IgnoredAny, MapAccess, Visitor};
        /// A key of the record, compared without being copied.
        enum Key {
            Profile,
            Document,
            Other,
        }
        impl<'de> serde::Deserialize<'de> for Key {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                struct Name;
                impl Visitor<'_> for Name {
                    type Value = Key;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E: Error>(self, s: &str) -> std::result::Result<Key, E> {
                        Ok(match s {
                            "profile" => Key::Profile,
                            s if s == crate::model::PROVISIONED_DOCUMENT => Key::Document,
                            _ => Key::Other,
                        })
                    }
                }
                d.deserialize_identifier(Name)
            }
        }
        /// A profile attribute's name, copied only when it is kept.
        struct Attribute(fn(&str) -> bool);
        impl<'de> DeserializeSeed<'de> for Attribute {
            type Value = Option<String>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<Option<String>, D::Error> {
                d.deserialize_str(self)
            }
        }
        /// The profile: an object (anything else is no profile, as before).
        struct Profile(fn(&str) -> bool);
        impl<'de> DeserializeSeed<'de> for Profile {
            type Value = Map<String, Value>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        impl Visitor<'_> for Attribute {
            type Value = Option<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name")
            }
            fn visit_str<E: Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok((self.0)(s).then(|| s.to_owned()))
            }
        }
        impl<'de> Visitor<'de> for Profile {
            type Value = Map<String, Value>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a profile")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key_seed(Attribute(self.0))? {
                    match key {
                        Some(k) => {
                            out.insert(k, map.next_value()?);
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_bool<E: Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_i64<E: Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_u64<E: Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_f64<E: Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_str<E: Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok(Map::new())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Map::new())
            }
        }
        struct Fields(fn(&str) -> bool);
        impl<'de> Visitor<'de> for Fields {
            type Value = RawProfile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a user's JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawProfile, A::Error> {
                let mut out = RawProfile::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Profile => out.profile = map.next_value_seed(Profile(self.0))?,
                        Key::Document => out.document = Some(map.next_value()?),
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Fields(self.keep))
    }
}
