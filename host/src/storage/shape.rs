//! The caller's side of loading a page: records normalized into dlt's rows
//! (see [`super::normalize`]), checked for their primary key, and placed
//! into columns with dlt's types and coercions, ready as one Arrow record
//! batch per table. The loader thread is left with DuckDB's own work.
//!
//! This runs on the task that fetched the page, so on a 2-core machine the
//! per-value work (names, coercions, Arrow builders) and DuckDB's insert
//! run side by side instead of one after the other on the loader thread,
//! and pages of different resources are shaped in parallel.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use duckdb::arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use super::columns::Pending;
use super::node::Node;
use super::normalize::{Normalizer, Row, Sym};
use super::types::{Cell, DataType};

/// A table as the loader knows it when a resource begins.
#[derive(Debug, Clone)]
pub(super) struct TableSchema {
    pub name: String,
    pub parent: Option<String>,
    pub columns: Vec<(String, DataType)>,
}

/// One page's rows of one table.
pub(super) struct TableBatch {
    /// The table, normalized.
    pub name: String,
    /// Its parent table, for child tables.
    pub parent: Option<String>,
    /// Columns the table gained since its last batch (they close the
    /// batch's columns), in order.
    pub new_columns: Vec<(String, DataType)>,
    /// The rows, one column per column of the table so far.
    pub batch: RecordBatch,
}

/// Positions (of columns or tables) by the normalizer's symbol for their
/// name, so a row's names are looked up as integers; cleared when the
/// normalizer forgets its names.
#[derive(Default)]
struct BySym(Vec<u32>);

impl BySym {
    fn get(&self, sym: Sym) -> Option<usize> {
        // Stored plus one: 0 is "not looked up yet".
        match self.0.get(sym.index()) {
            Some(&i) if i > 0 => Some(i as usize - 1),
            _ => None,
        }
    }

    fn set(&mut self, sym: Sym, position: usize) {
        if self.0.len() <= sym.index() {
            self.0.resize(sym.index() + 1, 0);
        }
        self.0[sym.index()] = u32::try_from(position + 1).unwrap_or(0);
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// One table's columns as placing rows grows them.
struct Shape {
    name: String,
    parent: Option<String>,
    columns: Vec<(String, DataType)>,
    index: FxHashMap<String, usize>,
    /// `index` by symbol.
    by_sym: BySym,
    /// Columns the loader has been told about.
    sent: usize,
    pending: Pending,
}

impl Shape {
    fn new(name: String, parent: Option<String>) -> Self {
        Self {
            name,
            parent,
            columns: Vec::new(),
            index: FxHashMap::default(),
            by_sym: BySym::default(),
            sent: 0,
            pending: Pending::default(),
        }
    }

    fn add_column(&mut self, name: String, ty: DataType) -> usize {
        let i = self.columns.len();
        self.index.insert(name.clone(), i);
        self.columns.push((name, ty));
        self.pending.add_column(ty);
        i
    }

    /// Place a row's cells into columns: coerce each value into its
    /// column's type, or into the variant column `name__v_<type>` when dlt
    /// would not coerce it; new columns in order of their first non-null
    /// value. Nulls need no column.
    fn place<'a>(
        &mut self,
        cells: Vec<(Sym, Cell<'a>)>,
        names: &Normalizer,
    ) -> Result<Vec<(usize, Cell<'a>)>> {
        let mut out = Vec::with_capacity(cells.len());
        for (sym, cell) in cells {
            let Some(source) = cell.source_type() else {
                continue;
            };
            let name = names.name(sym);
            let known = self.by_sym.get(sym).or_else(|| {
                let found = self.index.get(name).copied();
                if let Some(i) = found {
                    self.by_sym.set(sym, i);
                }
                found
            });
            let slot = match known {
                None => {
                    let ty = cell.inferred_type().unwrap_or(source);
                    let c = cell.coerce(ty).unwrap_or(Cell::Null);
                    let i = self.add_column(name.to_string(), ty);
                    self.by_sym.set(sym, i);
                    (i, c)
                }
                Some(i) => {
                    let ty = self.columns[i].1;
                    match cell.coerce_or_keep(ty) {
                        Ok(c) => (i, c),
                        Err(cell) => {
                            let variant = format!("{name}__v_{}", source.name());
                            match self.index.get(&variant) {
                                Some(&v) => {
                                    let vty = self.columns[v].1;
                                    match cell.coerce(vty) {
                                        Some(c) => (v, c),
                                        None => bail!(
                                            "table `{}`: a {} value of `{name}` fits neither its column ({}) nor the variant column `{variant}` ({})",
                                            self.name,
                                            source.name(),
                                            ty.name(),
                                            vty.name()
                                        ),
                                    }
                                }
                                None => {
                                    let vty = cell.inferred_type().unwrap_or(source);
                                    let c = cell.coerce(vty).unwrap_or(Cell::Null);
                                    (self.add_column(variant, vty), c)
                                }
                            }
                        }
                    }
                }
            };
            out.push(slot);
        }
        Ok(out)
    }
}

/// One resource's shaping state: its normalizer and its tables' columns.
pub(super) struct Shaper {
    resource: String,
    normalizer: Normalizer,
    /// The primary key as configured, for messages.
    primary_key: Vec<String>,
    key_columns: Vec<String>,
    /// Root table first, then child tables in order of appearance.
    tables: Vec<Shape>,
    by_name: FxHashMap<String, usize>,
    /// `by_name` by symbol.
    table_by_sym: BySym,
    /// Records shaped so far (with those of an interrupted run), to number
    /// records in messages.
    records: u64,
    /// A page failed: its resource stops, later pages are refused.
    failed: Option<String>,
}

impl Shaper {
    pub fn new(
        resource: String,
        normalizer: Normalizer,
        primary_key: Vec<String>,
        key_columns: Vec<String>,
        tables: Vec<TableSchema>,
        records: u64,
    ) -> Self {
        let mut s = Self {
            resource,
            normalizer,
            primary_key,
            key_columns,
            tables: Vec::new(),
            by_name: FxHashMap::default(),
            table_by_sym: BySym::default(),
            records,
            failed: None,
        };
        for t in tables {
            let mut shape = Shape::new(t.name, t.parent);
            for (name, ty) in t.columns {
                shape.add_column(name, ty);
            }
            shape.sent = shape.columns.len();
            s.by_name.insert(shape.name.clone(), s.tables.len());
            s.tables.push(shape);
        }
        s
    }

    /// Shape one page, all or nothing: one batch per table with rows.
    pub fn page(&mut self, records: &[Node<'_>], load_id: &Arc<str>) -> Result<Vec<TableBatch>> {
        if let Some(e) = &self.failed {
            bail!(
                "not loaded: an earlier page of resource `{}` failed: {e}",
                self.resource
            );
        }
        let result = self.page_inner(records, load_id);
        if let Err(e) = &result {
            self.failed = Some(format!("{e:#}"));
            // Free any partly placed rows: no later page is shaped.
            for t in &mut self.tables {
                t.pending = Pending::default();
            }
        }
        result
    }

    fn page_inner(&mut self, records: &[Node<'_>], load_id: &Arc<str>) -> Result<Vec<TableBatch>> {
        if self.normalizer.trim() {
            self.table_by_sym.clear();
            for t in &mut self.tables {
                t.by_sym.clear();
            }
        }
        let mut rows = Vec::with_capacity(records.len() * 4);
        for record in records {
            self.normalizer.normalize_node(record, load_id, &mut rows);
        }
        self.check_keys(&rows)?;
        // Place every row before any is appended: a page is placed whole
        // or not at all.
        let mut placed = Vec::with_capacity(rows.len());
        for row in rows.drain(..) {
            let idx = self.table_of(&row);
            let cells = self.tables[idx]
                .place(row.cells, &self.normalizer)
                .with_context(|| format!("resource `{}`", self.resource))?;
            placed.push((idx, cells));
        }
        for (idx, mut cells) in placed {
            self.tables[idx].pending.push_row(&mut cells)?;
        }
        self.records += records.len() as u64;
        let mut out = Vec::new();
        for t in &mut self.tables {
            let Some(batch) = t.pending.take(&t.columns)? else {
                continue;
            };
            out.push(TableBatch {
                name: t.name.clone(),
                parent: t.parent.clone(),
                new_columns: t.columns[t.sent..].to_vec(),
                batch,
            });
            t.sent = t.columns.len();
        }
        Ok(out)
    }

    /// The position of a row's table, added on its first row.
    fn table_of(&mut self, row: &Row<'_>) -> usize {
        if let Some(i) = self.table_by_sym.get(row.table) {
            return i;
        }
        let name = self.normalizer.name(row.table);
        let idx = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                let parent = row.parent.map(|p| self.normalizer.name(p).to_string());
                let shape = Shape::new(name.to_string(), parent);
                let i = self.tables.len();
                self.by_name.insert(shape.name.clone(), i);
                self.tables.push(shape);
                i
            }
        };
        self.table_by_sym.set(row.table, idx);
        idx
    }

    /// Every root row has a value for each primary-key column.
    fn check_keys(&self, rows: &[Row<'_>]) -> Result<()> {
        if self.key_columns.is_empty() {
            return Ok(());
        }
        // A key column no row names yet has no symbol: no row has it.
        let keys: Vec<(&String, Option<Sym>)> = self
            .key_columns
            .iter()
            .map(|k| (k, self.normalizer.lookup(k)))
            .collect();
        let mut record_no = self.records;
        for row in rows.iter().filter(|r| r.parent.is_none()) {
            record_no += 1;
            for &(key, sym) in &keys {
                let present = row
                    .cells
                    .iter()
                    .any(|(name, cell)| Some(*name) == sym && *cell != Cell::Null);
                if !present {
                    let fields: Vec<&str> = row
                        .cells
                        .iter()
                        .map(|(n, _)| self.normalizer.name(*n))
                        .filter(|n| !n.starts_with("_dlt_"))
                        .take(20)
                        .collect();
                    bail!(
                        "record {record_no} of resource `{}` has no value for its primary key `{}` (column `{key}`); \
                         the record's columns are: {}. Set `primary_key` on the resource to a field the records have",
                        self.resource,
                        self.primary_key.join(", "),
                        fields.join(", ")
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::normalize::NormConfig;
    use serde_json::{Value, json};

    fn columns(batch: &TableBatch) -> Vec<String> {
        batch
            .batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn pages_shape_the_same_after_the_normalizer_forgets_its_names() {
        let normalizer = Normalizer::new(NormConfig {
            root_table: "t".into(),
            max_nesting: 1000,
            root_id: false,
        })
        // Forgets its names before almost every page.
        .with_name_limit(10);
        let mut shaper = Shaper::new(
            "t".into(),
            normalizer,
            vec!["id".into()],
            vec!["id".into()],
            Vec::new(),
            0,
        );
        let load_id: Arc<str> = "1.0".into();
        let mut seen = Vec::new();
        for page in 0..4 {
            // New keys on every page, and the same ones again.
            let records: Vec<Value> = (0..3)
                .map(|i| {
                    json!({
                        "id": page * 10 + i,
                        format!("k{page}"): "x",
                        "o": {"a": i, format!("n{page}"): true},
                        "l": [{"v": i}]
                    })
                })
                .collect();
            let nodes: Vec<Node<'_>> = records.iter().map(Node::from).collect();
            let batches = shaper.page(&nodes, &load_id).unwrap();
            let names: Vec<&str> = batches.iter().map(|b| b.name.as_str()).collect();
            assert_eq!(names, ["t", "t__l"], "page {page}");
            let root = &batches[0];
            assert_eq!(root.batch.num_rows(), 3);
            // The columns so far, each once, the new ones last.
            let cols = columns(root);
            for c in &cols {
                assert_eq!(cols.iter().filter(|x| *x == c).count(), 1, "{c} twice");
            }
            for new in [format!("k{page}"), format!("o__n{page}")] {
                assert!(cols.contains(&new), "page {page}: {cols:?}");
            }
            assert!(cols.contains(&"o__a".to_string()));
            for old in &seen {
                assert!(cols.contains(old), "page {page} lost {old}");
            }
            seen = cols;
            assert_eq!(batches[1].batch.num_rows(), 3);
        }
        // The primary-key check still finds `id` after names were forgotten.
        let missing = [json!({"other": 1})];
        let nodes: Vec<Node<'_>> = missing.iter().map(Node::from).collect();
        let Err(err) = shaper.page(&nodes, &load_id) else {
            panic!("a record without its primary key was shaped");
        };
        let err = err.to_string();
        assert!(err.contains("no value for its primary key"), "{err}");
    }
}
