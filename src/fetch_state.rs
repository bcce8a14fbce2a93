//! What git would get now, from files alone (no request): the helper's
//! token cache and its record of the last failed platform fetch
//! (`.last_fetch_failure` in the cache dir, emptied by the next success).
//! `status` reports it without a probe; install turns a failing state into
//! a `problem`.
//!
//! The record is the helper's, six lines: when it failed (epoch seconds),
//! why, since when the current outage runs, the request (URL with userinfo
//! redacted, workspace, configs dir), the failure's class, and its fix. The
//! fix is the helper's own words, so `status` and git's stderr name the
//! same one. Every line is outside text: bounded, checked, and stripped of
//! control characters before it is shown.

use crate::cache::CachedToken;
use crate::config::Config;
use crate::os::{FileKind, Fs};

/// The most read of the record (six short lines).
const RECORD_LIMIT: u64 = 16 * 1024;

/// A failed fetch's class, as the helper decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// A setting keeps the request from being made (or from working).
    Settings,
    /// HTTP 401/403: the platform refused the bearer.
    Bearer,
    /// HTTP 404: no GitHub App configured, or an unknown workspace.
    NotFound,
    /// No connection, a timeout, DNS, 5xx, 408/429: it may come back.
    Transient,
    /// TLS with the platform failed (a private CA not trusted).
    Tls,
    /// Any other answer that is no token.
    Reply,
}

impl FailureClass {
    fn parse(text: &str) -> FailureClass {
        match text {
            "settings" => FailureClass::Settings,
            "bearer" => FailureClass::Bearer,
            "not-found" => FailureClass::NotFound,
            "transient" => FailureClass::Transient,
            "tls" => FailureClass::Tls,
            _ => FailureClass::Reply,
        }
    }

    /// Its name, as the helper's failure line and status print it.
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::Settings => "settings",
            FailureClass::Bearer => "bearer",
            FailureClass::NotFound => "not-found",
            FailureClass::Transient => "transient",
            FailureClass::Tls => "tls",
            FailureClass::Reply => "reply",
        }
    }

    /// The same request fails the same way until someone acts.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            FailureClass::Settings | FailureClass::Bearer | FailureClass::NotFound
        )
    }
}

/// The last failed fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// When (epoch seconds).
    pub at: u64,
    /// Since when the current outage runs (epoch seconds).
    pub since: u64,
    /// Why, as the helper said it (control characters removed).
    pub why: String,
    /// Its class.
    pub class: FailureClass,
    /// What fixes it, in the helper's words.
    pub fix: String,
}

impl FetchFailure {
    /// `at HH:MM UTC (why); CLASS failure, fix: FIX`, and for a transient
    /// one since when and that it is retrying.
    pub fn describe(&self) -> String {
        let retrying = if self.class == FailureClass::Transient {
            format!(
                " (failing since {}; retrying)",
                crate::clock::rfc3339_utc(self.since)
            )
        } else {
            String::new()
        };
        format!(
            "the last platform fetch failed at {}{retrying}: {}; {} failure, fix: {}",
            crate::clock::rfc3339_utc(self.at),
            self.why,
            self.class.name(),
            self.fix
        )
    }
}

/// What git would get now, as far as files tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchState {
    /// No fetch failed since the last one that succeeded (or none ran yet).
    Clear,
    /// The last fetch failed, and git is still served the cached token
    /// until `until` (epoch seconds).
    ServingThrough {
        /// The failure.
        failure: FetchFailure,
        /// When the helper stops serving the cached token.
        until: u64,
    },
    /// The last fetch failed, and no cached token would be served.
    Failing(FetchFailure),
}

/// The helper's record of the last failed fetch, in the cache dir.
pub const FAILURE_RECORD: &str = ".last_fetch_failure";

/// Reads the cache and the failure record of `config`'s home.
pub fn read<F: Fs>(fs: &F, config: &Config) -> FetchState {
    let Some(failure) = read_failure(fs, config) else {
        return FetchState::Clear;
    };
    match cache_served_until(fs, config) {
        Some(until) => FetchState::ServingThrough { failure, until },
        None => FetchState::Failing(failure),
    }
}

/// Until when git is served the token cached in `config`'s home now
/// ([`served_until`], with the helper's TOKEN_MIN_REMAINING_SEC).
pub fn cache_served_until<F: Fs>(fs: &F, config: &Config) -> Option<u64> {
    let cached = crate::cache::read(fs, &config.layout)?;
    served_until(&cached, config.now_epoch, min_remaining(fs, config))
}

/// TOKEN_MIN_REMAINING_SEC as the helper takes it (the saved settings
/// too): how long before its expiry a cached token stops being served.
pub fn min_remaining<F: Fs>(fs: &F, config: &Config) -> u64 {
    crate::settings::seconds(fs, config, "TOKEN_MIN_REMAINING_SEC", 60)
}

/// Until when git is served the cached token (epoch seconds): while the
/// cache is fresh, and through a failure until `min_remaining` seconds
/// before the token's own expiry. `None` when it is not served `now`.
pub fn served_until(cached: &CachedToken, now: u64, min_remaining: u64) -> Option<u64> {
    if cached.token.is_none() || !cached.consistent {
        return None;
    }
    let through = cached.expires_at.map(|at| at.saturating_sub(min_remaining));
    let fresh = cached.expiry.filter(|&e| e > now);
    [through, fresh]
        .into_iter()
        .flatten()
        .max()
        .filter(|&u| u > now)
}

/// The helper's record of the last failed fetch, when there is one: a
/// regular file of ours, whole lines, numbers that are numbers.
pub fn read_failure<F: Fs>(fs: &F, config: &Config) -> Option<FetchFailure> {
    let path = config.layout.cache_dir.join(FAILURE_RECORD);
    let meta = fs.metadata(&path).ok()?;
    if meta.kind != FileKind::File || meta.uid != config.uid {
        return None;
    }
    let bytes = fs.read(&path, RECORD_LIMIT).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let number = |i: usize| -> Option<u64> {
        let s = lines.get(i)?.trim();
        (!s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())?
    };
    let at = number(0)?;
    let since = number(2).unwrap_or(at);
    let shown = |i: usize| -> String {
        let line = crate::status::printable(lines.get(i).copied().unwrap_or_default());
        line.chars().take(600).collect()
    };
    let class = FailureClass::parse(lines.get(4).copied().unwrap_or_default().trim());
    let fix = match shown(5) {
        fix if fix.is_empty() => "see `molecule-credential-helper status --probe`".into(),
        fix => fix,
    };
    Some(FetchFailure {
        at,
        since,
        why: shown(1),
        class,
        fix,
    })
}

/// `HH:MM UTC` of an epoch second.
pub fn hh_mm_utc(epoch: u64) -> String {
    let text = crate::clock::rfc3339_utc(epoch);
    format!("{} UTC", &text[11..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_classes_are_settings_bearer_and_not_found() {
        for (name, permanent) in [
            ("settings", true),
            ("bearer", true),
            ("not-found", true),
            ("transient", false),
            ("tls", false),
            ("reply", false),
            ("anything else", false),
        ] {
            assert_eq!(
                FailureClass::parse(name).is_permanent(),
                permanent,
                "{name}"
            );
        }
    }

    #[test]
    fn hh_mm_is_cut_from_the_utc_time() {
        assert_eq!(hh_mm_utc(1_795_726_860), "21:01 UTC");
    }
}
