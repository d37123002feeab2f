//! State shared by the public `Simulator` handle and the HTTP handlers:
//! the org (and its System Log) behind a lock, the generator's truth, faults, counters and
//! the event hook.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::Faults;
use super::genorg::Truth;
use super::hooks::Hooks;
use super::http::ratelimit::RateLimiter;
use super::oauth::AuthState;
use super::oidc::OidcState;
use super::rng::{self, Rng};
use super::store::Org;
use super::strict::Strictness;

pub struct Shared {
    org: RwLock<Org>,
    pub truth: Truth,
    pub token: String,
    faults: Mutex<Faults>,
    /// Successful list-page responses since the faults were last set.
    list_successes: AtomicU64,
    requests: AtomicU64,
    /// Sequence for request ids and error ids.
    sequence: AtomicU64,
    seed: u64,
    pub limits: RateLimiter,
    /// The OAuth app, issued tokens, seen assertion ids and the DPoP nonce.
    auth: Mutex<AuthState>,
    /// The OIDC web app, its signing key, codes and tokens.
    oidc: Mutex<OidcState>,
    /// Sequence for fault rolls, separate from ids so faults do not shift them.
    rolls: AtomicU64,
    /// `http://host:port` once serving; used when a request has no `Host`.
    base_url: RwLock<String>,
    /// The event hook's delivery queue and counters.
    pub hooks: Hooks,
    /// Which unkind behaviours are on.
    strict: RwLock<Strictness>,
    /// Background sign-ins and churn, when started.
    pub workers: super::background::Workers,
}

/// Read/write guards that shrug off poisoning: a panicked test thread must not wedge the API.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(org: Org, truth: Truth, token: String, seed: u64) -> Shared {
        Shared {
            org: RwLock::new(org),
            truth,
            token,
            faults: Mutex::new(Faults::default()),
            list_successes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            seed,
            limits: RateLimiter::default(),
            auth: Mutex::new(AuthState::default()),
            oidc: Mutex::new(OidcState::default()),
            rolls: AtomicU64::new(0),
            base_url: RwLock::new("http://127.0.0.1".to_string()),
            hooks: Hooks::default(),
            strict: RwLock::new(Strictness::default()),
            workers: super::background::Workers::default(),
        }
    }

    pub fn org(&self) -> RwLockReadGuard<'_, Org> {
        read(&self.org)
    }

    pub fn org_mut(&self) -> RwLockWriteGuard<'_, Org> {
        write(&self.org)
    }

    pub fn base_url(&self) -> String {
        read(&self.base_url).clone()
    }

    pub fn set_base_url(&self, url: String) {
        *write(&self.base_url) = url;
    }

    pub fn strict(&self) -> Strictness {
        read(&self.strict).clone()
    }

    pub fn set_strict(&self, strict: Strictness) {
        *write(&self.strict) = strict;
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
        self.list_successes.store(0, Ordering::SeqCst);
    }

    /// True when list requests should now fail with an injected 500.
    pub fn list_fault_active(&self) -> bool {
        match lock(&self.faults).fail_list_pages_after {
            Some(n) => self.list_successes.load(Ordering::SeqCst) >= n,
            None => false,
        }
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// A deterministic roll in 0..100 for fault injection.
    pub fn roll(&self) -> u32 {
        let n = self.rolls.fetch_add(1, Ordering::SeqCst);
        Rng::new(rng::mix(
            self.seed ^ 0x5EED ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
        .below(100) as u32
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn auth(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    pub fn oidc(&self) -> MutexGuard<'_, OidcState> {
        lock(&self.oidc)
    }

    /// The admin role of an SSWS token: the org's own token is a super admin's; others come
    /// from `Simulator::add_admin_token`. `None` for an unknown token.
    pub fn admin_role(&self, token: &str) -> Option<super::apps::AdminRole> {
        if token == self.token {
            return Some(super::apps::AdminRole::SuperAdmin);
        }
        self.auth().admin_tokens.get(token).copied()
    }

    pub fn count_list_success(&self) {
        self.list_successes.fetch_add(1, Ordering::SeqCst);
    }

    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// A unique, Okta-looking opaque id (`len` base62 chars) for requests and errors.
    pub fn opaque_id(&self, len: usize) -> String {
        let n = self.sequence.fetch_add(1, Ordering::SeqCst);
        Rng::new(rng::mix(self.seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F))).base62(len)
    }
}
