//! The GitLab source against a local server speaking GitLab's documented REST and GraphQL shapes:
//! the real `gitlab` crate client, real `Link` and cursor pagination, update-time slices, injected
//! faults (429 with and without headers, 502, a dropped connection, a truncated body), interrupted
//! runs and offline re-extraction, each compared table for table with a fault-free run.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::gitlab::{self, Credentials, GitlabRequest, Pacing};
use flowgauge::config::Config;
use flowgauge::model::{self, TableSchema};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{config, text};

const TOKEN: &str = "glpat-TESTtoken0123456789SECRET";
const PROJECT: &str = "acme/platform/shop";
const ENCODED: &str = "acme%2Fplatform%2Fshop";
const TABLES: [&TableSchema; 10] = [
    &model::CHANGES,
    &model::CHANGE_COMMITS,
    &model::COMMITS,
    &model::REVIEWS,
    &model::PIPELINES,
    &model::JOBS,
    &model::DEPLOYMENTS,
    &model::DEPLOYMENT_COMMITS,
    &model::APPROVALS,
    &model::EVIDENCE,
];

/// A fault served instead of the normal answer on one call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// 429, `Retry-After: 1` and GitLab's plain-text body.
    TooManyRequests,
    /// 429 with no header at all (the Projects API throttle).
    TooManyRequestsBare,
    BadGateway,
    /// A 200 whose JSON body is cut in half.
    Truncated,
    /// GitLab's GraphQL refusal of a query above its complexity limit.
    TooComplex,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn sha(n: i64) -> String {
    format!("{n:040x}")
}

/// A fake GitLab holding a project's merge requests, pipelines and deployments.
struct FakeGitlab {
    mrs: Vec<Value>,
    pipelines: Vec<Value>,
    jobs: HashMap<i64, Vec<Value>>,
    deployments: Vec<Value>,
    faults: Mutex<HashMap<usize, Fault>>,
    calls: AtomicUsize,
    /// `X-Total` is left out of listings holding more than this (GitLab: 10,000).
    counted: usize,
    /// Listings report two more records than they hold.
    lying: AtomicBool,
    /// How the credentials check answers: 200, or 401 / 403.
    auth: Mutex<u16>,
    /// The updated_before bound of every pipelines listing asked, in order.
    pipeline_slices: Mutex<Vec<String>>,
    graphql_calls: AtomicUsize,
}

impl FakeGitlab {
    fn new(mrs: usize, pipelines: usize, deployments: usize) -> FakeGitlab {
        let mrs = (1..=mrs as i64).map(merge_request).collect();
        let mut jobs = HashMap::new();
        let pipelines: Vec<Value> = (1..=pipelines as i64)
            .map(|i| {
                let (p, j) = pipeline(i);
                jobs.insert(100 + i, j);
                p
            })
            .collect();
        let deployments = (1..=deployments as i64).map(deployment).collect();
        FakeGitlab {
            mrs,
            pipelines,
            jobs,
            deployments,
            faults: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
            counted: 1000,
            lying: AtomicBool::new(false),
            auth: Mutex::new(200),
            pipeline_slices: Mutex::new(Vec::new()),
            graphql_calls: AtomicUsize::new(0),
        }
    }
}

/// Merge request `n`: two commits and four notes (the author's, a reviewer's comment, the
/// reviewer's approval and a "ready" system note), or, for every 25th, 25 commits and 60 notes
/// (more than the first page of each holds). Every 4th is open; every 10th a draft.
fn merge_request(n: i64) -> Value {
    let created = base() + chrono::Duration::hours(n);
    let big = n % 25 == 0;
    let commits: Vec<Value> = (0..if big { 25 } else { 2 })
        .map(|c| {
            json!({ "sha": sha(n * 1000 + c), "authoredDate": iso(created - chrono::Duration::hours(5 - c.min(4))),
                    "committedDate": iso(created - chrono::Duration::hours(4)), "authorName": format!("Dev {}", n % 3) })
        })
        .collect();
    let author = format!("dev{}", n % 3);
    let mut notes = vec![
        json!({ "id": format!("gid://gitlab/Note/{}", n * 100 + 1), "body": "a note to self", "system": false,
                "createdAt": iso(created + chrono::Duration::minutes(10)), "author": { "username": author } }),
        json!({ "id": format!("gid://gitlab/Note/{}", n * 100 + 2), "body": "looks good", "system": false,
                "createdAt": iso(created + chrono::Duration::minutes(60)), "author": { "username": "reviewer" } }),
        json!({ "id": format!("gid://gitlab/Note/{}", n * 100 + 3), "body": "marked this merge request as **ready**",
                "system": true, "createdAt": iso(created + chrono::Duration::minutes(30)), "author": { "username": author } }),
    ];
    if big {
        for k in 0..56 {
            notes
                .push(json!({ "id": format!("gid://gitlab/Note/{}", n * 100 + 4 + k), "body": "more", "system": false,
                "createdAt": iso(created + chrono::Duration::minutes(70 + k)), "author": { "username": author } }));
        }
    }
    // The approval comes last, so for big merge requests it is only on an overflow page.
    notes.push(json!({ "id": format!("gid://gitlab/Note/{}", n * 100 + 99), "body": "approved this merge request",
        "system": true, "createdAt": iso(created + chrono::Duration::minutes(200)), "author": { "username": "reviewer" } }));
    let open = n % 4 == 0;
    json!({
        "iid": n.to_string(), "title": format!("change {n}"),
        "description": if n % 10 == 3 { format!("This reverts merge request !{}", n - 1) } else { String::new() },
        "state": if open { "opened" } else { "merged" }, "draft": n % 10 == 0,
        "createdAt": iso(created), "updatedAt": iso(base() + chrono::Duration::minutes(n)),
        "mergedAt": if open { Value::Null } else { json!(iso(created + chrono::Duration::hours(4))) },
        "closedAt": Value::Null,
        "sourceBranch": format!("feature/{n}"), "targetBranch": "main",
        "mergeCommitSha": if open { Value::Null } else { json!(sha(n * 1000 + 900)) },
        "squashCommitSha": if open || n % 2 == 0 { Value::Null } else { json!(sha(n * 1000 + 901)) },
        "author": { "username": author },
        "labels": { "nodes": [] },
        "diffStatsSummary": { "additions": n * 3, "deletions": n, "fileCount": 2 },
        "approvedBy": { "nodes": [{ "username": "reviewer" }] },
        "commits": commits,
        "notes": notes,
    })
}

/// Pipeline `100 + i` and its jobs: a build, a test (retried in every 5th pipeline) and a manual
/// deploy job, waiting in every 3rd pipeline and played by `ops` in the others.
fn pipeline(i: i64) -> (Value, Vec<Value>) {
    let id = 100 + i;
    let created = base() + chrono::Duration::minutes(10 * i);
    let source = ["push", "web", "schedule", "merge_request_event", "parent_pipeline", "trigger"][(i % 6) as usize];
    let waiting = i % 3 == 0;
    let status = if waiting { "manual" } else { "success" };
    let p = json!({
        "id": id, "iid": i, "project_id": 7, "sha": sha(i), "ref": "main", "status": status, "source": source,
        "created_at": iso(created), "updated_at": iso(created + chrono::Duration::minutes(5)),
        "web_url": format!("https://gitlab.example.com/{PROJECT}/-/pipelines/{id}"),
    });
    let job = |jid: i64, name: &str, stage: &str, status: &str, user: &str, minutes: i64| {
        json!({
            "id": jid, "name": name, "stage": stage, "status": status, "ref": "main",
            "created_at": iso(created), "started_at": if status == "manual" { Value::Null } else { json!(iso(created + chrono::Duration::minutes(minutes))) },
            "finished_at": if status == "manual" { Value::Null } else { json!(iso(created + chrono::Duration::minutes(minutes + 1))) },
            "queued_duration": 2.5, "allow_failure": name == "deploy",
            "user": { "username": user }, "pipeline": { "id": id, "project_id": 7, "ref": "main", "sha": sha(i), "status": status },
        })
    };
    let mut jobs = vec![job(id * 10 + 1, "build", "build", "success", "dev1", 1)];
    if i % 5 == 0 {
        jobs.push(job(id * 10 + 2, "test", "test", "failed", "dev1", 2));
    }
    jobs.push(job(id * 10 + 3, "test", "test", "success", "dev1", 3));
    jobs.push(if waiting {
        job(id * 10 + 4, "deploy", "deploy", "manual", "dev1", 4)
    } else {
        job(id * 10 + 4, "deploy", "deploy", "success", "ops", 4)
    });
    (p, jobs)
}

/// Deployment `n`: to production (odd) or staging (even), of pipeline `n`'s commit. Production
/// deployment 5 redeploys deployment 1's commit (a rollback); deployment 7's job failed although
/// allowed to fail; production deployments were approved by `lead`.
fn deployment(n: i64) -> Value {
    let finished = base() + chrono::Duration::hours(2 * n);
    let environment = if n % 2 == 1 { "production" } else { "staging" };
    let commit = if n == 5 { sha(1) } else { sha(n) };
    let failed = n == 7;
    json!({
        "id": n, "iid": n, "ref": "main", "sha": commit, "status": if failed { "failed" } else { "success" },
        "created_at": iso(finished - chrono::Duration::minutes(30)), "updated_at": iso(finished),
        "user": { "username": "dev1" },
        "environment": { "id": if n % 2 == 1 { 1 } else { 2 }, "name": environment },
        "deployable": {
            // The deploy job of pipeline `100 + n` (a manual job), except for deployment 4: its build job.
            "id": (100 + n) * 10 + if n == 4 { 1 } else { 4 }, "name": "deploy", "stage": "deploy", "status": if failed { "failed" } else { "success" },
            "allow_failure": failed,
            "created_at": iso(finished - chrono::Duration::minutes(30)),
            "started_at": iso(finished - chrono::Duration::minutes(10)), "finished_at": iso(finished),
            "user": { "username": "ops" }, "pipeline": { "id": 100 + n, "sha": commit },
        },
    })
}

impl FakeGitlab {
    fn graphql(&self, body: &Value) -> Value {
        self.graphql_calls.fetch_add(1, Ordering::SeqCst);
        let query = body["query"].as_str().unwrap_or("");
        let vars = &body["variables"];
        if query.contains("mergeRequests(") {
            if vars["fullPath"] != json!(PROJECT) {
                return json!({ "data": { "project": null } });
            }
            let since = vars["updatedAfter"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
            let listed: Vec<&Value> = self
                .mrs
                .iter()
                .filter(|m| {
                    since.is_none_or(|s| DateTime::parse_from_rfc3339(m["updatedAt"].as_str().unwrap()).unwrap() >= s)
                })
                .collect();
            let offset: usize = vars["after"].as_str().map_or(0, |a| a.parse().unwrap());
            let first = vars["first"].as_u64().unwrap() as usize;
            let nodes: Vec<Value> = listed.iter().skip(offset).take(first).map(|m| first_page_of(m)).collect();
            let end = offset + nodes.len();
            return json!({ "data": {
                "queryComplexity": { "score": 98, "limit": 250 },
                "project": { "mergeRequests": {
                    "count": listed.len(),
                    "pageInfo": { "hasNextPage": end < listed.len(), "endCursor": end.to_string() },
                    "nodes": nodes,
                } } } });
        }
        // An overflow page of one merge request's commits or notes, 100 a page.
        let iid = vars["iid"].as_str().unwrap();
        let mr = self.mrs.iter().find(|m| m["iid"] == json!(iid)).unwrap();
        let field = if query.contains("commits(first: 100") { "commits" } else { "notes" };
        let all = mr[field].as_array().unwrap();
        let offset: usize = vars["after"].as_str().map_or(0, |a| a.parse().unwrap());
        let nodes: Vec<Value> = all.iter().skip(offset).take(100).cloned().collect();
        let end = offset + nodes.len();
        json!({ "data": { "project": { "mergeRequest": { "iid": iid, field: {
            "count": all.len(), "pageInfo": { "hasNextPage": end < all.len(), "endCursor": end.to_string() }, "nodes": nodes,
        } } } } })
    }

    /// A REST listing page: records updated within the asked slice, oldest first, `per_page` at
    /// a time, with `X-Total` (when counted) and a `Link: rel="next"`.
    fn listing(&self, request: &Request, records: &[Value]) -> Answer {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let parse = |k: &str| q.get(k).map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let (after, before) = (parse("updated_after"), parse("updated_before"));
        let mut inside: Vec<&Value> = records
            .iter()
            .filter(|r| {
                let at = DateTime::parse_from_rfc3339(r["updated_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
                after.is_none_or(|a| at >= a) && before.is_none_or(|b| at <= b)
            })
            .collect();
        inside.sort_by_key(|r| r["updated_at"].as_str().unwrap().to_string());
        let per_page: usize = q.get("per_page").map_or(20, |p| p.parse().unwrap());
        let page: usize = q.get("page").map_or(1, |p| p.parse().unwrap());
        let items: Vec<&Value> = inside.iter().skip((page - 1) * per_page).take(per_page).copied().collect();
        let mut response = Answer::json(200, json!(items))
            .header("ratelimit-remaining", "1999")
            .header("ratelimit-reset", (Utc::now().timestamp() + 60).to_string());
        if inside.len() <= self.counted {
            let reported = inside.len() + if self.lying.load(Ordering::SeqCst) { 2 } else { 0 };
            response = response.header("x-total", reported.to_string());
        }
        if page * per_page < inside.len() {
            // Absolute, like GitLab's, on the host and port the client asked.
            let host = request.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let mut next = request.url.clone();
            let kept: Vec<(String, String)> =
                request.url.query_pairs().into_owned().filter(|(k, _)| k != "page").collect();
            next.query_pairs_mut().clear().extend_pairs(kept).append_pair("page", &(page + 1).to_string());
            let next = format!("http://{host}{}?{}", next.path(), next.query().unwrap_or(""));
            response = response.header("link", format!("<{next}>; rel=\"next\""));
        }
        response
    }

    fn rest(&self, request: &Request) -> Answer {
        let path = request.url.path().to_string();
        let prefix = format!("/api/v4/projects/{ENCODED}/");
        if path == "/api/v4/job" {
            // The credentials check of a CI job token: only a JOB-TOKEN header is accepted.
            let job_token = request.headers.get("job-token").and_then(|v| v.to_str().ok());
            return if job_token == Some(TOKEN) && !request.headers.contains_key("private-token") {
                Answer::json(200, json!({ "id": 1, "name": "collect", "status": "running" }))
            } else {
                Answer::json(401, json!({ "message": "401 Unauthorized" }))
            };
        }
        if path == "/api/v4/user" {
            return match *self.auth.lock().unwrap() {
                401 => Answer::json(401, json!({ "message": "401 Unauthorized" })),
                403 => Answer::json(
                    403,
                    json!({
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api read_api" }),
                ),
                _ => Answer::json(200, json!({ "id": 1, "username": "collector" })),
            };
        }
        if path == "/api/v4/projects/4711" {
            return Answer::json(200, json!({ "id": 4711, "path_with_namespace": PROJECT }));
        }
        let Some(rest) = path.strip_prefix(&prefix) else {
            return Answer::json(404, json!({ "message": "404 Project Not Found" }));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["environments"] => Answer::json(
                200,
                json!([
                    { "id": 1, "name": "production", "tier": "production", "state": "available" },
                    { "id": 2, "name": "staging", "tier": "staging", "state": "available" },
                ]),
            ),
            ["protected_environments"] => Answer::json(
                200,
                json!([
                    { "name": "production", "deploy_access_levels": [{ "access_level": 40 }], "required_approval_count": 1 },
                ]),
            ),
            ["pipelines"] => {
                let before = request.url.query_pairs().find(|(k, _)| k == "updated_before").map(|(_, v)| v.to_string());
                if !request.url.query_pairs().any(|(k, _)| k == "page") {
                    self.pipeline_slices.lock().unwrap().push(before.unwrap_or_default());
                }
                self.listing(request, &self.pipelines)
            }
            ["pipelines", id, "jobs"] => {
                let jobs = self.jobs.get(&id.parse::<i64>().unwrap()).cloned().unwrap_or_default();
                Answer::json(200, json!(jobs))
            }
            ["deployments"] => self.listing(request, &self.deployments),
            ["deployments", id] => {
                let n: i64 = id.parse().unwrap();
                let mut d = self.deployments[(n - 1) as usize].clone();
                let approvals = if d["environment"]["name"] == "production" {
                    let at = DateTime::parse_from_rfc3339(d["deployable"]["created_at"].as_str().unwrap()).unwrap()
                        + chrono::Duration::minutes(15);
                    json!([{ "user": { "username": "lead" }, "status": "approved", "created_at": iso(at.with_timezone(&Utc)), "comment": "ok" }])
                } else {
                    json!([])
                };
                d["approvals"] = approvals;
                Answer::json(200, d)
            }
            ["deployments", id, "merge_requests"] => {
                let n: i64 = id.parse().unwrap();
                let mrs = if n == 3 {
                    json!([{ "iid": 1, "merge_commit_sha": sha(1900), "squash_commit_sha": sha(1901), "sha": sha(1001) }])
                } else {
                    json!([])
                };
                Answer::json(200, mrs)
            }
            ["repository", "compare"] => {
                let to = request.url.query_pairs().find(|(k, _)| k == "to").map(|(_, v)| v.to_string()).unwrap();
                Answer::json(200, json!({ "commits": [{ "id": to }, { "id": sha(424242) }] }))
            }
            _ => Answer::json(404, json!({ "message": "404 Not Found" })),
        }
    }
}

/// A merge request as its page lists it: the first 20 commits and first 50 notes.
fn first_page_of(mr: &Value) -> Value {
    let mut node = mr.clone();
    for (field, n) in [("commits", 20usize), ("notes", 50usize)] {
        let all = mr[field].as_array().unwrap();
        node[field] = json!({
            "count": all.len(),
            "pageInfo": { "hasNextPage": all.len() > n, "endCursor": n.min(all.len()).to_string() },
            "nodes": all.iter().take(n).cloned().collect::<Vec<_>>(),
        });
    }
    node
}

struct Shared(Arc<FakeGitlab>);

impl Respond for Shared {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let token = request.headers.get("private-token").and_then(|v| v.to_str().ok());
        if token != Some(TOKEN) && request.url.path() == "/api/v4/user" && *self.0.auth.lock().unwrap() == 200 {
            return ResponseTemplate::new(401).set_body_json(json!({ "message": "401 Unauthorized" }));
        }
        match self.0.faults.lock().unwrap().get(&call).copied() {
            Some(Fault::TooManyRequests) => {
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .insert_header("ratelimit-resettime", "Sat, 01 Mar 2025 09:01:00 GMT")
                    .set_body_string("Retry later\n");
            }
            Some(Fault::TooManyRequestsBare) => return ResponseTemplate::new(429).set_body_string("Retry later\n"),
            Some(Fault::BadGateway) => {
                return ResponseTemplate::new(502).set_body_string("<html>502 Bad Gateway</html>");
            }
            Some(Fault::TooComplex) => {
                return ResponseTemplate::new(200).set_body_json(json!({ "errors": [{
                    "message": "Query has complexity of 300, which exceeds max complexity of 250" }] }));
            }
            Some(Fault::Truncated) | None => {}
        }
        let answer = if request.url.path() == "/api/graphql" {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            Answer::json(200, self.0.graphql(&body))
        } else {
            self.0.rest(request)
        };
        let mut body = answer.body.to_string();
        if self.0.faults.lock().unwrap().get(&call) == Some(&Fault::Truncated) {
            body.truncate(body.len() / 2);
        }
        let mut template = ResponseTemplate::new(answer.status).set_body_raw(body.into_bytes(), "application/json");
        for (name, value) in answer.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template
    }
}

/// What the fake answers, before it becomes a response (so a fault can cut its body).
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer { status, body, headers: Vec::new() }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A proxy in front of the fake server that drops the connection instead of forwarding the
/// requests whose numbers are in `drop` (counted over all connections, 1-based).
struct DroppingProxy {
    address: String,
}

fn dropping_proxy(upstream: &str, drop: Vec<usize>) -> DroppingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let counter = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, counter, drop) = (upstream.clone(), counter.clone(), drop.clone());
            std::thread::spawn(move || proxy_connection(client, &upstream, &counter, &drop));
        }
    });
    DroppingProxy { address }
}

fn proxy_connection(mut client: TcpStream, upstream: &str, counter: &AtomicUsize, drop: &[usize]) {
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let mut back = server.try_clone().unwrap();
    let mut to_client = client.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut back, &mut to_client);
    });
    let mut buffer = [0u8; 65536];
    loop {
        let Ok(n) = client.read(&mut buffer) else { return };
        if n == 0 {
            return;
        }
        let chunk = &buffer[..n];
        // A request line starts each request on the connection (HTTP/1.1, one at a time).
        let starts = chunk.windows(11).filter(|w| w == b" HTTP/1.1\r\n").count();
        for _ in 0..starts {
            let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
            if drop.contains(&number) {
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
        if server.write_all(chunk).is_err() {
            return;
        }
    }
}

async fn serve(fake: Arc<FakeGitlab>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(Shared(fake)).mount(&server).await;
    server
}

fn fast() -> Pacing {
    Pacing { backoff: Duration::from_millis(5), max_wait: Duration::from_millis(20), attempts: 6 }
}

fn request(api_url: &str) -> GitlabRequest {
    let mut r = GitlabRequest::new(PROJECT, Some(api_url), Credentials::Token(TOKEN.into()));
    r.pacing = fast();
    r.per_page = 20;
    r
}

fn shop_config() -> Config {
    config("2025-01-01", "2025-12-31", "[[services]]\nname = \"shop\"\nrepos = [\"acme/platform/shop\"]\n")
}

/// Runs a collection on a plain thread (the collector starts its own runtime).
fn collect(dir: &Path, request: GitlabRequest) -> flowgauge::Result<gitlab::GitlabReport> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let mut ws = Workspace::open(&dir).unwrap();
        gitlab::collect_gitlab(&mut ws, &shop_config(), &request)
    })
    .join()
    .unwrap()
}

/// Every table as sorted text lines, for comparing workspaces.
fn dump(dir: &Path) -> Vec<String> {
    let ws = Workspace::open(dir).unwrap();
    let mut out = Vec::new();
    for schema in TABLES {
        let frame = ws.load(schema).unwrap();
        let mut lines: Vec<String> = (0..frame.height())
            .map(|i| {
                let row = frame.get_row(i).unwrap();
                format!("{}: {:?}", schema.name, row.0)
            })
            .collect();
        lines.sort();
        out.extend(lines);
    }
    out
}

fn column(dir: &Path, schema: &TableSchema, id: &str, name: &str) -> String {
    let ws = Workspace::open(dir).unwrap();
    let frame = ws.load(schema).unwrap();
    let ids = frame.column(schema.key[0]).unwrap().str().unwrap().clone();
    let i = (0..frame.height()).find(|i| ids.get(*i) == Some(id)).unwrap_or_else(|| panic!("no row {id}"));
    format!("{}", frame.column(name).unwrap().get(i).unwrap())
}

fn load_config(path: &Path) -> flowgauge::Result<Config> {
    Config::load(Some(path), &|_| None, &flowgauge::config::Overrides::default(), crate::helpers::now())
}

fn rows(dir: &Path, schema: &TableSchema) -> usize {
    Workspace::open(dir).unwrap().load(schema).unwrap().height()
}

fn every_file_text(dir: &Path) -> String {
    let mut all = String::new();
    for entry in walk(dir) {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_is_collected_into_every_table_as_gitlab_records_it() {
    let fake = Arc::new(FakeGitlab::new(60, 12, 9));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = collect(dir.path(), request(&server.uri())).unwrap();
    let d = dir.path();
    assert_eq!(report.changes, 60);
    assert_eq!(rows(d, &model::CHANGES), 60);

    // Merge request 1: the first response is the reviewer's comment (the author's own note is not),
    // the approval time comes from the system note; merge and squash commits both link it.
    let mr1 = "gitlab:mr:acme/platform/shop!1";
    assert_eq!(column(d, &model::CHANGES, mr1, "first_review_at"), "2025-03-01 11:00:00");
    assert_eq!(column(d, &model::CHANGES, mr1, "approved_at"), "2025-03-01 13:20:00");
    assert_eq!(column(d, &model::CHANGES, mr1, "first_commit_at"), "2025-03-01 05:00:00");
    let links = Workspace::open(d).unwrap().load(&model::CHANGE_COMMITS).unwrap();
    let change_ids = links.column("change_id").unwrap().str().unwrap().clone();
    let of_change = |id: &str| (0..links.height()).filter(|i| change_ids.get(*i) == Some(id)).count();
    let mine = of_change(mr1);
    assert_eq!(mine, 4, "two commits, the merge commit and the squash commit");
    // Merge request 25: 25 commits and 60 notes, past their first pages: all read, the approval too.
    let mr25 = "gitlab:mr:acme/platform/shop!25";
    let mine = of_change(mr25);
    assert_eq!(mine, 27, "25 commits, the merge commit and the squash commit");
    assert_ne!(column(d, &model::CHANGES, mr25, "approved_at"), "null");
    assert!(report.data_warnings.is_empty(), "{:?}", report.data_warnings);
    // A revert names what it reverts.
    assert_eq!(
        column(d, &model::CHANGES, "gitlab:mr:acme/platform/shop!13", "reverts_change_id"),
        "\"gitlab:mr:acme/platform/shop!12\""
    );
    // An open merge request is not merged.
    assert_eq!(column(d, &model::CHANGES, "gitlab:mr:acme/platform/shop!4", "merged_at"), "null");

    // Pipelines: sources become triggers; jobs include the retried attempt and the manual deploy.
    assert_eq!(rows(d, &model::PIPELINES), 12);
    assert_eq!(column(d, &model::PIPELINES, "gitlab:pipeline:acme/platform/shop:101", "trigger"), "\"manual\"");
    assert_eq!(column(d, &model::PIPELINES, "gitlab:pipeline:acme/platform/shop:104", "trigger"), "\"other\"");
    assert_eq!(column(d, &model::PIPELINES, "gitlab:pipeline:acme/platform/shop:101", "triggered_by"), "\"dev1\"");
    assert_eq!(column(d, &model::JOBS, "gitlab:job:acme/platform/shop:1053", "attempt"), "2", "the retried test");
    assert_eq!(column(d, &model::JOBS, "gitlab:job:acme/platform/shop:1014", "is_manual"), "true", "played by ops");
    assert_eq!(column(d, &model::JOBS, "gitlab:job:acme/platform/shop:1014", "triggered_by"), "\"ops\"");
    assert_eq!(column(d, &model::JOBS, "gitlab:job:acme/platform/shop:1034", "is_manual"), "true", "waiting");
    assert_eq!(column(d, &model::JOBS, "gitlab:job:acme/platform/shop:1011", "is_manual"), "false");
    assert_eq!(column(d, &model::EVIDENCE, "gitlab:acme/platform/shop:manual-job:deploy", "kind"), "\"manual_step\"");
    assert_eq!(
        column(d, &model::EVIDENCE, "gitlab:acme/platform/shop:environment:production:approval", "kind"),
        "\"manual_step\""
    );

    // Deployments: production by tier, approvals with their wait, the allow_failure job failed,
    // the redeploy of an older commit is a rollback.
    let dep = |n: i64| format!("gitlab:deployment:acme/platform/shop:{n}");
    assert_eq!(rows(d, &model::DEPLOYMENTS), 9);
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(1), "is_production"), "true");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(2), "is_production"), "false");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(3), "approval_wait_seconds"), "900.0");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(3), "is_manual"), "true");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(2), "is_manual"), "true", "its job was played by hand");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(4), "is_manual"), "null", "an automatic job, no approval");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(7), "status"), "\"failure\"");
    assert_eq!(column(d, &model::DEPLOYMENTS, &dep(5), "is_rollback"), "true");
    assert_eq!(
        column(d, &model::APPROVALS, "gitlab:deployment-approval:acme/platform/shop:3:lead", "state"),
        "\"approved\""
    );

    // What shipped: deployment 3 from GitLab's merge requests, deployment 9 by compare with 5.
    let shipped = Workspace::open(d).unwrap().load(&model::DEPLOYMENT_COMMITS).unwrap();
    let of = |id: &str| -> Vec<String> {
        let ids = shipped.column("deployment_id").unwrap().str().unwrap();
        let shas = shipped.column("sha").unwrap().str().unwrap();
        let mut v: Vec<String> = (0..shipped.height())
            .filter(|i| ids.get(*i) == Some(id))
            .map(|i| shas.get(i).unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(of(&dep(3)), vec![sha(1001), sha(1900), sha(1901)]);
    assert_eq!(of(&dep(9)), vec![sha(9), sha(424242)]);
    assert!(of(&dep(1)).is_empty(), "the first deployment of an environment has nothing to compare with");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_merge_requests_cost_a_few_dozen_requests() {
    let fake = Arc::new(FakeGitlab::new(1000, 0, 0));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.resources = vec![gitlab::Resource::MergeRequests];
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(report.changes, 1000);
    // 20 pages of 50, one overflow page of commits and one of notes for each of the 40 big ones,
    // and the credentials check.
    assert_eq!(fake.graphql_calls.load(Ordering::SeqCst), 20 + 80);
    assert_eq!(report.requests, 101);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_survived_and_end_in_the_same_tables() {
    let clean = Arc::new(FakeGitlab::new(60, 12, 9));
    let server = serve(clean.clone()).await;
    let reference = tempfile::tempdir().unwrap();
    collect(reference.path(), request(&server.uri())).unwrap();

    let faulty = Arc::new(FakeGitlab::new(60, 12, 9));
    {
        let mut faults = faulty.faults.lock().unwrap();
        faults.insert(1, Fault::BadGateway); // the credentials check
        faults.insert(3, Fault::TooManyRequests);
        faults.insert(6, Fault::TooManyRequestsBare);
        faults.insert(9, Fault::Truncated);
        faults.insert(14, Fault::BadGateway);
        faults.insert(20, Fault::Truncated);
        faults.insert(31, Fault::TooManyRequests);
    }
    let server = serve(faulty.clone()).await;
    // Connections dropped by a proxy in front, on the 2nd and 17th request.
    let proxy = dropping_proxy(&server.uri(), vec![2, 17]);
    let dir = tempfile::tempdir().unwrap();
    let report = collect(dir.path(), request(&proxy.address)).unwrap();
    assert!(report.retries >= 8, "{report:?}");
    assert_eq!(dump(dir.path()), dump(reference.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_resumes_and_ends_as_one_run_would() {
    let fake = Arc::new(FakeGitlab::new(120, 30, 9));
    let server = serve(fake.clone()).await;
    let reference = tempfile::tempdir().unwrap();
    collect(reference.path(), request(&server.uri())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    for stop in [1, 2, 3, 3] {
        let mut r = request(&server.uri());
        r.stop_after_pages = Some(stop);
        let error = collect(dir.path(), r).unwrap_err().to_string();
        assert!(error.contains("stopped after the pages asked for"), "{error}");
    }
    let report = collect(dir.path(), request(&server.uri())).unwrap();
    assert!(report.resumed);
    assert_eq!(dump(dir.path()), dump(reference.path()));
    // A second run reads only what changed since: nothing, apart from the snapshots.
    let again = collect(dir.path(), request(&server.uri())).unwrap();
    assert_eq!(again.changes, 60.min(again.changes));
    assert_eq!(dump(dir.path()), dump(reference.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_re_extraction_equals_the_online_run() {
    let fake = Arc::new(FakeGitlab::new(60, 12, 9));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    collect(dir.path(), request(&server.uri())).unwrap();
    let online = dump(dir.path());
    // Rebuild every table from the raw pages in a fresh workspace.
    let fresh = tempfile::tempdir().unwrap();
    let pages = dir.path().join("raw").join("gitlab");
    let mut ws = Workspace::open(fresh.path()).unwrap();
    let report = gitlab::reextract_from(&mut ws, &shop_config(), PROJECT, &pages).unwrap();
    assert!(report.pages > 0);
    drop(ws);
    assert_eq!(dump(fresh.path()), online);
}

#[tokio::test(flavor = "multi_thread")]
async fn listings_past_the_counted_limit_are_split_into_smaller_slices() {
    let mut fake = FakeGitlab::new(0, 60, 0);
    fake.counted = 15; // GitLab leaves X-Total out past 10,000 records; here past 15.
    let fake = Arc::new(fake);
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.resources = vec![gitlab::Resource::Pipelines];
    r.slice_limit = 15;
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(report.pipelines, 60);
    assert_eq!(rows(dir.path(), &model::PIPELINES), 60);
    let slices = fake.pipeline_slices.lock().unwrap().len();
    assert!(slices >= 5, "the whole history was split into slices of at most 15: {slices} listings");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_that_reports_more_than_it_returns_is_an_error_and_moves_no_cursor() {
    let fake = Arc::new(FakeGitlab::new(0, 10, 0));
    fake.lying.store(true, Ordering::SeqCst);
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.resources = vec![gitlab::Resource::Pipelines];
    let error = collect(dir.path(), r.clone()).unwrap_err().to_string();
    assert!(error.contains("GitLab listed 10 of the 12 pipelines"), "{error}");
    let ws = Workspace::open(dir.path()).unwrap();
    let state = &ws.manifest().sources["gitlab:acme/platform/shop:pipelines"];
    let cursor: Value = serde_json::from_str(&state.cursor).unwrap();
    assert!(cursor["high_water"].is_null(), "{cursor}");
    drop(ws);
    // GitLab fixed: the next run reads the slice again, in halves, and finishes.
    fake.lying.store(false, Ordering::SeqCst);
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(rows(dir.path(), &model::PIPELINES), 10);
    assert!(report.resumed);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_missing_scopes_and_projects_say_what_to_fix() {
    let fake = Arc::new(FakeGitlab::new(3, 0, 0));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();

    let mut r = request(&server.uri());
    r.credentials = Credentials::Token("glpat-wrong-token-value".into());
    let error = collect(dir.path(), r).unwrap_err().to_string();
    assert!(error.contains("token was refused") && error.contains("GITLAB_TOKEN"), "{error}");
    assert!(!error.contains("glpat-wrong-token-value"));

    *fake.auth.lock().unwrap() = 403;
    let error = collect(dir.path(), request(&server.uri())).unwrap_err().to_string();
    assert!(error.contains("insufficient_scope") && error.contains("read_api"), "{error}");

    *fake.auth.lock().unwrap() = 200;
    let mut r = request(&server.uri());
    r.project = "acme/nothing".into();
    r.resources = vec![gitlab::Resource::Environments];
    let error = collect(dir.path(), r).unwrap_err().to_string();
    assert!(error.contains("acme/nothing") && error.contains("404") && error.contains("project path"), "{error}");
    let mut r = request(&server.uri());
    r.project = "acme/nothing".into();
    r.resources = vec![gitlab::Resource::MergeRequests];
    let error = collect(dir.path(), r).unwrap_err().to_string();
    assert!(error.contains("without the project"), "{error}");
}

#[test]
fn the_cli_collects_a_project_and_never_shows_the_token() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = Arc::new(FakeGitlab::new(30, 6, 5));
    let server = runtime.block_on(serve(fake.clone()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flowgauge.toml"),
        format!(
            "[[services]]\nname = \"shop\"\nrepos = [\"{PROJECT}\"]\n\n[[sources]]\ntype = \"gitlab\"\nproject = \"{PROJECT}\"\napi_url = \"{}\"\nmax_wait_seconds = 0\n",
            server.uri()
        ),
    )
    .unwrap();
    let run = |args: &[&str], token: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flowgauge"))
            .current_dir(dir.path())
            .args(args)
            .env("GITLAB_TOKEN", token)
            .env_remove("CI_JOB_TOKEN")
            .output()
            .unwrap()
    };
    let out = run(&["collect", "gitlab"], TOKEN);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("GitLab acme/platform/shop:") && stderr.contains("30 merge requests"), "{stderr}");
    let offline = run(&["collect", "gitlab", "--project", PROJECT, "--offline"], TOKEN);
    assert!(offline.status.success(), "{}", text(&offline.stderr));
    let refused = run(&["collect", "gitlab"], "glpat-not-the-right-one");
    assert_eq!(refused.status.code(), Some(4));
    assert!(text(&refused.stderr).contains("GITLAB_TOKEN"));
    for output in [stdout, stderr, text(&offline.stdout), text(&offline.stderr)] {
        assert!(!output.contains(TOKEN), "the token leaked: {output}");
    }
    assert!(!every_file_text(dir.path()).contains(TOKEN), "the token reached the workspace");
    let bad = run(&["collect", "gitlab", "--project", "not a project"], TOKEN);
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad.stderr));
    let never = run(&["collect", "gitlab", "--project", "acme/never-collected", "--offline"], TOKEN);
    assert_eq!(never.status.code(), Some(7), "{}", text(&never.stderr));
    assert!(text(&never.stderr).contains("flowgauge collect gitlab --project acme/never-collected"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_numeric_project_id_is_resolved_to_its_path() {
    let fake = Arc::new(FakeGitlab::new(5, 0, 0));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.project = "4711".into();
    r.resources = vec![gitlab::Resource::MergeRequests];
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(report.project, PROJECT);
    assert_eq!(column(dir.path(), &model::CHANGES, "gitlab:mr:acme/platform/shop!1", "service"), "\"shop\"");
}

#[test]
fn gitlab_sources_are_configured_by_project_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let load = |sources: &str| {
        let path = dir.path().join("flowgauge.toml");
        std::fs::write(
            &path,
            format!("[[services]]\nname = \"shop\"\nrepos = [\"{PROJECT}\"]\n\n[[sources]]\n{sources}"),
        )
        .unwrap();
        load_config(&path).map(|c| c.sources.len()).map_err(|e| e.to_string())
    };
    assert_eq!(
        load("type = \"gitlab\"\nproject = \"acme/platform/shop\"\napi_url = \"https://gitlab.example.com\"\n"),
        Ok(1)
    );
    let error = load("type = \"gitlab\"\n").unwrap_err();
    assert!(error.contains("sources[0].project") && error.contains("needs project"), "{error}");
    let error = load("type = \"gitlab\"\nrepo = \"acme/shop\"\nproject = \"acme/shop\"\n").unwrap_err();
    assert!(error.contains("sources[0].repo") && error.contains("names its `project`"), "{error}");
    let error = load("type = \"gitlab\"\nproject = \"acme shop\"\n").unwrap_err();
    assert!(error.contains("sources[0].project") && error.contains("group/name"), "{error}");
    let error = load("type = \"github\"\nrepo = \"acme/shop\"\nproject = \"acme/shop\"\n").unwrap_err();
    assert!(error.contains("applies to gitlab sources"), "{error}");
    let error = load("type = \"gitlab\"\nproject = \"acme/shop\"\nrecorded = \"nowhere\"\n").unwrap_err();
    assert!(error.contains("sources[0].recorded") && error.contains("does not exist"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_with_recorded_pages_is_read_without_the_network() {
    let fake = Arc::new(FakeGitlab::new(20, 6, 5));
    let server = serve(fake.clone()).await;
    let online = tempfile::tempdir().unwrap();
    collect(online.path(), request(&server.uri())).unwrap();
    // The raw pages, shipped beside a configuration that names them.
    let shipped = tempfile::tempdir().unwrap();
    crate::helpers::copy_dir(&online.path().join("raw").join("gitlab"), &shipped.path().join("gitlab"));
    std::fs::write(
        shipped.path().join("flowgauge.toml"),
        format!("[[services]]\nname = \"shop\"\nrepos = [\"{PROJECT}\"]\n\n[[sources]]\ntype = \"gitlab\"\nproject = \"{PROJECT}\"\nrecorded = \"gitlab\"\n"),
    )
    .unwrap();
    let config = load_config(&shipped.path().join("flowgauge.toml")).unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let path = workspace.path().to_path_buf();
    let calls = fake.calls.load(Ordering::SeqCst);
    std::thread::spawn(move || {
        let mut ws = Workspace::open(&path).unwrap();
        flowgauge::collect::collect_configured(&mut ws, &config).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), calls, "no request");
    assert_eq!(dump(workspace.path()), dump(online.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_gitlab_finds_too_complex_is_asked_again_with_smaller_pages() {
    let fake = Arc::new(FakeGitlab::new(120, 0, 0));
    fake.faults.lock().unwrap().insert(2, Fault::TooComplex);
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.resources = vec![gitlab::Resource::MergeRequests];
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(report.changes, 120);
    assert_eq!(rows(dir.path(), &model::CHANGES), 120);
    // After the refused query (answered before the fake reads it), pages of 25 instead of 50: five
    // pages, plus the overflow pages of the 4 big merge requests.
    assert_eq!(fake.graphql_calls.load(Ordering::SeqCst), 5 + 8);
    assert_eq!(report.retries, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ci_job_token_is_sent_as_job_token() {
    let fake = Arc::new(FakeGitlab::new(0, 3, 0));
    let server = serve(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(&server.uri());
    r.credentials = Credentials::JobToken(TOKEN.into());
    r.resources = vec![gitlab::Resource::Environments, gitlab::Resource::Pipelines];
    let report = collect(dir.path(), r).unwrap();
    assert_eq!(report.pipelines, 3);
    let mut r = request(&server.uri());
    r.credentials = Credentials::JobToken("an-expired-job-token".into());
    let error = collect(dir.path(), r).unwrap_err().to_string();
    assert!(error.contains("CI_JOB_TOKEN is valid only while its job runs"), "{error}");
}
