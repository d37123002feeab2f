//! `oktamirror demo`: the built-in Okta simulator and a mirror of it, in one process on
//! loopback, so a newcomer sees a real org mirrored and queryable with one command.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oktamirror::configuration::{self, Settings};
use oktamirror::okta::Auth;
use oktamirror::secret::Secret;
use oktamirror::sim::{AdminRole, OIDC_PATH, OidcApp, SimOptions, Simulator};
use oktamirror::startup::Application;

use super::CliError;

/// The demo's OIDC web app in the simulator.
const DEMO_OIDC_CLIENT: &str = "0oademodirectory";

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
    /// Where the mirror's people come from: okta (it crawls the simulator's Management API) or
    /// scim (provisioning mode: the simulator pushes its org as Okta's SCIM app would)
    #[arg(long, default_value = "okta", value_parser = ["okta", "scim"])]
    source: String,
}

pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    let DemoArgs {
        listen,
        users,
        seed,
        data_dir,
        keys_file,
        source,
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
    if source == "scim" {
        return provisioning(simulator, data_dir, listen, keys_file, started).await;
    }
    let okta_url = configuration::parse_okta_url(&format!("http://{sim_addr}/"))?;
    let mut settings =
        Settings::defaults(okta_url, Auth::Ssws(Secret::new(token)), data_dir, listen);
    let keys = keys_file.is_some();
    settings.server.keys_file = keys_file;
    // With keys on, the directory signs browsers in with the simulator's OIDC provider.
    let oidc_secret = random_token();
    if keys {
        settings.server.oidc = Some(oktamirror::api::OidcSettings {
            issuer: url::Url::parse(&format!("http://{sim_addr}{OIDC_PATH}"))
                .map_err(|e| CliError::Failed(format!("the simulator's issuer URL: {e}")))?,
            client_id: DEMO_OIDC_CLIENT.into(),
            client_secret: Secret::new(oidc_secret.as_str()),
            redirect_url: None,
            secure_cookies: false,
        });
    }
    let app = Application::build(settings).await?;
    let addr = app.addr();
    if keys {
        let redirects = [
            format!("http://{addr}/auth/callback"),
            format!("http://localhost:{}/auth/callback", addr.port()),
        ];
        simulator.enable_oidc(OidcApp::new(
            DEMO_OIDC_CLIENT,
            &oidc_secret,
            &[redirects[0].as_str(), redirects[1].as_str()],
        ));
    }
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
    println!(
        "\nPeople directory: http://{}/   (open it in a browser; Ctrl-C stops the demo)",
        app.addr()
    );
    println!("GraphiQL: {url}");
    println!("SCIM 2.0: http://{}/scim/v2   (read-only)", app.addr());
    // The two-command path for a real org, against the simulator: a super admin's one-time
    // token for this simulated org only.
    let setup_token = random_token();
    simulator.add_admin_token(&setup_token, AdminRole::SuperAdmin);
    println!(
        "OAuth setup path (what a real org takes), on the simulator:\n  echo {setup_token} | oktamirror setup --okta-url http://{sim_addr} --data-dir /tmp/oktamirror-setup --write-config /tmp/oktamirror-setup.toml\n  oktamirror serve --config /tmp/oktamirror-setup.toml --data-dir /tmp/oktamirror-setup --listen 127.0.0.1:8081"
    );
    if keys {
        println!("API keys are on: send `Authorization: Bearer KEY` with a key from the keys file");
        let someone = simulator
            .users()
            .into_iter()
            .find(|u| u["status"] == "ACTIVE")
            .and_then(|u| u["profile"]["login"].as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "The directory signs you in with the simulator's Okta: type any active user's login, like {someone}"
        );
    }
    println!();
    println!("Example queries (also in schema/examples.graphql):\n\n{EXAMPLES}");
    println!(
        "From a shell:\n  curl -s {url} -H 'content-type: application/json' \\\n    -d '{{\"query\":\"{{ syncStatus {{ ready people groups }} }}\"}}'\n"
    );
    Ok(app.run_until_stopped().await?)
}

/// `demo --source scim`: a provisioning-mode mirror that the simulator provisions with Okta's
/// SCIM requests (a `provisioner` key in a keys file next to the data), then keeps pushing the
/// org's changes to (the simulator changes a few people every few seconds). An `admin` key is
/// printed for reading.
async fn provisioning(
    simulator: Simulator,
    data_dir: PathBuf,
    listen: std::net::SocketAddr,
    keys_file: Option<PathBuf>,
    started: Instant,
) -> Result<(), CliError> {
    use oktamirror::access::{Role, keys};

    let failed = |what: &str, e: &dyn std::fmt::Display| CliError::Failed(format!("{what}: {e}"));
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| failed(&format!("cannot create {}", data_dir.display()), &e))?;
    let keys_file = keys_file.unwrap_or_else(|| data_dir.join("demo-keys.jsonl"));
    let stamp = random_token();
    let (pusher, _) = keys::create(
        &keys_file,
        &format!("demo-okta-scim-{stamp}"),
        Role::Provisioner,
    )
    .map_err(|e| failed("cannot create the demo's provisioner key", &e))?;
    let (reader, _) = keys::create(&keys_file, &format!("demo-admin-{stamp}"), Role::Admin)
        .map_err(|e| failed("cannot create the demo's admin key", &e))?;
    let mut settings = Settings::provisioning(data_dir.join("mirror"), listen);
    settings.server.keys_file = Some(keys_file.clone());
    let app = Application::build(settings).await?;
    let base = format!("http://{}/scim/v2", app.addr());
    let push = std::sync::Arc::new(simulator.scim_push(oktamirror::sim::ScimPushOptions::new(
        &base,
        pusher.expose(),
    )));
    push.provision()
        .await
        .map_err(|e| failed("the simulator could not provision the mirror", &e))?;
    let c = push.counts();
    eprintln!(
        "oktamirror demo: the simulator pushed {} people and {} groups over SCIM in {:.1} s",
        c.users_created,
        c.groups_created,
        started.elapsed().as_secs_f64()
    );
    simulator
        .start_churn(Duration::from_secs(5))
        .map_err(|e| failed("cannot start the simulator's changes", &e))?;
    let (stop_push, stopped) = tokio::sync::watch::channel(false);
    let pushing = {
        let push = push.clone();
        tokio::spawn(async move { push.run(stopped).await })
    };
    let url = format!("http://{}/graphql", app.addr());
    println!("\nGraphiQL: {url}   (open it in a browser; Ctrl-C stops the demo)");
    println!(
        "SCIM 2.0: {base}   (provisioning mode: the simulator pushes to it as Okta's SCIM app)"
    );
    println!(
        "Read with the admin key (GraphiQL: Headers {{\"Authorization\": \"Bearer KEY\"}}), printed once:\n{}",
        reader.expose()
    );
    println!(
        "From a shell:\n  curl -s {url} -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' \\\n    -d '{{\"query\":\"{{ changes(first: 5) {{ entries {{ kind id fields }} }} }}\"}}'\n"
    );
    let result = app.run_until_stopped().await;
    let _ = stop_push.send(true);
    let _ = pushing.await;
    Ok(result?)
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
