//! The two bundled shell scripts, embedded at build time.

use include_dir::{include_dir, Dir};

static SCRIPTS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/scripts");

/// The git credential helper (docs/contract.md: "The git credential helper").
pub const HELPER_SCRIPT: &str = "molecule-git-token-helper.sh";
/// The refresh daemon and its respawn supervisor (docs/contract.md).
pub const DAEMON_SCRIPT: &str = "molecule-gh-token-refresh.sh";

/// The argument that makes the daemon script run as the respawn supervisor.
pub const SUPERVISE_ARG: &str = "--supervise";

/// The most read back from an extracted script (ours are ~30 KB).
pub const SCRIPT_READ_LIMIT: u64 = 1024 * 1024;

/// Both scripts as (file name, bytes), in a stable order.
pub fn embedded() -> [(&'static str, &'static [u8]); 2] {
    [
        (HELPER_SCRIPT, contents(HELPER_SCRIPT)),
        (DAEMON_SCRIPT, contents(DAEMON_SCRIPT)),
    ]
}

/// The embedded bytes of one script.
pub fn contents(name: &str) -> &'static [u8] {
    SCRIPTS
        .get_file(name)
        .map(|f| f.contents())
        .unwrap_or_else(|| panic!("script {name} is not embedded: build is broken"))
}

/// `bash -p -c <embedded helper> molecule-git-token-helper.sh ARGS…`:
/// what status, install, the contract, `token` and gh's detached login
/// run, never the extracted file, which the home's owner can edit (root's
/// `status --probe` must not run a user's code). `-p`: no `$BASH_ENV`, no
/// imported functions, as git runs it. In argv, not on stdin: bash reads a
/// script from a pipe a byte at a time (~35,000 reads for this one), and
/// stdin stays free for a request or a token. The script holds no secret.
pub fn embedded_helper(
    config: &crate::Config,
    bash: &std::path::Path,
    args: &[&str],
) -> crate::os::CommandSpec {
    let script = String::from_utf8_lossy(contents(HELPER_SCRIPT)).into_owned();
    config
        .command(bash)
        .args([
            "-p".to_string(),
            "-c".to_string(),
            script,
            HELPER_SCRIPT.to_string(),
        ])
        .args(args.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`embedded_helper`] hands bash the whole helper as one argument, and
    /// Linux refuses an argument over 131,072 bytes (MAX_ARG_STRLEN) with
    /// "Argument list too long": every settings check, probe and gh login
    /// would fail. A helper near that size must go back to a file or stdin.
    #[test]
    fn the_helper_fits_in_one_argument_with_room_to_grow() {
        const MAX_ARG_STRLEN: usize = 131_072;
        let size = contents(HELPER_SCRIPT).len();
        assert!(
            size < MAX_ARG_STRLEN * 9 / 10,
            "the helper is {size} bytes: within 10% of MAX_ARG_STRLEN ({MAX_ARG_STRLEN})"
        );
    }
}
