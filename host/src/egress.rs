//! Egress policy: which hosts a run may send requests to. Pure policy, no
//! I/O, checked before every request (and every redirect) is sent.
//!
//! Two tiers of permission:
//! - *trusted* hosts, written by the operator (the `base_url` and token URL
//!   of the config file given to `extract run`, and `--allow-host`): allowed
//!   at whatever address they have, loopback included — that is how local
//!   mocks run;
//! - *declared* hosts, named only by a component (a vendor component's
//!   built-in `base_url`): allowed only at public addresses. The host
//!   resolves DNS itself and drops loopback, private, link-local and
//!   cloud-metadata addresses for them.
//!
//! Every other host is denied.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// A host (lower case, no brackets) and optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    host: String,
    /// `None` allows any port.
    port: Option<u16>,
}

impl HostRule {
    /// The rule that matches exactly `url`'s host and port.
    pub fn from_url(url: &Url) -> Option<Self> {
        Some(Self {
            host: normalize_host(url.host_str()?),
            port: url.port_or_known_default(),
        })
    }

    /// Parse `HOST` or `HOST:PORT` (IPv6 in brackets), as given to `--allow-host`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text.contains('/') || text.contains('@') {
            return Err(format!(
                "`{text}` is not a host: write `HOST` or `HOST:PORT`, e.g. `api.example.com:443`"
            ));
        }
        let url = Url::parse(&format!("http://{text}"))
            .map_err(|e| format!("`{text}` is not a host ({e})"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{text}` has no host"))?;
        Ok(Self {
            host: normalize_host(host),
            port: url.port(),
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host && (self.port.is_none() || self.port == port)
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Why a request was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Denied {
    /// The host is not in the allow-list.
    #[error(
        "host `{host}` is not allowed: requests may only go to {allowed}; an operator can allow it with `--allow-host {host}`"
    )]
    HostNotAllowed { host: String, allowed: String },
    /// The URL is not http(s).
    #[error("`{0}` is not an http(s) URL")]
    Scheme(String),
    /// A declared host resolved to (or is) a non-public address.
    #[error(
        "host `{host}` resolves to the non-public address {addr}; only hosts the operator allows may be reached at such addresses"
    )]
    NonPublicAddress { host: String, addr: IpAddr },
}

/// The decision for an allowed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Trusted by the operator: any address.
    Trusted,
    /// Declared by a component: public addresses only.
    PublicOnly,
}

/// The egress policy of a run.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    trusted: Vec<HostRule>,
    declared: Vec<HostRule>,
}

impl EgressPolicy {
    /// Trust `rule` (operator-written).
    pub fn trust(&mut self, rule: HostRule) {
        if !self.trusted.contains(&rule) {
            self.trusted.push(rule);
        }
    }

    /// Allow `rule` at public addresses only (component-declared).
    pub fn declare(&mut self, rule: HostRule) {
        if !self.declared.contains(&rule) && !self.trusted.contains(&rule) {
            self.declared.push(rule);
        }
    }

    /// Check a URL before any I/O.
    pub fn check(&self, url: &Url) -> Result<Allowed, Denied> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Denied::Scheme(url.scheme().to_string()));
        }
        let Some(host) = url.host_str() else {
            return Err(Denied::Scheme(url.as_str().to_string()));
        };
        let host = normalize_host(host);
        let port = url.port_or_known_default();
        if self.trusted.iter().any(|r| r.matches(&host, port)) {
            return Ok(Allowed::Trusted);
        }
        if self.declared.iter().any(|r| r.matches(&host, port)) {
            if let Ok(ip) = host.parse::<IpAddr>()
                && !is_public(ip)
            {
                return Err(Denied::NonPublicAddress { host, addr: ip });
            }
            return Ok(Allowed::PublicOnly);
        }
        Err(Denied::HostNotAllowed {
            host: match port {
                Some(p) if url.port().is_some() => format!("{host}:{p}"),
                _ => host,
            },
            allowed: self.describe(),
        })
    }

    /// True if and only if `host` may only be reached at public addresses
    /// (used by the DNS resolver to filter addresses).
    pub fn public_only(&self, host: &str) -> bool {
        let host = normalize_host(host);
        !self.trusted.iter().any(|r| r.host == host)
    }

    fn describe(&self) -> String {
        let all: Vec<String> = self
            .trusted
            .iter()
            .chain(&self.declared)
            .map(|r| match r.port {
                Some(p) => format!("{}:{p}", r.host),
                None => r.host.clone(),
            })
            .collect();
        if all.is_empty() {
            "no host".into()
        } else {
            all.join(", ")
        }
    }

    /// The allowed hosts, for `inspect` and messages.
    pub fn hosts(&self) -> Vec<String> {
        self.describe().split(", ").map(String::from).collect()
    }
}

/// True if and only if `ip` is a globally routable address: not loopback,
/// private, link-local (which includes the 169.254.169.254 metadata
/// service), shared, documentation, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)) // AWS IMDS v6
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn trusted_base_url_host_and_port_allowed_others_denied() {
        let mut p = EgressPolicy::default();
        p.trust(HostRule::from_url(&url("http://127.0.0.1:8080/api/")).unwrap());
        assert_eq!(
            p.check(&url("http://127.0.0.1:8080/x?y=1")),
            Ok(Allowed::Trusted)
        );
        assert!(matches!(
            p.check(&url("http://127.0.0.1:9090/x")),
            Err(Denied::HostNotAllowed { .. })
        ));
        assert!(matches!(
            p.check(&url("http://evil.example.com:8080/")),
            Err(Denied::HostNotAllowed { .. })
        ));
        assert!(matches!(
            p.check(&url("file:///etc/passwd")),
            Err(Denied::Scheme(_))
        ));
    }

    #[test]
    fn declared_hosts_refuse_non_public_ip_literals() {
        let mut p = EgressPolicy::default();
        p.declare(HostRule::parse("169.254.169.254").unwrap());
        p.declare(HostRule::parse("api.example.com").unwrap());
        assert!(matches!(
            p.check(&url("http://169.254.169.254/latest")),
            Err(Denied::NonPublicAddress { .. })
        ));
        assert_eq!(
            p.check(&url("https://api.example.com/v1")),
            Ok(Allowed::PublicOnly)
        );
        assert!(p.public_only("api.example.com"));
    }

    #[test]
    fn allow_host_parses_host_and_port() {
        assert_eq!(
            HostRule::parse("Example.COM:8443").unwrap(),
            HostRule {
                host: "example.com".into(),
                port: Some(8443)
            }
        );
        assert_eq!(
            HostRule::parse("[::1]").unwrap(),
            HostRule {
                host: "::1".into(),
                port: None
            }
        );
        assert!(HostRule::parse("http://x/y").is_err());
    }

    #[test]
    fn public_address_classification() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a} must not be public");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(a.parse().unwrap()), "{a} must be public");
        }
    }
}

/// Property tests of the policy: any URL text is decided without a panic,
/// and nothing but the allowed host and port ever passes.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    use crate::fuzz_support::config;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn only_the_trusted_host_and_port_pass(
            text in prop_oneof![
                "\\PC{0,40}",
                "(http|https|file|ftp)://[a-z0-9.:@\\[\\]%-]{0,24}(/[a-z]{0,4})?",
            ],
            rule in "\\PC{0,20}",
        ) {
            let _ = HostRule::parse(&rule);
            let mut policy = EgressPolicy::default();
            policy.trust(HostRule::parse("api.example.com:8443").expect("rule"));
            if let Ok(url) = Url::parse(&text)
                && policy.check(&url).is_ok()
            {
                prop_assert_eq!(url.host_str(), Some("api.example.com"), "{}", url);
                prop_assert_eq!(url.port_or_known_default(), Some(8443), "{}", url);
            }
        }
    }
}
