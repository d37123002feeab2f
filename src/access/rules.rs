//! The access rules in one table: which role holds which permission. Every front-end asks
//! these through a `View`, so no protocol can forget a rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an API key (or a signed-in browser) is allowed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An employee-facing app: typed fields (the admin-chosen `extended_attributes` included:
    /// they are typed fields), manager chains, reports, groups, search, departments, org
    /// charts; never deprovisioned people; `profile` holds only the custom attributes listed
    /// in `directory_attributes`.
    Directory,
    /// HR and audit tools: everything, every status, the whole raw profile, sync status and runs.
    Hr,
    /// Operators: `hr` plus whatever changes state (`syncNow`, releasing held removals).
    Admin,
    /// Okta's SCIM provisioning client: reads and writes users and groups over SCIM.
    Provisioner,
    /// A metrics scraper: `/metrics` only.
    Metrics,
}

impl Role {
    /// Every role, in the order the README lists them.
    pub const ALL: [Role; 5] = [
        Role::Directory,
        Role::Hr,
        Role::Admin,
        Role::Provisioner,
        Role::Metrics,
    ];

    /// The name used in the keys file, on the command line and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Directory => "directory",
            Role::Hr => "hr",
            Role::Admin => "admin",
            Role::Provisioner => "provisioner",
            Role::Metrics => "metrics",
        }
    }

    /// Whether this role holds `p`, by the table below.
    pub fn may(self, p: Permission) -> bool {
        RULES
            .iter()
            .any(|(perm, roles)| *perm == p && roles.contains(&self))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "\"{s}\" is not a role: use one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// Something a caller may read or do beyond nothing at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// People and groups with their typed fields (`Person::attributes` too), chains, reports,
    /// memberships, search, facets, departments and org charts.
    ReadDirectory,
    /// People in `DEPROVISIONED` status, in lookups, lists, counts and search.
    SeeDeprovisioned,
    /// The whole raw Okta profile of people and groups (else only `directory_attributes`).
    RawProfile,
    /// `syncStatus` and `syncRuns`.
    SyncStatus,
    /// The audit log of state-changing calls.
    AuditLog,
    /// `syncNow`, releasing held removals, anything else that changes what the mirror does.
    ControlSync,
    /// SCIM writes in provisioning mode.
    ScimWrite,
    /// `/metrics`.
    Metrics,
    /// `/admin/backup`: a copy of the whole store (every person, raw profile and the audit log).
    Backup,
}

impl Permission {
    /// What the permission covers, for a FORBIDDEN error.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadDirectory => "reading people and groups",
            Permission::SeeDeprovisioned => "deprovisioned people",
            Permission::RawProfile => "the raw Okta profile",
            Permission::SyncStatus => "the sync status and run history",
            Permission::AuditLog => "the audit log",
            Permission::ControlSync => "controlling sync",
            Permission::ScimWrite => "SCIM writes",
            Permission::Metrics => "metrics",
            Permission::Backup => "backups of the whole mirror",
        }
    }
}

use Permission as P;
use Role as R;

/// The rules. A reviewer reads this table, and nothing else, to know who sees what; the README
/// shows the same table.
pub const RULES: &[(Permission, &[Role])] = &[
    (
        P::ReadDirectory,
        &[R::Directory, R::Hr, R::Admin, R::Provisioner],
    ),
    (P::SeeDeprovisioned, &[R::Hr, R::Admin, R::Provisioner]),
    (P::RawProfile, &[R::Hr, R::Admin, R::Provisioner]),
    (P::SyncStatus, &[R::Hr, R::Admin]),
    (P::AuditLog, &[R::Hr, R::Admin]),
    (P::ControlSync, &[R::Admin]),
    (P::ScimWrite, &[R::Provisioner]),
    (P::Metrics, &[R::Admin, R::Metrics]),
    (P::Backup, &[R::Admin]),
];

/// Who is asking: the key's name (never the key) and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The API key's name, or `None` on an open server (loopback without a keys file).
    pub name: Option<String>,
    /// What the caller may do (`Admin` on an open server).
    pub role: Role,
}

impl Caller {
    /// The caller on a server without a keys file: it listens on loopback only, and whoever can
    /// reach it there may do everything (as before keys existed).
    pub fn open() -> Caller {
        Caller {
            name: None,
            role: Role::Admin,
        }
    }

    /// The sync engine and local tools (`oktamirror status` on a data directory).
    pub fn system() -> Caller {
        Caller {
            name: Some("system".into()),
            role: Role::Admin,
        }
    }

    /// Whether this caller holds `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.role.may(p)
    }

    /// The name to record in logs and the audit log.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or("(no key: open loopback server)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_nest_as_documented() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("directory, hr, admin")
        );
        // hr is everything directory is, admin everything hr is.
        for (p, _) in RULES {
            if Role::Directory.may(*p) {
                assert!(Role::Hr.may(*p), "{p:?}");
            }
            if Role::Hr.may(*p) {
                assert!(Role::Admin.may(*p), "{p:?}");
            }
        }
        assert!(!Role::Directory.may(P::SeeDeprovisioned));
        assert!(!Role::Directory.may(P::RawProfile));
        assert!(!Role::Hr.may(P::ControlSync));
        assert!(Role::Admin.may(P::ControlSync));
        assert!(!Role::Metrics.may(P::ReadDirectory));
    }
}
