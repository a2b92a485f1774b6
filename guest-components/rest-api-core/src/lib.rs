//! The dlt `rest_api_source` interpreter as a library: a sans-IO state
//! machine reading a configuration (JSON text). The generic component
//! (`rest-api` → `rest_api.wasm`) exports [`RestApi`] as-is; a vendor
//! component builds on it with a built-in configuration
//! ([`describe_with_builtin`]) and wraps [`RestExtraction`] where the
//! vendor needs more than configuration can say.
//!
//! What it understands, in short (details on each module and field):
//! - **Config** (`config`): `client` (passed through for the host, which
//!   applies `base_url`, `headers` and `auth`; secrets stay unresolved
//!   `{{ secrets.NAME }}` text), `resource_defaults` merged as dlt does,
//!   `resources` as objects or bare names. Unknown keys are errors naming
//!   the key path.
//! - **Requests**: the endpoint path is returned as the request URL (the
//!   host joins it to `base_url`; absolute URLs pass through); `params`
//!   become the query in order, rendered as text: strings as is, numbers
//!   as JSON writes them, booleans as `true`/`false` (not Python's
//!   `True`), `null` omitted, lists repeated; `json` is the body.
//! - **Paginators** (`paginator`): dlt's kinds and auto-detection, the
//!   seeds' `limit` and `stop_condition` (Jinja, Python-compatible), and a
//!   `stuck` error when pagination does not advance.
//! - **Records** (`selector`): `data_selector` in dlt's and the seeds'
//!   forms; records leave as byte spans of the body whenever possible.
//!   Paths may filter arrays: `links[?(@.rel == 'next')].href`.
//! - **Errors**: non-2xx responses fail with the status, URL and a body
//!   excerpt, unless `response_actions` say to ignore them.
//! - **Checkpoints** after every page that has a next one; **parents**
//!   bound through resolve params, `{resources.<p>.<f>}`, or the seeds'
//!   `{{ stream_partition.x }}` / `{{ stream_slice.x }}` templates.
//! - **Incremental** (dlt's `incremental`, or a `{"type": "incremental"}`
//!   param): the first run sends `initial_value` as `start_param`; each
//!   page's records are scanned for the largest `cursor_path` value
//!   (numbers by value, strings lexically, so ISO dates of one format
//!   compare right), returned as the page's state `{"last_value": ...}`
//!   whenever it grew; the next run sends that `last_value` instead.
//! - **`date_window`** (our extension): an endpoint walks consecutive
//!   windows `[start, start + max_days)` up to `end` (default `now`), each
//!   paginated to its end before the next; the bounds go into
//!   `start_param`/`end_param`. An incremental `last_value` later than
//!   `start` moves the start. Checkpoints carry the window position.

use extract_sdk::{Connector, ConnectorError, ExtractionContext, ResourceInfo, SourceInfo};
use serde_json::{Map, Value};

mod config;
mod dates;
mod extraction;
mod json;
mod paginator;
mod plan;
mod selector;
mod template;
pub mod testing;

/// Property-test settings for the unit tests: `cases` unless
/// `PROPTEST_CASES` says otherwise (`just fuzz` sets it); no failure files.
#[cfg(test)]
pub(crate) fn proptest_config(cases: u32) -> proptest::prelude::ProptestConfig {
    proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..Default::default()
    }
}

pub use extraction::RestExtraction;

/// The `rest_api` connector: the configuration handed to `describe` is
/// the whole dlt configuration.
pub struct RestApi;

impl Connector for RestApi {
    type Extraction = RestExtraction;

    fn describe(config: &str) -> Result<SourceInfo, ConnectorError> {
        let source = config::parse(config)?;
        Ok(SourceInfo {
            name: source.name.clone(),
            config: source.effective.to_string(),
            resources: source
                .resources
                .iter()
                .map(|r| ResourceInfo {
                    name: r.name.clone(),
                    primary_key: r.primary_key.clone(),
                    write_disposition: r.write_disposition,
                    parent: r.parent.as_ref().map(|p| p.resource.clone()),
                    selected: r.selected,
                })
                .collect(),
        })
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> RestExtraction {
        RestExtraction::new(config, resource, &ctx)
    }
}

/// `describe` for a vendor component: the operator's `overrides` (JSON
/// text; empty or `{}` for none) deep-merged over the component's
/// `builtin` configuration (see [`merge_config`]), then validated and
/// described as [`RestApi::describe`] does. The effective configuration it
/// returns is what the host hands back to each extraction.
pub fn describe_with_builtin(builtin: &str, overrides: &str) -> Result<SourceInfo, ConnectorError> {
    let overrides = overrides_object(overrides)?;
    let mut config = builtin_config(builtin)?;
    merge_config(&mut config, Value::Object(overrides));
    RestApi::describe(&config.to_string())
}

/// A component's built-in configuration as a JSON value; an error (a bug
/// in the component) if it is not a JSON object.
pub fn builtin_config(builtin: &str) -> Result<Value, ConnectorError> {
    match serde_json::from_str::<Value>(builtin) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ConnectorError::other(
            "the component's built-in configuration is not a JSON object",
        )),
        Err(e) => Err(ConnectorError::other(format!(
            "the component's built-in configuration is not JSON: {e}"
        ))),
    }
}

/// The operator's overrides as an object: empty text means none; anything
/// but a JSON object is an `invalid-config` error. A vendor component takes
/// its own shorthand keys out of it before [`merge_config`].
pub fn overrides_object(overrides: &str) -> Result<Map<String, Value>, ConnectorError> {
    if overrides.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(overrides) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ConnectorError::invalid_config(
            "the overrides must be a JSON object, e.g. {\"client\": {\"base_url\": \"https://...\"}}",
        )),
        Err(e) => Err(ConnectorError::invalid_config(format!(
            "the overrides are not valid JSON: {e}"
        ))),
    }
}

/// Deep-merges `overrides` into `base`:
/// - objects merge key by key, recursively;
/// - the top-level `resources` list merges entry by entry, matched by
///   `name` (a bare-string resource counts as `{"name": ...}`); entries
///   naming no built-in resource are appended;
/// - `null` removes a key;
/// - anything else (scalars, other lists) replaces what was there.
pub fn merge_config(base: &mut Value, overrides: Value) {
    merge_at(base, overrides, true);
}

fn merge_at(base: &mut Value, overrides: Value, top: bool) {
    let Value::Object(over) = overrides else {
        *base = overrides;
        return;
    };
    let Value::Object(map) = base else {
        *base = Value::Object(Map::new());
        return merge_at(base, Value::Object(over), top);
    };
    for (key, value) in over {
        if value.is_null() {
            map.remove(&key);
            continue;
        }
        match (key.as_str(), map.get_mut(&key), value) {
            ("resources", Some(Value::Array(list)), Value::Array(entries)) if top => {
                for entry in entries {
                    merge_resource(list, entry);
                }
            }
            (_, Some(existing @ Value::Object(_)), value @ Value::Object(_)) => {
                merge_at(existing, value, false);
            }
            (_, _, value) => {
                map.insert(key, value);
            }
        }
    }
}

fn resource_name(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get("name").and_then(Value::as_str),
        _ => None,
    }
}

fn merge_resource(list: &mut Vec<Value>, entry: Value) {
    let found = resource_name(&entry)
        .and_then(|name| list.iter().position(|r| resource_name(r) == Some(name)));
    let Some(i) = found else {
        list.push(entry);
        return;
    };
    if entry.is_string() {
        return; // names a built-in resource and changes nothing
    }
    if let Value::String(name) = &list[i] {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(name.clone()));
        list[i] = Value::Object(m);
    }
    merge_at(&mut list[i], entry, false);
}

#[cfg(test)]
mod tests;
