//! Step 3: point git's credentials for the served GitHub (github.com, or
//! `GITHUB_SERVER_URL`) at our helper, and only ours; when that URL changed
//! since the last install, take our values off the old key.

use std::path::Path;

use crate::config::{Config, GitHubServer};
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
fn our_keys_regex(server: &GitHubServer) -> String {
    // The URL holds letters, digits, `-`, `:`, `/` and dots: only dots need
    // escaping.
    format!(
        r"^credential\.{}\.(helper|usehttppath)$",
        server.url.replace('.', r"\.")
    )
}

/// Reads the global values of our keys with one git process (this is the
/// whole cost of a second install's git-config step). Shared with `status`.
pub fn read_global<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    server: &GitHubServer,
) -> Result<(Vec<String>, Option<String>), String> {
    let regex = our_keys_regex(server);
    let cmd = config
        .command(git)
        .args(["config", "--global", "-z", "--get-regexp", &regex]);
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
    let (helper_key, http_path_key) = (server.helper_key(), server.use_http_path_key());
    // With -z each entry is `key\nvalue\0`, or `key\0` for a bare boolean.
    for entry in out.stdout.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = match entry.split_once('\n') {
            Some((k, v)) => (k, Some(v)),
            None => (entry, None),
        };
        if key.eq_ignore_ascii_case(&helper_key) {
            helpers.push(value.unwrap_or_default().to_string());
        } else if key.eq_ignore_ascii_case(&http_path_key) {
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

/// Wires git for the served GitHub; `previous` is the one the last install
/// served, when it was another: our values come off its key (other
/// people's values there are kept).
pub(crate) fn run<S: Spawner, W: Which>(
    spawner: &S,
    which: &W,
    config: &Config,
    server: Result<GitHubServer, String>,
    previous: Option<&GitHubServer>,
) -> Outcome {
    let Some(git) = which.which("git") else {
        return Outcome::Skipped("git not on PATH".into());
    };
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            // Nothing is served now: the old wiring would send git to a
            // helper that answers nothing (and it is ours to take back).
            let moved = previous.map(|old| (old, unwire(spawner, &git, config, old)));
            return Outcome::Failed(match moved {
                Some((old, Ok(true))) => format!("{e}; removed our values from {}", old.url),
                _ => e,
            });
        }
    };
    let moved = match previous.filter(|p| **p != server) {
        Some(old) => match unwire(spawner, &git, config, old) {
            Ok(true) => Some(format!("moved from {}", old.url)),
            Ok(false) => None,
            Err(e) => return Outcome::Failed(e),
        },
        None => None,
    };
    match apply(spawner, &git, config, &server) {
        Ok(Outcome::Changed(d)) => Outcome::Changed(match moved {
            Some(m) => format!("{d}; {m}"),
            None => d,
        }),
        Ok(Outcome::Unchanged(d)) => match moved {
            Some(m) => Outcome::Changed(m),
            None => Outcome::Unchanged(d),
        },
        Ok(other) => other,
        Err(e) => Outcome::Failed(e),
    }
}

/// Takes our values off `old`'s key: our helper value, and the reset and
/// `useHttpPath` too when nothing of anyone else's is left there. Returns
/// whether it removed anything.
pub(crate) fn unwire<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    old: &GitHubServer,
) -> Result<bool, String> {
    let ours = helper_value(&config.layout.helper_script);
    let (helpers, use_http_path) = read_global(spawner, git, config, old)?;
    if !helpers.contains(&ours) {
        return Ok(false);
    }
    let others = helpers.iter().any(|h| !h.is_empty() && *h != ours);
    if others {
        git_set(
            spawner,
            git,
            config,
            &["--unset-all", "--fixed-value", &old.helper_key(), &ours],
        )?;
    } else {
        git_set(spawner, git, config, &["--unset-all", &old.helper_key()])?;
        if use_http_path.is_some() {
            git_set(
                spawner,
                git,
                config,
                &["--unset-all", &old.use_http_path_key()],
            )?;
        }
    }
    Ok(true)
}

fn apply<S: Spawner>(
    spawner: &S,
    git: &Path,
    config: &Config,
    server: &GitHubServer,
) -> Result<Outcome, String> {
    let wanted = wanted_helpers(&config.layout.helper_script);
    let (helpers, use_http_path) = read_global(spawner, git, config, server)?;
    let helpers_ok = helpers == wanted;
    let http_path_ok = use_http_path.as_deref() == Some("true");
    let (helper_key, http_path_key) = (server.helper_key(), server.use_http_path_key());
    if helpers_ok && http_path_ok {
        return Ok(Outcome::Unchanged(format!(
            "{} helper already configured",
            server.host
        )));
    }
    let mut done = Vec::new();
    if !helpers_ok {
        // Remove every value first: `git config KEY VALUE` exits 5 when the key
        // holds several (as `gh auth setup-git` leaves it).
        if !helpers.is_empty() {
            git_set(spawner, git, config, &["--unset-all", &helper_key])?;
        }
        for value in &wanted {
            git_set(spawner, git, config, &["--add", &helper_key, value])?;
        }
        done.push(format!("helper = \"\", helper = {}", wanted[1]));
    }
    if !http_path_ok {
        git_set(
            spawner,
            git,
            config,
            &["--replace-all", &http_path_key, "true"],
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
