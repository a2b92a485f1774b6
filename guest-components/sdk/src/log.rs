//! Diagnostics through the host's `extract:connector/log` import.
//!
//! On wasm the lines go to the host, which attributes them to the component
//! and resource. Natively (unit tests, benchmarks) they are dropped, unless a
//! test collects them with [`capture`] to assert on what a connector said.

use std::fmt;

/// The severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Fine-grained tracing.
    Debug,
    /// Notable events, such as a detected paginator.
    Info,
    /// Something the user should look at.
    Warn,
}

/// Emits one log line at `level`.
pub fn emit(level: Level, message: &str) {
    imp::emit(level, message);
}

/// Emits a formatted line; what the [`debug!`](crate::debug),
/// [`info!`](crate::info) and [`warn!`](crate::warn) macros call.
#[doc(hidden)]
pub fn emit_fmt(level: Level, args: fmt::Arguments<'_>) {
    if imp::enabled() {
        match args.as_str() {
            Some(s) => imp::emit(level, s),
            None => imp::emit(level, &args.to_string()),
        }
    }
}

/// Runs `f` and returns what it logged, in order; only available natively,
/// where lines are otherwise dropped.
#[cfg(not(target_family = "wasm"))]
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<(Level, String)>) {
    imp::CAPTURE.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    let lines = imp::CAPTURE
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    (result, lines)
}

#[cfg(target_family = "wasm")]
mod imp {
    use super::Level;
    use crate::glue::bindings::extract::connector::log as wit;

    pub(super) fn enabled() -> bool {
        true
    }

    pub(super) fn emit(level: Level, message: &str) {
        let level = match level {
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
        };
        wit::emit(level, message);
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    thread_local! {
        // `Some` while a test captures; lines are dropped otherwise so that
        // native benchmarks pay nothing for logging.
        pub(super) static CAPTURE: RefCell<Option<Vec<(Level, String)>>> = const { RefCell::new(None) };
    }

    pub(super) fn enabled() -> bool {
        CAPTURE.with(|c| c.borrow().is_some())
    }

    pub(super) fn emit(level: Level, message: &str) {
        CAPTURE.with(|c| {
            if let Some(lines) = c.borrow_mut().as_mut() {
                lines.push((level, message.to_owned()));
            }
        });
    }
}

/// Logs a formatted line at debug level: `extract_sdk::debug!("page {n}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::emit_fmt($crate::log::Level::Debug, ::std::format_args!($($arg)+)) };
}

/// Logs a formatted line at info level: `extract_sdk::info!("using {p}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::emit_fmt($crate::log::Level::Info, ::std::format_args!($($arg)+)) };
}

/// Logs a formatted line at warn level: `extract_sdk::warn!("odd {x}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::emit_fmt($crate::log::Level::Warn, ::std::format_args!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_collects_lines_in_order() {
        let ((), lines) = capture(|| {
            crate::info!("detected {}", "header_link");
            crate::warn!("careful");
        });
        assert_eq!(
            lines,
            vec![
                (Level::Info, "detected header_link".to_owned()),
                (Level::Warn, "careful".to_owned()),
            ]
        );
    }

    #[test]
    fn lines_outside_capture_are_dropped() {
        crate::debug!("nobody listens");
        let ((), lines) = capture(|| ());
        assert!(lines.is_empty());
    }
}
