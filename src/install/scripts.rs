//! Step 1: extract the embedded scripts, writing only what differs.
//!
//! git runs the helper for every github.com operation, so whoever can write
//! it, or the directories above it, owns the user: both directories must be
//! ours and not writable by group or others, and a script that is a link
//! is replaced, never followed.

use std::path::Path;

use crate::config::Layout;
use crate::os::{FileKind, Fs};
use crate::report::Outcome;

use super::{describe, ensure_dir};

const SCRIPT_MODE: u32 = 0o755;

/// Extracts the scripts and saves the settings (`settings_text`) beside
/// them. Returns the step's outcome and whether the scripts themselves are
/// in place (a settings file that could not be written fails the step but
/// leaves git's wiring and the daemon to run).
pub(crate) fn run<F: Fs>(
    fs: &F,
    layout: &Layout,
    uid: u32,
    settings_text: &str,
) -> (Outcome, bool) {
    let outcome = extract(fs, layout, uid);
    if outcome.is_failed() {
        return (outcome, false);
    }
    let settings = save_settings(fs, layout, uid, settings_text);
    let merged = match (outcome, settings) {
        (_, Err(e)) => Outcome::Failed(format!(
            "scripts in place, but the settings were not saved ({e}): git outside this process's environment will use the defaults"
        )),
        (Outcome::Changed(what), Ok(true)) => Outcome::Changed(format!("{what}; saved the settings")),
        (Outcome::Unchanged(_), Ok(true)) => Outcome::Changed("saved the settings".into()),
        (other, Ok(_)) => other,
    };
    (merged, true)
}

/// Writes the settings file when its content, owner, kind or mode differ
/// (a link or another user's file is replaced, never followed). Returns
/// whether it wrote.
fn save_settings<F: Fs>(fs: &F, layout: &Layout, uid: u32, text: &str) -> Result<bool, String> {
    let path = &layout.settings_file;
    let ours = fs.metadata(path).is_ok_and(|m| {
        m.kind == FileKind::File && m.uid == uid && m.mode & 0o777 == crate::settings::SETTINGS_MODE
    });
    let same = ours && fs.read(path, 64 * 1024).is_ok_and(|b| b == text.as_bytes());
    if same {
        return Ok(false);
    }
    fs.write_atomic(path, text.as_bytes(), crate::settings::SETTINGS_MODE)
        .map(|()| true)
        .map_err(|e| describe(path, &e))
}

fn extract<F: Fs>(fs: &F, layout: &Layout, uid: u32) -> Outcome {
    if let Err(e) = ensure_dir(fs, &layout.scripts_dir, 0o755) {
        return Outcome::Failed(describe(&layout.scripts_dir, &e));
    }
    let mut tightened = Vec::new();
    for dir in [&layout.runtime_dir, &layout.scripts_dir] {
        match trusted_dir(fs, dir, uid) {
            Ok(true) => tightened.push(dir.display().to_string()),
            Ok(false) => {}
            Err(refusal) => return Outcome::Failed(refusal),
        }
    }
    let mut errors = Vec::new();
    let replaced = runtime_entries_ours(fs, layout, uid, &mut errors);
    let mut written = Vec::new();
    for (name, contents) in crate::scripts::embedded() {
        let path = layout.scripts_dir.join(name);
        // A link, another owner's file or anything but a regular file is
        // replaced (the rename replaces the link itself).
        let ours = fs
            .metadata(&path)
            .is_ok_and(|m| m.kind == FileKind::File && m.uid == uid);
        let same_content = ours
            && fs
                .read(&path, crate::scripts::SCRIPT_READ_LIMIT)
                .map(|b| b == contents)
                .unwrap_or(false);
        let result = if same_content {
            match fs.metadata(&path) {
                Ok(m) if m.mode & 0o777 == SCRIPT_MODE => continue,
                _ => fs.set_mode(&path, SCRIPT_MODE),
            }
        } else {
            fs.write_atomic(&path, contents, SCRIPT_MODE)
        };
        match result {
            Ok(()) => written.push(name),
            Err(e) => errors.push(describe(&path, &e)),
        }
    }
    let mut changes = Vec::new();
    if !written.is_empty() {
        changes.push(format!("wrote {}", written.join(", ")));
    }
    if !tightened.is_empty() {
        changes.push(format!(
            "removed group/other write from {}",
            tightened.join(", ")
        ));
    }
    if !replaced.is_empty() {
        changes.push(format!(
            "removed {} (not a regular file of ours: planted, or left by another user; recreated as ours when needed)",
            replaced.join(", ")
        ));
    }
    if !errors.is_empty() {
        Outcome::Failed(errors.join("; "))
    } else if changes.is_empty() {
        Outcome::Unchanged("scripts match the embedded ones".into())
    } else {
        Outcome::Changed(changes.join("; "))
    }
}

/// The files of ours in the runtime dir, besides the scripts. Every one
/// must be ours: after the dir is tightened, one another user planted (a
/// log they could read and forge lines in, a lock they could hold, a PID or
/// settings file) is removed, never reused; ours get 0600.
const RUNTIME_FILES: [&str; 7] = [
    "refresh-daemon.log",
    "refresh-daemon.log.1",
    "refresh-daemon.pid",
    "install.lock",
    "supervisor.lock",
    "gh-login.lock",
    "settings",
];

fn runtime_entries_ours<F: Fs>(
    fs: &F,
    layout: &Layout,
    uid: u32,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let mut replaced = Vec::new();
    for name in RUNTIME_FILES {
        let path = layout.runtime_dir.join(name);
        match fs.metadata(&path) {
            // A directory another user planted cannot be emptied by us: it
            // is moved aside (we own the runtime dir), under a name nothing
            // of ours uses.
            Ok(m) if m.kind == FileKind::Dir => {
                let aside = layout
                    .runtime_dir
                    .join(format!(".planted-{name}-{}", std::process::id()));
                match fs.rename(&path, &aside) {
                    Ok(()) => replaced.push(format!(
                        "{name} (a directory, moved to {})",
                        aside.display()
                    )),
                    Err(e) => errors.push(describe(&path, &e)),
                }
            }
            Ok(m) if m.kind != FileKind::File || m.uid != uid => match fs.remove_file(&path) {
                Ok(()) => replaced.push(name.to_string()),
                Err(e) => errors.push(describe(&path, &e)),
            },
            Ok(m) if m.mode & 0o077 != 0 => {
                if let Err(e) = fs.set_mode(&path, 0o600) {
                    errors.push(describe(&path, &e));
                }
            }
            _ => {}
        }
    }
    replaced
}

/// A directory git's helper path runs through: a real directory we own
/// (refused otherwise), with group/other write removed. Returns whether it
/// had to be tightened.
fn trusted_dir<F: Fs>(fs: &F, dir: &Path, uid: u32) -> Result<bool, String> {
    let meta = fs.metadata(dir).map_err(|e| describe(dir, &e))?;
    if meta.kind != FileKind::Dir {
        return Err(format!(
            "{} is not a directory (a link?); refusing to put scripts git runs there",
            dir.display()
        ));
    }
    if meta.uid != uid {
        return Err(format!(
            "{} is owned by uid {}, not {uid}: whoever owns it could swap the helper git runs; refusing",
            dir.display(),
            meta.uid
        ));
    }
    if meta.mode & 0o022 == 0 {
        return Ok(false);
    }
    fs.set_mode(dir, meta.mode & 0o7755)
        .map(|()| true)
        .map_err(|e| describe(dir, &e))
}
