//! The simulated System Log: the LogEvents every org mutation appends, kept in persistence
//! order with a sequence number, each rendered once to the JSON `/api/v1/logs` serves (and
//! event hooks deliver, byte for byte), plus the range selection the log endpoint pages over.

use std::sync::Arc;

use serde_json::json;

use super::filter::{AttrSpec, Field, Kind, Op};
use super::model::{Group, User};
use super::rng::{self, Rng};
use super::time::{self, Millis};

/// Event types Okta marks `event-hook-eligible` (okta-api.md 4.4): only these reach a hook.
/// `user.lifecycle.delete.completed` is deliberately absent: Okta logs it but never sends it.
const HOOK_ELIGIBLE: &[&str] = &[
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.deactivate",
    "user.lifecycle.reactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.delete.initiated",
    "user.account.update_profile",
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.lifecycle.create",
    "group.lifecycle.delete",
    "group.profile.update",
];

/// A v4-shaped UUID from a seeded stream: unique in practice and repeatable per seed (the
/// simulator avoids OS randomness so runs can be replayed).
pub fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        0x4000 | (a & 0x0FFF),
        0x8000 | ((b >> 48) & 0x3FFF),
        b & 0xFFFF_FFFF_FFFF
    )
}

pub fn hook_eligible(event_type: &str) -> bool {
    HOOK_ELIGIBLE.contains(&event_type)
}

/// Okta's human-readable `displayMessage` for the event types the simulator writes.
fn display_message(event_type: &str) -> &'static str {
    match event_type {
        "user.lifecycle.create" => "Create Okta user",
        "user.lifecycle.activate" => "Activate Okta user",
        "user.lifecycle.deactivate" => "Deactivate Okta user",
        "user.lifecycle.reactivate" => "Reactivate Okta user",
        "user.lifecycle.suspend" => "Suspend Okta user",
        "user.lifecycle.unsuspend" => "Unsuspend Okta user",
        "user.lifecycle.delete.initiated" => "Delete Okta user initiated",
        "user.lifecycle.delete.completed" => "Delete Okta user completed",
        "user.account.update_profile" => "Update user profile for Okta",
        "group.user_membership.add" => "Add user to group membership",
        "group.user_membership.remove" => "Remove user from group membership",
        "group.lifecycle.create" => "Create Okta group",
        "group.lifecycle.delete" => "Delete Okta group",
        "group.profile.update" => "Update group profile",
        "user.session.start" => "User login to Okta",
        "system.import.group_membership.complete" => "Import group memberships complete",
        "system.import.start" => "Import started",
        "system.import.complete" => "Import completed",
        _ => "Okta event",
    }
}

/// One entry of an event's `target[]`.
#[derive(Clone)]
pub struct Target {
    kind: &'static str,
    id: String,
    alternate_id: String,
    display_name: String,
}

impl Target {
    /// `{type:"User", alternateId: login, displayName: "First Last"}`, as Okta writes it.
    pub fn user(u: &User) -> Target {
        let name = [u.first_name.as_deref(), u.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Target {
            kind: "User",
            id: u.id.clone(),
            alternate_id: u.login.clone(),
            display_name: name,
        }
    }

    /// `{type:"UserGroup", alternateId:"unknown"}`: Okta really writes "unknown" there.
    pub fn group(g: &Group) -> Target {
        Target {
            kind: "UserGroup",
            id: g.id.clone(),
            alternate_id: "unknown".to_string(),
            display_name: g.name.clone(),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "alternateId": self.alternate_id,
            "displayName": self.display_name,
            "detailEntry": null,
        })
    }
}

/// An event a mutation wants logged; the log adds ids, time, actor and context.
pub struct NewEvent {
    pub event_type: &'static str,
    pub targets: Vec<Target>,
    /// For profile updates: the changed attribute names (`debugData.changedAttributes`).
    pub changed: Option<Vec<String>>,
    /// `outcome.result`: `SUCCESS` unless the attempt failed (`FAILURE`, with a reason).
    pub outcome: (&'static str, Option<&'static str>),
    /// Who acted, when not the admin (a user signing in is their own actor).
    pub actor: Option<Target>,
    /// `transaction.type`: `WEB` for API calls, `JOB` for imports.
    pub job: bool,
}

impl NewEvent {
    pub fn new(event_type: &'static str, targets: Vec<Target>) -> NewEvent {
        NewEvent {
            event_type,
            targets,
            changed: None,
            outcome: ("SUCCESS", None),
            actor: None,
            job: false,
        }
    }
}

/// One stored event: what filters need, plus its rendered JSON (shared with hook deliveries).
pub struct LogEvent {
    pub seq: u64,
    pub published: Millis,
    /// Persistence time: `published` plus the event's delay; what polling `since` bounds.
    pub persisted: Millis,
    /// Wall-clock time from which the event can be read (its append time plus its delay).
    ready_at: Millis,
    pub event_type: &'static str,
    target_ids: Vec<String>,
    actor_id: String,
    outcome: &'static str,
    pub json: Arc<str>,
}

/// The admin every simulated change is attributed to (the owner of the API token).
struct Actor {
    id: String,
    login: String,
}

/// The log itself: events in `published` order (`seq` is the index plus one), and the
/// persistence order polling queries page through.
///
/// Without a delay the two orders are the same. With one, each event waits in `pending`
/// until its `ready_at`; readers see the ready pending events after `order`, sorted by
/// (`ready_at`, `seq`), and the next append moves exactly those into `order` in that same
/// sequence, so a position a polling cursor was given never changes meaning.
pub struct SystemLog {
    events: Vec<LogEvent>,
    /// Indexes into `events`, in persistence order.
    order: Vec<usize>,
    /// Indexes of events not yet moved into `order`.
    pending: Vec<usize>,
    /// The most an event may lag behind `published` (0: none).
    delay: Millis,
    rng: Rng,
    actor: Actor,
}

impl Default for SystemLog {
    fn default() -> Self {
        SystemLog::new(0, "example.com")
    }
}

/// Attribute ids of the log's `filter` (see [`filter_spec`]).
const EVENT_TYPE: usize = 0;
const TARGET_ID: usize = 1;
const ACTOR_ID: usize = 2;
const OUTCOME: usize = 3;

/// What `filter` accepts on `/api/v1/logs`. `published` is deliberately unknown: Okta
/// rejects it in a filter (since/until bound time), and so an unknown attribute is a 400.
pub fn filter_spec(name: &str) -> Option<AttrSpec> {
    const EQ: &[Op] = &[Op::Eq];
    const TEXT: &[Op] = &[Op::Eq, Op::Sw, Op::Co, Op::Ew];
    let (id, ops) = match name {
        "eventType" => (EVENT_TYPE, TEXT),
        "target.id" => (TARGET_ID, EQ),
        "actor.id" => (ACTOR_ID, EQ),
        "outcome.result" => (OUTCOME, EQ),
        _ => return None,
    };
    Some(AttrSpec {
        id,
        kind: Kind::Str,
        ops,
    })
}

impl SystemLog {
    /// An empty log (a generated org has no history) whose ids derive from `seed`.
    pub fn new(seed: u64, domain: &str) -> SystemLog {
        let mut rng = Rng::new(rng::mix(seed ^ 0x5359_534C_4F47));
        let id = format!("00u{}", rng.base62(17));
        SystemLog {
            events: Vec::new(),
            order: Vec::new(),
            pending: Vec::new(),
            delay: 0,
            rng,
            actor: Actor {
                id,
                login: format!("okta.admin@{domain}"),
            },
        }
    }

    /// Events stored so far (the highest `seq`).
    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }

    pub fn events(&self) -> &[LogEvent] {
        &self.events
    }

    /// The ids of the targets of every event after the first `after` (users and groups), and
    /// how many events there are: what changed since a reader's position.
    pub fn targets_after(&self, after: u64) -> (Vec<String>, u64) {
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        let ids = self.events[start..]
            .iter()
            .flat_map(|e| e.target_ids.iter().cloned())
            .collect();
        (ids, self.events.len() as u64)
    }

    /// Events from now on persist up to `delay` ms after their `published` time, each by a
    /// seeded random share of it, so polling sees them late and out of `published` order.
    pub fn set_delay(&mut self, delay: Millis) {
        self.delay = delay.max(0);
    }

    /// Pending events ready at `now`, in the order they take in persistence order.
    fn ready(&self, now: Millis) -> Vec<usize> {
        let mut ready: Vec<usize> = self
            .pending
            .iter()
            .copied()
            .filter(|&i| self.events[i].ready_at <= now)
            .collect();
        ready.sort_by_key(|&i| (self.events[i].ready_at, i));
        ready
    }

    /// Move the events ready at `now` from `pending` into `order`.
    fn promote(&mut self, now: Millis) {
        let ready = self.ready(now);
        self.pending.retain(|i| !ready.contains(i));
        self.order.extend(ready);
    }

    /// Whether `ev` can be read at `now`.
    pub fn visible(&self, ev: &LogEvent, now: Millis) -> bool {
        ev.ready_at <= now
    }

    /// Every event readable at `now`, in persistence order.
    pub fn persisted_order(&self, now: Millis) -> Vec<&LogEvent> {
        self.order
            .iter()
            .chain(self.ready(now).iter())
            .map(|&i| &self.events[i])
            .collect()
    }

    /// A polling page: up to `limit` events readable at `now` after persistence position
    /// `from` that `keep`, each with its position (1-based), and whether another follows.
    pub fn poll_page(
        &self,
        from: u64,
        now: Millis,
        limit: usize,
        keep: impl Fn(&LogEvent) -> bool,
    ) -> (Vec<(u64, &LogEvent)>, bool) {
        let all = self.persisted_order(now);
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(all.len());
        let mut iter = all[from..]
            .iter()
            .enumerate()
            .map(|(k, e)| ((from + k + 1) as u64, *e))
            .filter(|(_, e)| keep(e));
        let items: Vec<(u64, &LogEvent)> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (items, more)
    }

    /// Persistence positions before `since` (a polling query's start).
    pub fn persisted_before(&self, since: Millis, now: Millis) -> u64 {
        self.persisted_order(now)
            .iter()
            .take_while(|e| e.persisted < since)
            .count() as u64
    }

    /// Append one mutation's events, all `published` at its stamp and sharing one
    /// transaction; returns them (type and JSON) in order for hook delivery.
    pub fn append(
        &mut self,
        published: Millis,
        request_uri: &str,
        events: Vec<NewEvent>,
    ) -> Vec<(&'static str, Arc<str>)> {
        let wall = time::now();
        self.promote(wall);
        let transaction = self.rng.base62(27);
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            let mut debug = serde_json::Map::new();
            debug.insert("requestUri".into(), request_uri.into());
            if let Some(changed) = &ev.changed {
                debug.insert("changedAttributes".into(), changed.join(",").into());
            }
            let actor = match &ev.actor {
                Some(a) => a.to_json(),
                None => json!({
                    "id": self.actor.id,
                    "type": "User",
                    "alternateId": self.actor.login,
                    "displayName": "Okta Admin",
                    "detailEntry": null,
                }),
            };
            let (result, reason) = ev.outcome;
            let value = json!({
                "uuid": uuid(&mut self.rng),
                "published": time::format(published),
                "eventType": ev.event_type,
                "version": "0",
                "severity": if result == "SUCCESS" { "INFO" } else { "WARN" },
                "displayMessage": display_message(ev.event_type),
                "actor": actor,
                "client": {"ipAddress": "127.0.0.1", "userAgent": {"rawUserAgent": "oktamirror-sim"}},
                "outcome": {"result": result, "reason": reason},
                "target": ev.targets.iter().map(Target::to_json).collect::<Vec<_>>(),
                "transaction": {"type": if ev.job { "JOB" } else { "WEB" }, "id": transaction, "detail": {}},
                "debugContext": {"debugData": debug},
            });
            let json: Arc<str> = Arc::from(value.to_string());
            let lag = if self.delay > 0 {
                let span = usize::try_from(self.delay).unwrap_or(0).saturating_add(1);
                Millis::try_from(self.rng.below(span)).unwrap_or(0)
            } else {
                0
            };
            let index = self.events.len();
            let actor_id = ev
                .actor
                .as_ref()
                .map_or_else(|| self.actor.id.clone(), |a| a.id.clone());
            self.events.push(LogEvent {
                seq: self.len() + 1,
                published,
                persisted: published + lag,
                ready_at: wall + lag,
                event_type: ev.event_type,
                target_ids: ev.targets.into_iter().map(|t| t.id).collect(),
                actor_id,
                outcome: result,
                json: json.clone(),
            });
            // Everything pending is due after `wall` (promoted above), so an undelayed
            // event goes straight to the end of the persistence order.
            if lag == 0 {
                self.order.push(index);
            } else {
                self.pending.push(index);
            }
            out.push((ev.event_type, json));
        }
        out
    }

    /// The value of filter attribute `attr` on `ev`.
    pub fn field<'a>(&'a self, ev: &'a LogEvent, attr: usize) -> Field<'a> {
        match attr {
            EVENT_TYPE => Field::Str(Some(ev.event_type)),
            TARGET_ID => Field::Any(&ev.target_ids),
            ACTOR_ID => Field::Str(Some(&ev.actor_id)),
            OUTCOME => Field::Str(Some(ev.outcome)),
            _ => Field::Str(None),
        }
    }

    /// How many events were published before `t`: a `since` as a sequence floor. Stamps
    /// are taken under the org lock that appends, so `published` never decreases with `seq`.
    pub fn count_before(&self, t: Millis) -> u64 {
        self.events.partition_point(|e| e.published < t) as u64
    }

    /// How many events were published at or before `t`: an `until` as a sequence ceiling.
    pub fn count_until(&self, t: Millis) -> u64 {
        self.events.partition_point(|e| e.published <= t) as u64
    }

    /// Up to `limit` events with `floor < seq <= ceiling` that `keep`, ascending or
    /// descending by sequence, plus whether another match follows (peeked, not returned).
    pub fn page(
        &self,
        floor: u64,
        ceiling: u64,
        descending: bool,
        limit: usize,
        keep: impl Fn(&LogEvent) -> bool,
    ) -> (Vec<&LogEvent>, bool) {
        let hi = usize::try_from(ceiling.min(self.len())).unwrap_or(usize::MAX);
        let lo = usize::try_from(floor).unwrap_or(usize::MAX).min(hi);
        let slice = &self.events[lo..hi];
        let mut iter: Box<dyn Iterator<Item = &LogEvent>> = if descending {
            Box::new(slice.iter().rev().filter(|e| keep(e)))
        } else {
            Box::new(slice.iter().filter(|e| keep(e)))
        };
        let items: Vec<&LogEvent> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (items, more)
    }
}
