//! The OS seams: every side effect of the installer goes through one of these
//! small traits, so each step asks only for the capabilities it uses and tests
//! can swap in mocks (`mockall`) or in-memory fakes with fault injection.

mod real;
pub use real::{RealFs, RealProcTable, RealSpawner, RealWhich};

#[cfg(feature = "testing")]
pub mod fake;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::Secret;

/// What `lstat` says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed by `lstat`).
    Symlink,
    /// Anything else: a FIFO, a socket, a device.
    Other,
}

/// The parts of `lstat` the installer decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// What it is.
    pub kind: FileKind,
    /// Permission bits only (`mode & 0o7777`).
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its size in bytes.
    pub len: u64,
}

/// An advisory lock held until dropped. `held == false` means the filesystem
/// could not lock and the caller carries on unlocked.
#[derive(Debug)]
pub struct FileLock {
    _file: Option<nix::fcntl::Flock<std::fs::File>>,
    held: bool,
}

impl FileLock {
    /// A lock that protects nothing, for filesystems that cannot lock and for fakes.
    pub fn unlocked() -> Self {
        FileLock {
            _file: None,
            held: false,
        }
    }

    /// Whether the lock is really held (false: the filesystem cannot lock).
    pub fn is_held(&self) -> bool {
        self.held
    }
}

/// The filesystem, as the installer and `status` use it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Fs {
    /// The contents of a regular file of at most `limit` bytes. Anything
    /// read from outside is bounded: a FIFO or device is an error (never a
    /// hang: the open does not block), and so is a larger file (never an
    /// out-of-memory). A symlink is followed to a regular file.
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>>;
    /// `lstat`: a symlink is reported as a symlink, never followed.
    fn metadata(&self, path: &Path) -> io::Result<FileMeta>;
    /// Creates the directory and any missing parents, new ones with `mode`.
    fn create_dir_all(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Sets the permission bits of `path` (follows a link: check first).
    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Writes a temp file in the same directory, then renames it over `path`:
    /// a reader sees the old content or the new, never a part.
    fn write_atomic(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()>;
    /// Removes a file or a link (never its target).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything in it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to` in the same directory (a directory another
    /// user planted cannot be emptied, but can be moved out of the way).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// An exclusive advisory lock on `path` (created if missing, 0600),
    /// waiting at most `wait`. Where the filesystem cannot lock, an
    /// unlocked guard.
    fn lock(&self, path: &Path, wait: Duration) -> io::Result<FileLock>;
    /// Whether some process holds a lock on `path` right now: a read-only
    /// probe that creates nothing (a missing file is "not held"), follows
    /// no link and refuses anything but a regular file.
    fn lock_held(&self, path: &Path) -> io::Result<bool>;
}

/// A child process to run. Tokens only ever travel in `stdin`.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    /// The program to run (a full path from `Which`).
    pub program: PathBuf,
    /// Its arguments: never a token.
    pub args: Vec<String>,
    /// Applied before `env_remove`, so a removal always wins.
    pub env_set: Vec<(String, String)>,
    /// Variables removed from its environment.
    pub env_remove: Vec<String>,
    /// Bytes for its stdin: the only way a token reaches a child.
    pub stdin: Option<Secret<Vec<u8>>>,
    /// How long `Spawner::run` waits before killing its process group.
    pub timeout: Duration,
}

impl CommandSpec {
    /// A command for `program`, no arguments, a 10 s timeout.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CommandSpec {
            program: program.into(),
            timeout: Duration::from_secs(10),
            ..Default::default()
        }
    }

    /// Appends arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a variable in its environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_set.push((key.into(), value.into()));
        self
    }

    /// Removes a variable from its environment (wins over `env`).
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// Gives it these bytes on stdin.
    pub fn stdin(mut self, bytes: Secret<Vec<u8>>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// How long `Spawner::run` waits for it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The program's file name, for messages and fakes.
    pub fn program_name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The value this command sets for `key`, if any.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env_set
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `program arg…` for error messages (argv never holds a token).
    pub fn display(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a child ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit code; `None` when killed by a signal (or by the timeout).
    pub code: Option<i32>,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
    /// Whether it was killed at its timeout.
    pub timed_out: bool,
}

impl RunOutput {
    /// Exit 0, not timed out.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// A one-line reason for a failed run (first stderr line, or the status).
    pub fn failure_reason(&self, what: &str) -> String {
        if self.timed_out {
            return format!("{what} timed out");
        }
        let first = self.stderr.lines().map(str::trim).find(|l| !l.is_empty());
        match (self.code, first) {
            (Some(code), Some(line)) => format!("{what} exited {code}: {line}"),
            (Some(code), None) => format!("{what} exited {code}"),
            (None, Some(line)) => format!("{what} was killed: {line}"),
            (None, None) => format!("{what} was killed by a signal"),
        }
    }
}

/// Starting child processes.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Spawner {
    /// Runs to completion, killing the child's process group at `timeout`.
    fn run(&self, cmd: &CommandSpec) -> io::Result<RunOutput>;
    /// Starts `cmd` detached: a new session (so it leads its own process
    /// group), stdin `/dev/null` (or `cmd.stdin`'s bytes, through a pipe),
    /// stdout and stderr appended to `log` (created 0600, never through a
    /// link), and not a child of this process (double fork). Returns its PID.
    fn spawn_detached(&self, cmd: &CommandSpec, log: &Path) -> io::Result<i32>;
}

/// What `kill(pid, 0)` and `/proc` say about a PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// `kill(pid, 0)` succeeded or failed with `EPERM`, and it is not a zombie.
    Alive,
    /// Exited and not yet reaped: it will never do work again.
    Zombie,
    /// `ESRCH`, or a PID that must never be signalled (`<= 0`).
    Dead,
}

/// Where a process sits: a forked child not yet exec'd shares its parent's
/// command line, so identity checks also look at parent and session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lineage {
    /// The parent PID.
    pub ppid: i32,
    /// The session ID (a supervisor leads its own).
    pub sid: i32,
}

/// The process table: liveness and identity of PIDs, and signals.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait ProcTable {
    /// Alive, a zombie, or gone (`kill(pid, 0)` and `/proc`).
    fn liveness(&self, pid: i32) -> Liveness;
    /// The process's argv, for identity checks (a reused PID runs something else).
    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>>;
    /// SIGTERM to the process group `pgid` (a supervisor leads its own).
    fn terminate_group(&self, pgid: i32) -> io::Result<()>;
    /// SIGTERM to one process.
    fn terminate(&self, pid: i32) -> io::Result<()>;
    /// Every PID in the table, for uniqueness checks.
    fn pids(&self) -> Vec<i32>;
    /// Parent and session of a process (`/proc/PID/stat` fields 4 and 6).
    fn lineage(&self, pid: i32) -> Option<Lineage>;
    /// The real uid a process runs as (`/proc/PID/status`), if it can be read.
    fn uid(&self, pid: i32) -> Option<u32>;
    /// Whether the process holds a `flock` on `path` (the same file: device
    /// and inode) through one of its first 1024 descriptors: the file open
    /// is not enough (`/proc/PID/fd`, and the `lock:` lines of
    /// `/proc/PID/fdinfo/N`).
    fn holds_lock(&self, pid: i32, path: &Path) -> bool;
}

/// Polls `cond` every `every` until it holds or `limit` passes; returns
/// whether it held. The one bounded wait of the crate and its tests.
pub fn wait_until(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(every);
    }
    cond()
}

/// Looking up programs on PATH.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Which {
    /// The full path of `name` on PATH, if it is there and executable.
    fn which(&self, name: &str) -> Option<PathBuf>;
}
