//! Younium (seed 002): OAuth2 password grant at an identity server's
//! `/connect/token`, Bearer data calls, `nextPage` URL pagination.
//!
//! Real API behaviour imitated here:
//! - `POST /connect/token`, form fields `grant_type=password`,
//!   `client_id=apiclient`, `username`, `password`, `legal_entity`, `scope`
//!   (optional; when given every scope must be known and `api` must be among
//!   them). Errors are IdentityServer's: 400 `{"error": "invalid_grant" |
//!   "invalid_client" | "unsupported_grant_type" | "invalid_scope" |
//!   "invalid_request", "error_description": ...}`. Success:
//!   `{"access_token", "expires_in", "token_type": "Bearer", "scope"}`.
//!   Tokens really expire after `expires_in`, and with
//!   `MockOptions::token_max_uses` are revoked early: the next data call
//!   answers 401 and the client must fetch a new token.
//! - `GET /Accounts`, `/Bookings`, `/Invoices`, `/Products`, `/Subscriptions`
//!   (paths are case-insensitive, as in ASP.NET) and the seed's `/v1/accounts`,
//!   `/v1/bookings`, `/v1/invoices`, `/v1/products`, `/v1/subscriptions` serve
//!   the same data. Query: `PageSize` (default 100, < 1 -> 100) and
//!   `PageNumber` (from 1), names case-insensitive; other parameters are
//!   ignored (including a `cursor` parameter).
//! - Body `{"data": [...], "nextPage": "<absolute URL>" | null}`; the URL
//!   points at this server (as addressed in `Host`), same path, with
//!   `PageNumber`/`PageSize` set. The last page has `nextPage: null`; no
//!   empty page follows a full one.
//! - Missing, unknown, expired or revoked token: 401 with
//!   `WWW-Authenticate: Bearer error="invalid_token"` and a problem-details
//!   JSON body.
//!
//! Seed quirks: the seed gives no token URL (the config must name
//! `{base_url}/connect/token`), and a dlt `cursor` paginator would send
//! `?cursor=<nextPage URL>` to the first path instead of requesting the
//! `nextPage` URL itself: the real API ignores the unknown parameter and
//! answers page 1 again, so such a client loops.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::cache::{RECORDS, RecordCache, join, splice};
use crate::credentials::{
    YOUNIUM_CLIENT_ID, YOUNIUM_LEGAL_ENTITY, YOUNIUM_PASSWORD, YOUNIUM_SCOPES, YOUNIUM_TOKEN_PATH,
    YOUNIUM_USERNAME,
};
use crate::datagen::{DAY, EPOCH_2023, ORGANIZATIONS, PLACES, Person, Rng, Ts, uuid};
use crate::http::{self, Req, page_range, parse_int};
use crate::options::MockOptions;
use crate::server::App;
use crate::stats::Expected;
use crate::tokens::TokenCheck;
use crate::vendors::Api;

/// `PageSize` when none is given.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
/// `expires_in` of tokens unless the options say otherwise.
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 3600;
/// Days of history the generated records span.
const HISTORY_DAYS: i64 = 600;

/// The five lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Accounts,
    Bookings,
    Invoices,
    Products,
    Subscriptions,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Accounts,
        Kind::Bookings,
        Kind::Invoices,
        Kind::Products,
        Kind::Subscriptions,
    ];

    /// Resource name in the seed config.
    fn resource(self) -> &'static str {
        match self {
            Kind::Accounts => "account",
            Kind::Bookings => "booking",
            Kind::Invoices => "invoice",
            Kind::Products => "product",
            Kind::Subscriptions => "subscription",
        }
    }

    /// Path in the real API.
    fn path(self) -> &'static str {
        match self {
            Kind::Accounts => "/Accounts",
            Kind::Bookings => "/Bookings",
            Kind::Invoices => "/Invoices",
            Kind::Products => "/Products",
            Kind::Subscriptions => "/Subscriptions",
        }
    }

    /// `/Accounts`, `/accounts`, `/v1/accounts`, `/V1/Accounts/`, ...
    fn from_path(path: &str) -> Option<Kind> {
        let lower = path.trim_end_matches('/').to_ascii_lowercase();
        let stem = lower.strip_prefix("/v1").unwrap_or(&lower);
        Kind::ALL
            .into_iter()
            .find(|k| k.path().eq_ignore_ascii_case(stem))
    }
}

/// Products of the catalogue: (number, name, monthly price in cents).
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("P-1001", "Platform licence", 120_000),
    ("P-1002", "Analytics add-on", 30_000),
    ("P-1003", "Premium support", 45_000),
    ("P-1004", "Onboarding (one-off)", 250_000),
    ("P-1005", "Användarlicens", 9_900),
];

/// The Younium mock's data.
pub struct Younium {
    seed: u64,
    n: usize,
    expires_in: u64,
    max_uses: Option<u32>,
    /// Serialized records per kind, indexed by `Kind as usize`.
    cache: [RecordCache; 5],
}

impl Younium {
    /// Data for `opts.records` records per list.
    pub fn new(opts: &MockOptions) -> Self {
        Self {
            seed: opts.seed,
            n: opts.records,
            expires_in: opts
                .token_expires_in_secs
                .unwrap_or(DEFAULT_EXPIRES_IN_SECS),
            max_uses: opts.token_max_uses,
            cache: std::array::from_fn(|_| RecordCache::new(opts.records)),
        }
    }

    fn rng(&self, stream: &str, i: usize) -> Rng {
        Rng::new(self.seed, stream, i as u64)
    }

    fn created(&self, r: &mut Rng, i: usize) -> Ts {
        let slot = HISTORY_DAYS * DAY / self.n.max(1) as i64;
        EPOCH_2023.plus(slot * i as i64 + r.between(0, slot.max(1) - 1))
    }

    /// GUID of record `i` of `kind`.
    fn id(&self, kind: Kind, i: usize) -> String {
        uuid(&mut self.rng(kind.resource(), i ^ 0x1D00_0000))
    }

    fn account_ref(&self, i: usize) -> Value {
        let mut r = self.rng("younium.account", i);
        json!({
            "id": self.id(Kind::Accounts, i),
            "accountNumber": format!("A-{:06}", i + 1),
            "name": *r.pick(ORGANIZATIONS),
        })
    }

    fn account(&self, i: usize) -> Value {
        let mut r = self.rng("younium.account", i);
        let name = *r.pick(ORGANIZATIONS);
        let p = Person::draw(&mut r, i as u64, "customer.example");
        let place = r.pick(PLACES);
        let created = self.created(&mut r, i);
        let address = |kind: &str| {
            json!({
                "id": format!("{}-{kind}", &self.id(Kind::Accounts, i)[..23]),
                "type": kind,
                "street": place.street,
                "street2": Value::Null,
                "city": place.city,
                "zip": place.zip,
                "country": place.country,
                "state": place.state,
            })
        };
        let term_days = *r.pick(&[10, 30, 45]);
        json!({
            "id": self.id(Kind::Accounts, i),
            "accountNumber": format!("A-{:06}", i + 1),
            "name": name,
            "accountType": if r.percent(90) { "Customer" } else { "Reseller" },
            "status": if r.percent(92) { "Active" } else { "Inactive" },
            "currencyCode": r.pick(&["SEK", "EUR", "USD", "NOK"]),
            "organizationNumber": format!("{}-{:04}", r.between(500_000, 599_999), r.below(10_000)),
            "vatNumber": if r.percent(60) { json!(format!("SE{}01", r.between(1_000_000_000, 9_999_999_999))) } else { Value::Null },
            "invoiceDeliveryMethod": r.pick(&["Email", "Mail", "EInvoice"]),
            "emailAddress": p.email,
            "ourReference": { "id": uuid(&mut r), "name": "Sara Lindqvist", "email": "sara@vendor.example" },
            "yourReference": p.full(),
            "defaultPaymentTerm": { "id": format!("pt-{term_days}"), "name": format!("{term_days} dagar"), "days": term_days },
            "invoiceAddress": address("Invoice"),
            "deliveryAddress": if r.percent(60) { address("Delivery") } else { Value::Null },
            "addresses": [address("Invoice")],
            "contacts": [{ "firstName": p.first, "lastName": p.last, "email": p.email, "role": "Billing" }],
            "parentAccount": if i > 0 && r.percent(10) { self.account_ref(i - 1) } else { Value::Null },
            "customFields": { "segment": r.pick(&["SMB", "Mid-market", "Enterprise"]), "crmId": if r.percent(50) { json!(format!("001{}", r.below(1_000_000_000))) } else { Value::Null } },
            "created": created.iso_z(),
            "modified": created.plus(r.between(0, 100 * DAY)).iso_z(),
        })
    }

    fn product_ref(&self, k: usize) -> Value {
        let (number, name, _) = PRODUCTS[k % PRODUCTS.len()];
        json!({ "id": self.id(Kind::Products, k % self.n.max(1)), "productNumber": number, "name": name })
    }

    fn product(&self, i: usize) -> Value {
        let mut r = self.rng("younium.product", i);
        let (number, name, price) = PRODUCTS[i % PRODUCTS.len()];
        let variant = i / PRODUCTS.len();
        let charges: Vec<Value> = (0..r.between(1, 3))
            .map(|c| {
                json!({
                    "id": uuid(&mut r),
                    "chargeNumber": format!("CH-{}-{c}", i + 1),
                    "name": (["Recurring fee", "Usage", "One-time fee"][c as usize % 3]),
                    "chargeType": (["Recurring", "Usage", "OneOff"][c as usize % 3]),
                    "chargeModel": "FlatFee",
                    "billingPeriod": "Monthly",
                    "priceDetails": [
                        { "currencyCode": "SEK", "price": (price + 1000 * c) as f64 / 100.0 },
                        { "currencyCode": "EUR", "price": (price + 1000 * c) as f64 / 1100.0 },
                    ],
                })
            })
            .collect();
        json!({
            "id": self.id(Kind::Products, i),
            "productNumber": if variant == 0 { number.to_owned() } else { format!("{number}-{variant}") },
            "name": if variant == 0 { name.to_owned() } else { format!("{name} v{variant}") },
            "productType": if i % PRODUCTS.len() == 3 { "OneOff" } else { "Service" },
            "category": r.pick(&["Software", "Services", "Support"]),
            "description": if r.percent(50) { json!(format!("{name} — beskrivning")) } else { Value::Null },
            "isFrozen": r.percent(5),
            "charges": charges,
            "customFields": {},
            "created": EPOCH_2023.plus(DAY * i as i64).iso_z(),
            "modified": EPOCH_2023.plus(DAY * (i as i64 + 30)).iso_z(),
        })
    }

    fn subscription(&self, i: usize) -> Value {
        let mut r = self.rng("younium.subscription", i);
        let ai = r.below(self.n.max(1) as u64) as usize;
        let start = self.created(&mut r, i);
        let status = *r.pick(&[
            "Active",
            "Active",
            "Active",
            "Cancelled",
            "Draft",
            "Expired",
        ]);
        let products: Vec<Value> = (0..r.between(1, 3) as usize)
            .map(|k| {
                let (_, name, price) = PRODUCTS[(i + k) % PRODUCTS.len()];
                json!({
                    "product": self.product_ref(i + k),
                    "name": name,
                    "charges": [{
                        "chargeNumber": format!("C-{:06}-{k}", i + 1),
                        "quantity": r.between(1, 50),
                        "price": price as f64 / 100.0,
                        "effectiveStartDate": start.date(),
                        "effectiveEndDate": Value::Null,
                        "billingPeriod": "Monthly",
                    }],
                })
            })
            .collect();
        json!({
            "id": self.id(Kind::Subscriptions, i),
            "orderNumber": format!("O-{:06}", i + 1),
            "status": status,
            "version": r.between(1, 4),
            "account": self.account_ref(ai),
            "invoiceAccount": self.account_ref(ai),
            "effectiveStartDate": start.date(),
            "effectiveEndDate": if status == "Expired" { json!(start.plus(365 * DAY).date()) } else { Value::Null },
            "cancellationDate": if status == "Cancelled" { json!(start.plus(200 * DAY).date()) } else { Value::Null },
            "currencyCode": "SEK",
            "initialTerm": 12,
            "renewalTerm": 12,
            "isAutoRenewed": r.percent(80),
            "products": products,
            "customFields": {},
            "created": start.iso_z(),
            "modified": start.plus(r.between(0, 60 * DAY)).iso_z(),
        })
    }

    fn booking(&self, i: usize) -> Value {
        let mut r = self.rng("younium.booking", i);
        let si = r.below(self.n.max(1) as u64) as usize;
        let ai = r.below(self.n.max(1) as u64) as usize;
        let date = self.created(&mut r, i);
        let kind = *r.pick(&["NewSale", "Upsell", "Downsell", "Churn", "Renewal"]);
        let amount = r.between(100, 50_000) as f64
            * if kind == "Churn" || kind == "Downsell" {
                -1.0
            } else {
                1.0
            };
        json!({
            "id": self.id(Kind::Bookings, i),
            "bookingType": kind,
            "bookingDate": date.date(),
            "effectiveDate": date.plus(r.between(0, 30) * DAY).date(),
            "account": self.account_ref(ai),
            "subscription": { "id": self.id(Kind::Subscriptions, si), "orderNumber": format!("O-{:06}", si + 1) },
            "product": self.product_ref(r.below(PRODUCTS.len() as u64) as usize),
            "chargeNumber": format!("C-{:06}-0", si + 1),
            "currencyCode": "SEK",
            "changeInMRR": { "amount": amount, "currencyCode": "SEK" },
            "changeInACV": { "amount": amount * 12.0, "currencyCode": "SEK" },
            "changeInTCV": if r.percent(50) { json!({ "amount": amount * 24.0, "currencyCode": "SEK" }) } else { Value::Null },
            "created": date.iso_z(),
            "modified": date.plus(DAY).iso_z(),
        })
    }

    fn invoice(&self, i: usize) -> Value {
        let mut r = self.rng("younium.invoice", i);
        let ai = r.below(self.n.max(1) as u64) as usize;
        let date = self.created(&mut r, i);
        let mut subtotal = 0.0;
        let lines: Vec<Value> = (0..r.between(1, 4) as usize)
            .map(|l| {
                let k = r.below(PRODUCTS.len() as u64) as usize;
                let (_, name, price) = PRODUCTS[k];
                let qty = r.between(1, 10) as f64;
                let amount = qty * price as f64 / 100.0;
                subtotal += amount;
                json!({
                    "id": uuid(&mut r),
                    "lineNumber": l + 1,
                    "description": format!("{name}, {}", date.date()),
                    "quantity": qty,
                    "price": price as f64 / 100.0,
                    "amount": amount,
                    "taxPercent": 25.0,
                    "product": self.product_ref(k),
                    "chargePeriod": { "start": date.date(), "end": date.plus(30 * DAY).date() },
                })
            })
            .collect();
        let status = *r.pick(&["Paid", "Paid", "Posted", "Draft", "Cancelled"]);
        let tax = (subtotal * 0.25 * 100.0).round() / 100.0;
        json!({
            "id": self.id(Kind::Invoices, i),
            "invoiceNumber": format!("{}", 10_001 + i),
            "account": self.account_ref(ai),
            "invoiceDate": date.date(),
            "dueDate": date.plus(30 * DAY).date(),
            "status": status,
            "currencyCode": "SEK",
            "subtotal": subtotal,
            "tax": tax,
            "totalAmount": subtotal + tax,
            "settledAmount": if status == "Paid" { subtotal + tax } else { 0.0 },
            "notes": if r.percent(20) { json!("Tack för ert köp!") } else { Value::Null },
            "invoiceLines": lines,
            "created": date.iso_z(),
            "modified": date.plus(r.between(0, 20 * DAY)).iso_z(),
        })
    }

    fn record(&self, kind: Kind, i: usize) -> Value {
        match kind {
            Kind::Accounts => self.account(i),
            Kind::Bookings => self.booking(i),
            Kind::Invoices => self.invoice(i),
            Kind::Products => self.product(i),
            Kind::Subscriptions => self.subscription(i),
        }
    }

    /// `POST /connect/token`.
    fn token(&self, app: &App, req: &Req) -> Response {
        let form = req.form();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let fail = |error: &str, description: &str| {
            app.auth_failed();
            http::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": error, "error_description": description}),
            )
        };
        match field("grant_type") {
            Some("password") => {}
            None => return fail("invalid_request", "grant_type is missing"),
            Some(_) => {
                return fail(
                    "unsupported_grant_type",
                    "only the password grant is allowed",
                );
            }
        }
        if field("client_id") != Some(YOUNIUM_CLIENT_ID) {
            return fail("invalid_client", "unknown client_id");
        }
        if field("username") != Some(YOUNIUM_USERNAME)
            || field("password") != Some(YOUNIUM_PASSWORD)
        {
            return fail("invalid_grant", "invalid_username_or_password");
        }
        match field("legal_entity") {
            None | Some("") => return fail("invalid_request", "legal_entity is missing"),
            Some(YOUNIUM_LEGAL_ENTITY) => {}
            Some(_) => {
                return fail(
                    "invalid_grant",
                    "the user has no access to this legal entity",
                );
            }
        }
        let scope = match field("scope") {
            None => YOUNIUM_SCOPES.join(" "),
            Some(s) => {
                let scopes: Vec<&str> = s.split_whitespace().collect();
                if scopes.iter().any(|s| !YOUNIUM_SCOPES.contains(s)) || !scopes.contains(&"api") {
                    return fail(
                        "invalid_scope",
                        "scope must include `api`, from: openid api profile offline_access",
                    );
                }
                scopes.join(" ")
            }
        };
        let token = crate::server::lock(&app.tokens).issue(Duration::from_secs(self.expires_in));
        app.token_issued();
        http::json(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "expires_in": self.expires_in,
                "token_type": "Bearer",
                "scope": scope,
            }),
        )
    }
}

/// The 401 of a data call without a usable token.
fn unauthorized(detail: &str) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc7235#section-3.1",
        "title": "Unauthorized",
        "status": 401,
        "detail": detail,
    });
    let resp = http::json(StatusCode::UNAUTHORIZED, &body);
    http::with_header(
        resp,
        "www-authenticate",
        &format!("Bearer error=\"invalid_token\", error_description=\"{detail}\""),
    )
}

impl Api for Younium {
    fn expected(&self) -> Expected {
        let mut e = Expected::default();
        for kind in Kind::ALL {
            let keys = (0..self.n).map(|i| json!(self.id(kind, i))).collect();
            e.add(kind.resource(), kind.path(), "id", keys);
        }
        e
    }

    fn handle(&self, app: &App, req: &Req) -> Response {
        if req.path.eq_ignore_ascii_case(YOUNIUM_TOKEN_PATH) {
            if req.method != Method::POST {
                return http::json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &json!({"error": "invalid_request"}),
                );
            }
            return self.token(app, req);
        }
        let check = match req.bearer() {
            None => TokenCheck::Unknown,
            Some(t) => crate::server::lock(&app.tokens).check_and_use(t, self.max_uses),
        };
        let detail = match check {
            TokenCheck::Valid => None,
            TokenCheck::Unknown => Some("The access token is missing or invalid"),
            TokenCheck::Expired => Some("The token is expired"),
            TokenCheck::Revoked => Some("The token has been revoked"),
        };
        if let Some(detail) = detail {
            app.auth_failed();
            return unauthorized(detail);
        }
        let Some(kind) = Kind::from_path(&req.path).filter(|_| req.method == Method::GET) else {
            let body = json!({"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4", "title": "Not Found", "status": 404});
            return http::json(StatusCode::NOT_FOUND, &body);
        };
        let ticket = match app.admit(req) {
            Ok(t) => t,
            Err(faulted) => return *faulted,
        };
        let size = match req.param_ci("PageSize").and_then(parse_int) {
            Some(s) if s >= 1 => s as u64,
            _ => DEFAULT_PAGE_SIZE as u64,
        };
        let page = req
            .param_ci("PageNumber")
            .and_then(parse_int)
            .unwrap_or(1)
            .max(1) as u64;
        let range = page_range(self.n, page, size);
        let more = range.end < self.n && !range.is_empty();
        let count = range.len();
        let cache = &self.cache[kind as usize];
        let data = join(range.map(|i| cache.get(i, || self.record(kind, i))), None);
        let next = more.then(|| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &req.query {
                if !k.eq_ignore_ascii_case("PageNumber") && !k.eq_ignore_ascii_case("PageSize") {
                    q.append_pair(k, v);
                }
            }
            q.append_pair("PageNumber", &(page + 1).to_string());
            q.append_pair("PageSize", &size.to_string());
            format!("{}{}?{}", app.origin(req), req.path, q.finish())
        });
        let envelope = json!({ "data": RECORDS, "nextPage": next });
        app.serve(ticket, kind.resource(), count, splice(&envelope, &data))
    }

    fn warm(&self) {
        std::thread::scope(|scope| {
            for kind in Kind::ALL {
                scope.spawn(move || self.cache[kind as usize].warm(|i| self.record(kind, i)));
            }
        });
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Value {
        json!({ "title": message, "status": status.as_u16() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Resp, get, post};
    use crate::{Faults, MockServer, Vendor, serve};

    async fn start(opts: MockOptions) -> MockServer {
        serve(Vendor::Younium, opts).await.expect("mock starts")
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    fn good_form() -> Vec<(&'static str, &'static str)> {
        vec![
            ("grant_type", "password"),
            ("client_id", YOUNIUM_CLIENT_ID),
            ("username", YOUNIUM_USERNAME),
            ("password", YOUNIUM_PASSWORD),
            ("legal_entity", YOUNIUM_LEGAL_ENTITY),
            ("scope", "openid api profile"),
        ]
    }

    async fn token_request(s: &MockServer, pairs: &[(&str, &str)]) -> Resp {
        post(
            s.addr,
            YOUNIUM_TOKEN_PATH,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form(pairs).as_bytes(),
        )
        .await
    }

    async fn token(s: &MockServer) -> String {
        let r = token_request(s, &good_form()).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 3600);
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// Path and query of an absolute `nextPage` URL on this server.
    fn local(s: &MockServer, url: &str) -> String {
        url.strip_prefix(&s.base_url())
            .expect("nextPage points at this server")
            .to_owned()
    }

    #[tokio::test]
    async fn token_endpoint_validates_every_field() {
        let s = start(MockOptions::default()).await;
        token(&s).await;
        let cases: [(&str, &str, &str); 7] = [
            ("grant_type", "client_credentials", "unsupported_grant_type"),
            ("client_id", "other", "invalid_client"),
            ("username", "eve@example.com", "invalid_grant"),
            ("password", "guess", "invalid_grant"),
            ("legal_entity", "other-entity", "invalid_grant"),
            ("legal_entity", "", "invalid_request"),
            ("scope", "openid profile", "invalid_scope"),
        ];
        for (field, value, error) in cases {
            let pairs: Vec<(&str, &str)> = good_form()
                .into_iter()
                .map(|(k, v)| if k == field { (k, value) } else { (k, v) })
                .collect();
            let r = token_request(&s, &pairs).await;
            assert_eq!(r.status, 400, "{field}={value}");
            assert_eq!(r.json()["error"], error, "{field}={value}");
        }
        let no_entity: Vec<_> = good_form()
            .into_iter()
            .filter(|(k, _)| *k != "legal_entity")
            .collect();
        assert_eq!(
            token_request(&s, &no_entity).await.json()["error"],
            "invalid_request"
        );
        assert_eq!(s.stats().tokens_issued, 1);
    }

    #[tokio::test]
    async fn data_needs_a_bearer_token() {
        let s = start(MockOptions::default()).await;
        for h in [
            vec![],
            vec![("Authorization", "Bearer forged")],
            vec![("Authorization", "Basic eDp4")],
        ] {
            let r = get(s.addr, "/Accounts", &h).await;
            assert_eq!(r.status, 401);
            assert_eq!(r.json()["status"], 401);
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|w| w.starts_with("Bearer"))
            );
        }
    }

    #[tokio::test]
    async fn next_page_urls_walk_exactly_the_expected_ids() {
        let s = start(MockOptions::default()).await;
        let auth = format!("Bearer {}", token(&s).await);
        let expected = s.expected();
        for kind in Kind::ALL {
            for first in [
                kind.path().to_owned(),
                format!("/v1/{}", kind.path()[1..].to_ascii_lowercase()),
            ] {
                let mut ids = Vec::new();
                let mut target = first.clone();
                let mut pages = 0;
                loop {
                    let r = get(s.addr, &target, &[("Authorization", &auth)]).await;
                    assert_eq!(r.status, 200, "{target}");
                    let v = r.json();
                    pages += 1;
                    ids.extend(
                        v["data"]
                            .as_array()
                            .expect("data")
                            .iter()
                            .map(|d| d["id"].clone()),
                    );
                    match v["nextPage"].as_str() {
                        Some(url) => target = local(&s, url),
                        None => break,
                    }
                }
                assert_eq!(pages, 5, "{first}: 4 full pages of 100 and one of 50");
                assert_eq!(ids, expected.resources[kind.resource()].keys, "{first}");
            }
        }
    }

    #[tokio::test]
    async fn page_size_and_exact_multiple_end_without_an_empty_page() {
        let s = start(MockOptions {
            records: 40,
            ..MockOptions::default()
        })
        .await;
        let auth = format!("Bearer {}", token(&s).await);
        let r = get(
            s.addr,
            "/v1/products?pagesize=20&ModifiedAfter=2023-01-01",
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(r["data"].as_array().map(Vec::len), Some(20));
        let next = r["nextPage"].as_str().expect("more").to_owned();
        assert!(
            next.contains("PageNumber=2")
                && next.contains("PageSize=20")
                && next.contains("ModifiedAfter=")
        );
        let last = get(s.addr, &local(&s, &next), &[("Authorization", &auth)])
            .await
            .json();
        assert_eq!(last["data"].as_array().map(Vec::len), Some(20));
        assert_eq!(last["nextPage"], Value::Null);
        // The seed's cursor paginator would send `cursor=<url>`: ignored, page 1 again.
        let again = get(
            s.addr,
            &format!("/v1/products?cursor={}", "x"),
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(
            again["data"][0]["id"],
            s.expected().resources["product"].keys[0]
        );
    }

    #[tokio::test]
    async fn revoked_token_answers_401_until_refreshed() {
        let s = start(MockOptions {
            token_max_uses: Some(2),
            ..MockOptions::default()
        })
        .await;
        let first = format!("Bearer {}", token(&s).await);
        assert_eq!(
            get(s.addr, "/Accounts", &[("Authorization", &first)])
                .await
                .status,
            200
        );
        assert_eq!(
            get(s.addr, "/Accounts", &[("Authorization", &first)])
                .await
                .status,
            200
        );
        let r = get(s.addr, "/Accounts", &[("Authorization", &first)]).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["detail"], "The token has been revoked");
        let second = format!("Bearer {}", token(&s).await);
        assert_ne!(first, second);
        assert_eq!(
            get(s.addr, "/Accounts", &[("Authorization", &second)])
                .await
                .status,
            200
        );
        assert_eq!(s.stats().tokens_issued, 2);

        let s = start(MockOptions {
            token_expires_in_secs: Some(0),
            ..MockOptions::default()
        })
        .await;
        let r = token_request(&s, &good_form()).await.json();
        assert_eq!(r["expires_in"], 0);
        let t = format!("Bearer {}", r["access_token"].as_str().expect("token"));
        let r = get(s.addr, "/Accounts", &[("Authorization", &t)]).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["detail"], "The token is expired");
    }

    #[tokio::test]
    async fn faults_hit_data_calls_only() {
        let s = start(MockOptions {
            faults: Faults {
                rate_limit_every: Some(1),
                ..Faults::default()
            },
            ..MockOptions::default()
        })
        .await;
        let auth = format!("Bearer {}", token(&s).await);
        let r = get(s.addr, "/Invoices", &[("Authorization", &auth)]).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(
            get(s.addr, "/Invoices", &[("Authorization", &auth)])
                .await
                .status,
            200
        );
        assert_eq!(s.stats().served("invoice"), 100);
    }
}
