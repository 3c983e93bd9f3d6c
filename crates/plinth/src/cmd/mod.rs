//! One module per command; each turns parsed arguments into engine/shell calls and output.

mod apply;
pub(crate) mod bench;
mod bench_guard;
mod bench_live;
mod bench_netpol;
mod bench_opa;
mod check;
mod dev;
mod explain;
mod fleet;
mod fleet_live;
mod guard;
mod guard_corpus;
mod install;
mod netpol_corpus;
mod plan;
mod render;
mod scheduler;
mod simulate;
mod up;
mod version;
mod zt;
mod zt_model;
mod zt_state;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// How a command that ran to completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything as expected (exit 0).
    Ok,
    /// Ran fine, found a problem to report (exit 1).
    Findings,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}

/// Every refused manifest document, one `file:line: what` per line, as one error.
pub(crate) fn manifest_errors(errors: Vec<plinth_core::manifest::ManifestError>) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Version { output } => version::run(&cli.cluster, output).await,
        Command::Up(args) => up::up(&cli.cluster, &args).await,
        Command::Down(args) => up::down(&cli.cluster, &args).await,
        Command::Install(args) => install::run(&cli.cluster, &args).await,
        Command::Dev { command } => dev::run(command).await,
        Command::Simulate(args) => simulate::run(&args),
        Command::Bench { command } => bench::run_async(command).await,
        Command::Scheduler { command } => scheduler::run(&cli.cluster, command).await,
        Command::Explain { command } => explain::run(&cli.cluster, command).await,
        Command::Render(args) => render::run(&args),
        Command::Fleet { command } => fleet::run(&cli.cluster, command).await,
        Command::Apply(args) => apply::run(&cli.cluster, &args).await,
        Command::Check(args) => check::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Guard { command } => guard::run(&cli.cluster, command).await,
        Command::Zt { command } => zt::run(&cli.cluster, command).await,
    }
}
