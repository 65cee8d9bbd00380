//! Small builders for table-in/table-out tests: rows by column name, times in RFC 3339.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::config::Config;
use flowgauge::metrics::{self, Computation, MetricsReport, PeriodMetrics};
use flowgauge::model::{self, Row, TableSchema, Value};
use flowgauge::store::rows_to_frame;

pub fn t(s: &str) -> Value {
    Value::Time(DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc))
}

pub fn t_utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
}

pub fn s(v: &str) -> Value {
    Value::Text(v.to_string())
}

pub fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// A row of `schema` with the named cells set and every other cell empty.
pub fn row(schema: &TableSchema, cells: &[(&str, Value)]) -> Row {
    let mut row = vec![Value::Null; schema.columns.len()];
    for (name, value) in cells {
        let i = schema.position(name).unwrap_or_else(|| panic!("{} has no column {name}", schema.name));
        row[i] = value.clone();
    }
    row
}

/// Domain tables built row by row.
#[derive(Default)]
pub struct Fixture {
    rows: HashMap<&'static str, Vec<Row>>,
}

impl Fixture {
    pub fn add(&mut self, schema: &'static TableSchema, cells: &[(&str, Value)]) -> &mut Self {
        self.rows.entry(schema.name).or_default().push(row(schema, cells));
        self
    }

    /// A deployment: id, service, environment, status, finished time (started ten minutes earlier).
    pub fn deploy(&mut self, id: &str, service: &str, env: &str, status: &str, finished: &str) -> &mut Self {
        let done = t(finished);
        let Value::Time(end) = done else { unreachable!() };
        let start = Value::Time(end - chrono::Duration::minutes(10));
        self.add(
            &model::DEPLOYMENTS,
            &[
                ("id", s(id)),
                ("source", s("test")),
                ("service", s(service)),
                ("environment", s(env)),
                ("is_production", b(env == "production")),
                ("started_at", start),
                ("finished_at", done),
                ("status", s(status)),
            ],
        )
    }

    /// Marks the last added deployment as a rollback or hotfix.
    pub fn flag_last_deploy(&mut self, column: &str) -> &mut Self {
        let schema = &model::DEPLOYMENTS;
        let i = schema.position(column).unwrap();
        self.rows.get_mut(schema.name).unwrap().last_mut().unwrap()[i] = b(true);
        self
    }

    pub fn ships(&mut self, deployment: &str, shas: &[&str]) -> &mut Self {
        for sha in shas {
            self.add(&model::DEPLOYMENT_COMMITS, &[("deployment_id", s(deployment)), ("sha", s(sha))]);
        }
        self
    }

    /// A merged change: id, service, first commit, opened, merged, merge sha.
    pub fn change(
        &mut self,
        id: &str,
        service: &str,
        first_commit: &str,
        opened: &str,
        merged: Option<&str>,
        sha: &str,
    ) -> &mut Self {
        let mut cells = vec![
            ("id", s(id)),
            ("source", s("test")),
            ("service", s(service)),
            ("author", s("alice")),
            ("first_commit_at", t(first_commit)),
            ("created_at", t(opened)),
            ("merge_commit_sha", s(sha)),
        ];
        if let Some(merged) = merged {
            cells.push(("merged_at", t(merged)));
        }
        self.add(&model::CHANGES, &cells)
    }

    pub fn incident(
        &mut self,
        id: &str,
        service: &str,
        opened: &str,
        resolved: Option<&str>,
        caused_by: Option<&str>,
    ) -> &mut Self {
        let mut cells = vec![("id", s(id)), ("source", s("test")), ("service", s(service)), ("opened_at", t(opened))];
        if let Some(r) = resolved {
            cells.push(("resolved_at", t(r)));
        }
        if let Some(d) = caused_by {
            cells.push(("caused_by_deployment_id", s(d)));
        }
        self.add(&model::INCIDENTS, &cells)
    }

    pub fn frames(&self) -> HashMap<&'static str, polars::prelude::DataFrame> {
        model::TABLES
            .iter()
            .map(|schema| {
                let rows = self.rows.get(schema.name).cloned().unwrap_or_default();
                (schema.name, rows_to_frame(schema, &rows).unwrap())
            })
            .collect()
    }

    pub fn compute(&self, config: &Config) -> (Computation, MetricsReport) {
        let queries = metrics::queries::load(None).unwrap();
        let computation = metrics::compute(&self.frames(), config, &queries).unwrap();
        let report = metrics::report(&computation, config).unwrap();
        (computation, report)
    }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap()
}

/// A configuration for 2025 (or the given window) with the given extra TOML.
pub fn config(since: &str, until: &str, extra: &str) -> Config {
    let text = format!("[analysis]\nsince = \"{since}\"\nuntil = \"{until}\"\n{extra}");
    Config::from_toml(&text, now()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub fn service<'a>(report: &'a MetricsReport, name: &str) -> &'a flowgauge::metrics::ServiceMetrics {
    report.services.iter().find(|s| s.service == name).unwrap_or_else(|| panic!("no service {name}"))
}

pub fn window<'a>(report: &'a MetricsReport, name: &str) -> &'a PeriodMetrics {
    &service(report, name).window
}

/// `(id, reason)` pairs of a record output, sorted.
pub fn reasons(computation: &Computation, query: &str, id_column: &str) -> Vec<(String, String)> {
    let df = &computation.records[query];
    let ids = df.column(id_column).unwrap().str().unwrap();
    let reasons = df.column("reason").unwrap().str().unwrap();
    let mut out: Vec<(String, String)> =
        (0..df.height()).map(|i| (ids.get(i).unwrap().to_string(), reasons.get(i).unwrap().to_string())).collect();
    out.sort();
    out
}

pub fn approx(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got nothing"));
    assert!((a - expected).abs() < 1e-9, "expected {expected}, got {a}");
}

/// The flowgauge binary, run in `dir`.
pub fn flowgauge(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowgauge"))
        .args(args)
        .current_dir(dir)
        .env_remove("FLOWGAUGE_CONFIG")
        .env_remove("FLOWGAUGE_WORKSPACE")
        .output()
        .expect("binary runs")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies a directory tree (raw pages into another workspace, say).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The `incident_restores` records as sorted (incident, deployment it was linked to, link kind).
pub fn incident_links(computation: &Computation) -> Vec<(String, Option<String>, Option<String>)> {
    let links = &computation.records["incident_restores"];
    let text = |name: &str| links.column(name).unwrap().str().unwrap().clone();
    let (ids, linked, how) = (text("incident_id"), text("caused_by_deployment_id"), text("link"));
    let mut got: Vec<_> = (0..links.height())
        .map(|i| (ids.get(i).unwrap().to_string(), linked.get(i).map(String::from), how.get(i).map(String::from)))
        .collect();
    got.sort();
    got
}

/// A TCP proxy in front of the fake server that cuts the first `drop` connections after reading
/// the request and writing half a status line (a connection reset mid-response).
pub fn flaky_proxy(target: &str, drop: usize) -> String {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut client) = stream else { continue };
            if i < drop {
                let mut buffer = [0u8; 1024];
                let _ = client.read(&mut buffer);
                let _ = client.write_all(b"HTTP/1.1 200 O");
                continue; // dropped: the connection closes mid-response
            }
            let Ok(server) = TcpStream::connect(&target) else { continue };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut client, mut server) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
                let _ = s2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    format!("http://{address}")
}

/// A running fake server answering every request with `fake`; its runtime keeps it alive while a
/// (blocking) collector on the test's thread talks to it.
pub struct FakeServer<F: 'static> {
    pub runtime: tokio::runtime::Runtime,
    pub server: wiremock::MockServer,
    pub fake: &'static F,
}

impl<F: 'static> FakeServer<F>
where
    &'static F: wiremock::Respond,
{
    pub fn start(fake: F) -> FakeServer<F> {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fake: &'static F = Box::leak(Box::new(fake));
        let server = runtime.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any()).respond_with(fake).mount(&server).await;
            server
        });
        FakeServer { runtime, server, fake }
    }

    /// How many requests the server has answered.
    pub fn requests(&self) -> usize {
        self.runtime.block_on(self.server.received_requests()).map_or(0, |r| r.len())
    }
}
