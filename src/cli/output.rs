//! Writing to stdout and stderr without ever panicking: a closed pipe
//! (`status | head -1`) or a full disk (`install >/dev/full`) is an error
//! the caller turns into an exit code, not a panic after the work is done.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes it.
pub(crate) fn out(text: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// One line to stderr; a stderr that cannot be written is ignored (there is
/// nowhere left to say so).
pub(crate) fn err(line: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "molecule-credential-helper: {line}");
}
