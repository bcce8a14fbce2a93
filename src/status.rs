//! `status`: a read-only health check of an install. One line per check;
//! healthy when no check fails. Never prints a token.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, GIT_HELPER_KEY};
use crate::git_helpers::{helpers_for_github, others_after_ours, GITHUB_PROBE_URL};
use crate::os::{FileKind, Fs, ProcTable, Spawner, Which};
use crate::supervisor::{self, SupervisorState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub level: Level,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub healthy: bool,
    pub checks: Vec<Check>,
}

impl StatusReport {
    fn new(checks: Vec<Check>) -> Self {
        StatusReport {
            healthy: checks.iter().all(|c| c.level != Level::Fail),
            checks,
        }
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let level = match c.level {
                Level::Ok => "ok",
                Level::Warn => "warn",
                Level::Fail => "fail",
            };
            writeln!(f, "{level:<4} {:<13} {}", c.name, c.detail)?;
        }
        writeln!(f, "{}", if self.healthy { "healthy" } else { "unhealthy" })
    }
}

fn check(name: &str, level: Level, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: detail.into(),
    }
}

/// Optional extra: a live platform fetch (`--probe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub ok: bool,
    pub latency_ms: u128,
    pub detail: String,
}

pub fn status<F: Fs, S: Spawner, P: ProcTable, W: Which>(
    fs: &F,
    spawner: &S,
    procs: &P,
    which: &W,
    config: &Config,
    probe: Option<Probe>,
) -> StatusReport {
    let layout = &config.layout;
    let missing = |p: &Path| {
        fs.metadata(p)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    };
    if missing(&layout.runtime_dir) && missing(&layout.cache_dir) {
        // One clear line, not a column of failures and "waiting" warnings.
        return StatusReport::new(vec![check(
            "install",
            Level::Fail,
            format!(
                "not installed in {}: run `molecule-credential-helper install`",
                layout.home.display()
            ),
        )]);
    }
    let mut checks = vec![
        scripts(fs, config),
        git_config(spawner, which, config),
        cache_dir(fs, config),
        cached_token(fs, config),
        daemon(fs, procs, config),
        last_refresh(fs, config),
    ];
    checks.push(match which.which("gh") {
        Some(path) => check("gh", Level::Ok, format!("gh at {}", path.display())),
        None => check(
            "gh",
            Level::Warn,
            "gh not on PATH: gh commands will not be refreshed",
        ),
    });
    let vars = config.env_token_vars();
    checks.push(if vars.is_empty() {
        check(
            "env-token",
            Level::Ok,
            "GH_TOKEN and GITHUB_TOKEN are unset",
        )
    } else {
        check(
            "env-token",
            Level::Warn,
            format!(
                "{} set: gh prefers it over the refreshed credential in processes that inherit it",
                vars.join(" and ")
            ),
        )
    });
    if let Some(p) = probe {
        let level = if p.ok { Level::Ok } else { Level::Fail };
        checks.push(check(
            "probe",
            level,
            format!("{} ({} ms)", p.detail, p.latency_ms),
        ));
    }
    StatusReport::new(checks)
}

fn scripts<F: Fs>(fs: &F, config: &Config) -> Check {
    let mut problems = Vec::new();
    for (name, contents) in crate::scripts::embedded() {
        let path = config.layout.scripts_dir.join(name);
        match (
            fs.read(&path, crate::scripts::SCRIPT_READ_LIMIT),
            fs.metadata(&path),
        ) {
            (Ok(bytes), Ok(meta)) => {
                if bytes != contents {
                    problems.push(format!("{name} differs from the embedded one"));
                } else if meta.mode & 0o111 == 0 {
                    problems.push(format!("{name} is not executable"));
                }
            }
            _ => problems.push(format!("{name} missing")),
        }
    }
    if problems.is_empty() {
        check(
            "scripts",
            Level::Ok,
            "present, executable, identical to the embedded ones",
        )
    } else {
        check(
            "scripts",
            Level::Fail,
            format!("{}; run install", problems.join("; ")),
        )
    }
}

/// Git's helper chain for https://github.com: which helper answers first.
fn git_config<S: Spawner, W: Which>(spawner: &S, which: &W, config: &Config) -> Check {
    let Some(git) = which.which("git") else {
        return check("git-config", Level::Warn, "git not on PATH");
    };
    let wanted = crate::install::wanted_helpers(&config.layout.helper_script);
    let (ours, use_http_path) = match crate::install::read_global(spawner, &git, config) {
        Ok(v) => v,
        Err(e) => return check("git-config", Level::Fail, e),
    };
    if ours != wanted {
        return check(
            "git-config",
            Level::Fail,
            format!(
                "{GIT_HELPER_KEY} is {ours:?}, want [\"\", {:?}]; run install",
                wanted[1]
            ),
        );
    }
    if use_http_path.as_deref() != Some("true") {
        return check(
            "git-config",
            Level::Fail,
            "useHttpPath is not true; run install",
        );
    }
    let chain = match github_helper_chain(spawner, &git, config) {
        Ok(chain) => chain,
        Err(e) => return check("git-config", Level::Fail, e),
    };
    match chain.first() {
        Some(first) if *first == wanted[1] => {}
        Some(first) => {
            return check(
                "git-config",
                Level::Fail,
                format!("git asks {first:?} for {GITHUB_PROBE_URL} before our helper (git's own URL matching, every config file)"),
            )
        }
        None => {
            return check(
                "git-config",
                Level::Fail,
                format!("no credential helper answers {GITHUB_PROBE_URL}"),
            )
        }
    }
    let others = others_after_ours(&chain, &wanted[1]);
    if others.is_empty() {
        check(
            "git-config",
            Level::Ok,
            "our helper answers github.com first, and no other helper follows it",
        )
    } else {
        check(
            "git-config",
            Level::Warn,
            format!(
                "git also runs {others:?} for github.com: after every successful push it hands that helper our token to store (e.g. in ~/.git-credentials); scope it away from github.com"
            ),
        )
    }
}

/// Every helper git runs for the probe URL, in order, from all of git's
/// config files (`git config --list`), replayed with git's URL matching.
fn github_helper_chain<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
) -> Result<Vec<String>, String> {
    let cmd = config.command(git).args(["config", "--list", "-z"]);
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("git config --list: {e}"))?;
    if !out.success() {
        return Ok(Vec::new());
    }
    Ok(helpers_for_github(&out.stdout))
}

fn cache_dir<F: Fs>(fs: &F, config: &Config) -> Check {
    let dir = &config.layout.cache_dir;
    match fs.metadata(dir) {
        Err(_) => check(
            "token-cache",
            Level::Fail,
            format!("{} missing; run install", dir.display()),
        ),
        Ok(m) if m.kind == FileKind::Symlink => check(
            "token-cache",
            Level::Fail,
            format!("{} is a symlink", dir.display()),
        ),
        Ok(m) if m.kind != FileKind::Dir => check(
            "token-cache",
            Level::Fail,
            format!("{} is not a directory", dir.display()),
        ),
        Ok(m) if m.uid != config.uid => check(
            "token-cache",
            Level::Fail,
            format!(
                "{} owned by uid {}, not {}",
                dir.display(),
                m.uid,
                config.uid
            ),
        ),
        Ok(m) if m.mode & 0o777 != 0o700 => check(
            "token-cache",
            Level::Fail,
            format!("{} is {:04o}, want 0700", dir.display(), m.mode & 0o777),
        ),
        Ok(_) => check(
            "token-cache",
            Level::Ok,
            format!("{} 0700, ours", dir.display()),
        ),
    }
}

fn cached_token<F: Fs>(fs: &F, config: &Config) -> Check {
    let Some(cached) = crate::cache::read(fs, &config.layout) else {
        return check(
            "cached-token",
            Level::Warn,
            "no cached token yet (the next git call fetches one)",
        );
    };
    if !cached.consistent {
        return check(
            "cached-token",
            Level::Warn,
            "the token and expiry files come from two different writes: the helper will not serve them and refetches",
        );
    }
    match (cached.token.is_some(), cached.expiry) {
        (false, _) => check(
            "cached-token",
            Level::Warn,
            "cached token has an invalid shape; it will be refetched",
        ),
        (true, None) => check(
            "cached-token",
            Level::Warn,
            "cache has no expiry; it will be refetched",
        ),
        (true, Some(expiry)) if expiry > config.now_epoch => check(
            "cached-token",
            Level::Ok,
            format!(
                "valid for {} more minutes",
                (expiry - config.now_epoch) / 60
            ),
        ),
        (true, Some(expiry)) => check(
            "cached-token",
            Level::Warn,
            format!(
                "stale for {} minutes (the next git call refetches)",
                (config.now_epoch - expiry) / 60
            ),
        ),
    }
}

fn daemon<F: Fs, P: ProcTable>(fs: &F, procs: &P, config: &Config) -> Check {
    let (supervisors, daemons) = supervisor::running(procs, &config.layout);
    match supervisor::state(fs, procs, &config.layout) {
        SupervisorState::NotRunning(why) => check(
            "daemon",
            Level::Fail,
            format!("supervisor not running: {why}"),
        ),
        SupervisorState::Running(pid) if supervisors.len() > 1 => check(
            "daemon",
            Level::Fail,
            format!(
                "{} supervisors running ({supervisors:?}); PID file names {pid}",
                supervisors.len()
            ),
        ),
        SupervisorState::Running(pid) if daemons.is_empty() => check(
            "daemon",
            Level::Warn,
            format!("supervisor {pid} alive, daemon between respawns"),
        ),
        SupervisorState::Running(pid) => check(
            "daemon",
            Level::Ok,
            format!("supervisor {pid} alive and unique; daemon {daemons:?}"),
        ),
    }
}

/// The last successful refresh and the last error, from the daemon log.
fn last_refresh<F: Fs>(fs: &F, config: &Config) -> Check {
    let layout = &config.layout;
    let mut text = String::new();
    let rotated = layout.log_file.with_extension("log.1");
    for path in [&rotated, &layout.log_file] {
        // The log rotates at 1 MiB; a little over is a line in flight.
        if let Ok(bytes) = fs.read(path, 2 * 1024 * 1024) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    let mut last_ok = None;
    let mut last_error = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("[molecule-gh-token-refresh] ") else {
            continue;
        };
        let (ts, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        if msg.starts_with("refresh ok") {
            last_ok = Some(ts.to_string());
        } else if msg.starts_with("refresh failed") {
            last_error = Some((ts.to_string(), msg.to_string()));
        }
    }
    let error_text = |e: &Option<(String, String)>| {
        e.as_ref()
            .map(|(ts, msg)| format!("last error {ts}: {msg}"))
            .unwrap_or_else(|| "no errors".into())
    };
    match (&last_ok, &last_error) {
        (Some(ok), Some((err_ts, _))) if err_ts > ok => check(
            "last-refresh",
            Level::Warn,
            format!("last ok {ok}; {}", error_text(&last_error)),
        ),
        (Some(ok), _) => check(
            "last-refresh",
            Level::Ok,
            format!("last ok {ok}; {}", error_text(&last_error)),
        ),
        (None, Some(_)) => check(
            "last-refresh",
            Level::Warn,
            format!("no successful refresh yet; {}", error_text(&last_error)),
        ),
        (None, None) => check(
            "last-refresh",
            Level::Warn,
            "no refresh yet (the daemon waits its initial delay)",
        ),
    }
}
