//! Trust, round 4: root never acts as itself in another user's home
//! (status, uninstall), `--user` hands the user's daemon nothing of root's
//! (descriptors, environment), and the checks no earlier test defended: the
//! cache's host, the settings file's mode, a supervisor that has its lock
//! open without holding it. The second user is a throwaway `useradd` user
//! (or uid 65534 where a uid is enough).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use assert_fs::TempDir;
use molecule_credential_helper::testing::{FakePlatform, FakePlatformConfig};
use molecule_credential_helper::uninstall::UninstallReport;

use crate::support::procs::SupervisorGuard;
use crate::support::users::{shared_dir, system_path, SharedDir, ThrowawayUser, BIN, SECRET};
use crate::support::{password, stderr, stdout, token, wait_for, TestEnv};

/// A scratch directory every user may write (what the user's edited script
/// writes into, what the user's swap loop links to).
fn scratch() -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

/// Root's entrypoint: `install --user NAME` with root's environment.
fn install_for(user: &ThrowawayUser, shared: &SharedDir, platform: &FakePlatform) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["install", "--user", &user.name, "--json"])
        .env_clear()
        .env("HOME", "/root")
        .env("USER", "root")
        .env(
            "PATH",
            format!("{}:{}", shared.bin.display(), system_path()),
        )
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("CONFIGS_DIR", &shared.configs)
        .env("PLATFORM_URL", platform.url())
        .env("GH_SHIM_LOG", &shared.shim_log)
        .env("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .env("TOKEN_REFRESH_JITTER_SEC", "0")
        .current_dir("/");
    cmd
}

fn platform() -> FakePlatform {
    FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        ..FakePlatformConfig::default()
    })
    .unwrap()
}

/// Root running BIN with `args` in a root shell whose HOME is `home`.
fn root_in(home: &Path, shared: &SharedDir, platform: &FakePlatform, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env(
            "PATH",
            format!("{}:{}", shared.bin.display(), system_path()),
        )
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("CONFIGS_DIR", &shared.configs)
        .env("PLATFORM_URL", platform.url())
        .current_dir("/")
        .output()
        .unwrap()
}

fn supervisor_of(home: &Path) -> i32 {
    std::fs::read_to_string(home.join(".molecule-runtime/refresh-daemon.pid"))
        .expect("PID file")
        .trim()
        .parse()
        .expect("a PID")
}

fn one_line_naming_user(out: &Output, command: &str, user: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{command} --user {user}")), "{err}");
}

/// High 1: root's `status --probe` ran the helper file in the user's home,
/// which the user can edit. Now root refuses that home (`--user` instead),
/// and `--user`'s probe runs the embedded copy, as the user.
#[test]
fn root_status_probe_never_runs_the_users_edited_helper() {
    crate::support::need_root("useradd, and root's view of a user's home");
    let user = ThrowawayUser::create();
    let shared = shared_dir();
    let platform = platform();
    let out = install_for(&user, &shared, &platform).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // The user edits its own helper: it records the uid that runs it.
    let scratch = scratch();
    let ran = scratch.path().join("ran");
    let helper = user
        .home
        .join(".molecule-runtime/scripts/molecule-git-token-helper.sh");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/bash\necho \"uid $(id -u) args $* parent $(tr '\\0' ' ' </proc/$PPID/cmdline)\" >> {}\nexit 0\n",
            ran.display()
        ),
    )
    .unwrap();
    assert_eq!(std::fs::metadata(&helper).unwrap().uid(), user.uid);

    for args in [
        vec!["status", "--probe", "--home", user.home.to_str().unwrap()],
        vec!["status", "--probe"],
    ] {
        let out = root_in(&user.home, &shared, &platform, &args);
        one_line_naming_user(&out, "status", &user.name);
    }
    // (The user's own daemon may run its own edited file, as the user.)
    let runs = || std::fs::read_to_string(&ran).unwrap_or_default();
    assert!(
        !runs().contains("uid 0 "),
        "root ran the user's file: {}",
        runs()
    );

    // As the user (dropped), the probe is the embedded helper: it fetches,
    // and the edited file never runs, not even as the user.
    let out = root_in(
        Path::new("/root"),
        &shared,
        &platform,
        &["status", "--probe", "--json", "--user", &user.name],
    );
    let text = stdout(&out);
    assert!(text.contains("\"probe\""), "{text}\n{}", stderr(&out));
    assert!(text.contains("platform fetch ok"), "{text}");
    assert!(
        !runs().contains("uid 0 "),
        "root ran the user's file: {}",
        runs()
    );
    assert!(
        !runs().contains("_fetch_token"),
        "the probe ran the edited file: {}",
        runs()
    );
    assert!(!text.contains("\"ghs_"), "{text}");
}

/// Medium 2: root's uninstall in a user's home ran git on a `~/.gitconfig`
/// the user could swap for a link, and left the user's daemon running.
/// Now root refuses the home; `uninstall --user` runs as the user (a link
/// to a root file is the user's problem, never root's file), and stops the
/// user's supervisor.
#[test]
fn root_uninstall_refuses_a_users_home_and_uninstall_user_never_writes_through_a_swapped_link() {
    crate::support::need_root("useradd, and a root-owned file to protect");
    let user = ThrowawayUser::create();
    let shared = shared_dir();
    let platform = platform();
    let out = install_for(&user, &shared, &platform).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let supervisor = supervisor_of(&user.home);

    // A root-owned file standing in for /etc/gitconfig, readable by all.
    let scratch = scratch();
    let root_file = scratch.path().join("root-gitconfig");
    // It holds our values, as the user's ~/.gitconfig does: root's git
    // writing through the link would change it.
    let original = format!(
        "[credential \"https://github.com\"]\n\thelper = \n\thelper = !{}\n\tuseHttpPath = true\n",
        user.home
            .join(".molecule-runtime/scripts/molecule-git-token-helper.sh")
            .display()
    );
    std::fs::write(&root_file, &original).unwrap();
    std::fs::set_permissions(&root_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The user swaps ~/.gitconfig between its own file and a link to the
    // root file, as fast as it can, for the whole test.
    let gitconfig = user.home.join(".gitconfig");
    let saved = user.home.join(".gitconfig.saved");
    std::fs::copy(&gitconfig, &saved).unwrap();
    std::os::unix::fs::chown(&saved, Some(user.uid), Some(user.gid)).unwrap();
    let swap = format!(
        "end=$((SECONDS + 20)); while ((SECONDS < end)); do ln -sfn {root} ~/.l && mv -fT ~/.l ~/.gitconfig; cp ~/.gitconfig.saved ~/.r && mv -fT ~/.r ~/.gitconfig; done",
        root = root_file.display()
    );
    let mut swapper = Command::new("setpriv")
        .args([
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--init-groups".into(),
            "--".into(),
            "bash".into(),
            "-c".into(),
            swap,
        ])
        .env_clear()
        .env("HOME", &user.home)
        .env("PATH", system_path())
        .current_dir(&user.home)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let home = user.home.to_str().unwrap();
    let refused = root_in(
        &user.home,
        &shared,
        &platform,
        &["uninstall", "--home", home],
    );
    one_line_naming_user(&refused, "uninstall", &user.name);
    assert!(
        user.home.join(".molecule-runtime/scripts").exists(),
        "a refused uninstall removed files"
    );

    let out = root_in(
        Path::new("/root"),
        &shared,
        &platform,
        &["uninstall", "--json", "--user", &user.name],
    );
    let _ = swapper.kill();
    let _ = swapper.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: UninstallReport = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report.stopped.contains(&supervisor), "{report:?}");
    assert!(
        wait_for(Duration::from_secs(5), || !Path::new(&format!(
            "/proc/{supervisor}"
        ))
        .exists()
            || std::fs::read_to_string(format!("/proc/{supervisor}/stat"))
                .is_ok_and(|s| s.contains(") Z "))),
        "the user's supervisor still runs"
    );
    assert_eq!(std::fs::read_to_string(&root_file).unwrap(), original);
    assert_eq!(std::fs::metadata(&root_file).unwrap().uid(), 0);
}

/// Medium 3: `install --user` handed root's descriptor 7 and root's whole
/// environment to the user's supervisor. Now the supervisor and its daemon
/// hold no descriptor of root's and an allow-listed environment.
#[test]
fn install_user_gives_the_daemon_no_root_descriptor_and_no_root_environment() {
    crate::support::need_root("useradd, and a root-only file");
    let user = ThrowawayUser::create();
    let shared = shared_dir();
    let platform = platform();
    let scratch = TempDir::new().unwrap();
    let secret_file = scratch.path().join("root-only");
    std::fs::write(&secret_file, "root-only-canary\n").unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut cmd = install_for(&user, &shared, &platform);
    cmd.env("ROOT_ONLY_CANARY", "canary-7f3a")
        .env("XDG_RUNTIME_DIR", "/run/user/0")
        .env("GH_TOKEN", token(3));
    // Descriptor 7 open on the root-only file, as an entrypoint might.
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = Command::new("bash");
    wrapped
        .arg("-c")
        .arg("exec 7<\"$0\"; exec \"$@\"")
        .arg(&secret_file)
        .arg(program)
        .args(args)
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let out = wrapped.current_dir("/").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let supervisor = supervisor_of(&user.home);
    let daemon_pid = || -> Option<i32> {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid: i32 = stat.rsplit(") ").next()?.split(' ').nth(1)?.parse().ok()?;
            (ppid == supervisor).then_some(pid)
        })
    };
    assert!(
        wait_for(Duration::from_secs(5), || daemon_pid().is_some()),
        "no daemon under the supervisor"
    );
    let secret_ino = std::fs::metadata(&secret_file).unwrap().ino();
    for pid in [Some(supervisor), daemon_pid()].into_iter().flatten() {
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
        {
            if let Ok(meta) = std::fs::metadata(entry.path()) {
                assert_ne!(
                    meta.ino(),
                    secret_ino,
                    "pid {pid} holds root's file on fd {:?}",
                    entry.file_name()
                );
            }
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let keys: Vec<String> = environ
            .split(|b| *b == 0)
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                String::from_utf8_lossy(kv)
                    .split('=')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for key in &keys {
            let allowed = matches!(
                key.as_str(),
                "HOME" | "USER" | "LOGNAME" | "PATH" | "LANG" | "TZ" | "PWD" | "SHLVL" | "_"
            ) || key.starts_with("LC_")
                || molecule_credential_helper::settings::SETTING_KEYS.contains(&key.as_str())
                || matches!(
                    key.as_str(),
                    "MOLECULE_PRIME_GH" | "MOLECULE_SUPERVISOR_PID"
                );
            assert!(allowed, "pid {pid} inherited {key} (all: {keys:?})");
        }
        assert!(!keys.iter().any(|k| k == "GH_TOKEN"), "{keys:?}");
    }
}

/// Medium 2, the rule: every command that touches a home refuses one
/// another uid owns, in one line naming `--user`; nothing is read or run.
#[rstest::rstest]
#[case::status("status")]
#[case::uninstall("uninstall")]
#[case::token("token")]
#[case::repair("repair")]
fn a_home_another_uid_owns_is_refused_in_one_line(#[case] command: &str) {
    crate::support::need_root("a home another uid owns");
    let env = TestEnv::new();
    std::os::unix::fs::chown(&env.home, Some(65534), None).unwrap();
    let out = env.bin().args([command, "--home"]).arg(&env.home).output();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{command} --user")), "{err}");
    assert!(stdout(&out).is_empty());
}

// --- checks that no test defended -----------------------------------------------

/// `read_valid_cache` compares the cached token's host with the served
/// host: a get for the served host (GHES) is never answered with the token
/// cached for github.com, which the environment and the saved settings can
/// disagree about.
#[test]
fn a_token_cached_for_another_host_never_answers_the_served_host() {
    let mut env = TestEnv::builder().no_platform().build();
    env.unset("GH_TOKEN");
    env.unset("GITHUB_TOKEN");
    let stale_at = crate::support::now() + 3000;
    env.write_cache(
        Some(&format!("{}\ng1\n", token(7))),
        Some(&format!("{stale_at}\n{}\ng1\ngithub.com\n", stale_at + 300)),
    );
    // github.com's own request is answered from that cache...
    let github = env
        .bundled_helper("get")
        .stdin("protocol=https\nhost=github.com\n\n")
        .output();
    assert_eq!(password(&github).as_deref(), Some(token(7)));
    // ...but with GHES served, a GHES request gets nothing from it.
    env.set("GITHUB_SERVER_URL", "https://ghe.example.test");
    let ghes = env
        .bundled_helper("get")
        .stdin("protocol=https\nhost=ghe.example.test\n\n")
        .output();
    assert_eq!(password(&ghes), None, "{}", stderr(&ghes));
    assert!(!stdout(&ghes).contains(token(7)));
}

/// The settings file decides where the bearer goes: one that group or
/// others can read or write is ignored (no request to the URL it names),
/// and `_check_settings` names the problem.
#[rstest::rstest]
#[case::group_writable(0o620)]
#[case::other_readable(0o604)]
#[case::group_readable(0o640)]
fn a_settings_file_others_can_reach_is_ignored_and_named(#[case] mode: u32) {
    let env = TestEnv::new();
    let planted = FakePlatform::start(FakePlatformConfig {
        secret: "planted".into(),
        ..FakePlatformConfig::default()
    })
    .unwrap();
    let layout = env.layout();
    std::fs::create_dir_all(&layout.runtime_dir).unwrap();
    std::fs::set_permissions(&layout.runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        &layout.settings_file,
        format!("PLATFORM_URL={}\n", planted.url()),
    )
    .unwrap();
    std::fs::set_permissions(&layout.settings_file, std::fs::Permissions::from_mode(mode)).unwrap();
    // The environment does not set PLATFORM_URL: only the file could.
    let mut cmd = env.bundled_helper("_fetch_token");
    cmd.env_remove("PLATFORM_URL");
    let _ = cmd.output();
    assert_eq!(
        planted.requests(),
        0,
        "the helper used a {mode:o} settings file"
    );
    let check = env.bundled_helper("_check_settings").output();
    let text = stdout(&check);
    assert!(
        text.contains("writable or readable by group or others"),
        "{text}"
    );
}

/// A process of ours with our supervisor's exact argv, leading its own
/// session, with `supervisor.lock` open but not held, is not our
/// supervisor: install starts its own (and stops the lookalike), status
/// counts one.
#[test]
fn a_lookalike_with_the_lock_open_but_not_held_is_not_our_supervisor() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let layout = env.layout();
    assert!(env.installer().install().failed_steps().is_empty());
    let real = env.supervisor_pid();
    // Stop the real one (its group), then start the lookalike: the
    // extracted daemon script's path, but a body that opens the lock file
    // and never takes the lock.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(real),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(5), || std::fs::read(format!(
        "/proc/{real}/stat"
    ))
    .map_or(true, |s| String::from_utf8_lossy(&s).contains(") Z "))));
    let original = std::fs::read(&layout.daemon_script).unwrap();
    std::fs::write(
        &layout.daemon_script,
        format!(
            "exec 9<{}\nsleep 60 &\nwait\n",
            layout.supervisor_lock.display()
        ),
    )
    .unwrap();
    let mut lookalike = Command::new("setsid")
        .arg("bash")
        .arg("-p")
        .arg(&layout.daemon_script)
        .arg("--supervise")
        .env("HOME", &env.home)
        .spawn()
        .unwrap();
    let pid = lookalike.id() as i32;
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&layout.pid_file, format!("{pid}\n")).unwrap();
    std::fs::write(&layout.daemon_script, &original).unwrap();
    let fd_target = std::fs::read_link(format!("/proc/{pid}/fd/9")).unwrap();
    assert_eq!(
        fd_target, layout.supervisor_lock,
        "the lookalike has the lock open"
    );

    let (code, report) = env.status_json();
    assert_ne!(code, 0, "a lookalike counted as our supervisor: {report:?}");

    assert!(env.installer().install().failed_steps().is_empty());
    let new = env.supervisor_pid();
    assert_ne!(new, pid, "install adopted the lookalike");
    let (code, report) = env.status_json();
    assert_eq!(code, 0, "{report:?}");
    let _ = lookalike.kill();
    let _ = lookalike.wait();
}

/// Low 7: status printed an `insteadOf` rewrite with its token. No line of
/// status (text or JSON) shows a credential from git config.
#[test]
fn status_never_prints_a_credential_from_git_config() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let secret = token(9);
    let basic = "eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldA==";
    for (key, value) in [
        (
            format!("url.https://x-access-token:{secret}@github.com/.insteadOf"),
            "https://github.com/".to_string(),
        ),
        (
            "http.https://github.com/.extraheader".to_string(),
            format!("AUTHORIZATION: basic {basic}"),
        ),
    ] {
        env.git().args(["config", "--global", &key, &value]).ok();
    }
    for json in [false, true] {
        let mut cmd = env.bin();
        cmd.args(["status", "--home"]).arg(&env.home);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            all.contains("insteadOf") || all.contains("rewrites"),
            "{all}"
        );
        // Any part of it: status cuts long lines, and a cut token is still
        // most of a secret.
        assert!(!all.contains(&secret[..32]), "{all}");
        assert!(!all.contains(&secret[100..140]), "{all}");
        assert!(!all.contains(basic), "{all}");
    }
}

/// The library calls a linking runtime makes refuse another uid's home
/// too: `status_in` is one failed `home` check naming `--user`, and
/// `uninstall_credential_helper_in` does nothing but say so.
#[test]
fn the_library_refuses_a_home_another_uid_owns() {
    crate::support::need_root("a home another uid owns");
    let env = TestEnv::new();
    std::fs::create_dir_all(env.layout().runtime_dir).unwrap();
    std::os::unix::fs::chown(&env.home, Some(65534), None).unwrap();
    let status = molecule_credential_helper::status_in(&env.home);
    assert!(!status.healthy);
    assert_eq!(status.checks.len(), 1, "{status:?}");
    assert!(
        status.checks[0].detail.contains("status --user"),
        "{status:?}"
    );
    let report = molecule_credential_helper::uninstall_credential_helper_in(&env.home);
    assert!(
        report.done.is_empty() && report.removed.is_empty(),
        "{report:?}"
    );
    assert!(
        report.errors.iter().any(|e| e.contains("uninstall --user")),
        "{report:?}"
    );
    assert!(env.layout().runtime_dir.exists(), "nothing removed");
}

/// Root's uninstall in a home every user may write (sticky, root's own):
/// a `.molecule-*` directory another uid made there is theirs. It is kept
/// and listed, never removed.
#[test]
fn uninstall_keeps_a_molecule_dir_another_uid_planted_in_a_shared_home() {
    crate::support::need_root("a directory another uid made");
    let env = TestEnv::new();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let layout = env.layout();
    for dir in [&layout.runtime_dir, &layout.cache_dir] {
        let made = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args([
                "sh",
                "-c",
                "mkdir -p \"$1\" && echo theirs > \"$1/note\"",
                "-",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(made.success());
    }
    let out = env
        .bin()
        .args(["uninstall", "--json", "--home"])
        .arg(&env.home)
        .output();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for dir in [&layout.runtime_dir, &layout.cache_dir] {
        assert_eq!(
            std::fs::read_to_string(dir.join("note")).unwrap(),
            "theirs\n"
        );
        let kept = report["kept"].to_string();
        assert!(kept.contains(&dir.display().to_string()), "{kept}");
        assert!(kept.contains("owned by uid 65534"), "{kept}");
        assert!(!report["removed"]
            .to_string()
            .contains(&dir.display().to_string()));
    }
}
