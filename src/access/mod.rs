//! Who may see what. Every front-end (GraphQL, SCIM, the web directory) reads people, groups,
//! counts and search through a per-request `View` built from the caller's role, so the rules in
//! `rules.rs` are applied in one place. The sync engine does not come through here: it is the
//! system, with full access. `keys.rs` says who the caller is: API keys and the keys file.

pub mod keys;
mod rules;
mod view;

#[cfg(test)]
mod tests;

pub use keys::{KeyRecord, KeyRing, KeysError, sha256_hex};
pub use rules::{Caller, Permission, RULES, Role};
pub use view::{
    AccessError, FeedEntry, FeedKind, Freshness, Mirror, Policy, Result, SCAN_BUDGET, Totals, View,
    WriteGrant, seconds_since,
};

// The plain data types a front-end needs to ask and to render answers. Front-ends import them
// from here, never from `store` or `search`, so that a `View` is their only way to the data.
pub use crate::search::{
    Department, Departments, Facets, Highlight, IdList, OrgNode, ParsedQuery, SearchError,
    SearchResults, UnitKind, highlights,
};
pub use crate::store::{PersonFilter, Spool, StoreError};

/// Whether a host name (no port; IPv6 in brackets or bare) names this machine: `localhost` or a
/// loopback address. The one rule for both "may a keyless server listen here" and "is this
/// request addressed to loopback" (the DNS-rebinding check).
pub fn is_loopback_name(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
