//! The maturity assessment: how mature each delivery *capability* is, from the records and from the
//! team's answers, side by side.
//!
//! The DORA metrics say how a service delivers; this module says which practices explain it. The
//! capability catalogue (`src/assess/catalogue.toml`, embedded, overridable with `--catalogue`) lists
//! each capability with its meaning, the metrics it moves, its survey items and its evidence
//! indicators. [`evidence`] measures the indicators; this module scores them (0–10, named bands),
//! [`survey`] reads and scores the team's answers, and [`scorecard`] puts both side by side, raises
//! the disagreements, tracks quarters and snapshots and ranks recommendations. Evidence and survey are
//! never averaged: a survey answer is held *against* the records, not blended with them.

pub mod evidence;
pub mod scorecard;
pub mod snapshot;
pub mod survey;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The catalogue built into the binary.
pub const EMBEDDED_CATALOGUE: &str = include_str!("../catalogue.toml");

/// The metrics a capability can move, as `moves` names them.
pub const METRICS: [&str; 5] =
    ["lead-time", "deployment-frequency", "change-failure-rate", "recovery-time", "rework-rate"];

/// Indicator units the catalogue accepts.
pub const UNITS: [&str; 5] = ["share", "days", "hours", "count", "bool"];

/// Survey and evidence scores further apart than this (on 0–10) are a disagreement finding.
pub const DISAGREEMENT_MARGIN: f64 = 3.0;

/// One delivery capability.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    pub id: String,
    pub name: String,
    /// One paragraph: what doing this well looks like.
    pub meaning: String,
    /// The DORA metrics it is known to move (see [`METRICS`]).
    pub moves: Vec<String>,
    /// Its page on dora.dev, or empty when DORA does not describe it.
    #[serde(default)]
    pub dora: String,
}

/// One survey item, answered on DORA's 7-point agreement scale or "don't know".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub capability: String,
    pub text: String,
    /// Agreement means the capability is weaker (e.g. "changes need a change advisory board").
    #[serde(default)]
    pub reverse: bool,
    /// `dora` when the text quotes DORA's survey, `flowgauge` when it is ours.
    #[serde(default = "default_origin")]
    pub origin: String,
}

fn default_origin() -> String {
    "flowgauge".to_string()
}

/// Which direction of an indicator's value is better.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// One evidence indicator: a value measured from the records, scored against four thresholds.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: String,
    pub capability: String,
    pub name: String,
    pub meaning: String,
    pub unit: String,
    pub better: Better,
    /// Ascending thresholds `[t1, t2, t3, t4]` (see [`indicator_score`]).
    pub bands: [f64; 4],
    /// Domain tables the value comes from.
    #[serde(default)]
    pub tables: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    #[serde(default)]
    capability: Vec<Capability>,
    #[serde(default)]
    item: Vec<Item>,
    #[serde(default)]
    indicator: Vec<Indicator>,
}

/// The loaded and validated catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Catalogue {
    /// Where it came from: `embedded` or the override file's path.
    pub origin: String,
    pub capabilities: Vec<Capability>,
    pub items: Vec<Item>,
    pub indicators: Vec<Indicator>,
}

impl Catalogue {
    /// The embedded catalogue, or `file` when given.
    pub fn load(file: Option<&Path>) -> Result<Catalogue> {
        match file {
            None => Catalogue::parse(EMBEDDED_CATALOGUE, Path::new("<embedded catalogue.toml>")),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::ConfigSyntax {
                    path: path.to_path_buf(),
                    message: format!("cannot read the catalogue: {e}"),
                })?;
                Catalogue::parse(&text, path)
            }
        }
    }

    /// Parses and validates catalogue text; errors name `path` and the offending key.
    pub fn parse(text: &str, path: &Path) -> Result<Catalogue> {
        let raw: RawCatalogue = toml::from_str(text).map_err(|e: toml::de::Error| Error::ConfigSyntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let catalogue = Catalogue {
            origin: if path.to_string_lossy().starts_with('<') {
                "embedded".into()
            } else {
                path.display().to_string()
            },
            capabilities: raw.capability,
            items: raw.item,
            indicators: raw.indicator,
        };
        catalogue.validate(path)?;
        Ok(catalogue)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: String, message: String| Error::ConfigSyntax {
            path: PathBuf::from(path),
            message: format!("key `{key}`: {message}"),
        };
        let mut ids = BTreeSet::new();
        for (i, c) in self.capabilities.iter().enumerate() {
            let key = format!("capability[{i}]");
            if c.id.trim().is_empty() {
                return Err(bad(format!("{key}.id"), "must not be empty".into()));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(bad(format!("{key}.id"), format!("capability `{}` is defined twice", c.id)));
            }
            for (j, m) in c.moves.iter().enumerate() {
                if !METRICS.contains(&m.as_str()) {
                    return Err(bad(
                        format!("{key}.moves[{j}]"),
                        format!("`{m}` is not one of {}", METRICS.join(", ")),
                    ));
                }
            }
        }
        let mut item_ids = BTreeSet::new();
        for (i, item) in self.items.iter().enumerate() {
            let key = format!("item[{i}]");
            if item.id.trim().is_empty() {
                return Err(bad(format!("{key}.id"), "must not be empty".into()));
            }
            if !item_ids.insert(item.id.as_str()) {
                return Err(bad(format!("{key}.id"), format!("item `{}` is defined twice", item.id)));
            }
            if !ids.contains(item.capability.as_str()) {
                return Err(bad(format!("{key}.capability"), format!("no capability `{}`", item.capability)));
            }
            if !["dora", "flowgauge"].contains(&item.origin.as_str()) {
                return Err(bad(
                    format!("{key}.origin"),
                    format!("`{}` is not \"dora\" or \"flowgauge\"", item.origin),
                ));
            }
        }
        let mut indicator_ids = BTreeSet::new();
        for (i, ind) in self.indicators.iter().enumerate() {
            let key = format!("indicator[{i}]");
            if !indicator_ids.insert(ind.id.as_str()) {
                return Err(bad(format!("{key}.id"), format!("indicator `{}` is defined twice", ind.id)));
            }
            if !ids.contains(ind.capability.as_str()) {
                return Err(bad(format!("{key}.capability"), format!("no capability `{}`", ind.capability)));
            }
            if !UNITS.contains(&ind.unit.as_str()) {
                return Err(bad(format!("{key}.unit"), format!("`{}` is not one of {}", ind.unit, UNITS.join(", "))));
            }
            if ind.bands.iter().any(|b| !b.is_finite()) || ind.bands.windows(2).any(|w| w[0] > w[1]) {
                return Err(bad(format!("{key}.bands"), format!("{:?} must be four ascending numbers", ind.bands)));
            }
        }
        Ok(())
    }

    pub fn capability(&self, id: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.id == id)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn indicator(&self, id: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.id == id)
    }

    pub fn items_of<'a>(&'a self, capability: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.capability == capability)
    }

    pub fn indicators_of<'a>(&'a self, capability: &'a str) -> impl Iterator<Item = &'a Indicator> + 'a {
        self.indicators.iter().filter(move |i| i.capability == capability)
    }
}

/// An indicator's value on 0–10 against its bands `[t1, t2, t3, t4]`.
///
/// `better = higher`: below t1 → 0, below t2 → 2.5, below t3 → 5, below t4 → 7.5, else 10.
/// `better = lower`: at most t1 → 10, at most t2 → 7.5, at most t3 → 5, at most t4 → 2.5, else 0.
/// A `bool` indicator (bands `[0.5; 4]`, higher) scores 1 as 10 and 0 as 0.
pub fn indicator_score(indicator: &Indicator, value: f64) -> f64 {
    let [t1, t2, t3, t4] = indicator.bands;
    match indicator.better {
        Better::Higher => {
            if value < t1 {
                0.0
            } else if value < t2 {
                2.5
            } else if value < t3 {
                5.0
            } else if value < t4 {
                7.5
            } else {
                10.0
            }
        }
        Better::Lower => {
            if value <= t1 {
                10.0
            } else if value <= t2 {
                7.5
            } else if value <= t3 {
                5.0
            } else if value <= t4 {
                2.5
            } else {
                0.0
            }
        }
    }
}

/// A capability's evidence score: the mean of its known indicators' scores, one decimal; `None`
/// when no indicator is known (never a guess).
pub fn evidence_score(known_scores: &[f64]) -> Option<f64> {
    if known_scores.is_empty() {
        return None;
    }
    Some(round1(known_scores.iter().sum::<f64>() / known_scores.len() as f64))
}

/// The named band of a 0–10 score: [0,2) absent, [2,4) initial, [4,6) developing, [6,8) established,
/// [8,10] leading.
pub fn band(score: f64) -> &'static str {
    if score < 2.0 {
        "absent"
    } else if score < 4.0 {
        "initial"
    } else if score < 6.0 {
        "developing"
    } else if score < 8.0 {
        "established"
    } else {
        "leading"
    }
}

/// Every band name, weakest first.
pub const BANDS: [&str; 5] = ["absent", "initial", "developing", "established", "leading"];

/// Rounds to one decimal, the precision every score is shown with.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Rounds to two decimals (item means).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Everything one `flowgauge assess` run reads.
pub struct AssessInput<'a> {
    pub catalogue: &'a Catalogue,
    pub tables: &'a crate::metrics::prepare::Frames,
    pub computation: &'a crate::metrics::Computation,
    pub metrics: &'a crate::metrics::MetricsReport,
    pub config: &'a crate::config::Config,
    pub answers: &'a survey::Answers,
}

/// Assesses every service of the metrics report (or only `only`): indicators over the window and per
/// quarter of it, survey scores from the respondents who answered about the service.
pub fn assess(input: &AssessInput, only: Option<&str>) -> Result<Vec<scorecard::ServiceAssessment>> {
    let evidence_input =
        evidence::EvidenceInput { tables: input.tables, computation: input.computation, config: input.config };
    let window = &input.config.analysis.window;
    let mut out = Vec::new();
    for service in input.metrics.services.iter().filter(|s| only.is_none_or(|o| o == s.service)) {
        let measured = evidence::measure(&evidence_input, &service.service, window.since, window.until)?;
        let mut quarters = Vec::new();
        for period in crate::calendar::periods(crate::calendar::Grain::Quarter, window) {
            let mut m = evidence::measure(&evidence_input, &service.service, period.start, period.end)?;
            // Facts about the repository as it is now cannot move from one quarter to the next: the
            // quarters show only what dated records say of each quarter.
            m.retain(|m| !evidence::describes_head(&m.indicator));
            quarters.push((period.label, m));
        }
        let respondents: Vec<&survey::Respondent> = input.answers.for_service(&service.service).collect();
        let card = scorecard::assess_service(
            input.catalogue,
            &scorecard::ServiceInput {
                service: &service.service,
                window: &measured,
                quarters: &quarters,
                respondents: &respondents,
                metrics: Some(&service.window),
                analysis: &input.config.analysis,
            },
        );
        out.push(card);
    }
    Ok(out)
}

/// One indicator of one service over the window, with the records behind it (`assess explain`).
pub fn explain(input: &AssessInput, indicator: &str, service: &str) -> Result<(Indicator, evidence::Measurement)> {
    let known = input.catalogue.indicator(indicator).cloned().ok_or_else(|| {
        let ids: Vec<&str> = input.catalogue.indicators.iter().map(|i| i.id.as_str()).collect();
        Error::NotFound(format!(
            "no indicator `{indicator}` in the catalogue; known indicators: {}",
            if ids.is_empty() { "none".to_string() } else { ids.join(", ") }
        ))
    })?;
    let evidence_input =
        evidence::EvidenceInput { tables: input.tables, computation: input.computation, config: input.config };
    let window = &input.config.analysis.window;
    let measured = evidence::measure(&evidence_input, service, window.since, window.until)?;
    let m = measured.into_iter().find(|m| m.indicator == indicator).unwrap_or_else(|| evidence::Measurement {
        indicator: indicator.to_string(),
        value: None,
        unknown_reason: Some("not measured by this version of flowgauge".into()),
        detail: String::new(),
        sample: 0,
        records: Vec::new(),
    });
    Ok((known, m))
}

/// The text `assess explain` prints: the indicator, its value and score, then one record id a line.
pub fn render_explain(indicator: &Indicator, m: &evidence::Measurement) -> String {
    let mut out = format!("{} ({}): {}\n", indicator.id, indicator.name, indicator.meaning);
    match m.value {
        Some(v) => {
            let score = indicator_score(indicator, v);
            out += &format!("value {v} {} → score {score:.1}/10 ({})\n", indicator.unit, band(score));
        }
        None => out += &format!("unknown: {}\n", m.unknown_reason.as_deref().unwrap_or("the records cannot tell")),
    }
    if !m.detail.is_empty() {
        out += &format!("{}\n", m.detail);
    }
    out += &format!("{} records (sample {}):\n", m.records.len(), m.sample);
    for r in &m.records {
        out += &format!("  {r}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(better: Better, bands: [f64; 4]) -> Indicator {
        Indicator {
            id: "x.y".into(),
            capability: "continuous-integration".into(),
            name: "x".into(),
            meaning: "x".into(),
            unit: "share".into(),
            better,
            bands,
            tables: vec![],
        }
    }

    #[test]
    fn higher_is_better_bands_are_half_open_above() {
        let i = indicator(Better::Higher, [0.2, 0.4, 0.6, 0.8]);
        let scores: Vec<f64> =
            [0.0, 0.19, 0.2, 0.39, 0.4, 0.6, 0.79, 0.8, 1.0].iter().map(|v| indicator_score(&i, *v)).collect();
        assert_eq!(scores, vec![0.0, 0.0, 2.5, 2.5, 5.0, 7.5, 7.5, 10.0, 10.0]);
    }

    #[test]
    fn lower_is_better_bands_include_the_threshold() {
        let i = indicator(Better::Lower, [1.0, 24.0, 168.0, 720.0]);
        let scores: Vec<f64> =
            [0.5, 1.0, 1.1, 24.0, 100.0, 168.0, 169.0, 720.0, 721.0].iter().map(|v| indicator_score(&i, *v)).collect();
        assert_eq!(scores, vec![10.0, 10.0, 7.5, 7.5, 5.0, 5.0, 2.5, 2.5, 0.0]);
    }

    #[test]
    fn bool_indicators_score_present_as_ten() {
        let i = indicator(Better::Higher, [0.5; 4]);
        assert_eq!(indicator_score(&i, 1.0), 10.0);
        assert_eq!(indicator_score(&i, 0.0), 0.0);
    }

    #[test]
    fn evidence_score_is_the_mean_of_known_scores_and_unknown_without_any() {
        assert_eq!(evidence_score(&[]), None);
        assert_eq!(evidence_score(&[10.0, 2.5, 0.0]), Some(4.2));
        assert_eq!(evidence_score(&[7.5]), Some(7.5));
    }

    #[test]
    fn bands_have_half_open_edges() {
        let named: Vec<&str> = [0.0, 1.99, 2.0, 3.9, 4.0, 5.99, 6.0, 7.9, 8.0, 10.0].iter().map(|s| band(*s)).collect();
        assert_eq!(
            named,
            vec![
                "absent",
                "absent",
                "initial",
                "initial",
                "developing",
                "developing",
                "established",
                "established",
                "leading",
                "leading"
            ]
        );
    }

    const CONTRACT_IDS: [&str; 20] = [
        "version-control",
        "continuous-integration",
        "trunk-based-development",
        "test-automation",
        "deployment-automation",
        "continuous-delivery",
        "streamlined-change-approval",
        "small-batches",
        "monitoring-observability",
        "proactive-failure-notification",
        "rollback-recovery",
        "incident-response-review",
        "loosely-coupled-architecture",
        "database-change-management",
        "infrastructure-as-code",
        "containers-orchestration",
        "configuration-management",
        "pervasive-security",
        "code-maintainability-knowledge",
        "documentation-runbooks",
    ];

    #[test]
    fn embedded_catalogue_has_every_contract_capability_with_items() {
        let c = Catalogue::load(None).unwrap();
        let ids: Vec<&str> = c.capabilities.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, CONTRACT_IDS.to_vec());
        for id in CONTRACT_IDS {
            assert!(c.items_of(id).count() >= 2, "{id} has fewer than two survey items");
            let cap = c.capability(id).unwrap();
            assert!(!cap.moves.is_empty() && cap.meaning.len() > 80, "{id}");
        }
        assert_eq!(c.origin, "embedded");
    }

    #[test]
    fn catalogue_errors_name_the_file_and_key() {
        let text = "[[capability]]\nid = \"a\"\nname = \"A\"\nmeaning = \"m\"\nmoves = [\"speed\"]\n";
        let e = Catalogue::parse(text, Path::new("my.toml")).unwrap_err().to_string();
        assert!(e.contains("my.toml") && e.contains("capability[0].moves[0]") && e.contains("speed"), "{e}");

        let text = "[[capability]]\nid = \"a\"\nname = \"A\"\nmeaning = \"m\"\nmoves = []\n\
                    [[item]]\nid = \"a.1\"\ncapability = \"b\"\ntext = \"t\"\n";
        let e = Catalogue::parse(text, Path::new("my.toml")).unwrap_err().to_string();
        assert!(e.contains("item[0].capability") && e.contains("`b`"), "{e}");

        let text = "[[capability]]\nid = \"a\"\nname = \"A\"\nmeaning = \"m\"\nmoves = []\n\
                    [[indicator]]\nid = \"a.x\"\ncapability = \"a\"\nname = \"n\"\nmeaning = \"m\"\nunit = \"share\"\n\
                    better = \"higher\"\nbands = [0.8, 0.6, 0.4, 0.2]\n";
        let e = Catalogue::parse(text, Path::new("my.toml")).unwrap_err().to_string();
        assert!(e.contains("indicator[0].bands"), "{e}");

        let e = Catalogue::parse("[[capability]]\nid = 3\n", Path::new("my.toml")).unwrap_err().to_string();
        assert!(e.starts_with("my.toml") && e.contains("line 2"), "{e}");
    }
}
