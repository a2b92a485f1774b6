//! The server's counters, rendered in Prometheus' text format at `/metrics`,
//! every series labelled by tenant id (but DuckDB's buffer pool, which all
//! tenants share).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use super::tenant_db::PoolUsage;

/// What a failed resource ran into, for the trap and limit counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The component trapped: panic, CPU deadline, out of memory.
    Trap,
    /// A host-side cap: records or bytes per page, requests, body size.
    Limit,
}

/// Classify a resource's error text (as the sync reports it).
pub fn classify(error: &str) -> Option<Fault> {
    const TRAPS: &[&str] = &[
        "exceeded its CPU deadline",
        "ran out of memory",
        "it panicked",
        "it trapped",
        "failed to start",
    ];
    const LIMITS: &[&str] = &["over the limit", "asked for more than", "--max-body-mib"];
    if error.contains("component `") && TRAPS.iter().any(|t| error.contains(t)) {
        Some(Fault::Trap)
    } else if LIMITS.iter().any(|t| error.contains(t)) {
        Some(Fault::Limit)
    } else {
        None
    }
}

#[derive(Default)]
struct Counters {
    /// (metric, tenant, extra label value) -> count.
    values: BTreeMap<(&'static str, String, String), u64>,
}

/// Process-wide counters.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

/// `(name, help, extra label name)` of each counter.
const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "extract_records_loaded_total",
        "Records loaded into DuckDB.",
        "",
    ),
    (
        "extract_pages_loaded_total",
        "Pages loaded into DuckDB.",
        "",
    ),
    (
        "extract_component_traps_total",
        "Resources failed by a component trap (panic, CPU deadline, out of memory).",
        "",
    ),
    (
        "extract_limit_hits_total",
        "Resources stopped by a sandbox limit (records, bytes or requests).",
        "",
    ),
    (
        "extract_http_requests_total",
        "Requests syncs sent to APIs, each attempt, by response status (`error`: no response).",
        "status",
    ),
    (
        "extract_api_requests_total",
        "Requests to this server's API, by response status.",
        "status",
    ),
];

impl Metrics {
    fn add(&self, metric: &'static str, tenant: &str, extra: &str, n: u64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.values
            .entry((metric, tenant.to_string(), extra.to_string()))
            .or_default() += n;
    }

    /// One page of `records` records loaded for `tenant`.
    pub fn page(&self, tenant: &str, records: u64) {
        self.add("extract_pages_loaded_total", tenant, "", 1);
        self.add("extract_records_loaded_total", tenant, "", records);
    }

    /// A resource of `tenant` failed with `fault`.
    pub fn fault(&self, tenant: &str, fault: Fault) {
        let metric = match fault {
            Fault::Trap => "extract_component_traps_total",
            Fault::Limit => "extract_limit_hits_total",
        };
        self.add(metric, tenant, "", 1);
    }

    /// A sync of `tenant` got a response with `status` from an API
    /// (`None`: no response, a transport error).
    pub fn upstream(&self, tenant: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.add("extract_http_requests_total", tenant, &status, 1);
    }

    /// One API request answered with `status`; `tenant` is empty when the
    /// request carried no valid tenant token.
    pub fn api(&self, tenant: &str, status: u16) {
        self.add("extract_api_requests_total", tenant, &status.to_string(), 1);
    }

    /// The text exposition; `jobs` is (tenant, state, count), `pool` what
    /// DuckDB's buffer pool holds (none: it could not be read).
    pub fn render(&self, jobs: &[(String, String, i64)], pool: Option<PoolUsage>) -> String {
        let mut out = String::new();
        if let Some(pool) = pool {
            for (name, help, value) in [
                (
                    "extract_duckdb_memory_bytes",
                    "Memory held by DuckDB's buffer pool (all tenants' files).",
                    pool.memory_bytes,
                ),
                (
                    "extract_duckdb_temporary_bytes",
                    "Data DuckDB evicted from its buffer pool to temporary files.",
                    pool.temporary_bytes,
                ),
                (
                    "extract_duckdb_memory_limit_bytes",
                    "The limit of DuckDB's buffer pool (--duckdb-memory-mib).",
                    pool.limit_bytes,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} gauge");
                let _ = writeln!(out, "{name} {value}");
            }
        }
        let _ = writeln!(out, "# HELP extract_jobs Jobs by state.");
        let _ = writeln!(out, "# TYPE extract_jobs gauge");
        for (tenant, state, n) in jobs {
            let _ = writeln!(
                out,
                "extract_jobs{{tenant=\"{}\",state=\"{}\"}} {n}",
                escape(tenant),
                escape(state)
            );
        }
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        for (name, help, extra) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for ((metric, tenant, value), n) in &c.values {
                if metric != name {
                    continue;
                }
                if extra.is_empty() {
                    let _ = writeln!(out, "{name}{{tenant=\"{}\"}} {n}", escape(tenant));
                } else {
                    let _ = writeln!(
                        out,
                        "{name}{{tenant=\"{}\",{extra}=\"{}\"}} {n}",
                        escape(tenant),
                        escape(value)
                    );
                }
            }
        }
        out
    }
}

/// Escape a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_per_tenant() {
        let m = Metrics::default();
        m.page("t1", 10);
        m.page("t1", 5);
        m.page("t2", 1);
        m.api("t1", 200);
        m.upstream("t1", Some(429));
        m.upstream("t1", None);
        m.fault("t2", Fault::Trap);
        let pool = PoolUsage {
            memory_bytes: 3 << 20,
            temporary_bytes: 0,
            limit_bytes: 256 << 20,
        };
        let text = m.render(&[("t1".into(), "succeeded".into(), 2)], Some(pool));
        assert!(
            text.contains("\nextract_duckdb_memory_bytes 3145728\n"),
            "{text}"
        );
        assert!(
            text.contains("\nextract_duckdb_temporary_bytes 0\n"),
            "{text}"
        );
        assert!(
            text.contains("\nextract_duckdb_memory_limit_bytes 268435456\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE extract_duckdb_memory_bytes gauge"),
            "{text}"
        );
        assert!(
            text.contains("extract_records_loaded_total{tenant=\"t1\"} 15"),
            "{text}"
        );
        assert!(
            text.contains("extract_pages_loaded_total{tenant=\"t1\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("extract_records_loaded_total{tenant=\"t2\"} 1"),
            "{text}"
        );
        assert!(text.contains("extract_api_requests_total{tenant=\"t1\",status=\"200\"} 1"));
        assert!(text.contains("extract_http_requests_total{tenant=\"t1\",status=\"429\"} 1"));
        assert!(text.contains("extract_http_requests_total{tenant=\"t1\",status=\"error\"} 1"));
        assert!(text.contains("extract_component_traps_total{tenant=\"t2\"} 1"));
        assert!(text.contains("extract_jobs{tenant=\"t1\",state=\"succeeded\"} 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn faults_are_classified_from_the_sync_errors() {
        assert_eq!(
            classify(
                "resource `spin`: component `h` failed in `start`: it exceeded its CPU deadline of 1s"
            ),
            Some(Fault::Trap)
        );
        assert_eq!(
            classify("component `h` returned 5000 records in one page, over the limit of 10"),
            Some(Fault::Limit)
        );
        assert_eq!(classify("HTTP 500"), None);
    }
}
