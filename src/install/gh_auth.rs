//! Step 5: log gh in with the freshest token we know, unless it already has it.

use std::time::Duration;

use crate::config::Config;
use crate::os::{Fs, Spawner, Which};
use crate::report::Outcome;
use crate::secret::{Secret, Token};

/// gh has no timeout of its own.
const GH_LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct GhAuthResult {
    pub outcome: Outcome,
    pub warnings: Vec<String>,
    /// Tokens this step saw, so the report can be redacted of them.
    pub secrets: Vec<String>,
}

/// Whether gh's hosts file holds `token` as an `oauth_token`.
pub fn hosts_file_has_token(hosts: &str, token: &str) -> bool {
    hosts.lines().any(|line| {
        line.trim()
            .strip_prefix("oauth_token:")
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
            == Some(token)
    })
}

/// The freshest token: a valid cached platform token, else the env token.
fn freshest_token<F: Fs>(fs: &F, config: &Config) -> Option<(Token, &'static str)> {
    let cached = crate::cache::read(fs, &config.layout)
        .and_then(|c| c.valid_token(config.now_epoch).cloned())
        .map(|t| (t, "cached platform token"));
    cached.or_else(|| config.env_token().map(|t| (t, "provision-time env token")))
}

pub(crate) fn run<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
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
    let outcome = match which.which("gh") {
        None => Outcome::Skipped("gh not on PATH".into()),
        Some(gh) => match freshest_token(fs, config) {
            None => Outcome::Skipped("no token to give gh".into()),
            Some((token, source)) => {
                secrets.push(token.expose().clone());
                login(fs, spawner, &gh, config, &token, source)
            }
        },
    };
    GhAuthResult {
        outcome,
        warnings,
        secrets,
    }
}

fn login<F: Fs, S: Spawner>(
    fs: &F,
    spawner: &S,
    gh: &std::path::Path,
    config: &Config,
    token: &Token,
    source: &str,
) -> Outcome {
    let hosts = config.layout.gh_hosts_file(config);
    let already = fs
        .read(&hosts, crate::config::HOSTS_FILE_LIMIT)
        .map(|b| hosts_file_has_token(&String::from_utf8_lossy(&b), token.expose()))
        .unwrap_or(false);
    if already {
        return Outcome::Unchanged(format!("gh already holds the {source}"));
    }
    let mut cmd = config
        .command(gh)
        .args(["auth", "login", "--hostname", "github.com", "--with-token"])
        .stdin(Secret::new(format!("{}\n", token.expose()).into_bytes()))
        .timeout(GH_LOGIN_TIMEOUT);
    // gh refuses --with-token while either is set, and would prefer them anyway.
    for var in crate::config::ENV_TOKEN_VARS {
        cmd = cmd.env_remove(var);
    }
    match spawner.run(&cmd) {
        Ok(out) if out.success() => Outcome::Changed(format!("gh logged in with the {source}")),
        Ok(out) => Outcome::Failed(out.failure_reason("gh auth login")),
        Err(e) => Outcome::Failed(format!("gh auth login: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_token_match_is_exact() {
        let hosts = "github.com:\n    oauth_token: ghs_abc\n    user: x\n";
        assert!(hosts_file_has_token(hosts, "ghs_abc"));
        assert!(!hosts_file_has_token(hosts, "ghs_ab"));
        assert!(hosts_file_has_token(
            "github.com:\n  oauth_token: \"ghs_q\"\n",
            "ghs_q"
        ));
    }
}
