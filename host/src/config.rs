//! Connector configuration: reading dlt-style config files (JSON, YAML or
//! TOML) and the host's typed view of the parts the host acts on: the
//! `client` (base URL, authentication, headers) and per-resource retry
//! policy. Everything else (paths, params, paginators, selectors) is the
//! connector component's business.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Map, Value};
use url::Url;

/// Read a config file; the format follows the extension (`.json`, `.yaml`,
/// `.yml`, `.toml`).
pub fn load_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    parse_text(&text, &ext, &path.display().to_string())
}

/// Parse config text in the format named by `ext` (`json`, `yaml`, `yml`,
/// `toml`); `origin` names the file in messages.
pub fn parse_text(text: &str, ext: &str, origin: &str) -> Result<Value> {
    let value: Value = match ext {
        "json" => serde_json::from_str(text).map_err(|e| {
            anyhow!(
                "{origin}: invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            )
        })?,
        "yaml" | "yml" => {
            serde_yaml_ng::from_str(text).map_err(|e| anyhow!("{origin}: invalid YAML: {e}"))?
        }
        "toml" => {
            let table: toml::Table = text
                .parse()
                .map_err(|e| anyhow!("{origin}: invalid TOML: {e}"))?;
            serde_json::to_value(table).context("converting TOML to JSON")?
        }
        other => bail!(
            "{origin}: unknown config format `.{other}`: use a .json, .yaml, .yml or .toml file"
        ),
    };
    if !value.is_object() {
        bail!("{origin}: the config must be an object with `client` and `resources`");
    }
    Ok(value)
}

/// How the host authenticates requests. String fields may hold
/// `{{ secrets.NAME }}` references, resolved only when a request is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthSpec {
    /// HTTP basic: dlt's `http_basic`, the seeds' `basic`.
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>`: dlt's `bearer`.
    Bearer { token: String },
    /// An API key in a header, a query parameter or a cookie: dlt's `api_key`.
    ApiKey {
        name: String,
        api_key: String,
        location: ApiKeyLocation,
    },
    /// OAuth2 token flows (client credentials or password grant).
    OAuth2(OAuth2Spec),
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// The OAuth2 grants the host performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// `client_credentials`
    ClientCredentials,
    /// `password` (resource owner password credentials)
    Password,
}

/// How the client id/secret reach the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthStyle {
    /// HTTP basic `client_id:client_secret` (PayPal).
    Basic,
    /// `client_id` / `client_secret` form fields.
    Form,
}

/// An OAuth2 configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2Spec {
    /// The grant to perform.
    pub grant_type: GrantType,
    /// The token endpoint (`token_url`, or dlt's `access_token_url`).
    pub token_url: String,
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<String>,
    /// Username for the password grant.
    pub username: Option<String>,
    /// Password for the password grant.
    pub password: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
    /// Extra form fields sent to the token endpoint only (e.g. `legal_entity`).
    pub extra: Vec<(String, String)>,
    /// How client credentials are sent; `None` picks by grant.
    pub client_auth: ClientAuthStyle,
    /// Token lifetime assumed when the response has no `expires_in`.
    pub default_expiry: Duration,
}

/// The host's view of `client`.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// The base URL every relative path resolves against.
    pub base_url: Url,
    /// Headers sent with every request (values may reference secrets).
    pub headers: Vec<(String, String)>,
    /// Authentication, if any.
    pub auth: Option<AuthSpec>,
}

impl ClientSpec {
    /// Parse `client` from a whole config.
    pub fn from_config(config: &Value) -> Result<Self> {
        let client = config
            .get("client")
            .ok_or_else(|| anyhow!("`client`: missing; it must hold at least `base_url`"))?;
        let client = client
            .as_object()
            .ok_or_else(|| anyhow!("`client`: expected an object"))?;
        let base = client
            .get("base_url")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("`client.base_url`: missing or not a string"))?;
        let base_url = parse_base_url(base).context("`client.base_url`")?;
        let mut headers = Vec::new();
        if let Some(h) = client.get("headers") {
            let h = h.as_object().ok_or_else(|| {
                anyhow!("`client.headers`: expected an object of header names to values")
            })?;
            for (name, value) in h {
                let value = scalar_string(value)
                    .ok_or_else(|| anyhow!("`client.headers.{name}`: expected a string"))?;
                headers.push((name.clone(), value));
            }
        }
        let auth = match client.get("auth") {
            None | Some(Value::Null) => None,
            Some(a) => Some(parse_auth(a).context("`client.auth`")?),
        };
        Ok(Self {
            base_url,
            headers,
            auth,
        })
    }
}

/// Parse and check a base URL: http(s), a host, no credentials in it.
pub fn parse_base_url(text: &str) -> Result<Url> {
    let mut url = Url::parse(text).map_err(|e| {
        anyhow!("`{text}` is not a valid URL ({e}); write it like `https://api.example.com/v1`")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("`{text}` must use http:// or https://");
    }
    if url.host_str().is_none() {
        bail!("`{text}` has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "`{text}` contains credentials; put them in `client.auth` with `{{{{ secrets.NAME }}}}` references"
        );
    }
    // A base URL is a directory: keep relative joins below its path.
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_string(v)
            .map(Some)
            .ok_or_else(|| anyhow!("`{key}`: expected a string")),
    }
}

fn required(obj: &Map<String, Value>, key: &str, kind: &str) -> Result<String> {
    field(obj, key)?.ok_or_else(|| anyhow!("`{key}` is required for `{kind}` auth"))
}

fn check_keys(obj: &Map<String, Value>, kind: &str, allowed: &[&str]) -> Result<()> {
    for key in obj.keys() {
        if key != "type" && !allowed.contains(&key.as_str()) {
            bail!(
                "`{key}`: unknown key for `{kind}` auth; expected one of: type, {}",
                allowed.join(", ")
            );
        }
    }
    Ok(())
}

/// Parse an auth object in dlt's spelling or the seeds'.
pub fn parse_auth(value: &Value) -> Result<AuthSpec> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("expected an object such as {{\"type\": \"bearer\", \"token\": \"{{{{ secrets.token }}}}\"}}"))?;
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(_) => bail!("`type`: expected a string"),
        // dlt infers bearer from a bare token, basic from username/password.
        None if obj.contains_key("token") => "bearer".into(),
        None if obj.contains_key("api_key") => "api_key".into(),
        None if obj.contains_key("username") => "http_basic".into(),
        None => bail!(
            "`type` is missing: use one of http_basic (or basic), bearer, api_key, oauth2, oauth2_client_credentials"
        ),
    };
    match kind.as_str() {
        "basic" | "http_basic" | "httpbasic" | "http_basic_auth" => {
            check_keys(obj, &kind, &["username", "password"])?;
            Ok(AuthSpec::Basic {
                username: required(obj, "username", &kind)?,
                password: field(obj, "password")?.unwrap_or_default(),
            })
        }
        "bearer" | "bearer_token" => {
            check_keys(obj, &kind, &["token"])?;
            Ok(AuthSpec::Bearer {
                token: required(obj, "token", &kind)?,
            })
        }
        "api_key" | "apikey" => {
            check_keys(obj, &kind, &["name", "api_key", "location"])?;
            let location = match field(obj, "location")?.as_deref().unwrap_or("header") {
                "header" => ApiKeyLocation::Header,
                "query" | "param" => ApiKeyLocation::Query,
                "cookie" => ApiKeyLocation::Cookie,
                other => bail!("`location`: `{other}` is not one of header, query, param, cookie"),
            };
            Ok(AuthSpec::ApiKey {
                name: field(obj, "name")?.unwrap_or_else(|| "Authorization".into()),
                api_key: required(obj, "api_key", &kind)?,
                location,
            })
        }
        "oauth2" | "oauth2_client_credentials" | "oauth2_password" => {
            parse_oauth2(obj, &kind).map(AuthSpec::OAuth2)
        }
        other => bail!(
            "`type`: unknown auth type `{other}`; supported: http_basic (or basic), bearer, api_key, \
             oauth2 (grant_type client_credentials or password), oauth2_client_credentials"
        ),
    }
}

const OAUTH2_KEYS: &[&str] = &[
    "grant_type",
    "token_url",
    "access_token_url",
    "client_id",
    "client_secret",
    "username",
    "password",
    "scope",
    "scopes",
    "client_auth",
    "access_token_request_data",
    "default_token_expiration",
];

fn parse_oauth2(obj: &Map<String, Value>, kind: &str) -> Result<OAuth2Spec> {
    let grant = match (kind, field(obj, "grant_type")?.as_deref()) {
        (_, Some("client_credentials")) | ("oauth2_client_credentials", None) => {
            GrantType::ClientCredentials
        }
        (_, Some("password")) | ("oauth2_password", None) => GrantType::Password,
        (_, None) if obj.contains_key("username") => GrantType::Password,
        (_, None) => GrantType::ClientCredentials,
        (_, Some(other)) => {
            bail!("`grant_type`: `{other}` is not supported; use client_credentials or password")
        }
    };
    let token_url = match (field(obj, "token_url")?, field(obj, "access_token_url")?) {
        (Some(u), _) | (None, Some(u)) => u,
        (None, None) => bail!(
            "`token_url` is required for OAuth2: name the token endpoint, e.g. \
             \"token_url\": \"https://identity.example.com/connect/token\""
        ),
    };
    let mut extra = Vec::new();
    for (key, value) in obj {
        if key == "type" || OAUTH2_KEYS.contains(&key.as_str()) {
            continue;
        }
        // Vendor-specific token request fields, such as Younium's
        // `legal_entity`, go to the token endpoint only.
        let v = scalar_string(value).ok_or_else(|| {
            anyhow!("`{key}`: expected a string for an extra token request field")
        })?;
        extra.push((key.clone(), v));
    }
    if let Some(data) = obj.get("access_token_request_data") {
        let data = data
            .as_object()
            .ok_or_else(|| anyhow!("`access_token_request_data`: expected an object"))?;
        for (key, value) in data {
            let v = scalar_string(value)
                .ok_or_else(|| anyhow!("`access_token_request_data.{key}`: expected a string"))?;
            extra.push((key.clone(), v));
        }
    }
    let scope = match obj.get("scopes").or_else(|| obj.get("scope")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Some(_) => bail!("`scope`: expected a string or a list of strings"),
    };
    let client_auth = match field(obj, "client_auth")?.as_deref() {
        Some("basic") | Some("header") => ClientAuthStyle::Basic,
        Some("form") | Some("body") => ClientAuthStyle::Form,
        Some(other) => bail!("`client_auth`: `{other}` is not one of basic, form"),
        // Client credentials: RFC 6749 prefers HTTP basic (PayPal requires
        // it); a password grant with a public client sends its id in the form.
        None if grant == GrantType::ClientCredentials && obj.contains_key("client_secret") => {
            ClientAuthStyle::Basic
        }
        None => ClientAuthStyle::Form,
    };
    let default_expiry = match obj.get("default_token_expiration") {
        None | Some(Value::Null) => Duration::from_secs(3600),
        Some(v) => Duration::from_secs(v.as_u64().ok_or_else(|| {
            anyhow!("`default_token_expiration`: expected seconds as an integer")
        })?),
    };
    let spec = OAuth2Spec {
        grant_type: grant,
        token_url,
        client_id: field(obj, "client_id")?,
        client_secret: field(obj, "client_secret")?,
        username: field(obj, "username")?,
        password: field(obj, "password")?,
        scope,
        extra,
        client_auth,
        default_expiry,
    };
    if grant == GrantType::Password && (spec.username.is_none() || spec.password.is_none()) {
        bail!("the password grant needs `username` and `password`");
    }
    if grant == GrantType::ClientCredentials && spec.client_id.is_none() {
        bail!("the client_credentials grant needs `client_id` (and usually `client_secret`)");
    }
    Ok(spec)
}

/// Retry policy for one resource's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Status codes retried in addition to 429 and 5xx, which are always
    /// retried because they are transient by definition.
    pub extra_statuses: Vec<u16>,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Exponential backoff: the n-th retry waits `backoff_factor * 2^(n-1)` s.
    pub backoff_factor: f64,
    /// No single wait exceeds this, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // dlt's defaults: 5 attempts, backoff factor 1.
        Self {
            extra_statuses: Vec::new(),
            max_retries: 4,
            backoff_factor: 1.0,
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// True if and only if a response with `status` should be retried.
    pub fn retries_status(&self, status: u16) -> bool {
        matches!(status, 429 | 500 | 502 | 503 | 504) || self.extra_statuses.contains(&status)
    }

    /// The wait before retry number `retry` (1-based), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let secs = self.backoff_factor * 2f64.powi(retry.saturating_sub(1).min(30) as i32);
        Duration::from_secs_f64(secs.max(0.0)).min(self.max_delay)
    }

    /// The policy of resource `name`: its `endpoint.error_handler`, else
    /// `resource_defaults.endpoint.error_handler`, else the defaults.
    pub fn for_resource(config: &Value, name: &str) -> Result<Self> {
        let resource = find_resource(config, name);
        let handler = resource
            .and_then(|r| r.get("endpoint"))
            .and_then(|e| e.get("error_handler"))
            .or_else(|| config.pointer("/resource_defaults/endpoint/error_handler"));
        let mut policy = Self::default();
        let Some(handler) = handler else {
            return Ok(policy);
        };
        let at = format!("resource `{name}`: endpoint.error_handler");
        let handler = handler
            .as_object()
            .ok_or_else(|| anyhow!("{at}: expected an object"))?;
        for key in handler.keys() {
            if ![
                "retry_on_status_codes",
                "max_retries",
                "backoff_factor",
                "max_retry_delay",
            ]
            .contains(&key.as_str())
            {
                bail!(
                    "{at}.{key}: unknown key; expected retry_on_status_codes, max_retries, backoff_factor, max_retry_delay"
                );
            }
        }
        if let Some(codes) = handler.get("retry_on_status_codes") {
            let codes = codes.as_array().ok_or_else(|| {
                anyhow!("{at}.retry_on_status_codes: expected a list of status codes")
            })?;
            for c in codes {
                let code = c
                    .as_u64()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| {
                        anyhow!("{at}.retry_on_status_codes: `{c}` is not an HTTP status code")
                    })?;
                policy.extra_statuses.push(code as u16);
            }
        }
        if let Some(m) = handler.get("max_retries") {
            policy.max_retries = m
                .as_u64()
                .filter(|m| *m <= 100)
                .ok_or_else(|| anyhow!("{at}.max_retries: expected an integer from 0 to 100"))?
                as u32;
        }
        if let Some(b) = handler.get("backoff_factor") {
            policy.backoff_factor = b
                .as_f64()
                .filter(|b| (0.0..=3600.0).contains(b))
                .ok_or_else(|| {
                    anyhow!("{at}.backoff_factor: expected a number of seconds from 0 to 3600")
                })?;
        }
        if let Some(d) = handler.get("max_retry_delay") {
            policy.max_delay = Duration::from_secs_f64(
                d.as_f64()
                    .filter(|d| *d >= 0.0)
                    .ok_or_else(|| anyhow!("{at}.max_retry_delay: expected seconds"))?,
            );
        }
        Ok(policy)
    }
}

/// The resource object named `name` in `resources`.
pub fn find_resource<'a>(config: &'a Value, name: &str) -> Option<&'a Value> {
    config
        .get("resources")?
        .as_array()?
        .iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
}

/// Secret references are allowed only where the host consumes the value
/// itself (`client.auth`, `client.headers`): anywhere else the value would
/// travel into the component. Returns the first offending JSON pointer.
pub fn check_secret_placement(config: &Value) -> Result<()> {
    fn walk(v: &Value, path: &mut Vec<String>, found: &mut Option<String>) {
        if found.is_some() {
            return;
        }
        match v {
            Value::String(s) if s.contains("secrets.") || s.contains("secrets[") => {
                let allowed = path.len() >= 2
                    && path[0] == "client"
                    && (path[1] == "auth" || path[1] == "headers");
                if !allowed && crate::secrets::mentions_secret(s) {
                    *found = Some(path.join("."));
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    path.push(k.clone());
                    walk(v, path, found);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(v, path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = None;
    walk(config, &mut Vec::new(), &mut found);
    if let Some(at) = found {
        bail!(
            "`{at}`: secrets may only be referenced in `client.auth` and `client.headers`, \
             where the host applies them; anywhere else the value would be handed to the connector"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_basic_auth_parses() {
        let a = parse_auth(
            &json!({"type": "basic", "username": "{{ secrets.api_key }}", "password": "x"}),
        )
        .unwrap();
        assert_eq!(
            a,
            AuthSpec::Basic {
                username: "{{ secrets.api_key }}".into(),
                password: "x".into()
            }
        );
    }

    #[test]
    fn dlt_spellings_parse() {
        assert!(matches!(
            parse_auth(&json!({"type": "http_basic", "username": "u", "password": "p"})).unwrap(),
            AuthSpec::Basic { .. }
        ));
        assert!(matches!(
            parse_auth(&json!({"type": "bearer", "token": "t"})).unwrap(),
            AuthSpec::Bearer { .. }
        ));
        let k = parse_auth(
            &json!({"type": "api_key", "name": "key", "api_key": "k", "location": "query"}),
        )
        .unwrap();
        assert!(matches!(
            k,
            AuthSpec::ApiKey {
                location: ApiKeyLocation::Query,
                ..
            }
        ));
    }

    #[test]
    fn seed_oauth2_password_grant_keeps_extra_fields_for_token_endpoint() {
        let a = parse_auth(&json!({
            "type": "oauth2", "username": "u", "password": "p", "legal_entity": "le",
            "grant_type": "password", "client_id": "apiclient", "scope": "openid api profile",
            "token_url": "https://id.example.com/connect/token"
        }))
        .unwrap();
        let AuthSpec::OAuth2(o) = a else {
            panic!("not oauth2")
        };
        assert_eq!(o.grant_type, GrantType::Password);
        assert_eq!(
            o.extra,
            vec![("legal_entity".to_string(), "le".to_string())]
        );
        assert_eq!(o.client_auth, ClientAuthStyle::Form);
    }

    #[test]
    fn oauth2_without_token_url_says_how_to_fix() {
        let err = parse_auth(
            &json!({"type": "oauth2", "grant_type": "password", "username": "u", "password": "p"}),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("token_url"));
    }

    #[test]
    fn unknown_auth_key_is_named() {
        let err = parse_auth(&json!({"type": "bearer", "tokn": "t"})).unwrap_err();
        assert!(format!("{err:#}").contains("`tokn`"), "{err:#}");
    }

    #[test]
    fn base_url_must_be_http_without_credentials() {
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("https://u:p@x.com").is_err());
        assert_eq!(
            parse_base_url("http://127.0.0.1:80/api/v1").unwrap().path(),
            "/api/v1/"
        );
    }

    #[test]
    fn retry_policy_from_endpoint_or_defaults() {
        let cfg = json!({
            "resource_defaults": {"endpoint": {"error_handler": {"max_retries": 1}}},
            "resources": [{"name": "a", "endpoint": {"error_handler": {"retry_on_status_codes": [400], "max_retries": 3, "backoff_factor": 2}}}, {"name": "b"}]
        });
        let a = RetryPolicy::for_resource(&cfg, "a").unwrap();
        assert!(a.retries_status(400) && a.retries_status(503) && !a.retries_status(404));
        assert_eq!(a.max_retries, 3);
        assert_eq!(a.backoff(1), Duration::from_secs(2));
        assert_eq!(a.backoff(3), Duration::from_secs(8));
        assert_eq!(RetryPolicy::for_resource(&cfg, "b").unwrap().max_retries, 1);
    }

    #[test]
    fn bad_error_handler_key_is_named() {
        let cfg =
            json!({"resources": [{"name": "a", "endpoint": {"error_handler": {"retries": 3}}}]});
        let err = RetryPolicy::for_resource(&cfg, "a").unwrap_err();
        assert!(
            format!("{err:#}").contains("error_handler.retries"),
            "{err:#}"
        );
    }

    #[test]
    fn secrets_outside_auth_are_refused() {
        let ok = json!({"client": {"auth": {"token": "{{ secrets.t }}"}, "headers": {"X": "{{ secrets.h }}"}}});
        assert!(check_secret_placement(&ok).is_ok());
        let bad = json!({"client": {}, "resources": [{"endpoint": {"params": {"key": "{{ secrets.t }}"}}}]});
        let err = check_secret_placement(&bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("resources.0.endpoint.params.key"),
            "{err:#}"
        );
    }
}

/// Property tests ("fuzz targets") of the config parser: whatever the
/// operator's or a tenant's config holds, parsing answers with a value or
/// an error naming the key, never a panic. `just fuzz` runs them with
/// many cases.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    use crate::fuzz_support::config;

    /// Arbitrary JSON, biased towards the keys the host reads.
    fn json_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("client".to_string()),
            Just("base_url".to_string()),
            Just("auth".to_string()),
            Just("headers".to_string()),
            Just("type".to_string()),
            Just("token_url".to_string()),
            Just("location".to_string()),
            Just("resources".to_string()),
            Just("name".to_string()),
            Just("endpoint".to_string()),
            Just("error_handler".to_string()),
            Just("max_retries".to_string()),
            Just("backoff_factor".to_string()),
            Just("retry_on_status_codes".to_string()),
            "[a-z_]{0,8}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            prop_oneof![
                Just("http://127.0.0.1:1".to_string()),
                Just("oauth2".to_string()),
                Just("basic".to_string()),
                Just("api_key".to_string()),
                Just("bearer".to_string()),
                Just("{{ secrets.x }}".to_string()),
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

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn config_text_in_any_format_parses_or_errors(
            text in "\\PC{0,300}",
            ext in prop_oneof![Just("json"), Just("yaml"), Just("toml"), Just("txt")],
        ) {
            let _ = parse_text(&text, ext, "fuzz");
        }

        #[test]
        fn the_hosts_view_of_any_config_parses_or_errors(value in json_value()) {
            let _ = ClientSpec::from_config(&value);
            let _ = RetryPolicy::for_resource(&value, "r");
            let _ = check_secret_placement(&value);
            if let Some(auth) = value.pointer("/client/auth") {
                let _ = parse_auth(auth);
            }
        }

        /// A secret reference anywhere but `client.auth` and
        /// `client.headers` is refused, whatever surrounds it.
        #[test]
        fn secret_references_outside_auth_and_headers_are_refused(
            value in json_value(),
            prefix in "\\PC{0,8}",
            suffix in "\\PC{0,8}",
            slot in 0usize..4,
        ) {
            let planted = format!("{prefix}{{{{ secrets.token }}}}{suffix}");
            let mut config = serde_json::json!({"client": {"base_url": "http://h"}});
            let at = match slot {
                0 => "/resources/0/endpoint/params/key",
                1 => "/resources/0/endpoint/json/x",
                2 => "/client/paginator/x",
                _ => "/resource_defaults/endpoint/path",
            };
            let mut target = &mut config;
            for key in at.trim_start_matches('/').split('/') {
                target = match key.parse::<usize>() {
                    Ok(_) => {
                        *target = Value::Array(vec![Value::Null]);
                        &mut target[0]
                    }
                    Err(_) => {
                        if !target.is_object() {
                            *target = serde_json::json!({});
                        }
                        &mut target[key]
                    }
                };
            }
            *target = Value::String(planted);
            config["extra"] = value;
            prop_assert!(check_secret_placement(&config).is_err(), "{config}");
        }
    }
}
