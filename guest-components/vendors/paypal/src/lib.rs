//! The PayPal connector component (`paypal.wasm`).
//!
//! Built-in configuration (`config.json`): OAuth2 client credentials at
//! `/v1/oauth2/token` on the API host (`https://api-m.paypal.com`; the
//! host resolves the relative token URL against `client.base_url`, so
//! overriding the base URL moves both). Resources:
//! - `transactions`: `GET /v1/reporting/transactions?fields=all`, walked
//!   in `date_window`s of at most 31 days (PayPal's limit; `end_date` is
//!   inclusive, so each window ends a second before the next begins) from
//!   `start` to now, each paged by `page`/`page_size=500` up to
//!   `total_pages`. `start` defaults to `now-1095d`, the three years of
//!   history PayPal serves; the incremental cursor
//!   `transaction_info.transaction_updated_date` moves later runs' start
//!   to the newest transaction seen. Key `transaction_info.transaction_id`.
//! - `balances`: the whole body is one record, keyed by `as_of_time`.
//! - `list_products` (`page`/`page_size=20`, `total_required=true`, up to
//!   `total_pages`) and `show_product_details`, once per product `id`.
//! - `list_disputes`: `page_size=50`, then the `links` entry with
//!   `rel == "next"` (its `href` carries PayPal's `next_page_token`). Key
//!   `dispute_id`.
//! - `search_invoices`: `POST` with a JSON body, `page`/`page_size=100`,
//!   `total_required=true`, up to `total_pages`.
//! - `list_payments`: `count=20`, then `start_id=<next_id>` until PayPal
//!   sends no `next_id`.
//!
//! Overrides, besides anything of the configuration: `start_date` (the
//! transactions' first window start: an ISO date or timestamp, or
//! `now-<N>d`) and `sandbox` (`true`: `https://api-m.sandbox.paypal.com`).

use extract_sdk::{Connector, ConnectorError, ExtractionContext, SourceInfo};
use rest_api_core::{RestExtraction, builtin_config, merge_config, overrides_object};
use serde_json::{Value, json};

/// The built-in configuration.
pub const CONFIG: &str = include_str!("../config.json");

/// PayPal's sandbox API.
pub const SANDBOX_BASE_URL: &str = "https://api-m.sandbox.paypal.com";

/// The PayPal connector.
pub struct PayPal;

impl Connector for PayPal {
    type Extraction = RestExtraction;

    /// The built-in configuration with `sandbox` and `start_date` applied,
    /// then the operator's other overrides (merged key by key, resources
    /// by name, so they win over both).
    fn describe(overrides: &str) -> Result<SourceInfo, ConnectorError> {
        let mut overrides = overrides_object(overrides)?;
        let mut config = builtin_config(CONFIG)?;
        match overrides.remove("sandbox") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => {
                merge_config(
                    &mut config,
                    json!({"client": {"base_url": SANDBOX_BASE_URL}}),
                );
            }
            Some(other) => {
                return Err(ConnectorError::invalid_config(format!(
                    "sandbox: expected true or false, found {other}"
                )));
            }
        }
        if let Some(start) = overrides.remove("start_date") {
            if !(start.is_string() || start.is_number()) {
                return Err(ConnectorError::invalid_config(format!(
                    "start_date: expected a date such as \"2024-01-01T00:00:00Z\" or \"now-90d\", found {start}"
                )));
            }
            merge_config(
                &mut config,
                json!({"resources": [{"name": "transactions", "endpoint": {"date_window": {"start": start}}}]}),
            );
        }
        merge_config(&mut config, Value::Object(overrides));
        rest_api_core::RestApi::describe(&config.to_string()).map_err(|e| {
            ConnectorError::new(
                e.kind,
                e.message.replace(
                    "resources[0].endpoint.date_window.start",
                    "start_date (resources[0].endpoint.date_window.start)",
                ),
            )
        })
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> RestExtraction {
        RestExtraction::new(config, resource, &ctx)
    }
}

extract_sdk::export_connector!(PayPal);

#[cfg(test)]
mod tests;
