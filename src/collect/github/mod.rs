//! The GitHub source: pull requests (with commits, reviews and first responses) through the GraphQL
//! API, kept page by page in the workspace's raw layer and extracted into the domain tables.
//!
//! Why it is shaped like this: GitHub is how most users feed flowgauge, so the source must be frugal
//! (one GraphQL request brings 100 pull requests with their commits and reviews), incremental (a
//! per-repository, per-resource high-water mark in the manifest), resumable (the manifest also holds
//! the cursor of a run in progress, written after every page, so an interrupted run continues where
//! it stopped) and reproducible (every page body is written atomically under
//! `raw/github/<owner>/<name>/<resource>/` before extraction, and [`reextract`] rebuilds the rows
//! from those pages with no network). Pages are upserted by key, so re-reading a page — after a
//! retry, a resume or a page that shifted between calls — never duplicates a row.

pub mod client;
pub mod extract;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Service};
use crate::error::{Error, Result};
use crate::model;
use crate::store::{SourceState, UpsertStats, Workspace};

use client::Client;
pub use client::Pacing;
use extract::Extracted;

/// GitHub's public API root.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The pull-request query: 100 pull requests per page, most recently updated first, each with its
/// first 100 commits and reviews and first 20 conversation comments (enough to find the first
/// response), and the query's rate-limit cost.
pub const PULL_REQUESTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title state createdAt updatedAt mergedAt closedAt
        author { __typename login }
        baseRefName headRefName
        mergeCommit { oid }
        additions deletions changedFiles
        labels(first: 20) { nodes { name } }
        commits(first: 100) { totalCount nodes { commit { oid authoredDate } } }
        reviews(first: 100) { totalCount nodes { databaseId author { __typename login } state submittedAt } }
        comments(first: 20) { nodes { databaseId author { __typename login } createdAt } }
      }
    }
  }
}"#;

/// What to collect from one repository.
#[derive(Debug, Clone)]
pub struct GithubRequest {
    /// `owner/name`.
    pub repo: String,
    /// REST API root; GraphQL is found beside it.
    pub api_url: String,
    /// From `GITHUB_TOKEN` or `GH_TOKEN`; never written anywhere.
    pub token: Option<String>,
    pub pacing: Pacing,
    /// Stop (with an error) after this many pages in this run; for tests of interrupted runs.
    pub stop_after_pages: Option<usize>,
}

impl GithubRequest {
    pub fn new(repo: &str, api_url: Option<&str>, token: Option<String>) -> GithubRequest {
        GithubRequest {
            repo: repo.to_string(),
            api_url: api_url.unwrap_or(DEFAULT_API_URL).to_string(),
            token,
            pacing: Pacing::default(),
            stop_after_pages: None,
        }
    }
}

/// The token from `GITHUB_TOKEN`, else `GH_TOKEN` (empty values ignored).
pub fn token_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"].iter().find_map(|k| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()))
}

/// What collecting (or re-extracting) one repository did.
#[derive(Debug, Clone, Default)]
pub struct GithubReport {
    pub repo: String,
    /// HTTP requests made, retries included.
    pub requests: u64,
    pub retries: u64,
    /// Pages fetched (or read from the raw layer).
    pub pages: usize,
    pub changes: usize,
    pub reviews: usize,
    pub change_commits: usize,
    /// The run continued an interrupted one.
    pub resumed: bool,
    /// GraphQL points left in the hour, when GitHub said.
    pub rate_remaining: Option<u64>,
    pub warnings: Vec<String>,
    pub tables: Vec<UpsertStats>,
}

/// Per-repository, per-resource sync state, stored as JSON in the manifest's cursor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Cursor {
    /// Every item updated at or before this instant has been read.
    high_water: Option<DateTime<Utc>>,
    /// A run in progress (present only while a run is unfinished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<Run>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Run {
    /// GraphQL cursor of the next page to read.
    after: Option<String>,
    /// The high-water mark the run started from: it stops at items older than this.
    stop_at: Option<DateTime<Utc>>,
    /// The newest `updatedAt` of the run's first page, the next high-water mark.
    next_high_water: Option<DateTime<Utc>>,
    pages: usize,
}

fn split_repo(repo: &str) -> Result<(&str, &str)> {
    match repo.split_once('/') {
        Some((owner, name))
            if !owner.is_empty()
                && !name.is_empty()
                && !name.contains('/')
                && [owner, name].iter().all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
                && ![owner, name].iter().any(|p| p.starts_with('.')) =>
        {
            Ok((owner, name))
        }
        _ => Err(Error::ConfigValue {
            key: "repo".into(),
            message: format!("`{repo}` is not a GitHub repository written as owner/name"),
        }),
    }
}

fn source_name(repo: &str, resource: &str) -> String {
    format!("github:{repo}:{resource}")
}

/// Where a repository's raw pages of one resource are kept.
pub fn raw_dir(workspace: &Path, repo: &str, resource: &str) -> Result<PathBuf> {
    let (owner, name) = split_repo(repo)?;
    Ok(workspace.join("raw").join("github").join(owner).join(name).join(resource))
}

/// The raw pages of a resource, in the order they were fetched.
fn raw_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut pages: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// Writes a page body atomically (temporary file, sync, rename) as the next page of `dir`.
fn write_raw(dir: &Path, body: &str) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let next = raw_pages(dir)?.last().and_then(|p| p.file_stem()?.to_str()?.parse::<u64>().ok()).map_or(1, |n| n + 1);
    let path = dir.join(format!("{next:08}.json"));
    let tmp = dir.join(format!(".{next:08}.json.tmp"));
    let mut file = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(body.as_bytes()).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

fn load_cursor(workspace: &Workspace, name: &str) -> Cursor {
    workspace.manifest().sources.get(name).and_then(|s| serde_json::from_str(&s.cursor).ok()).unwrap_or_default()
}

fn save_cursor(workspace: &mut Workspace, name: &str, cursor: &Cursor) -> Result<()> {
    let text = serde_json::to_string(cursor).expect("cursor serialises");
    workspace.record_source(name, SourceState { last_run: Utc::now(), cursor: text })
}

fn service_for(config: &Config, repo: &str) -> Service {
    config.service_for_repo(repo).cloned().unwrap_or_else(|| super::default_service(repo))
}

fn count(report: &mut GithubReport, rows: &Extracted) {
    report.changes += rows.rows(&model::CHANGES);
    report.reviews += rows.rows(&model::REVIEWS);
    report.change_commits += rows.rows(&model::CHANGE_COMMITS);
    report.warnings.extend(rows.truncated.iter().map(|t| format!("only one page of a nested list was read: {t}")));
}

fn merge_stats(all: &mut Vec<UpsertStats>, new: Vec<UpsertStats>) {
    for s in new {
        match all.iter_mut().find(|a| a.table == s.table) {
            Some(a) => {
                a.incoming += s.incoming;
                a.after = s.after;
            }
            None => all.push(s),
        }
    }
}

/// Collects one repository from GitHub into the workspace.
pub fn collect_github(workspace: &mut Workspace, config: &Config, request: &GithubRequest) -> Result<GithubReport> {
    split_repo(&request.repo)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Github {
        repo: request.repo.clone(),
        message: format!("cannot start the network runtime: {e}"),
    })?;
    // octocrab spawns its connection worker on the runtime it is built in. Only requests run inside
    // the runtime: the store (polars) must not, as it keeps its own.
    let client = {
        let _entered = runtime.enter();
        Client::new(&request.api_url, request.token.clone(), request.pacing, &request.repo)?
    };
    let mut report = GithubReport { repo: request.repo.clone(), ..Default::default() };
    let result = pull_requests(workspace, config, request, &runtime, &client, &mut report);
    report.requests = client.requests();
    report.retries = client.retries();
    let remaining = client.remaining.load(std::sync::atomic::Ordering::Relaxed);
    report.rate_remaining = (remaining != u64::MAX).then_some(remaining);
    result?;
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}

fn pull_requests(
    workspace: &mut Workspace,
    config: &Config,
    request: &GithubRequest,
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    report: &mut GithubReport,
) -> Result<()> {
    let repo = request.repo.as_str();
    let (owner, name) = split_repo(repo)?;
    let service = service_for(config, repo);
    let dir = raw_dir(workspace.root(), repo, "pull_requests")?;
    let cursor_name = source_name(repo, "pull_requests");
    let mut cursor = load_cursor(workspace, &cursor_name);
    let mut run = match cursor.run.take() {
        Some(run) => {
            report.resumed = true;
            run
        }
        None => Run { stop_at: cursor.high_water, ..Default::default() },
    };
    let mut pages_this_run = 0;
    loop {
        if request.stop_after_pages.is_some_and(|n| pages_this_run >= n) {
            return Err(Error::Github {
                repo: repo.to_string(),
                message: format!("stopped after {pages_this_run} pages as asked; the next run resumes"),
            });
        }
        let variables = serde_json::json!({ "owner": owner, "name": name, "after": run.after });
        let page = runtime.block_on(client.graphql(PULL_REQUESTS_QUERY, variables))?;
        // Shape first, so that a page kept in the raw layer is always one extraction can read.
        let parsed = extract::parse_pull_requests(&page.body, repo)?;
        let Some(connection) = parsed.connection() else {
            return Err(Error::Github {
                repo: repo.to_string(),
                message: "GitHub answered without the repository: check `repo` and that the token can read it".into(),
            });
        };
        write_raw(&dir, &page.body)?;
        let mut rows = Extracted::default();
        extract::pull_request_rows(&parsed, repo, &service, &mut rows);
        count(report, &rows);
        let newest = connection.nodes.iter().flatten().filter_map(|p| p.updated_at).max();
        let oldest = connection.nodes.iter().flatten().filter_map(|p| p.updated_at).min();
        if run.next_high_water.is_none() {
            run.next_high_water = newest.or(run.stop_at);
        }
        let info = connection.page_info.as_ref();
        let more =
            info.is_some_and(|i| i.has_next_page) && !matches!((oldest, run.stop_at), (Some(o), Some(s)) if o < s);
        run.after = info.and_then(|i| i.end_cursor.clone());
        run.pages += 1;
        pages_this_run += 1;
        report.pages += 1;
        let stats = workspace.upsert(&rows.batches())?;
        merge_stats(&mut report.tables, stats);
        if !more {
            break;
        }
        cursor.run = Some(run.clone());
        save_cursor(workspace, &cursor_name, &cursor)?;
        cursor.run = None;
    }
    cursor.high_water = match (cursor.high_water, run.next_high_water) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    cursor.run = None;
    save_cursor(workspace, &cursor_name, &cursor)
}

/// Rebuilds the rows of one repository from its raw pages alone (no network), upserting the pages
/// in the order they were fetched.
pub fn reextract(workspace: &mut Workspace, config: &Config, repo: &str) -> Result<GithubReport> {
    let service = service_for(config, repo);
    let dir = raw_dir(workspace.root(), repo, "pull_requests")?;
    let pages = raw_pages(&dir)?;
    if pages.is_empty() {
        return Err(Error::NotFound(format!(
            "no raw GitHub pages for {repo} under {}: run `flowgauge collect github --repo {repo}` first",
            dir.display()
        )));
    }
    let mut report = GithubReport { repo: repo.to_string(), ..Default::default() };
    for path in pages {
        let body = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let parsed = extract::parse_pull_requests(&body, &path.display().to_string())?;
        let mut rows = Extracted::default();
        extract::pull_request_rows(&parsed, repo, &service, &mut rows);
        count(&mut report, &rows);
        report.pages += 1;
        let stats = workspace.upsert(&rows.batches())?;
        merge_stats(&mut report.tables, stats);
    }
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}
