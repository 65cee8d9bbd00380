//! The git source and the ownership analysis on scripted fixture repositories, built by the test
//! with the git command line and fixed dates so every run sees the same history.

use std::path::Path;
use std::process::Command;

use flowgauge::collect::git;
use flowgauge::config::Config;
use flowgauge::model::{self, Value};
use flowgauge::ownership::authorship;

use crate::helpers::{flowgauge, now, text};

/// An empty global configuration, so the developer's own settings cannot change the fixtures.
fn empty_gitconfig() -> std::path::PathBuf {
    let path = std::env::temp_dir().join("flowgauge-tests-empty.gitconfig");
    if !path.exists() {
        std::fs::write(&path, "").unwrap();
    }
    path
}

fn run_git(dir: &Path, args: &[&str], who: (&str, &str), date: &str) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", who.0)
        .env("GIT_AUTHOR_EMAIL", who.1)
        .env("GIT_COMMITTER_NAME", who.0)
        .env("GIT_COMMITTER_EMAIL", who.1)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_GLOBAL", empty_gitconfig())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

const ALICE: (&str, &str) = ("Alice", "alice@example.com");
const BOB_OLD: (&str, &str) = ("bob", "bob@old.example");
const CAROL: (&str, &str) = ("Carol", "carol@example.com");
const DAVE: (&str, &str) = ("Dave", "dave@example.com");
const BOT: (&str, &str) = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com");

fn write(dir: &Path, path: &str, content: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, content).unwrap();
}

/// A monorepo with a merged pull request, a squash merge, a rename, a revert, a bot, a mailmap
/// and two release tags. Returns the squash commit's sha.
fn fixture(dir: &Path) -> String {
    run_git(dir, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    write(dir, ".mailmap", "Bob Builder <bob@example.com> <bob@old.example>\n");
    write(dir, "README.md", "shop and pay\n");
    write(dir, "services/shop/a.txt", "a\n");
    write(dir, "services/pay/b.txt", "b\n");
    run_git(dir, &["add", "-A"], ALICE, "2025-01-01T09:00:00Z");
    run_git(dir, &["commit", "-q", "-m", "Initial commit"], ALICE, "2025-01-01T09:00:00Z");
    run_git(dir, &["checkout", "-q", "-b", "feature"], BOB_OLD, "2025-01-02T09:00:00Z");
    write(dir, "services/shop/a.txt", "a\nmore\n");
    run_git(dir, &["commit", "-qam", "Extend a"], BOB_OLD, "2025-01-02T09:00:00Z");
    write(dir, "services/shop/c.txt", "c\n");
    run_git(dir, &["add", "-A"], BOB_OLD, "2025-01-03T09:00:00Z");
    run_git(dir, &["commit", "-q", "-m", "Add c"], BOB_OLD, "2025-01-03T09:00:00Z");
    run_git(dir, &["checkout", "-q", "main"], ALICE, "2025-01-04T09:00:00Z");
    run_git(
        dir,
        &["merge", "-q", "--no-ff", "feature", "-m", "Merge pull request #1 from acme/feature\n\nAdd shop things"],
        ALICE,
        "2025-01-04T09:00:00Z",
    );
    run_git(dir, &["tag", "-a", "v1.0", "-m", "release 1.0"], ALICE, "2025-01-05T09:00:00Z");
    write(dir, "services/pay/b.txt", "b fixed\n");
    run_git(dir, &["commit", "-qam", "Pay fix (#2)"], CAROL, "2025-01-06T09:00:00Z");
    let squash = run_git(dir, &["rev-parse", "HEAD"], CAROL, "2025-01-06T09:00:00Z");
    run_git(dir, &["mv", "services/shop/a.txt", "services/shop/renamed.txt"], DAVE, "2025-01-07T09:00:00Z");
    run_git(dir, &["commit", "-q", "-m", "Rename a"], DAVE, "2025-01-07T09:00:00Z");
    run_git(dir, &["revert", "--no-edit", &squash], CAROL, "2025-01-08T09:00:00Z");
    write(dir, "services/pay/deps.txt", "dep 2\n");
    run_git(dir, &["add", "-A"], BOT, "2025-01-09T09:00:00Z");
    run_git(dir, &["commit", "-q", "-m", "Bump dep (#3)"], BOT, "2025-01-09T09:00:00Z");
    run_git(dir, &["tag", "v1.1"], ALICE, "2025-01-10T09:00:00Z");
    squash
}

const MONOREPO: &str = "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n\
    [[services]]\nname = \"shop\"\nrepos = [\"fixture\"]\npaths = [\"services/shop/**\"]\ndeploy_tags = \"v*\"\n\
    [[services]]\nname = \"pay\"\nrepos = [\"fixture\"]\npaths = [\"services/pay/**\"]\ndeploy_tags = \"v*\"\n";

fn text_of(row: &[Value], schema: &model::TableSchema, column: &str) -> Option<String> {
    match &row[schema.position(column).unwrap()] {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn history_is_read_once_with_renames_mailmap_and_bots() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let history = git::read(dir.path(), Some("fixture"), &[]).unwrap();
    assert_eq!(history.commits.len(), 8);
    assert!(!history.shallow);
    let rename = history.commits.iter().find(|c| c.subject == "Rename a").unwrap();
    assert_eq!(rename.files.len(), 1);
    assert_eq!(rename.files[0].kind, "renamed");
    assert_eq!(rename.files[0].old_path.as_deref(), Some("services/shop/a.txt"));
    let bob = history.commits.iter().find(|c| c.subject == "Add c").unwrap();
    assert_eq!((bob.author.as_str(), bob.email.as_str()), ("Bob Builder", "bob@example.com"));
    assert!(history.commits.iter().find(|c| c.subject == "Bump dep (#3)").unwrap().is_bot);
    let merge = history.commits.iter().find(|c| c.parents.len() == 2).unwrap();
    assert!(merge.files.is_empty(), "merge commits list no files, as in git log");
    assert_eq!(history.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["v1.0", "v1.1"]);
    // The annotated tag keeps its own time; the lightweight one takes its commit's.
    assert_eq!(history.tags[0].at.to_rfc3339(), "2025-01-05T09:00:00+00:00");
    assert_eq!(history.tags[1].at.to_rfc3339(), "2025-01-09T09:00:00+00:00");
}

#[test]
fn changes_reverts_and_tag_releases_are_recovered_per_service() {
    let dir = tempfile::tempdir().unwrap();
    let squash = fixture(dir.path());
    let config = Config::from_toml(MONOREPO, now()).unwrap();
    let history = git::read(dir.path(), Some("fixture"), &[]).unwrap();
    let fallback = flowgauge::collect::default_service("fixture");
    let rows = git::rows(&history, &config, &fallback).unwrap();
    let table = |name: &str| &rows.tables.iter().find(|(s, _)| s.name == name).unwrap().1;
    let changes = table("changes");
    let ids: Vec<String> = changes.iter().filter_map(|r| text_of(r, &model::CHANGES, "id")).collect();
    // The merged pull request touched only shop; the squash, revert and bot bump only pay; the
    // initial commit both; the rename shop.
    for expected in
        ["git:pr:fixture#1:shop", "git:pr:fixture#2:pay", "git:pr:fixture#3:pay", "git:commit:fixture@{}:pay"]
    {
        let expected = expected.replace("{}", &squash[..12]);
        assert!(
            ids.iter().any(|i| *i == expected
                || (expected.contains("@") && i.starts_with("git:commit:fixture@") && i.ends_with(":pay"))),
            "{expected} not in {ids:?}"
        );
    }
    assert!(!ids.iter().any(|i| i == "git:pr:fixture#1:pay"), "#1 touched only shop: {ids:?}");
    let pr1 =
        changes.iter().find(|r| text_of(r, &model::CHANGES, "id").as_deref() == Some("git:pr:fixture#1:shop")).unwrap();
    assert_eq!(text_of(pr1, &model::CHANGES, "title").as_deref(), Some("Add shop things"));
    assert_eq!(text_of(pr1, &model::CHANGES, "author").as_deref(), Some("Bob Builder"));
    assert_eq!(pr1[model::CHANGES.position("first_commit_at").unwrap()], crate::helpers::t("2025-01-02T09:00:00Z"));
    assert_eq!(pr1[model::CHANGES.position("created_at").unwrap()], Value::Null, "git cannot tell when a PR opened");
    let revert = changes
        .iter()
        .find(|r| r[model::CHANGES.position("is_revert").unwrap()] == Value::Bool(true))
        .expect("the revert is a change");
    assert_eq!(text_of(revert, &model::CHANGES, "reverts_change_id").as_deref(), Some("git:pr:fixture#2:pay"));
    // Two tags, a deployment of each service for each: v1.0 ships the first four commits, v1.1 the rest.
    let deployments = table("deployments");
    assert_eq!(deployments.len(), 4);
    let links = table("deployment_commits");
    let shipped_by = |id: &str| {
        links.iter().filter(|r| text_of(r, &model::DEPLOYMENT_COMMITS, "deployment_id").as_deref() == Some(id)).count()
    };
    assert_eq!(shipped_by("git:tag:fixture:v1.0:shop"), 4);
    assert_eq!(shipped_by("git:tag:fixture:v1.1:shop"), 4);
}

#[test]
fn degree_of_authorship_and_truck_factor_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let history = git::read(dir.path(), Some("fixture"), &[]).unwrap();
    let facts = authorship::authorship(&history);
    // renamed.txt followed through its rename: created by Alice, changed once each by Bob and Dave.
    // DOA Alice = 3.293 + 1.098 + 0.164 − 0.321·ln 3 = 4.2023; Bob = Dave = 3.293 + 0.164 − 0.321·ln 3
    // = 3.1044, normalised 0.739 < 0.75: Alice is the only author.
    let renamed = &facts.files["services/shop/renamed.txt"];
    assert_eq!(renamed.creator.as_deref(), Some("Alice"));
    assert_eq!(authorship::authors_of(renamed), ["Alice"]);
    // b.txt: Alice created it; Carol changed it twice (fix and revert): 3.293 + 0.328 − 0.321·ln 2 =
    // 3.3985, normalised 0.809 → both are authors.
    assert_eq!(authorship::authors_of(&facts.files["services/pay/b.txt"]), ["Alice", "Carol"]);
    // The bot's file has no human author and is left out.
    assert!(!facts.files.contains_key("services/pay/deps.txt"));
    // Five files with authors; Alice authors four of them. Without her only c.txt (Bob) and b.txt
    // (Carol) keep an author: 2 of 5, fewer than half. Truck factor 1.
    let config = Config::from_toml(MONOREPO, now()).unwrap();
    let services: Vec<&flowgauge::config::Service> = config.services.iter().collect();
    let report = flowgauge::ownership::analyse(&history, &services, now(), 180);
    assert_eq!(report.repository.files_with_authors, 5);
    assert_eq!(report.repository.truck_factor.value, 1);
    assert_eq!(report.repository.truck_factor.removed, ["Alice"]);
    let shop = report.services.iter().find(|s| s.name == "shop").unwrap();
    assert_eq!((shop.files, shop.files_with_authors), (2, 2));
    // Inactivity is measured from the last commit (9 January 2025), not from today (15 January
    // 2026): the history simply ends there, so nobody has been gone 180 days and nothing is abandoned.
    assert_eq!(report.inactivity_measured_from, "last commit");
    assert_eq!(report.inactive_since_reference, crate::helpers::t_utc("2025-01-09T09:00:00Z"));
    assert_eq!(report.repository.abandoned_files, 0);
    // With a 3-day threshold (cutoff 6 January 09:00): Alice (last non-merge commit 1 January) and
    // Bob (3 January) are gone; Carol (8 January) and Dave (7 January) are not. Files authored only
    // by the gone: c.txt (Bob), renamed.txt, README.md and .mailmap (Alice). b.txt keeps Carol.
    let strict = flowgauge::ownership::analyse(&history, &services, now(), 3);
    assert_eq!(strict.repository.abandoned_files, 4);
    // Measured from the end of a window that ends before the last commit.
    let early = flowgauge::ownership::analyse_with(
        &history,
        &services,
        now(),
        3,
        None,
        (crate::helpers::t_utc("2024-10-01T00:00:00Z"), crate::helpers::t_utc("2025-01-05T00:00:00Z")),
        &Default::default(),
    );
    assert_eq!(early.inactivity_measured_from, "end of the analysis window");
    assert_eq!(early.inactive_since_reference, crate::helpers::t_utc("2025-01-05T00:00:00Z"));
}

#[test]
fn shallow_empty_and_missing_repositories_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    fixture(&origin);
    let clone = dir.path().join("clone");
    let url = format!("file://{}", origin.display());
    run_git(dir.path(), &["clone", "-q", "--depth", "2", &url, clone.to_str().unwrap()], ALICE, "2025-01-11T09:00:00Z");
    let history = git::read(&clone, None, &[]).unwrap();
    assert!(history.shallow);
    assert!(history.warnings.iter().any(|w| w.contains("shallow clone")), "{:?}", history.warnings);
    assert_eq!(history.repo, "clone");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    run_git(&empty, &["init", "-q"], ALICE, "2025-01-01T09:00:00Z");
    let history = git::read(&empty, None, &[]).unwrap();
    assert!(history.commits.is_empty());
    assert!(history.warnings.iter().any(|w| w.contains("empty repository")));

    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let err = git::read(&plain, None, &[]).unwrap_err();
    assert!(err.to_string().contains("not a git repository"), "{err}");
    let out = flowgauge(dir.path(), &["ownership", "--repo", "plain"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[test]
fn metrics_and_ownership_work_on_a_bare_checkout_without_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("shop");
    std::fs::create_dir(&repo).unwrap();
    fixture(&repo);
    let out = flowgauge(
        dir.path(),
        &["--since", "2025-01-01", "--until", "2025-04-01", "metrics", "--repo", "shop", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let service = &json["services"][0];
    assert_eq!(service["service"], "shop");
    // v1.0 and v1.1 are releases; nothing was invented for pickup, review or incidents.
    assert_eq!(service["window"]["deployment_frequency"]["deployments"], 2);
    assert!(service["window"]["lead_time"]["pickup"]["median_hours"].is_null());
    let notes: Vec<String> =
        json["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    assert!(notes.iter().any(|n| n.contains("from a forge")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("No incidents")), "{notes:?}");
    let table = flowgauge(dir.path(), &["ownership", "--repo", "shop"]);
    assert!(table.status.success(), "{}", text(&table.stderr));
    assert!(text(&table.stdout).contains("truck factor"));
}

#[test]
fn codeowners_coverage_stale_rules_and_broken_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    run_git(repo, &["init", "-q", "-b", "main"], ALICE, "2024-01-01T09:00:00Z");
    write(repo, "src/app.rs", "fn main() {}\n");
    write(repo, "src/lib.rs", "\n");
    write(repo, "docs/guide.md", "guide\n");
    write(repo, "scripts/rollback.sh", "#!/bin/sh\n");
    write(
        repo,
        ".github/CODEOWNERS",
        "# owners\n/src/ gone@example.com\n/nothing/ @acme/ghosts\n[a-z]*.md @acme/docs\n/scripts/ @acme/ops\n",
    );
    write(
        repo,
        ".github/workflows/deploy.yml",
        "name: Deploy\non: workflow_dispatch\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    environment: production\n    steps:\n      - run: ./scripts/deploy.sh\n",
    );
    run_git(repo, &["add", "-A"], ALICE, "2024-01-01T09:00:00Z");
    run_git(repo, &["commit", "-q", "-m", "Start"], ALICE, "2024-01-01T09:00:00Z");
    write(repo, "src/app.rs", "fn main() { run() }\n");
    run_git(repo, &["commit", "-qam", "Change app"], CAROL, "2025-12-20T09:00:00Z");

    let history = git::read(repo, Some("svc"), &[]).unwrap();
    let service = flowgauge::collect::default_service("svc");
    let window = (crate::helpers::t_utc("2025-12-01T00:00:00Z"), crate::helpers::t_utc("2026-01-01T00:00:00Z"));
    let lines = git::lines_changed(&history, window.0, window.1).unwrap();
    assert_eq!(lines.missing, 0);
    let report = flowgauge::ownership::analyse_with(&history, &[&service], now(), 180, None, window, &lines);
    let c = report.codeowners.expect("a CODEOWNERS file");
    assert_eq!(c.dialect, "github");
    // 6 files at HEAD (4 written + CODEOWNERS + the workflow); owned: src/app.rs, src/lib.rs, scripts/rollback.sh.
    assert_eq!((c.files, c.owned_files), (6, 3));
    // The one change in the window touched src/app.rs, which is owned.
    assert_eq!((c.changes_in_window, c.owned_changes_in_window), (1, 1));
    // That change replaced one line with another: one removed, one added.
    assert_eq!((c.lines_changed_in_window, c.owned_lines_changed_in_window), (2, 2));
    // gone@example.com last committed never (Alice and Carol commit): the /src/ rule is stale.
    assert_eq!(c.stale_rules.iter().map(|r| r.line).collect::<Vec<_>>(), [2]);
    assert_eq!(c.rules_matching_nothing.iter().map(|r| r.line).collect::<Vec<_>>(), [3]);
    // GitHub does not support [a-z] ranges: line 4 is rejected, the rest still applies.
    assert_eq!(c.errors.iter().map(|r| r.line).collect::<Vec<_>>(), [4]);
    assert!(report.warnings.iter().any(|w| w.contains(":4:")), "{:?}", report.warnings);

    // Collecting the repository records the manual workflow and the rollback script as evidence,
    // and the report's findings use them.
    let ws = dir.path().join("ws");
    let out = flowgauge(
        dir.path(),
        &["--workspace", ws.to_str().unwrap(), "collect", "git", repo.to_str().unwrap(), "--name", "svc"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let workspace = flowgauge::store::Workspace::open(&ws).unwrap();
    let evidence = workspace.load(&model::EVIDENCE).unwrap();
    let categories: Vec<&str> = evidence.column("category").unwrap().str().unwrap().iter().flatten().collect();
    assert!(categories.contains(&"manual trigger"), "{categories:?}");
    assert!(categories.contains(&"rollback"), "{categories:?}");
}

#[test]
fn git_changes_have_no_invented_stages_and_plain_paths_name_directories() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    // `services/shop` without wildcards owns the directory, like `services/shop/**`.
    let config = Config::from_toml(
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2025-04-01\"\n\
         [[services]]\nname = \"shop\"\nrepos = [\"fixture\"]\npaths = [\"services/shop\"]\ndeploy_tags = \"v*\"\n\
         [[services]]\nname = \"pay\"\nrepos = [\"fixture\"]\npaths = [\"services/pay/\"]\ndeploy_tags = \"v*\"\n",
        now(),
    )
    .unwrap();
    let history = git::read(dir.path(), Some("fixture"), &[]).unwrap();
    let rows = git::rows(&history, &config, &flowgauge::collect::default_service("fixture")).unwrap();
    let mut frames = std::collections::HashMap::new();
    for schema in model::TABLES {
        let found = rows.tables.iter().find(|(s, _)| s.name == schema.name).map(|(_, r)| r.clone()).unwrap_or_default();
        frames.insert(schema.name, flowgauge::store::rows_to_frame(schema, &found).unwrap());
    }
    let queries = flowgauge::metrics::queries::load(None).unwrap();
    let computation = flowgauge::metrics::compute(&frames, &config, &queries).unwrap();
    let report = flowgauge::metrics::report(&computation, &config).unwrap();
    let shop = report.services.iter().find(|s| s.service == "shop").unwrap();
    // #1 (Bob's first commit 2 Jan 09:00) shipped with v1.0 (5 Jan 09:00): 72 h. The initial commit
    // (1 Jan 09:00) too: 96 h. The rename (7 Jan) shipped with v1.1 (9 Jan 09:00): 48 h.
    assert_eq!(shop.window.lead_time.changes, 3);
    assert_eq!(shop.window.lead_time.median_hours, Some(72.0));
    // Git cannot tell when a pull request opened: no coding, pickup or review time is made up.
    assert_eq!(shop.window.lead_time.coding.median_hours, None);
    assert_eq!(shop.window.lead_time.pickup.median_hours, None);
    assert_eq!(shop.window.lead_time.review.median_hours, None);
    assert!(shop.window.lead_time.deploy.median_hours.is_some());
}

#[test]
fn a_path_that_is_not_a_repository_leaves_no_workspace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let out = flowgauge(dir.path(), &["--workspace", "ws", "collect", "git", "plain"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(!dir.path().join("ws").exists());
}

/// Runs `git` with the test's empty global configuration and no identity dates (for setup steps
/// whose dates do not matter), allowing file:// submodules.
fn git_plain(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["-c", "protocol.file.allow=always"];
    all.extend_from_slice(args);
    run_git(dir, &all, ALICE, "2025-02-01T09:00:00Z")
}

fn commit_all(dir: &Path, message: &str, who: (&str, &str), date: &str) {
    run_git(dir, &["add", "-A"], who, date);
    run_git(dir, &["commit", "-q", "-m", message], who, date);
}

fn deployments_json(dir: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["--since", "2025-01-01", "--until", "2025-04-01", "--workspace", "ws", "metrics"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let out = flowgauge(dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), text(&out.stderr))
}

/// A repository tagged like ripgrep (no `v`), with a pre-release, a moving `latest` tag and a
/// monorepo-style `pay@` tag.
fn tagged_repo(dir: &Path) {
    run_git(dir, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    let steps = [
        ("2025-01-06T09:00:00Z", Some("14.0.0")),
        ("2025-01-13T09:00:00Z", Some("14.1.0-rc1")),
        ("2025-01-20T09:00:00Z", Some("14.1.0")),
        ("2025-01-27T09:00:00Z", Some("pay@2.0.0")),
        ("2025-02-03T09:00:00Z", Some("latest")),
    ];
    for (i, (date, tag)) in steps.iter().enumerate() {
        write(dir, "src/main.rs", &format!("fn main() {{ println!(\"{i}\"); }}\n"));
        commit_all(dir, &format!("Change {i}"), ALICE, date);
        if let Some(tag) = tag {
            run_git(dir, &["tag", tag], ALICE, date);
        }
    }
}

#[test]
fn semantic_version_tags_are_releases_by_default_and_pre_releases_stay_out_of_production() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("rg");
    std::fs::create_dir(&repo).unwrap();
    tagged_repo(&repo);
    // Semantic versions with or without `v` and with a component name: 14.0.0, 14.1.0, pay@2.0.0.
    // 14.1.0-rc1 matches too but is a pre-release; `latest` is no version.
    let (json, stderr) = deployments_json(dir.path(), &["--repo", "rg"]);
    assert_eq!(json["services"][0]["window"]["deployment_frequency"]["deployments"], 3, "{stderr}");
    assert!(stderr.contains("3 tag releases (3 of 5 tags match semantic versions"), "{stderr}");
    assert!(stderr.contains("1 pre-releases kept out of production"), "{stderr}");
    // `explain` lists the pre-release as excluded, in the `prerelease` environment.
    let out = flowgauge(
        dir.path(),
        &[
            "--since",
            "2025-01-01",
            "--until",
            "2025-04-01",
            "--workspace",
            "ws",
            "explain",
            "deployment-frequency",
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = text(&out.stdout);
    let line = records.lines().find(|l| l.contains("14.1.0-rc1")).unwrap_or_else(|| panic!("{records}"));
    assert!(line.contains("prerelease") && line.contains("pre-release, not a production deployment"), "{line}");
    // Lightweight tags date each release at its own commit, so the changes tagged directly have a
    // lead time of zero and are left out; the change shipped first in the pre-release 14.1.0-rc1
    // reaches production only with 14.1.0, a week (168 hours) later.
    let lead = &json["services"][0]["window"]["lead_time"];
    assert_eq!(lead["changes"], 1, "{lead}");
    assert_eq!(lead["median_hours"], 168.0, "{lead}");

    // `--tags` says which tags are releases, and a second run replaces the first run's releases.
    let (json, stderr) = deployments_json(dir.path(), &["--repo", "rg", "--tags", "latest"]);
    assert_eq!(json["services"][0]["window"]["deployment_frequency"]["deployments"], 1, "{stderr}");
    assert!(stderr.contains("1 of 5 tags match `latest`"), "{stderr}");
    let out = flowgauge(dir.path(), &["--workspace", "ws", "metrics", "--repo", "rg", "--tags", "[unclosed"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--tags"), "{}", text(&out.stderr));
}

#[test]
fn tags_that_match_nothing_say_so_and_pre_releases_can_count() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("app");
    std::fs::create_dir(&repo).unwrap();
    tagged_repo(&repo);
    run_git(&repo, &["tag", "-d", "14.0.0", "14.1.0", "14.1.0-rc1", "pay@2.0.0"], ALICE, "2025-02-04T09:00:00Z");
    let out = flowgauge(dir.path(), &["--workspace", "ws", "collect", "git", "app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("none of the 1 tags matches semantic versions"), "{stderr}");
    assert!(stderr.contains("latest") && stderr.contains("--tags GLOB"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("pre");
    std::fs::create_dir(&repo).unwrap();
    tagged_repo(&repo);
    std::fs::write(dir.path().join("flowgauge.toml"), "[git]\nprereleases = true\n").unwrap();
    let (json, stderr) = deployments_json(dir.path(), &["--repo", "pre"]);
    assert_eq!(json["services"][0]["window"]["deployment_frequency"]["deployments"], 4, "{stderr}");
}

#[test]
fn a_submodule_whose_pointer_moved_is_not_read_as_a_blob() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    run_git(&lib, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    write(&lib, "lib.txt", "one\n");
    commit_all(&lib, "lib one", ALICE, "2025-01-01T09:00:00Z");
    let repo = dir.path().join("app");
    std::fs::create_dir(&repo).unwrap();
    run_git(&repo, &["init", "-q", "-b", "main"], ALICE, "2025-01-02T09:00:00Z");
    write(&repo, "CODEOWNERS", "* alice@example.com\n");
    write(&repo, "app.txt", "app\n");
    git_plain(&repo, &["submodule", "--quiet", "add", lib.to_str().unwrap(), "vendor/lib"]);
    commit_all(&repo, "Start", ALICE, "2025-01-02T09:00:00Z");
    write(&lib, "lib.txt", "two\n");
    commit_all(&lib, "lib two", ALICE, "2025-01-03T09:00:00Z");
    git_plain(&repo.join("vendor/lib"), &["fetch", "-q", "origin"]);
    git_plain(&repo.join("vendor/lib"), &["checkout", "-q", "FETCH_HEAD"]);
    write(&repo, "app.txt", "app\nmore\n");
    commit_all(&repo, "Move the submodule", ALICE, "2025-01-04T09:00:00Z");

    let history = git::read(&repo, Some("app"), &[]).unwrap();
    let moved = history.commits.iter().find(|c| c.subject == "Move the submodule").unwrap();
    let pointer = moved.files.iter().find(|f| f.path == "vendor/lib").expect("the submodule's path changed");
    assert_eq!((pointer.old_id, pointer.new_id), (None, None), "a gitlink names no blob");
    let window = (crate::helpers::t_utc("2025-01-01T00:00:00Z"), crate::helpers::t_utc("2025-02-01T00:00:00Z"));
    let lines = git::lines_changed(&history, window.0, window.1).unwrap();
    assert_eq!(lines.missing, 0);
    // app.txt: "app" (1) added, then "more" (1) added; .gitmodules 3 lines; CODEOWNERS 1 line.
    assert_eq!(lines.by_change.values().sum::<u64>(), 6);

    let out = flowgauge(
        dir.path(),
        &["--since", "2025-01-01", "--until", "2025-02-01", "ownership", "--repo", "app", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["codeowners"]["lines_changed_in_window"], 6);
}

#[test]
fn a_blobless_partial_clone_is_read_without_fetching_and_says_what_is_weaker() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    run_git(&origin, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    let body: String = (0..40).map(|i| format!("line {i}\n")).collect();
    write(&origin, "old/name.txt", &body);
    commit_all(&origin, "Start", ALICE, "2025-01-01T09:00:00Z");
    // A rename with an edit: recognising it needs both versions' content.
    std::fs::remove_file(origin.join("old/name.txt")).unwrap();
    write(&origin, "new/name.txt", &format!("{body}one more\n"));
    commit_all(&origin, "Move and edit", CAROL, "2025-01-02T09:00:00Z");
    write(&origin, "new/name.txt", &format!("{body}one more\nand another\n"));
    commit_all(&origin, "Edit", CAROL, "2025-01-03T09:00:00Z");
    run_git(&origin, &["config", "uploadpack.allowFilter", "true"], ALICE, "2025-01-03T09:00:00Z");
    let clone = dir.path().join("clone");
    let url = format!("file://{}", origin.display());
    run_git(
        dir.path(),
        &["clone", "-q", "--filter=blob:none", "--no-local", &url, clone.to_str().unwrap()],
        ALICE,
        "2025-01-04T09:00:00Z",
    );

    let history = git::read(&clone, Some("clone"), &[]).unwrap();
    assert!(history.partial);
    assert_eq!(history.commits.len(), 3);
    let warning = history.data_warnings.iter().find(|w| w.kind == "partial-clone").expect("a partial-clone warning");
    assert_eq!(warning.affects, ["ownership"]);
    assert!(warning.message.contains("--filter"), "{}", warning.message);
    // Without the old content the edited rename reads as a deletion and an addition.
    let moved = history.commits.iter().find(|c| c.subject == "Move and edit").unwrap();
    assert_eq!(moved.files.iter().map(|f| f.kind).collect::<Vec<_>>(), ["added", "deleted"]);
    // Line counts take what is there (HEAD's blob) and count what is not.
    let window = (crate::helpers::t_utc("2025-01-01T00:00:00Z"), crate::helpers::t_utc("2025-02-01T00:00:00Z"));
    let lines = git::lines_changed(&history, window.0, window.1).unwrap();
    assert!(lines.missing > 0);
    let out = flowgauge(dir.path(), &["--workspace", "ws", "collect", "git", "clone"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("partial clone"), "{}", text(&out.stderr));
    let workspace = flowgauge::store::Workspace::open(&dir.path().join("ws")).unwrap();
    let recorded: Vec<String> =
        workspace.manifest().sources.values().flat_map(|s| s.warnings.iter().map(|w| w.kind.clone())).collect();
    assert!(recorded.contains(&"partial-clone".to_string()), "{recorded:?}");
}

#[test]
fn missing_blobs_are_counted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    run_git(repo, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    let body: String = (0..40).map(|i| format!("line {i}\n")).collect();
    write(repo, "CODEOWNERS", "* @acme/team\n");
    write(repo, "old/name.txt", &body);
    commit_all(repo, "Start", ALICE, "2025-01-01T09:00:00Z");
    let old_blob = run_git(repo, &["rev-parse", "HEAD:old/name.txt"], ALICE, "2025-01-01T09:00:00Z");
    std::fs::remove_file(repo.join("old/name.txt")).unwrap();
    write(repo, "new/name.txt", &format!("{body}one more\n"));
    commit_all(repo, "Move and edit", CAROL, "2025-01-02T09:00:00Z");
    // A snapshot without some blobs: remove the loose object of the first version.
    std::fs::remove_file(repo.join(".git/objects").join(&old_blob[..2]).join(&old_blob[2..])).unwrap();

    let history = git::read(repo, Some("snap"), &[]).unwrap();
    assert_eq!(history.commits_missing_blobs, 1);
    let warning = history.data_warnings.iter().find(|w| w.kind == "missing-blobs").expect("a missing-blobs warning");
    assert!(warning.message.starts_with("1 commits"), "{}", warning.message);
    let window = (crate::helpers::t_utc("2025-01-01T00:00:00Z"), crate::helpers::t_utc("2025-02-01T00:00:00Z"));
    let lines = git::lines_changed(&history, window.0, window.1).unwrap();
    // The first commit's old/name.txt and the second's deletion of it cannot be counted.
    assert_eq!(lines.missing, 2);
    let out = flowgauge(
        dir.path(),
        &["--since", "2025-01-01", "--until", "2025-02-01", "ownership", "--repo", ".", "--format", "json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> =
        json["data_warnings"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["missing-blobs", "missing-blobs"]);
}

#[test]
fn one_e_mail_is_one_person_and_bots_are_recognised_by_their_markers() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    run_git(repo, &["init", "-q", "-b", "main"], ALICE, "2025-01-01T09:00:00Z");
    let steps: [((&str, &str), &str); 6] = [
        (("Alice", "alice@example.com"), "2025-01-01T09:00:00Z"),
        (("alice", "Alice@Example.com"), "2025-01-02T09:00:00Z"),
        (("Alice Smith", "alice@example.com"), "2025-01-03T09:00:00Z"),
        (("Release Train (@acme-bot)", "release@acme.example"), "2025-01-04T09:00:00Z"),
        (("Bea", "4711+bea@users.noreply.github.com"), "2025-01-05T09:00:00Z"),
        (("GitHub", "noreply@github.com"), "2025-01-06T09:00:00Z"),
    ];
    for (i, (who, date)) in steps.iter().enumerate() {
        write(repo, &format!("f{i}.txt"), "x\n");
        commit_all(repo, &format!("Commit {i}"), *who, date);
    }
    let history = git::read(repo, Some("people"), &[]).unwrap();
    let authors: Vec<(&str, bool)> = history.commits.iter().map(|c| (c.author.as_str(), c.is_bot)).collect();
    // Three names for one address (case aside) become the one used most: a tie of one commit each,
    // so the latest, "Alice Smith".
    assert_eq!(
        authors,
        [
            ("Alice Smith", false),
            ("Alice Smith", false),
            ("Alice Smith", false),
            ("Release Train (@acme-bot)", true),
            ("Bea", false),
            ("GitHub", true),
        ]
    );
    let service = flowgauge::collect::default_service("people");
    let report = flowgauge::ownership::analyse(&history, &[&service], now(), 180);
    let people: Vec<&str> = report.repository.top_authors.iter().map(|(who, _)| who.as_str()).collect();
    assert_eq!(people, ["Alice Smith", "Bea"]);
}
