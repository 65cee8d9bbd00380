//! GitLab's own DORA figures (`GET /projects/:id/dora/metrics`, Ultimate), kept in the
//! `forge_metrics` table to be shown beside flowgauge's.
//!
//! Why: a team on GitLab Ultimate already sees GitLab's numbers on its value stream dashboard, and
//! they will differ from flowgauge's. The differences are definitional, not errors — GitLab's lead
//! time runs from merge to deployment, its change failure rate is incidents ÷ deployments with no
//! link between them, its time to restore is how long an incident issue stayed open, and its
//! monthly lead time and time to restore are medians of daily medians — so the reader is shown both
//! figures with the reason they differ instead of a bare "mismatch". A project without Ultimate (or
//! a token below Reporter) answers 403 or 404: that is "not available", recorded as such, and no
//! error.

use chrono::{DateTime, NaiveDate, Utc};

use super::client::Listing;
use crate::config::Service;
use crate::model::{self, Row, Value};

/// GitLab's metric name, the flowgauge metric it stands beside (`explain` name) and the unit of
/// GitLab's value.
pub const METRICS: [(&str, &str, &str); 4] = [
    ("deployment_frequency", "deployment-frequency", "deployments"),
    ("lead_time_for_changes", "lead-time", "seconds"),
    ("time_to_restore_service", "time-to-restore", "seconds"),
    ("change_failure_rate", "change-failure-rate", "ratio"),
];

/// Why GitLab's figure and flowgauge's differ, per flowgauge metric, as the docs of both state it.
pub const DIFFERENCES: [(&str, &str); 4] = [
    (
        "deployment-frequency",
        "GitLab counts successful deployments to environments of the production tier; flowgauge counts the \
         production deployments of the service's configured production environments and deployment signal, so the \
         counts agree when both see the same environments",
    ),
    (
        "lead-time",
        "GitLab's lead time runs from a merge request's merge to its deployment (flowgauge's deploy stage), and its \
         monthly value is the median of daily medians; flowgauge's runs from the first commit to the deployment and is \
         the median over all changes of the period",
    ),
    (
        "time-to-restore",
        "GitLab's time to restore is how long incident issues stayed open (median of daily medians); flowgauge's runs \
         from the incident's start to its restore, using the timeline's times where GitLab has them",
    ),
    (
        "change-failure-rate",
        "GitLab divides the number of incidents by the number of deployments, with no link between them; flowgauge \
         counts the deployments that an incident, a rollback or a revert links to a failure",
    ),
];

/// The definitional difference of a flowgauge metric, if GitLab reports one like it.
pub fn difference(metric: &str) -> Option<&'static str> {
    DIFFERENCES.iter().find(|(m, _)| *m == metric).map(|(_, text)| *text)
}

/// The REST request of one metric, monthly, for the days `since..until` (until exclusive), for the
/// environments of the production tier.
pub fn metrics_listing(project: &str, metric: &str, since: NaiveDate, until: NaiveDate) -> Listing {
    let last = until.pred_opt().unwrap_or(until);
    Listing::project(project, "dora/metrics")
        .param("metric", metric)
        .param("start_date", since.to_string())
        .param("end_date", last.to_string())
        .param("interval", "monthly")
        .param("environment_tiers[]", "production")
}

/// The row id of one month of one metric.
pub fn row_id(project: &str, metric: &str, month: NaiveDate) -> String {
    format!("gitlab:{project}:dora:{metric}:{month}")
}

/// The id prefix of a project's rows: they are a snapshot, replaced as a whole.
pub fn prefix(project: &str) -> String {
    format!("gitlab:{project}:dora:")
}

/// Rows of one metric's answer (`[{"date": "2025-01-01", "value": 3}, …]`). An entry without a
/// readable date is skipped; a `null` value is kept as an empty value (GitLab has no figure).
pub fn dora_rows(project: &str, service: &Service, forge_metric: &str, page: &serde_json::Value) -> Vec<Row> {
    let Some((_, metric, unit)) = METRICS.iter().find(|(m, _, _)| *m == forge_metric) else {
        return Vec::new();
    };
    let entries = page.as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            let month = entry["date"].as_str().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
            let start: DateTime<Utc> = month.and_hms_opt(0, 0, 0)?.and_utc();
            Some(model::FORGE_METRICS.row([
                ("id", Value::Text(row_id(project, metric, month))),
                ("source", Value::Text("gitlab".into())),
                ("service", Value::Text(service.name.clone())),
                ("repo", Value::Text(project.to_string())),
                ("metric", Value::Text(metric.to_string())),
                ("forge_metric", Value::Text(forge_metric.to_string())),
                ("period_start", Value::Time(start)),
                ("value", entry["value"].as_f64().map_or(Value::Null, Value::Float)),
                ("unit", Value::Text(unit.to_string())),
            ]))
        })
        .collect()
}

/// A forge's monthly value in words: `3 deployments`, `2.5 h`, `0.25 incidents per deployment`.
pub fn describe(value: Option<f64>, unit: &str) -> String {
    match (value, unit) {
        (None, _) => "no value".into(),
        (Some(v), "deployments") => format!("{v:.0} deployments"),
        (Some(v), "seconds") if v >= 86_400.0 => format!("{:.1} d", v / 86_400.0),
        (Some(v), "seconds") if v >= 3_600.0 => format!("{:.1} h", v / 3_600.0),
        (Some(v), "seconds") => format!("{:.0} min", v / 60.0),
        (Some(v), _) => format!("{v:.2} incidents per deployment"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_month_is_a_row_and_a_missing_value_stays_empty() {
        let page = json!([
            { "date": "2025-01-01", "value": 5400 },
            { "date": "2025-02-01", "value": null },
            { "date": "not a date", "value": 1 }
        ]);
        let rows = dora_rows("acme/ledger", &Service::named("ledger", None), "lead_time_for_changes", &page);
        assert_eq!(rows.len(), 2);
        let cell = |row: &Row, c: &str| row[model::FORGE_METRICS.position(c).unwrap()].clone();
        assert_eq!(cell(&rows[0], "id"), Value::Text("gitlab:acme/ledger:dora:lead-time:2025-01-01".into()));
        assert_eq!(cell(&rows[0], "value"), Value::Float(5400.0));
        assert_eq!(cell(&rows[0], "unit"), Value::Text("seconds".into()));
        assert_eq!(cell(&rows[1], "value"), Value::Null);
        assert_eq!(describe(Some(5400.0), "seconds"), "1.5 h");
        assert_eq!(describe(Some(0.25), "ratio"), "0.25 incidents per deployment");
        assert!(dora_rows("acme/ledger", &Service::named("ledger", None), "something_else", &page).is_empty());
    }

    #[test]
    fn every_compared_metric_has_its_difference_stated() {
        for (_, metric, _) in METRICS {
            assert!(difference(metric).is_some(), "{metric}");
            assert!(crate::metrics::EXPLAINABLE.iter().any(|(name, _)| *name == metric), "{metric} is explainable");
        }
    }
}
