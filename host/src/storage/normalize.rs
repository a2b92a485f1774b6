//! dlt's relational normalization of JSON records into rows: nested objects
//! flattened into `parent__child` columns, nested lists into child tables
//! `<table>__<field>` linked by `_dlt_parent_id`, `_dlt_list_idx` and
//! `_dlt_id` (plus `_dlt_root_id` for merge resources), lists of lists
//! through `<table>__<field>__list`, everything deeper than
//! `max_table_nesting` kept as JSON. Names follow dlt's `snake_case`.
//!
//! Pure code, no I/O; it runs on the caller's side of the loader so that
//! pages of different resources normalize in parallel.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;
use tiny_keccak::{Hasher as _, Xof as _};

use super::naming::{PATH_SEPARATOR, normalize_key, normalize_path};
use super::node::Node;
use super::types::Cell;

/// dlt's default `max_nesting`.
pub const DEFAULT_MAX_NESTING: u32 = 1000;

/// `_dlt_load_id`.
pub const C_LOAD_ID: &str = "_dlt_load_id";
/// `_dlt_id`.
pub const C_ID: &str = "_dlt_id";
/// `_dlt_parent_id`.
pub const C_PARENT_ID: &str = "_dlt_parent_id";
/// `_dlt_list_idx`.
pub const C_LIST_IDX: &str = "_dlt_list_idx";
/// `_dlt_root_id`.
pub const C_ROOT_ID: &str = "_dlt_root_id";

/// Bytes of a `_dlt_id` (dlt's `DLT_ID_LENGTH_BYTES`).
const ID_BYTES: usize = 10;

/// Distinct key spellings whose normalized names are cached per resource;
/// an API that sends ever-new keys only loses the cache, not memory.
const NAME_CACHE_LIMIT: usize = 50_000;

/// How one resource's records are normalized.
#[derive(Debug, Clone)]
pub struct NormConfig {
    /// The root table name, already normalized.
    pub root_table: String,
    /// dlt's `max_table_nesting`.
    pub max_nesting: u32,
    /// Add `_dlt_root_id` to child rows (dlt does for `merge`).
    pub root_id: bool,
}

/// One row of one table; its text borrows from the record where it can.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// The table, normalized.
    pub table: Arc<str>,
    /// The parent table, for child tables.
    pub parent: Option<Arc<str>>,
    /// Columns (normalized names) and values, in dlt's order.
    pub cells: Vec<(Arc<str>, Cell<'a>)>,
}

impl Row<'_> {
    /// The row with its text owned.
    pub fn into_owned(self) -> Row<'static> {
        Row {
            table: self.table,
            parent: self.parent,
            cells: self
                .cells
                .into_iter()
                .map(|(n, c)| (n, c.into_owned()))
                .collect(),
        }
    }
}

/// The normalizer of one resource: its config and a cache of names.
pub struct Normalizer {
    config: NormConfig,
    /// The root table's name.
    root: Arc<str>,
    names: HashMap<String, Arc<str>>,
    tables: HashMap<String, Arc<str>>,
    /// Column names of nested fields (`parent__child`), by their text:
    /// joined once, not for every row.
    joined: HashMap<String, Arc<str>>,
    /// Where a nested name is joined to be looked up.
    scratch: String,
    meta: MetaNames,
}

struct MetaNames {
    load_id: Arc<str>,
    id: Arc<str>,
    parent_id: Arc<str>,
    list_idx: Arc<str>,
    root_id: Arc<str>,
    value: Arc<str>,
}

/// Work item of the flattening stack: an object, its nesting budget, and
/// its path of normalized names.
type Frame<'a> = (&'a [Pair<'a>], i64, Vec<Arc<str>>);

/// A key and its value.
type Pair<'a> = (Cow<'a, str>, Node<'a>);

impl Normalizer {
    /// A normalizer for `config`.
    pub fn new(config: NormConfig) -> Self {
        Self {
            root: config.root_table.as_str().into(),
            config,
            names: HashMap::default(),
            tables: HashMap::default(),
            joined: HashMap::default(),
            scratch: String::new(),
            meta: MetaNames {
                load_id: C_LOAD_ID.into(),
                id: C_ID.into(),
                parent_id: C_PARENT_ID.into(),
                list_idx: C_LIST_IDX.into(),
                root_id: C_ROOT_ID.into(),
                value: "value".into(),
            },
        }
    }

    /// The config.
    pub fn config(&self) -> &NormConfig {
        &self.config
    }

    /// Normalize one record into its root row followed by its child rows.
    pub fn normalize(&mut self, record: &Value, load_id: &str, out: &mut Vec<Row<'static>>) {
        let node = Node::from(record);
        let mut rows = Vec::new();
        self.normalize_node(&node, load_id, &mut rows);
        out.extend(rows.into_iter().map(Row::into_owned));
    }

    /// [`Normalizer::normalize`] of a parsed [`Node`]; the rows borrow the
    /// record's text.
    pub fn normalize_node<'a>(
        &mut self,
        record: &'a Node<'a>,
        load_id: &'a str,
        out: &mut Vec<Row<'a>>,
    ) {
        let budget = i64::from(self.config.max_nesting);
        let path = [self.root.clone()];
        let table = &path[0];
        match record {
            Node::Object(pairs) => {
                self.row(pairs, &[], &path, table, None, None, budget, load_id, out);
            }
            other => {
                // Not an object: dlt wraps it as `{"value": ...}`.
                let wrapped = [(Cow::Borrowed("value"), other.clone())];
                let mut rows = Vec::new();
                self.row(
                    &wrapped,
                    &[],
                    &path,
                    table,
                    None,
                    None,
                    budget,
                    load_id,
                    &mut rows,
                );
                out.extend(rows.into_iter().map(|r| -> Row<'a> { r.into_owned() }));
            }
        }
    }

    fn name(&mut self, key: &str) -> Arc<str> {
        if let Some(n) = self.names.get(key) {
            return n.clone();
        }
        if self.names.len() >= NAME_CACHE_LIMIT {
            self.names.clear();
        }
        let n: Arc<str> = normalize_key(key).into();
        self.names.insert(key.to_string(), n.clone());
        n
    }

    /// The column name of field `key` nested under `path` (`a__b__key`).
    fn nested_name(&mut self, path: &[Arc<str>], key: &str) -> Arc<str> {
        self.scratch.clear();
        for p in path {
            self.scratch.push_str(p);
            self.scratch.push_str(PATH_SEPARATOR);
        }
        self.scratch.push_str(key);
        if let Some(n) = self.joined.get(self.scratch.as_str()) {
            return n.clone();
        }
        let n: Arc<str> = self.scratch.as_str().into();
        if self.joined.len() < NAME_CACHE_LIMIT {
            self.joined.insert(self.scratch.clone(), n.clone());
        }
        n
    }

    fn table(&mut self, path: &[Arc<str>]) -> Arc<str> {
        let joined = path.join(PATH_SEPARATOR);
        if let Some(t) = self.tables.get(&joined) {
            return t.clone();
        }
        let t: Arc<str> = joined.as_str().into();
        if self.tables.len() < NAME_CACHE_LIMIT {
            self.tables.insert(joined, t.clone());
        }
        t
    }

    /// dlt's `_normalize_row`: one object becomes one row of `path`'s table,
    /// its lists child rows.
    #[allow(clippy::too_many_arguments)]
    fn row<'a>(
        &mut self,
        object: &'a [Pair<'a>],
        extend: &[(Arc<str>, Cell<'a>)],
        path: &[Arc<str>],
        table: &Arc<str>,
        parent: Option<(&str, &Arc<str>)>,
        list_idx: Option<usize>,
        budget: i64,
        load_id: &'a str,
        out: &mut Vec<Row<'a>>,
    ) {
        let parent_id = parent.map(|(id, _)| id);
        let is_root = parent_id.is_none();
        let (mut cells, lists) = self.flatten(object, budget);
        cells.extend(extend.iter().cloned());
        let row_id = match parent_id {
            None => {
                cells.push((
                    self.meta.load_id.clone(),
                    Cell::Text(Cow::Borrowed(load_id)),
                ));
                random_id()
            }
            Some(parent) => {
                let idx = list_idx.unwrap_or(0);
                cells.push((
                    self.meta.parent_id.clone(),
                    Cell::Text(Cow::Owned(parent.to_string())),
                ));
                cells.push((self.meta.list_idx.clone(), Cell::BigInt(idx as i64)));
                nested_id(parent, table, idx)
            }
        };
        cells.push((self.meta.id.clone(), Cell::Text(Cow::Owned(row_id.clone()))));
        out.push(Row {
            table: table.clone(),
            parent: parent.map(|(_, t)| t.clone()),
            cells,
        });
        if lists.is_empty() {
            return;
        }
        let root_extend;
        let extend = if is_root && self.config.root_id {
            root_extend = vec![(
                self.meta.root_id.clone(),
                Cell::Text(Cow::Owned(row_id.clone())),
            )];
            &root_extend[..]
        } else {
            extend
        };
        for (list_path, items) in lists {
            let mut child_path = path.to_vec();
            child_path.extend(list_path);
            self.list(
                items,
                extend,
                &child_path,
                (&row_id, table),
                budget - 1,
                load_id,
                out,
            );
        }
    }

    /// dlt's `_normalize_list`: each item of a list becomes a row of the
    /// child table `path`.
    #[allow(clippy::too_many_arguments)]
    fn list<'a>(
        &mut self,
        items: &'a [Node<'a>],
        extend: &[(Arc<str>, Cell<'a>)],
        path: &[Arc<str>],
        parent: (&str, &Arc<str>),
        budget: i64,
        load_id: &'a str,
        out: &mut Vec<Row<'a>>,
    ) {
        let parent_id = parent.0;
        let table = self.table(path);
        for (idx, item) in items.iter().enumerate() {
            match item {
                Node::Object(m) => self.row(
                    m,
                    extend,
                    path,
                    &table,
                    Some(parent),
                    Some(idx),
                    budget,
                    load_id,
                    out,
                ),
                Node::List(_) => {
                    // A list in a list: dlt's `{"list": [...]}` row.
                    let m = [(Cow::Borrowed("list"), item.clone())];
                    let mut rows = Vec::new();
                    self.row(
                        &m,
                        extend,
                        path,
                        &table,
                        Some(parent),
                        Some(idx),
                        budget - 1,
                        load_id,
                        &mut rows,
                    );
                    out.extend(rows.into_iter().map(|r| -> Row<'a> { r.into_owned() }));
                }
                scalar => {
                    let mut cells = Vec::with_capacity(4 + extend.len());
                    cells.push((self.meta.value.clone(), leaf(scalar)));
                    cells.extend(extend.iter().cloned());
                    cells.push((
                        self.meta.parent_id.clone(),
                        Cell::Text(Cow::Owned(parent_id.to_string())),
                    ));
                    cells.push((self.meta.list_idx.clone(), Cell::BigInt(idx as i64)));
                    cells.push((
                        self.meta.id.clone(),
                        Cell::Text(Cow::Owned(nested_id(parent_id, &table, idx))),
                    ));
                    out.push(Row {
                        table: table.clone(),
                        parent: Some(parent.1.clone()),
                        cells,
                    });
                }
            }
        }
    }

    /// dlt's `_flatten`: the columns of one object (nested objects within
    /// the nesting budget flattened with `__`, in dlt's stack order) and the
    /// lists that become child tables. A later key that normalizes to the
    /// same name as an earlier one overwrites its value in place, as in dlt.
    #[allow(clippy::type_complexity)]
    fn flatten<'a>(
        &mut self,
        object: &'a [Pair<'a>],
        budget: i64,
    ) -> (
        Vec<(Arc<str>, Cell<'a>)>,
        Vec<(Vec<Arc<str>>, &'a [Node<'a>])>,
    ) {
        let mut cells: Vec<(Arc<str>, Cell<'a>)> = Vec::with_capacity(object.len() + 4);
        let mut lists: Vec<(Vec<Arc<str>>, &'a [Node<'a>])> = Vec::new();
        let mut stack: Vec<Frame<'a>> = vec![(object, budget, Vec::new())];
        while let Some((map, lvl, path)) = stack.pop() {
            for (k, v) in map {
                let key = self.name(k);
                match v {
                    Node::Object(inner) if lvl > 0 => {
                        let mut p = path.clone();
                        p.push(key);
                        stack.push((inner, lvl - 1, p));
                        continue;
                    }
                    Node::List(items) if lvl > 0 => {
                        let mut p = path.clone();
                        p.push(key);
                        match lists.iter_mut().find(|(lp, _)| *lp == p) {
                            Some(slot) => slot.1 = items,
                            None => lists.push((p, items)),
                        }
                        continue;
                    }
                    _ => {}
                }
                let name: Arc<str> = if path.is_empty() {
                    key
                } else {
                    self.nested_name(&path, &key)
                };
                let cell = leaf(v);
                match cells.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = cell,
                    None => cells.push((name, cell)),
                }
            }
        }
        (cells, lists)
    }
}

/// The cell of a JSON value kept in a column (objects and lists beyond the
/// nesting budget as JSON text).
fn leaf<'a>(v: &'a Node<'a>) -> Cell<'a> {
    match v {
        Node::Null => Cell::Null,
        Node::Bool(b) => Cell::Bool(*b),
        Node::Int(i) => Cell::BigInt(*i),
        Node::UInt(u) => match i64::try_from(*u) {
            Ok(i) => Cell::BigInt(i),
            Err(_) => Cell::Wei(i128::from(*u)),
        },
        Node::Float(f) => Cell::Double(*f),
        Node::Str(s) => Cell::Text(Cow::Borrowed(s.as_ref())),
        Node::Object(_) | Node::List(_) => Cell::Json(v.to_json()),
    }
}

/// dlt's random root `_dlt_id`: 10 random bytes, base64 without padding.
fn random_id() -> String {
    let bytes: [u8; ID_BYTES] = rand::random();
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// dlt's deterministic child `_dlt_id`: SHAKE-128 of
/// `{parent_id}_{table}_{idx}`, 10 bytes, base64 without padding.
///
/// One Keccak permutation per id (inputs are shorter than SHAKE-128's
/// 168-byte rate): tiny-keccak squeezes the first block straight from the
/// absorbing permutation, where `sha3` 0.10 permutes twice, and a child
/// row's id was a fifth of the shaping time.
pub fn nested_id(parent_id: &str, table: &str, idx: usize) -> String {
    let mut h = tiny_keccak::Shake::v128();
    h.update(parent_id.as_bytes());
    h.update(b"_");
    h.update(table.as_bytes());
    h.update(b"_");
    h.update(itoa::Buffer::new().format(idx).as_bytes());
    let mut out = [0u8; ID_BYTES];
    h.squeeze(&mut out);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
}

/// The column of a primary-key field (dotted for nested fields).
pub fn key_column(field: &str) -> String {
    field
        .split('.')
        .map(normalize_path)
        .collect::<Vec<_>>()
        .join(PATH_SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(record: Value, max_nesting: u32, root_id: bool) -> Vec<Row<'static>> {
        let mut n = Normalizer::new(NormConfig {
            root_table: "t".into(),
            max_nesting,
            root_id,
        });
        let mut out = Vec::new();
        n.normalize(&record, &Arc::from("1.5"), &mut out);
        out
    }

    fn names<'a>(row: &'a Row<'_>) -> Vec<&'a str> {
        row.cells.iter().map(|(n, _)| &**n).collect()
    }

    #[test]
    fn objects_flatten_in_dlt_order_and_lists_become_child_tables() {
        let rows = run(
            json!({"id": 1, "b": {"x": 1, "y": {"z": 2}}, "c": {"w": 3}, "tags": ["a"], "n": null}),
            DEFAULT_MAX_NESTING,
            false,
        );
        assert_eq!(
            names(&rows[0]),
            [
                "id",
                "n",
                "c__w",
                "b__x",
                "b__y__z",
                "_dlt_load_id",
                "_dlt_id"
            ]
        );
        assert_eq!(&*rows[1].table, "t__tags");
        assert_eq!(rows[1].parent.as_deref(), Some("t"));
        assert_eq!(
            names(&rows[1]),
            ["value", "_dlt_parent_id", "_dlt_list_idx", "_dlt_id"]
        );
        let root_id = &rows[0].cells[6].1;
        assert_eq!(&rows[1].cells[1].1, root_id);
    }

    #[test]
    fn lists_of_lists_go_through_list_tables() {
        let rows = run(json!({"m": [[1, 2], [3]]}), DEFAULT_MAX_NESTING, true);
        let tables: Vec<&str> = rows.iter().map(|r| &*r.table).collect();
        assert_eq!(
            tables,
            [
                "t",
                "t__m",
                "t__m__list",
                "t__m__list",
                "t__m",
                "t__m__list"
            ]
        );
        assert_eq!(rows[2].parent.as_deref(), Some("t__m"));
        assert_eq!(
            names(&rows[2]),
            [
                "value",
                "_dlt_root_id",
                "_dlt_parent_id",
                "_dlt_list_idx",
                "_dlt_id"
            ]
        );
    }

    #[test]
    fn nesting_budget_keeps_json() {
        let rows = run(json!({"o": {"a": {"b": 1}}, "l": [1]}), 0, false);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cells[0].1, Cell::Json(r#"{"a":{"b":1}}"#.into()));
        let rows = run(json!({"o": {"a": {"b": 1}}}), 1, false);
        assert_eq!(names(&rows[0])[0], "o__a");
    }

    #[test]
    fn child_ids_are_dlts() {
        // dlt's digest128(f"{parent}_{table}_{idx}", 10), that is
        // base64(hashlib.shake_128(v.encode()).digest(10)).rstrip("="),
        // computed with Python's hashlib.
        assert_eq!(nested_id("abc", "t__x", 0), "8RTxKr4JXR5gEg");
        assert_eq!(nested_id("abc", "t__x", 1), "po4bLlvlNeXJTA");
        assert_eq!(
            nested_id("7bwGDv1NdH2Vmw", "items__line_items", 12),
            "OYHKdpYhV0SI0g"
        );
    }

    #[test]
    fn deep_records_normalize() {
        // serde_json refuses JSON nested deeper than 128 levels, so records
        // are at most that deep; the normalizer recurses once per list.
        let mut v = json!(1);
        for i in 0..120 {
            v = if i % 2 == 0 {
                json!({ "a": v })
            } else {
                json!([v])
            };
        }
        let rows = run(json!({ "root": v }), DEFAULT_MAX_NESTING, false);
        assert_eq!(rows.len(), 61);
    }

    #[test]
    fn dotted_key_column() {
        assert_eq!(
            key_column("transaction_info.transactionId"),
            "transaction_info__transaction_id"
        );
    }
}

/// Property tests ("fuzz targets") of the normalizer and the type system:
/// any record normalizes without panicking into rows whose names are valid
/// snake_case identifiers, whose child rows point at rows of the same
/// record, and whose values all find a column. `just fuzz` runs them with
/// many cases.
#[cfg(test)]
mod fuzz {
    use std::collections::HashSet;

    use super::*;
    use crate::storage::types::DataType;
    use proptest::prelude::*;

    use crate::fuzz_support::config;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            "\\PC{0,12}".prop_map(Value::from),
            Just(Value::from("2024-01-01T10:00:00Z")),
        ];
        let key = prop_oneof!["\\PC{0,10}", "[a-zA-Z_]{1,6}", Just("__".to_string())];
        leaf.prop_recursive(6, 96, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn valid_name(n: &str) -> bool {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_numeric())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_record_normalizes_into_linked_rows(record in json_value(), nesting in 0u32..4, root_id: bool) {
            let mut n = Normalizer::new(NormConfig {
                root_table: "t".into(),
                max_nesting: if nesting == 3 { DEFAULT_MAX_NESTING } else { nesting },
                root_id,
            });
            let mut rows = Vec::new();
            n.normalize(&record, &Arc::from("1.0"), &mut rows);
            prop_assert!(!rows.is_empty());
            prop_assert_eq!(&*rows[0].table, "t");
            let mut ids = HashSet::new();
            for row in &rows {
                prop_assert!(row.table.split("__").all(valid_name), "table {}", row.table);
                for (name, cell) in &row.cells {
                    prop_assert!(name.split("__").all(valid_name), "column {}", name);
                    // Every value finds a column: its inferred type accepts it.
                    if let Some(ty) = cell.inferred_type() {
                        prop_assert!(cell.clone().coerce(ty).is_some(), "{:?} into {:?}", cell, ty);
                    }
                }
                let get = |c: &str| row.cells.iter().find(|(n, _)| &**n == c).map(|(_, v)| v.clone());
                if let Some(Cell::Text(parent)) = get(C_PARENT_ID) {
                    prop_assert!(ids.contains(&parent), "child row before its parent");
                }
                match get(C_ID) {
                    Some(Cell::Text(id)) => { ids.insert(id); }
                    other => prop_assert!(false, "no _dlt_id: {:?}", other),
                }
            }
        }

        #[test]
        fn coercion_never_panics_and_never_makes_null(value in json_value()) {
            let node = Node::from(&value);
            let cell = super::leaf(&node);
            for ty in [DataType::Bool, DataType::BigInt, DataType::Wei, DataType::Double, DataType::Text, DataType::Timestamp, DataType::Json] {
                if let Some(c) = cell.clone().coerce(ty) {
                    prop_assert!(c != Cell::Null || cell == Cell::Null);
                }
            }
        }
    }
}
