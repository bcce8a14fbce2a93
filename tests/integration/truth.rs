//! status tells the truth without a probe: from the cache, the helper's
//! failure record and the daemon's log (no request), it fails when git
//! gets no token and names the failure's class and fix, the same fix the
//! helper's failure line gives git's user; it warns while the cached token
//! is served through failures; it fails for a daemon that stopped
//! refreshing. install's `problems` carry the same, and `--strict` exits 1.
//!
//! Each row shows together: status's verdict and exit code, install's
//! problems, and the helper's failure line.

use molecule_credential_helper::status::{Level, StatusReport};
use molecule_credential_helper::testing::FakeMode;
use molecule_credential_helper::InstallReport;
use rstest::rstest;

use crate::support::connect_proxy::ConnectProxy;
use crate::support::tls_front::TlsFront;
use crate::support::{
    bare, bare_fill, password, stderr, stdout, token, RefusedPort, SupervisorGuard, TestEnv,
    TestEnvBuilder,
};

/// `install --strict --json`: exit code and report.
fn strict_install(env: &TestEnv) -> (i32, InstallReport) {
    let out = env
        .bin()
        .args(["install", "--strict", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

/// The text after `CLASS failure, fix: ` in `line`, up to `stop` if given.
fn fix_in<'a>(line: &'a str, class: &str, stop: Option<&str>) -> &'a str {
    let marker = format!("{class} failure, fix: ");
    let start = line
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {line}"))
        + marker.len();
    let rest = &line[start..];
    match stop.and_then(|s| rest.find(s)) {
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// A world whose git gets no token, for one reason each; no provision
/// token to fall back on; a daemon that waits an hour.
fn broken(row: &str) -> TestEnv {
    let builder: TestEnvBuilder = match row {
        "bearer" => TestEnv::builder().platform_mode(FakeMode::Http401),
        "not-found" => TestEnv::builder().platform_mode(FakeMode::Http404),
        "transient" => TestEnv::builder()
            .no_platform()
            .var("PLATFORM_URL", "http://127.0.0.1:9"),
        "settings" => TestEnv::builder()
            .no_platform()
            .var("PLATFORM_URL", "ftp://platform.example"),
        other => panic!("no row {other}"),
    };
    let mut env = builder
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "3")
        .build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    env
}

#[rstest]
#[case::wrong_bearer("bearer", ".auth_token")]
#[case::not_found("not-found", "no GitHub App configured")]
#[case::platform_down_nothing_cached("transient", "keep retrying")]
#[case::a_settings_problem("settings", "fix the setting named above")]
fn git_gets_no_token_and_status_install_and_git_name_the_same_fix(
    #[case] class: &str,
    #[case] fix_says: &str,
) {
    let env = broken(class);
    let _guard = SupervisorGuard::new(&env.home);
    // install --strict asks once, as git would: a problem, exit 1; status,
    // no probe, fails; git's own view: the helper's failure line. All name
    // the same fix.
    let (code, report) = strict_install(&env);
    assert_eq!(code, 1, "{report}");
    let said = Said::check(&report, env.status_json(), &env.direct_get(), class);
    assert!(said.fix.contains(fix_says), "{}", said.problem);
    if class == "settings" {
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.starts_with("settings: PLATFORM_URL")),
            "{report}"
        );
    }
    if class == "transient" {
        assert!(said.status.contains("retrying"), "{}", said.status);
    }
}

/// What install, status and git said of one failed fetch.
struct Said {
    /// install's `platform: ` problem.
    problem: String,
    /// status's `platform` check.
    status: String,
    /// The helper's failure line on git's stderr, and all of its stderr.
    git_line: String,
    git_stderr: String,
    /// The fix all three name.
    fix: String,
}

impl Said {
    /// Asserts that install's report has a platform problem (and no failed
    /// step), that status fails its platform check (exit 1), that git got
    /// no token, and that all three name `class` and the same fix.
    fn check(
        report: &InstallReport,
        (code, st): (i32, StatusReport),
        git: &std::process::Output,
        class: &str,
    ) -> Said {
        assert!(report.failed_steps().is_empty(), "{report}");
        let problem = report
            .problems
            .iter()
            .find(|p| p.starts_with("platform: "))
            .unwrap_or_else(|| panic!("no platform problem: {report}"))
            .clone();
        let fix = fix_in(&problem, class, None).to_string();
        assert_eq!(code, 1, "{st}");
        let platform = st.check("platform").expect("a platform check");
        assert_eq!(platform.level, Level::Fail, "{platform:?}");
        assert!(
            platform.detail.contains("git gets no platform token"),
            "{platform:?}"
        );
        assert_eq!(fix_in(&platform.detail, class, None), fix);
        assert!(!git.status.success());
        let git_stderr = stderr(git);
        let git_line = git_stderr
            .lines()
            .find(|l| l.contains("no GitHub token"))
            .unwrap_or_else(|| panic!("{git_stderr}"))
            .to_string();
        assert_eq!(
            fix_in(
                &git_line,
                class,
                Some("; `molecule-credential-helper status` says the same")
            ),
            fix
        );
        Said {
            problem,
            status: platform.detail.clone(),
            git_line,
            git_stderr,
            fix,
        }
    }
}

/// `status --json` from a shell with an empty environment (`docker exec`):
/// exit code and report.
fn bare_status(env: &TestEnv) -> (i32, StatusReport) {
    let out = bare(env, env!("CARGO_BIN_EXE_molecule-credential-helper"))
        .args(["status", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

/// A platform reached only through a proxy (an https platform with a
/// private CA whose host name only the proxy resolves), the proxy given to
/// install in the runtime's environment, down, or never given. Everything
/// after install runs in a shell with an empty environment, as
/// `docker exec` gives: the proxy must come from the saved settings.
/// - given: install --strict exits 0 with no problem; status passes its
///   platform check (exit 0); git gets the platform's token through the
///   proxy.
/// - down, never given, or given with a password the proxy refuses: git
///   gets no token; install --strict (exit 1), status (fail, exit 1) and
///   git's failure line name the same class and fix, which says where to
///   look: that proxy, HTTPS_PROXY, or its password (a refused password
///   is a settings failure: retrying cannot mend it). Nothing reaches the
///   platform around the proxy.
#[rstest]
#[case::proxy_given("given", "", "", "")]
#[case::proxy_down(
    "down",
    "transient",
    "connection refused (with HTTPS_PROXY=http://127.0.0.1:",
    "unreachable through the proxy in HTTPS_PROXY"
)]
#[case::proxy_never_given(
    "never given",
    "transient",
    "cannot resolve the platform host",
    "needs HTTPS_PROXY"
)]
#[case::proxy_refuses_the_password(
    "wrong password",
    "settings",
    "the proxy in HTTPS_PROXY refused its credentials (HTTP 407 to CONNECT)",
    "fix the setting named above"
)]
fn a_platform_reached_only_through_a_proxy(
    #[case] proxy: &str,
    #[case] class: &str,
    #[case] why_says: &str,
    #[case] fix_says: &str,
) {
    // No gh: the first daemon fetches nothing, so each fetch is the test's.
    let mut env = TestEnv::builder()
        .without_gh()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "3")
        .build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let front = TlsFront::start(env.platform().addr(), &env.dir.path().join("ca.pem"));
    let relay = ConnectProxy::requiring("agent:pr0xy-9f3e71");
    let down = RefusedPort::new();
    env.set("PLATFORM_URL", &front.proxy_only_url());
    env.set("PLATFORM_CA_FILE", &front.ca_pem.display().to_string());
    match proxy {
        "given" => env.set("HTTPS_PROXY", &relay.url(Some("agent:pr0xy-9f3e71"))),
        "wrong password" => env.set("HTTPS_PROXY", &relay.url(Some("agent:pr0xy-old"))),
        "down" => env.set("HTTPS_PROXY", &down.url()),
        _ => {}
    }
    let _guard = SupervisorGuard::new(&env.home);
    let (code, report) = strict_install(&env);
    assert!(report.failed_steps().is_empty(), "{report}");

    if proxy == "given" {
        assert_eq!(code, 0, "{report}");
        assert!(report.problems.is_empty(), "{report}");
        let (code, st) = bare_status(&env);
        assert_eq!(code, 0, "{st}");
        let platform = st.check("platform").expect("a platform check");
        assert_eq!(platform.level, Level::Ok, "{platform:?}");
        // git, the cache dropped: the platform's token, through the proxy.
        for file in [env.layout().cache_token, env.layout().cache_expiry] {
            std::fs::remove_file(file).unwrap();
        }
        let out = bare_fill(&env);
        assert!(out.status.success(), "{}", stderr(&out));
        let issued = env.issued_tokens();
        assert_eq!(password(&out).as_deref(), issued.last().map(String::as_str));
        // (gh's login, when a gh is on PATH, goes through it to GitHub too.)
        let to_platform = relay
            .connects()
            .iter()
            .filter(|c| c.contains(crate::support::connect_proxy::PROXY_ONLY_HOST))
            .count();
        assert_eq!(to_platform, 2, "{:?}", relay.heads());
        assert_eq!(front.connections(), 2);
        return;
    }

    assert_eq!(code, 1, "{report}");
    let said = Said::check(&report, bare_status(&env), &bare_fill(&env), class);
    assert!(said.fix.contains(fix_says), "{}", said.problem);
    for shown in [&said.problem, &said.status, &said.git_line] {
        assert!(shown.contains(why_says), "{shown}");
    }
    assert_eq!(front.connections(), 0, "went around the proxy");
    assert!(env.issued_tokens().is_empty());
    for shown in [&said.problem, &said.status, &said.git_stderr] {
        assert!(!shown.contains("pr0xy"), "a proxy password shown: {shown}");
    }
}

/// A valid token cached while the platform fails: git is served it, status
/// warns until when (exit 0), install has no problem.
#[test]
fn serving_the_cached_token_through_failures_is_a_warning_with_its_end() {
    let mut env = TestEnv::builder()
        .platform_mode(FakeMode::Http500)
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let _guard = SupervisorGuard::new(&env.home);
    let now = molecule_credential_helper::clock::now_epoch();
    // Stale now (so git asks the platform), accepted for 30 more minutes.
    let expires_at = now + 1800;
    env.write_cache(
        Some(&format!("{}\ng1\n", token(3))),
        Some(&format!("{}\n{expires_at}\ng1\ngithub.com\n", now - 10)),
    );
    let out = env.direct_get();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(token(3)));
    let (code, report) = strict_install(&env);
    assert_eq!(code, 0, "{report}");
    assert!(report.problems.is_empty(), "{report}");
    let (code, st) = env.status_json();
    assert_eq!(code, 0, "{st}");
    let platform = st.check("platform").unwrap();
    assert_eq!(platform.level, Level::Warn, "{platform:?}");
    let until = molecule_credential_helper::fetch_state::hh_mm_utc(expires_at - 60);
    assert!(
        platform
            .detail
            .contains(&format!("serving the cached token until {until}")),
        "{platform:?}"
    );
    assert!(platform.detail.contains("HTTP 500"), "{platform:?}");
}

/// status's serve-through rule is the helper's, with the helper's numbers:
/// a cached token past its expiry, or within TOKEN_MIN_REMAINING_SEC of it
/// as install saved that setting (a `docker exec` shell's status takes it
/// from the file, as git does), is not served: git gets none, status fails.
#[rstest]
#[case::expired(-10, None)]
#[case::within_the_saved_min_remaining(300, Some("600"))]
fn a_cached_token_git_would_not_serve_is_not_served_through(
    #[case] expires_in: i64,
    #[case] saved_min_remaining: Option<&str>,
) {
    let mut builder = TestEnv::builder()
        .platform_mode(FakeMode::Http500)
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600");
    if let Some(secs) = saved_min_remaining {
        builder = builder.var("TOKEN_MIN_REMAINING_SEC", secs);
    }
    let mut env = builder.build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let _guard = SupervisorGuard::new(&env.home);
    let (_, report) = strict_install(&env);
    assert!(report.failed_steps().is_empty(), "{report}");
    let now = molecule_credential_helper::clock::now_epoch();
    let expires_at = now.checked_add_signed(expires_in).unwrap();
    env.write_cache(
        Some(&format!("{}\ng1\n", token(3))),
        Some(&format!("{}\n{expires_at}\ng1\ngithub.com\n", now - 10)),
    );
    let out = bare_fill(&env);
    assert!(!out.status.success(), "git was served: {}", stdout(&out));
    let (code, st) = bare_status(&env);
    assert_eq!(code, 1, "{st}");
    let platform = st.check("platform").unwrap();
    assert_eq!(platform.level, Level::Fail, "{platform:?}");
}

/// A daemon that has run for longer than a token's life without a
/// refresh (after its first was due: initial delay and jitter, the saved
/// values) has stopped refreshing: status fails (exit 1) and install lists
/// it as a problem, though the process is alive and the lock held. Just
/// inside the allowance it does not; a daemon whose every refresh failed
/// is retrying, and says so instead of "restart it".
#[rstest]
#[case::started_and_never_refreshed_past_the_allowance(
    None,
    120,
    false,
    Some("has not refreshed since it started")
)]
#[case::started_and_never_refreshed_within_the_allowance(None, -120, false, None)]
#[case::last_refresh_past_a_token_life(Some(3700), 0, false, Some("has not refreshed since"))]
#[case::last_refresh_within_a_token_life(Some(3500), 0, false, None)]
#[case::every_refresh_failed(None, 120, true, Some("every refresh failed"))]
fn a_daemon_that_stopped_refreshing_fails_status_and_is_an_install_problem(
    #[case] last_ok_ago: Option<u64>,
    #[case] past_allowance: i64,
    #[case] failing: bool,
    #[case] fails_with: Option<&str>,
) {
    let env = TestEnv::builder()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .var("TOKEN_REFRESH_JITTER_SEC", "0")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    let (_, first) = strict_install(&env);
    assert!(first.failed_steps().is_empty(), "{first}");
    let supervisor = env.supervisor_pid();
    let (code, st) = env.status_json();
    assert_eq!(st.check("last-refresh").unwrap().level, Level::Warn, "{st}");
    assert_eq!(code, 0, "{st}");
    // Its log, as a daemon started long ago leaves it: the first refresh
    // was due 3,600 s after the start, and a token lives 3,600 s.
    let now = molecule_credential_helper::clock::now_epoch();
    let at = |ago: u64| molecule_credential_helper::clock::rfc3339_utc(now - ago);
    let started = match last_ok_ago {
        Some(ago) => ago + 600,
        None => (7200 + past_allowance) as u64,
    };
    let mut log = format!(
        "[molecule-gh-token-refresh] {} supervisor {supervisor} started\n[molecule-gh-token-refresh] {} daemon 1 started; first refresh in 3600s\n",
        at(started),
        at(started)
    );
    if let Some(ago) = last_ok_ago {
        log.push_str(&format!(
            "[molecule-gh-token-refresh] {} refresh ok; next in 1800s\n",
            at(ago)
        ));
    }
    if failing {
        log.push_str(&format!(
            "[molecule-gh-token-refresh] {} refresh failed: platform fetch failed: HTTP 500; retry in 300s\n",
            at(60)
        ));
    }
    std::fs::write(env.layout().log_file, log).unwrap();
    let (code, st) = env.status_json();
    let last = st.check("last-refresh").unwrap();
    let out = env
        .bin()
        .args(["install", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report: InstallReport = serde_json::from_slice(&out.stdout).unwrap();
    let problem = report
        .problems
        .iter()
        .find(|p| p.contains("has not refreshed"));
    match fails_with {
        Some(says) => {
            assert_eq!(code, 1, "{st}");
            assert_eq!(last.level, Level::Fail, "{last:?}");
            assert!(last.detail.contains(says), "{last:?}");
            let restart = last.detail.contains("restart it");
            assert_eq!(restart, !failing, "{last:?}");
            assert!(problem.is_some(), "{report}");
        }
        None => {
            assert_ne!(last.level, Level::Fail, "{last:?}");
            assert!(problem.is_none(), "{report}");
        }
    }
}

/// The failure record's lines are its own: a WORKSPACE_ID with newlines
/// (refused: a settings failure) cannot write the class or fix status
/// reads.
#[test]
fn a_workspace_id_with_newlines_cannot_write_the_record_s_class_or_fix() {
    let mut env = TestEnv::new();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    env.set("WORKSPACE_ID", "ws\ntransient\nnothing to fix, all good");
    let out = env.direct_get();
    assert!(!out.status.success());
    let record =
        std::fs::read_to_string(env.layout().cache_dir.join(".last_fetch_failure")).unwrap();
    let lines: Vec<&str> = record.lines().collect();
    assert_eq!(lines.len(), 6, "{record:?}");
    assert_eq!(lines[4], "settings", "{record:?}");
    assert!(
        lines[5].starts_with("fix the setting named above"),
        "{record:?}"
    );
}

/// git's failure line and the bearer fix show CONFIGS_DIR without its
/// escape sequences (ESC, a C1 CSI, a right-to-left override): whoever
/// reads git's stderr on a terminal sees text, not colours or reordering.
#[test]
fn the_failure_line_shows_configs_dir_without_escapes() {
    let mut env = TestEnv::builder().platform_mode(FakeMode::Http401).build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let odd = env.dir.path().join("c\u{1b}[31mRED\u{9b}31m\u{202e}X");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(env.configs.join(".auth_token"), odd.join(".auth_token")).unwrap();
    env.set("CONFIGS_DIR", &odd.display().to_string());
    let out = env.direct_get();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bearer failure"), "{err}");
    for escape in ['\u{1b}', '\u{9b}', '\u{202e}'] {
        assert!(!err.contains(escape), "{escape:?} in {err:?}");
    }
    assert!(err.contains("[31mRED?31m?X/.auth_token"), "{err:?}");
}

/// A failure is not passed on once the bearer changed: the right bearer
/// written just after a 401 is tried by the next git call at once, not
/// answered with the refused one's failure.
#[test]
fn a_new_bearer_after_a_refusal_is_tried_at_once() {
    let mut env = TestEnv::builder()
        .var("TOKEN_FETCH_TIMEOUT_SEC", "10")
        .build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let bearer = env.configs.join(".auth_token");
    std::fs::write(&bearer, "a-stale-bearer\n").unwrap();
    let refused = env.direct_get();
    assert!(
        stderr(&refused).contains("bearer failure"),
        "{}",
        stderr(&refused)
    );
    // The record a moment older than the new bearer.
    let record = env.layout().cache_dir.join(".last_fetch_failure");
    let touched = std::process::Command::new("touch")
        .args(["-d", "-2 seconds"])
        .arg(&record)
        .status()
        .unwrap();
    assert!(touched.success());
    std::fs::write(&bearer, format!("{}\n", env.secret)).unwrap();
    let out = env.direct_get();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        password(&out).as_deref(),
        env.issued_tokens().last().map(String::as_str)
    );
}
