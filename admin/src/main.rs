//! `leadline-admin`: the operator's CLI. `main` parses, runs one command and maps its outcome
//! to the documented exit code; the commands are in their own modules.

mod api;
mod cli;
mod dlq;
mod error;
mod key;
mod output;
mod redact;
mod target;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, RetentionCommand};
use crate::error::AdminError;
use crate::output::Output;

#[tokio::main]
async fn main() -> ExitCode {
    // clap exits with 2 on bad usage and 0 for --help/--version, as documented.
    let cli = Cli::parse();
    let out = Output { json: cli.json };
    match run(cli, &out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            out.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(cli: Cli, out: &Output) -> Result<(), AdminError> {
    let target = target::Target::resolve(cli.target)?;
    match cli.command {
        Command::Tenants(command) => api::tenants(&target, command, out).await,
        Command::Usage { tenant } => api::usage(&target, &tenant, out).await,
        Command::Dlq(command) => dlq::run(&target, command, out).await,
        Command::Retention(RetentionCommand::Run) => target.run_retention(out).await,
        Command::OperatorKey(command) => key::run(command, out),
    }
}
