//! The benchmark's mock API: pre-rendered pages served from memory over
//! loopback HTTP/1.1 with keep-alive, fast enough that the client, not the
//! server, is what a benchmark measures.
//!
//! Two datasets:
//! - `/items?page=N&per_page=M`: the throughput dataset, `records` invoices
//!   of realistic size (about 700 bytes of JSON, nested objects and two
//!   nested lists), `page_number` pagination with `total_pages` in the body.
//!   Pages are rendered once at start-up from a few distinct templates; per
//!   request only the fixed-width ids are patched into a copy, so every
//!   record of the dataset is distinct while serving costs a `memcpy`.
//! - `/lat/...`: the latency dataset, small generated pages of several
//!   resources and a child resource per project, each response delayed by
//!   `delay` (the "20 ms API").

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::data::Templates;

/// Ids are written with exactly this many digits, so a pre-rendered page
/// can be given another page's ids in place.
const ID_BASE: u64 = 1_000_000_000;

/// Resources of the latency dataset: (name, records, records per page).
pub const LATENCY_RESOURCES: &[(&str, u64, u64)] = &[
    ("customers", 2000, 100),
    ("invoices", 3000, 100),
    ("products", 500, 50),
    ("projects", 100, 50),
];
/// Tasks per project (the child resource), and per page.
pub const TASKS_PER_PROJECT: u64 = 30;
/// Page size of the child resource.
pub const TASKS_PER_PAGE: u64 = 10;

/// Requests a full sync of the latency dataset sends.
pub fn latency_requests() -> u64 {
    let top: u64 = LATENCY_RESOURCES
        .iter()
        .map(|(_, n, per)| n.div_ceil(*per))
        .sum();
    let projects = LATENCY_RESOURCES
        .iter()
        .find(|(n, ..)| *n == "projects")
        .map_or(0, |(_, n, _)| *n);
    top + projects * TASKS_PER_PROJECT.div_ceil(TASKS_PER_PAGE)
}

/// What a mock serves.
#[derive(Debug, Clone)]
pub struct MockSpec {
    /// Records of the throughput dataset.
    pub records: u64,
    /// Records per page of the throughput dataset.
    pub per_page: u64,
    /// Delay added to every response.
    pub delay: Duration,
}

struct App {
    spec: MockSpec,
    templates: Templates,
    requests: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Time spent answering counted requests, summed, and their number.
    answering_us: AtomicU64,
    answered: AtomicU64,
}

/// Counts a request as in flight while it lives.
/// A request being answered: counted in flight, and timed.
struct InFlight<'a>(&'a App, std::time::Instant);

impl<'a> InFlight<'a> {
    fn new(app: &'a App) -> Self {
        let now = app.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        app.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(app, std::time::Instant::now())
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0
            .answering_us
            .fetch_add(self.1.elapsed().as_micros() as u64, Ordering::SeqCst);
        self.0.answered.fetch_add(1, Ordering::SeqCst);
    }
}

/// A running mock; dropping it stops the server.
pub struct Mock {
    /// The bound loopback address.
    pub addr: SocketAddr,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
}

impl Mock {
    /// `http://127.0.0.1:PORT/`
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.app.requests.load(Ordering::Relaxed)
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> u64 {
        self.app.max_in_flight.load(Ordering::SeqCst)
    }

    /// The mean time the mock took to answer a counted request (its delay
    /// plus timer granularity and rendering).
    pub fn mean_answer(&self) -> Duration {
        let n = self.app.answered.load(Ordering::SeqCst).max(1);
        Duration::from_micros(self.app.answering_us.load(Ordering::SeqCst) / n)
    }

    /// Body bytes served so far.
    pub fn bytes(&self) -> u64 {
        self.app.bytes.load(Ordering::Relaxed)
    }

    /// Pages of the throughput dataset.
    pub fn total_pages(&self) -> u64 {
        self.app.spec.records.div_ceil(self.app.spec.per_page)
    }

    /// Page `page` (1-based) of the throughput dataset, as served.
    pub fn page(&self, page: u64) -> Vec<u8> {
        render_page(&self.app, page)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Render the templates and serve on `127.0.0.1:port` (0: any free port),
/// on the current tokio runtime.
pub async fn serve(spec: MockSpec, port: u16) -> Result<Mock> {
    let templates = Templates::render(spec.per_page as usize, ID_BASE);
    let app = Arc::new(App {
        spec,
        templates,
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        answering_us: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        max_in_flight: AtomicU64::new(0),
    });
    let router = Router::new()
        .route("/items", get(items))
        .route("/lat/{resource}", get(latency_top))
        // The hostile test component's well-behaved resource asks for this.
        .route("/calm", get(calm))
        .route("/lat/projects/{id}/tasks", get(latency_tasks))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .context("binding the mock API to 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Mock {
        addr,
        app,
        stop: Some(stop),
    })
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
    per_page: Option<u64>,
}

fn json(app: &App, body: Vec<u8>) -> Response {
    app.requests.fetch_add(1, Ordering::Relaxed);
    app.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(body),
    )
        .into_response()
}

async fn calm(State(app): State<Arc<App>>) -> Response {
    json(&app, b"{}".to_vec())
}

fn bad(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

async fn items(State(app): State<Arc<App>>, Query(q): Query<PageQuery>) -> Response {
    let _counted = InFlight::new(&app);
    if !app.spec.delay.is_zero() {
        tokio::time::sleep(app.spec.delay).await;
    }
    let page = q.page.unwrap_or(1);
    if q.per_page.is_some_and(|p| p != app.spec.per_page) {
        return bad(format!(
            "this mock serves per_page={} only",
            app.spec.per_page
        ));
    }
    if page == 0 {
        return bad("pages count from 1".into());
    }
    let body = render_page(&app, page);
    json(&app, body)
}

/// Page `page` of the throughput dataset: a copy of a template with this
/// page's ids patched in; past the last page, an empty page.
fn render_page(app: &App, page: u64) -> Vec<u8> {
    let per_page = app.spec.per_page;
    let total_pages = app.spec.records.div_ceil(per_page);
    let first = (page - 1).saturating_mul(per_page);
    let count = app.spec.records.saturating_sub(first).min(per_page) as usize;
    let prefix = format!(
        r#"{{"page":{page},"per_page":{per_page},"total_pages":{total_pages},"total":{},"data":["#,
        app.spec.records
    );
    app.templates.page(
        page as usize,
        count,
        ID_BASE + first,
        prefix.as_bytes(),
        b"]}",
    )
}

async fn latency_top(
    State(app): State<Arc<App>>,
    Path(resource): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let _counted = InFlight::new(&app);
    let due = tokio::time::Instant::now() + app.spec.delay;
    let Some((_, records, per)) = LATENCY_RESOURCES.iter().find(|(n, ..)| *n == resource) else {
        return (StatusCode::NOT_FOUND, "no such resource").into_response();
    };
    let body = small_page(&resource, q.page.unwrap_or(1), *records, *per, None);
    // The page is rendered within the delay, not after it.
    tokio::time::sleep_until(due).await;
    json(&app, body)
}

async fn latency_tasks(
    State(app): State<Arc<App>>,
    Path(id): Path<u64>,
    Query(q): Query<PageQuery>,
) -> Response {
    let _counted = InFlight::new(&app);
    let due = tokio::time::Instant::now() + app.spec.delay;
    let body = small_page(
        "tasks",
        q.page.unwrap_or(1),
        TASKS_PER_PROJECT,
        TASKS_PER_PAGE,
        Some(id),
    );
    tokio::time::sleep_until(due).await;
    json(&app, body)
}

/// A page of small generated records.
fn small_page(resource: &str, page: u64, records: u64, per: u64, parent: Option<u64>) -> Vec<u8> {
    let total_pages = records.div_ceil(per);
    let first = page.saturating_sub(1) * per;
    let items: Vec<serde_json::Value> = (first..records.min(first + per))
        .map(|i| {
            let id = i + 1;
            let mut v = serde_json::json!({
                "id": id,
                "name": format!("{resource} {id}"),
                "updated_at": format!("2024-05-{:02}T10:00:00Z", id % 28 + 1),
                "attributes": {"rank": id % 7, "active": id % 3 != 0},
            });
            if let Some(p) = parent {
                v["project_id"] = p.into();
            }
            v
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "page": page,
        "total_pages": total_pages,
        "data": items,
    }))
    .unwrap_or_default()
}
