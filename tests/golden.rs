//! Golden tests: the same records loaded by dlt 1.x and by our loader give
//! the same tables, columns (names, order and types), row counts and
//! values. `tests/golden/expected.json` was produced once by
//! `tests/golden/generate.py` with dlt; dlt is not needed to run this.
//!
//! Deliberate differences, mapped here and documented in
//! docs/design-notes.md: dlt's `JSON` columns are `VARCHAR` here (the
//! bundled DuckDB has no JSON extension; the text is the same), and dlt's
//! `_dlt_pipeline_state` and `_dlt_version` tables are not written (our
//! state lives in `_extract_state`).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use duckdb::Connection;
use extract::storage::{Disposition, Loader, TableSpec};
use serde_json::Value;

const RANDOM_COLUMNS: [&str; 4] = ["_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id"];

#[derive(Debug, PartialEq)]
struct TableDump {
    columns: Vec<(String, String)>,
    rows: i64,
    values: Option<Vec<Vec<Option<String>>>>,
}

fn spec(case: &Value) -> TableSpec {
    let primary_key = match case.get("primary_key") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        _ => Vec::new(),
    };
    TableSpec {
        resource: case["resource"].as_str().unwrap().into(),
        table: case["resource"].as_str().unwrap().into(),
        primary_key,
        disposition: match case["write_disposition"].as_str().unwrap() {
            "append" => Disposition::Append,
            "replace" => Disposition::Replace,
            "merge" => Disposition::Merge,
            other => panic!("unknown disposition {other}"),
        },
        max_nesting: case
            .get("max_table_nesting")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
        keep_records: false,
    }
}

async fn load_case(db: &Path, case: &Value) {
    for run in case["runs"].as_array().unwrap() {
        let loader = Loader::open(db, "golden").unwrap();
        let spec = spec(case);
        let name = spec.resource.clone();
        loader.begin(spec).await.unwrap();
        let pages = run.as_array().unwrap();
        for (i, page) in pages.iter().enumerate() {
            let last = i + 1 == pages.len();
            let ack = loader
                .page(
                    &name,
                    page.as_array().unwrap().clone(),
                    None,
                    (!last).then(|| format!("page {i}")),
                    None,
                    last,
                )
                .await
                .unwrap();
            ack.await.unwrap().unwrap();
        }
        loader.finish(&name).await.unwrap();
        loader.complete(true).await.unwrap();
    }
}

fn dump(db: &Path) -> BTreeMap<String, TableDump> {
    let conn = Connection::open(db).unwrap();
    let mut out = BTreeMap::new();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'golden' ORDER BY 1",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        if t.starts_with("_extract_") {
            continue;
        }
        let columns: Vec<(String, String)> = conn
            .prepare(
                "SELECT column_name, data_type FROM information_schema.columns \
                 WHERE table_schema = 'golden' AND table_name = ? ORDER BY ordinal_position",
            )
            .unwrap()
            .query_map([&t], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let rows: i64 = conn
            .query_row(&format!(r#"SELECT count(*) FROM golden."{t}""#), [], |r| {
                r.get(0)
            })
            .unwrap();
        let values = (!t.starts_with("_dlt")).then(|| {
            let value_cols: Vec<&String> = columns
                .iter()
                .map(|(c, _)| c)
                .filter(|c| !RANDOM_COLUMNS.contains(&c.as_str()))
                .collect();
            let select: Vec<String> = value_cols
                .iter()
                .map(|c| format!(r#"CAST("{c}" AS VARCHAR)"#))
                .collect();
            let n = value_cols.len();
            let mut rows: Vec<Vec<Option<String>>> = conn
                .prepare(&format!(
                    r#"SELECT {} FROM golden."{t}""#,
                    select.join(", ")
                ))
                .unwrap()
                .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort_by_key(|r| serde_json::to_string(r).unwrap());
            rows
        });
        out.insert(
            t,
            TableDump {
                columns,
                rows,
                values,
            },
        );
    }
    out
}

fn expected_dump(case: &Value) -> BTreeMap<String, TableDump> {
    case.as_object()
        .unwrap()
        .iter()
        .map(|(t, e)| {
            let columns = e["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let ty = c[1].as_str().unwrap();
                    // dlt's JSON columns are VARCHAR here (see module docs).
                    let ty = if ty == "JSON" { "VARCHAR" } else { ty };
                    (c[0].as_str().unwrap().to_string(), ty.to_string())
                })
                .collect();
            let values = e.get("values").map(|v| {
                let mut rows: Vec<Vec<Option<String>>> = serde_json::from_value(v.clone()).unwrap();
                rows.sort_by_key(|r| serde_json::to_string(r).unwrap());
                rows
            });
            (
                t.clone(),
                TableDump {
                    columns,
                    rows: e["rows"].as_i64().unwrap(),
                    values,
                },
            )
        })
        .collect()
}

/// Every child row points at an existing parent row (and root row).
fn check_linkage(db: &Path, dumps: &BTreeMap<String, TableDump>) {
    let conn = Connection::open(db).unwrap();
    for (t, d) in dumps {
        let has = |c: &str| d.columns.iter().any(|(n, _)| n == c);
        if !has("_dlt_parent_id") {
            continue;
        }
        // Which table is whose parent the loader records in `_extract_tables`
        // (a list inside an object hangs off the object's table).
        let (parent, root): (String, String) = conn
            .query_row(
                "SELECT parent_table, root_table FROM golden._extract_tables WHERE table_name = ?",
                [t],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut links = vec![("_dlt_parent_id", parent)];
        if has("_dlt_root_id") {
            links.push(("_dlt_root_id", root));
        }
        for (column, target) in links {
            let orphans: i64 = conn
                .query_row(
                    &format!(
                        r#"SELECT count(*) FROM golden."{t}" c WHERE NOT EXISTS (SELECT 1 FROM golden."{target}" p WHERE p._dlt_id = c.{column})"#
                    ),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(orphans, 0, "{t}: rows whose {column} is not in {target}");
        }
    }
}

#[tokio::test]
async fn tables_columns_counts_and_values_equal_dlts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("cases.json")).unwrap()).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("expected.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let db = dir.path().join(format!("{name}.duckdb"));
        load_case(&db, case).await;
        let ours = dump(&db);
        check_linkage(&db, &ours);
        let theirs = expected_dump(&expected["cases"][name]);
        let ours_names: Vec<&String> = ours.keys().collect();
        let theirs_names: Vec<&String> = theirs.keys().collect();
        if ours_names != theirs_names {
            failures.push(format!(
                "{name}: tables differ\n  ours: {ours_names:?}\n  dlt:  {theirs_names:?}"
            ));
            continue;
        }
        for (t, d) in &theirs {
            let o = &ours[t];
            if o.columns != d.columns {
                failures.push(format!(
                    "{name}/{t}: columns differ\n  ours: {:?}\n  dlt:  {:?}",
                    o.columns, d.columns
                ));
            }
            if o.rows != d.rows {
                failures.push(format!("{name}/{t}: {} rows, dlt has {}", o.rows, d.rows));
            }
            if o.values != d.values {
                failures.push(format!(
                    "{name}/{t}: values differ\n  ours: {:?}\n  dlt:  {:?}",
                    o.values, d.values
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
