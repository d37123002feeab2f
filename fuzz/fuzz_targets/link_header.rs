//! Fuzzes the Okta `Link` header parser: never panics, and a found target is a substring of the
//! header values (it is cut out of them, never built).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A NUL byte separates header values (Okta sends one `link` field per relation).
    let values: Vec<&str> = text.split('\0').collect();
    for rel in ["next", "self", "prev"] {
        if let Some(target) = oktamirror::fuzzing::find_rel(values.iter().copied(), rel) {
            assert!(values.iter().any(|v| v.contains(target.as_str())), "{target:?}");
        }
    }
});
