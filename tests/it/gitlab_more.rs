//! GitLab's CODEOWNERS verdict, incidents, own DORA figures and group walk, against a local server
//! answering in the shapes of GitLab's API documentation, through the real client (the `gitlab`
//! crate): what is stored, what an instance without Ultimate or Premium answers, and offline
//! re-extraction giving the same tables as the online run.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use flowgauge::collect::gitlab::GitlabRequest;
use flowgauge::collect::gitlab::client::{Client, Credentials};
use flowgauge::collect::gitlab::extras::{self, DoraOutcome, ProjectExtras};
use flowgauge::collect::http::retry::Pacing;
use flowgauge::config::Service;
use flowgauge::model::{self, TableSchema};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "glpat-TESTtoken0123456789SECRET";
const PROJECT: &str = "acme/ledger";
const API: &str = "/api/v4/projects/acme%2Fledger";

fn pacing() -> Pacing {
    Pacing { backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20), attempts: 3 }
}

/// The GraphQL answers, chosen by what the query asks; every query received is kept.
struct Graphql {
    free_tier: bool,
    queries: Mutex<Vec<Value>>,
}

impl Respond for Graphql {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        self.queries.lock().unwrap().push(body.clone());
        let query = body["query"].as_str().unwrap_or("");
        if query.contains("blobs(") {
            if self.free_tier && query.contains("validateCodeownerFile") {
                return ResponseTemplate::new(200).set_body_json(json!({ "errors": [{
                    "message": "Field 'validateCodeownerFile' doesn't exist on type 'Repository'"
                }] }));
            }
            return ResponseTemplate::new(200).set_body_json(codeowners_answer(self.free_tier));
        }
        if query.contains("incidentManagementTimelineEvents") {
            return ResponseTemplate::new(200).set_body_json(details_answer(&body));
        }
        ResponseTemplate::new(400).set_body_json(json!({ "message": "unexpected query" }))
    }
}

fn codeowners_answer(free_tier: bool) -> Value {
    let mut repository = json!({
        "rootRef": "main",
        "blobs": { "nodes": [{ "path": ".gitlab/CODEOWNERS", "rawBlob": "[Ledger][2] @acme/ledger\n*.rs\n[Docs]\n*.md\n" }] },
    });
    if !free_tier {
        repository["root"] = Value::Null;
        repository["docs"] = Value::Null;
        repository["dotgitlab"] =
            json!({ "total": 1, "validationErrors": [{ "code": "missing_entry_owner", "lines": [4] }] });
    }
    json!({ "data": { "project": { "repository": repository } } })
}

/// Severity and timeline of the incidents asked for (by iid), as GitLab's GraphQL answers.
fn details_answer(body: &Value) -> Value {
    let iids: Vec<String> =
        body["variables"]["iids"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
    let mut project = json!({ "issues": { "nodes": [] } });
    for iid in &iids {
        let severity = if iid == "7" { "CRITICAL" } else { "LOW" };
        project["issues"]["nodes"].as_array_mut().unwrap().push(json!({
            "iid": iid, "severity": severity, "escalationStatus": "RESOLVED"
        }));
        let events = if iid == "7" {
            json!([
                { "occurredAt": "2025-03-02T09:40:00Z", "timelineEventTags": { "nodes": [{ "name": "Start time" }] } },
                { "occurredAt": "2025-03-02T10:30:00Z", "timelineEventTags": { "nodes": [{ "name": "Impact mitigated" }] } }
            ])
        } else {
            json!([])
        };
        project[format!("t{iid}")] = json!({ "nodes": events });
    }
    json!({ "data": { "project": project } })
}

fn issue(iid: i64, title: &str, created: &str, closed: Option<&str>, author: &str) -> Value {
    json!({
        "id": 9000 + iid, "iid": iid, "project_id": 1, "title": title, "description": "",
        "state": if closed.is_some() { "closed" } else { "opened" },
        "created_at": created, "updated_at": closed.unwrap_or(created), "closed_at": closed,
        "closed_by": closed.map(|_| json!({ "username": "dana" })),
        "author": { "username": author }, "assignees": [{ "username": "erin" }],
        "issue_type": "incident", "labels": []
    })
}

/// A GitLab holding three incidents (two pages of the keyset listing), one issue labelled `sev1`,
/// CODEOWNERS under `.gitlab/`, a protected `main` without code owner approval, and DORA figures
/// answering with `dora_status`.
async fn fake_gitlab(free_tier: bool, dora_status: u16) -> (MockServer, std::sync::Arc<Graphql>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 1, "username": "bot" })))
        .mount(&server)
        .await;
    let graphql = std::sync::Arc::new(Graphql { free_tier, queries: Mutex::new(Vec::new()) });
    Mock::given(method("POST"))
        .and(path("/api/graphql"))
        .respond_with(SharedGraphql(graphql.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/protected_branches")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "id": 1, "name": "main", "code_owner_approval_required": false, "allow_force_push": false }
        ])))
        .mount(&server)
        .await;
    let next = format!("<{}{API}/issues?cursor=abc&issue_type=incident&pagination=keyset>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path(format!("{API}/issues")))
        .and(query_param("cursor", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue(
            9,
            "Exports slow",
            "2025-05-01T08:00:00Z",
            None,
            "dana"
        )])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/issues")))
        .and(query_param("issue_type", "incident"))
        .and(query_param("pagination", "keyset"))
        .and(query_param("order_by", "updated_at"))
        .respond_with(ResponseTemplate::new(200).insert_header("link", next.as_str()).set_body_json(json!([
            issue(7, "Ledger down after !12", "2025-03-02T10:00:00Z", Some("2025-03-02T11:00:00Z"), "alert-bot"),
            issue(8, "Ledger errors", "2025-04-02T10:00:00Z", Some("2025-04-02T12:00:00Z"), "dana")
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/issues")))
        .and(query_param("labels", "sev1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue(
            11,
            "Card payments declined, caused by acme/ledger@0a1b2c3d4",
            "2025-06-01T10:00:00Z",
            Some("2025-06-01T10:30:00Z"),
            "dana"
        )])))
        .mount(&server)
        .await;
    for (metric, body) in [
        ("deployment_frequency", json!([{ "date": "2025-03-01", "value": 4 }, { "date": "2025-04-01", "value": 2 }])),
        (
            "lead_time_for_changes",
            json!([{ "date": "2025-03-01", "value": 7200 }, { "date": "2025-04-01", "value": null }]),
        ),
        ("time_to_restore_service", json!([{ "date": "2025-03-01", "value": 3600 }])),
        ("change_failure_rate", json!([{ "date": "2025-03-01", "value": 0.25 }])),
    ] {
        let answer = if dora_status == 200 {
            ResponseTemplate::new(200).set_body_json(body)
        } else {
            ResponseTemplate::new(dora_status).set_body_json(json!({ "message": "403 Forbidden" }))
        };
        Mock::given(method("GET"))
            .and(path(format!("{API}/dora/metrics")))
            .and(query_param("metric", metric))
            .and(query_param("interval", "monthly"))
            .and(query_param("environment_tiers[]", "production"))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    (server, graphql)
}

struct SharedGraphql(std::sync::Arc<Graphql>);

impl Respond for SharedGraphql {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

fn service() -> Service {
    let mut service = Service::named("ledger", None);
    service.repos = vec![PROJECT.to_string()];
    service
}

fn window() -> (NaiveDate, NaiveDate) {
    (NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
}

/// Collects as the command line does: on a plain thread with a current-thread runtime of its own
/// (the test's runtime keeps serving the fake GitLab meanwhile).
async fn collect(server: &MockServer, workspace: &mut Workspace) -> flowgauge::error::Result<extras::ExtrasReport> {
    let api_url = server.uri();
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    let connecting = Client::connect(&api_url, Credentials::Token(TOKEN.into()), pacing(), PROJECT);
                    let client = runtime.block_on(connecting)?;
                    let service = service();
                    let labels = vec!["sev1".to_string()];
                    let extras = ProjectExtras {
                        project: PROJECT,
                        service: &service,
                        incident_labels: &labels,
                        window: window(),
                    };
                    extras::collect(&runtime, &client, workspace, &extras)
                })
                .join()
                .unwrap()
        })
    })
}

fn sorted_rows(workspace: &Workspace, schema: &TableSchema) -> Vec<String> {
    let df = workspace.load(schema).unwrap();
    let mut rows: Vec<String> = (0..df.height()).map(|i| format!("{:?}", df.get(i).unwrap())).collect();
    rows.sort();
    rows
}

fn cell(workspace: &Workspace, schema: &TableSchema, id: &str, column: &str) -> String {
    let df = workspace.load(schema).unwrap();
    let ids = df.column("id").unwrap().str().unwrap();
    let at = ids.iter().position(|v| v == Some(id)).unwrap_or_else(|| panic!("no row {id}"));
    df.column(column).unwrap().get(at).unwrap().to_string().trim_matches('"').to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_s_codeowners_incidents_and_dora_figures_are_stored_and_rebuilt_offline() {
    let (server, graphql) = fake_gitlab(false, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(dir.path()).unwrap();
    let report = collect(&server, &mut workspace).await.unwrap();
    assert_eq!(report.incidents, 4, "two incident pages and one labelled issue");
    assert_eq!(report.dora, DoraOutcome::Stored(6));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // CODEOWNERS: GitLab's file under .gitlab/, its validation error, main without code owner approval.
    let evidence = |id: &str, column: &str| cell(&workspace, &model::EVIDENCE, id, column);
    assert_eq!(
        evidence("gitlab:acme/ledger:codeowners:file", "detail"),
        ".gitlab/CODEOWNERS: 1 rules naming 1 owners in 2 sections"
    );
    assert_eq!(evidence("gitlab:acme/ledger:codeowners:error:missing_entry_owner:4", "line"), "4");
    assert_eq!(evidence("gitlab:acme/ledger:codeowners:approval:main", "kind"), "gap");

    // Incidents: severity and timeline from GraphQL, the cause named in the title.
    let incident = |iid: i64, column: &str| {
        cell(&workspace, &model::INCIDENTS, &format!("gitlab:issue:acme/ledger#{iid}"), column)
    };
    assert_eq!(incident(7, "severity"), "critical");
    assert_eq!(incident(7, "opened_at"), "2025-03-02 09:40:00");
    assert_eq!(incident(7, "mitigated_at"), "2025-03-02 10:30:00");
    assert_eq!(incident(7, "resolved_at"), "2025-03-02 11:00:00");
    assert_eq!(incident(7, "detected_by"), "monitoring");
    assert_eq!(incident(7, "caused_by_change_id"), "gitlab:mr:acme/ledger!12");
    assert_eq!(incident(9, "resolved_at"), "null", "still open");
    assert_eq!(incident(11, "caused_by_sha"), "0a1b2c3d4");
    // One details request per page of issues (the second keyset page, the label listing too).
    let asked =
        graphql.queries.lock().unwrap().iter().filter(|q| q["query"].as_str().unwrap().contains("timeline")).count();
    assert_eq!(asked, 3);

    // GitLab's DORA figures, month by month, null kept as no value.
    let dora = |id: &str| cell(&workspace, &model::FORGE_METRICS, id, "value");
    assert_eq!(dora("gitlab:acme/ledger:dora:deployment-frequency:2025-03-01"), "4.0");
    assert_eq!(dora("gitlab:acme/ledger:dora:lead-time:2025-04-01"), "null");

    // Offline: the raw pages alone rebuild the same tables in a fresh workspace.
    let copy = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&dir.path().join("raw"), &copy.path().join("raw"));
    let mut offline = Workspace::open(copy.path()).unwrap();
    extras::reextract(&mut offline, PROJECT, &service()).unwrap();
    for schema in [&model::EVIDENCE, &model::INCIDENTS, &model::FORGE_METRICS] {
        assert_eq!(sorted_rows(&offline, schema), sorted_rows(&workspace, schema), "{}", schema.name);
    }

    // The token is nowhere in the workspace.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(TOKEN), "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// The path `flowgauge collect gitlab` takes: a plain thread, the collector's own runtime, and the
/// workspace written between requests (polars must never run inside that runtime, where it may
/// only block on a multi-threaded one).
#[tokio::test(flavor = "multi_thread")]
async fn a_project_s_extras_are_collected_from_a_plain_thread_as_the_command_line_does() {
    let (server, _) = fake_gitlab(false, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let (root, api_url) = (dir.path().to_path_buf(), server.uri());
    let collector = std::thread::spawn(move || {
        let config = crate::helpers::config(
            "2025-01-01",
            "2025-12-31",
            "[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n",
        );
        let mut request = GitlabRequest::new(PROJECT, Some(&api_url), Credentials::Token(TOKEN.into()));
        request.pacing = pacing();
        let mut workspace = Workspace::open(&root).unwrap();
        extras::collect_project(&mut workspace, &config, &request, &["sev1".to_string()])
    });
    let report = tokio::task::spawn_blocking(move || collector.join()).await.unwrap().expect("no panic").unwrap();
    assert_eq!(report.incidents, 4);
    assert_eq!(report.dora, DoraOutcome::Stored(6));
    let workspace = Workspace::open(dir.path()).unwrap();
    assert_eq!(workspace.load(&model::INCIDENTS).unwrap().height(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_run_asks_only_for_incidents_updated_since_the_last() {
    let (server, _) = fake_gitlab(false, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(dir.path()).unwrap();
    collect(&server, &mut workspace).await.unwrap();
    let before = server.received_requests().await.unwrap().len();
    collect(&server, &mut workspace).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let listings: Vec<String> = requests[before..]
        .iter()
        .filter(|r| r.url.path().ends_with("/issues") && r.url.query().is_some_and(|q| !q.contains("cursor")))
        .map(|r| r.url.query().unwrap().to_string())
        .collect();
    assert_eq!(listings.len(), 2);
    let newest = Utc.with_ymd_and_hms(2025, 6, 1, 10, 30, 0).unwrap();
    for query in listings {
        assert!(query.contains(&format!("updated_after={}", newest.format("%Y-%m-%dT%H%%3A%M%%3A%SZ"))), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_ultimate_the_dora_figures_are_not_available_and_nothing_fails() {
    for status in [403, 404] {
        let (server, _) = fake_gitlab(false, status).await;
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = Workspace::open(dir.path()).unwrap();
        let report = collect(&server, &mut workspace).await.unwrap();
        assert_eq!(report.dora, DoraOutcome::NotAvailable, "{status}");
        assert_eq!(workspace.load(&model::FORGE_METRICS).unwrap().height(), 0);
        assert_eq!(report.incidents, 4);
        // GitLab answers the same for every metric: one request tells.
        let asked = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path().ends_with("/dora/metrics"))
            .count();
        assert_eq!(asked, 1, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn on_gitlab_free_codeowners_is_read_without_gitlab_s_validation() {
    let (server, _) = fake_gitlab(true, 403).await;
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(dir.path()).unwrap();
    let report = collect(&server, &mut workspace).await.unwrap();
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("does not validate CODEOWNERS"));
    assert!(report.warnings[1].contains("DORA figures are not available"));
    let ids = sorted_ids(&workspace, &model::EVIDENCE);
    assert_eq!(ids, vec!["gitlab:acme/ledger:codeowners:approval:main", "gitlab:acme/ledger:codeowners:file"]);
}

fn sorted_ids(workspace: &Workspace, schema: &TableSchema) -> Vec<String> {
    let df = workspace.load(schema).unwrap();
    let mut ids: Vec<String> = df.column("id").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_walk_maps_projects_to_services_and_names_the_unmapped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let next = format!("<{}/api/v4/groups/acme/projects?page=2&include_subgroups=true>; rel=\"next\"", server.uri());
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/projects"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-total", "3").set_body_json(json!([
            { "id": 30, "path_with_namespace": "acme/payments/api", "default_branch": "main" }
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/projects"))
        .and(query_param("include_subgroups", "true"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-total", "3")
                .insert_header("link", next.as_str())
                .set_body_json(json!([
                    { "id": 10, "path_with_namespace": "acme/ledger", "default_branch": "main" },
                    { "id": 20, "path_with_namespace": "acme/sandbox", "default_branch": "main" }
                ])),
        )
        .mount(&server)
        .await;
    let client = Client::connect(&server.uri(), Credentials::Token(TOKEN.into()), pacing(), "acme").await.unwrap();
    let mut payments = Service::named("payments", None);
    payments.repos = vec!["acme/payments/api".into()];
    let plan = extras::walk_group(&client, "acme", &[service(), payments]).await.unwrap();
    let mapped: Vec<(&str, &str)> = plan.mapped.iter().map(|(p, s)| (p.path.as_str(), s.as_str())).collect();
    assert_eq!(mapped, vec![("acme/ledger", "ledger"), ("acme/payments/api", "payments")]);
    assert_eq!(
        plan.unmapped_warning("acme").unwrap(),
        "group acme: 1 project was not collected because no service names it in `repos`: acme/sandbox"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_listing_that_gives_less_than_it_reports_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/projects"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-total", "250").set_body_json(json!([
            { "id": 10, "path_with_namespace": "acme/ledger" }
        ])))
        .mount(&server)
        .await;
    let client = Client::connect(&server.uri(), Credentials::Token(TOKEN.into()), pacing(), "acme").await.unwrap();
    let error = extras::walk_group(&client, "acme", &[service()]).await.unwrap_err().to_string();
    assert!(error.contains("reports 250 projects but its listing gave 1"), "{error}");
}

/// The ownership capability counts what GitLab reports as CODEOWNERS gaps, as it does GitHub's.
#[test]
fn gitlab_s_codeowners_verdict_is_counted_by_the_codeowners_gaps_indicator() {
    use flowgauge::assess::capabilities::evidence::{EvidenceInput, measure};
    use flowgauge::collect::gitlab::codeowners::codeowners_rows;

    let cfg = crate::helpers::config(
        "2025-01-01",
        "2026-01-01",
        "[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n",
    );
    let indicator = |answer: Value, protected: Value| {
        let mut fx = crate::helpers::Fixture::default();
        fx.deploy("d1", "ledger", "production", "success", "2025-01-10T10:00:00Z");
        for row in codeowners_rows(PROJECT, &answer, Some(&protected)) {
            let cells: Vec<(&str, flowgauge::model::Value)> =
                model::EVIDENCE.columns.iter().map(|c| c.name).zip(row).collect();
            fx.add(&model::EVIDENCE, &cells);
        }
        let (computation, _) = fx.compute(&cfg);
        let tables = fx.frames();
        let input = EvidenceInput { tables: &tables, computation: &computation, config: &cfg };
        let since = crate::helpers::t_utc("2025-01-01T00:00:00Z");
        let until = crate::helpers::t_utc("2025-04-01T00:00:00Z");
        measure(&input, "ledger", since, until)
            .unwrap()
            .into_iter()
            .find(|m| m.indicator == "km.codeowners_gaps")
            .unwrap()
    };
    let required = json!([{ "name": "main", "code_owner_approval_required": true }]);
    let clean = indicator(codeowners_answer(true), required);
    assert_eq!(clean.value, Some(0.0));
    assert_eq!(clean.detail, "CODEOWNERS is in place and GitLab reports no errors in it");
    // GitLab's validation error and a main branch that does not require code owners: two gaps.
    let not_required = json!([{ "name": "main", "code_owner_approval_required": false }]);
    let gaps = indicator(codeowners_answer(false), not_required);
    assert_eq!(gaps.value, Some(2.0), "{}", gaps.detail);
    let mut records = gaps.records.clone();
    records.sort();
    assert_eq!(
        records,
        ["gitlab:acme/ledger:codeowners:approval:main", "gitlab:acme/ledger:codeowners:error:missing_entry_owner:4"]
    );
}

/// `explain` and the report's methodology show GitLab's own monthly figures beside flowgauge's for
/// the same months, with the reason they differ.
#[test]
fn explain_and_the_report_show_gitlab_s_figures_beside_flowgauge_s() {
    use crate::helpers::flowgauge;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("flowgauge.toml"),
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("deploys.csv"),
        "id,service,environment,started_at,finished_at,status,commits\n\
         1,ledger,production,2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,success,aaa\n\
         2,ledger,production,2025-01-08T10:00:00Z,2025-01-08T10:10:00Z,success,bbb\n",
    )
    .unwrap();
    let imported = flowgauge(root, &["import", "deploys.csv", "--kind", "deployments", "--service", "ledger"]);
    assert!(imported.status.success(), "{}", crate::helpers::text(&imported.stderr));
    {
        let mut workspace = Workspace::open(&root.join(".flowgauge")).unwrap();
        let page = json!([{ "date": "2025-01-01", "value": 3 }, { "date": "2025-02-01", "value": 0 }]);
        let rows = flowgauge::collect::gitlab::dora::dora_rows(PROJECT, &service(), "deployment_frequency", &page);
        workspace.upsert(&[(&model::FORGE_METRICS, rows)]).unwrap();
    }
    let out = flowgauge(root, &["explain", "deployment-frequency"]);
    let stdout = crate::helpers::text(&out.stdout);
    assert!(out.status.success(), "{}", crate::helpers::text(&out.stderr));
    assert!(
        stdout.contains(
            "ledger — deployment-frequency beside GitLab's own figure for acme/ledger: \
             2025-01 GitLab 3 deployments / flowgauge 2 deployments; 2025-02 GitLab 0 deployments / flowgauge 0 deployments. \
             Why they differ: GitLab counts"
        ),
        "{stdout}"
    );
    // Only for the metric asked about.
    let lead = crate::helpers::text(&flowgauge(root, &["explain", "lead-time"]).stdout);
    assert!(!lead.contains("GitLab"), "{lead}");
    let report = root.join("report.html");
    let made = flowgauge(root, &["report", "--out", report.to_str().unwrap()]);
    assert!(made.status.success(), "{}", crate::helpers::text(&made.stderr));
    let html = std::fs::read_to_string(&report).unwrap().replace("&#x2f;", "/").replace("&#x27;", "'");
    assert!(html.contains("<h3>GitLab's own figures</h3>"));
    assert!(html.contains("2025-01 GitLab 3 deployments / flowgauge 2 deployments"));
}

/// `collect gitlab --group`: a group none of whose projects a service names collects nothing, says
/// which projects it left out, and exits with "not found".
#[test]
fn collect_gitlab_group_names_the_projects_no_service_claims() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v4/user"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v4/groups/acme/projects"))
            .and(query_param("include_subgroups", "true"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                { "id": 20, "path_with_namespace": "acme/sandbox" },
                { "id": 21, "path_with_namespace": "acme/tools/scripts" }
            ])))
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flowgauge.toml"), "[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"))
        .current_dir(dir.path())
        .args(["collect", "gitlab", "--group", "acme", "--api-url", &server.uri()])
        .env("GITLAB_TOKEN", TOKEN)
        .env_remove("CI_JOB_TOKEN")
        .output()
        .unwrap();
    let stderr = crate::helpers::text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("acme/sandbox, acme/tools/scripts"), "{stderr}");
    assert!(stderr.contains("no project of it is named in a service's `repos`"), "{stderr}");
    assert!(!stderr.contains(TOKEN));
}
