//! The fuzz targets of `fuzz/` on the stable toolchain: each target's function gets a few
//! thousand seeded random inputs (random bytes, and mutations of valid inputs), so a panic or a
//! broken invariant shows up in `cargo test` even where cargo-fuzz (nightly) cannot run.

use oktamirror::fuzzing::{check_query, decode_cursor, encode_cursor, find_rel, parse_duration};
use oktamirror::sim::Rng;

/// Inputs per target.
const CASES: usize = 5_000;

/// Random text: bytes from `alphabet` and a few arbitrary characters, up to `max` long.
fn text(rng: &mut Rng, alphabet: &str, max: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| match rng.below(10) {
            0 => char::from_u32(rng.next_u64() as u32 % 0x11_0000).unwrap_or('\u{FFFD}'),
            _ => chars[rng.below(chars.len())],
        })
        .collect()
}

/// `seed` with a few random edits (insert, delete, replace).
fn mutate(rng: &mut Rng, seed: &str, alphabet: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    let extra: Vec<char> = alphabet.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        let c = extra[rng.below(extra.len())];
        match rng.below(3) {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn cursor_decoder() {
    let mut rng = Rng::new(1);
    let b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/";
    for _ in 0..CASES {
        let kind = rng.below(3) as u8;
        let id = text(&mut rng, "0123456789abc:-", 30);
        let cursor = match rng.below(3) {
            0 => text(&mut rng, b64, 400),
            1 => mutate(&mut rng, &encode_cursor(kind, &id), b64),
            _ => encode_cursor(kind, &id),
        };
        if let Ok(id) = decode_cursor(kind, &cursor) {
            assert_eq!(
                decode_cursor(kind, &encode_cursor(kind, &id)),
                Ok(id.clone())
            );
            if kind == 2 {
                assert!(id.parse::<u64>().is_ok_and(|n| n <= 10_000), "{id}");
            }
        }
    }
    // The report's cursor: offset 10^12.
    let e = decode_cursor(2, "c2VhcmNoOjEwMDAwMDAwMDAwMDA").expect_err("too deep");
    assert!(e.contains("10000 results deep"), "{e}");
}

#[test]
fn duration_parser() {
    let mut rng = Rng::new(2);
    let seeds = [
        "500ms",
        "90s",
        "30m",
        "24h",
        "2d",
        "15",
        "18446744073709551615d",
    ];
    for _ in 0..CASES {
        let text = match rng.below(2) {
            0 => text(&mut rng, "0123456789 msdhé-+.", 24),
            _ => {
                let seed = rng.pick(&seeds);
                mutate(&mut rng, seed, "0123456789 msdh-+.ü")
            }
        };
        if let Ok(d) = parse_duration(&text) {
            assert!(!d.is_zero(), "{text:?}");
        }
    }
}

#[test]
fn link_header_parser() {
    let mut rng = Rng::new(3);
    let seeds = [
        r#"<https://x.okta.com/api/v1/users?after=00u1&limit=200>; rel="next""#,
        r#"<https://x/a>; rel="self", <https://x/b?c=d,e>; rel="next""#,
        r#"<https://x/a>; rel="prev next"; title="a, b;c""#,
    ];
    for _ in 0..CASES {
        let n = 1 + rng.below(3);
        let values: Vec<String> = (0..n)
            .map(|_| match rng.below(2) {
                0 => text(&mut rng, "<>;,=\" relnxtsf/:?&", 80),
                _ => {
                    let seed = rng.pick(&seeds);
                    mutate(&mut rng, seed, "<>;,=\" \\")
                }
            })
            .collect();
        for rel in ["next", "self", "prev"] {
            if let Some(target) = find_rel(values.iter().map(String::as_str), rel) {
                assert!(
                    values.iter().any(|v| v.contains(target.as_str())),
                    "{target:?}"
                );
            }
        }
    }
}

#[test]
fn graphql_edge_checks() {
    let mut rng = Rng::new(4);
    let seeds = [
        "{ people(first: 5) { totalCount nodes { id manager { id } } } }",
        "query Q($a: String) { search(query: $a) { edges { cursor } } }",
        "{ ...F } fragment F on Query { a: __typename ...G } fragment G on Query { ...F }",
        "{ a(x: \"\"\"{{{\"\"\") { b } } # {{{",
    ];
    let alphabet = "{}[]()\"#:.$@!, abcFGQ\\\n";
    for _ in 0..CASES {
        let text = match rng.below(3) {
            0 => text(&mut rng, alphabet, 200),
            1 => {
                let seed = rng.pick(&seeds);
                mutate(&mut rng, seed, alphabet)
            }
            _ => {
                // Deep or wide: brackets or fields repeated.
                let unit = rng.pick(&["{a", "[", "(x:", "a: b ", "...F ", "\"\"\""]);
                unit.repeat(rng.below(20_000))
            }
        };
        let _ = check_query(&text);
    }
}
