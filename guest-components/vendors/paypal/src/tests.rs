//! The component driven as the host drives it, with bodies shaped like
//! PayPal's (and the repository's PayPal mock's).

use extract_sdk::{Connector, ErrorKind, Extraction, ExtractionContext, Method, Request};
use rest_api_core::testing::{body, ok, param, query, records};
use serde_json::{Value, json};

use crate::{PayPal, SANDBOX_BASE_URL};

/// What a test run against the repository's mock overrides.
const MOCK: &str =
    r#"{"client": {"base_url": "http://127.0.0.1:8080"}, "start_date": "2024-01-01T00:00:00Z"}"#;

fn config(overrides: &str) -> String {
    PayPal::describe(overrides).expect("describe").config
}

fn start(resource: &str, ctx: ExtractionContext) -> (crate::RestExtraction, Request) {
    let mut x = PayPal::extraction(&config(MOCK), resource, ctx);
    let r = x.start().expect("start");
    (x, r)
}

fn transactions(ids: &[(&str, &str)], page: u32, total_pages: u32) -> String {
    let details: Vec<Value> = ids
        .iter()
        .map(|(id, updated)| {
            json!({
                "transaction_info": {"transaction_id": id, "transaction_updated_date": updated,
                    "transaction_amount": {"currency_code": "USD", "value": "10.00"}},
                "payer_info": {"email_address": "a@buyer.example"},
                "cart_info": {"item_details": []}
            })
        })
        .collect();
    json!({"transaction_details": details, "account_number": "DEMOACCOUNT01", "page": page,
           "total_items": ids.len(), "total_pages": total_pages, "links": []})
    .to_string()
}

fn secs(iso: &str) -> i64 {
    // Days from 1970 for the few dates the tests use (UTC), via a fixed table.
    let (date, time) = iso.split_once('T').expect("timestamp");
    let mut p = date.split('-').map(|x| x.parse::<i64>().expect("number"));
    let (y, m, d) = (
        p.next().expect("y"),
        p.next().expect("m"),
        p.next().expect("d"),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let t: Vec<i64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|x| x.parse().expect("number"))
        .collect();
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

#[test]
fn describes_resources_keys_and_the_product_parent() {
    let info = PayPal::describe("{}").expect("describe");
    assert_eq!(info.name, "paypal");
    let keys: Vec<(&str, &str, Option<&str>)> = info
        .resources
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.primary_key[0].as_str(),
                r.parent.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("transactions", "transaction_info.transaction_id", None),
            ("balances", "as_of_time", None),
            ("list_products", "id", None),
            ("show_product_details", "id", Some("list_products")),
            ("list_disputes", "dispute_id", None),
            ("search_invoices", "id", None),
            ("list_payments", "id", None),
        ]
    );
    let cfg: Value = serde_json::from_str(&info.config).expect("json");
    assert_eq!(cfg["client"]["base_url"], json!("https://api-m.paypal.com"));
    assert_eq!(
        cfg["client"]["auth"]["token_url"],
        json!("/v1/oauth2/token")
    );
    assert_eq!(
        cfg["client"]["auth"]["grant_type"],
        json!("client_credentials")
    );
}

#[test]
fn overrides_sandbox_and_start_date() {
    let cfg: Value = serde_json::from_str(&config(r#"{"sandbox": true}"#)).expect("json");
    assert_eq!(cfg["client"]["base_url"], json!(SANDBOX_BASE_URL));
    let cfg: Value = serde_json::from_str(&config(MOCK)).expect("json");
    assert_eq!(
        cfg["resources"][0]["endpoint"]["date_window"]["start"],
        json!("2024-01-01T00:00:00Z")
    );
    assert_eq!(
        cfg["resources"][0]["endpoint"]["date_window"]["max_days"],
        json!(31),
        "the rest of the window stays"
    );
    let e = PayPal::describe(r#"{"start_date": "last year"}"#).expect_err("bad date");
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(e.message.starts_with("start_date"), "{}", e.message);
    let e = PayPal::describe(r#"{"start_date": {"y": 2024}}"#).expect_err("bad type");
    assert!(e.message.starts_with("start_date"), "{}", e.message);
}

#[test]
fn transactions_start_with_a_31_day_window_and_all_fields() {
    let (_, first) = start("transactions", ExtractionContext::new());
    assert_eq!(first.url, "/v1/reporting/transactions");
    assert_eq!(
        query(&first),
        vec![
            ("fields", "all"),
            ("start_date", "2024-01-01T00:00:00Z"),
            ("end_date", "2024-01-31T23:59:59Z"),
            ("page", "1"),
            ("page_size", "500"),
        ]
    );
}

#[test]
fn transactions_walk_contiguous_windows_of_at_most_31_days_up_to_now() {
    let (mut x, first) = start("transactions", ExtractionContext::new());
    let mut windows = vec![first];
    loop {
        let page = x.next(ok(&transactions(&[], 1, 0))).expect("empty window");
        match page.next {
            Some(next) => {
                assert!(page.checkpoint.is_some());
                windows.push(next);
            }
            None => break,
        }
        assert!(windows.len() < 1000, "the walk ends");
    }
    let bounds: Vec<(i64, i64)> = windows
        .iter()
        .map(|r| {
            (
                secs(param(r, "start_date").expect("start")),
                secs(param(r, "end_date").expect("end")),
            )
        })
        .collect();
    for (i, (s, e)) in bounds.iter().enumerate() {
        assert!(e - s <= 31 * 86_400, "window {i} is at most 31 days");
        assert!(e >= s);
        if let Some((next_start, _)) = bounds.get(i + 1) {
            assert_eq!(*next_start, e + 1, "windows are contiguous");
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let last_end = bounds.last().expect("windows").1;
    assert!(
        (now - 5..=now).contains(&(last_end + 1)),
        "the walk ends now"
    );
    assert_eq!(bounds[0].0, secs("2024-01-01T00:00:00Z"));
}

#[test]
fn transactions_page_each_window_to_total_pages_then_move_on() {
    let (mut x, _) = start("transactions", ExtractionContext::new());
    let body = transactions(
        &[
            ("1AB", "2024-01-02T10:00:00+0000"),
            ("2CD", "2024-01-05T10:00:00+0000"),
        ],
        1,
        2,
    );
    let page = x.next(ok(&body)).expect("window 1 page 1");
    assert_eq!(records(&page, &body).len(), 2);
    assert_eq!(
        page.state.as_deref(),
        Some(r#"{"last_value":"2024-01-05T10:00:00+0000"}"#)
    );
    let next = page.next.expect("page 2");
    assert_eq!(
        (param(&next, "start_date"), param(&next, "page")),
        (Some("2024-01-01T00:00:00Z"), Some("2"))
    );
    let body = transactions(&[("3EF", "2024-01-03T10:00:00+0000")], 2, 2);
    let page = x.next(ok(&body)).expect("window 1 page 2");
    assert_eq!(page.state, None, "older than the newest seen");
    let next = page.next.expect("window 2");
    assert_eq!(
        (param(&next, "start_date"), param(&next, "page")),
        (Some("2024-02-01T00:00:00Z"), Some("1"))
    );
}

#[test]
fn later_runs_start_at_the_newest_transaction_seen() {
    let ctx = ExtractionContext::new().with_state(r#"{"last_value":"2024-03-20T08:30:00+0000"}"#);
    let (_, first) = start("transactions", ctx);
    assert_eq!(
        (param(&first, "start_date"), param(&first, "end_date")),
        (Some("2024-03-20T08:30:00Z"), Some("2024-04-20T08:29:59Z"))
    );
}

#[test]
fn balances_are_one_record() {
    let (mut x, first) = start("balances", ExtractionContext::new());
    assert_eq!(first.url, "/v1/reporting/balances");
    assert!(first.query.is_empty());
    let body = r#"{"balances": [{"currency": "USD", "primary": true}], "account_id": "DEMOACCOUNT01", "as_of_time": "2024-04-01T00:00:00Z", "last_refreshed_time": "2024-03-31T23:00:00Z"}"#;
    let page = x.next(ok(body)).expect("page");
    let recs = records(&page, body);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["as_of_time"], json!("2024-04-01T00:00:00Z"));
    assert_eq!(page.next, None);
}

#[test]
fn products_page_to_total_pages_and_details_run_per_product() {
    let (mut x, first) = start("list_products", ExtractionContext::new());
    assert_eq!(
        query(&first),
        vec![
            ("total_required", "true"),
            ("page", "1"),
            ("page_size", "20")
        ]
    );
    let products: Vec<Value> = (0..20)
        .map(|i| json!({"id": format!("PROD-{i}"), "name": "x"}))
        .collect();
    let body = json!({"products": products, "total_items": 40, "total_pages": 2,
        "links": [{"href": "http://127.0.0.1:8080/v1/catalogs/products?page_size=20&page=2", "rel": "next", "method": "GET"}]}).to_string();
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(param(&page.next.expect("page 2"), "page"), Some("2"));
    let more: Vec<Value> = (20..40)
        .map(|i| json!({"id": format!("PROD-{i}"), "name": "x"}))
        .collect();
    let body =
        json!({"products": more, "total_items": 40, "total_pages": 2, "links": []}).to_string();
    assert_eq!(x.next(ok(&body)).expect("page 2").next, None, "page 2 of 2");

    let (mut d, first) = start(
        "show_product_details",
        ExtractionContext::new().with_partition(r#"{"id": "PROD-XY12345", "name": "Gizmo"}"#),
    );
    assert_eq!(first.url, "/v1/catalogs/products/PROD-XY12345");
    let body = r#"{"id": "PROD-XY12345", "name": "Gizmo", "type": "PHYSICAL", "links": []}"#;
    let page = d.next(ok(body)).expect("details");
    assert_eq!(records(&page, body)[0]["type"], json!("PHYSICAL"));
    assert_eq!(page.next, None);
}

#[test]
fn disputes_follow_the_next_link() {
    let (mut x, first) = start("list_disputes", ExtractionContext::new());
    assert_eq!(query(&first), vec![("page_size", "50")]);
    let next_href =
        "http://127.0.0.1:8080/v1/customer/disputes?page_size=50&next_page_token=bz01MCZjPTEyMw";
    let body = json!({"items": [{"dispute_id": "PP-D-10001", "status": "OPEN"}], "links": [
        {"href": "http://127.0.0.1:8080/v1/customer/disputes?page_size=50", "rel": "self", "method": "GET"},
        {"href": next_href, "rel": "next", "method": "GET"}]})
    .to_string();
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(records(&page, &body)[0]["dispute_id"], json!("PP-D-10001"));
    let next = page.next.expect("next");
    assert_eq!(next.url, next_href);
    assert!(next.query.is_empty());
    let body = json!({"items": [{"dispute_id": "PP-D-10004"}], "links": [
        {"href": next_href, "rel": "self", "method": "GET"}]})
    .to_string();
    assert_eq!(x.next(ok(&body)).expect("last").next, None);
}

#[test]
fn invoices_are_searched_by_post_to_total_pages() {
    let (mut x, first) = start("search_invoices", ExtractionContext::new());
    assert_eq!(first.method, Method::Post);
    assert_eq!(first.url, "/v2/invoicing/search-invoices");
    assert_eq!(body(&first), json!({}));
    assert_eq!(
        query(&first),
        vec![
            ("total_required", "true"),
            ("page", "1"),
            ("page_size", "100")
        ]
    );
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("INV2-{i}"), "status": "PAID"}))
        .collect();
    let text =
        json!({"items": items, "total_items": 150, "total_pages": 2, "links": []}).to_string();
    let page = x.next(ok(&text)).expect("page 1");
    let next = page.next.expect("page 2");
    assert_eq!(
        (next.method, param(&next, "page")),
        (Method::Post, Some("2"))
    );
    assert_eq!(body(&next), json!({}));
    let text = json!({"items": items[..50], "total_items": 150, "total_pages": 2}).to_string();
    assert_eq!(x.next(ok(&text)).expect("page 2").next, None);
}

#[test]
fn payments_follow_next_id_as_start_id() {
    let (mut x, first) = start("list_payments", ExtractionContext::new());
    assert_eq!(query(&first), vec![("count", "20")]);
    let text =
        r#"{"payments": [{"id": "PAY-A"}, {"id": "PAY-B"}], "count": 2, "next_id": "PAY-C"}"#;
    let page = x.next(ok(text)).expect("page 1");
    assert_eq!(records(&page, text).len(), 2);
    let next = page.next.expect("next");
    assert_eq!(query(&next), vec![("count", "20"), ("start_id", "PAY-C")]);
    let text = r#"{"payments": [{"id": "PAY-C"}], "count": 1}"#;
    assert_eq!(x.next(ok(text)).expect("last").next, None);
}
