//! `oktamirror schema`: print the GraphQL SDL (what schema/schema.graphql holds).

use oktamirror::api;

use super::CliError;

pub fn run() -> Result<(), CliError> {
    print!("{}", api::sdl());
    Ok(())
}
