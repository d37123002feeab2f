//! The end-to-end tests, in one binary: the Okta simulator and the real mirror on port 0,
//! talking HTTP, checked against the simulator's own state. `support` holds the shared setup.

mod access;
mod backup;
mod client;
mod feed;
mod hostile;
mod mirror;
mod oauth;
mod ops;
mod parsers;
mod provision;
mod schedule;
mod scim;
mod search;
mod setup;
mod support;
mod sync;
mod unkind;
