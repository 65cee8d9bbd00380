//! What an import file may hold and how it is written: its kind (which picks the domain table it
//! fills) and its format.
//!
//! The configuration validates import sources with these names and the importer reads files with
//! them. They live here, below both, so that `config` need not reach up into `collect`.

use std::path::Path;

use crate::model::{self, TableSchema};

/// What a file contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Deployments,
    Incidents,
    Changes,
    Pipelines,
    Jobs,
    Reviews,
    Approvals,
    Commits,
    DeploymentCommits,
    ChangeCommits,
}

impl ImportKind {
    pub const NAMES: &'static [&'static str] = &[
        "deployments",
        "incidents",
        "changes",
        "pipelines",
        "jobs",
        "reviews",
        "approvals",
        "commits",
        "deployment-commits",
        "change-commits",
    ];

    pub fn parse(s: &str) -> Option<ImportKind> {
        Some(match s {
            "deployments" => ImportKind::Deployments,
            "incidents" => ImportKind::Incidents,
            "changes" => ImportKind::Changes,
            "pipelines" => ImportKind::Pipelines,
            "jobs" => ImportKind::Jobs,
            "reviews" => ImportKind::Reviews,
            "approvals" => ImportKind::Approvals,
            "commits" => ImportKind::Commits,
            "deployment-commits" => ImportKind::DeploymentCommits,
            "change-commits" => ImportKind::ChangeCommits,
            _ => return None,
        })
    }

    pub fn table(self) -> &'static TableSchema {
        match self {
            ImportKind::Deployments => &model::DEPLOYMENTS,
            ImportKind::Incidents => &model::INCIDENTS,
            ImportKind::Changes => &model::CHANGES,
            ImportKind::Pipelines => &model::PIPELINES,
            ImportKind::Jobs => &model::JOBS,
            ImportKind::Reviews => &model::REVIEWS,
            ImportKind::Approvals => &model::APPROVALS,
            ImportKind::Commits => &model::COMMITS,
            ImportKind::DeploymentCommits => &model::DEPLOYMENT_COMMITS,
            ImportKind::ChangeCommits => &model::CHANGE_COMMITS,
        }
    }

    /// The noun used inside namespaced ids of this kind's rows.
    pub fn id_noun(self) -> Option<&'static str> {
        match self {
            ImportKind::Deployments => Some("deployment"),
            ImportKind::Incidents => Some("incident"),
            ImportKind::Changes => Some("change"),
            ImportKind::Pipelines => Some("pipeline"),
            ImportKind::Jobs => Some("job"),
            ImportKind::Reviews => Some("review"),
            ImportKind::Approvals => Some("approval"),
            _ => None,
        }
    }
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// The format a file name announces by its extension.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension().and_then(|e| e.to_str()).and_then(Format::parse)
    }
}
