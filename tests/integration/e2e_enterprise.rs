//! The end-to-end world for GitHub Enterprise (`GITHUB_SERVER_URL`): the
//! real git and the real gh against the enterprise stand-ins of
//! `testing::FakeGitHub`, inside a private namespace, as in `e2e`:
//! - a GitHub Enterprise Server at `ghe.example.test` (git on the host, the
//!   API under `/api/v3` and `/api/graphql` on the same host);
//! - a GHE.com tenant at `octo.ghe.com` (git on the host, the API at
//!   `api.octo.ghe.com`; gh before 2.32 treats it like GHES, so the
//!   GHES-shaped paths answer on `octo.ghe.com` too).
//!
//! For each: install with `GITHUB_SERVER_URL`, clone, push, `gh api
//! --hostname`, and a github.com request the helper declines; a revoked
//! token fails one push, git's erase evicts it, the next push recovers.
//!
//! The stand-ins' routing itself is checked outside any namespace with
//! curl (`--connect-to`, the run's CA): every host name is in the
//! certificate, each path shape answers where gh calls it, and the token
//! check and the recording are the same as github.com's.

use molecule_credential_helper::testing::{
    FakeGitHub, FAKE_GITHUB_HOSTS, GHES_HOST, GHE_COM_API_HOST, GHE_COM_HOST,
};

use crate::e2e::in_private_world_of;
use crate::support::{password, TestEnv};

fn in_private_world(name: &str) {
    in_private_world_of("e2e_enterprise", name);
}

#[test]
fn ghes_clone_push_and_gh_api_work_and_github_com_is_declined() {
    in_private_world("ghes_clone_push_and_gh_api_work_and_github_com_is_declined");
}

#[test]
fn ghes_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
    in_private_world("ghes_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover");
}

#[test]
fn ghe_com_clone_push_and_gh_api_work_and_github_com_is_declined() {
    in_private_world("ghe_com_clone_push_and_gh_api_work_and_github_com_is_declined");
}

#[test]
fn ghe_com_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
    in_private_world("ghe_com_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover");
}

/// One answer, as curl saw it.
struct Answer {
    status: u16,
    headers: String,
    body: String,
    /// curl's exit code (60: the certificate did not verify).
    curl_exit: i32,
}

/// `METHOD https://HOST/PATH` through curl to the stand-in at `port`
/// (`--connect-to`, so SNI and `Host` are HOST), trusting only the run's
/// CA; `auth` is curl's arguments for the credentials.
fn curl(
    env: &TestEnv,
    github: &FakeGitHub,
    host: &str,
    method: &str,
    path: &str,
    auth: &[&str],
) -> Answer {
    let head = env.dir.path().join("curl-head");
    let _ = std::fs::remove_file(&head);
    let out = env
        .command("curl")
        .args(["-sS", "--noproxy", "*", "--max-time", "20", "-X", method])
        .arg("--cacert")
        .arg(github.ca_pem())
        .arg("--connect-to")
        .arg(format!("{host}:443:127.0.0.1:{}", github.addr().port()))
        .arg("-D")
        .arg(&head)
        .args(["-w", "\n%{http_code}"])
        .args(auth)
        .args(if method == "POST" {
            &["--data", r#"{"query":"query { viewer { login } }"}"#][..]
        } else {
            &[][..]
        })
        .arg(format!("https://{host}{path}"))
        .output();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Answer {
        status: code.trim().parse().unwrap_or(0),
        headers: std::fs::read_to_string(&head).unwrap_or_default(),
        body: body.to_string(),
        curl_exit: out.status.code().unwrap_or(-1),
    }
}

/// A stand-in on a free port and a platform token it accepts.
fn stand_in(env: &TestEnv) -> (FakeGitHub, String) {
    let github = FakeGitHub::start(
        &env.dir.path().join("github"),
        0,
        env.platform().authority(),
    )
    .expect("stand-in");
    let token = password(&env.direct_get()).expect("a platform token");
    (github, token)
}

#[test]
fn e2e_stand_ins_answer_each_api_shape_where_gh_calls_it() {
    let env = TestEnv::new();
    let (github, token) = stand_in(&env);
    let basic = format!("x-access-token:{token}");
    let bearer = format!("Authorization: token {token}");
    let as_git: [&str; 2] = ["-u", &basic];
    let as_gh: [&str; 2] = ["-H", &bearer];
    // (host, method, path, status, a piece of the body)
    let table: [(&str, &str, &str, u16, &str); 13] = [
        // github.com's API, unchanged.
        (
            "api.github.com",
            "GET",
            "/",
            200,
            r#""current_user_url":"https://api.github.com/user""#,
        ),
        (
            "api.github.com",
            "GET",
            "/repos/o/r",
            200,
            r#""full_name":"o/r""#,
        ),
        (
            "api.github.com",
            "POST",
            "/graphql",
            200,
            r#""login":"molecule-app[bot]""#,
        ),
        // GHES: REST under /api/v3, GraphQL at /api/graphql, on the host.
        (
            GHES_HOST,
            "GET",
            "/api/v3/",
            200,
            r#""current_user_url":"https://ghe.example.test/api/v3/user""#,
        ),
        (
            GHES_HOST,
            "GET",
            "/api/v3/repos/o/r",
            200,
            r#""full_name":"o/r""#,
        ),
        (
            GHES_HOST,
            "POST",
            "/api/graphql",
            200,
            r#""login":"molecule-app[bot]""#,
        ),
        // GHE.com: REST at the API host's root, GraphQL at /graphql ...
        (
            GHE_COM_API_HOST,
            "GET",
            "/",
            200,
            r#""current_user_url":"https://api.octo.ghe.com/user""#,
        ),
        (
            GHE_COM_API_HOST,
            "GET",
            "/repos/o/r",
            200,
            r#""full_name":"o/r""#,
        ),
        (
            GHE_COM_API_HOST,
            "POST",
            "/graphql",
            200,
            r#""login":"molecule-app[bot]""#,
        ),
        // ... and GHES-shaped on the tenant's host (gh before 2.32).
        (
            GHE_COM_HOST,
            "GET",
            "/api/v3/",
            200,
            r#""current_user_url":"https://octo.ghe.com/api/v3/user""#,
        ),
        (
            GHE_COM_HOST,
            "GET",
            "/api/v3/repos/o/r",
            200,
            r#""full_name":"o/r""#,
        ),
        (
            GHE_COM_HOST,
            "POST",
            "/api/graphql",
            200,
            r#""login":"molecule-app[bot]""#,
        ),
        // Not the API: the REST path without its GHES prefix is git's.
        (GHES_HOST, "GET", "/repos/o/r", 404, ""),
    ];
    for (host, method, path, status, piece) in table {
        let a = curl(&env, &github, host, method, path, &as_gh);
        assert_eq!(
            (a.status, a.curl_exit),
            (status, 0),
            "{method} https://{host}{path}: {}{}",
            a.headers,
            a.body
        );
        assert!(
            a.body.contains(piece),
            "{method} https://{host}{path}: {}",
            a.body
        );
        assert!(
            !a.headers.to_ascii_lowercase().contains("x-oauth-scopes"),
            "{}",
            a.headers
        );
        // The same, with no token and with git's Basic auth of a bad one: 401.
        for auth in [&[][..], &["-u", "x-access-token:ghs_not_issued"][..]] {
            let a = curl(&env, &github, host, method, path, auth);
            assert_eq!(a.status, 401, "{method} https://{host}{path} {auth:?}");
            assert!(
                a.headers
                    .contains("WWW-Authenticate: Basic realm=\"GitHub\""),
                "{}",
                a.headers
            );
        }
    }
    // Git's Basic auth is accepted on the API too (GitHub takes both).
    let a = curl(
        &env,
        &github,
        GHES_HOST,
        "GET",
        "/api/v3/repos/o/r",
        &as_git,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // Recorded with the host and the whole path, never the token.
    let records = github.requests();
    for (host, route) in [
        (GHES_HOST, "/api/v3/repos/o/r"),
        (GHES_HOST, "/api/graphql"),
        (GHE_COM_HOST, "/api/v3/repos/o/r"),
        (GHE_COM_API_HOST, "/graphql"),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r.host == host && r.route == route && r.status == 200),
            "{host}{route}: {records:?}"
        );
    }
    assert!(records
        .iter()
        .any(|r| r.token_state == "unknown" && r.status == 401));
    assert!(!format!("{records:?}").contains(&token));
}

#[test]
fn e2e_stand_ins_serve_git_per_host_and_a_revoked_token_is_refused() {
    let env = TestEnv::new();
    let (github, token) = stand_in(&env);
    github.create_repo_on(GHES_HOST, "o", "on-ghes").unwrap();
    github
        .create_repo_on(GHE_COM_HOST, "o", "on-tenant")
        .unwrap();
    assert!(github.create_repo_on(GHE_COM_API_HOST, "o", "x").is_err());
    let basic = format!("x-access-token:{token}");
    let as_git: [&str; 2] = ["-u", &basic];
    let refs = |host: &str, repo: &str| {
        curl(
            &env,
            &github,
            host,
            "GET",
            &format!("/o/{repo}.git/info/refs?service=git-upload-pack"),
            &as_git,
        )
    };
    // Each git host has its own repositories.
    for (host, repo, status) in [
        (GHES_HOST, "on-ghes", 200),
        (GHE_COM_HOST, "on-tenant", 200),
        ("github.com", "on-ghes", 404),
        ("github.com", "on-tenant", 404),
        (GHE_COM_HOST, "on-ghes", 404),
        (GHES_HOST, "on-tenant", 404),
        // The tenant's API host serves no git.
        (GHE_COM_API_HOST, "on-tenant", 404),
    ] {
        let a = refs(host, repo);
        assert_eq!(a.status, status, "https://{host}/o/{repo}.git: {}", a.body);
        assert_eq!(
            a.body.contains("# service=git-upload-pack"),
            status == 200,
            "{}",
            a.body
        );
    }
    // The repository GHES serves is the one made for it.
    let pack = curl(
        &env,
        &github,
        GHES_HOST,
        "GET",
        "/o/on-ghes.git/HEAD",
        &as_git,
    );
    assert_eq!(pack.status, 200, "{}", pack.body);
    assert!(pack.body.contains("refs/heads/main"), "{}", pack.body);
    // A revoked token: 401 on every host, recorded as revoked.
    env.platform().authority().revoke(&token);
    for host in [GHES_HOST, GHE_COM_HOST] {
        let repo = if host == GHES_HOST {
            "on-ghes"
        } else {
            "on-tenant"
        };
        let a = refs(host, repo);
        assert_eq!(a.status, 401, "{host}");
        assert!(a
            .headers
            .contains("WWW-Authenticate: Basic realm=\"GitHub\""));
    }
    let records = github.requests();
    assert!(
        records
            .iter()
            .any(|r| r.host == GHE_COM_HOST && r.token_state == "revoked" && r.status == 401),
        "{records:?}"
    );
    assert!(!format!("{records:?}").contains(&token));
}

#[test]
fn e2e_the_run_ca_covers_every_stand_in_host_and_no_other() {
    let env = TestEnv::new();
    let (github, token) = stand_in(&env);
    let bearer = format!("Authorization: token {token}");
    for host in FAKE_GITHUB_HOSTS {
        let a = curl(&env, &github, host, "GET", "/", &["-H", &bearer]);
        assert_eq!(a.curl_exit, 0, "{host}: the certificate did not verify");
    }
    // A name the certificate does not hold fails verification: curl's
    // check is real.
    let a = curl(
        &env,
        &github,
        "evil.example.test",
        "GET",
        "/",
        &["-H", &bearer],
    );
    assert_eq!(a.curl_exit, 60, "evil.example.test verified");
}

/// The inner halves: run only inside a private world.
mod inside {
    use std::process::Output;
    use std::time::Duration;

    use molecule_credential_helper::testing::{
        namespace, FAKE_GITHUB_HOSTS, GHES_HOST, GHE_COM_API_HOST, GHE_COM_HOST,
    };

    use crate::e2e::inside::World;
    use crate::support::{password, stdout, wait_for};

    /// The gh on PATH's (major, minor) version.
    fn gh_version(w: &World) -> (u32, u32) {
        let out = w.env.command("gh").arg("--version").output();
        let text = stdout(&out);
        let version = text
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("gh --version: {text}"));
        let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    }

    /// Where gh calls the REST API for `host`: (API host, path prefix).
    /// gh 2.32 and later call a GHE.com tenant at `api.<tenant>`; before,
    /// and for any GHES host, the host itself under `/api/v3`.
    fn rest_api_of(w: &World, host: &str) -> (&'static str, &'static str) {
        if host == GHE_COM_HOST && gh_version(w) >= (2, 32) {
            (GHE_COM_API_HOST, "")
        } else if host == GHE_COM_HOST {
            (GHE_COM_HOST, "/api/v3")
        } else {
            (GHES_HOST, "/api/v3")
        }
    }

    /// `git credential fill` for `https://HOST/o/r.git`, without
    /// `GITHUB_SERVER_URL` in the environment (install saved it).
    fn fill_for(w: &World, host: &str) -> Output {
        w.env
            .git()
            .env_remove("GITHUB_SERVER_URL")
            .args(["credential", "fill"])
            .stdin(format!("protocol=https\nhost={host}\npath=o/r.git\n\n"))
            .output()
    }

    fn clone_push_and_gh_api_work_and_github_com_is_declined(host: &str) {
        let w = World::serving(host);
        let hosts_file = std::fs::read_to_string("/etc/hosts").unwrap();
        for name in FAKE_GITHUB_HOSTS {
            assert!(
                hosts_file
                    .lines()
                    .any(|l| l.starts_with("127.0.0.1 ") && l.split_whitespace().any(|n| n == name)),
                "{name} not in the namespace's hosts file: {hosts_file}"
            );
        }
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
        // The helper serves the configured host, and nothing for github.com.
        let issued = || w.env.platform().issued();
        let served = password(&fill_for(&w, host)).expect("a token for the configured host");
        assert!(issued().iter().any(|t| t.token == served));
        let declined = fill_for(&w, "github.com");
        assert!(
            password(&declined).is_none(),
            "the helper answered github.com while serving {host}"
        );
        // The real git against the github.com stand-in presents no token.
        let ls = w
            .env
            .git()
            .args(["ls-remote", "https://github.com/o/r.git"])
            .output();
        assert!(!ls.status.success(), "git reached github.com's o/r");
        let records = w.github.requests();
        assert!(
            records.iter().any(|r| r.host == "github.com"),
            "git never asked github.com: {records:?}"
        );
        assert!(
            records
                .iter()
                .filter(|r| r.host == "github.com")
                .all(|r| r.token_state == "none" && r.status == 401),
            "{records:?}"
        );
        // The daemon's first refresh logs the real gh in for the host.
        assert!(
            wait_for(Duration::from_secs(30), || issued()
                .iter()
                .any(|t| w.gh_hosts().contains(&t.token))),
            "gh never stored a platform token: {}\n{:?}",
            w.gh_hosts(),
            w.github.requests()
        );
        let hosts = w.gh_hosts();
        assert!(
            hosts.lines().any(|l| l.trim_end() == format!("{host}:")),
            "gh's hosts file has no {host} entry: {hosts}"
        );
        assert!(!hosts.contains("github.com:"), "{hosts}");
        let gh_token = issued()
            .into_iter()
            .find(|t| w.gh_hosts().contains(&t.token))
            .unwrap();
        let api = w
            .env
            .command("gh")
            .args(["api", "--hostname", host, "repos/o/r"])
            .output();
        assert!(
            api.status.success(),
            "{}\n{:?}",
            String::from_utf8_lossy(&api.stderr),
            w.github.requests()
        );
        assert!(
            stdout(&api).contains("\"full_name\":\"o/r\""),
            "{}",
            stdout(&api)
        );
        let records = w.github.requests();
        let serial = w.env.platform().authority().check(&gh_token.token).serial();
        let (api_host, prefix) = rest_api_of(&w, host);
        assert!(
            records.iter().any(|r| r.host == api_host
                && r.route == format!("{prefix}/repos/o/r")
                && r.status == 200
                && r.token_serial == serial),
            "no {api_host}{prefix}/repos/o/r with gh's token: {records:?}"
        );
        assert!(
            records.iter().any(|r| r.host == host
                && r.route == "/o/r.git/git-receive-pack"
                && r.status == 200),
            "{records:?}"
        );
        // Nothing went to api.github.com: gh and git used the configured host.
        assert!(
            records.iter().all(|r| r.host != "api.github.com"),
            "{records:?}"
        );
        // Nothing the stand-in records holds a token.
        for t in issued() {
            assert!(!format!("{records:?}").contains(&t.token));
        }
    }

    fn a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover(host: &str) {
        let w = World::serving(host);
        assert!(!w.env.installer().install().has_failures());
        w.clone();
        let cached = password(&fill_for(&w, host)).expect("a cached token");
        crate::e2e::inside::revoke_then_push_erase_and_recover(&w, &cached, host);
        let records = w.github.requests();
        assert!(
            records.iter().any(|r| r.host == host
                && r.route == "/o/r.git/git-receive-pack"
                && r.token_state == "valid"
                && r.status == 200),
            "{records:?}"
        );
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e_enterprise"]
    fn ghes_clone_push_and_gh_api_work_and_github_com_is_declined() {
        assert!(namespace::is_inside());
        clone_push_and_gh_api_work_and_github_com_is_declined(GHES_HOST);
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e_enterprise"]
    fn ghes_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
        a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover(GHES_HOST);
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e_enterprise"]
    fn ghe_com_clone_push_and_gh_api_work_and_github_com_is_declined() {
        clone_push_and_gh_api_work_and_github_com_is_declined(GHE_COM_HOST);
    }

    #[test]
    #[ignore = "runs inside a private namespace, started by its outer test in e2e_enterprise"]
    fn ghe_com_a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover() {
        a_revoked_token_fails_one_push_then_erase_and_the_next_push_recover(GHE_COM_HOST);
    }
}
