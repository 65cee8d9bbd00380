//! Configuration scan: how delivery is set up, read from a repository's files at HEAD.
//!
//! Forges and trackers say what happened; the files of a repository say how delivery is *set up*.
//! This module walks a working tree and turns what it finds into rows of the `evidence` table
//! ([`crate::model::EVIDENCE`]) of two kinds:
//!
//! * **manual steps** (`manual_step`): places where a person must start or approve something before
//!   a change reaches production — a deployment workflow that only runs when started by hand, a
//!   GitLab job with `when: manual`, a Jenkins `input` step, a CircleCI approval job, a job that
//!   deploys to a production environment the forge can gate with required reviewers. Each names a
//!   file and a line.
//! * **practices** (`practice`): files showing that tests, containers, infrastructure as code,
//!   Kubernetes, configuration management, monitoring, rollback scripts, runbooks, post-incident
//!   reviews and CI pipelines exist. One row per evidence file, or per directory where the evidence
//!   is a collection of files (tests, Terraform modules, Kubernetes manifests, runbook folders, …),
//!   which keeps the table small.
//!
//! A leader reads these rows as facts, so every rule prefers missing a practice to inventing one;
//! each rule is documented where it is implemented. The scan never fails because of one file:
//! unreadable, oversized or unparsable configuration files become [`Scan::warnings`] and the scan
//! goes on without them.
//!
//! The YAML parser gives no positions, so lines are found by searching the text for the key at the
//! indentation the parsed structure implies (`YamlLines`).
//!
//! This file holds the walk, the shared vocabulary and the `Scanner` that collects findings; each
//! rule lives in the file named after its family of tools: `github_actions.rs`, `gitlab_ci.rs`,
//! `jenkins.rs`, `circleci.rs` (CI pipelines and their manual steps), `testing.rs`, `containers.rs`,
//! `iac.rs`, `kubernetes.rs`, `config_management.rs`, `monitoring.rs`, `rollback.rs` and
//! `documents.rs` (runbooks and post-incident reviews); `yaml_lines.rs` finds lines in YAML.

mod circleci;
mod config_management;
mod containers;
mod documents;
mod github_actions;
mod gitlab_ci;
mod iac;
mod jenkins;
mod kubernetes;
mod monitoring;
mod rollback;
mod testing;
#[cfg(test)]
mod tests;
mod yaml_lines;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlLoader};

use crate::config::{Config, Service};
use crate::error::{Error, Result};
use crate::model::{Row, Value};
use yaml_lines::*;

/// Files larger than this are not read; rules that only need the name still apply.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Directories never entered: version control, dependencies, build output and tool caches hold
/// other people's files, not the repository's own delivery setup.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "vendor",
    ".venv",
    "venv",
    ".tox",
    "__pycache__",
    "bower_components",
    ".terraform",
    ".terragrunt-cache",
];

/// Directories holding tests, test data or examples. Their files show what a test or an example
/// needs (a fixture `.gitlab-ci.yml`, a sample Dockerfile), not how the repository itself is
/// delivered, so only the `tests` rule looks inside them.
const NOT_DELIVERY_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "spec",
    "specs",
    "testdata",
    "test-data",
    "test_data",
    "fixtures",
    "__fixtures__",
    "__mocks__",
    "examples",
    "example",
];

/// Extensions of documents (runbooks and post-incident reviews are documents).
const DOC_EXTS: &[&str] = &["md", "markdown", "mdx", "rst", "txt", "adoc", "asciidoc", "org", "html", "htm", "wiki"];

const MANUAL_STEP: &str = "manual_step";
const PRACTICE: &str = "practice";

const GITHUB: &str = "github-actions";
const GITLAB: &str = "gitlab-ci";
const JENKINS: &str = "jenkins";
const CIRCLECI: &str = "circleci";

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Rows of the `evidence` table, in its column order, sorted by path, line and category.
    pub rows: Vec<Row>,
    /// Files that could not be read or parsed, each as `path: problem`; the scan went on without them.
    pub warnings: Vec<String>,
}

/// Scans the files of a working tree (the repository at HEAD) for delivery evidence.
///
/// `repo` names the repository (`owner/name`) in ids and rows; `config` supplies the services whose
/// `paths` globs attribute files to a service and whose production patterns decide which
/// environments are production. Only a root that cannot be listed is an error; every other problem
/// is a warning.
pub fn scan(root: &Path, repo: &str, config: &Config) -> Result<Scan> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::io(root, std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory")));
    }
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    walk(root, "", &mut files, &mut warnings).map_err(|e| Error::io(root, e))?;
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let mut scanner = Scanner::new(repo, config, warnings);
    let gitlab = scanner.gitlab(&files);
    let index = Index::new(&files, gitlab);
    for entry in &files {
        scanner.classify(entry, &index);
    }
    Ok(scanner.finish())
}

/// A regular file of the tree.
struct Entry {
    /// Relative to the root, `/`-separated.
    path: String,
    abs: PathBuf,
    size: u64,
}

/// Lists regular files under `dir`, skipping [`SKIP_DIRS`] and never following symbolic links.
fn walk(dir: &Path, rel: &str, files: &mut Vec<Entry>, warnings: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warnings.push(format!("{}: cannot list the directory: {e}", shown(rel)));
                continue;
            }
        };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            warnings.push(format!("{}: the name is not UTF-8; skipped", join(rel, &lossy)));
            continue;
        };
        let path = join(rel, &name);
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("{path}: cannot read: {e}"));
                continue;
            }
        };
        if file_type.is_symlink() {
            continue;
        }
        if file_type.is_dir() {
            if SKIP_DIRS.contains(&name.as_str()) {
                continue;
            }
            if let Err(e) = walk(&entry.path(), &path, files, warnings) {
                warnings.push(format!("{path}: cannot list the directory: {e}"));
            }
        } else if file_type.is_file() {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push(Entry { path, abs: entry.path(), size });
        }
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

/// A directory as shown in rows and messages: the root is `.`.
fn shown(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Directory components of a file path (without the file name).
fn dir_parts(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts
}

/// Lower-case extension after the last dot; empty for none (and for dot-files like `.sentryclirc`).
fn extension(lower_name: &str) -> &str {
    match lower_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => "",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Facts about the whole tree that single-file rules need.
struct Index {
    files: BTreeSet<String>,
    /// Directories holding a `Chart.yaml`, with a trailing `/` (empty for the root).
    chart_dirs: Vec<String>,
    /// GitLab CI files, analysed in their own pass.
    gitlab: BTreeSet<String>,
}

impl Index {
    fn new(files: &[Entry], gitlab: BTreeSet<String>) -> Index {
        let chart_dirs = files
            .iter()
            .filter(|e| file_name(&e.path) == "Chart.yaml")
            .map(|e| {
                let dir = parent(&e.path);
                if dir.is_empty() { String::new() } else { format!("{dir}/") }
            })
            .collect();
        Index { files: files.iter().map(|e| e.path.clone()).collect(), chart_dirs, gitlab }
    }

    /// Whether any file lies under `dir`.
    fn has_files_under(&self, dir: &str) -> bool {
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        self.files.range(prefix.clone()..).next().is_some_and(|p| p.starts_with(&prefix))
    }

    /// Whether any YAML file lies under `dir`.
    fn has_yaml_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.files
            .range(prefix.clone()..)
            .take_while(|p| p.starts_with(&prefix))
            .any(|p| p.ends_with(".yml") || p.ends_with(".yaml"))
    }

    /// Whether the file is a template of a Helm chart (Go templates, not plain manifests; the chart
    /// row already stands for them).
    fn in_chart_templates(&self, path: &str) -> bool {
        self.chart_dirs
            .iter()
            .any(|dir| path.strip_prefix(dir.as_str()).is_some_and(|rest| rest.starts_with("templates/")))
    }
}

/// What the single-file rules need to know about one file.
struct FileFacts<'e> {
    path: &'e str,
    name: &'e str,
    lower: String,
    /// Lower-case extension, empty for none.
    ext: String,
    dirs: Vec<&'e str>,
    lower_dirs: Vec<String>,
    yaml: bool,
}

impl<'e> FileFacts<'e> {
    fn new(path: &'e str) -> FileFacts<'e> {
        let name = file_name(path);
        let lower = name.to_ascii_lowercase();
        let ext = extension(&lower).to_string();
        let dirs = dir_parts(path);
        let lower_dirs = dirs.iter().map(|d| d.to_ascii_lowercase()).collect();
        let yaml = ext == "yml" || ext == "yaml";
        FileFacts { path, name, lower, ext, dirs, lower_dirs, yaml }
    }
}

/// One finding before it becomes a row.
struct Finding {
    path: String,
    line: Option<usize>,
    kind: &'static str,
    category: &'static str,
    tool: Option<&'static str>,
    detail: String,
    service: Option<String>,
}

/// Evidence that is a collection of files, reported once per directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    dir: String,
    category: &'static str,
    tool: Option<&'static str>,
    service: Option<String>,
}

struct Group {
    files: usize,
    noun: (&'static str, &'static str),
    notes: BTreeSet<String>,
}

/// A service's path globs, for the services that may own files of the scanned repository.
struct ServiceMatcher<'a> {
    service: &'a Service,
    globs: GlobSet,
}

struct Scanner<'a> {
    repo: &'a str,
    config: &'a Config,
    matchers: Vec<ServiceMatcher<'a>>,
    findings: Vec<Finding>,
    groups: BTreeMap<GroupKey, Group>,
    warnings: Vec<String>,
}

impl<'a> Scanner<'a> {
    fn new(repo: &'a str, config: &'a Config, warnings: Vec<String>) -> Scanner<'a> {
        // Services that list this repository, or list none, own the files their `paths` globs match.
        // A glob also matches a file when it matches one of the file's directories, so
        // `services/api` works like `services/api/**`.
        let matchers = config
            .services
            .iter()
            .filter(|s| s.repos.is_empty() || s.repos.iter().any(|r| r == repo))
            .filter(|s| !s.paths.is_empty())
            .filter_map(|service| {
                let mut builder = GlobSetBuilder::new();
                for pattern in &service.paths {
                    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
                    if let Ok(glob) = Glob::new(pattern) {
                        builder.add(glob);
                    }
                }
                builder.build().ok().map(|globs| ServiceMatcher { service, globs })
            })
            .collect();
        Scanner { repo, config, matchers, findings: Vec::new(), groups: BTreeMap::new(), warnings }
    }

    /// The first configured service whose globs match the path or one of its directories.
    fn service_of(&self, path: &str) -> Option<&'a Service> {
        let mut candidates = vec![path];
        let mut rest = path;
        while let Some((dir, _)) = rest.rsplit_once('/') {
            candidates.push(dir);
            rest = dir;
        }
        self.matchers.iter().find(|m| candidates.iter().any(|p| m.globs.is_match(p))).map(|m| m.service)
    }

    /// Whether an environment counts as production for the file's service.
    ///
    /// The service that owns the file decides with its `production_environments`; failing that, the
    /// services that list the repository; failing those, a name counts when it is one of the default
    /// production names or starts with one (`production-eu`, `prod/us`, but not `pre-prod`).
    /// Names built from variables (`${{ inputs.env }}`, `$CI_ENVIRONMENT`) cannot be judged.
    fn is_production(&self, environment: &str, path: &str) -> bool {
        if environment.contains('$') || environment.trim().is_empty() {
            return false;
        }
        if let Some(service) = self.service_of(path) {
            return service.is_production(environment);
        }
        let claimed: Vec<&Service> =
            self.config.services.iter().filter(|s| s.repos.iter().any(|r| r == self.repo)).collect();
        if !claimed.is_empty() {
            return claimed.iter().any(|s| s.is_production(environment));
        }
        let lower = environment.to_ascii_lowercase();
        crate::config::is_default_production(&lower)
            || lower
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .is_some_and(crate::config::is_default_production)
    }

    fn warn(&mut self, path: &str, problem: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {problem}"));
    }

    /// Reads a file as UTF-8 text; `report` turns failures into warnings (for files known to be
    /// delivery configuration), otherwise they are silent.
    fn read(&mut self, entry: &Entry, report: bool) -> Option<String> {
        if entry.size > MAX_FILE_BYTES {
            if report {
                self.warn(&entry.path, format!("larger than 1 MiB ({} bytes); not read", entry.size));
            }
            return None;
        }
        let bytes = match std::fs::read(&entry.abs) {
            Ok(bytes) => bytes,
            Err(e) => {
                if report {
                    self.warn(&entry.path, format!("cannot read: {e}"));
                }
                return None;
            }
        };
        if bytes.len() as u64 > MAX_FILE_BYTES {
            if report {
                self.warn(&entry.path, format!("larger than 1 MiB ({} bytes); not read", bytes.len()));
            }
            return None;
        }
        match String::from_utf8(bytes) {
            Ok(text) => Some(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text)),
            Err(_) => {
                if report {
                    self.warn(&entry.path, "not UTF-8 text; not read");
                }
                None
            }
        }
    }

    /// Parses YAML, turning a syntax error into a warning.
    ///
    /// One leniency of the common parsers (libyaml, GitHub's, GitLab's) is granted on a second try:
    /// a line holding only the closing brackets of a flow collection (`]`, `},`) may sit at its
    /// key's indentation, which the strict parser rejects.
    fn parse_yaml(&mut self, path: &str, text: &str, what: &str) -> Option<Vec<Yaml>> {
        match YamlLoader::load_from_str(text) {
            Ok(docs) => Some(docs),
            Err(e) => {
                if let Some(relaxed) = relax_flow_closers(text)
                    && let Ok(docs) = YamlLoader::load_from_str(&relaxed)
                {
                    return Some(docs);
                }
                self.warn(path, format!("{what} is not valid YAML: {e}"));
                None
            }
        }
    }

    fn add(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn manual(&mut self, path: &str, line: Option<usize>, category: &'static str, tool: &'static str, detail: String) {
        let service = self.service_of(path).map(|s| s.name.clone());
        self.add(Finding {
            path: path.to_string(),
            line,
            kind: MANUAL_STEP,
            category,
            tool: Some(tool),
            detail,
            service,
        });
    }

    fn practice(&mut self, path: &str, category: &'static str, tool: Option<&'static str>, detail: String) {
        self.practice_at(path, None, category, tool, detail);
    }

    fn practice_at(
        &mut self,
        path: &str,
        line: Option<usize>,
        category: &'static str,
        tool: Option<&'static str>,
        detail: String,
    ) {
        let service = self.service_of(path).map(|s| s.name.clone());
        self.add(Finding { path: path.to_string(), line, kind: PRACTICE, category, tool, detail, service });
    }

    /// Counts `file` towards the row of directory `dir`.
    fn group(
        &mut self,
        dir: &str,
        file: &str,
        (category, tool): (&'static str, Option<&'static str>),
        noun: (&'static str, &'static str),
        note: Option<String>,
    ) {
        let key =
            GroupKey { dir: dir.to_string(), category, tool, service: self.service_of(file).map(|s| s.name.clone()) };
        let group = self.groups.entry(key).or_insert_with(|| Group { files: 0, noun, notes: BTreeSet::new() });
        group.files += 1;
        group.notes.extend(note);
    }

    /// Sorts the findings, drops duplicate ids and builds the rows.
    fn finish(mut self) -> Scan {
        for (key, group) in std::mem::take(&mut self.groups) {
            let mut detail = plural(group.files, group.noun.0, group.noun.1);
            if !group.notes.is_empty() {
                let notes: Vec<String> = group.notes.into_iter().collect();
                detail.push_str(&format!(" ({})", notes.join(", ")));
            }
            self.findings.push(Finding {
                path: shown(&key.dir).to_string(),
                line: None,
                kind: PRACTICE,
                category: key.category,
                tool: key.tool,
                detail,
                service: key.service,
            });
        }
        self.findings.sort_by(|a, b| {
            (&a.path, a.line.unwrap_or(0), a.category, a.tool, &a.detail).cmp(&(
                &b.path,
                b.line.unwrap_or(0),
                b.category,
                b.tool,
                &b.detail,
            ))
        });
        let mut seen = BTreeSet::new();
        let mut rows = Vec::new();
        for f in self.findings {
            let id = format!("scan:{}:{}:{}:{}", self.repo, f.path, f.line.unwrap_or(0), f.category);
            if !seen.insert(id.clone()) {
                continue;
            }
            let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
            rows.push(vec![
                Value::Text(id),
                Value::Text("scan".to_string()),
                text(Some(self.repo).filter(|r| !r.is_empty())),
                text(f.service.as_deref()),
                Value::Text(f.kind.to_string()),
                Value::Text(f.category.to_string()),
                text(f.tool),
                text(Some(f.detail.as_str()).filter(|d| !d.is_empty())),
                Value::Text(f.path),
                f.line.map_or(Value::Null, |l| Value::Int(l as i64)),
                Value::Null,
            ]);
        }
        self.warnings.sort();
        self.warnings.dedup();
        Scan { rows, warnings: self.warnings }
    }

    /// Applies every single-file rule to one file.
    fn classify(&mut self, entry: &Entry, index: &Index) {
        let f = FileFacts::new(&entry.path);
        let (path, name, lower, ext, yaml) = (f.path, f.name, f.lower.as_str(), f.ext.as_str(), f.yaml);

        self.tests(&f);
        if f.lower_dirs.iter().any(|d| NOT_DELIVERY_DIRS.contains(&d.as_str())) {
            return;
        }

        let ci = ci_file(path, lower, ext);
        let gitlab = index.gitlab.contains(path);
        let grafana = ext == "json" && f.lower_dirs.iter().any(|d| d == "grafana");
        let makefile = lower == "makefile" || lower == "gnumakefile" || ext == "mk";
        let sniff = ci.is_none() && !gitlab && !index.in_chart_templates(path);
        let needs_text = matches!(ci, Some(GITHUB | JENKINS | CIRCLECI))
            || (sniff && (yaml || ext == "json" || ext == "template" || ext == "cfg"))
            || makefile
            || name == "package.json";
        let report = matches!(ci, Some(GITHUB | JENKINS | CIRCLECI)) || grafana;
        let text = if needs_text { self.read(entry, report) } else { None };
        let text = text.as_deref();

        // CI pipelines: the file's presence is the practice; the three analysed dialects also yield
        // manual steps. GitLab files are analysed in their own pass (`gitlab`).
        match (ci, text) {
            (Some(GITHUB), Some(text)) => self.github(path, text),
            (Some(GITHUB), None) => self.practice(path, "ci pipeline", Some(GITHUB), "workflow (not read)".into()),
            (Some(JENKINS), Some(text)) => self.jenkins(path, text),
            (Some(CIRCLECI), Some(text)) => self.circleci(path, text),
            (Some(tool @ (JENKINS | CIRCLECI)), None) => {
                self.practice(path, "ci pipeline", Some(tool), "pipeline configuration (not read)".into())
            }
            (Some(tool), _) => self.practice(path, "ci pipeline", Some(tool), "pipeline configuration".into()),
            (None, _) => {}
        }

        let sniffed = sniff.then_some(text).flatten();
        self.container(&f);
        self.infrastructure(&f, sniffed);
        self.kubernetes(&f, sniffed);
        self.configuration_management(&f, index);
        self.monitoring(&f, sniffed, grafana);
        self.rollback(&f, ci.or(gitlab.then_some(GITLAB)), text, makefile);
        self.documents(&f, index);
    }
}

/// The CI tool a file configures, by its path. GitLab files are found separately.
fn ci_file(path: &str, lower: &str, ext: &str) -> Option<&'static str> {
    let yaml = ext == "yml" || ext == "yaml";
    if let Some(rest) = path.strip_prefix(".github/workflows/")
        && !rest.contains('/')
        && yaml
    {
        return Some(GITHUB);
    }
    if lower == "jenkinsfile"
        || lower.ends_with(".jenkinsfile")
        || (lower.starts_with("jenkinsfile.") && !DOC_EXTS.contains(&ext))
    {
        return Some(JENKINS);
    }
    match path {
        ".circleci/config.yml" | ".circleci/config.yaml" => return Some(CIRCLECI),
        ".travis.yml" | ".travis.yaml" => return Some("travis-ci"),
        "bitbucket-pipelines.yml" => return Some("bitbucket-pipelines"),
        ".drone.yml" | ".drone.yaml" => return Some("drone"),
        ".buildkite/pipeline.yml" | ".buildkite/pipeline.yaml" => return Some("buildkite"),
        _ => {}
    }
    if lower == "azure-pipelines.yml" || lower == "azure-pipelines.yaml" {
        return Some("azure-pipelines");
    }
    None
}
