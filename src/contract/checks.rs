//! The checks themselves, in the order a template author reads them.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{ContractReport, GH_SHIM};
use crate::config::{Config, Layout};
use crate::fake_platform::{FakePlatform, FakePlatformConfig};
use crate::os::{wait_until, RealFs, RealProcTable, RealSpawner, RealWhich, Which};
use crate::report::{Outcome, Step};
use crate::supervisor;

/// Tools the wiring needs, with the Debian package that brings each.
const REQUIRED_TOOLS: [(&str, &str); 4] = [
    ("git", "git"),
    ("bash", "bash"),
    ("curl", "curl"),
    ("flock", "util-linux"),
];
const BEARER: &str = "contract-bearer-5b0e";

/// Where the suite runs and what it started.
struct World {
    _root: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    layout: Layout,
    env: BTreeMap<String, String>,
    platform: FakePlatform,
    shim_log: PathBuf,
    /// The GitHub the image serves: its `GITHUB_SERVER_URL`, else github.com.
    server: crate::config::GitHubServer,
}

impl World {
    fn create() -> Result<World, String> {
        let root_dir = tempfile::Builder::new()
            .prefix("molecule-contract-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let root = root_dir.path().to_path_buf();
        let home = root.join("home");
        let configs = root.join("configs");
        let bin = root.join("bin");
        for dir in [&home, &configs, &bin] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(configs.join(".auth_token"), format!("{BEARER}\n"))
            .map_err(|e| e.to_string())?;
        let gh = bin.join("gh");
        std::fs::write(&gh, GH_SHIM).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let platform = FakePlatform::start(FakePlatformConfig {
            secret: BEARER.into(),
            ..Default::default()
        })
        .map_err(|e| format!("fake platform: {e}"))?;
        let shim_log = root.join("gh-shim.log");
        let system_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("HOME", home.display().to_string()),
            ("PATH", format!("{}:{system_path}", bin.display())),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("CONFIGS_DIR", configs.display().to_string()),
            ("PLATFORM_URL", platform.url()),
            ("GH_TOKEN", provision_token()),
            ("GH_SHIM_LOG", shim_log.display().to_string()),
            ("TOKEN_FETCH_TIMEOUT_SEC", "5".into()),
            ("TOKEN_REFRESH_INITIAL_DELAY_SEC", "1".into()),
            ("TOKEN_REFRESH_JITTER_SEC", "0".into()),
            ("TOKEN_REFRESH_INTERVAL_SEC", "2".into()),
            ("TOKEN_REFRESH_RESPAWN_SEC", "1".into()),
            ("LANG", "C".into()),
        ] {
            env.insert(k.to_string(), v);
        }
        // The image's GitHub: a GHE image sets GITHUB_SERVER_URL, and the
        // suite proves the wiring for that host.
        let server = match std::env::var("GITHUB_SERVER_URL") {
            Ok(url) if !url.is_empty() => {
                env.insert("GITHUB_SERVER_URL".into(), url.clone());
                crate::config::GitHubServer::parse(&url).ok_or_else(|| {
                    format!("GITHUB_SERVER_URL {url:?} is not https://host[:port]")
                })?
            }
            _ => crate::config::GitHubServer::github_com(),
        };
        let layout = Layout::new(&home);
        Ok(World {
            _root: root_dir,
            root,
            home,
            layout,
            env,
            platform,
            shim_log,
            server,
        })
    }

    fn config(&self) -> Config {
        let mut config = Config::isolated_with(&self.home, &self.env);
        config.child_env_remove.push("GITHUB_TOKEN".into());
        // The world is on 127.0.0.1: the CI's proxies and CA are not its
        // (git here runs without them too).
        config.child_env_remove.extend(
            crate::settings::setting_variables()
                .filter(|v| v.to_ascii_uppercase().ends_with("_PROXY") || *v == "PLATFORM_CA_FILE")
                .map(String::from),
        );
        // A CI check wants gh's answer, not "started in the background".
        config.wait_for_gh_login = true;
        config
    }

    fn install(&self) -> crate::InstallReport {
        crate::Installer::real(self.config()).install()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(&self.env).current_dir(&self.root);
        cmd
    }

    /// Runs `git ARGS` with `input` on stdin, bounded to 30 s.
    fn git(&self, args: &[&str], input: &str) -> Result<Output, String> {
        self.git_with(args, input, &[])
    }

    fn git_with(
        &self,
        args: &[&str],
        input: &str,
        vars: &[(&str, &str)],
    ) -> Result<Output, String> {
        let mut cmd = self.command("git");
        cmd.args(args).envs(vars.iter().copied());
        run_bounded(cmd, input.as_bytes(), Duration::from_secs(30))
    }

    /// `git config --global --get-all` of our helper key.
    fn helpers(&self) -> Result<Output, String> {
        self.git(
            &["config", "--global", "--get-all", &self.server.helper_key()],
            "",
        )
    }

    fn fill(&self) -> Result<String, String> {
        self.fill_with(&[])
    }

    fn fill_with(&self, vars: &[(&str, &str)]) -> Result<String, String> {
        let out = self.git_with(
            &["credential", "fill"],
            &format!(
                "protocol=https\nhost={}\npath=org/repo.git\n\n",
                self.server.host
            ),
            vars,
        )?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("password=").map(str::to_string))
            .ok_or_else(|| format!("no password; git said: {}", first_line(&out.stderr)))
    }

    fn issued(&self) -> Vec<String> {
        self.platform
            .issued()
            .into_iter()
            .map(|t| t.token)
            .collect()
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn run_bounded(mut cmd: Command, input: &[u8], limit: Duration) -> Result<Output, String> {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The program and its arguments only: the environment (Debug prints
    // it) holds the provision token.
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = cmd.spawn().map_err(|e| format!("{shown}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let ended = wait_until(limit, Duration::from_millis(10), || {
        !matches!(child.try_wait(), Ok(None))
    });
    if ended {
        return child.wait_with_output().map_err(|e| e.to_string());
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("{shown} timed out"))
}

fn ensure(cond: bool, reason: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(reason())
    }
}

fn mode_of(path: &Path) -> Result<u32, String> {
    std::fs::metadata(path)
        .map(|m| m.mode() & 0o777)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What install owns and a second install must leave alone, as
/// "path field" → value: the scripts and the PID file (content, mode,
/// mtime: install rewrites them only when they differ), git's global config
/// (its text, i.e. the values), and the cache dir's mode and owner. Not the
/// cache dir's mtime: the running daemon legitimately changes it whenever
/// it writes the cache.
fn snapshot(layout: &Layout, home: &Path) -> BTreeMap<String, String> {
    let mut owned = BTreeMap::new();
    let mut note = |path: &Path, field: &str, value: String| {
        owned.insert(format!("{} {field}", path.display()), value);
    };
    let gitconfig = home.join(".gitconfig");
    for path in [
        &layout.helper_script,
        &layout.daemon_script,
        &layout.pid_file,
        &gitconfig,
    ] {
        let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned());
        note(path, "content", format!("{text:?}"));
        if path != &gitconfig {
            let meta = std::fs::symlink_metadata(path).ok();
            let mode = meta.as_ref().map(|m| m.mode() & 0o7777);
            note(path, "mode", format!("{mode:?}"));
            note(
                path,
                "mtime",
                format!("{:?}", meta.map(|m| m.modified().ok())),
            );
        }
    }
    let meta = std::fs::symlink_metadata(&layout.cache_dir).ok();
    let mode = meta.as_ref().map(|m| m.mode() & 0o7777);
    note(&layout.cache_dir, "mode", format!("{mode:?}"));
    note(
        &layout.cache_dir,
        "owner",
        format!("{:?}", meta.map(|m| m.uid())),
    );
    owned
}

/// Every regular file under `dir` holding any of `needles` (secret sweeps).
pub fn files_holding(dir: &Path, needles: &[String]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    let Ok(bytes) = std::fs::read(&path) else {
                        continue;
                    };
                    let hit = needles
                        .iter()
                        .any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()));
                    if hit {
                        found.push(path);
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// `gh --version`'s first line, control characters removed, or why not.
fn gh_version(gh: &Path) -> String {
    use crate::os::Spawner;
    let cmd = crate::os::CommandSpec::new(gh)
        .args(["--version"])
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .timeout(Duration::from_secs(10));
    match RealSpawner.run(&cmd) {
        Ok(out) if out.success() => {
            let line: String = out
                .stdout
                .lines()
                .next()
                .unwrap_or("no version printed")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            line
        }
        Ok(out) => format!(
            "`gh --version` failed: {}",
            out.stderr.lines().next().unwrap_or("")
        ),
        Err(e) => format!("`gh --version` could not run: {e}"),
    }
}

/// Runs the whole suite. Never panics; a check that cannot run fails.
pub fn run_contract() -> ContractReport {
    let mut report = ContractReport::default();
    let which = RealWhich::from_env();
    // One check per tool: a missing tool fails its own check once, and
    // every check that needs it is a `# SKIP` naming it, never a second,
    // misleading failure.
    let mut missing = BTreeSet::new();
    for (tool, package) in REQUIRED_TOOLS {
        let found = which.which(tool).is_some();
        if !found {
            missing.insert(tool);
        }
        report.record(
            &format!("{tool} is on PATH"),
            ensure(found, || {
                format!("{tool} not found: install it (Debian: apt-get install {package})")
            }),
        );
    }
    // gh is optional for the wiring (the installer skips gh-auth without
    // it), so its absence is a visible skip, not a failure.
    let gh_check = "gh is on PATH (the image's real gh; the checks marked [gh: recording shim] use a shim, since a real login needs GitHub)";
    match which.which("gh") {
        Some(gh) => report.record(&format!("{gh_check}: {}", gh_version(&gh)), Ok(())),
        None => report.skip(
            gh_check,
            "gh not installed: gh will not be primed (apt-get install gh)",
        ),
    }
    let world = match World::create() {
        Ok(w) => w,
        Err(e) => {
            report.record("set up a throwaway HOME and the fake platform", Err(e));
            return report;
        }
    };
    let mut suite = Suite {
        report: &mut report,
        missing: &missing,
    };
    run_in(&world, &mut suite);
    // Whatever happened above, nothing we started may outlive the suite.
    let procs = RealProcTable;
    let (s, d) = supervisor::running(&procs, &world.layout, nix::unistd::geteuid().as_raw());
    for pid in s.into_iter().chain(d) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    report
}

/// The report, and the tools found missing up front.
struct Suite<'a> {
    report: &'a mut ContractReport,
    missing: &'a BTreeSet<&'static str>,
}

impl Suite<'_> {
    /// Runs `check` unless a tool it `needs` is missing; then it is a skip
    /// naming the tool, whose own check already failed.
    fn run(&mut self, name: &str, needs: &[&str], check: impl FnOnce() -> Result<(), String>) {
        let absent: Vec<&str> = needs
            .iter()
            .copied()
            .filter(|t| self.missing.contains(t))
            .collect();
        if absent.is_empty() {
            self.report.record(name, check());
        } else {
            self.report.skip(
                name,
                &format!(
                    "needs {}, which is not on PATH (see above)",
                    absent.join(" and ")
                ),
            );
        }
    }
}

fn run_in(world: &World, suite: &mut Suite<'_>) {
    let first = world.install();
    // Without flock the refresh-daemon step fails (the supervisor holds a
    // lock): that is flock's own check, not a second failure here.
    suite.run(
        "install reports no failed step and no settings problem",
        &["flock", "curl"],
        || install_clean(&first),
    );
    suite.run(
        "git config: empty reset, then our helper, then useHttpPath=true",
        &["git"],
        || git_config_wired(world),
    );
    suite.run(
        "no other credential helper gets our token (git's URL matching over the image's own git config)",
        &["git"],
        || no_other_helper(world),
    );
    suite.run(
        "the image's git config sends no Authorization extraheader to the served GitHub (it would outlive its token), scoped or not",
        &["git"],
        || no_auth_extraheader(world),
    );
    suite.run(
        "git credential fill returns a platform-issued token (through the image's curl)",
        &["git", "bash", "curl"],
        || fill_is_platform_token(world),
    );
    suite.run(
        "files have their documented modes",
        &["git", "curl", "flock"],
        || modes(world),
    );
    let mut second = None;
    suite.run(
        "a second install changes nothing and starts no daemon",
        &["git", "flock"],
        || {
            let (report, result) = second_install_is_a_no_op(world);
            second = Some(report);
            result
        },
    );
    suite.run(
        "exactly one daemon supervisor and one daemon run",
        &["bash", "flock"],
        || one_daemon(world),
    );
    suite.run(
        "the daemon refreshes the token and logs gh in [gh: recording shim]",
        &["bash", "curl", "flock"],
        || daemon_refreshes(world),
    );
    suite.run(
        "gh logged in with GH_TOKEN/GITHUB_TOKEN removed, token on stdin [gh: recording shim]",
        &["bash", "curl", "flock"],
        || gh_login_clean(world),
    );
    suite.run(
        "erase after a 401, then fill, gets a new token",
        &["git", "bash", "curl"],
        || erase_then_fill(world),
    );
    suite.run(
        "8 concurrent fills on a cold cache make one platform request",
        &["git", "bash", "curl", "flock"],
        || single_flight(world),
    );
    let second = second.unwrap_or_default();
    let outputs = format!("{first}{second}{}{}", first.to_json(), second.to_json());
    suite.run(
        "no token or bearer outside the cache and gh's hosts file",
        &[],
        || no_leaks(world, &outputs),
    );
    suite.run(
        "uninstall stops every process and removes our files",
        &["git"],
        || uninstall_clean(world),
    );
}

fn install_clean(report: &crate::InstallReport) -> Result<(), String> {
    ensure(!report.has_failures(), || {
        report
            .to_string()
            .lines()
            .filter(|l| l.contains("failed"))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let settings: Vec<&str> = report
        .warnings
        .iter()
        .filter(|w| w.starts_with("settings"))
        .map(String::as_str)
        .collect();
    ensure(settings.is_empty(), || settings.join("; "))
}

/// git with the image's own settings: its system config (wherever it is),
/// and config given in the environment (GIT_CONFIG_COUNT/KEY_n/VALUE_n, or
/// GIT_CONFIG_PARAMETERS), which git reads after the global file.
fn image_git(world: &World, args: &[&str]) -> Command {
    let mut cmd = world.command("git");
    cmd.args(args).env_remove("GIT_CONFIG_NOSYSTEM");
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name == "GIT_CONFIG_SYSTEM"
            || name == "GIT_CONFIG_PARAMETERS"
            || name == "GIT_CONFIG_COUNT"
            || name.starts_with("GIT_CONFIG_KEY_")
            || name.starts_with("GIT_CONFIG_VALUE_")
        {
            cmd.env(key, value);
        }
    }
    cmd
}

/// Every helper git runs for github.com, replayed over all of git's config
/// files including the image's system config (the rest of the suite runs
/// with GIT_CONFIG_NOSYSTEM=1 for isolation): ours must come first and
/// alone, or git hands our token to the others to store after a push.
fn no_other_helper(world: &World) -> Result<(), String> {
    // An `insteadOf` rewrite of github.com sends git's requests elsewhere.
    let out = run_bounded(
        image_git(
            world,
            &[
                "ls-remote",
                "--get-url",
                crate::git_helpers::GITHUB_PROBE_URL,
            ],
        ),
        b"",
        Duration::from_secs(30),
    )?;
    let url = first_line(&out.stdout);
    ensure(url == crate::git_helpers::GITHUB_PROBE_URL, || {
        // The rewrite's base may hold a token (`https://x:TOKEN@github.com/`).
        format!(
            "git rewrites {} to {:?} (url.<base>.insteadOf): our helper is never asked",
            crate::git_helpers::GITHUB_PROBE_URL,
            crate::secret::redact_credentials(&url)
        )
    })?;
    let cmd = image_git(world, &["config", "--list", "-z"]);
    let out = run_bounded(cmd, b"", Duration::from_secs(30))?;
    let chain =
        crate::git_helpers::helpers_for(&String::from_utf8_lossy(&out.stdout), &world.server);
    let ours = &crate::install::wanted_helpers(&world.layout.helper_script)[1];
    ensure(chain.first() == Some(ours), || {
        format!(
            "git asks {:?} first for {}",
            chain.first(),
            world.server.host
        )
    })?;
    let others = crate::git_helpers::others_after_ours(&chain, ours);
    ensure(others.is_empty(), || {
        format!(
            "git also runs {others:?} for {} and would hand it our token to store",
            world.server.host
        )
    })
}

/// A credential in the image's own git config (system, global, or given in
/// the environment) that git sends to the served host instead of asking
/// our helper, and that dies with its token: an Authorization
/// `http.<url>.extraheader` for it (actions/checkout leaves one), an
/// unscoped `http.extraheader` (sent to every host), or a
/// `url.<base>.insteadOf` whose base holds a password for it (named by its
/// base without the userinfo; `no_other_helper` also fails on any rewrite
/// of github.com).
fn no_auth_extraheader(world: &World) -> Result<(), String> {
    let out = run_bounded(
        image_git(world, &["config", "--list", "-z"]),
        b"",
        Duration::from_secs(30),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let found: Vec<String> = text
        .split('\0')
        .filter_map(|entry| {
            let (key, value) = entry.split_once('\n')?;
            // `--list` gives section and variable names in lower case.
            if let Some(url) = key
                .strip_prefix("http.")
                .and_then(|k| k.strip_suffix("extraheader"))
            {
                let header = value.trim_start();
                let is_auth = header
                    .split_once(':')
                    .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"));
                let served = match url.strip_suffix('.') {
                    Some(url) => url_is_served(url, &world.server),
                    None => url.is_empty(),
                };
                // The key's URL may hold userinfo (`http.https://x:PW@…`).
                return (is_auth && served).then(|| crate::secret::redact_credentials(key));
            }
            let base = key
                .strip_prefix("url.")?
                .strip_suffix(".insteadof")
                .or_else(|| key.strip_prefix("url.")?.strip_suffix(".pushinsteadof"))?;
            let userinfo = base
                .get(8..)?
                .split(['/', '?', '#'])
                .next()?
                .rsplit_once('@')?
                .0;
            (userinfo.contains(':') && url_is_served(base, &world.server))
                .then(|| format!("url.{}.insteadOf", crate::secret::redact_credentials(base)))
        })
        .collect();
    ensure(found.is_empty(), || {
        format!(
            "{} carries a credential for {}: git sends it instead of asking our helper, and it fails once that token dies; remove it from the config that holds it (`git config --show-origin --get-regexp extraheader` names the file), or run `molecule-credential-helper repair` for a repository's or the user's own config",
            found.join(", "),
            world.server.host
        )
    })
}

/// Whether `url` (an `http.<url>` subsection) names the served host: https,
/// any userinfo ignored, any case, `:443` the same host.
fn url_is_served(url: &str, server: &crate::config::GitHubServer) -> bool {
    let Some(rest) = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    host.strip_suffix(":443").unwrap_or(&host) == server.host
}

fn git_config_wired(world: &World) -> Result<(), String> {
    let out = world.helpers()?;
    let values: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let wanted = crate::install::wanted_helpers(&world.layout.helper_script);
    ensure(values == wanted, || {
        format!("helpers are {values:?}, want {wanted:?}")
    })?;
    let out = world.git(
        &[
            "config",
            "--global",
            "--type=bool",
            "--get",
            &world.server.use_http_path_key(),
        ],
        "",
    )?;
    ensure(
        String::from_utf8_lossy(&out.stdout).trim() == "true",
        || "useHttpPath is not true".into(),
    )
}

fn fill_is_platform_token(world: &World) -> Result<(), String> {
    let token = world.fill()?;
    ensure(world.issued().contains(&token), || {
        "the password is not a token the platform issued".into()
    })
}

fn modes(world: &World) -> Result<(), String> {
    let layout = &world.layout;
    for (path, want) in [
        (&layout.helper_script, 0o755),
        (&layout.daemon_script, 0o755),
        (&layout.cache_dir, 0o700),
        (&layout.cache_token, 0o600),
        (&layout.cache_expiry, 0o600),
        (&layout.pid_file, 0o600),
        (&layout.log_file, 0o600),
        (&layout.install_lock, 0o600),
        (&layout.supervisor_lock, 0o600),
        (&layout.settings_file, 0o600),
    ] {
        let got = mode_of(path)?;
        ensure(got == want, || {
            format!("{} is {got:04o}, want {want:04o}", path.display())
        })?;
    }
    Ok(())
}

fn second_install_is_a_no_op(world: &World) -> (crate::InstallReport, Result<(), String>) {
    let layout = &world.layout;
    let before = snapshot(layout, &world.home);
    let pid_before = std::fs::read_to_string(&layout.pid_file).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(20));
    let second = world.install();
    let verdict = (|| {
        for step in [
            Step::Scripts,
            Step::TokenCache,
            Step::GitConfig,
            Step::RefreshDaemon,
        ] {
            let outcome = second.outcome(step);
            ensure(matches!(outcome, Some(Outcome::Unchanged(_))), || {
                format!(
                    "{step} was {}",
                    outcome.map(|o| o.label()).unwrap_or("missing")
                )
            })?;
        }
        let after = snapshot(layout, &world.home);
        let changed: Vec<&String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .collect();
        ensure(changed.is_empty(), || {
            format!("a file was rewritten: {changed:?}")
        })?;
        let pid_after = std::fs::read_to_string(&layout.pid_file).unwrap_or_default();
        ensure(pid_after == pid_before, || "PID file changed".into())
    })();
    (second, verdict)
}

fn one_daemon(world: &World) -> Result<(), String> {
    let settled = wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        let (s, d) = supervisor::running(
            &RealProcTable,
            &world.layout,
            nix::unistd::geteuid().as_raw(),
        );
        s.len() == 1 && d.len() == 1
    });
    let (s, d) = supervisor::running(
        &RealProcTable,
        &world.layout,
        nix::unistd::geteuid().as_raw(),
    );
    ensure(settled, || {
        format!(
            "{}, {}",
            crate::report::count(s.len() as u64, "supervisor", "supervisors"),
            crate::report::count(d.len() as u64, "daemon", "daemons")
        )
    })
}

fn daemon_refreshes(world: &World) -> Result<(), String> {
    let log_file = &world.layout.log_file;
    let refreshed = wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
        std::fs::read_to_string(log_file).is_ok_and(|l| l.contains("refresh ok"))
    });
    let log = std::fs::read_to_string(log_file).unwrap_or_default();
    ensure(refreshed, || {
        format!(
            "no 'refresh ok' in the daemon log; last line: {}",
            log.lines().last().unwrap_or("")
        )
    })
}

fn gh_login_clean(world: &World) -> Result<(), String> {
    let log = std::fs::read_to_string(&world.shim_log).unwrap_or_default();
    ensure(log.contains("login"), || {
        "gh auth login never succeeded".into()
    })?;
    ensure(!log.contains("env_token=GH"), || {
        "gh saw GH_TOKEN or GITHUB_TOKEN in its environment".into()
    })?;
    ensure(
        log.contains(&format!(
            "argv=auth login --hostname {} --with-token",
            world.server.host
        )),
        || format!("unexpected gh argv: {log}"),
    )
}

fn erase_then_fill(world: &World) -> Result<(), String> {
    let old = world.fill()?;
    let input = format!(
        "protocol=https\nhost={}\nusername=x-access-token\npassword={old}\n\n",
        world.server.host
    );
    world.git(&["credential", "reject"], &input)?;
    let new = world.fill()?;
    ensure(new != old && world.issued().contains(&new), || {
        "fill after erase returned the erased token".into()
    })
}

fn single_flight(world: &World) -> Result<(), String> {
    let _ = std::fs::remove_file(&world.layout.cache_expiry);
    let git_fetches = || {
        world
            .platform
            .user_agents()
            .iter()
            .filter(|ua| ua.as_str() == "molecule-git-token-helper/get")
            .count()
    };
    let before = git_fetches();
    let results: Vec<Result<String, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| world.fill())).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    ensure(results.iter().all(Result::is_ok), || "a fill failed".into())?;
    // Counted by User-Agent, so a daemon refresh in the same instant
    // (`/_refresh_gh`) is not mistaken for a second git fetch.
    let requests = git_fetches() - before;
    ensure(requests == 1, || {
        format!("{requests} platform requests from git")
    })
}

/// The provision-time `GH_TOKEN`, in GitHub's current format as production has.
fn provision_token() -> String {
    crate::fake_platform::sample_token(0xC0DE)
}

fn no_leaks(world: &World, outputs: &str) -> Result<(), String> {
    let layout = &world.layout;
    let mut needles = world.issued();
    needles.push(BEARER.into());
    needles.push(provision_token());
    let allowed = [
        layout.cache_token.clone(),
        world.home.join(".config/gh/hosts.yml"),
        world.root.join("configs/.auth_token"),
    ];
    let leaks: Vec<String> = files_holding(&world.root, &needles)
        .into_iter()
        .filter(|p| !allowed.contains(p))
        .map(|p| p.display().to_string())
        .collect();
    let log = std::fs::read_to_string(&layout.log_file).unwrap_or_default();
    let in_outputs = needles
        .iter()
        .any(|n| outputs.contains(n.as_str()) || log.contains(n.as_str()));
    ensure(leaks.is_empty() && !in_outputs, || {
        format!(
            "found in {leaks:?}{}",
            if in_outputs {
                " and in reports/logs"
            } else {
                ""
            }
        )
    })
}

fn uninstall_clean(world: &World) -> Result<(), String> {
    let layout = &world.layout;
    let config = world.config();
    let which = RealWhich::for_config(&config);
    let result =
        crate::uninstall::uninstall(&RealFs, &RealSpawner, &RealProcTable, &which, &config);
    ensure(result.errors.is_empty(), || result.errors.join("; "))?;
    let (s, d) = supervisor::running(&RealProcTable, layout, nix::unistd::geteuid().as_raw());
    ensure(s.is_empty() && d.is_empty(), || {
        format!("still running: {s:?} {d:?}")
    })?;
    ensure(
        !layout.runtime_dir.exists() && !layout.cache_dir.exists(),
        || "files left behind".into(),
    )?;
    let out = world.helpers()?;
    ensure(out.stdout.is_empty(), || {
        "git config values left behind".into()
    })
}
