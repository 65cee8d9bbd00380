//! A workspace on object storage, tested against a real local S3 server (moto, started per test):
//! the store really refuses a stale conditional put, racing writers both survive by retry, a
//! crashed writer's files are swept only after the grace period, and the sample organisation
//! collected into `s3://` (whole, or by shards running at once) gives the local workspace's figures.
//! gs:// and az:// are checked as far as no server is needed: URLs and missing credentials.
//!
//! Skipped when moto is not installed, unless FLOWGAUGE_REQUIRE_MOTO is set (CI sets it).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowgauge::model::{self, Row, Value};
use flowgauge::store::storage::{self, ManifestVersion, ObjectStorage, Swap, Vars};
use flowgauge::store::{CommitStep, Workspace};

use flowgauge::collect;
use flowgauge::config::{Config, Overrides};

use crate::helpers::{copy_dir, now, repo_root, text};

/// A moto S3 server on a free local port, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
    /// The cache directory (mirror of raw pages) of this test's "machine".
    cache: tempfile::TempDir,
}

impl Moto {
    /// Starts moto, or `None` (the test is skipped) when it is not installed.
    fn start() -> Option<Moto> {
        let found =
            Command::new("python3").args(["-c", "import moto.server"]).output().is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var_os("FLOWGAUGE_REQUIRE_MOTO").is_none(),
                "FLOWGAUGE_REQUIRE_MOTO is set but `python3 -c 'import moto.server'` fails"
            );
            eprintln!("skipping: no moto (pip install \"moto[server]==5.2.5\")");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let moto = Moto { child, port, cache: tempfile::tempdir().unwrap() };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a process using this server sees in its environment: the endpoint, dummy keys, the cache.
    fn vars_with_cache(&self, cache: &Path) -> Vars {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-4711".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("XDG_CACHE_HOME", cache.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn vars(&self) -> Vars {
        self.vars_with_cache(self.cache.path())
    }

    /// Creates a bucket (object_store cannot): a plain unsigned PUT, which moto accepts.
    fn bucket(&self, name: &str) {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {name}: {answer}");
    }

    fn storage(&self, url: &str) -> ObjectStorage {
        ObjectStorage::from_vars(url, &self.vars()).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flowgauge binary run in `dir` with `vars` as its only object-store settings.
fn flowgauge_with(dir: &Path, vars: &Vars, args: &[&str]) -> Output {
    command(dir, vars, args).output().expect("binary runs")
}

fn command(dir: &Path, vars: &Vars, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowgauge"));
    command.args(args).current_dir(dir).env_remove("FLOWGAUGE_CONFIG").env_remove("FLOWGAUGE_WORKSPACE");
    for (name, _) in std::env::vars() {
        if ["AWS_", "GOOGLE_", "AZURE_"].iter().any(|p| name.starts_with(p)) || name == "SERVICE_ACCOUNT" {
            command.env_remove(name);
        }
    }
    command.envs(vars);
    command
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "exit {:?}: {}", output.status.code(), text(&output.stderr));
    text(&output.stdout)
}

fn change(id: &str, title: &str) -> Row {
    model::CHANGES.row([
        ("id", Value::Text(id.into())),
        ("source", Value::Text("github".into())),
        ("service", Value::Text("checkout".into())),
        ("title", Value::Text(title.into())),
    ])
}

fn ids(ws: &Workspace) -> Vec<String> {
    let df = ws.load(&model::CHANGES).unwrap();
    df.column("id").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect()
}

#[test]
fn the_store_refuses_a_stale_manifest_update_and_a_second_first_commit() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("cas");
    let store = moto.storage("s3://cas/ws");
    assert!(store.read_manifest().unwrap().is_none());
    assert_eq!(store.swap_manifest("{\"first\":1}", &ManifestVersion::Absent).unwrap(), Swap::Committed);
    // Another writer that also saw no manifest may not create it again (If-None-Match: *).
    assert_eq!(store.swap_manifest("{\"first\":2}", &ManifestVersion::Absent).unwrap(), Swap::Conflict);
    let (text, version) = store.read_manifest().unwrap().unwrap();
    assert_eq!(text, "{\"first\":1}");
    assert_eq!(store.swap_manifest("{\"second\":1}", &version).unwrap(), Swap::Committed);
    // The e-tag read before that update is stale now: the store refuses (If-Match), nothing changes.
    assert_eq!(store.swap_manifest("{\"second\":2}", &version).unwrap(), Swap::Conflict);
    assert_eq!(store.read_manifest().unwrap().unwrap().0, "{\"second\":1}");
}

#[test]
fn two_writers_racing_on_one_manifest_both_survive_by_retry() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("race");
    let url = PathBuf::from("s3://race/team/ws");
    let mut first = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    let mut second = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    first.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "first")])]).unwrap();
    // The second writer read the manifest before the first committed; just before its commit point
    // a third commits into the same partition: its conditional put is refused, and it
    // computes the partition again on top of both.
    let mut third = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    second.before_commit_point(move || {
        third.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#3", "third")])]).unwrap();
    });
    second.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#2", "second")])]).unwrap();

    let reader = Workspace::open_existing_in(&url, &moto.vars()).unwrap();
    assert_eq!(ids(&reader), ["github:pr:acme/shop#1", "github:pr:acme/shop#2", "github:pr:acme/shop#3"]);
    assert_eq!(reader.manifest().generation, 3, "three commits, none lost, none applied twice");
    assert_eq!(reader.manifest().tables["changes"].len(), 1, "one partition");
}

#[test]
fn a_crashed_writers_files_are_swept_only_once_older_than_the_grace_period() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("crash");
    let url = PathBuf::from("s3://crash/ws");
    let store = moto.storage("s3://crash/ws");
    let mut ws = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "kept")])]).unwrap();
    let committed: Vec<String> = store.list("tables").unwrap().into_iter().map(|l| l.file).collect();
    assert_eq!(committed.len(), 1);

    let mut crashing = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    crashing.crash_commit_at(CommitStep::BeforeJournal);
    crashing.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/web#1", "lost")])]).unwrap_err();
    drop(crashing);
    assert_eq!(store.list("tables").unwrap().len(), 2, "the crashed commit's file is left");

    // A writer opening now cannot tell it from a commit in the making: it stays.
    let next = Workspace::open_in(&url, &moto.vars(), false).unwrap();
    assert_eq!(store.list("tables").unwrap().len(), 2);
    assert_eq!(ids(&next), ["github:pr:acme/shop#1"], "the crashed commit is not part of the workspace");
    // Once older than the grace period, it goes; the committed file stays.
    next.sweep_older_than(chrono::Duration::zero()).unwrap();
    let left: Vec<String> = store.list("tables").unwrap().into_iter().map(|l| l.file).collect();
    assert_eq!(left, committed);
    assert_eq!(ids(&Workspace::open_existing_in(&url, &moto.vars()).unwrap()), ["github:pr:acme/shop#1"]);
}

/// What the sample gives through the binary: the metrics as JSON, an ad-hoc query, the explain rows.
fn figures(dir: &Path, vars: &Vars, workspace: &str) -> Vec<String> {
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let config = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config, "--workspace", workspace, "-q"];
        all.extend_from_slice(args);
        ok(flowgauge_with(dir, vars, &all))
    };
    vec![
        run(&["metrics", "--format", "json"]),
        run(&[
            "sql",
            "SELECT service, COUNT(*) AS n FROM deployments GROUP BY service ORDER BY service",
            "--format",
            "csv",
        ]),
        run(&["explain", "lead-time", "--format", "csv"]),
        run(&["report", "--format", "md", "--out", "-"]),
    ]
}

fn collect(dir: &Path, vars: &Vars, workspace: &str, extra: &[&str]) -> Command {
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let mut args = vec!["--config", config.to_str().unwrap(), "--workspace", workspace, "-q", "collect"];
    args.extend_from_slice(extra);
    command(dir, vars, &args)
}

#[test]
fn the_sample_collected_into_s3_whole_or_by_concurrent_shards_gives_the_local_figures() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("acme");
    let dir = tempfile::tempdir().unwrap();
    let vars = moto.vars();
    let local = dir.path().join("local");
    ok(collect(dir.path(), &vars, local.to_str().unwrap(), &[]).output().unwrap());
    let expected = figures(dir.path(), &vars, local.to_str().unwrap());

    ok(collect(dir.path(), &vars, "s3://acme/whole", &[]).output().unwrap());
    assert_eq!(figures(dir.path(), &vars, "s3://acme/whole"), expected);

    // Three shards, each a process of its own "machine" (its own cache), all at once.
    let shards: Vec<Child> = (1..=3)
        .map(|i| {
            let cache = dir.path().join(format!("machine-{i}"));
            collect(dir.path(), &moto.vars_with_cache(&cache), "s3://acme/sharded", &["--shard", &format!("{i}/3")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for shard in shards {
        ok(shard.wait_with_output().unwrap());
    }
    assert_eq!(figures(dir.path(), &vars, "s3://acme/sharded"), expected);
    assert!(!dir.path().join("s3:").exists(), "the URL was taken for a local directory");
    let tables = moto.storage("s3://acme/sharded").list("tables").unwrap();
    assert!(tables.iter().any(|l| l.file.starts_with("tables/deployments/scope=")), "{tables:?}");
}

#[test]
fn raw_pages_reach_the_store_and_another_machine_re_extracts_them_offline() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("raw");
    let dir = tempfile::tempdir().unwrap();
    let url = PathBuf::from("s3://raw/ws");
    let config = Config::load(
        Some(&repo_root().join("sample-data/acme/flowgauge.toml")),
        &|_| None,
        &Overrides::default(),
        now(),
    )
    .unwrap();
    // Machine A: pages land in the workspace's raw layer (its local mirror), then a commit.
    let machine_a = moto.vars_with_cache(&dir.path().join("a"));
    let mut ws = Workspace::open_in(&url, &machine_a, false).unwrap();
    assert!(ws.root().starts_with(dir.path().join("a")), "{}", ws.root().display());
    copy_dir(&repo_root().join("sample-data/acme/github"), &ws.root().join("raw/github"));
    collect::github::reextract(&mut ws, &config, "acme/ledger").unwrap();
    drop(ws);
    let raw: Vec<String> = moto.storage("s3://raw/ws").list("raw").unwrap().into_iter().map(|l| l.file).collect();
    let sample_pages = walk(&repo_root().join("sample-data/acme/github")).len();
    assert_eq!(raw.len(), sample_pages, "every page uploaded: {raw:?}");
    assert!(raw.iter().all(|f| f.starts_with("raw/github/acme/ledger/")), "{raw:?}");

    // Machine B has none of it locally: opening the workspace brings the pages, and re-extracting
    // them gives the tables of a local workspace re-extracting the same pages.
    let machine_b = moto.vars_with_cache(&dir.path().join("b"));
    let mut ws = Workspace::open_in(&url, &machine_b, false).unwrap();
    assert_eq!(walk(&ws.root().join("raw")).len(), sample_pages);
    collect::github::reextract(&mut ws, &config, "acme/ledger").unwrap();
    let local = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("sample-data/acme/github"), &local.path().join("raw/github"));
    let mut local_ws = Workspace::open(local.path()).unwrap();
    collect::github::reextract(&mut local_ws, &config, "acme/ledger").unwrap();
    for table in model::TABLES {
        let stored = ws.load(table).unwrap();
        assert!(stored.equals_missing(&local_ws.load(table).unwrap()), "{} differs", table.name);
    }
    assert!(ws.load(&model::DEPLOYMENTS).unwrap().height() > 0);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn object_store_urls_without_credentials_are_configuration_errors_naming_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let home: Vars = [("HOME".to_string(), dir.path().display().to_string())].into_iter().collect();
    let cases = [
        ("s3://bucket/ws", "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY"),
        ("gs://bucket/ws", "GOOGLE_SERVICE_ACCOUNT"),
        ("az://container/ws", "AZURE_STORAGE_ACCOUNT_NAME"),
    ];
    for (url, names) in cases {
        for args in
            [&["--workspace", url, "metrics"][..], &["--workspace", url, "import", "x.csv", "--kind", "changes"]]
        {
            let out = flowgauge_with(dir.path(), &home, args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{url}: {stderr}");
            assert!(stderr.contains(url) && stderr.contains(names), "{url}: {stderr}");
        }
    }
    // An Azure account without credentials names the credential variables.
    let mut azure = home.clone();
    azure.insert("AZURE_STORAGE_ACCOUNT_NAME".into(), "acme".into());
    let out = flowgauge_with(dir.path(), &azure, &["--workspace", "az://container/ws", "metrics"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("AZURE_STORAGE_ACCOUNT_KEY"), "{}", text(&out.stderr));
    // A URL of no known store, or without a bucket.
    let out = flowgauge_with(dir.path(), &home, &["--workspace", "s3://", "metrics"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("names no bucket"), "{}", text(&out.stderr));
}

#[test]
fn a_store_that_cannot_be_reached_fails_without_printing_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let vars: Vars = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-very-secret".into()),
        ("AWS_RETRY_TIMEOUT", "1s".into()),
        ("AWS_MAX_RETRIES", "0".into()),
        ("XDG_CACHE_HOME", dir.path().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let out = flowgauge_with(dir.path(), &vars, &["--workspace", "s3://bucket/ws", "metrics"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("s3://bucket/ws/manifest.json"), "{stderr}");
    assert!(!stderr.contains("very-secret"), "{stderr}");
}

#[test]
fn object_store_urls_are_told_from_local_directories() {
    assert_eq!(storage::object_url(Path::new("s3://bucket/a/b/")).as_deref(), Some("s3://bucket/a/b"));
    assert_eq!(storage::object_url(Path::new("gs://bucket")).as_deref(), Some("gs://bucket"));
    assert_eq!(storage::object_url(Path::new("az://container/ws")).as_deref(), Some("az://container/ws"));
    assert_eq!(storage::object_url(Path::new(".flowgauge")), None);
    assert_eq!(storage::object_url(Path::new("/tmp/s3:/x")), None);
    assert_eq!(storage::object_url(Path::new("ftp://host/ws")), None);
}
