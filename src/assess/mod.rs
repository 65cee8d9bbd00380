//! Assessment: turning figures into DORA performance levels, each with its sample size and confidence.
//!
//! Thresholds follow the State of DevOps reports as listed in `docs/metrics.md` (2021, 2023, 2024;
//! the configuration picks one). A level resting on fewer events than `analysis.min_sample` (or,
//! for deployment frequency, fewer whole weeks than `analysis.min_weeks`) is marked low-confidence
//! rather than stated as fact, and a metric with no events at all gets no level.

pub mod capabilities;
pub mod findings;

use serde::Serialize;

use crate::config::{Analysis, BenchmarkYear};
use crate::metrics::PeriodMetrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
    Elite,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Elite => "elite",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Enough events to state the level.
    Normal,
    /// Too few events: the level is indicative only.
    Low,
    /// No events: no level.
    None,
}

/// One metric's level.
#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    pub level: Option<Level>,
    /// Events (or whole weeks, for deployment frequency) the level rests on.
    pub sample: u64,
    pub confidence: Confidence,
}

/// All levels of one service and period.
#[derive(Debug, Clone, Serialize)]
pub struct Levels {
    pub benchmark_year: u16,
    pub deployment_frequency: Rating,
    pub lead_time: Rating,
    pub change_failure_rate: Rating,
    /// Failed deployment recovery time (2023, 2024) or time to restore service (2021).
    pub recovery: Rating,
    /// The weakest of the four: delivery is as fast and stable as its weakest link.
    pub overall: Rating,
}

fn rating(level: Option<Level>, sample: u64, minimum: usize) -> Rating {
    let confidence = match (level, sample) {
        (None, _) | (_, 0) => Confidence::None,
        (Some(_), n) if (n as usize) < minimum => Confidence::Low,
        _ => Confidence::Normal,
    };
    Rating { level: if sample == 0 { None } else { level }, sample, confidence }
}

/// `value < limits[0]` → elite, `< limits[1]` → high, `< limits[2]` → medium, else low.
fn below(value: f64, limits: [f64; 3]) -> Level {
    if value < limits[0] {
        Level::Elite
    } else if value < limits[1] {
        Level::High
    } else if value < limits[2] {
        Level::Medium
    } else {
        Level::Low
    }
}

/// `value ≤ limits[0]` → elite, and so on: for rates, where the boundary value itself qualifies.
fn at_most(value: f64, limits: [f64; 3]) -> Level {
    if value <= limits[0] {
        Level::Elite
    } else if value <= limits[1] {
        Level::High
    } else if value <= limits[2] {
        Level::Medium
    } else {
        Level::Low
    }
}

const HOUR: f64 = 1.0;
const DAY: f64 = 24.0;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;

/// Deployment frequency level from deployment days: the median week (whole weeks), and deployment
/// days per month / per six months for the slower levels.
fn deployment_frequency_level(m: &PeriodMetrics, year: BenchmarkYear) -> Level {
    let f = &m.deployment_frequency;
    let weekly = f.median_weekly_deployment_days.unwrap_or(f.deployment_days_per_week);
    let per_month = f.deployment_days as f64 * 30.0 / f.days.max(1.0);
    let per_half_year = f.deployment_days as f64 * 182.0 / f.days.max(1.0);
    match year {
        BenchmarkYear::Y2021 => {
            if weekly >= 5.0 {
                Level::Elite
            } else if per_month >= 1.0 {
                Level::High
            } else if per_half_year >= 1.0 {
                Level::Medium
            } else {
                Level::Low
            }
        }
        BenchmarkYear::Y2023 | BenchmarkYear::Y2024 => {
            if weekly >= 5.0 {
                Level::Elite
            } else if weekly >= 1.0 {
                Level::High
            } else if per_month >= 1.0 {
                Level::Medium
            } else {
                Level::Low
            }
        }
    }
}

/// The boundaries between levels for one benchmark year: `[elite, high, medium]` upper limits.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Thresholds {
    pub year: u16,
    /// Lead time: elite below `[0]` hours, high below `[1]`, medium below `[2]`.
    pub lead_time_hours: [f64; 3],
    /// Change failure rate: elite at most `[0]`, high at most `[1]`, medium at most `[2]`.
    pub change_failure_rate: [f64; 3],
    /// Recovery (2023/2024: failed deployment recovery; 2021: time to restore), as lead time.
    pub recovery_hours: [f64; 3],
    /// Median deployment days per whole week for elite and (2023/2024) high.
    pub weekly_deployment_days: [f64; 2],
}

pub fn thresholds(year: BenchmarkYear) -> Thresholds {
    match year {
        BenchmarkYear::Y2021 => Thresholds {
            year: 2021,
            lead_time_hours: [HOUR, WEEK, 180.0 * DAY],
            change_failure_rate: [0.15, 0.20, 0.30],
            recovery_hours: [HOUR, DAY, WEEK],
            weekly_deployment_days: [5.0, 1.0],
        },
        BenchmarkYear::Y2023 => Thresholds {
            year: 2023,
            lead_time_hours: [DAY, WEEK, MONTH],
            change_failure_rate: [0.05, 0.10, 0.15],
            recovery_hours: [HOUR, DAY, WEEK],
            weekly_deployment_days: [5.0, 1.0],
        },
        // 2024 publishes clusters, not cut-offs; these are the cut-offs between adjacent clusters,
        // with the change failure rates sorted so that the ladder is monotone (docs/metrics.md).
        BenchmarkYear::Y2024 => Thresholds {
            year: 2024,
            lead_time_hours: [DAY, WEEK, MONTH],
            change_failure_rate: [0.05, 0.10, 0.20],
            recovery_hours: [HOUR, DAY, WEEK],
            weekly_deployment_days: [5.0, 1.0],
        },
    }
}

/// Rates one period of one service.
pub fn levels(m: &PeriodMetrics, analysis: &Analysis) -> Levels {
    let year = analysis.benchmark_year;
    let min = analysis.min_sample;
    let f = &m.deployment_frequency;
    // Deployment frequency rests on whole weeks observed; with none, only the day-based rate remains.
    // With no deployment at all, the data cannot tell "never deploys" from "deployments not collected".
    let deployment_frequency = if f.deployments == 0 {
        Rating { level: None, sample: 0, confidence: Confidence::None }
    } else {
        Rating {
            level: Some(deployment_frequency_level(m, year)),
            sample: f.whole_weeks,
            confidence: if (f.whole_weeks as usize) < analysis.min_weeks {
                Confidence::Low
            } else {
                Confidence::Normal
            },
        }
    };

    let t = thresholds(year);
    let lead_limits = t.lead_time_hours;
    let lead_time = rating(m.lead_time.median_hours.map(|h| below(h, lead_limits)), m.lead_time.changes, min);

    let cfr_limits = t.change_failure_rate;
    let cfr = &m.change_failure_rate;
    let change_failure_rate = rating(cfr.rate.map(|r| at_most(r, cfr_limits)), cfr.deployments, min);

    let recovery_limits = t.recovery_hours;
    let recovery = match year {
        BenchmarkYear::Y2021 => {
            let t = &m.time_to_restore;
            rating(t.median_hours.map(|h| below(h, recovery_limits)), t.incidents, min)
        }
        BenchmarkYear::Y2023 | BenchmarkYear::Y2024 => {
            let r = &m.failed_deployment_recovery_time;
            rating(r.median_hours.map(|h| below(h, recovery_limits)), r.failures, min)
        }
    };

    let four = [&deployment_frequency, &lead_time, &change_failure_rate, &recovery];
    let overall_level = four.iter().filter_map(|r| r.level).min();
    let overall_confidence = if overall_level.is_none() {
        Confidence::None
    } else if four.iter().all(|r| r.confidence == Confidence::Normal) {
        Confidence::Normal
    } else {
        Confidence::Low
    };
    let overall = Rating {
        level: overall_level,
        // The smallest sample among the metrics that have a level: the weakest evidence.
        sample: four.iter().filter(|r| r.level.is_some()).map(|r| r.sample).min().unwrap_or(0),
        confidence: overall_confidence,
    };
    Levels { benchmark_year: year.year(), deployment_frequency, lead_time, change_failure_rate, recovery, overall }
}
