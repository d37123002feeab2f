//! `oktamirror sim`: only the Okta simulator (the Management API over a generated org), for
//! trying a client against it or pointing a separate `serve` at it.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

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
    /// Ignore unknown query parameters instead of answering 400 (Okta-like is the default)
    #[arg(long)]
    ignore_unknown_params: bool,
    /// Scope the token's admin role to this group (id or name; repeatable): other users and
    /// groups answer 403 and are left out of lists
    #[arg(long = "admin-scope")]
    admin_scope: Vec<String>,
    /// List cursors (`after`) expire this many seconds after they were issued
    #[arg(long)]
    cursor_ttl_secs: Option<u64>,
    /// System Log events persist up to this many milliseconds after `published`
    #[arg(long, default_value_t = 0)]
    log_delay_ms: u64,
    /// Every this many milliseconds a few ACTIVE users sign in (lastLogin, user.session.start)
    #[arg(long)]
    sign_in_every_ms: Option<u64>,
    /// Every this many milliseconds one random admin change (deletions included)
    #[arg(long)]
    churn_every_ms: Option<u64>,
    /// Also serve the org on this address (its other domain) and point `next` links there
    #[arg(long)]
    second_listen: Option<String>,
    /// Share of every rate-limit bucket one token may use, in percent (Okta's default is 50)
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
    token_share_percent: u32,
    /// Requests in flight at once before concurrency 429s (Okta Workforce: 75)
    #[arg(long, default_value_t = 75)]
    max_concurrent: u32,
    /// Provision the org into this SCIM 2.0 base URL with the requests Okta's SCIM app sends
    /// (e.g. http://127.0.0.1:8080/scim/v2 of a mirror in provisioning mode), then keep pushing
    /// its changes
    #[arg(long)]
    scim_push: Option<String>,
    /// The bearer token for --scim-push (a provisioner key); never printed
    #[arg(long, env = "OKTAMIRROR_SCIM_TOKEN", hide_env_values = true)]
    scim_token: Option<String>,
}

impl SimArgs {
    /// The event hook the flags ask for, checked.
    /// The SCIM push the flags ask for, checked.
    fn scim_push(&self) -> Result<Option<sim::ScimPushOptions>, CliError> {
        let Some(url) = &self.scim_push else {
            return Ok(None);
        };
        let scheme = url::Url::parse(url).map(|u| u.scheme().to_string());
        if !matches!(scheme.as_deref(), Ok("http" | "https")) {
            return Err(CliError::Failed(format!(
                "--scim-push {url:?} is not an http:// or https:// URL (give the SCIM base, like http://127.0.0.1:8080/scim/v2)"
            )));
        }
        let token = self.scim_token.as_deref().filter(|t| !t.trim().is_empty());
        let Some(token) = token else {
            return Err(CliError::Failed(
                "--scim-push needs --scim-token KEY (or OKTAMIRROR_SCIM_TOKEN): a provisioner key made with `oktamirror keys new --role provisioner`".into(),
            ));
        };
        Ok(Some(sim::ScimPushOptions::new(url, token.trim())))
    }

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
    let scim_push = args.scim_push()?;
    let addr: SocketAddr = configuration::parse_listen(&args.listen)?;
    let token = args.token.unwrap_or_else(super::demo::random_token);
    let started = Instant::now();
    let simulator = sim::Simulator::new(sim::SimOptions {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
        token: token.clone(),
    });
    if args.rate_limit == Some(0) {
        return Err(CliError::Failed(
            "--rate-limit must be at least 1 request per minute".into(),
        ));
    }
    simulator.set_rate_limits(sim::RateLimits {
        per_window: args.rate_limit,
        token_share_percent: args.token_share_percent,
        max_concurrent: Some(args.max_concurrent),
        ..Default::default()
    });
    simulator.set_reject_unknown_params(!args.ignore_unknown_params);
    if !args.admin_scope.is_empty() {
        let names: Vec<&str> = args.admin_scope.iter().map(String::as_str).collect();
        let unknown = simulator.scope_admin_to_groups(Some(&names));
        if !unknown.is_empty() {
            return Err(CliError::Failed(format!(
                "--admin-scope names no group: {}",
                unknown.join(", ")
            )));
        }
    }
    simulator.set_cursor_ttl(args.cursor_ttl_secs.map(Duration::from_secs));
    simulator.set_log_delay(Duration::from_millis(args.log_delay_ms));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::Failed(format!(
            "cannot listen on {addr}: {e}. Pick another port with --listen"
        ))
    })?;
    let addr = simulator
        .serve(listener)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let second = match &args.second_listen {
        Some(listen) => {
            let addr: SocketAddr = configuration::parse_listen(listen)?;
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                CliError::Failed(format!("cannot listen on {addr} (--second-listen): {e}"))
            })?;
            let addr = simulator
                .serve_second_host(listener)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            simulator.set_next_link_base(Some(format!("http://{addr}")));
            Some(addr)
        }
        None => None,
    };
    let background =
        |what: &str, e: std::io::Error| CliError::Failed(format!("cannot start {what}: {e}"));
    if let Some(ms) = args.sign_in_every_ms {
        simulator
            .start_sign_ins(Duration::from_millis(ms.max(1)), 3)
            .map_err(|e| background("sign-ins", e))?;
    }
    if let Some(ms) = args.churn_every_ms {
        simulator
            .start_churn(Duration::from_millis(ms.max(1)))
            .map_err(|e| background("churn", e))?;
    }
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
    if let Some(addr) = second {
        let _ = writeln!(out, "Other host (next links): http://{addr}");
    }
    let _ = writeln!(out, "API token: {token}");
    if let Some(line) = hook_line {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "Try: curl -H 'Authorization: SSWS {token}' 'http://{addr}/api/v1/users?limit=2'"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pushing = scim_push.map(|opts| {
        let _ = writeln!(
            out,
            "SCIM push: {} (provisioning the org, then its changes)",
            opts.base_url
        );
        let push = simulator.scim_push(opts);
        tokio::spawn(async move { push.run(stopped).await })
    });
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    if let Some(task) = pushing {
        let _ = task.await;
    }
    Ok(())
}
