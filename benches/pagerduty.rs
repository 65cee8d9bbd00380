//! Benchmark: the PagerDuty collector against a local fake PagerDuty holding a generated account,
//! beside the naive approach of one log-entry request per incident (issue 12's requirement:
//! "requests for 10,000 incidents with their log entries beside the naive approach").
//!
//! Why it exists: what makes an incident-tracker collector slow is the number of round trips under
//! a limit of 960 requests a minute, not the CPU. The figures are requests, the wall time once every
//! request pays a latency, and the minutes PagerDuty's rate limit alone would impose. Nothing is
//! asserted: both approaches are printed side by side with their ratio.
//!
//! `cargo bench --bench pagerduty [-- --incidents N --latency-ms N --baseline-incidents N
//! --change-event-days N]` (or `FLOWGAUGE_BENCH_INCIDENTS`, `FLOWGAUGE_BENCH_LATENCY_MS`,
//! `FLOWGAUGE_BENCH_BASELINE_INCIDENTS`, `FLOWGAUGE_BENCH_CHANGE_EVENT_DAYS`; flags win). Defaults:
//! 10,000 incidents, one every 43 minutes (about 300 days), each with four overview log entries
//! (trigger, acknowledge, assign, resolve); a change event every 7 days; 5 ms added to every response;
//! the naive approach timed on its first 1,000 incidents and extrapolated linearly (its request
//! count is exact).
//!
//! The fake (a wiremock server) answers in the documented shapes: `GET /incidents`,
//! `/log_entries` and `/change_events` filtered by `since`/`until`, paged by `limit` (≤ 100) and
//! `offset` with `more` and `total`, 400 past `offset + limit` = 10,000;
//! `GET /incidents/{id}/log_entries` and `/incidents/{id}/related_change_events`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use flowgauge::collect::http::retry::Pacing;
use flowgauge::collect::pagerduty::{self, PagerdutyRequest};
use flowgauge::config::{Config, Source};
use flowgauge::store::Workspace;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "benchmarkTokenThatIsNotASecret";
/// PagerDuty's limit per API key.
const PER_MINUTE: f64 = 960.0;

fn setting(flag: &str, env: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    let from_flag = args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok());
    from_flag.or_else(|| std::env::var(env).ok().and_then(|v| v.trim().parse().ok())).unwrap_or(default)
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The generated account: every listing sorted by time, with its times parsed, so that the fake's
/// own work per request is a binary search (the figures are about round trips, not the fake).
struct Account {
    incidents: Vec<(DateTime<Utc>, Value)>,
    log_entries: Vec<(DateTime<Utc>, Value)>,
    change_events: Vec<(DateTime<Utc>, Value)>,
    by_incident: std::collections::HashMap<String, Vec<Value>>,
    latency: Duration,
    requests: AtomicU64,
}

fn timed(items: Vec<Value>, field: &str) -> Vec<(DateTime<Utc>, Value)> {
    let mut out: Vec<(DateTime<Utc>, Value)> = items
        .into_iter()
        .map(|v| (DateTime::parse_from_rfc3339(v[field].as_str().unwrap()).unwrap().with_timezone(&Utc), v))
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

impl Account {
    fn new(n: usize, change_event_days: i64, latency: Duration) -> Account {
        let service = json!({"id": "PBENCH1", "type": "service_reference", "summary": "Checkout"});
        let user = json!({"id": "PUSER01", "type": "user_reference", "summary": "Ann"});
        let monitor =
            json!({"id": "PINT001", "type": "events_api_v2_inbound_integration_reference", "summary": "Datadog"});
        let (mut incidents, mut log_entries) = (Vec::with_capacity(n), Vec::with_capacity(4 * n));
        for k in 1..=n {
            let id = format!("Q{k:07}");
            let created = base() + chrono::Duration::minutes(43 * k as i64);
            let resolved = created + chrono::Duration::minutes(90);
            incidents.push(json!({
                "id": id, "type": "incident", "incident_number": k, "title": format!("Incident {k}"),
                "created_at": iso(created), "status": "resolved", "urgency": "high", "service": service,
                "priority": null, "teams": [], "assignments": [], "acknowledgements": [],
                "resolved_at": iso(resolved), "last_status_change_at": iso(resolved),
            }));
            let incident = json!({"id": id, "type": "incident_reference"});
            for (suffix, kind, minutes, agent) in [
                ("T", "trigger_log_entry", 0, &monitor),
                ("S", "assign_log_entry", 0, &monitor),
                ("A", "acknowledge_log_entry", 4, &user),
                ("R", "resolve_log_entry", 90, &user),
            ] {
                log_entries.push(json!({
                    "id": format!("R{k:07}{suffix}"), "type": kind,
                    "created_at": iso(created + chrono::Duration::minutes(minutes)), "agent": agent,
                    "incident": incident, "assignees": [user],
                }));
            }
        }
        let last = base() + chrono::Duration::minutes(43 * n as i64);
        let mut change_events = Vec::new();
        let mut t = base();
        while change_event_days > 0 && t < last {
            change_events.push(json!({
                "id": format!("C{}", t.timestamp()), "type": "change_event", "timestamp": iso(t),
                "summary": "deploy", "services": [service], "links": [], "custom_details": {"sha": format!("{:040x}", t.timestamp())},
            }));
            t += chrono::Duration::days(change_event_days);
        }
        let mut by_incident: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
        for entry in &log_entries {
            by_incident.entry(entry["incident"]["id"].as_str().unwrap().to_string()).or_default().push(entry.clone());
        }
        Account {
            incidents: timed(incidents, "created_at"),
            log_entries: timed(log_entries, "created_at"),
            change_events: timed(change_events, "timestamp"),
            by_incident,
            latency,
            requests: AtomicU64::new(0),
        }
    }
}

fn list(request: &Request, items: &[(DateTime<Utc>, Value)], key: &str) -> ResponseTemplate {
    let q: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
    let number = |k: &str, d: u64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (offset, limit) = (number("offset", 0), number("limit", 25).min(100));
    if offset + limit > 10_000 {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"error": {"message": "Offset too large", "code": 2001}}));
    }
    let at = |k: &str| q.get(k).and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc));
    let from = at("since").map_or(0, |s| items.partition_point(|(t, _)| *t < s));
    let to = at("until").map_or(items.len(), |u| items.partition_point(|(t, _)| *t < u)).max(from);
    let inside = &items[from..to];
    let total = inside.len() as u64;
    let page: Vec<&Value> = inside.iter().skip(offset as usize).take(limit as usize).map(|(_, v)| v).collect();
    let mut body = json!({"limit": limit, "offset": offset, "more": offset + limit < total, "total": total});
    body[key] = json!(page);
    ResponseTemplate::new(200).set_body_json(body)
}

struct Handler(Arc<Account>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let account = &self.0;
        account.requests.fetch_add(1, Ordering::Relaxed);
        let path = request.url.path();
        let response = if path == "/incidents" {
            list(request, &account.incidents, "incidents")
        } else if path == "/log_entries" {
            list(request, &account.log_entries, "log_entries")
        } else if path == "/change_events" {
            list(request, &account.change_events, "change_events")
        } else if let Some(id) = path.strip_prefix("/incidents/").and_then(|p| p.strip_suffix("/log_entries")) {
            let entries = account.by_incident.get(id).cloned().unwrap_or_default();
            ResponseTemplate::new(200)
                .set_body_json(json!({"log_entries": entries, "limit": 100, "offset": 0, "more": false}))
        } else if path.ends_with("/related_change_events") {
            ResponseTemplate::new(200).set_body_json(json!({"change_events": []}))
        } else {
            ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "Not Found", "code": 2100}}))
        };
        response.set_delay(account.latency)
    }
}

/// The naive approach, with the same client stack: list incidents, then ask each incident's log
/// entries. (Related change events cost it as much as the collector; they are added by count.)
async fn naive(uri: &str, account: &Account, incidents: usize) -> (u64, Duration) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut requests = 0u64;
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{uri}{path}");
        async move {
            let response = client.get(url).header("Authorization", format!("Token token={TOKEN}")).send().await;
            response.expect("fake answers").text().await.expect("body")
        }
    };
    for offset in (0..incidents).step_by(100) {
        let since = iso(base());
        let until = iso(base() + chrono::Duration::days(400));
        let _ = get(format!("/incidents?since={since}&until={until}&limit=100&offset={offset}")).await;
        requests += 1;
    }
    for (_, incident) in account.incidents.iter().take(incidents) {
        let _ = get(format!("/incidents/{}/log_entries?is_overview=true", incident["id"].as_str().unwrap())).await;
        requests += 1;
    }
    (requests, started.elapsed())
}

fn minutes_at_limit(requests: u64) -> f64 {
    requests as f64 / PER_MINUTE
}

fn main() {
    let n = setting("--incidents", "FLOWGAUGE_BENCH_INCIDENTS", 10_000).max(1);
    let latency_ms = setting("--latency-ms", "FLOWGAUGE_BENCH_LATENCY_MS", 5);
    let baseline = setting("--baseline-incidents", "FLOWGAUGE_BENCH_BASELINE_INCIDENTS", 1_000).clamp(1, n);
    let change_days = setting("--change-event-days", "FLOWGAUGE_BENCH_CHANGE_EVENT_DAYS", 7) as i64;
    let latency = Duration::from_millis(latency_ms as u64);
    let account = Arc::new(Account::new(n, change_days, latency));
    println!(
        "flowgauge PagerDuty collector benchmark: a local fake PagerDuty, {latency_ms} ms added to every response"
    );
    println!(
        "account         {n} incidents over {} days, {} overview log entries, {} change events",
        (43 * n as i64) / 1440,
        account.log_entries.len(),
        account.change_events.len()
    );

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let server = runtime.block_on(async {
        let server = MockServer::builder().disable_request_recording().start().await;
        Mock::given(any()).respond_with(Handler(account.clone())).mount(&server).await;
        server
    });
    let uri = server.uri();

    let toml = r#"
[analysis]
since = "2025-01-01"
until = "2026-01-01"
[[services]]
name = "checkout"
[[sources]]
type = "pagerduty"
account = "bench"
service_map = [{ pagerduty = "Checkout", service = "checkout" }]
"#;
    let config = Config::from_toml(toml, Utc::now()).expect("benchmark configuration");
    let Some(Source::Pagerduty(source)) = config.sources.first().cloned() else { unreachable!() };
    let mut request = PagerdutyRequest::new(&source, &config, TOKEN.to_string());
    request.api_url = uri.clone();
    request.pacing = Pacing { backoff: Duration::from_millis(10), max_wait: Duration::from_secs(1), attempts: 3 };
    request.since = base() - chrono::Duration::days(1);
    let dir = tempfile::tempdir().expect("temporary workspace");
    let mut workspace = Workspace::open(dir.path()).expect("workspace");
    let started = Instant::now();
    let report = pagerduty::collect_pagerduty(&mut workspace, &config, &request).expect("collection");
    let ours_time = started.elapsed();
    let ours = account.requests.load(Ordering::Relaxed);
    let related =
        std::fs::read_dir(dir.path().join("raw/pagerduty/bench/related_change_events")).map_or(0, |d| d.count() as u64);

    let before = account.requests.load(Ordering::Relaxed);
    let (naive_sample, naive_sample_time) = runtime.block_on(naive(&uri, &account, baseline));
    debug_assert_eq!(account.requests.load(Ordering::Relaxed) - before, naive_sample);
    // Exact count; time per request as measured on the sample, for every request.
    let naive_requests = n.div_ceil(100) as u64 + n as u64 + related;
    let naive_time = (naive_sample_time / naive_sample.max(1) as u32) * naive_requests as u32;

    println!(
        "collected       {} incidents, {} pages kept, {} windows split",
        report.incidents, report.pages, report.splits
    );
    println!();
    println!("{:<44} {:>10} {:>12} {:>16}", "approach", "requests", "wall time", "minutes at 960/min");
    println!(
        "{:<44} {:>10} {:>11.1}s {:>16.1}",
        "flowgauge (windows, bulk overview log entries)",
        ours,
        ours_time.as_secs_f64(),
        minutes_at_limit(ours)
    );
    println!(
        "{:<44} {:>10} {:>11.1}s {:>16.1}",
        "naive (one log-entry request per incident)",
        naive_requests,
        naive_time.as_secs_f64(),
        minutes_at_limit(naive_requests)
    );
    println!(
        "ratio           {:.1}× fewer requests, {:.1}× less wall time (related change events: {related} requests in both; naive timed on {baseline} incidents, {naive_sample} requests in {:.1} s, and extrapolated)",
        naive_requests as f64 / ours.max(1) as f64,
        naive_time.as_secs_f64() / ours_time.as_secs_f64().max(1e-9),
        naive_sample_time.as_secs_f64()
    );
    let without_related = ours - related;
    println!(
        "without related change events: {without_related} requests against {} ({:.1}×); per 1,000 incidents {:.0} against {:.0}",
        naive_requests - related,
        (naive_requests - related) as f64 / without_related.max(1) as f64,
        without_related as f64 * 1000.0 / n as f64,
        (naive_requests - related) as f64 * 1000.0 / n as f64
    );
}
