//! Authentication, applied by the host to each request after the component
//! planned it. Secret values are resolved here and nowhere else; OAuth2
//! tokens are fetched, cached, refreshed ahead of expiry and re-fetched
//! when the API answers 401 (once per refused token, however many requests
//! it was refused to; `http::AuthRetry` decides when a request stops
//! trying).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::config::{ApiKeyLocation, AuthSpec, ClientAuthStyle, GrantType, OAuth2Spec};
use crate::http::{HttpClient, HttpError};
use crate::secrets::{Secret, Secrets};

/// Refresh a token this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Which credential [`Authenticator::headers_for`] put on a request: hand
/// it back to [`Authenticator::invalidate`] if the API refuses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credential(u64);

/// Resolved authentication for a run.
pub struct Authenticator {
    kind: Kind,
    /// Responses to requests it authenticated that were not 401.
    accepted: AtomicU64,
    /// Headers from `client.headers`, resolved.
    headers: Vec<(HeaderName, Secret)>,
}

enum Kind {
    None,
    /// A precomputed header value (`Basic ...`, `Bearer ...`).
    Header(HeaderName, Secret),
    Query(String, Secret),
    Cookie(String, Secret),
    OAuth2(Box<OAuth2>),
}

struct OAuth2 {
    spec: OAuth2Spec,
    token_url: Url,
    client_id: Option<Secret>,
    client_secret: Option<Secret>,
    username: Option<Secret>,
    password: Option<Secret>,
    extra: Vec<(String, Secret)>,
    token: tokio::sync::Mutex<Option<Token>>,
    /// Tokens fetched so far: each token's serial number, from 1.
    fetched: AtomicU64,
}

struct Token {
    value: Secret,
    refresh_at: Instant,
    serial: u64,
}

impl Authenticator {
    /// Resolve `spec` and `headers` against `secrets`. Fails early, naming
    /// the config key, when a referenced secret is missing.
    pub fn new(
        spec: Option<&AuthSpec>,
        headers: &[(String, String)],
        base_url: &Url,
        secrets: &Secrets,
    ) -> Result<Self> {
        let mut resolved_headers = Vec::new();
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes()).with_context(|| {
                format!("`client.headers`: `{name}` is not a valid header name")
            })?;
            resolved_headers.push((
                header,
                secrets.resolve(value, &format!("client.headers.{name}"))?,
            ));
        }
        let kind = match spec {
            None => Kind::None,
            Some(AuthSpec::Basic { username, password }) => {
                let user = secrets.resolve(username, "client.auth.username")?;
                let pass = secrets.resolve(password, "client.auth.password")?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    user.expose(),
                    pass.expose()
                ));
                let value = Secret::new(format!("Basic {encoded}"));
                secrets.redactor().add(&encoded);
                Kind::Header(AUTHORIZATION, value)
            }
            Some(AuthSpec::Bearer { token }) => {
                let token = secrets.resolve(token, "client.auth.token")?;
                Kind::Header(
                    AUTHORIZATION,
                    Secret::new(format!("Bearer {}", token.expose())),
                )
            }
            Some(AuthSpec::ApiKey {
                name,
                api_key,
                location,
            }) => {
                let key = secrets.resolve(api_key, "client.auth.api_key")?;
                match location {
                    ApiKeyLocation::Header => Kind::Header(
                        HeaderName::from_bytes(name.as_bytes()).with_context(|| {
                            format!("`client.auth.name`: `{name}` is not a valid header name")
                        })?,
                        key,
                    ),
                    ApiKeyLocation::Query => Kind::Query(name.clone(), key),
                    ApiKeyLocation::Cookie => Kind::Cookie(name.clone(), key),
                }
            }
            Some(AuthSpec::OAuth2(spec)) => {
                let token_url = base_url.join(&spec.token_url).with_context(|| {
                    format!(
                        "`client.auth.token_url`: `{}` is not a valid URL",
                        spec.token_url
                    )
                })?;
                let opt = |v: &Option<String>, key: &str| -> Result<Option<Secret>> {
                    v.as_deref().map(|v| secrets.resolve(v, key)).transpose()
                };
                let mut extra = Vec::new();
                for (k, v) in &spec.extra {
                    extra.push((k.clone(), secrets.resolve(v, &format!("client.auth.{k}"))?));
                }
                Kind::OAuth2(Box::new(OAuth2 {
                    spec: spec.clone(),
                    token_url,
                    client_id: opt(&spec.client_id, "client.auth.client_id")?,
                    client_secret: opt(&spec.client_secret, "client.auth.client_secret")?,
                    username: opt(&spec.username, "client.auth.username")?,
                    password: opt(&spec.password, "client.auth.password")?,
                    extra,
                    token: tokio::sync::Mutex::new(None),
                    fetched: AtomicU64::new(0),
                }))
            }
        };
        Ok(Self {
            kind,
            accepted: AtomicU64::new(0),
            headers: resolved_headers,
        })
    }

    /// The token endpoint, when there is one (it must pass egress too).
    pub fn token_url(&self) -> Option<&Url> {
        match &self.kind {
            Kind::OAuth2(o) => Some(&o.token_url),
            _ => None,
        }
    }

    /// The API answered a request this authenticated with something other
    /// than 401: it took the credentials.
    pub fn note_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// How many answers [`Authenticator::note_accepted`] was told of.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// True if and only if a 401 can be answered by fetching a new token.
    pub fn can_refresh(&self) -> bool {
        matches!(self.kind, Kind::OAuth2(_))
    }

    /// The API refused `used`: forget the cached token if it is still that
    /// one, so that the next request fetches a new one. When a token is
    /// revoked, every request in flight with it is refused; the first one
    /// back fetches a new token and the others use it, instead of each
    /// replacing the token the one before fetched.
    pub async fn invalidate(&self, used: Credential) {
        if let Kind::OAuth2(o) = &self.kind {
            let mut guard = o.token.lock().await;
            if guard.as_ref().is_some_and(|t| t.serial == used.0) {
                *guard = None;
            }
        }
    }

    /// The headers to add to a request to `url` (query-located keys are
    /// appended to `url` instead), and which credential they carry.
    pub async fn headers_for(
        &self,
        http: &HttpClient,
        url: &mut Url,
    ) -> Result<(HeaderMap, Credential), HttpError> {
        let mut credential = Credential::default();
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            map.insert(name.clone(), sensitive(value)?);
        }
        match &self.kind {
            Kind::None => {}
            Kind::Header(name, value) => {
                map.insert(name.clone(), sensitive(value)?);
            }
            Kind::Query(name, value) => {
                url.query_pairs_mut().append_pair(name, value.expose());
            }
            Kind::Cookie(name, value) => {
                map.insert(
                    COOKIE,
                    sensitive(&Secret::new(format!("{name}={}", value.expose())))?,
                );
            }
            Kind::OAuth2(o) => {
                let (token, serial) = o.token(http).await?;
                credential = Credential(serial);
                map.insert(
                    AUTHORIZATION,
                    sensitive(&Secret::new(format!("Bearer {}", token.expose())))?,
                );
            }
        }
        Ok((map, credential))
    }
}

fn sensitive(value: &Secret) -> Result<HeaderValue, HttpError> {
    let mut v = HeaderValue::from_str(value.expose()).map_err(|_| {
        HttpError::Auth(
            "a header value built from a secret contains characters not allowed in HTTP headers"
                .into(),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl OAuth2 {
    /// The cached token, or a new one; with its serial number.
    async fn token(&self, http: &HttpClient) -> Result<(Secret, u64), HttpError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok((t.value.clone(), t.serial));
        }
        let token = self.fetch(http).await?;
        let out = (token.value.clone(), token.serial);
        *guard = Some(token);
        Ok(out)
    }

    async fn fetch(&self, http: &HttpClient) -> Result<Token, HttpError> {
        let mut form: Vec<(String, String)> = Vec::new();
        let grant = match self.spec.grant_type {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
        };
        form.push(("grant_type".into(), grant.into()));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            form.push(("username".into(), u.expose().into()));
            form.push(("password".into(), p.expose().into()));
        }
        if let Some(scope) = &self.spec.scope {
            form.push(("scope".into(), scope.clone()));
        }
        for (k, v) in &self.extra {
            form.push((k.clone(), v.expose().into()));
        }
        let mut basic = None;
        match self.spec.client_auth {
            ClientAuthStyle::Basic => {
                if let Some(id) = &self.client_id {
                    basic = Some((
                        id.expose(),
                        self.client_secret
                            .as_ref()
                            .map(Secret::expose)
                            .unwrap_or(""),
                    ));
                }
            }
            ClientAuthStyle::Form => {
                if let Some(id) = &self.client_id {
                    form.push(("client_id".into(), id.expose().into()));
                }
                if let Some(s) = &self.client_secret {
                    form.push(("client_secret".into(), s.expose().into()));
                }
            }
        }
        let shown_url = http.redact_url(&self.token_url);
        let (status, body) = http
            .post_form(&self.token_url, &form, basic)
            .await
            .map_err(|e| match e {
                HttpError::Denied(d) => HttpError::Auth(format!("token endpoint {shown_url}: {d}")),
                other => HttpError::Auth(format!("token endpoint {shown_url}: {other}")),
            })?;
        if !(200..300).contains(&status) {
            let excerpt = http.redactor().redact(&excerpt(&body));
            let hint = if matches!(status, 400 | 401 | 403) {
                ": the credentials in `client.auth` were rejected; check the secrets it references"
            } else {
                ""
            };
            return Err(HttpError::Auth(format!(
                "token endpoint {shown_url} answered HTTP {status}{hint} (body: {excerpt})"
            )));
        }
        let parsed: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            HttpError::Auth(format!("token endpoint {shown_url} did not answer JSON"))
        })?;
        let access = parsed
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                HttpError::Auth(format!(
                    "token endpoint {shown_url} answered without `access_token`"
                ))
            })?;
        http.redactor().add(access);
        let lifetime = parsed
            .get("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map(Duration::from_secs)
            .unwrap_or(self.spec.default_expiry);
        // Refresh ahead of expiry: a minute early, or at 90% of very short lifetimes.
        let early = REFRESH_MARGIN.min(lifetime / 10);
        Ok(Token {
            value: Secret::new(access),
            refresh_at: Instant::now() + lifetime.saturating_sub(early),
            serial: self.fetched.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }
}

/// The start of a body, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let mut s: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    if body.len() > 300 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_auth;
    use crate::egress::EgressPolicy;
    use crate::http::HttpSettings;

    fn setup() -> (Secrets, HttpClient, Url) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut secrets = Secrets::default();
        secrets.insert("key", "s3cr3t-value".into());
        let http = HttpClient::new(
            EgressPolicy::default(),
            HttpSettings::default(),
            secrets.redactor(),
        )
        .unwrap();
        (
            secrets,
            http,
            Url::parse("https://api.example.com/v1/").unwrap(),
        )
    }

    async fn apply(auth: serde_json::Value, headers: &[(String, String)]) -> (HeaderMap, Url) {
        let (secrets, http, base) = setup();
        let spec = parse_auth(&auth).unwrap();
        let a = Authenticator::new(Some(&spec), headers, &base, &secrets).unwrap();
        let mut url = base.join("items?page=1").unwrap();
        let (map, _) = a.headers_for(&http, &mut url).await.unwrap();
        (map, url)
    }

    #[tokio::test]
    async fn bearer_and_header_api_keys_are_sensitive_headers() {
        let (map, url) = apply(
            serde_json::json!({"type": "bearer", "token": "{{ secrets.key }}"}),
            &[],
        )
        .await;
        assert_eq!(map[AUTHORIZATION], "Bearer s3cr3t-value");
        assert!(map[AUTHORIZATION].is_sensitive());
        assert_eq!(url.query(), Some("page=1"));
        let (map, _) = apply(
            serde_json::json!({"type": "api_key", "name": "X-Api-Key", "api_key": "{{ secrets.key }}"}),
            &[("X-Tenant".into(), "t1".into())],
        )
        .await;
        assert_eq!(map["x-api-key"], "s3cr3t-value");
        assert_eq!(map["x-tenant"], "t1");
    }

    #[tokio::test]
    async fn query_and_cookie_api_keys_and_basic_auth() {
        let (map, url) = apply(
            serde_json::json!({"type": "api_key", "name": "api_key", "api_key": "{{ secrets.key }}", "location": "query"}),
            &[],
        )
        .await;
        assert!(map.is_empty());
        assert_eq!(url.query(), Some("page=1&api_key=s3cr3t-value"));
        let (map, _) = apply(
            serde_json::json!({"type": "api_key", "name": "sid", "api_key": "{{ secrets.key }}", "location": "cookie"}),
            &[],
        )
        .await;
        assert_eq!(map[COOKIE], "sid=s3cr3t-value");
        let (map, _) = apply(
            serde_json::json!({"type": "basic", "username": "{{ secrets.key }}", "password": "x"}),
            &[],
        )
        .await;
        // base64("s3cr3t-value:x")
        assert_eq!(map[AUTHORIZATION], "Basic czNjcjN0LXZhbHVlOng=");
    }

    /// The error of authenticating a request to `base` with an OAuth2
    /// client-credentials token from `token_url` (secret `key`).
    async fn token_error(
        secrets: &Secrets,
        http: &HttpClient,
        base: &Url,
        token_url: &str,
    ) -> String {
        let spec = parse_auth(&serde_json::json!({
            "type": "oauth2", "grant_type": "client_credentials", "client_id": "id",
            "client_secret": "{{ secrets.key }}", "token_url": token_url
        }))
        .unwrap();
        let a = Authenticator::new(Some(&spec), &[], base, secrets).unwrap();
        let mut url = base.clone();
        a.headers_for(http, &mut url).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn token_endpoint_at_a_non_public_address_is_refused_at_once() {
        // A component-declared host may only be reached at public
        // addresses; `localhost` resolves to loopback. The refusal is
        // final, as for data requests, not a network failure retried 5
        // times with backoff.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut policy = EgressPolicy::default();
        policy.declare(crate::egress::HostRule::parse("localhost").unwrap());
        let mut secrets = Secrets::default();
        secrets.insert("key", "s3cr3t-value".into());
        let http = HttpClient::new(policy, HttpSettings::default(), secrets.redactor()).unwrap();
        let base = Url::parse("http://localhost:9/").unwrap();
        let err = token_error(&secrets, &http, &base, "http://localhost:9/token").await;
        assert!(
            err.contains("token endpoint") && err.contains("non-public address"),
            "{err}"
        );
        assert!(!err.contains("retries"), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
    }

    #[tokio::test]
    async fn token_endpoint_refused_by_egress_is_an_auth_error_without_secrets() {
        let (secrets, http, base) = setup();
        let err = token_error(&secrets, &http, &base, "https://idp.example.com/token").await;
        assert!(
            err.contains("token endpoint")
                && err.contains("idp.example.com")
                && err.contains("not allowed"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t-value"));
    }
}
