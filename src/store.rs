//! The workspace: a directory of parquet tables, one per domain table, plus a manifest.
//!
//! Collected data is precious, so a write never leaves the workspace half-changed, however many
//! tables it touches. Every write is a *commit*: the new table files and the new manifest are first
//! written beside the live ones under staged names and synced; then a small journal naming the
//! renames is written atomically (the commit point); then the staged files are renamed into place
//! and the journal removed. A crash before the journal leaves the old workspace (the staged files
//! are swept away by the next writer); a crash after it is finished by the next writer that opens
//! the workspace, and read through by a reader in the meantime. An error after the commit point (a
//! rename that fails) does not undo the commit either: it is left to the journal, finished before
//! the same writer's next commit or by the next writer. Several writes (an import's tables,
//! the services it mirrors and its manifest entry) become one commit inside
//! [`Workspace::transaction`].
//!
//! Loading rows upserts them by the table's key and writes the table sorted by that key, so
//! collecting the same data twice leaves byte-identical tables. A writer takes an exclusive lock on
//! `lock`, refusing a second concurrent writer; the operating system drops it when the process dies,
//! even by `kill -9`. A reader takes no lock and creates nothing (a read-only workspace can be
//! read); it notices a commit made while it reads, and stops rather than mix two states.

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
/// The commit journal: present only between a commit's commit point and its last rename.
const JOURNAL: &str = "commit.json";
/// Suffix of a file written for a commit that has not switched yet.
const STAGED: &str = ".staged";

/// How many times [`Workspace::read_consistent`] reads again after meeting a commit.
pub const READ_RETRIES: u32 = 3;
/// The pause before the first read again; the next ones wait twice, three times as long.
const READ_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// What the workspace remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub schema_version: u32,
    /// Counts the commits that changed tables; a reader compares it to notice a concurrent commit.
    #[serde(default)]
    pub generation: u64,
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

/// The renames that finish a commit, each a file name in the workspace: staged → live.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    renames: Vec<(String, String)>,
}

/// Where a commit stops when a test simulates a crash (see [`Workspace::crash_commit_at`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStep {
    /// Every new file is staged, the journal is not written: the commit did not happen.
    BeforeJournal,
    /// The journal is written and the first table renamed into place: the commit happened.
    AfterFirstRename,
}

/// How the workspace was opened.
enum Access {
    /// Exclusive: holds the lock, may write.
    Writer { _lock: File },
    /// Shared, no lock: may only read. `seen` is what the workspace looked like when opened.
    Reader { seen: DiskState },
}

/// What a reader checks before and after reading a table to notice a concurrent commit.
#[derive(Debug, Clone, PartialEq)]
struct DiskState {
    journal: bool,
    generation: Option<u64>,
}

/// An open workspace: locked for writing, or unlocked for reading.
pub struct Workspace {
    root: PathBuf,
    manifest: Manifest,
    access: Access,
    /// Tables written in the open commit, by table name → their staged file.
    staged: BTreeMap<String, PathBuf>,
    /// The manifest changed in the open commit.
    manifest_changed: bool,
    /// Depth of nested [`Workspace::transaction`] calls; the outermost commits.
    depth: usize,
    /// For a reader that found an unfinished commit: live file name → its staged replacement.
    unfinished: BTreeMap<String, PathBuf>,
    crash_at: Option<CommitStep>,
}

impl Workspace {
    /// Opens a workspace that must already exist, for reading only: takes no lock and creates no
    /// file, so a read-only workspace can be read, and reading never waits for a writer.
    pub fn open_existing(root: &Path) -> Result<Workspace> {
        refuse_non_directory(root)?;
        if !root.join(MANIFEST).exists() && !root.join(LOCK).exists() {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                root.display()
            )));
        }
        let seen = disk_state(root)?;
        let unfinished = match read_journal(root)? {
            Some(journal) => journal
                .renames
                .into_iter()
                .map(|(staged, live)| (live, root.join(staged)))
                .filter(|(_, staged)| staged.exists())
                .collect(),
            None => BTreeMap::new(),
        };
        let manifest = read_manifest_first(root, &[unfinished.get(MANIFEST).cloned(), Some(root.join(MANIFEST))])?;
        Ok(Workspace {
            root: root.to_path_buf(),
            manifest,
            access: Access::Reader { seen },
            staged: BTreeMap::new(),
            manifest_changed: false,
            depth: 0,
            unfinished,
            crash_at: None,
        })
    }

    /// Opens the workspace at `root` for reading and runs `read` on it; when it fails and a writer
    /// committed while it read, opens it again and reads it again, up to [`READ_RETRIES`] times,
    /// pausing a little longer each time: a reader meeting a commit gets a consistent view of the
    /// workspace after it rather than an error.
    pub fn read_consistent<T>(root: &Path, mut read: impl FnMut(&Workspace) -> Result<T>) -> Result<T> {
        let mut retries = 0;
        loop {
            let workspace = Workspace::open_existing(root)?;
            match read(&workspace) {
                Ok(value) => return Ok(value),
                Err(_) if retries < READ_RETRIES && workspace.committed_since_opened() => {
                    retries += 1;
                    std::thread::sleep(READ_RETRY_PAUSE * retries);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// For a reader: whether a writer committed (or is committing) since the workspace was opened.
    fn committed_since_opened(&self) -> bool {
        match &self.access {
            Access::Reader { seen } => disk_state(&self.root).map_or(true, |now| now != *seen),
            Access::Writer { .. } => false,
        }
    }

    /// Opens (creating if needed) the workspace at `root` for writing and takes its lock; finishes
    /// a commit a crash interrupted after its commit point and sweeps away one interrupted before.
    pub fn open(root: &Path) -> Result<Workspace> {
        refuse_non_directory(root)?;
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
        if let Some(journal) = read_journal(root)? {
            finish_commit(root, &journal, None)?;
        }
        sweep_uncommitted(root)?;
        let manifest = read_manifest(root, &root.join(MANIFEST))?;
        Ok(Workspace {
            root: root.to_path_buf(),
            manifest,
            access: Access::Writer { _lock: lock },
            staged: BTreeMap::new(),
            manifest_changed: false,
            depth: 0,
            unfinished: BTreeMap::new(),
            crash_at: None,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Makes the next commit stop at `step` as if the process had been killed there, leaving the
    /// files as they are: for tests of crash safety only.
    #[doc(hidden)]
    pub fn crash_commit_at(&mut self, step: CommitStep) {
        self.crash_at = Some(step);
    }

    fn table_file(schema: &TableSchema) -> String {
        format!("{}.parquet", schema.name)
    }

    /// The files that may hold a table's current rows, as this workspace sees them, in the order to
    /// try them: the first that exists holds them.
    fn table_paths(&self, schema: &TableSchema) -> Vec<PathBuf> {
        let file = Workspace::table_file(schema);
        if let Some(staged) = self.staged.get(schema.name) {
            return vec![staged.clone()];
        }
        let live = self.root.join(&file);
        match self.unfinished.get(&file) {
            // The writer finishing that commit may rename the staged file into place at any moment:
            // then the live file holds the same rows.
            Some(staged) => vec![staged.clone(), live],
            None => vec![live],
        }
    }

    /// Whether any table has been written yet.
    pub fn is_empty(&self) -> bool {
        !crate::model::TABLES.iter().any(|t| self.table_paths(t).iter().any(|p| p.exists()))
    }

    /// Reads a table; a table never written reads as empty with the right columns.
    pub fn load(&self, schema: &TableSchema) -> Result<DataFrame> {
        self.check_unchanged()?;
        let df = self.read_table(schema)?;
        self.check_unchanged()?;
        Ok(df)
    }

    /// For a reader: fails when a writer committed since the workspace was opened, so that tables
    /// read before and after that commit are never mixed.
    fn check_unchanged(&self) -> Result<()> {
        let Access::Reader { seen } = &self.access else {
            return Ok(());
        };
        if disk_state(&self.root)? != *seen {
            return Err(Error::Workspace {
                path: self.root.clone(),
                message: "another flowgauge run wrote to it while it was being read; run the command again".into(),
            });
        }
        Ok(())
    }

    fn read_table(&self, schema: &TableSchema) -> Result<DataFrame> {
        let Some((path, file)) = open_first(&self.table_paths(schema))? else {
            return rows_to_frame(schema, &[]);
        };
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

    /// Runs `work` as one commit: every table it writes and the manifest entries it records become
    /// visible together, or (when it fails, or the process dies before the commit point) none do.
    /// Nested calls join the outermost one.
    pub fn transaction<T>(&mut self, work: impl FnOnce(&mut Workspace) -> Result<T>) -> Result<T> {
        if !matches!(self.access, Access::Writer { .. }) {
            return Err(Error::Workspace {
                path: self.root.clone(),
                message: "opened for reading only; it cannot be written".into(),
            });
        }
        if self.depth == 0 {
            self.finish_pending_commit()?;
        }
        let before = (self.depth == 0).then(|| self.manifest.clone());
        self.depth += 1;
        let result = work(self);
        self.depth -= 1;
        let Some(before) = before else {
            return result;
        };
        let undecided = result.and_then(|value| self.prepare_commit().map(|journal| (value, journal)));
        match undecided {
            Err(e) => {
                if self.crash_at.is_none() {
                    self.abandon(before);
                }
                Err(e)
            }
            Ok((value, None)) => Ok(value),
            // Past the commit point the commit is decided: a failed rename is not undone but left
            // for the next transaction or the next writer to finish from the journal.
            Ok((value, Some(journal))) => finish_commit(&self.root, &journal, self.crash_at).map(|()| value),
        }
    }

    /// Finishes a commit whose renames failed after its commit point (its journal is still there),
    /// so that a new commit starts from the workspace that commit decided.
    fn finish_pending_commit(&mut self) -> Result<()> {
        if let Some(journal) = read_journal(&self.root)? {
            finish_commit(&self.root, &journal, None)?;
        }
        Ok(())
    }

    /// Forgets an uncommitted transaction: its staged files go, the manifest is as before.
    fn abandon(&mut self, before: Manifest) {
        for (_, path) in std::mem::take(&mut self.staged) {
            let _ = fs::remove_file(path);
        }
        let _ = fs::remove_file(self.root.join(format!("{MANIFEST}{STAGED}")));
        self.manifest = before;
        self.manifest_changed = false;
    }

    /// Stages the manifest and writes the journal (the commit point, see the module comment),
    /// returning the journal whose renames switch the workspace to the staged files; `None` when
    /// the commit is already whole (nothing changed, or only the manifest, written at once).
    fn prepare_commit(&mut self) -> Result<Option<Journal>> {
        if self.staged.is_empty() {
            if self.manifest_changed {
                write_synced(&self.root, MANIFEST, manifest_text(&self.manifest).as_bytes())?;
                self.manifest_changed = false;
            }
            return Ok(None);
        }
        self.manifest.generation += 1;
        let staged_manifest = format!("{MANIFEST}{STAGED}");
        write_file_synced(&self.root.join(&staged_manifest), manifest_text(&self.manifest).as_bytes())?;
        let mut renames: Vec<(String, String)> =
            self.staged.iter().map(|(table, path)| (file_name(path), format!("{table}.parquet"))).collect();
        renames.push((staged_manifest, MANIFEST.to_string()));
        if self.crash_at == Some(CommitStep::BeforeJournal) {
            return Err(simulated_crash(&self.root));
        }
        let journal = Journal { renames };
        write_synced(&self.root, JOURNAL, serde_json::to_string(&journal).expect("journal serialises").as_bytes())?;
        self.staged.clear();
        self.manifest_changed = false;
        Ok(Some(journal))
    }

    /// Upserts several tables' rows by key, in one commit. Every frame is built before anything is
    /// written, so a row that cannot be stored leaves every table as it was.
    pub fn upsert(&mut self, batches: &[(&TableSchema, Vec<Row>)]) -> Result<Vec<UpsertStats>> {
        self.transaction(|ws| {
            let mut staged = Vec::new();
            for (schema, rows) in batches {
                if rows.is_empty() {
                    continue;
                }
                let existing = ws.load(schema)?;
                let before = existing.height();
                let incoming = rows_to_frame(schema, rows)?;
                let merged = merge_by_key(schema, existing, incoming)?;
                staged.push((*schema, merged, before, rows.len()));
            }
            let mut stats = Vec::new();
            for (schema, mut df, before, incoming) in staged {
                ws.stage_table(schema, &mut df)?;
                stats.push(UpsertStats { table: schema.name, incoming, before, after: df.height() });
            }
            Ok(stats)
        })
    }

    /// Replaces a whole table with `rows` (for tables that mirror the configuration, like `services`,
    /// where something removed must disappear rather than linger).
    pub fn replace(&mut self, schema: &TableSchema, rows: &[Row]) -> Result<()> {
        self.transaction(|ws| {
            let empty = rows_to_frame(schema, &[])?;
            let mut df = merge_by_key(schema, empty, rows_to_frame(schema, rows)?)?;
            ws.stage_table(schema, &mut df)
        })
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
        self.transaction(|ws| {
            let existing = ws.load(schema)?;
            let before = existing.height();
            let kept = existing
                .lazy()
                .filter(col(column).str().starts_with(lit(prefix.to_string())).not().or(col(column).is_null()))
                .collect()?;
            let mut df = merge_by_key(schema, kept, rows_to_frame(schema, rows)?)?;
            ws.stage_table(schema, &mut df)?;
            Ok(UpsertStats { table: schema.name, incoming: rows.len(), before, after: df.height() })
        })
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
        self.transaction(|ws| {
            let mut df = ws.load(schema)?;
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
                ws.stage_table(schema, &mut df)?;
            }
            Ok(changed)
        })
    }

    /// Writes a table's new rows beside the live file, for the open commit to switch to.
    fn stage_table(&mut self, schema: &TableSchema, df: &mut DataFrame) -> Result<()> {
        let path = self.root.join(format!("{}{STAGED}", Workspace::table_file(schema)));
        let mut file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        ParquetWriter::new(&mut file).finish(df)?;
        file.flush().map_err(|e| Error::io(&path, e))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        self.staged.insert(schema.name.to_string(), path);
        Ok(())
    }

    /// Records a source's cursor; the manifest is written with the commit it belongs to (at once
    /// outside a transaction).
    pub fn record_source(&mut self, name: &str, state: SourceState) -> Result<()> {
        self.transaction(|ws| {
            ws.manifest.sources.insert(name.to_string(), state);
            ws.manifest_changed = true;
            Ok(())
        })
    }
}

/// A path that exists but is not a directory cannot be a workspace; say so rather than let the
/// operating system say "File exists" or the reader say "holds no data".
fn refuse_non_directory(root: &Path) -> Result<()> {
    if root.exists() && !root.is_dir() {
        return Err(Error::Workspace {
            path: root.to_path_buf(),
            message: "is a file, not a workspace directory; pass --workspace DIR naming a directory".into(),
        });
    }
    Ok(())
}

fn read_manifest(root: &Path, path: &Path) -> Result<Manifest> {
    read_manifest_first(root, &[Some(path.to_path_buf())])
}

fn parse_manifest(root: &Path, path: &Path, text: &str) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_str(text)
        .map_err(|e| Error::Workspace { path: path.to_path_buf(), message: format!("manifest is not valid: {e}") })?;
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(Error::Workspace {
            path: root.to_path_buf(),
            message: format!(
                "written with schema version {}, this flowgauge uses {SCHEMA_VERSION}; collect into a new workspace",
                manifest.schema_version
            ),
        });
    }
    Ok(manifest)
}

/// Reads the manifest from the first of `paths` that exists (a reader's view of an unfinished
/// commit: its staged manifest, or the live one once the writer renamed it into place).
fn read_manifest_first(root: &Path, paths: &[Option<PathBuf>]) -> Result<Manifest> {
    for path in paths.iter().flatten() {
        match fs::read_to_string(path) {
            Ok(text) => return parse_manifest(root, path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(Manifest { schema_version: SCHEMA_VERSION, generation: 0, sources: BTreeMap::new() })
}

/// Opens the first of `paths` that exists; trying and opening are one step, so a file renamed away
/// in between is not taken for a missing one.
fn open_first(paths: &[PathBuf]) -> Result<Option<(PathBuf, File)>> {
    for path in paths {
        match File::open(path) {
            Ok(file) => return Ok(Some((path.clone(), file))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(None)
}

fn manifest_text(manifest: &Manifest) -> String {
    serde_json::to_string_pretty(manifest).expect("manifest serialises")
}

/// The journal of a commit a crash interrupted after its commit point, if any.
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

/// Renames a commit's staged files into place (those already renamed are skipped, so finishing
/// twice is harmless), then removes the journal.
fn finish_commit(root: &Path, journal: &Journal, crash_at: Option<CommitStep>) -> Result<()> {
    for (staged, live) in &journal.renames {
        let from = root.join(staged);
        if from.exists() {
            let to = root.join(live);
            fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            if crash_at == Some(CommitStep::AfterFirstRename) {
                return Err(simulated_crash(root));
            }
        }
    }
    sync_directory(root);
    let path = root.join(JOURNAL);
    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    sync_directory(root);
    Ok(())
}

/// Removes what a commit interrupted before its commit point left behind: staged and temporary
/// files, which no manifest or journal names.
fn sweep_uncommitted(root: &Path) -> Result<()> {
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

fn disk_state(root: &Path) -> Result<DiskState> {
    let manifest = root.join(MANIFEST);
    let generation = if manifest.exists() { Some(read_manifest(root, &manifest)?.generation) } else { None };
    Ok(DiskState { journal: root.join(JOURNAL).exists(), generation })
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("staged files have names").to_string_lossy().into_owned()
}

fn simulated_crash(root: &Path) -> Error {
    Error::Workspace { path: root.to_path_buf(), message: "commit stopped by a simulated crash".into() }
}

/// Writes `bytes` to `path` and syncs it to disk.
fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Replaces the workspace file `name` atomically: a synced temporary file renamed over it.
fn write_synced(root: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = root.join(format!(".{name}.tmp"));
    write_file_synced(&tmp, bytes)?;
    let path = root.join(name);
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_directory(root);
    Ok(())
}

/// Makes renames in `dir` durable. Best effort: some file systems cannot sync a directory, and the
/// journal is what makes a commit safe, not this.
fn sync_directory(dir: &Path) {
    let _ = File::open(dir).and_then(|d| d.sync_all());
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
