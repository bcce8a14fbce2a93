//! Is our refresh-daemon supervisor running? A lock, not a PID or an argv,
//! decides (as cargo's `flock.rs` does): the live supervisor holds
//! `supervisor.lock` (`flock`) for its whole life, in a directory only we
//! can write. A process is our supervisor only when it runs as our uid,
//! leads its own session with our exact argv, and holds that lock through
//! one of its own descriptors (open is not held). The PID file only names it. A process of another
//! user is never ours, whatever its argv: install never adopts or signals
//! one, and status never counts one.

use std::io;

use crate::config::Layout;
use crate::os::{Fs, Liveness, ProcTable};
use crate::scripts::SUPERVISE_ARG;

/// A PID is at most 10 digits and a newline; 64 bytes is generous.
const PID_FILE_LIMIT: u64 = 64;

/// What the PID file and the process table say.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorState {
    /// Our supervisor, alive, with this PID.
    Running(i32),
    /// No usable supervisor, and why (for reports).
    NotRunning(String),
}

/// A PID file holds one positive decimal number (surrounding whitespace allowed).
pub fn parse_pid(text: &str) -> Option<i32> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse::<i32>().ok().filter(|pid| *pid > 0)
}

/// Whether `cmdline` is exactly how the installer starts our supervisor for
/// this layout: `bash -p <daemon script> --supervise`. An argv that merely
/// mentions the script (`tail -f …/molecule-gh-token-refresh.sh`) is not.
pub fn is_our_supervisor(cmdline: &[String], layout: &Layout) -> bool {
    is_bash_running(cmdline, layout, &[SUPERVISE_ARG])
}

/// `bash -p <daemon script> EXTRA…`, with any path to bash.
fn is_bash_running(cmdline: &[String], layout: &Layout, extra: &[&str]) -> bool {
    let script = layout.daemon_script.to_string_lossy();
    match cmdline {
        [bash, flag, path, rest @ ..] => {
            std::path::Path::new(bash).file_name() == Some(std::ffi::OsStr::new("bash"))
                && flag == "-p"
                && **path == *script
                && rest.iter().map(String::as_str).eq(extra.iter().copied())
        }
        _ => false,
    }
}

/// Whether the PID file names the live supervisor of ours: alive (not a
/// zombie), ours by uid, argv and session, holding the lock.
pub fn state<F: Fs, P: ProcTable>(fs: &F, procs: &P, layout: &Layout, uid: u32) -> SupervisorState {
    use SupervisorState::NotRunning;
    // Only a regular file we wrote, and only a few bytes of it: a FIFO, a
    // device or a link to /dev/zero means "not running", never a hang.
    match fs.metadata(&layout.pid_file) {
        Ok(meta) if meta.kind != crate::os::FileKind::File => {
            return NotRunning("PID file is not a regular file".into())
        }
        _ => {}
    }
    let text = match fs.read(&layout.pid_file, PID_FILE_LIMIT) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return NotRunning("no PID file".into()),
        Err(e) => return NotRunning(format!("PID file unreadable: {e}")),
    };
    let Some(pid) = parse_pid(&text) else {
        return NotRunning("PID file holds no valid PID".into());
    };
    match procs.liveness(pid) {
        Liveness::Dead => return NotRunning(format!("PID {pid} is not running")),
        Liveness::Zombie => return NotRunning(format!("PID {pid} is a zombie")),
        Liveness::Alive => {}
    }
    if procs.uid(pid) != Some(uid) {
        return NotRunning(format!("PID {pid} is another user's process"));
    }
    match procs.cmdline(pid) {
        Ok(cmdline) if is_supervisor(procs, pid, &cmdline, layout, uid) => {
            match fs.lock_held(&layout.supervisor_lock) {
                Ok(true) => SupervisorState::Running(pid),
                Ok(false) => NotRunning(format!("PID {pid} does not hold supervisor.lock")),
                Err(e) => NotRunning(format!("supervisor.lock: {e}")),
            }
        }
        Ok(cmdline) if is_our_supervisor(&cmdline, layout) => NotRunning(format!(
            "PID {pid} looks like our supervisor but does not hold supervisor.lock"
        )),
        Ok(_) => NotRunning(format!("PID {pid} is another program (reused PID)")),
        Err(e) => NotRunning(format!("PID {pid}: cannot read its command line ({e})")),
    }
}

/// Our supervisor: our uid, our exact argv, leading its session, holding
/// the lock.
fn is_supervisor<P: ProcTable>(
    procs: &P,
    pid: i32,
    cmdline: &[String],
    layout: &Layout,
    uid: u32,
) -> bool {
    procs.uid(pid) == Some(uid)
        && is_our_supervisor(cmdline, layout)
        && leads_its_session(procs, pid)
        && procs.holds_lock(pid, &layout.supervisor_lock)
}

/// Whether `cmdline` is exactly how our supervisor starts a daemon:
/// `bash -p <daemon script>`.
pub fn is_our_daemon(cmdline: &[String], layout: &Layout) -> bool {
    is_bash_running(cmdline, layout, &[])
}

/// The supervisor is started in a new session it leads; its forked children
/// (briefly running its command line before they exec) are not leaders.
fn leads_its_session<P: ProcTable>(procs: &P, pid: i32) -> bool {
    procs.lineage(pid).is_some_and(|l| l.sid == pid)
}

/// Live (non-zombie) processes of ours for this layout: (supervisors,
/// daemons). Identity is uid, lock and lineage, never an argv alone: a
/// supervisor is ours by [`state`]'s rules (our uid, our exact argv, leading
/// its session, holding the lock); a daemon runs as our uid with our exact
/// daemon argv in a session led by one of our supervisors, or in the session
/// of one that died (`kill -9` orphans its daemon; the daemon keeps the
/// session id). A `bash -p <script>` someone ran from a terminal sits in the
/// terminal's session, led by a live shell: not ours. A forked child that
/// has not exec'd yet carries its parent's argv; it is counted as neither.
/// Another user's processes are never counted.
pub fn running<P: ProcTable>(procs: &P, layout: &Layout, uid: u32) -> (Vec<i32>, Vec<i32>) {
    let mut supervisors = Vec::new();
    let mut daemons = Vec::new();
    for pid in procs.pids() {
        if procs.liveness(pid) != Liveness::Alive || procs.uid(pid) != Some(uid) {
            continue;
        }
        let Ok(cmdline) = procs.cmdline(pid) else {
            continue;
        };
        if is_supervisor(procs, pid, &cmdline, layout, uid) {
            supervisors.push(pid);
        } else if is_our_daemon(&cmdline, layout)
            && in_a_supervisor_session(procs, pid, layout, uid)
        {
            let parent_is_daemon = procs
                .lineage(pid)
                .and_then(|l| procs.cmdline(l.ppid).ok())
                .is_some_and(|parent| is_our_daemon(&parent, layout));
            if !parent_is_daemon {
                daemons.push(pid);
            }
        }
    }
    (supervisors, daemons)
}

/// Processes of ours that lead their session with our supervisor's argv but
/// hold no lock: a supervisor of an older version, one on its way out, or
/// one that has the lock file open without holding it.
/// Install stops them before starting the one that holds the lock.
pub fn lockless_lookalikes<P: ProcTable>(procs: &P, layout: &Layout, uid: u32) -> Vec<i32> {
    procs
        .pids()
        .into_iter()
        .filter(|&pid| {
            procs.liveness(pid) == Liveness::Alive
                && procs.uid(pid) == Some(uid)
                && procs
                    .cmdline(pid)
                    .is_ok_and(|c| is_our_supervisor(&c, layout))
                && leads_its_session(procs, pid)
                && !procs.holds_lock(pid, &layout.supervisor_lock)
        })
        .collect()
}

/// The daemon's session is led by our supervisor, or its leader is gone.
fn in_a_supervisor_session<P: ProcTable>(procs: &P, pid: i32, layout: &Layout, uid: u32) -> bool {
    let Some(lineage) = procs.lineage(pid) else {
        return false;
    };
    if lineage.sid == pid || lineage.sid <= 0 {
        return false;
    }
    match procs.liveness(lineage.sid) {
        Liveness::Alive => procs
            .cmdline(lineage.sid)
            .is_ok_and(|leader| is_supervisor(procs, lineage.sid, &leader, layout, uid)),
        Liveness::Zombie | Liveness::Dead => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_the_exact_argv() {
        let layout = Layout::new("/home/agent");
        let script = layout.daemon_script.to_string_lossy().into_owned();
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_our_supervisor(
            &argv(&["/usr/bin/bash", "-p", &script, "--supervise"]),
            &layout
        ));
        assert!(is_our_daemon(&argv(&["bash", "-p", &script]), &layout));
        for other in [
            argv(&["tail", "-f", &script]),
            argv(&["bash", &script, "--supervise"]),
            argv(&["bash", "-p", &script, "--supervise", "x"]),
            argv(&["vim", "-p", &script, "--supervise"]),
            argv(&[
                "bash",
                "-p",
                "/other/molecule-gh-token-refresh.sh",
                "--supervise",
            ]),
        ] {
            assert!(!is_our_supervisor(&other, &layout), "{other:?}");
            assert!(!is_our_daemon(&other, &layout), "{other:?}");
        }
    }

    #[test]
    fn pid_parsing_accepts_only_positive_decimals() {
        assert_eq!(parse_pid("123\n"), Some(123));
        assert_eq!(parse_pid("  42 "), Some(42));
        for bad in ["", "0", "-5", "abc", "12abc", "+12", "99999999999", "1 2"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }
}
