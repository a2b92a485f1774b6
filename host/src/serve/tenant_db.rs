//! Tenants' DuckDB files: one per tenant, `tenants/<tenant id>.duckdb` in
//! the data dir (the id is the server's, so no tenant input names a path).
//! Each file is opened once per process; syncs and table reads use clones
//! of that one connection, so they share the database instance.
//!
//! Reading tables: only names that exist in the file are accepted, and they
//! are quoted; no SQL from a request is ever run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use duckdb::Connection;
use duckdb::types::ValueRef;
use serde_json::{Map, Value};

use crate::storage::naming::{literal, quote};

/// The loader's staging schema and table prefix: internal, not listed.
const INTERNAL_SCHEMA: &str = "_extract_staging";
const INTERNAL_PREFIX: &str = "_extract_";

/// The block size of a new tenant file: DuckDB's smallest (its default is
/// 256 KiB). A tenant's file holds many small tables (the loader's own,
/// one per resource and nested list), and every column of every table
/// needs at least one block in the buffer pool that all tenants share, and
/// in each checkpoint: with 256 KiB blocks a hundred tenants' small syncs
/// filled a 256 MiB pool, and each job's `CHECKPOINT` wrote mostly empty
/// blocks.
const BLOCK_SIZE: u32 = 16 * 1024;

/// The tenants' databases: each tenant's file is attached (once, on first
/// use) to one in-memory DuckDB instance that the server keeps, under a
/// catalog named after the tenant id; a connection for a tenant is a clone
/// of the instance's connection with that catalog selected (`USE`). One
/// instance rather than one per file: an open instance costs about 5 MB
/// (its buffer pool, catalog and threads), an attached file a fraction of
/// one, and a server holds a hundred tenants.
pub struct TenantDbs {
    dir: PathBuf,
    root: Mutex<Connection>,
    /// The buffer pool's limit, in bytes.
    memory_limit_bytes: u64,
    attached: Mutex<HashSet<String>>,
    /// (tenant, source) pairs whose loader tables this process created.
    ready: Mutex<HashSet<(String, String)>>,
}

/// DuckDB's buffer pool: what it holds and may hold (all tenants' files
/// together, as DuckDB accounts for them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Bytes in memory.
    pub memory_bytes: u64,
    /// Bytes evicted to temporary files.
    pub temporary_bytes: u64,
    /// The limit on `memory_bytes` (`--duckdb-memory-mib`).
    pub limit_bytes: u64,
}

/// One table of a tenant.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TableInfo {
    /// `source.table`: what `GET /v1/tables/{name}` takes.
    pub name: String,
    /// The schema: the source's name, normalized.
    pub schema: String,
    /// The table.
    pub table: String,
    /// Row count.
    pub rows: i64,
}

impl TenantDbs {
    /// Tenant files live in `dir`; DuckDB's buffer pool (shared by all
    /// tenants) is capped at `memory_limit_mib` and spills to `dir/.tmp`.
    pub fn new(dir: PathBuf, memory_limit_mib: u64) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(".tmp");
        // DuckDB's pool of I/O threads is 8 by default: one is plenty for
        // small tenant files.
        let config = duckdb::Config::default()
            .max_memory(&format!("{}MiB", memory_limit_mib.max(16)))?
            .with("async_threads", "1")?
            .with("temp_directory", tmp.to_string_lossy())?;
        let root = Connection::open_in_memory_with_flags(config)
            .context("starting the DuckDB instance for tenants' files")?;
        Ok(Self {
            dir,
            root: Mutex::new(root),
            memory_limit_bytes: memory_limit_mib.max(16) * 1024 * 1024,
            attached: Mutex::default(),
            ready: Mutex::default(),
        })
    }

    /// What DuckDB's buffer pool, shared by all tenants, holds now.
    pub fn pool_usage(&self) -> Result<PoolUsage> {
        let root = self.root.lock().unwrap_or_else(|p| p.into_inner());
        let (memory, temporary): (i64, i64) = root
            .query_row(
                "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT, \
                 coalesce(sum(temporary_storage_bytes), 0)::BIGINT FROM duckdb_memory()",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .context("reading DuckDB's memory use")?;
        Ok(PoolUsage {
            memory_bytes: memory.max(0) as u64,
            temporary_bytes: temporary.max(0) as u64,
            limit_bytes: self.memory_limit_bytes,
        })
    }

    /// Whether a loader of `tenant`'s `source` already set up its tables
    /// in this process.
    pub fn schema_ready(&self, tenant: &str, source: &str) -> bool {
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(tenant.to_string(), source.to_string()))
    }

    /// Remember that a loader of `tenant`'s `source` set up its tables.
    pub fn mark_schema_ready(&self, tenant: &str, source: &str) {
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant.to_string(), source.to_string()));
    }

    /// The file of `tenant` (an id the server generated).
    pub fn path(&self, tenant: &str) -> PathBuf {
        self.dir.join(format!("{tenant}.duckdb"))
    }

    /// The catalog `tenant`'s file is attached as.
    fn catalog(tenant: &str) -> String {
        quote(&Self::catalog_name(tenant))
    }

    /// The catalog's name, unquoted.
    fn catalog_name(tenant: &str) -> String {
        format!("t_{tenant}")
    }

    /// A new connection to `tenant`'s database (attached on first use).
    pub fn connect(&self, tenant: &str) -> Result<Connection> {
        let conn = self
            .root
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_clone()?;
        let catalog = Self::catalog(tenant);
        {
            let mut attached = self.attached.lock().unwrap_or_else(|p| p.into_inner());
            if !attached.contains(tenant) {
                let path = self.path(tenant);
                // Created, with the tables all its loaders share, once
                // here, so concurrent loaders of this tenant never race to
                // create them. A new file gets small blocks
                // (an existing one keeps the size it was made with).
                let options = if path.exists() {
                    String::new()
                } else {
                    format!(" (BLOCK_SIZE {BLOCK_SIZE})")
                };
                conn.execute_batch(&format!(
                    "ATTACH IF NOT EXISTS {} AS {catalog}{options}",
                    literal(&path.to_string_lossy()),
                ))
                .with_context(|| format!("opening {}", path.display()))?;
                crate::storage::create_shared_tables(&conn, &Self::catalog_name(tenant))
                    .with_context(|| format!("opening {}", path.display()))?;
                attached.insert(tenant.to_string());
            }
        }
        conn.execute_batch(&format!("USE {catalog}"))?;
        Ok(conn)
    }

    /// Detach `tenant`'s database and delete its file. Callers stop the
    /// tenant's jobs first.
    pub fn remove(&self, tenant: &str) -> Result<()> {
        let was_attached = self
            .attached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant);
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(t, _)| t != tenant);
        if was_attached {
            self.root
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .execute_batch(&format!(
                    "DETACH DATABASE IF EXISTS {}",
                    Self::catalog(tenant)
                ))
                .context("closing the tenant's database")?;
        }
        let path = self.path(tenant);
        for p in [path.clone(), wal_path(&path)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
            }
        }
        Ok(())
    }
}

fn wal_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".wal");
    PathBuf::from(p)
}

/// Every user-visible table with its row count.
pub fn list_tables(conn: &Connection) -> Result<Vec<TableInfo>> {
    let mut stmt = conn.prepare(
        "SELECT table_schema, table_name FROM information_schema.tables \
         WHERE table_catalog = current_database() AND table_schema NOT IN ('main', 'information_schema', 'pg_catalog') \
         AND table_schema <> ? AND NOT starts_with(table_name, ?) ORDER BY 1, 2",
    )?;
    let names: Vec<(String, String)> = stmt
        .query_map([INTERNAL_SCHEMA, INTERNAL_PREFIX], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<duckdb::Result<_>>()?;
    let mut out = Vec::with_capacity(names.len());
    for (schema, table) in names {
        let rows: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}.{}", quote(&schema), quote(&table)),
            [],
            |r| r.get(0),
        )?;
        out.push(TableInfo {
            name: format!("{schema}.{table}"),
            schema,
            table,
            rows,
        });
    }
    Ok(out)
}

/// Columns of `schema.table` with their DuckDB types, if the table exists
/// and is user-visible.
fn columns(conn: &Connection, schema: &str, table: &str) -> Result<Option<Vec<(String, String)>>> {
    if schema == INTERNAL_SCHEMA || table.starts_with(INTERNAL_PREFIX) {
        return Ok(None);
    }
    let mut stmt = conn.prepare(
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? \
         AND table_schema NOT IN ('main', 'information_schema', 'pg_catalog') ORDER BY ordinal_position",
    )?;
    let cols: Vec<(String, String)> = stmt
        .query_map([schema, table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<duckdb::Result<_>>()?;
    Ok((!cols.is_empty()).then_some(cols))
}

/// Rows of the table named `name` (`schema.table`, as [`list_tables`]
/// gives it) as JSON objects, in insertion order; `None` if there is no
/// such table.
pub fn rows(conn: &Connection, name: &str, limit: u64, offset: u64) -> Result<Option<Vec<Value>>> {
    let Some((schema, table)) = name.split_once('.') else {
        return Ok(None);
    };
    let Some(cols) = columns(conn, schema, table)? else {
        return Ok(None);
    };
    // Numbers and booleans come out as JSON numbers and booleans; every
    // other type as DuckDB's text form.
    let select: Vec<String> = cols
        .iter()
        .map(|(c, ty)| {
            if is_native(ty) {
                quote(c)
            } else {
                format!("CAST({} AS VARCHAR)", quote(c))
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {}.{} ORDER BY rowid LIMIT ? OFFSET ?",
        select.join(", "),
        quote(schema),
        quote(table)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(duckdb::params![limit as i64, offset as i64])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut obj = Map::with_capacity(cols.len());
        for (i, (c, _)) in cols.iter().enumerate() {
            obj.insert(c.clone(), to_json(row.get_ref(i)?));
        }
        out.push(Value::Object(obj));
    }
    Ok(Some(out))
}

fn is_native(ty: &str) -> bool {
    matches!(
        ty,
        "BOOLEAN"
            | "TINYINT"
            | "SMALLINT"
            | "INTEGER"
            | "BIGINT"
            | "UTINYINT"
            | "USMALLINT"
            | "UINTEGER"
            | "UBIGINT"
            | "FLOAT"
            | "DOUBLE"
    )
}

fn to_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Boolean(b) => Value::Bool(b),
        ValueRef::TinyInt(i) => i.into(),
        ValueRef::SmallInt(i) => i.into(),
        ValueRef::Int(i) => i.into(),
        ValueRef::BigInt(i) => i.into(),
        ValueRef::UTinyInt(i) => i.into(),
        ValueRef::USmallInt(i) => i.into(),
        ValueRef::UInt(i) => i.into(),
        ValueRef::UBigInt(i) => i.into(),
        ValueRef::Float(f) => {
            serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
        }
        ValueRef::Double(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        other => Value::String(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_listed_and_read_with_quoted_names_only_if_they_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dbs = TenantDbs::new(dir.path().to_path_buf(), 64).expect("dbs");
        let conn = dbs.connect("t1").expect("connect");
        conn.execute_batch(
            r#"CREATE SCHEMA shop; CREATE TABLE shop."we""ird" (id BIGINT, name VARCHAR, ok BOOLEAN, seen_at TIMESTAMPTZ);
               INSERT INTO shop."we""ird" VALUES (1, 'a', true, '2024-01-02 03:04:05+00'), (2, NULL, false, NULL);
               CREATE TABLE shop._extract_checkpoints (x INTEGER);"#,
        )
        .expect("setup");
        let tables = list_tables(&conn).expect("list");
        assert_eq!(tables.len(), 1, "{tables:?}");
        assert_eq!(tables[0].name, "shop.we\"ird");
        assert_eq!(tables[0].rows, 2);
        let rows = rows(&conn, "shop.we\"ird", 10, 0)
            .expect("rows")
            .expect("exists");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"], 1);
        assert_eq!(rows[0]["name"], "a");
        assert_eq!(rows[0]["ok"], true);
        assert!(
            rows[0]["seen_at"]
                .as_str()
                .expect("text")
                .starts_with("2024-01-02")
        );
        assert_eq!(rows[1]["name"], Value::Null);
        let page = super::rows(&conn, "shop.we\"ird", 1, 1)
            .expect("rows")
            .expect("exists");
        assert_eq!(page.len(), 1);
        assert_eq!(page[0]["id"], 2);
        for missing in [
            "shop.nope",
            "shop._extract_checkpoints",
            "nope",
            "shop.we\"ird; DROP TABLE x",
            "information_schema.tables",
        ] {
            assert!(
                super::rows(&conn, missing, 1, 0).expect("query").is_none(),
                "{missing}"
            );
        }
        drop(conn);
        // A second tenant's database is another file.
        let other = dbs.connect("t2").expect("connect");
        assert!(list_tables(&other).expect("list").is_empty());
        drop(other);
        dbs.remove("t1").expect("remove");
        assert!(!dbs.path("t1").exists());
    }

    #[test]
    fn new_tenant_files_get_small_blocks_and_existing_files_keep_theirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file made elsewhere with DuckDB's default block size.
        let old = duckdb::Connection::open(dir.path().join("old.duckdb")).expect("old file");
        old.execute_batch("CREATE TABLE x (a INTEGER); INSERT INTO x VALUES (7)")
            .expect("old table");
        drop(old);
        let dbs = TenantDbs::new(dir.path().to_path_buf(), 64).expect("dbs");
        let block_size = |tenant: &str| -> i64 {
            let conn = dbs.connect(tenant).expect("connect");
            conn.query_row(
                "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()",
                [],
                |r| r.get(0),
            )
            .expect("block size")
        };
        assert_eq!(block_size("fresh"), i64::from(BLOCK_SIZE));
        assert_eq!(block_size("old"), 256 * 1024);
        let conn = dbs.connect("old").expect("connect");
        let a: i32 = conn
            .query_row("SELECT a FROM x", [], |r| r.get(0))
            .expect("old rows");
        assert_eq!(a, 7);
    }
}
