//! How unkind the simulated org is: switches for the ways a real Okta org is harder on a
//! client than a tidy one. `Strictness::default()` keeps what is simply Okta's documented
//! behaviour on (400s for what Okta refuses, list items with only a `self` link) and leaves
//! the rest (scoped roles, late log events, expiring cursors, a second host) off, so a test
//! turns on exactly the trouble it is about.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Set with [`super::Simulator::set_strictness`]; read per request.
#[derive(Clone, Debug)]
pub struct Strictness {
    /// List endpoints (users, groups, group members, logs) answer 400 `E0000031` to a query
    /// parameter they do not take, or to `sortBy`/`sortOrder` without `search`, instead of
    /// ignoring it. On by default.
    pub reject_unknown_params: bool,
    /// `GET /api/v1/users/{id}` carries the lifecycle `_links` for the user's status
    /// (`activate`, `suspend`, …, `schema`, `type`) while list items carry only `self`, as
    /// Okta's do. On by default; off gives every representation only `self`.
    pub full_links_on_get: bool,
    /// The group ids the token's admin role is scoped to (`None`: a super admin, the
    /// default). Users outside these groups and the other groups answer 403 `E0000006` and
    /// are left out of lists. Set it with [`super::Simulator::scope_admin_to_groups`].
    pub admin_scope: Option<Arc<BTreeSet<String>>>,
    /// `after` cursors of the users, groups and group-members lists older than this answer
    /// 400 (`None`, the default: they never expire). Log cursors do not expire.
    pub cursor_ttl: Option<Duration>,
    /// `next` links are built on this origin (`http://host:port`) instead of the one the
    /// request came to: Okta behind a custom domain links back to the org's other domain.
    pub next_link_base: Option<String>,
    /// `GET /api/v1/meta/types/user` answers 403 `E0000006`, as for an admin role or token
    /// that may not read user types.
    pub user_types_forbidden: bool,
}

impl Default for Strictness {
    fn default() -> Self {
        Strictness {
            reject_unknown_params: true,
            full_links_on_get: true,
            admin_scope: None,
            cursor_ttl: None,
            next_link_base: None,
            user_types_forbidden: false,
        }
    }
}
