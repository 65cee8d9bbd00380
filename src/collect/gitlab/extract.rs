//! Raw GitLab pages → rows of the domain tables, with no network and no clock.
//!
//! Kept apart from fetching so that the rows can always be rebuilt from the raw pages kept in the
//! workspace (`flowgauge collect gitlab --offline`), and so that a user's bug can be reproduced from
//! their pages alone. Every function here is pure: the same pages give the same rows.
//!
//! The GraphQL merge-request page is read through serde structs of its documented shape (a page
//! that does not have it is refused before it reaches the raw layer); REST pages are read field by
//! field, because GitLab adds fields across versions and tiers and a missing one must only leave a
//! cell empty.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::client::time as jtime;
use crate::collect::github::extract::Extracted;
use crate::config::Service;
use crate::error::{Error, Result};
use crate::model::{self, Value};

/// What merge requests' commits feed (as for GitHub's pull requests).
pub use crate::collect::github::extract::{COMMITS_AFFECT, REVIEWS_AFFECT, SHIPPED_AFFECT, Truncated};

/// What a page says about the listing it belongs to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageMeta {
    /// The newest `updated_at` on the page.
    pub newest: Option<DateTime<Utc>>,
    /// Items on the page.
    pub items: u64,
    pub has_next: bool,
    pub end_cursor: Option<String>,
    /// How many the listing holds, when GitLab says (`count`).
    pub total: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Merge requests (GraphQL)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct MergeRequestPage {
    pub data: Option<MrData>,
}

#[derive(Debug, Deserialize)]
pub struct MrData {
    pub project: Option<MrProject>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MrProject {
    #[serde(default)]
    pub merge_requests: Option<Connection<MergeRequest>>,
    /// The one merge request of an overflow page (its further commits or notes).
    #[serde(default)]
    pub merge_request: Option<MergeRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
    #[serde(default = "Vec::new")]
    pub nodes: Vec<Option<T>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub username: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeRequest {
    /// GitLab's GraphQL sends the iid as a string.
    pub iid: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub source_branch: Option<String>,
    #[serde(default)]
    pub target_branch: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub squash_commit_sha: Option<String>,
    #[serde(default)]
    pub author: Option<User>,
    #[serde(default)]
    pub labels: Option<Connection<Label>>,
    #[serde(default)]
    pub diff_stats_summary: Option<DiffStats>,
    #[serde(default)]
    pub commits: Option<Connection<MrCommit>>,
    #[serde(default)]
    pub notes: Option<Connection<Note>>,
    #[serde(default)]
    pub approved_by: Option<Connection<User>>,
}

#[derive(Debug, Deserialize)]
pub struct Label {
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffStats {
    pub additions: Option<i64>,
    pub deletions: Option<i64>,
    pub file_count: Option<i64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MrCommit {
    pub sha: String,
    #[serde(default)]
    pub authored_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub committed_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub author_name: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// A global id, `gid://gitlab/Note/123`.
    pub id: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub system: bool,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub author: Option<NoteAuthor>,
}

#[derive(Debug, Deserialize, Clone)]
pub struct NoteAuthor {
    pub username: Option<String>,
}

/// Parses one GraphQL page of merge requests, or an overflow page of one merge request.
pub fn parse_merge_requests(body: &str, project: &str) -> Result<MergeRequestPage> {
    serde_json::from_str(body).map_err(|e| Error::Gitlab {
        project: project.to_string(),
        message: format!("a merge-request page does not have the documented shape: {e}"),
    })
}

impl MergeRequestPage {
    pub fn connection(&self) -> Option<&Connection<MergeRequest>> {
        self.data.as_ref()?.project.as_ref()?.merge_requests.as_ref()
    }

    fn single(&self) -> Option<&MergeRequest> {
        self.data.as_ref()?.project.as_ref()?.merge_request.as_ref()
    }

    pub fn meta(&self) -> PageMeta {
        let Some(connection) = self.connection() else { return PageMeta::default() };
        let info = connection.page_info.as_ref();
        PageMeta {
            newest: connection.nodes.iter().flatten().filter_map(|m| m.updated_at).max(),
            items: connection.nodes.iter().flatten().count() as u64,
            has_next: info.is_some_and(|i| i.has_next_page),
            end_cursor: info.and_then(|i| i.end_cursor.clone()),
            total: connection.count,
        }
    }
}

/// A nested listing of one merge request that did not fit its page: which and where to go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Overflowing {
    pub iid: String,
    /// `commits` or `notes`.
    pub listing: &'static str,
    pub after: Option<String>,
}

/// The nested listings of a page (merge requests, or one merge request's overflow page) that go
/// on past it.
pub fn overflowing(page: &MergeRequestPage) -> Vec<Overflowing> {
    let mrs: Vec<&MergeRequest> = match (page.connection(), page.single()) {
        (Some(c), _) => c.nodes.iter().flatten().collect(),
        (None, Some(m)) => vec![m],
        (None, None) => Vec::new(),
    };
    let mut out = Vec::new();
    for mr in mrs {
        let more = |info: Option<&PageInfo>| info.filter(|i| i.has_next_page).map(|i| i.end_cursor.clone());
        if let Some(after) = more(mr.commits.as_ref().and_then(|c| c.page_info.as_ref())) {
            out.push(Overflowing { iid: mr.iid.clone(), listing: "commits", after });
        }
        if let Some(after) = more(mr.notes.as_ref().and_then(|c| c.page_info.as_ref())) {
            out.push(Overflowing { iid: mr.iid.clone(), listing: "notes", after });
        }
    }
    out
}

/// The commits and notes of merge requests read from overflow pages, by iid.
#[derive(Debug, Default)]
pub struct Overflow {
    pub commits: BTreeMap<String, Vec<MrCommit>>,
    pub notes: BTreeMap<String, Vec<Note>>,
}

impl Overflow {
    /// Adds the commits and notes of one overflow page.
    pub fn add(&mut self, page: &MergeRequestPage) {
        let Some(mr) = page.single() else { return };
        if let Some(c) = &mr.commits {
            self.commits.entry(mr.iid.clone()).or_default().extend(c.nodes.iter().flatten().cloned());
        }
        if let Some(n) = &mr.notes {
            self.notes.entry(mr.iid.clone()).or_default().extend(n.nodes.iter().flatten().cloned());
        }
    }
}

/// The change id of a merge request: `gitlab:mr:group/name!12`.
pub fn change_id(project: &str, iid: &str) -> String {
    format!("gitlab:mr:{project}!{iid}")
}

/// The numeric part of a GraphQL global id (`gid://gitlab/Note/123` → `123`).
fn gid_number(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

/// A GitLab bot user: project and group access tokens' bots (`project_123_bot_…`,
/// `group_9_bot_…`) and the GitLab Bot (`gitlab-bot`).
fn is_bot(username: &str) -> bool {
    (username.starts_with("project_") || username.starts_with("group_")) && username.contains("_bot")
        || username == "gitlab-bot"
        || username.ends_with("-bot")
}

/// What a system note says happened, by its documented text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEvent {
    Approved,
    Unapproved,
    /// `marked this merge request as **ready**`: the end of draft time.
    MarkedReady,
    Other,
}

pub fn system_event(body: &str) -> SystemEvent {
    let body = body.trim().to_ascii_lowercase();
    if body.starts_with("approved this merge request") {
        SystemEvent::Approved
    } else if body.starts_with("unapproved this merge request") {
        SystemEvent::Unapproved
    } else if body.starts_with("marked this merge request as **ready**")
        || body.starts_with("marked this merge request as ready")
    {
        SystemEvent::MarkedReady
    } else {
        SystemEvent::Other
    }
}

/// Rows of one page of merge requests of `project`, with the commits and notes its overflow pages
/// added, belonging to `service`.
///
/// - `changes`: one row per merge request (merged, closed, open; drafts too). Its merge and squash
///   commits are both in `change_commits`, so whichever reached the default branch links the
///   change to the deployment that shipped it.
/// - `reviews`: approvals (from the system notes "approved this merge request", which carry the
///   time REST approvals lack) and comments by people other than the author (the first response).
/// - `commits`: the merge request's commits with their authored and committed times.
pub fn merge_request_rows(
    page: &MergeRequestPage,
    overflow: &Overflow,
    project: &str,
    service: &Service,
    out: &mut Extracted,
) {
    let Some(connection) = page.connection() else { return };
    for mr in connection.nodes.iter().flatten() {
        merge_request(mr, overflow, project, service, out);
    }
}

fn merge_request(mr: &MergeRequest, overflow: &Overflow, project: &str, service: &Service, out: &mut Extracted) {
    let id = change_id(project, &mr.iid);
    let author = mr.author.as_ref().and_then(|a| a.username.clone());
    let someone_else = |who: Option<&str>| match (who, author.as_deref()) {
        (Some(w), Some(a)) => w != a && !is_bot(w),
        (Some(w), None) => !is_bot(w),
        (None, _) => false,
    };

    // Commits: the first page's and the overflow pages', each sha once.
    let mut shas = BTreeSet::new();
    let mut first_commit_at: Option<DateTime<Utc>> = None;
    let listed = mr.commits.as_ref().map(|c| c.nodes.iter().flatten().collect::<Vec<_>>()).unwrap_or_default();
    let extra = overflow.commits.get(&mr.iid).map(|v| v.iter().collect::<Vec<_>>()).unwrap_or_default();
    for commit in listed.into_iter().chain(extra) {
        if !shas.insert(commit.sha.to_ascii_lowercase()) {
            continue;
        }
        push(
            out,
            &model::CHANGE_COMMITS,
            model::CHANGE_COMMITS
                .row([("change_id", Value::Text(id.clone())), ("sha", Value::Text(commit.sha.to_ascii_lowercase()))]),
        );
        push(
            out,
            &model::COMMITS,
            model::COMMITS.row([
                ("repo", Value::Text(project.to_string())),
                ("sha", Value::Text(commit.sha.to_ascii_lowercase())),
                ("author", opt_text(&commit.author_name)),
                ("authored_at", opt_time(commit.authored_date)),
                ("committed_at", opt_time(commit.committed_date)),
            ]),
        );
        if let Some(at) = commit.authored_date {
            first_commit_at = Some(first_commit_at.map_or(at, |f| f.min(at)));
        }
    }
    if let Some(total) = mr.commits.as_ref().and_then(|c| c.count).filter(|n| *n > shas.len() as u64) {
        out.truncated.push(Truncated {
            item: id.clone(),
            detail: format!("{id}: {total} commits, {} read", shas.len()),
            affects: COMMITS_AFFECT,
        });
    }
    // The merge and squash commits on the target branch link the change to what shipped it.
    for sha in [&mr.merge_commit_sha, &mr.squash_commit_sha].into_iter().flatten() {
        let sha = sha.to_ascii_lowercase();
        if shas.insert(sha.clone()) {
            push(
                out,
                &model::CHANGE_COMMITS,
                model::CHANGE_COMMITS.row([("change_id", Value::Text(id.clone())), ("sha", Value::Text(sha))]),
            );
        }
    }

    // Notes: approvals and first responses, in time order, each note once.
    let mut notes: Vec<&Note> = mr.notes.as_ref().map(|n| n.nodes.iter().flatten().collect()).unwrap_or_default();
    notes.extend(overflow.notes.get(&mr.iid).into_iter().flatten());
    notes.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    notes.dedup_by(|a, b| a.id == b.id);
    let mut first_response: Option<DateTime<Utc>> = None;
    let mut approved_at: Option<DateTime<Utc>> = None;
    for note in &notes {
        let who = note.author.as_ref().and_then(|a| a.username.as_deref());
        let state = match (note.system, system_event(note.body.as_deref().unwrap_or(""))) {
            (true, SystemEvent::Approved) => "approved",
            (true, SystemEvent::Unapproved) => "dismissed",
            (true, _) => continue,
            (false, _) => "commented",
        };
        push(
            out,
            &model::REVIEWS,
            model::REVIEWS.row([
                ("id", Value::Text(format!("gitlab:note:{project}!{}:{}", mr.iid, gid_number(&note.id)))),
                ("change_id", Value::Text(id.clone())),
                ("reviewer", who.map_or(Value::Null, |w| Value::Text(w.to_string()))),
                ("state", Value::Text(state.into())),
                ("submitted_at", Value::Time(note.created_at)),
            ]),
        );
        if someone_else(who) && state != "dismissed" {
            first_response = Some(first_response.map_or(note.created_at, |f| f.min(note.created_at)));
            if state == "approved" {
                approved_at = Some(approved_at.map_or(note.created_at, |f| f.min(note.created_at)));
            }
        }
    }
    if let Some(total) = mr.notes.as_ref().and_then(|n| n.count).filter(|n| *n > notes.len() as u64) {
        out.truncated.push(Truncated {
            item: id.clone(),
            detail: format!("{id}: {total} notes, {} read", notes.len()),
            affects: REVIEWS_AFFECT,
        });
    }

    let labels: Vec<&str> =
        mr.labels.as_ref().map(|l| l.nodes.iter().flatten().map(|l| l.title.as_str()).collect()).unwrap_or_default();
    let title = mr.title.clone().unwrap_or_default();
    let reverted = mr
        .description
        .as_deref()
        .and_then(|d| super::references::reverted_merge_request(d, project))
        .map(|iid| change_id(project, &iid.to_string()));
    let is_revert = reverted.is_some() || title.starts_with("Revert \"");
    let merged_at = mr.merged_at.filter(|_| mr.state.as_deref() == Some("merged"));
    let closed_at = mr.closed_at.or(merged_at);
    let stats = mr.diff_stats_summary.as_ref();
    push(
        out,
        &model::CHANGES,
        model::CHANGES.row([
            ("id", Value::Text(id.clone())),
            ("source", Value::Text("gitlab".into())),
            ("repo", Value::Text(project.to_string())),
            ("service", Value::Text(service.name.clone())),
            ("number", mr.iid.parse::<i64>().map_or(Value::Null, Value::Int)),
            ("title", Value::Text(title)),
            ("author", opt_text(&author)),
            ("created_at", opt_time(mr.created_at)),
            ("first_commit_at", opt_time(first_commit_at)),
            ("first_review_at", opt_time(first_response)),
            ("approved_at", opt_time(approved_at)),
            ("merged_at", opt_time(merged_at)),
            ("closed_at", opt_time(closed_at)),
            ("base_branch", opt_text(&mr.target_branch)),
            ("head_branch", opt_text(&mr.source_branch)),
            ("merge_commit_sha", opt_text(&mr.squash_commit_sha.clone().or(mr.merge_commit_sha.clone()))),
            ("additions", stats.and_then(|s| s.additions).map_or(Value::Null, Value::Int)),
            ("deletions", stats.and_then(|s| s.deletions).map_or(Value::Null, Value::Int)),
            ("files_changed", stats.and_then(|s| s.file_count).map_or(Value::Null, Value::Int)),
            ("is_revert", Value::Bool(is_revert)),
            ("reverts_change_id", reverted.map_or(Value::Null, Value::Text)),
            ("labels", Value::Text(labels.join(","))),
        ]),
    );
}

// ---------------------------------------------------------------------------------------------
// Pipelines and jobs (REST)
// ---------------------------------------------------------------------------------------------

/// The pipeline id of `project`'s pipeline `id`.
pub fn pipeline_id(project: &str, id: i64) -> String {
    format!("gitlab:pipeline:{project}:{id}")
}

/// GitLab's pipeline `source` in the `pipelines.trigger` vocabulary: `web` (the Run pipeline
/// button) is `manual`; `api` and `trigger` (a trigger token) are `api`, started by a tool;
/// `merge_request_event` runs for a merge request, like GitHub's `pull_request`; child and
/// downstream pipelines (`parent_pipeline`, `pipeline`) are `other`, attributed to their own rows
/// once and never counted as deployments (deployments come from the Deployments API).
pub fn trigger(source: &str) -> &'static str {
    match source {
        "push" => "push",
        "web" => "manual",
        "api" | "trigger" => "api",
        "schedule" => "schedule",
        "merge_request_event" | "external_pull_request_event" => "pull_request",
        _ => "other",
    }
}

/// GitLab's job, pipeline and deployment statuses in the tables' vocabulary; `None` for what has
/// not finished (`created`, `pending`, `running`, `manual`, `scheduled`, `blocked`, …).
pub fn finished_status(status: &str) -> Option<&'static str> {
    match status {
        "success" => Some("success"),
        "failed" => Some("failure"),
        "canceled" | "canceling" => Some("cancelled"),
        "skipped" => Some("skipped"),
        _ => None,
    }
}

/// Rows of one page of jobs (`/pipelines/:id/jobs?include_retried=true`), for the pipelines they
/// belong to. Retried jobs are listed too: each attempt is its own row, numbered by job id within
/// its pipeline and name.
///
/// A manual job not yet played has `status: manual`; once played, GitLab sets the job's `user` to
/// who pressed play. A job whose user is not the pipeline's (the user of the pipeline's first job)
/// was therefore started by hand by someone else: it is a manual job played by that person.
pub fn job_rows(page: &serde_json::Value, project: &str, out: &mut Extracted) -> Vec<ManualJob> {
    let jobs = page.as_array().cloned().unwrap_or_default();
    let mut by_pipeline: BTreeMap<i64, Vec<&serde_json::Value>> = BTreeMap::new();
    for job in &jobs {
        if let Some(p) = job["pipeline"]["id"].as_i64() {
            by_pipeline.entry(p).or_default().push(job);
        }
    }
    let mut manual = Vec::new();
    for (pipeline, mut jobs) in by_pipeline {
        jobs.sort_by_key(|j| j["id"].as_i64().unwrap_or(0));
        let starter = jobs
            .iter()
            .filter(|j| j["status"].as_str() != Some("manual"))
            .min_by_key(|j| (jtime(&j["created_at"]), j["id"].as_i64()))
            .and_then(|j| j["user"]["username"].as_str());
        let mut attempts: BTreeMap<&str, i64> = BTreeMap::new();
        for job in jobs {
            let Some(id) = job["id"].as_i64() else { continue };
            let name = job["name"].as_str().unwrap_or("");
            let attempt = attempts.entry(name).or_insert(0);
            *attempt += 1;
            let status = job["status"].as_str().unwrap_or("");
            let user = job["user"]["username"].as_str();
            let waiting = status == "manual";
            let played = !waiting && user.is_some() && starter.is_some() && user != starter;
            let started = jtime(&job["started_at"]);
            let queued = match (started, job["queued_duration"].as_f64()) {
                (Some(s), Some(q)) => Some(s - chrono::Duration::milliseconds((q * 1000.0) as i64)),
                _ => jtime(&job["created_at"]),
            };
            push(
                out,
                &model::JOBS,
                model::JOBS.row([
                    ("id", Value::Text(format!("gitlab:job:{project}:{id}"))),
                    ("pipeline_id", Value::Text(pipeline_id(project, pipeline))),
                    ("name", Value::Text(name.to_string())),
                    ("stage", jtext(&job["stage"])),
                    ("status", Value::Text(finished_status(status).unwrap_or("running").into())),
                    ("is_manual", Value::Bool(waiting || played)),
                    (
                        "triggered_by",
                        if waiting { Value::Null } else { user.map_or(Value::Null, |u| Value::Text(u.into())) },
                    ),
                    ("queued_at", opt_time(queued)),
                    ("started_at", opt_time(started)),
                    ("finished_at", opt_time(jtime(&job["finished_at"]))),
                    ("attempt", Value::Int(*attempt)),
                ]),
            );
            if waiting || played {
                manual.push(ManualJob {
                    name: name.to_string(),
                    stage: job["stage"].as_str().unwrap_or("").to_string(),
                    played_by: if played { user.map(str::to_string) } else { None },
                    allow_failure: job["allow_failure"].as_bool().unwrap_or(false),
                });
            }
        }
    }
    manual
}

/// A manual job seen in a pipeline: waiting to be played, or played by someone.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualJob {
    pub name: String,
    pub stage: String,
    pub played_by: Option<String>,
    pub allow_failure: bool,
}

/// The jobs of one pipeline as the pipeline row needs them: who started it (the user of its first
/// job that is not manual), when its first job started and its last job finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineJobs {
    pub started_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What the jobs pages of one pipeline say about the pipeline.
pub fn pipeline_jobs(pages: &[serde_json::Value]) -> PipelineJobs {
    let jobs: Vec<&serde_json::Value> = pages.iter().filter_map(|p| p.as_array()).flatten().collect();
    PipelineJobs {
        started_by: jobs
            .iter()
            .filter(|j| j["status"].as_str() != Some("manual"))
            .min_by_key(|j| (jtime(&j["created_at"]), j["id"].as_i64()))
            .and_then(|j| j["user"]["username"].as_str().map(str::to_string)),
        started_at: jobs.iter().filter_map(|j| jtime(&j["started_at"])).min(),
        finished_at: jobs.iter().filter_map(|j| jtime(&j["finished_at"])).max(),
    }
}

/// Rows of one page of pipelines (`/projects/:id/pipelines`), with what their jobs say.
pub fn pipeline_rows(
    page: &serde_json::Value,
    jobs: &BTreeMap<i64, PipelineJobs>,
    project: &str,
    service: &Service,
    out: &mut Extracted,
) -> PageMeta {
    let items = page.as_array().cloned().unwrap_or_default();
    for p in &items {
        let Some(id) = p["id"].as_i64() else { continue };
        let status = p["status"].as_str().unwrap_or("");
        let source = p["source"].as_str().unwrap_or("");
        let known = jobs.get(&id).cloned().unwrap_or_default();
        let finished = finished_status(status);
        let by = p["user"]["username"].as_str().map(str::to_string).or(known.started_by);
        push(
            out,
            &model::PIPELINES,
            model::PIPELINES.row([
                ("id", Value::Text(pipeline_id(project, id))),
                ("source", Value::Text("gitlab".into())),
                ("repo", Value::Text(project.to_string())),
                ("service", Value::Text(service.name.clone())),
                ("name", p["name"].as_str().map_or(Value::Text(source.to_string()), |n| Value::Text(n.into()))),
                ("sha", jtext(&p["sha"])),
                ("ref", jtext(&p["ref"])),
                ("trigger", Value::Text(trigger(source).into())),
                ("triggered_by", by.map_or(Value::Null, Value::Text)),
                ("queued_at", opt_time(jtime(&p["created_at"]))),
                ("started_at", opt_time(jtime(&p["started_at"]).or(known.started_at))),
                ("finished_at", opt_time(finished.and(jtime(&p["finished_at"]).or(known.finished_at)))),
                ("status", Value::Text(finished.unwrap_or("running").into())),
                ("attempt", Value::Int(1)),
            ]),
        );
    }
    PageMeta {
        newest: items.iter().filter_map(|p| jtime(&p["updated_at"])).max(),
        items: items.len() as u64,
        ..Default::default()
    }
}

/// Evidence of the manual jobs seen in pipelines, one row per job name: a job someone must play
/// for a change to go on is a manual step of delivery. Who played each is in the `jobs` table; the
/// row names only the job and its stage, so it is the same whichever pages it was found in.
pub fn manual_job_rows(project: &str, jobs: &[ManualJob], out: &mut Extracted) {
    let mut by_name: BTreeMap<&str, &str> = BTreeMap::new();
    for job in jobs {
        by_name.entry(&job.name).or_insert(&job.stage);
    }
    for (name, stage) in by_name {
        push(
            out,
            &model::EVIDENCE,
            model::EVIDENCE.row([
                ("id", Value::Text(format!("gitlab:{project}:manual-job:{name}"))),
                ("source", Value::Text("gitlab".into())),
                ("repo", Value::Text(project.to_string())),
                ("kind", Value::Text("manual_step".into())),
                ("category", Value::Text("manual job".into())),
                ("tool", Value::Text("gitlab-ci".into())),
                ("detail", Value::Text(format!("job `{name}` (stage {stage}) waits for a person to play it"))),
                ("path", Value::Text(format!("pipelines/jobs/{name}"))),
            ]),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Environments, deployments and approvals (REST)
// ---------------------------------------------------------------------------------------------

/// What the environments listing says: each environment's tier, by name.
pub fn environment_tiers(page: &serde_json::Value) -> BTreeMap<String, String> {
    page.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?.to_string(), e["tier"].as_str()?.to_string())))
        .collect()
}

/// Protected environments that need approvals before a deployment runs, with how many.
pub fn required_approvals(page: &serde_json::Value) -> BTreeMap<String, i64> {
    page.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e["name"].as_str()?;
            let count = e["required_approval_count"].as_i64().unwrap_or(0).max(
                e["approval_rules"]
                    .as_array()
                    .map(|r| r.iter().filter_map(|r| r["required_approvals"].as_i64()).sum())
                    .unwrap_or(0),
            );
            Some((name.to_string(), count))
        })
        .collect()
}

/// Whether an environment counts as production for `service`: by GitLab's `tier: production`,
/// unless the service names its production environments itself, in which case its patterns say.
pub fn is_production(service: &Service, environment: &str, tier: Option<&str>) -> bool {
    if service.production_environments_configured() {
        service.is_production(environment)
    } else {
        tier == Some("production") || (tier.is_none() && service.is_production(environment))
    }
}

/// Evidence rows of the environments and their protection: a production environment whose
/// deployments need approvals is a manual step; other protections are practices.
pub fn environment_rows(
    environments: &serde_json::Value,
    protected: &serde_json::Value,
    project: &str,
    service: &Service,
    out: &mut Extracted,
) {
    let tiers = environment_tiers(environments);
    let required = required_approvals(protected);
    let prefix = environments_prefix(project);
    for (name, count) in &required {
        let production = is_production(service, name, tiers.get(name).map(String::as_str));
        let path = format!("settings/environments/{name}");
        let (kind, detail) = if *count > 0 {
            let kind = if production { "manual_step" } else { "practice" };
            (kind, format!("deployments to `{name}` wait for {count} approval(s) (required_approval_count)"))
        } else {
            ("practice", format!("only allowed users and groups may deploy to `{name}` (protected environment)"))
        };
        let category = if *count > 0 { "approval" } else { "protected environment" };
        push(
            out,
            &model::EVIDENCE,
            model::EVIDENCE.row([
                ("id", Value::Text(format!("{prefix}{name}:{category}"))),
                ("source", Value::Text("gitlab".into())),
                ("repo", Value::Text(project.to_string())),
                ("kind", Value::Text(kind.into())),
                ("category", Value::Text(category.into())),
                ("tool", Value::Text("gitlab-environments".into())),
                ("detail", Value::Text(detail)),
                ("path", Value::Text(path)),
            ]),
        );
    }
}

/// The id prefix of a project's environment evidence (a snapshot, replaced whole).
pub fn environments_prefix(project: &str) -> String {
    format!("gitlab:{project}:environment:")
}

/// The deployment id of `project`'s deployment `id`.
pub fn deployment_id(project: &str, id: i64) -> String {
    format!("gitlab:deployment:{project}:{id}")
}

/// The approvals of deployments, from single-deployment pages (`approvals[]` with `created_at`),
/// by deployment id.
pub type ApprovalsByDeployment = BTreeMap<i64, Vec<serde_json::Value>>;

/// Adds one single-deployment page's approvals.
pub fn note_approvals(detail: &serde_json::Value, approvals: &mut ApprovalsByDeployment) {
    if let Some(id) = detail["id"].as_i64() {
        approvals.insert(id, detail["approvals"].as_array().cloned().unwrap_or_default());
    }
}

/// Rows of one page of deployments (`/projects/:id/deployments`). A deployment's times are its
/// job's (`deployable`): started when the job started, live when it finished. Unfinished
/// deployments (`created`, `running`, `blocked`) are `running` rows, finished at their last
/// update, replaced when they finish. A failed job that was allowed to fail (`allow_failure`)
/// makes a failed deployment, never a successful one. Approvals (Premium deployment approvals)
/// carry their times: the wait is from the job's creation (when the deployment was blocked) to the
/// last approval, or to the rejection. A deployment is manual when it waited for approvals or its
/// job is one of `manual_jobs` (a manual job, waiting or played by hand: see [`job_rows`]).
pub fn deployment_rows(
    page: &serde_json::Value,
    tiers: &BTreeMap<String, String>,
    approvals: &ApprovalsByDeployment,
    manual_jobs: &BTreeSet<i64>,
    project: &str,
    service: &Service,
    out: &mut Extracted,
) -> PageMeta {
    let items = page.as_array().cloned().unwrap_or_default();
    for d in &items {
        let Some(id) = d["id"].as_i64() else { continue };
        let Some(environment) = d["environment"]["name"].as_str() else { continue };
        let job = &d["deployable"];
        let mut status = finished_status(d["status"].as_str().unwrap_or("")).unwrap_or("running");
        if job["status"].as_str() == Some("failed") {
            status = "failure";
        }
        let this = deployment_id(project, id);
        let created = jtime(&job["created_at"]).or(jtime(&d["created_at"]));
        let decisions = approvals.get(&id).cloned().unwrap_or_default();
        let mut last_decision: Option<DateTime<Utc>> = None;
        for a in &decisions {
            let Some(who) = a["user"]["username"].as_str() else { continue };
            let at = jtime(&a["created_at"]);
            let state = if a["status"].as_str() == Some("rejected") { "rejected" } else { "approved" };
            last_decision = last_decision.max(at);
            push(
                out,
                &model::APPROVALS,
                model::APPROVALS.row([
                    ("id", Value::Text(format!("gitlab:deployment-approval:{project}:{id}:{who}"))),
                    ("subject_id", Value::Text(this.clone())),
                    ("approver", Value::Text(who.to_string())),
                    ("requested_at", opt_time(created)),
                    ("decided_at", opt_time(at)),
                    ("state", Value::Text(state.into())),
                ]),
            );
        }
        let wait = match (created, last_decision) {
            (Some(c), Some(d)) => Value::Float((d - c).num_seconds().max(0) as f64),
            _ => Value::Null,
        };
        let deployer = job["user"]["username"].as_str().or(d["user"]["username"].as_str());
        let played = job["id"].as_i64().is_some_and(|j| manual_jobs.contains(&j));
        let manual = !decisions.is_empty() || d["status"].as_str() == Some("blocked") || played;
        let finished = if status == "running" {
            jtime(&d["updated_at"])
        } else {
            jtime(&job["finished_at"]).or(jtime(&d["updated_at"]))
        };
        let Some(finished) = finished.or(created) else { continue };
        let tier = d["environment"]["tier"].as_str().or(tiers.get(environment).map(String::as_str));
        push(
            out,
            &model::DEPLOYMENTS,
            model::DEPLOYMENTS.row([
                ("id", Value::Text(this)),
                ("source", Value::Text("gitlab".into())),
                ("service", Value::Text(service.name.clone())),
                ("environment", Value::Text(environment.to_string())),
                ("is_production", Value::Bool(is_production(service, environment, tier))),
                ("repo", Value::Text(project.to_string())),
                ("sha", jtext(&d["sha"]).lower()),
                ("started_at", opt_time(jtime(&job["started_at"]).or(created))),
                ("finished_at", Value::Time(finished)),
                ("status", Value::Text(status.into())),
                ("triggered_by", deployer.map_or(Value::Null, |u| Value::Text(u.into()))),
                ("is_manual", if manual { Value::Bool(true) } else { Value::Null }),
                ("approval_wait_seconds", wait),
            ]),
        );
    }
    PageMeta {
        newest: items.iter().filter_map(|d| jtime(&d["updated_at"])).max(),
        items: items.len() as u64,
        ..Default::default()
    }
}

/// Whether a listed deployment may have approvals to read (its single page carries them): it was
/// blocked, or its environment requires approvals.
pub fn needs_approvals(deployment: &serde_json::Value, required: &BTreeMap<String, i64>) -> bool {
    deployment["status"].as_str() == Some("blocked")
        || deployment["pending_approval_count"].as_i64().is_some_and(|n| n > 0)
        || deployment["environment"]["name"].as_str().is_some_and(|e| required.get(e).is_some_and(|n| *n > 0))
}

/// `deployment_commits` rows from GitLab's own record of what a deployment shipped
/// (`/deployments/:id/merge_requests`): each merge request's merge, squash and head commits.
pub fn deployment_mr_rows(deployment: &str, page: &serde_json::Value, out: &mut Extracted) -> usize {
    let mut n = 0;
    for mr in page.as_array().into_iter().flatten() {
        for field in ["merge_commit_sha", "squash_commit_sha", "sha"] {
            if let Some(sha) = mr[field].as_str().filter(|s| !s.is_empty()) {
                push(
                    out,
                    &model::DEPLOYMENT_COMMITS,
                    model::DEPLOYMENT_COMMITS.row([
                        ("deployment_id", Value::Text(deployment.to_string())),
                        ("sha", Value::Text(sha.to_ascii_lowercase())),
                    ]),
                );
                n += 1;
            }
        }
    }
    n
}

/// `deployment_commits` rows from a repository compare (`/repository/compare?from=&to=`): the
/// commits between the previous successful deployment of the environment and this one.
pub fn compare_rows(deployments: &[String], page: &serde_json::Value, out: &mut Extracted) {
    for commit in page["commits"].as_array().into_iter().flatten() {
        let Some(sha) = commit["id"].as_str() else { continue };
        for d in deployments {
            push(
                out,
                &model::DEPLOYMENT_COMMITS,
                model::DEPLOYMENT_COMMITS
                    .row([("deployment_id", Value::Text(d.clone())), ("sha", Value::Text(sha.to_ascii_lowercase()))]),
            );
        }
    }
}

fn push(out: &mut Extracted, schema: &'static model::TableSchema, row: model::Row) {
    out.tables.entry(schema.name).or_default().push(row);
}

fn opt_text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn opt_time(v: Option<DateTime<Utc>>) -> Value {
    v.map_or(Value::Null, Value::Time)
}

fn jtext(v: &serde_json::Value) -> Value {
    v.as_str().map_or(Value::Null, |s| Value::Text(s.to_string()))
}

trait Lower {
    fn lower(self) -> Value;
}

impl Lower for Value {
    fn lower(self) -> Value {
        match self {
            Value::Text(s) => Value::Text(s.to_ascii_lowercase()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_notes_say_approvals_and_ready() {
        assert_eq!(system_event("approved this merge request"), SystemEvent::Approved);
        assert_eq!(system_event("unapproved this merge request"), SystemEvent::Unapproved);
        assert_eq!(system_event("marked this merge request as **ready**"), SystemEvent::MarkedReady);
        assert_eq!(system_event("requested review from @ana"), SystemEvent::Other);
    }

    #[test]
    fn pipeline_sources_map_to_triggers() {
        assert_eq!(trigger("web"), "manual");
        assert_eq!(trigger("trigger"), "api");
        assert_eq!(trigger("merge_request_event"), "pull_request");
        assert_eq!(trigger("parent_pipeline"), "other");
        assert_eq!(finished_status("manual"), None);
        assert_eq!(finished_status("failed"), Some("failure"));
    }

    #[test]
    fn a_failed_deploy_job_allowed_to_fail_is_a_failed_deployment() {
        let service = Service::named("shop", None);
        let page = serde_json::json!([{
            "id": 7, "status": "success", "sha": "ABC", "updated_at": "2025-03-01T10:00:00Z",
            "created_at": "2025-03-01T09:00:00Z",
            "environment": { "name": "production" },
            "deployable": { "status": "failed", "allow_failure": true, "created_at": "2025-03-01T09:00:00Z",
                            "started_at": "2025-03-01T09:01:00Z", "finished_at": "2025-03-01T09:05:00Z",
                            "user": { "username": "ana" } }
        }]);
        let mut out = Extracted::default();
        deployment_rows(&page, &BTreeMap::new(), &BTreeMap::new(), &BTreeSet::new(), "acme/shop", &service, &mut out);
        let row = &out.tables["deployments"][0];
        let status = model::DEPLOYMENTS.position("status").unwrap();
        assert_eq!(row[status], Value::Text("failure".into()));
    }
}
