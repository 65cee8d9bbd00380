//! Computing the DORA metrics: domain tables in, per-service, per-period figures out.
//!
//! [`prepare`] does what SQL cannot (as-of joins, calendar truncation); the definitions themselves
//! are the SQL files in `queries/` ([`queries`]), run by polars. Record-level queries run once; the
//! period queries run once per grain (window, quarter, month, week) over the same records, with a
//! `period` column set to that grain's label. [`MetricsReport`] is the typed result; the record
//! frames stay available for provenance (`flowgauge explain`).

pub mod keys;
pub mod prepare;
pub mod queries;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Serialize;

use crate::calendar::{self, Grain};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model;
use crate::store::Workspace;

pub use queries::{Query, QueryGrain};

/// Loads every domain table from a workspace, the tables side by side: decoding parquet is most of
/// the time and each table is its own files.
pub fn load_tables(workspace: &Workspace) -> Result<prepare::Frames> {
    use rayon::prelude::*;
    model::TABLES.par_iter().map(|schema| Ok((schema.name, workspace.load(schema)?))).collect()
}

/// The output of every query.
pub struct Computation {
    pub services: Vec<String>,
    /// Record-level outputs by query file name.
    pub records: HashMap<String, DataFrame>,
    /// Period outputs by grain and query file name.
    pub aggregates: HashMap<(Grain, String), DataFrame>,
}

fn query_error(query: &Query, e: impl std::fmt::Display) -> Error {
    Error::Query { name: format!("{} ({})", query.file, query.origin), message: e.to_string() }
}

fn run(ctx: &mut SQLContext, query: &Query) -> Result<DataFrame> {
    let registered = ctx.get_tables();
    if let Some(missing) = query.requires.iter().find(|t| !registered.contains(t)) {
        return Err(query_error(query, format!("requires table `{missing}`, which is not available here")));
    }
    let plan = ctx.execute(&query.sql).map_err(|e| query_error(query, e))?;
    match query.grain {
        // In-memory: its joins keep the row order of the first table (changes, deployments,
        // incidents), which `explain` and the report's appendix list records in.
        QueryGrain::Record => plan.collect().map_err(|e| query_error(query, e)),
        QueryGrain::Period => collect_period(plan).map_err(|e| query_error(query, e)),
    }
}

/// A period query's output, by the streaming engine: its grouped medians and percentiles over a
/// million records cost a fraction of the in-memory engine's (`docs/metrics.md`, "Performance").
/// That engine makes no promise on row order, so the rows are sorted by service and period, which
/// keeps exports the same from run to run; the figures are read by service and period anyway.
fn collect_period(plan: LazyFrame) -> PolarsResult<DataFrame> {
    let df = plan.collect_with_engine(Engine::Streaming)?.unwrap_single();
    if df.column("service").is_err() || df.column("period").is_err() {
        return Ok(df); // an overriding query without them: `Cells` says what is missing
    }
    df.sort(["service", "period"], SortMultipleOptions::default().with_maintain_order(true))
}

/// One period query's output for one grain.
type GrainOutput = ((Grain, String), DataFrame);

/// Runs every query over the tables.
pub fn compute(tables: &prepare::Frames, config: &Config, queries: &[Query]) -> Result<Computation> {
    compute_prepared(&prepare::prepare(tables, config)?, config, queries)
}

/// Runs every query over tables already prepared: for callers that also need the prepared frames
/// (`flowgauge sql`, `flowgauge export`), so they see exactly what the queries saw.
pub fn compute_prepared(prepared: &prepare::Prepared, config: &Config, queries: &[Query]) -> Result<Computation> {
    let mut ctx = SQLContext::new();
    for (name, df) in &prepared.frames {
        ctx.register(name, df.clone().lazy());
    }
    let mut records = HashMap::new();
    for query in queries.iter().filter(|q| q.grain == QueryGrain::Record) {
        let df = run(&mut ctx, query)?;
        ctx.register(&query.file, df.clone().lazy());
        records.insert(query.file.clone(), df);
    }

    let window = &config.analysis.window;
    let period_queries: Vec<&Query> = queries.iter().filter(|q| q.grain == QueryGrain::Period).collect();
    let per_grain: Vec<Result<Vec<GrainOutput>>> = {
        use rayon::prelude::*;
        Grain::ALL
            .par_iter()
            .map(|&grain| {
                let mut ctx = SQLContext::new();
                let (periods, weeks) = prepare::calendar_frames(&prepared.services, grain, window)?;
                ctx.register("periods", periods.lazy());
                ctx.register("service_weeks", weeks.lazy());
                for (name, df) in &records {
                    let lf = df.clone().lazy().with_column(col(grain.name()).alias("period"));
                    ctx.register(name, lf);
                }
                let mut out = Vec::new();
                for query in &period_queries {
                    out.push(((grain, query.file.clone()), run(&mut ctx, query)?));
                }
                Ok(out)
            })
            .collect()
    };
    let mut aggregates = HashMap::new();
    for result in per_grain {
        aggregates.extend(result?);
    }
    Ok(Computation { services: prepared.services.clone(), records, aggregates })
}

/// Reads typed cells out of a query output by column name, naming the query when a column is missing.
struct Cells<'a> {
    query: &'a str,
    df: &'a DataFrame,
    rows: HashMap<(String, String), usize>,
}

impl<'a> Cells<'a> {
    fn new(query: &'a str, df: &'a DataFrame) -> Result<Self> {
        let services = df.column("service").and_then(|c| c.str().cloned());
        let periods = df.column("period").and_then(|c| c.str().cloned());
        let (services, periods) = match (services, periods) {
            (Ok(s), Ok(p)) => (s, p),
            _ => {
                return Err(Error::Query {
                    name: query.into(),
                    message: "output needs text columns `service` and `period`".into(),
                });
            }
        };
        let mut rows = HashMap::new();
        for i in 0..df.height() {
            if let (Some(s), Some(p)) = (services.get(i), periods.get(i)) {
                rows.insert((s.to_string(), p.to_string()), i);
            }
        }
        Ok(Cells { query, df, rows })
    }

    fn column(&self, name: &str) -> Result<&'a polars::prelude::Column> {
        self.df
            .column(name)
            .map_err(|_| Error::Query { name: self.query.into(), message: format!("output lacks column `{name}`") })
    }

    fn f64(&self, key: &(String, String), name: &str) -> Result<Option<f64>> {
        let Some(&i) = self.rows.get(key) else {
            return Ok(None);
        };
        let column = self.column(name)?;
        let value = column.get(i).map_err(|e| Error::Query { name: self.query.into(), message: e.to_string() })?;
        Ok(value.extract::<f64>().filter(|v| v.is_finite()))
    }

    fn count(&self, key: &(String, String), name: &str) -> Result<u64> {
        Ok(self.f64(key, name)?.unwrap_or(0.0).round() as u64)
    }

    fn text(&self, key: &(String, String), name: &str) -> Result<Option<String>> {
        let Some(&i) = self.rows.get(key) else {
            return Ok(None);
        };
        let column = self.column(name)?;
        Ok(column.str().ok().and_then(|s| s.get(i)).map(str::to_string))
    }
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsReport {
    pub window: WindowInfo,
    pub services: Vec<ServiceMetrics>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowInfo {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// One service's figures for the window and for each period of each grain.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceMetrics {
    pub service: String,
    pub window: PeriodMetrics,
    pub quarter: Vec<PeriodMetrics>,
    pub month: Vec<PeriodMetrics>,
    pub week: Vec<PeriodMetrics>,
}

impl ServiceMetrics {
    pub fn grain(&self, grain: Grain) -> &[PeriodMetrics] {
        match grain {
            Grain::Quarter => &self.quarter,
            Grain::Month => &self.month,
            Grain::Week => &self.week,
            Grain::Window => std::slice::from_ref(&self.window),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodMetrics {
    pub period: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub failed_deployment_recovery_time: Recovery,
    pub time_to_restore: Restore,
    pub rework_rate: Rework,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentFrequency {
    pub deployments: u64,
    pub deployment_days: u64,
    pub days: f64,
    /// Length of the period in calendar months (each month by the share of it inside the period).
    pub months: f64,
    pub per_day: f64,
    pub per_week: f64,
    pub deployment_days_per_week: f64,
    pub median_weekly_deployment_days: Option<f64>,
    pub whole_weeks: u64,
    pub bucket: String,
    /// Whether the workspace holds any deployment of the service at all (any time, any environment).
    /// Without one, weeks without a deployment say nothing: the deployments may simply not have
    /// been collected, so the period gets no level rather than "low".
    pub service_has_deployments: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub median_hours: Option<f64>,
    pub p75_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadTime {
    pub changes: u64,
    pub median_hours: Option<f64>,
    pub p75_hours: Option<f64>,
    pub p90_hours: Option<f64>,
    pub coding: Stage,
    pub pickup: Stage,
    pub review: Stage,
    pub deploy: Stage,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeFailureRate {
    pub deployments: u64,
    pub failed: u64,
    pub with_incident: u64,
    pub rolled_back: u64,
    pub hotfixed: u64,
    pub reverted: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    pub failures: u64,
    pub unrestored: u64,
    pub median_hours: Option<f64>,
    pub p75_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Restore {
    pub incidents: u64,
    pub open: u64,
    pub median_hours: Option<f64>,
    pub p75_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rework {
    pub deployments: u64,
    pub rework: u64,
    pub rate: Option<f64>,
}

/// Assembles the typed report from the query outputs.
pub fn report(computation: &Computation, config: &Config) -> Result<MetricsReport> {
    let window = &config.analysis.window;
    let deployed = services_with_deployments(computation)?;
    let mut by_service: HashMap<&str, HashMap<Grain, Vec<PeriodMetrics>>> = HashMap::new();
    for grain in Grain::ALL {
        // Index each output once per grain: looking rows up is then constant time per period.
        let outputs = Outputs::new(computation, grain)?;
        let periods = calendar::periods(grain, window);
        for service in &computation.services {
            let has_deployments = deployed.contains(service.as_str());
            let list = periods
                .iter()
                .map(|period| outputs.period_metrics(service, period, has_deployments))
                .collect::<Result<Vec<_>>>()?;
            by_service.entry(service).or_default().insert(grain, list);
        }
    }
    let services = computation
        .services
        .iter()
        .map(|service| {
            let mut grains = by_service.remove(service.as_str()).unwrap_or_default();
            let mut take = |g: Grain| grains.remove(&g).unwrap_or_default();
            ServiceMetrics {
                service: service.clone(),
                window: take(Grain::Window).pop().expect("the window is one period"),
                quarter: take(Grain::Quarter),
                month: take(Grain::Month),
                week: take(Grain::Week),
            }
        })
        .collect();
    Ok(MetricsReport { window: WindowInfo { since: window.since, until: window.until }, services })
}

/// Services with at least one deployment record (any time, any environment, any status).
fn services_with_deployments(computation: &Computation) -> Result<std::collections::HashSet<String>> {
    let Some(outcomes) = computation.records.get("deployment_outcomes") else {
        return Ok(Default::default());
    };
    let Ok(column) = outcomes.column("service") else {
        return Ok(Default::default());
    };
    Ok(column.str()?.iter().flatten().map(str::to_string).collect())
}

/// The period queries' outputs of one grain, indexed by service and period.
struct Outputs<'a> {
    df: Cells<'a>,
    lt: Cells<'a>,
    cfr: Cells<'a>,
    rec: Cells<'a>,
    ttr: Cells<'a>,
    rw: Cells<'a>,
}

impl<'a> Outputs<'a> {
    fn new(computation: &'a Computation, grain: Grain) -> Result<Self> {
        let output = |file: &'a str| -> Result<Cells<'a>> {
            let df = computation
                .aggregates
                .get(&(grain, file.to_string()))
                .ok_or_else(|| Error::Query { name: file.into(), message: "did not run".into() })?;
            Cells::new(file, df)
        };
        Ok(Outputs {
            df: output("deployment_frequency")?,
            lt: output("lead_time")?,
            cfr: output("change_failure_rate")?,
            rec: output("failed_deployment_recovery_time")?,
            ttr: output("time_to_restore")?,
            rw: output("rework_rate")?,
        })
    }

    fn period_metrics(&self, service: &str, period: &calendar::Period, has_deployments: bool) -> Result<PeriodMetrics> {
        let key = (service.to_string(), period.label.clone());
        let Outputs { df, lt, cfr, rec, ttr, rw } = self;
        let stage = |name: &str| -> Result<Stage> {
            Ok(Stage {
                median_hours: lt.f64(&key, &format!("{name}_median_hours"))?,
                p75_hours: lt.f64(&key, &format!("{name}_p75_hours"))?,
            })
        };
        Ok(PeriodMetrics {
            period: period.label.clone(),
            start: period.start,
            end: period.end,
            deployment_frequency: DeploymentFrequency {
                deployments: df.count(&key, "deployments")?,
                deployment_days: df.count(&key, "deployment_days")?,
                days: period.days(),
                months: period.months(),
                per_day: df.f64(&key, "per_day")?.unwrap_or(0.0),
                per_week: df.f64(&key, "per_week")?.unwrap_or(0.0),
                deployment_days_per_week: df.f64(&key, "deployment_days_per_week")?.unwrap_or(0.0),
                median_weekly_deployment_days: df.f64(&key, "median_weekly_deployment_days")?,
                whole_weeks: df.count(&key, "whole_weeks")?,
                bucket: df.text(&key, "bucket")?.unwrap_or_else(|| "fewer than monthly".into()),
                service_has_deployments: has_deployments,
            },
            lead_time: LeadTime {
                changes: lt.count(&key, "changes")?,
                median_hours: lt.f64(&key, "median_hours")?,
                p75_hours: lt.f64(&key, "p75_hours")?,
                p90_hours: lt.f64(&key, "p90_hours")?,
                coding: stage("coding")?,
                pickup: stage("pickup")?,
                review: stage("review")?,
                deploy: stage("deploy")?,
            },
            change_failure_rate: ChangeFailureRate {
                deployments: cfr.count(&key, "deployments")?,
                failed: cfr.count(&key, "failed")?,
                with_incident: cfr.count(&key, "with_incident")?,
                rolled_back: cfr.count(&key, "rolled_back")?,
                hotfixed: cfr.count(&key, "hotfixed")?,
                reverted: cfr.count(&key, "reverted")?,
                rate: cfr.f64(&key, "rate")?,
            },
            failed_deployment_recovery_time: Recovery {
                failures: rec.count(&key, "failures")?,
                unrestored: rec.count(&key, "unrestored")?,
                median_hours: rec.f64(&key, "median_hours")?,
                p75_hours: rec.f64(&key, "p75_hours")?,
            },
            time_to_restore: Restore {
                incidents: ttr.count(&key, "incidents")?,
                open: ttr.count(&key, "open")?,
                median_hours: ttr.f64(&key, "median_hours")?,
                p75_hours: ttr.f64(&key, "p75_hours")?,
                p90_hours: ttr.f64(&key, "p90_hours")?,
            },
            rework_rate: Rework {
                deployments: rw.count(&key, "deployments")?,
                rework: rw.count(&key, "rework")?,
                rate: rw.f64(&key, "rate")?,
            },
        })
    }
}

/// Metrics `explain` knows, with the record query that holds their provenance.
pub const EXPLAINABLE: &[(&str, &str)] = &[
    ("deployment-frequency", "deployment_outcomes"),
    ("lead-time", "change_lead_times"),
    ("change-failure-rate", "deployment_outcomes"),
    ("recovery-time", "deployment_outcomes"),
    ("time-to-restore", "incident_restores"),
    ("rework-rate", "deployment_outcomes"),
];

/// The records behind a metric for one service (or all), counted first, then excluded by reason.
pub fn explain(computation: &Computation, metric: &str, service: Option<&str>) -> Result<DataFrame> {
    let (_, file) = EXPLAINABLE.iter().find(|(name, _)| *name == metric).ok_or_else(|| {
        let names: Vec<&str> = EXPLAINABLE.iter().map(|(n, _)| *n).collect();
        Error::NotFound(format!("no metric `{metric}`; explain knows {}", names.join(", ")))
    })?;
    if let Some(service) = service
        && !computation.services.iter().any(|s| s == service)
    {
        return Err(Error::NotFound(format!(
            "no service `{service}`; known services: {}",
            computation.services.join(", ")
        )));
    }
    let df = computation.records[*file].clone();
    let mut lf = df.lazy();
    if let Some(service) = service {
        lf = lf.filter(col("service").eq(lit(service.to_string())));
    }
    if metric == "recovery-time" {
        lf = lf.filter(col("is_failure"));
    }
    let counted_first = col("reason").neq(lit("counted"));
    Ok(lf
        .with_column(counted_first.alias("_excluded"))
        .sort_by_exprs(
            [col("_excluded"), col("reason"), col("service")],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()?
        .drop("_excluded")?)
}

/// What the collected data cannot tell, in words a reader can act on; shown with every output so a
/// figure that needs a forge or an incident tracker is never mistaken for a measured one.
pub fn limitations(tables: &prepare::Frames) -> Vec<String> {
    let mut notes = Vec::new();
    let height = |name: &str| tables.get(name).map(|df| df.height()).unwrap_or(0);
    let column_empty = |table: &str, column: &str| {
        tables.get(table).and_then(|df| df.column(column).ok()).is_none_or(|c| c.null_count() == c.len())
    };
    if height("deployments") == 0 {
        notes.push("No deployments were collected: deployment frequency, lead time, change failure rate and recovery need them (tags via `deploy_tags`, an import, or a forge).".to_string());
    } else if tables
        .get("deployments")
        .and_then(|df| df.column("source").ok()?.str().ok().map(|s| s.iter().all(|v| v == Some("git"))))
        .unwrap_or(false)
    {
        notes.push("Deployments are taken from git tags: a release that leaves no tag is not seen.".to_string());
    }
    if height("changes") > 0 && height("reviews") == 0 && column_empty("changes", "created_at") {
        notes.push("Pickup and review times need pull-request data from a forge (GitHub, GitLab) or an import with `created_at` and reviews: git alone cannot tell when a pull request was opened or first reviewed.".to_string());
    }
    if height("incidents") == 0 {
        notes.push("No incidents were collected: change failure rate counts only rollbacks, hotfixes and reverts, and time to restore service is unknown. Import incidents or connect a tracker.".to_string());
    }
    notes
}
