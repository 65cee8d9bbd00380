//! Indicators from changes, pipelines and their jobs: how work flows into the trunk — branch life,
//! size, review, the pipeline before merge, a red main — and what the pipelines run (tests, manual
//! jobs, retries, migrations, security scans).

use std::collections::{HashMap, HashSet};

use super::{
    EvidenceInput, Measurement, Scope, counted, duration, examples, median, rows_where, service_rows, share, table,
    texts, times, words,
};
use crate::error::Result;
use crate::metrics::prepare;

pub(super) fn measure(input: &EvidenceInput, scope: &Scope) -> Result<Vec<Measurement>> {
    let changes = Changes::load(input, scope)?;
    let pipelines = Pipelines::load(input, scope)?;
    let jobs = JobFacts::load(input, &pipelines)?;
    Ok(vec![
        pipeline_before_merge(input, &changes, &pipelines)?,
        main_red(&changes, &pipelines, scope),
        changes.merged_within_day(),
        changes.branch_life(),
        changes.review_time(),
        changes.size(),
        changes.dependency_updates(),
        jobs.share_with("ta.test_jobs", &pipelines, |f| f.tests, "ran a test job"),
        retried(&pipelines, &jobs),
        jobs.share_with("da.manual_jobs", &pipelines, |f| f.manual, "had a manual job"),
        // A service without a database runs no migration: only finding one is evidence.
        super::repository::may_not_apply(named_step(
            &pipelines,
            &jobs,
            "db.migrations_in_pipeline",
            |f| f.migration,
            is_migration,
            "a migration step",
        )),
        named_step(&pipelines, &jobs, "sec.scanning_jobs", |f| f.security, is_security, "a security scan"),
    ])
}

/// The service's changes, any time; `merged` indexes those merged in the period.
struct Changes {
    ids: Vec<String>,
    author: Vec<Option<String>>,
    created: Vec<Option<i64>>,
    first_commit: Vec<Option<i64>>,
    approved: Vec<Option<i64>>,
    merged_at: Vec<Option<i64>>,
    base_branch: Vec<Option<String>>,
    head_branch: Vec<Option<String>>,
    merge_sha: Vec<Option<String>>,
    lines: Vec<Option<i64>>,
    merged: Vec<usize>,
}

impl Changes {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Changes> {
        let df = service_rows(input, "changes", scope.service)?;
        let additions = prepare::ints(&df, "additions")?;
        let deletions = prepare::ints(&df, "deletions")?;
        let lines = additions
            .iter()
            .zip(deletions.iter())
            .map(|(a, d)| match (a, d) {
                (None, None) => None,
                (a, d) => Some(a.unwrap_or(0) + d.unwrap_or(0)),
            })
            .collect();
        let merged_at = times(&df, "merged_ts")?;
        let merged = (0..df.height()).filter(|&i| scope.contains(merged_at[i])).collect();
        Ok(Changes {
            ids: texts(&df, "id")?.into_iter().map(Option::unwrap_or_default).collect(),
            author: texts(&df, "author")?,
            created: times(&df, "created_ts")?,
            first_commit: times(&df, "first_commit_ts")?,
            approved: times(&df, "approved_ts")?,
            merged_at,
            base_branch: texts(&df, "base_branch")?,
            head_branch: texts(&df, "head_branch")?,
            merge_sha: texts(&df, "merge_commit_sha")?,
            lines,
            merged,
        })
    }

    fn none_merged(&self, indicator: &str) -> Option<Measurement> {
        self.merged.is_empty().then(|| Measurement::unknown(indicator, "no change was merged in the period"))
    }

    /// Over the changes merged in the period that record `value`: the values and their ids.
    fn known_values(&self, value: impl Fn(usize) -> Option<f64>) -> (Vec<f64>, Vec<String>) {
        self.merged.iter().filter_map(|&i| value(i).map(|v| (v, self.ids[i].clone()))).unzip()
    }

    fn merged_seconds_after(&self, start: &[Option<i64>], i: usize) -> Option<f64> {
        Some((self.merged_at[i]? - start[i]?).max(0) as f64)
    }

    fn merged_within_day(&self) -> Measurement {
        const ID: &str = "tbd.merged_within_day";
        if let Some(m) = self.none_merged(ID) {
            return m;
        }
        let (open, records) = self.known_values(|i| self.merged_seconds_after(&self.created, i));
        if open.is_empty() {
            return Measurement::unknown(
                ID,
                format!(
                    "none of the {} merged changes records when it was opened (git cannot tell)",
                    self.merged.len()
                ),
            );
        }
        let quick = open.iter().filter(|&&s| s <= 86_400.0).count();
        let detail = format!("{quick} of {} merged changes were merged within a day of opening", open.len());
        Measurement::known(ID, share(quick, open.len()), detail, records)
    }

    /// First commit (or, without one, the opening) to merge.
    fn branch_life(&self) -> Measurement {
        const ID: &str = "tbd.median_branch_life_hours";
        if let Some(m) = self.none_merged(ID) {
            return m;
        }
        let (life, records) = self.known_values(|i| {
            let start = self.first_commit[i].or(self.created[i]);
            Some((self.merged_at[i]? - start?).max(0) as f64)
        });
        let Some(mid) = median(life) else {
            return Measurement::unknown(ID, "no merged change records its first commit or its opening");
        };
        let detail = format!(
            "{} a median {} from first commit to merge",
            counted(records.len(), "merged change lived", "merged changes lived"),
            duration(mid)
        );
        Measurement::known(ID, mid / 3_600.0, detail, records)
    }

    fn review_time(&self) -> Measurement {
        const ID: &str = "sca.review_hours";
        if let Some(m) = self.none_merged(ID) {
            return m;
        }
        let (waits, records) = self.known_values(|i| Some((self.approved[i]? - self.created[i]?).max(0) as f64));
        let Some(mid) = median(waits) else {
            return Measurement::unknown(ID, "no merged change records both its opening and its approval");
        };
        let detail = format!(
            "{} a median {} from opening to approval",
            counted(records.len(), "approved change waited", "approved changes waited"),
            duration(mid)
        );
        Measurement::known(ID, mid / 3_600.0, detail, records)
    }

    fn size(&self) -> Measurement {
        const ID: &str = "sb.median_change_lines";
        if let Some(m) = self.none_merged(ID) {
            return m;
        }
        let (lines, records) = self.known_values(|i| self.lines[i].map(|n| n as f64));
        let Some(mid) = median(lines) else {
            return Measurement::unknown(
                ID,
                "no merged change records the lines it changed (git leaves additions and deletions empty)",
            );
        };
        let detail = format!(
            "{} a median {mid} lines (added + deleted)",
            counted(records.len(), "merged change changed", "merged changes changed")
        );
        Measurement::known(ID, mid, detail, records)
    }

    /// Whether a dependency-update bot's change was merged in the period.
    fn dependency_updates(&self) -> Measurement {
        const ID: &str = "sec.dependency_updates";
        if let Some(m) = self.none_merged(ID) {
            return m;
        }
        let authored: Vec<usize> = self.merged.iter().copied().filter(|&i| self.author[i].is_some()).collect();
        if authored.is_empty() {
            return Measurement::unknown(ID, "no merged change of the period records its author");
        }
        let bots: Vec<&str> = authored
            .iter()
            .filter(|&&i| self.author[i].as_deref().is_some_and(is_update_bot))
            .map(|&i| self.ids[i].as_str())
            .collect();
        let detail = if bots.is_empty() {
            format!(
                "none of {} merged changes came from a dependency-update bot (Dependabot, Renovate, …)",
                authored.len()
            )
        } else {
            format!(
                "{} of {} merged changes came from a dependency-update bot: {}",
                bots.len(),
                authored.len(),
                examples(bots.iter().copied())
            )
        };
        let records = bots.iter().map(|s| s.to_string()).collect();
        Measurement::presence(ID, !bots.is_empty(), detail, records).examined(authored.len())
    }

    /// The branch changes are merged into most often: the trunk.
    fn default_branch(&self) -> Option<String> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (i, branch) in self.base_branch.iter().enumerate() {
            if let Some(b) = branch
                && self.merged_at[i].is_some()
            {
                *counts.entry(b.as_str()).or_default() += 1;
            }
        }
        counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0))).map(|(b, _)| b.to_string())
    }
}

fn is_update_bot(author: &str) -> bool {
    let author = author.to_ascii_lowercase();
    ["dependabot", "renovate", "snyk-bot", "pyup-bot", "depfu", "greenkeeper", "mend-bolt"]
        .iter()
        .any(|b| author.contains(b))
}

/// The pipelines of the service: named by it, or, when they name no service, run in one of its
/// repositories.
struct Pipelines {
    ids: Vec<String>,
    name: Vec<Option<String>>,
    sha: Vec<Option<String>>,
    git_ref: Vec<Option<String>>,
    status: Vec<String>,
    /// When it finished, else started, else was queued.
    at: Vec<Option<i64>>,
    attempt: Vec<Option<i64>>,
    /// Indexes of the pipelines of the period.
    in_period: Vec<usize>,
}

impl Pipelines {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Pipelines> {
        let all = table(input, "pipelines")?;
        let (services, repos) = (prepare::strs(all, "service")?, prepare::strs(all, "repo")?);
        let df = rows_where(all, |i| match services.get(i) {
            Some(s) => s == scope.service,
            None => scope.owns_repo(repos.get(i)),
        })?;
        let (finished, started, queued) =
            (times(&df, "finished_ts")?, times(&df, "started_ts")?, times(&df, "queued_ts")?);
        let at: Vec<Option<i64>> = (0..df.height()).map(|i| finished[i].or(started[i]).or(queued[i])).collect();
        let in_period = (0..df.height()).filter(|&i| scope.contains(at[i])).collect();
        Ok(Pipelines {
            ids: texts(&df, "id")?.into_iter().map(Option::unwrap_or_default).collect(),
            name: texts(&df, "name")?,
            sha: texts(&df, "sha")?,
            git_ref: texts(&df, "ref")?,
            status: texts(&df, "status")?.into_iter().map(Option::unwrap_or_default).collect(),
            at,
            attempt: prepare::ints(&df, "attempt")?.iter().collect(),
            in_period,
        })
    }

    fn none_in_period(&self, indicator: &str) -> Option<Measurement> {
        if self.ids.is_empty() {
            Some(Measurement::unknown(indicator, "no pipeline of this service was collected"))
        } else if self.in_period.is_empty() {
            Some(Measurement::unknown(indicator, "no pipeline of this service ran in the period"))
        } else {
            None
        }
    }
}

/// Share of the changes merged in the period with a successful pipeline before the merge: on one
/// of the change's commits, or on its source branch between its first commit and its merge.
fn pipeline_before_merge(input: &EvidenceInput, changes: &Changes, pipelines: &Pipelines) -> Result<Measurement> {
    const ID: &str = "ci.pipeline_before_merge";
    if pipelines.ids.is_empty() {
        return Ok(Measurement::unknown(ID, "no pipeline of this service was collected"));
    }
    if let Some(m) = changes.none_merged(ID) {
        return Ok(m);
    }
    // Pipelines that name no commit and run only on the branches changes merge into (release or
    // nightly pipelines, as an export of them alone holds) cannot show a check before a merge: that
    // none ran would be a guess.
    let targets: HashSet<&str> = changes.base_branch.iter().flatten().map(String::as_str).collect();
    let before_merge_visible = (0..pipelines.ids.len())
        .any(|i| pipelines.sha[i].is_some() || pipelines.git_ref[i].as_deref().is_some_and(|r| !targets.contains(r)));
    if !before_merge_visible {
        return Ok(Measurement::unknown(
            ID,
            "the service's pipelines name no commit and run only on the branches its changes merge into, so they cannot show a pipeline before a merge",
        ));
    }
    let mut first_success_by_sha: HashMap<String, i64> = HashMap::new();
    let mut successes_by_ref: HashMap<&str, Vec<i64>> = HashMap::new();
    for i in 0..pipelines.ids.len() {
        let Some(at) = pipelines.at[i].filter(|_| pipelines.status[i] == "success") else { continue };
        if let Some(sha) = &pipelines.sha[i] {
            let first = first_success_by_sha.entry(sha.to_ascii_lowercase()).or_insert(at);
            *first = (*first).min(at);
        }
        if let Some(r) = &pipelines.git_ref[i] {
            successes_by_ref.entry(r.as_str()).or_default().push(at);
        }
    }
    for list in successes_by_ref.values_mut() {
        list.sort_unstable();
    }
    // Before the earliest pipeline collected, the data cannot tell whether one ran.
    let earliest = pipelines.at.iter().flatten().min().copied().unwrap_or(i64::MAX);
    let judged: Vec<usize> =
        changes.merged.iter().copied().filter(|&i| changes.merged_at[i].is_some_and(|t| t >= earliest)).collect();
    if judged.is_empty() {
        return Ok(Measurement::unknown(
            ID,
            format!(
                "the {} changes merged in the period were merged before the earliest pipeline collected",
                changes.merged.len()
            ),
        ));
    }
    let shas = change_shas(input, changes)?;
    let mut green = 0;
    for &i in &judged {
        let merged = changes.merged_at[i].expect("merged in the period");
        let by_sha = shas
            .get(changes.ids[i].as_str())
            .into_iter()
            .flatten()
            .any(|sha| first_success_by_sha.get(sha).is_some_and(|&t| t <= merged));
        let start = changes.first_commit[i].or(changes.created[i]).unwrap_or(merged - 30 * 86_400);
        let by_branch = changes.head_branch[i]
            .as_deref()
            .filter(|head| changes.base_branch[i].as_deref() != Some(*head))
            .and_then(|head| successes_by_ref.get(head))
            .is_some_and(|list| {
                let from = list.partition_point(|&t| t < start);
                list.get(from).is_some_and(|&t| t <= merged)
            });
        if by_sha || by_branch {
            green += 1;
        }
    }
    let n = judged.len();
    let mut detail = format!("{green} of {n} merged changes had a successful pipeline before they were merged");
    if n < changes.merged.len() {
        let before = changes.merged.len() - n;
        detail.push_str(&format!("; {before} merged before the earliest pipeline collected are not judged"));
    }
    let records = judged.iter().map(|&i| changes.ids[i].clone()).collect();
    Ok(Measurement::known(ID, share(green, n), detail, records))
}

/// Each merged change of the period → its commits (`change_commits` and its merge commit), lower case.
fn change_shas<'c>(input: &EvidenceInput, changes: &'c Changes) -> Result<HashMap<&'c str, Vec<String>>> {
    let mut out: HashMap<&str, Vec<String>> = HashMap::new();
    for &i in &changes.merged {
        let list = out.entry(changes.ids[i].as_str()).or_default();
        if let Some(sha) = &changes.merge_sha[i] {
            list.push(sha.to_ascii_lowercase());
        }
    }
    let df = table(input, "change_commits")?;
    let (ids, shas) = (prepare::strs(df, "change_id")?, prepare::strs(df, "sha")?);
    for (id, sha) in ids.iter().zip(shas.iter()) {
        if let (Some(id), Some(sha)) = (id, sha)
            && let Some(list) = out.get_mut(id)
        {
            list.push(sha.to_ascii_lowercase());
        }
    }
    Ok(out)
}

/// Median time the trunk stayed red: from a failed pipeline on the default branch (after a green
/// one, or the first) to the next successful one, for red spells that began in the period.
fn main_red(changes: &Changes, pipelines: &Pipelines, scope: &Scope) -> Measurement {
    const ID: &str = "ci.main_red_hours";
    if let Some(m) = pipelines.none_in_period(ID) {
        return m;
    }
    let branch = changes.default_branch().or_else(|| {
        ["main", "master"]
            .into_iter()
            .find(|b| pipelines.git_ref.iter().any(|r| r.as_deref() == Some(*b)))
            .map(str::to_string)
    });
    let Some(branch) = branch else {
        return Measurement::unknown(
            ID,
            "the default branch is not known: no merged change names its base branch and no pipeline ran on main or master",
        );
    };
    let mut runs: Vec<(i64, bool, &str)> = (0..pipelines.ids.len())
        .filter(|&i| pipelines.git_ref[i].as_deref() == Some(branch.as_str()))
        .filter(|&i| matches!(pipelines.status[i].as_str(), "success" | "failure"))
        .filter_map(|i| Some((pipelines.at[i]?, pipelines.status[i] == "success", pipelines.ids[i].as_str())))
        .collect();
    runs.sort_unstable();
    let in_period: Vec<String> =
        runs.iter().filter(|(t, _, _)| scope.contains(Some(*t))).map(|(_, _, id)| id.to_string()).collect();
    if in_period.is_empty() {
        return Measurement::unknown(ID, format!("no pipeline on {branch} succeeded or failed in the period"));
    }
    let mut spells = Vec::new();
    let mut red_since: Option<i64> = None;
    for &(t, ok, _) in &runs {
        match (red_since, ok) {
            (None, false) => red_since = Some(t),
            (Some(from), true) => {
                if scope.contains(Some(from)) {
                    spells.push((t - from) as f64);
                }
                red_since = None;
            }
            _ => {}
        }
    }
    let unfixed = red_since.is_some_and(|from| scope.contains(Some(from)));
    let n = in_period.len();
    let spell_count = spells.len();
    match median(spells) {
        Some(mid) => {
            let mut detail = format!(
                "{branch} turned red {} in {}; median {} until the next green pipeline",
                counted(spell_count, "time", "times"),
                counted(n, "pipeline", "pipelines"),
                duration(mid)
            );
            if unfixed {
                detail.push_str("; it is still red at the end of the data");
            }
            Measurement::known(ID, mid / 3_600.0, detail, in_period)
        }
        None if unfixed => Measurement::unknown(
            ID,
            format!("{branch} turned red in the period and no later successful pipeline was collected"),
        ),
        None => Measurement::known(
            ID,
            0.0,
            format!("{branch} never turned red in {}", counted(n, "pipeline", "pipelines")),
            in_period,
        ),
    }
}

/// Share of the period's pipelines run more than once (a re-run attempt of the pipeline or of one
/// of its jobs): failures retried until green are the mark of flaky tests.
fn retried(pipelines: &Pipelines, jobs: &JobFacts) -> Measurement {
    const ID: &str = "ta.flaky_retries";
    if let Some(m) = pipelines.none_in_period(ID) {
        return m;
    }
    let mut known = Vec::new();
    let mut reruns = 0;
    for &i in &pipelines.in_period {
        let job_attempt = jobs.by_pipeline.get(pipelines.ids[i].as_str()).and_then(|f| f.max_attempt);
        let attempt = match (pipelines.attempt[i], job_attempt) {
            (None, None) => continue,
            (a, b) => a.unwrap_or(1).max(b.unwrap_or(1)),
        };
        if attempt > 1 {
            reruns += 1;
        }
        known.push(pipelines.ids[i].clone());
    }
    if known.is_empty() {
        return Measurement::unknown(ID, "no pipeline of the period records its attempt number");
    }
    let detail = format!("{reruns} of {} pipelines were re-run", known.len());
    Measurement::known(ID, share(reruns, known.len()), detail, known)
}

/// What the jobs of each pipeline of the period show.
#[derive(Default)]
struct Facts {
    tests: bool,
    manual: bool,
    migration: bool,
    security: bool,
    max_attempt: Option<i64>,
}

struct JobFacts {
    by_pipeline: HashMap<String, Facts>,
}

impl JobFacts {
    fn load(input: &EvidenceInput, pipelines: &Pipelines) -> Result<JobFacts> {
        let wanted: HashSet<&str> = pipelines.in_period.iter().map(|&i| pipelines.ids[i].as_str()).collect();
        let df = table(input, "jobs")?;
        let (pipeline, name, stage) =
            (prepare::strs(df, "pipeline_id")?, prepare::strs(df, "name")?, prepare::strs(df, "stage")?);
        let (manual, attempt) = (prepare::bools(df, "is_manual")?, prepare::ints(df, "attempt")?);
        let mut by_pipeline: HashMap<String, Facts> = HashMap::new();
        for i in 0..df.height() {
            let Some(p) = pipeline.get(i).filter(|p| wanted.contains(p)) else { continue };
            let facts = by_pipeline.entry(p.to_string()).or_default();
            let label = format!("{} {}", name.get(i).unwrap_or(""), stage.get(i).unwrap_or(""));
            facts.tests |= is_test(&label);
            facts.migration |= is_migration(&label);
            facts.security |= is_security(&label);
            facts.manual |= manual.get(i) == Some(true);
            if let Some(a) = attempt.get(i) {
                facts.max_attempt = Some(facts.max_attempt.map_or(a, |m| m.max(a)));
            }
        }
        Ok(JobFacts { by_pipeline })
    }

    /// Share of the period's pipelines with jobs for which `fact` holds.
    fn share_with(&self, indicator: &str, pipelines: &Pipelines, fact: fn(&Facts) -> bool, what: &str) -> Measurement {
        if let Some(m) = pipelines.none_in_period(indicator) {
            return m;
        }
        let with_jobs: Vec<usize> =
            pipelines.in_period.iter().copied().filter(|&i| self.by_pipeline.contains_key(&pipelines.ids[i])).collect();
        if with_jobs.is_empty() {
            return Measurement::unknown(
                indicator,
                format!("no jobs were collected for the {} pipelines of the period", pipelines.in_period.len()),
            );
        }
        let hits = with_jobs.iter().filter(|&&i| fact(&self.by_pipeline[&pipelines.ids[i]])).count();
        let detail = format!("{hits} of {} pipelines with recorded jobs {what}", with_jobs.len());
        let records = with_jobs.iter().map(|&i| pipelines.ids[i].clone()).collect();
        Measurement::known(indicator, share(hits, with_jobs.len()), detail, records)
    }
}

/// Whether any pipeline of the period, by its own name or one of its jobs, ran a kind of step.
fn named_step(
    pipelines: &Pipelines,
    jobs: &JobFacts,
    indicator: &str,
    fact: fn(&Facts) -> bool,
    named: fn(&str) -> bool,
    what: &str,
) -> Measurement {
    if let Some(m) = pipelines.none_in_period(indicator) {
        return m;
    }
    let hits: Vec<String> = pipelines
        .in_period
        .iter()
        .filter(|&&i| {
            pipelines.name[i].as_deref().is_some_and(named)
                || jobs.by_pipeline.get(pipelines.ids[i].as_str()).is_some_and(fact)
        })
        .map(|&i| pipelines.ids[i].clone())
        .collect();
    let n = pipelines.in_period.len();
    let detail = if hits.is_empty() {
        format!("none of {n} pipelines ran {what} (by pipeline or job name)")
    } else {
        format!("{} of {n} pipelines ran {what}: {}", hits.len(), examples(hits.iter().map(String::as_str)))
    };
    Measurement::presence(indicator, !hits.is_empty(), detail, hits).examined(n)
}

fn is_test(label: &str) -> bool {
    const NAMES: [&str; 14] = [
        "spec",
        "specs",
        "unit",
        "unittest",
        "integration",
        "e2e",
        "pytest",
        "jest",
        "rspec",
        "junit",
        "vitest",
        "mocha",
        "cypress",
        "playwright",
    ];
    words(label).any(|w| w.starts_with("test") || NAMES.contains(&w.as_str()))
}

fn is_migration(label: &str) -> bool {
    words(label).any(|w| w.starts_with("migrat") || matches!(w.as_str(), "flyway" | "liquibase" | "alembic"))
}

fn is_security(label: &str) -> bool {
    const NAMES: [&str; 21] = [
        "codeql",
        "snyk",
        "trivy",
        "semgrep",
        "sonar",
        "sonarqube",
        "sonarcloud",
        "gitleaks",
        "trufflehog",
        "grype",
        "bandit",
        "brakeman",
        "sast",
        "dast",
        "security",
        "audit",
        "owasp",
        "zap",
        "scorecard",
        "dependabot",
        "checkov",
    ];
    words(label).any(|w| NAMES.contains(&w.as_str()))
}
