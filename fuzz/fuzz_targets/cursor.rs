//! Fuzzes the GraphQL cursor decoder: any text decodes or is refused, never panics; what decodes
//! encodes back to a cursor that decodes to the same id; search offsets stay within bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oktamirror::fuzzing::{decode_cursor, encode_cursor};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    for cursor in [text.as_ref(), &encode_cursor(kind % 3, &text)] {
        if let Ok(id) = decode_cursor(kind % 3, cursor) {
            assert_eq!(decode_cursor(kind % 3, &encode_cursor(kind % 3, &id)), Ok(id.clone()));
            if kind % 3 == 2 {
                assert!(id.parse::<u64>().is_ok_and(|n| n <= 10_000), "{id}");
            }
        }
    }
});
