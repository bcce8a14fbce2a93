//! Is our refresh-daemon supervisor running? The PID file names it, but a
//! PID alone proves nothing after a container restart: the process must be
//! alive (not a zombie) and its command line must name our daemon script.

use std::io;

use crate::config::Layout;
use crate::os::{Fs, Liveness, ProcTable};
use crate::scripts::SUPERVISE_ARG;

/// What the PID file and the process table say.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Whether `cmdline` is our supervisor for this layout: its arguments name
/// the extracted daemon script and the supervise flag.
pub fn is_our_supervisor(cmdline: &[String], layout: &Layout) -> bool {
    let script = layout.daemon_script.to_string_lossy();
    cmdline.iter().any(|a| *a == *script) && cmdline.iter().any(|a| a == SUPERVISE_ARG)
}

pub fn state<F: Fs, P: ProcTable>(fs: &F, procs: &P, layout: &Layout) -> SupervisorState {
    use SupervisorState::NotRunning;
    let text = match fs.read(&layout.pid_file) {
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
    match procs.cmdline(pid) {
        Ok(cmdline) if is_our_supervisor(&cmdline, layout) && leads_its_session(procs, pid) => {
            SupervisorState::Running(pid)
        }
        Ok(_) => NotRunning(format!("PID {pid} is another program (reused PID)")),
        Err(e) => NotRunning(format!("PID {pid}: cannot read its command line ({e})")),
    }
}

/// Is `cmdline` one of our daemons (the script without the supervise flag)?
pub fn is_our_daemon(cmdline: &[String], layout: &Layout) -> bool {
    let script = layout.daemon_script.to_string_lossy();
    cmdline.iter().any(|a| *a == *script) && !cmdline.iter().any(|a| a == SUPERVISE_ARG)
}

/// The supervisor is started in a new session it leads; its forked children
/// (briefly running its command line before they exec) are not leaders.
fn leads_its_session<P: ProcTable>(procs: &P, pid: i32) -> bool {
    procs.lineage(pid).is_some_and(|l| l.sid == pid)
}

/// Live (non-zombie) processes running our daemon script for this layout:
/// (supervisors, daemons). A forked child that has not exec'd yet carries
/// its parent's command line; it is counted as neither.
pub fn running<P: ProcTable>(procs: &P, layout: &Layout) -> (Vec<i32>, Vec<i32>) {
    let mut supervisors = Vec::new();
    let mut daemons = Vec::new();
    for pid in procs.pids() {
        if procs.liveness(pid) != Liveness::Alive {
            continue;
        }
        let Ok(cmdline) = procs.cmdline(pid) else {
            continue;
        };
        if is_our_supervisor(&cmdline, layout) {
            if leads_its_session(procs, pid) {
                supervisors.push(pid);
            }
        } else if is_our_daemon(&cmdline, layout) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_parsing_accepts_only_positive_decimals() {
        assert_eq!(parse_pid("123\n"), Some(123));
        assert_eq!(parse_pid("  42 "), Some(42));
        for bad in ["", "0", "-5", "abc", "12abc", "+12", "99999999999", "1 2"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }
}
