//! `extract serve`: hosted multi-tenant sync. One process serves a JSON HTTP
//! API (axum, on the host's tokio runtime) through which tenants upload
//! connector components, store write-only secrets, define sources and run
//! syncs into their own DuckDB file; the component sandbox is the isolation
//! boundary between tenants.
//!
//! Layout: [`api`] (routes, auth, errors, the OpenAPI document), [`store`]
//! (control state in SQLite), [`crypto`] (secrets at rest, tokens),
//! [`jobs`] (queue, fairness, running syncs), [`tenant_db`] (tenants' data
//! files), [`metrics`].

pub mod api;
pub mod crypto;
pub mod jobs;
pub mod metrics;
pub mod store;
pub mod tenant_db;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;

use crate::egress::HostRule;
use crate::runtime::{ComponentCache, CpuGate, Limits, LoadedComponent, PageLimits, Runtime};
use crate::secrets::Secrets;
use crate::sync::RunOptions;
use crypto::MasterKey;
use store::Store;
use tenant_db::TenantDbs;

/// Flags of `extract serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where the control database, uploaded components and tenants' DuckDB
    /// files live (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A file holding the admin token (one line).
    #[arg(long)]
    pub admin_token_file: PathBuf,
    /// A file holding the key that encrypts secrets at rest: 32 bytes as 64
    /// hex characters (`openssl rand -hex 32`).
    #[arg(long)]
    pub secret_key_file: PathBuf,
    /// Allow requests to this host (`HOST` or `HOST:PORT`) even if it is
    /// loopback or private; repeatable. Tenants' configs get no other trust.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Syncs running at once, over all tenants.
    #[arg(long, default_value_t = 8)]
    pub max_concurrent_syncs: usize,
    /// Syncs running at once for one tenant.
    #[arg(long, default_value_t = 2)]
    pub max_syncs_per_tenant: usize,
    /// Calls into one tenant's components that run at once: a tenant whose
    /// components compute flat out (or loop until their deadline) gets
    /// this many threads' worth of CPU, and other tenants keep the rest.
    #[arg(long, default_value_t = 1)]
    pub component_threads_per_tenant: usize,
    /// Extractions in flight at once within one sync.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Commit a resource's rows, with its resume checkpoint, every N
    /// records (and at least every 5 seconds).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub commit_every: usize,
    /// Cap on an uploaded component, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_component_mib: usize,
    /// Cap on a JSON request body, in KiB.
    #[arg(long, default_value_t = 1024)]
    pub max_body_kib: usize,
    /// DuckDB's memory limit (its buffer pool), in MiB, shared by all
    /// tenants' files; loads past it spill to disk.
    #[arg(long, default_value_t = 256)]
    pub duckdb_memory_mib: u64,
    /// Cap on a component's linear memory, in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory_mib: usize,
    /// CPU time one call into a component may take, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub call_timeout_ms: u64,
    /// Cap on one response body from an API, in MiB.
    #[arg(long, default_value_t = 64)]
    pub max_body_mib: usize,
    /// Cap on the records of one page.
    #[arg(long, default_value_t = 100_000)]
    pub max_records_per_page: usize,
    /// Cap on the requests one resource may send.
    #[arg(long, default_value_t = 100_000)]
    pub max_requests: u64,
    /// Time one HTTP request to an API may take, in seconds.
    #[arg(long, default_value_t = 120)]
    pub request_timeout_secs: u64,
}

/// Settings derived from the flags.
pub struct Settings {
    /// Global cap on running syncs.
    pub max_concurrent_syncs: usize,
    /// Per-tenant cap on running syncs.
    pub max_syncs_per_tenant: usize,
    /// Commit every N records.
    pub commit_every: usize,
    /// Cap on an uploaded component, in bytes.
    pub max_component_bytes: usize,
    /// Cap on a JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Component calls of one tenant at once.
    pub component_threads_per_tenant: usize,
    run: RunOptions,
}

/// Everything the handlers and the scheduler share.
pub struct App {
    /// Control state.
    pub store: Store,
    /// The operator's key.
    pub key: MasterKey,
    admin_hash: String,
    /// Token hash -> tenant id, mirrored from the store.
    tokens: RwLock<HashMap<String, String>>,
    runtime: Runtime,
    builtin: LoadedComponent,
    components_dir: PathBuf,
    /// Tenants' data files.
    pub dbs: TenantDbs,
    /// Counters.
    pub metrics: Arc<metrics::Metrics>,
    /// Flags.
    pub settings: Settings,
    /// Jobs.
    pub scheduler: jobs::Scheduler,
    /// Each tenant's gate on component calls.
    gates: std::sync::Mutex<HashMap<String, CpuGate>>,
}

/// The name of the built-in generic connector.
pub const BUILTIN: &str = "rest_api";

impl App {
    /// The tenant a bearer token belongs to.
    pub fn tenant_of(&self, token: &str) -> Option<String> {
        self.tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&crypto::token_hash(token))
            .cloned()
    }

    /// True if and only if `token` is the admin token.
    pub fn is_admin(&self, token: &str) -> bool {
        crypto::constant_time_eq(
            crypto::token_hash(token).as_bytes(),
            self.admin_hash.as_bytes(),
        )
    }

    fn remember_token(&self, hash: String, tenant: String) {
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, tenant);
    }

    fn forget_tenant(&self, tenant: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, t| t != tenant);
        self.gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant);
    }

    /// Where an uploaded component with this digest is stored.
    fn component_path(&self, digest: &str) -> PathBuf {
        self.components_dir.join(format!("{digest}.wasm"))
    }

    /// Validate and compile `bytes` as a connector component (once per
    /// digest: the compiled code is shared by every tenant that uploads
    /// the same bytes).
    pub fn load_component(&self, name: &str, bytes: &[u8]) -> Result<LoadedComponent> {
        self.runtime.load(name, bytes)
    }

    /// The component a tenant's source names.
    pub fn component(&self, tenant: &str, name: &str) -> Result<LoadedComponent> {
        if name == BUILTIN {
            return Ok(self.builtin.clone());
        }
        let row = self
            .store
            .connector(tenant, name)?
            .ok_or_else(|| anyhow!("unknown connector `{name}`: upload it with PUT /v1/connectors/{name}, or use `{BUILTIN}`"))?;
        let path = self.component_path(&row.digest);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading the stored component `{name}`"))?;
        self.runtime.load(name, &bytes)
    }

    /// The gate all of `tenant`'s component calls pass.
    pub fn gate(&self, tenant: &str) -> CpuGate {
        self.gates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_string())
            .or_insert_with(|| CpuGate::new(self.settings.component_threads_per_tenant))
            .clone()
    }

    /// A tenant's secrets, decrypted, for one job.
    pub fn secrets(&self, tenant: &str) -> Result<Secrets> {
        let mut secrets = Secrets::default();
        for (name, sealed) in self.store.sealed_secrets(tenant)? {
            let value = self
                .key
                .open(&secret_context(tenant, &name), &sealed)
                .with_context(|| format!("secret `{name}`"))?;
            let value =
                String::from_utf8(value).map_err(|_| anyhow!("secret `{name}` is not UTF-8"))?;
            secrets.insert(&name, value);
        }
        Ok(secrets)
    }

    /// Run options of one job.
    pub fn run_options(&self, resources: Option<Vec<String>>) -> RunOptions {
        RunOptions {
            resources,
            ..self.settings.run.clone()
        }
    }
}

/// What a sealed secret is bound to: its tenant and name, so a value
/// copied to another row does not decrypt.
pub fn secret_context(tenant: &str, name: &str) -> String {
    format!("extract-secret/{tenant}/{name}")
}

fn read_admin_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the admin token file {}", path.display()))?;
    let token = text.trim();
    if token.len() < 16 {
        bail!(
            "the admin token in {} is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)",
            path.display()
        );
    }
    Ok(token.to_string())
}

fn settings(args: &ServeArgs) -> Result<Settings> {
    let mut allow = Vec::new();
    for h in &args.allow_hosts {
        allow.push(HostRule::parse(h).map_err(|e| anyhow!("--allow-host: {e}"))?);
    }
    Ok(Settings {
        max_concurrent_syncs: args.max_concurrent_syncs.max(1),
        max_syncs_per_tenant: args.max_syncs_per_tenant.max(1),
        commit_every: args.commit_every.max(1),
        max_component_bytes: args.max_component_mib.saturating_mul(1024 * 1024),
        max_body_bytes: args.max_body_kib.saturating_mul(1024),
        component_threads_per_tenant: args.component_threads_per_tenant.max(1),
        run: RunOptions {
            resources: None,
            concurrency: args.concurrency.max(1),
            allow_hosts: allow,
            http: crate::http::HttpSettings {
                max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
                request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
                ..Default::default()
            },
            page_limits: PageLimits {
                max_records: args.max_records_per_page,
                max_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
                max_requests: args.max_requests,
            },
            ..Default::default()
        },
    })
}

/// Build the shared state: open the control database, load the tokens,
/// compile the built-in connector, queue again the jobs a killed process
/// left running.
pub fn open(args: &ServeArgs) -> Result<Arc<App>> {
    crate::http::warm_up();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    let admin = read_admin_token(&args.admin_token_file)?;
    let key = MasterKey::from_file(&args.secret_key_file)?;
    let control = args.data_dir.join("control.sqlite");
    let old_control = args.data_dir.join("control.duckdb");
    if old_control.exists() && !control.exists() {
        // Builds before 2026-12-06 kept the control state in DuckDB.
        bail!(
            "{} holds control state in the format of an earlier build (control.duckdb); this build keeps it in control.sqlite and has no migration: start with a new --data-dir, or run the earlier build",
            args.data_dir.display()
        );
    }
    let store = Store::open(&control)?;
    let components_dir = args.data_dir.join("components");
    std::fs::create_dir_all(&components_dir)
        .with_context(|| format!("creating {}", components_dir.display()))?;
    // Compiled artifacts: `$EXTRACT_CACHE_DIR` when set, else in the data dir.
    let cache_dir = std::env::var_os("EXTRACT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.data_dir.join("compiled"));
    let runtime = Runtime::new(
        ComponentCache::new(Some(cache_dir)),
        Limits {
            memory_bytes: args.memory_mib.saturating_mul(1024 * 1024),
            call_timeout: Duration::from_millis(args.call_timeout_ms),
        },
    )?;
    let builtin = runtime.load(BUILTIN, crate::builtin::REST_API_WASM)?;
    let requeued = store.requeue_running()?;
    if requeued > 0 {
        tracing::info!(
            "{requeued} jobs were running when the server stopped; they resume from their checkpoints"
        );
    }
    let tokens = store
        .tenants()?
        .into_iter()
        .map(|(id, _, hash)| (hash, id))
        .collect();
    Ok(Arc::new(App {
        store,
        key,
        admin_hash: crypto::token_hash(&admin),
        tokens: RwLock::new(tokens),
        runtime,
        builtin,
        components_dir,
        dbs: TenantDbs::new(args.data_dir.join("tenants"), args.duckdb_memory_mib)?,
        metrics: Arc::default(),
        settings: settings(args)?,
        scheduler: jobs::Scheduler::default(),
        gates: std::sync::Mutex::default(),
    }))
}

/// `extract serve`: serve until SIGTERM or Ctrl-C, then stop taking jobs,
/// let running ones reach a checkpoint, and exit.
pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let app = open(&args)?;
    let router = api::router(app.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Not `println!`: a server whose stdout was closed must not panic.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
    let scheduler = tokio::spawn(jobs::run(app.clone()));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopping: running jobs stop at their next checkpoint");
    app.scheduler.shut_down().await;
    let _ = scheduler.await;
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
