//! Rendering the report document with the templates in `report-templates/` (minijinja).
//!
//! Templates are embedded in the binary; `--templates DIR` replaces any of them by name. HTML
//! templates (`.html`) auto-escape every value, so untrusted text (titles, names, labels) can never
//! become markup; values meant as markup (our SVG charts) are marked `|safe` in the template. Markdown
//! templates (`.md`) get a formatter that escapes Markdown and HTML syntax instead, because a
//! Markdown summary usually ends up rendered as HTML in a pull-request comment.

use std::path::Path;

use minijinja::{AutoEscape, Environment, Error as TemplateError};

use super::document::ReportDoc;
use crate::error::{Error, Result};

/// The embedded templates, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("report.html", include_str!("../../report-templates/report.html")),
    ("service.html", include_str!("../../report-templates/service.html")),
    ("style.css", include_str!("../../report-templates/style.css")),
    ("report.md", include_str!("../../report-templates/report.md")),
    ("capabilities.html", include_str!("../../report-templates/capabilities.html")),
];

fn template_error(name: &str, e: TemplateError) -> Error {
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        message = format!("line {line}: {message}");
    }
    Error::Template { name: name.to_string(), message }
}

/// Escapes what Markdown (and the HTML it may carry) would interpret.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `text` for HTML and shows its `backtick-quoted` parts as code, as Markdown would: a
/// message such as "run `git fetch --unshallow`" reads as prose with a command in it. A lone
/// backtick stays a backtick.
pub fn code_spans(text: &str) -> String {
    let escape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#x27;"),
                '/' => out.push_str("&#x2f;"),
                c => out.push(c),
            }
        }
        out
    };
    let parts: Vec<&str> = text.split('`').collect();
    // An even number of parts means an unmatched backtick: its part stays text.
    let paired = if parts.len().is_multiple_of(2) { parts.len() - 1 } else { parts.len() };
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        if i >= paired {
            out.push('`');
            out.push_str(&escape(part));
        } else if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

fn environment(dir: Option<&Path>) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".md") {
            AutoEscape::Custom("markdown".into())
        } else {
            minijinja::default_auto_escape_callback(name)
        }
    });
    env.set_formatter(|out, state, value| {
        if let AutoEscape::Custom(_) = state.auto_escape() {
            // Nothing for empty values (as Jinja prints them), as-is for values marked safe.
            let text = if value.is_none() || value.is_undefined() {
                String::new()
            } else if value.is_safe() {
                value.to_string()
            } else {
                escape_markdown(&value.to_string())
            };
            out.write_str(&text).map_err(TemplateError::from)?;
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env.add_filter("code", |text: Option<String>| {
        minijinja::Value::from_safe_string(code_spans(&text.unwrap_or_default()))
    });
    env.add_filter("pct", |v: Option<f64>| -> String { v.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_default() });
    for (name, text) in TEMPLATES {
        let override_path = dir.map(|d| d.join(name)).filter(|p| p.exists());
        let source = match &override_path {
            Some(path) => std::fs::read_to_string(path).map_err(|e| Error::Template {
                name: path.display().to_string(),
                message: format!("cannot read: {e}"),
            })?,
            None => text.to_string(),
        };
        env.add_template_owned(name.to_string(), source).map_err(|e| template_error(name, e))?;
    }
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::Template {
            name: dir.display().to_string(),
            message: format!("cannot read the templates directory: {e}"),
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !TEMPLATES.iter().any(|(known, _)| *known == name) {
                let known: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
                return Err(Error::Template {
                    name: entry.path().display().to_string(),
                    message: format!("not a template flowgauge uses; override one of: {}", known.join(", ")),
                });
            }
        }
    }
    Ok(env)
}

/// Renders `template` (`report.html` or `report.md`) over the document.
pub fn render(doc: &ReportDoc, template: &str, dir: Option<&Path>) -> Result<String> {
    let env = environment(dir)?;
    let tmpl = env.get_template(template).map_err(|e| template_error(template, e))?;
    tmpl.render(minijinja::value::Serde(doc)).map_err(|e| template_error(template, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtick_spans_become_code_and_everything_is_escaped() {
        assert_eq!(
            code_spans("GitHub reports: Unknown owner in `@acme/<b>x</b>`"),
            "GitHub reports: Unknown owner in <code>@acme&#x2f;&lt;b&gt;x&lt;&#x2f;b&gt;</code>"
        );
        assert_eq!(code_spans("a `b` c `d"), "a <code>b</code> c `d");
        assert_eq!(code_spans("<script>"), "&lt;script&gt;");
    }

    #[test]
    fn markdown_escaping_neutralises_markup() {
        assert_eq!(
            escape_markdown("<img src=x> [a](javascript:x) *b*"),
            "&lt;img src=x&gt; \\[a\\]\\(javascript:x\\) \\*b\\*"
        );
    }
}
