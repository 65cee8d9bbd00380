//! Benchmark: the Jira collector reading 10,000 incidents with their status histories from a local
//! fake Jira Cloud, beside the naive approach of one changelog request per incident.
//!
//! Why it exists: what makes a tracker collector slow is round trips, not CPU. Jira Cloud can return
//! the changelogs of up to 1,000 issues in one `POST /rest/api/3/changelog/bulkfetch`; a collector
//! that asks `GET /rest/api/3/issue/{key}/changelog` for each incident pays one round trip per
//! incident. The figures printed side by side are the requests, and the wall time once every
//! request pays a realistic latency. Nothing is asserted.
//!
//! `cargo bench --bench jira [-- --incidents N --latency-ms N --baseline-incidents N]` (or
//! `FLOWGAUGE_BENCH_INCIDENTS`, `FLOWGAUGE_BENCH_LATENCY_MS`, `FLOWGAUGE_BENCH_BASELINE_INCIDENTS`).
//! Defaults: 10,000 incidents, 20 ms added to every answer, the baseline timed on its first 500
//! incidents and extrapolated (its request count is exact). Remote links are off in the timed run
//! (they cost one request per incident in both approaches, and are counted apart).
//!
//! The fake (a wiremock server) answers `GET /rest/api/2/serverInfo` (Cloud), `POST
//! /rest/api/3/search/jql` (100 issues a page, `nextPageToken`), `POST
//! /rest/api/3/changelog/bulkfetch` (the histories of the issues asked, at most 1,000 histories an
//! answer, `nextPageToken`) and `GET /rest/api/3/issue/{key}/changelog` (one issue's histories, as
//! Jira pages them: `startAt`, `maxResults`, `total`, `values`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::jira::{self, JiraRequest, client::Auth};
use flowgauge::config::{Config, Source};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const EMAIL: &str = "bench@acme.example";
const TOKEN: &str = "benchmark-token-not-a-secret";

struct Fake {
    incidents: usize,
    latency: Duration,
    requests: Arc<AtomicU64>,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Incident `i`: opened `i` × 45 minutes after the base; in progress after 5 min, every other one
/// mitigated after 40 min, resolved after 3 h.
fn histories(i: usize) -> Vec<Value> {
    let opened = base() + chrono::Duration::minutes(45 * i as i64);
    let mut moves = vec![(5, "In Progress")];
    if i.is_multiple_of(2) {
        moves.push((40, "Mitigated"));
    }
    moves.push((180, "Resolved"));
    moves
        .iter()
        .enumerate()
        .map(|(k, (minutes, to))| {
            json!({ "id": format!("{}", i * 10 + k), "created": at(opened + chrono::Duration::minutes(*minutes)),
                    "author": { "displayName": "On-call", "accountType": "atlassian" },
                    "items": [{ "field": "status", "fieldId": "status", "fromString": "Open", "toString": to }] })
        })
        .collect()
}

fn issue(i: usize) -> Value {
    let opened = base() + chrono::Duration::minutes(45 * i as i64);
    json!({ "id": format!("{}", 100_000 + i), "key": format!("OPS-{i}"), "fields": {
        "summary": format!("Incident {i}"), "created": at(opened), "updated": at(opened + chrono::Duration::hours(3)),
        "resolutiondate": at(opened + chrono::Duration::hours(3)), "status": { "name": "Resolved" },
        "priority": { "name": "High" }, "components": [{ "name": "ledger" }], "issuelinks": [],
        "reporter": { "displayName": "Datadog", "accountType": "app" } } })
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let path = request.url.path();
        let answer = match (request.method.as_str(), path) {
            ("GET", "/rest/api/2/serverInfo") => json!({ "deploymentType": "Cloud" }),
            ("POST", "/rest/api/3/search/jql") => {
                let start: usize = body["nextPageToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let end = (start + 100).min(self.incidents);
                let mut page = json!({ "issues": (start + 1..=end).map(issue).collect::<Vec<_>>(), "isLast": end >= self.incidents });
                if end < self.incidents {
                    page["nextPageToken"] = json!(end.to_string());
                }
                page
            }
            ("POST", "/rest/api/3/changelog/bulkfetch") => {
                let ids: Vec<usize> = body["issueIdsOrKeys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().parse::<usize>().unwrap() - 100_000)
                    .collect();
                // At most 1,000 histories an answer, whole issues.
                let from: usize = body["nextPageToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let (mut logs, mut histories_in, mut next) = (Vec::new(), 0, None);
                for (n, i) in ids.iter().enumerate().skip(from) {
                    let h = histories(*i);
                    if histories_in + h.len() > 1000 {
                        next = Some(n);
                        break;
                    }
                    histories_in += h.len();
                    logs.push(json!({ "issueId": format!("{}", 100_000 + i), "changeHistories": h }));
                }
                let mut page = json!({ "issueChangeLogs": logs });
                if let Some(n) = next {
                    page["nextPageToken"] = json!(n.to_string());
                }
                page
            }
            ("GET", p) if p.ends_with("/changelog") => {
                let i: usize = p.split('/').rev().nth(1).unwrap_or("").trim_start_matches("OPS-").parse().unwrap_or(0);
                let h = histories(i);
                json!({ "startAt": 0, "maxResults": 100, "total": h.len(), "isLast": true, "values": h })
            }
            _ => return ResponseTemplate::new(404).set_delay(self.latency),
        };
        ResponseTemplate::new(200).set_body_json(answer).set_delay(self.latency)
    }
}

fn arg(name: &str, env: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .or_else(|| std::env::var(env).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The naive approach: the same search pages, then one changelog request per incident.
async fn naive(uri: &str, incidents: usize, timed: usize) -> (u64, Duration) {
    let client = reqwest::Client::new();
    let mut requests = 0;
    let started = Instant::now();
    let mut token: Option<String> = None;
    let mut read = 0;
    while read < timed {
        let mut body = json!({ "jql": "project = OPS", "maxResults": 100 });
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let page: Value = client
            .post(format!("{uri}/rest/api/3/search/jql"))
            .basic_auth(EMAIL, Some(TOKEN))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        requests += 1;
        for issue in page["issues"].as_array().unwrap() {
            if read >= timed {
                break;
            }
            let key = issue["key"].as_str().unwrap();
            let _: Value = client
                .get(format!("{uri}/rest/api/3/issue/{key}/changelog?startAt=0&maxResults=100"))
                .basic_auth(EMAIL, Some(TOKEN))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            requests += 1;
            read += 1;
        }
        token = page["nextPageToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let elapsed = started.elapsed();
    // Exact count for all incidents: one search per 100 and one changelog request per incident.
    let all = incidents.div_ceil(100) as u64 + incidents as u64;
    let per_request = elapsed.as_secs_f64() / requests.max(1) as f64;
    (all, Duration::from_secs_f64(per_request * all as f64))
}

fn main() {
    let incidents = arg("--incidents", "FLOWGAUGE_BENCH_INCIDENTS", 10_000) as usize;
    let latency = Duration::from_millis(arg("--latency-ms", "FLOWGAUGE_BENCH_LATENCY_MS", 20));
    let baseline = arg("--baseline-incidents", "FLOWGAUGE_BENCH_BASELINE_INCIDENTS", 500) as usize;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(any()).respond_with(Fake { incidents, latency, requests: requests.clone() }).mount(&server).await;
        server
    });
    let config = Config::from_toml(
        &format!(
            "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\n\
             [[sources]]\ntype = \"jira\"\napi_url = \"{}\"\nprojects = [\"OPS\"]\nremote_links = false\n",
            server.uri()
        ),
        Utc::now(),
    )
    .unwrap();
    let source =
        config.sources.iter().find_map(|s| if let Source::Jira(j) = s { Some((**j).clone()) } else { None }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(dir.path()).unwrap();
    let request = JiraRequest::new(&source, Some(Auth::Basic { email: EMAIL.into(), token: TOKEN.into() }));
    let started = Instant::now();
    let report = jira::collect_jira(&mut workspace, &config, &request).unwrap();
    let ours = started.elapsed();
    let ours_requests = requests.load(Ordering::Relaxed);

    let (naive_requests, naive_time) = runtime.block_on(naive(&server.uri(), incidents, baseline.min(incidents)));

    println!("Jira Cloud: {incidents} incidents with their status histories, {} ms per answer", latency.as_millis());
    println!();
    println!("{:<44}{:>12}{:>14}{:>18}", "", "requests", "wall time", "per 1,000 incid.");
    let per_1000 = |n: u64| n as f64 * 1000.0 / incidents as f64;
    println!(
        "{:<44}{:>12}{:>13.1}s{:>18.1}",
        "flowgauge (search/jql + changelog/bulkfetch)",
        ours_requests,
        ours.as_secs_f64(),
        per_1000(ours_requests)
    );
    println!(
        "{:<44}{:>12}{:>13.1}s{:>18.1}",
        "naive (one changelog request per incident)",
        naive_requests,
        naive_time.as_secs_f64(),
        per_1000(naive_requests)
    );
    println!(
        "{:<44}{:>11.1}x{:>13.1}x",
        "ratio naive / flowgauge",
        naive_requests as f64 / ours_requests.max(1) as f64,
        naive_time.as_secs_f64() / ours.as_secs_f64()
    );
    println!();
    println!(
        "flowgauge: {} search, {} changelog requests (+1 serverInfo); {} incidents, {} restored at mitigation, {} at resolution",
        report.search_requests, report.changelog_requests, report.incidents, report.by_mitigation, report.by_resolution
    );
    println!(
        "naive wall time measured on its first {} incidents and extrapolated; its request count is exact",
        baseline.min(incidents)
    );
    println!("remote links (off here) add one request per incident to either approach");
}
