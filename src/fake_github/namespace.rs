//! The end-to-end world's private network, mount and PID namespace
//! (`unshare`, as root): inside, loopback is up and every host the stand-in
//! serves (`github.com`, `api.github.com`, the enterprise stand-ins:
//! [`super::tls::HOSTS`]) resolves to 127.0.0.1 through a hosts file bind-mounted
//! over `/etc/hosts` for that namespace only, so the real git and gh reach
//! [`super::FakeGitHub`] on port 443. Nothing outside changes, and when the
//! namespace's first process exits the kernel ends every process in it.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// Set in the environment of a process started by [`command_inside`].
pub const INSIDE_ENV: &str = "MOLECULE_E2E_INSIDE";

const UNSHARE_ARGS: [&str; 6] = [
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--mount-proc",
    "--kill-child",
];

/// Why a private world cannot be had here (not root, no `unshare`, or the
/// kernel refused), or `None` when it can.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: unshare --net --mount needs root".into());
    }
    match Command::new("unshare")
        .args(UNSHARE_ARGS)
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => Some(format!(
            "cannot run unshare (apt-get install util-linux): {e}"
        )),
        Ok(out) if !out.status.success() => Some(format!(
            "unshare refused: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// `program` run inside a new private world (it is the namespace's PID 1).
pub fn command_inside(program: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(UNSHARE_ARGS)
        .arg("--")
        .arg(program)
        .env(INSIDE_ENV, "1");
    cmd
}

/// Whether this process runs inside a world made by [`command_inside`].
pub fn is_inside() -> bool {
    std::env::var_os(INSIDE_ENV).is_some()
}

/// Inside: loopback up, and a hosts file (written to `dir`) bind-mounted
/// over `/etc/hosts`. Refuses outside, so it can never touch the real one.
pub fn prepare_inside(dir: &Path) -> io::Result<()> {
    if !is_inside() {
        return Err(io::Error::other(
            "not inside a private world: refusing to touch /etc/hosts",
        ));
    }
    run(Command::new("ip").args(["link", "set", "lo", "up"]))?;
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        format!(
            "127.0.0.1 localhost {}\n::1 localhost\n",
            super::tls::HOSTS.join(" ")
        ),
    )?;
    run(Command::new("mount")
        .arg("--bind")
        .arg(&hosts)
        .arg("/etc/hosts"))
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
