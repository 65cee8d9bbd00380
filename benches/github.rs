//! Benchmark: the GitHub collector against a local fake GitHub holding a generated repository, beside
//! the one-request-per-pull-request REST approach it replaces (issue 5's performance requirement).
//!
//! Why it exists: what makes a GitHub collector slow on a real repository is the number of round
//! trips, not the CPU, so the figures that matter are requests per 1,000 pull requests and the wall
//! time once every request pays a realistic latency. Target: ≤ 30 requests per 1,000 pull requests
//! for pull requests with their reviews and commits. Nothing is asserted: the figures and the
//! baseline are printed side by side, with PASS/MISS against the target.
//!
//! `cargo bench --bench github [-- --prs N --latency-ms N --baseline-prs N --runs N --deployments N
//! --incidents N]`, or the environment variables `FLOWGAUGE_BENCH_PRS`, `FLOWGAUGE_BENCH_LATENCY_MS`,
//! `FLOWGAUGE_BENCH_BASELINE_PRS`, `FLOWGAUGE_BENCH_RUNS`, `FLOWGAUGE_BENCH_DEPLOYMENTS`,
//! `FLOWGAUGE_BENCH_INCIDENTS` (flags win). Defaults: 5,000 merged pull requests, 50 ms added to
//! every response, a baseline measured on the first 300 pull requests and extrapolated, one workflow
//! run per pull request (every fifth a run of the `deploy` workflow, whose jobs flowgauge reads), one
//! deployment per five, 12 incidents. The full default run takes a few minutes: about one for the
//! deploy runs' jobs (one request per run), one for the compares of consecutive production
//! deployments (one request each), under one for the baseline.
//! `--runs 0` leaves the workflow runs out for a quick look at the pull-request figures.
//!
//! The fake (a wiremock server) speaks GitHub's documented shapes:
//! - `POST /graphql`: the `pullRequests`, `deployments` and `issues` connections of the repository
//!   and the CODEOWNERS query (a file at `.github/CODEOWNERS`),
//!   paged by `variables.first` (≤ 100) and `variables.after` with `pageInfo { hasNextPage
//!   endCursor }` and `rateLimit { cost remaining resetAt }`. Issues are served only for the label
//!   `incident`. Any other connection under `repository` answers an empty page (`nodes: []`,
//!   `hasNextPage: false`); a query without `repository` answers `{"data": {}}`.
//! - REST, under `/repos/acme/shop` and `/repositories/{id}` (GitHub's `Link` targets use the
//!   latter): `actions/runs` and `actions/runs/{id}/jobs` in pages of `per_page` (default 30, at most
//!   100) with `Link: <…>; rel="next", <…>; rel="last"` as GitHub writes it — `actions/runs` filtered
//!   by `created=FROM..TO` lists at most 1,000 runs, as GitHub does, and counts every match in
//!   `total_count` — and, for the baseline,
//!   `pulls?state=closed`, `pulls/{n}/reviews`, `pulls/{n}/commits` and `issues/{n}/comments`;
//!   `environments` (production with required reviewers, staging), `codeowners/errors` (none) and
//!   `compare/BASE...HEAD` of two deployed merge commits (the merge commits between them).
//! - Anything else answers GitHub's empty answer for its kind, so that a resource added to the
//!   collector later does not break the benchmark: `contents/…` 404 (no such file), `actions/…` `{"total_count": 0, "<last segment>": []}`, any other GET `[]`.
//!   The timed run reads only the resources listed in [`TIMED`] so the figures stay comparable; any
//!   other resource the collector knows is named in the output as not timed, and every request the
//!   fake answered is printed by endpoint, so an unexpected one shows.

mod support;
use support::thousands;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::github::{self, GithubReport, GithubRequest, Resource};
use flowgauge::config::Config;
use flowgauge::model;
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REPO: &str = "acme/shop";
/// The repository's numeric id, used by GitHub in `Link` targets (`/repositories/{id}/…`).
const REPO_ID: u64 = 123_456_789;
const TOKEN: &str = "ghp_benchmarkTokenThatIsNotASecret000";
/// Issue 5: requests per 1,000 pull requests (with reviews and commits).
const TARGET_PER_1000: f64 = 30.0;
/// The resources timed, in the collector's order (releases are not: the service deploys through
/// the Deployments API, so the collector does not ask for them).
const TIMED: [Resource; 7] = [
    Resource::PullRequests,
    Resource::WorkflowRuns,
    Resource::Deployments,
    Resource::Incidents,
    Resource::Environments,
    Resource::Codeowners,
    Resource::DeploymentCommits,
];
/// Pull requests with this many commits (every 500th): a long nested list, still under one page.
const LONG_PR_COMMITS: usize = 60;

/// A flag (`--prs 100`), else an environment variable, else the default.
fn setting(flag: &str, env: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok());
    from_flag.or_else(|| std::env::var(env).ok().and_then(|v| v.trim().parse().ok())).unwrap_or(default)
}

#[derive(Debug, Clone, Copy)]
struct Size {
    prs: usize,
    runs: usize,
    deployments: usize,
    incidents: usize,
}

/// A deterministic hash of (n, salt) (SplitMix64), so every machine serves the same repository.
fn mix(n: u64, salt: u64) -> u64 {
    let mut z = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn minutes(m: i64) -> chrono::Duration {
    chrono::Duration::minutes(m)
}

fn sha(kind: u64, n: u64) -> String {
    format!("{:08x}{:032x}", kind, mix(n, kind) as u128 * 31 + n as u128)
}

/// Everything about one merged pull request, served as GraphQL nodes and as REST objects alike.
struct Pr {
    number: u64,
    author: String,
    created: DateTime<Utc>,
    merged: DateTime<Utc>,
    updated: DateTime<Utc>,
    commits: Vec<(String, DateTime<Utc>)>,
    /// (id, reviewer, state, submitted)
    reviews: Vec<(u64, String, &'static str, DateTime<Utc>)>,
    /// (id, login, is a bot, created)
    comments: Vec<(u64, String, bool, DateTime<Utc>)>,
}

/// Pull request `n` (1-based): opened every 90 minutes, merged 1–48 hours later, last updated 49
/// hours after opening (so "most recently updated first" is "highest number first").
fn pr(n: u64) -> Pr {
    let created = base() + minutes(90 * n as i64);
    let merged = created + minutes(60 + (mix(n, 1) % (47 * 60)) as i64);
    let first_commit = created - minutes(60 + (mix(n, 2) % (72 * 60)) as i64);
    let commit_count = if n.is_multiple_of(500) { LONG_PR_COMMITS } else { 1 + (mix(n, 3) % 5) as usize };
    let commits =
        (0..commit_count as u64).map(|k| (sha(1, n * 1000 + k), first_commit + minutes(10 * k as i64))).collect();
    let author = format!("dev{}", mix(n, 4) % 40);
    let reviews = (0..1 + mix(n, 5) % 3)
        .map(|k| {
            let state = match (k, mix(n, 6 + k) % 4) {
                (0, 0) => "CHANGES_REQUESTED",
                (_, 1) => "COMMENTED",
                _ => "APPROVED",
            };
            (n * 10 + k, format!("reviewer{}", (mix(n, 9) % 12 + k) % 12), state, created + minutes(20 + 45 * k as i64))
        })
        .collect();
    let mut comments = Vec::new();
    if n.is_multiple_of(3) {
        comments.push((n * 10 + 7, "github-actions[bot]".to_string(), true, created + minutes(2)));
    }
    comments.push((n * 10 + 8, format!("ops{}", n % 5), false, created + minutes(15)));
    Pr { number: n, author, created, merged, updated: created + minutes(49 * 60), commits, reviews, comments }
}

fn actor(login: &str, bot: bool) -> Value {
    json!({ "__typename": if bot { "Bot" } else { "User" }, "login": login })
}

fn graphql_pr(p: &Pr) -> Value {
    let n = p.number;
    let title = if n.is_multiple_of(97) { format!("Revert \"Change {}\"", n - 1) } else { format!("Change {n}") };
    let labels = if n.is_multiple_of(7) { json!([{ "name": "bug" }]) } else { json!([]) };
    json!({
        "number": n, "title": title, "state": "MERGED",
        "createdAt": iso(p.created), "updatedAt": iso(p.updated), "mergedAt": iso(p.merged), "closedAt": iso(p.merged),
        "author": actor(&p.author, false),
        "baseRefName": "main", "headRefName": format!("feature/{n}"),
        "mergeCommit": { "oid": sha(2, n) },
        "additions": 1 + mix(n, 20) % 400, "deletions": mix(n, 21) % 200, "changedFiles": 1 + mix(n, 22) % 12,
        "labels": { "nodes": labels },
        "commits": { "totalCount": p.commits.len(), "nodes": p.commits.iter()
            .map(|(oid, at)| json!({ "commit": { "oid": oid, "authoredDate": iso(*at) } })).collect::<Vec<_>>() },
        "reviews": { "totalCount": p.reviews.len(), "nodes": p.reviews.iter()
            .map(|(id, who, state, at)| json!({ "databaseId": id, "author": actor(who, false), "state": state, "submittedAt": iso(*at) }))
            .collect::<Vec<_>>() },
        "comments": { "nodes": p.comments.iter()
            .map(|(id, who, bot, at)| json!({ "databaseId": id, "author": actor(who, *bot), "createdAt": iso(*at) }))
            .collect::<Vec<_>>() },
    })
}

fn rest_user(login: &str, bot: bool) -> Value {
    json!({ "login": login, "id": mix(login.len() as u64, login.as_bytes()[0] as u64) % 1_000_000, "type": if bot { "Bot" } else { "User" } })
}

/// A pull request as `GET /repos/{o}/{r}/pulls` lists it (the fields a collector reads; GitHub's
/// real objects also embed the head and base repositories, several times larger).
fn rest_pr(p: &Pr) -> Value {
    let n = p.number;
    json!({
        "url": format!("https://api.github.com/repos/{REPO}/pulls/{n}"), "id": 900_000_000 + n, "number": n,
        "state": "closed", "locked": false, "title": format!("Change {n}"), "user": rest_user(&p.author, false),
        "body": null, "created_at": iso(p.created), "updated_at": iso(p.updated), "closed_at": iso(p.merged),
        "merged_at": iso(p.merged), "merge_commit_sha": sha(2, n), "draft": false, "labels": [],
        "head": { "ref": format!("feature/{n}"), "sha": p.commits.last().map(|c| c.0.clone()) },
        "base": { "ref": "main" }, "author_association": "MEMBER",
    })
}

fn rest_reviews(p: &Pr) -> Value {
    p.reviews
        .iter()
        .map(|(id, who, state, at)| {
            json!({ "id": id, "user": rest_user(who, false), "body": "", "state": state,
                "submitted_at": iso(*at), "commit_id": p.commits.last().map(|c| c.0.clone()) })
        })
        .collect()
}

fn rest_commits(p: &Pr) -> Value {
    p.commits
        .iter()
        .map(|(oid, at)| {
            json!({ "sha": oid, "commit": { "author": { "name": p.author, "date": iso(*at) },
                "committer": { "name": p.author, "date": iso(*at) }, "message": "work" },
                "author": rest_user(&p.author, false) })
        })
        .collect()
}

fn rest_comments(p: &Pr) -> Value {
    p.comments
        .iter()
        .map(|(id, who, bot, at)| {
            json!({ "id": id, "user": rest_user(who, *bot), "created_at": iso(*at), "updated_at": iso(*at), "body": "…" })
        })
        .collect()
}

/// Deployment `d` (1-based), spread over the pull requests' span; every fourth goes to staging.
fn deployment(d: u64, size: Size) -> Value {
    let span = 90 * size.prs.max(1) as i64;
    let created = base() + minutes(span * d as i64 / size.deployments.max(1) as i64);
    let outcome = if mix(d, 30).is_multiple_of(10) { "FAILURE" } else { "SUCCESS" };
    json!({
        "databaseId": 700_000 + d,
        "environment": if d.is_multiple_of(4) { "staging" } else { "production" },
        "createdAt": iso(created),
        "commitOid": sha(2, (d * 5).min(size.prs as u64).max(1)),
        "creator": { "login": "deploy-bot" },
        // Newest first, as GitHub lists statuses.
        "statuses": { "nodes": [
            { "state": outcome, "createdAt": iso(created + minutes(6)) },
            { "state": "IN_PROGRESS", "createdAt": iso(created + minutes(1)) },
        ] },
    })
}

/// Whether deployment `d` is a successful production deployment, and the pull request whose merge
/// commit it deployed.
fn production_success(d: u64, size: Size) -> Option<u64> {
    let production = !d.is_multiple_of(4) && !mix(d, 30).is_multiple_of(10);
    production.then(|| (d * 5).min(size.prs as u64).max(1))
}

/// The commits each compare of consecutive successful production deployments lists: the merge
/// commits of the pull requests after the previous one's, up to its own (a squash-merge repository).
fn compares(size: Size) -> Vec<(u64, u64)> {
    let deployed: Vec<u64> = (1..=size.deployments as u64).filter_map(|d| production_success(d, size)).collect();
    deployed.windows(2).filter(|w| w[0] != w[1]).map(|w| (w[0], w[1])).collect()
}

fn incident(i: u64, size: Size) -> Value {
    let opened = base() + minutes(90 * (mix(i, 40) % size.prs.max(1) as u64) as i64);
    json!({
        "number": size.prs as u64 + 100 + i, "title": format!("Incident {i}"),
        "createdAt": iso(opened), "updatedAt": iso(opened + minutes(300)), "closedAt": iso(opened + minutes(30 + 10 * i as i64)),
        "labels": { "nodes": [{ "name": "incident" }, { "name": format!("sev{}", 1 + i % 3) }] },
        "assignees": { "nodes": [{ "login": "oncall" }] },
    })
}

/// Workflow run of pull request `n`: one push run on `main` per merge, finished, with two jobs.
fn run_id(n: u64) -> u64 {
    9_000_000 + n
}

/// When the workflow run of pull request `n` was created: a minute after the merge.
fn run_created(n: u64) -> DateTime<Utc> {
    pr(n).merged + minutes(1)
}

/// The bounds of a `created=FROM..TO` filter.
fn created_range(filter: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = filter.split_once("..")?;
    let at = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc));
    Some((at(from)?, at(to)?))
}

fn workflow_run(n: u64) -> Value {
    let p = pr(n);
    let created = run_created(n);
    let conclusion = if n.is_multiple_of(11) { "failure" } else { "success" };
    // Every merge runs CI; every fifth also runs the deploy workflow's release (as a separate
    // workflow would), which is where flowgauge reads jobs by default.
    let name = if n.is_multiple_of(5) { "deploy" } else { "ci" };
    json!({
        "id": run_id(n), "name": name, "head_branch": "main", "head_sha": sha(2, n), "run_number": n,
        "event": "push", "status": "completed", "conclusion": conclusion, "workflow_id": 42,
        "actor": { "login": p.author }, "triggering_actor": { "login": p.author }, "run_attempt": 1,
        "created_at": iso(created), "updated_at": iso(created + minutes(12)), "run_started_at": iso(created + minutes(1)),
    })
}

fn jobs(run: u64) -> Value {
    let n = run - 9_000_000;
    let created = pr(n).merged + minutes(1);
    let jobs: Vec<Value> = ["build", "test"]
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let j = j as i64;
            json!({ "id": run * 10 + j as u64, "run_id": run, "name": name, "status": "completed",
                "conclusion": "success", "created_at": iso(created), "started_at": iso(created + minutes(1 + 5 * j)),
                "completed_at": iso(created + minutes(5 + 5 * j)), "run_attempt": 1 })
        })
        .collect();
    json!({ "total_count": jobs.len(), "jobs": jobs })
}

/// Requests and bytes answered per endpoint.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    requests: u64,
    bytes: u64,
    /// GraphQL rate-limit points, by GitHub's formula (see [`graphql_cost`]).
    points: u64,
}

type Tallies = BTreeMap<String, Tally>;

struct Fake {
    size: Size,
    latency: Duration,
    tallies: Mutex<Tallies>,
    /// Merge commit → pull request number, to answer compares.
    merged: std::collections::HashMap<String, u64>,
}

struct Handler(Arc<Fake>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let fake = &self.0;
        let (endpoint, response) = if request.method.as_str() == "POST" && request.url.path().ends_with("/graphql") {
            fake.graphql(request)
        } else if request.method.as_str() == "GET" {
            fake.rest(request)
        } else {
            (
                format!("{} {} (unknown)", request.method, request.url.path()),
                Answer::status(404, json!({ "message": "Not Found" })),
            )
        };
        let mut tallies = fake.tallies.lock().unwrap();
        let points_used: u64 = tallies.values().map(|t| t.points).sum();
        let rest_calls: u64 = tallies.iter().filter(|(k, _)| k.starts_with("GET")).map(|(_, t)| t.requests).sum();
        let tally = tallies.entry(endpoint.clone()).or_default();
        tally.requests += 1;
        tally.points += response.cost;
        let mut body = response.body;
        if let Some(rate) = body.pointer_mut("/data/rateLimit") {
            let remaining = 5000u64.saturating_sub(points_used + response.cost);
            let reset = iso(Utc::now() + chrono::Duration::hours(1));
            *rate = json!({ "cost": response.cost, "remaining": remaining, "resetAt": reset });
        }
        let text = body.to_string();
        tally.bytes += text.len() as u64;
        let mut template = ResponseTemplate::new(response.status)
            .set_body_raw(text, "application/json; charset=utf-8")
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", 5000u64.saturating_sub(rest_calls + 1).to_string().as_str())
            .insert_header("x-ratelimit-reset", (Utc::now().timestamp() + 3600).to_string().as_str())
            .set_delay(fake.latency);
        if let Some(link) = response.link {
            template = template.insert_header("link", link.as_str());
        }
        template
    }
}

struct Answer {
    status: u16,
    body: Value,
    link: Option<String>,
    /// GraphQL points the answer costs.
    cost: u64,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer { status: 200, body, link: None, cost: 0 }
    }

    fn status(status: u16, body: Value) -> Answer {
        Answer { status, body, link: None, cost: 0 }
    }
}

/// GitHub's GraphQL rate-limit cost of a query: one request for the top-level connection plus, for
/// every nested connection (`(first: 20)` and the like), one per parent node, divided by 100 and
/// rounded — at least 1. The pull-request query costs 4 points a page.
fn graphql_cost(query: &str, first: usize) -> u64 {
    let nested = query
        .split("(first:")
        .skip(1)
        .filter(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    (((1 + nested * first) as f64 / 100.0).round() as u64).max(1)
}

/// The first field selected inside `repository(…) { … }` — the connection a query pages through —
/// and its page size when written literally (`releases(first: 50)`) rather than as `$first`.
fn repository_field(query: &str) -> Option<(String, Option<usize>)> {
    let start = query.find("repository(")?;
    let open = start + query[start..].find('{')? + 1;
    let rest = query[open..].trim_start();
    let field: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let arguments = rest[field.len()..].trim_start().strip_prefix('(').and_then(|a| a.split(')').next()).unwrap_or("");
    let literal = arguments
        .split_once("first:")
        .and_then(|(_, v)| v.trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok());
    (!field.is_empty()).then_some((field, literal))
}

/// One page of a GraphQL connection of `total` items, item `i` (0-based, in the served order) built by
/// `node`.
fn connection(total: usize, after: Option<&str>, first: usize, node: impl Fn(usize) -> Value) -> Value {
    let offset: usize = after.and_then(|c| c.strip_prefix("cursor:v2:")).and_then(|o| o.parse().ok()).unwrap_or(0);
    let end = (offset + first).min(total);
    let nodes: Vec<Value> = (offset.min(end)..end).map(node).collect();
    json!({
        "totalCount": total,
        "pageInfo": { "hasNextPage": end < total, "endCursor": if end > offset { json!(format!("cursor:v2:{end}")) } else { Value::Null } },
        "nodes": nodes,
    })
}

/// A path relative to the repository (`/actions/runs`, `/pulls/7/reviews`), from either of the two
/// ways GitHub addresses a repository.
fn repo_path(path: &str) -> Option<&str> {
    let by_name = format!("/repos/{REPO}");
    let by_id = format!("/repositories/{REPO_ID}");
    [by_name, by_id].iter().find_map(|prefix| {
        let rest = path.strip_prefix(prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    })
}

/// The endpoint's name for the tallies: numbers replaced by `{n}`.
fn endpoint_name(method: &str, path: &str) -> String {
    let generic: Vec<&str> = path
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                "{n}"
            } else if s.contains("...") {
                "{base}...{head}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} {}", generic.join("/"))
}

impl Fake {
    fn graphql(&self, request: &Request) -> (String, Answer) {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or("");
        let variables = &body["variables"];
        let after = variables["after"].as_str();
        if query.contains("HEAD:.github/CODEOWNERS") {
            let answer = Answer::ok(json!({ "data": { "rateLimit": {}, "repository": {
                "dotgithub": { "text": "* @acme/devs\n/deploy/ @acme/sre\n" }, "root": null, "docs": null } } }));
            return ("POST /graphql CODEOWNERS".to_string(), Answer { cost: 1, ..answer });
        }
        let Some((field, literal_first)) = repository_field(query) else {
            return ("POST /graphql (no repository)".to_string(), Answer::ok(json!({ "data": {} })));
        };
        let endpoint = format!("POST /graphql {field}");
        let first = literal_first.or(variables["first"].as_u64().map(|f| f as usize)).unwrap_or(0);
        if !(1..=100).contains(&first) {
            let message = format!(
                "You must provide a `first` or `last` value of 1 to 100 to properly paginate the `{field}` connection."
            );
            return (
                endpoint,
                Answer::ok(
                    json!({ "data": null, "errors": [{ "type": "MISSING_PAGINATION_BOUNDARIES", "message": message }] }),
                ),
            );
        }
        let size = self.size;
        let page = match field.as_str() {
            // Most recently updated first: highest number first.
            "pullRequests" => connection(size.prs, after, first, |i| graphql_pr(&pr((size.prs - i) as u64))),
            "deployments" => {
                connection(size.deployments, after, first, |i| deployment((size.deployments - i) as u64, size))
            }
            "issues" => {
                let incident_label = variables["labels"].as_array().is_some_and(|l| l.iter().any(|l| l == "incident"));
                let total = if incident_label { size.incidents } else { 0 };
                connection(total, after, first, |i| incident((total - i) as u64, size))
            }
            // A connection this fake does not hold: an empty page of it.
            _ => connection(0, after, first, |_| Value::Null),
        };
        let mut repository = serde_json::Map::new();
        repository.insert(field, page);
        let mut data = json!({ "repository": repository });
        if query.contains("rateLimit") {
            data["rateLimit"] = json!({}); // filled in with the running budget when answered
        }
        let answer = Answer::ok(json!({ "data": data }));
        (endpoint, Answer { cost: graphql_cost(query, first), ..answer })
    }

    fn rest(&self, request: &Request) -> (String, Answer) {
        let url = &request.url;
        let Some(path) = repo_path(url.path()) else {
            return (endpoint_name("GET", url.path()), Answer::ok(json!([])));
        };
        let endpoint = endpoint_name("GET", &format!("{{repo}}{path}"));
        let query: BTreeMap<String, String> =
            url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let per_page = query.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30usize).clamp(1, 100);
        let page = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1usize).max(1);
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let number = |s: &str| s.parse::<u64>().ok();
        let size = self.size;
        // Items of a REST list page: `total` items, item `i` (0-based) built by `item`.
        let list = |total: usize, item: &dyn Fn(usize) -> Value| -> (Vec<Value>, Option<String>) {
            let items = (((page - 1) * per_page).min(total)..(page * per_page).min(total)).map(item).collect();
            (items, link_header(request, path, page, total.div_ceil(per_page)))
        };
        let answer = match parts.as_slice() {
            ["actions", "runs"] => {
                // Filtered by `created` (`FROM..TO`), GitHub lists at most 1,000 runs and still
                // counts every match in `total_count`.
                let range = query.get("created").and_then(|c| created_range(c));
                let matching: Vec<u64> = (0..size.runs)
                    .map(|i| (size.prs - i) as u64)
                    .filter(|&n| range.is_none_or(|(from, to)| (from..=to).contains(&run_created(n))))
                    .collect();
                let listed = if range.is_some() { matching.len().min(1000) } else { matching.len() };
                let (runs, link) = list(listed, &|i| workflow_run(matching[i]));
                Answer { link, ..Answer::ok(json!({ "total_count": matching.len(), "workflow_runs": runs })) }
            }
            ["actions", "runs", id, "jobs"] if number(id).is_some_and(|id| id > 9_000_000) => {
                Answer::ok(jobs(number(id).unwrap()))
            }
            ["pulls"] => {
                let total = if query.get("state").is_some_and(|s| s == "open") { 0 } else { size.prs };
                let (prs, link) = list(total, &|i| rest_pr(&pr((size.prs - i) as u64)));
                Answer { link, ..Answer::ok(Value::Array(prs)) }
            }
            ["pulls", n, "reviews"] if number(n).is_some_and(|n| (1..=size.prs as u64).contains(&n)) => {
                Answer::ok(rest_reviews(&pr(number(n).unwrap())))
            }
            ["pulls", n, "commits"] if number(n).is_some_and(|n| (1..=size.prs as u64).contains(&n)) => {
                Answer::ok(rest_commits(&pr(number(n).unwrap())))
            }
            ["issues", n, "comments"] if number(n).is_some_and(|n| (1..=size.prs as u64).contains(&n)) => {
                Answer::ok(rest_comments(&pr(number(n).unwrap())))
            }
            // Not held by this fake: GitHub's answer when there is nothing.
            ["contents", ..] => Answer::status(
                404,
                json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/contents#get-repository-content", "status": "404" }),
            ),
            ["environments"] => Answer::ok(json!({ "total_count": 2, "environments": [
                { "id": 1, "name": "production", "protection_rules": [{ "id": 2, "type": "required_reviewers",
                    "reviewers": [{ "type": "Team", "reviewer": { "slug": "release-managers" } }] }] },
                { "id": 3, "name": "staging", "protection_rules": [] } ] })),
            ["codeowners", "errors"] => Answer::ok(json!({ "errors": [] })),
            ["compare", spec] => {
                let pair = spec.split_once("...").and_then(|(b, h)| Some((*self.merged.get(b)?, *self.merged.get(h)?)));
                let commits: Vec<Value> = match pair {
                    Some((base, head)) if head > base => (base + 1..=head)
                        .map(|n| json!({ "sha": sha(2, n), "commit": { "message": "merged" } }))
                        .collect(),
                    _ => Vec::new(),
                };
                let url = format!("https://api.github.com/repos/{REPO}/compare/{spec}");
                Answer::ok(json!({ "url": url, "status": if commits.is_empty() { "identical" } else { "ahead" },
                    "ahead_by": commits.len(), "behind_by": 0, "total_commits": commits.len(), "commits": commits, "files": [] }))
            }
            ["actions", rest @ ..] => {
                let key = rest.iter().rev().find(|s| number(s).is_none()).copied().unwrap_or("items");
                let mut body = serde_json::Map::new();
                body.insert("total_count".into(), json!(0));
                body.insert(key.into(), json!([]));
                Answer::ok(Value::Object(body))
            }
            _ => Answer::ok(json!([])),
        };
        (endpoint, answer)
    }

    fn tallies(&self) -> Tallies {
        self.tallies.lock().unwrap().clone()
    }
}

/// A query-string value, percent-encoded as GitHub writes it in `Link` targets.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GitHub's `Link` header: absolute URLs under `/repositories/{id}`, the request's other parameters
/// kept, `prev`, `next`, `last` and `first` as they apply.
fn link_header(request: &Request, path: &str, page: usize, pages: usize) -> Option<String> {
    let url = &request.url;
    // wiremock writes `localhost` for the authority of an origin-form request: the host is in `Host`.
    let host = request.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or(url.authority()).to_string();
    let others: Vec<String> =
        url.query_pairs().filter(|(k, _)| k != "page").map(|(k, v)| format!("{k}={}", encode(&v))).collect();
    let target = |p: usize| {
        let mut query = others.clone();
        query.push(format!("page={p}"));
        format!("<http://{host}/repositories/{REPO_ID}{path}?{}>", query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", target(page - 1)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", target(page + 1)));
        links.push(format!("{}; rel=\"last\"", target(pages)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", target(1)));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn diff(after: &Tallies, before: &Tallies) -> Tallies {
    after
        .iter()
        .filter_map(|(k, a)| {
            let b = before.get(k).copied().unwrap_or_default();
            let d = Tally { requests: a.requests - b.requests, bytes: a.bytes - b.bytes, points: a.points - b.points };
            (d.requests > 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn total(t: &Tallies) -> u64 {
    t.values().map(|t| t.requests).sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One phase of the timed run: a resource, what the collector reported and what the fake saw.
struct Phase {
    resource: Resource,
    report: GithubReport,
    wall: f64,
    seen: Tallies,
}

/// The one-request-per-pull-request REST approach, sequential, through octocrab: the list of closed
/// pull requests (pages of 100, following `Link`), then per pull request its reviews, commits and
/// conversation comments. Returns (requests, seconds, reviews + commits + comments read).
async fn baseline(uri: &str, prs: usize) -> octocrab::Result<(u64, f64, usize)> {
    let octocrab = octocrab::Octocrab::builder().base_uri(uri)?.personal_token(TOKEN.to_string()).build()?;
    let started = Instant::now();
    let mut requests = 1;
    let mut page: octocrab::Page<Value> =
        octocrab.get(format!("/repos/{REPO}/pulls"), Some(&[("state", "closed"), ("per_page", "100")])).await?;
    let mut numbers: Vec<u64> = Vec::new();
    loop {
        numbers.extend(page.items.iter().filter_map(|p| p["number"].as_u64()));
        if numbers.len() >= prs {
            break;
        }
        match octocrab.get_page::<Value>(&page.next).await? {
            Some(next) => {
                page = next;
                requests += 1;
            }
            None => break,
        }
    }
    numbers.truncate(prs);
    let mut items = 0;
    for n in numbers {
        for path in [format!("pulls/{n}/reviews"), format!("pulls/{n}/commits"), format!("issues/{n}/comments")] {
            let list: Vec<Value> = octocrab.get(format!("/repos/{REPO}/{path}?per_page=100"), None::<&()>).await?;
            items += list.len();
            requests += 1;
        }
    }
    Ok((requests, started.elapsed().as_secs_f64(), items))
}

fn main() {
    let prs = setting("--prs", "FLOWGAUGE_BENCH_PRS", 5_000).max(1);
    let size = Size {
        prs,
        runs: setting("--runs", "FLOWGAUGE_BENCH_RUNS", prs).min(prs),
        deployments: setting("--deployments", "FLOWGAUGE_BENCH_DEPLOYMENTS", prs / 5),
        incidents: setting("--incidents", "FLOWGAUGE_BENCH_INCIDENTS", 12),
    };
    let latency_ms = setting("--latency-ms", "FLOWGAUGE_BENCH_LATENCY_MS", 50);
    let baseline_prs = setting("--baseline-prs", "FLOWGAUGE_BENCH_BASELINE_PRS", 300).clamp(1, prs);
    let latency = Duration::from_millis(latency_ms as u64);

    let (commits, reviews, responses, long) = (1..=prs as u64).map(pr).fold((0, 0, 0, 0), |(c, r, f, l), p| {
        (c + p.commits.len(), r + p.reviews.len(), f + 1, l + usize::from(p.commits.len() == LONG_PR_COMMITS))
    });
    println!(
        "flowgauge GitHub collector benchmark: {REPO} on a local fake GitHub, {latency_ms} ms added to every response"
    );
    println!(
        "repository      {} merged pull requests ({} commits, {} reviews, a first human comment each; {long} with {LONG_PR_COMMITS} commits),",
        thousands(prs as u64),
        thousands(commits as u64),
        thousands(reviews as u64),
    );
    println!(
        "                {} workflow runs × 2 jobs (a fifth of the deploy workflow), {} deployments with statuses, {} incident issues",
        thousands(size.runs as u64),
        thousands(size.deployments as u64),
        size.incidents
    );

    let merged = (1..=size.prs as u64).map(|n| (sha(2, n), n)).collect();
    let fake = Arc::new(Fake { size, latency, tallies: Mutex::new(Tallies::new()), merged });
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let server = runtime.block_on(async {
        let server = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(Handler(fake.clone())).mount(&server).await;
        server
    });
    let uri = server.uri();

    let dir = tempfile::tempdir().expect("temporary workspace");
    let mut workspace = Workspace::open(dir.path()).expect("workspace opens");
    let config = Config::from_toml(
        "[analysis]\nsince = \"2024-01-01\"\nuntil = \"2025-01-01\"\n[[services]]\nname = \"shop\"\nrepos = [\"acme/shop\"]\n",
        Utc::now(),
    )
    .expect("benchmark configuration is valid");

    // The collector, one resource per call (the same workspace, in the collector's own order), so
    // each resource's requests and wall time stand alone; their sum is one full collection.
    let mut phases = Vec::new();
    for resource in TIMED {
        let mut request = GithubRequest::new(REPO, Some(&uri), Some(TOKEN.to_string()));
        request.resources = vec![resource];
        let before = fake.tallies();
        let started = Instant::now();
        let report = github::collect_github(&mut workspace, &config, &request)
            .unwrap_or_else(|e| panic!("collecting {} failed: {e}", resource.name()));
        let wall = started.elapsed().as_secs_f64();
        phases.push(Phase { resource, report, wall, seen: diff(&fake.tallies(), &before) });
    }
    let untimed: Vec<&str> = Resource::ALL.iter().filter(|r| !TIMED.contains(r)).map(|r| r.name()).collect();

    println!();
    println!("flowgauge collector (sequential requests; one collect_github call per resource, same workspace)");
    println!(
        "{:<16}{:>10}{:>8}{:>9}{:>10}{:>11}{:>9}{:>12}",
        "resource", "requests", "pages", "retries", "wall s", "latency s", "own s", "per 1k PRs"
    );
    let latency_s = latency.as_secs_f64();
    let row = |name: &str, requests: u64, pages: usize, retries: u64, wall: f64| {
        let floor = requests as f64 * latency_s;
        println!(
            "{:<16}{:>10}{:>8}{:>9}{:>10.2}{:>11.2}{:>9.2}{:>12.1}",
            name,
            thousands(requests),
            pages,
            retries,
            wall,
            floor,
            wall - floor,
            requests as f64 * 1000.0 / prs as f64
        );
    };
    for p in &phases {
        row(p.resource.name(), p.report.requests, p.report.pages, p.report.retries, p.wall);
    }
    let all_requests: u64 = phases.iter().map(|p| p.report.requests).sum();
    let all_wall: f64 = phases.iter().map(|p| p.wall).sum();
    row(
        "total",
        all_requests,
        phases.iter().map(|p| p.report.pages).sum(),
        phases.iter().map(|p| p.report.retries).sum(),
        all_wall,
    );
    println!(
        "                latency s = requests × {latency_ms} ms, the floor of any sequential client; own s = wall s − latency s,"
    );
    println!(
        "                the collector's own work (parsing, raw pages written and synced, tables upserted); pages of"
    );
    println!("                workflow_runs count run pages, not the jobs pages fetched for each run");
    if !untimed.is_empty() {
        println!("not timed       {} (resources added since this benchmark was written)", untimed.join(", "));
    }

    println!();
    println!("requests the fake answered, by endpoint");
    for p in &phases {
        for (endpoint, t) in &p.seen {
            let points =
                if t.points > 0 { format!("{:>7} GraphQL points", thousands(t.points)) } else { String::new() };
            println!(
                "  {:<14}{:<42}{:>8}{:>10.1} MiB{points}",
                p.resource.name(),
                endpoint,
                thousands(t.requests),
                mib(t.bytes)
            );
        }
        let seen = total(&p.seen);
        if seen != p.report.requests {
            println!(
                "  {:<14}the fake answered {seen} requests, the collector counted {}",
                p.resource.name(),
                p.report.requests
            );
        }
    }

    println!();
    println!("rows written");
    let expected: BTreeMap<&str, usize> = [
        ("changes", prs),
        ("change_commits", commits),
        ("reviews", reviews + responses),
        ("pipelines", size.runs),
        ("jobs", 2 * size.runs.div_ceil(5)),
        ("deployment_commits", compares(size).iter().map(|(a, b)| (b - a) as usize).sum()),
        ("evidence", 2),
        ("deployments", size.deployments),
        ("incidents", size.incidents),
        ("services", 1),
    ]
    .into_iter()
    .collect();
    for table in model::TABLES {
        let rows = workspace.load(table).map(|df| df.height()).unwrap_or(0);
        let want = expected.get(table.name).copied();
        if rows == 0 && want.is_none_or(|w| w == 0) {
            continue;
        }
        let check = match want {
            Some(w) if w == rows => "as generated".to_string(),
            Some(w) => format!("GENERATED {} — check the collector or the fake", thousands(w as u64)),
            None => "not generated by the fake".to_string(),
        };
        println!("  {:<18}{:>10}   {check}", table.name, thousands(rows as u64));
    }
    let warnings: Vec<&String> = phases.iter().flat_map(|p| &p.report.warnings).collect();
    if !warnings.is_empty() {
        println!("  warnings: {} (first: {})", warnings.len(), warnings[0]);
    }

    // The baseline: measured on a prefix of the pull requests, extrapolated linearly in requests.
    let before = fake.tallies();
    let (measured_requests, measured_wall, items) =
        runtime.block_on(baseline(&uri, baseline_prs)).unwrap_or_else(|e| panic!("the REST baseline failed: {e}"));
    let baseline_seen = diff(&fake.tallies(), &before);
    let full_requests = prs.div_ceil(100) as u64 + 3 * prs as u64;
    let per_request = measured_wall / measured_requests as f64;
    let extrapolated_wall = per_request * full_requests as f64;
    println!();
    println!("baseline: one request per pull request over REST (octocrab, sequential, same fake and latency)");
    println!(
        "  GET pulls?state=closed&per_page=100 (following Link), then per PR GET pulls/{{n}}/reviews, pulls/{{n}}/commits, issues/{{n}}/comments"
    );
    println!(
        "  measured        {:>4} PRs   {:>7} requests   {:>8.2} s   ({:.1} ms per request, {} reviews/commits/comments read)",
        baseline_prs,
        thousands(measured_requests),
        measured_wall,
        per_request * 1000.0,
        thousands(items as u64)
    );
    println!(
        "  EXTRAPOLATED  {:>6} PRs   {:>7} requests   {:>8.2} s   (linear in requests from the measured run; requests computed: {} + 3 × {} = {})",
        thousands(prs as u64),
        thousands(full_requests),
        extrapolated_wall,
        prs.div_ceil(100),
        thousands(prs as u64),
        thousands(full_requests)
    );
    for (endpoint, t) in &baseline_seen {
        println!("  {:<56}{:>8}{:>10.1} MiB", endpoint, thousands(t.requests), mib(t.bytes));
    }

    let pull = &phases[0];
    let pr_requests = pull.report.requests;
    let per_1000 = pr_requests as f64 * 1000.0 / prs as f64;
    let baseline_per_1000 = full_requests as f64 * 1000.0 / prs as f64;
    println!();
    println!(
        "side by side: pull requests with reviews and commits, {} PRs, {latency_ms} ms per request",
        thousands(prs as u64)
    );
    println!("{:<22}{:>14}{:>22}{:>12}", "", "flowgauge", "REST per PR baseline", "ratio");
    println!(
        "{:<22}{:>14}{:>22}{:>11.1}×",
        "requests",
        thousands(pr_requests),
        thousands(full_requests),
        full_requests as f64 / pr_requests.max(1) as f64
    );
    println!("{:<22}{:>14.1}{:>22.1}", "requests / 1,000 PRs", per_1000, baseline_per_1000);
    println!(
        "{:<22}{:>14.2}{:>22}{:>11.1}×",
        "wall s",
        pull.wall,
        format!("{extrapolated_wall:.2} (extrap.)"),
        extrapolated_wall / pull.wall
    );
    let verdict = if per_1000 <= TARGET_PER_1000 { "PASS" } else { "MISS" };
    println!(
        "target          ≤ {TARGET_PER_1000:.0} requests per 1,000 PRs for pull requests with reviews and commits: {per_1000:.1} → {verdict}"
    );
    let rest_budget: u64 =
        phases.iter().flat_map(|p| &p.seen).filter(|(k, _)| k.starts_with("GET")).map(|(_, t)| t.requests).sum();
    let points: u64 = phases.iter().flat_map(|p| p.seen.values()).map(|t| t.points).sum();
    println!(
        "budgets         the timed run used {} REST requests and {} GraphQL points (github.com gives a token 5,000 of each per hour)",
        thousands(rest_budget),
        thousands(points)
    );
    println!(
        "whole run       {:.1} requests per 1,000 PRs, {:.2} s (all resources)",
        all_requests as f64 * 1000.0 / prs as f64,
        all_wall
    );
    drop(server);
}
