//! Raw GitHub pages → rows of the domain tables, with no network and no clock.
//!
//! Kept apart from fetching so that the rows can always be rebuilt from the raw pages kept in the
//! workspace (`flowgauge collect github --offline`), and so that a user's bug can be reproduced from
//! their pages alone. Every function here is pure: the same pages give the same rows.

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use crate::collect::http::rows::{Extracted, Truncated};
use crate::config::Service;
use crate::error::{Error, Result};
use crate::model::{self, Row, Value};

/// What a pull request's commits feed: which deployment shipped the change (lead time), and so
/// which deployment a revert or an incident points at.
pub const COMMITS_AFFECT: &[&str] = &["lead-time", "change-failure-rate", "rework-rate"];
/// What reviews and first responses feed: the review stages of lead time.
pub const REVIEWS_AFFECT: &[&str] = &["lead-time"];
/// What a deployment's outcome and finish time feed.
pub const DEPLOYMENT_AFFECTS: &[&str] =
    &["deployment-frequency", "lead-time", "change-failure-rate", "recovery-time", "rework-rate"];
/// What the commits a deployment shipped feed: which changes it carried, and through them reverts
/// and incidents linked to it.
pub const SHIPPED_AFFECT: &[&str] =
    &["lead-time", "change-failure-rate", "recovery-time", "time-to-restore", "rework-rate"];

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
    #[serde(default)]
    pub body: Option<String>,
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

/// A GitHub database id: `fullDatabaseId` is a `BigInt`, sent as a JSON string; the deprecated
/// `databaseId` (kept in pages recorded before) an `Int`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DatabaseId {
    Text(String),
    Number(i64),
}

/// The database id of a review or comment: `fullDatabaseId`, else the 32-bit `databaseId` of an
/// older page; `None` when GitHub gave neither.
fn database_id(full: &Option<DatabaseId>, old: Option<i64>) -> Option<String> {
    let full = match full {
        Some(DatabaseId::Text(t)) if !t.trim().is_empty() && t.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Some(t.trim().to_string())
        }
        Some(DatabaseId::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    full.or(old.map(|n| n.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    #[serde(default)]
    pub full_database_id: Option<DatabaseId>,
    #[serde(default)]
    pub database_id: Option<i64>,
    pub author: Option<Actor>,
    pub state: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    #[serde(default)]
    pub full_database_id: Option<DatabaseId>,
    #[serde(default)]
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
    actor.typename.as_deref() == Some("Bot") || actor.login.as_deref().is_some_and(is_bot_login)
}

/// A GitHub App or Actions login (`dependabot[bot]`, `github-actions`).
fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]") || login == "github-actions"
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
                out.truncated.push(Truncated {
                    item: id.clone(),
                    detail: format!(
                        "{id}: {} commits, first {} read",
                        commits.total_count.unwrap_or(0),
                        commits.nodes.len()
                    ),
                    affects: COMMITS_AFFECT,
                });
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
                let review_id = match database_id(&r.full_database_id, r.database_id) {
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
                out.truncated.push(Truncated {
                    item: id.clone(),
                    detail: format!(
                        "{id}: {} reviews, first {} read",
                        reviews.total_count.unwrap_or(0),
                        reviews.nodes.len()
                    ),
                    affects: REVIEWS_AFFECT,
                });
            }
        }
        // The first conversation comment by someone else is a response too (and a row of `reviews`,
        // state `commented`, so the first response can be audited).
        if let Some(comments) = &pr.comments
            && let Some(c) =
                comments.nodes.iter().flatten().filter(|c| someone_else(&c.author)).find(|c| c.created_at.is_some())
            && let Some(at) = c.created_at
        {
            let comment_id = match database_id(&c.full_database_id, c.database_id) {
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
        } else if let Some(comments) = &pr.comments
            && comments.total_count.unwrap_or(0) > comments.nodes.len() as u64
        {
            // None of the comments read is a response, and there are more: a later one may be.
            out.truncated.push(Truncated {
                item: id.clone(),
                detail: format!(
                    "{id}: {} conversation comments, none of the first {} by a reviewer",
                    comments.total_count.unwrap_or(0),
                    comments.nodes.len()
                ),
                affects: REVIEWS_AFFECT,
            });
        }

        let labels: Vec<&str> =
            pr.labels.as_ref().map(|l| l.nodes.iter().flatten().map(|l| l.name.as_str()).collect()).unwrap_or_default();
        let title = pr.title.clone().unwrap_or_default();
        let reverted = pr.body.as_deref().and_then(|b| super::references::reverted_pull_request(b, repo));
        let is_revert = title.starts_with("Revert \"") || reverted.is_some();
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
                reverted.map_or(Value::Null, |n| Value::Text(change_id(repo, n))),
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

/// The id of a GitHub deployment.
pub fn deployment_id(repo: &str, id: i64) -> String {
    format!("github:deployment:{repo}:{id}")
}

/// What names a deployment or release node in row ids: its `databaseId` (the number the REST API
/// and GitHub's URLs use), else — when GitHub sends null because the id no longer fits its 32-bit
/// `Int` and the type has no `fullDatabaseId` — its GraphQL node `id`, so the record is kept.
fn node_key(node: &serde_json::Value) -> Option<String> {
    node["databaseId"].as_i64().map(|n| n.to_string()).or_else(|| node["id"].as_str().map(str::to_string))
}

/// A job's (created, started) times.
pub type JobTimes = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// What the workspace already knows about workflow runs and jobs, so a deployment created by an
/// Actions job can say how it was started and how long it waited for approval.
#[derive(Debug, Clone, Default)]
pub struct RunIndex {
    /// Run id → (trigger, who started it).
    pub runs: std::collections::HashMap<i64, (Option<String>, Option<String>)>,
    /// Job id → (created, started): a job bound to a protected environment is created when its run
    /// reaches it and starts once approved.
    pub jobs: std::collections::HashMap<i64, JobTimes>,
    /// (run id, environment lower-cased) → (approver, `approved`/`rejected`), from each waiting
    /// run's approvals (REST `actions/runs/{id}/approvals`, which names who decided but not when).
    pub approvers: std::collections::HashMap<(i64, String), (String, String)>,
}

/// Adds the approvals of one run (a REST page: an array of decisions, each naming the environments
/// it covered) to `known`.
pub fn approval_decisions(page: &serde_json::Value, run: i64, known: &mut RunIndex) {
    for decision in page.as_array().cloned().unwrap_or_default() {
        let (Some(login), Some(state)) = (decision["user"]["login"].as_str(), decision["state"].as_str()) else {
            continue;
        };
        for env in decision["environments"].as_array().cloned().unwrap_or_default() {
            if let Some(name) = env["name"].as_str() {
                known.approvers.insert((run, name.to_ascii_lowercase()), (login.to_string(), state.to_string()));
            }
        }
    }
}

/// The runs whose deployments on this page waited for a reviewer: their approvals say who decided.
pub fn waiting_runs(page: &serde_json::Value) -> Vec<i64> {
    let nodes = page.pointer("/data/repository/deployments/nodes").and_then(|n| n.as_array()).cloned();
    let mut runs: Vec<i64> = nodes
        .unwrap_or_default()
        .iter()
        .map(read_statuses)
        // Only once decided: asked while still waiting, the answer would be kept without the decision.
        .filter(|s| s.decided.is_some())
        .filter_map(|s| s.run)
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs
}

/// A deployment's statuses read in time order.
struct Statuses {
    /// The first success, failure or error.
    outcome: Option<(&'static str, DateTime<Utc>)>,
    /// When it started waiting for a reviewer (`WAITING`), and the next status after that wait.
    waiting: Option<DateTime<Utc>>,
    decided: Option<(String, DateTime<Utc>)>,
    /// `…/actions/runs/<run>/job/<job>` from a status's log URL.
    run: Option<i64>,
    job: Option<i64>,
}

fn read_statuses(node: &serde_json::Value) -> Statuses {
    let mut statuses: Vec<(&str, DateTime<Utc>, Option<&str>)> = node
        .pointer("/statuses/nodes")
        .and_then(|n| n.as_array())
        .map(|n| {
            n.iter()
                .filter_map(|s| Some((s["state"].as_str()?, jtime(&s["createdAt"])?, s["logUrl"].as_str())))
                .collect()
        })
        .unwrap_or_default();
    statuses.sort_by_key(|(_, at, _)| *at);
    let outcome = statuses.iter().find_map(|(state, at, _)| match *state {
        "SUCCESS" => Some(("success", *at)),
        "FAILURE" | "ERROR" => Some(("failure", *at)),
        _ => None,
    });
    // The decision is the first status listed after the first WAITING (in time order; a status in
    // the same second as the wait but listed before it is not the decision).
    let first_wait = statuses.iter().position(|(state, _, _)| *state == "WAITING");
    let waiting = first_wait.map(|i| statuses[i].1);
    let decided = first_wait.and_then(|i| {
        statuses[i + 1..].iter().find(|(state, _, _)| *state != "WAITING").map(|(s, at, _)| (s.to_string(), *at))
    });
    let (mut run, mut job) = (None, None);
    for url in statuses.iter().filter_map(|(_, _, url)| *url) {
        if let Some(rest) = url.split("/actions/runs/").nth(1) {
            let mut parts = rest.split(['/', '?', '#']);
            run = run.or(parts.next().and_then(|r| r.parse().ok()));
            if parts.next() == Some("job") {
                job = job.or(parts.next().and_then(|j| j.parse().ok()));
            }
        }
    }
    Statuses { outcome, waiting, decided, run, job }
}

/// Rows of a page of deployments (GraphQL, with statuses); unfinished deployments are left for a
/// later run and reported in the page's facts. Rows are written only for a service whose
/// deployments come from the Deployments API (`deployments_from = "deployments"`).
///
/// A deployment whose statuses went through `WAITING` was held by an environment's required
/// reviewers: it is manual, and its approval wait is the bound job's created → started time when
/// the job is known (GitHub's approvals endpoint carries no timestamps), else `WAITING` → the next
/// status. An `approvals` row records the wait and whether it was approved or rejected.
pub fn deployment_rows(
    page: &serde_json::Value,
    repo: &str,
    service: &Service,
    known: &RunIndex,
    out: &mut Extracted,
) -> PageMeta {
    let pointer = "/data/repository/deployments";
    let mut meta = graphql_meta(page, pointer, "createdAt").unwrap_or_default();
    if service.deployments_from != crate::config::DeploymentSignal::Deployments {
        return meta;
    }
    let nodes = page.pointer(&format!("{pointer}/nodes")).and_then(|n| n.as_array()).cloned().unwrap_or_default();
    for node in &nodes {
        let (Some(id), Some(environment), Some(created)) =
            (node_key(node), node["environment"].as_str(), jtime(&node["createdAt"]))
        else {
            continue;
        };
        let statuses = read_statuses(node);
        let listed = node.pointer("/statuses/nodes").and_then(|n| n.as_array()).map_or(0, Vec::len) as u64;
        if let Some(total) = node.pointer("/statuses/totalCount").and_then(|t| t.as_u64()).filter(|t| *t > listed) {
            let item = format!("github:deployment:{repo}:{id}");
            let detail = format!("{item}: {total} statuses, first {listed} read");
            out.truncated.push(Truncated { item, detail, affects: DEPLOYMENT_AFFECTS });
        }
        let Some((status, finished)) = statuses.outcome else {
            meta.oldest_unfinished = min_opt(meta.oldest_unfinished, Some(created));
            continue;
        };
        let run = statuses.run.and_then(|r| known.runs.get(&r));
        let job_wait = statuses
            .job
            .and_then(|j| known.jobs.get(&j))
            .and_then(|(created, started)| Some((created.as_ref()?, started.as_ref()?)));
        let wait = match (statuses.waiting, job_wait) {
            (Some(_), Some((queued, started))) => Some((*started - *queued).num_seconds().max(0) as f64),
            (Some(w), None) => statuses.decided.as_ref().map(|(_, at)| (*at - w).num_seconds().max(0) as f64),
            (None, _) => None,
        };
        let is_manual = match (statuses.waiting, run) {
            (Some(_), _) => Value::Bool(true),
            (None, Some((Some(trigger), _))) => Value::Bool(trigger == "manual"),
            _ => Value::Null,
        };
        let triggered_by = match run {
            Some((_, Some(by))) => Value::Text(by.clone()),
            _ => jtext(&node["creator"]["login"]),
        };
        let this = format!("github:deployment:{repo}:{id}");
        if let (Some(waiting), Some((next, at))) = (statuses.waiting, &statuses.decided) {
            let decision = statuses.run.and_then(|r| known.approvers.get(&(r, environment.to_ascii_lowercase())));
            let rejected = match decision {
                Some((_, state)) => state == "rejected",
                None => matches!(next.as_str(), "FAILURE" | "ERROR" | "INACTIVE"),
            };
            out.push(
                &model::APPROVALS,
                vec![
                    Value::Text(format!("github:approval:{repo}:{id}")),
                    Value::Text(this.clone()),
                    decision.map_or(Value::Null, |(login, _)| Value::Text(login.clone())),
                    Value::Time(waiting),
                    Value::Time(*at),
                    Value::Text(if rejected { "rejected" } else { "approved" }.into()),
                ],
            );
        }
        out.push(
            &model::DEPLOYMENTS,
            vec![
                Value::Text(this),
                Value::Text("github".into()),
                Value::Text(service.name.clone()),
                Value::Text(environment.to_string()),
                Value::Bool(service.is_production(environment)),
                Value::Text(repo.to_string()),
                jtext(&node["commitOid"]),
                Value::Time(created),
                Value::Time(finished),
                Value::Text(status.into()),
                triggered_by,
                is_manual,
                wait.map_or(Value::Null, Value::Float),
                Value::Null,
                Value::Null,
            ],
        );
    }
    meta
}

/// Rows of a page of releases (GraphQL), for a service with `deployments_from = "releases"`: a
/// published release is a successful deployment of its tag's commit — to production, or to
/// `prerelease` (not production) when marked as a pre-release. Drafts are not deployments.
pub fn release_rows(page: &serde_json::Value, repo: &str, service: &Service, out: &mut Extracted) -> PageMeta {
    let pointer = "/data/repository/releases";
    let mut meta = graphql_meta(page, pointer, "createdAt").unwrap_or_default();
    if service.deployments_from != crate::config::DeploymentSignal::Releases {
        return meta;
    }
    let nodes = page.pointer(&format!("{pointer}/nodes")).and_then(|n| n.as_array()).cloned().unwrap_or_default();
    for node in &nodes {
        let (Some(id), Some(published)) = (node_key(node), jtime(&node["publishedAt"])) else {
            meta.oldest_unfinished = min_opt(meta.oldest_unfinished, jtime(&node["createdAt"]));
            continue;
        };
        if node["isDraft"].as_bool() == Some(true) {
            // Read again until published.
            meta.oldest_unfinished = min_opt(meta.oldest_unfinished, jtime(&node["createdAt"]));
            continue;
        }
        let prerelease = node["isPrerelease"].as_bool() == Some(true);
        out.push(
            &model::DEPLOYMENTS,
            vec![
                Value::Text(format!("github:release:{repo}:{id}")),
                Value::Text("github".into()),
                Value::Text(service.name.clone()),
                Value::Text(if prerelease { "prerelease" } else { "production" }.into()),
                Value::Bool(!prerelease),
                Value::Text(repo.to_string()),
                jtext(&node["tagCommit"]["oid"]),
                jtime(&node["createdAt"]).map_or(Value::Null, Value::Time),
                Value::Time(published),
                Value::Text("success".into()),
                jtext(&node["author"]["login"]),
                // `Release.author` is a User: null for a release published by an App or Actions, so
                // no author says nothing about whether a person published it.
                node["author"]["login"].as_str().map_or(Value::Null, |l| Value::Bool(!is_bot_login(l))),
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
        let text = format!("{}\n{}", node["title"].as_str().unwrap_or(""), node["body"].as_str().unwrap_or(""));
        let cause = super::references::incident_cause(&text, repo);
        out.push(
            &model::INCIDENTS,
            model::INCIDENTS.row([
                ("id", Value::Text(format!("github:issue:{repo}#{number}"))),
                ("source", Value::Text("github".into())),
                ("service", Value::Text(service.name.clone())),
                ("title", jtext(&node["title"])),
                ("severity", severity.map_or(Value::Null, |s| Value::Text(s.to_string()))),
                ("opened_at", Value::Time(opened)),
                ("resolved_at", jtime(&node["closedAt"]).map_or(Value::Null, Value::Time)),
                ("assignee", jtext(&node["assignees"]["nodes"][0]["login"])),
                (
                    "caused_by_deployment_id",
                    cause.deployment.map_or(Value::Null, |d| Value::Text(deployment_id(repo, d))),
                ),
                ("caused_by_change_id", cause.pull_request.map_or(Value::Null, |n| Value::Text(change_id(repo, n)))),
                ("caused_by_sha", cause.sha.map_or(Value::Null, Value::Text)),
            ]),
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

/// Rows of a REST page of workflow runs; also the finished runs (id, attempt, workflow name) whose
/// jobs may be read.
pub fn workflow_run_rows(
    page: &serde_json::Value,
    repo: &str,
    service: &Service,
    out: &mut Extracted,
) -> (PageMeta, Vec<(i64, i64, String)>) {
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
            completed.push((
                id,
                run["run_attempt"].as_i64().unwrap_or(1),
                run["name"].as_str().unwrap_or("").to_string(),
            ));
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
        let name = run["name"].as_str().unwrap_or("");
        if service.deployments_from == crate::config::DeploymentSignal::Actions
            && service.is_deploy_workflow(name)
            && trigger != "pull_request"
            && matches!(status, "success" | "failure" | "cancelled")
            && let Some(finished) = jtime(&run["updated_at"])
        {
            // A finished run of a deploy workflow is a production deployment of the commit it built.
            out.push(
                &model::DEPLOYMENTS,
                vec![
                    Value::Text(format!("github:actions-deployment:{repo}:{id}")),
                    Value::Text("github".into()),
                    Value::Text(service.name.clone()),
                    Value::Text("production".into()),
                    Value::Bool(true),
                    Value::Text(repo.to_string()),
                    jtext(&run["head_sha"]),
                    jtime(&run["run_started_at"]).or(created).map_or(Value::Null, Value::Time),
                    Value::Time(finished),
                    Value::Text(status.into()),
                    jtext(by),
                    Value::Bool(trigger == "manual"),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ],
            );
        }
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

fn evidence_row(
    id: String,
    repo: &str,
    kind: &str,
    category: &str,
    tool: &str,
    detail: String,
    (path, line): (&str, Option<i64>),
) -> Row {
    vec![
        Value::Text(id),
        Value::Text("github".into()),
        Value::Text(repo.to_string()),
        Value::Null,
        Value::Text(kind.into()),
        Value::Text(category.into()),
        Value::Text(tool.into()),
        Value::Text(detail),
        Value::Text(path.to_string()),
        line.map_or(Value::Null, Value::Int),
        Value::Null,
    ]
}

/// The id prefix of the evidence rows read from a repository's environments; the rows are a
/// snapshot, replaced as a whole on every read.
pub fn environments_prefix(repo: &str) -> String {
    format!("github:{repo}:environment:")
}

/// The id prefix of the evidence rows read from a repository's CODEOWNERS.
pub fn codeowners_prefix(repo: &str) -> String {
    format!("github:{repo}:codeowners:")
}

/// Evidence rows from the REST list of a repository's environments and their protection rules:
/// required reviewers on a production environment are a manual step (someone must approve every
/// deployment); on another environment, and wait timers and branch policies, they are practices.
pub fn environment_rows(page: &serde_json::Value, repo: &str, service: &Service, out: &mut Extracted) {
    let prefix = environments_prefix(repo);
    for env in page["environments"].as_array().cloned().unwrap_or_default() {
        let Some(name) = env["name"].as_str() else { continue };
        let production = service.is_production(name);
        let path = format!("settings/environments/{name}");
        let mut protected = false;
        for rule in env["protection_rules"].as_array().cloned().unwrap_or_default() {
            let kind = rule["type"].as_str().unwrap_or("");
            let id = format!("{prefix}{name}:{kind}");
            let row = match kind {
                "required_reviewers" => {
                    let reviewers: Vec<String> = rule["reviewers"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|r| {
                                    r["reviewer"]["login"]
                                        .as_str()
                                        .map(|l| format!("@{l}"))
                                        .or_else(|| r["reviewer"]["slug"].as_str().map(|t| format!("team {t}")))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let who = if reviewers.is_empty() { "a reviewer".to_string() } else { reviewers.join(", ") };
                    let detail = format!("deployments to `{name}` wait for approval by {who}");
                    if production {
                        evidence_row(id, repo, "manual_step", "approval", "github-environments", detail, (&path, None))
                    } else {
                        evidence_row(id, repo, "practice", "approval", "github-environments", detail, (&path, None))
                    }
                }
                "wait_timer" => {
                    let minutes = rule["wait_timer"].as_i64().unwrap_or(0);
                    let detail = format!("deployments to `{name}` wait {minutes} minutes before they start");
                    evidence_row(id, repo, "practice", "wait timer", "github-environments", detail, (&path, None))
                }
                "branch_policy" => {
                    let detail = format!("only allowed branches may deploy to `{name}`");
                    evidence_row(
                        id,
                        repo,
                        "practice",
                        "deployment branch policy",
                        "github-environments",
                        detail,
                        (&path, None),
                    )
                }
                _ => continue,
            };
            protected = true;
            out.push(&model::EVIDENCE, row);
        }
        if production && !protected {
            let detail = format!("deployments go through the `{name}` environment, with no protection rules");
            out.push(
                &model::EVIDENCE,
                evidence_row(
                    format!("{prefix}{name}:environment"),
                    repo,
                    "practice",
                    "environment",
                    "github-environments",
                    detail,
                    (&path, None),
                ),
            );
        }
    }
}

/// Where GitHub looks for CODEOWNERS, in its order of precedence, and the GraphQL alias of each.
pub const CODEOWNERS_LOCATIONS: [(&str, &str); 3] =
    [("dotgithub", ".github/CODEOWNERS"), ("root", "CODEOWNERS"), ("docs", "docs/CODEOWNERS")];

/// The CODEOWNERS file GitHub uses (the first location holding one) and its text, from the
/// GraphQL answer of [`super::CODEOWNERS_QUERY`].
pub fn codeowners_file(page: &serde_json::Value) -> Option<(&'static str, String)> {
    CODEOWNERS_LOCATIONS.iter().find_map(|(alias, path)| {
        let text = page.pointer(&format!("/data/repository/{alias}/text"))?.as_str()?;
        Some((*path, text.to_string()))
    })
}

/// Evidence rows from a repository's CODEOWNERS (GraphQL) and the errors GitHub reports in it
/// (REST `codeowners/errors`, absent when there is no file): a file with rules is a practice; no
/// file, a file that names nobody, and each reported error are ownership gaps.
pub fn codeowners_rows(file: &serde_json::Value, errors: Option<&serde_json::Value>, repo: &str, out: &mut Extracted) {
    let prefix = codeowners_prefix(repo);
    let tool = "github-codeowners";
    let Some((path, text)) = codeowners_file(file) else {
        let detail = "no CODEOWNERS file: no one is asked to review a change by the paths it touches".to_string();
        out.push(
            &model::EVIDENCE,
            evidence_row(
                format!("{prefix}missing"),
                repo,
                "gap",
                "code owners",
                tool,
                detail,
                (".github/CODEOWNERS", None),
            ),
        );
        return;
    };
    let (rules, owners) = codeowners_summary(&text);
    let (kind, detail) = if rules == 0 {
        ("gap", format!("{path} assigns no owners"))
    } else {
        ("practice", format!("{path}: {rules} rules naming {owners} owners"))
    };
    out.push(
        &model::EVIDENCE,
        evidence_row(format!("{prefix}file"), repo, kind, "code owners", tool, detail, (path, None)),
    );
    for e in errors.and_then(|e| e["errors"].as_array()).cloned().unwrap_or_default() {
        let line = e["line"].as_i64();
        let what = e["kind"].as_str().unwrap_or("error");
        let source = e["source"].as_str().unwrap_or("").trim();
        let detail = if source.is_empty() {
            format!("GitHub reports: {what}")
        } else {
            format!("GitHub reports: {what} in `{source}`")
        };
        let file = e["path"].as_str().unwrap_or(path);
        out.push(
            &model::EVIDENCE,
            evidence_row(
                format!("{prefix}error:{}:{}", line.unwrap_or(0), e["column"].as_i64().unwrap_or(0)),
                repo,
                "gap",
                "code owners error",
                tool,
                detail,
                (file, line),
            ),
        );
    }
}

/// Rules with at least one owner, and distinct owners, of a CODEOWNERS text.
fn codeowners_summary(text: &str) -> (usize, usize) {
    let mut owners = std::collections::BTreeSet::new();
    let mut rules = 0;
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') || line.starts_with("^[") {
            continue;
        }
        let named: Vec<&str> =
            line.split_whitespace().skip(1).filter(|w| w.starts_with('@') || w.contains('@')).collect();
        if !named.is_empty() {
            rules += 1;
            owners.extend(named.into_iter().map(str::to_ascii_lowercase));
        }
    }
    (rules, owners.len())
}

/// The deployment pairs a compare page answers, recovered from its `url`
/// (`…/compare/<base>...<head>`), so pages can be re-extracted without knowing why they were fetched.
pub fn compare_pair(page: &serde_json::Value) -> Option<(String, String)> {
    let url = page["url"].as_str()?;
    let spec = url.rsplit("/compare/").next()?;
    let (base, head) = spec.split_once("...")?;
    Some((base.to_string(), head.split(['?', '#']).next()?.to_string()))
}

/// `deployment_commits` rows from a compare page: the commits reachable from the deployed commit
/// and not from the previous production deployment's, shipped by every deployment of `head`
/// after a deployment of `base` (`deployments` maps the pair to those deployment ids).
pub fn compare_rows(page: &serde_json::Value, deployments: &[String], out: &mut Extracted) {
    let commits = page["commits"].as_array().cloned().unwrap_or_default();
    for deployment in deployments {
        for c in &commits {
            if let Some(sha) = c["sha"].as_str() {
                out.push(
                    &model::DEPLOYMENT_COMMITS,
                    vec![Value::Text(deployment.clone()), Value::Text(sha.to_string())],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableSchema;

    fn texts(rows: &Extracted, schema: &TableSchema) -> Vec<String> {
        rows.tables
            .get(schema.name)
            .into_iter()
            .flatten()
            .map(|r| match &r[0] {
                Value::Text(t) => t.clone(),
                other => panic!("id is not text: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_deployment_or_release_whose_32_bit_id_is_null_is_kept_under_its_node_id() {
        let service = Service::named("acme/shop", None);
        let status = serde_json::json!({ "nodes": [{ "state": "SUCCESS", "createdAt": "2025-03-01T10:05:00Z", "logUrl": null }] });
        let page = serde_json::json!({ "data": { "repository": { "deployments": {
            "pageInfo": { "hasNextPage": false, "endCursor": null },
            "nodes": [
                { "id": "DE_kwDOAAAB", "databaseId": null, "environment": "production", "createdAt": "2025-03-01T10:00:00Z",
                  "commitOid": "a".repeat(40), "creator": { "login": "deployer" }, "statuses": status },
                { "id": "DE_kwDOAAAC", "databaseId": 7, "environment": "production", "createdAt": "2025-03-01T09:00:00Z",
                  "commitOid": "b".repeat(40), "creator": { "login": "deployer" }, "statuses": status }
            ] } } } });
        let mut rows = Extracted::default();
        deployment_rows(&page, "acme/shop", &service, &RunIndex::default(), &mut rows);
        assert_eq!(
            texts(&rows, &model::DEPLOYMENTS),
            ["github:deployment:acme/shop:DE_kwDOAAAB", "github:deployment:acme/shop:7"]
        );

        let mut service = service;
        service.deployments_from = crate::config::DeploymentSignal::Releases;
        let page = serde_json::json!({ "data": { "repository": { "releases": {
            "pageInfo": { "hasNextPage": false, "endCursor": null },
            "nodes": [{ "id": "RE_kwDOAAAD", "databaseId": null, "tagName": "v1", "name": null,
                "createdAt": "2025-03-01T10:00:00Z", "publishedAt": "2025-03-01T11:00:00Z", "isDraft": false,
                "isPrerelease": false, "author": { "login": "releaser" }, "tagCommit": { "oid": "c".repeat(40) } }]
        } } } });
        let mut rows = Extracted::default();
        let meta = release_rows(&page, "acme/shop", &service, &mut rows);
        assert_eq!(texts(&rows, &model::DEPLOYMENTS), ["github:release:acme/shop:RE_kwDOAAAD"]);
        assert_eq!(meta.oldest_unfinished, None, "a published release is not waited for");
    }

    #[test]
    fn review_ids_come_from_the_full_database_id_else_the_old_one() {
        let big = Some(DatabaseId::Text("3000000001".into()));
        assert_eq!(database_id(&big, None).as_deref(), Some("3000000001"));
        assert_eq!(database_id(&big, Some(5)).as_deref(), Some("3000000001"));
        assert_eq!(database_id(&Some(DatabaseId::Number(12)), None).as_deref(), Some("12"));
        assert_eq!(database_id(&None, Some(5)).as_deref(), Some("5"), "a page recorded before");
        assert_eq!(database_id(&Some(DatabaseId::Text("x1".into())), None), None);
        assert_eq!(database_id(&None, None), None);
    }
}
