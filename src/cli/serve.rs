//! `oktamirror serve`: mirror an Okta org and serve it until stopped.

use oktamirror::configuration::{Options, Settings};
use oktamirror::startup::Application;

use super::{CliError, token_env};

pub async fn run(opts: Options) -> Result<(), CliError> {
    let settings = Settings::resolve(opts, token_env())?;
    let app = Application::build(settings).await?;
    eprintln!("oktamirror: serving GraphQL on {}/graphql", app.url());
    Ok(app.run_until_stopped().await?)
}
