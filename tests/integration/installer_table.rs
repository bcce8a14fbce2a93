//! Step outcomes as tables over the fake world.

use crate::support::token;
use molecule_credential_helper::testing::{FakeProcess, FakeSystem, OpKind};
use molecule_credential_helper::{Layout, Outcome, Step};
use rstest::rstest;

use crate::support::{fake_installer, our_supervisor, FAKE_HOME};

fn label(outcome: Option<&Outcome>) -> &'static str {
    outcome.map(Outcome::label).unwrap_or("missing")
}

#[derive(Debug, Clone, Copy)]
enum CacheDir {
    Missing,
    Private,
    Wide,
    Narrow,
    Symlink,
    File,
    ForeignOwner,
}

#[rstest]
#[case::missing(CacheDir::Missing, "changed", Some(0o700))]
#[case::already_private(CacheDir::Private, "unchanged", Some(0o700))]
#[case::wide_is_tightened(CacheDir::Wide, "changed", Some(0o700))]
#[case::narrow_is_fixed(CacheDir::Narrow, "changed", Some(0o700))]
#[case::symlink_is_refused(CacheDir::Symlink, "failed", None)]
#[case::file_is_refused(CacheDir::File, "failed", None)]
#[case::foreign_owner_is_refused(CacheDir::ForeignOwner, "failed", Some(0o755))]
fn token_cache_step(
    #[case] start: CacheDir,
    #[case] expected: &str,
    #[case] final_mode: Option<u32>,
) {
    let world = FakeSystem::new();
    let layout = Layout::new(FAKE_HOME);
    match start {
        CacheDir::Missing => {}
        CacheDir::Private => world.add_dir(&layout.cache_dir, 0o700),
        CacheDir::Wide => world.add_dir(&layout.cache_dir, 0o755),
        CacheDir::Narrow => world.add_dir(&layout.cache_dir, 0o500),
        CacheDir::Symlink => world.add_symlink(&layout.cache_dir),
        CacheDir::File => world.add_file(&layout.cache_dir, "x", 0o600),
        CacheDir::ForeignOwner => {
            world.add_dir(&layout.cache_dir, 0o755);
            world.set_owner(&layout.cache_dir, 4242);
        }
    }
    let report = fake_installer(&world, &[]).install();
    assert_eq!(
        label(report.outcome(Step::TokenCache)),
        expected,
        "{report}"
    );
    if let Some(mode) = final_mode {
        assert_eq!(world.mode(&layout.cache_dir), Some(mode));
    }
}

#[derive(Debug, Clone, Copy)]
enum PidFile {
    Absent,
    Empty,
    Garbage,
    Zero,
    Negative,
    TooLarge,
    Dead,
    Zombie,
    Reused,
    Pid1,
    OursAlive,
    OursForeignUser,
    /// A forked child of a supervisor, not yet exec'd: same argv, not a session leader.
    ForkOfSupervisor,
}

#[rstest]
#[case::absent(PidFile::Absent, true)]
#[case::empty(PidFile::Empty, true)]
#[case::garbage(PidFile::Garbage, true)]
#[case::zero(PidFile::Zero, true)]
#[case::negative(PidFile::Negative, true)]
#[case::larger_than_pid_max(PidFile::TooLarge, true)]
#[case::dead(PidFile::Dead, true)]
#[case::zombie(PidFile::Zombie, true)]
#[case::reused_by_another_program(PidFile::Reused, true)]
#[case::pid_1_init(PidFile::Pid1, true)]
#[case::fork_of_a_supervisor(PidFile::ForkOfSupervisor, true)]
#[case::ours_alive(PidFile::OursAlive, false)]
// Another user's look-alike (our exact argv, leading its session, even
// "holding" a lock) is never ours: install starts its own.
#[case::another_users_lookalike_is_not_ours(PidFile::OursForeignUser, true)]
fn refresh_daemon_step(#[case] start: PidFile, #[case] spawns: bool) {
    let world = FakeSystem::new();
    let layout = Layout::new(FAKE_HOME);
    let other = |cmd: &str| FakeProcess {
        cmdline: vec![cmd.into()],
        zombie: false,
        foreign: false,
        ..Default::default()
    };
    let text = match start {
        PidFile::Absent => None,
        PidFile::Empty => Some(String::new()),
        PidFile::Garbage => Some("not a pid\n\0\u{7f}".into()),
        PidFile::Zero => Some("0\n".into()),
        PidFile::Negative => Some("-1\n".into()),
        PidFile::TooLarge => Some("99999999999\n".into()),
        PidFile::Dead => Some("555\n".into()),
        PidFile::Zombie => {
            world.add_process(
                556,
                FakeProcess {
                    zombie: true,
                    ..our_supervisor(&layout)
                },
            );
            Some("556\n".into())
        }
        PidFile::Reused => {
            world.add_process(557, other("/usr/sbin/nginx"));
            Some("557\n".into())
        }
        PidFile::Pid1 => {
            world.add_process(1, other("/sbin/init"));
            Some("1\n".into())
        }
        PidFile::OursAlive => {
            world.add_process(558, our_supervisor(&layout));
            Some("558\n".into())
        }
        PidFile::ForkOfSupervisor => {
            world.add_process(
                560,
                FakeProcess {
                    sid: Some(4000),
                    ppid: Some(4000),
                    ..our_supervisor(&layout)
                },
            );
            Some("560\n".into())
        }
        PidFile::OursForeignUser => {
            world.add_process(
                559,
                FakeProcess {
                    foreign: true,
                    ..our_supervisor(&layout)
                },
            );
            Some("559\n".into())
        }
    };
    if let Some(text) = text {
        world.add_file(&layout.pid_file, text, 0o644);
    }
    let report = fake_installer(&world, &[]).install();
    let spawned = world
        .ops()
        .iter()
        .filter(|op| op.kind == OpKind::Spawn)
        .count();
    assert_eq!(spawned, usize::from(spawns), "{report}");
    let expected = if spawns { "changed" } else { "unchanged" };
    assert_eq!(
        label(report.outcome(Step::RefreshDaemon)),
        expected,
        "{report}"
    );
    if spawns {
        let pid: i32 = String::from_utf8(world.file(&layout.pid_file).unwrap())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(world.processes()[&pid], our_supervisor(&layout));
    }
}

#[rstest]
#[case::no_gh(&[], false, &[], "skipped")]
#[case::no_token(&["gh"], false, &[], "skipped")]
#[case::env_token(&["gh"], false, &[("GH_TOKEN", token(1))], "changed")]
#[case::github_token(&["gh"], false, &[("GITHUB_TOKEN", token(1))], "changed")]
#[case::invalid_env_token(&["gh"], false, &[("GH_TOKEN", "bad token\n")], "skipped")]
#[case::hosts_already_hold_it(&["gh"], true, &[("GH_TOKEN", token(1))], "unchanged")]
fn gh_auth_step(
    #[case] binaries: &[&str],
    #[case] hosts_has_token: bool,
    #[case] env: &[(&str, &str)],
    #[case] expected: &str,
) {
    let world = FakeSystem::new();
    if !binaries.contains(&"gh") {
        world.remove_binary("gh");
    }
    if hosts_has_token {
        world.add_file(
            format!("{FAKE_HOME}/.config/gh/hosts.yml"),
            format!("github.com:\n    oauth_token: {}\n", token(1)),
            0o600,
        );
    }
    let report = fake_installer(&world, env).install();
    assert_eq!(label(report.outcome(Step::GhAuth)), expected, "{report}");
    assert!(!report.to_json().contains(token(1)));
}

#[test]
fn gh_refuses_when_env_tokens_leak_into_its_environment() {
    // The fake gh, like the real one, refuses while GH_TOKEN is inherited:
    // the installer must remove it, so this succeeds.
    let world = FakeSystem::new();
    world.set_env("GH_TOKEN", token(1));
    world.set_env("GITHUB_TOKEN", token(1));
    let report = fake_installer(&world, &[("GH_TOKEN", token(1))]).install();
    assert_eq!(label(report.outcome(Step::GhAuth)), "changed", "{report}");
    let hosts = world
        .file(format!("{FAKE_HOME}/.config/gh/hosts.yml"))
        .unwrap();
    assert!(String::from_utf8_lossy(&hosts).contains(&format!("oauth_token: {}", token(1))));
}

#[test]
fn gh_config_dir_is_honoured_for_the_hosts_file() {
    let world = FakeSystem::new();
    world.add_file(
        "/etc/gh/hosts.yml",
        format!("github.com:\n    oauth_token: {}\n", token(1)),
        0o600,
    );
    let report = fake_installer(
        &world,
        &[("GH_TOKEN", token(1)), ("GH_CONFIG_DIR", "/etc/gh")],
    )
    .install();
    assert_eq!(label(report.outcome(Step::GhAuth)), "unchanged", "{report}");
}
