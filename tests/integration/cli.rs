//! Every command run as a process.

use crate::support::token;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use molecule_credential_helper::status::{Level, StatusReport};
use molecule_credential_helper::{InstallReport, Outcome, Step};
use rstest::rstest;

use crate::support::procs::{daemons, supervisors};
use crate::support::{stderr, stdout, wait_for, SupervisorGuard, TestEnv};

fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[rstest]
#[case(&["--help"])]
#[case(&["install", "--help"])]
#[case(&["status", "--help"])]
#[case(&["contract", "--help"])]
#[case(&["fake-platform", "--help"])]
#[case(&["uninstall", "--help"])]
fn help_works_everywhere(#[case] args: &[&str]) {
    let env = TestEnv::builder().no_platform().build();
    let out = env.bin().args(args).ok();
    assert!(stdout(&out).contains("Usage:"), "{}", stdout(&out));
}

/// Bad arguments get clap's whole error: the message, the usage line, and
/// clap's tip where it has one; exit 2; no panic.
#[rstest]
#[case::unknown_flag(&["install", "--frobnicate"], "unexpected argument '--frobnicate'", None)]
#[case::unknown_command(&["explode"], "unrecognized subcommand 'explode'", None)]
#[case::typo(&["instal"], "unrecognized subcommand 'instal'", Some("tip: some similar subcommands exist"))]
#[case::missing_arguments(&["fake-platform"], "--port <PORT>", None)]
#[case::bad_mode(&["fake-platform", "--port", "0", "--secret", "s", "--mode", "teapot"], "[possible values: ok, 500", None)]
#[case::mode_typo(&["fake-platform", "--port", "0", "--secret", "s", "--mode", "50"], "invalid value '50'", Some("tip: a similar value exists: '503'"))]
#[case::bad_port(&["fake-platform", "--port", "99999", "--secret", "s"], "99999", None)]
fn bad_arguments_get_claps_whole_error_and_exit_2(
    #[case] args: &[&str],
    #[case] message: &str,
    #[case] tip: Option<&str>,
) {
    let env = TestEnv::builder().no_platform().build();
    let out = env.bin().args(args).output();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(message),
        "{message:?} not in {err}"
    );
    // The usage line where clap gives one; always its pointer to --help.
    assert!(err.contains("For more information, try '--help'"), "{err}");
    if !message.contains("value") && !message.contains("99999") {
        assert!(err.contains("Usage: molecule-credential-helper"), "{err}");
    }
    if let Some(tip) = tip {
        assert!(err.contains(tip), "{tip:?} not in {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains('\u{1b}'),
        "{err}"
    );
}

/// No arguments at all: the help (commands, environment) on stderr, exit 2.
#[test]
fn no_arguments_shows_the_help_and_exits_2() {
    let env = TestEnv::builder().no_platform().build();
    let out = env.bin().output();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("Commands:") && err.contains("install") && err.contains("PLATFORM_URL"),
        "{err}"
    );
}

/// A closed stdout is exit 141 (what a shell shows for SIGPIPE), a full one
/// is one line and exit 1: never a panic (101) after the work is done.
#[test]
fn a_closed_or_full_stdout_never_panics() {
    let (env, _guard) = installed();
    // `status | true`: the reader is gone before we write.
    let mut cmd = env.bin();
    cmd.args(["status", "--home"]).arg(&env.home);
    cmd.cmd.stdout(Stdio::piped());
    let mut child = cmd.cmd.spawn().unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "{status:?}");
    // `install >/dev/full`
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = env.bin();
    cmd.args(["install", "--home"]).arg(&env.home);
    cmd.cmd.stdout(full).stderr(Stdio::piped());
    let out = cmd.cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"));
}

#[rstest]
#[case::missing_home(&["install", "--home", "/nonexistent/dir"], "/nonexistent/dir")]
#[case::status_missing_home(&["status", "--home", "/nonexistent/dir"], "/nonexistent/dir")]
#[case::uninstall_missing_home(&["uninstall", "--home", "/nonexistent/dir"], "/nonexistent/dir")]
fn bad_input_is_one_line_and_exit_2(#[case] args: &[&str], #[case] needle: &str) {
    let env = TestEnv::builder().no_platform().build();
    let out = env.bin().args(args).output();
    assert_one_line_error(&out, needle);
}

#[test]
fn home_that_is_a_file_is_rejected() {
    let env = TestEnv::builder().no_platform().build();
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = env.bin().arg("install").arg("--home").arg(&file).output();
    assert_one_line_error(&out, "not a directory");
}

#[test]
fn fake_platform_port_in_use_is_exit_2() {
    let env = TestEnv::builder().no_platform().build();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = env
        .bin()
        .args(["fake-platform", "--port", &port, "--secret", "s"])
        .output();
    assert_one_line_error(&out, &port);
}

#[test]
fn fake_platform_prints_its_url_first_and_stops_by_itself() {
    let env = TestEnv::builder().no_platform().build();
    let mut c = env.bin();
    c.args([
        "fake-platform",
        "--port",
        "0",
        "--secret",
        "sec",
        "--ttl",
        "120",
        "--max-seconds",
        "3",
    ]);
    c.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-H",
            "Authorization: Bearer sec",
            &format!("{url}/admin/github-installation-token"),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"token\":\"ghs_"));
    let started = Instant::now();
    let done = wait_for(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !done {
        let _ = child.kill();
    }
    let _ = child.wait();
    assert!(
        done && started.elapsed() < Duration::from_secs(10),
        "--max-seconds did not stop it"
    );
}

#[test]
fn install_prints_a_table_and_json_that_round_trips() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let out = env.bin().arg("install").arg("--home").arg(&env.home).ok();
    let text = stdout(&out);
    for step in Step::ALL {
        assert!(text.contains(step.name()), "{text}");
    }
    let out = env
        .bin()
        .args(["install", "--json", "--home"])
        .arg(&env.home)
        .ok();
    let report: InstallReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.steps.len(), 5);
    assert!(matches!(
        report.outcome(Step::Scripts),
        Some(Outcome::Unchanged(_))
    ));
}

#[test]
fn strict_install_exits_1_on_a_failed_step_and_plain_install_0() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    std::fs::write(
        env.home.join(".molecule-token-cache"),
        "a file where a dir belongs",
    )
    .unwrap();
    let out = env
        .bin()
        .arg("install")
        .arg("--home")
        .arg(&env.home)
        .output();
    assert_eq!(out.status.code(), Some(0));
    let out = env
        .bin()
        .args(["install", "--strict", "--home"])
        .arg(&env.home)
        .output();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

fn level(report: &StatusReport, name: &str) -> Level {
    report
        .check(name)
        .unwrap_or_else(|| panic!("no check {name}: {report:?}"))
        .level
}

fn installed() -> (TestEnv, SupervisorGuard) {
    let env = TestEnv::new();
    let guard = SupervisorGuard::new(&env.home);
    env.bin().arg("install").arg("--home").arg(&env.home).ok();
    assert!(wait_for(Duration::from_secs(5), || daemons(&env.home)
        .len()
        == 1));
    (env, guard)
}

#[test]
fn status_is_healthy_after_install_and_text_has_one_line_per_check() {
    let (env, _guard) = installed();
    let (code, report) = env.status_json();
    assert_eq!(code, 0, "{report:?}");
    for name in ["scripts", "git-config", "token-cache", "daemon"] {
        assert_eq!(level(&report, name), Level::Ok, "{report:?}");
    }
    let out = env.bin().arg("status").arg("--home").arg(&env.home).ok();
    let text = stdout(&out);
    // One line per check, one per setting (under the settings check), and
    // the verdict.
    assert_eq!(
        text.lines().count(),
        report.checks.len() + report.settings.len() + 1,
        "{text}"
    );
    assert!(text.ends_with("healthy\n"));
}

#[test]
fn status_fails_when_a_script_differs() {
    let (env, _guard) = installed();
    std::fs::write(env.layout().helper_script, "#!/bin/sh\necho tampered\n").unwrap();
    let (code, report) = env.status_json();
    assert_eq!((code, level(&report, "scripts")), (1, Level::Fail));
}

#[test]
fn status_fails_when_git_values_are_wrong() {
    let (env, _guard) = installed();
    env.git()
        .args([
            "config",
            "--global",
            "--unset-all",
            "credential.https://github.com.helper",
        ])
        .ok();
    let (code, report) = env.status_json();
    assert_eq!((code, level(&report, "git-config")), (1, Level::Fail));
}

#[test]
fn status_fails_when_another_helper_answers_github_first() {
    let (env, _guard) = installed();
    let helper = env.layout().helper_script;
    // Our key's values are right, but a generic helper sits between them.
    std::fs::write(
        env.home.join(".gitconfig"),
        format!(
            "[credential \"https://github.com\"]\n\thelper =\n[credential]\n\thelper = store\n[credential \"https://github.com\"]\n\thelper = !{}\n\tuseHttpPath = true\n",
            helper.display()
        ),
    )
    .unwrap();
    let (code, report) = env.status_json();
    assert_eq!(code, 1);
    let check = report.check("git-config").unwrap();
    assert_eq!(check.level, Level::Fail);
    assert!(check.detail.contains("store"), "{}", check.detail);
}

#[test]
fn status_fails_on_a_wide_cache_dir() {
    let (env, _guard) = installed();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        env.layout().cache_dir,
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let (code, report) = env.status_json();
    assert_eq!((code, level(&report, "token-cache")), (1, Level::Fail));
}

/// A count of one is singular: a token cached for 100 s is "fresh for 1
/// more minute", never "1 more minutes".
#[test]
fn status_counts_one_minute_in_the_singular() {
    let env = TestEnv::builder().var("TOKEN_CACHE_TTL_SEC", "100").build();
    let _guard = SupervisorGuard::new(&env.home);
    env.bin().arg("install").arg("--home").arg(&env.home).ok();
    assert!(env.fill().status.success());
    let (_, report) = env.status_json();
    let detail = &report.check("cached-token").unwrap().detail;
    assert!(detail.starts_with("fresh for 1 more minute;"), "{detail}");
}

#[test]
fn status_reports_cached_token_expiry_without_the_token() {
    let (env, _guard) = installed();
    // The first daemon logs gh in with a fetched token; start from none.
    env.wait_for_gh_primed();
    let layout = env.layout();
    std::fs::remove_file(layout.cache_token).unwrap();
    std::fs::remove_file(layout.cache_expiry).unwrap();
    let (_, report) = env.status_json();
    assert_eq!(level(&report, "cached-token"), Level::Warn, "no token yet");
    assert!(env.fill().status.success());
    let out = env
        .bin()
        .args(["status", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report: StatusReport = serde_json::from_slice(&out.stdout).unwrap();
    let check = report.check("cached-token").unwrap();
    assert_eq!(check.level, Level::Ok);
    assert!(check.detail.contains(" minute"), "{}", check.detail);
    let token = env.platform().issued()[0].token.clone();
    assert!(!stdout(&out).contains(&token));
}

#[test]
fn status_fails_when_the_supervisor_is_gone_or_the_pid_reused() {
    let (env, _guard) = installed();
    for pid in supervisors(&env.home) {
        nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    assert!(wait_for(Duration::from_secs(5), || supervisors(&env.home).is_empty()));
    let (code, report) = env.status_json();
    assert_eq!((code, level(&report, "daemon")), (1, Level::Fail));
    // A live process that is not ours, named by the PID file.
    std::fs::write(env.layout().pid_file, format!("{}\n", std::process::id())).unwrap();
    let (code, report) = env.status_json();
    assert_eq!((code, level(&report, "daemon")), (1, Level::Fail));
    assert!(report.check("daemon").unwrap().detail.contains("reused"));
}

#[test]
fn status_warns_on_a_recent_refresh_error() {
    let (env, _guard) = installed();
    std::fs::write(
        env.layout().log_file,
        "[molecule-gh-token-refresh] 2026-11-26T10:00:00Z refresh ok; next in 2700s\n\
         [molecule-gh-token-refresh] 2026-11-26T11:00:00Z refresh failed (exit 1); retry in 30s\n",
    )
    .unwrap();
    let (_, report) = env.status_json();
    let check = report.check("last-refresh").unwrap();
    assert_eq!(check.level, Level::Warn);
    assert!(
        check.detail.contains("2026-11-26T10:00:00Z") && check.detail.contains("retry in 30s"),
        "{}",
        check.detail
    );
}

#[test]
fn status_warns_on_env_tokens_and_missing_gh() {
    let (mut env, _guard) = installed();
    env.set("GH_TOKEN", token(15));
    let (_, report) = env.status_json();
    assert_eq!(level(&report, "env-token"), Level::Warn);
    std::fs::remove_file(env.bin.join("gh")).unwrap();
    let mut c = env.bin();
    c.args(["status", "--json", "--home"])
        .arg(&env.home)
        .env("PATH", "/usr/bin/nonexistent:/bin/nonexistent");
    let out = c.output();
    let report: StatusReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(level(&report, "gh"), Level::Warn);
}

#[test]
fn status_probe_reports_latency_not_the_token() {
    let (env, _guard) = installed();
    let out = env
        .bin()
        .args(["status", "--probe", "--home"])
        .arg(&env.home)
        .output();
    let text = stdout(&out);
    assert!(text.contains("probe") && text.contains(" ms)"), "{text}");
    assert!(text.contains("platform fetch ok"), "{text}");
    for t in env.platform().issued() {
        assert!(!text.contains(&t.token));
    }
}

#[test]
fn uninstall_stops_everything_removes_our_files_and_is_idempotent() {
    let (env, _guard) = installed();
    env.add_git_helper("cache");
    let out = env.bin().arg("uninstall").arg("--home").arg(&env.home).ok();
    assert!(
        stdout(&out).contains("stopped supervisor"),
        "{}",
        stdout(&out)
    );
    assert!(supervisors(&env.home).is_empty() && daemons(&env.home).is_empty());
    assert!(!env.layout().runtime_dir.exists() && !env.layout().cache_dir.exists());
    assert_eq!(
        env.git_helpers().join(
            "
"
        ) + "
",
        "cache\n",
        "other helpers are kept"
    );
    let again = env.bin().arg("uninstall").arg("--home").arg(&env.home).ok();
    assert!(
        stdout(&again).ends_with("nothing to uninstall\n"),
        "{}",
        stdout(&again)
    );
    // The .gitconfig holds the other helper: kept, and the report says why.
    assert!(stdout(&again).contains("kept") && stdout(&again).contains("1 other value"));
}

/// `uninstall --json` says what it stopped (strays included), removed and
/// kept; a .gitconfig left empty by removing our values goes too.
#[test]
fn uninstall_json_reports_strays_and_removes_an_emptied_gitconfig() {
    let (env, _guard) = installed();
    // A stray: the supervisor killed with -9 leaves its daemon behind.
    let supervisor = supervisors(&env.home)[0];
    assert!(wait_for(Duration::from_secs(5), || daemons(&env.home)
        .len()
        == 1));
    let stray = daemons(&env.home)[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = env
        .bin()
        .args(["uninstall", "--json", "--home"])
        .arg(&env.home)
        .ok();
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let stopped: Vec<i64> = json["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_i64())
        .collect();
    assert!(stopped.contains(&i64::from(stray)), "{json}");
    let removed = json["removed"].to_string();
    assert!(
        removed.contains(".gitconfig") && removed.contains(".molecule-runtime"),
        "{json}"
    );
    assert!(!env.home.join(".gitconfig").exists());
    assert!(daemons(&env.home).is_empty());
}

#[test]
fn contract_passes_and_prints_tap_like_lines() {
    let env = TestEnv::builder().no_platform().build();
    // Its own TMPDIR, to prove the suite leaves nothing behind.
    let tmp = env.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = env.bin().arg("contract").env("TMPDIR", &tmp).output();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    // TAP: the plan first, then that many `ok` lines.
    let plan: usize = text
        .lines()
        .next()
        .unwrap()
        .strip_prefix("1..")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        plan,
        "{text}"
    );
    assert!(text.trim_end().ends_with("passed, 0 failed"), "{text}");
    // It says which checks used the gh shim (an image's CI has no
    // namespace for the real gh; the e2e tests run that).
    let shimmed: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with("[gh: recording shim]"))
        .collect();
    assert_eq!(shimmed.len(), 2, "{text}");
    let json = env
        .bin()
        .args(["contract", "--json"])
        .env("TMPDIR", &tmp)
        .ok();
    let report: molecule_credential_helper::contract::ContractReport =
        serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((report.failed, report.skipped), (0, 0));
    assert_eq!(report.passed, report.checks.len());
    assert!(report.checks.iter().all(|c| c.ok && c.reason.is_none()));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the contract left files in TMPDIR"
    );
    let left = crate::support::procs::processes_matching(&tmp.to_string_lossy());
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn status_probe_fails_when_the_platform_is_down() {
    let (mut env, _guard) = installed();
    let refused = crate::support::RefusedPort::new();
    env.set("PLATFORM_URL", &refused.url());
    let (code, report) = {
        let out = env
            .bin()
            .args(["status", "--json", "--probe", "--home"])
            .arg(&env.home)
            .output();
        let r: StatusReport = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), r)
    };
    assert_eq!(code, 1);
    let probe = report.check("probe").unwrap();
    assert_eq!(probe.level, Level::Fail);
    assert!(
        probe.detail.contains("connection refused"),
        "{}",
        probe.detail
    );
}

/// Runs `contract` (with `vars`) in a TMPDIR of the test's own, and checks
/// that, pass or fail, it left nothing there: no file, no process.
fn contract_in_own_tmpdir(env: &TestEnv, vars: &[(&str, &OsStr)]) -> Output {
    let tmp = env.dir.path().join("contract-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut c = env.bin();
    c.arg("contract").env("TMPDIR", &tmp);
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.output();
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "the contract left {left:?}\n{}",
        stdout(&out)
    );
    let running = crate::support::procs::processes_matching(&tmp.to_string_lossy());
    assert!(running.is_empty(), "the contract left {running:?}");
    out
}

/// A PATH of symlinks to what `contract` runs, all but `missing`.
fn contract_tools_without(env: &TestEnv, missing: &str) -> std::path::PathBuf {
    const TOOLS: [&str; 15] = [
        "git", "bash", "curl", "flock", "gh", "sh", "env", "timeout", "mv", "mkdir", "rm", "wc",
        "stat", "sleep", "dirname",
    ];
    let tools: Vec<&str> = TOOLS.into_iter().filter(|t| *t != missing).collect();
    crate::support::path_with(env, &format!("no-{missing}"), &tools)
}

/// A missing tool fails its own check once, naming its Debian package, and
/// every check that needs it is a `# SKIP` naming it: never a second,
/// misleading failure (a fill "returning a token the platform never issued",
/// "8 platform requests").
#[rstest::rstest]
#[case::curl(
    "curl",
    "curl",
    &[
        "install reports no failed step",
        "git credential fill returns",
        "files have their documented modes",
        "the daemon refreshes",
        "gh logged in with",
        "erase after a 401",
        "8 concurrent fills",
    ]
)]
#[case::flock(
    "flock",
    "util-linux",
    &[
        "install reports no failed step",
        "files have their documented modes",
        "a second install changes nothing",
        "exactly one daemon",
        "the daemon refreshes",
        "gh logged in with",
        "8 concurrent fills",
    ]
)]
fn a_missing_tool_fails_its_own_check_once_and_skips_what_needs_it(
    #[case] tool: &str,
    #[case] package: &str,
    #[case] skipped: &[&str],
) {
    let env = TestEnv::builder().no_platform().build();
    let only = contract_tools_without(&env, tool);
    let out = contract_in_own_tmpdir(&env, &[("PATH", only.as_os_str())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let plan: usize = lines[0].strip_prefix("1..").unwrap().parse().unwrap();
    let tap: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    assert_eq!(tap.len(), plan, "{text}");
    let failures: Vec<&&&str> = tap.iter().filter(|l| l.starts_with("not ok")).collect();
    assert_eq!(failures.len(), 1, "{text}");
    assert!(
        failures[0].contains(&format!("{tool} is on PATH"))
            && failures[0].contains(&format!("apt-get install {package}")),
        "{text}"
    );
    for name in skipped {
        let line = tap.iter().find(|l| l.contains(name)).unwrap();
        assert!(
            line.starts_with("ok ") && line.contains(&format!("# SKIP needs {tool}")),
            "{line}"
        );
    }
    assert!(
        text.trim_end().ends_with(&format!(
            "{} passed, 1 failed, {} skipped",
            plan - 1 - skipped.len(),
            skipped.len()
        )),
        "{text}"
    );
}

#[test]
fn contract_without_gh_skips_that_check_visibly_and_still_passes() {
    let env = TestEnv::builder().no_platform().build();
    let only = contract_tools_without(&env, "gh");
    let out = contract_in_own_tmpdir(&env, &[("PATH", only.as_os_str())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("ok 5 - gh is on PATH") && text.contains("# SKIP gh not installed"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("passed, 0 failed, 1 skipped"),
        "{text}"
    );
}

/// With gh present, the contract prints the version it found.
#[test]
fn contract_prints_the_images_gh_version() {
    let env = TestEnv::builder().no_platform().build();
    let out = env.bin().arg("contract").output();
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("gh is on PATH")).unwrap();
    assert!(line.contains("gh version "), "{text}");
}

/// curl is the one HTTP client: an image whose curl is broken fails the
/// fill check (and every check that fetches), while curl's presence check
/// passes: the failures name what broke.
#[test]
fn contract_catches_a_broken_curl() {
    let env = TestEnv::builder().no_platform().build();
    let only = contract_tools_without(&env, "curl");
    crate::support::write_executable(&only.join("curl"), "#!/bin/sh\nexit 7\n");
    let out = contract_in_own_tmpdir(&env, &[("PATH", only.as_os_str())]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("\nok 3 - curl is on PATH"), "{text}");
    assert!(
        text.contains("\nnot ok 10 - git credential fill returns a platform-issued token"),
        "{text}"
    );
}

/// An image whose environment adds `credential.helper store` (read after
/// the global file) would hand our token to it after every push: the
/// contract says so. A system-config helper is reset by our empty value.
#[test]
fn contract_catches_a_storing_helper_in_the_images_git_environment() {
    let env = TestEnv::builder().no_platform().build();
    let system = env.dir.path().join("system-gitconfig");
    std::fs::write(&system, "[credential]\n\thelper = cache\n").unwrap();
    let out = contract_in_own_tmpdir(
        &env,
        &[
            ("GIT_CONFIG_SYSTEM", system.as_os_str()),
            ("GIT_CONFIG_COUNT", OsStr::new("1")),
            ("GIT_CONFIG_KEY_0", OsStr::new("credential.helper")),
            ("GIT_CONFIG_VALUE_0", OsStr::new("store")),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("no other credential helper"))
        .unwrap_or_default();
    assert!(
        line.starts_with("not ok") && line.contains("\"store\""),
        "{text}"
    );
    assert!(text.trim_end().ends_with("18 passed, 1 failed"), "{text}");
}

/// An image whose git config sends a credential to github.com that git
/// never asks our helper about, and that dies with its token:
/// actions/checkout's Authorization extraheader, an unscoped one, a url
/// rewrite with a password. The contract names the key, never the secret.
#[rstest::rstest]
#[case::scoped(
    "http.https://github.com/.extraheader",
    "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3g=",
    "http.https://github.com/.extraheader",
    "no Authorization extraheader"
)]
#[case::scoped_with_userinfo(
    "http.https://x:ghs_urlpw0secret@github.com/.extraheader",
    "Authorization: bearer ghs_header0secret",
    "http.https://***@github.com/.extraheader",
    "no Authorization extraheader"
)]
#[case::unscoped(
    "http.extraHeader",
    "Authorization: bearer ghs_unscoped0secret",
    "http.extraheader",
    "no Authorization extraheader"
)]
#[case::rewrite(
    "url.https://x-access-token:ghs_rewrite0secret@github.com/.insteadOf",
    "https://github.com/",
    "https://***@github.com/",
    "no other credential helper gets our token"
)]
fn contract_catches_a_credential_in_git_config_for_the_served_host(
    #[case] key: &str,
    #[case] value: &str,
    #[case] named: &str,
    #[case] check: &str,
) {
    let env = TestEnv::builder().no_platform().build();
    let out = contract_in_own_tmpdir(
        &env,
        &[
            ("GIT_CONFIG_COUNT", OsStr::new("1")),
            ("GIT_CONFIG_KEY_0", OsStr::new(key)),
            ("GIT_CONFIG_VALUE_0", OsStr::new(value)),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text.lines().find(|l| l.contains(check)).unwrap_or_default();
    assert!(line.starts_with("not ok") && line.contains(named), "{text}");
    for secret in [
        "eC1hY2Nlc3MtdG9rZW46Z2hzX3g=",
        "ghs_unscoped0secret",
        "ghs_rewrite0secret",
        "ghs_urlpw0secret",
        "ghs_header0secret",
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    let failed = if key.starts_with("url.") { 2 } else { 1 };
    assert!(
        text.trim_end()
            .ends_with(&format!("{} passed, {failed} failed", 19 - failed)),
        "{text}"
    );
}
