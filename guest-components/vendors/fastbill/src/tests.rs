//! The component driven as the host drives it, with bodies shaped like
//! FastBill's (and the repository's FastBill mock's).

use extract_sdk::{Connector, ErrorKind, Extraction, ExtractionContext};
use rest_api_core::testing::{body, ok, records, response};
use serde_json::{Value, json};

use crate::FastBill;

fn config() -> String {
    FastBill::describe(r#"{"client": {"base_url": "http://127.0.0.1:8080"}}"#)
        .expect("describe")
        .config
}

fn page_of(list: &str, key: &str, ids: std::ops::Range<u32>, request: Value) -> String {
    let items: Vec<Value> = ids
        .map(|i| json!({ key: i.to_string(), "CUSTOMER_NUMBER": format!("{}", 1000 + i) }))
        .collect();
    json!({"REQUEST": request, "RESPONSE": { list: items }}).to_string()
}

#[test]
fn describes_per_resource_primary_keys() {
    let info = FastBill::describe("{}").expect("describe");
    assert_eq!(info.name, "fastbill");
    let keys: Vec<(&str, &str)> = info
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.primary_key[0].as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("invoices", "INVOICE_ID"),
            ("recurring_invoices", "INVOICE_ID"),
            ("products", "ARTICLE_ID"),
            ("revenues", "INVOICE_ID"),
            ("customers", "CUSTOMER_ID"),
        ]
    );
    let cfg: Value = serde_json::from_str(&info.config).expect("json");
    assert_eq!(
        cfg["client"]["base_url"],
        json!("https://my.fastbill.com/api/1.0")
    );
}

#[test]
fn every_resource_posts_its_service_with_offset_and_limit_in_the_body() {
    for (resource, service) in [
        ("invoices", "invoice.get"),
        ("recurring_invoices", "recurring.get"),
        ("products", "article.get"),
        ("revenues", "revenue.get"),
        ("customers", "customer.get"),
    ] {
        let mut x = FastBill::extraction(&config(), resource, ExtractionContext::new());
        let first = x.start().expect("start");
        assert_eq!(first.method, extract_sdk::Method::Post);
        assert_eq!(first.url, "/api.php");
        assert!(first.query.is_empty());
        assert_eq!(
            body(&first),
            json!({"SERVICE": service, "OFFSET": 0, "LIMIT": 100}),
            "{resource}"
        );
    }
}

#[test]
fn pages_by_offset_until_a_short_page() {
    let mut x = FastBill::extraction(&config(), "customers", ExtractionContext::new());
    let first = x.start().expect("start");
    let text = page_of("CUSTOMERS", "CUSTOMER_ID", 0..100, body(&first));
    let page = x.next(ok(&text)).expect("page 1");
    let recs = records(&page, &text);
    assert_eq!(recs.len(), 100);
    assert_eq!(recs[3]["CUSTOMER_ID"], json!("3"));
    let next = page.next.expect("page 2");
    assert_eq!(
        body(&next),
        json!({"SERVICE": "customer.get", "OFFSET": 100, "LIMIT": 100})
    );
    let text = page_of("CUSTOMERS", "CUSTOMER_ID", 100..120, body(&next));
    let page = x.next(ok(&text)).expect("page 2");
    assert_eq!(records(&page, &text).len(), 20);
    assert_eq!(page.next, None);
}

#[test]
fn an_empty_page_ends_the_resource() {
    let mut x = FastBill::extraction(&config(), "products", ExtractionContext::new());
    x.start().expect("start");
    let text = page_of("ARTICLES", "ARTICLE_ID", 0..0, json!({}));
    assert_eq!(x.next(ok(&text)).expect("page").next, None);
}

#[test]
fn in_band_errors_are_reported_with_fastbills_message() {
    let mut x = FastBill::extraction(&config(), "invoices", ExtractionContext::new());
    x.start().expect("start");
    let e = x
        .next(ok(r#"{"REQUEST": {"SERVICE": "invoice.get"}, "RESPONSE": {"ERRORS": ["unknown service"]}}"#))
        .expect_err("in-band error");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert_eq!(
        e.message,
        "FastBill answered 200 to `invoices` with errors: unknown service"
    );
    let e = x
        .next(response(
            401,
            r#"{"REQUEST": null, "RESPONSE": {"ERRORS": ["Authentication failed: wrong e-mail or API key"]}}"#,
        ))
        .expect_err("auth");
    assert!(
        e.message.contains("check the username and api_key secrets"),
        "{}",
        e.message
    );
}

#[test]
fn an_empty_errors_list_is_no_error() {
    let mut x = FastBill::extraction(&config(), "revenues", ExtractionContext::new());
    x.start().expect("start");
    let text = r#"{"RESPONSE": {"ERRORS": [], "REVENUES": [{"INVOICE_ID": "9"}]}}"#;
    let page = x.next(ok(text)).expect("page");
    assert_eq!(records(&page, text), vec![json!({"INVOICE_ID": "9"})]);
}
