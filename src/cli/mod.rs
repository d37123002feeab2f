//! The `oktamirror` command line: the commands, their flags, and the one error type every
//! command ends with (`CliError`), printed by `main` as a single sentence to fix.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use oktamirror::configuration::{self, ConfigError, Options};
use oktamirror::okta::OktaError;
use oktamirror::search::SearchError;
use oktamirror::startup::StartupError;
use oktamirror::store::StoreError;
use oktamirror::telemetry::LogFormat;

mod backup;
mod check;
#[cfg(feature = "simulator")]
mod demo;
mod health;
mod keyring;
mod keys;
mod schema;
mod search;
mod serve;
mod setup;
#[cfg(feature = "simulator")]
mod sim;
mod status;
mod sync;

#[derive(Parser)]
#[command(
    name = "oktamirror",
    version,
    about = "A live mirror of an Okta org's people and groups, served over GraphQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text (for people) or json (one object a line, for log pipelines)
    #[arg(
        long,
        global = true,
        env = "OKTAMIRROR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(Subcommand)]
pub enum Command {
    /// Mirror an Okta org and serve it: crawl, then keep syncing and answer GraphQL
    Serve {
        #[command(flatten)]
        opts: Options,
    },
    /// Run one full sync into the data directory and exit
    Sync {
        /// Run a single full sync, then exit (continuous sync runs inside `serve`)
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        opts: Options,
    },
    /// Run the built-in Okta simulator and a mirror of it on loopback, to try oktamirror
    #[cfg(feature = "simulator")]
    Demo(demo::DemoArgs),
    /// Run only the Okta simulator (the Management API over a generated org)
    #[cfg(feature = "simulator")]
    Sim(sim::SimArgs),
    /// Print the GraphQL schema (SDL)
    Schema,
    /// Search the people in the local mirror (no server needed; stop `serve` first)
    Search {
        /// What to look for: names, login, email, title, department, city… ("jon smi")
        query: String,
        /// The data directory of the mirror
        #[arg(long, env = "OKTAMIRROR_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// How many matches to print
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Print the sync state and the latest runs, from a data directory or a running server
    Status {
        /// The data directory of a mirror that is not running
        #[arg(long, env = "OKTAMIRROR_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Ask a running server instead, like http://127.0.0.1:8080
        #[arg(long)]
        server: Option<String>,
        /// The API key (an hr or admin key) for a server that has keys
        #[arg(long, env = "OKTAMIRROR_API_KEY", hide_env_values = true)]
        key: Option<String>,
        /// How many of the latest runs to list
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Create, list and revoke API keys in a keys file (`serve --keys-file` reads it)
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Store or remove the Okta token (or OAuth private key) in the OS keyring, for okta_token_keyring
    Keyring {
        #[command(subcommand)]
        command: keyring::KeyringCommand,
    },
    /// Ask a running server whether it is ready (for container health checks); exits non-zero when not
    Health {
        /// The probe to ask: /readyz (ready to answer for the whole org) or /healthz (alive)
        #[arg(
            long,
            env = "OKTAMIRROR_HEALTH_URL",
            default_value = "http://127.0.0.1:8080/readyz"
        )]
        url: String,
    },
    /// Back up a mirror into one file: from a stopped mirror's data directory, or from a running server (--server)
    Backup {
        /// The data directory of a mirror that is not running
        #[arg(long, env = "OKTAMIRROR_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Ask a running server instead (it keeps serving and syncing), like http://127.0.0.1:8080
        #[arg(long)]
        server: Option<String>,
        /// An admin API key, for a server that has keys
        #[arg(long, env = "OKTAMIRROR_API_KEY", hide_env_values = true)]
        key: Option<String>,
        /// The backup file to write (replaced only once the new backup is complete and checked)
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty or new data directory, then start `serve` on it
    Restore {
        /// The data directory to restore into: it must be empty or not exist yet
        #[arg(long, env = "OKTAMIRROR_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The backup file (`oktamirror backup --out`)
        #[arg(long)]
        from: PathBuf,
    },
    /// Check the Okta side: domain, sign-in, each needed scope, rate-limit share; exits non-zero on any failure
    Check {
        #[command(flatten)]
        opts: Options,
    },
    /// Create the mirror's own read-only OAuth service app in Okta from a one-time admin token (on stdin or in OKTA_API_TOKEN); --rotate-key, --remove
    Setup(setup::SetupArgs),
}

impl Command {
    /// The log level when neither `OKTAMIRROR_LOG` nor `RUST_LOG` says: a server logs its
    /// work, a one-shot command only its errors.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve { .. } => "info",
            _ => "error",
        }
    }
}

/// Why a command stopped, as one sentence that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
    /// A command's own failure, already phrased with its fix.
    #[error("{0}")]
    Failed(String),
}

/// `OKTA_API_TOKEN`, read here so that configuration never touches the process environment.
fn token_env() -> Option<String> {
    std::env::var("OKTA_API_TOKEN").ok()
}

/// Runs one command to its end.
pub async fn run(command: Command, format: LogFormat) -> Result<(), CliError> {
    match command {
        Command::Serve { opts } => serve::run(opts, format).await,
        Command::Sync { once, opts } => sync::run(once, opts).await,
        #[cfg(feature = "simulator")]
        Command::Demo(args) => demo::run(args).await,
        #[cfg(feature = "simulator")]
        Command::Sim(args) => sim::run(args).await,
        Command::Schema => schema::run(),
        Command::Search {
            query,
            data_dir,
            limit,
        } => search::run(&query, &data_dir, limit),
        Command::Status {
            data_dir,
            server,
            key,
            runs,
        } => status::run(&data_dir, server.as_deref(), key.as_deref(), runs).await,
        Command::Backup {
            data_dir,
            server,
            key,
            out,
        } => backup::backup(&data_dir, server.as_deref(), key.as_deref(), &out).await,
        Command::Restore { data_dir, from } => backup::restore(&data_dir, &from),
        Command::Check { opts } => check::run(opts).await,
        Command::Setup(args) => setup::run(args).await,
        Command::Health { url } => health::run(&url).await,
        Command::Keys { command } => keys::run(command),
        Command::Keyring { command } => keyring::run(command),
    }
}
