//! `extract serve` end to end: the real binary listens on 127.0.0.1:0 with
//! a temporary data dir; tenants upload real components (built by the
//! host's build script), store secrets, and sync from mock APIs served on
//! loopback into their own DuckDB files; rows are checked through the API.
//! The server is killed (SIGKILL) and stopped (SIGTERM) mid-sync, and must
//! finish the job with exactly the rows of an uninterrupted one.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use mock_vendors::{MockOptions, MockServer, Vendor};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-tests-0123456789";
const KEY: &str = "8f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

// ---- the server ---------------------------------------------------------

/// A running `extract serve` over a data dir that outlives restarts.
struct Server {
    dir: PathBuf,
    child: Option<Child>,
    url: String,
    args: Vec<String>,
    client: reqwest::Client,
    log: PathBuf,
}

impl Server {
    /// Start a server on a new data dir with `args` (`--allow-host` etc.).
    async fn start(dir: &Path, args: &[&str]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("admin.token"), format!("{ADMIN}\n")).unwrap();
        std::fs::write(dir.join("master.key"), format!("{KEY}\n")).unwrap();
        let mut s = Self {
            dir: dir.to_path_buf(),
            child: None,
            url: String::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
            client: reqwest::Client::new(),
            log: dir.join("server.log"),
        };
        s.spawn().await;
        s
    }

    async fn spawn(&mut self) {
        let dir = self.dir.clone();
        let args = self.args.clone();
        let log = self.log.clone();
        let (child, url) = tokio::task::spawn_blocking(move || {
            let stderr = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            let mut child = Command::new(common::EXTRACT)
                .arg("serve")
                .arg("--data-dir")
                .arg(dir.join("data"))
                .args(["--listen", "127.0.0.1:0"])
                .arg("--admin-token-file")
                .arg(dir.join("admin.token"))
                .arg("--secret-key-file")
                .arg(dir.join("master.key"))
                .args(&args)
                .env(
                    "EXTRACT_CACHE_DIR",
                    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
                )
                .env("EXTRACT_LOG", "info")
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .unwrap();
            let mut line = String::new();
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            stdout.read_line(&mut line).unwrap();
            // Keep reading, so the server's later lines have somewhere to go.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            let url = line
                .trim()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
                .to_string();
            (child, url)
        })
        .await
        .unwrap();
        self.child = Some(child);
        self.url = url;
    }

    /// SIGKILL, then start again on the same data dir.
    async fn kill_and_restart(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        self.spawn().await;
    }

    /// SIGTERM; returns whether it exited successfully.
    async fn terminate(&mut self) -> bool {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        tokio::task::spawn_blocking(move || {
            let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            assert!(sent.success());
            child.wait().unwrap().success()
        })
        .await
        .unwrap()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(bytes, ct) => req.header("content-type", ct).body(bytes),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, v) = self.call("GET", path, Some(token), Body::None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Create a tenant; its token.
    /// A new tenant with the fixture API's key stored as `fixture_key`.
    async fn fixture_tenant(&self, name: &str) -> String {
        let t = self.tenant(name).await;
        self.put_ok(
            "/v1/secrets/fixture_key",
            &t,
            json!({"value": FIXTURE_SECRET}),
        )
        .await;
        t
    }

    async fn tenant(&self, name: &str) -> String {
        let (status, v) = self
            .call(
                "POST",
                "/v1/tenants",
                Some(ADMIN),
                Body::Json(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    async fn put_ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, v) = self.call("PUT", path, Some(token), Body::Json(body)).await;
        assert!((200..300).contains(&status), "PUT {path}: {status} {v}");
        v
    }

    async fn upload(&self, token: &str, name: &str, wasm: &str) {
        let bytes = std::fs::read(Path::new(extract::builtin::COMPONENTS_DIR).join(wasm)).unwrap();
        let (status, v) = self
            .call(
                "PUT",
                &format!("/v1/connectors/{name}"),
                Some(token),
                Body::Raw(bytes, "application/wasm"),
            )
            .await;
        assert!(status == 201 || status == 200, "{status} {v}");
    }

    /// Queue a sync; the job id.
    async fn sync(&self, token: &str, source: &str) -> String {
        let (status, v) = self
            .call(
                "POST",
                &format!("/v1/sources/{source}/syncs"),
                Some(token),
                Body::None,
            )
            .await;
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Poll a job until it is final (the test harness bounds the wait).
    async fn wait(&self, token: &str, job: &str) -> Value {
        for _ in 0..6000 {
            let v = self.get(&format!("/v1/jobs/{job}"), token).await;
            if ["succeeded", "failed", "cancelled"].contains(&v["state"].as_str().unwrap()) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {job} did not finish");
    }

    /// Every row of a table, through the API, in pages.
    async fn rows(&self, token: &str, table: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self
                .get(
                    &format!("/v1/tables/{table}?limit=100&offset={}", out.len()),
                    token,
                )
                .await;
            let page = v["rows"].as_array().unwrap().clone();
            let n = page.len();
            out.extend(page);
            if n < 100 {
                return out;
            }
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>, &'static str),
}

fn key_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---- fixtures -----------------------------------------------------------

const CUSTOMERS: usize = 30;
const EVENTS: usize = 48;

/// A slow paginated API: `customers` (page numbers, merged on `id`, with a
/// nested list) and `events` (cursor, appended: a duplicate would show).
async fn fixture(latency: Duration) -> String {
    let app = Router::new()
        .route(
            "/customers",
            get(move |Query(q): Query<BTreeMap<String, String>>| async move {
                tokio::time::sleep(latency).await;
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per = 2;
                let items: Vec<Value> = ((page - 1) * per + 1..=(page * per).min(CUSTOMERS))
                    .map(|id| json!({"id": id, "name": format!("customer {id}"), "tags": ["a", format!("t{id}")]}))
                    .collect();
                axum::Json(json!({"items": items, "total_pages": CUSTOMERS.div_ceil(per)}))
            }),
        )
        .route(
            "/events",
            get(move |Query(q): Query<BTreeMap<String, String>>| async move {
                tokio::time::sleep(latency).await;
                let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
                let end = (start + 2).min(EVENTS);
                let data: Vec<Value> = (start..end).map(|i| {
                    let kind = ["open", "close"][i % 2];
                    json!({"seq": i, "kind": kind})
                }).collect();
                let next = (end < EVENTS).then(|| end.to_string());
                axum::Json(json!({"data": data, "next_cursor": next}))
            }),
        )
        .route("/calm", get(|| async { axum::Json(json!({"ok": true})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A `rest_api` config for the fixture; the API wants no auth, but the
/// config sends a secret header so that leaks can be looked for.
fn fixture_config(url: &str) -> Value {
    json!({
        "client": {"base_url": url, "headers": {"X-Api-Key": "{{ secrets.fixture_key }}"}},
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
            }
        ]
    })
}

const FIXTURE_SECRET: &str = "fixture-secret-value-4711";

/// Customers and events are exactly the fixture's, once each.
async fn assert_fixture_rows(server: &Server, token: &str, source: &str) {
    let customers = server.rows(token, &format!("{source}.customers")).await;
    let ids: Vec<i64> = customers
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), CUSTOMERS, "customers: {ids:?}");
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        (1..=CUSTOMERS as i64).collect::<BTreeSet<_>>()
    );
    let events = server.rows(token, &format!("{source}.events")).await;
    let mut seqs: Vec<i64> = events.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..EVENTS as i64).collect::<Vec<_>>(),
        "events lost or duplicated"
    );
    // Nested lists are child tables.
    let tags = server
        .rows(token, &format!("{source}.customers__tags"))
        .await;
    assert_eq!(tags.len(), 2 * CUSTOMERS);
    // One load: the resumed runs continued the interrupted one.
    let loads: BTreeSet<String> = customers
        .iter()
        .chain(&events)
        .map(|r| r["_dlt_load_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(loads.len(), 1, "{loads:?}");
}

const CHARGIFY_TABLES: &[(&str, &str)] = &[
    ("customers", "id"),
    ("subscriptions", "id"),
    ("invoices", "uid"),
    ("coupons", "id"),
    ("transactions", "id"),
];

async fn assert_chargify_rows(server: &Server, token: &str, source: &str, mock: &MockServer) {
    let expected = mock.expected();
    for (table, key) in CHARGIFY_TABLES {
        let mut want = expected.key_strings(table);
        want.sort();
        let rows = server.rows(token, &format!("{source}.{table}")).await;
        let mut got: Vec<String> = rows.iter().map(|r| key_text(&r[*key])).collect();
        got.sort();
        assert_eq!(got, want, "{source}.{table}");
    }
}

/// Every file under `dir`, as bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// ---- the end-to-end test --------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_sync_their_own_connectors_into_their_own_files() {
    let acme_api = mock_vendors::serve(Vendor::Chargify, MockOptions::default())
        .await
        .unwrap();
    let globex_api = mock_vendors::serve(
        Vendor::Chargify,
        MockOptions {
            records: 120,
            seed: 7,
            ..MockOptions::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--allow-host", "127.0.0.1"]).await;
    let (status, health) = server.call("GET", "/healthz", None, Body::None).await;
    assert_eq!((status, health), (200, Value::String("ok\n".into())));

    // Acme uploads the Chargify component; Globex uses the built-in
    // connector with the Chargify config file.
    let acme = server.tenant("acme").await;
    let globex = server.tenant("globex").await;
    server.upload(&acme, "chargify", "chargify.wasm").await;
    let connectors = server.get("/v1/connectors", &acme).await;
    let names: Vec<&str> = connectors
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["rest_api", "chargify"]);
    server
        .put_ok(
            "/v1/secrets/api_key",
            &acme,
            json!({"value": mock_vendors::CHARGIFY_API_KEY}),
        )
        .await;
    server
        .put_ok(
            "/v1/secrets/api_key",
            &globex,
            json!({"value": mock_vendors::CHARGIFY_API_KEY}),
        )
        .await;
    server
        .put_ok(
            "/v1/sources/billing",
            &acme,
            json!({"connector": "chargify", "config": {"client": {"base_url": acme_api.api_base_url()}}, "every": "1h"}),
        )
        .await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("connectors/chargify.json")).unwrap(),
    )
    .unwrap();
    config["client"]["base_url"] = json!(globex_api.api_base_url());
    // Two sources of one tenant sync at once into the tenant's one file.
    for source in ["billing", "billing_copy"] {
        server
            .put_ok(
                &format!("/v1/sources/{source}"),
                &globex,
                json!({"connector": "rest_api", "config": config}),
            )
            .await;
    }

    let a = server.sync(&acme, "billing").await;
    let b = server.sync(&globex, "billing").await;
    let b2 = server.sync(&globex, "billing_copy").await;
    let a_job = server.wait(&acme, &a).await;
    let b_job = server.wait(&globex, &b).await;
    let b2_job = server.wait(&globex, &b2).await;
    assert_eq!(a_job["state"], "succeeded", "{a_job}");
    assert_eq!(b_job["state"], "succeeded", "{b_job}");
    assert_eq!(b2_job["state"], "succeeded", "{b2_job}");
    assert_chargify_rows(&server, &globex, "billing_copy", &globex_api).await;
    let resources = a_job["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 5, "{a_job}");
    let customers = resources.iter().find(|r| r["name"] == "customers").unwrap();
    assert_eq!(customers["records"], acme_api.expected().count("customers"));
    assert!(customers["pages"].as_u64().unwrap() >= 1);

    // Each tenant sees exactly its own API's rows.
    assert_chargify_rows(&server, &acme, "billing", &acme_api).await;
    assert_chargify_rows(&server, &globex, "billing", &globex_api).await;
    let tables = server.get("/v1/tables", &acme).await;
    let customers = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "billing.customers")
        .unwrap();
    assert_eq!(customers["rows"], acme_api.expected().count("customers"));

    // Metrics count the loaded records per tenant.
    let (_, metrics) = server.call("GET", "/metrics", None, Body::None).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("extract_jobs{tenant="), "{metrics}");
    assert!(metrics.contains(",state=\"succeeded\"} 1"), "{metrics}");
    assert!(
        metrics.contains("extract_records_loaded_total{tenant="),
        "{metrics}"
    );
    // The requests the syncs sent, by status, and the requests to the server.
    assert!(
        metrics.contains(",status=\"200\"}")
            && metrics
                .lines()
                .any(|l| l.starts_with("extract_http_requests_total{tenant=\"")
                    && l.contains("status=\"200\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("extract_api_requests_total{tenant=\"admin\",status=\"201\"}"),
        "{metrics}"
    );
    // DuckDB's buffer pool, shared by the tenants: holding the files the
    // syncs loaded, under the server's default limit of 256 MiB.
    let gauge = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(gauge("extract_duckdb_memory_limit_bytes"), 256 << 20);
    let used = gauge("extract_duckdb_memory_bytes");
    assert!(used > 0 && used <= 256 << 20, "{used}");
    gauge("extract_duckdb_temporary_bytes");

    // The secret reached the API (the syncs succeeded) but is nowhere in
    // the data dir, the server's output or the API's answers.
    let mut answers = String::new();
    for path in [
        "/v1/jobs",
        "/v1/secrets",
        "/v1/sources",
        "/v1/sources/billing",
    ] {
        answers.push_str(&server.get(path, &acme).await.to_string());
    }
    assert!(
        !answers.contains(mock_vendors::CHARGIFY_API_KEY),
        "{answers}"
    );
    assert!(!server.log_text().contains(mock_vendors::CHARGIFY_API_KEY));
    for (path, bytes) in files(&dir.path().join("data")) {
        assert!(
            !contains(&bytes, mock_vendors::CHARGIFY_API_KEY),
            "the secret is in {}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_and_stopped_mid_sync_finishes_the_job_without_loss_or_duplicates() {
    let url = fixture(Duration::from_millis(40)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &["--allow-host", "127.0.0.1", "--commit-every", "2"],
    )
    .await;
    let t = server.fixture_tenant("acme").await;
    server
        .put_ok(
            "/v1/sources/shop",
            &t,
            json!({"connector": "rest_api", "config": fixture_config(&url)}),
        )
        .await;
    let job = server.sync(&t, "shop").await;

    // SIGKILL once the job has loaded something, well before it is done.
    let loaded = |v: &Value| -> u64 {
        v["resources"]
            .as_array()
            .map(|rs| rs.iter().map(|r| r["records"].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    };
    let mut killed = false;
    for _ in 0..2000 {
        let v = server.get(&format!("/v1/jobs/{job}"), &t).await;
        assert_ne!(
            v["state"], "succeeded",
            "the job finished before it could be killed: {v}"
        );
        if v["state"] == "running" && loaded(&v) > 0 {
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(killed);
    server.kill_and_restart().await;

    // The job was running: after the restart it runs again (resuming).
    let mut stopped = false;
    for _ in 0..2000 {
        let v = server.get(&format!("/v1/jobs/{job}"), &t).await;
        if v["state"] == "succeeded" {
            break;
        }
        if v["state"] == "running" && loaded(&v) > 0 {
            // SIGTERM: the job stops at a checkpoint and goes back to the queue.
            assert!(server.terminate().await, "{}", server.log_text());
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if stopped {
        assert!(
            server.log_text().contains("it resumes on restart"),
            "{}",
            server.log_text()
        );
        server.spawn().await;
    }
    let done = server.wait(&t, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_fixture_rows(&server, &t, "shop").await;
    assert!(!server.log_text().contains(FIXTURE_SECRET));
}

// ---- cancellation -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_at_a_checkpoint_and_keeps_what_it_loaded() {
    let url = fixture(Duration::from_millis(60)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--allow-host", "127.0.0.1", "--commit-every", "2"],
    )
    .await;
    let t = server.fixture_tenant("acme").await;
    server
        .put_ok(
            "/v1/sources/shop",
            &t,
            json!({"connector": "rest_api", "config": fixture_config(&url), "resources": ["events"]}),
        )
        .await;
    let job = server.sync(&t, "shop").await;
    for _ in 0..2000 {
        let v = server.get(&format!("/v1/jobs/{job}"), &t).await;
        if v["state"] == "running" && v["resources"][0]["records"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, v) = server
        .call("DELETE", &format!("/v1/jobs/{job}"), Some(&t), Body::None)
        .await;
    assert_eq!(status, 202, "{v}");
    let done = server.wait(&t, &job).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert!(
        done["resources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cancelled"),
        "{done}"
    );
    // What was loaded before the cancel stays; the rest was never fetched.
    let events = server.rows(&t, "shop.events").await;
    assert!(
        !events.is_empty() && events.len() < EVENTS,
        "{}",
        events.len()
    );
    let (status, _) = server
        .call("DELETE", &format!("/v1/jobs/{job}"), Some(&t), Body::None)
        .await;
    assert_eq!(status, 409, "a finished job cannot be cancelled again");
}

// ---- isolation ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_things_are_404_and_missing_tokens_401_on_every_endpoint() {
    let url = fixture(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--allow-host", "127.0.0.1"]).await;
    let a = server.tenant("a").await;
    let b = server.tenant("b").await;
    server.upload(&a, "mine", "rest_api.wasm").await;
    server
        .put_ok(
            "/v1/secrets/fixture_key",
            &a,
            json!({"value": FIXTURE_SECRET}),
        )
        .await;
    server
        .put_ok(
            "/v1/sources/shop",
            &a,
            json!({"connector": "mine", "config": fixture_config(&url)}),
        )
        .await;
    let job = server.sync(&a, "shop").await;
    assert_eq!(server.wait(&a, &job).await["state"], "succeeded");
    let (_, tenants) = server
        .call("GET", "/v1/tenants", Some(ADMIN), Body::None)
        .await;
    let a_id = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "a")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Every tenant-scoped endpoint, with A's names.
    let endpoints: Vec<(&str, String, Body)> = vec![
        ("GET", "/v1/connectors/mine".into(), Body::None),
        ("DELETE", "/v1/connectors/mine".into(), Body::None),
        ("DELETE", "/v1/secrets/fixture_key".into(), Body::None),
        ("GET", "/v1/sources/shop".into(), Body::None),
        ("DELETE", "/v1/sources/shop".into(), Body::None),
        ("POST", "/v1/sources/shop/syncs".into(), Body::None),
        ("GET", format!("/v1/jobs/{job}"), Body::None),
        ("DELETE", format!("/v1/jobs/{job}"), Body::None),
        ("GET", "/v1/tables/shop.customers".into(), Body::None),
    ];
    for (method, path, body) in endpoints {
        let (status, v) = server.call(method, &path, Some(&b), body).await;
        assert_eq!(status, 404, "{method} {path} as another tenant: {v}");
        let (status, _) = server.call(method, &path, None, Body::None).await;
        assert_eq!(status, 401, "{method} {path} without a token");
        let (status, _) = server
            .call(method, &path, Some("ext_forged"), Body::None)
            .await;
        assert_eq!(status, 401, "{method} {path} with an unknown token");
    }
    // A's things are untouched, and B's lists do not show them.
    assert_eq!(
        server.get("/v1/sources/shop", &a).await["connector"],
        "mine"
    );
    for (path, own) in [
        ("/v1/connectors", 1),
        ("/v1/secrets", 0),
        ("/v1/sources", 0),
        ("/v1/jobs", 0),
        ("/v1/tables", 0),
    ] {
        let v = server.get(path, &b).await;
        assert_eq!(v.as_array().unwrap().len(), own, "{path} as B: {v}");
    }
    assert_eq!(server.rows(&a, "shop.customers").await.len(), CUSTOMERS);
    // B writing a secret or source of the same name makes its own.
    server
        .put_ok("/v1/secrets/fixture_key", &b, json!({"value": "b's"}))
        .await;
    assert_eq!(
        server
            .get("/v1/secrets", &a)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Collection endpoints and the admin endpoints.
    for (method, path) in [
        ("GET", "/v1/connectors"),
        ("GET", "/v1/secrets"),
        ("GET", "/v1/sources"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/tables"),
        ("PUT", "/v1/secrets/x"),
        ("PUT", "/v1/sources/x"),
        ("PUT", "/v1/connectors/x"),
    ] {
        let (status, _) = server.call(method, path, None, Body::None).await;
        assert_eq!(status, 401, "{method} {path} without a token");
    }
    for token in [Some(a.as_str()), None] {
        let (status, _) = server.call("GET", "/v1/tenants", token, Body::None).await;
        assert_eq!(status, 401);
        let (status, _) = server
            .call(
                "POST",
                "/v1/tenants",
                token,
                Body::Json(json!({"name": "x"})),
            )
            .await;
        assert_eq!(status, 401);
        let (status, _) = server
            .call("DELETE", &format!("/v1/tenants/{a_id}"), token, Body::None)
            .await;
        assert_eq!(status, 401);
    }
    // The admin token is not a tenant token.
    let (status, _) = server
        .call("GET", "/v1/sources", Some(ADMIN), Body::None)
        .await;
    assert_eq!(status, 401);

    // Deleting a tenant removes its data file and its token.
    let file = dir.path().join(format!("data/tenants/{a_id}.duckdb"));
    assert!(file.is_file());
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/v1/tenants/{a_id}"),
            Some(ADMIN),
            Body::None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(!file.exists());
    let (status, _) = server
        .call("GET", "/v1/sources", Some(&a), Body::None)
        .await;
    assert_eq!(status, 401, "a deleted tenant's token");
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/v1/tenants/{a_id}"),
            Some(ADMIN),
            Body::None,
        )
        .await;
    assert_eq!(status, 404);
}

// ---- egress -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_configs_cannot_reach_loopback_unless_the_operator_allows_it() {
    let url = fixture(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    // No --allow-host: the tenant's loopback base URL gets the strict check.
    let server = Server::start(dir.path(), &[]).await;
    let t = server.fixture_tenant("acme").await;
    server
        .put_ok(
            "/v1/sources/shop",
            &t,
            json!({"connector": "rest_api", "config": fixture_config(&url)}),
        )
        .await;
    let job = server.sync(&t, "shop").await;
    let done = server.wait(&t, &job).await;
    assert_eq!(done["state"], "failed", "{done}");
    for r in done["resources"].as_array().unwrap() {
        let e = r["error"].as_str().unwrap();
        assert!(
            e.contains("egress policy") && e.contains("non-public address"),
            "{e}"
        );
    }
    assert!(!done.to_string().contains(FIXTURE_SECRET));
    // The metadata address is refused the same way.
    server
        .put_ok(
            "/v1/sources/meta",
            &t,
            json!({"connector": "rest_api", "config": {"client": {"base_url": "http://169.254.169.254/latest/"}, "resources": ["meta-data"]}}),
        )
        .await;
    let job = server.sync(&t, "meta").await;
    let done = server.wait(&t, &job).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(done.to_string().contains("egress policy"), "{done}");

    // With the operator's --allow-host, the same source syncs.
    let allowed_dir = tempfile::tempdir().unwrap();
    let allowed = Server::start(allowed_dir.path(), &["--allow-host", "127.0.0.1"]).await;
    let t = allowed.fixture_tenant("acme").await;
    allowed
        .put_ok(
            "/v1/sources/shop",
            &t,
            json!({"connector": "rest_api", "config": fixture_config(&url)}),
        )
        .await;
    let job = allowed.sync(&t, "shop").await;
    assert_eq!(allowed.wait(&t, &job).await["state"], "succeeded");
}

// ---- schedules -------------------------------------------------------------------

/// A source with `every` is synced by the scheduler on its own: the first
/// run one period after it was stored, then one period after each slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_source_is_synced_every_period() {
    let url = fixture(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--allow-host", "127.0.0.1"]).await;
    let t = server.fixture_tenant("cron").await;
    let stored = server
        .put_ok(
            "/v1/sources/shop",
            &t,
            json!({"connector": "rest_api", "config": fixture_config(&url), "every": "10s"}),
        )
        .await;
    let first_slot = stored["next_run_at_ms"].as_i64().unwrap();
    assert_eq!(stored["every_secs"], 10, "{stored}");
    // Nothing runs before the first slot.
    assert_eq!(server.get("/v1/jobs", &t).await, json!([]));
    let mut job = Value::Null;
    for _ in 0..300 {
        let jobs = server.get("/v1/jobs", &t).await;
        if let Some(j) = jobs.as_array().unwrap().first() {
            job = j.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["trigger"], "schedule", "{job}");
    assert!(
        job["created_at_ms"].as_i64().unwrap() >= first_slot,
        "{job} {stored}"
    );
    let done = server.wait(&t, job["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_fixture_rows(&server, &t, "shop").await;
    // The next slot is one period on.
    let source = server.get("/v1/sources/shop", &t).await;
    assert!(
        source["next_run_at_ms"].as_i64().unwrap() >= first_slot + 10_000,
        "{source}"
    );
}

// ---- noisy neighbours ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_and_memory_bombing_tenant_fails_only_its_own_job() {
    let url = fixture(Duration::from_millis(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--allow-host",
            "127.0.0.1",
            "--call-timeout-ms",
            "1500",
            "--memory-mib",
            "64",
        ],
    )
    .await;
    let noisy = server.tenant("noisy").await;
    let quiet = server.fixture_tenant("quiet").await;
    server.upload(&noisy, "hostile", "test_hostile.wasm").await;
    server
        .put_ok(
            "/v1/sources/bomb",
            &noisy,
            json!({"connector": "hostile", "config": {"client": {"base_url": url}}, "resources": ["spin", "hog", "calm"]}),
        )
        .await;
    server
        .put_ok(
            "/v1/sources/shop",
            &quiet,
            json!({"connector": "rest_api", "config": fixture_config(&url)}),
        )
        .await;

    let bombs: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..2 {
            v.push(server.sync(&noisy, "bomb").await);
        }
        v
    };
    let job = server.sync(&quiet, "shop").await;
    let done = server.wait(&quiet, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_fixture_rows(&server, &quiet, "shop").await;

    for bomb in bombs {
        let done = server.wait(&noisy, &bomb).await;
        assert_eq!(done["state"], "failed", "{done}");
        let error = |name: &str| -> String {
            done["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .and_then(|r| r["error"].as_str())
                .unwrap_or_default()
                .to_string()
        };
        assert!(error("spin").contains("CPU deadline"), "{done}");
        assert!(error("hog").contains("memory"), "{done}");
        assert_eq!(error("calm"), "", "{done}");
    }
    let (_, metrics) = server.call("GET", "/metrics", None, Body::None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("extract_component_traps_total{tenant="),
        "{metrics}"
    );
    // The server is still serving.
    let (status, _) = server.call("GET", "/healthz", None, Body::None).await;
    assert_eq!(status, 200);
}

// ---- bad input ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_4xx_naming_the_problem_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--max-body-kib", "4", "--max-component-mib", "1"],
    )
    .await;
    let t = server.tenant("acme").await;
    let good = json!({"connector": "rest_api", "config": {"client": {"base_url": "https://api.example.com"}, "resources": ["things"]}});
    let cases: Vec<(&str, &str, Body, u16, &str)> = vec![
        (
            "PUT",
            "/v1/secrets/k",
            Body::Json(json!({"value": "v", "extra": 1})),
            422,
            "unknown field `extra`",
        ),
        (
            "PUT",
            "/v1/secrets/k",
            Body::Raw(b"{\"value\": ".to_vec(), "application/json"),
            400,
            "EOF",
        ),
        (
            "PUT",
            "/v1/secrets/k",
            Body::Raw(b"{\"value\": \"v\"}".to_vec(), "text/plain"),
            415,
            "Content-Type",
        ),
        (
            "PUT",
            "/v1/secrets/k",
            Body::Json(json!({"value": "x".repeat(8000)})),
            413,
            "size limit",
        ),
        (
            "PUT",
            "/v1/secrets/k",
            Body::Json(json!({"value": ""})),
            422,
            "`value`",
        ),
        (
            "PUT",
            "/v1/secrets/a%20b",
            Body::Json(json!({"value": "v"})),
            400,
            "invalid secret name",
        ),
        (
            "PUT",
            "/v1/connectors/junk",
            Body::Raw(b"not a component".to_vec(), "application/wasm"),
            422,
            "not a connector component",
        ),
        (
            "PUT",
            "/v1/connectors/big",
            // Just over the cap: a body much larger than what the server reads
            // before answering can get the connection reset under the answer.
            Body::Raw(vec![0u8; 1024 * 1024 + 1024], "application/wasm"),
            413,
            "--max-component-mib",
        ),
        (
            "PUT",
            "/v1/connectors/empty",
            Body::Raw(Vec::new(), "application/wasm"),
            400,
            "empty body",
        ),
        (
            "PUT",
            "/v1/connectors/rest_api",
            Body::Raw(b"x".to_vec(), "application/wasm"),
            409,
            "built-in",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(json!({"connector": "rest_api", "config": {}, "color": "red"})),
            422,
            "unknown field `color`",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(json!({"connector": "nope", "config": {}})),
            422,
            "unknown connector `nope`",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(
                json!({"connector": "rest_api", "config": {"client": {"base_url": "not a url"}, "resources": ["x"]}}),
            ),
            422,
            "invalid config",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(
                json!({"connector": "rest_api", "config": {"client": {"base_url": "https://api.example.com"}, "resources": ["things"], "paginator": 5}}),
            ),
            422,
            "invalid config",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(json!({"connector": "rest_api", "config": [1]})),
            422,
            "JSON object",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(json!({"connector": "rest_api", "config": good["config"], "every": "soon"})),
            422,
            "`every`",
        ),
        (
            "PUT",
            "/v1/sources/shop",
            Body::Json(
                json!({"connector": "rest_api", "config": good["config"], "resources": ["nope"]}),
            ),
            422,
            "unknown resource `nope`",
        ),
        (
            "PUT",
            "/v1/sources/Shop",
            good.clone().into(),
            400,
            "invalid source name",
        ),
        (
            "POST",
            "/v1/tenants",
            Body::Json(json!({"name": "x", "plan": "gold"})),
            401,
            "token",
        ),
        (
            "GET",
            "/v1/tables/shop.things?limit=x",
            Body::None,
            400,
            "limit",
        ),
        ("GET", "/v1/nowhere", Body::None, 404, "no such endpoint"),
    ];
    for (method, path, body, want, needle) in cases {
        let (status, v) = server.call(method, path, Some(&t), body).await;
        assert_eq!(status, want, "{method} {path}: {v}");
        let text = v.to_string();
        assert!(
            text.contains(needle),
            "{method} {path}: `{needle}` not in {text}"
        );
    }
    // Nothing was stored.
    assert!(
        server
            .get("/v1/secrets", &t)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        server
            .get("/v1/sources", &t)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        server
            .get("/v1/connectors", &t)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let components: Vec<_> = std::fs::read_dir(dir.path().join("data/components"))
        .unwrap()
        .collect();
    assert!(components.is_empty(), "{components:?}");
    // Admin body checks too.
    let (status, v) = server
        .call(
            "POST",
            "/v1/tenants",
            Some(ADMIN),
            Body::Json(json!({"name": "x", "plan": "gold"})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("unknown field `plan`"), "{v}");
    // And the good source is accepted.
    let (status, v) = server
        .call("PUT", "/v1/sources/shop", Some(&t), good.into())
        .await;
    assert_eq!(status, 201, "{v}");
}

impl From<Value> for Body {
    fn from(v: Value) -> Self {
        Body::Json(v)
    }
}

// ---- OpenAPI ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let (status, doc) = server
        .call("GET", "/v1/openapi.json", None, Body::None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["info"]["title"], "extract serve");
    assert!(
        doc["paths"]["/v1/sources/{name}/syncs"]["post"].is_object(),
        "{doc}"
    );
    assert!(doc["components"]["schemas"]["JobView"].is_object(), "{doc}");
}
