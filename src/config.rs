//! Configuration: embedded defaults, then `flowgauge.toml`, then `FLOWGAUGE_*` environment, then flags.
//!
//! Layers are merged as TOML trees before anything is interpreted, so every layer can set every key
//! and a validation error always names the key that is wrong, whatever layer it came from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::calendar::Grain;
use crate::error::{Error, Result};

/// The defaults every configuration starts from.
pub const DEFAULTS: &str = r#"
[analysis]
period = "quarter"
benchmark_year = 2023
min_sample = 10
min_weeks = 4
incident_link_hours = 24.0
first_deployment_lookback_days = 7.0

[git]
bots = []
inactive_days = 180
prereleases = false
"#;

/// The commented starter file `flowgauge init` writes.
pub const STARTER: &str = include_str!("starter.toml");

/// Environment variables read on top of the file, and the key each one sets.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("FLOWGAUGE_SINCE", "analysis.since"),
    ("FLOWGAUGE_UNTIL", "analysis.until"),
    ("FLOWGAUGE_PERIOD", "analysis.period"),
    ("FLOWGAUGE_BENCHMARK_YEAR", "analysis.benchmark_year"),
    ("FLOWGAUGE_MIN_SAMPLE", "analysis.min_sample"),
    ("FLOWGAUGE_INCIDENT_LINK_HOURS", "analysis.incident_link_hours"),
    ("FLOWGAUGE_WORKSPACE", "workspace"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    workspace: Option<PathBuf>,
    analysis: RawAnalysis,
    #[serde(default)]
    services: Vec<RawService>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    report: RawReport,
    git: RawGit,
    #[serde(default)]
    assessment: RawAssessment,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssessment {
    #[serde(default)]
    answers: Vec<PathBuf>,
    #[serde(default)]
    catalogue: Option<PathBuf>,
}

/// Settings of the maturity assessment (`flowgauge assess`, docs/assessment.md).
#[derive(Debug, Clone, Default)]
pub struct AssessmentSettings {
    /// The team's answers files (TOML or survey-tool CSV), relative to the configuration file.
    pub answers: Vec<PathBuf>,
    /// A capability catalogue replacing the embedded one, relative to the configuration file; used
    /// by `assess` and `report` alike (`--catalogue` overrides it for one `assess` run).
    pub catalogue: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGit {
    bots: Vec<String>,
    inactive_days: i64,
    prereleases: bool,
}

/// Settings of the git source and the ownership analysis.
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// Extra bot name or e-mail fragments, beyond the built-in list (dependabot, renovate, `[bot]`, …).
    pub bots: Vec<String>,
    /// A developer inactive this many days no longer holds knowledge of their files.
    pub inactive_days: i64,
    /// Whether pre-release tags (`v1.2.0-rc1`) count as production deployments; by default they are
    /// deployments to the `prerelease` environment, outside production.
    pub prereleases: bool,
    /// Tags (glob) that mark releases of the repositories read, over every service's `deploy_tags`
    /// and the semantic-version default; set by `--tags`, not by the file.
    pub release_tags: Option<String>,
}

impl GitSettings {
    /// Sets [`GitSettings::release_tags`] (`--tags`), rejecting a pattern that is not a glob.
    pub fn set_release_tags(&mut self, pattern: &str) -> Result<()> {
        Glob::new(pattern).map_err(|e| bad("--tags", e.to_string()))?;
        self.release_tags = Some(pattern.to_string());
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    title: Option<String>,
    client: Option<String>,
    logo: Option<PathBuf>,
    accent_colour: Option<String>,
    footer: Option<String>,
}

/// Branding of the HTML report, for consultants' client reports.
#[derive(Debug, Clone, Default)]
pub struct ReportBranding {
    pub title: Option<String>,
    pub client: Option<String>,
    /// Logo image (PNG, JPEG, SVG or GIF), embedded as a data URI.
    pub logo: Option<PathBuf>,
    /// `#rrggbb`.
    pub accent_colour: Option<String>,
    pub footer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    since: Option<String>,
    until: Option<String>,
    period: String,
    benchmark_year: i64,
    min_sample: i64,
    min_weeks: i64,
    incident_link_hours: f64,
    first_deployment_lookback_days: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    #[serde(default)]
    repos: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    production_environments: Option<Vec<String>>,
    incident_link_hours: Option<f64>,
    deploy_tags: Option<String>,
    deployments_from: Option<String>,
    deploy_workflows: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(rename = "type")]
    source_type: String,
    path: Option<PathBuf>,
    kind: Option<String>,
    service: Option<String>,
    format: Option<String>,
    namespace: Option<String>,
    /// For git sources: the repository's name as services list it (`owner/name`); for GitHub
    /// sources: the repository to collect.
    repo: Option<String>,
    /// For GitHub sources: the REST API root (GitHub Enterprise: `https://HOST/api/v3`).
    api_url: Option<String>,
    /// For GitHub sources: the longest single wait for a rate limit or backoff, in seconds.
    max_wait_seconds: Option<u64>,
    /// For GitHub sources: issues with any of these labels are incidents.
    incident_labels: Option<Vec<String>>,
    /// For GitHub sources: read these recorded raw pages instead of the network.
    recorded: Option<PathBuf>,
    /// For GitHub sources: whose workflow runs' jobs to read, `deploy` or `all`.
    jobs: Option<String>,
    /// For GitLab sources: the project to collect (`group/subgroup/name` or its numeric id).
    project: Option<String>,
    /// For PagerDuty sources: the account's name in source names and the raw layer.
    account: Option<String>,
    /// For PagerDuty and Jira sources: which of the tracker's services (PagerDuty service, Jira
    /// component, label or field value) are which flowgauge services.
    service_map: Option<RawServiceMap>,
    /// For PagerDuty sources: read change events as deployments (absent: only for services with
    /// no deployments from another source).
    change_events_as_deployments: Option<bool>,
    /// For Jira sources: `cloud` or `datacenter` (detected from the server when absent).
    flavour: Option<String>,
    /// For Jira sources: projects whose "[System] Incident" work items are incidents.
    projects: Option<Vec<String>>,
    /// For Jira sources: work items with any of these labels are incidents.
    labels: Option<Vec<String>>,
    /// For Jira sources: the JQL choosing incidents, replacing `projects` and `labels`.
    jql: Option<String>,
    /// For Jira sources: where an incident's service is read, `components`, `labels` or a field id.
    service_from: Option<String>,
    /// For Jira sources: statuses that mean someone is working on the incident.
    acknowledged_statuses: Option<Vec<String>>,
    /// For Jira sources: statuses that mean the impact has ended.
    mitigated_statuses: Option<Vec<String>>,
    /// For Jira sources: statuses that mean the incident is over.
    resolved_statuses: Option<Vec<String>>,
    /// For Jira sources: the field holding severity (e.g. `customfield_10040`).
    severity_field: Option<String>,
    /// For Jira sources: the field holding the responding team.
    team_field: Option<String>,
    /// For Jira sources: read each incident's remote links (one request per incident).
    remote_links: Option<bool>,
}

/// A `service_map`, written either as a table (`{ "Ledger core" = "ledger" }`) or, where order
/// matters (PagerDuty's globs are tried in order), as a list of `{ pagerduty = …, service = … }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawServiceMap {
    List(Vec<RawServiceMapping>),
    Table(BTreeMap<String, String>),
}

impl RawServiceMap {
    /// The entries as (tracker's name, flowgauge service) pairs, in the order they are tried.
    fn into_pairs(self) -> Vec<(String, String)> {
        match self {
            RawServiceMap::List(list) => list.into_iter().map(|m| (m.pagerduty, m.service)).collect(),
            RawServiceMap::Table(table) => table.into_iter().collect(),
        }
    }
}

/// One `service_map` entry of a PagerDuty source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceMapping {
    pagerduty: String,
    service: String,
}

/// The analysis window, defined with the calendar it is cut into; re-exported for old paths.
pub use crate::calendar::Window;

/// DORA report whose thresholds levels are judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchmarkYear {
    Y2021,
    Y2023,
    Y2024,
}

impl BenchmarkYear {
    pub fn year(self) -> u16 {
        match self {
            BenchmarkYear::Y2021 => 2021,
            BenchmarkYear::Y2023 => 2023,
            BenchmarkYear::Y2024 => 2024,
        }
    }
}

/// Settings of the analysis itself.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub window: Window,
    pub period: Grain,
    pub benchmark_year: BenchmarkYear,
    /// A level resting on fewer events than this is low-confidence.
    pub min_sample: usize,
    /// Deployment frequency resting on fewer whole weeks than this is low-confidence.
    pub min_weeks: usize,
    pub incident_link_hours: f64,
    pub first_deployment_lookback_days: f64,
}

/// One service.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub repos: Vec<String>,
    pub paths: Vec<String>,
    pub production_environments: Vec<String>,
    pub incident_link_hours: f64,
    /// Tags (glob) that mark production deployments in the git source, e.g. `v*`.
    pub deploy_tags: Option<String>,
    /// Where a forge source finds this service's deployments.
    pub deployments_from: DeploymentSignal,
    /// Workflow-name globs whose successful runs are production deployments, when
    /// `deployments_from = "actions"`.
    pub deploy_workflows: Vec<String>,
    production_matchers: Vec<GlobMatcher>,
    workflow_matchers: Vec<GlobMatcher>,
}

/// Where a forge source finds a service's production deployments. Repositories that do not use
/// GitHub's Deployments API still deploy — from a workflow or by publishing a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeploymentSignal {
    /// The forge's deployments and their statuses (GitHub's Deployments API; Actions jobs with an
    /// `environment:` create them).
    #[default]
    Deployments,
    /// Runs of the workflows named by `deploy_workflows`: a successful run is a deployment.
    Actions,
    /// Published releases: each is a production deployment of its tag's commit.
    Releases,
}

impl DeploymentSignal {
    pub fn parse(text: &str) -> Option<DeploymentSignal> {
        match text {
            "deployments" => Some(DeploymentSignal::Deployments),
            "actions" => Some(DeploymentSignal::Actions),
            "releases" => Some(DeploymentSignal::Releases),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeploymentSignal::Deployments => "deployments",
            DeploymentSignal::Actions => "actions",
            DeploymentSignal::Releases => "releases",
        }
    }
}

/// Workflows whose runs count as deployments when none are named.
pub const DEFAULT_DEPLOY_WORKFLOWS: [&str; 2] = ["*deploy*", "*release*"];

fn matchers(globs: &[String]) -> Vec<GlobMatcher> {
    globs.iter().filter_map(|g| Glob::new(&g.to_ascii_lowercase()).ok()).map(|g| g.compile_matcher()).collect()
}

impl Service {
    /// A service with default settings, for a repository analysed without configuration.
    pub fn named(name: &str, deploy_tags: Option<&str>) -> Service {
        Service {
            name: name.to_string(),
            repos: Vec::new(),
            paths: Vec::new(),
            production_environments: DEFAULT_PRODUCTION.iter().map(|s| s.to_string()).collect(),
            incident_link_hours: 24.0,
            deploy_tags: deploy_tags.map(str::to_string),
            deployments_from: DeploymentSignal::default(),
            deploy_workflows: DEFAULT_DEPLOY_WORKFLOWS.iter().map(|s| s.to_string()).collect(),
            production_matchers: DEFAULT_PRODUCTION
                .iter()
                .map(|p| Glob::new(p).expect("default patterns are valid").compile_matcher())
                .collect(),
            workflow_matchers: matchers(&DEFAULT_DEPLOY_WORKFLOWS.map(str::to_string)),
        }
    }

    /// Whether a workflow (by name) deploys this service, for `deployments_from = "actions"`
    /// (case-insensitive globs).
    pub fn is_deploy_workflow(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.workflow_matchers.iter().any(|m| m.is_match(&name))
    }

    /// Whether the service names its production environments itself (rather than the defaults), so
    /// that a forge's own idea of production (GitLab's `tier`) does not override them.
    pub fn production_environments_configured(&self) -> bool {
        self.production_environments.iter().map(String::as_str).ne(DEFAULT_PRODUCTION.iter().copied())
    }

    /// Whether an environment name counts as production for this service (case-insensitive globs).
    pub fn is_production(&self, environment: &str) -> bool {
        let environment = environment.to_ascii_lowercase();
        self.production_matchers.iter().any(|m| m.is_match(&environment))
    }
}

/// A configured source of data.
#[derive(Debug, Clone)]
pub enum Source {
    Import(ImportSource),
    Git(GitSource),
    Github(GithubSource),
    Gitlab(GitlabSource),
    Pagerduty(PagerdutySource),
    Jira(Box<JiraSource>),
}

/// A GitLab project collected through the API on every `flowgauge collect`, or from pages recorded
/// earlier.
#[derive(Debug, Clone)]
pub struct GitlabSource {
    /// `group/subgroup/name`, or the numeric project id.
    pub project: String,
    /// The instance's root URL; `https://gitlab.com` when absent.
    pub api_url: Option<String>,
    /// Longest single wait for a rate limit or a retry; one hour when absent.
    pub max_wait_seconds: Option<u64>,
    /// A directory laid out like a workspace's `raw/gitlab/` (`<group>/<name>/<resource>/` pages):
    /// when set, the rows are extracted from these pages, with no network and no token.
    pub recorded: Option<PathBuf>,
    /// Issues carrying any of these labels are incidents too (issues of GitLab's `incident` type
    /// always are); empty when absent.
    pub incident_labels: Vec<String>,
}

/// A PagerDuty account collected through the REST API v2 on every `flowgauge collect`, or from
/// pages recorded earlier.
#[derive(Debug, Clone)]
pub struct PagerdutySource {
    /// Names the account in source names and the raw layer (`raw/pagerduty/<account>/`); the API
    /// host when absent.
    pub account: Option<String>,
    /// REST API root; `https://api.pagerduty.com` when absent (EU: `https://api.eu.pagerduty.com`).
    pub api_url: Option<String>,
    pub max_wait_seconds: Option<u64>,
    /// PagerDuty services → flowgauge services, tried in order.
    pub service_map: Vec<ServiceMapping>,
    /// `Some(true)`: every change event of a mapped service is a deployment; `Some(false)`: none;
    /// `None`: only for services with no deployments from another source.
    pub change_events_as_deployments: Option<bool>,
    /// A directory laid out like a workspace's `raw/pagerduty/<account>/`: when set, the rows are
    /// extracted from these pages, with no network and no token.
    pub recorded: Option<PathBuf>,
}

/// A PagerDuty service (its id, or a case-insensitive glob over its name) and the flowgauge service
/// it is.
#[derive(Debug, Clone)]
pub struct ServiceMapping {
    pub pagerduty: String,
    pub service: String,
}

/// A GitHub repository collected through the API on every `flowgauge collect`, or from pages
/// recorded earlier.
#[derive(Debug, Clone)]
pub struct GithubSource {
    /// `owner/name`.
    pub repo: String,
    /// REST API root; `https://api.github.com` when absent.
    pub api_url: Option<String>,
    /// Longest single wait for a rate limit or a retry; one hour when absent.
    pub max_wait_seconds: Option<u64>,
    /// Issues with any of these labels are incidents (`["incident"]` when absent).
    pub incident_labels: Vec<String>,
    /// A directory laid out like a workspace's `raw/github/` (`<owner>/<name>/<resource>/` pages):
    /// when set, the rows are extracted from these pages, with no network and no token.
    pub recorded: Option<PathBuf>,
    /// Read the jobs of every workflow run (`jobs = "all"`), not only of the runs of the service's
    /// deploy workflows (`jobs = "deploy"`, the default): the REST API costs one request per run.
    pub all_jobs: bool,
}

/// Which Jira answers: Jira Cloud (`/rest/api/3/search/jql`, changelogs in bulk) or Jira Data
/// Center / Server (`/rest/api/2/search` with `startAt`, changelogs expanded in the search).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JiraFlavour {
    Cloud,
    DataCenter,
}

/// Where a Jira incident's service is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JiraServiceField {
    Components,
    Labels,
    /// A field by id (`customfield_10050`): its text, option value or name.
    Field(String),
}

/// Jira statuses that default to meaning acknowledged, mitigated and resolved (compared without case).
pub const JIRA_ACKNOWLEDGED: &[&str] =
    &["In Progress", "Work in progress", "Investigating", "Identified", "Acknowledged"];
pub const JIRA_MITIGATED: &[&str] = &["Mitigated"];
pub const JIRA_RESOLVED: &[&str] = &["Resolved", "Done", "Closed", "Completed"];

/// A Jira Cloud or Data Center site whose incidents are collected on every `flowgauge collect`, or
/// pages recorded earlier.
#[derive(Debug, Clone)]
pub struct JiraSource {
    /// The site root, `https://SITE.atlassian.net` or a Data Center base URL; names the site.
    pub api_url: String,
    /// `None`: asked of the server (`/rest/api/2/serverInfo`).
    pub flavour: Option<JiraFlavour>,
    pub projects: Vec<String>,
    pub labels: Vec<String>,
    pub jql: Option<String>,
    /// Every incident belongs to this service (else `service_from` decides).
    pub service: Option<String>,
    pub service_from: JiraServiceField,
    pub service_map: std::collections::BTreeMap<String, String>,
    pub acknowledged_statuses: Vec<String>,
    pub mitigated_statuses: Vec<String>,
    pub resolved_statuses: Vec<String>,
    pub severity_field: Option<String>,
    pub team_field: Option<String>,
    pub remote_links: bool,
    /// A directory laid out like a workspace's `raw/jira/`: rows come from these pages, no network.
    pub recorded: Option<PathBuf>,
    pub max_wait_seconds: Option<u64>,
}

/// A local repository read on every `flowgauge collect`.
#[derive(Debug, Clone)]
pub struct GitSource {
    pub path: PathBuf,
    /// Name used in ids and matched against `services.repos`; the directory name when absent.
    pub repo: Option<String>,
}

/// A file to import on every `flowgauge collect`.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub path: PathBuf,
    pub kind: String,
    pub service: Option<String>,
    pub format: Option<String>,
    pub namespace: String,
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub workspace: Option<PathBuf>,
    pub analysis: Analysis,
    pub services: Vec<Service>,
    pub sources: Vec<Source>,
    pub report: ReportBranding,
    pub git: GitSettings,
    pub assessment: AssessmentSettings,
    /// Where the configuration file was, for messages; `None` when only defaults were used.
    pub file: Option<PathBuf>,
}

/// Overrides from the command line, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub since: Option<String>,
    pub until: Option<String>,
    pub period: Option<String>,
    pub benchmark_year: Option<i64>,
    pub workspace: Option<PathBuf>,
}

const DEFAULT_PRODUCTION: &[&str] = &["production", "prod", "prd", "live"];

/// A matcher for a service's path pattern. A pattern without wildcards names a file or a directory
/// (`services/api` owns everything below it), the way people write paths; others are globs.
pub fn path_matcher(pattern: &str) -> std::result::Result<GlobMatcher, globset::Error> {
    let plain = !pattern.contains(['*', '?', '[', '{']);
    let trimmed = pattern.trim_end_matches('/');
    let glob = if plain { Glob::new(&format!("{{{trimmed},{trimmed}/**}}"))? } else { Glob::new(pattern)? };
    Ok(glob.compile_matcher())
}

/// Whether an environment counts as production for a service that configures no patterns.
pub fn is_default_production(environment: &str) -> bool {
    DEFAULT_PRODUCTION.contains(&environment.to_ascii_lowercase().as_str())
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, then `overrides`; `now` fixes the
    /// default window so that tests are deterministic.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
        now: DateTime<Utc>,
    ) -> Result<Config> {
        let text = match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| Error::ConfigSyntax {
                path: path.to_path_buf(),
                message: format!("cannot read the configuration file: {e}"),
            })?),
            None => None,
        };
        Self::from_layers(file, text.as_deref(), env, overrides, now)
    }

    /// Builds a configuration from the text of a file (no environment, no overrides); for tests and
    /// embedding. `until`/`since` default relative to `now`.
    pub fn from_toml(text: &str, now: DateTime<Utc>) -> Result<Config> {
        Self::from_layers(None, Some(text), &|_| None, &Overrides::default(), now)
    }

    fn from_layers(
        file: Option<&Path>,
        text: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
        now: DateTime<Utc>,
    ) -> Result<Config> {
        let label = || file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("<configuration>"));
        let mut tree: toml::Table = DEFAULTS.parse().expect("embedded defaults are valid TOML");
        if let Some(text) = text {
            let layer: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::ConfigSyntax {
                path: label(),
                message: e.to_string().trim_end().to_string(),
            })?;
            merge(&mut tree, layer);
        }
        for (var, key) in ENVIRONMENT {
            if let Some(value) = env(var) {
                // Paths stay text even when they look like numbers (`FLOWGAUGE_WORKSPACE=2025`).
                let value = if *key == "workspace" { toml::Value::String(value) } else { parse_scalar(&value) };
                set_key(&mut tree, key, value);
            }
        }
        apply_overrides(&mut tree, overrides);
        let raw: RawConfig = toml::Value::Table(tree).try_into().map_err(|e: toml::de::Error| Error::ConfigSyntax {
            path: label(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = file.and_then(Path::parent).unwrap_or(Path::new("."));
        validate(raw, base, now, file)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The single service that claims `repo`, if exactly one does.
    pub fn service_for_repo(&self, repo: &str) -> Option<&Service> {
        let mut claimed = self.services.iter().filter(|s| s.repos.iter().any(|r| r == repo));
        match (claimed.next(), claimed.next()) {
            (Some(service), None) => Some(service),
            _ => None,
        }
    }
}

/// Whether `project` names a GitLab project: a path of two or more segments (`group/subgroup/name`,
/// letters, digits, `-`, `_`, `.`, none starting with `.`) or a numeric id.
pub fn is_gitlab_project(project: &str) -> bool {
    let segment = |s: &str| {
        !s.is_empty() && !s.starts_with('.') && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    project.split('/').all(segment) && (project.contains('/') || project.bytes().all(|b| b.is_ascii_digit()))
}

/// A `type = "gitlab"` source: a project (path or id), optionally an instance URL, a longest wait
/// and recorded pages (which exclude the network's settings).
fn gitlab_source(key: &str, s: RawSource, base: &Path) -> Result<GitlabSource> {
    let foreign = [
        ("path", s.path.is_some()),
        ("kind", s.kind.is_some()),
        ("service", s.service.is_some()),
        ("format", s.format.is_some()),
        ("namespace", s.namespace.is_some()),
        ("repo", s.repo.is_some()),
        ("jobs", s.jobs.is_some()),
    ];
    refuse_fields(key, &foreign, |field| {
        let hint = if field == "repo" { " (a gitlab source names its `project`)" } else { "" };
        format!("does not apply to gitlab sources{hint}")
    })?;
    let project =
        s.project.ok_or_else(|| bad(format!("{key}.project"), "a gitlab source needs project = \"group/name\""))?;
    if !is_gitlab_project(&project) {
        return Err(bad(
            format!("{key}.project"),
            format!("`{project}` is not a GitLab project written as group/name (subgroups allowed) or a numeric id"),
        ));
    }
    check_http_url(key, s.api_url.as_deref())?;
    let recorded = match s.recorded {
        Some(dir) => Some(recorded_dir(
            key,
            "gitlab",
            base,
            &dir,
            &[
                ("api_url", s.api_url.is_some()),
                ("max_wait_seconds", s.max_wait_seconds.is_some()),
                ("incident_labels", s.incident_labels.is_some()),
            ],
            "GROUP/NAME/RESOURCE/*.json",
        )?),
        None => None,
    };
    // Issues of GitLab's `incident` type are always incidents; these labels add labelled issues.
    let incident_labels = s.incident_labels.unwrap_or_default();
    if incident_labels.iter().any(|l| l.trim().is_empty()) {
        return Err(bad(format!("{key}.incident_labels"), "labels must not be empty"));
    }
    Ok(GitlabSource { project, api_url: s.api_url, max_wait_seconds: s.max_wait_seconds, recorded, incident_labels })
}

fn apply_overrides(tree: &mut toml::Table, o: &Overrides) {
    let pairs: [(&str, Option<toml::Value>); 5] = [
        ("analysis.since", o.since.clone().map(toml::Value::String)),
        ("analysis.until", o.until.clone().map(toml::Value::String)),
        ("analysis.period", o.period.clone().map(toml::Value::String)),
        ("analysis.benchmark_year", o.benchmark_year.map(toml::Value::Integer)),
        ("workspace", o.workspace.as_ref().map(|p| toml::Value::String(p.display().to_string()))),
    ];
    for (key, value) in pairs {
        if let Some(value) = value {
            set_key(tree, key, value);
        }
    }
}

/// Deep-merges `layer` into `base`: tables merge key by key, everything else replaces.
fn merge(base: &mut toml::Table, layer: toml::Table) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(incoming)) => merge(existing, incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn set_key(tree: &mut toml::Table, dotted: &str, value: toml::Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let last = parts.pop().expect("keys are non-empty");
    let mut table = tree;
    for part in parts {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.to_string(), value);
}

/// Environment values are strings; numbers are recognised so `FLOWGAUGE_BENCHMARK_YEAR=2021` works.
fn parse_scalar(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(f) = value.parse::<f64>() {
        toml::Value::Float(f)
    } else {
        toml::Value::String(value.to_string())
    }
}

/// The first key given that only a Jira source reads, so that it is not silently ignored elsewhere.
fn jira_only_key(s: &RawSource) -> Option<&'static str> {
    [
        ("flavour", s.flavour.is_some()),
        ("projects", s.projects.is_some()),
        ("labels", s.labels.is_some()),
        ("jql", s.jql.is_some()),
        ("service_from", s.service_from.is_some()),
        ("acknowledged_statuses", s.acknowledged_statuses.is_some()),
        ("mitigated_statuses", s.mitigated_statuses.is_some()),
        ("resolved_statuses", s.resolved_statuses.is_some()),
        ("severity_field", s.severity_field.is_some()),
        ("team_field", s.team_field.is_some()),
        ("remote_links", s.remote_links.is_some()),
    ]
    .into_iter()
    .find_map(|(field, given)| given.then_some(field))
}

/// Validates a `type = "jira"` source.
fn jira_source(key: &str, s: RawSource, base: &Path, names: &BTreeSet<String>) -> Result<JiraSource> {
    let api_url = s.api_url.ok_or_else(|| {
        bad(
            format!("{key}.api_url"),
            "a jira source needs api_url = \"https://SITE.atlassian.net\" (it names the site)",
        )
    })?;
    check_http_url(key, Some(&api_url))?;
    let foreign = [
        ("repo", s.repo.is_some()),
        ("kind", s.kind.is_some()),
        ("jobs", s.jobs.is_some()),
        ("project", s.project.is_some()),
        ("account", s.account.is_some()),
        ("change_events_as_deployments", s.change_events_as_deployments.is_some()),
    ];
    refuse_fields(key, &foreign, |_| "does not apply to jira sources".into())?;
    let flavour = match s.flavour.as_deref() {
        None => None,
        Some("cloud") => Some(JiraFlavour::Cloud),
        Some("datacenter") | Some("server") => Some(JiraFlavour::DataCenter),
        Some(other) => {
            return Err(bad(format!("{key}.flavour"), format!("`{other}` is not \"cloud\" or \"datacenter\"")));
        }
    };
    let projects = s.projects.unwrap_or_default();
    let labels = s.labels.unwrap_or_default();
    if projects.iter().chain(&labels).any(|p| p.trim().is_empty() || p.contains('"')) {
        return Err(bad(format!("{key}.projects"), "project keys and labels must be non-empty and hold no `\"`"));
    }
    if let Some(jql) = &s.jql {
        if jql.trim().is_empty() {
            return Err(bad(format!("{key}.jql"), "must not be empty"));
        }
        if jql.to_ascii_lowercase().contains("order by") {
            return Err(bad(format!("{key}.jql"), "must not hold ORDER BY: incidents are read oldest update first"));
        }
    } else if projects.is_empty() && labels.is_empty() {
        return Err(bad(
            format!("{key}.projects"),
            "a jira source needs `projects` (their \"[System] Incident\" work items), `labels` or `jql` to choose incidents",
        ));
    }
    if let Some(service) = &s.service
        && !names.contains(service)
    {
        return Err(bad(format!("{key}.service"), format!("no service named `{service}` is configured")));
    }
    let service_map: BTreeMap<String, String> =
        s.service_map.map(RawServiceMap::into_pairs).unwrap_or_default().into_iter().collect();
    for (from, to) in &service_map {
        if !names.contains(to) {
            return Err(bad(format!("{key}.service_map.{from}"), format!("no service named `{to}` is configured")));
        }
    }
    let service_from = match s.service_from.as_deref() {
        None | Some("components") => JiraServiceField::Components,
        Some("labels") => JiraServiceField::Labels,
        Some(field) if field.starts_with("customfield_") => JiraServiceField::Field(field.to_string()),
        Some(other) => {
            return Err(bad(
                format!("{key}.service_from"),
                format!("`{other}` is not \"components\", \"labels\" or a field id such as \"customfield_10050\""),
            ));
        }
    };
    let statuses = |given: Option<Vec<String>>, default: &[&str], field: &str| -> Result<Vec<String>> {
        let list = given.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
        if list.iter().any(|s| s.trim().is_empty()) {
            return Err(bad(format!("{key}.{field}"), "statuses must not be empty"));
        }
        Ok(list)
    };
    let recorded = match s.recorded {
        Some(dir) => {
            let dir = base.join(dir);
            if !dir.is_dir() {
                return Err(bad(
                    format!("{key}.recorded"),
                    format!("{} is not a directory of recorded pages (SITE/search/*.json)", dir.display()),
                ));
            }
            Some(dir)
        }
        None => None,
    };
    Ok(JiraSource {
        api_url: api_url.trim_end_matches('/').to_string(),
        flavour,
        projects,
        labels,
        jql: s.jql,
        service: s.service,
        service_from,
        service_map,
        acknowledged_statuses: statuses(s.acknowledged_statuses, JIRA_ACKNOWLEDGED, "acknowledged_statuses")?,
        mitigated_statuses: statuses(s.mitigated_statuses, JIRA_MITIGATED, "mitigated_statuses")?,
        resolved_statuses: statuses(s.resolved_statuses, JIRA_RESOLVED, "resolved_statuses")?,
        severity_field: s.severity_field,
        team_field: s.team_field,
        remote_links: s.remote_links.unwrap_or(true),
        recorded,
        max_wait_seconds: s.max_wait_seconds,
    })
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> Error {
    Error::ConfigValue { key: key.into(), message: message.into() }
}

fn parse_date(key: &str, value: &str) -> Result<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(key, format!("`{value}` is not a date (YYYY-MM-DD) or an RFC 3339 time")))
}

fn validate(raw: RawConfig, base: &Path, now: DateTime<Utc>, file: Option<&Path>) -> Result<Config> {
    let a = raw.analysis;
    let until = match &a.until {
        Some(v) => parse_date("analysis.until", v)?,
        // By default the window ends at the start of tomorrow, so today counts.
        None => (now.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
    };
    let since = match &a.since {
        Some(v) => parse_date("analysis.since", v)?,
        None => until - Duration::days(365),
    };
    if since >= until {
        return Err(bad("analysis.since", format!("{since} is not before analysis.until {until}")));
    }
    let period = Grain::parse(&a.period)
        .filter(|g| *g != Grain::Window)
        .ok_or_else(|| bad("analysis.period", format!("`{}` is not one of week, month, quarter", a.period)))?;
    let benchmark_year = match a.benchmark_year {
        2021 => BenchmarkYear::Y2021,
        2023 => BenchmarkYear::Y2023,
        2024 => BenchmarkYear::Y2024,
        other => {
            return Err(bad("analysis.benchmark_year", format!("{other} is not one of 2021, 2023, 2024")));
        }
    };
    if a.min_sample < 1 {
        return Err(bad("analysis.min_sample", "must be at least 1"));
    }
    if a.min_weeks < 1 {
        return Err(bad("analysis.min_weeks", "must be at least 1"));
    }
    check_positive("analysis.incident_link_hours", a.incident_link_hours)?;
    check_positive("analysis.first_deployment_lookback_days", a.first_deployment_lookback_days)?;

    let mut names = BTreeSet::new();
    let mut services = Vec::new();
    for (i, s) in raw.services.into_iter().enumerate() {
        let key = format!("services[{i}]");
        if s.name.trim().is_empty() {
            return Err(bad(format!("{key}.name"), "must not be empty"));
        }
        if !names.insert(s.name.clone()) {
            return Err(bad(format!("{key}.name"), format!("service `{}` is defined twice", s.name)));
        }
        for (j, p) in s.paths.iter().enumerate() {
            Glob::new(p).map_err(|e| bad(format!("{key}.paths[{j}]"), e.to_string()))?;
        }
        let production_environments: Vec<String> =
            s.production_environments.unwrap_or_else(|| DEFAULT_PRODUCTION.iter().map(|s| s.to_string()).collect());
        let mut production_matchers = Vec::new();
        for (j, p) in production_environments.iter().enumerate() {
            let glob = Glob::new(&p.to_ascii_lowercase())
                .map_err(|e| bad(format!("{key}.production_environments[{j}]"), e.to_string()))?;
            production_matchers.push(glob.compile_matcher());
        }
        let incident_link_hours = s.incident_link_hours.unwrap_or(a.incident_link_hours);
        check_positive(&format!("{key}.incident_link_hours"), incident_link_hours)?;
        let deployments_from = match s.deployments_from.as_deref() {
            None => DeploymentSignal::default(),
            Some(text) => DeploymentSignal::parse(text).ok_or_else(|| {
                bad(
                    format!("{key}.deployments_from"),
                    format!("`{text}` is not one of \"deployments\", \"actions\", \"releases\""),
                )
            })?,
        };
        let deploy_workflows =
            s.deploy_workflows.unwrap_or_else(|| DEFAULT_DEPLOY_WORKFLOWS.iter().map(|s| s.to_string()).collect());
        for (j, w) in deploy_workflows.iter().enumerate() {
            if w.trim().is_empty() {
                return Err(bad(format!("{key}.deploy_workflows[{j}]"), "must not be empty"));
            }
            Glob::new(&w.to_ascii_lowercase())
                .map_err(|e| bad(format!("{key}.deploy_workflows[{j}]"), e.to_string()))?;
        }
        services.push(Service {
            name: s.name,
            repos: s.repos,
            paths: s.paths,
            production_environments,
            incident_link_hours,
            deploy_tags: match s.deploy_tags {
                Some(t) => {
                    Glob::new(&t).map_err(|e| bad(format!("{key}.deploy_tags"), e.to_string()))?;
                    Some(t)
                }
                None => None,
            },
            deployments_from,
            workflow_matchers: matchers(&deploy_workflows),
            deploy_workflows,
            production_matchers,
        });
    }

    let mut sources = Vec::new();
    for (i, s) in raw.sources.into_iter().enumerate() {
        let key = format!("sources[{i}]");
        match s.source_type.as_str() {
            "import" | "git" | "github" | "gitlab" | "pagerduty" if jira_only_key(&s).is_some() => {
                let field = jira_only_key(&s).unwrap_or_default();
                return Err(bad(format!("{key}.{field}"), format!("applies to jira sources, not {}", s.source_type)));
            }
            "import" | "git" | "github" | "gitlab"
                if s.account.is_some() || s.service_map.is_some() || s.change_events_as_deployments.is_some() =>
            {
                let field = if s.account.is_some() {
                    "account"
                } else if s.service_map.is_some() {
                    "service_map"
                } else {
                    "change_events_as_deployments"
                };
                return Err(bad(
                    format!("{key}.{field}"),
                    format!(
                        "applies to {} sources, not {}",
                        if field == "service_map" { "pagerduty and jira" } else { "pagerduty" },
                        s.source_type
                    ),
                ));
            }
            "pagerduty" => sources.push(Source::Pagerduty(pagerduty_source(s, &key, base, &names)?)),
            "import" | "git" | "github" if s.project.is_some() => {
                return Err(bad(format!("{key}.project"), format!("applies to gitlab sources, not {}", s.source_type)));
            }
            "gitlab" => sources.push(Source::Gitlab(gitlab_source(&key, s, base)?)),
            "import" | "git" if s.recorded.is_some() || s.jobs.is_some() => {
                let field = if s.recorded.is_some() { "recorded" } else { "jobs" };
                return Err(bad(format!("{key}.{field}"), format!("applies to github sources, not {}", s.source_type)));
            }
            "import" => {
                let path = s.path.ok_or_else(|| bad(format!("{key}.path"), "an import source needs a path"))?;
                let kind = s.kind.ok_or_else(|| bad(format!("{key}.kind"), "an import source needs a kind"))?;
                if crate::import_spec::ImportKind::parse(&kind).is_none() {
                    return Err(bad(
                        format!("{key}.kind"),
                        format!("`{kind}` is not one of {}", crate::import_spec::ImportKind::NAMES.join(", ")),
                    ));
                }
                if let Some(service) = &s.service
                    && !names.contains(service)
                {
                    return Err(bad(format!("{key}.service"), format!("no service named `{service}` is configured")));
                }
                if let Some(format) = &s.format
                    && crate::import_spec::Format::parse(format).is_none()
                {
                    return Err(bad(format!("{key}.format"), format!("`{format}` is not one of csv, json, ndjson")));
                }
                sources.push(Source::Import(ImportSource {
                    path: base.join(path),
                    kind,
                    service: s.service,
                    format: s.format,
                    namespace: s.namespace.unwrap_or_else(|| "import".to_string()),
                }));
            }
            "git" => {
                let foreign = [
                    ("kind", s.kind.is_some()),
                    ("service", s.service.is_some()),
                    ("format", s.format.is_some()),
                    ("namespace", s.namespace.is_some()),
                ];
                refuse_fields(&key, &foreign, |_| "applies to import sources, not git".into())?;
                let path = s.path.ok_or_else(|| bad(format!("{key}.path"), "a git source needs a path"))?;
                sources.push(Source::Git(GitSource { path: base.join(path), repo: s.repo }));
            }
            "github" => {
                let repo =
                    s.repo.ok_or_else(|| bad(format!("{key}.repo"), "a github source needs repo = \"owner/name\""))?;
                let parts: Vec<&str> = repo.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    return Err(bad(format!("{key}.repo"), format!("`{repo}` is not written as owner/name")));
                }
                check_http_url(&key, s.api_url.as_deref())?;
                let recorded = match s.recorded {
                    Some(dir) => Some(recorded_dir(
                        &key,
                        "github",
                        base,
                        &dir,
                        &[
                            ("api_url", s.api_url.is_some()),
                            ("max_wait_seconds", s.max_wait_seconds.is_some()),
                            ("incident_labels", s.incident_labels.is_some()),
                            ("jobs", s.jobs.is_some()),
                        ],
                        "OWNER/NAME/RESOURCE/*.json",
                    )?),
                    None => None,
                };
                let incident_labels = s.incident_labels.unwrap_or_else(|| vec!["incident".to_string()]);
                if incident_labels.is_empty() || incident_labels.iter().any(|l| l.trim().is_empty()) {
                    return Err(bad(format!("{key}.incident_labels"), "needs at least one non-empty label"));
                }
                let all_jobs = match s.jobs.as_deref() {
                    None | Some("deploy") => false,
                    Some("all") => true,
                    Some(other) => {
                        return Err(bad(format!("{key}.jobs"), format!("`{other}` is not \"deploy\" or \"all\"")));
                    }
                };
                sources.push(Source::Github(GithubSource {
                    repo,
                    api_url: s.api_url,
                    max_wait_seconds: s.max_wait_seconds,
                    incident_labels,
                    recorded,
                    all_jobs,
                }));
            }
            "jira" => sources.push(Source::Jira(Box::new(jira_source(&key, s, base, &names)?))),
            other => {
                return Err(bad(
                    format!("{key}.type"),
                    format!("`{other}` is not a known source type (import, git, github, gitlab, pagerduty, jira)"),
                ));
            }
        }
    }

    Ok(Config {
        workspace: raw.workspace,
        analysis: Analysis {
            window: Window { since, until },
            period,
            benchmark_year,
            min_sample: a.min_sample as usize,
            min_weeks: a.min_weeks as usize,
            incident_link_hours: a.incident_link_hours,
            first_deployment_lookback_days: a.first_deployment_lookback_days,
        },
        services,
        sources,
        report: validate_report(raw.report, base)?,
        git: {
            if raw.git.inactive_days < 1 {
                return Err(bad("git.inactive_days", "must be at least 1"));
            }
            GitSettings {
                bots: raw.git.bots,
                inactive_days: raw.git.inactive_days,
                prereleases: raw.git.prereleases,
                release_tags: None,
            }
        },
        assessment: AssessmentSettings {
            answers: raw.assessment.answers.iter().map(|p| base.join(p)).collect(),
            catalogue: raw.assessment.catalogue.as_ref().map(|p| base.join(p)),
        },
        file: file.map(Path::to_path_buf),
    })
}

/// Validates a `type = "pagerduty"` source.
fn pagerduty_source(s: RawSource, key: &str, base: &Path, names: &BTreeSet<String>) -> Result<PagerdutySource> {
    let foreign = [
        ("path", s.path.is_some()),
        ("kind", s.kind.is_some()),
        ("service", s.service.is_some()),
        ("format", s.format.is_some()),
        ("namespace", s.namespace.is_some()),
        ("repo", s.repo.is_some()),
        ("incident_labels", s.incident_labels.is_some()),
        ("jobs", s.jobs.is_some()),
        ("project", s.project.is_some()),
    ];
    refuse_fields(key, &foreign, |_| "does not apply to pagerduty sources".into())?;
    check_http_url(key, s.api_url.as_deref())?;
    if let Some(account) = &s.account
        && (account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return Err(bad(
            format!("{key}.account"),
            format!("`{account}` may hold only letters, digits, `-`, `_` and `.`"),
        ));
    }
    let mut service_map = Vec::new();
    for (j, (pagerduty, service)) in
        s.service_map.map(RawServiceMap::into_pairs).unwrap_or_default().into_iter().enumerate()
    {
        let m = RawServiceMapping { pagerduty, service };
        if m.pagerduty.trim().is_empty() {
            return Err(bad(format!("{key}.service_map[{j}].pagerduty"), "must not be empty"));
        }
        Glob::new(&m.pagerduty.to_ascii_lowercase())
            .map_err(|e| bad(format!("{key}.service_map[{j}].pagerduty"), e.to_string()))?;
        if !names.contains(&m.service) {
            return Err(bad(
                format!("{key}.service_map[{j}].service"),
                format!("no service named `{}` is configured", m.service),
            ));
        }
        service_map.push(ServiceMapping { pagerduty: m.pagerduty, service: m.service });
    }
    let recorded = match s.recorded {
        Some(dir) => Some(recorded_dir(
            key,
            "pagerduty",
            base,
            &dir,
            &[("api_url", s.api_url.is_some()), ("max_wait_seconds", s.max_wait_seconds.is_some())],
            "RESOURCE/*.json",
        )?),
        None => None,
    };
    Ok(PagerdutySource {
        account: s.account,
        api_url: s.api_url,
        max_wait_seconds: s.max_wait_seconds,
        service_map,
        change_events_as_deployments: s.change_events_as_deployments,
        recorded,
    })
}

/// Refuses the first field given (`fields`: name and whether it was given) that a source of this type
/// does not read, with `message(field)`.
fn refuse_fields(key: &str, fields: &[(&str, bool)], message: impl Fn(&str) -> String) -> Result<()> {
    match fields.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(bad(format!("{key}.{field}"), message(field))),
        None => Ok(()),
    }
}

/// Refuses an `api_url` that is not an http(s) URL.
fn check_http_url(key: &str, url: Option<&str>) -> Result<()> {
    match url {
        Some(url)
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.parse::<http::Uri>().is_err() =>
        {
            Err(bad(format!("{key}.api_url"), format!("`{url}` is not an http(s) URL")))
        }
        _ => Ok(()),
    }
}

/// Checks a source's `recorded` directory of pages (laid out as `layout`), relative to `base`.
/// Recorded pages are read as they are: settings of the network (`network_only`, given or not) have
/// nothing to act on, so giving one is refused.
fn recorded_dir(
    key: &str,
    kind: &str,
    base: &Path,
    dir: &Path,
    network_only: &[(&str, bool)],
    layout: &str,
) -> Result<PathBuf> {
    refuse_fields(key, network_only, |_| {
        format!("applies to {kind} sources read from the network, not to `recorded` pages")
    })?;
    let dir = base.join(dir);
    if !dir.is_dir() {
        let problem = if dir.exists() { "is not a directory" } else { "does not exist" };
        return Err(bad(
            format!("{key}.recorded"),
            format!("{} {problem}: it should hold recorded pages as {layout}", dir.display()),
        ));
    }
    Ok(dir)
}

fn check_positive(key: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 { Ok(()) } else { Err(bad(key, format!("{value} must be a positive number"))) }
}

fn validate_report(r: RawReport, base: &Path) -> Result<ReportBranding> {
    if let Some(colour) = &r.accent_colour {
        let hex = colour.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad("report.accent_colour", format!("`{colour}` is not a colour like #1f6feb")));
        }
    }
    let logo = r.logo.map(|p| base.join(p));
    if let Some(path) = &logo
        && !path.is_file()
    {
        return Err(bad("report.logo", format!("{} does not exist", path.display())));
    }
    if let Some(path) = &logo {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !["png", "jpg", "jpeg", "svg", "gif"].contains(&ext.as_str()) {
            return Err(bad("report.logo", format!("{} is not a .png, .jpg, .svg or .gif image", path.display())));
        }
    }
    Ok(ReportBranding { title: r.title, client: r.client, logo, accent_colour: r.accent_colour, footer: r.footer })
}
