//! The fake platform itself: routes, bearer, modes, counting.

use std::io::{Read, Write};
use std::net::TcpStream;

use molecule_credential_helper::testing::{FakeMode, FakePlatform, FakePlatformConfig};

fn get(platform: &FakePlatform, path: &str, bearer: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(platform.addr()).unwrap();
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Accept: application/json\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn start(mode: FakeMode) -> FakePlatform {
    FakePlatform::start(FakePlatformConfig {
        secret: "s3".into(),
        mode,
        slow_secs: 1,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn binds_loopback_and_issues_distinct_tokens_on_both_routes() {
    let p = start(FakeMode::Ok);
    assert!(p.addr().ip().is_loopback());
    let (s1, b1) = get(&p, "/admin/github-installation-token", Some("s3"));
    let (s2, b2) = get(&p, "/workspaces/ws-9/github-installation-token", Some("s3"));
    assert_eq!((s1, s2), (200, 200));
    let issued = p.issued();
    assert_eq!(issued.len(), 2);
    assert_ne!(issued[0].token, issued[1].token);
    assert!(b1.contains(&issued[0].token) && b2.contains(&issued[1].token));
    assert!(b1.contains("\"expires_at\":\""));
    assert_eq!(p.requests(), 2);
    assert_eq!(
        p.routes(),
        [
            "/admin/github-installation-token",
            "/workspaces/ws-9/github-installation-token"
        ]
    );
}

#[test]
fn wrong_or_missing_bearer_is_401() {
    let p = start(FakeMode::Ok);
    assert_eq!(
        get(&p, "/admin/github-installation-token", Some("nope")).0,
        401
    );
    assert_eq!(get(&p, "/admin/github-installation-token", None).0, 401);
    assert_eq!(get(&p, "/elsewhere", Some("s3")).0, 404);
    assert!(p.issued().is_empty());
}

#[test]
fn fault_modes() {
    let p = start(FakeMode::Http500);
    assert_eq!(
        get(&p, "/admin/github-installation-token", Some("s3")),
        (500, r#"{"error":"token refresh failed"}"#.into())
    );
    p.set_mode(FakeMode::Http404);
    assert_eq!(
        get(&p, "/admin/github-installation-token", Some("s3")),
        (404, r#"{"error":"no GitHub App configured"}"#.into())
    );
    p.set_mode(FakeMode::Http401);
    assert_eq!(
        get(&p, "/admin/github-installation-token", Some("s3")).0,
        401
    );
    p.set_mode(FakeMode::BadJson);
    let (status, body) = get(&p, "/admin/github-installation-token", Some("s3"));
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    p.set_mode(FakeMode::Spaced);
    let (_, body) = get(&p, "/admin/github-installation-token", Some("s3"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["token"].as_str().unwrap().starts_with("ghs_"));
    assert!(body.contains('\n') && body.find("expires_at") < body.find("token"));
    p.set_mode(FakeMode::BadChars);
    let (_, body) = get(&p, "/admin/github-installation-token", Some("s3"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["token"].as_str().unwrap().contains('\n'));
    p.set_mode(FakeMode::Slow);
    let started = std::time::Instant::now();
    assert_eq!(
        get(&p, "/admin/github-installation-token", Some("s3")).0,
        200
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

/// The command's closing count is grammatical: "served 1 request".
#[test]
fn the_command_says_served_1_request_in_the_singular() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-credential-helper"))
        .args([
            "fake-platform",
            "--port",
            "0",
            "--secret",
            "s3",
            "--max-seconds",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url.trim().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /admin/github-installation-token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fake-platform: served 1 request\n"), "{err}");
}
