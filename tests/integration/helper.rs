//! The git credential helper, driven through the real git against the fake platform.

use crate::support::token;
use std::time::Duration;

use molecule_credential_helper::testing::FakeMode;
use rstest::rstest;

use crate::support::{now, password, stderr, stdout, wait_for, TestEnv};

fn wired(env: TestEnv) -> TestEnv {
    env.configure_git_for_bundled_helper();
    env
}

fn cache_files(env: &TestEnv) -> (Option<String>, Option<String>) {
    let l = env.layout();
    (
        std::fs::read_to_string(l.cache_token).ok(),
        std::fs::read_to_string(l.cache_expiry).ok(),
    )
}

/// The token line of the cache's token file.
fn cached_token(env: &TestEnv) -> Option<String> {
    cache_files(env)
        .0
        .and_then(|t| t.lines().next().map(str::to_string))
}

fn line(out: &std::process::Output, key: &str) -> Option<String> {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn fill_returns_a_platform_token_with_its_expiry() {
    let env = wired(TestEnv::new());
    let out = env.fill();
    assert!(out.status.success(), "{}", stderr(&out));
    let issued = env.platform().issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(line(&out, "username").as_deref(), Some("x-access-token"));
    assert_eq!(password(&out).as_deref(), Some(issued[0].token.as_str()));
    assert_eq!(
        line(&out, "password_expiry_utc"),
        Some(issued[0].expires_at.to_string())
    );
    assert_eq!(
        env.platform().routes(),
        ["/admin/github-installation-token"]
    );
    assert_eq!(
        env.platform().user_agents(),
        ["molecule-git-token-helper/get"]
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn cache_hit_makes_no_request() {
    let env = wired(TestEnv::new());
    let first = password(&env.fill());
    for _ in 0..3 {
        assert_eq!(password(&env.fill()), first);
    }
    assert_eq!(env.platform().requests(), 1);
}

#[rstest]
#[case::other_host("protocol=https\nhost=gitlab.com\n\n")]
#[case::plain_http("protocol=http\nhost=github.com\n\n")]
#[case::ssh("protocol=ssh\nhost=github.com\n\n")]
fn declines_other_hosts_and_protocols(#[case] input: &str) {
    let env = TestEnv::new();
    let out = env.bundled_helper("get").stdin(input).ok();
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(env.platform().requests(), 0);
}

/// git's request ends at its blank line: a caller that keeps stdin open
/// is answered without waiting for EOF (the old reader waited its whole
/// 10-second read timeout).
#[test]
fn the_request_ends_at_the_blank_line_not_at_eof() {
    use std::io::Write;
    let env = TestEnv::new();
    let mut c = env.bundled_helper("get");
    c.cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"protocol=https\nhost=github.com\n\n")
        .unwrap();
    // stdin stays open until the helper has answered and exited.
    let exited = wait_for(Duration::from_secs(8), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(exited, "the helper waited for EOF");
    assert!(password(&out).is_some());
}

#[test]
fn cache_expiry_is_bounded_by_expires_at_minus_margin() {
    // The token has 10 minutes left: the cache must expire 5 minutes before
    // it, not 50 minutes after the fetch.
    let env = wired(TestEnv::builder().platform_ttl(600).build());
    let before = now();
    assert!(env.fill().status.success());
    let issued = &env.platform().issued()[0];
    let (_, expiry) = cache_files(&env);
    let expiry = expiry.unwrap();
    let mut lines = expiry.lines();
    assert_eq!(
        lines.next(),
        Some((issued.expires_at - 300).to_string().as_str())
    );
    assert_eq!(lines.next(), Some(issued.expires_at.to_string().as_str()));
    assert!(issued.expires_at - 300 < before + 3000);
}

#[test]
fn cache_expiry_is_bounded_by_ttl() {
    let env = wired(
        TestEnv::builder()
            .platform_ttl(7200)
            .var("TOKEN_CACHE_TTL_SEC", "100")
            .build(),
    );
    let before = now();
    assert!(env.fill().status.success());
    let after = now();
    let expiry = env.cache_expiry_epoch();
    assert!(
        (before + 100..=after + 100).contains(&expiry),
        "{expiry} not in fetch time + 100"
    );
}

/// A token already inside TOKEN_EXPIRY_MARGIN_SEC is served while GitHub
/// accepts it (more than TOKEN_MIN_REMAINING_SEC left), never cached; one
/// with less left is not served at all (the fallback is).
#[test]
fn a_token_expiring_within_the_margin_is_served_uncached_while_github_accepts_it() {
    let env = wired(
        TestEnv::builder()
            .platform_ttl(200)
            .var("GITHUB_TOKEN", token(16))
            .build(),
    );
    let out = env.fill();
    let issued = env.platform().issued();
    assert_eq!(
        password(&out).as_deref(),
        Some(issued[0].token.as_str()),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("serving it uncached"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        cache_files(&env),
        (None, None),
        "a near-expired token must not be cached"
    );

    env.platform().set_ttl(30);
    let out = env.fill();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(16)),
        "{}",
        stderr(&out)
    );
    assert_eq!(cache_files(&env), (None, None));
    assert_eq!(env.platform().requests(), 2);
}

#[test]
fn an_expired_cache_is_refetched() {
    let env = wired(TestEnv::new());
    let first = password(&env.fill()).unwrap();
    let l = env.layout();
    std::fs::write(&l.cache_expiry, format!("{}\n", now() - 1)).unwrap();
    let second = password(&env.fill()).unwrap();
    assert_ne!(first, second);
    assert_eq!(env.platform().requests(), 2);
}

#[test]
fn reject_with_the_cached_password_invalidates_the_cache() {
    let env = wired(TestEnv::new());
    let token = password(&env.fill()).unwrap();
    // A different password (say, a stale one) leaves the cache alone.
    env.git()
        .args(["credential", "reject"])
        .stdin(format!(
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword={}\n\n",
            crate::support::token(2)
        ))
        .ok();
    assert_eq!(cached_token(&env).as_deref(), Some(token.as_str()));
    env.git()
        .args(["credential", "reject"])
        .stdin(format!(
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword={token}\n\n"
        ))
        .ok();
    assert_eq!(cache_files(&env), (None, None));
    let fresh = password(&env.fill()).unwrap();
    assert_ne!(fresh, token);
}

#[test]
fn approve_is_a_no_op() {
    let env = wired(TestEnv::new());
    let token = password(&env.fill()).unwrap();
    let before = cache_files(&env);
    env.git()
        .args(["credential", "approve"])
        .stdin(format!(
            "protocol=https\nhost=github.com\nusername=x-access-token\npassword={token}\n\n"
        ))
        .ok();
    assert_eq!(cache_files(&env), before);
    assert!(!env.home.join(".git-credentials").exists());
}

#[test]
fn concurrent_fills_on_a_cold_cache_make_one_request() {
    let env = wired(TestEnv::new());
    let passwords: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..32).map(|_| s.spawn(|| password(&env.fill()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(env.platform().requests(), 1);
    let issued = env.platform().issued();
    assert!(
        passwords
            .iter()
            .all(|p| p.as_deref() == Some(issued[0].token.as_str())),
        "{passwords:?}"
    );
}

#[test]
fn workspace_id_selects_the_workspace_route() {
    let env = wired(TestEnv::builder().var("WORKSPACE_ID", "ws-42").build());
    assert!(env.fill().status.success());
    assert_eq!(
        env.platform().routes(),
        ["/workspaces/ws-42/github-installation-token"]
    );
}

#[test]
fn missing_auth_token_says_so_and_falls_back_to_env() {
    let env = wired(
        TestEnv::builder()
            .without_auth_token()
            .var("GH_TOKEN", token(17))
            .build(),
    );
    let out = env.fill();
    assert_eq!(password(&out).as_deref(), Some(token(17)));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(".auth_token is missing") && err.contains("using GH_TOKEN"),
        "{err}"
    );
    assert_eq!(env.platform().requests(), 0);

    // With no fallback either: still exactly one line, exit 1.
    let out = env.direct_get_without("GH_TOKEN");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(".auth_token is missing") && !err.contains("ghs_"),
        "{err}"
    );
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Mode(FakeMode),
    ConnectionRefused,
}

#[rstest]
#[case::unauthorized(Fault::Mode(FakeMode::Http401), "HTTP 401")]
#[case::no_app(
    Fault::Mode(FakeMode::Http404),
    "HTTP 404; platform said: \"no GitHub App configured\""
)]
#[case::server_error(
    Fault::Mode(FakeMode::Http500),
    "HTTP 500; platform said: \"token refresh failed\""
)]
#[case::slow(Fault::Mode(FakeMode::Slow), "timed out")]
#[case::bad_json(Fault::Mode(FakeMode::BadJson), "not the expected JSON object")]
#[case::bad_chars(
    Fault::Mode(FakeMode::BadChars),
    "not 1-4096 characters of A-Z a-z 0-9 . _ -"
)]
#[case::refused(Fault::ConnectionRefused, "connection refused")]
fn platform_faults_fall_through_each_source(#[case] fault: Fault, #[case] reason: &str) {
    // A 3 s timeout leaves a loaded machine room to answer a fast 401.
    let mut builder = TestEnv::builder()
        .var("TOKEN_FETCH_TIMEOUT_SEC", "3")
        .slow_secs(8);
    if let Fault::Mode(mode) = fault {
        builder = builder.platform_mode(mode);
    }
    let mut env = wired(builder.build());
    // Kept for the whole test: the port stays refused.
    let refused = crate::support::RefusedPort::new();
    if let Fault::ConnectionRefused = fault {
        env.set("PLATFORM_URL", &refused.url());
    }
    // 1. env tokens: GITHUB_TOKEN before GH_TOKEN.
    let out = env.fill();
    let no_source = stderr(&out);
    assert!(!out.status.success());
    // One line from the helper (git adds its own "fatal:" line after it).
    let ours: Vec<&str> = no_source
        .lines()
        .filter(|l| !l.starts_with("fatal:"))
        .collect();
    assert_eq!(ours.len(), 1, "one line: {no_source}");
    assert!(no_source.contains(reason), "{reason:?} not in {no_source}");
    assert!(stdout(&out).is_empty() || password(&out).is_none());

    env.set("GH_TOKEN", token(18));
    env.set("GITHUB_TOKEN", token(19));
    assert_eq!(password(&env.fill()).as_deref(), Some(token(19)));
    env.unset("GITHUB_TOKEN");
    assert_eq!(password(&env.fill()).as_deref(), Some(token(18)));
    env.set("GH_TOKEN", "not a valid token!");
    std::fs::write(env.configs.join(".github-token"), "ghp_OperatorPat\n").unwrap();
    assert_eq!(password(&env.fill()).as_deref(), Some("ghp_OperatorPat"));

    // Nothing bad was ever printed or cached.
    assert_eq!(cache_files(&env), (None, None));
    for t in env.platform().issued() {
        assert!(!no_source.contains(&t.token));
    }
}

#[rstest]
fn spaced_json_still_parses() {
    let env = wired(TestEnv::builder().platform_mode(FakeMode::Spaced).build());
    let out = env.fill();
    let issued = env.platform().issued();
    assert_eq!(
        password(&out).as_deref(),
        Some(issued[0].token.as_str()),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        line(&out, "password_expiry_utc"),
        Some(issued[0].expires_at.to_string())
    );
}

#[test]
fn cache_files_are_private_and_no_temp_files_are_left() {
    let env = wired(TestEnv::new());
    assert!(env.fill().status.success());
    let l = env.layout();
    assert_eq!(crate::support::mode(&l.cache_dir), 0o700);
    for f in [&l.cache_token, &l.cache_expiry] {
        assert_eq!(crate::support::mode(f), 0o600);
    }
    let names: Vec<String> = std::fs::read_dir(&l.cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
}

#[test]
fn symlinked_cache_dir_is_never_written() {
    let env = wired(TestEnv::new());
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.layout().cache_dir).unwrap();
    let out = env.fill();
    assert!(password(&out).is_some(), "still answers from the platform");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn a_writer_killed_mid_way_never_leaves_a_partial_pair() {
    let env = TestEnv::new();
    let l = env.layout();
    // How long one whole fetch-and-write takes here; the kills sweep that
    // span evenly, so some land after the platform issued a token but
    // before the cache held it (counted below: the proof they landed).
    let started = std::time::Instant::now();
    env.bundled_helper("_fetch_token").output();
    let span = started.elapsed().as_micros() as u64;
    let _ = std::fs::remove_file(&l.cache_expiry);
    let kills = 60;
    let mut mid_write = 0;
    for i in 0..kills {
        let issued_before = env.platform().issued().len();
        let mut c = env.bundled_helper("_fetch_token");
        c.cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_micros(span * i / kills));
        let _ = child.kill();
        let _ = child.wait();
        let (token, expiry) = cache_files(&env);
        let issued = env.platform().issued();
        let newest_cached = issued.len() > issued_before
            && expiry.is_some()
            && token.as_deref().and_then(|t| t.lines().next())
                == issued.last().map(|t| t.token.as_str());
        if issued.len() > issued_before && !newest_cached {
            mid_write += 1;
        }
        if let Some(token) = &token {
            let token = token.lines().next().unwrap_or("");
            let t = issued.iter().find(|t| t.token == token);
            assert!(
                t.is_some(),
                "cache holds a token the platform never issued: {token:?}"
            );
            if let Some(expiry) = &expiry {
                // Both files are whole (atomic renames). When they come
                // from one write (same generation) they belong together.
                let mut lines = expiry.lines();
                let cache_expiry: u64 = lines.next().unwrap().parse().expect("whole expiry");
                let expires_at: u64 = lines.next().unwrap().parse().expect("whole expires_at");
                let expiry_gen = lines.next().expect("generation line");
                assert!(cache_expiry <= expires_at - 300);
                if token_file_gen(&env).as_deref() == Some(expiry_gen) {
                    assert_eq!(
                        expires_at,
                        t.unwrap().expires_at,
                        "mismatched token/expiry pair"
                    );
                }
            }
        }
        // Whatever the kill left, the helper serves only a whole, consistent pair.
        let out = env
            .bundled_helper("get")
            .stdin("protocol=https\nhost=github.com\n\n")
            .output();
        if let Some(p) = password(&out) {
            assert!(
                env.platform().issued().iter().any(|t| t.token == p),
                "served {p:?}"
            );
        }
        let _ = std::fs::remove_file(&l.cache_expiry);
    }
    assert!(
        mid_write > 0,
        "none of {kills} kills over {span} µs landed between the platform's answer and the cache write"
    );
}

fn token_file_gen(env: &TestEnv) -> Option<String> {
    cache_files(env)
        .0
        .and_then(|t| t.lines().nth(1).map(str::to_string))
}

#[test]
fn refresh_gh_logs_gh_in_with_env_tokens_removed() {
    let env = TestEnv::builder()
        .var("GH_TOKEN", token(20))
        .var("GITHUB_TOKEN", token(20))
        .build();
    let out = env.bundled_helper("_refresh_gh").ok();
    let issued = env.platform().issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        env.platform().user_agents(),
        ["molecule-git-token-helper/_refresh_gh"]
    );
    let hosts = std::fs::read_to_string(env.home.join(".config/gh/hosts.yml")).unwrap();
    assert!(hosts.contains(&issued[0].token), "{hosts}");
    let log = env.gh_shim_log();
    assert!(
        log.contains("argv=auth login --hostname github.com --with-token env_token=\n"),
        "{log}"
    );
    assert!(!log.contains(&issued[0].token));
    assert!(!stderr(&out).contains(&issued[0].token));
    assert!(stdout(&out).is_empty());
}

#[test]
fn refresh_gh_bounds_a_hanging_gh() {
    let env = TestEnv::builder().var("GH_LOGIN_TIMEOUT_SEC", "1").build();
    crate::support::write_executable(&env.bin.join("gh"), "#!/usr/bin/env bash\nexec sleep 30\n");
    let started = std::time::Instant::now();
    let out = env.bundled_helper("_refresh_gh").fails();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gh was not bounded"
    );
    assert!(
        stderr(&out).contains("gh auth login failed"),
        "{}",
        stderr(&out)
    );
}

/// The request is in flight while curl runs: its argv is sampled then.
#[test]
fn neither_bearer_nor_token_appears_in_any_argv() {
    // The slow platform holds the request open while we sample every argv.
    let env = TestEnv::builder()
        .platform_mode(FakeMode::Slow)
        .slow_secs(2)
        .var("TOKEN_FETCH_TIMEOUT_SEC", "5")
        .build();
    let mut c = env.bundled_helper("_refresh_gh");
    c.cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.cmd.spawn().unwrap();
    let home = env.home.display().to_string();
    let (seen, _) =
        crate::support::procs::sample_argvs(&env, 1, || matches!(child.try_wait(), Ok(Some(_))));
    // Our curl: its User-Agent names the helper's action.
    let saw_curl = seen.iter().any(|argv| {
        argv.first().is_some_and(|a| a.ends_with("curl"))
            && argv
                .iter()
                .any(|a| a == "molecule-git-token-helper/_refresh_gh")
    });
    let argvs: std::collections::BTreeSet<String> = seen.iter().map(|a| a.join(" ")).collect();
    let _ = child.kill();
    let _ = child.wait();
    // curl is the one client: it ran, and saw neither in its argv.
    assert!(saw_curl, "curl never seen running ({home})");
    let issued = env.platform().issued();
    assert_eq!(issued.len(), 1);
    // Neither the bearer, nor the token, nor the platform's URL (it may
    // carry userinfo): curl reads all three from its config on stdin.
    let url = env.platform().url();
    let leaks: Vec<_> = argvs
        .iter()
        .filter(|a| a.contains(&env.secret) || a.contains(&issued[0].token) || a.contains(&url))
        .collect();
    assert!(leaks.is_empty(), "secrets in argv: {leaks:?}");
}

#[test]
fn bad_input_is_declined_without_hanging() {
    let env = TestEnv::new();
    // (input, answers?): declining is exit 0 with nothing on stdout.
    for (input, answers) in [
        ("garbage without equals\n\n".to_string(), false),
        (format!("host={}\n\n", "a".repeat(10_000)), false),
        (format!("protocol=https\n{}\n", "x".repeat(70_000)), false),
        ("protocol=https\nhost=github.com".to_string(), true),
        // bash drops a NUL as it reads: "git\0hub.com" reads as github.com,
        // which any caller may ask for anyway; "github.com\0x" does not.
        ("protocol=https\nhost=github.com\0x\n\n".to_string(), false),
        // Both protocol and host, or nothing.
        ("url=https://evil.example/x\n\n".to_string(), false),
        ("protocol=https\n\n".to_string(), false),
        ("host=github.com\n\n".to_string(), false),
        ("protocol=http\nhost=github.com\n\n".to_string(), false),
        (
            "capability[]=authtype\nprotocol=https\nhost=github.com\nwwwauth[]=Basic\n\n"
                .to_string(),
            true,
        ),
        (
            "unknown=1\nprotocol=https\nhost=github.com\n\nhost=evil.example\n".to_string(),
            true,
        ),
    ] {
        let out = env.bundled_helper("get").stdin(&input).output();
        assert_eq!(out.status.code(), Some(0), "{input:?}: {}", stderr(&out));
        assert_eq!(
            password(&out).is_some(),
            answers,
            "{input:?}: {}",
            stdout(&out)
        );
        if !answers {
            assert!(stdout(&out).is_empty());
        }
    }
    let unknown = env.bundled_helper("frobnicate").output();
    assert_eq!(unknown.status.code(), Some(2));
    // A stdin that never closes: the helper's bounded read still answers.
    let mut c = env.bundled_helper("get");
    c.cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.cmd.spawn().unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"protocol=https\nhost=github.com\n")
        .unwrap();
    let started = std::time::Instant::now();
    let done = wait_for(Duration::from_secs(20), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    drop(stdin);
    if !done {
        let _ = child.kill();
    }
    let _ = child.wait();
    assert!(done, "helper hung on an open stdin");
    assert!(started.elapsed() >= Duration::from_secs(5));
}

/// `get` answers only when git sends both `protocol=https` and the served
/// host; a request that lacks either gets nothing, and asks the platform
/// nothing.
#[test]
fn a_request_lacking_protocol_or_host_gets_nothing() {
    let env = TestEnv::new();
    for input in ["\n", "protocol=https\n\n", "host=github.com\n\n"] {
        let out = env.bundled_helper("get").stdin(input).output();
        assert_eq!(out.status.code(), Some(0), "{input:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{input:?}: {}", stdout(&out));
    }
    assert_eq!(env.platform().requests(), 0);
}

#[test]
fn a_pair_from_two_writes_is_never_served() {
    let env = wired(TestEnv::new());
    let later = now() + 3000;
    let token_file = format!("{}\nA\n", token(3));
    env.write_cache(
        Some(&token_file),
        Some(&format!("{later}\n{}\nB\n", later + 300)),
    );
    let out = env.fill();
    assert_eq!(
        password(&out).as_deref(),
        Some(env.platform().issued()[0].token.as_str())
    );
    // The same files with matching generations are served as they are.
    env.write_cache(
        Some(&token_file),
        Some(&format!("{later}\n{}\nA\n", later + 300)),
    );
    assert_eq!(password(&env.fill()).as_deref(), Some(token(3)));
}

#[test]
fn bash_env_cannot_answer_for_the_helper() {
    // Images sometimes set BASH_ENV; a non-interactive bash would source it
    // before our script, and this one answers and exits. `bash -p` skips it.
    let env = wired(TestEnv::new());
    let noisy = env.dir.path().join("noisy-bash-env");
    std::fs::write(
        &noisy,
        "echo username=evil; echo password=ghs_FromBashEnv; exit 0\n",
    )
    .unwrap();
    let mut c = env.git();
    c.args(["credential", "fill"])
        .stdin("protocol=https\nhost=github.com\n\n")
        .env("BASH_ENV", &noisy);
    let out = c.output();
    env.assert_answered_first_platform_token(&out);
}

#[test]
fn a_cache_hit_needs_no_program_besides_bash() {
    let env = TestEnv::new();
    assert!(password(&env.direct_get()).is_some(), "warm the cache");
    // With an empty PATH no external command can run: a hit still answers.
    let empty = env.dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut c = env.command("/bin/bash");
    c.arg(crate::support::repo_script("molecule-git-token-helper.sh"))
        .arg("get")
        .env("PATH", &empty)
        .stdin("protocol=https\nhost=github.com\n\n");
    let out = c.output();
    env.assert_answered_first_platform_token(&out);
    assert_eq!(env.platform().requests(), 1);
}

#[test]
fn without_flock_the_fetch_proceeds_unlocked_and_still_caches() {
    let env = TestEnv::new();
    let path = crate::support::path_with(
        &env,
        "no-flock",
        &[
            "bash", "curl", "mv", "rm", "mkdir", "env", "timeout", "stat",
        ],
    );
    let mut c = env.bundled_helper("get");
    c.env("PATH", &path)
        .stdin("protocol=https\nhost=github.com\n\n");
    let out = c.output();
    env.assert_answered_first_platform_token(&out);
    assert_eq!(
        cached_token(&env),
        password(&out),
        "unlocked writes still cache"
    );
    assert!(
        !env.layout().cache_dir.join(".staging").exists(),
        "the staged write is for locked fetches only"
    );
}

/// The host is lower-cased as ASCII only, whatever the caller's locale:
/// in a UTF-8 locale bash would fold U+0130 (İ) into `i`, making
/// `gİthub.com` github.com.
#[test]
fn a_host_is_lower_cased_as_ascii_in_any_locale() {
    let env = TestEnv::new();
    for locale in ["C.UTF-8", "C"] {
        let out = env
            .bundled_helper("get")
            .env("LC_ALL", locale)
            .stdin("protocol=https\nhost=g\u{130}thub.com\n\n")
            .output();
        assert!(stdout(&out).is_empty(), "{locale}: {}", stdout(&out));
        let out = env
            .bundled_helper("get")
            .env("LC_ALL", locale)
            .stdin("protocol=https\nhost=GitHub.COM\n\n")
            .output();
        assert!(password(&out).is_some(), "{locale}: {}", stderr(&out));
    }
}
