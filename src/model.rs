//! The mirror's domain: people, groups, memberships and changes, as plain data with no I/O.
//! Every layer (source adapter, sync engine, store, API) speaks these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod mapping;
pub mod positions;
pub use mapping::{Attribute, AttributeMap};
pub use positions::{Keep, Positions};

/// An Okta user status. Okta documents eight; `ACTIVATING` and anything newer land in `Unknown`
/// so an unexpected value never fails a crawl (the raw JSON still holds the exact string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    /// `ACTIVE`: can sign in.
    Active,
    /// `STAGED`: created but not yet activated.
    Staged,
    /// `PROVISIONED`: activated, but the user has not yet set a password.
    Provisioned,
    /// `RECOVERY`: a password reset is under way.
    Recovery,
    /// `LOCKED_OUT`: too many failed sign-ins.
    LockedOut,
    /// `PASSWORD_EXPIRED`: must change the password at next sign-in.
    PasswordExpired,
    /// `SUSPENDED`: blocked from signing in by an admin, assignments kept.
    Suspended,
    /// `DEPROVISIONED`: deactivated; Okta still lists the user until they are deleted.
    Deprovisioned,
    /// Any other value (such as `ACTIVATING`); shown as `UNKNOWN`.
    #[serde(other)]
    Unknown,
}

impl UserStatus {
    /// Every status, in declaration order (for filters and facet lists).
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

    /// Okta's wire spelling (`LOCKED_OUT`), or `UNKNOWN`.
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
    /// `OKTA_GROUP`: created and managed in Okta.
    OktaGroup,
    /// `APP_GROUP`: imported from an app or directory (Active Directory, Workday, …).
    AppGroup,
    /// `BUILT_IN`: Okta's own, such as `Everyone`.
    BuiltIn,
    /// Any other value Okta may add.
    #[serde(other)]
    Unknown,
}

/// Why a user or group could not be read from Okta's JSON.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The object lacks a field the mirror needs (`id`, `profile.login` or `profile.name`).
    #[error("an Okta {kind} object has no string \"{field}\"")]
    Missing {
        /// `user` or `group`.
        kind: &'static str,
        /// The missing field's JSON path, like `profile.login`.
        field: &'static str,
    },
}

/// A person as the mirror serves them: the typed fields every query needs, derived from Okta's
/// user JSON, plus the resolved manager. The full raw JSON is stored beside it (see `store`),
/// so that reading a person for a list or a filter never parses the whole Okta object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The Okta user id (`00u…`).
    pub id: String,
    /// Okta's `status`.
    pub status: UserStatus,
    /// Okta's `created`: when the user was created in Okta.
    pub created: Option<DateTime<Utc>>,
    /// Okta's `lastUpdated`: the latest profile or status change in Okta.
    pub last_updated: Option<DateTime<Utc>>,
    /// `profile.login`: unique in the org, compared case-insensitively.
    pub login: String,
    /// `profile.email` (Okta does not enforce uniqueness).
    pub email: Option<String>,
    /// `profile.firstName`.
    pub first_name: Option<String>,
    /// `profile.lastName`.
    pub last_name: Option<String>,
    /// `profile.displayName`.
    pub display_name: Option<String>,
    /// `profile.nickName`.
    pub nick_name: Option<String>,
    /// `profile.title` (job title).
    pub title: Option<String>,
    /// `profile.department`, as Okta holds it.
    pub department: Option<String>,
    /// `profile.division`, as Okta holds it.
    pub division: Option<String>,
    /// `profile.organization`.
    pub organization: Option<String>,
    /// `profile.costCenter`, as Okta holds it.
    pub cost_center: Option<String>,
    /// `profile.employeeNumber` (a number in Okta's JSON is read as its text).
    pub employee_number: Option<String>,
    /// `profile.city`.
    pub city: Option<String>,
    /// `profile.countryCode`, as Okta holds it (usually ISO 3166-1 alpha-2).
    pub country_code: Option<String>,
    /// `profile.managerId` as Okta holds it (usually the manager's HR key).
    pub manager_ref: Option<String>,
    /// `profile.manager` as Okta holds it (usually the manager's display name).
    pub manager_name: Option<String>,
    /// The Okta id of the resolved manager, set by the sync engine; `None` for roots and for
    /// unresolved or cyclic references (those are reported, see `sync::managers`).
    pub manager_id: Option<String>,
    /// The provisioning client's own id for the person (SCIM `externalId`; for Okta's SCIM app,
    /// the Okta user id). Only pushed people have one; left out of the stored record when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The configured `extended_attributes` this person has, in name order (empty without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Okta's `type.id`: the person's user type (see [`UserType`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type_id: Option<String>,
    /// Kept only as the manager of someone in the configured scope, not in it themselves.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outside_scope: bool,
}

/// An Okta user type (`GET /api/v1/meta/types/user`): Employee, Contractor, Partner, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserType {
    /// The type's id (`oty…`), what a user's `type.id` names.
    pub id: String,
    /// The type's API name, like `employee`.
    pub name: String,
    /// Its display name, like `Employee`.
    #[serde(default)]
    pub display_name: Option<String>,
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
    /// Reads the typed fields from an Okta user object, each from the profile attribute `map`
    /// names for it (the default map: the attribute of the same name), plus the extended
    /// attributes. Unknown and missing fields are tolerated; only `id` and `profile.login` are
    /// required, as Okta always sends them. Every path that stores a person comes through here.
    pub fn from_okta(raw: &Value, map: &AttributeMap) -> Result<Person, ModelError> {
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
        let p = |k: &str| map.field(profile, k);
        let login = AttributeMap::default()
            .field(profile, "login")
            .ok_or_else(|| missing("profile.login"))?;
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
            external_id: str_field(raw, "externalId"),
            attributes: map.attributes(profile),
            user_type_id: raw.get("type").and_then(|t| str_field(t, "id")),
            outside_scope: false,
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
    /// The Okta group id (`00g…`).
    pub id: String,
    /// Okta's `type`.
    pub group_type: GroupType,
    /// `profile.name`.
    pub name: String,
    /// `profile.description`.
    pub description: Option<String>,
    /// Okta's `created`.
    pub created: Option<DateTime<Utc>>,
    /// Okta's `lastUpdated`: the latest change to the group's profile.
    pub last_updated: Option<DateTime<Utc>>,
    /// Okta's `lastMembershipUpdated`: the latest member added or removed.
    pub last_membership_updated: Option<DateTime<Utc>>,
    /// The provisioning client's own id for the group (SCIM `externalId`); only pushed groups
    /// have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
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
            external_id: str_field(raw, "externalId"),
        })
    }
}

/// What a change-log entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entity", rename_all = "snake_case")]
pub enum Entity {
    /// A person, written or removed as a whole.
    Person {
        /// The Okta user id.
        id: String,
    },
    /// A group's record (not its members, see `Members`).
    Group {
        /// The Okta group id.
        id: String,
    },
    /// Membership changes of one group within one batch: exact deltas, one entry per group
    /// rather than per pair, so an initial load of a large org stays cheap.
    Members {
        /// The Okta group id.
        group_id: String,
        /// User ids added to the group in this batch.
        added: Vec<String>,
        /// User ids removed from the group in this batch.
        removed: Vec<String>,
    },
    /// A crawl loaded into an empty store, logged as this one entry instead of one per record:
    /// whoever follows the log from before it reads the store again.
    InitialLoad {
        /// People loaded.
        people: u64,
        /// Groups loaded.
        groups: u64,
        /// Memberships loaded.
        memberships: u64,
    },
}

/// What happened to a change-log entry's entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Created or updated (for `Members`: members added or removed).
    Upsert,
    /// Removed from the mirror (deleted in Okta, or no longer visible to the token).
    Delete,
}

/// One entry of the change log: the spine that the search index, run reports and any future
/// change feed follow by sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Position in the log: increasing, gap-free, assigned in the writing transaction.
    pub seq: u64,
    /// When the mirror applied the change (not when it happened in Okta).
    pub at: DateTime<Utc>,
    /// Upsert or delete.
    pub op: ChangeOp,
    /// What changed; flattened into the entry (`entity: person`, `id: …`) when serialized.
    #[serde(flatten)]
    pub entity: Entity,
    /// An upsert that created the person or group (false for an update, and in entries written
    /// before this field existed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// For an update: the fields that changed (typed fields by their GraphQL names, raw Okta
    /// profile attributes as `profile.NAME`). Empty for creations, deletions and memberships.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// How many things a sync run changed in the mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    /// People new to the mirror.
    pub people_created: u64,
    /// People whose stored record changed.
    pub people_updated: u64,
    /// People removed from the mirror.
    pub people_deleted: u64,
    /// Groups new to the mirror.
    pub groups_created: u64,
    /// Groups whose stored record changed.
    pub groups_updated: u64,
    /// Groups removed from the mirror.
    pub groups_deleted: u64,
    /// Memberships (group, user pairs) added.
    pub members_added: u64,
    /// Memberships (group, user pairs) removed.
    pub members_removed: u64,
}

impl ChangeCounts {
    /// Adds `o`'s counts to these, field by field.
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

    /// The sum of every count: zero means the run changed nothing.
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
    /// Which lane ran.
    pub kind: RunKind,
    /// When the run began.
    pub started_at: DateTime<Utc>,
    /// When the run ended (equal to `started_at` until then).
    pub finished_at: DateTime<Utc>,
    /// True when the run completed and its results were applied.
    pub ok: bool,
    /// Users read from Okta (staged users for a crawl; re-read users otherwise).
    pub users_fetched: u64,
    /// Groups read from Okta.
    pub groups_fetched: u64,
    /// Memberships (group, user pairs) read from Okta.
    pub memberships_fetched: u64,
    /// HTTP requests sent to Okta, retries included.
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
    /// What the run changed in the mirror.
    pub changes: ChangeCounts,
    /// Removals held back by the deletion safety (see `sync::SyncConfig::max_delete_share`).
    #[serde(default)]
    pub held: HeldDeletions,
    /// Problems that did not fail the run, one sentence each (a skipped object and why).
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
    /// Okta user ids whose removal is held.
    pub people: Vec<String>,
    /// Okta group ids whose removal is held.
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
    /// True when nothing is held.
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
        let p = Person::from_okta(&raw, &Default::default()).expect("valid");
        assert_eq!(p.status, UserStatus::Unknown);
        assert_eq!(p.employee_number.as_deref(), Some("1815"));
        assert_eq!(p.title, None);
        assert_eq!(p.name(), "a@x.com");
    }

    #[test]
    fn person_without_login_is_an_error_naming_the_field() {
        let err =
            Person::from_okta(&json!({"id":"00u1","profile":{}}), &Default::default()).unwrap_err();
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
    /// When the call was recorded.
    pub at: DateTime<Utc>,
    /// The caller's key name (or what stood in for one, such as the keys file itself).
    pub actor: String,
    /// What was asked, like `syncNow(kind: FULL)` or `key created: ci-reader (directory)`.
    pub action: String,
    /// How it ended, like `ok: run 42` or `failed: …`.
    pub outcome: String,
}

/// The key of a pushed user's stored JSON that holds the provisioning client's document.
pub const PROVISIONED_DOCUMENT: &str = "provisioned";

/// A person as a provisioning client (Okta's SCIM app) writes them, already in the mirror's
/// shape: the Okta-style profile every reader understands, the status, the client's id, and the
/// client's document as it sent it (served back to callers who may read raw profiles).
#[derive(Debug, Clone, PartialEq)]
pub struct PushedUser {
    /// The status the write gives (`ACTIVE`, `DEPROVISIONED`, or the one kept).
    pub status: UserStatus,
    /// The profile in Okta's attribute names (`login`, `firstName`, `email`, `managerId`, …).
    pub profile: Map<String, Value>,
    /// The client's id for the person (SCIM `externalId`).
    pub external_id: Option<String>,
    /// The client's writable attributes as sent (a JSON object), without secrets.
    pub document: Value,
}

/// A group as a provisioning client creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedGroup {
    /// The group name (`profile.name`); unique, compared case-insensitively.
    pub name: String,
    /// `profile.description`.
    pub description: Option<String>,
    /// The client's id for the group (SCIM `externalId`).
    pub external_id: Option<String>,
    /// The first members' ids.
    pub members: Vec<String>,
}

/// One change to a group's members, applied in order with the others of its write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberOp {
    /// Add these people (already members stay).
    Add(Vec<String>),
    /// Remove these people (non-members are ignored).
    Remove(Vec<String>),
    /// The members become exactly these people.
    Replace(Vec<String>),
}

/// An update of a pushed group: each `Some` replaces a field, then the member changes apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    /// A new name.
    pub name: Option<String>,
    /// A new description (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// A new client id (`Some(None)` removes it).
    pub external_id: Option<Option<String>>,
    /// Member changes, in the order sent.
    pub members: Vec<MemberOp>,
}

/// Computes a person's new state from the current one (the stored Okta-shaped user JSON), under
/// the single writer: so two concurrent updates of one person never lose each other's changes.
pub type UserEdit = Box<dyn FnOnce(&Value) -> Result<PushedUser, ProvisionError> + Send>;

/// A write from a provisioning client, for the mirror's single writer.
pub enum ProvisionWrite {
    /// A new person; the writer assigns the id.
    CreateUser(PushedUser),
    /// A replacement or patch of a person, computed from their current state.
    EditUser {
        /// The person's id (assigned by the mirror).
        id: String,
        /// The new state from the current one.
        edit: UserEdit,
    },
    /// Removes a person and their memberships.
    DeleteUser {
        /// The person's id.
        id: String,
    },
    /// A new group; the writer assigns the id.
    CreateGroup(PushedGroup),
    /// Changes a group's fields and members.
    EditGroup {
        /// The group's id.
        id: String,
        /// What changes.
        change: GroupChange,
    },
    /// Removes a group and its memberships.
    DeleteGroup {
        /// The group's id.
        id: String,
    },
}

impl std::fmt::Debug for ProvisionWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProvisionWrite::CreateUser(u) => write!(f, "CreateUser({:?})", u.profile.get("login")),
            ProvisionWrite::EditUser { id, .. } => write!(f, "EditUser({id})"),
            ProvisionWrite::DeleteUser { id } => write!(f, "DeleteUser({id})"),
            ProvisionWrite::CreateGroup(g) => write!(f, "CreateGroup({:?})", g.name),
            ProvisionWrite::EditGroup { id, change } => write!(f, "EditGroup({id}, {change:?})"),
            ProvisionWrite::DeleteGroup { id } => write!(f, "DeleteGroup({id})"),
        }
    }
}

/// Why a provisioning write was not applied; each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    /// No person or group with this id.
    #[error("no {kind} with id \"{id}\" in this mirror")]
    NotFound {
        /// `User` or `Group`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A unique value (a login, a group name) is taken by another person or group.
    #[error("{0}")]
    Conflict(String),
    /// A value cannot be used (a member who does not exist, a missing userName).
    #[error("{0}")]
    Invalid(String),
    /// The store failed; nothing was written.
    #[error("the write was not applied: {0}")]
    Store(String),
}
