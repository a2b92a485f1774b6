//! The five vendors: which one to serve and the behaviour each implements
//! (one module per vendor, named after the vendor).

use std::fmt;
use std::str::FromStr;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::credentials::*;
use crate::http::Req;
use crate::options::MockOptions;
use crate::server::App;
use crate::stats::Expected;

pub mod chargify;
pub mod fastbill;
pub mod pabbly;
pub mod paypal;
pub mod younium;

/// A vendor whose real API the mock imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Chargify / Maxio Advanced Billing (seed 000).
    Chargify,
    /// Pabbly Subscriptions Billing (seed 001).
    Pabbly,
    /// Younium (seed 002).
    Younium,
    /// FastBill (seed 003).
    FastBill,
    /// PayPal (seed 004).
    PayPal,
}

impl Vendor {
    /// All vendors, in seed order.
    pub const ALL: [Vendor; 5] = [
        Vendor::Chargify,
        Vendor::Pabbly,
        Vendor::Younium,
        Vendor::FastBill,
        Vendor::PayPal,
    ];

    /// Lower-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Chargify => "chargify",
            Vendor::Pabbly => "pabbly",
            Vendor::Younium => "younium",
            Vendor::FastBill => "fastbill",
            Vendor::PayPal => "paypal",
        }
    }

    /// Path prefix of the API below the server root: what the seed's
    /// `client.base_url` ends with (`/api/v1` for Pabbly, empty otherwise).
    pub fn api_base_path(self) -> &'static str {
        match self {
            Vendor::Pabbly => pabbly::BASE_PATH,
            _ => "",
        }
    }

    /// Token endpoint path, for the vendors that use OAuth.
    pub fn token_path(self) -> Option<&'static str> {
        match self {
            Vendor::Younium => Some(YOUNIUM_TOKEN_PATH),
            Vendor::PayPal => Some(PAYPAL_TOKEN_PATH),
            _ => None,
        }
    }

    /// The secrets the seed config names (`dlt.secrets["NAME"]`) and the
    /// values this mock accepts for them.
    pub fn secrets(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Vendor::Chargify => vec![("api_key", CHARGIFY_API_KEY)],
            Vendor::Pabbly => vec![("username", PABBLY_USERNAME), ("password", PABBLY_PASSWORD)],
            Vendor::Younium => vec![
                ("username", YOUNIUM_USERNAME),
                ("password", YOUNIUM_PASSWORD),
                ("legal_entity", YOUNIUM_LEGAL_ENTITY),
            ],
            Vendor::FastBill => vec![("username", FASTBILL_EMAIL), ("api_key", FASTBILL_API_KEY)],
            Vendor::PayPal => vec![
                ("client_id", PAYPAL_CLIENT_ID),
                ("client_secret", PAYPAL_CLIENT_SECRET),
            ],
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Vendor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Vendor::ALL
            .into_iter()
            .find(|v| v.name() == lower || (lower == "maxio" && *v == Vendor::Chargify))
            .ok_or_else(|| {
                format!(
                    "unknown vendor `{s}`: expected one of chargify, pabbly, younium, fastbill, paypal"
                )
            })
    }
}

/// What one vendor does with a request.
pub trait Api: Send + Sync {
    /// Every record the mock holds, per resource.
    fn expected(&self) -> Expected;
    /// Answers one (buffered) request.
    fn handle(&self, app: &App, req: &Req) -> Response;
    /// The vendor's JSON error body for `status` (used by injected faults).
    fn error_body(&self, status: StatusCode, message: &str) -> Value;
    /// Generates and caches every cacheable record now (blocking).
    fn warm(&self) {}
}

/// The behaviour of `vendor` with the data `opts` asks for.
pub fn build(vendor: Vendor, opts: &MockOptions) -> Box<dyn Api> {
    match vendor {
        Vendor::Chargify => Box::new(chargify::Chargify::new(opts)),
        Vendor::Pabbly => Box::new(pabbly::Pabbly::new(opts)),
        Vendor::Younium => Box::new(younium::Younium::new(opts)),
        Vendor::FastBill => Box::new(fastbill::FastBill::new(opts)),
        Vendor::PayPal => Box::new(paypal::PayPal::new(opts)),
    }
}

/// Token prefix per vendor (PayPal's look like `A21AA...`).
pub fn token_prefix(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::PayPal => "A21AA",
        _ => "yn_",
    }
}
