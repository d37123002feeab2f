//! The end-to-end tests, in one binary: the Okta simulator and the real mirror on port 0,
//! talking HTTP, checked against the simulator's own state. `support` holds the shared setup.

mod access;
mod backup;
mod browser;
mod checkpoint;
mod client;
mod counts;
mod feed;
mod hostile;
mod load;
mod mapping;
mod mirror;
mod oauth;
mod ops;
mod parsers;
mod provision;
mod schedule;
mod scim;
mod scope;
mod search;
mod setup;
mod support;
mod sync;
mod unkind;
