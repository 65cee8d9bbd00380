//! GitLab's reading of CODEOWNERS: sections (`[Name]`, `^[Optional]`, `[Name][2]`, default
//! owners), `!exclusions`, patterns rewritten as GitLab does and matched like Ruby's `File.fnmatch`.

use super::*;

/// The section the following GitLab entries belong to, as its latest header declared it.
pub(super) struct Current {
    table: usize,
    optional: bool,
    approvals_required: u32,
    default_owners: Vec<String>,
    defaults_blank: bool,
}

pub(super) fn parse_gitlab(text: &str) -> CodeOwners {
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
pub(super) fn find_or_add_table(tables: &[Table], name: &str) -> Option<usize> {
    if tables.len() == 1 {
        return tables.iter().position(|t| t.key == name);
    }
    tables.iter().position(|t| eq_ignore_case(&t.key, name))
}

pub(super) fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[derive(Debug)]
pub(super) struct Header {
    name: String,
    optional: bool,
    approvals_required: u32,
    default_owners: String,
    problems: Vec<String>,
}

#[derive(Debug)]
pub(super) enum HeaderParse {
    NotHeader,
    Unparsable,
    Header(Header),
}

/// GitLab's section header: `^?[name]([approvals])?( default owners)?`, anchored at the start only.
pub(super) fn parse_gitlab_header(line: &str) -> HeaderParse {
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
pub(super) fn split_gitlab_entry(line: &str) -> (&str, &str) {
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
pub(super) fn gitlab_owner_tokens(text: &str) -> (Vec<String>, Vec<&str>) {
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

pub(super) fn is_gitlab_owner(token: &str) -> bool {
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
pub(super) fn gitlab_normalize(pattern: &str) -> String {
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
pub(super) fn unescape_whitespace(p: &str) -> String {
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
pub(super) enum FnSeg {
    /// `**/`: zero or more directories.
    Globstar,
    /// One path segment.
    Glob(Vec<Tok>),
}

pub(super) fn compile_gitlab(normalized: &str) -> Vec<FnSeg> {
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
pub(super) fn fnmatch_segments(pattern: &[FnSeg], path: &[Vec<char>], pi: usize, si: usize) -> bool {
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
