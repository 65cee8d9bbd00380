//! The domain tables: the one vocabulary that collectors write and metrics read.
//!
//! Collectors and metrics never meet except here. Every table is declared once as a [`TableSchema`]
//! (column names, types, whether a value is required, and a one-line meaning); the importer, the
//! store and the documentation test all work from these declarations, so a column cannot exist in
//! one place and be missing from another. Rows travel as [`Row`]s of [`Value`]s.
//!
//! Timestamps are UTC instants with microsecond precision. Ids are namespaced by source
//! (`github:pr:acme/shop#12`, `import:deployment:4711`) so two sources never collide.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A fact about collected data that limits what the figures may claim: a shallow or partial clone,
/// blobs that could not be read, an API listing that returned less than it reported. Collectors
/// record these with their source's state in the workspace manifest, so that metrics, findings and
/// the report can name them next to the figures they weaken and lower those figures' confidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataWarning {
    /// A stable, machine-readable kind: `shallow-clone`, `partial-clone`, `missing-blobs`,
    /// `truncated-listing`, …
    pub kind: String,
    /// Where it was seen, as the manifest names sources (`git:acme/shop`, `github:acme/shop`).
    pub source: String,
    /// One sentence for the reader: what is missing and what to do about it.
    pub message: String,
    /// The metrics whose figures it weakens, by their `explain` names (`lead-time`,
    /// `deployment-frequency`, `change-failure-rate`, `recovery-time`, `time-to-restore`,
    /// `rework-rate`) plus `ownership` for the ownership analysis.
    pub affects: Vec<String>,
}

/// The physical type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Int,
    Float,
    Bool,
    /// A UTC instant, stored as a parquet timestamp in microseconds.
    Time,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Int => "integer",
            ColumnType::Float => "float",
            ColumnType::Bool => "boolean",
            ColumnType::Time => "timestamp (UTC)",
        }
    }
}

/// One column of a domain table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub required: bool,
    pub doc: &'static str,
}

/// One domain table: its name, the columns that identify a row, and all its columns.
#[derive(Debug)]
pub struct TableSchema {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [Column],
    pub doc: &'static str,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Builds a row from named cells; columns not named are empty. Collectors use this rather than
    /// positional vectors so that a column added to a table later cannot shift their values.
    /// Naming a column the table does not have is a programming error, caught in debug builds.
    pub fn row<'a>(&self, cells: impl IntoIterator<Item = (&'a str, Value)>) -> Row {
        let mut row = vec![Value::Null; self.columns.len()];
        for (name, value) in cells {
            match self.position(name) {
                Some(i) => row[i] = value,
                None => debug_assert!(false, "table {} has no column {name}", self.name),
            }
        }
        row
    }
}

/// A single cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

/// A row, in the column order of its table's schema.
pub type Row = Vec<Value>;

const fn req(name: &'static str, kind: ColumnType, doc: &'static str) -> Column {
    Column { name, kind, required: true, doc }
}

const fn opt(name: &'static str, kind: ColumnType, doc: &'static str) -> Column {
    Column { name, kind, required: false, doc }
}

use ColumnType::{Bool, Float, Int, Text, Time};

pub const SERVICES: TableSchema = TableSchema {
    name: "services",
    key: &["service"],
    doc: "The services being assessed, as configured.",
    columns: &[
        req("service", Text, "Service name, unique, as written in flowgauge.toml."),
        opt("repos", Text, "Repositories holding the service's code, space separated (`owner/name`)."),
        opt(
            "paths",
            Text,
            "Path globs inside those repositories that belong to the service, space separated; empty means the whole repository.",
        ),
        opt("production_environments", Text, "Environment name globs that count as production, space separated."),
    ],
};

pub const CHANGES: TableSchema = TableSchema {
    name: "changes",
    key: &["id"],
    doc: "One pull request or merge request (or a change recovered from history).",
    columns: &[
        req("id", Text, "Namespaced id, e.g. `github:pr:acme/shop#12`."),
        req("source", Text, "Source that produced the row (`github`, `gitlab`, `git`, `import`, …)."),
        opt("repo", Text, "Repository, `owner/name`."),
        req("service", Text, "Service the change belongs to."),
        opt("number", Int, "Pull/merge request number in its repository."),
        opt("title", Text, "Title (untrusted text)."),
        opt("author", Text, "Author login or name."),
        opt("created_at", Time, "When the pull/merge request was opened; empty when the source cannot tell (git)."),
        opt("first_commit_at", Time, "Author time of the earliest commit in the change."),
        opt("first_review_at", Time, "First review or comment by someone other than the author."),
        opt("approved_at", Time, "First approval."),
        opt("merged_at", Time, "When it was merged; empty if never merged."),
        opt("closed_at", Time, "When it was closed (merged or not)."),
        opt("base_branch", Text, "Target branch."),
        opt("head_branch", Text, "Source branch."),
        opt("merge_commit_sha", Text, "Merge, squash or last rebased commit on the base branch."),
        opt("additions", Int, "Lines added."),
        opt("deletions", Int, "Lines deleted."),
        opt("files_changed", Int, "Files touched."),
        opt("is_revert", Bool, "The change reverts an earlier change."),
        opt("reverts_change_id", Text, "Id of the change this one reverts, when known."),
        opt("labels", Text, "Labels, comma separated."),
    ],
};

pub const CHANGE_COMMITS: TableSchema = TableSchema {
    name: "change_commits",
    key: &["change_id", "sha"],
    doc: "The commits that make up each change (before any squash).",
    columns: &[req("change_id", Text, "The change."), req("sha", Text, "A commit of that change.")],
};

pub const COMMITS: TableSchema = TableSchema {
    name: "commits",
    key: &["repo", "sha"],
    doc: "Commits as recorded in a repository.",
    columns: &[
        req("repo", Text, "Repository."),
        req("sha", Text, "Full commit id."),
        opt("parents", Text, "Parent shas, space separated."),
        opt("author", Text, "Author name (after .mailmap)."),
        opt("author_email", Text, "Author e-mail (after .mailmap)."),
        opt("authored_at", Time, "Author time."),
        opt("committed_at", Time, "Committer time."),
        opt("subject", Text, "First line of the message (untrusted text)."),
        opt("additions", Int, "Lines added."),
        opt("deletions", Int, "Lines deleted."),
    ],
};

pub const COMMIT_FILES: TableSchema = TableSchema {
    name: "commit_files",
    key: &["repo", "sha", "path"],
    doc: "Paths touched by each commit.",
    columns: &[
        req("repo", Text, "Repository."),
        req("sha", Text, "Commit."),
        req("path", Text, "Path after the commit."),
        opt("old_path", Text, "Path before the commit, for renames."),
        opt("change_type", Text, "`added`, `modified`, `deleted` or `renamed`."),
        opt("additions", Int, "Lines added."),
        opt("deletions", Int, "Lines deleted."),
    ],
};

pub const REVIEWS: TableSchema = TableSchema {
    name: "reviews",
    key: &["id"],
    doc: "Reviews and review comments on changes; the first one by someone other than the author is the first response.",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("change_id", Text, "The change reviewed."),
        opt("reviewer", Text, "Who reviewed."),
        opt("state", Text, "`approved`, `changes_requested`, `commented` or `dismissed`."),
        req("submitted_at", Time, "When the review or comment was made."),
    ],
};

pub const PIPELINES: TableSchema = TableSchema {
    name: "pipelines",
    key: &["id"],
    doc: "CI/CD pipeline runs (GitHub Actions workflow runs, GitLab pipelines, Jenkins builds, …).",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("source", Text, "Source that produced the row."),
        opt("repo", Text, "Repository."),
        opt("service", Text, "Service, when known."),
        opt("name", Text, "Workflow or pipeline name."),
        opt("sha", Text, "Commit built."),
        opt("ref", Text, "Branch or tag."),
        opt("trigger", Text, "`push`, `pull_request`, `schedule`, `manual`, `api` or other."),
        opt("triggered_by", Text, "Who or what started it."),
        opt("queued_at", Time, "When it was created or queued."),
        opt("started_at", Time, "When it started running."),
        opt("finished_at", Time, "When it finished."),
        req("status", Text, "`success`, `failure`, `cancelled`, `running` or `skipped`."),
        opt("attempt", Int, "Run attempt, 1 for the first run."),
    ],
};

pub const JOBS: TableSchema = TableSchema {
    name: "jobs",
    key: &["id"],
    doc: "Jobs inside pipelines; manual jobs are the manual steps of a delivery process.",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("pipeline_id", Text, "The pipeline."),
        opt("name", Text, "Job name."),
        opt("stage", Text, "Stage name."),
        opt("status", Text, "Same vocabulary as pipelines."),
        opt("is_manual", Bool, "The job waits for a person to start or approve it."),
        opt("triggered_by", Text, "Who started it."),
        opt("queued_at", Time, "When it became ready to run."),
        opt("started_at", Time, "When it started."),
        opt("finished_at", Time, "When it finished."),
        opt("attempt", Int, "Attempt number."),
    ],
};

pub const DEPLOYMENTS: TableSchema = TableSchema {
    name: "deployments",
    key: &["id"],
    doc: "Deployments of a service to an environment.",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("source", Text, "Source that produced the row."),
        req("service", Text, "Service deployed."),
        req("environment", Text, "Environment name as the source reports it."),
        req("is_production", Bool, "The environment matched the service's production patterns when collected."),
        opt("repo", Text, "Repository deployed from."),
        opt("sha", Text, "Commit deployed."),
        opt("started_at", Time, "When the deployment started."),
        req("finished_at", Time, "When it finished (for a successful deployment: when the change was live)."),
        req("status", Text, "`success`, `failure`, `cancelled` or `running`."),
        opt("triggered_by", Text, "Who or what started it."),
        opt("is_manual", Bool, "Started or approved by hand."),
        opt("approval_wait_seconds", Float, "Time spent waiting for a manual approval."),
        opt("is_rollback", Bool, "It restores an earlier version."),
        opt("is_hotfix", Bool, "It ships an unplanned fix for a failure in production."),
    ],
};

pub const DEPLOYMENT_COMMITS: TableSchema = TableSchema {
    name: "deployment_commits",
    key: &["deployment_id", "sha"],
    doc: "What each deployment shipped: the commits since the previous successful deployment of the service to the same environment.",
    columns: &[req("deployment_id", Text, "The deployment."), req("sha", Text, "A commit it shipped.")],
};

pub const INCIDENTS: TableSchema = TableSchema {
    name: "incidents",
    key: &["id"],
    doc: "Incidents: failures in production that needed a response.",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("source", Text, "Source that produced the row."),
        req("service", Text, "Service affected."),
        opt("title", Text, "Title (untrusted text)."),
        opt("severity", Text, "Severity as the source names it."),
        req("opened_at", Time, "When it was opened (the failure was detected)."),
        opt("acknowledged_at", Time, "When someone acknowledged it."),
        opt("resolved_at", Time, "When service was restored (the incident resolved); empty while open."),
        opt("mitigated_at", Time, "When the impact ended, where the tracker records mitigation apart from resolution."),
        opt("assignee", Text, "Who owned the response."),
        opt("priority", Text, "Priority or urgency as the source names it (e.g. `P1`, `high`)."),
        opt("team", Text, "The team the tracker assigns the incident to."),
        opt(
            "detected_by",
            Text,
            "Who opened it: `monitoring` (an alerting integration) or `person`; empty when the source does not say.",
        ),
        opt("resolved_by", Text, "Who or what resolved it: a person's handle, or `monitoring` for an auto-resolve."),
        opt("caused_by_deployment_id", Text, "The deployment that caused it, when the source says so."),
        opt(
            "caused_by_change_id",
            Text,
            "A change the incident names as its cause (e.g. a pull request referenced in its text); linked to the deployment that shipped it.",
        ),
        opt(
            "caused_by_sha",
            Text,
            "A commit (full or abbreviated sha) the incident names as its cause; linked to the deployment that shipped it.",
        ),
        opt(
            "tracker_deployment_id",
            Text,
            "The deployment the incident tracker itself correlates with the incident (e.g. PagerDuty's related change events).",
        ),
        opt("review_url", Text, "The post-incident review (postmortem) recorded for it, when there is one."),
    ],
};

pub const APPROVALS: TableSchema = TableSchema {
    name: "approvals",
    key: &["id"],
    doc: "Manual approvals of deployments or changes.",
    columns: &[
        req("id", Text, "Namespaced id."),
        req("subject_id", Text, "The deployment or change approved."),
        opt("approver", Text, "Who approved."),
        opt("requested_at", Time, "When approval was requested."),
        opt("decided_at", Time, "When it was given or refused."),
        opt("state", Text, "`approved` or `rejected`."),
    ],
};

pub const EVIDENCE: TableSchema = TableSchema {
    name: "evidence",
    key: &["id"],
    doc: "Delivery practices, manual steps and ownership gaps found in a repository's files at HEAD (CI/CD configuration, infrastructure as code, monitoring, runbooks) or in its forge settings (environments and their protection rules, CODEOWNERS).",
    columns: &[
        req(
            "id",
            Text,
            "Namespaced id: `scan:<repo>:<path>:<line>:<category>`, `github:<repo>:environment:…` / `github:<repo>:codeowners:…`, `gitlab:<project>:environment:…` / `gitlab:<project>:manual-job:<name>` / `gitlab:<project>:codeowners:…`, `pagerduty:<account>:<pagerduty service id>:incident detection`, `jira:<site>:review:<KEY>` for an incident's post-incident review, or `ownership:<repo>:<service>:<category>`.",
        ),
        req(
            "source",
            Text,
            "`scan` (the repository's files), `github` or `gitlab` (the forge's settings and, for `gitlab`, the manual jobs its pipelines ran), `pagerduty` (who opens a PagerDuty service's incidents), `jira` (an incident's post-incident review) or `ownership` (the ownership analysis of the git history).",
        ),
        opt("repo", Text, "Repository scanned."),
        opt(
            "service",
            Text,
            "Service whose path globs contain the file; empty when the file serves the whole repository.",
        ),
        req(
            "kind",
            Text,
            "`manual_step` (a person must act for a change to reach production), `practice` (evidence a practice exists) or `gap` (an ownership gap, e.g. no CODEOWNERS).",
        ),
        req(
            "category",
            Text,
            "What was found, e.g. `manual trigger`, `manual job`, `approval`, `tests`, `container`, `infrastructure as code`, `monitoring`, `rollback`, `runbook`, `post-incident review`.",
        ),
        opt(
            "tool",
            Text,
            "The tool the file belongs to, e.g. `github-actions`, `gitlab-ci`, `jenkins`, `circleci`, `terraform`, `helm`, `prometheus`.",
        ),
        opt("detail", Text, "A short description naming the job, workflow or step (untrusted text)."),
        req(
            "path",
            Text,
            "File, relative to the repository root; for forge settings, `settings/environments/<name>` or the CODEOWNERS path.",
        ),
        opt("line", Int, "Line in the file, when the finding is a line."),
        opt(
            "value",
            Float,
            "The measured figure of an `ownership` row: the truck factor, or a share 0..1 (CODEOWNERS coverage of the files at HEAD, files whose every author is inactive); empty otherwise.",
        ),
    ],
};

/// What a forge itself reports for the DORA metrics (GitLab's `/projects/:id/dora/metrics`), kept
/// to show beside flowgauge's own figures, never mixed into them.
pub const FORGE_METRICS: TableSchema = TableSchema {
    name: "forge_metrics",
    key: &["id"],
    doc: "DORA figures a forge computes itself (GitLab Ultimate's DORA API), per month, shown beside flowgauge's in `explain` and the report's methodology with the definitional differences.",
    columns: &[
        req("id", Text, "Namespaced id: `gitlab:<project>:dora:<metric>:<YYYY-MM-DD>`."),
        req("source", Text, "The forge: `gitlab`."),
        req("service", Text, "Service the project belongs to."),
        req("repo", Text, "The project (`group/project`)."),
        req(
            "metric",
            Text,
            "The flowgauge metric it stands beside, by its `explain` name: `deployment-frequency`, `lead-time`, `time-to-restore`, `change-failure-rate`.",
        ),
        req(
            "forge_metric",
            Text,
            "The forge's own name: `deployment_frequency`, `lead_time_for_changes`, `time_to_restore_service`, `change_failure_rate`.",
        ),
        req("period_start", Time, "First day of the month the value covers (00:00 UTC)."),
        opt(
            "value",
            Float,
            "The forge's value as it gives it: deployments in the month; median seconds (GitLab: the median of daily medians); or incidents per deployment. Empty when the forge has no value for the month.",
        ),
        req("unit", Text, "`deployments`, `seconds` or `ratio`."),
    ],
};

/// Every domain table, in the order documentation lists them.
pub const TABLES: &[&TableSchema] = &[
    &SERVICES,
    &CHANGES,
    &CHANGE_COMMITS,
    &COMMITS,
    &COMMIT_FILES,
    &REVIEWS,
    &PIPELINES,
    &JOBS,
    &DEPLOYMENTS,
    &DEPLOYMENT_COMMITS,
    &INCIDENTS,
    &APPROVALS,
    &EVIDENCE,
    &FORGE_METRICS,
];

/// Looks a table up by name.
pub fn table(name: &str) -> Option<&'static TableSchema> {
    TABLES.iter().copied().find(|t| t.name == name)
}
