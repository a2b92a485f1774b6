//! Column types and values: type inference, dlt's coercion rules between
//! types, and the variant columns a value that cannot be coerced goes to.
//! Pure code, no I/O.

use std::borrow::Cow;

/// The data types of columns (dlt's names in comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`: `BOOLEAN`.
    Bool,
    /// `bigint`: `BIGINT`.
    BigInt,
    /// `wei`: integers beyond 64 bits, `HUGEINT` (dlt cannot load them).
    Wei,
    /// `double`: `DOUBLE`.
    Double,
    /// `text`: `VARCHAR`.
    Text,
    /// `timestamp`: `TIMESTAMP WITH TIME ZONE`, detected from ISO strings.
    Timestamp,
    /// `json`: nested data beyond `max_table_nesting`, stored as JSON text
    /// in `VARCHAR` (dlt uses DuckDB's `JSON` type, which needs the JSON
    /// extension; the text is the same).
    Json,
}

impl DataType {
    /// The DuckDB type name.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Bool => "BOOLEAN",
            Self::BigInt => "BIGINT",
            Self::Wei => "HUGEINT",
            Self::Double => "DOUBLE",
            Self::Text | Self::Json => "VARCHAR",
            Self::Timestamp => "TIMESTAMP WITH TIME ZONE",
        }
    }

    /// dlt's name, used in variant column names (`col__v_text`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::BigInt => "bigint",
            Self::Wei => "wei",
            Self::Double => "double",
            Self::Text => "text",
            Self::Timestamp => "timestamp",
            Self::Json => "json",
        }
    }

    /// The type of an existing DuckDB column.
    pub fn from_sql(sql: &str) -> Self {
        match sql {
            "BOOLEAN" => Self::Bool,
            "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" => Self::BigInt,
            "HUGEINT" => Self::Wei,
            "DOUBLE" | "FLOAT" => Self::Double,
            "TIMESTAMP WITH TIME ZONE" => Self::Timestamp,
            "JSON" => Self::Json,
            _ => Self::Text,
        }
    }
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    BigInt(i64),
    /// A wider integer.
    Wei(i128),
    /// A float.
    Double(f64),
    /// A string.
    Text(Cow<'a, str>),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Nested data as JSON text.
    Json(String),
}

impl<'a> Cell<'a> {
    /// The value with its text owned.
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Self::Null => Cell::Null,
            Self::Bool(b) => Cell::Bool(b),
            Self::BigInt(i) => Cell::BigInt(i),
            Self::Wei(i) => Cell::Wei(i),
            Self::Double(d) => Cell::Double(d),
            Self::Text(s) => Cell::Text(Cow::Owned(s.into_owned())),
            Self::Timestamp(t) => Cell::Timestamp(t),
            Self::Json(s) => Cell::Json(s),
        }
    }

    /// The type of the value as it came from JSON (dlt's `py_type`), which
    /// names variant columns; `None` for null.
    pub fn source_type(&self) -> Option<DataType> {
        Some(match self {
            Self::Null => return None,
            Self::Bool(_) => DataType::Bool,
            Self::BigInt(_) => DataType::BigInt,
            Self::Wei(_) => DataType::Wei,
            Self::Double(_) => DataType::Double,
            Self::Text(_) => DataType::Text,
            Self::Timestamp(_) => DataType::Timestamp,
            Self::Json(_) => DataType::Json,
        })
    }

    /// The type a new column for this value gets: its own type, except that
    /// a string holding an ISO timestamp makes a timestamp column (dlt's
    /// default `iso_timestamp` detection).
    pub fn inferred_type(&self) -> Option<DataType> {
        match self {
            Self::Text(s) if parse_iso_datetime(s).is_some() => Some(DataType::Timestamp),
            other => other.source_type(),
        }
    }

    /// Convert into a column of type `to`, following dlt's coercion table;
    /// `None` when dlt would not coerce (the value then goes to a variant
    /// column). A value never becomes null.
    pub fn coerce(self, to: DataType) -> Option<Cell<'a>> {
        self.coerce_or_keep(to).ok()
    }

    /// [`Cell::coerce`], giving the value back when it does not coerce, so
    /// the caller can try a variant column without having cloned it.
    pub fn coerce_or_keep(self, to: DataType) -> Result<Cell<'a>, Cell<'a>> {
        match self.source_type() {
            None => return Err(self),
            Some(from) if from == to => return Ok(self),
            _ => {}
        }
        match self {
            Cell::Json(s) if to == DataType::Text => Ok(Cell::Text(Cow::Owned(s))),
            other => other.convert(to).ok_or(other),
        }
    }

    /// The conversions that make a new value (dlt's coercion table).
    fn convert(&self, to: DataType) -> Option<Cell<'a>> {
        use DataType as T;
        Some(match (to, self) {
            (T::Text, Cell::BigInt(i)) => Cell::Text(i.to_string().into()),
            (T::Text, Cell::Wei(i)) => Cell::Text(i.to_string().into()),
            (T::Text, Cell::Double(d)) => Cell::Text(python_float_repr(*d).into()),
            (T::Text, Cell::Bool(b)) => Cell::Text(if *b { "True" } else { "False" }.into()),
            (T::Text, Cell::Timestamp(us)) => Cell::Text(format_timestamp(*us).into()),
            (T::BigInt, Cell::Text(s)) => Cell::BigInt(parse_python_int(s)?),
            (T::BigInt, Cell::Wei(i)) => Cell::BigInt(i64::try_from(*i).ok()?),
            (T::BigInt, Cell::Double(d)) => Cell::BigInt(integral_f64(*d)?),
            (T::Double, Cell::Text(s)) => Cell::Double(parse_python_float(s)?),
            (T::Double, Cell::BigInt(i)) => Cell::Double(*i as f64),
            (T::Double, Cell::Wei(i)) => Cell::Double(*i as f64),
            (T::Wei, Cell::Text(s)) => Cell::Wei(parse_python_int_wide(s)?),
            (T::Wei, Cell::BigInt(i)) => Cell::Wei(i128::from(*i)),
            (T::Wei, Cell::Double(d)) => Cell::Wei(if d.fract() == 0.0 && d.abs() < 1.7e38 {
                *d as i128
            } else {
                return None;
            }),
            (T::Bool, Cell::Text(s)) => Cell::Bool(str2bool(s)?),
            (T::Bool, Cell::BigInt(i)) => Cell::Bool(*i != 0),
            (T::Bool, Cell::Wei(i)) => Cell::Bool(*i != 0),
            (T::Bool, Cell::Double(d)) => Cell::Bool(*d != 0.0),
            (T::Json, Cell::Text(s)) => {
                let v: serde_json::Value = serde_json::from_str(s).ok()?;
                Cell::Json(v.to_string())
            }
            (T::Timestamp, Cell::Text(s)) => Cell::Timestamp(parse_iso_datetime(s)?),
            (T::Timestamp, Cell::BigInt(i)) => Cell::Timestamp(i.checked_mul(1_000_000)?),
            (T::Timestamp, Cell::Double(d)) => {
                let us = (*d * 1e6).round();
                if !us.is_finite() || us.abs() > 9.2e18 {
                    return None;
                }
                Cell::Timestamp(us as i64)
            }
            _ => return None,
        })
    }
}

fn integral_f64(d: f64) -> Option<i64> {
    if d.fract() == 0.0 && d.is_finite() && d.abs() < 9.2e18 {
        Some(d as i64)
    } else {
        None
    }
}

/// Python's `int(s)` for the forms APIs send: surrounding whitespace, a
/// sign, `_` between digits, and dlt's `0x` hex prefix.
fn parse_python_int(s: &str) -> Option<i64> {
    i64::try_from(parse_python_int_wide(s)?).ok()
}

fn parse_python_int_wide(s: &str) -> Option<i128> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    let digits = strip_digit_underscores(t)?;
    digits.parse::<i128>().ok()
}

/// Python's `float(s)` (dlt also reads `0x` hex).
fn parse_python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok().map(|i| i as f64);
    }
    let cleaned = strip_digit_underscores(t)?;
    cleaned.parse::<f64>().ok()
}

/// Remove `_` that sit between two digits (Python's numeric literal
/// grouping); any other `_` makes the text invalid.
fn strip_digit_underscores(t: &str) -> Option<String> {
    if !t.contains('_') {
        return Some(t.to_string());
    }
    let chars: Vec<char> = t.chars().collect();
    let mut out = String::with_capacity(t.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let before = i > 0 && chars[i - 1].is_ascii_digit();
            let after = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// dlt's `str2bool`.
fn str2bool(s: &str) -> Option<bool> {
    match s.to_lowercase().as_str() {
        "yes" | "true" | "t" | "y" | "1" => Some(true),
        "no" | "false" | "f" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in
/// positional notation for exponents -4..16 and scientific otherwise, with a
/// `.0` on integral values. This is the text dlt stores when a float lands
/// in a text column.
pub fn python_float_repr(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.5e-7", "1e300".
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp >= 0 {
            if n - 1 <= exp {
                format!("{digits}{}.0", "0".repeat((exp - (n - 1)) as usize))
            } else {
                let split = (exp + 1) as usize;
                format!("{}.{}", &digits[..split], &digits[split..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { "-" } else { "+" };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// Parse a string the way dlt's timestamp detection accepts it (pendulum's
/// ISO 8601 parser): a date (`YYYY-MM-DD`, `YYYYMMDD` or `YYYY/MM/DD`), `T`
/// or a space, a time (`HH`, `HH:MM`, `HH:MM:SS`, basic `HHMM[SS]`, a
/// fraction after `.` or `,`) and an optional offset (`Z`, `±HH`,
/// `±HH:MM`, `±HHMM`). Returns microseconds since the epoch in UTC (a
/// value without offset is taken as UTC). Dates without a time are not
/// timestamps.
pub fn parse_iso_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 11 || !b[0].is_ascii_digit() {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day, mut i) = match (b.get(4), b.get(7)) {
        (Some(b'-'), Some(b'-')) => (num(0, 4)?, num(5, 2)?, num(8, 2)?, 10),
        (Some(b'/'), Some(b'/')) => (num(0, 4)?, num(5, 2)?, num(8, 2)?, 10),
        _ => (num(0, 4)?, num(4, 2)?, num(6, 2)?, 8),
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    match b.get(i) {
        Some(b'T' | b' ') => i += 1,
        _ => return None,
    }
    let hour = num(i, 2)?;
    i += 2;
    let (mut minute, mut second, mut micros) = (0, 0, 0);
    let extended = b.get(i) == Some(&b':');
    if extended {
        minute = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b':') {
            second = num(i + 1, 2)?;
            i += 3;
        }
    } else if b.get(i).is_some_and(u8::is_ascii_digit) {
        minute = num(i, 2)?;
        i += 2;
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            second = num(i, 2)?;
            i += 2;
        }
    }
    if matches!(b.get(i), Some(b'.' | b',')) {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let frac = &s[start..end.min(start + 6)];
        micros = frac.parse::<i64>().ok()? * 10i64.pow(6 - frac.len() as u32);
        i = end;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let rest = &b[i + 3..];
            let om = match rest {
                [] => 0,
                [b':', ..] if rest.len() == 3 => num(i + 4, 2)?,
                _ if rest.len() == 2 => num(i + 3, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = oh * 3600 + om * 60;
            if sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Some(secs * 1_000_000 + micros)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn format_timestamp(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_matches_python() {
        for (f, py) in [
            (1.0, "1.0"),
            (2.5, "2.5"),
            (1e300, "1e+300"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.123, "123456789.123"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
            (1.5e-7, "1.5e-07"),
            (1.234567890123, "1.234567890123"),
            (100.0, "100.0"),
            (1e22, "1e+22"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(python_float_repr(f), py, "{f}");
        }
    }

    /// Which strings dlt 1.31 (pendulum) detects as timestamps.
    #[test]
    fn timestamp_detection_matches_dlt() {
        for (s, ok) in [
            ("2024-01-01T00:00:00Z", true),
            ("2024-01-01 10:00", true),
            ("20240101T101010", true),
            ("20240101T1010Z", true),
            ("2024-01-01T10:00:00+0200", true),
            ("2024-01-01T10:00:00-05", true),
            ("2024-01-01T24:00:00", false),
            ("2024-02-30T10:00", false),
            ("2024-01-01T10:00:60", false),
            ("2024-01-01t10:00", false),
            ("2024/01/15 10:00", true),
            ("2024-01-01T10:00:00.5", true),
            ("2024-01-01T10:00Z", true),
            (" 2024-01-01T10:00", false),
            ("2024-01-01T10:00:00 ", false),
            ("2024-1-1T10:00", false),
            ("2024-01-01T1:00", false),
            ("2024-01-01 10:00:00 UTC", false),
            ("2024-01-01T10:00:00+02", true),
            ("2024-01-01T10:00:00.123456789+01:30", true),
            ("+2024-01-01T10:00", false),
            ("2024-01-01_10:00", false),
            ("2024-01-01T10:00:00,5", true),
            ("2024-01-01T10:00:00Z[UTC]", false),
            ("1900-01-01T00:00:00", true),
            ("2024-01-01", false),
            ("2024", false),
            ("10:00", false),
            ("1700000000", false),
        ] {
            assert_eq!(parse_iso_datetime(s).is_some(), ok, "{s:?}");
        }
        assert_eq!(parse_iso_datetime("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_iso_datetime("2024-03-01T00:00:00+02:00"),
            parse_iso_datetime("2024-02-29T22:00:00Z")
        );
        assert_eq!(
            format_timestamp(parse_iso_datetime("2023-11-14T22:13:20Z").unwrap()),
            "2023-11-14T22:13:20+00:00"
        );
    }

    #[test]
    fn coercions_follow_dlt() {
        use DataType as T;
        let t = |s: &'static str| Cell::Text(s.into());
        assert_eq!(Cell::BigInt(5).coerce(T::Text), Some(t("5")));
        assert_eq!(Cell::Bool(true).coerce(T::Text), Some(t("True")));
        assert_eq!(t("42").coerce(T::BigInt), Some(Cell::BigInt(42)));
        assert_eq!(t(" 0x1F ").coerce(T::BigInt), Some(Cell::BigInt(31)));
        assert_eq!(t("1_000").coerce(T::BigInt), Some(Cell::BigInt(1000)));
        assert_eq!(t("abc").coerce(T::BigInt), None);
        assert_eq!(Cell::Double(2.0).coerce(T::BigInt), Some(Cell::BigInt(2)));
        assert_eq!(Cell::Double(2.5).coerce(T::BigInt), None);
        assert_eq!(Cell::Bool(true).coerce(T::BigInt), None);
        assert_eq!(Cell::BigInt(2).coerce(T::Double), Some(Cell::Double(2.0)));
        assert_eq!(t("3.25").coerce(T::Double), Some(Cell::Double(3.25)));
        assert_eq!(t("yes").coerce(T::Bool), Some(Cell::Bool(true)));
        assert_eq!(t("no").coerce(T::BigInt), None);
        assert_eq!(Cell::BigInt(7).coerce(T::Bool), Some(Cell::Bool(true)));
        assert_eq!(
            Cell::BigInt(1_700_000_000).coerce(T::Timestamp),
            Some(Cell::Timestamp(1_700_000_000_000_000))
        );
        assert_eq!(t("not a date").coerce(T::Timestamp), None);
        assert_eq!(t("flat").coerce(T::Json), None);
        assert_eq!(Cell::BigInt(1).coerce(T::Json), None);
    }
}
