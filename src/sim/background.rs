//! Changes that happen on their own while a client works: sign-ins moving `lastLogin`
//! (each logged as `user.session.start`) and churn (random admin changes, deletions
//! included, so a crawl meets users and groups that vanish under it). Each runs on its own
//! thread, started and stopped through the `Simulator`; threads hold only a weak reference,
//! so dropping the simulator ends them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Map, Value};

use super::admin::{self, Lifecycle};
use super::model::{GroupType, Status};
use super::rng::{self, Rng};
use super::shared::Shared;

struct Worker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Worker {
    /// Run `tick` every `every` until stopped or the simulator is gone.
    fn spawn(
        name: &str,
        every: Duration,
        shared: Weak<Shared>,
        mut tick: impl FnMut(&Shared, u64) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut n = 0u64;
                loop {
                    thread::park_timeout(every);
                    if flag.load(Ordering::SeqCst) {
                        return;
                    }
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    tick(&shared, n);
                    n += 1;
                }
            })?;
        Ok(Worker { stop, handle })
    }

    /// Stop and wait for the current tick to finish, so a test sees no change afterwards.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.thread().unpark();
        let _ = self.handle.join();
    }
}

/// The background workers of one simulator, and how many changes churn made.
#[derive(Default)]
pub struct Workers {
    sign_ins: Mutex<Option<Worker>>,
    churn: Mutex<Option<Worker>>,
    pub churn_changes: Arc<AtomicU64>,
}

fn slot(m: &Mutex<Option<Worker>>) -> std::sync::MutexGuard<'_, Option<Worker>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A seeded generator per tick, so a run with the same seed makes the same choices.
fn tick_rng(shared: &Shared, salt: u64, n: u64) -> Rng {
    Rng::new(rng::mix(
        shared.seed() ^ salt ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ))
}

/// A random key of `map` satisfying `keep` (None if there is none).
fn pick<'a, T>(
    rng: &mut Rng,
    map: &'a std::collections::BTreeMap<String, T>,
    keep: impl Fn(&T) -> bool,
) -> Option<String> {
    let ids: Vec<&'a String> = map
        .iter()
        .filter(|(_, v)| keep(v))
        .map(|(k, _)| k)
        .collect();
    if ids.is_empty() {
        return None;
    }
    Some(ids[rng.below(ids.len())].clone())
}

impl Workers {
    /// Every `every`, `per_tick` random ACTIVE users sign in. Replaces a running one.
    pub fn start_sign_ins(
        &self,
        shared: &Arc<Shared>,
        every: Duration,
        per_tick: usize,
    ) -> std::io::Result<()> {
        self.stop_sign_ins();
        let worker = Worker::spawn(
            "sim-sign-ins",
            every,
            Arc::downgrade(shared),
            move |s, n| {
                let mut rng = tick_rng(s, 0x51_6E_49_6E, n);
                for _ in 0..per_tick {
                    let id = pick(&mut rng, &s.org().users, |u| u.status == Status::Active);
                    if let Some(id) = id {
                        let _ = admin::sign_in(s, &id);
                    }
                }
            },
        )?;
        *slot(&self.sign_ins) = Some(worker);
        Ok(())
    }

    pub fn stop_sign_ins(&self) {
        if let Some(w) = slot(&self.sign_ins).take() {
            w.stop();
        }
    }

    /// Every `every`, one random admin change (see [`churn_step`]). Replaces a running one.
    pub fn start_churn(&self, shared: &Arc<Shared>, every: Duration) -> std::io::Result<()> {
        self.stop_churn();
        let count = self.churn_changes.clone();
        let worker = Worker::spawn("sim-churn", every, Arc::downgrade(shared), move |s, n| {
            if churn_step(s, n) {
                count.fetch_add(1, Ordering::SeqCst);
            }
        })?;
        *slot(&self.churn) = Some(worker);
        Ok(())
    }

    pub fn stop_churn(&self) {
        if let Some(w) = slot(&self.churn).take() {
            w.stop();
        }
    }
}

/// One random change, through the same admin path the API uses: profile update,
/// deactivation, reactivation, hard delete, new user, membership add or remove, new, renamed
/// or deleted group, a failed membership add, or an import into an APP_GROUP. True when
/// something was attempted that the org accepted.
pub fn churn_step(shared: &Shared, n: u64) -> bool {
    let mut rng = tick_rng(shared, 0xC4_17_2E, n);
    let kind = rng.below(12);
    let (user, group, app_group, gone) = {
        let org = shared.org();
        (
            pick(&mut rng, &org.users, |_| true),
            pick(&mut rng, &org.groups, |g| g.kind == GroupType::OktaGroup),
            pick(&mut rng, &org.groups, |g| g.kind == GroupType::AppGroup),
            pick(&mut rng, &org.users, |u| u.status == Status::Deprovisioned),
        )
    };
    let tag = format!("churn{n}");
    match (kind, user, group) {
        (0, Some(u), _) => {
            let mut patch = Map::new();
            patch.insert("title".into(), Value::String(format!("Title {tag}")));
            admin::update_profile(shared, &u, patch, false, &format!("/api/v1/users/{u}")).is_ok()
        }
        (1, Some(u), _) => {
            let uri = Lifecycle::Deactivate.uri(&u);
            admin::lifecycle(shared, &u, Lifecycle::Deactivate, &uri).is_ok()
        }
        (2, Some(u), _) => {
            let uri = format!("/api/v1/users/{u}");
            while let Ok(admin::Deletion::Deactivated) = admin::delete_user(shared, &u, &uri) {}
            !shared.org().users.contains_key(&u)
        }
        (3, _, _) => {
            let mut profile = Map::new();
            let login = format!("{tag}.{}@churn.example.com", rng.below(1_000_000));
            profile.insert("login".into(), login.clone().into());
            profile.insert("email".into(), login.into());
            profile.insert("firstName".into(), "Churn".into());
            profile.insert("lastName".into(), tag.clone().into());
            admin::create_user(shared, profile, true, "/api/v1/users?activate=true").is_ok()
        }
        (4, Some(u), Some(g)) => {
            let uri = format!("/api/v1/groups/{g}/users/{u}");
            admin::set_membership(shared, &g, &u, true, &uri).unwrap_or(false)
        }
        (5, _, Some(g)) => {
            let member = shared
                .org()
                .members
                .get(&g)
                .and_then(|m| m.iter().next().cloned());
            member.is_some_and(|u| {
                let uri = format!("/api/v1/groups/{g}/users/{u}");
                admin::set_membership(shared, &g, &u, false, &uri).unwrap_or(false)
            })
        }
        (6, _, _) => {
            let mut profile = Map::new();
            profile.insert("name".into(), format!("Churn group {tag}").into());
            admin::create_group(shared, profile, "/api/v1/groups").is_ok()
        }
        (7, _, Some(g)) => {
            let mut profile = Map::new();
            profile.insert("name".into(), format!("Renamed {tag}").into());
            admin::replace_group_profile(shared, &g, profile, &format!("/api/v1/groups/{g}"))
                .is_ok()
        }
        (8, _, Some(g)) => admin::delete_group(shared, &g, &format!("/api/v1/groups/{g}")).is_ok(),
        (9, Some(u), Some(g)) => admin::failed_membership_add(shared, &g, &u).is_ok(),
        (10, Some(u), _) => app_group.is_some_and(|g| {
            admin::import_membership(shared, &g, std::slice::from_ref(&u), &[]).is_ok()
        }),
        (11, _, _) => gone.is_some_and(|u| {
            let uri = Lifecycle::Reactivate.uri(&u);
            admin::lifecycle(shared, &u, Lifecycle::Reactivate, &uri).is_ok()
        }),
        _ => false,
    }
}
