//! Ownership: who owns what, by declaration (CODEOWNERS) and by authorship (degree of authorship,
//! truck factor, knowledge loss), per repository and per service.
//!
//! Knowledge loss is judged at a reference moment, the end of the analysis window or the last
//! commit if the history ends earlier, so an old copy of a repository does not read as abandoned.

pub mod authorship;
pub mod codeowners;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::collect::git::{History, LineCounts};
use crate::config::Service;
use authorship::TruckFactor;
use codeowners::{CodeOwners, Dialect};

/// Ownership of one service (or of the whole repository).
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    pub name: String,
    pub files: usize,
    pub files_with_authors: usize,
    pub truck_factor: TruckFactor,
    /// Developers by the number of files they author, most first (at most ten).
    pub top_authors: Vec<(String, usize)>,
    /// Files whose every author has been inactive longer than the threshold.
    pub abandoned_files: usize,
    pub abandoned_share: Option<f64>,
    /// Some of those files, for the reader to look at (at most twenty).
    pub abandoned_examples: Vec<String>,
}

/// The whole ownership analysis of one repository.
#[derive(Debug, Clone, Serialize)]
pub struct OwnershipReport {
    pub schema: &'static str,
    pub repo: String,
    pub analysed_at: DateTime<Utc>,
    pub inactive_days: i64,
    /// The moment inactivity is measured from: the end of the analysis window, or the last commit
    /// when the history ends earlier (a copy not updated for months is not evidence that everyone
    /// left). A developer is inactive when their last commit is more than `inactive_days` before it.
    pub inactive_since_reference: DateTime<Utc>,
    /// Which of the two it is: `end of the analysis window` or `last commit`.
    pub inactivity_measured_from: &'static str,
    pub repository: Scope,
    pub services: Vec<Scope>,
    /// Developers inactive longer than the threshold who still author files.
    pub inactive_authors: Vec<String>,
    /// The CODEOWNERS analysis, when the repository has such a file.
    pub codeowners: Option<CodeownersReport>,
    pub warnings: Vec<String>,
    /// Warnings about the data (shallow or partial clone, missing file contents) with the figures
    /// they weaken.
    pub data_warnings: Vec<crate::model::DataWarning>,
}

/// What the CODEOWNERS file declares, measured against the files and the recent changes.
#[derive(Debug, Clone, Serialize)]
pub struct CodeownersReport {
    pub path: String,
    pub dialect: &'static str,
    pub files: usize,
    pub owned_files: usize,
    pub explicitly_unowned_files: usize,
    pub file_coverage: Option<f64>,
    /// File changes (commit × file) in the analysis window, and those on owned files.
    pub changes_in_window: usize,
    pub owned_changes_in_window: usize,
    pub change_coverage: Option<f64>,
    /// Lines added plus removed in the window (see `collect::git::lines_changed`), and on owned files.
    pub lines_changed_in_window: u64,
    pub owned_lines_changed_in_window: u64,
    pub line_coverage: Option<f64>,
    /// Directories holding the most files without an owner: (directory, files).
    pub unowned_directories: Vec<(String, usize)>,
    /// Rules whose every owner is an address that has not committed within the inactivity period.
    pub stale_rules: Vec<RuleView>,
    /// Rules whose owners are forge handles (`@user`, `@org/team`): git cannot tell whether they
    /// still contribute; the forge source can.
    pub unverifiable_rules: usize,
    /// Rules that match no file at HEAD.
    pub rules_matching_nothing: Vec<RuleView>,
    /// Lines the forge would reject, with their line numbers; the other lines still apply.
    pub errors: Vec<RuleView>,
}

/// A CODEOWNERS line, for the reader.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub line: usize,
    pub text: String,
    pub note: String,
}

fn scope(
    name: &str,
    authors: &BTreeMap<String, Vec<String>>,
    all_files: usize,
    last_active: &BTreeMap<String, DateTime<Utc>>,
    reference: DateTime<Utc>,
    inactive_days: i64,
) -> Scope {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in authors.values() {
        for who in a {
            *counts.entry(who).or_default() += 1;
        }
    }
    let mut top: Vec<(String, usize)> = counts.into_iter().map(|(w, n)| (w.to_string(), n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(10);
    let lost = authorship::abandoned(authors, last_active, reference, inactive_days);
    let with_authors = authors.values().filter(|a| !a.is_empty()).count();
    Scope {
        name: name.to_string(),
        files: all_files,
        files_with_authors: with_authors,
        truck_factor: authorship::truck_factor(authors),
        top_authors: top,
        abandoned_files: lost.len(),
        abandoned_share: (with_authors > 0).then(|| lost.len() as f64 / with_authors as f64),
        abandoned_examples: lost.iter().take(20).map(|s| s.to_string()).collect(),
    }
}

/// Which forge's CODEOWNERS rules apply: GitLab when the repository carries GitLab configuration.
pub fn detect_dialect(root: &std::path::Path) -> Dialect {
    if root.join(".gitlab-ci.yml").exists() || root.join(".gitlab").is_dir() {
        Dialect::GitLab
    } else {
        Dialect::GitHub
    }
}

fn codeowners_report(
    history: &History,
    file: (&std::path::Path, &CodeOwners),
    lines: &LineCounts,
    window: (DateTime<Utc>, DateTime<Utc>),
    cutoff: DateTime<Utc>,
) -> CodeownersReport {
    let (path, owners) = file;
    let mut owned = 0;
    let mut explicit = 0;
    let mut unowned_dirs: BTreeMap<String, usize> = BTreeMap::new();
    for f in &history.head_files {
        let o = owners.owners_of(f);
        if !o.owners.is_empty() {
            owned += 1;
        } else {
            if o.explicitly_unowned {
                explicit += 1;
            }
            let dir = f.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_else(|| ".".into());
            *unowned_dirs.entry(dir).or_default() += 1;
        }
    }
    let (mut changes, mut owned_changes, mut lines_total, mut lines_owned) = (0, 0, 0u64, 0u64);
    for (ci, c) in history.commits.iter().enumerate() {
        if c.committed_at < window.0 || c.committed_at >= window.1 {
            continue;
        }
        for (fi, f) in c.files.iter().enumerate() {
            let lines_here = lines.by_change.get(&(ci, fi)).copied().unwrap_or(0);
            changes += 1;
            lines_total += lines_here;
            if !owners.owners_of(&f.path).owners.is_empty() {
                owned_changes += 1;
                lines_owned += lines_here;
            }
        }
    }
    // Committers by address: an e-mail owner who has not committed since the cutoff is gone.
    let active_emails: std::collections::BTreeSet<String> =
        history.commits.iter().filter(|c| c.committed_at >= cutoff).map(|c| c.email.to_ascii_lowercase()).collect();
    let mut stale = Vec::new();
    let mut unverifiable = 0;
    for rule in owners.rules.iter().filter(|r| !r.owners.is_empty()) {
        let emails: Vec<&String> = rule.owners.iter().filter(|o| o.contains('@') && !o.starts_with('@')).collect();
        if emails.len() < rule.owners.len() {
            unverifiable += 1;
        } else if emails.iter().all(|e| !active_emails.contains(&e.to_ascii_lowercase())) {
            stale.push(RuleView {
                line: rule.line,
                text: format!("{} {}", rule.pattern, rule.owners.join(" ")),
                note: "no owner has committed within the inactivity period".into(),
            });
        }
    }
    let nothing = owners
        .rules
        .iter()
        .filter(|r| !r.exclusion && !history.head_files.iter().any(|f| r.matches(f)))
        .map(|r| RuleView { line: r.line, text: r.pattern.clone(), note: "matches no file".into() })
        .collect();
    let mut dirs: Vec<(String, usize)> = unowned_dirs.into_iter().collect();
    dirs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    dirs.truncate(20);
    let files = history.head_files.len();
    CodeownersReport {
        path: path.strip_prefix(&history.path).unwrap_or(path).display().to_string(),
        dialect: match owners.dialect {
            Dialect::GitHub => "github",
            Dialect::GitLab => "gitlab",
        },
        files,
        owned_files: owned,
        explicitly_unowned_files: explicit,
        file_coverage: (files > 0).then(|| owned as f64 / files as f64),
        changes_in_window: changes,
        owned_changes_in_window: owned_changes,
        change_coverage: (changes > 0).then(|| owned_changes as f64 / changes as f64),
        lines_changed_in_window: lines_total,
        owned_lines_changed_in_window: lines_owned,
        line_coverage: (lines_total > 0).then(|| lines_owned as f64 / lines_total as f64),
        unowned_directories: dirs,
        stale_rules: stale,
        unverifiable_rules: unverifiable,
        rules_matching_nothing: nothing,
        errors: owners
            .errors
            .iter()
            .map(|e| RuleView { line: e.line, text: e.text.clone(), note: e.message.clone() })
            .collect(),
    }
}

/// Analyses authorship for the repository and for each service with path globs, with inactivity
/// measured from `now` or the last commit, whichever is earlier.
pub fn analyse(history: &History, services: &[&Service], now: DateTime<Utc>, inactive_days: i64) -> OwnershipReport {
    analyse_with(
        history,
        services,
        now,
        inactive_days,
        None,
        (now - chrono::Duration::days(90), now),
        &Default::default(),
    )
}

/// [`analyse`], plus the CODEOWNERS file found in the working tree (in `dialect`, detected when
/// `None`), with change coverage measured over `window` and line coverage from `lines`
/// (`collect::git::lines_changed`; empty leaves line coverage unknown). Inactivity is measured from
/// the end of `window`, or from the last commit when the history ends before it.
pub fn analyse_with(
    history: &History,
    services: &[&Service],
    now: DateTime<Utc>,
    inactive_days: i64,
    dialect: Option<Dialect>,
    window: (DateTime<Utc>, DateTime<Utc>),
    lines: &LineCounts,
) -> OwnershipReport {
    let (reference, measured_from) = inactivity_reference(history, window.1);
    let facts = authorship::authorship(history);
    let authors: BTreeMap<String, Vec<String>> =
        facts.files.iter().map(|(path, f)| (path.clone(), authorship::authors_of(f))).collect();
    let repository =
        scope(&history.repo, &authors, history.head_files.len(), &facts.last_active, reference, inactive_days);
    let mut scopes = Vec::new();
    for service in services.iter().filter(|s| !s.paths.is_empty()) {
        let matchers: Vec<_> = service.paths.iter().filter_map(|p| crate::config::path_matcher(p).ok()).collect();
        let owns = |path: &str| matchers.iter().any(|m| m.is_match(path));
        let subset: BTreeMap<String, Vec<String>> =
            authors.iter().filter(|(p, _)| owns(p)).map(|(p, a)| (p.clone(), a.clone())).collect();
        let files = history.head_files.iter().filter(|p| owns(p)).count();
        scopes.push(scope(&service.name, &subset, files, &facts.last_active, reference, inactive_days));
    }
    let cutoff = reference - chrono::Duration::days(inactive_days);
    let mut inactive: Vec<String> = authors
        .values()
        .flatten()
        .filter(|who| facts.last_active.get(*who).is_none_or(|t| *t < cutoff))
        .cloned()
        .collect();
    inactive.sort();
    inactive.dedup();
    let mut warnings = history.warnings.clone();
    let mut data_warnings = history.data_warnings.clone();
    if let Some(warning) = lines.data_warning(&history.repo) {
        warnings.push(warning.message.clone());
        data_warnings.push(warning);
    }
    let dialect = dialect.unwrap_or_else(|| detect_dialect(&history.path));
    let codeowners = match codeowners::load(&history.path, dialect) {
        Ok(Some((path, owners))) => {
            for e in &owners.errors {
                warnings.push(format!(
                    "{}:{}: {} (the rest of the file still applies)",
                    path.display(),
                    e.line,
                    e.message
                ));
            }
            Some(codeowners_report(history, (&path, &owners), lines, window, cutoff))
        }
        Ok(None) => {
            warnings.push("no CODEOWNERS file: nothing declares who owns which paths".into());
            None
        }
        Err(e) => {
            warnings.push(format!("CODEOWNERS could not be read: {e}"));
            None
        }
    };
    OwnershipReport {
        codeowners,
        schema: "flowgauge.ownership/1",
        repo: history.repo.clone(),
        analysed_at: now,
        inactive_days,
        inactive_since_reference: reference,
        inactivity_measured_from: measured_from,
        repository,
        services: scopes,
        inactive_authors: inactive,
        warnings,
        data_warnings,
    }
}

/// Where inactivity is measured from: the end of the window, or the last commit if that is earlier.
fn inactivity_reference(history: &History, window_end: DateTime<Utc>) -> (DateTime<Utc>, &'static str) {
    match history.commits.iter().map(|c| c.committed_at).max() {
        Some(last) if last < window_end => (last, "last commit"),
        _ => (window_end, "end of the analysis window"),
    }
}
