//! `mock-vendors`: serves one vendor's mock API on loopback until killed.
//!
//! Prints exactly one line to stdout once the socket accepts connections,
//! `listening on http://127.0.0.1:PORT`, and the credentials (as a secrets
//! TOML named like the seed config's secrets) to stderr. Stops on SIGTERM or
//! SIGINT.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use mock_vendors::{DEFAULT_RECORDS, DEFAULT_SEED, Faults, MockOptions, Vendor, serve};

/// Loopback-only mock servers of real vendor REST APIs.
#[derive(Debug, Parser)]
#[command(name = "mock-vendors", version)]
struct Args {
    /// Vendor to imitate: chargify, pabbly, younium, fastbill or paypal.
    #[arg(long)]
    vendor: Vendor,
    /// Loopback address to bind (127.0.0.1, ::1 or localhost); anything else
    /// is refused.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (read it from the stdout line).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Records per top-level resource.
    #[arg(long, default_value_t = DEFAULT_RECORDS)]
    records: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Delay before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Every Nth data request answers 429 with Retry-After.
    #[arg(long)]
    rate_limit_every: Option<u32>,
    /// Retry-After of injected 429s, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u32,
    /// Send Retry-After as an HTTP date instead of seconds.
    #[arg(long)]
    retry_after_http_date: bool,
    /// Every Nth data request answers a 5xx.
    #[arg(long)]
    server_error_every: Option<u32>,
    /// Status of injected server errors (500, 502, 503, 504).
    #[arg(long, default_value_t = 500)]
    server_error_status: u16,
    /// Every Nth data request answers 200 with its JSON cut in half.
    #[arg(long)]
    truncated_body_every: Option<u32>,
    /// Every Nth data request answers 200 with an HTML page.
    #[arg(long)]
    html_body_every: Option<u32>,
    /// Every Nth data request aborts the connection mid-body.
    #[arg(long)]
    connection_reset_every: Option<u32>,
    /// How often the same request may be faulted (1: its retry succeeds).
    #[arg(long, default_value_t = 1)]
    max_faults_per_request: u32,
    /// `expires_in` of OAuth tokens, enforced (default: the vendor's).
    #[arg(long)]
    token_expires_in_secs: Option<u64>,
    /// Revoke an OAuth token after this many data requests.
    #[arg(long)]
    token_max_uses: Option<u32>,
    /// Generate every record before listening (for benchmarks).
    #[arg(long)]
    warm: bool,
}

/// Parses `--host`, refusing anything that is not loopback.
fn loopback(host: &str) -> anyhow::Result<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("--host `{host}` is not an IP address (use 127.0.0.1)"))?;
    if !ip.is_loopback() {
        bail!(
            "refusing --host {host}: mock-vendors serves fake credentials and data on loopback \
             only (use 127.0.0.1, ::1 or localhost)"
        );
    }
    Ok(ip)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let opts = MockOptions {
        records: args.records,
        faults: Faults {
            rate_limit_every: args.rate_limit_every,
            retry_after_secs: args.retry_after_secs,
            retry_after_http_date: args.retry_after_http_date,
            server_error_every: args.server_error_every,
            server_error_status: args.server_error_status,
            truncated_body_every: args.truncated_body_every,
            html_body_every: args.html_body_every,
            connection_reset_every: args.connection_reset_every,
            max_faults_per_request: args.max_faults_per_request,
        },
        latency_ms: args.latency_ms,
        seed: args.seed,
        host: loopback(&args.host)?,
        port: args.port,
        token_expires_in_secs: args.token_expires_in_secs,
        token_max_uses: args.token_max_uses,
        warm_cache: args.warm,
    };
    let server = serve(args.vendor, opts).await?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", server.base_url()).context("writing to stdout")?;
    out.flush().context("flushing stdout")?;
    drop(out);

    let vendor = server.vendor;
    eprintln!("mock-vendors: {vendor} mock ready");
    eprintln!("  client.base_url = {}", server.api_base_url());
    if let Some(token_url) = server.token_url() {
        eprintln!("  token_url       = {token_url}");
    }
    eprintln!("  stats           = {}/__mock/stats", server.base_url());
    eprintln!("  expected keys   = {}/__mock/expected", server.base_url());
    eprintln!("# secrets (TOML; names as in the seed config):");
    for (name, value) in vendor.secrets() {
        eprintln!("{name} = \"{value}\"");
    }

    terminated().await;
    eprintln!("mock-vendors: {vendor} mock stopping");
    server.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-vendors: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_accepted() {
        assert!(loopback("127.0.0.1").is_ok());
        assert!(loopback("::1").is_ok());
        assert!(loopback("[::1]").is_ok());
        assert!(loopback("localhost").is_ok());
        let err = loopback("0.0.0.0")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("loopback only"), "{err}");
        assert!(loopback("192.168.1.5").is_err());
        assert!(loopback("example.com").is_err());
    }

    #[test]
    fn cli_parses_the_documented_flags() {
        let a = Args::try_parse_from([
            "mock-vendors",
            "--vendor",
            "chargify",
            "--port",
            "0",
            "--records",
            "10",
            "--rate-limit-every",
            "3",
            "--server-error-every",
            "5",
            "--latency-ms",
            "2",
        ])
        .expect("parses");
        assert_eq!(a.vendor, Vendor::Chargify);
        assert_eq!(a.rate_limit_every, Some(3));
        assert!(Args::try_parse_from(["mock-vendors", "--vendor", "nope"]).is_err());
    }
}
