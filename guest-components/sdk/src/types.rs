//! Plain Rust mirrors of the `extract:connector/types` WIT records, so that
//! connector code never names generated bindings and builds natively.

use std::fmt;

/// The HTTP method of a planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as sent on the wire (`GET`, `POST`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parses a method name, ignoring ASCII case; `None` for methods the
    /// contract does not carry (`HEAD`, `OPTIONS`, ...).
    pub fn parse(name: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP request planned by the connector; the host sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method to send.
    pub method: Method,
    /// An absolute `http(s)` URL, or a path the host resolves against the
    /// configured `base_url`.
    pub url: String,
    /// Query parameters appended in this order, unencoded.
    pub query: Vec<(String, String)>,
    /// Extra request headers, unencoded (never authentication: the host
    /// applies that).
    pub headers: Vec<(String, String)>,
    /// A JSON request body as text; `None` sends no body.
    pub json_body: Option<String>,
}

impl Request {
    /// A `GET` of `url` with no query, headers or body.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            url: url.into(),
            ..Request::default()
        }
    }
}

/// The final HTTP response to a request, after the host's retries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The response body as received (decompressed).
    pub body: Vec<u8>,
    /// The URL the response came from, without credentials.
    pub url: String,
}

impl Response {
    /// The first value of header `name` (compared ignoring ASCII case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Returns true if and only if the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why the host would not send a planned request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The egress policy does not allow the request's host, port, scheme or
    /// address.
    Egress,
    /// The request is invalid (a URL that does not parse, a header that
    /// cannot be sent or that is reserved to the host).
    Invalid,
}

/// A request the host refused to send: nothing was sent, and the host tells
/// the user why whatever the connector answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What kind of refusal this is.
    pub kind: RefusalKind,
    /// Why, for the user.
    pub message: String,
    /// The refused URL as planned, without credentials.
    pub url: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A byte range `[start, end)` of a response body holding one JSON record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

/// The records of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// Byte ranges of the response body, each exactly one JSON record: the
    /// fast path, records are not serialized again.
    Spans(Vec<Span>),
    /// A JSON array of records serialized by the connector, for records that
    /// do not appear verbatim in the body.
    JsonArray(String),
}

impl Records {
    /// No records.
    pub fn none() -> Records {
        Records::Spans(Vec::new())
    }

    /// How many records there are; for `JsonArray` this is not counted
    /// (parsing it would defeat its purpose) and `None` is returned.
    pub fn span_count(&self) -> Option<usize> {
        match self {
            Records::Spans(spans) => Some(spans.len()),
            Records::JsonArray(_) => None,
        }
    }
}

/// The outcome of one response: its records and what to do next.
///
/// Build one with [`Page::new`] (or [`Page::last`]) and the `with_*`
/// methods; the struct is `#[non_exhaustive]` so that fields the contract
/// gains later do not break connectors.
///
/// ```
/// use extract_sdk::{Page, Records, Request};
/// let page = Page::new(Records::none())
///     .with_next(Request::get("/items?page=2"))
///     .with_checkpoint("2")
///     .with_state(r#"{"last_value": "2024-03-01"}"#);
/// assert!(page.next.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The records the response holds.
    pub records: Records,
    /// The next request; `None` when the resource (or partition) is complete.
    pub next: Option<Request>,
    /// An opaque token a new extraction resumes from, *after* this page;
    /// `None` when the extraction cannot resume mid-way.
    pub checkpoint: Option<String>,
    /// Incremental state to keep across runs (for example the largest
    /// `updated_at` seen), committed with this page's records and handed to
    /// the next run's extraction as [`ExtractionContext::state`]; `None`
    /// leaves the stored state unchanged.
    pub state: Option<String>,
    /// Requests that follow [`Page::next`], in order, which the host may
    /// send ahead of time (prefetch). The host hands a prefetched response
    /// to `next` only when the connector plans that same request as its
    /// next one, so listing a request that is never planned costs one
    /// wasted request, not a wrong result. Empty: no lookahead.
    pub prefetch: Vec<Request>,
}

impl Page {
    /// A page holding `records`, with no next request, checkpoint or
    /// state: the last page, until `with_next` says otherwise.
    pub fn new(records: Records) -> Page {
        Page {
            records,
            next: None,
            checkpoint: None,
            state: None,
            prefetch: Vec::new(),
        }
    }

    /// The last page of the extraction: `records` and nothing to follow.
    pub fn last(records: Records) -> Page {
        Page::new(records)
    }

    /// Sets the next request (`None`: the extraction is complete).
    pub fn with_next(mut self, next: impl Into<Option<Request>>) -> Page {
        self.next = next.into();
        self
    }

    /// Sets the requests known to follow `next` (see [`Page::prefetch`]).
    pub fn with_prefetch(mut self, prefetch: Vec<Request>) -> Page {
        self.prefetch = prefetch;
        self
    }

    /// Sets the checkpoint to resume after this page.
    pub fn with_checkpoint(mut self, checkpoint: impl IntoOptionString) -> Page {
        self.checkpoint = checkpoint.into_option_string();
        self
    }

    /// Sets the incremental state to commit with this page.
    pub fn with_state(mut self, state: impl IntoOptionString) -> Page {
        self.state = state.into_option_string();
        self
    }
}

/// Text or no text: what the `with_*` builders of [`Page`] and
/// [`ExtractionContext`] take (`"x"`, a `String`, or an `Option` of either).
pub trait IntoOptionString {
    /// The value as an optional `String`.
    fn into_option_string(self) -> Option<String>;
}

impl IntoOptionString for String {
    fn into_option_string(self) -> Option<String> {
        Some(self)
    }
}

impl IntoOptionString for &str {
    fn into_option_string(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl IntoOptionString for &String {
    fn into_option_string(self) -> Option<String> {
        Some(self.clone())
    }
}

impl IntoOptionString for Option<String> {
    fn into_option_string(self) -> Option<String> {
        self
    }
}

impl IntoOptionString for Option<&str> {
    fn into_option_string(self) -> Option<String> {
        self.map(str::to_owned)
    }
}

/// What an extraction starts from, besides the configuration and the
/// resource name: handed to [`Connector::extraction`](crate::Connector::extraction).
///
/// `#[non_exhaustive]`: the contract may hand over more later. Read the
/// fields; build one (in tests) with [`ExtractionContext::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractionContext {
    /// For a child resource, the parent record (a JSON object) this
    /// extraction belongs to.
    pub partition: Option<String>,
    /// A checkpoint from an earlier page to resume after.
    pub checkpoint: Option<String>,
    /// The incremental state the last run stored ([`Page::state`]), if any.
    pub state: Option<String>,
}

impl ExtractionContext {
    /// No partition, checkpoint or state: a top-level resource's first run.
    pub fn new() -> ExtractionContext {
        ExtractionContext::default()
    }

    /// Sets the partition (the parent record as JSON).
    pub fn with_partition(mut self, partition: impl IntoOptionString) -> ExtractionContext {
        self.partition = partition.into_option_string();
        self
    }

    /// Sets the checkpoint to resume after.
    pub fn with_checkpoint(mut self, checkpoint: impl IntoOptionString) -> ExtractionContext {
        self.checkpoint = checkpoint.into_option_string();
        self
    }

    /// Sets the state the last run stored.
    pub fn with_state(mut self, state: impl IntoOptionString) -> ExtractionContext {
        self.state = state.into_option_string();
        self
    }
}

/// How a resource's records are written to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteDisposition {
    /// Rows are added to the table (dlt's default).
    #[default]
    Append,
    /// The table is replaced by the rows of this run.
    Replace,
    /// Rows are upserted on the primary key.
    Merge,
}

/// What a connector declares about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// The resource's name, unique within the source; also its table name.
    pub name: String,
    /// Field names forming the primary key; empty when there is none.
    pub primary_key: Vec<String>,
    /// How records are written.
    pub write_disposition: WriteDisposition,
    /// The resource whose records partition this one, if any.
    pub parent: Option<String>,
    /// Whether the resource runs when no selection is given.
    pub selected: bool,
}

/// What a connector declares about its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The source's name (the DuckDB schema its resources load into).
    pub name: String,
    /// The effective configuration as JSON, secret references unresolved.
    pub config: String,
    /// The resources, parents before their children.
    pub resources: Vec<ResourceInfo>,
}

/// The category of a [`ConnectorError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The configuration is invalid; the message names the key.
    InvalidConfig,
    /// A response could not be interpreted.
    BadResponse,
    /// The pagination did not advance.
    Stuck,
    /// A checkpoint or partition value is malformed.
    InvalidState,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind's WIT name (`invalid-config`, ...), for messages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::BadResponse => "bad-response",
            ErrorKind::Stuck => "stuck",
            ErrorKind::InvalidState => "invalid-state",
            ErrorKind::Other => "other",
        }
    }
}

/// An error reported to the host, which adds the resource, page and URL.
///
/// The message should say what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A message for the user.
    pub message: String,
}

impl ConnectorError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
        ConnectorError {
            kind,
            message: message.into(),
        }
    }

    /// An [`ErrorKind::InvalidConfig`] error.
    pub fn invalid_config(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorKind::InvalidConfig, message)
    }

    /// An [`ErrorKind::BadResponse`] error.
    pub fn bad_response(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorKind::BadResponse, message)
    }

    /// An [`ErrorKind::Stuck`] error.
    pub fn stuck(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorKind::Stuck, message)
    }

    /// An [`ErrorKind::InvalidState`] error.
    pub fn invalid_state(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorKind::InvalidState, message)
    }

    /// An [`ErrorKind::Other`] error.
    pub fn other(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorKind::Other, message)
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for ConnectorError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_parse_ignores_case_and_rejects_unknown() {
        assert_eq!(Method::parse("post"), Some(Method::Post));
        assert_eq!(Method::parse("GET"), Some(Method::Get));
        assert_eq!(Method::parse("HEAD"), None);
    }

    #[test]
    fn response_header_lookup_ignores_case() {
        let response = Response {
            headers: vec![("link".into(), "<x>".into())],
            ..Response::default()
        };
        assert_eq!(response.header("Link"), Some("<x>"));
        assert_eq!(response.header("etag"), None);
    }

    #[test]
    fn error_display_names_kind() {
        let e = ConnectorError::stuck("same page twice");
        assert_eq!(e.to_string(), "stuck: same page twice");
    }
}
