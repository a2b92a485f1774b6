//! Serialized records, generated once and reused, and the splicing of cached
//! record text into page envelopes: building a nested `serde_json::Value` costs
//! tens of microseconds per record, copying its text costs next to nothing,
//! so a benchmark measures the product and not the mock.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::Value;

/// Largest record count per resource that is cached (about 4 KB per record
/// at most: 25 000 records of the largest resource hold ~100 MB). Larger
/// resources are generated on every request.
pub const MAX_CACHED_RECORDS: usize = 25_000;

/// Placeholder for the record list inside an envelope; [`splice`] replaces
/// it. NUL never occurs in generated data, and JSON escapes it, so the
/// marker cannot collide with record text.
pub const RECORDS: &str = "\u{0}records\u{0}";

/// Placeholder for the server origin inside cached records that hold
/// absolute links; [`with_origin`] replaces it.
pub const ORIGIN: &str = "\u{0}origin\u{0}";

/// Text of the records of one resource, filled on first use.
#[derive(Debug)]
pub struct RecordCache {
    slots: Vec<OnceLock<Box<str>>>,
}

impl RecordCache {
    /// A cache for `n` records (empty, i.e. disabled, above
    /// [`MAX_CACHED_RECORDS`]).
    pub fn new(n: usize) -> Self {
        let n = if n <= MAX_CACHED_RECORDS { n } else { 0 };
        Self {
            slots: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The JSON text of record `i`, made by `make` the first time.
    pub fn get(&self, i: usize, make: impl FnOnce() -> Value) -> Cow<'_, str> {
        match self.slots.get(i) {
            Some(slot) => Cow::Borrowed(slot.get_or_init(|| make().to_string().into_boxed_str())),
            None => Cow::Owned(make().to_string()),
        }
    }

    /// Fills every slot now.
    pub fn warm(&self, make: impl Fn(usize) -> Value) {
        for (i, slot) in self.slots.iter().enumerate() {
            slot.get_or_init(|| make(i).to_string().into_boxed_str());
        }
    }
}

/// `[a,b,...]`, or with `wrapper` `w`: `[{"w":a},{"w":b},...]`.
pub fn join<'a>(items: impl IntoIterator<Item = Cow<'a, str>>, wrapper: Option<&str>) -> String {
    let mut out = String::from("[");
    for (k, item) in items.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        match wrapper {
            Some(w) => {
                out.push_str("{\"");
                out.push_str(w);
                out.push_str("\":");
                out.push_str(&item);
                out.push('}');
            }
            None => out.push_str(&item),
        }
    }
    out.push(']');
    out
}

/// `envelope` serialized, with the string value [`RECORDS`] replaced by the
/// JSON text `records`.
pub fn splice(envelope: &Value, records: &str) -> String {
    let marker = Value::String(RECORDS.to_owned()).to_string();
    envelope.to_string().replacen(&marker, records, 1)
}

/// `text` with every [`ORIGIN`] placeholder (as serialized inside a JSON
/// string) replaced by `origin` (which needs no JSON escaping).
pub fn with_origin(text: &str, origin: &str) -> String {
    let marker = Value::String(ORIGIN.to_owned()).to_string();
    let marker = marker.trim_matches('"');
    text.replace(marker, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spliced_pages_equal_the_value_built_pages() {
        let recs = [json!({"id": 1, "n": "ä\"x"}), json!({"id": 2, "n": null})];
        let cache = RecordCache::new(2);
        let text = join((0..2).map(|i| cache.get(i, || recs[i].clone())), None);
        let page = splice(&json!({"data": RECORDS, "next": null}), &text);
        let parsed: Value = serde_json::from_str(&page).expect("valid JSON");
        assert_eq!(parsed, json!({"data": recs, "next": null}));
        let wrapped = join(
            (0..2).map(|i| cache.get(i, || unreachable!())),
            Some("customer"),
        );
        let parsed: Value = serde_json::from_str(&wrapped).expect("valid JSON");
        assert_eq!(
            parsed,
            json!([{"customer": recs[0]}, {"customer": recs[1]}])
        );
    }

    #[test]
    fn oversized_resources_are_not_cached() {
        let cache = RecordCache::new(MAX_CACHED_RECORDS + 1);
        assert!(matches!(cache.get(0, || json!(1)), Cow::Owned(_)));
        assert!(matches!(
            RecordCache::new(1).get(0, || json!(1)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn origin_placeholder_is_replaced_inside_strings() {
        let v = json!({"href": format!("{ORIGIN}/v1/x")});
        let text = with_origin(&v.to_string(), "http://127.0.0.1:9");
        assert_eq!(text, r#"{"href":"http://127.0.0.1:9/v1/x"}"#);
    }
}
