//! The tokens the fake platform issues, in either of GitHub's formats.
//!
//! Since GitHub's 2026 rollout an installation token is stateless:
//! `ghs_<APPID>_<JWT>`, about 520 characters, two dots, a base64url body
//! (so `-` and `_` occur). The classic format is `ghs_` + 36 alphanumerics.
//! Nothing in this crate looks inside a token: these exist so that tests
//! run with what production sees.

use std::time::{SystemTime, UNIX_EPOCH};

/// Which shape of installation token the fake platform issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// GitHub's current format, `ghs_<APPID>_<header>.<payload>.<signature>`.
    #[default]
    Stateless,
    /// The pre-2026 format, `ghs_` + 36 alphanumerics.
    Classic,
}

impl TokenFormat {
    /// The names `--token-format` accepts.
    pub const NAMES: [&'static str; 2] = ["stateless", "classic"];
}

impl std::str::FromStr for TokenFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stateless" => Ok(TokenFormat::Stateless),
            "classic" => Ok(TokenFormat::Classic),
            other => Err(format!(
                "unknown token format {other:?}; expected one of {}",
                TokenFormat::NAMES.join(", ")
            )),
        }
    }
}

/// The app id the fake platform's stateless tokens carry.
pub const FAKE_APP_ID: u64 = 1_048_576;

/// A token in `format`, distinct for every `serial` (and every `entropy`).
/// `issued_at`/`expires_at` go into a stateless token's payload, as GitHub's do.
pub fn make_token(
    format: TokenFormat,
    serial: u64,
    entropy: u64,
    issued_at: u64,
    expires_at: u64,
) -> String {
    let mut rng = XorShift::new(entropy ^ serial.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match format {
        TokenFormat::Classic => {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            // A recognisable serial, then random alphanumerics: 36 in all.
            let mut body = format!("fake{:04}", serial % 10_000);
            while body.len() < 36 {
                body.push(alphabet[(rng.next() % alphabet.len() as u64) as usize] as char);
            }
            format!("ghs_{body}")
        }
        TokenFormat::Stateless => {
            // Sized like GitHub's own (~520 characters, varying a little
            // with the serial and the times).
            let header = br#"{"alg":"ES256","typ":"JWT","kid":"fake-platform"}"#;
            let payload = format!(
                r#"{{"iss":"{FAKE_APP_ID}","aud":"https://api.github.com","sub":"installation/{serial}","iat":{issued_at},"exp":{expires_at},"jti":"{:016x}","repository_selection":"all","permissions":{{"contents":"write","metadata":"read","pull_requests":"write","issues":"write","checks":"read"}}}}"#,
                rng.next()
            );
            // A P-256 signature is 64 bytes; its base64url has `-` and `_`
            // in most tokens.
            let signature: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
            format!(
                "ghs_{FAKE_APP_ID}_{}.{}.{}",
                base64url(header),
                base64url(payload.as_bytes()),
                base64url(&signature)
            )
        }
    }
}

/// A stateless token for tests that need one without a platform (env
/// fallbacks, gh priming): distinct per `seed`, ~520 characters.
pub fn sample_token(seed: u64) -> String {
    make_token(
        TokenFormat::Stateless,
        seed,
        seed.wrapping_add(0x5EED),
        1_800_000_000,
        1_800_003_600,
    )
}

/// Entropy for a new token: the clock and this process.
pub(crate) fn fresh_entropy() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// base64url without padding (RFC 4648 §5), as JWTs use it.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Not for secrets: distinct, well-spread test tokens.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::is_valid_token;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn stateless_tokens_look_like_githubs() {
        let mut saw_dash = false;
        let mut saw_underscore_in_body = false;
        for serial in 0..50 {
            let t = make_token(TokenFormat::Stateless, serial, 7, 1, 3601);
            assert!(is_valid_token(&t), "{t}");
            assert!((500..=540).contains(&t.len()), "{}", t.len());
            assert!(t.starts_with(&format!("ghs_{FAKE_APP_ID}_")));
            assert_eq!(t.matches('.').count(), 2);
            let body = &t[format!("ghs_{FAKE_APP_ID}_").len()..];
            saw_dash |= body.contains('-');
            saw_underscore_in_body |= body.contains('_');
        }
        assert!(saw_dash && saw_underscore_in_body);
    }

    #[test]
    fn classic_tokens_are_ghs_and_36_alphanumerics() {
        let t = make_token(TokenFormat::Classic, 3, 9, 1, 2);
        assert_eq!(t.len(), 40);
        assert!(t[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn tokens_are_distinct() {
        let a = make_token(TokenFormat::Stateless, 1, 5, 1, 2);
        let b = make_token(TokenFormat::Stateless, 2, 5, 1, 2);
        assert_ne!(a, b);
        assert_ne!(sample_token(1), sample_token(2));
    }
}
