//! Taking the workspace elsewhere: `flowgauge sql` over the tables the metric queries see, the
//! queries run unchanged by DuckDB, `export --sql` for DuckDB/Trino/Spark and `export --postgres`.

use std::path::PathBuf;

use flowgauge::collect;
use flowgauge::config::{Config, Overrides};
use flowgauge::metrics::{self, MetricsReport};
use flowgauge::store::Workspace;

use crate::helpers::{flowgauge, now, repo_root, text};

/// The sample organisation collected into a temporary workspace, with its metrics as flowgauge computes them.
struct Sample {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    report: MetricsReport,
}

impl Sample {
    fn collect() -> Sample {
        let config_path = repo_root().join("sample-data/acme/flowgauge.toml");
        let config = Config::load(Some(&config_path), &|_| None, &Overrides::default(), now()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut workspace = Workspace::open(&dir.path().join("ws")).unwrap();
        collect::collect_configured(&mut workspace, &config).unwrap();
        let tables = metrics::load_tables(&workspace).unwrap();
        let queries = metrics::queries::load(None).unwrap();
        let computation = metrics::compute(&tables, &config, &queries).unwrap();
        let report = metrics::report(&computation, &config).unwrap();
        Sample { dir, config_path, report }
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// Runs flowgauge on the sample's configuration and workspace.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let config = self.config_path.display().to_string();
        let workspace = self.workspace().display().to_string();
        let mut all = vec!["--config", config.as_str(), "--workspace", workspace.as_str()];
        all.extend_from_slice(args);
        flowgauge(self.dir.path(), &all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

fn window_lead_time_median(report: &MetricsReport, service: &str) -> Option<f64> {
    report.services.iter().find(|s| s.service == service).unwrap().window.lead_time.median_hours
}

#[test]
fn sql_sees_the_tables_and_outputs_of_the_metric_queries() {
    let sample = Sample::collect();
    let json = sample.ok(&[
        "sql",
        "--format",
        "json",
        "SELECT service, median_hours, changes FROM lead_time WHERE grain = 'window' ORDER BY service",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), sample.report.services.len(), "{json}");
    for row in rows {
        let service = row["service"].as_str().unwrap();
        assert_eq!(row["median_hours"].as_f64(), window_lead_time_median(&sample.report, service), "{service}");
    }
    // The record queries' outputs and the prepared inputs are there under their own names.
    let counted = sample.ok(&[
        "sql",
        "--format",
        "csv",
        "SELECT COUNT(*) AS n FROM deployment_outcomes o JOIN deploys d ON d.deployment_id = o.deployment_id WHERE o.reason = 'counted'",
    ]);
    let expected: u64 = sample.report.services.iter().map(|s| s.window.deployment_frequency.deployments).sum();
    assert_eq!(counted, format!("n\n{expected}\n"));
    let table = sample.ok(&["sql", "SELECT grain, COUNT(*) AS periods FROM periods GROUP BY grain ORDER BY grain"]);
    assert!(table.starts_with("grain") && table.contains("window   3") && table.ends_with("(4 rows)\n"), "{table}");
}

#[test]
fn sql_csv_is_formula_safe_and_json_keeps_types() {
    let sample = Sample::collect();
    let csv = sample.ok(&["sql", "--format", "csv", "SELECT '=HYPERLINK(\"http://x\")' AS title, -3.5 AS n"]);
    assert_eq!(csv, "title,n\n\"'=HYPERLINK(\"\"http://x\"\")\",-3.5\n");
    let json = sample.ok(&["sql", "--format", "json", "SELECT 1 AS i, 2.5 AS f, true AS b, NULL AS nothing, 'x' AS s"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows, serde_json::json!([{"i": 1, "f": 2.5, "b": true, "nothing": null, "s": "x"}]));
}

#[test]
fn bad_sql_is_a_query_error_naming_the_tables() {
    let sample = Sample::collect();
    for statement in ["SELEC service FROM changes", "SELECT * FROM no_such_table", "   "] {
        let out = sample.run(&["sql", statement]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{statement}: {stderr}");
        assert!(stderr.contains("(ad-hoc SQL)"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let stderr = text(&sample.run(&["sql", "SELECT * FROM no_such_table"]).stderr);
    assert!(stderr.contains("deployment_outcomes") && stderr.contains("incident_links"), "{stderr}");
}

#[test]
fn sql_on_an_empty_workspace_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = flowgauge(dir.path(), &["--workspace", "ws", "sql", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
}
