//! Rate-limit pacing per Okta bucket, from `X-Rate-Limit-*` headers: the mirror spends at most
//! `share` of each bucket per window, so the org's other integrations keep the rest; on 429 it
//! waits for the reset (+1 s) instead of hammering.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;

/// The furthest ahead a window reset is believed: Okta's windows are a minute long, so a reset
/// hours away is a bad header or a skewed clock, and trusting it would park a bucket for good
/// (and a reset beyond `Instant`'s range would panic).
pub const MAX_RESET: Duration = Duration::from_secs(300);

/// Which rate-limit bucket a path counts against (Okta's documented buckets; unknown paths
/// share "other"). The client learns each bucket's numbers from the headers.
pub fn bucket_of(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segs.as_slice() {
        ["", "api", "v1", "users"] => "users-list",
        ["", "api", "v1", "users", _] => "user-get",
        ["", "api", "v1", "groups"] => "groups-list",
        ["", "api", "v1", "groups", _] => "group-get",
        ["", "api", "v1", "logs", ..] => "logs",
        _ => "other",
    }
}

/// What the rate-limit headers of one response said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds from now until the window resets, by the server's clock.
    pub reset_in: f64,
}

impl Reading {
    /// Reads the headers (the minimum when one appears more than once, as the Python SDK does).
    /// The server's `Date` corrects for clock skew only when it differs from ours by more than
    /// its one-second resolution.
    pub fn from_headers(h: &HeaderMap) -> Option<Reading> {
        let num = |name: &str| {
            h.get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok()?.trim().parse::<i64>().ok())
                .min()
        };
        let limit = num("x-rate-limit-limit")?;
        let remaining = num("x-rate-limit-remaining")?;
        let reset = num("x-rate-limit-reset")?;
        let local = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        let server = h
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.timestamp() as f64)
            .filter(|s| (s - local).abs() > 2.0)
            .unwrap_or(local);
        Some(Reading {
            limit: limit.max(0) as u64,
            remaining: remaining.max(0) as u64,
            reset_in: (reset as f64 - server).clamp(0.0, MAX_RESET.as_secs_f64()),
        })
    }

    /// Okta's concurrency 429 reports Limit and Remaining both 0.
    pub fn is_concurrency(&self) -> bool {
        self.limit == 0 && self.remaining == 0
    }
}

#[derive(Default)]
struct Bucket {
    /// Requests sent so far; each gets the next sequence number.
    sent: u64,
    /// The sequence number of the request whose headers `remaining` came from.
    seen: u64,
    /// Estimated requests left this window; `None` until a response tells (or after a reset).
    remaining: Option<u64>,
    limit: u64,
    reset_at: Option<Instant>,
    /// After a 429: nobody sends before this.
    blocked_until: Option<Instant>,
    /// A request is out to learn the bucket's state; others wait for its headers.
    probing: bool,
}

/// Per-bucket pacing shared by every request of one client.
pub struct Pacer {
    share: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
    changed: Notify,
    rate_429s: std::sync::atomic::AtomicU64,
}

/// A permit to send one request; give it back to [`Pacer::observe`] with the response headers.
/// A ticket dropped without that (its request was cancelled: a shutdown, a timeout around the
/// call) gives up the bucket's probe, if it held it, so the requests waiting on it go ahead.
pub struct Ticket<'p> {
    pacer: &'p Pacer,
    bucket: &'static str,
    seq: u64,
    /// This request is the window's probe: others wait for its headers.
    probe: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.probe {
            return;
        }
        if let Some(b) = self.pacer.lock().get_mut(self.bucket) {
            b.probing = false;
        }
        self.pacer.changed.notify_waiters();
    }
}

impl Pacer {
    /// `share` is the fraction (0, 1] of each bucket the mirror may use.
    pub fn new(share: f64) -> Pacer {
        Pacer {
            share: share.clamp(0.01, 1.0),
            buckets: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            rate_429s: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rate-limit 429s seen so far.
    pub fn rate_limited(&self) -> u64 {
        self.rate_429s.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last limit seen for a bucket and the share the mirror takes of it.
    pub fn allowance(&self, bucket: &'static str) -> Option<(u64, u64)> {
        let all = self.lock();
        let b = all.get(bucket)?;
        (b.limit > 0).then(|| (b.limit, self.allowed(b.limit)))
    }

    fn allowed(&self, limit: u64) -> u64 {
        ((limit as f64 * self.share).floor() as u64).max(1)
    }

    /// Waits until `bucket` may take one more request without exceeding the share.
    pub async fn acquire(&self, bucket: &'static str) -> Ticket<'_> {
        loop {
            let notified = self.changed.notified();
            let mut probe = false;
            let wait: Duration = {
                let mut all = self.lock();
                let b = all.entry(bucket).or_default();
                let now = Instant::now();
                let pending = match (b.blocked_until, b.reset_at) {
                    (Some(t), _) if now < t => Some(t - now),
                    (_, Some(r)) if now >= r => {
                        // A new window: what we knew is stale until a response tells again.
                        b.blocked_until = None;
                        b.reset_at = None;
                        b.remaining = None;
                        None
                    }
                    _ => None,
                }
                .or_else(|| {
                    let reserve = b.limit.saturating_sub(self.allowed(b.limit));
                    match b.remaining {
                        None if !b.probing => {
                            b.probing = true;
                            probe = true;
                            None
                        }
                        None => Some(Duration::from_millis(50)),
                        Some(r) if r > reserve => {
                            b.remaining = Some(r - 1);
                            None
                        }
                        Some(_) => Some(
                            b.reset_at
                                .map(|t| t.saturating_duration_since(now))
                                .unwrap_or(Duration::from_millis(50)),
                        ),
                    }
                });
                match pending {
                    None => {
                        b.sent += 1;
                        return Ticket {
                            pacer: self,
                            bucket,
                            seq: b.sent,
                            probe,
                        };
                    }
                    Some(w) => w,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
            }
        }
    }

    /// Records what a response said. Returns how long to wait before retrying when it was a
    /// 429: until the reset plus a second for a rate 429, briefly for a concurrency 429.
    pub fn observe(
        &self,
        mut ticket: Ticket<'_>,
        reading: Option<Reading>,
        status: u16,
    ) -> Option<Duration> {
        // Observed: the probe is settled here, not by the ticket's drop.
        ticket.probe = false;
        let now = Instant::now();
        let mut all = self.lock();
        let b = all.entry(ticket.bucket).or_default();
        b.probing = false;
        let mut retry_after = None;
        if let Some(r) = reading {
            if status == 429 && r.is_concurrency() {
                retry_after = Some(Duration::from_millis(500));
            } else {
                if ticket.seq >= b.seen {
                    // Requests sent after this one may not be counted in its header yet:
                    // subtract them, so the estimate errs on the safe side.
                    b.seen = ticket.seq;
                    b.limit = r.limit;
                    b.remaining = Some(r.remaining.saturating_sub(b.sent - ticket.seq));
                    b.reset_at = Some(now + Duration::from_secs_f64(r.reset_in));
                }
                if status == 429 {
                    self.rate_429s
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let until = now + Duration::from_secs_f64(r.reset_in) + Duration::from_secs(1);
                    b.blocked_until = Some(b.blocked_until.map_or(until, |t| t.max(until)));
                    b.remaining = Some(0);
                    b.reset_at = Some(until);
                    retry_after = Some(Duration::ZERO);
                }
            }
        } else if status == 429 {
            retry_after = Some(Duration::from_secs(1));
        }
        drop(all);
        self.changed.notify_waiters();
        retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(limit: u64, remaining: u64, reset_in: f64) -> Option<Reading> {
        Some(Reading {
            limit,
            remaining,
            reset_in,
        })
    }

    #[test]
    fn buckets_follow_okta() {
        assert_eq!(bucket_of("/api/v1/users"), "users-list");
        assert_eq!(bucket_of("/api/v1/groups/00g1"), "group-get");
        assert_eq!(bucket_of("/api/v1/groups/00g1/users"), "other");
        assert_eq!(bucket_of("/api/v1/logs"), "logs");
    }

    #[tokio::test]
    async fn keeps_the_reserve_for_other_integrations() {
        let p = Pacer::new(0.5);
        let t = p.acquire("users-list").await;
        assert_eq!(p.observe(t, reading(10, 9, 30.0), 200), None);
        // 9 left, 5 reserved for others: 4 more may go now, the 5th must wait for the reset.
        for _ in 0..4 {
            let _ = p.acquire("users-list").await;
        }
        let waited =
            tokio::time::timeout(Duration::from_millis(100), p.acquire("users-list")).await;
        assert!(
            waited.is_err(),
            "the fifth request must wait for the window to reset"
        );
        assert_eq!(p.allowance("users-list"), Some((10, 5)));
    }

    #[tokio::test]
    async fn rate_429_blocks_until_reset_and_concurrency_429_does_not() {
        let p = Pacer::new(1.0);
        let t = p.acquire("logs").await;
        assert_eq!(
            p.observe(t, reading(0, 0, 1.0), 429),
            Some(Duration::from_millis(500))
        );
        let t = p.acquire("logs").await;
        assert_eq!(
            p.observe(t, reading(60, 0, 30.0), 429),
            Some(Duration::ZERO)
        );
        assert_eq!(p.rate_limited(), 1);
        let waited = tokio::time::timeout(Duration::from_millis(100), p.acquire("logs")).await;
        assert!(
            waited.is_err(),
            "after a rate 429 nobody sends before the reset"
        );
    }

    #[tokio::test]
    async fn a_cancelled_probe_lets_the_next_request_go() {
        let p = Pacer::new(0.5);
        // The window's first request is its probe; cancel it while it is "in flight".
        let cancelled = tokio::time::timeout(Duration::from_millis(20), async {
            let _probe = p.acquire("users-list").await;
            std::future::pending::<()>().await
        })
        .await;
        assert!(cancelled.is_err());
        let next = tokio::time::timeout(Duration::from_secs(5), p.acquire("users-list")).await;
        assert!(
            next.is_ok(),
            "a cancelled probe must not block the bucket for good"
        );
    }

    #[test]
    fn a_far_or_absurd_reset_is_clamped() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-limit", "600".parse().expect("header"));
        h.insert("x-rate-limit-remaining", "0".parse().expect("header"));
        h.insert(
            "x-rate-limit-reset",
            i64::MAX.to_string().parse().expect("header"),
        );
        let r = Reading::from_headers(&h).expect("reading");
        assert_eq!(r.reset_in, MAX_RESET.as_secs_f64());
        // And a 429 with it blocks the bucket for at most that, without panicking.
        let p = Pacer::new(1.0);
        let t = futures::executor::block_on(p.acquire("users-list"));
        assert_eq!(p.observe(t, Some(r), 429), Some(Duration::ZERO));
    }
}
