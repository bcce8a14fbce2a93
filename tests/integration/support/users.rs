//! Throwaway users and a directory they can read, for tests of what root
//! does for another user and what another user can do.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_fs::TempDir;

use crate::support::procs::kill_all_under;
use crate::support::{stderr, write_executable, GH_SHIM};

pub const BIN: &str = env!("CARGO_BIN_EXE_molecule-credential-helper");

/// The bearer the shared platform checks.
pub const SECRET: &str = "deploy-bearer-3c9a";

/// A user (and a supplementary group it is in) made for one test, removed
/// with its home when dropped, pass or fail, after every process started
/// from its home is ended.
pub struct ThrowawayUser {
    pub name: String,
    pub group: String,
    pub home: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub extra_gid: u32,
}

impl ThrowawayUser {
    pub fn create() -> ThrowawayUser {
        ThrowawayUser::create_with("-m")
    }

    /// `home_flag`: `-m` (make the home) or `-M` (leave it missing).
    pub fn create_with(home_flag: &str) -> ThrowawayUser {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("mch{}x{n}", std::process::id());
        let group = format!("{name}g");
        run_ok(Command::new("groupadd").arg(&group));
        run_ok(Command::new("useradd").args([
            home_flag,
            "-U",
            "-s",
            "/bin/bash",
            "-G",
            &group,
            &name,
        ]));
        let user = nix::unistd::User::from_name(&name)
            .unwrap()
            .expect("the user just added");
        let extra = nix::unistd::Group::from_name(&group)
            .unwrap()
            .expect("the group just added");
        ThrowawayUser {
            name,
            group,
            home: user.dir,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            extra_gid: extra.gid.as_raw(),
        }
    }

    /// `argv` run as this user with exactly `env` (a `docker exec` shell
    /// as the agent: no environment of the entrypoint's).
    pub fn run(&self, env: &[(&str, String)], argv: &[&str]) -> Output {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--init-groups".into(),
            "--".into(),
        ])
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .current_dir(&self.home);
        cmd.output().expect("setpriv")
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        kill_all_under(&self.home);
        // Whatever else still runs as the user (a daemon's `sleep`) would
        // make userdel refuse, leaving the account behind.
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.uid.to_string()])
            .output();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
        let _ = Command::new("groupdel").arg(&self.group).output();
    }
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    out
}

/// A directory anyone may read (the agent reads the bearer from it), with
/// the platform's bearer, a recording gh shim and a shim log the agent can
/// write.
pub struct SharedDir {
    pub dir: TempDir,
    pub configs: PathBuf,
    pub bin: PathBuf,
    pub shim_log: PathBuf,
}

pub fn shared_dir() -> SharedDir {
    let dir = TempDir::new().unwrap();
    let configs = dir.path().join("configs");
    let bin = dir.path().join("bin");
    let logs = dir.path().join("logs");
    for d in [dir.path(), &configs, &bin, &logs] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
    let auth = configs.join(".auth_token");
    std::fs::write(&auth, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_executable(&bin.join("gh"), GH_SHIM);
    let shim_log = logs.join("gh-shim.log");
    SharedDir {
        dir,
        configs,
        bin,
        shim_log,
    }
}

pub fn system_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
}

/// `Uid:` or `Gid:` (real, effective, saved, fs) and `Groups:` of a process.
pub fn proc_ids(pid: i32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}
