//! `repair`: tokens that bypass the helper. A clone made with
//! `https://x-access-token:TOKEN@github.com/o/r.git` (GitHub's own docs
//! suggest it), or left with `http.https://github.com/.extraheader =
//! AUTHORIZATION: basic …` by actions/checkout, never asks a credential
//! helper, so every push from it fails once that token dies.
//!
//! The sweep itself is the helper's `_repair` action (bash, `find -P`, and
//! git's own config writer), so the CLI, `status` and the daemon share one
//! implementation: this module runs the embedded copy of the helper, as
//! `settings` does, and reads its answer. Each finding is one line of four
//! tab-separated fields: status (`changed`, `would-change`, `skipped`,
//! `failed`), repository, key, and the removed credential's `hashed_token`
//! (or a reason). No line ever holds a credential.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::os::{RealSpawner, RealWhich, Spawner, Which};

/// How long one sweep may take (2,000 repositories at most, depth 4).
pub const REPAIR_TIMEOUT: Duration = Duration::from_secs(120);

/// The most read of the helper's answer: 2,000 repositories, a few lines each.
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// A credential removed (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepairChange {
    /// The repository's working directory (a submodule: its git dir).
    pub repo: String,
    /// The config key it was in (`remote.origin.url`, `http.<url>.extraheader`).
    pub key: String,
    /// GitHub's audit-log `hashed_token` of the credential: base64 of its SHA-256.
    pub hashed_token: String,
}

/// A repository (or a root) not looked into, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepairSkip {
    /// The repository, or the root that held too many.
    pub repo: String,
    /// Why (another uid owns it; its config is not a regular file of ours; the 2,000 bound).
    pub reason: String,
}

/// A change git could not write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepairFailure {
    /// The repository.
    pub repo: String,
    /// The key.
    pub key: String,
    /// Why (git's exit code; the value's `hashed_token`).
    pub reason: String,
}

/// What one sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RepairReport {
    /// A dry run: nothing was written, `changes` are what would change.
    pub dry_run: bool,
    /// Each credential removed (or that would be).
    pub changes: Vec<RepairChange>,
    /// Repositories not looked into.
    pub skipped: Vec<RepairSkip>,
    /// Changes that failed.
    pub failed: Vec<RepairFailure>,
    /// The helper's own lines on stderr (settings problems, a bad root), if any.
    pub notes: Vec<String>,
}

impl RepairReport {
    /// The repositories with a change, each once, in order.
    pub fn repos(&self) -> Vec<&str> {
        let mut repos: Vec<&str> = Vec::new();
        for c in &self.changes {
            if !repos.contains(&c.repo.as_str()) {
                repos.push(&c.repo);
            }
        }
        repos
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl std::fmt::Display for RepairReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "would-change"
        } else {
            "changed"
        };
        for c in &self.changes {
            writeln!(
                f,
                "{verb:<12} {}  {}  hashed_token {}",
                c.repo, c.key, c.hashed_token
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "{:<12} {}  {}", "skipped", s.repo, s.reason)?;
        }
        for x in &self.failed {
            writeln!(f, "{:<12} {}  {}  {}", "failed", x.repo, x.key, x.reason)?;
        }
        for n in &self.notes {
            writeln!(f, "note         {n}")?;
        }
        let what = if self.dry_run {
            "would be removed"
        } else {
            "removed"
        };
        writeln!(
            f,
            "{} {what} from {}; {} skipped; {} failed",
            crate::report::count(self.changes.len() as u64, "credential", "credentials"),
            crate::report::count(self.repos().len() as u64, "repository", "repositories"),
            self.skipped.len(),
            self.failed.len()
        )
    }
}

/// Parses the helper's `_repair` lines (anything else is ignored).
pub fn parse(stdout: &str, dry_run: bool) -> RepairReport {
    let mut end = stdout.len().min(ANSWER_LIMIT);
    while !stdout.is_char_boundary(end) {
        end -= 1;
    }
    let clean = |s: &str| crate::status::printable(s);
    let mut report = RepairReport {
        dry_run,
        ..RepairReport::default()
    };
    for line in stdout[..end].lines() {
        let mut fields = line.splitn(4, '\t');
        let (Some(status), Some(repo), Some(key), Some(detail)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (repo, key, detail) = (clean(repo), clean(key), clean(detail));
        match status {
            "changed" | "would-change" => report.changes.push(RepairChange {
                repo,
                key,
                hashed_token: detail,
            }),
            "skipped" => report.skipped.push(RepairSkip {
                repo,
                reason: detail,
            }),
            "failed" => report.failed.push(RepairFailure {
                repo,
                key,
                reason: detail,
            }),
            _ => {}
        }
    }
    report
}

/// Runs the embedded helper's sweep with `bash`: of `dirs` (absolute), or
/// of `REPO_ROOTS` (from `config`'s environment, else the saved settings,
/// else `$HOME:/workspace`) when `dirs` is empty. `Err` when the helper
/// could not be run or refused to (no served host, no git, a bad argument).
pub fn repair_with<S: Spawner>(
    spawner: &S,
    bash: &Path,
    config: &Config,
    dirs: &[PathBuf],
    dry_run: bool,
) -> Result<RepairReport, String> {
    let mut args = vec!["_repair".to_string()];
    if dry_run {
        args.push("--dry-run".into());
    }
    for dir in dirs {
        let dir = dir
            .to_str()
            .ok_or_else(|| format!("{}: not UTF-8", dir.display()))?;
        if !dir.starts_with('/') {
            return Err(format!("{dir}: not an absolute path"));
        }
        args.push(dir.to_string());
    }
    let out = crate::settings::run_helper_with(spawner, bash, config, &args, REPAIR_TIMEOUT)?;
    if out.timed_out || !matches!(out.code, Some(0) | Some(1)) {
        return Err(out.failure_reason("the helper's _repair"));
    }
    let mut report = parse(&out.stdout, dry_run);
    report.notes = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .map(|l| {
            let l = crate::status::printable(l);
            // The helper's tag and time stamp are noise here.
            match l.split_once("Z ") {
                Some((head, rest)) if head.starts_with("[molecule-git-token-helper]") => {
                    rest.to_string()
                }
                _ => l,
            }
        })
        .collect();
    if out.code == Some(1) && report.failed.is_empty() {
        return Err(report
            .notes
            .first()
            .cloned()
            .unwrap_or_else(|| "the helper's _repair failed".into()));
    }
    Ok(report)
}

/// [`repair_with`] over the real OS: `bash` from `config`'s PATH.
pub fn repair_in(config: &Config, dirs: &[PathBuf], dry_run: bool) -> Result<RepairReport, String> {
    let bash = RealWhich::for_config(config)
        .which("bash")
        .ok_or("bash not on PATH: the sweep is the helper's")?;
    repair_with(&RealSpawner, &bash, config, dirs, dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed_strictly_and_cleaned() {
        let out = "changed\t/w/a\tremote.origin.url\tAAA=\n\
                   junk line\n\
                   skipped\t/w/b\t-\towned by uid 65534, not 0\n\
                   failed\t/w/c\tremote.origin.url\tgit config failed\n\
                   changed\t/w/a\thttp.https://github.com/.extraheader\tB\u{1b}BB=\n\
                   other\t/w\tk\tv\n";
        let r = parse(out, false);
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[1].hashed_token, "BBB=");
        assert_eq!(r.repos(), ["/w/a"]);
        assert_eq!(r.skipped[0].repo, "/w/b");
        assert_eq!(r.failed[0].key, "remote.origin.url");
        let text = r.to_string();
        assert!(text.contains("2 credentials removed from 1 repository; 1 skipped; 1 failed"));
    }
}
