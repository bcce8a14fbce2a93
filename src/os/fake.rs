//! In-memory fakes of every OS seam, sharing one simulated world: a
//! filesystem, a process table, a PATH, a global git config and a gh that
//! behaves like the real one (it refuses to log in while `GH_TOKEN` or
//! `GITHUB_TOKEN` is in its environment). Any operation on any path can be
//! made to fail, and every operation is recorded, so tests can assert
//! "nothing was written" or "exactly these commands ran".

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{
    CommandSpec, FileKind, FileLock, FileMeta, Fs, Lineage, Liveness, ProcTable, RunOutput,
    Spawner, Which,
};

/// The installer over one fake world.
pub type FakeInstaller = crate::Installer<FakeSystem, FakeSystem, FakeSystem, FakeSystem>;

/// Kinds of operation, for fault injection and the operation log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// A file read.
    Read,
    /// An `lstat`.
    Metadata,
    /// A directory created.
    CreateDir,
    /// A mode set.
    SetMode,
    /// A file written.
    Write,
    /// A file, directory or process removed.
    Remove,
    /// A lock taken.
    Lock,
    /// A program run to completion.
    Run,
    /// A program started detached.
    Spawn,
}

/// One recorded operation: its kind and its path (or program name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Which operation fails.
    pub kind: OpKind,
    /// On which path or program (`git`, `gh`, `bash`, or a path).
    pub target: String,
    /// For `Run` and `Spawn`: the arguments.
    pub args: Vec<String>,
}

impl Op {
    /// Whether this operation changes the world: writes, chmods, mkdirs,
    /// removals, spawns, and runs of git or gh that are not read-only queries.
    pub fn is_mutation(&self) -> bool {
        match self.kind {
            OpKind::Read | OpKind::Metadata | OpKind::Lock => false,
            OpKind::CreateDir
            | OpKind::SetMode
            | OpKind::Write
            | OpKind::Remove
            | OpKind::Spawn => true,
            OpKind::Run => !self.args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "--get"
                        | "--get-all"
                        | "--get-regexp"
                        | "--list"
                        | "_check_settings"
                        | "_settings"
                        | "--dry-run"
                )
            }),
        }
    }
}

/// Makes every operation of `kind` whose target starts with `target` fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What was done.
    pub kind: OpKind,
    /// To which path or program.
    pub target: String,
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    Dir,
    Symlink,
}

#[derive(Debug, Clone)]
struct Entry {
    node: Node,
    mode: u32,
    uid: u32,
}

/// A simulated process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeProcess {
    /// Its argv.
    pub cmdline: Vec<String>,
    /// Exited but not reaped.
    pub zombie: bool,
    /// Owned by another user: `kill(pid, 0)` fails with `EPERM`.
    pub foreign: bool,
    /// Parent PID; `None` means 1 (init).
    pub ppid: Option<i32>,
    /// Session ID; `None` means the process leads its own session.
    pub sid: Option<i32>,
    /// Files it holds open and locked (a supervisor holds its lock).
    pub holds: Vec<PathBuf>,
}

#[derive(Debug, Default)]
struct World {
    files: BTreeMap<PathBuf, Entry>,
    processes: BTreeMap<i32, FakeProcess>,
    next_pid: i32,
    binaries: BTreeMap<String, PathBuf>,
    /// Global git config, in file order: (lower-cased key, value).
    git_config: Vec<(String, String)>,
    /// The environment children inherit.
    inherited_env: BTreeMap<String, String>,
    faults: Vec<Fault>,
    ops: Vec<Op>,
    uid: u32,
    gh_fails: bool,
}

/// The fake world. Cheap to clone: clones share state, so one can be handed
/// to the installer as each of its four backends.
#[derive(Debug, Clone, Default)]
pub struct FakeSystem {
    world: Arc<Mutex<World>>,
}

fn injected(kind: OpKind, target: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("injected fault: {kind:?} {target}"),
    )
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: not found", path.display()),
    )
}

/// Git treats the section and key names case-insensitively.
fn git_key(key: &str) -> String {
    key.to_ascii_lowercase()
}

impl FakeSystem {
    /// An empty world with `git`, `gh` and `bash` on PATH, the user uid 1000,
    /// and the next PID 1000.
    pub fn new() -> Self {
        let sys = FakeSystem::default();
        {
            let mut w = sys.lock();
            w.next_pid = 1000;
            w.uid = 1000;
            for name in ["git", "gh", "bash", "flock"] {
                w.binaries
                    .insert(name.into(), PathBuf::from(format!("/usr/bin/{name}")));
            }
        }
        sys
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user the world runs as (owner of the files it creates).
    pub fn uid(&self) -> u32 {
        self.lock().uid
    }

    /// An installer whose four backends are this world, owning `config`'s
    /// cache as this world's user.
    pub fn installer(&self, mut config: crate::Config) -> FakeInstaller {
        config.uid = self.uid();
        crate::Installer::new(
            config,
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
        )
    }

    // ---- set-up ---------------------------------------------------------

    /// Puts a file in the world.
    pub fn add_file(&self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>, mode: u32) {
        let mut w = self.lock();
        let uid = w.uid;
        add_parents(&mut w, path.as_ref());
        w.files.insert(
            path.as_ref().to_path_buf(),
            Entry {
                node: Node::File(contents.as_ref().to_vec()),
                mode,
                uid,
            },
        );
    }

    /// Puts a directory in the world.
    pub fn add_dir(&self, path: impl AsRef<Path>, mode: u32) {
        let mut w = self.lock();
        let uid = w.uid;
        add_parents(&mut w, path.as_ref());
        w.files.insert(
            path.as_ref().to_path_buf(),
            Entry {
                node: Node::Dir,
                mode,
                uid,
            },
        );
    }

    /// Puts a symbolic link in the world.
    pub fn add_symlink(&self, path: impl AsRef<Path>) {
        let mut w = self.lock();
        let uid = w.uid;
        add_parents(&mut w, path.as_ref());
        w.files.insert(
            path.as_ref().to_path_buf(),
            Entry {
                node: Node::Symlink,
                mode: 0o777,
                uid,
            },
        );
    }

    /// Changes the owner of an existing path (to simulate another user's file).
    pub fn set_owner(&self, path: impl AsRef<Path>, uid: u32) {
        if let Some(e) = self.lock().files.get_mut(path.as_ref()) {
            e.uid = uid;
        }
    }

    /// Adds a process to the table.
    pub fn add_process(&self, pid: i32, process: FakeProcess) {
        self.lock().processes.insert(pid, process);
    }

    /// Makes a process exit (and be reaped).
    pub fn kill_process(&self, pid: i32) {
        self.lock().processes.remove(&pid);
    }

    /// Takes a program off PATH.
    pub fn remove_binary(&self, name: &str) {
        self.lock().binaries.remove(name);
    }

    /// Sets a variable every child inherits.
    pub fn set_env(&self, key: &str, value: &str) {
        self.lock().inherited_env.insert(key.into(), value.into());
    }

    /// Makes `gh auth login` fail as if GitHub rejected the token.
    pub fn set_gh_fails(&self, fails: bool) {
        self.lock().gh_fails = fails;
    }

    /// Makes every matching operation fail from now on.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Appends a value to the global git config, like `git config --add`.
    pub fn add_git_config(&self, key: &str, value: &str) {
        self.lock().git_config.push((git_key(key), value.into()));
    }

    // ---- inspection -----------------------------------------------------

    /// A file's contents, if it is a file.
    pub fn file(&self, path: impl AsRef<Path>) -> Option<Vec<u8>> {
        match self.lock().files.get(path.as_ref()) {
            Some(Entry {
                node: Node::File(bytes),
                ..
            }) => Some(bytes.clone()),
            _ => None,
        }
    }

    /// A path's permission bits.
    pub fn mode(&self, path: impl AsRef<Path>) -> Option<u32> {
        self.lock().files.get(path.as_ref()).map(|e| e.mode)
    }

    /// Whether anything is at `path`.
    pub fn exists(&self, path: impl AsRef<Path>) -> bool {
        self.lock().files.contains_key(path.as_ref())
    }

    /// Every value of `key` in the global git config, in order.
    pub fn git_config_values(&self, key: &str) -> Vec<String> {
        let key = git_key(key);
        self.lock()
            .git_config
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The process table.
    pub fn processes(&self) -> BTreeMap<i32, FakeProcess> {
        self.lock().processes.clone()
    }

    /// Every operation so far, in order.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// The operations that changed something (writes, spawns, removals…).
    pub fn mutations(&self) -> Vec<Op> {
        self.ops().into_iter().filter(Op::is_mutation).collect()
    }

    /// Forgets the operations so far.
    pub fn clear_ops(&self) {
        self.lock().ops.clear();
    }

    /// Every file's bytes, for "no token anywhere" scans.
    pub fn all_file_contents(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.lock()
            .files
            .iter()
            .filter_map(|(p, e)| match &e.node {
                Node::File(b) => Some((p.clone(), b.clone())),
                _ => None,
            })
            .collect()
    }

    // ---- internals ------------------------------------------------------

    /// Records the op, then fails it if a fault matches.
    fn enter(
        &self,
        kind: OpKind,
        target: &str,
        args: &[String],
    ) -> io::Result<MutexGuard<'_, World>> {
        let mut w = self.lock();
        w.ops.push(Op {
            kind,
            target: target.to_string(),
            args: args.to_vec(),
        });
        if w.faults
            .iter()
            .any(|f| f.kind == kind && target.starts_with(&f.target))
        {
            return Err(injected(kind, target));
        }
        Ok(w)
    }
}

fn add_parents(w: &mut World, path: &Path) {
    let uid = w.uid;
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            continue;
        }
        w.files.entry(ancestor.to_path_buf()).or_insert(Entry {
            node: Node::Dir,
            mode: 0o755,
            uid,
        });
    }
}

/// The parent must exist and be a directory (a file in the way is ENOTDIR).
fn check_parent(w: &World, path: &Path) -> io::Result<()> {
    match path.parent() {
        None => Ok(()),
        Some(p) if p.as_os_str().is_empty() || p == Path::new("/") => Ok(()),
        Some(p) => match w.files.get(p) {
            Some(Entry {
                node: Node::Dir, ..
            }) => Ok(()),
            Some(_) => Err(io::Error::other(format!(
                "{}: not a directory",
                p.display()
            ))),
            None => Err(not_found(p)),
        },
    }
}

impl Fs for FakeSystem {
    fn read(&self, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
        let w = self.enter(OpKind::Read, &path.to_string_lossy(), &[])?;
        match w.files.get(path) {
            Some(Entry {
                node: Node::File(b),
                ..
            }) => super::real::too_large(path, b.len() as u64, limit).map(|()| b.clone()),
            Some(_) => Err(io::Error::other(format!("{}: not a file", path.display()))),
            None => Err(not_found(path)),
        }
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMeta> {
        let w = self.enter(OpKind::Metadata, &path.to_string_lossy(), &[])?;
        let e = w.files.get(path).ok_or_else(|| not_found(path))?;
        let (kind, len) = match &e.node {
            Node::File(b) => (FileKind::File, b.len() as u64),
            Node::Dir => (FileKind::Dir, 0),
            Node::Symlink => (FileKind::Symlink, 0),
        };
        Ok(FileMeta {
            kind,
            mode: e.mode,
            uid: e.uid,
            len,
        })
    }

    fn create_dir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        let mut w = self.enter(OpKind::CreateDir, &path.to_string_lossy(), &[])?;
        let uid = w.uid;
        let mut missing: Vec<&Path> = Vec::new();
        for ancestor in path.ancestors() {
            if ancestor.as_os_str().is_empty() || ancestor == Path::new("/") {
                break;
            }
            match w.files.get(ancestor) {
                Some(Entry {
                    node: Node::Dir, ..
                }) => break,
                Some(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: exists and is not a directory", ancestor.display()),
                    ))
                }
                None => missing.push(ancestor),
            }
        }
        for dir in missing.into_iter().rev() {
            w.files.insert(
                dir.to_path_buf(),
                Entry {
                    node: Node::Dir,
                    mode,
                    uid,
                },
            );
        }
        Ok(())
    }

    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        let mut w = self.enter(OpKind::SetMode, &path.to_string_lossy(), &[])?;
        let e = w.files.get_mut(path).ok_or_else(|| not_found(path))?;
        e.mode = mode;
        Ok(())
    }

    fn write_atomic(&self, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
        let mut w = self.enter(OpKind::Write, &path.to_string_lossy(), &[])?;
        check_parent(&w, path)?;
        if let Some(Entry {
            node: Node::Dir, ..
        }) = w.files.get(path)
        {
            return Err(io::Error::other(format!(
                "{}: is a directory",
                path.display()
            )));
        }
        let uid = w.uid;
        w.files.insert(
            path.to_path_buf(),
            Entry {
                node: Node::File(contents.to_vec()),
                mode,
                uid,
            },
        );
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut w = self.enter(OpKind::Remove, &path.to_string_lossy(), &[])?;
        match w.files.get(path) {
            Some(Entry {
                node: Node::Dir, ..
            }) => Err(io::Error::other(format!(
                "{}: is a directory",
                path.display()
            ))),
            Some(_) => {
                w.files.remove(path);
                Ok(())
            }
            None => Err(not_found(path)),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut w = self.enter(OpKind::Remove, &path.to_string_lossy(), &[])?;
        if !w.files.contains_key(path) {
            return Err(not_found(path));
        }
        w.files.retain(|p, _| !p.starts_with(path));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut w = self.enter(OpKind::Write, &to.to_string_lossy(), &[])?;
        if !w.files.contains_key(from) {
            return Err(not_found(from));
        }
        let moved: Vec<PathBuf> = w
            .files
            .keys()
            .filter(|p| p.starts_with(from))
            .cloned()
            .collect();
        for old in moved {
            if let Some(entry) = w.files.remove(&old) {
                let new = to.join(old.strip_prefix(from).unwrap_or(Path::new("")));
                let new = if old == from { to.to_path_buf() } else { new };
                w.files.insert(new, entry);
            }
        }
        Ok(())
    }

    fn lock(&self, path: &Path, _wait: Duration) -> io::Result<FileLock> {
        let w = self.enter(OpKind::Lock, &path.to_string_lossy(), &[])?;
        check_parent(&w, path)?;
        Ok(FileLock::unlocked())
    }

    fn lock_held(&self, path: &Path) -> io::Result<bool> {
        let w = self.enter(OpKind::Metadata, &path.to_string_lossy(), &[])?;
        Ok(w.processes
            .values()
            .any(|p| !p.zombie && p.holds.iter().any(|h| h == path)))
    }
}

impl FakeSystem {
    fn child_env(w: &World, cmd: &CommandSpec) -> BTreeMap<String, String> {
        let mut env = w.inherited_env.clone();
        for (k, v) in &cmd.env_set {
            env.insert(k.clone(), v.clone());
        }
        for key in &cmd.env_remove {
            env.remove(key);
        }
        env
    }

    fn fake_git(w: &mut World, args: &[String]) -> RunOutput {
        let ok = |stdout: String| RunOutput {
            code: Some(0),
            stdout,
            ..Default::default()
        };
        let fail = |code: i32, msg: &str| RunOutput {
            code: Some(code),
            stderr: msg.into(),
            ..Default::default()
        };
        let rest: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .filter(|a| !matches!(*a, "config" | "--global" | "--type=bool" | "-z"))
            .collect();
        match rest.as_slice() {
            ["--get-all", key] | ["--get", key] => {
                let key = git_key(key);
                let values: Vec<&String> = w
                    .git_config
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v)
                    .collect();
                if values.is_empty() {
                    return fail(1, "");
                }
                if rest[0] == "--get" {
                    return ok(format!("{}\n", values[values.len() - 1]));
                }
                ok(values.iter().map(|v| format!("{v}\n")).collect())
            }
            ["--get-regexp", pattern] => {
                // Only the patterns the installer uses: `^prefix.(a|b)$`.
                let matcher = fake_regexp(pattern);
                let out: String = w
                    .git_config
                    .iter()
                    .filter(|(k, _)| matcher(k))
                    .map(|(k, v)| format!("{k}\n{v}\0"))
                    .collect();
                if out.is_empty() {
                    fail(1, "")
                } else {
                    ok(out)
                }
            }
            ["--unset-all", key] => {
                let key = git_key(key);
                let before = w.git_config.len();
                w.git_config.retain(|(k, _)| *k != key);
                if w.git_config.len() == before {
                    fail(5, "")
                } else {
                    ok(String::new())
                }
            }
            ["--replace-all", key, value] => {
                let key = git_key(key);
                w.git_config.retain(|(k, _)| *k != key);
                w.git_config.push((key, value.to_string()));
                ok(String::new())
            }
            ["--add", key, value] => {
                w.git_config.push((git_key(key), value.to_string()));
                ok(String::new())
            }
            [key, value] => {
                let key = git_key(key);
                let count = w.git_config.iter().filter(|(k, _)| *k == key).count();
                if count > 1 {
                    return fail(5, &format!("warning: {key} has multiple values"));
                }
                if let Some(entry) = w.git_config.iter_mut().find(|(k, _)| *k == key) {
                    entry.1 = value.to_string();
                } else {
                    w.git_config.push((key, value.to_string()));
                }
                ok(String::new())
            }
            _ => fail(129, "fake git: unsupported arguments"),
        }
    }

    fn fake_gh(w: &mut World, cmd: &CommandSpec) -> RunOutput {
        let is_login = cmd
            .args
            .iter()
            .take(2)
            .map(String::as_str)
            .eq(["auth", "login"]);
        if !is_login {
            return RunOutput {
                code: Some(1),
                stderr: "fake gh: unsupported command".into(),
                ..Default::default()
            };
        }
        Self::fake_gh_login(w, cmd)
    }

    /// `gh auth login --with-token`, the token on `cmd`'s stdin.
    fn fake_gh_login(w: &mut World, cmd: &CommandSpec) -> RunOutput {
        let env = Self::child_env(w, cmd);
        if env.contains_key("GH_TOKEN") || env.contains_key("GITHUB_TOKEN") {
            return RunOutput {
                code: Some(1),
                stderr: "The value of the GH_TOKEN environment variable is being used for authentication.\n".into(),
                ..Default::default()
            };
        }
        if w.gh_fails {
            return RunOutput {
                code: Some(1),
                stderr: "error validating token: HTTP 401\n".into(),
                ..Default::default()
            };
        }
        let token = cmd
            .stdin
            .as_ref()
            .map(|s| String::from_utf8_lossy(s.expose()).trim().to_string())
            .unwrap_or_default();
        let dir = match env.get("GH_CONFIG_DIR") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(env.get("HOME").cloned().unwrap_or_default()).join(".config/gh"),
        };
        let hosts = dir.join("hosts.yml");
        let body = format!("github.com:\n    oauth_token: {token}\n    git_protocol: https\n");
        add_parents(w, &hosts);
        let uid = w.uid;
        w.files.insert(
            hosts,
            Entry {
                node: Node::File(body.into_bytes()),
                mode: 0o600,
                uid,
            },
        );
        RunOutput {
            code: Some(0),
            ..Default::default()
        }
    }
}

/// A matcher for `^literal\.prefix\.(a|b)$` (regex escapes removed,
/// compared case-insensitively like git's key names).
fn fake_regexp(pattern: &str) -> impl Fn(&str) -> bool {
    let body = pattern
        .trim_start_matches('^')
        .trim_end_matches('$')
        .replace('\\', "");
    let (prefix, alternatives) = match body.split_once('(') {
        Some((p, alts)) => (
            p.to_string(),
            alts.trim_end_matches(')')
                .split('|')
                .map(str::to_string)
                .collect(),
        ),
        None => (body.clone(), vec![String::new()]),
    };
    move |key: &str| {
        let key = key.to_ascii_lowercase();
        alternatives
            .iter()
            .any(|alt| key == format!("{prefix}{alt}").to_ascii_lowercase())
    }
}

impl Spawner for FakeSystem {
    fn run(&self, cmd: &CommandSpec) -> io::Result<RunOutput> {
        let name = cmd.program_name();
        let mut w = self.enter(OpKind::Run, &name, &cmd.args)?;
        let known: BTreeSet<PathBuf> = w.binaries.values().cloned().collect();
        if !known.contains(&cmd.program) {
            return Err(not_found(&cmd.program));
        }
        Ok(match name.as_str() {
            "git" => Self::fake_git(&mut w, &cmd.args),
            "gh" => Self::fake_gh(&mut w, cmd),
            _ => RunOutput {
                code: Some(0),
                ..Default::default()
            },
        })
    }

    fn spawn_detached(&self, cmd: &CommandSpec, _log: &Path) -> io::Result<i32> {
        // The helper's detached gh login is recorded as gh running (a fault
        // on `Run gh` fails it) and done at once by the fake gh, which, like
        // the real one, refuses while an env token reaches it.
        if cmd.args.iter().any(|a| a == "_login_gh_stdin") {
            let mut w = self.enter(OpKind::Run, "gh", &cmd.args)?;
            let pid = w.next_pid;
            w.next_pid += 1;
            let _ = Self::fake_gh_login(&mut w, cmd);
            return Ok(pid);
        }
        let mut w = self.enter(OpKind::Spawn, &cmd.program_name(), &cmd.args)?;
        let pid = w.next_pid;
        w.next_pid += 1;
        let cmdline = std::iter::once(cmd.program.to_string_lossy().into_owned())
            .chain(cmd.args.iter().cloned())
            .collect();
        // A supervisor takes its lock (`<runtime dir>/supervisor.lock`,
        // beside the scripts dir) as it starts.
        let holds = match cmd.args.as_slice() {
            [_, script, arg] if arg == crate::scripts::SUPERVISE_ARG => Path::new(script)
                .parent()
                .and_then(Path::parent)
                .map(|runtime| vec![runtime.join("supervisor.lock")])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        w.processes.insert(
            pid,
            FakeProcess {
                cmdline,
                holds,
                ..FakeProcess::default()
            },
        );
        Ok(pid)
    }
}

impl ProcTable for FakeSystem {
    fn liveness(&self, pid: i32) -> Liveness {
        if pid <= 0 {
            return Liveness::Dead;
        }
        match self.lock().processes.get(&pid) {
            Some(p) if p.zombie => Liveness::Zombie,
            Some(_) => Liveness::Alive,
            None => Liveness::Dead,
        }
    }

    fn cmdline(&self, pid: i32) -> io::Result<Vec<String>> {
        self.lock()
            .processes
            .get(&pid)
            .map(|p| p.cmdline.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no process {pid}")))
    }

    fn terminate_group(&self, pgid: i32) -> io::Result<()> {
        let mut w = self.enter(OpKind::Remove, &format!("process-group:{pgid}"), &[])?;
        match w.processes.get(&pgid) {
            Some(p) if p.foreign => Err(io::Error::from(io::ErrorKind::PermissionDenied)),
            Some(_) => {
                w.processes.remove(&pgid);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no process group {pgid}"),
            )),
        }
    }

    fn terminate(&self, pid: i32) -> io::Result<()> {
        self.terminate_group(pid)
    }

    fn pids(&self) -> Vec<i32> {
        self.lock().processes.keys().copied().collect()
    }

    fn lineage(&self, pid: i32) -> Option<Lineage> {
        self.lock().processes.get(&pid).map(|p| Lineage {
            ppid: p.ppid.unwrap_or(1),
            sid: p.sid.unwrap_or(pid),
        })
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        let w = self.lock();
        // A foreign process runs as another user than the world's.
        w.processes
            .get(&pid)
            .map(|p| if p.foreign { w.uid + 1 } else { w.uid })
    }

    fn holds_lock(&self, pid: i32, path: &Path) -> bool {
        self.lock()
            .processes
            .get(&pid)
            .is_some_and(|p| !p.zombie && p.holds.iter().any(|h| h == path))
    }
}

impl Which for FakeSystem {
    fn which(&self, name: &str) -> Option<PathBuf> {
        self.lock().binaries.get(name).cloned()
    }
}
