//! In-process measurements of each stage of the pipeline on the same
//! pre-rendered pages, to say where the time of a sync goes:
//! HTTP alone (the physical limit on loopback), the component's `next`
//! (sandboxed, through the host runtime) against the same guest logic
//! compiled natively, parsing records, and the DuckDB
//! loader alone; plus component start-up.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use extract::runtime::{ComponentCache, Limits, Runtime, wit};
use extract::storage::{Disposition, Loader, TableSpec};
use extract_sdk::{Connector as _, Extraction as _};
use serde_json::Value;

use crate::mock::Mock;

/// Figures of the stages.
#[derive(Debug, Clone, Default)]
pub struct Stages {
    /// Pages in the sample the per-page figures are measured on.
    pub sample_pages: usize,
    /// Records in the sample.
    pub sample_records: u64,
    /// Pages fetched by the HTTP-only pass (all of them).
    pub http_pages: u64,
    /// Wall time of fetching every page, one connection, nothing else done.
    pub http: Duration,
    /// Body bytes fetched.
    pub http_bytes: u64,
    /// The component's `next` over the sample (sandboxed), best of runs.
    pub wasm_next: Duration,
    /// The same guest logic called natively, best of runs.
    pub native_next: Duration,
    /// Copying each body once into a reused buffer, best of runs: the
    /// floor of handing a body to the sandbox (`list<u8>` is copied into
    /// the component's linear memory).
    pub body_copy: Duration,
    /// Parsing the sample's records (byte spans) into borrowed nodes.
    pub parse: Duration,
    /// Shaping the sample's records for the loader (dlt's normalization,
    /// types and coercions, Arrow columns), on the caller's side.
    pub shape: Duration,
    /// The loader thread's DuckDB work on the shaped pages: append,
    /// commits, the final checkpoint.
    pub duckdb: Duration,
    /// Start-up figures.
    pub startup: Startup,
}

/// Component start-up figures.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Size of the component.
    pub wasm_bytes: usize,
    /// First load: compile with Cranelift and store the artifact.
    pub compile: Duration,
    /// Load from the cached artifact in a fresh runtime (median).
    pub cached_load: Duration,
    /// Instantiate a loaded component (median).
    pub instantiate: Duration,
    /// Instantiate and construct an extraction (median).
    pub instantiate_and_construct: Duration,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Measure every stage against the throughput `mock`, with `config` the
/// generic connector's config for it (resource `items`).
pub async fn measure(
    mock: &Mock,
    config: &Value,
    work: &Path,
    max_sample: usize,
) -> Result<Stages> {
    let mut s = Stages::default();

    // HTTP alone: every page, in order, over one keep-alive connection.
    let client = reqwest::Client::builder().build()?;
    let total = mock.total_pages();
    let started = Instant::now();
    let mut sample: Vec<Vec<u8>> = Vec::new();
    for page in 1..=total {
        let body = client
            .get(format!("{}items", mock.base_url()))
            .query(&[("page", page)])
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        s.http_bytes += body.len() as u64;
        if sample.len() < max_sample {
            sample.push(body.to_vec());
        }
    }
    s.http = started.elapsed();
    s.http_pages = total;
    s.sample_pages = sample.len();

    let cache_dir = work.join("component-cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let wasm = extract::builtin::REST_API_WASM;
    s.startup = startup(wasm, &cache_dir, config).await?;

    // The component's `next`, sandboxed, over the sample, as the host calls it.
    let rt = Runtime::new(ComponentCache::new(Some(cache_dir)), Limits::default())?;
    let component = rt.load("rest_api", wasm)?;
    let mut inst = component.instantiate("bench").await?;
    let info = inst
        .describe(&config.to_string())
        .await?
        .map_err(|e| anyhow!("describe: {}", e.message))?;
    let effective = info.config;
    let mut all_records: Vec<wit::Records> = Vec::new();
    let mut wasm_runs = Vec::new();
    for run in 0..3 {
        let mut inst = component.instantiate("bench").await?;
        let ext = inst
            .extraction(&effective, "items", None, None, None)
            .await?;
        inst.start(&ext)
            .await?
            .map_err(|e| anyhow!("start: {}", e.message))?;
        let mut spent = Duration::ZERO;
        for (i, body) in sample.iter().enumerate() {
            let response = wit::Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone(),
                url: format!("{}items?page={}", mock.base_url(), i + 1),
            };
            let t = Instant::now();
            let page = inst
                .next(&ext, Ok(&response))
                .await?
                .map_err(|e| anyhow!("next: {}", e.message))?;
            spent += t.elapsed();
            if run == 0 {
                let t = Instant::now();
                let nodes = extract::sync::materialize(&page.records, body)?;
                s.parse += t.elapsed();
                s.sample_records += nodes.len() as u64;
                drop(nodes);
                all_records.push(page.records);
            }
        }
        inst.finish(ext).await?;
        wasm_runs.push(spent);
    }
    s.wasm_next = wasm_runs.into_iter().min().unwrap_or_default();

    let mut copy_runs = Vec::new();
    let mut buffer = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        for body in &sample {
            buffer.clear();
            buffer.extend_from_slice(body);
            std::hint::black_box(&buffer);
        }
        copy_runs.push(t.elapsed());
    }
    s.body_copy = copy_runs.into_iter().min().unwrap_or_default();

    // The same guest logic, natively: the same bodies, the same calls.
    let native_info =
        rest_api_core::RestApi::describe(&config.to_string()).map_err(|e| anyhow!("{e:?}"))?;
    let mut native_runs = Vec::new();
    for _ in 0..3 {
        let mut ext = rest_api_core::RestApi::extraction(
            &native_info.config,
            "items",
            extract_sdk::ExtractionContext::new(),
        );
        ext.start().map_err(|e| anyhow!("start: {e:?}"))?;
        let mut spent = Duration::ZERO;
        let mut records = 0u64;
        for (i, body) in sample.iter().enumerate() {
            let response = extract_sdk::Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone(),
                url: format!("{}items?page={}", mock.base_url(), i + 1),
            };
            let t = Instant::now();
            let page = ext.next(response).map_err(|e| anyhow!("next: {e:?}"))?;
            spent += t.elapsed();
            if let extract_sdk::Records::Spans(spans) = &page.records {
                records += spans.len() as u64;
            }
        }
        if records != s.sample_records {
            bail!(
                "the native guest selected {records} records, the component {}",
                s.sample_records
            );
        }
        native_runs.push(spent);
    }
    s.native_next = native_runs.into_iter().min().unwrap_or_default();

    // The loader alone, fed the parsed records one page at a time: the
    // caller's side (shaping) and the loader thread (DuckDB) timed apart,
    // each page acknowledged before the next is shaped.
    let db = work.join("stage-load.duckdb");
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(work.join("stage-load.duckdb.wal"));
    let loader = Loader::open(&db, "bench")?;
    let t = Instant::now();
    loader
        .begin(TableSpec {
            resource: "items".into(),
            table: "items".into(),
            primary_key: Vec::new(),
            disposition: Disposition::Append,
            max_nesting: None,
            keep_records: false,
        })
        .await?;
    s.duckdb = t.elapsed();
    let pages = all_records.len();
    for (i, (records, body)) in all_records.iter().zip(&sample).enumerate() {
        let last = i + 1 == pages;
        let nodes = extract::sync::materialize(records, body)?;
        let t = Instant::now();
        let ack = loader
            .page_nodes("items", &nodes, None, None, None, last)
            .await?;
        s.shape += t.elapsed();
        let t = Instant::now();
        ack.await.context("the loader stopped")??;
        s.duckdb += t.elapsed();
    }
    let t = Instant::now();
    loader.finish("items").await?;
    loader.complete(true).await?;
    s.duckdb += t.elapsed();
    Ok(s)
}

/// Compile once into an empty cache, then load from the cached artifact in
/// fresh runtimes (as a new process would), then instantiate.
async fn startup(wasm: &[u8], cache_dir: &Path, config: &Value) -> Result<Startup> {
    let mut st = Startup {
        wasm_bytes: wasm.len(),
        ..Default::default()
    };
    let rt = Runtime::new(
        ComponentCache::new(Some(cache_dir.to_path_buf())),
        Limits::default(),
    )?;
    let t = Instant::now();
    let component = rt.load("rest_api", wasm)?;
    st.compile = t.elapsed();
    let mut loads = Vec::new();
    for _ in 0..7 {
        let rt = Runtime::new(
            ComponentCache::new(Some(cache_dir.to_path_buf())),
            Limits::default(),
        )?;
        let t = Instant::now();
        let _ = rt.load("rest_api", wasm)?;
        loads.push(t.elapsed());
    }
    st.cached_load = median(loads);
    let mut inst = component.instantiate("bench").await?;
    let effective = inst
        .describe(&config.to_string())
        .await?
        .map_err(|e| anyhow!("describe: {}", e.message))?
        .config;
    let mut inst_times = Vec::new();
    let mut both = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let mut inst = component.instantiate("bench").await?;
        inst_times.push(t.elapsed());
        let ext = inst
            .extraction(&effective, "items", None, None, None)
            .await?;
        both.push(t.elapsed());
        inst.finish(ext).await?;
    }
    st.instantiate = median(inst_times);
    st.instantiate_and_construct = median(both);
    Ok(st)
}
