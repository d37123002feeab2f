//! The `oktamirror` binary: parses the command line, starts logging and the async runtime, and
//! runs one command from `cli/`; any failure ends as one `error:` line and a non-zero exit.

use std::process::ExitCode;

use clap::Parser;

use oktamirror::telemetry;

mod cli;

/// mimalloc rather than glibc's malloc: the server builds and drops many small JSON values per
/// request beside sled's KB-sized node buffers, a mix on which glibc spent most of a SCIM
/// page's time consolidating free chunks (benches/README.md, "SCIM reads"). The benches set
/// the same allocator so their figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init_with(cli.command.default_log_level(), cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli.command, cli.log_format)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
