//! GitHub's reading of CODEOWNERS: gitignore-style patterns (no `!`, no `[ ]` ranges), owners
//! `@user`, `@org/team` or an e-mail, and the last matching line wins.

use super::*;

pub(super) fn parse_github(text: &str) -> CodeOwners {
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
pub(super) fn split_unescaped_whitespace(line: &str) -> Vec<String> {
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

pub(super) fn is_github_owner(token: &str) -> bool {
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
pub(super) fn is_strict_email(token: &str) -> bool {
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
pub(super) enum GhSeg {
    /// `**` at the start or in the middle: zero or more directories.
    AnyDirs,
    /// `**` at the end (or a trailing `/`): one or more further path segments.
    Below,
    /// One path segment; a lone `*` (`lone_star`) in last place matches direct children only.
    Glob { toks: Vec<Tok>, lone_star: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GhPattern {
    segs: Vec<GhSeg>,
    /// A match of all segments also covers everything below it.
    descendants: bool,
}

pub(super) fn compile_github(pattern: &str) -> Result<GhPattern, String> {
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

pub(super) fn has_unescaped(pattern: &str, wanted: &[char]) -> bool {
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
    pub(super) fn matches(&self, path: &str) -> bool {
        let segs: Vec<Vec<char>> = path.split('/').map(|s| s.chars().collect()).collect();
        self.match_from(0, &segs, 0)
    }

    pub(super) fn match_from(&self, pi: usize, path: &[Vec<char>], si: usize) -> bool {
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
