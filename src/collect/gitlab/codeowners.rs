//! What GitLab itself says about a project's CODEOWNERS, as evidence for the ownership and review
//! capabilities: which file GitLab uses (the first of the root, `docs/` and `.gitlab/`), the errors
//! GitLab's own validator finds in it (GraphQL `repository.validateCodeownerFile`, the check behind
//! the "syntax is valid" banner of the file view), and whether merges into the default branch must
//! wait for a code owner's approval (`code_owner_approval_required` of the protected branches).
//!
//! Why apart from the file analysis in `ownership::codeowners`: that one reads the checkout and
//! works out coverage; this one records the forge's settings and verdict, which a checkout cannot
//! show — a file GitLab rejects lines of, or owners who are only ever asked and never required.
//! Pure functions of the pages, so offline re-extraction gives the same rows.

use crate::model::{self, Row, Value};
use crate::ownership::codeowners::{self, Dialect};

/// One GraphQL request: the default branch, the file at each place GitLab looks, and GitLab's
/// validation of each (null where the file does not exist).
pub const CODEOWNERS_QUERY: &str = r#"query($fullPath: ID!) {
  project(fullPath: $fullPath) {
    repository {
      rootRef
      blobs(paths: ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"]) { nodes { path rawBlob } }
      root: validateCodeownerFile(path: "CODEOWNERS") { total validationErrors { code lines } }
      docs: validateCodeownerFile(path: "docs/CODEOWNERS") { total validationErrors { code lines } }
      dotgitlab: validateCodeownerFile(path: ".gitlab/CODEOWNERS") { total validationErrors { code lines } }
    }
  }
}"#;

/// [`CODEOWNERS_QUERY`] for GitLab Free, which has no `validateCodeownerFile` (a Premium feature).
pub const CODEOWNERS_QUERY_WITHOUT_VALIDATION: &str = r#"query($fullPath: ID!) {
  project(fullPath: $fullPath) {
    repository {
      rootRef
      blobs(paths: ["CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"]) { nodes { path rawBlob } }
    }
  }
}"#;

/// Where GitLab looks for CODEOWNERS, in its order, with the alias of its validation in
/// [`CODEOWNERS_QUERY`].
pub const LOCATIONS: [(&str, &str); 3] =
    [("CODEOWNERS", "root"), ("docs/CODEOWNERS", "docs"), (".gitlab/CODEOWNERS", "dotgitlab")];

/// The evidence tool name of every row read here.
pub const TOOL: &str = "gitlab-codeowners";

/// The id prefix of the evidence rows read here; the rows are a snapshot, replaced as a whole.
pub fn codeowners_prefix(project: &str) -> String {
    format!("gitlab:{project}:codeowners:")
}

/// GitLab's validation codes in the words of its file view, with what GitLab does about them.
pub fn validation_message(code: &str) -> String {
    let text = match code {
        "invalid_section_owner_format" => "malformed default owners in a section header",
        "missing_entry_owner" => "an entry with zero owners (GitLab treats the paths as unowned)",
        "invalid_entry_owner_format" => "an entry with spaces in its pattern or owners",
        "malformed_entry_owner" => "malformed owners",
        "missing_section_name" => "a section header without a name",
        "invalid_approval_requirement" => "less than 1 required approval, or an optional section requiring approvals",
        "invalid_section_format" => "an unparsable section header",
        "inaccessible_owner" => "owners who are not accessible within the project",
        "owner_without_permission" => "owners without permission to approve merge requests",
        "unqualified_group" => "a group that needs at least Developer access for its members to approve",
        "group_without_eligible_approvers" => "a group with no members allowed to approve merge requests",
        other => return format!("`{other}`"),
    };
    text.to_string()
}

/// The file GitLab uses (the first location holding one) and its text, from the answer to
/// [`CODEOWNERS_QUERY`].
pub fn codeowners_file(page: &serde_json::Value) -> Option<(&'static str, String)> {
    let blobs = page.pointer("/data/project/repository/blobs/nodes")?.as_array()?;
    LOCATIONS.iter().find_map(|(path, _)| {
        let blob = blobs.iter().find(|b| b["path"].as_str() == Some(path))?;
        Some((*path, blob["rawBlob"].as_str()?.to_string()))
    })
}

/// The project's default branch, from the answer to [`CODEOWNERS_QUERY`].
pub fn default_branch(page: &serde_json::Value) -> Option<&str> {
    page.pointer("/data/project/repository/rootRef")?.as_str()
}

/// Evidence rows from the answer to [`CODEOWNERS_QUERY`] and the REST list of protected branches
/// (`None` when it could not be read): the file as a practice (or a gap when missing or naming
/// nobody), each error GitLab's validator reports as a gap, and the code owner approval setting of
/// the default branch.
pub fn codeowners_rows(project: &str, page: &serde_json::Value, protected: Option<&serde_json::Value>) -> Vec<Row> {
    let prefix = codeowners_prefix(project);
    let mut rows = Vec::new();
    let Some((path, text)) = codeowners_file(page) else {
        rows.push(evidence(
            format!("{prefix}missing"),
            project,
            ("gap", "code owners"),
            "no CODEOWNERS file (root, docs/ or .gitlab/): no one is asked to review a change by the paths it touches"
                .into(),
            (".gitlab/CODEOWNERS", None),
        ));
        return rows;
    };
    let parsed = codeowners::parse(&text, Dialect::GitLab);
    let rules = parsed.rules.iter().filter(|r| !r.exclusion && !r.owners.is_empty()).count();
    let mut owners: Vec<&str> = parsed.rules.iter().flat_map(|r| r.owners.iter().map(String::as_str)).collect();
    owners.sort_unstable();
    owners.dedup();
    let (kind, detail) = if rules == 0 {
        ("gap", format!("{path} assigns no owners"))
    } else {
        let sections = match parsed.sections.len() {
            0 => String::new(),
            1 => " in 1 section".to_string(),
            n => format!(" in {n} sections"),
        };
        ("practice", format!("{path}: {rules} rules naming {} owners{sections}", owners.len()))
    };
    rows.push(evidence(format!("{prefix}file"), project, (kind, "code owners"), detail, (path, None)));
    rows.extend(validation_rows(project, page, path));
    if let Some(protected) = protected {
        rows.extend(approval_rows(project, default_branch(page), protected));
    }
    rows
}

/// One gap row per line GitLab's validator reports, for the file GitLab uses.
fn validation_rows(project: &str, page: &serde_json::Value, path: &str) -> Vec<Row> {
    let prefix = codeowners_prefix(project);
    let alias = LOCATIONS.iter().find(|(p, _)| *p == path).map_or("root", |(_, a)| a);
    let pointer = format!("/data/project/repository/{alias}/validationErrors");
    let errors = page.pointer(&pointer).and_then(|e| e.as_array()).cloned().unwrap_or_default();
    let mut rows = Vec::new();
    for error in &errors {
        let code = error["code"].as_str().unwrap_or("error");
        let lines: Vec<i64> =
            error["lines"].as_array().map(|l| l.iter().filter_map(|n| n.as_i64()).collect()).unwrap_or_default();
        let detail = format!("GitLab reports: {}", validation_message(code));
        if lines.is_empty() {
            rows.push(evidence(
                format!("{prefix}error:{code}"),
                project,
                ("gap", "code owners error"),
                detail.clone(),
                (path, None),
            ));
        }
        for line in lines {
            rows.push(evidence(
                format!("{prefix}error:{code}:{line}"),
                project,
                ("gap", "code owners error"),
                detail.clone(),
                (path, Some(line)),
            ));
        }
    }
    rows
}

/// Whether merges into the default branch need a code owner's approval: a practice when its
/// protection requires it, a gap when the branch is protected without it or not protected at all
/// (GitLab then only suggests code owners as reviewers). Other protected branches that require it
/// are practices too.
fn approval_rows(project: &str, default: Option<&str>, protected: &serde_json::Value) -> Vec<Row> {
    let prefix = codeowners_prefix(project);
    let branches = protected.as_array().cloned().unwrap_or_default();
    let mut rows = Vec::new();
    let mut default_covered = false;
    for branch in &branches {
        let Some(name) = branch["name"].as_str() else { continue };
        let required = branch["code_owner_approval_required"].as_bool().unwrap_or(false);
        let is_default = default.is_some_and(|d| branch_matches(name, d));
        let path = format!("settings/protected_branches/{name}");
        let id = format!("{prefix}approval:{name}");
        if required {
            default_covered |= is_default;
            let detail = format!("merges into `{name}` wait for approval by the code owners of the paths they touch");
            rows.push(evidence(id, project, ("practice", "code owners approval"), detail, (&path, None)));
        } else if is_default {
            let detail = format!(
                "`{name}` is protected without code owner approval: code owners are suggested as reviewers, not required"
            );
            rows.push(evidence(id, project, ("gap", "code owners approval"), detail, (&path, None)));
            default_covered = true;
        }
    }
    if let (Some(default), false) = (default, default_covered) {
        let detail =
            format!("`{default}` is not a protected branch: code owner approval cannot be required for merges into it");
        let path = format!("settings/protected_branches/{default}");
        rows.push(evidence(
            format!("{prefix}approval:{default}"),
            project,
            ("gap", "code owners approval"),
            detail,
            (&path, None),
        ));
    }
    rows
}

/// GitLab's protected branch names may be wildcards (`release/*`, `*-stable`).
fn branch_matches(pattern: &str, branch: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == branch;
    }
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(branch))
}

fn evidence(id: String, project: &str, what: (&str, &str), detail: String, at: (&str, Option<i64>)) -> Row {
    let (kind, category) = what;
    let (path, line) = at;
    model::EVIDENCE.row([
        ("id", Value::Text(id)),
        ("source", Value::Text("gitlab".into())),
        ("repo", Value::Text(project.to_string())),
        ("kind", Value::Text(kind.into())),
        ("category", Value::Text(category.into())),
        ("tool", Value::Text(TOOL.into())),
        ("detail", Value::Text(detail)),
        ("path", Value::Text(path.to_string())),
        ("line", line.map_or(Value::Null, Value::Int)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROJECT: &str = "acme/ledger";

    fn text(row: &Row, column: &str) -> String {
        match &row[model::EVIDENCE.position(column).unwrap()] {
            Value::Text(t) => t.clone(),
            Value::Int(n) => n.to_string(),
            Value::Null => String::new(),
            other => format!("{other:?}"),
        }
    }

    fn page(blobs: serde_json::Value, docs_errors: serde_json::Value) -> serde_json::Value {
        json!({ "data": { "project": { "repository": {
            "rootRef": "main",
            "blobs": { "nodes": blobs },
            "root": null,
            "docs": { "total": 3, "validationErrors": docs_errors },
            "dotgitlab": null,
        } } } })
    }

    #[test]
    fn the_first_location_wins_and_gitlab_sections_are_counted() {
        let file = "[Backend][2] @acme/backend\n*.rs\n^[Docs] @@developer\n*.md\n";
        let blobs = json!([
            { "path": ".gitlab/CODEOWNERS", "rawBlob": "* @someone-else\n" },
            { "path": "docs/CODEOWNERS", "rawBlob": file },
        ]);
        let rows = codeowners_rows(PROJECT, &page(blobs, json!([])), None);
        assert_eq!(rows.len(), 1);
        assert_eq!(text(&rows[0], "id"), "gitlab:acme/ledger:codeowners:file");
        assert_eq!(text(&rows[0], "kind"), "practice");
        assert_eq!(text(&rows[0], "path"), "docs/CODEOWNERS");
        // Default owners of a section name the owners of its entries without owners.
        assert_eq!(text(&rows[0], "detail"), "docs/CODEOWNERS: 2 rules naming 2 owners in 2 sections");
    }

    #[test]
    fn gitlab_validation_errors_are_gaps_on_their_lines() {
        let blobs = json!([{ "path": "docs/CODEOWNERS", "rawBlob": "* @a\n[]\nlib/ \n" }]);
        let errors = json!([
            { "code": "missing_section_name", "lines": [2] },
            { "code": "missing_entry_owner", "lines": [3, 5] },
            { "code": "something_new", "lines": [] },
        ]);
        let rows = codeowners_rows(PROJECT, &page(blobs, errors), None);
        let gaps: Vec<(String, String, String)> =
            rows[1..].iter().map(|r| (text(r, "id"), text(r, "line"), text(r, "detail"))).collect();
        assert_eq!(
            gaps,
            vec![
                (
                    "gitlab:acme/ledger:codeowners:error:missing_section_name:2".into(),
                    "2".into(),
                    "GitLab reports: a section header without a name".into()
                ),
                (
                    "gitlab:acme/ledger:codeowners:error:missing_entry_owner:3".into(),
                    "3".into(),
                    "GitLab reports: an entry with zero owners (GitLab treats the paths as unowned)".into()
                ),
                (
                    "gitlab:acme/ledger:codeowners:error:missing_entry_owner:5".into(),
                    "5".into(),
                    "GitLab reports: an entry with zero owners (GitLab treats the paths as unowned)".into()
                ),
                (
                    "gitlab:acme/ledger:codeowners:error:something_new".into(),
                    String::new(),
                    "GitLab reports: `something_new`".into()
                ),
            ]
        );
        assert!(rows[1..].iter().all(|r| text(r, "kind") == "gap" && text(r, "category") == "code owners error"));
    }

    #[test]
    fn no_file_is_one_gap_and_protected_branches_are_not_judged() {
        let rows = codeowners_rows(PROJECT, &page(json!([]), json!([])), Some(&json!([])));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (text(&rows[0], "kind"), text(&rows[0], "id")),
            ("gap".into(), "gitlab:acme/ledger:codeowners:missing".into())
        );
    }

    #[test]
    fn code_owner_approval_on_the_default_branch_is_a_practice_and_its_absence_a_gap() {
        let blobs = json!([{ "path": "CODEOWNERS", "rawBlob": "* @acme/team\n" }]);
        let kinds = |protected: serde_json::Value| -> Vec<(String, String)> {
            codeowners_rows(PROJECT, &page(blobs.clone(), json!([])), Some(&protected))
                .iter()
                .filter(|r| text(r, "category") == "code owners approval")
                .map(|r| (text(r, "kind"), text(r, "path")))
                .collect()
        };
        let required = json!([{ "name": "main", "code_owner_approval_required": true }]);
        assert_eq!(kinds(required), vec![("practice".into(), "settings/protected_branches/main".into())]);
        let not_required = json!([{ "name": "main", "code_owner_approval_required": false },
                                  { "name": "release/*", "code_owner_approval_required": false }]);
        assert_eq!(kinds(not_required), vec![("gap".into(), "settings/protected_branches/main".into())]);
        // A wildcard protection covers the default branch; another branch requiring it is a practice.
        let wildcard = json!([{ "name": "ma*", "code_owner_approval_required": true },
                              { "name": "stable", "code_owner_approval_required": true }]);
        assert_eq!(
            kinds(wildcard),
            vec![
                ("practice".into(), "settings/protected_branches/ma*".into()),
                ("practice".into(), "settings/protected_branches/stable".into())
            ]
        );
        // Free tier: the field is absent, so nothing is required; the default branch unprotected.
        let unprotected = json!([{ "name": "stable" }]);
        assert_eq!(kinds(unprotected), vec![("gap".into(), "settings/protected_branches/main".into())]);
    }
}
