//! The component driven as the host drives it, with bodies shaped like
//! Pabbly's (and the repository's Pabbly mock's).

use extract_sdk::{Connector, ErrorKind, Extraction, ExtractionContext};
use rest_api_core::testing::{ok, param, query, records, response};
use serde_json::{Value, json};

use crate::Pabbly;

fn config() -> String {
    Pabbly::describe(r#"{"client": {"base_url": "http://127.0.0.1:8080/api/v1"}}"#)
        .expect("describe")
        .config
}

fn envelope(ids: std::ops::Range<u32>, prefix: &str) -> String {
    let data: Vec<Value> = ids
        .map(|i| json!({"id": format!("{prefix}{i}"), "status": "active"}))
        .collect();
    json!({"status": "success", "message": "list", "total_records": data.len(), "data": data})
        .to_string()
}

fn child(resource: &str, parent: Value) -> extract_sdk::Request {
    let mut x = Pabbly::extraction(
        &config(),
        resource,
        ExtractionContext::new().with_partition(parent.to_string()),
    );
    x.start().expect("start")
}

#[test]
fn describes_products_and_customers_as_parents() {
    let info = Pabbly::describe("").expect("describe");
    assert_eq!(info.name, "pabbly");
    let parent = |n: &str| {
        info.resources
            .iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("{n}"))
            .parent
            .clone()
    };
    for c in ["addons", "coupons", "licenses", "addon_list_category"] {
        assert_eq!(parent(c).as_deref(), Some("products"), "{c}");
    }
    for c in ["transactions", "refunds", "payment_methods"] {
        assert_eq!(parent(c).as_deref(), Some("customers"), "{c}");
    }
    for t in [
        "products",
        "customers",
        "invoices",
        "multiplans",
        "subscriptions",
        "payment_gateways",
    ] {
        assert_eq!(parent(t), None, "{t}");
    }
    assert_eq!(info.resources.len(), 13);
    let cfg: Value = serde_json::from_str(&info.config).expect("json");
    assert_eq!(
        cfg["client"]["base_url"],
        json!("https://payments.pabbly.com/api/v1")
    );
}

#[test]
fn no_400_is_retried() {
    let cfg: Value = serde_json::from_str(&config()).expect("json");
    for r in cfg["resources"].as_array().expect("list") {
        assert!(r["endpoint"].get("error_handler").is_none(), "{r}");
    }
}

#[test]
fn top_level_lists_page_by_100_until_a_short_page() {
    let mut x = Pabbly::extraction(&config(), "customers", ExtractionContext::new());
    let first = x.start().expect("start");
    assert_eq!(first.url, "/customers");
    assert_eq!(query(&first), vec![("page", "1"), ("limit", "100")]);
    let body = envelope(0..100, "cust_");
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(records(&page, &body).len(), 100);
    assert_eq!(param(&page.next.expect("page 2"), "page"), Some("2"));
    let body = envelope(100..101, "cust_");
    assert_eq!(x.next(ok(&body)).expect("page 2").next, None);
}

#[test]
fn children_read_the_parent_id() {
    let product = json!({"id": "prod_9x", "product_name": "Gold"});
    assert_eq!(child("addons", product.clone()).url, "/addons/prod_9x");
    assert_eq!(child("coupons", product.clone()).url, "/coupon/prod_9x");
    assert_eq!(
        child("licenses", product.clone()).url,
        "/products/prod_9x/licenses"
    );
    assert_eq!(
        child("addon_list_category", product).url,
        "/addonlistcategory/prod_9x"
    );
    let customer = json!({"id": "cust_1", "email_id": "a@example.com"});
    assert_eq!(
        child("transactions", customer.clone()).url,
        "/transactions/cust_1"
    );
    assert_eq!(child("refunds", customer.clone()).url, "/refund/cust_1");
    assert_eq!(
        child("payment_methods", customer).url,
        "/paymentmethods/cust_1"
    );
}

#[test]
fn an_empty_child_answers_400_and_is_ignored() {
    for (resource, message) in [
        ("transactions", "No transaction found"),
        ("refunds", "No refund found"),
        ("payment_methods", "No payment method found"),
    ] {
        let mut x = Pabbly::extraction(
            &config(),
            resource,
            ExtractionContext::new().with_partition(json!({"id": "cust_1"}).to_string()),
        );
        x.start().expect("start");
        let body = json!({"status": "error", "message": message}).to_string();
        let page = x.next(response(400, &body)).expect(resource);
        assert!(records(&page, &body).is_empty());
        assert_eq!((page.next, page.checkpoint), (None, None));
    }
}

#[test]
fn a_full_child_page_then_400_ends_the_partition() {
    let mut x = Pabbly::extraction(
        &config(),
        "addons",
        ExtractionContext::new().with_partition(json!({"id": "prod_1"}).to_string()),
    );
    x.start().expect("start");
    let body = envelope(0..100, "addon_");
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(records(&page, &body).len(), 100);
    assert!(page.next.is_some());
    let page = x
        .next(response(
            400,
            r#"{"status":"error","message":"No addon found"}"#,
        ))
        .expect("page 2: past the end");
    assert_eq!(page.next, None);
}

#[test]
fn other_400s_are_errors() {
    let mut x = Pabbly::extraction(
        &config(),
        "coupons",
        ExtractionContext::new().with_partition(json!({"id": "prod_1"}).to_string()),
    );
    x.start().expect("start");
    let e = x
        .next(response(
            400,
            r#"{"status":"error","message":"Invalid product id"}"#,
        ))
        .expect_err("a real 400");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.starts_with("HTTP 400"), "{}", e.message);
    let mut x = Pabbly::extraction(&config(), "products", ExtractionContext::new());
    x.start().expect("start");
    let e = x
        .next(response(
            400,
            r#"{"status":"error","message":"No data found"}"#,
        ))
        .expect_err("top-level lists do not ignore 400");
    assert_eq!(e.kind, ErrorKind::BadResponse);
}
