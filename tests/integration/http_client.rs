//! The helper's one HTTP client, curl, as the platform sees it. Raw servers
//! here send exactly the bytes a test needs, including replies the fake
//! platform never sends.

use crate::support::token;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rstest::rstest;

use crate::support::raw_server::RawServer;
use crate::support::{password, stderr, TestEnv};

/// The raw servers' token, in GitHub's current format.
fn token_of_raw_server() -> &'static str {
    token(5)
}

/// Asserts git was answered with the raw servers' token.
fn assert_raw_server_token(out: &std::process::Output) {
    assert_eq!(
        password(out).as_deref(),
        Some(token_of_raw_server()),
        "{}",
        stderr(out)
    );
}

fn json_body() -> String {
    format!(
        r#"{{"token":"{}","expires_at":"2099-01-01T00:00:00Z"}}"#,
        token_of_raw_server()
    )
}

/// A 200 with the token body and its Content-Length, after `headers`.
fn ok_reply(headers: &str) -> String {
    let body = json_body();
    format!(
        "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An env whose platform is `server`, with a fallback token that shows when
/// the fetch failed.
fn env_for(url: &str, timeout_secs: u64) -> TestEnv {
    let mut env = TestEnv::builder()
        .no_platform()
        .var("TOKEN_FETCH_TIMEOUT_SEC", &timeout_secs.to_string())
        .build();
    env.set("PLATFORM_URL", url);
    env.set("GITHUB_TOKEN", token(6));
    env
}

/// curl honours a proxy set in the environment (and sends it an absolute URL).
#[rstest]
#[case::http_proxy("http_proxy")]
#[case::all_proxy("all_proxy")]
#[case::all_proxy_upper("ALL_PROXY")]
fn a_proxy_in_the_environment_sends_the_fetch_through_curl(#[case] var: &str) {
    let mut env = TestEnv::new();
    let platform = env.platform().url();
    // The "proxy" is the platform itself; the target an address no test uses.
    env.set(var, &platform);
    env.set("PLATFORM_URL", "http://127.0.0.2:9");
    let out = env.bundled_helper("_fetch_token").output();
    let routes = env.platform().routes();
    assert_eq!(
        routes,
        vec!["http://127.0.0.2:9/admin/github-installation-token".to_string()],
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_request_is_http_1_1_with_host_bearer_accept_and_agent() {
    let reply = ok_reply("Content-Type: application/json\r\n");
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let env = env_for(&format!("{}/base/", server.url()), 5);
    let out = env.direct_get();
    assert_raw_server_token(&out);
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    let head = &heads[0];
    let port = server.addr.port();
    for line in [
        "GET /base/admin/github-installation-token HTTP/1.1\r\n".to_string(),
        format!("Host: 127.0.0.1:{port}\r\n"),
        format!("Authorization: Bearer {}\r\n", env.secret),
        "Accept: application/json\r\n".to_string(),
        "User-Agent: molecule-git-token-helper/get\r\n".to_string(),
    ] {
        assert!(head.contains(&line), "{line:?} missing from {head:?}");
    }
}

/// curl's URL globbing is off: `[1-3]` and `{a,b}` in PLATFORM_URL are
/// text, one request of that path (globbing made one request per match,
/// each with the bearer).
#[test]
fn brackets_and_braces_in_the_platform_url_are_one_request_of_that_path() {
    let server = RawServer::start(ok_reply("").as_bytes(), Duration::ZERO);
    let env = env_for(&format!("{}/x[1-3]/{{a,b}}", server.url()), 5);
    let out = env.direct_get();
    assert_raw_server_token(&out);
    let heads = server.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /x[1-3]/{a,b}/admin/github-installation-token HTTP/1.1\r\n"),
        "{heads:?}"
    );
}

/// `ALL_PROXY` (curl's fallback, from the process's environment; no
/// setting saves it) is named in a failure that went through it.
#[test]
fn a_failure_through_all_proxy_names_it() {
    let mut env = env_for("http://127.0.0.2:9", 5);
    let dead = crate::support::RefusedPort::new();
    env.set(
        "ALL_PROXY",
        &format!("http://agent:pr0xy@127.0.0.1:{}", dead.port),
    );
    let out = env.bundled_helper("_fetch_token").output();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "connection refused (with curl's ALL_PROXY=http://***@127.0.0.1:{} from the environment)",
            dead.port
        )),
        "{}",
        stderr(&out)
    );
}

/// 403, like 401, is the platform refusing the bearer.
#[rstest]
#[case::unauthorized("401 Unauthorized")]
#[case::forbidden("403 Forbidden")]
fn a_refused_bearer_is_a_bearer_failure(#[case] status: &str) {
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let mut env = env_for(&server.url(), 5);
    env.unset("GITHUB_TOKEN");
    env.unset("GH_TOKEN");
    let out = env.direct_get();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("bearer failure, fix: the platform refused the bearer"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_chunked_reply_is_reassembled() {
    let body = json_body();
    // Chunk boundaries inside the token itself.
    let (a, rest) = body.split_at(14);
    let (b, c) = rest.split_at(9);
    let mut reply = String::from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for part in [a, b, c] {
        reply.push_str(&format!("{:x};ext=1\r\n{part}\r\n", part.len()));
    }
    reply.push_str("0\r\n\r\n");
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let out = env_for(&server.url(), 5).direct_get();
    assert_raw_server_token(&out);
}

/// The reply is read by its Content-Length: a server that ignores
/// `Connection: close` cannot hold git until the fetch timeout.
#[test]
fn a_server_that_keeps_the_connection_open_is_read_by_length() {
    let reply = ok_reply("Connection: keep-alive\r\n");
    let server = RawServer::start(reply.as_bytes(), Duration::from_secs(120));
    // Had the client waited for the close, it would time out and fall back.
    let out = env_for(&server.url(), 20).direct_get();
    assert_raw_server_token(&out);
}

/// Replies that are not whole are failed fetches: nothing cached, the
/// fallback token served, one line saying why.
#[rstest]
#[case::garbage_status("SSH-2.0-OpenSSH_9.2\r\n\r\n", "not HTTP")]
#[case::closed_at_once("", "without a whole reply")]
#[case::bad_length(
    "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n{}",
    "without a whole reply"
)]
#[case::cut_short(
    "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"token\":\"ghs_Cut",
    "without a whole reply"
)]
#[case::bad_chunk(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "without a whole reply"
)]
#[case::empty_body(
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "not the expected JSON object"
)]
#[case::not_ok(
    "HTTP/1.1 503 Unavailable\r\nContent-Length: 27\r\n\r\n{\"error\":\"maintenance now\"}",
    "HTTP 503; platform said: \"maintenance now\""
)]
fn a_broken_reply_is_a_failed_fetch(#[case] reply: &str, #[case] reason: &str) {
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let env = env_for(&server.url(), 5);
    let out = env.direct_get();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(6)),
        "{}",
        stderr(&out)
    );
    assert!(!env.layout().cache_token.exists(), "nothing cached");
    let mut fetch = env.bundled_helper("_fetch_token");
    let out = fetch.output();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(reason),
        "{reason:?}: {}",
        stderr(&out)
    );
}

/// curl's `--connect-timeout` bounds a connect(). A listener whose
/// queue is full never completes a handshake, like a host that drops SYNs.
#[test]
fn a_platform_that_never_accepts_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        queued.push(stream);
        assert!(queued.len() < 10_000, "the accept queue never filled");
    }
    let env = env_for(&format!("http://{addr}"), 1);
    let out = env.bundled_helper("_fetch_token").output();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("timed out after 1s"),
        "{}",
        stderr(&out)
    );
    // And git still gets an answer from the next source.
    assert_eq!(password(&env.direct_get()).as_deref(), Some(token(6)));
    drop(listener);
}

#[rstest]
#[case::word("soon")]
#[case::zero("0")]
#[case::empty("")]
fn a_nonsense_fetch_timeout_still_fetches(#[case] value: &str) {
    let env = TestEnv::builder()
        .var("TOKEN_FETCH_TIMEOUT_SEC", value)
        .build();
    env.assert_answered_first_platform_token(&env.direct_get());
}
