//! The dlt `rest_api_source` configuration: parsing and validation (errors
//! name the key path, e.g. `resources[2].endpoint.paginatr`),
//! `resource_defaults` merging as dlt does it, and parent/child binding.
//!
//! The format is dlt's, so it is validated by hand rather than with
//! `deny_unknown_fields`: dlt accepts several shapes per key (a resource as
//! a bare string, `endpoint` as a path, `write_disposition` as a string or
//! an object, ...) and the seed configs add more (auth types `basic` and
//! `oauth2`, list-form `data_selector`, `stop_condition`, Jinja paths).
//! Secrets (`{{ secrets.NAME }}`) only occur in `client`, which the host
//! reads; this module passes `client` through untouched.

use std::collections::BTreeMap;
use std::fmt::Display;

use extract_sdk::{ConnectorError, Method, WriteDisposition};
use serde_json::{Map, Value};

use crate::dates::{Format, When};
use crate::paginator::{Place, Spec};
use crate::selector::{self, Seg, Selector};
use crate::template::{self, Part, Template};

type Result<T> = std::result::Result<T, ConnectorError>;

/// Top-level keys.
const TOP_KEYS: &[&str] = &["name", "client", "resource_defaults", "resources"];

/// `client` keys. The host reads `base_url`, `headers` and `auth` from the
/// effective configuration; the component only uses `paginator`. A key
/// the host adds must be added here too.
const CLIENT_KEYS: &[&str] = &["base_url", "headers", "auth", "paginator"];

/// Resource keys (`name` only outside `resource_defaults`).
const RESOURCE_KEYS: &[&str] = &[
    "name",
    "endpoint",
    "primary_key",
    "write_disposition",
    "table_name",
    "selected",
    "max_table_nesting",
    "include_from_parent",
    "parallelized",
];

/// Endpoint keys.
const ENDPOINT_KEYS: &[&str] = &[
    "path",
    "method",
    "params",
    "json",
    "data_selector",
    "paginator",
    "error_handler",
    "response_actions",
    "incremental",
    "date_window",
    "headers",
];

/// Keys dlt knows that cannot work here, with the reason and the fix.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "data",
        "form and raw request bodies are not supported by the connector contract; send a JSON body with `json`",
    ),
    (
        "auth",
        "per-endpoint auth is not supported; set `client.auth`, which the host applies to every request",
    ),
    (
        "session",
        "a requests Session cannot be written in a config file; remove it",
    ),
    (
        "processing_steps",
        "processing_steps take Python callables, which a config file cannot express; remove them",
    ),
];

/// A parsed, validated source configuration.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The source name (`name`, default `rest_api`).
    pub name: String,
    /// The resources, parents before their children.
    pub resources: Vec<Resource>,
    /// The effective configuration: the input with `resource_defaults`
    /// applied to every resource and each resource in object form.
    pub effective: Value,
}

impl Source {
    /// The resource named `name`.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// One resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// Unique name; also the table name unless `table_name` says otherwise.
    pub name: String,
    /// Primary key columns (empty: none; merge without one is the host's call).
    pub primary_key: Vec<String>,
    /// How rows are written (dlt's default: append).
    pub write_disposition: WriteDisposition,
    /// Whether it runs when no selection is given (default true).
    pub selected: bool,
    /// Parent fields copied into each record as `_<parent>_<field>`.
    pub include_from_parent: Vec<String>,
    /// What to request.
    pub endpoint: Endpoint,
    /// The parent, for a child resource.
    pub parent: Option<ParentLink>,
}

/// One endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// Path (or absolute URL) template.
    pub path: Template,
    /// HTTP method.
    pub method: Method,
    /// Query parameters in order (resolve params are in the parent link).
    pub params: Vec<(String, Param)>,
    /// JSON body; strings in it may be templates.
    pub json: Option<Value>,
    /// Endpoint headers (client headers are the host's).
    pub headers: Vec<(String, Template)>,
    /// Where records are.
    pub selector: Selector,
    /// The paginator; `None` detects it from the first response.
    pub paginator: Option<Spec>,
    /// Responses to treat as "no data" (dlt's `action: ignore`).
    pub response_actions: Vec<ResponseAction>,
    /// Incremental loading settings.
    pub incremental: Option<Incremental>,
    /// Date-window stepping (our extension to dlt).
    pub date_window: Option<DateWindow>,
}

/// `date_window` (an extension to dlt): walk `[start, end)` in consecutive
/// windows of at most `max_days`, each paginated to its end before the
/// next; the window's bounds go into two query parameters. The incremental
/// `last_value` of an earlier run, when later than `start`, is the start.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DateWindow {
    /// The query parameter taking a window's start.
    pub start_param: String,
    /// The query parameter taking a window's end.
    pub end_param: String,
    /// The first window's start (first run).
    pub start: When,
    /// Where the walk ends (default `now`).
    pub end: When,
    /// The longest window, in days; `None`: one window.
    pub max_days: Option<i64>,
    /// How bounds are written (default `datetime`).
    pub format: Format,
    /// The API's end parameter is inclusive: send each window's end minus
    /// one second (one day for `date`), so windows do not overlap.
    pub end_inclusive: bool,
}

/// A query parameter value.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    /// A value; strings may hold templates, lists repeat the parameter.
    Value(Value),
    /// `{"type": "incremental", ...}`: sends the run's start value (its
    /// settings are the endpoint's `incremental`).
    Incremental,
}

/// dlt's `response_actions` entry with `action: ignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseAction {
    /// Matches this status (when given).
    pub status: Option<u16>,
    /// Matches a body containing this text (when given).
    pub content: Option<String>,
}

impl ResponseAction {
    /// Returns true if and only if the action matches the response.
    pub fn matches(&self, status: u16, body: &[u8]) -> bool {
        self.status.is_none_or(|s| s == status)
            && self
                .content
                .as_deref()
                .is_none_or(|c| String::from_utf8_lossy(body).contains(c))
    }
}

/// dlt's `incremental` settings: the first run sends `initial_value` as
/// `start_param`; every page's records are scanned for the largest
/// `cursor_path` value, kept as the state `{"last_value": ...}`, and later
/// runs send that instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incremental {
    /// The record field holding the cursor.
    pub cursor_path: String,
    /// The first run's start value.
    pub initial_value: Option<Value>,
    /// The end value.
    pub end_value: Option<Value>,
    /// The query parameter carrying the start value.
    pub start_param: Option<String>,
    /// The query parameter carrying the end value.
    pub end_param: Option<String>,
}

/// How a child resource reads its parent record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParentLink {
    /// The parent resource's name.
    pub resource: String,
    /// The parent fields templates read.
    pub bindings: Vec<Binding>,
}

/// One parent field a child reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Binding {
    /// The name templates use: a resolve param (`product_id`), a Jinja
    /// partition attribute (`stream_partition.product_id` → `product_id`)
    /// or a dlt expression (`resources.products.id`).
    pub name: String,
    /// The field's path in the parent record.
    pub field: Vec<Seg>,
    /// The field as configured, for messages.
    pub field_text: String,
    /// Also send it as a query parameter (a resolve param the path does not use).
    pub query: bool,
}

fn err(path: &str, msg: impl Display) -> ConnectorError {
    ConnectorError::invalid_config(format!("{path}: {msg}"))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<()> {
    for key in obj.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| k == key) {
            return Err(err(&join(path, key), why));
        }
        return Err(err(
            &join(path, key),
            format!("unknown key; expected one of {}", allowed.join(", ")),
        ));
    }
    Ok(())
}

fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| err(path, format!("expected an object, found {}", kind_of(v))))
}

fn opt<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_str<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<Option<&'a str>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(err(
            &join(path, key),
            format!("expected a string, found {}", kind_of(v)),
        )),
    }
}

fn opt_i64(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Option<i64>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(&join(path, key), format!("expected an integer, found {v}"))),
    }
}

fn opt_bool(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Option<bool>> {
    match opt(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(err(
            &join(path, key),
            format!("expected true or false, found {v}"),
        )),
    }
}

/// A string or a list of strings (dlt's `TColumnNames`).
fn names(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Vec<String>> {
    match opt(obj, key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    err(
                        &format!("{}[{i}]", join(path, key)),
                        format!("expected a string, found {}", kind_of(v)),
                    )
                })
            })
            .collect(),
        Some(v) => Err(err(
            &join(path, key),
            format!(
                "expected a string or a list of strings, found {}",
                kind_of(v)
            ),
        )),
    }
}

fn parse_path_at(text: &str, path: &str) -> Result<Vec<Seg>> {
    selector::parse_path(text).map_err(|e| err(path, e))
}

/// Parses a configuration (JSON text) into a validated [`Source`].
pub(crate) fn parse(text: &str) -> Result<Source> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        ConnectorError::invalid_config(format!("the configuration is not valid JSON: {e}"))
    })?;
    let top = as_object(&root, "the configuration")?;
    check_keys(top, "", TOP_KEYS)?;

    let name = opt_str(top, "", "name")?.unwrap_or("rest_api").to_owned();
    if name.trim().is_empty() {
        return Err(err("name", "must not be empty"));
    }

    let client_value = top
        .get("client")
        .ok_or_else(|| err("client", "missing; add {\"base_url\": \"https://...\"}"))?;
    let client = as_object(client_value, "client")?;
    check_client(client)?;
    let client_paginator = opt(client, "paginator");

    let defaults = match opt(top, "resource_defaults") {
        None => None,
        Some(v) => {
            let d = as_object(v, "resource_defaults")?;
            check_resource_shape(d, "resource_defaults", true)?;
            Some(d)
        }
    };

    let list = match top.get("resources") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return Err(err("resources", "is empty; list at least one resource"));
        }
        Some(v) => {
            return Err(err(
                "resources",
                format!("expected a list, found {}", kind_of(v)),
            ));
        }
        None => return Err(err("resources", "missing; list the resources to extract")),
    };

    let mut merged = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("resources[{i}]");
        let resource = normalize_resource(item, &path)?;
        merged.push(merge_defaults(defaults, resource));
    }

    let mut drafts = Vec::with_capacity(merged.len());
    for (i, resource) in merged.iter().enumerate() {
        let path = format!("resources[{i}]");
        drafts.push(parse_resource(resource, &path, client_paginator)?);
    }
    for (i, d) in drafts.iter().enumerate() {
        if let Some(j) = drafts[..i]
            .iter()
            .position(|o| o.resource.name == d.resource.name)
        {
            return Err(err(
                &format!("resources[{i}].name"),
                format!(
                    "`{}` is already the name of resources[{j}]; names must be unique",
                    d.resource.name
                ),
            ));
        }
    }
    bind_parents(&mut drafts)?;
    let resources = parents_first(drafts.into_iter().map(|d| d.resource).collect())?;

    let mut effective = Map::new();
    if let Some(n) = top.get("name") {
        effective.insert("name".into(), n.clone());
    }
    effective.insert("client".into(), client_value.clone());
    effective.insert(
        "resources".into(),
        Value::Array(merged.into_iter().map(Value::Object).collect()),
    );
    Ok(Source {
        name,
        resources,
        effective: Value::Object(effective),
    })
}

fn check_client(client: &Map<String, Value>) -> Result<()> {
    check_keys(client, "client", CLIENT_KEYS)?;
    match opt_str(client, "client", "base_url")? {
        None => {
            return Err(err(
                "client.base_url",
                "missing; the host resolves endpoint paths against it",
            ));
        }
        Some(url) => {
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return Err(err(
                    "client.base_url",
                    format!("{url:?} is not an http(s) URL (e.g. \"https://api.example.com\")"),
                ));
            }
        }
    }
    if let Some(h) = opt(client, "headers") {
        check_string_map(h, "client.headers")?;
    }
    match opt(client, "auth") {
        None | Some(Value::String(_)) => {}
        Some(Value::Object(auth)) => {
            if let Some(t) = auth.get("type")
                && !t.is_string()
            {
                return Err(err(
                    "client.auth.type",
                    format!("expected a string, found {}", kind_of(t)),
                ));
            }
        }
        Some(v) => {
            return Err(err(
                "client.auth",
                format!(
                    "expected an object such as {{\"type\": \"bearer\", \"token\": \"{{{{ secrets.TOKEN }}}}\"}}, found {}",
                    kind_of(v)
                ),
            ));
        }
    }
    if let Some(p) = opt(client, "paginator") {
        // Validated here once; each endpoint without its own paginator
        // parses it again in its own context (method, body).
        parse_paginator(p, "client.paginator", false)?;
    }
    Ok(())
}

fn check_string_map(v: &Value, path: &str) -> Result<()> {
    for (k, v) in as_object(v, path)? {
        if !(v.is_string() || v.is_number() || v.is_boolean()) {
            return Err(err(
                &join(path, k),
                format!("expected a string, found {}", kind_of(v)),
            ));
        }
    }
    Ok(())
}

/// Validates the keys and value shapes that do not depend on merging.
fn check_resource_shape(r: &Map<String, Value>, path: &str, defaults: bool) -> Result<()> {
    let keys: Vec<&str> = RESOURCE_KEYS
        .iter()
        .copied()
        .filter(|k| !(defaults && *k == "name"))
        .collect();
    check_keys(r, path, &keys)?;
    match opt(r, "endpoint") {
        Some(Value::Object(e)) => check_keys(e, &join(path, "endpoint"), ENDPOINT_KEYS)?,
        Some(Value::String(_)) | None => {}
        Some(v) => {
            return Err(err(
                &join(path, "endpoint"),
                format!("expected an object or a path, found {}", kind_of(v)),
            ));
        }
    }
    Ok(())
}

/// dlt's normal form: a bare string is `{"name": s, "endpoint": {"path": s}}`,
/// a string endpoint is a path, and a missing path is the resource name.
fn normalize_resource(item: &Value, path: &str) -> Result<Map<String, Value>> {
    let mut r = match item {
        Value::String(s) => {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(s.clone()));
            m
        }
        Value::Object(m) => m.clone(),
        v => {
            return Err(err(
                path,
                format!(
                    "expected an object or a resource name, found {}",
                    kind_of(v)
                ),
            ));
        }
    };
    check_resource_shape(&r, path, false)?;
    let name = match r.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(err(&join(path, "name"), "must not be empty")),
        Some(v) => {
            return Err(err(
                &join(path, "name"),
                format!("expected a string, found {}", kind_of(v)),
            ));
        }
        None => {
            return Err(err(
                &join(path, "name"),
                "missing; every resource needs a name",
            ));
        }
    };
    let mut endpoint = match r.remove("endpoint") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::String(p)) => {
            let mut m = Map::new();
            m.insert("path".into(), Value::String(p));
            m
        }
        Some(Value::Object(m)) => m,
        Some(v) => {
            return Err(err(
                &join(path, "endpoint"),
                format!("expected an object or a path, found {}", kind_of(&v)),
            ));
        }
    };
    if !endpoint.contains_key("path") {
        endpoint.insert("path".into(), Value::String(name));
    }
    r.insert("endpoint".into(), Value::Object(endpoint));
    Ok(r)
}

/// dlt's `_merge_resource_endpoints`: resource keys override the defaults;
/// endpoint keys override the default endpoint's, except `params` and
/// `json`, which are merged key by key.
fn merge_defaults(
    defaults: Option<&Map<String, Value>>,
    resource: Map<String, Value>,
) -> Map<String, Value> {
    let Some(defaults) = defaults else {
        return resource;
    };
    let mut out = defaults.clone();
    let mut endpoint = match out.remove("endpoint") {
        Some(Value::Object(e)) => e,
        _ => Map::new(),
    };
    for (k, v) in resource {
        if k != "endpoint" {
            out.insert(k, v);
            continue;
        }
        let Value::Object(own) = v else { continue };
        for (ek, ev) in own {
            match (ek.as_str(), endpoint.get_mut(&ek), ev) {
                ("params" | "json", Some(Value::Object(base)), Value::Object(add)) => {
                    base.extend(add);
                }
                (_, _, ev) => {
                    endpoint.insert(ek, ev);
                }
            }
        }
    }
    out.insert("endpoint".into(), Value::Object(endpoint));
    out
}

/// A resource before parents are bound.
struct Draft {
    resource: Resource,
    /// The index in the config, for messages.
    index: usize,
    /// `params` entries of type `resolve`: name → (resource, field).
    resolve: Vec<(String, String, String)>,
    /// Literal params (their names), which a `{name}` path placeholder takes.
    literal_params: Vec<String>,
}

fn parse_resource(
    r: &Map<String, Value>,
    path: &str,
    client_paginator: Option<&Value>,
) -> Result<Draft> {
    let name = r
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let primary_key = names(r, path, "primary_key")?;
    let write_disposition = parse_write_disposition(
        opt(r, "write_disposition"),
        &join(path, "write_disposition"),
    )?;
    let selected = opt_bool(r, path, "selected")?.unwrap_or(true);
    opt_str(r, path, "table_name")?;
    opt_bool(r, path, "parallelized")?;
    if let Some(n) = opt_i64(r, path, "max_table_nesting")?
        && n < 0
    {
        return Err(err(
            &join(path, "max_table_nesting"),
            "must not be negative",
        ));
    }
    let include_from_parent = names(r, path, "include_from_parent")?;

    let epath = join(path, "endpoint");
    let e = match r.get("endpoint") {
        Some(Value::Object(e)) => e,
        _ => return Err(err(&epath, "missing")),
    };
    check_keys(e, &epath, ENDPOINT_KEYS)?;
    let path_text = opt_str(e, &epath, "path")?.unwrap_or(&name);
    let template = Template::parse(path_text).map_err(|m| err(&join(&epath, "path"), m))?;
    let method = match opt_str(e, &epath, "method")? {
        None => Method::Get,
        Some(m) => Method::parse(m).ok_or_else(|| {
            err(
                &join(&epath, "method"),
                format!("{m:?} is not supported; use GET, POST, PUT, PATCH or DELETE"),
            )
        })?,
    };

    let mut params = Vec::new();
    let mut resolve = Vec::new();
    let mut literal_params = Vec::new();
    let mut incremental = None;
    if let Some(p) = opt(e, "params") {
        let ppath = join(&epath, "params");
        for (k, v) in as_object(p, &ppath)? {
            let kpath = join(&ppath, k);
            match v {
                Value::Object(o) => match o.get("type").and_then(Value::as_str) {
                    Some("resolve") => {
                        check_keys(o, &kpath, &["type", "resource", "field"])?;
                        let res = opt_str(o, &kpath, "resource")?.ok_or_else(|| {
                            err(
                                &join(&kpath, "resource"),
                                "missing; name the parent resource",
                            )
                        })?;
                        let field = opt_str(o, &kpath, "field")?.ok_or_else(|| {
                            err(
                                &join(&kpath, "field"),
                                "missing; name the parent record's field",
                            )
                        })?;
                        parse_path_at(field, &join(&kpath, "field"))?;
                        resolve.push((k.clone(), res.to_owned(), field.to_owned()));
                    }
                    Some("incremental") => {
                        let inc = parse_incremental(o, &kpath, true)?;
                        if incremental.is_some() {
                            return Err(err(
                                &kpath,
                                "only one incremental param is allowed per endpoint",
                            ));
                        }
                        incremental = Some(inc.clone());
                        params.push((k.clone(), Param::Incremental));
                    }
                    Some(t) => {
                        return Err(err(
                            &join(&kpath, "type"),
                            format!(
                                "unknown param type {t:?}; expected \"resolve\" or \"incremental\""
                            ),
                        ));
                    }
                    None => {
                        return Err(err(
                            &kpath,
                            "an object param needs \"type\": \"resolve\" or \"incremental\"",
                        ));
                    }
                },
                other => {
                    check_template_values(other, &kpath)?;
                    literal_params.push(k.clone());
                    params.push((k.clone(), Param::Value(other.clone())));
                }
            }
        }
    }
    if let Some(inc) = opt(e, "incremental") {
        let ipath = join(&epath, "incremental");
        if incremental.is_some() {
            return Err(err(
                &ipath,
                "an incremental param is already set in params; keep only one of them",
            ));
        }
        incremental = Some(parse_incremental(as_object(inc, &ipath)?, &ipath, false)?);
    }
    let date_window = match opt(e, "date_window") {
        None => None,
        Some(w) => {
            let wpath = join(&epath, "date_window");
            let window = parse_date_window(as_object(w, &wpath)?, &wpath)?;
            if params.iter().any(|(_, p)| matches!(p, Param::Incremental)) {
                return Err(err(
                    &wpath,
                    "an incremental param sends its own start value; with date_window, configure endpoint.incremental with cursor_path only (the window's start moves to its last_value)",
                ));
            }
            if let Some(inc) = &incremental {
                for (key, set) in [
                    ("start_param", inc.start_param.is_some()),
                    ("end_param", inc.end_param.is_some()),
                    ("initial_value", inc.initial_value.is_some()),
                    ("end_value", inc.end_value.is_some()),
                ] {
                    if set {
                        return Err(err(
                            &join(&join(&epath, "incremental"), key),
                            format!(
                                "cannot be combined with date_window, whose start, end and params bound the requests; remove incremental.{key} and keep cursor_path"
                            ),
                        ));
                    }
                }
            }
            Some(window)
        }
    };

    let json = opt(e, "json").cloned();
    if let Some(j) = &json {
        check_template_values(j, &join(&epath, "json"))?;
    }
    let mut headers = Vec::new();
    if let Some(h) = opt(e, "headers") {
        let hpath = join(&epath, "headers");
        check_string_map(h, &hpath)?;
        for (k, v) in as_object(h, &hpath)? {
            let text = template::json_text(v).unwrap_or_default();
            let t = Template::parse(&text).map_err(|m| err(&join(&hpath, k), m))?;
            headers.push((k.clone(), t));
        }
    }

    let mut selector = Selector::from_config(e.get("data_selector"))
        .map_err(|m| err(&join(&epath, "data_selector"), m))?;
    let body_default = method == Method::Post || json.is_some();
    let mut paginator = match opt(e, "paginator") {
        Some(p) => parse_paginator(p, &join(&epath, "paginator"), body_default)?,
        None => match client_paginator {
            Some(p) => parse_paginator(p, "client.paginator", body_default)?,
            None => None,
        },
    };
    let explicit_paginator = opt(e, "paginator").is_some() || client_paginator.is_some();
    // dlt: a path ending in a placeholder fetches one entity: the whole
    // body, one page, unless configured otherwise.
    if template.ends_with_placeholder() {
        if e.get("data_selector").is_none() {
            selector = Selector::whole();
        }
        if !explicit_paginator {
            paginator = Some(Spec::SinglePage);
        }
    }

    let mut response_actions = Vec::new();
    if let Some(a) = opt(e, "response_actions") {
        let apath = join(&epath, "response_actions");
        let Value::Array(list) = a else {
            return Err(err(
                &apath,
                format!("expected a list, found {}", kind_of(a)),
            ));
        };
        for (i, item) in list.iter().enumerate() {
            response_actions.push(parse_response_action(item, &format!("{apath}[{i}]"))?);
        }
    }
    if let Some(h) = opt(e, "error_handler") {
        check_error_handler(h, &join(&epath, "error_handler"))?;
    }

    Ok(Draft {
        resource: Resource {
            name,
            primary_key,
            write_disposition,
            selected,
            include_from_parent,
            endpoint: Endpoint {
                path: template,
                method,
                params,
                json,
                headers,
                selector,
                paginator,
                response_actions,
                incremental,
                date_window,
            },
            parent: None,
        },
        index: path
            .trim_start_matches("resources[")
            .trim_end_matches(']')
            .parse()
            .unwrap_or_default(),
        resolve,
        literal_params,
    })
}

/// Checks every string inside `v` is a valid template.
fn check_template_values(v: &Value, path: &str) -> Result<()> {
    match v {
        Value::String(s) => Template::parse(s).map(|_| ()).map_err(|m| err(path, m)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_template_values(x, &format!("{path}[{i}]"))),
        Value::Object(m) => m
            .iter()
            .try_for_each(|(k, x)| check_template_values(x, &join(path, k))),
        _ => Ok(()),
    }
}

fn parse_write_disposition(v: Option<&Value>, path: &str) -> Result<WriteDisposition> {
    let (text, at) = match v {
        None => return Ok(WriteDisposition::Append),
        Some(Value::String(s)) => (s.as_str(), path.to_owned()),
        Some(Value::Object(o)) => {
            check_keys(o, path, &["disposition", "strategy"])?;
            let d = opt_str(o, path, "disposition")?
                .ok_or_else(|| err(&join(path, "disposition"), "missing"))?;
            (d, join(path, "disposition"))
        }
        Some(v) => {
            return Err(err(
                path,
                format!("expected a string or an object, found {}", kind_of(v)),
            ));
        }
    };
    match text {
        "append" => Ok(WriteDisposition::Append),
        "replace" => Ok(WriteDisposition::Replace),
        "merge" => Ok(WriteDisposition::Merge),
        other => Err(err(
            &at,
            format!("{other:?} is not supported; use append, replace or merge"),
        )),
    }
}

fn parse_incremental(o: &Map<String, Value>, path: &str, param: bool) -> Result<Incremental> {
    let keys: &[&str] = if param {
        &["type", "cursor_path", "initial_value"]
    } else {
        &[
            "cursor_path",
            "initial_value",
            "end_value",
            "start_param",
            "end_param",
        ]
    };
    if let Some(k) = ["convert", "transform"]
        .into_iter()
        .find(|k| o.contains_key(*k))
    {
        return Err(err(
            &join(path, k),
            "takes a Python callable, which a config file cannot express",
        ));
    }
    if param && (o.contains_key("end_value") || o.contains_key("end_param")) {
        return Err(err(
            path,
            "an incremental param takes only cursor_path and initial_value; set end_value in endpoint.incremental",
        ));
    }
    check_keys(o, path, keys)?;
    let cursor_path = opt_str(o, path, "cursor_path")?.ok_or_else(|| {
        err(
            &join(path, "cursor_path"),
            "missing; name the record field holding the cursor",
        )
    })?;
    let segs = parse_path_at(cursor_path, &join(path, "cursor_path"))?;
    if segs.is_empty()
        || !segs
            .iter()
            .all(|s| matches!(s, Seg::Key(_) | Seg::Index(_)))
    {
        return Err(err(
            &join(path, "cursor_path"),
            "expected a path of keys (and indexes) naming one field of a record, e.g. \"updated_at\" or \"info.updated\"",
        ));
    }
    let inc = Incremental {
        cursor_path: cursor_path.to_owned(),
        initial_value: opt(o, "initial_value").cloned(),
        end_value: opt(o, "end_value").cloned(),
        start_param: opt_str(o, path, "start_param")?.map(str::to_owned),
        end_param: opt_str(o, path, "end_param")?.map(str::to_owned),
    };
    for (key, v) in [
        ("initial_value", &inc.initial_value),
        ("end_value", &inc.end_value),
    ] {
        if let Some(v) = v
            && (v.is_object() || v.is_array())
        {
            return Err(err(&join(path, key), "expected a string or a number"));
        }
    }
    if inc.end_param.is_some() && inc.end_value.is_none() {
        return Err(err(&join(path, "end_param"), "is set but end_value is not"));
    }
    Ok(inc)
}

fn parse_date_window(o: &Map<String, Value>, path: &str) -> Result<DateWindow> {
    check_keys(
        o,
        path,
        &[
            "start_param",
            "end_param",
            "start",
            "end",
            "max_days",
            "format",
            "end_inclusive",
        ],
    )?;
    let param = |key: &str| -> Result<String> {
        match opt_str(o, path, key)? {
            Some(p) if !p.trim().is_empty() => Ok(p.to_owned()),
            Some(_) => Err(err(&join(path, key), "must not be empty")),
            None => Err(err(
                &join(path, key),
                "missing; name the query parameter taking the window's bound",
            )),
        }
    };
    let when = |key: &str| -> Result<Option<When>> {
        opt(o, key)
            .map(|v| When::parse(v).map_err(|m| err(&join(path, key), m)))
            .transpose()
    };
    let start = when("start")?.ok_or_else(|| {
        err(
            &join(path, "start"),
            "missing; give the first run's start, e.g. \"2024-01-01T00:00:00Z\" or \"now-365d\"",
        )
    })?;
    let max_days = match opt_i64(o, path, "max_days")? {
        Some(n) if n <= 0 => return Err(err(&join(path, "max_days"), "must be positive")),
        other => other,
    };
    let format = match opt_str(o, path, "format")? {
        None => Format::default(),
        Some(f) => Format::parse(f).ok_or_else(|| {
            err(
                &join(path, "format"),
                format!("{f:?} is not supported; use \"datetime\", \"date\" or \"unix\""),
            )
        })?,
    };
    Ok(DateWindow {
        start_param: param("start_param")?,
        end_param: param("end_param")?,
        start,
        end: when("end")?.unwrap_or(When::Now(0)),
        max_days,
        format,
        end_inclusive: opt_bool(o, path, "end_inclusive")?.unwrap_or(false),
    })
}

fn parse_response_action(v: &Value, path: &str) -> Result<ResponseAction> {
    let o = as_object(v, path)?;
    check_keys(o, path, &["status_code", "content", "action"])?;
    match opt(o, "action") {
        Some(Value::String(a)) if a == "ignore" => {}
        Some(Value::String(a)) => {
            return Err(err(
                &join(path, "action"),
                format!("{a:?} is not supported; use \"ignore\""),
            ));
        }
        Some(v) => {
            return Err(err(
                &join(path, "action"),
                format!("expected \"ignore\", found {}", kind_of(v)),
            ));
        }
        None => return Err(err(&join(path, "action"), "missing; use \"ignore\"")),
    }
    let status = match opt(o, "status_code") {
        None => None,
        Some(v) => {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match n
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..600).contains(n))
            {
                Some(n) => Some(n),
                None => {
                    return Err(err(
                        &join(path, "status_code"),
                        format!("{v} is not an HTTP status"),
                    ));
                }
            }
        }
    };
    let content = opt_str(o, path, "content")?.map(str::to_owned);
    if status.is_none() && content.is_none() {
        return Err(err(path, "give status_code, content or both"));
    }
    Ok(ResponseAction { status, content })
}

/// Validates `error_handler`, which the host applies (retries).
fn check_error_handler(v: &Value, path: &str) -> Result<()> {
    let o = as_object(v, path)?;
    check_keys(
        o,
        path,
        &["retry_on_status_codes", "max_retries", "backoff_factor"],
    )?;
    if let Some(codes) = opt(o, "retry_on_status_codes") {
        let ok = codes.as_array().is_some_and(|l| {
            l.iter()
                .all(|c| c.as_u64().is_some_and(|n| (100..600).contains(&n)))
        });
        if !ok {
            return Err(err(
                &join(path, "retry_on_status_codes"),
                "expected a list of HTTP status codes",
            ));
        }
    }
    if let Some(n) = opt_i64(o, path, "max_retries")?
        && n < 0
    {
        return Err(err(&join(path, "max_retries"), "must not be negative"));
    }
    if let Some(b) = opt(o, "backoff_factor")
        && !b.as_f64().is_some_and(|f| f >= 0.0)
    {
        return Err(err(
            &join(path, "backoff_factor"),
            "expected a non-negative number",
        ));
    }
    Ok(())
}

/// Parses a paginator config. `None` means auto-detection. `body_default`
/// puts offset/limit into the JSON body (POST endpoints and those with a
/// `json` body).
pub(crate) fn parse_paginator(v: &Value, path: &str, body_default: bool) -> Result<Option<Spec>> {
    let empty = Map::new();
    let (kind, o) = match v {
        Value::String(s) => (s.as_str(), &empty),
        Value::Object(o) => (opt_str(o, path, "type")?.unwrap_or("auto"), o),
        v => {
            return Err(err(
                path,
                format!("expected a paginator type or object, found {}", kind_of(v)),
            ));
        }
    };
    let stop = |o: &Map<String, Value>| -> Result<Option<String>> {
        match opt_str(o, path, "stop_condition")? {
            None => Ok(None),
            Some(s) => {
                let inner = s.trim();
                let inner = inner
                    .strip_prefix("{{")
                    .and_then(|i| i.strip_suffix("}}"))
                    .unwrap_or(inner)
                    .trim();
                template::expression_names(inner)
                    .map_err(|m| err(&join(path, "stop_condition"), m))?;
                Ok(Some(inner.to_owned()))
            }
        }
    };
    let place = |param: &str, body: &str, default: &str, in_body: bool| -> Result<Place> {
        let p = opt_str(o, path, param)?;
        let b = opt_str(o, path, body)?;
        match (p, b) {
            (Some(_), Some(_)) => Err(err(path, format!("give {param} or {body}, not both"))),
            (None, Some(b)) => {
                let segs = parse_path_at(b, &join(path, body))?;
                if segs.is_empty() || !segs.iter().all(|s| matches!(s, Seg::Key(_))) {
                    return Err(err(&join(path, body), "expected a dotted path of keys"));
                }
                Ok(Place::Body(segs))
            }
            (p, None) => {
                let name = p.unwrap_or(default);
                if name.is_empty() {
                    return Err(err(&join(path, param), "must not be empty"));
                }
                Ok(if in_body {
                    Place::Body(vec![Seg::Key(name.to_owned())])
                } else {
                    Place::Query(name.to_owned())
                })
            }
        }
    };
    let opt_path = |key: &str| -> Result<Option<Vec<Seg>>> {
        opt_str(o, path, key)?
            .map(|p| parse_path_at(p, &join(path, key)))
            .transpose()
    };
    let limit = |in_body: bool| -> Result<Option<(Place, u64)>> {
        let n = match opt(o, "limit") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                err(
                    &join(path, "limit"),
                    format!("expected a positive integer, found {v}"),
                )
            })?),
        };
        match n {
            Some(n) => Ok(Some((
                place("limit_param", "limit_body_path", "limit", in_body)?,
                n,
            ))),
            None if o.contains_key("limit_param") || o.contains_key("limit_body_path") => Err(err(
                &join(path, "limit"),
                "missing; limit_param needs a limit to send",
            )),
            None => Ok(None),
        }
    };
    let spec = match kind {
        "auto" => {
            check_keys(o, path, &["type"])?;
            return Ok(None);
        }
        "single_page" => {
            check_keys(o, path, &["type"])?;
            Spec::SinglePage
        }
        "page_number" => {
            check_keys(
                o,
                path,
                &[
                    "type",
                    "base_page",
                    "page",
                    "page_param",
                    "page_body_path",
                    "total_path",
                    "maximum_page",
                    "stop_after_empty_page",
                    "has_more_path",
                    "limit",
                    "limit_param",
                    "limit_body_path",
                    "stop_condition",
                ],
            )?;
            let base_page = opt_i64(o, path, "base_page")?.unwrap_or(1);
            let spec = Spec::PageNumber {
                page_at: place("page_param", "page_body_path", "page", false)?,
                base_page,
                first_page: opt_i64(o, path, "page")?.unwrap_or(base_page),
                total_path: opt_path("total_path")?,
                maximum_page: opt_i64(o, path, "maximum_page")?,
                has_more_path: opt_path("has_more_path")?,
                stop_after_empty_page: opt_bool(o, path, "stop_after_empty_page")?.unwrap_or(true),
                limit: limit(false)?,
                stop_condition: stop(o)?,
            };
            if let Spec::PageNumber {
                total_path: None,
                maximum_page: None,
                has_more_path: None,
                stop_after_empty_page: false,
                limit: None,
                stop_condition: None,
                ..
            } = &spec
            {
                return Err(err(
                    path,
                    "this paginator would never stop; give total_path, maximum_page, has_more_path, limit or stop_condition, or keep stop_after_empty_page true",
                ));
            }
            spec
        }
        "offset" => {
            check_keys(
                o,
                path,
                &[
                    "type",
                    "limit",
                    "offset",
                    "offset_param",
                    "offset_body_path",
                    "limit_param",
                    "limit_body_path",
                    "total_path",
                    "maximum_offset",
                    "stop_after_empty_page",
                    "has_more_path",
                    "stop_condition",
                ],
            )?;
            let Some((limit_at, limit)) = limit(body_default)? else {
                return Err(err(
                    &join(path, "limit"),
                    "missing; the offset paginator needs a page size",
                ));
            };
            Spec::Offset {
                offset_at: place("offset_param", "offset_body_path", "offset", body_default)?,
                first_offset: opt_i64(o, path, "offset")?.unwrap_or(0),
                limit,
                limit_at,
                total_path: opt_path("total_path")?,
                maximum_offset: opt_i64(o, path, "maximum_offset")?,
                has_more_path: opt_path("has_more_path")?,
                stop_after_empty_page: opt_bool(o, path, "stop_after_empty_page")?.unwrap_or(true),
                stop_condition: stop(o)?,
            }
        }
        "cursor" => {
            check_keys(
                o,
                path,
                &[
                    "type",
                    "cursor_path",
                    "cursor_param",
                    "cursor_body_path",
                    "stop_after_empty_page",
                    "has_more_path",
                    "limit",
                    "limit_param",
                    "limit_body_path",
                    "stop_condition",
                ],
            )?;
            let cursor_at = if o.contains_key("cursor_param") || o.contains_key("cursor_body_path")
            {
                Some(place("cursor_param", "cursor_body_path", "cursor", false)?)
            } else {
                None
            };
            Spec::Cursor {
                cursor_path: opt_path("cursor_path")?,
                cursor_at,
                has_more_path: opt_path("has_more_path")?,
                stop_after_empty_page: opt_bool(o, path, "stop_after_empty_page")?.unwrap_or(false),
                limit: limit(false)?,
                stop_condition: stop(o)?,
            }
        }
        "json_link" | "json_response" => {
            check_keys(o, path, &["type", "next_url_path", "stop_condition"])?;
            Spec::JsonLink {
                next_url_path: opt_path("next_url_path")?
                    .unwrap_or_else(|| vec![Seg::Key("next".into())]),
                stop_condition: stop(o)?,
            }
        }
        "header_link" => {
            check_keys(o, path, &["type", "links_next_key", "stop_condition"])?;
            Spec::HeaderLink {
                links_next_key: opt_str(o, path, "links_next_key")?
                    .unwrap_or("next")
                    .to_owned(),
                stop_condition: stop(o)?,
            }
        }
        "header_cursor" => {
            check_keys(
                o,
                path,
                &["type", "cursor_key", "cursor_param", "stop_condition"],
            )?;
            Spec::HeaderCursor {
                cursor_key: opt_str(o, path, "cursor_key")?
                    .unwrap_or("next")
                    .to_ascii_lowercase(),
                cursor_param: opt_str(o, path, "cursor_param")?
                    .unwrap_or("cursor")
                    .to_owned(),
                stop_condition: stop(o)?,
            }
        }
        other => {
            return Err(err(
                &join(path, "type"),
                format!(
                    "unknown paginator {other:?}; expected one of auto, single_page, page_number, offset, cursor, json_link, header_link, header_cursor"
                ),
            ));
        }
    };
    Ok(Some(spec))
}

/// Template variables that read the parent record.
const PARTITION_VARS: &[&str] = &["stream_partition", "stream_slice"];

/// Finds each child's parent and the fields it reads (see the crate docs
/// for the rules), and fills in [`Resource::parent`].
fn bind_parents(drafts: &mut [Draft]) -> Result<()> {
    let names: Vec<String> = drafts.iter().map(|d| d.resource.name.clone()).collect();
    let paths: Vec<Option<String>> = drafts
        .iter()
        .map(|d| {
            d.resource
                .endpoint
                .path
                .is_literal()
                .then(|| d.resource.endpoint.path.literal_prefix().to_owned())
        })
        .collect();
    for d in drafts.iter_mut() {
        let at = format!("resources[{}].endpoint", d.index);
        let me = d.resource.name.clone();
        let mut bindings: Vec<(String, String, Binding)> = Vec::new(); // (parent, where, binding)
        let mut add = |parent: String, where_: String, b: Binding| {
            if !bindings.iter().any(|(_, _, x)| x.name == b.name) {
                bindings.push((parent, where_, b));
            }
        };
        for (name, res, field) in &d.resolve {
            add(
                res.clone(),
                format!("{at}.params.{name}"),
                Binding {
                    name: name.clone(),
                    field: parse_path_at(field, &format!("{at}.params.{name}.field"))?,
                    field_text: field.clone(),
                    query: false,
                },
            );
        }
        let mut templates: Vec<(String, &Template)> =
            vec![(format!("{at}.path"), &d.resource.endpoint.path)];
        for (k, t) in &d.resource.endpoint.headers {
            templates.push((format!("{at}.headers.{k}"), t));
        }
        let mut owned = Vec::new();
        for (k, p) in &d.resource.endpoint.params {
            if let Param::Value(v) = p {
                collect_templates(v, &format!("{at}.params.{k}"), &mut owned);
            }
        }
        if let Some(j) = &d.resource.endpoint.json {
            collect_templates(j, &format!("{at}.json"), &mut owned);
        }
        templates.extend(owned.iter().map(|(w, t)| (w.clone(), t)));

        let mut path_fields = Vec::new();
        for (where_, t) in &templates {
            let is_path = where_.ends_with(".path");
            for part in &t.parts {
                match part {
                    Part::Lit(_) => {}
                    Part::Field(f) => {
                        if is_path {
                            path_fields.push(f.clone());
                        }
                        if d.resolve.iter().any(|(n, _, _)| n == f) {
                            continue;
                        }
                        if let Some(rest) = f.strip_prefix("resources.") {
                            let (res, field) = rest.split_once('.').ok_or_else(|| {
                                err(
                                    where_,
                                    format!("{{{f}}}: expected {{resources.<parent>.<field>}}"),
                                )
                            })?;
                            add(
                                res.to_owned(),
                                where_.clone(),
                                Binding {
                                    name: f.clone(),
                                    field: parse_path_at(field, where_)?,
                                    field_text: field.to_owned(),
                                    query: false,
                                },
                            );
                        } else if let Some(v) = f.strip_prefix("incremental.") {
                            check_incremental_ref(
                                v,
                                d.resource.endpoint.incremental.is_some(),
                                where_,
                                f,
                            )?;
                        } else if !(is_path && d.literal_params.contains(f)) {
                            return Err(err(
                                where_,
                                format!(
                                    "placeholder {{{f}}} needs a param named `{f}`: add \"params\": {{\"{f}\": {{\"type\": \"resolve\", \"resource\": \"<parent>\", \"field\": \"<field>\"}}}}"
                                ),
                            ));
                        }
                    }
                    Part::Expr(e) => {
                        for var in template::expression_names(e).map_err(|m| err(where_, m))? {
                            let mut segs = var.splitn(3, '.');
                            let root = segs.next().unwrap_or_default();
                            let attr = segs.next();
                            if root == "incremental" {
                                check_incremental_ref(
                                    attr.unwrap_or(""),
                                    d.resource.endpoint.incremental.is_some(),
                                    where_,
                                    &var,
                                )?;
                                continue;
                            }
                            if root == "resources" {
                                let (Some(res), Some(field)) = (attr, segs.next()) else {
                                    return Err(err(
                                        where_,
                                        format!("`{var}`: expected resources.<parent>.<field>"),
                                    ));
                                };
                                add(
                                    res.to_owned(),
                                    where_.clone(),
                                    Binding {
                                        name: format!("resources.{res}.{field}"),
                                        field: parse_path_at(field, where_)?,
                                        field_text: field.to_owned(),
                                        query: false,
                                    },
                                );
                                continue;
                            }
                            if root == "secrets" {
                                return Err(err(
                                    where_,
                                    format!(
                                        "`{var}`: secrets can only be used in `client` (base_url, headers, auth), which the host applies; the connector never sees secret values"
                                    ),
                                ));
                            }
                            if !PARTITION_VARS.contains(&root) {
                                return Err(err(
                                    where_,
                                    format!(
                                        "unknown template variable `{root}`; available: stream_partition.<field>, stream_slice.<field>, resources.<parent>.<field>, incremental.<value>"
                                    ),
                                ));
                            }
                            let Some(x) = attr else {
                                return Err(err(
                                    where_,
                                    format!("write `{root}.<field>` so the parent field is known"),
                                ));
                            };
                            if let Some((_, res, field)) = d.resolve.iter().find(|(n, _, _)| n == x)
                            {
                                let _ = (res, field); // bound above under the same name
                                continue;
                            }
                            let (parent, field) =
                                infer_parent(x, &me, &names, &paths, &d.resource.endpoint.path)
                                    .map_err(|m| {
                                        err(where_, format!("{{{{ {root}.{x} }}}}: {m}"))
                                    })?;
                            add(
                                parent,
                                where_.clone(),
                                Binding {
                                    name: x.to_owned(),
                                    field: parse_path_at(&field, where_)?,
                                    field_text: field.clone(),
                                    query: false,
                                },
                            );
                        }
                    }
                }
            }
        }
        // dlt substitutes literal params named in the path and drops them
        // from the query.
        d.resource
            .endpoint
            .params
            .retain(|(k, p)| !(matches!(p, Param::Value(_)) && path_fields.contains(k)));
        // A resolve param the path does not use is sent as a query
        // parameter (dlt rejects it; this is more useful and harmless).
        let bound_in_templates: Vec<String> = templates
            .iter()
            .flat_map(|(_, t)| t.parts.iter())
            .filter_map(|p| match p {
                Part::Field(f) => Some(f.clone()),
                Part::Expr(e) => Some(e.clone()),
                Part::Lit(_) => None,
            })
            .collect();
        for (_, _, b) in bindings.iter_mut() {
            if d.resolve.iter().any(|(n, _, _)| *n == b.name)
                && !bound_in_templates
                    .iter()
                    .any(|t| t == &b.name || t.contains(&format!(".{}", b.name)))
            {
                b.query = true;
            }
        }

        let mut parents: Vec<&str> = bindings.iter().map(|(p, _, _)| p.as_str()).collect();
        parents.dedup();
        parents.sort_unstable();
        parents.dedup();
        match parents.as_slice() {
            [] => {
                if !d.resource.include_from_parent.is_empty() {
                    return Err(err(
                        &format!("resources[{}].include_from_parent", d.index),
                        "this resource has no parent; reference one in the path (e.g. {{ stream_partition.id }}) or with a resolve param",
                    ));
                }
            }
            [parent] => {
                let parent = (*parent).to_owned();
                let (_, where_, _) = &bindings[0];
                if parent == me {
                    return Err(err(
                        where_,
                        format!("resource `{me}` cannot be its own parent"),
                    ));
                }
                if !names.contains(&parent) {
                    return Err(err(
                        where_,
                        format!(
                            "parent resource `{parent}` does not exist; resources are: {}",
                            names.join(", ")
                        ),
                    ));
                }
                d.resource.parent = Some(ParentLink {
                    resource: parent,
                    bindings: bindings.into_iter().map(|(_, _, b)| b).collect(),
                });
            }
            many => {
                return Err(err(
                    &at,
                    format!(
                        "reads fields of several parent resources ({}); a resource can have only one parent",
                        many.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_incremental_ref(value: &str, configured: bool, where_: &str, var: &str) -> Result<()> {
    if !configured {
        return Err(err(
            where_,
            format!("`{var}` needs an incremental configuration on this endpoint"),
        ));
    }
    if !matches!(
        value,
        "initial_value" | "start_value" | "last_value" | "end_value"
    ) {
        return Err(err(
            where_,
            format!(
                "`{var}`: expected incremental.initial_value, start_value, last_value or end_value"
            ),
        ));
    }
    Ok(())
}

fn collect_templates(v: &Value, path: &str, out: &mut Vec<(String, Template)>) {
    match v {
        Value::String(s) => {
            if let Ok(t) = Template::parse(s)
                && !t.is_literal()
            {
                out.push((path.to_owned(), t));
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                collect_templates(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                collect_templates(x, &join(path, k), out);
            }
        }
        _ => {}
    }
}

/// Which resource `{{ stream_partition.<x> }}` reads, and which field:
/// 1. by name: `<base>_id` (or `<base>Id`) is field `id` of the resource
///    named `<base>`, `<base>s`, `<base>es` or `<base minus y>ies`;
/// 2. by path: the resource whose path is this path's text before the
///    template (`/v1/catalogs/products/{{ stream_slice.id }}` → the
///    resource at `/v1/catalogs/products`), field `<x>`.
fn infer_parent(
    x: &str,
    me: &str,
    names: &[String],
    paths: &[Option<String>],
    my_path: &Template,
) -> std::result::Result<(String, String), String> {
    let fix = format!(
        "add a resolve param to the endpoint, e.g. \"params\": {{\"{x}\": {{\"type\": \"resolve\", \"resource\": \"<parent>\", \"field\": \"id\"}}}}"
    );
    let base = x.strip_suffix("_id").or_else(|| x.strip_suffix("Id"));
    if let Some(base) = base.filter(|b| !b.is_empty()) {
        let mut forms = vec![base.to_owned(), format!("{base}s"), format!("{base}es")];
        if let Some(stem) = base.strip_suffix('y') {
            forms.push(format!("{stem}ies"));
        }
        let found: Vec<&String> = names
            .iter()
            .filter(|n| *n != me && forms.contains(n))
            .collect();
        match found.as_slice() {
            [one] => return Ok(((*one).clone(), "id".to_owned())),
            [] => {}
            many => {
                return Err(format!(
                    "several resources could be the parent ({}); {fix}",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    let prefix = my_path.literal_prefix().trim_matches('/');
    if !prefix.is_empty() {
        let found: Vec<&String> = names
            .iter()
            .zip(paths)
            .filter(|(n, p)| {
                *n != me && p.as_deref().is_some_and(|p| p.trim_matches('/') == prefix)
            })
            .map(|(n, _)| n)
            .collect();
        match found.as_slice() {
            [one] => return Ok(((*one).clone(), x.to_owned())),
            [] => {}
            many => {
                return Err(format!(
                    "several resources have the path /{prefix} ({}); {fix}",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Err(format!(
        "cannot tell which resource is the parent: no resource is named after `{x}` and none has the path /{prefix}; {fix}"
    ))
}

/// Orders resources parents first, otherwise keeping the config order.
fn parents_first(mut pending: Vec<Resource>) -> Result<Vec<Resource>> {
    let mut out: Vec<Resource> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|r| match &r.parent {
            None => true,
            Some(p) => out.iter().any(|o| o.name == p.resource),
        });
        match ready {
            Some(i) => out.push(pending.remove(i)),
            None => {
                let cycle: Vec<String> = pending
                    .iter()
                    .map(|r| {
                        format!(
                            "{} → {}",
                            r.name,
                            r.parent.as_ref().map_or("", |p| p.resource.as_str())
                        )
                    })
                    .collect();
                return Err(ConnectorError::invalid_config(format!(
                    "resources: parent links form a cycle ({}); a parent must not depend on its children",
                    cycle.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// The parent-field values a child's templates read, from the parent
/// record (`partition`).
pub(crate) fn binding_values(
    link: &ParentLink,
    record: &Map<String, Value>,
) -> std::result::Result<BTreeMap<String, Value>, ConnectorError> {
    let mut out = BTreeMap::new();
    for b in &link.bindings {
        let v = lookup(record, &b.field).ok_or_else(|| {
            let keys: Vec<&String> = record.keys().take(30).collect();
            ConnectorError::invalid_state(format!(
                "the parent record from `{}` has no field `{}` (fields: {keys:?}); fix the field in the resolve param or the template",
                link.resource, b.field_text
            ))
        })?;
        out.insert(b.name.clone(), v.clone());
    }
    Ok(out)
}

/// The value at `path` in `record`.
pub(crate) fn lookup<'a>(record: &'a Map<String, Value>, path: &[Seg]) -> Option<&'a Value> {
    let (Seg::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let mut v = record.get(first)?;
    for seg in rest {
        v = match seg {
            Seg::Key(k) => v.get(k)?,
            Seg::Index(i) => v.get(*i)?,
            Seg::Wildcard => v.get(0)?,
            Seg::Filter { key, value } => v
                .as_array()?
                .iter()
                .find(|e| e.get(key.as_str()) == Some(value))?,
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use extract_sdk::ErrorKind;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<Source> {
        parse(&v.to_string())
    }

    fn msg(v: Value) -> String {
        let e = parse_json(v).expect_err("invalid");
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        e.message
    }

    fn base(resources: Value) -> Value {
        json!({"client": {"base_url": "https://api.example.com"}, "resources": resources})
    }

    #[test]
    fn bare_string_resource_is_name_and_path() {
        let s = parse_json(base(json!(["issues"]))).expect("ok");
        let r = &s.resources[0];
        assert_eq!(r.name, "issues");
        assert_eq!(r.endpoint.path, Template::parse("issues").expect("t"));
        assert_eq!(r.write_disposition, WriteDisposition::Append);
        assert!(r.selected);
        assert_eq!(s.name, "rest_api");
    }

    #[test]
    fn string_endpoint_is_a_path() {
        let s = parse_json(base(json!([{"name": "a", "endpoint": "/v1/a"}]))).expect("ok");
        assert_eq!(s.resources[0].endpoint.path.literal_prefix(), "/v1/a");
    }

    #[test]
    fn unknown_endpoint_key_names_its_path() {
        let m = msg(base(json!([
            "a", "b",
            {"name": "c", "endpoint": {"path": "/c", "paginatr": "single_page"}}
        ])));
        assert!(
            m.starts_with(
                "resources[2].endpoint.paginatr: unknown key; expected one of path, method"
            ),
            "{m}"
        );
    }

    #[test]
    fn unknown_top_and_client_keys_are_rejected() {
        assert!(
            msg(json!({"client": {"base_url": "https://x"}, "resources": ["a"], "sources": 1}))
                .starts_with("sources: unknown key")
        );
        let m = msg(json!({"client": {"base_url": "https://x", "retry": 1}, "resources": ["a"]}));
        assert!(
            m.starts_with(
                "client.retry: unknown key; expected one of base_url, headers, auth, paginator"
            ),
            "{m}"
        );
    }

    #[test]
    fn unsupported_dlt_keys_explain_why() {
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "data": {"x": 1}}}]),
        ));
        assert!(
            m.contains("resources[0].endpoint.data: form and raw request bodies"),
            "{m}"
        );
    }

    #[test]
    fn missing_base_url_is_an_error() {
        let m = msg(json!({"client": {}, "resources": ["a"]}));
        assert!(m.starts_with("client.base_url: missing"), "{m}");
    }

    #[test]
    fn resource_defaults_apply_and_resources_override() {
        let s = parse_json(json!({
            "client": {"base_url": "https://x"},
            "resource_defaults": {
                "primary_key": "id", "write_disposition": "merge",
                "endpoint": {"params": {"per_page": 50, "sort": "asc"}, "data_selector": "data"}
            },
            "resources": [
                {"name": "a", "endpoint": {"path": "/a", "params": {"sort": "desc"}}},
                {"name": "b", "primary_key": ["x", "y"], "write_disposition": {"disposition": "replace"}}
            ]
        }))
        .expect("ok");
        let a = s.resource("a").expect("a");
        assert_eq!(a.primary_key, vec!["id"]);
        assert_eq!(a.write_disposition, WriteDisposition::Merge);
        let params: Vec<(&str, &Value)> = a
            .endpoint
            .params
            .iter()
            .map(|(k, p)| match p {
                Param::Value(v) => (k.as_str(), v),
                Param::Incremental => panic!("literal"),
            })
            .collect();
        assert_eq!(
            params,
            vec![("per_page", &json!(50)), ("sort", &json!("desc"))]
        );
        let b = s.resource("b").expect("b");
        assert_eq!(b.primary_key, vec!["x", "y"]);
        assert_eq!(b.write_disposition, WriteDisposition::Replace);
        assert_eq!(b.endpoint.path.literal_prefix(), "b");
        // The effective config has defaults applied and no resource_defaults.
        assert!(s.effective.get("resource_defaults").is_none());
        assert_eq!(
            s.effective["resources"][1]["primary_key"],
            json!(["x", "y"])
        );
        assert_eq!(
            s.effective["resources"][0]["endpoint"]["data_selector"],
            json!("data")
        );
    }

    #[test]
    fn unknown_key_in_defaults_names_resource_defaults() {
        let m = msg(json!({
            "client": {"base_url": "https://x"},
            "resource_defaults": {"endpoint": {"pagnator": {}}},
            "resources": ["a"]
        }));
        assert!(
            m.starts_with("resource_defaults.endpoint.pagnator: unknown key"),
            "{m}"
        );
    }

    #[test]
    fn secrets_in_client_are_passed_through_untouched() {
        let s = parse_json(json!({
            "client": {"base_url": "https://x", "auth": {"type": "basic", "username": "{{ secrets.api_key }}", "password": "x"}},
            "resources": ["a"]
        }))
        .expect("ok");
        assert_eq!(
            s.effective["client"]["auth"]["username"],
            json!("{{ secrets.api_key }}")
        );
    }

    #[test]
    fn auth_must_be_an_object_or_type_name() {
        let m = msg(json!({"client": {"base_url": "https://x", "auth": [1]}, "resources": ["a"]}));
        assert!(m.starts_with("client.auth: expected an object"), "{m}");
    }

    #[test]
    fn write_disposition_skip_is_rejected() {
        let m = msg(base(json!([{"name": "a", "write_disposition": "skip"}])));
        assert!(
            m.starts_with("resources[0].write_disposition: \"skip\" is not supported"),
            "{m}"
        );
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let m = msg(base(json!(["a", {"name": "a"}])));
        assert!(m.starts_with("resources[1].name: `a` is already"), "{m}");
    }

    #[test]
    fn paginator_forms_parse() {
        let parse_p = |v: Value, body: bool| parse_paginator(&v, "p", body);
        assert_eq!(
            parse_p(json!("single_page"), false).expect("ok"),
            Some(Spec::SinglePage)
        );
        assert_eq!(parse_p(json!({"type": "auto"}), false).expect("ok"), None);
        let Some(Spec::PageNumber {
            base_page,
            page_at,
            limit,
            ..
        }) = parse_p(
            json!({"type": "page_number", "limit": 200, "limit_param": "per_page"}),
            false,
        )
        .expect("ok")
        else {
            panic!("page_number")
        };
        assert_eq!(base_page, 1);
        assert_eq!(page_at, Place::Query("page".into()));
        assert_eq!(limit, Some((Place::Query("per_page".into()), 200)));
        let Some(Spec::Offset {
            offset_at,
            limit_at,
            ..
        }) = parse_p(
            json!({"type": "offset", "limit": 100, "offset_param": "OFFSET"}),
            true,
        )
        .expect("ok")
        else {
            panic!("offset")
        };
        assert_eq!(offset_at, Place::Body(vec![Seg::Key("OFFSET".into())]));
        assert_eq!(limit_at, Place::Body(vec![Seg::Key("limit".into())]));
        let Some(Spec::Offset { offset_at, .. }) = parse_p(
            json!({"type": "offset", "limit": 10, "offset_body_path": "page.offset"}),
            false,
        )
        .expect("ok") else {
            panic!("offset")
        };
        assert_eq!(
            offset_at,
            Place::Body(vec![Seg::Key("page".into()), Seg::Key("offset".into())])
        );
    }

    #[test]
    fn paginator_errors_name_the_key() {
        let e = parse_paginator(
            &json!({"type": "offset"}),
            "resources[0].endpoint.paginator",
            false,
        )
        .expect_err("no limit");
        assert!(
            e.message
                .starts_with("resources[0].endpoint.paginator.limit: missing"),
            "{}",
            e.message
        );
        let e = parse_paginator(&json!({"type": "pages"}), "p", false).expect_err("bad type");
        assert!(
            e.message.starts_with("p.type: unknown paginator \"pages\""),
            "{}",
            e.message
        );
        let e = parse_paginator(&json!({"type": "cursor", "cursr_path": "x"}), "p", false)
            .expect_err("typo");
        assert!(
            e.message.starts_with("p.cursr_path: unknown key"),
            "{}",
            e.message
        );
        let e = parse_paginator(
            &json!({"type": "page_number", "page_param": "p", "page_body_path": "q"}),
            "p",
            false,
        )
        .expect_err("both");
        assert!(e.message.contains("not both"), "{}", e.message);
        let e = parse_paginator(
            &json!({"type": "page_number", "stop_after_empty_page": false}),
            "p",
            false,
        )
        .expect_err("never stops");
        assert!(e.message.contains("never stop"), "{}", e.message);
        let e = parse_paginator(
            &json!({"type": "cursor", "stop_condition": "not ((("}),
            "p",
            false,
        )
        .expect_err("bad jinja");
        assert!(
            e.message.starts_with("p.stop_condition: invalid Jinja"),
            "{}",
            e.message
        );
    }

    #[test]
    fn stop_condition_may_be_wrapped_in_braces() {
        let spec = parse_paginator(
            &json!({"type": "json_link", "stop_condition": "{{ not response.next }}"}),
            "p",
            false,
        )
        .expect("ok");
        let Some(Spec::JsonLink { stop_condition, .. }) = spec else {
            panic!()
        };
        assert_eq!(stop_condition.as_deref(), Some("not response.next"));
    }

    #[test]
    fn client_paginator_is_the_default() {
        let s = parse_json(json!({
            "client": {"base_url": "https://x", "paginator": {"type": "header_link"}},
            "resources": ["a", {"name": "b", "endpoint": {"path": "/b", "paginator": "single_page"}}]
        }))
        .expect("ok");
        assert_eq!(
            s.resources[0].endpoint.paginator.as_ref().map(Spec::name),
            Some("header_link")
        );
        assert_eq!(s.resources[1].endpoint.paginator, Some(Spec::SinglePage));
    }

    #[test]
    fn data_selector_forms_parse() {
        let s = parse_json(base(json!([
            {"name": "a", "endpoint": {"path": "/a", "data_selector": ["RESPONSE", "INVOICES"]}},
            {"name": "b", "endpoint": {"path": "/b", "data_selector": []}},
            {"name": "c", "endpoint": {"path": "/c"}}
        ])))
        .expect("ok");
        assert!(
            matches!(&s.resources[0].endpoint.selector, Selector::Path { path, .. } if path.len() == 2)
        );
        assert!(
            matches!(&s.resources[1].endpoint.selector, Selector::Path { path, .. } if path.is_empty())
        );
        assert_eq!(s.resources[2].endpoint.selector, Selector::Auto);
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "data_selector": "$..x"}}]),
        ));
        assert!(
            m.starts_with("resources[0].endpoint.data_selector: path"),
            "{m}"
        );
    }

    #[test]
    fn response_actions_parse_and_validate() {
        let s = parse_json(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "response_actions": [
                {"status_code": 404, "action": "ignore"},
                {"content": "Not found", "action": "ignore"},
                {"status_code": "400", "content": "No transaction", "action": "ignore"}
            ]}}]),
        ))
        .expect("ok");
        let actions = &s.resources[0].endpoint.response_actions;
        assert_eq!(actions.len(), 3);
        assert!(actions[0].matches(404, b""));
        assert!(actions[1].matches(200, b"x Not found y"));
        assert!(!actions[2].matches(400, b"other"));
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "response_actions": [{"status_code": 404, "action": "retry"}]}}]),
        ));
        assert!(
            m.starts_with(
                "resources[0].endpoint.response_actions[0].action: \"retry\" is not supported"
            ),
            "{m}"
        );
    }

    #[test]
    fn error_handler_is_validated_for_the_host() {
        parse_json(base(json!([{"name": "a", "endpoint": {"path": "/a", "error_handler": {"retry_on_status_codes": [400], "max_retries": 3, "backoff_factor": 2}}}])))
            .expect("ok");
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "error_handler": {"retry_on_status_codes": ["x"]}}}]),
        ));
        assert!(
            m.starts_with("resources[0].endpoint.error_handler.retry_on_status_codes"),
            "{m}"
        );
    }

    #[test]
    fn incremental_is_validated() {
        let s = parse_json(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "incremental": {
                "cursor_path": "updated_at", "initial_value": "2024-01-01", "start_param": "since",
                "end_param": "until", "end_value": "2024-02-01"
            }}}]),
        ))
        .expect("ok");
        let inc = s.resources[0].endpoint.incremental.as_ref().expect("inc");
        assert_eq!(inc.start_param.as_deref(), Some("since"));
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "incremental": {"initial_value": 1}}}]),
        ));
        assert!(
            m.starts_with("resources[0].endpoint.incremental.cursor_path: missing"),
            "{m}"
        );
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "params": {"since": {"type": "incremental", "cursor_path": "u", "end_value": 3}}}}]),
        ));
        assert!(m.contains("only cursor_path and initial_value"), "{m}");
    }

    #[test]
    fn date_window_is_validated() {
        let s = parse_json(base(json!([{"name": "a", "endpoint": {"path": "/a",
            "date_window": {"start_param": "from", "end_param": "to", "start": "2024-01-01", "max_days": 31, "format": "date", "end_inclusive": true},
            "incremental": {"cursor_path": "info.updated"}
        }}])))
        .expect("ok");
        let w = s.resources[0]
            .endpoint
            .date_window
            .as_ref()
            .expect("window");
        assert_eq!(w.start, When::At(1_704_067_200));
        assert_eq!(w.end, When::Now(0));
        assert_eq!(
            (w.max_days, w.format, w.end_inclusive),
            (Some(31), Format::Date, true)
        );
        for (window, want) in [
            (
                json!({"end_param": "to", "start": "now"}),
                "date_window.start_param: missing",
            ),
            (
                json!({"start_param": "f", "end_param": "to"}),
                "date_window.start: missing",
            ),
            (
                json!({"start_param": "f", "end_param": "t", "start": "soon"}),
                "date_window.start: \"soon\"",
            ),
            (
                json!({"start_param": "f", "end_param": "t", "start": "now", "max_days": 0}),
                "date_window.max_days: must be positive",
            ),
            (
                json!({"start_param": "f", "end_param": "t", "start": "now", "format": "iso"}),
                "date_window.format: \"iso\" is not supported",
            ),
            (
                json!({"start_param": "f", "end_param": "t", "start": "now", "step": 1}),
                "date_window.step: unknown key",
            ),
        ] {
            let m = msg(base(
                json!([{"name": "a", "endpoint": {"path": "/a", "date_window": window}}]),
            ));
            assert!(
                m.starts_with(&format!("resources[0].endpoint.{want}")),
                "{m}"
            );
        }
        let m = msg(base(json!([{"name": "a", "endpoint": {"path": "/a",
            "date_window": {"start_param": "f", "end_param": "t", "start": "now"},
            "incremental": {"cursor_path": "u", "start_param": "since"}}}])));
        assert!(
            m.starts_with(
                "resources[0].endpoint.incremental.start_param: cannot be combined with date_window"
            ),
            "{m}"
        );
        let m = msg(base(json!([{"name": "a", "endpoint": {"path": "/a",
            "date_window": {"start_param": "f", "end_param": "t", "start": "now"},
            "params": {"since": {"type": "incremental", "cursor_path": "u"}}}}])));
        assert!(
            m.contains("an incremental param sends its own start value"),
            "{m}"
        );
    }

    #[test]
    fn cursor_path_names_one_field() {
        let m = msg(base(json!([{"name": "a", "endpoint": {"path": "/a",
            "incremental": {"cursor_path": "items[*].u"}}}])));
        assert!(
            m.starts_with("resources[0].endpoint.incremental.cursor_path: expected a path of keys"),
            "{m}"
        );
    }

    fn pabbly() -> Value {
        base(json!([
            {"name": "addons", "endpoint": {"path": "/addons/{{ stream_partition.product_id }}", "data_selector": "data"}},
            {"name": "refunds", "endpoint": {"path": "/refund/{{ stream_partition.customer_id }}"}},
            {"name": "licenses", "endpoint": {"path": "/products/{{ stream_partition.product_id }}/licenses"}},
            {"name": "products", "endpoint": {"path": "/products"}},
            {"name": "customers", "endpoint": {"path": "/customers"}},
        ]))
    }

    #[test]
    fn stream_partition_names_infer_parents_by_naming_convention() {
        let s = parse_json(pabbly()).expect("ok");
        let order: Vec<&str> = s.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            order,
            vec!["products", "addons", "licenses", "customers", "refunds"]
        );
        let addons = s.resource("addons").expect("addons");
        let link = addons.parent.as_ref().expect("parent");
        assert_eq!(link.resource, "products");
        assert_eq!(link.bindings[0].name, "product_id");
        assert_eq!(link.bindings[0].field, vec![Seg::Key("id".into())]);
        assert_eq!(
            s.resource("refunds")
                .and_then(|r| r.parent.as_ref())
                .map(|p| p.resource.as_str()),
            Some("customers")
        );
    }

    #[test]
    fn stream_slice_infers_parent_by_path_prefix() {
        let s = parse_json(base(json!([
            {"name": "list_products", "endpoint": {"path": "/v1/catalogs/products", "data_selector": "products"}},
            {"name": "show_product_details", "endpoint": {"path": "/v1/catalogs/products/{{ stream_slice.id }}", "data_selector": [], "paginator": {"type": "single_page"}}}
        ])))
        .expect("ok");
        let link = s
            .resource("show_product_details")
            .and_then(|r| r.parent.as_ref())
            .expect("parent");
        assert_eq!(link.resource, "list_products");
        assert_eq!(link.bindings[0].field, vec![Seg::Key("id".into())]);
    }

    #[test]
    fn uninferable_parent_explains_the_fix() {
        let m = msg(base(json!([
            {"name": "details", "endpoint": {"path": "/things/{{ stream_slice.id }}"}}
        ])));
        assert!(
            m.contains("cannot tell which resource is the parent")
                && m.contains("\"type\": \"resolve\""),
            "{m}"
        );
    }

    #[test]
    fn ambiguous_parent_is_an_error() {
        let m = msg(base(json!([
            "product", "products",
            {"name": "addons", "endpoint": {"path": "/addons/{{ stream_partition.product_id }}"}}
        ])));
        assert!(
            m.contains("several resources could be the parent (product, products)"),
            "{m}"
        );
    }

    #[test]
    fn resolve_param_binds_dlt_placeholder() {
        let s = parse_json(base(json!([
            "products",
            {"name": "coupons", "endpoint": {"path": "/coupon/{product_id}", "params": {
                "product_id": {"type": "resolve", "resource": "products", "field": "id"},
                "limit": 100
            }}, "include_from_parent": ["id"]}
        ])))
        .expect("ok");
        let c = s.resource("coupons").expect("coupons");
        let link = c.parent.as_ref().expect("parent");
        assert_eq!(link.resource, "products");
        assert!(!link.bindings[0].query);
        assert_eq!(c.endpoint.params.len(), 1);
    }

    #[test]
    fn resolve_param_wins_over_convention_for_jinja_names() {
        let s = parse_json(base(json!([
            "items", "products",
            {"name": "c", "endpoint": {"path": "/c/{{ stream_partition.product_id }}", "params": {
                "product_id": {"type": "resolve", "resource": "items", "field": "sku"}
            }}}
        ])))
        .expect("ok");
        let link = s
            .resource("c")
            .and_then(|r| r.parent.as_ref())
            .expect("parent");
        assert_eq!(link.resource, "items");
        assert_eq!(link.bindings.len(), 1);
        assert_eq!(link.bindings[0].field_text, "sku");
    }

    #[test]
    fn unbound_resolve_param_becomes_a_query_param() {
        let s = parse_json(base(json!([
            "customers",
            {"name": "tx", "endpoint": {"path": "/tx", "params": {
                "customer": {"type": "resolve", "resource": "customers", "field": "id"}
            }}}
        ])))
        .expect("ok");
        let link = s
            .resource("tx")
            .and_then(|r| r.parent.as_ref())
            .expect("parent");
        assert!(link.bindings[0].query);
    }

    #[test]
    fn resources_expression_binds_parent() {
        let s = parse_json(base(json!([
            "users",
            {"name": "posts", "endpoint": {"path": "/posts", "params": {"user": "{resources.users.id}"}}}
        ])))
        .expect("ok");
        let link = s
            .resource("posts")
            .and_then(|r| r.parent.as_ref())
            .expect("parent");
        assert_eq!(link.resource, "users");
        assert_eq!(link.bindings[0].name, "resources.users.id");
    }

    #[test]
    fn path_placeholder_without_param_is_an_error() {
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a/{id}"}}]),
        ));
        assert!(
            m.starts_with("resources[0].endpoint.path: placeholder {id} needs a param named `id`"),
            "{m}"
        );
    }

    #[test]
    fn literal_param_fills_path_placeholder_and_leaves_query() {
        let s = parse_json(base(
            json!([{"name": "a", "endpoint": {"path": "/a/{v}/x", "params": {"v": "2", "q": 1}}}]),
        ))
        .expect("ok");
        let r = &s.resources[0];
        assert!(r.parent.is_none());
        let names: Vec<&str> = r.endpoint.params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["q"]);
    }

    #[test]
    fn unknown_parent_and_cycles_are_errors() {
        let m = msg(base(json!([
            {"name": "a", "endpoint": {"path": "/a/{p}", "params": {"p": {"type": "resolve", "resource": "zz", "field": "id"}}}}
        ])));
        assert!(m.contains("parent resource `zz` does not exist"), "{m}");
        let m = msg(base(json!([
            {"name": "a", "endpoint": {"path": "/a/{p}", "params": {"p": {"type": "resolve", "resource": "b", "field": "id"}}}},
            {"name": "b", "endpoint": {"path": "/b/{q}", "params": {"q": {"type": "resolve", "resource": "a", "field": "id"}}}}
        ])));
        assert!(m.contains("cycle"), "{m}");
    }

    #[test]
    fn include_from_parent_needs_a_parent() {
        let m = msg(base(json!([{"name": "a", "include_from_parent": ["id"]}])));
        assert!(
            m.starts_with("resources[0].include_from_parent: this resource has no parent"),
            "{m}"
        );
    }

    #[test]
    fn single_entity_path_defaults_to_whole_body_single_page() {
        let s = parse_json(base(json!([
            "products",
            {"name": "product", "endpoint": {"path": "/products/{id}", "params": {"id": {"type": "resolve", "resource": "products", "field": "id"}}}}
        ])))
        .expect("ok");
        let r = s.resource("product").expect("product");
        assert_eq!(r.endpoint.paginator, Some(Spec::SinglePage));
        assert_eq!(r.endpoint.selector, Selector::whole());
    }

    #[test]
    fn unknown_template_variable_is_an_error() {
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a/{{ config.x }}"}}]),
        ));
        assert!(m.contains("unknown template variable `config`"), "{m}");
    }

    #[test]
    fn secrets_outside_client_are_rejected() {
        let m = msg(base(
            json!([{"name": "a", "endpoint": {"path": "/a", "headers": {"X-Key": "{{ secrets.key }}"}}}]),
        ));
        assert!(m.starts_with("resources[0].endpoint.headers.X-Key: `secrets.key`: secrets can only be used in `client`"), "{m}");
    }

    #[test]
    fn binding_values_report_missing_parent_fields() {
        let link = ParentLink {
            resource: "products".into(),
            bindings: vec![Binding {
                name: "product_id".into(),
                field: vec![Seg::Key("id".into())],
                field_text: "id".into(),
                query: false,
            }],
        };
        let rec = json!({"sku": 1});
        let e = binding_values(&link, rec.as_object().expect("obj")).expect_err("missing");
        assert_eq!(e.kind, ErrorKind::InvalidState);
        assert!(
            e.message.contains("no field `id`") && e.message.contains("\"sku\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn all_five_seed_configs_parse() {
        for (name, cfg) in crate::tests::seeds() {
            let s = parse(&cfg).unwrap_or_else(|e| panic!("seed {name}: {e}"));
            assert!(!s.resources.is_empty(), "{name}");
        }
    }
}
