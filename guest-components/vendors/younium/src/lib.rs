//! The Younium connector component (`younium.wasm`).
//!
//! Built-in configuration (`config.json`): OAuth2 password grant against
//! Younium's identity server
//! (`https://younium-identity-server.azurewebsites.net/connect/token`,
//! `client_id=apiclient`, the user's `username`/`password`, and
//! `legal_entity`, which the host sends to the token endpoint only); data
//! from `https://api.younium.com` (`/Accounts`, `/Bookings`, `/Invoices`,
//! `/Products`, `/Subscriptions`) with `PageSize=100`. A body is
//! `{"data": [...], "nextPage": "<absolute URL>" | null}`: the next request
//! is the `nextPage` URL itself (a `json_link` paginator), until it is null.
//!
//! The token endpoint is on another host than the API, so it is an
//! absolute URL; override `client.auth.token_url` to point elsewhere (a
//! mock), or set `{"sandbox": true}` for Younium's sandbox (API and
//! identity server).

use extract_sdk::{Connector, ConnectorError, ExtractionContext, SourceInfo};
use rest_api_core::{RestExtraction, builtin_config, merge_config, overrides_object};
use serde_json::{Value, json};

/// The built-in configuration.
pub const CONFIG: &str = include_str!("../config.json");

/// Younium's sandbox API.
pub const SANDBOX_BASE_URL: &str = "https://apisandbox.younium.com";
/// Younium's sandbox identity server's token endpoint.
pub const SANDBOX_TOKEN_URL: &str =
    "https://younium-identity-server-sandbox.azurewebsites.net/connect/token";

/// The Younium connector.
pub struct Younium;

impl Connector for Younium {
    type Extraction = RestExtraction;

    /// The built-in configuration with the operator's overrides (merged
    /// key by key, resources by name), plus `sandbox` (`true`: Younium's
    /// sandbox API and identity server).
    fn describe(overrides: &str) -> Result<SourceInfo, ConnectorError> {
        let mut overrides = overrides_object(overrides)?;
        let mut config = builtin_config(CONFIG)?;
        match overrides.remove("sandbox") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => merge_config(
                &mut config,
                json!({"client": {"base_url": SANDBOX_BASE_URL, "auth": {"token_url": SANDBOX_TOKEN_URL}}}),
            ),
            Some(other) => {
                return Err(ConnectorError::invalid_config(format!(
                    "sandbox: expected true or false, found {other}"
                )));
            }
        }
        merge_config(&mut config, Value::Object(overrides));
        rest_api_core::RestApi::describe(&config.to_string())
    }

    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> RestExtraction {
        RestExtraction::new(config, resource, &ctx)
    }
}

extract_sdk::export_connector!(Younium);

#[cfg(test)]
mod tests;
