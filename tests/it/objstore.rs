//! A workspace on object storage, tested against real local servers started per test, moto (S3)
//! and Azurite (Azure Blob Storage), and against a model of Google Cloud Storage's XML API (`gcs`:
//! no installable GCS server honours the generation preconditions object_store's requests carry).
//! On each, the store refuses a stale conditional put, racing writers both survive by retry, a
//! crashed writer's files are swept only after the grace period, and the sample organisation
//! collected into the store (whole, or by shards running at once) gives the local workspace's
//! figures; on S3, raw pages reach the bucket for another machine. For GCS the tests also check
//! the preconditions every put carried on the wire.
//!
//! Skipped when moto (or Azurite) is not installed, unless FLOWGAUGE_REQUIRE_MOTO (or
//! FLOWGAUGE_REQUIRE_AZURITE) is set; CI sets both. The GCS model needs nothing installed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowgauge::collect;
use flowgauge::config::{Config, Overrides};
use flowgauge::model;
use flowgauge::store::storage::{self, ManifestVersion, ObjectStorage, Swap, Vars};
use flowgauge::store::{CommitStep, Workspace};

use crate::helpers::{FakeServer, copy_dir, now, repo_root, text};
use crate::store::{change, walk};

mod gcs;
use gcs::GcsModel;

/// Azurite's well-known development account and key (public, in Azure's documentation).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The bearer token the GCS model requires (not a real one).
const GCS_TOKEN: &str = "ya29.not-a-real-token-4711";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    S3,
    Azure,
    Gcs,
}

/// A local object-store server on a free port, stopped when dropped.
struct Server {
    kind: Kind,
    backend: Backend,
    port: u16,
    /// The cache directory (mirror of raw pages) of this test's "machine".
    cache: tempfile::TempDir,
}

/// What answers the requests.
enum Backend {
    /// A server process (moto, Azurite), and its data directory (removed when dropped).
    Process { child: Child, _data: tempfile::TempDir },
    /// The GCS model, in this process.
    Gcs(FakeServer<GcsModel>),
}

/// Whether `probe` (a command) succeeds; when it does not, asserts that `require` is not set.
fn installed(probe: &mut Command, require: &str, what: &str) -> bool {
    let found = probe.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os(require).is_none(), "{require} is set but {what} is not installed");
        eprintln!("skipping: {what} is not installed");
    }
    found
}

/// The port a server started on port 0 says it listens on (`… http://127.0.0.1:PORT`, on its
/// standard output or error): no other process can have taken it meanwhile, as a port chosen before
/// the start could be. Its output is read to the end on threads, so it never blocks on a full pipe.
fn listening_port(child: &mut Child) -> Option<u16> {
    let (found, port) = std::sync::mpsc::channel();
    let outputs: Vec<Box<dyn std::io::Read + Send>> = vec![
        Box::new(child.stdout.take().expect("piped stdout")),
        Box::new(child.stderr.take().expect("piped stderr")),
    ];
    for output in outputs {
        let found = found.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(output).lines().map_while(|l| l.ok()) {
                let port = line.split("http://127.0.0.1:").nth(1).and_then(|rest| {
                    rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u16>().ok()
                });
                if let Some(port) = port.filter(|p| *p != 0) {
                    let _ = found.send(port);
                }
            }
        });
    }
    port.recv_timeout(Duration::from_secs(60)).ok()
}

impl Server {
    /// Starts moto, or `None` (the test is skipped) when it is not installed.
    fn moto() -> Option<Server> {
        if !installed(
            Command::new("python3").args(["-c", "import moto.server"]),
            "FLOWGAUGE_REQUIRE_MOTO",
            "moto (pip install \"moto[server]==5.2.5\")",
        ) {
            return None;
        }
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        Some(Server::started(Kind::S3, child, tempfile::tempdir().unwrap()))
    }

    /// Starts Azurite's blob service, or `None` (the test is skipped) when it is not installed.
    fn azurite() -> Option<Server> {
        if !installed(
            Command::new("azurite-blob").arg("--version"),
            "FLOWGAUGE_REQUIRE_AZURITE",
            "Azurite (npm install -g azurite@3.37.0)",
        ) {
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let child = Command::new("azurite-blob")
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--silent", "--skipApiVersionCheck"])
            .arg("--location")
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("azurite-blob runs");
        Some(Server::started(Kind::Azure, child, data))
    }

    /// Starts the model of GCS's XML API (see `gcs`): never skipped, nothing to install.
    fn gcs() -> Server {
        let fake = FakeServer::start(GcsModel::new(GCS_TOKEN));
        let port = fake.server.address().port();
        Server { kind: Kind::Gcs, backend: Backend::Gcs(fake), port, cache: tempfile::tempdir().unwrap() }
    }

    fn started(kind: Kind, mut child: Child, data: tempfile::TempDir) -> Server {
        let Some(port) = listening_port(&mut child) else {
            let _ = child.kill();
            panic!("the server did not say within a minute which port it listens on");
        };
        let server = Server {
            kind,
            backend: Backend::Process { child, _data: data },
            port,
            cache: tempfile::tempdir().unwrap(),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The workspace URL of `prefix` in `bucket` (a container, for Azure).
    fn url(&self, bucket: &str, prefix: &str) -> String {
        match self.kind {
            Kind::S3 => format!("s3://{bucket}/{prefix}"),
            Kind::Azure => format!("az://{bucket}/{prefix}"),
            Kind::Gcs => format!("gs://{bucket}/{prefix}"),
        }
    }

    /// What a process using this server sees in its environment: the endpoint, keys, the cache.
    fn vars_with_cache(&self, cache: &Path) -> Vars {
        let endpoint = self.endpoint();
        let vars = match self.kind {
            Kind::S3 => vec![
                ("AWS_ENDPOINT_URL", endpoint),
                ("AWS_ALLOW_HTTP", "true".into()),
                ("AWS_ACCESS_KEY_ID", "testing".into()),
                ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-4711".into()),
                ("AWS_REGION", "us-east-1".into()),
            ],
            Kind::Azure => vec![
                ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT.into()),
                ("AZURE_STORAGE_ACCOUNT_KEY", AZURITE_KEY.into()),
                ("AZURE_STORAGE_ENDPOINT", format!("{endpoint}/{AZURITE_ACCOUNT}")),
                ("AZURE_ALLOW_HTTP", "true".into()),
            ],
            Kind::Gcs => vec![
                ("GOOGLE_BASE_URL", endpoint),
                ("GOOGLE_ALLOW_HTTP", "true".into()),
                ("GOOGLE_BEARER_TOKEN", GCS_TOKEN.into()),
            ],
        };
        vars.into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain([("XDG_CACHE_HOME".to_string(), cache.display().to_string())])
            .collect()
    }

    fn vars(&self) -> Vars {
        self.vars_with_cache(self.cache.path())
    }

    /// Creates a bucket or container (object_store cannot): for moto a plain unsigned PUT, for
    /// Azurite a PUT signed with the development key (Python's standard library signs it).
    fn bucket(&self, name: &str) {
        let (script, args) = match self.kind {
            Kind::S3 => (CREATE_S3_BUCKET, vec![self.endpoint(), name.to_string()]),
            Kind::Azure => {
                (CREATE_AZURE_CONTAINER, vec![self.endpoint(), AZURITE_ACCOUNT.into(), AZURITE_KEY.into(), name.into()])
            }
            Kind::Gcs => return self.gcs_model().create_bucket(name),
        };
        let out = Command::new("python3").arg("-c").arg(script).args(args).output().unwrap();
        assert!(out.status.success(), "creating {name}: {}{}", text(&out.stdout), text(&out.stderr));
    }

    /// The GCS model behind a [`Server::gcs`].
    fn gcs_model(&self) -> &'static GcsModel {
        match &self.backend {
            Backend::Gcs(fake) => fake.fake,
            Backend::Process { .. } => panic!("not the GCS model"),
        }
    }

    fn storage(&self, bucket: &str, prefix: &str) -> ObjectStorage {
        ObjectStorage::from_vars(&self.url(bucket, prefix), &self.vars()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Backend::Process { child, .. } = &mut self.backend {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const CREATE_S3_BUCKET: &str = r#"
import sys, urllib.request
endpoint, bucket = sys.argv[1:3]
urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT", data=b""))
"#;

/// Azure's Shared Key signature of a Create Container request.
const CREATE_AZURE_CONTAINER: &str = r#"
import base64, email.utils, hashlib, hmac, sys, urllib.request
endpoint, account, key, container = sys.argv[1:5]
date, version, kind = email.utils.formatdate(usegmt=True), "2021-08-06", "application/octet-stream"
to_sign = ("PUT" + "\n" * 5 + kind + "\n" * 7 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
           + f"/{account}/{account}/{container}\nrestype:container")
signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
urllib.request.urlopen(urllib.request.Request(
    f"{endpoint}/{account}/{container}?restype=container", method="PUT", data=b"",
    headers={"x-ms-date": date, "x-ms-version": version, "Content-Type": kind,
             "Authorization": f"SharedKey {account}:{signature}"}))
"#;

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

fn ids(ws: &Workspace) -> Vec<String> {
    let df = ws.load(&model::CHANGES).unwrap();
    df.column("id").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect()
}

/// The store itself refuses a stale `If-Match` put and a second first commit.
fn refuses_stale_manifest_updates(server: Server) {
    server.bucket("cas");
    let store = server.storage("cas", "ws");
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
fn s3_refuses_a_stale_manifest_update_and_a_second_first_commit() {
    if let Some(server) = Server::moto() {
        refuses_stale_manifest_updates(server);
    }
}

#[test]
fn azure_refuses_a_stale_manifest_update_and_a_second_first_commit() {
    if let Some(server) = Server::azurite() {
        refuses_stale_manifest_updates(server);
    }
}

#[test]
fn gcs_refuses_a_stale_manifest_update_and_a_second_first_commit() {
    let server = Server::gcs();
    let model = server.gcs_model();
    refuses_stale_manifest_updates(server);
    // On the wire: create-only is generation 0, an update names the generation read.
    let puts: Vec<_> = model.exchanges().into_iter().filter(|e| e.method == "PUT").collect();
    let sent: Vec<(Option<&str>, u16)> = puts.iter().map(|e| (e.precondition.as_deref(), e.status)).collect();
    let first = puts[0].live_before;
    assert!(first.is_none() && puts[1].live_before.is_some(), "{puts:?}");
    let read = puts[1].live_before.unwrap().to_string();
    assert_eq!(sent, [(Some("0"), 200), (Some("0"), 412), (Some(read.as_str()), 200), (Some(read.as_str()), 412)]);
    assert!(puts.iter().all(|e| e.key == "ws/manifest.json"), "{puts:?}");
}

/// A writer whose commit point another writer's commit overtakes computes its commit again.
fn racing_writers_both_survive(server: Server) {
    server.bucket("race");
    let url = PathBuf::from(server.url("race", "team/ws"));
    let mut first = Workspace::open_in(&url, &server.vars(), false).unwrap();
    let mut second = Workspace::open_in(&url, &server.vars(), false).unwrap();
    first.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "first")])]).unwrap();
    // The second writer read the manifest before the first committed; as it commits, a third
    // commits into the same partition between its reading the manifest and its conditional put,
    // which the store refuses: it computes the partition again on top of both.
    let mut third = Workspace::open_in(&url, &server.vars(), false).unwrap();
    second.before_commit_point(move || {
        third.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#3", "third")])]).unwrap();
    });
    second.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#2", "second")])]).unwrap();

    let reader = Workspace::open_existing_in(&url, &server.vars()).unwrap();
    assert_eq!(ids(&reader), ["github:pr:acme/shop#1", "github:pr:acme/shop#2", "github:pr:acme/shop#3"]);
    assert_eq!(reader.manifest().generation, 3, "three commits, none lost, none applied twice");
    assert_eq!(reader.manifest().tables["changes"].len(), 1, "one partition");
}

/// A commit whose rebase reads a partition file that another writer's commit has just replaced
/// and deleted (no lock keeps it there on object storage) reads the manifest again and retries.
fn a_rebase_reading_a_deleted_file_retries(server: Server) {
    server.bucket("gone");
    let url = PathBuf::from(server.url("gone", "ws"));
    let open = || Workspace::open_in(&url, &server.vars(), false).unwrap();
    let title = |t: &str| vec![change("github:pr:acme/shop#1", t)];
    let (mut first, mut second, mut between, mut third) = (open(), open(), open(), open());
    first.upsert(&[(&model::CHANGES, title("first"))]).unwrap();
    // `second` computes its change of the partition from the first's file; before it commits,
    // `between` replaces that file, and while `second` commits, `third` replaces (and deletes)
    // the file `second` then finds in the manifest it read.
    second
        .transaction(|ws| {
            ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#2", "second")])])?;
            between.upsert(&[(&model::CHANGES, title("between"))]).unwrap();
            ws.before_commit_point(move || {
                third.upsert(&[(&model::CHANGES, title("third"))]).unwrap();
            });
            Ok(())
        })
        .unwrap();
    let reader = Workspace::open_existing_in(&url, &server.vars()).unwrap();
    assert_eq!(ids(&reader), ["github:pr:acme/shop#1", "github:pr:acme/shop#2"]);
    let titles = reader.load(&model::CHANGES).unwrap();
    let titles: Vec<&str> = titles.column("title").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(titles, ["third", "second"]);
}

#[test]
fn an_s3_commit_whose_rebase_finds_a_file_deleted_retries() {
    if let Some(server) = Server::moto() {
        a_rebase_reading_a_deleted_file_retries(server);
    }
}

#[test]
fn an_azure_commit_whose_rebase_finds_a_file_deleted_retries() {
    if let Some(server) = Server::azurite() {
        a_rebase_reading_a_deleted_file_retries(server);
    }
}

#[test]
fn two_writers_racing_on_one_s3_manifest_both_survive_by_retry() {
    if let Some(server) = Server::moto() {
        racing_writers_both_survive(server);
    }
}

#[test]
fn two_writers_racing_on_one_azure_manifest_both_survive_by_retry() {
    if let Some(server) = Server::azurite() {
        racing_writers_both_survive(server);
    }
}

#[test]
fn two_writers_racing_on_one_gcs_manifest_both_survive_by_retry() {
    let (_, refused) = on_gcs(racing_writers_both_survive);
    assert_eq!(refused, 1, "the overtaken manifest put was refused once, then committed on top");
}

#[test]
fn a_gcs_commit_whose_rebase_finds_a_file_deleted_retries() {
    let (model, _) = on_gcs(a_rebase_reading_a_deleted_file_retries);
    let deleted_read = |e: &gcs::Exchange| e.method == "GET" && e.key.ends_with(".parquet") && e.status == 404;
    assert!(model.exchanges().iter().any(deleted_read), "the rebase read a file another commit had deleted");
}

/// Runs `scenario` against the GCS model and checks the preconditions its puts carried: the model,
/// and how many manifest puts it refused.
fn on_gcs(scenario: fn(Server)) -> (&'static GcsModel, usize) {
    let server = Server::gcs();
    let model = server.gcs_model();
    scenario(server);
    (model, gcs_puts_carry_the_commit_preconditions(model))
}

/// Asserts what every PUT the GCS model received carried: a table file `x-goog-if-generation-match:
/// 0` (create-only, and none was refused: names never repeat); the manifest a generation
/// precondition (`0` for the first commit, else the generation read), refused with 412 exactly
/// when another commit had moved it on; anything else (raw pages) none. Returns how many manifest
/// puts were refused.
fn gcs_puts_carry_the_commit_preconditions(model: &GcsModel) -> usize {
    let puts: Vec<_> = model.exchanges().into_iter().filter(|e| e.method == "PUT").collect();
    let mut refused = 0;
    for put in &puts {
        if put.key.ends_with("/manifest.json") {
            let expected = put.precondition.as_deref().and_then(|p| p.parse::<i64>().ok());
            assert!(expected.is_some(), "an unconditional manifest put: {put:?}");
            let moved_on = put.live_before.unwrap_or(0) != expected.unwrap();
            assert_eq!(put.status, if moved_on { 412 } else { 200 }, "{put:?}");
            refused += usize::from(moved_on);
        } else if put.key.contains("/tables/") {
            assert_eq!((put.precondition.as_deref(), put.status), (Some("0"), 200), "{put:?}");
        } else {
            assert_eq!(put.precondition, None, "{put:?}");
        }
    }
    assert!(puts.iter().any(|p| p.key.contains("/tables/")), "{puts:?}");
    refused
}

fn shop_rows(titles: &[(usize, &str)]) -> Vec<model::Row> {
    titles.iter().map(|(n, title)| change(&format!("github:pr:acme/shop#{n}"), title)).collect()
}

/// An update in a bucket is appended as a superseding file (the key indexes fetched whole), and a
/// writer whose commit point another writer's update overtakes computes the partition again from
/// the latest row of each key (docs/workspace.md, "Commits").
fn updates_are_appended_and_rebased_newest_wins(server: Server) {
    server.bucket("updates");
    let url = PathBuf::from(server.url("updates", "team/ws"));
    let mut first = Workspace::open_in(&url, &server.vars(), false).unwrap();
    let all: Vec<(usize, &str)> = (0..100).map(|n| (n, "x")).collect();
    first.upsert(&[(&model::CHANGES, shop_rows(&all))]).unwrap();
    first.upsert(&[(&model::CHANGES, shop_rows(&[(1, "first")]))]).unwrap();
    let shop = first.manifest().tables["changes"]["github:acme/shop"].clone();
    assert_eq!((shop.appended.len(), shop.superseding.len(), shop.rows), (1, 1, 100));
    let mut second = Workspace::open_in(&url, &server.vars(), false).unwrap();
    let mut third = Workspace::open_in(&url, &server.vars(), false).unwrap();
    second.before_commit_point(move || {
        third.upsert(&[(&model::CHANGES, shop_rows(&[(2, "third"), (3, "third")]))]).unwrap();
    });
    second.upsert(&[(&model::CHANGES, shop_rows(&[(3, "second")]))]).unwrap();

    let reader = Workspace::open_existing_in(&url, &server.vars()).unwrap();
    let df = reader.load(&model::CHANGES).unwrap();
    let titles: Vec<&str> = df.column("title").unwrap().str().unwrap().iter().flatten().collect();
    let ids = ids(&reader);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!((ids.len(), unique.len()), (100, 100), "every key once");
    let title_of = |n: usize| titles[ids.iter().position(|id| *id == format!("github:pr:acme/shop#{n}")).unwrap()];
    assert_eq!([title_of(0), title_of(1), title_of(2), title_of(3)], ["x", "first", "third", "second"]);
}

#[test]
fn an_update_in_s3_is_appended_and_a_rebase_keeps_the_latest_row_of_each_key() {
    if let Some(server) = Server::moto() {
        updates_are_appended_and_rebased_newest_wins(server);
    }
}

#[test]
fn an_update_in_azure_is_appended_and_a_rebase_keeps_the_latest_row_of_each_key() {
    if let Some(server) = Server::azurite() {
        updates_are_appended_and_rebased_newest_wins(server);
    }
}

#[test]
fn an_update_in_gcs_is_appended_and_a_rebase_keeps_the_latest_row_of_each_key() {
    let (_, refused) = on_gcs(updates_are_appended_and_rebased_newest_wins);
    assert_eq!(refused, 1, "the overtaken update was refused once, then committed on top");
}

/// A crashed writer's files stay while they could be a commit in the making.
fn crashed_files_are_swept_after_the_grace_period(server: Server) {
    server.bucket("crash");
    let url = PathBuf::from(server.url("crash", "ws"));
    let store = server.storage("crash", "ws");
    let mut ws = Workspace::open_in(&url, &server.vars(), false).unwrap();
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "kept")])]).unwrap();
    let committed: Vec<String> = store.list("tables").unwrap().into_iter().map(|l| l.file).collect();
    assert_eq!(committed.len(), 2, "a partition file and its key index: {committed:?}");

    let mut crashing = Workspace::open_in(&url, &server.vars(), false).unwrap();
    crashing.crash_commit_at(CommitStep::BeforeJournal);
    crashing.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/web#1", "lost")])]).unwrap_err();
    drop(crashing);
    assert_eq!(store.list("tables").unwrap().len(), 4, "the crashed commit's files are left");

    // A writer opening now cannot tell it from a commit in the making: it stays.
    let next = Workspace::open_in(&url, &server.vars(), false).unwrap();
    assert_eq!(store.list("tables").unwrap().len(), 4);
    assert_eq!(ids(&next), ["github:pr:acme/shop#1"], "the crashed commit is not part of the workspace");
    // Once older than the grace period, it goes; the committed file stays.
    next.sweep_older_than(chrono::Duration::zero()).unwrap();
    let left: Vec<String> = store.list("tables").unwrap().into_iter().map(|l| l.file).collect();
    assert_eq!(left, committed);
    assert_eq!(ids(&Workspace::open_existing_in(&url, &server.vars()).unwrap()), ["github:pr:acme/shop#1"]);
}

#[test]
fn a_crashed_s3_writers_files_are_swept_only_once_older_than_the_grace_period() {
    if let Some(server) = Server::moto() {
        crashed_files_are_swept_after_the_grace_period(server);
    }
}

#[test]
fn a_crashed_azure_writers_files_are_swept_only_once_older_than_the_grace_period() {
    if let Some(server) = Server::azurite() {
        crashed_files_are_swept_after_the_grace_period(server);
    }
}

#[test]
fn a_crashed_gcs_writers_files_are_swept_only_once_older_than_the_grace_period() {
    let (model, _) = on_gcs(crashed_files_are_swept_after_the_grace_period);
    assert_eq!(model.exchanges().iter().filter(|e| e.method == "DELETE" && e.status == 204).count(), 2);
}

const DEPLOYMENTS_PER_SERVICE: &str =
    "SELECT service, COUNT(*) AS n FROM deployments GROUP BY service ORDER BY service";

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
        run(&["sql", DEPLOYMENTS_PER_SERVICE, "--format", "csv"]),
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

/// The sample collected into the store, whole and by three shards at once, gives the local figures.
fn sample_gives_the_local_figures(server: Server) {
    server.bucket("acme");
    let dir = tempfile::tempdir().unwrap();
    let vars = server.vars();
    let local = dir.path().join("local");
    ok(collect(dir.path(), &vars, local.to_str().unwrap(), &[]).output().unwrap());
    let expected = figures(dir.path(), &vars, local.to_str().unwrap());

    let whole = server.url("acme", "whole");
    ok(collect(dir.path(), &vars, &whole, &[]).output().unwrap());
    assert_eq!(figures(dir.path(), &vars, &whole), expected);
    // Named by FLOWGAUGE_WORKSPACE instead of --workspace.
    let mut named_by_env = vars.clone();
    named_by_env.insert("FLOWGAUGE_WORKSPACE".into(), whole.clone());
    let config = repo_root().join("sample-data/acme/flowgauge.toml");
    let args = ["--config", config.to_str().unwrap(), "-q", "sql", DEPLOYMENTS_PER_SERVICE, "--format", "csv"];
    assert_eq!(ok(flowgauge_with(dir.path(), &named_by_env, &args)), expected[1]);

    // Three shards, each a process of its own "machine" (its own cache), all at once.
    let sharded = server.url("acme", "sharded");
    let shards: Vec<Child> = (1..=3)
        .map(|i| {
            let cache = dir.path().join(format!("machine-{i}"));
            collect(dir.path(), &server.vars_with_cache(&cache), &sharded, &["--shard", &format!("{i}/3")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for shard in shards {
        ok(shard.wait_with_output().unwrap());
    }
    assert_eq!(figures(dir.path(), &vars, &sharded), expected);
    assert!(fs_entries(dir.path()).iter().all(|e| !e.ends_with(':')), "a URL was taken for a local directory");
    let tables = server.storage("acme", "sharded").list("tables").unwrap();
    assert!(tables.iter().any(|l| l.file.starts_with("tables/deployments/scope=")), "{tables:?}");

    // `export` writes the same script and the same rows.
    let exported = |workspace: &str, out: &str| {
        let config = repo_root().join("sample-data/acme/flowgauge.toml");
        let args = ["--config", config.to_str().unwrap(), "--workspace", workspace, "-q", "export", "--sql", "duckdb"];
        ok(flowgauge_with(dir.path(), &vars, &[&args[..], &["--out", out, "--location", "/lake"]].concat()));
        exported_rows(&dir.path().join(out))
    };
    assert_eq!(exported(&sharded, "from-store"), exported(local.to_str().unwrap(), "from-local"));
}

/// An export's script, and every table's rows in a stable order (the export's row order is not part
/// of its contract).
fn exported_rows(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<PathBuf> = walk(dir);
    files.sort();
    files
        .iter()
        .map(|file| {
            let name = file.strip_prefix(dir).unwrap().display().to_string();
            if file.extension().is_some_and(|e| e == "parquet") {
                use polars::prelude::SerReader;
                let df = polars::prelude::ParquetReader::new(std::fs::File::open(file).unwrap()).finish().unwrap();
                let mut rows: Vec<String> = (0..df.height()).map(|i| format!("{:?}", df.get(i).unwrap())).collect();
                rows.sort();
                (name, rows)
            } else {
                (name, vec![std::fs::read_to_string(file).unwrap()])
            }
        })
        .collect()
}

fn fs_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn the_sample_collected_into_s3_whole_or_by_concurrent_shards_gives_the_local_figures() {
    if let Some(server) = Server::moto() {
        sample_gives_the_local_figures(server);
    }
}

#[test]
fn the_sample_collected_into_azure_whole_or_by_concurrent_shards_gives_the_local_figures() {
    if let Some(server) = Server::azurite() {
        sample_gives_the_local_figures(server);
    }
}

#[test]
fn the_sample_collected_into_gcs_whole_or_by_concurrent_shards_gives_the_local_figures() {
    on_gcs(sample_gives_the_local_figures);
}

/// Raw pages collected on one machine reach the store, another machine re-extracts them offline,
/// and a page rewritten there reaches the first machine again.
fn raw_pages_reach_another_machine(server: Server) {
    server.bucket("raw");
    let dir = tempfile::tempdir().unwrap();
    let url = PathBuf::from(server.url("raw", "ws"));
    let config = Config::load(
        Some(&repo_root().join("sample-data/acme/flowgauge.toml")),
        &|_| None,
        &Overrides::default(),
        now(),
    )
    .unwrap();
    // Machine A: pages land in the workspace's raw layer (its local mirror), then a commit.
    let machine_a = server.vars_with_cache(&dir.path().join("a"));
    let mut ws = Workspace::open_in(&url, &machine_a, false).unwrap();
    assert!(ws.root().starts_with(dir.path().join("a")), "{}", ws.root().display());
    copy_dir(&repo_root().join("sample-data/acme/github"), &ws.root().join("raw/github"));
    collect::github::reextract(&mut ws, &config, "acme/ledger").unwrap();
    drop(ws);
    let raw: Vec<String> = server.storage("raw", "ws").list("raw").unwrap().into_iter().map(|l| l.file).collect();
    let sample_pages = walk(&repo_root().join("sample-data/acme/github")).len();
    assert_eq!(raw.len(), sample_pages, "every page uploaded: {raw:?}");
    assert!(raw.iter().all(|f| f.starts_with("raw/github/acme/ledger/")), "{raw:?}");

    // Machine B has none of it locally: opening the workspace brings the pages, and re-extracting
    // them gives the tables of a local workspace re-extracting the same pages.
    let machine_b = server.vars_with_cache(&dir.path().join("b"));
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

    // A page rewritten on machine B (same size, other bytes) reaches machine A when A next opens
    // the workspace; A's other pages, unchanged in the store since A uploaded them, stay as they are.
    let mut pages = walk(&ws.root().join("raw"));
    pages.sort();
    let (changed, unchanged) = (pages[0].strip_prefix(ws.root()).unwrap(), pages[1].strip_prefix(ws.root()).unwrap());
    let mut rewritten = std::fs::read(ws.root().join(changed)).unwrap();
    let last = rewritten.len() - 1;
    rewritten[last] = if rewritten[last] == b' ' { b'\n' } else { b' ' };
    std::fs::write(ws.root().join(changed), &rewritten).unwrap();
    ws.publish_local_files().unwrap();
    let mirror_a = dir.path().join("a/flowgauge/workspaces");
    let in_a = |file: &Path| walk(&mirror_a).into_iter().find(|p| p.ends_with(file)).unwrap();
    let untouched = std::fs::metadata(in_a(unchanged)).unwrap().modified().unwrap();
    let ws = Workspace::open_in(&url, &machine_a, false).unwrap();
    assert_eq!(std::fs::read(ws.root().join(changed)).unwrap(), rewritten);
    assert_eq!(std::fs::metadata(ws.root().join(unchanged)).unwrap().modified().unwrap(), untouched);
}

#[test]
fn raw_pages_reach_s3_and_another_machine_re_extracts_them_offline() {
    if let Some(server) = Server::moto() {
        raw_pages_reach_another_machine(server);
    }
}

#[test]
fn raw_pages_reach_gcs_and_another_machine_re_extracts_them_offline() {
    let (model, _) = on_gcs(raw_pages_reach_another_machine);
    assert!(model.exchanges().iter().any(|e| e.method == "PUT" && e.key.starts_with("ws/raw/github/")));
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
    // A service-account file that cannot be read is the configuration's fault too.
    let mut google = home.clone();
    google.insert("GOOGLE_SERVICE_ACCOUNT".into(), dir.path().join("missing.json").display().to_string());
    let out = flowgauge_with(dir.path(), &google, &["--workspace", "gs://bucket/ws", "metrics"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("gs://bucket/ws cannot be opened"), "{}", text(&out.stderr));
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
fn a_gcs_store_refusing_the_token_fails_without_printing_it() {
    let server = Server::gcs();
    server.bucket("refusing");
    let dir = tempfile::tempdir().unwrap();
    let mut vars = server.vars();
    vars.insert("GOOGLE_BEARER_TOKEN".into(), "ya29.wrong-and-very-secret".into());
    let out = flowgauge_with(dir.path(), &vars, &["--workspace", "gs://refusing/ws", "metrics"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gs://refusing/ws/manifest.json") && stderr.contains("401"), "{stderr}");
    assert!(!stderr.contains("very-secret"), "{stderr}");
}

#[test]
fn a_public_gcs_bucket_is_read_without_credentials() {
    let server = Server::gcs();
    server.bucket("public");
    server.gcs_model().make_public("public");
    let url = PathBuf::from(server.url("public", "ws"));
    let mut ws = Workspace::open_in(&url, &server.vars(), false).unwrap();
    ws.upsert(&[(&model::CHANGES, vec![change("github:pr:acme/shop#1", "public")])]).unwrap();

    let mut anonymous = server.vars();
    anonymous.remove("GOOGLE_BEARER_TOKEN");
    anonymous.insert("GOOGLE_SKIP_SIGNATURE".into(), "true".into());
    let dir = tempfile::tempdir().unwrap();
    let read = ["--workspace", "gs://public/ws", "-q", "sql", "SELECT id FROM changes", "--format", "csv"];
    assert_eq!(
        ok(flowgauge_with(dir.path(), &anonymous, &read)),
        ok(flowgauge_with(dir.path(), &server.vars(), &read))
    );
    assert!(ok(flowgauge_with(dir.path(), &anonymous, &read)).contains("github:pr:acme/shop#1"));
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

#[test]
fn a_collector_driving_its_own_runtime_can_commit_into_an_object_store() {
    // The GitLab extras collector upserts from inside a tokio runtime (its tests run it on a
    // multi-threaded one, as polars' lazy engine needs): the store's requests must not try to start
    // a runtime within that one.
    let Some(server) = Server::moto() else { return };
    server.bucket("nested");
    let url = PathBuf::from(server.url("nested", "ws"));
    let mut ws = Workspace::open_in(&url, &server.vars(), false).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        ws.upsert(&[(&model::CHANGES, vec![change("gitlab:mr:acme/shop!1", "inside")])]).unwrap();
    });
    assert_eq!(ids(&ws), ["gitlab:mr:acme/shop!1"]);
}
