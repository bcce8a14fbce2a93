//! Which home a command acts on, and as whom. `--home DIR` and `$HOME` act
//! as the caller, in a home the caller owns; `--user NAME` (root only)
//! drops to NAME's groups, gid and uid before anything touches NAME's home,
//! closes every descriptor above 2 for the children and keeps only an
//! allow-listed environment, so nothing of root's (an open secret file, a
//! token, `XDG_RUNTIME_DIR`) reaches the user's long-lived daemon.

use std::path::{Path, PathBuf};

use molecule_credential_helper::config::ENV_TOKEN_VARS;
use molecule_credential_helper::settings::is_setting_variable;

use super::CliError;

/// `--home DIR | --user NAME`, shared by every command that touches a home.
#[derive(Debug, clap::Args)]
pub(crate) struct Whose {
    /// Act in DIR instead of $HOME; every child process gets HOME=DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "user")]
    pub home: Option<PathBuf>,
    /// Act for user NAME (root only): the home from the passwd database,
    /// and the uid, gid and groups dropped to NAME's before anything
    /// touches it, so every file, process and login is NAME's. What a root
    /// entrypoint runs before `exec gosu NAME …`.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Where a command acts.
pub(crate) struct Target {
    /// The explicit home (`--home`, or `--user`'s from passwd); `None`: `$HOME`.
    pub home: Option<PathBuf>,
    /// The provision tokens of the caller's environment under `--user`:
    /// removed from the environment every child inherits, but install still
    /// primes gh with them (on gh's stdin).
    pub env_tokens: Vec<(String, String)>,
}

/// Resolves `--home DIR` / `--user NAME` for `command`. A usage error (no
/// such user, a home that does not exist, a caller other than root naming
/// another user) is one line saying what to do, exit 2.
pub(crate) fn target(command: &str, whose: &Whose) -> Result<Target, CliError> {
    let Whose { home, user } = whose;
    let Some(name) = user else {
        check_home(home)?;
        return Ok(Target {
            home: home.clone(),
            env_tokens: Vec::new(),
        });
    };
    let (dir, env_tokens) = become_user(command, name)?;
    let missing = match std::fs::metadata(&dir) {
        Ok(m) => !m.is_dir(),
        Err(_) => true,
    };
    if missing {
        return Err(CliError::Usage(format!(
            "--user {name}: its home {} (from the passwd database) is not an existing directory; create it (`mkdir -p {0} && chown {name}: {0}`) or give {name} a home (`usermod -d DIR {name}`), then run `molecule-credential-helper {command} --user {name}` again",
            dir.display()
        )));
    }
    let target = Some(dir);
    check_home(&target).map_err(|e| match e {
        CliError::Usage(msg) => CliError::Usage(format!(
            "--user {name}: {}",
            msg.trim_start_matches("--home ")
        )),
        other => other,
    })?;
    Ok(Target {
        home: target,
        env_tokens,
    })
}

/// `--home DIR` must name an existing, writable directory.
pub(crate) fn check_home(home: &Option<PathBuf>) -> Result<(), CliError> {
    let Some(dir) = home else { return Ok(()) };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(CliError::Usage(format!(
                "--home {}: not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::Usage(format!(
                "--home {}: no such directory; create it, or name the home that exists",
                dir.display()
            )))
        }
        Err(e) => return Err(CliError::Usage(format!("--home {}: {e}", dir.display()))),
    }
    if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(CliError::Usage(format!(
            "--home {}: not writable",
            dir.display()
        )));
    }
    Ok(())
}

/// A refusal when the home another uid owns (`status`, `uninstall`,
/// `token`, `repair`; install reports it in its steps instead).
pub(crate) fn refuse_foreign_home(
    config: &molecule_credential_helper::Config,
    command: &str,
) -> Result<(), CliError> {
    match molecule_credential_helper::install::foreign_home_refusal(
        &molecule_credential_helper::os::RealFs,
        config,
        command,
    ) {
        Some(refusal) => Err(CliError::Usage(refusal)),
        None => Ok(()),
    }
}

/// Whether a variable may pass from the caller to NAME's processes.
fn allowed_variable(key: &str) -> bool {
    matches!(key, "HOME" | "USER" | "LOGNAME" | "PATH" | "LANG" | "TZ")
        || key.starts_with("LC_")
        || is_setting_variable(key)
}

/// Looks NAME up in the passwd database and, as root, drops to its groups,
/// gid and uid (in that order: setgroups and setgid need root) before
/// anything touches the home. Every inherited descriptor above 2 is marked
/// close-on-exec and the environment is cut to the allow-list, before any
/// child starts. Sets HOME, USER and LOGNAME, and moves into the home
/// (root's working directory may be closed to NAME). Returns the home and
/// the provision tokens taken out of the environment. A caller other than
/// root may only name itself.
fn become_user(command: &str, name: &str) -> Result<(PathBuf, Vec<(String, String)>), CliError> {
    use nix::unistd::{geteuid, getgrouplist, setgid, setgroups, setuid, User};
    let user = match User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(CliError::Usage(format!(
                "--user {name}: no such user in the passwd database; name an existing user (`getent passwd` lists them)"
            )))
        }
        Err(e) => {
            return Err(CliError::Usage(format!(
                "--user {name}: cannot read the passwd database: {e}"
            )))
        }
    };
    let euid = geteuid();
    if !euid.is_root() {
        if user.uid != euid {
            return Err(CliError::Usage(format!(
                "--user {name}: only root can act for another user; run `molecule-credential-helper {command}` as {name}"
            )));
        }
    } else if !user.uid.is_root() {
        let drop = || -> nix::Result<()> {
            let cname = std::ffi::CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?;
            let groups = getgrouplist(&cname, user.gid)?;
            setgroups(&groups)?;
            setgid(user.gid)?;
            setuid(user.uid)
        };
        drop().map_err(|e| {
            CliError::Usage(format!(
                "--user {name}: cannot switch to uid {} gid {}: {e}",
                user.uid, user.gid
            ))
        })?;
    }
    close_inherited_descriptors();
    // Single-threaded still: nothing else reads the environment now.
    let mut env_tokens = Vec::new();
    for (key, value) in std::env::vars_os() {
        let Some(key) = key.to_str().map(str::to_string) else {
            std::env::remove_var(&key);
            continue;
        };
        if ENV_TOKEN_VARS.contains(&key.as_str()) {
            if let Some(value) = value.to_str() {
                env_tokens.push((key.clone(), value.to_string()));
            }
        }
        if !allowed_variable(&key) {
            std::env::remove_var(&key);
        }
    }
    std::env::set_var("HOME", &user.dir);
    std::env::set_var("USER", &user.name);
    std::env::set_var("LOGNAME", &user.name);
    let _ = std::env::set_current_dir(&user.dir);
    Ok((user.dir, env_tokens))
}

/// Marks every descriptor above 2 close-on-exec: whatever the caller had
/// open (`7</root-only-file` in an entrypoint) never reaches a child, the
/// user's supervisor least of all. From `/proc/self/fd`, else the first
/// 1024.
fn close_inherited_descriptors() {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let listed: Option<Vec<i32>> = std::fs::read_dir(Path::new("/proc/self/fd"))
        .ok()
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        });
    let fds = listed.unwrap_or_else(|| (3..1024).collect());
    for fd in fds.into_iter().filter(|&fd| fd > 2) {
        // The directory's own descriptor is gone by now: EBADF, ignored.
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_settings_pass_to_the_users_processes_in_either_case() {
        for key in [
            "PLATFORM_URL",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "PLATFORM_CA_FILE",
            "LC_ALL",
        ] {
            assert!(super::allowed_variable(key), "{key}");
        }
        for key in ["GH_TOKEN", "all_proxy", "platform_ca_file", "BASH_ENV"] {
            assert!(!super::allowed_variable(key), "{key}");
        }
    }
}
