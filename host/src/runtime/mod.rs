//! Implements the host side of the `extract:connector/source` world: one
//! wasmtime [`Engine`] per process, compiled components cached on disk, and
//! one sandboxed [`Store`] per extraction.
//!
//! The component model boundary is the only way a connector talks to the
//! world: it exports a state machine and imports nothing but `log`. Its
//! standard library's WASI imports are satisfied by an empty WASI context (no
//! files, no environment, no network, no arguments), so a connector cannot
//! read a credential or open a socket even if it tries.

mod cache;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use wasmtime::component::{HasSelf, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

pub use cache::ComponentCache;

/// Host bindings of the WIT world, generated in this one place.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "connector",
        exports: { default: async },
    });
}

/// Host bindings of the previous version of the world,
/// `extract:connector@0.1.0`, so components built against it keep running.
/// It differs in one place: `next` takes a response only, so a refusal
/// cannot be handed to such a component and fails its resource instead.
mod bindings_v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "connector",
        exports: { default: async },
    });
}

/// The versions of the world this host runs, newest first.
pub const WORLD_VERSIONS: &str = "extract:connector@0.2.0 (or 0.1.0)";

use bindings::exports::extract::connector::source as wit_source;
pub use bindings::extract::connector::types as wit;

/// How often the epoch ticks; CPU deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A call that runs this many ticks gives its thread back to the async
/// runtime (and is resumed after other tasks had their turn), so a
/// component that computes for long, or loops until its deadline, never
/// holds one of the runtime's few worker threads: with `extract serve`
/// those threads also run every other tenant's syncs.
const YIELD_TICKS: u64 = 1;

/// Bytes of guest stderr kept for error reports (a panic message fits).
const STDERR_CAPTURE_BYTES: usize = 16 * 1024;

/// Limits applied to every component instance.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Cap on a component's linear memory, in bytes.
    pub memory_bytes: usize,
    /// CPU time one call into the component may take before it is stopped.
    pub call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * 1024 * 1024,
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// The process-wide wasmtime engine and the components loaded into it.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<State>>,
    cache: ComponentCache,
    limits: Limits,
}

impl Runtime {
    /// Create the engine (with epoch interruption, so a looping component can
    /// be stopped) and start the epoch ticker.
    pub fn new(cache: ComponentCache, limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        if std::env::var_os("EXTRACT_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;

        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the (empty) WASI context")?;
        bindings::Connector::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)
            .context("linking the connector's log import")?;
        bindings_v0_1::Connector::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)
            .context("linking the connector's log import (version 0.1.0)")?;

        // The ticker only holds a weak reference so an engine can be dropped.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("starting the epoch ticker thread")?;

        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache,
            limits,
        })
    }

    /// Load a component from its bytes, compiling it only if no cached
    /// artifact for this engine exists.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<LoadedComponent> {
        let component = self
            .cache
            .load(&self.engine, bytes)
            .with_context(|| format!("loading component `{name}`"))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "component `{name}` does not fit the {WORLD_VERSIONS} world \
                     (it must export `extract:connector/source` and import nothing but \
                     `extract:connector/log` and WASI)"
                )
            })?;
        let pre = match bindings::ConnectorPre::new(pre.clone()) {
            Ok(current) => Pre::Current(current),
            Err(current) => bindings_v0_1::ConnectorPre::new(pre)
                .map(Pre::V0_1)
                .map_err(|_| anyhow::Error::from(current))
                .with_context(|| {
                    format!(
                        "component `{name}` does not export `extract:connector/source` \
                         of {WORLD_VERSIONS}"
                    )
                })?,
        };
        Ok(LoadedComponent {
            name: Arc::from(name),
            pre,
            engine: self.engine.clone(),
            limits: self.limits.clone(),
            gate: None,
        })
    }
}

/// A cap on the calls into components that run at once, shared by every
/// instance made from components given the same gate (`extract serve`
/// gives each tenant one): a tenant whose components compute flat out
/// (or loop until their deadline) gets this many threads' worth of CPU,
/// and the other tenants' syncs keep the rest. A call holds its slot while
/// it runs and gives it back at each yield (every epoch tick).
#[derive(Clone, Debug)]
pub struct CpuGate(Arc<tokio::sync::Semaphore>);

impl CpuGate {
    /// `slots` calls at once (at least one).
    pub fn new(slots: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(slots.max(1))))
    }
}

/// A store's hold on its gate: the slot it holds while a call runs.
#[derive(Clone)]
struct GateHold {
    gate: CpuGate,
    slot: Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
}

impl GateHold {
    /// Wait for a slot, unless this store holds one already (a call that
    /// yielded and took one back, then returned, keeps none; but a store
    /// must never wait for a second slot while it holds one).
    async fn enter(&self) {
        if self
            .slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        // The semaphore is never closed.
        if let Ok(permit) = self.gate.0.clone().acquire_owned().await {
            *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(permit);
        }
    }

    /// Give the slot back.
    fn leave(&self) {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A component's exports, pre-linked, by the world version it was built
/// against.
#[derive(Clone)]
enum Pre {
    Current(bindings::ConnectorPre<State>),
    V0_1(bindings_v0_1::ConnectorPre<State>),
}

/// An instance's exports, by world version.
enum Bindings {
    Current(bindings::Connector),
    V0_1(bindings_v0_1::Connector),
}

/// A compiled component, ready to be instantiated cheaply many times.
#[derive(Clone)]
pub struct LoadedComponent {
    name: Arc<str>,
    pre: Pre,
    engine: Engine,
    limits: Limits,
    gate: Option<CpuGate>,
}

/// Per-store host state.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    stderr: MemoryOutputPipe,
    log_scope: Arc<str>,
    log_lines: u32,
    /// Ticks the current call may still run (its CPU deadline).
    ticks_left: u64,
    /// The gate its calls pass, if any.
    gate: Option<GateHold>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The most log lines one instance may emit; later lines are dropped so a
/// chatty component cannot flood the operator's terminal.
const MAX_LOG_LINES: u32 = 1000;

impl bindings::extract::connector::log::Host for State {
    fn emit(&mut self, level: bindings::extract::connector::log::Level, message: String) {
        self.log(level, message);
    }
}

impl bindings_v0_1::extract::connector::log::Host for State {
    fn emit(&mut self, level: bindings_v0_1::extract::connector::log::Level, message: String) {
        use bindings::extract::connector::log::Level;
        use bindings_v0_1::extract::connector::log::Level as V0_1;
        let level = match level {
            V0_1::Debug => Level::Debug,
            V0_1::Info => Level::Info,
            V0_1::Warn => Level::Warn,
        };
        self.log(level, message);
    }
}

impl bindings_v0_1::extract::connector::types::Host for State {}

impl State {
    fn log(&mut self, level: bindings::extract::connector::log::Level, message: String) {
        use bindings::extract::connector::log::Level;
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return;
        }
        let message: String = message.chars().take(2000).collect();
        let scope = &*self.log_scope;
        match level {
            Level::Debug => tracing::debug!(target: "component", "{scope}: {message}"),
            Level::Info => tracing::info!(target: "component", "{scope}: {message}"),
            Level::Warn => tracing::warn!(target: "component", "{scope}: {message}"),
        }
    }
}

impl bindings::extract::connector::types::Host for State {}

/// A failure inside a component: a trap (panic, out of memory, CPU
/// deadline) rather than an error the component returned.
#[derive(Debug, thiserror::Error)]
#[error("component `{component}` {what}: {detail}")]
pub struct ComponentFault {
    /// The component's name.
    pub component: Arc<str>,
    /// What went wrong, in words.
    pub what: String,
    /// Detail: the trap and any panic message the component printed.
    pub detail: String,
}

impl LoadedComponent {
    /// The same component, its instances' calls passing `gate`.
    pub fn with_gate(&self, gate: CpuGate) -> Self {
        Self {
            gate: Some(gate),
            ..self.clone()
        }
    }

    /// The component's name (its file name or `rest_api`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version of the WIT world the component was built against.
    pub fn world(&self) -> &'static str {
        match self.pre {
            Pre::Current(_) => "extract:connector@0.2.0",
            Pre::V0_1(_) => {
                "extract:connector@0.1.0 (a refused request fails its resource; rebuild \
                 against 0.2.0 to let the component handle it)"
            }
        }
    }

    /// Start a fresh, isolated instance. `scope` names it in log lines.
    pub async fn instantiate(&self, scope: &str) -> Result<Instance> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // Deliberately empty: no preopened dirs, no env, no args, no network.
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(4)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let state = State {
            wasi,
            table: ResourceTable::new(),
            limits,
            stderr,
            log_scope: Arc::from(scope),
            log_lines: 0,
            ticks_left: self.deadline_ticks(),
            gate: self.gate.clone().map(|gate| GateHold {
                gate,
                slot: Arc::default(),
            }),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // Every YIELD_TICKS ticks: out of budget, the call traps with
        // `Trap::Interrupt`; otherwise it yields to the async runtime.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.ticks_left <= YIELD_TICKS {
                return Ok(UpdateDeadline::Interrupt);
            }
            state.ticks_left -= YIELD_TICKS;
            let Some(hold) = &state.gate else {
                return Ok(UpdateDeadline::Yield(YIELD_TICKS));
            };
            // Give the slot back while yielding; take one again to go on.
            let hold = hold.clone();
            Ok(UpdateDeadline::YieldCustom(
                YIELD_TICKS,
                Box::pin(async move {
                    hold.leave();
                    tokio::task::yield_now().await;
                    hold.enter().await;
                }),
            ))
        });
        store.set_epoch_deadline(YIELD_TICKS);
        // Instantiation runs the component's initialisers: it passes the
        // gate like any call.
        let hold = store.data().gate.clone();
        if let Some(hold) = &hold {
            hold.enter().await;
        }
        let bindings = match &self.pre {
            Pre::Current(pre) => pre
                .instantiate_async(&mut store)
                .await
                .map(Bindings::Current),
            Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(Bindings::V0_1),
        };
        if let Some(hold) = &hold {
            hold.leave();
        }
        let bindings = bindings.map_err(|e| self.fault(&store, "failed to start", e))?;
        Ok(Instance {
            component: self.clone(),
            store,
            bindings,
        })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    fn fault(&self, store: &Store<State>, doing: &str, err: wasmtime::Error) -> anyhow::Error {
        let trap = err.downcast_ref::<wasmtime::Trap>().copied();
        let what = match trap {
            Some(wasmtime::Trap::Interrupt) => format!(
                "{doing}: it exceeded its CPU deadline of {:?} per call (limit --call-timeout-ms)",
                self.limits.call_timeout
            ),
            Some(wasmtime::Trap::UnreachableCodeReached) => format!("{doing}: it panicked"),
            Some(t) => format!("{doing}: it trapped ({t})"),
            None if format!("{err:#}").contains("memory") => format!(
                "{doing}: it ran out of memory (limit --memory-mib {})",
                self.limits.memory_bytes / (1024 * 1024)
            ),
            None => doing.to_string(),
        };
        // What the component printed (a panic message), on one line, minus
        // the standard library's hint about backtraces.
        let printed = String::from_utf8_lossy(&store.data().stderr.contents())
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join(" ");
        // The trap itself, without wasmtime's multi-line wasm backtrace.
        let cause = err.root_cause().to_string();
        let cause = cause.lines().next().unwrap_or_default().trim();
        let detail = if printed.is_empty() {
            cause.to_string()
        } else {
            format!("{cause}; it printed: {printed}")
        };
        anyhow!(ComponentFault {
            component: self.name.clone(),
            what,
            detail,
        })
    }
}

/// Before a call into `store`: a fresh CPU deadline, and a slot of the gate.
async fn enter_call(store: &mut Store<State>, component: &LoadedComponent) {
    store.data_mut().ticks_left = component.deadline_ticks();
    store.set_epoch_deadline(YIELD_TICKS);
    if let Some(hold) = store.data().gate.clone() {
        hold.enter().await;
    }
}

/// One live component instance with its own store (memory, limits, state).
pub struct Instance {
    component: LoadedComponent,
    store: Store<State>,
    bindings: Bindings,
}

/// A connector error returned across the boundary (an expected failure).
pub type ConnectorError = wit::ConnectorError;

impl Instance {
    /// Before a call: a fresh CPU deadline, and a slot of the gate.
    async fn enter(&mut self) {
        enter_call(&mut self.store, &self.component).await;
    }

    /// After a call: the slot back.
    fn leave(&mut self) {
        if let Some(hold) = &self.store.data().gate {
            hold.leave();
        }
    }

    /// Call `describe`.
    pub async fn describe(
        &mut self,
        config: &str,
    ) -> Result<std::result::Result<wit::SourceInfo, ConnectorError>> {
        self.enter().await;
        let result = match &self.bindings {
            Bindings::Current(b) => {
                let source = b.extract_connector_source();
                source.call_describe(&mut self.store, config).await
            }
            Bindings::V0_1(b) => {
                let source = b.extract_connector_source();
                let result = source.call_describe(&mut self.store, config).await;
                result.map(|r| r.map(Into::into).map_err(Into::into))
            }
        };
        self.leave();
        result.map_err(|e| self.component.fault(&self.store, "failed in `describe`", e))
    }

    /// Construct an extraction resource inside this instance.
    pub async fn extraction(
        &mut self,
        config: &str,
        resource: &str,
        partition: Option<&str>,
        checkpoint: Option<&str>,
        state: Option<&str>,
    ) -> Result<Extraction> {
        self.enter().await;
        let store = &mut self.store;
        let handle = match &self.bindings {
            Bindings::Current(b) => {
                let guest = b.extract_connector_source().extraction();
                guest
                    .call_constructor(store, config, resource, partition, checkpoint, state)
                    .await
            }
            Bindings::V0_1(b) => {
                let guest = b.extract_connector_source().extraction();
                guest
                    .call_constructor(store, config, resource, partition, checkpoint, state)
                    .await
            }
        };
        self.leave();
        let handle = handle.map_err(|e| {
            self.component
                .fault(&self.store, "failed to create the extraction", e)
        })?;
        Ok(Extraction { handle })
    }

    /// Call `extraction.start`.
    pub async fn start(
        &mut self,
        ext: &Extraction,
    ) -> Result<std::result::Result<wit::Request, ConnectorError>> {
        self.enter().await;
        let result = match &self.bindings {
            Bindings::Current(b) => {
                let guest = b.extract_connector_source().extraction();
                guest.call_start(&mut self.store, ext.handle).await
            }
            Bindings::V0_1(b) => {
                let guest = b.extract_connector_source().extraction();
                let result = guest.call_start(&mut self.store, ext.handle).await;
                result.map(|r| r.map(Into::into).map_err(Into::into))
            }
        };
        self.leave();
        result.map_err(|e| self.component.fault(&self.store, "failed in `start`", e))
    }

    /// Call `extraction.next` with the response to the last request, or the
    /// host's refusal to send it. A component built against version 0.1.0
    /// cannot take a refusal: it is answered for it with the refusal's
    /// message, as the SDK's default does, without a call.
    pub async fn next(
        &mut self,
        ext: &Extraction,
        outcome: std::result::Result<&wit::Response, &wit::Refusal>,
    ) -> Result<std::result::Result<wit::Page, ConnectorError>> {
        let result = match &self.bindings {
            Bindings::Current(b) => {
                enter_call(&mut self.store, &self.component).await;
                let guest = b.extract_connector_source().extraction();
                guest.call_next(&mut self.store, ext.handle, outcome).await
            }
            Bindings::V0_1(b) => {
                let response = match outcome {
                    Ok(response) => v0_1::response(response),
                    Err(refusal) => {
                        return Ok(Err(ConnectorError {
                            kind: wit::ErrorKind::Other,
                            message: refusal.message.clone(),
                        }));
                    }
                };
                enter_call(&mut self.store, &self.component).await;
                let guest = b.extract_connector_source().extraction();
                let result = guest
                    .call_next(&mut self.store, ext.handle, &response)
                    .await;
                result.map(|r| r.map(Into::into).map_err(Into::into))
            }
        };
        self.leave();
        result.map_err(|e| self.component.fault(&self.store, "failed in `next`", e))
    }

    /// Drop an extraction resource, freeing its guest state.
    pub async fn finish(&mut self, ext: Extraction) -> Result<()> {
        self.enter().await;
        let dropped = ext.handle.resource_drop_async(&mut self.store).await;
        self.leave();
        dropped.map_err(|e| {
            self.component
                .fault(&self.store, "failed to drop the extraction", e)
        })
    }
}

/// Caps on what one extraction may ask for and hand back, checked by the
/// sync as each page crosses the boundary. They bound the host memory a
/// component can make the host spend (records are materialized and
/// normalized on the host) and stop a paginator that never ends.
#[derive(Debug, Clone)]
pub struct PageLimits {
    /// Records in one page (`--max-records-per-page`).
    pub max_records: usize,
    /// Bytes of records a component serializes itself in one page
    /// (`records::json-array`), `--max-body-mib`; span records are bounded
    /// by the response body, which has the same cap.
    pub max_bytes: usize,
    /// Requests one resource may plan, all its partitions together
    /// (`--max-requests`); the host's own retries do not count.
    pub max_requests: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            max_records: 100_000,
            max_bytes: crate::http::DEFAULT_MAX_BODY_BYTES,
            max_requests: 100_000,
        }
    }
}

impl PageLimits {
    /// Check a page the component returned, before the host parses its
    /// records: its size, and the record count of span pages.
    pub fn check_page(&self, component: &str, records: &wit::Records) -> Result<()> {
        match records {
            wit::Records::Spans(spans) => self.check_records(component, spans.len()),
            wit::Records::JsonArray(text) if text.len() > self.max_bytes => bail!(
                "component `{component}` returned {} bytes of records in one page, over the \
                 limit of {} bytes (raise it with --max-body-mib)",
                text.len(),
                self.max_bytes
            ),
            wit::Records::JsonArray(_) => Ok(()),
        }
    }

    /// Check the number of records of one page.
    pub fn check_records(&self, component: &str, count: usize) -> Result<()> {
        if count > self.max_records {
            bail!(
                "component `{component}` returned {count} records in one page, over the limit \
                 of {} (raise it with --max-records-per-page)",
                self.max_records
            );
        }
        Ok(())
    }

    /// Check that a resource that has already sent `sent` requests may send
    /// one more.
    pub fn check_request(&self, component: &str, sent: u64) -> Result<()> {
        if sent >= self.max_requests {
            bail!(
                "component `{component}` asked for more than {} requests for this resource \
                 (raise the limit with --max-requests)",
                self.max_requests
            );
        }
        Ok(())
    }
}

/// A handle to an `extraction` resource living in an [`Instance`].
pub struct Extraction {
    handle: ResourceAny,
}

/// Just the source interface type, for callers that name it.
pub type SourceGuest = wit_source::Guest;

/// Conversions between version 0.1.0 of the world and the current one. The
/// types are the same but for the refusal, which 0.1.0 lacks.
mod v0_1 {
    use super::bindings_v0_1::extract::connector::types as old;
    use super::wit;

    /// A response for a 0.1.0 component (a copy: such components are not
    /// on the fast path).
    pub(super) fn response(r: &wit::Response) -> old::Response {
        old::Response {
            status: r.status,
            headers: r.headers.clone(),
            body: r.body.clone(),
            url: r.url.clone(),
        }
    }

    impl From<old::Method> for wit::Method {
        fn from(m: old::Method) -> Self {
            match m {
                old::Method::Get => wit::Method::Get,
                old::Method::Post => wit::Method::Post,
                old::Method::Put => wit::Method::Put,
                old::Method::Patch => wit::Method::Patch,
                old::Method::Delete => wit::Method::Delete,
            }
        }
    }

    impl From<old::Request> for wit::Request {
        fn from(r: old::Request) -> Self {
            wit::Request {
                method: r.method.into(),
                url: r.url,
                query: r.query,
                headers: r.headers,
                json_body: r.json_body,
            }
        }
    }

    impl From<old::Records> for wit::Records {
        fn from(r: old::Records) -> Self {
            match r {
                old::Records::Spans(spans) => wit::Records::Spans(
                    spans
                        .into_iter()
                        .map(|s| wit::Span {
                            start: s.start,
                            end: s.end,
                        })
                        .collect(),
                ),
                old::Records::JsonArray(json) => wit::Records::JsonArray(json),
            }
        }
    }

    impl From<old::Page> for wit::Page {
        fn from(p: old::Page) -> Self {
            wit::Page {
                records: p.records.into(),
                next: p.next.map(Into::into),
                checkpoint: p.checkpoint,
                state: p.state,
                prefetch: p.prefetch.into_iter().map(Into::into).collect(),
            }
        }
    }

    impl From<old::SourceInfo> for wit::SourceInfo {
        fn from(s: old::SourceInfo) -> Self {
            wit::SourceInfo {
                name: s.name,
                config: s.config,
                resources: s
                    .resources
                    .into_iter()
                    .map(|r| wit::ResourceInfo {
                        name: r.name,
                        primary_key: r.primary_key,
                        write_disposition: match r.write_disposition {
                            old::WriteDisposition::Append => wit::WriteDisposition::Append,
                            old::WriteDisposition::Replace => wit::WriteDisposition::Replace,
                            old::WriteDisposition::Merge => wit::WriteDisposition::Merge,
                        },
                        parent: r.parent,
                        selected: r.selected,
                    })
                    .collect(),
            }
        }
    }

    impl From<old::ConnectorError> for wit::ConnectorError {
        fn from(e: old::ConnectorError) -> Self {
            wit::ConnectorError {
                kind: match e.kind {
                    old::ErrorKind::InvalidConfig => wit::ErrorKind::InvalidConfig,
                    old::ErrorKind::BadResponse => wit::ErrorKind::BadResponse,
                    old::ErrorKind::Stuck => wit::ErrorKind::Stuck,
                    old::ErrorKind::InvalidState => wit::ErrorKind::InvalidState,
                    old::ErrorKind::Other => wit::ErrorKind::Other,
                },
                message: e.message,
            }
        }
    }
}
