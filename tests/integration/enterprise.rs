//! GitHub Enterprise: `GITHUB_SERVER_URL` names the one host served. The
//! helper answers only for it, git is wired under its key (and moved when it
//! changes), gh logs in to it, and status checks it. The end-to-end proof
//! with the real git and gh against GHES and GHE.com stand-ins is in
//! `e2e_enterprise`.

use std::time::Duration;

use molecule_credential_helper::report::{Outcome, Step};
use molecule_credential_helper::status::Level;

use crate::support::procs::SupervisorGuard;
use crate::support::{password, stderr, stdout, wait_for, TestEnv};

const GHES: &str = "https://ghe.example.test";

fn get(env: &TestEnv, host: &str) -> std::process::Output {
    env.helper("get")
        .stdin(format!("protocol=https\nhost={host}\npath=o/r.git\n\n"))
        .output()
}

fn global(env: &TestEnv, key: &str) -> Vec<String> {
    let out = env
        .git()
        .args(["config", "--global", "--get-all", key])
        .output();
    stdout(&out).lines().map(str::to_string).collect()
}

/// Which hosts the helper answers, cold (a platform fetch) and hot (from the
/// cache): only the served one, its `:443` form and case variants; never
/// github.com while the served host is another, never another port.
#[rstest::rstest]
#[case::served(GHES, "ghe.example.test", true)]
#[case::served_443(GHES, "ghe.example.test:443", true)]
#[case::served_case(GHES, "GHE.Example.TEST", true)]
#[case::github_com_when_ghes(GHES, "github.com", false)]
#[case::another_port(GHES, "ghe.example.test:8443", false)]
#[case::a_longer_host(GHES, "ghe.example.test.evil", false)]
#[case::case_variant_of_another_host(GHES, "GHE.Example.ORG", false)]
#[case::own_port("https://ghe.example.test:8443", "ghe.example.test:8443", true)]
#[case::own_port_not_443("https://ghe.example.test:8443", "ghe.example.test", false)]
#[case::own_port_with_a_leading_zero(
    "https://ghe.example.test:08443",
    "ghe.example.test:8443",
    true
)]
#[case::asked_with_a_leading_zero("https://ghe.example.test:8443", "ghe.example.test:08443", true)]
#[case::leading_zero_443(GHES, "ghe.example.test:0443", true)]
#[case::server_0443("https://ghe.example.test:0443", "ghe.example.test", true)]
#[case::leading_zero_another_port(GHES, "ghe.example.test:08443", false)]
#[case::ghe_com("https://octo.ghe.com", "octo.ghe.com", true)]
#[case::ghe_com_api_host("https://octo.ghe.com", "api.octo.ghe.com", false)]
#[case::default_github_com("", "github.com", true)]
#[case::default_not_ghes("", "ghe.example.test", false)]
fn only_the_served_host_is_answered(
    #[case] server: &str,
    #[case] host: &str,
    #[case] answers: bool,
) {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    if !server.is_empty() {
        env.set("GITHUB_SERVER_URL", server);
    }
    assert!(env.installer().install().failed_steps().is_empty());
    // Cold: nothing cached yet.
    let cold = get(&env, host);
    assert_eq!(
        password(&cold).is_some(),
        answers,
        "cold {host}: {}",
        stderr(&cold)
    );
    // Hot: the served host's token is cached now.
    let served = GitHubServerHost::of(server);
    assert!(password(&get(&env, &served)).is_some());
    let before = env.platform().requests();
    let hot = get(&env, host);
    assert_eq!(password(&hot).is_some(), answers, "hot {host}");
    assert_eq!(env.platform().requests(), before, "a hit asks nothing");
}

/// The host git sends for a server URL (test-side, from the case table).
struct GitHubServerHost;

impl GitHubServerHost {
    fn of(server: &str) -> String {
        molecule_credential_helper::config::GitHubServer::parse(if server.is_empty() {
            "https://github.com"
        } else {
            server
        })
        .unwrap()
        .host
    }
}

/// Install wires `credential.<GITHUB_SERVER_URL>.helper` ("" then ours)
/// and `useHttpPath`; status checks that key; a bare shell (no
/// GITHUB_SERVER_URL) gets the saved host; re-install with another URL
/// moves our values and keeps other people's.
#[test]
fn git_is_wired_for_the_served_host_and_the_wiring_moves_with_it() {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    env.set("GITHUB_SERVER_URL", GHES);
    let report = env.installer().install();
    assert!(report.failed_steps().is_empty(), "{report}");
    let helper = format!("!{}", env.layout().helper_script.display());
    assert_eq!(
        global(&env, "credential.https://ghe.example.test.helper"),
        ["".to_string(), helper.clone()]
    );
    assert_eq!(
        global(&env, "credential.https://ghe.example.test.usehttppath"),
        ["true"]
    );
    assert!(global(&env, "credential.https://github.com.helper").is_empty());
    let (code, status) = env.status_json();
    assert_eq!(code, 0, "{status:?}");
    let git_config = status.check("git-config").unwrap();
    assert!(
        git_config.detail.contains("ghe.example.test"),
        "{git_config:?}"
    );

    // A shell that never saw GITHUB_SERVER_URL: git asks for the saved host.
    let mut bare = env.git();
    bare.env_remove("GITHUB_SERVER_URL")
        .env_remove("PLATFORM_URL")
        .env_remove("CONFIGS_DIR")
        .args(["credential", "fill"])
        .stdin("protocol=https\nhost=ghe.example.test\npath=o/r.git\n\n");
    let out = bare.output();
    assert_eq!(
        password(&out).as_deref(),
        env.issued_tokens().last().map(String::as_str),
        "{}",
        stderr(&out)
    );

    // Someone adds their own helper under the GHES key; then the URL moves
    // back to github.com: ours leave the old key, theirs stay.
    env.git()
        .args([
            "config",
            "--global",
            "--add",
            "credential.https://ghe.example.test.helper",
            "theirs",
        ])
        .ok();
    env.set("GITHUB_SERVER_URL", "https://github.com");
    let report = env.installer().install();
    match report.outcome(Step::GitConfig) {
        Some(Outcome::Changed(d)) => {
            assert!(d.contains("moved from https://ghe.example.test"), "{d}")
        }
        other => panic!("{other:?}\n{report}"),
    }
    assert_eq!(
        global(&env, "credential.https://ghe.example.test.helper"),
        ["", "theirs"]
    );
    assert_eq!(
        global(&env, "credential.https://github.com.helper"),
        ["".to_string(), helper]
    );
    // The GHES token cached before is not github.com's.
    assert!(!env.layout().cache_token.exists());
}

/// gh logs in to the served host (`--hostname`), from install's detached
/// login and from the daemon's refresh.
#[test]
fn gh_logs_in_to_the_served_host() {
    let mut env = TestEnv::builder()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    env.set("GITHUB_SERVER_URL", "https://octo.ghe.com");
    assert!(env.installer().install().failed_steps().is_empty());
    assert!(
        wait_for(Duration::from_secs(20), || env
            .gh_shim_log()
            .contains("argv=auth login --hostname octo.ghe.com --with-token")),
        "{}",
        env.gh_shim_log()
    );
    assert!(!env.gh_shim_log().contains("--hostname github.com"));
}

/// A `GITHUB_SERVER_URL` that is not `https://host[:port]` wires nothing,
/// serves nothing, and status fails on it.
#[rstest::rstest]
#[case::http("http://ghe.example.test")]
#[case::path("https://ghe.example.test/api")]
#[case::user("https://me@ghe.example.test")]
#[case::bad_host("https://ghe_example.test")]
#[case::empty_label("https://a..b")]
#[case::dash_label("https://-.example")]
#[case::port_zero("https://ghe.example.test:0")]
#[case::port_too_big("https://ghe.example.test:99999")]
fn a_server_url_out_of_shape_wires_and_serves_nothing(#[case] url: &str) {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    env.set("GITHUB_SERVER_URL", url);
    let report = env.installer().install();
    match report.outcome(Step::GitConfig) {
        Some(Outcome::Failed(why)) => assert!(why.contains("GITHUB_SERVER_URL"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(password(&get(&env, "github.com")).is_none());
    let (code, status) = env.status_json();
    assert_eq!(code, 1);
    assert_eq!(status.check("settings").unwrap().level, Level::Fail);
}

/// A URL changed to one out of shape: our old wiring comes off (nothing is
/// served now), the daemon's refresh fetches and caches nothing, and git
/// gets no token for github.com, from the platform or from the cache.
#[test]
fn a_url_changed_to_one_out_of_shape_serves_nothing_at_all() {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    env.set("GITHUB_SERVER_URL", "https://ghe.example.test/api");
    let report = env.installer().install();
    match report.outcome(Step::GitConfig) {
        Some(Outcome::Failed(why)) => {
            assert!(
                why.contains("removed our values from https://github.com"),
                "{why}"
            )
        }
        other => panic!("{other:?}\n{report}"),
    }
    assert!(global(&env, "credential.https://github.com.helper").is_empty());
    let refresh = env.helper("_fetch_token").output();
    assert!(!refresh.status.success());
    assert!(
        stderr(&refresh).contains("GITHUB_SERVER_URL"),
        "{}",
        stderr(&refresh)
    );
    assert!(!env.layout().cache_token.exists());
    assert!(password(&get(&env, "github.com")).is_none());
    assert_eq!(env.platform().requests(), 0);
}
