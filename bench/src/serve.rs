//! The serve section of `just bench`: `extract serve` as a child process,
//! driven over its HTTP API the way a platform would drive it.
//!
//! - **Burst**: every tenant queues a few 1-page syncs at once; syncs per
//!   second over the whole burst and job latency (queued to finished, and
//!   started to finished) from the server's own job records.
//! - **Concurrent**: every tenant queues one sync against an API that takes
//!   seconds to answer, so that all of them are running at once; the peak
//!   RSS of the server while they do.
//! - **Noisy neighbour**: tenant B syncs alone, then again while tenant A
//!   runs the hostile component's looping and memory-bombing resources;
//!   B's time beside A against B's time alone.
//!
//! Every sync's rows are checked through `/v1/tables`; a job that fails
//! fails the bench.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

use crate::mock::{self, Mock, MockSpec};

const ADMIN: &str = "bench-admin-token-0123456789abcdef";
const KEY: &str = "5e0c1f2a3b4c5d6e7f80910a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e";

/// What the serve section runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Tenants (each with its own sources and DuckDB file).
    pub tenants: usize,
    /// 1-page syncs each tenant queues in the burst.
    pub jobs_per_tenant: usize,
    /// Records of the 1-page sync.
    pub records_per_sync: u64,
    /// How long the slow API takes to answer (the concurrent phase).
    pub slow_delay: Duration,
    /// Records tenant B syncs in the noisy-neighbour phase.
    pub neighbour_records: u64,
    /// `--max-concurrent-syncs` of the server.
    pub max_concurrent_syncs: usize,
    /// More flags for the server (the smoke test shortens the CPU deadline
    /// the looping component runs into).
    pub server_args: Vec<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            tenants: 100,
            jobs_per_tenant: 5,
            records_per_sync: 100,
            slow_delay: Duration::from_secs(2),
            neighbour_records: 20_000,
            max_concurrent_syncs: 100,
            server_args: Vec::new(),
        }
    }
}

/// Latency percentiles of a set of jobs.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Latency {
    fn of(mut ms: Vec<i64>) -> Self {
        if ms.is_empty() {
            return Self::default();
        }
        ms.sort_unstable();
        let at = |q: f64| {
            let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
            Duration::from_millis(ms[i].max(0) as u64)
        };
        Self {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// The burst of 1-page syncs.
#[derive(Debug, Clone, Default)]
pub struct Burst {
    /// Jobs queued.
    pub jobs: usize,
    /// From the first job queued to the last one finished (server clock).
    pub wall: Duration,
    /// CPU seconds the server used meanwhile.
    pub cpu: Duration,
    /// Queued to finished.
    pub latency: Latency,
    /// Started to finished.
    pub run: Latency,
}

impl Burst {
    /// Syncs per second over the burst.
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// All tenants' syncs running at once.
#[derive(Debug, Clone, Default)]
pub struct Concurrent {
    /// Syncs queued.
    pub syncs: usize,
    /// The most requests the slow API had in flight at once (= syncs
    /// running at once, each sends one).
    pub max_in_flight: u64,
    /// From the first job queued to the last one finished.
    pub wall: Duration,
    /// The server's peak RSS during this phase, in bytes.
    pub peak_rss: u64,
}

/// Tenant B alone and beside a hostile tenant A.
#[derive(Debug, Clone, Default)]
pub struct Neighbour {
    /// Records B syncs.
    pub records: u64,
    /// B's job (started to finished) alone: the best of three.
    pub alone: Duration,
    /// B's job (started to finished) while A's hostile jobs run.
    pub beside: Duration,
    /// How A's jobs ended, one line each.
    pub hostile: Vec<String>,
}

/// Everything the serve section measured.
#[derive(Debug, Clone, Default)]
pub struct ServeRun {
    /// The options.
    pub tenants: usize,
    /// The server's RSS once the tenants and sources exist, before syncs.
    pub idle_rss: u64,
    /// The burst.
    pub burst: Burst,
    /// The concurrent phase.
    pub concurrent: Concurrent,
    /// The noisy-neighbour phase.
    pub neighbour: Neighbour,
    /// The server's peak RSS over the burst and concurrent phases (the
    /// noisy phase is left out on purpose: its memory bomb grows to the
    /// component memory cap by design).
    pub peak_rss: u64,
    /// The server's command line.
    pub command: String,
}

/// A running `extract serve`.
struct Server {
    child: Child,
    url: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of `pid` so far.
fn proc_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    #[allow(unsafe_code)]
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn peak_rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmHWM:") * 1024
    }

    fn rss(&self) -> u64 {
        proc_status_kb(self.pid(), "VmRSS:") * 1024
    }

    /// Start counting the peak RSS afresh (`/proc/PID/clear_refs`).
    fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Body>,
    ) -> Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.url));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        req = match body {
            None => req,
            Some(Body::Json(v)) => req.json(&v),
            Some(Body::Wasm(bytes)) => req.header("content-type", "application/wasm").body(bytes),
        };
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn tenant(&self, name: &str) -> Result<String> {
        let v = self
            .call(
                "POST",
                "/v1/tenants",
                ADMIN,
                Some(Body::Json(json!({"name": name}))),
            )
            .await?;
        v["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no token in {v}"))
    }

    async fn source(&self, token: &str, name: &str, body: Value) -> Result<()> {
        self.call(
            "PUT",
            &format!("/v1/sources/{name}"),
            token,
            Some(Body::Json(body)),
        )
        .await
        .map(drop)
    }

    async fn sync(&self, token: &str, source: &str) -> Result<String> {
        let v = self
            .call("POST", &format!("/v1/sources/{source}/syncs"), token, None)
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no job id in {v}"))
    }

    async fn job(&self, token: &str, id: &str) -> Result<Value> {
        self.call("GET", &format!("/v1/jobs/{id}"), token, None)
            .await
    }

    /// Poll one job until it ends.
    async fn wait(&self, token: &str, id: &str, timeout: Duration) -> Result<Value> {
        let until = Instant::now() + timeout;
        loop {
            let v = self.job(token, id).await?;
            if !matches!(v["state"].as_str(), Some("queued" | "running")) {
                return Ok(v);
            }
            if Instant::now() > until {
                bail!("job {id} did not end within {timeout:?}: {v}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Jobs by state over all tenants, from `/metrics`.
    async fn job_states(&self) -> Result<std::collections::HashMap<String, u64>> {
        let text = self.call("GET", "/metrics", "", None).await?;
        let text = text.as_str().unwrap_or_default();
        let mut out = std::collections::HashMap::new();
        for line in text.lines().filter(|l| l.starts_with("extract_jobs{")) {
            let state = line
                .split("state=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default();
            let n: u64 = line
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            *out.entry(state.to_string()).or_default() += n;
        }
        Ok(out)
    }

    /// Wait until `finished` jobs over all tenants have ended.
    async fn wait_all(&self, finished: u64, timeout: Duration) -> Result<()> {
        let until = Instant::now() + timeout;
        loop {
            let states = self.job_states().await?;
            let ended: u64 = ["succeeded", "failed", "cancelled"]
                .iter()
                .map(|s| states.get(*s).copied().unwrap_or(0))
                .sum();
            if ended >= finished {
                return Ok(());
            }
            if Instant::now() > until {
                bail!("only {ended} of {finished} jobs ended within {timeout:?}: {states:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rows of `table` (`source.table`) of a tenant.
    async fn rows(&self, token: &str, table: &str) -> Result<u64> {
        let v = self.call("GET", "/v1/tables", token, None).await?;
        v.as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == table))
            .and_then(|t| t["rows"].as_u64())
            .ok_or_else(|| anyhow!("no table `{table}` in {v}"))
    }
}

enum Body {
    Json(Value),
    Wasm(Vec<u8>),
}

fn start(extract: &Path, dir: &Path, cache: &Path, args: &[String]) -> Result<(Server, String)> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("admin.token"), format!("{ADMIN}\n"))?;
    std::fs::write(dir.join("master.key"), format!("{KEY}\n"))?;
    let mut cmd = Command::new(extract);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--admin-token-file")
        .arg(dir.join("admin.token"))
        .arg("--secret-key-file")
        .arg(dir.join("master.key"))
        .args(args)
        .env("EXTRACT_CACHE_DIR", cache)
        .env(
            "EXTRACT_LOG",
            std::env::var("BENCH_SERVE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("server.log"))?);
    let command = crate::shell_words(&cmd);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting `{command}`"))?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let Some(url) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        bail!("`{command}` did not start: {line}{log}");
    };
    let server = Server {
        url: url.to_string(),
        child,
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
    };
    Ok((server, command))
}

fn source_body(base_url: &str, per_page: u64) -> Value {
    json!({"connector": "rest_api", "config": crate::items_config(base_url, per_page)})
}

/// Queued-to-finished and started-to-finished of every job of every tenant
/// for `source`, and the span from the first queued to the last finished.
async fn job_times(
    server: &Server,
    tokens: &[String],
    source: &str,
    expect: usize,
) -> Result<(Vec<i64>, Vec<i64>, Duration)> {
    let (mut queued, mut run) = (Vec::new(), Vec::new());
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for token in tokens {
        let jobs = server
            .call("GET", "/v1/jobs?limit=1000", token, None)
            .await?;
        let jobs = jobs.as_array().cloned().unwrap_or_default();
        let jobs: Vec<&Value> = jobs.iter().filter(|j| j["source"] == source).collect();
        ensure!(
            jobs.len() == expect,
            "a tenant has {} `{source}` jobs, expected {expect}",
            jobs.len()
        );
        for j in jobs {
            if j["state"] != "succeeded" {
                bail!("a `{source}` job did not succeed: {j}");
            }
            let at = |k: &str| j[k].as_i64().ok_or_else(|| anyhow!("no `{k}` in {j}"));
            let (c, s, f) = (
                at("created_at_ms")?,
                at("started_at_ms")?,
                at("finished_at_ms")?,
            );
            queued.push(f - c);
            run.push(f - s);
            first = first.min(c);
            last = last.max(f);
        }
    }
    let span = Duration::from_millis((last - first).max(0) as u64);
    Ok((queued, run, span))
}

/// Run the serve section.
pub async fn run(
    extract: &Path,
    work: &Path,
    components_dir: &Path,
    o: &ServeOptions,
) -> Result<ServeRun> {
    let dir = work.join("serve");
    let _ = std::fs::remove_dir_all(&dir);
    let one_page = |delay| MockSpec {
        records: o.records_per_sync,
        per_page: o.records_per_sync,
        delay,
    };
    let fast: Mock = mock::serve(one_page(Duration::ZERO), 0).await?;
    let slow: Mock = mock::serve(one_page(o.slow_delay), 0).await?;
    let big: Mock = mock::serve(
        MockSpec {
            records: o.neighbour_records,
            per_page: 1000,
            delay: Duration::ZERO,
        },
        0,
    )
    .await?;
    let mut args: Vec<String> = vec![
        "--allow-host".into(),
        "127.0.0.1".into(),
        "--max-concurrent-syncs".into(),
        o.max_concurrent_syncs.to_string(),
    ];
    args.extend(o.server_args.iter().cloned());
    let (server, command) = start(extract, &dir, &work.join("extract-cache"), &args)?;

    eprintln!("bench: serve: {} tenants", o.tenants);
    let mut tokens = Vec::with_capacity(o.tenants);
    for i in 0..o.tenants {
        let token = server.tenant(&format!("tenant-{i}")).await?;
        for (name, api) in [("items", &fast), ("slow", &slow)] {
            server
                .source(
                    &token,
                    name,
                    source_body(&api.base_url(), o.records_per_sync),
                )
                .await?;
        }
        tokens.push(token);
    }
    let idle_rss = server.rss();

    // The burst.
    let jobs = o.tenants * o.jobs_per_tenant;
    eprintln!("bench: serve: burst of {jobs} 1-page syncs");
    let cpu0 = proc_cpu(server.pid());
    for _ in 0..o.jobs_per_tenant {
        for token in &tokens {
            server.sync(token, "items").await?;
        }
    }
    server
        .wait_all(jobs as u64, Duration::from_secs(600))
        .await?;
    let cpu = proc_cpu(server.pid()).saturating_sub(cpu0);
    let (queued, ran, wall) = job_times(&server, &tokens, "items", o.jobs_per_tenant).await?;
    for token in &tokens {
        let rows = server.rows(token, "items.items").await?;
        let want = o.records_per_sync * o.jobs_per_tenant as u64;
        ensure!(
            rows == want,
            "a tenant has {rows} rows in items.items, expected {want}"
        );
    }
    let burst = Burst {
        jobs,
        wall,
        cpu,
        latency: Latency::of(queued),
        run: Latency::of(ran),
    };

    let burst_peak = server.peak_rss();

    // All tenants at once.
    eprintln!(
        "bench: serve: {} syncs at once against an API answering in {:?}",
        o.tenants, o.slow_delay
    );
    let reset = server.reset_peak_rss();
    for token in &tokens {
        server.sync(token, "slow").await?;
    }
    server
        .wait_all((jobs + o.tenants) as u64, Duration::from_secs(600))
        .await?;
    let (_, _, concurrent_wall) = job_times(&server, &tokens, "slow", 1).await?;
    let concurrent_peak = server.peak_rss();
    let concurrent = Concurrent {
        syncs: o.tenants,
        max_in_flight: slow.max_in_flight(),
        wall: concurrent_wall,
        // Without `clear_refs`, the peak since start: an upper bound.
        peak_rss: concurrent_peak,
    };
    let peak_rss = burst_peak.max(concurrent_peak);
    if !reset {
        eprintln!(
            "bench: serve: could not reset the peak RSS; the concurrent figure includes the burst"
        );
    }

    // The noisy neighbour.
    eprintln!("bench: serve: noisy neighbour");
    let neighbour = noisy(&server, &big, &fast, components_dir, o.neighbour_records).await?;
    // A clean stop: SIGTERM.
    let _ = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status();
    Ok(ServeRun {
        tenants: o.tenants,
        idle_rss,
        burst,
        concurrent,
        neighbour,
        peak_rss,
        command,
    })
}

async fn noisy(
    server: &Server,
    big: &Mock,
    calm: &Mock,
    components_dir: &Path,
    records: u64,
) -> Result<Neighbour> {
    let b = server.tenant("neighbour-b").await?;
    server
        .source(&b, "big", source_body(&big.base_url(), 1000))
        .await?;
    let run_b = |expect_rows: u64| {
        let b = b.clone();
        async move {
            let id = server.sync(&b, "big").await?;
            let job = server.wait(&b, &id, Duration::from_secs(300)).await?;
            ensure!(job["state"] == "succeeded", "B's sync failed: {job}");
            let rows = server.rows(&b, "big.items").await?;
            ensure!(
                rows == expect_rows,
                "B has {rows} rows, expected {expect_rows}"
            );
            let at = |k: &str| job[k].as_i64().unwrap_or(0);
            Ok::<_, anyhow::Error>(Duration::from_millis(
                (at("finished_at_ms") - at("started_at_ms")).max(0) as u64,
            ))
        }
    };
    let mut alone = Duration::MAX;
    for i in 1..=3 {
        alone = alone.min(run_b(records * i).await?);
    }

    let a = server.tenant("neighbour-a").await?;
    let wasm_path: PathBuf = components_dir.join("test_hostile.wasm");
    let wasm =
        std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    server
        .call("PUT", "/v1/connectors/hostile", &a, Some(Body::Wasm(wasm)))
        .await?;
    let mut hostile_jobs = Vec::new();
    for name in ["bomb1", "bomb2"] {
        server
            .source(
                &a,
                name,
                json!({"connector": "hostile", "config": {"client": {"base_url": calm.base_url()}},
                       "resources": ["spin", "hog", "calm"]}),
            )
            .await?;
        hostile_jobs.push(server.sync(&a, name).await?);
    }
    // Let A's components get going before B starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let beside = run_b(records * 4).await?;
    let mut hostile = Vec::new();
    for id in hostile_jobs {
        let job = server.wait(&a, &id, Duration::from_secs(300)).await?;
        let resources: Vec<String> = job["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "`{}` {}{}",
                    r["name"].as_str().unwrap_or("?"),
                    r["state"].as_str().unwrap_or("?"),
                    r["error"]
                        .as_str()
                        .map(|e| format!(" ({})", e.split(": ").last().unwrap_or(e)))
                        .unwrap_or_default()
                )
            })
            .collect();
        hostile.push(format!(
            "{}: {}",
            job["state"].as_str().unwrap_or("?"),
            resources.join(", ")
        ));
    }
    Ok(Neighbour {
        records,
        alone,
        beside,
        hostile,
    })
}
