//! The template authors' contract suite (`molecule-credential-helper contract`).

/// A recording stand-in for gh (source: `fixtures/gh-shim.sh`). Like the real
/// gh it refuses to log in while GH_TOKEN/GITHUB_TOKEN is set; it reads the
/// token from stdin, stores it in hosts.yml, and records each call's argv and
/// whether an env token was present (never the token) in `$GH_SHIM_LOG`.
pub const GH_SHIM: &str = include_str!("../../fixtures/gh-shim.sh");
