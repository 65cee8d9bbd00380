//! Glob matching within one path segment (`*`, `?`, `[...]`, `\` escapes), shared by both dialects:
//! GitHub's simple globs and Ruby `fnmatch` segments for GitLab.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
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

/// `*`, `?` and `\` escapes (GitHub, where `[ ]` is rejected before this).
pub(super) fn simple_glob(seg: &str) -> Vec<Tok> {
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
pub(super) fn fnmatch_glob(seg: &str) -> Vec<Tok> {
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
pub(super) fn bracket(chars: &[char], start: usize) -> Option<(Tok, usize)> {
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

pub(super) fn tok_matches(tok: &Tok, c: char) -> bool {
    match tok {
        Tok::Lit(l) => *l == c,
        Tok::One => true,
        Tok::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        Tok::Star | Tok::Never => false,
    }
}

/// Matches one path segment against a glob (backtracking to the latest `*`).
pub(super) fn glob_match(toks: &[Tok], s: &[char]) -> bool {
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
