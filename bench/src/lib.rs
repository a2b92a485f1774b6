//! `just bench`: measures extract against dlt's `rest_api_source` and
//! against the physical limit of the machine, on one fast local mock API,
//! in one invocation, and writes the figures to `BENCHMARKS.md`.
//!
//! Everything is real: the mock serves HTTP on 127.0.0.1, extract runs the
//! `rest_api` WebAssembly component and loads a DuckDB file, dlt runs from
//! a virtualenv the bench makes. Timings are reported, never asserted.

pub mod data;
pub mod dlt;
pub mod measure;
pub mod mock;
pub mod report;
pub mod serve;
pub mod stages;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use crate::measure::Usage;
use crate::mock::{Mock, MockSpec};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Records of the throughput dataset.
    pub records: u64,
    /// Records per page.
    pub per_page: u64,
    /// The `extract` binary.
    pub extract: PathBuf,
    /// Scratch directory (DuckDB files, the venv, logs).
    pub work: PathBuf,
    /// Skip dlt (no Python needed).
    pub skip_dlt: bool,
    /// Records dlt (parquet) extracts: dlt's rate does not depend on the
    /// dataset size, and at its speed a million records take many minutes.
    pub dlt_records: u64,
    /// Also run dlt with its default loader files (insert statements) on
    /// at most this many records (0: skip).
    pub dlt_default_records: u64,
    /// The latency-bound sync's per-request delay.
    pub delay: Duration,
    /// `--per-host-concurrency` for extract.
    pub per_host_concurrency: usize,
    /// Extra arguments for every `extract run`.
    pub extract_args: Vec<String>,
    /// The serve section (`None`: skip it).
    pub serve: Option<serve::ServeOptions>,
}

/// One `extract run` and what it loaded.
#[derive(Debug, Clone)]
pub struct ExtractRun {
    /// Records the dataset has.
    pub records: u64,
    /// Rows found in the main table afterwards.
    pub rows: u64,
    /// Rows per table of the schema.
    pub tables: Vec<(String, u64)>,
    /// Pages served by the mock.
    pub pages: u64,
    /// The process's cost.
    pub usage: Usage,
    /// The command line.
    pub command: String,
}

/// The latency-bound sync.
#[derive(Debug, Clone)]
pub struct LatencyRun {
    /// Requests the mock served.
    pub requests: u64,
    /// The per-request delay.
    pub delay: Duration,
    /// The per-host concurrency allowed.
    pub concurrency: usize,
    /// The most requests the mock saw in flight at once.
    pub max_in_flight: u64,
    /// The mock's mean time to answer a request (the delay plus its timer's
    /// granularity).
    pub mean_answer: Duration,
    /// The process's cost.
    pub usage: Usage,
    /// Rows loaded, per table.
    pub tables: Vec<(String, u64)>,
    /// The command line.
    pub command: String,
}

impl LatencyRun {
    /// requests x delay / concurrency.
    pub fn ideal(&self) -> Duration {
        self.delay * (self.requests as u32) / (self.concurrency.max(1) as u32)
    }

    /// The ideal at the mock's measured answer time rather than its
    /// nominal delay.
    pub fn ideal_as_answered(&self) -> Duration {
        self.mean_answer * (self.requests as u32) / (self.concurrency.max(1) as u32)
    }
}

/// Everything measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// The options.
    pub options: Options,
    /// The full-size sync.
    pub full: ExtractRun,
    /// The same sync at a tenth of the records (memory flatness).
    pub tenth: Option<ExtractRun>,
    /// dlt, parquet loader files, same dataset.
    pub dlt_parquet: Option<dlt::DltRun>,
    /// dlt with its defaults, on fewer records.
    pub dlt_default: Option<dlt::DltRun>,
    /// In-process stage figures.
    pub stages: stages::Stages,
    /// The latency-bound sync.
    pub latency: LatencyRun,
    /// `extract serve` (when run).
    pub serve: Option<serve::ServeRun>,
    /// Notes on problems met (a failed dlt run, ...).
    pub notes: Vec<String>,
}

/// The extract config for the throughput dataset.
pub fn items_config(base_url: &str, per_page: u64) -> Value {
    json!({
        "name": "bench",
        "client": {
            "base_url": base_url,
            "paginator": {"type": "page_number", "page_param": "page", "base_page": 1, "total_path": "total_pages"},
        },
        "resources": [{
            "name": "items",
            "endpoint": {"path": "items", "params": {"per_page": per_page}, "data_selector": "data"},
            "write_disposition": "append",
        }],
    })
}

/// The extract config for the latency dataset: four independent
/// resources and a child resource partitioned by project.
pub fn latency_config(base_url: &str) -> Value {
    let mut resources: Vec<Value> = mock::LATENCY_RESOURCES
        .iter()
        .map(|(name, _, per)| {
            json!({
                "name": name,
                "endpoint": {"path": format!("lat/{name}"), "params": {"per_page": per}},
            })
        })
        .collect();
    resources.push(json!({
        "name": "tasks",
        "endpoint": {
            "path": "lat/projects/{project_id}/tasks",
            "params": {"project_id": {"type": "resolve", "resource": "projects", "field": "id"}},
        },
    }));
    json!({
        "name": "latency",
        "client": {
            "base_url": base_url,
            "paginator": {"type": "page_number", "page_param": "page", "base_page": 1, "total_path": "total_pages"},
        },
        "resource_defaults": {"endpoint": {"data_selector": "data"}, "write_disposition": "append"},
        "resources": resources,
    })
}

fn write_config(path: &Path, config: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(config)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Rows per table of `schema` in the DuckDB file `db`.
pub fn table_rows(db: &Path, schema: &str) -> Result<Vec<(String, u64)>> {
    let conn = duckdb::Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    let mut stmt = conn.prepare(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
    )?;
    let names: Vec<String> = stmt
        .query_map([schema], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !n.starts_with("_dlt")) {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM \"{schema}\".\"{name}\""),
            [],
            |r| r.get(0),
        )?;
        out.push((name, n as u64));
    }
    Ok(out)
}

pub(crate) fn shell_words(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Options {
    fn extract_cmd(&self, config: &Path, db: &Path) -> Command {
        let mut cmd = Command::new(&self.extract);
        cmd.arg("run")
            .arg(config)
            .arg("--db")
            .arg(db)
            .arg("--per-host-concurrency")
            .arg(self.per_host_concurrency.to_string())
            .args(&self.extract_args)
            .env("EXTRACT_CACHE_DIR", self.work.join("extract-cache"))
            .env("EXTRACT_LOG", "warn");
        cmd
    }
}

/// One full sync of `records` records with extract.
async fn extract_throughput(opts: &Options, records: u64, label: &str) -> Result<ExtractRun> {
    let spec = MockSpec {
        records,
        per_page: opts.per_page,
        delay: Duration::ZERO,
    };
    let mock = mock::serve(spec, 0).await?;
    let config = opts.work.join(format!("{label}.json"));
    write_config(&config, &items_config(&mock.base_url(), opts.per_page))?;
    let db = opts.work.join(format!("{label}.duckdb"));
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(db.with_extension("duckdb.wal"));
    let cmd = opts.extract_cmd(&config, &db);
    let command = shell_words(&cmd);
    let work = opts.work.clone();
    let label_owned = label.to_string();
    let usage = tokio::task::spawn_blocking(move || measure::run(cmd, &work, &label_owned))
        .await
        .context("the measuring thread panicked")??;
    if usage.status != 0 {
        bail!(
            "`{command}` failed with status {}: {}",
            usage.status,
            usage.stderr
        );
    }
    let tables = table_rows(&db, "bench")?;
    let rows = tables
        .iter()
        .find(|(t, _)| t == "items")
        .map_or(0, |(_, n)| *n);
    if rows != records {
        bail!("extract loaded {rows} rows into bench.items, the mock served {records}");
    }
    Ok(ExtractRun {
        records,
        rows,
        tables,
        pages: mock.requests(),
        usage,
        command,
    })
}

/// Warm the compiled-component cache (`extract check` compiles once), so
/// that timed runs measure a sync, not Cranelift.
async fn warm_cache(opts: &Options) -> Result<()> {
    let mock = mock::serve(
        MockSpec {
            records: 10,
            per_page: opts.per_page,
            delay: Duration::ZERO,
        },
        0,
    )
    .await?;
    let config = opts.work.join("warm.json");
    write_config(&config, &items_config(&mock.base_url(), opts.per_page))?;
    let mut cmd = Command::new(&opts.extract);
    cmd.arg("check")
        .arg(&config)
        .env("EXTRACT_CACHE_DIR", opts.work.join("extract-cache"));
    let work = opts.work.clone();
    let usage = tokio::task::spawn_blocking(move || measure::run(cmd, &work, "warm"))
        .await
        .context("the measuring thread panicked")??;
    if usage.status != 0 {
        bail!("`extract check` failed: {}{}", usage.stdout, usage.stderr);
    }
    Ok(())
}

async fn latency(opts: &Options) -> Result<LatencyRun> {
    let mock = mock::serve(
        MockSpec {
            records: 0,
            per_page: opts.per_page,
            delay: opts.delay,
        },
        0,
    )
    .await?;
    let config = opts.work.join("latency.json");
    write_config(&config, &latency_config(&mock.base_url()))?;
    let db = opts.work.join("latency-sync.duckdb");
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(db.with_extension("duckdb.wal"));
    let cmd = opts.extract_cmd(&config, &db);
    let command = shell_words(&cmd);
    let work = opts.work.clone();
    let usage = tokio::task::spawn_blocking(move || measure::run(cmd, &work, "latency"))
        .await
        .context("the measuring thread panicked")??;
    if usage.status != 0 {
        bail!(
            "`{command}` failed with status {}: {}",
            usage.status,
            usage.stderr
        );
    }
    let tables = table_rows(&db, "latency")?;
    let requests = mock.requests();
    if requests != mock::latency_requests() {
        bail!(
            "the latency sync sent {requests} requests, the dataset needs {}",
            mock::latency_requests()
        );
    }
    Ok(LatencyRun {
        requests,
        delay: opts.delay,
        concurrency: opts.per_host_concurrency,
        max_in_flight: mock.max_in_flight(),
        mean_answer: mock.mean_answer(),
        usage,
        tables,
        command,
    })
}

/// Run the whole benchmark.
pub async fn run(opts: Options) -> Result<Results> {
    std::fs::create_dir_all(&opts.work)?;
    let mut notes = Vec::new();
    eprintln!("bench: warming the compiled-component cache");
    warm_cache(&opts).await?;

    eprintln!("bench: in-process stages (HTTP alone, wasm vs native, parse, load, start-up)");
    let stages = {
        let mock = mock::serve(
            MockSpec {
                records: opts.records,
                per_page: opts.per_page,
                delay: Duration::ZERO,
            },
            0,
        )
        .await?;
        let config = items_config(&mock.base_url(), opts.per_page);
        stages::measure(&mock, &config, &opts.work, 100).await?
    };

    let tenth = if opts.records >= 10_000 {
        eprintln!("bench: extract, {} records", opts.records / 10);
        Some(extract_throughput(&opts, opts.records / 10, "e2e-tenth").await?)
    } else {
        None
    };
    eprintln!("bench: extract, {} records", opts.records);
    let full = extract_throughput(&opts, opts.records, "e2e").await?;

    eprintln!(
        "bench: latency-bound sync ({} requests, {:?} each)",
        mock::latency_requests(),
        opts.delay
    );
    let latency = latency(&opts).await?;

    let mut serve_run = None;
    if let Some(so) = &opts.serve {
        let components = Path::new(extract::builtin::COMPONENTS_DIR);
        match serve::run(&opts.extract, &opts.work, components, so).await {
            Ok(r) => serve_run = Some(r),
            Err(e) => notes.push(format!("the serve section failed: {e:#}")),
        }
    }

    let (mut dlt_parquet, mut dlt_default) = (None, None);
    if !opts.skip_dlt {
        match dlt::ensure_venv(&opts.work.join("venv")) {
            Err(e) => notes.push(format!("dlt skipped: {e:#}")),
            Ok(python) => {
                let mock = mock::serve(
                    MockSpec {
                        records: opts.records,
                        per_page: opts.per_page,
                        delay: Duration::ZERO,
                    },
                    0,
                )
                .await?;
                let pages = opts.dlt_records.min(opts.records).div_ceil(opts.per_page);
                eprintln!("bench: dlt (parquet), {pages} pages");
                let base = mock.base_url();
                let (py, work, per_page) = (python.clone(), opts.work.clone(), opts.per_page);
                let r = tokio::task::spawn_blocking(move || {
                    dlt::run(&py, &work, &base, "parquet", per_page, pages)
                })
                .await
                .context("the measuring thread panicked")?;
                match r {
                    Ok(r) => dlt_parquet = Some(r),
                    Err(e) => notes.push(format!("dlt (parquet) failed: {e:#}")),
                }
                if opts.dlt_default_records > 0 {
                    let pages = opts
                        .dlt_default_records
                        .min(opts.records)
                        .div_ceil(opts.per_page);
                    eprintln!("bench: dlt (defaults), {} pages", pages);
                    let base = mock.base_url();
                    let (work, per_page) = (opts.work.clone(), opts.per_page);
                    let r = tokio::task::spawn_blocking(move || {
                        dlt::run(&python, &work, &base, "default", per_page, pages)
                    })
                    .await
                    .context("the measuring thread panicked")?;
                    match r {
                        Ok(r) => dlt_default = Some(r),
                        Err(e) => notes.push(format!("dlt (defaults) failed: {e:#}")),
                    }
                }
            }
        }
    }
    Ok(Results {
        options: opts,
        full,
        tenth,
        dlt_parquet,
        dlt_default,
        stages,
        latency,
        serve: serve_run,
        notes,
    })
}

/// Only the in-process stage profile (`extract-bench stages`).
pub async fn stages_only(records: u64, per_page: u64, work: &Path) -> Result<stages::Stages> {
    let mock = mock::serve(
        MockSpec {
            records,
            per_page,
            delay: Duration::ZERO,
        },
        0,
    )
    .await?;
    let config = items_config(&mock.base_url(), per_page);
    stages::measure(&mock, &config, work, 100).await
}

/// Only the latency-bound sync (for tests).
pub async fn latency_only(opts: &Options) -> Result<LatencyRun> {
    std::fs::create_dir_all(&opts.work)?;
    latency(opts).await
}

/// The mock, for running it by hand (`extract-bench mock`).
pub async fn serve_mock(spec: MockSpec, port: u16) -> Result<Mock> {
    mock::serve(spec, port).await
}
