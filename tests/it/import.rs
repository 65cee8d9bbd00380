//! The import source: formats, defaults, namespacing, and bad input rejected whole.

use std::fs;
use std::path::Path;

use flowgauge::Error;
use flowgauge::collect::{self, Format, ImportKind, ImportRequest};
use flowgauge::config::Config;
use flowgauge::model;
use flowgauge::store::{CommitStep, Workspace};

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

/// Every partition of a workspace, by table and scope directory, as bytes.
type Snapshot = Vec<(String, Vec<u8>)>;

fn table_bytes(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    for table in fs::read_dir(dir.join("tables")).into_iter().flatten() {
        let table = table.unwrap().path();
        for scope in fs::read_dir(&table).unwrap() {
            let scope = scope.unwrap().path();
            for file in fs::read_dir(&scope).unwrap() {
                let name = format!("{}/{}", table.file_name().unwrap().display(), scope.file_name().unwrap().display());
                out.push((name, fs::read(file.unwrap().path()).unwrap()));
            }
        }
    }
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

/// Every table of a workspace as a reader sees it, cell by cell (each column's name and values), plus
/// its manifest's sources: what "the workspace's state" means for the crash tests.
type State = (Vec<(String, usize, Vec<String>)>, Vec<String>);

fn state(ws_dir: &Path) -> State {
    let ws = Workspace::open_existing(ws_dir).unwrap();
    let tables = model::TABLES
        .iter()
        .map(|t| {
            let df = ws.load(t).unwrap();
            (t.name.to_string(), df.height(), cells(&df))
        })
        .collect();
    (tables, ws.manifest().sources.keys().cloned().collect())
}

fn cells(df: &polars::prelude::DataFrame) -> Vec<String> {
    df.get_column_names()
        .into_iter()
        .map(|name| {
            let values: Vec<_> = df.column(name).unwrap().as_materialized_series().iter().collect();
            format!("{name}: {values:?}")
        })
        .collect()
}

/// The rows of a table in a state.
fn rows(state: &State, table: &str) -> usize {
    state.0.iter().find(|(t, _, _)| t == table).unwrap().1
}

#[test]
fn the_crash_tests_state_tells_tables_with_the_same_rows_counted_apart() {
    // A crash that left `deployments` changed but as long must not pass for the old workspace.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    let mut states = Vec::new();
    for (name, content) in [("a", DEPLOYS.to_string()), ("b", DEPLOYS.replace("Succeeded", "failure"))] {
        fs::write(&file, content).unwrap();
        let ws_dir = dir.path().join(name);
        let mut ws = Workspace::open(&ws_dir).unwrap();
        collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
        drop(ws);
        states.push(state(&ws_dir));
    }
    assert_eq!(rows(&states[0], "deployments"), rows(&states[1], "deployments"));
    assert_ne!(states[0], states[1]);
}

/// A second file that adds a deployment and the commits it shipped: two tables change.
const MORE_DEPLOYS: &str = "\
id,service,environment,sha,started_at,finished_at,status,commits
3,checkout,prod-eu,ccc,2025-01-08T10:00:00Z,2025-01-08T10:10:00Z,success,ccc ddd eee
";

/// Imports DEPLOYS, then MORE_DEPLOYS with a simulated crash at `step`; returns the state before
/// the second import, after it had it succeeded, and what a reader and then a writer see after
/// the crash.
fn crash_during_second_import(step: CommitStep) -> [State; 4] {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("deploys.csv"), dir.path().join("more.csv"));
    fs::write(&first, DEPLOYS).unwrap();
    fs::write(&second, MORE_DEPLOYS).unwrap();
    let expected_dir = dir.path().join("expected");
    let mut ws = Workspace::open(&expected_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&first, ImportKind::Deployments)).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&second, ImportKind::Deployments)).unwrap();
    drop(ws);
    let new = state(&expected_dir);

    let ws_dir = dir.path().join("ws");
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&first, ImportKind::Deployments)).unwrap();
    let old = state(&ws_dir);
    ws.crash_commit_at(step);
    collect::import_file(&mut ws, &cfg(), &request(&second, ImportKind::Deployments)).unwrap_err();
    drop(ws); // the process "died": its lock is gone, its files are as the crash left them
    let read_after_crash = state(&ws_dir);
    drop(Workspace::open(&ws_dir).unwrap()); // the next writer repairs
    let after_repair = state(&ws_dir);
    let leftovers: Vec<String> = fs::read_dir(&ws_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".staged") || n.ends_with(".tmp") || n == "commit.json")
        .collect();
    assert!(leftovers.is_empty(), "the repair leaves nothing behind: {leftovers:?}");
    [old, new, read_after_crash, after_repair]
}

#[test]
fn a_crash_before_the_commit_point_leaves_the_workspace_wholly_old() {
    let [old, new, read_after_crash, after_repair] = crash_during_second_import(CommitStep::BeforeJournal);
    assert_ne!(old, new);
    assert_eq!(read_after_crash, old);
    assert_eq!(after_repair, old);
}

#[test]
fn a_crash_between_two_tables_leaves_the_workspace_wholly_new() {
    // `deployment_commits` is renamed into place, `deployments` and `services` not yet: the journal
    // finishes the commit.
    let [old, new, read_after_crash, after_repair] = crash_during_second_import(CommitStep::AfterFirstRename);
    assert_ne!(old, new);
    assert_eq!(read_after_crash, new, "a reader reads through the unfinished commit");
    assert_eq!(after_repair, new);
    assert_eq!(rows(&new, "deployment_commits"), 5);
}

#[test]
fn a_workspace_written_before_the_commit_journal_still_loads() {
    // An older flowgauge wrote `TABLE.parquet` files and a manifest without `generation`.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let ws_dir = dir.path().join("ws");
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    drop(ws);
    let manifest = ws_dir.join("manifest.json");
    let mut json: serde_json::Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("generation");
    fs::write(&manifest, json.to_string()).unwrap();
    assert_eq!(Workspace::open_existing(&ws_dir).unwrap().load(&model::DEPLOYMENTS).unwrap().height(), 2);
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    assert_eq!(ws.load(&model::DEPLOYMENT_COMMITS).unwrap().height(), 2);
}

#[test]
fn a_reader_notices_a_commit_made_while_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let ws_dir = dir.path().join("ws");
    let mut writer = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut writer, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    let reader = Workspace::open_existing(&ws_dir).unwrap();
    reader.load(&model::DEPLOYMENTS).unwrap();
    fs::write(&file, MORE_DEPLOYS).unwrap();
    collect::import_file(&mut writer, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    // The reader still reads the state it opened (its files are never changed in place), not a
    // mix: the second deployment's commits are not there.
    assert_eq!(reader.load(&model::DEPLOYMENT_COMMITS).unwrap().height(), 2);
    assert_eq!(reader.load(&model::DEPLOYMENTS).unwrap().height(), 2);
    // A commit that writes the partition whole removes the files the reader needs: it says so.
    fs::write(&file, DEPLOYS.replace("Succeeded", "failure")).unwrap();
    collect::import_file(&mut writer, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    let err = reader.load(&model::DEPLOYMENTS).unwrap_err();
    assert!(err.to_string().contains("run the command again"), "{err}");
    assert_eq!(Workspace::open_existing(&ws_dir).unwrap().load(&model::DEPLOYMENTS).unwrap().height(), 3);
}

#[test]
fn readers_take_no_lock_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let ws_dir = dir.path().join("ws");
    let mut ws = Workspace::open(&ws_dir).unwrap();
    collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    drop(ws);
    // As copied from a read-only share: no lock file.
    fs::remove_file(ws_dir.join("lock")).unwrap();
    let reader = Workspace::open_existing(&ws_dir).unwrap();
    assert_eq!(reader.load(&model::DEPLOYMENTS).unwrap().height(), 2);
    assert!(!ws_dir.join("lock").exists(), "a reader created the lock file");
    // Two readers at once, and a writer beside them.
    let second = Workspace::open_existing(&ws_dir).unwrap();
    let _writer = Workspace::open(&ws_dir).unwrap();
    assert_eq!(second.load(&model::DEPLOYMENTS).unwrap().height(), 2);
}

#[test]
fn a_workspace_path_that_is_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws");
    fs::write(&path, "not a directory").unwrap();
    for err in [Workspace::open(&path).err().unwrap(), Workspace::open_existing(&path).err().unwrap()] {
        assert!(matches!(err, Error::Workspace { .. }), "{err}");
        assert!(err.to_string().contains("is a file, not a workspace directory"), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn duplicate_ids_in_one_file_are_rejected_with_both_lines() {
    let content = format!("{DEPLOYS}1,checkout,prod-eu,aaa,2025-01-06T10:00:00Z,2025-01-06T10:20:00Z,failure,\n");
    let (err, before, after) = rejected("dup.csv", &content, ImportKind::Deployments);
    assert_row_error(&err, 4, "id", "duplicate id `import:deployment:1` (first on line 2)");
    assert_eq!(before, after);
    // A table keyed by two columns: the same commit of the same change twice.
    let links = "change_id,sha\n1,aaa\n1,bbb\n1,aaa\n";
    let (err, _, _) = rejected("links.csv", links, ImportKind::ChangeCommits);
    assert_row_error(&err, 4, "change_id, sha", "first on line 2");
    let ndjson = "{\"id\": 7, \"service\": \"checkout\", \"opened_at\": \"2025-01-02T00:00:00Z\"}\n{\"id\": \"7\", \"service\": \"checkout\", \"opened_at\": \"2025-01-03T00:00:00Z\"}\n";
    let (err, _, _) = rejected("incidents.ndjson", ndjson, ImportKind::Incidents);
    assert_row_error(&err, 2, "id", "`import:incident:7` (first on line 1)");
}

#[test]
fn duplicate_column_names_are_rejected() {
    let csv = "id,service,environment,finished_at,status,environment\n1,checkout,production,2025-01-01T00:00:00Z,success,staging\n";
    let (err, before, after) = rejected("dup.csv", csv, ImportKind::Deployments);
    assert_row_error(&err, 1, "environment", "names this column twice");
    assert_eq!(before, after);
    let json = "[\n {\"id\": \"1\", \"service\": \"checkout\", \"environment\": \"production\",\n  \"finished_at\": \"2025-01-01T00:00:00Z\", \"status\": \"success\"},\n {\"id\": \"2\", \"service\": \"checkout\", \"environment\": \"production\", \"finished_at\": \"2025-01-01T00:00:00Z\", \"status\": \"success\", \"environment\": \"staging\"}\n]\n";
    let (err, _, _) = rejected("dup.json", json, ImportKind::Deployments);
    assert_row_error(&err, 4, "environment", "names this field twice");
    let ndjson = "{\"id\": \"1\", \"status\": \"success\", \"status\": \"failure\"}\n";
    let (err, _, _) = rejected("dup.ndjson", ndjson, ImportKind::Deployments);
    assert_row_error(&err, 1, "status", "names this field twice");
}

#[test]
fn a_file_without_rows_imports_nothing_and_says_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    for (name, content) in [
        ("empty.csv", ""),
        ("header.csv", "id,service,environment,finished_at,status\n"),
        ("empty.json", "[]"),
        ("blank.json", "\n"),
        ("empty.ndjson", ""),
    ] {
        let file = dir.path().join(name);
        fs::write(&file, content).unwrap();
        let report = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
        assert_eq!(report.rows_read, 0);
        assert_eq!(report.warnings.len(), 1, "{name}: {:?}", report.warnings);
        let warning = &report.warnings[0];
        assert!(warning.contains(name) && warning.contains("no rows"), "{warning}");
        assert!(warning.contains("id, service, environment, finished_at, status"), "{warning}");
    }
    let file = dir.path().join("deploys.csv");
    fs::write(&file, DEPLOYS).unwrap();
    let report = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    assert!(report.warnings.is_empty());
}

#[test]
fn a_byte_order_mark_is_accepted_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let row = "{\"id\": \"1\", \"service\": \"checkout\", \"opened_at\": \"2025-01-02T00:00:00Z\"}";
    for (name, content) in [
        ("a.csv", "id,service,opened_at\n2,checkout,2025-01-02T00:00:00Z\n".to_string()),
        ("b.json", format!("[{row}]")),
        ("c.ndjson", format!("{row}\n")),
    ] {
        let file = dir.path().join(name);
        fs::write(&file, format!("\u{feff}{content}")).unwrap();
        let report = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Incidents))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.rows_read, 1, "{name}");
    }
    assert_eq!(ws.load(&model::INCIDENTS).unwrap().height(), 2);
}

#[test]
fn a_reader_meeting_commits_reads_again_and_sees_one_state() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = dir.path().join("ws");
    let file = dir.path().join("deploys.csv");
    let import = |ws: &mut Workspace, n: usize| {
        let csv = format!(
            "id,service,environment,sha,started_at,finished_at,status,commits\n\
             {n},checkout,prod-eu,s{n},2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,success,s{n}\n"
        );
        fs::write(&file, csv).unwrap();
        collect::import_file(ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    };
    let mut writer = Workspace::open(&ws_dir).unwrap();
    import(&mut writer, 0);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Every commit adds one deployment and the one commit it shipped.
            for n in 1..25 {
                import(&mut writer, n);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let (deployments, shipped, generation) = Workspace::read_consistent(&ws_dir, |ws| {
                let deployments = ws.load(&model::DEPLOYMENTS)?.height();
                let shipped = ws.load(&model::DEPLOYMENT_COMMITS)?.height();
                Ok((deployments, shipped, ws.manifest().generation))
            })
            .unwrap();
            assert_eq!(deployments, shipped, "tables from two commits were mixed");
            assert_eq!(deployments as u64, generation, "the manifest is from another commit than the tables");
            reads += 1;
        }
        assert!(reads > 0);
    });
}

#[test]
fn a_file_of_many_chunks_imports_every_row_and_finds_duplicates_across_chunks() {
    // The importer gathers rows into frames 10,000 at a time: 25,000 rows span three.
    let rows = 25_000;
    let mut csv = String::from("id,service,environment,finished_at,status,commits\n");
    for i in 0..rows {
        csv.push_str(&format!("{i},checkout,prod-eu,2025-01-06T10:00:00Z,success,s{i}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.csv");
    fs::write(&file, &csv).unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let report = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap();
    assert_eq!(report.rows_read, rows);
    let deployments = ws.load(&model::DEPLOYMENTS).unwrap();
    assert_eq!(deployments.height(), rows);
    assert_eq!(deployments.column("id").unwrap().str().unwrap().get(0), Some("import:deployment:0"));
    assert_eq!(ws.load(&model::DEPLOYMENT_COMMITS).unwrap().height(), rows);

    csv.push_str("7,checkout,prod-eu,2025-01-06T10:00:00Z,failure,\n");
    let (err, before, after) = rejected("dup.csv", &csv, ImportKind::Deployments);
    assert_row_error(&err, rows + 2, "id", "duplicate id `import:deployment:7` (first on line 9)");
    assert_eq!(before, after);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_whole() {
    let mut bytes = DEPLOYS.as_bytes().to_vec();
    bytes.extend_from_slice(b"3,checkout,prod-eu,ccc,2025-01-08T10:00:00Z,2025-01-08T10:10:00Z,success,\xff\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.csv");
    fs::write(&file, bytes).unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let err = collect::import_file(&mut ws, &cfg(), &request(&file, ImportKind::Deployments)).unwrap_err();
    assert!(matches!(err, Error::ImportFile { .. }), "{err}");
    assert!(err.to_string().contains("latin1.csv: cannot read: stream did not contain valid UTF-8"), "{err}");
    assert!(ws.is_empty());
}

/// Every column of the incidents table, the ones tracker collectors fill included, comes through an
/// import file: the guide in docs/import.md for tools flowgauge has no collector for relies on it.
#[test]
fn an_incident_file_carries_every_field_a_tracker_collector_fills() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incidents.ndjson");
    let line = serde_json::json!({
        "id": "INC-9", "service": "checkout", "title": "Checkout 500s", "severity": "sev1",
        "opened_at": "2025-03-03T10:00:00Z", "acknowledged_at": "2025-03-03T10:05:00Z",
        "mitigated_at": "2025-03-03T10:40:00Z", "resolved_at": "2025-03-03T12:00:00Z",
        "assignee": "dana", "priority": "P1", "team": "payments-sre", "detected_by": "Monitoring",
        "resolved_by": "dana", "caused_by_deployment_id": "4711", "caused_by_change_id": "88",
        "caused_by_sha": "9f3c2e1", "tracker_deployment_id": "4712",
        "review_url": "https://wiki.example.com/postmortems/INC-9"
    });
    fs::write(&file, format!("{line}\n")).unwrap();
    let mut ws = Workspace::open(&dir.path().join("ws")).unwrap();
    let mut req = request(&file, ImportKind::Incidents);
    req.namespace = "rootly".into();
    collect::import_file(&mut ws, &cfg(), &req).unwrap();
    let df = ws.load(&model::INCIDENTS).unwrap();
    for column in model::INCIDENTS.columns {
        assert_eq!(df.column(column.name).unwrap().null_count(), 0, "`{}` was not carried", column.name);
    }
    let text = |name: &str| df.column(name).unwrap().str().unwrap().get(0).unwrap().to_string();
    assert_eq!(text("tracker_deployment_id"), "rootly:deployment:4712");
    assert_eq!(text("caused_by_deployment_id"), "rootly:deployment:4711");
    assert_eq!(text("detected_by"), "monitoring");
    assert_eq!(text("source"), "rootly");
    let mitigated = df.column("mitigated_at").unwrap().datetime().unwrap().physical().get(0).unwrap();
    assert_eq!(mitigated, crate::helpers::t_utc("2025-03-03T10:40:00Z").timestamp_micros());
}

#[test]
fn tracker_fields_that_contradict_themselves_are_rejected() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "id,service,opened_at,detected_by\n7,checkout,2025-01-02T00:00:00Z,pager\n",
            "detected_by",
            "neither `monitoring`",
        ),
        (
            "id,service,opened_at,mitigated_at\n7,checkout,2025-01-02T00:00:00Z,2025-01-01T00:00:00Z\n",
            "mitigated_at",
            "before opened_at",
        ),
        (
            "id,service,opened_at,mitigated_at,resolved_at\n7,checkout,2025-01-02T00:00:00Z,2025-01-02T05:00:00Z,2025-01-02T04:00:00Z\n",
            "resolved_at",
            "before mitigated_at",
        ),
    ];
    for (content, field, words) in cases {
        let (err, before, after) = rejected("incidents.csv", content, ImportKind::Incidents);
        assert_row_error(&err, 2, field, words);
        assert_eq!(before, after);
    }
}
