//! `uninstall`: stop the daemon, remove our git config values, scripts and cache.

use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::os::{RealFs, RealProcTable, RealSpawner, RealWhich};
use molecule_credential_helper::uninstall::uninstall;
use molecule_credential_helper::Config;

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    #[command(flatten)]
    whose: user::Whose,
    /// Print what was stopped, removed and kept as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: UninstallArgs) -> Result<ExitCode, CliError> {
    let target = user::target("uninstall", &args.whose)?;
    let config = Config::from_env(target.home).map_err(|e| CliError::Usage(e.to_string()))?;
    user::refuse_foreign_home(&config, "uninstall")?;
    let which = RealWhich::for_config(&config);
    let report = uninstall(&RealFs, &RealSpawner, &RealProcTable, &which, &config);
    for e in &report.errors {
        output::err(&format!("uninstall: {e}"));
    }
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for line in &report.done {
        text.push_str(&format!("{line}\n"));
    }
    for line in &report.kept {
        text.push_str(&format!("kept {line}\n"));
    }
    if report.done.is_empty() {
        text.push_str("nothing to uninstall\n");
    }
    output::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
