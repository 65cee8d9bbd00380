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
pub mod references;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::{Config, DeploymentSignal, Service};
use crate::error::{Error, Result};
use crate::model;
use crate::store::{UpsertStats, Workspace};

use crate::collect::http::cursor::{self, CreatedRange, Cursor, Cut, load_cursor};
use crate::collect::http::headers::next_link;
pub use crate::collect::http::progress::{Progress, ProgressSink};
use crate::collect::http::raw::{self, raw_pages, write_raw_named};
pub use crate::collect::http::retry::Pacing;
use crate::collect::http::runner::{self, Api, ApiClient, ApiReport, ApiRequest, Budgets, Session};
use crate::collect::rollbacks;
use client::Client;
use extract::{Extracted, RunIndex};

/// GitHub's public API root.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The pull-request query: 100 pull requests per page, most recently updated first, each with its
/// first 100 commits and reviews and first 20 conversation comments (enough to find the first
/// response), and the query's rate-limit cost. Reviews and comments are named by `fullDatabaseId`
/// (a 64-bit id sent as a string): GitHub deprecated the 32-bit `databaseId`, which is null for an
/// id that does not fit.
pub const PULL_REQUESTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        number title body state createdAt updatedAt mergedAt closedAt
        author { __typename login }
        baseRefName headRefName
        mergeCommit { oid }
        additions deletions changedFiles
        labels(first: 20) { nodes { name } }
        commits(first: 100) { totalCount nodes { commit { oid authoredDate } } }
        reviews(first: 100) { totalCount nodes { fullDatabaseId author { __typename login } state submittedAt } }
        comments(first: 20) { totalCount nodes { fullDatabaseId author { __typename login } createdAt } }
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
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id databaseId environment createdAt commitOid
        creator { login }
        statuses(first: 20) { totalCount nodes { state createdAt logUrl } }
      }
    }
  }
}"#;

/// Issues carrying one of the incident labels, most recently updated first.
pub const INCIDENTS_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!, $labels: [String!]) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    issues(first: $first, after: $after, labels: $labels, orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        number title body createdAt updatedAt closedAt
        labels(first: 20) { nodes { name } }
        assignees(first: 1) { nodes { login } }
      }
    }
  }
}"#;

/// Published releases with their tag's commit, newest first (for `deployments_from = "releases"`).
pub const RELEASES_QUERY: &str = r#"query($owner: String!, $name: String!, $after: String, $first: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    releases(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id databaseId tagName name createdAt publishedAt isDraft isPrerelease
        author { login }
        tagCommit { oid }
      }
    }
  }
}"#;

/// The CODEOWNERS file at each place GitHub looks for one, in one request.
pub const CODEOWNERS_QUERY: &str = r#"query($owner: String!, $name: String!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    dotgithub: object(expression: "HEAD:.github/CODEOWNERS") { ... on Blob { text } }
    root: object(expression: "HEAD:CODEOWNERS") { ... on Blob { text } }
    docs: object(expression: "HEAD:docs/CODEOWNERS") { ... on Blob { text } }
  }
}"#;

/// What the GitHub source reads; each has its own cursor and raw directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    PullRequests,
    WorkflowRuns,
    Deployments,
    Releases,
    Incidents,
    /// Environments and their protection rules (a snapshot).
    Environments,
    /// CODEOWNERS and the errors GitHub reports in it (a snapshot).
    Codeowners,
    /// What each production deployment shipped: the commits between it and the previous one.
    DeploymentCommits,
}

impl Resource {
    /// Every resource, in the order they are read: deployments before what they ship.
    pub const ALL: [Resource; 8] = [
        Resource::PullRequests,
        Resource::WorkflowRuns,
        Resource::Deployments,
        Resource::Releases,
        Resource::Incidents,
        Resource::Environments,
        Resource::Codeowners,
        Resource::DeploymentCommits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::PullRequests => "pull_requests",
            Resource::WorkflowRuns => "workflow_runs",
            Resource::Deployments => "deployments",
            Resource::Releases => "releases",
            Resource::Incidents => "incidents",
            Resource::Environments => "environments",
            Resource::Codeowners => "codeowners",
            Resource::DeploymentCommits => "compare",
        }
    }

    fn query(self) -> &'static str {
        match self {
            Resource::PullRequests => PULL_REQUESTS_QUERY,
            Resource::Deployments => DEPLOYMENTS_QUERY,
            Resource::Releases => RELEASES_QUERY,
            Resource::Incidents => INCIDENTS_QUERY,
            Resource::Codeowners => CODEOWNERS_QUERY,
            Resource::WorkflowRuns | Resource::Environments | Resource::DeploymentCommits => "",
        }
    }

    fn pointer(self) -> &'static str {
        match self {
            Resource::PullRequests => "/data/repository/pullRequests",
            Resource::Deployments => "/data/repository/deployments",
            Resource::Releases => "/data/repository/releases",
            Resource::Incidents => "/data/repository/issues",
            Resource::Codeowners => "/data/repository",
            Resource::WorkflowRuns => "/workflow_runs",
            Resource::Environments => "/environments",
            Resource::DeploymentCommits => "/commits",
        }
    }

    /// Whether `service` needs this resource: a repository reads the deployments of the kind its
    /// service is configured to deploy by, and no other.
    pub fn wanted_for(self, service: &Service) -> bool {
        match self {
            Resource::Deployments => service.deployments_from == DeploymentSignal::Deployments,
            Resource::Releases => service.deployments_from == DeploymentSignal::Releases,
            _ => true,
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
    /// Told after every page, so a front end can show progress.
    pub progress: Option<ProgressSink>,
    /// Read the jobs of every finished workflow run; otherwise only of runs of the service's deploy
    /// workflows (`deploy_workflows`), where approval waits and deployment jobs are.
    pub all_jobs: bool,
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
            progress: None,
            all_jobs: false,
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
    pub graphql_remaining: Option<u64>,
    /// REST (`core`) requests left in the hour, when GitHub said; a budget apart from GraphQL's.
    pub rest_remaining: Option<u64>,
    /// GraphQL points this run spent.
    pub points: u64,
    /// Conditional requests GitHub answered "not modified" (free of rate limit).
    pub not_modified: u64,
    pub deployments: usize,
    pub deployment_commits: usize,
    pub evidence: usize,
    pub warnings: Vec<String>,
    /// What limits the figures built from this repository's data (listings GitHub cut short), as
    /// recorded with its sources in the manifest: for a collection from the API, every resource's
    /// warnings after this run; for pages read offline, those the pages show (named
    /// `github:OWNER/NAME`).
    pub data_warnings: Vec<model::DataWarning>,
    pub tables: Vec<UpsertStats>,
}

/// GitHub lists at most this many workflow runs for one query filtered by `created` (its
/// documentation of "List workflow runs for a repository": "up to 1,000 results for each search
/// when using the following parameters: … created …"), while `total_count` still says how many
/// match. A range holding more is split until each part holds no more.
pub const RUNS_PER_QUERY: u64 = 1000;

/// The lower bound of the first listing of a repository's workflow runs: before GitHub existed, so
/// before any run.
const EARLIEST_RUN: &str = "2008-01-01T00:00:00Z";

/// The query of the first page of workflow runs created in `range`.
fn runs_path(repo: &str, range: &CreatedRange) -> String {
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    format!("/repos/{repo}/actions/runs?per_page=100&created={}..{}", at(range.from), at(range.to))
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

fn service_for(config: &Config, repo: &str) -> Service {
    config.service_for_repo(repo).cloned().unwrap_or_else(|| super::default_service(repo))
}

impl ApiReport for GithubReport {
    fn pages(&self) -> usize {
        self.pages
    }

    fn mark_resumed(&mut self) {
        self.resumed = true;
    }

    fn tables(&mut self) -> &mut Vec<UpsertStats> {
        &mut self.tables
    }

    fn count(&mut self, rows: &Extracted) {
        self.changes += rows.rows(&model::CHANGES);
        self.reviews += rows.rows(&model::REVIEWS);
        self.change_commits += rows.rows(&model::CHANGE_COMMITS);
        self.deployments += rows.rows(&model::DEPLOYMENTS);
        self.deployment_commits += rows.rows(&model::DEPLOYMENT_COMMITS);
        self.evidence += rows.rows(&model::EVIDENCE);
        self.warnings
            .extend(rows.truncated.iter().map(|t| format!("only one page of a nested list was read: {}", t.detail)));
    }

    fn close(&mut self, requests: u64, retries: u64, data_warnings: Vec<model::DataWarning>) {
        (self.requests, self.retries, self.data_warnings) = (requests, retries, data_warnings);
    }
}

impl ApiRequest for GithubRequest {
    fn target(&self) -> &str {
        &self.repo
    }

    fn source(&self) -> String {
        format!("github:{}", self.repo)
    }

    fn stop_after_pages(&self) -> Option<usize> {
        self.stop_after_pages
    }

    fn progress(&self) -> Option<&ProgressSink> {
        self.progress.as_ref()
    }

    fn error(&self, message: String) -> Error {
        Error::Github { repo: self.repo.clone(), message }
    }
}

impl ApiClient for Client {
    fn requests(&self) -> u64 {
        Client::requests(self)
    }

    fn retries(&self) -> u64 {
        Client::retries(self)
    }

    fn budgets(&self) -> Budgets {
        Budgets {
            points: self.points.load(std::sync::atomic::Ordering::Relaxed),
            graphql_remaining: self.budgets.graphql_left(),
            rest_remaining: self.budgets.rest_left(),
        }
    }
}

/// The GitHub source's place in the resource runner.
pub struct Github;

impl Api for Github {
    type Request = GithubRequest;
    type Client = Client;
    type Report = GithubReport;
    const NAME: &'static str = "GitHub";
    const MAX_REWIND_DAYS: i64 = MAX_REWIND_DAYS;
}

/// One resource of a repository being fetched, page by page.
type Fetch<'a> = runner::Fetch<'a, Github>;

/// Collects one repository from GitHub into the workspace.
pub fn collect_github(workspace: &mut Workspace, config: &Config, request: &GithubRequest) -> Result<GithubReport> {
    split_repo(&request.repo)?;
    let runtime = runner::network_runtime(|message| request.error(message))?;
    // octocrab spawns its connection worker on the runtime it is built in. Only requests run inside
    // the runtime: the store (polars) must not, as it keeps its own.
    let client = {
        let _entered = runtime.enter();
        Client::new(&request.api_url, request.token.clone(), request.pacing, &request.repo)?
    };
    let service = service_for(config, &request.repo);
    let mut report = GithubReport { repo: request.repo.clone(), ..Default::default() };
    let session = Session { request, service: &service, runtime: &runtime, client: &client };
    let wanted = request.resources.iter().copied().filter(|r| r.wanted_for(&service));
    runner::collect(workspace, config, session, &mut report, wanted, |fetch, resource| {
        match resource {
            Resource::WorkflowRuns => fetch.workflow_runs(),
            Resource::Environments => fetch.environments(),
            Resource::Codeowners => fetch.codeowners(),
            Resource::DeploymentCommits => fetch.deployment_commits(),
            other => fetch.graphql(other),
        }?;
        if matches!(resource, Resource::Deployments | Resource::Releases | Resource::WorkflowRuns) {
            mark_rollbacks(fetch.workspace, &request.repo)?;
        }
        Ok(())
    })?;
    let budgets = client.budgets();
    report.points = budgets.points;
    report.graphql_remaining = budgets.graphql_remaining;
    report.rest_remaining = budgets.rest_remaining;
    Ok(report)
}

impl Fetch<'_> {
    fn repo(&self) -> &str {
        &self.request.repo
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
        let dir = raw_dir(self.workspace.root(), self.repo(), resource.name())?;
        let mut known = if resource == Resource::Deployments {
            run_index(self.workspace, self.repo())?
        } else {
            RunIndex::default()
        };
        let (cursor_name, mut cursor, mut run) = self.begin(resource.name());
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
            if resource == Resource::Deployments {
                self.approvals(&page.json, &mut known)?;
            }
            // Shape first, so that a page kept in the raw layer is always one extraction can read.
            let mut rows = Extracted::default();
            let meta = extract_page(resource, &page.body, &page.json, self.repo(), self.service, &known, &mut rows)?;
            self.raw.write(&dir, &page.body)?;
            if run.next_high_water.is_none() {
                run.next_high_water = meta.newest.or(run.stop_at);
            }
            run.oldest_unfinished = min_time(run.oldest_unfinished, meta.oldest_unfinished);
            // Releases are few and sorted by their tag commit's date, not by when they were
            // published, so a new release of an older commit can sort below the high-water mark:
            // they are read whole every time.
            let older =
                resource != Resource::Releases && matches!((meta.oldest, run.stop_at), (Some(o), Some(s)) if o < s);
            let more = meta.has_next && !older;
            run.after = meta.end_cursor;
            run.pages += 1;
            self.report.pages += 1;
            rows.note_cuts(&mut cursor.truncated);
            self.store(rows)?;
            let total = page.json.pointer(&format!("{}/totalCount", resource.pointer())).and_then(|t| t.as_u64());
            let items = page
                .json
                .pointer(&format!("{}/nodes", resource.pointer()))
                .and_then(|n| n.as_array())
                .map_or(0, Vec::len);
            self.progress(resource.name(), items as u64, total, !more);
            if !more {
                break;
            }
            let mut state = cursor.clone();
            state.run = Some(run.clone());
            self.save_cursor(&cursor_name, &state)?;
        }
        self.finish(&cursor_name, cursor, run)
    }

    /// Workflow runs, listed by creation time in ranges GitHub lists whole: GitHub returns at most
    /// [`RUNS_PER_QUERY`] runs for a `created` filter and silently drops the rest, so a range whose
    /// first page reports more is split in halves (newest first) before any of it is read, and a
    /// listing that ends having returned fewer runs than it reported is an error: the cursor is not
    /// moved past runs never read, and the next run lists that range again, in halves.
    fn workflow_runs(&mut self) -> Result<()> {
        /// A deployment that loses its run loses who started it and whether by hand.
        const RUN_AFFECTS: [&str; 2] = ["deployment-frequency", "lead-time"];
        let repo = self.repo().to_string();
        let runs_dir = raw_dir(self.workspace.root(), &repo, Resource::WorkflowRuns.name())?;
        let jobs_dir = raw_dir(self.workspace.root(), &repo, JOBS)?;
        let (cursor_name, mut cursor, mut run) = self.begin(Resource::WorkflowRuns.name());
        let known = self.jobs_read()?;
        if run.ranges.is_empty() {
            // A new run (or one left by a version that listed runs in one query): everything created
            // from the high-water mark up to now, in whole seconds.
            let earliest = DateTime::parse_from_rfc3339(EARLIEST_RUN).expect("valid instant").with_timezone(&Utc);
            let from = run.stop_at.unwrap_or(earliest);
            let whole = |t: DateTime<Utc>| DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(t);
            run.ranges = vec![CreatedRange { from: whole(from), to: whole(Utc::now()) }];
            (run.after, run.listed) = (None, 0);
        }
        while let Some(range) = run.ranges.last().copied() {
            self.page_budget()?;
            let first_page = run.after.is_none();
            let path = run.after.clone().unwrap_or_else(|| runs_path(&repo, &range));
            let page = self.runtime.block_on(self.client.get(&path))?;
            self.expect_array(&page.json, "workflow_runs", &path)?;
            let reported = page.json["total_count"].as_u64();
            run.total = run.total.or(reported);
            if first_page && reported.is_some_and(|n| n > RUNS_PER_QUERY) {
                // More than GitHub would list: read none of it, list its halves instead.
                let Some((older, newer)) = range.halves() else {
                    return Err(self.too_many_runs(range, reported.unwrap_or(0)));
                };
                run.ranges.pop();
                run.ranges.extend([older, newer]);
                self.save_run(&cursor_name, &cursor, &run)?;
                continue;
            }
            let mut rows = Extracted::default();
            let (meta, completed) = extract::workflow_run_rows(&page.json, &repo, self.service, &mut rows);
            self.raw.write(&runs_dir, &page.body)?;
            for (id, attempt, name) in completed {
                if known.contains(&(format!("github:run:{repo}:{id}"), attempt)) {
                    continue; // this attempt's jobs were read by an earlier run
                }
                if !self.request.all_jobs && !self.service.is_deploy_workflow(&name) {
                    continue; // one request per run: only the runs that deliver are worth it
                }
                let mut jobs_next = Some(format!("/repos/{repo}/actions/runs/{id}/jobs?per_page=100"));
                while let Some(path) = jobs_next {
                    let jobs = self.runtime.block_on(self.client.get(&path))?;
                    self.expect_array(&jobs.json, "jobs", &path)?;
                    self.raw.write(&jobs_dir, &jobs.body)?;
                    extract::job_rows(&jobs.json, &repo, &mut rows);
                    jobs_next = next_link(&jobs.headers, &self.request.api_url);
                }
            }
            // Ranges are listed newest first, but the newest may hold no run: the mark is the newest
            // creation seen on any page (a run's `created_at` never changes).
            run.next_high_water = run.next_high_water.max(meta.newest).max(run.stop_at);
            run.oldest_unfinished = min_time(run.oldest_unfinished, meta.oldest_unfinished);
            run.pages += 1;
            self.report.pages += 1;
            self.store(rows)?;
            let items = page.json["workflow_runs"].as_array().map_or(0, Vec::len) as u64;
            run.listed += items;
            match next_link(&page.headers, &self.request.api_url) {
                Some(next) => run.after = Some(next),
                None => {
                    let listed = run.listed;
                    run.ranges.pop();
                    (run.after, run.listed) = (None, 0);
                    if let Some(reported) = reported.filter(|n| listed < *n) {
                        let Some((older, newer)) = range.halves() else {
                            // Even one second is listed short: GitHub counts runs it will not list.
                            // Asking again cannot help and must not block every later collection,
                            // so the loss is recorded as a data warning and the listing goes on.
                            cursor.truncated.insert(
                                format!("workflow runs created at {}", range.from.to_rfc3339()),
                                Cut {
                                    detail: format!(
                                        "GitHub lists {listed} of the {reported} workflow runs created at {}",
                                        range.from.to_rfc3339()
                                    ),
                                    affects: RUN_AFFECTS.map(String::from).to_vec(),
                                },
                            );
                            // Runs never move to another second: later collections start after it.
                            let after = range.to + chrono::Duration::seconds(1);
                            run.next_high_water = run.next_high_water.max(Some(after));
                            continue;
                        };
                        // GitHub stopped short: list the range again next time, in halves, and keep
                        // the cursor where it was.
                        run.ranges.extend([older, newer]);
                        self.save_run(&cursor_name, &cursor, &run)?;
                        return Err(Error::Github {
                            repo,
                            message: format!(
                                "GitHub listed {listed} of the {reported} workflow runs created from {} to {} and no more; none past them is taken as read: the next run lists that range again in smaller parts",
                                range.from.to_rfc3339(),
                                range.to.to_rfc3339()
                            ),
                        });
                    }
                }
            }
            self.progress(Resource::WorkflowRuns.name(), items, run.total, run.ranges.is_empty());
            if run.ranges.is_empty() {
                break;
            }
            self.save_run(&cursor_name, &cursor, &run)?;
        }
        self.finish(&cursor_name, cursor, run)
    }

    fn too_many_runs(&self, range: CreatedRange, reported: u64) -> Error {
        Error::Github {
            repo: self.repo().to_string(),
            message: format!(
                "GitHub reports {reported} workflow runs created at {}, more than the {RUNS_PER_QUERY} it lists for one query; they cannot all be read",
                range.from.to_rfc3339()
            ),
        }
    }

    /// Who approved the waiting deployments of a page: one request per run that waited, asked once
    /// (kept as `approvals/<run>.json`; a decision never changes).
    fn approvals(&mut self, page: &serde_json::Value, known: &mut RunIndex) -> Result<()> {
        let repo = self.repo().to_string();
        let dir = raw_dir(self.workspace.root(), &repo, APPROVALS)?;
        for run in extract::waiting_runs(page) {
            let path = dir.join(format!("{run}.json"));
            let json = if path.exists() {
                read_raw_json(&path, &repo)?.1
            } else {
                let url = format!("/repos/{repo}/actions/runs/{run}/approvals");
                let answer = self.runtime.block_on(self.client.get(&url))?;
                if !answer.json.is_array() {
                    return Err(Error::Github {
                        repo,
                        message: format!("{url}: the answer is not a list of approvals"),
                    });
                }
                write_raw_named(&dir, &format!("{run}.json"), &answer.body)?;
                answer.json
            };
            extract::approval_decisions(&json, run, known);
        }
        Ok(())
    }

    /// A conditional GET of a snapshot resource: `None` when GitHub says it has not changed since
    /// the ETag kept in the cursor (nothing to do), else the page (an empty `empty` document for 404).
    /// `empty` is the document a 404 stands for (`None`: a 404 is an error). The ETag is not
    /// recorded here: [`Fetch::snapshot_done`] records it once the page's rows are stored, so a run
    /// stopped in between asks again instead of being told "not modified" about rows it never stored.
    fn snapshot_get(&mut self, resource: &str, path: &str, empty: Option<&str>) -> Result<Option<client::Page>> {
        self.page_budget()?;
        let cursor = load_cursor(self.workspace, &self.cursor_name(resource));
        let fetched = self.runtime.block_on(self.client.get_conditional(path, cursor.etag.as_deref()))?;
        let page = match (fetched, empty) {
            (client::Fetched::NotModified, _) => {
                self.report.not_modified += 1;
                return Ok(None);
            }
            (client::Fetched::Missing, Some(empty)) => client::Page {
                body: empty.to_string(),
                json: serde_json::from_str(empty).expect("valid empty document"),
                headers: http::HeaderMap::new(),
            },
            (client::Fetched::Missing, None) => {
                return Err(Error::Github {
                    repo: self.repo().to_string(),
                    message: format!(
                        "not found (404) at {path}: check `repo` and that the token can read the repository's settings"
                    ),
                });
            }
            (client::Fetched::Page(page), _) => page,
        };
        self.report.pages += 1;
        Ok(Some(page))
    }

    /// Records the ETag of a snapshot page whose rows are stored.
    fn snapshot_done(&mut self, resource: &str, page: &client::Page, cuts: BTreeMap<String, Cut>) -> Result<()> {
        let name = self.cursor_name(resource);
        let mut cursor = load_cursor(self.workspace, &name);
        cursor.truncated = cuts;
        cursor.etag = page.headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        cursor.high_water = Some(Utc::now());
        self.save_cursor(&name, &cursor)
    }

    /// Environments and their protection rules: a snapshot, replaced whole when it changed.
    fn environments(&mut self) -> Result<()> {
        let repo = self.repo().to_string();
        let path = format!("/repos/{repo}/environments?per_page=100");
        let Some(page) = self.snapshot_get(Resource::Environments.name(), &path, None)? else {
            self.progress(Resource::Environments.name(), 0, None, true);
            return Ok(());
        };
        self.expect_array(&page.json, "environments", &path)?;
        let mut cuts = BTreeMap::new();
        if next_link(&page.headers, &self.request.api_url).is_some() {
            let detail = format!("{repo}: more than 100 environments; only the first 100 were read");
            self.report.warnings.push(detail.clone());
            // Environments feed the settings evidence (approvals, protection rules), no metric.
            cuts.insert("environments".to_string(), Cut { detail, affects: Vec::new() });
        }
        let dir = raw_dir(self.workspace.root(), &repo, Resource::Environments.name())?;
        self.raw.write(&dir, &page.body)?;
        let mut rows = Extracted::default();
        extract::environment_rows(&page.json, &repo, self.service, &mut rows);
        let items = page.json["environments"].as_array().map_or(0, Vec::len) as u64;
        self.replace_evidence(&extract::environments_prefix(&repo), rows)?;
        self.snapshot_done(Resource::Environments.name(), &page, cuts)?;
        self.progress(Resource::Environments.name(), items, Some(items), true);
        Ok(())
    }

    /// CODEOWNERS (one GraphQL request for the three places GitHub looks) and the errors GitHub
    /// reports in it (conditional REST; unchanged errors are read from the raw layer).
    fn codeowners(&mut self) -> Result<()> {
        let repo = self.repo().to_string();
        let (owner, name) = split_repo(&repo)?;
        self.page_budget()?;
        let variables = serde_json::json!({ "owner": owner, "name": name });
        let file = self.runtime.block_on(self.client.graphql(CODEOWNERS_QUERY, variables))?;
        if file.json.pointer("/data/repository").is_none_or(|r| r.is_null()) {
            return Err(Error::Github {
                repo,
                message: "GitHub answered without the repository: check `repo` and that the token can read it".into(),
            });
        }
        self.report.pages += 1;
        self.raw.write(&raw_dir(self.workspace.root(), &repo, Resource::Codeowners.name())?, &file.body)?;
        let errors_dir = raw_dir(self.workspace.root(), &repo, CODEOWNERS_ERRORS)?;
        let mut fresh = None;
        let errors = match extract::codeowners_file(&file.json) {
            None => None,
            Some(_) => {
                let path = format!("/repos/{repo}/codeowners/errors");
                match self.snapshot_get(CODEOWNERS_ERRORS, &path, Some(r#"{"errors":[]}"#))? {
                    Some(page) => {
                        self.raw.write(&errors_dir, &page.body)?;
                        let json = page.json.clone();
                        fresh = Some(page);
                        Some(json)
                    }
                    None => last_raw_json(&errors_dir, &repo)?,
                }
            }
        };
        let mut rows = Extracted::default();
        extract::codeowners_rows(&file.json, errors.as_ref(), &repo, &mut rows);
        self.replace_evidence(&extract::codeowners_prefix(&repo), rows)?;
        if let Some(page) = fresh {
            self.snapshot_done(CODEOWNERS_ERRORS, &page, BTreeMap::new())?;
        }
        self.progress(Resource::Codeowners.name(), 1, Some(1), true);
        Ok(())
    }

    /// What each production deployment shipped, from GitHub's compare of the previous production
    /// deployment's commit and its own. A pair of commits compares the same forever, so each pair is
    /// asked once: its pages are kept under a name made of the pair, page 1 written last (its
    /// presence says the pair is complete). The rows are then rebuilt from the kept pages of the
    /// current pairs — as offline re-extraction does — so a deployment that joins a known pair gets
    /// its rows, and one whose predecessor changed (a deployment that finished late) loses the old.
    fn deployment_commits(&mut self) -> Result<()> {
        let repo = self.repo().to_string();
        let dir = raw_dir(self.workspace.root(), &repo, Resource::DeploymentCommits.name())?;
        let targets = compare_targets(self.workspace, &repo)?;
        let total = targets.len() as u64;
        for (base, head) in targets.keys() {
            if !dir.join(compare_page_name(base, head, 1)).exists() {
                let pages = self.compare(&repo, base, head)?;
                for (n, body) in pages.iter().enumerate().rev() {
                    write_raw_named(&dir, &compare_page_name(base, head, n + 1), body)?;
                }
            }
            self.progress(Resource::DeploymentCommits.name(), 1, Some(total), false);
        }
        let (rows, cuts) = shipped_rows(&dir, &repo, &targets)?;
        self.report.deployment_commits += rows.len();
        replace_shipped(self.workspace, &repo, rows)?;
        let name = self.cursor_name(Resource::DeploymentCommits.name());
        let cursor = Cursor { high_water: Some(Utc::now()), truncated: cuts, ..Default::default() };
        self.save_cursor(&name, &cursor)?;
        self.progress(Resource::DeploymentCommits.name(), 0, Some(total), true);
        Ok(())
    }

    /// The pages of one compare. A pair GitHub cannot compare (a commit force-pushed away and
    /// collected, no common history: 404) is kept as a page with no commits and a warning, so it
    /// neither stops every later collection nor is asked for again.
    fn compare(&mut self, repo: &str, base: &str, head: &str) -> Result<Vec<String>> {
        let mut next = Some(format!("/repos/{repo}/compare/{base}...{head}?per_page=100"));
        let mut pages = Vec::new();
        while let Some(path) = next {
            self.page_budget()?;
            match self.runtime.block_on(self.client.get_conditional(&path, None))? {
                client::Fetched::Page(page) => {
                    self.expect_array(&page.json, "commits", &path)?;
                    next = next_link(&page.headers, &self.request.api_url);
                    pages.push(page.body);
                    self.report.pages += 1;
                }
                client::Fetched::Missing | client::Fetched::NotModified => {
                    self.report.warnings.push(format!(
                        "{repo}: GitHub cannot compare {base}...{head} (404); what that deployment shipped is left to inference"
                    ));
                    let url = format!("{}/repos/{repo}/compare/{base}...{head}", self.request.api_url);
                    pages = vec![serde_json::json!({ "url": url, "status": "missing", "commits": [] }).to_string()];
                    next = None;
                }
            }
        }
        Ok(pages)
    }
}

/// The ids of the deployments this source writes for a repository, by kind.
fn deployment_prefixes(repo: &str) -> [String; 3] {
    [
        format!("github:deployment:{repo}:"),
        format!("github:release:{repo}:"),
        format!("github:actions-deployment:{repo}:"),
    ]
}

/// `deployment_commits` rows of the current pairs, from their kept compare pages, and the pairs whose
/// pages hold fewer commits than GitHub's `total_commits` says the compare has.
fn shipped_rows(
    dir: &Path,
    repo: &str,
    targets: &std::collections::BTreeMap<(String, String), Vec<String>>,
) -> Result<(Vec<model::Row>, BTreeMap<String, Cut>)> {
    let mut rows = Extracted::default();
    let mut cuts = BTreeMap::new();
    for ((base, head), deployments) in targets {
        let (mut listed, mut total) = (0, None);
        for n in 1.. {
            let path = dir.join(compare_page_name(base, head, n));
            if !path.exists() {
                break;
            }
            let page = read_raw_json(&path, repo)?.1;
            listed += page["commits"].as_array().map_or(0, Vec::len) as u64;
            total = total.or(page["total_commits"].as_u64());
            extract::compare_rows(&page, deployments, &mut rows);
        }
        if let Some(total) = total.filter(|t| *t > listed) {
            let detail = format!(
                "what {} shipped: compare {base}...{head} lists {listed} of its {total} commits",
                deployments.join(", ")
            );
            let affects = extract::SHIPPED_AFFECT.iter().map(|m| m.to_string()).collect();
            cuts.insert(format!("{base}...{head}"), Cut { detail, affects });
        }
    }
    Ok((rows.tables.remove(model::DEPLOYMENT_COMMITS.name).unwrap_or_default(), cuts))
}

/// Replaces what this source's deployments of `repo` shipped with `rows`.
fn replace_shipped(workspace: &mut Workspace, repo: &str, rows: Vec<model::Row>) -> Result<()> {
    for prefix in deployment_prefixes(repo) {
        let mine: Vec<model::Row> = rows
            .iter()
            .filter(|r| matches!(&r[0], model::Value::Text(id) if id.starts_with(&prefix)))
            .cloned()
            .collect();
        workspace.replace_prefixed(&model::DEPLOYMENT_COMMITS, "deployment_id", &prefix, &mine)?;
    }
    Ok(())
}

/// Directory of the approvals of waiting runs, one file per run.
const APPROVALS: &str = "approvals";

/// Directory of the raw pages of CODEOWNERS errors.
const CODEOWNERS_ERRORS: &str = "codeowners_errors";

fn compare_page_name(base: &str, head: &str, page: usize) -> String {
    format!("{base}...{head}-{page:03}.json")
}

fn read_raw_json(path: &Path, repo: &str) -> Result<(String, serde_json::Value)> {
    raw::read_json(path, |message| Error::Github { repo: repo.to_string(), message })
}

/// The newest raw page of a snapshot resource.
fn last_raw_json(dir: &Path, repo: &str) -> Result<Option<serde_json::Value>> {
    raw::last_json(dir, |message| Error::Github { repo: repo.to_string(), message })
}

/// What the workspace knows about this repository's workflow runs and jobs.
fn run_index(workspace: &Workspace, repo: &str) -> Result<RunIndex> {
    let mut index = RunIndex::default();
    let run_prefix = format!("github:run:{repo}:");
    let pipelines = workspace.load(&model::PIPELINES)?;
    let (ids, triggers, by) =
        (pipelines.column("id")?.str()?, pipelines.column("trigger")?.str()?, pipelines.column("triggered_by")?.str()?);
    for i in 0..pipelines.height() {
        if let Some(run) = ids.get(i).and_then(|id| id.strip_prefix(&run_prefix)).and_then(|r| r.parse().ok()) {
            index.runs.insert(run, (triggers.get(i).map(str::to_string), by.get(i).map(str::to_string)));
        }
    }
    let job_prefix = format!("github:job:{repo}:");
    let jobs = workspace.load(&model::JOBS)?;
    let ids = jobs.column("id")?.str()?;
    let queued = jobs.column("queued_at")?.datetime()?.physical().clone();
    let started = jobs.column("started_at")?.datetime()?.physical().clone();
    let at = |v: Option<i64>| v.and_then(DateTime::<Utc>::from_timestamp_micros);
    for i in 0..jobs.height() {
        if let Some(job) = ids.get(i).and_then(|id| id.strip_prefix(&job_prefix)).and_then(|j| j.parse().ok()) {
            index.jobs.insert(job, (at(queued.get(i)), at(started.get(i))));
        }
    }
    Ok(index)
}

/// The repository's successful production deployments from this source.
fn production_deployments(workspace: &Workspace, repo: &str) -> Result<rollbacks::DeploymentsByEnvironment> {
    rollbacks::production_deployments(workspace, &deployment_prefixes(repo))
}

/// Marks the rollbacks among the repository's production deployments (GitHub records no such flag).
fn mark_rollbacks(workspace: &mut Workspace, repo: &str) -> Result<usize> {
    rollbacks::mark_rollbacks(workspace, &deployment_prefixes(repo))
}

/// Each (previous, this) pair of deployed commits among the repository's successful production
/// deployments from this source, per environment in time order, with the deployments of `this`
/// that follow one of `previous`. The first deployment of an environment has no pair: what it
/// shipped is left to the metrics' first-deployment rule.
fn compare_targets(
    workspace: &Workspace,
    repo: &str,
) -> Result<std::collections::BTreeMap<(String, String), Vec<String>>> {
    let mut targets: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for list in production_deployments(workspace, repo)?.values() {
        for pair in list.windows(2) {
            let ((_, _, base), (_, id, head)) = (&pair[0], &pair[1]);
            if base != head {
                targets.entry((base.clone(), head.clone())).or_default().push(id.clone());
            }
        }
    }
    Ok(targets)
}

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Extracts one raw page of a paged GraphQL `resource` (the same function online and offline).
fn extract_page(
    resource: Resource,
    body: &str,
    json: &serde_json::Value,
    repo: &str,
    service: &Service,
    known: &RunIndex,
    out: &mut Extracted,
) -> Result<extract::PageMeta> {
    Ok(match resource {
        Resource::PullRequests => {
            let parsed = extract::parse_pull_requests(body, repo)?;
            extract::pull_request_rows(&parsed, repo, service, out);
            extract::graphql_meta(json, resource.pointer(), "updatedAt").unwrap_or_default()
        }
        Resource::Deployments => extract::deployment_rows(json, repo, service, known, out),
        Resource::Releases => extract::release_rows(json, repo, service, out),
        Resource::Incidents => extract::incident_rows(json, repo, service, out),
        Resource::WorkflowRuns => extract::workflow_run_rows(json, repo, service, out).0,
        Resource::Environments | Resource::Codeowners | Resource::DeploymentCommits => extract::PageMeta::default(),
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
    let dir_of = |name: &str| pages_dir(pages, repo, name);
    let upsert = |workspace: &mut Workspace, report: &mut GithubReport, rows: Extracted| -> Result<()> {
        report.count(&rows);
        report.pages += 1;
        let stats = workspace.upsert(&rows.batches())?;
        runner::merge_stats(&mut report.tables, stats);
        Ok(())
    };
    // Runs and their jobs first: deployments read them.
    for path in raw_pages(&dir_of(Resource::WorkflowRuns.name())?)? {
        let (_, json) = read_raw_json(&path, repo)?;
        let mut rows = Extracted::default();
        extract::workflow_run_rows(&json, repo, &service, &mut rows);
        upsert(workspace, &mut report, rows)?;
    }
    for path in raw_pages(&dir_of(JOBS)?)? {
        let (_, json) = read_raw_json(&path, repo)?;
        let mut rows = Extracted::default();
        extract::job_rows(&json, repo, &mut rows);
        upsert(workspace, &mut report, rows)?;
    }
    let mut known = run_index(workspace, repo)?;
    for path in raw_pages(&dir_of(APPROVALS)?)? {
        let run = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok());
        if let Some(run) = run {
            extract::approval_decisions(&read_raw_json(&path, repo)?.1, run, &mut known);
        }
    }
    // Listings GitHub cut short, judged page by page in fetch order as the online run did.
    let mut cuts = BTreeMap::new();
    for resource in [Resource::PullRequests, Resource::Deployments, Resource::Releases, Resource::Incidents] {
        for path in raw_pages(&dir_of(resource.name())?)? {
            let (body, json) = read_raw_json(&path, repo)?;
            let mut rows = Extracted::default();
            extract_page(resource, &body, &json, repo, &service, &known, &mut rows)?;
            rows.note_cuts(&mut cuts);
            upsert(workspace, &mut report, rows)?;
        }
    }
    // Snapshots: the newest page is the state.
    if let Some(json) = last_raw_json(&dir_of(Resource::Environments.name())?, repo)? {
        let mut rows = Extracted::default();
        extract::environment_rows(&json, repo, &service, &mut rows);
        report.pages += 1;
        runner::replace_evidence::<Github>(workspace, &mut report, &extract::environments_prefix(repo), rows)?;
    }
    if let Some(json) = last_raw_json(&dir_of(Resource::Codeowners.name())?, repo)? {
        let errors = last_raw_json(&dir_of(CODEOWNERS_ERRORS)?, repo)?;
        let mut rows = Extracted::default();
        extract::codeowners_rows(&json, errors.as_ref(), repo, &mut rows);
        report.pages += 1;
        runner::replace_evidence::<Github>(workspace, &mut report, &extract::codeowners_prefix(repo), rows)?;
    }
    mark_rollbacks(workspace, repo)?;
    // Compares last: which deployments a pair belongs to comes from the deployments just read.
    let targets = compare_targets(workspace, repo)?;
    let dir = dir_of(Resource::DeploymentCommits.name())?;
    let (rows, compare_cuts) = shipped_rows(&dir, repo, &targets)?;
    cuts.extend(compare_cuts);
    report.data_warnings = cursor::cut_warnings(Github::NAME, &format!("github:{repo}"), &cuts);
    report.deployment_commits += rows.len();
    report.pages += raw_pages(&dir)?.len();
    replace_shipped(workspace, repo, rows)?;
    if report.pages == 0 {
        return Err(Error::NotFound(format!("no raw GitHub pages for {repo} in {}", pages.join(repo).display())));
    }
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}
