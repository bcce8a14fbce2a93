//! Settings every process sees, one judge of them, and failures that say
//! why: git in a shell that never saw the runtime's environment works with
//! what install saw; install, status and git agree on every broken setting;
//! the failure line says since when and what to run; tokens are named only
//! by GitHub's audit-log fingerprint.

use std::path::Path;
use std::process::Command;

use molecule_credential_helper::report::InstallReport;
use molecule_credential_helper::settings::Source;
use molecule_credential_helper::status::{Level, StatusReport};
use molecule_credential_helper::testing::FakeProcess;

use crate::support::procs::SupervisorGuard;
use crate::support::{
    bare, bare_fill, password, path_with, stderr, stdout, token, TestCommand, TestEnv,
};

fn install_json(cmd: &mut TestCommand, home: &Path) -> InstallReport {
    let out = cmd.args(["install", "--json", "--home"]).arg(home).output();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn status_json(cmd: &mut TestCommand, home: &Path) -> (i32, StatusReport) {
    let out = cmd.args(["status", "--json", "--home"]).arg(home).output();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn git_in_a_shell_without_the_runtimes_environment_uses_the_settings_install_saw() {
    let env = TestEnv::builder().var("WORKSPACE_ID", "ws-42").build();
    let _guard = SupervisorGuard::new(&env.home);
    let first = install_json(&mut env.bin(), &env.home);
    assert!(first.failed_steps().is_empty(), "{first}");
    assert!(
        !first.warnings.iter().any(|w| w.starts_with("settings")),
        "{first}"
    );
    assert!(first.problems.is_empty(), "{first}");
    let saved = std::fs::read_to_string(env.layout().settings_file).unwrap();
    assert!(saved.contains("\nWORKSPACE_ID=ws-42\n"), "{saved}");
    assert_eq!(crate::support::mode(&env.layout().settings_file), 0o600);

    let out = bare_fill(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    let issued = env.issued_tokens();
    assert_eq!(password(&out).as_deref(), issued.last().map(String::as_str));
    assert_eq!(
        env.platform().routes(),
        ["/workspaces/ws-42/github-installation-token"]
    );

    // status, from that bare shell too, lists where each setting came from.
    let (code, report) = status_json(
        &mut bare(&env, env!("CARGO_BIN_EXE_molecule-credential-helper")),
        &env.home,
    );
    assert_eq!(code, 0, "{report:?}");
    let settings = report.check("settings").unwrap();
    assert_eq!(settings.level, Level::Ok, "{settings:?}");
    let source = |name: &str| {
        report
            .settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.source, s.value.clone()))
    };
    assert_eq!(
        source("WORKSPACE_ID"),
        Some((Source::Install, "ws-42".into()))
    );
    assert_eq!(
        source("TOKEN_CACHE_TTL_SEC"),
        Some((Source::Default, "3000".into()))
    );
    // ... and in the runtime's own environment, the same values come from env.
    let (_, report) = status_json(&mut env.bin(), &env.home);
    assert_eq!(
        report
            .settings
            .iter()
            .find(|s| s.name == "WORKSPACE_ID")
            .map(|s| s.source),
        Some(Source::Env)
    );

    // Re-install with unchanged settings changes nothing (gh alone moves
    // on: the fill above cached a fresher token for it); uninstall removes
    // the file.
    let second = install_json(&mut env.bin(), &env.home);
    for step in &second.steps[..4] {
        assert_eq!(step.outcome.label(), "unchanged", "{second}");
    }
    env.bin().args(["uninstall", "--home"]).arg(&env.home).ok();
    assert!(!env.layout().settings_file.exists());
}

/// The environment wins over the saved file, value by value; userinfo in
/// PLATFORM_URL is never shown.
#[test]
fn the_environment_wins_and_userinfo_is_redacted() {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let url = env
        .platform()
        .url()
        .replace("http://", "http://user:pw-9c1e@");
    env.set("PLATFORM_URL", &url);
    install_json(&mut env.bin(), &env.home);
    let saved = std::fs::read_to_string(env.layout().settings_file).unwrap();
    assert!(saved.contains("pw-9c1e"), "the file keeps what git needs");
    let bare_status = stdout(
        &bare(&env, env!("CARGO_BIN_EXE_molecule-credential-helper"))
            .args(["status", "--home"])
            .arg(&env.home)
            .output(),
    );
    assert!(!bare_status.contains("pw-9c1e"), "{bare_status}");
    assert!(
        bare_status.contains("install  http://***@127.0.0.1:"),
        "{bare_status}"
    );
    let mut status = env.bin();
    status.env("TOKEN_CACHE_TTL_SEC", "1234");
    let out = status.args(["status", "--home"]).arg(&env.home).output();
    let text = stdout(&out);
    assert!(!text.contains("pw-9c1e"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("PLATFORM_URL").starts_with("PLATFORM_URL env http://***@127.0.0.1:"),
        "{text}"
    );
    assert_eq!(
        line("TOKEN_CACHE_TTL_SEC"),
        "TOKEN_CACHE_TTL_SEC env 1234",
        "{text}"
    );
    let saved = std::fs::read_to_string(env.layout().settings_file).unwrap();
    assert!(!saved.contains("TOKEN_CACHE_TTL_SEC"), "{saved}");
}

/// A password with an unencoded `/`, `?` or `#` (generated secrets have
/// them) is hidden all the same, in status, the helper's lines and the
/// failure record.
#[rstest::rstest]
#[case::slash("u:se/cret-81f2")]
#[case::question("u:se?cret-81f2")]
#[case::hash("u:se#cret-81f2")]
fn a_password_with_url_characters_is_never_shown(#[case] userinfo: &str) {
    let mut env = TestEnv::builder().no_platform().build();
    let _guard = SupervisorGuard::new(&env.home);
    env.set("PLATFORM_URL", &format!("http://{userinfo}@127.0.0.1:9/x"));
    env.installer().install();
    let status = stdout(&env.bin().args(["status", "--home"]).arg(&env.home).output());
    let fill = env.fill();
    let failure = std::fs::read_to_string(env.layout().cache_dir.join(".last_fetch_failure"))
        .unwrap_or_default();
    for (what, text) in [
        ("status", status.as_str()),
        ("git's stderr", &stderr(&fill)),
        ("failure record", &failure),
    ] {
        assert!(!text.contains("cret-81f2"), "{what}: {text}");
    }
}

/// Each broken setting: install's report warns, `status` fails its
/// `settings` check naming the setting (text and JSON alike), and git
/// agrees: where the settings stop it, no platform request is sent. (The
/// platform here is http: a bad `HTTPS_PROXY` or CA file is named, and git
/// still gets a token; a bad `HTTP_PROXY` sends no request.)
#[rstest::rstest]
#[case::workspace_id("WORKSPACE_ID", "../..", Broken::Var, false)]
#[case::platform_url("PLATFORM_URL", "not a url", Broken::Var, false)]
#[case::https_without_curl("PLATFORM_URL", "https://127.0.0.1:9", Broken::NoCurl, false)]
#[case::bearer_missing("CONFIGS_DIR", "", Broken::BearerMissing, false)]
#[case::bearer_empty("CONFIGS_DIR", "", Broken::BearerEmpty, false)]
#[case::bearer_not_a_file("CONFIGS_DIR", "", Broken::BearerDir, false)]
#[case::ttl_word("TOKEN_CACHE_TTL_SEC", "abc", Broken::Var, true)]
#[case::ttl_code("TOKEN_CACHE_TTL_SEC", "a[$(touch pwned)]", Broken::Var, true)]
#[case::fetch_client("TOKEN_FETCH_CLIENT", "wget", Broken::Var, true)]
#[case::server_url_http("GITHUB_SERVER_URL", "http://github.com", Broken::Var, false)]
#[case::server_url_path("GITHUB_SERVER_URL", "https://github.com/o", Broken::Var, false)]
#[case::proxy_without_scheme("HTTP_PROXY", "127.0.0.1:3128", Broken::Var, false)]
#[case::proxy_lower_case_path("http_proxy", "http://u:pw@127.0.0.1:3128/x", Broken::Var, false)]
#[case::proxy_of_the_other_scheme("HTTPS_PROXY", "socks9://127.0.0.1", Broken::Var, true)]
#[case::proxy_without_curl("HTTP_PROXY", "http://127.0.0.1:9", Broken::NoCurl, false)]
#[case::no_proxy("no_proxy", "a;b", Broken::Var, true)]
#[case::ca_relative("PLATFORM_CA_FILE", "ca.pem", Broken::Var, true)]
#[case::ca_missing("PLATFORM_CA_FILE", "/nonexistent/ca.pem", Broken::Var, true)]
#[case::ca_not_a_file("PLATFORM_CA_FILE", "/", Broken::Var, true)]
fn every_broken_setting_is_named_by_install_status_and_git(
    #[case] var: &str,
    #[case] value: &str,
    #[case] broken: Broken,
    #[case] git_still_gets_a_platform_token: bool,
) {
    let mut env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    match broken {
        Broken::Var => env.set(var, value),
        Broken::NoCurl => {
            env.set(var, value);
            let path = path_with(
                &env,
                "no-curl",
                &[
                    "git",
                    "bash",
                    "flock",
                    "env",
                    "timeout",
                    "stat",
                    "mv",
                    "mkdir",
                    "rm",
                    "sleep",
                    "sha256sum",
                    "base64",
                ],
            );
            env.set("PATH", &format!("{}:{}", env.bin.display(), path.display()));
        }
        Broken::BearerMissing => std::fs::remove_file(env.configs.join(".auth_token")).unwrap(),
        Broken::BearerEmpty => std::fs::write(env.configs.join(".auth_token"), "").unwrap(),
        Broken::BearerDir => {
            std::fs::remove_file(env.configs.join(".auth_token")).unwrap();
            std::fs::create_dir(env.configs.join(".auth_token")).unwrap();
        }
    }
    let report = install_json(&mut env.bin(), &env.home);
    let warned: Vec<&String> = report
        .problems
        .iter()
        .filter(|w| w.starts_with(&format!("settings: {var}")))
        .collect();
    assert_eq!(warned.len(), 1, "{report}");
    assert!(warned[0].contains("fix:"), "{warned:?}");
    assert!(!warned[0].contains("curl exit"), "{warned:?}");

    let (code, json) = status_json(&mut env.bin(), &env.home);
    assert_eq!(code, 1, "{json:?}");
    let check = json.check("settings").unwrap();
    assert_eq!(check.level, Level::Fail, "{check:?}");
    assert!(check.detail.starts_with(&format!("{var}:")), "{check:?}");
    assert_eq!(&check.detail, warned[0].strip_prefix("settings: ").unwrap());

    let text_out = env.bin().args(["status", "--home"]).arg(&env.home).output();
    assert_eq!(text_out.status.code(), Some(1));
    let text = stdout(&text_out);
    let line = text.lines().find(|l| l.contains(" settings ")).unwrap();
    assert!(line.starts_with("fail") && line.contains(var), "{text}");

    // git, asked in the same environment, agrees with the verdict.
    let fill = env.fill();
    assert_eq!(
        env.platform().requests() > 0,
        git_still_gets_a_platform_token,
        "{}",
        stderr(&fill)
    );
    assert!(!env.dir.path().join("pwned").exists());
}

#[derive(Debug, Clone, Copy)]
enum Broken {
    Var,
    NoCurl,
    BearerMissing,
    BearerEmpty,
    BearerDir,
}

/// Writes a cache whose token expired at `expires_at` (epoch seconds).
fn write_expired_cache(env: &TestEnv, token: &str, expires_at: u64) {
    env.write_cache(
        Some(&format!("{token}\ng1\n")),
        Some(&format!("{}\n{expires_at}\ng1\n", expires_at - 300)),
    );
}

/// When every source fails, git's one line says what failed, since when
/// (the first failure of this outage, kept across attempts), when the last
/// token expired, and what to run; never a token. A failure remembered for
/// another URL is not reported for this one.
#[test]
fn the_failure_line_says_what_since_when_and_what_to_run() {
    // Nothing listens on port 9 of 127.0.0.1: the platform is down.
    let env = TestEnv::builder().no_platform().build();
    let stale = token(31);
    // 2026-01-01T00:00:00Z
    write_expired_cache(&env, stale, 1_767_225_600);
    let failure = env.layout().cache_dir.join(".last_fetch_failure");
    // An outage that began at 2026-01-02T00:00:00Z, last seen long ago.
    std::fs::write(
        &failure,
        format!(
            "1767312000\nconnection refused\n1767312000\nhttp://127.0.0.1:9  {}\n",
            env.configs.display()
        ),
    )
    .unwrap();
    let out = env.direct_get();
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    let line = err.lines().find(|l| l.contains("no GitHub token")).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in [
        "connection refused",
        "failing since 2026-01-02T00:00:00Z",
        "the last token expired 2026-01-01T00:00:00Z",
        "transient failure, fix: the platform is unreachable or failing",
        "`molecule-credential-helper status` says the same",
    ] {
        assert!(line.contains(part), "{part:?} not in {line}");
    }
    assert!(!err.contains(stale));

    // The same record for another URL: not this outage.
    std::fs::write(
        &failure,
        "1767312000\nHTTP 500\n1767312000\nhttp://elsewhere.example:1\n",
    )
    .unwrap();
    let line = stderr(&env.direct_get());
    assert!(!line.contains("failing since 2026-01-02"), "{line}");
    assert!(!line.contains("HTTP 500"), "{line}");
}

/// A failure of another URL, however recent, is never served to waiters as
/// this URL's result.
#[test]
fn a_recent_failure_of_another_url_is_not_reused() {
    let env = TestEnv::new();
    let layout = env.layout();
    env.write_cache(None, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(
        layout.cache_dir.join(".last_fetch_failure"),
        format!("{now}\nHTTP 500\n{now}\nhttp://elsewhere.example:1\n"),
    )
    .unwrap();
    let out = env.direct_get();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.platform().requests(), 1);
}

fn openssl_fingerprint(token: &str) -> String {
    let mut c = Command::new("sh");
    c.args(["-c", "openssl dgst -sha256 -binary | base64"]);
    let mut c = TestCommand::wrap(c);
    c.stdin(token.as_bytes());
    let out = c.ok();
    stdout(&out).trim().to_string()
}

/// Tokens are named by GitHub's audit-log `hashed_token` (base64 of
/// SHA-256), checked against openssl: in the daemon log for every fetch and
/// in status for the cached one. The token itself appears in no log, report
/// or status output.
#[test]
fn fingerprints_are_githubs_hashed_token_and_tokens_appear_nowhere() {
    let env = TestEnv::new();
    let _guard = SupervisorGuard::new(&env.home);
    let install = env
        .bin()
        .args(["install", "--json", "--home"])
        .arg(&env.home)
        .ok();
    let log_file = env.layout().log_file;
    for _ in 0..2 {
        let out = env.helper("_fetch_token").ok();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log_file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &out.stderr))
            .unwrap();
    }
    let issued = env.issued_tokens();
    assert_eq!(issued.len(), 2);
    let log = std::fs::read_to_string(&log_file).unwrap();
    for t in &issued {
        let expected = openssl_fingerprint(t);
        assert_eq!(expected, molecule_credential_helper::secret::fingerprint(t));
        assert!(
            log.contains(&format!(
                "fetched a fresh token into the cache (hashed_token {expected})"
            )),
            "{log}"
        );
    }
    let text = stdout(&env.bin().args(["status", "--home"]).arg(&env.home).output());
    let json = stdout(
        &env.bin()
            .args(["status", "--json", "--home"])
            .arg(&env.home)
            .output(),
    );
    let cached = openssl_fingerprint(issued.last().unwrap());
    let line = text.lines().find(|l| l.contains("cached-token")).unwrap();
    assert!(line.contains(&format!("hashed_token {cached}")), "{text}");
    for t in &issued {
        for (what, s) in [
            ("log", log.as_str()),
            ("status", text.as_str()),
            ("status --json", json.as_str()),
            ("install report", &stdout(&install)),
        ] {
            assert!(!s.contains(t.as_str()), "the token is in the {what}");
        }
    }
}

/// Right after install the supervisor may not have forked its daemon yet:
/// that is `starting`, not "between respawns", which needs a daemon exit
/// logged by this supervisor.
#[rstest::rstest]
#[case::nothing_logged("", "daemon starting", Level::Ok)]
#[case::started("supervisor 77 started\n", "daemon starting", Level::Ok)]
#[case::an_older_supervisors_exit(
    "supervisor 5 started\ndaemon exited (1); respawning in 30s\nsupervisor 77 started\n",
    "daemon starting",
    Level::Ok
)]
#[case::exited(
    "supervisor 77 started\ndaemon exited (1); respawning in 30s\n",
    "between respawns",
    Level::Warn
)]
fn a_supervisor_without_a_daemon_is_starting_until_one_exited(
    #[case] log: &str,
    #[case] says: &str,
    #[case] level: Level,
) {
    let world = molecule_credential_helper::testing::FakeSystem::new();
    let installer = crate::support::fake_installer(&world, &[]);
    let layout = installer.config.layout.clone();
    let mut supervisor: FakeProcess = crate::support::our_supervisor(&layout);
    supervisor.sid = Some(77);
    world.add_process(77, supervisor);
    world.add_file(&layout.pid_file, "77\n", 0o600);
    let lines: String = log
        .lines()
        .map(|l| format!("[molecule-gh-token-refresh] 2026-12-01T00:00:00Z {l}\n"))
        .collect();
    world.add_file(&layout.log_file, lines, 0o600);
    world.add_file(&layout.helper_script, "x", 0o755);
    let report = molecule_credential_helper::status::status(
        &world,
        &world,
        &world,
        &world,
        &installer.config,
        None,
    );
    let daemon = report.check("daemon").unwrap();
    assert!(daemon.detail.contains(says), "{daemon:?}");
    assert_eq!(daemon.level, level, "{daemon:?}");
}
