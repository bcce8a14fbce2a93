//! `token`: the token git would get now, for any other program. It agrees
//! with `git credential fill`, makes one single-flight request on a cold
//! cache, serves the cached token through an outage, and fails clearly
//! when there is none.

use molecule_credential_helper::secret::fingerprint;

use crate::support::procs::SupervisorGuard;
use crate::support::{password, stderr, stdout, token, TestEnv};

fn token_cmd(env: &TestEnv, json: bool) -> std::process::Output {
    let mut cmd = env.bin();
    cmd.args(["token", "--home"]).arg(&env.home);
    if json {
        cmd.arg("--json");
    }
    cmd.output()
}

#[test]
fn token_agrees_with_git_credential_fill_and_asks_nothing_more() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let filled = password(&env.fill()).expect("git got a token");
    let requests = env.platform().requests();

    let out = token_cmd(&env, false);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{filled}\n"));

    let out = token_cmd(&env, true);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["token"], filled.as_str());
    assert_eq!(json["hashed_token"], fingerprint(&filled).as_str());
    assert_eq!(json["host"], "github.com");
    let expires_at = json["expires_at"].as_str().expect("an expiry");
    assert!(
        molecule_credential_helper::clock::parse_utc(expires_at).is_some(),
        "{expires_at}"
    );
    assert_eq!(env.platform().requests(), requests, "cache hits only");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn concurrent_tokens_on_a_cold_cache_make_one_request() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| token_cmd(&env, false))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = stdout(&outs[0]);
    for out in &outs {
        assert!(out.status.success(), "{}", stderr(out));
        assert_eq!(stdout(out), first);
    }
    assert_eq!(env.platform().requests(), 1);
}

/// The platform is down and the cache went stale, but GitHub still accepts
/// the cached token: `token` serves it, with the helper's one line.
#[test]
fn token_serves_the_cached_token_through_an_outage() {
    let mut env = TestEnv::builder().no_platform().build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    // Stale 10 s ago; GitHub accepts it for 290 s more.
    env.seed_cache(token(4), crate::support::now() - 10);
    let out = token_cmd(&env, false);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\n", token(4)));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("platform fetch failed") && err.contains("which GitHub accepts for"),
        "{err}"
    );
}

#[test]
fn token_fails_clearly_when_there_is_none() {
    let mut env = TestEnv::builder().no_platform().build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    for json in [false, true] {
        let out = token_cmd(&env, json);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("no GitHub token"), "{err}");
        assert!(err.contains("failure, fix: "), "{err}");
    }
}

/// gh at start: no provision token and nothing cached, so install has no
/// token to give gh. Its detached login fetches the one git would get, so
/// gh holds a platform token seconds after install — not at the daemon's
/// first refresh (60 s + jitter) — while a git fill runs at the same time,
/// with at most 2 platform requests in all (single flight: 1 here).
#[test]
fn gh_is_primed_seconds_after_install_without_a_provision_token() {
    let mut env = TestEnv::new();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let _guard = SupervisorGuard::new(&env.home);
    let report = env.installer().install();
    assert!(report.failed_steps().is_empty(), "{report}");
    let fill = env.fill();
    let filled = password(&fill).expect("git got a token");
    let hosts = env.home.join(".config/gh/hosts.yml");
    assert!(
        crate::support::wait_for(std::time::Duration::from_secs(8), || {
            std::fs::read_to_string(&hosts).is_ok_and(|h| h.contains(&filled))
        }),
        "gh holds no platform token 8 s after install: {}",
        env.gh_shim_log()
    );
    assert!(
        env.platform().requests() <= 2,
        "{}",
        env.platform().requests()
    );
    assert_eq!(env.platform().requests(), 1, "single flight with git");
    // A second install: gh holds the cached token, nothing is spawned.
    let again = env.installer().install();
    assert!(
        matches!(
            again.outcome(molecule_credential_helper::Step::GhAuth),
            Some(molecule_credential_helper::Outcome::Unchanged(_))
        ),
        "{again}"
    );
}

/// uninstall logs gh out of the served host when gh's token is one we gave
/// it (matched by `hashed_token`), and lists it under `removed`.
#[test]
fn uninstall_logs_gh_out_when_its_token_is_ours() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    env.wait_for_gh_primed();
    let hosts = env.home.join(".config/gh/hosts.yml");
    let out = env
        .bin()
        .args(["uninstall", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report: molecule_credential_helper::uninstall::UninstallReport =
        serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report
            .removed
            .iter()
            .any(|r| r.starts_with("gh login for github.com (hashed_token ")),
        "{report:?}"
    );
    assert!(
        env.gh_shim_log().contains("logout github.com"),
        "{}",
        env.gh_shim_log()
    );
    assert!(!hosts.exists());
}

/// A login that is not ours (the user's own token) stays, said as kept.
#[test]
fn uninstall_keeps_a_gh_login_that_is_not_ours() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let hosts = env.home.join(".config/gh/hosts.yml");
    std::fs::create_dir_all(hosts.parent().unwrap()).unwrap();
    let theirs = "github.com:\n    oauth_token: ghp_usersOwnToken0123456789abcdefABCDEF\n";
    std::fs::write(&hosts, theirs).unwrap();
    let out = env
        .bin()
        .args(["uninstall", "--json", "--home"])
        .arg(&env.home)
        .output();
    let report: molecule_credential_helper::uninstall::UninstallReport =
        serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report
            .kept
            .iter()
            .any(|k| k.contains("not a token we gave it")),
        "{report:?}"
    );
    assert!(
        !env.gh_shim_log().contains("logout"),
        "{}",
        env.gh_shim_log()
    );
    assert_eq!(std::fs::read_to_string(&hosts).unwrap(), theirs);
}
