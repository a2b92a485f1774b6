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

/// A normalized name (of a table or a column) interned by a
/// [`Normalizer`]; [`Normalizer::name`] gives its text. Rows carry these
/// instead of strings: a name is copied, compared and looked up as an
/// integer (reference-counted names cost a quarter of the normalizer's
/// time in atomic counts alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sym(u32);

impl Sym {
    /// The symbol's position, for tables indexed by symbol.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One row of one table; its text borrows from the record where it can.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// The table.
    pub table: Sym,
    /// The parent table, for child tables.
    pub parent: Option<Sym>,
    /// Columns and values, in dlt's order.
    pub cells: Vec<(Sym, Cell<'a>)>,
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

/// The normalizer of one resource: its config and its interned names.
pub struct Normalizer {
    config: NormConfig,
    /// Interned names, by symbol.
    symbols: Vec<Box<str>>,
    /// Symbols by their text.
    by_text: HashMap<Box<str>, Sym>,
    /// Keys as they appear in records, to their normalized names.
    keys: HashMap<Box<str>, Sym>,
    /// Table paths to table names.
    tables: HashMap<Vec<Sym>, Sym>,
    /// Nested column names (`parent__child`) by their two halves: joined
    /// once, not for every row.
    joined: HashMap<(Sym, Sym), Sym>,
    meta: MetaNames,
    /// [`NAME_CACHE_LIMIT`] (smaller in tests).
    name_limit: usize,
}

/// Names every row needs, interned up front.
struct MetaNames {
    root: Sym,
    load_id: Sym,
    id: Sym,
    parent_id: Sym,
    list_idx: Sym,
    root_id: Sym,
    value: Sym,
}

/// Work item of the flattening stack: an object, its nesting budget, its
/// path of names, and that path joined (none at the top).
type Frame<'a> = (&'a [Pair<'a>], i64, Vec<Sym>, Option<Sym>);

/// A key and its value.
type Pair<'a> = (Cow<'a, str>, Node<'a>);

impl Normalizer {
    /// A normalizer for `config`.
    pub fn new(config: NormConfig) -> Self {
        let placeholder = Sym(0);
        let mut n = Self {
            config,
            symbols: Vec::new(),
            by_text: HashMap::default(),
            keys: HashMap::default(),
            tables: HashMap::default(),
            joined: HashMap::default(),
            name_limit: NAME_CACHE_LIMIT,
            meta: MetaNames {
                root: placeholder,
                load_id: placeholder,
                id: placeholder,
                parent_id: placeholder,
                list_idx: placeholder,
                root_id: placeholder,
                value: placeholder,
            },
        };
        n.intern_meta();
        n
    }

    fn intern_meta(&mut self) {
        let root = self.config.root_table.clone();
        self.meta = MetaNames {
            root: self.intern(&root),
            load_id: self.intern(C_LOAD_ID),
            id: self.intern(C_ID),
            parent_id: self.intern(C_PARENT_ID),
            list_idx: self.intern(C_LIST_IDX),
            root_id: self.intern(C_ROOT_ID),
            value: self.intern("value"),
        };
    }

    /// [`Normalizer::trim`] past `limit` names instead.
    #[cfg(test)]
    pub fn with_name_limit(mut self, limit: usize) -> Self {
        self.name_limit = limit;
        self
    }

    /// The text of a name.
    pub fn name(&self, sym: Sym) -> &str {
        &self.symbols[sym.index()]
    }

    /// The symbol of a name, if one was interned.
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.by_text.get(text).copied()
    }

    fn intern(&mut self, text: &str) -> Sym {
        if let Some(&s) = self.by_text.get(text) {
            return s;
        }
        let s = Sym(u32::try_from(self.symbols.len()).unwrap_or(u32::MAX));
        self.symbols.push(text.into());
        self.by_text.insert(text.into(), s);
        s
    }

    /// Forget every name once more than [`NAME_CACHE_LIMIT`] are interned
    /// (an API that sends ever-new keys only loses the cache, not memory).
    /// Only between pages: rows normalized before are invalid after it.
    /// True if it forgot them (symbols held elsewhere must go too).
    pub fn trim(&mut self) -> bool {
        if self.symbols.len() <= self.name_limit {
            return false;
        }
        self.symbols.clear();
        self.by_text.clear();
        self.keys.clear();
        self.tables.clear();
        self.joined.clear();
        self.intern_meta();
        true
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
        let path = [self.meta.root];
        let table = path[0];
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

    /// The normalized name of a record's key.
    fn key(&mut self, key: &str) -> Sym {
        if let Some(&s) = self.keys.get(key) {
            return s;
        }
        let s = self.intern(&normalize_key(key));
        self.keys.insert(key.into(), s);
        s
    }

    /// `prefix__key`, the column name of a nested field.
    fn joined(&mut self, prefix: Sym, key: Sym) -> Sym {
        if let Some(&s) = self.joined.get(&(prefix, key)) {
            return s;
        }
        let text = format!("{}{PATH_SEPARATOR}{}", self.name(prefix), self.name(key));
        let s = self.intern(&text);
        self.joined.insert((prefix, key), s);
        s
    }

    /// The table of a path (its names joined with `__`).
    fn table(&mut self, path: &[Sym]) -> Sym {
        if let Some(&t) = self.tables.get(path) {
            return t;
        }
        let text = path
            .iter()
            .map(|&s| self.name(s))
            .collect::<Vec<_>>()
            .join(PATH_SEPARATOR);
        let t = self.intern(&text);
        self.tables.insert(path.to_vec(), t);
        t
    }

    /// dlt's `_normalize_row`: one object becomes one row of `path`'s table,
    /// its lists child rows.
    #[allow(clippy::too_many_arguments)]
    fn row<'a>(
        &mut self,
        object: &'a [Pair<'a>],
        extend: &[(Sym, Cell<'a>)],
        path: &[Sym],
        table: Sym,
        parent: Option<(&str, Sym)>,
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
                cells.push((self.meta.load_id, Cell::Text(Cow::Borrowed(load_id))));
                random_id()
            }
            Some(parent) => {
                let idx = list_idx.unwrap_or(0);
                cells.push((
                    self.meta.parent_id,
                    Cell::Text(Cow::Owned(parent.to_string())),
                ));
                cells.push((self.meta.list_idx, Cell::BigInt(idx as i64)));
                nested_id(parent, self.name(table), idx)
            }
        };
        cells.push((self.meta.id, Cell::Text(Cow::Owned(row_id.clone()))));
        out.push(Row {
            table,
            parent: parent.map(|(_, t)| t),
            cells,
        });
        if lists.is_empty() {
            return;
        }
        let root_extend;
        let extend = if is_root && self.config.root_id {
            root_extend = vec![(self.meta.root_id, Cell::Text(Cow::Owned(row_id.clone())))];
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
        extend: &[(Sym, Cell<'a>)],
        path: &[Sym],
        parent: (&str, Sym),
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
                    table,
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
                        table,
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
                    cells.push((self.meta.value, leaf(scalar)));
                    cells.extend(extend.iter().cloned());
                    cells.push((
                        self.meta.parent_id,
                        Cell::Text(Cow::Owned(parent_id.to_string())),
                    ));
                    cells.push((self.meta.list_idx, Cell::BigInt(idx as i64)));
                    cells.push((
                        self.meta.id,
                        Cell::Text(Cow::Owned(nested_id(parent_id, self.name(table), idx))),
                    ));
                    out.push(Row {
                        table,
                        parent: Some(parent.1),
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
    ) -> (Vec<(Sym, Cell<'a>)>, Vec<(Vec<Sym>, &'a [Node<'a>])>) {
        let mut cells: Vec<(Sym, Cell<'a>)> = Vec::with_capacity(object.len() + 4);
        let mut lists: Vec<(Vec<Sym>, &'a [Node<'a>])> = Vec::new();
        let mut stack: Vec<Frame<'a>> = vec![(object, budget, Vec::new(), None)];
        while let Some((map, lvl, path, prefix)) = stack.pop() {
            for (k, v) in map {
                let key = self.key(k);
                match v {
                    Node::Object(inner) if lvl > 0 => {
                        let mut p = path.clone();
                        p.push(key);
                        let joined = match prefix {
                            None => key,
                            Some(prefix) => self.joined(prefix, key),
                        };
                        stack.push((inner, lvl - 1, p, Some(joined)));
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
                let name = match prefix {
                    None => key,
                    Some(prefix) => self.joined(prefix, key),
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

    /// A row with its names spelled out.
    pub(super) struct Named {
        pub table: String,
        pub parent: Option<String>,
        pub cells: Vec<(String, Cell<'static>)>,
    }

    pub(super) fn resolve(n: &Normalizer, rows: Vec<Row<'static>>) -> Vec<Named> {
        rows.into_iter()
            .map(|r| Named {
                table: n.name(r.table).to_string(),
                parent: r.parent.map(|p| n.name(p).to_string()),
                cells: r
                    .cells
                    .into_iter()
                    .map(|(s, c)| (n.name(s).to_string(), c))
                    .collect(),
            })
            .collect()
    }

    fn run(record: Value, max_nesting: u32, root_id: bool) -> Vec<Named> {
        let mut n = Normalizer::new(NormConfig {
            root_table: "t".into(),
            max_nesting,
            root_id,
        });
        let mut out = Vec::new();
        n.normalize(&record, "1.5", &mut out);
        resolve(&n, out)
    }

    fn names(row: &Named) -> Vec<&str> {
        row.cells.iter().map(|(n, _)| n.as_str()).collect()
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
            n.normalize(&record, "1.0", &mut rows);
            let rows = super::tests::resolve(&n, rows);
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
