//! `oktamirror health`: asks a running server's `/readyz` (or `/healthz`) and exits 0 only when it
//! answers 200, so a container's `HEALTHCHECK` needs no shell or curl in the image.

use std::time::Duration;

use super::CliError;

/// Longest wait for the answer: a health probe that hangs is a failed probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks `url` once; prints the server's answer on success, and fails with what it said otherwise.
pub async fn run(url: &str) -> Result<(), CliError> {
    let shown = oktamirror::configuration::shown(url);
    let parsed = url::Url::parse(url).map_err(|e| {
        CliError::Failed(format!(
            "--url {shown:?} is not a URL ({e}); give one like http://127.0.0.1:8080/readyz"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(CliError::Failed(format!(
            "--url {shown:?} must start with http:// or https://"
        )));
    }
    let client = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start an HTTP client: {e}")))?;
    let answer = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("{shown} did not answer: {}", innermost(&e))))?;
    let status = answer.status();
    // The probe's body is a short JSON object; a larger one is cut, not buffered whole.
    let body = answer.text().await.unwrap_or_default();
    let body: String = body.chars().take(2000).collect();
    if status.is_success() {
        println!("{body}");
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{shown} answered {status}: {}",
            body.trim()
        )))
    }
}

/// The deepest cause of an error ("Connection refused", not "error sending request").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
