//! The workspace as flowgauge wrote it before partitions (schema version 1): one `TABLE.parquet` per
//! table at the top of the workspace, switched in by the commit journal `commit.json` (staged files
//! renamed over the live ones). A reader reads such a workspace as it is, reading through an
//! unfinished commit's staged files; the first writer migrates it to partitions in one commit.
//!
//! The migration is crash-safe like any commit: the journal of an unfinished old commit is finished
//! first; every table is then split into partition files named by no manifest; the new manifest
//! (schema version 2) replaced over the old one is the commit point; the old table files go last. A
//! crash before the commit point leaves the old workspace whole (the next writer migrates it again
//! and sweeps the unnamed partition files away); a crash after it leaves the new one, whose next
//! exclusive writer removes the old files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use serde::Deserialize;

use super::{CommitStep, MANIFEST, MANIFEST_TMP, Manifest, SCHEMA_VERSION};
use crate::error::{Error, Result};
use crate::model::{self, TableSchema};

/// The schema version of the old layout.
pub const VERSION: u32 = 1;
/// The old commit journal: present only between an old commit's commit point and its last rename.
const JOURNAL: &str = "commit.json";
/// Suffix of an old commit's files before they were switched in.
const STAGED: &str = ".staged";

/// The renames that finish an old commit, each a file name in the workspace: staged → live.
#[derive(Debug, Deserialize)]
struct Journal {
    renames: Vec<(String, String)>,
}

pub fn journal_exists(root: &Path) -> bool {
    root.join(JOURNAL).exists()
}

fn table_file(schema: &TableSchema) -> String {
    format!("{}.parquet", schema.name)
}

/// Whether the workspace is in the old layout: its manifest says version 1, an old commit is
/// unfinished, or (written before manifests had versions that mattered) it has old table files
/// and no manifest.
pub fn needs_migration(root: &Path) -> Result<bool> {
    if journal_exists(root) {
        return Ok(true);
    }
    match super::read_manifest(root)? {
        Some(manifest) => Ok(manifest.schema_version == VERSION),
        None => Ok(model::TABLES.iter().any(|t| root.join(table_file(t)).exists())),
    }
}

/// A reader's view of a workspace in the old layout.
pub struct Tables {
    root: PathBuf,
    /// For an unfinished old commit: live file name → its staged replacement.
    unfinished: BTreeMap<String, PathBuf>,
}

impl Tables {
    /// The manifest and tables of a workspace in the old layout; `None` for one in the new layout.
    pub fn find(root: &Path) -> Result<Option<(Manifest, Tables)>> {
        if !needs_migration(root)? {
            return Ok(None);
        }
        let unfinished: BTreeMap<String, PathBuf> = match read_journal(root)? {
            Some(journal) => journal
                .renames
                .into_iter()
                .map(|(staged, live)| (live, root.join(staged)))
                .filter(|(_, staged)| staged.exists())
                .collect(),
            None => BTreeMap::new(),
        };
        let mut manifest = None;
        for path in [unfinished.get(MANIFEST).cloned(), Some(root.join(MANIFEST))].into_iter().flatten() {
            match fs::read_to_string(&path) {
                Ok(text) => {
                    manifest = Some(super::parse_manifest(root, &path, &text)?);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        let manifest = manifest.unwrap_or(Manifest { schema_version: VERSION, ..Manifest::empty() });
        Ok(Some((manifest, Tables { root: root.to_path_buf(), unfinished })))
    }

    /// The files that may hold a table's rows, in the order to try them: the first that exists.
    fn paths(&self, schema: &TableSchema) -> Vec<PathBuf> {
        let file = table_file(schema);
        let live = self.root.join(&file);
        match self.unfinished.get(&file) {
            // The writer finishing that commit may rename the staged file into place at any moment:
            // then the live file holds the same rows.
            Some(staged) => vec![staged.clone(), live],
            None => vec![live],
        }
    }

    pub fn is_empty(&self) -> bool {
        !model::TABLES.iter().any(|t| self.paths(t).iter().any(|p| p.exists()))
    }

    pub fn read(&self, schema: &TableSchema) -> Result<DataFrame> {
        for path in self.paths(schema) {
            match super::read_parquet(schema, &path) {
                Err(Error::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => continue,
                other => return other,
            }
        }
        super::rows_to_frame(schema, &[])
    }
}

/// Migrates a workspace in the old layout (see the module comment). `crash_at` stops it as if the
/// process had been killed there (tests only). The caller holds the commit lock.
pub fn migrate(root: &Path, crash_at: Option<CommitStep>) -> Result<()> {
    if let Some(journal) = read_journal(root)? {
        finish_journal(root, &journal)?;
    }
    sweep_staged(root)?;
    let old = super::read_manifest(root)?.unwrap_or_else(Manifest::empty);
    let mut tables = BTreeMap::new();
    for schema in model::TABLES {
        let path = root.join(table_file(schema));
        if !path.exists() {
            continue;
        }
        let df = super::read_parquet(schema, &path)?;
        let mut partitions = BTreeMap::new();
        for (scope, mut rows) in super::partition::split(schema, &df)? {
            partitions.insert(scope.clone(), super::write_partition(root, schema, &scope, &mut rows)?);
        }
        if !partitions.is_empty() {
            tables.insert(schema.name.to_string(), partitions);
        }
    }
    let next =
        Manifest { schema_version: SCHEMA_VERSION, generation: old.generation + 1, sources: old.sources, tables };
    super::write_file_synced(&root.join(MANIFEST_TMP), super::manifest_text(&next).as_bytes())?;
    if crash_at == Some(CommitStep::BeforeJournal) {
        return Err(super::simulated_crash(root));
    }
    let live = root.join(MANIFEST);
    fs::rename(root.join(MANIFEST_TMP), &live).map_err(|e| Error::io(&live, e))?;
    super::sync_directory(root);
    if crash_at == Some(CommitStep::AfterFirstRename) {
        return Err(super::simulated_crash(root));
    }
    sweep_leftovers(root)
}

/// Removes the old layout's table files from a migrated workspace (a migration that crashed after
/// its commit point leaves them), and old staged and temporary files.
pub fn sweep_leftovers(root: &Path) -> Result<()> {
    for schema in model::TABLES {
        let path = root.join(table_file(schema));
        if path.is_file() {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    sweep_staged(root)
}

/// Removes what an old commit interrupted before its commit point left behind.
fn sweep_staged(root: &Path) -> Result<()> {
    let entries = fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.ends_with(STAGED) || (name.starts_with('.') && name.ends_with(".tmp"));
        if leftover && entry.path().is_file() {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// The journal of an old commit a crash interrupted after its commit point, if any.
fn read_journal(root: &Path) -> Result<Option<Journal>> {
    let path = root.join(JOURNAL);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|e| Error::Workspace { path: path.clone(), message: format!("commit journal is not valid: {e}") })?;
    // The journal names files in the workspace itself; anything else is not one flowgauge wrote.
    let plain = |name: &str| !name.is_empty() && Path::new(name).file_name() == Some(name.as_ref());
    if !journal.renames.iter().all(|(from, to)| plain(from) && plain(to)) {
        return Err(Error::Workspace { path, message: "commit journal names files outside the workspace".into() });
    }
    Ok(Some(journal))
}

/// Renames an old commit's staged files into place (those already renamed are skipped), then
/// removes the journal.
fn finish_journal(root: &Path, journal: &Journal) -> Result<()> {
    for (staged, live) in &journal.renames {
        let from = root.join(staged);
        if from.exists() {
            let to = root.join(live);
            fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
    }
    super::sync_directory(root);
    let path = root.join(JOURNAL);
    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    super::sync_directory(root);
    Ok(())
}
