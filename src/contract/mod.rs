//! The template authors' contract suite (`molecule-credential-helper
//! contract`): in a throwaway HOME, with the fake platform on 127.0.0.1 and a
//! recording gh shim first on PATH, install and prove the wiring with the
//! image's real git, bash, curl and flock. Leaves no process or file behind.

mod checks;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use checks::{files_holding, run_contract};

/// A recording stand-in for gh (source: `fixtures/gh-shim.sh`). Like the real
/// gh it refuses to log in while GH_TOKEN/GITHUB_TOKEN is set; it reads the
/// token from stdin, stores it in hosts.yml, and records each call's argv and
/// whether an env token was present (never the token) in `$GH_SHIM_LOG`.
pub const GH_SHIM: &str = include_str!("../../fixtures/gh-shim.sh");

/// One named check of the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContractCheck {
    /// Its number, from 1, as printed.
    pub n: usize,
    /// What it proves.
    pub name: String,
    /// Whether it passed (a skipped check counts as passed).
    pub ok: bool,
    /// Why it failed, or why it was skipped; `None` when it passed.
    pub reason: Option<String>,
    /// Not run (an optional tool is absent); counts as neither passed nor failed.
    pub skipped: bool,
}

/// The whole suite's result, printable as TAP-like text and as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContractReport {
    /// Every check, in order.
    pub checks: Vec<ContractCheck>,
    /// How many passed (skips included).
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// How many were skipped (a tool the image does not have, such as gh).
    pub skipped: usize,
}

impl ContractReport {
    pub(crate) fn record(&mut self, name: &str, result: Result<(), String>) {
        let ok = result.is_ok();
        let check = ContractCheck {
            n: self.checks.len() + 1,
            name: name.into(),
            ok,
            reason: result.err(),
            skipped: false,
        };
        let line = match &check.reason {
            None => format!("ok {} - {}", check.n, check.name),
            Some(r) => format!("not ok {} - {}: {r}", check.n, check.name),
        };
        tracing::info!("{line}");
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        self.checks.push(check);
    }

    /// A check that could not run; printed as a TAP `# SKIP` line.
    pub(crate) fn skip(&mut self, name: &str, why: &str) {
        tracing::info!("ok {} - {name} # SKIP {why}", self.checks.len() + 1);
        self.skipped += 1;
        self.checks.push(ContractCheck {
            n: self.checks.len() + 1,
            name: name.into(),
            ok: true,
            reason: Some(why.into()),
            skipped: true,
        });
    }

    /// Whether no check failed: the exit code 0 case.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // TAP: the plan first.
        writeln!(f, "1..{}", self.checks.len())?;
        for c in &self.checks {
            match &c.reason {
                None => writeln!(f, "ok {} - {}", c.n, c.name)?,
                Some(r) if c.skipped => writeln!(f, "ok {} - {} # SKIP {r}", c.n, c.name)?,
                Some(r) => writeln!(f, "not ok {} - {}: {}", c.n, c.name, r.replace('\n', " "))?,
            }
        }
        if self.skipped > 0 {
            writeln!(
                f,
                "{} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            )
        } else {
            writeln!(f, "{} passed, {} failed", self.passed, self.failed)
        }
    }
}
