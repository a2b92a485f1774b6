//! Pabbly Subscriptions Billing (seed 001): Basic auth (API key / secret
//! key), base path `/api/v1`, `page`/`limit` lists, parent-child endpoints.
//!
//! Real API behaviour imitated here:
//! - Top-level `GET /customers`, `/subscriptions`, `/products`, `/invoices`,
//!   `/multiplans`, `/paymentgateways` answer
//!   `{"status": "success", "message": "...", "data": [...]}`. Past the last
//!   page `data` is `[]`.
//! - Per product (parent `products.id`): `/coupon/{product_id}`,
//!   `/addons/{product_id}`, `/addonlistcategory/{product_id}`,
//!   `/products/{product_id}/licenses`. Per customer (parent `customers.id`):
//!   `/paymentmethods/{customer_id}`, `/transactions/{customer_id}`,
//!   `/refund/{customer_id}`. A child page with nothing on it (no children,
//!   a page past the end, or an unknown parent) answers **HTTP 400**
//!   `{"status": "error", "message": "No transaction found"}` (message per
//!   endpoint). So a client must stop on a short page; one that reads until
//!   an empty page meets a 400 after every parent's last page.
//! - `page` counts from 1 (< 1 is 1), `limit` defaults to 100; no maximum is
//!   documented, so the mock serves what is asked.
//! - Ids are 24-digit hex strings (Mongo object ids). About a third of the
//!   parents have no children of a kind; parent #2 has `limit + 23` of each,
//!   so child pagination is exercised.
//! - `paymentgateways` holds at most 4 records whatever `records` says (an
//!   account has a handful of gateways).
//!
//! Seed quirks: the real connector ignores the 400 of empty children; the
//! seed config *retries* 400 three times (`retry_on_status_codes: [400]`) on
//! most child resources, and `refunds` retries nothing.

use std::borrow::Cow;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::cache::{RECORDS, RecordCache, join, splice};
use crate::credentials::{PABBLY_PASSWORD, PABBLY_USERNAME};
use crate::datagen::{
    DAY, EPOCH_2023, LOWER_ALNUM, ORGANIZATIONS, PLACES, Person, Rng, Ts, UPPER_ALNUM, money, phone,
};
use crate::http::{self, Req, page_range, parse_int};
use crate::options::MockOptions;
use crate::server::App;
use crate::stats::Expected;
use crate::vendors::Api;

/// API prefix below the server root (the seed's `base_url` ends with it).
pub const BASE_PATH: &str = "/api/v1";
/// `limit` when none is given.
pub const DEFAULT_LIMIT: i64 = 100;
/// Children of parent #2 of every child kind: more than one page.
const MANY_CHILDREN: usize = DEFAULT_LIMIT as usize + 23;
/// Days of history the generated records span.
const HISTORY_DAYS: i64 = 540;

/// Every list the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Customers,
    Subscriptions,
    Products,
    Invoices,
    Multiplans,
    PaymentGateways,
    Coupons,
    Addons,
    AddonCategories,
    Licenses,
    PaymentMethods,
    Transactions,
    Refunds,
}

/// The parent a child list hangs off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parent {
    Product,
    Customer,
}

impl Kind {
    const ALL: [Kind; 13] = [
        Kind::Customers,
        Kind::Subscriptions,
        Kind::Products,
        Kind::Invoices,
        Kind::Multiplans,
        Kind::PaymentGateways,
        Kind::Coupons,
        Kind::Addons,
        Kind::AddonCategories,
        Kind::Licenses,
        Kind::PaymentMethods,
        Kind::Transactions,
        Kind::Refunds,
    ];

    /// Resource name in the seed config.
    fn resource(self) -> &'static str {
        match self {
            Kind::Customers => "customers",
            Kind::Subscriptions => "subscriptions",
            Kind::Products => "products",
            Kind::Invoices => "invoices",
            Kind::Multiplans => "multiplans",
            Kind::PaymentGateways => "payment_gateways",
            Kind::Coupons => "coupons",
            Kind::Addons => "addons",
            Kind::AddonCategories => "addon_list_category",
            Kind::Licenses => "licenses",
            Kind::PaymentMethods => "payment_methods",
            Kind::Transactions => "transactions",
            Kind::Refunds => "refunds",
        }
    }

    /// Path template below [`BASE_PATH`].
    fn path(self) -> &'static str {
        match self {
            Kind::Customers => "/customers",
            Kind::Subscriptions => "/subscriptions",
            Kind::Products => "/products",
            Kind::Invoices => "/invoices",
            Kind::Multiplans => "/multiplans",
            Kind::PaymentGateways => "/paymentgateways",
            Kind::Coupons => "/coupon/{product_id}",
            Kind::Addons => "/addons/{product_id}",
            Kind::AddonCategories => "/addonlistcategory/{product_id}",
            Kind::Licenses => "/products/{product_id}/licenses",
            Kind::PaymentMethods => "/paymentmethods/{customer_id}",
            Kind::Transactions => "/transactions/{customer_id}",
            Kind::Refunds => "/refund/{customer_id}",
        }
    }

    fn parent(self) -> Option<Parent> {
        match self {
            Kind::Coupons | Kind::Addons | Kind::AddonCategories | Kind::Licenses => {
                Some(Parent::Product)
            }
            Kind::PaymentMethods | Kind::Transactions | Kind::Refunds => Some(Parent::Customer),
            _ => None,
        }
    }

    /// Message of a successful answer.
    fn success_message(self) -> &'static str {
        match self {
            Kind::Customers => "All customers data",
            Kind::Subscriptions => "Subscriptions list",
            Kind::Products => "Products list",
            Kind::Invoices => "Invoices list",
            Kind::Multiplans => "Multiplans list",
            Kind::PaymentGateways => "Payment gateways list",
            Kind::Coupons => "Coupon list",
            Kind::Addons => "Addon list",
            Kind::AddonCategories => "Addon category list",
            Kind::Licenses => "License list",
            Kind::PaymentMethods => "Payment methods",
            Kind::Transactions => "Transactions list",
            Kind::Refunds => "Refund list",
        }
    }

    /// Message of the 400 a child list with nothing on the page answers.
    fn empty_message(self) -> &'static str {
        match self {
            Kind::Coupons => "No coupon found",
            Kind::Addons => "No addon found",
            Kind::AddonCategories => "No addon category found",
            Kind::Licenses => "No license found",
            Kind::PaymentMethods => "No payment method found",
            Kind::Transactions => "No transaction found",
            Kind::Refunds => "No refund found",
            _ => "No data found",
        }
    }

    /// One hex digit distinguishing the kinds inside child ids.
    fn code(self) -> u32 {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u32
    }
}

/// Parses a path below [`BASE_PATH`] into a list and its parent id.
fn route(path: &str) -> Option<(Kind, Option<&str>)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let kind = match segs.as_slice() {
        ["customers"] => (Kind::Customers, None),
        ["subscriptions"] => (Kind::Subscriptions, None),
        ["products"] => (Kind::Products, None),
        ["invoices"] => (Kind::Invoices, None),
        ["multiplans"] => (Kind::Multiplans, None),
        ["paymentgateways"] => (Kind::PaymentGateways, None),
        ["coupon", id] => (Kind::Coupons, Some(*id)),
        ["addons", id] => (Kind::Addons, Some(*id)),
        ["addonlistcategory", id] => (Kind::AddonCategories, Some(*id)),
        ["products", id, "licenses"] => (Kind::Licenses, Some(*id)),
        ["paymentmethods", id] => (Kind::PaymentMethods, Some(*id)),
        ["transactions", id] => (Kind::Transactions, Some(*id)),
        ["refund", id] => (Kind::Refunds, Some(*id)),
        _ => return None,
    };
    Some(kind)
}

/// Plans of the catalogue: (name, code, price in cents, billing period).
const PLANS: &[(&str, &str, i64, &str)] = &[
    ("Starter", "starter-m", 900, "m"),
    ("Growth", "growth-m", 2900, "m"),
    ("Scale", "scale-m", 9900, "m"),
    ("Growth yearly", "growth-y", 29_000, "y"),
    ("Entreprise — sur mesure", "enterprise", 49_900, "m"),
];

/// The Pabbly mock's data.
pub struct Pabbly {
    seed: u64,
    n: usize,
    /// Serialized top-level records, indexed by `Kind as usize` (the six
    /// top-level kinds come first); children are small and not cached.
    cache: [RecordCache; 6],
}

impl Pabbly {
    /// Data for `opts.records` records per top-level list.
    pub fn new(opts: &MockOptions) -> Self {
        Self {
            seed: opts.seed,
            n: opts.records,
            cache: std::array::from_fn(|k| {
                let gateways = k == Kind::PaymentGateways as usize;
                RecordCache::new(if gateways {
                    opts.records.min(4)
                } else {
                    opts.records
                })
            }),
        }
    }

    fn rng(&self, stream: &str, i: u64) -> Rng {
        Rng::new(self.seed, stream, i)
    }

    fn created(&self, r: &mut Rng, i: usize) -> Ts {
        let slot = HISTORY_DAYS * DAY / self.n.max(1) as i64;
        EPOCH_2023.plus(slot * i as i64 + r.between(0, slot.max(1) - 1))
    }

    /// Records of a top-level list (the cache sizes in `new` agree).
    fn top_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::PaymentGateways => self.n.min(4),
            _ => self.n,
        }
    }

    /// Object id of top-level record `i`: creation time, kind, index, noise.
    fn top_id(&self, kind: Kind, i: usize) -> String {
        let mut r = self.rng("pabbly.top.id", (u64::from(kind.code()) << 40) | i as u64);
        let ts = EPOCH_2023.0 + (HISTORY_DAYS * DAY / self.n.max(1) as i64) * i as i64;
        format!(
            "{:08x}{:x}{:06x}{}",
            ts,
            kind.code(),
            i & 0xff_ffff,
            r.hex(9)
        )
    }

    /// Object id of child `j` of parent `p`.
    fn child_id(&self, kind: Kind, p: usize, j: usize) -> String {
        let mut r = self.rng(
            "pabbly.child.id",
            (u64::from(kind.code()) << 48) | ((p as u64) << 16) | j as u64,
        );
        let ts = EPOCH_2023.0 + DAY * (p as i64 % 500) + j as i64;
        format!(
            "{:08x}{:x}{:06x}{:03x}{}",
            ts,
            kind.code(),
            p & 0xff_ffff,
            j & 0xfff,
            r.hex(6)
        )
    }

    /// How many children of `kind` parent `p` has.
    fn child_count(&self, kind: Kind, p: usize) -> usize {
        if p == 1 {
            return MANY_CHILDREN;
        }
        let mut r = self.rng(kind.resource(), p as u64 ^ 0xC41D);
        match r.below(100) {
            0..=34 => 0,
            35..=84 => r.between(1, 4) as usize,
            _ => r.between(5, 12) as usize,
        }
    }

    /// Parent index of a parent id, if it is one of ours.
    fn parent_index(&self, parent: Parent, id: &str) -> Option<usize> {
        let kind = match parent {
            Parent::Product => Kind::Products,
            Parent::Customer => Kind::Customers,
        };
        // The index is digits 9..15 of the id; verify the whole id.
        let i = usize::from_str_radix(id.get(9..15)?, 16).ok()?;
        (i < self.n && self.top_id(kind, i) == id).then_some(i)
    }

    fn customer_ref(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.customer", i as u64);
        let p = Person::draw(&mut r, i as u64, "example.net");
        json!({
            "id": self.top_id(Kind::Customers, i),
            "first_name": p.first,
            "last_name": p.last,
            "email_id": p.email,
        })
    }

    fn customer(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.customer", i as u64);
        let p = Person::draw(&mut r, i as u64, "example.net");
        let place = r.pick(PLACES);
        let created = self.created(&mut r, i);
        let address = json!({
            "street1": place.street,
            "street2": if r.percent(20) { json!("Apt. 3") } else { json!("") },
            "city": place.city,
            "state": place.state,
            "state_code": place.state,
            "zip_code": place.zip,
            "country": place.country,
        });
        json!({
            "id": self.top_id(Kind::Customers, i),
            "first_name": p.first,
            "last_name": p.last,
            "user_name": p.email,
            "email_id": p.email,
            "phone": phone(&mut r),
            "company_name": if r.percent(50) { json!(r.pick(ORGANIZATIONS)) } else { Value::Null },
            "billing_address": address.clone(),
            "shipping_address": if r.percent(70) { address } else { Value::Null },
            "gateway_type": r.pick(&["stripe", "paypal", "razorpay", "test"]),
            "gateway_name": "Stripe Live",
            "credit": { "remaining": r.between(0, 5) * 500, "currency_code": "USD" },
            "other_info": if r.percent(30) { json!({"utm_source": "newsletter", "notes": "VIP — priorité haute"}) } else { json!({}) },
            "status": if r.percent(95) { "active" } else { "inactive" },
            "createdAt": created.iso_z(),
            "updatedAt": created.plus(r.between(0, 60 * DAY)).iso_z(),
        })
    }

    fn plan(&self, k: usize, product: usize) -> Value {
        let (name, code, price, period) = PLANS[k % PLANS.len()];
        json!({
            "id": format!("{}{:04x}", &self.top_id(Kind::Products, product)[..20], k),
            "product_id": self.top_id(Kind::Products, product),
            "plan_name": name,
            "plan_code": code,
            "price": price as f64 / 100.0,
            "billing_cycle": "lifetime",
            "billing_period": period,
            "billing_period_num": "1",
            "setup_fee": if k == 2 { 49.0 } else { 0.0 },
            "trial_period": if k == 1 { 14 } else { 0 },
            "currency_code": "USD",
        })
    }

    fn subscription(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.subscription", i as u64);
        let ci = r.below(self.n.max(1) as u64) as usize;
        let pi = r.below(self.n.max(1) as u64) as usize;
        let k = r.below(PLANS.len() as u64) as usize;
        let plan = self.plan(k, pi);
        let created = self.created(&mut r, i);
        let status = *r.pick(&["live", "live", "live", "trial", "cancelled", "expired"]);
        let qty = r.between(1, 5);
        let price = PLANS[k].2;
        json!({
            "id": self.top_id(Kind::Subscriptions, i),
            "customer_id": self.top_id(Kind::Customers, ci),
            "product_id": self.top_id(Kind::Products, pi),
            "plan_id": plan["id"],
            "status": status,
            "amount": (price * qty) as f64 / 100.0,
            "quantity": qty,
            "email_id": self.customer_ref(ci)["email_id"],
            "setup_fee": plan["setup_fee"],
            "currency_symbol": "$",
            "payment_terms": "",
            "trial_days": plan["trial_period"],
            "trial_expiry_date": if status == "trial" { json!(created.plus(14 * DAY).iso_z()) } else { Value::Null },
            "starts_at": created.iso_z(),
            "activation_date": created.iso_z(),
            "expiry_date": if status == "expired" { json!(created.plus(365 * DAY).iso_z()) } else { Value::Null },
            "next_billing_date": if status == "live" { json!(created.plus(30 * DAY).date()) } else { Value::Null },
            "last_billing_date": created.date(),
            "canceled_date": if status == "cancelled" { json!(created.plus(45 * DAY).iso_z()) } else { Value::Null },
            "gateway_type": "stripe",
            "payment_method": format!("pm_{}", r.chars(LOWER_ALNUM, 14)),
            "plan": plan,
            "customer": self.customer_ref(ci),
            "addons": (0..r.below(3)).map(|a| json!({"name": format!("Extra seat {a}"), "quantity": 1, "price": 5.0})).collect::<Vec<_>>(),
            "createdAt": created.iso_z(),
            "updatedAt": created.plus(r.between(0, 30 * DAY)).iso_z(),
        })
    }

    fn product(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.product", i as u64);
        let created = self.created(&mut r, i);
        let name = format!(
            "{} {}",
            r.pick(&["Cloud", "Studio", "Insights", "Connect", "Büro"]),
            i + 1
        );
        json!({
            "id": self.top_id(Kind::Products, i),
            "product_name": name,
            "description": if r.percent(60) { json!(format!("{name} subscription product")) } else { Value::Null },
            "redirect_url": format!("https://app.example.com/welcome?product={}", i + 1),
            "status": if r.percent(90) { "active" } else { "inactive" },
            "plans_count": r.between(1, 5),
            "createdAt": created.iso_z(),
            "updatedAt": created.plus(r.between(0, 90 * DAY)).iso_z(),
        })
    }

    fn invoice(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.invoice", i as u64);
        let ci = r.below(self.n.max(1) as u64) as usize;
        let si = r.below(self.n.max(1) as u64) as usize;
        let created = self.created(&mut r, i);
        let mut total = 0;
        let items: Vec<Value> = (0..r.between(1, 3))
            .map(|_| {
                let k = r.below(PLANS.len() as u64) as usize;
                let (name, code, price, _) = PLANS[k];
                let qty = r.between(1, 3);
                total += price * qty;
                json!({"name": name, "code": code, "price": price as f64 / 100.0, "quantity": qty, "amount": (price * qty) as f64 / 100.0, "tax": Value::Null})
            })
            .collect();
        let paid = r.percent(75);
        json!({
            "id": self.top_id(Kind::Invoices, i),
            "invoice_id": format!("INV-{}", 1001 + i),
            "customer_id": self.top_id(Kind::Customers, ci),
            "subscription_id": self.top_id(Kind::Subscriptions, si),
            "status": if paid { "paid" } else { "unpaid" },
            "amount": total as f64 / 100.0,
            "due_amount": if paid { 0.0 } else { total as f64 / 100.0 },
            "credit_applied": 0,
            "currency_code": "USD",
            "due_date": created.plus(7 * DAY).date(),
            "paid_date": if paid { json!(created.plus(DAY).iso_z()) } else { Value::Null },
            "items": items,
            "payment_note": if r.percent(15) { json!("Payé par virement — merci") } else { Value::Null },
            "customer": self.customer_ref(ci),
            "createdAt": created.iso_z(),
            "updatedAt": created.plus(r.between(0, 10 * DAY)).iso_z(),
        })
    }

    fn multiplan(&self, i: usize) -> Value {
        let mut r = self.rng("pabbly.multiplan", i as u64);
        let pi = r.below(self.n.max(1) as u64) as usize;
        let created = self.created(&mut r, i);
        let plans: Vec<Value> = (0..r.between(2, 4) as usize)
            .map(|k| self.plan(k, pi))
            .collect();
        json!({
            "id": self.top_id(Kind::Multiplans, i),
            "product_id": self.top_id(Kind::Products, pi),
            "multiplan_name": format!("Pricing page {}", i + 1),
            "plans": plans,
            "redirect_url": Value::Null,
            "createdAt": created.iso_z(),
            "updatedAt": created.iso_z(),
        })
    }

    fn gateway(&self, i: usize) -> Value {
        let (kind, name) = [
            ("stripe", "Stripe Live"),
            ("paypal", "PayPal Business"),
            ("razorpay", "Razorpay"),
            ("test", "Test gateway"),
        ][i % 4];
        json!({
            "id": self.top_id(Kind::PaymentGateways, i),
            "gateway_type": kind,
            "gateway_name": name,
            "status": "active",
            "currency": ["USD", "EUR", "INR"],
            "credentials": { "mode": if kind == "test" { "test" } else { "live" } },
            "createdAt": EPOCH_2023.plus(DAY * i as i64).iso_z(),
        })
    }

    fn child(&self, kind: Kind, p: usize, j: usize) -> Value {
        let mut r = self.rng(kind.resource(), ((p as u64) << 16) | j as u64);
        let id = self.child_id(kind, p, j);
        let created = EPOCH_2023.plus(DAY * (p as i64 % 500) + 3600 * j as i64);
        let stamp = |v: &mut Value| {
            if let Some(o) = v.as_object_mut() {
                o.insert("createdAt".into(), json!(created.iso_z()));
                o.insert("updatedAt".into(), json!(created.plus(DAY).iso_z()));
            }
        };
        let product_id = self.top_id(Kind::Products, p);
        let customer_id = self.top_id(Kind::Customers, p);
        let mut v = match kind {
            Kind::Coupons => json!({
                "id": id, "product_id": product_id,
                "coupon_name": format!("Rabatt {}", j + 1),
                "coupon_code": format!("SAVE{}{}", p, j),
                "discount": r.between(5, 50),
                "discount_type": r.pick(&["percentage", "flat_rate"]),
                "redemption": r.between(0, 100),
                "valid_upto": if r.percent(50) { json!(created.plus(90 * DAY).date()) } else { Value::Null },
                "status": "active",
                "plans": ["all"],
            }),
            Kind::Addons => json!({
                "id": id, "product_id": product_id,
                "name": format!("Add-on {}", j + 1),
                "code": format!("addon-{p}-{j}"),
                "price": r.between(1, 50) as f64,
                "billing_cycle": r.pick(&["onetime", "recurring"]),
                "category_id": if r.percent(50) { json!(self.child_id(Kind::AddonCategories, p, 0)) } else { Value::Null },
                "status": "active",
                "description": Value::Null,
            }),
            Kind::AddonCategories => json!({
                "id": id, "product_id": product_id,
                "category_name": format!("Catégorie {}", j + 1),
                "status": "active",
            }),
            Kind::Licenses => json!({
                "id": id, "product_id": product_id,
                "license_key": format!("{}-{}-{}", r.chars(UPPER_ALNUM, 5), r.chars(UPPER_ALNUM, 5), r.chars(UPPER_ALNUM, 5)),
                "status": r.pick(&["available", "assigned", "revoked"]),
                "assigned_to": if r.percent(50) { json!(self.top_id(Kind::Customers, r.below(self.n.max(1) as u64) as usize)) } else { Value::Null },
            }),
            Kind::PaymentMethods => json!({
                "id": id, "customer_id": customer_id,
                "gateway_type": "stripe",
                "payment_method": "card",
                "card": {
                    "brand": r.pick(&["visa", "mastercard", "amex"]),
                    "last4": format!("{:04}", r.below(10_000)),
                    "exp_month": r.between(1, 12),
                    "exp_year": r.between(2025, 2031),
                },
                "default": j == 0,
            }),
            Kind::Transactions => json!({
                "id": id, "customer_id": customer_id,
                "invoice_id": format!("INV-{}", 1001 + r.below(self.n.max(1) as u64)),
                "amount": money(r.between(500, 50_000)),
                "currency_code": "USD",
                "status": r.pick(&["success", "success", "failed", "refunded"]),
                "payment_mode": r.pick(&["card", "paypal", "bank_transfer"]),
                "transaction_id": format!("txn_{}", r.chars(LOWER_ALNUM, 18)),
                "gateway_response": {
                    "gateway": "stripe",
                    "charge_id": format!("ch_{}", r.chars(LOWER_ALNUM, 24)),
                    "outcome": { "network_status": "approved_by_network", "risk_level": r.pick(&["normal", "elevated"]) },
                },
            }),
            Kind::Refunds => json!({
                "id": id, "customer_id": customer_id,
                "transaction_id": format!("txn_{}", r.chars(LOWER_ALNUM, 18)),
                "amount": money(r.between(100, 20_000)),
                "currency_code": "USD",
                "reason": if r.percent(50) { json!("Kunde unzufrieden") } else { Value::Null },
                "status": "refunded",
            }),
            _ => Value::Null,
        };
        stamp(&mut v);
        v
    }

    fn top(&self, kind: Kind, i: usize) -> Value {
        match kind {
            Kind::Customers => self.customer(i),
            Kind::Subscriptions => self.subscription(i),
            Kind::Products => self.product(i),
            Kind::Invoices => self.invoice(i),
            Kind::Multiplans => self.multiplan(i),
            _ => self.gateway(i),
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    http::json(status, &json!({"status": "error", "message": message}))
}

impl Api for Pabbly {
    fn expected(&self) -> Expected {
        let mut e = Expected::default();
        for kind in Kind::ALL {
            let keys: Vec<Value> = match kind.parent() {
                None => (0..self.top_count(kind))
                    .map(|i| json!(self.top_id(kind, i)))
                    .collect(),
                Some(_) => (0..self.n)
                    .flat_map(|p| (0..self.child_count(kind, p)).map(move |j| (p, j)))
                    .map(|(p, j)| json!(self.child_id(kind, p, j)))
                    .collect(),
            };
            e.add(
                kind.resource(),
                &format!("{BASE_PATH}{}", kind.path()),
                "id",
                keys,
            );
        }
        e
    }

    fn handle(&self, app: &App, req: &Req) -> Response {
        if !req.basic_is(PABBLY_USERNAME, PABBLY_PASSWORD) {
            app.auth_failed();
            let resp = error(StatusCode::UNAUTHORIZED, "Invalid API credentials");
            return http::with_header(resp, "www-authenticate", "Basic realm=\"Pabbly\"");
        }
        let Some((kind, parent_id)) = req
            .path
            .strip_prefix(BASE_PATH)
            .and_then(route)
            .filter(|_| req.method == Method::GET)
        else {
            return error(StatusCode::NOT_FOUND, "Route not found");
        };
        let ticket = match app.admit(req) {
            Ok(t) => t,
            Err(faulted) => return *faulted,
        };
        let page = req.param("page").and_then(parse_int).unwrap_or(1).max(1) as u64;
        let limit = match req.param("limit").and_then(parse_int) {
            Some(l) if l >= 1 => l as u64,
            _ => DEFAULT_LIMIT as u64,
        };
        let (records, count, total) = match (kind.parent(), parent_id) {
            (Some(parent), Some(pid)) => {
                let Some(p) = self.parent_index(parent, pid) else {
                    let body = json!({"status": "error", "message": kind.empty_message()});
                    return app.reject(ticket, StatusCode::BAD_REQUEST, &body);
                };
                let total = self.child_count(kind, p);
                let range = page_range(total, page, limit);
                if range.is_empty() {
                    let body = json!({"status": "error", "message": kind.empty_message()});
                    return app.reject(ticket, StatusCode::BAD_REQUEST, &body);
                }
                let count = range.len();
                let recs = range.map(|j| Cow::Owned(self.child(kind, p, j).to_string()));
                (join(recs, None), count, total)
            }
            _ => {
                let total = self.top_count(kind);
                let range = page_range(total, page, limit);
                let count = range.len();
                let cache = &self.cache[kind as usize];
                (
                    join(range.map(|i| cache.get(i, || self.top(kind, i))), None),
                    count,
                    total,
                )
            }
        };
        let envelope = json!({
            "status": "success",
            "message": kind.success_message(),
            "total_records": total,
            "data": RECORDS,
        });
        app.serve(ticket, kind.resource(), count, splice(&envelope, &records))
    }

    fn warm(&self) {
        std::thread::scope(|scope| {
            for kind in Kind::ALL.into_iter().filter(|k| k.parent().is_none()) {
                scope.spawn(move || self.cache[kind as usize].warm(|i| self.top(kind, i)));
            }
        });
    }

    fn error_body(&self, _status: StatusCode, message: &str) -> Value {
        json!({"status": "error", "message": message})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Resp, basic, get};
    use crate::{Faults, MockServer, Vendor, serve};

    async fn start(opts: MockOptions) -> MockServer {
        serve(Vendor::Pabbly, opts).await.expect("mock starts")
    }

    async fn fetch(s: &MockServer, target: &str) -> Resp {
        let auth = basic(PABBLY_USERNAME, PABBLY_PASSWORD);
        get(
            s.addr,
            &format!("{BASE_PATH}{target}"),
            &[("Authorization", &auth)],
        )
        .await
    }

    /// Pages one list with stop-on-short-page; returns ids and statuses.
    async fn walk(s: &MockServer, path: &str) -> (Vec<Value>, Vec<u16>) {
        let mut ids = Vec::new();
        let mut statuses = Vec::new();
        for page in 1.. {
            let r = fetch(s, &format!("{path}?page={page}&limit=100")).await;
            statuses.push(r.status);
            if r.status == 400 {
                assert_eq!(r.json()["status"], "error");
                break;
            }
            assert_eq!(r.status, 200, "{path}");
            let v = r.json();
            assert_eq!(v["status"], "success");
            let data = v["data"].as_array().expect("data").clone();
            ids.extend(data.iter().map(|d| d["id"].clone()));
            if data.len() < 100 {
                break;
            }
        }
        (ids, statuses)
    }

    #[tokio::test]
    async fn wrong_credentials_get_401_json() {
        let s = start(MockOptions::default()).await;
        for auth in [None, Some(basic(PABBLY_USERNAME, "nope"))] {
            let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            let r = get(s.addr, "/api/v1/customers", &h).await;
            assert_eq!(r.status, 401);
            assert_eq!(r.json()["status"], "error");
        }
    }

    #[tokio::test]
    async fn parents_and_children_page_to_exactly_the_expected_ids() {
        let s = start(MockOptions {
            records: 120,
            ..MockOptions::default()
        })
        .await;
        let expected = s.expected();
        for top in [
            "customers",
            "subscriptions",
            "products",
            "invoices",
            "multiplans",
            "payment_gateways",
        ] {
            let res = &expected.resources[top];
            let path = res.path.strip_prefix(BASE_PATH).expect("prefix");
            let (ids, statuses) = walk(&s, path).await;
            assert_eq!(&ids, &res.keys, "{top}");
            assert!(statuses.iter().all(|s| *s == 200));
        }
        assert_eq!(expected.count("payment_gateways"), 4);
        let products = expected.resources["products"].keys.clone();
        let customers = expected.resources["customers"].keys.clone();
        let mut saw_400 = false;
        for kind in Kind::ALL.into_iter().filter(|k| k.parent().is_some()) {
            let parents = if kind.parent() == Some(Parent::Product) {
                &products
            } else {
                &customers
            };
            let mut ids = Vec::new();
            for pid in parents {
                let pid = pid.as_str().expect("string id");
                let path = kind
                    .path()
                    .replace("{product_id}", pid)
                    .replace("{customer_id}", pid);
                let (got, statuses) = walk(&s, &path).await;
                if statuses.contains(&400) {
                    saw_400 = true;
                }
                ids.extend(got);
            }
            assert_eq!(
                &ids,
                &expected.resources[kind.resource()].keys,
                "{}",
                kind.resource()
            );
            assert!(ids.len() > MANY_CHILDREN, "{}", kind.resource());
        }
        assert!(saw_400, "some parents have no children");
    }

    #[tokio::test]
    async fn empty_child_pages_answer_400_with_a_message() {
        let s = start(MockOptions {
            records: 50,
            ..MockOptions::default()
        })
        .await;
        let e = s.expected();
        let customers = &e.resources["customers"].keys;
        let mut empty = None;
        for (p, id) in customers.iter().enumerate() {
            if Pabbly::new(&MockOptions {
                records: 50,
                ..MockOptions::default()
            })
            .child_count(Kind::Transactions, p)
                == 0
            {
                empty = id.as_str().map(str::to_owned);
                break;
            }
        }
        let id = empty.expect("a customer without transactions");
        let r = fetch(&s, &format!("/transactions/{id}?page=1&limit=100")).await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json(),
            json!({"status": "error", "message": "No transaction found"})
        );
        let many = customers[1].as_str().expect("id");
        let r2 = fetch(&s, &format!("/refund/{many}?page=2&limit=100")).await;
        assert_eq!(
            r2.json()["data"].as_array().map(Vec::len),
            Some(MANY_CHILDREN - 100)
        );
        let r3 = fetch(&s, &format!("/refund/{many}?page=3&limit=100")).await;
        assert_eq!(r3.status, 400, "a page past the end is empty, hence 400");
        assert_eq!(r3.json()["message"], "No refund found");
        let bogus = fetch(&s, "/addons/000000000000000000000000").await;
        assert_eq!(bogus.status, 400);
        let top_past = fetch(&s, "/customers?page=99").await;
        assert_eq!(top_past.status, 200);
        assert_eq!(top_past.json()["data"], json!([]));
        assert_eq!(fetch(&s, "/nope").await.status, 404);
    }

    #[tokio::test]
    async fn faults_apply_to_child_endpoints_deterministically() {
        let opts = MockOptions {
            records: 10,
            faults: Faults {
                server_error_every: Some(2),
                ..Faults::default()
            },
            ..MockOptions::default()
        };
        let s = start(opts).await;
        let pid = s.expected().resources["products"].keys[1]
            .as_str()
            .expect("id")
            .to_owned();
        let mut statuses = Vec::new();
        for page in 1..=2 {
            loop {
                let r = fetch(&s, &format!("/addons/{pid}?page={page}&limit=100")).await;
                statuses.push(r.status);
                if r.status != 500 {
                    break;
                }
            }
        }
        assert_eq!(statuses, vec![200, 500, 200]);
        assert_eq!(s.stats().served("addons"), MANY_CHILDREN as u64);
    }
}
