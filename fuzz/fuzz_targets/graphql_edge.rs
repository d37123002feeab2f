//! Fuzzes the `/graphql` edge's checks of a document (text bounds, parsing, alias/root-field/field
//! counts with fragments expanded): never panics or overflows the stack, whatever the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = oktamirror::fuzzing::check_query(&text);
});
