//! Sandbox and security tests: the real `extract` binary runs the hostile
//! test component (`test_hostile.wasm`, built by the host's build script)
//! and the generic component against servers on 127.0.0.1, into real
//! DuckDB files. Every limit and permission has an obeyed and a violated
//! test; the violated one checks the message names the component, the
//! resource and the limit, that the other resources carry on, and that the
//! process exits 1 (never crashes).

mod common;
#[path = "support/raw_http.rs"]
mod raw_http;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{extract, extract_with_env, output_text, resource_error, resource_status, row_count};
use raw_http::{RawServer, Reply, Seen, json, response};
use serde_json::{Value, json};

/// A scratch directory for one run's files.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `run test_hostile.wasm --config OVERRIDES --db DB --resources R ARGS`.
    fn hostile_args(&self, overrides: &Value, resources: &str, args: &[&str]) -> Vec<String> {
        self.component_args("test_hostile.wasm", overrides, resources, args)
    }

    /// `run WASM --config OVERRIDES --db DB --resources R ARGS`, `WASM` one
    /// of the components the build script built.
    fn component_args(
        &self,
        wasm: &str,
        overrides: &Value,
        resources: &str,
        args: &[&str],
    ) -> Vec<String> {
        let wasm = Path::new(extract::builtin::COMPONENTS_DIR).join(wasm);
        let config = self.write("overrides.json", &overrides.to_string());
        let mut out = vec![
            "run".to_string(),
            wasm.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--db".into(),
            self.db().display().to_string(),
            "--resources".into(),
            resources.into(),
        ];
        out.extend(args.iter().map(|a| a.to_string()));
        out
    }

    fn db(&self) -> PathBuf {
        self.path("sec.duckdb")
    }
}

/// A server for the hostile component's ordinary requests.
async fn calm_server() -> RawServer {
    RawServer::start(|_: &Seen| json(r#"{"ok": true}"#)).await
}

/// Run the hostile component with the operator's base URL `base` and knobs.
async fn hostile(s: &Scratch, base: &str, knobs: Value, resources: &str, args: &[&str]) -> Output {
    let overrides = json!({"client": {"base_url": base}, "hostile": knobs});
    extract(s.hostile_args(&overrides, resources, args)).await
}

fn assert_ok(out: &Output, resource: &str) {
    assert_eq!(
        resource_status(out, resource).as_deref(),
        Some("ok"),
        "`{resource}` should complete\n{}",
        output_text(out)
    );
}

/// `resource` failed, and its error contains every one of `needles`.
fn assert_failed(out: &Output, resource: &str, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed resource exits 1\n{}",
        output_text(out)
    );
    assert_eq!(
        resource_status(out, resource).as_deref(),
        Some("FAILED"),
        "{}",
        output_text(out)
    );
    let error = resource_error(out, resource);
    for needle in needles {
        assert!(
            error.contains(needle),
            "the error of `{resource}` should mention `{needle}`: {error}\n{}",
            output_text(out)
        );
    }
}

// ---- CPU deadline ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_deadline_stops_an_endless_loop_and_spares_bounded_work() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"work": 2}),
        "spin,work,calm",
        &["--call-timeout-ms", "2000"],
    )
    .await;
    assert_failed(
        &out,
        "spin",
        &[
            "component `test_hostile`",
            "CPU deadline",
            "--call-timeout-ms",
        ],
    );
    assert_ok(&out, "work");
    assert_ok(&out, "calm");
}

// ---- memory cap --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_cap_stops_a_memory_bomb_and_allows_what_fits() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"alloc_mib": 16}),
        "hog,alloc,calm",
        &["--memory-mib", "64"],
    )
    .await;
    assert_failed(
        &out,
        "hog",
        &[
            "component `test_hostile`",
            "out of memory",
            "--memory-mib 64",
        ],
    );
    assert_ok(&out, "alloc");
    assert_ok(&out, "calm");

    // The same allocation over a smaller cap fails.
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"alloc_mib": 48}),
        "alloc,calm",
        &["--memory-mib", "32"],
    )
    .await;
    assert_failed(&out, "alloc", &["out of memory", "--memory-mib 32"]);
    assert_ok(&out, "calm");
}

// ---- traps -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_component_fails_only_its_resource() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(&s, &server.url(), json!({}), "panic,calm", &[]).await;
    assert_failed(
        &out,
        "panic",
        &[
            "component `test_hostile`",
            "panicked",
            "the hostile component panics on purpose",
        ],
    );
    assert_ok(&out, "calm");
}

// ---- records and bytes per page ---------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_per_page_under_the_cap_are_loaded() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"records": 500}),
        "flood",
        &["--max-records-per-page", "500"],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(row_count(&s.db(), "hostile.flood"), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_too_many_records_fails_its_resource() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"records": 5000}),
        "flood,calm",
        &["--max-records-per-page", "1000"],
    )
    .await;
    assert_failed(
        &out,
        "flood",
        &[
            "resource `flood`, page 1",
            "component `test_hostile` returned 5000 records in one page",
            "--max-records-per-page",
        ],
    );
    assert_ok(&out, "calm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_bytes_under_the_cap_are_loaded() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"records": 10, "record_bytes": 50_000}),
        "flood",
        &["--max-body-mib", "1"],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(row_count(&s.db(), "hostile.flood"), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigantic_page_fails_its_resource() {
    let server = calm_server().await;
    let s = Scratch::new();
    // 40 records of 1 MB: 40 MB of records from one tiny response.
    let out = hostile(
        &s,
        &server.url(),
        json!({"records": 40, "record_bytes": 1_000_000}),
        "flood,calm",
        &["--max-body-mib", "8"],
    )
    .await;
    assert_failed(
        &out,
        "flood",
        &[
            "component `test_hostile` returned",
            "bytes of records in one page",
            "--max-body-mib",
        ],
    );
    assert_ok(&out, "calm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_over_the_cap_are_refused_while_streaming() {
    let big = vec![b' '; 3 * 1024 * 1024];
    let server = RawServer::start(move |seen: &Seen| {
        if seen.target == "/calm" {
            Reply::Raw(response(200, "application/json", &big))
        } else {
            json("{}")
        }
    })
    .await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({}),
        "calm",
        &["--max-body-mib", "2"],
    )
    .await;
    assert_failed(
        &out,
        "calm",
        &[
            "resource `calm`, page 1",
            "exceeds the limit",
            "--max-body-mib",
        ],
    );
    // Obeyed: the same body under a larger cap.
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({}),
        "calm",
        &["--max-body-mib", "4"],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
}

// ---- requests per resource --------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_up_to_the_cap_complete() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"pages": 5}),
        "pages",
        &["--max-requests", "5"],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(row_count(&s.db(), "hostile.pages"), 5);
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_asking_for_too_many_requests_is_stopped_and_keeps_its_pages() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(
        &s,
        &server.url(),
        json!({"pages": 1000}),
        "pages,calm",
        &["--max-requests", "5"],
    )
    .await;
    assert_failed(
        &out,
        "pages",
        &[
            "resource `pages`, page 6",
            "component `test_hostile` asked for more than 5 requests",
            "--max-requests",
        ],
    );
    assert_ok(&out, "calm");
    // 5 requests for `pages`, 1 for `calm`: the sixth was never sent.
    assert_eq!(server.requests().len(), 6);
    assert_eq!(row_count(&s.db(), "hostile.pages"), 5, "pages before stay");
}

// ---- egress ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_loopback_port_the_operator_did_not_allow_are_refused_without_connecting() {
    let server = calm_server().await;
    let other = calm_server().await;
    for target in [
        format!("http://127.0.0.1:{}/steal", other.addr.port()),
        format!("http://localhost:{}/steal", other.addr.port()),
    ] {
        let s = Scratch::new();
        let out = hostile(
            &s,
            &server.url(),
            json!({"target": target}),
            "elsewhere,calm",
            &[],
        )
        .await;
        assert_failed(
            &out,
            "elsewhere",
            &[
                "resource `elsewhere`, page 1",
                "component `test_hostile` asked for",
                "egress policy",
                "is not allowed",
                "--allow-host",
                // The refusal reached the component as a value, and its
                // answer follows the host's own reason.
                &format!(
                    "the component answered: hostile got the refusal back (Egress, {target}, "
                ),
            ],
        );
        assert_ok(&out, "calm");
    }
    assert_eq!(other.connections(), 0, "no connection to the other port");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_allowed_host_is_reachable() {
    let server = calm_server().await;
    let other = calm_server().await;
    let s = Scratch::new();
    let allowed = format!("127.0.0.1:{}", other.addr.port());
    let out = hostile(
        &s,
        &server.url(),
        json!({"target": format!("http://{allowed}/fine")}),
        "elsewhere",
        &["--allow-host", &allowed],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(other.requests().len(), 1);
    assert_eq!(other.requests()[0].target, "/fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_metadata_address_is_refused_before_any_io() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(&s, &server.url(), json!({}), "metadata,calm", &[]).await;
    // "refused by the egress policy" comes only from the check that runs
    // before a request is built, so no connection was attempted.
    assert_failed(
        &out,
        "metadata",
        &[
            "169.254.169.254",
            "request refused by the egress policy",
            "not allowed",
            "the component answered: hostile got the refusal back (Egress, http://169.254.169.254/",
        ],
    );
    assert_ok(&out, "calm");
}

/// A refusal is an error value the component can act on: `detour` takes
/// it and plans a request the policy allows, and its resource completes.
/// The host still tells the user what it refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_can_go_on_after_a_refused_request() {
    let server = calm_server().await;
    let other = calm_server().await;
    let s = Scratch::new();
    let target = format!("http://127.0.0.1:{}/steal", other.addr.port());
    let out = hostile(&s, &server.url(), json!({"target": target}), "detour", &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_ok(&out, "detour");
    assert_eq!(other.connections(), 0, "the refused request was not sent");
    let seen: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(seen, ["/calm"], "the component's second plan was sent");
    let text = output_text(&out);
    for needle in [
        "resource `detour`, page 1",
        "request refused by the egress policy",
        "the component went on without it",
        &format!("detour: {target} refused, falling back to /calm"),
    ] {
        assert!(
            text.contains(needle),
            "the output should mention `{needle}`:\n{text}"
        );
    }
}

/// A base URL only the component declares (as a vendor component's
/// built-in one) gets no operator trust: `localhost` resolves to loopback,
/// which the host's own resolver drops, so no connection is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_declared_host_resolving_to_loopback_is_refused() {
    let server = calm_server().await;
    let s = Scratch::new();
    let declared = format!("http://localhost:{}", server.addr.port());
    let overrides = json!({"hostile": {"declared_base_url": declared}});
    let out = extract(s.hostile_args(&overrides, "calm", &[])).await;
    assert_failed(
        &out,
        "calm",
        &[
            "localhost",
            "non-public address",
            "127.0.0.1",
            // The resolver's refusal is a refusal like the others: final
            // (not retried as a network error) and handed to the component.
            "request refused by the egress policy",
            "the component answered: hostile got the refusal back (Egress",
        ],
    );
    assert_eq!(server.connections(), 0, "no connection to loopback");

    // Obeyed: the operator allows it.
    let s = Scratch::new();
    let allow = format!("localhost:{}", server.addr.port());
    let out = extract(s.hostile_args(&overrides, "calm", &["--allow-host", &allow])).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_declared_ip_literal_on_loopback_is_refused() {
    let server = calm_server().await;
    let s = Scratch::new();
    let declared = format!("http://127.0.0.1:{}", server.addr.port());
    let overrides = json!({"hostile": {"declared_base_url": declared}});
    let out = extract(s.hostile_args(&overrides, "calm", &[])).await;
    assert_failed(&out, "calm", &["non-public address 127.0.0.1"]);
    assert_eq!(server.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_stay_on_the_host_they_started_on() {
    let other = calm_server().await;
    let elsewhere = format!("http://127.0.0.1:{}/landed", other.addr.port());
    let server = RawServer::start(move |seen: &Seen| match seen.target.as_str() {
        "/calm?page=1" => Reply::Raw(raw_http::response_with(
            302,
            &[("location", "/landed")],
            b"",
        )),
        "/calm" => Reply::Raw(raw_http::response_with(
            302,
            &[("location", &elsewhere)],
            b"",
        )),
        _ => json(r#"{"ok": true}"#),
    })
    .await;
    // Violated: a redirect to another port of the same address.
    let s = Scratch::new();
    let out = hostile(&s, &server.url(), json!({}), "calm", &[]).await;
    assert_failed(&out, "calm", &["resource `calm`, page 1", "redirect"]);
    assert_eq!(other.connections(), 0, "the redirect was not followed");
    // Obeyed: a redirect on the same host is followed.
    let s = Scratch::new();
    let out = hostile(&s, &server.url(), json!({"pages": 1}), "pages", &[]).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        server.requests().iter().any(|r| r.target == "/landed"),
        "{:?}",
        server.requests()
    );
}

/// The generic component follows `next` links taken from response bodies;
/// one pointing at another host is checked like any other request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_page_links_from_a_response_are_checked_by_the_egress_policy() {
    let other = calm_server().await;
    let foreign = format!("http://127.0.0.1:{}/page2", other.addr.port());
    let server = RawServer::start(move |seen: &Seen| match seen.target.as_str() {
        "/away" => json(&format!(
            r#"{{"data": [{{"id": 1}}], "next": "{foreign}"}}"#
        )),
        "/home" => json(r#"{"data": [{"id": 1}], "next": "/home2"}"#),
        _ => json(r#"{"data": [{"id": 2}], "next": null}"#),
    })
    .await;
    let s = Scratch::new();
    let config = json!({
        "name": "links",
        "client": {
            "base_url": server.url(),
            "paginator": {"type": "json_link", "next_url_path": "next"}
        },
        "resources": [
            {"name": "away", "endpoint": {"path": "/away", "data_selector": "data"}},
            {"name": "home", "endpoint": {"path": "/home", "data_selector": "data"}}
        ]
    });
    let config = s.write("links.json", &config.to_string());
    let db = s.path("out.duckdb");
    let out = extract(vec![
        "run".into(),
        config.display().to_string(),
        "--db".into(),
        db.display().to_string(),
    ])
    .await;
    assert_failed(
        &out,
        "away",
        &["resource `away`, page 2", "is not allowed", "--allow-host"],
    );
    assert_eq!(other.connections(), 0);
    assert_eq!(row_count(&db, "links.away"), 1, "page 1 stays loaded");
    // Obeyed: a next link on the same host.
    assert_ok(&out, "home");
    assert_eq!(row_count(&db, "links.home"), 2);
}

// ---- contract versions ---------------------------------------------------

/// `test_legacy.wasm` is built against `extract:connector@0.1.0`, whose
/// `next` cannot take a refusal: it keeps running, and a refused request
/// fails its resource with the host's reason, the component not called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_built_against_version_0_1_0_still_runs() {
    let server = RawServer::start(|_: &Seen| json(r#"[{"id": 1, "name": "a"}, {"id": 2}]"#)).await;
    let s = Scratch::new();
    let overrides = json!({"client": {"base_url": server.url()}});
    let out = extract(s.component_args("test_legacy.wasm", &overrides, "items", &[])).await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(row_count(&s.db(), "legacy.items"), 2);

    let other = calm_server().await;
    let s = Scratch::new();
    let target = format!("http://127.0.0.1:{}/steal", other.addr.port());
    let overrides = json!({"client": {"base_url": server.url()}, "legacy": {"target": target}});
    let out = extract(s.component_args("test_legacy.wasm", &overrides, "items", &[])).await;
    assert_failed(
        &out,
        "items",
        &[
            "component `test_legacy` asked for",
            "request refused by the egress policy",
        ],
    );
    assert!(
        !resource_error(&out, "items").contains("the component answered"),
        "{}",
        output_text(&out)
    );
    assert_eq!(other.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_names_the_contract_version_a_component_was_built_against() {
    for (wasm, version) in [
        ("test_legacy.wasm", "extract:connector@0.1.0"),
        ("test_hostile.wasm", "extract:connector@0.2.0"),
    ] {
        let path = Path::new(extract::builtin::COMPONENTS_DIR).join(wasm);
        let s = Scratch::new();
        let overrides = json!({"client": {"base_url": "http://127.0.0.1:9"}});
        let config = s.write("overrides.json", &overrides.to_string());
        let out = extract(vec![
            "inspect".into(),
            path.display().to_string(),
            "--config".into(),
            config.display().to_string(),
        ])
        .await;
        assert!(out.status.success(), "{}", output_text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("contract:  {version}")),
            "{wasm}: {stdout}"
        );
    }
}

// ---- secrets -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_cannot_set_authentication_headers() {
    let server = calm_server().await;
    let s = Scratch::new();
    let out = hostile(&s, &server.url(), json!({}), "forge_auth", &[]).await;
    assert_failed(
        &out,
        "forge_auth",
        &[
            "`Authorization` header",
            "applied by the host",
            // An invalid request is refused and handed back to the
            // component like a denied one.
            "the component answered: hostile got the refusal back (Invalid, /calm, ",
        ],
    );
    assert_eq!(server.connections(), 0, "the forged request was not sent");
}

/// Every byte a run leaves behind: stdout, stderr and the DuckDB file (and
/// its WAL, if any).
fn everything(out: &Output, db: &Path) -> Vec<u8> {
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    for path in [db.to_path_buf(), db.with_extension("duckdb.wal")] {
        if let Ok(bytes) = std::fs::read(path) {
            all.extend_from_slice(&bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The hostile component searches its environment, arguments, files and
/// the response for the bearer token the host applies; the server receives
/// the token, but the component (whose findings are loaded into DuckDB and
/// logged) and every output of the run never contain it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_api_but_never_the_component_logs_or_duckdb() {
    const TOKEN: &str = "tok-3f9a1c-very-secret";
    const KEY: &str = "key-77d2e0-also-secret";
    let server = RawServer::start(|_: &Seen| json(r#"{"ok": true}"#)).await;
    let s = Scratch::new();
    let secrets = s.write("secrets.toml", &format!("token = \"{TOKEN}\"\n"));
    let overrides = json!({
        "client": {
            "base_url": server.url(),
            "auth": {"type": "bearer", "token": "{{ secrets.token }}"}
        }
    });
    let mut args = s.hostile_args(&overrides, "snoop", &[]);
    args.extend(["--secrets".into(), secrets.display().to_string()]);
    let out = extract_with_env(
        args,
        vec![
            ("EXTRACT_LOG".into(), "debug".into()),
            // Also in the host's environment: the component must not see it.
            ("EXTRACT_SECRET_OTHER".into(), KEY.into()),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the host applied the token"
    );
    // The component ran and reported an empty environment.
    let conn = duckdb::Connection::open(s.db()).expect("open");
    let (env, files): (String, String) = conn
        .query_row("SELECT env, files FROM hostile.snoop", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the snoop record");
    drop(conn);
    assert_eq!(env, "[]", "the component sees no environment");
    assert!(
        !files.contains("read "),
        "the component read no file: {files}"
    );
    let all = everything(&out, &s.db());
    assert!(!contains(&all, TOKEN), "{}", output_text(&out));
    assert!(!contains(&all, KEY), "{}", output_text(&out));
}

/// An API key in the query string goes to the API, but the URL the
/// component sees and every message show it redacted, even when the API
/// fails and echoes the key back in its error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_api_keys_are_redacted_from_urls_and_error_messages() {
    const KEY: &str = "qk-51be-secret-value";
    let server = RawServer::start(|seen: &Seen| {
        if seen.target.starts_with("/snoop") {
            json(r#"{"ok": true}"#)
        } else {
            // An error page that repeats the request, key included.
            let body = format!("<html>forbidden: {}</html>", seen.target);
            Reply::Raw(response(403, "text/html", body.as_bytes()))
        }
    })
    .await;
    let s = Scratch::new();
    let overrides = json!({
        "client": {
            "base_url": server.url(),
            "auth": {"type": "api_key", "name": "api_key", "api_key": "{{ secrets.key }}", "location": "query"}
        }
    });
    let args = s.hostile_args(&overrides, "snoop,calm", &[]);
    let out = extract_with_env(args, vec![("EXTRACT_SECRET_KEY".into(), KEY.into())]).await;
    // `calm` gets the 403 error page echoing the key (the hostile `next`
    // ignores it); `snoop` records the URL it was handed.
    assert_ok(&out, "snoop");
    let seen = server.requests();
    assert!(
        seen.iter()
            .all(|r| r.target.contains(&format!("api_key={KEY}"))),
        "the host applied the key: {seen:?}"
    );
    let conn = duckdb::Connection::open(s.db()).expect("open");
    let url: String = conn
        .query_row("SELECT url FROM hostile.snoop", [], |r| r.get(0))
        .expect("the snoop record");
    drop(conn);
    // The component is handed the URL it planned; the host adds the key
    // only to the request it sends.
    assert!(url.ends_with("/snoop"), "{url}");
    let all = everything(&out, &s.db());
    assert!(!contains(&all, KEY), "{}", output_text(&out));

    // The generic component fails on the 403 and reports the URL and the
    // page, both redacted.
    let config = json!({
        "name": "keyed",
        "client": overrides["client"].clone(),
        "resources": [{"name": "items", "endpoint": {"path": "/items"}}]
    });
    let config = s.write("keyed.json", &config.to_string());
    let db = s.path("keyed.duckdb");
    let out = extract_with_env(
        vec![
            "run".into(),
            config.display().to_string(),
            "--db".into(),
            db.display().to_string(),
        ],
        vec![("EXTRACT_SECRET_KEY".into(), KEY.into())],
    )
    .await;
    assert_failed(&out, "items", &["403", "api_key=***"]);
    let all = everything(&out, &db);
    assert!(!contains(&all, KEY), "{}", output_text(&out));
}

// ---- identifiers -------------------------------------------------------

/// Resource names from the config and field names from responses end up as
/// DuckDB identifiers; quotes, semicolons and comments in them must not
/// break out of quoting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_resource_and_field_names_cannot_inject_sql() {
    let server = RawServer::start(|seen: &Seen| {
        if seen.target.starts_with("/victim") {
            json(r#"[{"id": 1}, {"id": 2}]"#)
        } else {
            json(
                r#"[{"id": 1, "a\"b": 1, "x'; DROP TABLE names.victim; --": 2,
                    "\"); DROP TABLE names.victim; --": 3, "": 4, "ü ñ 字": 5,
                    "nested": {"k\"\\": {"'": 6}}, "list": [{"\"": 7}]}]"#,
            )
        }
    })
    .await;
    let s = Scratch::new();
    let config = json!({
        "name": "names",
        "client": {"base_url": server.url()},
        "resources": [
            {"name": "victim", "endpoint": {"path": "/victim"}},
            {"name": "evil\"; DROP TABLE names.victim; --", "endpoint": {"path": "/evil"}},
            {"name": "worse'); DROP TABLE names.victim; --", "endpoint": {"path": "/evil2"}}
        ]
    });
    let config = s.write("names.json", &config.to_string());
    let db = s.path("out.duckdb");
    let out = extract(vec![
        "run".into(),
        config.display().to_string(),
        "--db".into(),
        db.display().to_string(),
    ])
    .await;
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        row_count(&db, "names.victim"),
        2,
        "the victim table is intact"
    );
    let conn = duckdb::Connection::open(&db).expect("open");
    let mut stmt = conn
        .prepare(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'names' AND table_name NOT LIKE '\\_%' ESCAPE '\\' \
             ORDER BY 1",
        )
        .expect("prepare");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let evil: Vec<&String> = tables
        .iter()
        // Root tables only: nested lists are child tables `<root>__<field>`.
        .filter(|t| (t.starts_with("evil") || t.starts_with("worse")) && !t.contains("__"))
        .collect();
    assert_eq!(evil.len(), 2, "both evil resources loaded: {tables:?}");
    for t in &evil {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM names.\"{}\"", t.replace('"', "\"\"")),
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n, 1, "{t}");
    }
}
