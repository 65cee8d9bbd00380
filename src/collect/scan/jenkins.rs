//! Jenkins pipelines (`Jenkinsfile`): the CI pipeline practice and `input` steps as approvals, found
//! by a small Groovy scanner that skips comments and strings.

use super::*;

impl Scanner<'_> {
    /// **Jenkins** (`Jenkinsfile`, `*.jenkinsfile`, `Jenkinsfile.*`): every `input` step —
    /// `input message: …`, `input(…)`, `input '…'`, or the declarative `input { … }` directive of a
    /// stage — is an `approval`, with its line, message and enclosing stage. Comments and strings are
    /// ignored, so `sh 'read input'` or `// input message:` do not count.
    pub(super) fn jenkins(&mut self, path: &str, text: &str) {
        self.practice(path, "ci pipeline", Some(JENKINS), "Jenkins pipeline".into());
        for input in jenkins_inputs(text) {
            let mut detail = String::from("`input` step");
            if let Some(message) = &input.message {
                detail.push_str(&format!(" \"{message}\""));
            }
            if let Some(stage) = &input.stage {
                detail.push_str(&format!(" in stage \"{stage}\""));
            }
            detail.push_str(" waits for a person to approve");
            self.manual(path, Some(input.line), "approval", JENKINS, detail);
        }
    }
}

/// An `input` step of a Jenkins pipeline.
#[derive(Debug, PartialEq)]
pub(super) struct JenkinsInput {
    pub(super) line: usize,
    pub(super) stage: Option<String>,
    pub(super) message: Option<String>,
}

/// Carries Groovy lexical state from one line to the next.
#[derive(Default)]
pub(super) struct GroovyState {
    block_comment: bool,
    triple: Option<char>,
}

/// One line of Groovy as two parallel character vectors: `code` without comments, and `bare`,
/// the same with string contents blanked (quotes kept), so that searches see only code.
pub(super) fn groovy_line(line: &str, state: &mut GroovyState) -> (Vec<char>, Vec<char>) {
    let chars: Vec<char> = line.chars().collect();
    let (mut code, mut bare) = (Vec::new(), Vec::new());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if state.block_comment {
            if c == '*' && next == Some('/') {
                state.block_comment = false;
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(q) = state.triple {
            if c == q && next == Some(q) && chars.get(i + 2) == Some(&q) {
                state.triple = None;
                code.extend([q, q, q]);
                bare.extend([q, q, q]);
                i += 3;
            } else {
                code.push(c);
                bare.push(' ');
                i += 1;
            }
            continue;
        }
        if let Some(q) = quote {
            code.push(c);
            if c == '\\'
                && let Some(n) = next
            {
                code.push(n);
                bare.extend([' ', ' ']);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
                bare.push(c);
            } else {
                bare.push(' ');
            }
            i += 1;
            continue;
        }
        match c {
            '/' if next == Some('/') => break,
            '/' if next == Some('*') => {
                state.block_comment = true;
                i += 2;
            }
            '\'' | '"' if next == Some(c) && chars.get(i + 2) == Some(&c) => {
                state.triple = Some(c);
                code.extend([c, c, c]);
                bare.extend([c, c, c]);
                i += 3;
            }
            '\'' | '"' => {
                quote = Some(c);
                code.push(c);
                bare.push(c);
                i += 1;
            }
            _ => {
                code.push(c);
                bare.push(c);
                i += 1;
            }
        }
    }
    (code, bare)
}

/// Where `word` occurs in `chars` as a whole identifier.
pub(super) fn word_at(chars: &[char], i: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    chars.len() >= i + w.len()
        && chars[i..i + w.len()] == w[..]
        && (i == 0 || !(chars[i - 1].is_alphanumeric() || matches!(chars[i - 1], '_' | '.' | '$')))
        && chars.get(i + w.len()).is_none_or(|c| !(c.is_alphanumeric() || *c == '_'))
}

/// Position of an `input` step in a line of code, if it is one.
pub(super) fn find_input(bare: &[char]) -> Option<usize> {
    (0..bare.len()).find(|&i| {
        if !word_at(bare, i, "input") {
            return false;
        }
        // A step starts a statement: after nothing, `{`, `(`, `;`, `=` or `->`.
        let before = bare[..i].iter().rev().find(|c| !c.is_whitespace());
        if !matches!(before, None | Some('{' | '(' | ';' | '=' | '>')) {
            return false;
        }
        let mut j = i + 5;
        while bare.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        match bare.get(j) {
            Some('(' | '{' | '\'' | '"') => true,
            // Named arguments: `input message: …`, `input id: …`.
            Some(c) if c.is_alphabetic() => {
                while bare.get(j).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
                    j += 1;
                }
                while bare.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
                bare.get(j) == Some(&':')
            }
            _ => false,
        }
    })
}

/// The first quoted string at the start of `s` (after blanks and an opening parenthesis).
pub(super) fn leading_string(s: &str) -> Option<String> {
    let s = s.trim_start().trim_start_matches('(').trim_start();
    let quote = s.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let rest = &s[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

/// The string after `word` (`message: 'x'`, `message "x"`, `stage('x')`) in `code`, if `bare` has
/// the word as code at or after `from`.
pub(super) fn string_after(code: &[char], bare: &[char], from: usize, word: &str) -> Option<String> {
    let at = (from..bare.len()).find(|&i| word_at(bare, i, word))?;
    let rest: String = code[at + word.chars().count()..].iter().collect();
    leading_string(rest.trim_start().trim_start_matches(':'))
}

pub(super) fn jenkins_inputs(text: &str) -> Vec<JenkinsInput> {
    let mut state = GroovyState::default();
    let lines: Vec<(Vec<char>, Vec<char>)> = text.lines().map(|l| groovy_line(l, &mut state)).collect();
    let mut stage = None;
    let mut out = Vec::new();
    for (i, (code, bare)) in lines.iter().enumerate() {
        let input = find_input(bare);
        if let Some(name) = string_after(code, bare, 0, "stage")
            && input.is_none_or(|at| (0..at).any(|j| word_at(bare, j, "stage")))
        {
            stage = Some(name);
        }
        let Some(at) = input else { continue };
        let rest: String = code[at + 5..].iter().collect();
        let message = string_after(code, bare, at, "message").or_else(|| leading_string(&rest)).or_else(|| {
            // The declarative `input { message '…' }` directive spans lines.
            lines.iter().skip(i + 1).take(8).find_map(|(c, b)| string_after(c, b, 0, "message"))
        });
        out.push(JenkinsInput { line: i + 1, stage: stage.clone(), message });
    }
    out
}
