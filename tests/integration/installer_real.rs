//! The installer over the real OS: real git, bash, the extracted scripts and
//! a detached supervisor, in a temp HOME.

use crate::support::token;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use molecule_credential_helper::{Outcome, Step};

use crate::support::procs::{daemons, supervisors};
use crate::support::{files_containing, stdout, wait_for, SupervisorGuard, TestEnv};

fn mtimes(env: &TestEnv) -> Vec<(String, SystemTime)> {
    let layout = env.layout();
    let mut paths = vec![
        layout.helper_script.clone(),
        layout.daemon_script.clone(),
        layout.pid_file.clone(),
        layout.cache_dir.clone(),
        layout.scripts_dir.clone(),
        env.home.join(".gitconfig"),
    ];
    if env.home.join(".config/gh/hosts.yml").exists() {
        paths.push(env.home.join(".config/gh/hosts.yml"));
    }
    paths
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), m.modified().unwrap())
        })
        .collect()
}

#[test]
fn install_wires_git_with_reset_then_helper() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");

    // Exactly the empty reset, then our helper.
    let expected = vec![
        String::new(),
        format!("!{}", env.layout().helper_script.display()),
    ];
    assert_eq!(env.git_helpers(), expected);
    let out = env
        .git()
        .args([
            "config",
            "--global",
            "--type=bool",
            "--get",
            "credential.https://github.com.useHttpPath",
        ])
        .ok();
    assert_eq!(stdout(&out), "true\n");

    let layout = env.layout();
    for script in [&layout.helper_script, &layout.daemon_script] {
        let mode = crate::support::mode(script);
        assert_eq!(mode, 0o755, "{}", script.display());
    }
    let cache_mode = crate::support::mode(&layout.cache_dir);
    assert_eq!(cache_mode, 0o700);
    // Every file of ours in the runtime dir is private.
    for file in [
        &layout.pid_file,
        &layout.install_lock,
        &layout.supervisor_lock,
        &layout.settings_file,
    ] {
        assert_eq!(crate::support::mode(file), 0o600, "{}", file.display());
    }
    let log_mode = crate::support::mode(&layout.log_file);
    assert_eq!(log_mode, 0o600);
}

#[test]
fn second_install_changes_nothing_on_disk() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let first = env.installer().install();
    assert!(!first.has_failures(), "{first}");
    // The daemon's own first act (gh at start) is not install's write.
    env.wait_for_gh_primed();
    let before = mtimes(&env);
    let config_before = std::fs::read(env.home.join(".gitconfig")).unwrap();
    let supervisors_before = supervisors(&env.home);
    std::thread::sleep(Duration::from_millis(20));

    let second = env.installer().install();
    for step in [
        Step::Scripts,
        Step::TokenCache,
        Step::GitConfig,
        Step::RefreshDaemon,
    ] {
        assert!(
            matches!(second.outcome(step), Some(Outcome::Unchanged(_))),
            "{step} should be unchanged:\n{second}"
        );
    }
    assert_eq!(mtimes(&env), before);
    assert_eq!(
        std::fs::read(env.home.join(".gitconfig")).unwrap(),
        config_before
    );
    assert_eq!(supervisors(&env.home), supervisors_before);
}

#[test]
fn supervisor_is_detached_in_its_own_session() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    let pid: i32 = std::fs::read_to_string(env.layout().pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid)))
        .unwrap()
        .as_raw();
    let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))
        .unwrap()
        .as_raw();
    let our_sid = nix::unistd::getsid(None).unwrap().as_raw();
    assert_eq!(sid, pid, "supervisor leads its own session");
    assert_eq!(pgid, pid, "supervisor leads its own process group");
    assert_ne!(sid, our_sid);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(
        ppid,
        std::process::id() as i32,
        "supervisor must not be our child"
    );
    assert_eq!(supervisors(&env.home), vec![pid]);
    assert!(wait_for(Duration::from_secs(5), || daemons(&env.home)
        .len()
        == 1));
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(stdin.to_string_lossy(), "/dev/null");
}

#[test]
fn six_concurrent_installs_leave_one_supervisor() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let reports: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| env.installer().install()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let started = reports
        .iter()
        .filter(|r| matches!(r.outcome(Step::RefreshDaemon), Some(Outcome::Changed(_))))
        .count();
    assert_eq!(started, 1, "{reports:#?}");
    assert!(reports.iter().all(|r| !r.has_failures()), "{reports:#?}");
    assert_eq!(supervisors(&env.home).len(), 1);
    assert_eq!(env.git_helpers().len(), 2);
}

#[test]
fn six_concurrent_cli_installs_leave_one_supervisor() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let mut children: Vec<_> = (0..6)
        .map(|_| {
            let mut c = env.bin();
            c.args(["install", "--json", "--home"]).arg(&env.home);
            c.cmd
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            c.cmd.spawn().unwrap()
        })
        .collect();
    for child in &mut children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(supervisors(&env.home).len(), 1);
}

#[test]
fn gh_gets_the_env_token_on_stdin_without_env_tokens() {
    let token = token(11);
    let env = TestEnv::builder().var("GH_TOKEN", token).build();
    let _guard = SupervisorGuard::new(&env.home);
    let report = env.installer().install();
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(d)) if d.contains("background")),
        "{report}"
    );
    // The login runs detached; its result arrives shortly.
    let hosts_file = env.home.join(".config/gh/hosts.yml");
    assert!(crate::support::wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&hosts_file).is_ok_and(|h| h.contains(token))
    }));
    let log = env.gh_shim_log();
    assert!(
        log.contains("argv=auth login --hostname github.com --with-token env_token=\n"),
        "{log}"
    );
    assert!(!log.contains(token));
    let hosts = std::fs::read_to_string(env.home.join(".config/gh/hosts.yml")).unwrap();
    assert!(hosts.contains(token));
    assert!(
        report.warnings.iter().any(|w| w.contains("GH_TOKEN")),
        "{report}"
    );

    // Second install: gh already holds that token, so no spawn.
    let again = env.installer().install();
    assert!(
        matches!(again.outcome(Step::GhAuth), Some(Outcome::Unchanged(_))),
        "{again}"
    );
    assert_eq!(env.gh_shim_log().matches("login\n").count(), 1);

    let text = format!("{report}{}{again}{}", report.to_json(), again.to_json());
    assert!(!text.contains(token), "token leaked into a report");
    let leaks: Vec<_> = files_containing(&env.home, token)
        .into_iter()
        .filter(|p| !p.ends_with(".config/gh/hosts.yml"))
        .collect();
    assert!(leaks.is_empty(), "token found in {leaks:?}");
}

#[test]
fn restarted_runtime_gives_gh_the_cached_platform_token() {
    let provision = token(12);
    let env = TestEnv::builder().var("GITHUB_TOKEN", provision).build();
    let _guard = SupervisorGuard::new(&env.home);
    // The cache holds a fresher platform token, valid for another hour.
    let fresh = token(13);
    let expiry = crate::support::now() + 3600;
    // As the helper writes them: token + generation; cache expiry, the
    // token's expires_at, the same generation.
    env.write_cache(
        Some(&format!("{fresh}\n1.2.3\n")),
        Some(&format!("{expiry}\n{}\n1.2.3\n", expiry + 300)),
    );

    let report = env.installer().install();
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(d)) if d.contains("cached")),
        "{report}"
    );
    let hosts_file = env.home.join(".config/gh/hosts.yml");
    assert!(
        crate::support::wait_for(Duration::from_secs(10), || hosts_file.exists()),
        "{}",
        env.gh_shim_log()
    );
    let hosts = std::fs::read_to_string(&hosts_file).unwrap();
    assert!(
        hosts.contains(fresh) && !hosts.contains(provision),
        "{hosts}"
    );
    assert!(!report.to_json().contains(fresh));
}

#[test]
fn missing_git_and_gh_only_skip_their_steps() {
    let mut env = TestEnv::builder()
        .without_gh()
        .var("GH_TOKEN", token(14))
        .build();
    let _guard = SupervisorGuard::new(&env.home);
    // A PATH with bash but without git or gh.
    // bash and flock: what the supervisor needs.
    let only = env.dir.path().join("only-bash");
    std::fs::create_dir_all(&only).unwrap();
    for tool in ["bash", "flock"] {
        let found = std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        std::os::unix::fs::symlink(
            String::from_utf8_lossy(&found.stdout).trim(),
            only.join(tool),
        )
        .unwrap();
    }
    env.set("PATH", &only.to_string_lossy());
    let report = env.installer().install();
    assert_eq!(
        report.outcome(Step::GitConfig),
        Some(&Outcome::Skipped("git not on PATH".into()))
    );
    assert_eq!(
        report.outcome(Step::GhAuth),
        Some(&Outcome::Skipped("gh not on PATH".into()))
    );
    assert!(
        matches!(
            report.outcome(Step::RefreshDaemon),
            Some(Outcome::Changed(_))
        ),
        "{report}"
    );
    assert!(!env.home.join(".gitconfig").exists());
}

#[test]
fn generic_store_helper_and_gh_setup_git_values_are_reset() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    // What `gh auth setup-git` and a generic store helper leave behind.
    env.git()
        .args(["config", "--global", "credential.helper", "store"])
        .ok();
    for v in ["", "!/usr/bin/gh auth git-credential"] {
        env.add_git_helper(v);
    }
    std::fs::write(
        env.home.join(".git-credentials"),
        "https://someone:ghp_StaleStored@github.com\n",
    )
    .unwrap();
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    assert_eq!(
        env.git_helpers().join(
            "
"
        ) + "
",
        format!("\n!{}\n", env.layout().helper_script.display())
    );
    // Our helper answers before `store`: the platform token, not the stored one.
    let fill = env.fill();
    let password = crate::support::password(&fill);
    let issued = env.platform().issued();
    assert_eq!(
        password.as_deref(),
        issued.last().map(|t| t.token.as_str()),
        "{}",
        crate::support::stderr(&fill)
    );
}

#[test]
fn token_cache_symlink_is_refused_and_wide_mode_tightened() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let layout = env.layout();
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &layout.cache_dir).unwrap();
    let report = env.installer().install();
    assert!(
        matches!(report.outcome(Step::TokenCache), Some(Outcome::Failed(e)) if e.contains("symlink")),
        "{report}"
    );
    assert!(
        matches!(report.outcome(Step::GitConfig), Some(Outcome::Changed(_))),
        "{report}"
    );

    std::fs::remove_file(&layout.cache_dir).unwrap();
    std::fs::create_dir(&layout.cache_dir).unwrap();
    std::fs::set_permissions(&layout.cache_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = env.installer().install();
    assert!(
        matches!(report.outcome(Step::TokenCache), Some(Outcome::Changed(_))),
        "{report}"
    );
    assert_eq!(crate::support::mode(&layout.cache_dir), 0o700);
}
