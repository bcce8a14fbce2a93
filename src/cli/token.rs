//! `token`: the token git would get now, for any other program.

use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::os::{RealFs, RealSpawner, RealWhich};
use molecule_credential_helper::token::current_token;
use molecule_credential_helper::Config;

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    whose: user::Whose,
    /// Print `token`, `expires_at`, `hashed_token` and `host` as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: TokenArgs) -> Result<ExitCode, CliError> {
    let target = user::target("token", &args.whose)?;
    let config = Config::from_env(target.home).map_err(|e| CliError::Usage(e.to_string()))?;
    user::refuse_foreign_home(&config, "token")?;
    let which = RealWhich::for_config(&config);
    match current_token(&RealFs, &RealSpawner, &which, &config) {
        Ok(current) => {
            for note in &current.notes {
                output::err(note);
            }
            if args.json {
                output::out(&format!("{}\n", current.to_json()))?;
            } else {
                output::out(&format!("{}\n", current.token.expose()))?;
            }
        }
        Err(why) => {
            output::err(&why);
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
