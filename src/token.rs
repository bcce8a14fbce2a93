//! `token`: the token git would get now, for any other program (SDKs, MCP
//! servers, scripts): the embedded helper answers a `get` for the served
//! host exactly as it answers git — a cache hit, else one single-flight
//! platform fetch, the cached token through an outage while GitHub still
//! accepts it, then the fallbacks. Never from an environment variable set
//! at start.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::os::{Fs, Spawner, Which};
use crate::secret::{is_valid_token, Secret, Token};

/// The token git would get now.
#[derive(Debug)]
#[non_exhaustive]
pub struct CurrentToken {
    /// The token itself.
    pub token: Token,
    /// When GitHub stops accepting it (epoch seconds), when known.
    pub expires_at: Option<u64>,
    /// The host it is for (`github.com`, or `GITHUB_SERVER_URL`'s).
    pub host: String,
    /// The helper's lines beside the token (the platform failed and the
    /// cached token is served, and how long GitHub accepts it).
    pub notes: Vec<String>,
}

/// `token --json`: the token, its expiry, its audit-log name and its host.
#[derive(Debug, Serialize)]
pub struct TokenJson<'a> {
    /// The token itself.
    pub token: &'a str,
    /// RFC 3339 UTC, or null when the platform gave none.
    pub expires_at: Option<String>,
    /// GitHub's audit-log `hashed_token`.
    pub hashed_token: String,
    /// The host it is for.
    pub host: &'a str,
}

impl CurrentToken {
    /// The JSON `token --json` prints.
    pub fn to_json(&self) -> String {
        let json = TokenJson {
            token: self.token.expose(),
            expires_at: self.expires_at.map(crate::clock::rfc3339_utc),
            hashed_token: self.token.fingerprint(),
            host: &self.host,
        };
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }
}

/// The most read of the helper's answer (a token of 4096 and two lines).
const ANSWER_LIMIT: usize = 16 * 1024;

/// Asks the embedded helper for the token git would get for the served
/// host. `Err`: the helper's own failure line (what failed, since when,
/// what to run), or why it could not be asked.
pub fn current_token<F: Fs, S: Spawner, W: Which>(
    fs: &F,
    spawner: &S,
    which: &W,
    config: &Config,
) -> Result<CurrentToken, String> {
    let bash = which
        .which("bash")
        .ok_or("bash is not on PATH, and the helper needs it (Debian: apt-get install bash)")?;
    let saved = crate::settings::read_saved(fs, config);
    let server = crate::settings::served_github(config, &saved)?;
    answer(spawner, &bash, config, &server.host)
}

fn answer<S: Spawner>(
    spawner: &S,
    bash: &Path,
    config: &Config,
    host: &str,
) -> Result<CurrentToken, String> {
    // The request on stdin (as git sends it), so the script goes in argv.
    let timeout = config.seconds("TOKEN_FETCH_TIMEOUT_SEC", 10) + 20;
    let cmd = crate::scripts::embedded_helper(config, bash, &["get"])
        .stdin(Secret::new(
            format!("protocol=https\nhost={host}\n\n").into_bytes(),
        ))
        .timeout(Duration::from_secs(timeout));
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("running the helper: {e}"))?;
    let stdout = &out.stdout[..out.stdout.len().min(ANSWER_LIMIT)];
    let mut token = None;
    let mut expires_at = None;
    for line in stdout.lines() {
        if let Some(t) = line.strip_prefix("password=") {
            token = Some(t);
        } else if let Some(e) = line.strip_prefix("password_expiry_utc=") {
            expires_at = e.parse().ok();
        }
    }
    match token {
        Some(t) if out.success() && is_valid_token(t) => Ok(CurrentToken {
            token: Token::new(t.to_string()),
            expires_at,
            host: host.to_string(),
            notes: out
                .stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(8)
                .map(|l| crate::secret::redact(&crate::status::printable(l), &[t]))
                .collect(),
        }),
        _ => {
            let why = out
                .stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(crate::status::printable)
                .unwrap_or_else(|| out.failure_reason("the helper"));
            Err(why)
        }
    }
}
