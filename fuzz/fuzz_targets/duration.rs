//! Fuzzes the configuration duration parser (`request_timeout`, intervals): never panics, and
//! every duration it accepts is positive.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = oktamirror::fuzzing::parse_duration(&text) {
        assert!(!d.is_zero(), "{text:?} parsed as zero");
    }
});
