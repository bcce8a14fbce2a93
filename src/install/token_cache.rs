//! Step 2: a private token cache directory, 0700, ours, never a symlink.

use std::io;

use crate::config::Layout;
use crate::fetch_state::FAILURE_RECORD;
use crate::os::{FileKind, Fs};
use crate::report::Outcome;

use super::describe;

pub(crate) const CACHE_DIR_MODE: u32 = 0o700;

/// The cache dir's step; with `settings_changed` (the token keys that
/// changed), a cached token that belongs to the old settings is dropped, so
/// the next git call fetches one with the new. With `reach_changed` (a
/// proxy or CA changed), the token stays and only the last failure's
/// record goes: it was the old way's, and its fix may no longer apply.
pub(crate) fn run<F: Fs>(
    fs: &F,
    layout: &Layout,
    uid: u32,
    settings_changed: &[&str],
    reach_changed: bool,
) -> Outcome {
    let outcome = prepare(fs, layout, uid);
    if outcome.is_failed() {
        return outcome;
    }
    if settings_changed.is_empty() {
        if reach_changed {
            let _ = fs.remove_file(&layout.cache_dir.join(FAILURE_RECORD));
        }
        return outcome;
    }
    let mut dropped = false;
    for file in [&layout.cache_expiry, &layout.cache_token] {
        match fs.remove_file(file) {
            Ok(()) => dropped = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Outcome::Failed(describe(file, &e)),
        }
    }
    // The last failure was the old settings' (its record names the old
    // request): status must not report it for the new ones.
    let _ = fs.remove_file(&layout.cache_dir.join(FAILURE_RECORD));
    if !dropped {
        return outcome;
    }
    let why = format!(
        "dropped the cached token: {} changed, so git fetches one with the new settings",
        settings_changed.join(", ")
    );
    match outcome {
        Outcome::Changed(d) => Outcome::Changed(format!("{d}; {why}")),
        _ => Outcome::Changed(why),
    }
}

fn prepare<F: Fs>(fs: &F, layout: &Layout, uid: u32) -> Outcome {
    let dir = &layout.cache_dir;
    let meta = match fs.metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return match fs
                .create_dir_all(dir, CACHE_DIR_MODE)
                .and_then(|()| fs.set_mode(dir, CACHE_DIR_MODE))
            {
                Ok(()) => Outcome::Changed(format!("created {} 0700", dir.display())),
                Err(e) => Outcome::Failed(describe(dir, &e)),
            };
        }
        Err(e) => return Outcome::Failed(describe(dir, &e)),
    };
    match meta.kind {
        FileKind::Symlink => {
            return Outcome::Failed(format!(
                "{} is a symlink; refusing to use it",
                dir.display()
            ))
        }
        FileKind::Dir => {}
        _ => return Outcome::Failed(format!("{} exists and is not a directory", dir.display())),
    }
    if meta.uid != uid {
        return Outcome::Failed(format!(
            "{} is owned by uid {}, not {uid}; refusing to use it",
            dir.display(),
            meta.uid
        ));
    }
    if meta.mode & 0o777 == CACHE_DIR_MODE {
        return Outcome::Unchanged(format!("{} is 0700", dir.display()));
    }
    match fs.set_mode(dir, CACHE_DIR_MODE) {
        Ok(()) => Outcome::Changed(format!(
            "tightened {} from {:04o} to 0700",
            dir.display(),
            meta.mode & 0o777
        )),
        Err(e) => Outcome::Failed(describe(dir, &e)),
    }
}
