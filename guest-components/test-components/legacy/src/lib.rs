//! A connector written straight against version 0.1.0 of the WIT contract
//! (`wit/0.1.0`), the way a third party's component built before 0.2.0
//! looks, built as `test_legacy.wasm` and never shipped. The host must keep
//! running it.
//!
//! Its one resource, `items`, GETs `target` from the operator's overrides
//! under `"legacy"` (default `/items`) and takes every element of the JSON
//! array the response holds as a record. A response that is not an array
//! fails with a `bad-response` error.

#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/0.1.0",
        world: "connector",
    });
}

use bindings::exports::extract::connector::source::{Guest, GuestExtraction};
use bindings::extract::connector::types::{
    ConnectorError, ErrorKind, Method, Page, Records, Request, ResourceInfo, Response, SourceInfo,
    WriteDisposition,
};
use serde_json::{Value, json};

struct Legacy;

impl Guest for Legacy {
    type Extraction = LegacyExtraction;

    fn describe(config: String) -> Result<SourceInfo, ConnectorError> {
        let overrides: Value = serde_json::from_str(&config).map_err(|e| ConnectorError {
            kind: ErrorKind::InvalidConfig,
            message: format!("overrides: {e}"),
        })?;
        let effective = json!({
            "client": overrides.get("client").cloned().unwrap_or_else(|| json!({})),
            "legacy": overrides.get("legacy").cloned().unwrap_or_else(|| json!({})),
        });
        Ok(SourceInfo {
            name: "legacy".into(),
            config: effective.to_string(),
            resources: vec![ResourceInfo {
                name: "items".into(),
                primary_key: vec!["id".into()],
                write_disposition: WriteDisposition::Merge,
                parent: None,
                selected: true,
            }],
        })
    }
}

/// The extraction of `items`: one request, one page.
struct LegacyExtraction {
    target: String,
}

impl GuestExtraction for LegacyExtraction {
    fn new(
        config: String,
        _resource: String,
        _partition: Option<String>,
        _checkpoint: Option<String>,
        _state: Option<String>,
    ) -> Self {
        let target = serde_json::from_str::<Value>(&config)
            .ok()
            .and_then(|c| c["legacy"]["target"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "/items".into());
        LegacyExtraction { target }
    }

    fn start(&self) -> Result<Request, ConnectorError> {
        Ok(Request {
            method: Method::Get,
            url: self.target.clone(),
            query: Vec::new(),
            headers: Vec::new(),
            json_body: None,
        })
    }

    fn next(&self, response: Response) -> Result<Page, ConnectorError> {
        let bad = |message: String| ConnectorError {
            kind: ErrorKind::BadResponse,
            message,
        };
        let items: Vec<Value> = serde_json::from_slice(&response.body)
            .map_err(|e| bad(format!("expected a JSON array of records: {e}")))?;
        Ok(Page {
            records: Records::JsonArray(Value::Array(items).to_string()),
            next: None,
            checkpoint: None,
            state: None,
            prefetch: Vec::new(),
        })
    }
}

// The generated exports are `unsafe` ABI glue.
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(Legacy with_types_in bindings);
};
