//! The Jira source against a local server speaking Jira's documented REST shapes (Cloud's
//! `search/jql` with `nextPageToken` and `changelog/bulkfetch`, Data Center's `search` with
//! `startAt` and embedded changelogs): the real reqwest client, injected faults, interrupted runs and
//! offline re-extraction, each compared table for table with a fault-free run; and every error a
//! user must act on, by name.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::jira::{self, JiraRequest, Pacing, client::Auth};
use flowgauge::config::{Config, JiraFlavour, JiraSource, Source};
use flowgauge::model::{self, TableSchema};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use crate::helpers::{config, copy_dir};

const EMAIL: &str = "ops@acme.example";
const TOKEN: &str = "ATATT3xFfGF0TESTtokenSECRET0123456789";
const PAT: &str = "NjQ3MDk2TESTpatSECRET";
const TABLES: [&TableSchema; 2] = [&model::INCIDENTS, &model::EVIDENCE];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    BadGateway,
    /// A body cut off mid-JSON.
    Truncated,
    /// 403 whose body echoes the Authorization header back.
    EchoCredentials,
}

/// What the fake answers to a search, when not the normal page.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Refusal {
    None,
    UnknownProject,
    BadJql,
}

struct FakeJira {
    cloud: bool,
    n: usize,
    faults: Mutex<HashMap<usize, Fault>>,
    refusal: Mutex<Refusal>,
    calls: AtomicUsize,
    /// Bodies of the searches asked, for checking the JQL.
    searches: Mutex<Vec<String>>,
    /// Refuse the next page token once, as Cloud does with tokens older than 7 days.
    expire_token: std::sync::atomic::AtomicBool,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

fn jira_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn hours(h: f64) -> chrono::Duration {
    chrono::Duration::seconds((h * 3600.0) as i64)
}

/// Incident `i`: opened `i` hours after the base; in progress 10 minutes in. Pattern by `i % 3`:
/// 0 resolved at +3 h with no mitigation; 1 mitigated at +1 h and resolved at +5 h; 2 mitigated at
/// +2 h and still open. Incident 7 carries a component no service claims.
fn opened(i: usize) -> DateTime<Utc> {
    base() + hours(i as f64)
}

fn histories(i: usize) -> Vec<Value> {
    let open = opened(i);
    let status = |id: usize, at: DateTime<Utc>, to: &str, app: bool| {
        let mut items = vec![
            json!({ "field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": "Open", "toString": to }),
        ];
        if to == "Resolved" {
            items.push(json!({ "field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "fromString": null, "toString": "Done" }));
        }
        json!({
            "id": format!("{}", i * 10 + id),
            "created": jira_time(at),
            "author": { "displayName": if app { "Automation for Jira" } else { "Olivia Grant" }, "accountType": if app { "app" } else { "atlassian" } },
            "items": items
        })
    };
    let mut list = vec![status(1, open + hours(1.0 / 6.0), "In Progress", false)];
    match i % 3 {
        0 => list.push(status(2, open + hours(3.0), "Resolved", i.is_multiple_of(2))),
        1 => {
            list.push(status(2, open + hours(1.0), "Mitigated", false));
            list.push(status(3, open + hours(5.0), "Resolved", false));
        }
        _ => list.push(status(2, open + hours(2.0), "Mitigated", false)),
    }
    list
}

fn issue(i: usize, embed_changelog: bool) -> Value {
    let open = opened(i);
    let (status, resolved) = match i % 3 {
        0 => ("Resolved", Some(open + hours(3.0))),
        1 => ("Resolved", Some(open + hours(5.0))),
        _ => ("Mitigated", None),
    };
    let component = if i == 7 { "Mainframe" } else { "Ledger API" };
    let description = if i.is_multiple_of(5) {
        json!({ "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [
            { "type": "text", "text": "Started after " },
            { "type": "inlineCard", "attrs": { "url": format!("https://github.com/acme/ledger/pull/{i}") } }
        ] }] })
    } else {
        Value::Null
    };
    let links = if i.is_multiple_of(4) {
        json!([{ "id": "1", "type": { "name": "Relates", "inward": "relates to", "outward": "relates to" },
                 "outwardIssue": { "key": format!("PIR-{i}"), "fields": { "summary": "Review of the outage", "issuetype": { "name": "Post-incident review" } } } }])
    } else {
        json!([])
    };
    let mut issue = json!({
        "id": format!("{}", 10000 + i),
        "key": format!("OPS-{i}"),
        "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", 10000 + i),
        "fields": {
            "summary": format!("Ledger incident {i}"),
            "description": description,
            "created": jira_time(open),
            "updated": jira_time(open + hours(6.0)),
            "resolutiondate": resolved.map(jira_time),
            "status": { "name": status, "statusCategory": { "key": if resolved.is_some() { "done" } else { "indeterminate" } } },
            "priority": { "name": if i.is_multiple_of(2) { "High" } else { "Medium" } },
            "assignee": { "displayName": "Olivia Grant", "accountType": "atlassian" },
            "reporter": if i.is_multiple_of(2) { json!({ "displayName": "Datadog", "accountType": "app" }) } else { json!({ "displayName": "Olivia Grant", "accountType": "atlassian" }) },
            "components": [{ "name": component }],
            "labels": ["incident"],
            "issuelinks": links,
            "issuetype": { "name": "[System] Incident" },
            "customfield_10040": { "value": if i.is_multiple_of(2) { "Sev 2" } else { "Sev 3" } }
        }
    });
    if embed_changelog {
        let h = histories(i);
        issue["changelog"] = json!({ "startAt": 0, "maxResults": h.len(), "total": h.len(), "histories": h });
    }
    issue
}

/// Changelogs per bulkfetch answer: fewer than a search page, so one page of issues takes two.
const LOGS_PER_PAGE: usize = 60;

impl FakeJira {
    fn new(n: usize, cloud: bool) -> FakeJira {
        FakeJira {
            cloud,
            n,
            faults: Mutex::new(HashMap::new()),
            refusal: Mutex::new(Refusal::None),
            calls: AtomicUsize::new(0),
            searches: Mutex::new(Vec::new()),
            expire_token: Default::default(),
        }
    }

    fn search_page(&self, start: usize, embed: bool) -> (Vec<Value>, usize) {
        let issues: Vec<Value> = (start + 1..=self.n).take(100).map(|i| issue(i, embed)).collect();
        let end = start + issues.len();
        (issues, end)
    }

    fn normal(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let query: HashMap<String, String> = request.url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (request.method.as_str(), path) {
            ("GET", "/rest/api/2/serverInfo") => ResponseTemplate::new(200).set_body_json(json!({
                "baseUrl": "https://acme.atlassian.net", "version": "1001.0.0",
                "deploymentType": if self.cloud { "Cloud" } else { "Server" }
            })),
            ("POST", "/rest/api/3/search/jql") if self.cloud => {
                self.searches.lock().unwrap().push(body["jql"].as_str().unwrap_or("").to_string());
                if let Some(refused) = self.refused() {
                    return refused;
                }
                if body["nextPageToken"].is_string() && self.expire_token.swap(false, Ordering::SeqCst) {
                    return ResponseTemplate::new(400).set_body_json(
                        json!({ "errorMessages": ["The provided next page token is invalid or expired."] }),
                    );
                }
                let start = body["nextPageToken"]
                    .as_str()
                    .and_then(|t| t.strip_prefix('t'))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let (issues, end) = self.search_page(start, false);
                let mut page = json!({ "issues": issues, "isLast": end >= self.n });
                if end < self.n {
                    page["nextPageToken"] = json!(format!("t{end}"));
                }
                ResponseTemplate::new(200).set_body_json(page)
            }
            ("GET", "/rest/api/2/search") | ("GET", "/rest/api/3/search") | ("POST", "/rest/api/2/search")
                if self.cloud =>
            {
                ResponseTemplate::new(410).set_body_json(json!({ "errorMessages": [
                    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
                ], "errors": {} }))
            }
            ("GET", "/rest/api/2/search") => {
                self.searches.lock().unwrap().push(query.get("jql").cloned().unwrap_or_default());
                if let Some(refused) = self.refused() {
                    return refused;
                }
                assert_eq!(query.get("expand").map(String::as_str), Some("changelog"));
                let start: usize = query.get("startAt").and_then(|s| s.parse().ok()).unwrap_or(0);
                let (issues, _) = self.search_page(start, true);
                ResponseTemplate::new(200).set_body_json(json!({
                    "startAt": start, "maxResults": 100, "total": self.n, "issues": issues
                }))
            }
            ("POST", "/rest/api/3/changelog/bulkfetch") if self.cloud => {
                let ids: Vec<usize> = body["issueIdsOrKeys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().parse::<usize>().unwrap() - 10000)
                    .collect();
                assert!(ids.len() <= 1000, "bulkfetch takes at most 1,000 issues");
                let from = body["nextPageToken"]
                    .as_str()
                    .and_then(|t| t.strip_prefix('c'))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let logs: Vec<Value> = ids
                    .iter()
                    .skip(from)
                    .take(LOGS_PER_PAGE)
                    .map(|i| json!({ "issueId": format!("{}", 10000 + i), "changeHistories": histories(*i) }))
                    .collect();
                let mut page = json!({ "issueChangeLogs": logs });
                if from + LOGS_PER_PAGE < ids.len() {
                    page["nextPageToken"] = json!(format!("c{}", from + LOGS_PER_PAGE));
                }
                ResponseTemplate::new(200).set_body_json(page)
            }
            ("GET", p) if p.ends_with("/remotelink") => {
                let key = p.split('/').rev().nth(1).unwrap_or("");
                let i: usize = key.trim_start_matches("OPS-").parse().unwrap_or(0);
                let links = if i.is_multiple_of(6) {
                    json!([{ "id": 1, "object": { "url": format!("https://acme.atlassian.net/wiki/spaces/OPS/pages/{i}"), "title": format!("Postmortem OPS-{i}") } }])
                } else if i.is_multiple_of(7) {
                    json!([{ "id": 2, "object": { "url": format!("https://github.com/acme/ledger/commit/{:07x}", 0xabc0000 + i), "title": "suspect commit" } }])
                } else {
                    json!([])
                };
                ResponseTemplate::new(200).set_body_json(links)
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({ "errorMessages": ["Not found"] })),
        }
    }

    fn refused(&self) -> Option<ResponseTemplate> {
        match *self.refusal.lock().unwrap() {
            Refusal::None => None,
            Refusal::UnknownProject => Some(ResponseTemplate::new(400).set_body_json(json!({
                "errorMessages": ["The value 'NOPE' does not exist for the field 'project'."], "errors": {}
            }))),
            Refusal::BadJql => Some(ResponseTemplate::new(400).set_body_json(json!({
                "errorMessages": ["Error in the JQL Query: Expecting operator but got 'banana'. (line 1, character 9)"],
                "errors": {}
            }))),
        }
    }
}

impl Respond for &'static FakeJira {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let basic = format!("Basic {}", b64(&format!("{EMAIL}:{TOKEN}")));
        if auth != basic && auth != format!("Bearer {PAT}") {
            return ResponseTemplate::new(401).set_body_string("");
        }
        match self.faults.lock().unwrap().get(&call).copied() {
            Some(Fault::TooManyRequests) => {
                return ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(json!({}));
            }
            Some(Fault::BadGateway) => return ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
            Some(Fault::EchoCredentials) => {
                return ResponseTemplate::new(403)
                    .set_body_json(json!({ "errorMessages": [format!("no access for {auth}")] }));
            }
            Some(Fault::Truncated) => {
                let full = self.normal(request);
                let _ = full;
                return ResponseTemplate::new(200).set_body_string("{\"issues\": [{\"id\": \"1");
            }
            None => {}
        }
        self.normal(request)
    }
}

fn b64(text: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in text.as_bytes().chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= c.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

type Server = crate::helpers::FakeServer<FakeJira>;

impl Server {
    fn cfg(&self, extra: &str) -> Config {
        config(
            "2025-01-01",
            "2026-01-01",
            &format!(
                "[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n\
                 [[sources]]\ntype = \"jira\"\napi_url = \"{}\"\nprojects = [\"OPS\"]\n\
                 service_map = {{ \"Ledger API\" = \"ledger\" }}\nseverity_field = \"customfield_10040\"\n{extra}",
                self.server.uri()
            ),
        )
    }

    fn request(&self, config: &Config) -> JiraRequest {
        let source = jira_source(config);
        let auth = if self.fake.cloud {
            Auth::Basic { email: EMAIL.into(), token: TOKEN.into() }
        } else {
            Auth::Bearer(PAT.into())
        };
        let mut r = JiraRequest::new(&source, Some(auth));
        r.pacing = Pacing { backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20), attempts: 4 };
        r
    }

    fn set_faults(&self, faults: &[(usize, Fault)]) {
        self.fake.calls.store(0, Ordering::SeqCst);
        *self.fake.faults.lock().unwrap() = faults.iter().copied().collect();
    }
}

fn jira_source(config: &Config) -> JiraSource {
    config
        .sources
        .iter()
        .find_map(|s| match s {
            Source::Jira(j) => Some((**j).clone()),
            _ => None,
        })
        .unwrap()
}

fn collect(dir: &Path, server: &Server, extra: &str) -> flowgauge::Result<jira::JiraReport> {
    let config = server.cfg(extra);
    let mut ws = Workspace::open(dir).unwrap();
    jira::collect_jira(&mut ws, &config, &server.request(&config))
}

fn assert_same_tables(a: &Path, b: &Path) {
    let (wa, wb) = (Workspace::open(a).unwrap(), Workspace::open(b).unwrap());
    for table in TABLES {
        let (x, y) = (wa.load(table).unwrap(), wb.load(table).unwrap());
        assert!(x.height() > 0, "{} is empty", table.name);
        let sort = |df: polars::prelude::DataFrame| df.sort(["id"], Default::default()).unwrap();
        let (x, y) = (sort(x), sort(y));
        assert!(x.equals_missing(&y), "{} differs:\n{x}\n{y}", table.name);
    }
}

fn incident(dir: &Path, key: &str) -> HashMap<String, String> {
    let ws = Workspace::open(dir).unwrap();
    let df = ws.load(&model::INCIDENTS).unwrap();
    let ids = df.column("id").unwrap().str().unwrap();
    let i = (0..df.height()).find(|&i| ids.get(i).is_some_and(|id| id.ends_with(&format!(":{key}")))).unwrap();
    let row = df.get_row(i).unwrap().0;
    model::INCIDENTS
        .columns
        .iter()
        .enumerate()
        .map(|(c, column)| (column.name.to_string(), row[c].to_string().trim_matches('"').to_string()))
        .collect()
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[test]
fn cloud_pages_by_next_page_token_and_reads_changelogs_in_bulk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeJira::new(250, true));
    let report = collect(dir.path(), &server, "remote_links = false").unwrap();
    // 250 incidents: 3 search pages; changelogs of 100 issues in pages of 60 → 2 + 2 + 1 requests;
    // one serverInfo to tell Cloud from Data Center.
    assert_eq!((report.search_requests, report.changelog_requests, report.remote_link_requests), (3, 5, 0));
    assert_eq!(server.requests(), 9);
    assert_eq!(report.flavour, Some(JiraFlavour::Cloud));
    assert_eq!(report.incidents, 249, "OPS-7's component maps to no service");
    assert!(report.warnings.iter().any(|w| w.contains("OPS-7 (Mainframe)")), "{:?}", report.warnings);
    assert!(report.data_warnings.iter().any(|w| w.kind == "unmapped-service"));
    // Incidents 1, 4, … (mitigated then resolved) and 2, 5, … (mitigated, open) stop at mitigation.
    assert_eq!(report.by_mitigation, 166);
    assert_eq!(report.by_resolution, 83);
    let searches = server.fake.searches.lock().unwrap().clone();
    assert_eq!(searches.len(), 3);
    assert!(
        searches[0].starts_with("(project in (\"OPS\") AND issuetype = \"[System] Incident\") ORDER BY updated ASC"),
        "{}",
        searches[0]
    );
}

#[test]
fn restore_stops_at_mitigation_when_the_workflow_records_it_else_at_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeJira::new(12, true));
    collect(dir.path(), &server, "").unwrap();
    // OPS-4: in progress after 10 min, mitigated at +1 h, resolved at +5 h; reported by a person.
    let four = incident(dir.path(), "OPS-4");
    assert!(four["mitigated_at"].starts_with(&minute(opened(4) + hours(1.0))), "{four:?}");
    assert!(four["resolved_at"].starts_with(&minute(opened(4) + hours(5.0))), "{four:?}");
    assert!(four["acknowledged_at"].starts_with(&minute(opened(4) + hours(1.0 / 6.0))), "{four:?}");
    assert_eq!(four["detected_by"], "monitoring", "reported by an app");
    assert_eq!(four["resolved_by"], "Olivia Grant");
    assert_eq!(four["priority"], "High");
    assert_eq!(four["severity"], "Sev 2");
    assert_eq!(four["service"], "ledger");
    assert!(four["review_url"].ends_with("/browse/PIR-4"), "{four:?}");
    // OPS-3: no mitigation in the workflow: restore stops at resolution (+3 h).
    let three = incident(dir.path(), "OPS-3");
    assert_eq!(three["mitigated_at"], "null");
    assert!(three["resolved_at"].starts_with(&minute(opened(3) + hours(3.0))));
    assert_eq!(three["detected_by"], "person");
    // OPS-5: mitigated at +2 h and still open; its description links the pull request that caused it.
    let five = incident(dir.path(), "OPS-5");
    assert!(five["mitigated_at"].starts_with(&minute(opened(5) + hours(2.0))));
    assert_eq!(five["resolved_at"], "null");
    assert_eq!(five["caused_by_change_id"], "github:pr:acme/ledger#5");
    // OPS-6's postmortem is a remote link; OPS-7 is unmapped; OPS-14-like commits come from remote links.
    assert!(incident(dir.path(), "OPS-6")["review_url"].contains("/wiki/spaces/OPS/pages/6"));

    // The metrics say which time each incident stopped at.
    let config = server.cfg("");
    let ws = Workspace::open(dir.path()).unwrap();
    let tables = flowgauge::metrics::load_tables(&ws).unwrap();
    let queries = flowgauge::metrics::queries::load(None).unwrap();
    let computation = flowgauge::metrics::compute(&tables, &config, &queries).unwrap();
    let records = flowgauge::metrics::explain(&computation, "time-to-restore", Some("ledger")).unwrap();
    let ids = records.column("incident_id").unwrap().str().unwrap().clone();
    let basis = records.column("restore_basis").unwrap().str().unwrap().clone();
    let seconds = records.column("restore_s").unwrap().i64().unwrap().clone();
    let of = |key: &str| {
        let i = (0..records.height()).find(|&i| ids.get(i).unwrap().ends_with(&format!(":{key}"))).unwrap();
        (basis.get(i).map(str::to_string), seconds.get(i))
    };
    assert_eq!(of("OPS-4"), (Some("mitigation".into()), Some(3600)));
    assert_eq!(of("OPS-3"), (Some("resolution".into()), Some(3 * 3600)));
    assert_eq!(of("OPS-5"), (Some("mitigation".into()), Some(2 * 3600)));
    // Post-incident reviews are evidence of the practice: OPS-4, 6, 8 and 12 (4, 8, 12 by issue link, 6 by remote link).
    let evidence = ws.load(&model::EVIDENCE).unwrap();
    assert_eq!(evidence.height(), 4);
    let categories = evidence.column("category").unwrap().str().unwrap().clone();
    assert!(categories.iter().all(|c| c == Some("post-incident review")));
}

#[test]
fn data_center_pages_by_start_at_with_changelogs_in_the_search() {
    let dc = tempfile::tempdir().unwrap();
    let server = Server::start(FakeJira::new(250, false));
    let report = collect(dc.path(), &server, "remote_links = false").unwrap();
    assert_eq!(report.flavour, Some(JiraFlavour::DataCenter));
    assert_eq!((report.search_requests, report.changelog_requests), (3, 0));
    assert_eq!(report.incidents, 249);
    assert_eq!((report.by_mitigation, report.by_resolution), (166, 83));
    // The same incidents as Cloud gives, column for column (ids name their own site).
    let cloud = tempfile::tempdir().unwrap();
    let cloud_server = Server::start(FakeJira::new(250, true));
    collect(cloud.path(), &cloud_server, "remote_links = false").unwrap();
    let load = |dir: &Path| {
        let df = Workspace::open(dir).unwrap().load(&model::INCIDENTS).unwrap();
        // Ids and review links name their own site.
        df.drop_many(["id", "review_url"]).sort(["opened_at"], Default::default()).unwrap()
    };
    let (a, b) = (load(dc.path()), load(cloud.path()));
    assert!(a.equals_missing(&b), "Data Center and Cloud differ:\n{a}\n{b}");
}

#[test]
fn faults_end_in_the_same_tables_as_a_fault_free_run() {
    let server = Server::start(FakeJira::new(150, true));
    let clean = tempfile::tempdir().unwrap();
    collect(clean.path(), &server, "").unwrap();
    // serverInfo, search, bulkfetch ×2, remote links ×100, search, bulkfetch, remote links ×50.
    let faults = [
        (1, Fault::BadGateway),
        (2, Fault::TooManyRequests),
        (4, Fault::Truncated),
        (5, Fault::TooManyRequests),
        (30, Fault::BadGateway),
        (108, Fault::Truncated),
        (110, Fault::TooManyRequests),
    ];
    server.set_faults(&faults);
    let faulty = tempfile::tempdir().unwrap();
    let report = collect(faulty.path(), &server, "").unwrap();
    assert_eq!(report.retries, 7, "every fault is retried once");
    assert_same_tables(clean.path(), faulty.path());
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    let server = Server::start(FakeJira::new(250, true));
    let clean = tempfile::tempdir().unwrap();
    collect(clean.path(), &server, "remote_links = false").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = server.cfg("remote_links = false");
    let mut request = server.request(&config);
    request.stop_after_pages = Some(1);
    {
        let mut ws = Workspace::open(dir.path()).unwrap();
        let err = jira::collect_jira(&mut ws, &config, &request).unwrap_err();
        assert!(err.to_string().contains("next run resumes"), "{err}");
        assert_eq!(ws.load(&model::INCIDENTS).unwrap().height(), 99, "the first page, less unmapped OPS-7");
    }
    server.fake.searches.lock().unwrap().clear();
    let report = collect(dir.path(), &server, "remote_links = false").unwrap();
    assert!(report.resumed);
    assert_eq!(report.search_requests, 2, "the first page is not read again");
    assert_same_tables(clean.path(), dir.path());
    // A later run asks only for what changed since the newest update read (less a day's margin).
    server.fake.searches.lock().unwrap().clear();
    collect(dir.path(), &server, "remote_links = false").unwrap();
    let searches = server.fake.searches.lock().unwrap().clone();
    let newest = opened(250) + hours(6.0) - hours(26.0);
    assert!(
        searches[0].contains(&format!("AND updated >= \"{}\"", newest.format("%Y/%m/%d %H:%M"))),
        "{}",
        searches[0]
    );
}

#[test]
fn offline_re_extraction_gives_the_online_rows() {
    let server = Server::start(FakeJira::new(130, true));
    let online = tempfile::tempdir().unwrap();
    collect(online.path(), &server, "").unwrap();
    // Collected twice: the second run re-reads the last day; pages of both runs are kept.
    collect(online.path(), &server, "").unwrap();
    let offline = tempfile::tempdir().unwrap();
    copy_dir(&online.path().join("raw"), &offline.path().join("raw"));
    let config = server.cfg("");
    let mut ws = Workspace::open(offline.path()).unwrap();
    let report = jira::reextract(&mut ws, &config, &jira_source(&config)).unwrap();
    assert!(report.pages >= 2);
    drop(ws);
    assert_same_tables(online.path(), offline.path());
}

#[test]
fn credentials_never_reach_output_or_files() {
    let server = Server::start(FakeJira::new(20, true));
    let dir = tempfile::tempdir().unwrap();
    collect(dir.path(), &server, "").unwrap();
    server.set_faults(&[(2, Fault::EchoCredentials)]);
    let err = collect(dir.path(), &server, "").unwrap_err().to_string();
    assert!(err.contains("permission denied (403)") && err.contains("Basic ***"), "{err}");
    let basic = b64(&format!("{EMAIL}:{TOKEN}"));
    assert!(!err.contains(TOKEN) && !err.contains(&basic), "{err}");
    let mut files = vec![dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(TOKEN) && !text.contains(&basic), "{} holds a credential", path.display());
        }
    }
}

#[test]
fn errors_a_user_must_act_on_are_named() {
    let server = Server::start(FakeJira::new(5, true));
    let dir = tempfile::tempdir().unwrap();
    let config = server.cfg("");
    let mut ws = Workspace::open(dir.path()).unwrap();
    let mut request = server.request(&config);

    request.auth = Some(Auth::Basic { email: EMAIL.into(), token: "wrong-token".into() });
    let err = jira::collect_jira(&mut ws, &config, &request).unwrap_err().to_string();
    assert!(err.contains("credentials were refused (401)") && err.contains("JIRA_TOKEN"), "{err}");
    assert!(!err.contains("wrong-token"), "{err}");

    request.auth = None;
    let err = jira::collect_jira(&mut ws, &config, &request).unwrap_err().to_string();
    assert!(err.contains("no credentials") && err.contains("JIRA_PAT"), "{err}");

    let request = server.request(&config);
    *server.fake.refusal.lock().unwrap() = Refusal::UnknownProject;
    let err = jira::collect_jira(&mut ws, &config, &request).unwrap_err().to_string();
    assert!(err.contains("unknown project") && err.contains("'NOPE' does not exist"), "{err}");

    *server.fake.refusal.lock().unwrap() = Refusal::BadJql;
    let err = jira::collect_jira(&mut ws, &config, &request).unwrap_err().to_string();
    assert!(err.contains("JQL rejected (400)") && err.contains("Expecting operator but got 'banana'"), "{err}");
    *server.fake.refusal.lock().unwrap() = Refusal::None;

    // Data Center's search asked of Jira Cloud: 410 Gone, and what to do.
    let config = server.cfg("flavour = \"datacenter\"");
    let err = jira::collect_jira(&mut ws, &config, &server.request(&config)).unwrap_err().to_string();
    assert!(err.contains("410 Gone") && err.contains("flavour = \"cloud\""), "{err}");

    server.set_faults(&[(1, Fault::EchoCredentials)]);
    let err = jira::collect_jira(&mut ws, &config, &server.request(&config)).unwrap_err();
    assert!(err.to_string().contains("permission denied (403)"), "{err}");
    assert!(matches!(err, flowgauge::Error::Jira { .. }));
}

#[test]
fn configuration_mistakes_name_their_key() {
    let bad = |extra: &str| {
        let text = format!(
            "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\n[[sources]]\ntype = \"jira\"\n{extra}"
        );
        Config::from_toml(&text, crate::helpers::now()).unwrap_err().to_string()
    };
    assert!(bad("projects = [\"OPS\"]").contains("sources[0].api_url"));
    assert!(bad("api_url = \"https://a.atlassian.net\"").contains("sources[0].projects"));
    assert!(
        bad("api_url = \"https://a.atlassian.net\"\njql = \"project = OPS ORDER BY created\"").contains("ORDER BY")
    );
    assert!(
        bad("api_url = \"https://a.atlassian.net\"\nprojects = [\"OPS\"]\nflavour = \"onprem\"")
            .contains("sources[0].flavour")
    );
    assert!(
        bad("api_url = \"https://a.atlassian.net\"\nprojects = [\"OPS\"]\nservice_map = { X = \"nope\" }")
            .contains("sources[0].service_map.X")
    );
    assert!(
        bad("api_url = \"https://a.atlassian.net\"\nprojects = [\"OPS\"]\nservice_from = \"team\"")
            .contains("service_from")
    );
}

#[test]
fn the_command_line_collects_recorded_pages_and_names_a_missing_source() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&crate::helpers::repo_root().join("sample-data/acme/jira"), &dir.path().join("jira"));
    let toml = "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\n";
    std::fs::write(dir.path().join("flowgauge.toml"), toml).unwrap();
    let out = crate::helpers::flowgauge(dir.path(), &["collect", "jira"]);
    assert_eq!(out.status.code(), Some(7), "{}", crate::helpers::text(&out.stderr));
    assert!(crate::helpers::text(&out.stderr).contains("no jira source"));
    let source = "[[sources]]\ntype = \"jira\"\napi_url = \"https://acme.atlassian.net\"\nprojects = [\"LDG\"]\n\
                  service_map = { \"Ledger core\" = \"ledger\" }\nrecorded = \"jira\"\n";
    std::fs::write(dir.path().join("flowgauge.toml"), format!("{toml}{source}")).unwrap();
    let out = crate::helpers::flowgauge(dir.path(), &["collect", "jira"]);
    let stderr = crate::helpers::text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Jira acme.atlassian.net (from raw pages): 1 pages")
            && stderr.contains("24 incidents (1 restored at mitigation, 22 at resolution), 1 post-incident reviews"),
        "{stderr}"
    );
}

#[test]
fn a_run_resumed_after_its_page_token_expired_starts_again_and_loses_nothing() {
    let server = Server::start(FakeJira::new(250, true));
    let clean = tempfile::tempdir().unwrap();
    collect(clean.path(), &server, "remote_links = false").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = server.cfg("remote_links = false");
    let mut request = server.request(&config);
    request.stop_after_pages = Some(1);
    jira::collect_jira(&mut Workspace::open(dir.path()).unwrap(), &config, &request).unwrap_err();
    server.fake.expire_token.store(true, Ordering::SeqCst);
    let report = collect(dir.path(), &server, "remote_links = false").unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("could not be resumed") && w.contains("expired")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.search_requests, 4, "the refused resume, then three pages from the start");
    assert_same_tables(clean.path(), dir.path());
}

/// The configured collection authenticates Jira with the credentials it is given (the CLI reads
/// `JIRA_EMAIL`/`JIRA_TOKEN` or `JIRA_PAT`; the library reads no environment).
#[test]
fn the_configured_collection_uses_the_credentials_passed_in() {
    let server = Server::start(FakeJira::new(5, true));
    let config = server.cfg("max_wait_seconds = 1\n");
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let auth = Auth::Basic { email: EMAIL.into(), token: TOKEN.into() };
    let credentials =
        flowgauge::collect::Credentials { jira: Some(auth), ..flowgauge::collect::Credentials::default() };
    assert!(!format!("{credentials:?}").contains(TOKEN));
    let reports =
        flowgauge::collect::collect_configured_with_credentials(&mut ws, &config, &credentials, None).unwrap();
    let jira = reports
        .iter()
        .find_map(|r| match r {
            flowgauge::collect::SourceReport::Jira(j) => Some(j),
            _ => None,
        })
        .unwrap();
    assert!(jira.incidents > 0, "{jira:?}");
    let none = flowgauge::collect::Credentials::default();
    let err = flowgauge::collect::collect_configured_with_credentials(&mut ws, &config, &none, None).unwrap_err();
    assert!(err.to_string().contains("no credentials"), "{err}");
}
