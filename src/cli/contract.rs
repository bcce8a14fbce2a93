//! `contract`: the template authors' CI suite.

use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::contract::run_contract;

use super::{output, CliError};

#[derive(Debug, Args)]
pub(crate) struct ContractArgs {
    /// Print the checks as JSON instead of `ok N - name` lines.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: ContractArgs) -> Result<ExitCode, CliError> {
    let report = run_contract();
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
    } else {
        output::out(&report.to_string())?;
    }
    Ok(if report.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
