//! Summarises the JSON lines of an A/B run: per scenario and server the
//! median of the rounds with its spread (min–max), and Warden/SimpleJWT ratios
//! (the ratio of medians, and the min–max of the per-round ratios).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::load::RunResult;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The JSON-lines file the load runs appended to.
    pub results: PathBuf,
    /// The label of Warden's runs.
    #[arg(long, default_value = "warden")]
    pub warden: String,
    /// The label of SimpleJWT's runs.
    #[arg(long, default_value = "simplejwt")]
    pub peer: String,
    /// The label of the runs against SimpleJWT with durable commits (SQLite
    /// synchronous=FULL: PEER_SQLITE_MODE wal-full or django-default), for the write
    /// scenarios.
    #[arg(long, default_value = "simplejwt-durable")]
    pub durable_peer: String,
    /// Also write the Markdown tables here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

pub fn read(path: &PathBuf) -> anyhow::Result<Vec<RunResult>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("bad line: {l}")))
        .collect()
}

pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        })
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub rps: f64,
    pub rps_min: f64,
    pub rps_max: f64,
    pub p50: f64,
    pub p99: f64,
    pub p99_max: f64,
    pub errors: u64,
    pub requests: u64,
    pub rounds: usize,
    pub by_round: BTreeMap<u32, f64>,
}

pub fn summarise(runs: &[&RunResult]) -> Summary {
    let mut rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
    let (rps_min, rps_max) = min_max(&rps);
    let mut p50: Vec<f64> = runs.iter().map(|r| r.p50_ms).collect();
    let mut p99: Vec<f64> = runs.iter().map(|r| r.p99_ms).collect();
    let (_, p99_max) = min_max(&p99);
    Summary {
        rps: median(&mut rps),
        rps_min,
        rps_max,
        p50: median(&mut p50),
        p99: median(&mut p99),
        p99_max,
        errors: runs.iter().map(|r| r.errors).sum(),
        requests: runs.iter().map(|r| r.requests).sum(),
        rounds: runs.len(),
        by_round: runs.iter().map(|r| (r.round, r.rps)).collect(),
    }
}

const ORDER: [&str; 7] = [
    "hello", "whoami", "me", "verify", "refresh", "logout", "login",
];

fn fmt_rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let runs = read(&args.results)?;
    let text = render(&runs, &args.warden, &args.peer, &args.durable_peer);
    print!("{text}");
    if let Some(p) = &args.markdown {
        std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

pub fn render(runs: &[RunResult], warden: &str, peer: &str, durable_peer: &str) -> String {
    let mut groups: BTreeMap<(String, String), Vec<&RunResult>> = BTreeMap::new();
    for r in runs {
        groups
            .entry((r.scenario.clone(), r.label.clone()))
            .or_default()
            .push(r);
    }
    let get = |s: &str, l: &str| {
        groups
            .get(&(s.to_string(), l.to_string()))
            .map(|v| summarise(v))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | server | req/s median [min–max] | p50 ms | p99 ms (worst) | errors / requests | rounds |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for s in ORDER {
        for l in [warden, peer, durable_peer] {
            if let Some(x) = get(s, l) {
                let _ = writeln!(
                    out,
                    "| {s} | {l} | {} [{}–{}] | {:.2} | {:.2} ({:.2}) | {} / {} | {} |",
                    fmt_rate(x.rps),
                    fmt_rate(x.rps_min),
                    fmt_rate(x.rps_max),
                    x.p50,
                    x.p99,
                    x.p99_max,
                    x.errors,
                    x.requests,
                    x.rounds
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| Warden / SimpleJWT | ratio of medians | per-round ratios [min–max] |"
    );
    let _ = writeln!(out, "|---|---|---|");
    // Like with like: whoami reads no user on either side (SimpleJWT's is
    // JWTStatelessUserAuthentication); me loads the user on both.
    let pairs: [(&str, &str, &str, &str); 8] = [
        (
            "token only: Warden whoami / SimpleJWT whoami (stateless)",
            "whoami",
            "whoami",
            peer,
        ),
        ("token + user: Warden me / SimpleJWT me", "me", "me", peer),
        ("verify", "verify", "verify", peer),
        ("refresh with rotation", "refresh", "refresh", peer),
        (
            "refresh with rotation, both durable (SimpleJWT fsyncs each commit)",
            "refresh",
            "refresh",
            durable_peer,
        ),
        ("logout (blacklist)", "logout", "logout", peer),
        (
            "logout, both durable (SimpleJWT fsyncs each commit)",
            "logout",
            "logout",
            durable_peer,
        ),
        ("login", "login", "login", peer),
    ];
    for (name, ws, ps, pl) in pairs {
        let (Some(w), Some(p)) = (get(ws, warden), get(ps, pl)) else {
            continue;
        };
        let per_round: Vec<f64> = w
            .by_round
            .iter()
            .filter_map(|(round, wr)| p.by_round.get(round).map(|pr| wr / pr))
            .collect();
        let (lo, hi) = min_max(&per_round);
        let _ = writeln!(
            out,
            "| {name} | {:.1}x | {:.1}–{:.1}x |",
            w.rps / p.rps,
            lo,
            hi
        );
    }
    if let Some(h) = get("hello", warden) {
        let _ = writeln!(out);
        let _ = writeln!(out, "| Warden, same server | share of hello's req/s |");
        let _ = writeln!(out, "|---|---|");
        for s in ["whoami", "me", "verify"] {
            if let Some(x) = get(s, warden) {
                let _ = writeln!(out, "| {s} / hello | {:.0} % |", 100.0 * x.rps / h.rps);
            }
        }
    }
    let loads: Vec<f64> = runs.iter().filter_map(|r| r.loadavg_1m).collect();
    if !loads.is_empty() {
        let (lo, hi) = min_max(&loads);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "1-minute load average at the end of the runs: {lo:.2}–{hi:.2} (2 cores)."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, scenario: &str, round: u32, rps: f64) -> RunResult {
        RunResult {
            label: label.into(),
            scenario: scenario.into(),
            round,
            connections: 16,
            duration_s: 6.0,
            measured_s: 6.0,
            requests: (rps * 6.0) as u64,
            errors: 0,
            reconnects: 0,
            rps,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
            mean_ms: 1.5,
            rss_kib: None,
            hwm_kib: None,
            loadavg_1m: None,
            error_samples: vec![],
            size: None,
        }
    }

    #[test]
    fn ratios_against_each_peer_use_the_median_and_pair_rounds() {
        let runs = vec![
            run("warden", "refresh", 1, 6000.0),
            run("warden", "refresh", 2, 8000.0),
            run("warden", "refresh", 3, 7000.0),
            run("simplejwt", "refresh", 1, 300.0),
            run("simplejwt", "refresh", 2, 400.0),
            run("simplejwt", "refresh", 3, 350.0),
            run("simplejwt-durable", "refresh", 1, 60.0),
            run("simplejwt-durable", "refresh", 2, 100.0),
            run("simplejwt-durable", "refresh", 3, 70.0),
        ];
        let text = render(&runs, "warden", "simplejwt", "simplejwt-durable");
        assert!(
            text.contains("| refresh with rotation | 20.0x | 20.0–20.0x |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| refresh with rotation, both durable (SimpleJWT fsyncs each commit) | 100.0x | 80.0–100.0x |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| refresh | simplejwt-durable | 70.0 [60.0–100] |"),
            "{text}"
        );
        // No durable runs of logout: no line for it.
        assert!(!text.contains("logout, both durable"), "{text}");
    }
}
