//! oktamirror: a live mirror of an Okta org's people and groups, served over GraphQL.
//! See ARCHITECTURE.md for the map of modules and the one-way data flow.

pub mod access;
pub mod api;
pub mod configuration;
pub mod metrics;
pub mod model;
pub mod okta;
pub mod search;
pub mod secret;
/// The Okta simulator: behind the default-on `simulator` feature, so a production build
/// (`--no-default-features`) leaves it out. It imports nothing from the product.
#[cfg(feature = "simulator")]
pub mod sim;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;

/// Entry points for the fuzz targets in `fuzz/` and their stable-toolchain smoke test
/// (`tests/e2e/parsers.rs`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::api::fuzzing::{check_query, decode_cursor, encode_cursor};
    pub use crate::configuration::parse_duration;
    pub use crate::okta::link::find_rel;
}
