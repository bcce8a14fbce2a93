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

/// Text with the credentials git config can hold made unreadable: the
/// userinfo of every URL (`https://user:TOKEN@host` becomes
/// `https://***@host`, up to the authority's last `@`) and the credentials
/// after every `Authorization:` (`AUTHORIZATION: basic eHg6…` becomes
/// `AUTHORIZATION: basic ***`). One pass, linear in the text's length.
pub fn redact_credentials(text: &str) -> String {
    // ASCII lower-casing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = next_credential(text, &lower, from) {
        out.push_str(&text[copied..found.keep_until]);
        out.push_str("***");
        copied = found.end;
        from = found.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// A credential in the text: what stays before it ends at `keep_until`,
/// and it ends at `end` (byte offsets).
struct Credential {
    keep_until: usize,
    end: usize,
}

/// The first credential at or after `from`.
fn next_credential(text: &str, lower: &str, mut from: usize) -> Option<Credential> {
    const HEADER: &str = "authorization:";
    let bytes = text.as_bytes();
    let skip = |mut i: usize, space: bool| {
        while i < bytes.len()
            && (bytes[i] == b' ') == space
            && (space || !bytes[i].is_ascii_whitespace())
        {
            i += 1
        }
        i
    };
    loop {
        let url = lower[from..].find("://").map(|i| i + from);
        let header = lower[from..].find(HEADER).map(|i| i + from);
        let url_first = match (url, header) {
            (None, None) => return None,
            (Some(u), Some(h)) => u < h,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if let (true, Some(u)) = (url_first, url) {
            let start = u + 3;
            let len = text[start..]
                .find(|c: char| {
                    matches!(c, '/' | '?' | '#' | '"' | '\'' | '`') || c.is_whitespace()
                })
                .unwrap_or(text.len() - start);
            if let Some(last_at) = text[start..start + len].rfind('@') {
                return Some(Credential {
                    keep_until: start,
                    end: start + last_at,
                });
            }
            from = start;
            continue;
        }
        let after = header? + HEADER.len();
        let scheme_start = skip(after, true);
        let scheme_end = skip(scheme_start, false);
        let value_start = skip(scheme_end, true);
        let value_end = skip(value_start, false);
        let scheme = &lower[scheme_start..scheme_end];
        let known_scheme = matches!(
            scheme,
            "basic" | "bearer" | "token" | "digest" | "negotiate"
        );
        if known_scheme && value_end > value_start {
            return Some(Credential {
                keep_until: value_start,
                end: value_end,
            });
        }
        if scheme_end > scheme_start {
            // No scheme we know: the word itself is the credential.
            return Some(Credential {
                keep_until: scheme_start,
                end: scheme_end,
            });
        }
        from = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_git_config_text_are_redacted() {
        for (text, want) in [
            (
                "git rewrites https://github.com/o/r.git to https://x-access-token:ghs_abc@github.com/o/r.git",
                "git rewrites https://github.com/o/r.git to https://***@github.com/o/r.git",
            ),
            ("url https://ghs_abc@github.com/", "url https://***@github.com/"),
            ("a https://u:p@w@h/x b", "a https://***@h/x b"),
            ("no userinfo https://github.com/o", "no userinfo https://github.com/o"),
            ("mail a@b.c and https://h/x@y", "mail a@b.c and https://h/x@y"),
            (
                "http.https://github.com/.extraheader=AUTHORIZATION: basic eHgtYWNjZXNz",
                "http.https://github.com/.extraheader=AUTHORIZATION: basic ***",
            ),
            ("Authorization: ghs_abc then", "Authorization: *** then"),
            ("authorization:bearer tok", "authorization:bearer ***"),
            ("ends with authorization:", "ends with authorization:"),
            ("ümlaut https://ü:p@h", "ümlaut https://***@h"),
        ] {
            assert_eq!(redact_credentials(text), want, "{text}");
        }
    }

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
