//! The refresh daemon and its supervisor, with intervals of a second or two.

use std::time::{Duration, Instant};

use molecule_credential_helper::testing::FakeMode;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::procs::alive;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::support::running::{own_script, Running};
use crate::support::{wait_for, TestEnv, TestEnvBuilder};

fn fast(builder: TestEnvBuilder) -> TestEnv {
    builder
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
        .var("TOKEN_REFRESH_JITTER_SEC", "0")
        .var("TOKEN_REFRESH_INTERVAL_SEC", "1")
        .var("TOKEN_REFRESH_RETRY_MIN_SEC", "1")
        .var("TOKEN_REFRESH_RETRY_MAX_SEC", "2")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "2")
        .build()
}

const LINE_RE_HINT: &str = "[molecule-gh-token-refresh] YYYY-MM-DDTHH:MM:SSZ message";

fn is_log_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("[molecule-gh-token-refresh] ") else {
        return false;
    };
    let ts = rest.get(..20).unwrap_or("");
    let b = ts.as_bytes();
    ts.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && rest.len() > 21
}

#[test]
fn refreshes_on_the_interval_and_logs_without_tokens() {
    let env = fast(TestEnv::builder());
    let daemon = Running::start(&env, &[]);
    assert!(
        wait_for(Duration::from_secs(10), || env.platform().requests() >= 2),
        "{}",
        daemon.log()
    );
    assert!(
        daemon.wait_log(Duration::from_secs(5), "refresh ok; next in 1s"),
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(log.contains("first refresh in 0s"), "{log}");
    for line in log
        .lines()
        .filter(|l| l.starts_with("[molecule-gh-token-refresh]"))
    {
        assert!(is_log_line(line), "not {LINE_RE_HINT}: {line:?}");
    }
    for t in env.platform().issued() {
        assert!(!log.contains(&t.token), "token in the daemon log");
    }
    assert!(!log.contains(&env.secret));
    // gh was logged in by each refresh, env tokens removed.
    assert!(env.gh_shim_log().contains("login"));
}

/// Checked through the requests the platform saw, not only the log: a
/// daemon whose log says 4 s but sleeps 2 s fails. Each gap is at least the
/// logged sleep less one second (sleeps end on whole epoch seconds) and at
/// most it plus a generous 10 s for a loaded machine.
#[test]
fn failures_back_off_from_retry_min_doubling_to_retry_max() {
    let env = TestEnv::builder()
        .platform_mode(FakeMode::Http500)
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
        .var("TOKEN_REFRESH_JITTER_SEC", "0")
        .var("TOKEN_REFRESH_RETRY_MIN_SEC", "2")
        .var("TOKEN_REFRESH_RETRY_MAX_SEC", "4")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "2")
        .build();
    let daemon = Running::start(&env, &[]);
    assert!(
        wait_for(Duration::from_secs(40), || env.platform().requests() >= 4),
        "{}",
        daemon.log()
    );
    let retries: Vec<String> = daemon
        .log()
        .lines()
        .filter_map(|l| l.split("retry in ").nth(1).map(str::to_string))
        .collect();
    assert_eq!(&retries[..3], ["2s", "4s", "4s"], "{}", daemon.log());
    let gaps = env.arrival_gaps();
    for (gap, slept) in gaps.iter().zip([2.0, 4.0, 4.0]) {
        assert!(
            (slept - 1.0..=slept + 10.0).contains(gap),
            "slept {slept} s by the log, {gap:.2} s by the platform: {gaps:?}"
        );
    }
}

#[test]
fn success_after_failure_resets_the_backoff() {
    let env = fast(TestEnv::builder().platform_mode(FakeMode::Http500));
    let daemon = Running::start(&env, &[]);
    assert!(
        daemon.wait_log(Duration::from_secs(10), "retry in 1s"),
        "{}",
        daemon.log()
    );
    env.platform().set_mode(FakeMode::Ok);
    assert!(
        daemon.wait_log(Duration::from_secs(20), "refresh ok"),
        "{}",
        daemon.log()
    );
    env.platform().set_mode(FakeMode::Http500);
    let before = daemon.log().matches("retry in 1s").count();
    assert!(
        wait_for(Duration::from_secs(10), || daemon
            .log()
            .matches("retry in 1s")
            .count()
            > before),
        "backoff did not restart at RETRY_MIN: {}",
        daemon.log()
    );
}

#[test]
fn first_sleep_is_initial_delay_plus_jitter() {
    let env = TestEnv::builder()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "100")
        .var("TOKEN_REFRESH_JITTER_SEC", "5")
        .build();
    let mut delays = Vec::new();
    for _ in 0..12 {
        let daemon = Running::start(&env, &[]);
        assert!(
            daemon.wait_log(Duration::from_secs(5), "first refresh in"),
            "{}",
            daemon.log()
        );
        let log = daemon.log();
        let n: u64 = log
            .split("first refresh in ")
            .nth(1)
            .unwrap()
            .split('s')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        delays.push(n);
    }
    assert!(delays.iter().all(|d| (100..=105).contains(d)), "{delays:?}");
    assert!(
        delays.iter().any(|d| *d != delays[0]),
        "jitter never varied: {delays:?}"
    );
}

/// The first sleep, seen by the platform: eight daemons with a 1 s initial
/// delay and 0..3 s of jitter each make their first request no sooner than
/// their log says (a daemon whose log lies about its sleep fails), and not
/// all at the same moment.
#[test]
fn the_platform_sees_each_first_request_after_the_logged_first_sleep() {
    let envs: Vec<TestEnv> = (0..8)
        .map(|_| {
            TestEnv::builder()
                .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "1")
                .var("TOKEN_REFRESH_JITTER_SEC", "3")
                .build()
        })
        .collect();
    let started: Vec<(Running, Instant)> = envs
        .iter()
        .map(|env| (Running::start(env, &[]), Instant::now()))
        .collect();
    let mut first_seen: Vec<Option<f64>> = vec![None; envs.len()];
    let all_seen = wait_for(Duration::from_secs(60), || {
        for (i, env) in envs.iter().enumerate() {
            if first_seen[i].is_none() && env.platform().requests() > 0 {
                first_seen[i] = Some(started[i].1.elapsed().as_secs_f64());
            }
        }
        first_seen.iter().all(Option::is_some)
    });
    assert!(all_seen, "{first_seen:?}");
    let mut logged = Vec::new();
    for ((daemon, _), seen) in started.iter().zip(&first_seen) {
        let log = daemon.log();
        let n: f64 = log
            .split("first refresh in ")
            .nth(1)
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no first sleep logged: {log}"));
        let seen = seen.unwrap();
        assert!((1.0..=4.0).contains(&n), "{log}");
        assert!(
            seen >= n - 0.1,
            "logged {n} s, first request after {seen:.2} s"
        );
        logged.push(n);
    }
    assert!(
        logged.iter().any(|n| *n != logged[0]),
        "jitter never varied: {logged:?}"
    );
}

#[test]
fn sigterm_ends_the_daemon_promptly_while_it_sleeps() {
    let env = TestEnv::builder()
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .build();
    let mut daemon = Running::start(&env, &[]);
    assert!(
        daemon.wait_log(Duration::from_secs(5), "first refresh in"),
        "{}",
        daemon.log()
    );
    // It sleeps for an hour: ending within a (generous) minute is prompt.
    kill(Pid::from_raw(daemon.pid()), Signal::SIGTERM).unwrap();
    let status = daemon
        .wait_exit(Duration::from_secs(60))
        .expect("daemon ignored SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(daemon.log().contains("SIGTERM: daemon exiting"));
}

#[test]
fn supervisor_respawns_a_killed_daemon_and_cleans_up_on_sigterm() {
    let env = TestEnv::builder()
        .var("TOKEN_REFRESH_RESPAWN_SEC", "1")
        .build();
    let runtime = env.home.join(".molecule-runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut supervisor = Running::start(&env, &["--supervise"]);
    std::fs::write(
        runtime.join("refresh-daemon.pid"),
        format!("{}\n", supervisor.pid()),
    )
    .unwrap();
    // Our daemons as the library sees them (a supervisor's not-yet-exec'd
    // fork is not one), each read taken once.
    let daemons = || crate::support::procs::daemons(&env.home);
    assert!(
        wait_for(Duration::from_secs(5), || daemons().len() == 1),
        "{}",
        supervisor.log()
    );
    let first = daemons()[0];
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    let mut second = None;
    assert!(
        wait_for(Duration::from_secs(6), || {
            let now = daemons();
            second = (now.len() == 1 && now[0] != first).then(|| now[0]);
            second.is_some()
        }),
        "not respawned: {}",
        supervisor.log()
    );
    assert!(supervisor.log().contains("respawning in 1s"));
    let second = second.unwrap();

    kill(Pid::from_raw(supervisor.pid()), Signal::SIGTERM).unwrap();
    let status = supervisor
        .wait_exit(Duration::from_secs(3))
        .expect("supervisor ignored SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        wait_for(Duration::from_secs(3), || !alive(second)),
        "daemon orphaned"
    );
    assert!(
        !runtime.join("refresh-daemon.pid").exists(),
        "PID file left behind"
    );
}

#[test]
fn log_rotates_at_one_mebibyte() {
    let env = fast(TestEnv::builder().platform_mode(FakeMode::Http500));
    let runtime = env.home.join(".molecule-runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let log = runtime.join("refresh-daemon.log");
    // Nearly full: the next lines cross 1 MiB.
    std::fs::write(&log, vec![b'x'; 1024 * 1024 - 10]).unwrap();
    let mut c = env.command("bash");
    c.arg(own_script(&env, "molecule-gh-token-refresh.sh"));
    c.env(
        "TOKEN_HELPER_SCRIPT",
        own_script(&env, "molecule-git-token-helper.sh"),
    );
    let file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    c.cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0);
    let child = c.cmd.spawn().unwrap();
    let guard = Running {
        child,
        log: log.clone(),
    };
    assert!(
        wait_for(Duration::from_secs(10), || {
            runtime.join("refresh-daemon.log.1").exists()
                && std::fs::read_to_string(&log).is_ok_and(|s| s.contains("retry in"))
        }),
        "log did not follow rotation"
    );
    let rotated = std::fs::metadata(runtime.join("refresh-daemon.log.1")).expect("rotated .1");
    assert!(rotated.len() >= 1024 * 1024 - 10);
    assert!(std::fs::metadata(&log).unwrap().len() < 64 * 1024);
    drop(guard);
}

/// Every setting is checked as a glob before arithmetic sees it: a word, a
/// unit, an exponent, 20 digits (which used to overflow into a tight loop of
/// refreshes) or an arithmetic expression (which bash would run) all mean
/// the default, with one log line naming the variable.
#[rstest::rstest]
#[case::word("TOKEN_REFRESH_INITIAL_DELAY_SEC", "soon", "first refresh in 60s")]
#[case::unit("TOKEN_REFRESH_INITIAL_DELAY_SEC", "5m", "first refresh in 60s")]
#[case::exponent("TOKEN_REFRESH_INITIAL_DELAY_SEC", "1e3", "first refresh in 60s")]
#[case::code(
    "TOKEN_REFRESH_INITIAL_DELAY_SEC",
    "a[$(touch pwned)]",
    "first refresh in 60s"
)]
// The platform's hour-long token: refresh at its half-life, within the
// default interval.
#[case::huge_interval(
    "TOKEN_REFRESH_INTERVAL_SEC",
    "18446744073709551615",
    "refresh ok; next in 1800s"
)]
#[case::zero_interval("TOKEN_REFRESH_INTERVAL_SEC", "0", "refresh ok; next in 1800s")]
fn a_setting_that_is_not_whole_seconds_falls_back_to_its_default_with_a_log_line(
    #[case] var: &str,
    #[case] value: &str,
    #[case] then: &str,
) {
    let mut builder = TestEnv::builder().var("TOKEN_REFRESH_JITTER_SEC", "0");
    if var != "TOKEN_REFRESH_INITIAL_DELAY_SEC" {
        builder = builder.var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0");
    }
    let env = builder.var(var, value).build();
    let daemon = Running::start(&env, &[]);
    // "next in 1800s": the token's half-life, counted from its issue, so a
    // second boundary between issue and refresh may make it 1799.
    const NEXT: &str = "refresh ok; next in ";
    let expected_next = then
        .strip_prefix(NEXT)
        .and_then(|r| r.strip_suffix('s'))
        .map(|n| n.parse::<u64>().unwrap());
    let awaited = if expected_next.is_some() { NEXT } else { then };
    assert!(
        daemon.wait_log(Duration::from_secs(30), awaited),
        "{}",
        daemon.log()
    );
    if let Some(expected) = expected_next {
        let log = daemon.log();
        let next: u64 = log
            .lines()
            .find_map(|l| l.split(NEXT).nth(1))
            .and_then(|r| r.split('s').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{log}"));
        assert!((expected - 5..=expected).contains(&next), "{log}");
    }
    let named: Vec<_> = daemon
        .log()
        .lines()
        .filter(|l| l.contains(var))
        .map(str::to_string)
        .collect();
    assert_eq!(named.len(), 1, "{}", daemon.log());
    assert!(
        named[0].contains("is not a whole number of seconds"),
        "{named:?}"
    );
    assert!(
        !env.dir.path().join("pwned").exists(),
        "the setting ran code"
    );
    if var == "TOKEN_REFRESH_INTERVAL_SEC" {
        // No tight loop: a second request within 3 s would be one (the
        // next is due in 30 minutes).
        let second = wait_for(Duration::from_secs(3), || env.platform().requests() > 1);
        assert!(!second, "tight loop: {}", daemon.log());
    }
}

#[test]
fn sleeps_after_success_and_failure_get_jitter_too() {
    for (mode, needle) in [
        (FakeMode::Ok, "refresh ok; next in "),
        (FakeMode::Http500, "retry in "),
    ] {
        // Eight daemons side by side, each in its own env and log: a sleep
        // of 3 s plus 0..4 s of jitter after the first request.
        let envs: Vec<TestEnv> = (0..8)
            .map(|_| {
                TestEnv::builder()
                    .platform_mode(mode)
                    .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
                    .var("TOKEN_REFRESH_JITTER_SEC", "4")
                    .var("TOKEN_REFRESH_INTERVAL_SEC", "3")
                    .var("TOKEN_REFRESH_RETRY_MIN_SEC", "3")
                    .build()
            })
            .collect();
        let daemons: Vec<Running> = envs.iter().map(|env| Running::start(env, &[])).collect();
        let mut delays = Vec::new();
        for (env, daemon) in envs.iter().zip(&daemons) {
            assert!(
                wait_for(Duration::from_secs(60), || env.platform().requests() >= 2),
                "{}",
                daemon.log()
            );
            let log = daemon.log();
            let logged: u64 = log
                .split(needle)
                .nth(1)
                .and_then(|r| r.split('s').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {needle:?} in {log}"));
            // The platform saw the second request no sooner than the logged
            // sleep allows (less a second: sleeps end on whole epoch
            // seconds), and not absurdly later.
            let gap = env.arrival_gaps()[0];
            assert!(
                (logged as f64 - 1.0..=logged as f64 + 15.0).contains(&gap),
                "logged {logged} s, the platform saw {gap:.2} s\n{log}"
            );
            delays.push(logged);
        }
        assert!(delays.iter().all(|d| (3..=7).contains(d)), "{delays:?}");
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "no jitter: {delays:?}"
        );
    }
}

/// The daemon's sweep of REPO_ROOTS has a time limit: a git that never
/// returns (a stuck mount) is stopped with its whole process group, one
/// log line says so, and the daemon goes on refreshing.
#[test]
fn a_sweep_past_its_time_limit_is_stopped_and_refreshing_goes_on() {
    let mut env = fast(TestEnv::builder().var("MOLECULE_REPAIR_LIMIT_SEC", "2"));
    let root = env.dir.path().join("root");
    let repo = root.join("r/.git");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(
        repo.join("config"),
        "[remote \"origin\"]\n\turl = https://x:secret@github.com/o/r.git\n",
    )
    .unwrap();
    env.set("REPO_ROOTS", &root.display().to_string());
    // A git that hangs, leaving its PID behind.
    let pids = env.dir.path().join("git-pids");
    crate::support::write_executable(
        &env.bin.join("git"),
        &format!(
            "#!/bin/bash\necho $$ >> {}\nexec sleep 300\n",
            pids.display()
        ),
    );
    let daemon = Running::start(&env, &[]);
    assert!(
        daemon.wait_log(
            Duration::from_secs(20),
            "took longer than 2s and was stopped"
        ),
        "{}",
        daemon.log()
    );
    let hung: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(!hung.is_empty(), "the sweep never ran git");
    assert!(
        wait_for(Duration::from_secs(10), || hung.iter().all(|p| !alive(*p))),
        "a stopped sweep left its git running"
    );
    let before = env.platform().requests();
    assert!(
        wait_for(Duration::from_secs(15), || env.platform().requests()
            > before),
        "{}",
        daemon.log()
    );
}

/// A permanent failure (the bearer refused) sends the daemon to its
/// longest backoff at once, with the helper's fix in the log; a transient
/// one (5xx) keeps the doubling from RETRY_MIN.
#[rstest::rstest]
#[case::bearer_refused(
    FakeMode::Http401,
    "bearer failure, fix: the platform refused the bearer",
    "retry in 7s (the longest backoff"
)]
#[case::outage(
    FakeMode::Http500,
    "transient failure, fix: ",
    "refresh failed (exit 1); retry in 1s"
)]
fn a_permanent_failure_backs_off_to_the_longest_wait_at_once(
    #[case] mode: FakeMode,
    #[case] fix: &str,
    #[case] first_retry: &str,
) {
    let env = TestEnv::builder()
        .platform_mode(mode)
        .var("TOKEN_REFRESH_INITIAL_DELAY_SEC", "0")
        .var("TOKEN_REFRESH_JITTER_SEC", "0")
        .var("TOKEN_REFRESH_RETRY_MIN_SEC", "1")
        .var("TOKEN_REFRESH_RETRY_MAX_SEC", "7")
        .var("TOKEN_FETCH_TIMEOUT_SEC", "2")
        .build();
    let daemon = Running::start(&env, &[]);
    assert!(
        daemon.wait_log(Duration::from_secs(10), "refresh failed"),
        "{}",
        daemon.log()
    );
    let log = daemon.log();
    let first = log
        .lines()
        .find(|l| l.contains("] refresh failed ") || l.contains("Z refresh failed ("))
        .unwrap_or_default();
    assert!(first.contains(first_retry), "{log}");
    assert!(log.contains(fix), "{log}");
}
