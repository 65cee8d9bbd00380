//! The scorecard: per service, every capability's evidence score and survey score side by side
//! (never averaged), the disagreements between them, the self-reported Quick Check metrics held
//! against the measured ones, the movement quarter over quarter, and the ranked recommendations.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::evidence::Measurement;
use super::snapshot::{CapabilityScores, Snapshot, SnapshotMovement};
use super::survey::{self, QuickCheckMetric, QuickCheckSummary, Respondent, SurveyScore};
use super::{Better, Catalogue, DISAGREEMENT_MARGIN, Indicator, band, evidence_score, indicator_score, round1};
use crate::assess::{Level, Levels};
use crate::config::Analysis;
use crate::metrics::PeriodMetrics;

/// One indicator as scored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorResult {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub better: Better,
    pub bands: [f64; 4],
    pub value: Option<f64>,
    /// 0–10 against the bands; `None` when the value is unknown.
    pub score: Option<f64>,
    pub unknown_reason: Option<String>,
    pub detail: String,
    pub sample: u64,
    /// How many records lie behind it (`flowgauge assess explain` lists them).
    pub records: usize,
}

/// The evidence side of a capability.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceSide {
    pub score: Option<f64>,
    pub band: Option<&'static str>,
    pub unknown_reason: Option<String>,
}

/// Evidence and survey further apart than the margin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Disagreement {
    /// A capability id, or a Quick Check metric key.
    pub subject: String,
    pub survey: f64,
    pub evidence: f64,
    /// e.g. "answers say deployment automation is established (6.2/10); the records say absent
    /// (0.0/10): 51 of 51 production deployments were started by a person".
    pub text: String,
}

/// A capability's evidence score in one quarter.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuarterScore {
    pub period: String,
    pub score: Option<f64>,
    /// Indicator id → score in this quarter (known ones only).
    pub indicators: BTreeMap<String, f64>,
}

/// What changed a capability's evidence score from one quarter to the next.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Movement {
    pub from: String,
    pub to: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// `after − before`, one decimal, when both are known.
    pub change: Option<f64>,
    /// The indicators whose score changed: "id 2.5 → 7.5" (or "unknown → 5.0").
    pub moved_by: Vec<String>,
}

/// One capability of one service.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityAssessment {
    pub id: String,
    pub name: String,
    pub moves: Vec<String>,
    pub evidence: EvidenceSide,
    pub survey: SurveyScore,
    /// The known indicator with the lowest score (the one holding the capability back; ties: catalogue order).
    pub top_indicator: Option<String>,
    pub indicators: Vec<IndicatorResult>,
    pub disagreement: Option<Disagreement>,
    pub quarters: Vec<QuarterScore>,
    pub movement: Vec<Movement>,
}

/// A self-reported metric beside the measured one.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricComparison {
    pub metric: QuickCheckMetric,
    pub self_reported: QuickCheckSummary,
    /// The measured value in the Quick Check's terms (an option's text, or a percentage).
    pub measured: Option<String>,
    /// The measured value on the Quick Check's 0–10 scale.
    pub measured_score: Option<f64>,
    pub disagreement: Option<Disagreement>,
}

/// A ranked recommendation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    pub rank: usize,
    pub capability: String,
    pub name: String,
    /// The score the ranking used (evidence when known, else survey) and which it was.
    pub score: f64,
    pub scored_from: &'static str,
    /// The service's weak metrics this capability moves, weakest first.
    pub metrics: Vec<String>,
    /// (10 − score) × the weakness of the weakest metric it moves (low 3, medium 2, high 1).
    pub priority: f64,
    /// The indicator that would show progress.
    pub watch: Option<String>,
    pub text: String,
}

/// The whole assessment of one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAssessment {
    pub service: String,
    pub respondents: usize,
    pub capabilities: Vec<CapabilityAssessment>,
    pub quick_check: Vec<MetricComparison>,
    /// Every disagreement: capabilities first, then Quick Check metrics.
    pub disagreements: Vec<Disagreement>,
    pub recommendations: Vec<Recommendation>,
    /// Every capability with a priority, ranked (the five first are `recommendations`): the report
    /// folds the findings' recommendations into it (`src/report/recommendations.rs`).
    #[serde(skip)]
    pub ranking: Vec<Recommendation>,
    /// Scores that changed since the service's previous dated snapshot (filled in when snapshots are kept).
    pub since_last_assessment: Vec<SnapshotMovement>,
}

impl ServiceAssessment {
    /// The scores to keep of this assessment, dated `date`, for later runs to compare with.
    pub fn snapshot(&self, date: chrono::NaiveDate) -> Snapshot {
        Snapshot {
            date,
            service: self.service.clone(),
            respondents: self.respondents,
            capabilities: self
                .capabilities
                .iter()
                .map(|c| (c.id.clone(), CapabilityScores { evidence: c.evidence.score, survey: c.survey.score }))
                .collect(),
            indicators: self
                .capabilities
                .iter()
                .flat_map(|c| c.indicators.iter())
                .filter_map(|i| i.value.map(|v| (i.id.clone(), v)))
                .collect(),
        }
    }
}

/// Scores each measurement of the catalogue's indicators; indicators the evidence did not return are
/// unknown, measurements of indicators the catalogue does not list are ignored.
pub fn score_indicators(catalogue: &Catalogue, measurements: &[Measurement]) -> Vec<IndicatorResult> {
    catalogue
        .indicators
        .iter()
        .map(|ind| {
            let m = measurements.iter().find(|m| m.indicator == ind.id);
            result(ind, m)
        })
        .collect()
}

fn result(ind: &Indicator, m: Option<&Measurement>) -> IndicatorResult {
    let value = m.and_then(|m| m.value).filter(|v| v.is_finite());
    IndicatorResult {
        id: ind.id.clone(),
        name: ind.name.clone(),
        unit: ind.unit.clone(),
        better: ind.better,
        bands: ind.bands,
        value,
        score: value.map(|v| indicator_score(ind, v)),
        unknown_reason: match (m, value) {
            (_, Some(_)) => None,
            (None, None) => Some("not measured by this version of flowgauge".into()),
            (Some(m), None) => Some(m.unknown_reason.clone().unwrap_or_else(|| "the records cannot tell".into())),
        },
        detail: m.map(|m| m.detail.clone()).unwrap_or_default(),
        sample: m.map(|m| m.sample).unwrap_or(0),
        records: m.map(|m| m.records.len()).unwrap_or(0),
    }
}

fn evidence_side(catalogue: &Catalogue, capability: &str, indicators: &[&IndicatorResult]) -> EvidenceSide {
    let known: Vec<f64> = indicators.iter().filter_map(|i| i.score).collect();
    let score = evidence_score(&known);
    let unknown_reason = if score.is_some() {
        None
    } else if catalogue.indicators_of(capability).next().is_none() {
        Some("the catalogue defines no indicator for this capability".to_string())
    } else {
        let reasons: Vec<String> = indicators
            .iter()
            .map(|i| format!("{}: {}", i.id, i.unknown_reason.as_deref().unwrap_or("unknown")))
            .collect();
        Some(format!("no indicator could be measured ({})", reasons.join("; ")))
    };
    EvidenceSide { score, band: score.map(band), unknown_reason }
}

/// The known indicator with the lowest score; ties go to the first in catalogue order.
fn weakest<'a>(indicators: &[&'a IndicatorResult]) -> Option<&'a IndicatorResult> {
    indicators.iter().filter(|i| i.score.is_some()).fold(None, |best: Option<&IndicatorResult>, i| match best {
        Some(b) if b.score <= i.score => Some(b),
        _ => Some(i),
    })
}

/// The known indicator with the highest score; ties go to the first in catalogue order.
fn strongest<'a>(indicators: &[&'a IndicatorResult]) -> Option<&'a IndicatorResult> {
    indicators.iter().filter(|i| i.score.is_some()).fold(None, |best: Option<&IndicatorResult>, i| match best {
        Some(b) if b.score >= i.score => Some(b),
        _ => Some(i),
    })
}

/// Raises a disagreement when survey and evidence differ by more than the margin; the text quotes
/// the indicator that contradicts the answers most (the weakest when answers are higher).
pub fn disagreement(
    name: &str,
    subject: &str,
    survey: Option<f64>,
    evidence: Option<f64>,
    indicators: &[&IndicatorResult],
) -> Option<Disagreement> {
    let (s, e) = (survey?, evidence?);
    if (s - e).abs() <= DISAGREEMENT_MARGIN {
        return None;
    }
    let witness = if s > e { weakest(indicators) } else { strongest(indicators) };
    let detail = witness.map(|i| format!(": {}", i.detail)).filter(|d| d.len() > 2).unwrap_or_default();
    Some(Disagreement {
        subject: subject.to_string(),
        survey: s,
        evidence: e,
        text: format!(
            "answers say {} is {} ({s:.1}/10); the records say {} ({e:.1}/10){detail}",
            name.to_lowercase(),
            band(s),
            band(e)
        ),
    })
}

/// Evidence scores per quarter and the movement between consecutive quarters.
fn quarters(
    catalogue: &Catalogue,
    capability: &str,
    per_quarter: &[(String, Vec<IndicatorResult>)],
) -> (Vec<QuarterScore>, Vec<Movement>) {
    let scores: Vec<QuarterScore> = per_quarter
        .iter()
        .map(|(period, results)| {
            let mine: Vec<&IndicatorResult> = results.iter().filter(|r| is_of(catalogue, r, capability)).collect();
            let indicators: BTreeMap<String, f64> =
                mine.iter().filter_map(|r| r.score.map(|s| (r.id.clone(), s))).collect();
            QuarterScore {
                period: period.clone(),
                score: evidence_side(catalogue, capability, &mine).score,
                indicators,
            }
        })
        .collect();
    let movement = scores
        .windows(2)
        .map(|w| {
            let (a, b) = (&w[0], &w[1]);
            let mut ids: Vec<&String> = a.indicators.keys().chain(b.indicators.keys()).collect();
            ids.sort();
            ids.dedup();
            let show = |s: Option<&f64>| s.map(|v| format!("{v:.1}")).unwrap_or_else(|| "unknown".into());
            let moved_by = ids
                .into_iter()
                .filter(|id| a.indicators.get(*id) != b.indicators.get(*id))
                .map(|id| format!("{id} {} → {}", show(a.indicators.get(id)), show(b.indicators.get(id))))
                .collect();
            Movement {
                from: a.period.clone(),
                to: b.period.clone(),
                before: a.score,
                after: b.score,
                change: a.score.zip(b.score).map(|(x, y)| round1(y - x)),
                moved_by,
            }
        })
        .collect();
    (scores, movement)
}

fn is_of(catalogue: &Catalogue, r: &IndicatorResult, capability: &str) -> bool {
    catalogue.indicator(&r.id).is_some_and(|i| i.capability == capability)
}

/// Everything the scorecard of one service is built from.
pub struct ServiceInput<'a> {
    pub service: &'a str,
    /// Indicators measured over the whole window.
    pub window: &'a [Measurement],
    /// Indicators measured per quarter, labelled.
    pub quarters: &'a [(String, Vec<Measurement>)],
    /// Respondents who answered about this service.
    pub respondents: &'a [&'a Respondent],
    /// The service's measured metrics over the window, for the Quick Check comparison and recommendations.
    pub metrics: Option<&'a PeriodMetrics>,
    pub analysis: &'a Analysis,
}

/// Builds one service's scorecard.
pub fn assess_service(catalogue: &Catalogue, input: &ServiceInput) -> ServiceAssessment {
    let window = score_indicators(catalogue, input.window);
    let per_quarter: Vec<(String, Vec<IndicatorResult>)> =
        input.quarters.iter().map(|(p, m)| (p.clone(), score_indicators(catalogue, m))).collect();
    let surveys = survey::score_capabilities(catalogue, input.respondents);
    let mut capabilities = Vec::new();
    for (cap, (_, survey)) in catalogue.capabilities.iter().zip(surveys) {
        let mine: Vec<&IndicatorResult> = window.iter().filter(|r| is_of(catalogue, r, &cap.id)).collect();
        let evidence = evidence_side(catalogue, &cap.id, &mine);
        let disagreement = disagreement(&cap.name, &cap.id, survey.score, evidence.score, &mine);
        let (quarters, movement) = quarters(catalogue, &cap.id, &per_quarter);
        capabilities.push(CapabilityAssessment {
            id: cap.id.clone(),
            name: cap.name.clone(),
            moves: cap.moves.clone(),
            top_indicator: weakest(&mine).map(|i| i.id.clone()),
            indicators: mine.into_iter().cloned().collect(),
            evidence,
            survey,
            disagreement,
            quarters,
            movement,
        });
    }
    let quick_check = compare_quick_check(&survey::summarise_quick_check(input.respondents), input.metrics);
    let disagreements = capabilities
        .iter()
        .filter_map(|c| c.disagreement.clone())
        .chain(quick_check.iter().filter_map(|q| q.disagreement.clone()))
        .collect();
    let mut assessment = ServiceAssessment {
        service: input.service.to_string(),
        respondents: input.respondents.len(),
        capabilities,
        quick_check,
        disagreements,
        recommendations: Vec::new(),
        ranking: Vec::new(),
        since_last_assessment: Vec::new(),
    };
    if let Some(metrics) = input.metrics {
        assessment.ranking = rank(catalogue, &assessment, metrics, input.analysis);
        assessment.recommendations = assessment.ranking.iter().take(5).cloned().collect();
    }
    assessment
}

/// A duration in hours as the Quick Check's option (1 slowest … 6 fastest).
pub fn duration_option(hours: f64) -> u8 {
    const DAY: f64 = 24.0;
    if hours < 1.0 {
        6
    } else if hours < DAY {
        5
    } else if hours < 7.0 * DAY {
        4
    } else if hours < 30.0 * DAY {
        3
    } else if hours < 182.0 * DAY {
        2
    } else {
        1
    }
}

/// Measured deployment frequency as the Quick Check's option (1 rarest … 6 on demand), from the
/// deployments per day, the median deployment days per whole week, and deployment days per 30 days —
/// the figures the DORA levels use, so that a team releasing every Monday is "once per day to once
/// per week" even in a window of 52.1 weeks.
pub fn frequency_option(per_day: f64, median_weekly_days: f64, days_per_month: f64) -> u8 {
    if median_weekly_days >= 5.0 && per_day > 1.0 {
        6
    } else if median_weekly_days >= 5.0 {
        5
    } else if median_weekly_days >= 1.0 {
        4
    } else if days_per_month >= 1.0 {
        3
    } else if days_per_month * 6.0 >= 1.0 {
        2
    } else {
        1
    }
}

/// The measured value of a Quick Check metric: (words, 0–10 score).
fn measured(metric: QuickCheckMetric, m: &PeriodMetrics) -> Option<(String, f64)> {
    let option = |k: u8, hours_or_rate: String| {
        let options = metric.options().expect("categorical");
        let answer = survey::QuickCheckAnswer::Option(k);
        (format!("{} ({hours_or_rate})", options[k as usize - 1].1), answer.score())
    };
    match metric {
        QuickCheckMetric::LeadTime => {
            m.lead_time.median_hours.map(|h| option(duration_option(h), format!("median {h:.1} h")))
        }
        QuickCheckMetric::RecoveryTime => m
            .failed_deployment_recovery_time
            .median_hours
            .map(|h| option(duration_option(h), format!("median {h:.1} h"))),
        QuickCheckMetric::DeploymentFrequency => (m.deployment_frequency.deployments > 0).then(|| {
            let f = &m.deployment_frequency;
            let weekly = f.median_weekly_deployment_days.unwrap_or(f.deployment_days_per_week);
            let per_month = f.deployment_days as f64 * 30.0 / f.days.max(1.0);
            let k = frequency_option(f.per_day, weekly, per_month);
            let days = if weekly == 1.0 { "deployment day" } else { "deployment days" };
            option(k, format!("{:.2} a day, median {weekly} {days} a week", f.per_day))
        }),
        QuickCheckMetric::ChangeFailPercent => m.change_failure_rate.rate.map(percent),
        QuickCheckMetric::ReworkPercent => m.rework_rate.rate.map(percent),
    }
}

fn percent(rate: f64) -> (String, f64) {
    let p = rate * 100.0;
    (format!("{p:.1} %"), survey::QuickCheckAnswer::Percent(p).score())
}

/// Holds each self-reported Quick Check metric against the measured one.
pub fn compare_quick_check(summaries: &[QuickCheckSummary], metrics: Option<&PeriodMetrics>) -> Vec<MetricComparison> {
    summaries
        .iter()
        .map(|s| {
            let m = metrics.and_then(|m| measured(s.metric, m));
            let disagreement = match (&s.score, &m) {
                (Some(said), Some((words, score))) if (said - score).abs() > DISAGREEMENT_MARGIN => {
                    Some(Disagreement {
                        subject: s.metric.key().to_string(),
                        survey: *said,
                        evidence: round1(*score),
                        text: format!(
                            "answers put {} at {} ({said:.1}/10); measured: {words} ({:.1}/10)",
                            s.metric.metric().replace('-', " "),
                            s.answer.as_deref().unwrap_or("?"),
                            score
                        ),
                    })
                }
                _ => None,
            };
            MetricComparison {
                metric: s.metric,
                self_reported: s.clone(),
                measured: m.as_ref().map(|(w, _)| w.clone()),
                measured_score: m.map(|(_, s)| round1(s)),
                disagreement,
            }
        })
        .collect()
}

/// How much a metric holds the service back: low 3, medium 2, high 1, elite or unknown 0.
fn weakness(level: Option<Level>) -> f64 {
    match level {
        Some(Level::Low) => 3.0,
        Some(Level::Medium) => 2.0,
        Some(Level::High) => 1.0,
        Some(Level::Elite) | None => 0.0,
    }
}

/// The level of each metric `moves` can name; rework is rated on the change failure rate's thresholds.
fn metric_levels(
    levels: &Levels,
    metrics: &PeriodMetrics,
    analysis: &Analysis,
) -> BTreeMap<&'static str, Option<Level>> {
    let limits = crate::assess::thresholds(analysis.benchmark_year).change_failure_rate;
    let rework = metrics.rework_rate.rate.map(|r| {
        if r <= limits[0] {
            Level::Elite
        } else if r <= limits[1] {
            Level::High
        } else if r <= limits[2] {
            Level::Medium
        } else {
            Level::Low
        }
    });
    BTreeMap::from([
        ("lead-time", levels.lead_time.level),
        ("deployment-frequency", levels.deployment_frequency.level),
        ("change-failure-rate", levels.change_failure_rate.level),
        ("recovery-time", levels.recovery.level),
        ("rework-rate", rework),
    ])
}

/// The weakest capabilities that drive the service's weakest metrics, ranked: priority =
/// (10 − capability score) × the weakness of the weakest metric it moves. A capability is scored by
/// its evidence when known, else by its survey; one with neither, or moving no weak metric, is not
/// ranked. Each names the indicator that would show progress (its weakest known indicator, else its
/// first in the catalogue). At most five.
pub fn recommend(
    catalogue: &Catalogue,
    assessment: &ServiceAssessment,
    metrics: &PeriodMetrics,
    analysis: &Analysis,
) -> Vec<Recommendation> {
    let mut ranked = rank(catalogue, assessment, metrics, analysis);
    ranked.truncate(5);
    ranked
}

/// Every capability with a priority above 0, ranked as [`recommend`] ranks them, none left out.
pub fn rank(
    catalogue: &Catalogue,
    assessment: &ServiceAssessment,
    metrics: &PeriodMetrics,
    analysis: &Analysis,
) -> Vec<Recommendation> {
    let levels = crate::assess::levels(metrics, analysis);
    let by_metric = metric_levels(&levels, metrics, analysis);
    let mut ranked: Vec<Recommendation> = Vec::new();
    for cap in &assessment.capabilities {
        let (score, scored_from) = match (cap.evidence.score, cap.survey.score) {
            (Some(e), _) => (e, "evidence"),
            (None, Some(s)) => (s, "survey"),
            (None, None) => continue,
        };
        let mut weak: Vec<(&str, f64)> = cap
            .moves
            .iter()
            .filter_map(|m| by_metric.get_key_value(m.as_str()).map(|(k, l)| (*k, weakness(*l))))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        weak.sort_by(|a, b| b.1.total_cmp(&a.1));
        let Some(&(_, worst)) = weak.first() else { continue };
        let priority = round1((10.0 - score) * worst);
        if priority <= 0.0 {
            continue;
        }
        let mine: Vec<&IndicatorResult> = cap.indicators.iter().collect();
        let watch = weakest(&mine)
            .map(|i| i.id.clone())
            .or_else(|| catalogue.indicators_of(&cap.id).next().map(|i| i.id.clone()));
        let metrics: Vec<String> = weak.iter().map(|(m, _)| m.to_string()).collect();
        let text = format!(
            "improve {} ({} {score:.1}/10, {}): it moves {}{}",
            cap.name.to_lowercase(),
            scored_from,
            band(score),
            metrics.join(", "),
            watch.as_deref().map(|w| format!("; watch {w}")).unwrap_or_default()
        );
        ranked.push(Recommendation {
            rank: 0,
            capability: cap.id.clone(),
            name: cap.name.clone(),
            score,
            scored_from,
            metrics,
            priority,
            watch,
            text,
        });
    }
    // Stable: equal priorities keep catalogue order.
    ranked.sort_by(|a, b| b.priority.total_cmp(&a.priority));
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    ranked
}

fn show(score: Option<f64>) -> String {
    score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "unknown".into())
}

/// The scorecard as a text table: per service, one line per capability, then disagreements and
/// recommendations.
pub fn render_table(assessments: &[ServiceAssessment]) -> String {
    let mut out = String::new();
    for a in assessments {
        let _ = writeln!(out, "{} ({} respondents)", a.service, a.respondents);
        let _ = writeln!(
            out,
            "  {:<48} {:>8} {:<12} {:>8} {:<12} top indicator",
            "capability", "evidence", "band", "survey", "band"
        );
        for c in &a.capabilities {
            let top = match (&c.top_indicator, &c.evidence.unknown_reason) {
                (Some(t), _) => t.clone(),
                (None, Some(reason)) => format!("unknown: {reason}"),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:<48} {:>8} {:<12} {:>8} {:<12} {top}",
                c.name,
                show(c.evidence.score),
                c.evidence.band.unwrap_or("-"),
                show(c.survey.score),
                c.survey.band.unwrap_or("-"),
            );
        }
        for q in &a.quick_check {
            if q.self_reported.n > 0 || q.measured.is_some() {
                let _ = writeln!(
                    out,
                    "  quick check {:<24} said {:<50} measured {}",
                    q.metric.key(),
                    q.self_reported.answer.as_deref().unwrap_or("-"),
                    q.measured.as_deref().unwrap_or("-")
                );
            }
        }
        for d in &a.disagreements {
            let _ = writeln!(out, "  disagreement: {}", d.text);
        }
        for r in &a.recommendations {
            let _ = writeln!(out, "  {}. {}", r.rank, r.text);
        }
        out.push('\n');
    }
    out
}

/// One CSV cell: formula-leading text neutralised (`crate::spreadsheet`), then quoted when needed.
fn csv_field(text: &str) -> String {
    let text = crate::spreadsheet::neutralise(text);
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.into_owned() }
}

/// The scorecard as CSV: one row per service and capability.
pub fn render_csv(assessments: &[ServiceAssessment]) -> String {
    let mut out = String::from(
        "service,capability,evidence_score,evidence_band,evidence_unknown_reason,survey_score,survey_band,top_indicator,disagreement\n",
    );
    let opt = |s: Option<f64>| s.map(|s| format!("{s:.1}")).unwrap_or_default();
    for a in assessments {
        for c in &a.capabilities {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(&a.service),
                c.id,
                opt(c.evidence.score),
                c.evidence.band.unwrap_or(""),
                csv_field(c.evidence.unknown_reason.as_deref().unwrap_or("")),
                opt(c.survey.score),
                c.survey.band.unwrap_or(""),
                c.top_indicator.as_deref().unwrap_or(""),
                csv_field(c.disagreement.as_ref().map(|d| d.text.as_str()).unwrap_or("")),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_cells_are_quoted_and_never_run_as_formulas() {
        assert_eq!(csv_field("payments"), "payments");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-3.5"), "-3.5");
    }
}
