//! The throughput dataset's records: invoices of realistic size and shape
//! (nested objects, a list of line items, a list of tags), rendered once
//! into a few page templates whose ids are patched per page.

/// Distinct page templates; page `p` is rendered from template `p % TEMPLATES`.
const TEMPLATES: usize = 8;
/// Digits of every id (see `mock::ID_BASE`).
const ID_DIGITS: usize = 10;

/// One rendered record: its JSON and where its id digits are.
struct Record {
    json: Vec<u8>,
    /// Offsets of each `ID_DIGITS`-digit copy of the record's id.
    id_at: Vec<usize>,
}

/// Pre-rendered page templates.
pub struct Templates {
    pages: Vec<Vec<Record>>,
}

/// A small deterministic generator (SplitMix64): the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const CITIES: &[(&str, &str, &str)] = &[
    ("Berlin", "10115", "DE"),
    ("Amsterdam", "1012", "NL"),
    ("Lyon", "69001", "FR"),
    ("Austin", "73301", "US"),
    ("Leeds", "LS1 4AP", "GB"),
    ("Porto", "4000-001", "PT"),
];
const COMPANIES: &[&str] = &[
    "Meyer GmbH",
    "Nordlicht BV",
    "Atelier Rousseau",
    "Lone Star Supply",
    "Harrogate & Sons",
    "Ribeira Lda",
];
const PLANS: &[&str] = &[
    "Pro plan (monthly)",
    "Team plan (annual)",
    "Extra seats",
    "Support add-on",
    "Usage: API calls",
];
const TAGS: &[&str] = &["priority", "eu", "renewal", "manual", "dunning", "vip"];
const STATUSES: &[&str] = &["paid", "open", "past_due", "void"];

impl Templates {
    /// Render `TEMPLATES` pages of `per_page` records with placeholder ids
    /// (`id_base`, all the same width).
    pub fn render(per_page: usize, id_base: u64) -> Templates {
        let mut rng = Rng(0x5eed);
        let pages = (0..TEMPLATES)
            .map(|_| (0..per_page).map(|_| record(&mut rng, id_base)).collect())
            .collect();
        Templates { pages }
    }

    /// Page `page` with `count` records whose ids start at `first_id`,
    /// between `prefix` and `suffix`.
    pub fn page(
        &self,
        page: usize,
        count: usize,
        first_id: u64,
        prefix: &[u8],
        suffix: &[u8],
    ) -> Vec<u8> {
        let template = &self.pages[page % TEMPLATES];
        let size: usize = template[..count].iter().map(|r| r.json.len() + 1).sum();
        let mut out = Vec::with_capacity(prefix.len() + size + suffix.len());
        out.extend_from_slice(prefix);
        for (i, record) in template[..count].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let at = out.len();
            out.extend_from_slice(&record.json);
            let digits = format!("{:0width$}", first_id + i as u64, width = ID_DIGITS);
            for off in &record.id_at {
                out[at + off..at + off + ID_DIGITS].copy_from_slice(digits.as_bytes());
            }
        }
        out.extend_from_slice(suffix);
        out
    }
}

/// One invoice with placeholder id `id`.
fn record(rng: &mut Rng, id: u64) -> Record {
    let (city, postal, country) = CITIES[rng.below(CITIES.len() as u64) as usize];
    let company = rng.pick(COMPANIES);
    let customer = 10_000 + rng.below(90_000);
    let items: Vec<serde_json::Value> = (0..1 + rng.below(3))
        .map(|k| {
            let quantity = 1 + rng.below(9);
            let unit = (rng.below(20_000) as f64) / 100.0;
            serde_json::json!({
                "id": format!("li_{k}"),
                "description": rng.pick(PLANS),
                "quantity": quantity,
                "unit_amount": unit,
                "amount": ((quantity as f64) * unit * 100.0).round() / 100.0,
                "period": {"start": "2024-04-01", "end": "2024-04-30"},
            })
        })
        .collect();
    let total: f64 = items
        .iter()
        .filter_map(|i| i["amount"].as_f64())
        .sum::<f64>();
    let total = (total * 100.0).round() / 100.0;
    let status = rng.pick(STATUSES);
    let tags: Vec<&str> = (0..rng.below(3)).map(|_| rng.pick(TAGS)).collect();
    let day = 1 + rng.below(28);
    let placeholder = "ID_PLACEHOLDER";
    let value = serde_json::json!({
        "id": placeholder,
        "object": "invoice",
        "number": format!("INV-{placeholder}"),
        "status": status,
        "currency": if country == "US" { "USD" } else { "EUR" },
        "created_at": format!("2024-04-{day:02}T{:02}:{:02}:00Z", rng.below(24), rng.below(60)),
        "updated_at": format!("2024-05-{day:02}T08:00:00Z"),
        "due_date": format!("2024-05-{day:02}"),
        "amount_due": if status == "paid" { 0.0 } else { total },
        "amount_paid": if status == "paid" { total } else { 0.0 },
        "total": total,
        "customer": {
            "id": format!("cus_{customer}"),
            "name": format!("{company} {customer}"),
            "email": format!("billing+{customer}@example.com"),
            "address": {
                "line1": format!("{} Market Street", 1 + rng.below(200)),
                "city": city,
                "postal_code": postal,
                "country": country,
            },
        },
        "line_items": items,
        "tags": tags,
        "metadata": {"channel": if rng.below(2) == 0 { "web" } else { "api" }, "campaign": null, "version": 3},
    });
    // The id is a JSON number in the record; it is written as a string
    // placeholder first and the quotes dropped, so that its offsets are
    // known exactly.
    let text = value
        .to_string()
        .replace(&format!("\"{placeholder}\""), &id.to_string())
        .replace(placeholder, &id.to_string());
    let digits = id.to_string();
    let id_at = text.match_indices(&digits).map(|(i, _)| i).collect();
    Record {
        json: text.into_bytes(),
        id_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_distinct_ids_and_parse() {
        let t = Templates::render(5, 1_000_000_000);
        let a = t.page(1, 5, 1_000_000_000, b"[", b"]");
        let b = t.page(2, 3, 1_000_000_005, b"[", b"]");
        let a: Vec<serde_json::Value> = serde_json::from_slice(&a).expect("page 1 is JSON");
        let b: Vec<serde_json::Value> = serde_json::from_slice(&b).expect("page 2 is JSON");
        let ids: Vec<u64> = a
            .iter()
            .chain(&b)
            .filter_map(|r| r["id"].as_u64())
            .collect();
        assert_eq!(ids, (1_000_000_000..1_000_000_008).collect::<Vec<_>>());
        assert_eq!(b[0]["number"], "INV-1000000005");
    }
}
