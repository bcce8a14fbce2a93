//! `uninstall`: stop the supervisor and daemon, remove our git config
//! values, the runtime dir (scripts, PID file, log) and the token cache.
//! Idempotent; every failure is reported and the rest still runs.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::os::{wait_until, FileKind, Fs, ProcTable, Spawner, Which};
use crate::supervisor::{self, SupervisorState};

/// What uninstall did, and what it could not do.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct UninstallReport {
    /// Each thing done, as a line for people.
    pub done: Vec<String>,
    /// Processes signalled: the supervisor, and strays (a daemon whose
    /// supervisor was killed, a second supervisor).
    pub stopped: Vec<i32>,
    /// Paths removed (and git values, as `git config` keys).
    pub removed: Vec<String>,
    /// What was left in place on purpose, and why.
    pub kept: Vec<String>,
    /// What could not be done.
    pub errors: Vec<String>,
}

impl UninstallReport {
    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Stops the supervisor and stray daemons, removes our git values, the runtime dir and the cache. Idempotent; every failure is reported and the rest still runs.
pub fn uninstall<F: Fs, S: Spawner, P: ProcTable, W: Which>(
    fs: &F,
    spawner: &S,
    procs: &P,
    which: &W,
    config: &Config,
) -> UninstallReport {
    let mut report = UninstallReport::default();
    // Root's git writes and signals in another user's home could be raced
    // into root-owned files, and its process checks never see the user's
    // daemon: that user uninstalls (`--user NAME`).
    if let Some(refusal) = crate::install::foreign_home_refusal(fs, config, "uninstall") {
        report.errors.push(refusal);
        return report;
    }
    // Read before the runtime dir goes: which GitHub's key holds our values.
    let saved = crate::settings::read_saved(fs, config);
    stop_processes(procs, fs, config, &mut report);
    // Before the cache and the log go: they name the tokens we gave gh.
    logout_gh(fs, spawner, which, config, &saved, &mut report);
    if let Some(git) = which.which("git") {
        remove_git_values(spawner, &git, config, &saved, &mut report);
        remove_gitconfig_left_empty(fs, spawner, &git, config, &mut report);
    }
    let layout = &config.layout;
    for dir in [&layout.runtime_dir, &layout.cache_dir] {
        remove_path(fs, dir, config.uid, &mut report);
    }
    report
}

/// The most read of the daemon log (and its `.1`) for the tokens we gave gh.
const LOG_READ_LIMIT: u64 = 2 * 1024 * 1024;

/// Logs gh out of the served host when gh's token there is one we gave it
/// (the cached token, or one the log names as logged in), matched by its
/// audit-log `hashed_token`. Any other login, of this host or another, is
/// the user's and stays.
fn logout_gh<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
    saved: &str,
    report: &mut UninstallReport,
) {
    let Ok(server) = crate::settings::served_github(config, saved) else {
        return;
    };
    let hosts_file = config.layout.gh_hosts_file(config);
    let Some(gh_token) = fs
        .read(&hosts_file, crate::config::HOSTS_FILE_LIMIT)
        .ok()
        .and_then(|b| {
            crate::install::gh_auth::hosts_file_token(&String::from_utf8_lossy(&b), &server.host)
        })
    else {
        return;
    };
    let hashed = crate::secret::fingerprint(&gh_token);
    let mut ours: Vec<String> = crate::cache::read(fs, &config.layout)
        .and_then(|c| c.token)
        .map(|t| t.fingerprint())
        .into_iter()
        .collect();
    let log = &config.layout.log_file;
    for path in [log.clone(), log.with_extension("log.1")] {
        if let Ok(bytes) = fs.read(&path, LOG_READ_LIMIT) {
            for line in String::from_utf8_lossy(&bytes).lines() {
                if let Some(rest) = line.split_once("gh logged in with").map(|(_, r)| r) {
                    if let Some(h) = rest.split_once("(hashed_token ").map(|(_, h)| h) {
                        ours.push(h.trim_end_matches(')').to_string());
                    }
                }
            }
        }
    }
    if !ours.contains(&hashed) {
        report.kept.push(format!(
            "gh's login for {} (hashed_token {hashed}): not a token we gave it",
            server.host
        ));
        return;
    }
    let Some(gh) = which.which("gh") else {
        report.errors.push(format!(
            "gh's login for {} holds our token (hashed_token {hashed}), but gh is not on PATH to log it out",
            server.host
        ));
        return;
    };
    let mut cmd = config
        .command(gh)
        .args(["auth", "logout", "--hostname", &server.host])
        .timeout(Duration::from_secs(10));
    for var in crate::config::ENV_TOKEN_VARS {
        cmd = cmd.env_remove(var);
    }
    match spawner.run(&cmd) {
        Ok(out) if out.success() => {
            report.done.push(format!(
                "logged gh out of {} (its token was ours: hashed_token {hashed})",
                server.host
            ));
            report.removed.push(format!(
                "gh login for {} (hashed_token {hashed})",
                server.host
            ));
        }
        Ok(out) => report.errors.push(crate::secret::redact(
            &out.failure_reason("gh auth logout"),
            &[&gh_token],
        )),
        Err(e) => report.errors.push(format!("gh auth logout: {e}")),
    }
}

fn stop_processes<F: Fs, P: ProcTable>(
    procs: &P,
    fs: &F,
    config: &Config,
    report: &mut UninstallReport,
) {
    let layout = &config.layout;
    if let SupervisorState::Running(pid) = supervisor::state(fs, procs, layout, config.uid) {
        match procs.terminate_group(pid) {
            Ok(()) => {
                report.stopped.push(pid);
                report
                    .done
                    .push(format!("stopped supervisor {pid} and its process group"));
            }
            Err(e) => report
                .errors
                .push(format!("stopping supervisor {pid}: {e}")),
        }
    }
    // Strays too: a daemon whose supervisor was killed, a second supervisor,
    // a look-alike of ours holding no lock (an older version's supervisor).
    let (supervisors, daemons) = supervisor::running(procs, layout, config.uid);
    let lookalikes = supervisor::lockless_lookalikes(procs, layout, config.uid);
    for pid in supervisors.iter().chain(&daemons).chain(&lookalikes) {
        // The stopped supervisor's own daemon got the group's SIGTERM.
        let in_stopped_group = procs
            .lineage(*pid)
            .is_some_and(|l| report.stopped.contains(&l.sid));
        if in_stopped_group {
            continue;
        }
        if procs
            .terminate_group(*pid)
            .or_else(|_| procs.terminate(*pid))
            .is_ok()
            && !report.stopped.contains(pid)
        {
            report.stopped.push(*pid);
            report.done.push(format!("stopped stray process {pid}"));
        }
    }
    let all_gone = wait_until(
        crate::install::SUPERVISOR_WAIT,
        Duration::from_millis(20),
        || {
            let (s, d) = supervisor::running(procs, layout, config.uid);
            s.is_empty() && d.is_empty()
        },
    );
    if all_gone {
        return;
    }
    let (s, d) = supervisor::running(procs, layout, config.uid);
    let left: Vec<i32> = s.into_iter().chain(d).collect();
    if !left.is_empty() {
        report
            .errors
            .push(format!("processes still running after SIGTERM: {left:?}"));
    }
}

fn remove_git_values<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    saved: &str,
    report: &mut UninstallReport,
) {
    let wanted = crate::install::wanted_helpers(&config.layout.helper_script);
    let server = match crate::settings::served_github(config, saved) {
        Ok(server) => server,
        Err(e) => {
            report.errors.push(e);
            return;
        }
    };
    let (helper_key, http_path_key) = (server.helper_key(), server.use_http_path_key());
    let (helpers, use_http_path) = match crate::install::read_global(spawner, git, config, &server)
    {
        Ok(v) => v,
        Err(e) => {
            report.errors.push(e);
            return;
        }
    };
    let mut run = |args: &[&str]| {
        let cmd = config
            .command(git)
            .args(["config", "--global"])
            .args(args.iter().copied());
        match spawner.run(&cmd) {
            Ok(out) if out.success() || out.code == Some(5) => true,
            Ok(out) => {
                report.errors.push(out.failure_reason(&cmd.display()));
                false
            }
            Err(e) => {
                report.errors.push(format!("{}: {e}", cmd.display()));
                false
            }
        }
    };
    if helpers.contains(&wanted[1]) {
        // Keep any helper someone added after ours; drop ours and, when
        // nothing else is left, the reset that came with it.
        let others: Vec<&String> = helpers
            .iter()
            .filter(|h| **h != wanted[1] && !h.is_empty())
            .collect();
        let mut ok = run(&["--unset-all", &helper_key]);
        for value in &others {
            ok &= run(&["--add", &helper_key, value]);
        }
        if ok {
            report.removed.push(helper_key.clone());
            report.done.push(format!("removed our {helper_key} values"));
            if !others.is_empty() {
                report.kept.push(format!(
                    "{helper_key} values others added: {}",
                    others.len()
                ));
            }
        }
    }
    if use_http_path.is_some() && run(&["--unset-all", &http_path_key]) {
        report.removed.push(http_path_key.clone());
        report.done.push(format!("removed {http_path_key}"));
    }
}

/// `~/.gitconfig` left with no value once ours are gone (git leaves the
/// empty section headers behind) is removed: install most likely created
/// it. One that still holds anything is kept, and the report says so.
fn remove_gitconfig_left_empty<F: Fs, S: Spawner>(
    fs: &F,
    spawner: &S,
    git: &Path,
    config: &Config,
    report: &mut UninstallReport,
) {
    let path = config.layout.home.join(".gitconfig");
    let Ok(bytes) = fs.read(&path, 1024 * 1024) else {
        return;
    };
    let list = config.command(git).args(["config", "--global", "--list"]);
    let values = match spawner.run(&list) {
        Ok(out) if out.success() => out.stdout.lines().filter(|l| !l.is_empty()).count(),
        // Exit 1: no values at all.
        Ok(out) if out.code == Some(1) => 0,
        _ => return,
    };
    let only_headers = String::from_utf8_lossy(&bytes).lines().all(|l| {
        let l = l.trim();
        l.is_empty()
            || (l.starts_with('[') && l.ends_with(']'))
            || l.starts_with('#')
            || l.starts_with(';')
    });
    if values == 0 && only_headers {
        match fs.remove_file(&path) {
            Ok(()) => {
                report.removed.push(path.display().to_string());
                report.done.push(format!(
                    "removed {} (empty without our values)",
                    path.display()
                ));
            }
            Err(e) => report
                .errors
                .push(format!("removing {}: {e}", path.display())),
        }
    } else {
        report.kept.push(format!(
            "{}: it holds {values} other value(s)",
            path.display()
        ));
    }
}

/// Removes PATH when it is ours. In a home others can write to (a sticky
/// `/tmp`-like home), a `.molecule-*` entry another uid made is theirs:
/// kept and listed, never removed.
fn remove_path<F: Fs>(fs: &F, path: &Path, uid: u32, report: &mut UninstallReport) {
    let result = match fs.metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => Err(e),
        Ok(m) if m.uid != uid => {
            report.kept.push(format!(
                "{}: owned by uid {}, not {uid}, so not ours to remove",
                path.display(),
                m.uid
            ));
            return;
        }
        // A symlink is removed itself; its target is not ours.
        Ok(m) if m.kind == FileKind::Dir => fs.remove_dir_all(path),
        Ok(_) => fs.remove_file(path),
    };
    match result {
        Ok(()) => {
            report.removed.push(path.display().to_string());
            report.done.push(format!("removed {}", path.display()));
        }
        Err(e) => report
            .errors
            .push(format!("removing {}: {e}", path.display())),
    }
}
