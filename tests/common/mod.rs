//! Helpers shared by the end-to-end test files: running the real `extract`
//! binary off the async runtime (so in-process mock servers keep serving).

use std::path::Path;
use std::process::Output;

/// The `extract` binary cargo built for these tests.
pub const EXTRACT: &str = env!("CARGO_BIN_EXE_extract");

/// Run `extract ARGS` with a shared compiled-component cache.
pub async fn extract(args: Vec<String>) -> Output {
    extract_with_env(args, Vec::new()).await
}

/// Run `extract ARGS` with extra environment variables.
pub async fn extract_with_env(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(EXTRACT)
            .args(&args)
            .env(
                "EXTRACT_CACHE_DIR",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache"),
            )
            .env("EXTRACT_LOG", "warn")
            .envs(env)
            .output()
            .expect("run extract")
    })
    .await
    .expect("join")
}
