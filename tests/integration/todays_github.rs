//! GitHub as it is today: installation tokens in the stateless
//! `ghs_<APPID>_<JWT>` format (~520 characters, dots, base64url), every host
//! spelling git sends, and the replies a hostile or broken platform can send.

use std::process::Output;
use std::time::{Duration, Instant};

use molecule_credential_helper::report::{Outcome, Step};
use molecule_credential_helper::testing::{FakePlatform, FakePlatformConfig, TokenFormat};
use proptest::prelude::*;
use rstest::rstest;

use crate::support::raw_server::RawServer;
use crate::support::{
    files_containing, now, password, stderr, stdout, token, wait_for, SupervisorGuard, TestEnv,
};

/// The helper's `get` with these attributes.
fn get(env: &TestEnv, attrs: &str) -> Output {
    env.bundled_helper("get").stdin(attrs).output()
}

/// The helper's own stderr lines (git adds none here: no git runs).
fn helper_lines(out: &Output) -> Vec<String> {
    stderr(out).lines().map(str::to_string).collect()
}

// --- host spellings ------------------------------------------------------------

#[rstest]
#[case::plain("github.com", true)]
#[case::capitals("GitHub.com", true)]
#[case::default_port("github.com:443", true)]
#[case::both("GITHUB.COM:443", true)]
#[case::other_port("github.com:8443", false)]
#[case::subdomain("gist.github.com", false)]
#[case::suffix("github.com.evil.example", false)]
#[case::port_twice("github.com:443:443", false)]
fn get_and_erase_answer_for_every_spelling_of_github_com(#[case] host: &str, #[case] ours: bool) {
    let env = TestEnv::new();
    let attrs = format!("protocol=https\nhost={host}\n\n");
    // Cold (a fetch), then hot (the cache).
    for round in ["cold", "hot"] {
        let out = get(&env, &attrs);
        assert!(out.status.success(), "{round}: {}", stderr(&out));
        if ours {
            env.assert_answered_first_platform_token(&out);
        } else {
            assert!(stdout(&out).is_empty(), "{round}: {}", stdout(&out));
        }
    }
    let issued = env.platform().issued();
    assert_eq!(issued.len(), usize::from(ours));
    if !ours {
        return;
    }
    // erase with the served password evicts it, under the same spelling.
    let erase = format!(
        "protocol=https\nhost={host}\nusername=x-access-token\npassword={}\n\n",
        issued[0].token
    );
    env.bundled_helper("erase").stdin(&erase).ok();
    assert!(!env.layout().cache_token.exists());
    let next = get(&env, &attrs);
    assert_eq!(
        password(&next).as_deref(),
        Some(env.platform().issued()[1].token.as_str())
    );
}

#[test]
fn erase_for_another_host_leaves_the_cache_alone() {
    let env = TestEnv::new();
    let served = password(&env.direct_get()).unwrap();
    let erase =
        format!("protocol=https\nhost=gitlab.com\nusername=x-access-token\npassword={served}\n\n");
    env.bundled_helper("erase").stdin(&erase).ok();
    assert!(env.layout().cache_token.exists());
}

// --- the credential protocol has room for the longest token ------------------

#[test]
fn a_4096_character_token_round_trips_through_git() {
    let env = TestEnv::new();
    let long = format!("ghs_{}", "aB3.-_".repeat(682)); // 4096 characters
    assert_eq!(long.len(), 4096);
    env.platform().set_raw_body(Some(format!(
        r#"{{"token":"{long}","expires_at":"2099-01-01T00:00:00Z"}}"#
    )));
    env.configure_git_for_bundled_helper();
    let out = env.fill();
    assert_eq!(
        password(&out).as_deref(),
        Some(long.as_str()),
        "{}",
        stderr(&out)
    );
    // git sends it back on reject; the helper reads the whole line.
    env.git()
        .args(["credential", "reject"])
        .stdin(format!(
            "protocol=https\nhost=github.com\npath=org/repo.git\nusername=x-access-token\npassword={long}\n\n"
        ))
        .ok();
    assert!(!env.layout().cache_token.exists(), "reject did not evict");
}

// --- hostile and broken replies --------------------------------------------------

fn json_reply(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn token_body(token: &str) -> String {
    format!(r#"{{"token":"{token}","expires_at":"2099-01-01T00:00:00Z"}}"#)
}

fn too_big_with_length() -> String {
    json_reply(
        "200 OK",
        "",
        &format!("{}{}", token_body(token(5)), " ".repeat(70_000)),
    )
}

/// A 200 reply whose body is exactly `size` bytes: the token, then spaces.
fn padded_to(size: usize) -> String {
    let body = token_body(token(5));
    json_reply(
        "200 OK",
        "",
        &format!("{body}{}", " ".repeat(size - body.len())),
    )
}

fn too_big_to_the_close() -> String {
    format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}{}",
        token_body(token(5)),
        " ".repeat(70_000)
    )
}

fn too_big_in_chunks() -> String {
    let chunk = " ".repeat(40_000);
    format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    )
}

fn trailing_whitespace() -> String {
    json_reply(
        "200 OK",
        "",
        &format!("{}{}", token_body(token(5)), " \n\t".repeat(7_000)),
    )
}

fn nested_and_top_level() -> String {
    json_reply(
        "200 OK",
        "",
        &format!(
            r#"{{"data":{{"token":"{}","expires_at":"2000-01-01T00:00:00Z"}},"token":"{}","expires_at":"2099-01-01T00:00:00Z"}}"#,
            token(6),
            token(5)
        ),
    )
}

fn nested_only() -> String {
    json_reply(
        "200 OK",
        "",
        &format!(r#"{{"data":{}}}"#, token_body(token(5))),
    )
}

fn duplicate_token() -> String {
    json_reply(
        "200 OK",
        "",
        &format!(r#"{{"token":"{}","token":"{}"}}"#, token(5), token(6)),
    )
}

/// `tok\u0065n` is `token`: a second one the raw-text duplicate rule
/// cannot see, so a top-level key with an escape is refused.
fn escaped_duplicate_token() -> String {
    json_reply(
        "200 OK",
        "",
        &format!(r#"{{"token":"{}","tok\u0065n":"{}"}}"#, token(5), token(6)),
    )
}

/// A body just under the cap, one string of backslashes ending in `x\"`:
/// 33 s of CPU for the old reader's trailing-backslash regex.
fn backslashes_to_the_cap() -> String {
    let body = format!(r#"{{"a":"{}x\""#, "\\".repeat(65_480));
    json_reply("200 OK", "", &body)
}

/// 21,000 empty strings: linear, but 1.6 s for the old reader.
fn empty_strings_to_the_cap() -> String {
    let body = format!(
        r#"{{"a":[{}""],"token":"{}"}}"#,
        "\"\",".repeat(21_000),
        token(5)
    );
    json_reply("200 OK", "", &body)
}

/// The usual members, then 32,000 lines of one blank each: whitespace runs
/// are one separator, so this is read at once and served.
fn blank_lines_to_the_cap() -> String {
    let body = format!(
        r#"{{"token":"{}","expires_at":"2099-01-01T00:00:00Z","a":1{}}}"#,
        token(5),
        " \n".repeat(32_000)
    );
    json_reply("200 OK", "", &body)
}

/// 32,000 numbers: 2.5 s for the old reader.
fn numbers_to_the_cap() -> String {
    let body = format!(
        r#"{{"a":[{}1],"token":"{}"}}"#,
        "1,".repeat(32_000),
        token(5)
    );
    json_reply("200 OK", "", &body)
}

fn continue_first() -> String {
    format!(
        "HTTP/1.1 100 Continue\r\n\r\n{}",
        json_reply("200 OK", "", &token_body(token(5)))
    )
}

fn redirect() -> String {
    json_reply(
        "301 Moved Permanently",
        "Location: /admin/github-installation-token\r\n",
        r#"{"error":"moved"}"#,
    )
}

fn forged_error() -> String {
    let text = format!(
        "\u{1b}[2J\\r\r[molecule-gh-token-refresh] 2026-11-29T00:00:00Z refresh ok{}",
        "x".repeat(300)
    );
    json_reply(
        "500 Internal Server Error",
        "",
        &format!(r#"{{"error":"{text}"}}"#),
    )
}

fn huge_chunk_size() -> String {
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n{}\r\n0\r\n\r\n".into()
}

/// Each reply is a failed fetch with one line saying why, or serves the
/// top-level token; never a bash error line, never more than 64 KiB read.
#[rstest]
#[case::too_big_with_length(too_big_with_length(), Err("larger than 64 KiB"))]
#[case::too_big_to_the_close(too_big_to_the_close(), Err("larger than 64 KiB"))]
#[case::padded_to_the_cap_less_one(padded_to(65_535), Ok(()))]
#[case::padded_to_the_cap(padded_to(65_536), Ok(()))]
#[case::padded_past_the_cap(padded_to(65_537), Err("larger than 64 KiB"))]
#[case::too_big_in_chunks(too_big_in_chunks(), Err("larger than 64 KiB"))]
#[case::trailing_whitespace(trailing_whitespace(), Ok(()))]
#[case::nested_and_top_level(nested_and_top_level(), Ok(()))]
#[case::nested_only(nested_only(), Err("no token in the response"))]
#[case::duplicate_token(duplicate_token(), Err("\"token\" named twice"))]
#[case::escaped_duplicate_token(
    escaped_duplicate_token(),
    Err("a top-level key written with an escape")
)]
#[case::backslashes_to_the_cap(backslashes_to_the_cap(), Err("more than 512 quotes, backslashes"))]
#[case::empty_strings_to_the_cap(
    empty_strings_to_the_cap(),
    Err("more than 512 quotes, backslashes")
)]
#[case::numbers_to_the_cap(numbers_to_the_cap(), Err("more than 512 quotes, backslashes"))]
#[case::blank_lines_to_the_cap(blank_lines_to_the_cap(), Ok(()))]
#[case::continue_first(continue_first(), Ok(()))]
#[case::redirect(
    redirect(),
    Err("HTTP 301 (a redirect; not followed); platform said: \"moved\"")
)]
#[case::forged_error(forged_error(), Err("HTTP 500 ("))]
#[case::huge_chunk_size(huge_chunk_size(), Err("platform fetch failed: "))]
fn a_hostile_reply_is_read_within_bounds(
    #[case] reply: String,
    #[case] expected: Result<(), &str>,
) {
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    env.set("TOKEN_FETCH_TIMEOUT_SEC", "5");
    let started = Instant::now();
    let out = env.direct_get();
    // A hang, or seconds of CPU in a parser, would show here.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.heads().len(),
        1,
        "exactly one request, no redirect followed"
    );
    let lines = helper_lines(&out);
    match expected {
        Ok(()) => {
            assert_eq!(
                password(&out).as_deref(),
                Some(token(5)),
                "{}",
                stderr(&out)
            );
            assert!(lines.is_empty(), "{lines:?}");
        }
        Err(reason) => {
            assert!(!out.status.success());
            assert!(stdout(&out).is_empty());
            assert_eq!(lines.len(), 1, "one line: {lines:?}");
            assert!(lines[0].contains(reason), "{reason:?} not in {lines:?}");
            assert!(!lines[0].contains("bash"), "{lines:?}");
            // Text from the body arrives without control characters, cut
            // to 200 characters.
            assert!(!lines[0].chars().any(|c| c.is_control()), "{lines:?}");
            // A body that is not strict JSON (raw control characters in a
            // string) shows no error text at all.
            if let Some(rest) = lines[0]
                .split("HTTP 500 (")
                .nth(1)
                .filter(|r| !r.starts_with("platform "))
            {
                let text = rest.split(") (platform ").next().unwrap();
                assert!(text.len() <= 200, "{} characters", text.len());
                assert!(!text.contains("\u{1b}"));
            }
            assert!(!env.layout().cache_token.exists());
        }
    }
}

/// A 20 KB tail of whitespace used to cost ~50 s of CPU in a trim while
/// holding the fetch lock, so every waiter fetched again.
#[test]
fn concurrent_fills_of_a_padded_reply_make_one_request() {
    let server = RawServer::start(trailing_whitespace().as_bytes(), Duration::ZERO);
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    for out in env.concurrent_direct_gets(3) {
        assert_eq!(
            password(&out).as_deref(),
            Some(token(5)),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(server.heads().len(), 1);
}

#[rstest]
fn an_expiry_that_is_not_rfc3339_caches_for_the_ttl_and_says_so() {
    let body = format!(
        r#"{{"token":"{}","expires_at":"tomorrow\u0007"}}"#,
        token(5)
    );
    let server = RawServer::start(json_reply("200 OK", "", &body).as_bytes(), Duration::ZERO);
    let mut env = TestEnv::builder()
        .no_platform()
        .var("TOKEN_CACHE_TTL_SEC", "1234")
        .build();
    env.set("PLATFORM_URL", &server.url());
    let before = now();
    let out = env.direct_get();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(5)),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("password_expiry_utc"));
    let lines = helper_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("not an RFC 3339 time") && lines[0].contains("1234s"));
    let expiry = env.cache_expiry_epoch();
    assert!((before + 1234..=now() + 1234).contains(&expiry), "{expiry}");
}

// --- settings, WORKSPACE_ID and PLATFORM_URL ---------------------------------

/// A cold `get` with a nonsense setting still fetches (with the default and
/// one line naming the variable) and never runs anything from it.
#[rstest]
#[case::word("TOKEN_CACHE_TTL_SEC", "abc")]
#[case::unit("TOKEN_CACHE_TTL_SEC", "5m")]
#[case::exponent("TOKEN_CACHE_TTL_SEC", "1e3")]
#[case::twenty_digits("TOKEN_CACHE_TTL_SEC", "18446744073709551615")]
#[case::code("TOKEN_CACHE_TTL_SEC", "NOW[$(touch pwned)]")]
#[case::negative("TOKEN_EXPIRY_MARGIN_SEC", "-5")]
#[case::expression("TOKEN_FETCH_TIMEOUT_SEC", "2+2")]
#[case::zero_timeout("TOKEN_FETCH_TIMEOUT_SEC", "0")]
fn a_setting_that_is_not_whole_seconds_means_its_default(#[case] var: &str, #[case] value: &str) {
    let env = TestEnv::builder().var(var, value).build();
    let out = env.direct_get();
    env.assert_answered_first_platform_token(&out);
    let lines = helper_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(var) && lines[0].contains("not a whole number of seconds"),
        "{lines:?}"
    );
    assert!(
        !env.dir.path().join("pwned").exists(),
        "the setting ran code"
    );
}

#[rstest]
#[case::parent("../admin")]
#[case::slash("a/b")]
#[case::dot(".")]
#[case::dot_dot("..")]
#[case::space("ws 1")]
#[case::query("ws?x=1")]
#[case::too_long(&"w".repeat(129))]
fn a_workspace_id_that_is_not_a_plain_name_sends_no_request(#[case] id: &str) {
    let env = TestEnv::builder()
        .var("WORKSPACE_ID", id)
        .var("GITHUB_TOKEN", token(6))
        .build();
    let out = env.direct_get();
    assert_eq!(env.platform().requests(), 0);
    // The fallback still serves, and one line says what was wrong.
    assert_eq!(password(&out).as_deref(), Some(token(6)));
    let lines = helper_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("WORKSPACE_ID"), "{lines:?}");
}

#[test]
fn a_128_character_workspace_id_is_used() {
    let id = "w.-_".repeat(32);
    let env = TestEnv::builder().var("WORKSPACE_ID", &id).build();
    env.assert_answered_first_platform_token(&env.direct_get());
    assert_eq!(
        env.platform().routes(),
        [format!("/workspaces/{id}/github-installation-token")]
    );
}

/// Userinfo in PLATFORM_URL goes to curl in its config on stdin, never argv.
#[test]
fn userinfo_in_the_platform_url_never_reaches_argv() {
    let mut env = TestEnv::builder()
        .platform_mode(molecule_credential_helper::testing::FakeMode::Slow)
        .slow_secs(2)
        .var("TOKEN_FETCH_TIMEOUT_SEC", "5")
        .build();
    let url = env
        .platform()
        .url()
        .replace("http://", "http://molecule:hunter2@");
    env.set("PLATFORM_URL", &url);
    let mut c = env.bundled_helper("_fetch_token");
    c.cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.cmd.spawn().unwrap();
    let (seen, _) =
        crate::support::procs::sample_argvs(&env, 1, || matches!(child.try_wait(), Ok(Some(_))));
    let saw_curl = seen.iter().any(|argv| {
        argv.iter()
            .any(|a| a == "molecule-git-token-helper/_fetch_token")
    });
    let leaks: Vec<_> = seen
        .iter()
        .filter(|argv| argv.iter().any(|a| a.contains("hunter2")))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_curl, "a URL with userinfo goes through curl");
    assert!(leaks.is_empty(), "{leaks:?}");
    assert_eq!(env.platform().requests(), 1);
}

// --- the whole product with today's tokens ------------------------------------

/// New-format platform and provision tokens: install primes gh (env tokens
/// removed), git fills with the platform token and its expiry, reject
/// evicts it, the daemon logs gh in with a fresh one, status is healthy, and
/// no token is anywhere but the cache and gh's hosts file.
#[test]
fn todays_tokens_work_end_to_end() {
    let provision = token(30);
    let env = TestEnv::builder()
        .var("GH_TOKEN", provision)
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "2")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(_))),
        "{report}"
    );
    let hosts_file = env.home.join(".config/gh/hosts.yml");
    let hosts = || std::fs::read_to_string(&hosts_file).unwrap_or_default();
    // The login runs detached: install does not wait for it.
    assert!(
        wait_for(Duration::from_secs(10), || hosts().contains(provision)),
        "{}",
        env.gh_shim_log()
    );
    assert!(
        env.gh_shim_log().contains("env_token=\n"),
        "{}",
        env.gh_shim_log()
    );

    let out = env.fill();
    let issued = env.platform().issued();
    assert_eq!(password(&out).as_deref(), Some(issued[0].token.as_str()));
    assert!(issued[0].token.len() > 500 && issued[0].token.contains('.'));
    assert!(stdout(&out).contains(&format!("password_expiry_utc={}", issued[0].expires_at)));
    env.git()
        .args(["credential", "reject"])
        .stdin(format!(
            "protocol=https\nhost=github.com\npath=org/repo.git\nusername=x-access-token\npassword={}\n\n",
            issued[0].token
        ))
        .ok();
    let next = env.fill();
    let issued = env.platform().issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(password(&next).as_deref(), Some(issued[1].token.as_str()));

    // The daemon's first refresh logs gh in with a third, new-format token.
    assert!(
        wait_for(Duration::from_secs(20), || {
            env.platform()
                .issued()
                .get(2)
                .is_some_and(|t| hosts().contains(&t.token))
        }),
        "gh never got the daemon's token: {}",
        env.gh_shim_log()
    );
    let status = env.bin().args(["status", "--home"]).arg(&env.home).output();
    assert!(
        status.status.success(),
        "{}{}",
        stdout(&status),
        stderr(&status)
    );

    let mut secrets = env.issued_tokens();
    secrets.push(provision.to_string());
    for secret in &secrets {
        let leaks: Vec<_> = files_containing(env.dir.path(), secret)
            .into_iter()
            .filter(|p| {
                !p.ends_with(".config/gh/hosts.yml") && !p.starts_with(env.layout().cache_dir)
            })
            .collect();
        assert!(leaks.is_empty(), "a token in {leaks:?}");
        assert!(!stdout(&status).contains(secret.as_str()));
    }
}

#[test]
fn the_fake_platform_issues_either_format() {
    for (format, check) in [
        (
            TokenFormat::Stateless,
            (|t: &str| t.len() > 500 && t.matches('.').count() == 2) as fn(&str) -> bool,
        ),
        (TokenFormat::Classic, |t: &str| {
            t.len() == 40 && !t.contains('.')
        }),
    ] {
        let mut env = TestEnv::builder().no_platform().build();
        let platform = FakePlatform::start(FakePlatformConfig {
            token_format: format,
            secret: env.secret.clone(),
            ..Default::default()
        })
        .unwrap();
        env.set("PLATFORM_URL", &platform.url());
        let out = env.direct_get();
        let served = password(&out).unwrap_or_default();
        assert!(check(&served), "{format:?}: {served}");
        assert_eq!(platform.issued()[0].token, served);
    }
}

// --- properties ---------------------------------------------------------------

fn alphabet_token() -> impl Strategy<Value = String> {
    // Mostly realistic lengths, sometimes the bound itself.
    prop_oneof!["[A-Za-z0-9._-]{1,700}", "[A-Za-z0-9._-]{4090,4096}",]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any string of the alphabet up to 4096 characters goes through
    /// fetch → cache → get → erase unchanged.
    #[test]
    fn any_token_of_the_alphabet_round_trips(token in alphabet_token()) {
        let env = TestEnv::new();
        env.platform().set_raw_body(Some(format!(
            r#"{{"token":"{token}","expires_at":"2099-01-01T00:00:00Z"}}"#
        )));
        let cold = env.direct_get();
        prop_assert_eq!(password(&cold), Some(token.clone()), "{}", stderr(&cold));
        let hot = env.direct_get();
        prop_assert_eq!(password(&hot), Some(token.clone()));
        prop_assert_eq!(env.platform().requests(), 1);
        let cached = molecule_credential_helper::cache::read(
            &molecule_credential_helper::os::RealFs, &env.layout()).unwrap();
        prop_assert_eq!(cached.token.as_ref().map(|t| t.expose().as_str()), Some(token.as_str()));
        env.bundled_helper("erase")
            .stdin(format!("protocol=https\nhost=github.com\npassword={token}\n\n"))
            .ok();
        prop_assert!(!env.layout().cache_token.exists());
    }

    /// A token with one character outside the alphabet is refused by the
    /// platform fetch and as an env fallback, and that character decides:
    /// the same token without it is served.
    #[test]
    fn a_token_with_any_other_character_is_refused_everywhere(
        head in "[A-Za-z0-9._-]{1,40}",
        bad in "[^A-Za-z0-9._\\-\u{0}]",
        tail in "[A-Za-z0-9._-]{0,40}",
    ) {
        let good = format!("{head}{tail}");
        let token = format!("{head}{bad}{tail}");
        prop_assert!(molecule_credential_helper::secret::is_valid_token(&good));
        prop_assert!(!molecule_credential_helper::secret::is_valid_token(&token));
        let body = |t: &str| format!(
            r#"{{"token":{},"expires_at":"2099-01-01T00:00:00Z"}}"#,
            serde_json::to_string(t).unwrap()
        );
        let mut env = TestEnv::new();
        env.platform().set_raw_body(Some(body(&token)));
        env.set("GITHUB_TOKEN", &token);
        let out = env.direct_get();
        prop_assert!(!out.status.success());
        prop_assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        prop_assert!(!env.layout().cache_token.exists());
        // Without the bad character: served, from the platform and from
        // the env (fresh envs: a failed fetch holds off the next one).
        let env = TestEnv::new();
        env.platform().set_raw_body(Some(body(&good)));
        prop_assert_eq!(password(&env.direct_get()), Some(good.clone()));
        let env = TestEnv::builder()
            .platform_mode(molecule_credential_helper::testing::FakeMode::Http500)
            .var("GITHUB_TOKEN", &good)
            .build();
        prop_assert_eq!(password(&env.direct_get()), Some(good));
    }

    /// A token that carries a `password=` line of its own (any valid token,
    /// a newline, then the injection) never puts a line of it on git's
    /// stdout, whether it came from the platform or the env.
    #[test]
    fn a_token_carrying_a_password_line_never_injects_it(
        seed in any::<u64>(),
        injected in "[A-Za-z0-9._-]{1,40}",
        from_env in any::<bool>(),
    ) {
        let token = format!("{}\npassword={injected}", crate::support::token(seed % 64));
        let mut env = TestEnv::new();
        if from_env {
            env.platform().set_mode(molecule_credential_helper::testing::FakeMode::Http500);
            env.set("GITHUB_TOKEN", &token);
        } else {
            env.platform().set_raw_body(Some(format!(
                r#"{{"token":{},"expires_at":"2099-01-01T00:00:00Z"}}"#,
                serde_json::to_string(&token).unwrap()
            )));
        }
        let out = env.direct_get();
        let injected_line = format!("password={injected}");
        prop_assert!(
            !stdout(&out).lines().any(|l| l == injected_line),
            "{}", stdout(&out)
        );
        prop_assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        prop_assert!(!env.layout().cache_token.exists());
    }
}
