//! A table's pending rows, held column by column in Arrow builders and
//! appended to DuckDB as one record batch per commit.
//!
//! Row by row, DuckDB's appender took a C call per value plus a
//! `duckdb::types::Value` (a copy of every string) per cell; a record batch
//! goes in as whole vectors. Each column is padded with nulls up to the
//! current row only when a value arrives (or when the batch is taken), so a
//! sparse column costs nothing per row it is absent from.

use std::sync::Arc;

use anyhow::{Result, bail};
use duckdb::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder, new_null_array,
};
use duckdb::arrow::datatypes::{DataType as ArrowType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;

use super::types::{Cell, DataType};

/// The pending rows of one table.
#[derive(Default)]
pub(super) struct Pending {
    rows: usize,
    columns: Vec<Column>,
}

enum Column {
    Bool(BooleanBuilder),
    BigInt(Int64Builder),
    Wei(Decimal128Builder),
    Double(Float64Builder),
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Column {
    fn new(ty: DataType) -> Self {
        match ty {
            DataType::Bool => Self::Bool(BooleanBuilder::new()),
            DataType::BigInt => Self::BigInt(Int64Builder::new()),
            DataType::Wei => Self::Wei(
                Decimal128Builder::new()
                    .with_precision_and_scale(38, 0)
                    .unwrap_or_default(),
            ),
            DataType::Double => Self::Double(Float64Builder::new()),
            DataType::Text | DataType::Json => Self::Text(StringBuilder::new()),
            DataType::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
        }
    }

    fn builder(&self) -> &dyn ArrayBuilder {
        match self {
            Self::Bool(b) => b,
            Self::BigInt(b) => b,
            Self::Wei(b) => b,
            Self::Double(b) => b,
            Self::Text(b) => b,
            Self::Timestamp(b) => b,
        }
    }

    fn len(&self) -> usize {
        self.builder().len()
    }

    /// Nulls up to `rows` values.
    fn pad(&mut self, rows: usize) {
        let n = rows.saturating_sub(self.len());
        if n == 0 {
            return;
        }
        match self {
            Self::Bool(b) => b.append_nulls(n),
            Self::BigInt(b) => b.append_nulls(n),
            Self::Wei(b) => b.append_nulls(n),
            Self::Double(b) => b.append_nulls(n),
            Self::Text(b) => b.append_nulls(n),
            Self::Timestamp(b) => b.append_nulls(n),
        }
    }

    /// Append a value already coerced to the column's type.
    fn push(&mut self, cell: Cell<'_>) -> Result<()> {
        match (self, cell) {
            (Self::Bool(b), Cell::Null) => b.append_null(),
            (Self::BigInt(b), Cell::Null) => b.append_null(),
            (Self::Wei(b), Cell::Null) => b.append_null(),
            (Self::Double(b), Cell::Null) => b.append_null(),
            (Self::Text(b), Cell::Null) => b.append_null(),
            (Self::Timestamp(b), Cell::Null) => b.append_null(),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Self::BigInt(b), Cell::BigInt(v)) => b.append_value(v),
            (Self::Wei(b), Cell::Wei(v)) => b.append_value(v),
            (Self::Double(b), Cell::Double(v)) => b.append_value(v),
            (Self::Text(b), Cell::Text(v)) => b.append_value(v),
            (Self::Text(b), Cell::Json(v)) => b.append_value(v),
            (Self::Timestamp(b), Cell::Timestamp(v)) => b.append_value(v),
            (_, cell) => bail!("a {cell:?} value reached a column of another type (host bug)"),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Bool(b) => Arc::new(b.finish()),
            Self::BigInt(b) => Arc::new(b.finish()),
            Self::Wei(b) => Arc::new(b.finish()),
            Self::Double(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

impl Pending {
    /// A new column (at the end), null for the rows so far.
    pub(super) fn add_column(&mut self, ty: DataType) {
        self.columns.push(Column::new(ty));
    }

    /// Append one row: `cells` are (column, value coerced to its type). A
    /// column given twice keeps the last value, as a later key does in dlt.
    pub(super) fn push_row(&mut self, cells: &mut Vec<(usize, Cell<'_>)>) -> Result<()> {
        let row = self.rows;
        for (col, cell) in cells.drain(..).rev() {
            let Some(column) = self.columns.get_mut(col) else {
                bail!("row value for column {col} of a table with fewer columns (host bug)");
            };
            if column.len() > row {
                continue;
            }
            column.pad(row);
            column.push(cell)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The pending rows as one record batch (columns named `names`, in the
    /// table's physical order), leaving nothing pending.
    pub(super) fn take(&mut self, names: &[(String, DataType)]) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.rows);
        let mut fields = Vec::with_capacity(self.columns.len());
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (column, (name, _)) in self.columns.iter_mut().zip(names) {
            column.pad(rows);
            let array = column.finish();
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array);
        }
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            arrays,
        )?))
    }
}

/// The Arrow type the builders use for a column type.
fn arrow_type(ty: DataType) -> ArrowType {
    match ty {
        DataType::Bool => ArrowType::Boolean,
        DataType::BigInt => ArrowType::Int64,
        DataType::Wei => ArrowType::Decimal128(38, 0),
        DataType::Double => ArrowType::Float64,
        DataType::Text | DataType::Json => ArrowType::Utf8,
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// `batch` (whose columns are a prefix of `columns`) with all of
/// `columns`, the missing ones null: a page shaped before its table gained
/// a column.
pub(super) fn widen(batch: RecordBatch, columns: &[(String, DataType)]) -> Result<RecordBatch> {
    let have = batch.num_columns();
    if have == columns.len() {
        return Ok(batch);
    }
    if have > columns.len() {
        bail!(
            "a batch of {have} columns for a table of {} (host bug)",
            columns.len()
        );
    }
    let rows = batch.num_rows();
    let (schema, mut arrays, _) = batch.into_parts();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (name, ty) in &columns[have..] {
        let t = arrow_type(*ty);
        arrays.push(new_null_array(&t, rows));
        fields.push(Field::new(name, t, true));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}
