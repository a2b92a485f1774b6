//! `extract`: runs REST-API connectors as sandboxed WebAssembly components
//! and loads the records they select into DuckDB.
//!
//! The host performs every side effect (HTTP, authentication, retries,
//! egress policy, storage, checkpoints); components only plan requests and
//! select records through the `extract:connector` WIT contract.

pub mod auth;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod egress;
pub mod http;
pub mod progress;
pub mod runtime;
pub mod secrets;
pub mod serve;
pub mod storage;
pub mod sync;

/// Shared settings of the property tests ("fuzz targets") in `fuzz` modules.
#[cfg(test)]
pub(crate) mod fuzz_support {
    use proptest::prelude::ProptestConfig;

    /// 64 cases in a normal `cargo test`; `PROPTEST_CASES` (set by `just
    /// fuzz`) for more. No failure files written into the source tree.
    pub fn config() -> ProptestConfig {
        let mut c = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            c.cases = 64;
        }
        c.failure_persistence = None;
        c
    }
}
