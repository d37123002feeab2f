//! `oktamirror demo`: the built-in Okta simulator and a mirror of it, in one process on
//! loopback, so a newcomer sees a real org mirrored and queryable with one command.

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::configuration::Settings;
use crate::okta::{Auth, ClientOptions};
use crate::secret::Secret;
use crate::sim::{SimOptions, Simulator};
use crate::startup::Application;
use crate::sync::SyncConfig;

/// The example queries the demo prints, the README shows and CI runs against the demo server.
pub const EXAMPLES: &str = include_str!("../schema/examples.graphql");

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

pub async fn run(
    listen: SocketAddr,
    users: usize,
    seed: u64,
    data_dir: Option<PathBuf>,
) -> Result<(), String> {
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
        .map_err(|e| format!("cannot start the simulator on loopback: {e}"))?;
    let sim_addr = simulator.serve(listener).map_err(|e| e.to_string())?;
    let tmp;
    let data_dir = match data_dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir()
                .map_err(|e| format!("cannot create a temporary data directory: {e}"))?;
            tmp.path().to_path_buf()
        }
    };
    let okta_url = url::Url::parse(&format!("http://{sim_addr}/")).map_err(|e| e.to_string())?;
    let settings = Settings {
        okta_url,
        okta_auth: Auth::Ssws(Secret::new(token)),
        okta_client: ClientOptions::default(),
        data_dir,
        listen,
        sync: SyncConfig::default(),
        lanes: Default::default(),
        hook: None,
        search_attributes: Vec::new(),
    };
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let store = app.store();
        if let Some(run) = store.last_good_full_sync().map_err(|e| e.to_string())? {
            eprintln!(
                "oktamirror demo: mirrored {} people and {} groups from the simulator in {:.1} s",
                run.users_fetched,
                run.groups_fetched,
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if let Some(run) = store.last_full_sync().map_err(|e| e.to_string())?
            && let Some(err) = run.error
        {
            return Err(format!("the demo's first sync failed: {err}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("http://{}/graphql", app.addr());
    println!("\nGraphiQL: {url}   (open it in a browser; Ctrl-C stops the demo)\n");
    println!("Example queries (also in schema/examples.graphql):\n\n{EXAMPLES}");
    println!(
        "From a shell:\n  curl -s {url} -H 'content-type: application/json' \\\n    -d '{{\"query\":\"{{ syncStatus {{ ready people groups }} }}\"}}'\n"
    );
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    /// The README shows the same example queries that the demo prints and CI runs.
    #[test]
    fn readme_shows_every_example_query() {
        let readme = include_str!("../README.md");
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
