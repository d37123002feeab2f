//! `oktamirror keyring set|delete NAME`: the Okta token (or OAuth private key) in the OS keyring,
//! read by `okta_token_keyring = "NAME"`. The secret comes from standard input only (never a
//! flag, which `ps` shows) and is never echoed or printed.

use std::io::{IsTerminal, Read};

use clap::Subcommand;

use oktamirror::secret::{Secret, keyring};

use super::CliError;

#[derive(Subcommand)]
pub enum KeyringCommand {
    /// Store a secret read from standard input (a terminal does not show it): `oktamirror keyring set oktamirror/acme < token.txt`
    Set {
        /// The entry's name, as okta_token_keyring gives it, like oktamirror/acme
        name: String,
    },
    /// Remove the entry
    Delete {
        /// The entry's name
        name: String,
    },
}

fn failed(e: keyring::KeyringError) -> CliError {
    CliError::Failed(e.to_string())
}

pub fn run(command: KeyringCommand) -> Result<(), CliError> {
    match command {
        KeyringCommand::Set { name } => {
            let secret = read_secret()?;
            keyring::store(&name, &secret).map_err(failed)?;
            eprintln!(
                "stored the secret ({} bytes) as \"{name}\" in {}; the mirror reads it with okta_token_keyring = \"{name}\"",
                secret.expose().len(),
                keyring::describe()
            );
            Ok(())
        }
        KeyringCommand::Delete { name } => {
            keyring::delete(&name).map_err(failed)?;
            eprintln!("removed \"{name}\" from {}", keyring::describe());
            Ok(())
        }
    }
}

/// The secret from standard input: all of it when piped (a PEM key spans lines), one line from a
/// terminal with echo switched off. Surrounding whitespace is trimmed.
fn read_secret() -> Result<Secret, CliError> {
    let stdin = std::io::stdin();
    let text = if stdin.is_terminal() {
        let echo_off = stty("-echo");
        if !echo_off {
            return Err(CliError::Failed(
                "cannot switch off the terminal's echo (stty failed), and the secret must not be shown: pipe it in instead, like `oktamirror keyring set NAME < token.txt`".into(),
            ));
        }
        eprint!("Paste the secret and press Enter (it is not shown): ");
        let mut line = String::new();
        let read = stdin.read_line(&mut line);
        stty("echo");
        eprintln!();
        read.map_err(|e| CliError::Failed(format!("cannot read standard input: {e}")))?;
        line
    } else {
        let mut all = String::new();
        stdin
            .lock()
            .read_to_string(&mut all)
            .map_err(|e| CliError::Failed(format!("cannot read standard input: {e}")))?;
        all
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CliError::Failed(
            "standard input held nothing: give the token (or the OAuth private key) on standard input, like `oktamirror keyring set NAME < token.txt`".into(),
        ));
    }
    Ok(Secret::new(trimmed))
}

/// Runs `stty ARG` on the terminal (standard input); whether it worked.
fn stty(arg: &str) -> bool {
    std::process::Command::new("stty")
        .arg(arg)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}
