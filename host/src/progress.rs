//! The live progress display (one line per resource, on stderr when it is a
//! terminal) and the summary table printed when a run ends.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::sync::RunReport;

/// Receives a run's progress as it happens, and may ask the run to stop
/// (`extract serve` shows each job's progress and cancels jobs with it).
pub trait Observer: Send + Sync {
    /// `resource` loaded one page of `records` records.
    fn page(&self, resource: &str, records: u64);
    /// `resource` completed.
    fn done(&self, resource: &str);
    /// `resource` failed (the run's report holds the error).
    fn failed(&self, resource: &str);
    /// True if and only if the run should stop at its next page boundary:
    /// the pages before it stay loaded, with their checkpoints.
    fn cancelled(&self) -> bool;
}

/// The progress display of a run.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
    observer: Option<Arc<dyn Observer>>,
}

/// One resource's progress line.
#[derive(Clone)]
pub struct ResourceBar {
    bar: Option<ProgressBar>,
    name: String,
    observer: Option<Arc<dyn Observer>>,
}

impl Progress {
    /// Draw on stderr (hidden automatically when stderr is not a terminal).
    pub fn stderr() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        Self {
            multi: Some(multi),
            observer: None,
        }
    }

    /// No display.
    pub fn hidden() -> Self {
        Self {
            multi: None,
            observer: None,
        }
    }

    /// No display; every event goes to `observer`.
    pub fn observed(observer: Arc<dyn Observer>) -> Self {
        Self {
            multi: None,
            observer: Some(observer),
        }
    }

    /// Add a line for `resource`.
    pub fn resource(&self, resource: &str) -> ResourceBar {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<28} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(resource.to_string());
            bar.set_message("0 pages, 0 records");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ResourceBar {
            bar,
            name: resource.to_string(),
            observer: self.observer.clone(),
        }
    }

    /// Stop drawing.
    pub fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl ResourceBar {
    /// Count one page of `records` records.
    pub fn page(&self, records: u64) {
        if let Some(o) = &self.observer {
            o.page(&self.name, records);
        }
        if let Some(bar) = &self.bar {
            bar.inc(records);
            bar.set_length(bar.length().unwrap_or(0) + 1);
            let pages = bar.length().unwrap_or(0);
            bar.set_message(format!("{pages} pages, {} records", bar.position()));
        }
    }

    /// The resource completed.
    pub fn done(&self) {
        if let Some(o) = &self.observer {
            o.done(&self.name);
        }
        if let Some(bar) = &self.bar {
            bar.finish_with_message(format!("done: {} records", bar.position()));
        }
        tracing::debug!("resource `{}` done", self.name);
    }

    /// The resource failed.
    pub fn fail(&self) {
        if let Some(o) = &self.observer {
            o.failed(&self.name);
        }
        if let Some(bar) = &self.bar {
            bar.abandon_with_message("failed");
        }
    }

    /// True if and only if the run was asked to stop (see [`Observer`]).
    pub fn cancelled(&self) -> bool {
        self.observer.as_ref().is_some_and(|o| o.cancelled())
    }
}

/// Render the summary table: resource, status, pages, records, seconds;
/// then each failure in full.
pub fn summary(report: &RunReport) -> String {
    let name_w = report
        .resources
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(8)
        .max("resource".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<name_w$}  {:<7}  {:>7}  {:>10}  {:>8}",
        "resource", "status", "pages", "records", "seconds"
    );
    let _ = writeln!(out, "{}", "-".repeat(name_w + 40));
    let (mut pages, mut records) = (0, 0);
    for (name, r) in &report.resources {
        let status = match (&r.error, r.not_loaded) {
            (Some(_), _) => "FAILED",
            (None, true) => "parent",
            (None, false) => "ok",
        };
        pages += r.pages;
        records += r.records;
        let _ = writeln!(
            out,
            "{name:<name_w$}  {status:<7}  {:>7}  {:>10}  {:>8.2}",
            r.pages,
            r.records,
            r.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(out, "{}", "-".repeat(name_w + 40));
    let _ = writeln!(
        out,
        "{:<name_w$}  {:<7}  {pages:>7}  {records:>10}",
        "total", ""
    );
    for (name, r) in &report.resources {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "\nerror in `{name}`: {e}");
        }
    }
    out
}
