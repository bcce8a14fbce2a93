//! `fake-platform`: the built-in fake platform as a process.

use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::cli_support::{
    serve, ServeError, ServeOptions, MODE_NAMES, TOKEN_FORMAT_NAMES,
};
use molecule_credential_helper::report::count;

use super::{output, CliError};

#[derive(Debug, Args)]
pub(crate) struct FakePlatformArgs {
    /// Port on 127.0.0.1; 0 picks a free one. The URL is printed first on stdout.
    #[arg(long)]
    port: u16,
    /// The bearer token the fake accepts.
    #[arg(long)]
    secret: String,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// How the platform answers a well-authenticated request.
    #[arg(long, default_value = "ok", value_parser = MODE_NAMES)]
    mode: String,
    /// Shape of issued tokens: GitHub's current `ghs_<APPID>_<JWT>` (about
    /// 520 characters) or the pre-2026 `ghs_` + 36 alphanumerics.
    #[arg(long, default_value = "stateless", value_parser = TOKEN_FORMAT_NAMES, value_name = "FORMAT")]
    token_format: String,
    /// Serve one token until SEC seconds before it expires, then mint a new
    /// one (the real platform's GitHub App plugin: 300). Default: a new
    /// token on every request.
    #[arg(long, value_name = "SEC")]
    cache_lead: Option<u64>,
    /// Stop after this many seconds (default: run until signalled).
    #[arg(long, value_name = "N")]
    max_seconds: Option<u64>,
}

pub(crate) fn run(args: FakePlatformArgs) -> Result<ExitCode, CliError> {
    let opts = ServeOptions {
        port: args.port,
        secret: args.secret,
        ttl_secs: args.ttl,
        mode: args.mode,
        token_format: args.token_format,
        cache_lead_secs: args.cache_lead,
        max_seconds: args.max_seconds,
    };
    let served = serve(opts, &mut |url| output::out(&format!("{url}\n"))).map_err(|e| match e {
        ServeError::Usage(msg) => CliError::Usage(msg),
        ServeError::Output(e) => CliError::Output(e),
    })?;
    output::err(&format!(
        "fake-platform: served {}",
        count(served as u64, "request", "requests")
    ));
    Ok(ExitCode::SUCCESS)
}
