//! Real backends: std for files and processes, `nix` for signals, locks and sessions.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{
    CommandSpec, FileKind, FileLock, FileMeta, Fs, Lineage, Liveness, ProcTable, RunOutput,
    Spawner, Which,
};

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

fn kind_of(ft: fs::FileType) -> FileKind {
    if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_dir() {
        FileKind::Dir
    } else if ft.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

/// The error for a file over its read limit.
pub(crate) fn too_large(path: &Path, len: u64, limit: u64) -> io::Result<()> {
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: larger than {limit} bytes", path.display()),
        ));
    }
    Ok(())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp name beside `path`, unique across processes and threads.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id()))
}

impl Fs for RealFs {
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", path.display()),
            ));
        }
        too_large(path, meta.len(), limit)?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        too_large(path, bytes.len() as u64, limit)?;
        Ok(bytes)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let m = fs::symlink_metadata(path)?;
        Ok(FileMeta {
            kind: kind_of(m.file_type()),
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            len: m.len(),
        })
    }

    fn create_dir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
    }

    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }

    fn write_atomic(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
        let tmp = temp_sibling(path);
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)?;
            f.write_all(contents)?;
            // The umask may have narrowed the mode given to open.
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn lock(&self, path: &Path, wait: Duration) -> io::Result<FileLock> {
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)?;
        let deadline = Instant::now() + wait;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => {
                    return Ok(FileLock {
                        _file: Some(locked),
                        held: true,
                    })
                }
                Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = f;
                    thread::sleep(Duration::from_millis(10));
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("timed out waiting for lock {}", path.display()),
                    ))
                }
                // NFS without lockd, some FUSE filesystems: carry on unlocked.
                Err((_, Errno::ENOLCK | Errno::EOPNOTSUPP | Errno::ENOSYS)) => {
                    tracing::warn!(path = %path.display(), "filesystem cannot lock; continuing unlocked");
                    return Ok(FileLock::unlocked());
                }
                Err((_, errno)) => return Err(io::Error::from(errno)),
            }
        }
    }

    fn lock_held(&self, path: &Path) -> io::Result<bool> {
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        // A shared probe conflicts with the holder's exclusive lock only;
        // when it is granted, it is released at once (dropped).
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_probe) => Ok(false),
            Err((_, Errno::EWOULDBLOCK)) => Ok(true),
            Err((_, errno)) => Err(io::Error::from(errno)),
        }
    }
}

/// Real child processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSpawner;

/// Sets, then removes: a removal (say of GH_TOKEN for gh) always wins.
fn apply_env(command: &mut Command, spec: &CommandSpec) {
    for (key, value) in &spec.env_set {
        command.env(key, value);
    }
    for key in &spec.env_remove {
        command.env_remove(key);
    }
}

/// Reads `r` to EOF on a thread; the text arrives on the returned channel.
fn read_all_in_thread<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

impl Spawner for RealSpawner {
    fn run(&self, spec: &CommandSpec) -> io::Result<RunOutput> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(if spec.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so a timeout also ends what it started.
            .process_group(0);
        apply_env(&mut command, spec);
        no_group_or_other_write(&mut command);
        let mut child = command.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {}: {e}", spec.program.display()),
            )
        })?;
        if let (Some(bytes), Some(mut stdin)) = (&spec.stdin, child.stdin.take()) {
            let bytes = bytes.expose().clone();
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let group = Pid::from_raw(-(child.id() as i32));
        let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
            (Some(out), Some(err)) => (read_all_in_thread(out), read_all_in_thread(err)),
            _ => return Err(io::Error::other("child pipes missing")),
        };
        // A waiter thread and a channel: no polling delay on the happy path.
        let (status_tx, status_rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = status_tx.send(child.wait());
        });
        let (status, timed_out) = match status_rx.recv_timeout(spec.timeout) {
            Ok(status) => (status?, false),
            Err(_) => {
                // SIGTERM first: git removes its `config.lock` on SIGTERM,
                // and one killed mid-write would leave the lock, breaking
                // every later write to that config. SIGKILL after 2 s.
                let _ = kill(group, Signal::SIGTERM);
                let status = match status_rx.recv_timeout(Duration::from_secs(2)) {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = kill(group, Signal::SIGKILL);
                        status_rx
                            .recv()
                            .map_err(|_| io::Error::other("waiter thread vanished"))?
                    }
                }?;
                (status, true)
            }
        };
        // Something the child left behind may hold its pipes open: give the
        // readers a moment, then end the group so they see EOF.
        let grace = Instant::now() + Duration::from_secs(1);
        let collect = |rx: mpsc::Receiver<String>| {
            let left = grace.saturating_duration_since(Instant::now());
            rx.recv_timeout(left).or_else(|_| {
                let _ = kill(group, Signal::SIGKILL);
                rx.recv_timeout(Duration::from_secs(1))
            })
        };
        Ok(RunOutput {
            code: status.code(),
            stdout: collect(stdout).unwrap_or_default(),
            stderr: collect(stderr).unwrap_or_default(),
            timed_out,
        })
    }

    fn spawn_detached(&self, spec: &CommandSpec, log: &Path) -> io::Result<i32> {
        // Never through a link planted at the log's name.
        let log_file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(log)?;
        if !log_file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file", log.display()),
            ));
        }
        let log_err = log_file.try_clone()?;
        let (pid_read, pid_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let pid_write_raw = std::os::fd::AsRawFd::as_raw_fd(&pid_write);

        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(detached_stdin(spec)?)
            .stdout(log_file)
            .stderr(log_err);
        apply_env(&mut command, spec);
        no_group_or_other_write(&mut command);
        // SAFETY: between fork and exec this runs only async-signal-safe calls
        // (setsid, fork, write, _exit) and touches no allocator or lock.
        unsafe {
            command.pre_exec(move || {
                nix::unistd::setsid().map_err(io::Error::from)?;
                match nix::unistd::fork().map_err(io::Error::from)? {
                    nix::unistd::ForkResult::Parent { child } => {
                        let bytes = child.as_raw().to_ne_bytes();
                        libc_write(pid_write_raw, &bytes);
                        nix::libc::_exit(0);
                    }
                    // The grandchild: not our child, and after the first fork's
                    // setsid it is in a new session. A second setsid makes it the
                    // session and group leader so its PID names its group.
                    nix::unistd::ForkResult::Child => {
                        let _ = nix::unistd::setsid();
                        Ok(())
                    }
                }
            });
        }
        let mut intermediate = command.spawn()?;
        drop(pid_write);
        let _ = intermediate.wait();
        let mut buf = [0u8; 4];
        let mut reader = fs::File::from(pid_read);
        reader.read_exact(&mut buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("detached spawn did not report a PID: {e}"),
            )
        })?;
        Ok(i32::from_ne_bytes(buf))
    }
}

/// A detached child's stdin: `/dev/null`, or a pipe already holding the
/// spec's bytes and closed behind them (a token fits a pipe's buffer many
/// times over, so the write cannot block).
fn detached_stdin(spec: &CommandSpec) -> io::Result<Stdio> {
    let Some(bytes) = &spec.stdin else {
        return Ok(Stdio::null());
    };
    let bytes = bytes.expose();
    if bytes.len() > 16 * 1024 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "detached stdin larger than 16 KiB",
        ));
    }
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    fs::File::from(write).write_all(bytes)?;
    Ok(Stdio::from(read))
}

/// Whatever the runtime's umask, no child creates a file others can write:
/// git's `~/.gitconfig`, gh's hosts file, the daemon's files. Adds 022 to
/// the inherited umask (keeping stricter bits).
fn no_group_or_other_write(command: &mut Command) {
    // SAFETY: umask(2) is async-signal-safe and touches no allocator or lock.
    unsafe {
        command.pre_exec(|| {
            let old = nix::libc::umask(0o022);
            nix::libc::umask(old | 0o022);
            Ok(())
        });
    }
}

fn libc_write(fd: i32, bytes: &[u8]) {
    // SAFETY: write(2) on an open fd with a valid buffer; async-signal-safe.
    unsafe {
        nix::libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
}

/// `kill(2)` and `/proc`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealProcTable;

/// The fields of `/proc/PID/stat` after the command name (which is in
/// parentheses and may hold spaces): state, ppid, pgrp, session, …
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// True when `/proc/PID/stat` says the process is a zombie (state `Z`).
fn is_zombie(pid: i32) -> bool {
    stat_fields(pid)
        .and_then(|f| f.first().cloned())
        .is_some_and(|state| state == "Z" || state == "X")
}

impl ProcTable for RealProcTable {
    fn liveness(&self, pid: i32) -> Liveness {
        if pid <= 0 {
            // kill(0, …) and kill(-n, …) address process groups, never one PID.
            return Liveness::Dead;
        }
        match kill(Pid::from_raw(pid), None) {
            Ok(()) | Err(Errno::EPERM) if is_zombie(pid) => Liveness::Zombie,
            Ok(()) | Err(Errno::EPERM) => Liveness::Alive,
            Err(_) => Liveness::Dead,
        }
    }

    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>> {
        if pid <= 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "PID must be positive",
            ));
        }
        let raw = fs::read(format!("/proc/{pid}/cmdline"))?;
        Ok(raw
            .split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect())
    }

    fn terminate_group(&self, pgid: i32) -> io::Result<()> {
        if pgid <= 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to signal group <= 1",
            ));
        }
        kill(Pid::from_raw(-pgid), Signal::SIGTERM).map_err(io::Error::from)
    }

    fn terminate(&self, pid: i32) -> io::Result<()> {
        if pid <= 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to signal PID <= 1",
            ));
        }
        kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(io::Error::from)
    }

    fn lineage(&self, pid: i32) -> Option<Lineage> {
        let fields = stat_fields(pid)?;
        Some(Lineage {
            ppid: fields.get(1)?.parse().ok()?,
            sid: fields.get(3)?.parse().ok()?,
        })
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        if pid <= 0 {
            return None;
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        // `Uid:\treal\teffective\tsaved\tfs`: the real uid.
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    fn holds_lock(&self, pid: i32, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(wanted) = fs::symlink_metadata(path) else {
            return false;
        };
        if pid <= 0 || !wanted.is_file() {
            return false;
        }
        let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        // stat of /proc/PID/fd/N is the open file's: compare device and
        // inode. Open is not held: the kernel lists the locks each open
        // file description holds in /proc/PID/fdinfo/N (`lock:` lines).
        entries.flatten().take(1024).any(|entry| {
            let is_the_file = fs::metadata(entry.path())
                .is_ok_and(|m| m.dev() == wanted.dev() && m.ino() == wanted.ino());
            is_the_file
                && fs::read(format!(
                    "/proc/{pid}/fdinfo/{}",
                    entry.file_name().to_string_lossy()
                ))
                .is_ok_and(|info| {
                    info.len() < 64 * 1024
                        && String::from_utf8_lossy(&info)
                            .lines()
                            .any(|l| l.starts_with("lock:") && l.contains("FLOCK"))
                })
        })
    }

    fn pids(&self) -> Vec<i32> {
        fs::read_dir("/proc")
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// PATH lookup over a PATH value captured at construction.
#[derive(Debug, Default, Clone)]
pub struct RealWhich {
    path: Option<OsString>,
}

impl RealWhich {
    /// Looks programs up on this PATH (`None`: an empty one).
    pub fn new(path: Option<OsString>) -> Self {
        RealWhich { path }
    }

    /// Looks programs up on the process's own PATH.
    pub fn from_env() -> Self {
        RealWhich::new(std::env::var_os("PATH"))
    }

    /// PATH lookup over the PATH in `config`'s environment snapshot.
    pub fn for_config(config: &crate::config::Config) -> Self {
        RealWhich::new(config.env.get("PATH").map(Into::into))
    }
}

impl Which for RealWhich {
    fn which(&self, name: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path)
            .filter(|dir| !dir.as_os_str().is_empty())
            .map(|dir| dir.join(name))
            .find(|candidate| {
                fs::metadata(candidate)
                    .map(|m| m.is_file() && m.mode() & 0o111 != 0)
                    .unwrap_or(false)
            })
    }
}
