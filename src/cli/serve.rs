//! `oktamirror serve`: mirror an Okta org (or, with `--source scim`, take what an Okta SCIM app
//! pushes) and serve it until stopped.

use oktamirror::configuration::{Options, Settings};
use oktamirror::startup::Application;

use super::{CliError, token_env};

pub async fn run(mut opts: Options) -> Result<(), CliError> {
    if opts.allow_mass_delete {
        // Left in a service's environment it would let every scheduled reconcile apply any
        // removal, which is exactly what the hold exists to stop. A held removal is released
        // once, deliberately: `sync --once --allow-mass-delete` or `syncNow(allowMassDelete:)`.
        eprintln!(
            "warning: --allow-mass-delete / OKTAMIRROR_ALLOW_MASS_DELETE is ignored by serve: release held removals once with `oktamirror sync --once --allow-mass-delete` or the syncNow(kind: FULL, allowMassDelete: true) mutation, and remove it from the service's environment"
        );
        opts.allow_mass_delete = false;
    }
    let settings = Settings::resolve(opts, token_env())?;
    let settings_scim = settings.okta().is_none();
    let app = Application::build(settings).await?;
    eprintln!("oktamirror: serving GraphQL on {}/graphql", app.url());
    if settings_scim {
        eprintln!(
            "oktamirror: provisioning mode: point the Okta SCIM app at {}/scim/v2 with a provisioner key",
            app.url()
        );
    }
    Ok(app.run_until_stopped().await?)
}
