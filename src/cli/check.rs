//! `oktamirror check`: probes the Okta side and prints one PASS/FAIL line per probe, each
//! failure with its fix; exits non-zero when any probe fails.

use oktamirror::configuration::{Options, Settings};
use oktamirror::okta::{OktaClient, check};

use super::{CliError, token_env};

pub async fn run(opts: Options) -> Result<(), CliError> {
    let settings = Settings::resolve(opts, token_env())?;
    let okta = settings.require_okta("check")?.clone();
    let client = OktaClient::with_auth(okta.url, okta.auth, okta.client)?;
    let probes = check::run(&client).await;
    print!("{}", check::table(&probes));
    let failed = probes.iter().filter(|p| !p.ok).count();
    if failed == 0 {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{failed} Okta check(s) failed; fix them as the table says, then run oktamirror check again"
        )))
    }
}
