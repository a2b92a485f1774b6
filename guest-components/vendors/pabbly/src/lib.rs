//! The Pabbly Subscriptions Billing connector component (`pabbly.wasm`).
//!
//! All configuration, no code beyond the built-in config (`config.json`):
//! HTTP basic auth (API key and secret key), base
//! `https://payments.pabbly.com/api/v1`, `page` from 1 with `limit=100`
//! and `{"status": ..., "data": [...]}` bodies. Per-product children
//! (`addons`, `coupons`, `licenses`, `addon_list_category`, parent
//! `products`) and per-customer children (`transactions`, `refunds`,
//! `payment_methods`, parent `customers`) take the parent's `id`.
//!
//! What the seed got wrong for the real API: a child with nothing (more)
//! to list answers HTTP 400 `{"status": "error", "message": "No
//! transaction found"}`. The seed retried those three times; here
//! `response_actions` ignore a 400 carrying "No <thing>", which ends that
//! parent's partition cleanly, and no 400 is retried. Any other 400 is
//! still an error.

use extract_sdk::{Connector, ConnectorError, ExtractionContext, SourceInfo};
use rest_api_core::RestExtraction;

/// The built-in configuration.
pub const CONFIG: &str = include_str!("../config.json");

/// The Pabbly connector.
pub struct Pabbly;

impl Connector for Pabbly {
    type Extraction = RestExtraction;

    /// The built-in configuration with the operator's overrides (merged
    /// key by key, resources by name).
    fn describe(overrides: &str) -> Result<SourceInfo, ConnectorError> {
        rest_api_core::describe_with_builtin(CONFIG, overrides)
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> RestExtraction {
        RestExtraction::new(config, resource, &ctx)
    }
}

extract_sdk::export_connector!(Pabbly);

#[cfg(test)]
mod tests;
