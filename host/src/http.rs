//! Outbound HTTP for connectors: every request a component plans is sent
//! here, after the egress check, with authentication applied, retried on
//! transient failures with exponential backoff honouring `Retry-After`, and
//! with its body size capped while streaming.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use url::Url;

use crate::auth::Authenticator;
use crate::config::RetryPolicy;
use crate::egress::{Denied, EgressPolicy, is_public};
use crate::secrets::Redactor;

/// Default cap on one response body. A page larger than this is almost
/// certainly not a page (or a hostile server); 64 MiB keeps the memory of a
/// handful of in-flight pages bounded.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A request refused with 401 tries again with a new OAuth2 token at most
/// this many times in a row while no request of the run gets through
/// (credentials the API keeps refusing fail after a few token fetches)...
const AUTH_REFRESHES_STALLED: u32 = 3;
/// ...and at most this many times in all.
const AUTH_REFRESHES_IN_ALL: u32 = 16;

/// Whether a request the API refused with 401 may try again with a new
/// token. A token fetched after a revocation is shared by every request in
/// flight, and an API that limits a token's uses can revoke it again before
/// this request's retry goes out, so one request can be refused several
/// times in a row while the others get through: it goes on as long as the
/// API accepted some request since its last refusal (the tokens are good,
/// just revoked), within the bounds above.
struct AuthRetry {
    accepted_seen: u64,
    stalled: u32,
    total: u32,
}

impl AuthRetry {
    fn new(auth: &Authenticator) -> Self {
        Self {
            accepted_seen: auth.accepted(),
            stalled: 0,
            total: 0,
        }
    }

    /// Refused again: may the request try once more?
    fn again(&mut self, auth: &Authenticator) -> bool {
        let accepted = auth.accepted();
        if accepted != self.accepted_seen {
            self.accepted_seen = accepted;
            self.stalled = 0;
        }
        self.stalled += 1;
        self.total += 1;
        self.stalled <= AUTH_REFRESHES_STALLED && self.total <= AUTH_REFRESHES_IN_ALL
    }
}

/// Response headers never handed to a component: they can carry credentials.
const HIDDEN_RESPONSE_HEADERS: &[&str] = &[
    "set-cookie",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
];

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Cap on a response body, in bytes.
    pub max_body_bytes: usize,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub request_timeout: Duration,
    /// Told of every response (each attempt, retries included; `None`:
    /// no response, a transport error). `extract serve` counts them.
    pub on_response: Option<ResponseHook>,
}

/// A callback told of each response's status (`None`: transport error).
#[derive(Clone)]
pub struct ResponseHook(pub std::sync::Arc<dyn Fn(Option<u16>) + Send + Sync>);

impl std::fmt::Debug for ResponseHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseHook")
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            on_response: None,
        }
    }
}

/// A request ready to send (URL resolved, not yet authenticated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The method.
    pub method: reqwest::Method,
    /// The absolute URL including the query.
    pub url: Url,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// A JSON body.
    pub json_body: Option<String>,
}

/// A received response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names), minus credential-bearing ones.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Retries it took (0 when the first attempt was final).
    pub retries: u32,
}

/// Failures of sending a request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The egress policy refused the URL.
    #[error("request refused by the egress policy: {0}")]
    Denied(#[from] Denied),
    /// The connection failed, timed out or was reset, on every attempt.
    #[error("{what} (after {retries} retries)")]
    Transport { what: String, retries: u32 },
    /// The body exceeded the cap.
    #[error("the response body exceeds the limit of {limit} bytes (raise it with --max-body-mib)")]
    BodyTooLarge { limit: usize },
    /// Authentication could not be obtained.
    #[error("{0}")]
    Auth(String),
    /// The request could not be built.
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// The shared HTTP client of a run.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    settings: HttpSettings,
    redactor: Redactor,
}

/// The TLS settings of every client, built once per process: loading and
/// parsing the platform's root certificates takes milliseconds, and
/// `extract serve` builds a client per job. The platform's verifier,
/// TLS 1.2 and 1.3, ALPN for HTTP/2 and HTTP/1.1: what reqwest builds
/// by default.
/// Build the process's TLS settings on a thread of their own, so that
/// loading the root certificates overlaps other start-up work (`extract
/// run` opens its DuckDB file meanwhile). Clients built later wait for it.
pub fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("tls-roots".into())
        .spawn(|| {
            let _ = tls_config();
        });
}

fn tls_config() -> Result<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = rustls::crypto::CryptoProvider::get_default()
                .cloned()
                .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|e| format!("loading the platform's root certificates: {e}"))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("setting up TLS: {e}"))
}

impl HttpClient {
    /// Build a client that enforces `policy` on every request and redirect.
    pub fn new(policy: EgressPolicy, settings: HttpSettings, redactor: Redactor) -> Result<Self> {
        let policy = Arc::new(policy);
        let redirect_policy = {
            let policy = policy.clone();
            reqwest::redirect::Policy::custom(move |attempt| {
                let same_host = attempt
                    .previous()
                    .last()
                    .is_some_and(|prev| prev.host_str() == attempt.url().host_str());
                if attempt.previous().len() > 5 {
                    attempt.error("more than 5 redirects")
                } else if !same_host {
                    let host = attempt.url().host_str().unwrap_or("?").to_string();
                    attempt.error(format!("redirect to another host ({host}) refused"))
                } else if let Err(denied) = policy.check(attempt.url()) {
                    attempt.error(denied.to_string())
                } else {
                    attempt.follow()
                }
            })
        };
        let client = reqwest::Client::builder()
            .redirect(redirect_policy)
            .dns_resolver(Arc::new(PolicyResolver {
                policy: policy.clone(),
            }))
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .pool_max_idle_per_host(32)
            .user_agent(concat!("extract/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls_config()?)
            .build()?;
        Ok(Self {
            client,
            policy,
            settings,
            redactor,
        })
    }

    /// The egress policy in force.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The redactor for messages about requests.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Send `req` with authentication and the retry policy. Non-2xx final
    /// responses are returned, not errors: the connector decides what they
    /// mean.
    pub async fn send(
        &self,
        req: &OutgoingRequest,
        auth: &Authenticator,
        retry: &RetryPolicy,
    ) -> Result<HttpResponse, HttpError> {
        self.policy.check(&req.url)?;
        let mut retries = 0u32;
        let mut auth_retry = AuthRetry::new(auth);
        loop {
            let mut url = req.url.clone();
            let mut builder_headers = HeaderMap::new();
            for (name, value) in &req.headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| HttpError::Invalid(format!("bad header name `{name}`")))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|_| HttpError::Invalid(format!("bad value for header `{name}`")))?;
                builder_headers.insert(name, value);
            }
            let (auth_headers, credential) = auth.headers_for(self, &mut url).await?;
            let mut builder = self
                .client
                .request(req.method.clone(), url)
                .headers(builder_headers);
            builder = builder.headers(auth_headers);
            if let Some(body) = &req.json_body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match builder.send().await {
                Ok(resp) => self.read(resp).await,
                Err(e) => Err(ReadError::Transport(e)),
            };
            self.observe(&outcome);
            match outcome {
                Ok((status, headers, body, retry_after)) => {
                    if status != 401 {
                        auth.note_accepted();
                    } else if auth.can_refresh() && auth_retry.again(auth) {
                        // A token can die before its expiry (revoked, clock
                        // skew): get a new one and try again.
                        auth.invalidate(credential).await;
                        continue;
                    }
                    if retry.retries_status(status) && retries < retry.max_retries {
                        retries += 1;
                        let wait = status_wait(retry, retries, retry_after);
                        tracing::debug!(status, retries, ?wait, url = %self.redact_url(&req.url), "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Ok(HttpResponse {
                        status,
                        headers,
                        body,
                        retries,
                    });
                }
                Err(ReadError::TooLarge(limit, _)) => {
                    return Err(HttpError::BodyTooLarge { limit });
                }
                Err(ReadError::Transport(e)) => {
                    // The resolver refused the host's addresses: a policy
                    // decision, final, not a network failure to retry.
                    if let Some(denied) = denied_by_resolver(&e) {
                        return Err(HttpError::Denied(denied));
                    }
                    let what = self.describe_transport_error(&e);
                    if e.is_redirect() || e.is_builder() {
                        return Err(HttpError::Transport { what, retries });
                    }
                    if retries < retry.max_retries {
                        retries += 1;
                        let wait = jitter(retry.backoff(retries));
                        tracing::debug!(retries, ?wait, "retrying after transport error: {what}");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(HttpError::Transport { what, retries });
                }
            }
        }
    }

    fn observe(&self, outcome: &Result<ReadResponse, ReadError>) {
        if let Some(hook) = &self.settings.on_response {
            (hook.0)(match outcome {
                Ok((status, ..)) => Some(*status),
                Err(ReadError::TooLarge(_, status)) => Some(*status),
                Err(ReadError::Transport(_)) => None,
            });
        }
    }

    /// Read status, headers and a size-capped body.
    async fn read(&self, mut resp: reqwest::Response) -> Result<ReadResponse, ReadError> {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let headers = resp
            .headers()
            .iter()
            .filter(|(n, _)| !HIDDEN_RESPONSE_HEADERS.contains(&n.as_str()))
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let limit = self.settings.max_body_bytes;
        if resp.content_length().is_some_and(|l| l as usize > limit) {
            return Err(ReadError::TooLarge(limit, status));
        }
        let mut body =
            Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit as u64) as usize);
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(ReadError::TooLarge(limit, status));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body, retry_after))
    }

    /// A POST of a form, for token endpoints; retried like data requests.
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(String, String)],
        basic: Option<(&str, &str)>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        self.policy.check(url)?;
        let retry = RetryPolicy::default();
        let mut retries = 0;
        loop {
            let mut builder = self.client.post(url.clone()).form(form);
            if let Some((user, pass)) = basic {
                builder = builder.basic_auth(user, Some(pass));
            }
            let outcome = match builder.send().await {
                Ok(resp) => self.read(resp).await,
                Err(e) => Err(ReadError::Transport(e)),
            };
            self.observe(&outcome);
            match outcome {
                Ok((status, _, body, retry_after)) => {
                    if retry.retries_status(status) && retries < retry.max_retries {
                        retries += 1;
                        tokio::time::sleep(status_wait(&retry, retries, retry_after)).await;
                        continue;
                    }
                    return Ok((status, body));
                }
                Err(ReadError::TooLarge(limit, _)) => {
                    return Err(HttpError::BodyTooLarge { limit });
                }
                Err(ReadError::Transport(e)) => {
                    // As for data requests: the resolver's refusal is a
                    // policy decision, final, not a failure to retry.
                    if let Some(denied) = denied_by_resolver(&e) {
                        return Err(HttpError::Denied(denied));
                    }
                    if retries < retry.max_retries && !e.is_redirect() {
                        retries += 1;
                        tokio::time::sleep(jitter(retry.backoff(retries))).await;
                        continue;
                    }
                    return Err(HttpError::Transport {
                        what: self.describe_transport_error(&e),
                        retries,
                    });
                }
            }
        }
    }

    /// A URL as it may be shown: no userinfo, secret values scrubbed.
    pub fn redact_url(&self, url: &Url) -> String {
        redact_url(url, &self.redactor)
    }

    fn describe_transport_error(&self, e: &reqwest::Error) -> String {
        let timeout;
        let kind = if e.is_connect() {
            "could not connect"
        } else if e.is_timeout() {
            timeout = format!(
                "timed out: no complete response within {}s (limit --request-timeout-secs)",
                self.settings.request_timeout.as_secs()
            );
            timeout.as_str()
        } else if e.is_redirect() {
            "redirect refused"
        } else if e.is_body() || e.is_decode() {
            "the connection broke while reading the body"
        } else {
            "request failed"
        };
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            let text = s.to_string();
            if !detail.contains(&text) {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(&text);
            }
            source = s.source();
        }
        self.redactor.redact(&format!("{kind}: {detail}"))
    }
}

/// The egress refusal behind a failed connection, if the policy's resolver
/// refused the host's addresses.
fn denied_by_resolver(e: &reqwest::Error) -> Option<Denied> {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(denied) = s.downcast_ref::<Denied>() {
            return Some(denied.clone());
        }
        source = s.source();
    }
    None
}

/// `url` without userinfo and with known secrets removed.
pub fn redact_url(url: &Url, redactor: &Redactor) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    redactor.redact(u.as_str())
}

/// Status, headers, body and `Retry-After` of a response read in full.
type ReadResponse = (u16, Vec<(String, String)>, Vec<u8>, Option<Duration>);

/// Why reading a response failed.
enum ReadError {
    Transport(reqwest::Error),
    TooLarge(usize, u16),
}

impl From<reqwest::Error> for ReadError {
    fn from(e: reqwest::Error) -> Self {
        Self::Transport(e)
    }
}

/// Parse `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The wait before retry number `retries` after a retryable status: the
/// server's `Retry-After`, else the policy's backoff with jitter; never
/// more than the policy's `max_delay`.
fn status_wait(retry: &RetryPolicy, retries: u32, retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or_else(|| jitter(retry.backoff(retries)))
        .min(retry.max_delay)
}

/// Up to 10% random extra wait, so many extractions retrying at once spread out.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(1.0 + rand::random::<f64>() * 0.1)
}

/// Resolves DNS for the HTTP client and, for hosts that are not trusted by
/// the operator, keeps only public addresses (so a component-declared host
/// cannot be pointed at loopback or a metadata service through DNS).
struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let public_only = self.policy.public_only(name.as_str());
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = if public_only {
                addrs
                    .iter()
                    .copied()
                    .filter(|a| is_public(a.ip()))
                    .collect()
            } else {
                addrs.clone()
            };
            if allowed.is_empty() {
                let addr = addrs
                    .first()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|| "no address".into());
                let err: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(Denied::NonPublicAddress {
                        host: host.clone(),
                        addr: addrs
                            .first()
                            .map(|a| a.ip())
                            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                    });
                tracing::debug!("refused {host} at {addr}");
                return Err(err);
            }
            let iter: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(iter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;
    use crate::config::{RetryPolicy, parse_auth};
    use crate::egress::HostRule;
    use crate::secrets::Secrets;
    use mock_vendors::{MockOptions, Vendor};

    /// `requests` GETs at once against the Younium mock, whose tokens are
    /// revoked after `token_max_uses` uses each; returns the statuses and
    /// the server's stats. Every answer (the token endpoint's too) takes
    /// 50 ms, so that the requests go out together and come back
    /// together, round after round.
    async fn concurrent_gets_with_revoked_tokens(
        requests: usize,
        token_max_uses: u32,
    ) -> (Vec<u16>, mock_vendors::Stats) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = mock_vendors::serve(
            Vendor::Younium,
            MockOptions {
                token_max_uses: Some(token_max_uses),
                latency_ms: 50,
                ..MockOptions::default()
            },
        )
        .await
        .unwrap();
        let base = Url::parse(&server.base_url()).unwrap();
        let mut policy = EgressPolicy::default();
        policy.trust(HostRule::from_url(&base).unwrap());
        let mut secrets = Secrets::default();
        secrets.insert("username", mock_vendors::YOUNIUM_USERNAME.into());
        secrets.insert("password", mock_vendors::YOUNIUM_PASSWORD.into());
        secrets.insert("legal_entity", mock_vendors::YOUNIUM_LEGAL_ENTITY.into());
        let http = HttpClient::new(policy, HttpSettings::default(), secrets.redactor()).unwrap();
        let spec = parse_auth(&serde_json::json!({
            "type": "oauth2", "grant_type": "password", "client_id": "apiclient",
            "username": "{{ secrets.username }}", "password": "{{ secrets.password }}",
            "legal_entity": "{{ secrets.legal_entity }}", "scope": "openid api profile",
            "token_url": "/connect/token",
        }))
        .unwrap();
        let auth = Authenticator::new(Some(&spec), &[], &base, &secrets).unwrap();
        let retry = RetryPolicy::default();
        let get = |page: usize| OutgoingRequest {
            method: reqwest::Method::GET,
            url: base
                .join(&format!("/v1/accounts?PageSize=1&PageNumber={page}"))
                .unwrap(),
            headers: Vec::new(),
            json_body: None,
        };
        let sends = (1..=requests).map(|page| {
            let (http, auth, retry, req) = (&http, &auth, &retry, get(page));
            async move { http.send(&req, auth, retry).await.unwrap().status }
        });
        let statuses = futures::future::join_all(sends).await;
        let stats = server.stats();
        server.shutdown().await;
        (statuses, stats)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoked_token_is_replaced_once_for_all_requests_it_was_refused_to() {
        // 30 requests at once, tokens good for 25 uses: 5 requests are
        // refused with the first token, and one new token serves them all
        // (each replacing the token the one before had fetched took up to
        // 6).
        let (statuses, stats) = concurrent_gets_with_revoked_tokens(30, 25).await;
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
        assert_eq!(stats.status(401), 5, "{stats:?}");
        assert_eq!(stats.tokens_issued, 2, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_go_on_through_many_revocations_while_the_api_accepts_some() {
        // Tokens good for 3 uses, 30 requests at once: 10 rounds, and the
        // last 3 requests were refused 9 times each.
        let (statuses, stats) = concurrent_gets_with_revoked_tokens(30, 3).await;
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?} {stats:?}");
        assert_eq!(stats.tokens_issued, 10, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tokens_the_api_never_accepts_fail_the_request_after_three_new_ones() {
        // Every token is refused from its first use: a request gives up
        // after the first token and 3 new ones, its 401 returned.
        let (statuses, stats) = concurrent_gets_with_revoked_tokens(1, 0).await;
        assert_eq!(statuses, [401]);
        assert_eq!(stats.tokens_issued, 4, "{stats:?}");
        let (statuses, stats) = concurrent_gets_with_revoked_tokens(5, 0).await;
        assert_eq!(statuses, [401; 5]);
        assert!(stats.tokens_issued <= 16, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_outlives_tokens_revoked_again_before_its_retry() {
        // Tokens good for 3 uses, 8 requests at once: the first token
        // serves 3 of them, the second 3 more, the third the last 2 (a
        // request may be refused twice before its turn comes).
        let (statuses, stats) = concurrent_gets_with_revoked_tokens(8, 3).await;
        assert!(statuses.iter().all(|&s| s == 200), "{statuses:?} {stats:?}");
        assert_eq!(stats.tokens_issued, 3, "{stats:?}");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let future = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let d = parse_retry_after(&future).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn redacted_urls_lose_userinfo_and_secrets() {
        let r = Redactor::default();
        r.add("topsecret");
        let u = Url::parse("http://user:pw@h/x?api_key=topsecret").unwrap();
        assert_eq!(redact_url(&u, &r), "http://h/x?api_key=***");
    }
}
