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
use super::normalize::{Normalizer, Row};
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

/// One table's columns as placing rows grows them.
struct Shape {
    name: String,
    parent: Option<String>,
    columns: Vec<(String, DataType)>,
    index: FxHashMap<String, usize>,
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
    fn place<'a>(&mut self, cells: Vec<(Arc<str>, Cell<'a>)>) -> Result<Vec<(usize, Cell<'a>)>> {
        let mut out = Vec::with_capacity(cells.len());
        for (name, cell) in cells {
            let Some(source) = cell.source_type() else {
                continue;
            };
            let slot = match self.index.get(&*name) {
                None => {
                    let ty = cell.inferred_type().unwrap_or(source);
                    let c = cell.coerce(ty).unwrap_or(Cell::Null);
                    (self.add_column(name.to_string(), ty), c)
                }
                Some(&i) => {
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
        let mut rows = Vec::with_capacity(records.len() * 4);
        for record in records {
            self.normalizer.normalize_node(record, load_id, &mut rows);
        }
        self.check_keys(&rows)?;
        // Place every row before any is appended: a page is placed whole
        // or not at all.
        let mut placed = Vec::with_capacity(rows.len());
        for row in rows.drain(..) {
            let idx = match self.by_name.get(&*row.table) {
                Some(&i) => i,
                None => {
                    let shape = Shape::new(
                        row.table.to_string(),
                        row.parent.as_deref().map(String::from),
                    );
                    let i = self.tables.len();
                    self.by_name.insert(shape.name.clone(), i);
                    self.tables.push(shape);
                    i
                }
            };
            let cells = self.tables[idx]
                .place(row.cells)
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

    /// Every root row has a value for each primary-key column.
    fn check_keys(&self, rows: &[Row<'_>]) -> Result<()> {
        let Some(root) = self.tables.first().map(|t| t.name.as_str()) else {
            return Ok(());
        };
        if self.key_columns.is_empty() {
            return Ok(());
        }
        let mut record_no = self.records;
        for row in rows.iter().filter(|r| *r.table == *root) {
            record_no += 1;
            for key in &self.key_columns {
                let present = row
                    .cells
                    .iter()
                    .any(|(name, cell)| **name == **key && *cell != Cell::Null);
                if !present {
                    let fields: Vec<&str> = row
                        .cells
                        .iter()
                        .map(|(n, _)| &**n)
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
