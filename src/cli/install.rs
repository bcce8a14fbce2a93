//! `install`: the five steps, printed as a table or JSON.

use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::{Config, InstallReport, Installer};

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    whose: user::Whose,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any step failed or there is a problem (default: always 0,
    /// the install is fail-soft); with no token cached, ask the platform
    /// once (as git would, bounded by TOKEN_FETCH_TIMEOUT_SEC) so a refused
    /// bearer or a 404 is a problem now; and wait for gh's login (at most
    /// GH_LOGIN_TIMEOUT_SEC + 5 s) to report its result. Without it no
    /// request is sent and the login runs in the background.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: InstallArgs) -> Result<ExitCode, CliError> {
    let target = user::target("install", &args.whose)?;
    let report = match Config::from_env(target.home) {
        Ok(mut config) => {
            config.wait_for_gh_login = args.strict;
            config.check_platform = args.strict;
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
    Ok(if args.strict && report.has_failures_or_problems() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
