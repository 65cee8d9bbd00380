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
pub const PULL_REQUESTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
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

/// Unfinished items older than this (relative to the newest item read) no longer hold the
/// high-water mark back.
const MAX_REWIND_DAYS: i64 = 7;

/// Directory of the raw pages of workflow runs' jobs.
const JOBS: &str = "jobs";

/// Deployments (with their statuses), oldest created last.
pub const DEPLOYMENTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    deployments(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId environment createdAt commitOid
        creator { login }
        statuses(first: 20) { nodes { state createdAt } }
      }
    }
  }
}"#;

/// Issues carrying one of the incident labels, most recently updated first.
pub const INCIDENTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!, $labels: [String!]) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    issues(first: $first, after: $after, labels: $labels, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title createdAt updatedAt closedAt
        labels(first: 20) { nodes { name } }
        assignees(first: 1) { nodes { login } }
      }
    }
  }
}"#;

/// What the GitHub source reads; each has its own cursor and raw directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    PullRequests,
    WorkflowRuns,
    Deployments,
    Incidents,
}

impl Resource {
    pub const ALL: [Resource; 4] =
        [Resource::PullRequests, Resource::WorkflowRuns, Resource::Deployments, Resource::Incidents];

    pub fn name(self) -> &'static str {
        match self {
            Resource::PullRequests => "pull_requests",
            Resource::WorkflowRuns => "workflow_runs",
            Resource::Deployments => "deployments",
            Resource::Incidents => "incidents",
        }
    }

    fn query(self) -> &'static str {
        match self {
            Resource::PullRequests => PULL_REQUESTS_QUERY,
            Resource::Deployments => DEPLOYMENTS_QUERY,
            Resource::Incidents => INCIDENTS_QUERY,
            Resource::WorkflowRuns => "",
        }
    }

    fn pointer(self) -> &'static str {
        match self {
            Resource::PullRequests => "/data/repository/pullRequests",
            Resource::Deployments => "/data/repository/deployments",
            Resource::Incidents => "/data/repository/issues",
            Resource::WorkflowRuns => "/workflow_runs",
        }
    }
}

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
    /// What to read, in order.
    pub resources: Vec<Resource>,
    /// Issues with any of these labels are incidents.
    pub incident_labels: Vec<String>,
}

impl GithubRequest {
    pub fn new(repo: &str, api_url: Option<&str>, token: Option<String>) -> GithubRequest {
        GithubRequest {
            repo: repo.to_string(),
            api_url: api_url.unwrap_or(DEFAULT_API_URL).to_string(),
            token,
            pacing: Pacing::default(),
            stop_after_pages: None,
            resources: Resource::ALL.to_vec(),
            incident_labels: vec!["incident".to_string()],
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
    /// The oldest unfinished item seen, read again by the next run.
    #[serde(default)]
    oldest_unfinished: Option<DateTime<Utc>>,
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
    pages_dir(&workspace.join("raw").join("github"), repo, resource)
}

/// The pages of one resource of `repo` under `pages`, a directory laid out like a workspace's
/// `raw/github/` (`<owner>/<name>/<resource>/`).
fn pages_dir(pages: &Path, repo: &str, resource: &str) -> Result<PathBuf> {
    let (owner, name) = split_repo(repo)?;
    Ok(pages.join(owner).join(name).join(resource))
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
    let mut pages_left = request.stop_after_pages;
    let mut result = Ok(());
    for resource in &request.resources {
        let mut fetch = Fetch {
            workspace: &mut *workspace,
            config,
            request,
            runtime: &runtime,
            client: &client,
            report: &mut report,
            pages_left: &mut pages_left,
        };
        result = match resource {
            Resource::WorkflowRuns => fetch.workflow_runs(),
            other => fetch.graphql(*other),
        };
        if result.is_err() {
            break;
        }
    }
    report.requests = client.requests();
    report.retries = client.retries();
    let remaining = client.remaining.load(std::sync::atomic::Ordering::Relaxed);
    report.rate_remaining = (remaining != u64::MAX).then_some(remaining);
    result?;
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}

/// One resource being fetched, page by page.
struct Fetch<'a> {
    workspace: &'a mut Workspace,
    config: &'a Config,
    request: &'a GithubRequest,
    runtime: &'a tokio::runtime::Runtime,
    client: &'a Client,
    report: &'a mut GithubReport,
    pages_left: &'a mut Option<usize>,
}

impl Fetch<'_> {
    fn repo(&self) -> &str {
        &self.request.repo
    }

    /// Counts a page against `stop_after_pages`.
    fn page_budget(&mut self) -> Result<()> {
        match self.pages_left {
            Some(0) => Err(Error::Github {
                repo: self.repo().to_string(),
                message: "stopped after the pages asked for; the next run resumes".into(),
            }),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Starts or resumes a run of `resource`.
    fn begin(&mut self, resource: Resource) -> (String, Cursor, Run) {
        let name = source_name(self.repo(), resource.name());
        let mut cursor = load_cursor(self.workspace, &name);
        let run = match cursor.run.take() {
            Some(run) => {
                self.report.resumed = true;
                run
            }
            None => Run { stop_at: cursor.high_water, ..Default::default() },
        };
        (name, cursor, run)
    }

    fn store(&mut self, rows: Extracted) -> Result<()> {
        count(self.report, &rows);
        let stats = self.workspace.upsert(&rows.batches())?;
        merge_stats(&mut self.report.tables, stats);
        Ok(())
    }

    fn finish(&mut self, name: &str, mut cursor: Cursor, run: Run) -> Result<()> {
        let high = match (cursor.high_water, run.next_high_water) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // Unfinished items (running deployments and workflow runs) are read again next time —
        // unless they have been unfinished for more than a week: a run stuck in a queue must not
        // make every later collection read a week of history again.
        cursor.high_water = match (high, run.oldest_unfinished) {
            (Some(h), Some(u)) if h - u <= chrono::Duration::days(MAX_REWIND_DAYS) => Some(h.min(u)),
            (Some(h), _) => Some(h),
            (None, u) => u,
        };
        cursor.run = None;
        save_cursor(self.workspace, name, &cursor)
    }

    /// The (run, attempt) pairs whose jobs the workspace already holds.
    fn jobs_read(&self) -> Result<std::collections::HashSet<(String, i64)>> {
        let jobs = self.workspace.load(&model::JOBS)?;
        let runs = jobs.column("pipeline_id")?.str()?.clone();
        let attempts = jobs.column("attempt")?.i64()?.clone();
        Ok((0..jobs.height())
            .filter_map(|i| Some((runs.get(i)?.to_string(), attempts.get(i).unwrap_or(1))))
            .filter(|(run, _)| run.starts_with(&format!("github:run:{}:", self.repo())))
            .collect())
    }

    /// A REST page must hold its list, so the raw layer only keeps pages extraction can read.
    fn expect_array(&self, json: &serde_json::Value, field: &str, path: &str) -> Result<()> {
        if json.get(field).is_some_and(|v| v.is_array()) {
            Ok(())
        } else {
            Err(Error::Github {
                repo: self.repo().to_string(),
                message: format!("{path}: the answer has no `{field}` list; is `api_url` the REST API root?"),
            })
        }
    }

    fn graphql(&mut self, resource: Resource) -> Result<()> {
        let (owner, name) = split_repo(&self.request.repo)?;
        let (owner, name) = (owner.to_string(), name.to_string());
        let service = service_for(self.config, self.repo());
        let dir = raw_dir(self.workspace.root(), self.repo(), resource.name())?;
        let (cursor_name, cursor, mut run) = self.begin(resource);
        loop {
            self.page_budget()?;
            let mut variables = serde_json::json!({ "owner": owner, "name": name, "after": run.after });
            if resource == Resource::Incidents {
                variables["labels"] = serde_json::json!(self.request.incident_labels);
            }
            let page = self.runtime.block_on(self.client.graphql(resource.query(), variables))?;
            if page.json.pointer(resource.pointer()).is_none_or(|c| c.is_null()) {
                return Err(Error::Github {
                    repo: self.repo().to_string(),
                    message: "GitHub answered without the repository: check `repo` and that the token can read it"
                        .into(),
                });
            }
            // Shape first, so that a page kept in the raw layer is always one extraction can read.
            let mut rows = Extracted::default();
            let (meta, _) = extract_page(resource, &page.body, &page.json, self.repo(), &service, &mut rows)?;
            write_raw(&dir, &page.body)?;
            if run.next_high_water.is_none() {
                run.next_high_water = meta.newest.or(run.stop_at);
            }
            run.oldest_unfinished = min_time(run.oldest_unfinished, meta.oldest_unfinished);
            let older = matches!((meta.oldest, run.stop_at), (Some(o), Some(s)) if o < s);
            let more = meta.has_next && !older;
            run.after = meta.end_cursor;
            run.pages += 1;
            self.report.pages += 1;
            self.store(rows)?;
            if !more {
                break;
            }
            let mut state = cursor.clone();
            state.run = Some(run.clone());
            save_cursor(self.workspace, &cursor_name, &state)?;
        }
        self.finish(&cursor_name, cursor, run)
    }

    fn workflow_runs(&mut self) -> Result<()> {
        let repo = self.repo().to_string();
        let service = service_for(self.config, &repo);
        let runs_dir = raw_dir(self.workspace.root(), &repo, Resource::WorkflowRuns.name())?;
        let jobs_dir = raw_dir(self.workspace.root(), &repo, JOBS)?;
        let (cursor_name, cursor, mut run) = self.begin(Resource::WorkflowRuns);
        let known = self.jobs_read()?;
        let mut next = match run.after.clone() {
            Some(path) => path,
            None => {
                let mut path = format!("/repos/{repo}/actions/runs?per_page=100");
                if let Some(since) = run.stop_at {
                    path.push_str(&format!("&created=%3E%3D{}", since.format("%Y-%m-%dT%H:%M:%SZ")));
                }
                path
            }
        };
        loop {
            self.page_budget()?;
            let page = self.runtime.block_on(self.client.get(&next))?;
            self.expect_array(&page.json, "workflow_runs", &next)?;
            let mut rows = Extracted::default();
            let (meta, completed) =
                extract_page(Resource::WorkflowRuns, &page.body, &page.json, &repo, &service, &mut rows)?;
            write_raw(&runs_dir, &page.body)?;
            for (id, attempt) in completed {
                if known.contains(&(format!("github:run:{repo}:{id}"), attempt)) {
                    continue; // this attempt's jobs were read by an earlier run
                }
                let mut jobs_next = Some(format!("/repos/{repo}/actions/runs/{id}/jobs?per_page=100"));
                while let Some(path) = jobs_next {
                    let jobs = self.runtime.block_on(self.client.get(&path))?;
                    self.expect_array(&jobs.json, "jobs", &path)?;
                    write_raw(&jobs_dir, &jobs.body)?;
                    extract::job_rows(&jobs.json, &repo, &mut rows);
                    jobs_next = client::next_link(&jobs.headers, &self.request.api_url);
                }
            }
            if run.next_high_water.is_none() {
                run.next_high_water = meta.newest.or(run.stop_at);
            }
            run.oldest_unfinished = min_time(run.oldest_unfinished, meta.oldest_unfinished);
            run.pages += 1;
            self.report.pages += 1;
            self.store(rows)?;
            match client::next_link(&page.headers, &self.request.api_url) {
                Some(path) => {
                    next = path;
                    run.after = Some(next.clone());
                    let mut state = cursor.clone();
                    state.run = Some(run.clone());
                    save_cursor(self.workspace, &cursor_name, &state)?;
                }
                None => break,
            }
        }
        self.finish(&cursor_name, cursor, run)
    }
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Extracts one raw page of `resource` (the same function online and offline).
fn extract_page(
    resource: Resource,
    body: &str,
    json: &serde_json::Value,
    repo: &str,
    service: &Service,
    out: &mut Extracted,
) -> Result<(extract::PageMeta, Vec<(i64, i64)>)> {
    Ok(match resource {
        Resource::PullRequests => {
            let parsed = extract::parse_pull_requests(body, repo)?;
            extract::pull_request_rows(&parsed, repo, service, out);
            (extract::graphql_meta(json, resource.pointer(), "updatedAt").unwrap_or_default(), Vec::new())
        }
        Resource::Deployments => (extract::deployment_rows(json, repo, service, out), Vec::new()),
        Resource::Incidents => (extract::incident_rows(json, repo, service, out), Vec::new()),
        Resource::WorkflowRuns => extract::workflow_run_rows(json, repo, service, out),
    })
}

/// Rebuilds the rows of one repository from its raw pages alone (no network), upserting each
/// resource's pages in the order they were fetched.
pub fn reextract(workspace: &mut Workspace, config: &Config, repo: &str) -> Result<GithubReport> {
    let pages = workspace.root().join("raw").join("github");
    reextract_from(workspace, config, repo, &pages).map_err(|e| match e {
        Error::NotFound(m) => Error::NotFound(format!("{m}: run `flowgauge collect github --repo {repo}` first")),
        e => e,
    })
}

/// [`reextract`] from pages kept elsewhere: `pages` is laid out like a workspace's `raw/github/`
/// (`<owner>/<name>/<resource>/NNNNNNNN.json`), e.g. pages recorded once and shipped with a
/// configuration (`recorded` in a github source). No network, no token.
pub fn reextract_from(workspace: &mut Workspace, config: &Config, repo: &str, pages: &Path) -> Result<GithubReport> {
    let service = service_for(config, repo);
    let mut report = GithubReport { repo: repo.to_string(), ..Default::default() };
    let mut dirs: Vec<(Option<Resource>, PathBuf)> = Vec::new();
    for resource in Resource::ALL {
        dirs.push((Some(resource), pages_dir(pages, repo, resource.name())?));
    }
    dirs.push((None, pages_dir(pages, repo, JOBS)?));
    for (resource, dir) in dirs {
        for path in raw_pages(&dir)? {
            let body = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| Error::Github {
                repo: repo.to_string(),
                message: format!("raw page {} is not JSON: {e}", path.display()),
            })?;
            let mut rows = Extracted::default();
            match resource {
                Some(resource) => {
                    extract_page(resource, &body, &json, repo, &service, &mut rows)?;
                }
                None => extract::job_rows(&json, repo, &mut rows),
            }
            count(&mut report, &rows);
            report.pages += 1;
            let stats = workspace.upsert(&rows.batches())?;
            merge_stats(&mut report.tables, stats);
        }
    }
    if report.pages == 0 {
        return Err(Error::NotFound(format!("no raw GitHub pages for {repo} in {}", pages.join(repo).display())));
    }
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}
