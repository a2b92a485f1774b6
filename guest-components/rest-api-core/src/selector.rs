//! `data_selector`: where a response body keeps its records, and the single
//! pass over the body that finds them.
//!
//! Accepted forms (dlt's plus the seeds'): a dotted path (`data`,
//! `a.b`), a JSONPath (`$.a.b`, `$.a[*]`, `$['a.b']`, `$.a[0]`), a list of
//! keys (`["RESPONSE", "INVOICES"]`), and `[]`, `""` or `$` for the whole
//! body. Absent means auto-detection, as dlt does (see [`detect`]).
//!
//! Matching follows dlt: one match that is an array yields its elements,
//! `null` yields nothing, anything else is one record; several matches are
//! one record each (arrays among them yield their elements). Beyond JSONPath, a key applied to an *array* applies to
//! each element, because vendors such as Chargify answer
//! `[{"customer": {...}}, ...]` and configs select `customer`.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::json::{self, Kind, Member, ScanError};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
    /// Every element (or member value): `[*]` or `.*`.
    Wildcard,
    /// The array elements that are objects whose member `key` equals
    /// `value`: the JSONPath filter `[?(@.key == 'value')]` (only this
    /// form: one key, `==`, a string, number, boolean or null literal).
    /// PayPal's `links[?(@.rel == 'next')].href` is the use.
    Filter {
        /// The member compared.
        key: String,
        /// The literal it must equal.
        value: serde_json::Value,
    },
}

impl Seg {
    /// Returns true if and only if the object element at `b[i]` passes
    /// this filter (false for any other segment or value).
    pub(crate) fn admits(&self, b: &[u8], i: usize) -> Result<bool, ScanError> {
        let Seg::Filter { key, value } = self else {
            return Ok(false);
        };
        if Kind::at(b, i) != Some(Kind::Object) {
            return Ok(false);
        }
        Ok(json::member(b, i, key)?
            .and_then(|r| json::parse(b, r))
            .is_some_and(|v| same_value(&v, value)))
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Parses the inside of `[?( ... )]`: `@.key == literal`.
fn parse_filter(inner: &str, text: &str) -> Result<Seg, String> {
    let bad = || {
        format!(
            "path {text:?}: unsupported filter [{inner}]; the supported form is [?(@.key == 'value')]"
        )
    };
    let expr = inner.strip_prefix('?').ok_or_else(bad)?.trim();
    let expr = expr
        .strip_prefix('(')
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or(expr)
        .trim();
    let (lhs, rhs) = expr.split_once("==").ok_or_else(bad)?;
    let key = lhs.trim().strip_prefix("@.").ok_or_else(bad)?.trim();
    if key.is_empty() || key.contains(['.', '[', ' ']) {
        return Err(bad());
    }
    let rhs = rhs.trim();
    let value = if let Some(q) = rhs.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        serde_json::Value::String(q.to_owned())
    } else {
        serde_json::from_str::<serde_json::Value>(rhs)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array())
            .ok_or_else(bad)?
    };
    Ok(Seg::Filter {
        key: key.to_owned(),
        value,
    })
}

/// Parses a dotted path or JSONPath (`a.b`, `$.a[*].b`, `$['x.y']`).
///
/// The whole-body forms (`""`, `$`) give an empty path. Recursive descent
/// (`..`) and filters (`[?(...)]`) are not supported.
pub(crate) fn parse_path(text: &str) -> Result<Vec<Seg>, String> {
    let s = text.trim();
    let mut segs = Vec::new();
    let mut rest = s.strip_prefix('$').unwrap_or(s);
    let rooted = rest.len() != s.len();
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = if after.trim_start().starts_with('?') {
                // A filter may hold ']' inside quotes: find the closing ')]'
                // or, without parentheses, the first ']' after the literal.
                after.find(")]").map(|i| i + 1).or_else(|| after.find(']'))
            } else {
                after.find(']')
            }
            .ok_or_else(|| format!("path {text:?}: unclosed '['"))?;
            let inner = after[..close].trim();
            rest = &after[close + 1..];
            if inner.starts_with('?') {
                segs.push(parse_filter(inner, text)?);
            } else if inner == "*" {
                segs.push(Seg::Wildcard);
            } else if let Ok(n) = inner.parse::<usize>() {
                segs.push(Seg::Index(n));
            } else if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|i| i.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|i| i.strip_suffix('"')))
            {
                segs.push(Seg::Key(q.to_owned()));
            } else {
                return Err(format!(
                    "path {text:?}: unsupported bracket expression [{inner}]; use [*], [N] or ['key']"
                ));
            }
        } else {
            if let Some(after) = rest.strip_prefix('.') {
                if after.starts_with('.') {
                    return Err(format!(
                        "path {text:?}: recursive descent (..) is not supported; spell the path out"
                    ));
                }
                rest = after;
            } else if !first || rooted {
                return Err(format!(
                    "path {text:?}: expected '.' or '[' before {rest:?}"
                ));
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let name = &rest[..end];
            if name.is_empty() {
                return Err(format!("path {text:?}: empty key"));
            }
            segs.push(if name == "*" {
                Seg::Wildcard
            } else {
                Seg::Key(name.to_owned())
            });
            rest = &rest[end..];
        }
        first = false;
    }
    Ok(segs)
}

/// Renders a path as the user would write it, for messages.
pub(crate) fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if k.contains(['.', '[', ']']) => out.push_str(&format!("['{k}']")),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(n) => out.push_str(&format!("[{n}]")),
            Seg::Wildcard => out.push_str("[*]"),
            Seg::Filter { key, value } => {
                let lit = match value {
                    serde_json::Value::String(v) => format!("'{v}'"),
                    other => other.to_string(),
                };
                out.push_str(&format!("[?(@.{key} == {lit})]"));
            }
        }
    }
    if out.is_empty() { "$".to_owned() } else { out }
}

/// Where records are, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Selector {
    /// Not configured: detected from the first response.
    Auto,
    /// A path; empty for the whole body.
    Path {
        /// The steps.
        path: Vec<Seg>,
        /// The selector as configured, for messages.
        text: String,
    },
}

impl Selector {
    /// Parses a `data_selector` config value.
    pub fn from_config(value: Option<&serde_json::Value>) -> Result<Selector, String> {
        use serde_json::Value;
        match value {
            None | Some(Value::Null) => Ok(Selector::Auto),
            Some(Value::String(s)) => Ok(Selector::Path {
                path: parse_path(s)?,
                text: s.clone(),
            }),
            Some(Value::Array(items)) => {
                let mut path = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(k) => path.push(Seg::Key(k.clone())),
                        Value::Number(n) => match n.as_u64() {
                            Some(i) => path.push(Seg::Index(i as usize)),
                            None => return Err(format!("list entry {n} is not an index")),
                        },
                        other => {
                            return Err(format!(
                                "list entries must be keys (strings), found {other}"
                            ));
                        }
                    }
                }
                let text = serde_json::to_string(items).unwrap_or_default();
                Ok(Selector::Path { path, text })
            }
            Some(other) => Err(format!(
                "expected a path string or a list of keys, found {other}"
            )),
        }
    }

    /// The whole body.
    pub fn whole() -> Selector {
        Selector::Path {
            path: Vec::new(),
            text: "$".to_owned(),
        }
    }
}

/// The outcome of scanning a body with a path.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    /// The records, as byte ranges of the body.
    pub records: Vec<Range<usize>>,
    /// The members of the top-level object (empty for other bodies), so
    /// pagination can read `total`, `next`, ... without another pass.
    pub top: Vec<Member>,
    /// The end of the JSON value the walk started at.
    pub end: usize,
}

/// Why a selection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SelectError {
    /// The body is not JSON.
    Scan(ScanError),
    /// The path matched nothing; the message says what was found instead.
    NoMatch(String),
}

impl From<ScanError> for SelectError {
    fn from(e: ScanError) -> Self {
        SelectError::Scan(e)
    }
}

/// A value the path reached, with its elements if it is an array.
struct Match {
    range: Range<usize>,
    elements: Option<Vec<Range<usize>>>,
}

/// How deep the walk may go into a body: deeper than any real API nests
/// its records, shallow enough for the component's stack and memory. The
/// host's JSON parser has the same limit.
const MAX_WALK_DEPTH: usize = 128;

struct Walk<'b> {
    b: &'b [u8],
    matches: Vec<Match>,
    /// The first place the path did not fit: where, and what was there.
    miss: Option<(String, String)>,
}

impl Walk<'_> {
    /// Walks the value at `i` along `path`; returns the value's end. `at`
    /// is the path walked so far (for messages); `top` collects the
    /// members of the top-level object.
    fn walk(
        &mut self,
        i: usize,
        path: &[Seg],
        at: &[Seg],
        top: Option<&mut Vec<Member>>,
    ) -> Result<usize, ScanError> {
        let b = self.b;
        // Wrapper arrays (a key applied to an array) nest the walk without
        // consuming the path; a hostile body could nest them without end.
        if at.len() > MAX_WALK_DEPTH {
            return Err(ScanError {
                offset: i,
                what: "JSON nested more than 128 levels deep",
            });
        }
        let kind = Kind::at(b, i);
        let Some(seg) = path.first() else {
            // The end of the path: this value is a match.
            return if kind == Some(Kind::Array) {
                let (els, end) = json::elements(b, i)?;
                self.matches.push(Match {
                    range: i..end,
                    elements: Some(els),
                });
                Ok(end)
            } else if let (Some(top), Some(Kind::Object)) = (top, kind) {
                let end = json::for_each_member(b, i, |key, value| {
                    let end = json::skip_value(b, value)?;
                    top.push(Member {
                        key,
                        value: value..end,
                    });
                    Ok(end)
                })?;
                self.matches.push(Match {
                    range: i..end,
                    elements: None,
                });
                Ok(end)
            } else {
                let end = json::skip_value(b, i)?;
                self.matches.push(Match {
                    range: i..end,
                    elements: None,
                });
                Ok(end)
            };
        };
        let rest = &path[1..];
        let mut here = at.to_vec();
        here.push(seg.clone());
        match (seg, kind) {
            (Seg::Key(k), Some(Kind::Object)) => {
                let mut found = false;
                let mut keys = Vec::new();
                let mut top = top;
                let end = json::for_each_member(b, i, |key, value| {
                    let end = if !found && json::key_is(b, &key, k) {
                        found = true;
                        self.walk(value, rest, &here, None)?
                    } else {
                        json::skip_value(b, value)?
                    };
                    if self.miss.is_none() && keys.len() < 20 {
                        keys.push(json::key_text(b, key.clone()).into_owned());
                    }
                    if let Some(top) = top.as_deref_mut() {
                        top.push(Member {
                            key,
                            value: value..end,
                        });
                    }
                    Ok(end)
                })?;
                if !found && !keys.is_empty() && self.miss.is_none() {
                    self.miss = Some((place(at), format!("an object with keys {keys:?}")));
                }
                Ok(end)
            }
            (Seg::Key(_), Some(Kind::Array)) => {
                // Wrapper objects: apply the same key to each element.
                let mut each = at.to_vec();
                each.push(Seg::Wildcard);
                json::for_each_element(b, i, |e| self.walk(e, path, &each, None))
            }
            (Seg::Index(n), Some(Kind::Array)) => {
                let mut idx = 0;
                let end = json::for_each_element(b, i, |e| {
                    let end = if idx == *n {
                        self.walk(e, rest, &here, None)?
                    } else {
                        json::skip_value(b, e)?
                    };
                    idx += 1;
                    Ok(end)
                })?;
                if idx <= *n && idx > 0 && self.miss.is_none() {
                    self.miss = Some((place(at), format!("an array of {idx} elements")));
                }
                Ok(end)
            }
            (Seg::Wildcard, Some(Kind::Array)) => {
                json::for_each_element(b, i, |e| self.walk(e, rest, &here, None))
            }
            (Seg::Filter { .. }, Some(Kind::Array)) => json::for_each_element(b, i, |e| {
                if seg.admits(b, e)? {
                    self.walk(e, rest, &here, None)
                } else {
                    json::skip_value(b, e)
                }
            }),
            (Seg::Wildcard, Some(Kind::Object)) => {
                let mut top = top;
                json::for_each_member(b, i, |key, value| {
                    let end = self.walk(value, rest, &here, None)?;
                    if let Some(top) = top.as_deref_mut() {
                        top.push(Member {
                            key,
                            value: value..end,
                        });
                    }
                    Ok(end)
                })
            }
            (_, kind) => {
                let end = json::skip_value(b, i)?;
                // `null` where records were expected means "no records".
                if kind != Some(Kind::Null) && self.miss.is_none() {
                    let what = kind.map_or("not a JSON value", Kind::describe);
                    self.miss = Some((place(at), what.to_owned()));
                }
                Ok(end)
            }
        }
    }
}

fn place(at: &[Seg]) -> String {
    if at.is_empty() {
        "the body".to_owned()
    } else {
        format!("`{}`", path_text(at))
    }
}

/// Scans the JSON value starting at `body[start]` once, returning the
/// records `path` selects, the top-level members and where the value ends.
/// A walk that succeeds has seen the whole value, so `json::document`
/// would accept it and find the same end (the walk is the stricter scan;
/// `walk_agrees_with_document` tests it): what is after the end is the
/// caller's to check.
///
/// Zero matches is an error only when the path hit something it could not
/// enter (a missing key in a non-empty object, a string where an object
/// was expected); empty objects and arrays and `null` simply hold no
/// records.
pub(crate) fn select(
    body: &[u8],
    start: usize,
    path: &[Seg],
    text: &str,
) -> Result<Selected, SelectError> {
    let mut walk = Walk {
        b: body,
        matches: Vec::new(),
        miss: None,
    };
    let mut top = Vec::new();
    let end = walk.walk(start, path, &[], Some(&mut top))?;
    if walk.matches.is_empty()
        && let Some((at, found)) = walk.miss
    {
        return Err(SelectError::NoMatch(format!(
            "data_selector {text:?} matched nothing: {at} is {found}"
        )));
    }
    let mut records = Vec::new();
    for m in walk.matches {
        match m.elements {
            Some(els) => records.extend(els),
            None if body[m.range.start] == b'n' => {}
            None => records.push(m.range),
        }
    }
    Ok(Selected { records, top, end })
}

/// Keys dlt treats as holding records when detecting a selector.
const RECORD_KEYS: &[&str] = &[
    "data", "items", "results", "entries", "records", "rows", "entities", "payload", "content",
    "objects", "values",
];

/// Detects where the records are, as dlt's `find_response_page_data` does:
/// a body that is not an object is the records; otherwise the first list
/// (depth-first, at most three keys deep) whose key is a usual records key
/// (`data`, `items`, `results`, ...), else the first list found, else the
/// whole object is one record.
pub(crate) fn detect(body: &[u8], start: usize) -> Result<Selector, ScanError> {
    if Kind::at(body, start) != Some(Kind::Object) {
        return Ok(Selector::whole());
    }
    let mut lists: Vec<Vec<Seg>> = Vec::new();
    find_lists(body, start, &mut Vec::new(), &mut lists)?;
    let chosen = lists
        .iter()
        .find(|p| matches!(p.last(), Some(Seg::Key(k)) if RECORD_KEYS.contains(&k.as_str())))
        .or_else(|| lists.first());
    Ok(match chosen {
        Some(path) => Selector::Path {
            text: path_text(path),
            path: path.clone(),
        },
        None => Selector::whole(),
    })
}

fn find_lists(
    b: &[u8],
    i: usize,
    path: &mut Vec<Seg>,
    out: &mut Vec<Vec<Seg>>,
) -> Result<usize, ScanError> {
    json::for_each_member(b, i, |key, value| match Kind::at(b, value) {
        Some(Kind::Array) => {
            let mut p = path.clone();
            p.push(Seg::Key(json::key_text(b, key).into_owned()));
            out.push(p);
            json::skip_value(b, value)
        }
        Some(Kind::Object) if path.len() < 2 => {
            path.push(Seg::Key(json::key_text(b, key).into_owned()));
            let end = find_lists(b, value, path, out);
            path.pop();
            end
        }
        _ => json::skip_value(b, value),
    })
}

/// Finds the first value at `path` in the top-level object `top`; the
/// first step uses the members the selection pass already found.
pub(crate) fn lookup(
    body: &[u8],
    top: &[Member],
    path: &[Seg],
) -> Result<Option<Range<usize>>, ScanError> {
    let Some((Seg::Key(first), rest)) = path.split_first() else {
        return Ok(None);
    };
    let Some(m) = top.iter().find(|m| json::key_is(body, &m.key, first)) else {
        return Ok(None);
    };
    let mut range = m.value.clone();
    for seg in rest {
        let next = match (seg, Kind::at(body, range.start)) {
            (Seg::Key(k), Some(Kind::Object)) => json::member(body, range.start, k)?,
            (Seg::Index(n), Some(Kind::Array)) => {
                json::elements(body, range.start)?.0.into_iter().nth(*n)
            }
            (Seg::Wildcard, Some(Kind::Array)) => {
                json::elements(body, range.start)?.0.into_iter().next()
            }
            (Seg::Filter { .. }, Some(Kind::Array)) => {
                let mut found = None;
                for e in json::elements(body, range.start)?.0 {
                    if seg.admits(body, e.start)? {
                        found = Some(e);
                        break;
                    }
                }
                found
            }
            _ => None,
        };
        match next {
            Some(r) => range = r,
            None => return Ok(None),
        }
    }
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: &str, selector: serde_json::Value) -> Result<Vec<String>, SelectError> {
        let b = body.as_bytes();
        let doc = json::document(b).expect("json").expect("doc");
        let (path, text) = match Selector::from_config(Some(&selector)).expect("selector") {
            Selector::Path { path, text } => (path, text),
            Selector::Auto => {
                let Selector::Path { path, text } = detect(b, doc.start).expect("detect") else {
                    panic!("detect gives a path")
                };
                (path, text)
            }
        };
        let s = select(b, doc.start, &path, &text)?;
        Ok(s.records.into_iter().map(|r| body[r].to_owned()).collect())
    }

    #[test]
    fn dotted_key_selects_array_elements_verbatim() {
        let got = run(
            r#"{"data": [{"id": 1}, {"id": 2}], "total": 2}"#,
            json!("data"),
        );
        assert_eq!(got.expect("ok"), vec![r#"{"id": 1}"#, r#"{"id": 2}"#]);
    }

    #[test]
    fn nested_dotted_path_selects() {
        let got = run(r#"{"a": {"b": [1, 2]}}"#, json!("a.b"));
        assert_eq!(got.expect("ok"), vec!["1", "2"]);
    }

    #[test]
    fn jsonpath_forms_select() {
        let body = r#"{"a": {"b": [{"x": 1}, {"x": 2}]}}"#;
        assert_eq!(run(body, json!("$.a.b")).expect("ok").len(), 2);
        assert_eq!(run(body, json!("$.a.b[*]")).expect("ok").len(), 2);
        assert_eq!(
            run(body, json!("$['a']['b'][1]")).expect("ok"),
            vec![r#"{"x": 2}"#]
        );
        assert_eq!(run(body, json!("$.a.b[*].x")).expect("ok"), vec!["1", "2"]);
    }

    #[test]
    fn list_form_selects_nested_keys() {
        let body = r#"{"RESPONSE": {"INVOICES": [{"INVOICE_ID": "7"}]}}"#;
        let got = run(body, json!(["RESPONSE", "INVOICES"])).expect("ok");
        assert_eq!(got, vec![r#"{"INVOICE_ID": "7"}"#]);
    }

    #[test]
    fn whole_body_forms_select_object_as_one_record() {
        let body = r#"{"balances": [1], "as_of": "x"}"#;
        for sel in [json!([]), json!(""), json!("$")] {
            assert_eq!(run(body, sel).expect("ok"), vec![body.to_owned()]);
        }
    }

    #[test]
    fn whole_body_array_yields_elements() {
        assert_eq!(
            run("[1, {\"a\": 2}]", json!([])).expect("ok"),
            vec!["1", "{\"a\": 2}"]
        );
    }

    #[test]
    fn key_applies_to_each_wrapper_element() {
        let body = r#"[{"customer": {"id": 1}}, {"customer": {"id": 2}}]"#;
        let got = run(body, json!("customer")).expect("ok");
        assert_eq!(got, vec![r#"{"id": 1}"#, r#"{"id": 2}"#]);
    }

    #[test]
    fn empty_array_body_is_zero_records_for_any_selector() {
        assert!(run("[]", json!("customer")).expect("ok").is_empty());
    }

    #[test]
    fn null_selection_is_zero_records() {
        assert!(
            run(r#"{"data": null}"#, json!("data"))
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn missing_key_reports_keys_found() {
        let err =
            run(r#"{"invoices": [{"uid": 1}]}"#, json!("invoice_list")).expect_err("no match");
        assert_eq!(
            err,
            SelectError::NoMatch(
                r#"data_selector "invoice_list" matched nothing: the body is an object with keys ["invoices"]"#
                    .to_owned()
            )
        );
    }

    #[test]
    fn missing_nested_key_names_the_level() {
        let err =
            run(r#"{"invoices": [{"uid": 1}]}"#, json!("invoices.json")).expect_err("no match");
        let SelectError::NoMatch(msg) = err else {
            panic!("{err:?}")
        };
        assert!(
            msg.contains("`invoices[*]` is an object with keys [\"uid\"]"),
            "{msg}"
        );
    }

    #[test]
    fn key_on_a_scalar_is_no_match() {
        let err = run(r#"{"data": "nope"}"#, json!("data.items")).expect_err("no match");
        let SelectError::NoMatch(msg) = err else {
            panic!("{err:?}")
        };
        assert!(msg.contains("`data` is a string"), "{msg}");
    }

    #[test]
    fn non_object_records_are_allowed() {
        assert_eq!(
            run(r#"{"ids": [1, "b", true]}"#, json!("ids")).expect("ok"),
            vec!["1", "\"b\"", "true"]
        );
    }

    #[test]
    fn deeply_nested_wrapper_arrays_are_an_error_not_a_crash() {
        let depth = 100_000;
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let b = body.as_bytes();
        let doc = json::document(b).unwrap().unwrap();
        let path = parse_path("data").unwrap();
        match select(b, doc.start, &path, "data") {
            Err(SelectError::Scan(e)) => assert!(e.what.contains("128 levels"), "{e}"),
            other => panic!("expected a depth error, got {other:?}"),
        }
    }

    #[test]
    fn detect_prefers_record_keys() {
        let got = run(
            r#"{"meta": {"tags": [1]}, "results": [{"id": 1}]}"#,
            serde_json::Value::Null,
        );
        assert_eq!(got.expect("ok"), vec![r#"{"id": 1}"#]);
    }

    #[test]
    fn detect_falls_back_to_first_list() {
        let got = run(
            r#"{"page": 1, "customers": [{"id": 1}]}"#,
            serde_json::Value::Null,
        );
        assert_eq!(got.expect("ok"), vec![r#"{"id": 1}"#]);
    }

    #[test]
    fn detect_finds_nested_lists() {
        let got = run(
            r#"{"response": {"result": {"items": [3]}}}"#,
            serde_json::Value::Null,
        );
        assert_eq!(got.expect("ok"), vec!["3"]);
    }

    #[test]
    fn detect_without_lists_takes_whole_object() {
        let body = r#"{"id": 1, "name": "x"}"#;
        assert_eq!(
            run(body, serde_json::Value::Null).expect("ok"),
            vec![body.to_owned()]
        );
    }

    #[test]
    fn detect_on_array_body_takes_elements() {
        assert_eq!(
            run("[1,2]", serde_json::Value::Null).expect("ok"),
            vec!["1", "2"]
        );
    }

    #[test]
    fn top_level_members_are_collected_in_the_same_pass() {
        let body = br#"{"data": [1], "next": "/p2"}"#;
        let doc = json::document(body).expect("json").expect("doc");
        let s = select(body, doc.start, &[Seg::Key("data".into())], "data").expect("ok");
        let next = lookup(body, &s.top, &parse_path("next").expect("path")).expect("scan");
        assert_eq!(next.map(|r| &body[r]), Some(&br#""/p2""#[..]));
    }

    #[test]
    fn lookup_descends_nested_paths() {
        let body = br#"{"meta": {"pagination": {"total_pages": 4}}}"#;
        let doc = json::document(body).expect("json").expect("doc");
        let s = select(body, doc.start, &[], "$").expect("ok");
        let path = parse_path("meta.pagination.total_pages").expect("path");
        let r = lookup(body, &s.top, &path).expect("scan").expect("found");
        assert_eq!(&body[r], b"4");
    }

    #[test]
    fn parse_path_rejects_unsupported_jsonpath() {
        assert!(parse_path("$..id").is_err());
        assert!(parse_path("$.a[?(@.x)]").is_err());
        assert!(parse_path("a[").is_err());
    }

    #[test]
    fn filter_selects_matching_elements() {
        let body =
            r#"{"links": [{"rel": "self", "href": "/a"}, {"rel": "next", "href": "/b"}, 3]}"#;
        assert_eq!(
            run(body, json!("links[?(@.rel == 'next')].href")).expect("ok"),
            vec![r#""/b""#]
        );
        assert_eq!(
            run(body, json!("$.links[?(@.rel==\"self\")]")).expect("ok"),
            vec![r#"{"rel": "self", "href": "/a"}"#]
        );
        assert!(
            run(body, json!("links[?(@.rel == 'prev')].href"))
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn lookup_follows_filters() {
        let body =
            br#"{"links": [{"rel": "self", "href": "/a"}, {"rel": "next", "href": "/b?x=[1]"}]}"#;
        let doc = json::document(body).expect("json").expect("doc");
        let s = select(body, doc.start, &[], "$").expect("ok");
        let path = parse_path("links[?(@.rel == 'next')].href").expect("path");
        let r = lookup(body, &s.top, &path).expect("scan").expect("found");
        assert_eq!(&body[r], br#""/b?x=[1]""#);
        let none = parse_path("links[?(@.rel == 'last')].href").expect("path");
        assert_eq!(lookup(body, &s.top, &none).expect("scan"), None);
    }

    #[test]
    fn filter_forms_parse_and_print() {
        let p = parse_path("links[?(@.rel == 'next')].href").expect("ok");
        assert_eq!(
            p[1],
            Seg::Filter {
                key: "rel".into(),
                value: json!("next")
            }
        );
        assert_eq!(path_text(&p), "links[?(@.rel == 'next')].href");
        let n = parse_path("$.a[?@.n == 2]").expect("ok");
        assert_eq!(
            n[1],
            Seg::Filter {
                key: "n".into(),
                value: json!(2)
            }
        );
        for bad in [
            "a[?(@.x > 1)]",
            "a[?(@.x.y == 1)]",
            "a[?(x == 1)]",
            "a[?(@.x == [1])]",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_path_accepts_dollar_and_dots() {
        assert_eq!(parse_path("$").expect("ok"), vec![]);
        assert_eq!(
            parse_path("$.a[*].b").expect("ok"),
            vec![Seg::Key("a".into()), Seg::Wildcard, Seg::Key("b".into())]
        );
        assert_eq!(parse_path("cursors.next").expect("ok").len(), 2);
    }

    /// Bodies near JSON: pages of records with a few bytes replaced,
    /// inserted or removed, so that the walk meets broken strings,
    /// brackets and separators anywhere.
    fn near_json() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let text = "[\"\\\\{}\\[\\]a-c0-9 :,]{0,12}";
        let record = prop::collection::vec((text, text), 0..4).prop_map(|members| {
            serde_json::Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, json!([v, {"n": 1.5, "t": true}])))
                    .collect(),
            )
        });
        let page = (prop::collection::vec(record, 0..4), text)
            .prop_map(|(data, next)| json!({"data": data, "next": next}).to_string());
        let byte = prop::sample::select(b"\"\\{}[],: a1".to_vec());
        let edit = (any::<prop::sample::Index>(), 0u8..3, byte);
        (page, prop::collection::vec(edit, 0..3)).prop_map(|(page, edits)| {
            let mut b = page.into_bytes();
            for (at, how, byte) in edits {
                let at = at.index(b.len());
                match how {
                    0 => b[at] = byte,
                    1 => b.insert(at, byte),
                    _ => {
                        b.remove(at);
                    }
                }
            }
            b
        })
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(512))]

        /// A walk that succeeds ends where the document's own scan does, so
        /// the extraction can skip that scan (one pass over the body).
        #[test]
        fn walk_agrees_with_document(b in near_json()) {
            let Some(start) = json::document_start(&b) else {
                return Ok(());
            };
            for sel in ["data", "$", "data[*].x", "next", "[*]"] {
                let path = parse_path(sel).expect("path");
                if let Ok(s) = select(&b, start, &path, sel) {
                    proptest::prop_assert_eq!(json::skip_value(&b, start), Ok(s.end));
                }
            }
        }
    }
}
