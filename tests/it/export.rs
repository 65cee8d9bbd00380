//! Taking the workspace elsewhere: `flowgauge sql` over the tables the metric queries see, the
//! queries run unchanged by DuckDB, `export --sql` for DuckDB/Trino/Spark and `export --postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;

use flowgauge::calendar::Grain;
use flowgauge::collect;
use flowgauge::config::{Config, Overrides};
use flowgauge::export::{self, Snapshot};
use flowgauge::metrics::{self, MetricsReport};
use flowgauge::store::Workspace;
use polars::prelude::*;

use crate::helpers::{flowgauge, now, repo_root, text};

/// The sample organisation collected into a temporary workspace, with its metrics as flowgauge computes them.
struct Sample {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    config: Config,
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
        Sample { dir, config_path, config, report }
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

    /// What polars computed, every table by name.
    fn snapshot(&self) -> Snapshot {
        let workspace = Workspace::open(&self.workspace()).unwrap();
        let tables = metrics::load_tables(&workspace).unwrap();
        export::snapshot(&tables, &self.config, &metrics::queries::load(None).unwrap()).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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
    // One window period per service of the sample (fewer than ten, so the column stays this wide).
    let window_periods = format!("window   {}", sample.report.services.len());
    assert!(table.starts_with("grain") && table.contains(&window_periods) && table.ends_with("(4 rows)\n"), "{table}");
}

#[test]
fn sql_csv_is_formula_safe_and_json_keeps_types() {
    let sample = Sample::collect();
    let csv = sample.ok(&["sql", "--format", "csv", "SELECT '=HYPERLINK(\"http://x\")' AS title, -3.5 AS n"]);
    assert_eq!(csv, "title,n\n\"'=HYPERLINK(\"\"http://x\"\")\",-3.5\n");
    let json = sample.ok(&["sql", "--format", "json", "SELECT 1 AS i, 2.5 AS f, true AS b, NULL AS nothing, 'x' AS s"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows, serde_json::json!([{"i": 1, "f": 2.5, "b": true, "nothing": null, "s": "x"}]));
    // Keys keep the statement's column order.
    assert_eq!(json, "[\n  {\"i\": 1, \"f\": 2.5, \"b\": true, \"nothing\": null, \"s\": \"x\"}\n]\n");
    assert_eq!(sample.ok(&["sql", "--format", "json", "SELECT service FROM periods WHERE grain = 'none'"]), "[]\n");
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

/// Whether Python's `duckdb` package can be imported; CI installs it and sets
/// FLOWGAUGE_REQUIRE_DUCKDB, so there these tests can never be skipped.
fn duckdb_available() -> bool {
    let found = Command::new("python3").args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("FLOWGAUGE_REQUIRE_DUCKDB").is_none(),
            "FLOWGAUGE_REQUIRE_DUCKDB is set but `python3 -c 'import duckdb'` fails"
        );
        eprintln!("skipping: no Python duckdb package (pip install duckdb)");
    }
    found
}

fn python(script: &str, args: &[&Path]) {
    let out = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "DuckDB side failed: {}", text(&out.stderr));
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .finish()
        .unwrap()
}

/// A cell as something both engines agree on: numbers as f64 (DuckDB sums are 128-bit, polars
/// counts unsigned), text as text.
#[derive(Debug, PartialEq)]
enum Cell {
    Null,
    Number(f64),
    Text(String),
    Bool(bool),
}

fn cell(value: AnyValue) -> Cell {
    match value {
        AnyValue::Null => Cell::Null,
        AnyValue::Boolean(b) => Cell::Bool(b),
        AnyValue::String(s) => Cell::Text(s.to_string()),
        AnyValue::StringOwned(s) => Cell::Text(s.to_string()),
        other => Cell::Number(other.extract::<f64>().unwrap_or_else(|| panic!("unexpected cell {other:?}"))),
    }
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Number(x), Cell::Number(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

/// Asserts two outputs hold the same rows (in any order) and columns (in the same order).
fn assert_same(what: &str, polars: &DataFrame, duckdb: &DataFrame, keys: &[&str]) {
    let names = |df: &DataFrame| df.get_column_names().iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(names(polars), names(duckdb), "{what}: columns");
    assert_eq!(polars.height(), duckdb.height(), "{what}: rows");
    let sorted = |df: &DataFrame| {
        df.sort(keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(), SortMultipleOptions::default()).unwrap()
    };
    let (p, d) = (sorted(polars), sorted(duckdb));
    for name in names(&p) {
        let (pc, dc) = (p.column(&name).unwrap(), d.column(&name).unwrap());
        for i in 0..p.height() {
            let (a, b) = (cell(pc.get(i).unwrap()), cell(dc.get(i).unwrap()));
            assert!(same(&a, &b), "{what}: row {i} column {name}: polars {a:?}, DuckDB {b:?}");
        }
    }
}

/// Runs the query files as they are, in flowgauge's order, with DuckDB over the tables polars read:
/// record queries once, period queries once per grain over the records with that grain's `period`.
const RUN_QUERY_FILES: &str = r#"
import duckdb, os, sys
tables, queries, out = sys.argv[1], sys.argv[2], sys.argv[3]
order = sys.argv[4].split(",")
records = sys.argv[5].split(",")
def load(con, skip=()):
    for name in os.listdir(tables):
        if name not in skip:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{tables}/{name}/*.parquet')")
def connect():
    con = duckdb.connect()
    try:
        con.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")  # the rewritten Trino text's `v -> ...`
    except duckdb.Error:
        pass
    return con
con = connect()
load(con)
for name in order:
    if name in records:
        con.execute(f"CREATE TABLE {name} AS " + open(f"{queries}/{name}.sql").read())
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet)")
for grain in ["window", "quarter", "month", "week"]:
    con = connect()
    load(con, skip=("periods", "service_weeks"))
    for calendar in ["periods", "service_weeks"]:
        con.execute(f"CREATE VIEW {calendar} AS SELECT * EXCLUDE (grain) FROM read_parquet('{tables}/{calendar}/*.parquet') WHERE grain = '{grain}'")
    for name in records:
        con.execute(f"CREATE VIEW {name} AS SELECT r.*, r.{grain} AS period FROM read_parquet('{out}/{name}.parquet') r")
    for name in order:
        if name not in records:
            con.execute(f"COPY (" + open(f"{queries}/{name}.sql").read() + f") TO '{out}/{grain}-{name}.parquet' (FORMAT parquet)")
"#;

/// Runs the query files of `queries` with DuckDB (see [`RUN_QUERY_FILES`]) over the tables polars
/// read, and asserts every output, record and period of every grain, equals polars'.
fn assert_duckdb_runs_like_polars(sample: &Sample, queries_dir: &Path) {
    sample.ok(&["export", "--sql", "duckdb", "--out", "exported"]);
    let snapshot = sample.snapshot();
    let queries = metrics::queries::load(None).unwrap();
    let order: Vec<&str> = queries.iter().map(|q| q.file.as_str()).collect();
    let records: Vec<&str> =
        queries.iter().filter(|q| q.grain == metrics::QueryGrain::Record).map(|q| q.file.as_str()).collect();
    let out = sample.path("duckdb-out");
    std::fs::create_dir_all(&out).unwrap();
    let (order_arg, records_arg) = (PathBuf::from(order.join(",")), PathBuf::from(records.join(",")));
    python(RUN_QUERY_FILES, &[&sample.path("exported/tables"), queries_dir, &out, &order_arg, &records_arg]);
    for (name, df) in &snapshot.records {
        let key = df.get_column_names()[0].to_string();
        assert_same(name, df, &read_parquet(&out.join(format!("{name}.parquet"))), &[key.as_str()]);
    }
    for grain in Grain::ALL {
        for (name, _) in &snapshot.periods {
            let polars = &snapshot.computation.aggregates[&(grain, name.clone())];
            let duckdb = read_parquet(&out.join(format!("{}-{name}.parquet", grain.name())));
            assert_same(&format!("{name} by {}", grain.name()), polars, &duckdb, &["service", "period"]);
        }
    }
}

#[test]
fn every_query_file_runs_unchanged_on_duckdb_with_the_figures_of_polars() {
    if !duckdb_available() {
        return;
    }
    let sample = Sample::collect();
    assert_duckdb_runs_like_polars(&sample, &repo_root().join("queries"));
}

#[test]
fn the_trino_rewrite_computes_polars_figures() {
    if !duckdb_available() {
        return;
    }
    // No Trino here: the rewritten text is mapped function for function onto DuckDB's names for the
    // same array functions, which checks the interpolation and the null-skipping LEAST/GREATEST.
    let trino_to_duckdb = [
        ("array_sort(", "list_sort("),
        ("array_min(", "list_min("),
        ("array_max(", "list_max("),
        ("transform(", "list_transform("),
        ("filter(", "list_filter("),
        ("cardinality(", "len("),
        ("ARRAY[", "["),
    ];
    let sample = Sample::collect();
    let dir = sample.path("trino-queries");
    std::fs::create_dir(&dir).unwrap();
    for (file, text) in metrics::queries::EMBEDDED {
        let mut sql = export::dialect::rewrite(export::dialect::Dialect::Trino, text).unwrap();
        assert_eq!(sql.contains("array_agg("), text.contains("MEDIAN(") || text.contains("QUANTILE_CONT("), "{file}");
        for (from, to) in trino_to_duckdb {
            sql = sql.replace(from, to);
        }
        std::fs::write(dir.join(format!("{file}.sql")), sql).unwrap();
    }
    assert_duckdb_runs_like_polars(&sample, &dir);
}

/// Runs the script `export --sql duckdb` wrote and saves every period view (all grains) as parquet.
const RUN_EXPORTED_SCRIPT: &str = r#"
import duckdb, sys
script, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(open(script).read())
for name in sys.argv[3].split(","):
    con.execute(f"COPY (SELECT * FROM {name}) TO '{out}/{name}.parquet' (FORMAT parquet)")
"#;

#[test]
fn the_exported_duckdb_script_gives_flowgauges_figures() {
    if !duckdb_available() {
        return;
    }
    let sample = Sample::collect();
    let note = text(&sample.run(&["export", "--sql", "duckdb", "--out", "exported"]).stderr);
    assert!(note.contains("duckdb.sql"), "{note}");
    let script = sample.path("exported/duckdb.sql");
    let written = std::fs::read_to_string(&script).unwrap();
    // The queries run unchanged: each file's text is there as it is.
    for (file, text) in metrics::queries::EMBEDDED {
        let body = text.lines().skip_while(|l| l.starts_with("--")).collect::<Vec<_>>().join("\n");
        assert!(written.contains(&body), "{file} is not in the script unchanged");
    }
    let snapshot = sample.snapshot();
    let names: Vec<&str> = snapshot.periods.iter().map(|(n, _)| n.as_str()).collect();
    let out = sample.path("duckdb-out");
    std::fs::create_dir(&out).unwrap();
    python(RUN_EXPORTED_SCRIPT, &[&script, &out, &PathBuf::from(names.join(","))]);
    for (name, polars) in &snapshot.periods {
        let duckdb = read_parquet(&out.join(format!("{name}.parquet")));
        assert_same(name, polars, &duckdb, &["grain", "service", "period"]);
    }
    // A metric as `flowgauge metrics` reports it, read back from DuckDB.
    let lead = read_parquet(&out.join("lead_time.parquet"));
    let row = lead
        .clone()
        .lazy()
        .filter(col("grain").eq(lit("window")).and(col("service").eq(lit("payments"))))
        .collect()
        .unwrap();
    let median = row.column("median_hours").unwrap().get(0).unwrap().extract::<f64>();
    assert_eq!(median, window_lead_time_median(&sample.report, "payments"));
}

/// Exporting the same workspace again gives the same files, byte for byte: an analyst can diff two
/// exports, and only a change of data changes one. (`shipped` came out of a threaded hash join in
/// an order that changed from run to run.)
#[test]
fn exporting_the_same_workspace_again_writes_the_same_files() {
    let sample = Sample::collect();
    sample.ok(&["export", "--sql", "duckdb", "--out", "first"]);
    let files = parquet_files(&sample.path("first"));
    assert!(files.iter().any(|f| f.ends_with("shipped/part-0.parquet")), "{files:?}");
    for again in ["second", "third", "fourth"] {
        sample.ok(&["export", "--sql", "duckdb", "--out", again]);
        for file in &files {
            let (a, b) = (sample.path("first").join(file), sample.path(again).join(file));
            assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{} differs in {again}", file.display());
        }
    }
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(parquet_files(&path).into_iter().map(|p| Path::new(&entry.file_name()).join(p)));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            found.push(PathBuf::from(entry.file_name()));
        }
    }
    found.sort();
    found
}

#[test]
fn export_replaces_its_own_output_and_refuses_anything_else() {
    let sample = Sample::collect();
    sample.ok(&["export", "--sql", "trino", "--out", "exported", "--location", "s3://bucket/acme"]);
    sample.ok(&["export", "--sql", "spark", "--out", "exported"]);
    let names: Vec<String> = std::fs::read_dir(sample.path("exported"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"spark.sql".to_string()) && names.contains(&"tables".to_string()), "{names:?}");
    std::fs::create_dir(sample.path("mine")).unwrap();
    std::fs::write(sample.path("mine/notes.txt"), "keep").unwrap();
    let out = sample.run(&["export", "--sql", "duckdb", "--out", "mine"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(sample.path("mine/notes.txt")).unwrap(), "keep");
    assert!(!sample.path(".mine.partial").exists());
}

#[test]
fn trino_and_spark_scripts_define_external_tables_and_rewritten_queries() {
    let sample = Sample::collect();
    sample.ok(&["export", "--sql", "trino", "--out", "trino", "--location", "s3://bucket/acme/"]);
    let trino = std::fs::read_to_string(sample.path("trino/trino.sql")).unwrap();
    assert!(trino.contains(
        "CREATE TABLE deploys (\"deployment_id\" varchar, \"service\" varchar, \"environment\" varchar, \"status\" varchar, \"is_production\" boolean, \"is_prod_success\" boolean, \"deployed_ts\" bigint"
    ), "{trino}");
    assert!(trino.contains("WITH (external_location = 's3://bucket/acme/deploys', format = 'PARQUET');"), "{trino}");
    assert!(!trino.to_ascii_uppercase().contains("MEDIAN(") && trino.contains("array_agg("));
    assert!(trino.contains("USE hive.flowgauge_by_quarter;"));
    sample.ok(&["export", "--sql", "spark", "--out", "spark"]);
    let spark = std::fs::read_to_string(sample.path("spark/spark.sql")).unwrap();
    let location = format!("file://{}", sample.path("spark/tables/deploys").display());
    assert!(spark.contains(&format!("CREATE TABLE deploys USING parquet LOCATION '{location}';")), "{spark}");
    assert!(spark.contains("percentile(c.lead_time_s, 0.75)") && !spark.contains("QUANTILE_CONT"), "{spark}");
}

/// The PostgreSQL to test against: FLOWGAUGE_TEST_POSTGRES (`.ci/run` starts one and sets it, and
/// FLOWGAUGE_REQUIRE_POSTGRES, so in CI these tests can never be skipped).
fn test_postgres() -> Option<String> {
    let url = std::env::var("FLOWGAUGE_TEST_POSTGRES").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var_os("FLOWGAUGE_REQUIRE_POSTGRES").is_none(),
            "FLOWGAUGE_REQUIRE_POSTGRES is set but FLOWGAUGE_TEST_POSTGRES is not"
        );
        eprintln!("skipping: FLOWGAUGE_TEST_POSTGRES is not set (postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
    }
    url
}

/// A schema of its own for one test, dropped when the test ends.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str, test: &str) -> Schema {
        let schema = Schema { url: url.to_string(), name: format!("fg_{}_{test}", std::process::id()) };
        schema.client().batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema.name)).unwrap();
        schema
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Every row of a table as text, sorted: for comparing two loads.
    fn dump(&self, table: &str) -> Vec<String> {
        let sql = format!("SELECT t::text FROM {}.{table} t", self.name);
        let mut rows: Vec<String> = self.client().query(&sql, &[]).unwrap().iter().map(|r| r.get(0)).collect();
        rows.sort();
        rows
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
fn postgres_export_loads_the_tables_and_metrics_and_a_second_run_changes_nothing() {
    let Some(url) = test_postgres() else { return };
    let schema = Schema::new(&url, "load");
    let sample = Sample::collect();
    let args = ["export", "--postgres", url.as_str(), "--schema", schema.name.as_str()];
    let first = sample.run(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    // Every domain table row by row, and the metrics.
    let workspace = Workspace::open(&sample.workspace()).unwrap();
    let tables = metrics::load_tables(&workspace).unwrap();
    let mut client = schema.client();
    for table in flowgauge::model::TABLES {
        let count: i64 =
            client.query_one(&format!("SELECT COUNT(*) FROM {}.{}", schema.name, table.name), &[]).unwrap().get(0);
        assert_eq!(count as usize, tables[table.name].height(), "{}", table.name);
    }
    let median: Option<f64> = client
        .query_one(
            &format!(
                "SELECT median_hours FROM {}.lead_time WHERE grain = 'window' AND service = 'payments'",
                schema.name
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(median, window_lead_time_median(&sample.report, "payments"));
    let deployed: i64 = client
        .query_one(
            &format!(
                "SELECT SUM(deployments)::bigint FROM {}.deployment_frequency WHERE grain = 'quarter'",
                schema.name
            ),
            &[],
        )
        .unwrap()
        .get(0);
    let expected: u64 = sample.report.services.iter().map(|s| s.window.deployment_frequency.deployments).sum();
    assert_eq!(deployed as u64, expected);
    let start: String = client
        .query_one(
            &format!(
                "SELECT to_char(MIN(period_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM {}.lead_time WHERE grain = 'quarter'",
                schema.name
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(start, "2025-01-01 00:00:00");

    // A view a team built on a table survives a second run, which leaves the same rows.
    client.batch_execute(&format!("CREATE VIEW {0}.mine AS SELECT service FROM {0}.deployments", schema.name)).unwrap();
    let before: Vec<Vec<String>> = ["deployments", "changes", "incidents", "deployment_outcomes", "lead_time"]
        .iter()
        .map(|t| schema.dump(t))
        .collect();
    let second = sample.run(&args);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let after: Vec<Vec<String>> = ["deployments", "changes", "incidents", "deployment_outcomes", "lead_time"]
        .iter()
        .map(|t| schema.dump(t))
        .collect();
    assert_eq!(before, after);
    let mine: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {}.mine", schema.name), &[]).unwrap().get(0);
    assert_eq!(mine as usize, tables["deployments"].height());
}

#[test]
fn postgres_password_comes_from_the_url_or_pgpassword_and_is_never_printed() {
    let Some(url) = test_postgres() else { return };
    let config: postgres::Config = url.parse().unwrap();
    let password = String::from_utf8(config.get_password().expect("the test URL has a password").to_vec()).unwrap();
    let without = url.replacen(&format!(":{password}@"), "@", 1);
    assert_ne!(without, url);
    let schema = Schema::new(&url, "pgpassword");
    let sample = Sample::collect();
    let workspace = sample.workspace().display().to_string();
    let config_path = sample.config_path.display().to_string();
    let base = [
        "--config",
        config_path.as_str(),
        "--workspace",
        workspace.as_str(),
        "export",
        "--schema",
        schema.name.as_str(),
    ];
    let run = |url: &str, pgpassword: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowgauge"));
        command.args(base).args(["--postgres", url]).current_dir(sample.dir.path()).env_remove("PGPASSWORD");
        if let Some(p) = pgpassword {
            command.env("PGPASSWORD", p);
        }
        command.output().unwrap()
    };
    let with_env = run(&without, Some(&password));
    assert!(with_env.status.success(), "{}", text(&with_env.stderr));
    let wrong = "n0t-the-Passw0rd";
    let refused = run(&url.replacen(&format!(":{password}@"), &format!(":{wrong}@"), 1), None);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("password authentication failed") && stderr.contains("PostgreSQL localhost"), "{stderr}");
    for out in [&with_env, &refused] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains(&password) && !all.contains(wrong), "{all}");
    }
    let bad_schema = sample.run(&["export", "--postgres", url.as_str(), "--schema", "x; DROP TABLE y"]);
    assert_eq!(bad_schema.status.code(), Some(2), "{}", text(&bad_schema.stderr));
}

#[test]
fn the_grafana_dashboard_queries_run_on_the_exported_tables() {
    let Some(url) = test_postgres() else { return };
    let schema = Schema::new(&url, "grafana");
    let sample = Sample::collect();
    sample.ok(&["export", "--postgres", url.as_str(), "--schema", schema.name.as_str()]);
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("docs/grafana-dashboard.json")).unwrap())
            .unwrap();
    // Grafana's macros and variables, as Grafana expands them for "the last ten years, every service".
    let every_service = sample.report.services.iter().map(|s| format!("'{}'", s.service)).collect::<Vec<_>>().join(",");
    let expand = |sql: &str, grain: &str| {
        sql.replace("${schema}", &schema.name)
            .replace("${grain}", grain)
            .replace("${service:sqlstring}", &every_service)
            .replace("$__timeFilter(period_start)", "period_start BETWEEN '2020-01-01' AND '2030-01-01'")
    };
    let mut client = schema.client();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let services = variables.iter().find(|v| v["name"] == "service").unwrap()["query"].as_str().unwrap();
    assert_eq!(client.query(&expand(services, "month"), &[]).unwrap().len(), sample.report.services.len());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 5);
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let sql = target["rawSql"].as_str().unwrap();
            for grain in ["week", "month", "quarter"] {
                let rows = client.query(&expand(sql, grain), &[]).unwrap_or_else(|e| panic!("{}: {e}", panel["title"]));
                assert!(!rows.is_empty(), "{} by {grain}: no rows", panel["title"]);
            }
        }
    }
}
