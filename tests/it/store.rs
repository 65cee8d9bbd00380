//! The partitioned workspace: partitions rewritten only where rows change, the migration of old
//! workspaces (crash-safe), and shared writers committing side by side without losing each other's
//! rows.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use flowgauge::collect::{self, ImportKind, ImportRequest};
use flowgauge::config::Config;
use flowgauge::model::{self, Row, Value};
use flowgauge::store::{CommitStep, PartitionFile, SourceState, Workspace};
use flowgauge::{Error, store};
use polars::prelude::*;

use crate::helpers::{flowgauge, now, text};

fn cfg() -> Config {
    Config::from_toml(
        "[[services]]\nname = \"checkout\"\nrepos = [\"acme/shop\"]\nproduction_environments = [\"prod-*\"]\n\
         [[services]]\nname = \"search\"\n",
        now(),
    )
    .unwrap()
}

pub(crate) fn change(id: &str, title: &str) -> Row {
    model::CHANGES.row([
        ("id", Value::Text(id.into())),
        ("source", Value::Text("github".into())),
        ("service", Value::Text("checkout".into())),
        ("title", Value::Text(title.into())),
    ])
}

fn partitions(ws: &Workspace, table: &str) -> BTreeMap<String, PartitionFile> {
    ws.manifest().tables.get(table).cloned().unwrap_or_default()
}

fn ids(df: &DataFrame) -> Vec<String> {
    df.column("id").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect()
}

#[test]
fn an_upsert_rewrites_only_the_partitions_its_rows_belong_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "a"), change("github:pr:acme/web#1", "b")])])
        .unwrap();
    let first = partitions(&ws, "changes");
    assert_eq!(first.keys().collect::<Vec<_>>(), ["github:acme/shop", "github:acme/web"]);
    let shop = &first["github:acme/shop"];
    assert!(shop.file.starts_with("tables/changes/scope=github%3Aacme%2Fshop/part-"), "{}", shop.file);
    assert!(dir.path().join(&shop.file).exists());

    // A new key: its row is appended to the partition, which is not rewritten.
    let stats = ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#0", "c")])]).unwrap();
    assert_eq!((stats[0].before, stats[0].after), (2, 3));
    let second = partitions(&ws, "changes");
    assert_eq!(second["github:acme/web"], first["github:acme/web"], "the untouched partition is not rewritten");
    let shop = &second["github:acme/shop"];
    assert_eq!((shop.file.as_str(), shop.rows, shop.appended.len()), (first["github:acme/shop"].file.as_str(), 2, 1));
    assert_eq!(
        ids(&ws.load(&model::CHANGES).unwrap()),
        ["github:pr:acme/shop#0", "github:pr:acme/shop#1", "github:pr:acme/web#1"],
        "a table reads whole, sorted by key"
    );

    // The same rows again change nothing: no file is written, no generation spent.
    let generation = ws.manifest().generation;
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#0", "c")])]).unwrap();
    assert_eq!(partitions(&ws, "changes"), second);
    assert_eq!(ws.manifest().generation, generation);

    // A key the partition holds: the partition is written whole, its old files removed.
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "changed")])]).unwrap();
    let third = partitions(&ws, "changes");
    assert!(third["github:acme/shop"].appended.is_empty());
    assert_eq!(third["github:acme/shop"].rows, 2);
    for old in shop.files() {
        assert!(!dir.path().join(old).exists(), "{old} is removed");
    }
    let titles = ws.load(&model::CHANGES).unwrap();
    let titles: Vec<&str> = titles.column("title").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(titles, ["c", "changed", "b"]);
}

#[test]
fn an_upsert_of_new_keys_looks_them_up_in_the_key_index_without_reading_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let many: Vec<Row> = (0..1_000).map(|n| change(&format!("github:pr:acme/shop#{n}"), "a")).collect();
    ws.upsert(&[(&model::CHANGES, many)]).unwrap();
    let shop = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!(shop.key_indexes, [shop.file.replace(".parquet", ".keys")]);
    // The partition file made unreadable: only its index can tell the upsert that the key is new.
    let file = dir.path().join(&shop.file);
    let content = fs::read(&file).unwrap();
    fs::write(&file, b"not parquet").unwrap();
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1000", "b")])]).unwrap();
    let appended = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!((appended.appended.len(), appended.key_indexes.len(), appended.rows), (1, 2, 1_001));
    // A key it holds, its row changed: the index says so too, and the row is appended, superseding
    // the one the partition holds (still not read).
    let stats = ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#7", "c")])]).unwrap();
    assert_eq!((stats[0].before, stats[0].after), (1_001, 1_001));
    let appended = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!((appended.appended.len(), appended.superseding.len(), appended.rows), (2, 1, 1_001));
    fs::write(&file, content).unwrap();
    // Changes of more than a quarter of the partition: it is read and written whole.
    let many: Vec<Row> = (0..300).map(|n| change(&format!("github:pr:acme/shop#{n}"), "d")).collect();
    ws.upsert(&[(&model::CHANGES, many)]).unwrap();
    let whole = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!((whole.appended.len(), whole.key_indexes.len(), whole.rows), (0, 1, 1_001));
    assert!(whole.superseding.is_empty() && whole.superseding_rows == 0);
    drop(ws);
    drop(Workspace::open(dir.path()).unwrap());
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new(), "old indexes go with their files");
    for old in appended.stored_files() {
        assert!(!dir.path().join(old).exists(), "{old} is removed");
    }
}

#[test]
fn an_upsert_of_exactly_the_rows_a_partition_holds_does_not_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let rows =
        |title: &str| -> Vec<Row> { (0..100).map(|n| change(&format!("github:pr:acme/shop#{n}"), title)).collect() };
    ws.upsert(&[(&model::CHANGES, rows("a")[..60].to_vec())]).unwrap();
    ws.upsert(&[(&model::CHANGES, rows("a")[60..].to_vec())]).unwrap();
    let before = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!((before.appended.len(), before.rows), (1, 100));
    // Unreadable files: only the fingerprint can tell that nothing changes.
    let contents: Vec<(PathBuf, Vec<u8>)> =
        before.files().map(|f| dir.path().join(f)).map(|p| (p.clone(), fs::read(&p).unwrap())).collect();
    for (path, _) in &contents {
        fs::write(path, b"not parquet").unwrap();
    }
    let mut reversed = rows("a");
    reversed.reverse();
    let stats = ws.upsert(&[(&model::CHANGES, reversed)]).unwrap();
    assert_eq!((stats[0].before, stats[0].after), (100, 100));
    assert_eq!(partitions(&ws, "changes")["github:acme/shop"], before);
    // One cell differs: the key indexes say which row changed, and only it is written (the
    // partition still not read).
    let mut one_changed = rows("a");
    one_changed[42] = change("github:pr:acme/shop#42", "b");
    ws.upsert(&[(&model::CHANGES, one_changed.clone())]).unwrap();
    let after = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!((after.appended.len(), after.superseding_rows, after.rows), (2, 1, 100));
    for (path, content) in contents {
        fs::write(path, content).unwrap();
    }
    let titles = ws.load(&model::CHANGES).unwrap();
    let titles: Vec<&str> = titles.column("title").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(titles.iter().filter(|t| **t == "b").count(), 1);
    assert_ne!(partitions(&ws, "changes")["github:acme/shop"].content_hash, before.content_hash);
}

#[test]
fn a_partition_takes_appended_files_up_to_a_limit_then_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    for n in 0..=store::MAX_APPENDED + 1 {
        ws.upsert(&[(&model::CHANGES, vec![change(&format!("github:pr:acme/shop#{n}"), "x")])]).unwrap();
        let shop = &partitions(&ws, "changes")["github:acme/shop"];
        let expected = if n <= store::MAX_APPENDED { n } else { 0 };
        assert_eq!((shop.appended.len(), shop.rows as usize), (expected, n + 1), "after upsert {n}");
    }
    assert_eq!(ws.load(&model::CHANGES).unwrap().height(), store::MAX_APPENDED + 2);
    drop(ws);
    drop(Workspace::open(dir.path()).unwrap());
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn replacing_by_prefix_and_marking_reach_only_their_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let deploy = |id: &str| {
        model::DEPLOYMENTS.row([
            ("id", Value::Text(id.into())),
            ("source", Value::Text("git".into())),
            ("service", Value::Text("checkout".into())),
            ("environment", Value::Text("production".into())),
            ("is_production", Value::Bool(true)),
            ("finished_at", Value::Time(now())),
            ("status", Value::Text("success".into())),
        ])
    };
    ws.upsert(&[(&model::DEPLOYMENTS, vec![deploy("git:tag:acme/shop:v1"), deploy("git:tag:acme/web:v1")])]).unwrap();
    let before = partitions(&ws, "deployments");
    ws.replace_prefixed(&model::DEPLOYMENTS, "id", "git:tag:acme/shop:", &[deploy("git:tag:acme/shop:v2")]).unwrap();
    let after = partitions(&ws, "deployments");
    assert_eq!(after["git:acme/web"], before["git:acme/web"]);
    assert_eq!(ids(&ws.load(&model::DEPLOYMENTS).unwrap()), ["git:tag:acme/shop:v2", "git:tag:acme/web:v1"]);

    let keys = ["git:tag:acme/web:v1".to_string()].into_iter().collect();
    assert_eq!(ws.mark(&model::DEPLOYMENTS, "is_rollback", &keys).unwrap(), 1);
    assert_eq!(ws.mark(&model::DEPLOYMENTS, "is_rollback", &keys).unwrap(), 0);
    let marked = partitions(&ws, "deployments");
    assert_eq!(marked["git:acme/shop"], after["git:acme/shop"]);
    let df = ws.load(&model::DEPLOYMENTS).unwrap();
    let flags: Vec<Option<bool>> = df.column("is_rollback").unwrap().bool().unwrap().iter().collect();
    assert_eq!(flags, [None, Some(true)]);

    // Replacing a whole table drops the partitions its new rows no longer fill.
    ws.replace(&model::DEPLOYMENTS, &[deploy("git:tag:acme/web:v9")]).unwrap();
    assert_eq!(partitions(&ws, "deployments").keys().collect::<Vec<_>>(), ["git:acme/web"]);
    drop(ws);
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new());
}

/// Files under `tables/` that the manifest does not name, and files of the old layout.
fn unnamed_files(ws_dir: &Path) -> Vec<PathBuf> {
    let manifest: store::Manifest =
        serde_json::from_str(&fs::read_to_string(ws_dir.join("manifest.json")).unwrap()).unwrap();
    let named: Vec<PathBuf> = manifest
        .tables
        .values()
        .flat_map(|p| p.values())
        .flat_map(|f| f.stored_files())
        .map(|f| ws_dir.join(f))
        .collect();
    let mut unnamed: Vec<PathBuf> = walk(&ws_dir.join("tables")).into_iter().filter(|f| !named.contains(f)).collect();
    unnamed.extend(fs::read_dir(ws_dir).unwrap().map(|e| e.unwrap().path()).filter(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        name.ends_with(".parquet") || name.ends_with(".staged") || name.ends_with(".tmp") || name == "commit.json"
    }));
    unnamed
}

/// Every file under `dir`, at any depth.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| e.unwrap().path()).flat_map(|p| if p.is_dir() { walk(&p) } else { vec![p] }).collect()
}

// ---- the old layout and its migration ----

const DEPLOYS: &str = "\
id,service,environment,sha,started_at,finished_at,status,commits
1,checkout,prod-eu,aaa,2025-01-06T10:00:00Z,2025-01-06T10:10:00Z,Succeeded,aaa bbb
2,checkout,staging,bbb,2025-01-07 10:00:00,2025-01-07 10:10:00,success,
";

const MORE_DEPLOYS: &str = "\
id,service,environment,sha,started_at,finished_at,status,commits
3,checkout,prod-eu,ccc,2025-01-08T10:00:00Z,2025-01-08T10:10:00Z,success,ccc ddd eee
";

fn import(ws: &mut Workspace, file: &Path, namespace: &str) {
    let request = ImportRequest {
        path: file.to_path_buf(),
        kind: ImportKind::Deployments,
        format: None,
        service: None,
        namespace: namespace.into(),
    };
    collect::import_file(ws, &cfg(), &request).unwrap();
}

/// A workspace (in the current layout) after importing `files` in order.
fn imported(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let ws_dir = dir.join(name);
    let mut ws = Workspace::open(&ws_dir).unwrap();
    for (file, content) in files {
        let path = dir.join(file);
        fs::write(&path, content).unwrap();
        import(&mut ws, &path, "import");
    }
    ws_dir
}

/// Every table of a workspace as a reader sees it, cell by cell, plus its manifest's sources.
type State = (Vec<(String, Vec<String>)>, Vec<String>);

fn state(ws_dir: &Path) -> State {
    let ws = Workspace::open_existing(ws_dir).unwrap();
    let tables = model::TABLES
        .iter()
        .map(|t| {
            let df = ws.load(t).unwrap();
            let cells = df
                .get_column_names()
                .into_iter()
                .map(|name| {
                    format!(
                        "{name}: {:?}",
                        df.column(name).unwrap().as_materialized_series().iter().collect::<Vec<_>>()
                    )
                })
                .collect();
            (t.name.to_string(), cells)
        })
        .collect();
    (tables, ws.manifest().sources.keys().cloned().collect())
}

/// Writes the tables and manifest of the workspace `from` in the old layout into `to`: one
/// `TABLE.parquet` (+ `suffix`) per table written, a manifest of schema version 1.
fn write_old_layout(from: &Path, to: &Path, suffix: &str) -> Vec<String> {
    fs::create_dir_all(to).unwrap();
    let ws = Workspace::open_existing(from).unwrap();
    let mut written = Vec::new();
    for table in model::TABLES {
        if !ws.manifest().tables.contains_key(table.name) {
            continue;
        }
        let mut df = ws.load(table).unwrap();
        let name = format!("{}.parquet", table.name);
        let mut file = fs::File::create(to.join(format!("{name}{suffix}"))).unwrap();
        ParquetWriter::new(&mut file).finish(&mut df).unwrap();
        written.push(name);
    }
    let mut manifest = serde_json::to_value(ws.manifest()).unwrap();
    manifest["schema_version"] = 1.into();
    manifest.as_object_mut().unwrap().remove("tables");
    fs::write(to.join(format!("manifest.json{suffix}")), manifest.to_string()).unwrap();
    written
}

#[test]
fn an_old_workspace_migrates_on_open_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let current = imported(dir.path(), "current", &[("d.csv", DEPLOYS), ("m.csv", MORE_DEPLOYS)]);
    let old = dir.path().join("old");
    write_old_layout(&current, &old, "");
    assert!(old.join("deployments.parquet").exists());
    let expected = state(&current);
    assert_eq!(state(&old), expected, "a reader reads the old layout as it is");
    assert!(!old.join("tables").exists(), "reading migrates nothing");

    let ws = Workspace::open(&old).unwrap();
    assert_eq!(ws.manifest().schema_version, store::SCHEMA_VERSION);
    drop(ws);
    assert_eq!(state(&old), expected);
    assert_eq!(unnamed_files(&old), Vec::<PathBuf>::new(), "the old table files are gone");
    assert!(partitions(&Workspace::open_existing(&old).unwrap(), "deployments").contains_key("import"));
}

#[test]
fn a_migration_interrupted_before_or_after_its_commit_point_loses_nothing() {
    for step in [CommitStep::BeforeJournal, CommitStep::AfterFirstRename] {
        let dir = tempfile::tempdir().unwrap();
        let current = imported(dir.path(), "current", &[("d.csv", DEPLOYS), ("m.csv", MORE_DEPLOYS)]);
        let old = dir.path().join("old");
        write_old_layout(&current, &old, "");
        let expected = state(&current);
        let err = Workspace::open_crashing_migration(&old, step).err().expect("simulated crash");
        assert!(err.to_string().contains("simulated crash"), "{err}");
        assert_eq!(state(&old), expected, "{step:?}: a reader after the crash");
        let migrated = step == CommitStep::AfterFirstRename;
        let version: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(old.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(version["schema_version"], if migrated { 2 } else { 1 }, "{step:?}");
        drop(Workspace::open(&old).unwrap()); // the next writer migrates or tidies
        assert_eq!(state(&old), expected, "{step:?}: after the next writer");
        assert_eq!(unnamed_files(&old), Vec::<PathBuf>::new(), "{step:?}");
    }
}

/// An old workspace whose second import (MORE_DEPLOYS) crashed after its journal was written and
/// `deployment_commits` renamed into place: the rest still staged. Returns it and the state the
/// commit decided.
fn old_workspace_with_unfinished_commit(dir: &Path) -> (PathBuf, State) {
    let before = imported(dir, "before", &[("d.csv", DEPLOYS)]);
    let after = imported(dir, "after", &[("d.csv", DEPLOYS), ("m.csv", MORE_DEPLOYS)]);
    let old = dir.join("old");
    write_old_layout(&before, &old, "");
    let staged = write_old_layout(&after, &old, ".staged");
    let mut renames: Vec<(String, String)> = staged.iter().map(|n| (format!("{n}.staged"), n.clone())).collect();
    renames.push(("manifest.json.staged".into(), "manifest.json".into()));
    fs::write(old.join("commit.json"), serde_json::json!({ "renames": renames }).to_string()).unwrap();
    fs::rename(old.join("deployment_commits.parquet.staged"), old.join("deployment_commits.parquet")).unwrap();
    (old, state(&after))
}

#[test]
fn an_old_workspace_with_an_unfinished_commit_is_read_through_and_finished_by_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let (old, decided) = old_workspace_with_unfinished_commit(dir.path());
    assert_eq!(state(&old), decided, "a reader reads the staged files the journal names");
    // The old writer finishing that commit renames `deployments` into place under the reader.
    let reader = Workspace::open_existing(&old).unwrap();
    fs::rename(old.join("deployments.parquet.staged"), old.join("deployments.parquet")).unwrap();
    assert_eq!(reader.load(&model::DEPLOYMENTS).unwrap().height(), 3);
    drop(Workspace::open(&old).unwrap());
    assert_eq!(state(&old), decided);
    assert_eq!(unnamed_files(&old), Vec::<PathBuf>::new());
}

// ---- shared writers ----

fn source(cursor: &str) -> SourceState {
    SourceState { last_run: now(), cursor: cursor.into(), warnings: vec![] }
}

#[test]
fn an_exclusive_writer_and_shared_writers_refuse_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let shared = Workspace::open_shared(dir.path()).unwrap();
    let _also_shared = Workspace::open_shared(dir.path()).unwrap();
    assert!(matches!(Workspace::open(dir.path()).err().unwrap(), Error::WorkspaceLocked { .. }));
    drop((shared, _also_shared));
    let _exclusive = Workspace::open(dir.path()).unwrap();
    assert!(matches!(Workspace::open_shared(dir.path()).err().unwrap(), Error::WorkspaceLocked { .. }));
}

#[test]
fn a_shared_writer_committing_after_another_keeps_the_others_rows_in_the_same_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Workspace::open_shared(dir.path()).unwrap();
    let mut b = Workspace::open_shared(dir.path()).unwrap();
    let rows = |ids: &[&str]| -> Vec<Row> { ids.iter().map(|id| change(id, id)).collect() };
    a.upsert(&[(&model::CHANGES, rows(&["github:pr:acme/shop#1", "github:pr:acme/web#1"]))]).unwrap();
    a.record_source("a", source("1")).unwrap();
    b.transaction(|ws| {
        ws.upsert(&[(&model::CHANGES, rows(&["github:pr:acme/shop#2", "github:pr:acme/cart#1"]))])?;
        ws.replace(&model::SERVICES, &collect::service_rows(&cfg()))?;
        // `a` commits into the same partitions while `b`'s transaction is open.
        a.upsert(&[(&model::CHANGES, rows(&["github:pr:acme/shop#3"]))])?;
        a.replace(&model::SERVICES, &collect::service_rows(&cfg()))?;
        ws.record_source("b", source("2"))
    })
    .unwrap();
    drop((a, b));
    let ws = Workspace::open_existing(dir.path()).unwrap();
    assert_eq!(
        ids(&ws.load(&model::CHANGES).unwrap()),
        [
            "github:pr:acme/cart#1",
            "github:pr:acme/shop#1",
            "github:pr:acme/shop#2",
            "github:pr:acme/shop#3",
            "github:pr:acme/web#1"
        ]
    );
    assert_eq!(ws.load(&model::SERVICES).unwrap().height(), 2);
    assert_eq!(ws.manifest().sources.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(ws.manifest().generation, 4, "a: two rows, one row, the services; b");
    drop(ws);
    drop(Workspace::open(dir.path()).unwrap());
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new(), "every superseded file was removed");
}

#[test]
fn shared_writers_on_threads_commit_the_union_of_their_imports() {
    let dir = tempfile::tempdir().unwrap();
    let ws_dir = dir.path().join("ws");
    let (writers, imports) = (4, 6);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let (dir, ws_dir) = (dir.path(), &ws_dir);
            scope.spawn(move || {
                let mut ws = Workspace::open_shared(ws_dir).unwrap();
                for n in 0..imports {
                    let file = dir.join(format!("w{w}-{n}.csv"));
                    let csv = format!(
                        "id,service,environment,sha,finished_at,status,commits\n\
                         {n},checkout,prod-eu,s{w}{n},2025-01-06T10:00:00Z,success,s{w}{n}\n\
                         shared-{w}-{n},checkout,prod-eu,t{w}{n},2025-01-06T10:00:00Z,success,\n"
                    );
                    fs::write(&file, csv).unwrap();
                    // Each writer its own namespace (its own partition), all of them `import` too.
                    import(&mut ws, &file, &format!("w{w}"));
                }
            });
        }
    });
    let ws = Workspace::open_existing(&ws_dir).unwrap();
    assert_eq!(ws.load(&model::DEPLOYMENTS).unwrap().height(), writers * imports * 2);
    assert_eq!(ws.load(&model::DEPLOYMENT_COMMITS).unwrap().height(), writers * imports);
    assert_eq!(ws.manifest().sources.len(), writers * imports);
    assert_eq!(partitions(&ws, "deployments").len(), writers);
}

#[test]
fn sharded_collect_processes_running_at_once_collect_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from("[[services]]\nname = \"checkout\"\nproduction_environments = [\"prod-*\"]\n");
    let sources = 6;
    for n in 0..sources {
        let rows: String =
            (0..50).map(|i| format!("{i},checkout,prod-eu,s{n}x{i},2025-01-06T10:00:00Z,success,s{n}x{i}\n")).collect();
        fs::write(
            dir.path().join(format!("d{n}.csv")),
            format!("id,service,environment,sha,finished_at,status,commits\n{rows}"),
        )
        .unwrap();
        toml.push_str(&format!(
            "[[sources]]\ntype = \"import\"\npath = \"d{n}.csv\"\nkind = \"deployments\"\nnamespace = \"ci{n}\"\n"
        ));
    }
    fs::write(dir.path().join("flowgauge.toml"), toml).unwrap();
    let shards = 3;
    // Every shard a process of its own, all started at once.
    let outputs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=shards)
            .map(|i| {
                let dir = dir.path().to_path_buf();
                scope.spawn(move || {
                    std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"))
                        .args(["--workspace", "ws", "collect", "--shard", &format!("{i}/{shards}")])
                        .current_dir(dir)
                        .env_remove("FLOWGAUGE_CONFIG")
                        .env_remove("FLOWGAUGE_WORKSPACE")
                        .output()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for output in &outputs {
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let ws = Workspace::open_existing(&dir.path().join("ws")).unwrap();
    assert_eq!(ws.load(&model::DEPLOYMENTS).unwrap().height(), sources * 50);
    assert_eq!(ws.load(&model::DEPLOYMENT_COMMITS).unwrap().height(), sources * 50);
    assert_eq!(ws.manifest().sources.len(), sources);
    let scopes: Vec<String> = partitions(&ws, "deployments").into_keys().collect();
    assert_eq!(scopes, (0..sources).map(|n| format!("ci{n}")).collect::<Vec<_>>());

    let usage = flowgauge(dir.path(), &["--workspace", "ws", "collect", "--shard", "4/3"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage.stderr));
}

#[test]
fn a_commit_interrupted_at_either_step_leaves_no_file_behind_once_the_next_writer_opens() {
    for step in [CommitStep::BeforeJournal, CommitStep::AfterFirstRename] {
        let dir = tempfile::tempdir().unwrap();
        let ws_dir = imported(dir.path(), "ws", &[("d.csv", DEPLOYS)]);
        // Deployment 1 again, now failed: its partition is written whole, replacing a file.
        let more = dir.path().join("m.csv");
        fs::write(&more, DEPLOYS.replace("Succeeded", "failure")).unwrap();
        let mut ws = Workspace::open(&ws_dir).unwrap();
        ws.crash_commit_at(step);
        let request = ImportRequest {
            path: more,
            kind: ImportKind::Deployments,
            format: None,
            service: None,
            namespace: "import".into(),
        };
        collect::import_file(&mut ws, &cfg(), &request).unwrap_err();
        drop(ws);
        assert!(!unnamed_files(&ws_dir).is_empty(), "{step:?}: the crash left files for the next writer");
        drop(Workspace::open(&ws_dir).unwrap());
        assert_eq!(unnamed_files(&ws_dir), Vec::<PathBuf>::new(), "{step:?}");
        let deployments = Workspace::open_existing(&ws_dir).unwrap().load(&model::DEPLOYMENTS).unwrap();
        let first = deployments.column("status").unwrap().str().unwrap().get(0).map(str::to_string);
        let expected = if step == CommitStep::BeforeJournal { "success" } else { "failure" };
        assert_eq!(first.as_deref(), Some(expected), "{step:?}");
    }
}

// ---- merge-on-read: updates appended in superseding files ----

fn shop_change(n: usize, title: &str) -> Row {
    change(&format!("github:pr:acme/shop#{n}"), title)
}

/// The `changes` table as `ws` reads it, id → title; fails when an id is read twice.
fn titles_by_id(ws: &Workspace) -> BTreeMap<String, String> {
    let df = ws.load(&model::CHANGES).unwrap();
    let titles = df.column("title").unwrap().str().unwrap();
    let mut read = BTreeMap::new();
    for (id, title) in ids(&df).into_iter().zip(titles.iter()) {
        assert!(read.insert(id.clone(), title.unwrap().to_string()).is_none(), "{id} read twice");
    }
    read
}

/// Checks that `ws` reads exactly `expected` (id → title) and that the partition's bookkeeping (row
/// count, fingerprint) is the one a workspace written with those rows at once has.
fn assert_reads_as_written_at_once(ws: &Workspace, expected: &BTreeMap<String, String>) {
    assert_eq!(&titles_by_id(ws), expected);
    let fresh = tempfile::tempdir().unwrap();
    let mut at_once = Workspace::open(fresh.path()).unwrap();
    at_once.upsert(&[(&model::CHANGES, expected.iter().map(|(id, title)| change(id, title)).collect())]).unwrap();
    let (ours, theirs) =
        (&partitions(ws, "changes")["github:acme/shop"], &partitions(&at_once, "changes")["github:acme/shop"]);
    assert_eq!((ours.rows, &ours.content_hash), (theirs.rows, &theirs.content_hash));
}

fn rows_in_file(dir: &Path, file: &str) -> usize {
    ParquetReader::new(fs::File::open(dir.join(file)).unwrap()).finish().unwrap().height()
}

#[test]
fn an_update_of_a_few_rows_of_a_big_partition_appends_only_them_in_a_superseding_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let title = |n: usize| format!("title of change {n}");
    let all: Vec<Row> = (0..10_000).map(|n| shop_change(n, &title(n))).collect();
    ws.upsert(&[(&model::CHANGES, all)]).unwrap();
    let mut expected: BTreeMap<String, String> =
        (0..10_000).map(|n| (format!("github:pr:acme/shop#{n}"), title(n))).collect();
    let before = partitions(&ws, "changes")["github:acme/shop"].clone();
    // 20 rows changed, among 100 sent (80 unchanged).
    let sent: Vec<Row> =
        (500..600).map(|n| shop_change(n, &if n % 5 == 0 { "edited".to_string() } else { title(n) })).collect();
    let stats = ws.upsert(&[(&model::CHANGES, sent)]).unwrap();
    assert_eq!((stats[0].incoming, stats[0].before, stats[0].after), (100, 10_000, 10_000));
    for n in (500..600).step_by(5) {
        expected.insert(format!("github:pr:acme/shop#{n}"), "edited".into());
    }
    let after = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!(after.file, before.file, "the partition's file is not rewritten");
    assert_eq!(
        (after.appended.len(), after.superseding.clone(), after.superseding_rows),
        (1, after.appended.clone(), 20)
    );
    assert_eq!(rows_in_file(dir.path(), &after.appended[0]), 20, "only the changed rows are written");
    let size = |file: &str| fs::metadata(dir.path().join(file)).unwrap().len();
    assert!(size(&after.appended[0]) * 10 < size(&after.file), "{} vs {}", size(&after.appended[0]), size(&after.file));
    assert_reads_as_written_at_once(&ws, &expected);
    // A reader opened afresh reads the same (every key once, the latest row).
    assert_eq!(titles_by_id(&Workspace::open_existing(dir.path()).unwrap()), expected);
}

#[test]
fn the_latest_row_of_a_key_wins_across_updates_appends_and_updates_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut upsert = |ws: &mut Workspace, rows: Vec<(usize, &str)>| {
        for (n, title) in &rows {
            expected.insert(format!("github:pr:acme/shop#{n}"), title.to_string());
        }
        ws.upsert(&[(&model::CHANGES, rows.iter().map(|(n, t)| shop_change(*n, t)).collect())]).unwrap();
        assert_reads_as_written_at_once(ws, &expected);
        partitions(ws, "changes")["github:acme/shop"].clone()
    };
    upsert(&mut ws, (0..100).map(|n| (n, "a")).collect());
    upsert(&mut ws, vec![(1, "b")]);
    // The same key updated again: the newest file wins.
    upsert(&mut ws, vec![(1, "c")]);
    // A new key (a file that supersedes nothing), then updated with another key.
    let appended = upsert(&mut ws, vec![(5_000, "n")]);
    assert_eq!((appended.appended.len(), appended.superseding.len(), appended.rows), (3, 2, 101));
    upsert(&mut ws, vec![(5_000, "m"), (2, "b")]);
    // A key updated back to its first value: an update of the row it has now.
    let back = upsert(&mut ws, vec![(1, "a")]);
    assert_eq!((back.appended.len(), back.superseding.len(), back.superseding_rows), (5, 4, 5));
    // Nothing changed: nothing written, no generation spent.
    let generation = ws.manifest().generation;
    let unchanged = upsert(&mut ws, vec![(1, "a"), (5_000, "m"), (7, "a")]);
    assert_eq!((unchanged, ws.manifest().generation), (back, generation));
    drop(ws);
    drop(Workspace::open(dir.path()).unwrap());
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_partition_is_written_whole_after_16_appended_files_or_a_quarter_of_its_rows_superseded() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut upsert = |ws: &mut Workspace, rows: Vec<(usize, String)>| {
        for (n, title) in &rows {
            expected.insert(format!("github:pr:acme/shop#{n}"), title.clone());
        }
        ws.upsert(&[(&model::CHANGES, rows.iter().map(|(n, t)| shop_change(*n, t)).collect())]).unwrap();
        assert_reads_as_written_at_once(ws, &expected);
        partitions(ws, "changes")["github:acme/shop"].clone()
    };
    upsert(&mut ws, (0..200).map(|n| (n, "a".to_string())).collect());
    for round in 1..=store::MAX_APPENDED + 1 {
        let shop = upsert(&mut ws, vec![(round % 3, format!("update {round}"))]);
        let expected_files = if round <= store::MAX_APPENDED { round } else { 0 };
        assert_eq!(shop.appended.len(), expected_files, "after update {round}");
    }
    // Written whole: the superseded rows are gone from the files.
    let whole = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert!(whole.superseding.is_empty());
    assert_eq!(rows_in_file(dir.path(), &whole.file), 200);

    // 50 rows changed of 200: a quarter, appended; one more: above a quarter, written whole.
    let quarter = upsert(&mut ws, (0..50).map(|n| (n, "q".to_string())).collect());
    assert_eq!((quarter.appended.len(), quarter.superseding_rows), (1, 50));
    let more = upsert(&mut ws, vec![(60, "q".to_string())]);
    assert_eq!((more.appended.len(), more.superseding_rows), (0, 0));
    assert_eq!(rows_in_file(dir.path(), &more.file), 200);
    drop(ws);
    drop(Workspace::open(dir.path()).unwrap());
    assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn an_update_interrupted_before_its_commit_point_leaves_the_rows_as_they_were() {
    for step in [CommitStep::BeforeJournal, CommitStep::AfterFirstRename] {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(dir.path()).unwrap();
        ws.upsert(&[(&model::CHANGES, (0..100).map(|n| shop_change(n, "a")).collect())]).unwrap();
        let before = titles_by_id(&ws);
        ws.crash_commit_at(step);
        ws.upsert(&[(&model::CHANGES, vec![shop_change(3, "b")])]).unwrap_err();
        drop(ws);
        let reader = Workspace::open_existing(dir.path()).unwrap();
        let read = titles_by_id(&reader);
        assert_eq!(read.len(), 100);
        let expected = if step == CommitStep::BeforeJournal { "a" } else { "b" };
        assert_eq!(read["github:pr:acme/shop#3"], expected, "{step:?}");
        if step == CommitStep::BeforeJournal {
            assert_eq!(read, before);
            assert!(partitions(&reader, "changes")["github:acme/shop"].appended.is_empty());
        }
        drop(reader);
        drop(Workspace::open(dir.path()).unwrap());
        assert_eq!(unnamed_files(dir.path()), Vec::<PathBuf>::new(), "{step:?}");
    }
}

/// The manifest of the workspace at `dir`, edited by `edit` and written back.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut store::Manifest)) {
    let path = dir.join("manifest.json");
    let mut manifest: store::Manifest = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut manifest);
    fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

#[test]
fn a_partition_with_a_version_1_key_index_or_none_is_updated_by_writing_it_whole() {
    for older in ["a version 1 index", "no index"] {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(dir.path()).unwrap();
        ws.upsert(&[(&model::CHANGES, (0..100).map(|n| shop_change(n, "a")).collect())]).unwrap();
        let shop = partitions(&ws, "changes")["github:acme/shop"].clone();
        drop(ws);
        if older == "no index" {
            edit_manifest(dir.path(), |m| {
                m.tables.get_mut("changes").unwrap().get_mut("github:acme/shop").unwrap().key_indexes.clear()
            });
        } else {
            // Version 1: the key hashes only (here none: it cannot say a row either way).
            fs::write(dir.path().join(&shop.key_indexes[0]), b"FGKEYS1\n").unwrap();
        }
        let mut ws = Workspace::open(dir.path()).unwrap();
        let stats = ws.upsert(&[(&model::CHANGES, vec![shop_change(3, "b"), shop_change(100, "n")])]).unwrap();
        assert_eq!((stats[0].before, stats[0].after), (100, 101), "{older}");
        let whole = partitions(&ws, "changes")["github:acme/shop"].clone();
        assert_eq!((whole.appended.len(), whole.rows), (0, 101), "{older}");
        let index = fs::read(dir.path().join(&whole.key_indexes[0])).unwrap();
        assert_eq!(&index[..8], b"FGKEYS2\n", "{older}: written whole with a version 2 index");
        let titles = titles_by_id(&ws);
        assert_eq!((titles.len(), titles["github:pr:acme/shop#3"].as_str()), (101, "b"), "{older}");
        // From there on, updates are appended.
        ws.upsert(&[(&model::CHANGES, vec![shop_change(4, "b")])]).unwrap();
        assert_eq!(partitions(&ws, "changes")["github:acme/shop"].superseding.len(), 1, "{older}");
    }
}

/// The key hash of a one-column key as docs/workspace.md ("Key indexes") describes it: 64-bit FNV-1a.
fn fnv1a(key: &str) -> u64 {
    key.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[test]
fn a_new_key_with_the_hash_of_a_held_key_loses_and_doubles_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    ws.upsert(&[(&model::CHANGES, (0..100).map(|n| shop_change(n, "a")).collect())]).unwrap();
    let shop = partitions(&ws, "changes")["github:acme/shop"].clone();
    // A collision forced: the index says the partition holds the new key #100 (where it holds #0),
    // with some row; the upsert of #100 takes it for an update of that row.
    let index = dir.path().join(&shop.key_indexes[0]);
    let mut entries: Vec<(u64, u128)> = (1..=100).map(|n| (fnv1a(&format!("github:pr:acme/shop#{n}")), 42)).collect();
    entries.sort_unstable();
    let mut bytes = b"FGKEYS2\n".to_vec();
    for (key, _) in &entries {
        bytes.extend_from_slice(&key.to_le_bytes());
    }
    for (_, row) in &entries {
        bytes.extend_from_slice(&row.to_le_bytes());
    }
    fs::write(&index, bytes).unwrap();
    ws.upsert(&[(&model::CHANGES, vec![shop_change(100, "n")])]).unwrap();
    let appended = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!(
        (appended.superseding.len(), appended.rows),
        (1, 100),
        "taken for an update: the row count is one short"
    );
    // Readers compare keys exactly: #0 is not superseded by #100, and each is read once.
    let titles = titles_by_id(&ws);
    assert_eq!(titles.len(), 101);
    assert_eq!((titles["github:pr:acme/shop#0"].as_str(), titles["github:pr:acme/shop#100"].as_str()), ("a", "n"));
    // Writing the partition whole (here: changes of more than a quarter) counts its rows again.
    ws.upsert(&[(&model::CHANGES, (0..30).map(|n| shop_change(n, "w")).collect())]).unwrap();
    let mut expected = titles;
    for n in 0..30 {
        expected.insert(format!("github:pr:acme/shop#{n}"), "w".into());
    }
    assert_reads_as_written_at_once(&ws, &expected);
}

#[test]
fn a_shared_writer_rebasing_on_another_writers_update_keeps_the_latest_row_of_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Workspace::open_shared(dir.path()).unwrap();
    let mut b = Workspace::open_shared(dir.path()).unwrap();
    a.upsert(&[(&model::CHANGES, (0..100).map(|n| shop_change(n, "x")).collect())]).unwrap();
    b.transaction(|ws| {
        ws.upsert(&[(&model::CHANGES, vec![shop_change(1, "b"), shop_change(3, "b")])])?;
        // `a` appends updates into the same partition while `b`'s transaction is open; `b` commits
        // last, so its rows of the keys both changed win.
        a.upsert(&[(&model::CHANGES, vec![shop_change(2, "a"), shop_change(3, "a")])])?;
        assert_eq!(partitions(&a, "changes")["github:acme/shop"].superseding.len(), 1);
        Ok(())
    })
    .unwrap();
    drop((a, b));
    let ws = Workspace::open_existing(dir.path()).unwrap();
    let mut expected: BTreeMap<String, String> =
        (0..100).map(|n| (format!("github:pr:acme/shop#{n}"), "x".to_string())).collect();
    for (n, title) in [(1, "b"), (2, "a"), (3, "b")] {
        expected.insert(format!("github:pr:acme/shop#{n}"), title.into());
    }
    assert_reads_as_written_at_once(&ws, &expected);
}

#[test]
fn an_update_of_a_table_keyed_by_two_columns_supersedes_exactly_the_rows_of_its_keys() {
    let commit = |repo: &str, sha: &str, subject: &str| {
        model::COMMITS.row([
            ("repo", Value::Text(repo.into())),
            ("sha", Value::Text(sha.into())),
            ("subject", Value::Text(subject.into())),
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    ws.upsert(&[(&model::COMMITS, (0..100).map(|n| commit("acme/shop", &format!("{n:040x}"), "first")).collect())])
        .unwrap();
    // The sha of one row with the repository of another is another key; only (acme/shop, 5) changes.
    ws.upsert(&[(&model::COMMITS, vec![commit("acme/shop", &format!("{:040x}", 5), "second")])]).unwrap();
    let shop = partitions(&ws, "commits")["acme/shop"].clone();
    assert_eq!((shop.superseding.len(), shop.rows), (1, 100));
    let df = ws.load(&model::COMMITS).unwrap();
    let subjects: Vec<&str> = df.column("subject").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(subjects.len(), 100);
    assert_eq!(subjects.iter().filter(|s| **s == "second").count(), 1);
    assert_eq!(subjects[5], "second", "sorted by key, the latest row of (acme/shop, 5)");
}

/// A transaction that appended to a committed partition and then failed removes only the files it
/// wrote: the partition's committed files (which the appended partition lists too) stay.
#[test]
fn an_abandoned_transaction_that_appended_to_a_partition_keeps_its_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |range: std::ops::Range<usize>| -> Vec<Row> {
        range.map(|n| change(&format!("github:pr:acme/shop#{n}"), "t")).collect()
    };
    let mut ws = Workspace::open(dir.path()).unwrap();
    ws.upsert(&[(&model::CHANGES, rows(0..10))]).unwrap();
    ws.upsert(&[(&model::CHANGES, rows(10..12))]).unwrap();
    let committed = partitions(&ws, "changes")["github:acme/shop"].clone();
    assert_eq!(committed.appended.len(), 1, "the second upsert appended");
    for new_rows in [rows(12..14), vec![change("github:pr:acme/shop#1", "edited")]] {
        let failed: flowgauge::Result<()> = ws.transaction(|ws| {
            ws.upsert(&[(&model::CHANGES, new_rows)])?;
            Err(Error::Refused("stopped after the upsert".into()))
        });
        assert!(failed.is_err());
        for file in committed.stored_files() {
            assert!(dir.path().join(file).is_file(), "{file} was removed with the abandoned transaction");
        }
        let reader = Workspace::open_existing(dir.path()).unwrap();
        assert_eq!(ids(&reader.load(&model::CHANGES).unwrap()).len(), 12);
    }
}
