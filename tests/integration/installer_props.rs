//! Properties of the installer over the fake world: fail-soft, idempotent,
//! PID-file handling, script rewrites and missing binaries.

use crate::support::token;
use std::collections::BTreeSet;

use molecule_credential_helper::scripts;
use molecule_credential_helper::testing::{FakeProcess, FakeSystem, Fault, OpKind};
use molecule_credential_helper::{Layout, Outcome, Step};
use proptest::prelude::*;

use crate::support::{fake_installer, our_supervisor, FAKE_HOME};

/// A fault known to break exactly one step on a fresh install.
fn fault_for(step: Step, layout: &Layout) -> Fault {
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    match step {
        Step::Scripts => Fault {
            kind: OpKind::Write,
            target: path(&layout.scripts_dir),
        },
        Step::TokenCache => Fault {
            kind: OpKind::CreateDir,
            target: path(&layout.cache_dir),
        },
        Step::GitConfig => Fault {
            kind: OpKind::Run,
            target: "git".into(),
        },
        Step::RefreshDaemon => Fault {
            kind: OpKind::Spawn,
            target: "bash".into(),
        },
        Step::GhAuth => Fault {
            kind: OpKind::Run,
            target: "gh".into(),
        },
        // `Step` is non-exhaustive: a new step needs its own fault here.
        other => panic!("no fault known to break step {other}"),
    }
}

/// Random extra faults on paths and kinds the steps touch (noise).
fn noise_fault() -> impl Strategy<Value = Fault> {
    let kinds = prop_oneof![
        Just(OpKind::Read),
        Just(OpKind::Metadata),
        Just(OpKind::CreateDir),
        Just(OpKind::SetMode),
        Just(OpKind::Write),
        Just(OpKind::Remove),
        Just(OpKind::Lock),
        Just(OpKind::Run),
        Just(OpKind::Spawn),
    ];
    let targets = prop_oneof![
        Just(format!("{FAKE_HOME}/.molecule-runtime")),
        Just(format!("{FAKE_HOME}/.molecule-runtime/scripts")),
        Just(format!("{FAKE_HOME}/.molecule-runtime/refresh-daemon.pid")),
        Just(format!("{FAKE_HOME}/.molecule-runtime/install.lock")),
        Just(format!("{FAKE_HOME}/.molecule-token-cache")),
        Just(format!("{FAKE_HOME}/.config/gh")),
        Just("git".to_string()),
        Just("gh".to_string()),
        Just("bash".to_string()),
        Just(FAKE_HOME.to_string()),
    ];
    (kinds, targets).prop_map(|(kind, target)| Fault { kind, target })
}

/// (a) Injected faults: a full report, no panic, exactly the faulted
/// steps failed, and every step not depending on a failed one attempted.
#[test]
fn faults_fail_exactly_their_steps() {
    // All 32 subsets of the five steps: exhaustive, not sampled.
    for failing in all_subsets(&Step::ALL) {
        let failing: BTreeSet<Step> = failing.into_iter().collect();
        let world = FakeSystem::new();
        let layout = Layout::new(FAKE_HOME);
        for step in &failing {
            world.inject(fault_for(*step, &layout));
        }
        let report = fake_installer(&world, &[("GH_TOKEN", token(4))]).install();
        assert_eq!(
            report.steps.iter().map(|s| s.step).collect::<Vec<_>>(),
            Step::ALL.to_vec()
        );
        let scripts_failed = failing.contains(&Step::Scripts);
        let mut expected: BTreeSet<Step> = failing.clone();
        if scripts_failed {
            // git-config, refresh-daemon and gh-auth (its detached login runs
            // the helper) need the scripts: skipped, not failed.
            expected.remove(&Step::GitConfig);
            expected.remove(&Step::RefreshDaemon);
            expected.remove(&Step::GhAuth);
        }
        let failed: BTreeSet<Step> = report.failed_steps().into_iter().collect();
        assert_eq!(&failed, &expected, "{}", report);
        for step in Step::ALL {
            let outcome = report.outcome(step).unwrap();
            let dependent = matches!(step, Step::GitConfig | Step::RefreshDaemon | Step::GhAuth);
            if dependent && scripts_failed {
                assert!(matches!(outcome, Outcome::Skipped(_)), "{}", report);
            } else if !failing.contains(&step) {
                assert!(
                    matches!(outcome, Outcome::Changed(_)),
                    "{} should have run: {}",
                    step,
                    report
                );
            }
        }
        let ops = world.ops();
        assert_eq!(
            ops.iter()
                .any(|op| op.kind == OpKind::Run && op.target == "gh"),
            !scripts_failed,
            "gh step attempted iff it could run"
        );
        assert!(!report.to_json().contains(token(4)));
    }
}

/// Every subset of `items`, in a fixed order.
fn all_subsets<T: Copy>(items: &[T]) -> Vec<Vec<T>> {
    (0..1u32 << items.len())
        .map(|bits| {
            (0..items.len())
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| items[i])
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// (a') Arbitrary noise faults never panic and always give five entries.
    #[test]
    fn any_faults_give_a_full_report(faults in proptest::collection::vec(noise_fault(), 0..6)) {
        let world = FakeSystem::new();
        for f in faults {
            world.inject(f);
        }
        let report = fake_installer(&world, &[("GITHUB_TOKEN", token(4))]).install();
        prop_assert_eq!(report.steps.len(), 5);
        prop_assert!(!report.to_json().contains(token(4)));
    }
}

/// A starting state for the idempotency property.
#[derive(Debug, Clone)]
struct StartState {
    scripts: u8,
    cache_dir: u8,
    git_values: Vec<&'static str>,
    use_http_path: Option<&'static str>,
    pid_file: u8,
    gh_hosts_has_token: bool,
    env_token: bool,
}

fn start_state() -> impl Strategy<Value = StartState> {
    (
        0u8..4,
        0u8..4,
        proptest::collection::vec(
            prop_oneof![
                Just(""),
                Just("store"),
                Just("!/usr/bin/gh auth git-credential"),
                Just("cache")
            ],
            0..4,
        ),
        prop_oneof![Just(None), Just(Some("true")), Just(Some("false"))],
        0u8..5,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                scripts,
                cache_dir,
                git_values,
                use_http_path,
                pid_file,
                gh_hosts_has_token,
                env_token,
            )| StartState {
                scripts,
                cache_dir,
                git_values,
                use_http_path,
                pid_file,
                gh_hosts_has_token,
                env_token,
            },
        )
}

fn build_world(state: &StartState) -> FakeSystem {
    let world = FakeSystem::new();
    let layout = Layout::new(FAKE_HOME);
    for (name, contents) in scripts::embedded() {
        let path = layout.scripts_dir.join(name);
        match state.scripts {
            0 => {}
            1 => world.add_file(&path, contents, 0o755),
            2 => world.add_file(&path, b"#!/bin/sh\necho stale\n", 0o755),
            _ => world.add_file(&path, contents, 0o644),
        }
    }
    match state.cache_dir {
        0 => {}
        1 => world.add_dir(&layout.cache_dir, 0o700),
        2 => world.add_dir(&layout.cache_dir, 0o755),
        _ => world.add_dir(&layout.cache_dir, 0o777),
    }
    for v in &state.git_values {
        world.add_git_config("credential.https://github.com.helper", v);
    }
    if let Some(v) = state.use_http_path {
        world.add_git_config("credential.https://github.com.useHttpPath", v);
    }
    match state.pid_file {
        0 => {}
        1 => world.add_file(&layout.pid_file, "garbage", 0o644),
        2 => world.add_file(&layout.pid_file, "31337\n", 0o644),
        3 => {
            world.add_process(
                31338,
                FakeProcess {
                    cmdline: vec!["sshd".into()],
                    zombie: false,
                    foreign: true,
                    ..Default::default()
                },
            );
            world.add_file(&layout.pid_file, "31338\n", 0o644);
        }
        _ => {
            world.add_process(31339, our_supervisor(&layout));
            world.add_file(&layout.pid_file, "31339\n", 0o644);
        }
    }
    if state.gh_hosts_has_token {
        world.add_file(
            format!("{FAKE_HOME}/.config/gh/hosts.yml"),
            format!("github.com:\n    oauth_token: {}\n", token(1)),
            0o600,
        );
    }
    world
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (b) From any starting state, the second install mutates nothing.
    #[test]
    fn second_install_performs_zero_mutations(state in start_state()) {
        let world = build_world(&state);
        let env: &[(&str, &str)] = if state.env_token { &[("GH_TOKEN", token(1))] } else { &[] };
        let first = fake_installer(&world, env).install();
        prop_assert!(!first.has_failures(), "{}", first);
        world.clear_ops();
        let second = fake_installer(&world, env).install();
        prop_assert!(world.mutations().is_empty(), "mutations: {:?}\n{}", world.mutations(), second);
        for s in &second.steps {
            prop_assert!(!matches!(s.outcome, Outcome::Changed(_) | Outcome::Failed(_)), "{}", second);
        }
        prop_assert_eq!(
            world.git_config_values("credential.https://github.com.helper"),
            vec![String::new(), format!("!{FAKE_HOME}/.molecule-runtime/scripts/molecule-git-token-helper.sh")]
        );
    }

    /// (c) Stale, garbage and reused PID files never prevent a daemon; a live
    /// supervisor of ours always prevents a second one. PIDs span the whole
    /// range; the PID's process may be missing, ours (alive or a zombie),
    /// another program, or another user's (EPERM), even one whose argv
    /// looks like our supervisor's.
    #[test]
    fn pid_files_decide_correctly(
        pid in prop_oneof![Just(1i32), 2i32..300, 300i32..=4_194_304],
        spelling in 0u8..6,
        garbage in "[ -~]{0,12}",
        occupant in 0u8..6,
        reused_cmd in prop_oneof![Just("nginx"), Just("bash /tmp/other.sh --supervise"), Just("python3")],
    ) {
        let world = FakeSystem::new();
        let layout = Layout::new(FAKE_HOME);
        let text = match spelling {
            0 => format!("{pid}\n"),
            1 => format!("{pid}"),
            2 => format!("-{pid}\n"),
            3 => format!("{pid}{pid}{pid}\n"),
            4 => format!("{pid}x\n"),
            _ => garbage,
        };
        let ours = our_supervisor(&layout);
        let other = FakeProcess {
            cmdline: reused_cmd.split(' ').map(String::from).collect(),
            ..Default::default()
        };
        let process = match occupant {
            0 => None,
            1 => Some(ours.clone()),
            2 => Some(FakeProcess { zombie: true, ..ours.clone() }),
            3 => Some(FakeProcess { foreign: true, ..ours.clone() }),
            4 => Some(other.clone()),
            _ => Some(FakeProcess { foreign: true, ..other }),
        };
        if let Some(p) = &process {
            world.add_process(pid, p.clone());
        }
        world.add_file(&layout.pid_file, &text, 0o644);
        let report = fake_installer(&world, &[]).install();
        let spawns = world.ops().iter().filter(|op| op.kind == OpKind::Spawn).count();
        // A live supervisor of ours (our uid, argv and session, holding the
        // lock) keeps the daemon, named by the file or not (then it is
        // adopted: the file names it afterwards). Another user's process is
        // never ours, whatever its argv (docs/design.md, "Which supervisor
        // is ours"). Anything else starts one.
        let ours_alive = occupant == 1;
        prop_assert_eq!(spawns, usize::from(!ours_alive), "{:?} {:?}\n{}", text, process, report);
        if ours_alive {
            let now_named = world.file(&layout.pid_file).map(|b| String::from_utf8_lossy(&b).trim().to_string());
            prop_assert_eq!(now_named, Some(pid.to_string()), "{}", report);
        }
    }

    /// (d) Unchanged scripts are never rewritten; changed ones always are.
    #[test]
    fn scripts_rewritten_iff_content_differs(
        bodies in proptest::collection::vec((0u8..5, any::<prop::sample::Index>(), any::<u8>()), 2),
    ) {
        let world = FakeSystem::new();
        let layout = Layout::new(FAKE_HOME);
        // Each script as installed, or one byte off, cut short, one byte
        // longer, or replaced: near misses a careless compare would let by.
        let variant = |contents: &[u8], (how, at, byte): (u8, prop::sample::Index, u8)| -> Vec<u8> {
            let mut body = contents.to_vec();
            let at = at.index(body.len());
            match how {
                0 => {}
                1 => body[at] = body[at].wrapping_add(byte.max(1)),
                2 => body.truncate(at),
                3 => body.push(byte),
                _ => body = vec![byte; at % 64],
            }
            body
        };
        let mut planted = Vec::new();
        for ((name, contents), spec) in scripts::embedded().into_iter().zip(bodies.iter().copied()) {
            let body = variant(contents, spec);
            world.add_file(layout.scripts_dir.join(name), &body, 0o755);
            planted.push(body);
        }
        fake_installer(&world, &[]).install();
        for ((name, contents), body) in scripts::embedded().into_iter().zip(planted) {
            let path = layout.scripts_dir.join(name);
            let target = path.to_string_lossy().into_owned();
            let writes = world.ops().iter().filter(|op| op.kind == OpKind::Write && op.target == target).count();
            prop_assert_eq!(writes, usize::from(body != contents), "{}", name);
            prop_assert_eq!(world.file(&path).unwrap(), contents.to_vec());
        }
    }
}

/// (e) Missing binaries only skip their own steps (gh-auth also needs
/// bash: its detached login runs the helper).
#[test]
fn missing_binaries_skip_only_their_steps() {
    // All 8 subsets of the three binaries.
    for missing in all_subsets(&["git", "gh", "bash"]) {
        let world = FakeSystem::new();
        for name in &missing {
            world.remove_binary(name);
        }
        let report = fake_installer(&world, &[("GH_TOKEN", token(1))]).install();
        let own_step = |name: &str| match name {
            "git" => Step::GitConfig,
            "gh" => Step::GhAuth,
            _ => Step::RefreshDaemon,
        };
        let mut skipped: BTreeSet<Step> = missing.iter().map(|n| own_step(n)).collect();
        if missing.contains(&"bash") {
            skipped.insert(Step::GhAuth);
        }
        for s in &report.steps {
            if skipped.contains(&s.step) {
                assert!(
                    matches!(&s.outcome, Outcome::Skipped(r) if r.contains("not on PATH")),
                    "{}",
                    report
                );
            } else {
                assert!(matches!(s.outcome, Outcome::Changed(_)), "{}", report);
            }
        }
    }
}
