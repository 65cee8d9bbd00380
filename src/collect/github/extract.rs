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
