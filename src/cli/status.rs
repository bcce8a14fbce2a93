//! `status`: read-only health check.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use molecule_credential_helper::os::{RealFs, RealProcTable, RealSpawner, RealWhich, Spawner};
use molecule_credential_helper::report::count;
use molecule_credential_helper::status::{status, Probe};
use molecule_credential_helper::{cache, Config};

use super::{output, user, CliError};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    whose: user::Whose,
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
    /// Also fetch a token from the platform (through the helper, refreshing
    /// the cache) and report latency and remaining lifetime.
    #[arg(long)]
    probe: bool,
}

pub(crate) fn run(args: StatusArgs) -> Result<ExitCode, CliError> {
    let target = user::target("status", &args.whose)?;
    let config = Config::from_env(target.home).map_err(|e| CliError::Usage(e.to_string()))?;
    user::refuse_foreign_home(&config, "status")?;
    let which = RealWhich::for_config(&config);
    let probe = args.probe.then(|| probe(&config));
    let report = status(
        &RealFs,
        &RealSpawner,
        &RealProcTable,
        &which,
        &config,
        probe,
    );
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
    } else {
        output::out(&report.to_string())?;
    }
    Ok(if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn probe(config: &Config) -> Probe {
    let started = Instant::now();
    // As git runs it (`bash -p`: a BASH_ENV or an exported function that
    // would break git's call breaks the probe too), but the embedded copy:
    // never the extracted file, which the home's owner can edit.
    let cmd = molecule_credential_helper::scripts::embedded_helper(
        config,
        std::path::Path::new("bash"),
        &["_fetch_token"],
    );
    let out = RealSpawner.run(&cmd);
    let latency_ms = started.elapsed().as_millis();
    match out {
        Ok(out) if out.success() => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let lifetime = cache::read(&RealFs, &config.layout)
                .and_then(|c| c.expiry)
                .map(|e| {
                    format!(
                        "cache valid for {}",
                        count(e.saturating_sub(now) / 60, "more minute", "more minutes")
                    )
                })
                .unwrap_or_else(|| "no expiry known".into());
            Probe::new(true, latency_ms, format!("platform fetch ok; {lifetime}"))
        }
        Ok(out) => Probe::new(
            false,
            latency_ms,
            out.stderr.lines().last().unwrap_or("platform fetch failed"),
        ),
        Err(e) => Probe::new(false, latency_ms, format!("cannot run the helper: {e}")),
    }
}
