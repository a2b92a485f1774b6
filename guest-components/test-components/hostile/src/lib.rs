//! A hostile connector for the host's sandbox tests, built as
//! `test_hostile.wasm` and never shipped. Its resources misbehave on
//! purpose; the ones selected by default are the original three:
//! - `spin`: `start` never returns (the CPU deadline must stop it);
//! - `hog`: `start` allocates until memory runs out (the memory cap must
//!   stop it);
//! - `calm`: one ordinary GET of `/calm` and an empty page, to show that the
//!   other resources of the same run carry on.
//!
//! The others run only when a test selects them (`--resources`), each the
//! violating (or, with other settings, the obeying) side of one limit or
//! permission. Their knobs come from the operator's overrides under
//! `"hostile"`: `{"target": URL, "records": N, "record_bytes": N,
//! "pages": N, "alloc_mib": N, "work": N}`.
//! - `panic`: `start` panics;
//! - `work`: computes `work` million steps, then behaves like `calm`;
//! - `alloc`: holds `alloc_mib` MiB, then behaves like `calm`;
//! - `flood`: one request, then a page of `records` records of
//!   `record_bytes` bytes each (a gigantic page);
//! - `pages`: `pages` pages of one record each (many requests);
//! - `elsewhere`: asks for `target` (another host or port);
//! - `metadata`: asks for the cloud metadata service (169.254.169.254);
//! - `detour`: asks for `target`; if the host refuses, takes the refusal
//!   handed back to it and falls back to `/calm` (a component that handles
//!   the error value and goes on);
//! - `forge_auth`: sets its own `Authorization` header;
//! - `snoop`: looks for secrets everywhere it can (environment, arguments,
//!   files, the response's headers, URL and body) and returns what it found
//!   as a record, so a test can check nothing secret was there.
//!
//! Every resource answers a refusal with its own error naming the refusal's
//! kind, URL and message (`detour` excepted), so a test can tell that the
//! refusal reached the component as a value.

use extract_sdk::{
    Connector, ConnectorError, Extraction, ExtractionContext, Page, Records, Refusal, Request,
    ResourceInfo, Response, SourceInfo, WriteDisposition,
};
use serde_json::{Value, json};

/// The hostile connector.
pub struct Hostile;

/// One extraction of one of its resources.
pub struct HostileExtraction {
    resource: String,
    knobs: Value,
    page: u64,
    snooped: Value,
}

fn resource(name: &str, selected: bool) -> ResourceInfo {
    ResourceInfo {
        name: name.to_string(),
        primary_key: Vec::new(),
        write_disposition: WriteDisposition::Append,
        parent: None,
        selected,
    }
}

impl Connector for Hostile {
    type Extraction = HostileExtraction;

    fn describe(config: &str) -> Result<SourceInfo, ConnectorError> {
        let overrides: Value = serde_json::from_str(config)
            .map_err(|e| ConnectorError::invalid_config(format!("overrides: {e}")))?;
        // The operator's `client` is passed through (the host applies its
        // auth); without one, the component declares a loopback base URL of
        // its own, which the host must not trust.
        let mut client = overrides
            .get("client")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let hostile = overrides
            .get("hostile")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if client.get("base_url").is_none() {
            // `declared_base_url` plays a vendor component's built-in base
            // URL: the component names it, the operator did not write it.
            client["base_url"] = hostile
                .get("declared_base_url")
                .cloned()
                .unwrap_or_else(|| json!("http://127.0.0.1:9"));
        }
        let mut resources = vec![
            resource("spin", true),
            resource("hog", true),
            resource("calm", true),
        ];
        for name in [
            "panic",
            "work",
            "alloc",
            "flood",
            "pages",
            "elsewhere",
            "metadata",
            "detour",
            "forge_auth",
            "snoop",
        ] {
            resources.push(resource(name, false));
        }
        Ok(SourceInfo {
            name: "hostile".into(),
            config: json!({"client": client, "hostile": hostile}).to_string(),
            resources,
        })
    }

    fn extraction(config: &str, resource: &str, _ctx: ExtractionContext) -> HostileExtraction {
        let knobs = serde_json::from_str::<Value>(config)
            .ok()
            .and_then(|c| c.get("hostile").cloned())
            .unwrap_or(Value::Null);
        HostileExtraction {
            resource: resource.to_string(),
            knobs,
            page: 0,
            snooped: Value::Null,
        }
    }
}

impl HostileExtraction {
    fn knob(&self, name: &str, default: u64) -> u64 {
        self.knobs
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    }

    fn target(&self) -> String {
        self.knobs
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("http://example.com/")
            .to_string()
    }
}

/// Everything a component could look at to find a credential.
fn snoop_environment() -> Value {
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let args: Vec<String> = std::env::args().collect();
    let files: Vec<String> = ["/proc/self/environ", "/etc/passwd", ".", "/"]
        .iter()
        .map(|p| match std::fs::read(p) {
            Ok(bytes) => format!("{p}: read {} bytes", bytes.len()),
            Err(e) => format!("{p}: {e}"),
        })
        .collect();
    let dirs: Vec<String> = [".", "/"]
        .iter()
        .map(|p| match std::fs::read_dir(p) {
            Ok(entries) => format!("{p}: {} entries", entries.count()),
            Err(e) => format!("{p}: {e}"),
        })
        .collect();
    json!({"env": env, "args": args, "files": files, "dirs": dirs})
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
            "panic" => panic!("the hostile component panics on purpose"),
            "work" => {
                let steps = self.knob("work", 1) * 1_000_000;
                let mut n: u64 = 0;
                for i in 0..steps {
                    n = std::hint::black_box(n.wrapping_mul(31).wrapping_add(i));
                }
                std::hint::black_box(n);
                Ok(Request::get("/calm"))
            }
            "alloc" => {
                let bytes = (self.knob("alloc_mib", 1) as usize) * 1024 * 1024;
                let held = vec![7u8; bytes];
                std::hint::black_box(&held);
                Ok(Request::get("/calm"))
            }
            "pages" => {
                self.page = 1;
                Ok(Request::get("/calm?page=1"))
            }
            "elsewhere" | "detour" => Ok(Request::get(self.target())),
            "metadata" => Ok(Request::get(
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            )),
            "forge_auth" => {
                let mut req = Request::get("/calm");
                req.headers
                    .push(("Authorization".into(), "Bearer forged".into()));
                Ok(req)
            }
            "snoop" => {
                self.snooped = snoop_environment();
                extract_sdk::info!("snooped: {}", self.snooped);
                Ok(Request::get("/snoop"))
            }
            _ => Ok(Request::get("/calm")),
        }
    }

    fn next(&mut self, response: Response) -> Result<Page, ConnectorError> {
        match self.resource.as_str() {
            "flood" => {
                let count = self.knob("records", 10) as usize;
                let pad = "x".repeat(self.knob("record_bytes", 16) as usize);
                let mut out = String::with_capacity(count * (pad.len() + 16) + 2);
                out.push('[');
                for i in 0..count {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!(r#"{{"i":{i},"pad":"{pad}"}}"#));
                }
                out.push(']');
                Ok(Page::last(Records::JsonArray(out)))
            }
            "pages" => {
                let record = Records::JsonArray(format!(r#"[{{"page":{}}}]"#, self.page));
                if self.page >= self.knob("pages", 3) {
                    return Ok(Page::last(record));
                }
                self.page += 1;
                Ok(Page::new(record).with_next(Request::get(format!("/calm?page={}", self.page))))
            }
            "snoop" => {
                let record = json!({
                    "env": self.snooped["env"].to_string(),
                    "args": self.snooped["args"].to_string(),
                    "files": self.snooped["files"].to_string(),
                    "dirs": self.snooped["dirs"].to_string(),
                    "status": response.status,
                    "url": response.url,
                    "headers": format!("{:?}", response.headers),
                    "body": String::from_utf8_lossy(&response.body),
                });
                extract_sdk::info!("snooped response: {record}");
                Ok(Page::last(Records::JsonArray(format!("[{record}]"))))
            }
            _ => Ok(Page::last(Records::none())),
        }
    }

    fn refused(&mut self, refusal: Refusal) -> Result<Page, ConnectorError> {
        if self.resource == "detour" && !refusal.url.ends_with("/calm") {
            extract_sdk::warn!("detour: {} refused, falling back to /calm", refusal.url);
            return Ok(Page::new(Records::none()).with_next(Request::get("/calm")));
        }
        Err(ConnectorError::other(format!(
            "hostile got the refusal back ({:?}, {}, {} bytes of reason)",
            refusal.kind,
            refusal.url,
            refusal.message.len()
        )))
    }
}

extract_sdk::export_connector!(Hostile);
