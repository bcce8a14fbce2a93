//! Reading the helper's token cache (written by the helper script).
//!
//! `gh_installation_token`: the token, then the write's generation tag.
//! `gh_installation_token_expiry`: the cache expiry (epoch seconds), the
//! token's own `expires_at` (may be empty), then the same generation tag.
//! A pair whose tags differ comes from two writes and is never valid.

use crate::config::Layout;
use crate::os::Fs;
use crate::secret::{is_valid_token, Token};

/// The most a cache file may hold; more is not ours.
const CACHE_FILE_LIMIT: u64 = 8 * 1024;

/// The cache's expiry, and the token when it has a valid shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The token, when it has the one valid shape.
    pub token: Option<Token>,
    /// Epoch seconds after which the cache is stale.
    pub expiry: Option<u64>,
    /// The token's own `expires_at` (epoch seconds), when the platform said.
    pub expires_at: Option<u64>,
    /// Whether both files come from the same write.
    pub consistent: bool,
}

impl CachedToken {
    /// Serveable at `now`: a valid token from a consistent pair whose
    /// expiry is still in the future.
    pub fn valid_token(&self, now: u64) -> Option<&Token> {
        match (self.token.as_ref(), self.expiry) {
            (Some(token), Some(expiry)) if self.consistent && now < expiry => Some(token),
            _ => None,
        }
    }
}

fn lines<F: Fs>(fs: &F, path: &std::path::Path) -> Option<Vec<String>> {
    // A token line (4096) and a tag, or three numbers and a tag.
    let bytes = fs.read(path, CACHE_FILE_LIMIT).ok()?;
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Reads both cache files; `None` when the token file is absent or unreadable.
pub fn read<F: Fs>(fs: &F, layout: &Layout) -> Option<CachedToken> {
    let token_lines = lines(fs, &layout.cache_token)?;
    let expiry_lines = lines(fs, &layout.cache_expiry).unwrap_or_default();
    let token = token_lines
        .first()
        .map(|t| t.trim())
        .filter(|t| is_valid_token(t))
        .map(|t| Token::new(t.to_string()));
    let expiry = expiry_lines.first().and_then(|s| s.trim().parse().ok());
    let expires_at = expiry_lines.get(1).and_then(|s| s.trim().parse().ok());
    let token_gen = token_lines.get(1).filter(|g| !g.is_empty());
    let consistent = token_gen.is_some() && token_gen == expiry_lines.get(2);
    Some(CachedToken {
        token,
        expiry,
        expires_at,
        consistent,
    })
}
