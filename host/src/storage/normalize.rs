//! Normalization of JSON records into rows: nested objects flattened into
//! `parent__child` columns (dlt's layout), names in snake_case, a DuckDB
//! type inferred per value. Pure code, no I/O.

use serde_json::Value;

use super::naming::{PATH_SEPARATOR, snake_case};

/// The column types the loader creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `BOOLEAN`
    Bool,
    /// `BIGINT`
    BigInt,
    /// `HUGEINT`: integers beyond 64 bits that JSON allows.
    HugeInt,
    /// `DOUBLE`
    Double,
    /// `VARCHAR`
    Text,
    /// `JSON` text of a nested list (child tables come with full dlt layout).
    Json,
}

impl ColumnType {
    /// The DuckDB type name.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Bool => "BOOLEAN",
            Self::BigInt => "BIGINT",
            Self::HugeInt => "HUGEINT",
            Self::Double => "DOUBLE",
            Self::Text => "VARCHAR",
            Self::Json => "VARCHAR",
        }
    }

    /// dlt's suffix for a variant column holding values of this type.
    pub fn variant_suffix(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::BigInt => "bigint",
            Self::HugeInt => "wei",
            Self::Double => "double",
            Self::Text => "text",
            Self::Json => "json",
        }
    }

    /// True if and only if a column of this type can store `value` without
    /// loss (integers widen into `DOUBLE` only when exactly representable).
    pub fn accepts(self, value: &Cell) -> bool {
        matches!(
            (self, value),
            (_, Cell::Null)
                | (Self::Bool, Cell::Bool(_))
                | (Self::BigInt, Cell::BigInt(_))
                | (Self::HugeInt, Cell::BigInt(_) | Cell::HugeInt(_))
                | (Self::Double, Cell::Double(_))
                | (Self::Text, Cell::Text(_))
                | (Self::Json, Cell::Json(_))
        ) || matches!((self, value), (Self::Double, Cell::BigInt(i)) if i.unsigned_abs() < (1 << 53))
    }
}

/// One typed value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    BigInt(i64),
    /// A wider integer.
    HugeInt(i128),
    /// A float.
    Double(f64),
    /// A string.
    Text(String),
    /// A nested list, as JSON text.
    Json(String),
}

impl Cell {
    /// The natural column type of this value (`None` for null).
    pub fn column_type(&self) -> Option<ColumnType> {
        Some(match self {
            Self::Null => return None,
            Self::Bool(_) => ColumnType::Bool,
            Self::BigInt(_) => ColumnType::BigInt,
            Self::HugeInt(_) => ColumnType::HugeInt,
            Self::Double(_) => ColumnType::Double,
            Self::Text(_) => ColumnType::Text,
            Self::Json(_) => ColumnType::Json,
        })
    }
}

/// A flattened record: (column name, value) in first-seen order.
pub type FlatRow = Vec<(String, Cell)>;

/// Flatten one record. A record that is not an object (a bare string or
/// number, as some APIs return) becomes a single `value` column, as dlt does.
pub fn flatten(record: &Value) -> FlatRow {
    let mut row = Vec::new();
    match record {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(&snake_case(k), v, &mut row, 1);
            }
        }
        other => flatten_into("value", other, &mut row, 1),
    }
    row
}

/// Objects nested deeper than this are stored as JSON rather than split
/// into ever more columns; this also bounds recursion on hostile input.
const MAX_FLATTEN_DEPTH: usize = 32;

fn flatten_into(name: &str, value: &Value, row: &mut FlatRow, depth: usize) {
    match value {
        Value::Object(map) if depth < MAX_FLATTEN_DEPTH => {
            if map.is_empty() {
                // dlt drops empty objects: there is nothing to store.
                return;
            }
            for (k, v) in map {
                let child = format!("{name}{PATH_SEPARATOR}{}", snake_case(k));
                flatten_into(&child, v, row, depth + 1);
            }
        }
        Value::Object(_) | Value::Array(_) => {
            row.push((name.to_string(), Cell::Json(value.to_string())))
        }
        Value::Null => row.push((name.to_string(), Cell::Null)),
        Value::Bool(b) => row.push((name.to_string(), Cell::Bool(*b))),
        Value::Number(n) => {
            let cell = if let Some(i) = n.as_i64() {
                Cell::BigInt(i)
            } else if let Some(u) = n.as_u64() {
                Cell::HugeInt(i128::from(u))
            } else {
                Cell::Double(n.as_f64().unwrap_or(f64::NAN))
            };
            row.push((name.to_string(), cell));
        }
        Value::String(s) => row.push((name.to_string(), Cell::Text(s.clone()))),
    }
}

/// Look up a primary-key field (possibly a dotted path) in a flattened row.
pub fn key_column(field: &str) -> String {
    field
        .split('.')
        .map(snake_case)
        .collect::<Vec<_>>()
        .join(PATH_SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_flatten_with_double_underscore() {
        let row = flatten(
            &json!({"id": 1, "billingAddress": {"zipCode": "123", "geo": {"lat": 1.5}}, "tags": ["a"], "gone": null}),
        );
        assert_eq!(
            row,
            vec![
                ("id".into(), Cell::BigInt(1)),
                ("billing_address__zip_code".into(), Cell::Text("123".into())),
                ("billing_address__geo__lat".into(), Cell::Double(1.5)),
                ("tags".into(), Cell::Json("[\"a\"]".into())),
                ("gone".into(), Cell::Null),
            ]
        );
    }

    #[test]
    fn scalars_become_a_value_column() {
        assert_eq!(
            flatten(&json!("x")),
            vec![("value".into(), Cell::Text("x".into()))]
        );
    }

    #[test]
    fn huge_integers_are_not_truncated() {
        let row = flatten(&json!({"n": u64::MAX}));
        assert_eq!(row[0].1, Cell::HugeInt(i128::from(u64::MAX)));
        assert!(ColumnType::HugeInt.accepts(&Cell::BigInt(1)));
        assert!(!ColumnType::BigInt.accepts(&Cell::HugeInt(1)));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut v = json!(1);
        for _ in 0..100 {
            v = json!({"a": v});
        }
        let row = flatten(&v);
        assert_eq!(row.len(), 1);
        assert!(matches!(row[0].1, Cell::Json(_)));
    }

    #[test]
    fn dotted_key_column() {
        assert_eq!(
            key_column("transaction_info.transactionId"),
            "transaction_info__transaction_id"
        );
    }
}
