//! Collection: turning what sources report into rows of the domain tables in the workspace.
//!
//! Each source module reads its own format and produces validated rows; this module writes them
//! through the store (atomic, upsert by key) and records the source's cursor in the manifest. The
//! configured services replace the `services` table on every collection, so the workspace alone tells
//! which services exist, including those with no data yet, and a service removed from the
//! configuration disappears.

pub mod git;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod import;
pub mod jira;
pub mod ownership_evidence;
pub mod pagerduty;
pub mod rollbacks;
pub mod scan;
pub mod shard;

use chrono::Utc;

use crate::config::{Config, GithubSource, GitlabSource, JiraSource, Service, Source};
use crate::error::Result;
use crate::model::{self, Row, Value};
use crate::store::{SourceState, UpsertStats, Workspace};

pub use import::{Format, ImportKind, ImportRequest};

/// What one import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub path: std::path::PathBuf,
    pub kind: ImportKind,
    pub rows_read: usize,
    pub tables: Vec<UpsertStats>,
    /// What looks wrong with a file that was still imported (it held no rows).
    pub warnings: Vec<String>,
}

/// Validates a whole file, then stores its rows, the configured services and its manifest entry in
/// one commit: the import is in the workspace entirely or not at all, even if the process dies.
pub fn import_file(workspace: &mut Workspace, config: &Config, request: &ImportRequest) -> Result<ImportReport> {
    let batch = import::read(request, config)?;
    let name = format!(
        "{}:{}:{}",
        request.namespace,
        import::ImportKind::NAMES[request.kind as usize],
        request.path.display()
    );
    let stats = workspace.transaction(|ws| {
        let stats = ws.upsert_frames(&batch.tables)?;
        ws.replace(&model::SERVICES, &service_rows(config))?;
        ws.record_source(
            &name,
            SourceState { last_run: Utc::now(), cursor: format!("rows={}", batch.rows_read), warnings: Vec::new() },
        )?;
        Ok(stats)
    })?;
    Ok(ImportReport {
        path: request.path.clone(),
        kind: request.kind,
        rows_read: batch.rows_read,
        tables: stats,
        warnings: batch.warnings,
    })
}

/// What reading a repository did.
#[derive(Debug, Clone)]
pub struct GitReport {
    pub path: std::path::PathBuf,
    pub repo: String,
    pub commits: usize,
    pub changes: usize,
    pub deployments: usize,
    pub outside_services: usize,
    /// How many tags there were, which became releases, and by which pattern.
    pub tags: git::TagSummary,
    /// Rows of evidence (manual steps and practices) found in the working tree.
    pub evidence: usize,
    pub warnings: Vec<String>,
    pub tables: Vec<UpsertStats>,
}

/// The service a repository gets when no configured service claims it: named after the repository,
/// with no `deploy_tags` of its own, so the git source takes its releases from semantic-version
/// tags (see `git::ReleaseTags::SemVer`) unless `--tags` says otherwise.
pub fn default_service(repo: &str) -> Service {
    Service::named(repo, None)
}

/// Reads a repository's history (and its delivery configuration) into the workspace.
pub fn collect_git(
    workspace: &mut Workspace,
    config: &Config,
    path: &std::path::Path,
    repo: Option<&str>,
) -> Result<(GitReport, git::History)> {
    let history = git::read(path, repo, &config.git.bots)?;
    let report = store_git(workspace, config, &history)?;
    Ok((report, history))
}

/// Writes a history already read (see [`git::read`]) and the scan of its working tree.
/// Everything is stored in one commit, so a crash leaves the repository's previous state whole.
pub fn store_git(workspace: &mut Workspace, config: &Config, history: &git::History) -> Result<GitReport> {
    workspace.transaction(|ws| store_git_rows(ws, config, history))
}

fn store_git_rows(workspace: &mut Workspace, config: &Config, history: &git::History) -> Result<GitReport> {
    let path = history.path.as_path();
    let fallback = default_service(&history.repo);
    let mut rows = git::rows(history, config, &fallback)?;
    // Tag releases are a snapshot of the tags and the release pattern (`--tags` may change between
    // runs): they replace this repository's earlier tag releases rather than add to them.
    let (releases, tables): (Vec<_>, Vec<_>) = std::mem::take(&mut rows.tables).into_iter().partition(|(schema, _)| {
        schema.name == model::DEPLOYMENTS.name || schema.name == model::DEPLOYMENT_COMMITS.name
    });
    let mut warnings = history.warnings.clone();
    warnings.extend(rows.tags.hint());
    // The delivery configuration is read from the working tree (the files at HEAD); a bare
    // repository has none to read.
    let mut evidence = 0;
    let mut stats = workspace.upsert(&tables)?;
    let release_prefix = format!("git:tag:{}:", history.repo);
    for (schema, rows) in &releases {
        let column = if schema.name == model::DEPLOYMENTS.name { "id" } else { "deployment_id" };
        stats.push(workspace.replace_prefixed(schema, column, &release_prefix, rows)?);
    }
    if path.join(".git").exists() {
        let found = scan::scan(path, &history.repo, config)?;
        evidence = found.rows.len();
        warnings.extend(found.warnings.into_iter().map(|w| format!("configuration scan: {w}")));
        // The scan is a snapshot of HEAD: what was found before and is gone now must go too.
        stats.push(workspace.replace_prefixed(
            &model::EVIDENCE,
            "id",
            &format!("scan:{}:", history.repo),
            &found.rows,
        )?);
    }
    // The ownership analysis is a snapshot of the history up to HEAD, replaced like the scan's rows.
    let ownership = ownership_evidence::rows(history, config, &fallback);
    stats.push(workspace.replace_prefixed(
        &model::EVIDENCE,
        "id",
        &ownership_evidence::prefix(&history.repo),
        &ownership,
    )?);
    workspace.replace(&model::SERVICES, &service_rows(config))?;
    let head = history.head.clone().unwrap_or_default();
    workspace.record_source(
        &format!("git:{}:{}", history.repo, path.display()),
        SourceState { last_run: Utc::now(), cursor: format!("head={head}"), warnings: history.data_warnings.clone() },
    )?;
    Ok(GitReport {
        path: path.to_path_buf(),
        repo: history.repo.clone(),
        commits: history.commits.len(),
        changes: rows.changes,
        deployments: rows.deployments,
        outside_services: rows.outside_services,
        tags: rows.tags,
        evidence,
        warnings,
        tables: stats,
    })
}

/// What one configured source did.
#[derive(Debug, Clone)]
pub enum SourceReport {
    Import(ImportReport),
    Git(GitReport),
    Github(github::GithubReport),
    Gitlab(gitlab::GitlabReport),
    Pagerduty(pagerduty::PagerdutyReport),
    Jira(jira::JiraReport),
}

/// The secrets the HTTP sources authenticate with, one per kind of source. The library never reads
/// them from the environment: the front end resolves them (the CLI from `GITHUB_TOKEN`,
/// `GITLAB_TOKEN`, `PAGERDUTY_TOKEN`, `JIRA_*`) and passes them in; each reaches only its own
/// source's client, and none is printed (`Debug` shows which are set, not what they are) or written.
#[derive(Clone)]
pub struct Credentials {
    pub github: Option<String>,
    pub gitlab: gitlab::Credentials,
    pub pagerduty: Option<String>,
    pub jira: Option<jira::client::Auth>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials { github: None, gitlab: gitlab::Credentials::None, pagerduty: None, jira: None }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |yes: bool| if yes { "***" } else { "none" };
        f.debug_struct("Credentials")
            .field("github", &set(self.github.is_some()))
            .field("gitlab", &set(self.gitlab.secret().is_some()))
            .field("pagerduty", &set(self.pagerduty.is_some()))
            .field("jira", &set(self.jira.is_some()))
            .finish()
    }
}

/// Runs every source in the configuration, in order, with no credentials (sources with `recorded`
/// pages need none; see [`collect_configured_with_credentials`]).
pub fn collect_configured(workspace: &mut Workspace, config: &Config) -> Result<Vec<SourceReport>> {
    collect_configured_with_credentials(workspace, config, &Credentials::default(), None)
}

/// Runs every source in the configuration, in order; `token` authenticates GitHub sources read
/// from the network (those with `recorded` pages need none); `progress` is told how each
/// GitHub resource is going.
pub fn collect_configured_with(
    workspace: &mut Workspace,
    config: &Config,
    token: Option<String>,
    progress: Option<github::ProgressSink>,
) -> Result<Vec<SourceReport>> {
    let credentials = Credentials { github: token, ..Credentials::default() };
    collect_configured_with_credentials(workspace, config, &credentials, progress)
}

/// Runs every source in the configuration, in order, each HTTP source authenticated with its
/// secret from `credentials`; `progress` is told how each resource is going.
pub fn collect_configured_with_credentials(
    workspace: &mut Workspace,
    config: &Config,
    credentials: &Credentials,
    progress: Option<github::ProgressSink>,
) -> Result<Vec<SourceReport>> {
    let mut reports = Vec::new();
    for source in &config.sources {
        match source {
            Source::Import(s) => {
                let request = ImportRequest {
                    path: s.path.clone(),
                    kind: ImportKind::parse(&s.kind).expect("validated with the configuration"),
                    format: s.format.as_deref().and_then(Format::parse),
                    service: s.service.clone(),
                    namespace: s.namespace.clone(),
                };
                reports.push(SourceReport::Import(import_file(workspace, config, &request)?));
            }
            Source::Git(s) => {
                let (report, _) = collect_git(workspace, config, &s.path, s.repo.as_deref())?;
                reports.push(SourceReport::Git(report));
            }
            Source::Pagerduty(s) => {
                reports.push(SourceReport::Pagerduty(pagerduty::collect_source(
                    workspace,
                    config,
                    s,
                    credentials.pagerduty.clone(),
                    progress.clone(),
                )?));
            }
            Source::Github(s) => {
                reports.push(SourceReport::Github(collect_github_source(
                    workspace,
                    config,
                    s,
                    credentials.github.clone(),
                    progress.clone(),
                )?));
            }
            Source::Gitlab(s) => {
                reports.push(SourceReport::Gitlab(collect_gitlab_source(
                    workspace,
                    config,
                    s,
                    credentials.gitlab.clone(),
                    progress.clone(),
                )?));
            }
            Source::Jira(s) => {
                let auth = credentials.jira.clone();
                reports.push(SourceReport::Jira(collect_jira_source(workspace, config, s, auth, progress.clone())?));
            }
        }
    }
    workspace.replace(&model::SERVICES, &service_rows(config))?;
    Ok(reports)
}

/// Collects one configured GitHub source: from its recorded pages when it names some (no network,
/// no token), else from the API, authenticated with `token`.
pub fn collect_github_source(
    workspace: &mut Workspace,
    config: &Config,
    source: &GithubSource,
    token: Option<String>,
    progress: Option<github::ProgressSink>,
) -> Result<github::GithubReport> {
    if let Some(pages) = &source.recorded {
        let report = github::reextract_from(workspace, config, &source.repo, pages)?;
        let name = format!("github:{}:recorded:{}", source.repo, pages.display());
        record_recorded_pages(workspace, &name, report.pages, &report.data_warnings)?;
        return Ok(report);
    }
    let mut request = github::GithubRequest::new(&source.repo, source.api_url.as_deref(), token);
    request.incident_labels = source.incident_labels.clone();
    request.pacing = github::Pacing::with_max_wait(source.max_wait_seconds);
    request.progress = progress;
    request.all_jobs = source.all_jobs;
    github::collect_github(workspace, config, &request)
}

/// Collects one configured GitLab source: from its recorded pages when it names some (no network,
/// no token), else from the API with `credentials`.
pub fn collect_gitlab_source(
    workspace: &mut Workspace,
    config: &Config,
    source: &GitlabSource,
    credentials: gitlab::Credentials,
    progress: Option<github::ProgressSink>,
) -> Result<gitlab::GitlabReport> {
    if let Some(pages) = &source.recorded {
        let mut report = gitlab::reextract_from(workspace, config, &source.project, pages)?;
        add_extras(&mut report, gitlab::extras::collect_source(workspace, config, source, credentials));
        let name = format!("gitlab:{}:recorded:{}", source.project, pages.display());
        record_recorded_pages(workspace, &name, report.pages, &report.data_warnings)?;
        return Ok(report);
    }
    let mut request = gitlab::GitlabRequest::new(&source.project, source.api_url.as_deref(), credentials);
    request.pacing = github::Pacing::with_max_wait(source.max_wait_seconds);
    request.progress = progress;
    let mut report = gitlab::collect_gitlab(workspace, config, &request)?;
    add_extras(&mut report, gitlab::extras::collect_source(workspace, config, source, request.credentials.clone()));
    Ok(report)
}

/// Lists a source read from recorded pages with the other sources (the report's methodology), like
/// an import, with what the pages show was cut short as its data warnings.
fn record_recorded_pages(
    workspace: &mut Workspace,
    name: &str,
    pages: usize,
    data_warnings: &[model::DataWarning],
) -> Result<()> {
    let warnings =
        data_warnings.iter().cloned().map(|w| model::DataWarning { source: name.to_string(), ..w }).collect();
    workspace.record_source(name, SourceState { last_run: Utc::now(), cursor: format!("pages={pages}"), warnings })
}

/// Folds what a GitLab project's extras (CODEOWNERS verdict, incidents, GitLab's DORA figures)
/// read into the project's report. Their failure does not undo the merge requests, pipelines and
/// deployments already stored: it is reported as a warning naming what is missing.
fn add_extras(report: &mut gitlab::GitlabReport, extras: Result<gitlab::extras::ExtrasReport>) {
    match extras {
        Ok(extras) => {
            report.pages += extras.pages;
            report.evidence += extras.evidence_rows;
            report.warnings.extend(extras.warnings);
        }
        Err(e) => report.warnings.push(format!(
            "{}: CODEOWNERS, incidents and GitLab's own DORA figures were not read ({e}); run the collection again",
            report.project
        )),
    }
}

/// Collects one configured Jira source: from its recorded pages when it names some (no network, no
/// credentials), else from the site, authenticated with `auth`.
pub fn collect_jira_source(
    workspace: &mut Workspace,
    config: &Config,
    source: &JiraSource,
    auth: Option<jira::client::Auth>,
    progress: Option<github::ProgressSink>,
) -> Result<jira::JiraReport> {
    if let Some(pages) = &source.recorded {
        let report = jira::reextract_from(workspace, config, source, pages)?;
        let name = format!("jira:{}:recorded:{}", jira::site_name(&source.api_url), pages.display());
        record_recorded_pages(workspace, &name, report.pages, &report.data_warnings)?;
        return Ok(report);
    }
    let mut request = jira::JiraRequest::new(source, auth);
    request.progress = progress;
    jira::collect_jira(workspace, config, &request)
}

/// The `services` table as configured.
pub fn service_rows(config: &Config) -> Vec<Row> {
    config
        .services
        .iter()
        .map(|s| {
            vec![
                Value::Text(s.name.clone()),
                Value::Text(s.repos.join(" ")),
                Value::Text(s.paths.join(" ")),
                Value::Text(s.production_environments.join(" ")),
            ]
        })
        .collect()
}
