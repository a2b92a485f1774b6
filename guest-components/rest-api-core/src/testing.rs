//! Helpers for native tests of components built on this crate: drive an
//! extraction as the host does, with vendor-shaped bodies, and read what
//! it planned and returned. Nothing here runs in a component (LTO drops it
//! from the `.wasm`).

use extract_sdk::{Page, Records, Request, Response};
use serde_json::Value;

/// The URL responses claim to come from.
pub const URL: &str = "https://api.example.com/test";

/// A response with `status` and a (JSON) `body`.
pub fn response(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
        url: URL.into(),
    }
}

/// A `200 OK` response with `body`.
pub fn ok(body: &str) -> Response {
    response(200, body)
}

/// The records of `page` as JSON values: spans resolved against `body` (the
/// body of the response the page came from), or the JSON array parsed.
///
/// # Panics
///
/// If a record is not JSON: a test failure.
pub fn records(page: &Page, body: &str) -> Vec<Value> {
    match &page.records {
        Records::Spans(spans) => spans
            .iter()
            .map(|s| {
                let text = &body[s.start as usize..s.end as usize];
                serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("record {text:?} is not JSON: {e}"))
            })
            .collect(),
        Records::JsonArray(text) => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("the records array is not JSON: {e}")),
    }
}

/// The query of `request` as string pairs, in order.
pub fn query(request: &Request) -> Vec<(&str, &str)> {
    request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The first value of query parameter `name`.
pub fn param<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The JSON body of `request` (`Value::Null` when it has none).
///
/// # Panics
///
/// If the body is not JSON: a test failure.
pub fn body(request: &Request) -> Value {
    request.json_body.as_deref().map_or(Value::Null, |b| {
        serde_json::from_str(b).unwrap_or_else(|e| panic!("body {b:?} is not JSON: {e}"))
    })
}
