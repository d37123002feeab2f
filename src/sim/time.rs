//! Timestamps as epoch milliseconds, formatted and parsed the way Okta does
//! (`YYYY-MM-DDTHH:MM:SS.mmmZ`), so filters compare instants rather than strings.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// `2017-01-01T00:00:00Z`: earliest generated account creation.
pub const GEN_START: Millis = 1_483_228_800_000;
/// `2026-07-01T00:00:00Z`: every generated timestamp lies before this.
pub const GEN_END: Millis = 1_782_864_000_000;

pub const MINUTE: Millis = 60_000;
pub const DAY: Millis = 86_400_000;

/// Okta wire format with millisecond precision and a `Z` suffix.
pub fn format(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Parse an ISO 8601 / RFC 3339 instant (what filter literals carry).
pub fn parse(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// Wall-clock now, for mutations made after generation.
pub fn now() -> Millis {
    Utc::now().timestamp_millis()
}

/// HTTP `Date` header value (IMF-fixdate).
pub fn http_date(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        None => "Thu, 01 Jan 1970 00:00:00 GMT".to_string(),
    }
}

/// Truncate to whole seconds (generated data uses `.000Z`, like most Okta records).
pub fn whole_seconds(ms: Millis) -> Millis {
    ms - ms.rem_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(format(GEN_START), "2017-01-01T00:00:00.000Z");
        assert_eq!(format(GEN_END), "2026-07-01T00:00:00.000Z");
        assert_eq!(parse("2017-01-01T00:00:00.000Z"), Some(GEN_START));
        assert_eq!(parse("2017-01-01T01:00:00.000+01:00"), Some(GEN_START));
        assert_eq!(parse("2017-13-01"), None);
        assert_eq!(whole_seconds(1_999), 1_000);
        assert!(http_date(GEN_START).starts_with("Sun, 01 Jan 2017"));
    }
}
