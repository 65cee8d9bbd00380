//! The workspace: a directory of parquet tables, one per domain table, plus a manifest.
//!
//! Collected data is precious, so every write goes to a temporary file that is synced and then
//! renamed over the old one: a reader (or a crash) sees the old table or the new one, never half of
//! either. Loading rows upserts them by the table's key and writes the table sorted by that key, so
//! collecting the same data twice leaves byte-identical tables. An exclusive lock on `lock` refuses a
//! second concurrent run; the operating system drops it when the process dies, even by `kill -9`.

use std::collections::BTreeMap;
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ColumnType, Row, TableSchema, Value};

/// Version of the table layout; bumped whenever a column changes meaning or type.
pub const SCHEMA_VERSION: u32 = 1;

const MANIFEST: &str = "manifest.json";
const LOCK: &str = "lock";

/// What the workspace remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub schema_version: u32,
    /// Per-source sync state, keyed by a source's stable name (e.g. `import:deployments:/path`).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceState>,
}

/// Sync cursor of one source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceState {
    pub last_run: DateTime<Utc>,
    /// Source-specific cursor (for imports: the rows read from the file).
    pub cursor: String,
    /// What the last run of this source found wrong with its data (a shallow clone, missing blobs, a
    /// truncated listing): kept so that every later report can say which figures it weakens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::model::DataWarning>,
}

/// An open, locked workspace.
pub struct Workspace {
    root: PathBuf,
    manifest: Manifest,
    _lock: File,
}

impl Workspace {
    /// Opens a workspace that must already exist (for commands that only read).
    pub fn open_existing(root: &Path) -> Result<Workspace> {
        if !root.join(MANIFEST).exists() && !root.join(LOCK).exists() {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                root.display()
            )));
        }
        Workspace::open(root)
    }

    /// Opens (creating if needed) the workspace at `root` and takes its lock.
    pub fn open(root: &Path) -> Result<Workspace> {
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let lock_path = root.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::WorkspaceLocked { workspace: root.to_path_buf(), lock: lock_path });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let manifest_path = root.join(MANIFEST);
        let manifest = if manifest_path.exists() {
            let text = fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
            let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Workspace {
                path: manifest_path.clone(),
                message: format!("manifest is not valid: {e}"),
            })?;
            if manifest.schema_version != SCHEMA_VERSION {
                return Err(Error::Workspace {
                    path: root.to_path_buf(),
                    message: format!(
                        "written with schema version {}, this flowgauge uses {SCHEMA_VERSION}; collect into a new workspace",
                        manifest.schema_version
                    ),
                });
            }
            manifest
        } else {
            Manifest { schema_version: SCHEMA_VERSION, sources: BTreeMap::new() }
        };
        Ok(Workspace { root: root.to_path_buf(), manifest, _lock: lock })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn table_path(&self, schema: &TableSchema) -> PathBuf {
        self.root.join(format!("{}.parquet", schema.name))
    }

    /// Whether any table has been written yet.
    pub fn is_empty(&self) -> bool {
        !crate::model::TABLES.iter().any(|t| self.table_path(t).exists())
    }

    /// Reads a table; a table never written reads as empty with the right columns.
    pub fn load(&self, schema: &TableSchema) -> Result<DataFrame> {
        let path = self.table_path(schema);
        if !path.exists() {
            return rows_to_frame(schema, &[]);
        }
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| Error::Workspace { path: path.clone(), message: format!("cannot read table: {e}") })?;
        let expected: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
        let found: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
        if expected == found {
            return Ok(df);
        }
        // A workspace written by an earlier version lacks optional columns added since: they read
        // as empty. Anything else (a missing required column, a column this version does not know)
        // is not a workspace this version can trust.
        let upgradable = found.iter().all(|f| expected.contains(f))
            && schema.columns.iter().all(|c| !c.required || found.contains(&c.name));
        if !upgradable {
            return Err(Error::Workspace {
                path,
                message: format!("columns {found:?} do not match this version's {expected:?}"),
            });
        }
        let empty = rows_to_frame(schema, &[])?;
        let columns: Vec<Column> = expected
            .iter()
            .map(|name| match df.column(name) {
                Ok(c) => c.clone(),
                Err(_) => {
                    let dtype = empty.column(name).expect("schema column").dtype().clone();
                    Column::full_null((*name).into(), df.height(), &dtype)
                }
            })
            .collect();
        Ok(DataFrame::new(df.height(), columns)?)
    }

    /// Upserts several tables' rows by key. Every frame is built before anything is written, so a
    /// row that cannot be stored leaves every table as it was.
    pub fn upsert(&mut self, batches: &[(&TableSchema, Vec<Row>)]) -> Result<Vec<UpsertStats>> {
        let mut staged = Vec::new();
        for (schema, rows) in batches {
            if rows.is_empty() {
                continue;
            }
            let existing = self.load(schema)?;
            let before = existing.height();
            let incoming = rows_to_frame(schema, rows)?;
            let merged = merge_by_key(schema, existing, incoming)?;
            staged.push((*schema, merged, before, rows.len()));
        }
        let mut stats = Vec::new();
        for (schema, mut df, before, incoming) in staged {
            self.write_table(schema, &mut df)?;
            stats.push(UpsertStats { table: schema.name, incoming, before, after: df.height() });
        }
        Ok(stats)
    }

    /// Replaces a whole table with `rows` (for tables that mirror the configuration, like `services`,
    /// where something removed must disappear rather than linger).
    pub fn replace(&mut self, schema: &TableSchema, rows: &[Row]) -> Result<()> {
        let empty = rows_to_frame(schema, &[])?;
        let mut df = merge_by_key(schema, empty, rows_to_frame(schema, rows)?)?;
        self.write_table(schema, &mut df)
    }

    /// Replaces the rows whose `column` starts with `prefix` with `rows`, keeping every other row:
    /// for snapshots (a repository's configuration scan, a forge's settings) in a table shared by
    /// several sources, where something removed upstream must disappear rather than linger.
    pub fn replace_prefixed(
        &mut self,
        schema: &TableSchema,
        column: &str,
        prefix: &str,
        rows: &[Row],
    ) -> Result<UpsertStats> {
        let existing = self.load(schema)?;
        let before = existing.height();
        let kept = existing
            .lazy()
            .filter(col(column).str().starts_with(lit(prefix.to_string())).not().or(col(column).is_null()))
            .collect()?;
        let mut df = merge_by_key(schema, kept, rows_to_frame(schema, rows)?)?;
        self.write_table(schema, &mut df)?;
        Ok(UpsertStats { table: schema.name, incoming: rows.len(), before, after: df.height() })
    }

    /// Sets the boolean `flag` to true on the rows whose key (a one-column key) is in `keys`,
    /// leaving every other cell as it is: for facts a source learns only after the rows were
    /// written (a deployment is a rollback once a later one is seen). Returns the rows changed.
    pub fn mark(
        &mut self,
        schema: &TableSchema,
        flag: &str,
        keys: &std::collections::HashSet<String>,
    ) -> Result<usize> {
        let mut df = self.load(schema)?;
        let ids = df.column(schema.key[0])?.str()?.clone();
        let current = df.column(flag)?.bool()?.clone();
        let mut changed = 0;
        let values: BooleanChunked = ids
            .iter()
            .zip(current.iter())
            .map(|(id, value)| match id {
                Some(id) if keys.contains(id) => {
                    if value != Some(true) {
                        changed += 1;
                    }
                    Some(true)
                }
                _ => value,
            })
            .collect();
        if changed > 0 {
            df.with_column(Column::from(values.into_series().with_name(flag.into())))?;
            self.write_table(schema, &mut df)?;
        }
        Ok(changed)
    }

    fn write_table(&self, schema: &TableSchema, df: &mut DataFrame) -> Result<()> {
        let path = self.table_path(schema);
        let tmp = self.root.join(format!(".{}.parquet.tmp", schema.name));
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        ParquetWriter::new(&mut file).finish(df)?;
        file.flush().map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Records a source's cursor and writes the manifest atomically.
    pub fn record_source(&mut self, name: &str, state: SourceState) -> Result<()> {
        self.manifest.sources.insert(name.to_string(), state);
        let path = self.root.join(MANIFEST);
        let tmp = self.root.join(".manifest.json.tmp");
        let text = serde_json::to_string_pretty(&self.manifest).expect("manifest serialises");
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        file.write_all(text.as_bytes()).map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }
}

/// What an upsert did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertStats {
    pub table: &'static str,
    pub incoming: usize,
    pub before: usize,
    pub after: usize,
}

/// Keeps the last row for every key and sorts by key, so the result does not depend on load order.
fn merge_by_key(schema: &TableSchema, existing: DataFrame, incoming: DataFrame) -> Result<DataFrame> {
    let key_exprs: Vec<Expr> = schema.key.iter().map(|k| col(*k)).collect();
    let merged = concat([existing.lazy(), incoming.lazy()], UnionArgs::default())?
        .unique_stable_generic(Some(key_exprs.clone()), UniqueKeepStrategy::Last)
        .sort_by_exprs(key_exprs, SortMultipleOptions::default())
        .collect()?;
    Ok(merged)
}

/// Builds a frame with the schema's columns and types from rows already validated against it.
pub fn rows_to_frame(schema: &TableSchema, rows: &[Row]) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(schema.columns.len());
    for (i, column) in schema.columns.iter().enumerate() {
        let name = PlSmallStr::from(column.name);
        let series = match column.kind {
            ColumnType::Text => Series::new(
                name,
                rows.iter()
                    .map(|r| match &r[i] {
                        Value::Text(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            ColumnType::Int => Series::new(
                name,
                rows.iter()
                    .map(|r| match r[i] {
                        Value::Int(v) => Some(v),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            ColumnType::Float => Series::new(
                name,
                rows.iter()
                    .map(|r| match r[i] {
                        Value::Float(v) => Some(v),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            ColumnType::Bool => Series::new(
                name,
                rows.iter()
                    .map(|r| match r[i] {
                        Value::Bool(v) => Some(v),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ),
            ColumnType::Time => Series::new(
                name,
                rows.iter()
                    .map(|r| match r[i] {
                        Value::Time(t) => Some(t.timestamp_micros()),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?,
        };
        columns.push(series.into_column());
    }
    Ok(DataFrame::new(rows.len(), columns)?)
}
