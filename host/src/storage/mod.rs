//! Loading records into DuckDB with dlt's layout: one schema per source, a
//! root table per resource and child tables for nested lists (see
//! [`normalize`]), dlt's column types, variant columns and coercions (see
//! [`types`]), `_dlt_loads`, and the write dispositions `append`, `replace`
//! and `merge` with dlt's semantics.
//!
//! Crash safety: rows are committed in batches, each in one transaction
//! together with the resume checkpoints (per resource and per child
//! partition) and the incremental state that cover them. A resource that
//! completes is marked done in the same transaction as its last rows; the
//! marks of a run are cleared only when the whole run completes. A run
//! started after an interrupted one resumes it: same load id, completed
//! resources and partitions skipped, the others continued after their last
//! committed checkpoint. So a sync killed at any moment and started again
//! ends with exactly the rows of an uninterrupted one.
//!
//! Records are normalized and placed into Arrow columns on the caller's
//! side ([`shape`]); all DuckDB work happens on one dedicated OS thread,
//! off the async runtime, fed over a bounded channel, so memory is bounded
//! by a fixed number of in-flight pages.

mod columns;
pub mod naming;
pub mod node;
pub mod normalize;
mod shape;
pub mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use duckdb::Connection;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use duckdb::arrow::record_batch::RecordBatch;
use naming::{literal, normalize_path, quote};
use node::Node;
use normalize::{
    C_ID, C_LOAD_ID, C_ROOT_ID, DEFAULT_MAX_NESTING, NormConfig, Normalizer, key_column,
};
use shape::{Shaper, TableBatch, TableSchema};
use types::DataType;

/// How records are written (dlt's write dispositions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Add rows.
    Append,
    /// Replace the tables with this run's rows, atomically at the end.
    Replace,
    /// Upsert on the primary key; a merged record's child rows are replaced.
    Merge,
}

/// What the loader needs to know about a resource's tables.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The resource name (the checkpoint key).
    pub resource: String,
    /// The root table name (normalized by the loader).
    pub table: String,
    /// Primary key fields as the API names them (dotted for nested).
    pub primary_key: Vec<String>,
    /// The write disposition.
    pub disposition: Disposition,
    /// dlt's `max_table_nesting` (default 1000).
    pub max_nesting: Option<u32>,
    /// Keep the raw records of this run (committed with the rows), so that
    /// a resumed run can partition child resources by records loaded
    /// before the interruption.
    pub keep_records: bool,
}

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    /// Commit a resource's buffered rows once this many records are pending.
    pub commit_records: usize,
    /// ... or once its oldest uncommitted page is this old.
    pub commit_interval: Duration,
    /// DuckDB's `memory_limit` in MiB (its buffer pool; loaded blocks are
    /// written out and evicted past it), so that memory stays flat however
    /// much is loaded. `None`: DuckDB's default, 80% of RAM.
    pub memory_limit_mib: Option<u64>,
    /// DuckDB's worker threads (`threads`). `None`: DuckDB's default, one
    /// per core. One by default: the loader's work is appending, which
    /// DuckDB does on the calling thread anyway; its workers only help
    /// with compression at checkpoints and the SQL of merges, and on a
    /// small machine they take cores from the extraction running
    /// alongside (on the bench's 2 cores, the default cost a sixth more
    /// CPU, much of it the loader thread polling for their tasks, and
    /// 10-15% of the wall time).
    pub threads: Option<u64>,
    /// DuckDB's `checkpoint_threshold` in MiB: the WAL size at which it
    /// folds the WAL into the file. `None`: DuckDB's default, 16 MiB. A
    /// checkpoint compresses the row group being filled again from its
    /// first row, so with commits of 20,000 records a small threshold
    /// rewrites each row group about once per commit: on the bench's
    /// 1M-record sync 64 MiB took 40 s (44 CPU s) down to 22-23 s (27-28
    /// CPU s) and the file from 161 to 137 MB, at the same peak RSS.
    pub checkpoint_threshold_mib: Option<u64>,
    /// Fold the WAL into the file when the run completes (`CHECKPOINT`).
    /// The rows are durable in the WAL either way; `extract run` leaves a
    /// compact file behind, `extract serve` (which keeps each tenant's
    /// file open) leaves it to DuckDB's automatic checkpoints.
    pub checkpoint_on_complete: bool,
    /// The caller knows this process already set up the loader's own
    /// tables in this schema (`extract serve` remembers it per tenant and
    /// source): skip the `CREATE ... IF NOT EXISTS` statements, which cost
    /// more than a small sync's rows.
    pub schema_ready: bool,
    /// The page queue: at most this many pages wait for the loader...
    pub queue_pages: usize,
    /// ...holding at most this much shaped data (Arrow buffers) between
    /// them, in KiB. The loader thread stalls for a while at each commit
    /// and checkpoint; a deep queue lets the extraction go on shaping
    /// meanwhile (a queue of 8 pages cost the bench's 1M-record sync about
    /// 15% of its wall time), and the byte budget keeps that depth from
    /// multiplying a large page's size. A page larger than the whole
    /// budget waits for the queue to empty, then goes alone.
    pub queue_kib: u32,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        Self {
            commit_records: 20_000,
            commit_interval: Duration::from_secs(5),
            memory_limit_mib: Some(DEFAULT_MEMORY_LIMIT_MIB),
            threads: Some(1),
            checkpoint_threshold_mib: Some(64),
            checkpoint_on_complete: true,
            schema_ready: false,
            queue_pages: 32,
            queue_kib: 24 * 1024,
        }
    }
}

/// Default DuckDB `memory_limit`: appending needs little; merges and
/// replaces of big tables spill to DuckDB's temporary directory past it.
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 32;

/// The schema holding staging tables.
const STAGING_SCHEMA: &str = "_extract_staging";
/// The checkpoint table, in each source's schema.
const CHECKPOINTS: &str = "_extract_checkpoints";
/// The incremental state table, in each source's schema.
const STATE: &str = "_extract_state";
/// Which child tables belong to which root table.
const TABLES: &str = "_extract_tables";
/// Raw records of resources with children, in the staging schema.
const KEPT_RECORDS: &str = "kept_records";

/// Where a resource or a partition stands after an interrupted run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// The checkpoint to resume after.
    pub checkpoint: Option<String>,
    /// Completed in the interrupted run: nothing left to load.
    pub done: bool,
}

/// What a resource starts from: where an interrupted run stopped, and the
/// incremental state of the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// The checkpoint to resume after, if a run was interrupted.
    pub checkpoint: Option<String>,
    /// The resource completed in the interrupted run.
    pub done: bool,
    /// Positions of a child resource's partitions, by partition key.
    pub partitions: HashMap<String, Position>,
    /// The stored incremental state.
    pub state: Option<String>,
    /// With `keep_records`: the records the interrupted run loaded, in order.
    pub records: Vec<Value>,
}

enum Command {
    Begin {
        spec: TableSpec,
        reply: oneshot::Sender<Result<(Resume, Vec<TableSchema>)>>,
    },
    Page {
        resource: String,
        tables: Vec<TableBatch>,
        /// The page's share of the queue, given back once the loader took it.
        room: tokio::sync::OwnedSemaphorePermit,
        records: usize,
        kept: Vec<String>,
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
        last: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Finish {
        resource: String,
        completed: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Complete {
        success: bool,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A handle to the loader thread.
#[derive(Clone)]
pub struct Loader {
    tx: mpsc::Sender<Command>,
    /// Room left in the queue, in KiB of shaped data.
    room: Arc<tokio::sync::Semaphore>,
    /// The whole queue, in KiB ([`LoaderOptions::queue_kib`]).
    room_kib: u32,
    load_id: Arc<str>,
    normalizers: Arc<Mutex<HashMap<String, Arc<Handle>>>>,
}

/// The caller-side part of a begun resource.
struct Handle {
    shaper: tokio::sync::Mutex<Shaper>,
    keep_records: bool,
}

impl Loader {
    /// Open (or create) the DuckDB file and start the loader thread.
    pub fn open(path: &Path, schema: &str) -> Result<Self> {
        Self::open_with(path, schema, LoaderOptions::default())
    }

    /// [`Loader::open`] with explicit settings.
    pub fn open_with(path: &Path, schema: &str, opts: LoaderOptions) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening DuckDB file {}", path.display()))?;
        Self::open_on(conn, path, schema, opts)
    }

    /// [`Loader::open_with`] on a connection the caller opened (a clone of
    /// a database it keeps open, so that several loaders and readers share
    /// one DuckDB instance; `extract serve` does this per tenant file).
    pub fn open_on(
        conn: Connection,
        path: &Path,
        schema: &str,
        opts: LoaderOptions,
    ) -> Result<Self> {
        let (queue_pages, room_kib) = (opts.queue_pages.max(1), opts.queue_kib.max(1));
        let mut db = Db::new(conn, path.to_path_buf(), normalize_path(schema), opts)?;
        db.init().context("preparing the DuckDB schema")?;
        let load_id: Arc<str> = db.load_id.as_str().into();
        let (tx, mut rx) = mpsc::channel::<Command>(queue_pages);
        std::thread::Builder::new()
            .name("duckdb-loader".into())
            .spawn(move || {
                while let Some(cmd) = rx.blocking_recv() {
                    db.handle(cmd);
                }
            })
            .context("starting the loader thread")?;
        Ok(Self {
            tx,
            room: Arc::new(tokio::sync::Semaphore::new(room_kib as usize)),
            room_kib,
            load_id,
            normalizers: Arc::default(),
        })
    }

    /// This run's load id (dlt's format: Unix time with microseconds); an
    /// interrupted run's when this run resumes it.
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

    /// Prepare a resource's tables; returns where an interrupted run left it.
    pub async fn begin(&self, spec: TableSpec) -> Result<Resume> {
        let config = NormConfig {
            root_table: normalize_path(&spec.table),
            max_nesting: spec.max_nesting.unwrap_or(DEFAULT_MAX_NESTING),
            root_id: spec.disposition == Disposition::Merge,
        };
        let resource = spec.resource.clone();
        let keep_records = spec.keep_records;
        let primary_key = spec.primary_key.clone();
        let key_columns = primary_key.iter().map(|k| key_column(k)).collect();
        let (resume, tables) = self.call(|reply| Command::Begin { spec, reply }).await?;
        let shaper = Shaper::new(
            resource.clone(),
            Normalizer::new(config),
            primary_key,
            key_columns,
            tables,
            resume.records.len() as u64,
        );
        self.normalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                resource,
                Arc::new(Handle {
                    shaper: tokio::sync::Mutex::new(shaper),
                    keep_records,
                }),
            );
        Ok(resume)
    }

    /// Shape one page of records (see [`shape`]) and queue it. A page that
    /// cannot be shaped (a value that fits no column, a missing primary
    /// key) fails here and stops the resource; otherwise the returned
    /// receiver resolves once the loader has taken the rows (and maybe
    /// committed them); callers may fetch the next page meanwhile. `checkpoint` is the
    /// position after this page, of the partition if one is given; `last`
    /// says the extraction ends with this page (a partition is then
    /// complete; a top-level resource completes with [`Loader::finish`]).
    pub async fn page(
        &self,
        resource: &str,
        records: Vec<Value>,
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
        last: bool,
    ) -> Result<oneshot::Receiver<Result<()>>> {
        let nodes: Vec<Node<'_>> = records.iter().map(Node::from).collect();
        self.page_nodes(resource, &nodes, partition, checkpoint, state, last)
            .await
    }

    /// [`Loader::page`] of records parsed into [`Node`]s (the sync's path:
    /// they borrow their strings from the response body).
    pub async fn page_nodes(
        &self,
        resource: &str,
        records: &[Node<'_>],
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
        last: bool,
    ) -> Result<oneshot::Receiver<Result<()>>> {
        let handle = self
            .normalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(resource)
            .cloned()
            .ok_or_else(|| anyhow!("resource `{resource}` was not begun (host bug)"))?;
        let kept = if handle.keep_records {
            records.iter().map(Node::to_json).collect()
        } else {
            Vec::new()
        };
        // Held until the page is queued: pages reach the loader in the
        // order they were shaped (a page names only the columns its table
        // gained since the page before; partitions shape concurrently).
        let mut shaper = handle.shaper.lock().await;
        let tables = shaper.page(records, &self.load_id)?;
        let bytes: usize = tables.iter().map(|t| t.batch.get_array_memory_size()).sum();
        let kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX);
        let room = Arc::clone(&self.room)
            .acquire_many_owned(kib.clamp(1, self.room_kib))
            .await
            .map_err(|_| anyhow!("the DuckDB loader stopped"))?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Page {
                resource: resource.to_string(),
                tables,
                room,
                records: records.len(),
                kept,
                partition,
                checkpoint,
                state,
                last,
                reply,
            })
            .await
            .map_err(|_| anyhow!("the DuckDB loader stopped"))?;
        drop(shaper);
        Ok(rx)
    }

    /// Commit everything of a completed resource: swap replaced tables,
    /// mark the resource done for this run.
    pub async fn finish(&self, resource: &str) -> Result<()> {
        let resource = resource.to_string();
        self.call(|reply| Command::Finish {
            resource,
            completed: true,
            reply,
        })
        .await
    }

    /// Commit what a failed resource loaded so far, keeping its checkpoints
    /// so the next run resumes; replaced tables keep their old rows.
    pub async fn abort(&self, resource: &str) -> Result<()> {
        let resource = resource.to_string();
        self.call(|reply| Command::Finish {
            resource,
            completed: false,
            reply,
        })
        .await
    }

    /// End the run. On success, record the load in `_dlt_loads` and clear
    /// the run's checkpoints; otherwise keep them, so the next run resumes.
    pub async fn complete(&self, success: bool) -> Result<()> {
        self.call(|reply| Command::Complete { success, reply })
            .await
    }
}

fn new_load_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// The table name and `max_table_nesting` of a resource in an effective
/// rest_api config (`table_name` and `max_table_nesting` on the resource or
/// in `resource_defaults`).
pub fn table_options(config: &Value, resource: &str) -> (String, Option<u32>) {
    let entry = config
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(resource))
        });
    let defaults = config.get("resource_defaults");
    let pick = |key: &str| {
        entry
            .and_then(|e| e.get(key))
            .or_else(|| defaults.and_then(|d| d.get(key)))
    };
    let table = pick("table_name")
        .and_then(Value::as_str)
        .unwrap_or(resource)
        .to_string();
    let nesting = pick("max_table_nesting")
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(DEFAULT_MAX_NESTING)) as u32);
    (table, nesting)
}

/// One table of a resource: its columns (in physical order) and the rows
/// waiting for the next commit.
struct Table {
    name: String,
    parent: Option<String>,
    columns: Vec<(String, DataType)>,
    index: rustc_hash::FxHashMap<String, usize>,
    /// Columns that exist in the DuckDB table (the rest are new).
    materialized: usize,
    exists: bool,
    /// The replace staging table exists (for this run or the resumed one).
    staged: bool,
    /// Rows waiting for the next commit, a batch per page; a batch has the
    /// columns the table had when its page was shaped (a prefix of them).
    pending: Vec<RecordBatch>,
}

impl Table {
    fn new(name: String, parent: Option<String>) -> Self {
        Self {
            name,
            parent,
            columns: Vec::new(),
            index: Default::default(),
            materialized: 0,
            exists: false,
            staged: false,
            pending: Vec::new(),
        }
    }

    fn add_column(&mut self, name: String, ty: DataType) -> usize {
        let i = self.columns.len();
        self.index.insert(name.clone(), i);
        self.columns.push((name, ty));
        i
    }

    /// Queue a page's batch, with the columns it adds.
    fn push(&mut self, page: TableBatch) -> Result<()> {
        for (name, ty) in page.new_columns {
            self.add_column(name, ty);
        }
        if page.batch.num_columns() != self.columns.len() {
            bail!(
                "a batch of {} columns for table `{}` of {} columns (host bug)",
                page.batch.num_columns(),
                self.name,
                self.columns.len()
            );
        }
        self.pending.push(page.batch);
        Ok(())
    }

    /// The pending batches, each widened to all of the table's columns.
    fn take(&mut self) -> Result<Vec<RecordBatch>> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|b| columns::widen(b, &self.columns))
            .collect()
    }
}

struct ResourceState {
    spec: TableSpec,
    key_columns: Vec<String>,
    /// Tables of the resource, root first, parents before children.
    tables: Vec<Table>,
    by_name: rustc_hash::FxHashMap<String, usize>,
    pending_records: usize,
    oldest_pending: Option<Instant>,
    /// Newest checkpoint per partition key ("" for a top-level resource).
    pending_checkpoints: HashMap<String, Option<String>>,
    pending_done: Vec<String>,
    pending_state: Option<String>,
    pending_kept: Vec<String>,
    records_loaded: u64,
    /// The error of a page that failed: later pages of the resource are
    /// refused, so that no checkpoint after it is ever committed.
    failed: Option<String>,
}

impl ResourceState {
    fn root(&self) -> &Table {
        &self.tables[0]
    }
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
    opts: LoaderOptions,
    resources: HashMap<String, ResourceState>,
    /// Whether a resource of this run keeps its records (a parent's, for
    /// its children to resume with). Other resources' kept records are
    /// deleted when they begin, so only these can be left at the end.
    keeps_records: bool,
}

impl Db {
    fn new(conn: Connection, path: PathBuf, schema: String, opts: LoaderOptions) -> Result<Self> {
        let catalog: String = conn.query_row("SELECT current_database()", [], |r| r.get(0))?;
        Ok(Self {
            conn,
            catalog,
            path,
            schema,
            load_id: String::new(),
            opts,
            resources: HashMap::new(),
            keeps_records: false,
        })
    }

    /// `"catalog"."schema"`.
    fn qualified(&self, schema: &str) -> String {
        format!("{}.{}", quote(&self.catalog), quote(schema))
    }

    /// `"catalog"."schema"."table"` in the source's schema.
    fn target(&self, table: &str) -> String {
        format!("{}.{}", self.qualified(&self.schema), quote(table))
    }

    /// The staging table of `table` for `kind` (`replace`, `merge`).
    fn staging(&self, table: &str, kind: &str) -> String {
        format!(
            "{}.{}",
            self.qualified(STAGING_SCHEMA),
            quote(&format!("{}__{table}__{kind}", self.schema))
        )
    }

    fn init(&mut self) -> Result<()> {
        if let Some(mib) = self.opts.memory_limit_mib {
            self.conn
                .execute_batch(&format!("SET memory_limit = '{}MiB'", mib.max(16)))?;
        }
        if let Some(mib) = self.opts.checkpoint_threshold_mib {
            self.conn
                .execute_batch(&format!("SET checkpoint_threshold = '{}MiB'", mib.max(1)))?;
        }
        if let Some(threads) = self.opts.threads {
            self.conn
                .execute_batch(&format!("SET threads = {}", threads.max(1)))?;
        }
        let s = self.qualified(&self.schema);
        if !self.opts.schema_ready {
            self.create_own_tables(&s)?;
        }
        // Resume the load id of an interrupted run, if there is one.
        let pending: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT max(load_id) FROM {s}.{}", quote(CHECKPOINTS)),
                [],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        self.load_id = pending.unwrap_or_else(new_load_id);
        Ok(())
    }

    /// The loader's own tables in the schema `s` (qualified), created if
    /// missing.
    fn create_own_tables(&self, s: &str) -> Result<()> {
        create_shared_tables(&self.conn, &self.catalog)?;
        self.conn.execute_batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.{cp} (resource VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, checkpoint VARCHAR, load_id VARCHAR, updated_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (resource, partition_key));
             ALTER TABLE {s}.{cp} ADD COLUMN IF NOT EXISTS done BOOLEAN DEFAULT false;
             CREATE TABLE IF NOT EXISTS {s}.{st} (resource VARCHAR PRIMARY KEY, state VARCHAR, load_id VARCHAR, updated_at TIMESTAMPTZ DEFAULT now());
             CREATE TABLE IF NOT EXISTS {s}.{tables} (table_name VARCHAR PRIMARY KEY, parent_table VARCHAR, root_table VARCHAR NOT NULL);
             CREATE TABLE IF NOT EXISTS {s}._dlt_loads (load_id VARCHAR NOT NULL, schema_name VARCHAR, status BIGINT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, schema_version_hash VARCHAR);",
            cp = quote(CHECKPOINTS),
            st = quote(STATE),
            tables = quote(TABLES),
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
                tables,
                room,
                records,
                kept,
                partition,
                checkpoint,
                state,
                last,
                reply,
            } => {
                let outcome = self.page(
                    &resource,
                    tables,
                    records,
                    kept,
                    Position {
                        checkpoint,
                        done: last,
                    },
                    partition,
                    state,
                );
                drop(room);
                let _ = reply.send(outcome);
            }
            Command::Finish {
                resource,
                completed,
                reply,
            } => {
                let _ = reply.send(self.finish(&resource, completed));
            }
            Command::Complete { success, reply } => {
                let _ = reply.send(self.complete(success));
            }
        }
    }

    fn begin(&mut self, spec: TableSpec) -> Result<(Resume, Vec<TableSchema>)> {
        let root = normalize_path(&spec.table);
        let key_columns = spec.primary_key.iter().map(|k| key_column(k)).collect();
        // The resource's positions and state, the tables earlier runs
        // created under its root, and whether it has kept parent records:
        // one statement.
        let mut resume = Resume::default();
        let mut children = Vec::new();
        let mut has_kept = false;
        {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT 0, partition_key, checkpoint, coalesce(done, false) FROM {cp} WHERE resource = $1
                 UNION ALL SELECT 1, NULL, state, NULL FROM {st} WHERE resource = $1
                 UNION ALL SELECT 2, table_name, parent_table, NULL FROM {tables} WHERE root_table = $2
                 UNION ALL (SELECT 3, NULL, NULL, NULL FROM {kept} WHERE schema_name = $3 AND resource = $1 LIMIT 1)",
                cp = self.target(CHECKPOINTS),
                st = self.target(STATE),
                tables = self.target(TABLES),
                kept = format_args!("{}.{}", self.qualified(STAGING_SCHEMA), quote(KEPT_RECORDS)),
            ))?;
            let mut rows = stmt.query(duckdb::params![spec.resource, root, self.schema])?;
            while let Some(row) = rows.next()? {
                let kind: i32 = row.get(0)?;
                match kind {
                    0 => {
                        let key: String = row.get(1)?;
                        let position = Position {
                            checkpoint: row.get(2)?,
                            done: row.get(3)?,
                        };
                        if key.is_empty() {
                            resume.checkpoint = position.checkpoint;
                            resume.done = position.done;
                        } else {
                            resume.partitions.insert(key, position);
                        }
                    }
                    1 => resume.state = row.get(2)?,
                    3 => has_kept = true,
                    _ => {
                        let name: String = row.get(1)?;
                        if name != root {
                            children.push((name, row.get::<_, Option<String>>(2)?));
                        }
                    }
                }
            }
        }
        // The root table first, then its children, parents before children.
        children.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
        let mut known = vec![(root.clone(), None)];
        known.extend(children);
        let interrupted =
            resume.done || resume.checkpoint.is_some() || !resume.partitions.is_empty();
        self.keeps_records |= spec.keep_records;
        let kept = format!("{}.{}", self.qualified(STAGING_SCHEMA), quote(KEPT_RECORDS));
        if spec.keep_records && interrupted && has_kept {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT record FROM {kept} WHERE schema_name = ? AND resource = ? ORDER BY seq"
            ))?;
            let mut rows = stmt.query(duckdb::params![self.schema, spec.resource])?;
            while let Some(row) = rows.next()? {
                let text: String = row.get(0)?;
                resume
                    .records
                    .push(serde_json::from_str(&text).context("reading kept parent records")?);
            }
        } else if has_kept {
            self.conn.execute(
                &format!("DELETE FROM {kept} WHERE schema_name = ? AND resource = ?"),
                duckdb::params![self.schema, spec.resource],
            )?;
        }
        let mut state = ResourceState {
            key_columns,
            tables: Vec::new(),
            by_name: Default::default(),
            pending_records: 0,
            oldest_pending: None,
            pending_checkpoints: HashMap::new(),
            pending_done: Vec::new(),
            pending_state: None,
            pending_kept: Vec::new(),
            records_loaded: 0,
            failed: None,
            spec,
        };
        state.records_loaded = resume.records.len() as u64;
        for (name, parent) in known {
            let mut table = Table::new(name, parent);
            self.read_columns(&mut table)?;
            if state.spec.disposition == Disposition::Replace {
                let staging = self.staging(&table.name, "replace");
                if interrupted
                    && self.table_exists(
                        STAGING_SCHEMA,
                        &format!("{}__{}__replace", self.schema, table.name),
                    )?
                {
                    // A resumed replace keeps filling its staging tables.
                    table.staged = true;
                } else {
                    self.conn
                        .execute_batch(&format!("DROP TABLE IF EXISTS {staging}"))?;
                }
            }
            if state.spec.disposition == Disposition::Merge
                && table.parent.is_some()
                && table.exists
                && !table.index.contains_key(C_ROOT_ID)
            {
                // A table loaded before the resource became `merge`.
                table.add_column(C_ROOT_ID.into(), DataType::Text);
            }
            state.by_name.insert(table.name.clone(), state.tables.len());
            state.tables.push(table);
        }
        let schemas = state
            .tables
            .iter()
            .map(|t| TableSchema {
                name: t.name.clone(),
                parent: t.parent.clone(),
                columns: t.columns.clone(),
            })
            .collect();
        self.resources.insert(state.spec.resource.clone(), state);
        Ok((resume, schemas))
    }

    fn table_exists(&self, schema: &str, table: &str) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
            duckdb::params![self.catalog, schema, table],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Load a table's columns from DuckDB (none if it does not exist).
    fn read_columns(&self, table: &mut Table) -> Result<()> {
        // `pragma_table_info` rather than `information_schema.columns`: the
        // view costs DuckDB's optimizer several times more, and this runs
        // for every table of every resource at the start of every run
        // (with `extract serve`, of every job).
        let sql = format!(
            "SELECT name, type FROM pragma_table_info({})",
            literal(&self.target(&table.name))
        );
        let mut cols: Vec<(String, String)> = Vec::new();
        match self.conn.prepare(&sql) {
            Ok(mut stmt) => {
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    cols.push((row.get(0)?, row.get(1)?));
                }
            }
            Err(e) if e.to_string().contains("does not exist") => {}
            Err(e) => return Err(e.into()),
        }
        table.columns.clear();
        table.index.clear();
        table.pending.clear();
        for (name, ty) in cols {
            table.add_column(name, DataType::from_sql(&ty));
        }
        table.materialized = table.columns.len();
        table.exists = table.materialized > 0;
        Ok(())
    }

    fn state(&mut self, resource: &str) -> Result<&mut ResourceState> {
        self.resources
            .get_mut(resource)
            .ok_or_else(|| anyhow!("resource `{resource}` was not begun (host bug)"))
    }

    /// Load one page, all or nothing: a page that fails places no row, and
    /// every later page of the resource is refused with its error.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &mut self,
        resource: &str,
        tables: Vec<TableBatch>,
        records: usize,
        kept: Vec<String>,
        position: Position,
        partition: Option<String>,
        new_state: Option<String>,
    ) -> Result<()> {
        if let Some(e) = &self.state(resource)?.failed {
            bail!("not loaded: an earlier page of resource `{resource}` failed: {e}");
        }
        let result = self.page_inner(
            resource, tables, records, kept, position, partition, new_state,
        );
        if let Err(e) = &result
            && let Ok(state) = self.state(resource)
        {
            state.failed = Some(format!("{e:#}"));
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn page_inner(
        &mut self,
        resource: &str,
        tables: Vec<TableBatch>,
        records: usize,
        kept: Vec<String>,
        position: Position,
        partition: Option<String>,
        new_state: Option<String>,
    ) -> Result<()> {
        let Position {
            checkpoint,
            done: last,
        } = position;
        let (commit_records, commit_interval) =
            (self.opts.commit_records, self.opts.commit_interval);
        let state = self.state(resource)?;
        for page in tables {
            let idx = match state.by_name.get(&page.name) {
                Some(&i) => i,
                None => {
                    let table = Table::new(page.name.clone(), page.parent.clone());
                    let i = state.tables.len();
                    state.by_name.insert(table.name.clone(), i);
                    state.tables.push(table);
                    i
                }
            };
            state.tables[idx].push(page)?;
        }
        state.pending_records += records;
        state.pending_kept.extend(kept);
        state.oldest_pending.get_or_insert_with(Instant::now);
        let top_level = partition.is_none();
        let key = partition.unwrap_or_default();
        if last && !top_level {
            // The partition is complete: committed with its last rows.
            state.pending_checkpoints.remove(&key);
            state.pending_done.push(key);
        } else {
            state.pending_checkpoints.insert(key, checkpoint);
        }
        if new_state.is_some() {
            state.pending_state = new_state;
        }
        // A top-level resource's last rows commit with its completion.
        let due = !(last && top_level)
            && (state.pending_records >= commit_records
                || state
                    .oldest_pending
                    .is_some_and(|t| t.elapsed() >= commit_interval));
        if due {
            self.flush(resource)?;
        }
        Ok(())
    }

    /// Commit pending rows, checkpoints and state in one transaction.
    fn flush(&mut self, resource: &str) -> Result<()> {
        self.commit(resource, false)
    }

    /// Commit pending rows, checkpoints and state in one transaction; with
    /// `complete`, also the resource's completion (replace swap, done mark)
    /// in the same transaction, so a crash never separates them.
    fn commit(&mut self, resource: &str, complete: bool) -> Result<()> {
        let mut state = self
            .resources
            .remove(resource)
            .ok_or_else(|| anyhow!("unknown resource `{resource}`"))?;
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let mut result = self.flush_inner(&mut state, complete);
        if complete && result.is_ok() {
            let sql = self.completion_sql(&state);
            result = self
                .conn
                .execute_batch(&sql)
                .with_context(|| format!("finishing resource `{resource}`"));
        }
        let result = match result {
            Ok(()) => self
                .conn
                .execute_batch("COMMIT")
                .map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                state.records_loaded += state.pending_records as u64;
                state.pending_records = 0;
                state.oldest_pending = None;
                state.pending_checkpoints.clear();
                state.pending_done.clear();
                state.pending_state = None;
                state.pending_kept.clear();
                for t in &mut state.tables {
                    if !t.columns.is_empty() {
                        t.exists = true;
                    }
                    t.materialized = t.columns.len();
                }
                self.resources.insert(resource.to_string(), state);
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                state.pending_kept.clear();
                // What exists is what it was before: re-read the schema.
                for t in &mut state.tables {
                    let _ = self.read_columns(t);
                }
                self.resources.insert(resource.to_string(), state);
                Err(e.context(format!(
                    "loading resource `{resource}` into {}",
                    self.path.display()
                )))
            }
        }
    }

    /// Write the pending rows, and their positions unless `complete`.
    fn flush_inner(&mut self, state: &mut ResourceState, complete: bool) -> Result<()> {
        let root = state.root().name.clone();
        let disposition = state.spec.disposition;
        // Tables and columns first, for every table with columns.
        for t in &state.tables {
            if t.columns.is_empty() {
                continue;
            }
            let target = self.target(&t.name);
            if !t.exists {
                let cols: Vec<String> = t
                    .columns
                    .iter()
                    .map(|(n, ty)| format!("{} {}", quote(n), ty.sql()))
                    .collect();
                self.conn.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {target} ({})",
                    cols.join(", ")
                ))?;
                self.conn.execute(
                    &format!(
                        "INSERT INTO {} (table_name, parent_table, root_table) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM {} WHERE table_name = ?)",
                        self.target(TABLES),
                        self.target(TABLES)
                    ),
                    duckdb::params![t.name, t.parent, root, t.name],
                )?;
            } else {
                for (name, ty) in &t.columns[t.materialized..] {
                    let add = |table: &str| {
                        format!(
                            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {}",
                            quote(name),
                            ty.sql()
                        )
                    };
                    self.conn.execute_batch(&add(&target))?;
                    if t.staged {
                        self.conn
                            .execute_batch(&add(&self.staging(&t.name, "replace")))?;
                    }
                }
            }
        }
        // Each table's pending rows, as batches (maybe none).
        let mut batches = Vec::with_capacity(state.tables.len());
        for t in &mut state.tables {
            batches.push(t.take()?);
        }
        match disposition {
            Disposition::Append => {
                for (t, batch) in state.tables.iter().zip(batches) {
                    self.append(&self.target(&t.name), batch)?;
                }
            }
            Disposition::Merge if state.key_columns.is_empty() => {
                // Merge without a primary key appends, as in dlt.
                for (t, batch) in state.tables.iter().zip(batches) {
                    self.append(&self.target(&t.name), batch)?;
                }
            }
            Disposition::Merge => self.merge(state, batches)?,
            Disposition::Replace => {
                for (t, batch) in state.tables.iter_mut().zip(batches) {
                    if batch.is_empty() {
                        continue;
                    }
                    let staging = self.staging(&t.name, "replace");
                    if !t.staged {
                        self.conn.execute_batch(&format!(
                            "CREATE OR REPLACE TABLE {staging} AS SELECT * FROM {} WHERE false",
                            self.target(&t.name)
                        ))?;
                        t.staged = true;
                    }
                    self.append(&staging, batch)?;
                }
            }
        }
        if !state.pending_kept.is_empty() {
            let mut appender = self
                .conn
                .appender_to_catalog_and_db(KEPT_RECORDS, &self.catalog, STAGING_SCHEMA)
                .context("keeping parent records")?;
            let start = state.records_loaded as i64;
            for (i, record) in state.pending_kept.iter().enumerate() {
                appender.append_row(duckdb::params![
                    self.schema,
                    state.spec.resource,
                    start + i as i64,
                    record
                ])?;
            }
            appender.flush().context("keeping parent records")?;
        }
        // A completing commit leaves the positions to the completion
        // statements, which replace all of the resource's.
        if !complete {
            for (partition, checkpoint) in &state.pending_checkpoints {
                self.save_position(
                    &state.spec.resource,
                    partition,
                    checkpoint.as_deref(),
                    false,
                )?;
            }
            for partition in &state.pending_done {
                self.save_position(&state.spec.resource, partition, None, true)?;
            }
        }
        if let Some(new_state) = &state.pending_state {
            let table = self.target(STATE);
            self.conn
                .execute(
                    &format!("DELETE FROM {table} WHERE resource = ?"),
                    duckdb::params![state.spec.resource],
                )
                .context("saving the incremental state")?;
            self.conn
                .execute(
                    &format!("INSERT INTO {table} (resource, state, load_id, updated_at) VALUES (?, ?, ?, now())"),
                    duckdb::params![state.spec.resource, new_state, self.load_id],
                )
                .context("saving the incremental state")?;
        }
        Ok(())
    }

    /// dlt's `merge` (delete-insert) for one batch: within a load the first
    /// record of a key wins (also across batches and resumed runs); a key
    /// from an earlier load is replaced, its child rows with it.
    fn merge(&mut self, state: &ResourceState, batches: Vec<Vec<RecordBatch>>) -> Result<()> {
        let root = state.root();
        if batches.first().is_none_or(Vec::is_empty) {
            // A record's rows are normalized together: no root rows, no
            // child rows either.
            return Ok(());
        }
        let target = self.target(&root.name);
        let stage = self.staging(&root.name, "merge");
        let keep = self.staging(&root.name, "merge_keep");
        let key_match = |a: &str, b: &str| -> String {
            state
                .key_columns
                .iter()
                .map(|k| format!("{a}.{q} = {b}.{q}", q = quote(k)))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let keys: Vec<String> = state
            .key_columns
            .iter()
            .map(|k| format!("s.{}", quote(k)))
            .collect();
        // Stage every table's batch.
        let mut staged = Vec::new();
        for (t, batch) in state.tables.iter().zip(batches) {
            if batch.is_empty() {
                continue;
            }
            let st = self.staging(&t.name, "merge");
            self.conn.execute_batch(&format!(
                "CREATE OR REPLACE TABLE {st} AS SELECT * FROM {} WHERE false",
                self.target(&t.name)
            ))?;
            self.append(&st, batch)?;
            staged.push((t, st));
        }
        let id = quote(C_ID);
        let root_id = quote(C_ROOT_ID);
        let load = literal(&self.load_id);
        let mut sql = format!(
            "CREATE OR REPLACE TABLE {keep} AS
               SELECT s.{id} FROM {stage} AS s
               WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE {m} AND t.{load_col} = {load})
               QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY s.rowid) = 1;",
            m = key_match("t", "s"),
            load_col = quote(C_LOAD_ID),
            keys = keys.join(", "),
        );
        let replaced = format!(
            "SELECT t.{id} FROM {target} AS t WHERE EXISTS (SELECT 1 FROM {stage} AS s WHERE {m} AND s.{id} IN (SELECT {id} FROM {keep}))",
            m = key_match("t", "s"),
        );
        for t in state.tables.iter().skip(1) {
            if t.exists && t.index.contains_key(C_ROOT_ID) {
                sql.push_str(&format!(
                    "DELETE FROM {} WHERE {root_id} IN ({replaced});",
                    self.target(&t.name)
                ));
            }
        }
        sql.push_str(&format!("DELETE FROM {target} WHERE {id} IN ({replaced});"));
        for (t, st) in &staged {
            let cols: Vec<String> = t.columns.iter().map(|(n, _)| quote(n)).collect();
            let cols = cols.join(", ");
            let filter = if t.parent.is_none() {
                format!("{id} IN (SELECT {id} FROM {keep})")
            } else {
                format!("{root_id} IN (SELECT {id} FROM {keep})")
            };
            sql.push_str(&format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {st} WHERE {filter}; DROP TABLE {st};",
                self.target(&t.name)
            ));
        }
        sql.push_str(&format!("DROP TABLE {keep};"));
        self.conn.execute_batch(&sql)?;
        Ok(())
    }

    /// Upsert by delete-then-insert: the bundled DuckDB's `INSERT OR
    /// REPLACE` fails to bind catalog-qualified names when the schema is
    /// named like the file, and both statements run inside the flush's
    /// transaction anyway.
    fn save_position(
        &self,
        resource: &str,
        partition: &str,
        checkpoint: Option<&str>,
        done: bool,
    ) -> Result<()> {
        let table = self.target(CHECKPOINTS);
        self.conn
            .execute(
                &format!("DELETE FROM {table} WHERE resource = ? AND partition_key = ?"),
                duckdb::params![resource, partition],
            )
            .context("saving the checkpoint")?;
        self.conn
            .execute(
                &format!("INSERT INTO {table} (resource, partition_key, checkpoint, load_id, updated_at, done) VALUES (?, ?, ?, ?, now(), ?)"),
                duckdb::params![resource, partition, checkpoint, self.load_id, done],
            )
            .context("saving the checkpoint")?;
        Ok(())
    }

    /// Append batches of a table's rows to `dest` (a target or staging
    /// table with the table's columns, in order) through DuckDB's appender.
    fn append(&self, dest: &str, batches: Vec<RecordBatch>) -> Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        let (schema, name) = split_qualified(dest);
        let mut appender = self
            .conn
            .appender_to_catalog_and_db(&name, &self.catalog, &schema)
            .with_context(|| format!("appending to {dest}"))?;
        for batch in batches {
            appender
                .append_record_batch(batch)
                .with_context(|| format!("appending to {dest}"))?;
        }
        appender
            .flush()
            .with_context(|| format!("appending to {dest}"))?;
        Ok(())
    }

    fn finish(&mut self, resource: &str, completed: bool) -> Result<()> {
        if !self.resources.contains_key(resource) {
            return Ok(());
        }
        let result = self.commit(resource, completed);
        self.resources.remove(resource);
        result
    }

    /// The statements that complete a resource: swap replaced tables in,
    /// mark the resource done for this run.
    fn completion_sql(&self, state: &ResourceState) -> String {
        let mut sql = String::new();
        if state.spec.disposition == Disposition::Replace {
            for t in &state.tables {
                let target = self.target(&t.name);
                if t.staged {
                    let cols: Vec<String> = t.columns.iter().map(|(n, _)| quote(n)).collect();
                    let cols = cols.join(", ");
                    let staging = self.staging(&t.name, "replace");
                    sql.push_str(&format!(
                        "DELETE FROM {target}; INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}; DROP TABLE {staging};"
                    ));
                } else if t.exists || !t.columns.is_empty() {
                    // No rows for this table in this run: replaced by nothing.
                    sql.push_str(&format!("DELETE FROM {target};"));
                }
            }
        }
        let cp = self.target(CHECKPOINTS);
        let r = literal(&state.spec.resource);
        sql.push_str(&format!(
            "DELETE FROM {cp} WHERE resource = {r};
             INSERT INTO {cp} (resource, partition_key, checkpoint, load_id, updated_at, done) VALUES ({r}, '', NULL, {}, now(), true);",
            literal(&self.load_id)
        ));
        sql
    }

    fn complete(&mut self, success: bool) -> Result<()> {
        if success {
            let schema = literal(&self.schema);
            let kept = if self.keeps_records {
                format!(
                    "DELETE FROM {}.{} WHERE schema_name = {schema};",
                    self.qualified(STAGING_SCHEMA),
                    quote(KEPT_RECORDS)
                )
            } else {
                String::new()
            };
            let sql = format!(
                "BEGIN TRANSACTION;
                 INSERT INTO {loads} (load_id, schema_name, status, inserted_at) VALUES ({id}, {schema}, 0, now());
                 DELETE FROM {cp};
                 {kept}
                 COMMIT;",
                loads = self.target("_dlt_loads"),
                id = literal(&self.load_id),
                cp = self.target(CHECKPOINTS),
            );
            if let Err(e) = self.conn.execute_batch(&sql) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(anyhow!(e).context("recording the load"));
            }
        }
        // Folding the WAL into the file is an optimization (the rows are
        // durable in the WAL already); DuckDB refuses it while another
        // connection of the same database has a write open, which happens
        // when several loaders share one database (`extract serve`).
        if !self.opts.checkpoint_on_complete {
            return Ok(());
        }
        if let Err(e) = self.conn.execute_batch("CHECKPOINT") {
            if !e.to_string().contains("other write transactions") {
                return Err(e.into());
            }
            tracing::debug!("CHECKPOINT postponed: {e}");
        }
        Ok(())
    }
}

/// Create the tables every source's loader in the database `catalog`
/// shares (the staging schema, kept parent records), if missing. A caller
/// that runs several loaders on one database at once (`extract serve`)
/// calls this first: two loaders creating them at the same moment would
/// fail with a write-write conflict on the catalog.
pub fn create_shared_tables(conn: &Connection, catalog: &str) -> Result<()> {
    let staging = format!("{}.{}", quote(catalog), quote(STAGING_SCHEMA));
    conn.execute_batch(&format!(
        "CREATE SCHEMA IF NOT EXISTS {staging};
         CREATE TABLE IF NOT EXISTS {staging}.{kept} (schema_name VARCHAR, resource VARCHAR, seq BIGINT, record VARCHAR);",
        kept = quote(KEPT_RECORDS),
    ))?;
    Ok(())
}

/// Split `"catalog"."schema"."table"` into schema and table.
fn split_qualified(q: &str) -> (String, String) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = q.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            other => cur.push(other),
        }
    }
    parts.push(cur);
    let table = parts.pop().unwrap_or_default();
    let schema = parts.pop().unwrap_or_default();
    (schema, table)
}

#[cfg(test)]
mod tests;
