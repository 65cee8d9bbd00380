//! Ownership: who owns what, by declaration (CODEOWNERS) and by authorship (degree of authorship,
//! truck factor, knowledge loss), per repository and per service.

pub mod authorship;
pub mod codeowners;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use globset::Glob;
use serde::Serialize;

use crate::collect::git::History;
use crate::config::Service;
use authorship::TruckFactor;

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
    pub repository: Scope,
    pub services: Vec<Scope>,
    /// Developers inactive longer than the threshold who still author files.
    pub inactive_authors: Vec<String>,
    pub warnings: Vec<String>,
}

fn scope(
    name: &str,
    authors: &BTreeMap<String, Vec<String>>,
    all_files: usize,
    last_active: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
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
    let lost = authorship::abandoned(authors, last_active, now, inactive_days);
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

/// Analyses authorship for the repository and for each service with path globs.
pub fn analyse(history: &History, services: &[&Service], now: DateTime<Utc>, inactive_days: i64) -> OwnershipReport {
    let facts = authorship::authorship(history);
    let authors: BTreeMap<String, Vec<String>> =
        facts.files.iter().map(|(path, f)| (path.clone(), authorship::authors_of(f))).collect();
    let repository = scope(&history.repo, &authors, history.head_files.len(), &facts.last_active, now, inactive_days);
    let mut scopes = Vec::new();
    for service in services.iter().filter(|s| !s.paths.is_empty()) {
        let matchers: Vec<_> =
            service.paths.iter().filter_map(|p| Glob::new(p).ok()).map(|g| g.compile_matcher()).collect();
        let owns = |path: &str| matchers.iter().any(|m| m.is_match(path));
        let subset: BTreeMap<String, Vec<String>> =
            authors.iter().filter(|(p, _)| owns(p)).map(|(p, a)| (p.clone(), a.clone())).collect();
        let files = history.head_files.iter().filter(|p| owns(p)).count();
        scopes.push(scope(&service.name, &subset, files, &facts.last_active, now, inactive_days));
    }
    let cutoff = now - chrono::Duration::days(inactive_days);
    let mut inactive: Vec<String> = authors
        .values()
        .flatten()
        .filter(|who| facts.last_active.get(*who).is_none_or(|t| *t < cutoff))
        .cloned()
        .collect();
    inactive.sort();
    inactive.dedup();
    OwnershipReport {
        schema: "flowgauge.ownership/1",
        repo: history.repo.clone(),
        analysed_at: now,
        inactive_days,
        repository,
        services: scopes,
        inactive_authors: inactive,
        warnings: history.warnings.clone(),
    }
}
