//! Shared test scaffolding: a temp HOME with a fake platform and a recording
//! gh shim, commands that report everything on failure, and guards that end
//! every process a test started.

#![allow(dead_code)]

pub mod connect_proxy;
pub mod procs;
pub mod raw_server;
pub mod running;
pub mod tls_front;
pub mod users;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use assert_fs::TempDir;
use molecule_credential_helper::testing::{FakeMode, FakePlatform, FakePlatformConfig};
use molecule_credential_helper::{Config, Installer, Layout};

pub use procs::SupervisorGuard;

/// A bearer of its own for each test env, so one test's leak never fails
/// another's secret sweep.
fn fresh_secret() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("bearer-secret-{}-{n}", std::process::id())
}

/// The wall clock, in epoch seconds (the helper's own clock).
pub fn now() -> u64 {
    now_f64() as u64
}

/// The wall clock, in fractional epoch seconds.
pub fn now_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// A recording stand-in for gh: like the real one it refuses to log in while
/// GH_TOKEN/GITHUB_TOKEN is set, reads the token from stdin and stores it in
/// hosts.yml. It records each call's argv and env-token presence (never the
/// token) in $GH_SHIM_LOG.
pub const GH_SHIM: &str = molecule_credential_helper::contract::GH_SHIM;

/// A temp HOME, configs dir, bin dir (gh shim) and optionally a fake platform.
pub struct TestEnv {
    pub dir: TempDir,
    /// This env's platform bearer (in `$CONFIGS_DIR/.auth_token`).
    pub secret: String,
    pub home: PathBuf,
    pub configs: PathBuf,
    pub bin: PathBuf,
    pub platform: Option<FakePlatform>,
    pub env: BTreeMap<String, String>,
}

pub struct TestEnvBuilder {
    home_name: String,
    platform: Option<FakePlatformConfig>,
    gh_shim: bool,
    auth_token: bool,
    slow_secs: u64,
    vars: Vec<(String, String)>,
}

impl TestEnvBuilder {
    pub fn home_name(mut self, name: &str) -> Self {
        self.home_name = name.into();
        self
    }

    pub fn no_platform(mut self) -> Self {
        self.platform = None;
        self
    }

    pub fn platform_mode(mut self, mode: FakeMode) -> Self {
        self.platform.get_or_insert_with(Default::default).mode = mode;
        self
    }

    pub fn platform_ttl(mut self, ttl: u64) -> Self {
        self.platform.get_or_insert_with(Default::default).ttl_secs = ttl;
        self
    }

    /// How long `slow` mode stalls (default 20 s).
    pub fn slow_secs(mut self, secs: u64) -> Self {
        self.slow_secs = secs;
        self
    }

    pub fn without_gh(mut self) -> Self {
        self.gh_shim = false;
        self
    }

    pub fn without_auth_token(mut self) -> Self {
        self.auth_token = false;
        self
    }

    pub fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    pub fn build(self) -> TestEnv {
        let dir = TempDir::new().expect("temp dir");
        let home = dir.path().join(&self.home_name);
        let configs = dir.path().join("configs");
        let bin = dir.path().join("bin");
        for d in [&home, &configs, &bin] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let secret = fresh_secret();
        if self.auth_token {
            std::fs::write(configs.join(".auth_token"), format!("{secret}\n")).expect("auth token");
        }
        if self.gh_shim {
            write_executable(&bin.join("gh"), GH_SHIM);
        }
        let platform = self.platform.map(|mut c| {
            c.secret = secret.clone();
            c.slow_secs = self.slow_secs;
            FakePlatform::start(c).expect("fake platform")
        });
        let mut env = BTreeMap::new();
        // The shim dir comes first, so the shim shadows any real gh.
        let system_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let path = format!("{}:{system_path}", bin.display());
        for (k, v) in [
            ("HOME", home.to_string_lossy().into_owned()),
            ("PATH", path),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("CONFIGS_DIR", configs.to_string_lossy().into_owned()),
            (
                "GH_SHIM_LOG",
                dir.path()
                    .join("gh-shim.log")
                    .to_string_lossy()
                    .into_owned(),
            ),
            ("LANG", "C".into()),
            ("TOKEN_FETCH_TIMEOUT_SEC", "2".into()),
            ("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600".into()),
            ("TOKEN_REFRESH_JITTER_SEC", "0".into()),
            ("TOKEN_REFRESH_RESPAWN_SEC", "1".into()),
        ] {
            env.insert(k.to_string(), v);
        }
        env.insert(
            "PLATFORM_URL".into(),
            platform
                .as_ref()
                .map(|p| p.url())
                .unwrap_or_else(|| "http://127.0.0.1:9".into()),
        );
        for (k, v) in self.vars {
            env.insert(k, v);
        }
        TestEnv {
            dir,
            secret,
            home,
            configs,
            bin,
            platform,
            env,
        }
    }
}

/// What the helper, the daemon and the tests run, with the Debian package
/// of each. gh is not here: tests use the recording shim (the end-to-end
/// tests, which run the real gh, check for it themselves).
const REQUIRED_TOOLS: [(&str, &str); 9] = [
    ("git", "git"),
    ("bash", "bash"),
    ("curl", "curl"),
    ("flock", "util-linux"),
    ("timeout", "coreutils"),
    ("stat", "coreutils"),
    ("mv", "coreutils"),
    ("env", "coreutils"),
    ("tail", "coreutils"),
];

/// Checks the tools once, before libtest starts a single test: when one is
/// missing the binary prints one message naming each missing tool and its
/// Debian package, and exits 1. So the run fails once, up front, instead
/// of every test failing with the same line, and no test (no proptest
/// case) runs to leave a regression file behind.
#[used]
#[link_section = ".init_array"]
static CHECK_TOOLS_BEFORE_ANY_TEST: extern "C" fn() = check_tools_before_any_test;

extern "C" fn check_tools_before_any_test() {
    use molecule_credential_helper::os::{RealWhich, Which};
    let which = RealWhich::from_env();
    let missing: Vec<String> = REQUIRED_TOOLS
        .iter()
        .filter(|(tool, _)| which.which(tool).is_none())
        .map(|(tool, package)| format!("{tool} (apt-get install {package})"))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "the integration tests need tools this machine lacks: {}; no test was run",
            missing.join(", ")
        );
        std::process::exit(1);
    }
}

/// Fails with a clear message when the suite is not run as root: `what`
/// (a chown to another user, a setuid) needs it. CI runs as root.
pub fn need_root(what: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root ({what}): run the suite as root, as CI does"
    );
}

/// Skips a test whose capability this host lacks, never silently. With
/// `CI` set it fails instead: CI must run everything. Elsewhere one
/// `SKIP` line goes straight to the terminal (libtest hides a passing
/// test's output), and after libtest's own summary the binary prints how
/// many tests skipped and why.
pub fn skip(test: &str, why: &str) {
    use std::sync::{Mutex, Once};
    static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static SUMMARY: Once = Once::new();
    extern "C" fn summary() {
        let skipped = SKIPPED.lock().map(|s| s.clone()).unwrap_or_default();
        let mut text = format!(
            "\n{} test(s) SKIPPED (not run, counted as passed):\n",
            skipped.len()
        );
        for line in skipped {
            text.push_str(&format!("  {line}\n"));
        }
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    let line = format!("SKIP {test}: {why}");
    assert!(
        std::env::var_os("CI").is_none(),
        "{line} (CI is set, so a missing capability fails the run)"
    );
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    SKIPPED.lock().unwrap().push(line);
    // SAFETY: registers a plain function to run at exit.
    SUMMARY.call_once(|| unsafe {
        nix::libc::atexit(summary);
    });
}

pub fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

impl TestEnv {
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder {
            home_name: "home".into(),
            platform: Some(FakePlatformConfig::default()),
            gh_shim: true,
            auth_token: true,
            slow_secs: 20,
            vars: Vec::new(),
        }
    }

    pub fn new() -> TestEnv {
        TestEnv::builder().build()
    }

    pub fn layout(&self) -> Layout {
        Layout::new(&self.home)
    }

    pub fn platform(&self) -> &FakePlatform {
        self.platform
            .as_ref()
            .expect("this test env has a platform")
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.env.insert(key.into(), value.into());
    }

    pub fn unset(&mut self, key: &str) {
        self.env.remove(key);
    }

    /// The installer over the real OS in this HOME, env from this test only.
    pub fn installer(&self) -> molecule_credential_helper::RealInstaller {
        let mut config = Config::isolated_with(&self.home, &self.env);
        for k in ["GH_TOKEN", "GITHUB_TOKEN"] {
            if !self.env.contains_key(k) {
                config.child_env_remove.push(k.into());
            }
        }
        Installer::real(config)
    }

    /// A command with exactly this test's environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> TestCommand {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(&self.env).current_dir(self.dir.path());
        TestCommand {
            cmd,
            stdin: None,
            dir: self.dir.path().to_path_buf(),
        }
    }

    pub fn git(&self) -> TestCommand {
        self.command("git")
    }

    pub fn helper(&self, action: &str) -> TestCommand {
        let mut c = self.command("bash");
        c.arg(self.layout().helper_script).arg(action);
        c
    }

    /// The helper script run straight from `scripts/` (no install needed).
    pub fn bundled_helper(&self, action: &str) -> TestCommand {
        let mut c = self.command("bash");
        c.arg(repo_script("molecule-git-token-helper.sh"))
            .arg(action);
        c
    }

    pub fn bin(&self) -> TestCommand {
        self.command(env!("CARGO_BIN_EXE_molecule-credential-helper"))
    }

    /// Configures git exactly as the installer does, pointing at the repo's helper.
    pub fn configure_git_for_bundled_helper(&self) {
        let helper = repo_script("molecule-git-token-helper.sh");
        let key = "credential.https://github.com.helper";
        self.git()
            .args(["config", "--global", "--add", key, ""])
            .ok();
        self.git()
            .args([
                "config",
                "--global",
                "--add",
                key,
                &format!("!{}", helper.display()),
            ])
            .ok();
        self.git()
            .args([
                "config",
                "--global",
                "credential.https://github.com.useHttpPath",
                "true",
            ])
            .ok();
    }

    /// Appends a value to our helper key in the global git config.
    pub fn add_git_helper(&self, value: &str) {
        self.git()
            .args([
                "config",
                "--global",
                "--add",
                "credential.https://github.com.helper",
                value,
            ])
            .ok();
    }

    /// The global values of our helper key, in order.
    pub fn git_helpers(&self) -> Vec<String> {
        let out = self
            .git()
            .args([
                "config",
                "--global",
                "--get-all",
                "credential.https://github.com.helper",
            ])
            .output();
        stdout(&out).lines().map(str::to_string).collect()
    }

    /// The repo's helper answering `get` for github.com directly (no git).
    pub fn direct_get(&self) -> Output {
        self.bundled_helper("get")
            .stdin("protocol=https\nhost=github.com\n\n")
            .output()
    }

    /// Starts `action` on a copy of the helper named `name` in this test's
    /// dir, output discarded, so its processes (and the exchanges it forks)
    /// are told apart by their argv. Returns the child and the copy's path.
    pub fn spawn_helper_copy(&self, name: &str, action: &str) -> (std::process::Child, String) {
        let copy = self.dir.path().join(name);
        std::fs::copy(repo_script("molecule-git-token-helper.sh"), &copy).expect("copy the helper");
        let mut c = self.command("bash");
        c.arg(&copy).arg(action);
        c.cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = c.cmd.spawn().expect("spawn the helper copy");
        (child, copy.display().to_string())
    }

    /// `n` of [`Self::direct_get`] at once, their outputs in start order.
    pub fn concurrent_direct_gets(&self, n: usize) -> Vec<Output> {
        let gets: Vec<_> = (0..n)
            .map(|_| {
                let mut c = self.bundled_helper("get");
                c.stdin("protocol=https\nhost=github.com\n\n");
                std::thread::spawn(move || c.output())
            })
            .collect();
        gets.into_iter().map(|g| g.join().expect("a get")).collect()
    }

    /// Like [`Self::direct_get`], with one variable removed.
    pub fn direct_get_without(&self, var: &str) -> Output {
        self.bundled_helper("get")
            .env_remove(var)
            .stdin("protocol=https\nhost=github.com\n\n")
            .output()
    }

    /// Asserts `out` answered with the first token the platform issued.
    pub fn assert_answered_first_platform_token(&self, out: &Output) {
        let issued = self.platform().issued();
        assert_eq!(
            password(out).as_deref(),
            issued.first().map(|t| t.token.as_str()),
            "{}",
            stderr(out)
        );
    }

    /// `git credential fill` for https://github.com/org/repo.git.
    pub fn fill(&self) -> Output {
        self.git()
            .args(["credential", "fill"])
            .stdin("protocol=https\nhost=github.com\npath=org/repo.git\n\n")
            .output()
    }

    /// Line 1 of the cache's expiry file: when the cache goes stale.
    pub fn cache_expiry_epoch(&self) -> u64 {
        let text = std::fs::read_to_string(self.layout().cache_expiry).expect("expiry file");
        text.lines()
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("no expiry in {text:?}"))
    }

    /// Every token the platform issued (for secret scans).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.platform()
            .issued()
            .into_iter()
            .map(|t| t.token)
            .collect()
    }

    /// Gaps between the platform's consecutive observed requests, in seconds.
    pub fn arrival_gaps(&self) -> Vec<f64> {
        self.platform()
            .arrivals()
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect()
    }

    /// `status --json --home` in this test's environment: exit code and report.
    pub fn status_json(&self) -> (i32, molecule_credential_helper::status::StatusReport) {
        let out = self
            .bin()
            .args(["status", "--json", "--home"])
            .arg(&self.home)
            .output();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        (out.status.code().unwrap_or(-1), report)
    }

    /// The PID the install's PID file names.
    pub fn supervisor_pid(&self) -> i32 {
        std::fs::read_to_string(self.layout().pid_file)
            .expect("PID file")
            .trim()
            .parse()
            .expect("a PID")
    }

    /// Writes the cache's two files as given (None: absent), in a cache dir
    /// of mode 0700, as a hand-made or damaged cache.
    pub fn write_cache(&self, token_file: Option<&str>, expiry_file: Option<&str>) {
        let l = self.layout();
        std::fs::create_dir_all(&l.cache_dir).expect("cache dir");
        std::fs::set_permissions(&l.cache_dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod cache dir");
        for (path, text) in [(&l.cache_token, token_file), (&l.cache_expiry, expiry_file)] {
            match text {
                Some(text) => std::fs::write(path, text).expect("cache file"),
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// A whole cache pair of one write (generation `g1`): `token`, stale at
    /// `stale_at`, expiring 300 s later.
    pub fn seed_cache(&self, token: &str, stale_at: u64) {
        self.write_cache(
            Some(&format!("{token}\ng1\n")),
            Some(&format!("{stale_at}\n{}\ng1\n", stale_at + 300)),
        );
    }

    /// Waits (at most 8 s) for the first daemon's gh login: with no token
    /// for install to give gh, the daemon fetches one and logs gh in as it
    /// starts, writing the cache and gh's hosts file after install returned.
    pub fn wait_for_gh_primed(&self) {
        let hosts = self.home.join(".config/gh/hosts.yml");
        assert!(
            wait_for(Duration::from_secs(8), || hosts.exists()),
            "gh not primed: {}",
            self.gh_shim_log()
        );
        // The helper writes the hosts file through gh, then logs; let it end.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Waits (at most 10 s) until the first daemon's gh login at start has
    /// run, whatever its outcome, when install asked for one: a test that
    /// changes the platform after install must not race it.
    pub fn wait_for_daemon_gh_login(&self) {
        let log = self.layout().log_file;
        let done = || {
            std::fs::read_to_string(&log).is_ok_and(|l| {
                l.contains("install had none to give it")
                    || l.contains("no token for gh yet")
                    || l.contains("gh not on PATH")
                    || l.contains("gh auth login failed")
                    || l.contains("another gh login is running")
            })
        };
        assert!(
            wait_for(Duration::from_secs(10), done),
            "the daemon's gh login at start did not run: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn gh_shim_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gh-shim.log")).unwrap_or_default()
    }
}

pub fn repo_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// A command whose failure message shows the command, its output and its directory.
pub struct TestCommand {
    pub cmd: Command,
    stdin: Option<Vec<u8>>,
    dir: PathBuf,
}

impl TestCommand {
    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, k: &str, v: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(&mut self, k: &str) -> &mut Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn stdin(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    /// A command built elsewhere, with this type's failure reports.
    pub fn wrap(cmd: Command) -> TestCommand {
        let dir = cmd
            .get_current_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        TestCommand {
            cmd,
            stdin: None,
            dir,
        }
    }

    /// Runs to completion (killed after 60 s so a hang fails instead of stalling CI).
    pub fn output(&mut self) -> Output {
        self.output_within(Duration::from_secs(60))
    }

    /// Runs to completion, killed after `limit`.
    pub fn output_within(&mut self, limit: Duration) -> Output {
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.cmd));
        if let Some(bytes) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("stdin");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        // The watchdog kills the child only while it is ours: told the
        // moment the child is reaped, it stops. (A watchdog that outlived
        // its child once killed whatever process reused the PID: with
        // pid_max at 32768 the suite wraps PIDs within a minute.)
        let pid = child.id();
        let (reaped, told) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = told.recv_timeout(limit) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        });
        let out = child.wait_with_output().expect("wait");
        let _ = reaped.send(());
        let _ = watchdog.join();
        out
    }

    /// Runs and asserts success.
    pub fn ok(&mut self) -> Output {
        let out = self.output();
        assert!(out.status.success(), "{}", self.describe(&out));
        out
    }

    /// Runs and asserts failure.
    pub fn fails(&mut self) -> Output {
        let out = self.output();
        assert!(
            !out.status.success(),
            "expected failure\n{}",
            self.describe(&out)
        );
        out
    }

    pub fn describe(&self, out: &Output) -> String {
        format!(
            "command: {:?}\ndir: {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmd,
            self.dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first line of stdout that contains `needle` (empty when none).
pub fn line_with(out: &Output, needle: &str) -> String {
    stdout(out)
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_string()
}

/// The `password=` line of a credential answer.
pub fn password(out: &Output) -> Option<String> {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("password=").map(str::to_string))
}

/// Waits for `cond`, up to `timeout` (the library's bounded poll).
pub fn wait_for(timeout: Duration, cond: impl FnMut() -> bool) -> bool {
    molecule_credential_helper::os::wait_until(timeout, Duration::from_millis(20), cond)
}

/// Permission bits of `path` (`mode & 0o777`).
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every regular file under `dir` that contains `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    molecule_credential_helper::contract::files_holding(dir, &[needle.to_string()])
}

/// The home every fake-world test uses.
pub const FAKE_HOME: &str = "/home/agent";

/// An installer whose four backends are one fake world.
pub fn fake_installer(
    world: &molecule_credential_helper::testing::FakeSystem,
    env: &[(&str, &str)],
) -> molecule_credential_helper::testing::FakeInstaller {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = Config::new(FAKE_HOME, env);
    config.now_epoch = 1_800_000_000;
    world.installer(config)
}

/// A fake process that is our supervisor for `layout`: our argv, leading
/// its session, holding the supervisor lock.
pub fn our_supervisor(layout: &Layout) -> molecule_credential_helper::testing::FakeProcess {
    molecule_credential_helper::testing::FakeProcess {
        cmdline: vec![
            "/usr/bin/bash".into(),
            "-p".into(),
            layout.daemon_script.to_string_lossy().into(),
            "--supervise".into(),
        ],
        zombie: false,
        foreign: false,
        holds: vec![layout.supervisor_lock.clone()],
        ..Default::default()
    }
}

/// A directory of symlinks to just these tools (each must exist), to use as PATH. Tools are
/// found on the test env's PATH, so `gh` is the recording shim, whatever
/// the host has.
pub fn path_with(env: &TestEnv, name: &str, tools: &[&str]) -> std::path::PathBuf {
    let dir = env.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for tool in tools {
        let found = std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .env("PATH", &env.env["PATH"])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        // A tool the host lacks is never dropped quietly: the PATH would
        // then test a different world than the test says.
        assert!(!path.is_empty(), "path_with: this host has no {tool}");
        std::os::unix::fs::symlink(path, dir.join(tool)).unwrap();
    }
    dir
}

/// A token in GitHub's current format (`ghs_<APPID>_<JWT>`, ~560
/// characters), the same for the same `n`: the tests' env tokens and
/// hand-written cache entries look like production's.
pub fn token(n: u64) -> &'static str {
    Box::leak(molecule_credential_helper::testing::sample_token(n).into_boxed_str())
}

/// A 127.0.0.1 port that refuses every connection for as long as this
/// lives: a TCP socket bound to it but never listening. (Binding port 0
/// and dropping the listener frees the port for a parallel test to take.)
pub struct RefusedPort {
    _socket: std::os::fd::OwnedFd,
    pub port: u16,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        use nix::libc;
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket calls on a descriptor this function owns.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let socket = std::os::fd::OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&raw const addr).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let named = libc::getsockname(fd, (&raw mut addr).cast(), &mut len);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            RefusedPort {
                _socket: socket,
                port: u16::from_be(addr.sin_port),
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A shell as `docker exec`, cron or an IDE terminal gives (`env -i`):
/// HOME and PATH, none of the runtime's variables.
pub fn bare(env: &TestEnv, program: impl AsRef<std::ffi::OsStr>) -> TestCommand {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", &env.home)
        .env("PATH", &env.env["PATH"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .current_dir(env.dir.path());
    TestCommand::wrap(cmd)
}

/// `git credential fill` for github.com from such a [`bare`] shell.
pub fn bare_fill(env: &TestEnv) -> Output {
    bare(env, "git")
        .args(["credential", "fill"])
        .stdin("protocol=https\nhost=github.com\npath=o/r.git\n\n")
        .output()
}
