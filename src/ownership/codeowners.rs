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

use std::fmt;
use std::path::{Path, PathBuf};

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

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

fn parse_github(text: &str) -> CodeOwners {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |message: String| ParseError { line: line_no, text: line.to_string(), message };
        let tokens = split_unescaped_whitespace(line);
        let pattern = tokens[0].clone();
        let matcher = match compile_github(&pattern) {
            Ok(matcher) => matcher,
            Err(message) => {
                errors.push(error(format!("{message}; GitHub skips this line")));
                continue;
            }
        };
        // `#` after whitespace starts an inline comment (GitHub's own example file uses one).
        let owner_tokens: Vec<&String> = tokens[1..].iter().take_while(|token| !token.starts_with('#')).collect();
        let invalid: Vec<&str> =
            owner_tokens.iter().filter(|token| !is_github_owner(token)).map(|token| token.as_str()).collect();
        if !invalid.is_empty() {
            errors.push(error(format!(
                "invalid owner {} (owners are @user, @org/team or an e-mail address); GitHub skips \
                 this line",
                quote_list(&invalid)
            )));
            continue;
        }
        let mut owners: Vec<String> = Vec::new();
        for token in owner_tokens {
            if !owners.contains(token) {
                owners.push(token.clone());
            }
        }
        rules.push(Rule {
            line: line_no,
            pattern,
            owners,
            section: None,
            optional: false,
            exclusion: false,
            approvals_required: 1,
            matcher: Matcher::GitHub(matcher),
        });
    }
    CodeOwners { dialect: Dialect::GitHub, rules, errors, sections: Vec::new(), tables: Vec::new() }
}

/// Splits at whitespace that is not escaped with a backslash; backslashes stay in the tokens.
fn split_unescaped_whitespace(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            current.push(c);
            if let Some(next) = chars.next() {
                current.push(next);
            }
        } else if c.is_whitespace() {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn is_github_owner(token: &str) -> bool {
    if let Some(name) = token.strip_prefix('@') {
        let is_user_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        return match name.split_once('/') {
            Some((org, team)) => {
                !org.is_empty()
                    && org.chars().all(is_user_char)
                    && !team.is_empty()
                    && team.chars().all(|c| is_user_char(c) || c == '.')
            }
            None => !name.is_empty() && name.chars().all(is_user_char),
        };
    }
    is_strict_email(token)
}

/// `local@domain.tld` with the characters GitHub accepts in e-mail owners.
fn is_strict_email(token: &str) -> bool {
    let Some((local, domain)) = token.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c));
    let domain_ok = domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        });
    local_ok && domain_ok
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GhSeg {
    /// `**` at the start or in the middle: zero or more directories.
    AnyDirs,
    /// `**` at the end (or a trailing `/`): one or more further path segments.
    Below,
    /// One path segment; a lone `*` (`lone_star`) in last place matches direct children only.
    Glob { toks: Vec<Tok>, lone_star: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GhPattern {
    segs: Vec<GhSeg>,
    /// A match of all segments also covers everything below it.
    descendants: bool,
}

fn compile_github(pattern: &str) -> Result<GhPattern, String> {
    if pattern.starts_with('!') {
        return Err("negation with `!` is not supported in GitHub CODEOWNERS".into());
    }
    if pattern.starts_with("\\#") {
        return Err("escaping a leading `#` with `\\` is not supported in GitHub CODEOWNERS".into());
    }
    if has_unescaped(pattern, &['[', ']']) {
        return Err("character ranges with `[ ]` are not supported in GitHub CODEOWNERS".into());
    }
    let anchored_by_slash = pattern.starts_with('/');
    let mut body = pattern.strip_prefix('/').unwrap_or(pattern);
    let directory = body.ends_with('/') && !body.ends_with("\\/");
    if directory {
        body = &body[..body.len() - 1];
    }
    if body.is_empty() {
        // `/` alone: a pattern for nothing (GitHub has no file at the empty path).
        return Ok(GhPattern {
            segs: vec![GhSeg::Glob { toks: vec![Tok::Never], lone_star: false }],
            descendants: false,
        });
    }
    let raw: Vec<&str> = body.split('/').collect();
    let mut segs: Vec<GhSeg> = Vec::new();
    // Without a slash at the start or in the middle, a pattern matches at any depth.
    if !anchored_by_slash && raw.len() == 1 && raw[0] != "**" {
        segs.push(GhSeg::AnyDirs);
    }
    let last = raw.len() - 1;
    for (i, seg) in raw.iter().enumerate() {
        segs.push(match *seg {
            "**" if i == last && !directory => GhSeg::Below,
            "**" => GhSeg::AnyDirs,
            "*" => GhSeg::Glob { toks: vec![Tok::Star], lone_star: true },
            other => GhSeg::Glob { toks: simple_glob(other), lone_star: false },
        });
    }
    if directory {
        segs.push(GhSeg::Below);
    }
    let descendants = matches!(segs.last(), Some(GhSeg::Glob { lone_star: false, .. }));
    Ok(GhPattern { segs, descendants })
}

fn has_unescaped(pattern: &str, wanted: &[char]) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if wanted.contains(&c) {
            return true;
        }
    }
    false
}

impl GhPattern {
    fn matches(&self, path: &str) -> bool {
        let segs: Vec<Vec<char>> = path.split('/').map(|s| s.chars().collect()).collect();
        self.match_from(0, &segs, 0)
    }

    fn match_from(&self, pi: usize, path: &[Vec<char>], si: usize) -> bool {
        let Some(seg) = self.segs.get(pi) else {
            return si == path.len() || (self.descendants && si < path.len());
        };
        match seg {
            GhSeg::AnyDirs => (si..=path.len()).any(|k| self.match_from(pi + 1, path, k)),
            GhSeg::Below => si < path.len(),
            GhSeg::Glob { toks, .. } => {
                si < path.len() && glob_match(toks, &path[si]) && self.match_from(pi + 1, path, si + 1)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GitLab
// ---------------------------------------------------------------------------------------------

/// The section the following GitLab entries belong to, as its latest header declared it.
struct Current {
    table: usize,
    optional: bool,
    approvals_required: u32,
    default_owners: Vec<String>,
    defaults_blank: bool,
}

fn parse_gitlab(text: &str) -> CodeOwners {
    let mut rules: Vec<Rule> = Vec::new();
    let mut errors: Vec<ParseError> = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    // Per named section: whether each of its headers was optional.
    let mut header_optional: Vec<Vec<bool>> = Vec::new();
    let mut tables = vec![Table { key: GITLAB_DEFAULT_SECTION.to_string(), section: None, entries: Vec::new() }];
    let mut current =
        Current { table: 0, optional: false, approvals_required: 1, default_owners: Vec::new(), defaults_blank: true };

    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut error = |message: String| errors.push(ParseError { line: line_no, text: line.to_string(), message });

        match parse_gitlab_header(line) {
            HeaderParse::NotHeader => {}
            HeaderParse::Unparsable => {
                error("unparsable section header (no closing `]`); GitLab ignores this line".into());
                continue;
            }
            HeaderParse::Header(header) => {
                for message in &header.problems {
                    error(message.clone());
                }
                let (valid_defaults, _) = gitlab_owner_tokens(&header.default_owners);
                let table = find_or_add_table(&tables, &header.name);
                let table = match table {
                    Some(existing) => existing,
                    None => {
                        sections.push(Section {
                            name: header.name.clone(),
                            optional: header.optional,
                            approvals_required: header.approvals_required,
                            default_owners: valid_defaults.clone(),
                            lines: Vec::new(),
                        });
                        header_optional.push(Vec::new());
                        tables.push(Table {
                            key: header.name.clone(),
                            section: Some(sections.len() - 1),
                            entries: Vec::new(),
                        });
                        tables.len() - 1
                    }
                };
                if let Some(s) = tables[table].section {
                    let section = &mut sections[s];
                    section.lines.push(line_no);
                    section.approvals_required = section.approvals_required.max(header.approvals_required);
                    if section.default_owners.is_empty() {
                        section.default_owners = valid_defaults.clone();
                    }
                    header_optional[s].push(header.optional);
                }
                current = Current {
                    table,
                    optional: header.optional,
                    approvals_required: header.approvals_required,
                    default_owners: valid_defaults,
                    defaults_blank: header.default_owners.trim().is_empty(),
                };
                continue;
            }
        }

        // An entry: the pattern ends at the first whitespace not escaped by a backslash.
        let (mut pattern, owners_text) = split_gitlab_entry(line);
        let exclusion = pattern.starts_with('!');
        if exclusion {
            pattern = &pattern[1..];
        }
        let owners = if exclusion {
            // GitLab ignores whatever follows an exclusion pattern.
            Vec::new()
        } else {
            let (valid, invalid) = gitlab_owner_tokens(owners_text);
            if !invalid.is_empty() {
                error(format!(
                    "malformed owner {} (owners are @user, @group/subgroup, @@role or an e-mail \
                     address); GitLab ignores it",
                    quote_list(&invalid)
                ));
            }
            if owners_text.trim().is_empty() {
                if current.defaults_blank {
                    error(
                        "entry without owners and no section default owners; GitLab treats it as \
                         unowned (auto-approved)"
                            .into(),
                    );
                }
                current.default_owners.clone()
            } else {
                valid
            }
        };
        let key = gitlab_normalize(pattern);
        let table = &tables[current.table];
        let section = table.section.map(|s| sections[s].name.clone());
        let rule = Rule {
            line: line_no,
            pattern: pattern.to_string(),
            owners,
            section,
            optional: current.optional,
            exclusion,
            approvals_required: current.approvals_required,
            matcher: Matcher::GitLab(compile_gitlab(&key)),
        };
        rules.push(rule);
        let rule_index = rules.len() - 1;
        let entries = &mut tables[current.table].entries;
        match entries.iter_mut().find(|(k, _)| *k == key) {
            // Like a Ruby hash: the later entry replaces the value but keeps the first position.
            Some(slot) => slot.1 = rule_index,
            None => entries.push((key, rule_index)),
        }
    }

    // A section is optional only if all its entries are (GitLab's `optional_section?`); a section
    // without entries is judged by its headers.
    for table in &tables {
        let Some(s) = table.section else { continue };
        sections[s].optional = if table.entries.is_empty() {
            header_optional[s].iter().all(|&o| o)
        } else {
            table.entries.iter().all(|(_, i)| rules[*i].optional)
        };
    }

    CodeOwners { dialect: Dialect::GitLab, rules, errors, sections, tables }
}

/// GitLab's lookup of a header's section: exact until a named section exists, then ignoring case
/// against all sections seen so far (including the unnamed "codeowners" one). `None`: a new section.
fn find_or_add_table(tables: &[Table], name: &str) -> Option<usize> {
    if tables.len() == 1 {
        return tables.iter().position(|t| t.key == name);
    }
    tables.iter().position(|t| eq_ignore_case(&t.key, name))
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[derive(Debug)]
struct Header {
    name: String,
    optional: bool,
    approvals_required: u32,
    default_owners: String,
    problems: Vec<String>,
}

#[derive(Debug)]
enum HeaderParse {
    NotHeader,
    Unparsable,
    Header(Header),
}

/// GitLab's section header: `^?[name]([approvals])?( default owners)?`, anchored at the start only.
fn parse_gitlab_header(line: &str) -> HeaderParse {
    let optional = line.starts_with('^');
    let rest = if optional { &line[1..] } else { line };
    let Some(rest) = rest.strip_prefix('[') else {
        return HeaderParse::NotHeader;
    };
    let Some(close) = rest.find(']') else {
        return HeaderParse::Unparsable;
    };
    let name = &rest[..close];
    let mut after = &rest[close + 1..];

    let mut raw_approvals: Option<&str> = None;
    if let Some(inner) = after.strip_prefix('[')
        && let Some(end) = inner.find(']')
        && inner[..end].chars().all(|c| c.is_whitespace() || c.is_ascii_digit())
    {
        raw_approvals = Some(&inner[..end]);
        after = &inner[end + 1..];
    }

    let owner_len = after
        .char_indices()
        .find(|&(_, c)| !(c.is_whitespace() || c.is_ascii_alphanumeric() || "@_.-/".contains(c)))
        .map_or(after.len(), |(i, _)| i);
    let default_owners = &after[..owner_len];
    let trailing = &after[owner_len..];

    let approvals = raw_approvals.map_or(0, |raw| {
        let digits: String = raw.trim_start().chars().take_while(char::is_ascii_digit).collect();
        // Ruby's `to_i`: no digits is 0, and a huge count saturates.
        if digits.is_empty() { 0 } else { digits.parse::<u32>().unwrap_or(u32::MAX) }
    });

    let mut problems = Vec::new();
    if name.trim().is_empty() {
        problems.push("section header without a name".to_string());
    }
    if let Some(raw) = raw_approvals {
        let integer = !raw.trim().is_empty() && raw.trim().chars().all(|c| c.is_ascii_digit());
        if !integer {
            problems.push(format!("invalid approval count `[{raw}]`; GitLab requires 1 approval"));
        } else if optional && approvals > 0 {
            problems.push("an optional section cannot require approvals; the count is not enforced".into());
        }
    }
    let (_, invalid_defaults) = gitlab_owner_tokens(default_owners);
    if !invalid_defaults.is_empty() {
        problems.push(format!("malformed default owner {}; GitLab ignores it", quote_list(&invalid_defaults)));
    }
    if problems.is_empty() {
        let strict = raw_approvals.is_none_or(|raw| raw.chars().all(|c| c.is_ascii_digit()))
            && raw_approvals.is_none_or(|raw| !raw.is_empty())
            && trailing.is_empty()
            && (default_owners.is_empty() || default_owners.starts_with(char::is_whitespace));
        if !strict {
            problems.push(format!("section header with unexpected text; GitLab uses it as `[{name}]`"));
        }
    }

    HeaderParse::Header(Header {
        name: name.to_string(),
        optional,
        approvals_required: approvals.max(1),
        default_owners: default_owners.to_string(),
        problems,
    })
}

/// Splits an entry line like Ruby's `line.partition(/(?<!\\)\s+/)`: the pattern, then the rest after
/// the first run of whitespace that does not follow a backslash.
fn split_gitlab_entry(line: &str) -> (&str, &str) {
    let mut previous: Option<char> = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() && previous != Some('\\') {
            let rest = line[i..].trim_start();
            return (&line[..i], rest);
        }
        previous = Some(c);
    }
    (line, "")
}

/// The valid and the malformed owners among the whitespace-separated tokens of `text`.
fn gitlab_owner_tokens(text: &str) -> (Vec<String>, Vec<&str>) {
    let mut valid: Vec<String> = Vec::new();
    let mut invalid = Vec::new();
    for token in text.split_whitespace() {
        if is_gitlab_owner(token) {
            if !valid.iter().any(|v| v == token) {
                valid.push(token.to_string());
            }
        } else {
            invalid.push(token);
        }
    }
    (valid, invalid)
}

fn is_gitlab_owner(token: &str) -> bool {
    if let Some(role) = token.strip_prefix("@@") {
        let role = role.to_ascii_lowercase();
        let role = role.strip_suffix('s').unwrap_or(&role);
        return matches!(role, "developer" | "maintainer" | "owner");
    }
    if let Some(path) = token.strip_prefix('@') {
        // A user, group or nested group path.
        return !path.is_empty()
            && path.split('/').all(|segment| {
                let mut chars = segment.chars();
                chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                    && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            });
    }
    // GitLab's e-mail pattern: something@something, ending in a word character.
    match token.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// GitLab's `normalize_pattern`: the rewritten pattern that is matched, and the entry's hash key.
fn gitlab_normalize(pattern: &str) -> String {
    if pattern == "*" {
        return "/**/*".to_string();
    }
    let mut p = match pattern.strip_prefix("\\#") {
        Some(rest) => format!("#{rest}"),
        None => pattern.to_string(),
    };
    p = unescape_whitespace(&p);
    if !p.starts_with('/') {
        p = format!("/**/{p}");
    }
    if p.ends_with('/') {
        p.push_str("**/*");
    }
    p
}

/// Replaces a backslash followed by whitespace with one space (Ruby `gsub(/\\\s+/, ' ')`).
fn unescape_whitespace(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| n.is_whitespace()) {
            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FnSeg {
    /// `**/`: zero or more directories.
    Globstar,
    /// One path segment.
    Glob(Vec<Tok>),
}

fn compile_gitlab(normalized: &str) -> Vec<FnSeg> {
    let raw: Vec<&str> = normalized.split('/').collect();
    let last = raw.len() - 1;
    raw.iter()
        .enumerate()
        .map(|(i, seg)| {
            // `**` is a globstar only when a `/` follows; otherwise it is a plain `*`.
            if *seg == "**" && i != last { FnSeg::Globstar } else { FnSeg::Glob(fnmatch_glob(seg)) }
        })
        .collect()
}

/// `File.fnmatch?(pattern, "/" + path, FNM_PATHNAME | FNM_DOTMATCH)`, segment by segment.
fn fnmatch_segments(pattern: &[FnSeg], path: &[Vec<char>], pi: usize, si: usize) -> bool {
    let Some(seg) = pattern.get(pi) else {
        return si == path.len();
    };
    match seg {
        FnSeg::Globstar => (si..=path.len()).any(|k| fnmatch_segments(pattern, path, pi + 1, k)),
        FnSeg::Glob(toks) => {
            si < path.len() && glob_match(toks, &path[si]) && fnmatch_segments(pattern, path, pi + 1, si + 1)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Globs within one path segment
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: any one character.
    One,
    /// `[...]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// An unclosed `[`: fnmatch never matches.
    Never,
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

/// `*`, `?` and `\` escapes (GitHub, where `[ ]` is rejected before this).
fn simple_glob(seg: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = seg.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            }
            '?' => toks.push(Tok::One),
            other => toks.push(Tok::Lit(other)),
        }
    }
    toks
}

/// Ruby's `fnmatch` segment syntax: `*`, `?`, `[...]` (with `!`/`^` negation and ranges) and `\`.
fn fnmatch_glob(seg: &str) -> Vec<Tok> {
    let chars: Vec<char> = seg.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                toks.push(Tok::Lit(chars[i + 1]));
                i += 2;
            }
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                toks.push(Tok::One);
                i += 1;
            }
            '[' => match bracket(&chars, i + 1) {
                Some((tok, next)) => {
                    toks.push(tok);
                    i = next;
                }
                None => {
                    toks.push(Tok::Never);
                    break;
                }
            },
            other => {
                toks.push(Tok::Lit(other));
                i += 1;
            }
        }
    }
    toks
}

/// Parses a bracket expression starting after `[`; `None` when it is not closed.
fn bracket(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let n = chars.len();
    let mut p = start;
    let mut negated = false;
    if p < n && (chars[p] == '!' || chars[p] == '^') {
        negated = true;
        p += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if p >= n {
            return None;
        }
        if chars[p] == ']' {
            return Some((Tok::Class { negated, ranges }, p + 1));
        }
        let mut low = chars[p];
        if low == '\\' {
            p += 1;
            low = *chars.get(p)?;
        }
        p += 1;
        if p + 1 < n && chars[p] == '-' && chars[p + 1] != ']' {
            let mut q = p + 1;
            let mut high = chars[q];
            if high == '\\' {
                q += 1;
                high = *chars.get(q)?;
            }
            ranges.push((low, high));
            p = q + 1;
        } else {
            ranges.push((low, low));
        }
    }
}

fn tok_matches(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => true,
        Tok::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        Tok::Star | Tok::Never => false,
    }
}

/// Matches one path segment against a glob (backtracking to the latest `*`).
fn glob_match(toks: &[Tok], s: &[char]) -> bool {
    let (mut t, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(tok) = toks.get(t) {
            if *tok == Tok::Star {
                star = Some((t, i));
                t += 1;
                continue;
            }
            if i < s.len() && tok_matches(tok, s[i]) {
                t += 1;
                i += 1;
                continue;
            }
        } else if i == s.len() {
            return true;
        }
        match star {
            Some((st, si)) if si < s.len() => {
                star = Some((st, si + 1));
                t = st + 1;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

fn quote_list(items: &[&str]) -> String {
    items.iter().map(|item| format!("`{item}`")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dialect::{GitHub, GitLab};

    /// What a conformance case expects for its path.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        /// These owners, in this order.
        Owners(&'static [&'static str]),
        /// A rule matched, but nobody owns the path.
        ExplicitlyUnowned,
        /// No rule matched.
        Unmatched,
    }
    use Expect::{ExplicitlyUnowned, Owners, Unmatched};

    /// One conformance case: the documentation example it comes from, the dialect, the file, the
    /// path and what the forge gives for it.
    struct Case {
        doc: &'static str,
        dialect: Dialect,
        file: &'static str,
        path: &'static str,
        expect: Expect,
    }

    const fn case(doc: &'static str, dialect: Dialect, file: &'static str, path: &'static str, expect: Expect) -> Case {
        Case { doc, dialect, file, path, expect }
    }

    // GitLab "Sections" example: an unnamed section plus two README sections.
    const GL_README_SECTIONS: &str = "* @admin\n\n[README Owners]\nREADME.md @user1 @user2\n\
                                      internal/README.md @user4\n\n[README other owners]\n\
                                      README.md @user3\n";
    // GitLab "Set default Code Owner for a section" example.
    const GL_DEFAULT_OWNERS: &str = "[Documentation] @docs-team\ndocs/\nREADME.md\n\n\
                                     [Database] @database-team @agarcia\nmodel/db/\n\
                                     config/db/database-setup.md @docs-team\n";
    // GitLab "Regular entries and sections" example.
    const GL_REGULAR_AND_SECTIONS: &str = "* @general-approvers\n\n[Documentation] @docs-team\n\
                                           docs/\nREADME.md\n*.txt\n\n[Database] @database-team\n\
                                           model/db/\nconfig/db/database-setup.md @docs-team\n";
    // GitLab "Exclusion patterns" example.
    const GL_EXCLUSIONS: &str = "* @username\n!pom.xml\n\n[Ruby]\n*.rb @ruby-team\n\
                                 !/config/**/*.rb\n";
    // GitLab "Sections with duplicate names" example.
    const GL_DUPLICATE_SECTIONS: &str = "[Documentation]\nee/docs/ @docs\ndocs/ @docs\n\n\
                                         [Database]\nREADME.md @database\nmodel/db/ @database\n\n\
                                         [DOCUMENTATION]\nREADME.md @docs\n";

    const CASES: &[Case] = &[
        // ----- GitHub, "About code owners" → "Example of a CODEOWNERS file" -----
        case(
            "GH example: `*` sets the default owners",
            GitHub,
            "* @global-owner1 @global-owner2\n",
            "src/main.rs",
            Owners(&["@global-owner1", "@global-owner2"]),
        ),
        case(
            "GH example: last matching pattern wins (`*.js` after `*`)",
            GitHub,
            "* @global-owner1\n*.js @js-owner\n",
            "web/app.js",
            Owners(&["@js-owner"]),
        ),
        case(
            "GH example: earlier `*` still owns what `*.js` does not match",
            GitHub,
            "* @global-owner1\n*.js @js-owner\n",
            "README.md",
            Owners(&["@global-owner1"]),
        ),
        case(
            "GH example: `*.js @js-owner #This is an inline comment.`",
            GitHub,
            "*.js @js-owner #an inline comment @not-an-owner\n",
            "index.js",
            Owners(&["@js-owner"]),
        ),
        case(
            "GH example: e-mail owner for `*.go`",
            GitHub,
            "*.go docs@example.com\n",
            "cmd/tool/main.go",
            Owners(&["docs@example.com"]),
        ),
        case(
            "GH example: team owner `@octo-org/octocats` for `*.txt`",
            GitHub,
            "*.txt @octo-org/octocats\n",
            "notes/todo.txt",
            Owners(&["@octo-org/octocats"]),
        ),
        case(
            "GH example: `/build/logs/` owns files in build/logs",
            GitHub,
            "/build/logs/ @doctocat\n",
            "build/logs/today.log",
            Owners(&["@doctocat"]),
        ),
        case(
            "GH example: `/build/logs/` owns its subdirectories too",
            GitHub,
            "/build/logs/ @doctocat\n",
            "build/logs/2024/01/today.log",
            Owners(&["@doctocat"]),
        ),
        case(
            "GH example: `/build/logs/` is anchored to the root",
            GitHub,
            "/build/logs/ @doctocat\n",
            "tools/build/logs/today.log",
            Unmatched,
        ),
        case(
            "GH example: `docs/*` matches docs/getting-started.md",
            GitHub,
            "docs/* docs@example.com\n",
            "docs/getting-started.md",
            Owners(&["docs@example.com"]),
        ),
        case(
            "GH example: `docs/*` does not match docs/build-app/troubleshooting.md",
            GitHub,
            "docs/* docs@example.com\n",
            "docs/build-app/troubleshooting.md",
            Unmatched,
        ),
        case(
            "GH gitignore rule: `docs/*` has a middle slash, so it is anchored to the root",
            GitHub,
            "docs/* docs@example.com\n",
            "site/docs/getting-started.md",
            Unmatched,
        ),
        case(
            "GH example: `apps/` owns an apps directory anywhere",
            GitHub,
            "apps/ @octocat\n",
            "services/apps/api/main.py",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `apps/` owns the root apps directory as well",
            GitHub,
            "apps/ @octocat\n",
            "apps/web/index.html",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `/docs/` owns docs at the root and its subdirectories",
            GitHub,
            "/docs/ @doctocat\n",
            "docs/guides/setup.md",
            Owners(&["@doctocat"]),
        ),
        case(
            "GH example: `/docs/` does not match a nested docs directory",
            GitHub,
            "/docs/ @doctocat\n",
            "packages/docs/setup.md",
            Unmatched,
        ),
        case(
            "GH example: `/scripts/ @doctocat @octocat` needs either owner",
            GitHub,
            "/scripts/ @doctocat @octocat\n",
            "scripts/release.sh",
            Owners(&["@doctocat", "@octocat"]),
        ),
        case(
            "GH example: `**/logs` owns /build/logs",
            GitHub,
            "**/logs @octocat\n",
            "build/logs/out.txt",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `**/logs` owns /deeply/nested/logs",
            GitHub,
            "**/logs @octocat\n",
            "deeply/nested/logs/out.txt",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `**/logs` owns a logs directory at the root",
            GitHub,
            "**/logs @octocat\n",
            "logs/out.txt",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `/apps/github` without owners leaves it unowned",
            GitHub,
            "/apps/ @octocat\n/apps/github\n",
            "apps/github/main.go",
            ExplicitlyUnowned,
        ),
        case(
            "GH example: the rest of /apps stays with @octocat",
            GitHub,
            "/apps/ @octocat\n/apps/github\n",
            "apps/gitlab/main.go",
            Owners(&["@octocat"]),
        ),
        case(
            "GH example: `/apps/github @doctocat` overrides `/apps/ @octocat`",
            GitHub,
            "/apps/ @octocat\n/apps/github @doctocat\n",
            "apps/github/main.go",
            Owners(&["@doctocat"]),
        ),
        case(
            "GH syntax: `*.js` matches at any depth",
            GitHub,
            "*.js @js-owner\n",
            "a/b/c/d.js",
            Owners(&["@js-owner"]),
        ),
        case(
            "GH syntax: paths are case sensitive (`/Docs/` vs docs/)",
            GitHub,
            "/Docs/ @doctocat\n",
            "docs/index.md",
            Unmatched,
        ),
        case("GH syntax: paths are case sensitive (`*.JS` vs .js)", GitHub, "*.JS @js-owner\n", "app.js", Unmatched),
        case(
            "GH syntax exception: `!` negation is an error, the line is skipped",
            GitHub,
            "* @global-owner1\n!*.md @docs-owner\n",
            "README.md",
            Owners(&["@global-owner1"]),
        ),
        case(
            "GH syntax exception: `[ ]` ranges are an error, the line is skipped",
            GitHub,
            "* @global-owner1\n*.[ch] @c-owner\n",
            "src/main.c",
            Owners(&["@global-owner1"]),
        ),
        case(
            "GH syntax exception: `\\#` escaping does not work, the line is skipped",
            GitHub,
            "* @global-owner1\n\\#file.rb @pound-owner\n",
            "#file.rb",
            Owners(&["@global-owner1"]),
        ),
        case(
            "GH syntax: a line with an invalid owner is skipped entirely",
            GitHub,
            "* @global-owner1\n*.rs @rust-owner not-an-owner\n",
            "src/lib.rs",
            Owners(&["@global-owner1"]),
        ),
        case(
            "GH syntax: invalid lines are skipped, later lines still apply",
            GitHub,
            "/docs/ @doctocat\n[Docs]\n*.md @md-owner\n",
            "docs/index.md",
            Owners(&["@md-owner"]),
        ),
        case(
            "GH gitignore rule: `*` also matches dotfiles",
            GitHub,
            "* @global-owner1\n",
            ".github/workflows/ci.yml",
            Owners(&["@global-owner1"]),
        ),
        // ----- GitLab, "Syntax of CODEOWNERS file" and "Advanced CODEOWNERS configuration" -----
        case(
            "GL syntax example: `* @default-owner`",
            GitLab,
            "* @default-owner\n",
            "lib/a/b.rb",
            Owners(&["@default-owner"]),
        ),
        case(
            "GL syntax example: `README.md @doc-team @tech-lead`",
            GitLab,
            "README.md @doc-team @tech-lead\n",
            "README.md",
            Owners(&["@doc-team", "@tech-lead"]),
        ),
        case(
            "GL relative paths: `README.md` matches /app/lib/README.md",
            GitLab,
            "README.md @username\n",
            "app/lib/README.md",
            Owners(&["@username"]),
        ),
        case(
            "GL relative paths: `internal/README.md` matches /docs/api/internal/README.md",
            GitLab,
            "internal/README.md @username\n",
            "docs/api/internal/README.md",
            Owners(&["@username"]),
        ),
        case(
            "GL absolute paths: `/README.md` matches only the root README.md",
            GitLab,
            "/README.md @username\n",
            "docs/README.md",
            Unmatched,
        ),
        case(
            "GL syntax example: `LICENSE @legal janedoe@gitlab.com`",
            GitLab,
            "LICENSE @legal janedoe@gitlab.com\n",
            "LICENSE",
            Owners(&["@legal", "janedoe@gitlab.com"]),
        ),
        case(
            "GL syntax example: groups and nested groups",
            GitLab,
            "README @group @group/with-nested/subgroup\n",
            "README",
            Owners(&["@group", "@group/with-nested/subgroup"]),
        ),
        case(
            "GL directory paths: `/docs/` matches docs and its subdirectories",
            GitLab,
            "/docs/ @all-docs\n",
            "docs/api/graphql/index.md",
            Owners(&["@all-docs"]),
        ),
        case(
            "GL old example file: `/docs/*` matches docs/index.md",
            GitLab,
            "/docs/* @root-docs\n",
            "docs/index.md",
            Owners(&["@root-docs"]),
        ),
        case(
            "GL old example file: `/docs/*` does not match docs/projects/index.md",
            GitLab,
            "/docs/* @root-docs\n",
            "docs/projects/index.md",
            Unmatched,
        ),
        case(
            "GL relative paths: unanchored `docs/*` matches a docs directory at any depth",
            GitLab,
            "docs/* @root-docs\n",
            "site/docs/index.md",
            Owners(&["@root-docs"]),
        ),
        case(
            "GL relative paths: unanchored `docs/*` still does not match nested files",
            GitLab,
            "docs/* @root-docs\n",
            "site/docs/projects/index.md",
            Unmatched,
        ),
        case(
            "GL globstar paths: `/docs/**/index.md` matches /docs/api/graphql/index.md",
            GitLab,
            "/docs/**/index.md @index-docs\n",
            "docs/api/graphql/index.md",
            Owners(&["@index-docs"]),
        ),
        case(
            "GL globstar paths: `/docs/**/index.md` matches /docs/index.md",
            GitLab,
            "/docs/**/index.md @index-docs\n",
            "docs/index.md",
            Owners(&["@index-docs"]),
        ),
        case(
            "GL pattern matching: `**/*.rb` matches app/controllers/users/stars_controller.rb",
            GitLab,
            "**/*.rb @ruby\n",
            "app/controllers/users/stars_controller.rb",
            Owners(&["@ruby"]),
        ),
        case(
            "GL wildcard paths: `/docs/*.md` does not match docs/api/index.md",
            GitLab,
            "/docs/*.md @username\n",
            "docs/api/index.md",
            Unmatched,
        ),
        case(
            "GL wildcard paths: `/docs/*/README.md` matches /docs/api/README.md",
            GitLab,
            "/docs/*/README.md @username\n",
            "docs/api/README.md",
            Owners(&["@username"]),
        ),
        case(
            "GL wildcard paths: `/docs/*spec*` matches /docs/qa_specs.rb",
            GitLab,
            "/docs/*spec* @username\n",
            "docs/qa_specs.rb",
            Owners(&["@username"]),
        ),
        case(
            "GL old example file: `lib/` matches a lib directory nested anywhere",
            GitLab,
            "lib/ @lib-owner\n",
            "gems/tool/lib/tool.rb",
            Owners(&["@lib-owner"]),
        ),
        case(
            "GL old example file: `/config/` matches only the root config directory",
            GitLab,
            "/config/ @config-owner\n",
            "ee/config/settings.yml",
            Unmatched,
        ),
        case(
            "GL entries with spaces: `path\\ with\\ spaces/`",
            GitLab,
            "path\\ with\\ spaces/ @space-owner\n",
            "path with spaces/notes.md",
            Owners(&["@space-owner"]),
        ),
        case(
            "GL old example file: `\\#file_with_pound.rb`",
            GitLab,
            "\\#file_with_pound.rb @owner-file-with-pound\n",
            "#file_with_pound.rb",
            Owners(&["@owner-file-with-pound"]),
        ),
        case(
            "GL pattern matching: FNM_DOTMATCH lets `*` match dotfiles",
            GitLab,
            "* @default-owner\n",
            ".gitignore",
            Owners(&["@default-owner"]),
        ),
        case("GL pattern matching: fnmatch is case sensitive", GitLab, "*.MD @docs\n", "README.md", Unmatched),
        case(
            "GL pattern matching: fnmatch `[ ]` classes work in GitLab",
            GitLab,
            "*.[ch] @c-owner\n",
            "src/main.h",
            Owners(&["@c-owner"]),
        ),
        case(
            "GL pattern matching: `docs` without `/` is a file pattern under fnmatch",
            GitLab,
            "docs @docs\n",
            "docs/index.md",
            Unmatched,
        ),
        case(
            "GL define specific owners: `terms.md @legal-team` after `*.md @doc-team`",
            GitLab,
            "*.md @doc-team\nterms.md @legal-team\n",
            "terms.md",
            Owners(&["@legal-team"]),
        ),
        case(
            "GL sections example: root README.md has owners from all three sections",
            GitLab,
            GL_README_SECTIONS,
            "README.md",
            Owners(&["@admin", "@user1", "@user2", "@user3"]),
        ),
        case(
            "GL sections example: internal/README.md takes the last entry of [README Owners]",
            GitLab,
            GL_README_SECTIONS,
            "internal/README.md",
            Owners(&["@admin", "@user4", "@user3"]),
        ),
        case(
            "GL section default owners: docs/ inherits @docs-team",
            GitLab,
            GL_DEFAULT_OWNERS,
            "docs/install.md",
            Owners(&["@docs-team"]),
        ),
        case(
            "GL section default owners: model/db/ inherits both [Database] defaults",
            GitLab,
            GL_DEFAULT_OWNERS,
            "model/db/schema.rb",
            Owners(&["@database-team", "@agarcia"]),
        ),
        case(
            "GL section default owners: a line's own owners override the defaults",
            GitLab,
            GL_DEFAULT_OWNERS,
            "config/db/database-setup.md",
            Owners(&["@docs-team"]),
        ),
        case(
            "GL regular entries and sections: model/db/CHANGELOG.txt needs three groups",
            GitLab,
            GL_REGULAR_AND_SECTIONS,
            "model/db/CHANGELOG.txt",
            Owners(&["@general-approvers", "@docs-team", "@database-team"]),
        ),
        case(
            "GL optional sections: `^[Go]` entries still name owners",
            GitLab,
            "[Documentation]\n*.md @root\n\n[Ruby]\n*.rb @root\n\n^[Go]\n*.go @gopher\n",
            "cmd/main.go",
            Owners(&["@gopher"]),
        ),
        case(
            "GL multiple approvals: `[Documentation][2]` entries name owners as usual",
            GitLab,
            "[Documentation][2]\n*.md @tech-writer-team\n\n[Ruby]\n*.rb @dev-team\n",
            "docs/guide.md",
            Owners(&["@tech-writer-team"]),
        ),
        case(
            "GL duplicate sections: [Documentation] and [DOCUMENTATION] are combined",
            GitLab,
            GL_DUPLICATE_SECTIONS,
            "README.md",
            Owners(&["@docs", "@database"]),
        ),
        case(
            "GL duplicate sections: merged, so the later block's entry wins in the section",
            GitLab,
            "[Docs]\n*.md @writers\n\n[Ruby]\n*.rb @rubyists\n\n[DOCS]\nREADME.md @readme-owner\n",
            "README.md",
            Owners(&["@readme-owner"]),
        ),
        case(
            "GL exclusion patterns: `!pom.xml` needs no approval",
            GitLab,
            GL_EXCLUSIONS,
            "pom.xml",
            ExplicitlyUnowned,
        ),
        case(
            "GL exclusion patterns: Ruby files outside config need both sections",
            GitLab,
            GL_EXCLUSIONS,
            "app/models/user.rb",
            Owners(&["@username", "@ruby-team"]),
        ),
        case(
            "GL exclusion patterns: `!/config/**/*.rb` only affects the Ruby section",
            GitLab,
            GL_EXCLUSIONS,
            "config/initializers/session.rb",
            Owners(&["@username"]),
        ),
        case(
            "GL exclusions are evaluated in order: a later `/special/*.rb` does not take effect",
            GitLab,
            "* @default-owner\n!*.rb\n/special/*.rb @ruby-owner\n",
            "special/tool.rb",
            ExplicitlyUnowned,
        ),
        case(
            "GL exclusions: an excluded file cannot be included again in the same section",
            GitLab,
            "[Ruby]\n*.rb @ruby-team\n!/config/**/*.rb\n/config/routes.rb @ops\n",
            "config/routes.rb",
            ExplicitlyUnowned,
        ),
        case(
            "GL exclusions: other sections still apply to an excluded file",
            GitLab,
            "[Ruby]\n*.rb @ruby-team\n!/config/**/*.rb\n\n[Config]\n/config/ @ops-team\n",
            "config/app.rb",
            Owners(&["@ops-team"]),
        ),
        case(
            "GL exclusions: `!**/generated/` excludes generated directories",
            GitLab,
            "* @default-owner\n!package-lock.json\n!**/generated/\n",
            "src/generated/client.ts",
            ExplicitlyUnowned,
        ),
        case(
            "GL malformed owners: owned by @group and @user_with_at_symbol",
            GitLab,
            "/path/* @group user_without_at_symbol @user_with_at_symbol\n",
            "path/file.txt",
            Owners(&["@group", "@user_with_at_symbol"]),
        ),
        case(
            "GL zero owners: an entry without owners leaves the path unowned",
            GitLab,
            "* @default-owner\n/docs/\n",
            "docs/index.md",
            ExplicitlyUnowned,
        ),
        case(
            "GL unparsable sections: `[Section name` is reported, `docs/` still applies",
            GitLab,
            "* @group\n\n[Section name\ndocs/ @docs_group\n",
            "docs/index.md",
            Owners(&["@docs_group"]),
        ),
        case(
            "GL role owner: `/config/ @@maintainer`",
            GitLab,
            "/config/ @@maintainer\n",
            "config/app.yml",
            Owners(&["@@maintainer"]),
        ),
        case(
            "GL duplicated entry: the last one is used (owners of the repeat)",
            GitLab,
            "docs/ @first\ndocs/README.md @readme\ndocs/ @second\n",
            "docs/install.md",
            Owners(&["@second"]),
        ),
        case(
            "GL duplicated entry: a repeat keeps the first position, so a later entry still wins",
            GitLab,
            "docs/ @first\ndocs/README.md @readme\ndocs/ @second\n",
            "docs/README.md",
            Owners(&["@readme"]),
        ),
    ];

    #[test]
    fn conformance_table() {
        let mut failures = Vec::new();
        for case in CASES {
            let parsed = parse(case.file, case.dialect);
            let got = parsed.owners_of(case.path);
            let ok = match case.expect {
                Owners(owners) => got.owners == owners && !got.explicitly_unowned && !got.rules.is_empty(),
                ExplicitlyUnowned => got.owners.is_empty() && got.explicitly_unowned && !got.rules.is_empty(),
                Unmatched => got.rules.is_empty() && got.owners.is_empty(),
            };
            if !ok {
                failures.push(format!(
                    "{:?} {}: {} → expected {:?}, got {:?}",
                    case.dialect, case.doc, case.path, case.expect, got
                ));
            }
        }
        assert!(CASES.len() >= 40, "the table must hold at least 40 cases");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn error_lines(parsed: &CodeOwners) -> Vec<usize> {
        parsed.errors.iter().map(|e| e.line).collect()
    }

    #[test]
    fn candidate_orders_follow_the_docs() {
        assert_eq!(candidates(GitHub), [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]);
        assert_eq!(candidates(GitLab), ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"]);
    }

    #[test]
    fn locate_takes_the_first_existing_candidate() {
        let root = std::env::temp_dir().join(format!(
            "flowgauge-codeowners-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        for dir in ["", ".github", "docs", ".gitlab"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        assert_eq!(locate(&root, GitHub), None);
        assert_eq!(locate(&root, GitLab), None);

        for file in [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"] {
            std::fs::write(root.join(file), "* @someone\n").unwrap();
        }
        assert_eq!(locate(&root, GitHub), Some(root.join(".github/CODEOWNERS")));
        assert_eq!(locate(&root, GitLab), Some(root.join("CODEOWNERS")));

        std::fs::remove_file(root.join(".github/CODEOWNERS")).unwrap();
        std::fs::remove_file(root.join("CODEOWNERS")).unwrap();
        assert_eq!(locate(&root, GitHub), Some(root.join("docs/CODEOWNERS")));
        assert_eq!(locate(&root, GitLab), Some(root.join("docs/CODEOWNERS")));

        std::fs::remove_file(root.join("docs/CODEOWNERS")).unwrap();
        assert_eq!(locate(&root, GitHub), None, "GitHub never reads .gitlab/");
        assert_eq!(locate(&root, GitLab), Some(root.join(".gitlab/CODEOWNERS")));

        // A directory named CODEOWNERS is not a CODEOWNERS file.
        std::fs::create_dir_all(root.join("CODEOWNERS")).unwrap();
        assert_eq!(locate(&root, GitLab), Some(root.join(".gitlab/CODEOWNERS")));

        let (path, loaded) = load(&root, GitLab).unwrap().unwrap();
        assert_eq!(path, root.join(".gitlab/CODEOWNERS"));
        assert_eq!(loaded.owners_of("x").owners, ["@someone"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn github_reports_bad_lines_with_their_numbers_and_keeps_the_rest() {
        let text = "# comment\n\
                    * @global\n\
                    !*.md @docs\n\
                    *.[ch] @c\n\
                    \\#notes @pound\n\
                    *.rs @rust not-an-owner\n\
                    [Section]\n\
                    /apps/ @octocat\n\
                    /apps/github\n";
        let parsed = parse(text, GitHub);
        assert_eq!(error_lines(&parsed), [3, 4, 5, 6, 7]);
        assert!(parsed.errors[0].message.contains('!'));
        assert!(parsed.errors[1].message.contains("[ ]"));
        assert!(parsed.errors[3].message.contains("`not-an-owner`"));
        assert_eq!(parsed.errors[3].text, "*.rs @rust not-an-owner");
        assert_eq!(parsed.rules.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 8, 9]);
        assert_eq!(parsed.owners_of("lib.rs").owners, ["@global"]);
        assert_eq!(parsed.owners_of("apps/web/x").rules, [8]);
        let unowned = parsed.owners_of("apps/github/x");
        assert!(unowned.explicitly_unowned);
        assert_eq!(unowned.rules, [9]);
    }

    #[test]
    fn github_accepts_valid_owner_forms_and_inline_comments() {
        let parsed = parse("*.md @user @org/team-name user@example.com # @ignored\n/a/ # no owners\n", GitHub);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rules[0].owners, ["@user", "@org/team-name", "user@example.com"]);
        assert!(parsed.rules[1].owners.is_empty());
        assert!(parsed.owners_of("a/b.md").explicitly_unowned);
    }

    #[test]
    fn gitlab_reports_bad_lines_with_their_numbers_and_keeps_the_rest() {
        let text = "* @group\n\
                    \n\
                    [Section name\n\
                    LICENSE @legal this_does_not_match janedoe@gitlab.com\n\
                    /docs/\n\
                    []\n\
                    ^[Optional][2] @team\n\
                    [Bad][x]\n\
                    [Owners] not-an-owner\n\
                    *.rb @ruby\n";
        let parsed = parse(text, GitLab);
        assert_eq!(error_lines(&parsed), [3, 4, 5, 6, 7, 8, 9]);
        let messages: Vec<&str> = parsed.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages[0].contains("unparsable"));
        assert!(messages[1].contains("`this_does_not_match`"));
        assert!(messages[2].contains("without owners"));
        assert!(messages[3].contains("without a name"));
        assert!(messages[4].contains("optional"));
        assert!(messages[5].contains("unexpected text"));
        assert!(messages[6].contains("`not-an-owner`"));
        assert_eq!(parsed.errors[1].text, "LICENSE @legal this_does_not_match janedoe@gitlab.com");

        // The broken lines do not stop the others from applying.
        let license = parsed.owners_of("LICENSE");
        assert_eq!(license.owners, ["@legal", "janedoe@gitlab.com"]);
        assert_eq!(license.rules, [4]);
        assert_eq!(parsed.owners_of("lib/a.rb").owners, ["@group", "@ruby"]);
        assert!(parsed.owners_of("docs/a.md").explicitly_unowned);
        assert_eq!(parsed.section("owners").unwrap().default_owners, Vec::<String>::new());
    }

    #[test]
    fn gitlab_sections_record_optionality_and_approvals() {
        let text = "[Documentation][2] @docs-team\ndocs/\n\n^[Go]\n*.go @gopher\n\n\
                    [Ruby]\n*.rb @rubyist\n\n^[RUBY]\nGemfile @rubyist\n\n[Zero][0]\n*.x @z\n";
        let parsed = parse(text, GitLab);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let names: Vec<&str> = parsed.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Documentation", "Go", "Ruby", "Zero"]);

        let docs = parsed.section("documentation").unwrap();
        assert_eq!(docs.approvals_required, 2);
        assert_eq!(docs.default_owners, ["@docs-team"]);
        assert!(!docs.optional);
        assert!(parsed.section("go").unwrap().optional);
        // Merged with an optional duplicate, a section with a required entry stays required.
        let ruby = parsed.section("Ruby").unwrap();
        assert!(!ruby.optional);
        assert_eq!(ruby.lines, [7, 10]);
        // `[0]` is treated as one approval.
        assert_eq!(parsed.section("zero").unwrap().approvals_required, 1);

        let go = parsed.owners_of("main.go");
        assert_eq!(go.sections.len(), 1);
        assert_eq!(go.sections[0].section.as_deref(), Some("Go"));
        assert!(go.sections[0].optional);
        let md = parsed.owners_of("docs/a.md");
        assert_eq!(md.sections[0].approvals_required, 2);
        assert_eq!(md.owners, ["@docs-team"]);
        let gemfile = parsed.owners_of("Gemfile");
        assert_eq!(gemfile.sections[0].section.as_deref(), Some("Ruby"));
        assert!(parsed.rules.iter().any(|r| r.pattern == "Gemfile" && r.optional));
    }

    #[test]
    fn gitlab_exclusions_are_flagged_and_reported_per_section() {
        let parsed = parse(GL_EXCLUSIONS, GitLab);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let exclusions: Vec<(&str, Option<&str>)> =
            parsed.rules.iter().filter(|r| r.exclusion).map(|r| (r.pattern.as_str(), r.section.as_deref())).collect();
        assert_eq!(exclusions, [("pom.xml", None), ("/config/**/*.rb", Some("Ruby"))]);

        let config = parsed.owners_of("config/app.rb");
        assert_eq!(config.rules, [1, 6]);
        assert!(!config.sections[0].excluded);
        assert!(config.sections[1].excluded);
        assert_eq!(config.owners, ["@username"]);
    }

    #[test]
    fn gitlab_inline_comments_are_parsed_as_owners() {
        // GitLab: "Inline comments are unsupported. Any Code Owners listed in a comment are parsed."
        let parsed = parse("/docs/**/*.md @markdown-docs  # ask @reviewer too\n", GitLab);
        assert_eq!(parsed.rules[0].owners, ["@markdown-docs", "@reviewer"]);
        assert_eq!(error_lines(&parsed), [1]);
        assert!(parsed.errors[0].message.contains("`#`, `ask`"));
    }

    #[test]
    fn github_dialect_rejects_gitlab_sections() {
        let parsed = parse("[Docs] @writers\ndocs/ @writers\n^[Go]\n", GitHub);
        assert_eq!(error_lines(&parsed), [1, 3]);
        assert_eq!(parsed.owners_of("docs/a.md").owners, ["@writers"]);
        assert!(parsed.sections.is_empty());
    }

    #[test]
    fn paths_with_a_leading_slash_are_accepted() {
        let parsed = parse("/docs/ @d\n", GitHub);
        assert_eq!(parsed.owners_of("/docs/a.md").owners, ["@d"]);
        assert!(parsed.rules[0].matches("/docs/a.md"));
        let parsed = parse("/docs/ @d\n", GitLab);
        assert_eq!(parsed.owners_of("/docs/a.md").owners, ["@d"]);
    }

    #[test]
    fn unmatched_paths_have_no_decision() {
        let parsed = parse("*.md @d\n", GitLab);
        let got = parsed.owners_of("main.rs");
        assert!(got.is_unmatched());
        assert!(!got.explicitly_unowned);
        assert_eq!(got, Ownership::default());
    }

    #[test]
    fn fnmatch_brackets_follow_ruby() {
        let toks = fnmatch_glob("[!a-c]x");
        assert!(glob_match(&toks, &['d', 'x']));
        assert!(!glob_match(&toks, &['b', 'x']));
        assert_eq!(fnmatch_glob("a[bc"), [Tok::Lit('a'), Tok::Never]);
        assert!(!glob_match(&fnmatch_glob("[]"), &['a']));
        assert!(glob_match(&fnmatch_glob("\\*"), &['*']));
    }
}
