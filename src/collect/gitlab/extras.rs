//! Reading one project's CODEOWNERS verdict, incidents and GitLab's own DORA figures through the
//! [`Client`], keeping every answer under `raw/gitlab/<group>/<project>/<resource>/` before its
//! rows are written, and rebuilding the rows from those pages with no network ([`reextract`]).
//!
//! Why apart from the merge request, pipeline and deployment collection: these resources are
//! snapshots or small listings with shapes of their own (GraphQL for the CODEOWNERS validation,
//! severity and timelines; a licence-gated endpoint for DORA), and a project on GitLab Free must
//! still be collected whole — what its tier lacks is "not available", never an error.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use tokio::runtime::Runtime;

use super::client::{Client, Listing};
use super::{GitlabRequest, raw_dir};
use super::{codeowners, dora, groups, incidents};
use crate::collect::http::cursor::{self, load_cursor};
use crate::collect::http::raw::{RawPages, raw_pages, write_raw_named};
use crate::config::Service;
use crate::error::{Error, Result};
use crate::model;
use crate::store::Workspace;

/// The raw directories of the resources read here.
pub const CODEOWNERS: &str = "codeowners";
pub const PROTECTED_BRANCHES: &str = "protected_branches";
pub const INCIDENTS: &str = "incidents";
pub const INCIDENT_DETAILS: &str = "incident_details";
pub const DORA: &str = "dora";

/// What one project's extras gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtrasReport {
    pub evidence_rows: usize,
    pub incidents: usize,
    /// GitLab's DORA months stored, or why there are none.
    pub dora: DoraOutcome,
    pub pages: usize,
    pub warnings: Vec<String>,
}

/// Whether GitLab's own DORA figures could be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum DoraOutcome {
    #[default]
    NotAsked,
    /// Rows stored (months × metrics).
    Stored(usize),
    /// The endpoint answered 403 or 404: GitLab Ultimate and the Reporter role are needed.
    NotAvailable,
}

/// What the extras of one project need besides the client.
pub struct ProjectExtras<'a> {
    pub project: &'a str,
    pub service: &'a Service,
    /// Labels that also make an issue an incident (besides GitLab's `incident` type).
    pub incident_labels: &'a [String],
    /// The analysis window, for GitLab's DORA figures (`until` exclusive).
    pub window: (NaiveDate, NaiveDate),
}

/// Reads CODEOWNERS (with GitLab's validation and the protected branches), incidents and GitLab's
/// DORA figures of one project into the workspace.
///
/// Only the requests run on `runtime`; the workspace is written between them, outside it: polars
/// may block only on a multi-threaded runtime and panics inside the collector's current-thread one.
pub fn collect(
    runtime: &Runtime,
    client: &Client,
    workspace: &mut Workspace,
    extras: &ProjectExtras<'_>,
) -> Result<ExtrasReport> {
    let mut report = ExtrasReport::default();
    let mut raw = RawPages::default();
    let api = Api { runtime, client };
    collect_codeowners(&api, workspace, extras.project, &mut raw, &mut report)?;
    collect_incidents(&api, workspace, extras, &mut raw, &mut report)?;
    collect_dora(&api, workspace, extras, &mut report)?;
    Ok(report)
}

/// The client and the runtime its requests run on, so the steps below read as plain calls.
struct Api<'a> {
    runtime: &'a Runtime,
    client: &'a Client,
}

impl Api<'_> {
    fn block_on<T>(&self, request: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(request)
    }
}

/// Connects as `request` says and collects one project's extras (the service is the one whose
/// `repos` names the project; `incident_labels` also make an issue an incident), for the
/// configured analysis window.
pub fn collect_project(
    workspace: &mut Workspace,
    config: &crate::config::Config,
    request: &GitlabRequest,
    incident_labels: &[String],
) -> Result<ExtrasReport> {
    let (runtime, client) = super::connect(request)?;
    let service = config
        .service_for_repo(&request.project)
        .cloned()
        .unwrap_or_else(|| crate::collect::default_service(&request.project));
    let window = &config.analysis.window;
    let extras = ProjectExtras {
        project: &request.project,
        service: &service,
        incident_labels,
        window: (window.since.date_naive(), window.until.date_naive()),
    };
    collect(&runtime, &client, workspace, &extras)
}

/// The extras of one configured GitLab source: from its recorded pages when it names some (no
/// network), else from the API with `credentials`.
pub fn collect_source(
    workspace: &mut Workspace,
    config: &crate::config::Config,
    source: &crate::config::GitlabSource,
    credentials: super::Credentials,
) -> Result<ExtrasReport> {
    let service = config
        .service_for_repo(&source.project)
        .cloned()
        .unwrap_or_else(|| crate::collect::default_service(&source.project));
    if let Some(pages) = &source.recorded {
        return reextract_from(workspace, &source.project, &service, pages);
    }
    let mut request = GitlabRequest::new(&source.project, source.api_url.as_deref(), credentials);
    if let Some(seconds) = source.max_wait_seconds {
        request.pacing.max_wait = std::time::Duration::from_secs(seconds);
    }
    collect_project(workspace, config, &request, &source.incident_labels)
}

/// Connects as `request` says (its `project` names the group) and walks the group.
pub fn walk_group_blocking(config: &crate::config::Config, request: &GitlabRequest) -> Result<groups::GroupPlan> {
    let (runtime, client) = super::connect(request)?;
    runtime.block_on(walk_group(&client, &request.project, &config.services))
}

/// Whether an error is GitLab refusing a resource the project's tier or the token's role lacks
/// (403), as opposed to a failure worth stopping for.
fn is_forbidden(error: &Error) -> bool {
    matches!(error, Error::Gitlab { message, .. } if message.contains("(403)"))
}

fn collect_codeowners(
    api: &Api<'_>,
    workspace: &mut Workspace,
    project: &str,
    raw: &mut RawPages,
    report: &mut ExtrasReport,
) -> Result<()> {
    let variables = serde_json::json!({ "fullPath": project });
    let page = match api.block_on(api.client.graphql(codeowners::CODEOWNERS_QUERY, variables.clone())) {
        Ok(page) => page,
        // GitLab Free has no `validateCodeownerFile`: read the file without GitLab's verdict.
        Err(Error::Gitlab { message, .. }) if message.contains("validateCodeownerFile") => {
            report.warnings.push(format!(
                "{project}: GitLab does not validate CODEOWNERS on this instance or tier; only flowgauge's own reading of the file applies"
            ));
            api.block_on(api.client.graphql(codeowners::CODEOWNERS_QUERY_WITHOUT_VALIDATION, variables))?
        }
        Err(e) => return Err(e),
    };
    if page.json.pointer("/data/project").is_none_or(|p| p.is_null()) {
        return Err(api.client.error(
            "GitLab answered without the project: check the project path and that the token can read it".into(),
        ));
    }
    raw.write(&raw_dir(workspace.root(), project, CODEOWNERS)?, &page.body)?;
    report.pages += 1;
    let listing = Listing::project(project, "protected_branches").param("per_page", "100");
    let protected = match api.block_on(api.client.get_optional(&listing)) {
        Ok(page) => page,
        Err(e) if is_forbidden(&e) => {
            report.warnings.push(format!(
                "{project}: the protected branches cannot be read with this token (403), so whether code owners must approve is unknown"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(protected) = &protected {
        raw.write(&raw_dir(workspace.root(), project, PROTECTED_BRANCHES)?, &protected.body)?;
        report.pages += 1;
    }
    let rows = codeowners::codeowners_rows(project, &page.json, protected.as_ref().map(|p| &p.json));
    report.evidence_rows += rows.len();
    workspace.replace_prefixed(&model::EVIDENCE, "id", &codeowners::codeowners_prefix(project), &rows)?;
    Ok(())
}

/// The manifest name of a project's incident cursor.
pub fn incidents_source(project: &str) -> String {
    format!("gitlab:{project}:incidents")
}

fn collect_incidents(
    api: &Api<'_>,
    workspace: &mut Workspace,
    extras: &ProjectExtras<'_>,
    raw: &mut RawPages,
    report: &mut ExtrasReport,
) -> Result<()> {
    let project = extras.project;
    let name = incidents_source(project);
    let mut state = load_cursor(workspace, &name);
    let after = state.high_water;
    let pages_dir = raw_dir(workspace.root(), project, INCIDENTS)?;
    let details_dir = raw_dir(workspace.root(), project, INCIDENT_DETAILS)?;
    let mut newest = after;
    let labels = std::iter::once(None).chain(extras.incident_labels.iter().map(|l| Some(l.as_str())));
    for label in labels {
        let mut page = api.block_on(api.client.get(&incidents::issues_listing(project, label, after)))?;
        loop {
            if !page.json.is_array() {
                return Err(api.client.error("the issues listing did not answer with a list of issues".into()));
            }
            raw.write(&pages_dir, &page.body)?;
            report.pages += 1;
            let mut details = BTreeMap::new();
            let found = incidents::incidents_of_page(&page.json);
            let batch = incidents::DETAILS_BATCH.min(api.client.graphql_page().max(1) as usize);
            for chunk in found.chunks(batch) {
                let query = incidents::details_query(chunk);
                let answer = api.block_on(api.client.graphql(&query, incidents::details_variables(project, chunk)))?;
                raw.write(&details_dir, &answer.body)?;
                report.pages += 1;
                incidents::read_details(&answer.json, &mut details);
            }
            let rows = incidents::incident_rows(std::slice::from_ref(&page.json), &details, project, extras.service);
            report.incidents += rows.len();
            workspace.upsert(&[(&model::INCIDENTS, rows)])?;
            newest = newest.max(incidents::newest_update(&page.json));
            let Some(next) = api.client.next_page(&page) else { break };
            page = api.block_on(api.client.get_url(&next))?;
        }
    }
    state.high_water = newest;
    cursor::save(workspace, &name, &state, Vec::new())
}

fn collect_dora(
    api: &Api<'_>,
    workspace: &mut Workspace,
    extras: &ProjectExtras<'_>,
    report: &mut ExtrasReport,
) -> Result<()> {
    let project = extras.project;
    let dir = raw_dir(workspace.root(), project, DORA)?;
    let mut pages = Vec::new();
    for (metric, _, _) in dora::METRICS {
        let listing = dora::metrics_listing(project, metric, extras.window.0, extras.window.1);
        match api.block_on(api.client.get_optional(&listing)) {
            Ok(Some(page)) => pages.push((metric, page)),
            // Not GitLab Ultimate, or a token below Reporter: the same answer for every metric.
            Ok(None) => break,
            Err(e) if is_forbidden(&e) => break,
            Err(e) => return Err(e),
        }
        report.pages += 1;
    }
    if pages.len() < dora::METRICS.len() {
        report.dora = DoraOutcome::NotAvailable;
        report.warnings.push(format!(
            "{project}: GitLab's own DORA figures are not available (they need GitLab Ultimate and the Reporter role); flowgauge's stand alone"
        ));
        // What an earlier run kept no longer holds: offline re-extraction must agree with this run.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        workspace.replace_prefixed(&model::FORGE_METRICS, "id", &dora::prefix(project), &[])?;
        return Ok(());
    }
    for (metric, page) in &pages {
        write_raw_named(&dir, &format!("{metric}.json"), &page.body)?;
    }
    let rows = dora_rows_of(project, extras.service, pages.iter().map(|(m, p)| (*m, &p.json)));
    report.dora = DoraOutcome::Stored(rows.len());
    workspace.replace_prefixed(&model::FORGE_METRICS, "id", &dora::prefix(project), &rows)?;
    Ok(())
}

fn dora_rows_of<'a>(
    project: &str,
    service: &Service,
    pages: impl Iterator<Item = (&'a str, &'a serde_json::Value)>,
) -> Vec<model::Row> {
    pages.flat_map(|(metric, json)| dora::dora_rows(project, service, metric, json)).collect()
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Gitlab {
        project: path.display().to_string(),
        message: format!("a kept raw page is not JSON ({e}); collect again online to replace it"),
    })
}

fn last_page(dir: &Path) -> Result<Option<serde_json::Value>> {
    raw_pages(dir)?.last().map(|p| read_json(p)).transpose()
}

/// Rebuilds the rows of one project's extras from the raw pages in the workspace, with no network.
pub fn reextract(workspace: &mut Workspace, project: &str, service: &Service) -> Result<ExtrasReport> {
    let pages = workspace.root().join("raw").join("gitlab");
    reextract_from(workspace, project, service, &pages)
}

/// The pages of one resource of `project` under `pages`, a directory laid out like a workspace's
/// `raw/gitlab/` (`<group>/<name>/<resource>/`).
fn pages_dir(pages: &Path, project: &str, resource: &str) -> Result<std::path::PathBuf> {
    super::check_project(project)?;
    let mut dir = pages.to_path_buf();
    dir.extend(project.split('/'));
    Ok(dir.join(resource))
}

/// Rebuilds the rows of one project's extras from the raw pages under `pages` (laid out like a
/// workspace's `raw/gitlab/`), with no network: the latest CODEOWNERS and protected branches
/// answers, every incidents page in fetch order with every details answer, and GitLab's DORA
/// pages. A resource without pages leaves its rows as they are.
pub fn reextract_from(
    workspace: &mut Workspace,
    project: &str,
    service: &Service,
    pages: &Path,
) -> Result<ExtrasReport> {
    let mut report = ExtrasReport::default();
    if let Some(page) = last_page(&pages_dir(pages, project, CODEOWNERS)?)? {
        let protected = last_page(&pages_dir(pages, project, PROTECTED_BRANCHES)?)?;
        let rows = codeowners::codeowners_rows(project, &page, protected.as_ref());
        report.evidence_rows = rows.len();
        workspace.replace_prefixed(&model::EVIDENCE, "id", &codeowners::codeowners_prefix(project), &rows)?;
    }
    let mut details = BTreeMap::new();
    for path in raw_pages(&pages_dir(pages, project, INCIDENT_DETAILS)?)? {
        incidents::read_details(&read_json(&path)?, &mut details);
    }
    let issues: Vec<serde_json::Value> =
        raw_pages(&pages_dir(pages, project, INCIDENTS)?)?.iter().map(|p| read_json(p)).collect::<Result<_>>()?;
    report.pages = issues.len();
    let rows = incidents::incident_rows(&issues, &details, project, service);
    report.incidents = rows.len();
    workspace.upsert(&[(&model::INCIDENTS, rows)])?;
    let dir = pages_dir(pages, project, DORA)?;
    if !dir.exists() {
        // Never read, or not available when last read (the online run then removed the pages).
        workspace.replace_prefixed(&model::FORGE_METRICS, "id", &dora::prefix(project), &[])?;
        report.dora = DoraOutcome::NotAvailable;
        return Ok(report);
    }
    let mut dora_pages = Vec::new();
    for (metric, _, _) in dora::METRICS {
        let path = dir.join(format!("{metric}.json"));
        if path.exists() {
            dora_pages.push((metric, read_json(&path)?));
        }
    }
    let rows = dora_rows_of(project, service, dora_pages.iter().map(|(m, j)| (*m, j)));
    report.dora = if dora_pages.is_empty() { DoraOutcome::NotAvailable } else { DoraOutcome::Stored(rows.len()) };
    workspace.replace_prefixed(&model::FORGE_METRICS, "id", &dora::prefix(project), &rows)?;
    Ok(report)
}

/// Lists the projects of `group` and its subgroups and gives each to the service naming it.
pub async fn walk_group(client: &Client, group: &str, services: &[Service]) -> Result<groups::GroupPlan> {
    let mut projects = Vec::new();
    let mut page = client.get(&groups::projects_listing(group)).await?;
    let total = page.total();
    loop {
        if !page.json.is_array() {
            return Err(client.error(format!("the projects of group {group} did not come as a list")));
        }
        projects.extend(groups::projects_of_page(&page.json));
        let Some(next) = client.next_page(&page) else { break };
        page = client.get_url(&next).await?;
    }
    // A listing that says it holds more than it gave must not pass for complete.
    if let Some(total) = total
        && (projects.len() as u64) < total
    {
        return Err(client.error(format!(
            "group {group} reports {total} projects but its listing gave {}; run again (projects may have moved while listing)",
            projects.len()
        )));
    }
    Ok(groups::plan(projects, services))
}
