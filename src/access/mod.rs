//! Who may see what. Every front-end (GraphQL, SCIM, the web directory) reads people, groups,
//! counts and search through a per-request `View` built from the caller's role, so the rules in
//! `rules.rs` are applied in one place. The sync engine does not come through here: it is the
//! system, with full access. `keys.rs` says who the caller is: API keys and the keys file.

pub mod keys;
mod rules;
mod view;

#[cfg(test)]
mod tests;

pub use keys::{KeyRecord, KeyRing, KeysError};
pub use rules::{Caller, Permission, RULES, Role};
pub use view::{AccessError, Mirror, Policy, Result, SCAN_BUDGET, Totals, View};

// The plain data types a front-end needs to ask and to render answers. Front-ends import them
// from here, never from `store` or `search`, so that a `View` is their only way to the data.
pub use crate::search::{
    Department, Departments, Facets, Highlight, OrgNode, ParsedQuery, SearchError, SearchResults,
    UnitKind, highlights,
};
pub use crate::store::{PersonFilter, StoreError};
