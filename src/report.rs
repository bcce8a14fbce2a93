//! What an install did: one entry per step, plus warnings. Printable as text
//! for people and as JSON for machines. Never holds a token.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The five installer steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Step {
    /// Extract the bundled scripts.
    Scripts,
    /// Create the private token cache.
    TokenCache,
    /// Wire git to the helper for github.com.
    GitConfig,
    /// Start the refresh daemon under its supervisor.
    RefreshDaemon,
    /// Log gh in with the freshest token.
    GhAuth,
}

impl Step {
    /// The five steps, in the order they run.
    pub const ALL: [Step; 5] = [
        Step::Scripts,
        Step::TokenCache,
        Step::GitConfig,
        Step::RefreshDaemon,
        Step::GhAuth,
    ];

    /// Its name in reports and JSON (`scripts`, `token-cache`, …).
    pub fn name(self) -> &'static str {
        match self {
            Step::Scripts => "scripts",
            Step::TokenCache => "token-cache",
            Step::GitConfig => "git-config",
            Step::RefreshDaemon => "refresh-daemon",
            Step::GhAuth => "gh-auth",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one step ended. `detail` says what was done or why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// The step changed something; what.
    Changed(String),
    /// Already as wanted; nothing written.
    Unchanged(String),
    /// Not run, and why (a missing program, a failed step it needs).
    Skipped(String),
    /// It failed, and why. The other steps still ran.
    Failed(String),
}

impl Outcome {
    /// `changed`, `unchanged`, `skipped` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Changed(_) => "changed",
            Outcome::Unchanged(_) => "unchanged",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }

    /// What happened, or why.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Changed(d)
            | Outcome::Unchanged(d)
            | Outcome::Skipped(d)
            | Outcome::Failed(d) => d,
        }
    }

    /// Whether this is `Failed`.
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    fn map_detail(self, f: impl Fn(&str) -> String) -> Outcome {
        match self {
            Outcome::Changed(d) => Outcome::Changed(f(&d)),
            Outcome::Unchanged(d) => Outcome::Unchanged(f(&d)),
            Outcome::Skipped(d) => Outcome::Skipped(f(&d)),
            Outcome::Failed(d) => Outcome::Failed(f(&d)),
        }
    }
}

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepReport {
    /// Which step.
    pub step: Step,
    /// What it did.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of `install_credential_helper()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstallReport {
    /// One entry per step, in order.
    pub steps: Vec<StepReport>,
    /// Things to know that are not failures (e.g. an env token gh would prefer).
    pub warnings: Vec<String>,
    /// What keeps git from getting a platform token: a settings problem, or
    /// a last fetch that failed with no cached token to serve (its class
    /// and fix). `install --strict` exits 1 when there is one.
    #[serde(default)]
    pub problems: Vec<String>,
}

impl InstallReport {
    /// Every step failed for one reason (the install could not start).
    pub fn all_failed(reason: &str) -> Self {
        InstallReport {
            steps: Step::ALL
                .into_iter()
                .map(|step| StepReport {
                    step,
                    outcome: Outcome::Failed(reason.to_string()),
                })
                .collect(),
            warnings: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The outcome of `step`.
    pub fn outcome(&self, step: Step) -> Option<&Outcome> {
        self.steps
            .iter()
            .find(|s| s.step == step)
            .map(|s| &s.outcome)
    }

    /// The steps that failed.
    pub fn failed_steps(&self) -> Vec<Step> {
        self.steps
            .iter()
            .filter(|s| s.outcome.is_failed())
            .map(|s| s.step)
            .collect()
    }

    /// Whether any step failed.
    pub fn has_failures(&self) -> bool {
        self.steps.iter().any(|s| s.outcome.is_failed())
    }

    /// Whether a step failed or there is a problem (`install --strict`
    /// exits 1).
    pub fn has_failures_or_problems(&self) -> bool {
        self.has_failures() || !self.problems.is_empty()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Applies `f` to every string in the report (used to redact secrets).
    pub(crate) fn map_text(self, f: impl Fn(&str) -> String) -> InstallReport {
        InstallReport {
            steps: self
                .steps
                .into_iter()
                .map(|s| StepReport {
                    step: s.step,
                    outcome: s.outcome.map_detail(&f),
                })
                .collect(),
            warnings: self.warnings.iter().map(|w| f(w)).collect(),
            problems: self.problems.iter().map(|p| f(p)).collect(),
        }
    }
}

impl fmt::Display for InstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<15} {:<10} DETAIL", "STEP", "OUTCOME")?;
        for s in &self.steps {
            writeln!(
                f,
                "{:<15} {:<10} {}",
                s.step.name(),
                s.outcome.label(),
                s.outcome.detail()
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        Ok(())
    }
}

/// A count and its noun, in the right number: `count(1, "minute",
/// "minutes")` is `1 minute`, every other count takes the plural. Every
/// count the crate prints goes through it (status, repair, the CLI, the
/// soak).
#[doc(hidden)]
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(count(0u64, "minute", "minutes"), "0 minutes");
        assert_eq!(count(1u64, "minute", "minutes"), "1 minute");
        assert_eq!(count(2u64, "request", "requests"), "2 requests");
        assert_eq!(count(1u64, "repository", "repositories"), "1 repository");
    }

    #[test]
    fn json_round_trips_with_documented_field_names() {
        let report = InstallReport {
            steps: vec![
                StepReport {
                    step: Step::Scripts,
                    outcome: Outcome::Changed("wrote 2".into()),
                },
                StepReport {
                    step: Step::GhAuth,
                    outcome: Outcome::Skipped("gh not on PATH".into()),
                },
            ],
            warnings: vec!["GH_TOKEN is set".into()],
            problems: vec!["settings: PLATFORM_URL is not a URL".into()],
        };
        let json = report.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["steps"][0]["step"], "scripts");
        assert_eq!(value["steps"][0]["outcome"], "changed");
        assert_eq!(value["steps"][0]["detail"], "wrote 2");
        assert_eq!(value["steps"][1]["step"], "gh-auth");
        assert_eq!(value["warnings"][0], "GH_TOKEN is set");
        assert_eq!(value["problems"][0], "settings: PLATFORM_URL is not a URL");
        let back: InstallReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn text_has_one_row_per_step_and_the_warnings() {
        let report = InstallReport {
            steps: vec![StepReport {
                step: Step::TokenCache,
                outcome: Outcome::Failed("is a symlink".into()),
            }],
            warnings: vec!["w1".into()],
            problems: vec!["p1".into()],
        };
        let text = report.to_string();
        assert!(text.contains("token-cache"), "{text}");
        assert!(text.contains("failed"), "{text}");
        assert!(text.contains("is a symlink"), "{text}");
        assert!(text.contains("warning: w1"), "{text}");
        assert!(text.contains("problem: p1"), "{text}");
    }
}
