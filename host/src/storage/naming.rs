//! Identifier naming: dlt's `snake_case` naming convention for table and
//! column names (so the same records get the same names as with dlt), and
//! SQL quoting that no name can break out of.

use std::sync::LazyLock;

use regex::Regex;

/// The separator between a parent and a nested name (dlt's).
pub const PATH_SEPARATOR: &str = "__";

/// What an empty (or all-blank) key becomes (dlt's `_empty`).
pub const EMPTY_KEY: &str = "_empty";

static NON_ALPHANUMERIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^a-zA-Z\d_]+").expect("valid regex"));
static BREAK_1: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([^_])([A-Z][a-z]+)").expect("valid regex"));
static BREAK_2: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([a-z0-9])([A-Z])").expect("valid regex"));
static LEADING_DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d+").expect("valid regex"));
static UNDERSCORES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"__+").expect("valid regex"));

/// Normalize one identifier exactly as dlt's `snake_case` convention does
/// (`NamingConvention.normalize_identifier`):
/// - surrounding whitespace is trimmed;
/// - `+` and `*` become `x`, `-` becomes `_`, `@` becomes `a`, `|` becomes `l`;
/// - every run of characters outside ASCII letters, (Unicode) digits and
///   `_` becomes one `_`;
/// - camelCase is split with `_` and the result lower-cased;
/// - a leading digit gets a `_` prefix;
/// - each trailing `_` becomes `x`;
/// - runs of `_` collapse into one (so `__` stays the path separator).
///
/// An empty result (a blank name) becomes [`EMPTY_KEY`].
pub fn normalize_identifier(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return EMPTY_KEY.to_string();
    }
    let reduced: String = name
        .chars()
        .map(|c| match c {
            '+' | '*' => 'x',
            '-' => '_',
            '@' => 'a',
            '|' => 'l',
            other => other,
        })
        .collect();
    let ident = NON_ALPHANUMERIC.replace_all(&reduced, "_");
    let ident = BREAK_1.replace_all(&ident, "${1}_${2}");
    let mut ident = BREAK_2.replace_all(&ident, "${1}_${2}").to_lowercase();
    if LEADING_DIGITS.is_match(&ident) {
        ident.insert(0, '_');
    }
    let stripped = ident.trim_end_matches('_');
    let trailing = ident.len() - stripped.len();
    let ident = format!("{stripped}{}", "x".repeat(trailing));
    UNDERSCORES.replace_all(&ident, "_").into_owned()
}

/// Normalize a name that may be a path (dlt's `normalize_path`): split on
/// `__`, normalize each part, join with `__`. This is how dlt names columns
/// from keys and tables from resource names, so a key `a__b` stays `a__b`.
pub fn normalize_path(name: &str) -> String {
    let parts: Vec<String> = name
        .split(PATH_SEPARATOR)
        .filter(|p| !p.trim().is_empty())
        .map(normalize_identifier)
        .collect();
    if parts.is_empty() {
        return EMPTY_KEY.to_string();
    }
    parts.join(PATH_SEPARATOR)
}

/// Normalize a key of a record: blank keys become [`EMPTY_KEY`] (dlt's
/// `_flatten`), others are normalized as a path.
pub fn normalize_key(key: &str) -> String {
    if key.trim().is_empty() {
        EMPTY_KEY.to_string()
    } else {
        normalize_path(key)
    }
}

/// Kept for callers that name schemas and tables: dlt's normalization.
pub fn snake_case(name: &str) -> String {
    normalize_path(name)
}

/// Quote an identifier for DuckDB: wrapped in `"`, inner `"` doubled. Any
/// string is safe here, whatever the API or config put in it.
pub fn quote(ident: &str) -> String {
    let mut s = String::with_capacity(ident.len() + 2);
    s.push('"');
    for c in ident.chars() {
        if c == '"' {
            s.push('"');
        }
        // NUL cannot appear in a DuckDB identifier; it never survives
        // normalization, but quote() is also used on raw names.
        if c != '\0' {
            s.push(c);
        }
    }
    s.push('"');
    s
}

/// Quote a string literal for DuckDB.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''").replace('\0', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expectations produced by dlt 1.31's `snake_case` convention.
    #[test]
    fn names_match_dlt() {
        for (input, dlt) in [
            ("firstName", "first_name"),
            ("INVOICE_ID", "invoice_id"),
            ("HTTPServer", "http_server"),
            ("userID", "user_id"),
            ("getHTTPResponseCode", "get_http_response_code"),
            ("ABC", "abc"),
            ("SnakeCase", "snake_case"),
            ("snake_Case", "snake_case"),
            ("already_snake", "already_snake"),
            ("Größe", "gr_e"),
            ("日本語", "x"),
            ("naïve", "na_ve"),
            ("Ünïcödé Key", "_n_c_d_key"),
            ("1st", "_1st"),
            ("2ndPlace", "_2nd_place"),
            ("123", "_123"),
            ("a-b", "a_b"),
            ("a.b", "a_b"),
            ("a b", "a_b"),
            ("a+b", "axb"),
            ("a*b", "axb"),
            ("a@b", "aab"),
            ("a|b", "alb"),
            ("$ref", "_ref"),
            ("__meta", "meta"),
            ("trailing_", "trailingx"),
            ("x__y", "x__y"),
            ("a___b", "a___b"),
            ("_", "x"),
            ("  padded  ", "padded"),
            ("ö", "x"),
            ("", "_empty"),
            ("   ", "_empty"),
        ] {
            assert_eq!(normalize_key(input), dlt, "{input:?}");
        }
    }

    #[test]
    fn quoting_cannot_be_escaped() {
        assert_eq!(
            quote(r#"a"; DROP TABLE x; --"#),
            r#""a""; DROP TABLE x; --""#
        );
        assert_eq!(literal("it's"), "'it''s'");
    }
}
