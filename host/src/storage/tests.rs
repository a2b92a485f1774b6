//! Loader tests against real DuckDB files.

use super::*;
use serde_json::json;

fn spec(name: &str, disposition: Disposition, pk: &[&str]) -> TableSpec {
    TableSpec {
        resource: name.into(),
        table: name.into(),
        primary_key: pk.iter().map(|s| s.to_string()).collect(),
        disposition,
        max_nesting: None,
        keep_records: false,
    }
}

async fn load(db: &Path, spec: TableSpec, pages: Vec<Vec<Value>>, complete: bool) -> Result<()> {
    load_with(db, spec, pages, complete, true).await
}

async fn load_with(
    db: &Path,
    spec: TableSpec,
    pages: Vec<Vec<Value>>,
    complete: bool,
    checkpoints: bool,
) -> Result<()> {
    let loader = Loader::open(db, "src")?;
    let name = spec.resource.clone();
    loader.begin(spec).await?;
    for (i, page) in pages.into_iter().enumerate() {
        let checkpoint = checkpoints.then(|| format!("cp{i}"));
        let ack = loader
            .page(&name, page, None, checkpoint, Some(format!("st{i}")), false)
            .await?;
        ack.await??;
    }
    if complete {
        loader.finish(&name).await?;
    } else {
        loader.abort(&name).await?;
    }
    loader.complete(complete).await
}

fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let n = row.as_ref().column_count();
        out.push(
            (0..n)
                .map(|i| match row.get_ref(i).unwrap().to_owned() {
                    duckdb::types::Value::Null => "NULL".to_string(),
                    duckdb::types::Value::Text(s) => s,
                    duckdb::types::Value::BigInt(i) => i.to_string(),
                    duckdb::types::Value::HugeInt(i) => i.to_string(),
                    duckdb::types::Value::Double(d) => d.to_string(),
                    duckdb::types::Value::Boolean(b) => b.to_string(),
                    other => format!("{other:?}"),
                })
                .collect(),
        );
    }
    out
}

#[tokio::test]
async fn merge_keeps_one_row_per_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let page1 = vec![
        json!({"id": 1, "v": "a"}),
        json!({"id": 2, "v": "b"}),
        json!({"id": 1, "v": "a2"}),
    ];
    load(
        &db,
        spec("items", Disposition::Merge, &["id"]),
        vec![page1.clone()],
        true,
    )
    .await
    .unwrap();
    load(
        &db,
        spec("items", Disposition::Merge, &["id"]),
        vec![vec![
            json!({"id": 2, "v": "b2"}),
            json!({"id": 3, "v": "c"}),
        ]],
        true,
    )
    .await
    .unwrap();
    let rows = query(&db, "SELECT id, v FROM src.items ORDER BY id");
    // Within a load the first record of a key wins (dlt's behaviour).
    assert_eq!(rows, vec![vec!["1", "a"], vec!["2", "b2"], vec!["3", "c"]]);
    let loads = query(&db, "SELECT count(*) FROM src._dlt_loads");
    assert_eq!(loads, vec![vec!["2"]]);
}

#[tokio::test]
async fn append_adds_rows_every_run_with_load_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    for _ in 0..2 {
        load(
            &db,
            spec("ev", Disposition::Append, &[]),
            vec![vec![json!({"x": 1}), json!({"x": 2})]],
            true,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        query(
            &db,
            "SELECT count(*), count(DISTINCT _dlt_load_id), count(DISTINCT _dlt_id) FROM src.ev"
        ),
        vec![vec!["4", "2", "4"]]
    );
}

#[tokio::test]
async fn replace_swaps_only_when_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    load(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 1}), json!({"id": 2})]],
        true,
    )
    .await
    .unwrap();
    // A failed run (with no position to resume from) leaves the old rows.
    load_with(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 9})]],
        false,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        query(&db, "SELECT id FROM src.r ORDER BY id"),
        vec![vec!["1"], vec!["2"]]
    );
    load(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 3})]],
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        query(&db, "SELECT id FROM src.r ORDER BY id"),
        vec![vec!["3"]]
    );
}

#[tokio::test]
async fn interrupted_replace_resumes_into_its_staging_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    load(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 1})]],
        true,
    )
    .await
    .unwrap();
    // Interrupted after one page: old rows stay visible...
    load(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 5})]],
        false,
    )
    .await
    .unwrap();
    assert_eq!(query(&db, "SELECT id FROM src.r"), vec![vec!["1"]]);
    // ...and the resumed run (next pages only) swaps in both runs' pages.
    load(
        &db,
        spec("r", Disposition::Replace, &["id"]),
        vec![vec![json!({"id": 6})]],
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        query(&db, "SELECT id FROM src.r ORDER BY id"),
        vec![vec!["5"], vec!["6"]]
    );
}

#[tokio::test]
async fn new_fields_add_columns_and_type_conflicts_make_variant_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    load(
        &db,
        spec("s", Disposition::Append, &[]),
        vec![
            vec![json!({"a": 1, "nested": {"deepKey": true}})],
            vec![json!({"a": "text", "b": 2.5})],
        ],
        true,
    )
    .await
    .unwrap();
    let cols = query(
        &db,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='src' AND table_name='s' ORDER BY ordinal_position",
    );
    let names: Vec<&str> = cols.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(
        names,
        vec![
            "a",
            "nested__deep_key",
            "_dlt_load_id",
            "_dlt_id",
            "a__v_text",
            "b",
        ]
    );
    assert_eq!(
        query(&db, "SELECT a, a__v_text FROM src.s ORDER BY a NULLS LAST"),
        vec![vec!["1", "NULL"], vec!["NULL", "text"]]
    );
}

#[tokio::test]
async fn missing_primary_key_is_a_clear_error_and_loads_nothing_of_that_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let err = load(
        &db,
        spec("m", Disposition::Merge, &["INVOICE_ID"]),
        vec![vec![json!({"id": 1})]],
        true,
    )
    .await
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("primary key `INVOICE_ID`") && msg.contains("columns are: id"),
        "{msg}"
    );
}

#[tokio::test]
async fn checkpoint_is_kept_after_abort_and_cleared_after_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    load(
        &db,
        spec("c", Disposition::Merge, &["id"]),
        vec![vec![json!({"id": 1})], vec![json!({"id": 2})]],
        false,
    )
    .await
    .unwrap();
    let loader = Loader::open(&db, "src").unwrap();
    let resume = loader
        .begin(spec("c", Disposition::Merge, &["id"]))
        .await
        .unwrap();
    assert_eq!(resume.checkpoint.as_deref(), Some("cp1"));
    assert_eq!(resume.state.as_deref(), Some("st1"));
    loader.finish("c").await.unwrap();
    // The run did not complete: the resource is done within it.
    let loader = Loader::open(&db, "src").unwrap();
    let resume = loader
        .begin(spec("c", Disposition::Merge, &["id"]))
        .await
        .unwrap();
    assert!(resume.done);
    assert_eq!(resume.checkpoint, None);
    loader.complete(true).await.unwrap();
    let loader = Loader::open(&db, "src").unwrap();
    let resume = loader
        .begin(spec("c", Disposition::Merge, &["id"]))
        .await
        .unwrap();
    // Once the run completed, nothing is left to resume; the incremental
    // state stays for the next run.
    assert!(!resume.done);
    assert_eq!(resume.checkpoint, None);
    assert_eq!(resume.state.as_deref(), Some("st1"));
}

#[tokio::test]
async fn hostile_names_stay_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let mut s = spec("x\"; DROP TABLE y; --", Disposition::Append, &[]);
    s.table = s.resource.clone();
    load(&db, s, vec![vec![json!({"a\"b": 1, "'; --": 2})]], true)
        .await
        .unwrap();
    let tables = query(
        &db,
        "SELECT table_name FROM information_schema.tables WHERE table_schema='src' ORDER BY 1",
    );
    assert!(
        tables.iter().any(|t| t[0] == "x_drop_table_yxxx"),
        "{tables:?}"
    );
}

#[tokio::test]
async fn schema_named_like_the_file_is_not_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("src.duckdb");
    for _ in 0..2 {
        load(
            &db,
            spec("m", Disposition::Merge, &["id"]),
            vec![vec![json!({"id": 1, "x": {"y": 2}})]],
            true,
        )
        .await
        .unwrap();
        load(
            &db,
            spec("r", Disposition::Replace, &["id"]),
            vec![vec![json!({"id": 1})]],
            true,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        query(&db, "SELECT count(*) FROM src.src.m"),
        vec![vec!["1"]]
    );
}

/// Every column type goes through the columnar append: huge integers
/// (HUGEINT), timestamps (TIMESTAMPTZ), doubles, booleans, text, JSON kept
/// as text past the nesting budget, sparse columns (null where absent), a
/// column added mid-batch, and a variant column.
#[tokio::test]
async fn every_column_type_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let mut s = spec("t", Disposition::Append, &[]);
    s.max_nesting = Some(0);
    let page = vec![
        json!({"n": 1, "big": 18446744073709551615u64, "f": 1.5, "ok": true,
               "at": "2024-05-06T07:08:09.123456Z", "s": "x", "j": {"a": [1, 2]}}),
        json!({"n": 2, "late": "only here"}),
        json!({"n": "three", "f": 2, "at": null}),
    ];
    load(&db, s, vec![page], true).await.unwrap();
    let rows = query(
        &db,
        "SELECT n, big, f, ok, epoch_us(\"at\"), s, j, late, n__v_text FROM src.t ORDER BY rowid",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                "1",
                "18446744073709551615",
                "1.5",
                "true",
                "1714979289123456",
                "x",
                r#"{"a":[1,2]}"#,
                "NULL",
                "NULL"
            ],
            vec![
                "2",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "only here",
                "NULL"
            ],
            vec![
                "NULL", "NULL", "2", "NULL", "NULL", "NULL", "NULL", "NULL", "three"
            ],
        ]
    );
    let types = query(
        &db,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't' \
         AND column_name IN ('big', 'at', 'f', 'ok') ORDER BY column_name",
    );
    assert_eq!(
        types,
        vec![
            vec!["at", "TIMESTAMP WITH TIME ZONE"],
            vec!["big", "HUGEINT"],
            vec!["f", "DOUBLE"],
            vec!["ok", "BOOLEAN"],
        ]
    );
}

/// A page the loader cannot place loads none of its rows, and the pages
/// queued after it are refused: the next run resumes after the last page
/// that loaded, so nothing is lost or loaded twice.
#[tokio::test]
async fn a_failed_page_loads_nothing_and_stops_the_pages_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let loader = Loader::open(&db, "src").unwrap();
    loader
        .begin(spec("p", Disposition::Append, &[]))
        .await
        .unwrap();
    let page = |records: Vec<Value>, i: usize| {
        loader.page("p", records, None, Some(format!("cp{i}")), None, false)
    };
    let first = page(vec![json!({"id": 1, "x": 1})], 0).await.unwrap();
    // `x` is BIGINT; an ISO string makes `x__v_text` a timestamp column,
    // which the next string fits neither. A page fails when it is queued
    // (shaping it) or when the loader acknowledges it (DuckDB).
    let outcome = async |queued: Result<oneshot::Receiver<Result<()>>>| match queued {
        Ok(ack) => ack.await.unwrap(),
        Err(e) => Err(e),
    };
    let bad = page(
        vec![
            json!({"id": 2, "x": "2024-01-01T00:00:00Z"}),
            json!({"id": 3, "x": "hello"}),
        ],
        1,
    )
    .await;
    let after = page(vec![json!({"id": 4, "x": 2})], 2).await;
    first.await.unwrap().unwrap();
    let err = outcome(bad).await.unwrap_err();
    assert!(format!("{err:#}").contains("fits neither"), "{err:#}");
    let err = outcome(after).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("an earlier page of resource `p` failed"),
        "{err:#}"
    );
    loader.abort("p").await.unwrap();
    loader.complete(false).await.unwrap();
    assert_eq!(query(&db, "SELECT id FROM src.p"), vec![vec!["1"]]);
    let loader = Loader::open(&db, "src").unwrap();
    let resume = loader
        .begin(spec("p", Disposition::Append, &[]))
        .await
        .unwrap();
    assert_eq!(resume.checkpoint.as_deref(), Some("cp0"));
}

#[tokio::test]
async fn pages_larger_than_the_queue_budget_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.duckdb");
    let opts = LoaderOptions {
        queue_pages: 2,
        // Every page below is shaped into more than this.
        queue_kib: 1,
        ..LoaderOptions::default()
    };
    let loader = Loader::open_with(&db, "src", opts).unwrap();
    loader
        .begin(spec("big", Disposition::Append, &[]))
        .await
        .unwrap();
    let pages = 12;
    let queue_all = async {
        let mut acks = Vec::new();
        for p in 0..pages {
            let page = (0..200)
                .map(|i| json!({"n": p * 200 + i, "text": "x".repeat(40)}))
                .collect();
            // Queued without waiting for the loader's answers.
            acks.push(
                loader
                    .page("big", page, None, None, None, false)
                    .await
                    .unwrap(),
            );
        }
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), queue_all)
        .await
        .expect("the queue budget must let a page larger than itself through");
    loader.finish("big").await.unwrap();
    loader.complete(true).await.unwrap();
    let rows = query(
        &db,
        "SELECT count(*), min(n), max(n), count(DISTINCT n) FROM src.big",
    );
    assert_eq!(rows, vec![vec!["2400", "0", "2399", "2400"]]);
}
