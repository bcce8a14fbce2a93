//! Side-by-side benchmarks (ratios matter; absolute times here are noisy):
//! - helper `get` through the real `git credential fill`: ours on a cache hit
//!   vs git's builtin `store` helper; ours on a cold cache (fake platform,
//!   curl the one HTTP client); and, paired, our cold fill against the
//!   cold fill of this repository's first helper
//!   (`benches/fixtures/first-helper.sh`: scripts/molecule-git-token-helper.sh
//!   as of commit 43ad45e, kept verbatim; curl-based) on the classic
//!   40-character tokens it accepts;
//! - a burst of 32 concurrent cold fills (wall time; one platform request);
//! - `install`: first and second run with the real backends, a first run
//!   while gh hangs (install must not wait for it), and the pure logic on
//!   the in-memory fakes.
//!
//! Run: `cargo bench --bench helper`. Set-up happens outside the timed loops.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use molecule_credential_helper::testing::{
    sample_token, FakePlatform, FakePlatformConfig, FakeSystem,
};
use molecule_credential_helper::{Config, Installer, Layout};

const SECRET: &str = "bench-secret";
const FILL_INPUT: &[u8] = b"protocol=https\nhost=github.com\npath=org/repo.git\n\n";

struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    env: BTreeMap<String, String>,
}

impl Home {
    fn new(platform: &FakePlatform) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let configs = dir.path().join("configs");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&configs).unwrap();
        std::fs::write(configs.join(".auth_token"), SECRET).unwrap();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("HOME", home.display().to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("CONFIGS_DIR", configs.display().to_string()),
            ("PLATFORM_URL", platform.url()),
            ("TOKEN_REFRESH_INITIAL_DELAY_SEC", "3600".into()),
        ] {
            env.insert(k.to_string(), v);
        }
        Home {
            _dir: dir,
            home,
            env,
        }
    }

    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .env_clear()
            .envs(&self.env)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    fn fill(&self) -> String {
        use std::io::Write;
        let mut child = Command::new("git")
            .env_clear()
            .envs(&self.env)
            .args(["credential", "fill"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(FILL_INPUT).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    /// Empties the token cache (its expiry file), so the next fill fetches.
    fn make_cold(&self) {
        let _ = std::fs::remove_file(Layout::new(&self.home).cache_expiry);
    }

    fn installer(&self) -> molecule_credential_helper::RealInstaller {
        let mut config = Config::isolated_with(&self.home, &self.env);
        config
            .child_env_remove
            .extend(["GH_TOKEN".into(), "GITHUB_TOKEN".into()]);
        Installer::real(config)
    }

    /// Puts a gh first on PATH that reads the token and then hangs, and a
    /// provision token in GH_TOKEN for install to give it.
    fn with_hanging_gh(&mut self) {
        let bin = self.home.with_file_name("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let gh = bin.join("gh");
        std::fs::write(&gh, "#!/bin/sh\ncat >/dev/null\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), self.env["PATH"]);
        self.env.insert("PATH".into(), path);
        self.env.insert("GH_TOKEN".into(), sample_token(7));
        self.env.insert("GH_LOGIN_TIMEOUT_SEC".into(), "1".into());
    }

    fn installer_keeping_env_tokens(&self) -> molecule_credential_helper::RealInstaller {
        Installer::real(Config::isolated_with(&self.home, &self.env))
    }

    fn stop_daemon(&self) {
        let pid_file = Layout::new(&self.home).pid_file;
        if let Ok(text) = std::fs::read_to_string(pid_file) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn repo_helper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/molecule-git-token-helper.sh")
}

/// This repository's first helper, the paired baseline.
fn first_helper() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures/first-helper.sh")
}

fn wire_ours(home: &Home) {
    wire(home, &repo_helper());
}

fn wire(home: &Home, helper: &Path) {
    let key = "credential.https://github.com.helper";
    home.git(&["config", "--global", "--add", key, ""]);
    home.git(&[
        "config",
        "--global",
        "--add",
        key,
        &format!("!{}", helper.display()),
    ]);
    home.git(&[
        "config",
        "--global",
        "credential.https://github.com.useHttpPath",
        "true",
    ]);
}

fn helper_get(c: &mut Criterion) {
    let platform = FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        ..Default::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("helper_get");
    group
        .sample_size(40)
        .measurement_time(Duration::from_secs(4));

    let store = Home::new(&platform);
    store.git(&["config", "--global", "credential.helper", "store"]);
    std::fs::write(
        store.home.join(".git-credentials"),
        "https://x-access-token:ghs_StoredToken123@github.com\n",
    )
    .unwrap();
    store.git(&["config", "--global", "credential.useHttpPath", "false"]);
    assert!(store.fill().contains("password=ghs_StoredToken123"));
    group.bench_function("git_store_builtin_hit", |b| b.iter(|| store.fill()));

    let ours = Home::new(&platform);
    wire_ours(&ours);
    assert!(ours.fill().contains("password=ghs_"));
    group.bench_function("molecule_cache_hit", |b| b.iter(|| ours.fill()));

    // The first helper accepts only `[A-Za-z0-9_]` tokens: the pair our
    // cold fill / the first helper's runs against a platform issuing
    // classic ones.
    let classic = FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        token_format: molecule_credential_helper::testing::TokenFormat::Classic,
        ..Default::default()
    })
    .unwrap();
    let ours_classic = Home::new(&classic);
    wire_ours(&ours_classic);
    let first = Home::new(&classic);
    wire(&first, &first_helper());
    first.make_cold();
    assert!(
        first.fill().contains("password=ghs_"),
        "the first helper fetches"
    );
    paired_ratios(&store, &ours, &ours_classic, &first);
    for (name, home) in [
        ("molecule_cold_fetch", &ours),
        ("first_helper_cold_fetch_classic", &first),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || home.make_cold(),
                |()| home.fill(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// The targets are ratios, and this machine's speed drifts between two
/// criterion benchmarks run seconds apart. So each round times five fills
/// back to back (store hit, our hit, our cold fetch, our cold fetch of a
/// classic token, the first helper's cold fetch of one) and the ratios are taken
/// within each round: printed, and written to target/criterion/paired.json.
fn paired_ratios(store: &Home, ours: &Home, ours_classic: &Home, first: &Home) {
    const ROUNDS: usize = 300;
    let timed = |home: &Home, cold: bool| {
        if cold {
            home.make_cold();
        }
        let started = Instant::now();
        home.fill();
        started.elapsed().as_secs_f64() * 1e3
    };
    let mut rows: [Vec<f64>; 5] = Default::default();
    let (mut hit_ratio, mut cold_ratio, mut first_ratio) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let round = [
            timed(store, false),
            timed(ours, false),
            timed(ours, true),
            timed(ours_classic, true),
            timed(first, true),
        ];
        hit_ratio.push(round[1] / round[0]);
        cold_ratio.push(round[2] / round[1]);
        first_ratio.push(round[3] / round[4]);
        for (row, ms) in rows.iter_mut().zip(round) {
            row.push(ms);
        }
    }
    let quartiles = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        [v[v.len() / 4], v[v.len() / 2], v[v.len() * 3 / 4]]
    };
    let names = [
        "store_hit_ms",
        "our_hit_ms",
        "our_cold_ms",
        "our_cold_classic_ms",
        "first_helper_cold_classic_ms",
    ];
    let mut json = serde_json::Map::new();
    for (name, row) in names.iter().zip(rows.iter_mut()) {
        json.insert(name.to_string(), quartiles(row).into());
    }
    for (name, v) in [
        ("hit_over_store", &mut hit_ratio),
        ("cold_over_hit", &mut cold_ratio),
        ("our_cold_over_first_helper_cold", &mut first_ratio),
    ] {
        let q = quartiles(v);
        println!(
            "paired ({ROUNDS} rounds) {name}: median {:.2} [p25 {:.2}, p75 {:.2}]",
            q[1], q[0], q[2]
        );
        json.insert(name.to_string(), q.into());
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion/paired.json");
    let _ = std::fs::create_dir_all(out.parent().unwrap());
    let _ = std::fs::write(out, serde_json::to_string_pretty(&json).unwrap());
}

fn burst(c: &mut Criterion) {
    let platform = FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        ..Default::default()
    })
    .unwrap();
    let home = Home::new(&platform);
    wire_ours(&home);
    let mut group = c.benchmark_group("burst");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("32_concurrent_cold_fills", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                home.make_cold();
                let before = platform.requests();
                let started = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..32 {
                        s.spawn(|| home.fill());
                    }
                });
                total += started.elapsed();
                assert_eq!(platform.requests() - before, 1, "single flight broke");
            }
            total
        })
    });
    group.finish();
}

/// The time of `iters` first installs, each in a new home that `prepare`
/// sets up (outside the timing) and turns into an installer.
fn first_installs(
    platform: &FakePlatform,
    iters: u64,
    prepare: impl Fn(&mut Home) -> molecule_credential_helper::RealInstaller,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut home = Home::new(platform);
        let installer = prepare(&mut home);
        let started = Instant::now();
        let report = installer.install();
        total += started.elapsed();
        home.stop_daemon();
        assert!(!report.has_failures(), "{report}");
    }
    total
}

fn install(c: &mut Criterion) {
    let platform = FakePlatform::start(FakePlatformConfig {
        secret: SECRET.into(),
        ..Default::default()
    })
    .unwrap();
    let mut group = c.benchmark_group("install");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));

    group.bench_function("first_run_real", |b| {
        b.iter_custom(|iters| first_installs(&platform, iters, |home| home.installer()))
    });

    // A gh that never answers (an api.github.com that accepts and stalls)
    // and a provision token to give it: install must not wait for it. The
    // detached logins end by their own 1 s timeout.
    group.bench_function("first_run_real_gh_hangs", |b| {
        b.iter_custom(|iters| {
            first_installs(&platform, iters, |home| {
                home.with_hanging_gh();
                home.installer_keeping_env_tokens()
            })
        })
    });

    let home = Home::new(&platform);
    let first = home.installer().install();
    assert!(!first.has_failures(), "{first}");
    let installer = home.installer();
    group.bench_function("second_run_real", |b| b.iter(|| installer.install()));
    home.stop_daemon();

    let world = FakeSystem::new();
    let fake = world.installer(Config::new("/home/agent", BTreeMap::new()));
    fake.install();
    group.bench_function("second_run_fakes", |b| b.iter(|| fake.install()));
    group.finish();
}

criterion_group!(benches, helper_get, burst, install);
criterion_main!(benches);
