//! The installer: five fail-soft, idempotent steps run in order under an
//! install lock, each returning an [`Outcome`] into one [`InstallReport`].

mod daemon;
mod gh_auth;
mod git_config;
mod scripts;
mod token_cache;

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::os::{
    FileKind, FileLock, Fs, ProcTable, RealFs, RealProcTable, RealSpawner, RealWhich, Spawner,
    Which,
};
use crate::report::{InstallReport, Outcome, Step, StepReport};
use crate::secret::redact;

pub use daemon::{supervisor_command, SUPERVISOR_WAIT};
pub(crate) use git_config::read_global;
pub use git_config::{helper_value, wanted_helpers};

/// How long an install waits for another install in the same HOME.
const INSTALL_LOCK_WAIT: Duration = Duration::from_secs(30);

/// The installer over any set of OS backends.
pub struct Installer<F, S, P, W> {
    /// The home and the environment snapshot it installs for.
    pub config: Config,
    /// Files.
    pub fs: F,
    /// Child processes (git, gh, the supervisor).
    pub spawner: S,
    /// The process table (is the supervisor alive, and ours?).
    pub procs: P,
    /// PATH lookups (git, gh, bash).
    pub which: W,
}

/// The installer over the real OS.
pub type RealInstaller = Installer<RealFs, RealSpawner, RealProcTable, RealWhich>;

impl RealInstaller {
    /// The installer over the real OS, with PATH from `config`'s environment.
    pub fn real(config: Config) -> Self {
        let which = RealWhich::for_config(&config);
        Installer {
            config,
            fs: RealFs,
            spawner: RealSpawner,
            procs: RealProcTable,
            which,
        }
    }
}

impl<F: Fs, S: Spawner, P: ProcTable, W: Which> Installer<F, S, P, W> {
    /// An installer over these backends.
    pub fn new(config: Config, fs: F, spawner: S, procs: P, which: W) -> Self {
        Installer {
            config,
            fs,
            spawner,
            procs,
            which,
        }
    }

    /// Runs the five steps. Never panics on OS errors; every failure becomes
    /// a `failed` entry and the steps that do not depend on it still run.
    pub fn install(&self) -> InstallReport {
        let layout = &self.config.layout;
        if let Some((refusal, what_to_run)) = foreign_home(&self.fs, &self.config) {
            // Each step says why in a few words; what to run instead is
            // said once.
            let mut report = InstallReport::all_failed(&refusal);
            report.warnings.push(what_to_run);
            return report;
        }
        let mut report = InstallReport::default();
        let _lock = match acquire_install_lock(&self.fs, layout) {
            Ok(lock) => Some(lock),
            Err(e) => {
                report
                    .warnings
                    .push(format!("installing without the install lock: {e}"));
                None
            }
        };

        let (settings_text, left_out) = crate::settings::render(&self.config);
        for key in left_out {
            report.warnings.push(format!(
                "{key} holds a control character: not saved in {}",
                layout.settings_file.display()
            ));
        }
        let (scripts, scripts_in_place) =
            scripts::run(&self.fs, layout, self.config.uid, &settings_text);
        let scripts_failed = !scripts_in_place;
        let settings_saved = !scripts.is_failed();
        report.steps.push(StepReport {
            step: Step::Scripts,
            outcome: scripts,
        });
        if scripts_in_place {
            report.warnings.extend(self.settings_warnings());
        }

        let cache = token_cache::run(&self.fs, layout, self.config.uid);
        report.steps.push(StepReport {
            step: Step::TokenCache,
            outcome: cache,
        });

        let needs_scripts = || Outcome::Skipped("the scripts step failed".into());
        let git = if scripts_failed {
            needs_scripts()
        } else {
            git_config::run(&self.spawner, &self.which, &self.config)
        };
        report.steps.push(StepReport {
            step: Step::GitConfig,
            outcome: git,
        });

        let daemon = if scripts_failed {
            needs_scripts()
        } else {
            daemon::run(
                &self.fs,
                &self.spawner,
                &self.procs,
                &self.which,
                &self.config,
                settings_saved,
            )
        };
        report.steps.push(StepReport {
            step: Step::RefreshDaemon,
            outcome: daemon,
        });

        let gh = gh_auth::run(
            &self.fs,
            &self.spawner,
            &self.procs,
            &self.which,
            &self.config,
            !scripts_failed,
        );
        report.steps.push(StepReport {
            step: Step::GhAuth,
            outcome: gh.outcome,
        });
        report.warnings.extend(gh.warnings);

        let mut secrets = self.config.known_secrets();
        secrets.extend(gh.secrets);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let report = report.map_text(|text| redact(text, &secrets));
        for step in &report.steps {
            tracing::info!(
                step = step.step.name(),
                outcome = step.outcome.label(),
                detail = step.outcome.detail()
            );
        }
        report
    }
}

impl<F: Fs, S: Spawner, P: ProcTable, W: Which> Installer<F, S, P, W> {
    /// The helper's problems with the settings, as report warnings: the
    /// helper is their one judge, so install warns about exactly what git
    /// will hit.
    fn settings_warnings(&self) -> Vec<String> {
        let Some(bash) = self.which.which("bash") else {
            return vec!["settings not checked: bash not on PATH".into()];
        };
        let helper = &self.config.layout.helper_script;
        match crate::settings::problems(&self.spawner, &bash, helper, &self.config) {
            Ok(problems) => problems
                .into_iter()
                .map(|p| format!("settings: {p}"))
                .collect(),
            Err(e) => vec![format!("settings not checked: {e}")],
        }
    }
}

/// Why not to install into a home another user owns (root with `--home
/// /home/agent`): the cache, the scripts and git's config would be the
/// installer's, which the user's helper cannot write or trust, and the
/// daemon would run as the installer. Returns the refusal (a few words, for
/// every step) and what to run instead (said once).
fn foreign_home<F: Fs>(fs: &F, config: &Config) -> Option<(String, String)> {
    let home = &config.layout.home;
    let owner = fs.metadata(home).ok()?.uid;
    if owner == config.uid {
        return None;
    }
    let refusal = format!(
        "not installed: {} belongs to uid {owner}, not to the installing uid {}",
        home.display(),
        config.uid
    );
    let name = nix::unistd::User::from_uid(owner.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    let user = name.as_deref().unwrap_or("NAME");
    let what_to_run = format!(
        "install for that user, so the files, the daemon and gh's login are theirs: as root run `molecule-credential-helper install --user {user}`; as that user, `molecule-credential-helper install` (e.g. under `setpriv --reuid={owner} --regid=<gid> --init-groups`)"
    );
    Some((refusal, what_to_run))
}

/// Creates `path` (and parents) with `mode` unless it is already a directory.
/// Returns whether it created anything.
pub(crate) fn ensure_dir<F: Fs>(fs: &F, path: &Path, mode: u32) -> io::Result<bool> {
    match fs.metadata(path) {
        Ok(m) if m.kind == FileKind::Dir => Ok(false),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs.create_dir_all(path, mode).map(|()| true)
        }
        Err(e) => Err(e),
    }
}

fn acquire_install_lock<F: Fs>(fs: &F, layout: &crate::config::Layout) -> io::Result<FileLock> {
    ensure_dir(fs, &layout.runtime_dir, 0o755)?;
    fs.lock(&layout.install_lock, INSTALL_LOCK_WAIT)
}

/// The first line of an error, with the path it concerns.
pub(crate) fn describe(path: &Path, e: &io::Error) -> String {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or_default();
    if first.contains(&*path.to_string_lossy()) {
        first.to_string()
    } else {
        format!("{}: {first}", path.display())
    }
}
