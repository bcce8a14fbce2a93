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
/// the contract's table but the tokens, `RUST_LOG` and the retired
/// `TOKEN_FETCH_CLIENT` (`REPO_ROOTS` and `REPAIR_REMOTES` among them:
/// where `repair` looks, and whether the daemon does), and our
/// `GH_LOGIN_TIMEOUT_SEC`; then curl's proxy variables (set in either
/// case: see [`SETTING_ALIASES`]) and `PLATFORM_CA_FILE`.
/// The helper's `SETTING_NAMES` holds the same list.
pub const SETTING_KEYS: [&str; 22] = [
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
    "REPO_ROOTS",
    "REPAIR_REMOTES",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "PLATFORM_CA_FILE",
];

/// curl's lower-case names of three settings, as (variable, setting). As
/// curl reads them, the lower-case variable comes first and an empty one
/// is passed over (curl takes only lower-case `http_proxy`; we take
/// `HTTP_PROXY` too, after it: the httpoxy guard is for CGI, where a
/// request header becomes `HTTP_PROXY`). The file saves the setting's name.
pub const SETTING_ALIASES: [(&str, &str); 3] = [
    ("https_proxy", "HTTPS_PROXY"),
    ("http_proxy", "HTTP_PROXY"),
    ("no_proxy", "NO_PROXY"),
];

/// Whether `name` is a variable that sets a setting: a key of
/// [`SETTING_KEYS`] or a name of [`SETTING_ALIASES`].
pub fn is_setting_variable(name: &str) -> bool {
    SETTING_KEYS.contains(&name) || SETTING_ALIASES.iter().any(|(alias, _)| *alias == name)
}

/// Every variable that sets a setting: the keys, then the aliases.
pub fn setting_variables() -> impl Iterator<Item = &'static str> {
    SETTING_KEYS
        .into_iter()
        .chain(SETTING_ALIASES.iter().map(|(alias, _)| *alias))
}

/// The environment's value of setting `key`, as the helper takes it:
/// `None` when no variable of it is set; else the first non-empty of its
/// alias and itself (in that order), or `""` when those set are empty.
pub fn env_value<'a>(
    env: &'a std::collections::BTreeMap<String, String>,
    key: &str,
) -> Option<&'a str> {
    let alias = SETTING_ALIASES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(alias, _)| *alias);
    let set: Vec<&str> = alias
        .into_iter()
        .chain([key])
        .filter_map(|name| env.get(name).map(String::as_str))
        .collect();
    set.iter().find(|v| !v.is_empty()).or(set.first()).copied()
}

/// The settings file's mode: it may hold PLATFORM_URL's userinfo.
pub const SETTINGS_MODE: u32 = 0o600;

/// What a value with a control character is saved as: it cannot be one
/// line, and dropping it would silently switch git to the default (a
/// `WORKSPACE_ID` of `ws-42\r` from a CRLF env file would become the admin
/// route). Every check of the helper refuses this value, by name.
pub const REFUSED_VALUE: &str = "!refused:control-character";

/// The keys whose change makes a cached token belong to something else
/// (another platform, workspace or bearer): install drops the cache then.
pub const TOKEN_KEYS: [&str; 4] = [
    "PLATFORM_URL",
    "WORKSPACE_ID",
    "CONFIGS_DIR",
    "GITHUB_SERVER_URL",
];

/// The keys that change how the platform is reached, not what it issues:
/// a change leaves the cached token, and drops the record of the last
/// failed fetch (it was the old way's).
pub const REACH_KEYS: [&str; 4] = ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "PLATFORM_CA_FILE"];

/// The settings to save, from install's environment over what was saved
/// before (`saved`, the file's text): a key set in the environment wins
/// (set to the empty string, it is removed: back to the default); a key
/// unset there keeps its saved value, so a re-install from a shell without
/// the runtime's environment (a `docker exec` shell) loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The file's new text.
    pub text: String,
    /// Keys kept from the saved file because the environment does not set them.
    pub kept: Vec<&'static str>,
    /// Keys whose value holds a control character, saved as [`REFUSED_VALUE`].
    pub refused: Vec<&'static str>,
    /// Token keys ([`TOKEN_KEYS`]) whose value differs from the saved one.
    pub token_keys_changed: Vec<&'static str>,
    /// Reach keys ([`REACH_KEYS`]) whose value differs from the saved one.
    pub reach_keys_changed: Vec<&'static str>,
}

/// The `KEY=value` pairs of a settings file's text (keys from the list
/// only; anything else is left out).
pub fn parse_saved(text: &str) -> Vec<(&'static str, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let key = SETTING_KEYS.into_iter().find(|k| *k == key)?;
            Some((key, value.to_string()))
        })
        .collect()
}

/// Merges install's environment over the saved settings (see [`Saved`]).
pub fn render(config: &Config, saved: &str) -> Saved {
    let previous = parse_saved(saved);
    let before = |key: &str| {
        previous
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut out = Saved {
        text: String::from(
            "# Written by `molecule-credential-helper install`: the settings it saw, for\n\
             # processes that never saw its environment. The environment still wins.\n",
        ),
        ..Saved::default()
    };
    for key in SETTING_KEYS {
        let value = match env_value(&config.env, key) {
            Some("") => None,
            Some(v) if v.chars().any(char::is_control) => {
                out.refused.push(key);
                Some(REFUSED_VALUE.to_string())
            }
            Some(v) => Some(v.to_string()),
            None => before(key).map(|v| {
                out.kept.push(key);
                v.to_string()
            }),
        };
        // The same server spelt another way (`:443`, a case, a `/`) is no change.
        let same = |a: Option<&str>, b: Option<&str>| match key {
            "GITHUB_SERVER_URL" => {
                let norm = |v: Option<&str>| {
                    v.map(|v| {
                        crate::config::GitHubServer::parse(v)
                            .map(|s| s.url)
                            .unwrap_or(v.into())
                    })
                };
                norm(a) == norm(b)
            }
            _ => a == b,
        };
        if TOKEN_KEYS.contains(&key) && !same(value.as_deref(), before(key)) {
            out.token_keys_changed.push(key);
        }
        if REACH_KEYS.contains(&key) && value.as_deref() != before(key) {
            out.reach_keys_changed.push(key);
        }
        if let Some(value) = value {
            out.text.push_str(&format!("{key}={value}\n"));
        }
    }
    // A first install has nothing cached for another platform.
    if previous.is_empty() {
        out.token_keys_changed.clear();
    }
    out
}

/// The GitHub served, as the helper takes it: `GITHUB_SERVER_URL` from the
/// environment when set there (empty: the default), else from `saved` (the
/// settings file's text), else github.com. `Err` names a URL that is not
/// `https://host[:port]`.
pub fn served_github(config: &Config, saved: &str) -> Result<crate::config::GitHubServer, String> {
    let from_env = config.env.get("GITHUB_SERVER_URL").cloned();
    let url = match from_env {
        Some(url) => url,
        None => parse_saved(saved)
            .into_iter()
            .rev()
            .find(|(k, _)| *k == "GITHUB_SERVER_URL")
            .map(|(_, v)| v)
            .unwrap_or_default(),
    };
    if url.is_empty() {
        return Ok(crate::config::GitHubServer::github_com());
    }
    crate::config::GitHubServer::parse(&url).ok_or_else(|| {
        let shown: String = url.chars().filter(|c| !c.is_control()).take(120).collect();
        format!("GITHUB_SERVER_URL {shown:?} is not https://host[:port]; nothing wired for it")
    })
}

/// The settings file's text, when it is a regular file `uid` owns (anything
/// else is never read).
pub fn read_saved<F: crate::os::Fs>(fs: &F, config: &Config) -> String {
    let path = &config.layout.settings_file;
    match fs.metadata(path) {
        Ok(m) if m.kind == crate::os::FileKind::File && m.uid == config.uid => fs
            .read(path, 64 * 1024)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// A numeric setting as the helper takes it: from the environment when
/// the variable is set there (set to nothing: the default), else from the
/// saved file, else `default`; whole seconds or `default`. So a `docker
/// exec` shell's status judges with the numbers git uses.
pub fn seconds<F: crate::os::Fs>(fs: &F, config: &Config, key: &str, default: u64) -> u64 {
    if config.env.contains_key(key) {
        return config.seconds(key, default);
    }
    parse_saved(&read_saved(fs, config))
        .into_iter()
        .rev()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| crate::config::whole_seconds(&v))
        .unwrap_or(default)
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
    /// The value in effect (the userinfo of PLATFORM_URL and the proxies
    /// redacted; a number out of shape shows the default used instead).
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

/// The most read of one answer of the helper (22 settings, a few problems).
const ANSWER_LIMIT: usize = 64 * 1024;

/// Asks the helper (the embedded copy, run by `bash -p` on its stdin: never
/// a script file someone could have edited) for its problems with the
/// settings. `Err` when it could not be asked.
pub fn problems<S: Spawner>(
    spawner: &S,
    bash: &Path,
    config: &Config,
) -> Result<Vec<String>, String> {
    let out = run_helper(spawner, bash, config, "_check_settings")?;
    match out.code {
        Some(0) | Some(1) => Ok(lines(&out.stdout).map(str::to_string).collect()),
        _ => Err(out.failure_reason("the helper's _check_settings")),
    }
}

/// The helper's problems with the settings and every setting it would use.
pub fn verdict<S: Spawner>(spawner: &S, bash: &Path, config: &Config) -> Result<Verdict, String> {
    let problems = problems(spawner, bash, config)?;
    let out = run_helper(spawner, bash, config, "_settings")?;
    if !out.success() {
        return Err(out.failure_reason("the helper's _settings"));
    }
    let settings = lines(&out.stdout).filter_map(parse_setting).collect();
    Ok(Verdict { problems, settings })
}

fn run_helper<S: Spawner>(
    spawner: &S,
    bash: &Path,
    config: &Config,
    action: &str,
) -> Result<crate::os::RunOutput, String> {
    run_helper_with(
        spawner,
        bash,
        config,
        &[action.to_string()],
        std::time::Duration::from_secs(10),
    )
}

/// Runs the embedded helper (`bash -p -c <script> … ARGS…`: never a file
/// someone could have edited) with `config`'s environment,
/// killed after `timeout`. `args[0]` is the action.
pub(crate) fn run_helper_with<S: Spawner>(
    spawner: &S,
    bash: &Path,
    config: &Config,
    args: &[String],
    timeout: std::time::Duration,
) -> Result<crate::os::RunOutput, String> {
    let action = args.first().map(String::as_str).unwrap_or_default();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = crate::scripts::embedded_helper(config, bash, &args).timeout(timeout);
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
        // The helper redacted URLs already; this holds if it ever did not.
        value: redact_value(
            &value
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>(),
        ),
    })
}

/// A setting's value with its credentials unreadable: a URL's userinfo,
/// and for a value without a scheme (`user:password@proxy:3128`),
/// everything before its last `@`.
fn redact_value(value: &str) -> String {
    match value.rfind('@') {
        Some(at) if !value.contains("://") => format!("***{}", &value[at..]),
        _ => crate::secret::redact_credentials(value),
    }
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
    fn the_environment_wins_unset_keeps_the_saved_value_and_empty_removes_it() {
        let saved =
            "# header\nPLATFORM_URL=http://old:1\nWORKSPACE_ID=ws-1\nCONFIGS_DIR=/c\nJUNK=1\n";
        let config = Config::new("/h", Default::default())
            .with_var("PLATFORM_URL", "http://p:1")
            .with_var("WORKSPACE_ID", "")
            .with_var("TOKEN_CACHE_TTL_SEC", "ab\rc")
            .with_var("GH_TOKEN", "ghs_x");
        let out = render(&config, saved);
        let pairs = parse_saved(&out.text);
        assert_eq!(
            pairs,
            [
                ("PLATFORM_URL", "http://p:1".to_string()),
                ("CONFIGS_DIR", "/c".to_string()),
                ("TOKEN_CACHE_TTL_SEC", REFUSED_VALUE.to_string()),
            ]
        );
        assert_eq!(out.kept, ["CONFIGS_DIR"]);
        assert_eq!(out.refused, ["TOKEN_CACHE_TTL_SEC"]);
        assert_eq!(out.token_keys_changed, ["PLATFORM_URL", "WORKSPACE_ID"]);
        assert!(!out.text.contains("GH_TOKEN") && !out.text.contains("JUNK"));
        // The same environment over its own result changes nothing.
        let again = render(&config, &out.text);
        assert_eq!(again.text, out.text);
        assert!(again.token_keys_changed.is_empty());
        assert!(again.reach_keys_changed.is_empty());
    }

    #[test]
    fn proxy_variables_are_read_in_either_case_lower_case_first() {
        let env = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = "HTTPS_PROXY";
        assert_eq!(env_value(&env(&[]), p), None);
        assert_eq!(
            env_value(&env(&[("HTTPS_PROXY", "http://u:1")]), p),
            Some("http://u:1")
        );
        assert_eq!(
            env_value(&env(&[("https_proxy", "http://l:1")]), p),
            Some("http://l:1")
        );
        let both = env(&[("https_proxy", "http://l:1"), ("HTTPS_PROXY", "http://u:1")]);
        assert_eq!(env_value(&both, p), Some("http://l:1"));
        // An empty one is passed over, as curl does; set but all empty is "".
        let empty_lower = env(&[("https_proxy", ""), ("HTTPS_PROXY", "http://u:1")]);
        assert_eq!(env_value(&empty_lower, p), Some("http://u:1"));
        assert_eq!(env_value(&env(&[("no_proxy", "")]), "NO_PROXY"), Some(""));
        // Keys without an alias are read by their name only.
        assert_eq!(
            env_value(&env(&[("platform_url", "x")]), "PLATFORM_URL"),
            None
        );
        assert!(is_setting_variable("http_proxy") && is_setting_variable("PLATFORM_CA_FILE"));
        assert!(!is_setting_variable("all_proxy"));
        // install saves the setting's own name, with the value curl would take.
        let config = Config::new("/h", Default::default())
            .with_var("https_proxy", "http://u:pw@proxy:3128")
            .with_var("HTTPS_PROXY", "http://other:1")
            .with_var("no_proxy", "localhost");
        let pairs = parse_saved(&render(&config, "").text);
        assert_eq!(
            pairs,
            [
                ("HTTPS_PROXY", "http://u:pw@proxy:3128".to_string()),
                ("NO_PROXY", "localhost".to_string()),
            ]
        );
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
        for (raw, shown) in [
            ("http://u:pw@h:1", "http://***@h:1"),
            ("u:pw@proxy:3128", "***@proxy:3128"),
            ("a@b@proxy:3128", "***@proxy:3128"),
            ("/etc/ca.pem", "/etc/ca.pem"),
        ] {
            let line = format!("HTTPS_PROXY\tenv\t{raw}");
            assert_eq!(parse_setting(&line).unwrap().value, shown, "{raw}");
        }
        assert_eq!(parse_setting("EVIL\tenv\tx"), None);
        assert_eq!(parse_setting("PLATFORM_URL\tsomewhere\tx"), None);
        assert_eq!(parse_setting("PLATFORM_URL"), None);
    }
}
