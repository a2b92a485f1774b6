//! The connector SDK: plain Rust types and traits for writing an extraction
//! connector component, and the [`export_connector!`] macro that turns them
//! into a WebAssembly component implementing `extract:connector/source`.
//!
//! A connector is a *sans-IO state machine*: it plans HTTP requests and picks
//! records out of the responses the host hands it. It never touches the
//! network, the disk or a credential. The same connector code links natively
//! (for unit tests and benchmarks): nothing here needs wasm except the glue
//! that [`export_connector!`] generates.
//!
//! ```ignore
//! use extract_sdk::{
//!     Connector, ConnectorError, Extraction, ExtractionContext, Page, Request, Response, SourceInfo,
//! };
//!
//! struct MyVendor;
//!
//! impl Connector for MyVendor {
//!     type Extraction = MyExtraction;
//!     fn describe(config: &str) -> Result<SourceInfo, ConnectorError> { /* ... */ }
//!     fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> MyExtraction { /* ... */ }
//! }
//!
//! extract_sdk::export_connector!(MyVendor);
//! ```

// Lets the generated bindings name this crate as `::extract_sdk` both here
// and inside connector crates, where the export macro expands.
extern crate self as extract_sdk;

mod glue;
pub mod log;
mod types;

pub use types::{
    ConnectorError, ErrorKind, ExtractionContext, IntoOptionString, Method, Page, Records, Refusal,
    RefusalKind, Request, ResourceInfo, Response, SourceInfo, Span, WriteDisposition,
};

/// A connector: describes its source and creates one extraction per
/// resource (and per partition of a child resource).
///
/// Both functions are associated functions (no `self`): a component
/// instance holds no state between calls except the extractions it created.
pub trait Connector {
    /// The state machine extracting one resource.
    type Extraction: Extraction + 'static;

    /// Validates a (secret-free) configuration and describes the source:
    /// its name, its effective configuration and its resources, parents
    /// before children.
    fn describe(config: &str) -> Result<SourceInfo, ConnectorError>;

    /// Prepares the extraction of `resource`.
    ///
    /// `config` is the effective configuration `describe` returned; `ctx`
    /// holds the partition (the parent record, a JSON object, for a child
    /// resource), the checkpoint of an earlier [`Page`] to resume after, and
    /// the incremental state the last run stored. This cannot fail: an
    /// extraction that cannot run reports its error from
    /// [`Extraction::start`].
    fn extraction(config: &str, resource: &str, ctx: ExtractionContext) -> Self::Extraction;
}

/// The extraction of one resource (or one partition of it): a state machine
/// driven by the host, one response at a time.
pub trait Extraction {
    /// The first request to send. An error here is a configuration (or
    /// checkpoint, or partition) error: nothing was sent yet.
    fn start(&mut self) -> Result<Request, ConnectorError>;

    /// Takes the final response to the last request (after the host's
    /// retries, whatever its status) and returns its records, the next
    /// request (if any), a checkpoint to resume after this page and any
    /// incremental state to keep.
    fn next(&mut self, response: Response) -> Result<Page, ConnectorError>;

    /// Takes the host's refusal to send the last request (its egress policy
    /// denied it, or it was invalid) in place of a response. Nothing was
    /// sent; the host tells the user either way.
    ///
    /// The default fails the extraction with the host's reason, which is
    /// right for almost every connector. Override it to go on without that
    /// request, for example to stop following links to a host the operator
    /// did not allow: the page returned here is handled like any other
    /// (with no body behind it, its records are [`Records::none`] or
    /// [`Records::JsonArray`]).
    fn refused(&mut self, refusal: Refusal) -> Result<Page, ConnectorError> {
        Err(ConnectorError::other(refusal.message))
    }
}

/// Exports a [`Connector`] implementation as the component's
/// `extract:connector/source` interface.
///
/// Invoke it once, at the root of the connector crate (built as a `cdylib`
/// for `wasm32-wasip2`):
///
/// ```ignore
/// extract_sdk::export_connector!(MyVendor);
/// ```
///
/// On targets other than wasm the macro expands to nothing, so the crate
/// still builds and tests natively.
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[cfg(target_family = "wasm")]
        #[allow(unsafe_code)]
        const _: () = {
            struct __ExtractSdkExport;

            impl $crate::__private::SourceGuest for __ExtractSdkExport {
                type Extraction = $crate::__private::ExtractionResource<$connector>;

                fn describe(
                    config: ::std::string::String,
                ) -> ::std::result::Result<
                    $crate::__private::wit::SourceInfo,
                    $crate::__private::wit::ConnectorError,
                > {
                    $crate::__private::describe::<$connector>(&config)
                }
            }

            $crate::__private::export_bindings!(
                __ExtractSdkExport with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Implementation details of [`export_connector!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::glue::bindings;
    pub use crate::glue::bindings::exports::extract::connector::source::Guest as SourceGuest;
    pub use crate::glue::export_bindings;
    pub use crate::glue::{ExtractionResource, describe, wit};
}
