//! Event hook delivery, as Okta does it: eligible LogEvents POSTed in Okta's envelope to one
//! configured URL, asynchronously, 3 s timeout, one retry only after a 5xx or a timeout, with
//! a seeded share of deliveries dropped or sent twice; plus the one-time verification GET.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::sync::mpsc;

use super::json::{ObjWriter, array};
use super::rng::{self, Rng};
use super::syslog::{hook_eligible, uuid};
use super::time;

/// Okta's hook timeout (and at most one retry), for deliveries and the verification GET.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Where and how to deliver event hooks (Okta's `channel.config` plus delivery faults).
#[derive(Clone, Debug)]
pub struct EventHook {
    /// The receiver's URL (Okta's `channel.config.uri`).
    pub url: String,
    /// Okta's `authScheme`: one header sent on every delivery and on verification,
    /// e.g. `("Authorization", "Bearer s3cr3t")`.
    pub auth_header: Option<(String, String)>,
    /// Share of deliveries silently never sent (Okta's delivery is best-effort).
    pub drop_percent: u32,
    /// Share of deliveries sent twice, same body and `eventId` (delivery is at least once).
    pub duplicate_percent: u32,
    /// Gather events for this long into one POST (Okta batches events close together);
    /// zero sends one POST per mutation's eligible events.
    pub batch_window: Duration,
}

impl EventHook {
    /// A hook to `url` without auth header, faults or batching.
    pub fn new(url: impl Into<String>) -> EventHook {
        EventHook {
            url: url.into(),
            auth_header: None,
            drop_percent: 0,
            duplicate_percent: 0,
            batch_window: Duration::ZERO,
        }
    }

    /// Parse `Name: value` (as `--hook-header` takes it) into a valid header pair.
    pub fn parse_header(text: &str) -> Result<(String, String), String> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(format!(
                "hook header {text:?} has no ':'; write it as 'Name: value', e.g. 'Authorization: Bearer s3cr3t'"
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if HeaderName::from_bytes(name.as_bytes()).is_err() || name.is_empty() {
            return Err(format!(
                "hook header name {name:?} is not a valid HTTP header name"
            ));
        }
        if value.is_empty() || HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "hook header {name} needs a value of visible ASCII characters after the ':'"
            ));
        }
        Ok((name.to_string(), value.to_string()))
    }
}

/// Delivery outcomes so far.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    failed: AtomicU64,
}

/// The simulator's hook state: the queue to the delivery task and the counters.
#[derive(Default)]
pub struct Hooks {
    queue: Mutex<Option<mpsc::UnboundedSender<Vec<Arc<str>>>>>,
    config: Mutex<Option<EventHook>>,
    counters: Arc<Counters>,
}

impl Hooks {
    /// Replace the hook. The old delivery task finishes what it has queued and stops; a new
    /// one starts on its own thread and runtime, so a hook works whether or not the caller
    /// runs inside tokio, and delivery never competes with the API for the caller's runtime.
    /// `seed` makes drops and duplicates repeatable; `source` is the envelope's `source`.
    pub fn set(&self, hook: Option<EventHook>, seed: u64, source: String) -> std::io::Result<()> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        *queue = None;
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = hook.clone();
        let Some(hook) = hook else {
            return Ok(());
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = self.counters.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("sim-event-hook".into())
            .spawn(move || runtime.block_on(deliver_all(rx, hook, counters, seed, source)))?;
        *queue = Some(tx);
        Ok(())
    }

    /// Queue one mutation's logged events; only hook-eligible types are kept. A channel push,
    /// safe under the org lock (which keeps deliveries in log order).
    pub fn enqueue(&self, events: Vec<(&'static str, Arc<str>)>) {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(tx) = queue.as_ref() else {
            return;
        };
        let eligible: Vec<Arc<str>> = events
            .into_iter()
            .filter(|(t, _)| hook_eligible(t))
            .map(|(_, json)| json)
            .collect();
        if !eligible.is_empty() {
            // A send fails only once the task is gone (runtime failure): nothing to do then.
            let _ = tx.send(eligible);
        }
    }

    /// (sent, dropped, duplicated, failed); see `Simulator::hook_deliveries`.
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        let c = &self.counters;
        (
            c.sent.load(Ordering::SeqCst),
            c.dropped.load(Ordering::SeqCst),
            c.duplicated.load(Ordering::SeqCst),
            c.failed.load(Ordering::SeqCst),
        )
    }

    pub fn config(&self) -> Option<EventHook> {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The delivery task: batch, roll drop/duplicate, POST, count.
async fn deliver_all(
    mut rx: mpsc::UnboundedReceiver<Vec<Arc<str>>>,
    hook: EventHook,
    counters: Arc<Counters>,
    seed: u64,
    source: String,
) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("event hook disabled: cannot build an HTTP client: {e}");
            return;
        }
    };
    let mut rng = Rng::new(rng::mix(seed ^ 0x484F_4F4B));
    while let Some(mut batch) = rx.recv().await {
        if !hook.batch_window.is_zero() {
            let deadline = tokio::time::Instant::now() + hook.batch_window;
            while let Ok(Some(more)) = tokio::time::timeout_at(deadline, rx.recv()).await {
                batch.extend(more);
            }
        }
        // Both rolls are drawn for every delivery so one setting never shifts the other.
        let dropped = rng.chance(hook.drop_percent);
        let duplicated = rng.chance(hook.duplicate_percent);
        let body = envelope(&source, &uuid(&mut rng), &batch);
        if dropped {
            counters.dropped.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if duplicated {
            counters.duplicated.fetch_add(1, Ordering::SeqCst);
        }
        for _ in 0..if duplicated { 2 } else { 1 } {
            let counter = if post(&client, &hook, &body).await {
                &counters.sent
            } else {
                &counters.failed
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Okta's delivery envelope around LogEvents exactly as `/api/v1/logs` serves them.
fn envelope(source: &str, event_id: &str, events: &[Arc<str>]) -> String {
    let data = ObjWriter::new()
        .raw("events", &array(events.iter().map(|e| e.to_string())))
        .finish();
    ObjWriter::new()
        .str("eventType", "com.okta.event_hook")
        .str("eventTypeVersion", "1.0")
        .str("cloudEventsVersion", "0.1")
        .str("source", source)
        .str("eventId", event_id)
        .str("eventTime", &time::format(time::now()))
        .str("contentType", "application/json")
        .raw("data", &data)
        .finish()
}

/// One POST with at most one retry, and that only after a 5xx or a timeout; true on 2xx.
async fn post(client: &reqwest::Client, hook: &EventHook, body: &str) -> bool {
    for _ in 0..2 {
        let mut req = client
            .post(&hook.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_owned());
        if let Some((name, value)) = &hook.auth_header {
            req = req.header(name.as_str(), value.as_str());
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_server_error() => continue,
            Err(e) if e.is_timeout() => continue,
            Ok(_) | Err(_) => return false,
        }
    }
    false
}

/// Okta's one-time verification: a GET with `X-Okta-Verification-Challenge` (and the auth
/// header) that must be answered `{"verification":"<challenge>"}`; one retry as for POSTs.
pub async fn verify(hook: &EventHook, challenge: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut last = String::new();
    for _ in 0..2 {
        let mut req = client
            .get(&hook.url)
            .header("X-Okta-Verification-Challenge", challenge)
            .header(ACCEPT, "application/json");
        if let Some((name, value)) = &hook.auth_header {
            req = req.header(name.as_str(), value.as_str());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                last = format!("{} did not answer within 3 s", hook.url);
                continue;
            }
            Err(e) => return Err(format!("cannot reach {}: {e}", hook.url)),
        };
        let status = resp.status();
        if status.is_server_error() {
            last = format!("{} answered {status}", hook.url);
            continue;
        }
        if !status.is_success() {
            return Err(format!(
                "{} answered {status} to the verification GET",
                hook.url
            ));
        }
        let body: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| format!("the verification answer is not JSON: {e}"))?;
        return match body.get("verification").and_then(|v| v.as_str()) {
            Some(v) if v == challenge => Ok(()),
            _ => Err(format!(
                "the verification answer must be {{\"verification\":\"{challenge}\"}}, got {body}"
            )),
        };
    }
    Err(last)
}
