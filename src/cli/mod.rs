//! Argument parsing, logging set-up and dispatch. Every user error is one
//! line on stderr and exit 2; no command panics on bad input.

mod contract;
mod fake_platform;
mod install;
mod status;
mod uninstall;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps GitHub App installation tokens fresh inside workspace containers.
#[derive(Debug, Parser)]
#[command(name = "molecule-credential-helper", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the five install steps and print the report.
    Install(install::InstallArgs),
    /// Read-only health check of an install (exit 0 healthy, 1 unhealthy).
    Status(status::StatusArgs),
    /// The template authors' CI suite: prove the wiring in a throwaway HOME.
    Contract(contract::ContractArgs),
    /// Stop the daemon and remove our git config values, scripts and cache.
    Uninstall(uninstall::UninstallArgs),
    /// Run the built-in fake platform (for tests and fault injection).
    FakePlatform(fake_platform::FakePlatformArgs),
}

/// A user error: printed as one line, exit 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub String);

/// `--home DIR` must name an existing, writable directory.
pub(crate) fn check_home(home: &Option<PathBuf>) -> Result<(), UsageError> {
    let Some(dir) = home else { return Ok(()) };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(UsageError(format!(
                "--home {}: not a directory",
                dir.display()
            )))
        }
        Err(e) => return Err(UsageError(format!("--home {}: {e}", dir.display()))),
    }
    if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(UsageError(format!(
            "--home {}: not writable",
            dir.display()
        )));
    }
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            // clap's first line is the error; the rest is usage advice.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "molecule-credential-helper: {}",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    init_logging();
    let result = match cli.command {
        Command::Install(args) => install::run(args),
        Command::Status(args) => status::run(args),
        Command::Contract(args) => contract::run(args),
        Command::Uninstall(args) => uninstall::run(args),
        Command::FakePlatform(args) => fake_platform::run(args),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("molecule-credential-helper: {msg}");
            ExitCode::from(2)
        }
    }
}
