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
pub mod storage;
pub mod sync;
