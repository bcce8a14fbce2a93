//! `install`: the five steps, printed as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::{install_credential_helper, install_credential_helper_in};

use super::{check_home, UsageError};

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Install into DIR instead of $HOME; every child process gets HOME=DIR.
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any step failed (default: always 0, the install is fail-soft).
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: InstallArgs) -> Result<ExitCode, UsageError> {
    check_home(&args.home)?;
    let report = match &args.home {
        Some(home) => install_credential_helper_in(home),
        None => install_credential_helper(),
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(if args.strict && report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
