//! The FastBill connector component (`fastbill.wasm`).
//!
//! Built-in configuration (`config.json`): HTTP basic auth (account
//! e-mail and API key); every resource is `POST /api.php` below
//! `https://my.fastbill.com/api/1.0`, naming its service in the JSON body
//! (`{"SERVICE": "invoice.get", "OFFSET": 0, "LIMIT": 100}`: the offset
//! paginator writes `OFFSET`/`LIMIT` into the body of a POST), records at
//! `RESPONSE.<LIST>`, primary keys `INVOICE_ID` (invoices, recurring
//! invoices, revenues), `ARTICLE_ID` (products) and `CUSTOMER_ID`.
//!
//! Custom logic: FastBill reports a failed call as HTTP 200 with
//! `{"RESPONSE": {"ERRORS": ["..."]}}`. [`FastBillExtraction`] turns that
//! into an error quoting FastBill's messages, instead of the generic "the
//! data selector matched nothing".

use extract_sdk::{
    Connector, ConnectorError, Extraction, ExtractionContext, Page, Request, Response, SourceInfo,
};
use rest_api_core::RestExtraction;
use serde_json::Value;

/// The built-in configuration.
pub const CONFIG: &str = include_str!("../config.json");

/// The FastBill connector.
pub struct FastBill;

impl Connector for FastBill {
    type Extraction = FastBillExtraction;

    /// The built-in configuration with the operator's overrides (merged
    /// key by key, resources by name).
    fn describe(overrides: &str) -> Result<SourceInfo, ConnectorError> {
        rest_api_core::describe_with_builtin(CONFIG, overrides)
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> FastBillExtraction {
        FastBillExtraction {
            resource: resource.to_owned(),
            inner: RestExtraction::new(config, resource, &ctx),
        }
    }
}

/// The generic extraction, with FastBill's in-band errors checked first.
pub struct FastBillExtraction {
    resource: String,
    inner: RestExtraction,
}

impl Extraction for FastBillExtraction {
    fn start(&mut self) -> Result<Request, ConnectorError> {
        self.inner.start()
    }

    fn next(&mut self, response: Response) -> Result<Page, ConnectorError> {
        if let Some(errors) = in_band_errors(&response) {
            return Err(ConnectorError::bad_response(format!(
                "FastBill answered {} to `{}` with errors: {errors}{}",
                response.status,
                self.resource,
                if errors.to_ascii_lowercase().contains("auth") {
                    " (check the username and api_key secrets)"
                } else {
                    ""
                }
            )));
        }
        self.inner.next(response)
    }
}

/// FastBill's `RESPONSE.ERRORS` messages, joined, if the body has any.
/// Only bodies mentioning `"ERRORS"` are parsed.
fn in_band_errors(response: &Response) -> Option<String> {
    const KEY: &[u8] = b"\"ERRORS\"";
    if !response.body.windows(KEY.len()).any(|w| w == KEY) {
        return None;
    }
    let v: Value = serde_json::from_slice(&response.body).ok()?;
    let errors = v.pointer("/RESPONSE/ERRORS")?;
    let list: Vec<String> = match errors {
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
            .collect(),
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Object(m) if !m.is_empty() => vec![errors.to_string()],
        _ => return None,
    };
    Some(list.join("; "))
}

extract_sdk::export_connector!(FastBill);

#[cfg(test)]
mod tests;
