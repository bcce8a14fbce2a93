//! Finding and ending the processes tests start.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use molecule_credential_helper::os::{Liveness, ProcTable, RealProcTable};

/// Live (non-zombie) processes whose argv contains `needle`, as (pid, argv),
/// read through the library's real process table.
pub fn processes_matching(needle: &str) -> Vec<(i32, Vec<String>)> {
    let procs = RealProcTable;
    procs
        .pids()
        .into_iter()
        .filter(|pid| procs.liveness(*pid) == Liveness::Alive)
        .filter_map(|pid| Some((pid, procs.cmdline(pid).ok()?)))
        .filter(|(_, argv)| argv.iter().any(|a| a.contains(needle)))
        .collect()
}

/// Live processes this test env started, as (pid, argv): those whose
/// environment holds the env's own `CONFIGS_DIR` (every process a test
/// starts inherits it: helpers, their curl, daemons, the gh shim). Argv
/// sweeps look at these only, so one test never fails for another's leak.
pub fn processes_of(env: &super::TestEnv) -> Vec<(i32, Vec<String>)> {
    let marker = format!("CONFIGS_DIR={}", env.configs.display());
    let procs = RealProcTable;
    procs
        .pids()
        .into_iter()
        .filter(|pid| procs.liveness(*pid) == Liveness::Alive)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|e| e.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .filter_map(|pid| Some((pid, procs.cmdline(pid).ok()?)))
        .collect()
}

/// Samples the argv of `env`'s processes every 5 ms until `done` says
/// stop (checked after each sample) and at least `at_least` samples were
/// taken (a count, not a time: a loaded machine samples slower); returns
/// every argv seen and how many samples were taken.
pub fn sample_argvs(
    env: &super::TestEnv,
    at_least: usize,
    mut done: impl FnMut() -> bool,
) -> (Vec<Vec<String>>, usize) {
    let mut seen = Vec::new();
    let mut samples = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        seen.extend(processes_of(env).into_iter().map(|(_, argv)| argv));
        samples += 1;
        if (done() && samples >= at_least) || std::time::Instant::now() > deadline {
            return (seen, samples);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn alive(pid: i32) -> bool {
    RealProcTable.liveness(pid) == Liveness::Alive
}

/// Our supervisors under `home`, as the library identifies them (session
/// leaders running the daemon script with `--supervise`).
pub fn supervisors(home: &Path) -> Vec<i32> {
    running(home).0
}

/// Our daemons under `home` (not supervisors, not their transient forks).
pub fn daemons(home: &Path) -> Vec<i32> {
    running(home).1
}

fn running(home: &Path) -> (Vec<i32>, Vec<i32>) {
    let layout = molecule_credential_helper::Layout::new(home);
    molecule_credential_helper::supervisor::running(
        &molecule_credential_helper::os::RealProcTable,
        &layout,
        nix::unistd::geteuid().as_raw(),
    )
}

/// Ends every process started from `home`'s runtime dir when dropped, pass
/// or fail: SIGTERM to each process group, then SIGKILL to what remains.
pub struct SupervisorGuard {
    home: std::path::PathBuf,
}

impl SupervisorGuard {
    pub fn new(home: &Path) -> Self {
        SupervisorGuard {
            home: home.to_path_buf(),
        }
    }
}

pub fn kill_all_under(home: &Path) {
    let needle = home
        .join(".molecule-runtime")
        .to_string_lossy()
        .into_owned();
    for (pid, _) in processes_matching(&needle) {
        let _ = kill(Pid::from_raw(-pid), Signal::SIGTERM);
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let gone = super::wait_for(Duration::from_secs(5), || {
        processes_matching(&needle).is_empty()
    });
    if !gone {
        for (pid, _) in processes_matching(&needle) {
            let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

impl Drop for SupervisorGuard {
    fn drop(&mut self) {
        kill_all_under(&self.home);
    }
}
