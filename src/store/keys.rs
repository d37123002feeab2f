//! Key encodings for the sled trees: composite keys join parts with a 0x00 byte, which never
//! occurs in Okta ids, logins or names, so a prefix scan on `part ++ 0x00` finds exactly one owner.

pub const SEP: u8 = 0;

/// `a ++ 0x00 ++ b`: the key of a pair (group → member, manager → report, name → id).
pub fn pair(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(SEP);
    k.extend_from_slice(b.as_bytes());
    k
}

/// `a ++ 0x00`: the prefix that lists every pair owned by `a`.
pub fn prefix(a: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(SEP);
    k
}

/// The second part of a pair key, if the key is well-formed UTF-8.
pub fn second(key: &[u8]) -> Option<String> {
    let pos = key.iter().position(|b| *b == SEP)?;
    std::str::from_utf8(&key[pos + 1..]).ok().map(str::to_owned)
}

/// Case-folded form used by the case-insensitive indexes (login, email, group name).
pub fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The `idx_department` key of a department: lower-cased but not trimmed, so an index match is
/// exactly a case-insensitive equality (what a SCIM `eq` asks).
pub fn department(s: &str) -> String {
    s.to_lowercase()
}

/// The `department_counts` keys a person in (lower-cased) department `d` counts under: everyone
/// (`d ++ 0 ++ "all"`) and, unless deprovisioned, those shown to every role (`… "shown"`).
pub fn department_count_keys(d: &str, status: crate::model::UserStatus) -> Vec<Vec<u8>> {
    let mut out = vec![pair(d, "all")];
    if status != crate::model::UserStatus::Deprovisioned {
        out.push(pair(d, "shown"));
    }
    out
}

pub fn u64_be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn read_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[8 - n..].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_roundtrip_and_prefix() {
        let k = pair("00g1", "00u2");
        assert!(k.starts_with(&prefix("00g1")));
        assert!(!k.starts_with(&prefix("00g")));
        assert_eq!(second(&k).as_deref(), Some("00u2"));
    }

    #[test]
    fn u64_roundtrip() {
        assert_eq!(read_u64(&u64_be(123_456_789)), 123_456_789);
    }
}
