//! Outbound webhooks: the change feed POSTed to each configured URL as the mirror applies it,
//! signed with HMAC-SHA256, retried with backoff, dead-lettered (and counted) after the last try.
//!
//! Each webhook reads the feed through a `View` of its own role, so it carries exactly what a
//! key of that role would read from `changes`, and keeps its position in
//! `<data_dir>/webhooks/NAME.position`: a restart resumes after the last delivered entry.
//! Delivery is at least once (a crash between a POST and saving its position sends that batch
//! again); every entry carries its `cursor`, the same as the GraphQL feed's, for receivers to
//! drop what they already applied.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::graphql::cursor::{self, Kind};
use crate::access::{AccessError, Caller, FeedEntry, FeedKind, Mirror};
use crate::secret::Secret;

/// Entries per POST at most.
const BATCH: usize = 100;
/// The longest wait between two tries of one delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A webhook wakes at least this often even without a write (a missed wake-up costs no more).
const IDLE_WAKE: Duration = Duration::from_secs(30);
/// The header carrying `t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, "t.body"))`.
pub const SIGNATURE_HEADER: &str = "X-Oktamirror-Signature";
/// The header naming the delivery (`NAME:FROM-TO`, by change-log positions): the same for every
/// try of one batch.
pub const DELIVERY_HEADER: &str = "X-Oktamirror-Delivery";

/// One configured webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its name, in logs, metrics and its position file.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: url::Url,
    /// The kinds of change it sends; `None` for all.
    pub kinds: Option<Vec<FeedKind>>,
    /// The HMAC-SHA256 key deliveries are signed with.
    pub secret: Secret,
    /// Whose view of the mirror it sends (its role decides what is in the feed).
    pub caller: Caller,
    /// Tries per delivery before its entries are dead-lettered.
    pub max_attempts: u32,
    /// The first wait before a retry; doubled each try up to five minutes.
    pub retry_initial: Duration,
    /// How long one POST may take.
    pub timeout: Duration,
}

/// Delivers the change feed to every webhook until `stop` turns true.
pub async fn deliver_webhooks(
    mirror: Arc<Mirror>,
    hooks: Vec<Webhook>,
    data_dir: PathBuf,
    stop: watch::Receiver<bool>,
) {
    let dir = data_dir.join("webhooks");
    let tasks: Vec<_> = hooks
        .into_iter()
        .map(|h| tokio::spawn(run(mirror.clone(), h, dir.clone(), stop.clone())))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// Waits `d`, or less when the server stops; true when it stopped.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// One webhook's loop: read what follows its position, deliver it, save the new position.
async fn run(mirror: Arc<Mirror>, hook: Webhook, dir: PathBuf, mut stop: watch::Receiver<bool>) {
    let http = match reqwest::Client::builder()
        .user_agent(concat!("oktamirror/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10).min(hook.timeout))
        .timeout(hook.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(webhook = %hook.name, "cannot build the webhook's HTTP client: {e}");
            return;
        }
    };
    let file = dir.join(format!("{}.position", hook.name));
    let mut written = mirror.written();
    let mut pos = match load_position(&file) {
        Ok(Some(p)) => p,
        Ok(None) => {
            // A new webhook starts at the head: it promises changes from now on (history is
            // the `changes` query's job).
            match mirror.view(hook.caller.clone()).changes_head() {
                Ok(head) => head,
                Err(e) => {
                    tracing::error!(webhook = %hook.name, "cannot read the change log: {}", e.message());
                    return;
                }
            }
        }
        Err(e) => {
            tracing::error!(webhook = %hook.name, "cannot read {}: {e}; the webhook stays off until it is fixed or removed", file.display());
            return;
        }
    };
    tracing::info!(webhook = %hook.name, url = %hook.url, after = pos, "webhook delivering");
    let sender = Sender {
        hook: &hook,
        http: &http,
    };
    loop {
        if *stop.borrow() {
            return;
        }
        crate::metrics::global().webhook_position(&hook.name, pos);
        written.borrow_and_update();
        let view = mirror.view(hook.caller.clone());
        let next = match view.changes(pos, BATCH) {
            Ok((entries, end)) => {
                let entries: Vec<FeedEntry> = entries
                    .into_iter()
                    .filter(|e| hook.kinds.as_ref().is_none_or(|k| k.contains(&e.kind)))
                    .collect();
                if !entries.is_empty() {
                    let body = payload(&hook.name, &entries, end, None);
                    if !sender
                        .deliver(pos, end, body, entries.len(), &mut stop)
                        .await
                    {
                        return;
                    }
                }
                end
            }
            Err(AccessError::CursorExpired { oldest, .. }) => {
                // Down longer than the retention, or a first sync logged as one initial-load
                // entry: the entries in between are not in the log. Say so, so the receiver
                // reads the mirror again, and go on from the oldest entry held.
                tracing::warn!(
                    webhook = %hook.name,
                    after = pos,
                    oldest,
                    "the change log no longer holds the entries after the webhook's position (pruned, or a first sync loaded as one entry); sending resyncRequired and going on from the oldest entry held"
                );
                let resume = oldest.saturating_sub(1);
                let body = payload(&hook.name, &[], resume, Some(pos));
                if !sender.deliver(pos, resume, body, 0, &mut stop).await {
                    return;
                }
                resume
            }
            Err(e) => {
                tracing::error!(webhook = %hook.name, "cannot read the change feed: {}", e.message());
                if pause(Duration::from_secs(5), &mut stop).await {
                    return;
                }
                continue;
            }
        };
        if next != pos {
            pos = next;
            if let Err(e) = save_position(&file, pos) {
                tracing::error!(webhook = %hook.name, "cannot save the webhook's position to {}: {e}", file.display());
            }
            continue;
        }
        tokio::select! {
            r = written.changed() => {
                if r.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep(IDLE_WAKE) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One webhook's HTTP side.
struct Sender<'a> {
    hook: &'a Webhook,
    http: &'a reqwest::Client,
}

impl Sender<'_> {
    /// POSTs `body` until it is accepted (2xx) or the tries run out (the entries are then
    /// dead-lettered). False when the server stopped first (the batch will be sent again).
    async fn deliver(
        &self,
        from: u64,
        to: u64,
        body: Vec<u8>,
        entries: usize,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let hook = self.hook;
        let id = format!("{}:{from}-{to}", hook.name);
        let metrics = crate::metrics::global();
        let mut wait = hook.retry_initial;
        for attempt in 1..=hook.max_attempts {
            let failure = match self.post(&id, &body).await {
                Ok(()) => {
                    metrics.webhook_delivery(&hook.name, "delivered", entries as u64);
                    return true;
                }
                Err(f) => f,
            };
            if attempt == hook.max_attempts {
                metrics.webhook_delivery(&hook.name, "dead_lettered", entries as u64);
                tracing::error!(
                    webhook = %hook.name,
                    delivery = %id,
                    entries,
                    "webhook delivery failed {attempt} times ({}); its entries are dead-lettered (oktamirror_webhook_dead_letters_total) and the webhook goes on",
                    failure.reason
                );
                return true;
            }
            metrics.webhook_delivery(&hook.name, "retried", entries as u64);
            let delay = failure.retry_after.unwrap_or(wait).min(MAX_BACKOFF);
            tracing::warn!(
                webhook = %hook.name,
                delivery = %id,
                attempt,
                "webhook delivery failed ({}); trying again in {} ms",
                failure.reason,
                delay.as_millis()
            );
            if pause(delay, stop).await {
                return false;
            }
            wait = wait.saturating_mul(2).min(MAX_BACKOFF);
        }
        true
    }

    /// One POST.
    async fn post(&self, id: &str, body: &[u8]) -> Result<(), Failure> {
        let t = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(self.hook.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, id)
            .header(SIGNATURE_HEADER, signature(&self.hook.secret, t, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure {
                // reqwest's text names the URL, which holds no secret (the key signs, it is
                // never sent).
                reason: e.to_string(),
                retry_after: None,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failure {
            reason: format!("the receiver answered {status}"),
            retry_after,
        })
    }
}

/// Why one POST failed, and when the receiver asked to be tried again.
struct Failure {
    reason: String,
    retry_after: Option<Duration>,
}

/// `t=T,v1=HEX`: the HMAC-SHA256 of `"T.BODY"` under the webhook's secret. The time inside the
/// signed text lets receivers refuse replays of old deliveries.
pub fn signature(secret: &Secret, t: i64, body: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// The JSON body of one delivery. `gap_after`: the position the webhook had reached when the
/// change log had already pruned past it (`resyncRequired`).
fn payload(name: &str, entries: &[FeedEntry], end: u64, gap_after: Option<u64>) -> Vec<u8> {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "cursor": cursor::encode(Kind::Change, &e.seq.to_string()),
                "at": e.at,
                "kind": e.kind.as_str(),
                "id": e.id,
                "fields": e.fields,
                "added": e.added,
                "removed": e.removed,
            })
        })
        .collect();
    let mut body = json!({
        "webhook": name,
        "entries": entries,
        "endCursor": cursor::encode(Kind::Change, &end.to_string()),
        "resyncRequired": gap_after.is_some(),
    });
    if let Some(after) = gap_after {
        body["lostAfter"] = json!(cursor::encode(Kind::Change, &after.to_string()));
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The saved position, if the webhook has one.
fn load_position(file: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::read_to_string(file) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a change-log position; delete the file to start the webhook from the head",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Saves the position: written beside, then renamed over, so a crash leaves the old or the new.
fn save_position(file: &Path, pos: u64) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("position.tmp");
    std::fs::write(&tmp, pos.to_string())?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_time_dot_body() {
        // Expected value from Python's hmac module:
        // hmac.new(b"Jefe", b"12.body", hashlib.sha256).hexdigest()
        assert_eq!(
            signature(&Secret::new("Jefe"), 12, b"body"),
            "t=12,v1=7a2ce2402de2c5d2be800321a847e14a5fc9fe9ae7839bcdb00a8625ed49b888"
        );
    }

    #[test]
    fn positions_survive_a_round_trip_and_garbage_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("webhooks").join("a.position");
        assert_eq!(load_position(&f).expect("none"), None);
        save_position(&f, 42).expect("save");
        assert_eq!(load_position(&f).expect("some"), Some(42));
        std::fs::write(&f, "forty-two").expect("write");
        assert!(load_position(&f).is_err());
    }
}
