//! The ownership analysis of a repository, stored as `evidence` rows when its history is collected.
//!
//! The report (and the assessment) read evidence from the workspace's tables only; they never see
//! the repository. So what git can say about ownership — the truck factor, files nobody active
//! knows any more, and how much of the tree a CODEOWNERS file covers — is measured here, at
//! collection time, while the history is in memory, and kept as a snapshot per repository: every
//! collection replaces all `ownership:<repo>:` rows.
//!
//! Thresholds (documented in `docs/data-model.md` and `docs/report.md`): a truck factor of 1 or
//! less, no CODEOWNERS file or one that covers fewer than half of the files at HEAD, and any file
//! whose every author is inactive are ownership gaps (`kind` = `gap`); otherwise the row is a
//! `practice`.

use chrono::{DateTime, Utc};

use super::git::History;
use crate::config::{Config, Service};
use crate::model::{Row, Value};
use crate::ownership::{self, Scope};

/// Category of the truck-factor row.
pub const TRUCK_FACTOR: &str = "truck factor";
/// Category of the CODEOWNERS coverage row.
pub const CODEOWNERS_COVERAGE: &str = "codeowners coverage";
/// Category of the knowledge-loss row.
pub const KNOWLEDGE_LOSS: &str = "knowledge loss";

/// A CODEOWNERS file covering fewer than this share of the files at HEAD is an ownership gap.
pub const MIN_CODEOWNERS_COVERAGE: f64 = 0.5;

/// The id prefix of one repository's ownership rows (the snapshot replaced on every collection).
pub fn prefix(repo: &str) -> String {
    format!("ownership:{repo}:")
}

/// The instant inactivity is measured from: the end of the analysis window, or the last commit when
/// the history ends earlier (a repository nobody touched for a year is not judged from today).
pub fn analysed_at(history: &History, config: &Config) -> Option<DateTime<Utc>> {
    let last = history.commits.iter().map(|c| c.committed_at).max()?;
    Some(last.min(config.analysis.window.until))
}

/// The ownership rows of one repository: per configured service with path globs, and for the
/// whole repository (its `service` empty). `fallback` is the service the repository gets when no
/// configured service claims it. An empty history gives no rows.
pub fn rows(history: &History, config: &Config, fallback: &Service) -> Vec<Row> {
    let Some(now) = analysed_at(history, config) else { return Vec::new() };
    let mut services: Vec<&Service> =
        config.services.iter().filter(|s| s.repos.iter().any(|r| r == &history.repo)).collect();
    if services.is_empty() {
        services.push(fallback);
    }
    let window = (config.analysis.window.since, config.analysis.window.until);
    // File coverage needs no line counts (those read every changed blob): none are passed.
    let analysis =
        ownership::analyse_with(history, &services, now, config.git.inactive_days, None, window, &Default::default());
    let mut out = Vec::new();
    out.extend(scope_rows(&history.repo, None, &analysis.repository, analysis.inactive_days));
    for scope in &analysis.services {
        out.extend(scope_rows(&history.repo, Some(&scope.name), scope, analysis.inactive_days));
    }
    // A bare repository has no working tree, so no CODEOWNERS can be read: say nothing about it.
    let has_tree = history.path.join(".git").exists();
    let unreadable = analysis.codeowners.is_none()
        && ownership::codeowners::locate(&history.path, ownership::detect_dialect(&history.path)).is_some();
    if has_tree && !unreadable {
        out.push(codeowners_row(&history.repo, history.head_files.len(), analysis.codeowners.as_ref()));
    }
    out
}

fn row(repo: &str, service: Option<&str>, category: &str, gap: bool, detail: String, path: &str, value: f64) -> Row {
    let slug = category.replace(' ', "-");
    vec![
        Value::Text(format!("{}{}:{slug}", prefix(repo), service.unwrap_or(""))),
        Value::Text("ownership".into()),
        Value::Text(repo.to_string()),
        service.map_or(Value::Null, |s| Value::Text(s.to_string())),
        Value::Text(if gap { "gap" } else { "practice" }.into()),
        Value::Text(category.to_string()),
        Value::Text("git".into()),
        Value::Text(detail),
        Value::Text(path.to_string()),
        Value::Null,
        Value::Float(value),
    ]
}

fn files(n: usize) -> String {
    if n == 1 { "1 file".into() } else { format!("{n} files") }
}

/// Truck factor and knowledge loss of one scope; nothing when no file has a known author.
fn scope_rows(repo: &str, service: Option<&str>, scope: &Scope, inactive_days: i64) -> Vec<Row> {
    if scope.files_with_authors == 0 {
        return Vec::new();
    }
    let tf = scope.truck_factor.value;
    // People's names stay out of the text: `--anonymise` rewrites columns, not sentences.
    let truck = match tf {
        0 | 1 => format!(
            "truck factor {tf}: one developer authors most of the {} with a known author; if they left, fewer than half would keep an active author",
            files(scope.files_with_authors)
        ),
        n => format!(
            "truck factor {n}: {n} developers would have to leave before fewer than half of the {} with a known author kept one",
            files(scope.files_with_authors)
        ),
    };
    let share = scope.abandoned_share.unwrap_or(0.0);
    let loss = if scope.abandoned_files == 0 {
        format!("every one of the {} has an author active within {inactive_days} days", files(scope.files_with_authors))
    } else {
        format!(
            "{} of {} ({:.0}%) have no author active within {inactive_days} days: the knowledge of them has left",
            files(scope.abandoned_files),
            scope.files_with_authors,
            share * 100.0
        )
    };
    vec![
        row(repo, service, TRUCK_FACTOR, tf <= 1, truck, ".", tf as f64),
        row(repo, service, KNOWLEDGE_LOSS, scope.abandoned_files > 0, loss, ".", share),
    ]
}

fn codeowners_row(repo: &str, head_files: usize, codeowners: Option<&ownership::CodeownersReport>) -> Row {
    let Some(c) = codeowners else {
        return row(
            repo,
            None,
            CODEOWNERS_COVERAGE,
            true,
            "no CODEOWNERS file: nothing declares who owns which paths".into(),
            ".",
            0.0,
        );
    };
    let coverage = c.file_coverage.unwrap_or(0.0);
    let mut detail = format!(
        "CODEOWNERS names an owner for {} of {} at HEAD ({:.0}%)",
        c.owned_files,
        files(head_files),
        coverage * 100.0
    );
    if !c.errors.is_empty() {
        detail.push_str(&format!("; the forge would reject {} of its lines", c.errors.len()));
    }
    row(repo, None, CODEOWNERS_COVERAGE, coverage < MIN_CODEOWNERS_COVERAGE, detail, &c.path, coverage)
}
