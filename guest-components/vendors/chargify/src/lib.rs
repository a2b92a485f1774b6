//! The Chargify / Maxio Advanced Billing connector component
//! (`chargify.wasm`).
//!
//! Configuration (`config.json`, built in): HTTP basic auth with the API
//! key as user and `x` as password; the five list endpoints on their
//! `.json` paths, `page` from 1 and `per_page=200`. Lists are arrays of
//! wrapper objects (`[{"customer": {...}}]`), so the selectors name the
//! wrapper key; invoices are `{"invoices": [...]}` keyed by `uid`.
//!
//! Every Chargify site has its own host, `https://<subdomain>.chargify.com`,
//! so the operator must say which: the override `{"subdomain": "acme"}`,
//! or a whole `client.base_url` (EU sites, tests). Until one is given the
//! component describes itself, but every extraction fails with a message
//! saying so instead of sending the API key to a placeholder host.

use extract_sdk::{Connector, ConnectorError, ExtractionContext, SourceInfo};
use rest_api_core::{RestExtraction, builtin_config, merge_config, overrides_object};
use serde_json::{Value, json};

/// The built-in configuration.
pub const CONFIG: &str = include_str!("../config.json");

/// The built-in `client.base_url`, a placeholder for the site's own host.
const PLACEHOLDER: &str = "https://your-subdomain.chargify.com";

/// The Chargify connector.
pub struct Chargify;

impl Connector for Chargify {
    type Extraction = RestExtraction;

    /// The built-in configuration with the operator's overrides: anything
    /// of the configuration (merged key by key, resources by name), plus
    /// `subdomain`, short for `client.base_url =
    /// https://<subdomain>.chargify.com`.
    fn describe(overrides: &str) -> Result<SourceInfo, ConnectorError> {
        let mut overrides = overrides_object(overrides)?;
        let mut config = builtin_config(CONFIG)?;
        if let Some(sub) = overrides.remove("subdomain") {
            let sub = sub.as_str().filter(|s| is_subdomain(s)).ok_or_else(|| {
                ConnectorError::invalid_config(format!(
                    "subdomain: {sub} is not a Chargify subdomain; give the first label of your site's host, e.g. \"acme\" for https://acme.chargify.com"
                ))
            })?;
            merge_config(
                &mut config,
                json!({"client": {"base_url": format!("https://{sub}.chargify.com")}}),
            );
        }
        merge_config(&mut config, Value::Object(overrides));
        let info = rest_api_core::RestApi::describe(&config.to_string())?;
        if base_url(&info.config).as_deref() == Some(PLACEHOLDER) {
            extract_sdk::warn!(
                "no Chargify site given: set the override {{\"subdomain\": \"<your site>\"}} (or client.base_url) before extracting"
            );
        }
        Ok(info)
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> RestExtraction {
        if base_url(config).as_deref() == Some(PLACEHOLDER) {
            return RestExtraction::failed(ConnectorError::invalid_config(
                "no Chargify site given: every site has its own host, so set the override {\"subdomain\": \"acme\"} for https://acme.chargify.com (or a whole client.base_url)",
            ));
        }
        RestExtraction::new(config, resource, &ctx)
    }
}

/// `client.base_url` of an effective configuration, without a trailing `/`.
fn base_url(config: &str) -> Option<String> {
    let v: Value = serde_json::from_str(config).ok()?;
    Some(
        v.pointer("/client/base_url")?
            .as_str()?
            .trim_end_matches('/')
            .to_ascii_lowercase(),
    )
}

fn is_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

extract_sdk::export_connector!(Chargify);

#[cfg(test)]
mod tests;
