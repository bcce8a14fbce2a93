//! What the daemon's log says: the last refresh, the last error, when the
//! next platform refresh is due, and how gh's last login went. Only lines
//! that start with one of our two tags count, and every line is read as
//! data (the helper strips control characters from anything a server sent,
//! so a reply cannot forge a line of its own).

use crate::clock::parse_utc;
use crate::config::Layout;
use crate::os::Fs;

const DAEMON_TAG: &str = "[molecule-gh-token-refresh] ";
const HELPER_TAG: &str = "[molecule-git-token-helper] ";

/// The log rotates at 1 MiB; a little over is a line in flight.
const LOG_READ_LIMIT: u64 = 2 * 1024 * 1024;

/// gh's last login, as the helper logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhLogin {
    /// When (the log's UTC timestamp).
    pub at: String,
    /// Whether gh stored the token.
    pub ok: bool,
    /// The log line's message (gh's own reason on failure).
    pub detail: String,
}

/// The facts `status` reports from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonLog {
    /// When the last refresh succeeded.
    pub last_ok: Option<String>,
    /// When the last refresh failed, and the line.
    pub last_error: Option<(String, String)>,
    /// Epoch seconds of the next platform refresh the daemon announced.
    pub next_refresh_at: Option<u64>,
    /// gh's last login.
    pub last_gh: Option<GhLogin>,
    /// The last supervisor that logged its start, and whether a daemon of
    /// its exited since (it is between respawns, not starting).
    pub supervisor: Option<(i32, bool)>,
    /// When that supervisor logged its start (epoch seconds).
    pub supervisor_started_at: Option<u64>,
    /// When the last refresh succeeded (epoch seconds).
    pub last_ok_at: Option<u64>,
}

impl DaemonLog {
    /// Whether supervisor `pid` has logged a daemon exit: with no daemon
    /// alive it is between respawns; otherwise it has not forked its first.
    pub fn daemon_exited_under(&self, pid: i32) -> bool {
        self.supervisor == Some((pid, true))
    }
}

/// Reads the rotated log and the current one, oldest first.
pub fn read<F: Fs>(fs: &F, layout: &Layout) -> DaemonLog {
    let mut text = String::new();
    let rotated = layout.log_file.with_extension("log.1");
    for path in [&rotated, &layout.log_file] {
        if let Ok(bytes) = fs.read(path, LOG_READ_LIMIT) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    parse(&text)
}

/// The facts in a log's text.
pub fn parse(text: &str) -> DaemonLog {
    let mut log = DaemonLog::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(DAEMON_TAG) {
            let (ts, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(pid) = msg
                .strip_prefix("supervisor ")
                .and_then(|m| m.strip_suffix(" started"))
                .and_then(|p| p.parse().ok())
            {
                log.supervisor = Some((pid, false));
                log.supervisor_started_at = parse_utc(ts);
            } else if msg.starts_with("daemon exited") {
                if let Some((_, exited)) = &mut log.supervisor {
                    *exited = true;
                }
            }
            if msg.starts_with("refresh ok") {
                log.last_ok = Some(ts.to_string());
                log.last_ok_at = parse_utc(ts);
            } else if msg.starts_with("refresh failed") {
                log.last_error = Some((ts.to_string(), msg.to_string()));
            }
            // Only the platform schedule: a gh-only retry is not a refresh.
            let marker = if msg.starts_with("refresh ok but gh login failed")
                || msg.starts_with("gh login ok")
            {
                "next platform refresh in "
            } else if msg.starts_with("refresh ok") {
                "next in "
            } else if msg.starts_with("refresh failed") {
                "retry in "
            } else {
                "first refresh in "
            };
            let announced = seconds_after(msg, marker);
            if let (Some(secs), Some(at)) = (announced, parse_utc(ts)) {
                log.next_refresh_at = Some(at + secs);
            }
        } else if let Some(rest) = line.strip_prefix(HELPER_TAG) {
            let (ts, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            if msg.starts_with("gh logged in") || msg.starts_with("gh auth login failed") {
                log.last_gh = Some(GhLogin {
                    at: ts.to_string(),
                    ok: msg.starts_with("gh logged in"),
                    // Whole (lines are bounded by the log's own bound):
                    // a reader redacts before it shortens, so no part of a
                    // token survives a cut.
                    detail: msg.chars().take(8192).collect(),
                });
            }
        }
    }
    log
}

/// The whole seconds in `… MARKER<digits>s…`, at most 9 digits.
fn seconds_after(msg: &str, marker: &str) -> Option<u64> {
    let start = msg.rfind(marker)? + marker.len();
    let digits: String = msg[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let rest = &msg[start + digits.len()..];
    ((1..=9).contains(&digits.len()) && rest.starts_with('s')).then(|| digits.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_from_lines() {
        let log = parse(concat!(
            "[molecule-gh-token-refresh] 2026-11-26T21:00:00Z daemon 7 started; first refresh in 60s\n",
            "[molecule-git-token-helper] 2026-11-26T21:01:00Z gh auth login failed (exit 1): HTTP 401\n",
            "[molecule-gh-token-refresh] 2026-11-26T21:01:00Z refresh ok but gh login failed; gh retry in 30s; next platform refresh in 1800s (new token: at its half-life)\n",
            "[molecule-git-token-helper] 2026-11-26T21:01:31Z gh logged in with the cached token\n",
            "not ours [molecule-gh-token-refresh] 2026-11-26T22:00:00Z refresh ok; next in 5s\n",
        ));
        assert_eq!(log.last_ok.as_deref(), Some("2026-11-26T21:01:00Z"));
        assert_eq!(log.next_refresh_at, Some(1_795_726_860 + 1800));
        let gh = log.last_gh.unwrap();
        assert!(gh.ok && gh.at == "2026-11-26T21:01:31Z");
    }

    #[test]
    fn seconds_are_bounded_digits() {
        assert_eq!(
            seconds_after("refresh ok; next in 1800s (x)", "next in "),
            Some(1800)
        );
        assert_eq!(seconds_after("next in 1234567890s", "next in "), None);
        assert_eq!(seconds_after("next in s", "next in "), None);
        assert_eq!(seconds_after("next in 12m", "next in "), None);
    }
}
