//! Argument parsing, logging set-up and dispatch. Bad arguments get clap's
//! whole error (the message, the usage line, its "did you mean" tip) and
//! exit 2; other user errors are one line and exit 2; a closed stdout is
//! exit 141 and a failed write exit 1, never a panic.

mod contract;
mod fake_platform;
mod install;
mod output;
mod repair;
mod status;
mod token;
mod uninstall;
mod user;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The variables the scripts and the installer read, for `--help`: one a
/// line, the same list as docs/contract.md's table (a test holds them
/// equal).
const ENV_HELP: &str = "\
Environment (all optional):
  GITHUB_SERVER_URL                the one GitHub served: github.com, a GHE server or a GHE.com subdomain,
                                   https://host[:port] [https://github.com]
  PLATFORM_URL                     platform base URL [http://host.docker.internal:8080]
  CONFIGS_DIR                      holds .auth_token (the platform bearer) and .github-token [/configs]
  WORKSPACE_ID                     selects /workspaces/$WORKSPACE_ID/github-installation-token
  TOKEN_CACHE_TTL_SEC              upper bound on how long a token is cached [3000]
  TOKEN_EXPIRY_MARGIN_SEC          the cache goes stale this long before the token expires [300]
  TOKEN_MIN_REMAINING_SEC          through an outage, a cached token is served until this long before it expires [60]
  TOKEN_FETCH_TIMEOUT_SEC          one platform request, whole [10]
  TOKEN_REFRESH_INTERVAL_SEC       upper bound of the refresh daemon's period after a success [2700]
  TOKEN_REFRESH_JITTER_SEC         random 0..N s added to every daemon sleep [120]
  TOKEN_REFRESH_INITIAL_DELAY_SEC  the daemon's first sleep [60]
  TOKEN_REFRESH_RETRY_MIN_SEC      the first backoff after a failed refresh (doubling), and the shortest period [30]
  TOKEN_REFRESH_RETRY_MAX_SEC      the longest backoff after a failed refresh [300]
  TOKEN_REFRESH_RESPAWN_SEC        the supervisor's pause before restarting a daemon that exited [30]
  TOKEN_HELPER_SCRIPT              what the daemon runs [the extracted helper]
  GH_TOKEN, GITHUB_TOKEN           the provision-time token: primes gh, and the helper's fallback
  GH_LOGIN_TIMEOUT_SEC             bound on one gh login [10]
  REPO_ROOTS                       colon-separated absolute directories where `status` and `repair` look for
                                   tokens in remote URLs and extraheaders [$HOME:/workspace]
  REPAIR_REMOTES                   0 stops the daemon's own sweep of REPO_ROOTS (`repair` by hand still works) [1]
  HTTPS_PROXY, HTTP_PROXY          the proxy curl uses for an https / http PLATFORM_URL: http(s)://[user:pw@]host[:port]
                                   (or socks4/4a/5/5h://); either case, lower case first (https_proxy, http_proxy)
  NO_PROXY                         hosts that skip the proxy, as curl's noproxy (either case: no_proxy first)
  PLATFORM_CA_FILE                 PEM bundle curl trusts for an https platform with a private CA [the system's CAs]
  TOKEN_FETCH_CLIENT               retired: curl is the one HTTP client; a value still set gets a warning
  RUST_LOG                         log filter for this command's own logs [warn]";

/// Keeps GitHub App installation tokens fresh inside workspace containers.
#[derive(Debug, Parser)]
#[command(
    name = "molecule-credential-helper",
    // The version and the commit it was built from (build.rs).
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("MOLECULE_GIT_COMMIT"), ")"),
    about,
    arg_required_else_help = true,
    after_help = ENV_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the five install steps and print the report.
    #[command(after_help = format!("Exit: 0 (fail-soft, whatever failed); with --strict 1 if a step failed or the report lists a problem; 2 bad arguments.\n\n{ENV_HELP}"))]
    Install(install::InstallArgs),
    /// Read-only health check of an install.
    #[command(after_help = format!("Exit: 0 healthy, 1 unhealthy, 2 bad arguments.\n\nJudges the settings git would use here: each variable below from the environment, else the settings saved at install, else its default (and GH_CONFIG_DIR for gh's hosts file). --probe also fetches once, as git would.\n\n{ENV_HELP}"))]
    Status(status::StatusArgs),
    /// The template authors' CI suite: prove the wiring in a throwaway HOME.
    #[command(
        after_help = "Exit: 0 only if every check passed, 1 otherwise, 2 bad arguments.\n\nIt sets its own environment for the throwaway HOME; from yours it reads PATH (git, bash, curl, flock, gh), GITHUB_SERVER_URL (a GitHub Enterprise image's host, proven instead of github.com) and, for the storing-helper check, GIT_CONFIG_SYSTEM and GIT_CONFIG_COUNT/KEY_n/VALUE_n."
    )]
    Contract(contract::ContractArgs),
    /// Remove tokens from remote URLs and extraheaders of the served GitHub
    /// (they bypass the helper and die within the hour), under REPO_ROOTS.
    #[command(after_help = format!("Exit: 0 (whatever was changed or skipped), 1 if a repair failed, 2 bad arguments.\n\n{ENV_HELP}"))]
    Repair(repair::RepairArgs),
    /// Stop the daemon and remove our git config values, scripts and cache.
    #[command(
        after_help = "Exit: 0 (what could not be removed is reported), 2 bad arguments.\n\nReads GITHUB_SERVER_URL (the environment, else the settings saved at install): the served host, whose git key and gh login are removed."
    )]
    Uninstall(uninstall::UninstallArgs),
    /// Print the token git would get now, for any other program.
    #[command(
        after_help = format!("Exit: 0 with the token on stdout; 1 with the helper's failure line on stderr when there is none; 2 bad arguments.\n\nA cache hit, else one single-flight platform fetch, the cached token through an outage while GitHub still accepts it, then GITHUB_TOKEN/GH_TOKEN and CONFIGS_DIR/.github-token: what git gets. For a tool: GITHUB_TOKEN=$(molecule-credential-helper token) tool\n\n{ENV_HELP}")
    )]
    Token(token::TokenArgs),
    /// Run the built-in fake platform (for tests and fault injection).
    #[command(
        after_help = "Exit: 0 when stopped (SIGTERM, SIGINT or --max-seconds), 2 bad arguments or a port in use."
    )]
    FakePlatform(fake_platform::FakePlatformArgs),
}

/// Why a command ended early.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A user error: one line on stderr, exit 2.
    Usage(String),
    /// stdout could not be written (a closed pipe, a full disk).
    Output(std::io::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's whole message: the error, the usage line and its tip
            // (or the help asked for), coloured only on a terminal.
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    init_logging();
    let result = match cli.command {
        Command::Install(args) => install::run(args),
        Command::Status(args) => status::run(args),
        Command::Contract(args) => contract::run(args),
        Command::Repair(args) => repair::run(args),
        Command::Uninstall(args) => uninstall::run(args),
        Command::Token(args) => token::run(args),
        Command::FakePlatform(args) => fake_platform::run(args),
    };
    match result {
        Ok(code) => code,
        Err(CliError::Usage(msg)) => {
            output::err(&msg);
            ExitCode::from(2)
        }
        // The reader went away (`| head -1`): what a shell shows for SIGPIPE.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(141)
        }
        Err(CliError::Output(e)) => {
            output::err(&format!("cannot write the output: {e}"));
            ExitCode::FAILURE
        }
    }
}
