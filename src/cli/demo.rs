//! `oktamirror demo`: the built-in Okta simulator and a mirror of it, in one process on
//! loopback, so a newcomer sees a real org mirrored and queryable with one command.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oktamirror::configuration::{self, Settings};
use oktamirror::okta::Auth;
use oktamirror::secret::Secret;
use oktamirror::sim::{SimOptions, Simulator};
use oktamirror::startup::Application;

use super::CliError;

/// The example queries the demo prints, the README shows and CI runs against the demo server.
pub const EXAMPLES: &str = include_str!("../../schema/examples.graphql");

/// A random 128-bit hex token (from the OS-seeded hasher keys; no extra dependency).
pub fn random_token() -> String {
    let part = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", part(), part())
}

#[derive(clap::Args)]
pub struct DemoArgs {
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
    /// Require API keys from this file (made with `oktamirror keys new`), as `serve --keys-file`
    /// does: every request but the probes then needs `Authorization: Bearer KEY`
    #[arg(long)]
    keys_file: Option<PathBuf>,
}

pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    let DemoArgs {
        listen,
        users,
        seed,
        data_dir,
        keys_file,
    } = args;
    let listen = configuration::parse_listen(&listen)?;
    let started = Instant::now();
    let token = random_token();
    let simulator = Simulator::new(SimOptions {
        users,
        groups: None,
        seed,
        token: token.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CliError::Failed(format!("cannot start the simulator on loopback: {e}")))?;
    let sim_addr = simulator
        .serve(listener)
        .map_err(|e| CliError::Failed(format!("cannot start the simulator: {e}")))?;
    let tmp;
    let data_dir = match data_dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().map_err(|e| {
                CliError::Failed(format!("cannot create a temporary data directory: {e}"))
            })?;
            tmp.path().to_path_buf()
        }
    };
    let okta_url = configuration::parse_okta_url(&format!("http://{sim_addr}/"))?;
    let mut settings =
        Settings::defaults(okta_url, Auth::Ssws(Secret::new(token)), data_dir, listen);
    let keys = keys_file.is_some();
    settings.server.keys_file = keys_file;
    let app = Application::build(settings).await?;
    loop {
        let store = app.store();
        if let Some(run) = store.last_good_full_sync()? {
            eprintln!(
                "oktamirror demo: mirrored {} people and {} groups from the simulator in {:.1} s",
                run.users_fetched,
                run.groups_fetched,
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if let Some(run) = store.last_full_sync()?
            && let Some(err) = run.error
        {
            return Err(CliError::Failed(format!(
                "the demo's first sync failed: {err}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("http://{}/graphql", app.addr());
    println!("\nGraphiQL: {url}   (open it in a browser; Ctrl-C stops the demo)");
    println!("SCIM 2.0: http://{}/scim/v2   (read-only)", app.addr());
    if keys {
        println!("API keys are on: send `Authorization: Bearer KEY` with a key from the keys file");
    }
    println!();
    println!("Example queries (also in schema/examples.graphql):\n\n{EXAMPLES}");
    println!(
        "From a shell:\n  curl -s {url} -H 'content-type: application/json' \\\n    -d '{{\"query\":\"{{ syncStatus {{ ready people groups }} }}\"}}'\n"
    );
    Ok(app.run_until_stopped().await?)
}

#[cfg(test)]
mod tests {
    /// The README shows the same example queries that the demo prints and CI runs.
    #[test]
    fn readme_shows_every_example_query() {
        let readme = include_str!("../../README.md");
        let body: Vec<&str> = super::EXAMPLES
            .lines()
            .skip_while(|l| l.starts_with('#') || l.is_empty())
            .collect();
        assert!(body.iter().any(|l| l.starts_with("query ")));
        let body = body.join("\n");
        assert!(
            readme.contains(body.trim()),
            "README.md's GraphQL examples differ from schema/examples.graphql; copy them over"
        );
    }
}
