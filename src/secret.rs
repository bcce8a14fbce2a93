//! Tokens travel in [`Secret`], whose `Debug` and `Display` never show the value.

use std::fmt;

/// A value that must not appear in logs, errors, reports or argv.
/// Read it only through [`Secret::expose`], at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

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

/// True when `token` has the shape SPEC accepts: `^[A-Za-z0-9_]+$`.
/// Anything else could inject lines into git's credential protocol.
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
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
        assert!(!is_valid_token(""));
        assert!(!is_valid_token("ghs_a\nb"));
        assert!(!is_valid_token("ghs-a"));
        assert!(!is_valid_token("ghs a"));
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let out = redact("a ghs_tok b ghs_tok", &["ghs_tok"]);
        assert_eq!(out, "a [REDACTED] b [REDACTED]");
    }
}
