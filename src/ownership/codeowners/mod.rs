//! CODEOWNERS files in GitHub's and GitLab's dialects.
//!
//! Declared ownership is one half of the ownership picture (the other is authorship), and it is only
//! worth reporting if a path gets the owners the forge itself would request a review from. The two
//! forges read the same file name very differently, so this module implements each one's rules by
//! hand instead of borrowing a gitignore matcher:
//!
//! * **GitHub** ("About code owners"): gitignore-style patterns without `!` negation, `[ ]` ranges
//!   or `\#` escapes (each is an error and the line is skipped, as GitHub skips invalid lines); a
//!   `/` at the start or in the middle anchors a pattern to the root; `docs/*` matches direct
//!   children only, while any other pattern also covers everything below what it matches; the last
//!   matching line wins, and a matching line without owners leaves the path explicitly unowned.
//! * **GitLab** ("Code owners", "Syntax of CODEOWNERS file", "Advanced CODEOWNERS configuration"):
//!   patterns are `File.fnmatch` globs (`FNM_PATHNAME | FNM_DOTMATCH`) after GitLab's rewriting —
//!   a pattern without a leading `/` gets `/**/` in front, one ending in `/` gets `**/*` appended.
//!   Entries are grouped in sections (`[Name]`, `^[Optional]`, `[Name][2]`, `[Name] @defaults`;
//!   names are case-insensitive and duplicates are merged); within a section the last entry wins,
//!   and the owners of a path are the union over all sections. An `!exclusion` that matches a path
//!   removes that section from the path entirely, wherever in the section it stands. Entries are
//!   keyed by their rewritten pattern, like GitLab's hash: a repeated pattern takes the later owners
//!   but keeps the place of its first occurrence.
//!
//! [`parse`] never fails: bad lines are reported in [`CodeOwners::errors`] with their 1-based line
//! numbers and the rest of the file still applies.
//!
//! This file holds the shared types, locating the file and looking owners up; GitHub's rules are in
//! `github.rs`, GitLab's in `gitlab.rs`, and the glob matching of one path segment both use in
//! `segment.rs`.

mod github;
mod gitlab;
mod segment;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use github::*;
use gitlab::*;
use segment::*;

/// Which forge's reading of a CODEOWNERS file to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// GitHub (github.com, GitHub Enterprise).
    GitHub,
    /// GitLab (gitlab.com, self-managed, Dedicated).
    GitLab,
}

const GITHUB_CANDIDATES: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];
const GITLAB_CANDIDATES: [&str; 3] = ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"];

/// Where each forge looks for its CODEOWNERS file, in the forge's order; the first existing file is
/// used and the others are ignored.
///
/// GitHub: `.github/`, the root, then `docs/`. GitLab: the root, `docs/`, then `.gitlab/`.
pub fn candidates(dialect: Dialect) -> &'static [&'static str] {
    match dialect {
        Dialect::GitHub => &GITHUB_CANDIDATES,
        Dialect::GitLab => &GITLAB_CANDIDATES,
    }
}

/// The CODEOWNERS file the forge would use in the checkout at `root`, if there is one.
pub fn locate(root: &Path, dialect: Dialect) -> Option<PathBuf> {
    candidates(dialect).iter().map(|candidate| root.join(candidate)).find(|path| path.is_file())
}

/// Locates and parses the CODEOWNERS file of the checkout at `root`; `Ok(None)` if there is none.
pub fn load(root: &Path, dialect: Dialect) -> std::io::Result<Option<(PathBuf, CodeOwners)>> {
    let Some(path) = locate(root, dialect) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)?;
    Ok(Some((path, parse(&text, dialect))))
}

/// A line the forge would reject (or partly reject), with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written, without surrounding whitespace.
    pub text: String,
    /// What is wrong, and what the forge does about it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} ({})", self.line, self.message, self.text)
    }
}

impl std::error::Error for ParseError {}

/// One ownership entry of the file.
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1-based line number in the file.
    pub line: usize,
    /// The pattern as written (without the `!` of a GitLab exclusion).
    pub pattern: String,
    /// The owners of matching paths: the line's own, or (GitLab) its section's default owners when
    /// the line names none. Empty means the entry leaves matching paths unowned.
    pub owners: Vec<String>,
    /// The GitLab section the entry belongs to (in the case of its first header); `None` for
    /// entries before any section and for every GitHub rule.
    pub section: Option<String>,
    /// Whether the entry's section header was optional (`^[Section]`).
    pub optional: bool,
    /// Whether this is a GitLab exclusion (`!pattern`).
    pub exclusion: bool,
    /// Approvals required by the entry's section header (`[Section][2]`); at least 1.
    pub approvals_required: u32,
    matcher: Matcher,
}

impl Rule {
    /// Whether the rule's pattern matches `path` (relative to the repository root, `/`-separated).
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.matches(path.trim_start_matches('/'))
    }
}

/// A GitLab section; sections with the same name (ignoring case) are one section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name as written in its first header.
    pub name: String,
    /// Optional unless one of its entries (or, without entries, one of its headers) is required.
    pub optional: bool,
    /// The largest approval count among its headers (each rule carries its own header's count).
    pub approvals_required: u32,
    /// The valid default owners of its first header that names any.
    pub default_owners: Vec<String>,
    /// 1-based line numbers of its headers.
    pub lines: Vec<usize>,
}

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone)]
pub struct CodeOwners {
    /// The dialect it was parsed in.
    pub dialect: Dialect,
    /// Every accepted entry, in file order (including GitLab entries later overridden by a repeat
    /// of the same pattern in the same section).
    pub rules: Vec<Rule>,
    /// Rejected or partly rejected lines.
    pub errors: Vec<ParseError>,
    /// GitLab's named sections in order of first appearance; always empty for GitHub.
    pub sections: Vec<Section>,
    tables: Vec<Table>,
}

/// The owners of one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// All owners, without repeats, in section and line order.
    pub owners: Vec<String>,
    /// 1-based lines of the rules that decided (one per deciding section in GitLab).
    pub rules: Vec<usize>,
    /// Some rule matched, but the result is that nobody owns the path (a GitHub line without owners,
    /// GitLab entries without owners, or GitLab exclusions).
    pub explicitly_unowned: bool,
    /// The decision of each section that had a matching entry (one unnamed entry for GitHub).
    pub sections: Vec<SectionOwnership>,
}

impl Ownership {
    /// Whether no rule matched the path at all.
    pub fn is_unmatched(&self) -> bool {
        self.rules.is_empty()
    }
}

/// What one section decided for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionOwnership {
    /// The section (`None` for GitHub and for GitLab entries outside any section).
    pub section: Option<String>,
    /// 1-based line of the deciding rule (for an exclusion, the exclusion's line).
    pub rule: usize,
    /// The owners this section contributes.
    pub owners: Vec<String>,
    /// A GitLab exclusion removed the path from this section.
    pub excluded: bool,
    /// The section is optional.
    pub optional: bool,
    /// Approvals the deciding rule's section header requires.
    pub approvals_required: u32,
}

/// GitLab's entries of one (merged) section, keyed by rewritten pattern in first-insertion order.
#[derive(Debug, Clone)]
struct Table {
    /// GitLab's hash key for the section ("codeowners" for the unnamed one).
    key: String,
    /// Index into `CodeOwners::sections`; `None` for the unnamed section.
    section: Option<usize>,
    /// (rewritten pattern, index into `CodeOwners::rules`).
    entries: Vec<(String, usize)>,
}

/// GitLab's name for the unnamed section.
const GITLAB_DEFAULT_SECTION: &str = "codeowners";

/// Parses a CODEOWNERS file in the given dialect. Never fails: bad lines go to
/// [`CodeOwners::errors`] and everything else is still used.
pub fn parse(text: &str, dialect: Dialect) -> CodeOwners {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match dialect {
        Dialect::GitHub => parse_github(text),
        Dialect::GitLab => parse_gitlab(text),
    }
}

impl CodeOwners {
    /// The owners of `path` (relative to the repository root, `/`-separated, no leading slash).
    pub fn owners_of(&self, path: &str) -> Ownership {
        let path = path.trim_start_matches('/');
        match self.dialect {
            Dialect::GitHub => self.github_owners_of(path),
            Dialect::GitLab => self.gitlab_owners_of(path),
        }
    }

    /// The named GitLab section called `name` (ignoring case).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| eq_ignore_case(&s.name, name))
    }

    fn github_owners_of(&self, path: &str) -> Ownership {
        let Some(rule) = self.rules.iter().rev().find(|r| r.matcher.matches(path)) else {
            return Ownership::default();
        };
        Ownership {
            owners: rule.owners.clone(),
            rules: vec![rule.line],
            explicitly_unowned: rule.owners.is_empty(),
            sections: vec![SectionOwnership {
                section: None,
                rule: rule.line,
                owners: rule.owners.clone(),
                excluded: false,
                optional: false,
                approvals_required: rule.approvals_required,
            }],
        }
    }

    fn gitlab_owners_of(&self, path: &str) -> Ownership {
        let mut result = Ownership::default();
        for table in &self.tables {
            let matching: Vec<&Rule> = table
                .entries
                .iter()
                .rev()
                .map(|(_, index)| &self.rules[*index])
                .filter(|rule| rule.matcher.matches(path))
                .collect();
            let Some(first) = matching.first() else {
                continue;
            };
            let section = table.section.map(|i| &self.sections[i]);
            let name = section.map(|s| s.name.clone());
            let optional = section.is_some_and(|s| s.optional);
            let decision = match matching.iter().find(|rule| rule.exclusion) {
                Some(exclusion) => SectionOwnership {
                    section: name,
                    rule: exclusion.line,
                    owners: Vec::new(),
                    excluded: true,
                    optional,
                    approvals_required: exclusion.approvals_required,
                },
                None => SectionOwnership {
                    section: name,
                    rule: first.line,
                    owners: first.owners.clone(),
                    excluded: false,
                    optional,
                    approvals_required: first.approvals_required,
                },
            };
            result.rules.push(decision.rule);
            for owner in &decision.owners {
                if !result.owners.contains(owner) {
                    result.owners.push(owner.clone());
                }
            }
            result.sections.push(decision);
        }
        result.explicitly_unowned = !result.rules.is_empty() && result.owners.is_empty();
        result
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    GitHub(GhPattern),
    GitLab(Vec<FnSeg>),
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::GitHub(pattern) => pattern.matches(path),
            Matcher::GitLab(segs) => {
                let rooted = format!("/{path}");
                let path: Vec<Vec<char>> = rooted.split('/').map(|s| s.chars().collect()).collect();
                fnmatch_segments(segs, &path, 0, 0)
            }
        }
    }
}

fn quote_list(items: &[&str]) -> String {
    items.iter().map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}
