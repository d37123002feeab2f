//! Keeps `schema/schema.graphql` equal to the live schema (`UPDATE_SCHEMA=1` rewrites it).

use std::path::Path;

#[test]
fn committed_sdl_matches_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/schema.graphql");
    let live = crate::api::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &live).expect("write schema/schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == live,
        "schema/schema.graphql differs from the live schema; run \
         `cargo run -- schema > schema/schema.graphql` (or UPDATE_SCHEMA=1 cargo test --lib api::) \
         and commit it"
    );
}
