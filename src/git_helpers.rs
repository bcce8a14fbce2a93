//! Which credential helpers git runs for a github.com URL, replayed from
//! `git config --list` the way git's `credential.c` does it: every
//! `credential.helper` and `credential.<url>.helper` whose URL matches, in
//! config order, an empty value clearing the list so far. `status` and
//! `contract` use it to tell whether ours answers first and who else gets
//! our token (git calls `store` on every helper after a success).

/// The URL git asks about for a clone of `o/r` from github.com.
pub const GITHUB_PROBE_URL: &str = "https://github.com/o/r.git";
const PROBE_HOST: &str = "github.com";
const PROBE_PATH: &str = "o/r.git";

/// The helper chain for [`GITHUB_PROBE_URL`] from `git config --list -z`
/// output (`key\nvalue\0` entries), first to last.
pub fn helpers_for_github(config_list: &str) -> Vec<String> {
    let mut chain = Vec::new();
    for entry in config_list.split('\0').filter(|e| !e.is_empty()) {
        let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
        if !applies_to_github(key) {
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
fn applies_to_github(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if !lower.starts_with("credential.") || !lower.ends_with(".helper") {
        return false;
    }
    if lower == "credential.helper" {
        return true;
    }
    let url = &key["credential.".len()..key.len() - ".helper".len()];
    if url.contains("://") {
        url_matches(url)
    } else {
        partial_url_matches(url)
    }
}

/// git's urlmatch: same scheme, no user unless the URL has one (ours has
/// none), host equal label by label with `*` matching one label, the same
/// port after defaults (443 for https), and a path that is a prefix of ours
/// at a `/` boundary.
fn url_matches(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return false;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (authority, "443"),
    };
    if port.parse::<u16>() != Ok(443) {
        return false;
    }
    host_matches(host) && path_matches(path)
}

fn host_matches(pattern: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let wanted: Vec<&str> = pattern.split('.').collect();
    let ours: Vec<&str> = PROBE_HOST.split('.').collect();
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
fn partial_url_matches(url: &str) -> bool {
    if url.contains('@') {
        return false;
    }
    let (host, path) = url.split_once('/').unwrap_or((url, ""));
    host == PROBE_HOST && (path.is_empty() || path == PROBE_PATH)
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
            assert!(applies_to_github(key), "{key}");
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
            assert!(!applies_to_github(key), "{key}");
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
