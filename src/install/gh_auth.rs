//! Step 5: log gh in with the freshest token we know, unless it already has
//! it. The login itself runs detached (the helper's `_login_gh_stdin`, the
//! token on its stdin): install never waits on gh or api.github.com, so a
//! slow GitHub cannot slow a workspace's start-up. Its result goes to the
//! daemon log (and `status`); `--strict` and `contract` wait for it, bounded.

use std::time::Duration;

use crate::config::Config;
use crate::os::{wait_until, Fs, Liveness, ProcTable, Spawner, Which};
use crate::report::Outcome;
use crate::secret::{is_valid_token, Secret, Token};

/// gh has no timeout of its own; the helper bounds the login by this.
const GH_LOGIN_TIMEOUT_DEFAULT_SECS: u64 = 10;

pub(crate) struct GhAuthResult {
    pub outcome: Outcome,
    pub warnings: Vec<String>,
    /// Tokens this step saw, so the report can be redacted of them.
    pub secrets: Vec<String>,
}

/// Whether gh's hosts file holds `token` as an `oauth_token` under `host`
/// (a top-level key of the YAML; gh 2.40+ also keeps one per account under
/// `users:`, which counts too). A token under another host does not.
pub fn hosts_file_has_token(hosts: &str, host: &str, token: &str) -> bool {
    let mut current = None;
    hosts.lines().any(|line| {
        if !line.starts_with([' ', '\t', '#']) && !line.is_empty() {
            current = line
                .strip_suffix(':')
                .map(|h| h.trim().trim_matches(|c| c == '"' || c == '\''));
            return false;
        }
        current.is_some_and(|h| h.eq_ignore_ascii_case(host))
            && line
                .trim()
                .strip_prefix("oauth_token:")
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
                == Some(token)
    })
}

/// The token gh's hosts file holds for `host`, if any.
pub fn hosts_file_token(hosts: &str, host: &str) -> Option<String> {
    let mut current = None;
    hosts.lines().find_map(|line| {
        if !line.starts_with([' ', '\t', '#']) && !line.is_empty() {
            current = line
                .strip_suffix(':')
                .map(|h| h.trim().trim_matches(|c| c == '"' || c == '\''));
            return None;
        }
        if !current.is_some_and(|h| h.eq_ignore_ascii_case(host)) {
            return None;
        }
        line.trim()
            .strip_prefix("oauth_token:")
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|t| is_valid_token(t))
    })
}

/// The freshest token: a valid cached platform token, else the env token.
pub(crate) fn freshest_token<F: Fs>(fs: &F, config: &Config) -> Option<(Token, &'static str)> {
    let cached = crate::cache::read(fs, &config.layout)
        .and_then(|c| c.valid_token(config.now_epoch).cloned())
        .map(|t| (t, "cached platform token"));
    cached.or_else(|| config.env_token().map(|t| (t, "provision-time env token")))
}

pub(crate) fn run<F: Fs, S: Spawner, P: ProcTable, W: Which>(
    fs: &F,
    spawner: &S,
    procs: &P,
    which: &W,
    config: &Config,
    scripts_ready: bool,
) -> GhAuthResult {
    let mut warnings = Vec::new();
    let env_vars = config.env_token_vars();
    if !env_vars.is_empty() {
        warnings.push(format!(
            "{} set in the environment: gh prefers it over the refreshed credential in every process that inherits it; unset it after start-up",
            env_vars.join(" and ")
        ));
    }
    let mut secrets = Vec::new();
    let saved = crate::settings::read_saved(fs, config);
    let port_host = crate::settings::served_github(config, &saved)
        .ok()
        .map(|s| s.host)
        .filter(|h| h.contains(':'));
    let outcome = match (which.which("gh"), freshest_token(fs, config)) {
        (None, _) => Outcome::Skipped("gh not on PATH".into()),
        // gh's --hostname takes no port: git is served, gh cannot be.
        (Some(_), _) if port_host.is_some() => Outcome::Skipped(format!(
            "gh cannot log in to {} (gh's --hostname takes no port)",
            port_host.unwrap_or_default()
        )),
        // Nothing cached and no provision token: the daemon's first act is
        // to fetch the token git would get and log gh in (single-flight
        // with git), so gh works seconds after install; install spawns
        // nothing more, and a second install nothing at all.
        (Some(_), None) => Outcome::Skipped(
            "no token to give gh yet: the refresh daemon fetches one and logs gh in as it starts"
                .into(),
        ),
        (Some(_), Some((token, source))) => {
            secrets.push(token.expose().clone());
            let login = Login {
                fs,
                spawner,
                procs,
                which,
                config,
            };
            login.run(&token, source, scripts_ready)
        }
    };
    GhAuthResult {
        outcome,
        warnings,
        secrets,
    }
}

/// The backends one login needs.
struct Login<'a, F, S, P, W> {
    fs: &'a F,
    spawner: &'a S,
    procs: &'a P,
    which: &'a W,
    config: &'a Config,
}

impl<F: Fs, S: Spawner, P: ProcTable, W: Which> Login<'_, F, S, P, W> {
    fn holds(&self, token: &Token) -> bool {
        let saved = crate::settings::read_saved(self.fs, self.config);
        let Ok(server) = crate::settings::served_github(self.config, &saved) else {
            return false;
        };
        let hosts = self.config.layout.gh_hosts_file(self.config);
        self.fs
            .read(&hosts, crate::config::HOSTS_FILE_LIMIT)
            .map(|b| {
                hosts_file_has_token(&String::from_utf8_lossy(&b), &server.host, token.expose())
            })
            .unwrap_or(false)
    }

    fn run(&self, token: &Token, source: &str, scripts_ready: bool) -> Outcome {
        // The cheap check stays synchronous: no spawn when gh has it.
        if self.holds(token) {
            return Outcome::Unchanged(format!("gh already holds the {source}"));
        }
        if !scripts_ready {
            return Outcome::Skipped(
                "the scripts step failed (the detached login runs the helper)".into(),
            );
        }
        let Some(bash) = self.which.which("bash") else {
            return Outcome::Skipped("bash not on PATH".into());
        };
        let layout = &self.config.layout;
        // The embedded helper, not the extracted file (the home's owner can
        // edit that one); the token on stdin.
        let mut cmd = crate::scripts::embedded_helper(self.config, &bash, &["_login_gh_stdin"])
            .stdin(Secret::new(format!("{}\n", token.expose()).into_bytes()));
        // gh refuses --with-token while either is set, and would prefer them anyway.
        for var in crate::config::ENV_TOKEN_VARS {
            cmd = cmd.env_remove(var);
        }
        let pid = match self.spawner.spawn_detached(&cmd, &layout.log_file) {
            Ok(pid) => pid,
            Err(e) => return Outcome::Failed(format!("starting the gh login: {e}")),
        };
        if !self.config.wait_for_gh_login {
            return Outcome::Changed(format!(
                "gh login with the {source} started in the background (pid {pid}); its result goes to the log and `status`"
            ));
        }
        self.wait(token, source, pid)
    }

    /// `--strict` and `contract` want the answer: until gh holds the token,
    /// or the login ended without it, or its timeout (+ 5 s) passed.
    fn wait(&self, token: &Token, source: &str, pid: i32) -> Outcome {
        let limit = self
            .config
            .seconds("GH_LOGIN_TIMEOUT_SEC", GH_LOGIN_TIMEOUT_DEFAULT_SECS)
            + 5;
        let ended = || self.procs.liveness(pid) != Liveness::Alive;
        wait_until(
            Duration::from_secs(limit),
            Duration::from_millis(20),
            || self.holds(token) || ended(),
        );
        if self.holds(token) {
            return Outcome::Changed(format!("gh logged in with the {source}"));
        }
        if !ended() {
            return Outcome::Failed(format!("gh login still running after {limit}s"));
        }
        let log = crate::status::daemon_log::read(self.fs, &self.config.layout);
        Outcome::Failed(match log.last_gh {
            // Redacted whole, then cut: no part of the token survives.
            Some(gh) if !gh.ok => crate::secret::redact(&gh.detail, &[token.expose()])
                .chars()
                .take(300)
                .collect(),
            _ => "gh login ended without storing the token (see the log)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_token_match_is_exact() {
        let hosts = "github.com:\n    oauth_token: ghs_abc\n    user: x\n";
        assert!(hosts_file_has_token(hosts, "github.com", "ghs_abc"));
        assert!(!hosts_file_has_token(hosts, "github.com", "ghs_ab"));
        assert!(hosts_file_has_token(
            "github.com:\n  oauth_token: \"ghs_q\"\n",
            "github.com",
            "ghs_q"
        ));
        // Under another host it is not gh's login for this one.
        assert!(!hosts_file_has_token(hosts, "ghe.example.test", "ghs_abc"));
        let two = "github.com:\n    oauth_token: ghs_a\nghe.example.test:\n    users:\n        x:\n            oauth_token: ghs_b\n    oauth_token: ghs_b\n";
        assert!(hosts_file_has_token(two, "ghe.example.test", "ghs_b"));
        assert!(!hosts_file_has_token(two, "ghe.example.test", "ghs_a"));
    }
}
