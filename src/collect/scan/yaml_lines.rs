//! YAML helpers for the rules: the parser gives no positions, so lines are found by searching the
//! text for a key at the indentation the parsed structure implies ([`YamlLines`]), plus the leniency
//! the common CI parsers grant on flow-collection closers.

use super::*;

/// The text with every line that holds only closing flow brackets indented like the line before it,
/// or `None` when there is no such line. Line numbers do not change.
pub(super) fn relax_flow_closers(text: &str) -> Option<String> {
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
pub(super) fn top_level(text: &str) -> Vec<(&str, &str)> {
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

pub(super) fn strip_comment(value: &str) -> &str {
    if value.starts_with('#') {
        return "";
    }
    value.find(" #").map_or(value, |i| &value[..i]).trim_end()
}

pub(super) fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// A line without its leading `- ` sequence markers.
pub(super) fn strip_dashes(mut t: &str) -> &str {
    while let Some(rest) = t.strip_prefix("- ") {
        t = rest.trim_start();
    }
    t
}

/// Whether a line (already trimmed, sequence markers allowed) starts with the mapping key `key`.
pub(super) fn key_matches(trimmed: &str, key: &str) -> bool {
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
pub(super) fn yaml_value<'t>(trimmed: &'t str, key: &str) -> Option<&'t str> {
    if !key_matches(trimmed, key) {
        return None;
    }
    let t = strip_dashes(trimmed);
    let (_, value) = t.split_once(':')?;
    Some(unquote(strip_comment(value.trim())))
}

/// A mapping key as text (job names may be numbers).
pub(super) fn yaml_key(key: &Yaml) -> Option<String> {
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
pub(super) struct YamlLines<'t> {
    lines: Vec<&'t str>,
}

impl<'t> YamlLines<'t> {
    pub(super) fn new(text: &'t str) -> YamlLines<'t> {
        YamlLines { lines: text.lines().collect() }
    }

    pub(super) fn is_separator(line: &str) -> bool {
        line == "---" || line.starts_with("--- ") || line == "..."
    }

    pub(super) fn is_content(line: &str) -> bool {
        let t = line.trim();
        !t.is_empty() && !t.starts_with('#') && !Self::is_separator(line)
    }

    pub(super) fn indent(line: &str) -> usize {
        line.len() - line.trim_start_matches(' ').len()
    }

    /// Column of the key on a line, after any `- ` sequence markers.
    pub(super) fn key_col(line: &str) -> usize {
        let trimmed = line.trim_start_matches(' ');
        Self::indent(line) + (trimmed.len() - strip_dashes(trimmed).len())
    }

    /// End (exclusive) of the block of the key on line `i`.
    pub(super) fn block_end(&self, i: usize) -> usize {
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
    pub(super) fn key_line(&self, path: &[&str]) -> Option<usize> {
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
    pub(super) fn find_in_block(&self, line: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
        let i = line.checked_sub(1)?;
        let end = self.block_end(i);
        (i + 1..end).find(|&j| Self::is_content(self.lines[j]) && pred(self.lines[j].trim())).map(|j| j + 1)
    }
}
