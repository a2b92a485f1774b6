//! Just enough calendar arithmetic for `date_window`: RFC 3339 / ISO 8601
//! timestamps to Unix seconds and back, without a date-time dependency.

use serde::{Deserialize, Serialize};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Parses `2024-01-31`, `2024-01-31T10:00`, `2024-01-31T10:00:00`, with
/// optional fractional seconds and a zone (`Z`, `+01:00`, `+0100`; none
/// means UTC), `T` or a space between date and time. Returns Unix seconds.
pub(crate) fn parse(text: &str) -> Option<i64> {
    let s = text.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * DAY;
    let mut rest = &s[10..];
    if rest.is_empty() {
        return Some(secs);
    }
    rest = rest.strip_prefix(['T', 't', ' '])?;
    let rb = rest.as_bytes();
    if rb.len() < 5 || rb[2] != b':' {
        return None;
    }
    let two = |t: &str| -> Option<i64> {
        (t.len() == 2 && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (h, mi) = (two(&rest[0..2])?, two(&rest[3..5])?);
    rest = &rest[5..];
    let mut sec = 0;
    if let Some(r) = rest.strip_prefix(':') {
        sec = two(r.get(0..2)?)?;
        rest = &r[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            rest = &frac[n..];
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    secs += h * 3600 + mi * 60 + sec;
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = rest[1..].replace(':', "");
            if z.len() != 4 {
                return None;
            }
            let (oh, om) = (two(&z[0..2])?, two(&z[2..4])?);
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(secs - offset)
}

/// How a timestamp is written into a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Format {
    /// `2024-01-31T10:00:00Z` (RFC 3339, UTC).
    #[default]
    Datetime,
    /// `2024-01-31` (UTC date).
    Date,
    /// Unix seconds, `1706695200`.
    Unix,
}

impl Format {
    /// The format named `name` in a config.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "datetime" => Some(Format::Datetime),
            "date" => Some(Format::Date),
            "unix" => Some(Format::Unix),
            _ => None,
        }
    }

    /// Writes `secs` in this format.
    pub fn write(self, secs: i64) -> String {
        let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
        let t = secs.rem_euclid(DAY);
        match self {
            Format::Datetime => format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                t / 3600,
                t % 3600 / 60,
                t % 60
            ),
            Format::Date => format!("{y:04}-{m:02}-{d:02}"),
            Format::Unix => secs.to_string(),
        }
    }

    /// The smallest step this format can express: what an inclusive end
    /// is moved back by.
    pub fn unit(self) -> i64 {
        match self {
            Format::Date => DAY,
            Format::Datetime | Format::Unix => 1,
        }
    }
}

/// A point in time as configured: absolute, or relative to the moment the
/// extraction is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// Unix seconds.
    At(i64),
    /// `now`, plus this many seconds (negative: in the past).
    Now(i64),
}

impl When {
    /// Parses `now`, `now-30d`, `now+2h`, `now-90m`, an ISO date or
    /// timestamp, or a number of Unix seconds.
    pub fn parse(v: &serde_json::Value) -> Result<When, String> {
        let expected = "expected an ISO date or timestamp (\"2024-01-01T00:00:00Z\"), Unix seconds, \"now\", or \"now-<N>d\" (also h, m, s)";
        match v {
            serde_json::Value::Number(n) => n.as_i64().map(When::At).ok_or_else(|| expected.into()),
            serde_json::Value::String(s) => {
                let t = s.trim();
                if let Some(rel) = t.strip_prefix("now") {
                    let rel = rel.trim();
                    if rel.is_empty() {
                        return Ok(When::Now(0));
                    }
                    let (sign, n) = match rel.as_bytes()[0] {
                        b'-' => (-1, rel[1..].trim()),
                        b'+' => (1, rel[1..].trim()),
                        _ => return Err(format!("{t:?}: {expected}")),
                    };
                    let unit = match n.chars().last() {
                        Some('d') => DAY,
                        Some('h') => 3600,
                        Some('m') => 60,
                        Some('s') => 1,
                        _ => return Err(format!("{t:?}: {expected}")),
                    };
                    let count: i64 = n[..n.len() - 1]
                        .trim()
                        .parse()
                        .map_err(|_| format!("{t:?}: {expected}"))?;
                    return Ok(When::Now(sign * count * unit));
                }
                parse(t)
                    .map(When::At)
                    .ok_or_else(|| format!("{t:?}: {expected}"))
            }
            _ => Err(expected.into()),
        }
    }

    /// Unix seconds, given the current time.
    pub fn resolve(self, now: i64) -> i64 {
        match self {
            When::At(t) => t,
            When::Now(delta) => now + delta,
        }
    }
}

/// The current Unix time in seconds (on wasm, the host's wall clock).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(parse("2024-01-01T01:00:00+01:00"), Some(1_704_067_200));
        assert_eq!(parse("2024-01-01T01:00:00+0100"), Some(1_704_067_200));
        assert_eq!(parse("2023-12-31 19:00:00.123-05:00"), Some(1_704_067_200));
        assert_eq!(parse("2024-01-01T00:00"), Some(1_704_067_200));
        assert_eq!(parse("2024-04-01T00:00:00Z"), Some(1_711_929_600));
        for bad in [
            "",
            "2024-13-01",
            "2024-01-01X",
            "24-01-01",
            "2024-01-01T25:00",
            "2024-01-01T00:00:00+1",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn writes_round_trip() {
        for t in [0, 1_704_067_200, 1_709_251_199, 951_782_400, -86_400] {
            assert_eq!(parse(&Format::Datetime.write(t)), Some(t));
        }
        assert_eq!(
            Format::Datetime.write(1_709_164_800),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(Format::Date.write(1_709_164_800 + 5), "2024-02-29");
        assert_eq!(Format::Unix.write(12), "12");
    }

    #[test]
    fn when_parses_relative_and_absolute() {
        assert_eq!(When::parse(&json!("now")), Ok(When::Now(0)));
        assert_eq!(When::parse(&json!("now-3d")), Ok(When::Now(-3 * DAY)));
        assert_eq!(When::parse(&json!("now + 2h")), Ok(When::Now(7200)));
        assert_eq!(When::parse(&json!(5)), Ok(When::At(5)));
        assert_eq!(When::parse(&json!("1970-01-02")), Ok(When::At(DAY)));
        assert!(When::parse(&json!("yesterday")).is_err());
        assert!(When::parse(&json!("now-3w")).is_err());
        assert_eq!(When::Now(-10).resolve(100), 90);
    }
}
