//! `oktamirror serve`: mirror an Okta org (or, with `--source scim`, take what an Okta SCIM app
//! pushes) and serve it until stopped.

use oktamirror::configuration::{Options, Settings};
use oktamirror::startup::Application;
use oktamirror::telemetry::LogFormat;

use super::{CliError, token_env};

/// Serves until stopped. With JSON logs, stderr carries log objects only: the warning goes
/// through the log and the plain "serving on" line is left to the log's own.
pub async fn run(mut opts: Options, format: LogFormat) -> Result<(), CliError> {
    if opts.allow_mass_delete {
        // Left in a service's environment it would let every scheduled reconcile apply any
        // removal, which is exactly what the hold exists to stop. A held removal is released
        // once, deliberately: `sync --once --allow-mass-delete` or `syncNow(allowMassDelete:)`.
        tracing::warn!(
            "--allow-mass-delete / OKTAMIRROR_ALLOW_MASS_DELETE is ignored by serve: release held removals once with `oktamirror sync --once --allow-mass-delete` or the syncNow(kind: FULL, allowMassDelete: true) mutation, and remove it from the service's environment"
        );
        opts.allow_mass_delete = false;
    }
    let settings = Settings::resolve(opts, token_env())?;
    let settings_scim = settings.okta().is_none();
    let app = Application::build(settings).await?;
    if format == LogFormat::Text {
        eprintln!("oktamirror: serving GraphQL on {}/graphql", app.url());
    }
    if settings_scim {
        tracing::info!(
            "provisioning mode: point the Okta SCIM app at {}/scim/v2 with a provisioner key",
            app.url()
        );
    }
    Ok(app.run_until_stopped().await?)
}
