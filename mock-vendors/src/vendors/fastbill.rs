//! FastBill (seed 003): one RPC endpoint, `POST /api.php`, Basic auth with
//! the account e-mail as user and the API key as password.
//!
//! Real API behaviour imitated here:
//! - The JSON body names the call and its paging:
//!   `{"SERVICE": "invoice.get", "LIMIT": 100, "OFFSET": 200, "FILTER": {...}}`.
//!   `LIMIT`/`OFFSET` are read from the body only (query parameters are
//!   ignored); `LIMIT` defaults to 100 and is clamped to 1..=100, `OFFSET`
//!   defaults to 0. Numbers may be sent as numbers or numeric strings.
//! - Answer: `{"REQUEST": <the request echoed>, "RESPONSE": {"INVOICES": [...]}}`
//!   (`recurring.get` -> `INVOICES`, `article.get` -> `ARTICLES`,
//!   `revenue.get` -> `REVENUES`, `customer.get` -> `CUSTOMERS`). Ids are
//!   strings. Stop on a short or empty page.
//! - `FILTER` keys that name a top-level field of the records (e.g.
//!   `CUSTOMER_ID`, `INVOICE_NUMBER`) filter by equality; other keys (date
//!   ranges...) are accepted and ignored.
//! - A missing or unknown `SERVICE`, or a body that is not a JSON object,
//!   still answers HTTP 200, with `{"RESPONSE": {"ERRORS": [...]}}`.
//!
//! Seed quirks: the seed config as written sends its offset as a *query*
//! parameter (dlt's offset paginator default) and no JSON body at all, so no
//! `SERVICE`: the real API, and this mock, answer 200 with an `ERRORS` body
//! and no records. Its `primary_key: "id"` exists in no record (keys are
//! `INVOICE_ID`, `ARTICLE_ID`, `CUSTOMER_ID`).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::cache::{RECORDS, RecordCache, join, splice};
use crate::credentials::{FASTBILL_API_KEY, FASTBILL_EMAIL};
use crate::datagen::{
    DAY, EPOCH_2023, ORGANIZATIONS, PLACES, Person, Rng, Ts, UPPER_ALNUM, money, phone,
};
use crate::http::{self, Req};
use crate::options::MockOptions;
use crate::server::App;
use crate::stats::Expected;
use crate::vendors::Api;

/// Default and largest `LIMIT`.
pub const MAX_LIMIT: i64 = 100;
/// The only data path.
pub const PATH: &str = "/api.php";
/// Days of history the generated records span.
const HISTORY_DAYS: i64 = 730;

/// The five `*.get` services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Invoices,
    Recurring,
    Articles,
    Revenues,
    Customers,
}

impl Service {
    const ALL: [Service; 5] = [
        Service::Invoices,
        Service::Recurring,
        Service::Articles,
        Service::Revenues,
        Service::Customers,
    ];

    fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.service() == name)
    }

    /// `SERVICE` value.
    fn service(self) -> &'static str {
        match self {
            Service::Invoices => "invoice.get",
            Service::Recurring => "recurring.get",
            Service::Articles => "article.get",
            Service::Revenues => "revenue.get",
            Service::Customers => "customer.get",
        }
    }

    /// Resource name in the seed config.
    fn resource(self) -> &'static str {
        match self {
            Service::Invoices => "invoices",
            Service::Recurring => "recurring_invoices",
            Service::Articles => "products",
            Service::Revenues => "revenues",
            Service::Customers => "customers",
        }
    }

    /// Key of the list inside `RESPONSE`.
    fn list_key(self) -> &'static str {
        match self {
            Service::Invoices | Service::Recurring => "INVOICES",
            Service::Articles => "ARTICLES",
            Service::Revenues => "REVENUES",
            Service::Customers => "CUSTOMERS",
        }
    }

    fn primary_key(self) -> &'static str {
        match self {
            Service::Invoices | Service::Recurring | Service::Revenues => "INVOICE_ID",
            Service::Articles => "ARTICLE_ID",
            Service::Customers => "CUSTOMER_ID",
        }
    }
}

/// Articles every invoice item is drawn from.
const ARTICLES: &[(&str, &str, i64)] = &[
    ("Beratung (Stunde)", "Stunde", 12_000),
    ("Webhosting Paket S", "Monat", 990),
    ("Webhosting Paket L", "Monat", 2_990),
    ("Domain .de", "Jahr", 1_200),
    ("Wartungsvertrag", "Monat", 19_900),
    ("Schulung vor Ort — Tagessatz", "Tag", 95_000),
    ("SSL-Zertifikat", "Jahr", 4_900),
];

/// The FastBill mock's data.
pub struct FastBill {
    seed: u64,
    n: usize,
    /// Serialized records per service, indexed by `Service as usize`.
    cache: [RecordCache; 5],
}

impl FastBill {
    /// Data for `opts.records` records per service.
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

    fn id(&self, stream: &str, base: i64, i: usize) -> String {
        (base + 3 * i as i64 + self.rng(stream, i).below(3) as i64).to_string()
    }

    fn created(&self, r: &mut Rng, i: usize) -> Ts {
        let slot = HISTORY_DAYS * DAY / self.n.max(1) as i64;
        EPOCH_2023.plus(slot * i as i64 + r.between(0, slot.max(1) - 1))
    }

    fn key(&self, s: Service, i: usize) -> String {
        match s {
            Service::Invoices => self.id("fastbill.invoice.id", 100_000, i),
            Service::Recurring => self.id("fastbill.recurring.id", 500_000, i),
            Service::Revenues => self.id("fastbill.revenue.id", 800_000, i),
            Service::Articles => self.id("fastbill.article.id", 2_000, i),
            Service::Customers => self.id("fastbill.customer.id", 30_000, i),
        }
    }

    fn customer(&self, i: usize) -> Value {
        let mut r = self.rng("fastbill.customer", i);
        let p = Person::draw(&mut r, i as u64, "kunde.example");
        let place = r.pick(PLACES);
        let created = self.created(&mut r, i);
        let business = r.percent(60);
        let sepa = r.percent(40);
        json!({
            "CUSTOMER_ID": self.key(Service::Customers, i),
            "CUSTOMER_NUMBER": format!("K{:05}", i + 1),
            "DAYS_FOR_PAYMENT": r.pick(&["14", "30", "7"]),
            "CREATED": created.sql(),
            "PAYMENT_TYPE": if sepa { "2" } else { "1" },
            "BANK_NAME": if sepa { "Sparkasse Köln" } else { "" },
            "BANK_ACCOUNT_NUMBER": "",
            "BANK_CODE": "",
            "BANK_ACCOUNT_OWNER": if sepa { p.full() } else { String::new() },
            "BANK_IBAN": if sepa { format!("DE{:02}3705019800{:08}", r.below(100), r.below(100_000_000)) } else { String::new() },
            "BANK_BIC": if sepa { "COLSDE33" } else { "" },
            "BANK_ACCOUNT_MANDATE_REFERENCE": if sepa { format!("MANDAT-{:06}", i + 1) } else { String::new() },
            "SHOW_PAYMENT_NOTICE": "1",
            "CUSTOMER_ACCOUNT": "",
            "CUSTOMER_TYPE": if business { "business" } else { "consumer" },
            "TOP": if r.percent(10) { "1" } else { "0" },
            "NEWSLETTER_OPTIN": if r.percent(30) { "1" } else { "0" },
            "ORGANIZATION": if business { *r.pick(ORGANIZATIONS) } else { "" },
            "POSITION": "",
            "ACADEMIC_DEGREE": if r.percent(10) { "Dr." } else { "" },
            "SALUTATION": r.pick(&["mr", "mrs", "family", ""]),
            "FIRST_NAME": p.first,
            "LAST_NAME": p.last,
            "ADDRESS": place.street,
            "ADDRESS_2": if r.percent(20) { "Hinterhaus, 2. OG" } else { "" },
            "ZIPCODE": place.zip,
            "CITY": place.city,
            "COUNTRY_CODE": place.country,
            "SECONDARY_ADDRESS": "",
            "PHONE": phone(&mut r),
            "PHONE_2": "",
            "FAX": "",
            "MOBILE": if r.percent(50) { phone(&mut r) } else { String::new() },
            "EMAIL": p.email,
            "WEBSITE": if business { "https://www.example.com" } else { "" },
            "VAT_ID": if business && r.percent(60) { format!("DE{}", r.between(100_000_000, 999_999_999)) } else { String::new() },
            "CURRENCY_CODE": "EUR",
            "LASTUPDATE": created.plus(r.between(0, 90 * DAY)).sql(),
            "TAGS": if r.percent(30) { "wichtig,stammkunde" } else { "" },
            "DOCUMENT_HISTORY_URL": format!("https://my.fastbill.example/history/{}", r.chars(UPPER_ALNUM, 12)),
        })
    }

    /// `ITEMS` and `VAT_ITEMS` of one document, and its net/vat totals in cents.
    fn items(&self, r: &mut Rng, doc_id: &str) -> (Vec<Value>, Vec<Value>, i64, i64) {
        let mut net = 0;
        let mut vat = 0;
        let mut by_rate: Vec<(i64, i64, i64)> = Vec::new();
        let items = (0..r.between(1, 5))
            .map(|j| {
                let k = r.below(ARTICLES.len() as u64) as usize;
                let (title, _, price) = ARTICLES[k];
                let qty = r.between(1, 10);
                let rate = if r.percent(85) { 19 } else { 7 };
                let line_net = price * qty;
                let line_vat = line_net * rate / 100;
                net += line_net;
                vat += line_vat;
                match by_rate.iter_mut().find(|(p, ..)| *p == rate) {
                    Some(e) => {
                        e.1 += line_net;
                        e.2 += line_vat;
                    }
                    None => by_rate.push((rate, line_net, line_vat)),
                }
                json!({
                    "INVOICE_ITEM_ID": format!("{doc_id}{j:02}"),
                    "ARTICLE_NUMBER": format!("{}", 1000 + k),
                    "DESCRIPTION": title,
                    "QUANTITY": qty as f64,
                    "UNIT_PRICE": price as f64 / 100.0,
                    "VAT_PERCENT": rate as f64,
                    "VAT_VALUE": line_vat as f64 / 100.0,
                    "COMPLETE_NET": line_net as f64 / 100.0,
                    "COMPLETE_GROSS": (line_net + line_vat) as f64 / 100.0,
                    "CATEGORY": if r.percent(20) { json!("Dienstleistung") } else { Value::Null },
                    "CATEGORY_ID": if r.percent(20) { json!("4") } else { Value::Null },
                    "SORT_ORDER": j + 1,
                })
            })
            .collect();
        let vat_items = by_rate
            .into_iter()
            .map(|(rate, n, v)| {
                json!({
                    "VAT_PERCENT": rate as f64,
                    "COMPLETE_NET": n as f64 / 100.0,
                    "VAT_VALUE": v as f64 / 100.0,
                })
            })
            .collect();
        (items, vat_items, net, vat)
    }

    fn invoice(&self, s: Service, i: usize) -> Value {
        let stream = match s {
            Service::Recurring => "fastbill.recurring",
            Service::Revenues => "fastbill.revenue",
            _ => "fastbill.invoice",
        };
        let mut r = self.rng(stream, i);
        let id = self.key(s, i);
        let ci = r.below(self.n.max(1) as u64) as usize;
        let cust = self.customer(ci);
        let date = self.created(&mut r, i);
        let (items, vat_items, net, vat) = self.items(&mut r, &id);
        let paid = s == Service::Revenues || r.percent(70);
        let canceled = s == Service::Invoices && r.percent(5);
        let payments: Vec<Value> = if paid && s != Service::Recurring {
            vec![json!({
                "PAYMENT_ID": format!("{}", 7_000_000 + i),
                "DATE": date.plus(5 * DAY).sql(),
                "AMOUNT": (net + vat) as f64 / 100.0,
                "CURRENCY_CODE": "EUR",
                "NOTE": "Überweisung",
                "TYPE": r.pick(&["1", "2", "3"]),
            })]
        } else {
            Vec::new()
        };
        let mut v = json!({
            "INVOICE_ID": id,
            "TYPE": "outgoing",
            "CUSTOMER_ID": cust["CUSTOMER_ID"],
            "CUSTOMER_NUMBER": cust["CUSTOMER_NUMBER"],
            "CUSTOMER_COSTCENTER_ID": "0",
            "CONTACT_ID": "0",
            "PROJECT_ID": "0",
            "CURRENCY_CODE": "EUR",
            "DELIVERY_DATE": date.date(),
            "INVOICE_TITLE": if r.percent(30) { json!(format!("Rechnung für {}", date.date())) } else { json!("") },
            "CASH_DISCOUNT_PERCENT": "0",
            "CASH_DISCOUNT_DAYS": "0",
            "SUB_TOTAL": net as f64 / 100.0,
            "VAT_TOTAL": vat as f64 / 100.0,
            "VAT_CASE": "standard",
            "VAT_ITEMS": vat_items,
            "ITEMS": items,
            "TOTAL": (net + vat) as f64 / 100.0,
            "ORGANIZATION": cust["ORGANIZATION"],
            "NOTE": if r.percent(20) { "Vielen Dank für Ihren Auftrag!" } else { "" },
            "SALUTATION": cust["SALUTATION"],
            "FIRST_NAME": cust["FIRST_NAME"],
            "LAST_NAME": cust["LAST_NAME"],
            "ADDRESS": cust["ADDRESS"],
            "ADDRESS_2": cust["ADDRESS_2"],
            "ZIPCODE": cust["ZIPCODE"],
            "CITY": cust["CITY"],
            "SERVICE_PERIOD_START": date.date(),
            "SERVICE_PERIOD_END": date.plus(30 * DAY).date(),
            "PAYMENT_TYPE": cust["PAYMENT_TYPE"],
            "BANK_NAME": cust["BANK_NAME"],
            "BANK_IBAN": cust["BANK_IBAN"],
            "BANK_BIC": cust["BANK_BIC"],
            "VAT_ID": cust["VAT_ID"],
            "TEMPLATE_ID": "1",
            "INVOICE_NUMBER": format!("RE-{}-{:05}", &date.date()[..4], i + 1),
            "INTROTEXT": "",
            "PAID_DATE": if paid { date.plus(5 * DAY).sql() } else { "0000-00-00 00:00:00".to_owned() },
            "IS_CANCELED": if canceled { "1" } else { "0" },
            "INVOICE_DATE": date.date(),
            "DUE_DATE": date.plus(14 * DAY).sql(),
            "PAYMENT_INFO": "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
            "PAYMENTS": payments,
            "LASTUPDATE": date.plus(r.between(0, 20 * DAY)).sql(),
            "DOCUMENT_URL": format!("https://my.fastbill.example/doc/{}.pdf", r.chars(UPPER_ALNUM, 16)),
        });
        if s == Service::Recurring
            && let Some(o) = v.as_object_mut()
        {
            o.insert(
                "FREQUENCY".into(),
                json!(r.pick(&["monthly", "quarterly", "yearly"])),
            );
            o.insert("START_DATE".into(), json!(date.date()));
            o.insert(
                "END_DATE".into(),
                if r.percent(30) {
                    json!(date.plus(365 * DAY).date())
                } else {
                    Value::Null
                },
            );
            o.insert("OCCURENCES".into(), json!(r.between(0, 24).to_string()));
            o.insert(
                "OUTPUT_TYPE".into(),
                json!(r.pick(&["email", "print", "draft"])),
            );
            o.insert("EMAIL_NOTIFY".into(), json!("1"));
            o.remove("PAID_DATE");
            o.remove("PAYMENTS");
        }
        if s == Service::Revenues
            && let Some(o) = v.as_object_mut()
        {
            o.insert(
                "CATEGORY".into(),
                json!(r.pick(&["Erlöse 19 %", "Erlöse 7 %"])),
            );
            o.insert("ACCOUNT".into(), json!("8400"));
        }
        v
    }

    fn article(&self, i: usize) -> Value {
        let mut r = self.rng("fastbill.article", i);
        let (title, unit, price) = ARTICLES[i % ARTICLES.len()];
        let variant = i / ARTICLES.len();
        json!({
            "ARTICLE_ID": self.key(Service::Articles, i),
            "ARTICLE_NUMBER": format!("{}", 1000 + i),
            "TITLE": if variant == 0 { title.to_owned() } else { format!("{title} (Variante {variant})") },
            "DESCRIPTION": if r.percent(60) { json!(format!("{title} – Leistungsbeschreibung")) } else { json!("") },
            "UNIT": unit,
            "UNIT_PRICE": (price + 100 * variant as i64) as f64 / 100.0,
            "CURRENCY_CODE": "EUR",
            "VAT_PERCENT": if r.percent(85) { 19.0 } else { 7.0 },
            "IS_GROSS": "0",
            "TAGS": if r.percent(25) { "dienstleistung" } else { "" },
            "PRICE_NET": money(price + 100 * variant as i64),
        })
    }

    fn record(&self, s: Service, i: usize) -> Value {
        match s {
            Service::Customers => self.customer(i),
            Service::Articles => self.article(i),
            _ => self.invoice(s, i),
        }
    }
}

/// A FastBill `{"RESPONSE": {"ERRORS": [...]}}` body.
fn errors(request: Value, messages: &[&str]) -> Value {
    json!({ "REQUEST": request, "RESPONSE": { "ERRORS": messages } })
}

/// `LIMIT`/`OFFSET` value: a number or a numeric string.
fn body_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => http::parse_int_strict(s),
        _ => None,
    }
}

/// Returns true if and only if `record` passes every `FILTER` key that names
/// one of its top-level fields.
fn matches(record: &Value, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, want)| match record.get(k) {
        None => true,
        Some(have) => {
            let as_text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            as_text(have) == as_text(want)
        }
    })
}

impl Api for FastBill {
    fn expected(&self) -> Expected {
        let mut e = Expected::default();
        for s in Service::ALL {
            let keys = (0..self.n).map(|i| json!(self.key(s, i))).collect();
            e.add(
                s.resource(),
                &format!("POST {PATH} SERVICE={}", s.service()),
                s.primary_key(),
                keys,
            );
        }
        e
    }

    fn handle(&self, app: &App, req: &Req) -> Response {
        if !req.basic_is(FASTBILL_EMAIL, FASTBILL_API_KEY) {
            app.auth_failed();
            let body = errors(
                Value::Null,
                &["Authentication failed: wrong e-mail or API key"],
            );
            let resp = http::json(StatusCode::UNAUTHORIZED, &body);
            return http::with_header(resp, "www-authenticate", "Basic realm=\"FastBill API\"");
        }
        if req.path != PATH {
            return http::json(StatusCode::NOT_FOUND, &errors(Value::Null, &["not found"]));
        }
        if req.method != Method::POST {
            let resp = http::json(
                StatusCode::METHOD_NOT_ALLOWED,
                &errors(Value::Null, &["only POST is supported"]),
            );
            return http::with_header(resp, "allow", "POST");
        }
        let ticket = match app.admit(req) {
            Ok(t) => t,
            Err(faulted) => return *faulted,
        };
        let request: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let body = errors(
                    Value::Null,
                    &["invalid request: body must be a JSON object with a SERVICE"],
                );
                return app.reject(ticket, StatusCode::OK, &body);
            }
        };
        let Some(service) = request
            .get("SERVICE")
            .and_then(Value::as_str)
            .and_then(Service::from_name)
        else {
            return app.reject(
                ticket,
                StatusCode::OK,
                &errors(request, &["unknown service"]),
            );
        };
        let limit = body_int(request.get("LIMIT"))
            .filter(|l| *l >= 1)
            .map_or(MAX_LIMIT, |l| l.min(MAX_LIMIT)) as usize;
        let offset = body_int(request.get("OFFSET")).unwrap_or(0).max(0) as usize;
        let empty = Map::new();
        let filter = request
            .get("FILTER")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let indexes: Vec<usize> = if filter.is_empty() {
            (offset.min(self.n)..offset.saturating_add(limit).min(self.n)).collect()
        } else {
            (0..self.n)
                .filter(|&i| matches(&self.record(service, i), filter))
                .skip(offset)
                .take(limit)
                .collect()
        };
        let count = indexes.len();
        let cache = &self.cache[service as usize];
        let records = join(
            indexes
                .into_iter()
                .map(|i| cache.get(i, || self.record(service, i))),
            None,
        );
        let envelope = json!({
            "REQUEST": request,
            "RESPONSE": { service.list_key(): RECORDS },
        });
        app.serve(
            ticket,
            service.resource(),
            count,
            splice(&envelope, &records),
        )
    }

    fn warm(&self) {
        std::thread::scope(|scope| {
            for s in Service::ALL {
                scope.spawn(move || self.cache[s as usize].warm(|i| self.record(s, i)));
            }
        });
    }

    fn error_body(&self, status: StatusCode, message: &str) -> Value {
        let _ = status;
        errors(Value::Null, &[message])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Resp, basic, post};
    use crate::{Faults, MockServer, Vendor, serve};

    async fn start(opts: MockOptions) -> MockServer {
        serve(Vendor::FastBill, opts).await.expect("mock starts")
    }

    async fn call(s: &MockServer, body: &Value) -> Resp {
        let auth = basic(FASTBILL_EMAIL, FASTBILL_API_KEY);
        post(
            s.addr,
            PATH,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .await
    }

    #[tokio::test]
    async fn wrong_credentials_get_401_json() {
        let s = start(MockOptions::default()).await;
        let body = json!({"SERVICE": "customer.get"}).to_string();
        for auth in [
            None,
            Some(basic(FASTBILL_EMAIL, "wrong")),
            Some(basic("x@y", FASTBILL_API_KEY)),
        ] {
            let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            let r = post(s.addr, PATH, &h, body.as_bytes()).await;
            assert_eq!(r.status, 401);
            assert!(r.json()["RESPONSE"]["ERRORS"].is_array());
        }
        assert_eq!(s.stats().auth_failures, 3);
    }

    #[tokio::test]
    async fn every_service_pages_by_offset_to_exactly_the_expected_keys() {
        let s = start(MockOptions::default()).await;
        let expected = s.expected();
        for svc in Service::ALL {
            let mut keys = Vec::new();
            let mut offset = 0;
            let mut pages = 0;
            loop {
                let r = call(
                    &s,
                    &json!({"SERVICE": svc.service(), "LIMIT": 100, "OFFSET": offset}),
                )
                .await;
                assert_eq!(r.status, 200);
                let v = r.json();
                assert_eq!(v["REQUEST"]["OFFSET"], offset);
                let list = v["RESPONSE"][svc.list_key()]
                    .as_array()
                    .expect("list")
                    .clone();
                pages += 1;
                keys.extend(list.iter().map(|rec| rec[svc.primary_key()].clone()));
                if list.len() < 100 {
                    break;
                }
                offset += 100;
            }
            assert_eq!(pages, 5, "{}: 4 full pages and a short one", svc.service());
            assert_eq!(keys, expected.resources[svc.resource()].keys);
            assert!(keys.iter().all(Value::is_string), "ids are strings");
            assert_eq!(s.stats().served(svc.resource()), 450);
        }
    }

    #[tokio::test]
    async fn paging_comes_from_the_body_only() {
        let s = start(MockOptions::default()).await;
        let auth = basic(FASTBILL_EMAIL, FASTBILL_API_KEY);
        let body = json!({"SERVICE": "article.get", "LIMIT": 5}).to_string();
        let r = post(
            s.addr,
            &format!("{PATH}?OFFSET=200&LIMIT=1"),
            &[("Authorization", &auth)],
            body.as_bytes(),
        )
        .await;
        let first = call(&s, &json!({"SERVICE": "article.get", "LIMIT": 5}))
            .await
            .json();
        assert_eq!(
            r.json()["RESPONSE"],
            first["RESPONSE"],
            "query parameters are ignored"
        );
        let big = call(&s, &json!({"SERVICE": "article.get", "LIMIT": 1000}))
            .await
            .json();
        assert_eq!(
            big["RESPONSE"]["ARTICLES"].as_array().map(Vec::len),
            Some(100)
        );
        let def = call(&s, &json!({"SERVICE": "article.get"})).await.json();
        assert_eq!(
            def["RESPONSE"]["ARTICLES"].as_array().map(Vec::len),
            Some(100)
        );
        let strings = call(
            &s,
            &json!({"SERVICE": "article.get", "LIMIT": "2", "OFFSET": "3"}),
        )
        .await
        .json();
        assert_eq!(
            strings["RESPONSE"]["ARTICLES"][0]["ARTICLE_ID"],
            s.expected().resources["products"].keys[3]
        );
        let past = call(&s, &json!({"SERVICE": "article.get", "OFFSET": 10_000}))
            .await
            .json();
        assert_eq!(past["RESPONSE"]["ARTICLES"], json!([]));
    }

    #[tokio::test]
    async fn seed_as_written_gets_an_errors_body() {
        let s = start(MockOptions::default()).await;
        let auth = basic(FASTBILL_EMAIL, FASTBILL_API_KEY);
        // dlt's offset paginator puts OFFSET/limit in the query and sends no body.
        let r = post(
            s.addr,
            &format!("{PATH}?OFFSET=0&limit=100"),
            &[("Authorization", &auth)],
            b"",
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(r.json()["RESPONSE"]["ERRORS"].is_array());
        assert!(r.json()["RESPONSE"].get("INVOICES").is_none());
        let unknown = call(&s, &json!({"SERVICE": "invoice.list"})).await.json();
        assert_eq!(unknown["RESPONSE"]["ERRORS"], json!(["unknown service"]));
        let missing = call(&s, &json!({"LIMIT": 100, "OFFSET": 0})).await.json();
        assert_eq!(missing["RESPONSE"]["ERRORS"], json!(["unknown service"]));
        assert_eq!(s.stats().records_served.values().sum::<u64>(), 0);
    }

    #[tokio::test]
    async fn invoices_nest_items_and_filters_apply() {
        let s = start(MockOptions::default()).await;
        let v = call(&s, &json!({"SERVICE": "invoice.get", "LIMIT": 10}))
            .await
            .json();
        let inv = &v["RESPONSE"]["INVOICES"][0];
        assert!(inv["ITEMS"].as_array().is_some_and(|i| !i.is_empty()));
        assert!(inv["VAT_ITEMS"].is_array());
        let cid = inv["CUSTOMER_ID"].clone();
        let f = call(&s, &json!({"SERVICE": "invoice.get", "FILTER": {"CUSTOMER_ID": cid, "START_DATE": "2020-01-01"}})).await.json();
        let list = f["RESPONSE"]["INVOICES"].as_array().expect("list").clone();
        assert!(!list.is_empty());
        assert!(list.iter().all(|i| i["CUSTOMER_ID"] == cid));
        let rec = call(&s, &json!({"SERVICE": "recurring.get", "LIMIT": 1}))
            .await
            .json();
        assert!(rec["RESPONSE"]["INVOICES"][0]["FREQUENCY"].is_string());
    }

    #[tokio::test]
    async fn faults_are_deterministic_and_lose_nothing() {
        let opts = MockOptions {
            faults: Faults {
                rate_limit_every: Some(2),
                server_error_every: Some(3),
                ..Faults::default()
            },
            ..MockOptions::default()
        };
        let s = start(opts).await;
        let mut statuses = Vec::new();
        let mut keys = Vec::new();
        let mut offset = 0;
        loop {
            let body = json!({"SERVICE": "customer.get", "LIMIT": 100, "OFFSET": offset});
            let r = loop {
                let r = call(&s, &body).await;
                statuses.push(r.status);
                if r.status == 200 {
                    break r;
                }
            };
            let list = r.json()["RESPONSE"]["CUSTOMERS"]
                .as_array()
                .expect("list")
                .clone();
            keys.extend(list.iter().map(|c| c["CUSTOMER_ID"].clone()));
            if list.len() < 100 {
                break;
            }
            offset += 100;
        }
        assert_eq!(keys, s.expected().resources["customers"].keys);
        assert_eq!(statuses, vec![200, 429, 200, 429, 200, 429, 200, 429, 200]);
        assert_eq!(s.stats().served("customers"), 450);
    }
}
