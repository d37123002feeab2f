//! The `oktamirror` command line: serve, sync, status, demo, sim, check, search and schema.
//! Each command validates its input first and stops with one sentence saying what to fix.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use oktamirror::configuration::{self, Overrides, Settings};
use oktamirror::model::SyncRun;
use oktamirror::okta::OktaSource;
use oktamirror::startup::Application;
use oktamirror::store::Store;
use oktamirror::sync::{self, Progress, ProgressEvent, Source};
use oktamirror::{api, demo, sim, telemetry};

mod search_cli;
mod status_cli;

#[derive(Parser)]
#[command(
    name = "oktamirror",
    version,
    about = "A live mirror of an Okta org's people and groups, served over GraphQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mirror an Okta org and serve it: crawl, then keep syncing and answer GraphQL
    Serve {
        #[command(flatten)]
        opts: Overrides,
    },
    /// Run one full sync into the data directory and exit
    Sync {
        /// Run a single full sync, then exit (continuous sync runs inside `serve`)
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        opts: Overrides,
    },
    /// Run the built-in Okta simulator and a mirror of it on loopback, to try oktamirror
    Demo {
        /// Address for the mirror's GraphQL server
        #[arg(long, default_value = configuration::DEFAULT_LISTEN)]
        listen: String,
        /// Users in the simulated org
        #[arg(long, default_value_t = 2000)]
        users: usize,
        /// Seed of the simulated org (the same seed gives the same org)
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Keep the mirror here instead of a temporary directory
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run only the Okta simulator (the Management API over a generated org)
    Sim {
        /// Users in the generated org
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Groups in the generated org (default: about one per 20 users)
        #[arg(long)]
        groups: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
        /// The SSWS token clients must send (default: a random one, printed at start)
        #[arg(long, env = "OKTAMIRROR_SIM_TOKEN")]
        token: Option<String>,
        /// Requests per minute every rate-limit bucket allows (default: Okta's published limits)
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Deliver event hooks (Okta's envelope, POST) for every change to this URL
        #[arg(long)]
        hook_url: Option<String>,
        /// Header sent with every hook delivery, as 'Name: value' (e.g. 'Authorization: Bearer xyz')
        #[arg(long, requires = "hook_url")]
        hook_header: Option<String>,
        /// Share of hook deliveries silently dropped, in percent
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
        hook_drop_percent: u32,
        /// Share of hook deliveries sent twice, in percent
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
        hook_duplicate_percent: u32,
    },
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
        /// How many of the latest runs to list
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Check the Okta side: domain, sign-in, each needed scope, rate-limit share; exits non-zero on any failure
    Check {
        #[command(flatten)]
        opts: Overrides,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(match cli.command {
        Command::Serve { .. } => "info",
        _ => "error",
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    let token_env = || std::env::var("OKTA_API_TOKEN").ok();
    match command {
        Command::Serve { opts } => {
            let settings = Settings::resolve(opts, token_env()).map_err(|e| e.to_string())?;
            let app = Application::build(settings)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "oktamirror: serving GraphQL on http://{}/graphql",
                app.addr()
            );
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Sync { once, opts } => {
            if !once {
                return Err("continuous sync runs inside `oktamirror serve`; for one full sync into the data directory, pass --once".into());
            }
            let settings = Settings::resolve(opts, token_env()).map_err(|e| e.to_string())?;
            sync_once(settings).await
        }
        Command::Demo {
            listen,
            users,
            seed,
            data_dir,
        } => {
            let listen = configuration::parse_listen(&listen).map_err(|e| e.to_string())?;
            demo::run(listen, users, seed, data_dir).await
        }
        Command::Sim {
            users,
            groups,
            seed,
            listen,
            token,
            rate_limit,
            hook_url,
            hook_header,
            hook_drop_percent,
            hook_duplicate_percent,
        } => {
            let hook = match hook_url {
                None => None,
                Some(url) => {
                    let scheme = url::Url::parse(&url).map(|u| u.scheme().to_string());
                    if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                        return Err(format!(
                            "--hook-url {url:?} is not an http:// or https:// URL"
                        ));
                    }
                    let mut hook = sim::EventHook::new(url);
                    hook.auth_header = hook_header
                        .as_deref()
                        .map(sim::EventHook::parse_header)
                        .transpose()?;
                    hook.drop_percent = hook_drop_percent;
                    hook.duplicate_percent = hook_duplicate_percent;
                    Some(hook)
                }
            };
            run_sim(users, groups, seed, &listen, token, rate_limit, hook).await
        }
        Command::Schema => {
            print!("{}", api::sdl());
            Ok(())
        }
        Command::Search {
            query,
            data_dir,
            limit,
        } => search_cli::run(&query, &data_dir, limit),
        Command::Status {
            data_dir,
            server,
            runs,
        } => status_cli::run(&data_dir, server.as_deref(), runs).await,
        Command::Check { opts } => {
            let settings = Settings::resolve(opts, token_env()).map_err(|e| e.to_string())?;
            check(settings).await
        }
    }
}

/// `oktamirror check`: prints one PASS/FAIL line per probe, each failure with its fix.
async fn check(settings: Settings) -> Result<(), String> {
    let client = oktamirror::okta::OktaClient::with_auth(
        settings.okta_url.clone(),
        settings.okta_auth.clone(),
        settings.okta_client.clone(),
    )
    .map_err(|e| e.to_string())?;
    let probes = oktamirror::okta::check::run(&client).await;
    print!("{}", oktamirror::okta::check::table(&probes));
    let failed = probes.iter().filter(|p| !p.ok).count();
    if failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "{failed} Okta check(s) failed; fix them as the table says, then run oktamirror check again"
        ))
    }
}

async fn sync_once(settings: Settings) -> Result<(), String> {
    let store = Store::open(&settings.data_dir).map_err(|e| e.to_string())?;
    let source = OktaSource::with_auth(
        settings.okta_url.clone(),
        settings.okta_auth.clone(),
        settings.okta_client.clone(),
    )
    .map_err(|e| e.to_string())?;
    source.preflight().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let progress = BarProgress::new();
    let run = sync::run_full(&store, &source as &dyn Source, &settings.sync, &progress).await;
    progress.finish();
    for w in &run.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("{}", summary(&run, started.elapsed().as_secs_f64()));
    match run.error {
        None => Ok(()),
        Some(e) => Err(format!(
            "the full sync failed and the mirror is unchanged: {e}"
        )),
    }
}

/// The one line `sync --once` ends with.
fn summary(run: &SyncRun, secs: f64) -> String {
    let c = &run.changes;
    format!(
        "oktamirror: full sync {} in {secs:.1} s: {} people, {} groups, {} memberships fetched with {} requests; \
         people {} created, {} updated, {} deleted; groups {} created, {} updated, {} deleted; memberships +{} -{}; \
         {} removals held; {} warnings",
        if run.ok { "complete" } else { "FAILED" },
        run.users_fetched,
        run.groups_fetched,
        run.memberships_fetched,
        run.requests,
        c.people_created,
        c.people_updated,
        c.people_deleted,
        c.groups_created,
        c.groups_updated,
        c.groups_deleted,
        c.members_added,
        c.members_removed,
        run.held.people.len() + run.held.groups.len(),
        run.warnings.len(),
    )
}

/// A progress bar on a terminal; nothing otherwise.
struct BarProgress(Option<indicatif::ProgressBar>);

impl BarProgress {
    fn new() -> BarProgress {
        if !std::io::stderr().is_terminal() {
            return BarProgress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        BarProgress(Some(bar))
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for BarProgress {
    fn event(&self, e: ProgressEvent) {
        let Some(bar) = &self.0 else { return };
        match e {
            ProgressEvent::Users(n) => bar.set_message(format!("users: {n}")),
            ProgressEvent::Groups(n) => bar.set_message(format!("groups: {n}")),
            ProgressEvent::Members { done, total } => {
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} group members {pos}/{len} {wide_bar} {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                }
                bar.set_position(done);
            }
            ProgressEvent::Applying => {
                bar.set_style(indicatif::ProgressStyle::default_spinner());
                bar.set_message("applying to the store");
            }
        }
    }
}

async fn run_sim(
    users: usize,
    groups: Option<usize>,
    seed: u64,
    listen: &str,
    token: Option<String>,
    rate_limit: Option<u32>,
    hook: Option<sim::EventHook>,
) -> Result<(), String> {
    let addr: SocketAddr = configuration::parse_listen(listen).map_err(|e| e.to_string())?;
    let token = token.unwrap_or_else(demo::random_token);
    let started = Instant::now();
    let simulator = sim::Simulator::new(sim::SimOptions {
        users,
        groups,
        seed,
        token: token.clone(),
    });
    if let Some(n) = rate_limit {
        if n == 0 {
            return Err("--rate-limit must be at least 1 request per minute".into());
        }
        simulator.set_rate_limits(sim::RateLimits {
            per_window: Some(n),
            ..Default::default()
        });
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}. Pick another port with --listen"))?;
    let addr = simulator.serve(listener).map_err(|e| e.to_string())?;
    let hook_line = hook.as_ref().map(|h| format!("Event hook: {}", h.url));
    // After `serve`: the envelope's `source` names the bound address.
    simulator.set_event_hook(hook);
    eprintln!(
        "oktamirror sim: {} users, {} groups (seed {seed}) generated in {:.1} s",
        simulator.users().len(),
        simulator.groups().len(),
        started.elapsed().as_secs_f64()
    );
    // A closed stdout (a parent that stopped reading) must not stop the simulator.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Okta URL:  http://{addr}");
    let _ = writeln!(out, "API token: {token}");
    if let Some(line) = hook_line {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "Try: curl -H 'Authorization: SSWS {token}' 'http://{addr}/api/v1/users?limit=2'"
    );
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
