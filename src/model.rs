//! The mirror's domain: people, groups, memberships and changes, as plain data with no I/O.
//! Every layer (source adapter, sync engine, store, API) speaks these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An Okta user status. Okta documents eight; `ACTIVATING` and anything newer land in `Unknown`
/// so an unexpected value never fails a crawl (the raw JSON still holds the exact string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Staged,
    Provisioned,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
    #[serde(other)]
    Unknown,
}

impl UserStatus {
    pub const ALL: [UserStatus; 9] = [
        UserStatus::Active,
        UserStatus::Staged,
        UserStatus::Provisioned,
        UserStatus::Recovery,
        UserStatus::LockedOut,
        UserStatus::PasswordExpired,
        UserStatus::Suspended,
        UserStatus::Deprovisioned,
        UserStatus::Unknown,
    ];

    /// Parses Okta's wire spelling; unknown values map to `Unknown`.
    pub fn parse(s: &str) -> UserStatus {
        serde_json::from_value(Value::String(s.to_owned())).unwrap_or(UserStatus::Unknown)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
            UserStatus::Unknown => "UNKNOWN",
        }
    }
}

/// Okta's group types. `Unknown` keeps a future type from failing a crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
    #[serde(other)]
    Unknown,
}

/// Why a user or group could not be read from Okta's JSON.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("an Okta {kind} object has no string \"{field}\"")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
}

/// A person as the mirror serves them: the typed fields every query needs, derived from Okta's
/// user JSON, plus the resolved manager. The full raw JSON is stored beside it (see `store`),
/// so that reading a person for a list or a filter never parses the whole Okta object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub status: UserStatus,
    pub created: Option<DateTime<Utc>>,
    pub last_updated: Option<DateTime<Utc>>,
    pub login: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub nick_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub division: Option<String>,
    pub organization: Option<String>,
    pub cost_center: Option<String>,
    pub employee_number: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    /// `profile.managerId` as Okta holds it (usually the manager's HR key).
    pub manager_ref: Option<String>,
    /// `profile.manager` as Okta holds it (usually the manager's display name).
    pub manager_name: Option<String>,
    /// The Okta id of the resolved manager, set by the sync engine; `None` for roots and for
    /// unresolved or cyclic references (those are reported, see `sync::managers`).
    pub manager_id: Option<String>,
}

/// Fields of an Okta object that change without the object changing, left out of what the
/// mirror stores so re-reading an unchanged org writes nothing: `_links` (a list item carries
/// fewer than a single GET, and lifecycle links follow the status), `_embedded` (only with
/// `expand`), `lastLogin` (moves on every sign-in) and `credentials` (provider and recovery
/// details, not directory data).
pub const VOLATILE_FIELDS: [&str; 4] = ["_links", "_embedded", "lastLogin", "credentials"];

/// Removes the [`VOLATILE_FIELDS`] from an Okta user or group object.
pub fn strip_volatile(raw: &mut Value) {
    if let Some(o) = raw.as_object_mut() {
        for f in VOLATILE_FIELDS {
            o.remove(f);
        }
    }
}

impl Person {
    /// Reads the typed fields from an Okta user object. Unknown and missing fields are tolerated;
    /// only `id` and `profile.login` are required, as Okta always sends them.
    pub fn from_okta(raw: &Value) -> Result<Person, ModelError> {
        let missing = |field| ModelError::Missing {
            kind: "user",
            field,
        };
        let id = str_field(raw, "id").ok_or_else(|| missing("id"))?;
        let empty = Map::new();
        let profile = raw
            .get("profile")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let p = |k: &str| {
            profile.get(k).and_then(|v| match v {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let login = p("login").ok_or_else(|| missing("profile.login"))?;
        Ok(Person {
            id,
            status: raw
                .get("status")
                .and_then(Value::as_str)
                .map(UserStatus::parse)
                .unwrap_or(UserStatus::Unknown),
            created: time_field(raw, "created"),
            last_updated: time_field(raw, "lastUpdated"),
            login,
            email: p("email"),
            first_name: p("firstName"),
            last_name: p("lastName"),
            display_name: p("displayName"),
            nick_name: p("nickName"),
            title: p("title"),
            department: p("department"),
            division: p("division"),
            organization: p("organization"),
            cost_center: p("costCenter"),
            employee_number: p("employeeNumber"),
            city: p("city"),
            country_code: p("countryCode"),
            manager_ref: p("managerId"),
            manager_name: p("manager"),
            manager_id: None,
        })
    }

    /// `displayName`, else "first last", else the login: what a person is called in lists.
    pub fn name(&self) -> String {
        if let Some(d) = &self.display_name {
            return d.clone();
        }
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(f), None) => f.clone(),
            (None, Some(l)) => l.clone(),
            (None, None) => self.login.clone(),
        }
    }
}

/// A group as the mirror serves it; the raw JSON is stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub group_type: GroupType,
    pub name: String,
    pub description: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub last_updated: Option<DateTime<Utc>>,
    pub last_membership_updated: Option<DateTime<Utc>>,
}

impl Group {
    /// Reads the typed fields from an Okta group object (`id` and `profile.name` required).
    pub fn from_okta(raw: &Value) -> Result<Group, ModelError> {
        let missing = |field| ModelError::Missing {
            kind: "group",
            field,
        };
        let id = str_field(raw, "id").ok_or_else(|| missing("id"))?;
        let profile = raw.get("profile");
        let name = profile
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| missing("profile.name"))?
            .to_owned();
        let group_type = raw
            .get("type")
            .cloned()
            .and_then(|t| serde_json::from_value(t).ok())
            .unwrap_or(GroupType::Unknown);
        Ok(Group {
            id,
            group_type,
            name,
            description: profile
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            created: time_field(raw, "created"),
            last_updated: time_field(raw, "lastUpdated"),
            last_membership_updated: time_field(raw, "lastMembershipUpdated"),
        })
    }
}

/// What a change-log entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entity", rename_all = "snake_case")]
pub enum Entity {
    Person {
        id: String,
    },
    Group {
        id: String,
    },
    /// Membership changes of one group within one batch: exact deltas, one entry per group
    /// rather than per pair, so an initial load of a large org stays cheap.
    Members {
        group_id: String,
        added: Vec<String>,
        removed: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Upsert,
    Delete,
}

/// One entry of the change log: the spine that the search index, run reports and any future
/// change feed follow by sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub op: ChangeOp,
    #[serde(flatten)]
    pub entity: Entity,
}

/// How many things a sync run changed in the mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub people_created: u64,
    pub people_updated: u64,
    pub people_deleted: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    pub groups_deleted: u64,
    pub members_added: u64,
    pub members_removed: u64,
}

impl ChangeCounts {
    pub fn add(&mut self, o: ChangeCounts) {
        self.people_created += o.people_created;
        self.people_updated += o.people_updated;
        self.people_deleted += o.people_deleted;
        self.groups_created += o.groups_created;
        self.groups_updated += o.groups_updated;
        self.groups_deleted += o.groups_deleted;
        self.members_added += o.members_added;
        self.members_removed += o.members_removed;
    }

    pub fn total(&self) -> u64 {
        self.people_created
            + self.people_updated
            + self.people_deleted
            + self.groups_created
            + self.groups_updated
            + self.groups_deleted
            + self.members_added
            + self.members_removed
    }
}

/// The kind of a sync run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunKind {
    /// A full crawl (the first, or one asked for).
    Full,
    /// A scheduled full crawl that catches what the incremental lanes missed.
    Reconcile,
    /// One batch of System Log events, each re-read and applied.
    Tail,
    /// A `lastUpdated` / `lastMembershipUpdated` delta sweep.
    Sweep,
    /// One event-hook delivery, re-read and applied.
    Hook,
}

/// The record of one sync run, kept in the store and shown by `syncStatus` and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
    /// Position in the run history (assigned when the run is recorded; 0 before).
    #[serde(default)]
    pub id: u64,
    pub kind: RunKind,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// True when the run completed and its results were applied.
    pub ok: bool,
    pub users_fetched: u64,
    pub groups_fetched: u64,
    pub memberships_fetched: u64,
    pub requests: u64,
    /// Requests retried after a transient failure.
    #[serde(default)]
    pub retries: u64,
    /// 429 answers (rate or concurrency limit) received.
    #[serde(default)]
    pub rate_limited: u64,
    /// System Log events (or hook events) this run handled, duplicates excluded.
    #[serde(default)]
    pub events: u64,
    pub changes: ChangeCounts,
    /// Removals held back by the deletion safety (see `sync::SyncConfig::max_delete_share`).
    #[serde(default)]
    pub held: HeldDeletions,
    pub warnings: Vec<String>,
    /// Why the run failed, in one sentence; `None` when it succeeded.
    pub error: Option<String>,
    /// True when the failure needs a configuration change (a revoked token, a missing scope),
    /// so retrying soon cannot help.
    #[serde(default)]
    pub config_error: bool,
}

/// Removals a completed crawl found but did not apply because they exceeded the safety share:
/// a token that suddenly sees fewer people (a narrowed admin role, a misconfigured group scope)
/// must not empty the mirror. An operator allows them with `--allow-mass-delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldDeletions {
    pub people: Vec<String>,
    pub groups: Vec<String>,
}

impl SyncRun {
    /// A run of `kind` starting now, not yet successful, with nothing counted.
    pub fn start(kind: RunKind) -> SyncRun {
        let now = Utc::now();
        SyncRun {
            id: 0,
            kind,
            started_at: now,
            finished_at: now,
            ok: false,
            users_fetched: 0,
            groups_fetched: 0,
            memberships_fetched: 0,
            requests: 0,
            retries: 0,
            rate_limited: 0,
            events: 0,
            changes: ChangeCounts::default(),
            held: HeldDeletions::default(),
            warnings: Vec::new(),
            error: None,
            config_error: false,
        }
    }
}

impl HeldDeletions {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.groups.is_empty()
    }
}

/// What manager resolution could not settle, kept from the latest full sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerReport {
    /// (person id, the managerId/manager value that matched nobody).
    pub unresolved: Vec<(String, String)>,
    /// Each cycle as the ids in it; the first id was made a root to break it.
    pub cycles: Vec<Vec<String>>,
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time_field(v: &Value, k: &str) -> Option<DateTime<Utc>> {
    v.get(k)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn person_tolerates_unknown_and_missing_fields() {
        let raw = json!({"id":"00u1","status":"ACTIVATING","somethingNew":{"x":1},
            "profile":{"login":"a@x.com","employeeNumber":1815,"title":"  "}});
        let p = Person::from_okta(&raw).expect("valid");
        assert_eq!(p.status, UserStatus::Unknown);
        assert_eq!(p.employee_number.as_deref(), Some("1815"));
        assert_eq!(p.title, None);
        assert_eq!(p.name(), "a@x.com");
    }

    #[test]
    fn person_without_login_is_an_error_naming_the_field() {
        let err = Person::from_okta(&json!({"id":"00u1","profile":{}})).unwrap_err();
        assert!(err.to_string().contains("profile.login"));
    }

    #[test]
    fn group_type_unknown_is_tolerated() {
        let g = Group::from_okta(&json!({"id":"00g1","type":"NEW_KIND","profile":{"name":"X"}}))
            .expect("valid");
        assert_eq!(g.group_type, GroupType::Unknown);
    }
}

/// One state-changing call, kept in the store's audit log: who (the API key's name, never the
/// key), when, what, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing with time; assigned by the store.
    pub id: u64,
    pub at: DateTime<Utc>,
    /// The caller's key name (or what stood in for one, such as the keys file itself).
    pub actor: String,
    /// What was asked, like `syncNow(kind: FULL)` or `key created: ci-reader (directory)`.
    pub action: String,
    /// How it ended, like `ok: run 42` or `failed: …`.
    pub outcome: String,
}
