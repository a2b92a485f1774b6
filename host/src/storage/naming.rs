//! Identifier naming: dlt's `snake_case` convention for table and column
//! names, and SQL quoting that no name can break out of.

/// The separator between a parent and a nested field name (dlt's).
pub const PATH_SEPARATOR: &str = "__";

/// Normalize an identifier the way dlt's `snake_case` naming convention
/// does: camelCase split with `_`, lower case, every run of characters
/// outside `[a-z0-9_]` replaced by `_`, a leading digit prefixed with `_`,
/// runs of underscores longer than the path separator collapsed, trailing
/// underscores replaced by `x`, and an empty result named `_`.
pub fn snake_case(name: &str) -> String {
    let name = name.trim();
    // Split camelCase: "fooBar" -> "foo_Bar", "HTTPServer" -> "HTTP_Server".
    let chars: Vec<char> = name.chars().collect();
    let mut split = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                split.push('_');
            }
        }
        split.push(c);
    }
    let lower = split.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut in_junk = false;
    for c in lower.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
            in_junk = false;
        } else {
            // dlt keeps `+` and `*` meaning as words; everything else is `_`.
            let replacement = match c {
                '+' => Some("plus"),
                '*' => Some("star"),
                _ => None,
            };
            if let Some(r) = replacement {
                out.push_str(r);
                in_junk = false;
            } else if !in_junk {
                out.push('_');
                in_junk = true;
            }
        }
    }
    // Collapse underscore runs longer than the separator.
    let mut collapsed = String::with_capacity(out.len());
    let mut run = 0;
    for c in out.chars() {
        if c == '_' {
            run += 1;
            if run <= PATH_SEPARATOR.len() {
                collapsed.push(c);
            }
        } else {
            run = 0;
            collapsed.push(c);
        }
    }
    let mut result = collapsed;
    if result.starts_with(|c: char| c.is_ascii_digit()) {
        result.insert(0, '_');
    }
    if result.ends_with('_') && result.len() > 1 && result.chars().any(|c| c != '_') {
        let trimmed = result.trim_end_matches('_');
        let n = result.len() - trimmed.len();
        result = format!("{trimmed}{}", "x".repeat(n));
    }
    if result.is_empty() {
        result.push('_');
    }
    result
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
        // snake_case, but quote() is also used on raw names.
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

    #[test]
    fn snake_case_matches_dlt_for_common_shapes() {
        assert_eq!(snake_case("firstName"), "first_name");
        assert_eq!(snake_case("INVOICE_ID"), "invoice_id");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("1st place"), "_1st_place");
        assert_eq!(snake_case("a-b.c"), "a_b_c");
        assert_eq!(snake_case("trailing_"), "trailingx");
        assert_eq!(snake_case("a___b"), "a__b");
        assert_eq!(snake_case(""), "_");
        assert_eq!(snake_case("Größe"), "gr_e");
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
