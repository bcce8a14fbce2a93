//! `repair`: remove tokens from remote URLs and extraheaders of the served
//! GitHub, in the repositories under REPO_ROOTS (or the DIRs given).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::repair::repair_in;
use molecule_credential_helper::Config;

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct RepairArgs {
    #[command(flatten)]
    whose: user::Whose,
    /// Say what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Directories to search instead of REPO_ROOTS.
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

pub(crate) fn run(args: RepairArgs) -> Result<ExitCode, CliError> {
    // As the user first: nothing below reads a directory as root.
    let target = user::target("repair", &args.whose)?;
    let mut dirs = Vec::new();
    for dir in &args.dirs {
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "{}: not a directory",
                dir.display()
            )));
        }
        let dir = std::path::absolute(dir)
            .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        if dir.to_str().is_none() {
            return Err(CliError::Usage(format!("{}: not UTF-8", dir.display())));
        }
        dirs.push(dir);
    }
    let config = Config::from_env(target.home).map_err(|e| CliError::Usage(e.to_string()))?;
    user::refuse_foreign_home(&config, "repair")?;
    let report = match repair_in(&config, &dirs, args.dry_run) {
        Ok(report) => report,
        Err(e) => {
            output::err(&format!("repair: {e}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
    } else {
        output::out(&report.to_string())?;
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
