//! The refresh daemon (or its supervisor) run straight from copies of the
//! scripts in a test's HOME, killed with its process group when dropped.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{repo_script, wait_for, TestEnv};

/// A daemon (or supervisor) started in its own process group; the whole
/// group is killed when this drops, pass or fail.
pub struct Running {
    pub child: Child,
    pub log: PathBuf,
}

impl Running {
    /// Runs copies of the scripts under the test's own directory, so process
    /// listings never confuse this test's daemons with another test's.
    pub fn start(env: &TestEnv, args: &[&str]) -> Running {
        let log = env.dir.path().join("daemon.log");
        let mut c = env.command("bash");
        // As the installer and the supervisor start them.
        c.arg("-p")
            .arg(own_script(env, "molecule-gh-token-refresh.sh"))
            .args(args);
        c.env(
            "TOKEN_HELPER_SCRIPT",
            own_script(env, "molecule-git-token-helper.sh"),
        );
        let file = std::fs::File::create(&log).unwrap();
        c.cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        // Its own session (and so process group), as the installer starts
        // a supervisor: our daemons are told by that lineage.
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            c.cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        Running {
            child: c.cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_log(&self, timeout: Duration, needle: &str) -> bool {
        wait_for(timeout, || self.log().contains(needle))
    }

    /// Waits for exit (reaping it), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Copies a bundled script to where the installer would extract it in this
/// test's HOME, so the library's process identity applies to it.
pub fn own_script(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.layout().scripts_dir;
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    if !path.exists() {
        std::fs::copy(repo_script(name), &path).unwrap();
    }
    path
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(-self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
