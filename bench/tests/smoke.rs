//! Runs the whole benchmark harness at a few thousand records (no dlt, a
//! short delay) so the bench code cannot rot. Timings are not asserted:
//! the harness itself checks that every row arrived and every request of
//! the latency dataset was sent.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn bench_harness_runs_end_to_end_at_small_scale() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The test binary is in target/<profile>/deps; `extract` one level up.
    let exe = std::env::current_exe().expect("test binary path");
    let Some(extract) = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("extract"))
        .filter(|p| p.is_file())
    else {
        eprintln!("note: the extract binary is not built; skipping the bench smoke test");
        return;
    };
    let work = std::env::temp_dir().join(format!("extract-bench-smoke-{}", std::process::id()));
    let opts = extract_bench::Options {
        records: 3000,
        per_page: 500,
        extract,
        work: work.clone(),
        skip_dlt: true,
        dlt_records: 0,
        dlt_default_records: 0,
        delay: Duration::from_millis(2),
        per_host_concurrency: 8,
        extract_args: Vec::new(),
        serve: Some(extract_bench::serve::ServeOptions {
            tenants: 3,
            jobs_per_tenant: 2,
            records_per_sync: 50,
            slow_delay: Duration::from_millis(300),
            neighbour_records: 2000,
            max_concurrent_syncs: 10,
            server_args: vec![
                "--call-timeout-ms".into(),
                "1000".into(),
                "--memory-mib".into(),
                "64".into(),
            ],
        }),
    };
    let results = extract_bench::run(opts).await.expect("the bench runs");
    assert!(results.notes.is_empty(), "{:?}", results.notes);
    let serve = results.serve.as_ref().expect("the serve section ran");
    assert_eq!(serve.burst.jobs, 6);
    assert_eq!(
        serve.concurrent.max_in_flight, 3,
        "every tenant's slow sync ran at once"
    );
    assert_eq!(serve.neighbour.hostile.len(), 2);
    for line in &serve.neighbour.hostile {
        assert!(
            line.starts_with("failed:") && line.contains("`calm` succeeded"),
            "{line}"
        );
    }
    assert_eq!(results.full.rows, 3000);
    assert_eq!(results.full.pages, 6);
    assert_eq!(results.stages.sample_records, 3000);
    let md = extract_bench::report::markdown(&results, "today", "0", "0");
    assert!(md.contains("## Targets (issue 4)"), "{md}");
    assert!(
        md.contains("## Hosted sync (`extract serve`, issue 8)"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(work);
}

/// `--per-host-concurrency` is obeyed: the API never sees more requests in
/// flight than allowed, and with enough work it sees exactly that many
/// (resources, partitions and prefetches fill the slots). Prefetch wastes
/// no request on this dataset (the harness checks the count).
#[tokio::test(flavor = "multi_thread")]
async fn per_host_concurrency_bounds_and_fills_the_requests_in_flight() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exe = std::env::current_exe().expect("test binary path");
    let Some(extract) = exe
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("extract"))
        .filter(|p| p.is_file())
    else {
        eprintln!("note: the extract binary is not built; skipping");
        return;
    };
    let work = std::env::temp_dir().join(format!("extract-bench-slots-{}", std::process::id()));
    for limit in [1, 3] {
        let opts = extract_bench::Options {
            records: 0,
            per_page: 100,
            extract: extract.clone(),
            work: work.clone(),
            skip_dlt: true,
            dlt_records: 0,
            dlt_default_records: 0,
            delay: Duration::from_millis(5),
            per_host_concurrency: limit,
            extract_args: Vec::new(),
            serve: None,
        };
        let run = extract_bench::latency_only(&opts)
            .await
            .expect("the latency sync runs");
        assert_eq!(run.max_in_flight, limit as u64, "limit {limit}");
    }
    let _ = std::fs::remove_dir_all(work);
}
