//! Opaque Relay cursors: URL-safe base64 (no padding) of "kind:id", so clients cannot mistake them
//! for ids and a cursor from one kind of list is refused by another.

use async_graphql::Error;

use super::errors::bad_input;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// What a cursor points into: people lists or group lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Person,
    Group,
    /// A position in a search's ranked results (the id is the offset).
    Search,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Group => "group",
            Kind::Search => "search",
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

/// Decodes an `after` cursor into the id it points past; anything else is a clear error.
pub(crate) fn decode(kind: Kind, cursor: &str) -> Result<String, Error> {
    let invalid = || {
        bad_input(format!(
            "invalid cursor {cursor:?}: pass an endCursor or edge cursor from a {} list",
            kind.tag()
        ))
    };
    let text = decode_b64(cursor).ok_or_else(invalid)?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    match text.split_once(':') {
        Some((tag, id)) if tag == kind.tag() && !id.is_empty() => Ok(id.to_owned()),
        _ => Err(invalid()),
    }
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
    }
}
