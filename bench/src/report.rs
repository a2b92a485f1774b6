//! The bench's output: a table on stdout and `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Results;
use crate::stages::Stages;

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn per_s(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn us_per_page(d: Duration, pages: usize) -> f64 {
    d.as_secs_f64() * 1e6 / pages.max(1) as f64
}

/// Records dlt loaded into its main table.
fn dlt_rows(d: &crate::dlt::DltRun) -> u64 {
    d.counts.get("items").copied().flatten().unwrap_or(0)
}

/// dlt's records per second, process wall time.
fn dlt_rate(d: &crate::dlt::DltRun) -> f64 {
    per_s(dlt_rows(d), d.usage.wall)
}

/// One line of the targets table.
pub struct Target {
    /// What.
    pub what: &'static str,
    /// The goal, in words.
    pub goal: &'static str,
    /// The measured figure, in words.
    pub measured: String,
    /// Whether it is met (`None`: not measured).
    pub met: Option<bool>,
}

/// A markdown table of targets with the measured figure beside each.
fn targets_table(md: &mut String, targets: &[Target]) {
    let _ = writeln!(md, "| target | goal | measured | met |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in targets {
        let met = match t.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        let _ = writeln!(md, "| {} | {} | {} | {met} |", t.what, t.goal, t.measured);
    }
}

/// The targets of issue 4 with the measured figure beside each.
pub fn targets(r: &Results) -> Vec<Target> {
    let ours = per_s(r.full.records, r.full.usage.wall);
    let dlt = r.dlt_parquet.as_ref().map(dlt_rate);
    let s = &r.stages;
    let sandbox = s.wasm_next.as_secs_f64() / s.native_next.as_secs_f64().max(1e-9);
    let latency = r.latency.usage.wall.as_secs_f64() / r.latency.ideal().as_secs_f64().max(1e-9);
    let rss_ratio = r
        .tenth
        .as_ref()
        .map(|t| r.full.usage.peak_rss as f64 / t.usage.peak_rss.max(1) as f64);
    vec![
        Target {
            what: "End-to-end throughput vs dlt (parquet)",
            goal: ">= 50x",
            measured: match dlt {
                Some(d) => format!(
                    "{:.1}x ({} vs {} records/s)",
                    ours / d,
                    thousands(ours),
                    thousands(d)
                ),
                None => "dlt not run".into(),
            },
            met: dlt.map(|d| ours / d >= 50.0),
        },
        Target {
            what: "Sandbox cost: component `next` vs the same guest logic native",
            goal: "<= 1.3x",
            measured: format!(
                "{sandbox:.2}x ({:.0} vs {:.0} µs per page, of which {:.0} µs copy the body in)",
                us_per_page(s.wasm_next, s.sample_pages),
                us_per_page(s.native_next, s.sample_pages),
                us_per_page(s.body_copy, s.sample_pages),
            ),
            met: Some(sandbox <= 1.3),
        },
        Target {
            what: "Latency-bound wall time vs ideal",
            goal: "<= 1.25x",
            measured: format!(
                "{:.2}x ({} vs ideal {})",
                latency,
                ms(r.latency.usage.wall),
                ms(r.latency.ideal())
            ),
            met: Some(latency <= 1.25),
        },
        Target {
            what: "Component start from the cached artifact",
            goal: "< 5 ms",
            measured: ms(s.startup.cached_load),
            met: Some(s.startup.cached_load < Duration::from_millis(5)),
        },
        Target {
            what: "Instantiation",
            goal: "< 1 ms",
            measured: ms(s.startup.instantiate),
            met: Some(s.startup.instantiate < Duration::from_millis(1)),
        },
        Target {
            what: "Peak RSS of the full sync",
            goal: "< 200 MB",
            measured: format!(
                "{:.0} MB ({} records)",
                mb(r.full.usage.peak_rss),
                thousands(r.full.records as f64)
            ),
            met: Some(mb(r.full.usage.peak_rss) < 200.0),
        },
        Target {
            what: "Peak RSS flat as records grow 10x",
            goal: "<= 1.25x",
            measured: match (&r.tenth, rss_ratio) {
                (Some(t), Some(x)) => format!(
                    "{x:.2}x ({:.0} MB at {} records)",
                    mb(t.usage.peak_rss),
                    thousands(t.records as f64)
                ),
                _ => "not run (too few records)".into(),
            },
            met: rss_ratio.map(|x| x <= 1.25),
        },
    ]
}

/// The targets of issue 8 (`extract serve`), when its section ran.
pub fn serve_targets(s: &crate::serve::ServeRun) -> Vec<Target> {
    vec![
        Target {
            what: "Hosted: 1-page syncs per second across the tenants",
            goal: ">= 50/s",
            measured: format!(
                "{:.0}/s ({} syncs, {} tenants)",
                s.burst.rate(),
                s.burst.jobs,
                s.tenants
            ),
            met: Some(s.burst.rate() >= 50.0),
        },
        Target {
            what: "Hosted: peak RSS with every tenant's sync running at once",
            goal: "< 500 MB",
            measured: format!(
                "{:.0} MB ({} at once)",
                mb(s.concurrent.peak_rss),
                s.concurrent.max_in_flight
            ),
            met: Some(mb(s.concurrent.peak_rss) < 500.0),
        },
    ]
}

/// The table printed on stdout.
pub fn table(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<44} {:>14} {:>10} {:>9} {:>9} {:>10}",
        "run", "records/s", "pages/s", "wall s", "CPU s", "peak RSS"
    );
    let mut line = |name: &str, records: u64, pages: u64, u: &crate::measure::Usage| {
        let _ = writeln!(
            out,
            "{:<44} {:>14} {:>10} {:>9.2} {:>9.2} {:>7.0} MB",
            name,
            thousands(per_s(records, u.wall)),
            thousands(per_s(pages, u.wall)),
            u.wall.as_secs_f64(),
            u.cpu.as_secs_f64(),
            mb(u.peak_rss)
        );
    };
    if let Some(t) = &r.tenth {
        line(
            &format!("extract, {} records", thousands(t.records as f64)),
            t.records,
            t.pages,
            &t.usage,
        );
    }
    line(
        &format!("extract, {} records", thousands(r.full.records as f64)),
        r.full.records,
        r.full.pages,
        &r.full.usage,
    );
    for d in [&r.dlt_parquet, &r.dlt_default].into_iter().flatten() {
        let n = dlt_rows(d);
        line(
            &format!(
                "dlt, {} loader files, {} records",
                d.format,
                thousands(n as f64)
            ),
            n,
            n.div_ceil(r.options.per_page),
            &d.usage,
        );
    }
    line(
        "extract, latency-bound (requests/s)",
        r.latency.requests,
        r.latency.requests,
        &r.latency.usage,
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<64} {:>10} {:>18}  met",
        "target", "goal", "measured"
    );
    for t in targets(r)
        .into_iter()
        .chain(r.serve.iter().flat_map(serve_targets))
    {
        let _ = writeln!(
            out,
            "{:<64} {:>10} {:>18}  {}",
            t.what,
            t.goal,
            t.measured,
            match t.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
    out
}

/// Facts about the machine.
/// The stage profile alone, as plain text (`extract-bench stages`).
pub fn stages_text(s: &Stages) -> String {
    let pages = s.sample_pages;
    let mut out = String::new();
    let rows = [
        ("HTTP alone", us_per_page(s.http, s.http_pages as usize)),
        (
            "copy of the body alone (memcpy)",
            us_per_page(s.body_copy, pages),
        ),
        ("component `next` in wasm", us_per_page(s.wasm_next, pages)),
        (
            "the same guest logic, native",
            us_per_page(s.native_next, pages),
        ),
        ("host: parse record spans", us_per_page(s.parse, pages)),
        ("host: shape records", us_per_page(s.shape, pages)),
        ("DuckDB (loader thread)", us_per_page(s.duckdb, pages)),
    ];
    let _ = writeln!(out, "{:<40} {:>12}", "stage", "µs per page");
    for (name, us) in rows {
        let _ = writeln!(out, "{name:<40} {us:>12.0}");
    }
    let _ = writeln!(
        out,
        "sandbox ratio {:.2}x",
        s.wasm_next.as_secs_f64() / s.native_next.as_secs_f64().max(1e-12)
    );
    out
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0.0, |kb| kb as f64 / (1024.0 * 1024.0));
    let kernel = std::process::Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores available, {mem:.0} GiB RAM, {kernel}")
}

/// The system load average (1 minute), a hint of how noisy the figures are.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `BENCHMARKS.md`.
pub fn markdown(r: &Results, date: &str, load_before: &str, load_after: &str) -> String {
    let mut md = String::new();
    let s = &r.stages;
    let o = &r.options;
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `just bench` (`bench/`, binary `extract-bench`); do not edit by hand: re-run it.\n"
    );
    let _ = writeln!(md, "- Date: {date}");
    let _ = writeln!(md, "- Machine: {}", machine());
    let _ = writeln!(
        md,
        "- Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. The machine is \
         shared: other builds running at the same time make every figure noisier and slower, \
         extract's and dlt's alike."
    );
    let _ = writeln!(
        md,
        "- Dataset: {} invoices, {} per page ({} pages), about {} bytes of JSON each \
         (nested `customer.address`, a `line_items` list, a `tags` list), `page_number` \
         pagination with `total_pages` in the body; served pre-rendered from memory by the \
         bench's mock on 127.0.0.1 (HTTP/1.1, keep-alive).\n",
        thousands(o.records as f64),
        o.per_page,
        thousands(o.records.div_ceil(o.per_page) as f64),
        (s.http_bytes / o.records.max(1)),
    );

    let _ = writeln!(md, "## Targets (issue 4)\n");
    targets_table(&mut md, &targets(r));

    let _ = writeln!(md, "\n## Runs\n");
    let _ = writeln!(md, "```text\n{}```\n", table(r));
    let _ = writeln!(md, "Rows loaded (checked after each run):\n");
    let mut tables = |name: &str, t: &[(String, u64)]| {
        let list: Vec<String> = t
            .iter()
            .map(|(n, c)| format!("`{n}` {}", thousands(*c as f64)))
            .collect();
        let _ = writeln!(md, "- {name}: {}", list.join(", "));
    };
    tables("extract, full", &r.full.tables);
    tables("extract, latency-bound", &r.latency.tables);
    for d in [&r.dlt_parquet, &r.dlt_default].into_iter().flatten() {
        let list: Vec<String> = d
            .counts
            .iter()
            .map(|(n, c)| match c {
                Some(c) => format!("`{n}` {}", thousands(*c as f64)),
                None => format!("`{n}` -"),
            })
            .collect();
        let _ = writeln!(
            md,
            "- dlt ({}): {} (the pipeline itself reported {:.1} s; the rest of the wall time is \
             Python start-up and imports)",
            d.format,
            list.join(", "),
            d.pipeline_seconds
        );
    }

    let pages = s.sample_pages;
    let http_per_page = us_per_page(s.http, s.http_pages as usize);
    let _ = writeln!(md, "\n## Where the time goes (profile for the loader)\n");
    let _ = writeln!(
        md,
        "Each stage measured alone, in one process, on the same pages: HTTP on all {} pages, \
         the rest on a sample of the first {} pages ({} records). A stage's ceiling is the \
         throughput the sync would reach if everything else were free.\n",
        thousands(s.http_pages as f64),
        pages,
        thousands(s.sample_records as f64)
    );
    let _ = writeln!(
        md,
        "| stage | µs per page of {} | ceiling, records/s |",
        o.per_page
    );
    let _ = writeln!(md, "|---|---|---|");
    let rec_per_page = s.sample_records as f64 / pages.max(1) as f64;
    let mut stage = |name: &str, us: f64| {
        let _ = writeln!(
            md,
            "| {name} | {us:.0} | {} |",
            thousands(rec_per_page * 1e6 / us.max(1e-9))
        );
    };
    stage(
        &format!(
            "HTTP alone: GET, one keep-alive connection, body read ({:.0} MB/s)",
            mb(s.http_bytes) / s.http.as_secs_f64().max(1e-9)
        ),
        http_per_page,
    );
    stage(
        "component `next` in wasm (body into the sandbox, records out as spans)",
        us_per_page(s.wasm_next, pages),
    );
    stage(
        "the same guest logic, native",
        us_per_page(s.native_next, pages),
    );
    stage(
        "for reference: one plain copy of the body (`list<u8>` is copied into the sandbox's memory)",
        us_per_page(s.body_copy, pages),
    );
    stage(
        "host: parse record spans (into nodes borrowing the body)",
        us_per_page(s.parse, pages),
    );
    stage(
        "host: shape records for the loader (dlt's normalization and child ids, types, Arrow columns)",
        us_per_page(s.shape, pages),
    );
    stage(
        "DuckDB: append the Arrow batches, commit, checkpoint (the loader thread)",
        us_per_page(s.duckdb, pages),
    );
    let e2e_us = r.full.usage.wall.as_secs_f64() * 1e6 / r.full.pages.max(1) as f64;
    stage("**end to end** (`extract run`, wall time)", e2e_us);
    let stages_sum = [s.wasm_next, s.parse, s.shape, s.duckdb]
        .iter()
        .map(|d| us_per_page(*d, pages))
        .sum::<f64>()
        + http_per_page;
    let share = |d: Duration| us_per_page(d, pages) / stages_sum.max(1e-9) * 100.0;
    let cpu_per_record = r.full.usage.cpu.as_secs_f64() * 1e6 / r.full.records.max(1) as f64;
    let _ = writeln!(
        md,
        "\nThe stages alone add up to {stages_sum:.0} µs per page: DuckDB {:.0}%, shaping \
         {:.0}%, parsing records {:.0}%, the component {:.0}%, HTTP {:.0}%. \
         End to end the process used {:.1} CPU seconds for {:.1} s of wall time ({cpu_per_record:.0} µs of \
         CPU per record): the stages overlap (HTTP, the component, parsing and shaping on the \
         extraction's task, DuckDB on the loader thread) only as far as free cores allow.",
        share(s.duckdb),
        share(s.shape),
        share(s.parse),
        share(s.wasm_next),
        http_per_page / stages_sum.max(1e-9) * 100.0,
        r.full.usage.cpu.as_secs_f64(),
        r.full.usage.wall.as_secs_f64(),
    );

    let _ = writeln!(md, "\n## Start-up\n");
    let _ = writeln!(md, "| | time |");
    let _ = writeln!(md, "|---|---|");
    let _ = writeln!(
        md,
        "| first run: compile `rest_api.wasm` ({} KB) with Cranelift, store the artifact | {} |",
        s.startup.wasm_bytes / 1024,
        ms(s.startup.compile)
    );
    let _ = writeln!(
        md,
        "| later runs: load from the cached artifact (fresh runtime, median of 7) | {} |",
        ms(s.startup.cached_load)
    );
    let _ = writeln!(
        md,
        "| instantiate from the `InstancePre` (median of 21) | {} |",
        ms(s.startup.instantiate)
    );
    let _ = writeln!(
        md,
        "| instantiate and construct an extraction (parses the config) | {} |",
        ms(s.startup.instantiate_and_construct)
    );

    if let Some(sv) = &r.serve {
        serve_markdown(&mut md, sv);
    }

    let _ = writeln!(md, "\n## Exact commands\n");
    let _ = writeln!(md, "```sh");
    let _ = writeln!(
        md,
        "just bench                 # BENCH_RECORDS=20000 just bench for a quick run"
    );
    let _ = writeln!(
        md,
        "# which runs, against mocks on 127.0.0.1 ports chosen at random:"
    );
    if let Some(t) = &r.tenth {
        let _ = writeln!(md, "{}", t.command);
    }
    let _ = writeln!(md, "{}", r.full.command);
    let _ = writeln!(md, "{}", r.latency.command);
    if let Some(sv) = &r.serve {
        let _ = writeln!(
            md,
            "{}    # then the API calls of bench/src/serve.rs",
            sv.command
        );
    }
    for d in [&r.dlt_parquet, &r.dlt_default].into_iter().flatten() {
        let _ = writeln!(
            md,
            "{{venv}}/bin/python pipeline.py BASE_URL dlt.duckdb pipelines {} {} MAX_PAGE",
            d.format, o.per_page
        );
    }
    let _ = writeln!(md, "```\n");
    let _ = writeln!(
        md,
        "`{{venv}}` is `$CARGO_TARGET_DIR/bench/venv`, made once with `pip install '{}'`; \
         `pipeline.py` is in `bench/src/dlt.rs`.",
        crate::dlt::DLT_REQUIREMENT
    );

    let _ = writeln!(md, "\n## Method\n");
    let _ = writeln!(
        md,
        "- **Throughput**: `extract run` as a child process of the bench; wall time from spawn \
         to exit, CPU seconds (user + system) from `wait4`, peak RSS from the child's `VmHWM` \
         (polled every 5 ms; `ru_maxrss` would report the bench's own size, which Linux \
         carries over `exec`), so they include process start-up, loading the cached component and opening DuckDB. The mock runs in \
         the bench process and competes for the same cores (as it does for dlt). The rows \
         in the DuckDB file are counted afterwards and must equal the records served."
    );
    let _ = writeln!(
        md,
        "- **dlt**: the same resource, paginator and data selector as a `rest_api_source` dict \
         (`bench/src/dlt.rs`), `pipeline.run(..., loader_file_format=\"parquet\")`, DuckDB \
         destination; measured the same way, on the first {} records of the same mock \
         (`BENCH_DLT_RECORDS`): dlt's rate does not depend on the dataset size and at its \
         speed a million records take many minutes; with its default loader files (insert \
         statements) on {}. Both unnest `line_items` and `tags` into the same child \
         tables (extract reproduces dlt's relational layout); the row counts above show both.",
        thousands(o.dlt_records.min(o.records) as f64),
        thousands(o.dlt_default_records.min(o.records) as f64),
    );
    let _ = writeln!(
        md,
        "- **Sandbox cost**: the same response bodies handed to (i) `rest_api.wasm` through \
         the host runtime (`Instance::next`: the body is copied into the sandbox, the record \
         spans come back) and (ii) `rest-api-core` compiled natively into the bench (the same \
         code the component is built from, `RestExtraction::next`); the ratio is (i) / (ii), \
         best of 3 passes over the sample. Both sides then need the same host-side parse, \
         listed separately."
    );
    let _ = writeln!(
        md,
        "- **Latency-bound**: a second mock adds {} ms to every response; the config has {} \
         independent resources and a child resource (`tasks`, one partition per project); \
         `--per-host-concurrency {}` (the mock saw at most {} requests in flight). \
         Ideal = requests x delay / concurrency = {} x {} ms / {}. The wall time includes \
         process start-up and DuckDB's commits. The mock took {:.2} ms on average \
         from taking a request to its response (its timer wakes up to a millisecond late); \
         at that answer time the ideal is {}, and the wall time is {:.2}x it.",
        r.latency.delay.as_millis(),
        crate::mock::LATENCY_RESOURCES.len(),
        r.latency.concurrency,
        r.latency.max_in_flight,
        r.latency.requests,
        r.latency.delay.as_millis(),
        r.latency.concurrency,
        r.latency.mean_answer.as_secs_f64() * 1000.0,
        ms(r.latency.ideal_as_answered()),
        r.latency.usage.wall.as_secs_f64() / r.latency.ideal_as_answered().as_secs_f64().max(1e-9)
    );
    let _ = writeln!(
        md,
        "- **Start-up**: in process, through the host's `Runtime` and on-disk component cache."
    );
    if !r.notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

/// The serve section of `BENCHMARKS.md`.
pub fn serve_markdown(md: &mut String, s: &crate::serve::ServeRun) {
    let _ = writeln!(md, "\n## Hosted sync (`extract serve`, issue 8)\n");
    targets_table(md, &serve_targets(s));
    let b = &s.burst;
    let c = &s.concurrent;
    let n = &s.neighbour;
    let _ = writeln!(md, "\n| run | figure |");
    let _ = writeln!(md, "|---|---|");
    let _ = writeln!(
        md,
        "| server RSS with {} tenants and their sources, before any sync | {:.0} MB |",
        s.tenants,
        mb(s.idle_rss)
    );
    let _ = writeln!(
        md,
        "| burst: {} 1-page syncs queued at once ({} per tenant) | {:.2} s, {:.0} syncs/s, {:.2} CPU s ({:.1} ms of CPU per sync) |",
        b.jobs,
        b.jobs / s.tenants.max(1),
        b.wall.as_secs_f64(),
        b.rate(),
        b.cpu.as_secs_f64(),
        b.cpu.as_secs_f64() * 1000.0 / b.jobs.max(1) as f64
    );
    for (what, p) in [
        ("job latency, queued to finished", &b.latency),
        ("job run time, started to finished", &b.run),
    ] {
        let _ = writeln!(
            md,
            "| burst: {what} | p50 {}, p99 {}, max {} |",
            ms(p.p50),
            ms(p.p99),
            ms(p.max)
        );
    }
    let _ = writeln!(
        md,
        "| concurrent: {} syncs against an API answering in {} | {} running at once, {:.2} s, peak RSS {:.0} MB |",
        c.syncs,
        ms(crate::serve::ServeOptions::default().slow_delay),
        c.max_in_flight,
        c.wall.as_secs_f64(),
        mb(c.peak_rss)
    );
    let _ = writeln!(
        md,
        "| peak RSS over the burst and concurrent runs | {:.0} MB |",
        mb(s.peak_rss)
    );
    let ratio = n.beside.as_secs_f64() / n.alone.as_secs_f64().max(1e-9);
    let _ = writeln!(
        md,
        "| noisy neighbour: tenant B syncs {} records alone (best of 3) | {} |",
        thousands(n.records as f64),
        ms(n.alone)
    );
    let _ = writeln!(
        md,
        "| noisy neighbour: the same sync while tenant A runs two hostile jobs | {} ({ratio:.2}x alone) |",
        ms(n.beside)
    );
    for (i, h) in n.hostile.iter().enumerate() {
        let _ = writeln!(
            md,
            "| noisy neighbour: tenant A's job {} | {} |",
            i + 1,
            h.replace('|', "/")
        );
    }
    let _ = writeln!(
        md,
        "\nMethod: one `extract serve` process (command below) on 127.0.0.1 with the bench's \
         mocks; every tenant has its own DuckDB file, sources use the built-in `rest_api` \
         connector. The burst's rate is jobs / (last `finished_at` - first `created_at`) from \
         the server's job records, so it includes queueing, the HTTP request, the component, \
         the DuckDB load and the job bookkeeping; each tenant's rows are counted through \
         `/v1/tables` afterwards. RSS is the server's `VmHWM` (reset with `clear_refs` before \
         the concurrent run). In the noisy-neighbour run tenant A's two jobs each run \
         `test_hostile.wasm`'s `spin` (a loop that never returns: stopped by the CPU deadline, \
         10 s by default), `hog` (allocates until the memory cap, 256 MiB by default) and \
         `calm`, while tenant B's sync runs; B's time is its job's started-to-finished. A's \
         component calls share one thread (`--component-threads-per-tenant`, 1), so on 2 \
         cores B keeps about one core, less the kernel's work of A's memory growth. The \
         memory bomb is left out of the RSS figures above on purpose: it grows to the cap the \
         operator set."
    );
}
