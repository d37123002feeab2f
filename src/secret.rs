//! A string that never prints: Okta tokens and keys are wrapped in `Secret` from the moment they
//! are read, so no `Debug`, `Display` or log line can reveal them by accident.

use std::fmt;

pub mod keyring;

/// A secret string (token, key, hook secret): `Debug` and `Display` show `[redacted]`; only
/// `expose` gives it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Read from a flag, the environment or a config file.
impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Writes the secret itself. It exists only so that configuration layers can be merged in
/// memory (`configuration::Options::over`); never serialize a `Secret` into a log or a response.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Secret {
    /// Wraps `s` as given (callers trim what they read from files and variables).
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints() {
        let s = super::Secret::new("00abcSECRET");
        assert!(!format!("{s:?} {s}").contains("SECRET"));
        assert_eq!(s.expose(), "00abcSECRET");
    }
}
