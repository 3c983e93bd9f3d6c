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

use clap::Parser;

/// mimalloc instead of the system allocator: policy evaluation allocates many small,
/// short-lived values, and glibc's malloc/free were a quarter of the webhook's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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
