//! A fake Molecule platform for tests, `contract` and fault injection:
//! a tiny HTTP/1.1 server on 127.0.0.1 serving both token routes, checking
//! the bearer, issuing distinct tokens (GitHub's current stateless format
//! by default, see [`tokens`]) and counting requests.

#[cfg(feature = "cli")]
pub mod serve;
pub mod tokens;

pub use tokens::{sample_token, TokenFormat};

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the fake answers a well-authenticated token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeMode {
    /// 200 with a fresh token.
    Ok,
    /// 500 `{"error":"token refresh failed"}`.
    Http500,
    /// 404 `{"error":"no GitHub App configured"}`.
    Http404,
    /// 401, whatever bearer is sent.
    Http401,
    /// Waits `slow_seconds` before answering (beyond any sane client timeout).
    Slow,
    /// 200 with truncated JSON.
    BadJson,
    /// 200 with extra whitespace, newlines and the keys in reverse order.
    Spaced,
    /// 200 with a token holding a newline and `=`.
    BadChars,
    /// 503 Service Unavailable (an outage).
    Http503,
    /// Closes every connection at once, before any reply (as close to a
    /// refused connection as a listening socket gets).
    Closed,
}

impl FakeMode {
    /// The names `--mode` accepts, in the order of the variants.
    pub const NAMES: [&'static str; 10] = [
        "ok", "500", "404", "401", "slow", "badjson", "spaced", "badchars", "503", "closed",
    ];
}

impl FromStr for FakeMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => FakeMode::Ok,
            "500" => FakeMode::Http500,
            "404" => FakeMode::Http404,
            "401" => FakeMode::Http401,
            "slow" => FakeMode::Slow,
            "badjson" => FakeMode::BadJson,
            "spaced" => FakeMode::Spaced,
            "badchars" => FakeMode::BadChars,
            "503" => FakeMode::Http503,
            "closed" => FakeMode::Closed,
            other => {
                return Err(format!(
                    "unknown mode {other:?}; expected one of {}",
                    FakeMode::NAMES.join(", ")
                ))
            }
        })
    }
}

/// Settings for [`FakePlatform::start`].
#[derive(Debug, Clone)]
pub struct FakePlatformConfig {
    /// 0 picks an ephemeral port.
    pub port: u16,
    /// The bearer the fake accepts.
    pub secret: String,
    /// Lifetime of issued tokens (their `expires_at`).
    pub ttl_secs: u64,
    /// How it answers.
    pub mode: FakeMode,
    /// How long `slow` mode stalls.
    pub slow_secs: u64,
    /// The shape of issued tokens (GitHub's current one by default).
    pub token_format: TokenFormat,
    /// Like the real platform's GitHub App plugin: hand back the last token
    /// until this many seconds before it expires, then mint a new one.
    /// `None` mints on every request.
    pub cache_lead_secs: Option<u64>,
}

impl Default for FakePlatformConfig {
    fn default() -> Self {
        FakePlatformConfig {
            port: 0,
            secret: "fake-platform-secret".into(),
            ttl_secs: 3600,
            mode: FakeMode::Ok,
            slow_secs: 30,
            token_format: TokenFormat::default(),
            cache_lead_secs: None,
        }
    }
}

/// One token the fake issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token itself.
    pub token: String,
    /// Epoch seconds after which GitHub would refuse it.
    pub expires_at: u64,
}

#[derive(Debug)]
struct State {
    secret: String,
    ttl_secs: AtomicU64,
    slow_secs: AtomicU64,
    token_format: TokenFormat,
    cache_lead_secs: Option<u64>,
    mode: Mutex<FakeMode>,
    raw_body: Mutex<Option<String>>,
    requests: AtomicUsize,
    started: Instant,
    /// When each request arrived, after `started`.
    arrivals: Mutex<Vec<Duration>>,
    routes: Mutex<Vec<String>>,
    user_agents: Mutex<Vec<String>>,
    issued: Mutex<Vec<IssuedToken>>,
    /// Tokens GitHub stopped accepting before their time (tests revoke).
    revoked: Mutex<Vec<String>>,
    stop: AtomicBool,
    counter: AtomicU64,
}

/// A running fake platform. Stops (and joins its thread) when dropped.
#[derive(Debug)]
pub struct FakePlatform {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub use crate::clock::rfc3339_utc;

impl FakePlatform {
    /// Binds 127.0.0.1 (never another interface) and starts serving.
    pub fn start(config: FakePlatformConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            secret: config.secret,
            ttl_secs: AtomicU64::new(config.ttl_secs),
            slow_secs: AtomicU64::new(config.slow_secs),
            token_format: config.token_format,
            cache_lead_secs: config.cache_lead_secs,
            mode: Mutex::new(config.mode),
            raw_body: Mutex::new(None),
            requests: AtomicUsize::new(0),
            started: Instant::now(),
            arrivals: Mutex::new(Vec::new()),
            routes: Mutex::new(Vec::new()),
            user_agents: Mutex::new(Vec::new()),
            issued: Mutex::new(Vec::new()),
            revoked: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            counter: AtomicU64::new(0),
        });
        let accept_state = Arc::clone(&state);
        let acceptor = thread::spawn(move || accept_loop(listener, accept_state));
        Ok(FakePlatform {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// Where it listens (127.0.0.1 only).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give the helper as `PLATFORM_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received on any path, authenticated or not.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// When each request arrived, as time since the platform started.
    pub fn arrivals(&self) -> Vec<Duration> {
        lock(&self.state.arrivals).clone()
    }

    /// The request paths, in arrival order.
    pub fn routes(&self) -> Vec<String> {
        lock(&self.state.routes).clone()
    }

    /// The `User-Agent` of each request, in arrival order (the helper sends
    /// `molecule-git-token-helper/<action>`).
    pub fn user_agents(&self) -> Vec<String> {
        lock(&self.state.user_agents).clone()
    }

    /// Every distinct token issued so far, oldest first (a token handed back
    /// again under `cache_lead_secs` is listed once).
    pub fn issued(&self) -> Vec<IssuedToken> {
        lock(&self.state.issued).clone()
    }

    /// What a github.com stand-in asks: is this token one we issued, and
    /// does GitHub still accept it?
    pub fn authority(&self) -> TokenAuthority {
        TokenAuthority(Arc::clone(&self.state))
    }

    /// How it answers from now on (outages, faults).
    pub fn set_mode(&self, mode: FakeMode) {
        *lock(&self.state.mode) = mode;
    }

    /// How long `slow` mode stalls from now on.
    pub fn set_slow_secs(&self, secs: u64) {
        self.state.slow_secs.store(secs, Ordering::SeqCst);
    }

    /// The lifetime of tokens issued from now on.
    pub fn set_ttl(&self, ttl_secs: u64) {
        self.state.ttl_secs.store(ttl_secs, Ordering::SeqCst);
    }

    /// Answers authenticated requests with exactly this 200 body (for
    /// fuzzing the client's parser); `None` restores the mode's bodies.
    pub fn set_raw_body(&self, body: Option<String>) {
        *lock(&self.state.raw_body) = body;
    }

    /// Serves until `deadline` (if any) passes or `stop` turns true.
    pub fn serve_until(&self, deadline: Option<Instant>, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) && deadline.is_none_or(|d| Instant::now() < d) {
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// GitHub's view of the platform's tokens, shared with a stand-in such as
/// `FakeGitHub`: issued or not, expired by the platform's clock, revoked.
#[derive(Debug, Clone)]
pub struct TokenAuthority(Arc<State>);

/// What GitHub would say about a token. `serial` is its issue number (0 =
/// the first token issued), which records name instead of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// GitHub accepts it.
    Valid {
        /// Its issue number.
        serial: usize,
        /// When it expires (epoch seconds).
        expires_at: u64,
    },
    /// Issued, but its `expires_at` has passed.
    Expired {
        /// Its issue number.
        serial: usize,
        /// When it expired (epoch seconds).
        expires_at: u64,
    },
    /// Issued, then revoked before its time.
    Revoked {
        /// Its issue number.
        serial: usize,
        /// When it would have expired (epoch seconds).
        expires_at: u64,
    },
    /// Not a token the platform issued.
    Unknown,
}

impl TokenCheck {
    /// Whether GitHub would accept it now.
    pub fn is_valid(&self) -> bool {
        matches!(self, TokenCheck::Valid { .. })
    }

    /// Its issue number, for an issued token.
    pub fn serial(&self) -> Option<usize> {
        match self {
            TokenCheck::Valid { serial, .. }
            | TokenCheck::Expired { serial, .. }
            | TokenCheck::Revoked { serial, .. } => Some(*serial),
            TokenCheck::Unknown => None,
        }
    }
}

impl TokenAuthority {
    /// What GitHub would say about `token` now.
    pub fn check(&self, token: &str) -> TokenCheck {
        let issued = lock(&self.0.issued);
        let Some((serial, t)) = issued.iter().enumerate().find(|(_, t)| t.token == token) else {
            return TokenCheck::Unknown;
        };
        let expires_at = t.expires_at;
        if lock(&self.0.revoked).iter().any(|r| r == token) {
            TokenCheck::Revoked { serial, expires_at }
        } else if now_epoch() >= expires_at {
            TokenCheck::Expired { serial, expires_at }
        } else {
            TokenCheck::Valid { serial, expires_at }
        }
    }

    /// GitHub stops accepting `token` now, before its `expires_at`.
    pub fn revoke(&self, token: &str) {
        lock(&self.0.revoked).push(token.to_string());
    }

    /// The `expires_at` of token number `serial`.
    pub fn expires_at(&self, serial: usize) -> Option<u64> {
        lock(&self.0.issued).get(serial).map(|t| t.expires_at)
    }
}

impl Drop for FakePlatform {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the acceptor sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while !state.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let state = Arc::clone(&state);
                thread::spawn(move || {
                    let _ = handle(stream, &state);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2))
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

const MAX_HEADER_LINES: usize = 64;

fn handle(stream: TcpStream, state: &State) -> io::Result<()> {
    if *lock(&state.mode) == FakeMode::Closed {
        state.requests.fetch_add(1, Ordering::SeqCst);
        lock(&state.arrivals).push(state.started.elapsed());
        return Ok(()); // dropped: closed before any reply
    }
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.by_ref().take(8192).read_line(&mut request_line)?;
    let mut bearer = None;
    let mut user_agent = String::new();
    for _ in 0..MAX_HEADER_LINES {
        let mut line = String::new();
        if reader.by_ref().take(8192).read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                bearer = value.trim().strip_prefix("Bearer ").map(str::to_string);
            } else if name.eq_ignore_ascii_case("user-agent") {
                user_agent = value.trim().to_string();
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    state.requests.fetch_add(1, Ordering::SeqCst);
    lock(&state.arrivals).push(state.started.elapsed());
    lock(&state.routes).push(path.to_string());
    lock(&state.user_agents).push(user_agent);

    let (status, body) = respond(state, method, path, bearer.as_deref());
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn is_token_route(path: &str) -> bool {
    if path == "/admin/github-installation-token" {
        return true;
    }
    path.strip_prefix("/workspaces/")
        .and_then(|rest| rest.strip_suffix("/github-installation-token"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn respond(state: &State, method: &str, path: &str, bearer: Option<&str>) -> (u16, String) {
    if !is_token_route(path) {
        return (404, r#"{"error":"not found"}"#.into());
    }
    if method != "GET" {
        return (405, r#"{"error":"method not allowed"}"#.into());
    }
    let mode = *lock(&state.mode);
    if bearer != Some(state.secret.as_str()) || mode == FakeMode::Http401 {
        return (401, r#"{"error":"unauthorized"}"#.into());
    }
    match mode {
        FakeMode::Http404 => return (404, r#"{"error":"no GitHub App configured"}"#.into()),
        FakeMode::Http500 => return (500, r#"{"error":"token refresh failed"}"#.into()),
        FakeMode::Http503 => return (503, r#"{"error":"service unavailable"}"#.into()),
        FakeMode::Slow => {
            let until =
                Instant::now() + Duration::from_secs(state.slow_secs.load(Ordering::SeqCst));
            while Instant::now() < until && !state.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
        }
        _ => {}
    }
    if let Some(body) = lock(&state.raw_body).clone() {
        return (200, body);
    }
    let token = issue(state);
    let expires = rfc3339_utc(token.expires_at);
    let body = match mode {
        FakeMode::BadJson => format!("{{\"token\": \"{}\", \"expires_at\": ", token.token),
        FakeMode::Spaced => format!(
            "{{\n  \"expires_at\" :\n    \"{expires}\" ,\n\t\"token\"   :   \"{}\"\n}}\n",
            token.token
        ),
        FakeMode::BadChars => format!(
            "{{\"token\":\"{}\\ninjected=1\",\"expires_at\":\"{expires}\"}}",
            token.token
        ),
        _ => format!(
            "{{\"token\":\"{}\",\"expires_at\":\"{expires}\"}}",
            token.token
        ),
    };
    (200, body)
}

fn issue(state: &State) -> IssuedToken {
    let now = now_epoch();
    let mut issued = lock(&state.issued);
    if let (Some(lead), Some(last)) = (state.cache_lead_secs, issued.last()) {
        if last.expires_at > now + lead {
            return last.clone();
        }
    }
    let serial = state.counter.fetch_add(1, Ordering::SeqCst);
    let expires_at = now + state.ttl_secs.load(Ordering::SeqCst);
    let token = IssuedToken {
        token: tokens::make_token(
            state.token_format,
            serial,
            tokens::fresh_entropy(),
            now,
            expires_at,
        ),
        expires_at,
    };
    issued.push(token.clone());
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(is_token_route("/admin/github-installation-token"));
        assert!(is_token_route("/workspaces/ws-1/github-installation-token"));
        assert!(!is_token_route("/workspaces//github-installation-token"));
        assert!(!is_token_route("/workspaces/a/b/github-installation-token"));
        assert!(!is_token_route("/other"));
    }
}
