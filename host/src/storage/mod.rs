//! Loading records into DuckDB: one schema per source, one table per
//! resource, dlt's layout (`_dlt_load_id`, `_dlt_id`, `_dlt_loads`), write
//! dispositions `append`, `replace` and `merge`, and resume checkpoints
//! committed in the same transaction as the rows they cover.
//!
//! All DuckDB work happens on one dedicated OS thread, off the async
//! runtime; the sync sends it pages over a bounded channel, so memory is
//! bounded by a fixed number of in-flight pages.

pub mod naming;
pub mod normalize;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use duckdb::Connection;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use naming::{literal, quote};
use normalize::{Cell, ColumnType, FlatRow, flatten, key_column};

/// How records are written (dlt's write dispositions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Add rows.
    Append,
    /// Replace the table with this run's rows, atomically at the end.
    Replace,
    /// Upsert on the primary key.
    Merge,
}

/// What the loader needs to know about a resource's table.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The resource name (the checkpoint key).
    pub resource: String,
    /// The table name (normalized by the loader).
    pub table: String,
    /// Primary key fields as the API names them (dotted for nested).
    pub primary_key: Vec<String>,
    /// The write disposition.
    pub disposition: Disposition,
}

/// Rows buffered before a flush commits them with their checkpoint.
const FLUSH_ROWS: usize = 20_000;

/// The schema holding staging tables.
const STAGING_SCHEMA: &str = "_extract_staging";

/// The checkpoint table, in each source's schema.
const CHECKPOINTS: &str = "_extract_checkpoints";

/// The incremental state table, in each source's schema.
const STATE: &str = "_extract_state";

/// What a resource starts from: where an interrupted run stopped, and the
/// incremental state of the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// The checkpoint to resume after, if a run was interrupted.
    pub checkpoint: Option<String>,
    /// The stored incremental state.
    pub state: Option<String>,
}

enum Command {
    Begin {
        spec: TableSpec,
        reply: oneshot::Sender<Result<Resume>>,
    },
    Page {
        resource: String,
        records: Vec<Value>,
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    Finish {
        resource: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Abort {
        resource: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Complete {
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A handle to the loader thread.
#[derive(Clone)]
pub struct Loader {
    tx: mpsc::Sender<Command>,
    load_id: String,
}

/// The depth of the page queue: at most this many pages wait for the loader.
const QUEUE_PAGES: usize = 8;

impl Loader {
    /// Open (or create) the DuckDB file and start the loader thread.
    pub fn open(path: &Path, schema: &str) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening DuckDB file {}", path.display()))?;
        let load_id = new_load_id();
        let mut db = Db::new(
            conn,
            path.to_path_buf(),
            naming::snake_case(schema),
            load_id.clone(),
        )?;
        db.init().context("preparing the DuckDB schema")?;
        let (tx, mut rx) = mpsc::channel::<Command>(QUEUE_PAGES);
        std::thread::Builder::new()
            .name("duckdb-loader".into())
            .spawn(move || {
                while let Some(cmd) = rx.blocking_recv() {
                    db.handle(cmd);
                }
            })
            .context("starting the loader thread")?;
        Ok(Self { tx, load_id })
    }

    /// This run's load id (dlt's format: Unix time with microseconds).
    pub fn load_id(&self) -> &str {
        &self.load_id
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| anyhow!("the DuckDB loader stopped"))?;
        rx.await.map_err(|_| anyhow!("the DuckDB loader stopped"))?
    }

    /// Prepare a resource's table; returns its stored checkpoint and state.
    pub async fn begin(&self, spec: TableSpec) -> Result<Resume> {
        self.call(|reply| Command::Begin { spec, reply }).await
    }

    /// Queue one page of records. The returned future resolves once the
    /// loader has normalized (and maybe committed) them; callers may fetch
    /// the next page meanwhile.
    pub async fn page(
        &self,
        resource: &str,
        records: Vec<Value>,
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
    ) -> Result<oneshot::Receiver<Result<()>>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Page {
                resource: resource.to_string(),
                records,
                partition,
                checkpoint,
                state,
                reply,
            })
            .await
            .map_err(|_| anyhow!("the DuckDB loader stopped"))?;
        Ok(rx)
    }

    /// Commit everything of a completed resource (swap a replaced table,
    /// clear its checkpoints).
    pub async fn finish(&self, resource: &str) -> Result<()> {
        let resource = resource.to_string();
        self.call(|reply| Command::Finish { resource, reply }).await
    }

    /// Commit what a failed resource loaded so far, keeping its checkpoint
    /// so the next run resumes; a replace table keeps its old rows.
    pub async fn abort(&self, resource: &str) -> Result<()> {
        let resource = resource.to_string();
        self.call(|reply| Command::Abort { resource, reply }).await
    }

    /// Record the load in `_dlt_loads`.
    pub async fn complete(&self) -> Result<()> {
        self.call(|reply| Command::Complete { reply }).await
    }
}

fn new_load_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// A table's known columns, in physical order.
#[derive(Default)]
struct Columns {
    list: Vec<(String, ColumnType)>,
    index: HashMap<String, usize>,
}

impl Columns {
    fn push(&mut self, name: String, ty: ColumnType) {
        self.index.insert(name.clone(), self.list.len());
        self.list.push((name, ty));
    }
}

struct TableState {
    spec: TableSpec,
    table: String,
    key_columns: Vec<String>,
    columns: Columns,
    exists: bool,
    pending: Vec<FlatRow>,
    pending_checkpoints: Vec<(String, Option<String>)>,
    pending_state: Option<String>,
    /// The replace disposition's staging table exists for this run.
    replace_staging: bool,
    rows_loaded: u64,
}

struct Db {
    conn: Connection,
    /// The attached database's name (the file stem): every name is
    /// qualified with it, since a schema named like the file would
    /// otherwise be ambiguous.
    catalog: String,
    path: PathBuf,
    schema: String,
    load_id: String,
    tables: HashMap<String, TableState>,
}

impl Db {
    fn new(conn: Connection, path: PathBuf, schema: String, load_id: String) -> Result<Self> {
        let catalog: String = conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
        Ok(Self {
            conn,
            catalog,
            path,
            schema,
            load_id,
            tables: HashMap::new(),
        })
    }

    /// `"catalog"."schema"`.
    fn qualified(&self, schema: &str) -> String {
        format!("{}.{}", quote(&self.catalog), quote(schema))
    }

    fn init(&mut self) -> Result<()> {
        let s = self.qualified(&self.schema);
        self.conn.execute_batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE SCHEMA IF NOT EXISTS {staging};
             CREATE TABLE IF NOT EXISTS {s}.{cp} (resource VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, checkpoint VARCHAR, load_id VARCHAR, updated_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (resource, partition_key));
             CREATE TABLE IF NOT EXISTS {s}.{st} (resource VARCHAR PRIMARY KEY, state VARCHAR, load_id VARCHAR, updated_at TIMESTAMPTZ DEFAULT now());
             CREATE TABLE IF NOT EXISTS {s}._dlt_loads (load_id VARCHAR NOT NULL, schema_name VARCHAR, status BIGINT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, schema_version_hash VARCHAR);",
            staging = self.qualified(STAGING_SCHEMA),
            cp = quote(CHECKPOINTS),
            st = quote(STATE),
        ))?;
        Ok(())
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Begin { spec, reply } => {
                let _ = reply.send(self.begin(spec));
            }
            Command::Page {
                resource,
                records,
                partition,
                checkpoint,
                state,
                reply,
            } => {
                let _ = reply.send(self.page(&resource, records, partition, checkpoint, state));
            }
            Command::Finish { resource, reply } => {
                let _ = reply.send(self.finish(&resource, true));
            }
            Command::Abort { resource, reply } => {
                let _ = reply.send(self.finish(&resource, false));
            }
            Command::Complete { reply } => {
                let _ = reply.send(self.complete());
            }
        }
    }

    fn begin(&mut self, spec: TableSpec) -> Result<Resume> {
        let table = naming::snake_case(&spec.table);
        let key_columns = spec.primary_key.iter().map(|k| key_column(k)).collect();
        let columns = self.read_columns(&self.schema.clone(), &table)?;
        let exists = !columns.list.is_empty();
        let checkpoint = self.stored_text(
            &format!(
                "SELECT checkpoint FROM {}.{} WHERE resource = ? AND partition_key = ''",
                self.qualified(&self.schema),
                quote(CHECKPOINTS)
            ),
            &spec.resource,
        )?;
        let stored_state = self.stored_text(
            &format!(
                "SELECT state FROM {}.{} WHERE resource = ?",
                self.qualified(&self.schema),
                quote(STATE)
            ),
            &spec.resource,
        )?;
        let mut state = TableState {
            spec,
            table,
            key_columns,
            columns,
            exists,
            pending: Vec::new(),
            pending_checkpoints: Vec::new(),
            pending_state: None,
            replace_staging: false,
            rows_loaded: 0,
        };
        if state.spec.disposition == Disposition::Replace {
            // A resumed replace continues filling the staging table its
            // interrupted run left; a fresh one starts it empty.
            let staging = self.staging_name(&state.table, "replace");
            let staged = self.read_columns(STAGING_SCHEMA, &staging)?;
            if checkpoint.is_some() && !staged.list.is_empty() {
                state.columns = staged;
                state.replace_staging = true;
            } else {
                self.conn.execute_batch(&format!(
                    "DROP TABLE IF EXISTS {}.{}",
                    self.qualified(STAGING_SCHEMA),
                    quote(&staging)
                ))?;
            }
        }
        self.tables.insert(state.spec.resource.clone(), state);
        Ok(Resume {
            checkpoint,
            state: stored_state,
        })
    }

    /// The text of the first row of `sql` (one `?`: the resource), if any.
    fn stored_text(&self, sql: &str, resource: &str) -> Result<Option<String>> {
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query(duckdb::params![resource])?;
        Ok(match rows.next()? {
            Some(row) => row.get(0)?,
            None => None,
        })
    }

    fn read_columns(&self, schema: &str, table: &str) -> Result<Columns> {
        let mut stmt = self.conn.prepare(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        )?;
        let mut rows = stmt.query(duckdb::params![self.catalog, schema, table])?;
        let mut columns = Columns::default();
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let ty: String = row.get(1)?;
            let ty = match ty.as_str() {
                "BOOLEAN" => ColumnType::Bool,
                "BIGINT" => ColumnType::BigInt,
                "HUGEINT" => ColumnType::HugeInt,
                "DOUBLE" => ColumnType::Double,
                _ => ColumnType::Text,
            };
            columns.push(name, ty);
        }
        Ok(columns)
    }

    fn staging_name(&self, table: &str, kind: &str) -> String {
        format!("{}__{}__{}", self.schema, table, kind)
    }

    fn state(&mut self, resource: &str) -> Result<&mut TableState> {
        self.tables
            .get_mut(resource)
            .ok_or_else(|| anyhow!("resource `{resource}` was not begun (host bug)"))
    }

    fn page(
        &mut self,
        resource: &str,
        records: Vec<Value>,
        partition: Option<String>,
        checkpoint: Option<String>,
        new_state: Option<String>,
    ) -> Result<()> {
        let state = self.state(resource)?;
        let first_row = state.rows_loaded as usize + state.pending.len();
        // A page is loaded whole or not at all: validate every row first.
        let mut rows = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            let row = flatten(record);
            for key in &state.key_columns {
                let present = row
                    .iter()
                    .any(|(name, cell)| name == key && *cell != Cell::Null);
                if !present {
                    let keys: Vec<&str> = match record {
                        Value::Object(m) => m.keys().map(String::as_str).take(20).collect(),
                        _ => Vec::new(),
                    };
                    bail!(
                        "record {} of resource `{resource}` has no value for its primary key `{}`; \
                         the record's fields are: {}. Set `primary_key` on the resource to a field the records have",
                        first_row + i + 1,
                        state.spec.primary_key.join(", "),
                        if keys.is_empty() {
                            "(not an object)".to_string()
                        } else {
                            keys.join(", ")
                        }
                    );
                }
            }
            rows.push(row);
        }
        state.pending.extend(rows);
        // Partitions of child resources do not resume individually yet:
        // only a top-level resource's position is recorded (NULL meaning
        // "restart from the first page").
        if partition.is_none() {
            state.pending_checkpoints.push((String::new(), checkpoint));
        }
        if new_state.is_some() {
            state.pending_state = new_state;
        }
        if state.pending.len() >= FLUSH_ROWS {
            self.flush(resource)?;
        }
        Ok(())
    }

    /// Commit pending rows and checkpoints in one transaction.
    fn flush(&mut self, resource: &str) -> Result<()> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        match self.flush_inner(resource) {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                let state = self.state(resource)?;
                state.rows_loaded += state.pending.len() as u64;
                state.pending.clear();
                state.pending_checkpoints.clear();
                state.pending_state = None;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // The table may or may not have been created: re-read.
                let schema = self.schema.clone();
                let state = self.state(resource)?;
                let table = state.table.clone();
                let columns = self.read_columns(&schema, &table)?;
                let state = self.state(resource)?;
                state.exists = !columns.list.is_empty();
                state.columns = columns;
                Err(e.context(format!(
                    "loading resource `{resource}` into {}",
                    self.path.display()
                )))
            }
        }
    }

    fn flush_inner(&mut self, resource: &str) -> Result<()> {
        let schema = self.schema.clone();
        let load_id = self.load_id.clone();
        let mut state = self
            .tables
            .remove(resource)
            .ok_or_else(|| anyhow!("unknown resource `{resource}`"))?;
        let result = (|| -> Result<()> {
            if !state.pending.is_empty() {
                let plan = plan_columns(&mut state);
                let target = quote(&state.table);
                let s = self.qualified(&schema);
                if !state.exists {
                    let cols: Vec<String> = state
                        .columns
                        .list
                        .iter()
                        .map(|(n, t)| format!("{} {}", quote(n), t.sql()))
                        .collect();
                    self.conn.execute_batch(&format!(
                        "CREATE TABLE IF NOT EXISTS {s}.{target} ({})",
                        cols.join(", ")
                    ))?;
                    state.exists = true;
                } else {
                    for (name, ty) in &plan.added {
                        self.conn.execute_batch(&format!(
                            "ALTER TABLE {s}.{target} ADD COLUMN {} {}",
                            quote(name),
                            ty.sql()
                        ))?;
                        if state.replace_staging {
                            let staging = quote(&self.staging_name(&state.table, "replace"));
                            self.conn.execute_batch(&format!(
                                "ALTER TABLE {}.{staging} ADD COLUMN {} {}",
                                self.qualified(STAGING_SCHEMA),
                                quote(name),
                                ty.sql()
                            ))?;
                        }
                    }
                }
                let col_list: Vec<String> =
                    state.columns.list.iter().map(|(n, _)| quote(n)).collect();
                let col_list = col_list.join(", ");
                let st = self.qualified(STAGING_SCHEMA);
                match state.spec.disposition {
                    Disposition::Append => {
                        self.append_rows(&schema, &state.table, &state, &plan, &load_id)?;
                    }
                    Disposition::Merge if !state.key_columns.is_empty() => {
                        let staging = self.staging_name(&state.table, "merge");
                        self.conn.execute_batch(&format!(
                            "CREATE OR REPLACE TABLE {st}.{stq} AS SELECT * FROM {s}.{target} WHERE false",
                            stq = quote(&staging)
                        ))?;
                        self.append_rows(STAGING_SCHEMA, &staging, &state, &plan, &load_id)?;
                        let keys: Vec<String> =
                            state.key_columns.iter().map(|k| quote(k)).collect();
                        let keys = keys.join(", ");
                        let key_match: Vec<String> = state
                            .key_columns
                            .iter()
                            .map(|k| format!("t.{q} = s.{q}", q = quote(k)))
                            .collect();
                        self.conn.execute_batch(&format!(
                            "DELETE FROM {s}.{target} AS t WHERE EXISTS (SELECT 1 FROM {st}.{stq} AS s WHERE {m});
                             INSERT INTO {s}.{target} ({col_list}) SELECT {col_list} FROM {st}.{stq}
                                 QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY rowid DESC) = 1;
                             DROP TABLE {st}.{stq};",
                            stq = quote(&staging),
                            m = key_match.join(" AND ")
                        ))?;
                    }
                    // Merge without a primary key appends, as in dlt.
                    Disposition::Merge => {
                        self.append_rows(&schema, &state.table, &state, &plan, &load_id)?;
                    }
                    Disposition::Replace => {
                        let staging = self.staging_name(&state.table, "replace");
                        if !state.replace_staging {
                            self.conn.execute_batch(&format!(
                                "CREATE OR REPLACE TABLE {st}.{stq} AS SELECT * FROM {s}.{target} WHERE false",
                                stq = quote(&staging)
                            ))?;
                            state.replace_staging = true;
                        }
                        self.append_rows(STAGING_SCHEMA, &staging, &state, &plan, &load_id)?;
                    }
                }
            }
            // Only the newest position matters: it covers every row before it.
            if let Some((partition, checkpoint)) = state.pending_checkpoints.last() {
                self.save_checkpoint(
                    &schema,
                    &state.spec.resource,
                    partition,
                    checkpoint.as_deref(),
                    &load_id,
                )?;
            }
            if let Some(new_state) = &state.pending_state {
                let table = format!("{}.{}", self.qualified(&schema), quote(STATE));
                self.conn
                    .execute(
                        &format!("DELETE FROM {table} WHERE resource = ?"),
                        duckdb::params![state.spec.resource],
                    )
                    .context("saving the incremental state")?;
                self.conn
                    .execute(
                        &format!("INSERT INTO {table} (resource, state, load_id, updated_at) VALUES (?, ?, ?, now())"),
                        duckdb::params![state.spec.resource, new_state, load_id],
                    )
                    .context("saving the incremental state")?;
            }
            Ok(())
        })();
        self.tables.insert(resource.to_string(), state);
        result
    }

    /// Upsert by delete-then-insert: the bundled DuckDB's `INSERT OR
    /// REPLACE` fails to bind catalog-qualified names when the schema is
    /// named like the file, and both statements run inside the flush's
    /// transaction anyway.
    fn save_checkpoint(
        &self,
        schema: &str,
        resource: &str,
        partition: &str,
        checkpoint: Option<&str>,
        load_id: &str,
    ) -> Result<()> {
        let table = format!("{}.{}", self.qualified(schema), quote(CHECKPOINTS));
        self.conn
            .execute(
                &format!("DELETE FROM {table} WHERE resource = ? AND partition_key = ?"),
                duckdb::params![resource, partition],
            )
            .context("saving the checkpoint")?;
        self.conn
            .execute(
                &format!("INSERT INTO {table} (resource, partition_key, checkpoint, load_id, updated_at) VALUES (?, ?, ?, ?, now())"),
                duckdb::params![resource, partition, checkpoint, load_id],
            )
            .context("saving the checkpoint")?;
        Ok(())
    }

    fn append_rows(
        &self,
        schema: &str,
        table: &str,
        state: &TableState,
        plan: &ColumnPlan,
        load_id: &str,
    ) -> Result<()> {
        let mut appender = self
            .conn
            .appender_to_catalog_and_db(table, &self.catalog, schema)
            .context("creating appender")?;
        let width = state.columns.list.len();
        let load_id_col = state.columns.index["_dlt_load_id"];
        let id_col = state.columns.index["_dlt_id"];
        let mut values: Vec<duckdb::types::Value> = Vec::with_capacity(width);
        for (row, placements) in state.pending.iter().zip(&plan.placements) {
            values.clear();
            values.resize(width, duckdb::types::Value::Null);
            for ((_, cell), &col) in row.iter().zip(placements) {
                if let Some(col) = col {
                    values[col] = to_duckdb(cell, state.columns.list[col].1);
                }
            }
            values[load_id_col] = duckdb::types::Value::Text(load_id.to_string());
            values[id_col] = duckdb::types::Value::Text(new_row_id());
            appender
                .append_row(duckdb::appender_params_from_iter(values.iter()))
                .context("append")?;
        }
        appender.flush().context("flush")?;
        Ok(())
    }

    fn finish(&mut self, resource: &str, completed: bool) -> Result<()> {
        if !self.tables.contains_key(resource) {
            return Ok(());
        }
        self.flush(resource)?;
        let schema = self.schema.clone();
        let state = self
            .tables
            .remove(resource)
            .ok_or_else(|| anyhow!("unknown resource `{resource}`"))?;
        if !completed {
            return Ok(());
        }
        let s = self.qualified(&schema);
        let target = quote(&state.table);
        let mut sql = String::from("BEGIN TRANSACTION;");
        if state.spec.disposition == Disposition::Replace {
            let staging = quote(&self.staging_name(&state.table, "replace"));
            let st = self.qualified(STAGING_SCHEMA);
            if state.replace_staging {
                let cols: Vec<String> = state.columns.list.iter().map(|(n, _)| quote(n)).collect();
                let cols = cols.join(", ");
                sql.push_str(&format!(
                    "DELETE FROM {s}.{target}; INSERT INTO {s}.{target} ({cols}) SELECT {cols} FROM {st}.{staging}; DROP TABLE {st}.{staging};"
                ));
            } else if state.exists {
                // The run completed with no rows: the table is replaced by nothing.
                sql.push_str(&format!("DELETE FROM {s}.{target};"));
            }
        }
        sql.push_str(&format!(
            "DELETE FROM {s}.{} WHERE resource = {};",
            quote(CHECKPOINTS),
            literal(&state.spec.resource)
        ));
        sql.push_str("COMMIT;");
        if let Err(e) = self.conn.execute_batch(&sql) {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(anyhow!(e).context(format!("finishing resource `{resource}`")));
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        let sql = format!(
            "INSERT INTO {}._dlt_loads (load_id, schema_name, status, inserted_at) VALUES (?, ?, 0, now())",
            self.qualified(&self.schema)
        );
        self.conn
            .execute(&sql, duckdb::params![self.load_id, self.schema])?;
        self.conn.execute_batch("CHECKPOINT")?;
        Ok(())
    }
}

/// Where each cell of each pending row goes, and which columns are new.
struct ColumnPlan {
    placements: Vec<Vec<Option<usize>>>,
    added: Vec<(String, ColumnType)>,
}

/// Assign every pending cell a column, creating columns (and dlt-style
/// variant columns `name__v_<type>` on a type conflict) as needed. No value
/// is dropped or coerced to null.
fn plan_columns(state: &mut TableState) -> ColumnPlan {
    let before = state.columns.list.len();
    let mut placements = Vec::with_capacity(state.pending.len());
    for row in &state.pending {
        let mut p = Vec::with_capacity(row.len());
        for (name, cell) in row {
            let Some(ty) = cell.column_type() else {
                p.push(state.columns.index.get(name).copied());
                continue;
            };
            let col = match state.columns.index.get(name) {
                Some(&i) if state.columns.list[i].1.accepts(cell) => i,
                Some(_) => {
                    let variant = format!("{name}__v_{}", ty.variant_suffix());
                    match state.columns.index.get(&variant) {
                        Some(&i) => i,
                        None => {
                            state.columns.push(variant, ty);
                            state.columns.list.len() - 1
                        }
                    }
                }
                None => {
                    state.columns.push(name.clone(), ty);
                    state.columns.list.len() - 1
                }
            };
            p.push(Some(col));
        }
        placements.push(p);
    }
    for meta in ["_dlt_load_id", "_dlt_id"] {
        if !state.columns.index.contains_key(meta) {
            state.columns.push(meta.to_string(), ColumnType::Text);
        }
    }
    let added = state.columns.list[before..].to_vec();
    ColumnPlan { placements, added }
}

fn to_duckdb(cell: &Cell, column: ColumnType) -> duckdb::types::Value {
    use duckdb::types::Value as V;
    match (cell, column) {
        (Cell::Null, _) => V::Null,
        (Cell::Bool(b), _) => V::Boolean(*b),
        (Cell::BigInt(i), ColumnType::Double) => V::Double(*i as f64),
        (Cell::BigInt(i), ColumnType::HugeInt) => V::HugeInt(i128::from(*i)),
        (Cell::BigInt(i), _) => V::BigInt(*i),
        (Cell::HugeInt(i), _) => V::HugeInt(*i),
        (Cell::Double(d), _) => V::Double(*d),
        (Cell::Text(s), _) | (Cell::Json(s), _) => V::Text(s.clone()),
    }
}

/// dlt's `_dlt_id`: 14 characters of random base64.
fn new_row_id() -> String {
    let bytes: [u8; 10] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
