//! Raw GitHub pages → rows of the domain tables, with no network and no clock.
//!
//! Kept apart from fetching so that the rows can always be rebuilt from the raw pages kept in the
//! workspace (`flowgauge collect github --offline`), and so that a user's bug can be reproduced from
//! their pages alone. Every function here is pure: the same pages give the same rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::Service;
use crate::error::{Error, Result};
use crate::model::{self, Row, TableSchema, Value};

/// Rows extracted from some pages, per table.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Extracted {
    pub tables: BTreeMap<&'static str, Vec<Row>>,
    /// Nested connections longer than one page (more than 100 commits or reviews on one pull request).
    pub truncated: Vec<String>,
}

impl Extracted {
    fn push(&mut self, schema: &'static TableSchema, row: Row) {
        self.tables.entry(schema.name).or_default().push(row);
    }

    /// The batches in the shape [`crate::store::Workspace::upsert`] takes.
    pub fn batches(self) -> Vec<(&'static TableSchema, Vec<Row>)> {
        self.tables
            .into_iter()
            .map(|(name, rows)| (model::table(name).expect("extracted tables exist"), rows))
            .collect()
    }

    pub fn rows(&self, schema: &TableSchema) -> usize {
        self.tables.get(schema.name).map_or(0, Vec::len)
    }
}

#[derive(Debug, Deserialize)]
pub struct PullRequestPage {
    pub data: Option<PrData>,
}

#[derive(Debug, Deserialize)]
pub struct PrData {
    pub repository: Option<PrRepository>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrRepository {
    pub pull_requests: Connection<PullRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    #[serde(default)]
    pub page_info: Option<PageInfo>,
    #[serde(default)]
    pub total_count: Option<u64>,
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
pub struct Actor {
    pub login: Option<String>,
    #[serde(rename = "__typename")]
    pub typename: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    pub number: i64,
    pub title: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub state: Option<String>,
    pub author: Option<Actor>,
    pub base_ref_name: Option<String>,
    pub head_ref_name: Option<String>,
    pub merge_commit: Option<Oid>,
    pub additions: Option<i64>,
    pub deletions: Option<i64>,
    pub changed_files: Option<i64>,
    pub labels: Option<Connection<Label>>,
    pub commits: Option<Connection<PrCommit>>,
    pub reviews: Option<Connection<Review>>,
    pub comments: Option<Connection<Comment>>,
}

#[derive(Debug, Deserialize)]
pub struct Oid {
    pub oid: String,
}

#[derive(Debug, Deserialize)]
pub struct Label {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct PrCommit {
    pub commit: CommitInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    pub oid: String,
    pub authored_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub database_id: Option<i64>,
    pub author: Option<Actor>,
    pub state: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub database_id: Option<i64>,
    pub author: Option<Actor>,
    pub created_at: Option<DateTime<Utc>>,
}

/// Parses one GraphQL page of pull requests.
pub fn parse_pull_requests(body: &str, origin: &str) -> Result<PullRequestPage> {
    serde_json::from_str(body).map_err(|e| Error::Github {
        repo: origin.to_string(),
        message: format!("a pull-request page does not have the documented shape: {e}"),
    })
}

impl PullRequestPage {
    pub fn connection(&self) -> Option<&Connection<PullRequest>> {
        self.data.as_ref()?.repository.as_ref().map(|r| &r.pull_requests)
    }
}

fn text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn time(v: Option<DateTime<Utc>>) -> Value {
    v.map_or(Value::Null, Value::Time)
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::Int)
}

fn is_bot(actor: &Actor) -> bool {
    actor.typename.as_deref() == Some("Bot") || actor.login.as_deref().is_some_and(|l| l.ends_with("[bot]"))
}

/// The change id of a pull request.
pub fn change_id(repo: &str, number: i64) -> String {
    format!("github:pr:{repo}#{number}")
}

/// Rows of one page of pull requests of `repo`, belonging to `service`.
pub fn pull_request_rows(page: &PullRequestPage, repo: &str, service: &Service, out: &mut Extracted) {
    let Some(connection) = page.connection() else { return };
    for pr in connection.nodes.iter().flatten() {
        let id = change_id(repo, pr.number);
        let author = pr.author.as_ref().and_then(|a| a.login.clone());
        let someone_else = |actor: &Option<Actor>| match (actor, &author) {
            (Some(a), Some(author)) => !is_bot(a) && a.login.as_deref() != Some(author.as_str()),
            (Some(a), None) => !is_bot(a),
            (None, _) => false,
        };

        let mut first_commit_at: Option<DateTime<Utc>> = None;
        if let Some(commits) = &pr.commits {
            for c in commits.nodes.iter().flatten() {
                out.push(&model::CHANGE_COMMITS, vec![Value::Text(id.clone()), Value::Text(c.commit.oid.clone())]);
                if let Some(at) = c.commit.authored_date {
                    first_commit_at = Some(first_commit_at.map_or(at, |f| f.min(at)));
                }
            }
            if commits.total_count.unwrap_or(0) > commits.nodes.len() as u64 {
                out.truncated.push(format!(
                    "{id}: {} commits, first {} kept",
                    commits.total_count.unwrap_or(0),
                    commits.nodes.len()
                ));
            }
        }

        let mut first_response: Option<DateTime<Utc>> = None;
        let mut approved_at: Option<DateTime<Utc>> = None;
        if let Some(reviews) = &pr.reviews {
            for r in reviews.nodes.iter().flatten() {
                let (Some(at), Some(state)) = (r.submitted_at, r.state.as_deref()) else { continue };
                let state = match state {
                    "APPROVED" => "approved",
                    "CHANGES_REQUESTED" => "changes_requested",
                    "COMMENTED" => "commented",
                    "DISMISSED" => "dismissed",
                    _ => continue,
                };
                let review_id = match r.database_id {
                    Some(n) => format!("github:review:{repo}#{}:{n}", pr.number),
                    None => format!("github:review:{repo}#{}:{}", pr.number, at.timestamp_micros()),
                };
                out.push(
                    &model::REVIEWS,
                    vec![
                        Value::Text(review_id),
                        Value::Text(id.clone()),
                        r.author.as_ref().map_or(Value::Null, |a| text(&a.login)),
                        Value::Text(state.to_string()),
                        Value::Time(at),
                    ],
                );
                if someone_else(&r.author) {
                    first_response = Some(first_response.map_or(at, |f| f.min(at)));
                    if state == "approved" {
                        approved_at = Some(approved_at.map_or(at, |f| f.min(at)));
                    }
                }
            }
            if reviews.total_count.unwrap_or(0) > reviews.nodes.len() as u64 {
                out.truncated.push(format!(
                    "{id}: {} reviews, first {} kept",
                    reviews.total_count.unwrap_or(0),
                    reviews.nodes.len()
                ));
            }
        }
        // The first conversation comment by someone else is a response too (and a row of `reviews`,
        // state `commented`, so the first response can be audited).
        if let Some(comments) = &pr.comments
            && let Some(c) =
                comments.nodes.iter().flatten().filter(|c| someone_else(&c.author)).find(|c| c.created_at.is_some())
            && let Some(at) = c.created_at
        {
            let comment_id = match c.database_id {
                Some(n) => format!("github:comment:{repo}#{}:{n}", pr.number),
                None => format!("github:comment:{repo}#{}:{}", pr.number, at.timestamp_micros()),
            };
            out.push(
                &model::REVIEWS,
                vec![
                    Value::Text(comment_id),
                    Value::Text(id.clone()),
                    c.author.as_ref().map_or(Value::Null, |a| text(&a.login)),
                    Value::Text("commented".to_string()),
                    Value::Time(at),
                ],
            );
            first_response = Some(first_response.map_or(at, |f| f.min(at)));
        }

        let labels: Vec<&str> =
            pr.labels.as_ref().map(|l| l.nodes.iter().flatten().map(|l| l.name.as_str()).collect()).unwrap_or_default();
        let title = pr.title.clone().unwrap_or_default();
        let is_revert = title.starts_with("Revert \"");
        out.push(
            &model::CHANGES,
            vec![
                Value::Text(id.clone()),
                Value::Text("github".to_string()),
                Value::Text(repo.to_string()),
                Value::Text(service.name.clone()),
                Value::Int(pr.number),
                text(&pr.title),
                author.map_or(Value::Null, Value::Text),
                time(pr.created_at),
                time(first_commit_at),
                time(first_response),
                time(approved_at),
                time(pr.merged_at),
                time(pr.closed_at),
                text(&pr.base_ref_name),
                text(&pr.head_ref_name),
                pr.merge_commit.as_ref().map_or(Value::Null, |m| Value::Text(m.oid.clone())),
                int(pr.additions),
                int(pr.deletions),
                int(pr.changed_files),
                Value::Bool(is_revert),
                Value::Null,
                if labels.is_empty() { Value::Null } else { Value::Text(labels.join(",")) },
            ],
        );
    }
}

/// The facts about a page that drive paging and the incremental cursor.
#[derive(Debug, Clone, Default)]
pub struct PageMeta {
    pub has_next: bool,
    pub end_cursor: Option<String>,
    /// Newest and oldest value of the field the list is ordered by (`updatedAt` or `createdAt`).
    pub newest: Option<DateTime<Utc>>,
    pub oldest: Option<DateTime<Utc>>,
    /// Ordering value of the oldest item still unfinished (a running deployment or workflow run),
    /// which the next run must read again.
    pub oldest_unfinished: Option<DateTime<Utc>>,
}

fn jtime(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    super::client::time(v)
}

fn jtext(v: &serde_json::Value) -> Value {
    v.as_str().map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Paging facts of a GraphQL connection at `pointer`, ordered by `field`.
pub fn graphql_meta(page: &serde_json::Value, pointer: &str, field: &str) -> Option<PageMeta> {
    let connection = page.pointer(pointer)?;
    let nodes = connection.get("nodes")?.as_array()?;
    let times: Vec<DateTime<Utc>> = nodes.iter().filter_map(|n| jtime(&n[field])).collect();
    Some(PageMeta {
        has_next: connection.pointer("/pageInfo/hasNextPage").and_then(|v| v.as_bool()).unwrap_or(false),
        end_cursor: connection.pointer("/pageInfo/endCursor").and_then(|v| v.as_str()).map(str::to_string),
        newest: times.iter().max().copied(),
        oldest: times.iter().min().copied(),
        oldest_unfinished: None,
    })
}

/// The final state of a deployment from its statuses: the first success, failure or error.
fn deployment_outcome(node: &serde_json::Value) -> Option<(&'static str, DateTime<Utc>)> {
    let mut statuses: Vec<(&str, DateTime<Utc>)> = node
        .pointer("/statuses/nodes")?
        .as_array()?
        .iter()
        .filter_map(|s| Some((s["state"].as_str()?, jtime(&s["createdAt"])?)))
        .collect();
    statuses.sort_by_key(|(_, at)| *at);
    statuses.into_iter().find_map(|(state, at)| match state {
        "SUCCESS" => Some(("success", at)),
        "FAILURE" | "ERROR" => Some(("failure", at)),
        _ => None,
    })
}

/// Rows of a page of deployments (GraphQL, with statuses); unfinished deployments are left for a
/// later run and reported in the page's facts.
pub fn deployment_rows(page: &serde_json::Value, repo: &str, service: &Service, out: &mut Extracted) -> PageMeta {
    let pointer = "/data/repository/deployments";
    let mut meta = graphql_meta(page, pointer, "createdAt").unwrap_or_default();
    let nodes = page.pointer(&format!("{pointer}/nodes")).and_then(|n| n.as_array()).cloned().unwrap_or_default();
    for node in &nodes {
        let (Some(id), Some(environment), Some(created)) =
            (node["databaseId"].as_i64(), node["environment"].as_str(), jtime(&node["createdAt"]))
        else {
            continue;
        };
        let Some((status, finished)) = deployment_outcome(node) else {
            meta.oldest_unfinished = min_opt(meta.oldest_unfinished, Some(created));
            continue;
        };
        out.push(
            &model::DEPLOYMENTS,
            vec![
                Value::Text(format!("github:deployment:{repo}:{id}")),
                Value::Text("github".into()),
                Value::Text(service.name.clone()),
                Value::Text(environment.to_string()),
                Value::Bool(service.is_production(environment)),
                Value::Text(repo.to_string()),
                jtext(&node["commitOid"]),
                Value::Time(created),
                Value::Time(finished),
                Value::Text(status.into()),
                jtext(&node["creator"]["login"]),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        );
    }
    meta
}

/// Rows of a page of issues carrying an incident label (GraphQL).
pub fn incident_rows(page: &serde_json::Value, repo: &str, service: &Service, out: &mut Extracted) -> PageMeta {
    let pointer = "/data/repository/issues";
    let meta = graphql_meta(page, pointer, "updatedAt").unwrap_or_default();
    let nodes = page.pointer(&format!("{pointer}/nodes")).and_then(|n| n.as_array()).cloned().unwrap_or_default();
    for node in &nodes {
        let (Some(number), Some(opened)) = (node["number"].as_i64(), jtime(&node["createdAt"])) else { continue };
        let labels: Vec<&str> = node
            .pointer("/labels/nodes")
            .and_then(|l| l.as_array())
            .map(|l| l.iter().filter_map(|l| l["name"].as_str()).collect())
            .unwrap_or_default();
        let severity = labels.iter().find(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("sev") || l.starts_with("severity") || (l.len() == 2 && l.starts_with('p'))
        });
        out.push(
            &model::INCIDENTS,
            vec![
                Value::Text(format!("github:issue:{repo}#{number}")),
                Value::Text("github".into()),
                Value::Text(service.name.clone()),
                jtext(&node["title"]),
                severity.map_or(Value::Null, |s| Value::Text(s.to_string())),
                Value::Time(opened),
                Value::Null,
                jtime(&node["closedAt"]).map_or(Value::Null, Value::Time),
                jtext(&node["assignees"]["nodes"][0]["login"]),
                Value::Null,
            ],
        );
    }
    meta
}

fn run_status(status: Option<&str>, conclusion: Option<&str>) -> &'static str {
    match (status, conclusion) {
        (Some("completed"), Some("success")) => "success",
        (Some("completed"), Some("cancelled")) => "cancelled",
        (Some("completed"), Some("skipped" | "neutral")) => "skipped",
        (Some("completed"), _) => "failure",
        _ => "running",
    }
}

/// Rows of a REST page of workflow runs; also the finished runs (id, attempt) whose jobs to read.
pub fn workflow_run_rows(
    page: &serde_json::Value,
    repo: &str,
    service: &Service,
    out: &mut Extracted,
) -> (PageMeta, Vec<(i64, i64)>) {
    let runs = page["workflow_runs"].as_array().cloned().unwrap_or_default();
    let mut meta = PageMeta::default();
    let mut completed = Vec::new();
    for run in &runs {
        let Some(id) = run["id"].as_i64() else { continue };
        let created = jtime(&run["created_at"]);
        meta.newest = meta.newest.max(created);
        meta.oldest = min_opt(meta.oldest, created);
        let status = run_status(run["status"].as_str(), run["conclusion"].as_str());
        if status == "running" {
            meta.oldest_unfinished = min_opt(meta.oldest_unfinished, created);
        } else {
            completed.push((id, run["run_attempt"].as_i64().unwrap_or(1)));
        }
        let trigger = match run["event"].as_str().unwrap_or("") {
            "push" => "push",
            "pull_request" | "pull_request_target" => "pull_request",
            "schedule" => "schedule",
            "workflow_dispatch" => "manual",
            "repository_dispatch" => "api",
            _ => "other",
        };
        let by = if run["triggering_actor"]["login"].is_string() {
            &run["triggering_actor"]["login"]
        } else {
            &run["actor"]["login"]
        };
        out.push(
            &model::PIPELINES,
            vec![
                Value::Text(format!("github:run:{repo}:{id}")),
                Value::Text("github".into()),
                Value::Text(repo.to_string()),
                Value::Text(service.name.clone()),
                jtext(&run["name"]),
                jtext(&run["head_sha"]),
                jtext(&run["head_branch"]),
                Value::Text(trigger.into()),
                jtext(by),
                created.map_or(Value::Null, Value::Time),
                jtime(&run["run_started_at"]).map_or(Value::Null, Value::Time),
                if status == "running" {
                    Value::Null
                } else {
                    jtime(&run["updated_at"]).map_or(Value::Null, Value::Time)
                },
                Value::Text(status.into()),
                run["run_attempt"].as_i64().map_or(Value::Null, Value::Int),
            ],
        );
    }
    (meta, completed)
}

/// Rows of a REST page of one run's jobs.
pub fn job_rows(page: &serde_json::Value, repo: &str, out: &mut Extracted) {
    for job in page["jobs"].as_array().cloned().unwrap_or_default() {
        let (Some(id), Some(run)) = (job["id"].as_i64(), job["run_id"].as_i64()) else { continue };
        out.push(
            &model::JOBS,
            vec![
                Value::Text(format!("github:job:{repo}:{id}")),
                Value::Text(format!("github:run:{repo}:{run}")),
                jtext(&job["name"]),
                Value::Null,
                Value::Text(run_status(job["status"].as_str(), job["conclusion"].as_str()).into()),
                Value::Bool(false),
                Value::Null,
                jtime(&job["created_at"]).map_or(Value::Null, Value::Time),
                jtime(&job["started_at"]).map_or(Value::Null, Value::Time),
                jtime(&job["completed_at"]).map_or(Value::Null, Value::Time),
                job["run_attempt"].as_i64().map_or(Value::Null, Value::Int),
            ],
        );
    }
}
