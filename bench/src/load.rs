//! The load generator: a fixed number of keep-alive HTTP/1.1 connections
//! (hyper's low-level client, one task per connection), a warm-up, then a
//! fixed measurement window. Latencies go into an HDR histogram (microseconds,
//! 3 significant digits). A connection the server closes (`Connection: close`,
//! as gunicorn's sync workers do) is re-opened, and the reconnect is part of the
//! next request's latency, as a client would see it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// `GET api/hello/`: no authentication (the baseline).
    Hello,
    /// `GET api/me/` with a Bearer access token.
    Me,
    /// `GET api/whoami/` with a Bearer access token: no user read (the peer's
    /// route uses SimpleJWT's `JWTStatelessUserAuthentication`).
    Whoami,
    /// `POST api/token/verify/` of an access token.
    Verify,
    /// `POST api/token/refresh/`: each connection rotates its own chain.
    Refresh,
    /// `POST api/token/blacklist/` of pre-minted refresh tokens (`--tokens`).
    Logout,
    /// `POST api/token/` with the user's password.
    Login,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Hello => "hello",
            Scenario::Me => "me",
            Scenario::Whoami => "whoami",
            Scenario::Verify => "verify",
            Scenario::Refresh => "refresh",
            Scenario::Logout => "logout",
            Scenario::Login => "login",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Base URL, e.g. http://127.0.0.1:8000/ (plain HTTP, loopback).
    #[arg(long)]
    pub base: String,
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Open connections (each with one request in flight).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Runtime worker threads of the load generator.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    #[arg(long, default_value = "alice")]
    pub username: String,
    #[arg(long, default_value = "correct horse battery")]
    pub password: String,
    /// Refresh tokens for `logout`, one a line; each is used once.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// A name for the server in the output (e.g. warden, simplejwt).
    #[arg(long, default_value = "server")]
    pub label: String,
    /// Round number, recorded in the output.
    #[arg(long, default_value_t = 0)]
    pub round: u32,
    /// The server's pid: its resident memory is read from /proc after the run.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A size tag recorded in the output (database size in the scaling runs).
    #[arg(long)]
    pub size: Option<u64>,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One run's result (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub label: String,
    pub scenario: String,
    pub round: u32,
    pub connections: usize,
    pub duration_s: f64,
    pub measured_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub reconnects: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Server RSS after the run (KiB), if its pid was given.
    pub rss_kib: Option<u64>,
    /// Server peak RSS (KiB).
    pub hwm_kib: Option<u64>,
    /// 1-minute load average when the run ended.
    pub loadavg_1m: Option<f64>,
    /// First few error descriptions.
    pub error_samples: Vec<String>,
    /// Free-form tags (e.g. database size in the scaling runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

struct Target {
    addr: SocketAddr,
    host: String,
    prefix: String,
}

impl Target {
    fn parse(base: &str) -> anyhow::Result<Target> {
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("only http:// URLs are supported: {base}"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr: SocketAddr = hostport
            .parse()
            .with_context(|| format!("expected an IP:port in {base}"))?;
        let prefix = path.trim_end_matches('/').to_string();
        Ok(Target {
            addr,
            host: hostport.to_string(),
            prefix,
        })
    }

    fn uri(&self, path: &str) -> String {
        format!("{}/{}", self.prefix, path.trim_start_matches('/'))
    }
}

/// A keep-alive connection, re-opened when the server closes it.
struct Conn {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    reconnects: u64,
}

struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Conn {
    fn new(target: Arc<Target>) -> Conn {
        Conn {
            target,
            sender: None,
            reconnects: 0,
        }
    }

    async fn open(&mut self) -> anyhow::Result<()> {
        let stream = TcpStream::connect(self.target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<String>,
    ) -> anyhow::Result<Answer> {
        let ready = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !ready {
            if self.sender.is_some() {
                self.reconnects += 1;
            }
            self.open().await?;
            if let Some(s) = self.sender.as_mut() {
                s.ready().await?;
            }
        }
        let Some(sender) = self.sender.as_mut() else {
            bail!("no connection");
        };
        let mut req = Request::builder()
            .method(method)
            .uri(self.target.uri(path))
            .header(header::HOST, &self.target.host)
            .header(header::ACCEPT, "application/json");
        if let Some(t) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match json {
            Some(j) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(j))
            }
            None => Full::new(Bytes::new()),
        };
        let resp = sender.send_request(req.body(body)?).await?;
        let close = resp
            .headers()
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if close {
            self.sender = None;
            self.reconnects += 1;
        }
        Ok(Answer { status, body })
    }
}

fn json_field(body: &[u8], field: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_slice(body)?;
    v.get(field)
        .and_then(|x| x.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no {field:?} in {}", String::from_utf8_lossy(body)))
}

/// `api/token/`: returns (access, refresh).
async fn login(conn: &mut Conn, user: &str, password: &str) -> anyhow::Result<(String, String)> {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    let a = conn
        .send(Method::POST, "api/token/", None, Some(body))
        .await?;
    if !a.status.is_success() {
        bail!(
            "login as {user} failed: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    Ok((
        json_field(&a.body, "access")?,
        json_field(&a.body, "refresh")?,
    ))
}

/// What one connection does once per request.
enum Work {
    Get {
        path: &'static str,
        bearer: Option<String>,
    },
    Verify {
        body: String,
    },
    Refresh {
        head: String,
    },
    Logout {
        tokens: Vec<String>,
    },
    Login {
        body: String,
    },
}

struct Tally {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    samples: Vec<String>,
    last_done: Option<Instant>,
    reconnects: u64,
}

fn note_error(t: &mut Tally, what: String) {
    t.errors += 1;
    if t.samples.len() < 5 {
        t.samples.push(what);
    }
}

async fn drive(
    mut conn: Conn,
    mut work: Work,
    args: Arc<(String, String)>,
    warm_end: Instant,
    end: Instant,
) -> anyhow::Result<Tally> {
    let mut t = Tally {
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        ok: 0,
        errors: 0,
        samples: Vec::new(),
        last_done: None,
        reconnects: 0,
    };
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        let outcome: anyhow::Result<Result<(), String>> = match &mut work {
            Work::Get { path, bearer } => conn
                .send(Method::GET, path, bearer.as_deref(), None)
                .await
                .map(|a| check(&a)),
            Work::Verify { body } => conn
                .send(Method::POST, "api/token/verify/", None, Some(body.clone()))
                .await
                .map(|a| check(&a)),
            Work::Login { body } => conn
                .send(Method::POST, "api/token/", None, Some(body.clone()))
                .await
                .map(|a| check(&a)),
            Work::Logout { tokens } => match tokens.pop() {
                None => break,
                Some(tok) => {
                    let body = serde_json::json!({ "refresh": tok }).to_string();
                    conn.send(Method::POST, "api/token/blacklist/", None, Some(body))
                        .await
                        .map(|a| check(&a))
                }
            },
            Work::Refresh { head } => {
                let body = serde_json::json!({ "refresh": head }).to_string();
                match conn
                    .send(Method::POST, "api/token/refresh/", None, Some(body))
                    .await
                {
                    Ok(a) if a.status.is_success() => match json_field(&a.body, "refresh") {
                        Ok(next) => {
                            *head = next;
                            Ok(Ok(()))
                        }
                        Err(e) => Err(e),
                    },
                    Ok(a) => {
                        // The chain is broken: count it, start a new chain.
                        let why = format!("{} {}", a.status, String::from_utf8_lossy(&a.body));
                        note_error(&mut t, why);
                        let (_, r) = login(&mut conn, &args.0, &args.1).await?;
                        *head = r;
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let done = Instant::now();
        // Throughput counts the answers that arrive inside the window (as wrk
        // does), so slow requests (logins) that started in the warm-up count too.
        let measured = done >= warm_end && done <= end;
        match outcome {
            Ok(Ok(())) => {
                if measured {
                    t.ok += 1;
                    let us =
                        u64::try_from(done.duration_since(start).as_micros()).unwrap_or(u64::MAX);
                    t.hist.saturating_record(us.max(1));
                    t.last_done = Some(done);
                }
            }
            Ok(Err(why)) => {
                if measured {
                    note_error(&mut t, why);
                }
            }
            Err(e) => {
                if measured {
                    note_error(&mut t, format!("{e:#}"));
                }
                // A broken connection is re-opened by the next send.
                conn.sender = None;
            }
        }
    }
    t.reconnects = conn.reconnects;
    Ok(t)
}

fn check(a: &Answer) -> Result<(), String> {
    if a.status.is_success() {
        Ok(())
    } else {
        Err(format!("{} {}", a.status, String::from_utf8_lossy(&a.body)))
    }
}

pub fn rss_kib(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn run(args: LoadArgs) -> anyhow::Result<RunResult> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let result = rt.block_on(run_async(&args))?;
    println!(
        "{:<10} {:<8} round {}  {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>8.2} ms  errors {}{}",
        result.label,
        result.scenario,
        result.round,
        result.rps,
        result.p50_ms,
        result.p99_ms,
        result.errors,
        result
            .rss_kib
            .map(|r| format!("  rss {:.1} MiB", r as f64 / 1024.0))
            .unwrap_or_default()
    );
    if let Some(out) = &args.out {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .with_context(|| format!("cannot open {}", out.display()))?;
        writeln!(f, "{}", serde_json::to_string(&result)?)?;
    }
    Ok(result)
}

async fn run_async(args: &LoadArgs) -> anyhow::Result<RunResult> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let target = Arc::new(Target::parse(&args.base)?);
    let creds = Arc::new((args.username.clone(), args.password.clone()));

    // Set-up, not timed: tokens and one connection per task.
    let mut pool: Vec<String> = match (args.scenario, &args.tokens) {
        (Scenario::Logout, Some(p)) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        (Scenario::Logout, None) => bail!("the logout scenario needs --tokens FILE"),
        _ => Vec::new(),
    };
    let shared_access = match args.scenario {
        Scenario::Me | Scenario::Whoami | Scenario::Verify => {
            let mut c = Conn::new(Arc::clone(&target));
            Some(login(&mut c, &creds.0, &creds.1).await?.0)
        }
        _ => None,
    };
    let per_conn = pool.len().div_ceil(args.connections);
    let mut works = Vec::with_capacity(args.connections);
    // Refresh chains: one login per connection, a few at a time (logins are expensive by design).
    let chain_heads = if args.scenario == Scenario::Refresh {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..args.connections {
            let target = Arc::clone(&target);
            let creds = Arc::clone(&creds);
            let heads = Arc::clone(&heads);
            set.spawn(async move {
                let mut c = Conn::new(target);
                let (_, r) = login(&mut c, &creds.0, &creds.1).await?;
                heads.lock().await.push(r);
                anyhow::Ok(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        std::mem::take(&mut *heads.lock().await)
    } else {
        Vec::new()
    };
    for i in 0..args.connections {
        let work = match args.scenario {
            Scenario::Hello => Work::Get {
                path: "api/hello/",
                bearer: None,
            },
            Scenario::Me => Work::Get {
                path: "api/me/",
                bearer: shared_access.clone(),
            },
            Scenario::Whoami => Work::Get {
                path: "api/whoami/",
                bearer: shared_access.clone(),
            },
            Scenario::Verify => Work::Verify {
                body: serde_json::json!({ "token": shared_access.clone().unwrap_or_default() })
                    .to_string(),
            },
            Scenario::Refresh => Work::Refresh {
                head: chain_heads.get(i).cloned().unwrap_or_default(),
            },
            Scenario::Logout => {
                let take = per_conn.min(pool.len());
                Work::Logout {
                    tokens: pool.split_off(pool.len() - take),
                }
            }
            Scenario::Login => Work::Login {
                body: serde_json::json!({ "username": creds.0, "password": creds.1 }).to_string(),
            },
        };
        let mut conn = Conn::new(Arc::clone(&target));
        conn.open().await?;
        works.push((conn, work));
    }

    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = warm_end + Duration::from_secs_f64(args.duration.max(0.1));
    let mut set = tokio::task::JoinSet::new();
    for (conn, work) in works {
        set.spawn(drive(conn, work, Arc::clone(&creds), warm_end, end));
    }
    let mut hist: Histogram<u64> = Histogram::new_with_bounds(1, 120_000_000, 3)?;
    let (mut ok, mut errors, mut reconnects) = (0u64, 0u64, 0u64);
    let mut samples = Vec::new();
    let mut last_done: Option<Instant> = None;
    let mut any_pool_dry = false;
    while let Some(r) = set.join_next().await {
        let t = r??;
        hist.add(&t.hist)?;
        ok += t.ok;
        errors += t.errors;
        reconnects += t.reconnects;
        samples.extend(t.samples);
        last_done = last_done.max(t.last_done);
        if args.scenario == Scenario::Logout && t.last_done.is_some_and(|d| d < end) {
            any_pool_dry = true;
        }
    }
    // A logout pool that ran dry ends the window at the last answer.
    let measured_end = match (any_pool_dry, last_done) {
        (true, Some(d)) => d.min(end),
        _ => end,
    };
    let measured_s = measured_end
        .saturating_duration_since(warm_end)
        .as_secs_f64()
        .max(1e-6);
    let (rss, hwm) = args.server_pid.map(rss_kib).unwrap_or((None, None));
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    samples.truncate(5);
    Ok(RunResult {
        label: args.label.clone(),
        scenario: args.scenario.name().to_string(),
        round: args.round,
        connections: args.connections,
        duration_s: args.duration,
        measured_s,
        requests: ok,
        errors,
        reconnects,
        rps: ok as f64 / measured_s,
        p50_ms: ms(0.50),
        p90_ms: ms(0.90),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
        mean_ms: hist.mean() / 1000.0,
        rss_kib: rss,
        hwm_kib: hwm,
        loadavg_1m: loadavg(),
        error_samples: samples,
        size: args.size,
    })
}
