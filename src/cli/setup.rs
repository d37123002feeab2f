//! `oktamirror setup`: turns a one-time admin token into the mirror's own least-privilege
//! API Services app (key pair, scopes, Read-Only Administrator role), checks it, writes the
//! key and the configuration; `--rotate-key` replaces the key, `--remove` deletes the app.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use oktamirror::configuration::{self, parse_okta_url};
use oktamirror::okta::setup::{Admin, AppInfo, DEFAULT_LABEL, NewKey, ROLE, SCOPES, SetupError};
use oktamirror::okta::{Auth, ClientOptions, OAuthConfig, OktaClient, check};
use oktamirror::secret::Secret;

use super::{CliError, token_env};

/// Where to find the revocation screen, said once at the end of every run that used the token.
const REVOKE: &str = "Revoke the admin token you gave setup now: Admin Console → Security → API → Tokens, then Revoke on that token (setup kept no copy of it, and the mirror never needs it).";

#[derive(clap::Args)]
pub struct SetupArgs {
    /// The Okta org URL, like https://example.okta.com
    #[arg(long, env = "OKTAMIRROR_OKTA_URL")]
    okta_url: String,
    /// The data directory: the private key goes here unless --key-file says otherwise
    #[arg(long, env = "OKTAMIRROR_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Where to write the app's private key (owner-only); default DATA_DIR/okta-app-key.jwk
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Add okta_url, okta_client_id and okta_private_key_file to this TOML file (created if
    /// missing; other settings in it are kept) instead of printing them
    #[arg(long)]
    write_config: Option<PathBuf>,
    /// The app's label in Okta, which setup finds it by
    #[arg(long, default_value = DEFAULT_LABEL)]
    label: String,
    /// Register a new key on the existing app, switch the key file to it, check it, then
    /// remove the old key (a running mirror keeps working: it reads the key file again)
    #[arg(long, conflicts_with = "remove")]
    rotate_key: bool,
    /// Deactivate and delete the app (the mirror can no longer sign in)
    #[arg(long)]
    remove: bool,
    /// Create the app without DPoP-bound tokens (on by default)
    #[arg(long)]
    no_dpop: bool,
}

/// The one-time admin token: `OKTA_API_TOKEN`, else the first line of standard input.
fn admin_token() -> Result<Secret, CliError> {
    if let Some(t) = token_env().filter(|t| !t.trim().is_empty()) {
        return Ok(Secret::new(t.trim()));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Paste a one-time API token of a super admin (it is used for this run only): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        CliError::Failed(format!(
            "cannot read the admin token from standard input: {e}"
        ))
    })?;
    let t = line.trim();
    if t.is_empty() {
        return Err(CliError::Failed(
            "no admin token: pass a super admin's API token on standard input or in OKTA_API_TOKEN (never as a flag), e.g. `oktamirror setup --okta-url URL < token.txt`".into(),
        ));
    }
    Ok(Secret::new(t))
}

fn fail(e: SetupError) -> CliError {
    CliError::Failed(e.to_string())
}

/// Writes `text` to `path` owner-only, atomically (a reader sees the old or the new file).
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let err = |e: std::io::Error| {
        CliError::Failed(format!(
            "cannot write the private key to {}: {e}; choose another place with --key-file",
            path.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".okta-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// The key file's text and `kid`, when it holds a usable key.
fn read_key(path: &Path) -> Option<(Secret, Option<String>, serde_json::Value)> {
    let text = std::fs::read_to_string(path).ok()?;
    let parsed = oktamirror::okta::setup::parse_key(&text).ok()?;
    Some((Secret::new(text), parsed.0, parsed.1))
}

/// The configuration lines setup owns.
fn config_lines(url: &str, client_id: &str, key: &Path) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    format!(
        "okta_url = {}\nokta_client_id = {}\nokta_private_key_file = {}\n",
        q(url),
        q(client_id),
        q(&key.display().to_string())
    )
}

/// Puts setup's keys at the top of `file` (top-level keys must precede any table), dropping
/// the old values of those keys and keeping every other line.
fn write_config(file: &Path, lines: &str) -> Result<(), CliError> {
    let old = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::Failed(format!(
                "cannot read {}: {e}",
                file.display()
            )));
        }
    };
    let owned = [
        "okta_url",
        "okta_client_id",
        "okta_private_key_file",
        "okta_key_id",
    ];
    let kept: Vec<&str> = old
        .lines()
        .filter(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            !owned.contains(&key)
        })
        .collect();
    let mut text = String::from(lines);
    if !kept.is_empty() {
        text.push_str(&kept.join("\n"));
        text.push('\n');
    }
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(CliError::Failed(format!(
            "{} would not be valid TOML after adding setup's keys ({e}); fix the file or give another --write-config",
            file.display()
        )));
    }
    std::fs::write(file, text)
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", file.display())))
}

/// Mints a token with the app's key and runs `check`'s probes, a few times while Okta's
/// grants settle. `Ok` is the report table.
async fn verify(
    url: &url::Url,
    client_id: &str,
    key: &Secret,
    key_file: &Path,
) -> Result<String, String> {
    let cfg = OAuthConfig {
        client_id: client_id.to_owned(),
        private_key: key.clone(),
        key_id: None,
        scopes: Vec::new(),
        dpop_key: None,
        key_file: Some(key_file.to_path_buf()),
    };
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        let client = OktaClient::with_auth(
            url.clone(),
            Auth::OAuth(cfg.clone()),
            ClientOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        let probes = check::run(&client).await;
        last = check::table(&probes);
        if probes.iter().all(|p| p.ok) {
            return Ok(last);
        }
    }
    Err(last)
}

/// What to run to finish or undo a half-made app.
fn partial(url: &str, app: &AppInfo, step: &str, e: &SetupError) -> CliError {
    CliError::Failed(format!(
        "setup stopped after creating the app \"{}\" (client id {}) while it tried to {step}: {e}\n\
         The app exists but is not ready. To finish it, fix the cause and run `oktamirror setup --okta-url {url}` again (it finds the app and completes it); to delete it instead, run `oktamirror setup --okta-url {url} --remove`.\n{REVOKE}",
        app.label, app.client_id
    ))
}

pub async fn run(args: SetupArgs) -> Result<(), CliError> {
    let url = parse_okta_url(&args.okta_url)?;
    let shown_url = url.as_str().trim_end_matches('/').to_owned();
    let key_path = args
        .key_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("okta-app-key.jwk"));
    let token = admin_token()?;
    let admin = Admin::new(url.clone(), token).map_err(fail)?;
    let found = admin.find_apps(&args.label).await.map_err(fail)?;
    if found.len() > 1 {
        let ids: Vec<&str> = found.iter().map(|a| a.id.as_str()).collect();
        return Err(CliError::Failed(format!(
            "{} apps are labelled \"{}\" ({}): delete the extra ones in the Admin Console (Applications) or choose another --label",
            found.len(),
            args.label,
            ids.join(", ")
        )));
    }
    let existing = found.into_iter().next();
    if args.remove {
        return remove(&admin, existing, &args.label, &key_path).await;
    }
    if args.rotate_key {
        let Some(app) = existing else {
            return Err(CliError::Failed(format!(
                "no app labelled \"{}\" to rotate the key of: run `oktamirror setup --okta-url {shown_url}` first",
                args.label
            )));
        };
        return rotate(&admin, &url, app, &key_path).await;
    }
    let (app, key) = match existing {
        Some(app) => {
            // Second run: the app is there; reuse it if our key is one of its active keys.
            let key = read_key(&key_path).filter(|(_, kid, _)| {
                kid.as_ref()
                    .is_some_and(|kid| app.keys.iter().any(|k| k.active && &k.kid == kid))
            });
            let Some((text, _, _)) = key else {
                return Err(CliError::Failed(format!(
                    "the app \"{}\" (client id {}) already exists, but {} holds none of its keys: run `oktamirror setup --okta-url {shown_url} --key-file FILE` with the key file it was made with, or `--rotate-key` to register a new key (no second app is created)",
                    app.label,
                    app.client_id,
                    key_path.display()
                )));
            };
            eprintln!(
                "Found the app \"{}\" (client id {}); completing and checking it.",
                app.label, app.client_id
            );
            (app, text)
        }
        None => {
            // Reuse a key a failed earlier run left, else make one; it is on disk before
            // the app exists, so a half-made app never has a key nobody holds.
            let (text, public) = match read_key(&key_path) {
                Some((text, Some(_), public)) => (text, public),
                Some(_) | None if key_path.exists() => {
                    return Err(CliError::Failed(format!(
                        "{} exists but is not a key setup made (a JWK with a kid): move it away or choose another --key-file",
                        key_path.display()
                    )));
                }
                _ => {
                    let k = NewKey::generate().map_err(fail)?;
                    write_private(&key_path, k.private_jwk.expose())?;
                    (k.private_jwk, k.public_jwk)
                }
            };
            let app = admin
                .create_app(&args.label, &public, !args.no_dpop)
                .await
                .map_err(|e| {
                    CliError::Failed(format!("{e}\nNothing was created in Okta. {REVOKE}"))
                })?;
            eprintln!(
                "Created the API Services app \"{}\" (client id {}).",
                app.label, app.client_id
            );
            (app, text)
        }
    };
    let changed = admin
        .complete(&app)
        .await
        .map_err(|e| partial(&shown_url, &app, "grant its scopes and assign its role", &e))?;
    for c in &changed {
        eprintln!("  {c}");
    }
    let report = verify(&url, &app.client_id, &key, &key_path).await.map_err(|table| {
        CliError::Failed(format!(
            "the app \"{}\" (client id {}) was set up, but the check with its key failed:\n{table}\
             Fix what the table says, then run `oktamirror setup --okta-url {shown_url}` again, or delete the app with `--remove`.\n{REVOKE}",
            app.label, app.client_id
        ))
    })?;
    eprint!("{report}");
    let lines = config_lines(&shown_url, &app.client_id, &key_path);
    match &args.write_config {
        Some(file) => {
            write_config(file, &lines)?;
            println!(
                "Wrote okta_url, okta_client_id and okta_private_key_file to {}. Start the mirror with: oktamirror serve --config {}",
                file.display(),
                file.display()
            );
        }
        None => {
            println!(
                "# Add to the mirror's configuration file, then run `oktamirror serve --config FILE`:"
            );
            print!("{lines}");
        }
    }
    println!(
        "The app has {} and the {ROLE} role; its private key is {} (owner-only).",
        SCOPES.join(" "),
        key_path.display()
    );
    println!("{REVOKE}");
    Ok(())
}

/// Adds a new key, points the key file at it, checks it, then removes the old keys; on a
/// failed check the old key file comes back and the new key is removed.
async fn rotate(
    admin: &Admin,
    url: &url::Url,
    app: AppInfo,
    key_path: &Path,
) -> Result<(), CliError> {
    let new = NewKey::generate().map_err(fail)?;
    let old_text = std::fs::read_to_string(key_path).ok();
    let added = admin
        .add_key(&app.id, &new.public_jwk)
        .await
        .map_err(fail)?;
    write_private(key_path, new.private_jwk.expose())?;
    if let Err(table) = verify(url, &app.client_id, &new.private_jwk, key_path).await {
        if let Some(old) = &old_text {
            write_private(key_path, old)?;
        }
        let undo = admin.remove_key(&app.id, &added).await;
        return Err(CliError::Failed(format!(
            "the new key failed the check, so {} holds the old key again{}:\n{table}{REVOKE}",
            key_path.display(),
            match undo {
                Ok(()) => " and the new key was removed from the app".to_owned(),
                Err(e) => format!(" (removing the new key from the app failed too: {e})"),
            }
        )));
    }
    let fresh = admin.get_app(&app.id).await.map_err(fail)?;
    for old in fresh.keys.iter().filter(|k| k.id != added.id) {
        admin.remove_key(&app.id, old).await.map_err(|e| {
            CliError::Failed(format!(
                "the mirror now uses the new key, but removing the old key {} failed: {e}; remove it in the Admin Console (the app's General tab, Public keys). {REVOKE}",
                old.kid
            ))
        })?;
    }
    println!(
        "Rotated the key of \"{}\" (client id {}): {} now holds the new key {}, and the old key is removed from Okta.",
        app.label,
        app.client_id,
        key_path.display(),
        new.kid
    );
    println!("{REVOKE}");
    Ok(())
}

async fn remove(
    admin: &Admin,
    existing: Option<AppInfo>,
    label: &str,
    key_path: &Path,
) -> Result<(), CliError> {
    let Some(app) = existing else {
        println!("There is no app labelled \"{label}\": nothing to remove.");
        println!("{REVOKE}");
        return Ok(());
    };
    admin.delete_app(&app).await.map_err(fail)?;
    println!(
        "Deactivated and deleted the app \"{}\" (client id {}); a mirror using it can no longer sign in. Delete its private key {} too.",
        app.label,
        app.client_id,
        key_path.display()
    );
    println!("{REVOKE}");
    Ok(())
}
