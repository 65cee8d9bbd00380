//! Stand-in for the evidence indicators, kept only on the assessment branch so that the scorecard
//! compiles and runs before the evidence branch (which owns this file and computes every indicator)
//! is merged; the merge replaces this file. It measures nothing, so every capability's evidence is
//! `unknown` with the reason given by the scorecard: never a guess.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;

/// What an indicator is measured from.
pub struct EvidenceInput<'a> {
    /// The loaded domain tables.
    pub tables: &'a crate::metrics::prepare::Frames,
    /// The record queries' results (change_lead_times, deployment_outcomes, incident_restores).
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
    /// Why unknown (never a guess).
    pub unknown_reason: Option<String>,
    /// e.g. "38 of 51 production deployments were started by a person".
    pub detail: String,
    /// Records the value rests on.
    pub sample: u64,
    /// Ids of the records behind it (for `assess explain`).
    pub records: Vec<String>,
}

/// Every indicator the code knows, measured for one service over [since, until). The stand-in knows
/// none.
pub fn measure(
    _input: &EvidenceInput,
    _service: &str,
    _since: DateTime<Utc>,
    _until: DateTime<Utc>,
) -> Result<Vec<Measurement>> {
    Ok(Vec::new())
}
