//! The PagerDuty source: incidents, their log entries and the change events PagerDuty relates to
//! them, read from the REST API v2 into the raw layer and extracted into `incidents`,
//! `deployments` (change events, where configured) and `evidence` (who opens incidents).
//!
//! Why it is shaped like this: PagerDuty lists with `offset`/`limit` and refuses (400) any request
//! whose `offset + limit` passes 10,000, so every listing is made over `since`/`until` windows that
//! are halved until each holds no more than that — no listing is ever cut short. Log entries are
//! read in bulk over the same windows (`GET /log_entries`, 100 per request, overview entries only)
//! rather than once per incident: a typical incident has three to six overview entries (trigger,
//! acknowledge, assign, resolve), so 10,000 incidents cost a few hundred requests instead of 10,000
//! (`benches/pagerduty.rs`). `include[]=incidents` is not asked for: the incidents are already read,
//! and embedding them would only make each page heavier. Every page is written to
//! `raw/pagerduty/<account>/<resource>/` before anything is extracted, the listing's position
//! (windows left, offset) is saved in the manifest after every page, and the rows are rebuilt from
//! all pages kept (`extract::rows`), so an interrupted run resumes where it stopped and an offline
//! run gives the tables the online one gave.

pub mod client;
pub mod extract;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use globset::GlobMatcher;

use crate::collect::http::cursor::{self, CreatedRange, Cursor, Run, load_cursor};
use crate::collect::http::progress::{Progress, ProgressSink};
use crate::collect::http::raw::{RawPages, raw_pages, write_raw_named};
use crate::collect::http::retry::Pacing;
use crate::collect::http::runner::{self, PageBudget};
use crate::config::{Config, PagerdutySource};
use crate::error::{Error, Result};
use crate::model;
use crate::store::{SourceState, UpsertStats, Workspace};
use client::Client;
use extract::{ChangeEvent, Incident, KnownDeployment, LogEntry, Pages, Reference};

/// PagerDuty's REST API root (US service region).
pub const DEFAULT_API_URL: &str = "https://api.pagerduty.com";

/// Items per page: PagerDuty's largest `limit`.
pub const PAGE_LIMIT: u64 = 100;

/// `offset + limit` may not pass this, or PagerDuty answers 400 (its "Pagination" documentation).
pub const OFFSET_CAP: u64 = 10_000;

/// The longest window asked for at once: PagerDuty limits an incident listing's date range to six
/// months.
const MAX_WINDOW_DAYS: i64 = 180;

/// An unresolved incident older than this no longer holds the high-water mark back, so a forgotten
/// incident does not make every collection read months again.
const MAX_REWIND_DAYS: i64 = 90;

/// PagerDuty relates change events from the 24 hours before an incident to it; an incident with
/// no change event in the account in that time has none to relate, and is not asked about.
const CORRELATION_HOURS: i64 = 24;

/// A listing read over time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Incidents,
    ChangeEvents,
    LogEntries,
}

impl Listing {
    pub fn name(self) -> &'static str {
        match self {
            Listing::Incidents => "incidents",
            Listing::ChangeEvents => "change_events",
            Listing::LogEntries => "log_entries",
        }
    }

    /// The request path of one page, `until` exclusive.
    fn path(self, since: DateTime<Utc>, until: DateTime<Utc>, offset: u64) -> String {
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let window = format!("since={}&until={}&limit={PAGE_LIMIT}&offset={offset}&total=true", at(since), at(until));
        match self {
            Listing::Incidents => format!("/incidents?{window}&time_zone=UTC&sort_by=created_at:asc"),
            Listing::ChangeEvents => format!("/change_events?{window}"),
            Listing::LogEntries => format!("/log_entries?{window}&time_zone=UTC&is_overview=true"),
        }
    }
}

/// Directory of the change events related to each incident, one file per incident.
const RELATED: &str = "related_change_events";

/// Suffix of the name of a related-change-events page asked while its incident was open.
const OPEN: &str = ".open";

/// What to collect from one PagerDuty account.
#[derive(Debug, Clone)]
pub struct PagerdutyRequest {
    pub account: String,
    pub api_url: String,
    /// From `PAGERDUTY_TOKEN`; never written anywhere.
    pub token: String,
    pub pacing: Pacing,
    /// Where a first collection starts (later ones start from the high-water mark).
    pub since: DateTime<Utc>,
    pub source: PagerdutySource,
    /// Stop (with an error) after this many requests in this run; for tests of interrupted runs.
    pub stop_after_pages: Option<usize>,
    pub progress: Option<ProgressSink>,
}

impl PagerdutyRequest {
    pub fn new(source: &PagerdutySource, config: &Config, token: String) -> PagerdutyRequest {
        let api_url = source.api_url.clone().unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let pacing = Pacing::with_max_wait(source.max_wait_seconds);
        PagerdutyRequest {
            account: account_name(source),
            api_url,
            token,
            pacing,
            since: config.analysis.window.since,
            source: source.clone(),
            stop_after_pages: None,
            progress: None,
        }
    }
}

impl PagerdutyRequest {
    /// An error about this request's account.
    fn error(&self, message: String) -> Error {
        Error::Pagerduty { account: self.account.clone(), message }
    }
}

/// The account's name: as configured, else the API host (`api.pagerduty.com`).
pub fn account_name(source: &PagerdutySource) -> String {
    if let Some(account) = &source.account {
        return account.clone();
    }
    let url = source.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
    url.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_string)).unwrap_or_else(|| "pagerduty".into())
}

/// The token from `PAGERDUTY_TOKEN` (an empty value is none).
pub fn token_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("PAGERDUTY_TOKEN").map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// What collecting (or re-extracting) one account did.
#[derive(Debug, Clone, Default)]
pub struct PagerdutyReport {
    pub account: String,
    pub requests: u64,
    pub retries: u64,
    pub pages: usize,
    /// Windows halved because they held more than PagerDuty lists.
    pub splits: usize,
    pub incidents: usize,
    pub deployments: usize,
    pub tracker_links: usize,
    pub evidence: usize,
    pub resumed: bool,
    /// Requests left this minute, when PagerDuty said.
    pub remaining: Option<u64>,
    /// PagerDuty services no `service_map` entry matched, with their incidents.
    pub unmapped: Vec<(String, usize)>,
    pub warnings: Vec<String>,
    pub data_warnings: Vec<model::DataWarning>,
    pub tables: Vec<UpsertStats>,
}

/// The raw pages of an account's resource in a workspace.
pub fn raw_dir(workspace: &Path, account: &str, resource: &str) -> PathBuf {
    workspace.join("raw").join("pagerduty").join(account).join(resource)
}

fn source_name(account: &str, resource: &str) -> String {
    format!("pagerduty:{account}:{resource}")
}

/// Collects one account from PagerDuty into the workspace.
pub fn collect_pagerduty(
    workspace: &mut Workspace,
    config: &Config,
    request: &PagerdutyRequest,
) -> Result<PagerdutyReport> {
    let runtime = runner::network_runtime(|message| request.error(message))?;
    let client = Client::new(&request.api_url, &request.token, request.pacing, &request.account)?;
    let mut report = PagerdutyReport { account: request.account.clone(), ..Default::default() };
    let dir = workspace.root().join("raw").join("pagerduty").join(&request.account);
    let mut fetch = Fetch {
        workspace: &mut *workspace,
        request,
        runtime: &runtime,
        client: &client,
        report: &mut report,
        pages_left: PageBudget::new(request.stop_after_pages),
        raw: RawPages::default(),
        dir: dir.clone(),
        started: std::time::Instant::now(),
    };
    let result = fetch.all();
    report.requests = client.requests();
    report.retries = client.retries();
    report.remaining = client.remaining();
    result?;
    extract_into(workspace, config, &request.source, &request.account, &dir, &mut report)?;
    Ok(report)
}

/// Rebuilds an account's rows from the raw pages already in the workspace, with no network.
pub fn reextract(workspace: &mut Workspace, config: &Config, source: &PagerdutySource) -> Result<PagerdutyReport> {
    let account = account_name(source);
    let dir = workspace.root().join("raw").join("pagerduty").join(&account);
    if !dir.is_dir() {
        return Err(Error::NotFound(format!(
            "no raw PagerDuty pages for {account} in {}: run `flowgauge collect pagerduty` first",
            dir.display()
        )));
    }
    let mut report = PagerdutyReport { account: account.clone(), ..Default::default() };
    extract_into(workspace, config, source, &account, &dir, &mut report)?;
    Ok(report)
}

/// Extracts an account's rows from pages kept in `pages` (laid out like a workspace's
/// `raw/pagerduty/<account>/`), e.g. the `recorded` pages of a configuration. No network, no token.
pub fn reextract_from(
    workspace: &mut Workspace,
    config: &Config,
    source: &PagerdutySource,
    pages: &Path,
) -> Result<PagerdutyReport> {
    let account = account_name(source);
    let mut report = PagerdutyReport { account: account.clone(), ..Default::default() };
    extract_into(workspace, config, source, &account, pages, &mut report)?;
    if report.pages == 0 {
        return Err(Error::NotFound(format!("no PagerDuty pages in {}", pages.display())));
    }
    Ok(report)
}

/// Reads every page of an account's directory.
fn gather(dir: &Path, report: &mut PagerdutyReport) -> Result<Pages> {
    let account = report.account.clone();
    let not_a_page = |path: &Path, what: &str| Error::Pagerduty {
        account: account.clone(),
        message: format!("{}: not a PagerDuty {what} page of the documented shape", path.display()),
    };
    let mut pages = Pages::default();
    for listing in [Listing::Incidents, Listing::ChangeEvents, Listing::LogEntries] {
        for path in raw_pages(&dir.join(listing.name()))? {
            let json = read_json(&path, &account)?;
            report.pages += 1;
            let bad = || not_a_page(&path, listing.name());
            match listing {
                Listing::Incidents => {
                    pages.add_incidents(extract::list_page::<Incident>(&json, "incidents").ok_or_else(bad)?.0)
                }
                Listing::ChangeEvents => pages
                    .add_change_events(extract::list_page::<ChangeEvent>(&json, "change_events").ok_or_else(bad)?.0),
                Listing::LogEntries => {
                    pages.add_log_entries(extract::list_page::<LogEntry>(&json, "log_entries").ok_or_else(bad)?.0)
                }
            }
        }
    }
    for path in raw_pages(&dir.join(RELATED))? {
        let json = read_json(&path, &account)?;
        report.pages += 1;
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        let incident = stem.strip_suffix(OPEN).unwrap_or(stem);
        let events =
            extract::list_page::<ChangeEvent>(&json, "change_events").ok_or_else(|| not_a_page(&path, RELATED))?.0;
        pages.related.insert(incident.to_string(), events);
    }
    Ok(pages)
}

fn read_json(path: &Path, account: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Pagerduty {
        account: account.to_string(),
        message: format!("{}: not JSON ({e})", path.display()),
    })
}

/// Matches PagerDuty services to flowgauge services by id, else by a case-insensitive name glob,
/// in the order of `service_map`.
struct ServiceMap {
    entries: Vec<(String, GlobMatcher, String)>,
}

impl ServiceMap {
    fn new(source: &PagerdutySource) -> ServiceMap {
        let entries = source
            .service_map
            .iter()
            .filter_map(|m| {
                let glob = globset::Glob::new(&m.pagerduty.to_ascii_lowercase()).ok()?.compile_matcher();
                Some((m.pagerduty.clone(), glob, m.service.clone()))
            })
            .collect();
        ServiceMap { entries }
    }

    fn service_of(&self, service: &Reference) -> Option<String> {
        let name = service.summary.as_deref().unwrap_or_default().to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(pattern, glob, _)| *pattern == service.id || glob.is_match(&name))
            .map(|(_, _, s)| s.clone())
    }
}

/// The successful production deployments of other sources, with their commit.
fn known_deployments(workspace: &Workspace) -> Result<Vec<KnownDeployment>> {
    let df = workspace.load(&model::DEPLOYMENTS)?;
    let ids = df.column("id")?.str()?.clone();
    let services = df.column("service")?.str()?.clone();
    let shas = df.column("sha")?.str()?.clone();
    let status = df.column("status")?.str()?.clone();
    let production = df.column("is_production")?.bool()?.clone();
    let finished = df.column("finished_at")?.datetime()?.clone();
    let mut out = Vec::new();
    for i in 0..df.height() {
        let (Some(id), Some(service), Some(sha), Some(t)) =
            (ids.get(i), services.get(i), shas.get(i), finished.physical().get(i))
        else {
            continue;
        };
        if id.starts_with("pagerduty:") || status.get(i) != Some("success") || production.get(i) != Some(true) {
            continue;
        }
        let Some(finished_at) = DateTime::from_timestamp_micros(t) else { continue };
        out.push(KnownDeployment {
            id: id.to_string(),
            service: service.to_string(),
            sha: sha.to_ascii_lowercase(),
            finished_at,
        });
    }
    Ok(out)
}

/// Builds the rows of every page in `dir` and stores them: incidents and change-event deployments
/// are upserted by id; the evidence of the account is replaced as a whole.
fn extract_into(
    workspace: &mut Workspace,
    config: &Config,
    source: &PagerdutySource,
    account: &str,
    dir: &Path,
    report: &mut PagerdutyReport,
) -> Result<()> {
    let pages = gather(dir, report)?;
    let map = ServiceMap::new(source);
    let deployments = known_deployments(workspace)?;
    let with_other_source: std::collections::HashSet<String> = deployments.iter().map(|d| d.service.clone()).collect();
    let service_of = |s: &Reference| map.service_of(s);
    let as_deployments = |service: &str| match source.change_events_as_deployments {
        Some(choice) => choice,
        None => !with_other_source.contains(service),
    };
    let is_production = |service: &str, environment: &str| {
        config
            .service(service)
            .map_or_else(|| crate::config::is_default_production(environment), |s| s.is_production(environment))
    };
    let evidence_prefix = format!("pagerduty:{account}:");
    let ctx = extract::Context {
        service_of: &service_of,
        change_events_as_deployments: &as_deployments,
        deployments: &deployments,
        is_production: &is_production,
        source: "pagerduty",
        evidence_prefix: &evidence_prefix,
    };
    let rows = extract::rows(&pages, &ctx);
    report.incidents = rows.incidents.len();
    report.deployments = rows.deployments.len();
    report.evidence = rows.evidence.len();
    report.tracker_links = rows.tracker_links;
    report.unmapped = rows.unmapped.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let name = format!("pagerduty:{account}");
    let mut warnings = Vec::new();
    for (service, n) in &rows.unmapped {
        let message = format!(
            "PagerDuty service {service} matches no `service_map` entry: its {n} incidents are kept under the PagerDuty service's own name; map it to a configured service"
        );
        report.warnings.push(message.clone());
        warnings.push(model::DataWarning {
            kind: "unmapped-service".into(),
            source: name.clone(),
            message,
            affects: vec!["change-failure-rate".into(), "time-to-restore".into()],
        });
    }
    report.data_warnings = warnings.clone();
    let stats = workspace.transaction(|ws| {
        let mut stats = ws.upsert(&[(&model::INCIDENTS, rows.incidents), (&model::DEPLOYMENTS, rows.deployments)])?;
        stats.push(ws.replace_prefixed(&model::EVIDENCE, "id", &evidence_prefix, &rows.evidence)?);
        ws.replace(&model::SERVICES, &super::service_rows(config))?;
        let cursor = format!("pages={}", report.pages);
        ws.record_source(&name, SourceState { last_run: Utc::now(), cursor, warnings })?;
        Ok(stats)
    })?;
    report.tables = stats;
    Ok(())
}

/// One collection from the network, listing by listing.
struct Fetch<'a> {
    workspace: &'a mut Workspace,
    request: &'a PagerdutyRequest,
    runtime: &'a tokio::runtime::Runtime,
    client: &'a Client,
    report: &'a mut PagerdutyReport,
    pages_left: PageBudget,
    raw: RawPages,
    dir: PathBuf,
    started: std::time::Instant,
}

impl Fetch<'_> {
    fn all(&mut self) -> Result<()> {
        let now = whole_second(Utc::now());
        self.check_mapped_services()?;
        // Incidents, then change events (which incidents may have related ones depends on them),
        // then the log entries of the same time.
        self.listing(Listing::Incidents, now)?;
        let incidents_mark = load_cursor(self.workspace, &source_name(&self.request.account, "incidents")).high_water;
        self.listing(Listing::ChangeEvents, now)?;
        self.listing(Listing::LogEntries, now)?;
        // Log entries go on after an incident opens: they are read again from where the incidents'
        // mark now stands (it waits at the oldest unresolved incident).
        self.set_high_water(Listing::LogEntries, incidents_mark)?;
        self.related_change_events()
    }

    /// Asks for each service the map names by id, so that a mistyped id is an error naming it
    /// (PagerDuty answers 404) rather than incidents silently unmapped.
    fn check_mapped_services(&mut self) -> Result<()> {
        for mapping in &self.request.source.service_map {
            if !looks_like_id(&mapping.pagerduty) {
                continue;
            }
            let path = format!("/services/{}", mapping.pagerduty);
            let what = format!("service {} (service_map entry for {})", mapping.pagerduty, mapping.service);
            self.runtime.block_on(self.client.get(&path, &what))?;
        }
        Ok(())
    }

    fn page_budget(&mut self) -> Result<()> {
        let request = self.request;
        self.pages_left.spend(|message| request.error(message))
    }

    fn progress(&self, resource: &'static str, items: u64, total: Option<u64>, done: bool) {
        let Some(sink) = &self.request.progress else { return };
        (sink.0)(&Progress {
            repo: self.request.account.clone(),
            resource,
            pages: self.report.pages,
            items,
            total,
            requests: self.client.requests(),
            points: 0,
            graphql_remaining: None,
            rest_remaining: None,
            elapsed: self.started.elapsed(),
            done,
        });
    }

    fn save(&mut self, name: &str, cursor: &Cursor) -> Result<()> {
        cursor::save(self.workspace, name, cursor, Vec::new())
    }

    fn set_high_water(&mut self, listing: Listing, mark: Option<DateTime<Utc>>) -> Result<()> {
        let name = source_name(&self.request.account, listing.name());
        let mut cursor = load_cursor(self.workspace, &name);
        cursor.high_water = mark;
        self.save(&name, &cursor)
    }

    /// Lists everything of `listing` from its high-water mark (or the configured start) to `now`,
    /// in windows PagerDuty lists whole.
    fn listing(&mut self, listing: Listing, now: DateTime<Utc>) -> Result<()> {
        let name = source_name(&self.request.account, listing.name());
        let (mut cursor, mut run, resumed) = cursor::begin(self.workspace, &name, |cursor| {
            let mut from = cursor.high_water.unwrap_or(self.request.since);
            if listing == Listing::ChangeEvents {
                // The change events an incident at the start may be related to.
                from -= Duration::hours(CORRELATION_HOURS);
            }
            Run { ranges: windows(whole_second(from), now), next_high_water: Some(now), ..Default::default() }
        });
        self.report.resumed |= resumed;
        let dir = self.dir.join(listing.name());
        let mut items = 0u64;
        while let Some(range) = run.ranges.last().copied() {
            let offset: u64 = run.after.as_deref().and_then(|o| o.parse().ok()).unwrap_or(0);
            self.page_budget()?;
            let path = listing.path(range.from, range.to + Duration::seconds(1), offset);
            let page = self.runtime.block_on(self.client.get(&path, listing.name()))?;
            let parsed = match listing {
                Listing::Incidents => {
                    extract::list_page::<Incident>(&page.json, "incidents").map(|(items, more, total)| {
                        let unresolved = items.iter().filter(|i| !i.is_resolved()).map(|i| i.created_at).min();
                        (items.len(), more, total, unresolved)
                    })
                }
                Listing::ChangeEvents => extract::list_page::<ChangeEvent>(&page.json, "change_events")
                    .map(|(i, m, t)| (i.len(), m, t, None)),
                Listing::LogEntries => {
                    extract::list_page::<LogEntry>(&page.json, "log_entries").map(|(i, m, t)| (i.len(), m, t, None))
                }
            };
            let Some((count, more, total, unresolved)) = parsed else {
                return Err(Error::Pagerduty {
                    account: self.request.account.clone(),
                    message: format!(
                        "{path}: the answer has no `{}` list of the documented shape; is `api_url` the REST API root?",
                        listing.name()
                    ),
                });
            };
            run.total = run.total.or(total);
            let next_offset = offset + PAGE_LIMIT;
            // A window PagerDuty cannot list whole: more than OFFSET_CAP items, or (without a
            // total) a next page that would pass the cap. Its halves are listed instead.
            let too_many = (offset == 0 && total.is_some_and(|t| t > OFFSET_CAP))
                || (more && next_offset + PAGE_LIMIT > OFFSET_CAP);
            if too_many {
                let Some((older, newer)) = range.halves() else {
                    return Err(Error::Pagerduty {
                        account: self.request.account.clone(),
                        message: format!(
                            "more than {OFFSET_CAP} {} in the one second {}: PagerDuty cannot list them whole",
                            listing.name(),
                            range.from
                        ),
                    });
                };
                self.report.splits += 1;
                run.ranges.pop();
                run.ranges.extend([newer, older]);
                run.after = None;
                let mut state = cursor.clone();
                state.run = Some(run.clone());
                self.save(&name, &state)?;
                continue;
            }
            self.raw.write(&dir, &page.body)?;
            self.report.pages += 1;
            items += count as u64;
            if let Some(u) = unresolved {
                run.oldest_unfinished = Some(run.oldest_unfinished.map_or(u, |o| o.min(u)));
            }
            if more {
                run.after = Some(next_offset.to_string());
            } else {
                run.ranges.pop();
                run.after = None;
            }
            self.progress(listing.name(), items, run.total, run.ranges.is_empty());
            let mut state = cursor.clone();
            state.run = Some(run.clone());
            self.save(&name, &state)?;
        }
        let high = run.next_high_water.or(cursor.high_water);
        cursor.high_water = match (high, run.oldest_unfinished) {
            (Some(h), Some(u)) if h - u <= Duration::days(MAX_REWIND_DAYS) => Some(h.min(u)),
            (h, _) => h,
        };
        cursor.run = None;
        self.save(&name, &cursor)
    }

    /// Asks PagerDuty which change events it relates to each incident that may have some (a change
    /// event in the account in the 24 hours before it opened) and has no answer kept yet — or was
    /// not resolved when asked, as its correlation may still change. One file per incident.
    fn related_change_events(&mut self) -> Result<()> {
        let mut scratch = PagerdutyReport { account: self.request.account.clone(), ..Default::default() };
        let pages = gather(&self.dir, &mut scratch)?;
        let mut times: Vec<DateTime<Utc>> = pages.change_events.values().map(|e| e.timestamp).collect();
        times.sort_unstable();
        let dir = self.dir.join(RELATED);
        // `ID.json` was asked once the incident was resolved; `ID.open.json` while it was open.
        let asked: HashMap<String, bool> = raw_pages(&dir)?
            .iter()
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?;
                Some(match stem.strip_suffix(OPEN) {
                    Some(id) => (id.to_string(), false),
                    None => (stem.to_string(), true),
                })
            })
            .collect();
        let wanted: Vec<&Incident> = pages
            .incidents
            .values()
            .filter(|i| {
                let from = i.created_at - Duration::hours(CORRELATION_HOURS);
                let lo = times.partition_point(|t| *t < from);
                let has_change = times.get(lo).is_some_and(|t| *t <= i.created_at);
                has_change && asked.get(&i.id) != Some(&true)
            })
            .collect();
        let total = wanted.len() as u64;
        for (n, incident) in wanted.into_iter().enumerate() {
            self.page_budget()?;
            let path = format!("/incidents/{}/related_change_events", incident.id);
            let page = self.runtime.block_on(self.client.get(&path, &format!("incident {}", incident.id)))?;
            if extract::list_page::<ChangeEvent>(&page.json, "change_events").is_none() {
                return Err(Error::Pagerduty {
                    account: self.request.account.clone(),
                    message: format!("{path}: the answer has no `change_events` list of the documented shape"),
                });
            }
            // Named by whether the incident was resolved when asked, so an open one is asked again.
            let open = dir.join(format!("{}{OPEN}.json", incident.id));
            if incident.is_resolved() {
                write_raw_named(&dir, &format!("{}.json", incident.id), &page.body)?;
                if open.exists() {
                    std::fs::remove_file(&open).map_err(|e| Error::io(&open, e))?;
                }
            } else {
                write_raw_named(&dir, &format!("{}{OPEN}.json", incident.id), &page.body)?;
            }
            self.report.pages += 1;
            self.progress(RELATED, n as u64 + 1, Some(total), n as u64 + 1 == total);
        }
        Ok(())
    }
}

/// Whether a `service_map` pattern is a PagerDuty id (`P` and upper-case letters and digits, no
/// glob characters) rather than a name glob.
fn looks_like_id(pattern: &str) -> bool {
    pattern.len() >= 6
        && pattern.starts_with('P')
        && pattern.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// `[from, to]` in windows of at most [`MAX_WINDOW_DAYS`], as a stack: the oldest is listed first
/// (it is last).
fn windows(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<CreatedRange> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + Duration::days(MAX_WINDOW_DAYS) - Duration::seconds(1)).min(to);
        out.push(CreatedRange { from: start, to: end });
        start = end + Duration::seconds(1);
    }
    out.reverse();
    out
}

/// Collects one configured PagerDuty source: from its recorded pages when it names some (no
/// network, no token), else from the API with `token`.
pub fn collect_source(
    workspace: &mut Workspace,
    config: &Config,
    source: &PagerdutySource,
    token: Option<String>,
    progress: Option<ProgressSink>,
) -> Result<PagerdutyReport> {
    if let Some(pages) = &source.recorded {
        return reextract_from(workspace, config, source, pages);
    }
    let Some(token) = token else {
        return Err(Error::Pagerduty {
            account: account_name(source),
            message: "PAGERDUTY_TOKEN is not set: create a read-only REST API key (Integrations → API Access Keys) and export it as PAGERDUTY_TOKEN".into(),
        });
    };
    let mut request = PagerdutyRequest::new(source, config, token);
    request.progress = progress;
    collect_pagerduty(workspace, config, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_in_six_month_pieces_oldest_last() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let w = windows(t("2025-01-01T00:00:00Z"), t("2025-12-31T00:00:00Z"));
        assert_eq!(w.len(), 3);
        assert_eq!(w.last().unwrap().from, t("2025-01-01T00:00:00Z"));
        assert_eq!(w[0].to, t("2025-12-31T00:00:00Z"));
        // Contiguous, no second lost or read twice.
        for pair in w.windows(2) {
            assert_eq!(pair[1].to + Duration::seconds(1), pair[0].from);
        }
    }
}
