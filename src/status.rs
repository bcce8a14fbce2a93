//! `status`: a read-only health check of an install. One line per check;
//! healthy when no check fails. Never prints a token.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, GIT_HELPER_KEY};
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
    match first_helper_for_github(spawner, &git, config) {
        Ok(Some(first)) if first == wanted[1] => check(
            "git-config",
            Level::Ok,
            "our helper answers github.com first",
        ),
        Ok(first) => check(
            "git-config",
            Level::Fail,
            format!("{first:?} answers github.com before our helper"),
        ),
        Err(e) => check("git-config", Level::Fail, e),
    }
}

/// Replays every config value git would use for https://github.com, in
/// order: an empty value resets the list.
fn first_helper_for_github<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
) -> Result<Option<String>, String> {
    let cmd = config.command(git).args(["config", "--list", "-z"]);
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("git config --list: {e}"))?;
    if !out.success() {
        return Ok(None);
    }
    let mut chain: Vec<String> = Vec::new();
    for entry in out.stdout.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
        let key = key.to_ascii_lowercase();
        let applies = key == "credential.helper"
            || key
                .strip_prefix("credential.")
                .and_then(|k| k.strip_suffix(".helper"))
                .is_some_and(url_matches_github);
        if !applies {
            continue;
        }
        if value.is_empty() {
            chain.clear();
        } else {
            chain.push(value.to_string());
        }
    }
    Ok(chain.into_iter().next())
}

/// Does a `credential.<url>` context match https://github.com/…?
fn url_matches_github(url: &str) -> bool {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    rest == "github.com" || rest.starts_with("github.com/")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_url_contexts() {
        assert!(url_matches_github("https://github.com"));
        assert!(url_matches_github("https://github.com/org"));
        assert!(url_matches_github("github.com"));
        assert!(!url_matches_github("https://github.com.evil"));
        assert!(!url_matches_github("https://gitlab.com"));
    }
}
