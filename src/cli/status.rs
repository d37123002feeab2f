//! `oktamirror status`: the sync state and the latest runs, read from a data directory (no
//! server running) or asked of a running server over GraphQL; both print the same answer.

use std::path::Path;

use serde_json::{Value, json};

use oktamirror::access::{Mirror, Policy};
use oktamirror::api;
use oktamirror::store::Store;

use super::CliError;

/// The one query both ways answer.
const QUERY: &str = "query($first: Int!) {
  syncStatus { ready people groups memberships lastChangeSeq tailLagSeconds tailCaughtUpAt logCursor
    unresolvedManagers managerCycles
    lastSuccessfulFullSync { kind startedAt finishedAt } }
  syncRuns(first: $first) { id kind startedAt finishedAt ok events usersFetched groupsFetched
    requests retries rateLimited heldPeople heldGroups warnings error
    changes { total } }
  auditLog(first: 10) { at actor action outcome }
}";

/// Prints the status of the mirror in `data_dir`, or of the server at `server` when given.
pub async fn run(
    data_dir: &Path,
    server: Option<&str>,
    key: Option<&str>,
    runs: usize,
) -> Result<(), CliError> {
    let vars = json!({ "first": runs.clamp(1, 1000) });
    let data = match server {
        Some(url) => ask_server(url, key, vars).await.map_err(CliError::Failed)?,
        None => {
            let store = Store::open(data_dir).map_err(|e| {
                CliError::Failed(format!("{e}. If `oktamirror serve` is running on it, ask the server instead: oktamirror status --server http://127.0.0.1:8080"))
            })?;
            api::execute_offline(Mirror::new(store, None, Policy::default()), QUERY, vars)
                .await
                .map_err(CliError::Failed)?
        }
    };
    print!("{}", render(&data));
    Ok(())
}

async fn ask_server(url: &str, key: Option<&str>, vars: Value) -> Result<Value, String> {
    let endpoint = format!("{}/graphql", url.trim_end_matches('/'));
    let mut req = reqwest::Client::new().post(&endpoint);
    if let Some(key) = key {
        req = req.bearer_auth(key.trim());
    }
    let resp = req
        .header("accept", "application/json")
        .json(&json!({ "query": QUERY, "variables": vars }))
        .send()
        .await
        .map_err(|e| format!("cannot reach the server at {endpoint}: {e}. Check --server (like http://127.0.0.1:8080)"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{endpoint} did not answer GraphQL JSON (HTTP {status}): {e}"))?;
    if let Some(e) = body["errors"].get(0) {
        return Err(format!(
            "the server answered with an error: {}",
            e["message"]
        ));
    }
    Ok(body["data"].clone())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time to the second, in UTC, for a table.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or_else(
            || text(v),
            |t| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            },
        )
}

/// Seconds between two RFC 3339 times, or "-".
fn secs(start: &Value, end: &Value) -> String {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    match (parse(start), parse(end)) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a).num_milliseconds() as f64 / 1000.0),
        _ => "-".into(),
    }
}

fn render(data: &Value) -> String {
    let s = &data["syncStatus"];
    let mut out = String::new();
    let full = &s["lastSuccessfulFullSync"];
    out += &format!(
        "ready:           {}\n",
        if s["ready"] == true {
            format!(
                "yes (last good full sync {} took {} s)",
                text(&full["startedAt"]),
                secs(&full["startedAt"], &full["finishedAt"])
            )
        } else {
            "no: no full sync has completed yet".into()
        }
    );
    out += &format!(
        "mirror:          {} people, {} groups, {} memberships (change #{})\n",
        text(&s["people"]),
        text(&s["groups"]),
        text(&s["memberships"]),
        text(&s["lastChangeSeq"])
    );
    out += &format!(
        "System Log tail: {}\n",
        match s["tailLagSeconds"].as_f64() {
            Some(lag) => format!("caught up {lag:.1} s ago ({})", when(&s["tailCaughtUpAt"])),
            None => "not caught up yet".into(),
        }
    );
    out += &format!("log position:    {}\n", text(&s["logCursor"]));
    out += &format!(
        "managers:        {} unresolved references, {} cycles broken\n",
        text(&s["unresolvedManagers"]),
        text(&s["managerCycles"])
    );
    let runs = data["syncRuns"].as_array().cloned().unwrap_or_default();
    out += &format!("\nlatest runs ({}):\n", runs.len());
    out += &format!(
        "{:>6}  {:<9}  {:<19}  {:>7}  {:<4}  {:>6}  {:>7}  {:>7}  {:>8}  {:>7}  {:>4}  {:>4}  {}\n",
        "id",
        "kind",
        "started",
        "secs",
        "ok",
        "events",
        "fetched",
        "changes",
        "requests",
        "retries",
        "429s",
        "held",
        "notes"
    );
    for r in &runs {
        let fetched =
            r["usersFetched"].as_u64().unwrap_or(0) + r["groupsFetched"].as_u64().unwrap_or(0);
        let held = r["heldPeople"].as_u64().unwrap_or(0) + r["heldGroups"].as_u64().unwrap_or(0);
        let mut notes: Vec<String> = Vec::new();
        if let Some(e) = r["error"].as_str() {
            notes.push(format!("error: {e}"));
        }
        for w in r["warnings"].as_array().into_iter().flatten() {
            notes.push(text(w));
        }
        out += &format!(
            "{:>6}  {:<9}  {:<19}  {:>7}  {:<4}  {:>6}  {:>7}  {:>7}  {:>8}  {:>7}  {:>4}  {:>4}  {}\n",
            text(&r["id"]),
            text(&r["kind"]),
            when(&r["startedAt"]),
            secs(&r["startedAt"], &r["finishedAt"]),
            if r["ok"] == true { "yes" } else { "NO" },
            text(&r["events"]),
            fetched,
            text(&r["changes"]["total"]),
            text(&r["requests"]),
            text(&r["retries"]),
            text(&r["rateLimited"]),
            held,
            notes.join("; ")
        );
    }
    let audit = data["auditLog"].as_array().cloned().unwrap_or_default();
    if !audit.is_empty() {
        out += "\nLatest state-changing calls (audit log):\n";
        for e in &audit {
            out += &format!(
                "{}  {:<20}  {}  -> {}\n",
                when(&e["at"]),
                text(&e["actor"]),
                text(&e["action"]),
                text(&e["outcome"])
            );
        }
    }
    out
}
