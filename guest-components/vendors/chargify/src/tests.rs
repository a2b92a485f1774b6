//! The component driven as the host drives it, with bodies shaped like
//! Chargify's (and the repository's Chargify mock's).

use extract_sdk::{Connector, ErrorKind, Extraction, ExtractionContext, WriteDisposition};
use rest_api_core::testing::{ok, param, query, records};
use serde_json::{Value, json};

use crate::Chargify;

const MOCK: &str = r#"{"client": {"base_url": "http://127.0.0.1:8080"}}"#;

fn config(overrides: &str) -> String {
    Chargify::describe(overrides).expect("describe").config
}

fn wrapped(key: &str, ids: std::ops::Range<u32>) -> String {
    let list: Vec<Value> = ids
        .map(|i| json!({ key: {"id": i, "reference": format!("ref-{i}"), "updated_at": "2023-04-05T06:11:12-04:00"} }))
        .collect();
    Value::Array(list).to_string()
}

#[test]
fn describes_five_merge_resources_with_their_keys() {
    let info = Chargify::describe("{}").expect("describe");
    assert_eq!(info.name, "chargify");
    let got: Vec<(&str, Vec<String>)> = info
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.primary_key.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("customers", vec!["id".to_owned()]),
            ("subscriptions", vec!["id".to_owned()]),
            ("invoices", vec!["uid".to_owned()]),
            ("coupons", vec!["id".to_owned()]),
            ("transactions", vec!["id".to_owned()]),
        ]
    );
    assert!(
        info.resources
            .iter()
            .all(|r| r.write_disposition == WriteDisposition::Merge && r.parent.is_none())
    );
    let cfg: Value = serde_json::from_str(&info.config).expect("json");
    assert_eq!(
        cfg["client"]["auth"],
        json!({"type": "basic", "username": "{{ secrets.api_key }}", "password": "x"})
    );
}

#[test]
fn without_a_site_extractions_explain_what_to_set() {
    let mut x = Chargify::extraction(&config(""), "customers", ExtractionContext::new());
    let e = x.start().expect_err("no site");
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(
        e.message.contains("{\"subdomain\": \"acme\"}"),
        "{}",
        e.message
    );
}

#[test]
fn subdomain_override_sets_the_site_host() {
    let cfg: Value = serde_json::from_str(&config(r#"{"subdomain": "acme-eu"}"#)).expect("json");
    assert_eq!(
        cfg["client"]["base_url"],
        json!("https://acme-eu.chargify.com")
    );
    for bad in [
        r#"{"subdomain": "a.b"}"#,
        r#"{"subdomain": 3}"#,
        r#"{"subdomain": ""}"#,
    ] {
        let e = Chargify::describe(bad).expect_err(bad);
        assert!(e.message.starts_with("subdomain:"), "{}", e.message);
    }
    // A whole base_url wins over the subdomain (it is merged after it).
    let cfg: Value = serde_json::from_str(&config(
        r#"{"subdomain": "acme", "client": {"base_url": "https://acme.ebilling.maxio.com"}}"#,
    ))
    .expect("json");
    assert_eq!(
        cfg["client"]["base_url"],
        json!("https://acme.ebilling.maxio.com")
    );
}

#[test]
fn customers_page_through_wrapper_arrays_until_a_short_page() {
    let cfg = config(MOCK);
    let mut x = Chargify::extraction(&cfg, "customers", ExtractionContext::new());
    let first = x.start().expect("start");
    assert_eq!(first.url, "/customers.json");
    assert_eq!(query(&first), vec![("page", "1"), ("per_page", "200")]);
    let body = wrapped("customer", 0..200);
    let page = x.next(ok(&body)).expect("page 1");
    let recs = records(&page, &body);
    assert_eq!(recs.len(), 200);
    assert_eq!(
        recs[7]["reference"],
        json!("ref-7"),
        "the wrapper is unwrapped"
    );
    let next = page.next.expect("a full page has a successor");
    assert_eq!(param(&next, "page"), Some("2"));
    assert!(page.checkpoint.is_some());
    let body = wrapped("customer", 200..250);
    let page = x.next(ok(&body)).expect("page 2");
    assert_eq!(records(&page, &body).len(), 50);
    assert_eq!((page.next, page.checkpoint), (None, None));
}

#[test]
fn an_empty_page_after_a_full_one_ends_the_resource() {
    let cfg = config(MOCK);
    let mut x = Chargify::extraction(&cfg, "subscriptions", ExtractionContext::new());
    x.start().expect("start");
    let body = wrapped("subscription", 0..200);
    assert!(x.next(ok(&body)).expect("page 1").next.is_some());
    let page = x.next(ok("[]")).expect("page 2");
    assert!(records(&page, "[]").is_empty());
    assert_eq!(page.next, None);
}

#[test]
fn invoices_are_an_object_keyed_by_uid() {
    let cfg = config(MOCK);
    let mut x = Chargify::extraction(&cfg, "invoices", ExtractionContext::new());
    assert_eq!(x.start().expect("start").url, "/invoices.json");
    let body =
        r#"{"invoices": [{"uid": "inv_a1", "number": "1"}, {"uid": "inv_a2", "number": "2"}]}"#;
    let page = x.next(ok(body)).expect("page");
    assert_eq!(records(&page, body)[1]["uid"], json!("inv_a2"));
    assert_eq!(page.next, None, "short page");
    let page = x.next(ok(r#"{"invoices": []}"#));
    assert!(page.is_ok(), "an empty invoice page is fine");
}

#[test]
fn coupons_and_transactions_unwrap_their_keys() {
    let cfg = config(MOCK);
    for (resource, path, key) in [
        ("coupons", "/coupons.json", "coupon"),
        ("transactions", "/transactions.json", "transaction"),
    ] {
        let mut x = Chargify::extraction(&cfg, resource, ExtractionContext::new());
        assert_eq!(x.start().expect("start").url, path);
        let body = wrapped(key, 1..3);
        let page = x.next(ok(&body)).expect("page");
        assert_eq!(records(&page, &body)[0]["id"], json!(1), "{resource}");
    }
}

#[test]
fn overrides_reach_single_resources() {
    let cfg = config(
        r#"{"client": {"base_url": "http://127.0.0.1:1"}, "resources": [{"name": "customers", "endpoint": {"paginator": {"type": "page_number", "page_param": "page", "limit_param": "per_page", "limit": 50}}}]}"#,
    );
    let mut x = Chargify::extraction(&cfg, "customers", ExtractionContext::new());
    assert_eq!(param(&x.start().expect("start"), "per_page"), Some("50"));
    let mut x = Chargify::extraction(&cfg, "coupons", ExtractionContext::new());
    assert_eq!(param(&x.start().expect("start"), "per_page"), Some("200"));
}

#[test]
fn a_wrong_key_is_a_clear_error() {
    let cfg = config(MOCK);
    let mut x = Chargify::extraction(&cfg, "customers", ExtractionContext::new());
    x.start().expect("start");
    let e = x
        .next(ok(r#"[{"subscription": {"id": 1}}]"#))
        .expect_err("not customers");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(
        e.message.contains("\"customer\" matched nothing"),
        "{}",
        e.message
    );
}
