//! The report document: everything the HTML, Markdown and JSON reports show, computed once.
//!
//! [`build`] turns metrics, levels and findings into a [`ReportDoc`] of display-ready values (strings
//! formatted, charts drawn); templates only lay it out. Untrusted text stays plain text here and is
//! escaped by the template engine on output (HTML) or by the Markdown formatter ([`super::render`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use super::charts::{self, Threshold, Trend};
use super::warnings;
use crate::assess::capabilities::scorecard::ServiceAssessment;
use crate::assess::findings::plural;
use crate::assess::findings::{Finding, ManualStep, OwnershipGap, ServiceFindings};
use crate::assess::{self, Confidence, Rating};
use crate::calendar::human_hours;
use crate::config::Config;
use crate::error::Result;
use crate::metrics::{Computation, MetricsReport, PeriodMetrics, ServiceMetrics};
use crate::model::DataWarning;
use crate::store::Manifest;

/// What the report is built from.
pub struct ReportInput<'a> {
    pub metrics: &'a MetricsReport,
    pub findings: &'a [ServiceFindings],
    pub computation: &'a Computation,
    pub config: &'a Config,
    pub manifest: Option<&'a Manifest>,
    /// What the collected data cannot tell (`metrics::limitations`).
    pub limitations: Vec<String>,
    /// The metric definitions that ran (embedded or from `--queries`).
    pub queries: &'a [crate::metrics::Query],
    /// Rows per domain table, for the provenance section.
    pub table_rows: Vec<(String, usize)>,
    /// The repositories the tables hold data of ([`repositories`]).
    pub repositories: Vec<String>,
    pub generated_at: DateTime<Utc>,
    pub anonymised: bool,
    /// Records listed in the whole appendix before "and N more"; shared evenly by services and
    /// metrics (at least 10, at most 500 per metric and service) so a portfolio stays a few MB.
    pub appendix_budget: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Badge {
    pub metric: &'static str,
    pub level: String,
    pub value: String,
    pub sample: u64,
    pub low_confidence: bool,
    pub note: String,
    /// Kinds of the data warnings that weaken this figure (`shallow clone`).
    pub data_warnings: Vec<String>,
}

/// A data warning as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WarningView {
    pub kind: String,
    pub label: String,
    pub source: String,
    pub message: String,
    /// The figures it weakens, in words.
    pub affects: String,
}

impl WarningView {
    fn new(w: &DataWarning) -> WarningView {
        WarningView {
            kind: w.kind.clone(),
            label: warnings::label(w),
            source: w.source.clone(),
            message: warnings::sentence(w),
            affects: warnings::affects_text(w),
        }
    }
}

/// What the report covers: the sources recorded in the workspace and the repositories in its tables.
#[derive(Debug, Clone, Serialize)]
pub struct Covers {
    pub sources: Vec<String>,
    pub repositories: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    pub caption: String,
    pub svg: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    pub name: &'static str,
    pub kind: &'static str,
    pub median: String,
    pub p75: String,
    pub width: f64,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueStream {
    pub changes: u64,
    pub median: String,
    pub p75: String,
    pub stages: Vec<StageView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeltaCell {
    pub value: String,
    pub delta: String,
    /// `better`, `worse`, `same` or empty when there is nothing to compare.
    pub trend: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarterRow {
    pub period: String,
    pub cells: Vec<DeltaCell>,
    pub driver: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordRow {
    pub id: String,
    pub reason: String,
    pub when: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceBlock {
    pub metric: &'static str,
    pub explain: &'static str,
    pub counted: usize,
    pub excluded: Vec<(String, usize)>,
    pub records: Vec<RecordRow>,
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceSection {
    pub slug: String,
    pub name: String,
    pub overall: Badge,
    pub badges: Vec<Badge>,
    pub findings: Vec<Finding>,
    pub charts: Vec<Chart>,
    pub weekly: Chart,
    pub value_stream: ValueStream,
    pub manual_steps: Vec<ManualStep>,
    pub manual_steps_view: Vec<[String; 4]>,
    pub ownership_gaps: Vec<OwnershipGap>,
    /// One ranking: the findings' steps folded into the capability ranking (`recommendations.rs`).
    pub recommendations: Vec<super::recommendations::Recommendation>,
    pub quarter_headers: Vec<&'static str>,
    pub quarters: Vec<QuarterRow>,
    pub provenance: Vec<ProvenanceBlock>,
    pub warnings: Vec<String>,
    /// Data warnings of the sources behind this service's figures.
    pub data_warnings: Vec<WarningView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortfolioRow {
    pub slug: String,
    pub name: String,
    pub overall: Badge,
    pub badges: Vec<Badge>,
    pub concerns: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Methodology {
    pub definitions: Vec<(String, String)>,
    pub thresholds: Vec<[String; 5]>,
    pub sources: Vec<[String; 3]>,
    pub tables: Vec<(String, usize)>,
    pub coverage: Vec<String>,
    pub warnings: Vec<String>,
    /// A forge's own DORA figures beside flowgauge's, one line per service and metric
    /// ([`super::forge`]); filled by the caller, empty when no forge reported any.
    pub forge_figures: Vec<String>,
}

/// The whole report (`flowgauge report --format json` prints this, minus nothing).
#[derive(Debug, Clone, Serialize)]
pub struct ReportDoc {
    pub schema: &'static str,
    pub title: String,
    pub client: Option<String>,
    pub footer: Option<String>,
    pub accent: String,
    pub logo: Option<String>,
    pub generated_at: String,
    pub version: &'static str,
    pub window: String,
    pub benchmark_year: u16,
    pub anonymised: bool,
    pub covers: Covers,
    /// Every data warning recorded in the workspace.
    pub data_warnings: Vec<WarningView>,
    pub portfolio: Vec<PortfolioRow>,
    pub services: Vec<ServiceSection>,
    pub methodology: Methodology,
    /// The maturity assessment's section and heatmap, when the caller assessed the services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<super::capabilities::CapabilitiesView>,
}

impl ReportDoc {
    /// Replaces each service section's recommendations with the one ranking, once the assessment is known.
    pub fn fold_recommendations(&mut self, findings: &[ServiceFindings], assessments: &[ServiceAssessment]) {
        for section in &mut self.services {
            let steps = findings.iter().find(|f| f.service == section.name).map(|f| f.recommendations.as_slice());
            let assessment = assessments.iter().find(|a| a.service == section.name);
            section.recommendations = super::recommendations::fold(steps.unwrap_or_default(), assessment);
        }
    }
}

const DEFAULT_ACCENT: &str = "#1f6feb";

fn level_name(r: &Rating) -> String {
    r.level.map(|l| l.name().to_string()).unwrap_or_else(|| "no data".into())
}

/// A metric's badge; `weakened` names the data warnings that lowered its confidence (the level
/// itself rests on enough events).
fn badge(metric: &'static str, r: &Rating, value: String, weakened: &[String]) -> Badge {
    let low = r.confidence == Confidence::Low;
    let note = match r.confidence {
        Confidence::None => "no events in the window".to_string(),
        Confidence::Low if !weakened.is_empty() => {
            format!("{}; low confidence: {}", plural(r.sample, "event", "events"), weakened.join(", "))
        }
        Confidence::Low => format!("low confidence: only {}", plural(r.sample, "event", "events")),
        Confidence::Normal => plural(r.sample, "event", "events"),
    };
    Badge {
        metric,
        level: level_name(r),
        value,
        sample: r.sample,
        low_confidence: low,
        note,
        data_warnings: weakened.to_vec(),
    }
}

/// Labels of the warnings that weaken `metric` (a field of [`assess::Levels`]).
fn weakening(levels: &assess::Levels, metric: &str, data_warnings: &[DataWarning]) -> Vec<String> {
    let mut labels: Vec<String> = warnings::affecting(data_warnings, warnings::metric_name(levels, metric))
        .into_iter()
        .map(warnings::label)
        .collect();
    labels.dedup();
    labels
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into())
}

fn badges(m: &PeriodMetrics, config: &Config, data_warnings: &[DataWarning]) -> (Badge, Vec<Badge>) {
    let mut l = assess::levels(m, &config.analysis);
    warnings::cap(&mut l, data_warnings);
    let weak = |metric: &str| weakening(&l, metric, data_warnings);
    let f = &m.deployment_frequency;
    let recovery_name = if l.benchmark_year == 2021 { "Time to restore" } else { "Recovery time" };
    let recovery_value = if l.benchmark_year == 2021 {
        human_hours(m.time_to_restore.median_hours)
    } else {
        human_hours(m.failed_deployment_recovery_time.median_hours)
    };
    let df_weak = weak("deployment_frequency");
    let mut df = badge(
        "Deployment frequency",
        &l.deployment_frequency,
        format!("{:.1}/week · {}", f.per_week, f.bucket),
        &df_weak,
    );
    let over_weeks = format!(
        "{} over {}",
        plural(f.deployments, "deployment", "deployments"),
        plural(f.whole_weeks, "whole week", "whole weeks")
    );
    df.note = match l.deployment_frequency.confidence {
        Confidence::Low if !df_weak.is_empty() => format!("{over_weeks}; low confidence: {}", df_weak.join(", ")),
        Confidence::Low => format!("low confidence: only {}", plural(f.whole_weeks, "whole week", "whole weeks")),
        Confidence::None => "no deployments".into(),
        Confidence::Normal => over_weeks,
    };
    let list = vec![
        df,
        badge("Lead time", &l.lead_time, human_hours(m.lead_time.median_hours), &weak("lead_time")),
        badge(
            "Change failure rate",
            &l.change_failure_rate,
            percent(m.change_failure_rate.rate),
            &weak("change_failure_rate"),
        ),
        badge(recovery_name, &l.recovery, recovery_value, &weak("recovery")),
    ];
    let mut overall = badge("Overall", &l.overall, level_name(&l.overall), &[]);
    overall.note = if l.overall.level.is_none() {
        "no events".into()
    } else if l.overall.confidence == Confidence::Low && list.iter().any(|b| !b.data_warnings.is_empty()) {
        "the weakest of the four; some are weakened by data warnings".into()
    } else if l.overall.confidence == Confidence::Low {
        "the weakest of the four; some rest on few events".into()
    } else {
        "the weakest of the four".into()
    };
    (overall, list)
}

fn slug(name: &str, index: usize) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("svc-{index}-{}", cleaned.trim_matches('-'))
}

fn level_label(year: u16, what: &str) -> String {
    format!("{what} ({year})")
}

fn trend_charts(s: &ServiceMetrics, config: &Config) -> Result<Vec<Chart>> {
    let t = assess::thresholds(config.analysis.benchmark_year);
    let accent = charts::colour(config.report.accent_colour.as_deref().unwrap_or(DEFAULT_ACCENT));
    let labels: Vec<String> = s.quarter.iter().map(|q| q.period.clone()).collect();
    let line = |v: f64, name: &str| Threshold { value: v, label: name.to_string() };
    let year = t.year;
    let specs = [
        (
            "Deployment days per week",
            "Days with a successful production deployment, per week; grey lines: level boundaries.",
            Trend {
                unit: "days / week",
                labels: labels.clone(),
                // A service with no deployment at all has no data to draw, rather than a line at zero.
                values: s
                    .quarter
                    .iter()
                    .map(|q| {
                        (s.window.deployment_frequency.deployments > 0)
                            .then_some(q.deployment_frequency.deployment_days_per_week)
                    })
                    .collect(),
                // In 2021 "high" is one deployment day a month, which this weekly axis cannot show.
                thresholds: if year == 2021 {
                    vec![line(t.weekly_deployment_days[0], "elite")]
                } else {
                    vec![line(t.weekly_deployment_days[0], "elite"), line(t.weekly_deployment_days[1], "high")]
                },
            },
        ),
        (
            "Lead time for changes (median)",
            "First commit to production; grey lines: level boundaries.",
            Trend {
                unit: "hours",
                labels: labels.clone(),
                values: s.quarter.iter().map(|q| q.lead_time.median_hours).collect(),
                thresholds: vec![
                    line(t.lead_time_hours[0], "elite"),
                    line(t.lead_time_hours[1], "high"),
                    line(t.lead_time_hours[2], "medium"),
                ],
            },
        ),
        (
            "Change failure rate",
            "Share of production deployments that caused a failure; grey lines: level boundaries.",
            Trend {
                unit: "%",
                labels: labels.clone(),
                values: s.quarter.iter().map(|q| q.change_failure_rate.rate.map(|r| r * 100.0)).collect(),
                thresholds: vec![
                    line(t.change_failure_rate[0] * 100.0, "elite"),
                    line(t.change_failure_rate[1] * 100.0, "high"),
                    line(t.change_failure_rate[2] * 100.0, "medium"),
                ],
            },
        ),
        (
            if year == 2021 { "Time to restore service (median)" } else { "Failed deployment recovery time (median)" },
            "Hours until service was restored; grey lines: level boundaries.",
            Trend {
                unit: "hours",
                labels,
                values: s
                    .quarter
                    .iter()
                    .map(|q| {
                        if year == 2021 {
                            q.time_to_restore.median_hours
                        } else {
                            q.failed_deployment_recovery_time.median_hours
                        }
                    })
                    .collect(),
                thresholds: vec![
                    line(t.recovery_hours[0], "elite"),
                    line(t.recovery_hours[1], "high"),
                    line(t.recovery_hours[2], "medium"),
                ],
            },
        ),
    ];
    specs
        .into_iter()
        .map(|(title, caption, spec)| {
            Ok(Chart {
                title: level_label(year, title).replace(&format!(" ({year})"), ""),
                caption: caption.into(),
                svg: charts::trend(&spec, accent)?,
            })
        })
        .collect()
}

fn weekly_chart(s: &ServiceMetrics, config: &Config) -> Result<Chart> {
    let accent = charts::colour(config.report.accent_colour.as_deref().unwrap_or(DEFAULT_ACCENT));
    // The weeks of the last quarter in the window.
    let last = s.quarter.last();
    let weeks: Vec<&PeriodMetrics> =
        s.week.iter().filter(|w| last.is_some_and(|q| w.start >= q.start && w.start < q.end)).collect();
    // `2025-W40` → `W40`: the year is in the title, and short labels fit under narrow bars.
    let labels: Vec<String> =
        weeks.iter().map(|w| w.period.rsplit('-').next().unwrap_or(&w.period).to_string()).collect();
    let values: Vec<u64> = weeks.iter().map(|w| w.deployment_frequency.deployments).collect();
    Ok(Chart {
        title: format!("Deployments per week, {}", last.map(|q| q.period.as_str()).unwrap_or("-")),
        caption: "Successful production deployments in each week of the last quarter.".into(),
        svg: charts::bars(&labels, &values, "deployments", accent)?,
    })
}

fn value_stream(m: &PeriodMetrics, steps: &[ManualStep]) -> ValueStream {
    let lt = &m.lead_time;
    let manual_wait =
        steps.iter().find(|s| s.kind.starts_with("production deployment")).and_then(|s| s.median_wait_hours);
    let stages = [
        ("Coding", "work", &lt.coding, "first commit → pull request opened".to_string()),
        ("Pickup", "wait", &lt.pickup, "opened → first response by someone else".to_string()),
        ("Review", "work", &lt.review, "first response → merged".to_string()),
        (
            "Deploy",
            if manual_wait.is_some() { "wait" } else { "work" },
            &lt.deploy,
            match manual_wait {
                Some(w) => format!("merged → live; includes a manual approval (median wait {})", human_hours(Some(w))),
                None => "merged → live in production".to_string(),
            },
        ),
    ];
    let total: f64 = stages.iter().map(|(_, _, s, _)| s.median_hours.unwrap_or(0.0)).sum();
    ValueStream {
        changes: lt.changes,
        median: human_hours(lt.median_hours),
        p75: human_hours(lt.p75_hours),
        stages: stages
            .into_iter()
            .map(|(name, kind, s, note)| StageView {
                name,
                kind,
                median: human_hours(s.median_hours),
                p75: human_hours(s.p75_hours),
                // Widths are shares of the summed stage medians, with a floor so every stage stays legible.
                width: if total > 0.0 { (s.median_hours.unwrap_or(0.0) / total * 100.0).max(8.0) } else { 25.0 },
                note,
            })
            .collect(),
    }
}

/// A value with its change from the quarter before. `step` writes the size of a change in the unit
/// and precision the current value is shown in (`+0.5 d` beside `5.6 d`, never `+12.0 h`); a change
/// too small to show at that precision reads `no change`.
fn delta(
    current: Option<f64>,
    previous: Option<f64>,
    lower_is_better: bool,
    format: fn(Option<f64>) -> String,
    step: fn(f64, f64) -> String,
) -> DeltaCell {
    let value = format(current);
    match (current, previous) {
        (Some(c), Some(p)) => {
            let d = c - p;
            let size = step(d.abs(), c);
            if size == step(0.0, c) {
                return DeltaCell { value, delta: "no change".into(), trend: "same" };
            }
            let better = (d < 0.0) == lower_is_better;
            let sign = if d > 0.0 { "+" } else { "−" };
            DeltaCell { value, delta: format!("{sign}{size}"), trend: if better { "better" } else { "worse" } }
        }
        _ => DeltaCell { value, delta: String::new(), trend: "" },
    }
}

/// A change of `hours` in the unit [`human_hours`] shows `current` in.
fn hours_step(hours: f64, current: f64) -> String {
    if current < 1.0 {
        format!("{:.0} min", hours * 60.0)
    } else if current < 48.0 {
        format!("{hours:.1} h")
    } else {
        format!("{:.1} d", hours / 24.0)
    }
}

fn per_week_step(change: f64, _current: f64) -> String {
    format!("{change:.1}")
}

/// A rate's change in percentage points.
fn points_step(change: f64, _current: f64) -> String {
    format!("{:.1} pp", change * 100.0)
}

fn rate_value(v: Option<f64>) -> String {
    v.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into())
}

fn per_week(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.1}")).unwrap_or_else(|| "-".into())
}

const QUARTER_HEADERS: [&str; 6] = [
    "Deploys / week",
    "Lead time (median)",
    "Change failure rate",
    "Recovery (median)",
    "Time to restore (median)",
    "Rework rate",
];

/// The stage (or failure signal) that moved most, to say what drove a change between quarters.
fn driver(current: &PeriodMetrics, previous: &PeriodMetrics) -> String {
    let stages = [
        ("coding", current.lead_time.coding.median_hours, previous.lead_time.coding.median_hours),
        ("pickup", current.lead_time.pickup.median_hours, previous.lead_time.pickup.median_hours),
        ("review", current.lead_time.review.median_hours, previous.lead_time.review.median_hours),
        ("deploy", current.lead_time.deploy.median_hours, previous.lead_time.deploy.median_hours),
    ];
    let mut parts = Vec::new();
    if let Some((name, c, p)) = stages
        .iter()
        .filter_map(|(n, c, p)| Some((*n, (*c)?, (*p)?)))
        .max_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
        .filter(|(_, c, p)| (c - p).abs() >= 0.05)
    {
        let verb = if c < p { "fell" } else { "rose" };
        parts.push(format!("lead time: {name} stage {verb} {} → {}", human_hours(Some(p)), human_hours(Some(c))));
    }
    let (c, p) = (&current.change_failure_rate, &previous.change_failure_rate);
    if c.failed != p.failed {
        parts.push(format!("failed deployments {} → {}", p.failed, c.failed));
    }
    let (c, p) = (&current.deployment_frequency, &previous.deployment_frequency);
    if c.deployments != p.deployments {
        parts.push(format!("deployments {} → {}", p.deployments, c.deployments));
    }
    parts.join("; ")
}

/// A rate's change is stated in percentage points, not as a relative percentage.
fn rate_delta(current: Option<f64>, previous: Option<f64>) -> DeltaCell {
    delta(current, previous, true, rate_value, points_step)
}

fn quarters(s: &ServiceMetrics) -> Vec<QuarterRow> {
    let mut rows = Vec::new();
    for (i, q) in s.quarter.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| &s.quarter[j]);
        let p = |f: fn(&PeriodMetrics) -> Option<f64>| prev.and_then(f);
        let cells = vec![
            delta(
                Some(q.deployment_frequency.per_week),
                p(|m| Some(m.deployment_frequency.per_week)),
                false,
                per_week,
                per_week_step,
            ),
            delta(q.lead_time.median_hours, p(|m| m.lead_time.median_hours), true, human_hours, hours_step),
            rate_delta(q.change_failure_rate.rate, p(|m| m.change_failure_rate.rate)),
            delta(
                q.failed_deployment_recovery_time.median_hours,
                p(|m| m.failed_deployment_recovery_time.median_hours),
                true,
                human_hours,
                hours_step,
            ),
            delta(q.time_to_restore.median_hours, p(|m| m.time_to_restore.median_hours), true, human_hours, hours_step),
            rate_delta(q.rework_rate.rate, p(|m| m.rework_rate.rate)),
        ];
        rows.push(QuarterRow {
            period: q.period.clone(),
            cells,
            driver: prev.map(|pm| driver(q, pm)).unwrap_or_default(),
        });
    }
    rows
}

fn provenance(computation: &Computation, limit: usize) -> Result<HashMap<String, Vec<ProvenanceBlock>>> {
    // In the order of `empty_provenance`: the explain metric, the record's id, time and duration.
    let blocks: [(&str, &str, &str, &str); 3] = [
        ("lead-time", "change_id", "deployed_ts", "lead_time_s"),
        ("change-failure-rate", "deployment_id", "deployed_ts", "recovery_s"),
        ("time-to-restore", "incident_id", "opened_ts", "restore_s"),
    ];
    let mut out: HashMap<String, Vec<ProvenanceBlock>> =
        computation.services.iter().map(|s| (s.clone(), empty_provenance())).collect();
    for (k, (explain, id_column, time_column, value_column)) in blocks.into_iter().enumerate() {
        let df = crate::metrics::explain(computation, explain, None)?;
        let service = df.column("service")?.str()?;
        let reason = df.column("reason")?.str()?;
        let id = df.column(id_column)?.cast(&DataType::String)?;
        let id = id.str()?;
        let time = df.column(time_column)?.cast(&DataType::Int64)?;
        let time = time.i64()?;
        let value = df.column(value_column)?.cast(&DataType::Int64)?;
        let value = value.i64()?;
        for i in 0..df.height() {
            let Some(name) = service.get(i) else { continue };
            let list = out.entry(name.to_string()).or_insert_with(empty_provenance);
            let block = &mut list[k];
            let reason = reason.get(i).unwrap_or_default();
            if reason == "counted" {
                block.counted += 1;
            } else {
                match block.excluded.iter_mut().find(|(r, _)| r == reason) {
                    Some((_, n)) => *n += 1,
                    None => block.excluded.push((reason.to_string(), 1)),
                }
            }
            if block.records.len() < limit {
                block.records.push(RecordRow {
                    id: id.get(i).unwrap_or_default().to_string(),
                    reason: reason.to_string(),
                    when: time
                        .get(i)
                        .and_then(|t| DateTime::from_timestamp(t, 0))
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "-".into()),
                    value: value.get(i).map(|s| human_hours(Some(s as f64 / 3600.0))).unwrap_or_else(|| "-".into()),
                });
            } else {
                block.more += 1;
            }
        }
    }
    for list in out.values_mut() {
        for block in list {
            block.excluded.sort();
        }
    }
    Ok(out)
}

/// The provenance blocks of a service with no records at all.
fn empty_provenance() -> Vec<ProvenanceBlock> {
    [
        ("Lead time for changes", "lead-time"),
        ("Deployments (frequency, change failure rate, rework)", "change-failure-rate"),
        ("Incidents (time to restore)", "time-to-restore"),
    ]
    .into_iter()
    .map(|(metric, explain)| ProvenanceBlock {
        metric,
        explain,
        counted: 0,
        excluded: Vec::new(),
        more: 0,
        records: Vec::new(),
    })
    .collect()
}

fn service_warnings(m: &PeriodMetrics, config: &Config, data_warnings: &[DataWarning]) -> Vec<String> {
    let l = assess::levels(m, &config.analysis);
    let mut out: Vec<String> = data_warnings
        .iter()
        .map(|w| {
            format!(
                "{} ({}): {} This weakens {}.",
                capitalised(&warnings::label(w)),
                w.source,
                warnings::sentence(w),
                warnings::affects_text(w)
            )
        })
        .collect();
    for (name, r) in [
        ("deployment frequency", &l.deployment_frequency),
        ("lead time", &l.lead_time),
        ("change failure rate", &l.change_failure_rate),
        ("recovery", &l.recovery),
    ] {
        match r.confidence {
            Confidence::Low => {
                // Deployment frequency's sample is whole weeks observed, not events.
                let unit =
                    if name == "deployment frequency" { ("whole week", "whole weeks") } else { ("event", "events") };
                let sample = crate::assess::findings::plural(r.sample, unit.0, unit.1);
                out.push(format!("The {name} level rests on {sample} only: treat it as indicative."))
            }
            Confidence::None => out.push(format!("No events for {name} in the window: no level is given.")),
            Confidence::Normal => {}
        }
    }
    if m.deployment_frequency.deployments > 0 && m.lead_time.changes == 0 {
        out.push("Deployments were found but no change could be traced to one: import changes with merge commit shas, or deployments with their commits.".into());
    }
    out
}

/// The ownership finding names the data warnings that weaken the ownership analysis it rests on.
fn weakened_findings(mut findings: Vec<Finding>, data_warnings: &[DataWarning]) -> Vec<Finding> {
    let labels: Vec<String> =
        warnings::affecting(data_warnings, "ownership").into_iter().map(warnings::label).collect();
    if labels.is_empty() {
        return findings;
    }
    for f in findings.iter_mut().filter(|f| f.question == assess::findings::Question::Ownership) {
        f.evidence.push(format!("weakened by a data warning: {}", labels.join(", ")));
    }
    findings
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The repositories the domain tables hold data of (their `repo` columns), sorted.
pub fn repositories(tables: &crate::metrics::prepare::Frames) -> Result<Vec<String>> {
    let mut found = std::collections::BTreeSet::new();
    for df in tables.values() {
        let Ok(column) = df.column("repo") else { continue };
        let unique = column.unique()?;
        found.extend(unique.str()?.iter().flatten().filter(|r| !r.is_empty()).map(str::to_string));
    }
    Ok(found.into_iter().collect())
}

fn coverage(computation: &Computation) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let lt = &computation.records["change_lead_times"];
    let counted = lt.column("reason")?.str()?.iter().filter(|r| *r == Some("counted")).count();
    lines.push(format!(
        "{counted} of {} changes have a lead time; the rest are listed with the reason per service.",
        lt.height()
    ));
    let restores = &computation.records["incident_restores"];
    let mut by_link: BTreeMap<String, usize> = BTreeMap::new();
    for link in restores.column("link")?.str()?.iter() {
        *by_link.entry(link.unwrap_or("none").to_string()).or_default() += 1;
    }
    if restores.height() > 0 {
        lines.push(format!(
            "Incidents linked to a deployment: {} explicitly by the source, {} by the incident tracker, {} by a change or commit they name, {} by the link window, {} not linked.",
            by_link.get("explicit").copied().unwrap_or(0),
            by_link.get("tracker").copied().unwrap_or(0),
            by_link.get("reference").copied().unwrap_or(0),
            by_link.get("window").copied().unwrap_or(0),
            by_link.get("none").copied().unwrap_or(0)
        ));
    } else {
        lines.push("No incidents were collected: change failure rate rests on rollbacks, hotfixes and reverts alone, and time to restore is unknown.".into());
    }
    Ok(lines)
}

/// Each query's name and the prose of its header (the comment lines after the `key: value` fields),
/// from the queries that actually ran, so overridden definitions are the ones described.
fn definitions(queries: &[crate::metrics::Query]) -> Vec<(String, String)> {
    const KEYS: [&str; 4] = ["name:", "unit:", "grain:", "requires:"];
    queries
        .iter()
        .map(|q| {
            let prose: Vec<&str> = q
                .sql
                .lines()
                .take_while(|l| l.trim_start().starts_with("--"))
                .map(|l| l.trim_start().trim_start_matches("--").trim())
                .filter(|l| !l.is_empty() && !KEYS.iter().any(|k| l.starts_with(k)))
                .collect();
            let origin = if q.origin == "embedded" { String::new() } else { format!(", from {}", q.origin) };
            (format!("{} ({}{origin})", q.name, q.unit), prose.join(" "))
        })
        .collect()
}

fn thresholds_table(config: &Config) -> Vec<[String; 5]> {
    let t = assess::thresholds(config.analysis.benchmark_year);
    let h = |v: f64| human_hours(Some(v));
    let p = |v: f64| format!("{:.0}%", v * 100.0);
    vec![
        [
            "Deployment frequency (median deployment days per whole week)".into(),
            format!("≥ {}", t.weekly_deployment_days[0]),
            if t.year == 2021 { "≥ 1 day per month".into() } else { format!("≥ {}", t.weekly_deployment_days[1]) },
            if t.year == 2021 { "≥ 1 day per six months".into() } else { "≥ 1 day per month".into() },
            "less".into(),
        ],
        [
            "Lead time for changes (median)".into(),
            format!("< {}", h(t.lead_time_hours[0])),
            format!("< {}", h(t.lead_time_hours[1])),
            format!("< {}", h(t.lead_time_hours[2])),
            "longer".into(),
        ],
        [
            "Change failure rate".into(),
            format!("≤ {}", p(t.change_failure_rate[0])),
            format!("≤ {}", p(t.change_failure_rate[1])),
            format!("≤ {}", p(t.change_failure_rate[2])),
            "higher".into(),
        ],
        [
            if t.year == 2021 {
                "Time to restore service (median)".into()
            } else {
                "Failed deployment recovery time (median)".into()
            },
            format!("< {}", h(t.recovery_hours[0])),
            format!("< {}", h(t.recovery_hours[1])),
            format!("< {}", h(t.recovery_hours[2])),
            "longer".into(),
        ],
    ]
}

/// A data URI for the configured logo, so the report stays one self-contained file.
fn logo(config: &Config) -> Result<Option<String>> {
    let Some(path) = &config.report.logo else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| crate::error::Error::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mime = match ext.as_str() {
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "image/png",
    };
    Ok(Some(format!("data:{mime};base64,{}", base64(&bytes))))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Builds the report document.
pub fn build(input: &ReportInput) -> Result<ReportDoc> {
    let config = input.config;
    let blocks = 3 * input.metrics.services.len().max(1);
    let per_block = (input.appendix_budget / blocks).clamp(10, 500);
    let mut services = Vec::new();
    let mut portfolio = Vec::new();
    let data_warnings = warnings::recorded(input.manifest);
    // Every service of the workspace, not only those shown (`--service`): a warning belongs to the
    // service that takes data from its repository even when that service is not in this report.
    let names: Vec<&str> = input.computation.services.iter().map(String::as_str).collect();
    let mut provenance = provenance(input.computation, per_block)?;
    for (index, s) in input.metrics.services.iter().enumerate() {
        let findings = input.findings.iter().find(|f| f.service == s.service);
        let steps = findings.map(|f| f.manual_steps.clone()).unwrap_or_default();
        let weakening = warnings::for_service(&data_warnings, &s.service, &names, config);
        let (overall, badge_list) = badges(&s.window, config, &weakening);
        let slug = slug(&s.service, index);
        let concerns = findings
            .map(|f| f.findings.iter().filter(|x| x.status == assess::findings::Status::Concern).count())
            .unwrap_or(0);
        portfolio.push(PortfolioRow {
            slug: slug.clone(),
            name: s.service.clone(),
            overall: overall.clone(),
            badges: badge_list.clone(),
            concerns,
        });
        services.push(ServiceSection {
            slug,
            name: s.service.clone(),
            overall,
            badges: badge_list,
            findings: weakened_findings(findings.map(|f| f.findings.clone()).unwrap_or_default(), &weakening),
            charts: trend_charts(s, config)?,
            weekly: weekly_chart(s, config)?,
            value_stream: value_stream(&s.window, &steps),
            manual_steps_view: steps
                .iter()
                .map(|st| {
                    [
                        st.kind.clone(),
                        st.name.clone(),
                        st.occurrences.to_string(),
                        match st.median_wait_hours {
                            Some(w) => format!(
                                "{} median, {} in total",
                                human_hours(Some(w)),
                                human_hours(Some(st.total_wait_hours))
                            ),
                            None => "-".into(),
                        },
                    ]
                })
                .collect(),
            manual_steps: steps,
            ownership_gaps: findings.map(|f| f.ownership_gaps.clone()).unwrap_or_default(),
            recommendations: super::recommendations::fold(
                findings.map(|f| f.recommendations.as_slice()).unwrap_or_default(),
                None,
            ),
            quarter_headers: QUARTER_HEADERS.to_vec(),
            quarters: quarters(s),
            provenance: provenance.remove(&s.service).unwrap_or_else(empty_provenance),
            warnings: service_warnings(&s.window, config, &weakening),
            data_warnings: weakening.iter().map(WarningView::new).collect(),
        });
    }
    let mut notes = input.limitations.clone();
    notes.extend(data_warnings.iter().map(warnings::note));
    if input.anonymised {
        notes.push(
            "People's names are replaced by stable pseudonyms; titles and other free text are shown as collected."
                .into(),
        );
    }
    let sources = input
        .manifest
        .map(|m| {
            m.sources
                .iter()
                .map(|(name, state)| {
                    [name.clone(), state.last_run.format("%Y-%m-%d %H:%M UTC").to_string(), state.cursor.clone()]
                })
                .collect()
        })
        .unwrap_or_default();
    let window = &input.metrics.window;
    let last_day = window.until - chrono::Duration::days(1);
    Ok(ReportDoc {
        schema: "flowgauge.report/1",
        title: config.report.title.clone().unwrap_or_else(|| "Software delivery performance".into()),
        client: config.report.client.clone(),
        footer: config.report.footer.clone(),
        accent: config.report.accent_colour.clone().unwrap_or_else(|| DEFAULT_ACCENT.into()),
        logo: logo(config)?,
        generated_at: input.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        version: env!("CARGO_PKG_VERSION"),
        window: format!("{} to {}", window.since.format("%-d %B %Y"), last_day.format("%-d %B %Y")),
        benchmark_year: config.analysis.benchmark_year.year(),
        anonymised: input.anonymised,
        covers: Covers {
            sources: input.manifest.map(|m| m.sources.keys().cloned().collect()).unwrap_or_default(),
            repositories: input.repositories.clone(),
        },
        data_warnings: data_warnings.iter().map(WarningView::new).collect(),
        portfolio,
        services,
        methodology: Methodology {
            definitions: definitions(input.queries),
            thresholds: thresholds_table(config),
            sources,
            tables: input.table_rows.clone(),
            coverage: coverage(input.computation)?,
            warnings: notes,
            forge_figures: Vec::new(),
        },
        capabilities: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_in_the_unit_of_the_value_and_zero_is_no_change() {
        // A lead time in days changes in days, not in minutes or hours.
        let same = delta(Some(5.6 * 24.0), Some(5.6 * 24.0), true, human_hours, hours_step);
        assert_eq!((same.delta.as_str(), same.trend), ("no change", "same"));
        let tiny = delta(Some(134.41), Some(134.4), true, human_hours, hours_step);
        assert_eq!(tiny.delta, "no change", "too small to show in days");
        let fell = delta(Some(5.0 * 24.0), Some(5.5 * 24.0), true, human_hours, hours_step);
        assert_eq!((fell.value.as_str(), fell.delta.as_str(), fell.trend), ("5.0 d", "−0.5 d", "better"));
        let rose = delta(Some(0.5), Some(0.25), true, human_hours, hours_step);
        assert_eq!((rose.value.as_str(), rose.delta.as_str(), rose.trend), ("30 min", "+15 min", "worse"));
        let rate = rate_delta(Some(0.25), Some(0.2));
        assert_eq!((rate.delta.as_str(), rate.trend), ("+5.0 pp", "worse"));
        assert_eq!(rate_delta(Some(0.2), Some(0.2)).delta, "no change");
        let more = delta(Some(2.0), Some(1.0), false, per_week, per_week_step);
        assert_eq!((more.delta.as_str(), more.trend), ("+1.0", "better"));
        assert_eq!(delta(None, Some(1.0), true, human_hours, hours_step).delta, "");
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
