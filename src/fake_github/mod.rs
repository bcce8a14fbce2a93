//! A github.com stand-in for the end-to-end world (`testing` feature): HTTPS
//! (rustls, a CA made for the run) serving
//! - `github.com`: real smart HTTP through `git http-backend` over bare
//!   repositories it creates (clone, fetch, push);
//! - `api.github.com`: what gh needs to log in with an installation token
//!   and use it: `GET /` (no `X-OAuth-Scopes`, as for an integration token),
//!   `POST /graphql` (`viewer { login }`) and `GET /repos/{owner}/{repo}`;
//! - a GitHub Enterprise Server, [`GHES_HOST`]: smart HTTP like github.com's
//!   (its own repositories), and the same API under `/api/v3/...` and
//!   `/api/graphql` on that host, where gh calls a GHES host;
//! - a GHE.com tenant, [`GHE_COM_HOST`]: smart HTTP, the API at
//!   [`GHE_COM_API_HOST`] (REST at `/`, GraphQL at `/graphql`, where gh
//!   since GHE.com calls a `*.ghe.com` host), and the GHES-shaped paths on
//!   the tenant's own host too, because older gh (2.23) treats any host but
//!   github.com as GHES.
//!
//! Every request must carry a token the fake platform issued that GitHub
//! still accepts (its `expires_at` not passed, not revoked); anything else
//! gets 401 with `WWW-Authenticate: Basic realm="GitHub"`, as GitHub
//! answers. Every request is recorded — time, host, route, the token's issue
//! number, status — never the token. It binds 127.0.0.1 only: run it inside
//! a private network and mount namespace ([`namespace`]) where its hosts
//! resolve there, on port 443.

mod http;
pub mod namespace;
pub mod tls;

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::fake_platform::{TokenAuthority, TokenCheck};
use http::{read_request, write_response, Request};

/// The bot login `viewer { login }` answers, as an App's installation token has.
pub const BOT_LOGIN: &str = "molecule-app[bot]";

/// The GitHub Enterprise Server stand-in's host (API under `/api/v3`).
pub const GHES_HOST: &str = "ghe.example.test";

/// The GHE.com stand-in's host (a tenant of GitHub's data residency).
pub const GHE_COM_HOST: &str = "octo.ghe.com";

/// The GHE.com stand-in's API host.
pub const GHE_COM_API_HOST: &str = "api.octo.ghe.com";

/// What a request is for, by host and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    /// Smart HTTP on a git host (the host's own repositories).
    Git,
    /// The REST API; the path with the API's prefix taken off.
    Rest {
        /// The API's base URL, for the links in its answers.
        base: &'static str,
        path: &'a str,
    },
    /// GraphQL.
    GraphQl,
    /// A host the stand-in does not serve.
    Unknown,
}

/// Where `host` + `path` goes: github.com's two hosts as always; a
/// GHES-shaped host serves `/api/v3/...` and `/api/graphql` beside git;
/// a GHE.com tenant is GHES-shaped too, and its `api.` host is shaped like
/// api.github.com.
fn target<'a>(host: &str, path: &'a str) -> Target<'a> {
    let api_root = |base: &'static str, path: &'a str| {
        if path == "/graphql" {
            Target::GraphQl
        } else {
            Target::Rest { base, path }
        }
    };
    let ghes_shaped = |base: &'static str| {
        if path == "/api/graphql" {
            return Target::GraphQl;
        }
        match path.strip_prefix("/api/v3") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                Target::Rest { base, path: rest }
            }
            _ => Target::Git,
        }
    };
    match host {
        "github.com" => Target::Git,
        "api.github.com" => api_root("https://api.github.com", path),
        GHES_HOST => ghes_shaped("https://ghe.example.test/api/v3"),
        GHE_COM_HOST => ghes_shaped("https://octo.ghe.com/api/v3"),
        GHE_COM_API_HOST => api_root("https://api.octo.ghe.com", path),
        _ => Target::Unknown,
    }
}

/// Where `host`'s bare repositories live: github.com's in `repos` (as
/// always), each other git host's in `hosts/<host>`, out of github.com's reach.
fn repos_of(shared: &Shared, host: &str) -> PathBuf {
    if host == "github.com" {
        shared.root.clone()
    } else {
        shared.hosts_root.join(host)
    }
}

/// One request, as recorded (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Since the stand-in started.
    pub at: Duration,
    /// Wall-clock time, for comparing with a token's `expires_at`.
    pub when: std::time::SystemTime,
    /// The host asked for (from the Host header, without `:443`).
    pub host: String,
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub route: String,
    /// The presented token's issue number, when it is one the platform issued.
    pub token_serial: Option<usize>,
    /// What GitHub said about it: valid, expired, revoked, unknown, none.
    pub token_state: &'static str,
    /// The HTTP status answered.
    pub status: u16,
}

#[derive(Debug)]
struct Shared {
    /// github.com's repositories.
    root: PathBuf,
    /// The other git hosts' repositories, a directory each.
    hosts_root: PathBuf,
    authority: TokenAuthority,
    started: Instant,
    records: Mutex<Vec<Recorded>>,
    /// Every API endpoint accepts connections and never answers.
    api_stalls: AtomicBool,
    stop: AtomicBool,
}

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct FakeGitHub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    ca_pem: PathBuf,
}

impl FakeGitHub {
    /// Serves HTTPS on 127.0.0.1:`port` (443 inside the namespace; 0 picks
    /// one), with its repositories and CA under `root`.
    pub fn start(root: &Path, port: u16, authority: TokenAuthority) -> io::Result<Self> {
        std::fs::create_dir_all(root.join("repos"))?;
        let ca_pem = root.join("ca.pem");
        let tls = tls::server_config(&ca_pem)?;
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root: root.join("repos"),
            hosts_root: root.join("hosts"),
            authority,
            started: Instant::now(),
            records: Mutex::new(Vec::new()),
            api_stalls: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let accept = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (shared, tls) = (Arc::clone(&accept), Arc::clone(&tls));
                thread::spawn(move || {
                    let _ = serve(stream, &tls, &shared);
                });
            }
        });
        Ok(FakeGitHub {
            addr,
            shared,
            ca_pem,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The run's CA: `GIT_SSL_CAINFO` for git, `SSL_CERT_FILE` for gh.
    pub fn ca_pem(&self) -> &Path {
        &self.ca_pem
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes api.github.com (and every other API endpoint: the REST and
    /// GraphQL paths of the enterprise stand-ins) accept connections and
    /// never answer; git's hosts still answer.
    pub fn set_api_stalls(&self, stalls: bool) {
        self.shared.api_stalls.store(stalls, Ordering::SeqCst);
    }

    /// A bare repository `owner/name` on github.com with one commit on `main`.
    pub fn create_repo(&self, owner: &str, name: &str) -> io::Result<PathBuf> {
        self.create_repo_on("github.com", owner, name)
    }

    /// A bare repository `owner/name` on `host` (github.com, [`GHES_HOST`]
    /// or [`GHE_COM_HOST`]; each has its own) with one commit on `main`.
    pub fn create_repo_on(&self, host: &str, owner: &str, name: &str) -> io::Result<PathBuf> {
        if target(host, "/").ne(&Target::Git) {
            return Err(io::Error::other(format!("{host} serves no repositories")));
        }
        let bare = repos_of(&self.shared, host)
            .join(owner)
            .join(format!("{name}.git"));
        let seed = self
            .shared
            .root
            .join(format!(".seed-{host}-{owner}-{name}"));
        std::fs::create_dir_all(&seed)?;
        std::fs::write(seed.join("README.md"), format!("# {owner}/{name}\n"))?;
        let git = |dir: &Path, args: &[&str]| -> io::Result<()> {
            let out = Command::new("git")
                .args(["-c", "user.name=seed", "-c", "user.email=seed@example.com"])
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", &self.shared.root)
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "git {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )))
            }
        };
        std::fs::create_dir_all(&bare)?;
        git(&bare, &["init", "-q", "--bare", "-b", "main"])?;
        git(&seed, &["init", "-q", "-b", "main"])?;
        git(&seed, &["add", "README.md"])?;
        git(&seed, &["commit", "-q", "-m", "seed"])?;
        git(&seed, &["push", "-q", &bare.to_string_lossy(), "main"])?;
        std::fs::remove_dir_all(&seed)?;
        Ok(bare)
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(stream: TcpStream, tls: &Arc<rustls::ServerConfig>, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(Arc::clone(tls)).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let req = {
        let mut reader = BufReader::new(&mut tls);
        read_request(&mut reader)?
    };
    let host = req.host();
    let target = target(&host, req.path());
    let is_api = matches!(target, Target::Rest { .. } | Target::GraphQl);
    if is_api && shared.api_stalls.load(Ordering::SeqCst) {
        // Accepts, reads the request, never answers (until we stop).
        while !shared.stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(100));
        }
        return Ok(());
    }
    let check = presented_token(&req).map(|t| shared.authority.check(&t));
    let (status, headers, body) = if !check.is_some_and(|c| c.is_valid()) {
        unauthorized()
    } else {
        match target {
            Target::Git => git_http_backend(&req, &repos_of(shared, &host))?,
            Target::Rest { base, path } => rest(&req.method, base, path),
            Target::GraphQl => graphql(&req.method),
            Target::Unknown => (404, Vec::new(), b"no such host here\n".to_vec()),
        }
    };
    let header_refs: Vec<(&str, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    write_response(&mut tls, status, &header_refs, &body)?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    shared
        .records
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Recorded {
            at: shared.started.elapsed(),
            when: std::time::SystemTime::now(),
            host,
            method: req.method.clone(),
            route: req.path().to_string(),
            token_serial: check.and_then(|c| c.serial()),
            token_state: match check {
                None => "none",
                Some(TokenCheck::Valid { .. }) => "valid",
                Some(TokenCheck::Expired { .. }) => "expired",
                Some(TokenCheck::Revoked { .. }) => "revoked",
                Some(TokenCheck::Unknown) => "unknown",
            },
            status,
        });
    Ok(())
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

fn unauthorized() -> Response {
    (
        401,
        vec![
            ("WWW-Authenticate".into(), "Basic realm=\"GitHub\"".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        br#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#
            .to_vec(),
    )
}

/// The token in `Authorization`: Basic (git: any user, the token as the
/// password), `token X` or `Bearer X` (gh).
fn presented_token(req: &Request) -> Option<String> {
    let value = req.header("authorization")?;
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64_decode(rest.trim())?;
            let text = String::from_utf8(decoded).ok()?;
            text.split_once(':').map(|(_, p)| p.to_string())
        }
        "token" | "bearer" => Some(rest.trim().to_string()),
        _ => None,
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn json(status: u16, body: String) -> Response {
    (
        status,
        vec![(
            "Content-Type".into(),
            "application/json; charset=utf-8".into(),
        )],
        body.into_bytes(),
    )
}

/// The REST API, as much as gh needs with an installation token: `path`
/// is under the API's root (`/` at api.github.com, `/api/v3/` on GHES).
fn rest(method: &str, base: &str, path: &str) -> Response {
    let path = path.trim_end_matches('/');
    match (method, path) {
        // No X-OAuth-Scopes: gh then treats the token as an integration's.
        ("GET", "") => json(200, format!(r#"{{"current_user_url":"{base}/user"}}"#)),
        ("GET", p) if p.starts_with("/repos/") => {
            let parts: Vec<&str> = p.trim_start_matches("/repos/").split('/').collect();
            match parts.as_slice() {
                [owner, name] => json(
                    200,
                    format!(
                        r#"{{"id":1,"name":"{name}","full_name":"{owner}/{name}","private":true,"owner":{{"login":"{owner}"}},"default_branch":"main"}}"#
                    ),
                ),
                _ => json(404, r#"{"message":"Not Found"}"#.into()),
            }
        }
        _ => json(404, r#"{"message":"Not Found"}"#.into()),
    }
}

/// GraphQL: `viewer { login }`, the one query gh's login makes.
fn graphql(method: &str) -> Response {
    if method == "POST" {
        json(
            200,
            format!(r#"{{"data":{{"viewer":{{"login":"{BOT_LOGIN}"}}}}}}"#),
        )
    } else {
        json(404, r#"{"message":"Not Found"}"#.into())
    }
}

/// Smart HTTP through `git http-backend` (CGI) over `root`'s repositories.
fn git_http_backend(req: &Request, root: &Path) -> io::Result<Response> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", req.path())
        .env("QUERY_STRING", req.query())
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (header, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = req.header(header) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn()?;
    let body = req.body.clone();
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin"))?;
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?
        .read_to_end(&mut out)?;
    let _ = child.wait();
    let _ = writer.join();
    // CGI: headers, a blank line, the body.
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else {
        return Ok((500, Vec::new(), b"bad CGI output\n".to_vec()));
    };
    let head = String::from_utf8_lossy(&out[..at]).into_owned();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            status = v
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
        } else if !k.eq_ignore_ascii_case("content-length") {
            headers.push((k.to_string(), v.to_string()));
        }
    }
    Ok((status, headers, out[at + sep..].to_vec()))
}
