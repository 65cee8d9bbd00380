//! The bundled sample organisation: every figure in `sample-data/acme/expected.json` (worked out by
//! hand in `EXPECTED.md`) must come out of the real pipeline: config → import → workspace → metrics.

use flowgauge::config::{Config, Overrides};
use flowgauge::metrics::{self, PeriodMetrics};
use flowgauge::store::Workspace;
use flowgauge::{assess, collect};
use serde_json::Value;

use crate::helpers::{now, repo_root};

fn close(what: &str, actual: Option<f64>, expected: &Value) {
    match (actual, expected.as_f64()) {
        (None, None) => {}
        (Some(a), Some(e)) => assert!((a - e).abs() < 1e-6, "{what}: expected {e}, got {a}"),
        (a, _) => panic!("{what}: expected {expected}, got {a:?}"),
    }
}

fn count(what: &str, actual: u64, expected: &Value) {
    assert_eq!(Some(actual), expected.as_u64(), "{what}");
}

fn check(what: &str, m: &PeriodMetrics, e: &Value) {
    count(&format!("{what} deployments"), m.deployment_frequency.deployments, &e["deployments"]);
    count(&format!("{what} failed"), m.change_failure_rate.failed, &e["failed"]);
    close(&format!("{what} change failure rate"), m.change_failure_rate.rate, &e["change_failure_rate"]);
    count(&format!("{what} lead time changes"), m.lead_time.changes, &e["lead_time_changes"]);
    close(&format!("{what} lead time median"), m.lead_time.median_hours, &e["lead_time_median_hours"]);
    count(&format!("{what} recovery failures"), m.failed_deployment_recovery_time.failures, &e["recovery_failures"]);
    close(
        &format!("{what} recovery median"),
        m.failed_deployment_recovery_time.median_hours,
        &e["recovery_median_hours"],
    );
    count(&format!("{what} incidents"), m.time_to_restore.incidents, &e["incidents"]);
    close(&format!("{what} time to restore"), m.time_to_restore.median_hours, &e["time_to_restore_median_hours"]);
    count(&format!("{what} rework"), m.rework_rate.rework, &e["rework"]);
    assert_eq!(Some(m.deployment_frequency.bucket.as_str()), e["bucket"].as_str(), "{what} bucket");
}

#[test]
fn the_sample_organisation_matches_its_hand_worked_figures() {
    let dir = repo_root().join("sample-data/acme");
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let config = Config::load(Some(&dir.join("flowgauge.toml")), &|_| None, &Overrides::default(), now()).unwrap();
    let workspace_dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_dir.path()).unwrap();
    collect::collect_configured(&mut workspace, &config).unwrap();
    let tables = metrics::load_tables(&workspace).unwrap();
    let queries = metrics::queries::load(None).unwrap();
    let computation = metrics::compute(&tables, &config, &queries).unwrap();
    let report = metrics::report(&computation, &config).unwrap();

    let services = expected["services"].as_object().unwrap();
    assert_eq!(report.services.len(), services.len());
    for (name, periods) in services {
        let service = report.services.iter().find(|s| &s.service == name).unwrap_or_else(|| panic!("no {name}"));
        for (period, e) in periods.as_object().unwrap() {
            let m = if period == "window" {
                &service.window
            } else {
                service.quarter.iter().find(|q| &q.period == period).unwrap_or_else(|| panic!("no {period}"))
            };
            check(&format!("{name} {period}"), m, e);
        }
        let levels = assess::levels(&service.window, &config.analysis);
        let e = &periods["window"]["levels"];
        let name_of = |r: &assess::Rating| r.level.map(|l| l.name());
        assert_eq!(name_of(&levels.deployment_frequency), e["deployment_frequency"].as_str(), "{name} df level");
        assert_eq!(name_of(&levels.lead_time), e["lead_time"].as_str(), "{name} lead time level");
        assert_eq!(name_of(&levels.change_failure_rate), e["change_failure_rate"].as_str(), "{name} cfr level");
        assert_eq!(name_of(&levels.recovery), e["recovery"].as_str(), "{name} recovery level");
        assert_eq!(name_of(&levels.overall), e["overall"].as_str(), "{name} overall level");
    }
}

#[test]
fn collecting_the_sample_twice_changes_nothing() {
    let dir = repo_root().join("sample-data/acme");
    let config = Config::load(Some(&dir.join("flowgauge.toml")), &|_| None, &Overrides::default(), now()).unwrap();
    let workspace_dir = tempfile::tempdir().unwrap();
    let snapshot = |path: &std::path::Path| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let mut workspace = Workspace::open(workspace_dir.path()).unwrap();
    collect::collect_configured(&mut workspace, &config).unwrap();
    let first = snapshot(workspace_dir.path());
    collect::collect_configured(&mut workspace, &config).unwrap();
    assert_eq!(first, snapshot(workspace_dir.path()));
}
