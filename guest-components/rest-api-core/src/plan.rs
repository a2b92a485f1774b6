//! A planned request in the form paginators edit and checkpoints store: the
//! JSON body stays a value (so `offset_body_path` can set a nested key)
//! until it is handed to the host.

use extract_sdk::{ConnectorError, Method, Request};
use serde::{Deserialize, Serialize};

use crate::selector::Seg;

/// A request before it becomes an SDK [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// `GET`, `POST`, ...
    pub method: String,
    /// A path below the host's `base_url`, or an absolute URL.
    pub url: String,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Endpoint headers (client headers and auth are the host's).
    pub headers: Vec<(String, String)>,
    /// The JSON body, if any.
    pub json: Option<serde_json::Value>,
}

impl Plan {
    /// Sets query parameter `name`, replacing an earlier value in place (as
    /// assigning to a Python `params` dict does).
    pub fn set_query(&mut self, name: &str, value: String) {
        match self.query.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.query.push((name.to_owned(), value)),
        }
    }

    /// Sets the value at `path` (keys only) of the JSON body, creating the
    /// body and intermediate objects as needed.
    pub fn set_body(&mut self, path: &[Seg], value: serde_json::Value) {
        let mut node = self
            .json
            .get_or_insert_with(|| serde_json::Value::Object(Default::default()));
        for (i, seg) in path.iter().enumerate() {
            let Seg::Key(key) = seg else { return };
            if !node.is_object() {
                *node = serde_json::Value::Object(Default::default());
            }
            let serde_json::Value::Object(map) = node else {
                return;
            };
            if i + 1 == path.len() {
                map.insert(key.clone(), value);
                return;
            }
            node = map
                .entry(key.clone())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
        }
    }

    /// The SDK request the host sends.
    pub fn to_request(&self) -> Result<Request, ConnectorError> {
        let method = Method::parse(&self.method).ok_or_else(|| {
            ConnectorError::invalid_state(format!("unknown HTTP method {:?}", self.method))
        })?;
        Ok(Request {
            method,
            url: self.url.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            json_body: self.json.as_ref().map(|j| j.to_string()),
        })
    }

    /// `METHOD url?query`, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.url);
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 && !self.url.contains('?') {
                '?'
            } else {
                '&'
            });
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s
    }
}

/// Resolves `reference` (a link from a response) against the absolute URL
/// `base`, as a browser would (RFC 3986, without dot-segment removal).
pub(crate) fn resolve_url(base: &str, reference: &str) -> String {
    let lower = reference.get(..8).unwrap_or(reference).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return reference.to_owned();
    }
    let Some(scheme_end) = base.find("://") else {
        return reference.to_owned();
    };
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{}://{rest}", &base[..scheme_end]);
    }
    let after_scheme = scheme_end + 3;
    let authority_end = base[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(base.len(), |i| after_scheme + i);
    let origin = &base[..authority_end];
    let without_fragment = base.split('#').next().unwrap_or(base);
    let without_query = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    if reference.starts_with('/') {
        format!("{origin}{reference}")
    } else if reference.starts_with('?') {
        format!("{without_query}{reference}")
    } else if reference.is_empty() || reference.starts_with('#') {
        without_fragment.to_owned()
    } else {
        let path = &without_query[authority_end.min(without_query.len())..];
        let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
        format!("{origin}{dir}{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Plan {
        Plan {
            method: "GET".into(),
            url: "/items".into(),
            query: vec![("a".into(), "1".into())],
            headers: vec![],
            json: None,
        }
    }

    #[test]
    fn set_query_replaces_in_place_or_appends() {
        let mut p = plan();
        p.set_query("page", "2".into());
        p.set_query("a", "9".into());
        assert_eq!(
            p.query,
            vec![("a".into(), "9".into()), ("page".into(), "2".into())]
        );
    }

    #[test]
    fn set_body_creates_nested_objects() {
        let mut p = plan();
        p.set_body(
            &[Seg::Key("paging".into()), Seg::Key("offset".into())],
            json!(100),
        );
        p.set_body(&[Seg::Key("LIMIT".into())], json!(10));
        assert_eq!(
            p.json,
            Some(json!({"paging": {"offset": 100}, "LIMIT": 10}))
        );
    }

    #[test]
    fn request_carries_body_as_text() {
        let mut p = plan();
        p.method = "POST".into();
        p.json = Some(json!({"SERVICE": "invoice.get"}));
        let r = p.to_request().expect("request");
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.json_body.as_deref(), Some(r#"{"SERVICE":"invoice.get"}"#));
    }

    #[test]
    fn resolve_url_handles_reference_forms() {
        let base = "https://api.x.com/v1/items?page=1";
        assert_eq!(resolve_url(base, "https://o.com/a"), "https://o.com/a");
        assert_eq!(
            resolve_url(base, "/v1/items?page=2"),
            "https://api.x.com/v1/items?page=2"
        );
        assert_eq!(
            resolve_url(base, "?page=3"),
            "https://api.x.com/v1/items?page=3"
        );
        assert_eq!(
            resolve_url(base, "other?p=2"),
            "https://api.x.com/v1/other?p=2"
        );
        assert_eq!(resolve_url(base, "//cdn.x.com/p"), "https://cdn.x.com/p");
    }
}
