//! Trust boundaries: whose code git runs, what a planted file can do, which
//! processes are ours, and a status that tells the truth. A second user is
//! uid 65534 (`nobody`): root makes files theirs with chown.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use molecule_credential_helper::report::{Outcome, Step};

use crate::support::procs::{alive, supervisors};
use crate::support::raw_server::RawServer;
use crate::support::{
    line_with, mode, password, stderr, stdout, token, wait_for, SupervisorGuard, TestEnv,
};

const NOBODY: u32 = 65534;

fn chown(path: &Path, uid: u32) {
    crate::support::need_root("making a file another user's");
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn status(env: &TestEnv) -> std::process::Output {
    env.bin().args(["status", "--home"]).arg(&env.home).output()
}

// --- whose code git runs ---------------------------------------------------------

#[test]
fn a_runtime_dir_of_another_user_is_refused_and_git_never_points_there() {
    for dir in [".molecule-runtime", ".molecule-runtime/scripts"] {
        let env = TestEnv::new();
        let _guard = SupervisorGuard::new(&env.home);
        let planted = env.home.join(dir);
        std::fs::create_dir_all(&planted).unwrap();
        chmod(&planted, 0o777);
        chown(&planted, NOBODY);
        let report = env.installer().install();
        match report.outcome(Step::Scripts) {
            Some(Outcome::Failed(why)) => assert!(why.contains("owned by uid 65534"), "{why}"),
            other => panic!("{dir}: {other:?}"),
        }
        assert!(
            env.git_helpers().is_empty(),
            "{dir}: {:?}",
            env.git_helpers()
        );
        assert!(supervisors(&env.home).is_empty());
    }
}

#[test]
fn our_runtime_dirs_are_tightened_and_a_linked_script_is_replaced() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let layout = env.layout();
    std::fs::create_dir_all(&layout.scripts_dir).unwrap();
    chmod(&layout.runtime_dir, 0o777);
    chmod(&layout.scripts_dir, 0o777);
    let elsewhere = env.dir.path().join("someone-elses-file");
    std::fs::write(&elsewhere, "untouched\n").unwrap();
    symlink(&elsewhere, &layout.helper_script).unwrap();
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    assert_eq!(mode(&layout.runtime_dir), 0o755);
    assert_eq!(mode(&layout.scripts_dir), 0o755);
    let meta = std::fs::symlink_metadata(&layout.helper_script).unwrap();
    assert!(meta.file_type().is_file(), "still a link");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched\n");
    // A script another user owns is replaced too.
    chown(&layout.daemon_script, NOBODY);
    let again = env.installer().install();
    assert!(
        matches!(again.outcome(Step::Scripts), Some(Outcome::Changed(_))),
        "{again}"
    );
    assert_eq!(std::fs::metadata(&layout.daemon_script).unwrap().uid(), 0);
}

#[test]
fn a_relative_home_becomes_absolute_in_git_config() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let out = env
        .bin()
        .args(["install", "--home", "."])
        .cmd
        .current_dir(&env.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let helpers = env.git_helpers();
    let ours = format!(
        "!{}",
        env.home
            .canonicalize()
            .unwrap()
            .join(".molecule-runtime/scripts/molecule-git-token-helper.sh")
            .display()
    );
    assert_eq!(helpers, ["".to_string(), ours], "{helpers:?}");
}

#[test]
fn a_home_through_a_symlink_and_its_real_path_are_one_home() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let link = env.dir.path().join("home-link");
    symlink(&env.home, &link).unwrap();
    let first = molecule_credential_helper::install_credential_helper_in(&link);
    assert!(!first.has_failures(), "{first}");
    let second = molecule_credential_helper::install_credential_helper_in(&env.home);
    assert!(
        matches!(second.outcome(Step::GitConfig), Some(Outcome::Unchanged(_))),
        "{second}"
    );
    assert!(
        matches!(
            second.outcome(Step::RefreshDaemon),
            Some(Outcome::Unchanged(_))
        ),
        "{second}"
    );
    assert_eq!(supervisors(&env.home).len(), 1);
}

#[test]
fn a_home_that_is_not_utf8_is_refused_with_a_clear_error() {
    let env = TestEnv::new();
    let raw = env.dir.path().as_os_str().as_bytes().to_vec();
    let mut bad = raw.clone();
    bad.extend_from_slice(b"/h\xffme");
    let bad = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&bad));
    std::fs::create_dir_all(&bad).unwrap();
    let report = molecule_credential_helper::install_credential_helper_in(&bad);
    for step in Step::ALL {
        match report.outcome(step) {
            Some(Outcome::Failed(why)) => assert!(why.contains("not valid UTF-8"), "{why}"),
            other => panic!("{step:?}: {other:?}"),
        }
    }
    assert_eq!(
        std::fs::read_dir(&bad).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn root_does_not_install_into_another_users_home() {
    let env = TestEnv::new();
    chown(&env.home, NOBODY);
    let out = env
        .bin()
        .args(["install", "--home"])
        .arg(&env.home)
        .output();
    let text = stdout(&out);
    assert!(text.contains("belongs to uid 65534"), "{text}");
    assert!(text.contains("setpriv"), "{text}");
    assert_eq!(
        std::fs::read_dir(&env.home).unwrap().count(),
        0,
        "nothing written"
    );
    assert!(supervisors(&env.home).is_empty());
}

// --- what a planted file can do ---------------------------------------------------

/// With the cache dir open to others, another user could pre-create the
/// staging file and read every token: the helper then neither writes nor
/// serves from it (git still gets the platform's token).
#[test]
fn a_cache_dir_others_can_write_is_never_written() {
    let env = TestEnv::new();
    let cache = env.layout().cache_dir;
    std::fs::create_dir_all(cache.join(".staging")).unwrap();
    chmod(&cache, 0o777);
    chmod(&cache.join(".staging"), 0o777);
    chown(&cache.join(".staging"), NOBODY);
    let planted = cache.join(".staging/gh_installation_token");
    std::fs::write(&planted, "").unwrap();
    chmod(&planted, 0o666);
    chown(&planted, NOBODY);
    let out = env.direct_get();
    env.assert_answered_first_platform_token(&out);
    assert!(
        stderr(&out).contains("not a private directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&planted).unwrap(),
        "",
        "token written to the plant"
    );
    assert!(!env.layout().cache_token.exists());
}

#[test]
fn links_at_staging_lock_and_log_are_never_followed() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let layout = env.layout();
    let cache = &layout.cache_dir;
    std::fs::create_dir_all(cache.join(".staging")).unwrap();
    chmod(cache, 0o700);
    let target = env.dir.path().join("planted-target");
    symlink(&target, cache.join(".staging/gh_installation_token")).unwrap();
    symlink(&target, cache.join(".staging/reply")).unwrap();
    let lock_target = env.dir.path().join("lock-target");
    symlink(&lock_target, cache.join(".fetch.lock")).unwrap();
    let out = env.direct_get();
    env.assert_answered_first_platform_token(&out);
    assert!(!target.exists(), "a token went through a staging link");
    assert!(!lock_target.exists(), "the lock link was followed");

    // The daemon log: a link at its name is replaced, not appended through.
    std::fs::create_dir_all(&layout.runtime_dir).unwrap();
    let log_target = env.dir.path().join("log-target");
    std::fs::write(&log_target, "").unwrap();
    symlink(&log_target, &layout.log_file).unwrap();
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    assert!(wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&layout.log_file).is_ok_and(|l| l.contains("supervisor"))
    }));
    assert!(!std::fs::symlink_metadata(&layout.log_file)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&log_target).unwrap(), "");
}

#[test]
fn a_pid_file_that_is_a_fifo_or_dev_zero_means_not_running() {
    for plant in ["fifo", "zero"] {
        let env = TestEnv::new();
        let _guard = SupervisorGuard::new(&env.home);
        let layout = env.layout();
        std::fs::create_dir_all(&layout.runtime_dir).unwrap();
        match plant {
            "fifo" => nix::unistd::mkfifo(
                &layout.pid_file,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .unwrap(),
            _ => symlink("/dev/zero", &layout.pid_file).unwrap(),
        }
        let started = Instant::now();
        let report = env.installer().install();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{plant}: install hung"
        );
        assert!(
            matches!(
                report.outcome(Step::RefreshDaemon),
                Some(Outcome::Changed(_))
            ),
            "{plant}: {report}"
        );
        let out = status(&env);
        assert!(out.status.success(), "{plant}: {}", stdout(&out));
        assert_eq!(supervisors(&env.home).len(), 1);
    }
}

#[test]
fn configs_files_that_are_fifos_or_huge_are_read_with_a_bound() {
    let env = TestEnv::new();
    let auth = env.configs.join(".auth_token");
    std::fs::remove_file(&auth).unwrap();
    nix::unistd::mkfifo(&auth, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let github_token = env.configs.join(".github-token");
    nix::unistd::mkfifo(
        &github_token,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let started = Instant::now();
    let out = env.direct_get();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a FIFO blocked the helper"
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    // A 20 MB .github-token of one line: bounded, not served (too long).
    std::fs::remove_file(&github_token).unwrap();
    std::fs::write(&github_token, "a".repeat(20 * 1024 * 1024)).unwrap();
    let started = Instant::now();
    let out = env.direct_get();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
}

#[test]
fn gitconfig_created_for_us_is_not_world_writable_whatever_the_umask() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let mut cmd = env.bin();
    cmd.args(["install", "--home"]).arg(&env.home);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.cmd.pre_exec(|| {
            nix::libc::umask(0);
            Ok(())
        });
    }
    cmd.ok();
    let gitconfig = env.home.join(".gitconfig");
    assert_eq!(mode(&gitconfig) & 0o022, 0, "{:o}", mode(&gitconfig));
}

// --- which processes are ours -------------------------------------------------------

#[test]
fn a_process_that_only_mentions_the_script_is_not_ours() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    env.installer().install();
    let script = env.layout().daemon_script;
    let mut tail = std::process::Command::new("tail")
        .arg("-f")
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = tail.id() as i32;
    let out = status(&env);
    let daemon_line = line_with(&out, "daemon");
    assert!(!daemon_line.contains(&pid.to_string()), "{daemon_line}");
    env.installer().install();
    env.bin().args(["uninstall", "--home"]).arg(&env.home).ok();
    assert!(alive(pid), "tail was signalled");
    let _ = tail.kill();
    let _ = tail.wait();
}

/// One deadline for the whole exchange: an orphan against a server that
/// trickles a byte every 50 ms ends within the fetch timeout.
#[test]
fn an_orphaned_exchange_ends_within_the_fetch_timeout_against_a_trickle() {
    let reply = format!("HTTP/1.1 200 OK\r\n{}", "X-Trickle: a\r\n".repeat(10_000));
    let server = RawServer::start_trickling(reply.as_bytes(), Duration::from_millis(50));
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    env.set("TOKEN_FETCH_TIMEOUT_SEC", "3");
    let (mut helper, copy_arg) = env.spawn_helper_copy("trickled-helper.sh", "_fetch_token");
    assert!(wait_for(Duration::from_secs(5), || server.heads().len() == 1));
    helper.kill().unwrap();
    helper.wait().unwrap();
    // The trickle would last over 8 minutes; the 3 s deadline ends the
    // exchange long before the minute this allows a loaded machine.
    assert!(
        wait_for(Duration::from_secs(60), || {
            crate::support::procs::processes_matching(&copy_arg).is_empty()
        }),
        "the orphaned exchange outlived its deadline"
    );
}

// --- status tells the truth ---------------------------------------------------------

/// Another helper that git asks first, through git's own URL matching (a
/// `:443` spelling, a wildcard), fails status; git really returns its answer.
#[test]
fn status_fails_when_git_would_ask_another_helper_first() {
    for key in [
        "credential.https://github.com:443.helper",
        "credential.https://*.com.helper",
    ] {
        let env = TestEnv::new();
        let _guard = SupervisorGuard::new(&env.home);
        assert!(!env.installer().install().has_failures());
        assert!(status(&env).status.success());
        env.git()
            .args(["config", "--global", "--add", key, ""])
            .ok();
        env.git()
            .args([
                "config",
                "--global",
                "--add",
                key,
                "!f() { echo username=x; echo password=someone-elses; }; f",
            ])
            .ok();
        assert_eq!(
            password(&env.fill()).as_deref(),
            Some("someone-elses"),
            "{key}"
        );
        let out = status(&env);
        assert!(!out.status.success(), "{key}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("before our helper"),
            "{}",
            stdout(&out)
        );
    }
}

/// `credential.helper store` after install: git hands it our token after
/// every success. Status warns (and stays healthy: git still asks us first).
#[test]
fn a_storing_helper_after_ours_gets_a_warning() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(!env.installer().install().has_failures());
    env.git()
        .args(["config", "--global", "credential.helper", "store"])
        .ok();
    let out = status(&env);
    assert!(out.status.success(), "{}", stdout(&out));
    let line = line_with(&out, "git-config");
    assert!(
        line.starts_with("warn") && line.contains("\"store\""),
        "{line}"
    );
    // The warning is earned: after a fill and approve, git stored our token.
    let served = password(&env.fill()).unwrap();
    env.git()
        .args(["credential", "approve"])
        .stdin(format!("protocol=https\nhost=github.com\npath=org/repo.git\nusername=x-access-token\npassword={served}\n\n"))
        .ok();
    assert!(std::fs::read_to_string(env.home.join(".git-credentials"))
        .unwrap()
        .contains(&served));
}

#[test]
fn status_reads_the_cache_as_the_helper_does() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    env.installer().install();
    let layout = env.layout();
    let future = crate::support::now() + 3000;
    env.write_cache(
        Some(&format!("{}\nA\n", token(40))),
        Some(&format!("{future}\n{}\nB\n", future + 300)),
    );
    chmod(&layout.cache_token, 0o600);
    let line = line_with(&status(&env), "cached-token");
    assert!(
        line.starts_with("warn") && line.contains("two different writes"),
        "{line}"
    );
    // And the helper agrees: it refetches.
    env.assert_answered_first_platform_token(&env.direct_get());
}

#[test]
fn a_home_never_installed_says_so_in_one_line() {
    let env = TestEnv::new();
    let out = status(&env);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}"); // the check, then "unhealthy"
    assert!(text.contains("not installed"), "{text}");
}

#[test]
fn probe_runs_the_helper_as_git_does() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    env.installer().install();
    // bash without -p would source this and fail; git's `bash -p` does not.
    let bash_env = env.dir.path().join("bash-env");
    std::fs::write(&bash_env, "echo from-bash-env; exit 3\n").unwrap();
    let out = env
        .bin()
        .args(["status", "--probe", "--home"])
        .arg(&env.home)
        .env("BASH_ENV", &bash_env)
        .output();
    let line = line_with(&out, "probe");
    assert!(line.starts_with("ok"), "{}", stdout(&out));
}
