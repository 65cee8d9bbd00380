//! Presenting results: the metrics as a readable table, JSON or CSV, and records as a table.
//!
//! Everything here reads a finished [`MetricsReport`] plus its [`Levels`]; nothing is computed that the
//! metrics or the assessment did not already decide. The HTML report will live beside these.

pub mod capabilities;
pub mod charts;
pub mod document;
pub mod forge;
pub mod recommendations;
pub mod render;
pub use crate::spreadsheet;
pub mod warnings;

use std::fmt::Write as _;

use polars::prelude::*;
use serde::Serialize;

use crate::assess::{self, Confidence, Levels, Rating};
use crate::calendar::Grain;
use crate::config::Config;
use crate::metrics::{MetricsReport, PeriodMetrics, WindowInfo};
use crate::model::DataWarning;

/// A period's figures with their levels: the unit of the JSON output.
#[derive(Debug, Serialize)]
pub struct RatedPeriod<'a> {
    #[serde(flatten)]
    pub metrics: &'a PeriodMetrics,
    pub levels: Levels,
}

#[derive(Debug, Serialize)]
pub struct RatedService<'a> {
    pub service: &'a str,
    pub window: RatedPeriod<'a>,
    pub quarter: Vec<RatedPeriod<'a>>,
    pub month: Vec<RatedPeriod<'a>>,
    pub week: Vec<RatedPeriod<'a>>,
}

/// The document `flowgauge metrics --format json` prints (see `docs/cli.md`).
#[derive(Debug, Serialize)]
pub struct RatedReport<'a> {
    pub schema: &'static str,
    pub window: &'a WindowInfo,
    pub benchmark_year: u16,
    /// What the collected data cannot tell (see `metrics::limitations`), then one line per data
    /// warning recorded by a source.
    pub notes: Vec<String>,
    /// The data warnings recorded in the workspace (see [`warnings`]).
    pub data_warnings: Vec<DataWarning>,
    pub services: Vec<RatedService<'a>>,
}

/// Rates every period; a level that a data warning of the service's sources affects is of low
/// confidence at most, and each warning is added to `notes`.
pub fn rate<'a>(
    report: &'a MetricsReport,
    config: &Config,
    mut notes: Vec<String>,
    data_warnings: &[DataWarning],
) -> RatedReport<'a> {
    let analysis = &config.analysis;
    // The configured services too, so that a warning of a service left out by `--service` stays
    // with that service.
    let names: Vec<&str> = report
        .services
        .iter()
        .map(|s| s.service.as_str())
        .chain(config.services.iter().map(|s| s.name.as_str()))
        .collect();
    notes.extend(data_warnings.iter().map(warnings::note));
    RatedReport {
        schema: "flowgauge.metrics/1",
        window: &report.window,
        benchmark_year: analysis.benchmark_year.year(),
        notes,
        data_warnings: data_warnings.to_vec(),
        services: report
            .services
            .iter()
            .map(|s| {
                let weakening = warnings::for_service(data_warnings, &s.service, &names, config);
                let rate_one = |m: &'a PeriodMetrics| {
                    let mut levels = assess::levels(m, analysis);
                    warnings::cap(&mut levels, &weakening);
                    RatedPeriod { metrics: m, levels }
                };
                RatedService {
                    service: &s.service,
                    window: rate_one(&s.window),
                    quarter: s.quarter.iter().map(rate_one).collect(),
                    month: s.month.iter().map(rate_one).collect(),
                    week: s.week.iter().map(rate_one).collect(),
                }
            })
            .collect(),
    }
}

pub fn render_json(report: &RatedReport) -> String {
    serde_json::to_string_pretty(report).expect("report serialises") + "\n"
}

pub use crate::calendar::human_hours as duration;

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into())
}

fn level(r: &Rating) -> String {
    match (r.level, r.confidence) {
        (None, _) => "no data".into(),
        (Some(l), Confidence::Low) => format!("{} (low confidence, n={})", l.name(), r.sample),
        (Some(l), _) => format!("{} (n={})", l.name(), r.sample),
    }
}

/// Lays out rows under headers with aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&mut out, headers.to_vec());
    line(&mut out, widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(|s| s.as_str()).collect());
    for row in rows {
        line(&mut out, row.iter().map(|s| s.as_str()).collect());
    }
    out
}

fn period_row(m: &PeriodMetrics) -> Vec<String> {
    let f = &m.deployment_frequency;
    vec![
        m.period.clone(),
        f.deployments.to_string(),
        format!("{:.1}", f.per_week),
        f.bucket.clone(),
        m.lead_time.changes.to_string(),
        duration(m.lead_time.median_hours),
        duration(m.lead_time.p75_hours),
        format!("{}/{}", m.change_failure_rate.failed, m.change_failure_rate.deployments),
        percent(m.change_failure_rate.rate),
        duration(m.failed_deployment_recovery_time.median_hours),
        duration(m.time_to_restore.median_hours),
        percent(m.rework_rate.rate),
    ]
}

const HEADERS: &[&str] = &[
    "period",
    "deploys",
    "/week",
    "frequency",
    "changes",
    "lead time",
    "p75",
    "failed",
    "CFR",
    "recovery",
    "restore",
    "rework",
];

/// The human-readable table: per service, its levels, then the window and each period of `grain`.
pub fn render_table(report: &RatedReport, grain: Grain) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Window {} .. {} (UTC, end exclusive); levels against DORA {}",
        report.window.since.date_naive(),
        report.window.until.date_naive(),
        report.benchmark_year
    );
    for s in &report.services {
        let l = &s.window.levels;
        let _ = writeln!(out, "\n{}", s.service);
        let _ = writeln!(out, "  overall               {}", level(&l.overall));
        let _ = writeln!(out, "  deployment frequency  {}", level(&l.deployment_frequency));
        let _ = writeln!(out, "  lead time             {}", level(&l.lead_time));
        let _ = writeln!(out, "  change failure rate   {}", level(&l.change_failure_rate));
        let recovery = if report.benchmark_year == 2021 { "time to restore" } else { "recovery time" };
        let _ = writeln!(out, "  {recovery:<22}{}", level(&l.recovery));
        let mut rows = vec![period_row(s.window.metrics)];
        let periods = match grain {
            Grain::Quarter => &s.quarter,
            Grain::Month => &s.month,
            Grain::Week | Grain::Window => &s.week,
        };
        rows[0][0] = "window".into();
        rows.extend(periods.iter().map(|p| period_row(p.metrics)));
        out.push('\n');
        for line in table(HEADERS, &rows).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !report.notes.is_empty() {
        out.push_str("\nWhat this data cannot tell:\n");
        for note in &report.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

/// One CSV row per service, grain and period, every figure in its own column.
pub fn render_csv(report: &RatedReport) -> String {
    let mut writer = spreadsheet::CsvOut::new();
    let header = [
        "service",
        "grain",
        "period",
        "start",
        "end",
        "deployments",
        "deployment_days",
        "per_day",
        "per_week",
        "deployment_days_per_week",
        "median_weekly_deployment_days",
        "frequency_bucket",
        "changes",
        "lead_time_median_hours",
        "lead_time_p75_hours",
        "lead_time_p90_hours",
        "coding_median_hours",
        "pickup_median_hours",
        "review_median_hours",
        "deploy_median_hours",
        "failed_deployments",
        "change_failure_rate",
        "failures_restored",
        "recovery_median_hours",
        "incidents_resolved",
        "time_to_restore_median_hours",
        "rework",
        "rework_rate",
        "level_overall",
        "level_deployment_frequency",
        "level_lead_time",
        "level_change_failure_rate",
        "level_recovery",
    ];
    writer.row(header);
    let num = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let lvl = |r: &Rating| r.level.map(|l| l.name().to_string()).unwrap_or_default();
    for s in &report.services {
        let grains: [(&str, Vec<&RatedPeriod>); 4] = [
            ("window", vec![&s.window]),
            ("quarter", s.quarter.iter().collect()),
            ("month", s.month.iter().collect()),
            ("week", s.week.iter().collect()),
        ];
        for (grain, periods) in grains {
            for p in periods {
                let m = p.metrics;
                let f = &m.deployment_frequency;
                let lt = &m.lead_time;
                writer.row([
                    s.service.to_string(),
                    grain.to_string(),
                    m.period.clone(),
                    m.start.to_rfc3339(),
                    m.end.to_rfc3339(),
                    f.deployments.to_string(),
                    f.deployment_days.to_string(),
                    num(Some(f.per_day)),
                    num(Some(f.per_week)),
                    num(Some(f.deployment_days_per_week)),
                    num(f.median_weekly_deployment_days),
                    f.bucket.clone(),
                    lt.changes.to_string(),
                    num(lt.median_hours),
                    num(lt.p75_hours),
                    num(lt.p90_hours),
                    num(lt.coding.median_hours),
                    num(lt.pickup.median_hours),
                    num(lt.review.median_hours),
                    num(lt.deploy.median_hours),
                    m.change_failure_rate.failed.to_string(),
                    num(m.change_failure_rate.rate),
                    m.failed_deployment_recovery_time.failures.to_string(),
                    num(m.failed_deployment_recovery_time.median_hours),
                    m.time_to_restore.incidents.to_string(),
                    num(m.time_to_restore.median_hours),
                    m.rework_rate.rework.to_string(),
                    num(m.rework_rate.rate),
                    lvl(&p.levels.overall),
                    lvl(&p.levels.deployment_frequency),
                    lvl(&p.levels.lead_time),
                    lvl(&p.levels.change_failure_rate),
                    lvl(&p.levels.recovery),
                ]);
            }
        }
    }
    writer.finish()
}

/// Columns `explain` shows, in this order, when the records have them.
const EXPLAIN_COLUMNS: &[&str] = &[
    "reason",
    "change_id",
    "deployment_id",
    "incident_id",
    "service",
    "environment",
    "title",
    "author",
    "deployed_ts",
    "opened_ts",
    "lead_time_s",
    "recovery_s",
    "restore_s",
    "incidents",
    "rolled_back",
    "hotfixed",
    "reverted",
    "is_failure",
    "is_rework",
    "link",
    "restore_basis",
];

fn cell(value: AnyValue, name: &str) -> String {
    match value {
        AnyValue::Null => "-".into(),
        AnyValue::Int64(v) if name.ends_with("_ts") => {
            chrono::DateTime::from_timestamp(v, 0).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
        }
        AnyValue::Int64(v) if name.ends_with("_s") => duration(Some(v as f64 / 3600.0)),
        other => match other.get_str() {
            Some(s) => s.chars().filter(|c| !c.is_control()).take(60).collect(),
            None => other.to_string(),
        },
    }
}

/// The provenance records as a table, with a count of counted and excluded per reason first.
pub fn render_records(df: &DataFrame) -> String {
    let mut out = String::new();
    let reasons = df.column("reason").ok().and_then(|c| c.str().ok().cloned());
    if let Some(reasons) = &reasons {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in reasons.iter().flatten() {
            *counts.entry(r).or_default() += 1;
        }
        let counted = counts.remove("counted").unwrap_or(0);
        let _ = writeln!(out, "counted: {counted}");
        for (reason, n) in counts {
            let _ = writeln!(out, "excluded, {reason}: {n}");
        }
        out.push('\n');
    }
    let names: Vec<&str> = EXPLAIN_COLUMNS.iter().copied().filter(|c| df.column(c).is_ok()).collect();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        rows.push(
            names.iter().map(|n| cell(df.column(n).and_then(|c| c.get(i)).unwrap_or(AnyValue::Null), n)).collect(),
        );
    }
    out.push_str(&table(&names, &rows));
    out
}

/// Every column of the provenance records as CSV, times as RFC 3339.
pub fn render_records_csv(df: &DataFrame) -> String {
    let mut writer = spreadsheet::CsvOut::new();
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    writer.row(&names);
    for i in 0..df.height() {
        let row: Vec<String> = names
            .iter()
            .map(|n| match df.column(n).and_then(|c| c.get(i)) {
                Ok(AnyValue::Null) | Err(_) => String::new(),
                Ok(AnyValue::Int64(v)) if n.ends_with("_ts") => {
                    chrono::DateTime::from_timestamp(v, 0).map(|t| t.to_rfc3339()).unwrap_or_default()
                }
                Ok(other) => other.get_str().map(str::to_string).unwrap_or_else(|| other.to_string()),
            })
            .collect();
        writer.row(&row);
    }
    writer.finish()
}

/// Columns that hold people's names or addresses, replaced by `--anonymise` (docs/report.md lists
/// them). `incidents.detected_by` and `incidents.team` are not here: one holds a kind (`monitoring`
/// or `person`), the other a team's name.
pub const PEOPLE: &[(&str, &str)] = &[
    ("changes", "author"),
    ("reviews", "reviewer"),
    ("commits", "author"),
    ("commits", "author_email"),
    ("pipelines", "triggered_by"),
    ("jobs", "triggered_by"),
    ("deployments", "triggered_by"),
    ("incidents", "assignee"),
    ("incidents", "resolved_by"),
    ("approvals", "approver"),
];

/// Values of a people column that name no one and stay as they are: an incident resolved by its
/// monitor (`resolved_by = monitoring`, as the trackers and the import write it).
const NOT_PEOPLE: &[(&str, &str, &str)] = &[("incidents", "resolved_by", "monitoring")];

fn names_no_one(table: &str, column: &str, value: &str) -> bool {
    NOT_PEOPLE.iter().any(|(t, c, v)| *t == table && *c == column && *v == value)
}

/// A stable pseudonym: the same name gives the same pseudonym in every run and every report.
pub fn pseudonym(name: &str) -> String {
    // FNV-1a: tiny, deterministic across platforms and versions (unlike std's hasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.trim().to_lowercase().bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // 40 bits: collisions stay unlikely (about one in a million for a thousand people).
    format!("person-{:010x}", hash & 0xff_ffff_ffff)
}

/// Replaces every person's name in the domain tables with its pseudonym, before anything is computed,
/// so every figure, finding and record in the report uses the same pseudonyms.
pub fn anonymise(frames: &mut crate::metrics::prepare::Frames) -> crate::Result<()> {
    for (table, column) in PEOPLE {
        let Some(df) = frames.get_mut(table) else { continue };
        let Ok(values) = df.column(column).and_then(|c| c.str().cloned()) else { continue };
        let replaced: Vec<Option<String>> = values
            .iter()
            .map(|v| v.map(|name| if names_no_one(table, column, name) { name.to_string() } else { pseudonym(name) }))
            .collect();
        df.with_column(Column::new((*column).into(), replaced))?;
    }
    Ok(())
}

/// The ownership analysis as a readable table.
pub fn render_ownership(report: &crate::ownership::OwnershipReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Ownership of {} (authors inactive for more than {} days before {}, the {}, count as gone)",
        report.repo,
        report.inactive_days,
        report.inactive_since_reference.format("%Y-%m-%d"),
        report.inactivity_measured_from
    );
    let rows: Vec<Vec<String>> = std::iter::once(&report.repository)
        .chain(&report.services)
        .map(|s| {
            vec![
                s.name.clone(),
                s.files.to_string(),
                s.files_with_authors.to_string(),
                s.truck_factor.value.to_string(),
                s.truck_factor.removed.join(", "),
                format!(
                    "{} ({})",
                    s.abandoned_files,
                    s.abandoned_share.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "-".into())
                ),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &["scope", "files", "with authors", "truck factor", "whose loss stalls it", "abandoned files"],
        &rows,
    ));
    let top: Vec<Vec<String>> =
        report.repository.top_authors.iter().map(|(who, n)| vec![who.clone(), n.to_string()]).collect();
    if !top.is_empty() {
        out.push_str("\nMain authors (files authored, by degree of authorship)\n");
        out.push_str(&table(&["author", "files"], &top));
    }
    if !report.inactive_authors.is_empty() {
        let _ = writeln!(out, "\nInactive authors who still author files: {}", report.inactive_authors.join(", "));
    }
    match &report.codeowners {
        None => out.push_str("\nNo CODEOWNERS file: nothing declares who owns which paths.\n"),
        Some(c) => render_codeowners(&mut out, c),
    }
    out
}

fn render_codeowners(out: &mut String, c: &crate::ownership::CodeownersReport) {
    let pct = |v: Option<f64>| v.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "\nCODEOWNERS ({}, {} rules)", c.path, c.dialect);
    let _ = writeln!(
        out,
        "  files owned                          {} of {} ({}), {} explicitly unowned",
        c.owned_files,
        c.files,
        pct(c.file_coverage),
        c.explicitly_unowned_files
    );
    let _ = writeln!(
        out,
        "  file changes in the window, owned    {} of {} ({})",
        c.owned_changes_in_window,
        c.changes_in_window,
        pct(c.change_coverage)
    );
    let _ = writeln!(
        out,
        "  lines changed in the window, owned   {} of {} ({})",
        c.owned_lines_changed_in_window,
        c.lines_changed_in_window,
        pct(c.line_coverage)
    );
    if !c.unowned_directories.is_empty() {
        let rows: Vec<Vec<String>> =
            c.unowned_directories.iter().map(|(d, n)| vec![d.clone(), n.to_string()]).collect();
        out.push_str("\n  Unowned paths\n");
        for line in table(&["directory", "files without owner"], &rows).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let lists = [
        ("Rules whose owners no longer contribute", &c.stale_rules),
        ("Rules matching nothing", &c.rules_matching_nothing),
        ("Lines the forge rejects", &c.errors),
    ];
    for (title, list) in lists {
        if !list.is_empty() {
            let _ = writeln!(out, "\n  {title}");
            for r in list {
                let _ = writeln!(out, "    line {}: {} ({})", r.line, r.text, r.note);
            }
        }
    }
    if c.unverifiable_rules > 0 {
        let _ = writeln!(
            out,
            "\n  {} rules name forge handles (@user, @team): whether they still contribute needs the forge source.",
            c.unverifiable_rules
        );
    }
}

/// The ownership analysis as CSV: one row per scope.
pub fn render_ownership_csv(report: &crate::ownership::OwnershipReport) -> String {
    let mut writer = spreadsheet::CsvOut::new();
    writer.row([
        "repo",
        "scope",
        "files",
        "files_with_authors",
        "truck_factor",
        "truck_factor_authors",
        "abandoned_files",
        "abandoned_share",
    ]);
    for s in std::iter::once(&report.repository).chain(&report.services) {
        writer.row([
            report.repo.clone(),
            s.name.clone(),
            s.files.to_string(),
            s.files_with_authors.to_string(),
            s.truck_factor.value.to_string(),
            s.truck_factor.removed.join(";"),
            s.abandoned_files.to_string(),
            s.abandoned_share.map(|x| format!("{x:.4}")).unwrap_or_default(),
        ]);
    }
    writer.finish()
}
