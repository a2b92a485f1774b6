//! Deterministic data generation: a seeded PRNG keyed by (seed, stream,
//! record index), calendar arithmetic and pools of realistic values.
//!
//! Every record is a pure function of its index, so pages are generated on
//! demand (no record is stored) and any record count fits in memory.

/// SplitMix64: tiny, fast, and the same on every platform and crate version
/// (a `rand` upgrade could change the data under a test's feet).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The generator of record `index` in `stream` (e.g. `"customer"`).
    pub fn new(seed: u64, stream: &str, index: u64) -> Self {
        let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for b in stream.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut r = Rng(h ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.saturating_sub(lo).max(0) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// Returns true with probability `p` percent.
    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// One element of a non-empty pool (the pools below are constants).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `len` characters drawn from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    /// `len` lowercase hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.chars(b"0123456789abcdef", len)
    }
}

/// Upper-case letters and digits.
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Lower-case letters and digits.
pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A UUID-shaped string (version 4 layout) from `rng`.
pub fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.pick(&['8', '9', 'a', 'b']),
        rng.hex(3),
        rng.hex(12)
    )
}

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub i64);

/// 2023-01-01T00:00:00Z: where generated histories start.
pub const EPOCH_2023: Ts = Ts(1_672_531_200);
/// One day in seconds.
pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Ts {
    /// `self` plus `secs`.
    pub fn plus(self, secs: i64) -> Ts {
        Ts(self.0 + secs)
    }

    fn parts(self, offset_secs: i64) -> (i64, u32, u32, i64, i64, i64) {
        let t = self.0 + offset_secs;
        let (y, m, d) = civil_from_days(t.div_euclid(DAY));
        let s = t.rem_euclid(DAY);
        (y, m, d, s / 3600, s % 3600 / 60, s % 60)
    }

    /// `2023-04-05`.
    pub fn date(self) -> String {
        let (y, m, d, ..) = self.parts(0);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `2023-04-05T10:11:12Z`.
    pub fn iso_z(self) -> String {
        let (y, m, d, h, mi, s) = self.parts(0);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    /// Local time with an offset, `2023-04-05T06:11:12-04:00` (Rails style).
    pub fn iso_offset(self, offset_minutes: i64) -> String {
        let (y, m, d, h, mi, s) = self.parts(offset_minutes * 60);
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let off = offset_minutes.abs();
        format!(
            "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{:02}:{:02}",
            off / 60,
            off % 60
        )
    }

    /// `2023-04-05T10:11:12+0000` (PayPal reporting style).
    pub fn compact_offset(self) -> String {
        let (y, m, d, h, mi, s) = self.parts(0);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+0000")
    }

    /// `2023-04-05 10:11:12` (FastBill / MySQL style).
    pub fn sql(self) -> String {
        let (y, m, d, h, mi, s) = self.parts(0);
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }

    /// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (HTTP dates).
    pub fn http_date(self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (y, m, d, h, mi, s) = self.parts(0);
        // 1970-01-01 was a Thursday.
        let wd = (self.0.div_euclid(DAY) + 4).rem_euclid(7) as usize;
        format!(
            "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
            DAYS[wd],
            MONTHS[(m - 1) as usize]
        )
    }

    /// Parses RFC 3339 / ISO 8601 date-times with a zone:
    /// `2024-01-01T00:00:00Z`, `...T00:00:00.000-0700`, `...T00:00:00+02:00`.
    pub fn parse(s: &str) -> Option<Ts> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if t.bytes().all(|c| c.is_ascii_digit()) {
                t.parse().ok()
            } else {
                None
            }
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &frac[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let z = rest[1..].replace(':', "");
                if z.len() != 4 || !z.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let hh: i64 = z[..2].parse().ok()?;
                let mm: i64 = z[2..].parse().ok()?;
                sign * (hh * 3600 + mm * 60)
            }
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        Some(Ts(days * DAY + h * 3600 + mi * 60 + sec - offset))
    }
}

/// `cents` as a decimal string with two places: `4900` -> `"49.00"`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// `cents` as Maxio prints decimals: `4900` -> `"49.0"`, `4950` -> `"49.5"`.
pub fn decimal_short(cents: i64) -> String {
    let s = money(cents);
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_owned()
    }
}

/// A first name and its ASCII slug (for e-mail addresses).
pub const FIRST_NAMES: &[(&str, &str)] = &[
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("François", "francois"),
    ("Åsa", "asa"),
    ("Søren", "soren"),
    ("Дмитрий", "dmitriy"),
    ("美咲", "misaki"),
    ("Ana", "ana"),
    ("John", "john"),
    ("Priya", "priya"),
    ("Mohammed", "mohammed"),
    ("Chloé", "chloe"),
    ("Ngozi", "ngozi"),
    ("Björn", "bjorn"),
    ("Émilie", "emilie"),
    ("Mia", "mia"),
    ("Oliver", "oliver"),
    ("Siobhán", "siobhan"),
    ("Mei", "mei"),
    ("Carlos", "carlos"),
    ("Hannah", "hannah"),
];

/// A last name and its ASCII slug.
pub const LAST_NAMES: &[(&str, &str)] = &[
    ("Müller", "mueller"),
    ("García", "garcia"),
    ("O'Brien", "obrien"),
    ("Nguyễn", "nguyen"),
    ("Smith", "smith"),
    ("Kowalski", "kowalski"),
    ("山田", "yamada"),
    ("Øvergaard", "overgaard"),
    ("Dubois", "dubois"),
    ("Johnson", "johnson"),
    ("Pérez", "perez"),
    ("Schäfer", "schaefer"),
    ("Ivanova", "ivanova"),
    ("Khan", "khan"),
    ("Rossi", "rossi"),
    ("Ólafsdóttir", "olafsdottir"),
    ("Lee", "lee"),
    ("Brown", "brown"),
];

/// Company names, some with non-ASCII characters.
pub const ORGANIZATIONS: &[&str] = &[
    "Acme Corp",
    "Café ☕ Lumière SARL",
    "Zürich Analytics AG",
    "北京星辰科技有限公司",
    "Nordlys AS",
    "Globex LLC",
    "Initech",
    "Señor Tacos S.A.",
    "Kraków Data Sp. z o.o.",
    "Umbrella Health Ltd",
    "Wayne Enterprises",
    "Stark Industries",
    "Müller & Söhne GmbH",
    "Blue Öyster Bistro",
];

/// A city, its state or region, postal code and ISO country code.
pub struct Place {
    /// City name.
    pub city: &'static str,
    /// State, province or region code.
    pub state: &'static str,
    /// Postal code.
    pub zip: &'static str,
    /// ISO 3166 alpha-2.
    pub country: &'static str,
    /// A street line.
    pub street: &'static str,
}

/// Places customers live in.
pub const PLACES: &[Place] = &[
    Place {
        city: "Berlin",
        state: "BE",
        zip: "10115",
        country: "DE",
        street: "Invalidenstraße 117",
    },
    Place {
        city: "San Francisco",
        state: "CA",
        zip: "94107",
        country: "US",
        street: "500 Howard St",
    },
    Place {
        city: "Zürich",
        state: "ZH",
        zip: "8001",
        country: "CH",
        street: "Bahnhofstrasse 45",
    },
    Place {
        city: "São Paulo",
        state: "SP",
        zip: "01310-100",
        country: "BR",
        street: "Av. Paulista 1578",
    },
    Place {
        city: "Kraków",
        state: "MA",
        zip: "30-001",
        country: "PL",
        street: "ul. Floriańska 12",
    },
    Place {
        city: "Tokyo",
        state: "13",
        zip: "100-0001",
        country: "JP",
        street: "1-1 Chiyoda",
    },
    Place {
        city: "Austin",
        state: "TX",
        zip: "73301",
        country: "US",
        street: "1100 Congress Ave",
    },
    Place {
        city: "Montréal",
        state: "QC",
        zip: "H2X 1Y4",
        country: "CA",
        street: "1250 Rue Sainte-Catherine",
    },
    Place {
        city: "Oslo",
        state: "03",
        zip: "0150",
        country: "NO",
        street: "Karl Johans gate 22",
    },
    Place {
        city: "London",
        state: "LND",
        zip: "EC1A 1BB",
        country: "GB",
        street: "10 King's Road",
    },
    Place {
        city: "München",
        state: "BY",
        zip: "80331",
        country: "DE",
        street: "Marienplatz 8",
    },
];

/// A generated person.
#[derive(Clone, Debug)]
pub struct Person {
    /// First name (may be non-ASCII).
    pub first: &'static str,
    /// Last name (may be non-ASCII).
    pub last: &'static str,
    /// ASCII e-mail address, unique per `n`.
    pub email: String,
}

impl Person {
    /// A person drawn from `rng`; `n` makes the e-mail unique.
    pub fn draw(rng: &mut Rng, n: u64, domain: &str) -> Person {
        let (first, fs) = *rng.pick(FIRST_NAMES);
        let (last, ls) = *rng.pick(LAST_NAMES);
        Person {
            first,
            last,
            email: format!("{fs}.{ls}{n}@{domain}"),
        }
    }

    /// `first last`.
    pub fn full(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// A phone number in a plausible international format.
pub fn phone(rng: &mut Rng) -> String {
    format!(
        "+{} {} {:04} {:04}",
        rng.pick(&[1, 44, 49, 33, 47, 81]),
        rng.between(20, 999),
        rng.below(10_000),
        rng.below(10_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for days in [-1000, 0, 59, 60, 365, 10_957, 19_358, 20_000, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(EPOCH_2023.iso_z(), "2023-01-01T00:00:00Z");
        assert_eq!(Ts(784_111_777).http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(EPOCH_2023.iso_offset(-300), "2022-12-31T19:00:00-05:00");
    }

    #[test]
    fn parse_accepts_the_common_zone_forms() {
        let z = Ts::parse("2024-01-01T00:00:00Z");
        assert_eq!(z, Some(Ts(1_704_067_200)));
        assert_eq!(Ts::parse("2024-01-01T00:00:00.000+0000"), z);
        assert_eq!(Ts::parse("2024-01-01T01:00:00+01:00"), z);
        assert_eq!(Ts::parse("2023-12-31T17:00:00-0700"), z);
        assert_eq!(Ts::parse("2024-01-01"), None);
        assert_eq!(Ts::parse("2024-01-01T00:00:00"), None);
        assert_eq!(Ts::parse("garbage-garbage-garbage"), None);
    }

    #[test]
    fn rng_is_deterministic_per_stream_and_index() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(1, "x", 7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::new(1, "x", 7).next_u64(),
            Rng::new(1, "x", 8).next_u64()
        );
        assert_ne!(
            Rng::new(1, "x", 7).next_u64(),
            Rng::new(1, "y", 7).next_u64()
        );
        assert_ne!(
            Rng::new(1, "x", 7).next_u64(),
            Rng::new(2, "x", 7).next_u64()
        );
    }

    #[test]
    fn money_formats() {
        assert_eq!(money(4900), "49.00");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(decimal_short(4900), "49.0");
        assert_eq!(decimal_short(4950), "49.5");
        assert_eq!(decimal_short(4955), "49.55");
    }
}
