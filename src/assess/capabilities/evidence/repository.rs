//! Indicators from the repository: what the scan of its files found at HEAD (pipelines, tests,
//! infrastructure as code, monitoring, runbooks…), the forge's CODEOWNERS, the ownership analysis,
//! and the paths its history touched (migrations, security configuration, documentation, changes
//! that cross service boundaries).

use std::collections::{BTreeSet, HashMap, HashSet};

use globset::GlobMatcher;

use super::{EvidenceInput, Measurement, Scope, counted, examples, share, table, texts};
use crate::config::path_matcher;
use crate::error::{Error, Result};
use crate::metrics::prepare;

pub(super) fn measure(input: &EvidenceInput, scope: &Scope) -> Result<Vec<Measurement>> {
    let evidence = Evidence::load(input, scope)?;
    let files = Files::load(input, scope)?;
    let found = |id: &str, what: &str, keep: &dyn Fn(&Row) -> bool| evidence.presence(id, what, keep);
    let category = |name: &'static str| move |r: &Row| r.category == name;
    Ok(vec![
        found("vc.pipeline_config_in_repo", "pipeline configuration", &category("ci pipeline")),
        found("ta.tests_in_repo", "tests", &category("tests")),
        evidence.manual_steps(),
        found("mo.monitoring_in_repo", "monitoring configuration", &category("monitoring")),
        found("pfn.alerting_in_repo", "alerting configuration", &|r: &Row| {
            r.category == "monitoring" && matches!(r.tool.as_deref(), Some("prometheus" | "alertmanager" | "nagios"))
        }),
        found("rr.rollback_script", "a rollback script or target", &category("rollback")),
        kept_elsewhere(found("irr.review_documents", "post-incident reviews", &|r: &Row| {
            r.category == "post-incident review" && !r.detail.as_deref().unwrap_or("").contains("template")
        })),
        may_not_apply(found("iac.iac_in_repo", "infrastructure as code", &category("infrastructure as code"))),
        may_not_apply(found("co.containers", "container definitions", &category("container"))),
        may_not_apply(found("co.orchestration", "orchestration (Kubernetes, Helm)", &|r: &Row| {
            r.category.starts_with("kubernetes")
        })),
        may_not_apply(found("cm.config_management", "configuration management", &category("configuration management"))),
        kept_elsewhere(found("doc.runbooks", "runbooks", &category("runbook"))),
        evidence.ownership("km.truck_factor", "truck factor"),
        evidence.ownership("km.codeowners_coverage", "codeowners coverage"),
        evidence.ownership("km.knowledge_loss", "knowledge loss"),
        evidence.codeowners_gaps(),
        may_not_apply(files.presence("db.migration_files", "database migrations", is_migration_file)),
        files.presence("sec.security_config", "security scanning or dependency-update configuration", is_security_file),
        files.presence("doc.readme", "a README", is_readme),
        files.presence("doc.adrs", "architecture decision records", is_adr),
        cross_service_changes(input, scope, &files)?,
    ])
}

/// Tools whose need depends on what the service is (a database to migrate, servers to provision,
/// images to run): finding none in its repository says nothing about the practice — the service may
/// not need them (a command-line tool has no database), or they may live in another repository — so
/// their absence is unknown, never 0. Only finding them is evidence.
pub(super) fn may_not_apply(m: Measurement) -> Measurement {
    if m.value == Some(0.0) {
        let reason = format!("{}: the service may not need it, or it lives in another repository", m.detail);
        Measurement::unknown(&m.indicator, reason)
    } else {
        m
    }
}

/// Documents that teams often keep outside the code (a wiki, the incident tracker): finding them in
/// the repository is evidence; not finding them there is not evidence of their absence.
fn kept_elsewhere(m: Measurement) -> Measurement {
    if m.value == Some(0.0) {
        let reason = format!("{}: teams often keep them in a wiki or the incident tracker", m.detail);
        Measurement::unknown(&m.indicator, reason)
    } else {
        m
    }
}

/// One `evidence` row of the service.
struct Row {
    id: String,
    source: String,
    kind: String,
    category: String,
    tool: Option<String>,
    detail: Option<String>,
    path: String,
    service: Option<String>,
    value: Option<f64>,
}

/// The `evidence` rows of the service (its own, and those of its repositories that name no service)
/// and whether its repositories were read at all.
struct Evidence {
    rows: Vec<Row>,
    /// Some repository of the service was scanned (the git source scans when it reads one).
    scanned: bool,
    no_repo: bool,
}

impl Evidence {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Evidence> {
        let df = table(input, "evidence")?;
        let (services, repos) = (prepare::strs(df, "service")?, prepare::strs(df, "repo")?);
        let keep: Vec<usize> = (0..df.height())
            .filter(|&i| match services.get(i).filter(|s| !s.is_empty()) {
                Some(s) => s == scope.service,
                None => scope.owns_repo(repos.get(i)),
            })
            .collect();
        let (ids, sources, kinds) = (texts(df, "id")?, texts(df, "source")?, texts(df, "kind")?);
        let (categories, tools, details, paths) =
            (texts(df, "category")?, texts(df, "tool")?, texts(df, "detail")?, texts(df, "path")?);
        // The ownership analysis adds a `value` column; a workspace without it has no ownership rows.
        let values: Option<Vec<Option<f64>>> = match df.column("value") {
            Ok(c) => Some(c.cast(&polars::prelude::DataType::Float64)?.f64()?.iter().collect()),
            Err(_) => None,
        };
        let rows: Vec<Row> = keep
            .iter()
            .map(|&i| Row {
                id: ids[i].clone().unwrap_or_default(),
                source: sources[i].clone().unwrap_or_default(),
                kind: kinds[i].clone().unwrap_or_default(),
                category: categories[i].clone().unwrap_or_default(),
                tool: tools[i].clone(),
                detail: details[i].clone(),
                path: paths[i].clone().unwrap_or_default(),
                service: services.get(i).filter(|s| !s.is_empty()).map(str::to_string),
                value: values.as_ref().and_then(|v| v[i]),
            })
            .collect();
        // Only the git source reads which files commits touched; a forge reports commits too (GitLab's
        // merge requests fill `commits`), but reading those is not reading the repository's files.
        let files = table(input, "commit_files")?;
        let history = prepare::strs(files, "repo")?.iter().any(|r| scope.owns_repo(r));
        let scanned = history || rows.iter().any(|r| r.source == "scan");
        Ok(Evidence { rows, scanned, no_repo: scope.repos.is_empty() })
    }

    fn not_scanned(&self, indicator: &str) -> Option<Measurement> {
        if self.no_repo {
            Some(Measurement::unknown(
                indicator,
                "no repository is configured for the service (`repos`) or named by its records",
            ))
        } else if !self.scanned {
            Some(Measurement::unknown(
                indicator,
                "the service's repository was not scanned: collect it with the git source",
            ))
        } else {
            None
        }
    }

    fn presence(&self, indicator: &str, what: &str, keep: &dyn Fn(&Row) -> bool) -> Measurement {
        if let Some(m) = self.not_scanned(indicator) {
            return m;
        }
        let hits: Vec<&Row> = self.rows.iter().filter(|r| r.source == "scan" && keep(r)).collect();
        if hits.is_empty() {
            return Measurement::presence(indicator, false, format!("no {what} found in the repository"), vec![]);
        }
        let tools: BTreeSet<&str> = hits.iter().filter_map(|r| r.tool.as_deref()).collect();
        let paths: BTreeSet<&str> = hits.iter().map(|r| r.path.as_str()).collect();
        let mut detail = format!("{what} found in {}", examples(paths.iter().copied()));
        if !tools.is_empty() {
            detail.push_str(&format!(" ({})", tools.into_iter().collect::<Vec<_>>().join(", ")));
        }
        Measurement::presence(indicator, true, detail, hits.iter().map(|r| r.id.clone()).collect())
    }

    /// Steps where a person must act for a change to reach production, from the scan and the forge.
    fn manual_steps(&self) -> Measurement {
        const ID: &str = "da.manual_steps";
        let steps: Vec<&Row> = self.rows.iter().filter(|r| r.kind == "manual_step").collect();
        // The forge's settings alone would undercount: the files hold most manual steps.
        if let Some(mut m) = self.not_scanned(ID) {
            if !steps.is_empty() {
                let reason = format!("{}; the forge's settings alone show {} manual steps", m.detail, steps.len());
                m = Measurement::unknown(ID, reason);
            }
            return m;
        }
        // Without any delivery configuration in the repository there was nothing to find steps in.
        if steps.is_empty() && !self.rows.iter().any(|r| r.source == "scan" && r.category == "ci pipeline") {
            return Measurement::unknown(
                ID,
                "no pipeline configuration was found in the repository, so its release steps could not be read",
            );
        }
        let detail = if steps.is_empty() {
            "no manual step found in the repository's delivery configuration or its forge settings".to_string()
        } else {
            let what: BTreeSet<&str> = steps.iter().map(|r| r.category.as_str()).collect();
            format!(
                "{}: {}",
                counted(steps.len(), "manual step", "manual steps"),
                what.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        Measurement::known(ID, steps.len() as f64, detail, steps.iter().map(|r| r.id.clone()).collect())
    }

    /// An ownership fact: the service's own row, else the weakest of its repositories' rows.
    fn ownership(&self, indicator: &str, category: &str) -> Measurement {
        let rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.source == "ownership" && r.category == category && r.value.is_some())
            .collect();
        let own: Vec<&Row> = rows.iter().copied().filter(|r| r.service.is_some()).collect();
        let pool = if own.is_empty() { rows } else { own };
        // Lower is weaker for truck factor and coverage; higher is weaker for knowledge loss.
        let weaker_is_higher = category == "knowledge loss";
        let chosen = pool.into_iter().max_by(|a, b| {
            let (x, y) = (a.value.unwrap_or(0.0), b.value.unwrap_or(0.0));
            if weaker_is_higher { x.total_cmp(&y) } else { y.total_cmp(&x) }
        });
        let Some(row) = chosen else {
            return Measurement::unknown(
                indicator,
                format!(
                    "no {category} was stored for the service's repositories (the git source's ownership analysis)"
                ),
            );
        };
        let value = row.value.unwrap_or(0.0);
        let detail = row.detail.clone().unwrap_or_else(|| format!("{category}: {value}"));
        Measurement::known(indicator, value, detail, vec![row.id.clone()])
    }

    /// CODEOWNERS gaps the forge reports (GitHub or GitLab): no file, a file naming nobody, each
    /// error in it, and (GitLab) a default branch whose merges need no code owner's approval.
    fn codeowners_gaps(&self) -> Measurement {
        const ID: &str = "km.codeowners_gaps";
        let from_forge = |r: &&Row| r.source == "github" || r.source == "gitlab";
        let read: Vec<&Row> =
            self.rows.iter().filter(from_forge).filter(|r| r.category.starts_with("code owners")).collect();
        if read.is_empty() {
            return Measurement::unknown(ID, "CODEOWNERS was not read from the forge (the GitHub source reads it)");
        }
        let gaps: Vec<&Row> = read.iter().copied().filter(|r| r.kind == "gap").collect();
        let detail = if gaps.is_empty() {
            let forge = if read.iter().all(|r| r.source == "gitlab") { "GitLab" } else { "GitHub" };
            format!("CODEOWNERS is in place and {forge} reports no errors in it")
        } else {
            format!(
                "{}: {}",
                counted(gaps.len(), "CODEOWNERS gap", "CODEOWNERS gaps"),
                examples(gaps.iter().filter_map(|r| r.detail.as_deref()))
            )
        };
        Measurement::known(ID, gaps.len() as f64, detail, gaps.iter().map(|r| r.id.clone()).collect())
    }
}

/// The services' path globs in one repository.
struct Owner {
    name: String,
    globs: Vec<GlobMatcher>,
}

impl Owner {
    fn owns(&self, path: &str) -> bool {
        self.globs.is_empty() || self.globs.iter().any(|g| g.is_match(path))
    }
}

/// The files of the service's repositories as their history left them (a path whose latest
/// recorded change deleted it is gone), and which services own each path.
struct Files {
    /// `repo:path` of the files present at the end of the recorded history that belong to the
    /// service: under its paths, or under no configured service's paths.
    present: Vec<(String, String)>,
    read: bool,
    no_repo: bool,
    /// The configured services sharing each repository, with their globs.
    owners: HashMap<String, Vec<Owner>>,
    service: String,
}

impl Files {
    fn load(input: &EvidenceInput, scope: &Scope) -> Result<Files> {
        let mut owners: HashMap<String, Vec<Owner>> = HashMap::new();
        for service in &input.config.services {
            for repo in service.repos.iter().filter(|r| scope.repos.contains(*r)) {
                let globs = service
                    .paths
                    .iter()
                    .map(|p| {
                        path_matcher(p)
                            .map_err(|e| Error::ConfigValue { key: "services.paths".into(), message: e.to_string() })
                    })
                    .collect::<Result<Vec<_>>>()?;
                owners.entry(repo.clone()).or_default().push(Owner { name: service.name.clone(), globs });
            }
        }
        let times = commit_times(input, scope)?;
        let df = table(input, "commit_files")?;
        let (repos, shas, paths, kinds) = (
            prepare::strs(df, "repo")?,
            prepare::strs(df, "sha")?,
            prepare::strs(df, "path")?,
            prepare::strs(df, "change_type")?,
        );
        let mut latest: HashMap<(&str, &str), (i64, bool)> = HashMap::new();
        let mut read = false;
        for i in 0..df.height() {
            let (Some(repo), Some(sha), Some(path)) = (repos.get(i), shas.get(i), paths.get(i)) else { continue };
            if !scope.repos.contains(repo) {
                continue;
            }
            read = true;
            let t = times.get(&(repo.to_string(), sha.to_string())).copied().unwrap_or(i64::MIN);
            let deleted = kinds.get(i) == Some("deleted");
            let slot = latest.entry((repo, path)).or_insert((t, deleted));
            if t >= slot.0 {
                *slot = (t, deleted);
            }
        }
        let mut files = Files {
            present: Vec::new(),
            read,
            no_repo: scope.repos.is_empty(),
            owners,
            service: scope.service.to_string(),
        };
        let mut present: Vec<(String, String)> = latest
            .into_iter()
            .filter(|(_, (_, deleted))| !deleted)
            .filter(|((repo, path), _)| files.serves_service(repo, path))
            .map(|((repo, path), _)| (repo.to_string(), path.to_string()))
            .collect();
        present.sort();
        files.present = present;
        Ok(files)
    }

    /// The services of `repo` whose paths contain `path`.
    fn services_of<'f>(&'f self, repo: &str, path: &str) -> impl Iterator<Item = &'f str> {
        self.owners.get(repo).into_iter().flatten().filter(move |o| o.owns(path)).map(|o| o.name.as_str())
    }

    /// A file serves the service when it lies under its paths or under no service's paths.
    fn serves_service(&self, repo: &str, path: &str) -> bool {
        let mut owners = self.services_of(repo, path).peekable();
        owners.peek().is_none() || owners.any(|s| s == self.service)
    }

    fn presence(&self, indicator: &str, what: &str, matches: fn(&str) -> bool) -> Measurement {
        if self.no_repo {
            return Measurement::unknown(
                indicator,
                "no repository is configured for the service (`repos`) or named by its records",
            );
        }
        if !self.read {
            return Measurement::unknown(
                indicator,
                "the files of the service's repository were not read: collect it with the git source",
            );
        }
        let hits: Vec<String> = self
            .present
            .iter()
            .filter(|(_, path)| matches(path))
            .map(|(repo, path)| format!("{repo}:{path}"))
            .collect();
        let detail = if hits.is_empty() {
            format!("no {what} among the repository's files")
        } else {
            format!("{what}: {}", examples(hits.iter().map(String::as_str)))
        };
        Measurement::presence(indicator, !hits.is_empty(), detail, hits)
    }
}

/// (repo, sha) → when the commit was made, for the service's repositories.
fn commit_times(input: &EvidenceInput, scope: &Scope) -> Result<HashMap<(String, String), i64>> {
    let df = table(input, "commits")?;
    let repos = prepare::strs(df, "repo")?;
    let df = super::rows_where(df, |i| scope.owns_repo(repos.get(i)))?;
    let (repos, shas) = (prepare::strs(&df, "repo")?, prepare::strs(&df, "sha")?);
    let (committed, authored) = (prepare::ints(&df, "committed_ts")?, prepare::ints(&df, "authored_ts")?);
    let mut out = HashMap::with_capacity(df.height());
    for i in 0..df.height() {
        if let (Some(repo), Some(sha), Some(t)) = (repos.get(i), shas.get(i), committed.get(i).or(authored.get(i))) {
            out.insert((repo.to_string(), sha.to_string()), t);
        }
    }
    Ok(out)
}

/// Share of the changes merged in the period whose commits touched another service's paths.
fn cross_service_changes(input: &EvidenceInput, scope: &Scope, files: &Files) -> Result<Measurement> {
    const ID: &str = "lc.cross_service_changes";
    let shared = files.owners.values().any(|list| list.iter().any(|o| o.name != scope.service));
    if !shared {
        return Ok(Measurement::unknown(
            ID,
            "no other configured service shares the service's repositories, so changes across services cannot be seen in one history",
        ));
    }
    // The service's changes merged in the period and their commits.
    let changes = super::service_rows(input, "changes", scope.service)?;
    let (ids, merged, merge_shas) =
        (texts(&changes, "id")?, super::times(&changes, "merged_ts")?, texts(&changes, "merge_commit_sha")?);
    let repos = texts(&changes, "repo")?;
    let mut commits: HashMap<String, Vec<String>> = HashMap::new();
    let mut change_repo: HashMap<String, Option<String>> = HashMap::new();
    for i in 0..changes.height() {
        if !scope.contains(merged[i]) {
            continue;
        }
        let id = ids[i].clone().unwrap_or_default();
        change_repo.insert(id.clone(), repos[i].clone());
        if let Some(sha) = &merge_shas[i] {
            commits.entry(sha.clone()).or_default().push(id.clone());
        }
    }
    if change_repo.is_empty() {
        return Ok(Measurement::unknown(ID, "no change was merged in the period"));
    }
    let cc = table(input, "change_commits")?;
    let (cc_ids, cc_shas) = (prepare::strs(cc, "change_id")?, prepare::strs(cc, "sha")?);
    for (id, sha) in cc_ids.iter().zip(cc_shas.iter()) {
        if let (Some(id), Some(sha)) = (id, sha)
            && change_repo.contains_key(id)
        {
            commits.entry(sha.to_string()).or_default().push(id.to_string());
        }
    }
    let df = table(input, "commit_files")?;
    let (repos, shas, paths) = (prepare::strs(df, "repo")?, prepare::strs(df, "sha")?, prepare::strs(df, "path")?);
    let mut with_files: HashSet<&str> = HashSet::new();
    let mut crossing: HashSet<&str> = HashSet::new();
    for i in 0..df.height() {
        let (Some(repo), Some(sha), Some(path)) = (repos.get(i), shas.get(i), paths.get(i)) else { continue };
        let Some(list) = commits.get(sha) else { continue };
        let other = files.services_of(repo, path).any(|s| s != scope.service);
        for id in list {
            if change_repo.get(id).is_some_and(|r| r.as_deref().is_some_and(|r| r != repo)) {
                continue;
            }
            with_files.insert(id.as_str());
            if other {
                crossing.insert(id.as_str());
            }
        }
    }
    if with_files.is_empty() {
        return Ok(Measurement::unknown(
            ID,
            format!("no files are recorded for the commits of the {} changes merged in the period", change_repo.len()),
        ));
    }
    let detail =
        format!("{} of {} merged changes also touched another service's paths", crossing.len(), with_files.len());
    let mut records: Vec<String> = with_files.iter().map(|s| s.to_string()).collect();
    records.sort();
    Ok(Measurement::known(ID, share(crossing.len(), with_files.len()), detail, records))
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase()
}

fn directories(path: &str) -> impl Iterator<Item = String> + '_ {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts.into_iter().map(str::to_ascii_lowercase)
}

/// Migration files: a `migrations` directory (Django, Prisma, Knex, …), Rails' `db/migrate`,
/// Alembic, Flyway's `V<n>__name.sql`, Liquibase changelogs.
fn is_migration_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(path);
    let flyway = name.starts_with('v')
        && name.ends_with(".sql")
        && name.contains("__")
        && name[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
    directories(path).any(|d| matches!(d.as_str(), "migrations" | "migration" | "alembic" | "flyway" | "liquibase"))
        || lower.contains("db/migrate/")
        || flyway
        || (name.contains("changelog") && lower.contains("liquibase"))
}

/// Security scanning or dependency-update configuration.
fn is_security_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(path);
    matches!(
        lower.as_str(),
        ".github/dependabot.yml" | ".github/dependabot.yaml" | ".snyk" | ".gitleaks.toml" | "sonar-project.properties"
    ) || name.starts_with("renovate.json")
        || name.starts_with(".renovaterc")
        || name == ".trivyignore"
        || name.starts_with(".semgrep")
        || lower.starts_with(".github/codeql/")
        || (lower.starts_with(".github/workflows/") && (name.contains("codeql") || name.contains("security")))
}

fn is_readme(path: &str) -> bool {
    file_name(path).starts_with("readme")
}

/// Architecture decision records: Markdown under an `adr`/`decisions` directory, or named `adr-…`.
fn is_adr(path: &str) -> bool {
    let name = file_name(path);
    let markdown = name.ends_with(".md") || name.ends_with(".adoc") || name.ends_with(".rst");
    markdown
        && (directories(path).any(|d| matches!(d.as_str(), "adr" | "adrs" | "decisions" | "architecture-decisions"))
            || name.starts_with("adr-")
            || name.starts_with("adr_"))
}
