//! Where things live (`Layout`) and what the environment asked for (`Config`).
//! The environment is read once into a snapshot, so every decision below is
//! a function of plain data and tests never touch the process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::os::CommandSpec;
use crate::scripts::{DAEMON_SCRIPT, HELPER_SCRIPT};
use crate::secret::{is_valid_token, Token};

/// The paths of the files the crate owns (docs/contract.md), under one HOME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The home everything lives under (absolute and canonical when it came from `Config::from_env`).
    pub home: PathBuf,
    /// `~/.molecule-runtime`: scripts, PID file, log, locks.
    pub runtime_dir: PathBuf,
    /// `~/.molecule-runtime/scripts`: the extracted scripts git and the supervisor run.
    pub scripts_dir: PathBuf,
    /// The extracted git credential helper.
    pub helper_script: PathBuf,
    /// The extracted refresh daemon (and, with `--supervise`, its supervisor).
    pub daemon_script: PathBuf,
    /// The supervisor's PID (informational: the lock decides liveness).
    pub pid_file: PathBuf,
    /// Held (`flock`) by the live supervisor for its whole life.
    pub supervisor_lock: PathBuf,
    /// The daemon's log (rotated at 1 MiB to `.1`).
    pub log_file: PathBuf,
    /// Serialises concurrent installs in one HOME.
    pub install_lock: PathBuf,
    /// The settings install saw, for processes that never saw its environment.
    pub settings_file: PathBuf,
    /// `~/.molecule-token-cache`, private to the user.
    pub cache_dir: PathBuf,
    /// The cached token and its generation tag.
    pub cache_token: PathBuf,
    /// The cache's expiry, the token's `expires_at` and the generation tag.
    pub cache_expiry: PathBuf,
}

impl Layout {
    /// The paths under `home`.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        let home = home.into();
        let runtime_dir = home.join(".molecule-runtime");
        let scripts_dir = runtime_dir.join("scripts");
        let cache_dir = home.join(".molecule-token-cache");
        Layout {
            helper_script: scripts_dir.join(HELPER_SCRIPT),
            daemon_script: scripts_dir.join(DAEMON_SCRIPT),
            pid_file: runtime_dir.join("refresh-daemon.pid"),
            supervisor_lock: runtime_dir.join("supervisor.lock"),
            log_file: runtime_dir.join("refresh-daemon.log"),
            install_lock: runtime_dir.join("install.lock"),
            settings_file: runtime_dir.join("settings"),
            cache_token: cache_dir.join("gh_installation_token"),
            cache_expiry: cache_dir.join("gh_installation_token_expiry"),
            runtime_dir,
            scripts_dir,
            cache_dir,
            home,
        }
    }

    /// gh's hosts file: `$GH_CONFIG_DIR/hosts.yml`, else `~/.config/gh/hosts.yml`.
    pub fn gh_hosts_file(&self, config: &Config) -> PathBuf {
        match config.var("GH_CONFIG_DIR") {
            Some(dir) => Path::new(dir).join("hosts.yml"),
            None => self.home.join(".config/gh/hosts.yml"),
        }
    }
}

/// The home every path is built from: absolute and canonical, so a relative
/// `--home .`, a `$HOME` reached through a symlink and its real path are one
/// home (one supervisor, one git value), and git never gets a relative
/// helper path to run from whatever repository it is in. It must be valid
/// UTF-8: it goes into git's config and every child's `HOME` as text, and a
/// lossy copy would name another directory. A home that does not exist yet
/// is made absolute only (the steps then report what fails).
pub fn canonical_home(home: &Path) -> Result<PathBuf, crate::Error> {
    let not_utf8 = |p: &Path| crate::Error::HomeNotUtf8(p.to_string_lossy().into_owned());
    if home.to_str().is_none() {
        return Err(not_utf8(home));
    }
    let absolute = if home.is_absolute() {
        home.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| crate::Error::HomeUnusable(home.display().to_string(), e.to_string()))?
            .join(home)
    };
    let canonical = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    if canonical.to_str().is_none() {
        return Err(not_utf8(&canonical));
    }
    Ok(canonical)
}

/// The most read of gh's hosts file (a few hundred bytes per account).
pub const HOSTS_FILE_LIMIT: u64 = 1024 * 1024;

/// The git config key the installer owns, for the default github.com.
pub const GIT_HELPER_KEY: &str = "credential.https://github.com.helper";
/// The git config key that turns on per-repository credentials for github.com.
pub const GIT_USE_HTTP_PATH_KEY: &str = "credential.https://github.com.useHttpPath";

/// The one GitHub served (`GITHUB_SERVER_URL`, default `https://github.com`):
/// github.com, a GitHub Enterprise Server, or a GHE.com subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubServer {
    /// `https://host[:port]`, the host lower-cased, `:443` and a trailing
    /// `/` dropped: what git's credential keys are written under.
    pub url: String,
    /// `host[:port]` as git sends it in a credential request (and gh's
    /// `--hostname`).
    pub host: String,
}

impl GitHubServer {
    /// github.com.
    pub fn github_com() -> Self {
        GitHubServer {
            url: "https://github.com".into(),
            host: "github.com".into(),
        }
    }

    /// `https://host[:port]` (a trailing `/` allowed; no path, no user; a
    /// host of dot-separated labels of ASCII letters, digits and inner
    /// dashes; a port 1-65535), normalised; `None` for anything else. The
    /// helper applies the same rule.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("https://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        // Dot-separated labels of letters and digits with inner dashes.
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let host_ok = host.split('.').all(label_ok);
        let port_ok = port.is_none_or(|p| {
            (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && (1..=65535).contains(&p.parse::<u32>().unwrap_or(0))
        });
        if !host_ok || !port_ok {
            return None;
        }
        let host = host.to_ascii_lowercase();
        // The port as a number: `:08443` is `:8443` and `:0443` is no port,
        // as git and curl read it (and the helper, by the same rule).
        let host = match port.and_then(|p| p.parse::<u32>().ok()) {
            Some(p) if p != 443 => format!("{host}:{p}"),
            _ => host,
        };
        Some(GitHubServer {
            url: format!("https://{host}"),
            host,
        })
    }

    /// `credential.<url>.helper`: the key the installer owns.
    pub fn helper_key(&self) -> String {
        format!("credential.{}.helper", self.url)
    }

    /// `credential.<url>.useHttpPath`.
    pub fn use_http_path_key(&self) -> String {
        format!("credential.{}.useHttpPath", self.url)
    }

    /// The URL `status` and the contract ask git about: a clone of `o/r`.
    pub fn probe_url(&self) -> String {
        format!("{}/o/r.git", self.url)
    }
}

/// Variables that would send git or gh outside an explicit `--home`.
const ISOLATING_VARS: [&str; 3] = ["XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GH_CONFIG_DIR"];

/// The environment variables that name a provision-time token, in gh's order
/// of preference.
pub const ENV_TOKEN_VARS: [&str; 2] = ["GH_TOKEN", "GITHUB_TOKEN"];

/// What one install run knows about its world, as plain data.
#[derive(Debug, Clone)]
pub struct Config {
    /// The paths this run works on.
    pub layout: Layout,
    /// The environment snapshot the run decides on.
    pub env: BTreeMap<String, String>,
    /// Extra variables given to every child process (HOME among them).
    pub child_env: Vec<(String, String)>,
    /// Variables removed from every child's environment.
    pub child_env_remove: Vec<String>,
    /// The effective uid that must own the token cache.
    pub uid: u32,
    /// "Now", in epoch seconds, for judging cached-token expiry.
    pub now_epoch: u64,
    /// Whether install waits for its detached gh login (`--strict`,
    /// `contract`), at most GH_LOGIN_TIMEOUT_SEC + 5 s. Default: never.
    pub wait_for_gh_login: bool,
    /// Whether install, with no token cached, asks the platform once (as
    /// git would) so a refused bearer or a 404 is a problem in its report
    /// (`--strict`). Default: install sends no request.
    pub check_platform: bool,
}

impl Config {
    /// A config for `home` over an explicit environment snapshot.
    pub fn new(home: impl Into<PathBuf>, env: BTreeMap<String, String>) -> Self {
        let layout = Layout::new(home);
        let child_env = vec![(
            "HOME".to_string(),
            layout.home.to_string_lossy().into_owned(),
        )];
        Config {
            layout,
            env,
            child_env,
            child_env_remove: Vec::new(),
            uid: nix::unistd::geteuid().as_raw(),
            wait_for_gh_login: false,
            check_platform: false,
            now_epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// The process environment; HOME from `dirs` unless `home` is given.
    /// Either way the home is made canonical first ([`canonical_home`]).
    pub fn from_env(home: Option<PathBuf>) -> Result<Self, crate::Error> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        match home {
            Some(home) => Ok(Config::new(canonical_home(&home)?, env).isolated()),
            None => Ok(Config::new(
                canonical_home(&dirs::home_dir().ok_or(crate::Error::NoHome)?)?,
                env,
            )),
        }
    }

    /// A config for `home` whose snapshot is exactly `vars`, each also given
    /// to every child, and isolated from the real home (tests, `contract`).
    pub fn isolated_with<'a>(
        home: impl Into<PathBuf>,
        vars: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Self {
        let mut config = Config::new(home, BTreeMap::new()).isolated();
        for (k, v) in vars {
            config = config.with_var(k, v);
        }
        config
    }

    /// For an explicit home: children must not find the user's real config
    /// through variables that point outside HOME.
    pub fn isolated(mut self) -> Self {
        for key in ISOLATING_VARS {
            self.env.remove(key);
            self.child_env_remove.push(key.to_string());
        }
        self
    }

    /// A command for `program` with this run's child environment.
    pub fn command(&self, program: impl Into<PathBuf>) -> CommandSpec {
        let mut cmd = CommandSpec::new(program);
        cmd.env_remove.extend(self.child_env_remove.iter().cloned());
        cmd.env_set.extend(self.child_env.iter().cloned());
        cmd
    }

    /// A non-empty variable from the snapshot.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A numeric variable: whole seconds as the scripts take them (1-9
    /// digits, nothing else), else `default`.
    pub fn seconds(&self, key: &str, default: u64) -> u64 {
        self.var(key).and_then(whole_seconds).unwrap_or(default)
    }

    /// Adds a variable to the snapshot and to every child's environment.
    pub fn with_var(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.into(), value.into());
        self.child_env.push((key.into(), value.into()));
        self
    }

    /// Which env token variables are set (names only).
    pub fn env_token_vars(&self) -> Vec<&'static str> {
        ENV_TOKEN_VARS
            .into_iter()
            .filter(|k| self.var(k).is_some())
            .collect()
    }

    /// The provision-time token from the environment, if it has a valid shape.
    pub fn env_token(&self) -> Option<Token> {
        ENV_TOKEN_VARS
            .into_iter()
            .filter_map(|k| self.var(k))
            .find(|t| is_valid_token(t))
            .map(|t| Token::new(t.to_string()))
    }

    /// Every secret this run could leak, for redaction of child output.
    pub fn known_secrets(&self) -> Vec<String> {
        ENV_TOKEN_VARS
            .iter()
            .filter_map(|k| self.var(k))
            .map(str::to_string)
            .collect()
    }
}

/// Whole seconds as the scripts take them: 1-9 digits, nothing else.
pub fn whole_seconds(value: &str) -> Option<u64> {
    ((1..=9).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

#[cfg(test)]
mod server_tests {
    use super::GitHubServer;

    #[test]
    fn server_urls_are_normalised_or_refused() {
        for (url, host) in [
            ("https://github.com", "github.com"),
            ("https://GitHub.com/", "github.com"),
            ("https://ghe.example.test:443", "ghe.example.test"),
            ("https://ghe.example.test:8443", "ghe.example.test:8443"),
            ("https://ghe.example.test:08443", "ghe.example.test:8443"),
            ("https://ghe.example.test:0443", "ghe.example.test"),
            ("https://octo.ghe.com", "octo.ghe.com"),
        ] {
            let s = GitHubServer::parse(url).unwrap();
            assert_eq!(s.host, host, "{url}");
            assert_eq!(s.url, format!("https://{host}"), "{url}");
        }
        for bad in [
            "http://github.com",
            "https://github.com/o",
            "https://user@github.com",
            "https://",
            "https://gh_e.example",
            "https://h:",
            "https://h:123456",
            "github.com",
            "https://ghé.example",
            "https://a..b",
            "https://-.",
            "https://ghe.example-",
            "https://ghe.example.test:0",
            "https://ghe.example.test:99999",
        ] {
            assert_eq!(GitHubServer::parse(bad), None, "{bad}");
        }
    }
}
