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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlLoader};

use crate::config::{Config, Service};
use crate::error::{Error, Result};
use crate::model::{Row, Value};

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

/// Directories whose code files are tests.
const TEST_DIRS: &[&str] = &["test", "tests", "__tests__", "spec", "specs"];

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

/// Extensions of source code (a test directory counts only if it holds code).
const CODE_EXTS: &[&str] = &[
    "rs", "go", "py", "rb", "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "java", "kt", "kts", "scala",
    "groovy", "clj", "cljs", "cs", "fs", "vb", "php", "c", "cc", "cpp", "cxx", "h", "hpp", "swift", "m", "mm", "dart",
    "ex", "exs", "erl", "hs", "ml", "lua", "pl", "pm", "r", "jl", "sh", "bash", "bats", "ps1", "elm", "vue", "svelte",
    "zig", "nim",
];

/// Extensions of documents (runbooks and post-incident reviews are documents).
const DOC_EXTS: &[&str] = &["md", "markdown", "mdx", "rst", "txt", "adoc", "asciidoc", "org", "html", "htm", "wiki"];

/// Directories where a script in a general-purpose language is an operational script.
const SCRIPT_DIRS: &[&str] = &[
    "scripts",
    "script",
    "bin",
    "deploy",
    "deployment",
    "deployments",
    "ops",
    "tools",
    "ci",
    "infra",
    "devops",
    ".github",
    ".gitlab",
    ".circleci",
];

/// Top-level keys of a GitLab CI file that are not jobs.
const GITLAB_RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
    "spec",
];

/// Words that make a GitHub Actions job deploy-like when they appear in its id, its name, a step's
/// name or a step's `uses`.
const DEPLOY_WORDS: &[&str] = &["deploy", "release", "publish", "rollout", "production"];

/// Commands that make a `run:` step deploy-like. Words alone are not enough in shell text:
/// `cargo build --release`, `dotnet publish` or `RAILS_ENV=production rake assets:precompile` build
/// things, they do not ship them.
const DEPLOY_COMMANDS: &[&str] = &[
    "deploy",
    "rollout",
    "npm publish",
    "yarn publish",
    "pnpm publish",
    "cargo publish",
    "gem push",
    "twine upload",
    "gh release create",
    "helm upgrade",
    "helm install",
    "kubectl apply",
    "kubectl set image",
    "terraform apply",
];

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

    /// **tests**: one row per directory holding tests.
    ///
    /// Code files anywhere under a directory named `test`, `tests`, `__tests__`, `spec` or `specs`
    /// count towards the outermost such directory (`src/test/` for Maven, `tests/` for Rust and
    /// Python). A `spec` directory counts only for files named like specs (`user_spec.rb`,
    /// `spec_helper.rb`, `a.spec.ts`): `spec/` also holds API specifications. Outside those
    /// directories, files named like tests (`*_test.go`, `*_test.py`, `test_*.py`, `*.spec.ts`,
    /// `*.test.js`, `*Test.java`, …) count towards their own directory. Test data, fixtures and
    /// examples are not tests of this repository.
    fn tests(&mut self, f: &FileFacts) {
        let (path, name, lower, ext, dirs, lower_dirs) =
            (f.path, f.name, f.lower.as_str(), f.ext.as_str(), &f.dirs, &f.lower_dirs);
        let outside =
            ["testdata", "test-data", "test_data", "fixtures", "__fixtures__", "__mocks__", "examples", "example"];
        if lower_dirs.iter().any(|d| outside.contains(&d.as_str())) {
            return;
        }
        let key = ("tests", None);
        let noun = ("test file", "test files");
        if let Some(i) = lower_dirs.iter().position(|d| TEST_DIRS.contains(&d.as_str())) {
            let spec_dir = lower_dirs[i].starts_with("spec");
            if CODE_EXTS.contains(&ext) && (!spec_dir || lower.contains("spec")) {
                self.group(&dirs[..=i].join("/"), path, key, noun, None);
            }
        } else if is_test_file_name(name, lower, ext) {
            self.group(parent(path), path, key, noun, None);
        }
    }

    /// **container**: `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`, `Containerfile` (tool `docker`);
    /// `docker-compose*.yml`, `compose.yaml`/`compose.yml` (tool `docker-compose`).
    fn container(&mut self, f: &FileFacts) {
        let (path, lower, ext, yaml) = (f.path, f.lower.as_str(), f.ext.as_str(), f.yaml);
        let dockerfile = lower == "containerfile"
            || lower.ends_with(".dockerfile")
            || (lower.starts_with("dockerfile") && !DOC_EXTS.contains(&ext) && !lower.ends_with(".dockerignore"));
        if dockerfile {
            self.practice(path, "container", Some("docker"), "container image build".into());
        } else if yaml && (lower.starts_with("docker-compose") || lower.starts_with("compose.")) {
            self.practice(path, "container", Some("docker-compose"), "Compose file".into());
        }
    }

    /// **infrastructure as code**: Terraform `*.tf`/`*.tf.json` (one row per module directory),
    /// `terragrunt.hcl`, Pulumi projects (`Pulumi.yaml`; stack files are not counted again), AWS CDK
    /// apps (`cdk.json`), CloudFormation templates (YAML with a top-level `AWSTemplateFormatVersion`
    /// or SAM `Transform` and `Resources`; JSON with both top-level keys).
    fn infrastructure(&mut self, f: &FileFacts, text: Option<&str>) {
        let (path, name, lower, ext, yaml) = (f.path, f.name, f.lower.as_str(), f.ext.as_str(), f.yaml);
        let key = "infrastructure as code";
        if ext == "tf" || lower.ends_with(".tf.json") {
            self.group(parent(path), path, (key, Some("terraform")), ("Terraform file", "Terraform files"), None);
        } else if lower == "terragrunt.hcl" {
            self.practice(path, key, Some("terragrunt"), "Terragrunt configuration".into());
        } else if name == "Pulumi.yaml" || name == "Pulumi.yml" {
            self.practice(path, key, Some("pulumi"), "Pulumi project".into());
        } else if lower == "cdk.json" {
            self.practice(path, key, Some("aws-cdk"), "AWS CDK app".into());
        } else if let Some(text) = text {
            let cloudformation = if yaml {
                let top = top_level(text);
                let has = |k: &str| top.iter().any(|(key, _)| *key == k);
                let sam = top.iter().any(|(k, v)| *k == "Transform" && v.contains("AWS::Serverless"));
                (has("AWSTemplateFormatVersion") || sam) && has("Resources")
            } else if (ext == "json" || ext == "template") && text.contains("\"AWSTemplateFormatVersion\"") {
                serde_json::from_str::<serde_json::Value>(text).ok().is_some_and(|v| {
                    v.get("AWSTemplateFormatVersion").is_some() && v.get("Resources").is_some_and(|r| r.is_object())
                })
            } else {
                false
            };
            if cloudformation {
                self.practice(path, key, Some("cloudformation"), "CloudFormation template".into());
            }
        }
    }

    /// **kubernetes**: Helm charts (`Chart.yaml`, category `kubernetes (helm)`; the chart's templates
    /// are not counted again), Kustomize (`kustomization.yaml`), and plain manifests (YAML whose
    /// documents have top-level `apiVersion`, `kind` and `metadata`; one row per directory, naming the
    /// kinds). Files with the same shape that are not cluster resources (Backstage catalog entries,
    /// Skaffold and kind configurations, kubeconfig files) are excluded. A `PrometheusRule` resource
    /// is also monitoring.
    fn kubernetes(&mut self, f: &FileFacts, text: Option<&str>) {
        let (path, name, lower) = (f.path, f.name, f.lower.as_str());
        if name == "Chart.yaml" {
            let chart = text.and_then(|t| top_level(t).into_iter().find(|(k, _)| *k == "name").map(|(_, v)| v));
            let detail = chart.map_or_else(|| "Helm chart".to_string(), |c| format!("Helm chart \"{c}\""));
            self.practice(path, "kubernetes (helm)", Some("helm"), detail);
            return;
        }
        if matches!(lower, "kustomization.yaml" | "kustomization.yml" | "kustomization") {
            self.practice(path, "kubernetes", Some("kustomize"), "Kustomize overlay".into());
            return;
        }
        let (true, Some(text)) = (f.yaml, text) else { return };
        let top = top_level(text);
        let has = |k: &str| top.iter().any(|(key, _)| *key == k);
        if !(has("apiVersion") && has("kind") && has("metadata")) {
            return;
        }
        let not_cluster = top.iter().any(|(k, v)| {
            (*k == "apiVersion"
                && ["backstage.io", "skaffold/", "kind.x-k8s.io", "kustomize.config.k8s.io"]
                    .iter()
                    .any(|p| v.contains(p)))
                || (*k == "kind" && *v == "Config")
        });
        if not_cluster {
            return;
        }
        let kinds: BTreeSet<String> =
            top.iter().filter(|(k, v)| *k == "kind" && !v.is_empty()).map(|(_, v)| v.to_string()).collect();
        if kinds.contains("PrometheusRule") {
            self.practice(path, "monitoring", Some("prometheus"), "PrometheusRule resource (alerting rules)".into());
        }
        let note = (!kinds.is_empty()).then(|| kinds.into_iter().collect::<Vec<_>>().join(", "));
        self.group(
            parent(path),
            path,
            ("kubernetes", Some("kubernetes")),
            ("Kubernetes manifest", "Kubernetes manifests"),
            note,
        );
    }

    /// **configuration management**: Ansible (`playbook*.yml`, `ansible.cfg`,
    /// `roles/<role>/tasks/main.yml`), Puppet (`*.pp`, one row per directory), Chef (a `metadata.rb`
    /// next to a `recipes/` directory: a cookbook).
    fn configuration_management(&mut self, f: &FileFacts, index: &Index) {
        let (path, name, lower, ext, dirs, yaml) = (f.path, f.name, f.lower.as_str(), f.ext.as_str(), &f.dirs, f.yaml);
        let key = "configuration management";
        if yaml && lower.starts_with("playbook") {
            self.practice(path, key, Some("ansible"), "Ansible playbook".into());
        } else if lower == "ansible.cfg" {
            self.practice(path, key, Some("ansible"), "Ansible configuration".into());
        } else if yaml
            && (lower == "main.yml" || lower == "main.yaml")
            && dirs.len() >= 3
            && dirs[dirs.len() - 1] == "tasks"
            && dirs[dirs.len() - 3] == "roles"
        {
            self.practice(path, key, Some("ansible"), format!("Ansible role \"{}\"", dirs[dirs.len() - 2]));
        } else if ext == "pp" {
            self.group(parent(path), path, (key, Some("puppet")), ("Puppet manifest", "Puppet manifests"), None);
        } else if name == "metadata.rb" && index.has_files_under(&join(parent(path), "recipes")) {
            self.practice(path, key, Some("chef"), "Chef cookbook".into());
        }
    }

    /// **monitoring**, by tool, from configuration files only (an SDK call in code proves little):
    /// Sentry (`sentry.properties`, `.sentryclirc`, `sentry.{client,server,edge}.config.*`), New Relic
    /// (`newrelic.yml|ini|js`), Datadog (`datadog.yaml`), Prometheus alerting rules (YAML with
    /// top-level `groups:` whose `rules:` hold an `alert:`), Alertmanager (`alertmanager.yml`),
    /// Nagios (`*.cfg` under a `nagios` directory or containing `define service {`-style objects;
    /// one row per directory), Grafana dashboards (JSON with `panels` under a `grafana` directory; one
    /// row per directory).
    fn monitoring(&mut self, f: &FileFacts, text: Option<&str>, grafana: bool) {
        let (path, lower, ext, lower_dirs, yaml) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.lower_dirs, f.yaml);
        let key = "monitoring";
        let sentry_config = lower.starts_with("sentry.")
            && [".client.config.", ".server.config.", ".edge.config."].iter().any(|p| lower.contains(p))
            && ["js", "mjs", "cjs", "ts"].contains(&ext);
        if lower == "sentry.properties" || lower == ".sentryclirc" || sentry_config {
            self.practice(path, key, Some("sentry"), "Sentry configuration".into());
        } else if matches!(lower, "newrelic.yml" | "newrelic.yaml" | "newrelic.ini" | "newrelic.js" | "newrelic.cjs") {
            self.practice(path, key, Some("new-relic"), "New Relic agent configuration".into());
        } else if lower == "datadog.yaml" || lower == "datadog.yml" {
            self.practice(path, key, Some("datadog"), "Datadog agent configuration".into());
        } else if lower == "alertmanager.yml" || lower == "alertmanager.yaml" {
            self.practice(path, key, Some("alertmanager"), "Alertmanager configuration (alert routing)".into());
        } else if ext == "cfg" {
            let nagios_dir = lower_dirs.iter().any(|d| d.contains("nagios"));
            if nagios_dir || text.is_some_and(has_nagios_objects) {
                let noun = ("Nagios configuration file", "Nagios configuration files");
                self.group(parent(path), path, (key, Some("nagios")), noun, None);
            }
        } else if yaml && let Some(text) = text {
            let looks_like_rules = top_level(text).iter().any(|(k, _)| *k == "groups")
                && text.lines().any(|l| strip_dashes(l.trim_start()).starts_with("alert:"));
            if looks_like_rules
                && let Some(docs) = self.parse_yaml(path, text, "what looks like Prometheus alerting rules")
            {
                let alerts: usize = docs.iter().map(prometheus_alerts).sum();
                if alerts > 0 {
                    self.practice(
                        path,
                        key,
                        Some("prometheus"),
                        format!("Prometheus {}", plural(alerts, "alerting rule", "alerting rules")),
                    );
                }
            }
        } else if grafana && let Some(text) = text {
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) => {
                    let panels = |v: &serde_json::Value| v.get("panels").is_some_and(|p| p.is_array());
                    if panels(&v) || v.get("dashboard").is_some_and(panels) {
                        let noun = ("Grafana dashboard", "Grafana dashboards");
                        self.group(parent(path), path, (key, Some("grafana")), noun, None);
                    }
                }
                Err(e) => self.warn(path, format!("Grafana dashboard is not valid JSON: {e}")),
            }
        }
    }

    /// **rollback**: scripts whose name contains `rollback` — shell, PowerShell, batch, YAML
    /// (playbooks, workflows) or extension-less files anywhere; Python, Ruby, Perl, JavaScript,
    /// TypeScript or Groovy files only at the root or under an operational directory (`scripts/`,
    /// `bin/`, `deploy/`, `ops/`, …), because `src/db/rollback.ts` is application code about
    /// transactions. SQL migrations are not deployment rollbacks. Also Makefile targets and
    /// `package.json` scripts named `*rollback*`, with their line.
    fn rollback(&mut self, f: &FileFacts, ci: Option<&'static str>, text: Option<&str>, makefile: bool) {
        let (path, lower, ext, lower_dirs) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.lower_dirs);
        if lower.contains("rollback") {
            let script =
                ["sh", "bash", "zsh", "ksh", "ps1", "psm1", "bat", "cmd", "yml", "yaml", "mk", ""].contains(&ext);
            let code = ["py", "rb", "pl", "js", "mjs", "cjs", "ts", "groovy"].contains(&ext)
                && (lower_dirs.is_empty() || lower_dirs.iter().any(|d| SCRIPT_DIRS.contains(&d.as_str())));
            if script || code {
                self.practice(path, "rollback", ci, "rollback script".into());
            }
        }
        let Some(text) = text else { return };
        if makefile {
            for (i, line) in text.lines().enumerate() {
                if let Some(target) = make_rollback_target(line) {
                    self.practice_at(
                        path,
                        Some(i + 1),
                        "rollback",
                        Some("make"),
                        format!("Makefile target `{target}`"),
                    );
                }
            }
        } else if file_name(path) == "package.json"
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
            && let Some(scripts) = json.get("scripts").and_then(|s| s.as_object())
        {
            for script in scripts.keys().filter(|k| k.to_ascii_lowercase().contains("rollback")) {
                let needle = format!("\"{script}\"");
                let line = text.lines().position(|l| l.contains(&needle)).map(|i| i + 1);
                self.practice_at(path, line, "rollback", Some("npm"), format!("package.json script `{script}`"));
            }
        }
    }

    /// **runbook** and **post-incident review**: documents (Markdown, reStructuredText, AsciiDoc,
    /// text, HTML).
    ///
    /// Runbooks: documents named `runbook*` (one row each); documents under a `runbooks/` directory
    /// and Markdown under a `playbooks/` directory (one row per such directory) — unless that
    /// directory holds YAML: then it is an Ansible playbook directory and its Markdown is a README.
    ///
    /// Post-incident reviews: documents whose name contains `postmortem`, `post-mortem`,
    /// `post_mortem`, `post-incident` or `incident-review` (one row each, a template is marked as
    /// such); documents under `postmortems/`, `post-mortems/`, `pir/`, or `incidents/` inside a
    /// documentation directory (one row per such directory).
    fn documents(&mut self, f: &FileFacts, index: &Index) {
        let (path, lower, ext, dirs, lower_dirs) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.dirs, &f.lower_dirs);
        let named_doc = DOC_EXTS.contains(&ext) || ext.is_empty();
        if !named_doc {
            return;
        }
        let doc = DOC_EXTS.contains(&ext);
        let template = lower.contains("template").then(|| "template".to_string());
        let dir_of = |i: usize| dirs[..=i].join("/");

        if lower.starts_with("runbook") {
            self.practice(path, "runbook", None, "runbook".into());
        } else if let Some(i) = lower_dirs.iter().position(|d| d == "runbooks" || d == "runbook")
            && doc
        {
            self.group(&dir_of(i), path, ("runbook", None), ("runbook document", "runbook documents"), None);
        } else if let Some(i) = lower_dirs.iter().position(|d| d == "playbooks")
            && matches!(ext, "md" | "markdown")
            && !index.has_yaml_under(&dir_of(i))
        {
            self.group(&dir_of(i), path, ("runbook", None), ("playbook document", "playbook documents"), None);
        }

        let pir = "post-incident review";
        let named = ["postmortem", "post-mortem", "post_mortem", "post-incident", "incident-review", "incident_review"];
        let docs_dir =
            |i: usize| lower_dirs[..i].iter().any(|d| matches!(d.as_str(), "docs" | "doc" | "documentation"));
        let pir_dir = lower_dirs.iter().enumerate().position(|(i, d)| {
            matches!(d.as_str(), "postmortems" | "post-mortems" | "postmortem" | "pir" | "pirs")
                || (d == "incidents" && docs_dir(i))
        });
        if named.iter().any(|n| lower.contains(n)) {
            let detail = if template.is_some() { "post-incident review template" } else { "post-incident review" };
            self.practice(path, pir, None, detail.into());
        } else if let Some(i) = pir_dir
            && doc
        {
            self.group(&dir_of(i), path, (pir, None), ("document", "documents"), template);
        }
    }

    /// **GitHub Actions** (`.github/workflows/*.yml`): the workflow is a CI pipeline; its jobs may be
    /// manual steps.
    ///
    /// * `manual trigger`: the workflow can only be started by hand — every event in `on` is
    ///   `workflow_dispatch` — and the job is deploy-like (see [`github_deploy_reason`]). A workflow
    ///   that also runs on `push`, `schedule`, `workflow_call` or any other event deploys without a
    ///   person; its `workflow_dispatch` is an escape hatch, not a manual step, so it is not reported.
    /// * `deployment environment`: a job whose `environment` is production for the file's service;
    ///   required reviewers configured on the forge turn it into a manual approval.
    fn github(&mut self, path: &str, text: &str) {
        let Some(docs) = self.parse_yaml(path, text, "workflow") else {
            self.practice(path, "ci pipeline", Some(GITHUB), "workflow (not valid YAML)".into());
            return;
        };
        let Some(doc) = docs.into_iter().next().filter(Yaml::is_hash) else {
            self.warn(path, "workflow is not a mapping");
            self.practice(path, "ci pipeline", Some(GITHUB), "workflow (not a mapping)".into());
            return;
        };
        let workflow = doc["name"].as_str().unwrap_or(file_name(path)).to_string();
        let events = github_events(&doc);
        let on = if events.is_empty() { String::new() } else { format!(" on {}", events.join(", ")) };
        self.practice(path, "ci pipeline", Some(GITHUB), format!("workflow \"{workflow}\"{on}"));

        let manual_only = !events.is_empty() && events.iter().all(|e| e == "workflow_dispatch");
        let lines = YamlLines::new(text);
        let Some(jobs) = doc["jobs"].as_hash() else { return };
        for (id, job) in jobs {
            let Some(id) = yaml_key(id) else { continue };
            let job_line = lines.key_line(&["jobs", &id]);
            let label = match job["name"].as_str() {
                Some(name) if name != id => format!("job \"{id}\" ({name})"),
                _ => format!("job \"{id}\""),
            };
            if manual_only && let Some(reason) = github_deploy_reason(&id, job) {
                let detail = format!(
                    "workflow \"{workflow}\", {label}: runs only when someone starts the workflow by hand \
                     (workflow_dispatch); deploy-like because {reason}"
                );
                self.manual(path, job_line.or(lines.key_line(&["jobs"])), "manual trigger", GITHUB, detail);
            }
            if let Some(environment) = environment_name(&job["environment"])
                && self.is_production(&environment, path)
            {
                let line = lines.key_line(&["jobs", &id, "environment"]).or(job_line);
                let detail = format!(
                    "workflow \"{workflow}\", {label} deploys to environment \"{environment}\"; required reviewers \
                     configured on the forge make it a manual approval"
                );
                // Whether the environment waits for a reviewer is configured on the forge, not in the
                // file: record the environment as a practice; the forge source tells if it is manual.
                self.practice_at(path, line, "deployment environment", Some(GITHUB), detail);
            }
        }
    }

    /// **GitLab CI**: `.gitlab-ci.yml`, any `*.gitlab-ci.yml`, `.gitlab/ci/**/*.yml`, and the files
    /// those include with `include: local` (transitively). Jobs inherit through `extends` (across all
    /// these files) and YAML merge keys before they are judged.
    ///
    /// * `manual job`: `when: manual` on the job or in one of its `rules:` entries. Jobs that stop an
    ///   environment (`environment: {action: stop}`) are teardown, not delivery, and are skipped.
    /// * `deployment environment`: a job deploying (no `action`, or `action: start`) to a production
    ///   environment; protected environments with required approvals make it a manual approval.
    ///
    /// Returns the set of GitLab files, which the single-file rules then leave alone.
    fn gitlab(&mut self, files: &[Entry]) -> BTreeSet<String> {
        let by_path: BTreeMap<&str, &Entry> = files.iter().map(|e| (e.path.as_str(), e)).collect();
        let delivery =
            |path: &str| !dir_parts(path).iter().any(|d| NOT_DELIVERY_DIRS.contains(&d.to_ascii_lowercase().as_str()));
        let mut queue: Vec<String> = files
            .iter()
            .map(|e| e.path.as_str())
            .filter(|p| {
                let lower = file_name(p).to_ascii_lowercase();
                lower.ends_with(".gitlab-ci.yml")
                    || lower.ends_with(".gitlab-ci.yaml")
                    || (p.starts_with(".gitlab/ci/") && matches!(extension(&lower), "yml" | "yaml"))
            })
            .filter(|p| delivery(p))
            .map(str::to_string)
            .collect();
        let mut parsed: BTreeMap<String, Option<(String, Vec<Yaml>)>> = BTreeMap::new();
        while let Some(path) = queue.pop() {
            if parsed.contains_key(&path) {
                continue;
            }
            let Some(entry) = by_path.get(path.as_str()) else { continue };
            let loaded = self.read(entry, true).and_then(|text| {
                let docs = self.parse_yaml(&path, &text, "GitLab CI configuration")?;
                Some((text, docs))
            });
            if let Some((_, docs)) = &loaded {
                for include in docs.iter().flat_map(gitlab_includes) {
                    queue.extend(resolve_include(&include, files).into_iter().filter(|p| delivery(p)));
                }
            }
            parsed.insert(path, loaded);
        }

        // Job definitions from every file, for `extends`; the root file wins over included ones.
        let mut definitions: BTreeMap<String, Yaml> = BTreeMap::new();
        let order = parsed.keys().filter(|p| p.as_str() == ".gitlab-ci.yml").chain(parsed.keys());
        for path in order {
            if let Some((_, docs)) = &parsed[path] {
                for (name, job) in docs.iter().filter_map(Yaml::as_hash).flatten() {
                    if let (Some(name), Yaml::Hash(_)) = (yaml_key(name), job) {
                        definitions.entry(name).or_insert_with(|| job.clone());
                    }
                }
            }
        }

        for (path, loaded) in &parsed {
            let Some((text, docs)) = loaded else {
                self.practice(path, "ci pipeline", Some(GITLAB), "pipeline configuration (not read)".into());
                continue;
            };
            let lines = YamlLines::new(text);
            let mut jobs = 0;
            let mut stages = BTreeSet::new();
            for (name, job) in docs.iter().filter_map(Yaml::as_hash).flatten() {
                let Some(name) = yaml_key(name) else { continue };
                if name.starts_with('.') || GITLAB_RESERVED.contains(&name.as_str()) || !job.is_hash() {
                    continue;
                }
                jobs += 1;
                let effective = gitlab_effective(job, &definitions, 0);
                let stage = effective["stage"].as_str().unwrap_or("test").to_string();
                stages.insert(stage.clone());
                self.gitlab_job(path, &lines, &name, job, &effective, &stage);
            }
            let mut detail = plural(jobs, "job", "jobs");
            if !stages.is_empty() {
                detail.push_str(&format!("; stages: {}", stages.into_iter().collect::<Vec<_>>().join(", ")));
            }
            self.practice(path, "ci pipeline", Some(GITLAB), detail);
        }
        parsed.into_keys().collect()
    }

    fn gitlab_job(&mut self, path: &str, lines: &YamlLines, name: &str, own: &Yaml, job: &Yaml, stage: &str) {
        let job_line = lines.key_line(&[name]);
        let (environment, action) = match &job["environment"] {
            Yaml::String(s) => (Some(s.clone()), None),
            env @ Yaml::Hash(_) => {
                (env["name"].as_str().map(str::to_string), env["action"].as_str().map(str::to_string))
            }
            _ => (None, None),
        };
        let deploys = action.as_deref().is_none_or(|a| a == "start");
        let manual_here = |y: &Yaml| y["when"].as_str() == Some("manual");
        let manual_rule = |y: &Yaml| y["rules"].as_vec().is_some_and(|rules| rules.iter().any(manual_here));
        let stops = action.as_deref() == Some("stop");
        if (manual_here(job) || manual_rule(job)) && !stops {
            let how = if manual_here(job) { "when: manual" } else { "when: manual in rules" };
            let inherited = if manual_here(own) || manual_rule(own) { "" } else { ", inherited from a template" };
            let env = environment.as_deref().map(|e| format!(", environment {e}")).unwrap_or_default();
            let detail =
                format!("job \"{name}\" (stage {stage}{env}) waits for a person to start it ({how}{inherited})");
            let line = job_line.and_then(|i| lines.find_in_block(i, |t| yaml_value(t, "when") == Some("manual")));
            self.manual(path, line.or(job_line), "manual job", GITLAB, detail);
        }
        if let Some(environment) = environment
            && deploys
            && self.is_production(&environment, path)
        {
            let line = lines.key_line(&[name, "environment"]).or(job_line);
            let detail = format!(
                "job \"{name}\" deploys to environment \"{environment}\"; protected environments with required \
                 approvals on the forge make it a manual approval"
            );
            self.practice_at(path, line, "deployment environment", Some(GITLAB), detail);
        }
    }

    /// **Jenkins** (`Jenkinsfile`, `*.jenkinsfile`, `Jenkinsfile.*`): every `input` step —
    /// `input message: …`, `input(…)`, `input '…'`, or the declarative `input { … }` directive of a
    /// stage — is an `approval`, with its line, message and enclosing stage. Comments and strings are
    /// ignored, so `sh 'read input'` or `// input message:` do not count.
    fn jenkins(&mut self, path: &str, text: &str) {
        self.practice(path, "ci pipeline", Some(JENKINS), "Jenkins pipeline".into());
        for input in jenkins_inputs(text) {
            let mut detail = String::from("`input` step");
            if let Some(message) = &input.message {
                detail.push_str(&format!(" \"{message}\""));
            }
            if let Some(stage) = &input.stage {
                detail.push_str(&format!(" in stage \"{stage}\""));
            }
            detail.push_str(" waits for a person to approve");
            self.manual(path, Some(input.line), "approval", JENKINS, detail);
        }
    }

    /// **CircleCI** (`.circleci/config.yml`): every workflow job with `type: approval` is an
    /// `approval`, naming the workflow and the jobs that wait for it.
    fn circleci(&mut self, path: &str, text: &str) {
        let Some(docs) = self.parse_yaml(path, text, "CircleCI configuration") else {
            self.practice(path, "ci pipeline", Some(CIRCLECI), "pipeline configuration (not valid YAML)".into());
            return;
        };
        let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
        let lines = YamlLines::new(text);
        let mut workflows = 0;
        for (workflow, body) in doc["workflows"].as_hash().into_iter().flatten() {
            let Some(workflow) = yaml_key(workflow) else { continue };
            if workflow == "version" || !body.is_hash() {
                continue;
            }
            workflows += 1;
            let jobs: Vec<(String, &Yaml)> = body["jobs"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_hash)
                .flatten()
                .filter_map(|(name, conf)| yaml_key(name).map(|n| (n, conf)))
                .collect();
            for (job, conf) in &jobs {
                if conf["type"].as_str() != Some("approval") {
                    continue;
                }
                let waiting: Vec<&str> = jobs
                    .iter()
                    .filter(|(_, c)| {
                        c["requires"].as_vec().is_some_and(|r| r.iter().any(|x| x.as_str() == Some(job.as_str())))
                    })
                    .map(|(n, _)| n.as_str())
                    .collect();
                let mut detail =
                    format!("workflow \"{workflow}\": job \"{job}\" waits for a person to approve (type: approval)");
                if !waiting.is_empty() {
                    detail.push_str(&format!(" before {}", waiting.join(", ")));
                }
                let jobs_line = lines.key_line(&["workflows", &workflow, "jobs"]);
                let job_line = jobs_line.and_then(|i| lines.find_in_block(i, |t| key_matches(t, job)));
                let line = job_line.and_then(|i| lines.find_in_block(i, |t| yaml_value(t, "type") == Some("approval")));
                self.manual(path, line.or(job_line).or(jobs_line), "approval", CIRCLECI, detail);
            }
        }
        self.practice(path, "ci pipeline", Some(CIRCLECI), plural(workflows, "workflow", "workflows"));
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

fn is_test_file_name(name: &str, lower: &str, ext: &str) -> bool {
    let suffixes = ["_test.go", "_test.py", "_test.rb", "_spec.rb", "_test.exs", "_test.dart", "_test.rs"];
    if suffixes.iter().any(|s| lower.ends_with(s)) || (lower.starts_with("test_") && ext == "py") {
        return true;
    }
    let js = ["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"];
    if js.contains(&ext) {
        let stem = &lower[..lower.len() - ext.len() - 1];
        return stem.ends_with(".spec") || stem.ends_with(".test") || stem.ends_with(".cy");
    }
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    ["java", "kt", "scala", "groovy", "cs"].contains(&ext)
        && (stem.ends_with("Test") || stem.ends_with("Tests") || stem.ends_with("Spec"))
}

/// The target name of a Makefile rule whose name contains `rollback`.
fn make_rollback_target(line: &str) -> Option<String> {
    if line.starts_with([' ', '\t', '#', '.']) {
        return None;
    }
    let (targets, rest) = line.split_once(':')?;
    if rest.starts_with('=') || targets.contains('=') || targets.contains('$') {
        return None;
    }
    targets.split_whitespace().find(|t| t.to_ascii_lowercase().contains("rollback")).map(str::to_string)
}

/// Whether a text declares Nagios objects (`define service {`, `define host{`, …).
fn has_nagios_objects(text: &str) -> bool {
    text.lines().any(|l| {
        let Some(rest) = l.trim_start().strip_prefix("define") else { return false };
        let rest = rest.trim_start();
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        ["service", "host", "hostgroup", "command", "contact", "servicegroup"].contains(&word.as_str())
            && rest[word.len()..].trim_start().starts_with('{')
    })
}

fn prometheus_alerts(doc: &Yaml) -> usize {
    doc["groups"]
        .as_vec()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_vec().into_iter().flatten())
        .filter(|r| r["alert"].as_str().is_some())
        .count()
}

/// The text with every line that holds only closing flow brackets indented like the line before it,
/// or `None` when there is no such line. Line numbers do not change.
fn relax_flow_closers(text: &str) -> Option<String> {
    let mut changed = false;
    let mut previous_indent = 0;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim();
        let indent = body.len() - body.trim_start().len();
        if !trimmed.is_empty()
            && trimmed.chars().all(|c| matches!(c, ']' | '}' | ',' | ' '))
            && indent < previous_indent
        {
            out.push_str(&" ".repeat(previous_indent));
            out.push_str(line.trim_start());
            changed = true;
            continue;
        }
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            previous_indent = indent;
        }
        out.push_str(line);
    }
    changed.then_some(out)
}

/// Top-level `key: value` pairs of every document of a YAML text (block style, column 0), with the
/// value unquoted and without a trailing comment.
fn top_level(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-', '.', '%', '{', '[']))
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            let key = key.trim().trim_matches(['"', '\'']);
            if key.is_empty() || key.contains(' ') {
                return None;
            }
            Some((key, unquote(strip_comment(value.trim()))))
        })
        .collect()
}

fn strip_comment(value: &str) -> &str {
    if value.starts_with('#') {
        return "";
    }
    value.find(" #").map_or(value, |i| &value[..i]).trim_end()
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// A line without its leading `- ` sequence markers.
fn strip_dashes(mut t: &str) -> &str {
    while let Some(rest) = t.strip_prefix("- ") {
        t = rest.trim_start();
    }
    t
}

/// Whether a line (already trimmed, sequence markers allowed) starts with the mapping key `key`.
fn key_matches(trimmed: &str, key: &str) -> bool {
    let t = strip_dashes(trimmed);
    [("", ""), ("\"", "\""), ("'", "'")].iter().any(|(open, close)| {
        t.strip_prefix(open)
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix(close))
            .and_then(|r| r.trim_start_matches(' ').strip_prefix(':'))
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t']))
    })
}

/// The scalar value of `key: value` on a line, unquoted and without a comment.
fn yaml_value<'t>(trimmed: &'t str, key: &str) -> Option<&'t str> {
    if !key_matches(trimmed, key) {
        return None;
    }
    let t = strip_dashes(trimmed);
    let (_, value) = t.split_once(':')?;
    Some(unquote(strip_comment(value.trim())))
}

/// A mapping key as text (job names may be numbers).
fn yaml_key(key: &Yaml) -> Option<String> {
    match key {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        _ => None,
    }
}

/// Lines of a YAML text, to find where a key is: the parser gives no positions.
///
/// Keys are found level by level in block-style mappings: a child key is a line at the indentation
/// of the first content line below its parent, inside the parent's block. Flow-style mappings are
/// not searched; callers fall back to the nearest line they found.
struct YamlLines<'t> {
    lines: Vec<&'t str>,
}

impl<'t> YamlLines<'t> {
    fn new(text: &'t str) -> YamlLines<'t> {
        YamlLines { lines: text.lines().collect() }
    }

    fn is_separator(line: &str) -> bool {
        line == "---" || line.starts_with("--- ") || line == "..."
    }

    fn is_content(line: &str) -> bool {
        let t = line.trim();
        !t.is_empty() && !t.starts_with('#') && !Self::is_separator(line)
    }

    fn indent(line: &str) -> usize {
        line.len() - line.trim_start_matches(' ').len()
    }

    /// Column of the key on a line, after any `- ` sequence markers.
    fn key_col(line: &str) -> usize {
        let trimmed = line.trim_start_matches(' ');
        Self::indent(line) + (trimmed.len() - strip_dashes(trimmed).len())
    }

    /// End (exclusive) of the block of the key on line `i`.
    fn block_end(&self, i: usize) -> usize {
        let col = Self::key_col(self.lines[i]);
        for (j, line) in self.lines.iter().enumerate().skip(i + 1) {
            if Self::is_separator(line) {
                return j;
            }
            if !Self::is_content(line) {
                continue;
            }
            let indent = Self::indent(line);
            if indent < col || (indent == col && !line.trim_start().starts_with('-')) {
                return j;
            }
        }
        self.lines.len()
    }

    /// The 1-based line of the nested key `path`, following block-mapping indentation.
    fn key_line(&self, path: &[&str]) -> Option<usize> {
        let (mut start, mut end) = (0, self.lines.len());
        let mut found = None;
        for key in path {
            let mut child = None;
            let mut hit = None;
            for i in start..end {
                let line = self.lines[i];
                if !Self::is_content(line) {
                    continue;
                }
                let indent = Self::indent(line);
                let col = *child.get_or_insert(indent);
                if indent == col && !line.trim_start().starts_with("- ") && key_matches(line.trim_start(), key) {
                    hit = Some(i);
                    break;
                }
            }
            let i = hit?;
            found = Some(i + 1);
            start = i + 1;
            end = self.block_end(i);
        }
        found
    }

    /// The 1-based line of the first line inside the block of 1-based line `line` whose trimmed
    /// text satisfies `pred`.
    fn find_in_block(&self, line: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
        let i = line.checked_sub(1)?;
        let end = self.block_end(i);
        (i + 1..end).find(|&j| Self::is_content(self.lines[j]) && pred(self.lines[j].trim())).map(|j| j + 1)
    }
}

/// The events of a GitHub workflow's `on` (a string, a list or a map).
fn github_events(doc: &Yaml) -> Vec<String> {
    let Some(hash) = doc.as_hash() else { return Vec::new() };
    // YAML 1.1 parsers read a bare `on` as `true`; accept both spellings.
    let on = hash.get(&Yaml::String("on".into())).or_else(|| hash.get(&Yaml::Boolean(true)));
    match on {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Array(a)) => a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect(),
        Some(Yaml::Hash(h)) => h.keys().filter_map(yaml_key).collect(),
        _ => Vec::new(),
    }
}

/// An environment's name: `environment: name` or `environment: {name: …}`.
fn environment_name(environment: &Yaml) -> Option<String> {
    match environment {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Hash(_) => environment["name"].as_str().map(str::to_string),
        _ => None,
    }
}

/// Why a GitHub Actions job is deploy-like, or `None`: it has an `environment`; or its id, its
/// name, a reusable workflow it calls, a step's name or a step's action mentions deploy, release,
/// publish, rollout or production; or a `run` step runs a deployment command ([`DEPLOY_COMMANDS`]).
fn github_deploy_reason(id: &str, job: &Yaml) -> Option<String> {
    let word = |text: &str| {
        let lower = text.to_ascii_lowercase();
        DEPLOY_WORDS.iter().find(|w| lower.contains(*w)).copied()
    };
    if let Some(environment) = environment_name(&job["environment"]) {
        return Some(format!("it uses environment \"{environment}\""));
    }
    if let Some(w) = word(id) {
        return Some(format!("its id mentions \"{w}\""));
    }
    if let Some(w) = job["name"].as_str().and_then(word) {
        return Some(format!("its name mentions \"{w}\""));
    }
    if let Some(uses) = job["uses"].as_str()
        && let Some(w) = word(uses)
    {
        return Some(format!("it calls {uses} (\"{w}\")"));
    }
    for step in job["steps"].as_vec().into_iter().flatten() {
        if let Some(name) = step["name"].as_str()
            && word(name).is_some()
        {
            return Some(format!("step \"{name}\""));
        }
        if let Some(uses) = step["uses"].as_str()
            && word(uses).is_some()
        {
            return Some(format!("step uses {uses}"));
        }
        if let Some(run) = step["run"].as_str() {
            let lower = run.to_ascii_lowercase();
            if let Some(command) = DEPLOY_COMMANDS.iter().find(|c| lower.contains(*c)) {
                return Some(format!("a step runs `{command}`"));
            }
        }
    }
    None
}

/// Local files a GitLab CI document includes (`include: path`, `include: [{local: path}]`).
fn gitlab_includes(doc: &Yaml) -> Vec<String> {
    let include = &doc["include"];
    let items: Vec<&Yaml> = match include {
        Yaml::Array(a) => a.iter().collect(),
        Yaml::String(_) | Yaml::Hash(_) => vec![include],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Yaml::String(s) if !s.starts_with("http://") && !s.starts_with("https://") => Some(s.clone()),
            Yaml::Hash(_) => item["local"].as_str().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// The files of the tree an `include: local` names (an exact path or a glob from the root).
fn resolve_include(include: &str, files: &[Entry]) -> Vec<String> {
    if include.contains('$') {
        return Vec::new();
    }
    let include = include.trim_start_matches('/');
    if include.contains('*') {
        let Ok(glob) = Glob::new(include) else { return Vec::new() };
        let matcher = glob.compile_matcher();
        files.iter().filter(|e| matcher.is_match(&e.path)).map(|e| e.path.clone()).collect()
    } else {
        files.iter().filter(|e| e.path == include).map(|e| e.path.clone()).collect()
    }
}

/// A GitLab job as GitLab runs it: YAML merge keys expanded, then `extends` resolved (parents first,
/// hashes merged deeply, the job's own keys last), at most 10 levels deep like GitLab.
fn gitlab_effective(job: &Yaml, definitions: &BTreeMap<String, Yaml>, depth: usize) -> Yaml {
    let job = expand_merge_keys(job);
    let parents: Vec<String> = match &job["extends"] {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    if parents.is_empty() || depth >= 10 {
        return job;
    }
    let mut base = Yaml::Hash(Hash::new());
    for parent in parents {
        if let Some(definition) = definitions.get(&parent) {
            base = deep_merge(base, gitlab_effective(definition, definitions, depth + 1));
        }
    }
    deep_merge(base, job)
}

fn deep_merge(base: Yaml, over: Yaml) -> Yaml {
    match (base, over) {
        (Yaml::Hash(mut base), Yaml::Hash(over)) => {
            for (key, value) in over {
                let merged = match base.remove(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Yaml::Hash(base)
        }
        (_, over) => over,
    }
}

/// Expands YAML merge keys (`<<: *anchor`): the merged mappings provide defaults, the mapping's own
/// keys win, and among several merged mappings the first wins.
fn expand_merge_keys(node: &Yaml) -> Yaml {
    match node {
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".into());
            let mut out = Hash::new();
            if let Some(merged) = hash.get(&merge_key) {
                let sources: Vec<&Yaml> = match merged {
                    Yaml::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for source in sources {
                    if let Yaml::Hash(source) = expand_merge_keys(source) {
                        for (key, value) in source {
                            if !out.contains_key(&key) {
                                out.insert(key, value);
                            }
                        }
                    }
                }
            }
            for (key, value) in hash {
                if *key != merge_key {
                    out.insert(key.clone(), expand_merge_keys(value));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(items) => Yaml::Array(items.iter().map(expand_merge_keys).collect()),
        other => other.clone(),
    }
}

/// An `input` step of a Jenkins pipeline.
#[derive(Debug, PartialEq)]
struct JenkinsInput {
    line: usize,
    stage: Option<String>,
    message: Option<String>,
}

/// Carries Groovy lexical state from one line to the next.
#[derive(Default)]
struct GroovyState {
    block_comment: bool,
    triple: Option<char>,
}

/// One line of Groovy as two parallel character vectors: `code` without comments, and `bare`,
/// the same with string contents blanked (quotes kept), so that searches see only code.
fn groovy_line(line: &str, state: &mut GroovyState) -> (Vec<char>, Vec<char>) {
    let chars: Vec<char> = line.chars().collect();
    let (mut code, mut bare) = (Vec::new(), Vec::new());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if state.block_comment {
            if c == '*' && next == Some('/') {
                state.block_comment = false;
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(q) = state.triple {
            if c == q && next == Some(q) && chars.get(i + 2) == Some(&q) {
                state.triple = None;
                code.extend([q, q, q]);
                bare.extend([q, q, q]);
                i += 3;
            } else {
                code.push(c);
                bare.push(' ');
                i += 1;
            }
            continue;
        }
        if let Some(q) = quote {
            code.push(c);
            if c == '\\'
                && let Some(n) = next
            {
                code.push(n);
                bare.extend([' ', ' ']);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
                bare.push(c);
            } else {
                bare.push(' ');
            }
            i += 1;
            continue;
        }
        match c {
            '/' if next == Some('/') => break,
            '/' if next == Some('*') => {
                state.block_comment = true;
                i += 2;
            }
            '\'' | '"' if next == Some(c) && chars.get(i + 2) == Some(&c) => {
                state.triple = Some(c);
                code.extend([c, c, c]);
                bare.extend([c, c, c]);
                i += 3;
            }
            '\'' | '"' => {
                quote = Some(c);
                code.push(c);
                bare.push(c);
                i += 1;
            }
            _ => {
                code.push(c);
                bare.push(c);
                i += 1;
            }
        }
    }
    (code, bare)
}

/// Where `word` occurs in `chars` as a whole identifier.
fn word_at(chars: &[char], i: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    chars.len() >= i + w.len()
        && chars[i..i + w.len()] == w[..]
        && (i == 0 || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '.' | '$')))
        && chars.get(i + w.len()).is_none_or(|c| !(c.is_alphanumeric() || *c == '_'))
}

/// Position of an `input` step in a line of code, if it is one.
fn find_input(bare: &[char]) -> Option<usize> {
    (0..bare.len()).find(|&i| {
        if !word_at(bare, i, "input") {
            return false;
        }
        // A step starts a statement: after nothing, `{`, `(`, `;`, `=` or `->`.
        let before = bare[..i].iter().rev().find(|c| !c.is_whitespace());
        if !matches!(before, None | Some('{' | '(' | ';' | '=' | '>')) {
            return false;
        }
        let mut j = i + 5;
        while bare.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        match bare.get(j) {
            Some('(' | '{' | '\'' | '"') => true,
            // Named arguments: `input message: …`, `input id: …`.
            Some(c) if c.is_alphabetic() => {
                while bare.get(j).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                    j += 1;
                }
                while bare.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
                bare.get(j) == Some(&':')
            }
            _ => false,
        }
    })
}

/// The first quoted string at the start of `s` (after blanks and an opening parenthesis).
fn leading_string(s: &str) -> Option<String> {
    let s = s.trim_start().trim_start_matches('(').trim_start();
    let quote = s.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let rest = &s[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

/// The string after `word` (`message: 'x'`, `message "x"`, `stage('x')`) in `code`, if `bare` has
/// the word as code at or after `from`.
fn string_after(code: &[char], bare: &[char], from: usize, word: &str) -> Option<String> {
    let at = (from..bare.len()).find(|&i| word_at(bare, i, word))?;
    let rest: String = code[at + word.chars().count()..].iter().collect();
    leading_string(rest.trim_start().trim_start_matches(':'))
}

fn jenkins_inputs(text: &str) -> Vec<JenkinsInput> {
    let mut state = GroovyState::default();
    let lines: Vec<(Vec<char>, Vec<char>)> = text.lines().map(|l| groovy_line(l, &mut state)).collect();
    let mut stage = None;
    let mut out = Vec::new();
    for (i, (code, bare)) in lines.iter().enumerate() {
        let input = find_input(bare);
        if let Some(name) = string_after(code, bare, 0, "stage")
            && input.is_none_or(|at| (0..at).any(|j| word_at(bare, j, "stage")))
        {
            stage = Some(name);
        }
        let Some(at) = input else { continue };
        let rest: String = code[at + 5..].iter().collect();
        let message = string_after(code, bare, at, "message").or_else(|| leading_string(&rest)).or_else(|| {
            // The declarative `input { message '…' }` directive spans lines.
            lines.iter().skip(i + 1).take(8).find_map(|(c, b)| string_after(c, b, 0, "message"))
        });
        out.push(JenkinsInput { line: i + 1, stage: stage.clone(), message });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EVIDENCE;

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn config(text: &str) -> Config {
        Config::from_toml(text, chrono::Utc::now()).unwrap()
    }

    fn run(root: &Path) -> Scan {
        scan(root, "acme/shop", &config("")).unwrap()
    }

    fn col<'r>(row: &'r Row, name: &str) -> Option<&'r str> {
        match &row[EVIDENCE.position(name).unwrap()] {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    fn line(row: &Row) -> Option<i64> {
        match row[EVIDENCE.position("line").unwrap()] {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    fn rows<'s>(scan: &'s Scan, category: &str) -> Vec<&'s Row> {
        scan.rows.iter().filter(|r| col(r, "category") == Some(category)).collect()
    }

    fn at<'s>(scan: &'s Scan, category: &str, path: &str) -> Vec<&'s Row> {
        rows(scan, category).into_iter().filter(|r| col(r, "path") == Some(path)).collect()
    }

    /// 1-based line of the first line of `text` containing `needle`.
    fn line_of(text: &str, needle: &str) -> i64 {
        text.lines().position(|l| l.contains(needle)).unwrap() as i64 + 1
    }

    const DEPLOY_WORKFLOW: &str = r#"name: Deploy
on:
  workflow_dispatch:
    inputs:
      version:
        description: Version to deploy
        required: true

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo build --release
  deploy:
    name: Deploy to production
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: production
      url: https://shop.example.com
    steps:
      - uses: actions/checkout@v4
      - run: ./scripts/ship.sh ${{ inputs.version }}
"#;

    #[test]
    fn github_manual_dispatch_with_production_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
        let scan = run(dir.path());
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

        let manual = rows(&scan, "manual trigger");
        assert_eq!(manual.len(), 1, "the build job is not deploy-like: {manual:?}");
        let row = manual[0];
        assert_eq!(col(row, "kind"), Some("manual_step"));
        assert_eq!(col(row, "tool"), Some("github-actions"));
        assert_eq!(col(row, "path"), Some(".github/workflows/deploy.yml"));
        assert_eq!(line(row), Some(line_of(DEPLOY_WORKFLOW, "  deploy:")));
        let detail = col(row, "detail").unwrap();
        assert!(detail.contains("\"Deploy\"") && detail.contains("job \"deploy\""), "{detail}");

        let env = rows(&scan, "deployment environment");
        assert_eq!(env.len(), 1);
        assert_eq!(col(env[0], "kind"), Some("practice"), "an environment alone is not a manual step");
        assert_eq!(line(env[0]), Some(line_of(DEPLOY_WORKFLOW, "environment:")));
        let detail = col(env[0], "detail").unwrap();
        assert!(detail.contains("job \"deploy\"") && detail.contains("environment \"production\""), "{detail}");
        assert!(detail.contains("required reviewers configured on the forge make it a manual approval"));

        let ci = at(&scan, "ci pipeline", ".github/workflows/deploy.yml");
        assert_eq!(ci.len(), 1);
        assert_eq!(col(ci[0], "kind"), Some("practice"));
        assert_eq!(line(ci[0]), None);
    }

    #[test]
    fn github_on_as_string_and_list() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            ".github/workflows/release.yaml",
            "name: Release\non: workflow_dispatch\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo publish\n",
        );
        write(
            dir.path(),
            ".github/workflows/ship.yml",
            "on: [workflow_dispatch]\njobs:\n  ship:\n    runs-on: ubuntu-latest\n    steps:\n      - name: Roll out\n        run: kubectl rollout restart statefulset/shop\n",
        );
        let scan = run(dir.path());
        let manual = rows(&scan, "manual trigger");
        assert_eq!(manual.len(), 2, "{manual:?}");
        assert_eq!(col(manual[0], "path"), Some(".github/workflows/release.yaml"));
        assert_eq!(line(manual[0]), Some(4));
        assert_eq!(col(manual[1], "path"), Some(".github/workflows/ship.yml"));
        assert_eq!(line(manual[1]), Some(3));
        assert!(col(manual[1], "detail").unwrap().contains("rollout"));
    }

    #[test]
    fn github_automatic_workflows_are_not_manual() {
        let dir = tempfile::tempdir().unwrap();
        // Only push: deploys without a person.
        write(
            dir.path(),
            ".github/workflows/ci.yml",
            "name: CI\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n",
        );
        // Push and dispatch: the dispatch is an escape hatch, not a manual step.
        write(
            dir.path(),
            ".github/workflows/cd.yml",
            "on:\n  push:\n    branches: [main]\n  workflow_dispatch:\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n",
        );
        // Manual, but nothing deploy-like: a maintenance task.
        write(
            dir.path(),
            ".github/workflows/lint.yml",
            "on: workflow_dispatch\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo clippy --release\n",
        );
        let scan = run(dir.path());
        assert!(rows(&scan, "manual trigger").is_empty(), "{:?}", rows(&scan, "manual trigger"));
        assert_eq!(rows(&scan, "ci pipeline").len(), 3);
        let ci = at(&scan, "ci pipeline", ".github/workflows/ci.yml");
        assert_eq!(col(ci[0], "detail"), Some("workflow \"CI\" on push, pull_request"));
    }

    #[test]
    fn github_flow_collection_closed_at_key_indentation_parses() {
        let dir = tempfile::tempdir().unwrap();
        let text = "on: workflow_dispatch\njobs:\n  release:\n    strategy:\n      matrix:\n        target: [\n          { \"os\": \"ubuntu-latest\" },\n          { \"os\": \"macos-latest\" },\n        ]\n    runs-on: ${{ matrix.target.os }}\n    steps:\n      - run: cargo publish\n";
        write(dir.path(), ".github/workflows/tag.yml", text);
        let scan = run(dir.path());
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
        let manual = rows(&scan, "manual trigger");
        assert_eq!(manual.len(), 1);
        assert_eq!(line(manual[0]), Some(3));
    }

    #[test]
    fn github_staging_environment_is_not_production() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            ".github/workflows/deploy.yml",
            "on: push\njobs:\n  staging:\n    environment: staging\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  pre:\n    environment: pre-prod\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  prod:\n    environment: production-eu\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n  dynamic:\n    environment: ${{ inputs.env }}\n    runs-on: x\n    steps: [{run: ./deploy.sh}]\n",
        );
        let scan = run(dir.path());
        let env = rows(&scan, "deployment environment");
        assert_eq!(env.len(), 1, "{env:?}");
        assert!(col(env[0], "detail").unwrap().contains("production-eu"));
        assert_eq!(line(env[0]), Some(12));
    }

    const GITLAB_CI: &str = r#"stages: [build, test, deploy]

variables:
  APP: shop

.deploy_template: &deploy
  stage: deploy
  image: alpine
  when: manual

build:
  stage: build
  script: make build

deploy-staging:
  stage: deploy
  script: ./deploy.sh staging
  environment:
    name: staging
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
    - when: never

"deploy:production":
  stage: deploy
  script: ./deploy.sh production
  environment: production
  when: manual

deploy-eu:
  extends: .deploy_template
  script: ./deploy.sh eu

deploy-us:
  <<: *deploy
  script: ./deploy.sh us

stop-review:
  stage: deploy
  script: ./teardown.sh
  when: manual
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    action: stop
"#;

    #[test]
    fn gitlab_manual_jobs_and_production_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".gitlab-ci.yml", GITLAB_CI);
        let scan = run(dir.path());
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

        let manual = rows(&scan, "manual job");
        let details: Vec<&str> = manual.iter().map(|r| col(r, "detail").unwrap()).collect();
        assert_eq!(manual.len(), 4, "{details:?}");
        assert!(manual.iter().all(|r| col(r, "tool") == Some("gitlab-ci") && col(r, "kind") == Some("manual_step")));

        // Sorted by line: deploy-staging (rules), deploy:production, deploy-eu, deploy-us.
        assert!(details[0].contains("deploy-staging") && details[0].contains("in rules"), "{}", details[0]);
        assert!(details[0].contains("environment staging"));
        assert_eq!(line(manual[0]), Some(line_of(GITLAB_CI, "      when: manual")));

        assert!(details[1].contains("deploy:production") && details[1].contains("stage deploy"));
        let prod_start = line_of(GITLAB_CI, "\"deploy:production\":");
        assert_eq!(line(manual[1]), Some(prod_start + 4));

        assert!(details[2].contains("deploy-eu") && details[2].contains("inherited from a template"), "{}", details[2]);
        assert_eq!(line(manual[2]), Some(line_of(GITLAB_CI, "deploy-eu:")));
        assert!(details[3].contains("deploy-us") && details[3].contains("inherited from a template"), "{}", details[3]);

        let env = rows(&scan, "deployment environment");
        assert_eq!(env.len(), 1);
        assert_eq!(line(env[0]), Some(prod_start + 3));
        assert!(col(env[0], "detail").unwrap().contains("\"production\""));

        let ci = at(&scan, "ci pipeline", ".gitlab-ci.yml");
        assert_eq!(col(ci[0], "detail"), Some("6 jobs; stages: build, deploy"));
    }

    #[test]
    fn gitlab_local_includes_are_scanned() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            ".gitlab-ci.yml",
            "include:\n  - local: /ci/deploy.yml\n  - remote: https://example.com/x.yml\nbuild:\n  script: make\n",
        );
        // GitLab's `!reference` tag must not break parsing.
        write(
            dir.path(),
            "ci/deploy.yml",
            "release:\n  stage: deploy\n  script: ./release.sh\n  when: manual\n  before_script: !reference [.setup, script]\n",
        );
        let scan = run(dir.path());
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
        let manual = rows(&scan, "manual job");
        assert_eq!(manual.len(), 1);
        assert_eq!(col(manual[0], "path"), Some("ci/deploy.yml"));
        assert_eq!(line(manual[0]), Some(4));
        assert_eq!(rows(&scan, "ci pipeline").len(), 2);
    }

    const JENKINSFILE: &str = r#"pipeline {
    agent any
    stages {
        stage('Build') {
            steps {
                sh 'make build'
                // input message: 'commented out'
                sh 'echo "input message: not a step"'
            }
        }
        stage('Deploy') {
            steps {
                script {
                    def target = 'production'
                }
                input message: 'Deploy?', ok: 'Ship it'
                sh './deploy.sh'
            }
        }
        stage('Promote') {
            input {
                message "Promote to live?"
                submitter "release-managers"
            }
            steps {
                sh './promote.sh'
            }
        }
    }
}
"#;

    #[test]
    fn jenkins_input_steps() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Jenkinsfile", JENKINSFILE);
        write(
            dir.path(),
            "ci/release.jenkinsfile",
            "node {\n  stage('Release') {\n    def ok = input(id: 'go', message: 'Release?')\n  }\n}\n",
        );
        let scan = run(dir.path());
        let approvals = rows(&scan, "approval");
        assert_eq!(approvals.len(), 3, "{approvals:?}");
        let main: Vec<&&Row> = approvals.iter().filter(|r| col(r, "path") == Some("Jenkinsfile")).collect();
        assert_eq!(line(main[0]), Some(line_of(JENKINSFILE, "input message: 'Deploy?'")));
        assert_eq!(line(main[0]), Some(16));
        assert_eq!(
            col(main[0], "detail"),
            Some("`input` step \"Deploy?\" in stage \"Deploy\" waits for a person to approve")
        );
        assert_eq!(line(main[1]), Some(line_of(JENKINSFILE, "input {")));
        assert!(col(main[1], "detail").unwrap().contains("\"Promote to live?\" in stage \"Promote\""));
        let other = at(&scan, "approval", "ci/release.jenkinsfile");
        assert_eq!(line(other[0]), Some(3));
        assert!(col(other[0], "detail").unwrap().contains("\"Release?\" in stage \"Release\""));
        assert_eq!(at(&scan, "ci pipeline", "Jenkinsfile").len(), 1);
    }

    const CIRCLECI_CONFIG: &str = r#"version: 2.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    steps: [checkout]
  deploy:
    docker: [{image: cimg/base:stable}]
    steps: [checkout]
workflows:
  version: 2
  build-and-deploy:
    jobs:
      - build
      - hold:
          type: approval
          requires:
            - build
      - deploy:
          requires:
            - hold
"#;

    #[test]
    fn circleci_approval() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".circleci/config.yml", CIRCLECI_CONFIG);
        let scan = run(dir.path());
        let approvals = rows(&scan, "approval");
        assert_eq!(approvals.len(), 1);
        assert_eq!(col(approvals[0], "tool"), Some("circleci"));
        assert_eq!(line(approvals[0]), Some(line_of(CIRCLECI_CONFIG, "type: approval")));
        assert_eq!(
            col(approvals[0], "detail"),
            Some(
                "workflow \"build-and-deploy\": job \"hold\" waits for a person to approve (type: approval) before deploy"
            )
        );
        assert_eq!(col(at(&scan, "ci pipeline", ".circleci/config.yml")[0], "detail"), Some("1 workflow"));
    }

    fn practices(scan: &Scan) -> Vec<(String, String, Option<String>)> {
        scan.rows
            .iter()
            .filter(|r| col(r, "kind") == Some("practice"))
            .map(|r| {
                (
                    col(r, "category").unwrap().to_string(),
                    col(r, "path").unwrap().to_string(),
                    col(r, "tool").map(str::to_string),
                )
            })
            .collect()
    }

    fn has(scan: &Scan, category: &str, path: &str, tool: Option<&str>) -> bool {
        practices(scan).iter().any(|(c, p, t)| c == category && p == path && t.as_deref() == tool)
    }

    #[test]
    fn practices_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "infra/main.tf", "resource \"aws_s3_bucket\" \"b\" {}\n");
        write(root, "infra/variables.tf", "variable \"region\" {}\n");
        write(root, "charts/shop/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\n");
        write(
            root,
            "charts/shop/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
        );
        write(
            root,
            "k8s/app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 2\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n",
        );
        write(root, "k8s/kustomization.yaml", "resources:\n  - app.yaml\n");
        write(root, "ansible/playbook-deploy.yml", "- hosts: web\n  roles: [shop]\n");
        write(root, "ansible/roles/shop/tasks/main.yml", "- name: install\n  apt: name=nginx\n");
        write(
            root,
            "monitoring/alerts.yml",
            "groups:\n  - name: shop\n    rules:\n      - alert: HighErrorRate\n        expr: rate(errors[5m]) > 1\n      - record: x\n        expr: y\n",
        );
        write(root, "docs/runbooks/payments.md", "# Payments down\n");
        write(root, "docs/runbooks/db.md", "# Database\n");
        write(root, "RUNBOOK.md", "# Runbook\n");
        write(root, "docs/postmortems/2024-03-01-outage.md", "# Outage\n");
        write(root, "docs/postmortem-template.md", "# Template\n");
        write(root, "scripts/rollback.sh", "#!/bin/sh\nkubectl rollout undo deploy/shop\n");
        write(root, "Makefile", ".PHONY: deploy rollback\ndeploy:\n\t./deploy.sh\nrollback: deploy\n\t./rollback.sh\n");
        write(root, "Dockerfile", "FROM alpine\n");
        write(root, "docker-compose.yml", "services:\n  app:\n    build: .\n");
        write(root, "tests/api.rs", "#[test] fn t() {}\n");
        write(root, "tests/support/mod.rs", "pub fn f() {}\n");
        write(root, "web/src/cart.test.ts", "test('x', () => {})\n");
        write(root, "web/src/cart.ts", "export {}\n");
        write(root, "sentry.properties", "defaults.org=acme\n");
        write(
            root,
            "cfn/stack.yaml",
            "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n",
        );
        let scan = run(root);
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);

        assert!(has(&scan, "infrastructure as code", "infra", Some("terraform")));
        assert!(has(&scan, "infrastructure as code", "cfn/stack.yaml", Some("cloudformation")));
        assert!(has(&scan, "kubernetes (helm)", "charts/shop/Chart.yaml", Some("helm")));
        assert!(has(&scan, "kubernetes", "k8s", Some("kubernetes")));
        assert!(has(&scan, "kubernetes", "k8s/kustomization.yaml", Some("kustomize")));
        assert!(
            !has(&scan, "kubernetes", "charts/shop/templates", Some("kubernetes")),
            "chart templates are the chart"
        );
        assert!(has(&scan, "configuration management", "ansible/playbook-deploy.yml", Some("ansible")));
        assert!(has(&scan, "configuration management", "ansible/roles/shop/tasks/main.yml", Some("ansible")));
        assert!(has(&scan, "monitoring", "monitoring/alerts.yml", Some("prometheus")));
        assert!(has(&scan, "monitoring", "sentry.properties", Some("sentry")));
        assert!(has(&scan, "runbook", "docs/runbooks", None));
        assert!(has(&scan, "runbook", "RUNBOOK.md", None));
        assert!(has(&scan, "post-incident review", "docs/postmortems", None));
        assert!(has(&scan, "post-incident review", "docs/postmortem-template.md", None));
        assert!(has(&scan, "rollback", "scripts/rollback.sh", None));
        assert!(has(&scan, "container", "Dockerfile", Some("docker")));
        assert!(has(&scan, "container", "docker-compose.yml", Some("docker-compose")));
        assert!(has(&scan, "tests", "tests", None));
        assert!(has(&scan, "tests", "web/src", None));

        let detail = |category: &str, path: &str| col(at(&scan, category, path)[0], "detail").unwrap().to_string();
        assert_eq!(detail("infrastructure as code", "infra"), "2 Terraform files");
        assert_eq!(detail("kubernetes", "k8s"), "1 Kubernetes manifest (Deployment, Service)");
        assert_eq!(detail("monitoring", "monitoring/alerts.yml"), "Prometheus 1 alerting rule");
        assert_eq!(detail("runbook", "docs/runbooks"), "2 runbook documents");
        assert_eq!(detail("tests", "tests"), "2 test files");
        assert_eq!(detail("tests", "web/src"), "1 test file");
        assert_eq!(detail("kubernetes (helm)", "charts/shop/Chart.yaml"), "Helm chart \"shop\"");
        assert_eq!(detail("post-incident review", "docs/postmortem-template.md"), "post-incident review template");

        let make = at(&scan, "rollback", "Makefile");
        assert_eq!(make.len(), 1);
        assert_eq!(line(make[0]), Some(4));
        assert_eq!(col(make[0], "tool"), Some("make"));
        assert_eq!(col(make[0], "kind"), Some("practice"));
        // Practices carry no line; grouped rows name the directory.
        assert_eq!(line(at(&scan, "tests", "tests")[0]), None);
        assert!(rows(&scan, "ci pipeline").is_empty());
        assert!(scan.rows.iter().all(|r| col(r, "kind") == Some("practice")));
    }

    #[test]
    fn conservative_rules_reject_lookalikes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // An API specification is not a test suite.
        write(root, "spec/openapi.yaml", "openapi: 3.0.0\n");
        write(root, "spec/types.go", "package spec\n");
        // Application code about transactions is not a rollback script; a SQL migration is not one either.
        write(root, "src/db/rollback.ts", "export function rollback() {}\n");
        write(root, "migrations/0001_rollback.sql", "DROP TABLE x;\n");
        // Test fixtures and examples are not the repository's delivery.
        write(root, "tests/fixtures/.gitlab-ci.yml", "deploy:\n  script: x\n  when: manual\n");
        write(root, "tests/fixtures/Dockerfile", "FROM alpine\n");
        write(root, "examples/basic/main.tf", "module \"x\" {}\n");
        write(root, "testdata/foo_test.go", "package x\n");
        // Same shape as a manifest, but not a cluster resource.
        write(
            root,
            "catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shop\nspec:\n  type: service\n",
        );
        // Not Prometheus rules: no alert.
        write(root, "config/groups.yml", "groups:\n  - name: admins\n    members: [a]\n");
        // Dependencies and build output are skipped.
        write(root, "node_modules/pkg/Dockerfile", "FROM node\n");
        write(root, "target/debug/runbook.md", "x\n");
        // Markdown next to Ansible playbooks is a README, not a runbook.
        write(root, "ops/playbooks/README.md", "# How to run the playbooks\n");
        write(root, "ops/playbooks/site.yml", "- hosts: all\n");
        // A runbook-named YAML is not a document.
        write(root, "runbook.yml", "steps: []\n");
        let scan = run(root);
        assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
        assert!(scan.rows.is_empty(), "{:#?}", scan.rows);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "Dockerfile", "FROM alpine\n");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
        let scan = run(dir.path());
        assert!(scan.rows.is_empty(), "{:?}", scan.rows);
    }

    const MONOREPO_CONFIG: &str = r#"
[[services]]
name = "api"
repos = ["acme/mono"]
paths = ["services/api/**"]
production_environments = ["prd-*"]

[[services]]
name = "web"
paths = ["services/web"]

[[services]]
name = "elsewhere"
repos = ["acme/other"]
paths = ["services/**"]
"#;

    #[test]
    fn monorepo_rows_carry_their_service() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "services/api/Dockerfile", "FROM rust\n");
        write(root, "services/api/tests/health.rs", "#[test] fn t() {}\n");
        write(root, "services/web/Dockerfile", "FROM node\n");
        write(root, "services/web/app.spec.ts", "it('x', () => {})\n");
        write(root, "Dockerfile", "FROM alpine\n");
        write(
            root,
            "services/api/.gitlab-ci.yml",
            "deploy:\n  script: x\n  environment: prd-eu\n  when: manual\nlegacy:\n  script: x\n  environment: production\n",
        );
        let config = config(MONOREPO_CONFIG);
        let scan = scan(root, "acme/mono", &config).unwrap();
        let service = |category: &str, path: &str| col(at(&scan, category, path)[0], "service").map(str::to_string);
        assert_eq!(service("container", "services/api/Dockerfile").as_deref(), Some("api"));
        assert_eq!(service("container", "services/web/Dockerfile").as_deref(), Some("web"));
        assert_eq!(service("container", "Dockerfile"), None);
        assert_eq!(service("tests", "services/api/tests").as_deref(), Some("api"));
        assert_eq!(service("tests", "services/web").as_deref(), Some("web"));
        assert_eq!(service("manual job", "services/api/.gitlab-ci.yml").as_deref(), Some("api"));
        // The api service's own production patterns decide: `prd-eu` is production, `production` is not.
        let env = rows(&scan, "deployment environment");
        assert_eq!(env.len(), 1);
        assert!(col(env[0], "detail").unwrap().contains("prd-eu"));
        assert_eq!(col(env[0], "service"), Some("api"));
        assert!(scan.rows.iter().all(|r| col(r, "repo") == Some("acme/mono")));
    }

    #[test]
    fn broken_yaml_is_a_warning_and_the_scan_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".github/workflows/broken.yml", "on: workflow_dispatch\njobs:\n  deploy:\n    steps: [\n");
        write(root, ".gitlab-ci.yml", "deploy:\n  script: x\n when: manual\n");
        write(root, ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
        write(root, "Dockerfile", "FROM alpine\n");
        let scan = run(root);
        assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
        assert!(scan.warnings[0].starts_with(".github/workflows/broken.yml: workflow is not valid YAML"));
        assert!(scan.warnings[1].starts_with(".gitlab-ci.yml: GitLab CI configuration is not valid YAML"));
        assert_eq!(rows(&scan, "manual trigger").len(), 1);
        assert!(has(&scan, "container", "Dockerfile", Some("docker")));
        assert_eq!(
            col(at(&scan, "ci pipeline", ".github/workflows/broken.yml")[0], "detail"),
            Some("workflow (not valid YAML)")
        );
    }

    #[test]
    fn oversized_and_binary_configuration_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let big = format!("pipeline {{\n{}}}\n", "// padding\n".repeat(110_000));
        write(root, "Jenkinsfile", &big);
        std::fs::create_dir_all(root.join(".circleci")).unwrap();
        std::fs::write(root.join(".circleci/config.yml"), [0xff, 0xfe, 0x00]).unwrap();
        let scan = run(root);
        assert_eq!(scan.warnings.len(), 2, "{:?}", scan.warnings);
        assert!(scan.warnings[0].starts_with(".circleci/config.yml: not UTF-8"));
        assert!(scan.warnings[1].starts_with("Jenkinsfile: larger than 1 MiB"));
        assert_eq!(rows(&scan, "ci pipeline").len(), 2);
    }

    #[test]
    fn rows_follow_the_schema_and_are_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".github/workflows/deploy.yml", DEPLOY_WORKFLOW);
        write(root, ".gitlab-ci.yml", GITLAB_CI);
        write(root, "Jenkinsfile", JENKINSFILE);
        write(root, ".circleci/config.yml", CIRCLECI_CONFIG);
        write(root, "tests/a.rs", "");
        write(root, "infra/main.tf", "");
        let first = run(root);
        let second = run(root);
        assert_eq!(first, second);
        for row in &first.rows {
            assert_eq!(row.len(), EVIDENCE.columns.len());
            assert_eq!(col(row, "source"), Some("scan"));
            let expected = format!(
                "scan:acme/shop:{}:{}:{}",
                col(row, "path").unwrap(),
                line(row).unwrap_or(0),
                col(row, "category").unwrap()
            );
            assert_eq!(col(row, "id"), Some(expected.as_str()));
            for (i, column) in EVIDENCE.columns.iter().enumerate() {
                if column.required {
                    assert_ne!(row[i], Value::Null, "{} is required", column.name);
                }
            }
        }
        let keys: Vec<(String, i64, String)> = first
            .rows
            .iter()
            .map(|r| (col(r, "path").unwrap().into(), line(r).unwrap_or(0), col(r, "category").unwrap().into()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let ids: BTreeSet<&str> = first.rows.iter().map(|r| col(r, "id").unwrap()).collect();
        assert_eq!(ids.len(), first.rows.len());
    }

    #[test]
    fn a_missing_root_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan(&dir.path().join("nope"), "acme/shop", &config("")).is_err());
    }

    #[test]
    fn key_lines_follow_indentation() {
        let text = "a:\n  b:\n    c: 1\n  # comment\n  c: 2\nlist:\n- x: 1\n  c: 3\nc: 4\n";
        let lines = YamlLines::new(text);
        assert_eq!(lines.key_line(&["a", "b", "c"]), Some(3));
        assert_eq!(lines.key_line(&["a", "c"]), Some(5));
        assert_eq!(lines.key_line(&["c"]), Some(9));
        assert_eq!(lines.key_line(&["a", "x"]), None);
        assert_eq!(lines.find_in_block(6, |t| yaml_value(t, "c") == Some("3")), Some(8));
        assert!(key_matches("\"deploy:prod\":", "deploy:prod"));
        assert!(!key_matches("deploy:prod:", "deploy"));
        assert_eq!(yaml_value("- when: 'manual' # later", "when"), Some("manual"));
    }

    #[test]
    fn jenkins_lexing_ignores_comments_and_strings() {
        let text = "/* input message: 'x'\n input message: 'y' */\nsh '''\ninput 'z'\n'''\ndef input = 1\nif (input) {}\ntimeout(5) { input 'Go?' }\n";
        let found = jenkins_inputs(text);
        assert_eq!(found, vec![JenkinsInput { line: 8, stage: None, message: Some("Go?".into()) }]);
    }
}
