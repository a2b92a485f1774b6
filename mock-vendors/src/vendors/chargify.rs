//! Chargify / Maxio Advanced Billing (seed 000): Basic auth with the API key
//! as user and `x` as password, `page`/`per_page` lists of wrapper objects.
//!
//! Real API behaviour imitated here:
//! - `GET /customers.json`, `/subscriptions.json`, `/coupons.json`,
//!   `/transactions.json` answer a top-level array of wrapper objects,
//!   `[{"customer": {...}}, ...]`; `GET /invoices.json` answers
//!   `{"invoices": [...]}` keyed by the string `uid`. The `.json` suffix is
//!   optional (Rails format negotiation), so the seed's `/invoices` works.
//! - `page` counts from 1; `page` < 1 or unparsable is page 1 (so dlt's
//!   default `base_page` 0 fetches page 1 twice: merge dedupes it). `per_page`
//!   defaults to 20 and is clamped to 200. Past the last page: `[]` (or
//!   `{"invoices": []}`), so "stop on an empty page" ends exactly.
//! - `sort`, `direction`, `date_field`, `start_datetime`, ... are accepted and
//!   ignored (records are always in id order).
//!
//! Seed quirks (the config as written disagrees with the real API):
//! - `transactions` uses path `/transaction`: no such route exists at Maxio,
//!   so the mock answers 404 `{"errors": ["Not Found"]}` as Rails does.
//! - `invoices` says `data_selector: "invoices.json"` (the key is
//!   `invoices`) and inherits `primary_key: "id"` (invoices have `uid`).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::cache::{RECORDS, RecordCache, join, splice};
use crate::credentials::{CHARGIFY_API_KEY, CHARGIFY_PASSWORD};
use crate::datagen::{
    DAY, EPOCH_2023, LOWER_ALNUM, ORGANIZATIONS, PLACES, Person, Rng, Ts, decimal_short, phone,
};
use crate::http::{self, Req, page_range, parse_int};
use crate::options::MockOptions;
use crate::server::App;
use crate::stats::Expected;
use crate::vendors::Api;

/// `per_page` when none is given.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// Largest `per_page`; larger values are clamped.
pub const MAX_PER_PAGE: i64 = 200;
/// Maxio sites answer in the site's zone; ours is US Eastern (UTC-5).
const ZONE_MINUTES: i64 = -300;
/// Days of history the generated records span.
const HISTORY_DAYS: i64 = 730;

/// The five list resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Customers,
    Subscriptions,
    Coupons,
    Transactions,
    Invoices,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Customers,
        Kind::Subscriptions,
        Kind::Invoices,
        Kind::Coupons,
        Kind::Transactions,
    ];

    /// Resource name in the seed config.
    fn name(self) -> &'static str {
        match self {
            Kind::Customers => "customers",
            Kind::Subscriptions => "subscriptions",
            Kind::Coupons => "coupons",
            Kind::Transactions => "transactions",
            Kind::Invoices => "invoices",
        }
    }

    /// Key of the wrapper object around each record (`None`: invoices).
    fn wrapper(self) -> Option<&'static str> {
        match self {
            Kind::Customers => Some("customer"),
            Kind::Subscriptions => Some("subscription"),
            Kind::Coupons => Some("coupon"),
            Kind::Transactions => Some("transaction"),
            Kind::Invoices => None,
        }
    }

    fn from_path(path: &str) -> Option<Kind> {
        // `/transaction` (the seed's path) deliberately matches nothing.
        let stem = path.strip_suffix(".json").unwrap_or(path);
        let stem = stem.strip_suffix('/').unwrap_or(stem);
        Kind::ALL
            .into_iter()
            .find(|k| stem.strip_prefix('/') == Some(k.name()))
    }
}

/// The Chargify mock's data: a pure function of seed and record count.
pub struct Chargify {
    seed: u64,
    n: usize,
    /// Serialized records per kind, indexed by `Kind as usize`.
    cache: [RecordCache; 5],
}

/// A small product catalogue shared by subscriptions and invoices.
const PRODUCTS: &[(&str, &str, i64, &str)] = &[
    ("Basic", "basic", 1900, "month"),
    ("Pro", "pro", 4900, "month"),
    ("Business", "business", 14900, "month"),
    ("Pro (annual)", "pro-annual", 49900, "year"),
    ("Enterprise", "enterprise", 99900, "month"),
    ("Starter — Ünicode Edition", "starter", 900, "month"),
];

impl Chargify {
    /// Data for `opts.records` records per resource.
    pub fn new(opts: &MockOptions) -> Self {
        Self {
            seed: opts.seed,
            n: opts.records,
            cache: std::array::from_fn(|_| RecordCache::new(opts.records)),
        }
    }

    fn rng(&self, stream: &str, i: usize) -> Rng {
        Rng::new(self.seed, stream, i as u64)
    }

    /// Increasing, gapped integer ids: `base + 4i + r`, `r < 4`.
    fn int_id(&self, stream: &str, base: i64, i: usize) -> i64 {
        base + 4 * i as i64 + self.rng(stream, i).below(4) as i64
    }

    /// A time in the history, increasing with `i`.
    fn created(&self, r: &mut Rng, i: usize) -> Ts {
        let slot = HISTORY_DAYS * DAY / self.n.max(1) as i64;
        EPOCH_2023.plus(slot * i as i64 + r.between(0, slot.max(1) - 1))
    }

    fn customer_id(&self, i: usize) -> i64 {
        self.int_id("chargify.customer.id", 40_100_000, i)
    }

    fn subscription_id(&self, i: usize) -> i64 {
        self.int_id("chargify.subscription.id", 61_300_000, i)
    }

    fn coupon_id(&self, i: usize) -> i64 {
        self.int_id("chargify.coupon.id", 1_500_000, i)
    }

    fn transaction_id(&self, i: usize) -> i64 {
        self.int_id("chargify.transaction.id", 912_000_000, i)
    }

    /// `inv_` + 13 characters, unique by construction (the index is in it).
    fn invoice_uid(&self, i: usize) -> String {
        let mut r = self.rng("chargify.invoice.uid", i);
        format!("inv_{}{}", r.chars(LOWER_ALNUM, 8), base36(i as u64, 5))
    }

    /// Which customer subscription `i` belongs to.
    fn subscription_customer(&self, i: usize) -> usize {
        self.rng("chargify.subscription.customer", i)
            .below(self.n.max(1) as u64) as usize
    }

    fn customer(&self, i: usize) -> Value {
        let mut r = self.rng("chargify.customer", i);
        let p = Person::draw(&mut r, i as u64, "example.com");
        let place = r.pick(PLACES);
        let created = self.created(&mut r, i);
        let updated = created.plus(r.between(0, 120 * DAY));
        let portal = r.percent(40);
        json!({
            "id": self.customer_id(i),
            "first_name": p.first,
            "last_name": p.last,
            "email": p.email,
            "cc_emails": if r.percent(20) { json!(format!("billing{i}@example.org")) } else { Value::Null },
            "organization": if r.percent(60) { json!(r.pick(ORGANIZATIONS)) } else { Value::Null },
            "reference": if r.percent(70) { json!(format!("cust-{:06}", i + 1)) } else { Value::Null },
            "created_at": created.iso_offset(ZONE_MINUTES),
            "updated_at": updated.iso_offset(ZONE_MINUTES),
            "address": place.street,
            "address_2": if r.percent(25) { json!(format!("Suite {}", r.between(1, 900))) } else { Value::Null },
            "city": place.city,
            "state": place.state,
            "state_name": Value::Null,
            "zip": place.zip,
            "country": place.country,
            "country_name": Value::Null,
            "phone": phone(&mut r),
            "verified": r.percent(50),
            "portal_customer_created_at": if portal { json!(created.plus(3600).iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "portal_invite_last_sent_at": if portal { json!(created.plus(7200).iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "portal_invite_last_accepted_at": Value::Null,
            "tax_exempt": r.percent(10),
            "vat_number": if place.country == "DE" && r.percent(50) { json!(format!("DE{}", r.between(100_000_000, 999_999_999))) } else { Value::Null },
            "parent_id": Value::Null,
            "locale": if r.percent(30) { json!(r.pick(&["fr-FR", "de-DE", "es-ES", "ja-JP"])) } else { Value::Null },
            "default_subscription_group_uid": Value::Null,
            "salesforce_id": Value::Null,
            "tax_exempt_reason": Value::Null,
            "default_auto_renewal_profile_id": Value::Null,
        })
    }

    fn product(&self, k: usize) -> Value {
        let (name, handle, price, unit) = PRODUCTS[k % PRODUCTS.len()];
        let family = k % 2;
        json!({
            "id": 5_100_001 + k as i64,
            "name": name,
            "handle": handle,
            "description": format!("{name} plan"),
            "accounting_code": Value::Null,
            "request_credit_card": true,
            "expiration_interval": Value::Null,
            "expiration_interval_unit": "never",
            "created_at": EPOCH_2023.iso_offset(ZONE_MINUTES),
            "updated_at": EPOCH_2023.plus(30 * DAY).iso_offset(ZONE_MINUTES),
            "price_in_cents": price,
            "interval": 1,
            "interval_unit": unit,
            "initial_charge_in_cents": Value::Null,
            "trial_price_in_cents": if k == 1 { json!(0) } else { Value::Null },
            "trial_interval": if k == 1 { json!(14) } else { Value::Null },
            "trial_interval_unit": if k == 1 { json!("day") } else { Value::Null },
            "archived_at": Value::Null,
            "require_credit_card": true,
            "return_params": "",
            "taxable": k.is_multiple_of(3),
            "update_return_url": "",
            "tax_code": "",
            "initial_charge_after_trial": false,
            "version_number": 1,
            "update_return_params": "",
            "default_product_price_point_id": 2_000_001 + k as i64,
            "request_billing_address": false,
            "require_billing_address": false,
            "require_shipping_address": false,
            "product_price_point_id": 2_000_001 + k as i64,
            "product_price_point_name": "Original",
            "product_price_point_handle": format!("uuid:{handle}-original"),
            "product_family": {
                "id": 1_200_001 + family as i64,
                "name": (["Billing Plans", "Add-ons & Extras"][family]),
                "description": Value::Null,
                "handle": (["billing-plans", "add-ons"][family]),
                "accounting_code": Value::Null,
                "created_at": EPOCH_2023.iso_offset(ZONE_MINUTES),
                "updated_at": EPOCH_2023.iso_offset(ZONE_MINUTES),
            },
            "public_signup_pages": [
                { "id": 300_001 + k as i64, "return_url": Value::Null, "return_params": "", "url": format!("https://demo.chargify.example/subscribe/{handle}") }
            ],
        })
    }

    fn subscription(&self, i: usize) -> Value {
        let mut r = self.rng("chargify.subscription", i);
        let ci = self.subscription_customer(i);
        let customer = self.customer(ci);
        let k = r.below(PRODUCTS.len() as u64) as usize;
        let (_, _, price, unit) = PRODUCTS[k];
        let created = self.created(&mut r, i);
        let updated = created.plus(r.between(0, 200 * DAY));
        let state = *r.pick(&[
            "active", "active", "active", "active", "canceled", "trialing", "past_due", "expired",
        ]);
        let period = if unit == "year" { 365 * DAY } else { 30 * DAY };
        let period_start = created.plus(period * r.between(0, 6));
        let remittance = r.percent(15);
        let canceled = state == "canceled" || state == "expired";
        let coupon = r.percent(20).then(|| format!("SAVE{}", r.between(5, 30)));
        let revenue = price * r.between(1, 24);
        let credit_card = if remittance {
            Value::Null
        } else {
            let holder = &customer;
            json!({
                "id": 70_000_000 + i as i64,
                "first_name": holder["first_name"],
                "last_name": holder["last_name"],
                "masked_card_number": format!("XXXX-XXXX-XXXX-{:04}", r.below(10_000)),
                "card_type": r.pick(&["visa", "master", "american_express", "discover"]),
                "expiration_month": r.between(1, 12),
                "expiration_year": r.between(2025, 2031),
                "customer_id": holder["id"],
                "current_vault": "stripe_connect",
                "vault_token": format!("cus_{}", r.chars(LOWER_ALNUM, 14)),
                "billing_address": holder["address"],
                "billing_city": holder["city"],
                "billing_state": holder["state"],
                "billing_zip": holder["zip"],
                "billing_country": holder["country"],
                "customer_vault_token": Value::Null,
                "billing_address_2": Value::Null,
                "payment_type": "credit_card",
                "disabled": false,
                "site_gateway_setting_id": Value::Null,
                "gateway_handle": Value::Null,
            })
        };
        json!({
            "id": self.subscription_id(i),
            "state": state,
            "trial_started_at": if state == "trialing" { json!(created.iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "trial_ended_at": Value::Null,
            "activated_at": if state == "trialing" { Value::Null } else { json!(created.iso_offset(ZONE_MINUTES)) },
            "created_at": created.iso_offset(ZONE_MINUTES),
            "updated_at": updated.iso_offset(ZONE_MINUTES),
            "expires_at": Value::Null,
            "balance_in_cents": if state == "past_due" { price } else { 0 },
            "current_period_ends_at": period_start.plus(period).iso_offset(ZONE_MINUTES),
            "next_assessment_at": if canceled { Value::Null } else { json!(period_start.plus(period).iso_offset(ZONE_MINUTES)) },
            "canceled_at": if canceled { json!(updated.iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "cancellation_message": if canceled && r.percent(50) { json!("Zu teuer — too expensive") } else { Value::Null },
            "next_product_id": Value::Null,
            "next_product_handle": Value::Null,
            "cancel_at_end_of_period": r.percent(10),
            "payment_collection_method": if remittance { "remittance" } else { "automatic" },
            "snap_day": Value::Null,
            "cancellation_method": if canceled { json!("merchant_ui") } else { Value::Null },
            "current_period_started_at": period_start.iso_offset(ZONE_MINUTES),
            "previous_state": state,
            "signup_payment_id": 800_000_000 + i as i64,
            "signup_revenue": decimal_short(price),
            "delayed_cancel_at": Value::Null,
            "coupon_code": coupon.clone(),
            "coupon_codes": coupon.map_or_else(Vec::new, |c| vec![c]),
            "total_revenue_in_cents": revenue,
            "product_price_in_cents": price,
            "product_version_number": 1,
            "payment_type": if remittance { Value::Null } else { json!("credit_card") },
            "referral_code": Value::Null,
            "coupon_use_count": Value::Null,
            "coupon_uses_allowed": Value::Null,
            "reason_code": Value::Null,
            "automatically_resume_at": Value::Null,
            "offer_id": Value::Null,
            "payer_id": Value::Null,
            "receives_invoice_emails": Value::Null,
            "product_price_point_id": 2_000_001 + k as i64,
            "next_product_price_point_id": Value::Null,
            "credit_balance_in_cents": 0,
            "prepayment_balance_in_cents": 0,
            "net_terms": Value::Null,
            "stored_credential_transaction_id": Value::Null,
            "locale": Value::Null,
            "reference": Value::Null,
            "currency": "USD",
            "on_hold_at": Value::Null,
            "scheduled_cancellation_at": Value::Null,
            "customer": customer,
            "product": self.product(k),
            "credit_card": credit_card,
            "group": Value::Null,
            "bank_account": Value::Null,
            "prepaid_dunning": false,
            "dunning_communication_delay_enabled": false,
            "dunning_communication_delay_time_zone": Value::Null,
        })
    }

    fn coupon(&self, i: usize) -> Value {
        let mut r = self.rng("chargify.coupon", i);
        let percent = r.percent(50);
        let created = self.created(&mut r, i);
        let family = r.below(2) as i64;
        let restrictions: Vec<Value> = (0..r.below(3))
            .map(|j| {
                json!({
                    "id": 90_000 + 3 * i as i64 + j as i64,
                    "item_type": if j == 0 { "Product" } else { "Component" },
                    "item_id": 5_100_001 + j as i64,
                    "name": PRODUCTS[j as usize].0,
                    "handle": PRODUCTS[j as usize].1,
                })
            })
            .collect();
        let code = format!(
            "{}{}",
            r.pick(&["SAVE", "WELCOME", "BLACKFRIDAY", "ÉTÉ"]),
            i
        );
        json!({
            "id": self.coupon_id(i),
            "name": format!("Coupon {code}"),
            "code": code,
            "description": if r.percent(70) { json!(format!("{} off for new customers", if percent { "10%" } else { "$5" })) } else { json!("") },
            "amount": if percent { Value::Null } else { json!(r.between(1, 50) as f64) },
            "amount_in_cents": if percent { Value::Null } else { json!(r.between(100, 5000)) },
            "product_family_id": 1_200_001 + family,
            "product_family_name": (["Billing Plans", "Add-ons & Extras"][family as usize]),
            "start_date": created.iso_offset(ZONE_MINUTES),
            "end_date": if r.percent(30) { json!(created.plus(90 * DAY).iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "percentage": if percent { json!(format!("{}.0", r.between(5, 50))) } else { Value::Null },
            "recurring": r.percent(40),
            "recurring_scheme": r.pick(&["do_not_recur", "recur_indefinitely", "recur_with_duration"]),
            "duration_period_count": if r.percent(30) { json!(r.between(1, 12)) } else { Value::Null },
            "duration_interval": Value::Null,
            "duration_interval_unit": Value::Null,
            "duration_interval_span": "",
            "allow_negative_balance": false,
            "archived_at": if r.percent(10) { json!(created.plus(200 * DAY).iso_offset(ZONE_MINUTES)) } else { Value::Null },
            "conversion_limit": if r.percent(20) { json!(r.between(10, 1000).to_string()) } else { Value::Null },
            "stackable": r.percent(50),
            "compounding_strategy": r.pick(&["compound", "full-price"]),
            "use_site_exchange_rate": true,
            "created_at": created.iso_offset(ZONE_MINUTES),
            "updated_at": created.plus(r.between(0, 30 * DAY)).iso_offset(ZONE_MINUTES),
            "discount_type": if percent { "percent" } else { "amount" },
            "exclude_mid_period_allocations": false,
            "apply_on_cancel_at_end_of_period": false,
            "apply_on_subscription_expiration": false,
            "coupon_restrictions": restrictions,
        })
    }

    fn transaction(&self, i: usize) -> Value {
        let mut r = self.rng("chargify.transaction", i);
        let si = r.below(self.n.max(1) as u64) as usize;
        let ci = self.subscription_customer(si);
        let kind = *r.pick(&[
            "charge",
            "payment",
            "payment",
            "adjustment",
            "refund",
            "credit",
        ]);
        let amount = r.between(500, 150_000);
        let start = r.between(-20_000, 20_000);
        let delta = if kind == "charge" { amount } else { -amount };
        let created = self.created(&mut r, i);
        let card = kind == "payment" || kind == "refund";
        let success = !card || r.percent(92);
        json!({
            "id": self.transaction_id(i),
            "transaction_type": kind,
            "amount_in_cents": amount,
            "created_at": created.iso_offset(ZONE_MINUTES),
            "starting_balance_in_cents": start,
            "ending_balance_in_cents": start + delta,
            "memo": match kind {
                "charge" => json!(format!("Pro plan: {}", created.date())),
                "refund" => json!("Rückerstattung / refund"),
                _ => if r.percent(30) { Value::Null } else { json!("") },
            },
            "subscription_id": self.subscription_id(si),
            "product_id": 5_100_001 + r.below(PRODUCTS.len() as u64) as i64,
            "success": success,
            "payment_id": if kind == "charge" { json!(912_000_000 + 4 * i as i64 + 1) } else { Value::Null },
            "kind": if kind == "charge" { json!("baseline") } else { Value::Null },
            "gateway_transaction_id": if card { json!(format!("ch_{}", r.chars(LOWER_ALNUM, 24))) } else { Value::Null },
            "gateway_used": if card { json!("stripe_connect") } else { Value::Null },
            "gateway_order_id": Value::Null,
            "card_number": if card { json!(format!("XXXX-XXXX-XXXX-{:04}", r.below(10_000))) } else { Value::Null },
            "card_expiration": if card { json!(format!("{:02}/{}", r.between(1, 12), r.between(2025, 2031))) } else { Value::Null },
            "card_type": if card { json!("visa") } else { Value::Null },
            "refunded_amount_in_cents": if kind == "refund" { amount } else { 0 },
            "customer_id": self.customer_id(ci),
            "statement_id": 3_000_000 + i as i64,
            "original_amount_in_cents": amount,
            "discount_amount_in_cents": 0,
            "taxable_amount_in_cents": 0,
            "tax_id": Value::Null,
            "component_id": Value::Null,
            "currency": "USD",
            "parent_id": Value::Null,
            "role": Value::Null,
            "period_range_start": created.date(),
            "period_range_end": created.plus(30 * DAY).date(),
            "item_name": Value::Null,
            "invoice_uids": [self.invoice_uid(i)],
        })
    }

    fn invoice(&self, i: usize) -> Value {
        let mut r = self.rng("chargify.invoice", i);
        let si = r.below(self.n.max(1) as u64) as usize;
        let ci = self.subscription_customer(si);
        let cust = self.customer(ci);
        let issued = self.created(&mut r, i);
        let status = *r.pick(&[
            "paid", "paid", "paid", "open", "draft", "voided", "canceled",
        ]);
        let mut subtotal = 0;
        let line_items: Vec<Value> = (0..r.between(1, 4))
            .map(|j| {
                let k = r.below(PRODUCTS.len() as u64) as usize;
                let (name, _, price, _) = PRODUCTS[k];
                let qty = r.between(1, 3);
                subtotal += price * qty;
                json!({
                    "uid": format!("li_{}{}{}", r.chars(LOWER_ALNUM, 8), base36(i as u64, 5), j),
                    "title": format!("{name} Plan"),
                    "description": format!("{} - {}", issued.date(), issued.plus(30 * DAY).date()),
                    "quantity": format!("{qty}.0"),
                    "unit_price": decimal_short(price),
                    "subtotal_amount": decimal_short(price * qty),
                    "discount_amount": "0.0",
                    "tax_amount": "0.0",
                    "total_amount": decimal_short(price * qty),
                    "tiered_unit_price": false,
                    "period_range_start": issued.date(),
                    "period_range_end": issued.plus(30 * DAY).date(),
                    "product_id": 5_100_001 + k as i64,
                    "product_version": 1,
                    "component_id": Value::Null,
                    "price_point_id": 2_000_001 + k as i64,
                    "hide": false,
                    "custom_item": false,
                    "kind": "baseline",
                })
            })
            .collect();
        let taxed = r.percent(30);
        let tax = if taxed { subtotal * 19 / 100 } else { 0 };
        let total = subtotal + tax;
        let paid = if status == "paid" { total } else { 0 };
        let taxes: Vec<Value> = if taxed {
            vec![json!({
                "uid": format!("tax_{}", r.chars(LOWER_ALNUM, 13)),
                "title": "MwSt. 19 %",
                "source_type": "Tax",
                "source_id": 4_001,
                "percentage": "19.0",
                "taxable_amount": decimal_short(subtotal),
                "tax_amount": decimal_short(tax),
                "line_item_breakouts": [],
            })]
        } else {
            Vec::new()
        };
        let payments: Vec<Value> = if status == "paid" {
            vec![json!({
                "transaction_time": issued.plus(3600).iso_z(),
                "memo": Value::Null,
                "original_amount": decimal_short(total),
                "applied_amount": decimal_short(total),
                "payment_method": {
                    "details": Value::Null,
                    "kind": "credit_card",
                    "memo": Value::Null,
                    "type": "credit_card",
                    "card_brand": "visa",
                    "card_expiration": "12/2027",
                    "last_four": Value::Null,
                    "masked_card_number": format!("XXXX-XXXX-XXXX-{:04}", r.below(10_000)),
                },
                "transaction_id": 912_000_000 + 4 * i as i64,
                "prepayment": false,
                "gateway_transaction_id": format!("ch_{}", r.chars(LOWER_ALNUM, 24)),
            })]
        } else {
            Vec::new()
        };
        let address = json!({
            "street": cust["address"],
            "line2": cust["address_2"],
            "city": cust["city"],
            "state": cust["state"],
            "zip": cust["zip"],
            "country": cust["country"],
        });
        let uid = self.invoice_uid(i);
        json!({
            "uid": uid,
            "site_id": 51_234,
            "customer_id": cust["id"],
            "subscription_id": self.subscription_id(si),
            "number": (1000 + i).to_string(),
            "sequence_number": 1000 + i,
            "transaction_time": issued.iso_z(),
            "created_at": issued.iso_z(),
            "updated_at": issued.plus(r.between(0, 10 * DAY)).iso_z(),
            "issue_date": issued.date(),
            "due_date": issued.plus(14 * DAY).date(),
            "paid_date": if status == "paid" { json!(issued.plus(DAY).date()) } else { Value::Null },
            "status": status,
            "role": r.pick(&["signup", "renewal", "renewal", "adhoc"]),
            "parent_invoice_id": Value::Null,
            "collection_method": "automatic",
            "payment_instructions": "Bitte überweisen Sie den Betrag / please pay within 14 days.",
            "currency": "USD",
            "consolidation_level": "none",
            "parent_invoice_uid": Value::Null,
            "subscription_group_id": Value::Null,
            "parent_invoice_number": Value::Null,
            "group_primary_subscription_id": Value::Null,
            "product_name": Value::Null,
            "product_family_name": "Billing Plans",
            "seller": {
                "name": "Demo SaaS Inc.",
                "address": { "street": "1 Market St", "line2": Value::Null, "city": "San Francisco", "state": "CA", "zip": "94105", "country": "US" },
                "phone": "+1 415 555 0100",
                "logo_url": Value::Null,
            },
            "customer": {
                "chargify_id": cust["id"],
                "first_name": cust["first_name"],
                "last_name": cust["last_name"],
                "organization": cust["organization"],
                "email": cust["email"],
                "vat_number": cust["vat_number"],
                "reference": cust["reference"],
            },
            "payer": {
                "chargify_id": cust["id"],
                "first_name": cust["first_name"],
                "last_name": cust["last_name"],
                "organization": cust["organization"],
                "email": cust["email"],
                "vat_number": cust["vat_number"],
            },
            "recipient_emails": [cust["email"]],
            "net_terms": 0,
            "memo": if r.percent(20) { json!("Danke für Ihren Einkauf! 🙏") } else { json!("") },
            "billing_address": address.clone(),
            "shipping_address": address,
            "subtotal_amount": decimal_short(subtotal),
            "discount_amount": "0.0",
            "tax_amount": decimal_short(tax),
            "total_amount": decimal_short(total),
            "credit_amount": "0.0",
            "debit_amount": "0.0",
            "refund_amount": "0.0",
            "paid_amount": decimal_short(paid),
            "due_amount": decimal_short(total - paid),
            "line_items": line_items,
            "discounts": [],
            "taxes": taxes,
            "credits": [],
            "debits": [],
            "refunds": [],
            "payments": payments,
            "custom_fields": [],
            "display_settings": { "hide_zero_subtotal_lines": false, "include_discounts_on_lines": false },
            "avatax_document_code": Value::Null,
            "public_url": format!("https://www.chargifypay.example/invoice/{uid}"),
            "previous_balance_data": { "captured_at": issued.iso_z(), "invoices": [] },
            "public_url_expires_on": Value::Null,
        })
    }

    fn record(&self, kind: Kind, i: usize) -> Value {
        match kind {
            Kind::Customers => self.customer(i),
            Kind::Subscriptions => self.subscription(i),
            Kind::Coupons => self.coupon(i),
            Kind::Transactions => self.transaction(i),
            Kind::Invoices => self.invoice(i),
        }
    }

    fn key(&self, kind: Kind, i: usize) -> Value {
        match kind {
            Kind::Customers => json!(self.customer_id(i)),
            Kind::Subscriptions => json!(self.subscription_id(i)),
            Kind::Coupons => json!(self.coupon_id(i)),
            Kind::Transactions => json!(self.transaction_id(i)),
            Kind::Invoices => json!(self.invoice_uid(i)),
        }
    }
}

/// `n` in base 36, left-padded with zeros to `width`.
fn base36(mut n: u64, width: usize) -> String {
    let mut out = Vec::new();
    while n > 0 || out.is_empty() {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found() -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"errors": ["Not Found"]}))
}

impl Api for Chargify {
    fn expected(&self) -> Expected {
        let mut e = Expected::default();
        for kind in Kind::ALL {
            let pk = if kind == Kind::Invoices { "uid" } else { "id" };
            let keys = (0..self.n).map(|i| self.key(kind, i)).collect();
            e.add(kind.name(), &format!("/{}.json", kind.name()), pk, keys);
        }
        e
    }

    fn handle(&self, app: &App, req: &Req) -> Response {
        // The password is checked too: Maxio documents it as always `x`.
        if !req.basic_is(CHARGIFY_API_KEY, CHARGIFY_PASSWORD) {
            app.auth_failed();
            let resp = http::json(
                StatusCode::UNAUTHORIZED,
                &json!({"errors": ["HTTP Basic: Access denied."]}),
            );
            return http::with_header(resp, "www-authenticate", "Basic realm=\"Application\"");
        }
        // Unknown routes, including the seed's `/transaction`, are 404 as in Rails.
        let Some(kind) = Kind::from_path(&req.path) else {
            return not_found();
        };
        if req.method != Method::GET {
            return not_found();
        }
        let ticket = match app.admit(req) {
            Ok(t) => t,
            Err(faulted) => return *faulted,
        };
        let page = req.param("page").and_then(parse_int).unwrap_or(1).max(1);
        let per_page = match req.param("per_page").and_then(parse_int) {
            Some(p) if p >= 1 => p.min(MAX_PER_PAGE),
            _ => DEFAULT_PER_PAGE,
        };
        let range = page_range(self.n, page as u64, per_page as u64);
        let count = range.len();
        let cache = &self.cache[kind as usize];
        let records = range.map(|i| cache.get(i, || self.record(kind, i)));
        let body = match kind.wrapper() {
            Some(w) => join(records, Some(w)),
            None => splice(&json!({ "invoices": RECORDS }), &join(records, None)),
        };
        app.serve(ticket, kind.name(), count, body)
    }

    fn warm(&self) {
        std::thread::scope(|scope| {
            for kind in Kind::ALL {
                scope.spawn(move || self.cache[kind as usize].warm(|i| self.record(kind, i)));
            }
        });
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Value {
        let _ = status;
        json!({ "errors": [message] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Resp, basic, get};
    use crate::{Faults, MockServer, Vendor, serve};

    fn auth() -> String {
        basic(CHARGIFY_API_KEY, CHARGIFY_PASSWORD)
    }

    async fn start(opts: MockOptions) -> MockServer {
        serve(Vendor::Chargify, opts).await.expect("mock starts")
    }

    async fn fetch(s: &MockServer, target: &str) -> Resp {
        get(s.addr, target, &[("Authorization", &auth())]).await
    }

    /// Records of one page, unwrapped.
    fn records(path: &str, body: &Value) -> Vec<Value> {
        if path.starts_with("/invoices") {
            body["invoices"].as_array().expect("invoices array").clone()
        } else {
            let wrapper = Kind::from_path(path)
                .and_then(Kind::wrapper)
                .expect("wrapper");
            body.as_array()
                .expect("top-level array")
                .iter()
                .map(|w| w[wrapper].clone())
                .collect()
        }
    }

    /// Walks `path` page by page as a client should (stop on `[]`), retrying
    /// anything that is not a 200 with JSON; returns the keys and the statuses seen.
    async fn walk(s: &MockServer, path: &str, pk: &str, per_page: usize) -> (Vec<Value>, Vec<u16>) {
        let mut keys = Vec::new();
        let mut statuses = Vec::new();
        for page in 1.. {
            let target = format!("{path}?page={page}&per_page={per_page}");
            let body = loop {
                match crate::testutil::send(
                    s.addr,
                    "GET",
                    &target,
                    &[("Authorization", &auth())],
                    b"",
                )
                .await
                {
                    Ok(r) => {
                        statuses.push(r.status);
                        if r.status == 200
                            && let Ok(v) = serde_json::from_slice::<Value>(&r.body)
                        {
                            break v;
                        }
                    }
                    Err(_) => statuses.push(0),
                }
            };
            let recs = records(path, &body);
            if recs.is_empty() {
                break;
            }
            keys.extend(recs.iter().map(|r| r[pk].clone()));
        }
        (keys, statuses)
    }

    #[tokio::test]
    async fn missing_or_wrong_credentials_get_401_json() {
        let s = start(MockOptions::default()).await;
        for headers in [
            vec![],
            vec![("Authorization", basic("wrong", "x"))],
            vec![("Authorization", basic(CHARGIFY_API_KEY, "not-x"))],
            vec![("Authorization", format!("Bearer {CHARGIFY_API_KEY}"))],
        ] {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = get(s.addr, "/customers.json", &h).await;
            assert_eq!(r.status, 401);
            assert_eq!(r.json()["errors"][0], "HTTP Basic: Access denied.");
            assert!(r.header("www-authenticate").is_some());
        }
        let st = s.stats();
        assert_eq!(st.auth_failures, 4);
        assert_eq!(st.data_requests, 0);
        assert_eq!(fetch(&s, "/customers.json").await.status, 200);
    }

    #[tokio::test]
    async fn every_resource_paginates_to_exactly_the_expected_keys() {
        let s = start(MockOptions::default()).await;
        let expected = s.expected();
        assert_eq!(expected.resources.len(), 5);
        for (name, res) in &expected.resources {
            assert_eq!(res.keys.len(), crate::DEFAULT_RECORDS, "{name}");
            let (keys, statuses) = walk(&s, &res.path, &res.primary_key, 200).await;
            assert_eq!(&keys, &res.keys, "{name}");
            // 450 records at 200 per page: 200, 200, 50, then [].
            assert_eq!(statuses, vec![200; 4], "{name}");
            assert_eq!(s.stats().served(name), 450, "{name}");
        }
        let unique: std::collections::HashSet<String> =
            expected.key_strings("invoices").into_iter().collect();
        assert_eq!(unique.len(), 450);
        assert!(expected.key_strings("invoices")[0].starts_with("inv_"));
    }

    #[tokio::test]
    async fn page_and_per_page_follow_maxio_rules() {
        let s = start(MockOptions::default()).await;
        let len = |r: &Resp| r.json().as_array().map_or(0, Vec::len);
        assert_eq!(len(&fetch(&s, "/customers.json").await), 20);
        assert_eq!(len(&fetch(&s, "/customers.json?per_page=1000").await), 200);
        assert_eq!(len(&fetch(&s, "/customers.json?per_page=0").await), 20);
        let first = fetch(&s, "/customers.json?page=1&per_page=5").await.json();
        for p in ["0", "-3", "abc"] {
            let r = fetch(&s, &format!("/customers.json?page={p}&per_page=5")).await;
            assert_eq!(r.json(), first, "page={p}");
        }
        let past = fetch(&s, "/customers.json?page=99&per_page=200").await;
        assert_eq!(past.status, 200);
        assert_eq!(past.json(), json!([]));
        let past = fetch(&s, "/invoices.json?page=99&per_page=200").await;
        assert_eq!(past.json(), json!({"invoices": []}));
        let ignored = fetch(
            &s,
            "/customers.json?page=1&per_page=5&sort=updated_at&direction=asc&date_field=updated_at&start_datetime=2023-01-01T00:00:00Z",
        )
        .await;
        assert_eq!(ignored.json(), first);
    }

    #[tokio::test]
    async fn seed_paths_as_written_behave_like_the_real_api() {
        let s = start(MockOptions::default()).await;
        let with = fetch(&s, "/invoices.json?page=2&per_page=7").await.json();
        let without = fetch(&s, "/invoices?page=2&per_page=7").await.json();
        assert_eq!(with, without);
        // The seed's `data_selector: "invoices.json"` selects nothing real: the key is `invoices`.
        assert!(with.get("invoices.json").is_none());
        assert_eq!(with["invoices"].as_array().map(Vec::len), Some(7));
        let wrong = fetch(&s, "/transaction?page=1&per_page=200").await;
        assert_eq!(wrong.status, 404);
        assert_eq!(wrong.json(), json!({"errors": ["Not Found"]}));
        assert_eq!(fetch(&s, "/transactions.json").await.status, 200);
    }

    #[tokio::test]
    async fn records_are_nested_and_realistic() {
        let s = start(MockOptions::default()).await;
        let subs = fetch(&s, "/subscriptions.json?per_page=200").await.json();
        let sub = &subs[0]["subscription"];
        assert!(sub["customer"]["id"].is_i64());
        assert!(sub["customer"]["email"].is_string());
        assert!(sub["product"]["product_family"]["handle"].is_string());
        let customers = fetch(&s, "/customers.json?per_page=200").await;
        let text = String::from_utf8_lossy(&customers.body).into_owned();
        assert!(text.contains("null"), "some values are null");
        assert!(!text.is_ascii(), "some names are not ASCII");
        let c = &customers.json()[0]["customer"];
        for field in [
            "id",
            "first_name",
            "last_name",
            "email",
            "organization",
            "reference",
            "created_at",
            "updated_at",
            "address",
            "city",
            "zip",
            "country",
            "verified",
        ] {
            assert!(c.get(field).is_some(), "customer.{field}");
        }
        assert!(c["verified"].is_boolean());
        let inv = fetch(&s, "/invoices.json?per_page=200").await.json();
        let inv0 = &inv["invoices"][0];
        assert!(inv0["uid"].as_str().is_some_and(|u| u.starts_with("inv_")));
        assert!(inv0["line_items"].as_array().is_some_and(|l| !l.is_empty()));
        assert!(inv0["line_items"][0]["uid"].is_string());
        assert!(inv0["customer"]["chargify_id"].is_i64());
    }

    #[tokio::test]
    async fn same_seed_same_bytes_other_seed_other_data() {
        let a = start(MockOptions::default()).await;
        let b = start(MockOptions::default()).await;
        let c = start(MockOptions {
            seed: 7,
            ..MockOptions::default()
        })
        .await;
        let target = "/subscriptions.json?page=2&per_page=50";
        let (ra, rb, rc) = (
            fetch(&a, target).await,
            fetch(&b, target).await,
            fetch(&c, target).await,
        );
        assert_eq!(ra.body, rb.body);
        assert_ne!(ra.body, rc.body);
        assert_eq!(a.expected(), b.expected());
    }

    #[tokio::test]
    async fn warm_cache_serves_the_same_bytes() {
        let cold = start(MockOptions::default()).await;
        let warm = start(MockOptions {
            warm_cache: true,
            ..MockOptions::default()
        })
        .await;
        for target in [
            "/subscriptions.json?page=3&per_page=100",
            "/invoices.json?per_page=200",
        ] {
            assert_eq!(
                fetch(&cold, target).await.body,
                fetch(&warm, target).await.body
            );
        }
    }

    #[tokio::test]
    async fn record_count_is_configurable() {
        let s = start(MockOptions {
            records: 3,
            ..MockOptions::default()
        })
        .await;
        let r = fetch(&s, "/coupons.json?per_page=200").await.json();
        assert_eq!(r.as_array().map(Vec::len), Some(3));
        assert_eq!(s.expected().count("coupons"), 3);
    }

    #[tokio::test]
    async fn injected_faults_are_deterministic_and_lose_nothing() {
        let faults = Faults {
            rate_limit_every: Some(3),
            retry_after_secs: 2,
            server_error_every: Some(4),
            ..Faults::default()
        };
        let opts = MockOptions {
            faults,
            ..MockOptions::default()
        };
        let mut runs = Vec::new();
        for _ in 0..2 {
            let s = start(opts.clone()).await;
            let (keys, statuses) = walk(&s, "/customers.json", "id", 50).await;
            assert_eq!(keys, s.expected().resources["customers"].keys);
            let st = s.stats();
            // 9 pages of 50 and one empty page. Request n is due a 429 when 3
            // divides n, else a 500 when 4 does; but the retry of a page that
            // was already faulted once succeeds (requests 4 and 9).
            assert_eq!(
                statuses,
                vec![
                    200, 200, 429, 200, 200, 429, 200, 500, 200, 200, 200, 429, 200, 200
                ]
            );
            assert_eq!(st.faults_injected.get("rate_limit"), Some(&3));
            assert_eq!(st.faults_injected.get("server_error"), Some(&1));
            assert_eq!(
                st.served("customers"),
                450,
                "faulted answers never count as served"
            );
            assert_eq!(st.status(429), 3);
            assert_eq!(st.data_requests, 14);
            runs.push(statuses);
        }
        assert_eq!(runs[0], runs[1]);
    }

    #[tokio::test]
    async fn rate_limit_sends_retry_after_in_seconds_or_as_a_date() {
        let s = start(MockOptions {
            faults: Faults {
                rate_limit_every: Some(1),
                retry_after_secs: 7,
                ..Faults::default()
            },
            ..MockOptions::default()
        })
        .await;
        let r = fetch(&s, "/customers.json").await;
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert!(r.json()["errors"].is_array());
        assert_eq!(
            fetch(&s, "/customers.json").await.status,
            200,
            "retry succeeds"
        );

        let s = start(MockOptions {
            faults: Faults {
                rate_limit_every: Some(1),
                retry_after_http_date: true,
                ..Faults::default()
            },
            ..MockOptions::default()
        })
        .await;
        let r = fetch(&s, "/customers.json").await;
        assert!(r.header("retry-after").is_some_and(|d| d.ends_with(" GMT")));
    }

    #[tokio::test]
    async fn body_faults_break_the_page_once() {
        for (faults, check) in [
            (
                Faults {
                    truncated_body_every: Some(1),
                    ..Faults::default()
                },
                "truncated",
            ),
            (
                Faults {
                    html_body_every: Some(1),
                    ..Faults::default()
                },
                "html",
            ),
            (
                Faults {
                    connection_reset_every: Some(1),
                    ..Faults::default()
                },
                "reset",
            ),
            (
                Faults {
                    server_error_every: Some(1),
                    server_error_status: 503,
                    ..Faults::default()
                },
                "503",
            ),
        ] {
            let s = start(MockOptions {
                faults,
                ..MockOptions::default()
            })
            .await;
            let target = "/coupons.json?page=1&per_page=200";
            let first =
                crate::testutil::send(s.addr, "GET", target, &[("Authorization", &auth())], b"")
                    .await;
            match check {
                "truncated" => {
                    let r = first.expect("complete response");
                    assert_eq!(r.status, 200);
                    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
                }
                "html" => {
                    let r = first.expect("complete response");
                    assert_eq!(r.status, 200);
                    assert!(
                        r.header("content-type")
                            .is_some_and(|c| c.starts_with("text/html"))
                    );
                }
                "reset" => assert!(first.is_err(), "connection aborted mid-body"),
                _ => assert_eq!(first.expect("complete response").status, 503),
            }
            let retry = fetch(&s, target).await;
            assert_eq!(retry.status, 200, "{check}");
            assert_eq!(retry.json().as_array().map(Vec::len), Some(200));
            let st = s.stats();
            assert_eq!(
                st.served("coupons"),
                200,
                "{check}: only the good answer counts"
            );
            assert_eq!(st.faults_total(), 1);
        }
    }

    #[tokio::test]
    async fn stats_endpoint_reports_counts_without_counting_itself() {
        let s = start(MockOptions::default()).await;
        fetch(&s, "/customers.json").await;
        get(s.addr, "/customers.json", &[]).await;
        let v = get(s.addr, "/__mock/stats", &[]).await.json();
        assert_eq!(v["requests_total"], 2);
        assert_eq!(v["by_status"]["200"], 1);
        assert_eq!(v["by_status"]["401"], 1);
        assert_eq!(v["by_path"]["/customers.json"], 2);
        let e = get(s.addr, "/__mock/expected", &[]).await.json();
        assert_eq!(e["resources"]["invoices"]["primary_key"], "uid");
        assert_eq!(s.stats().requests_total, 2);
    }

    #[tokio::test]
    async fn shutdown_stops_listening() {
        let s = start(MockOptions::default()).await;
        let addr = s.addr;
        s.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn non_loopback_bind_is_refused() {
        let opts = MockOptions {
            host: "0.0.0.0".parse().expect("ip"),
            ..MockOptions::default()
        };
        let err = serve(Vendor::Chargify, opts).await.err().expect("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn base36_pads() {
        assert_eq!(base36(0, 5), "00000");
        assert_eq!(base36(35, 3), "00z");
        assert_eq!(base36(36, 3), "010");
    }
}
