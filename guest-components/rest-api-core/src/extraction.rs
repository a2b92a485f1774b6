//! The extraction of one resource (or one parent record's partition of a
//! child resource): plans the first request, then turns each response into
//! records, the next request and a checkpoint.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use extract_sdk::{
    ConnectorError, Extraction, ExtractionContext, Page, Records, Request, Response, Span,
};
use minijinja::Value as Jinja;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{self, DateWindow, Endpoint, Param, Resource};
use crate::dates::{self, DAY};
use crate::json::{self, Kind};
use crate::paginator::{Pager, View};
use crate::plan::Plan;
use crate::selector::{self, Seg, SelectError, Selector};
use crate::template::{self, Context, Template};

/// The checkpoint format version; a checkpoint of another version is
/// rejected as invalid state rather than misread.
const CHECKPOINT_VERSION: u32 = 1;

/// What a checkpoint holds: everything needed to send the next request and
/// carry on paginating as if the extraction had not stopped.
#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    /// Format version.
    v: u32,
    /// The next request to send.
    next: Plan,
    /// The paginator (with any detected settings) and its position.
    pager: Pager,
    /// The data selector (detected ones included).
    selector: Selector,
    /// A fingerprint of the last page's records, to notice a repeat.
    seen: Option<Fingerprint>,
    /// The date window the next request belongs to (with `date_window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<Window>,
    /// The largest incremental cursor value seen so far (with `incremental`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_value: Option<Value>,
}

/// Where a `date_window` walk is: the window `[start, end)` being
/// paginated, of a walk that ends at `until` (Unix seconds; `until` is
/// resolved once, when the walk starts, and kept across resumptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    start: i64,
    end: i64,
    until: i64,
}

impl DateWindow {
    /// The window starting at `start`.
    fn window(&self, start: i64, until: i64) -> Window {
        let end = match self.max_days {
            Some(days) => start.saturating_add(days.saturating_mul(DAY)).min(until),
            None => until,
        };
        Window {
            start,
            end: end.max(start),
            until,
        }
    }

    /// Writes the window's bounds into `plan`'s query.
    fn apply(&self, plan: &mut Plan, w: &Window) {
        let end = if self.end_inclusive {
            (w.end - self.format.unit()).max(w.start)
        } else {
            w.end
        };
        plan.set_query(&self.start_param, self.format.write(w.start));
        plan.set_query(&self.end_param, self.format.write(end));
    }
}

/// The incremental cursor: which record field, and the largest value seen.
#[derive(Debug)]
struct Cursor {
    path: Vec<Seg>,
    text: String,
    /// The run's start value at first, then the largest value seen.
    last_value: Option<Value>,
    /// Whether a warning about the cursor was logged (once per extraction).
    warned: bool,
}

impl Cursor {
    /// Scans `records` for larger cursor values; returns the new state
    /// when the largest value grew.
    fn scan(&mut self, body: &[u8], records: &[Range<usize>]) -> Option<String> {
        let mut grew = false;
        let mut missing = 0;
        for r in records {
            let Some(v) = value_at(body, r.start, &self.path).filter(|v| !v.is_null()) else {
                missing += 1;
                continue;
            };
            match &self.last_value {
                None => {
                    self.last_value = Some(v);
                    grew = true;
                }
                Some(max) => match greater(&v, max) {
                    Some(true) => {
                        self.last_value = Some(v);
                        grew = true;
                    }
                    Some(false) => {}
                    None => self.warn(&format!(
                        "incremental.cursor_path `{}`: cannot compare {v} with {max} (numbers compare with numbers, strings with strings); the value is ignored",
                        self.text
                    )),
                },
            }
        }
        if !records.is_empty() && missing == records.len() {
            self.warn(&format!(
                "incremental.cursor_path `{}` is in none of this page's {} records; check the path (it is relative to a record)",
                self.text,
                records.len()
            ));
        }
        grew.then(|| serde_json::json!({ "last_value": self.last_value }).to_string())
    }

    fn warn(&mut self, message: &str) {
        if !self.warned {
            self.warned = true;
            extract_sdk::warn!("{message}");
        }
    }
}

/// `a > b` for cursor values: numbers by value, strings lexically (ISO
/// dates in one format compare right); `None` for other pairs.
fn greater(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                Some(x > y)
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                Some(x > y)
            } else {
                Some(x.as_f64()? > y.as_f64()?)
            }
        }
        (Value::String(x), Value::String(y)) => Some(x > y),
        _ => None,
    }
}

/// The value at `path` (keys and indexes) inside the value at `b[start]`.
fn value_at(b: &[u8], start: usize, path: &[Seg]) -> Option<Value> {
    let mut range = start..json::skip_value(b, start).ok()?;
    for seg in path {
        range = match (seg, Kind::at(b, range.start)) {
            (Seg::Key(k), Some(Kind::Object)) => json::member(b, range.start, k).ok()??,
            (Seg::Index(n), Some(Kind::Array)) => {
                json::elements(b, range.start).ok()?.0.into_iter().nth(*n)?
            }
            _ => return None,
        };
    }
    json::parse(b, range)
}

/// The `last_value` of the state an earlier run stored.
fn stored_last_value(resource: &str, state: Option<&str>) -> Result<Option<Value>, ConnectorError> {
    let Some(text) = state else {
        return Ok(None);
    };
    let bad = |why: String| {
        ConnectorError::invalid_state(format!(
            "the incremental state of `{resource}` is not one this connector wrote ({why}); reset the resource's state to start from the configured initial value"
        ))
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut m)) if m.contains_key("last_value") => {
            Ok(m.remove("last_value").filter(|v| !v.is_null()))
        }
        Ok(other) => Err(bad(format!(
            "expected {{\"last_value\": ...}}, found {other}"
        ))),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Identifies a page's records cheaply: count and hashes of the first and
/// last record. Two consecutive pages with the same fingerprint mean the
/// API ignored the paginator and served the same page again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Fingerprint {
    count: usize,
    first: u64,
    last: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The extraction state machine of the `rest_api` connector.
#[derive(Debug)]
pub struct RestExtraction {
    /// The state, or why the extraction cannot run (reported by `start`).
    state: Result<State, ConnectorError>,
}

#[derive(Debug)]
struct State {
    /// The first request without date-window and paginator parameters:
    /// each window's first request is built from it.
    base: Plan,
    /// The request `start` returns.
    first: Plan,
    /// The request last handed to the host.
    sent: Option<Plan>,
    selector: Selector,
    pager: Pager,
    response_actions: Vec<config::ResponseAction>,
    /// `(key, value)` pairs `include_from_parent` adds to every record.
    include: Vec<(String, Value)>,
    seen: Option<Fingerprint>,
    /// The incremental cursor, with `incremental`.
    cursor: Option<Cursor>,
    /// The walk's settings and position, with `date_window`.
    window: Option<(DateWindow, Window)>,
}

impl RestExtraction {
    /// Prepares the extraction of `resource` of the effective `config` (as
    /// `describe` returned it); errors surface from `start`.
    pub fn new(config: &str, resource: &str, ctx: &ExtractionContext) -> RestExtraction {
        RestExtraction {
            state: State::new(config, resource, ctx),
        }
    }

    /// An extraction that cannot run: `start` reports `error`. For a
    /// wrapper whose own checks fail in `Connector::extraction`, which
    /// cannot return an error itself.
    pub fn failed(error: ConnectorError) -> RestExtraction {
        RestExtraction { state: Err(error) }
    }
}

impl State {
    fn new(config: &str, resource: &str, ctx: &ExtractionContext) -> Result<State, ConnectorError> {
        let partition = ctx.partition.as_deref();
        let checkpoint = ctx.checkpoint.as_deref();
        let source = config::parse(config)?;
        let r = source.resource(resource).ok_or_else(|| {
            let names: Vec<&str> = source.resources.iter().map(|r| r.name.as_str()).collect();
            ConnectorError::invalid_config(format!(
                "unknown resource `{resource}`; the configuration has: {}",
                names.join(", ")
            ))
        })?;
        let record = parent_record(r, partition)?;
        let incremental = r.endpoint.incremental.as_ref();
        let stored = match incremental {
            Some(_) => stored_last_value(resource, ctx.state.as_deref())?,
            None => None,
        };
        // dlt: the run starts from the last value an earlier run stored,
        // else from the configured initial value.
        let start_value = stored
            .clone()
            .or_else(|| incremental.and_then(|i| i.initial_value.clone()));
        let tctx = context(r, record.as_ref(), start_value.as_ref())?;
        let mut base = first_plan(&r.endpoint, &tctx, start_value.as_ref())?;
        if let Some(link) = &r.parent {
            for b in link.bindings.iter().filter(|b| b.query) {
                if let Some(text) = tctx.fields.get(&b.name).and_then(template::json_text) {
                    base.query.push((b.name.clone(), text));
                }
            }
        }
        let window = match &r.endpoint.date_window {
            None => None,
            Some(w) => {
                let now = dates::now();
                let until = w.end.resolve(now);
                let mut start = w.start.resolve(now);
                if let Some(v) = &stored {
                    let t = match v {
                        Value::String(s) => dates::parse(s),
                        Value::Number(n) => n.as_i64(),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        ConnectorError::invalid_state(format!(
                            "the incremental last_value {v} of `{resource}` is not a date, so date_window cannot start from it; make incremental.cursor_path name a date field and reset the resource's state"
                        ))
                    })?;
                    start = start.max(t);
                }
                let start = start.min(until);
                Some((w.clone(), w.window(start, until)))
            }
        };
        let mut first = base.clone();
        if let Some((w, pos)) = &window {
            w.apply(&mut first, pos);
        }
        let pager = Pager::new(r.endpoint.paginator.clone());
        pager.first(&mut first);
        let cursor = match incremental {
            None => None,
            Some(inc) => Some(Cursor {
                path: selector::parse_path(&inc.cursor_path).map_err(|m| {
                    ConnectorError::invalid_config(format!("incremental.cursor_path: {m}"))
                })?,
                text: inc.cursor_path.clone(),
                last_value: start_value,
                warned: false,
            }),
        };
        let include = match (&r.parent, &record) {
            (Some(link), Some(record)) => r
                .include_from_parent
                .iter()
                .map(|f| {
                    let v = record.get(f).ok_or_else(|| {
                        let keys: Vec<&String> = record.keys().take(30).collect();
                        ConnectorError::invalid_state(format!(
                            "include_from_parent: the parent record from `{}` has no field `{f}` (fields: {keys:?})",
                            link.resource
                        ))
                    })?;
                    Ok((format!("_{}_{f}", link.resource), v.clone()))
                })
                .collect::<Result<Vec<_>, ConnectorError>>()?,
            _ => Vec::new(),
        };
        let mut state = State {
            base,
            first,
            sent: None,
            selector: r.endpoint.selector.clone(),
            pager,
            response_actions: r.endpoint.response_actions.clone(),
            include,
            seen: None,
            cursor,
            window,
        };
        if let Some(text) = checkpoint {
            let ck: Checkpoint = serde_json::from_str(text).map_err(|e| {
                ConnectorError::invalid_state(format!(
                    "the checkpoint of `{resource}` is not one this connector wrote ({e}); discard it to start over"
                ))
            })?;
            if ck.v != CHECKPOINT_VERSION {
                return Err(ConnectorError::invalid_state(format!(
                    "the checkpoint of `{resource}` has version {}, this connector writes {CHECKPOINT_VERSION}; discard it to start over",
                    ck.v
                )));
            }
            if let Some((_, pos)) = &mut state.window {
                *pos = ck.window.ok_or_else(|| {
                    ConnectorError::invalid_state(format!(
                        "the checkpoint of `{resource}` has no date window position, but the endpoint has a date_window (the configuration changed?); discard the checkpoint to start over"
                    ))
                })?;
            }
            if let (Some(c), Some(v)) = (&mut state.cursor, ck.last_value) {
                c.last_value = Some(v);
            }
            state.first = ck.next;
            state.pager = ck.pager;
            state.selector = ck.selector;
            state.seen = ck.seen;
        }
        Ok(state)
    }

    /// The first request of the next date window, if the walk goes on:
    /// the paginator starts over (keeping a detected kind), and the
    /// repeated-page check forgets the last window.
    fn next_window(&mut self) -> Option<Plan> {
        let (w, pos) = self.window.as_mut()?;
        if pos.end >= pos.until {
            return None;
        }
        *pos = w.window(pos.end, pos.until);
        let mut plan = self.base.clone();
        w.apply(&mut plan, pos);
        self.pager = Pager::new(self.pager.spec.clone());
        self.pager.first(&mut plan);
        self.seen = None;
        extract_sdk::debug!(
            "next date window: {} to {}",
            w.format.write(pos.start),
            w.format.write(pos.end)
        );
        Some(plan)
    }

    fn next(&mut self, response: Response) -> Result<Page, ConnectorError> {
        let sent = self.sent.clone().ok_or_else(|| {
            ConnectorError::other("next was called before start; the host must call start first")
        })?;
        let (records, step, lookahead, state) = if self
            .response_actions
            .iter()
            .any(|a| a.matches(response.status, &response.body))
        {
            extract_sdk::info!(
                "ignoring HTTP {} from {} as response_actions say",
                response.status,
                sent.describe()
            );
            (Records::none(), None, Vec::new(), None)
        } else {
            self.page(&sent, response)?
        };
        let (next, lookahead) = match step {
            Some(plan) => (Some(plan), lookahead),
            None => (self.next_window(), Vec::new()),
        };
        let Some(plan) = next else {
            return Ok(Page::last(records).with_state(state));
        };
        let request = plan.to_request()?;
        let ck = Checkpoint {
            v: CHECKPOINT_VERSION,
            next: plan.clone(),
            pager: self.pager.clone(),
            selector: self.selector.clone(),
            seen: self.seen,
            window: self.window.as_ref().map(|(_, pos)| *pos),
            last_value: self.cursor.as_ref().and_then(|c| c.last_value.clone()),
        };
        let text = serde_json::to_string(&ck)
            .map_err(|e| ConnectorError::other(format!("could not write the checkpoint: {e}")))?;
        let prefetch = lookahead
            .iter()
            .map(Plan::to_request)
            .collect::<Result<Vec<_>, _>>()?;
        self.sent = Some(plan);
        Ok(Page::new(records)
            .with_next(request)
            .with_prefetch(prefetch)
            .with_checkpoint(text)
            .with_state(state))
    }

    /// One response's records, the paginator's next request (within the
    /// current date window), the requests known to follow it, and the new
    /// incremental state, if it grew.
    #[allow(clippy::type_complexity)]
    fn page(
        &mut self,
        sent: &Plan,
        response: Response,
    ) -> Result<(Records, Option<Plan>, Vec<Plan>, Option<String>), ConnectorError> {
        let url = if response.url.is_empty() {
            sent.describe()
        } else {
            format!("{} {}", sent.method, response.url)
        };
        if !response.is_success() {
            return Err(http_error(response.status, &url, &response.body));
        }

        let body = Arc::new(response.body);
        let not_json = |e: json::ScanError| {
            ConnectorError::bad_response(format!(
                "the response to {url} is not JSON ({e}); it starts with: {}",
                excerpt(&body)
            ))
        };
        let (doc, records, top) = match json::document_start(&body) {
            None if response.status != 204 => {
                // A proxy or an overloaded API can answer 200 with nothing;
                // taking that as "no records" would end the extraction early.
                return Err(ConnectorError::bad_response(format!(
                    "the response to {url} has an empty body (HTTP {}); expected JSON",
                    response.status
                )));
            }
            None => (None, Vec::new(), Vec::new()),
            Some(start) => {
                if self.selector == Selector::Auto {
                    // The first page: the body is checked before the
                    // detection looks into it.
                    json::document(&body).map_err(not_json)?;
                    self.selector = selector::detect(&body, start).map_err(|e| {
                        ConnectorError::bad_response(format!("the response to {url}: {e}"))
                    })?;
                    if let Selector::Path { text, .. } = &self.selector {
                        extract_sdk::info!("no data_selector configured: records are at `{text}`");
                    }
                }
                let Selector::Path { path, text } = &self.selector else {
                    return Err(ConnectorError::other("data selector still undetected"));
                };
                // One pass: the selector's walk covers the whole value (and
                // is stricter than `json::document`), so the body is checked
                // as a whole only when the walk fails or stops before the
                // body's end; that check's error then comes first, as from
                // a separate validation pass (a truncated body is "not
                // JSON", not a selector miss).
                let walked = selector::select(&body, start, path, text).and_then(|s| {
                    json::document_end(&body, s.end)?;
                    Ok(s)
                });
                match walked {
                    Ok(s) => (Some(start..s.end), s.records, s.top),
                    Err(e) => {
                        json::document(&body).map_err(not_json)?;
                        return Err(match e {
                            SelectError::NoMatch(m) => {
                                ConnectorError::bad_response(format!("{m} (response to {url})"))
                            }
                            SelectError::Scan(e) => not_json(e),
                        });
                    }
                }
            }
        };

        let fingerprint = (!records.is_empty()).then(|| Fingerprint {
            count: records.len(),
            first: records.first().map_or(0, |r| fnv1a(&body[r.clone()])),
            last: records.last().map_or(0, |r| fnv1a(&body[r.clone()])),
        });
        if fingerprint.is_some() && fingerprint == self.seen {
            return Err(ConnectorError::stuck(format!(
                "{url} returned the same {} records as the previous page: the API ignores the \
                 paginator's parameter; check the paginator type and its *_param settings",
                records.len()
            )));
        }

        let view = View {
            body: &body,
            doc,
            top: &top,
            headers: &response.headers,
            url: &response.url,
            records: records.len(),
        };
        let step = self.pager.next(&view, sent)?;
        if let Some(note) = &step.note {
            extract_sdk::info!("{note}");
        }
        let out = self.records(&body, &records)?;
        let state = self.cursor.as_mut().and_then(|c| c.scan(&body, &records));
        self.seen = fingerprint;
        Ok((out, step.next, step.lookahead, state))
    }

    /// The page's records: spans of the body, or (with
    /// `include_from_parent`) a JSON array of the records with the parent
    /// fields appended, built textually so records are not re-parsed.
    fn records(&self, body: &[u8], records: &[Range<usize>]) -> Result<Records, ConnectorError> {
        if self.include.is_empty() {
            let spans = records
                .iter()
                .map(|r| {
                    Ok(Span {
                        start: u32::try_from(r.start).map_err(|_| too_large())?,
                        end: u32::try_from(r.end).map_err(|_| too_large())?,
                    })
                })
                .collect::<Result<Vec<_>, ConnectorError>>()?;
            return Ok(Records::Spans(spans));
        }
        let extra: String = self
            .include
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect::<Vec<_>>()
            .join(",");
        let total: usize = records.iter().map(|r| r.len() + extra.len() + 2).sum();
        let mut out = String::with_capacity(total + 2);
        out.push('[');
        for (i, r) in records.iter().enumerate() {
            let rec = &body[r.clone()];
            if rec.first() != Some(&b'{') {
                return Err(ConnectorError::bad_response(format!(
                    "include_from_parent needs object records, but record {i} is {}",
                    json::Kind::at(rec, 0).map_or("not JSON", json::Kind::describe)
                )));
            }
            let text = std::str::from_utf8(rec).map_err(|_| {
                ConnectorError::bad_response(format!("record {i} is not valid UTF-8"))
            })?;
            if i > 0 {
                out.push(',');
            }
            let inner_empty = json::skip_ws(rec, 1) + 1 == rec.len();
            out.push_str(&text[..text.len() - 1]);
            if !inner_empty {
                out.push(',');
            }
            out.push_str(&extra);
            out.push('}');
        }
        out.push(']');
        Ok(Records::JsonArray(out))
    }
}

fn too_large() -> ConnectorError {
    ConnectorError::bad_response("the response body is larger than 4 GiB")
}

impl Extraction for RestExtraction {
    fn start(&mut self) -> Result<Request, ConnectorError> {
        let state = self.state.as_mut().map_err(|e| e.clone())?;
        let request = state.first.to_request()?;
        state.sent = Some(state.first.clone());
        Ok(request)
    }

    fn next(&mut self, response: Response) -> Result<Page, ConnectorError> {
        self.state.as_mut().map_err(|e| e.clone())?.next(response)
    }
}

/// The parent record a child extraction runs for.
fn parent_record(
    r: &Resource,
    partition: Option<&str>,
) -> Result<Option<Map<String, Value>>, ConnectorError> {
    match (&r.parent, partition) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConnectorError::invalid_state(format!(
            "resource `{}` has no parent, but a partition was given",
            r.name
        ))),
        (Some(link), None) => Err(ConnectorError::invalid_state(format!(
            "resource `{}` is a child of `{}` and runs once per `{}` record; no partition was given",
            r.name, link.resource, link.resource
        ))),
        (Some(link), Some(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(_) | Err(_) => Err(ConnectorError::invalid_state(format!(
                "the partition of `{}` must be a `{}` record (a JSON object)",
                r.name, link.resource
            ))),
        },
    }
}

/// The values templates can read: parent fields and incremental values
/// (`start_value` and `last_value` are the run's start value: the stored
/// last value, else the initial value).
fn context(
    r: &Resource,
    record: Option<&Map<String, Value>>,
    start_value: Option<&Value>,
) -> Result<Context, ConnectorError> {
    let mut fields = BTreeMap::new();
    let mut jinja: Vec<(String, Jinja)> = Vec::new();
    if let (Some(link), Some(record)) = (&r.parent, record) {
        let values = config::binding_values(link, record)?;
        // `stream_partition` is the parent record with the bound names
        // added, so both `stream_partition.product_id` (a bound name) and
        // `stream_slice.id` (a record field) read what they mean.
        let mut partition = record.clone();
        for (k, v) in &values {
            partition.insert(k.clone(), v.clone());
        }
        let partition = Jinja::from_serialize(&partition);
        jinja.push(("stream_partition".into(), partition.clone()));
        jinja.push(("stream_slice".into(), partition));
        jinja.push((
            "resources".into(),
            Jinja::from_iter([(link.resource.clone(), Jinja::from_serialize(record))]),
        ));
        fields.extend(values);
    }
    if let Some(inc) = &r.endpoint.incremental {
        let initial = inc.initial_value.clone().unwrap_or(Value::Null);
        let start = start_value.cloned().unwrap_or(Value::Null);
        let end = inc.end_value.clone().unwrap_or(Value::Null);
        let mut values = Map::new();
        for (k, v) in [
            ("initial_value", &initial),
            ("start_value", &start),
            ("last_value", &start),
            ("end_value", &end),
        ] {
            fields.insert(format!("incremental.{k}"), v.clone());
            values.insert(k.to_owned(), v.clone());
        }
        jinja.push(("incremental".into(), Jinja::from_serialize(&values)));
    }
    Ok(Context {
        fields,
        jinja: Jinja::from_iter(jinja),
    })
}

fn rendered<T>(what: &str, r: Result<T, String>) -> Result<T, ConnectorError> {
    r.map_err(|m| ConnectorError::invalid_config(format!("{what}: {m}")))
}

/// The first request: rendered path, params, headers and body; an
/// incremental param (or `start_param`) carries `start_value`.
fn first_plan(
    e: &Endpoint,
    ctx: &Context,
    start_value: Option<&Value>,
) -> Result<Plan, ConnectorError> {
    let url = rendered("endpoint.path", e.path.render(ctx, true))?;
    let mut query = Vec::new();
    for (name, p) in &e.params {
        let what = format!("endpoint.params.{name}");
        match p {
            Param::Value(Value::Array(items)) => {
                for item in items {
                    if let Some(text) = param_text(item, ctx, &what)? {
                        query.push((name.clone(), text));
                    }
                }
            }
            Param::Value(v) => {
                if let Some(text) = param_text(v, ctx, &what)? {
                    query.push((name.clone(), text));
                }
            }
            Param::Incremental => {
                if let Some(text) = start_value.and_then(template::json_text) {
                    query.push((name.clone(), text));
                }
            }
        }
    }
    if let Some(inc) = &e.incremental {
        for (param, value) in [
            (&inc.start_param, start_value),
            (&inc.end_param, inc.end_value.as_ref()),
        ] {
            if let (Some(p), Some(text)) = (param, value.and_then(template::json_text)) {
                query.push((p.clone(), text));
            }
        }
    }
    let headers = e
        .headers
        .iter()
        .map(|(k, t)| {
            Ok((
                k.clone(),
                rendered(&format!("endpoint.headers.{k}"), t.render(ctx, false))?,
            ))
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    let json = e
        .json
        .as_ref()
        .map(|j| rendered("endpoint.json", render_json(j, ctx)))
        .transpose()?;
    Ok(Plan {
        method: e.method.as_str().to_owned(),
        url,
        query,
        headers,
        json,
    })
}

fn param_text(v: &Value, ctx: &Context, what: &str) -> Result<Option<String>, ConnectorError> {
    match v {
        Value::String(s) => {
            let t = rendered(what, Template::parse(s))?;
            rendered(what, t.render(ctx, false)).map(Some)
        }
        other => Ok(template::json_text(other)),
    }
}

fn render_json(v: &Value, ctx: &Context) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let t = Template::parse(s)?;
            if t.is_literal() {
                v.clone()
            } else {
                t.render_json(ctx)?
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| render_json(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), render_json(x, ctx)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A short, single-line excerpt of a body for error messages.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(MAX).collect();
    if collapsed.chars().count() > MAX {
        out.push('…');
    }
    if out.is_empty() {
        "(empty body)".to_owned()
    } else {
        out
    }
}

fn http_error(status: u16, url: &str, body: &[u8]) -> ConnectorError {
    let hint = match status {
        401 | 403 => {
            " — the credentials were rejected; check the secrets that client.auth refers to and the account's permissions"
        }
        404 => {
            " — if this status means \"no data\" for this endpoint, add \"response_actions\": [{\"status_code\": 404, \"action\": \"ignore\"}]"
        }
        _ => "",
    };
    ConnectorError::bad_response(format!("HTTP {status} from {url}: {}{hint}", excerpt(body)))
}
