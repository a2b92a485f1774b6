//! PayPal (seed 004): OAuth2 client credentials, then Bearer calls to the
//! reporting, catalog, disputes, invoicing and (v1) payments APIs.
//!
//! Real API behaviour imitated here:
//! - `POST /v1/oauth2/token` with HTTP Basic `client_id:client_secret` and form
//!   `grant_type=client_credentials` -> `{"scope", "access_token",
//!   "token_type": "Bearer", "app_id", "expires_in", "nonce"}`. Wrong client:
//!   401 `{"error": "invalid_client"}`; missing or other grant: 400
//!   `{"error": "unsupported_grant_type"}`. Credentials in the form body are
//!   not accepted (PayPal documents Basic only). Tokens expire after
//!   `expires_in` (default 32400 s, see `MockOptions`) and may be revoked
//!   early (`token_max_uses`): then data calls answer 401 `invalid_token`.
//! - `GET /v1/reporting/transactions?start_date&end_date[&fields][&page][&page_size]`:
//!   both dates required (RFC 3339), `end_date - start_date` <= 31 days,
//!   `page` >= 1, `page_size` 1..=500 (default 100); otherwise 400
//!   `INVALID_REQUEST` with `details`. Records are those whose
//!   `transaction_updated_date` lies in `[start_date, end_date]`; all of them
//!   lie in [`PAYPAL_DATA_START`, `PAYPAL_DATA_END`) (about 3 windows of 31
//!   days). `fields` absent: only `transaction_info`; `all`: every section;
//!   or a comma list of sections. Body: `transaction_details`, `page`,
//!   `total_items`, `total_pages`, `links`; a page past the end is empty.
//! - `GET /v1/reporting/balances`: one object, the whole body is the record.
//! - `GET /v1/catalogs/products?page&page_size` (`page_size` 1..=20, default
//!   10; `total_required=true` adds `total_items`/`total_pages`): `products`
//!   and `links` (`next` while more). `GET /v1/catalogs/products/{id}`: the
//!   whole body is the product; unknown id: 404 `RESOURCE_NOT_FOUND`.
//! - `GET /v1/customer/disputes?page_size&next_page_token` (`page_size`
//!   1..=50, default 10), newest first: `items` and `links`; the `next` link
//!   carries an opaque `next_page_token`. A token PayPal did not issue is 400.
//! - `POST /v2/invoicing/search-invoices?page&page_size&total_required` with
//!   a JSON search body (`{}` or empty matches all; `status: [...]` and
//!   `currency_code` filter): `items`, `links`, and with `total_required=true`
//!   `total_items`/`total_pages`. `page_size` 1..=100 (default 20). `GET`:
//!   405 `METHOD_NOT_SUPPORTED`.
//! - `GET /v1/payments/payment?count&start_id&start_index`, newest first:
//!   `{"payments", "count", "next_id"}`; `count` default 10, clamped to 20;
//!   `next_id` is absent on the last page; the next call sends
//!   `start_id=<next_id>`.
//!
//! Seed quirks: the seed's transactions call sends no `start_date`/`end_date`
//! (400 here as at PayPal) and would need a date-window walk;
//! `search_invoices` has no `method: POST` (a GET is 405); `list_disputes`
//! sends page numbers as `next_page_token` (400: not a token PayPal issued);
//! dlt's default `base_page` 0 sends `page=0`, which PayPal rejects (400);
//! `list_payments` names no `cursor_path` (the cursor is `next_id`).

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::cache::{ORIGIN, RECORDS, RecordCache, join, splice, with_origin};
use crate::credentials::{PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, PAYPAL_TOKEN_PATH};
use crate::datagen::{DAY, EPOCH_2023, ORGANIZATIONS, PLACES, Person, Rng, Ts, UPPER_ALNUM, money};
use crate::http::{self, Req, page_range, parse_int_strict};
use crate::options::MockOptions;
use crate::server::{App, lock};
use crate::stats::Expected;
use crate::tokens::TokenCheck;
use crate::vendors::Api;

/// Start of the generated transaction history (inclusive).
pub const PAYPAL_DATA_START: &str = "2024-01-01T00:00:00Z";
/// End of the generated transaction history (exclusive): 91 days after the
/// start, so a sync needs three windows of at most 31 days.
pub const PAYPAL_DATA_END: &str = "2024-04-01T00:00:00Z";
/// `expires_in` of tokens unless the options say otherwise.
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 32_400;
/// Longest `start_date`..`end_date` range of one transactions request.
pub const MAX_RANGE_DAYS: i64 = 31;

const START: Ts = Ts(1_704_067_200);
const END: Ts = Ts(1_711_929_600);

/// The resources, named as in the seed config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Transactions,
    Balances,
    Products,
    ProductDetails,
    Disputes,
    Invoices,
    Payments,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Transactions,
        Kind::Balances,
        Kind::Products,
        Kind::ProductDetails,
        Kind::Disputes,
        Kind::Invoices,
        Kind::Payments,
    ];

    fn resource(self) -> &'static str {
        match self {
            Kind::Transactions => "transactions",
            Kind::Balances => "balances",
            Kind::Products => "list_products",
            Kind::ProductDetails => "show_product_details",
            Kind::Disputes => "list_disputes",
            Kind::Invoices => "search_invoices",
            Kind::Payments => "list_payments",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Transactions => "/v1/reporting/transactions",
            Kind::Balances => "/v1/reporting/balances",
            Kind::Products => "/v1/catalogs/products",
            Kind::ProductDetails => "/v1/catalogs/products/{id}",
            Kind::Disputes => "/v1/customer/disputes",
            Kind::Invoices => "/v2/invoicing/search-invoices",
            Kind::Payments => "/v1/payments/payment",
        }
    }

    fn primary_key(self) -> &'static str {
        match self {
            Kind::Transactions => "transaction_info.transaction_id",
            Kind::Balances => "as_of_time",
            Kind::Disputes => "dispute_id",
            _ => "id",
        }
    }

    /// The list and, for product details, the product id.
    fn route(path: &str) -> Option<(Kind, Option<&str>)> {
        let path = path.trim_end_matches('/');
        if let Some(id) = path.strip_prefix("/v1/catalogs/products/") {
            return (!id.contains('/')).then_some((Kind::ProductDetails, Some(id)));
        }
        Kind::ALL
            .into_iter()
            .find(|k| k.path() == path)
            .map(|k| (k, None))
    }
}

/// Sections of a transaction record, in PayPal's order.
const SECTIONS: &[&str] = &[
    "transaction_info",
    "payer_info",
    "shipping_info",
    "cart_info",
    "store_info",
    "auction_info",
    "incentive_info",
];

/// A PayPal error answer.
fn pp_error(status: StatusCode, name: &str, message: &str, details: Value) -> Response {
    http::json(status, &pp_error_body(name, message, details))
}

fn pp_error_body(name: &str, message: &str, details: Value) -> Value {
    json!({
        "name": name,
        "message": message,
        "debug_id": "f00d5e7c0ffee",
        "details": details,
        "links": [{
            "href": format!("https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{}", name.to_ascii_lowercase()),
            "rel": "information_link",
            "method": "GET",
        }],
    })
}

/// An error found after the request was admitted as a data request: status
/// and PayPal error body (answered through the fault ticket).
type Fail = (StatusCode, Value);

/// 400 `INVALID_REQUEST` naming one query parameter.
fn invalid(field: &str, value: &str, issue: &str, description: &str) -> Fail {
    (
        StatusCode::BAD_REQUEST,
        pp_error_body(
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            json!([{ "field": field, "value": value, "location": "query", "issue": issue, "description": description }]),
        ),
    )
}

fn amount(cents: i64, currency: &str) -> Value {
    json!({ "currency_code": currency, "value": money(cents) })
}

/// `n` in upper-case base 36, left-padded to `width`.
fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    while n > 0 || out.is_empty() {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.resize(out.len().max(width), b'0');
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// The PayPal mock's data.
pub struct PayPal {
    seed: u64,
    n: usize,
    expires_in: u64,
    max_uses: Option<u32>,
    /// Transactions with every section (`fields=all`), by record index.
    transactions: RecordCache,
    /// Products in list form, by record index.
    products: RecordCache,
    /// Disputes, by record index.
    disputes: RecordCache,
    /// Invoices, by record index.
    invoices: RecordCache,
    /// Payments, by record index.
    payments: RecordCache,
}

impl PayPal {
    /// Data for `opts.records` records per list.
    pub fn new(opts: &MockOptions) -> Self {
        Self {
            seed: opts.seed,
            n: opts.records,
            expires_in: opts
                .token_expires_in_secs
                .unwrap_or(DEFAULT_EXPIRES_IN_SECS),
            max_uses: opts.token_max_uses,
            transactions: RecordCache::new(opts.records),
            products: RecordCache::new(opts.records),
            disputes: RecordCache::new(opts.records),
            invoices: RecordCache::new(opts.records),
            payments: RecordCache::new(opts.records),
        }
    }

    fn rng(&self, stream: &str, i: usize) -> Rng {
        Rng::new(self.seed, stream, i as u64)
    }

    /// `transaction_updated_date` of transaction `i`: strictly increasing in `i`.
    fn txn_time(&self, i: usize) -> Ts {
        let slot = ((END.0 - START.0) / self.n.max(1) as i64).max(1);
        START.plus(slot * i as i64 + self.rng("paypal.txn.time", i).below(slot as u64) as i64)
    }

    /// Indexes of the transactions updated within `[from, to]`.
    fn txn_window(&self, from: Ts, to: Ts) -> std::ops::Range<usize> {
        let first = partition_point(self.n, |i| self.txn_time(i) < from);
        let end = partition_point(self.n, |i| self.txn_time(i) <= to);
        first..end.max(first)
    }

    fn txn_id(&self, i: usize) -> String {
        let mut r = self.rng("paypal.txn.id", i);
        format!(
            "{}{}{}",
            r.chars(UPPER_ALNUM, 2),
            base36(i as u64, 6),
            r.chars(UPPER_ALNUM, 9)
        )
    }

    fn transaction(&self, i: usize, sections: &[&str]) -> Value {
        let mut r = self.rng("paypal.txn", i);
        let updated = self.txn_time(i);
        let initiated = updated.plus(-r.between(0, 7200));
        let p = Person::draw(&mut r, i as u64, "buyer.example");
        let place = r.pick(PLACES);
        let currency = *r.pick(&["USD", "USD", "USD", "EUR", "GBP"]);
        let qty = r.between(1, 3);
        let unit = r.between(199, 19_999);
        let tax = unit * qty / 10;
        let gross = unit * qty + tax;
        let fee = -(gross * 29 / 1000 + 30);
        let code = *r.pick(&["T0006", "T0006", "T0007", "T0011", "T1107"]);
        let refund = code == "T1107";
        let sign = if refund { -1 } else { 1 };
        let mut v = json!({
            "transaction_info": {
                "paypal_account_id": format!("{}", r.chars(UPPER_ALNUM, 13)),
                "transaction_id": self.txn_id(i),
                "transaction_event_code": code,
                "transaction_initiation_date": initiated.compact_offset(),
                "transaction_updated_date": updated.compact_offset(),
                "transaction_amount": amount(sign * gross, currency),
                "fee_amount": amount(if refund { -fee } else { fee }, currency),
                "insurance_amount": amount(0, currency),
                "shipping_amount": amount(0, currency),
                "transaction_status": *r.pick(&["S", "S", "S", "P", "V"]),
                "transaction_subject": format!("Order #{}", 50_000 + i),
                "ending_balance": amount(r.between(10_000, 9_000_000), currency),
                "available_balance": amount(r.between(10_000, 9_000_000), currency),
                "invoice_id": format!("INV-{}", 70_000 + i),
                "custom_field": format!("cust-{}", i % 97),
                "protection_eligibility": *r.pick(&["01", "02"]),
            },
            "payer_info": {
                "account_id": r.chars(UPPER_ALNUM, 13),
                "email_address": p.email,
                "address_status": "Y",
                "payer_status": "Y",
                "payer_name": { "given_name": p.first, "surname": p.last, "alternate_full_name": p.full() },
                "country_code": place.country,
            },
            "shipping_info": {
                "name": p.full(),
                "address": { "line1": place.street, "city": place.city, "country_code": place.country, "postal_code": place.zip },
            },
            "cart_info": {
                "item_details": (0..r.between(1, 3)).map(|k| json!({
                    "item_code": format!("SKU-{}", 100 + k),
                    "item_name": (["Widget", "Gadget Pro", "Café-Bohnen 1 kg"][k as usize % 3]),
                    "item_description": "Standard item",
                    "item_quantity": qty.to_string(),
                    "item_unit_price": amount(unit, currency),
                    "item_amount": amount(unit * qty, currency),
                    "tax_amounts": [{ "tax_amount": amount(tax, currency) }],
                    "total_item_amount": amount(unit * qty + tax, currency),
                    "invoice_number": format!("INV-{}", 70_000 + i),
                })).collect::<Vec<_>>(),
                "paypal_invoice_id": Value::Null,
            },
            "store_info": {},
            "auction_info": {},
            "incentive_info": {},
        });
        if let Some(o) = v.as_object_mut() {
            // PayPal omits what it does not have rather than sending null.
            if r.percent(30) {
                o.remove("shipping_info");
            }
            if let Some(c) = o.get_mut("cart_info").and_then(Value::as_object_mut) {
                c.remove("paypal_invoice_id");
            }
            o.retain(|k, _| sections.contains(&k.as_str()));
        }
        v
    }

    fn product_id(&self, i: usize) -> String {
        let mut r = self.rng("paypal.product.id", i);
        format!(
            "PROD-{}{}{}",
            r.chars(UPPER_ALNUM, 2),
            base36(i as u64, 5),
            r.chars(UPPER_ALNUM, 10)
        )
    }

    /// Index of a product id, if it is one of ours.
    fn product_index(&self, id: &str) -> Option<usize> {
        let i = usize::from_str_radix(id.get(7..12)?, 36).ok()?;
        (i < self.n && self.product_id(i) == id).then_some(i)
    }

    fn product(&self, i: usize, origin: &str, full: bool) -> Value {
        let mut r = self.rng("paypal.product", i);
        let id = self.product_id(i);
        let created = EPOCH_2023.plus(DAY * (i as i64 % 400) + 60 * i as i64);
        let name = format!(
            "{} {}",
            r.pick(&[
                "Video Streaming Service",
                "Premium Support",
                "T-Shirt",
                "Kaffee-Abo",
                "E-Book"
            ]),
            i + 1
        );
        let kind = *r.pick(&["SERVICE", "PHYSICAL", "DIGITAL"]);
        let mut v = json!({
            "id": id,
            "name": name,
            "description": format!("{name} — description"),
            "create_time": created.iso_z(),
            "links": [
                { "href": format!("{origin}/v1/catalogs/products/{id}"), "rel": "self", "method": "GET" },
                { "href": format!("{origin}/v1/catalogs/products/{id}"), "rel": "edit", "method": "PATCH" },
            ],
        });
        if full && let Some(o) = v.as_object_mut() {
            o.insert("type".into(), json!(kind));
            o.insert(
                "category".into(),
                json!(r.pick(&[
                    "SOFTWARE",
                    "MUSIC_STREAMING",
                    "CLOTHING",
                    "FOOD_RETAIL_AND_SERVICE"
                ])),
            );
            if r.percent(60) {
                o.insert(
                    "image_url".into(),
                    json!(format!("https://example.com/img/{}.jpg", i)),
                );
                o.insert("home_url".into(), json!("https://example.com"));
            }
            o.insert("update_time".into(), json!(created.plus(DAY).iso_z()));
        }
        v
    }

    fn dispute_id(&self, i: usize) -> String {
        format!(
            "PP-D-{}",
            10_000 + 3 * i as u64 + self.rng("paypal.dispute.id", i).below(3)
        )
    }

    fn dispute(&self, i: usize, origin: &str) -> Value {
        let mut r = self.rng("paypal.dispute", i);
        let created = EPOCH_2023.plus(DAY * 300 + (DAY / 2) * i as i64 + r.between(0, DAY / 2 - 1));
        let id = self.dispute_id(i);
        let ti = r.below(self.n.max(1) as u64) as usize;
        json!({
            "dispute_id": id,
            "create_time": created.iso_z(),
            "update_time": created.plus(r.between(0, 20 * DAY)).iso_z(),
            "disputed_transactions": [{ "seller_transaction_id": self.txn_id(ti), "buyer_transaction_id": r.chars(UPPER_ALNUM, 17) }],
            "reason": r.pick(&["MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "UNAUTHORISED", "MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "CREDIT_NOT_PROCESSED"]),
            "status": r.pick(&["OPEN", "WAITING_FOR_SELLER_RESPONSE", "UNDER_REVIEW", "RESOLVED"]),
            "dispute_state": r.pick(&["REQUIRED_ACTION", "UNDER_PAYPAL_REVIEW", "RESOLVED"]),
            "dispute_amount": amount(r.between(500, 40_000), "USD"),
            "dispute_life_cycle_stage": r.pick(&["INQUIRY", "CHARGEBACK", "PRE_ARBITRATION"]),
            "dispute_channel": r.pick(&["INTERNAL", "EXTERNAL"]),
            "links": [{ "href": format!("{origin}/v1/customer/disputes/{id}"), "rel": "self", "method": "GET" }],
        })
    }

    fn invoice_id(&self, i: usize) -> String {
        let mut r = self.rng("paypal.invoice.id", i);
        format!(
            "INV2-{}-{}-{}-{}",
            r.chars(UPPER_ALNUM, 4),
            r.chars(UPPER_ALNUM, 4),
            base36(i as u64, 4),
            r.chars(UPPER_ALNUM, 4)
        )
    }

    fn invoice(&self, i: usize, origin: &str) -> Value {
        let mut r = self.rng("paypal.invoice", i);
        let id = self.invoice_id(i);
        let p = Person::draw(&mut r, i as u64, "client.example");
        let date = EPOCH_2023.plus(DAY * (i as i64 % 450));
        let total = r.between(1_000, 250_000);
        let status = *r.pick(&[
            "PAID",
            "PAID",
            "SENT",
            "DRAFT",
            "CANCELLED",
            "PARTIALLY_PAID",
        ]);
        let currency = *r.pick(&["USD", "EUR"]);
        let due = match status {
            "PAID" | "CANCELLED" => 0,
            "PARTIALLY_PAID" => total / 2,
            _ => total,
        };
        json!({
            "id": id,
            "status": status,
            "detail": {
                "invoice_number": format!("{}", 1_000 + i),
                "reference": if r.percent(40) { json!(format!("PO-{}", r.between(1000, 9999))) } else { Value::Null },
                "invoice_date": date.date(),
                "currency_code": currency,
                "note": "Thank you for your business. Merci !",
                "term": "Net 30",
                "memo": if r.percent(20) { json!("internal memo") } else { Value::Null },
                "payment_term": { "term_type": "NET_30", "due_date": date.plus(30 * DAY).date() },
                "metadata": {
                    "create_time": date.iso_z(),
                    "last_update_time": date.plus(DAY).iso_z(),
                    "created_by_flow": "REGULAR_SINGLE",
                    "recipient_view_url": format!("https://www.paypal.example/invoice/p/#{id}"),
                    "invoicer_view_url": format!("https://www.paypal.example/invoice/details/{id}"),
                },
            },
            "invoicer": {
                "business_name": *r.pick(ORGANIZATIONS),
                "email_address": "merchant@example.com",
                "name": { "given_name": "Ada", "surname": "Lovelace" },
            },
            "primary_recipients": [{
                "billing_info": {
                    "name": { "given_name": p.first, "surname": p.last, "full_name": p.full() },
                    "email_address": p.email,
                }
            }],
            "amount": amount(total, currency),
            "due_amount": amount(due, currency),
            "links": [
                { "href": format!("{origin}/v2/invoicing/invoices/{id}"), "rel": "self", "method": "GET" },
            ],
        })
    }

    fn payment_id(&self, i: usize) -> String {
        let mut r = self.rng("paypal.payment.id", i);
        format!(
            "PAY-{}{}{}",
            r.chars(UPPER_ALNUM, 8),
            base36(i as u64, 6),
            r.chars(UPPER_ALNUM, 10)
        )
    }

    /// Index of a payment id, if it is one of ours.
    fn payment_index(&self, id: &str) -> Option<usize> {
        let i = usize::from_str_radix(id.get(12..18)?, 36).ok()?;
        (i < self.n && self.payment_id(i) == id).then_some(i)
    }

    fn payment(&self, i: usize, origin: &str) -> Value {
        let mut r = self.rng("paypal.payment", i);
        let id = self.payment_id(i);
        let p = Person::draw(&mut r, i as u64, "payer.example");
        let place = r.pick(PLACES);
        let created = EPOCH_2023.plus(3600 * 5 * i as i64 + r.between(0, 3600 * 5 - 1));
        let price = r.between(100, 9_999);
        let qty = r.between(1, 4);
        let subtotal = price * qty;
        let tax = subtotal / 20;
        let shipping = if r.percent(50) { 499 } else { 0 };
        let total = subtotal + tax + shipping;
        let address = json!({
            "recipient_name": p.full(),
            "line1": place.street,
            "city": place.city,
            "state": place.state,
            "postal_code": place.zip,
            "country_code": place.country,
        });
        let sale_id = r.chars(UPPER_ALNUM, 17);
        json!({
            "id": id,
            "create_time": created.iso_z(),
            "update_time": created.plus(60).iso_z(),
            "state": "approved",
            "intent": "sale",
            "cart": r.chars(UPPER_ALNUM, 17),
            "payer": {
                "payment_method": "paypal",
                "status": if r.percent(80) { "VERIFIED" } else { "UNVERIFIED" },
                "payer_info": {
                    "email": p.email,
                    "first_name": p.first,
                    "last_name": p.last,
                    "payer_id": r.chars(UPPER_ALNUM, 13),
                    "shipping_address": address.clone(),
                    "country_code": place.country,
                },
            },
            "transactions": [{
                "amount": {
                    "total": money(total),
                    "currency": "USD",
                    "details": { "subtotal": money(subtotal), "tax": money(tax), "shipping": money(shipping) },
                },
                "payee": { "merchant_id": "MERCHANT0000001", "email": "merchant@example.com" },
                "description": format!("Order {}", 90_000 + i),
                "invoice_number": format!("{}", 90_000 + i),
                "item_list": {
                    "items": [{ "name": "Gizmo — édition spéciale", "sku": format!("GZ-{}", i % 50), "price": money(price), "currency": "USD", "quantity": qty }],
                    "shipping_address": address,
                },
                "related_resources": [{
                    "sale": {
                        "id": sale_id,
                        "state": "completed",
                        "amount": { "total": money(total), "currency": "USD", "details": { "subtotal": money(subtotal) } },
                        "payment_mode": "INSTANT_TRANSFER",
                        "protection_eligibility": "ELIGIBLE",
                        "transaction_fee": { "value": money(total * 29 / 1000 + 30), "currency": "USD" },
                        "parent_payment": id,
                        "create_time": created.iso_z(),
                        "update_time": created.plus(60).iso_z(),
                        "links": [{ "href": format!("{origin}/v1/payments/sale/{sale_id}"), "rel": "self", "method": "GET" }],
                    }
                }],
            }],
            "links": [{ "href": format!("{origin}/v1/payments/payment/{id}"), "rel": "self", "method": "GET" }],
        })
    }

    fn balances(&self, as_of: &str, currency: Option<&str>) -> Value {
        let mut r = self.rng("paypal.balances", 0);
        let list: Vec<Value> = ["USD", "EUR", "GBP"]
            .into_iter()
            .enumerate()
            .filter(|(_, c)| currency.is_none_or(|want| want == *c))
            .map(|(k, c)| {
                let total = r.between(100_000, 90_000_000);
                let withheld = if k == 0 { r.between(0, 50_000) } else { 0 };
                json!({
                    "currency": c,
                    "primary": k == 0,
                    "total_balance": amount(total, c),
                    "available_balance": amount(total - withheld, c),
                    "withheld_balance": amount(withheld, c),
                })
            })
            .collect();
        json!({
            "balances": list,
            "account_id": "DEMOACCOUNT01",
            "as_of_time": as_of,
            "last_refreshed_time": END.plus(-3600).iso_z(),
        })
    }

    /// Opaque `next_page_token` for a dispute list offset.
    fn dispute_token(&self, offset: usize) -> String {
        let check = self.rng("paypal.dispute.token", offset).below(1_000_000);
        URL_SAFE_NO_PAD.encode(format!("o={offset}&c={check}"))
    }

    fn dispute_offset(&self, token: &str) -> Option<usize> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let (o, c) = raw.strip_prefix("o=")?.split_once("&c=")?;
        let offset: usize = o.parse().ok()?;
        (self.dispute_token(offset) == token && c.parse::<u64>().is_ok()).then_some(offset)
    }

    fn token(&self, app: &App, req: &Req) -> Response {
        if !req.basic_is(PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET) {
            app.auth_failed();
            return http::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_client", "error_description": "Client Authentication failed"}),
            );
        }
        let form = req.form();
        match form
            .iter()
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.as_str())
        {
            Some("client_credentials") => {}
            None => {
                return http::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}),
                );
            }
            Some(_) => {
                return http::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "unsupported_grant_type", "error_description": "unsupported grant_type"}),
                );
            }
        }
        let token = lock(&app.tokens).issue(Duration::from_secs(self.expires_in));
        app.token_issued();
        http::json(
            StatusCode::OK,
            &json!({
                "scope": "https://uri.paypal.com/services/invoicing https://uri.paypal.com/services/disputes/read-buyer https://uri.paypal.com/services/reporting/search/read https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.expires_in,
                "nonce": format!("{}{}", START.iso_z(), "mock"),
            }),
        )
    }

    /// Validated `page` (>= 1) and `page_size` (1..=max) query values.
    fn page_params(req: &Req, default_size: u64, max_size: u64) -> Result<(u64, u64), Fail> {
        let page = match req.param("page") {
            None => 1,
            Some(p) => match parse_int_strict(p) {
                Some(v) if v >= 1 => v as u64,
                _ => {
                    return Err(invalid(
                        "page",
                        p,
                        "INVALID_PARAMETER_VALUE",
                        "page must be at least 1",
                    ));
                }
            },
        };
        let size = match req.param("page_size") {
            None => default_size,
            Some(s) => match parse_int_strict(s) {
                Some(v) if v >= 1 && v as u64 <= max_size => v as u64,
                _ => {
                    return Err(invalid(
                        "page_size",
                        s,
                        "INVALID_PARAMETER_VALUE",
                        &format!("page_size must be between 1 and {max_size}"),
                    ));
                }
            },
        };
        Ok((page, size))
    }

    fn transactions(&self, req: &Req) -> Result<(String, usize), Fail> {
        let date = |name: &str| -> Result<(Ts, String), Fail> {
            let Some(raw) = req.param(name) else {
                return Err(invalid(
                    name,
                    "",
                    "MISSING_REQUIRED_PARAMETER",
                    &format!("{name} is required"),
                ));
            };
            Ts::parse(raw).map(|t| (t, raw.to_owned())).ok_or_else(|| {
                invalid(
                    name,
                    raw,
                    "INVALID_PARAMETER_SYNTAX",
                    "expected an RFC 3339 date-time with a zone",
                )
            })
        };
        let (from, from_raw) = date("start_date")?;
        let (to, to_raw) = date("end_date")?;
        if to < from {
            return Err(invalid(
                "end_date",
                &to_raw,
                "INVALID_PARAMETER_VALUE",
                "end_date must not be before start_date",
            ));
        }
        if to.0 - from.0 > MAX_RANGE_DAYS * DAY {
            return Err(invalid(
                "end_date",
                &to_raw,
                "INVALID_PARAMETER_VALUE",
                "Date range is greater than 31 days",
            ));
        }
        let (page, size) = Self::page_params(req, 100, 500)?;
        let sections: Vec<&str> = match req.param("fields") {
            None => vec!["transaction_info"],
            Some("all") => SECTIONS.to_vec(),
            Some(list) => {
                let mut s = vec!["transaction_info"];
                s.extend(
                    SECTIONS
                        .iter()
                        .copied()
                        .filter(|sec| list.split(',').any(|f| f.trim() == *sec)),
                );
                s
            }
        };
        let all = sections.len() == SECTIONS.len();
        let window = self.txn_window(from, to);
        let total = window.len();
        let range = page_range(total, page, size);
        let count = range.len();
        let details = join(
            range.map(|k| {
                let i = window.start + k;
                if all {
                    self.transactions.get(i, || self.transaction(i, SECTIONS))
                } else {
                    Cow::Owned(self.transaction(i, &sections).to_string())
                }
            }),
            None,
        );
        let total_pages = total.div_ceil(size as usize);
        let body = json!({
            "transaction_details": RECORDS,
            "account_number": "DEMOACCOUNT01",
            "start_date": from_raw,
            "end_date": to_raw,
            "last_refreshed_datetime": END.plus(-3600).compact_offset(),
            "page": page,
            "total_items": total,
            "total_pages": total_pages,
            "links": [{
                "href": format!("{ORIGIN}/v1/reporting/transactions?{}", req.raw_query),
                "rel": "self",
                "method": "GET",
            }],
        });
        Ok((splice(&body, &details), count))
    }

    fn products(&self, req: &Req) -> Result<(String, usize), Fail> {
        let (page, size) = Self::page_params(req, 10, 20)?;
        let range = page_range(self.n, page, size);
        let count = range.len();
        let more = range.end < self.n && !range.is_empty();
        let products = join(
            range.map(|i| self.products.get(i, || self.product(i, ORIGIN, false))),
            None,
        );
        let link = |p: u64, rel: &str| {
            json!({
                "href": format!("{ORIGIN}/v1/catalogs/products?page_size={size}&page={p}"),
                "rel": rel,
                "method": "GET",
            })
        };
        let mut links = vec![link(page, "self")];
        if more {
            links.push(link(page + 1, "next"));
        }
        let mut body = json!({ "products": RECORDS, "links": links });
        if req.param("total_required") == Some("true") {
            body["total_items"] = json!(self.n);
            body["total_pages"] = json!(self.n.div_ceil(size as usize));
        }
        Ok((splice(&body, &products), count))
    }

    fn disputes(&self, req: &Req) -> Result<(String, usize), Fail> {
        let size = match req.param("page_size") {
            None => 10,
            Some(s) => match parse_int_strict(s) {
                Some(v) if (1..=50).contains(&v) => v as usize,
                _ => {
                    return Err(invalid(
                        "page_size",
                        s,
                        "INVALID_PARAMETER_VALUE",
                        "page_size must be between 1 and 50",
                    ));
                }
            },
        };
        let offset = match req.param("next_page_token") {
            None => 0,
            Some(t) => self.dispute_offset(t).ok_or_else(|| {
                invalid(
                    "next_page_token",
                    t,
                    "INVALID_PARAMETER_VALUE",
                    "next_page_token is not a token issued by a previous page",
                )
            })?,
        };
        let end = offset.saturating_add(size).min(self.n);
        let start = offset.min(self.n);
        // Newest first: list position q is record n-1-q.
        let items = join(
            (start..end).map(|q| {
                let i = self.n - 1 - q;
                self.disputes.get(i, || self.dispute(i, ORIGIN))
            }),
            None,
        );
        let mut links = vec![json!({
            "href": format!("{ORIGIN}/v1/customer/disputes?{}", req.raw_query),
            "rel": "self",
            "method": "GET",
        })];
        if end < self.n {
            links.push(json!({
                "href": format!(
                    "{ORIGIN}/v1/customer/disputes?page_size={size}&next_page_token={}",
                    self.dispute_token(end)
                ),
                "rel": "next",
                "method": "GET",
            }));
        }
        let body = json!({ "items": RECORDS, "links": links });
        Ok((splice(&body, &items), end - start))
    }

    fn search_invoices(&self, req: &Req) -> Result<(String, usize), Fail> {
        let search: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        pp_error_body(
                            "MALFORMED_REQUEST_JSON",
                            "The request JSON is not well formed.",
                            json!([{
                                "issue": "MALFORMED_REQUEST_JSON",
                                "description": "The request JSON is not well formed.",
                            }]),
                        ),
                    ));
                }
            }
        };
        let (page, size) = Self::page_params(req, 20, 100)?;
        let statuses: Option<Vec<&str>> = search
            .get("status")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect());
        let currency = search.get("currency_code").and_then(Value::as_str);
        let filtered = statuses.is_some() || currency.is_some();
        let matching: Vec<usize> = if filtered {
            (0..self.n)
                .filter(|&i| {
                    let inv = self.invoice(i, ORIGIN);
                    statuses
                        .as_ref()
                        .is_none_or(|s| s.iter().any(|st| inv["status"] == *st))
                        && currency.is_none_or(|c| inv["detail"]["currency_code"] == c)
                })
                .collect()
        } else {
            (0..self.n).collect()
        };
        let total = matching.len();
        let range = page_range(total, page, size);
        let count = range.len();
        let items = join(
            matching[range]
                .iter()
                .map(|&i| self.invoices.get(i, || self.invoice(i, ORIGIN))),
            None,
        );
        let link = |p: u64, rel: &str| {
            json!({
                "href": format!("{ORIGIN}/v2/invoicing/search-invoices?page={p}&page_size={size}"),
                "rel": rel,
                "method": "POST",
            })
        };
        let mut links = vec![link(page, "self")];
        if (page * size) < total as u64 {
            links.push(link(page + 1, "next"));
        }
        let mut body = json!({ "items": RECORDS, "links": links });
        if req.param("total_required") == Some("true") {
            body["total_items"] = json!(total);
            body["total_pages"] = json!(total.div_ceil(size as usize));
        }
        Ok((splice(&body, &items), count))
    }

    fn payments(&self, req: &Req) -> Result<(String, usize), Fail> {
        let count = req
            .param("count")
            .and_then(parse_int_strict)
            .filter(|c| *c >= 1)
            .map_or(10, |c| c.min(20)) as usize;
        // Newest first: list position q is record n-1-q.
        let start = match (req.param("start_id"), req.param("start_index")) {
            (Some(id), _) if !id.is_empty() => match self.payment_index(id) {
                Some(i) => self.n - 1 - i,
                None => {
                    return Err(invalid(
                        "start_id",
                        id,
                        "INVALID_RESOURCE_ID",
                        "start_id is not a payment id",
                    ));
                }
            },
            (_, Some(ix)) => parse_int_strict(ix)
                .filter(|v| *v >= 0)
                .map_or(0, |v| v as usize),
            _ => 0,
        };
        let end = start.saturating_add(count).min(self.n);
        let start = start.min(self.n);
        let served = end - start;
        let payments = join(
            (start..end).map(|q| {
                let i = self.n - 1 - q;
                self.payments.get(i, || self.payment(i, ORIGIN))
            }),
            None,
        );
        let mut body = json!({ "payments": RECORDS, "count": served });
        if end < self.n {
            body["next_id"] = json!(self.payment_id(self.n - 1 - end));
        }
        Ok((splice(&body, &payments), served))
    }
}

/// First index in `0..n` for which `pred` is false (`pred` must be true on a
/// prefix and false after it).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl Api for PayPal {
    fn expected(&self) -> Expected {
        let mut e = Expected::default();
        let rev = |f: &dyn Fn(usize) -> String| -> Vec<Value> {
            (0..self.n).rev().map(|i| json!(f(i))).collect()
        };
        e.add(
            Kind::Transactions.resource(),
            Kind::Transactions.path(),
            Kind::Transactions.primary_key(),
            (0..self.n).map(|i| json!(self.txn_id(i))).collect(),
        );
        e.add(
            Kind::Balances.resource(),
            Kind::Balances.path(),
            Kind::Balances.primary_key(),
            vec![json!(PAYPAL_DATA_END)],
        );
        let products: Vec<Value> = (0..self.n).map(|i| json!(self.product_id(i))).collect();
        e.add(
            Kind::Products.resource(),
            Kind::Products.path(),
            "id",
            products.clone(),
        );
        e.add(
            Kind::ProductDetails.resource(),
            Kind::ProductDetails.path(),
            "id",
            products,
        );
        e.add(
            Kind::Disputes.resource(),
            Kind::Disputes.path(),
            "dispute_id",
            rev(&|i| self.dispute_id(i)),
        );
        e.add(
            Kind::Invoices.resource(),
            Kind::Invoices.path(),
            "id",
            (0..self.n).map(|i| json!(self.invoice_id(i))).collect(),
        );
        e.add(
            Kind::Payments.resource(),
            Kind::Payments.path(),
            "id",
            rev(&|i| self.payment_id(i)),
        );
        e
    }

    fn handle(&self, app: &App, req: &Req) -> Response {
        if req.path == PAYPAL_TOKEN_PATH {
            if req.method != Method::POST {
                return pp_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "METHOD_NOT_SUPPORTED",
                    "The server does not implement the requested HTTP method.",
                    json!([]),
                );
            }
            return self.token(app, req);
        }
        let check = match req.bearer() {
            None => {
                app.auth_failed();
                return pp_error(
                    StatusCode::UNAUTHORIZED,
                    "AUTHENTICATION_FAILURE",
                    "Authentication failed due to invalid authentication credentials or a missing Authorization header.",
                    json!([]),
                );
            }
            Some(t) => lock(&app.tokens).check_and_use(t, self.max_uses),
        };
        let failure = match check {
            TokenCheck::Valid => None,
            TokenCheck::Unknown => Some("Token signature verification failed"),
            TokenCheck::Expired | TokenCheck::Revoked => Some("Access Token not found in cache"),
        };
        if let Some(description) = failure {
            app.auth_failed();
            return http::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_token", "error_description": description}),
            );
        }
        let Some((kind, id)) = Kind::route(&req.path) else {
            return pp_error(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "The specified resource does not exist.",
                json!([]),
            );
        };
        let method_ok = match kind {
            Kind::Invoices => req.method == Method::POST,
            _ => req.method == Method::GET,
        };
        if !method_ok {
            return pp_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_SUPPORTED",
                "The server does not implement the requested HTTP method.",
                json!([]),
            );
        }
        let ticket = match app.admit(req) {
            Ok(t) => t,
            Err(faulted) => return *faulted,
        };
        let answer = match kind {
            Kind::Transactions => self.transactions(req),
            Kind::Balances => {
                let as_of = req
                    .param("as_of_time")
                    .map_or_else(|| PAYPAL_DATA_END.to_owned(), str::to_owned);
                Ok((
                    self.balances(&as_of, req.param("currency_code"))
                        .to_string(),
                    1,
                ))
            }
            Kind::Products => self.products(req),
            Kind::ProductDetails => match id.and_then(|id| self.product_index(id)) {
                Some(i) => Ok((self.product(i, ORIGIN, true).to_string(), 1)),
                None => Err((
                    StatusCode::NOT_FOUND,
                    pp_error_body(
                        "RESOURCE_NOT_FOUND",
                        "The specified resource does not exist.",
                        json!([{ "issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist. Please check the resource ID and try again." }]),
                    ),
                )),
            },
            Kind::Disputes => self.disputes(req),
            Kind::Invoices => self.search_invoices(req),
            Kind::Payments => self.payments(req),
        };
        match answer {
            Ok((body, count)) => {
                // Records are generated (and cached) with a placeholder
                // origin; links follow the `Host` the client used.
                let body = with_origin(&body, &app.origin(req));
                app.serve(ticket, kind.resource(), count, body)
            }
            Err((status, body)) => app.reject(ticket, status, &body),
        }
    }

    fn warm(&self) {
        std::thread::scope(|scope| {
            scope.spawn(|| self.transactions.warm(|i| self.transaction(i, SECTIONS)));
            scope.spawn(|| self.products.warm(|i| self.product(i, ORIGIN, false)));
            scope.spawn(|| self.disputes.warm(|i| self.dispute(i, ORIGIN)));
            scope.spawn(|| self.invoices.warm(|i| self.invoice(i, ORIGIN)));
            scope.spawn(|| self.payments.warm(|i| self.payment(i, ORIGIN)));
        });
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Value {
        let name = if status == StatusCode::TOO_MANY_REQUESTS {
            "RATE_LIMIT_REACHED"
        } else {
            "INTERNAL_SERVER_ERROR"
        };
        pp_error_body(name, message, json!([]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Resp, basic, get, post};
    use crate::{Faults, MockServer, Vendor, serve};

    async fn start(opts: MockOptions) -> MockServer {
        serve(Vendor::PayPal, opts).await.expect("mock starts")
    }

    async fn token_request(s: &MockServer, auth: &str, form: &str) -> Resp {
        post(
            s.addr,
            PAYPAL_TOKEN_PATH,
            &[
                ("Authorization", auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form.as_bytes(),
        )
        .await
    }

    async fn bearer(s: &MockServer) -> String {
        let r = token_request(
            s,
            &basic(PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["token_type"], "Bearer");
        assert!(v["expires_in"].is_u64());
        format!("Bearer {}", v["access_token"].as_str().expect("token"))
    }

    fn local(s: &MockServer, url: &str) -> String {
        url.strip_prefix(&s.base_url())
            .expect("link points at this server")
            .to_owned()
    }

    #[tokio::test]
    async fn token_endpoint_checks_client_and_grant() {
        let s = start(MockOptions::default()).await;
        let good = basic(PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET);
        let r = token_request(
            &s,
            &basic(PAYPAL_CLIENT_ID, "wrong"),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("invalid_client"))
        );
        let r = token_request(&s, &good, "").await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (400, json!("unsupported_grant_type"))
        );
        let r = token_request(&s, &good, "grant_type=password").await;
        assert_eq!(r.status, 400);
        bearer(&s).await;
        for h in [vec![], vec![("Authorization", "Bearer nope")]] {
            let r = get(s.addr, "/v1/reporting/balances", &h).await;
            assert_eq!(r.status, 401);
            assert!(r.json().is_object());
        }
    }

    #[tokio::test]
    async fn transactions_walk_date_windows_to_exactly_the_expected_ids() {
        let s = start(MockOptions::default()).await;
        let auth = bearer(&s).await;
        let mut ids = Vec::new();
        let mut from = Ts::parse(PAYPAL_DATA_START).expect("start");
        let end = Ts::parse(PAYPAL_DATA_END).expect("end");
        let mut windows = 0;
        while from < end {
            // Windows are [from, from + 31d - 1s], so no record is in two windows.
            let to = Ts((from.0 + MAX_RANGE_DAYS * DAY - 1).min(end.0 - 1));
            windows += 1;
            for page in 1.. {
                let target = format!(
                    "/v1/reporting/transactions?start_date={}&end_date={}&fields=all&page={page}&page_size=100",
                    from.iso_z(),
                    to.iso_z()
                );
                let r = get(s.addr, &target, &[("Authorization", &auth)]).await;
                assert_eq!(r.status, 200, "{target}");
                let v = r.json();
                let list = v["transaction_details"].as_array().expect("list").clone();
                ids.extend(
                    list.iter()
                        .map(|t| t["transaction_info"]["transaction_id"].clone()),
                );
                assert!(
                    list.iter()
                        .all(|t| t["cart_info"]["item_details"].is_array())
                );
                if page >= v["total_pages"].as_u64().expect("total_pages") {
                    break;
                }
            }
            from = Ts(to.0 + 1);
        }
        assert_eq!(windows, 3);
        assert_eq!(ids, s.expected().resources["transactions"].keys);
    }

    #[tokio::test]
    async fn transactions_validate_dates_and_page_size() {
        let s = start(MockOptions::default()).await;
        let auth = bearer(&s).await;
        let q = |query: &str| format!("/v1/reporting/transactions?{query}");
        for (query, field) in [
            ("", "start_date"),
            ("start_date=2024-01-01T00:00:00Z", "end_date"),
            (
                "start_date=2024-01-01&end_date=2024-01-02T00:00:00Z",
                "start_date",
            ),
            (
                "start_date=2024-01-01T00:00:00Z&end_date=2024-02-15T00:00:00Z",
                "end_date",
            ),
            (
                "start_date=2024-01-01T00:00:00Z&end_date=2024-01-02T00:00:00Z&page_size=501",
                "page_size",
            ),
            (
                "start_date=2024-01-01T00:00:00Z&end_date=2024-01-02T00:00:00Z&page=0",
                "page",
            ),
        ] {
            let r = get(s.addr, &q(query), &[("Authorization", &auth)]).await;
            assert_eq!(r.status, 400, "{query}");
            let v = r.json();
            assert_eq!(v["name"], "INVALID_REQUEST");
            assert_eq!(v["details"][0]["field"], field, "{query}");
        }
        let r = get(
            s.addr,
            &q("start_date=2024-01-01T00:00:00-0700&end_date=2024-01-31T00:00:00.000%2B00:00"),
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(r.status, 200);
        let first = &r.json()["transaction_details"][0];
        assert!(
            first.get("payer_info").is_none(),
            "without fields=all only transaction_info"
        );
        assert!(first["transaction_info"]["transaction_amount"]["value"].is_string());
    }

    #[tokio::test]
    async fn products_and_details() {
        let s = start(MockOptions {
            records: 45,
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        let mut ids = Vec::new();
        let mut target = "/v1/catalogs/products?page_size=20&page=1".to_owned();
        loop {
            let v = get(s.addr, &target, &[("Authorization", &auth)])
                .await
                .json();
            ids.extend(
                v["products"]
                    .as_array()
                    .expect("products")
                    .iter()
                    .map(|p| p["id"].clone()),
            );
            let next = v["links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .map(|l| l["href"].clone());
            match next.as_ref().and_then(Value::as_str) {
                Some(url) => target = local(&s, url),
                None => break,
            }
        }
        assert_eq!(ids, s.expected().resources["list_products"].keys);
        let past = get(
            s.addr,
            "/v1/catalogs/products?page_size=20&page=4",
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(past["products"], json!([]));
        assert_eq!(
            get(
                s.addr,
                "/v1/catalogs/products?page_size=21",
                &[("Authorization", &auth)]
            )
            .await
            .status,
            400
        );
        let totals = get(
            s.addr,
            "/v1/catalogs/products?total_required=true",
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(
            (totals["total_items"].clone(), totals["total_pages"].clone()),
            (json!(45), json!(5))
        );
        let id = ids[7].as_str().expect("id");
        let d = get(
            s.addr,
            &format!("/v1/catalogs/products/{id}"),
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(d["id"], id);
        assert!(d["type"].is_string());
        let missing = get(
            s.addr,
            "/v1/catalogs/products/PROD-NOPE",
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(
            (missing.status, missing.json()["name"].clone()),
            (404, json!("RESOURCE_NOT_FOUND"))
        );
        let bal = get(
            s.addr,
            "/v1/reporting/balances",
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(bal["as_of_time"], PAYPAL_DATA_END);
        assert!(bal["balances"][0]["total_balance"]["value"].is_string());
    }

    #[tokio::test]
    async fn disputes_follow_next_links_and_reject_made_up_tokens() {
        let s = start(MockOptions {
            records: 120,
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        let mut ids = Vec::new();
        let mut target = "/v1/customer/disputes?page_size=50".to_owned();
        let mut pages = 0;
        loop {
            let v = get(s.addr, &target, &[("Authorization", &auth)])
                .await
                .json();
            pages += 1;
            ids.extend(
                v["items"]
                    .as_array()
                    .expect("items")
                    .iter()
                    .map(|d| d["dispute_id"].clone()),
            );
            let next = v["links"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
                .map(|l| l["href"].clone());
            match next.as_ref().and_then(Value::as_str) {
                Some(url) => target = local(&s, url),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(ids, s.expected().resources["list_disputes"].keys);
        // The seed sends page numbers as the token.
        for t in ["0", "1", "2"] {
            let r = get(
                s.addr,
                &format!("/v1/customer/disputes?page_size=50&next_page_token={t}"),
                &[("Authorization", &auth)],
            )
            .await;
            assert_eq!(r.status, 400);
            assert_eq!(r.json()["details"][0]["field"], "next_page_token");
        }
    }

    #[tokio::test]
    async fn search_invoices_is_a_post_with_optional_totals() {
        let s = start(MockOptions {
            records: 230,
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        let h = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        assert_eq!(
            get(
                s.addr,
                "/v2/invoicing/search-invoices?page=1&page_size=100",
                &h
            )
            .await
            .status,
            405
        );
        let mut ids = Vec::new();
        for page in 1.. {
            let v = post(
                s.addr,
                &format!(
                    "/v2/invoicing/search-invoices?page={page}&page_size=100&total_required=true"
                ),
                &h,
                b"{}",
            )
            .await
            .json();
            assert_eq!(
                (v["total_items"].clone(), v["total_pages"].clone()),
                (json!(230), json!(3))
            );
            let items = v["items"].as_array().expect("items").clone();
            ids.extend(items.iter().map(|i| i["id"].clone()));
            if items.len() < 100 {
                break;
            }
        }
        assert_eq!(ids, s.expected().resources["search_invoices"].keys);
        let empty_body = post(s.addr, "/v2/invoicing/search-invoices", &h, b"")
            .await
            .json();
        assert_eq!(empty_body["items"].as_array().map(Vec::len), Some(20));
        assert!(empty_body.get("total_items").is_none());
        let paid = post(
            s.addr,
            "/v2/invoicing/search-invoices?page_size=100",
            &h,
            br#"{"status": ["PAID"]}"#,
        )
        .await
        .json();
        assert!(
            paid["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|i| i["status"] == "PAID")
        );
        let bad = post(s.addr, "/v2/invoicing/search-invoices", &h, b"{nope").await;
        assert_eq!(
            (bad.status, bad.json()["name"].clone()),
            (400, json!("MALFORMED_REQUEST_JSON"))
        );
    }

    #[tokio::test]
    async fn payments_follow_next_id_until_absent() {
        let s = start(MockOptions {
            records: 45,
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        let mut ids = Vec::new();
        let mut target = "/v1/payments/payment?count=20".to_owned();
        let mut pages = 0;
        loop {
            let v = get(s.addr, &target, &[("Authorization", &auth)])
                .await
                .json();
            pages += 1;
            let list = v["payments"].as_array().expect("payments").clone();
            assert_eq!(v["count"], list.len());
            ids.extend(list.iter().map(|p| p["id"].clone()));
            match v.get("next_id").and_then(Value::as_str) {
                Some(next) => target = format!("/v1/payments/payment?count=20&start_id={next}"),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(ids, s.expected().resources["list_payments"].keys);
        let clamped = get(
            s.addr,
            "/v1/payments/payment?count=100",
            &[("Authorization", &auth)],
        )
        .await
        .json();
        assert_eq!(clamped["count"], 20);
        assert_eq!(
            get(
                s.addr,
                "/v1/payments/payment?start_id=PAY-X",
                &[("Authorization", &auth)]
            )
            .await
            .status,
            400
        );
    }

    #[tokio::test]
    async fn short_lived_and_revoked_tokens_force_a_refresh() {
        let s = start(MockOptions {
            token_expires_in_secs: Some(1),
            token_max_uses: Some(3),
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        for _ in 0..3 {
            assert_eq!(
                get(
                    s.addr,
                    "/v1/reporting/balances",
                    &[("Authorization", &auth)]
                )
                .await
                .status,
                200
            );
        }
        let r = get(
            s.addr,
            "/v1/reporting/balances",
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("invalid_token"))
        );
        let fresh = bearer(&s).await;
        assert_eq!(
            get(
                s.addr,
                "/v1/reporting/balances",
                &[("Authorization", &fresh)]
            )
            .await
            .status,
            200
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            get(
                s.addr,
                "/v1/reporting/balances",
                &[("Authorization", &fresh)]
            )
            .await
            .status,
            401
        );
        assert_eq!(s.stats().tokens_issued, 2);
    }

    #[tokio::test]
    async fn faults_are_deterministic_on_every_endpoint() {
        let s = start(MockOptions {
            records: 30,
            faults: Faults {
                rate_limit_every: Some(2),
                ..Faults::default()
            },
            ..MockOptions::default()
        })
        .await;
        let auth = bearer(&s).await;
        let mut statuses = Vec::new();
        for target in [
            "/v1/reporting/balances",
            "/v1/catalogs/products?page_size=20",
            "/v1/payments/payment?count=20",
        ] {
            loop {
                let r = get(s.addr, target, &[("Authorization", &auth)]).await;
                statuses.push(r.status);
                if r.status == 429 {
                    assert_eq!(r.json()["name"], "RATE_LIMIT_REACHED");
                    continue;
                }
                break;
            }
        }
        assert_eq!(statuses, vec![200, 429, 200, 429, 200]);
        assert_eq!(s.stats().served("list_payments"), 20);
        assert_eq!(s.stats().tokens_issued, 1, "token calls are never faulted");
    }

    #[test]
    fn ids_are_unique_and_parse_back() {
        let p = PayPal::new(&MockOptions::default());
        for i in [0, 1, 200, 449] {
            assert_eq!(p.product_index(&p.product_id(i)), Some(i));
            assert_eq!(p.payment_index(&p.payment_id(i)), Some(i));
        }
        let e = p.expected();
        for (name, r) in &e.resources {
            let unique: std::collections::HashSet<String> =
                e.key_strings(name).into_iter().collect();
            assert_eq!(unique.len(), r.keys.len(), "{name}");
        }
        assert_eq!(p.dispute_offset(&p.dispute_token(50)), Some(50));
        assert_eq!(p.dispute_offset("1"), None);
    }
}
