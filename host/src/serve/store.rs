//! The server's control state (tenants, connectors, secrets, sources, jobs)
//! in one SQLite file in the data dir (`control.sqlite`). Every change is
//! one committed transaction, in WAL mode with `synchronous = FULL` (the
//! WAL is synced before a commit returns), so the state survives SIGKILL
//! and power loss.
//!
//! SQLite rather than DuckDB, which holds the tenants' data: this is
//! small-transaction work (a job is queued, started and finished with a
//! handful of point reads and writes), where SQLite answers in
//! microseconds and DuckDB, built for scans, took most of a millisecond
//! per statement: a fifth of the CPU of a small sync.
//!
//! Tenant input is only ever bound as a parameter, never spliced into SQL.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context as _, Result};
use rusqlite::{Connection, OptionalExtension as _, params};

/// Statements through the connection's statement cache: the control
/// database answers the same few statements all day.
trait Cached {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn one<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn one<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// A stored connector component of a tenant.
#[derive(Debug, Clone)]
pub struct ConnectorRow {
    /// The tenant's name for it.
    pub name: String,
    /// SHA-256 of the bytes, hex (also its file name in the data dir).
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// A stored source.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Its name.
    pub name: String,
    /// The connector: `rest_api` or one of the tenant's.
    pub connector: String,
    /// The config, JSON text.
    pub config: String,
    /// Only these resources, JSON list text; `None` for the default ones.
    pub resources: Option<String>,
    /// The schedule, in seconds.
    pub every_secs: Option<u64>,
    /// When the schedule next runs it, Unix milliseconds.
    pub next_run_ms: Option<i64>,
}

/// A job's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a slot.
    Queued,
    /// Running.
    Running,
    /// Every resource completed.
    Succeeded,
    /// At least one resource failed.
    Failed,
    /// Cancelled by its tenant.
    Cancelled,
}

impl JobState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parse the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }

    /// True if and only if the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Every state, for metrics.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];
}

/// A stored job.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// Its id.
    pub id: String,
    /// Queue order.
    pub seq: i64,
    /// Its tenant.
    pub tenant: String,
    /// The source it syncs.
    pub source: String,
    /// Its state.
    pub state: JobState,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Unix milliseconds, once started.
    pub started_ms: Option<i64>,
    /// Unix milliseconds, once final.
    pub finished_ms: Option<i64>,
    /// Why it failed (secrets redacted).
    pub error: Option<String>,
    /// Per-resource outcome, JSON list text, once final.
    pub resources: Option<String>,
    /// The DuckDB load id it wrote.
    pub load_id: Option<String>,
}

/// The control database.
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL, created_ms INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS connectors (tenant TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (tenant, name)) STRICT;
CREATE INDEX IF NOT EXISTS connectors_digest ON connectors (digest);
CREATE TABLE IF NOT EXISTS secrets (tenant TEXT NOT NULL, name TEXT NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (tenant, name)) STRICT;
CREATE TABLE IF NOT EXISTS sources (tenant TEXT NOT NULL, name TEXT NOT NULL, connector TEXT NOT NULL, config TEXT NOT NULL, resources TEXT, every_secs INTEGER, next_run_ms INTEGER, PRIMARY KEY (tenant, name)) STRICT;
CREATE INDEX IF NOT EXISTS sources_next_run ON sources (next_run_ms) WHERE every_secs IS NOT NULL;
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, tenant TEXT NOT NULL, source TEXT NOT NULL, state TEXT NOT NULL, trigger TEXT NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER, finished_ms INTEGER, error TEXT, resources TEXT, load_id TEXT) STRICT;
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, seq);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
";

const JOB_COLUMNS: &str = "id, seq, tenant, source, state, trigger, created_ms, started_ms, finished_ms, error, resources, load_id";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    let state: String = r.get(4)?;
    Ok(JobRow {
        id: r.get(0)?,
        seq: r.get(1)?,
        tenant: r.get(2)?,
        source: r.get(3)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        trigger: r.get(5)?,
        created_ms: r.get(6)?,
        started_ms: r.get(7)?,
        finished_ms: r.get(8)?,
        error: r.get(9)?,
        resources: r.get(10)?,
        load_id: r.get(11)?,
    })
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    /// Open (or create) the control database.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening the control database {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;",
        )
        .with_context(|| format!("opening the control database {}", path.display()))?;
        conn.execute_batch(SCHEMA)
            .context("creating the control database's tables")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` in one transaction: all of it is stored, or none.
    fn transaction<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = self.lock();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(&conn) {
            Ok(v) => {
                conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        }
    }

    // ---- tenants ---------------------------------------------------------

    /// Add a tenant.
    pub fn create_tenant(&self, id: &str, name: &str, token_hash: &str) -> Result<()> {
        self.lock().run(
            "INSERT INTO tenants VALUES (?, ?, ?, ?)",
            params![id, name, token_hash, now_ms()],
        )?;
        Ok(())
    }

    /// Every tenant, in creation order: id, name, token hash.
    pub fn tenants(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT id, name, token_hash FROM tenants ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Remove a tenant and everything it stored; false if there was none.
    pub fn delete_tenant(&self, id: &str) -> Result<bool> {
        self.transaction(|c| {
            let n = c.run("DELETE FROM tenants WHERE id = ?", [id])?;
            for table in ["connectors", "secrets", "sources", "jobs"] {
                c.run(&format!("DELETE FROM {table} WHERE tenant = ?"), [id])?;
            }
            Ok(n > 0)
        })
    }

    /// Digests no tenant's connector uses any more.
    pub fn unused_digests(&self, candidates: &[String]) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut out = Vec::new();
        for d in candidates {
            let n: i64 = conn.one(
                "SELECT count(*) FROM connectors WHERE digest = ?",
                [d],
                |r| r.get(0),
            )?;
            if n == 0 {
                out.push(d.clone());
            }
        }
        Ok(out)
    }

    // ---- connectors ------------------------------------------------------

    /// Store (or replace) a tenant's connector; true if it was new.
    pub fn put_connector(&self, tenant: &str, name: &str, digest: &str, size: u64) -> Result<bool> {
        self.transaction(|c| {
            let old = c.run(
                "DELETE FROM connectors WHERE tenant = ? AND name = ?",
                [tenant, name],
            )?;
            c.run(
                "INSERT INTO connectors VALUES (?, ?, ?, ?)",
                params![tenant, name, digest, size as i64],
            )?;
            Ok(old == 0)
        })
    }

    /// One of a tenant's connectors.
    pub fn connector(&self, tenant: &str, name: &str) -> Result<Option<ConnectorRow>> {
        Ok(self
            .lock()
            .one(
                "SELECT name, digest, size FROM connectors WHERE tenant = ? AND name = ?",
                [tenant, name],
                |r| {
                    Ok(ConnectorRow {
                        name: r.get(0)?,
                        digest: r.get(1)?,
                        size: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// A tenant's connectors, by name.
    pub fn connectors(&self, tenant: &str) -> Result<Vec<ConnectorRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, digest, size FROM connectors WHERE tenant = ? ORDER BY name",
        )?;
        let rows = stmt.query_map([tenant], |r| {
            Ok(ConnectorRow {
                name: r.get(0)?,
                digest: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every digest of a tenant's connectors.
    pub fn tenant_digests(&self, tenant: &str) -> Result<Vec<String>> {
        Ok(self
            .connectors(tenant)?
            .into_iter()
            .map(|c| c.digest)
            .collect())
    }

    /// Remove a connector; false if there was none.
    pub fn delete_connector(&self, tenant: &str, name: &str) -> Result<bool> {
        Ok(self.lock().run(
            "DELETE FROM connectors WHERE tenant = ? AND name = ?",
            [tenant, name],
        )? > 0)
    }

    // ---- secrets ---------------------------------------------------------

    /// Store (or replace) a sealed secret; true if it was new.
    pub fn put_secret(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<bool> {
        self.transaction(|c| {
            let old = c.run(
                "DELETE FROM secrets WHERE tenant = ? AND name = ?",
                [tenant, name],
            )?;
            c.run(
                "INSERT INTO secrets VALUES (?, ?, ?)",
                params![tenant, name, sealed],
            )?;
            Ok(old == 0)
        })
    }

    /// A tenant's secret names.
    pub fn secret_names(&self, tenant: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT name FROM secrets WHERE tenant = ? ORDER BY name")?;
        let rows = stmt.query_map([tenant], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A tenant's sealed secrets: name, sealed value.
    pub fn sealed_secrets(&self, tenant: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT name, sealed FROM secrets WHERE tenant = ?")?;
        let rows = stmt.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Remove a secret; false if there was none.
    pub fn delete_secret(&self, tenant: &str, name: &str) -> Result<bool> {
        Ok(self.lock().run(
            "DELETE FROM secrets WHERE tenant = ? AND name = ?",
            [tenant, name],
        )? > 0)
    }

    // ---- sources ---------------------------------------------------------

    /// Store (or replace) a source; true if it was new.
    pub fn put_source(&self, tenant: &str, s: &SourceRow) -> Result<bool> {
        self.transaction(|c| {
            let old = c.run(
                "DELETE FROM sources WHERE tenant = ? AND name = ?",
                [tenant, &s.name],
            )?;
            c.run(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![
                    tenant,
                    s.name,
                    s.connector,
                    s.config,
                    s.resources,
                    s.every_secs.map(|e| e as i64),
                    s.next_run_ms
                ],
            )?;
            Ok(old == 0)
        })
    }

    fn source_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRow> {
        Ok(SourceRow {
            name: r.get(0)?,
            connector: r.get(1)?,
            config: r.get(2)?,
            resources: r.get(3)?,
            every_secs: r.get::<_, Option<i64>>(4)?.map(|e| e as u64),
            next_run_ms: r.get(5)?,
        })
    }

    /// One source.
    pub fn source(&self, tenant: &str, name: &str) -> Result<Option<SourceRow>> {
        Ok(self
            .lock()
            .one(
                "SELECT name, connector, config, resources, every_secs, next_run_ms FROM sources WHERE tenant = ? AND name = ?",
                [tenant, name],
                Self::source_from_row,
            )
            .optional()?)
    }

    /// A tenant's sources, by name.
    pub fn sources(&self, tenant: &str) -> Result<Vec<SourceRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name, connector, config, resources, every_secs, next_run_ms FROM sources WHERE tenant = ? ORDER BY name",
        )?;
        let rows = stmt.query_map([tenant], Self::source_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Remove a source; false if there was none.
    pub fn delete_source(&self, tenant: &str, name: &str) -> Result<bool> {
        Ok(self.lock().run(
            "DELETE FROM sources WHERE tenant = ? AND name = ?",
            [tenant, name],
        )? > 0)
    }

    /// Scheduled sources due at `now`: tenant, name, every.
    pub fn due_sources(&self, now: i64) -> Result<Vec<(String, String, u64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT tenant, name, every_secs FROM sources WHERE every_secs IS NOT NULL AND next_run_ms <= ? ORDER BY next_run_ms",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Queue the scheduled run of a due source (unless one is already
    /// waiting) and move its next run to `next`: one transaction, so a
    /// missed schedule runs once, however many slots were missed.
    pub fn schedule_run(
        &self,
        tenant: &str,
        source: &str,
        job_id: &str,
        next: i64,
    ) -> Result<bool> {
        self.transaction(|c| {
            c.run(
                "UPDATE sources SET next_run_ms = ? WHERE tenant = ? AND name = ?",
                params![next, tenant, source],
            )?;
            let waiting: i64 = c.one(
                "SELECT count(*) FROM jobs WHERE tenant = ? AND source = ? AND state = 'queued'",
                [tenant, source],
                |r| r.get(0),
            )?;
            if waiting > 0 {
                return Ok(false);
            }
            insert_job(c, job_id, tenant, source, "schedule")?;
            Ok(true)
        })
    }

    // ---- jobs ------------------------------------------------------------

    /// Queue a job.
    pub fn create_job(&self, id: &str, tenant: &str, source: &str, trigger: &str) -> Result<()> {
        self.transaction(|c| insert_job(c, id, tenant, source, trigger))
    }

    /// One of a tenant's jobs.
    pub fn job(&self, tenant: &str, id: &str) -> Result<Option<JobRow>> {
        Ok(self
            .lock()
            .one(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? AND id = ?"),
                [tenant, id],
                job_from_row,
            )
            .optional()?)
    }

    /// A tenant's jobs, newest first.
    pub fn jobs(&self, tenant: &str, limit: usize) -> Result<Vec<JobRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ? ORDER BY seq DESC LIMIT ?"
        ))?;
        let rows = stmt.query_map(params![tenant, limit as i64], job_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every queued job, oldest first.
    pub fn queued_jobs(&self) -> Result<Vec<JobRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY seq"
        ))?;
        let rows = stmt.query_map([], job_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Jobs per tenant and state, for metrics.
    pub fn job_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT tenant, state, count(*) FROM jobs GROUP BY tenant, state ORDER BY tenant, state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Jobs left `running` by a process that died: queued again (ahead of
    /// newer ones, by their queue order), to resume from their checkpoints.
    pub fn requeue_running(&self) -> Result<usize> {
        Ok(self.lock().run(
            "UPDATE jobs SET state = 'queued' WHERE state = 'running'",
            [],
        )?)
    }

    /// Mark a queued job running; false if it is no longer queued.
    pub fn start_job(&self, id: &str) -> Result<bool> {
        Ok(self.lock().run(
            "UPDATE jobs SET state = 'running', started_ms = coalesce(started_ms, ?) WHERE id = ? AND state = 'queued'",
            params![now_ms(), id],
        )? > 0)
    }

    /// Put a running job back in the queue (the server is stopping).
    pub fn requeue_job(&self, id: &str) -> Result<()> {
        self.lock().run(
            "UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'running'",
            [id],
        )?;
        Ok(())
    }

    /// Record a job's final state.
    pub fn finish_job(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
        resources: Option<&str>,
        load_id: Option<&str>,
    ) -> Result<()> {
        self.lock().run(
            "UPDATE jobs SET state = ?, finished_ms = ?, error = ?, resources = ?, load_id = ? WHERE id = ?",
            params![state.as_str(), now_ms(), error, resources, load_id, id],
        )?;
        Ok(())
    }

    /// Cancel a queued job; false if it is not queued.
    pub fn cancel_queued(&self, id: &str) -> Result<bool> {
        Ok(self.lock().run(
            "UPDATE jobs SET state = 'cancelled', finished_ms = ? WHERE id = ? AND state = 'queued'",
            params![now_ms(), id],
        )? > 0)
    }
}

fn insert_job(
    c: &Connection,
    id: &str,
    tenant: &str,
    source: &str,
    trigger: &str,
) -> rusqlite::Result<()> {
    let seq: i64 = c.one("SELECT coalesce(max(seq), 0) + 1 FROM jobs", [], |r| {
        r.get(0)
    })?;
    c.run(
        "INSERT INTO jobs (id, seq, tenant, source, state, trigger, created_ms) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
        params![id, seq, tenant, source, trigger, now_ms()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("control.sqlite")).expect("open");
        (dir, store)
    }

    #[test]
    fn state_survives_reopening_and_tenants_see_only_their_rows() {
        let (dir, s) = store();
        s.create_tenant("a", "Alpha", "h1").expect("tenant");
        s.create_tenant("b", "Beta", "h2").expect("tenant");
        assert!(s.put_secret("a", "key", b"sealed").expect("secret"));
        assert!(!s.put_secret("a", "key", b"sealed2").expect("secret"));
        s.create_job("j1", "a", "src", "manual").expect("job");
        drop(s);
        let s = Store::open(&dir.path().join("control.sqlite")).expect("reopen");
        assert_eq!(s.tenants().expect("tenants").len(), 2);
        assert_eq!(s.secret_names("a").expect("names"), vec!["key"]);
        assert!(s.secret_names("b").expect("names").is_empty());
        assert!(s.job("a", "j1").expect("job").is_some());
        assert!(s.job("b", "j1").expect("job").is_none());
        assert!(s.delete_tenant("a").expect("delete"));
        assert!(s.job("a", "j1").expect("job").is_none());
        assert!(s.secret_names("a").expect("names").is_empty());
    }

    #[test]
    fn a_missed_schedule_queues_one_run() {
        let (_dir, s) = store();
        let src = SourceRow {
            name: "src".into(),
            connector: "rest_api".into(),
            config: "{}".into(),
            resources: None,
            every_secs: Some(60),
            next_run_ms: Some(1_000),
        };
        s.put_source("a", &src).expect("source");
        // Many slots were missed; the first tick queues one run...
        let due = s.due_sources(1_000_000).expect("due");
        assert_eq!(due.len(), 1);
        assert!(
            s.schedule_run("a", "src", "j1", 1_060_000)
                .expect("schedule")
        );
        // ... and the source is not due again until its next slot.
        assert!(s.due_sources(1_000_001).expect("due").is_empty());
        assert_eq!(s.queued_jobs().expect("queued").len(), 1);
        // A second due slot while that run still waits adds nothing.
        assert!(
            !s.schedule_run("a", "src", "j2", 1_120_000)
                .expect("schedule")
        );
        assert_eq!(s.queued_jobs().expect("queued").len(), 1);
    }

    #[test]
    fn running_jobs_are_queued_again_in_their_order() {
        let (_dir, s) = store();
        s.create_job("j1", "a", "s", "manual").expect("job");
        s.create_job("j2", "a", "s", "manual").expect("job");
        assert!(s.start_job("j1").expect("start"));
        assert!(!s.start_job("j1").expect("start twice"));
        assert_eq!(s.requeue_running().expect("requeue"), 1);
        let ids: Vec<String> = s
            .queued_jobs()
            .expect("queued")
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(ids, vec!["j1", "j2"]);
    }
}
