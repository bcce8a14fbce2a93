//! Step 4: the refresh daemon under its respawn supervisor, started only
//! when no supervisor of ours is alive.

use std::time::Duration;

use crate::config::Config;
use crate::os::{CommandSpec, Fs, ProcTable, Spawner, Which};
use crate::report::Outcome;
use crate::scripts::SUPERVISE_ARG;
use crate::supervisor::{self, SupervisorState};

use super::describe;

/// How long tests and `uninstall` wait for a supervisor to go.
pub const SUPERVISOR_WAIT: Duration = Duration::from_secs(10);

/// How long install waits for a new supervisor to take its lock.
const SUPERVISOR_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Set for a supervisor whose first daemon logs gh in at once: install had
/// no token to give gh.
pub const PRIME_GH_VAR: &str = "MOLECULE_PRIME_GH";

/// The supervisor's command: `bash -p <daemon script> --supervise`, with the
/// helper path the daemon calls.
///
/// With `settings_saved`, the settings are removed from its environment:
/// the daemon then takes them from the saved file, as every other process
/// does, and a re-install that changes them reaches it. Without (the file
/// could not be written), it keeps install's environment.
pub fn supervisor_command(
    bash: &std::path::Path,
    config: &Config,
    settings_saved: bool,
) -> CommandSpec {
    let layout = &config.layout;
    // -p: no $BASH_ENV, no functions imported from the environment.
    let mut cmd = config.command(bash).args([
        "-p".to_string(),
        layout.daemon_script.to_string_lossy().into_owned(),
        SUPERVISE_ARG.to_string(),
    ]);
    if settings_saved {
        for key in crate::settings::setting_variables() {
            cmd = cmd.env_remove(key);
        }
    } else if config.var("TOKEN_HELPER_SCRIPT").is_none() {
        cmd = cmd.env(
            "TOKEN_HELPER_SCRIPT",
            layout.helper_script.to_string_lossy(),
        );
    }
    cmd
}

pub(crate) fn run<F: Fs, S: Spawner, P: ProcTable, W: Which>(
    fs: &F,
    spawner: &S,
    procs: &P,
    which: &W,
    config: &Config,
    settings_saved: bool,
) -> Outcome {
    let layout = &config.layout;
    let why_start = match supervisor::state(fs, procs, layout, config.uid) {
        SupervisorState::Running(pid) => {
            return Outcome::Unchanged(format!("supervisor {pid} is running"))
        }
        SupervisorState::NotRunning(why) => why,
    };
    // The PID file is stale, but our supervisor may hold the lock all the
    // same (its PID file lost or overwritten): adopt that one, the only one
    // that can hold the lock. Only a process of our uid can be adopted or
    // signalled. Daemons without a live supervisor (it was `kill -9`ed), and
    // look-alikes of ours that hold no lock (an older version's supervisor),
    // are strays.
    let (supervisors, daemons) = supervisor::running(procs, layout, config.uid);
    if fs.lock_held(&layout.supervisor_lock).unwrap_or(false) {
        if let [adopt] = supervisors.as_slice() {
            return match write_pid_file(fs, layout, *adopt) {
                Ok(()) => Outcome::Changed(format!(
                    "adopted supervisor {adopt}, which holds supervisor.lock ({why_start})"
                )),
                Err(e) => Outcome::Failed(e),
            };
        }
    }
    for pid in supervisor::lockless_lookalikes(procs, layout, config.uid) {
        let _ = procs.terminate_group(pid);
    }
    for pid in daemons {
        let _ = procs.terminate(pid);
    }
    if which.which("flock").is_none() {
        return Outcome::Failed(
            "flock not on PATH: the supervisor holds a lock for its whole life (Debian: apt-get install util-linux)".into(),
        );
    }
    let Some(bash) = which.which("bash") else {
        return Outcome::Skipped("bash not on PATH".into());
    };
    // The log is opened without following links; something planted at its
    // name (a link, a FIFO) goes first, so the daemon still starts.
    if fs
        .metadata(&layout.log_file)
        .is_ok_and(|m| m.kind != crate::os::FileKind::File)
    {
        let _ = fs.remove_file(&layout.log_file);
    }
    let mut cmd = supervisor_command(&bash, config, settings_saved);
    // gh at start: with no token for install to give gh, the first daemon
    // fetches one and logs gh in at once (docs/design.md).
    if which.which("gh").is_some() && super::gh_auth::freshest_token(fs, config).is_none() {
        cmd = cmd.env(PRIME_GH_VAR, "1");
    }
    let pid = match spawner.spawn_detached(&cmd, &layout.log_file) {
        Ok(pid) => pid,
        Err(e) => return Outcome::Failed(format!("starting the supervisor: {e}")),
    };
    // Started means holding the lock: until it does, a second install could
    // not tell it is there. It takes it at once (a few ms); a supervisor
    // that cannot says why in the log.
    let locked = crate::os::wait_until(SUPERVISOR_LOCK_WAIT, Duration::from_millis(5), || {
        fs.lock_held(&layout.supervisor_lock).unwrap_or(false)
    });
    if !locked {
        let _ = procs.terminate_group(pid);
        return Outcome::Failed(format!(
            "supervisor {pid} did not take supervisor.lock within {}s; see {}",
            SUPERVISOR_LOCK_WAIT.as_secs(),
            layout.log_file.display()
        ));
    }
    match write_pid_file(fs, layout, pid) {
        Ok(()) => Outcome::Changed(format!("started supervisor {pid} ({why_start})")),
        Err(e) => {
            // Without a PID file the next install would start a second one.
            let _ = procs.terminate_group(pid);
            Outcome::Failed(format!("{e}; stopped the new supervisor"))
        }
    }
}

fn write_pid_file<F: Fs>(fs: &F, layout: &crate::config::Layout, pid: i32) -> Result<(), String> {
    fs.write_atomic(&layout.pid_file, format!("{pid}\n").as_bytes(), 0o600)
        .map_err(|e| describe(&layout.pid_file, &e))
}
