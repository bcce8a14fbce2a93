//! Proxies and a private CA (issue 27): `HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY` (either case) and `PLATFORM_CA_FILE` reach curl for the
//! platform call, are saved with the settings (a `docker exec` shell with
//! an empty environment gets them from the file), are judged by the
//! helper's `_check_settings`, and a proxy's password is shown nowhere.
//!
//! The world: an https platform (a fake platform behind TLS whose
//! certificate comes from a CA made for the test) and a CONNECT proxy,
//! both on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;
use molecule_credential_helper::report::InstallReport;
use molecule_credential_helper::settings::Source;
use molecule_credential_helper::status::{Level, StatusReport};
use molecule_credential_helper::testing::FakeMode;

use crate::support::connect_proxy::ConnectProxy;
use crate::support::procs::SupervisorGuard;
use crate::support::tls_front::TlsFront;
use crate::support::{
    bare, bare_fill, password, repo_script, stderr, stdout, RefusedPort, TestCommand, TestEnv,
    TestEnvBuilder,
};

/// Every variable of the proxies and the CA, in either case (written out:
/// the test must not take the product's list on trust).
const PROXY_AND_CA_VARIABLES: [&str; 7] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "PLATFORM_CA_FILE",
];

/// The proxy's credentials: they must reach the proxy and nothing else.
const PROXY_USER: &str = "agent";
const PROXY_PASSWORD: &str = "pr0xy-9f3e71";

fn userinfo() -> String {
    format!("{PROXY_USER}:{PROXY_PASSWORD}")
}

/// An https platform with a private CA, a CONNECT proxy, and a test env
/// whose PLATFORM_URL is the https one.
struct World {
    env: TestEnv,
    front: TlsFront,
    proxy: ConnectProxy,
}

impl World {
    fn new(builder: TestEnvBuilder) -> World {
        let mut env = builder.build();
        let front = TlsFront::start(
            env.platform().addr(),
            &env.dir.path().join("platform-ca.pem"),
        );
        let proxy = ConnectProxy::start();
        env.set("PLATFORM_URL", &front.url());
        World { env, front, proxy }
    }

    fn ca(&self) -> String {
        self.front.ca_pem.display().to_string()
    }

    /// The proxy's URL, with the test's credentials.
    fn proxy_url(&self) -> String {
        self.proxy.url(Some(&userinfo()))
    }

    /// The CONNECT line curl sends for the platform.
    fn connect_line(&self) -> String {
        format!("CONNECT {} HTTP/1.1", self.front.addr)
    }

    /// Writes the settings file by hand (0600), as install would.
    fn save_settings(&self, pairs: &[(&str, &str)]) {
        let file = self.env.layout().settings_file;
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let mut text = String::from("# test\n");
        for (k, v) in pairs {
            text.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }

    /// The settings git needs besides the proxy and the CA, for a file.
    fn base_settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PLATFORM_URL", self.front.url()),
            ("CONFIGS_DIR", self.env.configs.display().to_string()),
        ]
    }
}

/// The repo's helper answering `get` in a bare shell.
fn bare_get(env: &TestEnv) -> Output {
    bare(env, "bash")
        .arg(repo_script("molecule-git-token-helper.sh"))
        .arg("get")
        .stdin("protocol=https\nhost=github.com\n\n")
        .output()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_molecule-credential-helper")
}

fn install(env: &TestEnv) -> InstallReport {
    let out = env
        .bin()
        .args(["install", "--json", "--home"])
        .arg(&env.home)
        .output();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn status_json(cmd: &mut TestCommand, home: &Path) -> StatusReport {
    let out = cmd.args(["status", "--json", "--home"]).arg(home).output();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)))
}

fn setting(report: &StatusReport, name: &str) -> Option<(Source, String)> {
    report
        .settings
        .iter()
        .find(|s| s.name == name)
        .map(|s| (s.source, s.value.clone()))
}

/// What the proxy must have seen: the test's credentials, as curl sends them.
fn proxy_authorization() -> String {
    format!(
        "Proxy-Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(userinfo())
    )
}

/// The whole path, from a shell with an empty environment: install saves
/// the proxy, NO_PROXY and the CA with the other settings; the first
/// daemon (whose environment holds no settings: the file decides) and then
/// `git credential fill` in `env -i HOME=… PATH=…` get the platform's token
/// through the proxy (one CONNECT each, with the proxy's credentials),
/// trusting the private CA. status, from that shell too, lists the three
/// as saved at install, the proxy's password redacted (text and JSON), and
/// neither it nor the daemon log holds the password.
#[test]
fn a_bare_shell_gets_the_platform_token_through_the_proxy_trusting_the_private_ca() {
    let mut w = World::new(TestEnv::builder());
    let _guard = SupervisorGuard::new(&w.env.home);
    let (proxy_url, ca) = (w.proxy_url(), w.ca());
    w.env.set("HTTPS_PROXY", &proxy_url);
    w.env.set("NO_PROXY", "example.invalid,.corp.invalid");
    w.env.set("PLATFORM_CA_FILE", &ca);
    let report = install(&w.env);
    assert!(report.failed_steps().is_empty(), "{report}");
    assert!(
        !report.warnings.iter().any(|w| w.starts_with("settings")),
        "{report}"
    );
    let saved = std::fs::read_to_string(w.env.layout().settings_file).unwrap();
    for line in [
        format!("\nHTTPS_PROXY={proxy_url}\n"),
        "\nNO_PROXY=example.invalid,.corp.invalid\n".into(),
        format!("\nPLATFORM_CA_FILE={ca}\n"),
    ] {
        assert!(saved.contains(&line), "{line:?} not in {saved}");
    }

    // The first daemon logs gh in with a platform token it fetched: through
    // the proxy, from the settings file.
    w.env.wait_for_daemon_gh_login();
    let log = std::fs::read_to_string(w.env.layout().log_file).unwrap();
    assert!(log.contains("install had none to give it"), "{log}");
    assert_eq!(w.proxy.connects(), [w.connect_line()], "{log}");
    // gh went out through the saved proxy too (the daemon's environment
    // has none): GitHub may be reachable only through it.
    assert!(
        w.env
            .gh_shim_log()
            .contains("proxies=HTTPS_PROXY NO_PROXY\n"),
        "{}",
        w.env.gh_shim_log()
    );

    // git in a bare shell, the cache dropped first: one more CONNECT.
    for file in [w.env.layout().cache_token, w.env.layout().cache_expiry] {
        std::fs::remove_file(file).unwrap();
    }
    let out = bare_fill(&w.env);
    assert!(out.status.success(), "{}", stderr(&out));
    let issued = w.env.issued_tokens();
    assert_eq!(issued.len(), 2);
    assert_eq!(password(&out).as_deref(), Some(issued[1].as_str()));
    assert_eq!(w.proxy.connects(), [w.connect_line(), w.connect_line()]);
    for head in w.proxy.heads() {
        assert!(head.contains(&proxy_authorization()), "{head}");
    }
    assert_eq!(w.env.platform().requests(), 2);

    // status from the bare shell: saved at install, the password redacted.
    let report = status_json(&mut bare(&w.env, bin()), &w.env.home);
    let check = report.check("settings").unwrap();
    assert_eq!(check.level, Level::Ok, "{check:?}");
    let shown_proxy = format!("http://***@{}", w.proxy.addr);
    assert_eq!(
        setting(&report, "HTTPS_PROXY"),
        Some((Source::Install, shown_proxy.clone()))
    );
    assert_eq!(
        setting(&report, "NO_PROXY"),
        Some((Source::Install, "example.invalid,.corp.invalid".into()))
    );
    assert_eq!(
        setting(&report, "PLATFORM_CA_FILE"),
        Some((Source::Install, ca.clone()))
    );
    assert_eq!(
        setting(&report, "HTTP_PROXY"),
        Some((Source::Default, "".into()))
    );
    let json = stdout(
        &bare(&w.env, bin())
            .args(["status", "--json", "--home"])
            .arg(&w.env.home)
            .output(),
    );
    let text = stdout(
        &bare(&w.env, bin())
            .args(["status", "--home"])
            .arg(&w.env.home)
            .output(),
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("HTTPS_PROXY"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(
        line,
        Some(format!("HTTPS_PROXY install {shown_proxy}")),
        "{text}"
    );
    let log = std::fs::read_to_string(w.env.layout().log_file).unwrap();
    for (what, s) in [
        ("status --json", json.as_str()),
        ("status", text.as_str()),
        ("the daemon log", log.as_str()),
        ("git's stderr", &stderr(&out)),
    ] {
        assert!(
            !s.contains(PROXY_PASSWORD),
            "the password is in {what}: {s}"
        );
    }
}

/// The CA file is what lets curl trust a platform whose certificate a
/// private CA signed: without it the fetch fails on the certificate (the
/// tunnel was made; the platform saw nothing), with it the same fetch
/// succeeds.
#[test]
fn without_the_ca_file_the_fetch_fails_on_the_certificate() {
    let mut w = World::new(TestEnv::builder());
    w.env.set("HTTPS_PROXY", &w.proxy.url(None));
    let out = w.env.bundled_helper("_fetch_token").fails();
    assert!(
        stderr(&out).contains("TLS with the platform failed (curl exit 60)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.proxy.connects(), [w.connect_line()]);
    assert_eq!(w.env.platform().requests(), 0);

    let ca = w.ca();
    w.env.set("PLATFORM_CA_FILE", &ca);
    let out = w.env.bundled_helper("_fetch_token").output();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.proxy.connects().len(), 2);
    assert_eq!(w.env.platform().requests(), 1);
}

/// A proxy that is down fails the fetch; no connection reaches the
/// platform around it, and the failure names the proxy, its password
/// redacted (git's stderr and the failure record alike). The proxy comes
/// from the settings file, read in a bare shell.
#[test]
fn with_the_proxy_down_the_fetch_fails_and_never_goes_around_it() {
    let w = World::new(TestEnv::builder());
    let down = RefusedPort::new();
    let proxy = format!("http://{}@127.0.0.1:{}", userinfo(), down.port);
    let mut pairs = w.base_settings();
    pairs.push(("HTTPS_PROXY", proxy));
    pairs.push(("PLATFORM_CA_FILE", w.ca()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&pairs);
    let out = bare_get(&w.env);
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "connection refused (with HTTPS_PROXY=http://***@127.0.0.1:{})",
            down.port
        )),
        "{err}"
    );
    assert_eq!(w.front.connections(), 0, "{err}");
    assert_eq!(w.env.platform().requests(), 0);
    let record = std::fs::read_to_string(w.env.layout().cache_dir.join(".last_fetch_failure"))
        .unwrap_or_default();
    for (what, s) in [("stderr", err.as_str()), ("failure record", &record)] {
        assert!(!s.contains(PROXY_PASSWORD), "{what}: {s}");
    }
}

/// NO_PROXY naming the platform's host (a name, an address or a CIDR
/// range; either case) sends the fetch around the proxy. install saves
/// the lower-case variables under the settings' names, and a bare shell
/// takes them from the file.
#[rstest::rstest]
#[case::upper("HTTPS_PROXY", "NO_PROXY", "127.0.0.1")]
#[case::lower("https_proxy", "no_proxy", "localhost, 127.0.0.1")]
#[case::cidr("https_proxy", "NO_PROXY", "10.0.0.0/8,127.0.0.0/8")]
fn no_proxy_matching_the_platform_host_bypasses_the_proxy(
    #[case] proxy_var: &str,
    #[case] no_proxy_var: &str,
    #[case] no_proxy: &str,
) {
    // No gh: the first daemon fetches nothing, so git's is the one request.
    let mut w = World::new(TestEnv::builder().without_gh());
    let _guard = SupervisorGuard::new(&w.env.home);
    let (proxy_url, ca) = (w.proxy_url(), w.ca());
    w.env.set(proxy_var, &proxy_url);
    w.env.set(no_proxy_var, no_proxy);
    w.env.set("PLATFORM_CA_FILE", &ca);
    let report = install(&w.env);
    assert!(report.failed_steps().is_empty(), "{report}");
    let saved = std::fs::read_to_string(w.env.layout().settings_file).unwrap();
    assert!(
        saved.contains(&format!("\nHTTPS_PROXY={proxy_url}\n"))
            && saved.contains(&format!("\nNO_PROXY={no_proxy}\n")),
        "{saved}"
    );
    assert!(!saved.contains("_proxy="), "{saved}");

    let out = bare_fill(&w.env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        password(&out).as_deref(),
        w.env.issued_tokens().last().map(String::as_str)
    );
    // Nothing for the platform went through the proxy (gh's login, when a
    // real gh is on PATH, may: GitHub is not in NO_PROXY).
    let platform = w.front.addr.to_string();
    assert!(
        !w.proxy.heads().iter().any(|h| h.contains(&platform)),
        "{:?}",
        w.proxy.heads()
    );
    assert_eq!(w.front.connections(), 1);
}

/// curl gets the proxy URL in its config on stdin, never in argv: every
/// argv of the test's processes, sampled while curl waits on a slow
/// platform, lacks the password, and the proxy still got the credentials.
/// The proxy comes from the settings file (the environment has none).
#[test]
fn a_proxy_password_never_reaches_argv() {
    let mut w = World::new(
        TestEnv::builder()
            .platform_mode(FakeMode::Slow)
            .slow_secs(2)
            .var("TOKEN_FETCH_TIMEOUT_SEC", "6"),
    );
    let proxy = w.proxy_url();
    let ca = w.ca();
    let mut pairs = w.base_settings();
    pairs.push(("HTTPS_PROXY", proxy));
    pairs.push(("PLATFORM_CA_FILE", ca));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&pairs);
    // The environment names the platform and the bearer (the sampler finds
    // the test's processes by CONFIGS_DIR), not the proxy.
    w.env.unset("PLATFORM_URL");
    let mut c = w.env.bundled_helper("_fetch_token");
    c.cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.cmd.spawn().unwrap();
    let (seen, _) =
        crate::support::procs::sample_argvs(&w.env, 1, || matches!(child.try_wait(), Ok(Some(_))));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(w.proxy.connects(), [w.connect_line()]);
    assert!(w.proxy.heads()[0].contains(&proxy_authorization()));
    let saw_curl = seen
        .iter()
        .any(|argv| argv.first().is_some_and(|a| a.ends_with("curl")));
    assert!(saw_curl, "curl never seen running");
    let leaks: Vec<String> = seen
        .iter()
        .map(|a| a.join(" "))
        .filter(|a| a.contains(PROXY_PASSWORD) || a.contains(&format!("{PROXY_USER}:")))
        .collect();
    assert!(leaks.is_empty(), "the proxy's password in argv: {leaks:?}");
    assert_eq!(w.env.issued_tokens().len(), 1);
}

/// A value out of shape in the saved file is judged exactly as one in the
/// environment: `_check_settings` names the variable, where it came from
/// and the fix, `status` (from a bare shell) fails its `settings` check on
/// it, and git sends no request (the https platform needs each of these).
#[rstest::rstest]
#[case::proxy_without_scheme("HTTPS_PROXY", "127.0.0.1:3128")]
#[case::proxy_without_scheme_with_a_password("HTTPS_PROXY", "agent:pr0xy-9f3e71@127.0.0.1:3128")]
#[case::proxy_with_a_path("HTTPS_PROXY", "http://agent:pr0xy-9f3e71@127.0.0.1:3128/x")]
#[case::proxy_scheme("HTTPS_PROXY", "ftp://127.0.0.1:3128")]
#[case::proxy_port("HTTPS_PROXY", "http://127.0.0.1:70000")]
#[case::proxy_refused("HTTPS_PROXY", molecule_credential_helper::settings::REFUSED_VALUE)]
#[case::no_proxy("NO_PROXY", "127.0.0.1;touch pwned")]
#[case::ca_relative("PLATFORM_CA_FILE", "platform-ca.pem")]
#[case::ca_missing("PLATFORM_CA_FILE", "{dir}/nowhere/ca.pem")]
#[case::ca_directory("PLATFORM_CA_FILE", "{dir}")]
#[case::ca_empty("PLATFORM_CA_FILE", "{dir}/empty.pem")]
#[case::ca_world_writable("PLATFORM_CA_FILE", "{dir}/writable.pem")]
#[case::ca_group_writable("PLATFORM_CA_FILE", "{dir}/group-writable.pem")]
#[case::ca_writable_by_others_only("PLATFORM_CA_FILE", "{dir}/others-writable.pem")]
#[case::ca_of_another_user("PLATFORM_CA_FILE", "{dir}/nobodys.pem")]
#[case::ca_in_an_open_directory("PLATFORM_CA_FILE", "{dir}/open/ca.pem")]
fn a_bad_proxy_or_ca_setting_is_named_wherever_it_comes_from(
    #[case] key: &str,
    #[case] value: &str,
) {
    let w = World::new(TestEnv::builder());
    let dir = w.env.dir.path().display().to_string();
    let value = value.replace("{dir}", &dir);
    std::fs::write(w.env.dir.path().join("empty.pem"), "").unwrap();
    // CA files anyone but root or this user could change.
    let open = w.env.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    for (name, mode) in [
        ("writable.pem", 0o666),
        ("group-writable.pem", 0o664),
        ("others-writable.pem", 0o642),
        ("nobodys.pem", 0o644),
        ("open/ca.pem", 0o644),
    ] {
        let file: PathBuf = w.env.dir.path().join(name);
        std::fs::copy(&w.front.ca_pem, &file).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    }
    std::os::unix::fs::chown(w.env.dir.path().join("nobodys.pem"), Some(65534), None).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // A good proxy and CA besides the one bad value.
    let (proxy, ca) = (w.proxy_url(), w.ca());
    let mut pairs: Vec<(&str, String)> = w.base_settings();
    if key != "HTTPS_PROXY" {
        pairs.push(("HTTPS_PROXY", proxy.clone()));
    }
    if key != "PLATFORM_CA_FILE" {
        pairs.push(("PLATFORM_CA_FILE", ca.clone()));
    }
    pairs.push((key, value.clone()));
    let saved: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&saved);

    // From the file, in a bare shell.
    let report = status_json(&mut bare(&w.env, bin()), &w.env.home);
    let check = report.check("settings").unwrap();
    assert_eq!(check.level, Level::Fail, "{check:?}");
    assert!(
        check.detail.starts_with(&format!("{key}: ")) && !check.detail.contains(" | "),
        "{check:?}"
    );
    assert!(check.detail.contains("(from install)"), "{check:?}");
    assert!(check.detail.contains("; fix: "), "{check:?}");
    assert!(!check.detail.contains(PROXY_PASSWORD), "{check:?}");
    let listed = serde_json::to_string(&report.settings).unwrap();
    assert!(!listed.contains(PROXY_PASSWORD), "{listed}");
    let out = bare_get(&w.env);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!("{key}: ")),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(PROXY_PASSWORD), "{}", stderr(&out));
    let record = std::fs::read_to_string(w.env.layout().cache_dir.join(".last_fetch_failure"))
        .unwrap_or_default();
    assert!(!record.contains(PROXY_PASSWORD), "{record}");
    // status's platform check names the whole problem, not its first 200
    // characters.
    let report = status_json(&mut bare(&w.env, bin()), &w.env.home);
    let platform = report.check("platform").unwrap();
    assert_eq!(platform.level, Level::Fail, "{platform:?}");
    assert!(platform.detail.contains(&check.detail), "{platform:?}");
    assert!(w.proxy.heads().is_empty());
    assert_eq!(w.front.connections(), 0);
    assert!(!w.env.dir.path().join("pwned").exists());

    // The same value from the environment: the same line, but for its source.
    let mut c = w.env.bundled_helper("_check_settings");
    c.env("PLATFORM_URL", w.front.url())
        .env("HTTPS_PROXY", &proxy)
        .env("PLATFORM_CA_FILE", &ca)
        .env(key, &value);
    let out = c.output();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        check.detail.replace("(from install)", "(from env)")
    );
}

/// The variables are where a reader looks: `--help`'s environment list and
/// the contract's table.
#[test]
fn the_proxy_and_ca_variables_are_in_help_and_the_contract() {
    let env = TestEnv::new();
    let help = stdout(&env.bin().arg("--help").ok());
    let contract =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract.md"))
            .unwrap();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for name in PROXY_AND_CA_VARIABLES {
        assert!(help.contains(name), "{name} not in --help:\n{help}");
        assert!(
            contract
                .lines()
                .any(|l| l.starts_with('|') && l.contains(&format!("`{name}`"))),
            "{name} not in docs/contract.md's table"
        );
    }
    for needle in ["HTTPS_PROXY=", "PLATFORM_CA_FILE=", "NO_PROXY="] {
        assert!(readme.contains(needle), "no {needle} example in README");
    }
}

/// The daemon takes its settings from the file: install removes every
/// settings variable from its environment, curl's lower-case ones too
/// (else a re-install that changes the proxy would not reach it).
#[test]
fn the_daemon_environment_holds_no_proxy_variable_of_either_case() {
    let config = molecule_credential_helper::Config::new("/home/agent", Default::default());
    let cmd = molecule_credential_helper::install::supervisor_command(
        Path::new("/bin/bash"),
        &config,
        true,
    );
    for name in PROXY_AND_CA_VARIABLES {
        assert!(
            cmd.env_remove.iter().any(|v| v == name),
            "{name} is left in the daemon's environment"
        );
    }
}

/// `contract`'s world is on 127.0.0.1: the CI's own proxy and CA
/// variables (out of shape, even) reach none of its processes, so they
/// neither route its fake platform's calls nor fail its settings check.
#[test]
fn the_contract_world_is_not_judged_by_the_ci_proxies() {
    let env = TestEnv::builder().no_platform().build();
    let tmp = env.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = env
        .bin()
        .arg("contract")
        .env("TMPDIR", &tmp)
        .env("HTTP_PROXY", RefusedPort::new().url())
        .env("https_proxy", "proxy.corp.invalid:3128")
        .env("no_proxy", "a;b")
        .env("PLATFORM_CA_FILE", "relative.pem")
        .output();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let left = crate::support::procs::processes_matching(&tmp.to_string_lossy());
    assert!(left.is_empty(), "{left:?}");
}

/// A proxy that refuses its credentials (407: to CONNECT for an https
/// platform, to the request itself for an http one) fails the fetch as a
/// settings failure, naming the variable with its password redacted:
/// retrying cannot mend a wrong password, so the daemon waits its longest.
#[rstest::rstest]
#[case::https_platform_connect(true)]
#[case::http_platform_get(false)]
fn a_proxy_refusing_its_credentials_is_a_settings_failure(#[case] https: bool) {
    let mut w = World::new(TestEnv::builder());
    let relay = ConnectProxy::requiring(&userinfo());
    let wrong = relay.url(Some("agent:an-old-pr0xy"));
    if https {
        w.env.set("HTTPS_PROXY", &wrong);
        w.env.set("PLATFORM_CA_FILE", &w.ca());
    } else {
        w.env.set("PLATFORM_URL", &w.env.platform().url());
        w.env.set("HTTP_PROXY", &wrong);
    }
    let out = w.env.bundled_helper("_fetch_token").fails();
    let err = stderr(&out);
    let (var, method) = if https {
        ("HTTPS_PROXY", "CONNECT")
    } else {
        ("HTTP_PROXY", "GET")
    };
    assert!(
        err.contains(&format!(
            "the proxy in {var} refused its credentials (HTTP 407 to {method})"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("(with {var}=http://***@{})", relay.addr)),
        "{err}"
    );
    assert!(!err.contains("pr0xy"), "{err}");
    assert_eq!(relay.heads().len(), 1);
    assert_eq!(w.front.connections(), 0);
    assert_eq!(w.env.platform().requests(), 0);
    let record =
        std::fs::read_to_string(w.env.layout().cache_dir.join(".last_fetch_failure")).unwrap();
    assert_eq!(record.lines().nth(4), Some("settings"), "{record}");
    assert!(!record.contains("pr0xy"), "{record}");
}

/// A shell's failure is not another shell's answer: within the fetch
/// timeout, waiters are told the last failure instead of asking again, but
/// only one of the same request and the same proxies (a shell that sets its
/// own proxy is another way to the platform), and never a settings failure
/// (each caller judges its own settings). Shell A's proxy is set in its
/// environment; shell B takes the good one from the saved file, just
/// after A failed.
#[rstest::rstest]
#[case::a_proxy_out_of_shape("127.0.0.1:3128", "settings failure")]
#[case::a_proxy_that_is_down("http://127.0.0.1:{down}", "transient failure")]
fn another_shells_failure_is_not_this_shells_answer(#[case] a_proxy: &str, #[case] a_says: &str) {
    let w = World::new(TestEnv::builder());
    let down = RefusedPort::new();
    let mut pairs = w.base_settings();
    pairs.push(("HTTPS_PROXY", w.proxy_url()));
    pairs.push(("PLATFORM_CA_FILE", w.ca()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&pairs);
    let get = |proxy: Option<&str>| {
        let mut c = bare(&w.env, "bash");
        c.arg(repo_script("molecule-git-token-helper.sh"))
            .arg("get");
        if let Some(proxy) = proxy {
            c.env("https_proxy", proxy);
        }
        c.stdin("protocol=https\nhost=github.com\n\n").output()
    };
    let a = get(Some(&a_proxy.replace("{down}", &down.port.to_string())));
    assert!(!a.status.success());
    assert!(stderr(&a).contains(a_says), "{}", stderr(&a));
    let b = get(None);
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(
        password(&b).as_deref(),
        w.env.issued_tokens().last().map(String::as_str)
    );
}

/// Re-install with another proxy or CA keeps the cached token (the same
/// platform issued it) and drops the record of the last failed fetch: it
/// was the old way's, and status must not name its fix for the new one.
/// Re-install with nothing changed keeps the record.
#[test]
fn reinstall_with_another_proxy_drops_the_failure_record_and_keeps_the_token() {
    let mut w = World::new(TestEnv::builder().without_gh());
    let _guard = SupervisorGuard::new(&w.env.home);
    let ca = w.ca();
    w.env.set("PLATFORM_CA_FILE", &ca);
    w.env.set("HTTPS_PROXY", &w.proxy_url());
    assert!(install(&w.env).failed_steps().is_empty());
    let now = molecule_credential_helper::clock::now_epoch();
    w.env.seed_cache(crate::support::token(5), now + 600);
    let record = w.env.layout().cache_dir.join(".last_fetch_failure");
    let write_record = || {
        std::fs::write(
            &record,
            format!(
                "{now}\nplatform fetch failed: connection refused\n{now}\nkey\ntransient\nfix\n"
            ),
        )
        .unwrap()
    };
    write_record();
    assert!(install(&w.env).failed_steps().is_empty());
    assert!(record.exists(), "nothing changed, yet the record went");
    w.env.set("HTTPS_PROXY", &w.proxy.url(None));
    let report = install(&w.env);
    assert!(report.failed_steps().is_empty(), "{report}");
    assert!(
        !record.exists(),
        "the old proxy's failure is still recorded"
    );
    let cached = std::fs::read_to_string(w.env.layout().cache_token).unwrap();
    assert!(cached.contains(crate::support::token(5)), "{cached}");
    write_record();
    w.env.set("PLATFORM_CA_FILE", "");
    assert!(install(&w.env).failed_steps().is_empty());
    assert!(!record.exists(), "the old CA's failure is still recorded");
}

/// A settings failure is never another caller's answer, even for the same
/// request: the CA file was missing, is put in place, and the next git
/// call (within the fetch timeout) judges the settings anew and fetches.
#[test]
fn a_settings_failure_is_judged_anew_by_the_next_caller() {
    let w = World::new(TestEnv::builder());
    let ca = w.env.dir.path().join("later/ca.pem");
    let mut pairs = w.base_settings();
    pairs.push(("HTTPS_PROXY", w.proxy_url()));
    pairs.push(("PLATFORM_CA_FILE", ca.display().to_string()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&pairs);
    let first = bare_get(&w.env);
    assert!(!first.status.success());
    assert!(stderr(&first).contains("is missing"), "{}", stderr(&first));
    std::fs::create_dir_all(ca.parent().unwrap()).unwrap();
    std::fs::copy(&w.front.ca_pem, &ca).unwrap();
    let next = bare_get(&w.env);
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(w.env.platform().requests(), 1);
}

/// Through a forward proxy (an http platform: no tunnel), an error answer
/// may be the proxy's own, so the failure names the proxy.
#[test]
fn an_error_answer_through_a_forward_proxy_names_the_proxy() {
    let mut env = TestEnv::new();
    let proxy = crate::support::raw_server::RawServer::start(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        std::time::Duration::ZERO,
    );
    env.set("HTTP_PROXY", &proxy.url());
    let out = env.bundled_helper("_fetch_token").fails();
    assert!(
        stderr(&out).contains(&format!("HTTP 404 (with HTTP_PROXY={})", proxy.url())),
        "{}",
        stderr(&out)
    );
    assert_eq!(proxy.heads().len(), 1);
    assert_eq!(env.platform().requests(), 0);
}

/// Each proxy variable's password is redacted in status's settings list,
/// text and JSON, whether it came from the saved file or the environment
/// (either case).
#[rstest::rstest]
#[case::https_saved("HTTPS_PROXY", None)]
#[case::http_saved("HTTP_PROXY", None)]
#[case::https_env_lower("HTTPS_PROXY", Some("https_proxy"))]
#[case::http_env_upper("HTTP_PROXY", Some("HTTP_PROXY"))]
fn every_proxy_password_is_redacted_in_status(#[case] name: &str, #[case] env_var: Option<&str>) {
    let w = World::new(TestEnv::builder());
    let value = format!("http://{}@127.0.0.1:3128", userinfo());
    let mut pairs = w.base_settings();
    if env_var.is_none() {
        pairs.push((name, value.clone()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.save_settings(&pairs);
    let run = |json: bool| {
        let mut c = bare(&w.env, bin());
        c.arg("status");
        if json {
            c.arg("--json");
        }
        c.arg("--home").arg(&w.env.home);
        if let Some(var) = env_var {
            c.env(var, &value);
        }
        stdout(&c.output())
    };
    let (text, json) = (run(false), run(true));
    for shown in [&text, &json] {
        assert!(!shown.contains(PROXY_PASSWORD), "{shown}");
        assert!(shown.contains("http://***@127.0.0.1:3128"), "{shown}");
    }
    let report: StatusReport = serde_json::from_str(&json).unwrap();
    let source = if env_var.is_some() {
        Source::Env
    } else {
        Source::Install
    };
    assert_eq!(
        setting(&report, name),
        Some((source, "http://***@127.0.0.1:3128".into()))
    );
}
