//! `install`: the five steps, printed as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use molecule_credential_helper::{Config, InstallReport, Installer};

use super::{check_home, output, CliError};

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Install into DIR instead of $HOME; every child process gets HOME=DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "user")]
    home: Option<PathBuf>,
    /// Install for user NAME (root only): the home from the passwd database,
    /// and the uid, gid and groups dropped to NAME's before anything touches
    /// it, so every file, the daemon and gh's login are NAME's. What a root
    /// entrypoint runs before `exec gosu NAME …`.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any step failed (default: always 0, the install is
    /// fail-soft), and wait for gh's login (at most GH_LOGIN_TIMEOUT_SEC + 5 s)
    /// to report its result; without it the login runs in the background.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: InstallArgs) -> Result<ExitCode, CliError> {
    let home = match &args.user {
        Some(name) => {
            let home = Some(become_user(name)?);
            // The passwd database's home must exist and be the user's to write.
            check_home(&home).map_err(|e| match e {
                CliError::Usage(msg) => CliError::Usage(format!(
                    "--user {name}: {}",
                    msg.trim_start_matches("--home ")
                )),
                other => other,
            })?;
            home
        }
        None => {
            check_home(&args.home)?;
            args.home.clone()
        }
    };
    let report = match Config::from_env(home) {
        Ok(mut config) => {
            config.wait_for_gh_login = args.strict;
            Installer::real(config).install()
        }
        Err(e) => InstallReport::all_failed(&e.to_string()),
    };
    if args.json {
        output::out(&format!("{}\n", report.to_json()))?;
    } else {
        output::out(&report.to_string())?;
    }
    Ok(if args.strict && report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--user NAME`: looks NAME up in the passwd database and, as root, drops
/// to its groups, gid and uid (in that order: setgroups and setgid need
/// root) before anything touches the home; sets HOME, USER and LOGNAME for
/// every child, and moves into the home (root's working directory may be
/// closed to NAME). Returns the home. A caller other than root may only
/// name itself.
fn become_user(name: &str) -> Result<PathBuf, CliError> {
    use nix::unistd::{geteuid, getgrouplist, setgid, setgroups, setuid, User};
    let user = match User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(CliError::Usage(format!(
                "--user {name}: no such user in the passwd database"
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
                "--user {name}: only root can install for another user; run `molecule-credential-helper install` as {name}"
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
    // Single-threaded still: nothing else reads the environment now.
    std::env::set_var("HOME", &user.dir);
    std::env::set_var("USER", &user.name);
    std::env::set_var("LOGNAME", &user.name);
    let _ = std::env::set_current_dir(&user.dir);
    Ok(user.dir)
}
