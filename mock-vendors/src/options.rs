//! Options of one mock server: data size, seed, latency, token lifetime and
//! the deterministic faults it injects.

use std::net::{IpAddr, Ipv4Addr};

/// Default number of records per top-level resource: several pages at every
/// vendor's largest page size (Chargify 200, Pabbly/Younium/FastBill 100).
pub const DEFAULT_RECORDS: usize = 450;

/// Default seed of the generated data.
pub const DEFAULT_SEED: u64 = 42;

/// How one mock server behaves. Build it with struct update syntax:
/// `MockOptions { records: 50, ..MockOptions::default() }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockOptions {
    /// Records per top-level resource (child resources get a seeded number
    /// per parent). Default [`DEFAULT_RECORDS`].
    pub records: usize,
    /// Deterministic fault injection on data requests.
    pub faults: Faults,
    /// Delay added before answering every vendor request (not `/__mock/*`).
    pub latency_ms: u64,
    /// Seed of the generated data: the same seed gives byte-identical answers.
    pub seed: u64,
    /// Address to bind; must be a loopback address (`serve` refuses others).
    pub host: IpAddr,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// `expires_in` of issued OAuth tokens (Younium, PayPal), also enforced
    /// server-side. `None`: the vendor's usual value (Younium 3600 s,
    /// PayPal 32400 s).
    pub token_expires_in_secs: Option<u64>,
    /// Revoke a token after it authorized this many data requests, long
    /// before `expires_in` says: the next request with it answers 401, as a
    /// revoked or early-expired token does. `None`: never.
    pub token_max_uses: Option<u32>,
    /// Generate (and cache) every record before `serve` returns, so that the
    /// first sync measures the client, not the data generator. Records are
    /// cached lazily anyway, up to 25 000 per resource.
    pub warm_cache: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            records: DEFAULT_RECORDS,
            faults: Faults::default(),
            latency_ms: 0,
            seed: DEFAULT_SEED,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            token_expires_in_secs: None,
            token_max_uses: None,
            warm_cache: false,
        }
    }
}

/// Deterministic fault injection. Data requests (authenticated requests to a
/// vendor data endpoint; not token requests, not `/__mock/*`) are counted
/// from 1 in arrival order; request number `n` gets the first fault whose
/// `*_every` divides `n`, in the order the fields are listed here. A faulted
/// request never counts as served data in [`crate::Stats`].
///
/// A request is identified by method, path, query and body; the same
/// request is faulted at most `max_faults_per_request` times, so with the
/// default of 1 the retry of a faulted page succeeds even when its position
/// in the count would be faulted again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Every Nth data request answers 429 with a `Retry-After` header.
    pub rate_limit_every: Option<u32>,
    /// Value of `Retry-After` on injected 429s.
    pub retry_after_secs: u32,
    /// Send `Retry-After` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`)
    /// instead of seconds; real servers use both forms.
    pub retry_after_http_date: bool,
    /// Every Nth data request answers `server_error_status` (a 5xx).
    pub server_error_every: Option<u32>,
    /// Status of injected server errors: 500 by default, 502/503/504 work too.
    pub server_error_status: u16,
    /// Every Nth data request answers 200 with its JSON body cut in half, as
    /// a proxy that dropped the connection mid-body and closed cleanly does.
    pub truncated_body_every: Option<u32>,
    /// Every Nth data request answers 200 with an HTML error page, as a CDN
    /// or captive proxy in the way does.
    pub html_body_every: Option<u32>,
    /// Every Nth data request declares its full `Content-Length`, sends half
    /// the body and aborts the connection (a connection reset mid-body).
    pub connection_reset_every: Option<u32>,
    /// How many times the same request may be faulted. Default 1: a retry of
    /// a faulted page succeeds. `u32::MAX`: retries are faulted whenever the
    /// count lands on a fault again.
    pub max_faults_per_request: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_limit_every: None,
            retry_after_secs: 1,
            retry_after_http_date: false,
            server_error_every: None,
            server_error_status: 500,
            truncated_body_every: None,
            html_body_every: None,
            connection_reset_every: None,
            max_faults_per_request: 1,
        }
    }
}

impl Faults {
    /// Returns true if and only if no fault is configured.
    pub fn is_none(&self) -> bool {
        self.rate_limit_every.is_none()
            && self.server_error_every.is_none()
            && self.truncated_body_every.is_none()
            && self.html_body_every.is_none()
            && self.connection_reset_every.is_none()
    }
}
