//! The command line: `extract run`, `extract check`, `extract inspect`.
//! Only this module turns errors into exit codes, printing the whole chain.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::egress::HostRule;
use crate::progress::{Progress, summary};
use crate::runtime::{ComponentCache, Limits, LoadedComponent, Runtime};
use crate::secrets::Secrets;
use crate::storage::{Loader, LoaderOptions};
use crate::sync::{self, RunOptions, SourceInput};

/// Run REST-API connectors as sandboxed WebAssembly components and load
/// their records into DuckDB.
#[derive(Parser, Debug)]
#[command(name = "extract", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Extract every selected resource into a DuckDB file.
    Run {
        #[command(flatten)]
        source: SourceArgs,
        /// The DuckDB file to load into (default: `<source name>.duckdb`).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Extractions in flight at once (resources and child partitions).
        #[arg(long, default_value_t = sync::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// Commit a resource's rows, with its resume checkpoint, every N
        /// records (and at least every 5 seconds): what a crash can lose.
        #[arg(long, value_name = "N", default_value_t = 20_000)]
        commit_every: usize,
        /// DuckDB's memory limit (its buffer pool), in MiB.
        #[arg(long, value_name = "MIB", default_value_t = crate::storage::DEFAULT_MEMORY_LIMIT_MIB)]
        duckdb_memory_mib: u64,
        /// DuckDB's worker threads; 0: one per core. The loader appends on
        /// its own thread; more workers speed up merges into big tables
        /// and compression at checkpoints, but take cores from the
        /// extraction running alongside.
        #[arg(long, value_name = "N", default_value_t = 1)]
        duckdb_threads: u64,
        /// Requests in flight at once to one host, across all extractions.
        #[arg(long, default_value_t = sync::DEFAULT_PER_HOST_CONCURRENCY)]
        per_host_concurrency: usize,
        /// Pages one extraction fetches ahead when its paginator knows
        /// them (page numbers or offsets with a known total); 0: none.
        #[arg(long, default_value_t = sync::DEFAULT_PREFETCH_PAGES)]
        prefetch_pages: usize,
    },
    /// Validate the config and dry-run one page per resource.
    Check {
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Serve the hosted multi-tenant sync API (see README, "Hosted sync").
    Serve(crate::serve::ServeArgs),
    /// Print what a component declares: resources, keys, auth, hosts.
    Inspect {
        /// A connector component (`.wasm`).
        wasm: PathBuf,
        /// Overrides for the component's built-in config.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct SourceArgs {
    /// A config file (JSON, YAML or TOML) for the generic connector, or a
    /// vendor component (`.wasm`).
    config_or_wasm: PathBuf,
    /// With a `.wasm`: a config file whose keys override its built-in config.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A TOML file of secrets (`name = "value"`); `EXTRACT_SECRET_<NAME>`
    /// environment variables override it.
    #[arg(long)]
    secrets: Option<PathBuf>,
    /// Only these resources (comma-separated); parents they need run too.
    #[arg(long, value_delimiter = ',')]
    resources: Option<Vec<String>>,
    /// Also allow requests to this host (`HOST` or `HOST:PORT`); repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Cap on a component's linear memory, in MiB.
    #[arg(long, default_value_t = 256)]
    memory_mib: usize,
    /// CPU time one call into a component may take, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    call_timeout_ms: u64,
    /// Cap on one response body, in MiB; also on the records a component
    /// serializes itself in one page.
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
    /// Cap on the records of one page.
    #[arg(long, default_value_t = 100_000)]
    max_records_per_page: usize,
    /// Cap on the requests one resource may send (all its partitions
    /// together; the host's retries do not count).
    #[arg(long, default_value_t = 100_000)]
    max_requests: u64,
    /// Time one HTTP request may take, body included, in seconds.
    #[arg(long, default_value_t = 120)]
    request_timeout_secs: u64,
}

/// Entry point: parse arguments, run, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // reqwest is built without a default TLS provider; choose ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXTRACT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,component=info,extract=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            source,
            db,
            concurrency,
            commit_every,
            duckdb_memory_mib,
            duckdb_threads,
            per_host_concurrency,
            prefetch_pages,
        } => {
            let mut opts = options(&source, concurrency)?;
            opts.per_host_concurrency = per_host_concurrency;
            opts.prefetch_pages = prefetch_pages;
            let loader = LoaderOptions {
                commit_records: commit_every.max(1),
                memory_limit_mib: Some(duckdb_memory_mib),
                threads: (duckdb_threads > 0).then_some(duckdb_threads),
                ..LoaderOptions::default()
            };
            run(source, db, opts, loader).await
        }
        Command::Check { source } => check(source).await,
        Command::Inspect { wasm, config } => inspect(&wasm, config.as_deref()).await,
        Command::Serve(args) => crate::serve::run(args).await,
    }
}

fn runtime(args: &SourceArgs) -> Result<Runtime> {
    Runtime::new(
        ComponentCache::new(ComponentCache::default_dir()),
        Limits {
            memory_bytes: args.memory_mib.saturating_mul(1024 * 1024),
            call_timeout: std::time::Duration::from_millis(args.call_timeout_ms),
        },
    )
}

/// Resolve the positional argument into a component, its config, and the
/// source's default name.
fn source_input(rt: &Runtime, args: &SourceArgs) -> Result<(SourceInput, String)> {
    let path = &args.config_or_wasm;
    let is_wasm = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wasm"));
    if is_wasm {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading component {}", path.display()))?;
        let name = file_stem(path);
        let component = rt.load(&name, &bytes)?;
        let overrides = match &args.config {
            Some(p) => crate::config::load_file(p)?,
            None => Value::Object(Default::default()),
        };
        Ok((
            SourceInput {
                component,
                operator_written: args.config.as_ref().map(|_| overrides.clone()),
                config: overrides,
            },
            name,
        ))
    } else {
        if args.config.is_some() {
            bail!(
                "--config is for overriding a .wasm component's built-in config; pass the config file itself instead"
            );
        }
        let config = crate::config::load_file(path)?;
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| file_stem(path));
        let component = rt.load("rest_api", crate::builtin::REST_API_WASM)?;
        Ok((
            SourceInput {
                component,
                operator_written: Some(config.clone()),
                config,
            },
            name,
        ))
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "source".into())
}

fn options(args: &SourceArgs, concurrency: usize) -> Result<RunOptions> {
    let mut allow = Vec::new();
    for h in &args.allow_hosts {
        allow.push(HostRule::parse(h).map_err(|e| anyhow::anyhow!("--allow-host: {e}"))?);
    }
    Ok(RunOptions {
        resources: args.resources.clone(),
        concurrency,
        allow_hosts: allow,
        http: crate::http::HttpSettings {
            max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
            request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
            ..Default::default()
        },
        page_limits: crate::runtime::PageLimits {
            max_records: args.max_records_per_page,
            max_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
            max_requests: args.max_requests,
        },
        ..Default::default()
    })
}

async fn run(
    args: SourceArgs,
    db: Option<PathBuf>,
    opts: RunOptions,
    loader_opts: LoaderOptions,
) -> Result<ExitCode> {
    crate::http::warm_up();
    let rt = runtime(&args)?;
    let (input, name) = source_input(&rt, &args)?;
    let secrets = Secrets::load(args.secrets.as_deref())?;
    let described = sync::describe(input).await?;
    let schema = if described.info.name.is_empty() || described.info.name == "rest_api" {
        name
    } else {
        described.info.name.clone()
    };
    let db = db.unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.duckdb",
            crate::storage::naming::snake_case(&schema)
        ))
    });
    // Config and secret errors come before the DuckDB file is touched;
    // then opening it and building the HTTP client (whose first client
    // waits for the root certificates) run side by side.
    let authorized = described.authorize(&secrets, &opts)?;
    let opening = {
        let (db, schema) = (db.clone(), schema.clone());
        tokio::task::spawn_blocking(move || Loader::open_with(&db, &schema, loader_opts))
    };
    let source = authorized.connect();
    let loader = opening
        .await
        .map_err(|e| anyhow::anyhow!("opening the DuckDB file: {e}"))??;
    let source = source?;
    let started = std::time::Instant::now();
    let report = sync::run(source, loader, &opts, Progress::stderr()).await?;
    print!("{}", summary(&report));
    println!(
        "\nloaded into {} (schema `{}`, load id {}) in {:.2}s",
        db.display(),
        crate::storage::naming::snake_case(&schema),
        report.load_id,
        started.elapsed().as_secs_f64()
    );
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn check(args: SourceArgs) -> Result<ExitCode> {
    crate::http::warm_up();
    let rt = runtime(&args)?;
    let (input, _) = source_input(&rt, &args)?;
    let secrets = Secrets::load(args.secrets.as_deref())?;
    let opts = options(&args, 1)?;
    let source = sync::prepare(input, &secrets, &opts).await?;
    println!("config ok: {} resources", source.info.resources.len());
    let reports = sync::check(source, &opts).await?;
    let mut ok = true;
    for r in &reports {
        println!("\n{}", r.resource);
        if !r.request.is_empty() {
            println!("  request:  {}", r.request);
        }
        if let Some(s) = r.status {
            println!("  status:   HTTP {s}");
        }
        match &r.error {
            Some(e) => {
                ok = false;
                println!("  error:    {e}");
                if !r.body_keys.is_empty() {
                    println!("  the body has keys: {}", r.body_keys.join(", "));
                }
            }
            None if r.records.is_empty() => {
                println!("  selected: 0 records");
                if !r.body_keys.is_empty() {
                    println!(
                        "  the data selector matched nothing; the body has keys: {}",
                        r.body_keys.join(", ")
                    );
                }
            }
            None => {
                let fields: Vec<String> = match &r.records[0] {
                    Value::Object(m) => m.keys().cloned().collect(),
                    other => vec![format!("(a {} value)", json_kind(other))],
                };
                println!(
                    "  selected: {} records{}",
                    r.records.len(),
                    if r.has_next {
                        ", more pages follow"
                    } else {
                        ", last page"
                    }
                );
                println!("  fields:   {}", fields.join(", "));
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

async fn inspect(wasm: &Path, config: Option<&Path>) -> Result<ExitCode> {
    let rt = Runtime::new(
        ComponentCache::new(ComponentCache::default_dir()),
        Limits::default(),
    )?;
    let bytes =
        std::fs::read(wasm).with_context(|| format!("reading component {}", wasm.display()))?;
    let component: LoadedComponent = rt.load(&file_stem(wasm), &bytes)?;
    let overrides = match config {
        Some(p) => crate::config::load_file(p)?,
        None => Value::Object(Default::default()),
    };
    let mut inst = component.instantiate("inspect").await?;
    let info = inst
        .describe(&serde_json::to_string(&overrides)?)
        .await?
        .map_err(|e| anyhow::anyhow!("invalid config: {}", e.message))?;
    let effective: Value = serde_json::from_str(&info.config)
        .context("the component's effective config is not JSON")?;
    println!("component: {} ({} bytes)", wasm.display(), bytes.len());
    println!("contract:  {}", component.world());
    println!("source:    {}", info.name);
    let client = crate::config::ClientSpec::from_config(&effective)?;
    println!("base url:  {}", client.base_url);
    let mut hosts = vec![client.base_url.host_str().unwrap_or("?").to_string()];
    match &client.auth {
        None => println!("auth:      none"),
        Some(a) => {
            let (kind, token_url) = match a {
                crate::config::AuthSpec::Basic { .. } => ("http basic", None),
                crate::config::AuthSpec::Bearer { .. } => ("bearer token", None),
                crate::config::AuthSpec::ApiKey { .. } => ("api key", None),
                crate::config::AuthSpec::OAuth2(o) => ("oauth2", Some(o.token_url.clone())),
            };
            println!("auth:      {kind}");
            if let Some(t) = token_url
                && let Ok(u) = client.base_url.join(&t)
            {
                hosts.push(u.host_str().unwrap_or("?").to_string());
            }
        }
    }
    let auth_json = effective
        .pointer("/client/auth")
        .map(|a| a.to_string())
        .unwrap_or_default();
    let headers_json = effective
        .pointer("/client/headers")
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut names = crate::secrets::referenced_names(&auth_json);
    names.extend(crate::secrets::referenced_names(&headers_json));
    names.sort();
    names.dedup();
    println!(
        "secrets:   {}",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    hosts.dedup();
    println!("hosts:     {}", hosts.join(", "));
    println!("resources:");
    for r in &info.resources {
        println!(
            "  {:<28} key: {:<20} {:<8} {}",
            r.name,
            if r.primary_key.is_empty() {
                "-".into()
            } else {
                r.primary_key.join(",")
            },
            match r.write_disposition {
                crate::runtime::wit::WriteDisposition::Append => "append",
                crate::runtime::wit::WriteDisposition::Replace => "replace",
                crate::runtime::wit::WriteDisposition::Merge => "merge",
            },
            r.parent
                .as_ref()
                .map(|p| format!("parent: {p}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
