//! The GitHub source against a local server speaking GitHub's documented GraphQL shapes: the real
//! octocrab client, real cursor pagination, injected faults, interrupted runs and offline
//! re-extraction, each compared table for table with a fault-free run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::github::{self, GithubRequest, Pacing, Resource};
use flowgauge::config::Config;
use flowgauge::model::{self, TableSchema};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{config, copy_dir, text};

const TOKEN: &str = "ghp_TESTtoken0123456789abcdefSECRET";
const REPO: &str = "acme/shop";
const TABLES: [&TableSchema; 3] = [&model::CHANGES, &model::CHANGE_COMMITS, &model::REVIEWS];

/// A fault served instead of the normal answer on one call.
#[derive(Clone, Copy, Debug)]
enum Fault {
    TooManyRequests,
    SecondaryLimit,
    BadGateway,
    Truncated,
    /// The page is served as if an item had moved up between calls: it overlaps the previous page.
    Shifted,
    BadCredentials,
    NoSuchRepo,
    NoPermission,
    GraphqlRateLimited,
    /// The normal answer, three seconds late.
    Slow,
    /// GitHub's GraphQL answer to a query that timed out.
    GraphqlTimeout,
}

/// A fake GitHub holding `n` pull requests; faults are keyed by the 1-based call number.
struct FakeGithub {
    prs: Mutex<Vec<Value>>,
    faults: Mutex<HashMap<usize, Fault>>,
    calls: AtomicUsize,
    /// Cut listings short as GitHub does past a page: deployment 1 reports 25 statuses, and every
    /// compare 250 commits more than it lists.
    cut: std::sync::atomic::AtomicBool,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn pull_request(n: i64, updated: DateTime<Utc>) -> Value {
    let created = base() + chrono::Duration::hours(n);
    let first_commit = created - chrono::Duration::hours(5);
    let merged = n % 4 != 0;
    let title = if n % 10 == 0 { format!("Revert \"change {}\"", n - 1) } else { format!("change {n}") };
    json!({
        "number": n, "title": title, "state": if merged { "MERGED" } else { "OPEN" },
        "createdAt": iso(created), "updatedAt": iso(updated),
        "mergedAt": if merged { Value::String(iso(created + chrono::Duration::hours(3))) } else { Value::Null },
        "closedAt": if merged { Value::String(iso(created + chrono::Duration::hours(3))) } else { Value::Null },
        "author": { "__typename": "User", "login": format!("dev{}", n % 3) },
        "baseRefName": "main", "headRefName": format!("feature/{n}"),
        "mergeCommit": if merged { json!({ "oid": format!("{n:040x}") }) } else { Value::Null },
        "additions": n * 3, "deletions": n, "changedFiles": 1 + n % 5,
        "labels": { "nodes": if n % 7 == 0 { json!([{ "name": "bug" }, { "name": "hotfix" }]) } else { json!([]) } },
        "commits": { "totalCount": 2, "nodes": [
            { "commit": { "oid": format!("{:040x}", n * 1000 + 1), "authoredDate": iso(first_commit + chrono::Duration::hours(1)) } },
            { "commit": { "oid": format!("{:040x}", n * 1000 + 2), "authoredDate": iso(first_commit) } }
        ] },
        "reviews": { "totalCount": 2, "nodes": [
            { "databaseId": n * 10 + 1, "author": { "__typename": "User", "login": format!("dev{}", n % 3) }, "state": "COMMENTED", "submittedAt": iso(created + chrono::Duration::minutes(5)) },
            { "databaseId": n * 10 + 2, "author": { "__typename": "User", "login": "reviewer" }, "state": "APPROVED", "submittedAt": iso(created + chrono::Duration::hours(2)) }
        ] },
        "comments": { "nodes": [
            { "databaseId": n * 10 + 3, "author": { "__typename": "Bot", "login": "github-actions" }, "createdAt": iso(created + chrono::Duration::minutes(1)) },
            { "databaseId": n * 10 + 4, "author": { "__typename": "User", "login": "ops" }, "createdAt": iso(created + chrono::Duration::minutes(30)) }
        ] }
    })
}

impl FakeGithub {
    fn new(n: i64) -> FakeGithub {
        let prs = (1..=n)
            .map(|i| pull_request(i, base() + chrono::Duration::hours(i) + chrono::Duration::hours(4)))
            .collect();
        FakeGithub {
            prs: Mutex::new(prs),
            faults: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
            cut: Default::default(),
        }
    }

    fn with_faults(self, faults: &[(usize, Fault)]) -> FakeGithub {
        *self.faults.lock().unwrap() = faults.iter().copied().collect();
        self
    }

    fn sorted(&self) -> Vec<Value> {
        let mut prs = self.prs.lock().unwrap().clone();
        prs.sort_by(|a, b| b["updatedAt"].as_str().cmp(&a["updatedAt"].as_str()));
        prs
    }

    fn page(&self, offset: usize, first: usize) -> Value {
        let prs = self.sorted();
        let nodes: Vec<Value> = prs.iter().skip(offset).take(first).cloned().collect();
        let end = offset + nodes.len();
        json!({ "data": {
            "rateLimit": { "cost": 1, "remaining": 4990, "resetAt": "2025-03-01T10:00:00Z" },
            "repository": { "pullRequests": {
                "totalCount": prs.len(),
                "pageInfo": { "hasNextPage": end < prs.len(), "endCursor": format!("c{end}") },
                "nodes": nodes
            } }
        } })
    }
}

impl Respond for &'static FakeGithub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            return ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" }));
        }
        // Faults that need no body are served on any call, REST or GraphQL, of any resource.
        let early = self.faults.lock().unwrap().get(&call).copied();
        match early {
            Some(Fault::TooManyRequests) => {
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({ "message": "API rate limit exceeded" }));
            }
            Some(Fault::SecondaryLimit) => {
                return ResponseTemplate::new(403)
                    .insert_header("retry-after", "60")
                    .set_body_json(json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." }));
            }
            Some(Fault::BadGateway) => {
                return ResponseTemplate::new(502).set_body_string("<html>502 Bad Gateway</html>");
            }
            _ => {}
        }
        if request.method.as_str() == "GET" {
            return rest(request, self.cut.load(Ordering::SeqCst));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or("");
        if query.contains("deployments(") {
            let mut page = deployments();
            if self.cut.load(Ordering::SeqCst) {
                page["data"]["repository"]["deployments"]["nodes"][3]["statuses"]["totalCount"] = json!(25);
            }
            return ResponseTemplate::new(200).set_body_json(page);
        }
        if query.contains("releases(") {
            return ResponseTemplate::new(200).set_body_json(releases());
        }
        if query.contains("HEAD:.github/CODEOWNERS") {
            return ResponseTemplate::new(200).set_body_json(json!({ "data": {
                "rateLimit": { "cost": 1, "remaining": 4970, "resetAt": "2025-03-01T10:00:00Z" },
                "repository": { "dotgithub": null, "root": { "text": CODEOWNERS }, "docs": null } } }));
        }
        if query.contains("issues(") {
            assert_eq!(body["variables"]["labels"], json!(["incident"]));
            return ResponseTemplate::new(200).set_body_json(incidents());
        }
        let offset: usize =
            body["variables"]["after"].as_str().and_then(|c| c.trim_start_matches('c').parse().ok()).unwrap_or(0);
        let first = body["variables"]["first"].as_u64().expect("the page size is a variable") as usize;
        assert!((10..=100).contains(&first), "first: {first}");
        let fault = self.faults.lock().unwrap().get(&call).copied();
        match fault {
            None => ResponseTemplate::new(200).set_body_json(self.page(offset, first)),
            Some(Fault::TooManyRequests) => ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({ "message": "API rate limit exceeded" })),
            Some(Fault::SecondaryLimit) => ResponseTemplate::new(403)
                .insert_header("retry-after", "60")
                .set_body_json(json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." })),
            Some(Fault::BadGateway) => ResponseTemplate::new(502).set_body_string("<html>502 Bad Gateway</html>"),
            Some(Fault::Truncated) => {
                let full = self.page(offset, first).to_string();
                ResponseTemplate::new(200).set_body_raw(full[..full.len() / 2].to_string(), "application/json")
            }
            Some(Fault::Shifted) => ResponseTemplate::new(200).set_body_json(self.page(offset.saturating_sub(1), first)),
            Some(Fault::BadCredentials) => ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" })),
            Some(Fault::NoSuchRepo) => ResponseTemplate::new(200).set_body_json(json!({
                "data": { "repository": null },
                "errors": [{ "type": "NOT_FOUND", "path": ["repository"], "message": "Could not resolve to a Repository with the name 'acme/shop'." }]
            })),
            Some(Fault::GraphqlTimeout) => ResponseTemplate::new(200).set_body_json(json!({
                "data": null,
                "errors": [{ "message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug." }]
            })),
            Some(Fault::Slow) => {
                ResponseTemplate::new(200).set_body_json(self.page(offset, first)).set_delay(Duration::from_secs(3))
            }
            Some(Fault::NoPermission) => ResponseTemplate::new(403)
                .set_body_json(json!({ "message": "Resource not accessible by personal access token" })),
            Some(Fault::GraphqlRateLimited) => ResponseTemplate::new(200)
                .insert_header("x-ratelimit-reset", "0")
                .set_body_json(json!({ "errors": [{ "type": "RATE_LIMITED", "message": "API rate limit exceeded" }] })),
        }
    }
}

const CODEOWNERS: &str = "# owners\n* @acme/devs\n/docs/ docs@acme.test\n/ops/\n";

/// Deployments as GraphQL documents them: two to production (the second created by an Actions job
/// of run 2 that waited for a reviewer), one failed to staging, one still pending (left for the
/// next run).
fn deployments() -> Value {
    let node = |id: i64, env: &str, states: &[(&str, i64)]| {
        let created = base() + chrono::Duration::days(id);
        let log = (id == 2).then_some("https://github.com/acme/shop/actions/runs/2/job/21");
        json!({
            "databaseId": id, "environment": env, "createdAt": iso(created), "commitOid": format!("{id:040x}"),
            "creator": { "login": if id == 2 { "github-actions" } else { "deployer" } },
            "statuses": { "nodes": states.iter().map(|(s, m)| json!({ "state": s, "createdAt": iso(created + chrono::Duration::minutes(*m)), "logUrl": log })).collect::<Vec<_>>() }
        })
    };
    json!({ "data": { "rateLimit": { "cost": 1, "remaining": 4980, "resetAt": "2025-03-01T10:00:00Z" },
        "repository": { "deployments": {
            "pageInfo": { "hasNextPage": false, "endCursor": "d4" },
            "nodes": [
                node(4, "production", &[("PENDING", 1)]),
                node(3, "staging", &[("IN_PROGRESS", 1), ("ERROR", 4)]),
                node(2, "Production", &[("SUCCESS", 7), ("WAITING", 1), ("IN_PROGRESS", 4), ("INACTIVE", 900)]),
                node(1, "production", &[("IN_PROGRESS", 1), ("SUCCESS", 5)]),
            ]
        } } } })
}

fn incidents() -> Value {
    json!({ "data": { "repository": { "issues": {
        "pageInfo": { "hasNextPage": false, "endCursor": "i2" },
        "nodes": [
            { "number": 900, "title": "Checkout down", "body": "Started right after #2 went out.", "createdAt": "2025-03-05T10:00:00Z", "updatedAt": "2025-03-05T12:00:00Z",
              "closedAt": "2025-03-05T11:30:00Z", "labels": { "nodes": [{ "name": "incident" }, { "name": "sev1" }] },
              "assignees": { "nodes": [{ "login": "oncall" }] } },
            { "number": 901, "title": "Slow search", "body": "Suspect 00000000000000000000000000000000000007d1 (see run 12).", "createdAt": "2025-03-06T10:00:00Z", "updatedAt": "2025-03-06T10:00:00Z",
              "closedAt": null, "labels": { "nodes": [{ "name": "incident" }] }, "assignees": { "nodes": [] } }
        ]
    } } } })
}

/// Releases: three published (the last one puts back the first one's commit: a rollback), one
/// pre-release, one draft.
fn releases() -> Value {
    let node = |id: i64, draft: bool, pre: bool| {
        let commit = if id == 5 { 1 } else { id };
        let created = base() + chrono::Duration::days(id);
        json!({ "databaseId": id, "tagName": format!("v1.{id}"), "name": null, "createdAt": iso(created),
            "publishedAt": if draft { Value::Null } else { json!(iso(created + chrono::Duration::hours(1))) },
            "isDraft": draft, "isPrerelease": pre, "author": { "login": "releaser" }, "tagCommit": { "oid": format!("{commit:040x}") } })
    };
    json!({ "data": { "rateLimit": { "cost": 1, "remaining": 4960, "resetAt": "2025-03-01T10:00:00Z" },
        "repository": { "releases": { "totalCount": 5, "pageInfo": { "hasNextPage": false, "endCursor": "r5" },
            "nodes": [node(5, false, false), node(4, false, false), node(3, true, false), node(2, false, true), node(1, false, false)] } } } })
}

/// Environments with protection rules as the REST API documents them.
fn environments() -> Value {
    json!({ "total_count": 2, "environments": [
        { "id": 1, "name": "production", "protection_rules": [
            { "id": 10, "type": "wait_timer", "wait_timer": 30 },
            { "id": 11, "type": "required_reviewers", "prevent_self_review": false, "reviewers": [
                { "type": "User", "reviewer": { "login": "octocat" } },
                { "type": "Team", "reviewer": { "name": "Release Managers", "slug": "release-managers" } } ] } ] },
        { "id": 2, "name": "staging", "protection_rules": [{ "id": 12, "type": "branch_policy" }] }
    ] })
}

/// A REST answer with an ETag; 304 when the request carries the same ETag.
fn conditional(request: &Request, etag: &str, body: Value) -> ResponseTemplate {
    if request.headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag) {
        return ResponseTemplate::new(304).insert_header("etag", etag);
    }
    ResponseTemplate::new(200).insert_header("etag", etag).set_body_json(body)
}

const RUNS: i64 = 120;

/// The REST side: workflow runs in pages of 100 with `Link` headers, and each run's jobs.
fn rest(request: &Request, cut: bool) -> ResponseTemplate {
    let url = &request.url;
    // GitHub Enterprise serves REST under /api/v3.
    let (prefix, path) = match url.path().strip_prefix("/api/v3") {
        Some(rest) => ("/api/v3", rest),
        None => ("", url.path()),
    };
    if path == "/repos/acme/shop/environments" {
        return conditional(request, "\"env-v1\"", environments());
    }
    if path == "/repos/acme/shop/codeowners/errors" {
        return conditional(
            request,
            "\"owners-v1\"",
            json!({ "errors": [{ "line": 4, "column": 1, "kind": "Unknown owner",
            "source": "/ops/", "suggestion": null, "message": "Unknown owner on line 4", "path": "CODEOWNERS" }] }),
        );
    }
    if let Some(spec) = path.strip_prefix("/repos/acme/shop/compare/") {
        let url = format!("{}://{}{prefix}/repos/acme/shop/compare/{spec}", url.scheme(), url.authority());
        // Commits are numbered: a later one is ahead (shipping itself and its pull request's commit
        // n × 1000 + 1), an earlier one behind (a rollback ships nothing).
        let (base, head) = spec.split_once("...").unwrap();
        let (base, head) = (i64::from_str_radix(base, 16).unwrap(), i64::from_str_radix(head, 16).unwrap());
        let commits = if head > base {
            json!([{ "sha": format!("{:040x}", head * 1000 + 1) }, { "sha": format!("{head:040x}") }])
        } else {
            json!([])
        };
        let status = if head > base { "ahead" } else { "behind" };
        return ResponseTemplate::new(200).set_body_json(json!({ "url": url, "status": status,
            "ahead_by": commits.as_array().unwrap().len(), "commits": commits, "files": [],
            "total_commits": commits.as_array().unwrap().len() + if cut { 250 } else { 0 } }));
    }
    if path == "/repos/acme/shop/actions/runs/2/approvals" {
        return ResponseTemplate::new(200).set_body_json(json!([{ "state": "approved", "comment": "ship it",
            "environments": [{ "id": 1, "name": "production" }], "user": { "login": "octocat" } }]));
    }
    if let Some(rest) = path.strip_prefix("/repos/acme/shop/actions/runs/") {
        let id: i64 = rest.trim_end_matches("/jobs").parse().unwrap();
        let created = base() + chrono::Duration::hours(id);
        let jobs: Vec<Value> = (1..=2)
            .map(|j| json!({ "id": id * 10 + j, "run_id": id, "name": format!("job {j}"), "status": "completed",
                "conclusion": "success", "created_at": iso(created), "started_at": iso(created + chrono::Duration::minutes(j)),
                "completed_at": iso(created + chrono::Duration::minutes(5 * j)), "run_attempt": 1 + id % 2 }))
            .collect();
        return ResponseTemplate::new(200).set_body_json(json!({ "total_count": 2, "jobs": jobs }));
    }
    assert_eq!(path, "/repos/acme/shop/actions/runs", "unexpected GET {url}");
    let page: i64 = url.query_pairs().find(|(k, _)| k == "page").map_or(1, |(_, v)| v.parse().unwrap());
    let ids: Vec<i64> = (1..=RUNS).rev().skip(((page - 1) * 100) as usize).take(100).collect();
    let runs: Vec<Value> = ids
        .iter()
        .map(|&id| {
            let created = base() + chrono::Duration::hours(id);
            let running = id == RUNS;
            json!({ "id": id, "name": "deploy", "head_sha": format!("{id:040x}"), "head_branch": "main",
                "event": if id % 5 == 0 { "workflow_dispatch" } else { "push" },
                "status": if running { "in_progress" } else { "completed" },
                "conclusion": if running { Value::Null } else if id % 9 == 0 { json!("failure") } else { json!("success") },
                "actor": { "login": "dev" }, "triggering_actor": { "login": if id % 5 == 0 { "releaser" } else { "dev" } },
                "run_attempt": 1 + id % 2, "created_at": iso(created), "run_started_at": iso(created + chrono::Duration::minutes(1)),
                "updated_at": iso(created + chrono::Duration::minutes(12)) })
        })
        .collect();
    let mut response = ResponseTemplate::new(200)
        .insert_header("x-ratelimit-remaining", REST_LEFT)
        .insert_header("x-ratelimit-resource", "core")
        .set_body_json(json!({ "total_count": RUNS, "workflow_runs": runs }));
    if page * 100 < RUNS {
        let base_url = format!("{}://{}{prefix}", url.scheme(), url.authority());
        response = response.insert_header(
            "link",
            format!("<{base_url}/repos/acme/shop/actions/runs?per_page=100&page={}>; rel=\"next\", <{base_url}/repos/acme/shop/actions/runs?per_page=100&page=2>; rel=\"last\"", page + 1).as_str(),
        );
    }
    response
}

type Server = crate::helpers::FakeServer<FakeGithub>;

impl Server {
    fn request(&self) -> GithubRequest {
        let mut r = GithubRequest::new(REPO, Some(&self.server.uri()), Some(TOKEN.to_string()));
        r.resources = vec![Resource::PullRequests];
        r.pacing = Pacing { backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20), attempts: 4 };
        r
    }
}

fn cfg() -> Config {
    config("2025-01-01", "2026-01-01", "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n")
}

fn collect(dir: &Path, server: &Server) -> flowgauge::Result<github::GithubReport> {
    let mut ws = Workspace::open(dir).unwrap();
    github::collect_github(&mut ws, &cfg(), &server.request())
}

fn assert_same_tables(a: &Path, b: &Path) {
    let (wa, wb) = (Workspace::open(a).unwrap(), Workspace::open(b).unwrap());
    for table in TABLES {
        let (x, y) = (wa.load(table).unwrap(), wb.load(table).unwrap());
        assert!(x.height() > 0, "{} is empty", table.name);
        assert!(x.equals_missing(&y), "{} differs:\n{x}\n{y}", table.name);
    }
}

/// The fault-free run of `n` pull requests, into a fresh workspace.
fn reference(n: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(n));
    collect(dir.path(), &server).unwrap();
    dir
}

#[test]
fn pull_requests_come_in_pages_of_100_with_commits_reviews_and_first_responses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(250));
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!(server.requests(), 3, "250 pull requests with commits and reviews cost three requests");
    assert_eq!((report.pages, report.changes, report.change_commits), (3, 250, 500));
    assert_eq!(report.graphql_remaining, Some(4990));

    let ws = Workspace::open(dir.path()).unwrap();
    let changes = ws.load(&model::CHANGES).unwrap();
    assert_eq!(changes.height(), 250);
    let ids = changes.column("id").unwrap().str().unwrap();
    let i = (0..changes.height()).find(|&i| ids.get(i) == Some("github:pr:acme/shop#70")).unwrap();
    let row = changes.get_row(i).unwrap().0;
    let col = |name: &str| row[model::CHANGES.position(name).unwrap()].to_string();
    let created = base() + chrono::Duration::hours(70);
    let micros = |t: DateTime<Utc>| t.timestamp_micros();
    assert!(col("service").contains("shop"));
    assert!(
        col("first_commit_at").contains(&(created - chrono::Duration::hours(5)).format("%Y-%m-%d %H:%M").to_string())
    );
    // The author's own review and the bot's comment are not responses; the comment by `ops` 30
    // minutes in is.
    assert!(
        col("first_review_at")
            .contains(&(created + chrono::Duration::minutes(30)).format("%Y-%m-%d %H:%M").to_string())
    );
    assert!(col("approved_at").contains(&(created + chrono::Duration::hours(2)).format("%Y-%m-%d %H:%M").to_string()));
    assert_eq!(col("is_revert"), "true");
    assert!(col("labels").contains("bug,hotfix"));
    assert!(col("merge_commit_sha").contains(&format!("{:040x}", 70)));
    let _ = micros;

    // Reviews: two per pull request plus the first human comment by someone else.
    assert_eq!(ws.load(&model::REVIEWS).unwrap().height(), 750);
    // Every page is kept in the raw layer.
    let raw = dir.path().join("raw/github/acme/shop/pull_requests");
    assert_eq!(std::fs::read_dir(raw).unwrap().count(), 3);
}

#[test]
fn every_fault_ends_with_the_tables_of_the_fault_free_run() {
    let expected = reference(250);
    let cases: &[(&str, &[(usize, Fault)])] = &[
        ("429 with Retry-After", &[(2, Fault::TooManyRequests)]),
        ("secondary rate limit 403", &[(1, Fault::SecondaryLimit)]),
        ("502 twice", &[(2, Fault::BadGateway), (3, Fault::BadGateway)]),
        ("truncated JSON", &[(3, Fault::Truncated)]),
        ("page changed between calls", &[(2, Fault::Truncated), (3, Fault::Shifted)]),
        ("GraphQL RATE_LIMITED", &[(1, Fault::GraphqlRateLimited)]),
        ("GraphQL timeout", &[(3, Fault::GraphqlTimeout)]),
        (
            "query too heavy: pages halved",
            &[(2, Fault::BadGateway), (3, Fault::GraphqlTimeout), (5, Fault::BadGateway), (6, Fault::BadGateway)],
        ),
    ];
    for (name, faults) in cases {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(FakeGithub::new(250).with_faults(faults));
        let report = collect(dir.path(), &server).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.retries >= 1, "{name}: no retry");
        assert_same_tables(dir.path(), expected.path());
    }
}

#[test]
fn permanent_errors_say_what_to_fix_and_never_show_the_token() {
    let cases: &[(Fault, &str)] = &[
        (Fault::BadCredentials, "GITHUB_TOKEN"),
        (Fault::NoSuchRepo, "owner/name"),
        (Fault::NoPermission, "grant it read access"),
    ];
    for (fault, hint) in cases {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(FakeGithub::new(10).with_faults(&[(1, *fault)]));
        let message = collect(dir.path(), &server).unwrap_err().to_string();
        assert!(message.contains(hint), "{fault:?}: {message}");
        assert!(!message.contains(TOKEN));
        assert_eq!(server.requests(), 1, "{fault:?} is not retried");
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(10));
    let mut request = server.request();
    request.token = Some("wrong-token-value".into());
    let mut ws = Workspace::open(dir.path()).unwrap();
    let message = github::collect_github(&mut ws, &cfg(), &request).unwrap_err().to_string();
    assert!(message.contains("401") && message.contains("GITHUB_TOKEN"), "{message}");
    assert!(!message.contains("wrong-token-value"));
}

#[test]
fn an_interrupted_run_resumes_and_ends_like_an_uninterrupted_one() {
    let expected = reference(350);
    // Stopped after two of four pages, then a normal run: it continues from the third page.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(350));
    let mut request = server.request();
    request.stop_after_pages = Some(2);
    let mut ws = Workspace::open(dir.path()).unwrap();
    assert!(github::collect_github(&mut ws, &cfg(), &request).is_err());
    drop(ws);
    let report = collect(dir.path(), &server).unwrap();
    assert!(report.resumed);
    assert_eq!(server.requests(), 4, "the resumed run does not fetch the first two pages again");
    assert_same_tables(dir.path(), expected.path());

    // A run that dies on a page that keeps failing resumes the same way.
    let dir = tempfile::tempdir().unwrap();
    let faults: Vec<(usize, Fault)> = (2..=5).map(|c| (c, Fault::BadGateway)).collect();
    let server = Server::start(FakeGithub::new(350).with_faults(&faults));
    let message = collect(dir.path(), &server).unwrap_err().to_string();
    assert!(message.contains("resumes"), "{message}");
    collect(dir.path(), &server).unwrap();
    assert_same_tables(dir.path(), expected.path());
}

#[test]
fn a_second_run_reads_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(250));
    collect(dir.path(), &server).unwrap();
    {
        let mut prs = server.fake.prs.lock().unwrap();
        let later = base() + chrono::Duration::days(60);
        prs[4] = pull_request(5, later);
        prs[4]["title"] = json!("change 5, edited");
        prs.push(pull_request(251, later + chrono::Duration::hours(1)));
    }
    let before = server.requests();
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!(server.requests() - before, 1, "one page holds everything updated since the last run");
    assert!(!report.resumed);
    let ws = Workspace::open(dir.path()).unwrap();
    let changes = ws.load(&model::CHANGES).unwrap();
    assert_eq!(changes.height(), 251);
    let titles = changes.column("title").unwrap().str().unwrap();
    assert!((0..titles.len()).any(|i| titles.get(i) == Some("change 5, edited")));
}

#[test]
fn offline_re_extraction_from_the_raw_pages_equals_the_online_result() {
    let online = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(250).with_faults(&[(2, Fault::Shifted)]));
    collect(online.path(), &server).unwrap();

    let offline = tempfile::tempdir().unwrap();
    copy_dir(&online.path().join("raw"), &offline.path().join("raw"));
    let mut ws = Workspace::open(offline.path()).unwrap();
    let report = github::reextract(&mut ws, &cfg(), REPO).unwrap();
    assert_eq!(report.pages, 3);
    drop(ws);
    assert_same_tables(offline.path(), online.path());
}

#[test]
fn the_token_appears_nowhere_in_output_or_workspace() {
    let server = Server::start(FakeGithub::new(120).with_faults(&[(2, Fault::SecondaryLimit)]));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("flowgauge.toml");
    std::fs::write(
        &config,
        format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\ntype = \"github\"\nrepo = \"acme/shop\"\napi_url = \"{}\"\nmax_wait_seconds = 0\n",
            server.server.uri()
        ),
    )
    .unwrap();
    let run = |token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"))
            .args(["--verbose", "--workspace", "ws", "collect", "github"])
            .current_dir(dir.path())
            .env_remove("FLOWGAUGE_CONFIG")
            .env_remove("FLOWGAUGE_WORKSPACE")
            .env_remove("GH_TOKEN")
            .env("GITHUB_TOKEN", token)
            .output()
            .unwrap()
    };
    let ok = run(TOKEN);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("120 pull requests"), "{}", text(&ok.stderr));
    // Progress: one line per finished resource when standard error is not a terminal.
    assert!(text(&ok.stderr).contains("acme/shop pull_requests: 120/120 items, 2 pages"), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("acme/shop environments: 2/2 items"), "{}", text(&ok.stderr));
    // GitHub's two budgets, each named: GraphQL's from the last GraphQL answer, REST's from the
    // last REST one.
    assert!(
        text(&ok.stderr).contains("4970 GraphQL points and 4321 REST requests left this hour"),
        "{}",
        text(&ok.stderr)
    );
    let bad = run(&format!("{TOKEN}-revoked"));
    assert_eq!(bad.status.code(), Some(4));
    assert!(text(&bad.stderr).contains("GITHUB_TOKEN"), "{}", text(&bad.stderr));
    for out in [&ok.stdout, &ok.stderr, &bad.stdout, &bad.stderr] {
        assert!(!text(out).contains(TOKEN), "token in output: {}", text(out));
    }
    let mut stack = vec![dir.path().join("ws")];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).unwrap();
                assert!(!bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()), "token in {}", path.display());
            }
        }
    }
    assert!(files >= 5);
}

#[test]
fn workflow_runs_jobs_deployments_and_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(30));
    let mut request = server.request();
    request.resources = Resource::ALL.to_vec();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &cfg(), &request).unwrap();
    // 1 page of pull requests, 2 pages of runs (Link header), one jobs page per completed run,
    // 1 page of deployments, 1 of incidents, environments, CODEOWNERS and its errors, and one
    // compare of the two production deployments, and who approved the one that waited. Releases
    // are not asked for: the service's deployments come from the Deployments API.
    assert_eq!(report.requests as i64, 1 + 2 + (RUNS - 1) + 1 + 1 + 1 + 2 + 1 + 1);
    assert_eq!((report.not_modified, report.deployment_commits), (0, 2));

    let pipelines = ws.load(&model::PIPELINES).unwrap();
    assert_eq!(pipelines.height() as i64, RUNS);
    let col = |df: &polars::prelude::DataFrame, name: &str| {
        df.column(name).unwrap().cast(&polars::prelude::DataType::String).unwrap().str().unwrap().clone()
    };
    let (ids, trigger, by, status) =
        (col(&pipelines, "id"), col(&pipelines, "trigger"), col(&pipelines, "triggered_by"), col(&pipelines, "status"));
    let find = |id: &str| (0..ids.len()).find(|&i| ids.get(i) == Some(id)).unwrap();
    let manual = find("github:run:acme/shop:115");
    assert_eq!((trigger.get(manual), by.get(manual)), (Some("manual"), Some("releaser")));
    assert_eq!(status.get(find("github:run:acme/shop:120")), Some("running"));
    assert_eq!(status.get(find("github:run:acme/shop:117")), Some("failure"));
    assert_eq!(ws.load(&model::JOBS).unwrap().height() as i64, 2 * (RUNS - 1));

    let deployments = ws.load(&model::DEPLOYMENTS).unwrap();
    assert_eq!(deployments.height(), 3, "the pending deployment waits for the next run");
    let (env, prod, st) =
        (col(&deployments, "environment"), col(&deployments, "is_production"), col(&deployments, "status"));
    let rows: Vec<(Option<&str>, Option<&str>, Option<&str>)> =
        (0..3).map(|i| (env.get(i), prod.get(i), st.get(i))).collect();
    assert_eq!(
        rows,
        vec![
            (Some("production"), Some("true"), Some("success")),
            (Some("Production"), Some("true"), Some("success")),
            (Some("staging"), Some("false"), Some("failure"))
        ]
    );
    // Deployment 2 was created by run 2's job 21, which waited for a reviewer: manual, started by
    // the run's actor, and its approval wait is the job's created → started time (60 s), not the
    // WAITING → IN_PROGRESS statuses (180 s).
    let (manual, wait, by) =
        (col(&deployments, "is_manual"), col(&deployments, "approval_wait_seconds"), col(&deployments, "triggered_by"));
    let ids = col(&deployments, "id");
    let d2 = (0..3).find(|&i| ids.get(i) == Some("github:deployment:acme/shop:2")).unwrap();
    let d1 = (0..3).find(|&i| ids.get(i) == Some("github:deployment:acme/shop:1")).unwrap();
    assert_eq!((manual.get(d2), wait.get(d2), by.get(d2)), (Some("true"), Some("60.0"), Some("dev")));
    assert_eq!((manual.get(d1), wait.get(d1), by.get(d1)), (None, None, Some("deployer")), "no run, no claim");
    let approvals = ws.load(&model::APPROVALS).unwrap();
    assert_eq!(approvals.height(), 1);
    assert_eq!(col(&approvals, "subject_id").get(0), Some("github:deployment:acme/shop:2"));
    assert_eq!(col(&approvals, "state").get(0), Some("approved"));
    assert_eq!(col(&approvals, "approver").get(0), Some("octocat"), "from the run's approvals");
    // What deployment 2 shipped, from the compare of deployment 1's commit and its own.
    let shipped = ws.load(&model::DEPLOYMENT_COMMITS).unwrap();
    let pairs: Vec<(String, String)> = (0..shipped.height())
        .map(|i| (col(&shipped, "deployment_id").get(i).unwrap().into(), col(&shipped, "sha").get(i).unwrap().into()))
        .collect();
    let d2_id = "github:deployment:acme/shop:2".to_string();
    assert_eq!(pairs, vec![(d2_id.clone(), format!("{:040x}", 2)), (d2_id, format!("{:040x}", 2001))]);

    let incidents = ws.load(&model::INCIDENTS).unwrap();
    assert_eq!(incidents.height(), 2);
    assert_eq!(col(&incidents, "severity").get(0), Some("sev1"));
    assert_eq!(col(&incidents, "assignee").get(0), Some("oncall"));
    assert_eq!(col(&incidents, "caused_by_change_id").get(0), Some("github:pr:acme/shop#2"));
    assert_eq!(col(&incidents, "caused_by_sha").get(1), Some(format!("{:040x}", 2001).as_str()));

    // Settings: the production environment's reviewers are a manual step, its wait timer and
    // staging's branch policy practices; CODEOWNERS is a practice and GitHub's error a gap.
    let evidence = ws.load(&model::EVIDENCE).unwrap();
    let (kinds, categories, details) = (col(&evidence, "kind"), col(&evidence, "category"), col(&evidence, "detail"));
    let found: Vec<(String, String)> = (0..evidence.height())
        .map(|i| (kinds.get(i).unwrap().to_string(), categories.get(i).unwrap().to_string()))
        .collect();
    assert_eq!(
        found,
        [
            ("gap", "code owners error"),
            ("practice", "code owners"),
            ("manual_step", "approval"),
            ("practice", "wait timer"),
            ("practice", "deployment branch policy"),
        ]
        .map(|(k, c)| (k.to_string(), c.to_string()))
    );
    assert!(details.get(2).unwrap().contains("@octocat, team release-managers"), "{:?}", details.get(2));
    assert_eq!(details.get(1), Some("CODEOWNERS: 2 rules naming 2 owners"));
    drop(ws);

    // The next run asks for runs created since the running one, and reads the pending deployment again.
    let before = server.requests();
    let mut ws = Workspace::open(dir.path()).unwrap();
    github::collect_github(&mut ws, &cfg(), &request).unwrap();
    let urls = server.runtime.block_on(server.server.received_requests()).unwrap();
    let runs_call = urls[before..].iter().find(|r| r.url.path() == "/repos/acme/shop/actions/runs").unwrap();
    // Run 120, still running, was created 120 hours after the base: the range starts there.
    assert!(runs_call.url.query().unwrap_or("").contains("created=2025-03-06T09:00:00Z.."), "{}", runs_call.url);
    assert!(
        !urls[before..].iter().any(|r| r.url.path().ends_with("/jobs")),
        "jobs already read are not asked for again"
    );
    assert!(!urls[before..].iter().any(|r| r.url.path().contains("/compare/")), "a pair is compared once");
    assert!(!urls[before..].iter().any(|r| r.url.path().ends_with("/approvals")), "a decision is asked for once");
    let conditional = urls[before..].iter().filter(|r| r.headers.contains_key("if-none-match")).count();
    assert_eq!(conditional, 2, "environments and CODEOWNERS errors are asked for conditionally");
    drop(ws);

    // Offline re-extraction of every resource equals the online tables.
    let offline = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("raw"), &offline.path().join("raw"));
    let mut ws = Workspace::open(offline.path()).unwrap();
    github::reextract(&mut ws, &cfg(), REPO).unwrap();
    drop(ws);
    let (a, b) = (Workspace::open(dir.path()).unwrap(), Workspace::open(offline.path()).unwrap());
    for table in [
        &model::PIPELINES,
        &model::JOBS,
        &model::DEPLOYMENTS,
        &model::INCIDENTS,
        &model::CHANGES,
        &model::APPROVALS,
        &model::DEPLOYMENT_COMMITS,
        &model::EVIDENCE,
    ] {
        assert!(a.load(table).unwrap().equals_missing(&b.load(table).unwrap()), "{}", table.name);
    }
}

#[test]
fn a_connection_reset_is_retried_and_ends_with_the_same_tables() {
    let expected = reference(250);
    let server = Server::start(FakeGithub::new(250));
    let proxy = crate::helpers::flaky_proxy(&server.server.uri(), 1);
    let mut request = server.request();
    request.api_url = proxy;
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &cfg(), &request).unwrap();
    drop(ws);
    assert!(report.retries >= 1);
    assert_same_tables(dir.path(), expected.path());
}

#[test]
fn a_thousand_pull_requests_cost_ten_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(1000));
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!((server.requests(), report.changes, report.change_commits), (10, 1000, 2000));
}

#[test]
fn a_run_killed_mid_way_resumes_with_the_same_tables() {
    let expected = reference(250);
    let server = Server::start(FakeGithub::new(250).with_faults(&[(2, Fault::Slow)]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flowgauge.toml"),
        format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n\n[[sources]]\ntype = \"github\"\nrepo = \"acme/shop\"\napi_url = \"{}\"\nmax_wait_seconds = 0\n",
            server.server.uri()
        ),
    )
    .unwrap();
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"));
        c.args(["--workspace", "ws", "collect", "github"])
            .current_dir(dir.path())
            .env_remove("FLOWGAUGE_CONFIG")
            .env_remove("FLOWGAUGE_WORKSPACE")
            .env_remove("GH_TOKEN")
            .env("GITHUB_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let mut child = command().spawn().unwrap();
    let manifest = dir.path().join("ws/manifest.json");
    let started = std::time::Instant::now();
    // Wait until the first page is stored and the run's cursor recorded, then kill -9 while the
    // second page is on its way.
    while !std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("github:acme/shop:pull_requests")) {
        assert!(started.elapsed() < Duration::from_secs(30), "the first page never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = command().status().unwrap();
    assert!(resumed.success());
    assert_same_tables(&dir.path().join("ws"), expected.path());
    // Page 1 from the killed run, pages 2 and 3 from the resumed one: nothing was read twice.
    let raw = dir.path().join("ws/raw/github/acme/shop/pull_requests");
    assert_eq!(
        std::fs::read_dir(raw)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count(),
        3
    );
}

#[test]
fn github_enterprise_serves_rest_under_api_v3_and_graphql_at_api_graphql() {
    let server = Server::start(FakeGithub::new(30));
    let mut request = server.request();
    request.api_url = format!("{}/api/v3", server.server.uri());
    request.resources = Resource::ALL.to_vec();
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    github::collect_github(&mut ws, &cfg(), &request).unwrap();
    assert_eq!(ws.load(&model::PIPELINES).unwrap().height() as i64, RUNS);
    let requests = server.runtime.block_on(server.server.received_requests()).unwrap();
    for r in &requests {
        let path = r.url.path();
        match r.method.as_str() {
            "POST" => assert_eq!(path, "/api/graphql"),
            _ => assert!(path.starts_with("/api/v3/repos/acme/shop/"), "{path}"),
        }
    }
    // Both pages of runs were read through the Link header, under /api/v3.
    assert!(requests.iter().any(|r| r.url.query().unwrap_or("").contains("page=2")));
}

#[test]
fn github_sources_are_validated() {
    let base = "[[services]]\nname = \"shop\"\n\n[[sources]]\ntype = \"github\"\n";
    for (extra, key) in [
        ("", "sources[0].repo"),
        ("repo = \"shop\"\n", "sources[0].repo"),
        ("repo = \"acme/shop\"\napi_url = \"ftp://x\"\n", "sources[0].api_url"),
        ("repo = \"acme/shop\"\nincident_labels = []\n", "sources[0].incident_labels"),
        ("repo = \"acme/shop\"\njobs = \"some\"\n", "sources[0].jobs"),
    ] {
        let text = format!("[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n{base}{extra}");
        let error = Config::from_toml(&text, crate::helpers::now()).unwrap_err().to_string();
        assert!(error.contains(key), "{extra:?}: {error}");
    }
    let text = format!(
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n{base}repo = \"acme/shop\"\nincident_labels = [\"outage\"]\n"
    );
    let config = Config::from_toml(&text, crate::helpers::now()).unwrap();
    match &config.sources[0] {
        flowgauge::config::Source::Github(g) => {
            assert_eq!(
                (g.repo.as_str(), g.incident_labels.clone(), g.api_url.clone()),
                ("acme/shop", vec!["outage".to_string()], None)
            );
        }
        _ => panic!("not a github source"),
    }
    // How a service deploys is validated with the service.
    for (service, key, says) in [
        ("deployments_from = \"tags\"\n", "services[0].deployments_from", "\"releases\""),
        ("deploy_workflows = [\"\"]\n", "services[0].deploy_workflows[0]", "must not be empty"),
        ("deploy_workflows = [\"deploy[\"]\n", "services[0].deploy_workflows[0]", ""),
    ] {
        let text = format!(
            "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"shop\"\n{service}"
        );
        let error = Config::from_toml(&text, crate::helpers::now()).unwrap_err().to_string();
        assert!(error.contains(key) && error.contains(says), "{service:?}: {error}");
    }
}

#[test]
fn a_query_too_heavy_for_github_is_asked_in_smaller_pages() {
    let server = Server::start(FakeGithub::new(250).with_faults(&[(1, Fault::BadGateway), (2, Fault::BadGateway)]));
    let dir = tempfile::tempdir().unwrap();
    let report = collect(dir.path(), &server).unwrap();
    assert_eq!(report.changes, 250);
    let sizes: Vec<u64> = server
        .runtime
        .block_on(server.server.received_requests())
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["variables"]["first"].as_u64().unwrap())
        .collect();
    // Two 502s in a row: the third attempt and every later page ask for 50.
    assert_eq!(sizes, vec![100, 100, 50, 50, 50, 50, 50]);
    assert_same_tables(dir.path(), reference(250).path());
}

fn cfg_deploying_by(signal: &str) -> Config {
    config(
        "2025-01-01",
        "2026-01-01",
        &format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\ndeployments_from = \"{signal}\"\ndeploy_workflows = [\"Deploy*\"]\n"
        ),
    )
}

#[test]
fn releases_stand_in_for_deployments_when_the_service_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(3));
    let mut request = server.request();
    request.resources = vec![Resource::Deployments, Resource::Releases, Resource::DeploymentCommits];
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &cfg_deploying_by("releases"), &request).unwrap();
    let bodies = server.runtime.block_on(server.server.received_requests()).unwrap();
    assert!(
        !bodies.iter().any(|r| String::from_utf8_lossy(&r.body).contains("deployments(")),
        "the Deployments API is not read for a service deploying by releases"
    );
    // One page of releases, and two compares: v1.1 → v1.4, v1.4 → v1.5 (which is v1.1 again).
    assert_eq!(report.requests, 3);
    let d = ws.load(&model::DEPLOYMENTS).unwrap();
    let col =
        |name: &str| d.column(name).unwrap().cast(&polars::prelude::DataType::String).unwrap().str().unwrap().clone();
    let ids = col("id");
    let envs = col("environment");
    let prod = col("is_production");
    let got: Vec<(String, String, String)> = (0..d.height())
        .map(|i| (ids.get(i).unwrap().into(), envs.get(i).unwrap().into(), prod.get(i).unwrap().into()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("github:release:acme/shop:1".into(), "production".into(), "true".into()),
            ("github:release:acme/shop:2".into(), "prerelease".into(), "false".into()),
            ("github:release:acme/shop:4".into(), "production".into(), "true".into()),
            ("github:release:acme/shop:5".into(), "production".into(), "true".into()),
        ],
        "the draft is not a deployment"
    );
    assert_eq!(col("sha").get(0), Some(format!("{:040x}", 1).as_str()));
    assert_eq!(col("is_manual").get(0), Some("true"), "published by a person");
    let rollback = col("is_rollback");
    assert_eq!((rollback.get(2), rollback.get(3)), (None, Some("true")), "v1.5 puts v1.1's commit back");
    let shipped = ws.load(&model::DEPLOYMENT_COMMITS).unwrap();
    let owners: Vec<&str> = shipped.column("deployment_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(owners, vec!["github:release:acme/shop:4"; 2], "v1.4 shipped two commits; the rollback none");
}

#[test]
fn deploy_workflow_runs_stand_in_for_deployments_when_the_service_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(3));
    let mut request = server.request();
    request.resources = vec![Resource::WorkflowRuns, Resource::Deployments];
    let mut ws = Workspace::open(dir.path()).unwrap();
    github::collect_github(&mut ws, &cfg_deploying_by("actions"), &request).unwrap();
    let d = ws.load(&model::DEPLOYMENTS).unwrap();
    // Every finished run of the "deploy" workflow (matched by `Deploy*`, case-insensitively); the
    // running one is not a deployment yet.
    assert_eq!(d.height() as i64, RUNS - 1);
    let col =
        |name: &str| d.column(name).unwrap().cast(&polars::prelude::DataType::String).unwrap().str().unwrap().clone();
    let ids = col("id");
    let at = |id: &str| (0..d.height()).find(|&i| ids.get(i) == Some(id)).unwrap();
    let manual = at("github:actions-deployment:acme/shop:115");
    assert_eq!((col("is_manual").get(manual), col("triggered_by").get(manual)), (Some("true"), Some("releaser")));
    assert_eq!(col("status").get(at("github:actions-deployment:acme/shop:117")), Some("failure"));
    assert_eq!(col("environment").get(manual), Some("production"));
}

#[test]
fn unchanged_settings_cost_nothing_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(3));
    let mut request = server.request();
    request.resources = vec![Resource::Environments, Resource::Codeowners];
    let mut ws = Workspace::open(dir.path()).unwrap();
    let first = github::collect_github(&mut ws, &cfg(), &request).unwrap();
    assert_eq!((first.requests, first.not_modified, first.evidence), (3, 0, 5));
    let second = github::collect_github(&mut ws, &cfg(), &request).unwrap();
    assert_eq!((second.requests, second.not_modified), (3, 2), "both REST answers are 304");
    assert_eq!(ws.load(&model::EVIDENCE).unwrap().height(), 5, "the rows stay as they were");
}

/// Every table the GitHub source writes.
const ALL_TABLES: [&TableSchema; 10] = [
    &model::CHANGES,
    &model::CHANGE_COMMITS,
    &model::REVIEWS,
    &model::PIPELINES,
    &model::JOBS,
    &model::DEPLOYMENTS,
    &model::DEPLOYMENT_COMMITS,
    &model::INCIDENTS,
    &model::APPROVALS,
    &model::EVIDENCE,
];

fn collect_everything(
    dir: &Path,
    server: &Server,
    stop_after_pages: Option<usize>,
) -> flowgauge::Result<github::GithubReport> {
    let mut request = server.request();
    request.resources = Resource::ALL.to_vec();
    request.stop_after_pages = stop_after_pages;
    let mut ws = Workspace::open(dir).unwrap();
    github::collect_github(&mut ws, &cfg(), &request)
}

fn assert_same_everything(a: &Path, b: &Path, what: &str) {
    let (wa, wb) = (Workspace::open(a).unwrap(), Workspace::open(b).unwrap());
    for table in ALL_TABLES {
        let (x, y) = (wa.load(table).unwrap(), wb.load(table).unwrap());
        assert!(x.height() > 0, "{what}: {} is empty", table.name);
        assert!(x.equals_missing(&y), "{what}: {} differs:\n{x}\n{y}", table.name);
    }
}

#[test]
fn every_resource_survives_faults_and_interruptions_with_the_same_tables() {
    let expected = tempfile::tempdir().unwrap();
    collect_everything(expected.path(), &Server::start(FakeGithub::new(30)), None).unwrap();

    // Faults on REST and GraphQL calls of every kind: the runs list (2), a jobs page (50), and the
    // calls after the jobs (deployments, incidents, settings, compare, shifted by the retries).
    let faults = [
        (2, Fault::BadGateway),
        (50, Fault::TooManyRequests),
        (125, Fault::SecondaryLimit),
        (127, Fault::BadGateway),
        (129, Fault::TooManyRequests),
        (131, Fault::BadGateway),
    ];
    let dir = tempfile::tempdir().unwrap();
    let report =
        collect_everything(dir.path(), &Server::start(FakeGithub::new(30).with_faults(&faults)), None).unwrap();
    assert_eq!(report.retries, 6);
    assert_same_everything(dir.path(), expected.path(), "faults");

    // A run stopped after any number of pages, then a run to the end.
    for stop in 0..=10 {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(FakeGithub::new(30));
        let _ = collect_everything(dir.path(), &server, Some(stop));
        collect_everything(dir.path(), &server, None).unwrap_or_else(|e| panic!("after {stop} pages: {e}"));
        assert_same_everything(dir.path(), expected.path(), &format!("stopped after {stop} pages"));
    }
}

#[test]
fn the_report_shows_what_github_settings_and_deployments_say() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(FakeGithub::new(30));
    collect_everything(&dir.path().join("ws"), &server, None).unwrap();
    std::fs::write(
        dir.path().join("flowgauge.toml"),
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n\n[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n",
    )
    .unwrap();
    let out =
        crate::helpers::flowgauge(dir.path(), &["--workspace", "ws", "report", "--format", "json", "--out", "r.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    for expected in [
        "deployments to `production` wait for approval by @octocat, team release-managers",
        "GitHub reports: Unknown owner in `/ops/`",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
}

#[test]
fn jobs_are_read_for_deploy_workflows_unless_all_are_asked_for() {
    let server = Server::start(FakeGithub::new(3));
    let only_releases = config(
        "2025-01-01",
        "2026-01-01",
        "[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\ndeploy_workflows = [\"release*\"]\n",
    );
    let mut request = server.request();
    request.resources = vec![Resource::WorkflowRuns];
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &only_releases, &request).unwrap();
    assert_eq!(report.requests, 2, "two pages of runs; no run is of a deploy workflow, so no jobs");
    assert_eq!(ws.load(&model::JOBS).unwrap().height(), 0);

    request.all_jobs = true;
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &only_releases, &request).unwrap();
    assert_eq!(report.requests as i64, 2 + RUNS - 1, "every finished run's jobs");
}

/// A fake GitHub listing workflow runs as GitHub does: filtered by `created` (`>=FROM` or
/// `FROM..TO`), newest first, in pages of `per_page` — and, for a filtered query, no more than
/// `cap` of them, while `total_count` still counts every match. Its REST answers say how many
/// `core` requests are left.
struct CappedRuns {
    created: Mutex<Vec<DateTime<Utc>>>,
    cap: AtomicUsize,
}

const REST_LEFT: &str = "4321";

impl CappedRuns {
    fn add(&self, n: usize, first: DateTime<Utc>, every: chrono::Duration) {
        let mut created = self.created.lock().unwrap();
        created.extend((0..n).map(|i| first + every * i as i32));
    }
}

fn created_filter(filter: &str) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
    match filter.strip_prefix(">=") {
        Some(from) => (at(from), DateTime::<Utc>::MAX_UTC),
        None => {
            let (from, to) = filter.split_once("..").unwrap();
            (at(from), at(to))
        }
    }
}

impl Respond for &'static CappedRuns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let url = &request.url;
        assert_eq!(url.path(), "/repos/acme/shop/actions/runs", "unexpected GET {url}");
        let query: HashMap<String, String> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let per_page: usize = query.get("per_page").map_or(30, |v| v.parse().unwrap());
        let page: usize = query.get("page").map_or(1, |v| v.parse().unwrap());
        let filter = query.get("created").map(|f| created_filter(f));
        let mut matching: Vec<(usize, DateTime<Utc>)> = self
            .created
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, t)| (i + 1, *t))
            .filter(|(_, t)| filter.is_none_or(|(from, to)| (from..=to).contains(t)))
            .collect();
        matching.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        let cap = self.cap.load(Ordering::SeqCst);
        let listed = if filter.is_some() { matching.len().min(cap) } else { matching.len() };
        let end = (page * per_page).min(listed);
        let runs: Vec<Value> = matching[((page - 1) * per_page).min(end)..end]
            .iter()
            .map(|(id, created)| {
                json!({ "id": id, "name": "CI", "head_sha": format!("{id:040x}"), "head_branch": "main", "event": "push",
                    "status": "completed", "conclusion": "success", "actor": { "login": "dev" },
                    "triggering_actor": { "login": "dev" }, "run_attempt": 1, "created_at": iso(*created),
                    "run_started_at": iso(*created), "updated_at": iso(*created + chrono::Duration::minutes(5)) })
            })
            .collect();
        let mut response = ResponseTemplate::new(200)
            .insert_header("x-ratelimit-remaining", REST_LEFT)
            .insert_header("x-ratelimit-resource", "core")
            .set_body_json(json!({ "total_count": matching.len(), "workflow_runs": runs }));
        if end < listed {
            let mut next = url.clone();
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .chain([("page".to_string(), (page + 1).to_string())])
                .collect();
            next.query_pairs_mut().clear().extend_pairs(pairs);
            response = response.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
        }
        response
    }
}

struct RunsServer {
    _runtime: tokio::runtime::Runtime,
    server: MockServer,
    fake: &'static CappedRuns,
}

impl RunsServer {
    /// GitHub's own cap: 1,000 runs per filtered query.
    fn start(cap: usize) -> RunsServer {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fake: &'static CappedRuns =
            Box::leak(Box::new(CappedRuns { created: Mutex::new(Vec::new()), cap: AtomicUsize::new(cap) }));
        let server = runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(any()).respond_with(fake).mount(&server).await;
            server
        });
        RunsServer { _runtime: runtime, server, fake }
    }

    fn collect(&self, dir: &Path) -> flowgauge::Result<github::GithubReport> {
        let mut request = GithubRequest::new(REPO, Some(&self.server.uri()), Some(TOKEN.to_string()));
        request.resources = vec![Resource::WorkflowRuns];
        request.pacing = Pacing { backoff: Duration::from_millis(1), max_wait: Duration::from_millis(20), attempts: 2 };
        let mut ws = Workspace::open(dir).unwrap();
        github::collect_github(&mut ws, &cfg(), &request)
    }
}

fn pipelines(dir: &Path) -> usize {
    Workspace::open(dir).unwrap().load(&model::PIPELINES).unwrap().height()
}

/// The workflow runs' high-water mark in the manifest.
fn runs_high_water(dir: &Path) -> Option<String> {
    let ws = Workspace::open(dir).unwrap();
    let cursor = &ws.manifest().sources["github:acme/shop:workflow_runs"].cursor;
    serde_json::from_str::<Value>(cursor).unwrap()["high_water"].as_str().map(str::to_string)
}

#[test]
fn workflow_runs_beyond_the_1000_github_lists_per_query_are_all_read() {
    assert_eq!(github::RUNS_PER_QUERY, 1000, "GitHub's documented cap");
    let server = RunsServer::start(1000);
    server.fake.add(10, base(), chrono::Duration::hours(1));
    let dir = tempfile::tempdir().unwrap();
    server.collect(dir.path()).unwrap();
    assert_eq!(pipelines(dir.path()), 10);
    // 1,256 runs created since the last collection: more than GitHub lists for one `created` query.
    server.fake.add(1256, base() + chrono::Duration::days(30), chrono::Duration::minutes(7));
    let report = server.collect(dir.path()).unwrap();
    assert_eq!(pipelines(dir.path()), 10 + 1256, "no run is lost");
    assert!(report.pages >= 14, "1,256 runs and the last collection's newest, in pages of 100");
    // No listing was asked for a range GitHub would not list whole: each filtered request that
    // read runs matched at most 1,000.
    let created = server.fake.created.lock().unwrap().clone();
    for r in server._runtime.block_on(server.server.received_requests()).unwrap() {
        let filter = r.url.query_pairs().find(|(k, _)| k == "created").map(|(_, v)| created_filter(&v));
        let (from, to) = filter.expect("every listing is bounded by creation time");
        let matched = created.iter().filter(|t| (from..=to).contains(t)).count();
        let page: usize = r.url.query_pairs().find(|(k, _)| k == "page").map_or(1, |(_, v)| v.parse().unwrap());
        assert!(matched <= 1000 || page == 1, "page {page} of a range of {matched} runs");
    }
    let newest = iso(base() + chrono::Duration::days(30) + chrono::Duration::minutes(7 * 1255));
    assert_eq!(runs_high_water(dir.path()).as_deref().map(|h| h.starts_with(&newest[..19])), Some(true));
}

#[test]
fn a_listing_that_returns_fewer_runs_than_it_reports_is_an_error_and_the_cursor_stays() {
    // A server that stops at 300 runs per query, fewer than the 1,000 GitHub documents.
    let server = RunsServer::start(300);
    server.fake.add(10, base(), chrono::Duration::hours(1));
    let dir = tempfile::tempdir().unwrap();
    server.collect(dir.path()).unwrap();
    let before = runs_high_water(dir.path());
    assert!(before.is_some());
    server.fake.add(1256, base() + chrono::Duration::days(30), chrono::Duration::minutes(7));
    let mut errors = 0;
    loop {
        match server.collect(dir.path()) {
            Ok(_) => break,
            Err(e) => {
                errors += 1;
                let message = e.to_string();
                assert!(message.contains("GitHub listed 300 of the"), "{message}");
                assert!(message.contains("lists that range again"), "{message}");
                assert_eq!(runs_high_water(dir.path()), before, "the cursor is not moved past runs never read");
                assert!(errors < 20, "the ranges never got small enough");
            }
        }
    }
    assert!(errors >= 1, "the truncated listing was not noticed");
    // Each failed listing was asked again in halves, until every part fit.
    assert_eq!(pipelines(dir.path()), 10 + 1256);
    assert_ne!(runs_high_water(dir.path()), before);
}

#[test]
fn graphql_points_and_rest_requests_left_are_counted_apart() {
    // Pull requests over GraphQL (4,990 points left), then workflow runs over REST (4,321 requests
    // left): the REST answer must not overwrite the GraphQL budget.
    let server = Server::start(FakeGithub::new(30));
    let mut request = server.request();
    request.resources = vec![Resource::PullRequests, Resource::WorkflowRuns];
    /// (GraphQL points, REST requests) left, after each page.
    type Left = (Option<u64>, Option<u64>);
    let seen: std::sync::Arc<Mutex<Vec<Left>>> = Default::default();
    let sink = seen.clone();
    request.progress = Some(github::ProgressSink(std::sync::Arc::new(move |p: &github::Progress| {
        sink.lock().unwrap().push((p.graphql_remaining, p.rest_remaining));
    })));
    let dir = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(dir.path()).unwrap();
    let report = github::collect_github(&mut ws, &cfg(), &request).unwrap();
    assert_eq!((report.graphql_remaining, report.rest_remaining), (Some(4990), Some(4321)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first(), Some(&(Some(4990), None)), "after the first GraphQL page");
    assert_eq!(seen.last(), Some(&(Some(4990), Some(4321))), "after the REST pages");
}

#[test]
fn reviews_and_comments_whose_32_bit_id_is_null_keep_their_64_bit_id() {
    let server = Server::start(FakeGithub::new(3));
    {
        // GitHub's answer for ids past 2³¹: `databaseId` null, `fullDatabaseId` a string.
        let mut prs = server.fake.prs.lock().unwrap();
        for (list, id) in [("reviews", "3000000001"), ("comments", "3000000002")] {
            let node = &mut prs[0][list]["nodes"][1];
            node["databaseId"] = Value::Null;
            node["fullDatabaseId"] = json!(id);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    collect(dir.path(), &server).unwrap();
    let query = server.runtime.block_on(server.server.received_requests()).unwrap()[0].body.clone();
    let query = serde_json::from_slice::<Value>(&query).unwrap()["query"].as_str().unwrap().to_string();
    assert!(query.contains("nodes { fullDatabaseId author"), "the query asks for the 64-bit id: {query}");
    let ws = Workspace::open(dir.path()).unwrap();
    let reviews = ws.load(&model::REVIEWS).unwrap();
    let ids: Vec<&str> = reviews.column("id").unwrap().str().unwrap().iter().flatten().collect();
    assert!(ids.contains(&"github:review:acme/shop#1:3000000001"), "{ids:?}");
    assert!(ids.contains(&"github:comment:acme/shop#1:3000000002"), "{ids:?}");
    assert!(ids.contains(&"github:review:acme/shop#1:11"), "an older page's `databaseId` still names its review");
    assert_eq!(ids.len(), 9, "three rows for each of three pull requests");
}

#[test]
fn listings_github_cut_short_are_data_warnings_of_their_source_until_read_whole() {
    let server = Server::start(FakeGithub::new(30));
    server.fake.cut.store(true, Ordering::SeqCst);
    server.fake.prs.lock().unwrap()[0]["commits"]["totalCount"] = json!(150);
    let dir = tempfile::tempdir().unwrap();
    let report = collect_everything(dir.path(), &server, None).unwrap();
    let warning = |source: &str| {
        let ws = Workspace::open(dir.path()).unwrap();
        let warnings = ws.manifest().sources.get(source).map(|s| s.warnings.clone()).unwrap_or_default();
        assert!(warnings.len() <= 1, "{source}: {warnings:?}");
        warnings.into_iter().next()
    };
    let prs = warning("github:acme/shop:pull_requests").expect("the pull request's commits were cut");
    assert_eq!((prs.kind.as_str(), prs.source.as_str()), ("truncated-listing", "github:acme/shop:pull_requests"));
    assert!(prs.message.contains("github:pr:acme/shop#1: 150 commits, first 2 read"), "{}", prs.message);
    assert_eq!(prs.affects, ["change-failure-rate", "lead-time", "rework-rate"]);
    let deployments = warning("github:acme/shop:deployments").expect("deployment 1's statuses were cut");
    assert!(deployments.message.contains("github:deployment:acme/shop:1: 25 statuses, first 2 read"));
    assert!(deployments.affects.contains(&"deployment-frequency".to_string()));
    let compare = warning("github:acme/shop:compare").expect("the compare was cut");
    assert!(compare.message.contains("lists 2 of its 252 commits"), "{}", compare.message);
    assert!(compare.affects.contains(&"time-to-restore".to_string()), "{:?}", compare.affects);
    assert_eq!(report.data_warnings.len(), 3, "{:?}", report.data_warnings);

    // The same pages read offline show the same cuts.
    let offline = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("raw"), &offline.path().join("raw"));
    let mut ws = Workspace::open(offline.path()).unwrap();
    let again = github::reextract(&mut ws, &cfg(), REPO).unwrap();
    let messages: Vec<&str> = again.data_warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(again.data_warnings.len(), 3, "{messages:?}");
    assert!(again.data_warnings.iter().all(|w| w.source == "github:acme/shop"));
    drop(ws);

    // Read whole again, an item loses its warning; a kept compare is what the data still is.
    server.fake.cut.store(false, Ordering::SeqCst);
    server.fake.prs.lock().unwrap()[0] = pull_request(1, base() + chrono::Duration::days(90));
    collect_everything(dir.path(), &server, None).unwrap();
    assert_eq!(warning("github:acme/shop:pull_requests"), None);
    assert_eq!(warning("github:acme/shop:deployments"), None);
    assert!(warning("github:acme/shop:compare").is_some());
}

#[test]
fn a_single_second_listed_short_is_a_data_warning_not_an_endless_error() {
    // 400 runs created in the same second, and a server that lists at most 300 per query: no split
    // can help, so after halving down to that second the loss is recorded and collection goes on.
    let server = RunsServer::start(300);
    server.fake.add(400, base(), chrono::Duration::zero());
    let dir = tempfile::tempdir().unwrap();
    let mut errors = 0;
    while let Err(e) = server.collect(dir.path()) {
        errors += 1;
        assert!(e.to_string().contains("lists that range again"), "{e}");
        assert!(errors < 64, "collection never got past the second GitHub lists short");
    }
    assert!(errors >= 1, "the short listing was not noticed");
    assert_eq!(pipelines(dir.path()), 300, "what GitHub listed is kept");
    let ws = Workspace::open(dir.path()).unwrap();
    let warnings = &ws.manifest().sources["github:acme/shop:workflow_runs"].warnings;
    assert!(
        warnings.iter().any(|w| w.kind == "truncated-listing" && w.message.contains("300 of the 400")),
        "{warnings:?}"
    );
    // The next collection is not blocked by it, nor asks for that second again, and keeps the warning.
    drop(ws);
    server.collect(dir.path()).unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    assert!(
        ws.manifest().sources["github:acme/shop:workflow_runs"].warnings.iter().any(|w| w.kind == "truncated-listing")
    );
}
