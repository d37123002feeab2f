//! Rate-limit pacing from Okta's `X-Rate-Limit-*` headers: the mirror spends at most `share`
//! of each bucket per window, so the org's other integrations keep the rest; on a rate 429 it
//! waits for the reset (+1 s), and it tells the client which 429s were concurrency 429s.
//!
//! **Which requests share a bucket is read from the responses, not guessed.** Okta's headers
//! name no bucket, and which bucket `/api/v1/groups/{id}/users` and `/api/v1/users/{id}/groups`
//! count against is undocumented (okta-api.md 5.2). So requests are sorted only into endpoint
//! *families* (the path shapes Okta's bucket table distinguishes, plus one family per
//! membership list), and:
//!
//! - each family's numbers (limit, remaining, reset) come only from its own responses, so a
//!   reading never lands on an estimate of another bucket (a guessed shared bucket that mixed
//!   a 500-a-minute list with a 1,200-a-minute one took its numbers from whichever answered
//!   last, and overspent the smaller);
//! - families whose latest responses show the same `X-Rate-Limit-Limit` and the same window
//!   (`X-Rate-Limit-Reset` within a second) are one Okta bucket: each request of one counts
//!   against the others' estimates too, and a family sends only while the lowest estimate of
//!   the bucket is above the reserve. Two different buckets that happen to agree on both
//!   numbers are paced as one for that window, which errs on the slow side; the link ends
//!   when their windows part;
//! - families never linked still cannot overspend for long: every response carries the
//!   bucket's true `Remaining`, which counts every family's requests, so what one family
//!   cannot see is at most the other's requests in flight, which the reserve absorbs.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;

/// The furthest ahead a window reset is believed: Okta's windows are a minute long, so a reset
/// hours away is a bad header or a skewed clock, and trusting it would park a bucket for good
/// (and a reset beyond `Instant`'s range would panic).
pub const MAX_RESET: Duration = Duration::from_secs(300);

/// The endpoint family a path belongs to: the shapes Okta's bucket table tells apart, and one
/// family for each membership list (their buckets are undocumented). Which families share a
/// bucket is learnt from the responses (see the module notes).
pub fn family_of(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segs.as_slice() {
        ["", "api", "v1", "users"] => "users-list",
        ["", "api", "v1", "users", _] => "user-get",
        ["", "api", "v1", "users", _, "groups"] => "user-groups",
        ["", "api", "v1", "groups"] => "groups-list",
        ["", "api", "v1", "groups", _] => "group-get",
        ["", "api", "v1", "groups", _, "users"] => "group-members",
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
    /// `X-Rate-Limit-Reset` as sent (UTC epoch seconds): with the limit, what tells one
    /// bucket's window from another's.
    pub reset: i64,
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
            reset,
        })
    }

    /// Okta's concurrency 429 reports Limit and Remaining both 0.
    pub fn is_concurrency(&self) -> bool {
        self.limit == 0 && self.remaining == 0
    }
}

/// What a 429 calls for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Throttle {
    /// A rate 429: the bucket is spent; retry after this wait (the bucket is blocked until its
    /// reset, so the retry's own ticket waits for it).
    Rate(Duration),
    /// A concurrency 429 (Limit = Remaining = 0): too many requests in flight at the org, ours
    /// and other integrations'. The client backs off with jitter; no bucket is blocked.
    Concurrency,
}

/// One endpoint family's view of its bucket, from its own responses.
#[derive(Default)]
struct Bucket {
    /// Requests sent so far (this family's, and linked families' while linked); each of this
    /// family's gets the next sequence number.
    sent: u64,
    /// The sequence number of the request whose headers `remaining` came from.
    seen: u64,
    /// Estimated requests left this window; `None` until a response tells (or after a reset).
    remaining: Option<u64>,
    limit: u64,
    reset_at: Option<Instant>,
    /// The window's `X-Rate-Limit-Reset` as Okta sent it, while the window is current.
    reset_epoch: Option<i64>,
    /// After a 429: nobody sends before this.
    blocked_until: Option<Instant>,
    /// A request is out to learn the bucket's state; others wait for its headers.
    probing: bool,
}

impl Bucket {
    /// At a window's end what was known is stale until a response tells again.
    fn roll(&mut self, now: Instant) {
        if self.blocked_until.is_some_and(|t| now < t) {
            return;
        }
        if self.reset_at.is_some_and(|r| now >= r) {
            self.blocked_until = None;
            self.reset_at = None;
            self.reset_epoch = None;
            self.remaining = None;
        }
    }

    /// The same Okta bucket as `other`, by what both last heard: the same limit and window.
    fn same_bucket(&self, other: &Bucket) -> bool {
        self.limit > 0
            && self.limit == other.limit
            && matches!((self.reset_epoch, other.reset_epoch), (Some(a), Some(b)) if a.abs_diff(b) <= 1)
    }
}

/// Per-family pacing shared by every request of one client.
pub struct Pacer {
    share: f64,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
    changed: Notify,
    rate_429s: std::sync::atomic::AtomicU64,
    concurrency_429s: std::sync::atomic::AtomicU64,
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
            concurrency_429s: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Bucket>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rate-limit 429s seen so far.
    pub fn rate_limited(&self) -> u64 {
        self.rate_429s.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Concurrency 429s seen so far.
    pub fn concurrency_limited(&self) -> u64 {
        self.concurrency_429s
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last limit seen for a family and the share the mirror takes of it.
    pub fn allowance(&self, family: &'static str) -> Option<(u64, u64)> {
        let all = self.lock();
        let b = all.get(family)?;
        (b.limit > 0).then(|| (b.limit, self.allowed(b.limit)))
    }

    fn allowed(&self, limit: u64) -> u64 {
        ((limit as f64 * self.share).floor() as u64).max(1)
    }

    /// Whether `family` may send now (`Ok(probe)`, counted against its bucket and every family
    /// linked to it) or how long to wait.
    fn admit(
        &self,
        all: &mut HashMap<&'static str, Bucket>,
        family: &'static str,
        now: Instant,
    ) -> Result<bool, Duration> {
        for b in all.values_mut() {
            b.roll(now);
        }
        let Some(own) = all.get(family) else {
            return Err(Duration::from_millis(1));
        };
        let linked: Vec<&'static str> = all
            .iter()
            .filter(|(f, b)| **f != family && b.same_bucket(own))
            .map(|(f, _)| *f)
            .collect();
        let mut probe = false;
        // The bucket's most careful view: the lowest estimate and the latest block among the
        // family and the families it shares the bucket with.
        let mut lowest: Option<(u64, Option<Instant>)> = None;
        for f in std::iter::once(family).chain(linked.iter().copied()) {
            let Some(b) = all.get(f) else { continue };
            if let Some(t) = b.blocked_until.filter(|t| now < *t) {
                return Err(t - now);
            }
            if let Some(r) = b.remaining {
                if lowest.is_none_or(|(l, _)| r < l) {
                    lowest = Some((r, b.reset_at));
                }
            }
        }
        let own = all.entry(family).or_default();
        let reserve = own.limit.saturating_sub(self.allowed(own.limit));
        match (own.remaining, lowest) {
            (None, _) if !own.probing => {
                own.probing = true;
                probe = true;
            }
            (None, _) => return Err(Duration::from_millis(50)),
            (Some(_), Some((r, _))) if r > reserve => {}
            (Some(_), Some((_, reset_at))) => {
                return Err(reset_at
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or(Duration::from_millis(50)));
            }
            (Some(_), None) => {}
        }
        for f in std::iter::once(family).chain(linked) {
            if let Some(b) = all.get_mut(f) {
                b.sent += 1;
                b.remaining = b.remaining.map(|r| r.saturating_sub(1));
            }
        }
        Ok(probe)
    }

    /// Waits until `family` may take one more request without exceeding the share of its
    /// bucket.
    pub async fn acquire(&self, family: &'static str) -> Ticket<'_> {
        loop {
            let notified = self.changed.notified();
            let wait: Duration = {
                let mut all = self.lock();
                all.entry(family).or_default();
                match self.admit(&mut all, family, Instant::now()) {
                    Ok(probe) => {
                        let seq = all.get(family).map_or(0, |b| b.sent);
                        return Ticket {
                            pacer: self,
                            bucket: family,
                            seq,
                            probe,
                        };
                    }
                    Err(w) => w,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
            }
        }
    }

    /// Records what a response said. Returns what a 429 calls for: waiting for the reset
    /// (+1 s) for a rate 429, the client's backoff for a concurrency 429.
    pub fn observe(
        &self,
        mut ticket: Ticket<'_>,
        reading: Option<Reading>,
        status: u16,
    ) -> Option<Throttle> {
        // Observed: the probe is settled here, not by the ticket's drop.
        ticket.probe = false;
        let now = Instant::now();
        let mut all = self.lock();
        let b = all.entry(ticket.bucket).or_default();
        b.probing = false;
        let mut throttle = None;
        if let Some(r) = reading {
            if status == 429 && r.is_concurrency() {
                self.concurrency_429s
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                throttle = Some(Throttle::Concurrency);
            } else {
                if ticket.seq >= b.seen {
                    // Requests sent after this one may not be counted in its header yet:
                    // subtract them, so the estimate errs on the safe side.
                    b.seen = ticket.seq;
                    b.limit = r.limit;
                    b.remaining = Some(r.remaining.saturating_sub(b.sent - ticket.seq));
                    b.reset_at = Some(now + Duration::from_secs_f64(r.reset_in));
                    b.reset_epoch = Some(r.reset);
                }
                if status == 429 {
                    self.rate_429s
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let until = now + Duration::from_secs_f64(r.reset_in) + Duration::from_secs(1);
                    b.blocked_until = Some(b.blocked_until.map_or(until, |t| t.max(until)));
                    b.remaining = Some(0);
                    b.reset_at = Some(until);
                    throttle = Some(Throttle::Rate(Duration::ZERO));
                }
            }
        } else if status == 429 {
            // A 429 without Okta's headers (a proxy in between): a brief wait, then again.
            throttle = Some(Throttle::Rate(Duration::from_secs(1)));
        }
        drop(all);
        self.changed.notify_waiters();
        throttle
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
            reset: 1_700_000_000 + reset_in as i64,
        })
    }

    /// Whether `family` would have to wait for a new request right now.
    async fn must_wait(p: &Pacer, family: &'static str) -> bool {
        tokio::time::timeout(Duration::from_millis(100), p.acquire(family))
            .await
            .is_err()
    }

    #[test]
    fn families_follow_okta_and_each_membership_list_is_its_own() {
        assert_eq!(family_of("/api/v1/users"), "users-list");
        assert_eq!(family_of("/api/v1/groups/00g1"), "group-get");
        assert_eq!(family_of("/api/v1/groups/00g1/users"), "group-members");
        assert_eq!(family_of("/api/v1/users/00u1/groups"), "user-groups");
        assert_eq!(family_of("/api/v1/logs"), "logs");
        assert_eq!(family_of("/api/v1/apps"), "other");
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
        assert!(
            must_wait(&p, "users-list").await,
            "the fifth request must wait for the window to reset"
        );
        assert_eq!(p.allowance("users-list"), Some((10, 5)));
    }

    /// The two membership lists answered from buckets of different sizes: each is paced by
    /// its own bucket's numbers, whichever answered last (a shared guessed bucket took the
    /// bigger one's 1,199 left for both and let the smaller one overspend).
    #[tokio::test]
    async fn a_reading_never_paces_another_bucket() {
        let p = Pacer::new(0.5);
        let t = p.acquire(family_of("/api/v1/groups/00g1/users")).await;
        p.observe(t, reading(500, 251, 30.0), 200);
        let t = p.acquire(family_of("/api/v1/users/00u1/groups")).await;
        p.observe(t, reading(1200, 1199, 40.0), 200);
        // 251 left of 500 with 250 reserved: one more member list, then wait.
        let _ = p.acquire("group-members").await;
        assert!(
            must_wait(&p, "group-members").await,
            "the member lists' bucket is at its reserve"
        );
        assert!(!must_wait(&p, "user-groups").await, "the other has room");
    }

    /// Two families whose responses show the same limit and window are one bucket: the
    /// requests of either count against both.
    #[tokio::test]
    async fn families_showing_the_same_bucket_share_it() {
        let p = Pacer::new(0.5);
        let t = p.acquire("group-members").await;
        p.observe(t, reading(20, 12, 30.0), 200);
        let t = p.acquire("groups-list").await;
        p.observe(t, reading(20, 12, 30.0), 200);
        // 12 left, 10 reserved: two requests in all, from either family.
        let _ = p.acquire("group-members").await;
        let _ = p.acquire("group-members").await;
        assert!(
            must_wait(&p, "groups-list").await,
            "the member lists spent the bucket the group list shares"
        );
        // A family in another window (or with another limit) is not held back.
        let t = p.acquire("users-list").await;
        p.observe(t, reading(20, 12, 50.0), 200);
        assert!(!must_wait(&p, "users-list").await);
    }

    #[tokio::test]
    async fn rate_429_blocks_until_reset_and_concurrency_429_does_not() {
        let p = Pacer::new(1.0);
        let t = p.acquire("logs").await;
        assert_eq!(
            p.observe(t, reading(0, 0, 1.0), 429),
            Some(Throttle::Concurrency)
        );
        assert!(!must_wait(&p, "logs").await);
        let t = p.acquire("logs").await;
        assert_eq!(
            p.observe(t, reading(60, 0, 30.0), 429),
            Some(Throttle::Rate(Duration::ZERO))
        );
        assert_eq!((p.rate_limited(), p.concurrency_limited()), (1, 1));
        assert!(
            must_wait(&p, "logs").await,
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
        assert_eq!(
            p.observe(t, Some(r), 429),
            Some(Throttle::Rate(Duration::ZERO))
        );
    }
}
