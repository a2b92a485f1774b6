//! The sync: drives each resource's extraction state machine inside its
//! component instance, sends the requests it plans, hands back the
//! responses, and streams the selected records into the loader.
//!
//! Independent resources run concurrently (bounded by `concurrency`); a
//! child resource runs once its parent has completed, one extraction per
//! parent record (partition). Every request, whichever extraction sends
//! it, takes one of a per-host number of slots (`per_host_concurrency`), so
//! the API sees a bounded number of concurrent requests however many
//! extractions run. Pages a paginator already knows (`page.prefetch`) are
//! fetched ahead, a bounded window per extraction (`prefetch_pages`).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use futures::StreamExt as _;
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use url::Url;

use crate::auth::{Authenticator, excerpt};
use crate::config::{ClientSpec, RetryPolicy};
use crate::egress::{EgressPolicy, HostRule};
use crate::http::{HttpClient, HttpError, HttpResponse, HttpSettings, OutgoingRequest};
use crate::progress::Progress;
use crate::runtime::{Instance, LoadedComponent, PageLimits, wit};
use crate::secrets::Secrets;
use crate::storage::node::Node;
use crate::storage::{Disposition, Loader, Resume, TableSpec};

/// Where a connector's configuration came from, which decides what the
/// egress policy trusts.
pub struct SourceInput {
    /// The component to run.
    pub component: LoadedComponent,
    /// The config handed to `describe`: the whole config for the generic
    /// connector, the overrides for a vendor component (`{}` for none).
    pub config: Value,
    /// The part of the config the operator wrote (the config file given on
    /// the command line); its `base_url` and token URL are trusted.
    pub operator_written: Option<Value>,
}

/// Run-wide options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Only these resources (and the parents they need), if given.
    pub resources: Option<Vec<String>>,
    /// Extractions in flight at once (each holds one component instance).
    pub concurrency: usize,
    /// Requests in flight at once to one host (and port), across all
    /// extractions and prefetches.
    pub per_host_concurrency: usize,
    /// Pages one extraction may fetch ahead of the one its component is
    /// working on, when the component lists them (`page.prefetch`); 0
    /// turns prefetch off. Bounds memory: at most this many extra response
    /// bodies per extraction.
    pub prefetch_pages: usize,
    /// Extra hosts the operator allows.
    pub allow_hosts: Vec<HostRule>,
    /// HTTP settings.
    pub http: HttpSettings,
    /// Cap on pages per extraction, so a paginator that never ends is stopped.
    pub max_pages: u64,
    /// Caps on the pages and requests of one resource.
    pub page_limits: PageLimits,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            resources: None,
            concurrency: DEFAULT_CONCURRENCY,
            per_host_concurrency: DEFAULT_PER_HOST_CONCURRENCY,
            prefetch_pages: DEFAULT_PREFETCH_PAGES,
            allow_hosts: Vec::new(),
            http: HttpSettings::default(),
            max_pages: 1_000_000,
            page_limits: PageLimits::default(),
        }
    }
}

/// Default extractions in flight. An extraction waiting on the API holds
/// little (an instance of a few MB and a page), and the per-host limit is
/// what the API sees, so this is set above it: child partitions, each a
/// short extraction, then keep every host slot busy.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Default requests in flight per host: enough to hide a slow API's
/// latency, few enough to stay under common API rate limits.
pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 8;

/// Default pages fetched ahead per extraction.
pub const DEFAULT_PREFETCH_PAGES: usize = 4;

/// A source ready to run: described, its client and auth resolved.
pub struct Source {
    /// The component.
    pub component: LoadedComponent,
    /// What `describe` returned.
    pub info: wit::SourceInfo,
    /// The effective config, parsed.
    pub config: Value,
    /// The host's view of `client`.
    pub client: ClientSpec,
    auth: Arc<Authenticator>,
    http: HttpClient,
}

/// Describe the source and prepare auth and HTTP.
pub async fn prepare(input: SourceInput, secrets: &Secrets, opts: &RunOptions) -> Result<Source> {
    describe(input).await?.connect(secrets, opts)
}

/// A source its component has described: the effective config is known,
/// auth and HTTP are not set up yet.
pub struct Described {
    component: LoadedComponent,
    operator_written: Option<Value>,
    /// What `describe` returned.
    pub info: wit::SourceInfo,
    config: Value,
}

/// Run the component's `describe` on the config and check the result.
pub async fn describe(input: SourceInput) -> Result<Described> {
    crate::config::check_secret_placement(&input.config)?;
    let mut instance = input.component.instantiate("describe").await?;
    let config_text = serde_json::to_string(&input.config)?;
    let info = instance
        .describe(&config_text)
        .await?
        .map_err(|e| anyhow!("invalid config: {}", e.message))?;
    let config: Value = serde_json::from_str(&info.config).with_context(|| {
        format!(
            "component `{}` returned an effective config that is not JSON",
            input.component.name()
        )
    })?;
    crate::config::check_secret_placement(&config)?;
    Ok(Described {
        component: input.component,
        operator_written: input.operator_written,
        info,
        config,
    })
}

impl Described {
    /// Resolve auth and build the HTTP client under the egress policy.
    pub fn connect(self, secrets: &Secrets, opts: &RunOptions) -> Result<Source> {
        self.authorize(secrets, opts)?.connect()
    }

    /// Resolve auth (a missing secret fails here) and the egress policy.
    pub fn authorize(self, secrets: &Secrets, opts: &RunOptions) -> Result<Authorized> {
        let Described {
            component,
            operator_written,
            info,
            config,
        } = self;
        let client = ClientSpec::from_config(&config)?;
        let auth = Authenticator::new(
            client.auth.as_ref(),
            &client.headers,
            &client.base_url,
            secrets,
        )?;

        let mut policy = EgressPolicy::default();
        if let Some(op) = &operator_written
            && let Ok(op_client) = ClientSpec::from_config_partial(op)
        {
            for url in op_client {
                if let Some(rule) = HostRule::from_url(&url) {
                    policy.trust(rule);
                }
            }
        }
        for rule in &opts.allow_hosts {
            policy.trust(rule.clone());
        }
        if let Some(rule) = HostRule::from_url(&client.base_url) {
            policy.declare(rule);
        }
        if let Some(rule) = auth.token_url().and_then(HostRule::from_url) {
            policy.declare(rule);
        }
        Ok(Authorized {
            component,
            info,
            config,
            client,
            auth,
            policy,
            http: opts.http.clone(),
            redactor: secrets.redactor(),
        })
    }
}

/// A described source with its auth and egress policy resolved: all that
/// is left is the HTTP client.
pub struct Authorized {
    component: LoadedComponent,
    info: wit::SourceInfo,
    config: Value,
    client: ClientSpec,
    auth: Authenticator,
    policy: EgressPolicy,
    http: HttpSettings,
    redactor: crate::secrets::Redactor,
}

impl Authorized {
    /// Build the HTTP client (the first of a process loads the platform's
    /// root certificates, tens of milliseconds: see
    /// [`crate::http::warm_up`]).
    pub fn connect(self) -> Result<Source> {
        let http = HttpClient::new(self.policy, self.http, self.redactor)?;
        Ok(Source {
            component: self.component,
            info: self.info,
            config: self.config,
            client: self.client,
            auth: Arc::new(self.auth),
            http,
        })
    }
}

impl ClientSpec {
    /// The base and token URLs an operator-written config names, if any.
    fn from_config_partial(config: &Value) -> Result<Vec<Url>> {
        let mut urls = Vec::new();
        if let Some(base) = config.pointer("/client/base_url").and_then(Value::as_str) {
            let base = crate::config::parse_base_url(base)?;
            if let Some(token) = config
                .pointer("/client/auth/token_url")
                .or_else(|| config.pointer("/client/auth/access_token_url"))
                .and_then(Value::as_str)
                && let Ok(t) = base.join(token)
            {
                urls.push(t);
            }
            urls.push(base);
        }
        Ok(urls)
    }
}

/// The outcome of one resource.
#[derive(Debug, Clone, Default)]
pub struct ResourceReport {
    /// Pages fetched.
    pub pages: u64,
    /// Records selected.
    pub records: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// `None` when it completed; the error otherwise.
    pub error: Option<String>,
    /// True when it was extracted only to feed its children.
    pub not_loaded: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Per resource, in declaration order.
    pub resources: Vec<(String, ResourceReport)>,
    /// The load id.
    pub load_id: String,
}

impl RunReport {
    /// True if and only if every selected resource completed.
    pub fn success(&self) -> bool {
        self.resources.iter().all(|(_, r)| r.error.is_none())
    }
}

/// One resource's plan.
#[derive(Debug, Clone)]
struct Plan {
    info: wit::ResourceInfo,
    retry: RetryPolicy,
    load: bool,
    children: Vec<String>,
}

struct Ctx {
    source: Source,
    config_text: String,
    loader: Option<Loader>,
    plans: HashMap<String, Plan>,
    progress: Progress,
    permits: Semaphore,
    concurrency: usize,
    hosts: HostSlots,
    prefetch_pages: usize,
    max_pages: u64,
    page_limits: PageLimits,
    /// Requests planned so far, per resource (all partitions together).
    requests: Mutex<HashMap<String, u64>>,
}

/// Per-host request slots: at most `limit` requests in flight to one host
/// and port at a time, across every extraction of the run.
struct HostSlots {
    limit: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostSlots {
    fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            hosts: Mutex::default(),
        }
    }

    /// The slots of `url`'s host and port.
    fn of(&self, url: &Url) -> Arc<Semaphore> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
    }
}

/// Send `req` once a slot of its host is free (retries included: a retry
/// keeps its slot, so backing off also lowers the load on the API).
async fn send_in_slot(
    http: HttpClient,
    auth: Arc<Authenticator>,
    retry: RetryPolicy,
    slots: Arc<Semaphore>,
    req: OutgoingRequest,
) -> Result<HttpResponse, HttpError> {
    let _slot = slots
        .acquire_owned()
        .await
        .map_err(|_| HttpError::Invalid("the run is shutting down".into()))?;
    http.send(&req, &auth, &retry).await
}

/// Requests sent ahead of time for one extraction, in the order the
/// component listed them. Dropping it cancels what is still in flight.
#[derive(Default)]
struct Prefetched {
    queue: VecDeque<(
        OutgoingRequest,
        tokio::task::JoinHandle<Result<HttpResponse, HttpError>>,
    )>,
}

impl Prefetched {
    /// The prefetch of `req`, if it was sent ahead. Requests listed before
    /// it were passed over and are cancelled; if `req` was not prefetched
    /// at all the component changed course and every prefetch is dropped.
    fn take(
        &mut self,
        req: &OutgoingRequest,
    ) -> Option<tokio::task::JoinHandle<Result<HttpResponse, HttpError>>> {
        while let Some((sent, handle)) = self.queue.pop_front() {
            if &sent == req {
                return Some(handle);
            }
            handle.abort();
        }
        None
    }

    fn contains(&self, req: &OutgoingRequest) -> bool {
        self.queue.iter().any(|(r, _)| r == req)
    }
}

impl Drop for Prefetched {
    fn drop(&mut self) {
        for (_, handle) in &self.queue {
            handle.abort();
        }
    }
}

/// Decide which resources run, and whether they load.
fn plan(source: &Source, opts: &RunOptions) -> Result<(Vec<String>, HashMap<String, Plan>)> {
    let infos = &source.info.resources;
    let by_name: HashMap<&str, &wit::ResourceInfo> =
        infos.iter().map(|r| (r.name.as_str(), r)).collect();
    let wanted: HashSet<String> = match &opts.resources {
        Some(list) => {
            for name in list {
                if !by_name.contains_key(name.as_str()) {
                    let known: Vec<&str> = infos.iter().map(|r| r.name.as_str()).collect();
                    bail!(
                        "unknown resource `{name}` in --resources; this source has: {}",
                        known.join(", ")
                    );
                }
            }
            list.iter().cloned().collect()
        }
        None => infos
            .iter()
            .filter(|r| r.selected)
            .map(|r| r.name.clone())
            .collect(),
    };
    // Parents of wanted resources run too (to produce partitions), loaded
    // only if wanted themselves.
    let mut needed: HashSet<String> = wanted.clone();
    for name in &wanted {
        let mut cur = by_name.get(name.as_str()).and_then(|r| r.parent.clone());
        while let Some(p) = cur {
            let parent = by_name
                .get(p.as_str())
                .ok_or_else(|| anyhow!("resource `{name}` names an unknown parent `{p}`"))?;
            needed.insert(p.clone());
            cur = parent.parent.clone();
        }
    }
    let mut plans = HashMap::new();
    let mut order = Vec::new();
    for info in infos {
        if !needed.contains(&info.name) {
            continue;
        }
        order.push(info.name.clone());
        plans.insert(
            info.name.clone(),
            Plan {
                info: info.clone(),
                retry: RetryPolicy::for_resource(&source.config, &info.name)?,
                load: wanted.contains(&info.name),
                children: Vec::new(),
            },
        );
    }
    let edges: Vec<(String, String)> = plans
        .values()
        .filter_map(|p| {
            p.info
                .parent
                .clone()
                .map(|parent| (parent, p.info.name.clone()))
        })
        .collect();
    for (parent, child) in edges {
        if let Some(p) = plans.get_mut(&parent) {
            p.children.push(child);
        }
    }
    for p in plans.values_mut() {
        p.children
            .sort_by_key(|c| order.iter().position(|o| o == c));
    }
    check_tables(source, &order, &plans)?;
    Ok((order, plans))
}

/// Two loaded resources never share a root table: each resource owns its
/// tables' schema, so a second writer would load rows the first one's
/// columns do not describe. Names that differ only in ways dlt's
/// normalization removes (`Users` and `users`, `user-list` and
/// `user_list`) collide too.
fn check_tables(source: &Source, order: &[String], plans: &HashMap<String, Plan>) -> Result<()> {
    let mut owners: HashMap<String, &str> = HashMap::new();
    for name in order.iter().filter(|n| plans[*n].load) {
        let (table, _) = crate::storage::table_options(&source.config, name);
        let table = crate::storage::naming::normalize_path(&table);
        if let Some(first) = owners.insert(table.clone(), name) {
            bail!(
                "resources `{first}` and `{name}` would both load into table `{table}`; \
                 give one of them another name or `table_name`"
            );
        }
    }
    Ok(())
}

fn disposition(d: wit::WriteDisposition) -> Disposition {
    match d {
        wit::WriteDisposition::Append => Disposition::Append,
        wit::WriteDisposition::Replace => Disposition::Replace,
        wit::WriteDisposition::Merge => Disposition::Merge,
    }
}

/// Run every selected resource into `loader`.
pub async fn run(
    source: Source,
    loader: Loader,
    opts: &RunOptions,
    progress: Progress,
) -> Result<RunReport> {
    let (order, plans) = plan(&source, opts)?;
    let config_text = source.info.config.clone();
    let load_id = loader.load_id().to_string();
    let ctx = Arc::new(Ctx {
        source,
        config_text,
        loader: Some(loader),
        plans,
        progress,
        permits: Semaphore::new(opts.concurrency.max(1)),
        concurrency: opts.concurrency.max(1),
        hosts: HostSlots::new(opts.per_host_concurrency),
        prefetch_pages: opts.prefetch_pages,
        max_pages: opts.max_pages,
        page_limits: opts.page_limits.clone(),
        requests: Mutex::default(),
    });
    let reports: Arc<Mutex<BTreeMap<String, ResourceReport>>> = Arc::default();
    let roots: Vec<String> = order
        .iter()
        .filter(|n| ctx.plans[*n].info.parent.is_none())
        .cloned()
        .collect();
    futures::stream::iter(roots)
        .for_each_concurrent(None, |name| {
            let ctx = ctx.clone();
            let reports = reports.clone();
            // Not spawned: top-level resources share the caller's task, as
            // before; children and partitions are spawned. Spawning these
            // too ran a spinning and a memory-hogging test component in
            // parallel, and under load the hog then hit its (wall-clock)
            // call deadline before its memory cap (tests/e2e.rs).
            async move { run_tree(ctx, name, None, reports).await }
        })
        .await;
    ctx.progress.finish();
    let mut reports = std::mem::take(&mut *reports.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some(loader) = &ctx.loader {
        // A run with a failed resource stays open: the next run resumes it.
        let success = reports.values().all(|r| r.error.is_none());
        loader
            .complete(success)
            .await
            .context("recording the load")?;
    }
    let resources = order
        .iter()
        .map(|n| (n.clone(), reports.remove(n).unwrap_or_default()))
        .collect();
    Ok(RunReport { resources, load_id })
}

/// The partitions of a child resource: its parent's records as the parent
/// extracts them, and, once the parent is done, whether it completed.
struct Feed {
    parent: String,
    records: mpsc::UnboundedReceiver<Value>,
    parent_failed: Arc<AtomicBool>,
}

/// Run a resource and, at the same time, its children: each child starts
/// on the parent's first records instead of waiting for the parent to
/// complete (a child of a failed parent fails too, after its partitions
/// so far). The channel to a child is unbounded so that a parent never
/// waits on its children (with `concurrency` 1 it could wait forever);
/// it holds parent records only until the child takes them, never more
/// than a complete parent would.
fn run_tree(
    ctx: Arc<Ctx>,
    name: String,
    feed: Option<Feed>,
    reports: Arc<Mutex<BTreeMap<String, ResourceReport>>>,
) -> futures::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        let plan = ctx.plans[&name].clone();
        let failed = Arc::new(AtomicBool::new(false));
        let mut sinks = Vec::new();
        let mut children = Vec::new();
        for child in &plan.children {
            let (tx, rx) = mpsc::unbounded_channel();
            sinks.push(tx);
            children.push(tokio::spawn(run_tree(
                ctx.clone(),
                child.clone(),
                Some(Feed {
                    parent: name.clone(),
                    records: rx,
                    parent_failed: failed.clone(),
                }),
                reports.clone(),
            )));
        }
        let parent = async {
            let report = run_resource(&ctx, &plan, feed, &sinks).await;
            // Set before the senders drop: a child reads it after its
            // channel closed.
            failed.store(report.error.is_some(), Ordering::SeqCst);
            drop(sinks);
            reports
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.clone(), report);
        };
        futures::join!(parent, futures::future::join_all(children));
    })
}

/// Extract one resource: once, or once per parent record; each record
/// also goes to `sinks` (the resource's children).
async fn run_resource(
    ctx: &Arc<Ctx>,
    plan: &Plan,
    feed: Option<Feed>,
    sinks: &[mpsc::UnboundedSender<Value>],
) -> ResourceReport {
    let started = Instant::now();
    let name = plan.info.name.clone();
    let bar = ctx.progress.resource(&name);
    let mut report = ResourceReport {
        not_loaded: !plan.load,
        ..Default::default()
    };
    let loader = ctx.loader.as_ref().filter(|_| plan.load);
    let resume = match loader {
        Some(l) => {
            let (table, max_nesting) = crate::storage::table_options(&ctx.source.config, &name);
            let spec = TableSpec {
                resource: name.clone(),
                table,
                primary_key: plan.info.primary_key.clone(),
                disposition: disposition(plan.info.write_disposition),
                max_nesting,
                keep_records: !plan.children.is_empty(),
            };
            match l.begin(spec).await {
                Ok(r) => r,
                Err(e) => {
                    report.error = Some(format!("{e:#}"));
                    bar.fail();
                    return report;
                }
            }
        }
        None => Resume::default(),
    };
    // Records the interrupted run loaded, kept for the children: they go
    // to the children first, as if just extracted.
    let mut resume = resume;
    for record in std::mem::take(&mut resume.records) {
        for sink in sinks {
            let _ = sink.send(record.clone());
        }
    }
    // Completed by the interrupted run this run resumes: nothing to do.
    if resume.done {
        tracing::info!("resource `{name}`: already loaded by the interrupted run being resumed");
        report.not_loaded = true;
        report.elapsed = started.elapsed();
        bar.done();
        return report;
    }
    let result: Result<()> = match feed {
        None => {
            if resume.checkpoint.is_some() {
                tracing::info!(
                    "resource `{name}`: resuming from the checkpoint of an interrupted run"
                );
            }
            extract(ctx, plan, None, &resume, loader, &mut report, sinks, &bar).await
        }
        Some(feed) => {
            // Partitions run concurrently, each in its own instance, as
            // the parent's records arrive.
            let Feed {
                parent,
                records,
                parent_failed,
            } = feed;
            let parents = futures::stream::unfold(records, |mut rx| async move {
                rx.recv().await.map(|v| (v, rx))
            });
            // Each partition resumes on its own; they share the resource's
            // incremental state.
            let resume = Arc::new(resume);
            let results = parents
                .map(|record| {
                    let key = partition_key(Some(&record));
                    let position = resume.partitions.get(&key).cloned().unwrap_or_default();
                    let part_resume = Resume {
                        checkpoint: position.checkpoint,
                        state: resume.state.clone(),
                        ..Resume::default()
                    };
                    // Spawned, so that partitions run on every worker thread.
                    let (ctx, plan, bar) = (ctx.clone(), plan.clone(), bar.clone());
                    let loader = loader.cloned();
                    let sinks = sinks.to_vec();
                    let task = tokio::spawn(async move {
                        let mut r = ResourceReport::default();
                        // Completed by the interrupted run: skipped (its
                        // records, if children need them, were kept).
                        if position.done {
                            return (Ok(()), r);
                        }
                        let res = extract(
                            &ctx,
                            &plan,
                            Some(&record),
                            &part_resume,
                            loader.as_ref(),
                            &mut r,
                            &sinks,
                            &bar,
                        )
                        .await;
                        (res, r)
                    });
                    async move {
                        task.await.unwrap_or_else(|e| {
                            (
                                Err(anyhow!("a partition's task failed: {e}")),
                                ResourceReport::default(),
                            )
                        })
                    }
                })
                .buffer_unordered(ctx.concurrency);
            let mut results = std::pin::pin!(results);
            let mut first_err = None;
            while let Some((res, r)) = results.next().await {
                report.pages += r.pages;
                report.records += r.records;
                if let Err(e) = res
                    && first_err.is_none()
                {
                    first_err = Some(e);
                }
            }
            if parent_failed.load(Ordering::SeqCst) && first_err.is_none() {
                first_err = Some(anyhow!(
                    "skipped the rest: its parent resource `{parent}` failed"
                ));
            }
            first_err.map_or(Ok(()), Err)
        }
    };
    if let Some(l) = loader {
        let done = match &result {
            Ok(()) => l.finish(&name).await,
            Err(_) => l.abort(&name).await,
        };
        if let Err(e) = done
            && result.is_ok()
        {
            report.error = Some(format!("{e:#}"));
        }
    }
    if let Err(e) = result {
        report.error = Some(ctx.source.http.redactor().redact(&format!("{e:#}")));
    }
    report.elapsed = started.elapsed();
    if report.error.is_some() {
        bar.fail();
    } else {
        bar.done();
    }
    report
}

/// Headers a component may not set: authentication is the host's job.
const FORBIDDEN_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "host"];

impl Ctx {
    /// Turn a planned request into an absolute one.
    fn resolve(&self, req: &wit::Request) -> Result<OutgoingRequest> {
        let mut url = match Url::parse(&req.url) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                // dlt joins paths below the base path, even with a leading `/`.
                let base = &self.source.client.base_url;
                base.join(req.url.trim_start_matches('/'))
                    .with_context(|| {
                        format!(
                            "the planned path `{}` cannot be joined to the base URL",
                            req.url
                        )
                    })?
            }
            Err(e) => bail!("the planned URL `{}` is invalid: {e}", req.url),
        };
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        for (name, _) in &req.headers {
            if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                bail!(
                    "the component tried to set the `{name}` header; authentication is applied by the host only"
                );
            }
        }
        let method = match req.method {
            wit::Method::Get => reqwest::Method::GET,
            wit::Method::Post => reqwest::Method::POST,
            wit::Method::Put => reqwest::Method::PUT,
            wit::Method::Patch => reqwest::Method::PATCH,
            wit::Method::Delete => reqwest::Method::DELETE,
        };
        Ok(OutgoingRequest {
            method,
            url,
            headers: req.headers.clone(),
            json_body: req.json_body.clone(),
        })
    }

    /// Count one more request of `resource` against `--max-requests`.
    fn count_request(&self, resource: &str) -> Result<()> {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let sent = requests.entry(resource.to_string()).or_default();
        self.page_limits
            .check_request(self.source.component.name(), *sent)?;
        *sent += 1;
        Ok(())
    }

    fn where_(&self, resource: &str, page: u64, req: &OutgoingRequest) -> String {
        format!(
            "resource `{resource}`, page {page} ({} {})",
            req.method,
            self.source.http.redact_url(&req.url)
        )
    }
}

/// Retries of a page whose 2xx body the component could not interpret
/// (cut off, an HTML page from a proxy): such bodies are usually transient.
const BAD_BODY_RETRIES: u32 = 2;

#[allow(clippy::too_many_arguments)]
async fn extract(
    ctx: &Ctx,
    plan: &Plan,
    partition: Option<&Value>,
    resume: &Resume,
    loader: Option<&Loader>,
    report: &mut ResourceReport,
    sinks: &[mpsc::UnboundedSender<Value>],
    bar: &crate::progress::ResourceBar,
) -> Result<()> {
    let _permit = ctx
        .permits
        .acquire()
        .await
        .map_err(|_| anyhow!("shutting down"))?;
    let name = &plan.info.name;
    let partition_text = partition.map(|p| p.to_string());
    let scope = format!("{}/{name}", ctx.source.component.name());
    let mut inst: Instance = ctx.source.component.instantiate(&scope).await?;
    let ext = inst
        .extraction(
            &ctx.config_text,
            name,
            partition_text.as_deref(),
            resume.checkpoint.as_deref(),
            resume.state.as_deref(),
        )
        .await?;
    let mut planned = inst
        .start(&ext)
        .await
        .with_context(|| format!("resource `{name}`, page 1"))?
        .map_err(|e| anyhow!("resource `{name}`: {}", e.message))?;
    let mut previous: Option<OutgoingRequest> = None;
    let mut ahead = Prefetched::default();
    let mut acks = Acks::default();
    let mut page_no = 0u64;
    let mut bad_body_retries = 0;
    loop {
        page_no += 1;
        if bar.cancelled() {
            bail!(
                "resource `{name}`: stopped before page {page_no}: the sync was cancelled; the pages before it are loaded"
            );
        }
        if page_no > ctx.max_pages {
            bail!(
                "resource `{name}`: stopped after {} pages (limit `max_pages`); the paginator does not seem to end",
                ctx.max_pages
            );
        }
        // A request the host will not send goes back to the component as
        // a refusal, in place of a response: it decides whether to give up
        // (the usual answer) or go on without it.
        let (req, outcome) = match ctx.resolve(&planned) {
            Err(e) => (
                None,
                Err(wit::Refusal {
                    kind: wit::RefusalKind::Invalid,
                    message: format!("{e:#}"),
                    url: ctx.source.http.redactor().redact(&planned.url),
                }),
            ),
            Ok(req) => {
                if previous.as_ref() == Some(&req) {
                    bail!(
                        "{}: the paginator asked for the same request again; stopping instead of looping",
                        ctx.where_(name, page_no, &req)
                    );
                }
                let sent = match ahead.take(&req) {
                    // Counted against `--max-requests` when it was sent ahead.
                    Some(handle) => handle
                        .await
                        .map_err(|e| anyhow!("a prefetch task failed: {e}"))?,
                    None => {
                        if bad_body_retries == 0 {
                            ctx.count_request(name)
                                .with_context(|| ctx.where_(name, page_no, &req))?;
                        }
                        send_in_slot(
                            ctx.source.http.clone(),
                            ctx.source.auth.clone(),
                            plan.retry.clone(),
                            ctx.hosts.of(&req.url),
                            req.clone(),
                        )
                        .await
                    }
                };
                match sent {
                    Ok(resp) => {
                        let response = wit::Response {
                            status: resp.status,
                            headers: resp.headers,
                            body: resp.body,
                            url: ctx.source.http.redact_url(&req.url),
                        };
                        (Some(req), Ok((response, resp.retries)))
                    }
                    Err(e @ HttpError::Denied(_)) => {
                        let refusal = wit::Refusal {
                            kind: wit::RefusalKind::Egress,
                            message: e.to_string(),
                            url: ctx.source.http.redact_url(&req.url),
                        };
                        (Some(req), Err(refusal))
                    }
                    Err(e) => {
                        let hint = match &e {
                            HttpError::Transport { .. } => {
                                "; the pages before it are loaded and the next run resumes from the last checkpoint"
                            }
                            _ => "",
                        };
                        bail!("{}: {e}{hint}", ctx.where_(name, page_no, &req));
                    }
                }
            }
        };
        let here = || match &req {
            Some(req) => ctx.where_(name, page_no, req),
            None => format!("resource `{name}`, page {page_no}"),
        };
        let (page, response) = match outcome {
            Err(refusal) => {
                let answer = inst.next(&ext, Err(&refusal)).await.with_context(here)?;
                // The host's reason is the authority; what the component
                // added, if anything, follows it.
                let refused = match refusal.kind {
                    wit::RefusalKind::Egress => format!(
                        "{}: component `{}` asked for {}",
                        here(),
                        ctx.source.component.name(),
                        refusal.message
                    ),
                    wit::RefusalKind::Invalid => format!("{}: {}", here(), refusal.message),
                };
                match answer {
                    Err(e) if e.message == refusal.message => bail!("{refused}"),
                    Err(e) => bail!("{refused}; the component answered: {}", e.message),
                    Ok(page) => {
                        tracing::warn!("{refused}; the component went on without it");
                        (page, None)
                    }
                }
            }
            Ok((response, retries)) => {
                let status = response.status;
                let next = inst.next(&ext, Ok(&response)).await;
                match next.with_context(here)? {
                    Ok(page) => (page, Some(response)),
                    Err(e) => {
                        let transient =
                            (200..300).contains(&status) && e.kind == wit::ErrorKind::BadResponse;
                        if transient && bad_body_retries < BAD_BODY_RETRIES {
                            bad_body_retries += 1;
                            tracing::warn!("{}: {}; retrying the page", here(), e.message);
                            tokio::time::sleep(plan.retry.backoff(bad_body_retries)).await;
                            page_no -= 1;
                            continue;
                        }
                        bail!("{}", page_error(&here(), &e, &response, retries));
                    }
                }
            }
        };
        // A page that follows a refusal has no body to point into.
        let body = response.as_ref().map_or(&[][..], |r| r.body.as_slice());
        bad_body_retries = 0;
        let component = ctx.source.component.name();
        ctx.page_limits
            .check_page(component, &page.records)
            .with_context(here)?;
        if let Some(next) = &page.next {
            // The next request goes out now, while this page is parsed and
            // loaded; then the pages the component knows follow it.
            prefetch(
                ctx,
                plan,
                &mut ahead,
                std::iter::once(next).chain(&page.prefetch),
            );
        }
        let records = materialize(&page.records, body)
            .with_context(|| format!("{}: component `{}`", here(), ctx.source.component.name()))?;
        ctx.page_limits
            .check_records(component, records.len())
            .with_context(here)?;
        let count = records.len() as u64;
        if !sinks.is_empty() {
            for record in &records {
                let value = record.to_value();
                for sink in sinks {
                    // A closed channel means the child stopped; its error
                    // is its own report.
                    let _ = sink.send(value.clone());
                }
            }
        }
        if let Some(l) = loader {
            let partition_key = partition.is_some().then(|| partition_key(partition));
            let top_level = partition.is_none();
            // Shaped and queued while the loader still works on earlier
            // pages; their outcomes are read in order (a failed page makes
            // the loader refuse every later one).
            let ack = l
                .page_nodes(
                    name,
                    &records,
                    partition_key,
                    page.checkpoint.clone(),
                    // Children's states are not comparable across partitions.
                    if top_level { page.state.clone() } else { None },
                    page.next.is_none(),
                )
                .await?;
            acks.push(ack).await?;
        }
        report.pages += 1;
        report.records += count;
        bar.page(count);
        match page.next {
            Some(next) => {
                previous = req;
                planned = next;
            }
            None => break,
        }
    }
    acks.drain().await?;
    inst.finish(ext).await?;
    Ok(())
}

/// The error of a page whose response the component rejected: its message
/// after `here`, with what the response says about why (retries, an auth
/// failure, a non-2xx status with the start of its body, or the content
/// type of a 2xx body that is not the API's).
fn page_error(
    here: &str,
    e: &wit::ConnectorError,
    response: &wit::Response,
    retries: u32,
) -> String {
    let status = response.status;
    let mut msg = format!("{here}: {}", e.message);
    if retries > 0 {
        msg.push_str(&format!(" (after {retries} retries)"));
    }
    if matches!(status, 401 | 403) && !e.message.contains("credentials") {
        msg.push_str(
            ": the API rejected the credentials; check the secrets `client.auth` references",
        );
    }
    if !(200..300).contains(&status) && !e.message.contains(&status.to_string()) {
        msg.push_str(&format!(" [HTTP {status}: {}]", excerpt(&response.body)));
    } else if let Some((_, kind)) = response.headers.iter().find(|(k, _)| k == "content-type")
        && e.kind == wit::ErrorKind::BadResponse
    {
        // An HTML or XML page under a 200 is a proxy or a login page, not
        // the API: the content type says so at once.
        msg.push_str(&format!(" [HTTP {status}, content-type `{kind}`]"));
    }
    msg
}

/// Send ahead the listed requests that are not in flight yet, up to the
/// extraction's window (`prefetch_pages`; 0 sends nothing ahead).
fn prefetch<'a>(
    ctx: &Ctx,
    plan: &Plan,
    ahead: &mut Prefetched,
    listed: impl IntoIterator<Item = &'a wit::Request>,
) {
    for planned in listed {
        if ahead.queue.len() >= ctx.prefetch_pages {
            break;
        }
        // A listed request that does not resolve is simply not prefetched;
        // should the component plan it, the error surfaces then.
        let Ok(req) = ctx.resolve(planned) else {
            break;
        };
        if ahead.contains(&req) {
            continue;
        }
        // Past `--max-requests` nothing more goes out ahead; should the
        // component plan it, the limit's error surfaces then.
        if ctx.count_request(&plan.info.name).is_err() {
            break;
        }
        let handle = tokio::spawn(send_in_slot(
            ctx.source.http.clone(),
            ctx.source.auth.clone(),
            plan.retry.clone(),
            ctx.hosts.of(&req.url),
            req.clone(),
        ));
        ahead.queue.push_back((req, handle));
    }
}

/// The loader's answers for an extraction's queued pages, oldest first,
/// read as soon as they are known, so a failed page is reported in page
/// order. No window of its own: the loader answers each page as it takes
/// it off its queue, so the pages not answered yet are bounded by that
/// queue's depth ([`crate::storage::LoaderOptions::queue_pages`]).
#[derive(Default)]
struct Acks(VecDeque<tokio::sync::oneshot::Receiver<Result<()>>>);

impl Acks {
    async fn push(&mut self, ack: tokio::sync::oneshot::Receiver<Result<()>>) -> Result<()> {
        use tokio::sync::oneshot::error::TryRecvError;
        self.0.push_back(ack);
        while let Some(oldest) = self.0.front_mut() {
            match oldest.try_recv() {
                Ok(outcome) => {
                    self.0.pop_front();
                    outcome?;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => bail!("the DuckDB loader stopped"),
            }
        }
        Ok(())
    }

    /// Wait for every answer.
    async fn drain(&mut self) -> Result<()> {
        while let Some(ack) = self.0.pop_front() {
            wait_ack(ack).await?;
        }
        Ok(())
    }
}

async fn wait_ack(ack: tokio::sync::oneshot::Receiver<Result<()>>) -> Result<()> {
    ack.await
        .map_err(|_| anyhow!("the DuckDB loader stopped"))?
}

fn partition_key(partition: Option<&Value>) -> String {
    use sha2::Digest as _;
    partition
        .map(|p| hex::encode(&sha2::Sha256::digest(p.to_string().as_bytes())[..12]))
        .unwrap_or_default()
}

/// Parse a page's records: spans straight out of the body (strings borrowed
/// from it), a JSON array once.
pub fn materialize<'a>(records: &'a wit::Records, body: &'a [u8]) -> Result<Vec<Node<'a>>> {
    match records {
        wit::Records::Spans(spans) => {
            let mut out = Vec::with_capacity(spans.len());
            for (i, span) in spans.iter().enumerate() {
                let (start, end) = (span.start as usize, span.end as usize);
                if start > end || end > body.len() {
                    bail!(
                        "record {} points at bytes {start}..{end} outside the {}-byte body",
                        i + 1,
                        body.len()
                    );
                }
                let text = &body[start..end];
                // One UTF-8 check of the whole record, then a parser that
                // does not check each string again (serde_json's slice
                // reader validates every string it borrows on its own).
                let parsed = match std::str::from_utf8(text) {
                    Ok(valid) => serde_json::from_str(valid),
                    Err(_) => serde_json::from_slice(text),
                };
                let value: Node<'a> = parsed.map_err(|e| {
                    anyhow!(
                        "record {} (bytes {start}..{end}) is not one JSON value: {}",
                        i + 1,
                        json_error(&e, text)
                    )
                })?;
                out.push(value);
            }
            Ok(out)
        }
        wit::Records::JsonArray(text) => match serde_json::from_str::<Node<'a>>(text) {
            Ok(Node::List(items)) => Ok(items),
            Ok(_) => bail!("records are not a JSON array"),
            Err(e) => bail!("records are not valid JSON: {e}"),
        },
    }
}

/// What is wrong with a record serde_json refused, in the user's terms.
fn json_error(e: &serde_json::Error, text: &[u8]) -> String {
    if let Err(utf8) = std::str::from_utf8(text) {
        return format!(
            "it is not valid UTF-8 (at byte {} of the record)",
            utf8.valid_up_to()
        );
    }
    if e.to_string().starts_with("recursion limit exceeded") {
        return format!("it is nested more than 128 levels deep ({e})");
    }
    e.to_string()
}

/// One page of a dry run, for `extract check`.
#[derive(Debug)]
pub struct CheckReport {
    /// The resource.
    pub resource: String,
    /// The request sent.
    pub request: String,
    /// Status received.
    pub status: Option<u16>,
    /// Records the selector matched.
    pub records: Vec<Value>,
    /// Top-level keys of the body when it is an object.
    pub body_keys: Vec<String>,
    /// Whether there is a next page.
    pub has_next: bool,
    /// The error, if the dry run failed.
    pub error: Option<String>,
}

impl CheckReport {
    fn new(resource: &str) -> Self {
        Self {
            resource: resource.to_string(),
            request: String::new(),
            status: None,
            records: Vec::new(),
            body_keys: Vec::new(),
            has_next: false,
            error: None,
        }
    }
}

/// Dry-run one page per resource (children use the first parent record).
pub async fn check(source: Source, opts: &RunOptions) -> Result<Vec<CheckReport>> {
    let (order, plans) = plan(&source, opts)?;
    let config_text = source.info.config.clone();
    let ctx = Ctx {
        source,
        config_text,
        loader: None,
        plans,
        progress: Progress::hidden(),
        permits: Semaphore::new(1),
        concurrency: 1,
        hosts: HostSlots::new(1),
        prefetch_pages: 0,
        max_pages: 1,
        page_limits: opts.page_limits.clone(),
        requests: Mutex::default(),
    };
    let mut first_records: HashMap<String, Value> = HashMap::new();
    let mut out = Vec::new();
    for name in order {
        let plan = &ctx.plans[&name];
        let partition = match &plan.info.parent {
            None => None,
            Some(p) => match first_records.get(p) {
                Some(r) => Some(r.clone()),
                None => {
                    let mut skipped = CheckReport::new(&name);
                    skipped.error = Some(format!(
                        "skipped: its parent `{p}` returned no record to partition by"
                    ));
                    out.push(skipped);
                    continue;
                }
            },
        };
        let report = check_one(&ctx, plan, partition.as_ref()).await;
        if let Some(r) = report.records.first() {
            first_records.insert(name.clone(), r.clone());
        }
        out.push(report);
    }
    Ok(out)
}

async fn check_one(ctx: &Ctx, plan: &Plan, partition: Option<&Value>) -> CheckReport {
    let name = plan.info.name.clone();
    let mut report = CheckReport::new(&name);
    let result: Result<()> = async {
        let mut inst = ctx.source.component.instantiate(&name).await?;
        let ext = inst
            .extraction(
                &ctx.config_text,
                &name,
                partition.map(|p| p.to_string()).as_deref(),
                None,
                None,
            )
            .await?;
        let planned = inst
            .start(&ext)
            .await?
            .map_err(|e| anyhow!("{}", e.message))?;
        let req = ctx.resolve(&planned)?;
        report.request = format!("{} {}", req.method, ctx.source.http.redact_url(&req.url));
        let resp = ctx
            .source
            .http
            .send(&req, &ctx.source.auth, &plan.retry)
            .await?;
        report.status = Some(resp.status);
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&resp.body) {
            report.body_keys = m.keys().cloned().collect();
        }
        let response = wit::Response {
            status: resp.status,
            headers: resp.headers,
            body: resp.body,
            url: ctx.source.http.redact_url(&req.url),
        };
        let page = inst
            .next(&ext, Ok(&response))
            .await?
            .map_err(|e| anyhow!("{}", e.message))?;
        let component = ctx.source.component.name();
        ctx.page_limits.check_page(component, &page.records)?;
        let records = materialize(&page.records, &response.body)?;
        ctx.page_limits.check_records(component, records.len())?;
        report.records = records.iter().map(Node::to_value).collect();
        report.has_next = page.next.is_some();
        inst.finish(ext).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        report.error = Some(ctx.source.http.redactor().redact(&format!("{e:#}")));
    }
    report
}
