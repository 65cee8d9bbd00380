//! The report's view of the maturity assessment: a capabilities section per service and, on the
//! portfolio page, a heatmap of services × capabilities coloured by evidence score with the survey
//! score marked — the picture a consultant puts on a slide. Built from the scorecard
//! ([`crate::assess::capabilities::scorecard`]); rendered by `report-templates/capabilities.html`.

use serde::Serialize;

use crate::assess::capabilities::scorecard::ServiceAssessment;

/// DORA's content is CC-BY-4.0: the report says so wherever it shows the catalogue.
pub const ATTRIBUTION: &str = "Capabilities and survey items build on DORA's capability catalogue and survey (dora.dev, © DORA/Google, CC-BY-4.0); items marked DORA quote it, the rest are flowgauge's.";

/// One capability's line in a service's section.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityRow {
    pub name: String,
    pub evidence: String,
    pub evidence_band: String,
    pub survey: String,
    pub survey_band: String,
    pub colour: &'static str,
    /// The top indicator's detail, or why the evidence is unknown.
    pub evidence_note: String,
    pub disagreement: Option<String>,
    /// Movement over the last two quarters: "+2.5 (2025-Q3 → 2025-Q4): ci.x 2.5 → 5.0".
    pub movement: Option<String>,
}

/// A capability among a service's weakest, for the Markdown summary.
#[derive(Debug, Clone, Serialize)]
pub struct WeakCapability {
    pub name: String,
    pub evidence: String,
    pub survey: String,
}

/// A service's capabilities section.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceCapabilities {
    pub service: String,
    pub respondents: usize,
    pub rows: Vec<CapabilityRow>,
    pub quick_check: Vec<String>,
    /// The three weakest capabilities: lowest score first, scored by evidence when known, else by
    /// survey (as the recommendations rank them); capabilities with neither are left out.
    pub weakest: Vec<WeakCapability>,
    /// Every disagreement's text: capabilities first, then the Quick Check's.
    pub disagreements: Vec<String>,
}

/// How many weakest capabilities the summary names.
pub const WEAKEST: usize = 3;

fn weakest(a: &ServiceAssessment) -> Vec<WeakCapability> {
    let mut scored: Vec<(f64, &crate::assess::capabilities::scorecard::CapabilityAssessment)> =
        a.capabilities.iter().filter_map(|c| c.evidence.score.or(c.survey.score).map(|s| (s, c))).collect();
    // Stable: equal scores keep catalogue order.
    scored.sort_by(|x, y| x.0.total_cmp(&y.0));
    scored
        .into_iter()
        .take(WEAKEST)
        .map(|(_, c)| WeakCapability {
            name: c.name.clone(),
            evidence: show(c.evidence.score),
            survey: show(c.survey.score),
        })
        .collect()
}

/// One heatmap cell.
#[derive(Debug, Clone, Serialize)]
pub struct HeatCell {
    pub evidence: String,
    pub survey: String,
    pub colour: &'static str,
    /// Survey and evidence disagree by more than the margin.
    pub disagrees: bool,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeatRow {
    pub service: String,
    pub cells: Vec<HeatCell>,
}

/// Everything the capabilities template shows.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilitiesView {
    pub attribution: &'static str,
    /// Capability names, the heatmap's columns.
    pub columns: Vec<String>,
    pub heatmap: Vec<HeatRow>,
    pub services: Vec<ServiceCapabilities>,
}

/// The background colour of a score's band; grey when unknown.
pub fn colour(score: Option<f64>) -> &'static str {
    match score.map(crate::assess::capabilities::band) {
        Some("absent") => "#f4c7c3",
        Some("initial") => "#fbdcb8",
        Some("developing") => "#fdf1b8",
        Some("established") => "#d4edd0",
        Some("leading") => "#a9dbb0",
        _ => "#e8e8e8",
    }
}

fn show(score: Option<f64>) -> String {
    score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "–".into())
}

/// Builds the view from the scorecards, services in the report's order.
pub fn view(assessments: &[ServiceAssessment]) -> CapabilitiesView {
    let columns =
        assessments.first().map(|a| a.capabilities.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let heatmap = assessments
        .iter()
        .map(|a| HeatRow {
            service: a.service.clone(),
            cells: a
                .capabilities
                .iter()
                .map(|c| HeatCell {
                    evidence: show(c.evidence.score),
                    survey: show(c.survey.score),
                    colour: colour(c.evidence.score),
                    disagrees: c.disagreement.is_some(),
                    title: format!("{}: evidence {}, survey {}", c.name, show(c.evidence.score), show(c.survey.score)),
                })
                .collect(),
        })
        .collect();
    let services = assessments
        .iter()
        .map(|a| ServiceCapabilities {
            service: a.service.clone(),
            respondents: a.respondents,
            rows: a
                .capabilities
                .iter()
                .map(|c| {
                    let top = c.top_indicator.as_ref().and_then(|id| c.indicators.iter().find(|i| &i.id == id));
                    CapabilityRow {
                        name: c.name.clone(),
                        evidence: show(c.evidence.score),
                        evidence_band: c.evidence.band.unwrap_or("unknown").to_string(),
                        survey: show(c.survey.score),
                        survey_band: c.survey.band.unwrap_or("unknown").to_string(),
                        colour: colour(c.evidence.score),
                        evidence_note: match top {
                            Some(i) => format!("{}: {}", i.name, i.detail),
                            None => c.evidence.unknown_reason.clone().unwrap_or_default(),
                        },
                        disagreement: c.disagreement.as_ref().map(|d| d.text.clone()),
                        movement: c.movement.last().and_then(|m| {
                            m.change.map(|change| {
                                let by = if m.moved_by.is_empty() {
                                    String::new()
                                } else {
                                    format!(": {}", m.moved_by.join(", "))
                                };
                                format!("{change:+.1} ({} → {}){by}", m.from, m.to)
                            })
                        }),
                    }
                })
                .collect(),
            quick_check: a.quick_check.iter().filter_map(|q| q.disagreement.as_ref().map(|d| d.text.clone())).collect(),
            weakest: weakest(a),
            disagreements: a.disagreements.iter().map(|d| d.text.clone()).collect(),
        })
        .collect();
    CapabilitiesView { attribution: ATTRIBUTION, columns, heatmap, services }
}
