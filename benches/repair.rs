//! The `repair` sweep (the helper's `_repair`) over 200 repositories under
//! one root:
//! - cold: each repository's `remote.origin.url` holds a token, so every
//!   one is read and rewritten through git;
//! - warm: nothing to change, clean https remotes (the one grep prefilter
//!   rules every config out: no git runs);
//! - warm, token-as-username remotes (`https://TOKEN@github.com/o/r.git`,
//!   left alone: git asks the helper for the password): nothing to change,
//!   but every config passes the prefilter, so each is read through git
//!   (the prefilter's worst case, and what every warm sweep would cost
//!   without it).
//!
//! Run: `cargo bench --bench repair`. Figures: docs/performance.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use molecule_credential_helper::testing::sample_token;

const REPOS: usize = 200;

struct Root {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    configs: Vec<PathBuf>,
}

fn config_text(url: &str) -> String {
    format!(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[remote \"origin\"]\n\turl = {url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n"
    )
}

impl Root {
    /// 200 repositories, two levels below the root (`root/gN/rM`), as git
    /// init leaves them (HEAD, objects, refs, config).
    fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&home).unwrap();
        let mut configs = Vec::new();
        for i in 0..REPOS {
            let git = root.join(format!("g{}/r{i}/.git", i % 10));
            for sub in [
                "objects/info",
                "objects/pack",
                "refs/heads",
                "refs/tags",
                "hooks",
                "info",
            ] {
                std::fs::create_dir_all(git.join(sub)).unwrap();
            }
            std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
            std::fs::write(git.join("description"), "bench\n").unwrap();
            configs.push(git.join("config"));
        }
        let root = Root {
            _dir: dir,
            home,
            root,
            configs,
        };
        root.set_urls(|_| "https://github.com/o/r.git".into());
        root
    }

    fn set_urls(&self, url: impl Fn(usize) -> String) {
        for (i, c) in self.configs.iter().enumerate() {
            std::fs::write(c, config_text(&url(i))).unwrap();
        }
    }

    fn sweep(&self) -> usize {
        let out = Command::new("bash")
            .arg("-p")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/molecule-git-token-helper.sh"))
            .arg("_repair")
            .arg(&self.root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("CONFIGS_DIR", self.home.join("configs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("changed\t"))
            .count()
    }
}

fn repair(c: &mut Criterion) {
    let mut group = c.benchmark_group("repair_200_repos");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let root = Root::new();
    let tokens: Vec<String> = (0..REPOS as u64).map(sample_token).collect();
    group.bench_function("cold_every_repo_has_a_token_url", |b| {
        b.iter_batched(
            || {
                root.set_urls(|i| {
                    format!("https://x-access-token:{}@github.com/o/r.git", tokens[i])
                })
            },
            |()| assert_eq!(root.sweep(), REPOS),
            BatchSize::PerIteration,
        )
    });
    root.set_urls(|_| "https://github.com/o/r.git".into());
    group.bench_function("warm_nothing_to_change", |b| {
        b.iter(|| assert_eq!(root.sweep(), 0))
    });
    root.set_urls(|i| format!("https://{}@github.com/o/r.git", tokens[i]));
    group.bench_function("warm_token_as_username_every_config_read_by_git", |b| {
        b.iter(|| assert_eq!(root.sweep(), 0))
    });
    group.finish();
}

criterion_group!(benches, repair);
criterion_main!(benches);
