//! molecule-credential-helper keeps GitHub App installation tokens fresh in
//! long-lived workspace containers.
//!
//! A runtime calls [`install_credential_helper`] once, early at start-up. It
//! extracts the bundled git credential helper and refresh daemon, wires git
//! to the helper, creates the private token cache, starts the daemon under a
//! respawn supervisor and primes `gh`. Every step is fail-soft and idempotent.
//!
//! Layout of this crate:
//! - [`os`]: the OS seams (`Fs`, `Spawner`, `ProcTable`, `Which`) and their backends;
//! - [`install`]: the five steps and the [`Installer`];
//! - [`report`]: what an install did; [`secret`]: tokens that never print,
//!   and the one token rule;
//! - [`status`], [`uninstall`], [`contract`], [`token`]: the other commands;
//! - [`settings`]: the settings install saves for every process, judged by
//!   the helper;
//! - [`config`], [`scripts`], [`cache`], [`supervisor`], [`git_helpers`],
//!   [`clock`]: paths and settings, the embedded scripts, the token cache,
//!   which processes are ours, which helpers git runs, timestamps;
//! - `fake_platform` (public with the `testing` feature): the fake platform
//!   server for tests and `contract`;
//! - `testing` (with the `testing` feature): fakes with fault injection,
//!   mockall mocks, the fake platform, and the github.com stand-in with its
//!   private network namespace, for a runtime's own tests.

#![warn(missing_docs)]

pub mod cache;
pub mod clock;
pub mod config;
pub mod contract;
#[cfg(feature = "testing")]
pub mod fake_github;
/// The fake platform server. Public (and documented) with the `testing`
/// feature; without it, compiled for `contract` and the `fake-platform`
/// command only.
#[cfg(feature = "testing")]
pub mod fake_platform;
#[cfg(not(feature = "testing"))]
#[allow(dead_code, unreachable_pub)]
mod fake_platform;
pub mod fetch_state;
pub mod git_helpers;
pub mod install;
pub mod os;
pub mod repair;
pub mod report;
pub mod scripts;
pub mod secret;
pub mod settings;
pub mod status;
pub mod supervisor;
pub mod token;
pub mod uninstall;

/// Test backends for a runtime's own tests: the in-memory fakes, the
/// `mockall` mocks, the fake platform, and the github.com stand-in with its
/// private network namespace.
///
/// Only with the `testing` cargo feature (`features = ["testing"]` in a
/// runtime's dev-dependencies); it pulls in mockall, rustls and rcgen.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::fake_github::{
        namespace, tls::HOSTS as FAKE_GITHUB_HOSTS, FakeGitHub, Recorded, BOT_LOGIN, GHES_HOST,
        GHE_COM_API_HOST, GHE_COM_HOST,
    };
    pub use crate::fake_platform::{
        sample_token, FakeMode, FakePlatform, FakePlatformConfig, IssuedToken, TokenAuthority,
        TokenCheck, TokenFormat,
    };
    pub use crate::os::fake::{FakeInstaller, FakeProcess, FakeSystem, Fault, Op, OpKind};
    pub use crate::os::{MockFs, MockProcTable, MockSpawner, MockWhich};
}

/// What the `molecule-credential-helper` command needs from the library
/// beyond its public API (the `cli` feature): the fake platform as a
/// process, without making the fake platform's types public.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli_support {
    pub use crate::fake_platform::serve::{
        serve, ServeError, ServeOptions, MODE_NAMES, TOKEN_FORMAT_NAMES,
    };
}

use std::path::Path;

pub use config::{Config, Layout};
pub use install::{Installer, RealInstaller};
pub use report::{InstallReport, Outcome, Step, StepReport};
pub use secret::{Secret, Token};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Errors before an install can even start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No home directory could be found.
    #[error("cannot find a home directory: HOME is unset and the user has no passwd entry")]
    NoHome,
    /// The home path is not valid UTF-8; converting it would name another directory.
    #[error("home {0:?} is not valid UTF-8; refusing rather than converting it lossily (it goes into git's config and HOME)")]
    HomeNotUtf8(String),
    /// A relative home that cannot be made absolute.
    #[error("home {0}: cannot make it absolute: {1}")]
    HomeUnusable(String, String),
}

/// Installs in `$HOME` (from the environment) with the real OS. Never panics
/// and never fails: look at the report.
///
/// # How long it blocks
///
/// It never waits on the network: gh's login runs detached (its result goes
/// to the daemon log and `status`), the daemon is spawned detached, and the
/// platform is not called at all. What it does wait for is local: a few
/// file operations and up to four `git config` runs. Measured on a 2-vCPU
/// VM: ~15 ms for a first install, ~2 ms for an idempotent one, and ~27 ms
/// for a first install while gh hangs (`cargo bench --bench helper`, group
/// `install`). The worst case is bounded: 30 s waiting for the install lock
/// (only while another install in the same home holds it) plus 10 s per
/// `git config` run that hangs.
///
/// It is a blocking call: from an async runtime's start-up, run it on a
/// blocking thread (`tokio::task::spawn_blocking(install_credential_helper)`)
/// or before the runtime starts; at milliseconds it will not starve
/// anything, but the bound above is not an async one.
pub fn install_credential_helper() -> InstallReport {
    match Config::from_env(None) {
        Ok(config) => Installer::real(config).install(),
        Err(e) => report_of_error(&e),
    }
}

/// Installs in an explicit home; every child process runs with `HOME=home`.
/// Blocks as [`install_credential_helper`] does (milliseconds; never on the
/// network).
pub fn install_credential_helper_in(home: &Path) -> InstallReport {
    match Config::from_env(Some(home.to_path_buf())) {
        Ok(config) => Installer::real(config).install(),
        Err(e) => report_of_error(&e),
    }
}

/// Undoes an install in an explicit home with the real OS: stops the
/// supervisor and any stray daemon, removes our git values, the scripts,
/// the log and the cache. Never panics and never fails: what could not be
/// done is in the report's `errors`.
pub fn uninstall_credential_helper_in(home: &Path) -> uninstall::UninstallReport {
    match Config::from_env(Some(home.to_path_buf())) {
        Ok(config) => {
            let which = os::RealWhich::for_config(&config);
            uninstall::uninstall(
                &os::RealFs,
                &os::RealSpawner,
                &os::RealProcTable,
                &which,
                &config,
            )
        }
        Err(e) => uninstall::UninstallReport {
            errors: vec![e.to_string()],
            ..Default::default()
        },
    }
}

/// The read-only health check of the install in an explicit home, with the
/// real OS (no `--probe`: it never calls the platform). Never panics: a home
/// that cannot be used is one failed `home` check.
pub fn status_in(home: &Path) -> status::StatusReport {
    match Config::from_env(Some(home.to_path_buf())) {
        Ok(config) => {
            let which = os::RealWhich::for_config(&config);
            status::status(
                &os::RealFs,
                &os::RealSpawner,
                &os::RealProcTable,
                &which,
                &config,
                None,
            )
        }
        Err(e) => status::StatusReport::new(vec![status::check(
            "home",
            status::Level::Fail,
            e.to_string(),
        )]),
    }
}

fn report_of_error(e: &Error) -> InstallReport {
    InstallReport::all_failed(&e.to_string())
}
