//! End-to-end tests of the five seed connectors as the product ships them
//! (`connectors/*.json`): the real `extract` binary runs each config through
//! the generic `rest_api` component against the loopback mock of its vendor
//! (`mock-vendors`: auth enforced, realistic nested records, the vendor's
//! real stop rules) into a real DuckDB file. The tests assert exact row
//! counts, sorted primary keys, the schema (named after the config file),
//! parent/child linkage, clean merges on a second run, retries of injected
//! 429s and 500s, and OAuth token refresh.
//!
//! Every sync goes through one helper, [`Job`], parameterised by a
//! [`Variant`]: the generic component with the seed config
//! (`extract run <vendor>.json`), and, once a vendor component
//! `<vendor>.wasm` is built into `extract::builtin::COMPONENTS_DIR`, that
//! component with overrides that point it at the mock
//! (`extract run <vendor>.wasm --config overrides.json`: `client.base_url`,
//! `client.auth.token_url`, and PayPal's `start_date`). A vendor whose
//! component is not built is run through the generic variant only, with a
//! printed note.

mod common;
use common::extract;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use mock_vendors::{Faults, MockOptions, MockServer, Vendor};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The seeds: tables, primary-key columns, page sizes and parent links.

/// One table of a seed: resource name, DuckDB column of its primary key
/// (dlt's snake_case of the seed's `primary_key`), and the page size the
/// seed config asks for (0: not paginated per se, e.g. a child or a single
/// page), used to check that several pages were really fetched.
type Table = (&'static str, &'static str, usize);

/// A parent/child link between two resources of a seed.
struct Link {
    child: &'static str,
    parent: &'static str,
    /// Column of the child's rows naming its parent's `id`: a field of the
    /// vendor's own records (Pabbly children carry `product_id` or
    /// `customer_id`; a PayPal product detail *is* the product, `id`).
    parent_id_column: &'static str,
    /// The vendor's list of one parent's children, below the API base
    /// (`{id}`: the parent id); `None` when the child is the parent's own
    /// detail record (exactly one per parent, with the parent's id).
    mock_path: Option<&'static str>,
}

/// A seed config of `connectors/` and what its vendor's mock serves.
struct Seed {
    vendor: Vendor,
    tables: &'static [Table],
    links: &'static [Link],
}

impl Seed {
    /// The DuckDB schema: the config has no `name`, so the file stem.
    fn schema(&self) -> &'static str {
        self.vendor.name()
    }

    fn file(&self) -> String {
        format!("{}.json", self.vendor.name())
    }

    fn names(&self) -> Vec<&'static str> {
        self.tables.iter().map(|t| t.0).collect()
    }

    fn table(&self, name: &str) -> &Table {
        self.tables
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{} has no table `{name}`", self.vendor))
    }
}

const CHARGIFY: Seed = Seed {
    vendor: Vendor::Chargify,
    tables: &[
        ("customers", "id", 200),
        ("subscriptions", "id", 200),
        ("invoices", "uid", 200),
        ("coupons", "id", 200),
        ("transactions", "id", 200),
    ],
    links: &[],
};

const PABBLY: Seed = Seed {
    vendor: Vendor::Pabbly,
    tables: &[
        ("addons", "id", 0),
        ("coupons", "id", 0),
        ("refunds", "id", 0),
        ("invoices", "id", 100),
        ("licenses", "id", 0),
        ("products", "id", 100),
        ("customers", "id", 100),
        ("multiplans", "id", 100),
        ("transactions", "id", 0),
        ("subscriptions", "id", 100),
        ("payment_methods", "id", 0),
        // At most 4 gateways, whatever the record count.
        ("payment_gateways", "id", 0),
        ("addon_list_category", "id", 0),
    ],
    links: &[
        Link {
            child: "addons",
            parent: "products",
            parent_id_column: "product_id",
            mock_path: Some("/addons/{id}"),
        },
        Link {
            child: "coupons",
            parent: "products",
            parent_id_column: "product_id",
            mock_path: Some("/coupon/{id}"),
        },
        Link {
            child: "licenses",
            parent: "products",
            parent_id_column: "product_id",
            mock_path: Some("/products/{id}/licenses"),
        },
        Link {
            child: "addon_list_category",
            parent: "products",
            parent_id_column: "product_id",
            mock_path: Some("/addonlistcategory/{id}"),
        },
        Link {
            child: "refunds",
            parent: "customers",
            parent_id_column: "customer_id",
            mock_path: Some("/refund/{id}"),
        },
        Link {
            child: "transactions",
            parent: "customers",
            parent_id_column: "customer_id",
            mock_path: Some("/transactions/{id}"),
        },
        Link {
            child: "payment_methods",
            parent: "customers",
            parent_id_column: "customer_id",
            mock_path: Some("/paymentmethods/{id}"),
        },
    ],
};

const YOUNIUM: Seed = Seed {
    vendor: Vendor::Younium,
    tables: &[
        ("account", "id", 100),
        ("booking", "id", 100),
        ("invoice", "id", 100),
        ("product", "id", 100),
        ("subscription", "id", 100),
    ],
    links: &[],
};

const FASTBILL: Seed = Seed {
    vendor: Vendor::FastBill,
    tables: &[
        ("invoices", "invoice_id", 100),
        ("recurring_invoices", "invoice_id", 100),
        ("products", "article_id", 100),
        ("revenues", "invoice_id", 100),
        ("customers", "customer_id", 100),
    ],
    links: &[],
};

const PAYPAL: Seed = Seed {
    vendor: Vendor::PayPal,
    tables: &[
        ("transactions", "transaction_info__transaction_id", 500),
        ("balances", "as_of_time", 0),
        ("list_products", "id", 20),
        ("show_product_details", "id", 0),
        ("list_disputes", "dispute_id", 50),
        ("search_invoices", "id", 100),
        ("list_payments", "id", 20),
    ],
    links: &[Link {
        child: "show_product_details",
        parent: "list_products",
        parent_id_column: "id",
        mock_path: None,
    }],
};

/// `connectors/paypal.json` walks transaction windows from three years
/// back; start them where the mock's data starts so the walk is short and
/// the test does not depend on today's date.
fn paypal_from_data_start(config: &mut Value) {
    for r in config["resources"].as_array_mut().expect("resources list") {
        if r["name"] == "transactions" {
            r["endpoint"]["date_window"]["start"] = json!(mock_vendors::PAYPAL_DATA_START);
        }
    }
}

// ---------------------------------------------------------------------------
// Variants: the generic component with the seed config, or a vendor component.

/// Which component runs the seed.
#[derive(Clone, Debug)]
enum Variant {
    /// `extract run <vendor>.json`: the generic `rest_api` component with
    /// the seed config from `connectors/`, URLs pointed at the mock.
    Generic,
    /// `extract run <vendor>.wasm --config overrides.json`: a vendor
    /// component, with overrides that only set `client.base_url`,
    /// `client.auth.token_url` and (PayPal) where the history starts.
    Component(PathBuf),
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variant::Generic => f.write_str("generic component"),
            Variant::Component(p) => write!(f, "vendor component {}", p.display()),
        }
    }
}

/// The generic variant, plus the vendor component when it has been built.
fn variants(vendor: Vendor) -> Vec<Variant> {
    let mut out = vec![Variant::Generic];
    let wasm = Path::new(extract::builtin::COMPONENTS_DIR).join(format!("{}.wasm", vendor.name()));
    if wasm.is_file() {
        out.push(Variant::Component(wasm));
    } else {
        eprintln!(
            "note: no vendor component {} yet: the {vendor} vendor-component variant is skipped",
            wasm.display()
        );
    }
    out
}

/// A config edit applied to the generic variant's seed config only (a
/// vendor component gets nothing but URLs).
type Edit<'a> = &'a dyn Fn(&mut Value);

fn as_shipped(_: &mut Value) {}

// ---------------------------------------------------------------------------
// One sync job: a scratch dir with the config, secrets and a DuckDB file.

struct Job<'a> {
    seed: &'a Seed,
    variant: &'a Variant,
    server: &'a MockServer,
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl<'a> Job<'a> {
    fn new(seed: &'a Seed, variant: &'a Variant, server: &'a MockServer) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("seed.duckdb");
        let secrets: String = seed
            .vendor
            .secrets()
            .iter()
            .map(|(k, v)| format!("{k} = \"{v}\"\n"))
            .collect();
        std::fs::write(dir.path().join("secrets.toml"), secrets).expect("write secrets");
        Self {
            seed,
            variant,
            server,
            dir,
            db,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The positional source argument (and `--config`), written for this
    /// variant with its URLs pointed at the mock.
    fn source(&self, edit: Edit<'_>) -> Vec<String> {
        let base = Value::String(self.server.api_base_url());
        let token = self.server.token_url().map(Value::String);
        match self.variant {
            Variant::Generic => {
                let mut config = shipped_config(self.seed);
                config["client"]["base_url"] = base;
                if let Some(t) = token {
                    config["client"]["auth"]["token_url"] = t;
                }
                edit(&mut config);
                let path = self.path(&self.seed.file());
                write_json(&path, &config);
                vec![path.display().to_string()]
            }
            Variant::Component(wasm) => {
                let mut overrides = json!({"client": {"base_url": base}});
                if let Some(t) = token {
                    overrides["client"]["auth"] = json!({ "token_url": t });
                }
                if self.seed.vendor == Vendor::PayPal {
                    // The component walks transactions' date windows from
                    // `now-1095d` unless told where the history starts; the
                    // mock's history is fixed, so say it (and keep the walk
                    // short and independent of the clock).
                    overrides["start_date"] = json!(mock_vendors::PAYPAL_DATA_START);
                }
                let path = self.path("overrides.json");
                write_json(&path, &overrides);
                vec![
                    wasm.display().to_string(),
                    "--config".into(),
                    path.display().to_string(),
                ]
            }
        }
    }

    /// `extract run SOURCE --secrets S --db D [--resources R]`.
    async fn run(&self, edit: Edit<'_>, resources: Option<&[&str]>) -> Output {
        let mut args = vec!["run".to_string()];
        args.extend(self.source(edit));
        args.extend([
            "--secrets".to_string(),
            self.path("secrets.toml").display().to_string(),
            "--db".to_string(),
            self.db.display().to_string(),
        ]);
        if let Some(r) = resources {
            args.extend(["--resources".to_string(), r.join(",")]);
        }
        extract(args).await
    }

    fn text(&self, out: &Output) -> String {
        format!(
            "{} via the {}\nstatus: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.seed.vendor,
            self.variant,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn assert_success(&self, out: &Output) {
        assert!(out.status.success(), "{}", self.text(out));
    }
}

/// `connectors/<vendor>.json` as the product ships it.
fn shipped_config(seed: &Seed) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root");
    let path = root.join("connectors").join(seed.file());
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the connector is JSON")
}

fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("json");
    std::fs::write(path, text).expect("write json");
}

async fn serve(seed: &Seed, opts: MockOptions) -> MockServer {
    mock_vendors::serve(seed.vendor, opts)
        .await
        .expect("start mock")
}

// ---------------------------------------------------------------------------
// DuckDB.

fn open(db: &Path) -> duckdb::Connection {
    duckdb::Connection::open(db).unwrap_or_else(|e| panic!("open {}: {e}", db.display()))
}

fn strings(db: &Path, sql: &str) -> Vec<String> {
    let conn = open(db);
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = stmt
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.map(|r| r.expect("row").unwrap_or_else(|| "NULL".into()))
        .collect()
}

fn pairs(db: &Path, sql: &str) -> Vec<(String, String)> {
    let conn = open(db);
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, Option<String>>(1)?,
            ))
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.map(|r| {
        let (a, b) = r.expect("row");
        (
            a.unwrap_or_else(|| "NULL".into()),
            b.unwrap_or_else(|| "NULL".into()),
        )
    })
    .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    open(db)
        .query_row(sql, [], |row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

// ---------------------------------------------------------------------------
// Assertions.

/// The DuckDB file holds one data schema (besides the loader's own, whose
/// names start with `_`), named after the config file, with
/// exactly `tables` as data tables; each holds exactly the mock's records
/// (row count and sorted primary keys).
fn assert_exact_rows(job: &Job<'_>, tables: &[&str]) {
    let db = &job.db;
    let schema = job.seed.schema();
    let schemas = strings(
        db,
        "SELECT DISTINCT schema_name FROM information_schema.schemata \
         WHERE schema_name NOT IN ('main', 'information_schema', 'pg_catalog') \
         AND schema_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1",
    );
    assert_eq!(
        schemas,
        vec![schema.to_string()],
        "schemas ({})",
        job.variant
    );
    let mut want_tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    want_tables.sort();
    let got_tables = strings(
        db,
        &format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' \
             AND table_name NOT LIKE '\\_%' ESCAPE '\\' \
             AND table_name NOT IN (SELECT table_name FROM \"{schema}\"._extract_tables WHERE parent_table IS NOT NULL) \
             ORDER BY 1"
        ),
    );
    assert_eq!(
        got_tables, want_tables,
        "root tables of schema `{schema}` ({}); nested lists are child tables",
        job.variant
    );
    let expected = job.server.expected();
    for table in tables {
        let (_, key, _) = job.seed.table(table);
        let want = expected.key_strings(table);
        assert!(
            !want.is_empty(),
            "the {} mock has no `{table}`",
            job.seed.vendor
        );
        // A key holding an ISO timestamp is a timestamp column (dlt's
        // detection): compare instants, not spellings.
        let instant = |s: String| match extract::storage::types::parse_iso_datetime(&s) {
            Some(us) => format!("@{us}"),
            None => s,
        };
        let mut want: Vec<String> = want.into_iter().map(instant).collect();
        want.sort();
        let mut got: Vec<String> = strings(
            db,
            &format!("SELECT CAST(\"{key}\" AS VARCHAR) FROM {schema}.{table}"),
        )
        .into_iter()
        .map(instant)
        .collect();
        got.sort();
        assert_eq!(
            got.len(),
            want.len(),
            "row count of {schema}.{table} ({})",
            job.variant
        );
        assert_eq!(
            got, want,
            "primary keys of {schema}.{table} ({})",
            job.variant
        );
    }
}

/// The generic component fetched every page the seed's page size implies
/// (so the record counts really span several pages).
fn assert_paged(job: &Job<'_>, tables: &[&str]) {
    if !matches!(job.variant, Variant::Generic) {
        return;
    }
    let stats = job.server.stats();
    let expected = job.server.expected();
    for table in tables {
        let (_, _, page_size) = job.seed.table(table);
        if *page_size == 0 {
            continue;
        }
        let pages = expected.count(table).div_ceil(*page_size) as u64;
        let served = stats.pages_served.get(*table).copied().unwrap_or(0);
        assert!(
            served >= pages,
            "{table}: {served} pages served, at least {pages} expected: {stats:?}"
        );
    }
}

/// Every child row names an existing parent, and each parent's children in
/// DuckDB are exactly the ones the mock holds for that parent.
async fn assert_links(job: &Job<'_>, tables: &[&str]) {
    let db = &job.db;
    let schema = job.seed.schema();
    // reqwest is built without a default TLS provider (the CLI installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let links = job
        .seed
        .links
        .iter()
        .filter(|l| tables.contains(&l.child) && tables.contains(&l.parent));
    for link in links {
        let (child, parent, column) = (link.child, link.parent, link.parent_id_column);
        let orphans = count(
            db,
            &format!(
                "SELECT count(*) FROM {schema}.{child} \
                 WHERE \"{column}\" IS NULL OR \"{column}\" NOT IN (SELECT id FROM {schema}.{parent})"
            ),
        );
        assert_eq!(
            orphans, 0,
            "{child} rows whose {column} names no {parent} row ({})",
            job.variant
        );
        let mut loaded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (parent_id, id) in pairs(
            db,
            &format!(
                "SELECT CAST(\"{column}\" AS VARCHAR), CAST(id AS VARCHAR) FROM {schema}.{child}"
            ),
        ) {
            loaded.entry(parent_id).or_default().insert(id);
        }
        let parents = strings(
            db,
            &format!("SELECT CAST(id AS VARCHAR) FROM {schema}.{parent}"),
        );
        assert!(!parents.is_empty(), "no {parent} rows");
        let mut with_children = 0;
        for parent_id in &parents {
            let want = match link.mock_path {
                Some(path) => mock_children(&client, job.server, path, parent_id).await,
                None => BTreeSet::from([parent_id.clone()]),
            };
            with_children += usize::from(!want.is_empty());
            let got = loaded.remove(parent_id).unwrap_or_default();
            assert_eq!(
                got, want,
                "{child} of {parent} `{parent_id}` ({})",
                job.variant
            );
        }
        assert!(with_children > 0, "no {parent} has {child}");
        assert!(
            loaded.is_empty(),
            "{child} rows of unknown parents: {loaded:?}"
        );
    }
}

/// The ids the mock lists at `path` for one parent, read the way the real
/// API pages them (Pabbly: `page`/`limit`, a 400 "No ... found" when there
/// is nothing (more), a short page is the last). Injected faults are
/// retried.
async fn mock_children(
    client: &reqwest::Client,
    server: &MockServer,
    path: &str,
    parent_id: &str,
) -> BTreeSet<String> {
    assert_eq!(server.vendor, Vendor::Pabbly, "children lists are Pabbly's");
    const LIMIT: usize = 100;
    let mut ids = BTreeSet::new();
    let mut page = 1;
    loop {
        let url = format!(
            "{}{}?page={page}&limit={LIMIT}",
            server.api_base_url(),
            path.replace("{id}", parent_id)
        );
        let resp = client
            .get(&url)
            .basic_auth(
                mock_vendors::PABBLY_USERNAME,
                Some(mock_vendors::PABBLY_PASSWORD),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            continue;
        }
        if status == 400 {
            break;
        }
        assert_eq!(status, 200, "GET {url}");
        let body: Value = resp.json().await.expect("JSON body");
        let data = body["data"].as_array().expect("`data` list");
        ids.extend(
            data.iter()
                .map(|r| r["id"].as_str().expect("string id").to_string()),
        );
        if data.len() < LIMIT {
            break;
        }
        page += 1;
    }
    ids
}

fn load_ids(job: &Job<'_>) -> i64 {
    count(
        &job.db,
        &format!(
            "SELECT count(DISTINCT load_id) FROM {}._dlt_loads",
            job.seed.schema()
        ),
    )
}

// ---------------------------------------------------------------------------
// The shared scenarios.

/// Sync `tables` (all of the seed's when `None`) twice into one DuckDB
/// file: after each run every table holds exactly the mock's records, once
/// each (merge), linked to their parents.
async fn sync_twice(
    seed: &Seed,
    variant: &Variant,
    opts: MockOptions,
    edit: Edit<'_>,
    only: Option<&[&str]>,
) {
    let server = serve(seed, opts).await;
    let job = Job::new(seed, variant, &server);
    let all = seed.names();
    let tables = only.unwrap_or(&all);
    let started = Instant::now();
    let out = job.run(edit, only).await;
    let first = started.elapsed();
    job.assert_success(&out);
    assert_exact_rows(&job, tables);
    assert_paged(&job, tables);
    assert_links(&job, tables).await;

    let started = Instant::now();
    let out = job.run(edit, only).await;
    let second = started.elapsed();
    job.assert_success(&out);
    assert_exact_rows(&job, tables);
    assert_links(&job, tables).await;
    assert_eq!(load_ids(&job), 2, "two loads recorded ({variant})");
    eprintln!(
        "{} via the {variant}: first sync {first:.2?}, second {second:.2?}, {} requests",
        seed.vendor,
        server.stats().requests_total
    );
    server.shutdown().await;
}

/// A sync with 429s (with `Retry-After`) and 500s injected: every one is
/// retried and nothing is lost.
async fn sync_with_faults(
    seed: &Seed,
    variant: &Variant,
    opts: MockOptions,
    edit: Edit<'_>,
    only: Option<&[&str]>,
) {
    let server = serve(seed, opts).await;
    let job = Job::new(seed, variant, &server);
    let all = seed.names();
    let tables = only.unwrap_or(&all);
    let started = Instant::now();
    let out = job.run(edit, only).await;
    let elapsed = started.elapsed();
    job.assert_success(&out);
    let stats = server.stats();
    assert!(
        stats.status(429) > 0 && stats.status(500) > 0,
        "faults were injected: {stats:?}"
    );
    assert_exact_rows(&job, tables);
    assert_links(&job, tables).await;
    eprintln!(
        "{} via the {variant} with faults: {elapsed:.2?}, {:?} injected",
        seed.vendor, stats.faults_injected
    );
    server.shutdown().await;
}

/// 429 every `rate` data requests (`Retry-After: 1`), 500 every `error`.
fn faults(records: usize, rate: u32, error: u32) -> MockOptions {
    MockOptions {
        records,
        faults: Faults {
            rate_limit_every: Some(rate),
            retry_after_secs: 1,
            server_error_every: Some(error),
            ..Faults::default()
        },
        ..MockOptions::default()
    }
}

fn records(n: usize) -> MockOptions {
    MockOptions {
        records: n,
        ..MockOptions::default()
    }
}

/// Pabbly's child endpoints answer HTTP 400 "No ... found" when a parent has
/// no children. The real connector ignores that 400 (dlt's
/// `response_actions`) and does not retry it; the seed retries it three
/// times with `backoff_factor: 2`. This is the real connector's handling.
fn pabbly_ignores_empty_children(config: &mut Value) {
    let resources = config["resources"].as_array_mut().expect("resources list");
    for r in resources {
        let is_child = r
            .pointer("/endpoint/path")
            .and_then(Value::as_str)
            .is_some_and(|p| p.contains("stream_partition"));
        if !is_child {
            continue;
        }
        if let Some(codes) = r
            .pointer_mut("/endpoint/error_handler/retry_on_status_codes")
            .and_then(Value::as_array_mut)
        {
            codes.retain(|c| c != 400);
        }
        r["endpoint"]["response_actions"] =
            json!([{"status_code": 400, "content": "found", "action": "ignore"}]);
    }
}

// ---------------------------------------------------------------------------
// 000 Chargify

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chargify_seed_loads_exact_rows_and_reruns_without_duplicates() {
    for variant in variants(Vendor::Chargify) {
        sync_twice(&CHARGIFY, &variant, records(450), &as_shipped, None).await;
    }
}

// ---------------------------------------------------------------------------
// 001 Pabbly

/// 120 products and customers: two pages of every top-level list, about a
/// third of the parents without children of a kind (HTTP 400), and parent
/// #2 with 123 children of each kind (two pages).
const PABBLY_RECORDS: usize = 120;

/// The generic variant runs the seed with its child endpoints handling
/// Pabbly's 400 for "no children" the way the real connector does (ignored,
/// not retried: [`pabbly_ignores_empty_children`]); the seed exactly as
/// shipped is `pabbly_seed_as_shipped_survives_400_for_empty_children`.
/// The vendor component runs as built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pabbly_seed_loads_exact_rows_and_children_per_parent() {
    for variant in variants(Vendor::Pabbly) {
        sync_twice(
            &PABBLY,
            &variant,
            records(PABBLY_RECORDS),
            &pabbly_ignores_empty_children,
            None,
        )
        .await;
    }
}

/// The seed as shipped retries the 400 of an empty child list three times
/// (`retry_on_status_codes: [400]`, `backoff_factor: 2`: 2 + 4 + 8 s per
/// empty parent) and `refunds` not at all; the issue requires that this
/// does not fail the sync. Few parents, to bound the backoff (this run took
/// about 30 s, all of it retry backoff, before failing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pabbly_seed_as_shipped_survives_400_for_empty_children() {
    let server = serve(&PABBLY, records(4)).await;
    let job = Job::new(&PABBLY, &Variant::Generic, &server);
    let started = Instant::now();
    let out = job.run(&as_shipped, None).await;
    let elapsed = started.elapsed();
    eprintln!("pabbly as shipped: {elapsed:.2?}");
    assert!(
        out.status.success(),
        "after {elapsed:.2?}: {}",
        job.text(&out)
    );
    assert_exact_rows(&job, &PABBLY.names());
    assert_links(&job, &PABBLY.names()).await;
    server.shutdown().await;
}

/// With `include_from_parent`, each child row records the parent the
/// component requested it for (`_products_id`, `_customers_id`), and that
/// is the parent the vendor's record names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pabbly_include_from_parent_names_the_requesting_parent() {
    let server = serve(&PABBLY, records(20)).await;
    let job = Job::new(&PABBLY, &Variant::Generic, &server);
    let edit = |config: &mut Value| {
        pabbly_ignores_empty_children(config);
        for r in config["resources"].as_array_mut().expect("resources") {
            if r["endpoint"]["path"]
                .as_str()
                .is_some_and(|p| p.contains("stream_partition"))
            {
                r["include_from_parent"] = json!(["id"]);
            }
        }
    };
    let out = job.run(&edit, None).await;
    job.assert_success(&out);
    assert_exact_rows(&job, &PABBLY.names());
    for link in PABBLY.links {
        let (child, parent, column) = (link.child, link.parent, link.parent_id_column);
        let rows = count(&job.db, &format!("SELECT count(*) FROM pabbly.{child}"));
        let linked = count(
            &job.db,
            &format!(
                "SELECT count(*) FROM pabbly.{child} c JOIN pabbly.{parent} p \
                 ON c._{parent}_id = p.id WHERE c._{parent}_id = c.{column}"
            ),
        );
        assert!(rows > 0, "no {child}");
        assert_eq!(
            linked, rows,
            "{child} rows linked to the {parent} they were requested for"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pabbly_injected_429_and_500_lose_nothing() {
    for variant in variants(Vendor::Pabbly) {
        sync_with_faults(
            &PABBLY,
            &variant,
            faults(30, 61, 89),
            &pabbly_ignores_empty_children,
            None,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// 002 Younium

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn younium_seed_loads_exact_rows_and_reruns_without_duplicates() {
    for variant in variants(Vendor::Younium) {
        sync_twice(&YOUNIUM, &variant, records(250), &as_shipped, None).await;
    }
}

/// The token is revoked after a few uses, long before `expires_in`: the
/// next call answers 401, the host fetches a new token once and retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn younium_token_revoked_mid_sync_is_refreshed_and_nothing_is_lost() {
    for variant in variants(Vendor::Younium) {
        let server = serve(
            &YOUNIUM,
            MockOptions {
                records: 250,
                token_max_uses: Some(5),
                ..MockOptions::default()
            },
        )
        .await;
        let job = Job::new(&YOUNIUM, &variant, &server);
        let out = job.run(&as_shipped, None).await;
        job.assert_success(&out);
        let stats = server.stats();
        assert!(
            stats.status(401) > 0 && stats.tokens_issued > 1,
            "tokens were revoked mid-sync and refreshed: {stats:?}"
        );
        assert_exact_rows(&job, &YOUNIUM.names());
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn younium_injected_429_and_500_lose_nothing() {
    for variant in variants(Vendor::Younium) {
        sync_with_faults(&YOUNIUM, &variant, faults(250, 4, 7), &as_shipped, None).await;
    }
}

// ---------------------------------------------------------------------------
// 003 FastBill

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastbill_seed_loads_exact_rows_and_reruns_without_duplicates() {
    for variant in variants(Vendor::FastBill) {
        sync_twice(&FASTBILL, &variant, records(250), &as_shipped, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastbill_injected_429_and_500_lose_nothing() {
    for variant in variants(Vendor::FastBill) {
        sync_with_faults(&FASTBILL, &variant, faults(250, 4, 7), &as_shipped, None).await;
    }
}

// ---------------------------------------------------------------------------
// 004 PayPal

/// 120 records: 6 pages of products (20 each) and their 120 details, 2 of
/// invoices, 6 of payments (`next_id` cursor).
const PAYPAL_RECORDS: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_seed_loads_exact_rows_and_product_details_per_product() {
    for variant in variants(Vendor::PayPal) {
        sync_twice(
            &PAYPAL,
            &variant,
            records(PAYPAL_RECORDS),
            &paypal_from_data_start,
            None,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_product_details_come_from_the_detail_endpoint() {
    let server = serve(&PAYPAL, records(45)).await;
    let job = Job::new(&PAYPAL, &Variant::Generic, &server);
    let only = ["list_products", "show_product_details"];
    let out = job.run(&as_shipped, Some(&only)).await;
    job.assert_success(&out);
    assert_exact_rows(&job, &only);
    assert_links(&job, &only).await;
    let stats = server.stats();
    assert_eq!(
        stats.pages_served.get("show_product_details").copied(),
        Some(45),
        "one detail request per product: {stats:?}"
    );
    assert_eq!(
        count(
            &job.db,
            "SELECT count(*) FROM paypal.show_product_details WHERE type IS NULL OR category IS NULL"
        ),
        0,
        "every detail row carries the detail-only fields"
    );
    server.shutdown().await;
}

/// The seed's transactions resource sends no `start_date`/`end_date`; the
/// real API requires both, at most 31 days apart, so a sync must walk date
/// windows over the history (three windows here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_seed_transactions_walk_date_windows() {
    let server = serve(&PAYPAL, records(PAYPAL_RECORDS)).await;
    let job = Job::new(&PAYPAL, &Variant::Generic, &server);
    let only = ["transactions"];
    let out = job.run(&paypal_from_data_start, Some(&only)).await;
    job.assert_success(&out);
    assert_exact_rows(&job, &only);
    server.shutdown().await;
}

/// The seed pages disputes with a `page_number` paginator whose page
/// parameter is `next_page_token`; PayPal only accepts the opaque token of
/// its `next` link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_seed_list_disputes_follow_next_page_tokens() {
    let server = serve(&PAYPAL, records(PAYPAL_RECORDS)).await;
    let job = Job::new(&PAYPAL, &Variant::Generic, &server);
    let only = ["list_disputes"];
    let out = job.run(&as_shipped, Some(&only)).await;
    job.assert_success(&out);
    assert_exact_rows(&job, &only);
    server.shutdown().await;
}

/// Tokens that live one second: the host refreshes ahead of expiry (and on
/// a 401, once), and the sync completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paypal_short_lived_tokens_are_refreshed_and_nothing_is_lost() {
    for variant in variants(Vendor::PayPal) {
        let server = serve(
            &PAYPAL,
            MockOptions {
                records: PAYPAL_RECORDS,
                token_expires_in_secs: Some(1),
                // Enough latency that the sync outlives several tokens.
                latency_ms: 25,
                ..MockOptions::default()
            },
        )
        .await;
        let job = Job::new(&PAYPAL, &variant, &server);
        let started = Instant::now();
        let out = job.run(&paypal_from_data_start, None).await;
        let elapsed = started.elapsed();
        job.assert_success(&out);
        let stats = server.stats();
        assert!(
            elapsed > Duration::from_secs(1) && stats.tokens_issued > 1,
            "the sync ({elapsed:.2?}) outlived its first token: {stats:?}"
        );
        assert_exact_rows(&job, &PAYPAL.names());
        server.shutdown().await;
    }
}
