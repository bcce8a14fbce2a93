//! Trust, round 3: a lock decides which supervisor is ours, a writable
//! HOME is refused, planted runtime files are replaced, git's URL matching
//! is replayed with its normalisation, requests and replies are read
//! strictly, and no child inherits a lock. The second user is uid 65534.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use molecule_credential_helper::report::{Outcome, Step};
use molecule_credential_helper::status::Level;

use crate::support::procs::{supervisors, SupervisorGuard};
use crate::support::raw_server::RawServer;
use crate::support::{password, stderr, token, wait_for, write_executable, TestEnv};

const NOBODY: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A process of uid 65534 running our exact supervisor argv (the victim's
/// daemon script is readable), leading its own session, with its own lock
/// elsewhere: the audit's look-alike. Killed, with its group, on drop.
struct LookAlike {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl LookAlike {
    fn start(env: &TestEnv) -> LookAlike {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o777);
        let runtime = dir.path().join("rt");
        std::fs::create_dir(&runtime).unwrap();
        std::os::unix::fs::chown(&runtime, Some(NOBODY), Some(NOBODY)).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg("env")
        .arg(format!("HOME={}", dir.path().display()))
        .arg(format!("MOLECULE_RUNTIME_DIR={}", runtime.display()))
        .args([
            "TOKEN_REFRESH_INITIAL_DELAY_SEC=3600",
            "TOKEN_HELPER_SCRIPT=/bin/true",
        ])
        .args(["bash", "-p"])
        .arg(env.layout().daemon_script)
        .arg("--supervise")
        .env("PATH", &env.env["PATH"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // Its own session, as our supervisor has.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i32;
        let argv_is_ours = wait_for(Duration::from_secs(10), || {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.ends_with(b"--supervise\0") && c.starts_with(b"bash\0-p\0"))
        });
        assert!(argv_is_ours, "the look-alike never ran our argv");
        LookAlike { child, _dir: dir }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for LookAlike {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The audit's case: another user's process with our exact argv, leading
/// its session, is never adopted, signalled or counted. Install starts its
/// own supervisor; status counts only ours; with our PID file gone while
/// ours runs, install adopts ours (it holds the lock) and leaves the
/// look-alike alone.
#[test]
fn another_users_look_alike_supervisor_is_never_ours() {
    let env = TestEnv::new();
    // The victim's daemon script must be readable by uid 65534.
    chmod(env.dir.path(), 0o755);
    let _guard = SupervisorGuard::new(&env.home);
    // Install (the scripts exist), then kill ours and lose its PID file:
    // only the look-alike runs, and the PID file names it.
    assert!(env.installer().install().failed_steps().is_empty());
    let first: i32 = env.supervisor_pid();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(wait_for(Duration::from_secs(10), || supervisors(&env.home)
        .is_empty()));
    let lookalike = LookAlike::start(&env);
    std::fs::write(env.layout().pid_file, format!("{}\n", lookalike.pid())).unwrap();

    let report = env.installer().install();
    match report.outcome(Step::RefreshDaemon) {
        Some(Outcome::Changed(d)) => assert!(d.starts_with("started supervisor"), "{d}"),
        other => panic!("{other:?}\n{report}"),
    }
    let ours: i32 = env.supervisor_pid();
    assert_ne!(ours, lookalike.pid());
    assert_eq!(supervisors(&env.home), [ours]);
    let (code, status) = env.status_json();
    let daemon = status.check("daemon").unwrap();
    assert_eq!(code, 0, "{status:?}");
    assert!(
        daemon
            .detail
            .contains(&format!("supervisor {ours} alive and unique")),
        "{daemon:?}"
    );

    // Our PID file lost while ours runs: install adopts ours, by its lock.
    std::fs::remove_file(env.layout().pid_file).unwrap();
    let report = env.installer().install();
    match report.outcome(Step::RefreshDaemon) {
        Some(Outcome::Changed(d)) => {
            assert!(d.contains(&format!("adopted supervisor {ours}")), "{d}")
        }
        other => panic!("{other:?}\n{report}"),
    }
    assert_eq!(supervisors(&env.home), [ours]);
    assert!(
        std::fs::read(format!("/proc/{}/cmdline", lookalike.pid())).is_ok(),
        "the look-alike was signalled"
    );
}

/// HOME's own mode: writable by every user, sticky or not, is refused for
/// wiring (git-config fails, naming `chmod o-w`; status fails): with the
/// sticky bit others still plant `~/.gitconfig` before us. Group-writable
/// is a warning.
#[rstest::rstest]
#[case::world_writable(0o777, true)]
#[case::sticky(0o1777, true)]
#[case::group_writable(0o775, false)]
fn a_home_others_can_write_is_refused_or_warned(#[case] mode: u32, #[case] refused: bool) {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    chmod(&env.home, mode);
    let report = env.installer().install();
    let (code, status) = env.status_json();
    let home = status.check("home").unwrap();
    if refused {
        match report.outcome(Step::GitConfig) {
            Some(Outcome::Failed(why)) => assert!(why.contains("chmod o-w"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(env.git_helpers().is_empty(), "{:?}", env.git_helpers());
        assert_eq!(home.level, Level::Fail, "{home:?}");
        assert_eq!(code, 1);
    } else {
        assert!(
            matches!(report.outcome(Step::GitConfig), Some(Outcome::Changed(_))),
            "{report}"
        );
        assert!(
            report.warnings.iter().any(|w| w.contains("writable")),
            "{report}"
        );
        assert_eq!(home.level, Level::Warn, "{home:?}");
    }
}

/// After a runtime dir is tightened, everything in it is ours or gone: a
/// log, lock, PID or settings file another user planted is replaced, never
/// reused; our own lock files are 0600, so no other user can hold them.
#[test]
fn planted_runtime_files_are_replaced_and_locks_are_private() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let runtime = env.layout().runtime_dir;
    std::fs::create_dir_all(&runtime).unwrap();
    chmod(&runtime, 0o777);
    let planted = [
        "refresh-daemon.log",
        "install.lock",
        "supervisor.lock",
        "gh-login.lock",
        "refresh-daemon.pid",
        "settings",
    ];
    for name in planted {
        let path = runtime.join(name);
        std::fs::write(&path, "PLATFORM_URL=http://evil.example\nforged\n").unwrap();
        chmod(&path, 0o666);
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let report = env.installer().install();
    assert!(report.failed_steps().is_empty(), "{report}");
    assert!(env.fill().status.success());
    for name in planted {
        let path = runtime.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // gone is fine too
        };
        assert_eq!(meta.uid(), 0, "{name} is still the other user's");
        assert_eq!(meta.mode() & 0o777, 0o600, "{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.contains("forged") && !text.contains("evil"),
            "{name}: {text}"
        );
    }
    // uid 65534 cannot even open our lock to hold it (it was 0644).
    let held = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "flock",
            "-n",
            "-s",
        ])
        .arg(env.layout().install_lock)
        .arg("true")
        .output()
        .unwrap();
    assert!(!held.status.success(), "uid 65534 could lock install.lock");
}

/// Each of these keys is what git's normalisation makes of
/// `https://github.com` (or a path above `o/r.git`): with its own reset,
/// its helper answers instead of ours. The real git decides it here, and
/// status must say the same; a key git does not match leaves ours first.
#[rstest::rstest]
#[case::escaped_path("https://github.com/%6f", true)]
#[case::escaped_host("https://%67ithub.com", true)]
#[case::escaped_dot("https://github%2ecom", true)]
#[case::trailing_dot("https://github.com./", true)]
#[case::dot_dot("https://github.com/x/../o", true)]
#[case::dot("https://github.com/./o", true)]
#[case::empty_port("https://github.com:", true)]
#[case::empty_port_slash("https://github.com:/", true)]
#[case::other_host("https://gitlab.com", false)]
#[case::other_path("https://github.com/other", false)]
#[case::other_port("https://github.com:8443", false)]
#[case::user("https://someone@github.com", false)]
fn status_replays_gits_url_normalisation(#[case] url: &str, #[case] git_matches: bool) {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let key = format!("credential.{url}.helper");
    env.git()
        .args(["config", "--global", "--add", &key, ""])
        .ok();
    env.git()
        .args([
            "config",
            "--global",
            "--add",
            &key,
            "!f() { echo username=x; echo password=not-ours; }; f",
        ])
        .ok();
    // What git itself does, for status's probe URL.
    let fill = env
        .git()
        .args(["credential", "fill"])
        .stdin("protocol=https\nhost=github.com\npath=o/r.git\n\n")
        .output();
    let theirs = password(&fill).as_deref() == Some("not-ours");
    assert_eq!(theirs, git_matches, "git's own verdict for {url}");
    // What status says.
    let (_, status) = env.status_json();
    let git_config = status.check("git-config").unwrap();
    assert_eq!(
        git_config.level == Level::Fail,
        git_matches,
        "{url}: {git_config:?}"
    );
}

/// `url.<base>.insteadOf` rewriting github.com sends git elsewhere: status
/// and the contract's replay see it.
#[test]
fn an_instead_of_rewrite_of_github_fails_status() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    env.git()
        .args([
            "config",
            "--global",
            "url.https://evil.example/.insteadOf",
            "https://github.com/",
        ])
        .ok();
    let (code, status) = env.status_json();
    let git_config = status.check("git-config").unwrap();
    assert_eq!(code, 1);
    assert!(
        git_config.level == Level::Fail && git_config.detail.contains("evil.example"),
        "{git_config:?}"
    );
}

/// Reading git's request is linear in its size. Scale-free: 16 times the
/// lines must cost far less than 16² times the time (the old reader copied
/// the rest of the input once per line: 16,000 lines took ~3.8 s, 1,000 a
/// few ms over bash's start-up; linear reading takes ~0.2 s). The best of
/// three runs each, so a busy machine does not decide it.
#[test]
fn a_long_request_is_read_in_linear_time() {
    let env = TestEnv::new();
    let best_of_three = |lines: usize| {
        let input = "k=v\n".repeat(lines) + "protocol=https\nhost=github.com\n\n";
        assert!(input.len() < 65_536);
        (0..3)
            .map(|_| {
                let started = std::time::Instant::now();
                let out = env
                    .bundled_helper("get")
                    .stdin(input.as_bytes())
                    .output_within(Duration::from_secs(30));
                assert!(password(&out).is_some(), "{}", stderr(&out));
                started.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let small = best_of_three(1_000);
    let large = best_of_three(16_000);
    assert!(
        large / small < 40.0,
        "16x the lines took {:.1}x the time ({large:.2} s against {small:.3} s): quadratic",
        large / small
    );
}

/// No child inherits a lock: curl runs with the fetch lock closed, gh with
/// the gh-login lock closed (a long-lived child of gh must not hold it).
#[test]
fn children_inherit_no_lock_descriptor() {
    let env = TestEnv::new();
    let fds_of = |name: &str| env.dir.path().join(format!("{name}.fds"));
    // Wrappers that record their open descriptors' targets, then run the
    // real tool (curl) or stand in for gh.
    let real_curl = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v curl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    write_executable(
        &env.bin.join("curl"),
        &format!(
            "#!/bin/bash\nls -l /proc/$$/fd > {}\nexec {} \"$@\"\n",
            fds_of("curl").display(),
            real_curl.trim()
        ),
    );
    write_executable(
        &env.bin.join("gh"),
        &format!(
            "#!/bin/bash\nls -l /proc/$$/fd > {}\ncat >/dev/null\nexit 0\n",
            fds_of("gh").display()
        ),
    );
    std::fs::create_dir_all(env.layout().runtime_dir).unwrap();
    let out = env.bundled_helper("_refresh_gh").output();
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["curl", "gh"] {
        let fds = std::fs::read_to_string(fds_of(name)).unwrap();
        assert!(!fds.contains(".lock"), "{name} inherited a lock: {fds}");
    }
}

/// Outside text reaching stderr or the log has C1 controls and Unicode
/// bidi overrides removed, not only C0.
#[test]
fn c1_controls_and_bidi_overrides_are_removed_from_outside_text() {
    let body = "{\"error\":\"a\u{9b}31mred \u{202e}desrever\u{2066}x\u{2069} \u{200f}end\"}";
    let out = fetch_from_a_500(body.as_bytes());
    let err = stderr(&out);
    // Each sequence shows as `?`: the text keeps its shape, without its effect.
    assert!(err.contains("a?31mred ?desrever?x? ?end"), "{err}");
    for bad in ['\u{9b}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200f}'] {
        assert!(!err.contains(bad), "{bad:?} in {err:?}");
    }
}

/// The supervisor's SIGTERM handler reads the PID file only when it is a
/// regular file: a FIFO planted there must not hang it.
#[test]
fn a_fifo_pid_file_does_not_hang_the_supervisors_sigterm() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    assert!(env.installer().install().failed_steps().is_empty());
    let pid: i32 = env.supervisor_pid();
    // Its SIGTERM trap is set once it has logged its start.
    assert!(wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(env.layout().log_file)
            .is_ok_and(|l| l.contains(&format!("supervisor {pid} started")))
    }));
    std::fs::remove_file(env.layout().pid_file).unwrap();
    nix::unistd::mkfifo(
        &env.layout().pid_file,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || !crate::support::procs::alive(
            pid
        )),
        "the supervisor hung on its SIGTERM"
    );
}

/// The reply grammar is strict JSON: the audit's lenient cases, each a
/// failed fetch (nothing cached, the env fallback served).
#[rstest::rstest]
#[case::key_in_error(r#"{"error":"token":"TOKEN"}"#)]
#[case::string_then_key(r#"{"x":"token" :"TOKEN"}"#)]
#[case::trailing_comma(r#"{"token":"TOKEN","expires_at":"2099-01-01T00:00:00Z",}"#)]
#[case::trailing_data(r#"{"token":"TOKEN","expires_at":"2099-01-01T00:00:00Z"} x"#)]
#[case::two_objects(r#"{"token":"TOKEN"}{"token":"TOKEN"}"#)]
#[case::bare_word(r#"{"token":"TOKEN","expires_at":"2099-01-01T00:00:00Z","x":tru}"#)]
#[case::single_quotes(r#"{'token':'TOKEN'}"#)]
#[case::unterminated(r#"{"token":"TOKEN"#)]
#[case::raw_newline_in_string("{\"token\":\"TOK\nEN\"}")]
#[case::bad_escape(r#"{"token":"TOKEN","note":"\q"}"#)]
#[case::number_leading_zero(r#"{"token":"TOKEN","n":01}"#)]
#[case::array_top(r#"[{"token":"TOKEN"}]"#)]
#[case::space_in_a_number(r#"{"token":"TOKEN","n":1 2}"#)]
#[case::space_in_a_literal("{\"token\":\"TOKEN\",\"n\":t r\tue}")]
#[case::cr_in_a_number("{\"token\":\"TOKEN\",\"n\":-\r1}")]
#[case::nul_in_a_key("{\"tok\u{0}en\":\"TOKEN\"}")]
fn a_reply_that_is_not_strict_json_is_a_failed_fetch(#[case] body: &str) {
    let body = body.replace("TOKEN", token(41));
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    env.set("GITHUB_TOKEN", token(42));
    let out = env.direct_get();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(42)),
        "{}",
        stderr(&out)
    );
    assert!(!env.layout().cache_token.exists());
}

/// And valid JSON in any shape is read: whitespace, key order, nesting,
/// escapes elsewhere, numbers, literals.
#[rstest::rstest]
#[case::plain(r#"{"token":"TOKEN","expires_at":"2099-01-01T00:00:00Z"}"#)]
#[case::spaced("\n { \"expires_at\" : \"2099-01-01T00:00:00Z\" ,\r\n\t\"token\" : \"TOKEN\" } \n")]
#[case::nested(r#"{"meta":{"token":"not this","a":[1,-2.5e3,true,null,{"b":"\"\\\u0041"}]},"token":"TOKEN","expires_at":"2099-01-01T00:00:00Z"}"#)]
fn valid_json_in_any_shape_is_read(#[case] body: &str) {
    let body = body.replace("TOKEN", token(43));
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let server = RawServer::start(reply.as_bytes(), Duration::ZERO);
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    let out = env.direct_get();
    assert_eq!(
        password(&out).as_deref(),
        Some(token(43)),
        "{}",
        stderr(&out)
    );
}

/// A directory above HOME that every user can write (not sticky) lets
/// anyone rename HOME away: refused, and status fails.
#[test]
fn a_writable_directory_above_home_is_refused() {
    let env = TestEnv::builder().home_name("parent/home").build();
    let _guard = SupervisorGuard::new(&env.home);
    chmod(env.home.parent().unwrap(), 0o777);
    let report = env.installer().install();
    match report.outcome(Step::GitConfig) {
        Some(Outcome::Failed(why)) => assert!(why.contains("above your home"), "{why}"),
        other => panic!("{other:?}\n{report}"),
    }
    let (code, status) = env.status_json();
    assert_eq!(code, 1);
    assert_eq!(status.check("home").unwrap().level, Level::Fail);
}

/// git's own config files decide which helper git runs: another user's
/// `~/.gitconfig` (or `~/.config/git`) is refused; one of ours that others
/// can write is tightened by install and failed by status.
#[test]
fn gits_config_files_must_be_ours_and_private() {
    // Another user's ~/.gitconfig, planted before install.
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let gitconfig = env.home.join(".gitconfig");
    std::fs::write(&gitconfig, "").unwrap();
    chmod(&gitconfig, 0o666);
    std::os::unix::fs::chown(&gitconfig, Some(NOBODY), Some(NOBODY)).unwrap();
    let report = env.installer().install();
    match report.outcome(Step::GitConfig) {
        Some(Outcome::Failed(why)) => assert!(why.contains(".gitconfig"), "{why}"),
        other => panic!("{other:?}\n{report}"),
    }
    // Ours, but writable by others: tightened, and status agrees after.
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let xdg = env.home.join(".config/git");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::write(xdg.join("config"), "").unwrap();
    chmod(&xdg.join("config"), 0o666);
    let (_, before) = env.status_json();
    let report = env.installer().install();
    assert!(report.failed_steps().is_empty(), "{report}");
    assert_eq!(crate::support::mode(&xdg.join("config")), 0o644);
    let (_, after) = env.status_json();
    assert_eq!(after.check("home").unwrap().level, Level::Ok, "{after:?}");
    // Before install status said so (the not-installed line comes first
    // only for a home with nothing of ours: here the cache dir is absent).
    let _ = before;
    chmod(&xdg.join("config"), 0o666);
    let (code, status) = env.status_json();
    assert_eq!(code, 1);
    let home = status.check("home").unwrap();
    assert!(
        home.level == Level::Fail && home.detail.contains("config"),
        "{home:?}"
    );
}

/// A directory another user planted under one of our file names (in a
/// runtime dir they could write) cannot be emptied by us: it is moved
/// aside, and install works, again and again.
#[test]
fn a_planted_directory_under_our_name_is_moved_aside() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let runtime = env.layout().runtime_dir;
    std::fs::create_dir_all(runtime.join("supervisor.lock/inner")).unwrap();
    std::fs::create_dir_all(runtime.join("settings")).unwrap();
    chmod(&runtime, 0o777);
    for report in [env.installer().install(), env.installer().install()] {
        assert!(report.failed_steps().is_empty(), "{report}");
    }
    assert!(std::fs::symlink_metadata(runtime.join("supervisor.lock"))
        .unwrap()
        .is_file());
    assert!(std::fs::symlink_metadata(runtime.join("settings"))
        .unwrap()
        .is_file());
}

/// Nested sequences: removing an inner C1 or bidi sequence must not join
/// the outer bytes into a new one (the audit's bypass of a one-pass
/// filter). Checked on the raw bytes git would show.
#[test]
fn nested_c1_and_bidi_sequences_do_not_reassemble() {
    let body: &[u8] =
        b"{\"error\":\"A\xc2\xc2\x9b\x9b31m B\xe2\x80\xe2\x80\xae\xae C\xe2\x81\xe2\x81\xa6\xa6 D\"}";
    let out = fetch_from_a_500(body);
    let err = &out.stderr;
    assert!(
        String::from_utf8_lossy(err).contains("HTTP 500"),
        "{}",
        stderr(&out)
    );
    for bad in [&b"\xc2\x9b"[..], b"\xe2\x80\xae", b"\xe2\x81\xa6"] {
        assert!(
            !err.windows(bad.len()).any(|w| w == bad),
            "{bad:?} in {:?}",
            String::from_utf8_lossy(err)
        );
    }
}

/// `_fetch_token` against a platform that answers 500 with `body`.
fn fetch_from_a_500(body: &[u8]) -> std::process::Output {
    let mut reply = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(body);
    let server = RawServer::start(&reply, Duration::ZERO);
    let mut env = TestEnv::builder().no_platform().build();
    env.set("PLATFORM_URL", &server.url());
    env.bundled_helper("_fetch_token").output()
}
