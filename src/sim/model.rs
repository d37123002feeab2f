//! The simulator's stored user and group records and their Okta JSON rendering.
//! Profiles are kept as JSON text (plus the few fields filters need) to stay small.

use super::json::ObjWriter;
use super::time::{self, Millis};

/// Okta `UserStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    Staged,
    Provisioned,
    Recovery,
    LockedOut,
    PasswordExpired,
    Suspended,
    Deprovisioned,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Active,
        Status::Staged,
        Status::Provisioned,
        Status::Recovery,
        Status::LockedOut,
        Status::PasswordExpired,
        Status::Suspended,
        Status::Deprovisioned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Staged => "STAGED",
            Status::Provisioned => "PROVISIONED",
            Status::Recovery => "RECOVERY",
            Status::LockedOut => "LOCKED_OUT",
            Status::PasswordExpired => "PASSWORD_EXPIRED",
            Status::Suspended => "SUSPENDED",
            Status::Deprovisioned => "DEPROVISIONED",
        }
    }
}

/// One Okta user as the simulator stores it.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub status: Status,
    pub created: Millis,
    pub activated: Option<Millis>,
    pub status_changed: Option<Millis>,
    pub last_login: Option<Millis>,
    pub last_updated: Millis,
    pub password_changed: Option<Millis>,
    pub type_id: String,
    /// The `profile` object as JSON text.
    pub profile: String,
    /// Cached profile fields that filters, `q` and login lookup need.
    pub login: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl User {
    /// Refresh the cached fields after `profile` changed.
    pub fn reindex_profile(&mut self, profile: &serde_json::Map<String, serde_json::Value>) {
        let get = |k: &str| profile.get(k).and_then(|v| v.as_str()).map(str::to_string);
        self.login = get("login").unwrap_or_default();
        self.email = get("email").unwrap_or_default();
        self.first_name = get("firstName");
        self.last_name = get("lastName");
    }

    /// The lifecycle operations Okta links from a single user in this status.
    fn lifecycle_links(&self) -> &'static [&'static str] {
        match self.status {
            Status::Staged | Status::Provisioned => &["activate", "deactivate"],
            Status::Active => &[
                "suspend",
                "resetPassword",
                "expirePassword",
                "forgotPassword",
                "changePassword",
                "changeRecoveryQuestion",
                "resetFactors",
                "deactivate",
            ],
            Status::Recovery | Status::PasswordExpired => {
                &["resetPassword", "resetFactors", "deactivate"]
            }
            Status::LockedOut => &["unlock", "resetPassword", "resetFactors", "deactivate"],
            Status::Suspended => &["unsuspend", "deactivate"],
            Status::Deprovisioned => &["activate"],
        }
    }

    /// The user exactly as the API serves it; links are built from `base` (`http://host`).
    /// A list item's `_links` has only `self`; a single user (`full`) also has the
    /// lifecycle links for its status and its `schema` and `type`, as Okta's do.
    pub fn render(&self, base: &str, full: bool) -> String {
        let ts = |v: Option<Millis>| v.map(time::format);
        let href = |url: &str| ObjWriter::new().str("href", url).finish();
        let user_url = format!("{base}/api/v1/users/{}", self.id);
        let mut links = ObjWriter::with_capacity(base.len() + 64).raw("self", &href(&user_url));
        if full {
            for op in self.lifecycle_links() {
                // `resetPassword` → `…/lifecycle/reset_password`; the password and recovery
                // question operations live under `…/credentials/`.
                let mut snake = String::new();
                for c in op.chars() {
                    if c.is_ascii_uppercase() {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                let place = match *op {
                    "forgotPassword" | "changePassword" | "changeRecoveryQuestion" => "credentials",
                    _ => "lifecycle",
                };
                let link = ObjWriter::new()
                    .str("href", &format!("{user_url}/{place}/{snake}"))
                    .str("method", "POST")
                    .finish();
                links = links.raw(op, &link);
            }
            let schema = format!("{base}/api/v1/meta/schemas/user/{}", self.type_id);
            let kind = format!("{base}/api/v1/meta/types/user/{}", self.type_id);
            links = links
                .raw("schema", &href(&schema))
                .raw("type", &href(&kind));
        }
        let links = links.finish();
        ObjWriter::with_capacity(self.profile.len() + 600)
            .str("id", &self.id)
            .str("status", self.status.as_str())
            .str("created", &time::format(self.created))
            .opt_str("activated", ts(self.activated).as_deref())
            .opt_str("statusChanged", ts(self.status_changed).as_deref())
            .opt_str("lastLogin", ts(self.last_login).as_deref())
            .str("lastUpdated", &time::format(self.last_updated))
            .opt_str("passwordChanged", ts(self.password_changed).as_deref())
            .raw("type", &ObjWriter::new().str("id", &self.type_id).finish())
            .raw("profile", &self.profile)
            .raw(
                "credentials",
                r#"{"password":{},"provider":{"type":"OKTA","name":"OKTA"}}"#,
            )
            .raw("_links", &links)
            .finish()
    }
}

/// Okta `GroupType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }

    pub fn object_class(self) -> &'static str {
        match self {
            GroupType::AppGroup => "okta:windows_security_principal",
            _ => "okta:user_group",
        }
    }
}

/// One Okta group as the simulator stores it.
#[derive(Clone, Debug)]
pub struct Group {
    pub id: String,
    pub created: Millis,
    pub last_updated: Millis,
    pub last_membership_updated: Millis,
    pub kind: GroupType,
    pub name: String,
    /// The `profile` object as JSON text.
    pub profile: String,
    /// For `APP_GROUP`: the importing app's id (`_links.source`).
    pub source_app: Option<String>,
    /// Reported in `_embedded.stats.appsCount`.
    pub apps_count: u32,
}

/// Values for `expand=stats`.
pub struct Stats {
    pub users_count: usize,
    pub apps_count: u32,
}

impl Group {
    /// The group as served; `stats` adds `_embedded.stats` (for `expand=stats`).
    pub fn render(&self, base: &str, stats: Option<Stats>) -> String {
        let href = |suffix: &str| {
            ObjWriter::new()
                .str("href", &format!("{base}/api/v1/groups/{}{suffix}", self.id))
                .finish()
        };
        let mut links = ObjWriter::new()
            .raw("self", &href(""))
            .raw("users", &href("/users"))
            .raw("apps", &href("/apps"));
        if let Some(app) = &self.source_app {
            let src = ObjWriter::new()
                .str("href", &format!("{base}/api/v1/apps/{app}"))
                .finish();
            links = links.raw("source", &src);
        }
        let mut out = ObjWriter::with_capacity(self.profile.len() + 600)
            .str("id", &self.id)
            .str("created", &time::format(self.created))
            .str("lastUpdated", &time::format(self.last_updated))
            .str(
                "lastMembershipUpdated",
                &time::format(self.last_membership_updated),
            )
            .raw(
                "objectClass",
                &format!("[\"{}\"]", self.kind.object_class()),
            )
            .str("type", self.kind.as_str())
            .raw("profile", &self.profile);
        if let Some(s) = stats {
            out = out.raw(
                "_embedded",
                &format!(
                    "{{\"stats\":{{\"usersCount\":{},\"appsCount\":{},\"groupPushMappingsCount\":0,\"hasAdminPrivlege\":false}}}}",
                    s.users_count, s.apps_count
                ),
            );
        }
        out.raw("_links", &links.finish()).finish()
    }
}
