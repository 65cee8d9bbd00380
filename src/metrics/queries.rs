//! The metric definitions: `queries/*.sql`, embedded in the binary and overridable with `--queries`.
//!
//! Each file starts with a header of `-- key: value` lines (name, unit, grain, requires). `grain:
//! record` queries produce one row per change, deployment or incident with the reason it was counted
//! or excluded (the provenance `explain` prints); `grain: period` queries aggregate those per service
//! and period. Files run in the order of [`EMBEDDED`]; each output is registered under the file's name
//! for the queries after it.

use std::path::Path;

use crate::error::{Error, Result};

/// The queries, in execution order.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("change_lead_times", include_str!("../../queries/change_lead_times.sql")),
    ("deployment_outcomes", include_str!("../../queries/deployment_outcomes.sql")),
    ("incident_restores", include_str!("../../queries/incident_restores.sql")),
    ("deployment_frequency", include_str!("../../queries/deployment_frequency.sql")),
    ("lead_time", include_str!("../../queries/lead_time.sql")),
    ("change_failure_rate", include_str!("../../queries/change_failure_rate.sql")),
    ("failed_deployment_recovery_time", include_str!("../../queries/failed_deployment_recovery_time.sql")),
    ("time_to_restore", include_str!("../../queries/time_to_restore.sql")),
    ("rework_rate", include_str!("../../queries/rework_rate.sql")),
];

/// Whether a query produces records or per-period aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryGrain {
    Record,
    Period,
}

/// One parsed query file.
#[derive(Debug, Clone)]
pub struct Query {
    /// File stem; also the name its output is registered under.
    pub file: String,
    pub name: String,
    pub unit: String,
    pub grain: QueryGrain,
    pub requires: Vec<String>,
    pub sql: String,
    /// Where the text came from: `embedded` or a path.
    pub origin: String,
}

/// Loads the embedded queries, replacing any that `dir` provides.
pub fn load(dir: Option<&Path>) -> Result<Vec<Query>> {
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::Query {
            name: dir.display().to_string(),
            message: format!("cannot read the queries directory: {e}"),
        })?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if !EMBEDDED.iter().any(|(name, _)| *name == stem) {
                let known: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
                return Err(Error::Query {
                    name: path.display().to_string(),
                    message: format!("not a query flowgauge runs; override one of: {}", known.join(", ")),
                });
            }
        }
    }
    EMBEDDED
        .iter()
        .map(|(file, text)| {
            let override_path = dir.map(|d| d.join(format!("{file}.sql"))).filter(|p| p.exists());
            match override_path {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                    parse(file, &text, &path.display().to_string())
                }
                None => parse(file, text, "embedded"),
            }
        })
        .collect()
}

/// Parses a query's header.
pub fn parse(file: &str, text: &str, origin: &str) -> Result<Query> {
    let bad = |message: String| Error::Query { name: format!("{file} ({origin})"), message };
    let mut fields = std::collections::HashMap::new();
    for line in text.lines() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            break;
        };
        if let Some((key, value)) = comment.split_once(':') {
            fields.insert(key.trim().to_string(), value.trim().to_string());
        }
    }
    let field = |key: &str| fields.get(key).cloned().ok_or_else(|| bad(format!("header lacks `-- {key}:`")));
    let grain = match field("grain")?.as_str() {
        "record" => QueryGrain::Record,
        "period" => QueryGrain::Period,
        other => return Err(bad(format!("grain `{other}` is not `record` or `period`"))),
    };
    Ok(Query {
        file: file.to_string(),
        name: field("name")?,
        unit: field("unit")?,
        grain,
        requires: field("requires")?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        sql: text.to_string(),
        origin: origin.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_query_has_a_header() {
        let queries = load(None).unwrap();
        assert_eq!(queries.len(), EMBEDDED.len());
        assert!(queries.iter().all(|q| !q.requires.is_empty()));
    }

    #[test]
    fn a_header_without_grain_is_refused() {
        let err = parse("x", "-- name: X\n-- unit: h\nSELECT 1", "test").unwrap_err();
        assert!(err.to_string().contains("grain"), "{err}");
    }
}
