//! The **runbook** and **post-incident review** practices, from documents.

use super::*;

impl Scanner<'_> {
    /// **runbook** and **post-incident review**: documents (Markdown, reStructuredText, AsciiDoc,
    /// text, HTML).
    ///
    /// Runbooks: documents named `runbook*` (one row each); documents under a `runbooks/` directory
    /// and Markdown under a `playbooks/` directory (one row per such directory) — unless that
    /// directory holds YAML: then it is an Ansible playbook directory and its Markdown is a README.
    ///
    /// Post-incident reviews: documents whose name contains `postmortem`, `post-mortem`,
    /// `post_mortem`, `post-incident` or `incident-review` (one row each, a template is marked as
    /// such); documents under `postmortems/`, `post-mortems/`, `pir/`, or `incidents/` inside a
    /// documentation directory (one row per such directory).
    pub(super) fn documents(&mut self, f: &FileFacts, index: &Index) {
        let (path, lower, ext, dirs, lower_dirs) = (f.path, f.lower.as_str(), f.ext.as_str(), &f.dirs, &f.lower_dirs);
        let named_doc = DOC_EXTS.contains(&ext) || ext.is_empty();
        if !named_doc {
            return;
        }
        let doc = DOC_EXTS.contains(&ext);
        let template = lower.contains("template").then(|| "template".to_string());
        let dir_of = |i: usize| dirs[..=i].join("/");

        if lower.starts_with("runbook") {
            self.practice(path, "runbook", None, "runbook".into());
        } else if let Some(i) = lower_dirs.iter().position(|d| d == "runbooks" || d == "runbook")
            && doc
        {
            self.group(&dir_of(i), path, ("runbook", None), ("runbook document", "runbook documents"), None);
        } else if let Some(i) = lower_dirs.iter().position(|d| d == "playbooks")
            && matches!(ext, "md" | "markdown")
            && !index.has_yaml_under(&dir_of(i))
        {
            self.group(&dir_of(i), path, ("runbook", None), ("playbook document", "playbook documents"), None);
        }

        let pir = "post-incident review";
        let named = ["postmortem", "post-mortem", "post_mortem", "post-incident", "incident-review", "incident_review"];
        let docs_dir =
            |i: usize| lower_dirs[..i].iter().any(|d| matches!(d.as_str(), "docs" | "doc" | "documentation"));
        let pir_dir = lower_dirs.iter().enumerate().position(|(i, d)| {
            matches!(d.as_str(), "postmortems" | "post-mortems" | "postmortem" | "pir" | "pirs")
                || (d == "incidents" && docs_dir(i))
        });
        if named.iter().any(|n| lower.contains(n)) {
            let detail = if template.is_some() { "post-incident review template" } else { "post-incident review" };
            self.practice(path, pir, None, detail.into());
        } else if let Some(i) = pir_dir
            && doc
        {
            self.group(&dir_of(i), path, (pir, None), ("document", "documents"), template);
        }
    }
}
