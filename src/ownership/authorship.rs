//! Degree of authorship, truck factor and knowledge loss, from one pass over the history.
//!
//! Degree of authorship (Avelino et al., 2016, "A novel approach for estimating truck factors"):
//! `DOA = 3.293 + 1.098·FA + 0.164·DL − 0.321·ln(1 + AC)`, where FA is 1 when the developer created
//! the file, DL the developer's changes to it and AC the changes by everyone else. A developer is an
//! author of a file when their DOA normalised by the file's highest is above 0.75 and either their
//! DOA is at least 3.293 or they created the file. Files are followed through renames, so history is
//! not lost when a file moves. Bots neither create nor change files here.
//!
//! Truck factor: remove the author of the most files (ties broken by name, so the result is
//! deterministic) until fewer than half of the files have an author left; the number removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::collect::git::History;

/// Authorship facts of one file, followed through renames, keyed by its path at HEAD.
#[derive(Debug, Clone, Default)]
pub struct FileHistory {
    pub creator: Option<String>,
    /// Changes per developer.
    pub deliveries: BTreeMap<String, u32>,
}

/// Per-file authorship for every file at HEAD, plus each developer's last activity.
#[derive(Debug, Clone, Default)]
pub struct Authorship {
    pub files: BTreeMap<String, FileHistory>,
    pub last_active: BTreeMap<String, DateTime<Utc>>,
}

/// The DOA formula.
pub fn doa(first_author: bool, deliveries: u32, others: u32) -> f64 {
    3.293 + 1.098 * if first_author { 1.0 } else { 0.0 } + 0.164 * deliveries as f64
        - 0.321 * (1.0 + others as f64).ln()
}

/// Replays the history (oldest first) following renames; only files still present at HEAD remain.
pub fn authorship(history: &History) -> Authorship {
    let mut next_key = 0usize;
    let mut key_of: HashMap<String, usize> = HashMap::new();
    let mut files: HashMap<usize, FileHistory> = HashMap::new();
    let mut last_active: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for commit in &history.commits {
        if commit.parents.len() > 1 {
            continue;
        }
        // A bot's renames and deletions still move and remove files (so history stays attached to
        // the right path), but a bot creates nothing and delivers nothing to anyone's authorship.
        let human = !commit.is_bot;
        let who = commit.author.clone();
        if human {
            let seen = last_active.entry(who.clone()).or_insert(commit.committed_at);
            *seen = (*seen).max(commit.committed_at);
        }
        for change in &commit.files {
            let key = match change.kind {
                "deleted" => {
                    key_of.remove(&change.path);
                    continue;
                }
                "renamed" => {
                    let key = change.old_path.as_ref().and_then(|old| key_of.remove(old)).unwrap_or_else(|| {
                        next_key += 1;
                        next_key
                    });
                    key_of.insert(change.path.clone(), key);
                    key
                }
                _ => *key_of.entry(change.path.clone()).or_insert_with(|| {
                    next_key += 1;
                    next_key
                }),
            };
            let file = files.entry(key).or_default();
            if !human {
                continue;
            }
            if change.kind == "added" && file.creator.is_none() {
                file.creator = Some(who.clone());
            }
            *file.deliveries.entry(who.clone()).or_default() += 1;
        }
    }
    let head: BTreeSet<&str> = history.head_files.iter().map(String::as_str).collect();
    let files = key_of
        .into_iter()
        .filter(|(path, _)| head.contains(path.as_str()))
        .filter_map(|(path, key)| files.remove(&key).map(|f| (path, f)))
        // Files only bots ever touched have no human history to weigh.
        .filter(|(_, f)| !f.deliveries.is_empty())
        .collect();
    Authorship { files, last_active }
}

/// The authors of one file under the DOA rule, sorted by name.
pub fn authors_of(file: &FileHistory) -> Vec<String> {
    let total: u32 = file.deliveries.values().sum();
    let scores: Vec<(&String, f64, bool)> = file
        .deliveries
        .iter()
        .map(|(who, n)| {
            let first = file.creator.as_deref() == Some(who.as_str());
            (who, doa(first, *n, total - n), first)
        })
        .collect();
    let best = scores.iter().map(|(_, d, _)| *d).fold(f64::MIN, f64::max);
    if best <= 0.0 {
        return Vec::new();
    }
    scores
        .into_iter()
        .filter(|(_, d, first)| d / best > 0.75 && (*d >= 3.293 || *first))
        .map(|(who, _, _)| who.clone())
        .collect()
}

/// Truck factor of a set of files, given each file's authors.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruckFactor {
    pub value: usize,
    /// Developers removed, in order, until fewer than half the files had an author.
    pub removed: Vec<String>,
    /// Files with at least one author (the denominator).
    pub files: usize,
}

pub fn truck_factor(authors: &BTreeMap<String, Vec<String>>) -> TruckFactor {
    let files: Vec<&Vec<String>> = authors.values().filter(|a| !a.is_empty()).collect();
    let total = files.len();
    let mut removed: Vec<String> = Vec::new();
    let covered = |removed: &[String]| files.iter().filter(|a| a.iter().any(|x| !removed.contains(x))).count();
    while total > 0 && covered(&removed) * 2 >= total {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &files {
            for who in a.iter().filter(|w| !removed.contains(w)) {
                *counts.entry(who).or_default() += 1;
            }
        }
        // Most files first; equal counts go to the name that sorts first (BTreeMap order).
        let Some((who, _)) = counts.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0))) else { break };
        removed.push(who.to_string());
    }
    TruckFactor { value: removed.len(), removed, files: total }
}

/// Files whose every author has been inactive for longer than `inactive_days` at `now`.
pub fn abandoned<'a>(
    authors: &'a BTreeMap<String, Vec<String>>,
    last_active: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    inactive_days: i64,
) -> Vec<&'a str> {
    let cutoff = now - Duration::days(inactive_days);
    authors
        .iter()
        .filter(|(_, a)| !a.is_empty() && a.iter().all(|who| last_active.get(who).is_none_or(|t| *t < cutoff)))
        .map(|(path, _)| path.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doa_matches_the_paper() {
        // Creator with 3 changes, 2 by others: 3.293 + 1.098 + 0.492 − 0.321·ln 3.
        assert!((doa(true, 3, 2) - (3.293 + 1.098 + 0.492 - 0.321 * 3f64.ln())).abs() < 1e-12);
        assert!((doa(false, 0, 0) - 3.293).abs() < 1e-12);
    }

    #[test]
    fn truck_factor_removes_the_most_prolific_first_and_breaks_ties_by_name() {
        let mut authors = BTreeMap::new();
        // ann authors 3 files, bob 2, cy 1; four files in all.
        authors.insert("a".to_string(), vec!["ann".to_string()]);
        authors.insert("b".to_string(), vec!["ann".to_string(), "bob".to_string()]);
        authors.insert("c".to_string(), vec!["ann".to_string()]);
        authors.insert("d".to_string(), vec!["bob".to_string(), "cy".to_string()]);
        // Remove ann: b and d still covered (2 of 4 = 50%, not fewer than half); remove bob: d only (1 of 4).
        let tf = truck_factor(&authors);
        assert_eq!(tf, TruckFactor { value: 2, removed: vec!["ann".into(), "bob".into()], files: 4 });
        let mut tie = BTreeMap::new();
        tie.insert("x".to_string(), vec!["zed".to_string()]);
        tie.insert("y".to_string(), vec!["amy".to_string()]);
        // Both author one file: amy goes first by name; then zed, leaving no file covered.
        assert_eq!(truck_factor(&tie).removed, vec!["amy".to_string(), "zed".to_string()]);
    }
}
