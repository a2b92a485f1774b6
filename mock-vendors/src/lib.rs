//! Loopback-only mock servers of the five seed vendors' real REST APIs
//! (Chargify, Pabbly, Younium, FastBill, PayPal), for demos, tests and benchmarks.
//!
//! Each server generates deterministic, seeded data on demand, enforces the
//! vendor's auth, paginates and stops the way the real API does, and can inject
//! deterministic faults (429 with `Retry-After`, 5xx, cut-off or HTML bodies,
//! connection resets). [`MockServer::expected`] tells a test exactly which
//! records a complete sync must load; [`MockServer::stats`] what was served.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use mock_vendors::{MockOptions, Vendor, serve};
//! let server = serve(Vendor::Chargify, MockOptions::default()).await?;
//! println!("{}", server.base_url());
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

// Large `json!` literals of realistic records need more macro depth.
#![recursion_limit = "512"]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod cache;
mod credentials;
mod datagen;
mod faults;
mod http;
mod options;
mod server;
mod stats;
#[cfg(test)]
mod testutil;
mod tokens;
mod vendors;

pub use credentials::*;
pub use faults::FaultKind;
pub use options::{DEFAULT_RECORDS, DEFAULT_SEED, Faults, MockOptions};
pub use stats::{Expected, ExpectedResource, Stats};
pub use vendors::Vendor;
pub use vendors::paypal::{PAYPAL_DATA_END, PAYPAL_DATA_START};

use server::App;

/// How long [`MockServer::shutdown`] waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running mock server. Dropping it stops the server too.
pub struct MockServer {
    /// Bound address (always loopback).
    pub addr: SocketAddr,
    /// The vendor it imitates.
    pub vendor: Vendor,
    app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Binds `opts.host:opts.port` (loopback only; port 0 picks a free one),
/// starts serving `vendor` on the current tokio runtime and returns once the
/// socket accepts connections.
pub async fn serve(vendor: Vendor, opts: MockOptions) -> anyhow::Result<MockServer> {
    if !opts.host.is_loopback() {
        bail!(
            "refusing to bind {}: mock-vendors only listens on loopback addresses \
             (use 127.0.0.1 or ::1)",
            opts.host
        );
    }
    let bind = SocketAddr::new(opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding the {vendor} mock to {bind}"))?;
    let addr = listener
        .local_addr()
        .context("reading the mock's bound address")?;
    let api: Arc<dyn vendors::Api> = Arc::from(vendors::build(vendor, &opts));
    if opts.warm_cache {
        let warming = api.clone();
        tokio::task::spawn_blocking(move || warming.warm())
            .await
            .context("generating the mock's records")?;
    }
    let app = Arc::new(App::new(api, opts, vendors::token_prefix(vendor), addr));
    let router = axum::Router::new()
        .fallback(server::entry)
        .with_state(app.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                // A dropped sender stops the server too.
                let _ = stopped.await;
            })
            .await
    });
    Ok(MockServer {
        addr,
        vendor,
        app,
        stop: Some(stop),
        task: Some(task),
    })
}

impl MockServer {
    /// `http://127.0.0.1:PORT`: the server root.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The seed config's `client.base_url` for this vendor: the root plus the
    /// vendor's API prefix (`/api/v1` for Pabbly).
    pub fn api_base_url(&self) -> String {
        format!("{}{}", self.base_url(), self.vendor.api_base_path())
    }

    /// Token endpoint URL (Younium, PayPal).
    pub fn token_url(&self) -> Option<String> {
        self.vendor
            .token_path()
            .map(|p| format!("{}{p}", self.base_url()))
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.app.stats()
    }

    /// Per resource, every primary key the mock holds.
    pub fn expected(&self) -> Expected {
        self.app.expected().clone()
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s), and
    /// returns when the server task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
