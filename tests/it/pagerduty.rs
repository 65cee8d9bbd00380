//! The PagerDuty source against a local server speaking the documented REST API v2 shapes (classic
//! `offset`/`limit`/`more`/`total` pagination, the 400 past `offset + limit` = 10,000, `ratelimit-*`
//! headers and error bodies `{"error": {"message", "code"}}`): the real reqwest client, window
//! splitting, injected faults, an interrupted run, offline re-extraction, the token kept out of
//! everything, and the `tracker` link kind's place among the incident links.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::http::retry::Pacing;
use flowgauge::collect::pagerduty::{self, PagerdutyRequest};
use flowgauge::config::{Config, PagerdutySource, Source};
use flowgauge::model::{self, TableSchema};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::helpers::{Fixture, approx, config, copy_dir, s, t, text, window};

const TOKEN: &str = "u+PDtestTOKEN0123456789SECRET";
const TABLES: [&TableSchema; 3] = [&model::INCIDENTS, &model::DEPLOYMENTS, &model::EVIDENCE];

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// 429 with PagerDuty's `ratelimit-*` headers.
    RateLimited,
    /// 429 with no headers at all (the documentation warns it happens).
    RateLimitedBare,
    BadGateway,
    /// A 200 whose body stops half way.
    Truncated,
    NoPermission,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn reference(id: &str, kind: &str, summary: &str) -> Value {
    json!({ "id": id, "type": kind, "summary": summary, "self": format!("https://api.pagerduty.com/x/{id}") })
}

/// A fake PagerDuty account. Incident `k` (1-based) opens `step` after incident `k - 1`; every
/// tenth is on a service no `service_map` entry names; odd ones are on `PSHOP01` (mapped by id),
/// even ones on "Shop Web" (mapped by a name glob). Even incidents are opened by an integration,
/// odd ones by a person; every fourth is auto-resolved; every fifth has a change event naming a
/// commit half an hour before it, which PagerDuty relates to it. The last one is still open.
struct FakePagerduty {
    incidents: Vec<Value>,
    log_entries: Vec<Value>,
    change_events: Vec<Value>,
    related: HashMap<String, Vec<Value>>,
    faults: Mutex<HashMap<usize, Fault>>,
    calls: AtomicUsize,
    /// The largest `offset + limit` asked for.
    deepest: AtomicU64,
}

impl FakePagerduty {
    fn new(n: usize, step: chrono::Duration, with_history: bool) -> FakePagerduty {
        let mut fake = FakePagerduty {
            incidents: Vec::new(),
            log_entries: Vec::new(),
            change_events: Vec::new(),
            related: HashMap::new(),
            faults: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
            deepest: AtomicU64::new(0),
        };
        for k in 1..=n {
            let id = format!("Q{k:06}");
            let created = base() + step * k as i32;
            let service = if k % 10 == 0 {
                reference("PLEG001", "service_reference", "Legacy Batch")
            } else if k % 2 == 1 {
                reference("PSHOP01", "service_reference", "Shop API")
            } else {
                reference("PSHOP02", "service_reference", "Shop Web")
            };
            let open = k == n;
            let resolved = created + chrono::Duration::hours(2);
            fake.incidents.push(json!({
                "id": id, "type": "incident", "summary": format!("[#{k}] Checkout errors"),
                "incident_number": k, "title": format!("Checkout errors {k}"),
                "created_at": iso(created), "updated_at": iso(created),
                "status": if open { "acknowledged" } else { "resolved" },
                "urgency": if k % 2 == 0 { "high" } else { "low" },
                "service": service,
                "priority": if k % 3 == 0 { reference("PPRIO01", "priority", "P1") } else { Value::Null },
                "teams": [reference("PTEAM01", "team_reference", "Payments")],
                "assignments": if open { json!([{ "at": iso(created), "assignee": reference("PUSER02", "user_reference", "Bob") }]) } else { json!([]) },
                "acknowledgements": [],
                "resolved_at": if open { Value::Null } else { Value::String(iso(resolved)) },
                "last_status_change_at": iso(if open { created } else { resolved }),
                "html_url": format!("https://acme.pagerduty.com/incidents/{id}"),
            }));
            if !with_history {
                continue;
            }
            let incident = reference(&id, "incident_reference", "");
            let trigger_agent = if k % 2 == 0 {
                reference("PINT001", "events_api_v2_inbound_integration_reference", "Datadog")
            } else {
                reference("PUSER01", "user_reference", "Ann")
            };
            fake.log_entries.push(json!({"id": format!("R{k}T"), "type": "trigger_log_entry", "created_at": iso(created), "agent": trigger_agent, "incident": incident}));
            fake.log_entries.push(json!({"id": format!("R{k}A"), "type": "acknowledge_log_entry", "created_at": iso(created + chrono::Duration::minutes(10)), "agent": reference("PUSER02", "user_reference", "Bob"), "incident": incident}));
            if !open {
                let resolver = if k % 4 == 0 {
                    reference("PSHOP02", "service_reference", "Shop Web")
                } else {
                    reference("PUSER02", "user_reference", "Bob")
                };
                fake.log_entries.push(json!({"id": format!("R{k}R"), "type": "resolve_log_entry", "created_at": iso(resolved), "agent": resolver, "incident": incident}));
            }
            if k % 5 == 0 {
                let event = json!({
                    "id": format!("C{k}"), "type": "change_event", "summary": format!("Deploy {k}"),
                    "timestamp": iso(created - chrono::Duration::minutes(30)), "source": "argo",
                    "services": [service], "links": [], "custom_details": { "sha": format!("{k:040x}") },
                });
                fake.change_events.push(event.clone());
                let mut related = event;
                related["correlation_reason"] = json!({ "reason": "related_service" });
                fake.related.insert(id.clone(), vec![related]);
            }
        }
        fake.log_entries.sort_by_key(|e| e["created_at"].as_str().unwrap().to_string());
        fake
    }

    fn with_faults(self, faults: &[(usize, Fault)]) -> Self {
        *self.faults.lock().unwrap() = faults.iter().copied().collect();
        self
    }
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn error(status: u16, message: &str, code: u64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": { "message": message, "code": code } }))
}

/// One page of `items` whose `field` (a time) lies in the request's `[since, until)`.
fn list(request: &Request, items: &[Value], field: &str, key: &str, deepest: &AtomicU64) -> ResponseTemplate {
    let q = query(request);
    let offset: u64 = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: u64 = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(25);
    if limit > 100 {
        return error(400, "Invalid Input Provided", 2001);
    }
    if offset + limit > 10_000 {
        return error(400, "Offset must be less than 10000", 2001);
    }
    deepest.fetch_max(offset + limit, Ordering::Relaxed);
    let at = |k: &str| q.get(k).map(|v| DateTime::parse_from_rfc3339(v).unwrap().with_timezone(&Utc));
    let (since, until) = (at("since").unwrap(), at("until").unwrap());
    let inside: Vec<&Value> = items
        .iter()
        .filter(|i| {
            let t = DateTime::parse_from_rfc3339(i[field].as_str().unwrap()).unwrap().with_timezone(&Utc);
            since <= t && t < until
        })
        .collect();
    let total = inside.len() as u64;
    let page: Vec<&Value> = inside.into_iter().skip(offset as usize).take(limit as usize).collect();
    let with_total = q.get("total").is_some_and(|v| v == "true");
    let mut body = json!({ "limit": limit, "offset": offset, "more": offset + limit < total,
        "total": if with_total { json!(total) } else { Value::Null } });
    body[key] = json!(page);
    ResponseTemplate::new(200)
        .insert_header("ratelimit-limit", "960")
        .insert_header("ratelimit-remaining", "900")
        .insert_header("ratelimit-reset", "30")
        .set_body_json(body)
}

impl Respond for &'static FakePagerduty {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != format!("Token token={TOKEN}") {
            return error(401, "Unauthorized", 2006);
        }
        let fault = self.faults.lock().unwrap().remove(&call);
        match fault {
            Some(Fault::RateLimited) => {
                return error(429, "Rate Limit Exceeded", 2020)
                    .insert_header("ratelimit-limit", "960")
                    .insert_header("ratelimit-remaining", "0")
                    .insert_header("ratelimit-reset", "1");
            }
            Some(Fault::RateLimitedBare) => return ResponseTemplate::new(429),
            Some(Fault::BadGateway) => return ResponseTemplate::new(502),
            Some(Fault::NoPermission) => return error(403, "Access Denied", 2010),
            _ => {}
        }
        let path = request.url.path().to_string();
        let response = if path == "/incidents" {
            list(request, &self.incidents, "created_at", "incidents", &self.deepest)
        } else if path == "/log_entries" {
            list(request, &self.log_entries, "created_at", "log_entries", &self.deepest)
        } else if path == "/change_events" {
            list(request, &self.change_events, "timestamp", "change_events", &self.deepest)
        } else if let Some(rest) = path.strip_prefix("/incidents/") {
            let id = rest.trim_end_matches("/related_change_events");
            if !self.incidents.iter().any(|i| i["id"] == id) {
                return error(404, "Not Found", 2100);
            }
            ResponseTemplate::new(200)
                .set_body_json(json!({ "change_events": self.related.get(id).cloned().unwrap_or_default() }))
        } else if let Some(id) = path.strip_prefix("/services/") {
            if ["PSHOP01", "PSHOP02", "PLEG001"].contains(&id) {
                ResponseTemplate::new(200).set_body_json(json!({ "service": reference(id, "service", "Shop") }))
            } else {
                return error(404, "Not Found", 2100);
            }
        } else {
            return error(404, "Not Found", 2100);
        };
        if matches!(fault, Some(Fault::Truncated)) {
            let body = serde_json::to_string(&json!({"incidents": [{"id": "Q1"}]})).unwrap();
            return ResponseTemplate::new(200).set_body_raw(body[..body.len() / 2].to_string(), "application/json");
        }
        response
    }
}

type Server = crate::helpers::FakeServer<FakePagerduty>;

const SERVICES: &str = r#"
[[services]]
name = "shop"
"#;

const SOURCE: &str = r#"
[[sources]]
type = "pagerduty"
account = "acme"
service_map = [{ pagerduty = "PSHOP01", service = "shop" }, { pagerduty = "shop w*", service = "shop" }]
change_events_as_deployments = true
"#;

fn cfg() -> Config {
    config("2025-01-01", "2026-01-01", &format!("{SERVICES}{SOURCE}"))
}

fn source(config: &Config) -> PagerdutySource {
    config
        .sources
        .iter()
        .find_map(|s| match s {
            Source::Pagerduty(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap()
}

fn request(server: &Server, config: &Config) -> PagerdutyRequest {
    let mut r = PagerdutyRequest::new(&source(config), config, TOKEN.to_string());
    r.api_url = server.server.uri();
    r.pacing = Pacing { backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20), attempts: 4 };
    r.since = base() - chrono::Duration::days(1);
    r
}

fn collect(dir: &Path, server: &Server) -> flowgauge::Result<pagerduty::PagerdutyReport> {
    let config = cfg();
    let mut ws = Workspace::open(dir).unwrap();
    pagerduty::collect_pagerduty(&mut ws, &config, &request(server, &config))
}

fn assert_same_tables(a: &Path, b: &Path) {
    let (wa, wb) = (Workspace::open(a).unwrap(), Workspace::open(b).unwrap());
    for table in TABLES {
        let (x, y) = (wa.load(table).unwrap(), wb.load(table).unwrap());
        assert!(x.height() > 0, "{} is empty", table.name);
        assert!(x.equals_missing(&y), "{} differs:\n{x}\n{y}", table.name);
    }
}

fn small() -> FakePagerduty {
    FakePagerduty::new(40, chrono::Duration::minutes(37), true)
}

fn fault_free() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    collect(dir.path(), &Server::start(small())).unwrap();
    dir
}

/// The value of `column` of the row with `id`, as polars prints it.
fn cell(ws: &Workspace, table: &TableSchema, id: &str, column: &str) -> String {
    let df = ws.load(table).unwrap();
    let ids = df.column("id").unwrap().str().unwrap();
    let i = (0..df.height()).find(|&i| ids.get(i) == Some(id)).unwrap_or_else(|| panic!("no {id}"));
    df.column(column).unwrap().get(i).unwrap().to_string()
}

#[test]
fn incidents_with_their_log_entries_and_change_events_become_rows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(small());
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!(report.incidents, 40);
    // Incidents 5, 15, 25, 35 have a related change event naming a commit, read as a deployment
    // (20, 30, 40 are on the unmapped service, whose change events are no service's deployments).
    assert_eq!(report.deployments, 4);
    assert_eq!(report.tracker_links, 4);
    let ws = Workspace::open(dir.path()).unwrap();
    let id = |k: usize| format!("pagerduty:incident:Q{k:06}");
    let get = |k: usize, column: &str| cell(&ws, &model::INCIDENTS, &id(k), column);
    // Incident 5: opened by a person (Ann), acknowledged by Bob 10 minutes in, resolved by Bob.
    assert_eq!(get(5, "detected_by"), "\"person\"");
    assert_eq!(get(5, "resolved_by"), "\"Bob\"");
    assert_eq!(get(5, "assignee"), "\"Bob\"");
    assert!(get(5, "acknowledged_at").contains("2025-03-01 03:15:00"), "{}", get(5, "acknowledged_at"));
    assert!(get(5, "resolved_at").contains("2025-03-01 05:05:00"));
    assert_eq!(get(5, "tracker_deployment_id"), "\"pagerduty:change:C5\"");
    assert_eq!(get(5, "service"), "\"shop\"");
    assert_eq!(get(5, "team"), "\"Payments\"");
    assert_eq!(get(5, "severity"), "\"low\"");
    // Incident 12: opened by an integration, auto-resolved by the service, priority P1.
    assert_eq!(get(12, "detected_by"), "\"monitoring\"");
    assert_eq!(get(12, "resolved_by"), "\"monitoring\"");
    assert_eq!(get(12, "priority"), "\"P1\"");
    assert_eq!(get(12, "tracker_deployment_id"), "null");
    // Incident 40 is still open, on the unmapped service (kept under its own name).
    assert_eq!(get(40, "resolved_at"), "null");
    assert_eq!(get(40, "service"), "\"Legacy Batch\"");
    assert_eq!(cell(&ws, &model::DEPLOYMENTS, "pagerduty:change:C5", "sha"), format!("\"{:040x}\"", 5));
    // Who opens the incidents: per PagerDuty service, monitoring vs people.
    let evidence = cell(&ws, &model::EVIDENCE, "pagerduty:acme:PSHOP02:incident detection", "detail");
    assert!(evidence.contains("of 16 incidents, 16 opened by monitoring"), "{evidence}");
    let api = cell(&ws, &model::EVIDENCE, "pagerduty:acme:PSHOP01:incident detection", "value");
    assert_eq!(api, "0.0");
    // Cost: the service check, the windows of at most 180 days from 28 February 2025 to now of incidents, change events and log entries (one page
    // each, but two for the window holding the 118 log entries), and one related-change-events
    // request per incident opened within 24 hours after a change event (5 to 40: 36).
    let windows = ((Utc::now() - (base() - chrono::Duration::days(2))).num_days() / 180 + 1) as usize;
    assert_eq!(server.requests(), 1 + windows * 3 + 1 + 36, "{report:?}");
}

#[test]
fn an_unmapped_service_is_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let report = collect(dir.path(), &Server::start(small())).unwrap();
    assert_eq!(report.unmapped, vec![("Legacy Batch (PLEG001)".to_string(), 4)]);
    assert!(report.warnings[0].contains("Legacy Batch (PLEG001) matches no `service_map` entry"));
    let ws = Workspace::open(dir.path()).unwrap();
    let warnings = &ws.manifest().sources["pagerduty:acme"].warnings;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].kind, "unmapped-service");
}

#[test]
fn a_window_holding_more_than_ten_thousand_incidents_is_split_until_each_lists_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakePagerduty::new(10_050, chrono::Duration::seconds(1), false));
    let report = collect(dir.path(), &server).unwrap();
    assert!(report.splits > 0);
    assert!(server.fake.deepest.load(Ordering::Relaxed) <= 10_000);
    let ws = Workspace::open(dir.path()).unwrap();
    assert_eq!(ws.load(&model::INCIDENTS).unwrap().height(), 10_050, "no incident lost at the cap");
}

#[test]
fn faults_end_with_the_tables_of_a_fault_free_run() {
    let expected = fault_free();
    let faults = [
        (1, Fault::RateLimited),
        (3, Fault::RateLimitedBare),
        (5, Fault::BadGateway),
        (7, Fault::Truncated),
        (20, Fault::RateLimited),
        (30, Fault::BadGateway),
    ];
    let server = Server::start(small().with_faults(&faults));
    let dir = tempfile::tempdir().unwrap();
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!(report.retries, 6);
    assert_same_tables(dir.path(), expected.path());
}

#[test]
fn a_connection_reset_is_retried_and_ends_with_the_same_tables() {
    let expected = fault_free();
    let server = Server::start(small());
    let config = cfg();
    let mut request = request(&server, &config);
    request.api_url = crate::helpers::flaky_proxy(&server.server.uri(), 2);
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = pagerduty::collect_pagerduty(&mut ws, &config, &request).unwrap();
    drop(ws);
    assert!(report.retries >= 2);
    assert_same_tables(dir.path(), expected.path());
}

#[test]
fn an_interrupted_run_resumes_and_ends_with_the_same_tables() {
    let expected = fault_free();
    let server = Server::start(small());
    let config = cfg();
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    // A crash after six requests: in the middle of the incident windows' change events.
    let mut interrupted = request(&server, &config);
    interrupted.stop_after_pages = Some(6);
    assert!(pagerduty::collect_pagerduty(&mut ws, &config, &interrupted).is_err());
    let report = pagerduty::collect_pagerduty(&mut ws, &config, &request(&server, &config)).unwrap();
    drop(ws);
    assert!(report.resumed);
    // Both runs together cost at most two requests more than one run: the pages kept are not
    // asked for again; only the service check is repeated, and the incidents created since the
    // first run's end are listed (one window, from its high-water mark to now).
    let windows = ((Utc::now() - (base() - chrono::Duration::days(2))).num_days() / 180 + 1) as usize;
    assert!(server.requests() <= (1 + windows * 3 + 1 + 36) + 2, "{report:?}");
    assert_same_tables(dir.path(), expected.path());
}

#[test]
fn offline_re_extraction_gives_the_online_tables() {
    let online = fault_free();
    let offline = tempfile::tempdir().unwrap();
    copy_dir(&online.path().join("raw"), &offline.path().join("raw"));
    let config = cfg();
    let mut ws = Workspace::open(offline.path()).unwrap();
    let report = pagerduty::reextract(&mut ws, &config, &source(&config)).unwrap();
    drop(ws);
    assert_eq!(report.requests, 0);
    assert_same_tables(offline.path(), online.path());
}

#[test]
fn a_second_run_reads_only_what_is_new_or_still_open() {
    let dir = fault_free();
    let server = Server::start(small());
    let before = server.requests();
    collect(dir.path(), &server).unwrap();
    // The service check, one window of each listing from the end of the last run (the open
    // incident 40 opened more than 90 days ago, so it no longer holds the high-water mark back), and
    // the open incident's related change events asked again (its correlation may still change).
    assert_eq!(server.requests() - before, 1 + 3 + 1);
    let ws = Workspace::open(dir.path()).unwrap();
    assert!(ws.root().join("raw/pagerduty/acme/related_change_events/Q000040.open.json").exists());
}

#[test]
fn a_refused_token_a_missing_permission_and_an_unknown_service_are_named() {
    let configured = cfg();
    let server = Server::start(small());
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let mut wrong = request(&server, &configured);
    wrong.token = "not-the-token".into();
    let e = pagerduty::collect_pagerduty(&mut ws, &configured, &wrong).unwrap_err().to_string();
    assert!(e.contains("token was refused (401)") && e.contains("PAGERDUTY_TOKEN"), "{e}");

    let server = Server::start(small().with_faults(&[(1, Fault::NoPermission)]));
    let e = pagerduty::collect_pagerduty(&mut ws, &configured, &request(&server, &configured)).unwrap_err().to_string();
    assert!(e.contains("permission denied (403)") && e.contains("Access Denied"), "{e}");

    let unknown = config("2025-01-01", "2026-01-01", &format!("{SERVICES}{}", SOURCE.replace("PSHOP01", "PNOPE99")));
    let server = Server::start(small());
    let e = pagerduty::collect_pagerduty(&mut ws, &unknown, &request(&server, &unknown)).unwrap_err().to_string();
    assert!(e.contains("unknown service PNOPE99"), "{e}");
}

#[test]
fn the_token_appears_in_no_output_and_no_file() {
    let server = Server::start(small().with_faults(&[(2, Fault::RateLimited), (4, Fault::Truncated)]));
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[analysis]\nsince = \"2025-02-28\"\nuntil = \"2026-01-01\"\n{SERVICES}{}api_url = \"{}\"\nmax_wait_seconds = 1\n",
        SOURCE,
        server.server.uri()
    );
    std::fs::write(dir.path().join("flowgauge.toml"), toml).unwrap();
    let run = |token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"))
            .args(["collect", "pagerduty"])
            .current_dir(dir.path())
            .env("PAGERDUTY_TOKEN", token)
            .env_remove("FLOWGAUGE_CONFIG")
            .env_remove("FLOWGAUGE_WORKSPACE")
            .output()
            .unwrap()
    };
    let ok = run(TOKEN);
    let (out, err) = (text(&ok.stdout), text(&ok.stderr));
    assert!(ok.status.success(), "{err}");
    assert!(err.contains("PagerDuty acme:") && err.contains("40 incidents"), "{err}");
    assert!(err.contains("warning: PagerDuty service Legacy Batch (PLEG001) matches no `service_map` entry"), "{err}");
    let refused = run(&format!("{TOKEN}x"));
    assert_eq!(refused.status.code(), Some(4));
    let refused_err = text(&refused.stderr);
    assert!(refused_err.contains("token was refused"), "{refused_err}");
    for output in [out, err, text(&refused.stdout), refused_err] {
        assert!(!output.contains(TOKEN), "the token was printed: {output}");
    }
    let mut files = vec![dir.path().to_path_buf()];
    let mut read = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!text(&bytes).contains(TOKEN), "the token is in {}", path.display());
            read += 1;
        }
    }
    assert!(read > 40, "the workspace holds the raw pages and tables ({read} files)");
}

/// The `tracker` link's place: after `explicit`, before `reference` and `window`; only a
/// production deployment of the incident's own service that finished before it opened counts.
#[test]
fn the_tracker_link_comes_after_explicit_and_before_reference_and_window() {
    let mut f = Fixture::default();
    f.deploy("p1", "api", "production", "success", "2025-02-03T10:00:00Z").ships("p1", &["m1"]);
    f.change("c1", "api", "2025-02-02T00:00:00Z", "2025-02-02T01:00:00Z", Some("2025-02-02T02:00:00Z"), "m1");
    f.deploy("p2", "api", "production", "success", "2025-02-05T10:00:00Z");
    f.deploy("p3", "api", "production", "success", "2025-02-06T10:00:00Z");
    f.deploy("p4", "api", "production", "success", "2025-02-10T10:00:00Z");
    let incident = |f: &mut Fixture, id: &str, opened: &str, resolved: &str, cells: &[(&str, &str)]| {
        let mut row = vec![
            ("id", s(id)),
            ("source", s("pagerduty")),
            ("service", s("api")),
            ("opened_at", t(opened)),
            ("resolved_at", t(resolved)),
        ];
        row.extend(cells.iter().map(|(c, v)| (*c, s(v))));
        f.add(&model::INCIDENTS, &row);
    };
    // i1: PagerDuty relates p1; the window would pick p3 (2 h before). Tracker: p1.
    incident(&mut f, "i1", "2025-02-06T12:00:00Z", "2025-02-06T14:00:00Z", &[("tracker_deployment_id", "p1")]);
    // i2: the source names p2 as the cause; PagerDuty relates p1. Explicit: p2.
    let i2 = [("tracker_deployment_id", "p1"), ("caused_by_deployment_id", "p2")];
    incident(&mut f, "i2", "2025-02-06T12:00:00Z", "2025-02-06T13:00:00Z", &i2);
    // i3: PagerDuty relates a change event that is no deployment, and the text names c1: the
    // tracker rule finds nothing, the reference rule finds p1.
    let i3 = [("tracker_deployment_id", "pagerduty:change:C9"), ("caused_by_change_id", "c1")];
    incident(&mut f, "i3", "2025-02-06T12:00:00Z", "2025-02-06T18:00:00Z", &i3);
    // i4: PagerDuty relates p2, which finished after i4 opened: no tracker link; the window finds
    // nothing either (p1 is 26 h earlier).
    incident(&mut f, "i4", "2025-02-04T12:00:00Z", "2025-02-04T16:00:00Z", &[("tracker_deployment_id", "p2")]);
    let (computation, report) = f.compute(&config("2025-01-01", "2025-04-01", ""));
    let got = crate::helpers::incident_links(&computation);
    let want = |i: &str, d: Option<&str>, l: Option<&str>| (i.to_string(), d.map(String::from), l.map(String::from));
    assert_eq!(
        got,
        vec![
            want("i1", Some("p1"), Some("tracker")),
            want("i2", Some("p2"), Some("explicit")),
            want("i3", Some("p1"), Some("reference")),
            want("i4", None, None),
        ]
    );
    // By hand: p1 (i1, i3) and p2 (i2) failed, p3 and p4 did not: 2 of 4 = 0.5. Recovery: p1 is
    // restored when its last incident is resolved (i3, 6 Feb 18:00), 80 h after 3 Feb 10:00; p2 at
    // 6 Feb 13:00, 27 h after 5 Feb 10:00; median 53.5 h. Time to restore over all four incidents:
    // 2 h, 1 h, 6 h, 4 h; median 3 h.
    let w = window(&report, "api");
    assert_eq!(w.change_failure_rate.failed, 2);
    approx(w.change_failure_rate.rate, 0.5);
    approx(w.failed_deployment_recovery_time.median_hours, 53.5);
    approx(w.time_to_restore.median_hours, 3.0);
}

/// The PagerDuty source's report among a configured collection's.
fn pagerduty_report(reports: &[flowgauge::collect::SourceReport]) -> &pagerduty::PagerdutyReport {
    reports
        .iter()
        .find_map(|r| match r {
            flowgauge::collect::SourceReport::Pagerduty(p) => Some(p),
            _ => None,
        })
        .unwrap()
}

/// The sample organisation's storefront incidents come from recorded PagerDuty pages: the search
/// incident of 12 June is linked by PagerDuty's related change event, whose commit is the one the
/// imported deployment `sf-20250612` shipped; the checkout incident an hour later, on another
/// PagerDuty service, by the link window to the same deployment.
#[test]
fn the_sample_links_a_storefront_incident_through_its_change_events_commit() {
    let dir = crate::helpers::repo_root().join("sample-data/acme");
    let config = Config::load(
        Some(&dir.join("flowgauge.toml")),
        &|_| None,
        &flowgauge::config::Overrides::default(),
        crate::helpers::now(),
    )
    .unwrap();
    let workspace_dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(workspace_dir.path()).unwrap();
    let reports = flowgauge::collect::collect_configured(&mut ws, &config).unwrap();
    let pd = pagerduty_report(&reports);
    assert_eq!((pd.incidents, pd.tracker_links, pd.deployments), (5, 1, 0));
    assert!(pd.unmapped.is_empty());
    let get = |id: &str, column: &str| cell(&ws, &model::INCIDENTS, id, column);
    assert_eq!(get("pagerduty:incident:Q2SF1016", "tracker_deployment_id"), "\"import:deployment:sf-20250612\"");
    assert_eq!(get("pagerduty:incident:Q2SF1017", "tracker_deployment_id"), "null");
    assert_eq!(get("pagerduty:incident:Q2SF1007", "detected_by"), "\"person\"");
    assert_eq!(get("pagerduty:incident:Q2SF1016", "detected_by"), "\"monitoring\"");
    let tables = flowgauge::metrics::load_tables(&ws).unwrap();
    let queries = flowgauge::metrics::queries::load(None).unwrap();
    let computation = flowgauge::metrics::compute(&tables, &config, &queries).unwrap();
    let restores = &computation.records["incident_restores"];
    let (ids, how, linked) = (
        restores.column("incident_id").unwrap().str().unwrap(),
        restores.column("link").unwrap().str().unwrap(),
        restores.column("caused_by_deployment_id").unwrap().str().unwrap(),
    );
    let link = |id: &str| {
        let i = (0..restores.height()).find(|&i| ids.get(i) == Some(id)).unwrap();
        (how.get(i).map(str::to_string), linked.get(i).map(str::to_string))
    };
    let sf = Some("import:deployment:sf-20250612".to_string());
    assert_eq!(link("pagerduty:incident:Q2SF1016"), (Some("tracker".into()), sf.clone()));
    assert_eq!(link("pagerduty:incident:Q2SF1017"), (Some("window".into()), sf));
}

#[test]
fn a_pagerduty_source_is_validated_key_by_key() {
    let error = |extra: &str| {
        let text = format!("[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n{SERVICES}{extra}");
        Config::from_toml(&text, crate::helpers::now()).unwrap_err().to_string()
    };
    let e =
        error("[[sources]]\ntype = \"pagerduty\"\nservice_map = [{ pagerduty = \"PABC123\", service = \"nope\" }]\n");
    assert!(e.contains("sources[0].service_map[0].service") && e.contains("no service named `nope`"), "{e}");
    let e = error("[[sources]]\ntype = \"pagerduty\"\nservice_map = [{ pagerduty = \"[x\", service = \"shop\" }]\n");
    assert!(e.contains("sources[0].service_map[0].pagerduty"), "{e}");
    let e = error("[[sources]]\ntype = \"pagerduty\"\nrepo = \"acme/shop\"\n");
    assert!(e.contains("sources[0].repo") && e.contains("does not apply to pagerduty sources"), "{e}");
    let e = error("[[sources]]\ntype = \"github\"\nrepo = \"acme/shop\"\naccount = \"acme\"\n");
    assert!(e.contains("sources[0].account") && e.contains("applies to pagerduty sources"), "{e}");
    let e = error("[[sources]]\ntype = \"pagerduty\"\nrecorded = \"no-such-dir\"\n");
    assert!(e.contains("sources[0].recorded") && e.contains("does not exist"), "{e}");
    let e = error("[[sources]]\ntype = \"pagerduty\"\napi_url = \"api.eu.pagerduty.com\"\n");
    assert!(e.contains("sources[0].api_url") && e.contains("not an http(s) URL"), "{e}");
}

/// The configured collection authenticates PagerDuty with the token it is given (the CLI reads
/// `PAGERDUTY_TOKEN`; the library reads no environment), and without one it says what to set.
#[test]
fn the_configured_collection_uses_the_token_passed_in() {
    let server = Server::start(small());
    let text = format!("{SERVICES}{SOURCE}api_url = \"{}\"\nmax_wait_seconds = 1\n", server.server.uri());
    let config = config("2025-01-01", "2026-01-01", &text);
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let credentials =
        flowgauge::collect::Credentials { pagerduty: Some(TOKEN.into()), ..flowgauge::collect::Credentials::default() };
    assert!(!format!("{credentials:?}").contains(TOKEN));
    let reports =
        flowgauge::collect::collect_configured_with_credentials(&mut ws, &config, &credentials, None).unwrap();
    let pd = pagerduty_report(&reports);
    assert!(pd.incidents > 0, "{pd:?}");
    let none = flowgauge::collect::Credentials::default();
    let err = flowgauge::collect::collect_configured_with_credentials(&mut ws, &config, &none, None).unwrap_err();
    assert!(err.to_string().contains("PAGERDUTY_TOKEN is not set"), "{err}");
}
