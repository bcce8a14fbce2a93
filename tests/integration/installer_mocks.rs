//! Exact git and gh invocations, asserted with mockall.

use crate::support::token;
use std::collections::BTreeMap;
use std::path::PathBuf;

use mockall::Sequence;
use molecule_credential_helper::os::{CommandSpec, RunOutput};
use molecule_credential_helper::testing::{FakeSystem, MockSpawner, MockWhich};
use molecule_credential_helper::{Config, Installer, Outcome, Step};

const HOME: &str = "/home/agent";
const HELPER: &str = "/home/agent/.molecule-runtime/scripts/molecule-git-token-helper.sh";
const KEY: &str = "credential.https://github.com.helper";
const HTTP_PATH_KEY: &str = "credential.https://github.com.useHttpPath";
/// The one read the installer makes: both keys, NUL-separated.
const READ: &[&str] = &[
    "-z",
    "--get-regexp",
    r"^credential\.https://github\.com\.(helper|usehttppath)$",
];

fn exit(code: i32, stdout: &str) -> std::io::Result<RunOutput> {
    Ok(RunOutput {
        code: Some(code),
        stdout: stdout.into(),
        ..Default::default()
    })
}

fn which_only(names: &'static [&'static str]) -> MockWhich {
    let mut which = MockWhich::new();
    which.expect_which().returning(move |name| {
        names
            .contains(&name)
            .then(|| PathBuf::from(format!("/usr/bin/{name}")))
    });
    which
}

fn git_args(cmd: &CommandSpec, expected: &[&str]) -> bool {
    cmd.program == std::path::Path::new("/usr/bin/git")
        && cmd
            .args
            .iter()
            .map(String::as_str)
            .eq(["config", "--global"].iter().chain(expected).copied())
        && cmd.env_value("HOME") == Some(HOME)
}

fn expect_git(
    spawner: &mut MockSpawner,
    seq: &mut Sequence,
    args: &'static [&'static str],
    code: i32,
    out: &'static str,
) {
    spawner
        .expect_run()
        .withf(move |cmd| git_args(cmd, args))
        .times(1)
        .in_sequence(seq)
        .returning(move |_| exit(code, out));
}

/// The settings check install runs once the scripts are in place: the
/// helper's `_check_settings`, run by `bash -p` as git runs it.
fn is_settings_check(cmd: &CommandSpec) -> bool {
    // The embedded helper in argv, never the file in the home.
    cmd.program == std::path::Path::new("/usr/bin/bash")
        && cmd.args.len() == 5
        && cmd.args[..2] == ["-p", "-c"]
        && cmd.args[2].as_bytes()
            == molecule_credential_helper::scripts::contents(
                molecule_credential_helper::scripts::HELPER_SCRIPT,
            )
        && cmd.args[3..] == ["molecule-git-token-helper.sh", "_check_settings"]
        && cmd.env_value("HOME") == Some(HOME)
}

fn expect_settings_check(spawner: &mut MockSpawner, seq: &mut Sequence, answer: &'static str) {
    spawner
        .expect_run()
        .withf(is_settings_check)
        .times(1)
        .in_sequence(seq)
        .returning(move |_| exit(i32::from(!answer.is_empty()), answer));
}

/// `git config --global --add KEY !<helper>`'s arguments after `--global`.
fn add_our_helper() -> &'static [&'static str] {
    let helper_value: &'static str = Box::leak(format!("!{HELPER}").into_boxed_str());
    Box::leak(vec!["--add", KEY, helper_value].into_boxed_slice())
}

/// Installs with git and bash on PATH, the fake world for files and processes.
fn install_with_git(
    mut cfg: Config,
    fs: FakeSystem,
    spawner: MockSpawner,
) -> molecule_credential_helper::InstallReport {
    // The installing user owns the fake world's files.
    cfg.uid = fs.uid();
    Installer::new(cfg, fs.clone(), spawner, fs, which_only(&["git", "bash"])).install()
}

fn config(env: &[(&str, &str)]) -> Config {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = Config::new(HOME, env);
    // The installing user owns the fake world's home.
    config.uid = FakeSystem::new().uid();
    config
}

/// The fake world with a live supervisor, so the daemon step spawns nothing.
fn world_with_supervisor(cfg: &Config) -> FakeSystem {
    let fs = FakeSystem::new();
    fs.add_process(
        77,
        molecule_credential_helper::testing::FakeProcess {
            cmdline: vec![
                "bash".into(),
                "-p".into(),
                cfg.layout.daemon_script.to_string_lossy().into(),
                "--supervise".into(),
            ],
            zombie: false,
            foreign: false,
            holds: vec![cfg.layout.supervisor_lock.clone()],
            ..Default::default()
        },
    );
    fs.add_file(&cfg.layout.pid_file, "77\n", 0o600);
    fs
}

#[test]
fn fresh_git_config_is_written_as_reset_then_helper_then_use_http_path() {
    let cfg = config(&[]);
    let fs = world_with_supervisor(&cfg);
    let add_helper = add_our_helper();
    let mut spawner = MockSpawner::new();
    let mut seq = Sequence::new();
    expect_settings_check(&mut spawner, &mut seq, "");
    expect_git(&mut spawner, &mut seq, READ, 1, "");
    expect_git(&mut spawner, &mut seq, &["--add", KEY, ""], 0, "");
    expect_git(&mut spawner, &mut seq, add_helper, 0, "");
    expect_git(
        &mut spawner,
        &mut seq,
        &["--replace-all", HTTP_PATH_KEY, "true"],
        0,
        "",
    );
    spawner.expect_spawn_detached().never();

    let report = install_with_git(cfg, fs, spawner);
    assert!(
        matches!(report.outcome(Step::GitConfig), Some(Outcome::Changed(_))),
        "{report}"
    );
}

#[test]
fn two_existing_values_are_unset_before_adding() {
    let cfg = config(&[]);
    let fs = world_with_supervisor(&cfg);
    let add_helper = add_our_helper();
    let mut spawner = MockSpawner::new();
    let mut seq = Sequence::new();
    expect_settings_check(&mut spawner, &mut seq, "");
    // What `gh auth setup-git` leaves: two values; useHttpPath spelt "yes".
    expect_git(
        &mut spawner,
        &mut seq,
        READ,
        0,
        "credential.https://github.com.helper\n\0credential.https://github.com.helper\n!/usr/bin/gh auth git-credential\0credential.https://github.com.usehttppath\nyes\0",
    );
    expect_git(&mut spawner, &mut seq, &["--unset-all", KEY], 0, "");
    expect_git(&mut spawner, &mut seq, &["--add", KEY, ""], 0, "");
    expect_git(&mut spawner, &mut seq, add_helper, 0, "");

    let report = install_with_git(cfg, fs, spawner);
    assert!(
        matches!(report.outcome(Step::GitConfig), Some(Outcome::Changed(_))),
        "{report}"
    );
}

#[test]
fn correct_git_config_is_not_written() {
    let cfg = config(&[]);
    let fs = world_with_supervisor(&cfg);
    let current: &'static str = Box::leak(
        format!("credential.https://github.com.helper\n\0credential.https://github.com.helper\n!{HELPER}\0credential.https://github.com.usehttppath\0")
            .into_boxed_str(),
    );
    let mut spawner = MockSpawner::new();
    let mut seq = Sequence::new();
    expect_settings_check(&mut spawner, &mut seq, "");
    expect_git(&mut spawner, &mut seq, READ, 0, current);
    let report = install_with_git(cfg, fs, spawner);
    assert!(
        matches!(report.outcome(Step::GitConfig), Some(Outcome::Unchanged(_))),
        "{report}"
    );
}

#[test]
fn a_failing_git_write_fails_only_its_step() {
    let cfg = config(&[]);
    let fs = world_with_supervisor(&cfg);
    let mut spawner = MockSpawner::new();
    let mut seq = Sequence::new();
    expect_settings_check(&mut spawner, &mut seq, "");
    expect_git(&mut spawner, &mut seq, READ, 1, "");
    spawner
        .expect_run()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            Ok(RunOutput {
                code: Some(255),
                stderr: "error: could not lock config file\n".into(),
                ..Default::default()
            })
        });
    let report = install_with_git(cfg, fs, spawner);
    assert!(
        matches!(report.outcome(Step::GitConfig), Some(Outcome::Failed(e)) if e.contains("could not lock config file")),
        "{report}"
    );
    assert_eq!(report.failed_steps(), vec![Step::GitConfig]);
}

/// The gh login is detached: bash runs the helper's `_login_gh_stdin` with
/// the token on stdin only, env tokens removed, output to the daemon log.
#[test]
fn gh_login_is_detached_with_the_token_on_stdin_and_env_tokens_removed() {
    let token = token(9);
    let cfg = config(&[("GH_TOKEN", token)]);
    let fs = world_with_supervisor(&cfg);
    let log = cfg.layout.log_file.clone();
    let mut spawner = MockSpawner::new();
    // Only the settings check runs; the gh login is detached.
    spawner
        .expect_run()
        .withf(is_settings_check)
        .times(1)
        .returning(|_| exit(0, ""));
    spawner
        .expect_spawn_detached()
        .withf(move |cmd, to| {
            cmd.program == std::path::Path::new("/usr/bin/bash")
                // The embedded helper (never the file in the home, which
                // its owner can edit), the token on stdin.
                && cmd.args.len() == 5
                && cmd.args[..2] == ["-p", "-c"]
                && cmd.args[2].as_bytes()
                    == molecule_credential_helper::scripts::contents(
                        molecule_credential_helper::scripts::HELPER_SCRIPT,
                    )
                && cmd.args[3..] == ["molecule-git-token-helper.sh", "_login_gh_stdin"]
                && cmd.env_remove.iter().any(|k| k == "GH_TOKEN")
                && cmd.env_remove.iter().any(|k| k == "GITHUB_TOKEN")
                && cmd.stdin.as_ref().map(|s| s.expose().as_slice())
                    == Some(format!("{token}\n").as_bytes())
                && !cmd.args.iter().any(|a| a.contains(token))
                && !cmd.env_set.iter().any(|(_, v)| v.contains(token))
                && to == log
        })
        .times(1)
        .returning(|_, _| Ok(4242));
    let report =
        Installer::new(cfg, fs.clone(), spawner, fs, which_only(&["gh", "bash"])).install();
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Changed(d)) if d.contains("background")),
        "{report}"
    );
    assert!(report.warnings.iter().any(|w| w.contains("GH_TOKEN")));
}

/// `--strict` waits for the detached login; gh's failure (as the helper
/// logged it) becomes the step's error, redacted of the token.
#[test]
fn a_waited_for_gh_failure_is_reported_and_redacted() {
    let token = token(10);
    let mut cfg = config(&[("GITHUB_TOKEN", token)]);
    cfg.wait_for_gh_login = true;
    let fs = world_with_supervisor(&cfg);
    fs.add_file(
        &cfg.layout.log_file,
        format!("[molecule-git-token-helper] 2026-11-29T00:00:00Z gh auth login failed (exit 1): bad credentials {token}\n"),
        0o600,
    );
    let mut spawner = MockSpawner::new();
    spawner
        .expect_run()
        .withf(is_settings_check)
        .returning(|_| exit(0, ""));
    // The login "ended" at once: PID 4242 is not in the fake process table.
    spawner.expect_spawn_detached().returning(|_, _| Ok(4242));
    let report =
        Installer::new(cfg, fs.clone(), spawner, fs, which_only(&["gh", "bash"])).install();
    let json = report.to_json();
    assert!(
        matches!(report.outcome(Step::GhAuth), Some(Outcome::Failed(d)) if d.contains("bad credentials")),
        "{report}"
    );
    assert!(!json.contains(token), "{json}");
    assert!(json.contains("[REDACTED]"), "{json}");
}

/// The helper judges the settings; install passes each of its problems on
/// as a problem (apart from warnings), and the steps still run.
#[test]
fn the_helpers_settings_problems_become_problems() {
    let cfg = config(&[("WORKSPACE_ID", "../..")]);
    let fs = world_with_supervisor(&cfg);
    let current: &'static str = Box::leak(
        format!("credential.https://github.com.helper\n\0credential.https://github.com.helper\n!{HELPER}\0credential.https://github.com.usehttppath\0")
            .into_boxed_str(),
    );
    let mut spawner = MockSpawner::new();
    let mut seq = Sequence::new();
    expect_settings_check(
        &mut spawner,
        &mut seq,
        "WORKSPACE_ID: \"../..\" (from env) is not 1-128 characters; fix: x\n",
    );
    expect_git(&mut spawner, &mut seq, READ, 0, current);
    let report = install_with_git(cfg, fs, spawner);
    assert_eq!(
        report.problems,
        ["settings: WORKSPACE_ID: \"../..\" (from env) is not 1-128 characters; fix: x"],
        "{report}"
    );
    assert!(report.warnings.is_empty(), "{report}");
    assert!(report.failed_steps().is_empty(), "{report}");
}
