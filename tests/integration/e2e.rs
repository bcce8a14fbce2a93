//! The end-to-end world: the real git (clone, push) and the real gh (login,
//! `gh api`) against a github.com stand-in over TLS, inside a private
//! network + mount + PID namespace where github.com resolves to 127.0.0.1.
//!
//! Each test here is an outer half, which starts this same test binary
//! inside a new namespace to run its inner half (`inside::…`, ignored in a
//! normal run: they only make sense in there). Where a namespace cannot be
//! had (not root, or `unshare` refused) the outer half skips visibly
//! (`support::skip`: a SKIP line and a count at the end; with `CI` set, a
//! failure). The namespace's PID 1 is the inner test: when it ends, the
//! kernel ends everything started inside, pass or fail.

use std::time::Duration;

use molecule_credential_helper::testing::namespace;

/// Runs `inside::NAME` in a private world and asserts it passed.
fn in_private_world(name: &str) {
    in_private_world_of("e2e", name);
}

/// Runs `MODULE::inside::NAME` (a test module of this binary) in a private
/// world and asserts it passed.
pub(crate) fn in_private_world_of(module: &str, name: &str) {
    if let Some(why) = namespace::unavailable() {
        crate::support::skip(
            &format!("{module}::{name}"),
            &format!("no private network namespace here: {why}"),
        );
        return;
    }
    let gh = std::process::Command::new("sh")
        .args(["-c", "command -v gh"])
        .output()
        .unwrap();
    assert!(
        gh.status.success(),
        "the end-to-end tests run the real gh: install it (apt-get install gh)"
    );
    let exe = std::env::current_exe().unwrap();
    let mut cmd = namespace::command_inside(&exe);
    cmd.args([
        "--exact",
        &format!("{module}::inside::{name}"),
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let mut child = crate::support::TestCommand::wrap(cmd);
    let out = child.output_within(Duration::from_secs(180));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{}",
        child.describe(&out)
    );
}

#[test]
fn git_clone_push_and_gh_api_work_after_install() {
    in_private_world("git_clone_push_and_gh_api_work_after_install");
}

#[test]
fn a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
    in_private_world("a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover");
}

#[test]
fn install_does_not_wait_while_api_github_com_stalls() {
    in_private_world("install_does_not_wait_while_api_github_com_stalls");
}

/// The inner halves: run only inside a private world.
pub(crate) mod inside {
    use std::path::PathBuf;
    use std::time::Duration;

    use molecule_credential_helper::report::{Outcome, Step};
    use molecule_credential_helper::testing::{namespace, FakeGitHub};

    use crate::support::{password, stdout, wait_for, SupervisorGuard, TestEnv};

    /// A test env with the real gh (no shim), git and gh trusting the run's
    /// CA, and the github.com stand-in on 443 checking the platform's tokens.
    pub(crate) struct World {
        pub(crate) env: TestEnv,
        pub(crate) github: FakeGitHub,
        /// The GitHub the workspace uses: `https://github.com`, or an
        /// enterprise stand-in's URL (then `GITHUB_SERVER_URL` is set).
        pub(crate) server: String,
        _guard: SupervisorGuard,
    }

    impl World {
        pub(crate) fn new() -> World {
            World::build(None)
        }

        /// A world whose workspace uses the stand-in at `https://HOST`
        /// (`GITHUB_SERVER_URL` set for install and everything after), with
        /// `o/r` there and on github.com.
        pub(crate) fn serving(host: &str) -> World {
            World::build(Some(host))
        }

        fn build(host: Option<&str>) -> World {
            assert!(namespace::is_inside(), "only inside a private world");
            let mut env = TestEnv::builder()
                .without_gh()
                .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
                .var("TOKEN_FETCH_TIMEOUT_SEC", "5")
                .var("GH_NO_UPDATE_NOTIFIER", "1")
                .var("GH_PROMPT_DISABLED", "1")
                .var("GIT_AUTHOR_NAME", "agent")
                .var("GIT_AUTHOR_EMAIL", "agent@example.com")
                .var("GIT_COMMITTER_NAME", "agent")
                .var("GIT_COMMITTER_EMAIL", "agent@example.com")
                .build();
            namespace::prepare_inside(env.dir.path()).expect("private world");
            let github = FakeGitHub::start(
                &env.dir.path().join("github"),
                443,
                env.platform().authority(),
            )
            .expect("github.com stand-in on 443");
            github.create_repo("o", "r").expect("repo o/r");
            let server = match host {
                Some(host) => {
                    github
                        .create_repo_on(host, "o", "r")
                        .expect("repo o/r on the enterprise stand-in");
                    let server = format!("https://{host}");
                    env.set("GITHUB_SERVER_URL", &server);
                    server
                }
                None => "https://github.com".to_string(),
            };
            let ca = github.ca_pem().display().to_string();
            env.set("GIT_SSL_CAINFO", &ca);
            env.set("SSL_CERT_FILE", &ca);
            let guard = SupervisorGuard::new(&env.home);
            World {
                env,
                github,
                server,
                _guard: guard,
            }
        }

        pub(crate) fn work(&self) -> PathBuf {
            self.env.dir.path().join("work")
        }

        pub(crate) fn clone(&self) {
            self.env
                .git()
                .args(["clone", "-q", &format!("{}/o/r.git", self.server)])
                .arg(self.work())
                .ok();
        }

        pub(crate) fn commit(&self, name: &str) {
            std::fs::write(self.work().join(name), name).unwrap();
            self.env
                .git()
                .arg("-C")
                .arg(self.work())
                .args(["add", name])
                .ok();
            self.env
                .git()
                .arg("-C")
                .arg(self.work())
                .args(["commit", "-q", "-m", name])
                .ok();
        }

        pub(crate) fn push(&self) -> std::process::Output {
            self.env
                .git()
                .arg("-C")
                .arg(self.work())
                .args(["push", "-q", "origin", "main"])
                .output()
        }

        pub(crate) fn gh_hosts(&self) -> String {
            std::fs::read_to_string(self.env.home.join(".config/gh/hosts.yml")).unwrap_or_default()
        }
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e"]
    fn git_clone_push_and_gh_api_work_after_install() {
        let w = World::new();
        let report = w.env.installer().install();
        assert!(!report.has_failures(), "{report}");
        w.clone();
        w.commit("one.txt");
        let push = w.push();
        assert!(
            push.status.success(),
            "{}",
            String::from_utf8_lossy(&push.stderr)
        );
        // The daemon's first refresh logs the real gh in with today's token.
        let issued = || w.env.platform().issued();
        assert!(
            wait_for(Duration::from_secs(30), || issued()
                .iter()
                .any(|t| w.gh_hosts().contains(&t.token))),
            "gh never stored a platform token: {}\n{:?}",
            w.gh_hosts(),
            w.github.requests()
        );
        let gh_token = issued()
            .into_iter()
            .find(|t| w.gh_hosts().contains(&t.token))
            .unwrap();
        assert!(gh_token.token.len() > 500 && gh_token.token.contains('.'));
        let api = w.env.command("gh").args(["api", "repos/o/r"]).output();
        assert!(
            api.status.success(),
            "{}",
            String::from_utf8_lossy(&api.stderr)
        );
        assert!(
            stdout(&api).contains("\"full_name\":\"o/r\""),
            "{}",
            stdout(&api)
        );
        let records = w.github.requests();
        // The daemon's first refresh (initial delay 0) may log gh in with a
        // newer token between the wait above and `gh api`: the request
        // carries the token gh held then, or the one it holds now.
        let authority = w.env.platform().authority();
        let held_now = issued()
            .into_iter()
            .find(|t| w.gh_hosts().contains(&t.token))
            .unwrap();
        let serials = [
            authority.check(&gh_token.token).serial(),
            authority.check(&held_now.token).serial(),
        ];
        assert!(
            records.iter().any(|r| r.host == "api.github.com"
                && r.route == "/repos/o/r"
                && r.status == 200
                && r.token_serial.is_some()
                && serials.contains(&r.token_serial)),
            "{records:?}"
        );
        assert!(
            records.iter().any(|r| r.host == "github.com"
                && r.route.ends_with("git-receive-pack")
                && r.status == 200),
            "{records:?}"
        );
        // Nothing the stand-in records holds a token.
        for t in issued() {
            assert!(!format!("{records:?}").contains(&t.token));
        }
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e"]
    fn a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
        let w = World::new();
        let report = w.env.installer().install();
        assert!(!report.has_failures(), "{report}");
        w.clone();
        let cached = password(&w.env.fill()).expect("a cached token");
        revoke_then_push_erase_and_recover(&w, &cached, "github.com");
    }

    /// GitHub revokes `cached`: one push fails with 401, git's erase drops
    /// the token from the cache, and the next push (a fresh token) passes;
    /// the stand-in for `host` saw the revoked token refused.
    pub(crate) fn revoke_then_push_erase_and_recover(w: &World, cached: &str, host: &str) {
        w.env.platform().authority().revoke(cached);
        w.commit("two.txt");
        let failed = w.push();
        assert!(
            !failed.status.success(),
            "a push with a revoked token passed"
        );
        let cache = std::fs::read_to_string(w.env.layout().cache_token).unwrap_or_default();
        assert!(
            !cache.contains(cached),
            "git's erase did not evict the revoked token"
        );
        let again = w.push();
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
        let records = w.github.requests();
        assert!(
            records
                .iter()
                .any(|r| r.host == host && r.token_state == "revoked" && r.status == 401),
            "{records:?}"
        );
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e"]
    fn install_does_not_wait_while_api_github_com_stalls() {
        let mut w = World::new();
        w.github.set_api_stalls(true);
        // A provision token the platform issued, for install to give gh.
        let provision = password(&w.env.direct_get()).expect("a platform token");
        w.env.set("GH_TOKEN", &provision);
        w.env.set("GH_LOGIN_TIMEOUT_SEC", "2");
        w.env.set("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600");
        std::fs::remove_file(w.env.layout().cache_token).unwrap();
        let report = w.env.installer().install();
        // An ordering, not a clock: install returned before the login's
        // 2 s timeout was logged.
        let log = w.env.layout().log_file;
        let at_return = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!at_return.contains("gh auth login failed"), "{at_return}");
        assert!(
            matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(d)) if d.contains("background")),
            "{report}"
        );
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log)
                .is_ok_and(
                    |l| l.contains("gh auth login failed") && l.contains("timed out after 2s")
                )),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        // No gh left running after its timeout.
        assert!(
            wait_for(Duration::from_secs(5), || {
                crate::support::procs::processes_matching("auth")
                    .iter()
                    .all(|(_, argv)| !argv.iter().any(|a| a == "login"))
            }),
            "a gh login outlived its timeout"
        );
    }
}
