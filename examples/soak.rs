//! The soak: the real installer, daemon, git and gh through compressed hours
//! of a workspace's life, with platform outages (503, connections closed at
//! once, stalls, a slow platform, one outage longer than a token's life) and
//! kills (daemon `kill -9`, supervisor `kill -9` then re-install), against
//! the github.com stand-in in a private network namespace.
//!
//! ```text
//! cargo run --release --example soak -- --hours 24 --speed 60
//! ```
//!
//! At `--speed 60` a 60-minute token lives 60 s and every duration (the
//! daemon's settings, the outages) shrinks alike. It prints a summary and
//! writes `soak.json` and `soak.svg` (token life left over time for git and
//! gh, outages shaded, failures marked) to `--out`. With `--check` (CI) it
//! exits 1 unless every auth failure falls inside the one outage longer than
//! a token's life and git and gh recover after it.
//!
//! Needs root (it runs itself inside `unshare --net --mount --pid`), git, gh,
//! bash, curl and flock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use molecule_credential_helper::report::count;
use molecule_credential_helper::testing::{
    namespace, FakeGitHub, FakeMode, FakePlatform, FakePlatformConfig, TokenAuthority,
};
use molecule_credential_helper::{Config, Installer, Layout};
use plotters::prelude::*;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// Compressed hours to run.
    #[arg(long, default_value_t = 24.0)]
    hours: f64,
    /// Compression: a 60-minute token lives 3600 / SPEED seconds.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Where soak.json and soak.svg go.
    #[arg(long, default_value = "target/soak")]
    out: PathBuf,
    /// The platform hands back one cached token until 5 minutes before it
    /// expires (the real platform's GitHub App plugin), instead of minting.
    #[arg(long)]
    caching_platform: bool,
    /// Exit 1 unless the expectations hold (CI).
    #[arg(long)]
    check: bool,
}

/// Compressed minutes of token life, the soak's unit.
const TOKEN_LIFE_MIN: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Outage(FakeMode),
    SlowPlatform,
    KillDaemon,
    KillSupervisorAndReinstall,
}

/// One scheduled fault, in compressed minutes from the start.
#[derive(Debug, Clone, Copy)]
struct Scheduled {
    at: f64,
    minutes: f64,
    fault: Fault,
    /// Longer than a token's life: failures are expected.
    long: bool,
}

/// The faults of one 6-hour cycle, repeated for longer runs.
fn schedule(hours: f64) -> Vec<Scheduled> {
    let cycle = [
        Scheduled {
            at: 40.0,
            minutes: 20.0,
            fault: Fault::Outage(FakeMode::Http503),
            long: false,
        },
        Scheduled {
            at: 90.0,
            minutes: 0.0,
            fault: Fault::KillDaemon,
            long: false,
        },
        Scheduled {
            at: 120.0,
            minutes: 15.0,
            fault: Fault::Outage(FakeMode::Closed),
            long: false,
        },
        Scheduled {
            at: 170.0,
            minutes: 0.0,
            fault: Fault::KillSupervisorAndReinstall,
            long: false,
        },
        Scheduled {
            at: 200.0,
            minutes: 10.0,
            fault: Fault::Outage(FakeMode::Slow),
            long: false,
        },
        Scheduled {
            at: 240.0,
            minutes: 30.0,
            fault: Fault::SlowPlatform,
            long: false,
        },
        // Ends at minute 340, so a 6-hour run (CI's) still has the 12
        // minutes after it in which `--check` looks for the recovery.
        Scheduled {
            at: 275.0,
            minutes: 65.0,
            fault: Fault::Outage(FakeMode::Http500),
            long: true,
        },
    ];
    let mut all = Vec::new();
    let mut start = 0.0;
    while start < hours * 60.0 {
        for s in cycle {
            if start + s.at < hours * 60.0 {
                all.push(Scheduled {
                    at: start + s.at,
                    ..s
                });
            }
        }
        start += 360.0;
    }
    all
}

#[derive(Debug, Clone)]
struct Op {
    minute: f64,
    kind: &'static str,
    ok: bool,
    cause: Option<String>,
    /// Compressed minutes the presented token had left.
    token_left: Option<f64>,
}

fn epoch_f64(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

struct Soak {
    args: Args,
    dir: PathBuf,
    home: PathBuf,
    env: BTreeMap<String, String>,
    platform: FakePlatform,
    authority: TokenAuthority,
    github: FakeGitHub,
    started: Instant,
}

impl Soak {
    /// Compressed seconds as real whole seconds (at least 1).
    fn secs(speed: f64, compressed: f64) -> u64 {
        ((compressed / speed).round() as u64).max(1)
    }

    fn new(args: Args) -> Result<Soak, String> {
        let dir = args.out.join("world");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let dir = dir.canonicalize().map_err(|e| e.to_string())?;
        namespace::prepare_inside(&dir).map_err(|e| e.to_string())?;
        let s = |c: f64| Self::secs(args.speed, c).to_string();
        let platform = FakePlatform::start(FakePlatformConfig {
            secret: "soak-bearer".into(),
            ttl_secs: Self::secs(args.speed, 3600.0),
            cache_lead_secs: args.caching_platform.then(|| Self::secs(args.speed, 300.0)),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
        let authority = platform.authority();
        let github = FakeGitHub::start(&dir.join("github"), 443, platform.authority())
            .map_err(|e| format!("github.com stand-in: {e}"))?;
        github.create_repo("o", "r").map_err(|e| e.to_string())?;
        let home = dir.join("home");
        let configs = dir.join("configs");
        std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&configs).map_err(|e| e.to_string())?;
        std::fs::write(configs.join(".auth_token"), "soak-bearer\n").map_err(|e| e.to_string())?;
        let ca = github.ca_pem().display().to_string();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("HOME", home.display().to_string()),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("LANG", "C".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GIT_SSL_CAINFO", ca.clone()),
            ("SSL_CERT_FILE", ca),
            ("GH_NO_UPDATE_NOTIFIER", "1".into()),
            ("GH_PROMPT_DISABLED", "1".into()),
            ("GIT_AUTHOR_NAME", "agent".into()),
            ("GIT_AUTHOR_EMAIL", "agent@example.com".into()),
            ("GIT_COMMITTER_NAME", "agent".into()),
            ("GIT_COMMITTER_EMAIL", "agent@example.com".into()),
            ("CONFIGS_DIR", configs.display().to_string()),
            ("PLATFORM_URL", platform.url()),
            ("TOKEN_CACHE_TTL_SEC", s(3000.0)),
            ("TOKEN_EXPIRY_MARGIN_SEC", s(300.0)),
            ("TOKEN_MIN_REMAINING_SEC", s(60.0)),
            // Room for the slow platform (1 s late) inside the timeout.
            (
                "TOKEN_FETCH_TIMEOUT_SEC",
                (Self::secs(args.speed, 120.0)).max(3).to_string(),
            ),
            ("GH_LOGIN_TIMEOUT_SEC", s(120.0)),
            ("TOKEN_REFRESH_INTERVAL_SEC", s(2700.0)),
            ("TOKEN_REFRESH_JITTER_SEC", s(120.0)),
            ("TOKEN_REFRESH_INITIAL_DELAY_SEC", s(60.0)),
            ("TOKEN_REFRESH_RETRY_MIN_SEC", s(30.0)),
            ("TOKEN_REFRESH_RETRY_MAX_SEC", s(300.0)),
            ("TOKEN_REFRESH_RESPAWN_SEC", s(30.0)),
        ] {
            env.insert(k.to_string(), v);
        }
        Ok(Soak {
            args,
            dir,
            home,
            env,
            platform,
            authority,
            github,
            started: Instant::now(),
        })
    }

    fn minute(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.args.speed / 60.0
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(&self.env).current_dir(&self.dir);
        cmd.stdin(Stdio::null());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    /// Installs as the runtime does at start-up, with the provision-time
    /// token in GH_TOKEN (the workspace's git and gh calls run without it,
    /// as the report advises).
    fn install(&self) -> Result<(), String> {
        let mut env = self.env.clone();
        env.insert("GH_TOKEN".into(), self.provision_token()?);
        let report = Installer::real(Config::isolated_with(&self.home, &env)).install();
        if report.has_failures() {
            return Err(format!("install failed:\n{report}"));
        }
        Ok(())
    }

    /// A token from the platform, as the one a workspace is provisioned with.
    fn provision_token(&self) -> Result<String, String> {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(self.platform.addr()).map_err(|e| e.to_string())?;
        write!(
            stream,
            "GET /admin/github-installation-token HTTP/1.1\r\nHost: platform\r\nAuthorization: Bearer soak-bearer\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .map_err(|e| e.to_string())?;
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("provision token: {e}"))?;
        value["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "provision token: no token".into())
    }

    fn work(&self) -> String {
        self.dir.join("work").display().to_string()
    }

    /// One git or gh operation, with what the stand-in saw of it.
    fn op(&self, kind: &'static str, n: usize) -> Op {
        let before = self.github.requests().len();
        let minute = self.minute();
        let work = self.work();
        let out = match kind {
            "git fetch" => self.run("git", &["-C", &work, "fetch", "-q", "origin"]),
            "git push" => {
                let file = format!("f{n}.txt");
                let _ = std::fs::write(Path::new(&work).join(&file), n.to_string());
                let _ = self.run("git", &["-C", &work, "add", &file]);
                let _ = self.run("git", &["-C", &work, "commit", "-q", "-m", &file]);
                self.run("git", &["-C", &work, "push", "-q", "origin", "HEAD:main"])
            }
            _ => self.run("gh", &["api", "repos/o/r"]),
        };
        let host = if kind == "gh api" {
            "api.github.com"
        } else {
            "github.com"
        };
        let seen: Vec<_> = self
            .github
            .requests()
            .into_iter()
            .skip(before)
            .filter(|r| r.host == host)
            .collect();
        let presented = seen.iter().rev().find(|r| r.token_serial.is_some());
        let token_left = presented.and_then(|r| {
            let expires = self.authority.expires_at(r.token_serial?)? as f64;
            Some((expires - epoch_f64(r.when)) * self.args.speed / 60.0)
        });
        let ok = out.status.success();
        let cause = (!ok).then(|| match seen.iter().rev().find(|r| r.status == 401) {
            Some(r) if r.token_state == "none" => {
                "auth: 401 (no token presented: the helper had none)".into()
            }
            Some(r) => format!("auth: 401 ({} token)", r.token_state),
            None if seen.is_empty() => "auth: no credential (nothing reached GitHub)".into(),
            None => format!(
                "other: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
            ),
        });
        Op {
            minute,
            kind,
            ok,
            cause,
            token_left,
        }
    }

    fn supervisor(&self) -> Option<i32> {
        std::fs::read_to_string(Layout::new(&self.home).pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn daemon(&self) -> Option<i32> {
        let (_, daemons) = molecule_credential_helper::supervisor::running(
            &molecule_credential_helper::os::RealProcTable,
            &Layout::new(&self.home),
            nix::unistd::geteuid().as_raw(),
        );
        daemons.first().copied()
    }

    fn apply(&self, fault: Fault, on: bool) -> Result<(), String> {
        let kill9 = |pid: Option<i32>| {
            if let Some(pid) = pid {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        };
        match (fault, on) {
            (Fault::Outage(mode), true) => {
                self.platform.set_slow_secs(3600);
                self.platform.set_mode(mode);
            }
            (Fault::Outage(_), false) | (Fault::SlowPlatform, false) => {
                self.platform.set_slow_secs(0);
                self.platform.set_mode(FakeMode::Ok);
            }
            (Fault::SlowPlatform, true) => {
                // Slower than usual, well inside the fetch timeout.
                self.platform.set_slow_secs(1);
                self.platform.set_mode(FakeMode::Slow);
            }
            (Fault::KillDaemon, true) => kill9(self.daemon()),
            (Fault::KillSupervisorAndReinstall, true) => {
                kill9(self.supervisor());
                std::thread::sleep(Duration::from_millis(200));
                self.install()?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !namespace::is_inside() {
        if let Some(why) = namespace::unavailable() {
            // Never a silent pass: CI must run the soak.
            let ci = std::env::var_os("CI").is_some();
            eprintln!(
                "SKIP soak: no private network namespace here: {why}{}",
                if ci {
                    " (CI is set, so this fails)"
                } else {
                    ""
                }
            );
            return if ci {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
        let exe = std::env::current_exe().expect("own path");
        let status = namespace::command_inside(&exe)
            .args(std::env::args_os().skip(1))
            .status()
            .expect("unshare");
        return ExitCode::from(status.code().unwrap_or(1) as u8);
    }
    match soak(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `6 compressed hours`, `1 compressed hour`.
fn compressed_hours(hours: f64) -> String {
    let noun = if hours == 1.0 { "hour" } else { "hours" };
    format!("{hours} compressed {noun}")
}

fn soak(args: Args) -> Result<bool, String> {
    let soak = Soak::new(args)?;
    let (hours, speed) = (soak.args.hours, soak.args.speed);
    let faults = schedule(hours);
    eprintln!(
        "soak: {} at speed {speed} ({:.0} s), {}, {} platform",
        compressed_hours(hours),
        hours * 3600.0 / speed,
        count(faults.len() as u64, "fault", "faults"),
        if soak.args.caching_platform {
            "caching"
        } else {
            "minting"
        }
    );
    soak.install()?;
    let work = soak.work();
    let clone = soak.run("git", &["clone", "-q", "https://github.com/o/r.git", &work]);
    if !clone.status.success() {
        return Err(format!("clone: {}", String::from_utf8_lossy(&clone.stderr)));
    }
    let mut ops = Vec::new();
    let mut events = Vec::new();
    let mut active: Vec<(Scheduled, bool)> = faults.iter().map(|f| (*f, false)).collect();
    let (mut next_git, mut next_gh, mut n) = (1.0, 2.0, 0usize);
    while soak.minute() < hours * 60.0 {
        let now = soak.minute();
        for (f, started) in active.iter_mut() {
            if !*started && now >= f.at {
                *started = true;
                soak.apply(f.fault, true)?;
                events.push(
                    json!({"minute": now, "event": format!("{:?} for {} min", f.fault, f.minutes)}),
                );
            }
            if *started && f.minutes > 0.0 && now >= f.at + f.minutes && f.minutes >= 0.0 {
                soak.apply(f.fault, false)?;
                events.push(json!({"minute": now, "event": format!("{:?} over", f.fault)}));
                f.minutes = -1.0; // done
            }
        }
        if now >= next_git {
            n += 1;
            let kind = if n % 2 == 0 { "git push" } else { "git fetch" };
            ops.push(soak.op(kind, n));
            next_git += 3.0;
        }
        if now >= next_gh {
            ops.push(soak.op("gh api", n));
            next_gh += 6.0;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    report(&soak, &faults, &ops, &events)
}

fn report(
    soak: &Soak,
    faults: &[Scheduled],
    ops: &[Op],
    events: &[serde_json::Value],
) -> Result<bool, String> {
    let (hours, speed) = (soak.args.hours, soak.args.speed);
    let outages: Vec<&Scheduled> = faults
        .iter()
        .filter(|f| matches!(f.fault, Fault::Outage(_)))
        .collect();
    let in_long = |m: f64| {
        outages
            .iter()
            .any(|o| o.long && m >= o.at && m <= o.at + o.minutes + 10.0)
    };
    let auth_failures: Vec<&Op> = ops
        .iter()
        .filter(|o| o.cause.as_deref().is_some_and(|c| c.starts_with("auth")))
        .collect();
    let unexpected: Vec<&&Op> = auth_failures
        .iter()
        .filter(|o| !in_long(o.minute))
        .collect();
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_cause: BTreeMap<String, usize> = BTreeMap::new();
    for o in ops {
        let e = by_kind.entry(o.kind).or_default();
        if o.ok {
            e.0 += 1
        } else {
            e.1 += 1
        }
        if let Some(c) = &o.cause {
            *by_cause.entry(c.clone()).or_default() += 1;
        }
    }
    let lowest = |pred: &dyn Fn(&Op) -> bool| {
        ops.iter()
            .filter(|o| o.ok && pred(o))
            .filter_map(|o| o.token_left)
            .fold(f64::INFINITY, f64::min)
    };
    let lowest_git = lowest(&|o| o.kind.starts_with("git"));
    let lowest_gh = lowest(&|o| o.kind == "gh api");
    let survived = outages
        .iter()
        .filter(|o| {
            !auth_failures
                .iter()
                .any(|f| f.minute >= o.at && f.minute <= o.at + o.minutes + 10.0)
        })
        .map(|o| o.minutes)
        .fold(0.0, f64::max);
    let long_failed = outages.iter().filter(|o| o.long).all(|o| {
        auth_failures
            .iter()
            .any(|f| f.minute >= o.at && f.minute <= o.at + o.minutes + 10.0)
    });
    let checkable: Vec<&&Scheduled> = outages
        .iter()
        .filter(|o| o.long && o.at + o.minutes + 12.0 < hours * 60.0)
        .collect();
    // A long outage that ends too late to look for the recovery must not
    // pass `--check` as "recovered": it counts as unchecked.
    let recovery_checked = checkable.len();
    let recovery_unchecked = recovery_checked == 0 && outages.iter().any(|o| o.long);
    let recovered = !recovery_unchecked
        && checkable.iter().all(|o| {
            ["git", "gh"].iter().all(|k| {
                ops.iter()
                    .any(|op| op.ok && op.kind.starts_with(k) && op.minute > o.at + o.minutes)
            })
        });
    let requests = soak.platform.requests();
    // Outside the faults (and 10 minutes after each): the steady state.
    let in_a_fault = |m: f64| {
        faults
            .iter()
            .any(|f| m >= f.at && m <= f.at + f.minutes.max(0.0) + 10.0)
    };
    let calm: Vec<f64> = soak
        .platform
        .arrivals()
        .iter()
        .map(|d| d.as_secs_f64() * speed / 60.0)
        .filter(|m| !in_a_fault(*m))
        .collect();
    let calm_minutes = (0..(hours * 60.0) as usize)
        .filter(|m| !in_a_fault(*m as f64))
        .count() as f64;
    let calm_rate = calm.len() as f64 / (calm_minutes / 60.0).max(1.0 / 60.0);
    let summary = json!({
        "compressed_hours": hours,
        "speed": speed,
        "wall_seconds": soak.started.elapsed().as_secs_f64(),
        "platform": if soak.args.caching_platform { "caching (rotates 5 min before expiry)" } else { "mints on every request" },
        "operations": by_kind.iter().map(|(k, (ok, failed))| (k.to_string(), json!({"ok": ok, "failed": failed}))).collect::<serde_json::Map<_, _>>(),
        "failures_by_cause": by_cause,
        "auth_failures_outside_the_long_outage": unexpected.len(),
        "long_outage_failed_as_expected": long_failed,
        "recovered_after_the_long_outage": recovered,
        "platform_requests": requests,
        "platform_requests_per_workspace_hour": requests as f64 / hours,
        "platform_requests_per_workspace_hour_outside_faults": calm_rate,
        "tokens_issued": soak.platform.issued().len(),
        // Each token by GitHub's audit-log name (base64 of its SHA-256),
        // never the token: an operator can search the audit log for it.
        "tokens": soak.platform.issued().iter().map(|t| json!({
            "hashed_token": molecule_credential_helper::secret::fingerprint(&t.token),
            "expires_at": t.expires_at,
        })).collect::<Vec<_>>(),
        "lowest_token_life_left_minutes": {"git": lowest_git, "gh": lowest_gh},
        "longest_outage_survived_minutes": survived,
        "faults": faults.iter().map(|f| json!({"minute": f.at, "minutes": f.minutes.max(0.0), "fault": format!("{:?}", f.fault), "longer_than_a_token": f.long})).collect::<Vec<_>>(),
        "events": events,
        "ops": ops.iter().map(|o| json!({"minute": o.minute, "kind": o.kind, "ok": o.ok, "cause": o.cause, "token_left_minutes": o.token_left})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(&soak.args.out).map_err(|e| e.to_string())?;
    let json_path = soak.args.out.join("soak.json");
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    // The report names tokens only by fingerprint: none of them is in it.
    if let Some(t) = soak
        .platform
        .issued()
        .iter()
        .find(|t| text.contains(&t.token))
    {
        return Err(format!(
            "an issued token (hashed_token {}) is in the report",
            molecule_credential_helper::secret::fingerprint(&t.token)
        ));
    }
    std::fs::write(&json_path, text).map_err(|e| e.to_string())?;
    let svg_path = soak.args.out.join("soak.svg");
    draw(&svg_path, hours, &outages, ops).map_err(|e| format!("svg: {e}"))?;
    println!(
        "soak: {} at speed {speed}: {}",
        compressed_hours(hours),
        count(ops.len() as u64, "operation", "operations")
    );
    for (k, (ok, failed)) in &by_kind {
        println!("  {k}: {ok} ok, {failed} failed");
    }
    for (c, n) in &by_cause {
        println!("  failure: {c}: {n}");
    }
    println!(
        "  platform requests: {requests} ({:.2} per workspace-hour; {calm_rate:.2} outside faults); tokens issued: {}",
        requests as f64 / hours,
        soak.platform.issued().len()
    );
    println!("  lowest token life left when used: git {lowest_git:.1} min, gh {lowest_gh:.1} min");
    println!("  longest outage survived without an auth failure: {survived:.0} min");
    println!(
        "  auth failures outside the long outage: {}; the long outage failed as expected: {long_failed}; recovered after it: {recovered} ({} checked)",
        unexpected.len(),
        count(recovery_checked as u64, "long outage", "long outages")
    );
    println!("  wrote {} and {}", json_path.display(), svg_path.display());
    let ok = unexpected.is_empty() && long_failed && recovered;
    if soak.args.check && !ok {
        for o in unexpected {
            eprintln!(
                "unexpected auth failure at minute {:.1}: {} ({:?})",
                o.minute, o.kind, o.cause
            );
        }
        return Ok(false);
    }
    Ok(true)
}

/// Token life left over time for git and gh, outages shaded, failures marked.
fn draw(
    path: &Path,
    hours: f64,
    outages: &[&Scheduled],
    ops: &[Op],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "token life left when git and gh used it (outages shaded, failures ×)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..hours, -4f64..(TOKEN_LIFE_MIN + 4.0))?;
    chart
        .configure_mesh()
        .x_desc("compressed hours")
        .y_desc("minutes left")
        .draw()?;
    for o in outages {
        let color = if o.long {
            RGBColor(255, 190, 190)
        } else {
            RGBColor(255, 225, 200)
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [
                (o.at / 60.0, -4.0),
                ((o.at + o.minutes.max(0.0)) / 60.0, TOKEN_LIFE_MIN + 4.0),
            ],
            color.filled(),
        )))?;
    }
    let points = |kind: &str| -> Vec<(f64, f64)> {
        ops.iter()
            .filter(|o| o.ok && o.kind.starts_with(kind))
            .filter_map(|o| Some((o.minute / 60.0, o.token_left?)))
            .collect()
    };
    for (kind, color) in [("git", BLUE), ("gh", GREEN)] {
        chart
            .draw_series(
                points(kind)
                    .into_iter()
                    .map(move |p| Circle::new(p, 2, color.filled())),
            )?
            .label(kind)
            .legend(move |(x, y)| Circle::new((x, y), 3, color.filled()));
    }
    chart
        .draw_series(
            ops.iter()
                .filter(|o| !o.ok)
                .map(|o| Cross::new((o.minute / 60.0, -2.0), 4, RED.stroke_width(2))),
        )?
        .label("failed")
        .legend(|(x, y)| Cross::new((x, y), 4, RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
