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
