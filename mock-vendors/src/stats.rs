//! What a mock server observed ([`Stats`]) and what it holds ([`Expected`]):
//! the two sides a test compares after a sync.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Request counters of one server (also served as JSON on `/__mock/stats`).
/// `/__mock/*` requests are not counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Every vendor request, whatever its outcome.
    pub requests_total: u64,
    /// Requests by response status.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests by URL path (no query).
    pub by_path: BTreeMap<String, u64>,
    /// Authenticated data requests: the count fault injection runs on.
    pub data_requests: u64,
    /// Injected faults by kind (`rate_limit`, `server_error`,
    /// `truncated_body`, `html_body`, `connection_reset`).
    pub faults_injected: BTreeMap<String, u64>,
    /// Records delivered in complete, successful data answers, per resource
    /// (named as in the seed config). Faulted answers never count; a page
    /// fetched twice counts twice.
    pub records_served: BTreeMap<String, u64>,
    /// Successful data answers per resource (empty pages included).
    pub pages_served: BTreeMap<String, u64>,
    /// OAuth tokens issued (Younium, PayPal).
    pub tokens_issued: u64,
    /// Requests refused for missing, wrong, expired or revoked credentials.
    pub auth_failures: u64,
}

impl Stats {
    /// Requests answered with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Injected faults of all kinds.
    pub fn faults_total(&self) -> u64 {
        self.faults_injected.values().sum()
    }

    /// Records served for `resource`.
    pub fn served(&self, resource: &str) -> u64 {
        self.records_served.get(resource).copied().unwrap_or(0)
    }
}

/// One resource the mock holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectedResource {
    /// Endpoint that serves it, as the real API names it (templates in braces).
    pub path: String,
    /// Dotted path of the primary key inside one record, e.g. `uid` or
    /// `transaction_info.transaction_id`.
    pub primary_key: String,
    /// Every primary key the mock holds, in the order the API lists them;
    /// unique. Typed as in the records (integers stay integers).
    pub keys: Vec<Value>,
}

/// Per resource (named as in the seed config), the exact records a complete
/// sync must load. Served as JSON on `/__mock/expected`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Expected {
    /// Resources by seed name.
    pub resources: BTreeMap<String, ExpectedResource>,
}

impl Expected {
    /// Primary keys of `resource`, if the mock has it.
    pub fn keys(&self, resource: &str) -> Option<&[Value]> {
        self.resources.get(resource).map(|r| r.keys.as_slice())
    }

    /// Number of records of `resource` (0 if unknown).
    pub fn count(&self, resource: &str) -> usize {
        self.resources.get(resource).map_or(0, |r| r.keys.len())
    }

    /// Primary keys of `resource` rendered as strings (`42`, `"inv_x"` ->
    /// `inv_x`), handy to compare with a database column.
    pub fn key_strings(&self, resource: &str) -> Vec<String> {
        self.keys(resource)
            .unwrap_or_default()
            .iter()
            .map(|k| match k {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    pub(crate) fn add(&mut self, name: &str, path: &str, primary_key: &str, keys: Vec<Value>) {
        self.resources.insert(
            name.to_owned(),
            ExpectedResource {
                path: path.to_owned(),
                primary_key: primary_key.to_owned(),
                keys,
            },
        );
    }
}
