//! Parsers for setting values (URLs, listen addresses, durations, secret files), each failing
//! with a `ConfigError` that names the value and the fix.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::ConfigError;
use crate::secret::Secret;

/// Validates the Okta org URL: https (or http on loopback), a host, no path, not `-admin`.
pub fn parse_okta_url(s: &str) -> Result<Url, ConfigError> {
    let u = Url::parse(s.trim()).map_err(|_| ConfigError::BadUrl(s.to_owned()))?;
    let host = match u.host_str() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return Err(ConfigError::BadUrl(s.to_owned())),
    };
    match u.scheme() {
        "https" => {}
        "http" if crate::access::is_loopback_name(&host) => {}
        "http" => return Err(ConfigError::InsecureUrl(s.to_owned())),
        _ => return Err(ConfigError::BadUrl(s.to_owned())),
    }
    if host
        .split('.')
        .next()
        .is_some_and(|l| l.ends_with("-admin"))
    {
        return Err(ConfigError::AdminDomain(s.to_owned()));
    }
    if !(u.path() == "/" || u.path().is_empty()) || u.query().is_some() {
        return Err(ConfigError::UrlWithPath(s.to_owned()));
    }
    let mut base = u;
    base.set_path("/");
    Ok(base)
}

/// Parses and checks a listen address for a server without API keys: loopback only.
pub fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    let addr = parse_listen_any(s)?;
    if !addr.ip().is_loopback() {
        return Err(ConfigError::PublicListen(addr));
    }
    Ok(addr)
}

/// Parses a listen address, any address (for a server whose every request needs a key).
pub fn parse_listen_any(s: &str) -> Result<SocketAddr, ConfigError> {
    let s = s.trim();
    if let Some(port) = s.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}").parse()
    } else {
        s.parse()
    }
    .map_err(|_| ConfigError::BadListen(s.to_owned()))
}

/// "50/s" (burst twice the rate), "50/s burst 100", "3000/m", or "off" (`None`).
pub fn parse_rate_limit(s: &str) -> Result<Option<crate::api::RateLimit>, ConfigError> {
    let bad = || {
        ConfigError::Invalid(format!(
            "rate_limit_per_key \"{s}\" is not a rate: use requests per second or minute with an optional burst, like 50/s, \"50/s burst 100\" or 3000/m, or off"
        ))
    };
    let t = s.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (rate, burst) = match t.split_once("burst") {
        Some((r, b)) => (r.trim(), Some(b.trim())),
        None => (t, None),
    };
    let (n, unit) = rate.split_once('/').ok_or_else(bad)?;
    let n: f64 = n.trim().parse().map_err(|_| bad())?;
    let per_second = match unit.trim() {
        "s" => n,
        "m" => n / 60.0,
        _ => return Err(bad()),
    };
    if !(per_second.is_finite() && per_second > 0.0) {
        return Err(bad());
    }
    let burst = match burst {
        Some(b) => b
            .parse::<u32>()
            .ok()
            .filter(|b| *b >= 1)
            .ok_or_else(bad)?
            .into(),
        None => (2.0 * per_second).ceil().max(1.0),
    };
    Ok(Some(crate::api::RateLimit { per_second, burst }))
}

/// The mode bits of `path` when group or others may read (or write) it, else `None`.
pub fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

pub(super) fn read_token_file(path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::TokenFile {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(ConfigError::EmptyToken(path.display().to_string()));
    }
    Ok(Secret::new(t))
}

pub(super) fn read_key_file(what: &'static str, path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyFile {
        what,
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    if text.trim().is_empty() {
        return Err(ConfigError::KeyFile {
            what,
            path: path.display().to_string(),
            detail: "the file is empty".into(),
        });
    }
    Ok(Secret::new(text))
}

/// "500ms", "90s", "30m", "24h", "2d" or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let t = s.trim();
    // Milliseconds first: "ms" also ends in "s".
    let (num, millis) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else {
        match t.char_indices().last() {
            Some((i, 's')) => (&t[..i], 1000),
            Some((i, 'm')) => (&t[..i], 60_000),
            Some((i, 'h')) => (&t[..i], 3_600_000),
            Some((i, 'd')) => (&t[..i], 86_400_000),
            _ => (t, 1000),
        }
    };
    match num.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_millis(n.saturating_mul(millis))),
        _ => Err(ConfigError::Invalid(format!(
            "\"{s}\" is not a duration: use a number with ms, s, m, h or d, like 24h or 500ms"
        ))),
    }
}

/// `attribute_map`: typed field → profile attribute or template. In the file a TOML table
/// (which may also hold `extended_attributes = [...]`); as a flag or variable
/// `field=value,field2=value2`, split only at commas followed by `name=`, so a template may hold
/// commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    /// Typed field → attribute name or template, as given.
    pub fields: std::collections::BTreeMap<String, String>,
    /// `extended_attributes` given inside the `[attribute_map]` table.
    pub extended_attributes: Vec<String>,
}

/// The table again, as the file holds it (for `Options::over`'s merge).
impl serde::Serialize for FieldMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let extra = usize::from(!self.extended_attributes.is_empty());
        let mut m = s.serialize_map(Some(self.fields.len() + extra))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        if extra == 1 {
            m.serialize_entry("extended_attributes", &self.extended_attributes)?;
        }
        m.end()
    }
}

impl std::str::FromStr for FieldMap {
    type Err = String;

    fn from_str(s: &str) -> Result<FieldMap, String> {
        let starts_pair = |rest: &str| {
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            !name.is_empty()
                && rest.trim_start()[name.len()..]
                    .trim_start()
                    .starts_with('=')
        };
        let mut pieces = Vec::new();
        let mut start = 0;
        for (i, _) in s.match_indices(',') {
            if starts_pair(&s[i + 1..]) {
                pieces.push(&s[start..i]);
                start = i + 1;
            }
        }
        pieces.push(&s[start..]);
        let mut fields = std::collections::BTreeMap::new();
        for piece in pieces.into_iter().filter(|p| !p.trim().is_empty()) {
            let Some((field, value)) = piece.split_once('=') else {
                return Err(format!(
                    "attribute_map \"{}\" is not field=attribute: give pairs like city=officeLocation,employeeNumber=badgeId",
                    piece.trim()
                ));
            };
            fields.insert(field.trim().to_owned(), value.trim().to_owned());
        }
        Ok(FieldMap {
            fields,
            extended_attributes: Vec::new(),
        })
    }
}

impl<'de> serde::Deserialize<'de> for FieldMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FieldMap, D::Error> {
        use serde::de::Error;
        let table = std::collections::BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let mut out = FieldMap::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("extended_attributes", serde_json::Value::Array(items)) => {
                    for item in items {
                        match item {
                            serde_json::Value::String(s) => out.extended_attributes.push(s),
                            other => {
                                return Err(D::Error::custom(format!(
                                    "extended_attributes holds {other}, not an attribute name: give names like [\"costCenterCode\", \"pronouns\"]"
                                )));
                            }
                        }
                    }
                }
                (_, serde_json::Value::String(s)) => {
                    out.fields.insert(key, s);
                }
                (_, other) => {
                    return Err(D::Error::custom(format!(
                        "attribute_map.{key} = {other} is not text: give the Okta profile attribute to read, like city = \"officeLocation\", or a template like \"{{firstName}} {{lastName}}\""
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// A value as an error shows it: whole up to 200 characters, cut with an ellipsis beyond (a
/// 100,000-character URL in a flag or a config file must not come back whole in its error).
pub fn shown(value: &str) -> String {
    const LONGEST: usize = 200;
    match value.char_indices().nth(LONGEST) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}
