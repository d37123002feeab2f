//! An Okta Management API simulator: generates a realistic, deterministic org and
//! serves the users/groups endpoints the mirror crawls. Standalone: it uses no other oktamirror module.

mod filter;
mod genorg;
mod http;
mod json;
mod model;
mod oauth;
mod rng;
mod shared;
mod store;
mod time;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use self::shared::Shared;

pub use self::http::ratelimit::RateLimits;
pub use self::oauth::{OAuthApp, SimPublicKey};

/// How to build the simulated org.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Number of users (all statuses).
    pub users: usize,
    /// Number of groups; `None` means `max(8, users / 20)`, at most 5,000.
    pub groups: Option<usize>,
    /// Same seed, same org.
    pub seed: u64,
    /// The SSWS API token clients must present.
    pub token: String,
}

/// Failures to inject into the API (`/api/…` calls; the token endpoint stays healthy).
/// Percentages are of all API responses, drawn from the seed, so a run is repeatable.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// After this many successful list-page responses (users, groups, group users),
    /// every further list request answers 500 `E0000009`. Counted from `set_faults`.
    pub fail_list_pages_after: Option<u64>,
    /// Share answering 500 `E0000009`.
    pub error_500_percent: u32,
    /// Share answering 503 `E0000010`.
    pub error_503_percent: u32,
    /// Share whose JSON body stops halfway (a complete HTTP response).
    pub truncated_percent: u32,
    /// Share whose connection drops halfway through the body.
    pub dropped_percent: u32,
    /// Share delayed by `slow_by` before answering.
    pub slow_percent: u32,
    pub slow_by: std::time::Duration,
}

/// A deliberately broken manager record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub user_id: String,
    pub kind: AnomalyKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// `managerId` is an employee number nobody has (a terminated manager).
    UnresolvableManager,
    /// Two people who name each other as manager.
    Cycle,
    /// Someone other than the CEO whose `managerId` is their own employee number.
    SelfManaged,
}

/// A running (or ready-to-serve) simulated Okta org. Cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

impl Simulator {
    /// Generate the org (deterministic for `opts.seed`).
    pub fn new(opts: SimOptions) -> Simulator {
        let (org, truth) = genorg::generate(&opts);
        Simulator {
            shared: Arc::new(Shared::new(org, truth, opts.token, opts.seed)),
        }
    }

    /// Serve the API on an already-bound listener (spawns a tokio task); returns at once.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        self.shared.set_base_url(format!("http://{addr}"));
        let app = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("okta simulator stopped: {e}");
            }
        });
        Ok(addr)
    }

    /// The API as an axum `Router` (what `serve` runs).
    pub fn router(&self) -> axum::Router {
        http::router(self.shared.clone())
    }

    /// `http://host:port` of the last `serve`, used for links when a request lacks `Host`
    /// and for the `_links` in [`Simulator::users`] / [`Simulator::groups`].
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// The organisation name (`profile.organization`) and email domain.
    pub fn company(&self) -> (&'static str, &'static str) {
        (self.shared.truth.company, self.shared.truth.domain)
    }

    /// Every user as served (all statuses), sorted by id.
    pub fn users(&self) -> Vec<serde_json::Value> {
        let base = self.base_url();
        let org = self.shared.org();
        org.users
            .values()
            .filter_map(|u| serde_json::from_str(&u.render(&base)).ok())
            .collect()
    }

    /// Every group as served (without `_embedded`), sorted by id.
    pub fn groups(&self) -> Vec<serde_json::Value> {
        let base = self.base_url();
        let org = self.shared.org();
        org.groups
            .values()
            .filter_map(|g| serde_json::from_str(&g.render(&base, None)).ok())
            .collect()
    }

    /// Member user ids of a group, sorted (empty for unknown groups).
    pub fn group_members(&self, group_id: &str) -> Vec<String> {
        let org = self.shared.org();
        org.members
            .get(group_id)
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Group ids a user belongs to, sorted (empty for unknown users).
    pub fn user_groups(&self, user_id: &str) -> Vec<String> {
        let org = self.shared.org();
        org.user_groups
            .get(user_id)
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The generator's intended manager (Okta id); `None` for the CEO and anomalies.
    pub fn true_manager(&self, user_id: &str) -> Option<String> {
        self.shared.truth.managers.get(user_id).cloned()
    }

    /// The deliberately broken manager records.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        self.shared.truth.anomalies.clone()
    }

    /// Hard delete (removes memberships too, bumping those groups' `lastMembershipUpdated`).
    pub fn delete_user(&self, id: &str) -> bool {
        self.shared.org_mut().delete_user(id)
    }

    /// Status `DEPROVISIONED`, bumping `statusChanged` and `lastUpdated`.
    pub fn deactivate_user(&self, id: &str) -> bool {
        self.shared.org_mut().deactivate_user(id)
    }

    /// Merge `patch` into the profile (`null` removes an attribute) and bump `lastUpdated`.
    pub fn update_profile(
        &self,
        id: &str,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        self.shared.org_mut().update_profile(id, patch)
    }

    /// Add a member; true if the membership changed. Bumps `lastMembershipUpdated`.
    pub fn add_member(&self, group_id: &str, user_id: &str) -> bool {
        self.shared.org_mut().add_member(group_id, user_id)
    }

    /// Remove a member; true if the membership changed. Bumps `lastMembershipUpdated`.
    pub fn remove_member(&self, group_id: &str, user_id: &str) -> bool {
        self.shared.org_mut().remove_member(group_id, user_id)
    }

    /// Delete a group and its memberships.
    pub fn delete_group(&self, id: &str) -> bool {
        self.shared.org_mut().delete_group(id)
    }

    /// Replace the injected faults (resets the list-page counter).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Register the OAuth service app (and start a fresh DPoP nonce).
    pub fn enable_oauth(&self, app: OAuthApp) {
        let nonce = self.shared.opaque_id(24);
        let mut st = self.shared.auth();
        st.app = Some(app);
        st.nonce = nonce;
    }

    /// Access tokens minted by the token endpoint so far.
    pub fn tokens_minted(&self) -> u64 {
        self.shared.auth().minted
    }

    /// Every access token issued (to prove they never reach a log).
    pub fn access_tokens(&self) -> Vec<String> {
        self.shared.auth().tokens.keys().cloned().collect()
    }

    /// Expire every issued access token now, as an hour passing would.
    pub fn expire_access_tokens(&self) {
        for t in self.shared.auth().tokens.values_mut() {
            t.expires = 0;
        }
    }

    /// Issue a new DPoP nonce; proofs with the old one get `use_dpop_nonce`.
    pub fn rotate_dpop_nonce(&self) {
        let nonce = self.shared.opaque_id(24);
        self.shared.auth().nonce = nonce;
    }

    /// Replace the rate limits (window length, per-window limit, concurrency); clears counts.
    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.shared.limits.configure(limits);
    }

    /// Spend `n` requests of the bucket of `path` now, as another integration would.
    pub fn consume_rate_limit(&self, path: &str, n: u32) {
        let bucket = http::ratelimit::Bucket::classify(&axum::http::Method::GET, path);
        self.shared.limits.consume(bucket, n, time::now());
    }

    /// 429s answered so far: (rate limit, concurrency limit).
    pub fn rate_limit_rejections(&self) -> (u64, u64) {
        self.shared.limits.rejections()
    }

    /// API requests received so far (every request, including rejected ones).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count()
    }
}
