//! Helpers shared by the end-to-end test files: running the real `extract`
//! binary off the async runtime (so in-process mock servers keep serving).

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

/// The `extract` binary cargo built for these tests.
pub const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// Run `extract ARGS` with a shared compiled-component cache.
pub async fn extract(args: Vec<String>) -> Output {
    extract_with_env(args, Vec::new()).await
}

/// Run `extract ARGS` with extra environment variables.
pub async fn extract_with_env(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(EXTRACT)
            .args(&args)
            .env(
                "EXTRACT_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
            )
            .env("EXTRACT_LOG", "warn")
            .envs(env)
            .output()
            .expect("run extract")
    })
    .await
    .expect("join")
}

/// stdout and stderr of a run, with its exit status, for assertions and
/// failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The status (`ok`, `FAILED`, `parent`) the summary table gives `resource`.
pub fn resource_status(out: &Output, resource: &str) -> Option<String> {
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        (cols.next() == Some(resource))
            .then(|| cols.next().map(String::from))
            .flatten()
    })
}

/// The error the summary reports for `resource` (empty when none).
pub fn resource_error(out: &Output, resource: &str) -> String {
    let prefix = format!("error in `{resource}`: ");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(String::from))
        .unwrap_or_default()
}

/// `SELECT count(*)` over `table` (fully qualified) in the DuckDB file `db`.
pub fn row_count(db: &Path, table: &str) -> i64 {
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    let sql = format!("SELECT count(*) FROM {table}");
    conn.query_row(&sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
