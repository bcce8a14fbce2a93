//! Which credential helpers git runs for the served GitHub's URL (github.com
//! or `GITHUB_SERVER_URL`), replayed from
//! `git config --list` the way git's `credential.c` does it: every
//! `credential.helper` and `credential.<url>.helper` whose URL matches, in
//! config order, an empty value clearing the list so far. `status` and
//! `contract` use it to tell whether ours answers first and who else gets
//! our token (git calls `store` on every helper after a success).

use crate::config::GitHubServer;

/// The URL git asks about for a clone of `o/r` from github.com.
pub const GITHUB_PROBE_URL: &str = "https://github.com/o/r.git";
const PROBE_PATH: &str = "o/r.git";

/// The served host split for matching: name and port.
fn host_and_port(server: &GitHubServer) -> (&str, u32) {
    match server.host.split_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or(443)),
        None => (&server.host, 443),
    }
}

/// Where git really sends a request for [`GITHUB_PROBE_URL`]: `git
/// ls-remote --get-url` applies every `url.<base>.insteadOf` (talking to no
/// remote). `Some(url)` when a rewrite sends it elsewhere: git then asks
/// that URL's helpers, never ours for github.com.
pub fn rewritten_probe<S: crate::os::Spawner>(
    spawner: &S,
    git: &std::path::Path,
    config: &crate::config::Config,
    server: &GitHubServer,
) -> Option<String> {
    let probe = server.probe_url();
    let cmd = config
        .command(git)
        .args(["ls-remote", "--get-url", &probe])
        .timeout(std::time::Duration::from_secs(10));
    let out = spawner.run(&cmd).ok()?;
    let url = out.stdout.lines().next()?.trim();
    // Redacted whole, then cut: a cut URL may have lost the `@` that
    // shows where its userinfo ends.
    (out.success() && !url.is_empty() && url != probe).then(|| {
        crate::secret::redact_credentials(url)
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect()
    })
}

/// The helper chain for [`GITHUB_PROBE_URL`] from `git config --list -z`
/// output (`key\nvalue\0` entries), first to last.
pub fn helpers_for_github(config_list: &str) -> Vec<String> {
    helpers_for(config_list, &GitHubServer::github_com())
}

/// The helper chain for `server`'s probe URL (`<url>/o/r.git`).
pub fn helpers_for(config_list: &str, server: &GitHubServer) -> Vec<String> {
    let mut chain = Vec::new();
    for entry in config_list.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
        if !applies_to(key, server) {
            continue;
        }
        if value.is_empty() {
            chain.clear();
        } else {
            chain.push(value.to_string());
        }
    }
    chain
}

/// Whether `key` is `credential.helper` or `credential.<url>.helper` for a
/// `<url>` that matches the probe URL. Section and variable names are
/// case-insensitive; the URL subsection keeps its case.
fn applies_to(key: &str, server: &GitHubServer) -> bool {
    let lower = key.to_ascii_lowercase();
    if !lower.starts_with("credential.") || !lower.ends_with(".helper") {
        return false;
    }
    if lower == "credential.helper" {
        return true;
    }
    let url = &key["credential.".len()..key.len() - ".helper".len()];
    if url.contains("://") {
        url_matches(url, server)
    } else {
        partial_url_matches(url, server)
    }
}

/// git's urlmatch, after git's URL normalisation (`urlmatch.c`
/// `url_normalize`): the scheme and host compared without case; `%XX`
/// escapes of unreserved characters decoded (`%67ithub.com`, `/%6f`); a
/// trailing dot on the host and an empty or default port (`:`, `:443`)
/// dropped; `.` and `..` path segments resolved. Then: same scheme, no user
/// (ours has none), host equal label by label with `*` matching one label,
/// the same port, and a path that is a prefix of ours at a `/` boundary.
fn url_matches(url: &str, server: &GitHubServer) -> bool {
    let (probe_host, probe_port) = host_and_port(server);
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return false;
    }
    // IPv6 literals are not github.com; split the port off the last colon.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (authority, ""),
    };
    let port_ok = if port.is_empty() {
        probe_port == 443
    } else {
        port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u32>() == Ok(probe_port)
    };
    if !port_ok {
        return false;
    }
    let Some(host) = decode_unreserved(host) else {
        return false;
    };
    let host = host.strip_suffix('.').unwrap_or(&host);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let Some(path) = decode_unreserved(path) else {
        return false;
    };
    host_matches(host, probe_host) && path_matches(&remove_dot_segments(&path))
}

/// Decodes `%XX` escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`),
/// as git's normalisation does, and keeps the others escaped (upper-cased).
/// `None` for a malformed escape: git refuses such a URL, so it matches
/// nothing.
fn decode_unreserved(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(byte as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(text[i..].chars().next()?);
            i += text[i..].chars().next()?.len_utf8();
        }
    }
    Some(out)
}

/// RFC 3986 `remove_dot_segments`, as git applies it to a URL's path.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match *part {
            "." => {
                if last {
                    segments.push("");
                }
            }
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
                if last {
                    segments.push("");
                }
            }
            other => segments.push(other),
        }
    }
    segments.join("/")
}

fn host_matches(pattern: &str, probe_host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let wanted: Vec<&str> = pattern.split('.').collect();
    let ours: Vec<&str> = probe_host.split('.').collect();
    wanted.len() == ours.len() && wanted.iter().zip(&ours).all(|(w, o)| *w == "*" || w == o)
}

fn path_matches(path: &str) -> bool {
    let path = path.trim_matches('/');
    path.is_empty()
        || PROBE_PATH == path
        || PROBE_PATH
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// git's fallback for a subsection without a scheme (`credential.github.com.helper`):
/// a partial URL whose parts must equal ours where given.
fn partial_url_matches(url: &str, server: &GitHubServer) -> bool {
    if url.contains('@') {
        return false;
    }
    let (host, path) = url.split_once('/').unwrap_or((url, ""));
    host == server.host && (path.is_empty() || path == PROBE_PATH)
}

/// Helpers that are not ours and would be handed our token by git's
/// `store` after a successful push, from a chain and our helper's value.
pub fn others_after_ours<'a>(chain: &'a [String], ours: &str) -> Vec<&'a str> {
    chain
        .iter()
        .filter(|h| *h != ours)
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, &str)]) -> String {
        entries.iter().map(|(k, v)| format!("{k}\n{v}\0")).collect()
    }

    #[test]
    fn keys_that_apply_to_github() {
        for key in [
            "credential.helper",
            "Credential.Helper",
            "credential.https://github.com.helper",
            "credential.https://GitHub.com.helper",
            "credential.https://github.com:443.helper",
            "credential.https://github.com/.helper",
            "credential.https://github.com/o.helper",
            "credential.https://github.com/o/r.git.helper",
            "credential.https://*.com.helper",
            "credential.https://github.*.helper",
            "credential.github.com.helper",
        ] {
            assert!(applies_to(key, &GitHubServer::github_com()), "{key}");
        }
        for key in [
            "credential.http://github.com.helper",
            "credential.https://github.com:8443.helper",
            "credential.https://gist.github.com.helper",
            "credential.https://*.github.com.helper",
            "credential.https://github.com.evil.helper",
            "credential.https://user@github.com.helper",
            "credential.https://github.com/other.helper",
            "credential.https://github.com/o/r.git2.helper",
            "credential.https://*.helper",
            "credential.gitlab.com.helper",
            "credential.github.com:443.helper",
            "credential.https://github.com.username",
            "http.https://github.com.helper",
        ] {
            assert!(!applies_to(key, &GitHubServer::github_com()), "{key}");
        }
    }

    #[test]
    fn chain_is_config_order_with_empty_resets() {
        let chain = helpers_for_github(&list(&[
            ("credential.helper", "cache"),
            ("credential.https://github.com.helper", ""),
            ("credential.https://github.com.helper", "!ours"),
            ("credential.https://gitlab.com.helper", "other"),
            ("credential.helper", "store"),
        ]));
        assert_eq!(chain, ["!ours", "store"]);
        assert_eq!(others_after_ours(&chain, "!ours"), ["store"]);
        let reset_later = helpers_for_github(&list(&[
            ("credential.https://github.com.helper", "!ours"),
            ("credential.https://*.com.helper", ""),
            ("credential.https://*.com.helper", "wild"),
        ]));
        assert_eq!(reset_later, ["wild"]);
    }
}
