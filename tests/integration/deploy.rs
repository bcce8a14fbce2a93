//! Real deployments: a root entrypoint installing for the agent user
//! (`install --user`), the library calls a linking runtime makes
//! (`status_in`, `uninstall_credential_helper_in`), and `--version`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use molecule_credential_helper::testing::{FakePlatform, FakePlatformConfig};
use molecule_credential_helper::uninstall::UninstallReport;
use molecule_credential_helper::{InstallReport, Outcome, Step};

use crate::support::{password, stderr, stdout, wait_for, TestEnv};

use crate::support::users::{proc_ids, shared_dir, system_path, ThrowawayUser, BIN, SECRET};

/// Every path under `dir`, `dir` included.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        for entry in std::fs::read_dir(dir).unwrap() {
            out.extend(walk(&entry.unwrap().path()));
        }
    }
    out
}

#[test]
fn root_installs_for_a_user_whose_files_daemon_and_gh_login_are_then_the_users() {
    crate::support::need_root("install --user (useradd, and the switch itself)");
    let user = ThrowawayUser::create();
    let shared = shared_dir();
    let platform = FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        ..FakePlatformConfig::default()
    })
    .unwrap();
    // What a root entrypoint has: root's HOME and config variables, the
    // provision token, the platform settings.
    let out = Command::new(BIN)
        .args(["install", "--user", &user.name, "--strict", "--json"])
        .env_clear()
        .env("HOME", "/root")
        .env("USER", "root")
        .env("XDG_CONFIG_HOME", "/root/.config")
        .env(
            "PATH",
            format!("{}:{}", shared.bin.display(), system_path()),
        )
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("CONFIGS_DIR", &shared.configs)
        .env("PLATFORM_URL", platform.url())
        .env("GH_SHIM_LOG", &shared.shim_log)
        .env("GH_TOKEN", "ghs_provisionToken0123456789abcdefABCDEF")
        .env("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600")
        .env("TOKEN_REFRESH_JITTER_SEC", "0")
        .current_dir("/")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    let report: InstallReport = serde_json::from_str(&text).unwrap();
    assert!(!report.has_failures(), "{text}");
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(_))),
        "{text}"
    );

    // Every file it made is the user's.
    let mut made = Vec::new();
    for top in [
        ".molecule-runtime",
        ".molecule-token-cache",
        ".gitconfig",
        ".config/gh/hosts.yml",
    ] {
        let path = user.home.join(top);
        assert!(path.exists(), "{} missing", path.display());
        made.extend(walk(&path));
    }
    for path in &made {
        let meta = std::fs::symlink_metadata(path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (user.uid, user.gid),
            "{} is not the user's",
            path.display()
        );
    }

    // The supervisor runs as the user, in the user's groups only.
    let pid_file = user.home.join(".molecule-runtime/refresh-daemon.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(proc_ids(pid, "Uid:"), vec![user.uid; 4], "supervisor uid");
    assert_eq!(proc_ids(pid, "Gid:"), vec![user.gid; 4], "supervisor gid");
    let groups = proc_ids(pid, "Groups:");
    assert!(groups.contains(&user.extra_gid), "groups {groups:?}");
    assert!(!groups.contains(&0), "root's group kept: {groups:?}");

    // The user's git, as the user, gets a platform token.
    let fill = user.run(
        &[
            ("HOME", user.home.to_string_lossy().into_owned()),
            ("PATH", system_path()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("CONFIGS_DIR", shared.configs.to_string_lossy().into_owned()),
            ("PLATFORM_URL", platform.url()),
        ],
        &[
            "sh",
            "-c",
            "printf 'protocol=https\\nhost=github.com\\npath=o/r.git\\n\\n' | git credential fill",
        ],
    );
    assert!(fill.status.success(), "{}", stderr(&fill));
    let token = password(&fill).expect("a password");
    assert!(
        platform.issued().iter().any(|t| t.token == token),
        "the token is not one the platform issued"
    );

    // The user's own uninstall stops the user's daemon.
    let out = user.run(
        &[
            ("HOME", user.home.to_string_lossy().into_owned()),
            ("PATH", system_path()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ],
        &[BIN, "uninstall"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(wait_for(std::time::Duration::from_secs(10), || !Path::new(
        &format!("/proc/{pid}")
    )
    .exists()
        || proc_ids(pid, "Uid:").is_empty()));
    drop(shared.dir);
}

#[test]
fn a_caller_other_than_root_naming_another_user_gets_exit_2_and_one_line() {
    crate::support::need_root("needs root to become another user for the test");
    let user = ThrowawayUser::create();
    let out = user.run(
        &[
            ("HOME", user.home.to_string_lossy().into_owned()),
            ("PATH", system_path()),
        ],
        &[BIN, "install", "--user", "root"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("only root"), "{err}");
    assert!(stdout(&out).is_empty());
    assert!(!user.home.join(".molecule-runtime").exists());
}

#[test]
fn a_user_whose_home_is_missing_is_exit_2_naming_the_user_and_the_home() {
    crate::support::need_root("install --user");
    let user = ThrowawayUser::create_with("-M");
    assert!(!user.home.exists());
    let out = Command::new(BIN)
        .args(["install", "--user", &user.name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("--user {}", user.name))
            && err.contains(&*user.home.to_string_lossy()),
        "{err}"
    );
    // What to do, not a raw OS error.
    assert!(
        err.contains("create it") && err.contains("usermod -d"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    assert!(!user.home.exists(), "nothing made");
}

#[test]
fn an_unknown_user_is_exit_2_and_one_line() {
    let out = Command::new(BIN)
        .args(["install", "--user", "no-such-user-mch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no such user"), "{err}");
}

#[test]
fn user_and_home_together_are_a_clap_error() {
    let env = TestEnv::new();
    let out = env
        .bin()
        .args(["install", "--user", "root", "--home"])
        .arg(&env.home)
        .output();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot be used with"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
    assert_eq!(std::fs::read_dir(&env.home).unwrap().count(), 0);
}

#[test]
fn root_into_another_users_home_says_once_what_to_run() {
    crate::support::need_root("needs root to own a home another user owns");
    let env = TestEnv::new();
    nix::unistd::chown(&env.home, Some(65534.into()), None).unwrap();
    let out = env
        .bin()
        .args(["install", "--home"])
        .arg(&env.home)
        .output();
    assert_eq!(out.status.code(), Some(0), "fail-soft");
    let text = stdout(&out);
    assert_eq!(text.matches("install --user").count(), 1, "{text}");
    let nobody = nix::unistd::User::from_uid(65534.into()).unwrap();
    if let Some(nobody) = nobody {
        assert!(
            text.contains(&format!("install --user {}", nobody.name)),
            "{text}"
        );
    }
    assert_eq!(text.matches("failed").count(), 5, "{text}");
    assert!(text.lines().all(|l| l.len() < 300), "{text}");
    assert_eq!(std::fs::read_dir(&env.home).unwrap().count(), 0);
}

#[test]
fn status_in_and_uninstall_in_are_one_call_each_with_the_real_os() {
    let env = TestEnv::new();
    let report = env.installer().install();
    assert!(!report.has_failures(), "{report}");
    let _guard = crate::support::SupervisorGuard::new(&env.home);

    let status = molecule_credential_helper::status_in(&env.home);
    let daemon = status.check("daemon").expect("a daemon check");
    assert_ne!(
        daemon.level,
        molecule_credential_helper::status::Level::Fail,
        "{status}"
    );
    assert!(status.check("scripts").is_some(), "{status}");

    let report = molecule_credential_helper::uninstall_credential_helper_in(&env.home);
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(!report.stopped.is_empty(), "{report:?}");
    assert!(!env.home.join(".molecule-runtime").exists());
    assert!(!env.home.join(".molecule-token-cache").exists());
    let back: UninstallReport = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(back, report);

    let status = molecule_credential_helper::status_in(&env.home);
    assert!(!status.healthy);
    assert_eq!(status.checks.len(), 1, "{status}");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "molecule-credential-helper {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert!(
        text.contains(&format!("(commit {head})")),
        "{text} vs {head}"
    );
}
