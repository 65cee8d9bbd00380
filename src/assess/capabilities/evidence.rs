//! Evidence indicators: what the collected records say about each delivery capability.
//!
//! Every indicator of the catalogue's `[[indicator]]` section is measured here for one service over
//! `[since, until)`, from the domain tables and the record queries' results, with the records it
//! rests on. Where the data cannot tell (no pipelines collected, a source that does not record who
//! started a deployment), the indicator is `unknown` with the reason, never a guess. Indicators from
//! dated records respect the period, so the assessment can measure quarter by quarter; indicators
//! from the repository's files (the scan, CODEOWNERS, the ownership analysis) are a snapshot of
//! HEAD and read the same in every period.
//!
//! Each table is read once per call, filtered to the service first, and indexed with hash maps, so
//! the work stays linear in the size of the tables. `docs/assessment.md`, "Indicators", states every
//! indicator, its bands and when it is unknown.

mod delivery;
mod flow;
mod repository;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::metrics::prepare::{self, Frames};

/// What the indicators are computed from.
pub struct EvidenceInput<'a> {
    /// The loaded domain tables.
    pub tables: &'a Frames,
    /// The record queries' results (`change_lead_times`, `deployment_outcomes`, `incident_restores`).
    pub computation: &'a crate::metrics::Computation,
    pub config: &'a crate::config::Config,
}

/// One indicator's value for one service and period.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Indicator id from the catalogue.
    pub indicator: String,
    /// `None` = unknown.
    pub value: Option<f64>,
    /// Why the value is unknown (never a guess).
    pub unknown_reason: Option<String>,
    /// One sentence a reader can check: "38 of 51 production deployments were started by a person".
    pub detail: String,
    /// Records the value rests on.
    pub sample: u64,
    /// Ids of the records behind it (for `assess explain`).
    pub records: Vec<String>,
}

impl Measurement {
    /// A measured value resting on `records`.
    fn known(indicator: &str, value: f64, detail: String, records: Vec<String>) -> Measurement {
        Measurement {
            indicator: indicator.to_string(),
            value: Some(value),
            unknown_reason: None,
            detail,
            sample: records.len() as u64,
            records,
        }
    }

    /// A value the data cannot give, with the reason.
    fn unknown(indicator: &str, reason: impl Into<String>) -> Measurement {
        let reason = reason.into();
        Measurement {
            indicator: indicator.to_string(),
            value: None,
            unknown_reason: Some(reason.clone()),
            detail: reason,
            sample: 0,
            records: Vec::new(),
        }
    }

    /// A yes/no fact (1 = present), with the records that show it.
    fn presence(indicator: &str, found: bool, detail: String, records: Vec<String>) -> Measurement {
        Measurement::known(indicator, if found { 1.0 } else { 0.0 }, detail, records)
    }

    /// The sample is every record looked at, when only those that show the fact are listed.
    fn examined(mut self, records: usize) -> Measurement {
        self.sample = records as u64;
        self
    }
}

/// Indicators that describe the repository as it is at HEAD (the scan, the forge's settings, the
/// ownership analysis, the files its history left): the same in every period, so they take no part
/// in quarter-over-quarter movement.
pub const HEAD_INDICATORS: [&str; 20] = [
    "vc.pipeline_config_in_repo",
    "ta.tests_in_repo",
    "da.manual_steps",
    "mo.monitoring_in_repo",
    "pfn.alerting_in_repo",
    "rr.rollback_script",
    "irr.review_documents",
    "iac.iac_in_repo",
    "co.containers",
    "co.orchestration",
    "cm.config_management",
    "doc.runbooks",
    "km.truck_factor",
    "km.codeowners_coverage",
    "km.knowledge_loss",
    "km.codeowners_gaps",
    "db.migration_files",
    "sec.security_config",
    "doc.readme",
    "doc.adrs",
];

/// Whether `indicator` describes the repository at HEAD rather than a period's records.
pub fn describes_head(indicator: &str) -> bool {
    HEAD_INDICATORS.contains(&indicator)
}

/// Every indicator the code knows, measured for one service over `[since, until)`.
pub fn measure(
    input: &EvidenceInput,
    service: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Measurement>> {
    if until <= since {
        return Err(Error::Refused(format!("the period {since} – {until} is empty: it must end after it starts")));
    }
    let scope = Scope::new(input, service, since, until)?;
    let mut out = delivery::measure(input, &scope)?;
    out.extend(flow::measure(input, &scope)?);
    out.extend(repository::measure(input, &scope)?);
    Ok(out)
}

/// The service and period being measured.
pub(crate) struct Scope<'a> {
    service: &'a str,
    /// `[since, until)` in seconds since the epoch, like the epochized `*_ts` columns.
    since: i64,
    until: i64,
    /// The service's repositories: configured, or named by its changes, deployments and pipelines.
    repos: BTreeSet<String>,
}

impl<'a> Scope<'a> {
    fn new(input: &EvidenceInput, service: &'a str, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Self> {
        let mut repos: BTreeSet<String> =
            input.config.services.iter().filter(|s| s.name == service).flat_map(|s| s.repos.iter().cloned()).collect();
        for name in ["changes", "deployments", "pipelines"] {
            let df = table(input, name)?;
            let services = prepare::strs(df, "service")?;
            let names = prepare::strs(df, "repo")?;
            for (s, repo) in services.iter().zip(names.iter()) {
                if let (Some(s), Some(repo)) = (s, repo)
                    && s == service
                {
                    repos.insert(repo.to_string());
                }
            }
        }
        Ok(Scope { service, since: since.timestamp(), until: until.timestamp(), repos })
    }

    /// Whether an instant lies in `[since, until)`.
    fn contains(&self, ts: Option<i64>) -> bool {
        ts.is_some_and(|t| t >= self.since && t < self.until)
    }

    fn days(&self) -> f64 {
        (self.until - self.since) as f64 / 86_400.0
    }

    fn owns_repo(&self, repo: Option<&str>) -> bool {
        repo.is_some_and(|r| self.repos.contains(r))
    }
}

/// A loaded domain table by name.
fn table<'a>(input: &'a EvidenceInput, name: &str) -> Result<&'a DataFrame> {
    input.tables.get(name).ok_or_else(|| Error::NotFound(format!("table `{name}` is not loaded")))
}

/// The rows of `df` for which `keep` holds, with every timestamp as epoch seconds (`x_at` → `x_ts`).
fn rows_where(df: &DataFrame, keep: impl Fn(usize) -> bool) -> Result<DataFrame> {
    let mask: BooleanChunked = (0..df.height()).map(|i| Some(keep(i))).collect();
    prepare::epochize(&df.filter(&mask)?)
}

/// The rows of a table whose `service` column names the service.
fn service_rows(input: &EvidenceInput, name: &str, service: &str) -> Result<DataFrame> {
    let df = table(input, name)?;
    let services = prepare::strs(df, "service")?;
    rows_where(df, |i| services.get(i) == Some(service))
}

fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    Ok(prepare::strs(df, name)?.iter().map(|v| v.map(str::to_string)).collect())
}

fn times(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(prepare::ints(df, name)?.iter().collect())
}

fn flags(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    Ok(prepare::bools(df, name)?.iter().collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    Ok(df.column(name)?.f64()?.iter().collect())
}

/// The median, the mean of the two middle values for an even count.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

/// `part / whole`, for a share whose whole is known to be positive.
fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

/// A duration in words: minutes under two hours, hours under three days, days beyond.
fn duration(seconds: f64) -> String {
    if seconds < 7_200.0 {
        format!("{:.0} minutes", seconds / 60.0)
    } else if seconds < 259_200.0 {
        format!("{:.1} hours", seconds / 3_600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

/// Lower-case words of a name (`run-unit_tests` → `run`, `unit`, `tests`).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_ascii_lowercase())
}

/// "1 merged change", "2 merged changes": a count with its noun agreeing.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "a, b and 3 more" for at most three examples.
fn examples<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    let all: Vec<&str> = items.into_iter().collect();
    let shown = all.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    if all.len() > 3 { format!("{shown} and {} more", all.len() - 3) } else { shown }
}
