//! The one place that generates WIT bindings (`wit_bindgen::generate!`), and
//! the adapter between them and the SDK's plain types and traits.
//!
//! Conversions are moves (bodies, strings and span lists are handed over,
//! never copied), so the SDK layer costs nothing per record.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::{Connector, Extraction};

/// The generated bindings; connector authors never name these.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "connector",
        // The export macro is expanded in connector crates by
        // `export_connector!`, so it must be reachable from there.
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "::extract_sdk::__private::bindings",
    });
}

pub use bindings::export_bindings;

/// The generated WIT types the export glue converts to and from.
pub mod wit {
    pub use super::bindings::exports::extract::connector::source::GuestExtraction;
    pub use super::bindings::extract::connector::types::{
        ConnectorError, ErrorKind, Method, Page, Records, Refusal, RefusalKind, Request,
        ResourceInfo, Response, SourceInfo, Span, WriteDisposition,
    };
}

/// The exported `extraction` resource for connector `C`.
///
/// WIT resource methods take `&self`; the state machine needs `&mut`, hence
/// the `RefCell`. The host never calls into one instance re-entrantly, so a
/// borrow failure would be a host bug, reported as an error, not a trap.
pub struct ExtractionResource<C: Connector> {
    inner: RefCell<C::Extraction>,
    _connector: PhantomData<fn() -> C>,
}

impl<C: Connector> ExtractionResource<C> {
    fn with<R>(
        &self,
        f: impl FnOnce(&mut C::Extraction) -> Result<R, crate::ConnectorError>,
    ) -> Result<R, wit::ConnectorError> {
        match self.inner.try_borrow_mut() {
            Ok(mut inner) => f(&mut inner).map_err(Into::into),
            Err(_) => Err(wit::ConnectorError {
                kind: wit::ErrorKind::Other,
                message: "the host called an extraction re-entrantly".to_owned(),
            }),
        }
    }
}

impl<C: Connector + 'static> wit::GuestExtraction for ExtractionResource<C> {
    fn new(
        config: String,
        resource: String,
        partition: Option<String>,
        checkpoint: Option<String>,
        state: Option<String>,
    ) -> Self {
        let ctx = crate::ExtractionContext {
            partition,
            checkpoint,
            state,
        };
        ExtractionResource {
            inner: RefCell::new(C::extraction(&config, &resource, ctx)),
            _connector: PhantomData,
        }
    }

    fn start(&self) -> Result<wit::Request, wit::ConnectorError> {
        self.with(|e| e.start()).map(Into::into)
    }

    fn next(
        &self,
        response: Result<wit::Response, wit::Refusal>,
    ) -> Result<wit::Page, wit::ConnectorError> {
        match response {
            Ok(response) => self.with(|e| e.next(response.into())),
            Err(refusal) => self.with(|e| e.refused(refusal.into())),
        }
        .map(Into::into)
    }
}

/// `describe` for connector `C`, in WIT types.
pub fn describe<C: Connector>(config: &str) -> Result<wit::SourceInfo, wit::ConnectorError> {
    C::describe(config).map(Into::into).map_err(Into::into)
}

impl From<crate::Method> for wit::Method {
    fn from(m: crate::Method) -> Self {
        match m {
            crate::Method::Get => wit::Method::Get,
            crate::Method::Post => wit::Method::Post,
            crate::Method::Put => wit::Method::Put,
            crate::Method::Patch => wit::Method::Patch,
            crate::Method::Delete => wit::Method::Delete,
        }
    }
}

impl From<crate::Request> for wit::Request {
    fn from(r: crate::Request) -> Self {
        wit::Request {
            method: r.method.into(),
            url: r.url,
            query: r.query,
            headers: r.headers,
            json_body: r.json_body,
        }
    }
}

impl From<wit::Response> for crate::Response {
    fn from(r: wit::Response) -> Self {
        crate::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            url: r.url,
        }
    }
}

impl From<wit::Refusal> for crate::Refusal {
    fn from(r: wit::Refusal) -> Self {
        crate::Refusal {
            kind: match r.kind {
                wit::RefusalKind::Egress => crate::RefusalKind::Egress,
                wit::RefusalKind::Invalid => crate::RefusalKind::Invalid,
            },
            message: r.message,
            url: r.url,
        }
    }
}

impl From<crate::Records> for wit::Records {
    fn from(r: crate::Records) -> Self {
        match r {
            // Same layout on both sides: the collect reuses the allocation.
            crate::Records::Spans(spans) => wit::Records::Spans(
                spans
                    .into_iter()
                    .map(|s| wit::Span {
                        start: s.start,
                        end: s.end,
                    })
                    .collect(),
            ),
            crate::Records::JsonArray(json) => wit::Records::JsonArray(json),
        }
    }
}

impl From<crate::Page> for wit::Page {
    fn from(p: crate::Page) -> Self {
        wit::Page {
            records: p.records.into(),
            next: p.next.map(Into::into),
            checkpoint: p.checkpoint,
            state: p.state,
            prefetch: p.prefetch.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<crate::WriteDisposition> for wit::WriteDisposition {
    fn from(w: crate::WriteDisposition) -> Self {
        match w {
            crate::WriteDisposition::Append => wit::WriteDisposition::Append,
            crate::WriteDisposition::Replace => wit::WriteDisposition::Replace,
            crate::WriteDisposition::Merge => wit::WriteDisposition::Merge,
        }
    }
}

impl From<crate::ResourceInfo> for wit::ResourceInfo {
    fn from(r: crate::ResourceInfo) -> Self {
        wit::ResourceInfo {
            name: r.name,
            primary_key: r.primary_key,
            write_disposition: r.write_disposition.into(),
            parent: r.parent,
            selected: r.selected,
        }
    }
}

impl From<crate::SourceInfo> for wit::SourceInfo {
    fn from(s: crate::SourceInfo) -> Self {
        wit::SourceInfo {
            name: s.name,
            config: s.config,
            resources: s.resources.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<crate::ErrorKind> for wit::ErrorKind {
    fn from(k: crate::ErrorKind) -> Self {
        match k {
            crate::ErrorKind::InvalidConfig => wit::ErrorKind::InvalidConfig,
            crate::ErrorKind::BadResponse => wit::ErrorKind::BadResponse,
            crate::ErrorKind::Stuck => wit::ErrorKind::Stuck,
            crate::ErrorKind::InvalidState => wit::ErrorKind::InvalidState,
            crate::ErrorKind::Other => wit::ErrorKind::Other,
        }
    }
}

impl From<crate::ConnectorError> for wit::ConnectorError {
    fn from(e: crate::ConnectorError) -> Self {
        wit::ConnectorError {
            kind: e.kind.into(),
            message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ConnectorError, ExtractionContext, Page, Records, Request, Response, SourceInfo, Span,
    };
    use wit::GuestExtraction;

    /// A connector that answers one page holding the whole body.
    struct Echo;
    struct EchoExtraction {
        url: String,
        state: Option<String>,
    }

    impl Connector for Echo {
        type Extraction = EchoExtraction;
        fn describe(config: &str) -> Result<SourceInfo, ConnectorError> {
            if config.is_empty() {
                return Err(ConnectorError::invalid_config("empty"));
            }
            Ok(SourceInfo {
                name: "echo".into(),
                config: config.into(),
                resources: vec![],
            })
        }
        fn extraction(_: &str, resource: &str, ctx: ExtractionContext) -> EchoExtraction {
            EchoExtraction {
                url: format!("/{resource}"),
                state: ctx.state,
            }
        }
    }

    impl Extraction for EchoExtraction {
        fn start(&mut self) -> Result<Request, ConnectorError> {
            Ok(Request::get(self.url.clone()))
        }
        fn next(&mut self, response: Response) -> Result<Page, ConnectorError> {
            Ok(Page::last(Records::Spans(vec![Span {
                start: 0,
                end: response.body.len() as u32,
            }]))
            .with_state(self.state.take().map(|s| format!("{s}+1"))))
        }
    }

    #[test]
    fn resource_glue_drives_the_plain_state_machine() {
        let e = ExtractionResource::<Echo>::new(
            "{}".into(),
            "items".into(),
            None,
            None,
            Some("s".into()),
        );
        let request = e.start().expect("start");
        assert_eq!(request.url, "/items");
        assert!(matches!(request.method, wit::Method::Get));
        let page = e
            .next(Ok(wit::Response {
                status: 200,
                headers: vec![],
                body: b"{}".to_vec(),
                url: "http://x/items".into(),
            }))
            .expect("next");
        match page.records {
            wit::Records::Spans(spans) => assert_eq!((spans[0].start, spans[0].end), (0, 2)),
            wit::Records::JsonArray(_) => panic!("expected spans"),
        }
        assert_eq!(page.state.as_deref(), Some("s+1"), "state goes both ways");
        assert_eq!(page.checkpoint, None);
    }

    #[test]
    fn a_refusal_fails_the_extraction_with_the_hosts_reason_by_default() {
        let e = ExtractionResource::<Echo>::new("{}".into(), "items".into(), None, None, None);
        e.start().expect("start");
        let err = e
            .next(Err(wit::Refusal {
                kind: wit::RefusalKind::Egress,
                message: "host `evil.example` is not allowed".into(),
                url: "http://evil.example/x".into(),
            }))
            .expect_err("the default refuses to go on");
        assert!(matches!(err.kind, wit::ErrorKind::Other));
        assert_eq!(err.message, "host `evil.example` is not allowed");
    }

    #[test]
    fn describe_errors_keep_their_kind() {
        let err = describe::<Echo>("").expect_err("empty config");
        assert!(matches!(err.kind, wit::ErrorKind::InvalidConfig));
        assert_eq!(err.message, "empty");
    }
}
