//! Benchmark: the GitLab collector against a local fake GitLab holding a generated project, beside
//! the one-request-per-merge-request REST approach (Apache DevLake's GitLab plugin: list the merge
//! requests, then per merge request its commits, its approvals and its notes).
//!
//! Why it exists: what makes a GitLab collector slow is the number of round trips (and, on
//! GitLab.com, the 2,000 requests a minute a user may make), not the CPU, so the figures that matter
//! are requests per 1,000 merge requests and the wall time once every response pays a realistic
//! latency. Issue 11's target: ≤ 60 requests per 1,000 merge requests with their commits, approvals
//! and first responses. Nothing is asserted: both approaches are printed side by side with the
//! ratio, and PASS/MISS against the target.
//!
//! `cargo bench --bench gitlab [-- --mrs N --pipelines N --deployments N --latency-ms N
//! --baseline-mrs N]` or `FLOWGAUGE_BENCH_MRS`, `FLOWGAUGE_BENCH_PIPELINES`,
//! `FLOWGAUGE_BENCH_DEPLOYMENTS`, `FLOWGAUGE_BENCH_LATENCY_MS`, `FLOWGAUGE_BENCH_BASELINE_MRS`
//! (flags win). Defaults: 5,000 merged merge requests (3 commits, 1 approval, 4 notes each: a review
//! request and an approval as system notes, the reviewer's first response and the author's answer),
//! 2,000 pipelines, 500 deployments, 50 ms added to every response, the baseline measured on the
//! first 300 merge requests and extrapolated (at 3 requests and 150 ms per merge request, the whole
//! baseline would take 12 minutes).
//!
//! The fake (a wiremock server) speaks GitLab's documented shapes:
//! - `POST /api/graphql`: `project.mergeRequests(first:, after:, updatedAfter:, sort: UPDATED_ASC)`
//!   with `count`, `pageInfo` and each node's `commits`, `approvedBy` and `notes` (all within the
//!   first page of each nested connection, so no overflow query is needed);
//! - REST: `projects/:id/merge_requests` (offset pages, `Link: rel="next"`, `X-Total`), and per merge
//!   request `…/commits`, `…/approvals` and `…/notes` for the baseline; `pipelines` and
//!   `deployments` listings (filtered by `updated_after`/`updated_before`, offset pages with
//!   `X-Total`), `pipelines/:id/jobs` (2 jobs), `environments` (production tier) and
//!   `deployments/:id/merge_requests` (10 each) for the collector's pipeline and deployment
//!   resources; anything else answers an empty list. Every request is counted by endpoint and the
//!   counts are printed, so an unexpected request shows.

mod support;
use support::thousands;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::gitlab::client::{Client, Credentials, Listing};
use flowgauge::collect::gitlab::{self, GitlabRequest, Resource};
use flowgauge::collect::http::retry::Pacing;
use flowgauge::config::Config;
use flowgauge::model;
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PROJECT: &str = "acme/ledger";
const ENCODED: &str = "acme%2Fledger";
const TOKEN: &str = "glpat-benchmarkTokenNotASecret0000";
/// Issue 11: requests per 1,000 merge requests (with commits, approvals and first responses).
const TARGET_PER_1000: f64 = 60.0;

#[derive(Clone, Copy)]
struct Size {
    mrs: usize,
    pipelines: usize,
    deployments: usize,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn sha(kind: u64, n: u64) -> String {
    format!("{kind:08x}{n:032x}")
}

/// Merge request `iid`: created every 10 minutes, merged two hours later.
fn created(iid: u64) -> DateTime<Utc> {
    base() + chrono::Duration::minutes(10 * iid as i64)
}

fn merged(iid: u64) -> DateTime<Utc> {
    created(iid) + chrono::Duration::hours(2)
}

fn commits(iid: u64) -> Vec<Value> {
    (0..3)
        .map(|k| {
            let at = iso(created(iid) - chrono::Duration::hours(3 - k as i64));
            json!({ "sha": sha(1, iid * 10 + k), "id": sha(1, iid * 10 + k), "authoredDate": at, "committedDate": at,
                    "authored_date": at, "committed_date": at, "authorName": "Dev", "author_name": "Dev" })
        })
        .collect()
}

/// The notes of a merge request: review request and approval (system), first response, answer.
fn notes(iid: u64) -> Vec<(u64, &'static str, bool, &'static str, DateTime<Utc>)> {
    let c = created(iid);
    vec![
        (iid * 10 + 1, "requested review from @rev", true, "dev", c + chrono::Duration::minutes(5)),
        (iid * 10 + 2, "Looks good, one question", false, "rev", c + chrono::Duration::minutes(30)),
        (iid * 10 + 3, "Answered", false, "dev", c + chrono::Duration::minutes(45)),
        (iid * 10 + 4, "approved this merge request", true, "rev", c + chrono::Duration::minutes(90)),
    ]
}

fn graphql_node(iid: u64) -> Value {
    let notes: Vec<Value> = notes(iid)
        .into_iter()
        .map(|(id, body, system, who, at)| {
            json!({ "id": format!("gid://gitlab/Note/{id}"), "body": body, "system": system, "createdAt": iso(at),
                    "author": { "username": who } })
        })
        .collect();
    json!({
        "iid": iid.to_string(), "title": format!("change {iid}"), "description": "", "state": "merged", "draft": false,
        "createdAt": iso(created(iid)), "updatedAt": iso(merged(iid)), "mergedAt": iso(merged(iid)), "closedAt": null,
        "sourceBranch": format!("feature/{iid}"), "targetBranch": "main",
        "mergeCommitSha": sha(2, iid), "squashCommitSha": null,
        "author": { "username": "dev" },
        "labels": { "nodes": [] },
        "diffStatsSummary": { "additions": 10, "deletions": 2, "fileCount": 3 },
        "approvedBy": { "nodes": [{ "username": "rev" }] },
        "commits": { "count": 3, "pageInfo": { "hasNextPage": false, "endCursor": "c3" }, "nodes": commits(iid) },
        "notes": { "count": 4, "pageInfo": { "hasNextPage": false, "endCursor": "n4" }, "nodes": notes },
    })
}

fn rest_mr(iid: u64) -> Value {
    json!({ "id": 100_000 + iid, "iid": iid, "title": format!("change {iid}"), "state": "merged",
            "created_at": iso(created(iid)), "updated_at": iso(merged(iid)), "merged_at": iso(merged(iid)),
            "merge_commit_sha": sha(2, iid), "author": { "username": "dev" } })
}

fn pipeline(id: u64) -> Value {
    let at = base() + chrono::Duration::minutes(25 * id as i64);
    json!({ "id": id, "iid": id, "status": "success", "source": "push", "ref": "main", "sha": sha(2, id),
            "created_at": iso(at), "updated_at": iso(at + chrono::Duration::minutes(12)),
            "started_at": iso(at), "finished_at": iso(at + chrono::Duration::minutes(12)),
            "user": { "username": "dev" }, "web_url": "" })
}

fn job(pipeline_id: u64, k: u64) -> Value {
    let at = base() + chrono::Duration::minutes(25 * pipeline_id as i64);
    json!({ "id": pipeline_id * 10 + k, "name": if k == 0 { "test" } else { "deploy" }, "stage": if k == 0 { "test" } else { "deploy" },
            "status": "success", "allow_failure": false, "when": "on_success",
            "created_at": iso(at), "started_at": iso(at), "finished_at": iso(at + chrono::Duration::minutes(6)),
            "queued_duration": 3.0, "duration": 360.0, "user": { "username": "dev" },
            "pipeline": { "id": pipeline_id } })
}

fn deployment(id: u64) -> Value {
    let at = base() + chrono::Duration::minutes(100 * id as i64);
    json!({ "id": id, "iid": id, "status": "success", "ref": "main", "sha": sha(2, id * 10),
            "created_at": iso(at), "updated_at": iso(at + chrono::Duration::minutes(8)),
            "finished_at": iso(at + chrono::Duration::minutes(8)),
            "environment": { "id": 1, "name": "production", "tier": "production" },
            "deployable": { "id": id * 10 + 1, "status": "success", "name": "deploy",
                            "created_at": iso(at), "started_at": iso(at), "finished_at": iso(at + chrono::Duration::minutes(8)),
                            "user": { "username": "dev" }, "pipeline": { "id": id } },
            "user": { "username": "dev" }, "approvals": [], "pending_approval_count": 0 })
}

struct Fake {
    size: Size,
    latency: Duration,
    uri: Mutex<String>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Fake {
    fn count(&self, endpoint: &str) {
        *self.counts.lock().unwrap().entry(endpoint.to_string()).or_default() += 1;
    }

    fn graphql(&self, body: &Value) -> Value {
        let variables = &body["variables"];
        let first = variables["first"].as_u64().unwrap_or(50).min(100) as usize;
        let after: usize = variables["after"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
        let since = variables["updatedAfter"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let all: Vec<u64> = (1..=self.size.mrs as u64)
            .filter(|iid| since.is_none_or(|s| merged(*iid) >= s.with_timezone(&Utc)))
            .collect();
        let page: Vec<Value> = all.iter().skip(after).take(first).map(|iid| graphql_node(*iid)).collect();
        let end = after + page.len();
        json!({ "data": {
            "queryComplexity": { "score": 180, "limit": 250 },
            "project": { "mergeRequests": {
                "count": all.len(),
                "pageInfo": { "hasNextPage": end < all.len(), "endCursor": end.to_string() },
                "nodes": page,
            } }
        } })
    }

    /// An offset page of `items` (already filtered and ordered), with GitLab's headers.
    fn offset_page(&self, request: &Request, items: Vec<Value>) -> ResponseTemplate {
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let per_page: usize = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20).min(100);
        let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        let total = items.len();
        let slice: Vec<Value> = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        let mut response = ResponseTemplate::new(200).insert_header("x-total", total.to_string().as_str());
        response = response.insert_header("x-total-pages", total.div_ceil(per_page).max(1).to_string().as_str());
        if page * per_page < total {
            let mut next = request.url.clone();
            let others: Vec<(String, String)> =
                query.iter().filter(|(k, _)| *k != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
            next.query_pairs_mut().clear().extend_pairs(others).append_pair("page", &(page + 1).to_string());
            let base = self.uri.lock().unwrap().clone();
            let link = format!("<{base}{}?{}>; rel=\"next\"", next.path(), next.query().unwrap_or(""));
            response = response.insert_header("link", link.as_str());
        }
        response.set_body_json(Value::Array(slice))
    }

    fn rest(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let prefix = format!("/api/v4/projects/{ENCODED}/");
        let Some(rest) = path.strip_prefix(&prefix) else {
            self.count("other");
            return ResponseTemplate::new(200).set_body_json(json!({ "id": 1, "username": "bench" }));
        };
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let window = |items: Vec<Value>| -> Vec<Value> {
            let after = query.get("updated_after").and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            let before = query.get("updated_before").and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            items
                .into_iter()
                .filter(|i| {
                    let at = DateTime::parse_from_rfc3339(i["updated_at"].as_str().unwrap()).unwrap();
                    after.is_none_or(|a| at >= a) && before.is_none_or(|b| at <= b)
                })
                .collect()
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["merge_requests"] => {
                self.count("REST merge_requests (list)");
                self.offset_page(request, (1..=self.size.mrs as u64).map(rest_mr).collect())
            }
            ["merge_requests", iid, what] => {
                let iid: u64 = iid.parse().unwrap_or(1);
                self.count(&format!("REST merge_requests/:iid/{what}"));
                let body = match *what {
                    "commits" => Value::Array(commits(iid)),
                    "approvals" => json!({ "approved_by": [{ "user": { "username": "rev" } }] }),
                    _ => Value::Array(
                        notes(iid)
                            .into_iter()
                            .map(|(id, body, system, who, at)| {
                                json!({ "id": id, "body": body, "system": system, "created_at": iso(at), "author": { "username": who } })
                            })
                            .collect(),
                    ),
                };
                ResponseTemplate::new(200).set_body_json(body)
            }
            ["pipelines"] => {
                self.count("REST pipelines");
                self.offset_page(request, window((1..=self.size.pipelines as u64).map(pipeline).collect()))
            }
            ["pipelines", id, "jobs"] => {
                self.count("REST pipelines/:id/jobs");
                let id: u64 = id.parse().unwrap_or(1);
                ResponseTemplate::new(200).set_body_json(json!([job(id, 0), job(id, 1)]))
            }
            ["deployments"] => {
                self.count("REST deployments");
                self.offset_page(request, window((1..=self.size.deployments as u64).map(deployment).collect()))
            }
            ["deployments", _, "merge_requests"] => {
                self.count("REST deployments/:id/merge_requests");
                ResponseTemplate::new(200).set_body_json(Value::Array((1..=10).map(rest_mr).collect()))
            }
            ["environments"] => {
                self.count("REST environments");
                ResponseTemplate::new(200).set_body_json(
                    json!([{ "id": 1, "name": "production", "tier": "production", "state": "available" }]),
                )
            }
            other => {
                self.count(&format!("REST {} (empty answer)", other.first().unwrap_or(&"")));
                ResponseTemplate::new(200).set_body_json(json!([]))
            }
        }
    }
}

struct Handler(Arc<Fake>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let fake = &self.0;
        let response = if request.url.path() == "/api/graphql" {
            fake.count("GraphQL");
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            ResponseTemplate::new(200).set_body_json(fake.graphql(&body))
        } else {
            fake.rest(request)
        };
        response.set_delay(fake.latency)
    }
}

fn setting(flag: &str, env: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or_else(|| std::env::var(env).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pacing() -> Pacing {
    Pacing { backoff: Duration::from_millis(10), max_wait: Duration::from_secs(1), attempts: 3 }
}

/// flowgauge's collector, one resource at a time on a fresh workspace: (requests, seconds, rows).
fn flowgauge_run(uri: &str, config: &Config, resources: &[Resource]) -> (u64, f64, Vec<(&'static str, usize)>, String) {
    let dir = tempfile::tempdir().expect("temporary workspace");
    let mut workspace = Workspace::open(dir.path()).expect("workspace opens");
    let mut request = GitlabRequest::new(PROJECT, Some(uri), Credentials::Token(TOKEN.into()));
    request.pacing = pacing();
    request.resources = resources.to_vec();
    let started = Instant::now();
    let outcome = gitlab::collect_gitlab(&mut workspace, config, &request);
    let seconds = started.elapsed().as_secs_f64();
    let rows = [
        &model::CHANGES,
        &model::CHANGE_COMMITS,
        &model::REVIEWS,
        &model::PIPELINES,
        &model::JOBS,
        &model::DEPLOYMENTS,
    ]
    .iter()
    .map(|t| (t.name, workspace.load(t).map(|df| df.height()).unwrap_or(0)))
    .collect();
    match outcome {
        Ok(report) => (report.requests, seconds, rows, String::new()),
        Err(e) => (0, seconds, rows, e.to_string()),
    }
}

/// DevLake's approach on the first `mrs` merge requests: list them, then per merge request its
/// commits, approvals and notes, one request each, through the same client.
async fn baseline(uri: &str, mrs: usize) -> (u64, f64, usize) {
    let client = Client::connect(uri, Credentials::Token(TOKEN.into()), pacing(), PROJECT).await.expect("connects");
    let started = Instant::now();
    let before = client.requests();
    let mut listed: Vec<u64> = Vec::new();
    let mut page = client
        .get(&Listing::project(PROJECT, "merge_requests").param("state", "merged").param("per_page", "100"))
        .await
        .expect("list");
    loop {
        listed.extend(page.json.as_array().unwrap().iter().filter_map(|m| m["iid"].as_u64()));
        if listed.len() >= mrs {
            break;
        }
        let Some(next) = client.next_page(&page) else { break };
        page = client.get_url(&next).await.expect("next page");
    }
    listed.truncate(mrs);
    let mut items = 0;
    for iid in listed {
        for what in ["commits", "approvals", "notes"] {
            let listing = Listing::project(PROJECT, &format!("merge_requests/{iid}/{what}")).param("per_page", "100");
            let page = client.get(&listing).await.expect("per merge request");
            items += page.json.as_array().map_or(1, Vec::len);
        }
    }
    (client.requests() - before, started.elapsed().as_secs_f64(), items)
}

fn main() {
    let size = Size {
        mrs: setting("--mrs", "FLOWGAUGE_BENCH_MRS", 5_000).max(1),
        pipelines: setting("--pipelines", "FLOWGAUGE_BENCH_PIPELINES", 2_000),
        deployments: setting("--deployments", "FLOWGAUGE_BENCH_DEPLOYMENTS", 500),
    };
    let latency_ms = setting("--latency-ms", "FLOWGAUGE_BENCH_LATENCY_MS", 50);
    let baseline_mrs = setting("--baseline-mrs", "FLOWGAUGE_BENCH_BASELINE_MRS", 300).clamp(1, size.mrs);
    let fake = Arc::new(Fake {
        size,
        latency: Duration::from_millis(latency_ms as u64),
        uri: Mutex::new(String::new()),
        counts: Mutex::new(BTreeMap::new()),
    });
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let server = runtime.block_on(async {
        let server = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(Handler(fake.clone())).mount(&server).await;
        server
    });
    let uri = server.uri();
    *fake.uri.lock().unwrap() = uri.clone();
    let config = Config::from_toml(
        "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n",
        Utc::now(),
    )
    .expect("benchmark configuration");

    println!(
        "flowgauge GitLab collector benchmark: {PROJECT} on a local fake GitLab, {latency_ms} ms added to every response"
    );
    println!(
        "project         {} merged merge requests (3 commits, 1 approval, 4 notes each), {} pipelines × 2 jobs, {} deployments",
        thousands(size.mrs as u64),
        thousands(size.pipelines as u64),
        thousands(size.deployments as u64)
    );

    let (mr_requests, mr_seconds, mr_rows, mr_error) = flowgauge_run(&uri, &config, &[Resource::MergeRequests]);
    let (base_requests, base_seconds, base_items) = runtime.block_on(baseline(&uri, baseline_mrs));
    let scale = size.mrs as f64 / baseline_mrs as f64;
    let list_pages = size.mrs.div_ceil(100) as f64;
    // Per merge request 3 requests; the listing pages grow with the project, not the sample.
    let base_total = (base_requests as f64 - baseline_mrs.div_ceil(100) as f64) * scale + list_pages;
    let base_wall = base_seconds * base_total / base_requests as f64;
    let per_1000 = |requests: f64| requests * 1000.0 / size.mrs as f64;

    println!();
    println!("merge requests with commits, approvals and first responses");
    println!("                          requests   per 1,000 MRs   wall time");
    println!(
        "flowgauge (GraphQL)     {:>10}   {:>13.1}   {:>8.1} s",
        thousands(mr_requests),
        per_1000(mr_requests as f64),
        mr_seconds
    );
    println!(
        "DevLake-style REST      {:>10}   {:>13.1}   {:>8.1} s   (measured on {} MRs: {} requests in {:.1} s, {} items; extrapolated)",
        thousands(base_total.round() as u64),
        per_1000(base_total),
        base_wall,
        baseline_mrs,
        base_requests,
        base_seconds,
        base_items
    );
    if mr_requests > 0 {
        println!(
            "ratio                   {:>9.0}x   {:>14}   {:>7.0}x   (REST ÷ flowgauge)",
            base_total / mr_requests as f64,
            "",
            base_wall / mr_seconds
        );
    }
    let verdict = if mr_error.is_empty() && per_1000(mr_requests as f64) <= TARGET_PER_1000 { "PASS" } else { "MISS" };
    println!("target          ≤ {TARGET_PER_1000} requests per 1,000 merge requests: {verdict}");
    if !mr_error.is_empty() {
        println!("flowgauge run failed: {mr_error}");
    }

    let (all_requests, all_seconds, all_rows, all_error) = flowgauge_run(
        &uri,
        &config,
        &[
            Resource::Environments,
            Resource::MergeRequests,
            Resource::Pipelines,
            Resource::Deployments,
            Resource::DeploymentCommits,
        ],
    );
    println!();
    println!(
        "the whole project (environments, merge requests, pipelines with their jobs, deployments, what each shipped)"
    );
    println!(
        "flowgauge               {:>10}   {:>13}   {:>8.1} s{}",
        thousands(all_requests),
        "",
        all_seconds,
        if all_error.is_empty() { String::new() } else { format!("   failed: {all_error}") }
    );
    println!();
    println!("rows written          merge requests only   whole project");
    for ((table, only), (_, all)) in mr_rows.iter().zip(&all_rows) {
        println!("  {table:<20}{:>19}   {:>13}", thousands(*only as u64), thousands(*all as u64));
    }
    println!();
    println!("requests the fake answered, by endpoint (all runs)");
    for (endpoint, n) in fake.counts.lock().unwrap().iter() {
        println!("  {endpoint:<40}{:>10}", thousands(*n));
    }
}
