//! Settings every process sees. A workspace's git also runs where the
//! runtime's environment never was (`docker exec` shells, cron, IDE
//! terminals), so install saves the settings it saw to
//! `.molecule-runtime/settings`, and the helper and the daemon take each
//! one from the environment, else from that file, else the default.
//!
//! The helper is the one judge of the settings: install's warnings and
//! status's `settings` check run its `_check_settings` and `_settings`
//! actions, so what they say is what git will do. This module only writes
//! the file and reads the helper's answers.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::os::Spawner;

/// The settings saved at install, in the file's order: every variable of
/// the contract's table but the tokens, and our `GH_LOGIN_TIMEOUT_SEC`.
/// The helper's `SETTING_NAMES` holds the same list.
pub const SETTING_KEYS: [&str; 16] = [
    "GITHUB_SERVER_URL",
    "PLATFORM_URL",
    "CONFIGS_DIR",
    "WORKSPACE_ID",
    "TOKEN_CACHE_TTL_SEC",
    "TOKEN_EXPIRY_MARGIN_SEC",
    "TOKEN_MIN_REMAINING_SEC",
    "TOKEN_FETCH_TIMEOUT_SEC",
    "TOKEN_REFRESH_INTERVAL_SEC",
    "TOKEN_REFRESH_JITTER_SEC",
    "TOKEN_REFRESH_INITIAL_DELAY_SEC",
    "TOKEN_REFRESH_RETRY_MIN_SEC",
    "TOKEN_REFRESH_RETRY_MAX_SEC",
    "TOKEN_REFRESH_RESPAWN_SEC",
    "TOKEN_HELPER_SCRIPT",
    "GH_LOGIN_TIMEOUT_SEC",
];

/// The settings file's mode: it may hold PLATFORM_URL's userinfo.
pub const SETTINGS_MODE: u32 = 0o600;

/// What install writes: a header, then `KEY=value` for every setting set in
/// its environment (unset ones are omitted, so the helper's default holds).
/// A value with a control character cannot be one line and is left out,
/// named in the second result.
pub fn render(config: &Config) -> (String, Vec<&'static str>) {
    let mut text = String::from(
        "# Written by `molecule-credential-helper install`: the settings it saw, for\n\
         # processes that never saw its environment. The environment still wins.\n",
    );
    let mut left_out = Vec::new();
    for key in SETTING_KEYS {
        if let Some(value) = config.var(key) {
            if value.chars().any(char::is_control) {
                left_out.push(key);
            } else {
                text.push_str(&format!("{key}={value}\n"));
            }
        }
    }
    (text, left_out)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The environment of the process that asked.
    Env,
    /// The file install saved.
    Install,
    /// Neither: the built-in default.
    Default,
}

/// One setting as the helper takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// The variable's name.
    pub name: String,
    /// Where its value came from.
    pub source: Source,
    /// The value in effect (PLATFORM_URL's userinfo redacted; a number out
    /// of shape shows the default used instead).
    pub value: String,
}

/// The helper's verdict on the settings it would use in `config`'s
/// environment (the process environment, plus the saved file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// One line per problem, naming the setting and the fix. Empty: git can
    /// get a platform token with these settings.
    pub problems: Vec<String>,
    /// Every setting and where it came from.
    pub settings: Vec<Setting>,
}

/// The most read of one answer of the helper (16 settings, a few problems).
const ANSWER_LIMIT: usize = 64 * 1024;

/// Asks the helper at `helper` (run by `bash -p`, as git runs it) for its
/// problems with the settings. `Err` when the helper could not be asked.
pub fn problems<S: Spawner>(
    spawner: &S,
    bash: &Path,
    helper: &Path,
    config: &Config,
) -> Result<Vec<String>, String> {
    let out = run_helper(spawner, bash, helper, config, "_check_settings")?;
    match out.code {
        Some(0) | Some(1) => Ok(lines(&out.stdout).map(str::to_string).collect()),
        _ => Err(out.failure_reason("the helper's _check_settings")),
    }
}

/// The helper's problems with the settings and every setting it would use.
pub fn verdict<S: Spawner>(
    spawner: &S,
    bash: &Path,
    helper: &Path,
    config: &Config,
) -> Result<Verdict, String> {
    let problems = problems(spawner, bash, helper, config)?;
    let out = run_helper(spawner, bash, helper, config, "_settings")?;
    if !out.success() {
        return Err(out.failure_reason("the helper's _settings"));
    }
    let settings = lines(&out.stdout).filter_map(parse_setting).collect();
    Ok(Verdict { problems, settings })
}

fn run_helper<S: Spawner>(
    spawner: &S,
    bash: &Path,
    helper: &Path,
    config: &Config,
    action: &str,
) -> Result<crate::os::RunOutput, String> {
    let cmd = config
        .command(bash)
        .args([
            "-p".to_string(),
            helper.display().to_string(),
            action.into(),
        ])
        .timeout(std::time::Duration::from_secs(10));
    spawner
        .run(&cmd)
        .map_err(|e| format!("running the helper's {action}: {e}"))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut end = text.len().min(ANSWER_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].lines().filter(|l| !l.trim().is_empty())
}

/// `NAME<TAB>SOURCE<TAB>VALUE`, with a known name and source.
fn parse_setting(line: &str) -> Option<Setting> {
    let mut fields = line.splitn(3, '\t');
    let (name, source, value) = (fields.next()?, fields.next()?, fields.next()?);
    if !SETTING_KEYS.contains(&name) {
        return None;
    }
    let source = match source {
        "env" => Source::Env,
        "install" => Source::Install,
        "default" => Source::Default,
        _ => return None,
    };
    Some(Setting {
        name: name.into(),
        source,
        value: value.chars().filter(|c| !c.is_control()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_and_this_list_agree() {
        let helper =
            std::str::from_utf8(crate::scripts::contents(crate::scripts::HELPER_SCRIPT)).unwrap();
        let start = helper.find("readonly SETTING_NAMES=(").unwrap();
        let end = start + helper[start..].find(')').unwrap();
        let names: Vec<&str> = helper[start + "readonly SETTING_NAMES=(".len()..end]
            .split_whitespace()
            .collect();
        assert_eq!(names, SETTING_KEYS);
    }

    #[test]
    fn only_set_single_line_values_are_written() {
        let config = Config::new("/h", Default::default())
            .with_var("PLATFORM_URL", "http://p:1")
            .with_var("WORKSPACE_ID", "bad\nline")
            .with_var("GH_TOKEN", "ghs_x")
            .with_var("UNRELATED", "x");
        let (text, left_out) = render(&config);
        assert!(text.contains("\nPLATFORM_URL=http://p:1\n"));
        assert!(!text.contains("GH_TOKEN") && !text.contains("UNRELATED"));
        assert_eq!(left_out, ["WORKSPACE_ID"]);
    }

    #[test]
    fn settings_lines_are_parsed_strictly() {
        assert_eq!(
            parse_setting("PLATFORM_URL\tinstall\thttp://***@h:1"),
            Some(Setting {
                name: "PLATFORM_URL".into(),
                source: Source::Install,
                value: "http://***@h:1".into()
            })
        );
        assert_eq!(parse_setting("EVIL\tenv\tx"), None);
        assert_eq!(parse_setting("PLATFORM_URL\tsomewhere\tx"), None);
        assert_eq!(parse_setting("PLATFORM_URL"), None);
    }
}
