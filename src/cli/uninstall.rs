//! `uninstall`: stop the daemon, remove our git config values, scripts and cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::os::{RealFs, RealProcTable, RealSpawner, RealWhich};
use molecule_credential_helper::uninstall::uninstall;
use molecule_credential_helper::Config;

use super::{check_home, UsageError};

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// Uninstall from DIR instead of $HOME.
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
}

pub(crate) fn run(args: UninstallArgs) -> Result<ExitCode, UsageError> {
    check_home(&args.home)?;
    let config = Config::from_env(args.home.clone()).map_err(|e| UsageError(e.to_string()))?;
    let which = RealWhich::for_config(&config);
    let report = uninstall(&RealFs, &RealSpawner, &RealProcTable, &which, &config);
    for line in &report.done {
        println!("{line}");
    }
    if report.done.is_empty() {
        println!("nothing to uninstall");
    }
    for e in &report.errors {
        eprintln!("molecule-credential-helper: uninstall: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
