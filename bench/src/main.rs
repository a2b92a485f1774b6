//! `extract-bench`: runs the benchmark (`just bench`) or just its mock API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use extract_bench::mock::MockSpec;
use extract_bench::{Options, report};

// The same allocator as the `extract` binary, for the in-process stages.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmark extract against dlt and the machine's limits.
#[derive(Parser, Debug)]
#[command(name = "extract-bench")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Records of the throughput dataset.
    #[arg(long, env = "BENCH_RECORDS", default_value_t = 1_000_000)]
    records: u64,
    /// Records per page.
    #[arg(long, default_value_t = 1000)]
    per_page: u64,
    /// The `extract` binary (default: next to this one).
    #[arg(long)]
    extract: Option<PathBuf>,
    /// Scratch directory (default: `$CARGO_TARGET_DIR/bench`).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Where to write the report (none: stdout only).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip dlt.
    #[arg(long, env = "BENCH_SKIP_DLT", value_parser = clap::builder::BoolishValueParser::new())]
    skip_dlt: bool,
    /// Records dlt extracts with parquet loader files (its rate does not
    /// depend on the dataset size; a million records take it many minutes).
    #[arg(long, env = "BENCH_DLT_RECORDS", default_value_t = 100_000)]
    dlt_records: u64,
    /// Records for dlt with its default loader files (0: skip that run).
    #[arg(long, env = "BENCH_DLT_DEFAULT_RECORDS", default_value_t = 20_000)]
    dlt_default_records: u64,
    /// Per-request delay of the latency-bound sync, in milliseconds.
    #[arg(long, default_value_t = 20)]
    delay_ms: u64,
    /// `--per-host-concurrency` given to extract.
    #[arg(long, default_value_t = 8)]
    per_host_concurrency: usize,
    /// Tenants of the `extract serve` section (0: skip it).
    #[arg(long, env = "BENCH_SERVE_TENANTS", default_value_t = 100)]
    serve_tenants: usize,
    /// Extra arguments for `extract run` (e.g. `--prefetch-pages=0`).
    #[arg(long = "extract-arg", allow_hyphen_values = true)]
    extract_args: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve the mock API until interrupted.
    Mock {
        /// Port on 127.0.0.1 (0: any).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Delay per response, in milliseconds.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
    },
    /// Run only the `extract serve` section and print its report.
    Serve,
    /// Run only the in-process stage profile and print it (µs per page).
    Stages,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    if let Some(Cmd::Mock { port, delay_ms }) = cli.command {
        let mock = extract_bench::serve_mock(
            MockSpec {
                records: cli.records,
                per_page: cli.per_page,
                delay: Duration::from_millis(delay_ms),
            },
            port,
        )
        .await?;
        println!("listening on {}", mock.base_url());
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    if matches!(cli.command, Some(Cmd::Stages)) {
        let work = std::env::temp_dir().join("extract-bench-stages");
        std::fs::create_dir_all(&work)?;
        let s = extract_bench::stages_only(cli.records, cli.per_page, &work).await?;
        print!("{}", report::stages_text(&s));
        return Ok(());
    }
    let serve_only = matches!(cli.command, Some(Cmd::Serve));
    let exe = std::env::current_exe().context("locating this binary")?;
    let extract = cli.extract.unwrap_or_else(|| exe.with_file_name("extract"));
    let work = match cli.work {
        Some(w) => w,
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                exe.parent()
                    .and_then(|p| p.parent())
                    .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            })
            .join("bench"),
    };
    let opts = Options {
        records: cli.records,
        per_page: cli.per_page,
        extract,
        work,
        skip_dlt: cli.skip_dlt,
        dlt_records: cli.dlt_records,
        dlt_default_records: cli.dlt_default_records,
        delay: Duration::from_millis(cli.delay_ms),
        per_host_concurrency: cli.per_host_concurrency,
        extract_args: cli.extract_args,
        serve: (cli.serve_tenants > 0).then(|| extract_bench::serve::ServeOptions {
            tenants: cli.serve_tenants,
            ..Default::default()
        }),
    };
    if serve_only {
        let so = opts.serve.clone().unwrap_or_default();
        std::fs::create_dir_all(&opts.work)?;
        let components = std::path::Path::new(extract::builtin::COMPONENTS_DIR);
        let run = extract_bench::serve::run(&opts.extract, &opts.work, components, &so).await?;
        let mut md = String::new();
        report::serve_markdown(&mut md, &run);
        println!("{md}\n{}", run.command);
        return Ok(());
    }
    let load_before = report::loadavg();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let results = extract_bench::run(opts).await?;
    let load_after = report::loadavg();
    println!("{}", report::table(&results));
    for n in &results.notes {
        println!("note: {n}");
    }
    if let Some(out) = cli.out {
        std::fs::write(
            &out,
            report::markdown(&results, &date, &load_before, &load_after),
        )
        .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
