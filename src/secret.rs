//! Tokens travel in [`Secret`], whose `Debug` and `Display` never show the value.

use std::fmt;

/// A value that must not appear in logs, errors, reports or argv.
/// Read it only through [`Secret::expose`], at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

/// A GitHub token as the platform and gh see it.
pub type Token = Secret<String>;

impl Secret<String> {
    /// The token's name in GitHub's audit log (`hashed_token`): base64 of
    /// its SHA-256, as `printf %s TOKEN | openssl dgst -sha256 -binary |
    /// base64` prints it. Safe to show: it identifies, it does not grant.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// GitHub's audit-log `hashed_token` of `token` (see [`Secret::fingerprint`]).
pub fn fingerprint(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The longest token accepted: GitHub's current tokens are ~520 characters
/// and vary; this bound leaves them room to grow.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The one token rule, shared with the scripts: 1 to [`MAX_TOKEN_LEN`]
/// characters from `A-Z a-z 0-9 . _ -`. Nothing else is checked — no
/// prefix, no fixed length, no JWT inside (GitHub's `ghs_<APPID>_<JWT>`
/// tokens have dots and a base64url body). Anything outside the alphabet
/// (a newline, `=`, a space) could inject lines into git's credential
/// protocol or into headers.
pub fn is_valid_token(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Replaces every occurrence of each secret in `text` with `[REDACTED]`.
/// A last line of defence for text that came from a child process.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(*secret, "[REDACTED]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("ghs_abcdef".to_string());
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert_eq!(format!("{s}"), "REDACTED");
        assert_eq!(s.expose(), "ghs_abcdef");
    }

    #[test]
    fn token_shape() {
        assert!(is_valid_token("ghs_ABC123"));
        assert!(is_valid_token("ghs_1048576_eyJh.eyJp-c3M_.sig-_x"));
        assert!(is_valid_token("github_pat_11AB"));
        assert!(is_valid_token(&"a".repeat(MAX_TOKEN_LEN)));
        assert!(!is_valid_token(&"a".repeat(MAX_TOKEN_LEN + 1)));
        assert!(!is_valid_token(""));
        for bad in [
            "ghs_a\nb", "ghs a", "ghs=a", "ghs_a\r", "ghs/a", "ghs+a", "ghś",
        ] {
            assert!(!is_valid_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let out = redact("a ghs_tok b ghs_tok", &["ghs_tok"]);
        assert_eq!(out, "a [REDACTED] b [REDACTED]");
    }
}
