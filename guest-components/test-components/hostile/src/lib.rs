//! A hostile connector for the host's sandbox tests, built as
//! `test_hostile.wasm` and never shipped. Its resources misbehave on
//! purpose:
//! - `spin`: `start` never returns (the CPU deadline must stop it);
//! - `hog`: `start` allocates until memory runs out (the memory cap must
//!   stop it);
//! - `calm`: one ordinary GET of `/calm` and an empty page, to show that the
//!   other resources of the same run carry on.

use extract_sdk::{
    Connector, ConnectorError, Extraction, ExtractionContext, Page, Records, Request, ResourceInfo,
    Response, SourceInfo, WriteDisposition,
};

/// The hostile connector.
pub struct Hostile;

/// One extraction of one of its resources.
pub struct HostileExtraction {
    resource: String,
}

fn resource(name: &str) -> ResourceInfo {
    ResourceInfo {
        name: name.to_string(),
        primary_key: Vec::new(),
        write_disposition: WriteDisposition::Append,
        parent: None,
        selected: true,
    }
}

impl Connector for Hostile {
    type Extraction = HostileExtraction;

    fn describe(config: &str) -> Result<SourceInfo, ConnectorError> {
        // The operator's overrides name the base URL; nothing else is needed.
        let base = config
            .split("\"base_url\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .unwrap_or("http://127.0.0.1:9");
        Ok(SourceInfo {
            name: "hostile".into(),
            config: format!(r#"{{"client": {{"base_url": "{base}"}}}}"#),
            resources: vec![resource("spin"), resource("hog"), resource("calm")],
        })
    }

    fn extraction(_config: &str, resource: &str, _ctx: ExtractionContext) -> HostileExtraction {
        HostileExtraction {
            resource: resource.to_string(),
        }
    }
}

impl Extraction for HostileExtraction {
    fn start(&mut self) -> Result<Request, ConnectorError> {
        match self.resource.as_str() {
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 8 * 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => Ok(Request::get("/calm")),
        }
    }

    fn next(&mut self, _response: Response) -> Result<Page, ConnectorError> {
        Ok(Page::last(Records::none()))
    }
}

extract_sdk::export_connector!(Hostile);
