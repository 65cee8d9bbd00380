//! The workspace: a directory of hive-partitioned parquet tables plus a manifest naming the live files.
//!
//! Collected data is precious, so a write never leaves the workspace half-changed, however many
//! tables or partitions it touches. Each table is split into partitions by *scope* (the source and
//! repository or project a row came from, see [`partition`]), one parquet file per partition under
//! `tables/<table>/scope=<scope>/`; a write rewrites only the partitions it touches. Every write is a
//! *commit*: the new partition files are written under names never used before and synced, then the
//! manifest listing every live file is replaced at once (written beside and renamed over the old one:
//! the commit point). A crash before that leaves the old manifest, which does not name the new files
//! (the next exclusive writer sweeps them away); after it, the files the commit replaced are no longer
//! named and are removed. Several writes (an import's tables, the services it mirrors and its
//! manifest entry) become one commit inside [`Workspace::transaction`].
//!
//! Loading rows upserts them by the table's key and writes each partition sorted by that key, so
//! collecting the same data twice leaves byte-identical partitions (an unchanged partition is not
//! written at all). An upsert costs in proportion to its rows, not to the partition: it appends a
//! file of its new and changed rows, which supersedes the rows of the keys it changes (merge-on-read:
//! readers keep the row of the latest file holding a key, see [`newest_wins`]); the key indexes
//! ([`key_index`]) tell new, changed and unchanged rows apart without reading the partition. Now and
//! then (see [`MAX_APPENDED`], [`SUPERSEDING_SHARE`]) a partition is written whole again. A writer opened with [`Workspace::open`] takes an exclusive lock on `lock`,
//! refusing every other writer; one opened with [`Workspace::open_shared`] (sharded collection,
//! several processes each collecting its own sources) takes a shared lock, so shared writers run
//! side by side, and commits under a short exclusive lock on `commit.lock`: a commit made on a
//! manifest another writer has since replaced keeps that writer's partitions and re-applies its own
//! operations to any partition both touched (compare and retry, never last writer wins). The
//! operating system drops the locks when the process dies, even by `kill -9`. A reader takes no lock
//! and creates nothing (a read-only workspace can be read); it notices a commit made while it reads,
//! and stops rather than mix two states. A workspace written by an earlier flowgauge (one file per
//! table, `schema_version` 1) is migrated by the first writer that opens it, in one commit
//! ([`legacy`]).
//!
//! The files may also be in a bucket of an object store (`s3://`, `gs://`, `az://`), behind the
//! same few operations ([`storage`]): there no lock exists and no rename, so every writer is a
//! shared one and the manifest is replaced by a conditional put that fails when another writer
//! committed first (the commit is then computed again on top of it); files no manifest names are
//! swept only once older than [`SWEEP_GRACE`]; what is not a table (raw pages) is kept in a local
//! mirror, uploaded after every commit.

mod content_hash;
mod key_index;
mod legacy;
pub mod partition;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ColumnType, Row, TableSchema, Value};

pub use partition::scope_of;
use storage::{ManifestVersion, Mirror, Storage, Swap};

/// Version of the workspace layout; bumped whenever a column changes meaning or type or the files
/// move. Version 1 kept one file per table at the top of the workspace (migrated on open).
pub const SCHEMA_VERSION: u32 = 2;

const MANIFEST: &str = "manifest.json";
/// The next manifest while it is written, before it is renamed over the live one.
const MANIFEST_TMP: &str = ".manifest.json.tmp";
const LOCK: &str = "lock";
/// Held (exclusively, briefly) while a commit reads and replaces the manifest.
const COMMIT_LOCK: &str = "commit.lock";
/// The directory holding every table's partitions.
const TABLES: &str = "tables";

/// How long a file of an object-store workspace that no manifest names is left alone before a
/// writer opening the workspace removes it: another writer's commit in the making has files no
/// manifest names yet, and no commit takes this long.
pub const SWEEP_GRACE: chrono::Duration = chrono::Duration::hours(1);
/// How many times a commit on an object store computes itself again after another writer replaced
/// the manifest first, before saying the workspace is too busy.
const COMMIT_ATTEMPTS: u32 = 50;

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
    /// The live partitions: table name → scope → its file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, BTreeMap<String, PartitionFile>>,
}

impl Manifest {
    fn empty() -> Manifest {
        Manifest { schema_version: SCHEMA_VERSION, generation: 0, sources: BTreeMap::new(), tables: BTreeMap::new() }
    }

    fn partitions(&self, table: &str) -> Option<&BTreeMap<String, PartitionFile>> {
        self.tables.get(table)
    }
}

/// One live partition: a file, plus the files of rows appended to it since it was last written whole.
///
/// A key is in one file, except that a *superseding* appended file may hold keys of earlier files
/// (rows an upsert updated): then the row of the latest file holding the key is the partition's
/// (readers drop the others, see [`newest_wins`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionFile {
    /// Path relative to the workspace, `/`-separated: `tables/<table>/scope=<scope>/part-….parquet`.
    pub file: String,
    /// Rows in the partition, appended files included, each key once (superseded rows not counted).
    pub rows: u64,
    /// Files of rows appended by upserts in the same directory since the partition was written whole
    /// (new rows, and changed rows of keys it held), oldest first, each sorted by key; at most
    /// [`MAX_APPENDED`], then the partition is written whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub appended: Vec<String>,
    /// Those of the appended files that may hold keys of earlier files (an upsert updated rows):
    /// the rows of earlier files with a key one of them holds are superseded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseding: Vec<String>,
    /// Rows in the superseding files: above a quarter of [`PartitionFile::rows`], an upsert writes
    /// the partition whole (see [`SUPERSEDING_SHARE`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub superseding_rows: u64,
    /// The key indexes of those files that have one (`part-….keys` beside `part-….parquet`, see
    /// [`key_index`]): an upsert looks its keys up there instead of reading the files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_indexes: Vec<String>,
    /// The fingerprint of the partition's rows, superseded rows left out (see [`content_hash`]): an
    /// upsert of as many rows with the same fingerprint changes nothing, and is recognised without
    /// reading the partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

impl PartitionFile {
    /// Every file holding the partition's rows.
    pub fn files(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.file).chain(&self.appended)
    }

    /// Every file of the partition: those holding its rows and their key indexes.
    pub fn stored_files(&self) -> impl Iterator<Item = &String> {
        self.files().chain(&self.key_indexes)
    }
}

/// How many appended files a partition may have before an upsert writes it whole again: the reads
/// of a partition stay few, and an upsert of new rows stays in proportion to the rows most times.
pub const MAX_APPENDED: usize = 16;

/// The share of a partition's rows its superseding files may hold before an upsert writes it whole
/// (dropping the superseded rows): one quarter. A reader then reads at most a quarter more rows
/// than the partition has, and the whole write it costs comes after updates of at least a quarter
/// of the partition, so that an update costs a constant times its rows, however big the partition.
pub const SUPERSEDING_SHARE: (u64, u64) = (1, 4);

fn is_zero(n: &u64) -> bool {
    *n == 0
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

/// Where a commit (or the migration of an old workspace) stops when a test simulates a crash (see
/// [`Workspace::crash_commit_at`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitStep {
    /// Every new file is written and synced, the manifest is not replaced: the commit did not happen.
    BeforeJournal,
    /// The manifest is replaced, the files it no longer names are not removed yet: the commit happened.
    AfterFirstRename,
}

/// How the workspace was opened.
enum Access {
    /// May write; holds `lock`, exclusively or (for sharded collection) shared. On an object store
    /// there is no lock, and every writer is a shared one (its commits compare and retry).
    Writer { _lock: Option<File>, shared: bool },
    /// No lock: may only read. `seen` is what the workspace looked like when opened.
    Reader { seen: DiskState },
}

/// What a reader checks before and after reading a table to notice a concurrent commit.
#[derive(Debug, Clone, PartialEq)]
struct DiskState {
    journal: bool,
    generation: Option<u64>,
}

/// One write to a table, kept by a shared writer so that it can be applied again to a partition
/// another writer changed before this one committed.
enum Operation {
    /// Rows upserted by key, by scope.
    Upsert(BTreeMap<String, DataFrame>),
    /// The whole table replaced by these rows, by scope.
    Replace(BTreeMap<String, DataFrame>),
    /// The rows whose `column` starts with `prefix` replaced by `rows` (by scope).
    ReplacePrefixed { column: String, prefix: String, rows: BTreeMap<String, DataFrame> },
    /// `flag` set on the rows with these keys.
    Mark { flag: String, keys: HashSet<String> },
}

/// What the open transaction changed in one table.
struct TableChange {
    schema: TableSchema,
    /// Scope → the partition file written for it, or `None` when the partition is emptied.
    partitions: BTreeMap<String, Option<PartitionFile>>,
    /// Scope → the partition its new rows were computed from (`None`: it was empty): when the
    /// manifest names another for it at commit time, another writer changed it meanwhile.
    parents: BTreeMap<String, Option<PartitionFile>>,
    /// The operations, in order (shared writers only).
    operations: Vec<Operation>,
}

/// An open workspace: locked for writing, or unlocked for reading.
pub struct Workspace {
    /// The local directory of the workspace's files; for an object store, the mirror of what is
    /// not a table (raw pages, snapshots), see [`storage::Mirror`].
    root: PathBuf,
    /// Where the tables and the manifest are.
    storage: Storage,
    /// For a writer of an object-store workspace: the mirror, uploaded after every commit.
    mirror: Option<Mirror>,
    /// The manifest as this workspace sees it: as last read or committed, plus the open
    /// transaction's source entries.
    manifest: Manifest,
    /// The manifest as last read from or written to disk: what the open transaction builds on.
    base: Manifest,
    access: Access,
    /// Tables changed in the open transaction, by name.
    changes: BTreeMap<String, TableChange>,
    /// Source entries recorded in the open transaction.
    recorded: BTreeMap<String, SourceState>,
    /// Files written in the open transaction (named by no commit yet).
    written: HashSet<String>,
    /// Depth of nested [`Workspace::transaction`] calls; the outermost commits.
    depth: usize,
    /// For a reader of a workspace still in the old layout: where its tables are.
    legacy: Option<legacy::Tables>,
    crash_at: Option<CommitStep>,
    /// Run once just before the next commit point (tests: another writer commits there).
    before_commit_point: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Workspace {
    /// Opens a workspace that must already exist, for reading only: takes no lock and creates no
    /// file, so a read-only workspace can be read, and reading never waits for a writer.
    pub fn open_existing(root: &Path) -> Result<Workspace> {
        Workspace::open_existing_in(root, &storage::process_vars())
    }

    /// [`Workspace::open_existing`] with object stores configured by `vars` rather than by the
    /// process's environment: for tests.
    #[doc(hidden)]
    pub fn open_existing_in(root: &Path, vars: &storage::Vars) -> Result<Workspace> {
        if let Storage::Object(object) = Storage::for_workspace(root, vars)? {
            return Workspace::open_existing_object(root, *object, vars);
        }
        refuse_non_directory(root)?;
        if !root.join(MANIFEST).exists() && !root.join(LOCK).exists() {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                root.display()
            )));
        }
        let storage = Storage::Local(root.to_path_buf());
        let seen = disk_state(&storage)?;
        let (manifest, legacy) = match legacy::Tables::find(root)? {
            Some((manifest, tables)) => (manifest, Some(tables)),
            None => (read_manifest(root)?.unwrap_or_else(Manifest::empty), None),
        };
        Ok(Workspace::new(root, storage, manifest, Access::Reader { seen }, legacy))
    }

    /// [`Workspace::open_existing`] for an object store: reads its manifest, nothing else.
    fn open_existing_object(url: &Path, object: storage::ObjectStorage, vars: &storage::Vars) -> Result<Workspace> {
        let storage = Storage::Object(Box::new(object));
        let Some((manifest, _)) = read_stored_manifest(&storage)? else {
            return Err(Error::NotFound(format!(
                "workspace {} holds no data yet: run `flowgauge collect` or `flowgauge import` first",
                url.display()
            )));
        };
        let seen = DiskState { journal: false, generation: Some(manifest.generation) };
        let mirror = Mirror::dir_for(storage.object().expect("an object store").url(), vars)?;
        Ok(Workspace::new(&mirror, storage, manifest, Access::Reader { seen }, None))
    }

    fn new(
        root: &Path,
        storage: Storage,
        manifest: Manifest,
        access: Access,
        legacy: Option<legacy::Tables>,
    ) -> Workspace {
        Workspace {
            root: root.to_path_buf(),
            storage,
            mirror: None,
            base: manifest.clone(),
            manifest,
            access,
            changes: BTreeMap::new(),
            recorded: BTreeMap::new(),
            written: HashSet::new(),
            depth: 0,
            legacy,
            crash_at: None,
            before_commit_point: None,
        }
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
            Access::Reader { seen } => disk_state(&self.storage).map_or(true, |now| now != *seen),
            Access::Writer { .. } => false,
        }
    }

    /// Opens (creating if needed) the workspace at `root` for writing and takes its lock
    /// exclusively; migrates a workspace in the old layout and sweeps away the files of commits a
    /// crash interrupted before their commit point.
    pub fn open(root: &Path) -> Result<Workspace> {
        Workspace::open_writer(root, false, None)
    }

    /// Opens (creating if needed) the workspace at `root` for writing beside other shared writers
    /// (`collect --shard`): several processes, each collecting its own sources, commit into it at
    /// the same time without blocking or overwriting each other. Refused while an exclusive writer
    /// holds the workspace, as an exclusive writer is refused while shared ones do.
    pub fn open_shared(root: &Path) -> Result<Workspace> {
        Workspace::open_writer(root, true, None)
    }

    /// Opens the workspace for writing with a migration from the old layout that stops at `step`
    /// as if the process had been killed there: for tests of crash safety only.
    #[doc(hidden)]
    pub fn open_crashing_migration(root: &Path, step: CommitStep) -> Result<Workspace> {
        Workspace::open_writer(root, false, Some(step))
    }

    /// [`Workspace::open`] (or, `shared`, [`Workspace::open_shared`]) with object stores
    /// configured by `vars` rather than by the process's environment: for tests.
    #[doc(hidden)]
    pub fn open_in(root: &Path, vars: &storage::Vars, shared: bool) -> Result<Workspace> {
        Workspace::open_writer_in(root, vars, shared, None)
    }

    fn open_writer(root: &Path, shared: bool, crash_migration: Option<CommitStep>) -> Result<Workspace> {
        Workspace::open_writer_in(root, &storage::process_vars(), shared, crash_migration)
    }

    fn open_writer_in(
        root: &Path,
        vars: &storage::Vars,
        shared: bool,
        crash_migration: Option<CommitStep>,
    ) -> Result<Workspace> {
        if let Storage::Object(object) = Storage::for_workspace(root, vars)? {
            return Workspace::open_object_writer(*object, vars);
        }
        refuse_non_directory(root)?;
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let lock_path = root.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        take_workspace_lock(&lock, shared).map_err(|e| match e {
            TryLockError::WouldBlock => {
                Error::WorkspaceLocked { workspace: root.to_path_buf(), lock: lock_path.clone() }
            }
            TryLockError::Error(e) => Error::io(&lock_path, e),
        })?;
        let manifest = {
            let _commit = commit_lock(root)?;
            if legacy::needs_migration(root)? {
                legacy::migrate(root, crash_migration)?;
            }
            // Only a writer alone may take unnamed files for leftovers: a shared writer's are its
            // commit in the making.
            let manifest = read_manifest(root)?.unwrap_or_else(Manifest::empty);
            if !shared {
                sweep_uncommitted(root, &manifest)?;
            }
            manifest
        };
        let storage = Storage::Local(root.to_path_buf());
        Ok(Workspace::new(root, storage, manifest, Access::Writer { _lock: Some(lock), shared }, None))
    }

    /// Opens an object-store workspace for writing: there is no lock to take, so every writer
    /// commits as a shared one (compare and retry); files no manifest names are removed once older
    /// than [`SWEEP_GRACE`]; the mirror of raw pages is brought up to date.
    fn open_object_writer(object: storage::ObjectStorage, vars: &storage::Vars) -> Result<Workspace> {
        let storage = Storage::Object(Box::new(object));
        let manifest = read_stored_manifest(&storage)?.map(|(m, _)| m).unwrap_or_else(Manifest::empty);
        let object = storage.object().expect("an object store");
        object.sweep_unnamed(&named_files(&manifest), SWEEP_GRACE)?;
        let mirror = Mirror::download(object, vars)?;
        let mut workspace =
            Workspace::new(mirror.dir(), storage, manifest, Access::Writer { _lock: None, shared: true }, None);
        workspace.mirror = Some(mirror);
        Ok(workspace)
    }

    /// Removes the files of an object-store workspace that no manifest names and that are older
    /// than `grace` (opening a writer does this with [`SWEEP_GRACE`]): for tests of the sweep.
    #[doc(hidden)]
    pub fn sweep_older_than(&self, grace: chrono::Duration) -> Result<()> {
        match self.storage.object() {
            Some(object) => object.sweep_unnamed(
                &named_files(&read_stored_manifest(&self.storage)?.map(|(m, _)| m).unwrap_or_else(Manifest::empty)),
                grace,
            ),
            None => Ok(()),
        }
    }

    /// Uploads the mirror's new and changed files (raw pages, snapshots) to an object-store
    /// workspace; nothing for a local one. Commits do it; call it after writing such a file
    /// outside a commit.
    pub fn publish_local_files(&mut self) -> Result<()> {
        if let (Some(mirror), Some(object)) = (self.mirror.as_mut(), self.storage.object()) {
            mirror.upload(object)?;
        }
        Ok(())
    }

    /// Where the workspace is, for messages: its directory, or its object store URL.
    pub fn location(&self) -> PathBuf {
        match self.storage.object() {
            Some(object) => PathBuf::from(object.url()),
            None => self.root.clone(),
        }
    }

    /// The workspace's local directory, where collectors keep raw pages: for a workspace on object
    /// storage, the local mirror of what is not a table (uploaded after every commit); its tables
    /// are not there. Messages should name [`Workspace::location`].
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

    /// Runs `hook` once, when the next commit has read the manifest and not yet rebased on it or
    /// replaced it, as if another writer committed at that moment: for tests of the compare and
    /// retry on object stores (a local commit holds `commit.lock` there, so the hook must not
    /// commit into a local workspace).
    #[doc(hidden)]
    pub fn before_commit_point(&mut self, hook: impl FnOnce() + Send + Sync + 'static) {
        self.before_commit_point = Some(Box::new(hook));
    }

    fn is_shared_writer(&self) -> bool {
        matches!(self.access, Access::Writer { shared: true, .. })
    }

    /// The partitions of a table as this workspace sees them: scope → file (those the open
    /// transaction wrote replace those of the manifest).
    fn partition_files(&self, table: &str) -> BTreeMap<String, PartitionFile> {
        let mut files = self.base.partitions(table).cloned().unwrap_or_default();
        if let Some(change) = self.changes.get(table) {
            for (scope, file) in &change.partitions {
                match file {
                    Some(file) => files.insert(scope.clone(), file.clone()),
                    None => files.remove(scope),
                };
            }
        }
        files
    }

    /// Whether any table has been written yet.
    pub fn is_empty(&self) -> bool {
        match &self.legacy {
            Some(tables) => tables.is_empty(),
            None => crate::model::TABLES.iter().all(|t| self.partition_files(t.name).is_empty()),
        }
    }

    /// Reads a table (every partition, sorted by key); a table never written reads as empty with
    /// the right columns.
    ///
    /// A reader reads the files its manifest names. They are never changed in place, so whatever
    /// commits happen meanwhile, it reads the one state it opened; only when a commit removed a
    /// file it still needs does it fail, saying so ([`Workspace::read_consistent`] reads again). A
    /// workspace in the old layout, whose files are replaced in place, is checked for commits
    /// before and after every table instead.
    pub fn load(&self, schema: &TableSchema) -> Result<DataFrame> {
        let in_place = self.legacy.is_some();
        if in_place {
            self.check_unchanged()?;
        }
        let df = self.read_table(schema).map_err(|e| match self.check_unchanged() {
            // A file vanished under the reader because a writer committed: say that.
            Err(changed) => changed,
            Ok(()) => e,
        })?;
        if in_place {
            self.check_unchanged()?;
        }
        Ok(df)
    }

    /// For a reader: fails when a writer committed since the workspace was opened, so that tables
    /// read before and after that commit are never mixed.
    fn check_unchanged(&self) -> Result<()> {
        let Access::Reader { seen } = &self.access else {
            return Ok(());
        };
        if disk_state(&self.storage)? != *seen {
            return Err(Error::Workspace {
                path: self.location(),
                message: "another flowgauge run wrote to it while it was being read; run the command again".into(),
            });
        }
        Ok(())
    }

    fn read_table(&self, schema: &TableSchema) -> Result<DataFrame> {
        if let Some(tables) = &self.legacy {
            return tables.read(schema);
        }
        let partitions = self.partition_files(schema.name);
        let mut frames = Vec::with_capacity(partitions.len());
        for (scope, partition) in &partitions {
            let (read, partition) = self.read_partition_as(schema, scope, Some(partition.clone()), |file| {
                read_stored(&self.storage, schema, file)
            })?;
            if let Some(partition) = partition {
                frames.extend(newest_wins(schema, &partition, read)?);
            }
        }
        combine(schema, frames)
    }

    /// Reads one partition as this workspace sees it (empty when it has none), with the partition read.
    fn read_partition(&self, schema: &TableSchema, scope: &str) -> Result<(DataFrame, Option<PartitionFile>)> {
        let partition = self.partition_files(schema.name).get(scope).cloned();
        let (frames, read) =
            self.read_partition_as(schema, scope, partition, |file| read_stored(&self.storage, schema, file))?;
        let frames = match &read {
            Some(partition) => newest_wins(schema, partition, frames)?,
            None => frames,
        };
        Ok((combine(schema, frames)?, read))
    }

    /// Reads every file of `partition` with `read`. Another shared writer's commit may have
    /// removed them since this writer read the manifest: then the partition is read as the manifest
    /// names it now (the commit re-applies this writer's operations if it was changed, see
    /// [`Workspace::rebase`]).
    fn read_partition_as<T>(
        &self,
        schema: &TableSchema,
        scope: &str,
        mut partition: Option<PartitionFile>,
        read: impl Fn(&str) -> Result<T>,
    ) -> Result<(Vec<T>, Option<PartitionFile>)> {
        let mut attempts = 0;
        loop {
            let Some(files) = &partition else {
                return Ok((Vec::new(), None));
            };
            match files.files().map(|f| read(f)).collect::<Result<Vec<T>>>() {
                Err(Error::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound && self.is_shared_writer() && attempts < 10 =>
                {
                    attempts += 1;
                    let now = read_stored_manifest(&self.storage)?.map(|(m, _)| m).unwrap_or_else(Manifest::empty);
                    partition = now.partitions(schema.name).and_then(|p| p.get(scope)).cloned();
                }
                other => return other.map(|frames| (frames, partition)),
            }
        }
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
        if self.depth == 0 && self.is_shared_writer() {
            // Start from the other writers' latest commit: fewer partitions to re-apply at commit.
            self.base = read_stored_manifest(&self.storage)?.map(|(m, _)| m).unwrap_or_else(Manifest::empty);
            self.manifest = self.base.clone();
        }
        self.depth += 1;
        let result = work(self);
        self.depth -= 1;
        if self.depth > 0 {
            return result;
        }
        match result.and_then(|value| self.commit().map(|()| value)) {
            Ok(value) => Ok(value),
            Err(e) => {
                if self.crash_at.is_none() {
                    self.abandon();
                }
                Err(e)
            }
        }
    }

    /// Forgets an uncommitted transaction: the files it wrote go, the manifest is as before.
    fn abandon(&mut self) {
        self.changes.clear();
        for file in std::mem::take(&mut self.written) {
            self.storage.remove(&file);
        }
        self.recorded.clear();
        self.manifest = self.base.clone();
    }

    /// Commits the open transaction (see the module comment). It reads the manifest as it is now
    /// (locally under the commit lock); when another writer committed since this one read it,
    /// partitions both touched get this transaction's operations applied again on top of the other
    /// writer's files. On an object store the manifest is replaced by a conditional put, and a
    /// put refused because another writer committed in between starts this over.
    fn commit(&mut self) -> Result<()> {
        let tables_changed = self.changes.values().any(|c| !c.partitions.is_empty());
        if !tables_changed && self.recorded.is_empty() {
            self.changes.clear();
            return self.publish_local_files();
        }
        let _commit = match &self.storage {
            Storage::Local(root) => Some(commit_lock(root)?),
            Storage::Object(_) => None,
        };
        let mut attempts = 0;
        let (next, obsolete) = loop {
            let (current, version) = match read_stored_manifest(&self.storage)? {
                Some(found) => found,
                None => (Manifest::empty(), ManifestVersion::Absent),
            };
            if let Some(hook) = self.before_commit_point.take() {
                hook();
            }
            match self.rebase(&current) {
                // On an object store no lock keeps a writer from deleting the files its commit
                // replaced while another reads them: the manifest has moved on, read it again.
                Err(Error::Io { error, .. })
                    if error.kind() == std::io::ErrorKind::NotFound
                        && self.storage.object().is_some()
                        && attempts < COMMIT_ATTEMPTS =>
                {
                    attempts += 1;
                    continue;
                }
                other => other?,
            }
            let (next, obsolete) = self.next_manifest(&current, tables_changed);
            let crash = self.crash_at == Some(CommitStep::BeforeJournal);
            // The commit point.
            match swap_manifest(&self.storage, &next, &version, crash)? {
                Swap::Committed => break (next, obsolete),
                Swap::Conflict if attempts < COMMIT_ATTEMPTS => attempts += 1,
                Swap::Conflict => {
                    return Err(Error::Workspace {
                        path: self.location(),
                        message: format!(
                            "{COMMIT_ATTEMPTS} other commits replaced the manifest while this run committed; run it again"
                        ),
                    });
                }
            }
        };
        self.recorded.clear();
        self.changes.clear();
        self.written.clear();
        self.base = next.clone();
        self.manifest = next;
        if self.crash_at == Some(CommitStep::AfterFirstRename) {
            return Err(simulated_crash(&self.location()));
        }
        // A reader still reading a removed file notices the new generation and reads again; a file
        // that cannot be removed now is swept away by a later writer.
        for file in obsolete {
            self.storage.remove(&file);
        }
        self.publish_local_files()
    }

    /// The manifest this transaction commits on top of `current`, and the files it no longer names.
    fn next_manifest(&self, current: &Manifest, tables_changed: bool) -> (Manifest, Vec<String>) {
        let mut next = current.clone();
        let mut obsolete = Vec::new();
        for (table, change) in &self.changes {
            let partitions = next.tables.entry(table.clone()).or_default();
            for (scope, file) in &change.partitions {
                let replaced = match file {
                    Some(file) => partitions.insert(scope.clone(), file.clone()),
                    None => partitions.remove(scope),
                };
                // An appended file keeps the partition's other files: only those no longer named go.
                let kept: HashSet<&String> = file.iter().flat_map(|f| f.stored_files()).collect();
                obsolete.extend(replaced.iter().flat_map(|f| f.stored_files()).filter(|f| !kept.contains(f)).cloned());
            }
            if partitions.is_empty() {
                next.tables.remove(table);
            }
        }
        next.sources.extend(self.recorded.clone());
        if tables_changed {
            next.generation = current.generation + 1;
        }
        (next, obsolete)
    }

    /// Applies this transaction's operations again to every partition it changed that another
    /// writer changed too since this one read the manifest (and, for a table it replaced wholly,
    /// to partitions another writer added), so that both writers' rows survive.
    fn rebase(&mut self, current: &Manifest) -> Result<()> {
        let shared = self.is_shared_writer();
        let tables: Vec<String> = self.changes.keys().cloned().collect();
        for table in tables {
            let (base, now) = (self.base.partitions(&table), current.partitions(&table));
            let file_in = |files: Option<&BTreeMap<String, PartitionFile>>, scope: &str| {
                files.and_then(|f| f.get(scope)).cloned()
            };
            let change = &self.changes[&table];
            let mut stale: BTreeSet<String> = change
                .parents
                .iter()
                .filter(|(scope, parent)| **parent != file_in(now, scope))
                .map(|(scope, _)| scope.clone())
                .collect();
            if change.operations.iter().any(|op| matches!(op, Operation::Replace(_))) {
                // A table replaced wholly: partitions it did not touch that another writer changed
                // or added must be replaced too.
                stale.extend(
                    now.into_iter()
                        .flat_map(|f| f.keys())
                        .filter(|s| !change.partitions.contains_key(*s) && file_in(base, s) != file_in(now, s))
                        .cloned(),
                );
            }
            if stale.is_empty() {
                continue;
            }
            if !shared {
                return Err(Error::Workspace {
                    path: self.root.clone(),
                    message: "its manifest was replaced while this flowgauge run held the workspace's lock; \
                              another program writes to it"
                        .into(),
                });
            }
            for scope in stale {
                let schema = copy_of(&self.changes[&table].schema);
                let parent = file_in(now, &scope);
                let mut df = rows_to_frame(&schema, &[])?;
                if let Some(parent) = &parent {
                    let frames =
                        parent.files().map(|file| read_stored(&self.storage, &schema, file)).collect::<Result<_>>()?;
                    df = combine(&schema, newest_wins(&schema, parent, frames)?)?;
                }
                for op in &self.changes[&table].operations {
                    df = apply(&schema, op, &scope, df)?;
                }
                let planned =
                    Planned { scope, parent: parent.clone(), before: DataFrame::empty(), after: NewRows::Whole(df) };
                for (scope, _, file) in self.write_planned(vec![(&schema, planned)])? {
                    self.record_partition(&schema, &scope, parent.clone(), file);
                    self.change(&schema).parents.insert(scope, parent.clone());
                }
            }
        }
        Ok(())
    }

    /// Runs one operation on a table: computes the new frame of every partition it changes (reading
    /// only the partitions it may reach) without writing anything.
    fn plan(&self, schema: &TableSchema, op: &Operation) -> Result<Vec<Planned>> {
        let existing = self.partition_files(schema.name);
        let scopes: BTreeSet<String> = match op {
            Operation::Upsert(rows) => rows.keys().cloned().collect(),
            Operation::Replace(rows) => rows.keys().chain(existing.keys()).cloned().collect(),
            Operation::ReplacePrefixed { column, prefix, rows } => existing
                .keys()
                .filter(|s| column != schema.key[0] || partition::prefix_may_reach(schema, prefix, s))
                .chain(rows.keys())
                .cloned()
                .collect(),
            Operation::Mark { keys, .. } => {
                keys.iter().map(|k| scope_of(schema, k)).filter(|s| existing.contains_key(s)).collect()
            }
        };
        let mut planned = Vec::new();
        for scope in scopes {
            if holds_exactly(op, &scope, existing.get(&scope))? {
                continue;
            }
            match self.plan_append(schema, op, &scope, existing.get(&scope))? {
                Appending::Unchanged => continue,
                Appending::Rows(append) => {
                    planned.push(*append);
                    continue;
                }
                Appending::WriteWhole => {}
            }
            let (before, parent) = self.read_partition(schema, &scope)?;
            let after = apply(schema, op, &scope, before.clone())?;
            if !after.equals_missing(&before) {
                planned.push(Planned { scope, parent, before, after: NewRows::Whole(after) });
            }
        }
        Ok(planned)
    }

    /// An upsert into a partition appends a file of its new and changed rows rather than writing the
    /// partition whole (merge-on-read: the appended file supersedes the rows of the keys it
    /// updates). Which rows are new, changed or unchanged the files' key indexes say, without
    /// reading the partition; the partition's row count and fingerprint are brought up to date
    /// from the row hashes they hold. [`Appending::WriteWhole`] when the partition must be read and
    /// written whole: it has [`MAX_APPENDED`] appended files, or its superseding files would hold
    /// more than [`SUPERSEDING_SHARE`] of it, or a file has no index able to say it exactly.
    fn plan_append(
        &self,
        schema: &TableSchema,
        op: &Operation,
        scope: &str,
        partition: Option<&PartitionFile>,
    ) -> Result<Appending> {
        let (Operation::Upsert(rows), Some(partition)) = (op, partition) else {
            return Ok(Appending::WriteWhole);
        };
        let Some(incoming) = rows.get(scope) else {
            return Ok(Appending::WriteWhole);
        };
        let indexed: HashSet<&str> = partition.key_indexes.iter().map(String::as_str).collect();
        if partition.appended.len() >= MAX_APPENDED
            || !partition.files().all(|file| indexed.contains(key_index::index_name(file).as_str()))
        {
            return Ok(Appending::WriteWhole);
        }
        let new_rows = merge_by_key(schema, rows_to_frame(schema, &[])?, incoming.clone())?;
        let key_hashes = key_index::key_hashes(schema, &new_rows)?;
        let mut keys = key_hashes.clone();
        keys.sort_unstable();
        let looked_up = keys.len();
        keys.dedup();
        if keys.len() < looked_up {
            return Ok(Appending::WriteWhole); // two incoming keys share a hash
        }
        let look_up = |file: &str| key_index::look_up(&self.storage, &key_index::index_name(file), &keys);
        let (found, read) = self.read_partition_as(schema, scope, Some(partition.clone()), look_up)?;
        if read.as_ref() != Some(partition) {
            return Ok(Appending::WriteWhole); // another writer's commit replaced it meanwhile
        }
        let Some(found) = found.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(Appending::WriteWhole);
        };
        // The row a key has is the one of the latest file holding it.
        let held = |key: usize| found.iter().rev().find_map(|file| file[key]);
        let row_hashes = content_hash::row_hashes(&new_rows)?;
        let mut appended = Appended {
            partition: partition.clone(),
            rows: new_rows,
            key_hashes: Vec::new(),
            row_hashes: Vec::new(),
            added_rows: 0,
            fingerprint_change: 0,
            supersedes: false,
        };
        let mut kept = Vec::with_capacity(key_hashes.len());
        for (key_hash, row_hash) in key_hashes.iter().zip(&row_hashes) {
            let key = keys.binary_search(key_hash).expect("every key was looked up");
            let old = held(key);
            kept.push(old != Some(*row_hash));
            match old {
                Some(old) if old == *row_hash => continue,
                Some(old) => {
                    appended.fingerprint_change = appended.fingerprint_change.wrapping_add(row_hash.wrapping_sub(old));
                    appended.supersedes = true;
                }
                None => {
                    appended.fingerprint_change = appended.fingerprint_change.wrapping_add(*row_hash);
                    appended.added_rows += 1;
                }
            }
            appended.key_hashes.push(*key_hash);
            appended.row_hashes.push(*row_hash);
        }
        if appended.key_hashes.is_empty() {
            return Ok(Appending::Unchanged);
        }
        if appended.supersedes {
            let superseding = partition.superseding_rows + appended.key_hashes.len() as u64;
            let (share, of) = SUPERSEDING_SHARE;
            if superseding * of > (partition.rows + appended.added_rows) * share {
                return Ok(Appending::WriteWhole);
            }
        }
        if appended.key_hashes.len() < appended.rows.height() {
            appended.rows = appended.rows.filter(&BooleanChunked::from_slice("kept".into(), &kept))?;
        }
        let before = rows_to_frame(schema, &[])?;
        Ok(Appending::Rows(Box::new(Planned {
            scope: scope.to_string(),
            parent: read,
            before,
            after: NewRows::Appended(Box::new(appended)),
        })))
    }

    /// Writes the planned partitions and records the operation for a shared writer's rebase.
    fn stage(&mut self, schema: &TableSchema, op: Operation, planned: Vec<Planned>) -> Result<()> {
        let planned = planned.into_iter().map(|p| (schema, p)).collect();
        for (scope, parent, file) in self.write_planned(planned)? {
            self.record_partition(schema, &scope, parent, file);
        }
        if self.is_shared_writer() {
            self.change(schema).operations.push(op);
        }
        Ok(())
    }

    /// Writes the files of planned partitions (of one table or several) side by side: encoding and
    /// writing a file runs mostly on one thread, so a million-row import's `changes` and
    /// `change_commits` files are written at once rather than one after the other. Every file
    /// written is this transaction's, even when another partition's write fails (abandoning the
    /// transaction removes them).
    fn write_planned(&mut self, planned: Vec<(&TableSchema, Planned)>) -> Result<Vec<WrittenPartition>> {
        let written = std::sync::Mutex::new(Vec::new());
        let storage = &self.storage;
        let results: Vec<Result<_>> = planned
            .into_par_iter()
            .map(|(schema, Planned { scope, parent, after, .. })| {
                let file = write_partition_rows(storage, schema, &scope, after, &written)?;
                Ok((scope, parent, file))
            })
            .collect();
        self.written.extend(written.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()));
        results.into_iter().collect()
    }

    fn change(&mut self, schema: &TableSchema) -> &mut TableChange {
        self.changes.entry(schema.name.to_string()).or_insert_with(|| TableChange {
            schema: copy_of(schema),
            partitions: BTreeMap::new(),
            parents: BTreeMap::new(),
            operations: Vec::new(),
        })
    }

    /// Lists a partition's new file (written by [`write_partition_rows`]) in the open commit, or
    /// drops the partition when it has no rows left.
    fn record_partition(
        &mut self,
        schema: &TableSchema,
        scope: &str,
        parent: Option<PartitionFile>,
        file: Option<PartitionFile>,
    ) {
        let change = self.change(schema);
        // The first computation of a partition in this transaction started from the committed one.
        change.parents.entry(scope.to_string()).or_insert(parent);
        let superseded = change.partitions.insert(scope.to_string(), file.clone());
        let kept: HashSet<&String> = file.iter().flat_map(|f| f.stored_files()).collect();
        let dropped: Vec<String> =
            superseded.iter().flatten().flat_map(|f| f.stored_files()).filter(|f| !kept.contains(f)).cloned().collect();
        for name in dropped {
            // Written earlier in this transaction and named by no commit: nothing needs it. (Only
            // files written in this transaction are in `written`: an appended partition also names
            // its committed files, which abandoning the transaction must leave alone.)
            if self.written.remove(&name) {
                self.storage.remove(&name);
            }
        }
    }

    fn row_count(&self, table: &str) -> usize {
        self.partition_files(table).values().map(|f| f.rows as usize).sum()
    }

    /// Upserts several tables' rows by key, in one commit. Every frame is built before anything is
    /// written, so a row that cannot be stored leaves every table as it was. Only the partitions
    /// the rows belong to are read and rewritten.
    pub fn upsert(&mut self, batches: &[(&TableSchema, Vec<Row>)]) -> Result<Vec<UpsertStats>> {
        let frames = batches
            .iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(schema, rows)| Ok((*schema, rows_to_frame(schema, rows)?)))
            .collect::<Result<Vec<_>>>()?;
        self.upsert_frames(&frames)
    }

    /// [`Workspace::upsert`] for rows already in frames with the table's columns, as
    /// [`rows_to_frame`] builds them (for a million rows a frame is far smaller than its rows).
    pub fn upsert_frames(&mut self, batches: &[(&TableSchema, DataFrame)]) -> Result<Vec<UpsertStats>> {
        self.transaction(|ws| {
            let mut planned = Vec::new();
            for (schema, rows) in batches {
                if rows.height() == 0 {
                    continue;
                }
                let found: Vec<&str> = rows.get_column_names().iter().map(|c| c.as_str()).collect();
                let expected: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
                if found != expected {
                    return Err(Error::Workspace {
                        path: ws.root.clone(),
                        message: format!("rows for `{}` have the columns {found:?}, not {expected:?}", schema.name),
                    });
                }
                let op = Operation::Upsert(partition::split(schema, rows)?);
                let plan = ws.plan(schema, &op)?;
                planned.push((*schema, op, plan, rows.height()));
            }
            // Every table's files are written at once, then listed table by table.
            let partitions: Vec<usize> = planned.iter().map(|(_, _, plan, _)| plan.len()).collect();
            let mut tables = Vec::with_capacity(planned.len());
            let mut to_write = Vec::new();
            for (schema, op, plan, incoming) in planned {
                to_write.extend(plan.into_iter().map(|p| (schema, p)));
                tables.push((schema, op, incoming));
            }
            let mut files = ws.write_planned(to_write)?.into_iter();
            let mut stats = Vec::new();
            for ((schema, op, incoming), count) in tables.into_iter().zip(partitions) {
                let before = ws.row_count(schema.name);
                for (scope, parent, file) in files.by_ref().take(count) {
                    ws.record_partition(schema, &scope, parent, file);
                }
                if ws.is_shared_writer() {
                    ws.change(schema).operations.push(op);
                }
                stats.push(UpsertStats { table: schema.name, incoming, before, after: ws.row_count(schema.name) });
            }
            Ok(stats)
        })
    }

    /// Replaces a whole table with `rows` (for tables that mirror the configuration, like `services`,
    /// where something removed must disappear rather than linger).
    pub fn replace(&mut self, schema: &TableSchema, rows: &[Row]) -> Result<()> {
        self.transaction(|ws| {
            let empty = rows_to_frame(schema, &[])?;
            let df = merge_by_key(schema, empty, rows_to_frame(schema, rows)?)?;
            let op = Operation::Replace(partition::split(schema, &df)?);
            let plan = ws.plan(schema, &op)?;
            ws.stage(schema, op, plan)
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
            let before = ws.row_count(schema.name);
            let op = Operation::ReplacePrefixed {
                column: column.to_string(),
                prefix: prefix.to_string(),
                rows: partition::split(schema, &rows_to_frame(schema, rows)?)?,
            };
            let plan = ws.plan(schema, &op)?;
            ws.stage(schema, op, plan)?;
            Ok(UpsertStats { table: schema.name, incoming: rows.len(), before, after: ws.row_count(schema.name) })
        })
    }

    /// Sets the boolean `flag` to true on the rows whose key (a one-column key) is in `keys`,
    /// leaving every other cell as it is: for facts a source learns only after the rows were
    /// written (a deployment is a rollback once a later one is seen). Returns the rows changed.
    pub fn mark(&mut self, schema: &TableSchema, flag: &str, keys: &HashSet<String>) -> Result<usize> {
        self.transaction(|ws| {
            let op = Operation::Mark { flag: flag.to_string(), keys: keys.clone() };
            let plan = ws.plan(schema, &op)?;
            let mut changed = 0;
            for planned in &plan {
                if let NewRows::Whole(after) = &planned.after {
                    changed += count_differences(planned.before.column(flag)?.bool()?, after.column(flag)?.bool()?);
                }
            }
            ws.stage(schema, op, plan)?;
            Ok(changed)
        })
    }

    /// Records a source's cursor; the manifest is written with the commit it belongs to (at once
    /// outside a transaction).
    pub fn record_source(&mut self, name: &str, state: SourceState) -> Result<()> {
        self.transaction(|ws| {
            ws.manifest.sources.insert(name.to_string(), state.clone());
            ws.recorded.insert(name.to_string(), state);
            Ok(())
        })
    }
}

/// A partition an operation changes: its rows before and after, and the partition they were read from.
struct Planned {
    scope: String,
    parent: Option<PartitionFile>,
    before: DataFrame,
    after: NewRows,
}

/// A partition written by [`Workspace::write_planned`]: its scope, the partition it replaces, and
/// the new partition (`None` when it has no rows left).
type WrittenPartition = (String, Option<PartitionFile>, Option<PartitionFile>);

/// A partition's new rows: all of them, or rows to append to it.
enum NewRows {
    Whole(DataFrame),
    Appended(Box<Appended>),
}

/// Rows an upsert appends to a partition, and what they change in its bookkeeping.
struct Appended {
    /// The partition they are appended to.
    partition: PartitionFile,
    /// The new and changed rows, sorted by key.
    rows: DataFrame,
    /// Their key hashes and row hashes, for the file's key index.
    key_hashes: Vec<u64>,
    row_hashes: Vec<u128>,
    /// Rows whose key the partition did not hold.
    added_rows: u64,
    /// What the partition's fingerprint gains: the new rows' hashes, and for each changed row its
    /// hash less the one of the row it supersedes (wrapping, as the fingerprint sums).
    fingerprint_change: u128,
    /// Whether some of the rows change rows the partition holds (the file supersedes them).
    supersedes: bool,
}

/// What an upsert does to a partition that holds rows already.
enum Appending {
    /// Every incoming row is one the partition holds: nothing to write.
    Unchanged,
    /// Its new and changed rows appended in a file.
    Rows(Box<Planned>),
    /// The partition read and written whole.
    WriteWhole,
}

/// A partition's files as read (in the order of [`PartitionFile::files`]) with the rows that later
/// superseding files hold keys of left out: every key once, in its latest file. A partition without
/// superseding files is returned as read.
fn newest_wins(schema: &TableSchema, partition: &PartitionFile, frames: Vec<DataFrame>) -> Result<Vec<DataFrame>> {
    if partition.superseding.is_empty() {
        return Ok(frames);
    }
    let superseding: HashSet<&String> = partition.superseding.iter().collect();
    let files: Vec<&String> = partition.files().collect();
    // From the latest file back: the keys of the superseding files after each file.
    let mut later_keys = SupersedingKeys::default();
    let mut kept = Vec::with_capacity(frames.len());
    for (file, df) in files.iter().zip(frames).rev() {
        let df = later_keys.drop_superseded(schema, df)?;
        if superseding.contains(file) {
            later_keys.add(schema, &df)?;
        }
        kept.push(df);
    }
    kept.reverse();
    Ok(kept)
}

/// The exact keys of superseding files, by key hash.
#[derive(Default)]
struct SupersedingKeys {
    keys: std::collections::HashMap<u64, Vec<Vec<String>>>,
}

impl SupersedingKeys {
    fn add(&mut self, schema: &TableSchema, df: &DataFrame) -> Result<()> {
        let hashes = key_index::key_hashes(schema, df)?;
        for (row, hash) in hashes.into_iter().enumerate() {
            let key = key_of(schema, df, row)?;
            self.keys.entry(hash).or_default().push(key);
        }
        Ok(())
    }

    /// `df` without the rows whose key (compared exactly, not by hash) is one of these.
    fn drop_superseded(&self, schema: &TableSchema, df: DataFrame) -> Result<DataFrame> {
        if self.keys.is_empty() {
            return Ok(df);
        }
        let hashes = key_index::key_hashes(schema, &df)?;
        let mut kept = vec![true; df.height()];
        let mut dropped = false;
        for (row, hash) in hashes.iter().enumerate() {
            if let Some(keys) = self.keys.get(hash)
                && keys.contains(&key_of(schema, &df, row)?)
            {
                kept[row] = false;
                dropped = true;
            }
        }
        if !dropped {
            return Ok(df);
        }
        Ok(df.filter(&BooleanChunked::from_slice("kept".into(), &kept))?)
    }
}

/// The key of row `row` of `df`, its values in the order of the table's key columns.
fn key_of(schema: &TableSchema, df: &DataFrame, row: usize) -> Result<Vec<String>> {
    schema.key.iter().map(|k| Ok(df.column(k)?.str()?.get(row).unwrap_or_default().to_string())).collect()
}

/// Whether `op` upserts exactly the rows `partition` holds (as many rows, with the same fingerprint):
/// then it changes nothing there, and the partition need not be read.
fn holds_exactly(op: &Operation, scope: &str, partition: Option<&PartitionFile>) -> Result<bool> {
    let (Operation::Upsert(rows), Some(partition)) = (op, partition) else {
        return Ok(false);
    };
    let (Some(incoming), Some(held)) = (rows.get(scope), &partition.content_hash) else {
        return Ok(false);
    };
    Ok(incoming.height() as u64 == partition.rows && content_hash::of(incoming)? == *held)
}

/// Reads one partition file of `schema` from the workspace's storage (see [`read_parquet`]).
fn read_stored(storage: &Storage, schema: &TableSchema, file: &str) -> Result<DataFrame> {
    let path = stored_path(storage, file);
    let df = ParquetReader::new(storage.open(file)?)
        .finish()
        .map_err(|e| Error::Workspace { path: path.clone(), message: format!("cannot read table: {e}") })?;
    conform(schema, &path, df)
}

/// A file of the workspace as messages name it: its path, or its object's URL.
fn stored_path(storage: &Storage, file: &str) -> PathBuf {
    match storage {
        Storage::Local(root) => root.join(file),
        Storage::Object(object) => PathBuf::from(object.url_of(file)),
    }
}

/// A table's schema, owned (its parts are all static).
fn copy_of(schema: &TableSchema) -> TableSchema {
    TableSchema { name: schema.name, key: schema.key, columns: schema.columns, doc: schema.doc }
}

/// The new frame of partition `scope` once `op` is applied to its rows `df`.
fn apply(schema: &TableSchema, op: &Operation, scope: &str, df: DataFrame) -> Result<DataFrame> {
    match op {
        Operation::Upsert(rows) => match rows.get(scope) {
            Some(incoming) => merge_by_key(schema, df, incoming.clone()),
            None => Ok(df),
        },
        Operation::Replace(rows) => match rows.get(scope) {
            Some(rows) => Ok(rows.clone()),
            None => rows_to_frame(schema, &[]),
        },
        Operation::ReplacePrefixed { column, prefix, rows } => {
            let kept = df
                .lazy()
                .filter(
                    col(column.as_str())
                        .str()
                        .starts_with(lit(prefix.clone()))
                        .not()
                        .or(col(column.as_str()).is_null()),
                )
                .collect()?;
            match rows.get(scope) {
                Some(incoming) => merge_by_key(schema, kept, incoming.clone()),
                None => Ok(kept),
            }
        }
        Operation::Mark { flag, keys } => mark_frame(schema, df, flag, keys),
    }
}

fn mark_frame(schema: &TableSchema, mut df: DataFrame, flag: &str, keys: &HashSet<String>) -> Result<DataFrame> {
    let ids = df.column(schema.key[0])?.str()?.clone();
    let current = df.column(flag)?.bool()?.clone();
    let values: BooleanChunked = ids
        .iter()
        .zip(current.iter())
        .map(|(id, value)| match id {
            Some(id) if keys.contains(id) => Some(true),
            _ => value,
        })
        .collect();
    df.with_column(Column::from(values.into_series().with_name(flag.into())))?;
    Ok(df)
}

fn count_differences(before: &BooleanChunked, after: &BooleanChunked) -> usize {
    before.iter().zip(after.iter()).filter(|(b, a)| b != a).count()
}

/// Joins a table's partitions; several are sorted by key, as one table file always was.
fn combine(schema: &TableSchema, frames: Vec<DataFrame>) -> Result<DataFrame> {
    let mut frames = frames.into_iter();
    let Some(mut df) = frames.next() else {
        return rows_to_frame(schema, &[]);
    };
    let mut several = false;
    for next in frames {
        df.vstack_mut_owned(next)?;
        several = true;
    }
    if several {
        let keys: Vec<PlSmallStr> = schema.key.iter().map(|k| PlSmallStr::from(*k)).collect();
        df = df.sort(keys, SortMultipleOptions::default())?;
    }
    Ok(df)
}

/// A file name no writer has used before: the time, the process and a counter.
fn unique_part_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("part-{nanos:x}-{}-{}.parquet", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Takes the workspace lock (shared for a shard, else exclusive), asking again for up to a second
/// before saying the workspace is busy. Why not at once: a lock is held by an open file description,
/// which a child process forked at that moment by any thread of this process (a browser, a script)
/// shares until it execs — so a workspace this process has just closed can look held for a few
/// milliseconds. Another run that really holds it holds it for far longer than a second.
fn take_workspace_lock(lock: &File, shared: bool) -> std::result::Result<(), TryLockError> {
    let mut attempts = 0;
    loop {
        let taken = if shared { lock.try_lock_shared() } else { lock.try_lock() };
        match taken {
            Err(TryLockError::WouldBlock) if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Takes the commit lock, waiting for a commit in progress (a commit holds it for the time it takes
/// to read, rebase and replace the manifest).
fn commit_lock(root: &Path) -> Result<File> {
    let path = root.join(COMMIT_LOCK);
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(|e| Error::io(&path, e))?;
    file.lock().map_err(|e| Error::io(&path, e))?;
    Ok(file)
}

/// Reads one parquet file of `schema`; a file written by an earlier version that lacks optional
/// columns added since reads with them empty.
fn read_parquet(schema: &TableSchema, path: &Path) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::Workspace { path: path.to_path_buf(), message: format!("cannot read table: {e}") })?;
    conform(schema, path, df)
}

fn conform(schema: &TableSchema, path: &Path, df: DataFrame) -> Result<DataFrame> {
    let expected: Vec<&str> = schema.columns.iter().map(|c| c.name).collect();
    let found: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    if expected == found {
        return Ok(df);
    }
    // Anything but missing optional columns (a missing required column, a column this version does
    // not know) is not a table this version can trust.
    let upgradable = found.iter().all(|f| expected.contains(f))
        && schema.columns.iter().all(|c| !c.required || found.contains(&c.name));
    if !upgradable {
        return Err(Error::Workspace {
            path: path.to_path_buf(),
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

/// Writes a partition's rows to a new file of its own (named by no manifest yet) and syncs it.
fn write_partition(root: &Path, schema: &TableSchema, scope: &str, df: &mut DataFrame) -> Result<PartitionFile> {
    store_partition(&Storage::Local(root.to_path_buf()), schema, scope, df)
}

/// Writes a partition's new rows to a file of its own, never named before, with its key index, for
/// the open commit to list (`None`: the partition has no rows left). Each file is added to
/// `written` as soon as it exists.
fn write_partition_rows(
    storage: &Storage,
    schema: &TableSchema,
    scope: &str,
    rows: NewRows,
    written: &std::sync::Mutex<Vec<String>>,
) -> Result<Option<PartitionFile>> {
    let note = |name: &str| written.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(name.to_string());
    let write_key_index = |file: &str, key_hashes: &[u64], row_hashes: &[u128]| -> Result<String> {
        let name = key_index::index_name(file);
        storage.write_new_bytes(&name, key_index::encode(key_hashes, row_hashes))?;
        note(&name);
        Ok(name)
    };
    match rows {
        NewRows::Whole(df) if df.height() == 0 => Ok(None),
        NewRows::Whole(mut df) => {
            // The file is encoded and written (mostly on one thread) while the rows are hashed for
            // its key index and fingerprint on the other cores: a million-row partition written
            // whole had one core idle for most of a second.
            let rows = df.clone();
            let (stored, hashed) = rayon::join(
                || store_partition(storage, schema, scope, &mut df),
                || -> Result<_> { Ok((content_hash::row_hashes(&rows)?, key_index::key_hashes(schema, &rows)?)) },
            );
            let mut whole = stored?;
            note(&whole.file);
            let (row_hashes, key_hashes) = hashed?;
            whole.key_indexes = vec![write_key_index(&whole.file, &key_hashes, &row_hashes)?];
            whole.content_hash = Some(content_hash::text(content_hash::sum_of(&row_hashes)));
            Ok(Some(whole))
        }
        NewRows::Appended(appended) => {
            let Appended {
                mut partition,
                mut rows,
                key_hashes,
                row_hashes,
                added_rows,
                fingerprint_change,
                supersedes,
            } = *appended;
            let appended = store_partition(storage, schema, scope, &mut rows)?;
            note(&appended.file);
            partition.key_indexes.push(write_key_index(&appended.file, &key_hashes, &row_hashes)?);
            partition.content_hash = partition
                .content_hash
                .as_deref()
                .and_then(content_hash::parse)
                .map(|held| content_hash::text(held.wrapping_add(fingerprint_change)));
            partition.rows += added_rows;
            if supersedes {
                partition.superseding.push(appended.file.clone());
                partition.superseding_rows += appended.rows;
            }
            partition.appended.push(appended.file);
            Ok(Some(partition))
        }
    }
}

/// [`write_partition`] into the workspace's storage.
fn store_partition(storage: &Storage, schema: &TableSchema, scope: &str, df: &mut DataFrame) -> Result<PartitionFile> {
    let relative = format!("{TABLES}/{}/{}/{}", schema.name, partition::directory(scope), unique_part_name());
    storage.write_new_parquet(&relative, df)?;
    Ok(PartitionFile {
        file: relative,
        rows: df.height() as u64,
        appended: Vec::new(),
        superseding: Vec::new(),
        superseding_rows: 0,
        key_indexes: Vec::new(),
        content_hash: None,
    })
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

/// The workspace's manifest, `None` when it has none yet.
fn read_manifest(root: &Path) -> Result<Option<Manifest>> {
    let path = root.join(MANIFEST);
    match fs::read_to_string(&path) {
        Ok(text) => parse_manifest(root, &path, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn parse_manifest(root: &Path, path: &Path, text: &str) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_str(text)
        .map_err(|e| Error::Workspace { path: path.to_path_buf(), message: format!("manifest is not valid: {e}") })?;
    if manifest.schema_version != SCHEMA_VERSION && manifest.schema_version != legacy::VERSION {
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

fn manifest_text(manifest: &Manifest) -> String {
    serde_json::to_string_pretty(manifest).expect("manifest serialises")
}

/// Removes what commits interrupted before their commit point left behind: partition files the
/// manifest does not name, the next manifest half-written, and directories left empty. Only a
/// writer holding the workspace alone may call it.
fn sweep_uncommitted(root: &Path, manifest: &Manifest) -> Result<()> {
    let tmp = root.join(MANIFEST_TMP);
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    legacy::sweep_leftovers(root)?;
    let live: HashSet<PathBuf> = manifest
        .tables
        .values()
        .flat_map(|p| p.values())
        .flat_map(|f| f.stored_files())
        .map(|f| root.join(f))
        .collect();
    let tables = root.join(TABLES);
    for table in read_dir_paths(&tables)? {
        for scope in read_dir_paths(&table)? {
            for file in read_dir_paths(&scope)? {
                if file.is_file() && !live.contains(&file) {
                    fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
                }
            }
            let _ = fs::remove_dir(&scope); // only when empty
        }
        let _ = fs::remove_dir(&table);
    }
    Ok(())
}

/// The entries of a directory; none when it does not exist or is not a directory.
fn read_dir_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.flatten().map(|e| e.path()).collect())
}

fn disk_state(storage: &Storage) -> Result<DiskState> {
    match storage {
        Storage::Local(root) => {
            let generation = read_manifest(root)?.map(|m| m.generation);
            Ok(DiskState { journal: legacy::journal_exists(root), generation })
        }
        Storage::Object(_) => {
            let generation = read_stored_manifest(storage)?.map(|(m, _)| m.generation);
            Ok(DiskState { journal: false, generation })
        }
    }
}

/// The workspace's manifest and its version, `None` when it has none yet. An object store never
/// holds the old layout (flowgauge wrote none there), so its manifest must be of this version.
fn read_stored_manifest(storage: &Storage) -> Result<Option<(Manifest, ManifestVersion)>> {
    match storage {
        Storage::Local(root) => Ok(read_manifest(root)?.map(|m| (m, ManifestVersion::Local))),
        Storage::Object(object) => {
            let Some((text, version)) = object.read_manifest()? else {
                return Ok(None);
            };
            let url = PathBuf::from(object.url());
            let manifest = parse_manifest(&url, &PathBuf::from(object.url_of(MANIFEST)), &text)?;
            if manifest.schema_version != SCHEMA_VERSION {
                return Err(Error::Workspace {
                    path: url,
                    message: format!(
                        "has schema version {}, which only a local workspace may have; migrate it locally, then copy it",
                        manifest.schema_version
                    ),
                });
            }
            Ok(Some((manifest, version)))
        }
    }
}

/// Replaces the manifest with `next` if it is still at `version` — the commit point. Locally: the
/// next manifest is written beside the live one, synced and renamed over it (the caller holds
/// `commit.lock`). `crash` stops just before, as if the process had been killed there.
fn swap_manifest(storage: &Storage, next: &Manifest, version: &ManifestVersion, crash: bool) -> Result<Swap> {
    let text = manifest_text(next);
    match storage {
        Storage::Local(root) => {
            write_file_synced(&root.join(MANIFEST_TMP), text.as_bytes())?;
            if crash {
                return Err(simulated_crash(root));
            }
            let live = root.join(MANIFEST);
            fs::rename(root.join(MANIFEST_TMP), &live).map_err(|e| Error::io(&live, e))?;
            sync_directory(root);
            Ok(Swap::Committed)
        }
        Storage::Object(object) => {
            if crash {
                return Err(simulated_crash(Path::new(object.url())));
            }
            object.swap_manifest(&text, version)
        }
    }
}

/// Every file a manifest names, workspace-relative.
fn named_files(manifest: &Manifest) -> HashSet<String> {
    manifest.tables.values().flat_map(|p| p.values()).flat_map(|f| f.stored_files()).cloned().collect()
}

fn simulated_crash(root: &Path) -> Error {
    Error::Workspace { path: root.to_path_buf(), message: "commit stopped by a simulated crash".into() }
}

/// Writes `bytes` to `path` and syncs it to disk.
fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Makes renames in `dir` durable. Best effort: some file systems cannot sync a directory, and the
/// manifest's rename is what makes a commit safe, not this.
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
///
/// `existing` is a partition as read (sorted by key, one row per key). When the incoming rows are
/// exactly its rows (the same file imported again), it is returned as it is: comparing costs a
/// pass over the rows, merging a sort of both.
fn merge_by_key(schema: &TableSchema, existing: DataFrame, incoming: DataFrame) -> Result<DataFrame> {
    let incoming = last_row_of_each_key(schema, incoming.lazy())?;
    if existing.height() == 0 {
        return Ok(incoming);
    }
    if incoming.height() == existing.height() && incoming.equals_missing(&existing) {
        return Ok(existing);
    }
    last_row_of_each_key(schema, concat([existing.lazy(), incoming.lazy()], UnionArgs::default())?)
}

/// Sorts rows by key, keeping the order they came in among rows of one key (a stable sort), and
/// keeps the last row of each key: the rows of a key end up side by side, so the last is the one
/// whose key differs from the next row's.
fn last_row_of_each_key(schema: &TableSchema, rows: LazyFrame) -> Result<DataFrame> {
    let keys: Vec<Expr> = schema.key.iter().map(|k| col(*k)).collect();
    let last_of_key = schema
        .key
        .iter()
        .map(|k| col(*k).neq_missing(col(*k).shift(lit(-1))))
        .reduce(|a, b| a.or(b))
        .expect("a table has a key");
    let sorted = rows.sort_by_exprs(keys, SortMultipleOptions::default().with_maintain_order(true));
    Ok(sorted.filter(last_of_key).collect()?)
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
