//! Flow tests: the connector driven through the SDK traits, as the host
//! drives it, with the seed configs and vendor-shaped responses.

use extract_sdk::log::{self, Level};
use extract_sdk::{
    Connector, ErrorKind, Extraction, ExtractionContext, Method, Page, Records, Request, Response,
    WriteDisposition,
};
use serde_json::{Value, json};

use crate::{RestApi, RestExtraction};

/// The five seed configs, converted to JSON with secrets as
/// `{{ secrets.NAME }}` (see `testdata/`).
pub(crate) fn seeds() -> Vec<(&'static str, String)> {
    vec![
        (
            "chargify",
            include_str!("../testdata/seed_000_chargify.json").to_owned(),
        ),
        (
            "pabbly",
            include_str!("../testdata/seed_001_pabbly.json").to_owned(),
        ),
        (
            "younium",
            include_str!("../testdata/seed_002_younium.json").to_owned(),
        ),
        (
            "fastbill",
            include_str!("../testdata/seed_003_fastbill.json").to_owned(),
        ),
        (
            "paypal",
            include_str!("../testdata/seed_004_paypal.json").to_owned(),
        ),
    ]
}

fn seed(name: &str) -> String {
    seeds()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_default()
}

fn effective(config: &str) -> String {
    RestApi::describe(config).expect("describe").config
}

fn start(config: &str, resource: &str, partition: Option<Value>) -> (RestExtraction, Request) {
    let partition = partition.map(|p| p.to_string());
    let mut e = RestApi::extraction(
        &effective(config),
        resource,
        ExtractionContext::new().with_partition(partition),
    );
    let r = e.start().expect("start");
    (e, r)
}

fn ok(body: &str) -> Response {
    response(200, body, &[])
}

fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
        url: "https://api.example.com/x".into(),
    }
}

/// The records of a page as JSON values (spans resolved against `body`).
fn records(page: &Page, body: &str) -> Vec<Value> {
    match &page.records {
        Records::Spans(spans) => spans
            .iter()
            .map(|s| {
                serde_json::from_str(&body[s.start as usize..s.end as usize]).expect("record json")
            })
            .collect(),
        Records::JsonArray(text) => serde_json::from_str(text).expect("array json"),
    }
}

fn query(r: &Request) -> Vec<(&str, &str)> {
    r.query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn describe_returns_name_effective_config_and_parents_first() {
    let info = RestApi::describe(&seed("pabbly")).expect("describe");
    assert_eq!(info.name, "rest_api");
    let names: Vec<&str> = info.resources.iter().map(|r| r.name.as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).expect("present");
    assert!(pos("products") < pos("addons"));
    assert!(pos("customers") < pos("refunds"));
    let addons = &info.resources[pos("addons")];
    assert_eq!(addons.parent.as_deref(), Some("products"));
    assert_eq!(addons.primary_key, vec!["id"]);
    assert_eq!(addons.write_disposition, WriteDisposition::Merge);
    let cfg: Value = serde_json::from_str(&info.config).expect("config json");
    assert_eq!(
        cfg["client"]["auth"]["username"],
        json!("{{ secrets.username }}")
    );
    assert_eq!(cfg["resources"][0]["primary_key"], json!("id"));
    // The effective config describes the same source again.
    let again = RestApi::describe(&info.config).expect("describe again");
    assert_eq!(again.resources, info.resources);
}

#[test]
fn describe_uses_configured_name() {
    let cfg = json!({"name": "billing", "client": {"base_url": "https://x"}, "resources": ["a"]});
    assert_eq!(
        RestApi::describe(&cfg.to_string()).expect("ok").name,
        "billing"
    );
}

#[test]
fn invalid_config_fails_describe_and_start() {
    let cfg = r#"{"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {"pth": "/a"}}]}"#;
    let e = RestApi::describe(cfg).expect_err("invalid");
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    assert!(
        e.message
            .starts_with("resources[0].endpoint.pth: unknown key"),
        "{}",
        e.message
    );
    let mut x = RestApi::extraction(cfg, "a", ExtractionContext::new());
    assert_eq!(
        x.start().expect_err("invalid").kind,
        ErrorKind::InvalidConfig
    );
}

#[test]
fn unknown_resource_fails_start() {
    let mut x = RestApi::extraction(&seed("chargify"), "nope", ExtractionContext::new());
    let e = x.start().expect_err("unknown");
    assert!(
        e.message.contains("unknown resource `nope`"),
        "{}",
        e.message
    );
}

#[test]
fn chargify_wrapper_array_pages_until_short_page() {
    let cfg = seed("chargify").replace("\"limit\": 200", "\"limit\": 2");
    let (mut x, first) = start(&cfg, "customers", None);
    assert_eq!(first.method, Method::Get);
    assert_eq!(first.url, "/customers.json");
    assert_eq!(query(&first), vec![("page", "1"), ("per_page", "2")]);
    let body = r#"[{"customer": {"id": 1, "email": "a@x"}}, {"customer": {"id": 2}}]"#;
    let page = x.next(ok(body)).expect("page 1");
    assert_eq!(
        records(&page, body),
        vec![json!({"id": 1, "email": "a@x"}), json!({"id": 2})]
    );
    let next = page.next.expect("page 2");
    assert_eq!(query(&next), vec![("page", "2"), ("per_page", "2")]);
    assert!(page.checkpoint.is_some());
    let body = r#"[{"customer": {"id": 3}}]"#;
    let page = x.next(ok(body)).expect("page 2");
    assert_eq!(records(&page, body), vec![json!({"id": 3})]);
    assert_eq!(page.next, None);
    assert_eq!(page.checkpoint, None);
}

#[test]
fn chargify_empty_last_page_ends_cleanly() {
    let cfg = seed("chargify").replace("\"limit\": 200", "\"limit\": 1");
    let (mut x, _) = start(&cfg, "customers", None);
    let page = x.next(ok(r#"[{"customer": {"id": 1}}]"#)).expect("page 1");
    assert!(page.next.is_some());
    let page = x.next(ok("[]")).expect("page 2");
    assert_eq!(page.records, Records::Spans(vec![]));
    assert_eq!(page.next, None);
}

#[test]
fn chargify_seed_invoice_selector_quirk_is_a_clear_error() {
    let (mut x, _) = start(&seed("chargify"), "invoices", None);
    let e = x
        .next(ok(r#"{"invoices": [{"uid": "inv_1"}]}"#))
        .expect_err("no match");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(
        e.message.starts_with("data_selector \"invoices.json\" matched nothing: `invoices[*]` is an object with keys [\"uid\"]"),
        "{}",
        e.message
    );
}

#[test]
fn pabbly_child_resource_renders_parent_id_into_path() {
    let product = json!({"id": "prod_7", "product_name": "Gold"});
    let (mut x, first) = start(&seed("pabbly"), "addons", Some(product));
    assert_eq!(first.url, "/addons/prod_7");
    assert_eq!(query(&first), vec![("page", "1"), ("limit", "100")]);
    let body = r#"{"status": "success", "data": [{"id": "a1"}]}"#;
    let page = x.next(ok(body)).expect("page");
    assert_eq!(records(&page, body), vec![json!({"id": "a1"})]);
    assert_eq!(page.next, None, "a short page is the last");
}

#[test]
fn pabbly_child_without_partition_is_invalid_state() {
    let mut x = RestApi::extraction(&seed("pabbly"), "addons", ExtractionContext::new());
    let e = x.start().expect_err("no partition");
    assert_eq!(e.kind, ErrorKind::InvalidState);
    assert!(e.message.contains("child of `products`"), "{}", e.message);
}

#[test]
fn pabbly_child_400_is_an_error_unless_ignored() {
    let customer = json!({"id": "c1"});
    let (mut x, _) = start(&seed("pabbly"), "transactions", Some(customer.clone()));
    let e = x
        .next(response(
            400,
            r#"{"status":"error","message":"No transaction found"}"#,
            &[],
        ))
        .expect_err("400");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(
        e.message
            .starts_with("HTTP 400 from GET https://api.example.com/x: {\"status\":\"error\""),
        "{}",
        e.message
    );

    let cfg = seed("pabbly").replace(
        "\"path\": \"/transactions/{{ stream_partition.customer_id }}\",",
        "\"path\": \"/transactions/{{ stream_partition.customer_id }}\", \"response_actions\": [{\"status_code\": 400, \"content\": \"No transaction\", \"action\": \"ignore\"}],",
    );
    let (mut x, _) = start(&cfg, "transactions", Some(customer));
    let page = x
        .next(response(
            400,
            r#"{"status":"error","message":"No transaction found"}"#,
            &[],
        ))
        .expect("ignored");
    assert_eq!(page.records, Records::Spans(vec![]));
    assert_eq!(page.next, None);
}

#[test]
fn younium_follows_next_page_url_until_null() {
    let (mut x, first) = start(&seed("younium"), "account", None);
    assert_eq!(first.url, "/v1/accounts");
    assert_eq!(query(&first), vec![("limit", "100")]);
    let body = r#"{"data": [{"id": "A1"}], "nextPage": "https://api.example.com/v1/accounts?PageNumber=2&PageSize=100"}"#;
    let page = x.next(ok(body)).expect("page 1");
    assert_eq!(records(&page, body), vec![json!({"id": "A1"})]);
    let next = page.next.expect("next");
    assert_eq!(
        next.url,
        "https://api.example.com/v1/accounts?PageNumber=2&PageSize=100"
    );
    assert!(next.query.is_empty());
    let page = x
        .next(ok(r#"{"data": [{"id": "A2"}], "nextPage": null}"#))
        .expect("page 2");
    assert_eq!(page.next, None);
}

#[test]
fn fastbill_posts_offset_and_limit_in_json_body() {
    let (mut x, first) = start(&seed("fastbill"), "invoices", None);
    assert_eq!(first.method, Method::Post);
    assert_eq!(first.url, "/api.php");
    assert!(first.query.is_empty());
    let body: Value =
        serde_json::from_str(first.json_body.as_deref().expect("body")).expect("json");
    assert_eq!(body, json!({"OFFSET": 0, "limit": 100}));
    let invoices: Vec<Value> = (0..100)
        .map(|i| json!({"INVOICE_ID": i.to_string()}))
        .collect();
    let body = json!({"RESPONSE": {"INVOICES": invoices}}).to_string();
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(records(&page, &body).len(), 100);
    let next = page.next.expect("next");
    let next_body: Value =
        serde_json::from_str(next.json_body.as_deref().expect("body")).expect("json");
    assert_eq!(next_body["OFFSET"], json!(100));
    let page = x
        .next(ok(r#"{"RESPONSE": {"INVOICES": []}}"#))
        .expect("page 2");
    assert_eq!(page.next, None);
}

#[test]
fn fastbill_service_body_from_config_is_kept() {
    let cfg = seed("fastbill").replacen(
        "\"method\": \"POST\",",
        "\"method\": \"POST\", \"json\": {\"SERVICE\": \"invoice.get\"},",
        1,
    );
    let (_, first) = start(&cfg, "invoices", None);
    let body: Value =
        serde_json::from_str(first.json_body.as_deref().expect("body")).expect("json");
    assert_eq!(
        body,
        json!({"SERVICE": "invoice.get", "OFFSET": 0, "limit": 100})
    );
}

#[test]
fn paypal_balances_whole_body_is_one_record() {
    let (mut x, first) = start(&seed("paypal"), "balances", None);
    assert!(first.query.is_empty());
    let body = r#"{"balances": [{"currency": "USD"}], "account_id": "X"}"#;
    let page = x.next(ok(body)).expect("page");
    assert_eq!(
        page.records,
        Records::Spans(vec![extract_sdk::Span {
            start: 0,
            end: body.len() as u32
        }])
    );
    assert_eq!(page.next, None);
}

#[test]
fn paypal_product_details_is_a_child_of_list_products() {
    let info = RestApi::describe(&seed("paypal")).expect("describe");
    let details = info
        .resources
        .iter()
        .find(|r| r.name == "show_product_details")
        .expect("details");
    assert_eq!(details.parent.as_deref(), Some("list_products"));
    let (mut x, first) = start(
        &seed("paypal"),
        "show_product_details",
        Some(json!({"id": "PROD-1", "name": "x"})),
    );
    assert_eq!(first.url, "/v1/catalogs/products/PROD-1");
    let body = r#"{"id": "PROD-1", "type": "SERVICE"}"#;
    let page = x.next(ok(body)).expect("page");
    assert_eq!(
        records(&page, body),
        vec![json!({"id": "PROD-1", "type": "SERVICE"})]
    );
}

#[test]
fn paypal_payments_cursor_finds_next_id_and_logs_it() {
    let (mut x, first) = start(&seed("paypal"), "list_payments", None);
    assert_eq!(query(&first), vec![("count", "20")]);
    let body = r#"{"payments": [{"id": "PAY-1"}], "count": 1, "next_id": "PAY-2"}"#;
    let (page, lines) = log::capture(|| x.next(ok(body)));
    let next = page.expect("page").next.expect("next");
    assert_eq!(query(&next), vec![("count", "20"), ("start_id", "PAY-2")]);
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == Level::Info && m.contains("`next_id`")),
        "{lines:?}"
    );
    let page = x.next(ok(r#"{"payments": [], "count": 0}"#)).expect("last");
    assert_eq!(page.next, None);
}

#[test]
fn checkpoint_resumes_with_the_next_request_and_paginator_state() {
    let cfg = seed("chargify").replace("\"limit\": 200", "\"limit\": 1");
    let (mut x, _) = start(&cfg, "customers", None);
    let page = x.next(ok(r#"[{"customer": {"id": 1}}]"#)).expect("page 1");
    let checkpoint = page.checkpoint.expect("checkpoint");
    let ck: Value = serde_json::from_str(&checkpoint).expect("json");
    assert_eq!(ck["v"], json!(1));
    assert_eq!(ck["next"]["url"], json!("/customers.json"));
    let mut resumed = RestApi::extraction(
        &effective(&cfg),
        "customers",
        ExtractionContext::new().with_checkpoint(checkpoint),
    );
    let r = resumed.start().expect("start");
    assert_eq!(Some(r), page.next);
    let page = resumed
        .next(ok(r#"[{"customer": {"id": 2}}]"#))
        .expect("page 2");
    assert_eq!(
        query(&page.next.expect("page 3")),
        vec![("page", "3"), ("per_page", "1")]
    );
}

#[test]
fn malformed_checkpoint_is_invalid_state() {
    let mut x = RestApi::extraction(
        &seed("chargify"),
        "customers",
        ExtractionContext::new().with_checkpoint("{\"v\": 9}".to_owned()),
    );
    assert_eq!(x.start().expect_err("bad").kind, ErrorKind::InvalidState);
}

#[test]
fn single_page_has_no_checkpoint() {
    let (mut x, _) = start(&seed("paypal"), "balances", None);
    let page = x.next(ok("{}")).expect("page");
    assert_eq!(page.checkpoint, None);
}

#[test]
fn include_from_parent_adds_prefixed_fields() {
    let cfg = json!({
        "client": {"base_url": "https://x"},
        "resources": [
            "products",
            {"name": "coupons", "include_from_parent": ["id", "name"], "endpoint": {
                "path": "/coupon/{product_id}", "data_selector": "data", "paginator": "single_page",
                "params": {"product_id": {"type": "resolve", "resource": "products", "field": "id"}}
            }}
        ]
    })
    .to_string();
    let (mut x, first) = start(&cfg, "coupons", Some(json!({"id": 5, "name": "Gold"})));
    assert_eq!(first.url, "/coupon/5");
    let body = r#"{"data": [{"code": "A"}, {}]}"#;
    let page = x.next(ok(body)).expect("page");
    assert!(matches!(page.records, Records::JsonArray(_)));
    assert_eq!(
        records(&page, body),
        vec![
            json!({"code": "A", "_products_id": 5, "_products_name": "Gold"}),
            json!({"_products_id": 5, "_products_name": "Gold"}),
        ]
    );
}

#[test]
fn same_records_twice_is_stuck() {
    let cfg = seed("chargify").replace("\"limit\": 200", "\"limit\": 2");
    let (mut x, _) = start(&cfg, "customers", None);
    let body = r#"[{"customer": {"id": 1}}, {"customer": {"id": 2}}]"#;
    x.next(ok(body)).expect("page 1");
    let e = x.next(ok(body)).expect_err("stuck");
    assert_eq!(e.kind, ErrorKind::Stuck);
    assert!(e.message.contains("same 2 records"), "{}", e.message);
}

#[test]
fn unauthorized_says_credentials_were_rejected() {
    let (mut x, _) = start(&seed("younium"), "account", None);
    let e = x.next(response(401, "", &[])).expect_err("401");
    assert!(
        e.message.contains("HTTP 401") && e.message.contains("credentials were rejected"),
        "{}",
        e.message
    );
}

#[test]
fn empty_200_body_is_a_bad_response_but_204_holds_no_records() {
    let (mut x, _) = start(&seed("younium"), "account", None);
    let e = x.next(ok("  ")).expect_err("empty");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("empty body"), "{}", e.message);
    let (mut x, _) = start(&seed("chargify"), "customers", None);
    let page = x.next(response(204, "", &[])).expect("204 is no content");
    assert_eq!(records(&page, ""), Vec::<Value>::new());
}

#[test]
fn html_body_is_a_bad_response() {
    let (mut x, _) = start(&seed("younium"), "account", None);
    let e = x
        .next(ok("<html><body>Gateway</body></html>"))
        .expect_err("html");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(
        e.message.contains("is not JSON") && e.message.contains("<html>"),
        "{}",
        e.message
    );
}

#[test]
fn a_broken_body_is_not_json_before_it_is_a_selector_miss() {
    // The selector's walk is the only pass over a good body; a body it
    // rejects is checked whole, and that check's error is the one reported.
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page", "data_selector": "data"
    }}]})
    .to_string();
    for (body, why) in [
        (
            r#"{"data": [{"id": 1}, {"id": 2"#,
            "unexpected end of the body (truncated?) at byte 29",
        ),
        (
            r#"{"data": [{"id": 1}]} x"#,
            "unexpected characters after the JSON value at byte 22",
        ),
        (
            r#"{"other": 1} ]"#,
            "unexpected characters after the JSON value at byte 13",
        ),
        (r#"{"other": "1}"#, "unterminated string at byte 10"),
    ] {
        let (mut x, _) = start(&cfg, "a", None);
        let e = x.next(ok(body)).expect_err(body);
        assert_eq!(e.kind, ErrorKind::BadResponse);
        assert!(
            e.message.contains(&format!("is not JSON ({why})")),
            "{body}: {}",
            e.message
        );
    }
    // A good body without the key is a miss; one the walk rejects where
    // the loose scan does not is "not JSON" with the walk's error.
    let (mut x, _) = start(&cfg, "a", None);
    let e = x.next(ok(r#"{"other": 1}"#)).expect_err("miss");
    assert!(e.message.contains("matched nothing"), "{}", e.message);
    let (mut x, _) = start(&cfg, "a", None);
    let e = x.next(ok(r#"{"data": [1 2]}"#)).expect_err("walk");
    assert!(
        e.message
            .contains("is not JSON (expected ',' or ']' in an array at byte 12)"),
        "{}",
        e.message
    );
    let (mut x, _) = start(&cfg, "a", None);
    let page = x
        .next(ok("\u{feff} {\"data\": [{\"id\": 1}]}\n"))
        .expect("page");
    assert_eq!(
        records(&page, "\u{feff} {\"data\": [{\"id\": 1}]}\n").len(),
        1
    );
}

#[test]
fn auto_detection_logs_selector_and_paginator() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": ["issues"]}).to_string();
    let (mut x, first) = start(&cfg, "issues", None);
    assert_eq!(first.url, "issues");
    let body = r#"[{"id": 1}]"#;
    let (page, lines) = log::capture(|| {
        x.next(response(
            200,
            body,
            &[("link", "<https://x/issues?page=2>; rel=\"next\"")],
        ))
    });
    let page = page.expect("page");
    assert_eq!(page.next.expect("next").url, "https://x/issues?page=2");
    let text: Vec<&str> = lines.iter().map(|(_, m)| m.as_str()).collect();
    assert!(text.iter().any(|m| m.contains("header_link")), "{text:?}");
    assert!(
        text.iter().any(|m| m.contains("records are at `$`")),
        "{text:?}"
    );
}

#[test]
fn params_render_as_text_in_order() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page",
        "params": {"fields": "all", "n": 5, "flag": true, "skip": null, "ids": [1, "b"], "f": 1.5}
    }}]})
    .to_string();
    let (_, first) = start(&cfg, "a", None);
    assert_eq!(
        query(&first),
        vec![
            ("fields", "all"),
            ("n", "5"),
            ("flag", "true"),
            ("ids", "1"),
            ("ids", "b"),
            ("f", "1.5")
        ]
    );
}

#[test]
fn incremental_sends_start_and_end_params() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page",
        "incremental": {"cursor_path": "updated_at", "start_param": "start_date", "initial_value": "2024-01-01T00:00:00Z",
                        "end_param": "end_date", "end_value": "2024-01-31T00:00:00Z"}
    }}]})
    .to_string();
    let (_, first) = start(&cfg, "a", None);
    assert_eq!(
        query(&first),
        vec![
            ("start_date", "2024-01-01T00:00:00Z"),
            ("end_date", "2024-01-31T00:00:00Z")
        ]
    );
}

#[test]
fn incremental_param_sends_initial_value() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page",
        "params": {"since": {"type": "incremental", "cursor_path": "updated_at", "initial_value": 1700000000}}
    }}]})
    .to_string();
    let (_, first) = start(&cfg, "a", None);
    assert_eq!(query(&first), vec![("since", "1700000000")]);
}

#[test]
fn headers_and_json_templates_read_the_parent() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [
        "users",
        {"name": "posts", "endpoint": {
            "path": "/posts", "method": "POST", "paginator": "single_page",
            "headers": {"X-User": "{resources.users.id}"},
            "json": {"user_id": "{resources.users.id}", "label": "u-{resources.users.id}"}
        }}
    ]})
    .to_string();
    let (_, first) = start(&cfg, "posts", Some(json!({"id": 7})));
    assert_eq!(first.headers, vec![("X-User".to_owned(), "7".to_owned())]);
    let body: Value =
        serde_json::from_str(first.json_body.as_deref().expect("body")).expect("json");
    assert_eq!(body, json!({"user_id": 7, "label": "u-7"}));
}

#[test]
fn absolute_endpoint_url_passes_through() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [
        {"name": "a", "endpoint": {"path": "https://other.example.com/v2/a", "paginator": "single_page"}}
    ]})
    .to_string();
    let (_, first) = start(&cfg, "a", None);
    assert_eq!(first.url, "https://other.example.com/v2/a");
}

#[test]
fn every_seed_resource_starts() {
    for (name, cfg) in seeds() {
        let info = RestApi::describe(&cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        for r in &info.resources {
            let partition = r.parent.as_ref().map(|_| json!({"id": "P1"}).to_string());
            let mut x = RestApi::extraction(
                &info.config,
                &r.name,
                ExtractionContext::new().with_partition(partition),
            );
            let req = x
                .start()
                .unwrap_or_else(|e| panic!("{name}/{}: {e}", r.name));
            assert!(!req.url.contains('{'), "{name}/{}: {}", r.name, req.url);
        }
    }
}

// ---- incremental ---------------------------------------------------------

fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> (RestExtraction, Request) {
    let mut e = RestApi::extraction(&effective(config), resource, ctx);
    let r = e.start().expect("start");
    (e, r)
}

fn incremental_config(incremental: Value, paginator: Value) -> String {
    json!({"client": {"base_url": "https://x"}, "resources": [{"name": "items", "endpoint": {
        "path": "/items", "data_selector": "data", "paginator": paginator, "incremental": incremental
    }}]})
    .to_string()
}

fn state(v: Value) -> String {
    json!({ "last_value": v }).to_string()
}

#[test]
fn incremental_first_run_sends_initial_value_and_pages_carry_the_growing_max() {
    let cfg = incremental_config(
        json!({"cursor_path": "updated_at", "start_param": "since", "initial_value": "2024-01-01T00:00:00Z"}),
        json!({"type": "page_number", "limit": 2}),
    );
    let (mut x, first) = extraction(&cfg, "items", ExtractionContext::new());
    assert_eq!(
        query(&first),
        vec![
            ("since", "2024-01-01T00:00:00Z"),
            ("page", "1"),
            ("limit", "2")
        ]
    );
    let page = x
        .next(ok(
            r#"{"data": [{"updated_at": "2024-02-01T00:00:00Z"}, {"updated_at": "2024-01-15T00:00:00Z"}]}"#,
        ))
        .expect("page 1");
    assert_eq!(
        page.state,
        Some(state(json!("2024-02-01T00:00:00Z"))),
        "the largest value of the page, not the last"
    );
    let page = x
        .next(ok(r#"{"data": [{"updated_at": "2024-01-20T00:00:00Z"}]}"#))
        .expect("page 2");
    assert_eq!(page.state, None, "no growth: the stored state stays");
    assert_eq!(page.next, None);
}

#[test]
fn incremental_next_run_starts_from_the_stored_last_value() {
    let cfg = incremental_config(
        json!({"cursor_path": "updated_at", "start_param": "since", "initial_value": "2024-01-01",
               "end_param": "until", "end_value": "2025-01-01"}),
        json!("single_page"),
    );
    let ctx = ExtractionContext::new().with_state(state(json!("2024-02-01")));
    let (mut x, first) = extraction(&cfg, "items", ctx);
    assert_eq!(
        query(&first),
        vec![("since", "2024-02-01"), ("until", "2025-01-01")]
    );
    let page = x
        .next(ok(
            r#"{"data": [{"updated_at": "2024-02-01"}, {"updated_at": "2024-01-31"}]}"#,
        ))
        .expect("page");
    assert_eq!(page.state, None, "equal to the stored value is no growth");
    let (mut x, _) = extraction(
        &cfg,
        "items",
        ExtractionContext::new().with_state(state(json!("2024-02-01"))),
    );
    let page = x
        .next(ok(r#"{"data": [{"updated_at": "2024-02-02"}]}"#))
        .expect("page");
    assert_eq!(page.state, Some(state(json!("2024-02-02"))));
}

#[test]
fn incremental_compares_numbers_by_value() {
    let cfg = incremental_config(
        json!({"cursor_path": "seq", "start_param": "after", "initial_value": 5}),
        json!("single_page"),
    );
    let (mut x, first) = extraction(&cfg, "items", ExtractionContext::new());
    assert_eq!(query(&first), vec![("after", "5")]);
    let page = x
        .next(ok(r#"{"data": [{"seq": 9}, {"seq": 10}, {"seq": 2.5}]}"#))
        .expect("page");
    assert_eq!(page.state, Some(state(json!(10))));
}

#[test]
fn incremental_without_initial_value_takes_the_first_value_seen() {
    let cfg = incremental_config(
        json!({"cursor_path": "info.updated", "start_param": "since"}),
        json!("single_page"),
    );
    let (mut x, first) = extraction(&cfg, "items", ExtractionContext::new());
    assert!(first.query.is_empty(), "no value, no parameter");
    let page = x
        .next(ok(
            r#"{"data": [{"info": {"updated": "b"}}, {"info": {}}, {"info": {"updated": "c"}}]}"#,
        ))
        .expect("page");
    assert_eq!(page.state, Some(state(json!("c"))));
}

#[test]
fn incremental_param_form_sends_the_stored_value() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page", "data_selector": "data",
        "params": {"since": {"type": "incremental", "cursor_path": "id", "initial_value": 0}}
    }}]})
    .to_string();
    let (_, first) = extraction(&cfg, "a", ExtractionContext::new());
    assert_eq!(query(&first), vec![("since", "0")]);
    let (mut x, first) = extraction(
        &cfg,
        "a",
        ExtractionContext::new().with_state(state(json!(42))),
    );
    assert_eq!(query(&first), vec![("since", "42")]);
    let page = x
        .next(ok(r#"{"data": [{"id": 43}, {"id": 41}]}"#))
        .expect("page");
    assert_eq!(page.state, Some(state(json!(43))));
}

#[test]
fn incremental_values_reach_templates() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page", "method": "POST",
        "json": {"filter": {"since": "{incremental.start_value}", "first": "{{ incremental.initial_value }}"}},
        "incremental": {"cursor_path": "id", "initial_value": 1}
    }}]})
    .to_string();
    let (_, first) = extraction(
        &cfg,
        "a",
        ExtractionContext::new().with_state(state(json!(7))),
    );
    let body: Value =
        serde_json::from_str(first.json_body.as_deref().expect("body")).expect("json");
    assert_eq!(body, json!({"filter": {"since": 7, "first": 1}}));
}

#[test]
fn incremental_state_that_is_not_ours_is_invalid_state() {
    let cfg = incremental_config(json!({"cursor_path": "u"}), json!("single_page"));
    let mut x = RestApi::extraction(
        &effective(&cfg),
        "items",
        ExtractionContext::new().with_state("[1]"),
    );
    let e = x.start().expect_err("bad state");
    assert_eq!(e.kind, ErrorKind::InvalidState);
    assert!(
        e.message.contains("reset the resource's state"),
        "{}",
        e.message
    );
    // Without incremental, a stored state is ignored.
    let mut x = RestApi::extraction(
        &effective(&seed("chargify")),
        "customers",
        ExtractionContext::new().with_state("whatever"),
    );
    x.start().expect("state ignored");
}

#[test]
fn incremental_warns_once_about_a_missing_or_incomparable_cursor() {
    let cfg = incremental_config(
        json!({"cursor_path": "updated", "initial_value": "2024"}),
        json!({"type": "page_number", "limit": 1}),
    );
    let (mut x, _) = extraction(&cfg, "items", ExtractionContext::new());
    let (page, lines) = log::capture(|| x.next(ok(r#"{"data": [{"id": 1}]}"#)));
    assert_eq!(page.expect("page").state, None);
    assert!(
        lines.iter().any(|(l, m)| *l == Level::Warn
            && m.contains("cursor_path `updated` is in none of this page's 1 records")),
        "{lines:?}"
    );
    let (page, lines) = log::capture(|| x.next(ok(r#"{"data": [{"updated": 2025}]}"#)));
    assert_eq!(page.expect("page").state, None);
    assert!(lines.is_empty(), "warned once only: {lines:?}");

    let (mut x, _) = extraction(&cfg, "items", ExtractionContext::new());
    let (page, lines) = log::capture(|| x.next(ok(r#"{"data": [{"updated": 2025}]}"#)));
    assert_eq!(page.expect("page").state, None);
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("cannot compare 2025 with \"2024\"")),
        "{lines:?}"
    );
}

#[test]
fn incremental_checkpoint_keeps_the_max_seen() {
    let cfg = incremental_config(
        json!({"cursor_path": "u", "start_param": "since", "initial_value": 0}),
        json!({"type": "page_number", "limit": 1}),
    );
    let (mut x, _) = extraction(&cfg, "items", ExtractionContext::new());
    let page = x.next(ok(r#"{"data": [{"u": 50}]}"#)).expect("page 1");
    assert_eq!(page.state, Some(state(json!(50))));
    let ck = page.checkpoint.expect("checkpoint");
    let (mut resumed, again) = extraction(
        &cfg,
        "items",
        ExtractionContext::new()
            .with_checkpoint(ck)
            .with_state(state(json!(50))),
    );
    assert_eq!(Some(again), page.next);
    let page = resumed
        .next(ok(r#"{"data": [{"u": 40}]}"#))
        .expect("page 2");
    assert_eq!(page.state, None, "40 < 50 from the checkpoint");
    let page = resumed
        .next(ok(r#"{"data": [{"u": 60}]}"#))
        .expect("page 3");
    assert_eq!(page.state, Some(state(json!(60))));
}

#[test]
fn incremental_ignored_response_keeps_the_state() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "a", "endpoint": {
        "path": "/a", "paginator": "single_page",
        "response_actions": [{"status_code": 404, "action": "ignore"}],
        "incremental": {"cursor_path": "u", "start_param": "since", "initial_value": 1}
    }}]})
    .to_string();
    let (mut x, _) = extraction(&cfg, "a", ExtractionContext::new());
    let page = x.next(response(404, "{}", &[])).expect("ignored");
    assert_eq!((page.next, page.state), (None, None));
}

// ---- date_window ---------------------------------------------------------

fn window_config(window: Value, extra: Value) -> String {
    let mut endpoint = json!({
        "path": "/v1/reporting/transactions", "data_selector": "transaction_details",
        "params": {"fields": "all"},
        "paginator": {"type": "page_number", "page_param": "page", "limit_param": "page_size",
                      "limit": 2, "total_path": "total_pages"},
        "date_window": window
    });
    if let (Some(e), Value::Object(extra)) = (endpoint.as_object_mut(), extra) {
        e.extend(extra);
    }
    json!({"client": {"base_url": "https://x"}, "resources": [{"name": "transactions",
        "primary_key": "transaction_info.transaction_id", "endpoint": endpoint}]})
    .to_string()
}

fn q<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn tx_page(ids: &[&str], total_pages: u32) -> String {
    let details: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"transaction_info": {"transaction_id": id,
                "transaction_updated_date": format!("2024-01-{id}T00:00:00+0000")}})
        })
        .collect();
    json!({"transaction_details": details, "total_pages": total_pages}).to_string()
}

#[test]
fn date_window_walks_windows_paginating_each_fully() {
    let cfg = window_config(
        json!({"start_param": "start_date", "end_param": "end_date",
               "start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z", "max_days": 31}),
        json!({}),
    );
    let (mut x, first) = extraction(&cfg, "transactions", ExtractionContext::new());
    assert_eq!(
        query(&first),
        vec![
            ("fields", "all"),
            ("start_date", "2024-01-01T00:00:00Z"),
            ("end_date", "2024-02-01T00:00:00Z"),
            ("page", "1"),
            ("page_size", "2")
        ]
    );
    let body = tx_page(&["01", "02"], 2);
    let page = x.next(ok(&body)).expect("window 1 page 1");
    assert_eq!(records(&page, &body).len(), 2);
    let next = page.next.expect("page 2");
    assert_eq!(
        (q(&next, "start_date"), q(&next, "page")),
        (Some("2024-01-01T00:00:00Z"), Some("2"))
    );
    let ck: Value = serde_json::from_str(&page.checkpoint.expect("ck")).expect("json");
    assert_eq!(
        ck["window"],
        json!({"start": 1_704_067_200, "end": 1_706_745_600, "until": 1_709_251_200})
    );
    let page = x.next(ok(&tx_page(&["03"], 2))).expect("window 1 page 2");
    let next = page.next.expect("window 2");
    assert_eq!(
        query(&next),
        vec![
            ("fields", "all"),
            ("start_date", "2024-02-01T00:00:00Z"),
            ("end_date", "2024-03-01T00:00:00Z"),
            ("page", "1"),
            ("page_size", "2")
        ],
        "the last window is clamped to the end"
    );
    assert!(page.checkpoint.is_some());
    let page = x.next(ok(&tx_page(&[], 0))).expect("window 2, empty");
    assert_eq!(page.next, None);
    assert_eq!(page.checkpoint, None);
}

#[test]
fn date_window_end_inclusive_and_date_format() {
    let cfg = window_config(
        json!({"start_param": "from", "end_param": "to", "start": "2024-01-01", "end": "2024-02-15",
               "max_days": 31, "end_inclusive": true, "format": "date"}),
        json!({}),
    );
    let (mut x, first) = extraction(&cfg, "transactions", ExtractionContext::new());
    assert_eq!(
        (q(&first, "from"), q(&first, "to")),
        (Some("2024-01-01"), Some("2024-01-31"))
    );
    let next = x
        .next(ok(&tx_page(&[], 0)))
        .expect("empty")
        .next
        .expect("w2");
    assert_eq!(
        (q(&next, "from"), q(&next, "to")),
        (Some("2024-02-01"), Some("2024-02-14"))
    );
    let cfg = window_config(
        json!({"start_param": "from", "end_param": "to", "start": "2024-01-01T00:00:00Z",
               "end": "2024-01-10T00:00:00Z", "end_inclusive": true}),
        json!({}),
    );
    let (mut x, first) = extraction(&cfg, "transactions", ExtractionContext::new());
    assert_eq!(
        q(&first, "to"),
        Some("2024-01-09T23:59:59Z"),
        "one window without max_days"
    );
    assert_eq!(x.next(ok(&tx_page(&[], 0))).expect("page").next, None);
}

#[test]
fn date_window_resumes_in_the_window_of_the_checkpoint() {
    let cfg = window_config(
        json!({"start_param": "start_date", "end_param": "end_date",
               "start": "2024-01-01T00:00:00Z", "end": "2024-04-01T00:00:00Z", "max_days": 31}),
        json!({}),
    );
    let (mut x, _) = extraction(&cfg, "transactions", ExtractionContext::new());
    let page = x.next(ok(&tx_page(&[], 0))).expect("w1");
    let ck = page.checkpoint.expect("checkpoint after window 1");
    let (mut resumed, first) = extraction(
        &cfg,
        "transactions",
        ExtractionContext::new().with_checkpoint(ck),
    );
    assert_eq!(Some(first.clone()), page.next);
    assert_eq!(q(&first, "start_date"), Some("2024-02-01T00:00:00Z"));
    let next = resumed
        .next(ok(&tx_page(&[], 0)))
        .expect("w2")
        .next
        .expect("w3");
    assert_eq!(
        (q(&next, "start_date"), q(&next, "end_date")),
        (Some("2024-03-03T00:00:00Z"), Some("2024-04-01T00:00:00Z"))
    );
    assert_eq!(resumed.next(ok(&tx_page(&[], 0))).expect("w3").next, None);

    // A checkpoint written without a window cannot resume a walk.
    let plain = incremental_config(
        json!({"cursor_path": "u"}),
        json!({"type": "page_number", "limit": 1}),
    );
    let (mut p, _) = extraction(&plain, "items", ExtractionContext::new());
    let ck = p
        .next(ok(r#"{"data": [{"u": 1}]}"#))
        .expect("page")
        .checkpoint
        .expect("ck");
    let mut x = RestApi::extraction(
        &effective(&cfg),
        "transactions",
        ExtractionContext::new().with_checkpoint(ck),
    );
    let e = x.start().expect_err("no window in checkpoint");
    assert_eq!(e.kind, ErrorKind::InvalidState);
}

#[test]
fn date_window_start_moves_to_the_incremental_last_value() {
    let cfg = window_config(
        json!({"start_param": "start_date", "end_param": "end_date",
               "start": "2024-01-01T00:00:00Z", "end": "2024-04-01T00:00:00Z", "max_days": 31}),
        json!({"incremental": {"cursor_path": "transaction_info.transaction_updated_date"}}),
    );
    let (mut x, first) = extraction(&cfg, "transactions", ExtractionContext::new());
    assert_eq!(q(&first, "start_date"), Some("2024-01-01T00:00:00Z"));
    let page = x.next(ok(&tx_page(&["05", "20"], 1))).expect("w1");
    assert_eq!(page.state, Some(state(json!("2024-01-20T00:00:00+0000"))));
    let ck: Value = serde_json::from_str(page.checkpoint.as_deref().expect("ck")).expect("json");
    assert_eq!(ck["last_value"], json!("2024-01-20T00:00:00+0000"));

    let later = ExtractionContext::new().with_state(state(json!("2024-02-10T05:00:00+0000")));
    let (_, first) = extraction(&cfg, "transactions", later);
    assert_eq!(
        (q(&first, "start_date"), q(&first, "end_date")),
        (Some("2024-02-10T05:00:00Z"), Some("2024-03-12T05:00:00Z"))
    );
    let earlier = ExtractionContext::new().with_state(state(json!("2023-06-01T00:00:00Z")));
    let (_, first) = extraction(&cfg, "transactions", earlier);
    assert_eq!(
        q(&first, "start_date"),
        Some("2024-01-01T00:00:00Z"),
        "never before start"
    );
    let future = ExtractionContext::new().with_state(state(json!("2030-01-01T00:00:00Z")));
    let (_, first) = extraction(&cfg, "transactions", future);
    assert_eq!(
        (q(&first, "start_date"), q(&first, "end_date")),
        (Some("2024-04-01T00:00:00Z"), Some("2024-04-01T00:00:00Z")),
        "a last value past the end leaves one empty window"
    );
    let mut x = RestApi::extraction(
        &effective(&cfg),
        "transactions",
        ExtractionContext::new().with_state(state(json!("yesterday"))),
    );
    assert_eq!(
        x.start().expect_err("not a date").kind,
        ErrorKind::InvalidState
    );
}

#[test]
fn date_window_relative_bounds_resolve_against_now() {
    let cfg = window_config(
        json!({"start_param": "s", "end_param": "e", "start": "now-3d", "max_days": 2, "format": "unix"}),
        json!({}),
    );
    let before = crate::dates::now();
    let (mut x, first) = extraction(&cfg, "transactions", ExtractionContext::new());
    let after = crate::dates::now();
    let s: i64 = q(&first, "s").expect("s").parse().expect("int");
    let e: i64 = q(&first, "e").expect("e").parse().expect("int");
    assert!(
        (before - 3 * 86_400..=after - 3 * 86_400).contains(&s),
        "{s}"
    );
    assert_eq!(e - s, 2 * 86_400);
    let next = x.next(ok(&tx_page(&[], 0))).expect("w1").next.expect("w2");
    let s2: i64 = q(&next, "s").expect("s").parse().expect("int");
    let e2: i64 = q(&next, "e").expect("e").parse().expect("int");
    assert_eq!(s2, e);
    assert!((before..=after).contains(&e2), "the walk ends now");
    assert_eq!(x.next(ok(&tx_page(&[], 0))).expect("w2").next, None);
}

#[test]
fn date_window_ignored_response_moves_to_the_next_window() {
    let cfg = window_config(
        json!({"start_param": "s", "end_param": "e", "start": "2024-01-01", "end": "2024-01-03", "max_days": 1}),
        json!({"response_actions": [{"status_code": 404, "action": "ignore"}]}),
    );
    let (mut x, _) = extraction(&cfg, "transactions", ExtractionContext::new());
    let page = x.next(response(404, "", &[])).expect("ignored");
    let next = page.next.expect("next window");
    assert_eq!(q(&next, "s"), Some("2024-01-02T00:00:00Z"));
    assert!(page.checkpoint.is_some());
}

#[test]
fn date_window_forgets_the_last_window_s_records_when_checking_repeats() {
    let cfg = window_config(
        json!({"start_param": "s", "end_param": "e", "start": "2024-01-01", "end": "2024-01-03", "max_days": 1}),
        json!({}),
    );
    let (mut x, _) = extraction(&cfg, "transactions", ExtractionContext::new());
    let body = tx_page(&["01"], 1);
    x.next(ok(&body)).expect("w1").next.expect("w2");
    let page = x
        .next(ok(&body))
        .expect("the same record in the next (inclusive) window is not a repeat");
    assert_eq!(page.next, None);
}

// ---- vendor-component helpers ---------------------------------------------

#[test]
fn merge_config_merges_objects_and_resources_by_name() {
    let mut base = json!({
        "client": {"base_url": "https://api.vendor.com", "auth": {"type": "oauth2", "token_url": "/token", "scope": "a"}},
        "resources": ["plain", {"name": "items", "primary_key": "id", "endpoint": {"path": "/items", "params": {"a": 1, "b": 2}}}]
    });
    crate::merge_config(
        &mut base,
        json!({
            "client": {"base_url": "http://127.0.0.1:9", "auth": {"token_url": "http://127.0.0.1:9/t", "scope": null}},
            "resources": [
                {"name": "items", "endpoint": {"params": {"b": 3}}},
                {"name": "plain", "selected": false},
                "items",
                {"name": "extra", "endpoint": "/extra"}
            ]
        }),
    );
    assert_eq!(
        base,
        json!({
            "client": {"base_url": "http://127.0.0.1:9", "auth": {"type": "oauth2", "token_url": "http://127.0.0.1:9/t"}},
            "resources": [
                {"name": "plain", "selected": false},
                {"name": "items", "primary_key": "id", "endpoint": {"path": "/items", "params": {"a": 1, "b": 3}}},
                {"name": "extra", "endpoint": "/extra"}
            ]
        })
    );
}

#[test]
fn describe_with_builtin_applies_overrides() {
    let builtin = json!({"name": "acme", "client": {"base_url": "https://api.acme.com"},
        "resources": [{"name": "items", "endpoint": {"path": "/items", "paginator": "single_page"}}]})
    .to_string();
    let info = crate::describe_with_builtin(&builtin, "").expect("no overrides");
    assert_eq!(info.name, "acme");
    let info = crate::describe_with_builtin(
        &builtin,
        r#"{"client": {"base_url": "http://127.0.0.1:1234"}}"#,
    )
    .expect("overrides");
    let cfg: Value = serde_json::from_str(&info.config).expect("json");
    assert_eq!(cfg["client"]["base_url"], json!("http://127.0.0.1:1234"));
    assert_eq!(cfg["resources"][0]["endpoint"]["path"], json!("/items"));
    let e = crate::describe_with_builtin(&builtin, "[1]").expect_err("not an object");
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
    let e = crate::describe_with_builtin(&builtin, r#"{"clinet": {}}"#).expect_err("typo");
    assert!(
        e.message.starts_with("clinet: unknown key"),
        "{}",
        e.message
    );
}

#[test]
fn json_link_follows_a_filtered_links_entry() {
    let cfg = json!({"client": {"base_url": "https://x"}, "resources": [{"name": "disputes", "endpoint": {
        "path": "/v1/customer/disputes", "data_selector": "items", "params": {"page_size": 50},
        "paginator": {"type": "json_link", "next_url_path": "links[?(@.rel == 'next')].href"}
    }}]})
    .to_string();
    let (mut x, first) = extraction(&cfg, "disputes", ExtractionContext::new());
    assert_eq!(query(&first), vec![("page_size", "50")]);
    let body = r#"{"items": [{"dispute_id": "PP-D-1"}], "links": [
        {"href": "https://api.example.com/v1/customer/disputes?page_size=50", "rel": "self", "method": "GET"},
        {"href": "https://api.example.com/v1/customer/disputes?page_size=50&next_page_token=abc", "rel": "next", "method": "GET"}]}"#;
    let page = x.next(ok(body)).expect("page 1");
    let next = page.next.expect("next");
    assert_eq!(
        next.url,
        "https://api.example.com/v1/customer/disputes?page_size=50&next_page_token=abc"
    );
    assert!(next.query.is_empty());
    let body = r#"{"items": [{"dispute_id": "PP-D-2"}], "links": [{"href": "https://api.example.com/x", "rel": "self"}]}"#;
    assert_eq!(x.next(ok(body)).expect("last").next, None);
}
