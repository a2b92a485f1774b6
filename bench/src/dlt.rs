//! dlt's `rest_api_source` on the same mock: a throwaway virtualenv (made
//! once with pip, then reused) and the equivalent pipeline script.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::measure::{self, Usage};

/// The dlt release the bench installs (the one the figures were taken with).
pub const DLT_REQUIREMENT: &str = "dlt[duckdb,parquet]==1.31.0";

/// The pipeline: the same resource, paginator and selector as the
/// extract config, loaded into DuckDB. Prints one JSON line of counts.
const SCRIPT: &str = r#"
import json, sys, time
import dlt
from dlt.sources.rest_api import rest_api_source

base_url, db_path, pipelines_dir, file_format, per_page, max_page = sys.argv[1:7]
paginator = {"type": "page_number", "page_param": "page", "base_page": 1, "total_path": "total_pages"}
if int(max_page) > 0:
    # dlt stops before requesting `maximum_page` itself.
    paginator["maximum_page"] = int(max_page) + 1
source = rest_api_source({
    "client": {"base_url": base_url, "paginator": paginator},
    "resources": [{
        "name": "items",
        "endpoint": {"path": "items", "params": {"per_page": int(per_page)}, "data_selector": "data"},
        "write_disposition": "append",
    }],
})
pipeline = dlt.pipeline(
    pipeline_name="bench",
    destination=dlt.destinations.duckdb(db_path),
    dataset_name="bench",
    pipelines_dir=pipelines_dir,
)
started = time.time()
kwargs = {} if file_format == "default" else {"loader_file_format": file_format}
pipeline.run(source, **kwargs)
elapsed = time.time() - started
counts = {}
with pipeline.sql_client() as client:
    for table in ("items", "items__line_items", "items__tags"):
        try:
            counts[table] = client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
        except Exception:
            counts[table] = None
print(json.dumps({"seconds": elapsed, "counts": counts}))
"#;

/// The outcome of one dlt run.
#[derive(Debug, Clone)]
pub struct DltRun {
    /// The loader file format (`parquet`, `jsonl`, `default`).
    pub format: String,
    /// Rows per table.
    pub counts: std::collections::BTreeMap<String, Option<u64>>,
    /// Seconds the pipeline itself reported (extract + normalize + load).
    pub pipeline_seconds: f64,
    /// The process as measured from outside (includes Python start-up).
    pub usage: Usage,
}

#[derive(Deserialize)]
struct Printed {
    seconds: f64,
    counts: std::collections::BTreeMap<String, Option<u64>>,
}

/// The venv's python, creating the venv with pip if it is not there yet.
pub fn ensure_venv(dir: &Path) -> Result<PathBuf> {
    let python = dir.join("bin").join("python");
    let ready = python.is_file()
        && Command::new(&python)
            .args(["-c", "import dlt, pyarrow, duckdb"])
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Ok(python);
    }
    eprintln!("bench: creating a virtualenv for dlt in {}", dir.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir)
        .status()
        .context("running python3 -m venv (is python3 installed?)")?;
    if !status.success() {
        bail!("python3 -m venv {} failed", dir.display());
    }
    let status = Command::new(dir.join("bin").join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            DLT_REQUIREMENT,
        ])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install {DLT_REQUIREMENT} failed");
    }
    Ok(python)
}

/// Run the dlt pipeline against `base_url` with `format`, up to
/// `max_page` pages (0: all).
pub fn run(
    python: &Path,
    work: &Path,
    base_url: &str,
    format: &str,
    per_page: u64,
    max_page: u64,
) -> Result<DltRun> {
    let dir = work.join(format!("dlt-{format}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("pipeline.py");
    std::fs::write(&script, SCRIPT)?;
    // Not `bench.duckdb`: a file named like the dataset makes DuckDB's
    // catalog and schema names ambiguous.
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .arg(base_url.trim_end_matches('/'))
        .arg(dir.join("dlt.duckdb"))
        .arg(dir.join("pipelines"))
        .arg(format)
        .arg(per_page.to_string())
        .arg(max_page.to_string())
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .env("DLT_DATA_DIR", dir.join("data"))
        .current_dir(&dir);
    let usage = measure::run(cmd, &dir, "dlt")?;
    if usage.status != 0 {
        bail!(
            "the dlt pipeline ({format}) failed with status {}: {}",
            usage.status,
            usage.stderr
        );
    }
    let line = usage
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the dlt script printed no result")?;
    let printed: Printed = serde_json::from_str(line).context("reading the dlt script's result")?;
    Ok(DltRun {
        format: format.to_string(),
        counts: printed.counts,
        pipeline_seconds: printed.seconds,
        usage,
    })
}
