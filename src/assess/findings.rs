//! Findings: the evidence behind the four questions a leader asks of one service, and what to do first.
//!
//! * Where are release steps manual? — manual deployments, approval waits, manual jobs and pipelines.
//! * Where is rollback uncertain? — how failed deployments were actually restored.
//! * Where is monitoring thin? — failures nobody opened an incident for, slow acknowledgement.
//! * Where is operational ownership vague? — unassigned incidents, unreviewed changes, one person
//!   holding the release.
//!
//! Each answer carries a status and the figures it rests on; when the data cannot answer, the status
//! says so ("unknown") instead of guessing. Recommendations are ranked by the weakness of the metric
//! they target plus the strength of the evidence, so the first one is the narrow area to improve now.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use serde::Serialize;

use super::{Level, Levels};
use crate::config::Config;
use crate::error::Result;
use crate::metrics::prepare::{self, Frames};
use crate::metrics::{Computation, PeriodMetrics};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fine,
    Unknown,
    Attention,
    Concern,
}

impl Status {
    fn weight(self) -> u32 {
        match self {
            Status::Concern => 2,
            Status::Attention => 1,
            Status::Fine | Status::Unknown => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Question {
    ManualSteps,
    Rollback,
    Monitoring,
    Ownership,
}

impl Question {
    pub fn text(self) -> &'static str {
        match self {
            Question::ManualSteps => "Where are release steps manual?",
            Question::Rollback => "Where is rollback uncertain?",
            Question::Monitoring => "Where is monitoring thin?",
            Question::Ownership => "Where is operational ownership vague?",
        }
    }
}

/// The answer to one question.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub question: Question,
    pub question_text: &'static str,
    pub status: Status,
    pub summary: String,
    pub evidence: Vec<String>,
}

/// One manual step in the path to production.
#[derive(Debug, Clone, Serialize)]
pub struct ManualStep {
    pub kind: String,
    /// Job, pipeline or environment name (untrusted text).
    pub name: String,
    pub occurrences: u64,
    pub median_wait_hours: Option<f64>,
    pub total_wait_hours: f64,
}

/// One measured gap in operational ownership.
#[derive(Debug, Clone, Serialize)]
pub struct OwnershipGap {
    pub area: String,
    pub detail: String,
    /// Records with the gap; none for a finding that is not a count (a missing CODEOWNERS file).
    pub count: Option<u64>,
    pub share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    pub rank: usize,
    pub title: String,
    /// The catalogue capability it improves (`src/assess/catalogue.toml`): the report folds it into
    /// that capability's place in the one ranking (`src/report/recommendations.rs`).
    pub capability: &'static str,
    /// The metric it should move.
    pub metric: String,
    /// Why: the evidence that motivates it.
    pub because: Vec<String>,
    pub score: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceFindings {
    pub service: String,
    pub findings: Vec<Finding>,
    pub manual_steps: Vec<ManualStep>,
    pub ownership_gaps: Vec<OwnershipGap>,
    pub recommendations: Vec<Recommendation>,
}

fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    match df.column(name) {
        Ok(c) => Ok(c.cast(&DataType::String)?.str()?.iter().map(|v| v.map(str::to_string)).collect()),
        Err(_) => Ok(vec![None; df.height()]),
    }
}

fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    match df.column(name) {
        Ok(c) => Ok(c.cast(&DataType::Float64)?.f64()?.iter().collect()),
        Err(_) => Ok(vec![None; df.height()]),
    }
}

fn flags(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>> {
    match df.column(name) {
        Ok(c) => Ok(c.cast(&DataType::Boolean)?.bool()?.iter().collect()),
        Err(_) => Ok(vec![None; df.height()]),
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

/// `1 incident`, `2 incidents`: a count with the noun that agrees with it.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "-".into() } else { format!("{:.0}%", part as f64 * 100.0 / whole as f64) }
}

fn hours(h: f64) -> String {
    crate::calendar::human_hours(Some(h))
}

/// Facts about one service's deployments, jobs, incidents and changes, gathered in one pass each.
#[derive(Default)]
struct Facts {
    deployments: u64,
    manual_known: u64,
    manual: u64,
    approval_waits: Vec<f64>,
    manual_environments: BTreeMap<String, u64>,
    triggered_by: BTreeMap<String, u64>,
    untriggered: u64,
    /// Production deployments started by an automation account (CI, Argo CD, a bot).
    automated: u64,
    manual_jobs: BTreeMap<String, (u64, Vec<f64>)>,
    manual_pipelines: BTreeMap<String, u64>,
    approvals: Vec<f64>,
    failures: u64,
    rolled_back: u64,
    hotfixed: u64,
    reverted: u64,
    incident_only: u64,
    unrestored: u64,
    failures_without_incident: u64,
    rollbacks: u64,
    incidents: u64,
    unassigned: u64,
    acknowledged: Vec<f64>,
    detection_delays: Vec<f64>,
    assignees: BTreeMap<String, u64>,
    changes: u64,
    /// Changes whose source records reviews (they have an opening time).
    reviewable: u64,
    unreviewed: u64,
    /// Whether the repository's files were scanned at all (a git source).
    scanned: bool,
    config_manual_steps: Vec<Evidence>,
    /// Ownership gaps the forge reports (no CODEOWNERS, errors in it).
    ownership_evidence: Vec<Evidence>,
    /// The ownership analysis of the git history (`source` = `ownership` rows).
    ownership_analysis: Vec<Analysed>,
    practices: Vec<Evidence>,
    /// Production deployments from a source that could record who started them (not git tags).
    trigger_recordable: u64,
}

/// One row of the ownership analysis stored at git collection time.
#[derive(Debug, Clone)]
struct Analysed {
    /// Measured for this service's paths rather than for the whole repository.
    own: bool,
    category: String,
    gap: bool,
    detail: String,
    value: Option<f64>,
}

/// Whether a `triggered_by` names an automation account rather than a person: a deployment tool
/// starting every deployment is automation working, not one person holding the release.
pub fn is_automation(name: &str) -> bool {
    const TOOLS: &[&str] = &[
        "bot",
        "ci",
        "cd",
        "actions",
        "argocd",
        "argo",
        "jenkins",
        "spinnaker",
        "flux",
        "fluxcd",
        "circleci",
        "buildkite",
        "automation",
        "deployer",
        "pipeline",
        "gitlab",
        "octopus",
        "harness",
        "teamcity",
        "bamboo",
    ];
    let lower = name.to_ascii_lowercase();
    lower.ends_with("[bot]") || lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| TOOLS.contains(&t))
}

fn in_window(ts: Option<f64>, config: &Config) -> bool {
    let w = &config.analysis.window;
    ts.is_some_and(|t| t >= w.since.timestamp() as f64 && t < w.until.timestamp() as f64)
}

fn gather(tables: &Frames, computation: &Computation, config: &Config) -> Result<HashMap<String, Facts>> {
    let mut facts: HashMap<String, Facts> = HashMap::new();

    // Counted production deployments: manual flags, approval waits, who triggered them.
    let d = prepare::epochize(&tables["deployments"])?;
    let (service, env, status, prod, finished) = (
        texts(&d, "service")?,
        texts(&d, "environment")?,
        texts(&d, "status")?,
        flags(&d, "is_production")?,
        numbers(&d, "finished_ts")?,
    );
    let sources = texts(&d, "source")?;
    let (manual, wait, trigger, ids) =
        (flags(&d, "is_manual")?, numbers(&d, "approval_wait_seconds")?, texts(&d, "triggered_by")?, texts(&d, "id")?);
    let mut deployment_service: HashMap<String, String> = HashMap::new();
    let mut waits_counted: std::collections::HashSet<String> = std::collections::HashSet::new();
    for i in 0..d.height() {
        let Some(s) = &service[i] else { continue };
        if let Some(id) = &ids[i] {
            deployment_service.insert(id.clone(), s.clone());
        }
        if status[i].as_deref() != Some("success") || prod[i] != Some(true) || !in_window(finished[i], config) {
            continue;
        }
        let f = facts.entry(s.clone()).or_default();
        f.deployments += 1;
        if let Some(m) = manual[i] {
            f.manual_known += 1;
            if m {
                f.manual += 1;
                *f.manual_environments.entry(env[i].clone().unwrap_or_default()).or_default() += 1;
            }
        }
        if let Some(w) = wait[i].filter(|w| *w > 0.0) {
            f.approval_waits.push(w / 3600.0);
            // Counted here, so not again by the deployment's `approvals` row (the GitHub source
            // writes both for one wait).
            if let Some(id) = &ids[i] {
                waits_counted.insert(id.clone());
            }
        }
        if sources[i].as_deref() != Some("git") {
            f.trigger_recordable += 1;
        }
        match &trigger[i] {
            Some(who) if is_automation(who) => f.automated += 1,
            Some(who) => *f.triggered_by.entry(who.clone()).or_default() += 1,
            // A release tag records no trigger by nature; only sources that could have are gaps.
            None if sources[i].as_deref() == Some("git") => {}
            None => f.untriggered += 1,
        }
    }

    // Manual jobs and manually started pipelines, through the pipeline's service.
    let p = prepare::epochize(&tables["pipelines"])?;
    let (p_id, p_service, p_name, p_trigger, p_started) = (
        texts(&p, "id")?,
        texts(&p, "service")?,
        texts(&p, "name")?,
        texts(&p, "trigger")?,
        numbers(&p, "started_ts")?,
    );
    let mut pipeline_service: HashMap<String, String> = HashMap::new();
    for i in 0..p.height() {
        let (Some(id), Some(s)) = (&p_id[i], &p_service[i]) else {
            continue;
        };
        if !in_window(p_started[i], config) {
            continue;
        }
        pipeline_service.insert(id.clone(), s.clone());
        if p_trigger[i].as_deref() == Some("manual") {
            let name = p_name[i].clone().unwrap_or_else(|| "(unnamed pipeline)".into());
            *facts.entry(s.clone()).or_default().manual_pipelines.entry(name).or_default() += 1;
        }
    }
    let j = prepare::epochize(&tables["jobs"])?;
    let (j_pipeline, j_name, j_manual, j_queued, j_started) = (
        texts(&j, "pipeline_id")?,
        texts(&j, "name")?,
        flags(&j, "is_manual")?,
        numbers(&j, "queued_ts")?,
        numbers(&j, "started_ts")?,
    );
    for i in 0..j.height() {
        if j_manual[i] != Some(true) {
            continue;
        }
        let Some(s) = j_pipeline[i].as_ref().and_then(|p| pipeline_service.get(p)) else {
            continue;
        };
        let entry = facts
            .entry(s.clone())
            .or_default()
            .manual_jobs
            .entry(j_name[i].clone().unwrap_or_else(|| "(unnamed job)".into()))
            .or_default();
        entry.0 += 1;
        if let (Some(q), Some(st)) = (j_queued[i], j_started[i]) {
            entry.1.push(((st - q) / 3600.0).max(0.0));
        }
    }

    let a = prepare::epochize(&tables["approvals"])?;
    let (subject, requested, decided) =
        (texts(&a, "subject_id")?, numbers(&a, "requested_ts")?, numbers(&a, "decided_ts")?);
    for i in 0..a.height() {
        if subject[i].as_ref().is_some_and(|id| waits_counted.contains(id)) {
            continue;
        }
        let Some(s) = subject[i].as_ref().and_then(|id| deployment_service.get(id)) else {
            continue;
        };
        if let (Some(r), Some(dcd)) = (requested[i], decided[i])
            && in_window(Some(dcd), config)
        {
            facts.entry(s.clone()).or_default().approvals.push(((dcd - r) / 3600.0).max(0.0));
        }
    }

    // How failures were restored, from the deployment outcomes the metrics counted.
    let o = &computation.records["deployment_outcomes"];
    let (o_service, reason, failure, rolled, hotfix, revert, incidents, restored) = (
        texts(o, "service")?,
        texts(o, "reason")?,
        flags(o, "is_failure")?,
        flags(o, "rolled_back")?,
        flags(o, "hotfixed")?,
        flags(o, "reverted")?,
        numbers(o, "incidents")?,
        numbers(o, "restored_ts")?,
    );
    let rollback_ids = rollback_deployments(tables)?;
    let o_ids = texts(o, "deployment_id")?;
    for i in 0..o.height() {
        let (Some(s), Some("counted")) = (&o_service[i], reason[i].as_deref()) else {
            continue;
        };
        let f = facts.entry(s.clone()).or_default();
        if o_ids[i].as_ref().is_some_and(|id| rollback_ids.contains(id)) {
            f.rollbacks += 1;
        }
        if failure[i] != Some(true) {
            continue;
        }
        f.failures += 1;
        let (r, h, v) = (rolled[i] == Some(true), hotfix[i] == Some(true), revert[i] == Some(true));
        f.rolled_back += r as u64;
        f.hotfixed += h as u64;
        f.reverted += v as u64;
        let with_incident = incidents[i].unwrap_or(0.0) > 0.0;
        if with_incident && !(r || h || v) {
            f.incident_only += 1;
        }
        if !with_incident {
            f.failures_without_incident += 1;
        }
        if restored[i].is_none() {
            f.unrestored += 1;
        }
    }

    // Incidents: assignment, acknowledgement, and how long after a deployment they were opened.
    let inc = prepare::epochize(&tables["incidents"])?;
    let (i_service, opened, acked, assignee, i_id) = (
        texts(&inc, "service")?,
        numbers(&inc, "opened_ts")?,
        numbers(&inc, "acknowledged_ts")?,
        texts(&inc, "assignee")?,
        texts(&inc, "id")?,
    );
    let restores = &computation.records["incident_restores"];
    let mut caused: HashMap<String, String> = HashMap::new();
    for (id, dep) in texts(restores, "incident_id")?.into_iter().zip(texts(restores, "caused_by_deployment_id")?) {
        if let (Some(id), Some(dep)) = (id, dep) {
            caused.insert(id, dep);
        }
    }
    let deployed_at: HashMap<String, f64> =
        ids.iter().zip(&finished).filter_map(|(id, t)| Some((id.clone()?, (*t)?))).collect();
    for i in 0..inc.height() {
        let Some(s) = &i_service[i] else { continue };
        if !in_window(opened[i], config) {
            continue;
        }
        let f = facts.entry(s.clone()).or_default();
        f.incidents += 1;
        match &assignee[i] {
            Some(who) => *f.assignees.entry(who.clone()).or_default() += 1,
            None => f.unassigned += 1,
        }
        if let (Some(o), Some(a)) = (opened[i], acked[i]) {
            f.acknowledged.push(((a - o) / 3600.0).max(0.0));
        }
        if let (Some(o), Some(dep_time)) =
            (opened[i], i_id[i].as_ref().and_then(|id| caused.get(id)).and_then(|d| deployed_at.get(d)))
        {
            f.detection_delays.push(((o - dep_time) / 3600.0).max(0.0));
        }
    }

    // Changes that reached production: were they reviewed by someone else?
    let c = &computation.records["change_lead_times"];
    let (c_service, c_reason, responded, opened) =
        (texts(c, "service")?, texts(c, "reason")?, numbers(c, "first_response_ts")?, numbers(c, "created_ts")?);
    for i in 0..c.height() {
        let (Some(s), Some("counted")) = (&c_service[i], c_reason[i].as_deref()) else {
            continue;
        };
        let f = facts.entry(s.clone()).or_default();
        f.changes += 1;
        // A change with no opening time comes from git, which knows nothing of reviews: not a gap.
        if opened[i].is_some() {
            f.reviewable += 1;
            if responded[i].is_none() {
                f.unreviewed += 1;
            }
        }
    }

    // Evidence from the repository's files: manual steps in CI/CD configuration and practices.
    // A row without a service serves the whole repository, so it counts for the repository's services.
    let e = &tables["evidence"];
    let values = numbers(e, "value")?;
    let (e_source, e_service, e_repo, kind, category, tool, detail, path, line) = (
        texts(e, "source")?,
        texts(e, "service")?,
        texts(e, "repo")?,
        texts(e, "kind")?,
        texts(e, "category")?,
        texts(e, "tool")?,
        texts(e, "detail")?,
        texts(e, "path")?,
        numbers(e, "line")?,
    );
    for i in 0..e.height() {
        let targets: Vec<String> = match (&e_service[i], &e_repo[i]) {
            (Some(s), _) => vec![s.clone()],
            (None, Some(repo)) => {
                let claimed: Vec<String> = config
                    .services
                    .iter()
                    .filter(|s| s.repos.iter().any(|r| r == repo))
                    .map(|s| s.name.clone())
                    .collect();
                if claimed.is_empty() { vec![repo.clone()] } else { claimed }
            }
            (None, None) => continue,
        };
        let location = match line[i] {
            Some(l) if l > 0.0 => format!("{}:{}", path[i].clone().unwrap_or_default(), l as i64),
            _ => path[i].clone().unwrap_or_default(),
        };
        let found = Evidence {
            category: category[i].clone().unwrap_or_default(),
            tool: tool[i].clone().unwrap_or_default(),
            detail: detail[i].clone().unwrap_or_default(),
            location,
        };
        if e_source[i].as_deref() == Some("ownership") {
            let analysed = Analysed {
                own: e_service[i].is_some(),
                category: found.category.clone(),
                gap: kind[i].as_deref() == Some("gap"),
                detail: found.detail.clone(),
                value: values[i],
            };
            for service in targets {
                facts.entry(service).or_default().ownership_analysis.push(analysed.clone());
            }
            continue;
        }
        for service in targets {
            let f = facts.entry(service).or_default();
            // Only a scan of the files says what is absent; a forge's settings say what is there.
            if e_source[i].as_deref() == Some("scan") {
                f.scanned = true;
            }
            match kind[i].as_deref() {
                Some("manual_step") => f.config_manual_steps.push(found.clone()),
                Some("gap") => f.ownership_evidence.push(found.clone()),
                _ => f.practices.push(found.clone()),
            }
        }
    }
    // A service with path globs has its own truck factor and knowledge loss: those replace the
    // whole repository's figures of the same category.
    for f in facts.values_mut() {
        let own: std::collections::HashSet<String> =
            f.ownership_analysis.iter().filter(|a| a.own).map(|a| a.category.clone()).collect();
        f.ownership_analysis.retain(|a| a.own || !own.contains(&a.category));
    }
    Ok(facts)
}

/// One finding from the repository's files.
#[derive(Debug, Clone, Default)]
struct Evidence {
    category: String,
    tool: String,
    detail: String,
    location: String,
}

impl Facts {
    fn practice(&self, category: &str) -> Vec<&Evidence> {
        self.practices.iter().filter(|p| p.category == category).collect()
    }
}

/// Ids of deployments that are rollbacks.
fn rollback_deployments(tables: &Frames) -> Result<std::collections::HashSet<String>> {
    let d = &tables["deployments"];
    Ok(texts(d, "id")?
        .into_iter()
        .zip(flags(d, "is_rollback")?)
        .filter_map(|(id, r)| if r == Some(true) { id } else { None })
        .collect())
}

fn manual_steps(f: &Facts) -> Vec<ManualStep> {
    let mut steps = Vec::new();
    if f.manual > 0 {
        let mut waits = f.approval_waits.clone();
        let environments: Vec<&str> = f.manual_environments.keys().map(String::as_str).collect();
        steps.push(ManualStep {
            kind: "production deployment started or approved by hand".into(),
            name: environments.join(", "),
            occurrences: f.manual,
            total_wait_hours: waits.iter().sum(),
            median_wait_hours: median(&mut waits),
        });
    }
    for (name, (n, waits)) in &f.manual_jobs {
        let mut waits = waits.clone();
        steps.push(ManualStep {
            kind: "manual pipeline job".into(),
            name: name.clone(),
            occurrences: *n,
            total_wait_hours: waits.iter().sum(),
            median_wait_hours: median(&mut waits),
        });
    }
    for (name, n) in &f.manual_pipelines {
        steps.push(ManualStep {
            kind: "pipeline started by hand".into(),
            name: name.clone(),
            occurrences: *n,
            median_wait_hours: None,
            total_wait_hours: 0.0,
        });
    }
    for e in &f.config_manual_steps {
        steps.push(ManualStep {
            kind: format!("{} in {} configuration", e.category, e.tool),
            name: format!("{} ({})", e.detail, e.location),
            occurrences: 1,
            median_wait_hours: None,
            total_wait_hours: 0.0,
        });
    }
    if !f.approvals.is_empty() {
        let mut waits = f.approvals.clone();
        steps.push(ManualStep {
            kind: "recorded deployment approval".into(),
            name: "approvals".into(),
            occurrences: waits.len() as u64,
            total_wait_hours: waits.iter().sum(),
            median_wait_hours: median(&mut waits),
        });
    }
    steps.sort_by(|a, b| b.total_wait_hours.total_cmp(&a.total_wait_hours).then(b.occurrences.cmp(&a.occurrences)));
    steps
}

fn manual_finding(f: &Facts, steps: &[ManualStep], m: &PeriodMetrics) -> Finding {
    let mut evidence = Vec::new();
    if f.manual_known > 0 {
        evidence.push(format!(
            "{} of {} production deployments ({}) were started or approved by hand",
            f.manual,
            f.deployments,
            pct(f.manual, f.deployments)
        ));
    }
    if f.automated > 0 {
        evidence.push(format!(
            "{} of {} production deployments ({}) were started by automation (CI/CD or a deployment tool)",
            f.automated,
            f.deployments,
            pct(f.automated, f.deployments)
        ));
    }
    let mut waits = f.approval_waits.clone();
    let median_wait = median(&mut waits);
    if let Some(w) = median_wait {
        evidence.push(format!(
            "median wait for approval {} per deployment, {} in total over the window",
            hours(w),
            hours(waits.iter().sum())
        ));
        if let Some(deploy) = m.lead_time.deploy.median_hours.filter(|d| *d > 0.0) {
            evidence.push(format!(
                "that wait is {:.0}% of the median deploy stage ({}) of lead time",
                (w / deploy * 100.0).min(100.0),
                hours(deploy)
            ));
        }
    }
    for step in steps.iter().filter(|s| s.kind != "production deployment started or approved by hand").take(4) {
        let wait = step.median_wait_hours.map(|w| format!(", median wait {}", hours(w))).unwrap_or_default();
        evidence.push(format!("{} “{}”: {}{}", step.kind, step.name, plural(step.occurrences, "time", "times"), wait));
    }
    let share = if f.deployments > 0 { f.manual as f64 / f.deployments as f64 } else { 0.0 };
    let (status, summary) = if f.deployments == 0 && steps.is_empty() {
        (Status::Unknown, "No production deployments in the window, so the release path cannot be judged.".to_string())
    } else if share >= 0.5 || median_wait.is_some_and(|w| w >= 4.0) {
        (
            Status::Concern,
            "Releases wait on people: most production deployments need a manual start or approval.".to_string(),
        )
    } else if !steps.is_empty() {
        (Status::Attention, "Some release steps are manual.".to_string())
    } else if f.manual_known == 0 {
        (
            Status::Unknown,
            "The deployment data does not say whether deployments were manual; collect from a CI/CD source that records it."
                .to_string(),
        )
    } else {
        (Status::Fine, "No manual steps found between merge and production.".to_string())
    };
    Finding { question: Question::ManualSteps, question_text: Question::ManualSteps.text(), status, summary, evidence }
}

fn rollback_finding(f: &Facts, m: &PeriodMetrics) -> Finding {
    let mut evidence = Vec::new();
    if f.failures > 0 {
        evidence.push(format!(
            "{}: {} rolled back, {} fixed forward by hotfix, {} reverted, {} restored only when the incident closed",
            plural(f.failures, "failed deployment", "failed deployments"),
            f.rolled_back,
            f.hotfixed,
            f.reverted,
            f.incident_only
        ));
    }
    if f.unrestored > 0 {
        evidence.push(match f.unrestored {
            1 => "1 failed deployment has no recorded restoration".to_string(),
            n => format!("{n} failed deployments have no recorded restoration"),
        });
    }
    let r = &m.failed_deployment_recovery_time;
    if let Some(median) = r.median_hours {
        evidence.push(format!("recovery median {}, p75 {}", hours(median), crate::calendar::human_hours(r.p75_hours)));
    }
    evidence.push(format!("{} in the window", plural(f.rollbacks, "rollback deployment", "rollback deployments")));
    let scripts = f.practice("rollback");
    if f.scanned {
        match scripts.first() {
            Some(s) => evidence.push(format!(
                "rollback automation in the repository: {} ({} found)",
                s.location,
                scripts.len()
            )),
            None => evidence.push("no rollback script or target found in the repository".into()),
        }
    }
    let slow = r.p75_hours.is_some_and(|h| h > 24.0);
    let (status, summary) = if f.failures == 0 && f.rollbacks == 0 {
        if f.deployments == 0 {
            (Status::Unknown, "No production deployments in the window.".to_string())
        } else {
            (
                Status::Attention,
                "No failure and no rollback in the window: the rollback path has not been exercised.".to_string(),
            )
        }
    } else if (f.failures > 0 && f.rolled_back == 0) || f.unrestored > 0 || slow {
        (
            Status::Concern,
            "Failures are not rolled back: service is restored by fixing forward or waiting, which is slow and uncertain."
                .to_string(),
        )
    } else if f.rolled_back < f.failures {
        (Status::Attention, "Rollback is used for some failures but not all.".to_string())
    } else if f.failures == 0 {
        (Status::Fine, "No deployment failed, and rollbacks are in use.".to_string())
    } else {
        (Status::Fine, "Failed deployments are rolled back.".to_string())
    };
    Finding { question: Question::Rollback, question_text: Question::Rollback.text(), status, summary, evidence }
}

fn monitoring_finding(f: &Facts, incidents_collected: bool) -> Finding {
    let mut evidence = Vec::new();
    if incidents_collected {
        evidence.push(format!("{} opened in the window", plural(f.incidents, "incident", "incidents")));
    } else {
        evidence.push("no incidents collected from any source".into());
    }
    if f.scanned {
        let monitoring = f.practice("monitoring");
        if monitoring.is_empty() {
            evidence.push("no monitoring or alerting configuration found in the repository".into());
        } else {
            let tools: std::collections::BTreeSet<&str> = monitoring.iter().map(|m| m.tool.as_str()).collect();
            evidence.push(format!(
                "monitoring configuration in the repository: {}",
                tools.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if f.practice("runbook").is_empty() {
            evidence.push("no runbook found in the repository".into());
        }
    }
    if f.failures_without_incident > 0 && incidents_collected {
        evidence.push(format!(
            "{} of {} failed deployments ({}) had no incident: the failure was found some other way",
            f.failures_without_incident,
            f.failures,
            pct(f.failures_without_incident, f.failures)
        ));
    } else if f.failures > 0 {
        evidence.push(match f.failures {
            1 => "the one failed deployment had an incident".to_string(),
            n => format!("every one of the {n} failed deployments had an incident"),
        });
    }
    let mut detection = f.detection_delays.clone();
    let detect = median(&mut detection);
    if let Some(d) = detect {
        evidence.push(format!("incidents caused by a deployment were opened a median {} after it", hours(d)));
    }
    let mut acks = f.acknowledged.clone();
    let ack = median(&mut acks);
    match ack {
        Some(a) => evidence.push(format!(
            "median time to acknowledge {} ({} of {} incidents)",
            hours(a),
            acks.len(),
            f.incidents
        )),
        None if f.incidents > 0 => evidence.push("no incident records an acknowledgement time".to_string()),
        None => {}
    }
    let missed = f.failures > 0 && f.failures_without_incident * 2 >= f.failures;
    let no_configuration = f.scanned && f.practice("monitoring").is_empty();
    let (status, summary) = if f.incidents == 0 && (f.failures == 0 || !incidents_collected) && no_configuration {
        (
            Status::Attention,
            "No monitoring configuration was found in the repository and no incidents are recorded.".to_string(),
        )
    } else if !incidents_collected {
        (
            Status::Unknown,
            "No incidents are collected, so how failures were detected cannot be judged: import incidents or connect a tracker."
                .to_string(),
        )
    } else if f.incidents == 0 && f.failures == 0 {
        (
            Status::Unknown,
            "No incidents and no failures recorded: either the service is quiet or incidents are not collected."
                .to_string(),
        )
    } else if missed || detect.is_some_and(|d| d > 4.0) {
        (Status::Concern, "Failures are found late or not by monitoring.".to_string())
    } else if f.failures_without_incident > 0 || ack.is_some_and(|a| a > 1.0) {
        (Status::Attention, "Some failures were not detected by an incident, or acknowledgement is slow.".to_string())
    } else if f.failures == 0 && ack.is_none() && detect.is_none() {
        // Incidents exist but none says how fast it was noticed: nothing to call fine.
        (
            Status::Unknown,
            "Incidents are recorded, but none was linked to a failed deployment or records when it was acknowledged."
                .to_string(),
        )
    } else {
        (Status::Fine, "Failures surface as incidents promptly.".to_string())
    };
    Finding { question: Question::Monitoring, question_text: Question::Monitoring.text(), status, summary, evidence }
}

fn ownership_gaps(f: &Facts) -> Vec<OwnershipGap> {
    let mut gaps = Vec::new();
    if f.unassigned > 0 {
        gaps.push(OwnershipGap {
            area: "incidents".into(),
            detail: "incidents with no assignee".into(),
            count: Some(f.unassigned),
            share: Some(f.unassigned as f64 / f.incidents.max(1) as f64),
        });
    }
    if f.unreviewed > 0 {
        gaps.push(OwnershipGap {
            area: "changes".into(),
            detail: "changes deployed without a review or comment from someone other than the author".into(),
            count: Some(f.unreviewed),
            share: Some(f.unreviewed as f64 / f.reviewable.max(1) as f64),
        });
    }
    if f.untriggered > 0 && f.deployments > 0 {
        gaps.push(OwnershipGap {
            area: "deployments".into(),
            detail: "production deployments with no record of who started them".into(),
            count: Some(f.untriggered),
            share: Some(f.untriggered as f64 / f.deployments as f64),
        });
    }
    for a in f.ownership_analysis.iter().filter(|a| a.gap) {
        gaps.push(OwnershipGap {
            area: a.category.clone(),
            detail: a.detail.clone(),
            count: None,
            // Knowledge loss is a share of files; the truck factor and coverage are not shares of a gap.
            share: if a.category == KNOWLEDGE_LOSS { a.value } else { None },
        });
    }
    for e in &f.ownership_evidence {
        gaps.push(OwnershipGap {
            area: e.category.clone(),
            detail: format!("{} ({})", e.detail, e.location),
            count: None,
            share: None,
        });
    }
    let people: u64 = f.triggered_by.values().sum();
    if let Some((who, n)) = f.triggered_by.iter().max_by_key(|(_, n)| **n)
        && people >= 5
        && *n * 10 >= people * 8
    {
        gaps.push(OwnershipGap {
            area: "deployments".into(),
            detail: format!("one person ({who}) started most production deployments"),
            count: Some(*n),
            share: Some(*n as f64 / people as f64),
        });
    }
    gaps
}

const TRUCK_FACTOR: &str = crate::collect::ownership_evidence::TRUCK_FACTOR;
const KNOWLEDGE_LOSS: &str = crate::collect::ownership_evidence::KNOWLEDGE_LOSS;
const CODEOWNERS_COVERAGE: &str = crate::collect::ownership_evidence::CODEOWNERS_COVERAGE;

/// Whether a gap is serious enough for `concern`: a quarter or more of the records, or a truck
/// factor of one (the service's knowledge rests on one person).
fn is_heavy(g: &OwnershipGap) -> bool {
    g.share.is_some_and(|s| s >= 0.25) || g.area == TRUCK_FACTOR
}

fn ownership_finding(f: &Facts, gaps: &[OwnershipGap]) -> Finding {
    let mut evidence: Vec<String> = gaps
        .iter()
        .map(|g| match (g.count, g.share) {
            (Some(n), Some(share)) => format!("{}: {} ({:.0}%)", g.detail, n, share * 100.0),
            (Some(n), None) => format!("{}: {}", g.detail, n),
            (None, _) => g.detail.clone(),
        })
        .collect();
    // What the git history shows that is not a gap is evidence too (a truck factor of 4).
    evidence.extend(f.ownership_analysis.iter().filter(|a| !a.gap).map(|a| a.detail.clone()));
    if f.incidents > 0 {
        evidence.push(match f.assignees.len() {
            1 => format!(
                "only one person ({}) was ever assigned incidents",
                f.assignees.keys().next().map(String::as_str).unwrap_or_default()
            ),
            n => format!("{n} people were assigned incidents"),
        });
    }
    if f.changes > 0 && f.reviewable == 0 {
        evidence.push(
            "reviews cannot be judged: the changes collected record no pull request (git alone records none)".into(),
        );
    }
    // What was actually judged: a status of `fine` must rest on at least one of these.
    let mut judged = Vec::new();
    if f.incidents > 0 {
        judged.push("incidents are assigned");
    }
    if f.reviewable > 0 {
        judged.push("changes are reviewed by someone other than their author");
    }
    if f.trigger_recordable > 0 {
        judged.push("production deployments record who started them");
    }
    let analysed = |category: &str| f.ownership_analysis.iter().any(|a| a.category == category);
    if analysed(TRUCK_FACTOR) {
        judged.push("the git history shows knowledge spread over several active people");
    }
    if analysed(CODEOWNERS_COVERAGE) {
        judged.push("CODEOWNERS names an owner for most files");
    }
    let (status, summary) = if judged.is_empty() && gaps.is_empty() {
        (
            Status::Unknown,
            "Nothing collected shows who owns this service's work: no incidents, no reviews, no deployment triggers and no ownership analysis of its repository.".to_string(),
        )
    } else if gaps.iter().any(is_heavy) {
        (
            Status::Concern,
            "Operational ownership is vague: knowledge or responsibility rests on too few people, or is not recorded."
                .to_string(),
        )
    } else if !gaps.is_empty() {
        (Status::Attention, "A few ownership gaps.".to_string())
    } else {
        (Status::Fine, format!("No ownership gap found: {}.", judged.join("; ")))
    };
    Finding { question: Question::Ownership, question_text: Question::Ownership.text(), status, summary, evidence }
}

fn gap(level: Option<Level>) -> u32 {
    match level {
        Some(Level::Low) => 3,
        Some(Level::Medium) => 2,
        Some(Level::High) => 1,
        Some(Level::Elite) | None => 0,
    }
}

fn recommendations(
    findings: &[Finding],
    m: &PeriodMetrics,
    levels: &Levels,
    steps: &[ManualStep],
    ownership_gaps: &[OwnershipGap],
) -> Vec<Recommendation> {
    let status = |q: Question| findings.iter().find(|f| f.question == q).map(|f| f.status).unwrap_or(Status::Unknown);
    let evidence =
        |q: Question| findings.iter().find(|f| f.question == q).map(|f| f.evidence.clone()).unwrap_or_default();
    let mut out: Vec<Recommendation> = Vec::new();
    let lead_gap = gap(levels.lead_time.level);

    if status(Question::ManualSteps) >= Status::Attention {
        // The title stays a short instruction; which step to start with is the first reason.
        let first = steps.first().map(|s| format!("start with the {} “{}”", s.kind, s.name));
        out.push(Recommendation {
            rank: 0,
            title: "Replace manual release steps with automated checks".into(),
            capability: "deployment-automation",
            metric: "lead time (deploy stage) and deployment frequency".into(),
            because: first.into_iter().chain(evidence(Question::ManualSteps)).collect(),
            score: status(Question::ManualSteps).weight() + lead_gap.max(gap(levels.deployment_frequency.level)),
        });
    }
    let lt = &m.lead_time;
    // Each stage's advice belongs to the capability that shortens it.
    let stages = [
        ("coding", lt.coding.median_hours, "Split work into smaller changes that reach review sooner", "small-batches"),
        (
            "pickup",
            lt.pickup.median_hours,
            "Agree how quickly a waiting review is picked up, and make waiting reviews visible",
            "streamlined-change-approval",
        ),
        ("review", lt.review.median_hours, "Keep changes small enough to review in one pass", "small-batches"),
        (
            "deploy",
            lt.deploy.median_hours,
            "Deploy every merge automatically, soon after it lands",
            "continuous-delivery",
        ),
    ];
    if let Some((name, Some(h), advice, capability)) = stages
        .iter()
        .copied()
        .filter(|(_, h, _, _)| h.is_some())
        .max_by(|a, b| a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
        && lead_gap > 0
    {
        let total = lt.median_hours.unwrap_or(0.0);
        out.push(Recommendation {
            rank: 0,
            title: advice.to_string(),
            capability,
            metric: "lead time for changes".into(),
            because: vec![format!(
                "the {name} stage is the longest: median {} of a {} median lead time ({})",
                hours(h),
                hours(total),
                plural(lt.changes, "change", "changes")
            )],
            score: lead_gap + 1,
        });
    }
    let cfr = &m.change_failure_rate;
    if gap(levels.change_failure_rate.level) >= 2 {
        out.push(Recommendation {
            rank: 0,
            title: "Add automated verification before and just after production".into(),
            capability: "test-automation",
            metric: "change failure rate".into(),
            because: vec![
                format!(
                    "{} of {} deployments failed ({} with incidents, {} rolled back, {} hotfixed, {} reverted)",
                    cfr.failed, cfr.deployments, cfr.with_incident, cfr.rolled_back, cfr.hotfixed, cfr.reverted
                ),
                "for example tests on the paths that failed, a canary or a staged rollout".into(),
            ],
            score: gap(levels.change_failure_rate.level) + 1,
        });
    }
    if status(Question::Rollback) == Status::Concern {
        out.push(Recommendation {
            rank: 0,
            title: "Make rollback a rehearsed, one-step operation and use it first when a deployment fails".into(),
            capability: "rollback-recovery",
            metric: "failed deployment recovery time".into(),
            because: evidence(Question::Rollback),
            score: gap(levels.recovery.level) + 2,
        });
    }
    if status(Question::Monitoring) == Status::Concern {
        out.push(Recommendation {
            rank: 0,
            title: "Alert on what users experience, and open an incident automatically when it degrades".into(),
            capability: "monitoring-observability",
            metric: "failed deployment recovery time and change failure rate".into(),
            because: evidence(Question::Monitoring),
            score: gap(levels.recovery.level).max(1) + 1,
        });
    }
    if status(Question::Ownership) == Status::Concern {
        // Advice for what the heavy gaps are about: people's records, or knowledge in the code.
        let records = ownership_gaps
            .iter()
            .any(|g| is_heavy(g) && ["incidents", "changes", "deployments"].contains(&g.area.as_str()));
        out.push(Recommendation {
            rank: 0,
            capability: if records { "incident-response-review" } else { "code-maintainability-knowledge" },
            title: if records {
                "Name an owner for every incident and require a review by someone other than the author".into()
            } else {
                "Spread knowledge of the code beyond one person, and name its owners".into()
            },
            metric: "time to restore service and change failure rate".into(),
            because: evidence(Question::Ownership),
            score: 2,
        });
    }
    let df_gap = gap(levels.deployment_frequency.level);
    if df_gap >= 2 && status(Question::ManualSteps) < Status::Attention {
        out.push(Recommendation {
            rank: 0,
            title: "Release smaller batches more often".into(),
            capability: "small-batches",
            metric: "deployment frequency".into(),
            because: vec![format!(
                "{} in the window, {:.1} per week ({})",
                plural(m.deployment_frequency.deployments, "production deployment", "production deployments"),
                m.deployment_frequency.per_week,
                m.deployment_frequency.bucket
            )],
            score: df_gap,
        });
    }
    // Stable: highest score first, then the order above (which follows the flow of a change).
    out.sort_by_key(|r| std::cmp::Reverse(r.score));
    out.truncate(5);
    for (i, r) in out.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    out
}

/// Findings for every service, judged on the window's figures.
pub fn assess_services(
    tables: &Frames,
    computation: &Computation,
    report: &crate::metrics::MetricsReport,
    config: &Config,
) -> Result<Vec<ServiceFindings>> {
    let mut facts = gather(tables, computation, config)?;
    // Without any incident in the workspace, a failure without one says nothing about monitoring.
    let incidents_collected = tables["incidents"].height() > 0;
    let mut out = Vec::new();
    for s in &report.services {
        let f = facts.remove(&s.service).unwrap_or_default();
        let levels = super::levels(&s.window, &config.analysis);
        let steps = manual_steps(&f);
        let gaps = ownership_gaps(&f);
        let findings = vec![
            manual_finding(&f, &steps, &s.window),
            rollback_finding(&f, &s.window),
            monitoring_finding(&f, incidents_collected),
            ownership_finding(&f, &gaps),
        ];
        let recommendations = recommendations(&findings, &s.window, &levels, &steps, &gaps);
        out.push(ServiceFindings {
            service: s.service.clone(),
            findings,
            manual_steps: steps,
            ownership_gaps: gaps,
            recommendations,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(plural(1, "rollback deployment", "rollback deployments"), "1 rollback deployment");
        assert_eq!(plural(0, "rollback deployment", "rollback deployments"), "0 rollback deployments");
        assert_eq!(plural(2, "time", "times"), "2 times");
    }

    #[test]
    fn deployment_tools_are_not_people() {
        for tool in ["argocd", "github-actions", "dependabot[bot]", "Jenkins", "deploy-bot", "gitlab-ci"] {
            assert!(is_automation(tool), "{tool}");
        }
        // Whole words only: "ci" inside a name is not a CI system.
        for person in ["dana", "lucia", "Francis", "cicero", "bottomley"] {
            assert!(!is_automation(person), "{person}");
        }
    }
}
