//! Property tests ("fuzz targets") for the config parser and the data
//! selector, through the public API a component exports. They run in
//! `cargo test` with a few cases and in `just fuzz` with many
//! (`PROPTEST_CASES`). Inside a component a panic aborts the instance, so
//! "never panics, whatever the input" is the property that matters.

use extract_sdk::{Connector, Extraction, ExtractionContext, Records, Response};
use proptest::prelude::*;
use rest_api_core::RestApi;
use rest_api_core::testing::records;
use serde_json::{Value, json};

/// Few cases in `cargo test`; `PROPTEST_CASES` (as `just fuzz` sets it) for more.
fn config() -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 64;
    }
    c.failure_persistence = None;
    c
}

/// Arbitrary JSON, biased towards the keys and values a config uses.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("client".to_string()),
        Just("base_url".to_string()),
        Just("resources".to_string()),
        Just("resource_defaults".to_string()),
        Just("name".to_string()),
        Just("endpoint".to_string()),
        Just("path".to_string()),
        Just("params".to_string()),
        Just("paginator".to_string()),
        Just("type".to_string()),
        Just("data_selector".to_string()),
        Just("incremental".to_string()),
        Just("cursor_path".to_string()),
        Just("include_from_parent".to_string()),
        Just("response_actions".to_string()),
        Just("auth".to_string()),
        Just("date_window".to_string()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("http://127.0.0.1:1".to_string()),
            Just("page_number".to_string()),
            Just("json_link".to_string()),
            Just("offset".to_string()),
            Just("cursor".to_string()),
            Just("single_page".to_string()),
            Just("{{ secrets.x }}".to_string()),
            Just("{{ stream_partition.id }}".to_string()),
            Just("/items/{id}".to_string()),
            Just("$.data[*]".to_string()),
            "\\PC{0,16}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A plausible config with `value` planted somewhere inside it.
fn config_with(value: Value, slot: usize) -> Value {
    let mut c = json!({
        "client": {"base_url": "http://127.0.0.1:1/api"},
        "resources": [{"name": "r", "endpoint": {"path": "/items", "data_selector": "data"}}]
    });
    let target = match slot % 6 {
        0 => &mut c["client"]["paginator"],
        1 => &mut c["resources"][0]["endpoint"]["params"],
        2 => &mut c["resources"][0]["endpoint"]["paginator"],
        3 => &mut c["resources"][0]["endpoint"]["data_selector"],
        4 => &mut c["resource_defaults"],
        _ => &mut c["resources"][0]["endpoint"]["incremental"],
    };
    *target = value;
    c
}

fn response(body: Vec<u8>) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
        url: "http://127.0.0.1:1/api/items".into(),
    }
}

proptest! {
    #![proptest_config(config())]

    /// The config parser answers any text with a config or an error.
    #[test]
    fn config_parser_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = RestApi::describe(&text);
    }

    /// ... and any JSON document, however shaped.
    #[test]
    fn config_parser_never_panics_on_json(value in json_value()) {
        let _ = RestApi::describe(&value.to_string());
    }

    /// A config that is valid but for one arbitrary part: describe, start
    /// and a first page never panic.
    #[test]
    fn config_parts_never_panic(value in json_value(), slot in 0usize..6) {
        let config = config_with(value, slot).to_string();
        if let Ok(info) = RestApi::describe(&config) {
            let mut x = RestApi::extraction(&info.config, "r", ExtractionContext::new());
            if x.start().is_ok() {
                let _ = x.next(response(br#"{"data": [{"id": 1}], "next": null}"#.to_vec()));
            }
        }
    }

    /// Any data selector text against any body: records or an error.
    #[test]
    fn data_selector_never_panics(
        selector in prop_oneof![
            "\\PC{0,24}",
            "\\$?(\\.?[a-z*]{1,3}|\\[[0-9*]\\]|\\['[a-z.]{1,3}'\\]){0,4}",
        ],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            "[\\[\\]{}\":,a-z0-9 ]{0,64}".prop_map(String::into_bytes),
        ],
    ) {
        let config = json!({
            "client": {"base_url": "http://127.0.0.1:1"},
            "resources": [{"name": "r", "endpoint": {
                "path": "/items", "data_selector": selector, "paginator": "single_page"
            }}]
        });
        if let Ok(info) = RestApi::describe(&config.to_string()) {
            let mut x = RestApi::extraction(&info.config, "r", ExtractionContext::new());
            if x.start().is_ok()
                && let Ok(page) = x.next(response(body.clone()))
                && let Records::Spans(spans) = &page.records
            {
                // Every span the selector returns lies inside the body.
                for s in spans {
                    prop_assert!(s.start <= s.end && s.end as usize <= body.len());
                }
            }
        }
    }

    /// The selector finds exactly the records a body holds at its path,
    /// however the body is laid out, and each span parses to its record.
    #[test]
    fn data_selector_returns_exactly_the_records(
        items in prop::collection::vec(json_value(), 0..8),
        noise in json_value(),
        pretty in any::<bool>(),
        wrapped in any::<bool>(),
    ) {
        let (body, selector) = if wrapped {
            (json!({"meta": noise, "result": {"items": items}}), "result.items")
        } else {
            (json!({"items": items, "meta": noise}), "$.items")
        };
        let text = if pretty {
            serde_json::to_string_pretty(&body)
        } else {
            serde_json::to_string(&body)
        }
        .expect("serialize");
        let config = json!({
            "client": {"base_url": "http://127.0.0.1:1"},
            "resources": [{"name": "r", "endpoint": {
                "path": "/items", "data_selector": selector, "paginator": "single_page"
            }}]
        });
        let info = RestApi::describe(&config.to_string()).expect("valid config");
        let mut x = RestApi::extraction(&info.config, "r", ExtractionContext::new());
        x.start().expect("start");
        let page = x.next(response(text.clone().into_bytes())).expect("page");
        // Numbers are compared as serde_json reads them back (its float
        // parsing is not exact to the last bit without `float_roundtrip`).
        let want: Vec<Value> = items
            .iter()
            .map(|v| serde_json::from_str(&v.to_string()).expect("reparse"))
            .collect();
        prop_assert_eq!(records(&page, &text), want);
    }
}
