//! `fake-platform`: the built-in fake platform as a process.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use molecule_credential_helper::fake_platform::{
    FakeMode, FakePlatform, FakePlatformConfig, TokenFormat,
};

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
    #[arg(long, default_value = "ok", value_parser = mode_parser())]
    mode: FakeMode,
    /// Shape of issued tokens: GitHub's current `ghs_<APPID>_<JWT>` (about
    /// 520 characters) or the pre-2026 `ghs_` + 36 alphanumerics.
    #[arg(long, default_value = "stateless", value_parser = TokenFormat::NAMES, value_name = "FORMAT")]
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

/// clap's possible values (listed in --help, "did you mean" on a typo).
fn mode_parser() -> impl clap::builder::TypedValueParser<Value = FakeMode> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(FakeMode::NAMES)
        // Every listed name parses.
        .map(|name| name.parse().unwrap_or(FakeMode::Ok))
}

pub(crate) fn run(args: FakePlatformArgs) -> Result<ExitCode, CliError> {
    let platform = FakePlatform::start(FakePlatformConfig {
        port: args.port,
        secret: args.secret,
        ttl_secs: args.ttl,
        mode: args.mode,
        token_format: args.token_format.parse().map_err(CliError::Usage)?,
        cache_lead_secs: args.cache_lead,
        ..FakePlatformConfig::default()
    })
    .map_err(|e| CliError::Usage(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    output::out(&format!("{}\n", platform.url()))?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [nix::libc::SIGTERM, nix::libc::SIGINT] {
        let _ = signal_flag(signal, Arc::clone(&stop));
    }
    let deadline = args
        .max_seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    platform.serve_until(deadline, &stop);
    output::err(&format!(
        "fake-platform: served {} requests",
        platform.requests()
    ));
    Ok(ExitCode::SUCCESS)
}

static STOP_FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

extern "C" fn on_signal(_: i32) {
    if let Some(flag) = STOP_FLAG.get() {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Sets `flag` when `signal` arrives, so the server can stop cleanly.
fn signal_flag(signal: i32, flag: Arc<AtomicBool>) -> nix::Result<()> {
    let _ = STOP_FLAG.set(flag);
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_signal),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    let signal = nix::sys::signal::Signal::try_from(signal)?;
    // SAFETY: the handler only does an atomic store.
    unsafe { nix::sys::signal::sigaction(signal, &action) }.map(|_| ())
}
