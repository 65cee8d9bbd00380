//! The Jira source (Jira Cloud, Jira Service Management, Jira Data Center): incidents chosen by
//! JQL, with when they were acknowledged, mitigated and resolved read from their status history,
//! what they name as their cause, and their post-incident reviews.
//!
//! Why it is shaped like this: Jira is where many organisations keep incidents, and it has no
//! maintained Rust client, so this source speaks its REST API through reqwest with its own serde
//! structs ([`extract`]). Like the GitHub source it is frugal (Cloud: 100 issues per search page and
//! their changelogs in one `changelog/bulkfetch` request, not one request per issue; Data Center:
//! changelogs expanded in the search itself), incremental (`updated >= …` from a high-water mark in
//! the manifest), resumable (the next page's token or offset is kept in the manifest after every
//! page, so an interrupted run continues where it stopped) and reproducible (every page is written
//! atomically under `raw/jira/<site>/` before its rows are extracted; [`reextract_from`] rebuilds the
//! rows from those pages with no network). Rows are upserted by id, so a page read twice never
//! duplicates an incident.

pub mod client;
pub mod extract;
pub mod references;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::config::{Config, JiraFlavour, JiraSource};
use crate::error::{Error, Result};
use crate::model::{self, DataWarning};
use crate::store::{UpsertStats, Workspace};

use crate::collect::http::cursor::{self, Cursor, Run, load_cursor};
pub use crate::collect::http::progress::{Progress, ProgressSink};
use crate::collect::http::raw::{self, RawPages, raw_pages, write_raw_named};
pub use crate::collect::http::retry::Pacing;
use crate::collect::http::runner::{self, PageBudget};
use client::{Auth, Client, Purpose};
use extract::{ChangelogPage, Changelogs, Context, RemoteLink, SearchPage};

/// Issues per search page (Jira's largest page when fields are asked for).
pub const SEARCH_PAGE: u64 = 100;
/// Issues per `changelog/bulkfetch` request (Jira accepts up to 1,000).
pub const CHANGELOG_ISSUES: usize = 1000;
/// Raw directories under `raw/jira/<site>/`.
const SEARCH: &str = "search";
const CHANGELOG: &str = "changelog";
const REMOTE_LINKS: &str = "remotelinks";
/// JQL compares `updated` in the account's own time zone, which the API does not tell: the next
/// run asks from this long before the high-water mark, so no zone can make it skip an update.
const ZONE_MARGIN_HOURS: i64 = 26;
/// What a cut changelog or an unmapped incident weakens.
const INCIDENT_AFFECTS: [&str; 3] = ["time-to-restore", "change-failure-rate", "recovery-time"];

/// What to collect from one site.
#[derive(Debug, Clone)]
pub struct JiraRequest {
    pub source: JiraSource,
    /// From `JIRA_PAT`, or `JIRA_EMAIL` and `JIRA_TOKEN`; never written anywhere.
    pub auth: Option<Auth>,
    pub pacing: Pacing,
    /// Stop (with an error) after this many search pages in this run; for tests of interrupted runs.
    pub stop_after_pages: Option<usize>,
    pub progress: Option<ProgressSink>,
}

impl JiraRequest {
    pub fn new(source: &JiraSource, auth: Option<Auth>) -> JiraRequest {
        let pacing = Pacing::with_max_wait(source.max_wait_seconds);
        JiraRequest { source: source.clone(), auth, pacing, stop_after_pages: None, progress: None }
    }
}

/// What collecting (or re-extracting) one site did.
#[derive(Debug, Clone, Default)]
pub struct JiraReport {
    pub site: String,
    pub flavour: Option<JiraFlavour>,
    /// HTTP requests made, retries included, by kind.
    pub requests: u64,
    pub retries: u64,
    pub search_requests: u64,
    pub changelog_requests: u64,
    pub remote_link_requests: u64,
    /// Search pages fetched (or read from the raw layer).
    pub pages: usize,
    pub incidents: usize,
    /// Incidents whose restore time stops at mitigation, and at resolution.
    pub by_mitigation: usize,
    pub by_resolution: usize,
    pub reviews: usize,
    pub resumed: bool,
    pub warnings: Vec<String>,
    pub data_warnings: Vec<DataWarning>,
    pub tables: Vec<UpsertStats>,
}

/// The site's name, from `api_url`: its host (and port and path), as ids and raw directories use it.
pub fn site_name(api_url: &str) -> String {
    let rest = api_url.split_once("://").map_or(api_url, |(_, r)| r);
    rest.trim_end_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

/// Where a site's raw pages of one kind are kept under `pages` (a workspace's `raw/jira/`).
fn pages_dir(pages: &Path, site: &str, kind: &str) -> PathBuf {
    pages.join(site).join(kind)
}

fn source_name(site: &str) -> String {
    format!("jira:{site}:incidents")
}

/// The JQL choosing incidents, from the configuration, asking only for what changed since `since`.
pub fn jql(source: &JiraSource, since: Option<DateTime<Utc>>) -> String {
    let quoted = |list: &[String]| list.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ");
    let base = match &source.jql {
        Some(jql) => jql.clone(),
        None => {
            let mut parts = Vec::new();
            if !source.projects.is_empty() {
                parts.push(format!("project in ({}) AND issuetype = \"[System] Incident\"", quoted(&source.projects)));
            }
            if !source.labels.is_empty() {
                parts.push(format!("labels in ({})", quoted(&source.labels)));
            }
            parts.join(" OR ")
        }
    };
    let since = since.map(|t| {
        let from = t - Duration::hours(ZONE_MARGIN_HOURS);
        format!(" AND updated >= \"{}\"", from.format("%Y/%m/%d %H:%M"))
    });
    format!("({base}){} ORDER BY updated ASC, key ASC", since.unwrap_or_default())
}

fn search_fields(source: &JiraSource) -> Vec<String> {
    let mut fields: Vec<String> = extract::FIELDS.iter().map(|f| f.to_string()).collect();
    let service_field = match &source.service_from {
        crate::config::JiraServiceField::Field(f) => Some(f.clone()),
        _ => None,
    };
    fields.extend([source.severity_field.clone(), source.team_field.clone(), service_field].into_iter().flatten());
    fields.sort();
    fields.dedup();
    fields
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The source's data warnings: incidents with no service, and changelogs Jira answered in part.
fn warnings(site: &str, unmapped: &[String], cut: &[String]) -> Vec<DataWarning> {
    let named = |list: &[String]| {
        let more = list.len().saturating_sub(5);
        let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("{}{tail}", list.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
    };
    let mut out = Vec::new();
    if !unmapped.is_empty() {
        out.push(DataWarning {
            kind: "unmapped-service".into(),
            source: source_name(site),
            message: format!(
                "{} Jira incidents name no configured service and were left out: {}; map them with `service_map` or `service`",
                unmapped.len(),
                named(unmapped)
            ),
            affects: INCIDENT_AFFECTS.map(String::from).to_vec(),
        });
    }
    if !cut.is_empty() {
        out.push(DataWarning {
            kind: "truncated-listing".into(),
            source: source_name(site),
            message: format!(
                "Jira answered only part of the status history of {} incidents, so a mitigation or acknowledgement may be missed: {}",
                cut.len(),
                named(cut)
            ),
            affects: INCIDENT_AFFECTS.map(String::from).to_vec(),
        });
    }
    out
}

/// The cursor's record of unmapped and cut incidents, kept across runs as its `truncated` items.
fn note(cursor: &mut Cursor, rows: &extract::PageRows) {
    for (list, what) in [(&rows.unmapped, "unmapped"), (&rows.cut, "cut")] {
        for item in list {
            let key = item.split(' ').next().unwrap_or(item).to_string();
            cursor.truncated.insert(format!("{what}:{key}"), cursor::Cut { detail: item.clone(), affects: Vec::new() });
        }
    }
    // An incident read again whole and mapped loses its old note.
    for row in &rows.incidents {
        if let model::Value::Text(id) = &row[0]
            && let Some(key) = id.rsplit(':').next()
        {
            cursor.truncated.remove(&format!("unmapped:{key}"));
            if !rows.cut.iter().any(|c| c == key) {
                cursor.truncated.remove(&format!("cut:{key}"));
            }
        }
    }
}

fn cursor_warnings(site: &str, cursor: &Cursor) -> Vec<DataWarning> {
    let pick = |prefix: &str| -> Vec<String> {
        cursor.truncated.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, c)| c.detail.clone()).collect()
    };
    warnings(site, &pick("unmapped:"), &pick("cut:"))
}

/// Stores one page's rows.
fn store(workspace: &mut Workspace, report: &mut JiraReport, rows: &extract::PageRows) -> Result<()> {
    report.incidents += rows.incidents.len();
    report.reviews += rows.evidence.len();
    report.by_mitigation += rows.by_mitigation;
    report.by_resolution += rows.by_resolution;
    let stats =
        workspace.upsert(&[(&model::INCIDENTS, rows.incidents.clone()), (&model::EVIDENCE, rows.evidence.clone())])?;
    runner::merge_stats(&mut report.tables, stats);
    Ok(())
}

fn read_json(path: &Path, site: &str) -> Result<(String, serde_json::Value)> {
    raw::read_json(path, |message| Error::Jira { site: site.to_string(), message })
}

fn parse<T: serde::de::DeserializeOwned>(json: &serde_json::Value, site: &str, what: &str) -> Result<T> {
    serde_json::from_value(json.clone()).map_err(|e| Error::Jira {
        site: site.to_string(),
        message: format!("{what} is not shaped as Jira documents it ({e}); is `api_url` the site root?"),
    })
}

/// Rebuilds a site's rows from the raw pages in the workspace alone (no network).
pub fn reextract(workspace: &mut Workspace, config: &Config, source: &JiraSource) -> Result<JiraReport> {
    let pages = workspace.root().join("raw").join("jira");
    reextract_from(workspace, config, source, &pages).map_err(|e| match e {
        Error::NotFound(m) => Error::NotFound(format!("{m}: run `flowgauge collect jira` first")),
        e => e,
    })
}

/// [`reextract`] from pages kept elsewhere, laid out like a workspace's `raw/jira/`
/// (`<site>/search/NNNNNNNN.json`, `<site>/changelog/…`, `<site>/remotelinks/KEY.json`): e.g. pages
/// recorded once and shipped with a configuration (`recorded` in a jira source).
pub fn reextract_from(
    workspace: &mut Workspace,
    config: &Config,
    source: &JiraSource,
    pages: &Path,
) -> Result<JiraReport> {
    let site = site_name(&source.api_url);
    let mut report = JiraReport { site: site.clone(), flavour: source.flavour, ..Default::default() };
    let mut changelogs = Changelogs::default();
    for path in raw_pages(&pages_dir(pages, &site, CHANGELOG))? {
        let (_, json) = read_json(&path, &site)?;
        changelogs.add_page(&parse::<ChangelogPage>(&json, &site, &path.display().to_string())?);
    }
    let mut remote = HashMap::new();
    for path in raw_pages(&pages_dir(pages, &site, REMOTE_LINKS))? {
        let key = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let (_, json) = read_json(&path, &site)?;
        remote.insert(key, parse::<Vec<RemoteLink>>(&json, &site, &path.display().to_string())?);
    }
    let ctx = Context { source, config, site: &site };
    let mut cursor = Cursor::default();
    for path in raw_pages(&pages_dir(pages, &site, SEARCH))? {
        let (_, json) = read_json(&path, &site)?;
        let page: SearchPage = parse(&json, &site, &path.display().to_string())?;
        let rows = extract::page_rows(&ctx, &page, &changelogs, &remote);
        note(&mut cursor, &rows);
        store(workspace, &mut report, &rows)?;
        report.pages += 1;
    }
    if report.pages == 0 {
        return Err(Error::NotFound(format!("no raw Jira pages for {site} in {}", pages.join(&site).display())));
    }
    report.data_warnings = cursor_warnings(&site, &cursor);
    report.warnings = report.data_warnings.iter().map(|w| w.message.clone()).collect();
    workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}

/// Collects one site's incidents from Jira into the workspace.
pub fn collect_jira(workspace: &mut Workspace, config: &Config, request: &JiraRequest) -> Result<JiraReport> {
    let site = site_name(&request.source.api_url);
    let fail = |message: String| Error::Jira { site: site.clone(), message };
    if request.auth.is_none() {
        return Err(fail(
            "no credentials: set JIRA_EMAIL and JIRA_TOKEN (Jira Cloud: an Atlassian account and an API token) or JIRA_PAT (Data Center: a personal access token)".into(),
        ));
    }
    let runtime = runner::network_runtime(fail)?;
    let client = Client::new(&request.source.api_url, request.auth.clone(), request.pacing, &site)?;
    let mut fetch = Fetch {
        workspace,
        config,
        request,
        runtime: &runtime,
        client: &client,
        site: site.clone(),
        report: JiraReport { site: site.clone(), ..Default::default() },
        raw: RawPages::default(),
        started: std::time::Instant::now(),
        search_requests: 0,
        changelog_requests: 0,
        remote_link_requests: 0,
        listed: 0,
    };
    let result = fetch.run();
    let mut report = std::mem::take(&mut fetch.report);
    report.requests = client.requests();
    report.retries = client.retries();
    report.search_requests = fetch.search_requests;
    report.changelog_requests = fetch.changelog_requests;
    report.remote_link_requests = fetch.remote_link_requests;
    report.data_warnings = cursor_warnings(&site, &load_cursor(fetch.workspace, &source_name(&site)));
    report.warnings.extend(report.data_warnings.iter().map(|w| w.message.clone()));
    result?;
    fetch.workspace.replace(&model::SERVICES, &super::service_rows(config))?;
    Ok(report)
}

/// One site being fetched, page by page.
struct Fetch<'a> {
    workspace: &'a mut Workspace,
    config: &'a Config,
    request: &'a JiraRequest,
    runtime: &'a tokio::runtime::Runtime,
    client: &'a Client,
    site: String,
    report: JiraReport,
    raw: RawPages,
    started: std::time::Instant,
    search_requests: u64,
    changelog_requests: u64,
    remote_link_requests: u64,
    /// Issues listed so far in this run.
    listed: u64,
}

impl Fetch<'_> {
    fn dir(&self, kind: &str) -> PathBuf {
        pages_dir(&self.workspace.root().join("raw").join("jira"), &self.site, kind)
    }

    fn flavour(&mut self) -> Result<JiraFlavour> {
        if let Some(f) = self.request.source.flavour {
            return Ok(f);
        }
        let info = self.runtime.block_on(self.client.get("/rest/api/2/serverInfo", Purpose::ServerInfo))?;
        Ok(match info.json["deploymentType"].as_str() {
            Some(t) if t.eq_ignore_ascii_case("cloud") => JiraFlavour::Cloud,
            _ => JiraFlavour::DataCenter,
        })
    }

    fn run(&mut self) -> Result<()> {
        let flavour = self.flavour()?;
        self.report.flavour = Some(flavour);
        let name = source_name(&self.site);
        let (mut cursor, mut run, resumed) = cursor::begin(self.workspace, &name, cursor::from_high_water);
        self.report.resumed = resumed;
        let jql = jql(&self.request.source, run.stop_at);
        let resumed_at = run.pages;
        let mut pages_left = PageBudget::new(self.request.stop_after_pages);
        loop {
            pages_left.spend(|message| Error::Jira { site: self.site.clone(), message })?;
            let (body, page, next) = match self.search(flavour, &jql, run.after.as_deref()) {
                Ok(answer) => answer,
                // Cloud keeps a page token for 7 days: a run resumed later is refused its token.
                // Starting again from the high-water mark reads more but loses nothing.
                Err(e) if self.report.resumed && run.after.is_some() && run.pages == resumed_at => {
                    self.report.warnings.push(format!(
                        "the interrupted run could not be resumed ({e}); it started again from the last complete run"
                    ));
                    run = Run { stop_at: cursor.high_water, ..Default::default() };
                    self.search(flavour, &jql, None)?
                }
                Err(e) => return Err(e),
            };
            let changelogs = match flavour {
                JiraFlavour::Cloud => self.changelogs(&page)?,
                JiraFlavour::DataCenter => Changelogs::default(),
            };
            let remote = self.remote_links(flavour, &page)?;
            // The search page is kept last: a page in the raw layer always has its changelogs.
            self.raw.write(&self.dir(SEARCH), &body)?;
            let ctx = Context { source: &self.request.source, config: self.config, site: &self.site };
            let rows = extract::page_rows(&ctx, &page, &changelogs, &remote);
            note(&mut cursor, &rows);
            store(self.workspace, &mut self.report, &rows)?;
            run.next_high_water = run.next_high_water.max(rows.newest);
            run.pages += 1;
            run.after = next.clone();
            self.report.pages += 1;
            self.listed += page.issues.len() as u64;
            self.progress(page.total, next.is_none());
            if next.is_none() {
                break;
            }
            let mut state = cursor.clone();
            state.run = Some(run.clone());
            cursor::save(self.workspace, &name, &state, cursor_warnings(&self.site, &state))?;
        }
        cursor.high_water = cursor.high_water.max(run.next_high_water);
        cursor.run = None;
        cursor::save(self.workspace, &name, &cursor, cursor_warnings(&self.site, &cursor))
    }

    /// One search page, its body, and where the next page starts (`None`: this is the last).
    fn search(
        &mut self,
        flavour: JiraFlavour,
        jql: &str,
        after: Option<&str>,
    ) -> Result<(String, SearchPage, Option<String>)> {
        let fields = search_fields(&self.request.source);
        self.search_requests += 1;
        let answer = match flavour {
            JiraFlavour::Cloud => {
                let mut body = serde_json::json!({ "jql": jql, "fields": fields, "maxResults": SEARCH_PAGE });
                if let Some(token) = after {
                    body["nextPageToken"] = serde_json::json!(token);
                }
                self.runtime.block_on(self.client.post("/rest/api/3/search/jql", &body, Purpose::Search))?
            }
            JiraFlavour::DataCenter => {
                let start: u64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
                let path = format!(
                    "/rest/api/2/search?jql={}&startAt={start}&maxResults={SEARCH_PAGE}&fields={}&expand=changelog",
                    percent_encode(jql),
                    percent_encode(&fields.join(","))
                );
                self.runtime.block_on(self.client.get(&path, Purpose::Search))?
            }
        };
        let page: SearchPage = parse(&answer.json, &self.site, "the search answer")?;
        let next = match flavour {
            JiraFlavour::Cloud => {
                page.next_page_token.clone().filter(|_| page.is_last != Some(true) && !page.issues.is_empty())
            }
            JiraFlavour::DataCenter => {
                let start = page.start_at.unwrap_or(0);
                let read = start + page.issues.len() as u64;
                (!page.issues.is_empty() && page.total.is_some_and(|t| read < t)).then(|| read.to_string())
            }
        };
        Ok((answer.body, page, next))
    }

    /// The status and resolution history of a page's issues, in as few requests as Jira allows
    /// (Cloud's bulk changelog, paged by its own token), each answer kept in the raw layer.
    fn changelogs(&mut self, page: &SearchPage) -> Result<Changelogs> {
        let mut out = Changelogs::default();
        let ids: Vec<String> = page.issues.iter().map(|i| i.id.clone()).collect();
        for batch in ids.chunks(CHANGELOG_ISSUES) {
            let mut token: Option<String> = None;
            loop {
                let mut body = serde_json::json!({
                    "issueIdsOrKeys": batch,
                    "fieldIds": ["status", "resolution"],
                    "maxResults": 1000,
                });
                if let Some(t) = &token {
                    body["nextPageToken"] = serde_json::json!(t);
                }
                self.changelog_requests += 1;
                let answer = self.runtime.block_on(self.client.post(
                    "/rest/api/3/changelog/bulkfetch",
                    &body,
                    Purpose::Changelog,
                ))?;
                let parsed: ChangelogPage = parse(&answer.json, &self.site, "the changelog answer")?;
                self.raw.write(&self.dir(CHANGELOG), &answer.body)?;
                out.add_page(&parsed);
                match parsed.next_page_token.filter(|t| !t.is_empty()) {
                    Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Each issue's remote links (one request per issue; `remote_links = false` turns it off).
    fn remote_links(&mut self, flavour: JiraFlavour, page: &SearchPage) -> Result<HashMap<String, Vec<RemoteLink>>> {
        let mut out = HashMap::new();
        if !self.request.source.remote_links {
            return Ok(out);
        }
        let version = if flavour == JiraFlavour::Cloud { 3 } else { 2 };
        for issue in &page.issues {
            let path = format!("/rest/api/{version}/issue/{}/remotelink", percent_encode(&issue.key));
            self.remote_link_requests += 1;
            let answer = self.runtime.block_on(self.client.get(&path, Purpose::RemoteLinks))?;
            let links: Vec<RemoteLink> = parse(&answer.json, &self.site, &path)?;
            write_raw_named(&self.dir(REMOTE_LINKS), &format!("{}.json", issue.key), &answer.body)?;
            out.insert(issue.key.clone(), links);
        }
        Ok(out)
    }

    fn progress(&mut self, total: Option<u64>, done: bool) {
        let Some(sink) = &self.request.progress else { return };
        (sink.0)(&Progress {
            repo: self.site.clone(),
            resource: "incidents",
            pages: self.report.pages,
            items: self.listed,
            total,
            requests: self.client.requests(),
            points: 0,
            graphql_remaining: None,
            rest_remaining: None,
            elapsed: self.started.elapsed(),
            done,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(toml: &str) -> JiraSource {
        let text = format!(
            "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\n[[sources]]\ntype = \"jira\"\napi_url = \"https://acme.atlassian.net/\"\n{toml}"
        );
        let config = Config::from_toml(&text, Utc::now()).unwrap();
        match &config.sources[0] {
            crate::config::Source::Jira(j) => (**j).clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_default_jql_asks_for_incident_work_items_oldest_update_first() {
        let s = source("projects = [\"OPS\", \"LDG\"]");
        assert_eq!(
            jql(&s, None),
            "(project in (\"OPS\", \"LDG\") AND issuetype = \"[System] Incident\") ORDER BY updated ASC, key ASC"
        );
        let since = DateTime::parse_from_rfc3339("2025-03-02T12:00:00Z").unwrap().with_timezone(&Utc);
        // 26 hours earlier, so no account time zone makes JQL skip an update.
        assert!(
            jql(&s, Some(since)).contains("AND updated >= \"2025/03/01 10:00\" ORDER BY"),
            "{}",
            jql(&s, Some(since))
        );
        let s = source("labels = [\"incident\"]");
        assert!(jql(&s, None).starts_with("(labels in (\"incident\"))"));
        let s = source("jql = \"project = OPS AND type = Bug\"");
        assert!(jql(&s, None).starts_with("(project = OPS AND type = Bug)"));
    }

    #[test]
    fn sites_are_named_by_host_and_path() {
        assert_eq!(site_name("https://acme.atlassian.net"), "acme.atlassian.net");
        assert_eq!(site_name("http://127.0.0.1:8080/jira/"), "127.0.0.1_8080_jira");
    }
}
