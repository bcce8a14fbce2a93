//! Step 3: point git's github.com credentials at our helper, and only ours.

use std::path::Path;

use crate::config::{Config, GIT_HELPER_KEY, GIT_USE_HTTP_PATH_KEY};
use crate::os::{Spawner, Which};
use crate::report::Outcome;

/// The helper value git runs: `!path`, shell-quoted where the path needs it
/// (git hands `!` helpers to the shell, so a space would split the path).
pub fn helper_value(helper: &Path) -> String {
    let path = helper.to_string_lossy();
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b));
    if plain {
        format!("!{path}")
    } else {
        format!("!'{}'", path.replace('\'', r"'\''"))
    }
}

/// The values our key must hold, in order: the reset, then our helper.
pub fn wanted_helpers(helper: &Path) -> Vec<String> {
    vec![String::new(), helper_value(helper)]
}

/// The regex `git config --get-regexp` uses to read both our keys at once.
const OUR_KEYS_REGEX: &str = r"^credential\.https://github\.com\.(helper|usehttppath)$";

/// Reads the global values of our keys with one git process (this is the
/// whole cost of a second install's git-config step). Shared with `status`.
pub fn read_global<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
) -> Result<(Vec<String>, Option<String>), String> {
    let cmd =
        config
            .command(git)
            .args(["config", "--global", "-z", "--get-regexp", OUR_KEYS_REGEX]);
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("{}: {e}", cmd.display()))?;
    match out.code {
        Some(0) => {}
        // Exit 1: neither key is set.
        Some(1) if !out.timed_out => return Ok((Vec::new(), None)),
        _ => return Err(out.failure_reason(&cmd.display())),
    }
    let mut helpers = Vec::new();
    let mut use_http_path = None;
    // With -z each entry is `key\nvalue\0`, or `key\0` for a bare boolean.
    for entry in out.stdout.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = match entry.split_once('\n') {
            Some((k, v)) => (k, Some(v)),
            None => (entry, None),
        };
        if key.eq_ignore_ascii_case(GIT_HELPER_KEY) {
            helpers.push(value.unwrap_or_default().to_string());
        } else if key.eq_ignore_ascii_case(GIT_USE_HTTP_PATH_KEY) {
            use_http_path = Some(git_bool(value).to_string());
        }
    }
    Ok((helpers, use_http_path))
}

/// Git's boolean spelling, normalised the way `--type=bool` prints it.
fn git_bool(value: Option<&str>) -> &'static str {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "yes" | "on" | "1") => "true",
        _ => "false",
    }
}

fn git_set<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    args: &[&str],
) -> Result<(), String> {
    let cmd = config
        .command(git)
        .args(["config", "--global"])
        .args(args.iter().copied());
    let out = spawner
        .run(&cmd)
        .map_err(|e| format!("{}: {e}", cmd.display()))?;
    // `--unset-all` exits 5 when there was nothing to unset.
    let nothing_to_unset = args.first() == Some(&"--unset-all") && out.code == Some(5);
    if out.success() || nothing_to_unset {
        Ok(())
    } else {
        Err(out.failure_reason(&cmd.display()))
    }
}

pub(crate) fn run<S: Spawner, W: Which>(spawner: &S, which: &W, config: &Config) -> Outcome {
    let Some(git) = which.which("git") else {
        return Outcome::Skipped("git not on PATH".into());
    };
    match apply(spawner, &git, config) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    }
}

fn apply<S: Spawner>(spawner: &S, git: &Path, config: &Config) -> Result<Outcome, String> {
    let wanted = wanted_helpers(&config.layout.helper_script);
    let (helpers, use_http_path) = read_global(spawner, git, config)?;
    let helpers_ok = helpers == wanted;
    let http_path_ok = use_http_path.as_deref() == Some("true");
    if helpers_ok && http_path_ok {
        return Ok(Outcome::Unchanged(
            "github.com helper already configured".into(),
        ));
    }
    let mut done = Vec::new();
    if !helpers_ok {
        // Remove every value first: `git config KEY VALUE` exits 5 when the key
        // holds several (as `gh auth setup-git` leaves it).
        if !helpers.is_empty() {
            git_set(spawner, git, config, &["--unset-all", GIT_HELPER_KEY])?;
        }
        for value in &wanted {
            git_set(spawner, git, config, &["--add", GIT_HELPER_KEY, value])?;
        }
        done.push(format!("helper = \"\", helper = {}", wanted[1]));
    }
    if !http_path_ok {
        git_set(
            spawner,
            git,
            config,
            &["--replace-all", GIT_USE_HTTP_PATH_KEY, "true"],
        )?;
        done.push("useHttpPath = true".into());
    }
    Ok(Outcome::Changed(done.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_not_quoted() {
        assert_eq!(helper_value(Path::new("/root/.x/h.sh")), "!/root/.x/h.sh");
    }

    #[test]
    fn paths_with_spaces_and_quotes_are_shell_quoted() {
        assert_eq!(
            helper_value(Path::new("/home/a b/h.sh")),
            "!'/home/a b/h.sh'"
        );
        assert_eq!(
            helper_value(Path::new("/home/it's/h.sh")),
            r"!'/home/it'\''s/h.sh'"
        );
    }
}
