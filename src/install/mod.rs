//! The installer: five fail-soft, idempotent steps run in order under an
//! install lock, each returning an [`Outcome`] into one [`InstallReport`].

mod daemon;
pub(crate) mod gh_auth;
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
        let _lock = match acquire_install_lock(&self.fs, layout, self.config.uid) {
            Ok(lock) => Some(lock),
            Err(e) => {
                report
                    .warnings
                    .push(format!("installing without the install lock: {e}"));
                None
            }
        };

        let saved = self.saved_settings();
        let settings = crate::settings::render(&self.config, &saved);
        if !settings.kept.is_empty() {
            report.warnings.push(format!(
                "kept {} from the saved settings (not set in this environment; set one to the empty string to remove it)",
                settings.kept.join(", ")
            ));
        }
        for key in &settings.refused {
            report.warnings.push(format!(
                "{key} holds a control character: saved as a value the helper refuses, so git gets no platform token until it is fixed and install runs again"
            ));
        }
        let (scripts, scripts_in_place) =
            scripts::run(&self.fs, layout, self.config.uid, &settings.text);
        let scripts_failed = !scripts_in_place;
        let settings_saved = !scripts.is_failed();
        report.steps.push(StepReport {
            step: Step::Scripts,
            outcome: scripts,
        });
        if scripts_in_place {
            let (notes, problems) = self.settings_judged();
            report.warnings.extend(notes);
            report.problems.extend(problems);
        }

        let (changed, reach_changed): (&[&str], bool) = if settings_saved {
            (
                &settings.token_keys_changed,
                !settings.reach_keys_changed.is_empty(),
            )
        } else {
            (&[], false)
        };
        let cache = token_cache::run(&self.fs, layout, self.config.uid, changed, reach_changed);
        report.steps.push(StepReport {
            step: Step::TokenCache,
            outcome: cache,
        });

        let needs_scripts = || Outcome::Skipped("the scripts step failed".into());
        let home_check = home_safety(&self.fs, &self.config);
        if let HomeSafety::Warn(w) = &home_check {
            report.warnings.push(w.clone());
        }
        let git = if scripts_failed {
            needs_scripts()
        } else if let HomeSafety::Refuse(why) = home_check {
            Outcome::Failed(why)
        } else if let Err(e) = tighten_git_files(&self.fs, &self.config).map(|done| {
            if !done.is_empty() {
                report.warnings.push(format!(
                    "removed group/other write from {} (git keeps a file's mode when it rewrites it)",
                    done.join(", ")
                ));
            }
        }) {
            Outcome::Failed(e)
        } else {
            // The URL of the settings just saved: a re-install from a shell
            // without GITHUB_SERVER_URL keeps the one saved before.
            let merged = crate::config::Config {
                env: Default::default(),
                ..self.config.clone()
            };
            git_config::run(
                &self.spawner,
                &self.which,
                &self.config,
                crate::settings::served_github(&merged, &settings.text),
                previous_server(&saved).as_ref(),
            )
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
        if !scripts_failed {
            report.problems.extend(self.fetch_problem());
            report.problems.extend(crate::status::stalled_daemon(
                &self.fs,
                &self.procs,
                &self.config,
            ));
        }

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
    /// The helper's verdict on the settings: its notes as warnings, its
    /// problems (git could not get a platform token) as problems. The
    /// helper is their one judge, so install reports exactly what git
    /// will hit.
    fn settings_judged(&self) -> (Vec<String>, Vec<String>) {
        let Some(bash) = self.which.which("bash") else {
            return (
                Vec::new(),
                vec![
                    "settings not checked: bash not on PATH, and git needs it to run the helper"
                        .into(),
                ],
            );
        };
        match crate::settings::problems(&self.spawner, &bash, &self.config) {
            Ok(lines) => lines
                .into_iter()
                .map(|l| format!("settings: {l}"))
                .partition(|l| l.starts_with("settings: note: ")),
            Err(e) => (vec![format!("settings not checked: {e}")], Vec::new()),
        }
    }

    /// A last platform fetch that failed with no cached token to serve, as
    /// a problem naming its class and fix. Without `--strict` install sends
    /// no request (it never waits on the network) and reads the helper's
    /// record; with it, and no token cached, it first asks the helper once,
    /// as git would (bounded by the fetch timeout).
    fn fetch_problem(&self) -> Option<String> {
        if self.config.check_platform
            && crate::fetch_state::cache_served_until(&self.fs, &self.config).is_none()
        {
            // The outcome is read back from the record the helper leaves.
            let _ = crate::token::current_token(&self.fs, &self.spawner, &self.which, &self.config);
        }
        match crate::fetch_state::read(&self.fs, &self.config) {
            crate::fetch_state::FetchState::Failing(failure) => Some(format!(
                "platform: git gets no token: {}",
                failure.describe()
            )),
            _ => None,
        }
    }
}

impl<F: Fs, S: Spawner, P: ProcTable, W: Which> Installer<F, S, P, W> {
    /// The settings file's text, when it is a regular file of ours (anything
    /// else is replaced, never read).
    fn saved_settings(&self) -> String {
        crate::settings::read_saved(&self.fs, &self.config)
    }
}

/// The GitHub the last install served, from its saved settings (none for a
/// first install, or one whose URL could not be wired).
fn previous_server(saved: &str) -> Option<crate::config::GitHubServer> {
    if saved.is_empty() {
        return None;
    }
    match crate::settings::parse_saved(saved)
        .into_iter()
        .rev()
        .find(|(k, _)| *k == "GITHUB_SERVER_URL")
    {
        Some((_, url)) => crate::config::GitHubServer::parse(&url),
        None => Some(crate::config::GitHubServer::github_com()),
    }
}

/// Why not to install into a home another user owns (root with `--home
/// /home/agent`): the cache, the scripts and git's config would be the
/// installer's, which the user's helper cannot write or trust, and the
/// daemon would run as the installer. Returns the refusal (a few words, for
/// every step) and what to run instead (said once).
fn foreign_home<F: Fs>(fs: &F, config: &Config) -> Option<(String, String)> {
    let owner = home_owner_if_foreign(fs, config)?;
    let refusal = format!(
        "not installed: {} belongs to uid {}, not to the installing uid {}",
        config.layout.home.display(),
        owner.uid,
        config.uid
    );
    let user = owner.name.as_deref().unwrap_or("NAME");
    let what_to_run = format!(
        "install for that user, so the files, the daemon and gh's login are theirs: as root run `molecule-credential-helper install --user {user}`; as that user, `molecule-credential-helper install` (e.g. under `setpriv --reuid={} --regid=<gid> --init-groups`)",
        owner.uid
    );
    Some((refusal, what_to_run))
}

/// The owner of a home that is not the running uid's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignOwner {
    /// Its uid.
    pub uid: u32,
    /// Its name in the passwd database, if it has one.
    pub name: Option<String>,
}

/// The home's owner when another uid owns it (`None`: ours, or it cannot
/// be read, which the steps then report).
pub fn home_owner_if_foreign<F: Fs>(fs: &F, config: &Config) -> Option<ForeignOwner> {
    let owner = fs.metadata(&config.layout.home).ok()?.uid;
    if owner == config.uid {
        return None;
    }
    let name = nix::unistd::User::from_uid(owner.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    Some(ForeignOwner { uid: owner, name })
}

/// Root never acts as itself in another user's home: every command that
/// touches one (status, uninstall, token, repair; install says it in its
/// report) refuses it in one line naming `--user NAME`.
pub fn foreign_home_refusal<F: Fs>(fs: &F, config: &Config, command: &str) -> Option<String> {
    let owner = home_owner_if_foreign(fs, config)?;
    let user = owner.name.as_deref().unwrap_or("NAME");
    Some(format!(
        "{} belongs to uid {}, not to you (uid {}): nothing done; as root run `molecule-credential-helper {command} --user {user}`, or run it as that user",
        config.layout.home.display(),
        owner.uid,
        config.uid
    ))
}

/// Whether git may be pointed at a helper under this home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeSafety {
    /// Only we can rename what is in it.
    Safe,
    /// Others can write it, on purpose or harmlessly: say so.
    Warn(String),
    /// Anyone can rename `.molecule-runtime` away and plant a helper that
    /// git would run as this user: do not wire git there.
    Refuse(String),
}

/// HOME, the directories above it, and the git config files git reads for
/// this user: whoever can write any of them can make git run their code.
/// - HOME writable by every user, sticky or not: refused (without the sticky
///   bit anyone can rename `.molecule-runtime` away and plant a helper; with
///   it, anyone can still plant `~/.gitconfig` or `~/.config/git` before us);
/// - a directory above HOME that another user owns (root excepted), or that
///   every user can write without the sticky bit (they could rename HOME
///   itself away): refused;
/// - `~/.gitconfig`, `~/.config`, `~/.config/git` or `~/.config/git/config`
///   owned by another user: refused; ours but writable by group or others:
///   tightened by install, failed by status (git keeps a file's mode when
///   it rewrites it);
/// - HOME group-writable: a warning (images for arbitrary uids, as on
///   OpenShift, make homes group-writable on purpose).
pub fn home_safety<F: Fs>(fs: &F, config: &Config) -> HomeSafety {
    let home = &config.layout.home;
    let Ok(meta) = fs.metadata(home) else {
        return HomeSafety::Safe;
    };
    let mode = meta.mode & 0o7777;
    let shown = home.display();
    if mode & 0o002 != 0 {
        return HomeSafety::Refuse(format!(
            "{shown} is writable by every user (mode {mode:04o}): anyone could plant .gitconfig or rename .molecule-runtime away, and git would run their code as you; not wiring git there; fix: chmod o-w {shown}"
        ));
    }
    for dir in home.ancestors().skip(1) {
        let Ok(m) = fs.metadata(dir) else { continue };
        let sticky = m.mode & 0o1000 != 0;
        if m.uid != 0 && m.uid != config.uid {
            return HomeSafety::Refuse(format!(
                "{} above your home belongs to uid {}: they could rename {shown} away; not wiring git there",
                dir.display(),
                m.uid
            ));
        }
        if m.mode & 0o002 != 0 && !sticky {
            return HomeSafety::Refuse(format!(
                "{} above your home is writable by every user (mode {:04o}): anyone could rename {shown} away; not wiring git there; fix: chmod o-w {}",
                dir.display(),
                m.mode & 0o7777,
                dir.display()
            ));
        }
    }
    if let Err(why) = git_files_refusal(fs, config) {
        return HomeSafety::Refuse(why);
    }
    if mode & 0o020 != 0 {
        HomeSafety::Warn(format!(
            "{shown} is group-writable (mode {mode:04o}): members of its group could replace the helper git runs; fine for images that run as an arbitrary uid in that group, otherwise chmod g-w {shown}"
        ))
    } else {
        HomeSafety::Safe
    }
}

/// The global git config files and their directories under HOME.
fn git_files(config: &Config) -> [std::path::PathBuf; 4] {
    let home = &config.layout.home;
    [
        home.join(".gitconfig"),
        home.join(".config"),
        home.join(".config/git"),
        home.join(".config/git/config"),
    ]
}

/// `Err` when one of git's files is another user's (refused); otherwise
/// the ones of ours that group or others can write.
fn git_files_refusal<F: Fs>(fs: &F, config: &Config) -> Result<Vec<std::path::PathBuf>, String> {
    let mut loose = Vec::new();
    for path in git_files(config) {
        let Ok(m) = fs.metadata(&path) else { continue };
        if m.uid != config.uid || m.kind == FileKind::Symlink {
            return Err(format!(
                "{} is {} (uid {}), not a file of yours: whoever owns it decides which helper git runs; not wiring git there",
                path.display(),
                if m.kind == FileKind::Symlink { "a symlink" } else { "another user's" },
                m.uid
            ));
        }
        if m.mode & 0o022 != 0 {
            loose.push(path);
        }
    }
    Ok(loose)
}

/// git's files of ours that others can write (`status` fails on them;
/// install tightens them).
pub fn loose_git_files<F: Fs>(fs: &F, config: &Config) -> Vec<std::path::PathBuf> {
    git_files_refusal(fs, config).unwrap_or_default()
}

/// Removes group and other write from git's files of ours. Returns what it
/// tightened.
fn tighten_git_files<F: Fs>(fs: &F, config: &Config) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for path in loose_git_files(fs, config) {
        let mode = fs.metadata(&path).map(|m| m.mode & 0o7777).unwrap_or(0o644);
        fs.set_mode(&path, mode & !0o022)
            .map_err(|e| describe(&path, &e))?;
        done.push(path.display().to_string());
    }
    Ok(done)
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

fn acquire_install_lock<F: Fs>(
    fs: &F,
    layout: &crate::config::Layout,
    uid: u32,
) -> io::Result<FileLock> {
    ensure_dir(fs, &layout.runtime_dir, 0o755)?;
    // A lock file someone else planted (they could hold it and make every
    // install wait) is replaced, never used.
    replace_if_not_ours(fs, &layout.install_lock, uid);
    fs.lock(&layout.install_lock, INSTALL_LOCK_WAIT)
}

/// Removes `path` when it is anything but a regular file we own (a link,
/// a FIFO, another user's file). Returns whether it did.
pub(crate) fn replace_if_not_ours<F: Fs>(fs: &F, path: &Path, uid: u32) -> bool {
    match fs.metadata(path) {
        Ok(m) if m.kind != FileKind::File || m.uid != uid => fs.remove_file(path).is_ok(),
        _ => false,
    }
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
