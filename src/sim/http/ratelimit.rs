//! Per-bucket request accounting in a rolling 60-second window, reported through
//! Okta's `X-Rate-Limit-*` headers (the simulator never answers 429 by itself).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use axum::http::Method;

use crate::sim::time::Millis;

/// Okta's rate-limit buckets for the endpoints the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    UsersList,
    UserGet,
    GroupsList,
    GroupGet,
    Other,
}

impl Bucket {
    /// Last published per-minute limits for Workforce orgs.
    pub fn limit(self) -> u32 {
        match self {
            Bucket::UsersList => 600,
            Bucket::UserGet => 2000,
            Bucket::GroupsList => 500,
            Bucket::GroupGet => 1000,
            Bucket::Other => 1200,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Which bucket a request counts against.
    pub fn classify(method: &Method, path: &str) -> Bucket {
        if method != Method::GET {
            return Bucket::Other;
        }
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match segs.as_slice() {
            ["", "api", "v1", "users"] => Bucket::UsersList,
            ["", "api", "v1", "users", _] => Bucket::UserGet,
            ["", "api", "v1", "groups"] => Bucket::GroupsList,
            ["", "api", "v1", "groups", _] => Bucket::GroupGet,
            _ => Bucket::Other,
        }
    }
}

/// What the headers report after counting one request.
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// UTC epoch seconds when the oldest counted request leaves the window.
    pub reset: i64,
}

const WINDOW: Millis = 60_000;

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<[VecDeque<Millis>; 5]>,
}

impl RateLimiter {
    /// Count a request at `now` against `bucket` and report the remaining quota.
    pub fn record(&self, bucket: Bucket, now: Millis) -> Quota {
        let mut all = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = &mut all[bucket.index()];
        while window.front().is_some_and(|&t| t <= now - WINDOW) {
            window.pop_front();
        }
        window.push_back(now);
        let oldest = window.front().copied().unwrap_or(now);
        let limit = bucket.limit();
        let used = u32::try_from(window.len()).unwrap_or(u32::MAX);
        Quota {
            limit,
            remaining: limit.saturating_sub(used),
            reset: (oldest + WINDOW + 999) / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let g = Method::GET;
        assert_eq!(Bucket::classify(&g, "/api/v1/users"), Bucket::UsersList);
        assert_eq!(Bucket::classify(&g, "/api/v1/users/00u1"), Bucket::UserGet);
        assert_eq!(
            Bucket::classify(&g, "/api/v1/users/00u1/groups"),
            Bucket::Other
        );
        assert_eq!(Bucket::classify(&g, "/api/v1/groups"), Bucket::GroupsList);
        assert_eq!(
            Bucket::classify(&g, "/api/v1/groups/00g1"),
            Bucket::GroupGet
        );
        assert_eq!(
            Bucket::classify(&g, "/api/v1/groups/00g1/users"),
            Bucket::Other
        );
    }

    #[test]
    fn window_rolls() {
        let rl = RateLimiter::default();
        assert_eq!(rl.record(Bucket::GroupsList, 1_000_000).remaining, 499);
        assert_eq!(rl.record(Bucket::GroupsList, 1_030_000).remaining, 498);
        let q = rl.record(Bucket::GroupsList, 1_060_000);
        assert_eq!(q.remaining, 498);
        assert_eq!(q.reset, 1_090);
        assert_eq!(rl.record(Bucket::UserGet, 1_060_000).remaining, 1999);
    }
}
