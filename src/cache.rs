//! Reading the helper's token cache (written by the helper script).

use crate::config::Layout;
use crate::os::Fs;
use crate::secret::{is_valid_token, Token};

/// The cache's expiry (line 1 of the expiry file), and the token when it has a valid shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub token: Option<Token>,
    /// Epoch seconds after which the cache is stale.
    pub expiry: Option<u64>,
}

impl CachedToken {
    /// Serveable at `now`: a valid token and an expiry still in the future.
    pub fn valid_token(&self, now: u64) -> Option<&Token> {
        match (self.token.as_ref(), self.expiry) {
            (Some(token), Some(expiry)) if now < expiry => Some(token),
            _ => None,
        }
    }
}

/// Reads both cache files; `None` when the token file is absent or unreadable.
pub fn read<F: Fs>(fs: &F, layout: &Layout) -> Option<CachedToken> {
    let raw = fs.read(&layout.cache_token).ok()?;
    let text = String::from_utf8(raw).ok();
    let token = text
        .as_deref()
        .map(str::trim)
        .filter(|t| is_valid_token(t))
        .map(|t| Token::new(t.to_string()));
    let expiry = fs
        .read(&layout.cache_expiry)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        // Line 1 is the cache expiry; line 2 (the token's own expires_at) is
        // for `password_expiry_utc`.
        .and_then(|s| s.lines().next()?.trim().parse().ok());
    Some(CachedToken { token, expiry })
}
