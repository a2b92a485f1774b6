//! Bad input: the generic component pages through a loopback API whose
//! second page is broken in one way per resource (malformed, truncated,
//! HTML, wrong content type, invalid UTF-8, deeply nested, huge numbers,
//! non-object records, null lists, empty bodies, slow answers, resets).
//! Each broken page fails its resource with an error naming the resource,
//! the page and what was wrong; the first page stays in DuckDB; the run
//! exits non-zero and the other resources complete.

mod common;
#[path = "support/raw_http.rs"]
mod raw_http;

use std::time::Duration;

use common::{extract, output_text, resource_error, resource_status, row_count};
use raw_http::{RawServer, Reply, Seen, json, response};
use serde_json::json;

/// The broken second page of each case, and what its error must say.
struct Case {
    name: &'static str,
    reply: fn() -> Reply,
    /// `None`: the page is accepted (the case documents that it is not an
    /// error); otherwise every needle must appear in the error.
    error: Option<&'static [&'static str]>,
    /// Rows the resource holds afterwards: page 1's two, plus page 2's
    /// when it is accepted.
    rows: i64,
}

fn deep(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

const CASES: &[Case] = &[
    Case {
        name: "malformed",
        reply: || json(r#"{"data": [{"id": 3}, {"id": "#),
        error: Some(&["not JSON", "unexpected end of the body"]),
        rows: 2,
    },
    Case {
        name: "truncated",
        reply: || {
            // Announces 400 bytes, sends 30, closes.
            let mut bytes =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n"
                    .to_vec();
            bytes.extend_from_slice(br#"{"data": [{"id": 3}, {"id": 4"#);
            Reply::Raw(bytes)
        },
        error: Some(&["the connection broke while reading the body"]),
        rows: 2,
    },
    Case {
        name: "html_200",
        reply: || {
            Reply::Raw(response(
                200,
                "text/html",
                b"<html><head><title>Service Unavailable</title></head><body>try later</body></html>",
            ))
        },
        error: Some(&["not JSON", "<html>", "text/html"]),
        rows: 2,
    },
    Case {
        name: "wrong_content_type",
        reply: || {
            Reply::Raw(response(
                200,
                "application/xml",
                b"<?xml version=\"1.0\"?><data><id>3</id></data>",
            ))
        },
        error: Some(&["not JSON", "application/xml"]),
        rows: 2,
    },
    Case {
        name: "invalid_utf8",
        reply: || {
            Reply::Raw(response(
                200,
                "application/json",
                b"{\"data\": [{\"id\": 3, \"name\": \"caf\xe9 \xff\"}]}",
            ))
        },
        error: Some(&["record 1", "not one JSON value", "UTF-8"]),
        rows: 2,
    },
    Case {
        name: "deep_record",
        reply: || {
            json(&format!(
                r#"{{"data": [{{"id": 3, "deep": {}}}]}}"#,
                deep(100_000)
            ))
        },
        error: Some(&["record 1", "nested more than 128 levels deep"]),
        rows: 2,
    },
    Case {
        name: "deep_body",
        reply: || json(&deep(100_000)),
        error: Some(&["nested more than 128 levels deep"]),
        rows: 2,
    },
    Case {
        name: "huge_number",
        reply: || json(r#"{"data": [{"id": 3, "amount": 1e400}]}"#),
        error: Some(&["record 1", "number out of range"]),
        rows: 2,
    },
    Case {
        name: "non_object",
        reply: || json(r#"{"data": [1, "two", null, [3]]}"#),
        // dlt loads scalars and lists as rows of a `value` column; so do we.
        error: None,
        rows: 6,
    },
    Case {
        name: "null_list",
        reply: || json(r#"{"data": null}"#),
        error: None,
        rows: 2,
    },
    Case {
        name: "empty",
        reply: || Reply::Raw(response(200, "application/json", b"")),
        error: Some(&["has an empty body (HTTP 200)"]),
        rows: 2,
    },
    Case {
        name: "slow",
        reply: || {
            Reply::Late(
                Duration::from_secs(6),
                response(200, "application/json", b"{}"),
            )
        },
        error: Some(&["timed out", "--request-timeout-secs"]),
        rows: 2,
    },
    Case {
        name: "reset",
        reply: || Reply::Reset,
        error: Some(&["reset by peer"]),
        rows: 2,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_page_fails_its_resource_clearly_and_keeps_the_pages_before_it() {
    let server = RawServer::start(|seen: &Seen| {
        let mut parts = seen.target.trim_start_matches('/').split('/');
        let (name, page) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if page == "1" {
            return json(&format!(
                r#"{{"data": [{{"id": 1}}, {{"id": 2}}], "next": "/{name}/2"}}"#
            ));
        }
        if name == "good" {
            return json(r#"{"data": [{"id": 3}], "next": null}"#);
        }
        match CASES.iter().find(|c| c.name == name) {
            Some(case) => (case.reply)(),
            None => Reply::Raw(response(404, "text/plain", b"no such case")),
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut resources = vec![json!({"name": "good", "endpoint": {"path": "/good/1"}})];
    for case in CASES {
        resources
            .push(json!({"name": case.name, "endpoint": {"path": format!("/{}/1", case.name)}}));
    }
    let config = json!({
        "name": "bad",
        "client": {
            "base_url": server.url(),
            "paginator": {"type": "json_link", "next_url_path": "next"}
        },
        "resource_defaults": {
            "endpoint": {
                "data_selector": "data",
                "error_handler": {"max_retries": 1, "backoff_factor": 0.05}
            }
        },
        "resources": resources
    });
    let config_path = dir.path().join("bad.json");
    std::fs::write(&config_path, config.to_string()).expect("write config");
    let db = dir.path().join("out.duckdb");
    let out = extract(vec![
        "run".into(),
        config_path.display().to_string(),
        "--db".into(),
        db.display().to_string(),
        "--request-timeout-secs".into(),
        "1".into(),
        "--concurrency".into(),
        "16".into(),
    ])
    .await;
    let all = output_text(&out);
    println!("{all}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(
        resource_status(&out, "good").as_deref(),
        Some("ok"),
        "{all}"
    );
    assert_eq!(row_count(&db, "bad.good"), 3);

    let mut problems = Vec::new();
    for case in CASES {
        let status = resource_status(&out, case.name);
        let error = resource_error(&out, case.name);
        match case.error {
            None => {
                if status.as_deref() != Some("ok") {
                    problems.push(format!("`{}` should complete: {error}", case.name));
                }
                continue;
            }
            Some(needles) => {
                if status.as_deref() != Some("FAILED") {
                    problems.push(format!("`{}` should fail, is {status:?}", case.name));
                    continue;
                }
                let mut want = vec![format!("resource `{}`, page 2", case.name)];
                want.extend(needles.iter().map(|n| n.to_string()));
                for needle in want {
                    if !error.contains(&needle) {
                        problems.push(format!(
                            "the error of `{}` lacks `{needle}`: {error}",
                            case.name
                        ));
                    }
                }
            }
        }
        let rows = row_count(&db, &format!("bad.{}", case.name));
        if rows != case.rows {
            problems.push(format!(
                "`{}` holds {rows} rows, not {}",
                case.name, case.rows
            ));
        }
    }
    assert!(problems.is_empty(), "{}\n\n{all}", problems.join("\n"));
}
