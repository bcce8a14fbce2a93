//! Step 1: extract the embedded scripts, writing only what differs.

use crate::config::Layout;
use crate::os::Fs;
use crate::report::Outcome;

use super::{describe, ensure_dir};

const SCRIPT_MODE: u32 = 0o755;

pub(crate) fn run<F: Fs>(fs: &F, layout: &Layout) -> Outcome {
    if let Err(e) = ensure_dir(fs, &layout.scripts_dir, 0o755) {
        return Outcome::Failed(describe(&layout.scripts_dir, &e));
    }
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for (name, contents) in crate::scripts::embedded() {
        let path = layout.scripts_dir.join(name);
        let same_content = fs.read(&path).map(|b| b == contents).unwrap_or(false);
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
    if !errors.is_empty() {
        Outcome::Failed(errors.join("; "))
    } else if written.is_empty() {
        Outcome::Unchanged("scripts match the embedded ones".into())
    } else {
        Outcome::Changed(format!("wrote {}", written.join(", ")))
    }
}
