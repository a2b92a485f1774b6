//! The generic `rest_api` connector component (`rest_api.wasm`): the
//! [`rest_api_core`] interpreter exported as-is. The configuration the
//! operator passes is the whole dlt `rest_api_source` configuration.

pub use rest_api_core::{RestApi, RestExtraction};

extract_sdk::export_connector!(RestApi);
