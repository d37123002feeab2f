//! `oktamirror sim`: only the Okta simulator (the Management API over a generated org), for
//! trying a client against it or pointing a separate `serve` at it.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use oktamirror::configuration;
use oktamirror::sim;

use super::CliError;

#[derive(clap::Args)]
pub struct SimArgs {
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
}

impl SimArgs {
    /// The event hook the flags ask for, checked.
    fn hook(&self) -> Result<Option<sim::EventHook>, CliError> {
        let Some(url) = &self.hook_url else {
            return Ok(None);
        };
        let scheme = url::Url::parse(url).map(|u| u.scheme().to_string());
        if !matches!(scheme.as_deref(), Ok("http" | "https")) {
            return Err(CliError::Failed(format!(
                "--hook-url {url:?} is not an http:// or https:// URL"
            )));
        }
        let mut hook = sim::EventHook::new(url.clone());
        hook.auth_header = self
            .hook_header
            .as_deref()
            .map(sim::EventHook::parse_header)
            .transpose()
            .map_err(CliError::Failed)?;
        hook.drop_percent = self.hook_drop_percent;
        hook.duplicate_percent = self.hook_duplicate_percent;
        Ok(Some(hook))
    }
}

pub async fn run(args: SimArgs) -> Result<(), CliError> {
    let hook = args.hook()?;
    let addr: SocketAddr = configuration::parse_listen(&args.listen)?;
    let token = args.token.unwrap_or_else(super::demo::random_token);
    let started = Instant::now();
    let simulator = sim::Simulator::new(sim::SimOptions {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
        token: token.clone(),
    });
    if let Some(n) = args.rate_limit {
        if n == 0 {
            return Err(CliError::Failed(
                "--rate-limit must be at least 1 request per minute".into(),
            ));
        }
        simulator.set_rate_limits(sim::RateLimits {
            per_window: Some(n),
            ..Default::default()
        });
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::Failed(format!(
            "cannot listen on {addr}: {e}. Pick another port with --listen"
        ))
    })?;
    let addr = simulator
        .serve(listener)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let hook_line = hook.as_ref().map(|h| format!("Event hook: {}", h.url));
    // After `serve`: the envelope's `source` names the bound address.
    simulator.set_event_hook(hook);
    eprintln!(
        "oktamirror sim: {} users, {} groups (seed {}) generated in {:.1} s",
        simulator.users().len(),
        simulator.groups().len(),
        args.seed,
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
