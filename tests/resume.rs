//! Crash safety: a sync killed (SIGKILL) at random points and started again
//! ends with exactly the rows of an uninterrupted sync. The fixture API has
//! a page-number paginated `merge` resource with nested lists (child
//! tables), a cursor-paginated `append` resource, and an `append` child
//! resource partitioned by the first one's records; every request waits a
//! little so that kills land mid-sync. Rows are committed every few records
//! (`--commit-every`), so runs die between, and during, commits.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Query};
use axum::routing::get;
use duckdb::Connection;
use serde_json::{Value, json};

const CUSTOMERS: usize = 36;
const EVENTS: usize = 45;
const LATENCY: Duration = Duration::from_millis(12);

fn customer(id: usize) -> Value {
    json!({
        "id": id,
        "name": format!("customer {id}"),
        "address": {"city": format!("city {}", id % 5), "zipCode": format!("{:05}", id * 7)},
        "emails": (0..id % 3 + 1).map(|i| format!("c{id}.{i}@example.com")).collect::<Vec<_>>(),
        "contacts": (0..id % 2 + 1).map(|i| json!({"role": format!("r{i}"), "phones": [format!("+1-{id}-{i}")]})).collect::<Vec<_>>(),
    })
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/customers",
            get(|Query(q): Query<BTreeMap<String, String>>| async move {
                tokio::time::sleep(LATENCY).await;
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per = 4;
                let items: Vec<Value> = ((page - 1) * per + 1..=(page * per).min(CUSTOMERS))
                    .map(customer)
                    .collect();
                axum::Json(json!({"items": items, "total_pages": CUSTOMERS.div_ceil(per)}))
            }),
        )
        .route(
            "/customers/{id}/notes",
            get(|UrlPath(id): UrlPath<usize>| async move {
                tokio::time::sleep(LATENCY).await;
                let notes: Vec<Value> = (0..id % 4)
                    .map(|i| json!({"note_id": id * 100 + i, "text": format!("note {i} of {id}"), "tags": ["a", "b"]}))
                    .collect();
                axum::Json(json!({"notes": notes}))
            }),
        )
        .route(
            "/events",
            get(|Query(q): Query<BTreeMap<String, String>>| async move {
                tokio::time::sleep(LATENCY).await;
                let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
                let end = (start + 5).min(EVENTS);
                let data: Vec<Value> = (start..end)
                    .map(|i| {
                        let kind = ["open", "close"][i % 2];
                        json!({"seq": i, "kind": kind, "payload": {"n": i, "items": [i, i + 1]}})
                    })
                    .collect();
                let next = (end < EVENTS).then(|| end.to_string());
                axum::Json(json!({"data": data, "next_cursor": next}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn config(url: &str) -> Value {
    json!({
        "client": {"base_url": url},
        "resources": [
            {
                "name": "customers",
                "write_disposition": "merge",
                "primary_key": "id",
                "endpoint": {
                    "path": "customers",
                    "data_selector": "items",
                    "paginator": {"type": "page_number", "page_param": "page", "total_path": "total_pages"}
                }
            },
            {
                "name": "events",
                "write_disposition": "append",
                "endpoint": {
                    "path": "events",
                    "data_selector": "data",
                    "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"}
                }
            },
            {
                "name": "notes",
                "write_disposition": "append",
                "endpoint": {
                    "path": "customers/{customer_id}/notes",
                    "data_selector": "notes",
                    "paginator": "single_page",
                    "params": {"customer_id": {"type": "resolve", "resource": "customers", "field": "id"}}
                }
            }
        ]
    })
}

fn run_args(config: &Path, db: &Path) -> Vec<String> {
    vec![
        "run".into(),
        config.display().to_string(),
        "--db".into(),
        db.display().to_string(),
        "--commit-every".into(),
        "3".into(),
        "--concurrency".into(),
        "2".into(),
    ]
}

/// Every table's rows without the random ids, sorted; and the load ids.
fn content(db: &Path) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let conn = Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'fixture' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> = conn
            .prepare("SELECT column_name FROM information_schema.columns WHERE table_schema = 'fixture' AND table_name = ? AND column_name NOT IN ('_dlt_id', '_dlt_parent_id', '_dlt_root_id', '_dlt_load_id') ORDER BY ordinal_position")
            .unwrap()
            .query_map([&t], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let select: Vec<String> = cols
            .iter()
            .map(|c| format!(r#"coalesce(CAST("{c}" AS VARCHAR), 'NULL')"#))
            .collect();
        let mut rows: Vec<String> = conn
            .prepare(&format!(
                r#"SELECT concat_ws(' | ', {}) FROM fixture."{t}""#,
                select.join(", ")
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.insert(t, rows);
    }
    let load_ids: Vec<String> = conn
        .prepare("SELECT DISTINCT _dlt_load_id FROM fixture.customers UNION SELECT DISTINCT _dlt_load_id FROM fixture.events UNION SELECT DISTINCT _dlt_load_id FROM fixture.notes")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // No child row lost its parent.
    for (child, parent) in [
        ("customers__emails", "customers"),
        ("customers__contacts", "customers"),
        ("customers__contacts__phones", "customers__contacts"),
        ("notes__tags", "notes"),
    ] {
        let orphans: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM fixture.{child} c WHERE NOT EXISTS (SELECT 1 FROM fixture.{parent} p WHERE p._dlt_id = c._dlt_parent_id)"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "{child} has rows without a parent");
    }
    (out, load_ids)
}

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_syncs_resume_to_exactly_the_rows_of_an_uninterrupted_one() {
    let url = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fixture.json");
    std::fs::write(&cfg, config(&url).to_string()).unwrap();

    // The reference: one uninterrupted sync.
    let reference = dir.path().join("reference.duckdb");
    let started = Instant::now();
    let out = common::extract(run_args(&cfg, &reference)).await;
    let full = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (expected, ids) = content(&reference);
    assert_eq!(expected["customers"].len(), CUSTOMERS);
    assert_eq!(expected["events"].len(), EVENTS);
    assert_eq!(ids.len(), 1);

    // The same sync, killed several times at random points, then finished;
    // three times with different kill points.
    for seed in 1..=3u64 {
        let db = dir.path().join(format!("killed-{seed}.duckdb"));
        kill_and_resume(&cfg, &db, seed, full, &expected).await;
    }
}

/// Loads recorded in `db` (0 if the file or table does not exist yet).
fn loads_recorded(db: &Path) -> i64 {
    if !db.exists() {
        return 0;
    }
    let Ok(conn) = Connection::open(db) else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM fixture._dlt_loads", [], |r| r.get(0))
        .unwrap_or(0)
}

async fn kill_and_resume(
    cfg: &Path,
    db: &Path,
    seed: u64,
    full: Duration,
    expected: &BTreeMap<String, Vec<String>>,
) {
    let (cfg, db) = (cfg.to_path_buf(), db.to_path_buf());
    let mut rng = Rng(0x5eed_1234_abcd_0001 ^ (seed << 32));
    let mut kills = 0;
    let mut completed = false;
    for _ in 0..12 {
        // Early enough that a resumed run, with less left to do, still dies
        // (each run also pays its start-up first); the final run finishes.
        let delay = Duration::from_millis(30 + rng.below(full.as_millis() as u64 / 4));
        let args = run_args(&cfg, &db);
        let finished = tokio::task::spawn_blocking(move || {
            let mut child = std::process::Command::new(common::EXTRACT)
                .args(&args)
                .env(
                    "EXTRACT_CACHE_DIR",
                    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
                )
                .env("EXTRACT_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let done = child.try_wait().unwrap();
            if done.is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
            }
            done
        })
        .await
        .unwrap();
        match finished {
            // Killed after its load was recorded (while checkpointing or
            // exiting): the sync is complete, and another run would be a
            // new load.
            None if loads_recorded(&db) > 0 => {
                completed = true;
                break;
            }
            None => kills += 1,
            Some(status) => {
                assert!(status.success(), "a run failed on its own: {status}");
                completed = true;
                break;
            }
        }
    }
    assert!(
        kills >= 3,
        "only {kills} runs were killed mid-sync (an uninterrupted one takes {full:?})"
    );
    if !completed {
        let out = common::extract(run_args(&cfg, &db)).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (got, ids) = content(&db);
    assert_eq!(ids.len(), 1, "rows of more than one load: {ids:?}");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (table, rows) in expected {
        assert_eq!(
            &got[table], rows,
            "table {table} differs after {kills} kills"
        );
    }
    // The completed run left no checkpoints behind and recorded one load.
    let conn = Connection::open(&db).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM fixture._extract_checkpoints",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let loads: i64 = conn
        .query_row("SELECT count(*) FROM fixture._dlt_loads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(loads, 1);
}
