//! The import source: formats, defaults, namespacing, and bad input rejected whole.

use std::fs;
use std::path::Path;

use flowgauge::Error;
use flowgauge::collect::{self, Format, ImportKind, ImportRequest};
use flowgauge::config::Config;
use flowgauge::model;
use flowgauge::store::Workspace;

use crate::helpers::now;

fn cfg() -> Config {
    Config::from_toml(
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n\
         [[services]]\nname = \"checkout\"\nrepos = [\"acme/shop\"]\nproduction_environments = [\"prod-*\"]\n\
         [[services]]\nname = \"search\"\n",
        now(),
    )
    .unwrap()
}

fn request(path: &Path, kind: ImportKind) -> ImportRequest {
    ImportRequest { path: path.to_path_buf(), kind, format: None, service: None, namespace: "import".into() }
}

const DEPLOYS: &str = "\
id,service,environment,sha,started_at,finished_at,status,commits
1,checkout,prod-eu,aaa,2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,Succeeded,aaa bbb
2,checkout,staging,bbb,2025-01-07 10:00:00,2025-01-07 10:10:00,success,
";

/// Every parquet table of a workspace, by file name, as bytes.
type Snapshot = Vec<(String, Vec<u8>)>;

fn table_bytes(dir: &Path) -> Snapshot {
    let mut out: Snapshot = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn csv_deployments_are_normalised_and_namespaced() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let report = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    assert_eq!(report.rows_read, 2);
    let df = ws.load(&model::DEPLOYMENTS).unwrap();
    let ids: Vec<&str> = df.column("id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["import:deployment:1", "import:deployment:2"]);
    let statuses: Vec<&str> = df.column("status").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(statuses, ["success", "success"]);
    // prod-eu matches the service's `prod-*`; staging does not.
    let prod: Vec<bool> = df.column("is_production").unwrap().bool().unwrap().iter().flatten().collect();
    assert_eq!(prod, [true, false]);
    let links = ws.load(&model::DEPLOYMENT_COMMITS).unwrap();
    assert_eq!(links.height(), 2);
}

#[test]
fn importing_twice_leaves_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let ws_dir = dir.path().join("ws");
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    let first = table_bytes(&ws_dir);
    collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    assert_eq!(first, table_bytes(&ws_dir));
    assert!(!first.is_empty());
}

fn rejected(name: &str, content: &str, kind: ImportKind) -> (Error, Snapshot, Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = dir.path().join("ws");
    // A workspace that already holds good data: a rejected file must leave it untouched.
    let good = dir.path().join("good.csv");
    fs::write(&good, DEPLOYS).unwrap();
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&good, ImportKind::Deployments)).unwrap();
    let before = table_bytes(&ws_dir);
    let file = dir.path().join(name);
    fs::write(&file, content).unwrap();
    let err = collect::import_file(&mut ws, &cfg(), &request(&file, kind)).unwrap_err();
    let after = table_bytes(&ws_dir);
    (err, before, after)
}

fn assert_row_error(err: &Error, line: usize, field: &str, words: &str) {
    match err {
        Error::ImportRow { line: l, field: f, message, .. } => {
            assert_eq!((*l, f.as_str()), (line, field), "{err}");
            assert!(message.contains(words), "{err}");
        }
        other => panic!("expected a row error, got {other}"),
    }
}

#[test]
fn a_bad_time_names_file_line_and_field_and_writes_nothing() {
    let content = format!("{DEPLOYS}3,checkout,prod-eu,ccc,2025-01-08T10:00:00Z,08/01/2025 10:10,success,\n");
    let (err, before, after) = rejected("bad.csv", &content, ImportKind::Deployments);
    assert_row_error(&err, 4, "finished_at", "is not a time");
    assert!(err.to_string().contains("bad.csv:4: field `finished_at`"), "{err}");
    assert_eq!(before, after);
}

#[test]
fn bad_rows_are_rejected_with_a_reason() {
    let cases: &[(&str, &str, ImportKind, usize, &str, &str)] = &[
        (
            "unknown column",
            "id,service,environment,finished_at,status,colour\n1,checkout,prod,2025-01-01T00:00:00Z,success,red\n",
            ImportKind::Deployments,
            2,
            "colour",
            "unknown column",
        ),
        (
            "missing required",
            "id,service,environment,status\n1,checkout,prod,success\n",
            ImportKind::Deployments,
            2,
            "finished_at",
            "required",
        ),
        (
            "bad status",
            "id,service,environment,finished_at,status\n1,checkout,prod,2025-01-01T00:00:00Z,green\n",
            ImportKind::Deployments,
            2,
            "status",
            "not a known status",
        ),
        (
            "unknown service",
            "id,service,environment,finished_at,status\n1,billing,prod,2025-01-01T00:00:00Z,success\n",
            ImportKind::Deployments,
            2,
            "service",
            "not a configured service",
        ),
        (
            "bad boolean",
            "id,service,environment,finished_at,status,is_rollback\n1,checkout,prod,2025-01-01T00:00:00Z,success,maybe\n",
            ImportKind::Deployments,
            2,
            "is_rollback",
            "true/false",
        ),
        (
            "time order",
            "id,service,opened_at,resolved_at\n7,checkout,2025-01-02T00:00:00Z,2025-01-01T00:00:00Z\n",
            ImportKind::Incidents,
            2,
            "resolved_at",
            "before opened_at",
        ),
        (
            "bad integer",
            "id,service,created_at,additions\n9,checkout,2025-01-02T00:00:00Z,12.5\n",
            ImportKind::Changes,
            2,
            "additions",
            "whole number",
        ),
        ("no service at all", "id,created_at\n9,2025-01-02T00:00:00Z\n", ImportKind::Changes, 2, "service", "required"),
    ];
    for (what, content, kind, line, field, words) in cases {
        let (err, before, after) = rejected("bad.csv", content, *kind);
        assert_row_error(&err, *line, field, words);
        assert_eq!(before, after, "{what}: the workspace changed");
    }
}

#[test]
fn json_and_ndjson_errors_point_at_the_right_line() {
    let json = "[\n  {\"id\": \"1\", \"service\": \"checkout\", \"opened_at\": \"2025-01-02T00:00:00Z\"},\n  {\"id\": \"2\",\n   \"service\": \"checkout\", \"opened_at\": \"yesterday\"}\n]\n";
    let (err, before, after) = rejected("incidents.json", json, ImportKind::Incidents);
    assert_row_error(&err, 3, "opened_at", "not a time");
    assert_eq!(before, after);
    let ndjson = "{\"id\": \"1\", \"service\": \"checkout\", \"opened_at\": \"2025-01-02T00:00:00Z\"}\n\n{\"id\": \"2\", \"service\": \"checkout\", \"opened_at\": 12.5}\n";
    let (err, _, _) = rejected("incidents.ndjson", ndjson, ImportKind::Incidents);
    assert_row_error(&err, 3, "opened_at", "Unix time");
    let (err, _, _) = rejected("incidents.ndjson", "{\"id\": \"1\",\n", ImportKind::Incidents);
    assert_row_error(&err, 1, "-", "not valid JSON");
    let (err, _, _) = rejected("incidents.json", "{\"id\": 1}", ImportKind::Incidents);
    assert!(matches!(err, Error::ImportFile { .. }), "{err}");
}

#[test]
fn references_are_namespaced_like_their_targets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incidents.ndjson");
    fs::write(
        &file,
        "{\"id\": \"INC-1\", \"opened_at\": \"2025-02-01T10:00:00+01:00\", \"caused_by_deployment_id\": 42}\n\
         {\"id\": \"pd:incident:9\", \"opened_at\": 1738400000, \"caused_by_deployment_id\": \"argo:deployment:7\"}\n",
    )
    .unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let mut req = request(&file, ImportKind::Incidents);
    req.service = Some("search".into());
    req.namespace = "jenkins".into();
    collect::import_file(&mut ws, &cfg(), &req).unwrap();
    let df = ws.load(&model::INCIDENTS).unwrap();
    let ids: Vec<&str> = df.column("id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["jenkins:incident:INC-1", "pd:incident:9"]);
    let causes: Vec<&str> = df.column("caused_by_deployment_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(causes, ["jenkins:deployment:42", "argo:deployment:7"]);
    let services: Vec<&str> = df.column("service").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(services, ["search", "search"]);
}

#[test]
fn changes_find_their_service_by_repository() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changes.csv");
    fs::write(&file, "id,repo,created_at,commits\n12,acme/shop,2025-01-02T00:00:00Z,\"x1, x2\"\n").unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let mut req = request(&file, ImportKind::Changes);
    req.format = Some(Format::Csv);
    collect::import_file(&mut ws, &cfg(), &req).unwrap();
    let df = ws.load(&model::CHANGES).unwrap();
    assert_eq!(df.column("service").unwrap().str().unwrap().get(0), Some("checkout"));
    assert_eq!(ws.load(&model::CHANGE_COMMITS).unwrap().height(), 2);
}

#[test]
fn a_service_removed_from_the_configuration_disappears() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    collect::collect_configured(&mut ws, &cfg()).unwrap();
    assert_eq!(ws.load(&model::SERVICES).unwrap().height(), 2);
    let fewer = Config::from_toml("[[services]]\nname = \"search\"\n", now()).unwrap();
    collect::collect_configured(&mut ws, &fewer).unwrap();
    let services = ws.load(&model::SERVICES).unwrap();
    assert_eq!(services.column("service").unwrap().str().unwrap().get(0), Some("search"));
    assert_eq!(services.height(), 1);
}

#[test]
fn a_second_run_on_the_same_workspace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _held = Workspace::open(dir.path()).unwrap();
    let err = Workspace::open(dir.path()).err().expect("second open must fail");
    assert!(matches!(err, Error::WorkspaceLocked { .. }), "{err}");
    assert!(err.to_string().contains("in use by another flowgauge run"), "{err}");
}

#[test]
fn an_unknown_extension_needs_a_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.txt");
    fs::write(&file, DEPLOYS).unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let err = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap_err();
    assert!(err.to_string().contains("--format"), "{err}");
}
