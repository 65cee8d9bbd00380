//! One ranking of what to improve first, per service. The maturity assessment ranks the weakest
//! capabilities that move the service's weakest metrics (`scorecard::rank`); the findings recommend
//! concrete steps from the evidence behind the four questions (`findings::Recommendation`). Two lists
//! would ask the reader to merge them in their head, so each finding's step folds into the place of the
//! capability it improves: one list, each item naming its capability, the metrics it moves, why, and
//! the indicator that would show progress.

use serde::Serialize;

use crate::assess::capabilities::scorecard::{CapabilityAssessment, Recommendation as Ranked, ServiceAssessment};
use crate::assess::findings::Recommendation as Step;

/// How many capabilities without a finding's step a service's list keeps at most: improve one narrow
/// area, measure, repeat.
pub const KEPT: usize = 5;

/// The indicator that would show progress, as it reads now.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Watch {
    pub id: String,
    pub name: String,
    /// Its detail today, or why it is unknown.
    pub now: String,
}

/// One item of the ranking.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recommendation {
    pub rank: usize,
    /// What to do: the finding's step when one belongs to the capability, else "Improve <capability>".
    pub title: String,
    /// The capability's id in the catalogue, and its name.
    pub capability: String,
    pub capability_name: String,
    /// The metrics it moves, in words: the finding's when there is one, else the weak metrics the
    /// capability moves.
    pub metric: String,
    /// The service's weak metrics the capability moves (metric ids, weakest first); empty when the
    /// capability is not ranked.
    pub metrics: Vec<String>,
    /// Why: the finding's evidence, then the capability's scores.
    pub because: Vec<String>,
    pub watch: Option<Watch>,
    /// The capability's priority, (10 − score) × the weakness of the weakest metric it moves; 0 when
    /// the assessment does not rank it.
    pub priority: f64,
    /// The finding's strength (the weakness of its metric plus the strength of its evidence), 0 when no
    /// finding belongs to it.
    pub finding_score: u32,
    /// The capability's scores, the last reason once the steps are folded in.
    #[serde(skip)]
    scores: Option<String>,
    /// How many findings' steps folded into it.
    #[serde(skip)]
    steps: usize,
}

/// Folds a service's findings steps into its capability ranking. Order: priority, then the finding's
/// strength, then the capability ranking's order (catalogue order on ties), then the findings' order.
/// The first [`KEPT`] items are kept, and after them every item that carries a finding's step.
/// Without an assessment, every step stands alone with priority 0, ranked as the findings rank them.
pub fn fold(steps: &[Step], assessment: Option<&ServiceAssessment>) -> Vec<Recommendation> {
    let ranking: &[Ranked] = assessment.map(|a| a.ranking.as_slice()).unwrap_or_default();
    let mut items: Vec<Recommendation> = ranking.iter().map(|r| from_ranking(r, assessment)).collect();
    for step in steps {
        match items.iter_mut().find(|i| i.capability == step.capability) {
            Some(item) => add_step(item, step),
            None => items.push(from_step(step, assessment)),
        }
    }
    items.sort_by(|a, b| b.priority.total_cmp(&a.priority).then(b.finding_score.cmp(&a.finding_score)));
    // The top five, and below them every finding's step: folding loses nothing the findings raised.
    let mut kept = 0;
    items.retain(|item| {
        kept += 1;
        kept <= KEPT || item.steps > 0
    });
    for (i, item) in items.iter_mut().enumerate() {
        item.rank = i + 1;
        item.because.extend(item.scores.take());
    }
    items
}

fn capability<'a>(assessment: Option<&'a ServiceAssessment>, id: &str) -> Option<&'a CapabilityAssessment> {
    assessment.and_then(|a| a.capabilities.iter().find(|c| c.id == id))
}

fn from_ranking(r: &Ranked, assessment: Option<&ServiceAssessment>) -> Recommendation {
    let cap = capability(assessment, &r.capability);
    Recommendation {
        rank: 0,
        title: format!("Improve {}", r.name.to_lowercase()),
        capability: r.capability.clone(),
        capability_name: r.name.clone(),
        metric: r.metrics.iter().map(|m| metric_words(m)).collect::<Vec<_>>().join(", "),
        metrics: r.metrics.clone(),
        because: Vec::new(),
        watch: watch(cap, r.watch.as_deref()),
        priority: r.priority,
        finding_score: 0,
        scores: cap.and_then(scores_line),
        steps: 0,
    }
}

fn from_step(step: &Step, assessment: Option<&ServiceAssessment>) -> Recommendation {
    let cap = capability(assessment, step.capability);
    Recommendation {
        rank: 0,
        title: step.title.clone(),
        capability: step.capability.to_string(),
        capability_name: cap.map(|c| c.name.clone()).unwrap_or_else(|| step.capability.to_string()),
        metric: step.metric.clone(),
        metrics: Vec::new(),
        because: step.because.clone(),
        watch: watch(cap, cap.and_then(|c| c.top_indicator.as_deref())),
        priority: 0.0,
        finding_score: step.score,
        scores: cap.and_then(scores_line),
        steps: 1,
    }
}

/// The first step that belongs to a ranked capability names what to do; a second one is another
/// reason, so that the list keeps one item per capability.
fn add_step(item: &mut Recommendation, step: &Step) {
    if item.steps == 0 {
        item.title = step.title.clone();
        item.metric = step.metric.clone();
    } else {
        item.because.push(format!("also: {}", step.title));
    }
    item.because.extend(step.because.iter().cloned());
    item.finding_score = item.finding_score.max(step.score);
    item.steps += 1;
}

/// "deployment automation: evidence 0.0/10 (absent), survey 8.3/10 (leading)"; nothing when neither
/// side is known.
fn scores_line(c: &CapabilityAssessment) -> Option<String> {
    if c.evidence.score.is_none() && c.survey.score.is_none() {
        return None;
    }
    let side = |score: Option<f64>, band: Option<&str>| match score {
        Some(s) => format!("{s:.1}/10 ({})", band.unwrap_or("")),
        None => "unknown".to_string(),
    };
    Some(format!(
        "{}: evidence {}, survey {}",
        c.name.to_lowercase(),
        side(c.evidence.score, c.evidence.band),
        side(c.survey.score, c.survey.band)
    ))
}

fn watch(cap: Option<&CapabilityAssessment>, id: Option<&str>) -> Option<Watch> {
    let cap = cap?;
    let indicator = cap.indicators.iter().find(|i| Some(i.id.as_str()) == id)?;
    Some(Watch { id: indicator.id.clone(), name: indicator.name.clone(), now: indicator.detail.clone() })
}

/// A metric id of the catalogue in the words the report uses.
fn metric_words(id: &str) -> String {
    match id {
        "deployment-frequency" => "deployment frequency".into(),
        "lead-time" => "lead time for changes".into(),
        "change-failure-rate" => "change failure rate".into(),
        "recovery-time" => "failed deployment recovery time".into(),
        "rework-rate" => "rework rate".into(),
        other => other.replace('-', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(title: &str, capability: &'static str, score: u32) -> Step {
        Step {
            rank: 0,
            title: title.into(),
            capability,
            metric: "lead time for changes".into(),
            because: vec![format!("because of {title}")],
            score,
        }
    }

    #[test]
    fn without_an_assessment_the_steps_keep_their_order_and_name_their_capability() {
        let folded = fold(&[step("A", "deployment-automation", 4), step("B", "rollback-recovery", 3)], None);
        let got: Vec<(usize, &str, &str, f64)> =
            folded.iter().map(|r| (r.rank, r.title.as_str(), r.capability.as_str(), r.priority)).collect();
        assert_eq!(got, vec![(1, "A", "deployment-automation", 0.0), (2, "B", "rollback-recovery", 0.0)]);
        assert!(folded.iter().all(|r| r.watch.is_none() && r.metrics.is_empty()));
    }

    #[test]
    fn steps_of_one_capability_fold_into_one_item_and_none_is_cut() {
        let capabilities = ["a", "b", "c", "d", "e", "f"];
        let mut steps: Vec<Step> = capabilities.iter().map(|c| step(&format!("do {c}"), c, 1)).collect();
        steps.push(step("do a again", "a", 1));
        let folded = fold(&steps, None);
        // Six capabilities, six items: past the fifth, items carrying a finding's step stay.
        assert_eq!(folded.len(), 6);
        assert_eq!(folded[0].title, "do a");
        assert_eq!(folded[0].because, vec!["because of do a", "also: do a again", "because of do a again"]);
    }

    #[test]
    fn metric_ids_read_as_words() {
        assert_eq!(metric_words("recovery-time"), "failed deployment recovery time");
        assert_eq!(metric_words("lead-time"), "lead time for changes");
    }
}
