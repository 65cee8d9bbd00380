//! Collection: turning what sources report into rows of the domain tables in the workspace.
//!
//! Each source module reads its own format and produces validated rows; this module writes them
//! through the store (atomic, upsert by key) and records the source's cursor in the manifest. The
//! configured services replace the `services` table on every collection, so the workspace alone tells
//! which services exist, including those with no data yet, and a service removed from the
//! configuration disappears.

pub mod import;
pub mod scan;

use chrono::Utc;

use crate::config::{Config, Source};
use crate::error::Result;
use crate::model::{self, Row, Value};
use crate::store::{SourceState, UpsertStats, Workspace};

pub use import::{Format, ImportKind, ImportRequest};

/// What one import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub path: std::path::PathBuf,
    pub kind: ImportKind,
    pub rows_read: usize,
    pub tables: Vec<UpsertStats>,
}

/// Validates a whole file, then upserts its rows; nothing is written if any row is bad.
pub fn import_file(workspace: &mut Workspace, config: &Config, request: &ImportRequest) -> Result<ImportReport> {
    let batch = import::read(request, config)?;
    let stats = workspace.upsert(&batch.tables)?;
    workspace.replace(&model::SERVICES, &service_rows(config))?;
    let name = format!(
        "{}:{}:{}",
        request.namespace,
        import::ImportKind::NAMES[request.kind as usize],
        request.path.display()
    );
    workspace
        .record_source(&name, SourceState { last_run: Utc::now(), cursor: format!("rows={}", batch.rows_read) })?;
    Ok(ImportReport { path: request.path.clone(), kind: request.kind, rows_read: batch.rows_read, tables: stats })
}

/// Runs every source in the configuration, in order.
pub fn collect_configured(workspace: &mut Workspace, config: &Config) -> Result<Vec<ImportReport>> {
    let mut reports = Vec::new();
    for source in &config.sources {
        match source {
            Source::Import(s) => {
                let request = ImportRequest {
                    path: s.path.clone(),
                    kind: ImportKind::parse(&s.kind).expect("validated with the configuration"),
                    format: s.format.as_deref().and_then(Format::parse),
                    service: s.service.clone(),
                    namespace: s.namespace.clone(),
                };
                reports.push(import_file(workspace, config, &request)?);
            }
        }
    }
    workspace.replace(&model::SERVICES, &service_rows(config))?;
    Ok(reports)
}

/// The `services` table as configured.
pub fn service_rows(config: &Config) -> Vec<Row> {
    config
        .services
        .iter()
        .map(|s| {
            vec![
                Value::Text(s.name.clone()),
                Value::Text(s.repos.join(" ")),
                Value::Text(s.paths.join(" ")),
                Value::Text(s.production_environments.join(" ")),
            ]
        })
        .collect()
}
