//! Templates in endpoint paths, params, headers and JSON bodies, and the
//! Jinja expressions of `stop_condition`.
//!
//! Two syntaxes meet in configs: Jinja expressions `{{ stream_partition.id }}`
//! (the seeds, Airbyte's heritage) evaluated with minijinja, and dlt's
//! Python-format placeholders `{product_id}`, `{resources.products.id}`,
//! `{incremental.start_value}`. `{{ ... }}` is always Jinja here, so dlt's
//! `{{` escape for a literal brace is not available (literal braces do not
//! occur in REST paths in practice).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::{Arc, LazyLock, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Environment, UndefinedBehavior};

use crate::json::{self, Kind, Member};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Text copied as is.
    Lit(String),
    /// A Jinja expression (the text between `{{` and `}}`).
    Expr(String),
    /// A dlt placeholder name (the text between `{` and `}`).
    Field(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Template {
    pub parts: Vec<Part>,
}

/// The one Jinja environment: Python-compatible methods (`dict.get`,
/// `str.startswith`, ...) so that expressions written for dlt/Airbyte work
/// as written, and lenient undefined values so that `response.missing` is
/// falsy rather than an error, as in Jinja.
pub(crate) fn env() -> &'static Environment<'static> {
    static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env
    });
    &ENV
}

/// Checks that `source` is a valid Jinja expression; returns the dotted
/// names it reads (`stream_partition.product_id`, `response`, ...).
pub(crate) fn expression_names(source: &str) -> Result<Vec<String>, String> {
    let expr = env()
        .compile_expression(source)
        .map_err(|e| format!("invalid Jinja expression {source:?}: {e}"))?;
    let mut names: Vec<String> = expr.undeclared_variables(true).into_iter().collect();
    names.sort();
    Ok(names)
}

/// Evaluates a Jinja expression against `ctx`.
pub(crate) fn eval(source: &str, ctx: &Value) -> Result<Value, String> {
    env()
        .compile_expression(source)
        .and_then(|e| e.eval(ctx))
        .map_err(|e| format!("evaluating {source:?} failed: {e}"))
}

impl Template {
    /// Parses `{{ expr }}` and `{name}` placeholders out of `s`.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open..];
            if let Some(inner) = after.strip_prefix("{{") {
                let close = inner
                    .find("}}")
                    .ok_or_else(|| format!("template {s:?}: '{{{{' without a closing '}}}}'"))?;
                let expr = inner[..close].trim();
                if expr.is_empty() {
                    return Err(format!("template {s:?}: empty '{{{{ }}}}'"));
                }
                expression_names(expr).map_err(|e| format!("template {s:?}: {e}"))?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Expr(expr.to_owned()));
                rest = &inner[close + 2..];
            } else if after.starts_with("{%") || after.starts_with("{#") {
                return Err(format!(
                    "template {s:?}: only {{{{ expressions }}}} are supported, not statements or comments"
                ));
            } else {
                let close = after
                    .find('}')
                    .ok_or_else(|| format!("template {s:?}: '{{' without a closing '}}'"))?;
                let name = after[1..close].trim();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
                {
                    return Err(format!(
                        "template {s:?}: invalid placeholder {{{name}}}; write {{param_name}}, {{resources.<parent>.<field>}} or {{{{ jinja }}}}"
                    ));
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Field(name.to_owned()));
                rest = &after[close + 1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// Returns true if and only if the template has no placeholders.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The text before the first placeholder.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Lit(s)) => s,
            _ => "",
        }
    }

    /// Returns true if and only if the template's last path segment is a
    /// placeholder (`/products/{id}`): dlt's sign of a single-entity endpoint.
    pub fn ends_with_placeholder(&self) -> bool {
        match self.parts.last() {
            Some(Part::Expr(_) | Part::Field(_)) => true,
            Some(Part::Lit(s)) => s.trim_end_matches('/').is_empty() && self.parts.len() > 1,
            None => false,
        }
    }

    /// The template as the single placeholder it is, if it is exactly one
    /// (a JSON body value `"{id}"` then keeps the value's JSON type).
    pub fn single(&self) -> Option<&Part> {
        match self.parts.as_slice() {
            [p @ (Part::Expr(_) | Part::Field(_))] => Some(p),
            _ => None,
        }
    }

    /// Renders the template. `path_segment` percent-encodes substituted
    /// values that would change the URL's structure (`/`, `?`, `#`, `%`,
    /// spaces), so that an id like `a/b` stays one path segment.
    pub fn render(&self, ctx: &Context, path_segment: bool) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            let text = match part {
                Part::Lit(s) => {
                    out.push_str(s);
                    continue;
                }
                Part::Field(name) => ctx.field_text(name)?,
                Part::Expr(e) => value_text(&eval(e, &ctx.jinja)?)
                    .ok_or_else(|| format!("{{{{ {e} }}}} rendered to nothing"))?,
            };
            if path_segment {
                encode_segment(&text, &mut out);
            } else {
                out.push_str(&text);
            }
        }
        Ok(out)
    }

    /// Renders a single-placeholder template to a JSON value (keeping its
    /// type), or any other template to a JSON string.
    pub fn render_json(&self, ctx: &Context) -> Result<serde_json::Value, String> {
        match self.single() {
            Some(Part::Field(name)) => ctx
                .fields
                .get(name)
                .cloned()
                .ok_or_else(|| ctx.unknown_field(name)),
            Some(Part::Expr(e)) => {
                let v = eval(e, &ctx.jinja)?;
                serde_json::to_value(&v).map_err(|err| format!("{{{{ {e} }}}}: {err}"))
            }
            _ => self.render(ctx, false).map(serde_json::Value::String),
        }
    }
}

/// Values placeholders render from.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// dlt placeholder name → value.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The Jinja context (`stream_partition`, `resources`, ...).
    pub jinja: Value,
}

impl Context {
    fn field_text(&self, name: &str) -> Result<String, String> {
        let v = self
            .fields
            .get(name)
            .ok_or_else(|| self.unknown_field(name))?;
        json_text(v).ok_or_else(|| format!("placeholder {{{name}}} is null"))
    }

    fn unknown_field(&self, name: &str) -> String {
        let known: Vec<&String> = self.fields.keys().collect();
        format!("unknown placeholder {{{name}}}; known here: {known:?}")
    }
}

/// The text a JSON value renders to in a URL or header: strings raw,
/// numbers and booleans as JSON writes them (`true`, not Python's `True`),
/// `null` as nothing, objects and arrays as JSON.
pub(crate) fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn value_text(v: &Value) -> Option<String> {
    if v.is_undefined() || v.is_none() {
        None
    } else if let Some(s) = v.as_str() {
        Some(s.to_owned())
    } else {
        Some(v.to_string())
    }
}

fn encode_segment(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(c, '/' | '?' | '#' | '%' | ' ') || c.is_control() {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

/// A JSON value of a response body exposed to Jinja without parsing it:
/// members and elements are found when an expression reads them, so a
/// `stop_condition` reading `response.nextPage` costs nothing per record.
#[derive(Debug)]
pub(crate) struct LazyJson {
    body: Arc<Vec<u8>>,
    range: Range<usize>,
    members: OnceLock<Vec<Member>>,
    elements: OnceLock<Vec<Range<usize>>>,
}

impl LazyJson {
    /// The value at `range` of `body` as a Jinja value. `top` passes the
    /// top-level members when the caller already scanned them.
    pub fn value(body: Arc<Vec<u8>>, range: Range<usize>, top: Option<Vec<Member>>) -> Value {
        match Kind::at(&body, range.start) {
            Some(Kind::Object | Kind::Array) => {
                let members = OnceLock::new();
                if let Some(top) = top {
                    let _ = members.set(top);
                }
                Value::from_object(LazyJson {
                    body,
                    range,
                    members,
                    elements: OnceLock::new(),
                })
            }
            _ => json::parse(&body, range).map_or(Value::UNDEFINED, |v| Value::from_serialize(&v)),
        }
    }

    fn is_array(&self) -> bool {
        self.body.get(self.range.start) == Some(&b'[')
    }

    fn members(&self) -> &[Member] {
        self.members
            .get_or_init(|| json::members(&self.body, self.range.start).unwrap_or_default())
    }

    fn elements(&self) -> &[Range<usize>] {
        self.elements.get_or_init(|| {
            json::elements(&self.body, self.range.start)
                .map(|(els, _)| els)
                .unwrap_or_default()
        })
    }
}

impl Object for LazyJson {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.is_array() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Map
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let range = if self.is_array() {
            let i = usize::try_from(key.as_i64()?).ok()?;
            self.elements().get(i)?.clone()
        } else {
            let k = key.as_str()?;
            let m = self
                .members()
                .iter()
                .find(|m| json::key_is(&self.body, &m.key, k))?;
            m.value.clone()
        };
        Some(LazyJson::value(self.body.clone(), range, None))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.is_array() {
            Enumerator::Seq(self.elements().len())
        } else {
            let keys: Vec<Value> = self
                .members()
                .iter()
                .map(|m| Value::from(json::key_text(&self.body, m.key.clone()).into_owned()))
                .collect();
            Enumerator::Values(keys)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(fields: serde_json::Value, jinja: serde_json::Value) -> Context {
        let fields = match fields {
            serde_json::Value::Object(m) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        Context {
            fields,
            jinja: Value::from_serialize(&jinja),
        }
    }

    #[test]
    fn jinja_path_template_renders_partition_value() {
        let t = Template::parse("/addons/{{ stream_partition.product_id }}").expect("parse");
        let c = ctx(json!({}), json!({"stream_partition": {"product_id": 42}}));
        assert_eq!(t.render(&c, true).expect("render"), "/addons/42");
    }

    #[test]
    fn dlt_placeholder_renders_field() {
        let t = Template::parse("/products/{product_id}/licenses").expect("parse");
        let c = ctx(json!({"product_id": "p-1"}), json!({}));
        assert_eq!(
            t.render(&c, true).expect("render"),
            "/products/p-1/licenses"
        );
    }

    #[test]
    fn dotted_dlt_placeholder_is_one_field() {
        let t = Template::parse("/x/{resources.products.id}").expect("parse");
        assert_eq!(t.parts[1], Part::Field("resources.products.id".into()));
    }

    #[test]
    fn path_values_are_encoded_to_stay_one_segment() {
        let t = Template::parse("/items/{id}").expect("parse");
        let c = ctx(json!({"id": "a/b c?#"}), json!({}));
        assert_eq!(
            t.render(&c, true).expect("render"),
            "/items/a%2Fb%20c%3F%23"
        );
        assert_eq!(t.render(&c, false).expect("render"), "/items/a/b c?#");
    }

    #[test]
    fn booleans_render_lowercase() {
        let t = Template::parse("{flag}").expect("parse");
        let c = ctx(json!({"flag": true}), json!({}));
        assert_eq!(t.render(&c, false).expect("render"), "true");
    }

    #[test]
    fn single_placeholder_keeps_json_type() {
        let t = Template::parse("{limit}").expect("parse");
        let c = ctx(json!({"limit": 5}), json!({}));
        assert_eq!(t.render_json(&c).expect("render"), json!(5));
        let t = Template::parse("n-{limit}").expect("parse");
        assert_eq!(t.render_json(&c).expect("render"), json!("n-5"));
    }

    #[test]
    fn unknown_placeholder_is_an_error_naming_known_ones() {
        let t = Template::parse("/x/{nope}").expect("parse");
        let c = ctx(json!({"id": 1}), json!({}));
        let e = t.render(&c, true).expect_err("unknown");
        assert!(e.contains("{nope}") && e.contains("\"id\""), "{e}");
    }

    #[test]
    fn invalid_templates_are_rejected() {
        assert!(Template::parse("/x/{{ a.b").is_err());
        assert!(Template::parse("/x/{% if x %}").is_err());
        assert!(Template::parse("/x/{a b}").is_err());
        assert!(Template::parse("/x/{{ (( }}").is_err());
    }

    #[test]
    fn literal_templates_have_a_prefix_and_no_placeholders() {
        let t = Template::parse("/v1/catalogs/products/{{ stream_slice.id }}").expect("parse");
        assert!(!t.is_literal());
        assert_eq!(t.literal_prefix(), "/v1/catalogs/products/");
        assert!(t.ends_with_placeholder());
        assert!(Template::parse("/v1/x").expect("parse").is_literal());
    }

    #[test]
    fn expression_names_lists_nested_references() {
        let names = expression_names("stream_partition.product_id ~ x").expect("names");
        assert!(
            names.contains(&"stream_partition.product_id".to_owned()),
            "{names:?}"
        );
    }

    #[test]
    fn pycompat_get_works_on_lazy_bodies() {
        let body = Arc::new(br#"{"data": [1, 2], "nextPage": null}"#.to_vec());
        let range = 0..body.len();
        let response = LazyJson::value(body, range, None);
        let ctx = Value::from_iter([("response", response)]);
        let stop = eval("not response.get('nextPage', {})", &ctx).expect("eval");
        assert!(stop.is_true());
        let n = eval("response.data | length", &ctx).expect("eval");
        assert_eq!(n.as_i64(), Some(2));
        let missing = eval("not response.get('absent', {})", &ctx).expect("eval");
        assert!(missing.is_true());
    }

    #[test]
    fn lazy_body_with_next_page_does_not_stop() {
        let body = Arc::new(br#"{"data": [], "nextPage": "https://x/p2"}"#.to_vec());
        let range = 0..body.len();
        let ctx = Value::from_iter([("response", LazyJson::value(body, range, None))]);
        let stop = eval("not response.get('nextPage', {})", &ctx).expect("eval");
        assert!(!stop.is_true());
        let s = eval("response.nextPage.startswith('https')", &ctx).expect("eval");
        assert!(s.is_true());
    }
}
