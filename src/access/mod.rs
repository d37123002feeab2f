//! Who may see what. Every front-end (GraphQL, SCIM, the web directory) reads people, groups,
//! counts and search through a per-request `View` built from the caller's role, so the rules in
//! `rules.rs` are applied in one place. `keys.rs` says who the caller is: API keys and the
//! keys file.

pub mod keys;
mod rules;

pub use keys::{KeyRecord, KeyRing, KeysError};
pub use rules::{Caller, Permission, RULES, Role};
