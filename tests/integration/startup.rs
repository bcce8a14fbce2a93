//! Start-up never waits on GitHub: whatever gh and api.github.com do,
//! install returns at once; the login finishes or times out in the
//! background, its result in the log and in `status`, nothing left running.

use std::time::{Duration, Instant};

use molecule_credential_helper::report::{Outcome, Step};

use crate::support::procs::processes_matching;
use crate::support::{
    line_with, stdout, token, wait_for, write_executable, SupervisorGuard, TestEnv,
};

/// A gh that takes the token and never answers, like one talking to an
/// api.github.com that accepts connections and then stalls. Its argv names
/// this test's bin dir, so its processes can be counted.
fn hanging_gh(env: &TestEnv) -> String {
    let gh = env.bin.join("gh");
    write_executable(&gh, "#!/bin/sh\ncat >/dev/null\nexec sleep 60\n");
    gh.display().to_string()
}

/// gh processes of this test (the shim execs `sleep`, so count those under
/// the test's own marker: the sleep's parent chain is gone, its argv is not
/// ours; the shim runs as `sh <path>` until the exec).
fn logins_running(env: &TestEnv) -> usize {
    let marker = env.bin.join("gh").display().to_string();
    processes_matching(&marker).len() + sleeps_of(env).len()
}

/// `sleep 60` processes in this test's session of logins: found by their
/// environment's HOME, which is this test's.
fn sleeps_of(env: &TestEnv) -> Vec<i32> {
    let home = format!("HOME={}", env.home.display());
    processes_matching("60")
        .into_iter()
        .filter(|(pid, argv)| {
            argv.len() == 2
                && argv[0].ends_with("sleep")
                && argv[1] == "60"
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|e| e.split(|b| *b == 0).any(|v| v == home.as_bytes()))
        })
        .map(|(pid, _)| pid)
        .collect()
}

#[test]
fn install_returns_at_once_while_gh_hangs_and_the_login_times_out_in_the_background() {
    let env = TestEnv::builder()
        .var("GH_TOKEN", token(60))
        .var("GH_LOGIN_TIMEOUT_SEC", "2")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    hanging_gh(&env);
    let report = env.installer().install();
    // An ordering, not a clock (speed is in benches/): install returned
    // before the login's timeout was logged, so it did not wait for it.
    let log_file = env.layout().log_file;
    let log_at_return = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        !log_at_return.contains("gh auth login failed"),
        "install waited for the login: {log_at_return}"
    );
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(d)) if d.contains("background")),
        "{report}"
    );
    assert!(
        wait_for(Duration::from_secs(5), || logins_running(&env) >= 1),
        "the login never started"
    );
    // The helper's timeout ends it (2 s, then KILL 2 s later): one log line.
    assert!(
        wait_for(Duration::from_secs(10), || std::fs::read_to_string(
            &log_file
        )
        .is_ok_and(
            |l| l.contains("gh auth login failed (exit 124): timed out after 2s")
        )),
        "{}",
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    assert!(
        wait_for(Duration::from_secs(5), || logins_running(&env) == 0),
        "a login outlived its timeout"
    );
    let status = env.bin().args(["status", "--home"]).arg(&env.home).output();
    let line = line_with(&status, "gh-login");
    assert!(
        line.starts_with("warn") && line.contains("timed out after 2s"),
        "{}",
        stdout(&status)
    );
}

#[test]
fn ten_installs_while_gh_hangs_leave_one_login() {
    let env = TestEnv::builder()
        .var("GH_TOKEN", token(61))
        .var("GH_LOGIN_TIMEOUT_SEC", "3")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    hanging_gh(&env);
    let mut most = 0;
    for _ in 0..10 {
        env.installer().install();
        std::thread::sleep(Duration::from_millis(100));
        most = most.max(logins_running(&env));
    }
    // Exactly one: a login did start, and never a second beside it.
    assert_eq!(most, 1, "{most} gh logins at once");
    let log = std::fs::read_to_string(env.layout().log_file).unwrap_or_default();
    assert!(
        log.contains("another gh login is running; this one skipped"),
        "{log}"
    );
    assert!(
        wait_for(Duration::from_secs(12), || logins_running(&env) == 0),
        "a login outlived its timeout"
    );
}

/// `--strict` wants the answer: it waits, bounded, and says what gh said.
#[test]
fn strict_install_waits_for_the_login_bounded() {
    let env = TestEnv::builder()
        .var("GH_TOKEN", token(62))
        .var("GH_LOGIN_TIMEOUT_SEC", "2")
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    // A working gh first: the strict install reports the login itself.
    let ok = env
        .bin()
        .args(["install", "--strict", "--home"])
        .arg(&env.home)
        .output();
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("gh logged in with the provision-time env token"),
        "{}",
        stdout(&ok)
    );

    // Then one that hangs, with a new token to give it.
    env.bin().args(["uninstall", "--home"]).arg(&env.home).ok();
    let _ = std::fs::remove_file(env.home.join(".config/gh/hosts.yml"));
    hanging_gh(&env);
    let started = Instant::now();
    let out = env
        .bin()
        .args(["install", "--strict", "--home"])
        .arg(&env.home)
        .output();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let line = line_with(&out, "gh-auth");
    assert!(
        line.contains("failed") && line.contains("timed out after 2s"),
        "{}",
        stdout(&out)
    );
    assert!(took < Duration::from_secs(12), "waited {took:?}");
}
