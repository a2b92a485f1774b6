//! The component driven as the host drives it, with bodies shaped like
//! Younium's (and the repository's Younium mock's).

use extract_sdk::{Connector, ErrorKind, Extraction, ExtractionContext};
use rest_api_core::testing::{ok, query, records, response};
use serde_json::{Value, json};

use crate::{SANDBOX_BASE_URL, SANDBOX_TOKEN_URL, Younium};

const MOCK: &str =
    r#"{"client": {"base_url": "http://127.0.0.1:8080", "auth": {"token_url": "/connect/token"}}}"#;

fn config(overrides: &str) -> Value {
    serde_json::from_str(&Younium::describe(overrides).expect("describe").config).expect("json")
}

#[test]
fn describes_the_password_grant_on_the_identity_server() {
    let cfg = config("{}");
    assert_eq!(cfg["name"], json!("younium"));
    assert_eq!(cfg["client"]["base_url"], json!("https://api.younium.com"));
    let auth = &cfg["client"]["auth"];
    assert_eq!(auth["grant_type"], json!("password"));
    assert_eq!(
        auth["token_url"],
        json!("https://younium-identity-server.azurewebsites.net/connect/token")
    );
    assert_eq!(auth["client_id"], json!("apiclient"));
    assert_eq!(auth["legal_entity"], json!("{{ secrets.legal_entity }}"));
    let info = Younium::describe("").expect("describe");
    let names: Vec<&str> = info.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["account", "booking", "invoice", "product", "subscription"]
    );
}

#[test]
fn token_url_and_base_url_are_overridable() {
    let cfg = config(MOCK);
    assert_eq!(cfg["client"]["base_url"], json!("http://127.0.0.1:8080"));
    assert_eq!(cfg["client"]["auth"]["token_url"], json!("/connect/token"));
    assert_eq!(
        cfg["client"]["auth"]["username"],
        json!("{{ secrets.username }}"),
        "the rest of auth stays"
    );
    let cfg = config(r#"{"sandbox": true}"#);
    assert_eq!(cfg["client"]["base_url"], json!(SANDBOX_BASE_URL));
    assert_eq!(cfg["client"]["auth"]["token_url"], json!(SANDBOX_TOKEN_URL));
    let e = Younium::describe(r#"{"sandbox": "yes"}"#).expect_err("not a bool");
    assert_eq!(e.kind, ErrorKind::InvalidConfig);
}

#[test]
fn follows_next_page_urls_until_null() {
    let cfg = Younium::describe(MOCK).expect("describe").config;
    let mut x = Younium::extraction(&cfg, "invoice", ExtractionContext::new());
    let first = x.start().expect("start");
    assert_eq!(first.url, "/Invoices");
    assert_eq!(query(&first), vec![("PageSize", "100")]);
    let next_url = "http://127.0.0.1:8080/Invoices?PageNumber=2&PageSize=100";
    let body = json!({"data": [{"id": "5f1c-1", "invoiceNumber": "10001"}, {"id": "5f1c-2"}], "nextPage": next_url}).to_string();
    let page = x.next(ok(&body)).expect("page 1");
    assert_eq!(records(&page, &body).len(), 2);
    let next = page.next.expect("page 2");
    assert_eq!(next.url, next_url);
    assert!(next.query.is_empty(), "the URL carries the query");
    assert!(page.checkpoint.is_some());
    let body = json!({"data": [{"id": "5f1c-3"}], "nextPage": null}).to_string();
    let page = x.next(ok(&body)).expect("page 2");
    assert_eq!(records(&page, &body).len(), 1);
    assert_eq!(page.next, None);
}

#[test]
fn a_missing_next_page_ends_too() {
    let cfg = Younium::describe(MOCK).expect("describe").config;
    let mut x = Younium::extraction(&cfg, "account", ExtractionContext::new());
    assert_eq!(x.start().expect("start").url, "/Accounts");
    assert_eq!(x.next(ok(r#"{"data": []}"#)).expect("page").next, None);
}

#[test]
fn resumes_from_a_checkpoint_at_the_next_page_url() {
    let cfg = Younium::describe(MOCK).expect("describe").config;
    let mut x = Younium::extraction(&cfg, "product", ExtractionContext::new());
    x.start().expect("start");
    let body = json!({"data": [{"id": "p1"}], "nextPage": "http://127.0.0.1:8080/Products?PageNumber=2&PageSize=100"}).to_string();
    let page = x.next(ok(&body)).expect("page 1");
    let mut resumed = Younium::extraction(
        &cfg,
        "product",
        ExtractionContext::new().with_checkpoint(page.checkpoint.clone()),
    );
    assert_eq!(Some(resumed.start().expect("start")), page.next);
}

#[test]
fn an_expired_token_that_the_host_could_not_refresh_is_explained() {
    let cfg = Younium::describe(MOCK).expect("describe").config;
    let mut x = Younium::extraction(&cfg, "booking", ExtractionContext::new());
    x.start().expect("start");
    let e = x
        .next(response(
            401,
            r#"{"title": "Unauthorized", "status": 401, "detail": "The token is expired"}"#,
        ))
        .expect_err("401");
    assert!(
        e.message.contains("credentials were rejected"),
        "{}",
        e.message
    );
}
