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
    // By 15 January 2026 everyone has been inactive for more than 180 days: every file is abandoned.
    assert_eq!(report.repository.abandoned_files, 5);
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
