//! The real backends on their own: bounded runs, detached spawns, locks.

use crate::support::token;
use std::time::{Duration, Instant};

use molecule_credential_helper::os::{
    CommandSpec, FileKind, Fs, Liveness, ProcTable, RealFs, RealProcTable, RealSpawner, Spawner,
};
use molecule_credential_helper::Secret;

#[test]
fn run_returns_output_stdin_and_exit_code() {
    let cmd = CommandSpec::new("bash")
        .args(["-c", "read -r x; echo \"got $x\"; echo oops >&2; exit 3"])
        .stdin(Secret::new(b"hello\n".to_vec()));
    let out = RealSpawner.run(&cmd).unwrap();
    assert_eq!(
        (
            out.code,
            out.stdout.as_str(),
            out.stderr.as_str(),
            out.timed_out
        ),
        (Some(3), "got hello\n", "oops\n", false)
    );
}

#[test]
fn run_kills_the_whole_group_at_the_timeout() {
    let dir = assert_fs::TempDir::new().unwrap();
    let child_pid = dir.path().join("child.pid");
    let started = Instant::now();
    let cmd = CommandSpec::new("bash")
        .args([
            "-c",
            &format!("sleep 30 & echo $! >'{}'; sleep 30", child_pid.display()),
        ])
        .timeout(Duration::from_millis(500));
    let out = RealSpawner.run(&cmd).unwrap();
    assert!(out.timed_out && out.code.is_none(), "{out:?}");
    // Far below the 30 s sleeps, with headroom for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.failure_reason("bash").contains("timed out"));
    // The group's background child died with it.
    let pid: i32 = std::fs::read_to_string(&child_pid)
        .expect("the background child's PID")
        .trim()
        .parse()
        .unwrap();
    assert!(
        crate::support::wait_for(Duration::from_secs(10), || {
            !crate::support::procs::alive(pid)
        }),
        "the group's background child {pid} outlived the timeout"
    );
}

#[test]
fn run_is_not_held_up_by_a_background_child_holding_the_pipes() {
    let started = Instant::now();
    let cmd = CommandSpec::new("bash")
        .args(["-c", "sleep 30 & echo hi"])
        .timeout(Duration::from_secs(20));
    let out = RealSpawner.run(&cmd).unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "hi\n"));
    // Far below the background child's 30 s, with headroom for load.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn env_removal_beats_env_setting() {
    let cmd = CommandSpec::new("bash")
        .args(["-c", "echo \"[${GH_TOKEN-unset}]\""])
        .env("GH_TOKEN", token(8))
        .env_remove("GH_TOKEN");
    assert_eq!(RealSpawner.run(&cmd).unwrap().stdout, "[unset]\n");
}

#[test]
fn detached_spawn_is_not_our_child_and_leads_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let cmd = CommandSpec::new("bash").args(["-c", "echo started; exec sleep 30"]);
    let pid = RealSpawner.spawn_detached(&cmd, &log).unwrap();
    let procs = RealProcTable;
    assert_eq!(procs.liveness(pid), Liveness::Alive);
    let lineage = procs.lineage(pid).unwrap();
    assert_eq!(lineage.sid, pid);
    assert_ne!(lineage.ppid, std::process::id() as i32);
    assert!(crate::support::wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("started"))
    }));
    procs.terminate_group(pid).unwrap();
    assert!(crate::support::wait_for(Duration::from_secs(5), || procs
        .liveness(pid)
        != Liveness::Alive));
}

#[test]
fn liveness_never_signals_groups_and_tells_dead_from_alive() {
    let procs = RealProcTable;
    assert_eq!(procs.liveness(0), Liveness::Dead);
    assert_eq!(procs.liveness(-1), Liveness::Dead);
    assert_eq!(procs.liveness(std::process::id() as i32), Liveness::Alive);
    assert!(procs.terminate_group(1).is_err() && procs.terminate(0).is_err());
    // A child that exited but is not reaped yet is a zombie, not alive.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    assert!(crate::support::wait_for(Duration::from_secs(5), || procs
        .liveness(pid)
        == Liveness::Zombie));
    child.wait().unwrap();
    assert_eq!(procs.liveness(pid), Liveness::Dead);
}

/// Anything read from outside is bounded: a FIFO is an error at once (the
/// open does not block), /dev/zero and an over-long file are errors, not an
/// out-of-memory.
#[test]
fn fs_read_is_bounded_and_takes_regular_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let fs = RealFs;
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let started = Instant::now();
    assert!(fs.read(&fifo, 64).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a FIFO blocked the read"
    );
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    assert!(fs.read(&zero, 64).is_err());
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'1'; 65]).unwrap();
    assert_eq!(
        fs.read(&big, 64).unwrap_err().kind(),
        std::io::ErrorKind::InvalidData
    );
    assert_eq!(fs.read(&big, 65).unwrap().len(), 65);
}

#[test]
fn fs_lstat_atomic_write_and_lock() {
    let dir = tempfile::tempdir().unwrap();
    let fs = RealFs;
    let file = dir.path().join("f");
    fs.write_atomic(&file, b"one", 0o600).unwrap();
    fs.write_atomic(&file, b"two", 0o640).unwrap();
    assert_eq!(fs.read(&file, 3).unwrap(), b"two");
    let meta = fs.metadata(&file).unwrap();
    assert_eq!((meta.kind, meta.mode), (FileKind::File, 0o640));
    std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
    assert_eq!(
        fs.metadata(&dir.path().join("link")).unwrap().kind,
        FileKind::Symlink
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temp file left"
    );
    // A write into a missing dir fails and leaves nothing.
    assert!(fs
        .write_atomic(&dir.path().join("missing/f"), b"x", 0o600)
        .is_err());

    let lock_path = dir.path().join("lock");
    let held = fs.lock(&lock_path, Duration::from_secs(1)).unwrap();
    assert!(held.is_held());
    let started = Instant::now();
    let second = fs.lock(&lock_path, Duration::from_millis(200));
    assert!(second.is_err(), "a second lock must wait, then time out");
    assert!(started.elapsed() >= Duration::from_millis(200));
    drop(held);
    assert!(fs
        .lock(&lock_path, Duration::from_secs(1))
        .unwrap()
        .is_held());
}
