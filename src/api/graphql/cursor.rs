//! Opaque Relay cursors: URL-safe base64 (no padding) of "kind:id", so clients cannot mistake them
//! for ids and a cursor from one kind of list is refused by another. Decoding is bounded: a
//! cursor longer than `MAX_CURSOR_CHARS` is refused unread, and a search cursor must hold an
//! offset of at most `MAX_SEARCH_OFFSET`.

use async_graphql::Error;

use super::errors::bad_input;

/// Longest cursor accepted (ours are under 60 characters: Okta ids have 20).
pub(crate) const MAX_CURSOR_CHARS: usize = 256;
/// Deepest position a search cursor may point to. Ranking has to collect every result before the
/// offset, so a deep offset costs memory and time in proportion; and nobody reads the 10,001st
/// best match of a search: a narrower query or a filter finds it.
pub(crate) const MAX_SEARCH_OFFSET: u64 = 10_000;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// What a cursor points into: people lists or group lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Person,
    Group,
    /// A position in a search's ranked results (the id is the offset).
    Search,
    /// A position in the change feed (the id is a change-log sequence number).
    Change,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Group => "group",
            Kind::Search => "search",
            Kind::Change => "change",
        }
    }
}

pub(crate) fn encode(kind: Kind, id: &str) -> String {
    let text = format!("{}:{id}", kind.tag());
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Decodes an `after` cursor into the id it points past (for `Kind::Search`, the offset in
/// decimal, at most `MAX_SEARCH_OFFSET`); anything else is a clear error.
pub(crate) fn decode(kind: Kind, cursor: &str) -> Result<String, Error> {
    decode_text(kind, cursor).map_err(bad_input)
}

/// `decode` with the error as plain text.
pub(crate) fn decode_text(kind: Kind, cursor: &str) -> Result<String, String> {
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(format!(
            "invalid cursor ({} characters; cursors have at most {MAX_CURSOR_CHARS}): pass an endCursor or edge cursor from a {} list",
            cursor.len(),
            kind.tag()
        ));
    }
    let invalid = || {
        format!(
            "invalid cursor {cursor:?}: pass an endCursor or edge cursor from a {} list",
            kind.tag()
        )
    };
    let text = decode_b64(cursor).ok_or_else(invalid)?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    let id = match text.split_once(':') {
        Some((tag, id)) if tag == kind.tag() && !id.is_empty() => id,
        _ => return Err(invalid()),
    };
    if kind == Kind::Search {
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        match id.parse::<u64>() {
            Ok(n) if n <= MAX_SEARCH_OFFSET => {}
            _ => {
                return Err(format!(
                    "this search cursor points past result {MAX_SEARCH_OFFSET}; search pages reach at most {MAX_SEARCH_OFFSET} results deep, because deep paging into ranked results makes no sense: refine the query or add a filter instead"
                ));
            }
        }
    }
    if kind == Kind::Change && (!id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 20) {
        return Err(invalid());
    }
    Ok(id.to_owned())
}

/// Decodes an optional `after` argument.
pub(crate) fn after(kind: Kind, cursor: Option<&str>) -> Result<Option<String>, Error> {
    cursor.map(|c| decode(kind, c)).transpose()
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        for id in ["00u1", "00uabcdefghij", "x", "é-id"] {
            let c = encode(Kind::Person, id);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            assert_eq!(decode(Kind::Person, &c).expect("decodes"), id);
            assert!(decode(Kind::Group, &c).is_err());
        }
        assert!(decode(Kind::Person, "!!!").is_err());
        assert!(decode(Kind::Person, "a").is_err());
        assert!(decode(Kind::Person, "").is_err());
        let long = encode(Kind::Person, &"x".repeat(300));
        let e = decode(Kind::Person, &long).expect_err("overlong");
        assert!(e.message.contains("at most 256"), "{}", e.message);
    }

    #[test]
    fn search_offsets_are_bounded() {
        let ok = encode(Kind::Search, "10000");
        assert_eq!(decode(Kind::Search, &ok).expect("max"), "10000");
        // The cursor of the report: offset 10^12.
        assert_eq!(
            encode(Kind::Search, "1000000000000"),
            "c2VhcmNoOjEwMDAwMDAwMDAwMDA"
        );
        for deep in ["10001", "1000000000000", "99999999999999999999999"] {
            let e = decode(Kind::Search, &encode(Kind::Search, deep)).expect_err(deep);
            assert!(e.message.contains("10000 results deep"), "{}", e.message);
        }
        for bad in ["-1", "1e3", "x", " 5", "+5"] {
            let e = decode(Kind::Search, &encode(Kind::Search, bad)).expect_err(bad);
            assert!(e.message.contains("invalid cursor"), "{}", e.message);
        }
    }
}
