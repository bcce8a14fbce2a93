//! `status`: a read-only health check of an install. One line per check;
//! healthy when no check fails. Never prints a token.

pub mod daemon_log;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::fetch_state::FetchState;
use crate::git_helpers::{helpers_for, others_after_ours};
use crate::os::{FileKind, Fs, ProcTable, Spawner, Which};
use crate::settings::{Setting, Source};
use crate::supervisor::{self, SupervisorState};
use daemon_log::DaemonLog;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but something deserves a look.
    Warn,
    /// Broken: `status` exits 1.
    Fail,
}

/// One line of the health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Check {
    /// The check's name (`scripts`, `git-config`, …).
    pub name: String,
    /// How it came out.
    pub level: Level,
    /// Why, in a line (never a token).
    pub detail: String,
}

/// The health check of one install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// No check failed.
    pub healthy: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The settings the helper takes in this process's environment, and
    /// where each came from (`env`, `install`, `default`).
    #[serde(default)]
    pub settings: Vec<Setting>,
}

impl StatusReport {
    pub(crate) fn new(checks: Vec<Check>) -> Self {
        StatusReport {
            healthy: checks.iter().all(|c| c.level != Level::Fail),
            checks,
            settings: Vec::new(),
        }
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as JSON.
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
            writeln!(f, "{level:<4} {:<18} {}", c.name, c.detail)?;
            if c.name == "settings" {
                for setting in &self.settings {
                    let source = match setting.source {
                        Source::Env => "env",
                        Source::Install => "install",
                        Source::Default => "default",
                    };
                    writeln!(
                        f,
                        "       {:<32} {:<8} {}",
                        setting.name, source, setting.value
                    )?;
                }
            }
        }
        writeln!(f, "{}", if self.healthy { "healthy" } else { "unhealthy" })
    }
}

/// One check. Its detail may carry outside text (the probe's stderr, a
/// log line, a setting's value, git config): C0 and C1 controls and Unicode
/// bidi controls are removed, so it is one line that shows what it says,
/// and URL userinfo and `Authorization` credentials are redacted.
pub(crate) fn check(name: &str, level: Level, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: crate::secret::redact_credentials(&printable(&detail.into())),
    }
}

/// Text without control characters (C0, DEL, C1) or Unicode bidi controls
/// (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069).
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Optional extra: a live platform fetch (`--probe`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// Whether the helper fetched a token.
    pub ok: bool,
    /// How long it took.
    pub latency_ms: u128,
    /// What it said (never the token).
    pub detail: String,
}

impl Probe {
    /// A probe's result: whether the helper fetched a token, how long it
    /// took, and what it said (never the token).
    pub fn new(ok: bool, latency_ms: u128, detail: impl Into<String>) -> Self {
        Probe {
            ok,
            latency_ms,
            detail: detail.into(),
        }
    }
}

/// Checks the install in `config`'s home, read-only (with `probe`, the result of a live fetch).
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
    // Never read or run another user's files as ourselves (`--user NAME`).
    if let Some(refusal) = crate::install::foreign_home_refusal(fs, config, "status") {
        return StatusReport::new(vec![check("home", Level::Fail, refusal)]);
    }
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
    let log = daemon_log::read(fs, layout);
    let (settings_check, settings) = settings(fs, spawner, which, config);
    let home = match crate::install::home_safety(fs, config) {
        crate::install::HomeSafety::Safe => {
            let loose = crate::install::loose_git_files(fs, config);
            if loose.is_empty() {
                check(
                    "home",
                    Level::Ok,
                    format!(
                        "{}, the directories above it and git's config files are writable by their owners only",
                        layout.home.display()
                    ),
                )
            } else {
                check(
                    "home",
                    Level::Fail,
                    format!(
                        "{} can be written by group or others: they decide which helper git runs; run install (it removes that write) or chmod go-w them",
                        loose
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }
        }
        crate::install::HomeSafety::Warn(w) => check("home", Level::Warn, w),
        crate::install::HomeSafety::Refuse(why) => check("home", Level::Fail, why),
    };
    let mut checks = vec![
        home,
        settings_check,
        scripts(fs, config),
        git_config(fs, spawner, which, config),
        credentials_in_url(fs, spawner, which, config),
        cache_dir(fs, config),
        cached_token(fs, config, &log),
        platform(fs, config),
        daemon(fs, procs, config, &log),
        last_refresh(&log, stalled(fs, procs, config, &log)),
        gh_login(&log),
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
    let mut report = StatusReport::new(checks);
    report.settings = settings;
    report
}

/// The helper's own verdict on the settings it takes here (this process's
/// environment, then the saved file, then the defaults): it fails when git
/// could not get a platform token with them, naming each problem and its fix.
fn settings<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
) -> (Check, Vec<Setting>) {
    let home = &config.layout.home;
    if let Ok(owner) = fs.metadata(home).map(|m| m.uid) {
        if owner != config.uid {
            // The helper trusts only a settings file of the uid running it:
            // asked as another user, it would judge settings git never sees.
            return (
                check(
                    "settings",
                    Level::Warn,
                    format!(
                        "not checked: {} belongs to uid {owner}, and this runs as uid {}; run status as that user (e.g. `setpriv --reuid={owner} --regid=<gid> --init-groups molecule-credential-helper status`)",
                        home.display(),
                        config.uid
                    ),
                ),
                Vec::new(),
            );
        }
    }
    let Some(bash) = which.which("bash") else {
        return (
            check(
                "settings",
                Level::Fail,
                "bash not on PATH: git cannot run the helper",
            ),
            Vec::new(),
        );
    };
    let v = match crate::settings::verdict(spawner, &bash, config) {
        Ok(v) => v,
        Err(e) => return (check("settings", Level::Fail, e), Vec::new()),
    };
    let (notes, problems): (Vec<&String>, Vec<&String>) =
        v.problems.iter().partition(|p| p.starts_with("note: "));
    let join = |lines: &[&String]| {
        lines
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let result = if !problems.is_empty() {
        check("settings", Level::Fail, join(&problems))
    } else if !notes.is_empty() {
        check("settings", Level::Warn, join(&notes))
    } else {
        let count = |source| v.settings.iter().filter(|s| s.source == source).count();
        check(
            "settings",
            Level::Ok,
            format!(
                "git can get a platform token with these ({} saved at install, {} from this environment, the rest defaults)",
                count(Source::Install),
                count(Source::Env)
            ),
        )
    };
    (result, v.settings)
}

/// Tokens that bypass the helper: a password in a remote URL or a url
/// rewrite's base, or an Authorization extraheader, for the served GitHub,
/// in the repositories under REPO_ROOTS and the user's global git configs
/// (the helper's `_repair --dry-run`: read-only). They die
/// with their token, so a push from there fails: warn, naming up to five.
fn credentials_in_url<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
) -> Check {
    const NAME: &str = "credentials-in-url";
    if let Ok(owner) = fs.metadata(&config.layout.home).map(|m| m.uid) {
        if owner != config.uid {
            return check(
                NAME,
                Level::Warn,
                format!(
                    "not checked: {} belongs to uid {owner}, and this runs as uid {}; run status as that user",
                    config.layout.home.display(),
                    config.uid
                ),
            );
        }
    }
    let Some(bash) = which.which("bash") else {
        return check(NAME, Level::Warn, "not checked: bash not on PATH");
    };
    let report = match crate::repair::repair_with(spawner, &bash, config, &[], true) {
        Ok(report) => report,
        Err(e) => return check(NAME, Level::Warn, format!("not checked: {e}")),
    };
    let others = match report.skipped.len() {
        0 => String::new(),
        n => format!("; {n} skipped (another user's, or past the 2,000 bound)"),
    };
    let repos = report.repos();
    if repos.is_empty() {
        return check(
            NAME,
            Level::Ok,
            format!("no token in a remote URL, url rewrite or extraheader of the repositories under REPO_ROOTS or the global git config{others}"),
        );
    }
    let mut named = repos.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if repos.len() > 5 {
        named.push_str(&format!(" and {} more", repos.len() - 5));
    }
    check(
        NAME,
        Level::Warn,
        format!(
            "{} in remote URLs, url rewrites or extraheaders git never refreshes, in {named}: a push from there fails once the token dies; run `molecule-credential-helper repair`{others}",
            crate::report::count(report.changes.len() as u64, "credential", "credentials")
        ),
    )
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

/// Git's helper chain for the served GitHub (github.com, or
/// `GITHUB_SERVER_URL`): which helper answers first.
fn git_config<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
) -> Check {
    let Some(git) = which.which("git") else {
        return check("git-config", Level::Warn, "git not on PATH");
    };
    let saved = crate::settings::read_saved(fs, config);
    let server = match crate::settings::served_github(config, &saved) {
        Ok(server) => server,
        Err(e) => return check("git-config", Level::Fail, e),
    };
    let probe = server.probe_url();
    let wanted = crate::install::wanted_helpers(&config.layout.helper_script);
    let (ours, use_http_path) = match crate::install::read_global(spawner, &git, config, &server) {
        Ok(v) => v,
        Err(e) => return check("git-config", Level::Fail, e),
    };
    if ours != wanted {
        return check(
            "git-config",
            Level::Fail,
            format!(
                "{} is {ours:?}, want [\"\", {:?}]; run install",
                server.helper_key(),
                wanted[1]
            ),
        );
    }
    if use_http_path.as_deref() != Some("true") {
        return check(
            "git-config",
            Level::Fail,
            format!("{} is not true; run install", server.use_http_path_key()),
        );
    }
    if let Some(url) = crate::git_helpers::rewritten_probe(spawner, &git, config, &server) {
        return check(
            "git-config",
            Level::Fail,
            format!("git rewrites {probe} to {url} (url.<base>.insteadOf): it asks that URL's helpers, never ours; remove the rewrite or point it at {}/", server.url),
        );
    }
    let chain = match helper_chain(spawner, &git, config, &server) {
        Ok(chain) => chain,
        Err(e) => return check("git-config", Level::Fail, e),
    };
    match chain.first() {
        Some(first) if *first == wanted[1] => {}
        Some(first) => {
            return check(
                "git-config",
                Level::Fail,
                format!("git asks {first:?} for {probe} before our helper (git's own URL matching, every config file)"),
            )
        }
        None => {
            return check(
                "git-config",
                Level::Fail,
                format!("no credential helper answers {probe}"),
            )
        }
    }
    let others = others_after_ours(&chain, &wanted[1]);
    let host = &server.host;
    if others.is_empty() {
        check(
            "git-config",
            Level::Ok,
            format!("our helper answers {host} first, and no other helper follows it"),
        )
    } else {
        check(
            "git-config",
            Level::Warn,
            format!(
                "git also runs {others:?} for {host}: after every successful push it hands that helper our token to store (e.g. in ~/.git-credentials); scope it away from {host}"
            ),
        )
    }
}

/// Every helper git runs for the probe URL, in order, from all of git's
/// config files (`git config --list`), replayed with git's URL matching.
fn helper_chain<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    server: &crate::config::GitHubServer,
) -> Result<Vec<String>, String> {
    let cmd = config.command(git).args(["config", "--list", "-z"]);
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("git config --list: {e}"))?;
    if !out.success() {
        return Ok(Vec::new());
    }
    Ok(helpers_for(&out.stdout, server))
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

/// The cached token's state, never the token: fresh or stale, how long
/// GitHub still accepts it (the helper serves it through a platform outage
/// until TOKEN_MIN_REMAINING_SEC before its expiry), and when the daemon
/// refreshes next. Generation tags are honoured as the helper does.
fn cached_token<F: Fs>(fs: &F, config: &Config, log: &DaemonLog) -> Check {
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
    let now = config.now_epoch;
    let minutes = |secs: u64| crate::report::count(secs / 60, "minute", "minutes");
    let more_minutes = |secs: u64| crate::report::count(secs / 60, "more minute", "more minutes");
    let accepted = cached.expires_at.map(|at| {
        let min_remaining = crate::fetch_state::min_remaining(fs, config);
        let left = at.saturating_sub(now);
        if left > min_remaining {
            format!("GitHub accepts it for {}", more_minutes(left))
        } else {
            "GitHub stops accepting it within TOKEN_MIN_REMAINING_SEC: no longer served".into()
        }
    });
    let next = log.next_refresh_at.map(|at| {
        if at > now {
            format!("next refresh in {}", minutes(at - now))
        } else {
            format!("a refresh was due {} ago", minutes(now - at))
        }
    });
    let hashed = cached
        .token
        .as_ref()
        .map(|t| format!("hashed_token {}", t.fingerprint()));
    let tail: String = [accepted, next, hashed]
        .into_iter()
        .flatten()
        .map(|s| format!("; {s}"))
        .collect();
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
        (true, Some(expiry)) if expiry > now => check(
            "cached-token",
            Level::Ok,
            format!("fresh for {}{tail}", more_minutes(expiry - now)),
        ),
        (true, Some(expiry)) => check(
            "cached-token",
            Level::Warn,
            format!(
                "stale for {} (the next git call asks the platform){tail}",
                minutes(now - expiry)
            ),
        ),
    }
}

/// What git would get now without asking anyone: the cache and the
/// helper's record of the last failed fetch (no request is sent). Fails
/// when no cached token would be served and the last fetch failed, naming
/// the failure's class and the helper's fix for it; warns while the
/// cached token is served through a failure.
fn platform<F: Fs>(fs: &F, config: &Config) -> Check {
    match crate::fetch_state::read(fs, config) {
        FetchState::Clear => check(
            "platform",
            Level::Ok,
            "no platform fetch has failed since the last one that succeeded",
        ),
        FetchState::ServingThrough { failure, until } => check(
            "platform",
            Level::Warn,
            format!(
                "{}; serving the cached token until {}",
                failure.describe(),
                crate::fetch_state::hh_mm_utc(until)
            ),
        ),
        FetchState::Failing(failure) => check(
            "platform",
            Level::Fail,
            format!("git gets no platform token: {}", failure.describe()),
        ),
    }
}

/// Since when (epoch seconds) the running supervisor, as its log says,
/// has been refreshing: `None` when none runs.
fn running_since<F: Fs, P: ProcTable>(
    fs: &F,
    procs: &P,
    config: &Config,
    log: &DaemonLog,
) -> Option<u64> {
    match supervisor::state(fs, procs, &config.layout, config.uid) {
        SupervisorState::Running(pid) if log.supervisor.map(|(p, _)| p) == Some(pid) => {
            log.supervisor_started_at
        }
        _ => None,
    }
}

/// One token's life: GitHub's installation tokens live 60 minutes.
const TOKEN_LIFE_SECS: u64 = 3600;

/// gh's last login (the daemon's, or install's detached one).
fn gh_login(log: &DaemonLog) -> Check {
    match &log.last_gh {
        None => check("gh-login", Level::Ok, "no gh login logged yet"),
        Some(gh) => {
            let level = if gh.ok { Level::Ok } else { Level::Warn };
            let detail: String = gh.detail.chars().take(300).collect();
            check("gh-login", level, format!("{}: {detail}", gh.at))
        }
    }
}

fn daemon<F: Fs, P: ProcTable>(fs: &F, procs: &P, config: &Config, log: &DaemonLog) -> Check {
    let (supervisors, daemons) = supervisor::running(procs, &config.layout, config.uid);
    match supervisor::state(fs, procs, &config.layout, config.uid) {
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
        SupervisorState::Running(pid) if daemons.is_empty() && log.daemon_exited_under(pid) => {
            check(
                "daemon",
                Level::Warn,
                format!("supervisor {pid} alive, daemon between respawns"),
            )
        }
        // Right after install: the supervisor has not forked its first
        // daemon yet. Nothing is wrong.
        SupervisorState::Running(pid) if daemons.is_empty() => check(
            "daemon",
            Level::Ok,
            format!("supervisor {pid} alive; daemon starting"),
        ),
        SupervisorState::Running(pid) => check(
            "daemon",
            Level::Ok,
            format!("supervisor {pid} alive and unique; daemon {daemons:?}"),
        ),
    }
}

/// Why the running daemon has stopped refreshing, when it has: it has run
/// for longer than one token's life without a successful refresh (gh's
/// login dies with the token it holds), whatever else it looks like.
fn stalled<F: Fs, P: ProcTable>(
    fs: &F,
    procs: &P,
    config: &Config,
    log: &DaemonLog,
) -> Option<String> {
    let since = running_since(fs, procs, config, log)?;
    let now = config.now_epoch;
    let ok_since_start = log.last_ok_at.filter(|&at| at >= since);
    let (last, allowed) = match ok_since_start {
        Some(at) => (at, TOKEN_LIFE_SECS),
        // Its first refresh comes after the initial delay and jitter (the
        // helper's values, the saved ones too): a token's life after that.
        None => {
            let first = crate::settings::seconds(fs, config, "TOKEN_REFRESH_INITIAL_DELAY_SEC", 60)
                + crate::settings::seconds(fs, config, "TOKEN_REFRESH_JITTER_SEC", 120);
            (since, TOKEN_LIFE_SECS + first)
        }
    };
    if now.saturating_sub(last) <= allowed {
        return None;
    }
    let what = match ok_since_start {
        Some(at) => format!("since {}", crate::clock::rfc3339_utc(at)),
        None => format!("since it started at {}", crate::clock::rfc3339_utc(since)),
    };
    let minutes = now.saturating_sub(last) / 60;
    // Trying and failing is the platform's trouble, not a stuck daemon.
    let last_text = crate::clock::rfc3339_utc(last);
    if let Some((at, error)) = log.last_error.as_ref().filter(|(at, _)| *at >= last_text) {
        return Some(format!(
            "the daemon has not refreshed {what}, {minutes} minutes, longer than a token's 60-minute life: every refresh failed (last at {at}: {error}); it keeps retrying: fix what the platform check names"
        ));
    }
    Some(format!(
        "the daemon has not refreshed {what}, {minutes} minutes, longer than a token's 60-minute life: it has stopped refreshing, and gh's login dies with its token; restart it: `kill -TERM -$(cat {})` then `molecule-credential-helper install`",
        config.layout.pid_file.display()
    ))
}

/// The running daemon has stopped refreshing (see `stalled`), for
/// install's problems.
pub(crate) fn stalled_daemon<F: Fs, P: ProcTable>(
    fs: &F,
    procs: &P,
    config: &Config,
) -> Option<String> {
    let log = daemon_log::read(fs, &config.layout);
    stalled(fs, procs, config, &log)
}

/// The last successful refresh and the last error, from the daemon log; a
/// fail when the daemon has stopped refreshing.
fn last_refresh(log: &DaemonLog, stalled: Option<String>) -> Check {
    let (last_ok, last_error) = (&log.last_ok, &log.last_error);
    if let Some(why) = stalled {
        return check("last-refresh", Level::Fail, why);
    }
    let error_text = |e: &Option<(String, String)>| {
        e.as_ref()
            .map(|(ts, msg)| format!("last error {ts}: {msg}"))
            .unwrap_or_else(|| "no errors".into())
    };
    match (last_ok, last_error) {
        (Some(ok), Some((err_ts, _))) if err_ts > ok => check(
            "last-refresh",
            Level::Warn,
            format!("last ok {ok}; {}", error_text(last_error)),
        ),
        (Some(ok), _) => check(
            "last-refresh",
            Level::Ok,
            format!("last ok {ok}; {}", error_text(last_error)),
        ),
        (None, Some(_)) => check(
            "last-refresh",
            Level::Warn,
            format!("no successful refresh yet; {}", error_text(last_error)),
        ),
        (None, None) => check(
            "last-refresh",
            Level::Warn,
            "no refresh yet (the daemon waits its initial delay)",
        ),
    }
}
