//! Paginators as state machines: given the request just sent and a view of
//! its response, each decides the next request or the end.
//!
//! The kinds and keys are dlt's (`single_page`, `page_number`, `offset`,
//! `cursor`, `json_link`, `header_link`, `header_cursor`), with the seeds'
//! additions: `limit`/`limit_param` on `page_number` and `cursor`, and a
//! Jinja `stop_condition` on every kind. Where this differs from dlt on
//! purpose, the field's doc comment says so.

use std::ops::Range;
use std::sync::Arc;

use extract_sdk::ConnectorError;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::json::{self, Kind, Member};
use crate::plan::{Plan, resolve_url};
use crate::selector::{self, Seg, path_text};
use crate::template::{self, LazyJson};

/// Where a paginator puts a value in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Place {
    /// A query parameter of this name.
    Query(String),
    /// A key path in the JSON body (`*_body_path`).
    Body(Vec<Seg>),
}

impl Place {
    fn set(&self, plan: &mut Plan, value: serde_json::Value) {
        match self {
            Place::Query(name) => {
                plan.set_query(name, template::json_text(&value).unwrap_or_default())
            }
            Place::Body(path) => plan.set_body(path, value),
        }
    }
}

/// A configured (or detected) paginator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Spec {
    /// One request, no pagination.
    SinglePage,
    /// `page=1,2,3...`.
    PageNumber {
        /// Where the page number goes (`page_param`, default `page`, or
        /// `page_body_path`).
        page_at: Place,
        /// The number of the first page. **Defaults to 1, where dlt
        /// defaults to 0**: the seed configs give no `base_page` while every
        /// one of their APIs counts pages from 1, and with 0 the first page
        /// would be fetched twice. Write `"base_page": 0` for 0-based APIs.
        base_page: i64,
        /// The page to start at (dlt's `page`), default `base_page`.
        first_page: i64,
        /// Path of the total number of *pages*; stop after the last.
        total_path: Option<Vec<Seg>>,
        /// The last page number to request (inclusive).
        maximum_page: Option<i64>,
        /// Path of a boolean saying whether more pages follow.
        has_more_path: Option<Vec<Seg>>,
        /// Stop on a page with no records (dlt's default: true).
        stop_after_empty_page: bool,
        /// The page size and where it goes (the seeds' `limit` and
        /// `limit_param`, default param `limit`). With no `total_path` or
        /// `has_more_path`, a page with fewer records than this is the last.
        limit: Option<(Place, u64)>,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
    /// `offset=0,limit,2*limit...`.
    Offset {
        /// Where the offset goes (`offset_param`, default `offset`). For a
        /// `POST` endpoint or one with a `json` body it goes into the body
        /// under that name (FastBill's `OFFSET`), unlike dlt, which always
        /// uses the query unless `offset_body_path` is given.
        offset_at: Place,
        /// The first offset (dlt's `offset`), default 0.
        first_offset: i64,
        /// The page size.
        limit: u64,
        /// Where the limit goes (`limit_param`, default `limit`; body as for
        /// the offset).
        limit_at: Place,
        /// Path of the total number of records.
        total_path: Option<Vec<Seg>>,
        /// Stop before requesting an offset at or above this (dlt).
        maximum_offset: Option<i64>,
        /// Path of a boolean saying whether more records follow.
        has_more_path: Option<Vec<Seg>>,
        /// Stop on a page with no records (default true). With no
        /// `total_path` or `has_more_path`, a page shorter than `limit` is
        /// the last too.
        stop_after_empty_page: bool,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
    /// A cursor from the body sent back as a parameter.
    Cursor {
        /// Path of the cursor; `None` means dlt's default `cursors.next`,
        /// and, when that is absent, the first `next...` key of the body
        /// (found on the first page and then kept).
        cursor_path: Option<Vec<Seg>>,
        /// Where the cursor goes; `None` means the query parameter `cursor`,
        /// except that a cursor that is an absolute `http(s)` URL is then
        /// followed as the next URL (Younium's `nextPage`).
        cursor_at: Option<Place>,
        /// Path of a boolean saying whether more pages follow.
        has_more_path: Option<Vec<Seg>>,
        /// Stop on a page with no records (dlt's default: false).
        stop_after_empty_page: bool,
        /// The page size and where it goes, sent on every request.
        limit: Option<(Place, u64)>,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
    /// The next page's URL is in the body.
    JsonLink {
        /// Path of the URL (default `next`).
        next_url_path: Vec<Seg>,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
    /// The next page's URL is in the `Link` header (RFC 8288).
    HeaderLink {
        /// The `rel` to follow (default `next`).
        links_next_key: String,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
    /// A cursor in a response header sent back as a query parameter.
    HeaderCursor {
        /// The header holding the cursor (default `next`).
        cursor_key: String,
        /// The query parameter (default `cursor`).
        cursor_param: String,
        /// A Jinja expression; true stops after this page.
        stop_condition: Option<String>,
    },
}

impl Spec {
    /// The dlt type name.
    pub fn name(&self) -> &'static str {
        match self {
            Spec::SinglePage => "single_page",
            Spec::PageNumber { .. } => "page_number",
            Spec::Offset { .. } => "offset",
            Spec::Cursor { .. } => "cursor",
            Spec::JsonLink { .. } => "json_link",
            Spec::HeaderLink { .. } => "header_link",
            Spec::HeaderCursor { .. } => "header_cursor",
        }
    }

    fn stop_condition(&self) -> Option<&str> {
        match self {
            Spec::SinglePage => None,
            Spec::PageNumber { stop_condition, .. }
            | Spec::Offset { stop_condition, .. }
            | Spec::Cursor { stop_condition, .. }
            | Spec::JsonLink { stop_condition, .. }
            | Spec::HeaderLink { stop_condition, .. }
            | Spec::HeaderCursor { stop_condition, .. } => stop_condition.as_deref(),
        }
    }

    /// A short description for logs.
    pub fn summary(&self) -> String {
        match self {
            Spec::PageNumber {
                total_path: Some(t),
                ..
            } => {
                format!("page_number (total_path: {})", path_text(t))
            }
            Spec::Cursor {
                cursor_path: Some(c),
                ..
            } => {
                format!("cursor (cursor_path: {})", path_text(c))
            }
            Spec::JsonLink { next_url_path, .. } => {
                format!("json_link (next_url_path: {})", path_text(next_url_path))
            }
            other => other.name().to_owned(),
        }
    }
}

/// What a paginator sees of a response.
pub(crate) struct View<'a> {
    /// The body, shared so that Jinja can read it lazily.
    pub body: &'a Arc<Vec<u8>>,
    /// The JSON document's range in the body; `None` for an empty body.
    pub doc: Option<Range<usize>>,
    /// The top-level object's members (empty for other bodies).
    pub top: &'a [Member],
    /// Response headers, names in lower case.
    pub headers: &'a [(String, String)],
    /// The URL the response came from.
    pub url: &'a str,
    /// How many records the page held.
    pub records: usize,
}

impl View<'_> {
    fn find(&self, path: &[Seg]) -> Result<Option<Range<usize>>, ConnectorError> {
        selector::lookup(self.body, self.top, path)
            .map_err(|e| ConnectorError::bad_response(format!("response body: {e}")))
    }

    fn value(&self, path: &[Seg]) -> Result<Option<serde_json::Value>, ConnectorError> {
        Ok(self.find(path)?.and_then(|r| json::parse(self.body, r)))
    }

    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Jinja context of `stop_condition`: `response` (the body, read
    /// lazily), `headers` and `last_page_size`.
    fn jinja(&self) -> Value {
        let response = match &self.doc {
            Some(doc) => {
                let top = (!self.top.is_empty()).then(|| self.top.to_vec());
                LazyJson::value(self.body.clone(), doc.clone(), top)
            }
            None => Value::from(()),
        };
        let headers: Value = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::from_iter([
            ("response", response),
            ("headers", headers),
            ("last_page_size", Value::from(self.records)),
        ])
    }
}

/// The paginator state carried from page to page and in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pager {
    /// The paginator; `None` until detected from the first response.
    pub spec: Option<Spec>,
    /// The page number or offset of the request last sent.
    pub value: i64,
}

/// How many requests after the next one a paginator lists for prefetch.
/// The host bounds what it actually sends ahead (`--prefetch-pages`); this
/// only caps what crosses the boundary per page.
pub(crate) const LOOKAHEAD: usize = 16;

/// What the paginator decided, with what to log about it.
pub(crate) struct Step {
    /// The next request, or `None` at the end.
    pub next: Option<Plan>,
    /// Requests that follow `next`, in order, known already: the pages of a
    /// `page_number` or `offset` paginator up to a total the response gave
    /// or a configured maximum. Empty when the paginator cannot know them
    /// (cursors, links, `has_more_path`, a `stop_condition`).
    pub lookahead: Vec<Plan>,
    /// A line to log at info level (a detected paginator).
    pub note: Option<String>,
}

impl Pager {
    /// A pager for `spec` (`None`: detect from the first response).
    pub fn new(spec: Option<Spec>) -> Pager {
        let value = match &spec {
            Some(Spec::PageNumber { first_page, .. }) => *first_page,
            Some(Spec::Offset { first_offset, .. }) => *first_offset,
            _ => 0,
        };
        Pager { spec, value }
    }

    /// Adds the first page's parameters to `plan`.
    pub fn first(&self, plan: &mut Plan) {
        match &self.spec {
            Some(Spec::PageNumber { page_at, limit, .. }) => {
                page_at.set(plan, self.value.into());
                if let Some((at, n)) = limit {
                    at.set(plan, (*n).into());
                }
            }
            Some(Spec::Offset {
                offset_at,
                limit,
                limit_at,
                ..
            }) => {
                offset_at.set(plan, self.value.into());
                limit_at.set(plan, (*limit).into());
            }
            Some(Spec::Cursor {
                limit: Some((at, n)),
                ..
            }) => at.set(plan, (*n).into()),
            _ => {}
        }
    }

    /// Decides what follows the response `view` to the request `sent`.
    pub fn next(&mut self, view: &View<'_>, sent: &Plan) -> Result<Step, ConnectorError> {
        let mut note = None;
        if self.spec.is_none() {
            let (spec, why) = detect(view)?;
            note = Some(format!(
                "no paginator configured: using {} ({why})",
                spec.summary()
            ));
            if let Spec::PageNumber { base_page, .. } = &spec {
                // The first request carried no page number: it was page 1.
                self.value = *base_page;
            }
            self.spec = Some(spec);
        }
        let Some(spec) = self.spec.as_mut() else {
            return Ok(Step {
                next: None,
                lookahead: Vec::new(),
                note,
            });
        };
        let mut lookahead = Vec::new();
        let has_stop = spec.stop_condition().is_some();
        if let Some(cond) = spec.stop_condition() {
            let stop = template::eval(cond, &view.jinja()).map_err(|e| {
                ConnectorError::bad_response(format!("paginator.stop_condition: {e}"))
            })?;
            if stop.is_true() {
                return Ok(Step {
                    next: None,
                    lookahead,
                    note,
                });
            }
        }
        let next = match spec {
            Spec::SinglePage => None,
            Spec::PageNumber {
                page_at,
                base_page,
                total_path,
                maximum_page,
                has_more_path,
                stop_after_empty_page,
                limit,
                ..
            } => {
                if *stop_after_empty_page && view.records == 0 {
                    None
                } else {
                    let total = match total_path {
                        Some(p) => Some(read_int(view, p, "total_path")?),
                        None => None,
                    };
                    let more = match has_more_path {
                        Some(p) => Some(read_bool(view, p)?),
                        None => None,
                    };
                    let short = total.is_none()
                        && more.is_none()
                        && limit
                            .as_ref()
                            .is_some_and(|(_, n)| (view.records as u64) < *n);
                    let page = self.value + 1;
                    let done = short
                        || more == Some(false)
                        || total.is_some_and(|t| page >= t + *base_page)
                        || maximum_page.is_some_and(|m| page > m);
                    if done {
                        None
                    } else {
                        self.value = page;
                        let mut plan = sent.clone();
                        page_at.set(&mut plan, page.into());
                        // The pages after `page` are known when the total
                        // or a maximum bounds them and nothing else can stop
                        // the walk early.
                        let last = match (total, *maximum_page) {
                            (Some(t), m) => {
                                Some(m.map_or(t + *base_page - 1, |m| m.min(t + *base_page - 1)))
                            }
                            (None, m) => m,
                        };
                        if let Some(last) = last.filter(|_| more.is_none() && !has_stop) {
                            for p in (page + 1..=last).take(LOOKAHEAD) {
                                let mut ahead = plan.clone();
                                page_at.set(&mut ahead, p.into());
                                lookahead.push(ahead);
                            }
                        }
                        Some(plan)
                    }
                }
            }
            Spec::Offset {
                offset_at,
                limit,
                limit_at,
                total_path,
                maximum_offset,
                has_more_path,
                stop_after_empty_page,
                ..
            } => {
                if *stop_after_empty_page && view.records == 0 {
                    None
                } else {
                    let total = match total_path {
                        Some(p) => Some(read_int(view, p, "total_path")?),
                        None => None,
                    };
                    let more = match has_more_path {
                        Some(p) => Some(read_bool(view, p)?),
                        None => None,
                    };
                    let short = total.is_none() && more.is_none() && (view.records as u64) < *limit;
                    let offset = self.value + *limit as i64;
                    let done = short
                        || more == Some(false)
                        || total.is_some_and(|t| offset >= t)
                        || maximum_offset.is_some_and(|m| offset >= m);
                    if done {
                        None
                    } else {
                        self.value = offset;
                        let mut plan = sent.clone();
                        offset_at.set(&mut plan, offset.into());
                        limit_at.set(&mut plan, (*limit).into());
                        let end = match (total, *maximum_offset) {
                            (Some(t), Some(m)) => Some(t.min(m)),
                            (t, m) => t.or(m),
                        };
                        if let Some(end) = end.filter(|_| more.is_none() && !has_stop) {
                            let step = *limit as i64;
                            let mut o = offset.saturating_add(step);
                            while o < end && lookahead.len() < LOOKAHEAD && step > 0 {
                                let mut ahead = plan.clone();
                                offset_at.set(&mut ahead, o.into());
                                lookahead.push(ahead);
                                o = o.saturating_add(step);
                            }
                        }
                        Some(plan)
                    }
                }
            }
            Spec::Cursor {
                cursor_path,
                cursor_at,
                has_more_path,
                stop_after_empty_page,
                ..
            } => {
                if cursor_path.is_none() {
                    let default = vec![Seg::Key("cursors".into()), Seg::Key("next".into())];
                    if view.find(&default)?.is_some() {
                        *cursor_path = Some(default);
                    } else if let Some((path, _)) = find_next_key(view)? {
                        note = Some(format!(
                            "cursor paginator without cursor_path: using `{}`, the body's next-page key",
                            path_text(&path)
                        ));
                        *cursor_path = Some(path);
                    }
                }
                let cursor = match cursor_path {
                    Some(p) => view.value(p)?,
                    None => None,
                };
                let cursor = cursor.filter(is_truthy);
                let more = match has_more_path {
                    Some(p) => read_bool(view, p)?,
                    None => true,
                };
                match cursor {
                    _ if *stop_after_empty_page && view.records == 0 => None,
                    _ if !more => None,
                    None => None,
                    Some(serde_json::Value::String(url))
                        if cursor_at.is_none() && is_absolute_url(&url) =>
                    {
                        Some(follow(sent, &url))
                    }
                    Some(value) => {
                        let mut plan = sent.clone();
                        match cursor_at {
                            Some(at) => at.set(&mut plan, value),
                            None => Place::Query("cursor".into()).set(&mut plan, value),
                        }
                        Some(plan)
                    }
                }
            }
            Spec::JsonLink { next_url_path, .. } => {
                match view.value(next_url_path)?.filter(is_truthy) {
                    Some(serde_json::Value::String(link)) => {
                        Some(follow(sent, &resolve_url(view.url, &link)))
                    }
                    Some(other) => {
                        return Err(ConnectorError::bad_response(format!(
                            "json_link paginator: `{}` holds {other}, not a URL; check next_url_path",
                            path_text(next_url_path)
                        )));
                    }
                    None => None,
                }
            }
            Spec::HeaderLink { links_next_key, .. } => view
                .header("link")
                .find_map(|h| link_with_rel(h, links_next_key))
                .map(|link| follow(sent, &resolve_url(view.url, &link))),
            Spec::HeaderCursor {
                cursor_key,
                cursor_param,
                ..
            } => view
                .header(cursor_key)
                .next()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    let mut plan = sent.clone();
                    plan.set_query(cursor_param, v.to_owned());
                    plan
                }),
        };
        if let Some(plan) = &next
            && plan == sent
        {
            let kind = self.spec.as_ref().map_or("auto", Spec::name);
            return Err(ConnectorError::stuck(format!(
                "the {kind} paginator would send the same request again ({}): the response \
                 repeated the previous page reference; check the paginator's path settings \
                 or add a stop_condition",
                sent.describe()
            )));
        }
        if next.is_none() {
            lookahead.clear();
        }
        Ok(Step {
            next,
            lookahead,
            note,
        })
    }
}

/// Returns true if and only if a cursor value means "there is a next page"
/// (Python truthiness, as dlt tests it).
fn is_truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
    }
}

fn is_absolute_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The request for a next-page URL: same method, headers and body; the
/// query is in the URL now (dlt clears `params` the same way).
fn follow(sent: &Plan, url: &str) -> Plan {
    Plan {
        url: url.to_owned(),
        query: Vec::new(),
        ..sent.clone()
    }
}

fn read_int(view: &View<'_>, path: &[Seg], key: &str) -> Result<i64, ConnectorError> {
    let value = view.value(path)?;
    let n = match &value {
        Some(serde_json::Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        let found = match value {
            None => "nothing".to_owned(),
            Some(v) => v.to_string(),
        };
        ConnectorError::bad_response(format!(
            "paginator.{key} `{}` found {found} in the response, expected an integer; \
             fix the path or remove {key}",
            path_text(path)
        ))
    })
}

fn read_bool(view: &View<'_>, path: &[Seg]) -> Result<bool, ConnectorError> {
    match view.value(path)? {
        Some(serde_json::Value::Bool(b)) => Ok(b),
        Some(serde_json::Value::String(s))
            if matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "y" | "on"
            ) =>
        {
            Ok(true)
        }
        Some(serde_json::Value::String(s))
            if matches!(
                s.to_ascii_lowercase().as_str(),
                "false" | "0" | "no" | "n" | "off"
            ) =>
        {
            Ok(false)
        }
        other => Err(ConnectorError::bad_response(format!(
            "paginator.has_more_path `{}` found {} in the response, expected a boolean",
            path_text(path),
            other.map_or("nothing".to_owned(), |v| v.to_string())
        ))),
    }
}

/// The URL of the first link with relation `rel` in a `Link` header value
/// (RFC 8288: `<url>; rel="next", <url2>; rel="prev last"`).
pub(crate) fn link_with_rel(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let close = open + rest[open..].find('>')?;
        let url = rest[open + 1..close].trim();
        let after = &rest[close + 1..];
        // Parameters run to the next link (a comma outside quotes).
        let mut in_quotes = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                c == ',' && !in_quotes
            })
            .map_or(after.len(), |(i, _)| i);
        for param in after[..end].split(';') {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
            {
                return Some(url.to_owned());
            }
        }
        rest = &after[end..];
    }
}

/// dlt's `find_next_page_path`: the first key starting with `next` (depth
/// first) whose value is a scalar, or an object with an `href`/`url` scalar.
fn find_next_key(view: &View<'_>) -> Result<Option<(Vec<Seg>, serde_json::Value)>, ConnectorError> {
    let b: &[u8] = view.body;
    let Some(doc) = &view.doc else {
        return Ok(None);
    };
    if Kind::at(b, doc.start) != Some(Kind::Object) {
        return Ok(None);
    }
    fn walk(
        b: &[u8],
        start: usize,
        path: &mut Vec<Seg>,
    ) -> Result<Option<(Vec<Seg>, serde_json::Value)>, json::ScanError> {
        for m in json::members(b, start)? {
            let key = json::key_text(b, m.key.clone()).into_owned();
            let kind = Kind::at(b, m.value.start);
            if key.to_ascii_lowercase().starts_with("next") {
                match kind {
                    Some(Kind::String | Kind::Number) => {
                        let mut p = path.clone();
                        p.push(Seg::Key(key));
                        return Ok(json::parse(b, m.value.clone()).map(|v| (p, v)));
                    }
                    Some(Kind::Object) => {
                        for inner in json::members(b, m.value.start)? {
                            let ik = json::key_text(b, inner.key.clone()).into_owned();
                            let scalar = matches!(
                                Kind::at(b, inner.value.start),
                                Some(Kind::String | Kind::Number)
                            );
                            if scalar && matches!(ik.to_ascii_lowercase().as_str(), "href" | "url")
                            {
                                let mut p = path.clone();
                                p.push(Seg::Key(key));
                                p.push(Seg::Key(ik));
                                return Ok(json::parse(b, inner.value).map(|v| (p, v)));
                            }
                        }
                    }
                    _ => {}
                }
            }
            // Bounded so a pathologically nested body cannot exhaust the
            // component's stack; next-page keys sit near the top anyway.
            if kind == Some(Kind::Object) && path.len() < 8 {
                path.push(Seg::Key(key));
                let found = walk(b, m.value.start, path)?;
                path.pop();
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }
    walk(b, doc.start, &mut Vec::new())
        .map_err(|e| ConnectorError::bad_response(format!("response body: {e}")))
}

/// dlt's paginator detection, in its order: a `Link: rel=next` header; a
/// `next...` key holding a URL; a total-pages key; a `next...` key holding
/// a cursor; otherwise a single page.
pub(crate) fn detect(view: &View<'_>) -> Result<(Spec, String), ConnectorError> {
    if view
        .header("link")
        .any(|h| link_with_rel(h, "next").is_some())
    {
        return Ok((
            Spec::HeaderLink {
                links_next_key: "next".into(),
                stop_condition: None,
            },
            "the response has a Link header with rel=next".into(),
        ));
    }
    let next = find_next_key(view)?;
    if let Some((path, serde_json::Value::String(s))) = &next
        && (s.starts_with("http") || s.starts_with('/'))
    {
        return Ok((
            Spec::JsonLink {
                next_url_path: path.clone(),
                stop_condition: None,
            },
            format!("`{}` holds a URL", path_text(path)),
        ));
    }
    for m in view.top {
        let key = json::key_text(view.body, m.key.clone()).to_ascii_lowercase();
        if matches!(key.as_str(), "total_pages" | "pages" | "totalpages")
            && json::parse(view.body, m.value.clone()).is_some_and(|v| {
                v.as_i64().is_some() || v.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
            })
        {
            let path = vec![Seg::Key(
                json::key_text(view.body, m.key.clone()).into_owned(),
            )];
            let why = format!("`{}` holds the number of pages", path_text(&path));
            return Ok((
                Spec::PageNumber {
                    page_at: Place::Query("page".into()),
                    base_page: 1,
                    first_page: 1,
                    total_path: Some(path),
                    maximum_page: None,
                    has_more_path: None,
                    stop_after_empty_page: true,
                    limit: None,
                    stop_condition: None,
                },
                why,
            ));
        }
    }
    if let Some((path, _)) = next {
        let why = format!("`{}` holds a cursor", path_text(&path));
        return Ok((
            Spec::Cursor {
                cursor_path: Some(path),
                cursor_at: Some(Place::Query("cursor".into())),
                has_more_path: None,
                stop_after_empty_page: false,
                limit: None,
                stop_condition: None,
            },
            why,
        ));
    }
    Ok((
        Spec::SinglePage,
        "the response has no Link header, next-page key or page count".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::{parse_path, select};

    fn plan(url: &str) -> Plan {
        Plan {
            method: "GET".into(),
            url: url.into(),
            query: vec![],
            headers: vec![],
            json: None,
        }
    }

    /// Runs `pager` over one response body, selecting records with `sel`.
    fn step(
        pager: &mut Pager,
        sent: &Plan,
        body: &str,
        sel: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<Plan>, ConnectorError> {
        full_step(pager, sent, body, sel, headers).map(|s| s.next)
    }

    /// As [`step`], with the lookahead.
    fn full_step(
        pager: &mut Pager,
        sent: &Plan,
        body: &str,
        sel: &str,
        headers: &[(&str, &str)],
    ) -> Result<Step, ConnectorError> {
        let body = Arc::new(body.as_bytes().to_vec());
        let doc = json::document(&body).expect("json");
        let (records, top) = match &doc {
            Some(doc) => {
                let s =
                    select(&body, doc.start, &parse_path(sel).expect("path"), sel).expect("select");
                (s.records.len(), s.top)
            }
            None => (0, vec![]),
        };
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let view = View {
            body: &body,
            doc,
            top: &top,
            headers: &headers,
            url: "https://api.x.com/v1/items?page=1",
            records,
        };
        pager.next(&view, sent)
    }

    fn pages(plans: &[Plan], key: &str) -> Vec<String> {
        plans
            .iter()
            .filter_map(|p| p.query.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.clone())
            .collect()
    }

    #[test]
    fn page_number_with_total_lists_the_pages_ahead() {
        let mut pager = Pager::new(Some(page_number(None, Some("total_pages"))));
        let sent = first(&pager, "/c");
        let s = full_step(
            &mut pager,
            &sent,
            r#"{"total_pages": 4, "data": [1]}"#,
            "data",
            &[],
        )
        .expect("ok");
        assert_eq!(pages(s.next.as_slice(), "page"), ["2"]);
        assert_eq!(pages(&s.lookahead, "page"), ["3", "4"]);
    }

    #[test]
    fn page_number_lookahead_is_capped_and_bounded_by_maximum_page() {
        let mut spec = page_number(None, Some("total_pages"));
        if let Spec::PageNumber { maximum_page, .. } = &mut spec {
            *maximum_page = Some(5);
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/c");
        let s = full_step(
            &mut pager,
            &sent,
            r#"{"total_pages": 90, "data": [1]}"#,
            "data",
            &[],
        )
        .expect("ok");
        assert_eq!(pages(&s.lookahead, "page"), ["3", "4", "5"]);
        let mut pager = Pager::new(Some(page_number(None, Some("total_pages"))));
        let s = full_step(
            &mut pager,
            &sent,
            r#"{"total_pages": 90, "data": [1]}"#,
            "data",
            &[],
        )
        .expect("ok");
        assert_eq!(s.lookahead.len(), LOOKAHEAD);
    }

    #[test]
    fn page_number_without_total_or_with_stop_condition_lists_nothing_ahead() {
        let mut pager = Pager::new(Some(page_number(Some(1), None)));
        let sent = first(&pager, "/c");
        let s = full_step(&mut pager, &sent, "[1]", "$", &[]).expect("ok");
        assert!(s.next.is_some() && s.lookahead.is_empty());
        let mut spec = page_number(None, Some("total_pages"));
        if let Spec::PageNumber { stop_condition, .. } = &mut spec {
            *stop_condition = Some("response.done".into());
        }
        let mut pager = Pager::new(Some(spec));
        let body = r#"{"total_pages": 4, "done": false, "data": [1]}"#;
        let s = full_step(&mut pager, &sent, body, "data", &[]).expect("ok");
        assert!(s.next.is_some() && s.lookahead.is_empty());
    }

    #[test]
    fn offset_with_total_lists_the_offsets_ahead() {
        let mut spec = offset_spec(2, false);
        if let Spec::Offset { total_path, .. } = &mut spec {
            *total_path = Some(parse_path("total").expect("path"));
        }
        let mut pager = Pager::new(Some(spec));
        let mut sent = plan("/c");
        pager.first(&mut sent);
        let s = full_step(
            &mut pager,
            &sent,
            r#"{"total": 7, "data": [1, 2]}"#,
            "data",
            &[],
        )
        .expect("ok");
        assert_eq!(pages(s.next.as_slice(), "OFFSET"), ["2"]);
        assert_eq!(pages(&s.lookahead, "OFFSET"), ["4", "6"]);
    }

    fn first(pager: &Pager, url: &str) -> Plan {
        let mut p = plan(url);
        pager.first(&mut p);
        p
    }

    fn page_number(limit: Option<u64>, total: Option<&str>) -> Spec {
        Spec::PageNumber {
            page_at: Place::Query("page".into()),
            base_page: 1,
            first_page: 1,
            total_path: total.map(|t| parse_path(t).expect("path")),
            maximum_page: None,
            has_more_path: None,
            stop_after_empty_page: true,
            limit: limit.map(|n| (Place::Query("per_page".into()), n)),
            stop_condition: None,
        }
    }

    fn q(p: &Plan) -> Vec<(&str, &str)> {
        p.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn single_page_stops_after_first_response() {
        let mut pager = Pager::new(Some(Spec::SinglePage));
        let sent = first(&pager, "/x");
        assert_eq!(
            step(&mut pager, &sent, "[1,2]", "$", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn page_number_starts_at_one_and_sends_limit() {
        let pager = Pager::new(Some(page_number(Some(2), None)));
        let sent = first(&pager, "/customers.json");
        assert_eq!(q(&sent), vec![("page", "1"), ("per_page", "2")]);
    }

    #[test]
    fn page_number_advances_on_full_page_and_stops_on_short_page() {
        let mut pager = Pager::new(Some(page_number(Some(2), None)));
        let sent = first(&pager, "/c");
        let next = step(&mut pager, &sent, "[1,2]", "$", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("page", "2"), ("per_page", "2")]);
        assert_eq!(step(&mut pager, &next, "[3]", "$", &[]).expect("ok"), None);
    }

    #[test]
    fn page_number_stops_on_empty_page() {
        let mut pager = Pager::new(Some(page_number(None, None)));
        let sent = first(&pager, "/c");
        let next = step(&mut pager, &sent, "[1]", "$", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(step(&mut pager, &next, "[]", "$", &[]).expect("ok"), None);
    }

    #[test]
    fn page_number_stops_after_total_pages() {
        let mut pager = Pager::new(Some(page_number(Some(1), Some("total_pages"))));
        let mut sent = first(&pager, "/t");
        let body = r#"{"items": [1], "total_pages": 2}"#;
        sent = step(&mut pager, &sent, body, "items", &[])
            .expect("ok")
            .expect("page 2");
        assert_eq!(q(&sent)[0], ("page", "2"));
        assert_eq!(
            step(&mut pager, &sent, body, "items", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn page_number_total_path_missing_is_an_error() {
        let mut pager = Pager::new(Some(page_number(None, Some("total"))));
        let sent = first(&pager, "/t");
        let e = step(&mut pager, &sent, r#"{"items": [1]}"#, "items", &[]).expect_err("missing");
        assert!(
            e.message.contains("total_path `total` found nothing"),
            "{}",
            e.message
        );
    }

    #[test]
    fn page_number_respects_maximum_page_inclusive() {
        let mut spec = page_number(None, None);
        if let Spec::PageNumber { maximum_page, .. } = &mut spec {
            *maximum_page = Some(2);
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/m");
        let p2 = step(&mut pager, &sent, "[1]", "$", &[])
            .expect("ok")
            .expect("page 2");
        assert_eq!(step(&mut pager, &p2, "[1]", "$", &[]).expect("ok"), None);
    }

    #[test]
    fn page_number_has_more_path_decides() {
        let mut spec = page_number(Some(10), None);
        if let Spec::PageNumber { has_more_path, .. } = &mut spec {
            *has_more_path = Some(parse_path("has_more").expect("path"));
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/h");
        // A short page does not stop when has_more says there is more.
        let body = r#"{"data": [1], "has_more": true}"#;
        let next = step(&mut pager, &sent, body, "data", &[])
            .expect("ok")
            .expect("next");
        let body = r#"{"data": [1], "has_more": false}"#;
        assert_eq!(
            step(&mut pager, &next, body, "data", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn page_number_in_body() {
        let spec = Spec::PageNumber {
            page_at: Place::Body(parse_path("paging.page").expect("path")),
            base_page: 0,
            first_page: 0,
            total_path: None,
            maximum_page: None,
            has_more_path: None,
            stop_after_empty_page: true,
            limit: None,
            stop_condition: None,
        };
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/s");
        assert_eq!(sent.json, Some(serde_json::json!({"paging": {"page": 0}})));
        let next = step(&mut pager, &sent, "[1]", "$", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(next.json, Some(serde_json::json!({"paging": {"page": 1}})));
    }

    fn offset_spec(limit: u64, body: bool) -> Spec {
        let at = |name: &str| {
            if body {
                Place::Body(vec![Seg::Key(name.into())])
            } else {
                Place::Query(name.into())
            }
        };
        Spec::Offset {
            offset_at: at("OFFSET"),
            first_offset: 0,
            limit,
            limit_at: at("limit"),
            total_path: None,
            maximum_offset: None,
            has_more_path: None,
            stop_after_empty_page: true,
            stop_condition: None,
        }
    }

    #[test]
    fn offset_in_json_body_advances_by_limit_and_stops_on_short_page() {
        let mut pager = Pager::new(Some(offset_spec(2, true)));
        let mut sent = plan("/api.php");
        sent.method = "POST".into();
        sent.json = Some(serde_json::json!({"SERVICE": "invoice.get"}));
        pager.first(&mut sent);
        assert_eq!(
            sent.json,
            Some(serde_json::json!({"SERVICE": "invoice.get", "OFFSET": 0, "limit": 2}))
        );
        let body = r#"{"RESPONSE": {"INVOICES": [{"a": 1}, {"a": 2}]}}"#;
        let next = step(&mut pager, &sent, body, "RESPONSE.INVOICES", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(
            next.json.as_ref().and_then(|j| j.get("OFFSET")),
            Some(&serde_json::json!(2))
        );
        assert!(next.query.is_empty());
        let body = r#"{"RESPONSE": {"INVOICES": [{"a": 3}]}}"#;
        assert_eq!(
            step(&mut pager, &next, body, "RESPONSE.INVOICES", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn offset_in_query_stops_at_total() {
        let mut spec = offset_spec(2, false);
        if let Spec::Offset { total_path, .. } = &mut spec {
            *total_path = Some(parse_path("total").expect("path"));
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/o");
        assert_eq!(q(&sent), vec![("OFFSET", "0"), ("limit", "2")]);
        let body = r#"{"items": [1, 2], "total": 4}"#;
        let next = step(&mut pager, &sent, body, "items", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("OFFSET", "2"), ("limit", "2")]);
        assert_eq!(
            step(&mut pager, &next, body, "items", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn offset_respects_maximum_offset() {
        let mut spec = offset_spec(2, false);
        if let Spec::Offset { maximum_offset, .. } = &mut spec {
            *maximum_offset = Some(2);
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/o");
        assert_eq!(
            step(&mut pager, &sent, "[1,2]", "$", &[]).expect("ok"),
            None
        );
    }

    fn cursor(path: Option<&str>, at: Option<Place>) -> Spec {
        Spec::Cursor {
            cursor_path: path.map(|p| parse_path(p).expect("path")),
            cursor_at: at,
            has_more_path: None,
            stop_after_empty_page: false,
            limit: None,
            stop_condition: None,
        }
    }

    #[test]
    fn cursor_sends_cursor_param_until_null() {
        let mut pager = Pager::new(Some(cursor(
            Some("next_id"),
            Some(Place::Query("start_id".into())),
        )));
        let sent = first(&pager, "/v1/payments/payment");
        let body = r#"{"payments": [{"id": 1}], "next_id": "PAY-2"}"#;
        let next = step(&mut pager, &sent, body, "payments", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("start_id", "PAY-2")]);
        let body = r#"{"payments": [{"id": 2}], "next_id": null}"#;
        assert_eq!(
            step(&mut pager, &next, body, "payments", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn cursor_stops_on_empty_string() {
        let mut pager = Pager::new(Some(cursor(Some("next"), None)));
        let sent = first(&pager, "/c");
        assert_eq!(
            step(&mut pager, &sent, r#"{"d": [1], "next": ""}"#, "d", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn cursor_default_path_is_cursors_next_with_param_cursor() {
        let mut pager = Pager::new(Some(cursor(None, None)));
        let sent = first(&pager, "/c");
        let body = r#"{"d": [1], "cursors": {"next": "abc"}}"#;
        let next = step(&mut pager, &sent, body, "d", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("cursor", "abc")]);
    }

    #[test]
    fn cursor_without_path_falls_back_to_next_key() {
        let mut pager = Pager::new(Some(cursor(None, Some(Place::Query("start_id".into())))));
        let sent = first(&pager, "/c");
        let body = r#"{"payments": [1], "count": 1, "next_id": "PAY-9"}"#;
        let next = step(&mut pager, &sent, body, "payments", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("start_id", "PAY-9")]);
        let Some(Spec::Cursor { cursor_path, .. }) = &pager.spec else {
            panic!()
        };
        assert_eq!(
            cursor_path.as_deref(),
            Some(&[Seg::Key("next_id".into())][..])
        );
    }

    #[test]
    fn cursor_url_without_cursor_param_is_followed() {
        let mut pager = Pager::new(Some(cursor(Some("nextPage"), None)));
        let mut sent = plan("/v1/accounts");
        sent.query.push(("limit".into(), "100".into()));
        let body = r#"{"data": [1], "nextPage": "https://api.x.com/v1/accounts?page=2"}"#;
        let next = step(&mut pager, &sent, body, "data", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(next.url, "https://api.x.com/v1/accounts?page=2");
        assert!(next.query.is_empty());
    }

    #[test]
    fn stop_condition_stops_the_younium_way() {
        let mut spec = cursor(Some("nextPage"), None);
        if let Spec::Cursor { stop_condition, .. } = &mut spec {
            *stop_condition = Some("not response.get('nextPage', {})".into());
        }
        let mut pager = Pager::new(Some(spec));
        let sent = first(&pager, "/v1/accounts");
        let body = r#"{"data": [1], "nextPage": "https://api.x.com/p2"}"#;
        assert!(
            step(&mut pager, &sent, body, "data", &[])
                .expect("ok")
                .is_some()
        );
        let body = r#"{"data": [1], "nextPage": null}"#;
        assert_eq!(
            step(&mut pager, &sent, body, "data", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn stop_condition_sees_last_page_size_and_headers() {
        let mut spec = page_number(None, None);
        if let Spec::PageNumber { stop_condition, .. } = &mut spec {
            *stop_condition = Some("last_page_size < 3 or headers['x-last'] == '1'".into());
        }
        let mut pager = Pager::new(Some(spec.clone()));
        let sent = first(&pager, "/s");
        assert_eq!(
            step(&mut pager, &sent, "[1,2]", "$", &[("x-last", "0")]).expect("ok"),
            None
        );
        let mut pager = Pager::new(Some(spec));
        assert_eq!(
            step(&mut pager, &sent, "[1,2,3]", "$", &[("x-last", "1")]).expect("ok"),
            None
        );
    }

    #[test]
    fn json_link_follows_relative_urls_and_stops_on_null() {
        let mut pager = Pager::new(Some(Spec::JsonLink {
            next_url_path: parse_path("links.next").expect("path"),
            stop_condition: None,
        }));
        let sent = first(&pager, "/v1/items");
        let body = r#"{"items": [1], "links": {"next": "/v1/items?page=2"}}"#;
        let next = step(&mut pager, &sent, body, "items", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(next.url, "https://api.x.com/v1/items?page=2");
        let body = r#"{"items": [1], "links": {"next": null}}"#;
        assert_eq!(
            step(&mut pager, &next, body, "items", &[]).expect("ok"),
            None
        );
    }

    #[test]
    fn header_link_follows_rel_next() {
        let mut pager = Pager::new(Some(Spec::HeaderLink {
            links_next_key: "next".into(),
            stop_condition: None,
        }));
        let sent = first(&pager, "/issues");
        let link = r#"<https://api.x.com/issues?page=1>; rel="prev", <https://api.x.com/issues?page=3>; rel="next""#;
        let next = step(&mut pager, &sent, "[1]", "$", &[("link", link)])
            .expect("ok")
            .expect("next");
        assert_eq!(next.url, "https://api.x.com/issues?page=3");
        assert_eq!(step(&mut pager, &next, "[1]", "$", &[]).expect("ok"), None);
    }

    #[test]
    fn header_cursor_sends_header_value() {
        let mut pager = Pager::new(Some(Spec::HeaderCursor {
            cursor_key: "x-next".into(),
            cursor_param: "cursor".into(),
            stop_condition: None,
        }));
        let sent = first(&pager, "/h");
        let next = step(&mut pager, &sent, "[1]", "$", &[("x-next", "c2")])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("cursor", "c2")]);
    }

    #[test]
    fn repeated_cursor_is_stuck() {
        let mut pager = Pager::new(Some(cursor(Some("next"), None)));
        let sent = first(&pager, "/c");
        let body = r#"{"d": [1], "next": "same"}"#;
        let next = step(&mut pager, &sent, body, "d", &[])
            .expect("ok")
            .expect("next");
        let e = step(&mut pager, &next, body, "d", &[]).expect_err("stuck");
        assert_eq!(e.kind, extract_sdk::ErrorKind::Stuck);
        assert!(e.message.contains("same request again"), "{}", e.message);
    }

    #[test]
    fn link_header_parsing_handles_params_and_multiple_rels() {
        let h = r#"<https://a/x?p=2>; title="a, b"; rel="last next", <https://a/x?p=1>; rel=prev"#;
        assert_eq!(link_with_rel(h, "next").as_deref(), Some("https://a/x?p=2"));
        assert_eq!(link_with_rel(h, "prev").as_deref(), Some("https://a/x?p=1"));
        assert_eq!(link_with_rel(h, "first"), None);
    }

    #[test]
    fn detect_prefers_link_header() {
        let mut pager = Pager::new(None);
        let sent = first(&pager, "/a");
        let next = step(
            &mut pager,
            &sent,
            "[1]",
            "$",
            &[("link", "</a?page=2>; rel=next")],
        )
        .expect("ok")
        .expect("next");
        assert_eq!(next.url, "https://api.x.com/a?page=2");
        assert_eq!(pager.spec.as_ref().map(Spec::name), Some("header_link"));
    }

    #[test]
    fn detect_json_link_from_next_url() {
        let mut pager = Pager::new(None);
        let sent = first(&pager, "/a");
        let body = r#"{"results": [1], "next": "https://api.x.com/a?page=2"}"#;
        step(&mut pager, &sent, body, "results", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(pager.spec.as_ref().map(Spec::name), Some("json_link"));
    }

    #[test]
    fn detect_page_number_from_total_pages() {
        let mut pager = Pager::new(None);
        let sent = first(&pager, "/a");
        let body = r#"{"items": [1], "total_pages": 3}"#;
        let next = step(&mut pager, &sent, body, "items", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("page", "2")]);
    }

    #[test]
    fn detect_cursor_from_next_token() {
        let mut pager = Pager::new(None);
        let sent = first(&pager, "/a");
        let body = r#"{"items": [1], "next_page_token": "tok"}"#;
        let next = step(&mut pager, &sent, body, "items", &[])
            .expect("ok")
            .expect("next");
        assert_eq!(q(&next), vec![("cursor", "tok")]);
    }

    #[test]
    fn detect_single_page_otherwise() {
        let mut pager = Pager::new(None);
        let sent = first(&pager, "/a");
        assert_eq!(
            step(&mut pager, &sent, r#"{"items": [1]}"#, "items", &[]).expect("ok"),
            None
        );
        assert_eq!(pager.spec, Some(Spec::SinglePage));
    }
}
