//! Where a workspace's files live: a local directory, or a bucket of an object store (`s3://`,
//! `gs://`, `az://`), behind the few operations the commit protocol needs.
//!
//! A commit needs its storage to write a file under a name never used before, read a file, remove
//! one, and replace the manifest only if it is still the one the commit was built on. A local
//! directory does the last under `commit.lock` with a rename. An object store has no rename and no
//! lock, so there the manifest is replaced by a *conditional put*: `If-Match` with the e-tag read
//! (`If-None-Match: *` for the first commit). When another writer committed meanwhile the put is
//! refused ([`Swap::Conflict`]) and the workspace computes its commit again on top of the other
//! writer's: compare and retry, never last writer wins. Data files are written with a create-only
//! put, so no writer ever overwrites another's file.
//!
//! What is not a table (raw API pages, assessment snapshots) is kept by collectors in a local
//! directory, as for a local workspace; for an object store that directory is a *mirror* under the
//! user's cache directory, filled from the store when a writer opens the workspace and uploaded to
//! it after every commit ([`Mirror`]), so collected pages are never only on one machine.
//!
//! The object_store API is async; the storage owns a small current-thread tokio runtime and blocks
//! on it, so the rest of the workspace stays synchronous. Credentials come from the environment the
//! way each store's own tools read them; they are never printed: errors name the URL and the
//! variables to set, not their values.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use object_store::aws::AmazonS3ConfigKey;
use object_store::azure::AzureConfigKey;
use object_store::gcp::GoogleConfigKey;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;

use crate::error::{Error, Result};

/// The URL schemes of the object stores a workspace may live on.
pub const OBJECT_SCHEMES: [&str; 3] = ["s3", "gs", "az"];

/// The manifest's name, at the top of the workspace.
const MANIFEST: &str = "manifest.json";
/// The directory holding the tables' partitions.
const TABLES: &str = "tables";

/// The environment variables an object store is configured from (`AWS_*`, `GOOGLE_*`, `AZURE_*`,
/// and `HOME`/`XDG_CACHE_HOME` for the mirror): the process's, or a test's own.
pub type Vars = BTreeMap<String, String>;

/// The process's variables that configure object stores.
pub fn process_vars() -> Vars {
    std::env::vars()
        .filter(|(name, _)| {
            ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| name.starts_with(p))
                || ["MSI_ENDPOINT", "SERVICE_ACCOUNT", "HOME", "XDG_CACHE_HOME"].contains(&name.as_str())
        })
        .collect()
}

/// The object store URL `root` names (`s3://bucket/prefix`, without a trailing `/`), or `None` for
/// a local directory.
pub fn object_url(root: &Path) -> Option<String> {
    let text = root.to_str()?;
    let (scheme, rest) = text.split_once("://")?;
    OBJECT_SCHEMES.contains(&scheme).then(|| format!("{scheme}://{}", rest.trim_end_matches('/')))
}

/// Where a workspace's files are.
pub enum Storage {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket (and prefix) of an object store.
    Object(Box<ObjectStorage>),
}

/// What a conditional replacement of the manifest must still find.
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestVersion {
    /// A local manifest: replaced under `commit.lock`, which makes the check needless.
    Local,
    /// No manifest yet: the first commit creates it, and fails if another did first.
    Absent,
    /// The object's version as read.
    Object(UpdateVersion),
}

/// How a conditional replacement of the manifest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Committed,
    /// Another writer replaced the manifest since it was read: nothing was written.
    Conflict,
}

/// One file of the store, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Path relative to the workspace, `/`-separated.
    pub file: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
    /// The store's tag of this version of the file, when it gives one.
    pub e_tag: Option<String>,
}

impl Storage {
    /// The storage `root` names: an object store for an `s3://`, `gs://` or `az://` URL (built from
    /// the environment's credentials), else the local directory.
    pub fn for_workspace(root: &Path, vars: &Vars) -> Result<Storage> {
        match object_url(root) {
            Some(url) => Ok(Storage::Object(Box::new(ObjectStorage::from_vars(&url, vars)?))),
            None => Ok(Storage::Local(root.to_path_buf())),
        }
    }

    /// The storage's object store, `None` for a local directory.
    pub fn object(&self) -> Option<&ObjectStorage> {
        match self {
            Storage::Local(_) => None,
            Storage::Object(object) => Some(object),
        }
    }

    /// A reader of a file, for polars; a missing file is an [`Error::Io`] of kind `NotFound`.
    pub fn open(&self, file: &str) -> Result<Box<dyn MmapBytesReader>> {
        match self {
            Storage::Local(root) => {
                let path = root.join(file);
                Ok(Box::new(fs::File::open(&path).map_err(|e| Error::io(&path, e))?))
            }
            Storage::Object(object) => Ok(Box::new(Cursor::new(object.get(file)?))),
        }
    }

    /// Writes `df` as a parquet file under a name no file had (locally synced to disk; on an object
    /// store put only if no object has the name).
    pub fn write_new_parquet(&self, file: &str, df: &mut DataFrame) -> Result<()> {
        match self {
            Storage::Local(root) => {
                write_new_local(root, file, |out| Ok(parquet_writer(out).finish(df).map(|_| ())?))
            }
            Storage::Object(object) => {
                let mut bytes = Vec::new();
                parquet_writer(&mut bytes).finish(df)?;
                object.put(file, bytes, PutMode::Create).map(|_| ())
            }
        }
    }

    /// Writes `bytes` as a file under a name no file had, like [`Storage::write_new_parquet`].
    pub fn write_new_bytes(&self, file: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Storage::Local(root) => write_new_local(root, file, |out| {
                std::io::Write::write_all(out, &bytes).map_err(|e| Error::io(root.join(file), e))
            }),
            Storage::Object(object) => object.put(file, bytes, PutMode::Create).map(|_| ()),
        }
    }

    /// Removes a file no manifest names any more. Best effort: what stays is swept later.
    pub fn remove(&self, file: &str) {
        match self {
            Storage::Local(root) => {
                let _ = fs::remove_file(root.join(file));
            }
            Storage::Object(object) => object.remove(file),
        }
    }
}

/// Creates `file` under `root` (its directories too), refusing a name a file already has, writes it
/// with `write` and syncs it to disk.
fn write_new_local(root: &Path, file: &str, write: impl FnOnce(&mut fs::File) -> Result<()>) -> Result<()> {
    let path = root.join(file);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut out = fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| Error::io(&path, e))?;
    write(&mut out)?;
    out.sync_all().map_err(|e| Error::io(&path, e))
}

/// The workspace's parquet writer: uncompressed. The text columns are dictionary-encoded already,
/// so snappy saved only a fifth of the bytes (437 → 347 MB for a million changes with their commits,
/// deployments and reviews) and cost a tenth of an import's time, mostly on one core (zstd, the
/// default, twice that); every engine reads uncompressed parquet, not every one the faster codecs
/// (LZ4_RAW). Measured by benches/import.rs.
fn parquet_writer<W: std::io::Write>(out: W) -> ParquetWriter<W> {
    ParquetWriter::new(out).with_compression(ParquetCompression::Uncompressed)
}

/// A workspace in a bucket of an object store.
pub struct ObjectStorage {
    /// `scheme://bucket/prefix`, as the user wrote it (no secret is ever part of it).
    url: String,
    store: Box<dyn ObjectStore>,
    /// The workspace's prefix inside the bucket (may be empty).
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl ObjectStorage {
    /// Builds the store `url` names from the environment `vars` (`AWS_*`, `GOOGLE_*`, `AZURE_*`, as
    /// the stores' own tools read them, the way object_store's `from_env` builders do). Without
    /// credentials there, a configuration error says which variables to set, rather than letting
    /// the client ask an instance-metadata service.
    pub fn from_vars(url: &str, vars: &Vars) -> Result<ObjectStorage> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(config_error(url, "names no bucket; write it as SCHEME://BUCKET/PREFIX"));
        }
        if let Err(e) = ObjectPath::parse(prefix) {
            return Err(config_error(url, &format!("is not a valid object path: {e}")));
        }
        let env = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let store: std::result::Result<Box<dyn ObjectStore>, object_store::Error> = match scheme {
            "s3" => {
                require_credentials(url, &env, S3_CREDENTIALS)?;
                configured(object_store::aws::AmazonS3Builder::new(), vars, "AWS_", |b, k: AmazonS3ConfigKey, v| {
                    b.with_config(k, v)
                })
                .with_url(url)
                .build()
                .map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            "gs" => {
                require_credentials(url, &env, GCS_CREDENTIALS)?;
                let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new();
                if let Some(path) = env("SERVICE_ACCOUNT") {
                    builder = builder.with_service_account_path(path);
                }
                configured(builder, vars, "GOOGLE_", |b, k: GoogleConfigKey, v| b.with_config(k, v))
                    .with_url(url)
                    .build()
                    .map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            "az" => {
                if env("AZURE_STORAGE_ACCOUNT_NAME").is_none() && env("AZURE_STORAGE_USE_EMULATOR").is_none() {
                    return Err(config_error(
                        url,
                        "needs the storage account: set AZURE_STORAGE_ACCOUNT_NAME (and its credentials)",
                    ));
                }
                require_credentials(url, &env, AZURE_CREDENTIALS)?;
                let mut builder = object_store::azure::MicrosoftAzureBuilder::new();
                if let Some(endpoint) = env("MSI_ENDPOINT") {
                    builder = builder.with_msi_endpoint(endpoint);
                }
                configured(builder, vars, "AZURE_", |b, k: AzureConfigKey, v| b.with_config(k, v))
                    .with_url(url)
                    .build()
                    .map(|s| Box::new(s) as Box<dyn ObjectStore>)
            }
            other => {
                return Err(config_error(
                    url,
                    &format!("`{other}://` is not an object store flowgauge knows (s3://, gs://, az://)"),
                ));
            }
        };
        let store = store.map_err(|e| config_error(url, &format!("cannot be opened: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(PathBuf::from(url), e))?;
        Ok(ObjectStorage { url: url.to_string(), store, prefix: prefix.trim_matches('/').to_string(), runtime })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a file of the workspace, for messages.
    pub fn url_of(&self, file: &str) -> String {
        format!("{}/{file}", self.url)
    }

    fn location(&self, file: &str) -> ObjectPath {
        let key = if self.prefix.is_empty() { file.to_string() } else { format!("{}/{file}", self.prefix) };
        // Our names hold no empty segment or control character: `parse` keeps them byte for byte
        // (`from` would escape the `%` of partition directories).
        ObjectPath::parse(&key).unwrap_or_else(|_| ObjectPath::from(key))
    }

    /// The workspace-relative name of an object of the store.
    fn relative(&self, location: &ObjectPath) -> Option<String> {
        let key = location.as_ref();
        if self.prefix.is_empty() {
            return Some(key.to_string());
        }
        key.strip_prefix(&self.prefix)?.strip_prefix('/').map(str::to_string)
    }

    fn failure(&self, file: &str, doing: &str, e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } => Error::io(
                PathBuf::from(self.url_of(file)),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such object"),
            ),
            // object_store's messages name the request and the store's answer, never a credential.
            e => Error::ObjectStore { url: self.url_of(file), message: format!("cannot {doing}: {e}") },
        }
    }

    /// Runs the request `start` makes on the storage's runtime and waits for it. Called from async
    /// code (a collector blocking on a runtime of its own calls the workspace), no runtime may be
    /// blocked on in that thread: then the request runs on a thread of its own, which waits.
    fn block_on<T: Send, F: std::future::Future<Output = T>>(&self, start: impl FnOnce() -> F + Send) -> T {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.runtime.block_on(start());
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.runtime.block_on(start()))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// A file's bytes.
    pub fn get(&self, file: &str) -> Result<Vec<u8>> {
        let location = self.location(file);
        self.block_on(|| async { self.store.get(&location).await?.bytes().await })
            .map(Vec::from)
            .map_err(|e| self.failure(file, "read", e))
    }

    /// A file's bytes and version, `None` when there is no such file.
    pub fn get_versioned(&self, file: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>> {
        let location = self.location(file);
        let got = self.block_on(|| async {
            let result = self.store.get(&location).await?;
            let version = UpdateVersion { e_tag: result.meta.e_tag.clone(), version: result.meta.version.clone() };
            Ok::<_, object_store::Error>((Vec::from(result.bytes().await?), version))
        });
        match got {
            Ok(found) => Ok(Some(found)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failure(file, "read", e)),
        }
    }

    /// Puts a file; with [`PutMode::Create`] or [`PutMode::Update`] only if the store still holds
    /// what the mode expects, else `Ok(None)`.
    pub fn put(&self, file: &str, bytes: Vec<u8>, mode: PutMode) -> Result<Option<UpdateVersion>> {
        let location = self.location(file);
        let options = PutOptions { mode, ..Default::default() };
        let put = self.block_on(|| self.store.put_opts(&location, PutPayload::from(bytes), options));
        match put {
            Ok(result) => Ok(Some(UpdateVersion { e_tag: result.e_tag, version: result.version })),
            Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(self.failure(file, "write", e)),
        }
    }

    /// Removes a file, best effort (a file left is swept later).
    pub fn remove(&self, file: &str) {
        let location = self.location(file);
        let _ = self.block_on(|| self.store.delete(&location));
    }

    /// Every file under the directory `dir` (workspace-relative; `""` for all), at any depth.
    pub fn list(&self, dir: &str) -> Result<Vec<Listed>> {
        self.list_except(dir, &[])
    }

    /// [`ObjectStorage::list`] without the directories `skipped` (workspace-relative), which are
    /// not even listed.
    pub fn list_except(&self, dir: &str, skipped: &[&str]) -> Result<Vec<Listed>> {
        let mut found = Vec::new();
        let mut pending = vec![if dir.is_empty() { self.location_of_prefix() } else { Some(self.location(dir)) }];
        while let Some(prefix) = pending.pop() {
            let listing = self
                .block_on(|| self.store.list_with_delimiter(prefix.as_ref()))
                .map_err(|e| self.failure(dir, "list", e))?;
            pending.extend(
                listing
                    .common_prefixes
                    .into_iter()
                    .filter(|p| self.relative(p).is_none_or(|d| !skipped.contains(&d.as_str())))
                    .map(Some),
            );
            for meta in listing.objects {
                if let Some(file) = self.relative(&meta.location) {
                    found.push(Listed { file, size: meta.size, modified: meta.last_modified, e_tag: meta.e_tag });
                }
            }
        }
        Ok(found)
    }

    fn location_of_prefix(&self) -> Option<ObjectPath> {
        (!self.prefix.is_empty())
            .then(|| ObjectPath::parse(&self.prefix).unwrap_or_else(|_| self.prefix.as_str().into()))
    }

    /// The manifest's text and version, `None` when the workspace has none yet.
    pub fn read_manifest(&self) -> Result<Option<(String, ManifestVersion)>> {
        let Some((bytes, version)) = self.get_versioned(MANIFEST)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes).map_err(|e| Error::Workspace {
            path: PathBuf::from(self.url_of(MANIFEST)),
            message: format!("manifest is not valid: {e}"),
        })?;
        Ok(Some((text, ManifestVersion::Object(version))))
    }

    /// Replaces the manifest with `text` if it still is at `version`: the commit point.
    pub fn swap_manifest(&self, text: &str, version: &ManifestVersion) -> Result<Swap> {
        let mode = match version {
            ManifestVersion::Object(version) => PutMode::Update(version.clone()),
            ManifestVersion::Absent | ManifestVersion::Local => PutMode::Create,
        };
        match self.put(MANIFEST, text.as_bytes().to_vec(), mode)? {
            Some(_) => Ok(Swap::Committed),
            None => Ok(Swap::Conflict),
        }
    }

    /// Removes the table files no manifest names that are older than `grace`: a crashed writer's
    /// leftovers. Younger ones may be another writer's commit in the making, and stay.
    pub fn sweep_unnamed(&self, named: &std::collections::HashSet<String>, grace: chrono::Duration) -> Result<()> {
        let cutoff = Utc::now() - grace;
        for listed in self.list(TABLES)? {
            if !named.contains(&listed.file) && listed.modified < cutoff {
                self.remove(&listed.file);
            }
        }
        Ok(())
    }
}

/// The local copy of what an object-store workspace keeps besides its tables (raw pages,
/// assessment snapshots): collectors read and write it as a local workspace's directory, and it is
/// uploaded after every commit.
pub struct Mirror {
    dir: PathBuf,
    /// File → the store's e-tag of the version the mirror holds (downloaded or uploaded), kept in
    /// [`MIRROR_INDEX`]: an object whose e-tag differs was written elsewhere and is downloaded again.
    e_tags: BTreeMap<String, String>,
    /// File → its size and modification time when last downloaded or uploaded: what is unchanged
    /// needs no upload.
    synced: BTreeMap<String, (u64, Option<std::time::SystemTime>)>,
}

/// The mirror's record of the e-tags of its files (a name starting with `.`: never uploaded).
const MIRROR_INDEX: &str = ".e-tags.json";

impl Mirror {
    /// The mirror directory of `url` under the user's cache directory (`$XDG_CACHE_HOME`, else
    /// `$HOME/.cache`): `flowgauge/workspaces/<url as a file name>-<hash>`.
    pub fn dir_for(url: &str, vars: &Vars) -> Result<PathBuf> {
        let env = |name: &str| vars.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let cache = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|home| home.join(".cache"))).ok_or_else(|| {
            config_error(url, "needs a local cache directory for raw pages: set XDG_CACHE_HOME or HOME")
        })?;
        let name: String =
            url.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        Ok(cache.join("flowgauge").join("workspaces").join(format!("{name}-{:08x}", fnv1a(url.as_bytes()) as u32)))
    }

    /// Creates the mirror of `storage`'s workspace and downloads every file that is not a table or
    /// the manifest and that the mirror does not hold in the store's version (another e-tag, or
    /// another size): raw pages are never lost to a machine that did not collect them.
    pub fn download(storage: &ObjectStorage, vars: &Vars) -> Result<Mirror> {
        let dir = Mirror::dir_for(storage.url(), vars)?;
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let e_tags = read_index(&dir.join(MIRROR_INDEX));
        let mut mirror = Mirror { dir, e_tags, synced: BTreeMap::new() };
        for listed in storage.list_except("", &[TABLES])? {
            if !Mirror::mirrored(&listed.file) {
                continue;
            }
            let path = mirror.dir.join(&listed.file);
            let local_size = fs::metadata(&path).ok().map(|m| m.len());
            let same_version = match &listed.e_tag {
                Some(tag) => mirror.e_tags.get(&listed.file) == Some(tag),
                None => true, // a store without e-tags: the size alone tells
            };
            if local_size != Some(listed.size) || !same_version {
                let bytes = storage.get(&listed.file)?;
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                // Named by process: shards on one machine share the mirror.
                let tmp = path.with_file_name(format!(
                    ".{}.{}.download",
                    path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                    std::process::id()
                ));
                fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
                fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            }
            mirror.synced.insert(listed.file.clone(), local_state(&path));
            if let Some(tag) = listed.e_tag {
                mirror.e_tags.insert(listed.file, tag);
            }
        }
        mirror.write_index()?;
        Ok(mirror)
    }

    /// Keeps the e-tags for the next run, written whole and renamed into place (shards on one
    /// machine share the mirror; the last one's index wins, costing at most a download again).
    fn write_index(&self) -> Result<()> {
        let path = self.dir.join(MIRROR_INDEX);
        let tmp = self.dir.join(format!("{MIRROR_INDEX}.{}.tmp", std::process::id()));
        let text = serde_json::to_string(&self.e_tags).expect("e-tags serialise");
        fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `file` (workspace-relative) belongs in the mirror: not a table, not the manifest,
    /// not a temporary file (a name starting with `.`).
    fn mirrored(file: &str) -> bool {
        let top = file.split('/').next().unwrap_or_default();
        top != TABLES && file != MANIFEST && !file.split('/').any(|part| part.starts_with('.'))
    }

    /// Uploads every file of the mirror that is new or changed since it was last synced.
    pub fn upload(&mut self, storage: &ObjectStorage) -> Result<usize> {
        let mut uploaded = 0;
        for path in walk_files(&self.dir)? {
            let Ok(relative) = path.strip_prefix(&self.dir) else { continue };
            let file = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if !Mirror::mirrored(&file) {
                continue;
            }
            let state = local_state(&path);
            if self.synced.get(&file) == Some(&state) {
                continue;
            }
            let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let version = storage.put(&file, bytes, PutMode::Overwrite)?;
            match version.and_then(|v| v.e_tag) {
                Some(tag) => self.e_tags.insert(file.clone(), tag),
                None => self.e_tags.remove(&file),
            };
            self.synced.insert(file, state);
            uploaded += 1;
        }
        if uploaded > 0 {
            self.write_index()?;
        }
        Ok(uploaded)
    }
}

/// The mirror's index of e-tags; empty when missing or unreadable (then every file is downloaded
/// once more, and the index written again).
fn read_index(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
}

fn local_state(path: &Path) -> (u64, Option<std::time::SystemTime>) {
    match fs::metadata(path) {
        Ok(meta) => (meta.len(), meta.modified().ok()),
        Err(_) => (0, None),
    }
}

/// Every file under `dir`, at any depth.
fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// FNV-1a: stable across runs and platforms, for the mirror's directory name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The variables that hold an object store's credentials: alternatives, each a set of variables
/// that must all be set.
const S3_CREDENTIALS: &[&[&str]] = &[
    &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    &["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"],
    &["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
    &["AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
    // The instance's own role, asked of the metadata service only when its address is given.
    &["AWS_METADATA_ENDPOINT"],
    &["AWS_SKIP_SIGNATURE"],
];
const GCS_CREDENTIALS: &[&[&str]] = &[
    &["GOOGLE_SERVICE_ACCOUNT"],
    &["GOOGLE_SERVICE_ACCOUNT_PATH"],
    &["GOOGLE_SERVICE_ACCOUNT_KEY"],
    &["GOOGLE_APPLICATION_CREDENTIALS"],
    &["GOOGLE_BEARER_TOKEN"],
    &["GOOGLE_SKIP_SIGNATURE"],
];
const AZURE_CREDENTIALS: &[&[&str]] = &[
    &["AZURE_STORAGE_ACCOUNT_KEY"],
    &["AZURE_STORAGE_ACCESS_KEY"],
    &["AZURE_STORAGE_SAS_KEY"],
    &["AZURE_STORAGE_SAS_TOKEN"],
    &["AZURE_STORAGE_TOKEN"],
    &["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"],
    &["AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"],
    &["AZURE_USE_AZURE_CLI"],
    &["AZURE_STORAGE_USE_EMULATOR"],
    &["AZURE_SKIP_SIGNATURE"],
];

/// `builder` with every variable of `vars` named `PREFIX…` that is one of its configuration keys,
/// as the builders' own `from_env` reads the process's environment.
fn configured<B, K: std::str::FromStr>(builder: B, vars: &Vars, prefix: &str, set: impl Fn(B, K, String) -> B) -> B {
    vars.iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .filter_map(|(name, value)| Some((name.to_ascii_lowercase().parse::<K>().ok()?, value.clone())))
        .fold(builder, |builder, (key, value)| set(builder, key, value))
}

/// Refuses a store whose credentials are nowhere in the environment, naming what to set.
fn require_credentials(url: &str, env: &dyn Fn(&str) -> Option<String>, sets: &[&[&str]]) -> Result<()> {
    if sets.iter().any(|set| set.iter().all(|name| env(name).is_some())) {
        return Ok(());
    }
    let options: Vec<String> = sets.iter().map(|set| set.join(" + ")).collect();
    Err(config_error(url, &format!("no credentials in the environment: set one of {}", options.join(", "))))
}

fn config_error(url: &str, message: &str) -> Error {
    Error::ConfigValue { key: "workspace".into(), message: format!("{url} {message}") }
}
