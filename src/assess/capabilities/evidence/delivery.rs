//! Indicators from deployments, approvals and incidents: how changes reach production, how often,
//! who starts them, how long they wait, and how failures are noticed, rolled back and restored.

use std::collections::{HashMap, HashSet};

use super::{
    EvidenceInput, Measurement, Scope, counted, duration, flags, floats, median, service_rows, share, table, texts,
    times, words,
};
use crate::error::{Error, Result};
use crate::metrics::prepare;

pub(super) fn measure(input: &EvidenceInput, scope: &Scope) -> Result<Vec<Measurement>> {
    let deployments = Deployments::load(input, scope)?;
    let incidents = Incidents::load(input, scope)?;
    let outcomes = Outcomes::load(input, scope)?;
    Ok(vec![
        deployments.naming_sha(),
        deployments.started_by_person(),
        deployments.deploy_days_per_week(scope),
        deployments.success_share(),
        approval_wait(input, &deployments)?,
        rollback_exercised(&deployments, &outcomes),
        rollback_recovery(&outcomes),
        coupled_deployments(input, scope, &deployments)?,
        changes_per_deployment(input, scope)?,
        incidents.restore_time(),
        incidents.major_reviewed(),
        incidents.acknowledge_time(),
        incidents.opened_by_monitoring(),
        incidents.detection_delay(),
        incidents.cause_recorded(),
    ])
}

/// One deployment of the service.
struct Deployment {
    id: String,
    production: bool,
    sha: Option<String>,
    finished: Option<i64>,
    status: String,
    triggered_by: Option<String>,
    is_manual: Option<bool>,
    approval_wait: Option<f64>,
    is_rollback: Option<bool>,
}

/// The service's deployments, any time, and which of them are production ones in the period.
struct Deployments {
    all: Vec<Deployment>,
    /// Indexes into `all` of production deployments that finished in the period.
    in_period: Vec<usize>,
}

impl Deployments {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Deployments> {
        let df = service_rows(input, "deployments", scope.service)?;
        let (ids, production, shas) = (texts(&df, "id")?, flags(&df, "is_production")?, texts(&df, "sha")?);
        let (finished, status, by) = (times(&df, "finished_ts")?, texts(&df, "status")?, texts(&df, "triggered_by")?);
        let (manual, wait, rollback) =
            (flags(&df, "is_manual")?, floats(&df, "approval_wait_seconds")?, flags(&df, "is_rollback")?);
        let mut all = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            all.push(Deployment {
                id: ids[i].clone().unwrap_or_default(),
                production: production[i] == Some(true),
                sha: shas[i].clone().filter(|s| !s.trim().is_empty()),
                finished: finished[i],
                status: status[i].clone().unwrap_or_default(),
                triggered_by: by[i].clone(),
                is_manual: manual[i],
                approval_wait: wait[i].filter(|w| w.is_finite() && *w >= 0.0),
                is_rollback: rollback[i],
            });
        }
        let in_period = (0..all.len()).filter(|&i| all[i].production && scope.contains(all[i].finished)).collect();
        Ok(Deployments { all, in_period })
    }

    fn period(&self) -> impl Iterator<Item = &Deployment> {
        self.in_period.iter().map(|&i| &self.all[i])
    }

    fn successes(&self) -> impl Iterator<Item = &Deployment> {
        self.period().filter(|d| d.status == "success")
    }

    fn none_in_period(&self, indicator: &str) -> Option<Measurement> {
        self.in_period.is_empty().then(|| Measurement::unknown(indicator, "no production deployment in the period"))
    }

    fn naming_sha(&self) -> Measurement {
        const ID: &str = "vc.deployments_name_sha";
        if let Some(m) = self.none_in_period(ID) {
            return m;
        }
        let named = self.period().filter(|d| d.sha.is_some()).count();
        let records: Vec<String> = self.period().map(|d| d.id.clone()).collect();
        let detail = format!("{named} of {} production deployments name the commit they deployed", records.len());
        Measurement::known(ID, share(named, records.len()), detail, records)
    }

    /// Started by a person: `is_manual`, or, where the source leaves it empty, a `triggered_by`
    /// that names an automation rather than a person; anything else cannot be judged.
    fn started_by_person(&self) -> Measurement {
        const ID: &str = "da.manual_production_deployments";
        if let Some(m) = self.none_in_period(ID) {
            return m;
        }
        let judged: Vec<(&Deployment, bool)> = self
            .period()
            .filter_map(|d| match d.is_manual {
                Some(manual) => Some((d, manual)),
                None => d.triggered_by.as_deref().filter(|by| is_automation(by)).map(|_| (d, false)),
            })
            .collect();
        if judged.is_empty() {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} production deployments records whether a person started it (is_manual) or an automation did (triggered_by)",
                    self.in_period.len()
                ),
            );
        }
        let manual = judged.iter().filter(|(_, m)| *m).count();
        let unjudged = self.in_period.len() - judged.len();
        let mut detail = format!("{manual} of {} production deployments were started by a person", judged.len());
        if unjudged > 0 {
            detail.push_str(&format!("; {unjudged} more do not record who started them"));
        }
        let records = judged.iter().map(|(d, _)| d.id.clone()).collect();
        Measurement::known(ID, share(manual, judged.len()), detail, records)
    }

    /// Distinct UTC days with a successful production deployment, per week of the period.
    fn deploy_days_per_week(&self, scope: &Scope) -> Measurement {
        const ID: &str = "cd.deploy_days_per_week";
        if self.all.is_empty() {
            return Measurement::unknown(ID, "no deployment of this service was collected");
        }
        let successes: Vec<&Deployment> = self.successes().collect();
        let days: HashSet<i64> = successes.iter().filter_map(|d| d.finished).map(|t| t.div_euclid(86_400)).collect();
        let weeks = scope.days() / 7.0;
        let detail = format!(
            "{} in {weeks:.1} weeks ({})",
            counted(days.len(), "deployment day", "deployment days"),
            counted(successes.len(), "successful production deployment", "successful production deployments")
        );
        let records = successes.iter().map(|d| d.id.clone()).collect();
        Measurement::known(ID, days.len() as f64 / weeks, detail, records)
    }

    fn success_share(&self) -> Measurement {
        const ID: &str = "cd.deployment_success";
        let finished: Vec<&Deployment> =
            self.period().filter(|d| matches!(d.status.as_str(), "success" | "failure")).collect();
        if finished.is_empty() {
            return Measurement::unknown(ID, "no production deployment succeeded or failed in the period");
        }
        let ok = finished.iter().filter(|d| d.status == "success").count();
        let detail = format!("{ok} of {} finished production deployments succeeded", finished.len());
        Measurement::known(ID, share(ok, finished.len()), detail, finished.iter().map(|d| d.id.clone()).collect())
    }
}

/// A `triggered_by` naming a bot, a CI system or a deployment controller rather than a person.
fn is_automation(name: &str) -> bool {
    const AUTOMATION: [&str; 14] = [
        "bot",
        "ci",
        "cd",
        "actions",
        "jenkins",
        "argo",
        "argocd",
        "flux",
        "spinnaker",
        "automation",
        "scheduler",
        "schedule",
        "pipeline",
        "circleci",
    ];
    name.contains("[bot]") || words(name).any(|w| AUTOMATION.contains(&w.as_str()))
}

/// Median wait for a manual approval over the production deployments that record one: the
/// deployment's `approval_wait_seconds`, else its `approvals` rows (first request to last decision).
fn approval_wait(input: &EvidenceInput, deployments: &Deployments) -> Result<Measurement> {
    const ID: &str = "sca.approval_wait_hours";
    if let Some(m) = deployments.none_in_period(ID) {
        return Ok(m);
    }
    let wanted: HashSet<&str> = deployments.period().map(|d| d.id.as_str()).collect();
    let approvals = prepare::epochize(table(input, "approvals")?)?;
    let (subjects, requested, decided) =
        (texts(&approvals, "subject_id")?, times(&approvals, "requested_ts")?, times(&approvals, "decided_ts")?);
    let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
    for i in 0..approvals.height() {
        let (Some(subject), Some(from), Some(to)) = (subjects[i].as_deref(), requested[i], decided[i]) else {
            continue;
        };
        if let Some(&key) = wanted.get(subject) {
            let span = spans.entry(key).or_insert((from, to));
            *span = (span.0.min(from), span.1.max(to));
        }
    }
    let mut waits = Vec::new();
    let mut records = Vec::new();
    for d in deployments.period() {
        let wait = d.approval_wait.or_else(|| spans.get(d.id.as_str()).map(|(from, to)| (to - from).max(0) as f64));
        if let Some(wait) = wait {
            waits.push(wait);
            records.push(d.id.clone());
        }
    }
    let Some(mid) = median(waits) else {
        return Ok(Measurement::unknown(
            ID,
            format!(
                "none of the {} production deployments records an approval wait (approval_wait_seconds or approvals)",
                deployments.in_period.len()
            ),
        ));
    };
    let detail = format!(
        "{} of {} production deployments record an approval wait; median {}",
        records.len(),
        deployments.in_period.len(),
        duration(mid)
    );
    Ok(Measurement::known(ID, mid / 3_600.0, detail, records))
}

/// Whether the period's failed production deployments were recovered by a rollback at least once.
/// A period without failures needed none, so it cannot tell.
fn rollback_exercised(deployments: &Deployments, outcomes: &Outcomes) -> Measurement {
    const ID: &str = "rr.rollback_exercised";
    if deployments.all.iter().all(|d| d.is_rollback.is_none()) {
        return Measurement::unknown(ID, "the deployment source does not record rollbacks (is_rollback is empty)");
    }
    if outcomes.failed.is_empty() {
        return Measurement::unknown(ID, "no production deployment failed in the period, so none needed a rollback");
    }
    let rolled_back: Vec<String> = outcomes.failed.iter().filter(|f| f.rolled_back).map(|f| f.id.clone()).collect();
    let detail =
        format!("{} of {} failed production deployments were rolled back", rolled_back.len(), outcomes.failed.len());
    let records = outcomes.failed.iter().map(|f| f.id.clone()).collect();
    Measurement::presence(ID, !rolled_back.is_empty(), detail, records)
}

fn rollback_recovery(outcomes: &Outcomes) -> Measurement {
    const ID: &str = "rr.rollback_recovery_hours";
    let rolled: Vec<&Failure> = outcomes.failed.iter().filter(|f| f.rolled_back && f.recovery_s.is_some()).collect();
    let Some(mid) = median(rolled.iter().filter_map(|f| f.recovery_s).collect()) else {
        return Measurement::unknown(ID, "no failed production deployment of the period was rolled back");
    };
    let detail = format!(
        "{} rolled back; median recovery {}",
        counted(rolled.len(), "failed deployment was", "failed deployments were"),
        duration(mid)
    );
    Measurement::known(ID, mid / 3_600.0, detail, rolled.iter().map(|f| f.id.clone()).collect())
}

/// A failed production deployment, from the `deployment_outcomes` record query.
struct Failure {
    id: String,
    rolled_back: bool,
    recovery_s: Option<f64>,
}

struct Outcomes {
    failed: Vec<Failure>,
}

impl Outcomes {
    /// The service's successful production deployments of the period that failed afterwards.
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Outcomes> {
        let df = record(input, "deployment_outcomes")?;
        let (services, ids, reasons) =
            (prepare::strs(df, "service")?, prepare::strs(df, "deployment_id")?, prepare::strs(df, "reason")?);
        let (deployed, failure, rolled) =
            (prepare::ints(df, "deployed_ts")?, prepare::bools(df, "is_failure")?, prepare::bools(df, "rolled_back")?);
        let recovery = df.column("recovery_s")?.cast(&polars::prelude::DataType::Float64)?;
        let recovery = recovery.f64()?;
        let mut failed = Vec::new();
        for i in 0..df.height() {
            // The reason says whether the window of the configuration counts it; the period here
            // is the caller's, so only "is it a successful production deployment" is taken from it.
            let prod_success = !matches!(
                reasons.get(i),
                Some(
                    "deployment did not succeed"
                        | "not a production deployment"
                        | "pre-release, not a production deployment"
                )
            );
            if services.get(i) == Some(scope.service)
                && prod_success
                && failure.get(i) == Some(true)
                && scope.contains(deployed.get(i))
            {
                failed.push(Failure {
                    id: ids.get(i).unwrap_or_default().to_string(),
                    rolled_back: rolled.get(i) == Some(true),
                    recovery_s: recovery.get(i),
                });
            }
        }
        Ok(Outcomes { failed })
    }
}

/// A record query's output.
fn record<'a>(input: &'a EvidenceInput, name: &str) -> Result<&'a polars::prelude::DataFrame> {
    input
        .computation
        .records
        .get(name)
        .ok_or_else(|| Error::Query { name: name.to_string(), message: "did not run".into() })
}

/// Share of the period's successful production deployments whose commit another service deployed
/// to production within an hour: deployments that must go together.
fn coupled_deployments(input: &EvidenceInput, scope: &Scope, deployments: &Deployments) -> Result<Measurement> {
    const ID: &str = "lc.coupled_deployments";
    let mut ours: HashMap<String, Vec<(i64, &str)>> = HashMap::new();
    for d in deployments.successes() {
        if let (Some(sha), Some(t)) = (&d.sha, d.finished) {
            ours.entry(sha.to_ascii_lowercase()).or_default().push((t, d.id.as_str()));
        }
    }
    if ours.is_empty() {
        return Ok(Measurement::unknown(
            ID,
            "no successful production deployment of the period names the commit it deployed",
        ));
    }
    let df = table(input, "deployments")?;
    let (services, shas, status) =
        (prepare::strs(df, "service")?, prepare::strs(df, "sha")?, prepare::strs(df, "status")?);
    let production = prepare::bools(df, "is_production")?;
    let finished = prepare::epochize(&df.select(["finished_at"])?)?;
    let finished = prepare::ints(&finished, "finished_ts")?;
    let mut together: HashSet<&str> = HashSet::new();
    for i in 0..df.height() {
        let other = services.get(i).is_some_and(|s| s != scope.service);
        if !other || production.get(i) != Some(true) || status.get(i) != Some("success") {
            continue;
        }
        let (Some(sha), Some(t)) = (shas.get(i), finished.get(i)) else { continue };
        if let Some(list) = ours.get(&sha.to_ascii_lowercase()) {
            together.extend(list.iter().filter(|(ts, _)| (ts - t).abs() <= 3_600).map(|(_, id)| *id));
        }
    }
    let records: Vec<String> = ours.values().flatten().map(|(_, id)| id.to_string()).collect();
    let detail = format!(
        "{} of {} successful production deployments shipped a commit another service deployed within the hour",
        together.len(),
        records.len()
    );
    Ok(Measurement::known(ID, share(together.len(), records.len()), detail, sorted(records)))
}

/// Median number of changes each successful production deployment of the period shipped, from the
/// `change_lead_times` record query (which change reached production with which deployment).
fn changes_per_deployment(input: &EvidenceInput, scope: &Scope) -> Result<Measurement> {
    const ID: &str = "sb.changes_per_deployment";
    let df = record(input, "change_lead_times")?;
    let (services, deployment) = (prepare::strs(df, "service")?, prepare::strs(df, "deployment_id")?);
    let deployed = prepare::ints(df, "deployed_ts")?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for i in 0..df.height() {
        if services.get(i) == Some(scope.service)
            && scope.contains(deployed.get(i))
            && let Some(d) = deployment.get(i)
        {
            *counts.entry(d).or_default() += 1;
        }
    }
    let Some(mid) = median(counts.values().map(|&n| n as f64).collect()) else {
        return Ok(Measurement::unknown(ID, "no change reached production with a deployment of the period"));
    };
    let changes: usize = counts.values().sum();
    let detail = format!(
        "{} reached production in {}; median {mid} per deployment",
        counted(changes, "change", "changes"),
        counted(counts.len(), "deployment", "deployments")
    );
    Ok(Measurement::known(ID, mid, detail, sorted(counts.keys().map(|d| d.to_string()).collect())))
}

/// Whether an incident is major, from its severity and priority as trackers name them: the top two
/// levels — `SEV0` to `SEV2` (`sev-1`, `S1`), `P0` to `P2`, `0` to `2`, `critical`, `high` (GitLab's
/// severity, PagerDuty's urgency, Jira's priority), `highest`, `major`, `urgent`. `None` when it
/// records neither.
fn major_level(levels: &[&Option<String>]) -> Option<bool> {
    const MAJOR: [&str; 17] = [
        "sev0", "sev1", "sev2", "s0", "s1", "s2", "p0", "p1", "p2", "0", "1", "2", "critical", "high", "highest",
        "major", "urgent",
    ];
    let named: Vec<String> = levels
        .iter()
        .filter_map(|l| l.as_deref())
        .map(|l| l.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    (!named.is_empty()).then(|| named.iter().any(|l| MAJOR.contains(&l.as_str())))
}

/// The ids of the service's incidents a post-incident review evidence row names: a tracker writes
/// the review of incident `SOURCE:SITE:KEY` as `SOURCE:SITE:review:KEY` (the Jira source does).
fn reviewed_incidents(input: &EvidenceInput, scope: &Scope) -> Result<HashSet<String>> {
    let df = service_rows(input, "evidence", scope.service)?;
    let (ids, categories) = (texts(&df, "id")?, texts(&df, "category")?);
    Ok(ids
        .into_iter()
        .zip(categories)
        .filter(|(_, category)| category.as_deref() == Some("post-incident review"))
        .filter_map(|(id, _)| Some(id?.replacen(":review:", ":", 1)))
        .collect())
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The service's incidents opened in the period.
struct Incidents {
    ids: Vec<String>,
    opened: Vec<i64>,
    acknowledged: Vec<Option<i64>>,
    resolved: Vec<Option<i64>>,
    cause_named: Vec<bool>,
    /// `monitoring` or `person` where the tracker says who opened the incident (PagerDuty's log
    /// entries, Jira's reporter), else empty.
    detected_by: Vec<Option<String>>,
    /// Whether its severity or priority says it is major; `None` when it records neither.
    major: Vec<Option<bool>>,
    /// Whether a post-incident review is linked to it.
    reviewed: Vec<bool>,
}

impl Incidents {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Incidents> {
        let df = service_rows(input, "incidents", scope.service)?;
        let (ids, opened) = (texts(&df, "id")?, times(&df, "opened_ts")?);
        let (acknowledged, resolved) = (times(&df, "acknowledged_ts")?, times(&df, "resolved_ts")?);
        // A tracker's own correlation with a deployment (PagerDuty's related change events) traces
        // the incident to its cause as much as a cause named by hand.
        let causes = [
            texts(&df, "caused_by_deployment_id")?,
            texts(&df, "caused_by_change_id")?,
            texts(&df, "caused_by_sha")?,
            texts(&df, "tracker_deployment_id")?,
        ];
        let detected_by = texts(&df, "detected_by")?;
        let (severity, priority) = (texts(&df, "severity")?, texts(&df, "priority")?);
        let review_urls = texts(&df, "review_url")?;
        let reviews = reviewed_incidents(input, scope)?;
        let mut out = Incidents {
            ids: vec![],
            opened: vec![],
            acknowledged: vec![],
            resolved: vec![],
            cause_named: vec![],
            detected_by: vec![],
            major: vec![],
            reviewed: vec![],
        };
        for i in 0..df.height() {
            let Some(t) = opened[i].filter(|&t| scope.contains(Some(t))) else { continue };
            out.ids.push(ids[i].clone().unwrap_or_default());
            out.opened.push(t);
            out.acknowledged.push(acknowledged[i]);
            out.resolved.push(resolved[i]);
            out.cause_named.push(causes.iter().any(|c| c[i].is_some()));
            out.detected_by.push(detected_by[i].clone());
            out.major.push(major_level(&[&severity[i], &priority[i]]));
            let id = ids[i].as_deref().unwrap_or_default();
            out.reviewed.push(review_urls[i].is_some() || reviews.contains(id));
        }
        Ok(out)
    }

    fn none(&self, indicator: &str) -> Option<Measurement> {
        self.ids.is_empty().then(|| Measurement::unknown(indicator, "no incident was opened in the period"))
    }

    /// Median hours of `end − opened` over the incidents that record `end`.
    fn span(&self, indicator: &str, ends: &[Option<i64>], what: &str) -> Measurement {
        if let Some(m) = self.none(indicator) {
            return m;
        }
        let mut spans = Vec::new();
        let mut records = Vec::new();
        for (i, end) in ends.iter().enumerate() {
            if let Some(end) = end {
                spans.push((end - self.opened[i]).max(0) as f64);
                records.push(self.ids[i].clone());
            }
        }
        let Some(mid) = median(spans) else {
            return Measurement::unknown(
                indicator,
                format!("none of the {} incidents records when it was {what}", self.ids.len()),
            );
        };
        let detail = format!(
            "{} of {} incidents were {what}; median {} after opening",
            records.len(),
            self.ids.len(),
            duration(mid)
        );
        Measurement::known(indicator, mid / 3_600.0, detail, records)
    }

    fn restore_time(&self) -> Measurement {
        self.span("irr.incident_restore_hours", &self.resolved, "resolved")
    }

    fn major_reviewed(&self) -> Measurement {
        const ID: &str = "irr.major_incidents_reviewed";
        if let Some(m) = self.none(ID) {
            return m;
        }
        if self.major.iter().all(Option::is_none) {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} incidents records a severity or priority, so which are major cannot be told",
                    self.ids.len()
                ),
            );
        }
        let majors: Vec<usize> = (0..self.ids.len()).filter(|&i| self.major[i] == Some(true)).collect();
        if majors.is_empty() {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} incidents is major (severity or priority in the top two levels)",
                    self.ids.len()
                ),
            );
        }
        let reviewed = majors.iter().filter(|&&i| self.reviewed[i]).count();
        // Not one review linked: the source most likely records none (a tracker's link, an
        // import's `review_url`), and reviews kept in a wiki are no evidence either way.
        if reviewed == 0 {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} major incidents links a post-incident review: the source may not record them (a Jira link, `review_url` in an import)",
                    majors.len()
                ),
            );
        }
        let detail = format!("{reviewed} of {} major incidents link a post-incident review", majors.len());
        Measurement::known(
            ID,
            share(reviewed, majors.len()),
            detail,
            majors.iter().map(|&i| self.ids[i].clone()).collect(),
        )
    }

    fn acknowledge_time(&self) -> Measurement {
        self.span("pfn.acknowledge_hours", &self.acknowledged, "acknowledged")
    }

    fn opened_by_monitoring(&self) -> Measurement {
        const ID: &str = "pfn.incidents_opened_by_monitoring";
        if let Some(m) = self.none(ID) {
            return m;
        }
        let told: Vec<usize> = (0..self.ids.len()).filter(|&i| self.detected_by[i].is_some()).collect();
        // Only a tracker that records who opened an incident (PagerDuty, Jira, an import's
        // `detected_by`) can tell: incidents it does not describe are left out, not counted as people.
        if told.is_empty() {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} incidents records who or what opened it (a monitor or a person): collect a tracker that does, or import `detected_by`",
                    self.ids.len()
                ),
            );
        }
        let by_monitoring = told.iter().filter(|&&i| self.detected_by[i].as_deref() == Some("monitoring")).count();
        let detail = format!(
            "{by_monitoring} of {} incidents that record who opened them were opened by monitoring",
            told.len()
        );
        Measurement::known(
            ID,
            share(by_monitoring, told.len()),
            detail,
            told.iter().map(|&i| self.ids[i].clone()).collect(),
        )
    }

    fn detection_delay(&self) -> Measurement {
        const ID: &str = "pfn.detection_delay_hours";
        self.none(ID).unwrap_or_else(|| {
            Measurement::unknown(
                ID,
                "the incidents table records when an incident was opened, not when the failure began, so the delay before detection cannot be measured",
            )
        })
    }

    fn cause_recorded(&self) -> Measurement {
        const ID: &str = "mo.incident_cause_recorded";
        if let Some(m) = self.none(ID) {
            return m;
        }
        let named = self.cause_named.iter().filter(|&&n| n).count();
        // Not one cause named: the source most likely records none (many trackers have no field
        // for it), and some incidents have no change behind them at all — no evidence either way.
        if named == 0 {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} incidents names a deployment, change or commit: the source may not record causes (`caused_by_*` in an import)",
                    self.ids.len()
                ),
            );
        }
        let detail =
            format!("{named} of {} incidents name the deployment, change or commit that caused them", self.ids.len());
        Measurement::known(ID, share(named, self.ids.len()), detail, self.ids.clone())
    }
}
