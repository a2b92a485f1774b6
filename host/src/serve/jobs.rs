//! The job scheduler: queued jobs are taken round-robin across tenants
//! under a global and a per-tenant cap on running syncs; due schedules are
//! queued; each job runs a sync of its source into its tenant's DuckDB
//! file, with live per-resource progress and cancellation at page
//! boundaries.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use super::App;
use super::crypto::new_id;
use super::metrics::classify;
use super::store::{JobRow, JobState, now_ms};
use crate::progress::{Observer, Progress};
use crate::storage::{Loader, LoaderOptions};
use crate::sync::{self, RunReport, SourceInput};

/// How often the scheduler looks at schedules without being woken.
const TICK: Duration = Duration::from_millis(500);

/// One resource of a job, as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ResourceProgress {
    /// The resource.
    pub name: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// Pages loaded by this job.
    pub pages: u64,
    /// Records loaded by this job.
    pub records: u64,
    /// Why it failed (secrets redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

const NOT_STOPPED: u8 = 0;
const CANCELLED: u8 = 1;
const SHUTTING_DOWN: u8 = 2;

/// A running job's live progress; also how it is asked to stop.
pub struct JobProgress {
    tenant: String,
    app_metrics: Arc<super::metrics::Metrics>,
    resources: Mutex<BTreeMap<String, ResourceProgress>>,
    stop: AtomicU8,
}

impl JobProgress {
    fn new(tenant: &str, metrics: Arc<super::metrics::Metrics>) -> Self {
        Self {
            tenant: tenant.to_string(),
            app_metrics: metrics,
            resources: Mutex::default(),
            stop: AtomicU8::new(NOT_STOPPED),
        }
    }

    fn with<T>(&self, resource: &str, f: impl FnOnce(&mut ResourceProgress) -> T) -> T {
        let mut map = self.resources.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry(resource.to_string())
            .or_insert_with(|| ResourceProgress {
                name: resource.to_string(),
                state: "running".into(),
                ..Default::default()
            });
        f(entry)
    }

    /// The resources so far, by name.
    pub fn snapshot(&self) -> Vec<ResourceProgress> {
        self.resources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Ask the job to stop at its next page boundary.
    pub fn cancel(&self) {
        let _ =
            self.stop
                .compare_exchange(NOT_STOPPED, CANCELLED, Ordering::SeqCst, Ordering::SeqCst);
    }

    fn shut_down(&self) {
        let _ = self.stop.compare_exchange(
            NOT_STOPPED,
            SHUTTING_DOWN,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    fn stop_reason(&self) -> u8 {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Observer for JobProgress {
    fn page(&self, resource: &str, records: u64) {
        self.with(resource, |r| {
            r.pages += 1;
            r.records += records;
        });
        self.app_metrics.page(&self.tenant, records);
    }

    fn done(&self, resource: &str) {
        self.with(resource, |r| r.state = "succeeded".into());
    }

    fn failed(&self, resource: &str) {
        self.with(resource, |r| r.state = "failed".into());
    }

    fn cancelled(&self) -> bool {
        self.stop_reason() != NOT_STOPPED
    }
}

struct Running {
    tenant: String,
    source: String,
    progress: Arc<JobProgress>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The scheduler's state.
#[derive(Default)]
pub struct Scheduler {
    running: Mutex<HashMap<String, Running>>,
    wake: Notify,
    stopping: AtomicBool,
    /// The tenant served last, for round-robin.
    cursor: Mutex<Option<String>>,
}

impl Scheduler {
    /// Look at the queue now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The live progress of a running job.
    pub fn progress(&self, job: &str) -> Option<Arc<JobProgress>> {
        self.lock().get(job).map(|r| r.progress.clone())
    }

    /// Ask a running job to stop at its next page boundary; false if it is
    /// not running.
    pub fn cancel(&self, job: &str) -> bool {
        match self.lock().get(job) {
            Some(r) => {
                r.progress.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancel every running job of `tenant` and wait for them to stop.
    pub async fn stop_tenant(&self, tenant: &str) {
        let tasks: Vec<_> = {
            let mut running = self.lock();
            running
                .values_mut()
                .filter(|r| r.tenant == tenant)
                .filter_map(|r| {
                    r.progress.cancel();
                    r.task.take()
                })
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Stop taking jobs; ask running ones to stop at their next page
    /// boundary (they go back to the queue) and wait for them.
    pub async fn shut_down(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let tasks: Vec<_> = {
            let mut running = self.lock();
            running
                .values_mut()
                .filter_map(|r| {
                    r.progress.shut_down();
                    r.task.take()
                })
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Which queued job runs next: round-robin over tenants (starting after
/// `cursor`, the tenant served last), the oldest job of each tenant first,
/// skipping tenants at `per_tenant` running jobs and sources already
/// running. `queued` is (tenant, source) in queue order; `running` likewise.
/// Returns an index into `queued`.
pub fn choose(
    queued: &[(&str, &str)],
    running: &[(&str, &str)],
    cursor: Option<&str>,
    global: usize,
    per_tenant: usize,
) -> Option<usize> {
    if running.len() >= global {
        return None;
    }
    let mut tenants: Vec<&str> = queued.iter().map(|(t, _)| *t).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let start = cursor.map_or(0, |c| tenants.partition_point(|t| *t <= c));
    for k in 0..tenants.len() {
        let tenant = tenants[(start + k) % tenants.len()];
        if running.iter().filter(|(t, _)| *t == tenant).count() >= per_tenant {
            continue;
        }
        let pick = queued
            .iter()
            .position(|(t, s)| *t == tenant && !running.iter().any(|(rt, rs)| rt == t && rs == s));
        if pick.is_some() {
            return pick;
        }
    }
    None
}

/// The scheduler loop: queue due schedules, start jobs while slots are free.
pub async fn run(app: Arc<App>) {
    let mut schedules_read: Option<std::time::Instant> = None;
    loop {
        if app.scheduler.stopping.load(Ordering::SeqCst) {
            break;
        }
        // Schedules have a resolution of seconds: they are read once per
        // TICK, not at every wake-up (each finished job wakes the loop).
        let schedules = schedules_read.is_none_or(|t| t.elapsed() >= TICK);
        if schedules {
            schedules_read = Some(std::time::Instant::now());
        }
        if let Err(e) = tick(&app, schedules) {
            tracing::error!("scheduler: {e:#}");
        }
        tokio::select! {
            _ = app.scheduler.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

fn tick(app: &Arc<App>, schedules: bool) -> Result<()> {
    if schedules {
        let now = now_ms();
        for (tenant, source, every) in app.store.due_sources(now)? {
            let next = now + (every as i64).saturating_mul(1000);
            app.store.schedule_run(&tenant, &source, &new_id(), next)?;
        }
    }
    if app.scheduler.lock().len() >= app.settings.max_concurrent_syncs {
        // No free slot: the next finished job wakes the scheduler.
        return Ok(());
    }
    // The queue is read once per tick; jobs queued meanwhile wake the
    // scheduler again.
    let mut queued = app.store.queued_jobs()?;
    loop {
        if app.scheduler.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let job = {
            let mut running = app.scheduler.lock();
            let q: Vec<(&str, &str)> = queued
                .iter()
                .map(|j| (j.tenant.as_str(), j.source.as_str()))
                .collect();
            let r: Vec<(&str, &str)> = running
                .values()
                .map(|j| (j.tenant.as_str(), j.source.as_str()))
                .collect();
            let mut cursor = app
                .scheduler
                .cursor
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let Some(i) = choose(
                &q,
                &r,
                cursor.as_deref(),
                app.settings.max_concurrent_syncs,
                app.settings.max_syncs_per_tenant,
            ) else {
                return Ok(());
            };
            let job = queued.remove(i);
            if !app.store.start_job(&job.id)? {
                // Cancelled (or started) since the queue was read.
                continue;
            }
            *cursor = Some(job.tenant.clone());
            let progress = Arc::new(JobProgress::new(&job.tenant, app.metrics.clone()));
            running.insert(
                job.id.clone(),
                Running {
                    tenant: job.tenant.clone(),
                    source: job.source.clone(),
                    progress,
                    task: None,
                },
            );
            job
        };
        let progress = app
            .scheduler
            .progress(&job.id)
            .ok_or_else(|| anyhow!("a job vanished while starting (host bug)"))?;
        let id = job.id.clone();
        let task = tokio::spawn(execute(app.clone(), job, progress));
        if let Some(r) = app.scheduler.lock().get_mut(&id) {
            r.task = Some(task);
        }
    }
}

async fn execute(app: Arc<App>, job: JobRow, progress: Arc<JobProgress>) {
    tracing::info!("job {} ({}/{}) started", job.id, job.tenant, job.source);
    let outcome = run_job(&app, &job, &progress).await;
    let stop = progress.stop_reason();
    let mut live = progress.snapshot();
    let result = match outcome {
        Ok(report) => {
            let mut resources = Vec::new();
            for (name, r) in &report.resources {
                let mut p = live
                    .iter()
                    .find(|p| &p.name == name)
                    .cloned()
                    .unwrap_or_else(|| ResourceProgress {
                        name: name.clone(),
                        ..Default::default()
                    });
                p.state = if r.error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                }
                .into();
                p.error = r.error.clone();
                if let Some(fault) = r.error.as_deref().and_then(classify) {
                    app.metrics.fault(&job.tenant, fault);
                }
                resources.push(p);
            }
            live = resources;
            let state = if report.success() {
                JobState::Succeeded
            } else if stop == SHUTTING_DOWN {
                JobState::Queued
            } else if stop == CANCELLED {
                JobState::Cancelled
            } else {
                JobState::Failed
            };
            let error = (state == JobState::Failed).then(|| {
                let failed: Vec<&str> = report
                    .resources
                    .iter()
                    .filter(|(_, r)| r.error.is_some())
                    .map(|(n, _)| n.as_str())
                    .collect();
                format!("resources failed: {}", failed.join(", "))
            });
            (state, error, Some(report.load_id))
        }
        Err(e) => {
            let state = match stop {
                SHUTTING_DOWN => JobState::Queued,
                CANCELLED => JobState::Cancelled,
                _ => JobState::Failed,
            };
            (state, Some(e), None)
        }
    };
    let (state, error, load_id) = result;
    let stored = if state == JobState::Queued {
        tracing::info!("job {} stopped for shutdown; it resumes on restart", job.id);
        app.store.requeue_job(&job.id)
    } else {
        let resources = serde_json::to_string(&live).ok();
        app.store.finish_job(
            &job.id,
            state,
            error.as_deref(),
            resources.as_deref(),
            load_id.as_deref(),
        )
    };
    if let Err(e) = stored {
        tracing::error!("recording job {}: {e:#}", job.id);
    }
    tracing::info!("job {} {}", job.id, state.as_str());
    app.scheduler.lock().remove(&job.id);
    app.scheduler.wake();
}

/// Run one job's sync; `Err` holds a message safe to show (redacted).
async fn run_job(
    app: &App,
    job: &JobRow,
    progress: &Arc<JobProgress>,
) -> Result<RunReport, String> {
    let started = std::time::Instant::now();
    let secrets = app.secrets(&job.tenant).map_err(|e| format!("{e:#}"))?;
    let redact = |e: anyhow::Error| {
        let mut msg = secrets.redactor().redact(&format!("{e:#}"));
        if msg.contains("which is not set") {
            msg.push_str(" (with `extract serve`: store it with PUT /v1/secrets/NAME)");
        }
        msg
    };
    let source = app
        .store
        .source(&job.tenant, &job.source)
        .map_err(|e| format!("{e:#}"))?
        .ok_or_else(|| format!("the source `{}` was deleted", job.source))?;
    let component = app
        .component(&job.tenant, &source.connector)
        .map_err(redact)?
        .with_gate(app.gate(&job.tenant));
    let config: Value = serde_json::from_str(&source.config)
        .context("the stored config is not JSON")
        .map_err(redact)?;
    let resources: Option<Vec<String>> = source
        .resources
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| format!("the stored resource list is not JSON: {e}"))?;
    let mut opts = app.run_options(resources);
    let (metrics, tenant) = (app.metrics.clone(), job.tenant.clone());
    opts.http.on_response = Some(crate::http::ResponseHook(Arc::new(move |status| {
        metrics.upstream(&tenant, status)
    })));
    let input = SourceInput {
        component,
        config,
        // Tenants write configs, not the operator: every host they name
        // gets the strict egress check unless `--allow-host` allows it.
        operator_written: None,
    };
    let prepared = sync::prepare(input, &secrets, &opts)
        .await
        .map_err(redact)?;
    let prepared_at = started.elapsed();
    let conn = app.dbs.connect(&job.tenant).map_err(redact)?;
    let loader = Loader::open_on(
        conn,
        &app.dbs.path(&job.tenant),
        &job.source,
        LoaderOptions {
            commit_records: app.settings.commit_every.max(1),
            // Checkpointed: rows not yet checkpointed sit in in-memory
            // blocks (a 256 KiB block per column of each table touched)
            // of the buffer pool every tenant shares; 100 tenants' 1-page
            // syncs left in their WALs ran a 256 MiB pool out of memory.
            checkpoint_on_complete: true,
            // The instance's limit is the server's (`--duckdb-memory-mib`).
            memory_limit_mib: None,
            // Likewise its threads and checkpoints: one instance serves
            // every tenant.
            threads: None,
            checkpoint_threshold_mib: None,
            schema_ready: app.dbs.schema_ready(&job.tenant, &job.source),
            // A shallower queue per sync: many tenants' syncs share the
            // process's memory.
            queue_pages: 8,
            queue_kib: 8 * 1024,
            ..LoaderOptions::default()
        },
    )
    .map_err(redact)?;
    app.dbs.mark_schema_ready(&job.tenant, &job.source);
    let opened_at = started.elapsed();
    let report = sync::run(
        prepared,
        loader,
        &opts,
        Progress::observed(progress.clone()),
    )
    .await
    .map_err(redact);
    tracing::debug!(
        "job {}: prepared in {prepared_at:?}, loader open at {opened_at:?}, done at {:?}",
        job.id,
        started.elapsed()
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_with_many_queued_jobs_does_not_delay_another_tenants_one() {
        // Tenant a has 50 jobs queued first, b one job after them.
        let sources: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        let mut queued: Vec<(&str, &str)> = sources.iter().map(|s| ("a", s.as_str())).collect();
        queued.push(("b", "only"));
        let mut running: Vec<(&str, &str)> = Vec::new();
        let mut cursor: Option<&str> = None;
        let mut order = Vec::new();
        for _ in 0..3 {
            let i = choose(&queued, &running, cursor, 10, 10).expect("a job");
            let (t, s) = queued.remove(i);
            order.push(t);
            running.push((t, s));
            cursor = Some(t);
        }
        assert_eq!(order, vec!["a", "b", "a"]);
    }

    #[test]
    fn caps_are_obeyed() {
        let queued = [("a", "1"), ("a", "2"), ("b", "1")];
        // The global cap.
        assert_eq!(choose(&queued, &[("c", "x"), ("c", "y")], None, 2, 5), None);
        // The per-tenant cap: a is full, so b runs.
        assert_eq!(choose(&queued, &[("a", "9")], None, 5, 1), Some(2));
        // A source runs once at a time: a/1 is running, so a/2 is next.
        assert_eq!(choose(&queued[..2], &[("a", "1")], None, 5, 5), Some(1));
        assert_eq!(choose(&queued[..1], &[("a", "1")], None, 5, 5), None);
    }

    #[test]
    fn round_robin_wraps_after_the_last_tenant() {
        let queued = [("a", "1"), ("b", "1"), ("c", "1")];
        assert_eq!(choose(&queued, &[], Some("c"), 5, 5), Some(0));
        assert_eq!(choose(&queued, &[], Some("a"), 5, 5), Some(1));
        assert_eq!(choose(&queued, &[], Some("zz"), 5, 5), Some(0));
    }
}
