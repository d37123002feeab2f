//! Per-bucket request accounting in a rolling window (60 s by default, shorter in tests),
//! reported through Okta's `X-Rate-Limit-*` headers, with 429s once a bucket is spent and
//! concurrency 429s (Limit and Remaining both 0) above the in-flight limit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::Method;

use crate::sim::time::Millis;

/// Okta's rate-limit buckets for the endpoints the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    UsersList,
    UserGet,
    GroupsList,
    GroupGet,
    /// `GET /api/v1/logs`: Okta's smallest bucket (120 a minute), which a log tail must pace.
    Logs,
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
            Bucket::Logs => 120,
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
            ["", "api", "v1", "logs"] => Bucket::Logs,
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
    /// The bucket was already spent: the request gets 429 `E0000047` (and is not counted).
    pub exceeded: bool,
}

/// Rate limits as configured for a simulated org.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// One limit per window for every bucket; `None` keeps Okta's published numbers.
    pub per_window: Option<u32>,
    /// Window length: Okta's is a minute; tests use a second or two.
    pub window: Duration,
    /// Requests in flight at once before concurrency 429s; `None` means no limit.
    pub max_concurrent: Option<u32>,
    /// Answer 429 when a bucket is spent (Okta does); `false` only reports the headers.
    pub enforce: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_window: None,
            window: Duration::from_secs(60),
            max_concurrent: None,
            enforce: true,
        }
    }
}

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<[VecDeque<Millis>; 6]>,
    config: Mutex<RateLimits>,
    in_flight: AtomicU64,
    rate_429s: AtomicU64,
    concurrency_429s: AtomicU64,
}

impl RateLimiter {
    pub fn configure(&self, limits: RateLimits) {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = limits;
        for w in self
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
        {
            w.clear();
        }
    }

    fn config(&self) -> RateLimits {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Count a request at `now` against `bucket` and report the remaining quota.
    pub fn record(&self, bucket: Bucket, now: Millis) -> Quota {
        let cfg = self.config();
        let window_ms = Millis::try_from(cfg.window.as_millis())
            .unwrap_or(60_000)
            .max(1);
        let mut all = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = &mut all[bucket.index()];
        while window.front().is_some_and(|&t| t <= now - window_ms) {
            window.pop_front();
        }
        let limit = cfg.per_window.unwrap_or_else(|| bucket.limit());
        let used = u32::try_from(window.len()).unwrap_or(u32::MAX);
        let exceeded = cfg.enforce && used >= limit;
        if exceeded {
            self.rate_429s.fetch_add(1, Ordering::SeqCst);
        } else {
            window.push_back(now);
        }
        let oldest = window.front().copied().unwrap_or(now);
        let used = u32::try_from(window.len()).unwrap_or(u32::MAX);
        Quota {
            limit,
            remaining: limit.saturating_sub(used),
            reset: (oldest + window_ms + 999) / 1000,
            exceeded,
        }
    }

    /// Spend `n` requests of the bucket of `path` now, as another integration would.
    pub fn consume(&self, bucket: Bucket, n: u32, now: Millis) {
        let mut all = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        all[bucket.index()].extend(std::iter::repeat_n(now, n as usize));
    }

    /// Marks a request in flight; false (and a concurrency 429 counted) when over the limit.
    pub fn enter(&self) -> bool {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        match self.config().max_concurrent {
            Some(max) if n > u64::from(max) => {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.concurrency_429s.fetch_add(1, Ordering::SeqCst);
                false
            }
            _ => true,
        }
    }

    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// 429s answered so far: (rate, concurrency).
    pub fn rejections(&self) -> (u64, u64) {
        (
            self.rate_429s.load(Ordering::SeqCst),
            self.concurrency_429s.load(Ordering::SeqCst),
        )
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
        assert_eq!(Bucket::classify(&g, "/api/v1/logs"), Bucket::Logs);
        assert_eq!(Bucket::Logs.limit(), 120);
        assert_eq!(
            Bucket::classify(&Method::POST, "/api/v1/users"),
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

    #[test]
    fn spent_bucket_answers_429_until_the_window_rolls() {
        let rl = RateLimiter::default();
        rl.configure(RateLimits {
            per_window: Some(2),
            window: Duration::from_secs(2),
            ..Default::default()
        });
        assert!(!rl.record(Bucket::UsersList, 10_000).exceeded);
        assert!(!rl.record(Bucket::UsersList, 10_100).exceeded);
        let q = rl.record(Bucket::UsersList, 10_200);
        assert!(q.exceeded && q.remaining == 0 && q.reset == 12);
        assert!(!rl.record(Bucket::UsersList, 12_000).exceeded);
        assert_eq!(rl.rejections(), (1, 0));
    }
}
