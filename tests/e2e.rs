//! End-to-end tests: the real `extract` binary runs the real generic
//! component (built for wasm32-wasip2 and loaded by wasmtime) against mock
//! vendor APIs served on 127.0.0.1, into real DuckDB files.

mod common;
use common::extract;

use std::path::{Path, PathBuf};
use std::process::Output;

use mock_vendors::{Faults, MockOptions, MockServer, Vendor};
use serde_json::Value;

/// A scratch directory with a config, secrets and a DuckDB file.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `connectors/<file>` with its base URL pointed at the mock.
    fn connector(&self, file: &str, base_url: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("repo root");
        let text =
            std::fs::read_to_string(root.join("connectors").join(file)).expect("read connector");
        let mut config: Value = serde_json::from_str(&text).expect("connector is JSON");
        config["client"]["base_url"] = Value::String(base_url.to_string());
        edit(&mut config);
        let path = self.path(file);
        std::fs::write(&path, serde_json::to_string_pretty(&config).expect("json"))
            .expect("write config");
        path
    }

    fn secrets(&self, pairs: &[(&str, &str)]) -> PathBuf {
        let path = self.path("secrets.toml");
        let text: String = pairs
            .iter()
            .map(|(k, v)| format!("{k} = \"{v}\"\n"))
            .collect();
        std::fs::write(&path, text).expect("write secrets");
        path
    }
}

fn text(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn strings(db: &Path, sql: &str) -> Vec<String> {
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = stmt
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .expect("query");
    rows.map(|r| r.expect("row").unwrap_or_else(|| "NULL".into()))
        .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    conn.query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

const CHARGIFY_TABLES: &[(&str, &str)] = &[
    ("customers", "id"),
    ("subscriptions", "id"),
    ("invoices", "uid"),
    ("coupons", "id"),
    ("transactions", "id"),
];

async fn chargify(opts: MockOptions) -> MockServer {
    mock_vendors::serve(Vendor::Chargify, opts)
        .await
        .expect("start mock")
}

fn run_args(config: &Path, secrets: &Path, db: &Path) -> Vec<String> {
    vec![
        "run".into(),
        config.display().to_string(),
        "--secrets".into(),
        secrets.display().to_string(),
        "--db".into(),
        db.display().to_string(),
    ]
}

/// Every table holds exactly the mock's records, keyed as the mock keys them.
fn assert_chargify_rows(server: &MockServer, db: &Path) {
    let expected = server.expected();
    for (table, key) in CHARGIFY_TABLES {
        let mut want = expected.key_strings(table);
        assert!(!want.is_empty(), "the mock has no `{table}`");
        want.sort();
        let got = strings(
            db,
            &format!("SELECT CAST({key} AS VARCHAR) FROM chargify.chargify.{table} ORDER BY 1"),
        );
        assert_eq!(got.len(), want.len(), "row count of {table}");
        assert_eq!(got, want, "primary keys of {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chargify_sync_loads_exact_rows_and_merge_keeps_them_unique_on_rerun() {
    let server = chargify(MockOptions::default()).await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");

    let out = extract(run_args(&config, &secrets, &db)).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("resource") && stdout.contains("records") && stdout.contains("customers"),
        "{stdout}"
    );
    assert_chargify_rows(&server, &db);
    // Nested objects are flattened with `__`.
    assert!(
        count(
            &db,
            "SELECT count(*) FROM chargify.chargify.subscriptions WHERE customer__id IS NOT NULL"
        ) > 0
    );

    let out = extract(run_args(&config, &secrets, &db)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_chargify_rows(&server, &db);
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT load_id) FROM chargify.chargify._dlt_loads"
        ),
        2
    );
    // Every row carries the load id of the run that last wrote it.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chargify.chargify.customers WHERE _dlt_load_id IS NULL"
        ),
        0
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_429_and_500_are_retried_and_nothing_is_lost() {
    let server = chargify(MockOptions {
        faults: Faults {
            rate_limit_every: Some(7),
            retry_after_secs: 1,
            server_error_every: Some(5),
            ..Faults::default()
        },
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");
    let out = extract(run_args(&config, &secrets, &db)).await;
    assert!(out.status.success(), "{}", text(&out));
    let stats = server.stats();
    assert!(
        stats.status(429) > 0 && stats.status(500) > 0,
        "faults were injected: {stats:?}"
    );
    assert_chargify_rows(&server, &db);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_fails_with_401_naming_the_resource_and_loads_nothing() {
    let server = chargify(MockOptions::default()).await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", "not-the-key")]);
    let db = s.path("chargify.duckdb");
    let out = extract(run_args(&config, &secrets, &db)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("resource `customers`") && all.contains("401"),
        "{all}"
    );
    assert!(all.contains("credentials"), "{all}");
    assert!(
        !all.contains("not-the-key"),
        "the secret value leaked: {all}"
    );
    let tables = count(
        &db,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'chargify' AND table_name IN ('customers','subscriptions','invoices','coupons','transactions')",
    );
    assert_eq!(tables, 0, "no partial garbage");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_names_it_and_the_env_var() {
    let s = Scratch::new();
    let config = s.connector("chargify.json", "http://127.0.0.1:9", |_| {});
    let secrets = s.secrets(&[]);
    let out = extract(run_args(&config, &secrets, &s.path("x.duckdb"))).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("api_key") && all.contains("EXTRACT_SECRET_API_KEY"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_from_environment_overrides_file() {
    let server = chargify(MockOptions {
        records: 30,
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", "wrong")]);
    let db = s.path("chargify.duckdb");
    let args = run_args(&config, &secrets, &db);
    let out = common::extract_with_env(
        args,
        vec![(
            "EXTRACT_SECRET_API_KEY".into(),
            mock_vendors::CHARGIFY_API_KEY.into(),
        )],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_chargify_rows(&server, &db);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_config_names_the_bad_key() {
    let s = Scratch::new();
    let config = s.connector("chargify.json", "http://127.0.0.1:9", |c| {
        c["resources"][1]["endpoint"]["paginatr"] =
            c["resources"][1]["endpoint"]["paginator"].take();
    });
    let secrets = s.secrets(&[("api_key", "k")]);
    let out = extract(run_args(&config, &secrets, &s.path("x.duckdb"))).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("paginatr"), "{}", text(&out));

    let bad_json = s.path("bad.json");
    std::fs::write(&bad_json, "{\"client\": {\"base_url\": }").expect("write");
    let out = extract(run_args(&bad_json, &secrets, &s.path("x.duckdb"))).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("line 1"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selected_resources_only_and_unknown_ones_are_refused() {
    let server = chargify(MockOptions {
        records: 50,
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");
    let mut args = run_args(&config, &secrets, &db);
    args.extend(["--resources".to_string(), "coupons".to_string()]);
    let out = extract(args.clone()).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        strings(
            &db,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'chargify' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1"
        ),
        // The root table and the child table of its nested list.
        vec![
            "coupons".to_string(),
            "coupons__coupon_restrictions".to_string()
        ]
    );
    let n = args.len();
    args[n - 1] = "nope".into();
    let out = extract(args).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("unknown resource `nope`"),
        "{}",
        text(&out)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_dry_runs_one_page_and_explains_an_empty_selector() {
    let server = chargify(MockOptions::default()).await;
    let s = Scratch::new();
    // The seed as written selects `invoices.json` inside `{"invoices": [...]}`.
    let config = s.connector("chargify.json", &server.base_url(), |c| {
        c["resources"][2]["endpoint"]["data_selector"] = Value::String("invoices.json".into());
    });
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let out = extract(vec![
        "check".into(),
        config.display().to_string(),
        "--secrets".into(),
        secrets.display().to_string(),
    ])
    .await;
    let all = text(&out);
    assert!(all.contains("selected: 200 records"), "{all}");
    assert!(
        all.contains("invoices.json") && all.contains("invoices"),
        "{all}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a resource failed its dry run: {all}"
    );
    // Nothing was requested beyond one page per resource.
    let stats = server.stats();
    assert!(stats.data_requests <= 5, "{stats:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_page_urls_to_other_hosts_are_refused() {
    let server = chargify(MockOptions {
        records: 10,
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    // The operator trusts 127.0.0.1:<mock port>; a path that makes the
    // component plan an absolute URL elsewhere is refused before any I/O.
    let config = s.connector("chargify.json", &server.base_url(), |c| {
        c["resources"][0]["endpoint"]["path"] =
            Value::String("http://169.254.169.254/latest/meta-data".into());
    });
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");
    let out = extract(run_args(&config, &secrets, &db)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("169.254.169.254") && all.contains("not allowed"),
        "{all}"
    );
    // The other resources still completed.
    assert_eq!(
        count(&db, "SELECT count(*) FROM chargify.chargify.coupons"),
        server.expected().count("coupons") as i64
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_cursor_is_stored_in_the_duckdb_file_and_kept_across_runs() {
    let server = chargify(MockOptions {
        records: 120,
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |c| {
        c["resources"][0]["endpoint"]["incremental"] = serde_json::json!({
            "cursor_path": "updated_at",
            "initial_value": "2000-01-01T00:00:00Z",
            "start_param": "start_datetime"
        });
    });
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");
    let mut args = run_args(&config, &secrets, &db);
    args.extend(["--resources".into(), "customers".into()]);
    let out = extract(args.clone()).await;
    assert!(out.status.success(), "{}", text(&out));
    // `updated_at` is a timestamp column (dlt's ISO timestamp detection).
    let newest = strings(
        &db,
        "SELECT CAST(max(updated_at) AS VARCHAR) FROM chargify.chargify.customers",
    );
    let state = strings(
        &db,
        "SELECT state FROM chargify.chargify._extract_state WHERE resource = 'customers'",
    );
    assert_eq!(state.len(), 1, "one stored state");
    let stored: Value = serde_json::from_str(&state[0]).expect("state is JSON");
    let instant = |s: &str| extract::storage::types::parse_iso_datetime(s).expect(s);
    assert_eq!(
        instant(stored["last_value"].as_str().expect("a string cursor")),
        instant(&newest[0]),
        "{stored} vs {newest:?}"
    );

    // The next run starts from the stored value (the component's unit tests
    // check the request it builds from it) and keeps it.
    let out = extract(args).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        strings(
            &db,
            "SELECT state FROM chargify.chargify._extract_state WHERE resource = 'customers'"
        ),
        state,
        "no newer records, so the state is unchanged"
    );
    server.shutdown().await;
}

/// OAuth2 error path: a token endpoint that rejects the credentials fails
/// every resource with a message naming the token endpoint, never the
/// secret, and no data request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_rejected_credentials_fail_clearly_without_data_requests() {
    let server = mock_vendors::serve(
        Vendor::Younium,
        MockOptions {
            records: 20,
            ..MockOptions::default()
        },
    )
    .await
    .expect("start mock");
    let s = Scratch::new();
    let token_url = server.token_url().expect("younium has a token endpoint");
    let config = s.connector("younium.json", &server.base_url(), |c| {
        c["client"]["auth"]["token_url"] = Value::String(token_url.clone());
    });
    let secrets = s.secrets(&[
        ("username", mock_vendors::YOUNIUM_USERNAME),
        ("password", "definitely-wrong-password"),
        ("legal_entity", mock_vendors::YOUNIUM_LEGAL_ENTITY),
    ]);
    let db = s.path("younium.duckdb");
    let out = extract(run_args(&config, &secrets, &db)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("token endpoint") && all.contains("rejected"),
        "{all}"
    );
    assert!(
        !all.contains("definitely-wrong-password"),
        "the secret leaked: {all}"
    );
    assert_eq!(
        server.stats().data_requests,
        0,
        "no data request without a token"
    );

    server.shutdown().await;
}

/// The sandbox's CPU deadline and memory cap stop a looping and a
/// memory-hogging component; each fails only its own resource, with a
/// message naming the component and the limit, and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_and_memory_hogging_components_fail_only_their_resource() {
    let server = chargify(MockOptions {
        records: 5,
        ..MockOptions::default()
    })
    .await;
    let s = Scratch::new();
    let overrides = s.path("overrides.json");
    let text_overrides = serde_json::json!({"client": {"base_url": server.base_url()}}).to_string();
    std::fs::write(&overrides, text_overrides).expect("write overrides");
    let wasm = Path::new(extract::builtin::COMPONENTS_DIR).join("test_hostile.wasm");
    let secrets = s.secrets(&[]);
    let db = s.path("hostile.duckdb");
    let mut args = run_args(&wasm, &secrets, &db);
    args.extend([
        "--config".into(),
        overrides.display().to_string(),
        "--call-timeout-ms".into(),
        "300".into(),
        "--memory-mib".into(),
        "64".into(),
    ]);
    let started = std::time::Instant::now();
    let out = extract(args).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("error in `spin`")
            && all.contains("component `test_hostile`")
            && all.contains("CPU deadline"),
        "{all}"
    );
    assert!(
        all.contains("error in `hog`")
            && all.contains("out of memory")
            && all.contains("--memory-mib 64"),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("calm") && l.contains(" ok ")),
        "the well-behaved resource completed: {all}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the loop was stopped"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_whose_tables_collide_are_refused_before_any_request() {
    let server = chargify(MockOptions::default()).await;
    let s = Scratch::new();
    // `Coupons` normalizes to the table of `coupons`.
    let config = s.connector("chargify.json", &server.base_url(), |c| {
        let resources = c["resources"].as_array_mut().expect("resources");
        let mut twin = resources
            .iter()
            .find(|r| r["name"] == "coupons")
            .expect("coupons")
            .clone();
        twin["name"] = Value::String("Coupons".into());
        resources.push(twin);
    });
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let db = s.path("chargify.duckdb");
    let out = extract(run_args(&config, &secrets, &db)).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out)
            .contains("resources `coupons` and `Coupons` would both load into table `coupons`"),
        "{}",
        text(&out)
    );
    assert_eq!(server.stats().data_requests, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_applies_the_records_per_page_limit() {
    let server = chargify(MockOptions::default()).await;
    let s = Scratch::new();
    let config = s.connector("chargify.json", &server.base_url(), |_| {});
    let secrets = s.secrets(&[("api_key", mock_vendors::CHARGIFY_API_KEY)]);
    let out = extract(vec![
        "check".into(),
        config.display().to_string(),
        "--secrets".into(),
        secrets.display().to_string(),
        "--max-records-per-page".into(),
        "3".into(),
    ])
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("over the limit"), "{all}");
    server.shutdown().await;
}
