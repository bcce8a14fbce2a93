//! Outage resilience in compressed time (tokens of seconds, every duration a
//! setting): git keeps a token GitHub accepts through platform outages, and
//! the daemon asks the platform only when it can hand out something new.

use std::time::{Duration, Instant};

use molecule_credential_helper::testing::{FakeMode, FakePlatform, FakePlatformConfig};

use crate::support::running::Running;
use crate::support::{now_f64, password, stderr, token, wait_for, TestEnv, TestEnvBuilder};

/// Sleeps until the wall clock reaches `epoch` (seconds, fractional).
fn sleep_until(epoch: f64) {
    let left = epoch - now_f64();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

/// Tokens of `ttl` seconds; the cache goes stale `margin` seconds before the
/// end; a token is served until `min_remaining` before it. The provision
/// token in GITHUB_TOKEN stands for the one that died hours ago.
fn compressed(ttl: u64, margin: u64, min_remaining: u64) -> TestEnvBuilder {
    TestEnv::builder()
        .platform_ttl(ttl)
        .var("TOKEN_EXPIRY_MARGIN_SEC", &margin.to_string())
        .var("TOKEN_MIN_REMAINING_SEC", &min_remaining.to_string())
        .var("TOKEN_FETCH_TIMEOUT_SEC", "2")
        .var("GITHUB_TOKEN", token(50))
}

/// An outage from the moment the cache goes stale until just before
/// expires_at - TOKEN_MIN_REMAINING_SEC: every fill gets the cached token,
/// nothing from the env; past that point the env fallback; after the outage
/// a new token.
#[test]
fn git_keeps_the_cached_token_through_an_outage_while_github_accepts_it() {
    let env = compressed(14, 10, 3).build();
    env.configure_git_for_bundled_helper();
    let first = env.fill();
    let issued = env.platform().issued();
    assert_eq!(password(&first).as_deref(), Some(issued[0].token.as_str()));
    let expires_at = issued[0].expires_at as f64;
    env.platform().set_mode(FakeMode::Http500);

    // Stale from expires_at - 10; served until expires_at - 3. Each fill
    // asks the platform first (the cache is stale), then serves the token.
    let asked_before = env.platform().requests();
    for at in [-9.5, -8.0, -6.5, -5.0, -4.2] {
        sleep_until(expires_at + at);
        let out = env.fill();
        assert_eq!(
            password(&out).as_deref(),
            Some(issued[0].token.as_str()),
            "at expires_at{at}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("HTTP 500") && stderr(&out).contains("GitHub accepts for"),
            "{}",
            stderr(&out)
        );
    }
    assert!(
        env.platform().requests() > asked_before,
        "the stale cache was served without asking the platform"
    );
    // Inside TOKEN_MIN_REMAINING_SEC: not served; the next source is.
    sleep_until(expires_at - 2.5);
    let out = env.fill();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(50)),
        "{}",
        stderr(&out)
    );

    env.platform().set_mode(FakeMode::Ok);
    sleep_until(expires_at - 0.5); // past the failure's single-flight window
    std::thread::sleep(Duration::from_secs(2));
    let after = env.fill();
    let issued = env.platform().issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(password(&after).as_deref(), Some(issued[1].token.as_str()));
}

/// During an outage, 32 concurrent fills on a stale cache make one platform
/// request per fetch timeout, not 32, and every one gets the cached token.
#[test]
fn concurrent_fills_during_a_stall_make_one_request() {
    let env = compressed(60, 59, 3).slow_secs(10).build();
    let first = env.direct_get();
    let issued = env.platform().issued();
    assert_eq!(password(&first).as_deref(), Some(issued[0].token.as_str()));
    sleep_until(issued[0].expires_at as f64 - 58.5); // stale now
    env.platform().set_mode(FakeMode::Slow);
    let before = env.platform().requests();
    for out in env.concurrent_direct_gets(32) {
        assert_eq!(
            password(&out).as_deref(),
            Some(issued[0].token.as_str()),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(env.platform().requests() - before, 1);
}

/// A daemon against `platform`, with tokens of `ttl` seconds.
fn daemon_env(platform: FakePlatformConfig, margin: u64) -> TestEnv {
    let mut env = TestEnv::builder()
        .no_platform()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
        .var("TOKEN_REFRESH_JITTER_SEC", "0")
        .var("TOKEN_REFRESH_INTERVAL_SEC", "1000")
        .var("TOKEN_REFRESH_RETRY_MIN_SEC", "1")
        .var("TOKEN_REFRESH_RETRY_MAX_SEC", "2")
        .var("TOKEN_EXPIRY_MARGIN_SEC", &margin.to_string())
        .var("TOKEN_MIN_REMAINING_SEC", "1")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "2")
        .build();
    let platform = FakePlatform::start(FakePlatformConfig {
        secret: env.secret.clone(),
        ..platform
    })
    .unwrap();
    env.set("PLATFORM_URL", &platform.url());
    env.platform = Some(platform);
    env
}

/// A platform that mints on every request: the daemon asks at each new
/// token's half-life, twice per token life.
#[test]
fn against_a_minting_platform_the_daemon_refreshes_at_half_life() {
    let env = daemon_env(
        FakePlatformConfig {
            ttl_secs: 10,
            ..Default::default()
        },
        3,
    );
    let daemon = Running::start(&env, &[]);
    assert!(
        wait_for(Duration::from_secs(30), || env.platform().requests() >= 4),
        "{}",
        daemon.log()
    );
    // Never early (load only lengthens a gap), and at least one gap near
    // the 5 s half-life: a schedule at the cache's staleness (7 s) could
    // never make one below 6.5 s.
    let gaps = env.arrival_gaps();
    assert!(gaps.iter().all(|g| *g >= 4.0), "{gaps:?}\n{}", daemon.log());
    let shortest = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(shortest <= 6.5, "{gaps:?}\n{}", daemon.log());
    assert!(
        daemon.log().contains("new token: at its half-life"),
        "{}",
        daemon.log()
    );
}

/// A platform that caches its token (like the real one's GitHub App plugin)
/// hands the same token back: the daemon then asks when its cache goes
/// stale, never at halves of halves, and never in a tightening loop.
#[test]
fn against_a_caching_platform_the_daemon_asks_when_the_cache_goes_stale() {
    let env = daemon_env(
        FakePlatformConfig {
            ttl_secs: 10,
            cache_lead_secs: Some(3),
            ..Default::default()
        },
        3,
    );
    let daemon = Running::start(&env, &[]);
    let started = Instant::now();
    // Three tokens' lives (~21 s unloaded), awaited rather than slept.
    assert!(
        wait_for(Duration::from_secs(90), || env.platform().issued().len()
            >= 3),
        "{}",
        daemon.log()
    );
    let requests = env.platform().requests();
    let tokens = env.platform().issued().len();
    let elapsed = started.elapsed().as_secs_f64();
    // About 7 s per token here (rotated 3 s before a 10 s life): at most
    // ~3 requests per token life, and no gap shorter than RETRY_MIN.
    assert!(
        tokens >= 3,
        "{tokens} tokens in {elapsed:.0}s\n{}",
        daemon.log()
    );
    assert!(
        requests as f64 <= 3.0 * tokens as f64,
        "{requests} requests for {tokens} tokens\n{}",
        daemon.log()
    );
    assert!(
        env.arrival_gaps().iter().all(|g| *g >= 0.9),
        "{:?}",
        env.arrival_gaps()
    );
    assert!(
        daemon
            .log()
            .contains("same token: when the cache goes stale"),
        "{}",
        daemon.log()
    );
}

/// gh failing is not the platform failing: one platform request per
/// refresh period, the login alone retried on the backoff, gh's own reason
/// in the log (one line, no token).
#[test]
fn a_gh_only_failure_retries_the_login_not_the_platform() {
    let env = daemon_env(
        FakePlatformConfig {
            ttl_secs: 60,
            ..Default::default()
        },
        5,
    );
    crate::support::write_executable(
        &env.bin.join("gh"),
        "#!/bin/sh\ncat >/dev/null\necho 'HTTP 401: Bad credentials (https://api.github.com/graphql)' >&2\nprintf '\\033[31mtry again\\n' >&2\nexit 1\n",
    );
    let daemon = Running::start(&env, &[]);
    assert!(
        daemon.wait_log(
            Duration::from_secs(15),
            "gh login failed (exit 3); gh retry in"
        ),
        "{}",
        daemon.log()
    );
    // Three login attempts, awaited: the platform was asked only once.
    assert!(
        wait_for(Duration::from_secs(30), || daemon
            .log()
            .matches("gh auth login failed")
            .count()
            >= 3),
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    assert_eq!(env.platform().requests(), 1, "{log}");
    assert!(log.contains("refresh ok but gh login failed"), "{log}");
    assert!(
        log.contains("gh auth login failed (exit 1): HTTP 401: Bad credentials (https://api.github.com/graphql) [31mtry again"),
        "{log}"
    );
    assert!(log.matches("gh auth login failed").count() >= 3, "{log}");
    assert!(!log.contains('\u{1b}'), "control characters in the log");
    let issued = env.platform().issued();
    assert!(!log.contains(&issued[0].token));
}

/// The worst moment for an outage against a minting platform is just before
/// the half-life refresh: the cached token still carries git for half its
/// life minus TOKEN_MIN_REMAINING_SEC.
#[test]
fn worst_case_headroom_against_a_minting_platform_is_half_a_life() {
    let (ttl, min_remaining) = (16.0, 2.0);
    let env = daemon_env(
        FakePlatformConfig {
            ttl_secs: ttl as u64,
            ..Default::default()
        },
        5,
    );
    let mut env = env;
    env.set("TOKEN_MIN_REMAINING_SEC", "2");
    env.set("GITHUB_TOKEN", token(50));
    env.configure_git_for_bundled_helper();
    let daemon = Running::start(&env, &[]);
    assert!(
        wait_for(Duration::from_secs(10), || env.platform().requests() == 1),
        "{}",
        daemon.log()
    );
    let issued = env.platform().issued()[0].clone();
    // The outage starts just before the refresh due at the half-life.
    sleep_until(issued.expires_at as f64 - ttl / 2.0 - 0.5);
    env.platform().set_mode(FakeMode::Http500);
    let outage_start = now_f64();
    let mut last_served = outage_start;
    while now_f64() < issued.expires_at as f64 + 1.0 {
        // When this fill started: the helper decided at or after it.
        let asked = now_f64();
        let out = env.fill();
        if password(&out).as_deref() == Some(issued.token.as_str()) {
            last_served = asked;
        } else {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let headroom = last_served - outage_start;
    let expected = ttl / 2.0 - min_remaining + 0.5;
    // Never served past expires_at - TOKEN_MIN_REMAINING_SEC (a fill that
    // started later cannot have been answered earlier); served until near
    // it, with headroom for slow fills on a loaded machine.
    assert!(
        (expected - 3.0..=expected + 0.5).contains(&headroom),
        "headroom {headroom:.1}s, expected ~{expected:.1}s\n{}",
        daemon.log()
    );
    eprintln!("outage: minting platform, ttl {ttl}s: headroom {headroom:.1}s (half a life minus TOKEN_MIN_REMAINING_SEC)");
}
