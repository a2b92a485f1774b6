//! Components built into the binary: the generic `rest_api` connector,
//! compiled from `guest-components/rest-api` by the build script.

/// The generic connector that interprets any dlt-style REST API config.
pub const REST_API_WASM: &[u8] =
    include_bytes!(concat!(env!("EXTRACT_COMPONENTS_DIR"), "/rest_api.wasm"));

/// The directory holding every component the build produced (the generic
/// one and the vendor components), for tests and tooling.
pub const COMPONENTS_DIR: &str = env!("EXTRACT_COMPONENTS_DIR");
