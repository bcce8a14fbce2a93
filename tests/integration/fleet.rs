//! Fleet view, computed: N workspaces restarted at the same instant, each
//! daemon on the script's default timings and its adaptive schedule, against
//! both platform behaviours: one that mints a token on every request, and
//! one that caches a single installation token and rotates it `lead`
//! seconds before it expires (the real platform's GitHub App plugin). The
//! jitter must keep the peak at or below 1.5 × N / jitter requests a second,
//! and the steady state at or below 2.5 requests per workspace-hour.
//!
//! `cargo test --test integration fleet -- --nocapture` prints the figures.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use molecule_credential_helper::scripts;

/// The default the daemon script gives `var` (`${VAR:-N}`), read from the
/// embedded script itself so the simulation follows the shipped code.
fn script_default(var: &str) -> u64 {
    let text = String::from_utf8_lossy(scripts::contents(scripts::DAEMON_SCRIPT)).into_owned();
    let needle = format!("${{{var}:-");
    let start = text
        .find(&needle)
        .unwrap_or_else(|| panic!("{var} has no default"))
        + needle.len();
    text[start..].split('}').next().unwrap().parse().unwrap()
}

struct Rng(u64);

impl Rng {
    /// Uniform in 0..=max, like the script's jitter.
    fn upto(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % (max + 1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Timings {
    initial: u64,
    interval: u64,
    jitter: u64,
    retry_min: u64,
    margin: u64,
}

impl Timings {
    fn defaults() -> Self {
        Timings {
            initial: script_default("TOKEN_REFRESH_INITIAL_DELAY_SEC"),
            interval: script_default("TOKEN_REFRESH_INTERVAL_SEC"),
            jitter: script_default("TOKEN_REFRESH_JITTER_SEC"),
            retry_min: script_default("TOKEN_REFRESH_RETRY_MIN_SEC"),
            margin: script_default("TOKEN_EXPIRY_MARGIN_SEC"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Platform {
    Minting,
    /// One shared token, rotated `lead` seconds before it expires.
    Caching {
        lead: u64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Schedule {
    /// Before this change: INTERVAL + jitter after every success.
    Fixed,
    /// Half-life for a new token, cache-stale time for the same one.
    Adaptive,
}

const TOKEN_LIFE: u64 = 3600;

/// The daemon's `PRIME_JITTER`, read from the embedded script.
fn prime_jitter() -> u64 {
    let text = String::from_utf8_lossy(scripts::contents(scripts::DAEMON_SCRIPT)).into_owned();
    let start = text.find("readonly PRIME_JITTER=").expect("PRIME_JITTER") + 22;
    text[start..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Requests per second over `horizon` seconds when every refresh succeeds.
fn simulate(
    n: usize,
    t: Timings,
    platform: Platform,
    schedule: Schedule,
    horizon: u64,
    seed: u64,
) -> Vec<u32> {
    simulate_start(n, t, platform, schedule, horizon, seed, None)
}

/// As [`simulate`]; with `prime`, every workspace also makes gh's login
/// request at start, 0..=prime seconds in (no provision token, nothing
/// cached: the first daemon fetches one for gh at once).
fn simulate_start(
    n: usize,
    t: Timings,
    platform: Platform,
    schedule: Schedule,
    horizon: u64,
    seed: u64,
    prime: Option<u64>,
) -> Vec<u32> {
    let mut per_second = vec![0u32; horizon as usize];
    let mut rng = Rng(seed);
    if let Some(prime) = prime {
        for _ in 0..n {
            per_second[rng.upto(prime) as usize] += 1;
        }
    }
    // The shared token the caching platform holds when the fleet restarts:
    // somewhere in its life.
    let mut shared_expiry = rng.upto(TOKEN_LIFE) + 1;
    let mut queue: BinaryHeap<Reverse<(u64, usize)>> = (0..n)
        .map(|ws| Reverse((t.initial + rng.upto(t.jitter), ws)))
        .collect();
    let mut last_expiry = vec![None::<u64>; n];
    while let Some(Reverse((now, ws))) = queue.pop() {
        if now >= horizon {
            continue;
        }
        per_second[now as usize] += 1;
        let expiry = match platform {
            Platform::Minting => now + TOKEN_LIFE,
            Platform::Caching { lead } => {
                if shared_expiry <= now + lead {
                    shared_expiry = now + TOKEN_LIFE;
                }
                shared_expiry
            }
        };
        let base = match schedule {
            Schedule::Fixed => t.interval,
            Schedule::Adaptive => {
                let delay = if last_expiry[ws] == Some(expiry) {
                    expiry.saturating_sub(t.margin + now)
                } else {
                    (expiry - now) / 2
                };
                delay.clamp(t.retry_min, t.interval)
            }
        };
        last_expiry[ws] = Some(expiry);
        queue.push(Reverse((now + base + rng.upto(t.jitter), ws)));
    }
    per_second
}

struct Figures {
    /// The restart storm: the first 10 minutes.
    restart_peak: u32,
    /// After the first 2 hours (rotation bursts of a shared token).
    steady_peak: u32,
    per_workspace_hour: f64,
}

fn figures(load: &[u32], n: usize) -> Figures {
    let steady: u64 = load[7200..].iter().map(|&r| u64::from(r)).sum();
    let hours = (load.len() - 7200) as f64 / 3600.0;
    Figures {
        restart_peak: *load[..600].iter().max().unwrap(),
        steady_peak: *load[7200..].iter().max().unwrap(),
        per_workspace_hour: steady as f64 / n as f64 / hours,
    }
}

#[test]
fn restart_storm_and_steady_state_stay_within_bounds_for_both_platforms() {
    let n = 10_000;
    let t = Timings::defaults();
    assert_eq!(
        (t.initial, t.interval, t.jitter, t.retry_min, t.margin),
        (60, 2700, 120, 30, 300),
        "defaults drifted from docs/contract.md"
    );
    let bound = 1.5 * n as f64 / t.jitter as f64;
    let horizon = 26 * 3600;
    for (platform, name) in [
        (Platform::Minting, "minting"),
        (Platform::Caching { lead: 300 }, "caching (lead 300 s)"),
    ] {
        for (schedule, when) in [(Schedule::Fixed, "before"), (Schedule::Adaptive, "after")] {
            let (mut worst_peak, mut worst_steady_peak) = (0, 0);
            let mut worst_rate: f64 = 0.0;
            for seed in 1..=5u64 {
                let load = simulate(
                    n,
                    t,
                    platform,
                    schedule,
                    horizon,
                    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                let f = figures(&load, n);
                worst_peak = worst_peak.max(f.restart_peak);
                worst_steady_peak = worst_steady_peak.max(f.steady_peak);
                worst_rate = worst_rate.max(f.per_workspace_hour);
            }
            eprintln!(
                "fleet: N={n}, {name} platform, {when}: restart peak {worst_peak}/s (bound {bound:.0}/s), steady-state peak {worst_steady_peak}/s, {worst_rate:.2} requests per workspace-hour (worst of 5 seeds)"
            );
            if let Schedule::Adaptive = schedule {
                assert!(
                    f64::from(worst_peak) <= bound,
                    "{name}: peak {worst_peak}/s > {bound}/s"
                );
                assert!(
                    worst_rate <= 2.5,
                    "{name}: {worst_rate} requests per workspace-hour"
                );
                assert!(
                    worst_rate >= 1.5,
                    "{name}: {worst_rate}: the simulation refreshes too rarely to keep tokens"
                );
            }
        }
    }
    // Without jitter, every workspace would hit the platform in the same second.
    let no_jitter = Timings { jitter: 0, ..t };
    let load = simulate(n, no_jitter, Platform::Minting, Schedule::Adaptive, 7200, 1);
    assert_eq!(*load.iter().max().unwrap() as usize, n);
}

/// gh at start, without a provision token: each restarted workspace's first
/// daemon fetches a token for gh within PRIME_JITTER seconds, on top of the
/// schedule above. The restart peak is then N / (PRIME_JITTER + 1) a
/// second, well above the jittered schedule's: the price of gh working
/// seconds after start. (With the provision token the platform normally
/// gives, install primes gh with it and no such request is made.)
#[test]
fn restart_peak_with_gh_primed_at_start() {
    let n = 10_000;
    let t = Timings::defaults();
    let prime = prime_jitter();
    assert!(prime <= 5, "gh must be primed within seconds: {prime}");
    let mut worst = 0;
    for seed in 1..=5u64 {
        let load = simulate_start(
            n,
            t,
            Platform::Minting,
            Schedule::Adaptive,
            3 * 3600,
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            Some(prime),
        );
        worst = worst.max(*load[..600].iter().max().unwrap());
        let in_window: u32 = load[..=prime as usize].iter().sum();
        assert_eq!(
            in_window as usize, n,
            "every workspace primes within the window"
        );
    }
    let spread = n as f64 / (prime + 1) as f64;
    eprintln!(
        "fleet: N={n}, minting platform, adaptive, gh primed at start: restart peak {worst}/s (N/(PRIME_JITTER+1) = {spread:.0}/s; without priming 111/s)"
    );
    // Spread over the window: no second takes more than 1.5 x its share.
    assert!(f64::from(worst) <= 1.5 * spread, "{worst}/s");
}
