//! SVG plots of the scaling curves and the A/B comparison (plotters):
//!
//! - `verify_vs_revoked.svg` — criterion `scaling_verify/revoked/N`
//! - `logout_all_vs_sessions.svg` — criterion `scaling_logout_all/sessions/N`
//! - `refresh_vs_db_size.svg` — criterion `scaling_rotate/db_sessions/N` (one
//!   caller) and the HTTP scaling runs (16 chains)
//! - `memory.svg` — RSS of the criterion process with N revocation entries, and
//!   of `warden serve` after start and after load at each database size
//! - `http_comparison.svg` — median req/s per scenario, Warden vs SimpleJWT
//!
//! Inputs missing on disk are skipped with a note (a plot is drawn from what
//! was measured, never from made-up points).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use plotters::prelude::*;
use serde::Deserialize;

use crate::load::RunResult;
use crate::report;

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Criterion's output directory (target/criterion).
    #[arg(long)]
    pub criterion: PathBuf,
    /// Where the HTTP runs' JSON lines are (docs/bench).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the SVGs.
    #[arg(long)]
    pub out: PathBuf,
}

/// Median and its confidence interval, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    median: f64,
    lo: f64,
    hi: f64,
}

#[derive(Deserialize)]
struct Ci {
    lower_bound: f64,
    upper_bound: f64,
}
#[derive(Deserialize)]
struct Point {
    point_estimate: f64,
    confidence_interval: Ci,
}
#[derive(Deserialize)]
struct Estimates {
    median: Point,
}

/// `<criterion>/<group>/<function>/<n>/new/estimates.json` for every n.
fn criterion_series(root: &Path, group: &str, function: &str) -> Vec<(u64, Estimate)> {
    let dir = root.join(group).join(function);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<(u64, Estimate)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n: u64 = e.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(e.path().join("new/estimates.json")).ok()?;
            let est: Estimates = serde_json::from_str(&text).ok()?;
            Some((
                n,
                Estimate {
                    median: est.median.point_estimate,
                    lo: est.median.confidence_interval.lower_bound,
                    hi: est.median.confidence_interval.upper_bound,
                },
            ))
        })
        .collect();
    v.sort_by_key(|(n, _)| *n);
    v
}

fn short(n: f64) -> String {
    if n >= 1e6 {
        format!("{}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{}k", n / 1e3)
    } else {
        format!("{n}")
    }
}

fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
}

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (820, 500);

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut drawn = Vec::new();
    if verify(&args)? {
        drawn.push("verify_vs_revoked.svg");
    }
    if logout_all(&args)? {
        drawn.push("logout_all_vs_sessions.svg");
    }
    if refresh(&args)? {
        drawn.push("refresh_vs_db_size.svg");
    }
    if memory(&args)? {
        drawn.push("memory.svg");
    }
    if comparison(&args)? {
        drawn.push("http_comparison.svg");
    }
    for d in &drawn {
        println!("wrote {}", args.out.join(d).display());
    }
    Ok(())
}

fn verify(args: &PlotArgs) -> anyhow::Result<bool> {
    let s = criterion_series(&args.criterion, "scaling_verify", "revoked");
    if s.is_empty() {
        eprintln!("no criterion scaling_verify results: skipping verify_vs_revoked.svg");
        return Ok(false);
    }
    let path = args.out.join("verify_vs_revoked.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let us: Vec<(f64, Estimate)> = s
        .iter()
        .map(|(n, e)| {
            (
                *n as f64,
                Estimate {
                    median: e.median / 1e3,
                    lo: e.lo / 1e3,
                    hi: e.hi / 1e3,
                },
            )
        })
        .collect();
    let base = us[0].1.median;
    let ymax = us.iter().map(|(_, e)| e.hi).fold(base * 1.2, f64::max) * 1.25;
    let labels: Vec<String> = us.iter().map(|(n, _)| short(*n)).collect();
    let k = us.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Verify an HS256 access token vs revocation-set size (engine, criterion median)",
            (FONT, 18),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.5f64..(k - 0.5), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_labels(us.len())
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("revoked entries in the set (half sessions, half jtis)")
        .y_desc("µs per authenticate()")
        .draw()?;
    let pts: Vec<(f64, f64)> = us
        .iter()
        .enumerate()
        .map(|(i, (_, e))| (i as f64, e.median))
        .collect();
    chart
        .draw_series(LineSeries::new(pts.clone(), BLUE.stroke_width(2)))?
        .label("median (bars: 95% CI of the median)")
        .legend(legend_line(BLUE));
    chart.draw_series(
        us.iter()
            .enumerate()
            .map(|(i, (_, e))| ErrorBar::new_vertical(i as f64, e.lo, e.median, e.hi, BLUE, 8)),
    )?;
    chart
        .draw_series(LineSeries::new(
            vec![(-0.5, base * 1.2), (k - 0.5, base * 1.2)],
            RED.stroke_width(1),
        ))?
        .label("target: 1.2 × the empty set")
        .legend(legend_line(RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(true)
}

fn logout_all(args: &PlotArgs) -> anyhow::Result<bool> {
    let s = criterion_series(&args.criterion, "scaling_logout_all", "sessions");
    if s.is_empty() {
        eprintln!("no criterion scaling_logout_all results: skipping logout_all_vs_sessions.svg");
        return Ok(false);
    }
    let path = args.out.join("logout_all_vs_sessions.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let ms: Vec<(f64, Estimate)> = s
        .iter()
        .map(|(n, e)| {
            (
                *n as f64,
                Estimate {
                    median: e.median / 1e6,
                    lo: e.lo / 1e6,
                    hi: e.hi / 1e6,
                },
            )
        })
        .collect();
    let ymin = ms.iter().map(|(_, e)| e.lo).fold(f64::INFINITY, f64::min) / 2.0;
    let ymax = ms.iter().map(|(_, e)| e.hi).fold(20.0, f64::max) * 2.0;
    let xmax = ms.last().map_or(10_000.0, |(n, _)| *n) * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Logout-all vs the user's live sessions (engine, durable, criterion median)",
            (FONT, 18),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(
            (0.5f64..xmax).log_scale(),
            (ymin.max(1e-3)..ymax).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .x_desc("sessions of the user (log)")
        .y_desc("ms per logout-all (log)")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            ms.iter().map(|(n, e)| (*n, e.median)),
            BLUE.stroke_width(2),
        ))?
        .label("median (bars: 95% CI of the median)")
        .legend(legend_line(BLUE));
    chart.draw_series(
        ms.iter()
            .map(|(n, e)| ErrorBar::new_vertical(*n, e.lo, e.median, e.hi, BLUE, 8)),
    )?;
    chart
        .draw_series(LineSeries::new(
            vec![(0.5, 20.0), (xmax, 20.0)],
            RED.stroke_width(1),
        ))?
        .label("target: 10,000 sessions < 20 ms")
        .legend(legend_line(RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(true)
}

fn read_runs(path: &Path) -> Vec<RunResult> {
    if path.exists() {
        report::read(&path.to_path_buf()).unwrap_or_default()
    } else {
        Vec::new()
    }
}

fn refresh(args: &PlotArgs) -> anyhow::Result<bool> {
    let engine = criterion_series(&args.criterion, "scaling_rotate", "db_sessions");
    let http: Vec<(f64, f64)> = read_runs(&args.data.join("scaling-results.jsonl"))
        .iter()
        .filter(|r| r.scenario == "refresh")
        .filter_map(|r| r.size.map(|s| (s as f64, r.rps)))
        .collect();
    if engine.is_empty() && http.is_empty() {
        eprintln!("no rotate scaling results: skipping refresh_vs_db_size.svg");
        return Ok(false);
    }
    let path = args.out.join("refresh_vs_db_size.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let eng: Vec<(f64, f64)> = engine
        .iter()
        .map(|(n, e)| (*n as f64, 1e9 / e.median))
        .collect();
    let all: Vec<(f64, f64)> = eng.iter().chain(http.iter()).copied().collect();
    let xmin = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) / 2.0;
    let xmax = all.iter().map(|p| p.0).fold(0.0, f64::max) * 2.0;
    let ymax = all.iter().map(|p| p.1).fold(0.0, f64::max) * 1.3;
    let mut chart = ChartBuilder::on(&root)
        .caption("Durable refresh with rotation vs database size", (FONT, 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(75)
        .build_cartesian_2d((xmin.max(1.0)..xmax).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("sessions in the database (log)")
        .y_desc("refreshes per second")
        .draw()?;
    if !eng.is_empty() {
        chart
            .draw_series(LineSeries::new(eng.clone(), BLUE.stroke_width(2)))?
            .label("engine, one caller (1 / criterion median)")
            .legend(legend_line(BLUE));
        chart.draw_series(eng.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))?;
    }
    if !http.is_empty() {
        chart
            .draw_series(LineSeries::new(http.clone(), GREEN.stroke_width(2)))?
            .label("HTTP, warden serve, 16 chains (group commit)")
            .legend(legend_line(GREEN));
        chart.draw_series(http.iter().map(|p| Circle::new(*p, 4, GREEN.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(true)
}

#[derive(Deserialize)]
struct MemLine {
    entries: u64,
    rss_kib: u64,
    base_rss_kib: u64,
}

#[derive(Deserialize)]
struct StartRss {
    size: u64,
    rss_kib: u64,
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn memory(args: &PlotArgs) -> anyhow::Result<bool> {
    // The last run's lines win (the file is appended to by every bench run).
    let mut set: BTreeMap<u64, f64> = BTreeMap::new();
    for m in jsonl::<MemLine>(&args.criterion.join("warden-memory.jsonl")) {
        set.insert(
            m.entries.max(1),
            m.rss_kib.saturating_sub(m.base_rss_kib) as f64 / 1024.0,
        );
    }
    let start: BTreeMap<u64, f64> = jsonl::<StartRss>(&args.data.join("scaling-rss.jsonl"))
        .into_iter()
        .map(|s| (s.size, s.rss_kib as f64 / 1024.0))
        .collect();
    let loaded: BTreeMap<u64, f64> = read_runs(&args.data.join("scaling-results.jsonl"))
        .iter()
        .filter_map(|r| Some((r.size?, r.rss_kib? as f64 / 1024.0)))
        .fold(BTreeMap::new(), |mut m, (k, v)| {
            let e: &mut f64 = m.entry(k).or_insert(0.0);
            *e = e.max(v);
            m
        });
    if set.is_empty() && start.is_empty() {
        eprintln!("no memory measurements: skipping memory.svg");
        return Ok(false);
    }
    let path = args.out.join("memory.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let all = set.iter().chain(start.iter()).chain(loaded.iter());
    let xmax = all.clone().map(|(k, _)| *k as f64).fold(10.0, f64::max) * 2.0;
    let ymax = all.map(|(_, v)| *v).fold(1.0, f64::max) * 1.3;
    let mut chart = ChartBuilder::on(&root)
        .caption("Resident memory vs size", (FONT, 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d((0.5f64..xmax).log_scale(), 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| short(*v))
        .x_desc("revoked entries / sessions (log; 0 drawn at 1)")
        .y_desc("MiB")
        .draw()?;
    let series: [(&BTreeMap<u64, f64>, RGBColor, &str); 3] = [
        (
            &set,
            BLUE,
            "revocation set: process RSS over the empty set (criterion)",
        ),
        (
            &start,
            GREEN,
            "warden serve after start: N live + N revoked sessions",
        ),
        (
            &loaded,
            MAGENTA,
            "warden serve after 16-chain refresh and whoami load",
        ),
    ];
    for (data, color, label) in series {
        if data.is_empty() {
            continue;
        }
        let pts: Vec<(f64, f64)> = data.iter().map(|(k, v)| (*k as f64, *v)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(legend_line(color));
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(true)
}

fn comparison(args: &PlotArgs) -> anyhow::Result<bool> {
    let runs = read_runs(&args.data.join("http-results.jsonl"));
    if runs.is_empty() {
        eprintln!("no http-results.jsonl: skipping http_comparison.svg");
        return Ok(false);
    }
    let scenarios = [
        ("hello", "hello", "hello (no auth)"),
        ("whoami", "me", "auth GET*"),
        ("me", "me", "api/me"),
        ("verify", "verify", "verify"),
        ("refresh", "refresh", "refresh"),
        ("logout", "logout", "logout"),
        ("login", "login", "login"),
    ];
    let median_of = |label: &str, scenario: &str| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter(|r| r.label == label && r.scenario == scenario)
            .map(|r| r.rps)
            .collect();
        if v.is_empty() {
            None
        } else {
            Some(report::median(&mut v))
        }
    };
    let rows: Vec<(&str, Option<f64>, Option<f64>)> = scenarios
        .iter()
        .map(|(w, p, name)| (*name, median_of("warden", w), median_of("simplejwt", p)))
        .filter(|(_, a, b)| a.is_some() || b.is_some())
        .collect();
    let path = args.out.join("http_comparison.svg");
    let root = SVGBackend::new(&path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let ymax = rows
        .iter()
        .flat_map(|(_, a, b)| [a.unwrap_or(1.0), b.unwrap_or(1.0)])
        .fold(10.0, f64::max)
        * 3.0;
    let k = rows.len() as f64;
    let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Requests/s, median of the rounds (log); *Warden api/whoami vs SimpleJWT api/me",
            (FONT, 17),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(-0.5f64..(k - 0.5), (0.1f64..ymax).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len())
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names
                    .get(i as usize)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| short(*v))
        .y_desc("requests per second (log)")
        .draw()?;
    let bar = |i: usize, off: f64, v: f64, color: RGBColor| {
        let x = i as f64 + off;
        Rectangle::new([(x, 0.1), (x + 0.36, v.max(0.1))], color.filled())
    };
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter_map(|(i, (_, w, _))| w.map(|v| bar(i, -0.38, v, BLUE))),
        )?
        .label("Warden")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.filled()));
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter_map(|(i, (_, _, p))| p.map(|v| bar(i, 0.02, v, RED))),
        )?
        .label("SimpleJWT (gunicorn)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED.filled()));
    chart.draw_series(rows.iter().enumerate().flat_map(|(i, (_, w, p))| {
        [
            w.map(|v| (i as f64 - 0.2, v)),
            p.map(|v| (i as f64 + 0.2, v)),
        ]
        .into_iter()
        .flatten()
        .map(|(x, v)| Text::new(short_rate(v), (x - 0.15, v * 1.25), (FONT, 12).into_font()))
    }))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(true)
}

fn short_rate(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
