//! A forge's own DORA figures (the `forge_metrics` table: GitLab Ultimate's DORA API) beside
//! flowgauge's for the same months, with the reason they differ, for `flowgauge explain` and the
//! report's methodology.
//!
//! Why: a team that sees one lead time on GitLab's value stream dashboard and another in this
//! report will distrust both unless it is told why they differ. The comparison pairs each of
//! GitLab's monthly values with flowgauge's closest figure — for lead time, flowgauge's deploy stage
//! (merge → deployment), which is what GitLab measures — and states the definitional difference
//! instead of calling the gap a mismatch.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use polars::prelude::*;

use crate::collect::gitlab::dora;
use crate::error::Result;
use crate::metrics::{MetricsReport, PeriodMetrics};

/// One month of one metric of one service: the forge's value and flowgauge's, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthPair {
    pub month: String,
    pub forge: String,
    pub flowgauge: String,
}

/// One metric of one service as the forge gives it, month by month, beside flowgauge.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub service: String,
    pub repo: String,
    pub metric: String,
    pub months: Vec<MonthPair>,
    pub difference: &'static str,
}

impl Comparison {
    /// One line for a reader: both series and why they differ.
    pub fn line(&self) -> String {
        let pairs: Vec<String> =
            self.months.iter().map(|m| format!("{} GitLab {} / flowgauge {}", m.month, m.forge, m.flowgauge)).collect();
        format!(
            "{} — {} beside GitLab's own figure for {}: {}. Why they differ: {}.",
            self.service,
            self.metric,
            self.repo,
            pairs.join("; "),
            self.difference
        )
    }
}

/// One month of a forge's figure: its first day, the value and its unit.
type ForgeMonth = (DateTime<Utc>, Option<f64>, String);

/// The comparisons the `forge_metrics` rows allow, for one metric (or all) and one service (or
/// all), in service, metric and month order. Months outside flowgauge's window keep flowgauge's
/// side as `—`.
pub fn compare(
    forge: &DataFrame,
    report: &MetricsReport,
    metric: Option<&str>,
    service: Option<&str>,
) -> Result<Vec<Comparison>> {
    let mut grouped: BTreeMap<(String, String, String), Vec<ForgeMonth>> = BTreeMap::new();
    for i in 0..forge.height() {
        let text = |column: &str| text_at(forge, column, i);
        let (Some(svc), Some(repo), Some(name), Some(unit)) =
            (text("service"), text("repo"), text("metric"), text("unit"))
        else {
            continue;
        };
        if metric.is_some_and(|m| m != name) || service.is_some_and(|s| s != svc) {
            continue;
        }
        let Some(start) = time_at(forge, "period_start", i) else { continue };
        let value = forge.column("value").ok().and_then(|c| c.get(i).ok()).and_then(|v| v.extract::<f64>());
        grouped.entry((svc, name, repo)).or_default().push((start, value, unit));
    }
    let mut out = Vec::new();
    for ((svc, name, repo), mut months) in grouped {
        months.sort_by_key(|(start, _, _)| *start);
        let flowgauge_months =
            report.services.iter().find(|s| s.service == svc).map(|s| s.month.as_slice()).unwrap_or(&[]);
        let pairs = months
            .iter()
            .map(|(start, value, unit)| {
                let ours = flowgauge_months.iter().find(|p| p.start == *start);
                MonthPair {
                    month: format!("{}-{:02}", start.year(), start.month()),
                    forge: dora::describe(*value, unit),
                    flowgauge: ours.map_or_else(|| "—".to_string(), |p| ours_in_words(p, &name)),
                }
            })
            .collect();
        let Some(difference) = dora::difference(&name) else { continue };
        out.push(Comparison { service: svc, repo, metric: name, months: pairs, difference });
    }
    Ok(out)
}

/// flowgauge's figure for a month, in the words [`dora::describe`] uses for GitLab's.
fn ours_in_words(period: &PeriodMetrics, metric: &str) -> String {
    let hours = |h: Option<f64>| dora::describe(h.map(|h| h * 3600.0), "seconds");
    match metric {
        "deployment-frequency" => dora::describe(Some(period.deployment_frequency.deployments as f64), "deployments"),
        "lead-time" => format!("{} (deploy stage)", hours(period.lead_time.deploy.median_hours)),
        "time-to-restore" => hours(period.time_to_restore.median_hours),
        "change-failure-rate" => match period.change_failure_rate.rate {
            Some(rate) => format!(
                "{:.2} ({} of {} deployments failed)",
                rate, period.change_failure_rate.failed, period.change_failure_rate.deployments
            ),
            None => "no value".into(),
        },
        _ => "—".into(),
    }
}

fn text_at(df: &DataFrame, name: &str, i: usize) -> Option<String> {
    match df.column(name).ok()?.get(i).ok()? {
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        _ => None,
    }
}

fn time_at(df: &DataFrame, name: &str, i: usize) -> Option<DateTime<Utc>> {
    match df.column(name).ok()?.get(i).ok()? {
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => v / 1_000,
                TimeUnit::Microseconds => v,
                TimeUnit::Milliseconds => v * 1_000,
            };
            DateTime::from_timestamp_micros(micros)
        }
        _ => None,
    }
}
