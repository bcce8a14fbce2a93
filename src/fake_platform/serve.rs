//! The `fake-platform` command's body, in the library so that the fake
//! platform's types stay public only under the `testing` feature: the
//! command passes plain values and gets a count back.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::{FakeMode, FakePlatform, FakePlatformConfig, TokenFormat};

/// The names `--mode` accepts.
pub const MODE_NAMES: [&str; 10] = FakeMode::NAMES;
/// The names `--token-format` accepts.
pub const TOKEN_FORMAT_NAMES: [&str; 2] = TokenFormat::NAMES;

/// What the `fake-platform` command was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The bearer the fake accepts.
    pub secret: String,
    /// Lifetime of issued tokens.
    pub ttl_secs: u64,
    /// One of [`MODE_NAMES`].
    pub mode: String,
    /// One of [`TOKEN_FORMAT_NAMES`].
    pub token_format: String,
    /// Serve one token until this long before it expires.
    pub cache_lead_secs: Option<u64>,
    /// Stop after this long (default: when signalled).
    pub max_seconds: Option<u64>,
}

/// Why serving ended early.
#[derive(Debug)]
pub enum ServeError {
    /// Bad input or a port in use: one line for the user.
    Usage(String),
    /// The URL could not be printed.
    Output(io::Error),
}

/// Starts the fake platform, hands its URL to `ready`, serves until SIGTERM,
/// SIGINT or `max_seconds`, and returns how many requests it served.
pub fn serve(
    opts: ServeOptions,
    ready: &mut dyn FnMut(&str) -> io::Result<()>,
) -> Result<usize, ServeError> {
    let mode: FakeMode = opts.mode.parse().map_err(ServeError::Usage)?;
    let token_format: TokenFormat = opts.token_format.parse().map_err(ServeError::Usage)?;
    let platform = FakePlatform::start(FakePlatformConfig {
        port: opts.port,
        secret: opts.secret,
        ttl_secs: opts.ttl_secs,
        mode,
        token_format,
        cache_lead_secs: opts.cache_lead_secs,
        ..FakePlatformConfig::default()
    })
    .map_err(|e| ServeError::Usage(format!("cannot listen on 127.0.0.1:{}: {e}", opts.port)))?;
    ready(&platform.url()).map_err(ServeError::Output)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let _ = signal_flag(signal, Arc::clone(&stop));
    }
    let deadline = opts
        .max_seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    platform.serve_until(deadline, &stop);
    Ok(platform.requests())
}

static STOP_FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_signal(_: i32) {
    if let Some(flag) = STOP_FLAG.get() {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Sets `flag` when `signal` arrives, so the server can stop cleanly.
fn signal_flag(signal: nix::sys::signal::Signal, flag: Arc<AtomicBool>) -> nix::Result<()> {
    let _ = STOP_FLAG.set(flag);
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_signal),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only does an atomic store.
    unsafe { nix::sys::signal::sigaction(signal, &action) }.map(|_| ())
}
