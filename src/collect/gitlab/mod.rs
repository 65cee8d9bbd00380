//! The GitLab source: merge requests (with commits, approvals and first responses) through GraphQL,
//! pipelines and their jobs, environments, deployments with their approvals and what each shipped
//! through REST — kept page by page in the workspace's raw layer and extracted into the domain
//! tables.
//!
//! Why it is shaped like this (the same reasons as the GitHub source): it must be frugal (one
//! GraphQL request brings 50 merge requests with their commits, approvers and notes), incremental
//! (a per-project, per-resource high-water mark of `updated_at` in the manifest), resumable (the
//! cursor of a run in progress is written after every page, so an interrupted run continues where
//! it stopped), reproducible (every page body is written atomically under
//! `raw/gitlab/<group>/<project>/<resource>/` before its rows are stored, and [`reextract`]
//! rebuilds the rows from those pages with no network) and it never stops silently at a listing
//! limit: REST listings are walked in `updated_after`/`updated_before` slices that are split while
//! GitLab says they hold more than it counts (`X-Total` vanishes past 10,000 records), and a slice
//! that ends having returned fewer items than GitLab reported is an error.

pub mod client;
pub mod codeowners;
pub mod dora;
pub mod extract;
pub mod extras;
pub mod groups;
pub mod incidents;
pub mod references;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::collect::github::extract::Extracted;
use crate::collect::http::cursor::{self, CreatedRange, Cursor};
pub use crate::collect::http::progress::{Progress, ProgressSink};
use crate::collect::http::raw::{self, raw_pages, write_raw_named};
pub use crate::collect::http::retry::Pacing;
use crate::collect::http::runner::{self, Api, ApiClient, ApiReport, ApiRequest, Session};
use crate::collect::rollbacks;
use crate::config::{Config, Service};
use crate::error::{Error, Result};
use crate::model;
use crate::store::{UpsertStats, Workspace};
use client::{Client, Listing, Page};
pub use client::{Credentials, DEFAULT_API_URL};
use extract::{ApprovalsByDeployment, Overflow, PipelineJobs};

/// Merge requests updated since `$updatedAfter`, oldest update first, each with its first 20
/// commits (authored and committed times), approvers, reviewers, labels and first 50 notes (system
/// notes carry approval and "ready" times; the others are responses), and the query's complexity
/// (GitLab refuses more than 250). Nested listings that go on are read by the overflow queries.
pub const MERGE_REQUESTS_QUERY: &str = r#"query($fullPath: ID!, $after: String, $first: Int!, $updatedAfter: Time) {
  queryComplexity { score limit }
  project(fullPath: $fullPath) {
    mergeRequests(first: $first, after: $after, updatedAfter: $updatedAfter, sort: UPDATED_ASC) {
      count
      pageInfo { hasNextPage endCursor }
      nodes {
        iid title description state draft createdAt updatedAt mergedAt closedAt
        sourceBranch targetBranch mergeCommitSha squashCommitSha
        author { username }
        labels(first: 20) { nodes { title } }
        diffStatsSummary { additions deletions fileCount }
        approvedBy(first: 20) { nodes { username } }
        commits(first: 20) { count pageInfo { hasNextPage endCursor } nodes { sha authoredDate committedDate authorName } }
        notes(first: 50) { count pageInfo { hasNextPage endCursor } nodes { id body system createdAt author { username } } }
      }
    }
  }
}"#;

/// The further commits of one merge request (100 a page).
pub const MERGE_REQUEST_COMMITS_QUERY: &str = r#"query($fullPath: ID!, $iid: String!, $after: String) {
  project(fullPath: $fullPath) {
    mergeRequest(iid: $iid) {
      iid
      commits(first: 100, after: $after) { count pageInfo { hasNextPage endCursor } nodes { sha authoredDate committedDate authorName } }
    }
  }
}"#;

/// The further notes of one merge request (100 a page).
pub const MERGE_REQUEST_NOTES_QUERY: &str = r#"query($fullPath: ID!, $iid: String!, $after: String) {
  project(fullPath: $fullPath) {
    mergeRequest(iid: $iid) {
      iid
      notes(first: 100, after: $after) { count pageInfo { hasNextPage endCursor } nodes { id body system createdAt author { username } } }
    }
  }
}"#;

/// What the GitLab source reads; each has its own cursor and raw directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Environments (their tiers) and protected environments (required approvals): a snapshot.
    Environments,
    MergeRequests,
    /// Pipelines and the jobs of each finished one.
    Pipelines,
    /// Deployments and the approvals of those that waited for them.
    Deployments,
    /// What each successful production deployment shipped.
    DeploymentCommits,
}

impl Resource {
    /// Every resource, in the order they are read: environments before the deployments they
    /// classify, deployments before what they shipped.
    pub const ALL: [Resource; 5] = [
        Resource::Environments,
        Resource::MergeRequests,
        Resource::Pipelines,
        Resource::Deployments,
        Resource::DeploymentCommits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Environments => "environments",
            Resource::MergeRequests => "merge_requests",
            Resource::Pipelines => "pipelines",
            Resource::Deployments => "deployments",
            Resource::DeploymentCommits => "deployment_commits",
        }
    }
}

/// Raw directories beside the resources' own.
const MR_OVERFLOW: &str = "merge_request_overflow";
const PROTECTED: &str = "protected_environments";
const JOBS: &str = "jobs";
const APPROVALS: &str = "deployment_approvals";
const DEPLOYMENT_MRS: &str = "deployment_merge_requests";
const COMPARE: &str = "compare";

/// Before any GitLab record: the lower bound of a first listing.
const EARLIEST: &str = "2011-01-01T00:00:00Z";

/// GitLab counts (`X-Total`) at most this many records of an offset listing.
pub const SLICE_LIMIT: u64 = 10_000;

/// What to collect from one project.
#[derive(Debug, Clone)]
pub struct GitlabRequest {
    /// `group/subgroup/name` (or the numeric id).
    pub project: String,
    /// The instance root (`https://gitlab.com`, `https://HOST`).
    pub api_url: String,
    /// From `GITLAB_TOKEN` or `CI_JOB_TOKEN`; never written anywhere.
    pub credentials: Credentials,
    pub pacing: Pacing,
    /// Stop (with an error) after this many pages in this run; for tests of interrupted runs.
    pub stop_after_pages: Option<usize>,
    /// What to read, in order.
    pub resources: Vec<Resource>,
    /// Told after every page, so a front end can show progress.
    pub progress: Option<ProgressSink>,
    /// A slice of an offset listing holding more than this is split before it is read
    /// ([`SLICE_LIMIT`]; tests lower it).
    pub slice_limit: u64,
    /// Records per REST page (GitLab's maximum, 100; tests lower it).
    pub per_page: u32,
}

impl GitlabRequest {
    pub fn new(project: &str, api_url: Option<&str>, credentials: Credentials) -> GitlabRequest {
        GitlabRequest {
            project: project.to_string(),
            api_url: api_url.unwrap_or(DEFAULT_API_URL).to_string(),
            credentials,
            pacing: Pacing::default(),
            stop_after_pages: None,
            resources: Resource::ALL.to_vec(),
            progress: None,
            slice_limit: SLICE_LIMIT,
            per_page: 100,
        }
    }
}

/// What collecting (or re-extracting) one project did.
#[derive(Debug, Clone, Default)]
pub struct GitlabReport {
    pub project: String,
    /// HTTP requests made, retries and the credentials check included.
    pub requests: u64,
    pub retries: u64,
    /// Pages fetched (or read from the raw layer).
    pub pages: usize,
    pub changes: usize,
    pub reviews: usize,
    pub change_commits: usize,
    pub pipelines: usize,
    pub jobs: usize,
    pub deployments: usize,
    pub approvals: usize,
    pub deployment_commits: usize,
    pub evidence: usize,
    /// The run continued an interrupted one.
    pub resumed: bool,
    /// Requests left in GitLab's rate-limit window, when GitLab said (`RateLimit-Remaining`).
    pub rate_remaining: Option<u64>,
    pub warnings: Vec<String>,
    /// What limits the figures built from this project's data (nested listings read in part), as
    /// recorded with its sources in the manifest.
    pub data_warnings: Vec<model::DataWarning>,
    pub tables: Vec<UpsertStats>,
}

/// A GitLab project path (`group/subgroup/name`) or numeric id, else a configuration error.
pub fn check_project(project: &str) -> Result<()> {
    if crate::config::is_gitlab_project(project) {
        Ok(())
    } else {
        Err(Error::ConfigValue {
            key: "project".into(),
            message: format!(
                "`{project}` is not a GitLab project written as group/name (subgroups allowed) or a numeric id"
            ),
        })
    }
}

/// Where a project's raw pages of one resource are kept in a workspace.
pub fn raw_dir(workspace: &Path, project: &str, resource: &str) -> Result<PathBuf> {
    pages_dir(&workspace.join("raw").join("gitlab"), project, resource)
}

/// The pages of one resource of `project` under `pages`, laid out like a workspace's `raw/gitlab/`.
fn pages_dir(pages: &Path, project: &str, resource: &str) -> Result<PathBuf> {
    check_project(project)?;
    let mut dir = pages.to_path_buf();
    for segment in project.split('/') {
        dir.push(segment);
    }
    Ok(dir.join(resource))
}

fn service_for(config: &Config, project: &str) -> Service {
    config.service_for_repo(project).cloned().unwrap_or_else(|| super::default_service(project))
}

impl ApiReport for GitlabReport {
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
        self.pipelines += rows.rows(&model::PIPELINES);
        self.jobs += rows.rows(&model::JOBS);
        self.deployments += rows.rows(&model::DEPLOYMENTS);
        self.approvals += rows.rows(&model::APPROVALS);
        self.deployment_commits += rows.rows(&model::DEPLOYMENT_COMMITS);
        self.evidence += rows.rows(&model::EVIDENCE);
    }

    fn close(&mut self, requests: u64, retries: u64, data_warnings: Vec<model::DataWarning>) {
        (self.requests, self.retries, self.data_warnings) = (requests, retries, data_warnings);
    }
}

impl ApiRequest for GitlabRequest {
    fn target(&self) -> &str {
        &self.project
    }

    fn source(&self) -> String {
        format!("gitlab:{}", self.project)
    }

    fn stop_after_pages(&self) -> Option<usize> {
        self.stop_after_pages
    }

    fn progress(&self) -> Option<&ProgressSink> {
        self.progress.as_ref()
    }

    fn error(&self, message: String) -> Error {
        Error::Gitlab { project: self.project.clone(), message }
    }
}

/// GitLab's budget is per minute, not GitHub's hour the progress line speaks of: it is reported
/// once, at the end of the project (`GitlabReport::rate_remaining`), not in the progress line.
impl ApiClient for Client {
    fn requests(&self) -> u64 {
        Client::requests(self)
    }

    fn retries(&self) -> u64 {
        Client::retries(self)
    }
}

/// The GitLab source's place in the resource runner.
pub struct Gitlab;

impl Api for Gitlab {
    type Request = GitlabRequest;
    type Client = Client;
    type Report = GitlabReport;
    const NAME: &'static str = "GitLab";
    /// No GitLab resource holds its mark back for unfinished items (unfinished pipelines are
    /// listed again when their update time moves), so this never applies.
    const MAX_REWIND_DAYS: i64 = 7;
}

/// One resource of a project being fetched, page by page.
type Fetch<'a> = runner::Fetch<'a, Gitlab>;

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The two halves of a slice of update times, overlapping by a second so that an item updated at
/// the boundary is in one of them whether GitLab's `updated_after`/`updated_before` include their
/// bound or not (an item read twice is upserted once). `None` when the slice is two seconds or less.
fn halves(range: &CreatedRange) -> Option<(CreatedRange, CreatedRange)> {
    let seconds = (range.to - range.from).num_seconds();
    if seconds <= 2 {
        return None;
    }
    let middle = range.from + chrono::Duration::seconds(seconds / 2);
    Some((
        CreatedRange { from: range.from, to: middle + chrono::Duration::seconds(1) },
        CreatedRange { from: middle, to: range.to },
    ))
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn read_raw_json(path: &Path, project: &str) -> Result<serde_json::Value> {
    Ok(raw::read_json(path, |message| Error::Gitlab { project: project.to_string(), message })?.1)
}

/// The newest raw page of a snapshot resource.
fn last_raw_json(dir: &Path, project: &str) -> Result<Option<serde_json::Value>> {
    raw::last_json(dir, |message| Error::Gitlab { project: project.to_string(), message })
}

/// The network runtime and a client connected as `request` says (its credentials checked).
pub fn connect(request: &GitlabRequest) -> Result<(tokio::runtime::Runtime, Client)> {
    let runtime = runner::network_runtime(|message| request.error(message))?;
    let client = runtime.block_on(Client::connect(
        &request.api_url,
        request.credentials.clone(),
        request.pacing,
        &request.project,
    ))?;
    Ok((runtime, client))
}

/// Collects one project from GitLab into the workspace.
pub fn collect_gitlab(workspace: &mut Workspace, config: &Config, request: &GitlabRequest) -> Result<GitlabReport> {
    check_project(&request.project)?;
    let (runtime, client) = connect(request)?;
    // GraphQL names projects by path only: a numeric id is resolved once, and the path is what ids,
    // raw directories and the service mapping use.
    let resolved;
    let request = if request.project.bytes().all(|b| b.is_ascii_digit()) {
        let page = runtime.block_on(client.get(&Listing::new(format!("projects/{}", request.project))))?;
        let Some(path) = page.json["path_with_namespace"].as_str() else {
            return Err(
                client.error(format!("project {}: GitLab's answer has no path_with_namespace", request.project))
            );
        };
        check_project(path)?;
        resolved = GitlabRequest { project: path.to_string(), ..request.clone() };
        &resolved
    } else {
        request
    };
    let service = service_for(config, &request.project);
    let mut report = GitlabReport { project: request.project.clone(), ..Default::default() };
    let session = Session { request, service: &service, runtime: &runtime, client: &client };
    runner::collect(workspace, config, session, &mut report, request.resources.iter().copied(), |fetch, resource| {
        match resource {
            Resource::Environments => fetch.environments(),
            Resource::MergeRequests => fetch.merge_requests(),
            Resource::Pipelines | Resource::Deployments => fetch.sliced(resource),
            Resource::DeploymentCommits => fetch.deployment_commits(),
        }?;
        if resource == Resource::Deployments {
            mark_rollbacks(fetch.workspace, &request.project)?;
        }
        Ok(())
    })?;
    report.rate_remaining = client.budget.left();
    Ok(report)
}

impl Fetch<'_> {
    fn project(&self) -> &str {
        &self.request.project
    }

    fn dir(&self, resource: &str) -> Result<PathBuf> {
        raw_dir(self.workspace.root(), self.project(), resource)
    }

    fn get(&self, listing: &Listing) -> Result<Page> {
        self.runtime.block_on(self.client.get(listing))
    }

    fn get_url(&self, url: &str) -> Result<Page> {
        self.runtime.block_on(self.client.get_url(url))
    }

    /// A REST answer must be a list, so the raw layer only keeps pages extraction can read.
    fn expect_array(&self, page: &Page, what: &str) -> Result<()> {
        if page.json.is_array() {
            Ok(())
        } else {
            Err(self.client.error(format!("{what}: the answer is not a list; is `api_url` the instance's root URL?")))
        }
    }

    /// Every page of a REST listing, following `Link: rel="next"`.
    fn all_pages(&mut self, listing: &Listing, what: &str) -> Result<Vec<Page>> {
        let mut pages = vec![self.get(listing)?];
        while let Some(next) = self.client.next_page(pages.last().expect("one page")) {
            pages.push(self.get_url(&next)?);
        }
        for page in &pages {
            self.expect_array(page, what)?;
        }
        Ok(pages)
    }

    /// Environments (tiers) and protected environments (required approvals): a snapshot, read
    /// whole every run and replacing the project's environment evidence.
    fn environments(&mut self) -> Result<()> {
        let project = self.project().to_string();
        self.page_budget()?;
        let per_page = self.request.per_page.to_string();
        let environments =
            self.all_pages(&Listing::project(&project, "environments").param("per_page", &per_page), "environments")?;
        let merged = serde_json::Value::Array(
            environments.iter().flat_map(|p| p.json.as_array().cloned().unwrap_or_default()).collect(),
        );
        // Protected environments are a Premium feature: a project without them answers 404.
        let protected = self.runtime.block_on(
            self.client.get_optional(&Listing::project(&project, "protected_environments").param("per_page", "100")),
        )?;
        let protected_body = protected.as_ref().map_or_else(|| "[]".to_string(), |p| p.body.clone());
        let protected_json: serde_json::Value = protected.map_or(serde_json::json!([]), |p| p.json);
        if !protected_json.is_array() {
            return Err(self.client.error("protected_environments: the answer is not a list".into()));
        }
        let env_dir = self.dir(Resource::Environments.name())?;
        self.raw.write(&env_dir, &merged.to_string())?;
        let protected_dir = self.dir(PROTECTED)?;
        self.raw.write(&protected_dir, &protected_body)?;
        self.report.pages += environments.len() + 1;
        let mut rows = Extracted::default();
        extract::environment_rows(&merged, &protected_json, &project, self.service, &mut rows);
        self.replace_evidence(&extract::environments_prefix(&project), rows)?;
        let items = merged.as_array().map_or(0, Vec::len) as u64;
        let name = self.cursor_name(Resource::Environments.name());
        self.save_cursor(&name, &Cursor { high_water: Some(Utc::now()), ..Default::default() })?;
        self.progress(Resource::Environments.name(), items, Some(items), true);
        Ok(())
    }

    /// Merge requests through GraphQL, oldest update first from the high-water mark, 50 a page;
    /// nested commits and notes that go on past their first page are read (and kept) before the
    /// page's rows are stored.
    fn merge_requests(&mut self) -> Result<()> {
        let project = self.project().to_string();
        let dir = self.dir(Resource::MergeRequests.name())?;
        let overflow_dir = self.dir(MR_OVERFLOW)?;
        let (cursor_name, mut cursor, mut run) = self.begin(Resource::MergeRequests.name());
        loop {
            self.page_budget()?;
            // A second of overlap: an update at the mark itself is read again, never missed.
            let since = run.stop_at.map(|t| iso(t - chrono::Duration::seconds(1)));
            let variables = serde_json::json!({ "fullPath": project, "after": run.after, "updatedAfter": since });
            let page = self.runtime.block_on(self.client.graphql(MERGE_REQUESTS_QUERY, variables))?;
            let parsed = extract::parse_merge_requests(&page.body, &project)?;
            if parsed.connection().is_none() {
                return Err(self.client.error(
                    "GitLab answered without the project: check the project path (group/subgroup/name) and that the token can read it (read_api scope, Reporter role)".into(),
                ));
            }
            let mut overflow = Overflow::default();
            let mut pending = extract::overflowing(&parsed);
            while let Some(more) = pending.pop() {
                let query =
                    if more.listing == "commits" { MERGE_REQUEST_COMMITS_QUERY } else { MERGE_REQUEST_NOTES_QUERY };
                let variables = serde_json::json!({ "fullPath": project, "iid": more.iid, "after": more.after });
                let extra = self.runtime.block_on(self.client.graphql(query, variables))?;
                let extra_parsed = extract::parse_merge_requests(&extra.body, &project)?;
                self.raw.write(&overflow_dir, &extra.body)?;
                self.report.pages += 1;
                overflow.add(&extra_parsed);
                pending.extend(extract::overflowing(&extra_parsed));
            }
            self.raw.write(&dir, &page.body)?;
            let mut rows = Extracted::default();
            extract::merge_request_rows(&parsed, &overflow, &project, self.service, &mut rows);
            let meta = parsed.meta();
            run.next_high_water = run.next_high_water.max(meta.newest);
            run.after = meta.end_cursor.clone();
            run.pages += 1;
            self.report.pages += 1;
            rows.note_cuts(&mut cursor.truncated);
            self.store(rows)?;
            self.progress(Resource::MergeRequests.name(), meta.items, meta.total, !meta.has_next);
            if !meta.has_next {
                break;
            }
            self.save_run(&cursor_name, &cursor, &run)?;
        }
        self.finish(&cursor_name, cursor, run)
    }

    /// The listing of `resource` updated within `range`, oldest update first.
    fn slice_listing(&self, resource: Resource, range: &CreatedRange) -> Listing {
        Listing::project(self.project(), resource.name())
            .param("updated_after", iso(range.from))
            .param("updated_before", iso(range.to))
            .param("order_by", "updated_at")
            .param("sort", "asc")
            .param("per_page", self.request.per_page.to_string())
    }

    /// Pipelines or deployments, walked in slices of update times. A slice whose first page says
    /// it holds more than GitLab counts (no `X-Total`, or more than the limit) is split in halves
    /// before any of it is read. A slice whose count changed while it was walked (an item updated
    /// meanwhile left it, shifting the offset pages under the walk) is walked again. A slice that
    /// ends having returned fewer items than GitLab reports is an error: the cursor stays before
    /// it and the next run walks it again, in halves.
    fn sliced(&mut self, resource: Resource) -> Result<()> {
        let (cursor_name, cursor, mut run) = self.begin(resource.name());
        if run.ranges.is_empty() {
            let earliest = DateTime::parse_from_rfc3339(EARLIEST).expect("valid instant").with_timezone(&Utc);
            let from = run.stop_at.map(|t| t - chrono::Duration::seconds(1)).unwrap_or(earliest);
            run.ranges = vec![CreatedRange {
                from: whole_second(from),
                to: whole_second(Utc::now()) + chrono::Duration::seconds(1),
            }];
            (run.after, run.listed, run.total) = (None, 0, None);
        }
        let context = self.slice_context(resource)?;
        while let Some(range) = run.ranges.last().copied() {
            self.page_budget()?;
            let first_page = run.after.is_none();
            let page = match run.after.clone() {
                Some(url) => self.get_url(&url)?,
                None => self.get(&self.slice_listing(resource, &range))?,
            };
            self.expect_array(&page, resource.name())?;
            let total = page.total();
            let next = self.client.next_page(&page);
            if first_page {
                run.total = total;
                let uncounted = total.is_none() && next.is_some();
                if uncounted || total.is_some_and(|t| t > self.request.slice_limit) {
                    let Some((older, newer)) = halves(&range) else {
                        return Err(self.client.error(format!(
                            "GitLab holds more {} updated from {} to {} than one listing counts; they cannot all be read",
                            resource.name(),
                            iso(range.from),
                            iso(range.to)
                        )));
                    };
                    run.ranges.pop();
                    run.ranges.extend([older, newer]);
                    self.save_run(&cursor_name, &cursor, &run)?;
                    continue;
                }
            }
            let (rows, meta) = self.slice_page(resource, &page, &context)?;
            run.next_high_water = run.next_high_water.max(meta.newest);
            run.pages += 1;
            run.listed += meta.items;
            self.report.pages += 1;
            self.store(rows)?;
            match next {
                Some(url) => run.after = Some(url),
                None => {
                    let (listed, first_total) = (run.listed, run.total);
                    run.ranges.pop();
                    (run.after, run.listed, run.total) = (None, 0, None);
                    if let Some(reported) = total.filter(|t| listed < *t) {
                        if let Some((older, newer)) = halves(&range) {
                            run.ranges.extend([older, newer]);
                        } else {
                            run.ranges.push(range);
                        }
                        self.save_run(&cursor_name, &cursor, &run)?;
                        return Err(self.client.error(format!(
                            "GitLab listed {listed} of the {reported} {} updated from {} to {} and no more; none past them is taken as read: the next run lists that slice again in smaller parts",
                            resource.name(),
                            iso(range.from),
                            iso(range.to)
                        )));
                    }
                    if first_total.is_some() && total.is_some() && first_total != total {
                        // Items left the slice while it was walked: the offset pages may have
                        // skipped some that stayed. Walk it again (what left is read in the slice
                        // it moved to).
                        run.ranges.push(range);
                    }
                }
            }
            self.progress(resource.name(), meta.items, None, run.ranges.is_empty());
            if run.ranges.is_empty() {
                break;
            }
            self.save_run(&cursor_name, &cursor, &run)?;
        }
        self.finish(&cursor_name, cursor, run)
    }

    /// What the pages of a sliced resource need from earlier resources: environment tiers and
    /// required approvals, for deployments.
    fn slice_context(&self, resource: Resource) -> Result<SliceContext> {
        if resource != Resource::Deployments {
            return Ok(SliceContext::default());
        }
        let project = self.project();
        let environments = last_raw_json(&self.dir(Resource::Environments.name())?, project)?.unwrap_or_default();
        let protected = last_raw_json(&self.dir(PROTECTED)?, project)?.unwrap_or_default();
        Ok(SliceContext {
            tiers: extract::environment_tiers(&environments),
            required: extract::required_approvals(&protected),
            manual_jobs: manual_jobs(self.workspace, project)?,
        })
    }

    /// Reads what one page of pipelines or deployments needs (the jobs of its finished pipelines,
    /// the approvals of its deployments that waited), keeps it and the page, and extracts the rows.
    fn slice_page(
        &mut self,
        resource: Resource,
        page: &Page,
        context: &SliceContext,
    ) -> Result<(Extracted, extract::PageMeta)> {
        let project = self.project().to_string();
        let mut rows = Extracted::default();
        match resource {
            Resource::Pipelines => {
                let jobs_dir = self.dir(JOBS)?;
                let mut jobs = BTreeMap::new();
                let mut manual = Vec::new();
                for pipeline in page.json.as_array().into_iter().flatten() {
                    let (Some(id), Some(status)) = (pipeline["id"].as_i64(), pipeline["status"].as_str()) else {
                        continue;
                    };
                    // Unfinished pipelines are listed again when they finish (their update time moves).
                    if extract::finished_status(status).is_none() && status != "manual" {
                        continue;
                    }
                    let listing = Listing::project(&project, &format!("pipelines/{id}/jobs"))
                        .param("include_retried", "true")
                        .param("per_page", "100");
                    let pages = self.all_pages(&listing, "jobs")?;
                    let mut jsons = Vec::new();
                    for jobs_page in pages {
                        self.raw.write(&jobs_dir, &jobs_page.body)?;
                        self.report.pages += 1;
                        manual.extend(extract::job_rows(&jobs_page.json, &project, &mut rows));
                        jsons.push(jobs_page.json);
                    }
                    jobs.insert(id, extract::pipeline_jobs(&jsons));
                }
                extract::manual_job_rows(&project, &manual, &mut rows);
                self.raw.write(&self.dir(Resource::Pipelines.name())?, &page.body)?;
                let meta = extract::pipeline_rows(&page.json, &jobs, &project, self.service, &mut rows);
                Ok((rows, meta))
            }
            _ => {
                let approvals_dir = self.dir(APPROVALS)?;
                let mut approvals = ApprovalsByDeployment::new();
                for deployment in page.json.as_array().into_iter().flatten() {
                    let Some(id) = deployment["id"].as_i64() else { continue };
                    if !extract::needs_approvals(deployment, &context.required) {
                        continue;
                    }
                    let detail = self.get(&Listing::project(&project, &format!("deployments/{id}")))?;
                    write_raw_named(&approvals_dir, &format!("{id}.json"), &detail.body)?;
                    self.report.pages += 1;
                    extract::note_approvals(&detail.json, &mut approvals);
                }
                self.raw.write(&self.dir(Resource::Deployments.name())?, &page.body)?;
                let meta = extract::deployment_rows(
                    &page.json,
                    &context.tiers,
                    &approvals,
                    &context.manual_jobs,
                    &project,
                    self.service,
                    &mut rows,
                );
                Ok((rows, meta))
            }
        }
    }

    /// What each successful production deployment shipped: GitLab's own record
    /// (`/deployments/:id/merge_requests`) where it has one, else the commits between the previous
    /// successful deployment of the environment and this one (`/repository/compare`). Each answer
    /// is asked once and kept under the deployment's id (or the pair of commits); the rows are then
    /// rebuilt from the kept answers, as offline re-extraction does.
    fn deployment_commits(&mut self) -> Result<()> {
        let project = self.project().to_string();
        let mrs_dir = self.dir(DEPLOYMENT_MRS)?;
        let compare_dir = self.dir(COMPARE)?;
        let plan = shipping_plan(self.workspace, &project)?;
        let total = plan.len() as u64;
        for step in &plan {
            let mrs_path = mrs_dir.join(format!("{}.json", step.number));
            if !mrs_path.exists() {
                self.page_budget()?;
                let listing = Listing::project(&project, &format!("deployments/{}/merge_requests", step.number))
                    .param("per_page", "100");
                let page = self.get(&listing)?;
                self.expect_array(&page, "deployment merge requests")?;
                if self.client.next_page(&page).is_some() {
                    self.report.warnings.push(format!(
                        "{project}: deployment {} shipped more than 100 merge requests; the first 100 were read",
                        step.number
                    ));
                }
                write_raw_named(&mrs_dir, &format!("{}.json", step.number), &page.body)?;
                self.report.pages += 1;
            }
            let shipped_mrs = read_raw_json(&mrs_path, &project)?;
            if shipped_mrs.as_array().is_some_and(|a| a.is_empty())
                && let Some(base) = &step.previous_sha
            {
                let name = compare_name(base, &step.sha);
                if !compare_dir.join(&name).exists() {
                    self.page_budget()?;
                    let listing = Listing::project(&project, "repository/compare")
                        .param("from", base.clone())
                        .param("to", step.sha.clone())
                        .param("straight", "false");
                    let page = match self.runtime.block_on(self.client.get_optional(&listing))? {
                        Some(page) => page.body,
                        None => {
                            self.report.warnings.push(format!(
                                "{project}: GitLab cannot compare {base}...{} (404); what that deployment shipped is left to inference",
                                step.sha
                            ));
                            r#"{"commits":[]}"#.to_string()
                        }
                    };
                    write_raw_named(&compare_dir, &name, &page)?;
                    self.report.pages += 1;
                }
            }
            self.progress(Resource::DeploymentCommits.name(), 1, Some(total), false);
        }
        let rows = shipped_rows(&mrs_dir, &compare_dir, &project, &plan)?;
        self.report.deployment_commits += rows.len();
        self.workspace.replace_prefixed(
            &model::DEPLOYMENT_COMMITS,
            "deployment_id",
            &deployment_prefix(&project),
            &rows,
        )?;
        let name = self.cursor_name(Resource::DeploymentCommits.name());
        self.save_cursor(&name, &Cursor { high_water: Some(Utc::now()), ..Default::default() })?;
        self.progress(Resource::DeploymentCommits.name(), 0, Some(total), true);
        Ok(())
    }
}

#[derive(Default)]
struct SliceContext {
    tiers: BTreeMap<String, String>,
    required: BTreeMap<String, i64>,
    /// The project's manual jobs (by GitLab job id), as the jobs table holds them.
    manual_jobs: BTreeSet<i64>,
}

/// The ids of the project's jobs the `jobs` table marks manual (waiting, or played by hand).
fn manual_jobs(workspace: &Workspace, project: &str) -> Result<BTreeSet<i64>> {
    let jobs = workspace.load(&model::JOBS)?;
    let (ids, manual) = (jobs.column("id")?.str()?, jobs.column("is_manual")?.bool()?);
    let prefix = format!("gitlab:job:{project}:");
    Ok((0..jobs.height())
        .filter(|i| manual.get(*i) == Some(true))
        .filter_map(|i| ids.get(i)?.strip_prefix(&prefix)?.parse().ok())
        .collect())
}

fn deployment_prefix(project: &str) -> String {
    format!("gitlab:deployment:{project}:")
}

fn compare_name(base: &str, head: &str) -> String {
    format!("{base}...{head}.json")
}

/// One successful production deployment and the one before it in its environment.
struct ShippingStep {
    id: String,
    number: i64,
    sha: String,
    previous_sha: Option<String>,
}

/// The project's successful production deployments from this source.
fn production_deployments(workspace: &Workspace, project: &str) -> Result<rollbacks::DeploymentsByEnvironment> {
    rollbacks::production_deployments(workspace, &[deployment_prefix(project)])
}

/// Each successful production deployment with the commit of the one before it in its environment.
fn shipping_plan(workspace: &Workspace, project: &str) -> Result<Vec<ShippingStep>> {
    let prefix = deployment_prefix(project);
    let mut plan = Vec::new();
    for list in production_deployments(workspace, project)?.values() {
        let mut previous: Option<&str> = None;
        for (_, id, sha) in list {
            if let Some(number) = id.strip_prefix(&prefix).and_then(|n| n.parse().ok()) {
                plan.push(ShippingStep {
                    id: id.clone(),
                    number,
                    sha: sha.clone(),
                    previous_sha: previous.filter(|p| *p != sha).map(str::to_string),
                });
            }
            previous = Some(sha);
        }
    }
    Ok(plan)
}

/// `deployment_commits` rows of the plan's deployments from their kept answers.
fn shipped_rows(mrs_dir: &Path, compare_dir: &Path, project: &str, plan: &[ShippingStep]) -> Result<Vec<model::Row>> {
    let mut rows = Extracted::default();
    for step in plan {
        let mrs_path = mrs_dir.join(format!("{}.json", step.number));
        if !mrs_path.exists() {
            continue;
        }
        let mrs = read_raw_json(&mrs_path, project)?;
        if extract::deployment_mr_rows(&step.id, &mrs, &mut rows) > 0 {
            continue;
        }
        if let Some(base) = &step.previous_sha {
            let path = compare_dir.join(compare_name(base, &step.sha));
            if path.exists() {
                extract::compare_rows(std::slice::from_ref(&step.id), &read_raw_json(&path, project)?, &mut rows);
            }
        }
    }
    let mut rows = rows.tables.remove(model::DEPLOYMENT_COMMITS.name).unwrap_or_default();
    // A commit reached through two merge requests is shipped once.
    let mut seen = BTreeSet::new();
    rows.retain(|r| seen.insert(format!("{:?}", r)));
    Ok(rows)
}

/// Marks the rollbacks among the project's production deployments (GitLab records no such flag).
fn mark_rollbacks(workspace: &mut Workspace, project: &str) -> Result<usize> {
    rollbacks::mark_rollbacks(workspace, &[deployment_prefix(project)])
}

/// Rebuilds the rows of one project from its raw pages alone (no network).
pub fn reextract(workspace: &mut Workspace, config: &Config, project: &str) -> Result<GitlabReport> {
    let pages = workspace.root().join("raw").join("gitlab");
    reextract_from(workspace, config, project, &pages).map_err(|e| match e {
        Error::NotFound(m) => Error::NotFound(format!("{m}: run `flowgauge collect gitlab --project {project}` first")),
        e => e,
    })
}

/// [`reextract`] from pages kept elsewhere, laid out like a workspace's `raw/gitlab/`
/// (`<group>/<project>/<resource>/NNNNNNNN.json`), e.g. pages recorded once and shipped with a
/// configuration. No network, no token.
pub fn reextract_from(workspace: &mut Workspace, config: &Config, project: &str, pages: &Path) -> Result<GitlabReport> {
    let service = service_for(config, project);
    let mut report = GitlabReport { project: project.to_string(), ..Default::default() };
    let dir_of = |name: &str| pages_dir(pages, project, name);
    let upsert = |workspace: &mut Workspace, report: &mut GitlabReport, rows: Extracted| -> Result<()> {
        report.count(&rows);
        let stats = workspace.upsert(&rows.batches())?;
        runner::merge_stats(&mut report.tables, stats);
        Ok(())
    };
    // Environments: the newest snapshot.
    let environments = last_raw_json(&dir_of(Resource::Environments.name())?, project)?;
    let protected = last_raw_json(&dir_of(PROTECTED)?, project)?;
    if let Some(environments) = &environments {
        let protected = protected.clone().unwrap_or(serde_json::json!([]));
        let mut rows = Extracted::default();
        extract::environment_rows(environments, &protected, project, &service, &mut rows);
        report.pages += 2;
        runner::replace_evidence::<Gitlab>(workspace, &mut report, &extract::environments_prefix(project), rows)?;
    }
    // Merge requests: every overflow page first, then the pages in fetch order.
    let mut overflow = Overflow::default();
    for path in raw_pages(&dir_of(MR_OVERFLOW)?)? {
        let body = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        overflow.add(&extract::parse_merge_requests(&body, project)?);
        report.pages += 1;
    }
    let mut cuts = BTreeMap::new();
    for path in raw_pages(&dir_of(Resource::MergeRequests.name())?)? {
        let body = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let parsed = extract::parse_merge_requests(&body, project)?;
        let mut rows = Extracted::default();
        extract::merge_request_rows(&parsed, &overflow, project, &service, &mut rows);
        rows.note_cuts(&mut cuts);
        report.pages += 1;
        upsert(workspace, &mut report, rows)?;
    }
    // Jobs before the pipelines they describe.
    let mut jobs_by_pipeline: BTreeMap<i64, Vec<serde_json::Value>> = BTreeMap::new();
    let mut manual = Vec::new();
    let mut job_rows = Extracted::default();
    for path in raw_pages(&dir_of(JOBS)?)? {
        let json = read_raw_json(&path, project)?;
        manual.extend(extract::job_rows(&json, project, &mut job_rows));
        if let Some(pipeline) = json.as_array().and_then(|a| a.first()).and_then(|j| j["pipeline"]["id"].as_i64()) {
            jobs_by_pipeline.entry(pipeline).or_default().push(json);
        }
        report.pages += 1;
    }
    extract::manual_job_rows(project, &manual, &mut job_rows);
    upsert(workspace, &mut report, job_rows)?;
    let jobs: BTreeMap<i64, PipelineJobs> =
        jobs_by_pipeline.iter().map(|(id, pages)| (*id, extract::pipeline_jobs(pages))).collect();
    for path in raw_pages(&dir_of(Resource::Pipelines.name())?)? {
        let json = read_raw_json(&path, project)?;
        let mut rows = Extracted::default();
        extract::pipeline_rows(&json, &jobs, project, &service, &mut rows);
        report.pages += 1;
        upsert(workspace, &mut report, rows)?;
    }
    // Deployments, with the approvals kept for them.
    let mut approvals = ApprovalsByDeployment::new();
    for path in raw_pages(&dir_of(APPROVALS)?)? {
        extract::note_approvals(&read_raw_json(&path, project)?, &mut approvals);
    }
    let tiers = environments.as_ref().map(extract::environment_tiers).unwrap_or_default();
    let manual = manual_jobs(workspace, project)?;
    for path in raw_pages(&dir_of(Resource::Deployments.name())?)? {
        let json = read_raw_json(&path, project)?;
        let mut rows = Extracted::default();
        extract::deployment_rows(&json, &tiers, &approvals, &manual, project, &service, &mut rows);
        report.pages += 1;
        upsert(workspace, &mut report, rows)?;
    }
    mark_rollbacks(workspace, project)?;
    let plan = shipping_plan(workspace, project)?;
    let rows = shipped_rows(&dir_of(DEPLOYMENT_MRS)?, &dir_of(COMPARE)?, project, &plan)?;
    report.deployment_commits += rows.len();
    workspace.replace_prefixed(&model::DEPLOYMENT_COMMITS, "deployment_id", &deployment_prefix(project), &rows)?;
    report.data_warnings = cursor::cut_warnings(Gitlab::NAME, &format!("gitlab:{project}"), &cuts);
    if report.pages == 0 {
        return Err(Error::NotFound(format!(
            "no raw GitLab pages for {project} in {}",
            pages_dir(pages, project, "")?.display()
        )));
    }
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}
