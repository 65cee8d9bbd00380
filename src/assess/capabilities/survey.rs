//! The team's answers: the questionnaire flowgauge writes, the answers files and survey-tool CSV
//! exports it reads back, and the survey score per capability.
//!
//! Answers are on DORA's 7-point agreement scale (1 strongly disagree … 7 strongly agree) or
//! "dont_know". Scoring follows DORA's Quick Check: 1..7 maps linearly onto 0..10, reverse-scored
//! items are flipped first, and "don't know" or a missing answer is *not answered* — left out, never
//! counted as zero. The Quick Check's five self-reported metrics are read too, so that they can be held
//! against the measured ones. Every input error names the file, the line and the item, and nothing is
//! kept from a file with an error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Catalogue, round1, round2};
use crate::error::{Error, Result};

/// The agreement scale's ends.
pub const SCALE_MIN: i64 = 1;
pub const SCALE_MAX: i64 = 7;
/// How a respondent says "I don't know".
pub const DONT_KNOW: &str = "dont_know";

/// Lead time and recovery time options of DORA's Quick Check, slowest first (option 1 … 6).
pub const DURATION_OPTIONS: [(&str, &str); 6] = [
    ("more_than_six_months", "More than six months"),
    ("one_to_six_months", "Between one month and six months"),
    ("one_week_to_one_month", "Between one week and one month"),
    ("one_day_to_one_week", "Between one day and one week"),
    ("less_than_one_day", "Less than one day"),
    ("less_than_one_hour", "Less than one hour"),
];

/// Deployment frequency options of DORA's Quick Check, rarest first (option 1 … 6).
pub const FREQUENCY_OPTIONS: [(&str, &str); 6] = [
    ("fewer_than_once_per_six_months", "Fewer than once per six months"),
    ("monthly_to_six_monthly", "Between once per month and once every six months"),
    ("weekly_to_monthly", "Between once per week and once per month"),
    ("daily_to_weekly", "Between once per day and once per week"),
    ("hourly_to_daily", "Between once per hour and once per day"),
    ("on_demand", "On demand (multiple deploys per day)"),
];

/// The Quick Check's five self-reported metrics, in the order the questionnaire asks them.
pub const QUICK_CHECK: [QuickCheckMetric; 5] = [
    QuickCheckMetric::LeadTime,
    QuickCheckMetric::DeploymentFrequency,
    QuickCheckMetric::RecoveryTime,
    QuickCheckMetric::ChangeFailPercent,
    QuickCheckMetric::ReworkPercent,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuickCheckMetric {
    LeadTime,
    DeploymentFrequency,
    RecoveryTime,
    ChangeFailPercent,
    ReworkPercent,
}

impl QuickCheckMetric {
    /// The key in an answers file (and the CSV column after `quick_check.`).
    pub fn key(self) -> &'static str {
        match self {
            QuickCheckMetric::LeadTime => "lead_time",
            QuickCheckMetric::DeploymentFrequency => "deployment_frequency",
            QuickCheckMetric::RecoveryTime => "recovery_time",
            QuickCheckMetric::ChangeFailPercent => "change_fail_percent",
            QuickCheckMetric::ReworkPercent => "rework_percent",
        }
    }

    /// The metric of the catalogue's `moves` it corresponds to.
    pub fn metric(self) -> &'static str {
        match self {
            QuickCheckMetric::LeadTime => "lead-time",
            QuickCheckMetric::DeploymentFrequency => "deployment-frequency",
            QuickCheckMetric::RecoveryTime => "recovery-time",
            QuickCheckMetric::ChangeFailPercent => "change-failure-rate",
            QuickCheckMetric::ReworkPercent => "rework-rate",
        }
    }

    pub fn question(self) -> &'static str {
        match self {
            QuickCheckMetric::LeadTime => {
                "For the primary application or service you work on, what is your lead time for changes (from code committed to code successfully running in production)?"
            }
            QuickCheckMetric::DeploymentFrequency => {
                "For the primary application or service you work on, how often does your organization deploy code to production or release it to end users?"
            }
            QuickCheckMetric::RecoveryTime => {
                "For the primary application or service you work on, how long does it generally take to restore service after a change to production or release to users results in degraded service and subsequently requires remediation?"
            }
            QuickCheckMetric::ChangeFailPercent => {
                "For the primary application or service you work on, approximately what percentage of changes to production or releases to users result in degraded service and subsequently require remediation?"
            }
            QuickCheckMetric::ReworkPercent => {
                "For the primary application or service you work on, approximately what percentage of deployments in the last six months were not planned but were performed to address a user-facing bug in the application?"
            }
        }
    }

    /// The option list of a categorical metric; `None` for the percentages.
    pub fn options(self) -> Option<&'static [(&'static str, &'static str); 6]> {
        match self {
            QuickCheckMetric::LeadTime | QuickCheckMetric::RecoveryTime => Some(&DURATION_OPTIONS),
            QuickCheckMetric::DeploymentFrequency => Some(&FREQUENCY_OPTIONS),
            _ => None,
        }
    }

    fn parse(key: &str) -> Option<QuickCheckMetric> {
        QUICK_CHECK.into_iter().find(|m| m.key() == key)
    }
}

/// A self-reported Quick Check answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QuickCheckAnswer {
    /// Option 1 (slowest) … 6 (fastest).
    Option(u8),
    /// 0–100.
    Percent(f64),
}

impl QuickCheckAnswer {
    /// The Quick Check's 0–10 score: option 1 → 0 … 6 → 10; 0 % → 10 … 100 % → 0.
    pub fn score(self) -> f64 {
        match self {
            QuickCheckAnswer::Option(k) => (k as f64 - 1.0) * 2.0,
            QuickCheckAnswer::Percent(p) => 10.0 - p / 10.0,
        }
    }
}

/// One answer to a survey item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// 1 (strongly disagree) … 7 (strongly agree).
    Agreement(u8),
    /// "I don't know": not answered, never zero.
    DontKnow,
}

/// One person's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Respondent {
    pub name: Option<String>,
    pub role: Option<String>,
    /// The service answered about; `None` = every service.
    pub service: Option<String>,
    /// Where the answers came from: `file:line`.
    pub origin: String,
    pub answers: BTreeMap<String, Answer>,
    pub quick_check: BTreeMap<QuickCheckMetric, QuickCheckAnswer>,
}

/// Everything read from the answers files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answers {
    pub files: Vec<PathBuf>,
    /// The latest date an answers file gives (`[questionnaire] date`), if any.
    pub date: Option<NaiveDate>,
    pub respondents: Vec<Respondent>,
}

impl Answers {
    /// Reads every file; the first bad one stops the run with nothing kept.
    pub fn read(files: &[PathBuf], catalogue: &Catalogue, services: &[String]) -> Result<Answers> {
        let mut all = Answers::default();
        for path in files {
            // The same respondents read twice would count twice.
            if all.files.contains(path) {
                return Err(Error::ImportFile {
                    path: path.clone(),
                    message: "named twice: each answers file is read once".into(),
                });
            }
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let text = String::from_utf8(bytes).map_err(|e| Error::ImportFile {
                path: path.clone(),
                message: format!(
                    "not UTF-8 (byte {} is not valid): export the answers as UTF-8",
                    e.utf8_error().valid_up_to()
                ),
            })?;
            // Survey tools often write a byte-order mark before the header.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let is_csv = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            let (date, respondents) = if is_csv {
                (None, parse_csv(text, path, catalogue, services)?)
            } else {
                parse_toml(text, path, catalogue, services)?
            };
            all.files.push(path.clone());
            all.date = all.date.max(date);
            // A questionnaire returned blank (every answer left empty) is no respondent.
            all.respondents
                .extend(respondents.into_iter().filter(|r| !r.answers.is_empty() || !r.quick_check.is_empty()));
        }
        Ok(all)
    }

    /// The respondents who answered about `service` (their own or every service).
    pub fn for_service<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Respondent> + 'a {
        self.respondents.iter().filter(move |r| r.service.as_deref().is_none_or(|s| s == service))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn row_error(path: &Path, line: usize, field: &str, message: impl Into<String>) -> Error {
    Error::ImportRow { path: path.to_path_buf(), line, field: field.to_string(), message: message.into() }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    service: Option<toml::Spanned<String>>,
    date: Option<toml::Spanned<String>>,
    scale: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRespondent {
    name: Option<String>,
    role: Option<String>,
    #[serde(default)]
    answers: BTreeMap<String, toml::Spanned<toml::Value>>,
    #[serde(default)]
    quick_check: BTreeMap<String, toml::Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswersFile {
    #[serde(default)]
    questionnaire: RawHeader,
    #[serde(default)]
    respondent: Vec<toml::Spanned<RawRespondent>>,
}

fn parse_toml(
    text: &str,
    path: &Path,
    catalogue: &Catalogue,
    services: &[String],
) -> Result<(Option<NaiveDate>, Vec<Respondent>)> {
    let raw: RawAnswersFile = toml::from_str(text).map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        let message = e.message().trim_end().to_string();
        if line > 0 {
            row_error(path, line, "toml", message)
        } else {
            Error::ImportFile { path: path.to_path_buf(), message }
        }
    })?;
    if let Some(scale) = &raw.questionnaire.scale
        && scale.get_ref() != "dora7"
    {
        let line = line_of(text, scale.span().start);
        return Err(row_error(path, line, "scale", format!("`{}` is not \"dora7\"", scale.get_ref())));
    }
    let service = match &raw.questionnaire.service {
        Some(s) => Some(check_service(s.get_ref(), services, path, line_of(text, s.span().start))?),
        None => None,
    };
    let date = match &raw.questionnaire.date {
        Some(d) => Some(NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d").map_err(|_| {
            row_error(
                path,
                line_of(text, d.span().start),
                "date",
                format!("`{}` is not a date (YYYY-MM-DD)", d.get_ref()),
            )
        })?),
        None => None,
    };
    let mut respondents = Vec::new();
    for spanned in raw.respondent {
        let start_line = line_of(text, spanned.span().start);
        let r = spanned.into_inner();
        let mut answers = BTreeMap::new();
        for (id, value) in &r.answers {
            let line = line_of(text, value.span().start);
            if catalogue.item(id).is_none() {
                return Err(row_error(
                    path,
                    line,
                    id,
                    "no survey item has this id (see `flowgauge assess questionnaire`)",
                ));
            }
            let answer = match value.get_ref() {
                toml::Value::Integer(i) => {
                    Some(agreement(*i).ok_or_else(|| out_of_scale(path, line, id, &i.to_string()))?)
                }
                toml::Value::String(s) if s.is_empty() => None,
                toml::Value::String(s) if is_dont_know(s) => Some(Answer::DontKnow),
                other => return Err(out_of_scale(path, line, id, &other.to_string())),
            };
            if let Some(answer) = answer {
                answers.insert(id.clone(), answer);
            }
        }
        let mut quick_check = BTreeMap::new();
        for (key, value) in &r.quick_check {
            let line = line_of(text, value.span().start);
            let field = format!("quick_check.{key}");
            let metric = QuickCheckMetric::parse(key).ok_or_else(|| {
                row_error(path, line, &field, format!("not one of {}", QUICK_CHECK.map(|m| m.key()).join(", ")))
            })?;
            let cell = match value.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => other.to_string(),
            };
            if let Some(answer) = quick_check_answer(metric, &cell).map_err(|m| row_error(path, line, &field, m))? {
                quick_check.insert(metric, answer);
            }
        }
        respondents.push(Respondent {
            name: r.name.filter(|n| !n.trim().is_empty()),
            role: r.role.filter(|n| !n.trim().is_empty()),
            service: service.clone(),
            origin: format!("{}:{start_line}", path.display()),
            answers,
            quick_check,
        });
    }
    Ok((date, respondents))
}

fn check_service(name: &str, services: &[String], path: &Path, line: usize) -> Result<String> {
    if services.iter().any(|s| s == name) {
        Ok(name.to_string())
    } else {
        Err(row_error(
            path,
            line,
            "service",
            format!("no service `{name}` in the configuration; known services: {}", services.join(", ")),
        ))
    }
}

fn agreement(value: i64) -> Option<Answer> {
    (SCALE_MIN..=SCALE_MAX).contains(&value).then_some(Answer::Agreement(value as u8))
}

fn is_dont_know(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase().replace(['\'', '’'], "");
    t == DONT_KNOW || t == "dont know" || t == "i dont know"
}

fn out_of_scale(path: &Path, line: usize, item: &str, found: &str) -> Error {
    row_error(
        path,
        line,
        item,
        format!(
            "answer {found} is out of scale: give 1 (strongly disagree) to 7 (strongly agree), \"dont_know\", or \"\" for not answered"
        ),
    )
}

/// Reads one Quick Check cell; `Ok(None)` when empty.
fn quick_check_answer(metric: QuickCheckMetric, cell: &str) -> std::result::Result<Option<QuickCheckAnswer>, String> {
    let cell = cell.trim();
    if cell.is_empty() || is_dont_know(cell) {
        return Ok(None);
    }
    match metric.options() {
        Some(options) => options
            .iter()
            .position(|(id, _)| *id == cell)
            .map(|k| Some(QuickCheckAnswer::Option(k as u8 + 1)))
            .ok_or_else(|| format!("`{cell}` is not one of {}", options.map(|o| o.0).join(", "))),
        None => match cell.trim_end_matches('%').trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Some(QuickCheckAnswer::Percent(p))),
            _ => Err(format!("`{cell}` is not a percentage from 0 to 100")),
        },
    }
}

/// Columns a survey-tool CSV may have besides item ids and `quick_check.*`.
const CSV_META: [&str; 5] = ["respondent", "name", "role", "service", "timestamp"];

fn parse_csv(text: &str, path: &Path, catalogue: &Catalogue, services: &[String]) -> Result<Vec<Respondent>> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::ImportFile {
            path: path.to_path_buf(),
            message: format!("cannot read the header row: {e}"),
        })?
        .clone();
    enum Column {
        Meta(&'static str),
        Item(String),
        Quick(QuickCheckMetric),
    }
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(Error::ImportFile {
            path: path.to_path_buf(),
            message: "no header row: the first line must name the columns (survey item ids, quick_check.<metric>, respondent, role, service)".into(),
        });
    }
    let mut columns = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for header in headers.iter() {
        let name = header.trim();
        // A second column of the same name would silently replace the first one's answers.
        if !name.is_empty() && !seen.insert(name.to_ascii_lowercase()) {
            return Err(row_error(path, 1, name, "column named twice"));
        }
        let lower = name.to_ascii_lowercase();
        let column = if let Some(meta) = CSV_META.iter().find(|m| **m == lower) {
            Column::Meta(meta)
        } else if let Some(metric) = lower.strip_prefix("quick_check.").and_then(QuickCheckMetric::parse) {
            Column::Quick(metric)
        } else if catalogue.item(name).is_some() {
            Column::Item(name.to_string())
        } else {
            return Err(row_error(
                path,
                1,
                name,
                "column is neither a survey item id, nor quick_check.<metric>, nor one of respondent, name, role, service, timestamp",
            ));
        };
        columns.push(column);
    }
    let mut respondents = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            row_error(path, line, "row", e.to_string())
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let mut r = Respondent {
            name: None,
            role: None,
            service: None,
            origin: format!("{}:{line}", path.display()),
            answers: BTreeMap::new(),
            quick_check: BTreeMap::new(),
        };
        for (column, cell) in columns.iter().zip(record.iter()) {
            let cell = cell.trim();
            match column {
                Column::Meta("respondent" | "name") if !cell.is_empty() => r.name = Some(cell.to_string()),
                Column::Meta("role") if !cell.is_empty() => r.role = Some(cell.to_string()),
                Column::Meta("service") if !cell.is_empty() => {
                    r.service = Some(check_service(cell, services, path, line)?)
                }
                Column::Meta(_) => {}
                Column::Item(id) => {
                    if cell.is_empty() {
                        continue;
                    }
                    let answer = if is_dont_know(cell) {
                        Answer::DontKnow
                    } else {
                        cell.parse::<i64>()
                            .ok()
                            .and_then(agreement)
                            .ok_or_else(|| out_of_scale(path, line, id, cell))?
                    };
                    r.answers.insert(id.clone(), answer);
                }
                Column::Quick(metric) => {
                    let field = format!("quick_check.{}", metric.key());
                    if let Some(a) = quick_check_answer(*metric, cell).map_err(|m| row_error(path, line, &field, m))? {
                        r.quick_check.insert(*metric, a);
                    }
                }
            }
        }
        respondents.push(r);
    }
    Ok(respondents)
}

/// One item's answers aggregated over respondents.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemSummary {
    pub item: String,
    pub reverse: bool,
    /// Respondents who answered on the scale.
    pub n: usize,
    /// Respondents who said "don't know" (not answered).
    pub dont_know: usize,
    /// Mean answer on the 1–7 scale, two decimals.
    pub mean: Option<f64>,
    /// Highest minus lowest answer on the 1–7 scale: how far the team disagrees with itself.
    pub spread: Option<u8>,
    /// 0–10 after reverse-scoring, one decimal.
    pub score: Option<f64>,
}

/// One capability's survey side.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SurveyScore {
    /// Mean of its answered items' scores, 0–10, one decimal; `None` when no item was answered.
    pub score: Option<f64>,
    pub band: Option<&'static str>,
    pub unknown_reason: Option<String>,
    pub items: Vec<ItemSummary>,
}

/// Recodes an answer on 1..7 to 0..10, flipping reverse-scored items.
pub fn recode(answer: u8, reverse: bool) -> f64 {
    let a = if reverse { 8 - answer } else { answer };
    (a as f64 - 1.0) * 10.0 / 6.0
}

/// Aggregates one item over respondents.
pub fn summarise_item<'a>(item: &super::Item, respondents: impl IntoIterator<Item = &'a Respondent>) -> ItemSummary {
    let mut values = Vec::new();
    let mut dont_know = 0;
    for r in respondents {
        match r.answers.get(&item.id) {
            Some(Answer::Agreement(a)) => values.push(*a),
            Some(Answer::DontKnow) => dont_know += 1,
            None => {}
        }
    }
    let n = values.len();
    let mean = (n > 0).then(|| values.iter().map(|v| *v as f64).sum::<f64>() / n as f64);
    let score = (n > 0).then(|| values.iter().map(|v| recode(*v, item.reverse)).sum::<f64>() / n as f64);
    ItemSummary {
        item: item.id.clone(),
        reverse: item.reverse,
        n,
        dont_know,
        mean: mean.map(round2),
        spread: values.iter().max().zip(values.iter().min()).map(|(hi, lo)| hi - lo),
        score: score.map(round1),
    }
}

/// The survey score of every capability for a set of respondents, in catalogue order.
pub fn score_capabilities(catalogue: &Catalogue, respondents: &[&Respondent]) -> Vec<(String, SurveyScore)> {
    catalogue
        .capabilities
        .iter()
        .map(|cap| {
            let mut item_scores = Vec::new();
            let items: Vec<ItemSummary> = catalogue
                .items_of(&cap.id)
                .map(|item| {
                    let s = summarise_item(item, respondents.iter().copied());
                    // The capability's score rests on the items' unrounded scores.
                    let exact: Vec<f64> = respondents
                        .iter()
                        .filter_map(|r| match r.answers.get(&item.id) {
                            Some(Answer::Agreement(a)) => Some(recode(*a, item.reverse)),
                            _ => None,
                        })
                        .collect();
                    if !exact.is_empty() {
                        item_scores.push(exact.iter().sum::<f64>() / exact.len() as f64);
                    }
                    s
                })
                .collect();
            let score =
                (!item_scores.is_empty()).then(|| round1(item_scores.iter().sum::<f64>() / item_scores.len() as f64));
            let unknown_reason = match (score, respondents.len()) {
                (Some(_), _) => None,
                (None, 0) => Some("no answers for this service".to_string()),
                (None, _) => Some("no respondent answered its items (or all said don't know)".to_string()),
            };
            (cap.id.clone(), SurveyScore { score, band: score.map(super::band), unknown_reason, items })
        })
        .collect()
}

/// One self-reported metric aggregated over respondents.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuickCheckSummary {
    pub metric: QuickCheckMetric,
    pub n: usize,
    /// Mean 0–10 score, one decimal.
    pub score: Option<f64>,
    /// What the answers say, in words: the most frequent option (ties: the faster), or the mean percentage.
    pub answer: Option<String>,
}

/// Aggregates the Quick Check answers.
pub fn summarise_quick_check(respondents: &[&Respondent]) -> Vec<QuickCheckSummary> {
    QUICK_CHECK
        .iter()
        .map(|&metric| {
            let answers: Vec<QuickCheckAnswer> =
                respondents.iter().filter_map(|r| r.quick_check.get(&metric).copied()).collect();
            let n = answers.len();
            let score = (n > 0).then(|| round1(answers.iter().map(|a| a.score()).sum::<f64>() / n as f64));
            let answer = match metric.options() {
                _ if n == 0 => None,
                Some(options) => {
                    let mut counts = [0usize; 6];
                    for a in &answers {
                        if let QuickCheckAnswer::Option(k) = a {
                            counts[*k as usize - 1] += 1;
                        }
                    }
                    let best = (0..6).max_by_key(|&k| (counts[k], k)).unwrap_or(0);
                    Some(options[best].1.to_string())
                }
                None => {
                    let sum: f64 = answers
                        .iter()
                        .map(|a| match a {
                            QuickCheckAnswer::Percent(p) => *p,
                            QuickCheckAnswer::Option(_) => 0.0,
                        })
                        .sum();
                    Some(format!("{:.1} %", sum / n as f64))
                }
            };
            QuickCheckSummary { metric, n, score, answer }
        })
        .collect()
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The questionnaire to fill in: every survey item with its text and scale, and the Quick Check's
/// five questions, as an answers file with every answer empty ("" = not answered). `respondents`
/// blank `[[respondent]]` tables are written.
pub fn questionnaire(catalogue: &Catalogue, service: Option<&str>, date: NaiveDate, respondents: usize) -> String {
    let mut out = String::new();
    let _ =
        writeln!(out, "# flowgauge maturity questionnaire{}", service.map(|s| format!(" for {s}")).unwrap_or_default());
    out.push_str(
        "#\n# Each person fills in one [[respondent]] table (copy it for more people; name and role are optional).\n\
         # Answer each statement with how much you agree, on DORA's 7-point scale:\n\
         #   1 strongly disagree · 2 disagree · 3 somewhat disagree · 4 neither agree nor disagree ·\n\
         #   5 somewhat agree · 6 agree · 7 strongly agree\n\
         # or \"dont_know\". Leave \"\" for not answered: it is left out, never counted as zero.\n\
         # Read it back with: flowgauge assess --answers THIS_FILE\n#\n\
         # Items marked (DORA) quote DORA's survey (dora.dev, © DORA/Google, CC-BY-4.0); the Quick Check\n\
         # questions follow DORA's Quick Check (dora.dev/quickcheck). The rest are flowgauge's.\n\n",
    );
    out.push_str("[questionnaire]\n");
    if let Some(service) = service {
        let _ = writeln!(out, "service = {}", toml_string(service));
    }
    let _ = writeln!(out, "date = \"{date}\"\nscale = \"dora7\"\n");
    for _ in 0..respondents.max(1) {
        out.push_str("[[respondent]]\nname = \"\"\nrole = \"\"\n\n[respondent.answers]\n");
        for cap in &catalogue.capabilities {
            let _ = writeln!(out, "# --- {} ---", cap.name);
            for item in catalogue.items_of(&cap.id) {
                let origin = if item.origin == "dora" { " (DORA)" } else { "" };
                let _ = writeln!(out, "# {}{origin}", item.text);
                let _ = writeln!(out, "{} = \"\"", toml_string(&item.id));
            }
        }
        out.push_str("\n[respondent.quick_check]\n");
        for metric in QUICK_CHECK {
            let _ = writeln!(out, "# {}", metric.question());
            match metric.options() {
                Some(options) => {
                    for (id, text) in options {
                        let _ = writeln!(out, "#   {id}: {text}");
                    }
                }
                None => out.push_str("#   a percentage from 0 to 100\n"),
            }
            let _ = writeln!(out, "{} = \"\"", metric.key());
        }
        out.push('\n');
    }
    out
}
