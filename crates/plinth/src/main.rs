//! The `plinth` command: clap commands that wire plinth's engines to its shells.
//!
//! `main` only parses arguments, sets up logging and turns the outcome into an exit code:
//! 0 success, 1 ran fine but found problems (a stopped control plane, later: violations,
//! unschedulable pods), 2 an error (bad input, unusable environment) — reported on one line
//! that says what, where and how to fix.
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

/// mimalloc instead of the system allocator: policy evaluation allocates many small,
/// short-lived values, and glibc's malloc/free were a quarter of the webhook's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The name kubectl looks for on `PATH` to run `kubectl plinth ...`.
const KUBECTL_PLUGIN: &str = "kubectl-plinth";

/// Parses the arguments; invoked as `kubectl-plinth` (a link to this binary on `PATH`),
/// usage and errors say `kubectl plinth`. kubectl hands a plugin every argument after
/// its name, and plinth reads kubectl's `--kubeconfig`, `--context` and `-n`/`--namespace`
/// itself.
fn parse() -> cli::Cli {
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if invoked_as != KUBECTL_PLUGIN {
        return cli::Cli::parse();
    }
    let command = cli::Cli::command().bin_name("kubectl plinth");
    let matches = command.get_matches();
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    let cli = parse();
    output::init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            output::error(&err);
            ExitCode::from(2)
        }
    }
}
