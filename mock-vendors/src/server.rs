//! The running server: shared state, the single entry handler (latency,
//! `/__mock/*`, stats) and fault admission for data requests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::datagen::Ts;
use crate::faults::{FaultKind, FaultPlan};
use crate::http::{self, Req};
use crate::options::MockOptions;
use crate::stats::{Expected, Stats};
use crate::tokens::Tokens;
use crate::vendors::Api;

/// Largest request body the mock reads (requests are small JSON or forms).
const MAX_REQUEST_BODY_BYTES: usize = 1 << 20;

/// State shared by all requests of one server.
pub struct App {
    /// Options the server was started with.
    pub opts: MockOptions,
    /// The vendor's behaviour.
    pub api: Arc<dyn Api>,
    /// Issued OAuth tokens.
    pub tokens: Mutex<Tokens>,
    /// Bound address (for absolute URLs when a request has no `Host`).
    pub addr: SocketAddr,
    expected: Expected,
    stats: Mutex<Stats>,
    faults: Mutex<FaultPlan>,
}

/// Permission to answer a data request, possibly with a corrupted body.
#[must_use]
pub struct Ticket {
    body_fault: Option<FaultKind>,
}

/// Locks `m`, ignoring poisoning: counters stay usable after a panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl App {
    /// State for `api` under `opts`.
    pub fn new(
        api: Arc<dyn Api>,
        opts: MockOptions,
        token_prefix: &'static str,
        addr: SocketAddr,
    ) -> Self {
        let expected = api.expected();
        Self {
            addr,
            tokens: Mutex::new(Tokens::new(token_prefix, opts.seed)),
            faults: Mutex::new(FaultPlan::new(opts.faults.clone())),
            stats: Mutex::new(Stats::default()),
            expected,
            opts,
            api,
        }
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    /// What the mock holds.
    pub fn expected(&self) -> &Expected {
        &self.expected
    }

    /// Counts one refused credential.
    pub fn auth_failed(&self) {
        lock(&self.stats).auth_failures += 1;
    }

    /// Counts one issued token.
    pub fn token_issued(&self) {
        lock(&self.stats).tokens_issued += 1;
    }

    /// Counts one data request and injects the fault it is due, if any.
    /// `Err` is the faulted answer (429 or 5xx) to return as is.
    pub fn admit(&self, req: &Req) -> Result<Ticket, Box<Response>> {
        let (fault, n) = {
            let mut plan = lock(&self.faults);
            let fault = plan.next(&req.fault_key());
            (fault, plan.data_requests())
        };
        {
            let mut stats = lock(&self.stats);
            stats.data_requests = n;
            if let Some(f) = fault {
                *stats
                    .faults_injected
                    .entry(f.name().to_owned())
                    .or_insert(0) += 1;
            }
        }
        match fault {
            Some(FaultKind::RateLimit) => {
                let f = &self.opts.faults;
                let body = self
                    .api
                    .error_body(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
                let retry_after = if f.retry_after_http_date {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64);
                    Ts(now + i64::from(f.retry_after_secs)).http_date()
                } else {
                    f.retry_after_secs.to_string()
                };
                let resp = http::json(StatusCode::TOO_MANY_REQUESTS, &body);
                Err(Box::new(http::with_header(
                    resp,
                    "retry-after",
                    &retry_after,
                )))
            }
            Some(FaultKind::ServerError) => {
                let status = StatusCode::from_u16(self.opts.faults.server_error_status)
                    .ok()
                    .filter(StatusCode::is_server_error)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = self.api.error_body(status, "internal server error");
                Err(Box::new(http::json(status, &body)))
            }
            other => Ok(Ticket { body_fault: other }),
        }
    }

    /// Answers a data request with the JSON text `body` holding `records`
    /// records of `resource`, applying the ticket's body fault (which then
    /// serves no records).
    pub fn serve(&self, ticket: Ticket, resource: &str, records: usize, body: String) -> Response {
        let bytes = body.into_bytes();
        match ticket.body_fault {
            Some(FaultKind::TruncatedBody) => http::truncated(&bytes),
            Some(FaultKind::HtmlBody) => http::html_page(),
            Some(FaultKind::ConnectionReset) => http::connection_reset(bytes),
            _ => {
                let mut stats = lock(&self.stats);
                *stats.records_served.entry(resource.to_owned()).or_insert(0) += records as u64;
                *stats.pages_served.entry(resource.to_owned()).or_insert(0) += 1;
                drop(stats);
                http::raw_response(StatusCode::OK, "application/json; charset=utf-8", bytes)
            }
        }
    }

    /// Answers an admitted data request with an error or empty answer that
    /// holds no records (`status`, JSON `body`), still applying the ticket's
    /// body fault; counts no served records.
    pub fn reject(&self, ticket: Ticket, status: StatusCode, body: &Value) -> Response {
        let bytes = body.to_string().into_bytes();
        match ticket.body_fault {
            Some(FaultKind::TruncatedBody) => http::truncated(&bytes),
            Some(FaultKind::HtmlBody) => http::html_page(),
            Some(FaultKind::ConnectionReset) => http::connection_reset(bytes),
            _ => http::raw_response(status, "application/json; charset=utf-8", bytes),
        }
    }

    /// `http://host` as the client addressed this server (its `Host`
    /// header), for absolute URLs in bodies; the bound address otherwise.
    pub fn origin(&self, req: &Req) -> String {
        match req.host() {
            Some(h) if !h.is_empty() => format!("http://{h}"),
            _ => format!("http://{}", self.addr),
        }
    }

    fn record(&self, path: &str, status: StatusCode) {
        let mut stats = lock(&self.stats);
        stats.requests_total += 1;
        *stats.by_status.entry(status.as_u16()).or_insert(0) += 1;
        *stats.by_path.entry(path.to_owned()).or_insert(0) += 1;
    }
}

/// The only handler: every path goes through it.
pub async fn entry(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    match parts.uri.path() {
        "/__mock/stats" => {
            let v = serde_json::to_value(app.stats()).unwrap_or(Value::Null);
            return http::json(StatusCode::OK, &v);
        }
        "/__mock/expected" => {
            let v = serde_json::to_value(app.expected()).unwrap_or(Value::Null);
            return http::json(StatusCode::OK, &v);
        }
        _ => {}
    }
    if app.opts.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(app.opts.latency_ms)).await;
    }
    let path = http::percent_decode(parts.uri.path());
    let resp = match axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await {
        Ok(bytes) => {
            let req = Req::new(parts, bytes);
            app.api.handle(&app, &req)
        }
        Err(_) => http::json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": "request body too large or unreadable"}),
        ),
    };
    app.record(&path, resp.status());
    resp
}
