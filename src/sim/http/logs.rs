//! `GET /api/v1/logs` with Okta's two query modes. A polling query (no `until`, ascending)
//! pages by persistence sequence and always has a `next` link, whose cursor stays put on an
//! empty page; a bounded query (`until`, or `sortOrder=DESCENDING`) filters on `published`
//! and ends without `next`. `since` and `after` together, or `published` in `filter`, are 400s.
//!
//! The `after` cursor is opaque to clients; it is the sequence number of the last event
//! served (`"42"`), and for descending pages also the sequence floor `since` set
//! (`"42_7"`), because `next` links drop `since` and the cursor must carry that bound.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::params::{Origin, Query};
use super::respond;
use crate::sim::admin::Refusal;
use crate::sim::filter;
use crate::sim::json;
use crate::sim::shared::Shared;
use crate::sim::syslog;
use crate::sim::time::{self, DAY, Millis};

/// Where a page starts, decoded from `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    /// Ascending: events with a sequence above this.
    After(u64),
    /// Descending: events below `seq` and above `floor`.
    Below { seq: u64, floor: u64 },
}

impl Cursor {
    fn parse(text: &str, descending: bool) -> Option<Cursor> {
        match (text.split_once('_'), descending) {
            (None, false) => text.parse().ok().map(Cursor::After),
            (Some((seq, floor)), true) => Some(Cursor::Below {
                seq: seq.parse().ok()?,
                floor: floor.parse().ok()?,
            }),
            _ => None,
        }
    }

    fn render(self) -> String {
        match self {
            Cursor::After(seq) => seq.to_string(),
            Cursor::Below { seq, floor } => format!("{seq}_{floor}"),
        }
    }
}

fn bad(shared: &Shared, field: &str, cause: &str) -> Response {
    respond::refusal(
        shared,
        &Refusal::Invalid {
            field: field.to_string(),
            causes: vec![format!("{field}: {cause}")],
        },
    )
}

/// An ISO 8601 parameter, or the 400 Okta gives for a malformed one.
fn instant(shared: &Shared, query: &Query, name: &str) -> Result<Option<Millis>, Box<Response>> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => time::parse(text)
            .map(Some)
            .ok_or_else(|| Box::new(bad(shared, name, "must be an ISO 8601 date-time"))),
    }
}

pub async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let strict = shared.strict();
    if let Some(r) = super::reject_unknown(
        &shared,
        &strict,
        &query,
        &[
            "since",
            "until",
            "after",
            "filter",
            "q",
            "limit",
            "sortOrder",
        ],
    ) {
        return r;
    }
    let origin = Origin::new(&headers, &uri, &shared.base_url());
    let now = time::now();
    let keywords = match query.get("q").map(keywords) {
        None => Vec::new(),
        Some(Ok(k)) => k,
        Some(Err(cause)) => return bad(&shared, "q", cause),
    };
    let Ok(limit) = query.strict_limit(100, 1000) else {
        return bad(&shared, "limit", "must be an integer from 0 to 1000");
    };
    let descending = match query.get("sortOrder") {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => return bad(&shared, "sortOrder", "must be ASCENDING or DESCENDING"),
    };
    let (since, until) = match (
        instant(&shared, &query, "since"),
        instant(&shared, &query, "until"),
    ) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    if since.is_some_and(|s| s < now - 180 * DAY) {
        return respond::error(
            &shared,
            StatusCode::BAD_REQUEST,
            "E0000053",
            "The since parameter is over 180 days prior to the current day",
        );
    }
    let cursor = match query.get("after") {
        None => None,
        Some(_) if since.is_some() => {
            return bad(&shared, "after", "since and after cannot both be given");
        }
        Some(text) => match Cursor::parse(text, descending) {
            Some(c) => Some(c),
            None => return bad(&shared, "after", "not a cursor from a next link"),
        },
    };
    let compiled = match query.get("filter") {
        Some(text) => match filter::parse_for(text, &syslog::filter_spec) {
            Ok(c) => Some(c),
            Err(e) => return respond::filter_error(&shared, &e),
        },
        None => None,
    };
    // DESCENDING without `until` is a bounded query up to now (Okta's default `until`):
    // an endless newest-first stream has no meaning.
    let bounded = until.is_some() || descending;

    let (body, next) = {
        let org = shared.org();
        let log = &org.log;
        let ceiling = until.map_or(log.len(), |u| log.count_until(u));
        let since = since.unwrap_or(now - 7 * DAY);
        let since_floor = log.count_before(since);
        let keep = |e: &syslog::LogEvent| {
            log.visible(e, now)
                && compiled
                    .as_ref()
                    .is_none_or(|f| f.matches(&|attr| log.field(e, attr)))
                && matches_keywords(&e.json, &keywords)
        };
        let (items, next) = match cursor {
            Some(Cursor::Below { seq, floor }) => {
                let top = ceiling.min(seq.saturating_sub(1));
                let (items, more) = log.page(floor, top, true, limit, keep);
                let next = match items.last() {
                    Some(last) if more => Some(Cursor::Below {
                        seq: last.seq,
                        floor,
                    }),
                    _ => None,
                };
                (items, next)
            }
            None if descending => {
                let (items, more) = log.page(since_floor, ceiling, true, limit, keep);
                let next = match items.last() {
                    Some(last) if more => Some(Cursor::Below {
                        seq: last.seq,
                        floor: since_floor,
                    }),
                    _ => None,
                };
                (items, next)
            }
            Some(Cursor::After(_)) | None if bounded => {
                let floor = match cursor {
                    Some(Cursor::After(seq)) => seq,
                    _ => since_floor,
                };
                let (items, more) = log.page(floor, ceiling, false, limit, keep);
                let last = items.last().map_or(floor, |e| e.seq);
                let next = (more && !items.is_empty()).then_some(Cursor::After(last));
                (items, next)
            }
            Some(Cursor::After(_)) | None => {
                // Polling runs in persistence order (late events come after later-published
                // ones); the cursor is a position in it, not a sequence number.
                let floor = match cursor {
                    Some(Cursor::After(pos)) => pos,
                    _ => log.persisted_before(since, now),
                };
                let (items, _) = log.poll_page(floor, now, limit, keep);
                let last = items.last().map_or(floor, |(pos, _)| *pos);
                // Polling: always a next link; on an empty page it repeats the cursor.
                let items = items.into_iter().map(|(_, e)| e).collect();
                (items, Some(Cursor::After(last)))
            }
        };
        let body = json::array(items.iter().map(|e| e.json.to_string()));
        (body, next)
    };
    let mut resp = respond::json(body);
    respond::add_link(&mut resp, &origin.self_url(&query), "self");
    if let Some(c) = next {
        let url = respond::next_origin(&shared, &origin)
            .next_url(&query.without(&["since"]), &c.render());
        respond::add_link(&mut resp, &url, "next");
    }
    resp
}

/// `q`: up to 10 space-separated keywords of at most 40 characters each.
fn keywords(text: &str) -> Result<Vec<String>, &'static str> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if words.len() > 10 {
        return Err("at most 10 keywords");
    }
    if words.iter().any(|w| w.chars().count() > 40) {
        return Err("a keyword is at most 40 characters");
    }
    Ok(words)
}

/// Every keyword occurs in the event (case-insensitive), as Okta's `q` requires.
fn matches_keywords(json: &str, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let text = json.to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_match_the_sort_order() {
        for (c, desc) in [
            (Cursor::After(0), false),
            (Cursor::After(42), false),
            (Cursor::Below { seq: 9, floor: 3 }, true),
        ] {
            assert_eq!(Cursor::parse(&c.render(), desc), Some(c));
        }
        assert_eq!(Cursor::parse("9_3", false), None);
        assert_eq!(Cursor::parse("9", true), None);
        assert_eq!(Cursor::parse("x", false), None);
        assert_eq!(Cursor::parse("-1", false), None);
    }
}
