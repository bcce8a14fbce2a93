//! `install`: the five steps, printed as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::{Config, InstallReport, Installer};

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Install into DIR instead of $HOME; every child process gets HOME=DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "user")]
    home: Option<PathBuf>,
    /// Install for user NAME (root only): the home from the passwd database,
    /// and the uid, gid and groups dropped to NAME's before anything touches
    /// it, so every file, the daemon and gh's login are NAME's. What a root
    /// entrypoint runs before `exec gosu NAME …`.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any step failed (default: always 0, the install is
    /// fail-soft), and wait for gh's login (at most GH_LOGIN_TIMEOUT_SEC + 5 s)
    /// to report its result; without it the login runs in the background.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: InstallArgs) -> Result<ExitCode, CliError> {
    let target = user::target("install", &args.home, &args.user)?;
    let report = match Config::from_env(target.home) {
        Ok(mut config) => {
            config.wait_for_gh_login = args.strict;
            // gh is primed with the caller's provision token (on its
            // stdin); no child inherits it.
            for (key, value) in target.env_tokens {
                config.env.insert(key, value);
            }
            Installer::real(config).install()
        }
        Err(e) => InstallReport::all_failed(&e.to_string()),
    };
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
    } else {
        output::out(&report.to_string())?;
    }
    Ok(if args.strict && report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
