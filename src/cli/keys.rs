//! `oktamirror keys new|list|revoke`: API keys in the keys file. The key itself is printed once,
//! alone on the last line of stdout (so `KEY=$(oktamirror keys new …)` works); everything else
//! goes to stderr, and the file keeps only its hash.

use std::path::PathBuf;

use clap::Subcommand;

use oktamirror::access::keys;

use super::CliError;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key: prints it once on stdout; the keys file keeps only its SHA-256 hash
    New {
        /// The keys file (created 0600 if missing; `serve --keys-file` reads the same file)
        #[arg(long, env = "OKTAMIRROR_API_KEYS_FILE")]
        keys_file: PathBuf,
        /// A unique name for the app or person that will use the key, like hr-portal
        #[arg(long)]
        name: String,
        /// What the key may do: directory, hr, admin, provisioner or metrics
        #[arg(long)]
        role: String,
    },
    /// List the keys: names, roles and creation times (never the keys or their hashes)
    List {
        #[arg(long, env = "OKTAMIRROR_API_KEYS_FILE")]
        keys_file: PathBuf,
    },
    /// Revoke a key by name; a running server refuses it within 2 seconds
    Revoke {
        #[arg(long, env = "OKTAMIRROR_API_KEYS_FILE")]
        keys_file: PathBuf,
        #[arg(long)]
        name: String,
    },
}

fn failed(e: keys::KeysError) -> CliError {
    CliError::Failed(e.to_string())
}

pub fn run(command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New {
            keys_file,
            name,
            role,
        } => {
            let role = keys::parse_role(&role).map_err(failed)?;
            let (key, rec) = keys::create(&keys_file, &name, role).map_err(failed)?;
            eprintln!(
                "created the key \"{}\" (role {}) in {}. It is printed below, once: store it now, the file keeps only its hash. Send it as the header `Authorization: Bearer KEY`.",
                rec.name,
                rec.role,
                keys_file.display()
            );
            println!("{}", key.expose());
            Ok(())
        }
        KeysCommand::List { keys_file } => {
            let records = keys::list(&keys_file).map_err(failed)?;
            if records.is_empty() {
                eprintln!(
                    "no keys in {}: add one with `oktamirror keys new`",
                    keys_file.display()
                );
                return Ok(());
            }
            let width = records
                .iter()
                .map(|r| r.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!("{:width$}  {:11}  CREATED", "NAME", "ROLE");
            for r in records {
                println!(
                    "{:width$}  {:11}  {}",
                    r.name,
                    r.role.as_str(),
                    r.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { keys_file, name } => {
            let rec = keys::revoke(&keys_file, &name).map_err(failed)?;
            eprintln!(
                "revoked the key \"{}\" (role {}); a server reading {} refuses it within 2 seconds",
                rec.name,
                rec.role,
                keys_file.display()
            );
            Ok(())
        }
    }
}
