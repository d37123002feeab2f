//! An Okta Management API simulator: generates a realistic, deterministic org, serves the
//! users/groups endpoints the mirror crawls and the admin writes that change the org, keeps
//! a System Log of every change (`/api/v1/logs`, polling and bounded) and delivers event
//! hooks. Standalone: it uses no other oktamirror module.

mod admin;
mod apps;
mod background;
mod filter;
mod genorg;
mod hooks;
mod http;
mod json;
mod model;
mod oauth;
mod oidc;
mod rng;
mod scim_push;
/// The simulator's seeded generator, also what tests use to generate their inputs.
pub use rng::Rng;
pub use scim_push::{PushCounts, PushError, ScimPush, ScimPushOptions};
mod search;
mod shared;
mod store;
mod strict;
mod syslog;
mod time;

#[cfg(test)]
mod apps_tests;
#[cfg(test)]
mod scim_push_tests;
#[cfg(test)]
mod strict_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value};

use self::admin::{Lifecycle, Refusal};
use self::shared::Shared;

pub use self::apps::AdminRole;
pub use self::hooks::EventHook;
pub use self::http::ratelimit::RateLimits;
pub use self::oauth::{OAuthApp, SimPublicKey};
pub use self::oidc::{AS_PATH as OIDC_PATH, OidcApp};
pub use self::strict::Strictness;

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
    /// Delay added to a slowed response.
    pub slow_by: std::time::Duration,
}

/// A deliberately broken manager record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    /// The Okta id of the person whose record is broken.
    pub user_id: String,
    /// How the record is broken.
    pub kind: AnomalyKind,
}

/// The ways a manager record can be broken for [`Anomaly`].
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
        let (mut org, truth) = genorg::generate(&opts);
        // The generated org has no history: its log starts empty.
        org.log = syslog::SystemLog::new(opts.seed, truth.domain);
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
            .filter_map(|u| serde_json::from_str(&u.render(&base, false)).ok())
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

    // Changes below go through the same code as the HTTP endpoints (`admin.rs`): each is
    // logged (with the `requestUri` Okta would record) and delivered to the event hook.

    /// Hard delete: a user not yet DEPROVISIONED is deactivated first (as two `DELETE`s
    /// would), then deleted with its memberships (bumping those groups'
    /// `lastMembershipUpdated`, without membership events). False for unknown users.
    pub fn delete_user(&self, id: &str) -> bool {
        let uri = format!("/api/v1/users/{id}");
        loop {
            match admin::delete_user(&self.shared, id, &uri) {
                Ok(admin::Deletion::Deleted) => return true,
                Ok(admin::Deletion::Deactivated) => {}
                Err(_) => return false,
            }
        }
    }

    /// Status `DEPROVISIONED` (event `user.lifecycle.deactivate`), bumping `statusChanged`
    /// and `lastUpdated`. True when the user exists (already DEPROVISIONED: nothing changes).
    pub fn deactivate_user(&self, id: &str) -> bool {
        self.lifecycle(id, Lifecycle::Deactivate)
    }

    /// STAGED or PROVISIONED → ACTIVE (`user.lifecycle.activate`); false otherwise.
    pub fn activate_user(&self, id: &str) -> bool {
        self.lifecycle(id, Lifecycle::Activate)
    }

    /// DEPROVISIONED → ACTIVE (`user.lifecycle.reactivate`); false otherwise.
    pub fn reactivate_user(&self, id: &str) -> bool {
        self.lifecycle(id, Lifecycle::Reactivate)
    }

    /// ACTIVE → SUSPENDED (`user.lifecycle.suspend`); false otherwise.
    pub fn suspend_user(&self, id: &str) -> bool {
        self.lifecycle(id, Lifecycle::Suspend)
    }

    /// SUSPENDED → ACTIVE (`user.lifecycle.unsuspend`); false otherwise.
    pub fn unsuspend_user(&self, id: &str) -> bool {
        self.lifecycle(id, Lifecycle::Unsuspend)
    }

    /// True when the transition happened; deactivating a DEPROVISIONED user counts as done.
    fn lifecycle(&self, id: &str, op: Lifecycle) -> bool {
        match admin::lifecycle(&self.shared, id, op, &op.uri(id)) {
            Ok(()) => true,
            Err(Refusal::Invalid { .. }) => op == Lifecycle::Deactivate,
            Err(_) => false,
        }
    }

    /// Create a user (`POST /api/v1/users?activate=…`): ACTIVE with events create and
    /// activate, or STAGED with create only; it joins the BUILT_IN groups without events.
    /// `None` when the profile lacks login, email, firstName or lastName, or the login is
    /// taken.
    pub fn create_user(&self, profile: Map<String, Value>, activate: bool) -> Option<String> {
        let uri = format!("/api/v1/users?activate={activate}");
        admin::create_user(&self.shared, profile, activate, &uri).ok()
    }

    /// Merge `patch` into the profile (`null` removes an attribute), bump `lastUpdated`
    /// and log `user.account.update_profile`. False for unknown users or an invalid result.
    pub fn update_profile(&self, id: &str, patch: Map<String, Value>) -> bool {
        let uri = format!("/api/v1/users/{id}");
        admin::update_profile(&self.shared, id, patch, false, &uri).is_ok()
    }

    /// Replace the whole profile (`PUT`); false for unknown users or an invalid profile.
    pub fn replace_profile(&self, id: &str, profile: Map<String, Value>) -> bool {
        let uri = format!("/api/v1/users/{id}");
        admin::update_profile(&self.shared, id, profile, true, &uri).is_ok()
    }

    /// Add a member; true if the membership changed (only then logged). Bumps
    /// `lastMembershipUpdated`. False too for APP_GROUP and BUILT_IN groups (Okta refuses).
    pub fn add_member(&self, group_id: &str, user_id: &str) -> bool {
        let uri = format!("/api/v1/groups/{group_id}/users/{user_id}");
        admin::set_membership(&self.shared, group_id, user_id, true, &uri).unwrap_or(false)
    }

    /// Remove a member; true if the membership changed (only then logged). Bumps
    /// `lastMembershipUpdated`. False too for APP_GROUP and BUILT_IN groups (Okta refuses).
    pub fn remove_member(&self, group_id: &str, user_id: &str) -> bool {
        let uri = format!("/api/v1/groups/{group_id}/users/{user_id}");
        admin::set_membership(&self.shared, group_id, user_id, false, &uri).unwrap_or(false)
    }

    /// Create an OKTA_GROUP (`group.lifecycle.create`); its id. A name another OKTA_GROUP
    /// already has (or a blank one) gets a numbered suffix, as a test wants a group, not an error.
    pub fn create_group(&self, name: &str, description: &str) -> String {
        let mut n = 1;
        loop {
            let candidate = match n {
                1 if !name.trim().is_empty() => name.to_string(),
                _ => format!("{name} ({n})"),
            };
            let mut profile = Map::new();
            profile.insert("name".into(), candidate.into());
            profile.insert("description".into(), description.into());
            if let Ok(id) = admin::create_group(&self.shared, profile, "/api/v1/groups") {
                return id;
            }
            n += 1;
        }
    }

    /// Rename an OKTA_GROUP, keeping its description (`group.profile.update`, bumps
    /// `lastUpdated`). False for unknown, APP_GROUP or BUILT_IN groups, or a taken name.
    pub fn rename_group(&self, id: &str, name: &str) -> bool {
        let Some(mut profile) = self
            .shared
            .org()
            .groups
            .get(id)
            .and_then(|g| serde_json::from_str::<Map<String, Value>>(&g.profile).ok())
        else {
            return false;
        };
        profile.insert("name".into(), name.into());
        let uri = format!("/api/v1/groups/{id}");
        admin::replace_group_profile(&self.shared, id, profile, &uri).is_ok()
    }

    /// Delete a group and its memberships (`group.lifecycle.delete`, no per-member events).
    /// False for unknown and BUILT_IN groups.
    pub fn delete_group(&self, id: &str) -> bool {
        let uri = format!("/api/v1/groups/{id}");
        admin::delete_group(&self.shared, id, &uri).is_ok()
    }

    /// Every LogEvent so far, in persistence order, exactly as `/api/v1/logs` serves them.
    pub fn log_events(&self) -> Vec<Value> {
        let org = self.shared.org();
        org.log
            .events()
            .iter()
            .filter_map(|e| serde_json::from_str(&e.json).ok())
            .collect()
    }

    /// Deliver event hooks to `hook` from now on (`None` stops). Deliveries already queued
    /// for a previous hook still go to it. The envelope's `source` names the current
    /// [`Simulator::base_url`], so call this after `serve`. Delivery runs on its own thread;
    /// if the OS refuses one, a warning is logged and nothing is delivered.
    pub fn set_event_hook(&self, hook: Option<EventHook>) {
        let source = format!(
            "{}/api/v1/eventHooks/who{}",
            self.base_url(),
            self.shared.opaque_id(17)
        );
        if let Err(e) = self.shared.hooks.set(hook, self.shared.seed(), source) {
            tracing::warn!("event hook not started: cannot start its delivery thread: {e}");
        }
    }

    /// Hook deliveries so far: (sent: POSTs answered 2xx, a duplicate counting twice;
    /// dropped: deliveries deliberately never sent; duplicated: deliveries sent twice;
    /// failed: POSTs given up on after a 4xx, a transport error or a failed retry).
    pub fn hook_deliveries(&self) -> (u64, u64, u64, u64) {
        self.shared.hooks.counts()
    }

    /// Okta's one-time verification of the configured hook: a GET with a fresh
    /// `X-Okta-Verification-Challenge` (and the auth header) whose answer must be
    /// `{"verification":"<challenge>"}`. Deliveries do not wait for it, unlike Okta's.
    pub async fn verify_event_hook(&self) -> Result<(), String> {
        let hook = self
            .shared
            .hooks
            .config()
            .ok_or_else(|| "no event hook is set".to_string())?;
        let challenge = self.shared.opaque_id(32);
        hooks::verify(&hook, &challenge).await
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

    /// Register the OIDC web app of the `default` authorization server (directory sign-in).
    pub fn enable_oidc(&self, app: OidcApp) {
        self.shared.oidc().app = Some(app);
    }

    /// ID tokens the OIDC token endpoint has issued so far.
    pub fn id_tokens_issued(&self) -> u64 {
        self.shared.oidc().id_tokens
    }

    /// Accept `token` as the SSWS token of an admin with `role` (the org's own token stays
    /// a super admin's): app admins create apps but may not grant scopes or assign roles,
    /// read-only admins may not write at all (403 `E0000006`).
    pub fn add_admin_token(&self, token: &str, role: AdminRole) {
        self.shared
            .auth()
            .admin_tokens
            .insert(token.to_owned(), role);
    }

    /// Every app created through the Apps API, as `GET /api/v1/apps/{id}` serves it, with
    /// its grants under `_grants` and its client roles under `_roles`.
    pub fn registered_apps(&self) -> Vec<Value> {
        let base = self.base_url();
        let st = self.shared.auth();
        st.apps
            .iter()
            .map(|a| {
                let mut v = a.json(&base);
                v["_grants"] = a.grants.iter().map(|g| a.grant_json(g, &base)).collect();
                v["_roles"] = a.roles.iter().map(|r| a.role_json(r, &base)).collect();
                v
            })
            .collect()
    }

    /// Access tokens issued to apps created through the Apps API last `lifetime` (Okta: an
    /// hour), so a test sees a mirror mint again soon.
    pub fn set_app_token_lifetime(&self, lifetime: Duration) {
        self.shared.auth().app_token_lifetime = Some(lifetime);
    }

    /// Refused credentials so far: (token requests refused with `invalid_client`, resource
    /// calls refused for an unknown, expired or revoked access token).
    pub fn auth_failures(&self) -> (u64, u64) {
        let st = self.shared.auth();
        (st.invalid_client, st.rejected_tokens)
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

    /// Other integrations hold `n` requests in flight (0: none) until this is called again:
    /// they count against the concurrency limit, so at the limit every request gets a
    /// concurrency 429.
    pub fn occupy_concurrency(&self, n: u32) {
        self.shared.limits.occupy(n);
    }

    /// 429s answered so far: (rate limit, concurrency limit).
    pub fn rate_limit_rejections(&self) -> (u64, u64) {
        self.shared.limits.rejections()
    }

    /// API requests received so far (every request, including rejected ones).
    pub fn request_count(&self) -> u64 {
        self.shared.request_count()
    }

    // How unkind the org is (see `Strictness`): each switch on its own, for tests.

    /// Replace every strictness switch at once.
    pub fn set_strictness(&self, strict: Strictness) {
        self.shared.set_strict(strict);
    }

    /// The switches in force.
    pub fn strictness(&self) -> Strictness {
        self.shared.strict()
    }

    fn update_strictness(&self, change: impl FnOnce(&mut Strictness)) {
        let mut s = self.shared.strict();
        change(&mut s);
        self.shared.set_strict(s);
    }

    /// Unknown list parameters answer 400 (on by default) or are ignored (`false`).
    pub fn set_reject_unknown_params(&self, on: bool) {
        self.update_strictness(|s| s.reject_unknown_params = on);
    }

    /// Single user GETs carry lifecycle `_links` (on by default) or only `self` (`false`).
    pub fn set_full_links_on_get(&self, on: bool) {
        self.update_strictness(|s| s.full_links_on_get = on);
    }

    /// List cursors (`after`) expire this long after they were issued (`None`: never).
    pub fn set_cursor_ttl(&self, ttl: Option<Duration>) {
        self.update_strictness(|s| s.cursor_ttl = ttl);
    }

    /// `next` links point at `base` (`http://host:port`, e.g. from
    /// [`Simulator::serve_second_host`]) instead of the host the request came to.
    pub fn set_next_link_base(&self, base: Option<String>) {
        self.update_strictness(|s| s.next_link_base = base);
    }

    /// Scope the token's admin role to these groups (ids or exact names); `None` makes it a
    /// super admin again. Returns the entries that name no group (they are ignored).
    pub fn scope_admin_to_groups(&self, groups: Option<&[&str]>) -> Vec<String> {
        let Some(groups) = groups else {
            self.update_strictness(|s| s.admin_scope = None);
            return Vec::new();
        };
        let mut ids = BTreeSet::new();
        let mut unknown = Vec::new();
        {
            let org = self.shared.org();
            for g in groups {
                match org.groups.get(*g) {
                    Some(found) => {
                        ids.insert(found.id.clone());
                    }
                    None => match org.groups.values().find(|x| x.name == *g) {
                        Some(found) => {
                            ids.insert(found.id.clone());
                        }
                        None => unknown.push((*g).to_string()),
                    },
                }
            }
        }
        self.update_strictness(|s| s.admin_scope = Some(Arc::new(ids)));
        unknown
    }

    /// Events logged from now on persist up to `delay` after their `published` time, so
    /// a polling query sees them late and out of `published` order (zero: at once).
    pub fn set_log_delay(&self, delay: Duration) {
        let ms = time::Millis::try_from(delay.as_millis()).unwrap_or(time::Millis::MAX);
        self.shared.org_mut().log.set_delay(ms);
    }

    /// Serve the same org on a second listener (the org's other domain: its okta.com host
    /// behind a custom domain, or the reverse). Combine with
    /// [`Simulator::set_next_link_base`] to make `next` links cross to it.
    pub fn serve_second_host(
        &self,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        let app = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("okta simulator (second host) stopped: {e}");
            }
        });
        Ok(addr)
    }

    /// The user signs in: `lastLogin` moves and `user.session.start` is logged (not an admin
    /// change: `lastUpdated` stays). False unless the user exists and is ACTIVE.
    pub fn sign_in(&self, user_id: &str) -> bool {
        admin::sign_in(&self.shared, user_id).is_ok()
    }

    /// Every `every`, `per_tick` random ACTIVE users sign in, until
    /// [`Simulator::stop_sign_ins`].
    pub fn start_sign_ins(&self, every: Duration, per_tick: usize) -> std::io::Result<()> {
        self.shared
            .workers
            .start_sign_ins(&self.shared, every, per_tick)
    }

    /// Stops the sign-in worker started by [`Simulator::start_sign_ins`].
    pub fn stop_sign_ins(&self) {
        self.shared.workers.stop_sign_ins();
    }

    /// Every `every`, one random admin change (profile, lifecycle, hard deletes of users and
    /// groups, memberships, new users and groups, failed adds, imports), until
    /// [`Simulator::stop_churn`], which waits for a change under way to finish.
    pub fn start_churn(&self, every: Duration) -> std::io::Result<()> {
        self.shared.workers.start_churn(&self.shared, every)
    }

    /// Stops the churn worker, waiting for a change under way to finish.
    pub fn stop_churn(&self) {
        self.shared.workers.stop_churn();
    }

    /// Changes churn has made so far.
    pub fn churn_changes(&self) -> u64 {
        self.shared.workers.churn_changes.load(Ordering::SeqCst)
    }

    /// Log a membership add that failed (`outcome.result = FAILURE`); nothing changes.
    /// False for an unknown group or user.
    pub fn log_failed_membership_add(&self, group_id: &str, user_id: &str) -> bool {
        admin::failed_membership_add(&self.shared, group_id, user_id).is_ok()
    }

    /// An app import changes an APP_GROUP's members: logged only as `system.import.*`
    /// events, no `group.user_membership.*`. The number of memberships that changed;
    /// `None` for an unknown group or one that is not an APP_GROUP.
    pub fn import_membership(
        &self,
        group_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Option<usize> {
        admin::import_membership(&self.shared, group_id, add, remove).ok()
    }
}
