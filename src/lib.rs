//! oktamirror: a live mirror of an Okta org's people and groups, served over GraphQL.
//! See ARCHITECTURE.md for the map of modules and the one-way data flow.

pub mod api;
pub mod configuration;
pub mod demo;
pub mod model;
pub mod okta;
pub mod search;
pub mod secret;
pub mod sim;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
