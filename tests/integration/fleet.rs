//! Fleet view, computed: N workspaces restarted at the same instant, each
//! daemon on the script's default timings. The initial-delay jitter must keep
//! the platform's peak load at or below 1.5 × N / jitter requests a second.
//!
//! `cargo test --test integration fleet -- --nocapture` prints the figures.

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

/// Requests per second over `horizon` seconds when every refresh succeeds.
fn simulate(
    n: usize,
    initial: u64,
    interval: u64,
    jitter: u64,
    horizon: u64,
    seed: u64,
) -> Vec<u32> {
    let mut per_second = vec![0u32; horizon as usize];
    let mut rng = Rng(seed);
    for _ in 0..n {
        let mut t = initial + rng.upto(jitter);
        while t < horizon {
            per_second[t as usize] += 1;
            t += interval + rng.upto(jitter);
        }
    }
    per_second
}

#[test]
fn restart_storm_peak_stays_under_the_jitter_bound() {
    let n = 10_000;
    let initial = script_default("TOKEN_REFRESH_INITIAL_DELAY_SEC");
    let interval = script_default("TOKEN_REFRESH_INTERVAL_SEC");
    let jitter = script_default("TOKEN_REFRESH_JITTER_SEC");
    assert_eq!(
        (initial, interval, jitter),
        (60, 2700, 120),
        "defaults drifted from SPEC"
    );
    let bound = 1.5 * n as f64 / jitter as f64;
    let mut worst = 0;
    for seed in 1..=20u64 {
        let load = simulate(
            n,
            initial,
            interval,
            jitter,
            7200,
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let total: u32 = load.iter().sum();
        let peak = *load.iter().max().unwrap();
        assert!(
            f64::from(peak) <= bound,
            "seed {seed}: peak {peak}/s > bound {bound}/s"
        );
        // Every workspace refreshes at least twice in two hours.
        assert!(total as usize >= 2 * n);
        worst = worst.max(peak);
        if seed == 1 {
            let busiest = load.iter().position(|&r| r == peak).unwrap();
            eprintln!(
                "fleet: N={n}, initial={initial}s, interval={interval}s, jitter={jitter}s: \
                 {total} requests in 2 h, peak {peak}/s at t={busiest}s, bound {bound:.0}/s"
            );
        }
    }
    eprintln!("fleet: worst peak over 20 seeds {worst}/s (bound {bound:.0}/s; without jitter it would be {n}/s)");
    // Without jitter, every workspace would hit the platform in the same second.
    let no_jitter = simulate(n, initial, interval, 0, 7200, 1);
    assert_eq!(*no_jitter.iter().max().unwrap() as usize, n);
}
