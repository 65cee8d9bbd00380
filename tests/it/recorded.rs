//! GitHub sources read from recorded raw pages (`recorded` in a github source): the sample's ledger
//! pages extract with no network and no token, twice to the same tables, and the setting is validated.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flowgauge::config::{Config, Overrides, Source};
use flowgauge::model::{self, TABLES};
use flowgauge::store::Workspace;
use flowgauge::{Error, collect};

use crate::helpers::{copy_dir, now, repo_root, text};

fn sample_config() -> Config {
    let file = repo_root().join("sample-data/acme/flowgauge.toml");
    Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap()
}

/// The configuration's only source: the sample's recorded GitHub source.
fn ledger_only(mut config: Config) -> Config {
    config.sources.retain(|s| matches!(s, Source::Github(_)));
    assert_eq!(config.sources.len(), 1, "the sample has one github source");
    config
}

fn parquet_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

fn count_where(ws: &Workspace, table: &'static model::TableSchema, column: &str, value: &str) -> usize {
    let df = ws.load(table).unwrap();
    df.column(column).unwrap().str().unwrap().iter().filter(|v| *v == Some(value)).count()
}

#[test]
fn the_sample_ledger_is_extracted_from_recorded_pages_without_the_network() {
    let mut config = ledger_only(sample_config());
    // Point the source at a server that would notice any connection, and hand collection a token:
    // neither may be used for recorded pages.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    match &mut config.sources[0] {
        Source::Github(g) => {
            assert_eq!(g.repo, "acme/ledger");
            assert!(g.recorded.as_ref().is_some_and(|d| d.ends_with("sample-data/acme/github")), "{:?}", g.recorded);
            g.api_url = Some(format!("http://{address}"));
        }
        _ => unreachable!(),
    }
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let reports = collect::collect_configured_with(&mut ws, &config, Some("not-a-token".into()), None).unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 0, "recorded pages are read without the network");
    let report = match &reports[..] {
        [collect::SourceReport::Github(r)] => r,
        _ => panic!("one github report"),
    };
    // One page each of pull requests, deployments, incident issues (none), environments and
    // CODEOWNERS (with its errors).
    assert_eq!((report.pages, report.requests), (5, 0));
    // The prod environment's branch policy, CODEOWNERS, and the owner GitHub does not know.
    assert_eq!(report.evidence, 3);
    assert_eq!(count_where(&ws, &model::EVIDENCE, "kind", "gap"), 1);
    assert_eq!((report.changes, report.change_commits), (53, 106));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    assert_eq!(count_where(&ws, &model::CHANGES, "source", "github"), 53);
    assert_eq!(count_where(&ws, &model::CHANGES, "service", "ledger"), 53);
    assert_eq!(count_where(&ws, &model::DEPLOYMENTS, "source", "github"), 52);
    assert_eq!(count_where(&ws, &model::DEPLOYMENTS, "environment", "prod"), 52);
    assert_eq!(count_where(&ws, &model::DEPLOYMENTS, "status", "success"), 52);
    assert_eq!(ws.load(&model::INCIDENTS).unwrap().height(), 0);
    let deployments = ws.load(&model::DEPLOYMENTS).unwrap();
    assert!(deployments.column("is_production").unwrap().bool().unwrap().iter().all(|p| p == Some(true)));
    // The release of Feb 4, 2025 (the one the Feb 5 incident names), live at 15:00.
    let ids = deployments.column("id").unwrap().str().unwrap().clone();
    assert!(ids.iter().any(|id| id == Some("github:deployment:acme/ledger:20250204")));
    // The recorded source is listed with the workspace's sources.
    assert!(ws.manifest().sources.keys().any(|k| k.starts_with("github:acme/ledger:recorded:")));

    // Collecting again changes no table.
    let first = parquet_files(dir.path());
    collect::collect_configured_with(&mut ws, &config, None, None).unwrap();
    assert_eq!(first, parquet_files(dir.path()));
    drop(ws);

    // The same pages copied into a workspace's raw layer and re-extracted offline give the same tables.
    let offline = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("sample-data/acme/github"), &offline.path().join("raw/github"));
    let mut ws2 = Workspace::open(offline.path()).unwrap();
    collect::github::reextract(&mut ws2, &config, "acme/ledger").unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    for table in TABLES {
        assert!(ws.load(table).unwrap().equals_missing(&ws2.load(table).unwrap()), "{} differs", table.name);
    }
}

/// Runs the binary with no GitHub token in its environment.
fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowgauge"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWGAUGE_CONFIG")
        .env_remove("FLOWGAUGE_WORKSPACE")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .output()
        .expect("binary runs")
}

#[test]
fn collect_reads_recorded_pages_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let config = config.to_str().unwrap();
    let ws = dir.path().join("ws");
    let ws = ws.to_str().unwrap();

    let out = run(dir.path(), &["--config", config, "--workspace", ws, "collect", "github"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("GitHub acme/ledger: 5 pages, 0 requests"), "{stderr}");
    assert!(!stderr.contains("GITHUB_TOKEN"), "no token warning for recorded pages: {stderr}");

    let out = run(dir.path(), &["--config", config, "--workspace", ws, "collect"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("GitHub acme/ledger: 5 pages, 0 requests"), "{}", text(&out.stderr));

    // --api-url cannot redirect a source that reads recorded pages.
    let out = run(
        dir.path(),
        &["--config", config, "--workspace", ws, "collect", "github", "--api-url", "http://127.0.0.1:9"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("recorded pages"), "{}", text(&out.stderr));
}

fn key_error(dir: &Path, source: &str) -> (String, String) {
    let file = dir.join("flowgauge.toml");
    std::fs::write(&file, format!("[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\n{source}"))
        .unwrap();
    match Config::load(Some(&file), &|_| None, &Overrides::default(), now()) {
        Err(Error::ConfigValue { key, message }) => (key, message),
        Err(other) => panic!("not a value error: {other}"),
        Ok(_) => panic!("accepted: {source}"),
    }
}

#[test]
fn recorded_is_validated_and_relative_to_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let github = "type = \"github\"\nrepo = \"acme/shop\"\n";

    let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"pages\"\n"));
    assert_eq!(key, "sources[0].recorded");
    let missing = dir.path().join("pages");
    assert!(message.contains(&missing.display().to_string()) && message.contains("does not exist"), "{message}");

    std::fs::write(dir.path().join("file"), "").unwrap();
    let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"file\"\n"));
    assert_eq!(key, "sources[0].recorded");
    assert!(message.contains("is not a directory"), "{message}");

    std::fs::create_dir(&missing).unwrap();
    for (extra, field) in [
        ("api_url = \"https://github.example.com/api/v3\"\n", "api_url"),
        ("max_wait_seconds = 10\n", "max_wait_seconds"),
        ("incident_labels = [\"outage\"]\n", "incident_labels"),
    ] {
        let (key, message) = key_error(dir.path(), &format!("{github}recorded = \"pages\"\n{extra}"));
        assert_eq!(key, format!("sources[0].{field}"));
        assert!(message.contains("recorded"), "{message}");
    }
    for other in ["type = \"import\"\npath = \"x.csv\"\nkind = \"deployments\"\n", "type = \"git\"\npath = \".\"\n"] {
        let (key, message) = key_error(dir.path(), &format!("{other}recorded = \"pages\"\n"));
        assert_eq!(key, "sources[0].recorded");
        assert!(message.contains("github"), "{message}");
    }
    let file = dir.path().join("flowgauge.toml");
    std::fs::write(&file, format!("[[sources]]\n{github}recorded_pages = \"pages\"\n")).unwrap();
    let error = Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap_err().to_string();
    assert!(error.contains("recorded_pages"), "unknown keys are denied: {error}");

    // Accepted, and resolved against the configuration file's directory.
    std::fs::write(
        &file,
        format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\n{github}recorded = \"pages\"\n"
        ),
    )
    .unwrap();
    let config = Config::load(Some(&file), &|_| None, &Overrides::default(), now()).unwrap();
    match &config.sources[0] {
        Source::Github(g) => assert_eq!(g.recorded.as_deref(), Some(missing.as_path())),
        _ => panic!("not a github source"),
    }

    // A directory with no pages for the repository fails when collecting, naming where it looked.
    let ws_dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(ws_dir.path()).unwrap();
    let error = collect::collect_configured(&mut ws, &config).unwrap_err();
    assert!(matches!(error, Error::NotFound(_)), "{error}");
    assert!(error.to_string().contains(&missing.join("acme/shop").display().to_string()), "{error}");
}
