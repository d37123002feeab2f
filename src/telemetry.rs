//! Logging setup: `tracing` to stderr as text or one JSON object a line, filtered by
//! `OKTAMIRROR_LOG` or `RUST_LOG` (default info for `serve`).

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: one readable line per event, with its spans' fields as context.
    #[default]
    Text,
    /// For log pipelines: one JSON object a line, the event's fields at the top level and the
    /// fields of every enclosing span (a request's id, method, path, key name and operation; a
    /// sync step's number and run id) under `spans`.
    Json,
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(default_level: &str) {
    init_with(default_level, LogFormat::Text);
}

/// Installs the global subscriber writing `format`. Later calls do nothing.
pub fn init_with(default_level: &str, format: LogFormat) {
    let filter = std::env::var("OKTAMIRROR_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_target(true)
            .try_init(),
    };
}
