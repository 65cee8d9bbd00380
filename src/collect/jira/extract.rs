//! Raw Jira pages → incident rows (and post-incident review evidence), with no network and no clock.
//!
//! Kept apart from fetching so that the rows can always be rebuilt from the raw pages kept in the
//! workspace (`flowgauge collect jira --offline`, or recorded pages): the same pages give the same
//! rows. The shapes are those of Jira's REST documentation — a search page (`/rest/api/3/search/jql`
//! on Cloud, `/rest/api/2/search` on Data Center, whose issues may carry their `changelog`), a page
//! of `/rest/api/3/changelog/bulkfetch`, and an issue's remote links — read into the few fields
//! flowgauge uses.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::references::{self, Cause};
use crate::config::{Config, JiraServiceField, JiraSource};
use crate::model::{self, Row, Value};

/// A page of search results, Cloud or Data Center.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub issues: Vec<Issue>,
    /// Cloud: the next page's token; absent or null on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub is_last: Option<bool>,
    /// Data Center: offset paging.
    #[serde(default)]
    pub start_at: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Issue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Data Center with `expand=changelog`.
    #[serde(default)]
    pub changelog: Option<EmbeddedChangelog>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedChangelog {
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub histories: Vec<History>,
}

/// A page of `POST /rest/api/3/changelog/bulkfetch`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangelogPage {
    #[serde(default)]
    pub issue_change_logs: Vec<IssueChangelog>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueChangelog {
    pub issue_id: String,
    #[serde(default)]
    pub change_histories: Vec<History>,
}

/// One change of an issue: who, when, and what moved.
#[derive(Debug, Clone, Deserialize)]
pub struct History {
    pub id: String,
    pub created: String,
    #[serde(default)]
    pub author: Option<Person>,
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Cloud: `atlassian` (a person), `app` (an integration or automation), `customer`.
    #[serde(default)]
    pub account_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub field: String,
    #[serde(default)]
    pub to_string: Option<String>,
}

/// One remote link of an issue (`GET /rest/api/{2,3}/issue/{key}/remotelink`).
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteLink {
    #[serde(default)]
    pub object: RemoteObject,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RemoteObject {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// Changelogs by issue id, merged from every page read (a history counted once by its id).
#[derive(Debug, Default)]
pub struct Changelogs {
    by_issue: HashMap<String, BTreeMap<String, History>>,
}

impl Changelogs {
    pub fn add_page(&mut self, page: &ChangelogPage) {
        for log in &page.issue_change_logs {
            self.add(&log.issue_id, &log.change_histories);
        }
    }

    pub fn add(&mut self, issue_id: &str, histories: &[History]) {
        let entry = self.by_issue.entry(issue_id.to_string()).or_default();
        for h in histories {
            entry.insert(h.id.clone(), h.clone());
        }
    }

    /// An issue's histories, oldest first.
    fn of(&self, issue_id: &str) -> Vec<&History> {
        let mut list: Vec<&History> = self.by_issue.get(issue_id).map(|m| m.values().collect()).unwrap_or_default();
        list.sort_by_key(|h| (time(&h.created), h.id.parse::<u64>().unwrap_or(0)));
        list
    }
}

/// The fields a search asks for, besides the configured ones.
pub const FIELDS: &[&str] = &[
    "summary",
    "description",
    "created",
    "updated",
    "resolutiondate",
    "status",
    "priority",
    "assignee",
    "reporter",
    "components",
    "labels",
    "issuelinks",
    "issuetype",
];

/// What the page's rows say beyond themselves.
#[derive(Debug, Default)]
pub struct PageRows {
    pub incidents: Vec<Row>,
    pub evidence: Vec<Row>,
    /// Incidents whose service could not be decided: `KEY (what it carried)`.
    pub unmapped: Vec<String>,
    /// Incidents whose embedded changelog was cut (Data Center answered fewer histories than it has).
    pub cut: Vec<String>,
    /// The newest `updated` on the page.
    pub newest: Option<DateTime<Utc>>,
    /// Incidents restored at mitigation (the workflow records it) and at resolution.
    pub by_mitigation: usize,
    pub by_resolution: usize,
}

/// Everything extraction needs besides the pages.
pub struct Context<'a> {
    pub source: &'a JiraSource,
    pub config: &'a Config,
    /// The site's name in ids (`acme.atlassian.net`).
    pub site: &'a str,
}

/// A Jira time (`2025-01-07T17:00:00.000+0000`, or RFC 3339) in UTC.
pub fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn field_time(fields: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<DateTime<Utc>> {
    fields.get(name).and_then(|v| v.as_str()).and_then(time)
}

/// The text of a field value: a string, an option (`value`), a named object (`name`, `title`,
/// `displayName`), or the first of a list of those.
fn value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Array(list) => list.iter().find_map(value_text),
        serde_json::Value::Object(o) => ["value", "name", "title", "displayName"]
            .iter()
            .find_map(|k| o.get(*k).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty()))
            .map(|s| s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Every text of a field value (all of a list).
fn value_texts(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::Array(list)) => list.iter().filter_map(value_text).collect(),
        Some(v) => value_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The plain text of a description: a string (Data Center, API v2) or an Atlassian Document
/// Format tree (Cloud, API v3), whose link targets count as text.
pub fn document_text(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| document_text(v, out)),
        serde_json::Value::Object(o) => {
            if let Some(text) = o.get("text").and_then(|t| t.as_str()) {
                out.push_str(text);
                out.push(' ');
            }
            for attrs in o.get("attrs").into_iter().chain(
                o.get("marks")
                    .into_iter()
                    .flat_map(|m| m.as_array().into_iter().flatten().filter_map(|mark| mark.get("attrs"))),
            ) {
                for key in ["url", "href"] {
                    if let Some(url) = attrs.get(key).and_then(|u| u.as_str()) {
                        out.push(' ');
                        out.push_str(url);
                        out.push(' ');
                    }
                }
            }
            if let Some(content) = o.get("content") {
                document_text(content, out);
                out.push('\n');
            }
        }
        _ => {}
    }
}

fn text(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::Text)
}

fn at(value: Option<DateTime<Utc>>) -> Value {
    value.map_or(Value::Null, Value::Time)
}

/// The id of an incident of `site`.
pub fn incident_id(site: &str, key: &str) -> String {
    format!("jira:{site}:{key}")
}

/// Where a person reads an issue.
pub fn browse_url(api_url: &str, key: &str) -> String {
    format!("{}/browse/{key}", api_url.trim_end_matches('/'))
}

/// When the incident was acknowledged, mitigated and resolved, and who resolved it, from its status
/// history. Resolved is `resolutiondate` when Jira set one, else the last move into a resolved
/// status while the issue still is in one; mitigated is the first move into a mitigated status,
/// kept only between opening and resolution.
#[derive(Debug, Default, PartialEq)]
pub struct Timeline {
    pub acknowledged: Option<DateTime<Utc>>,
    pub mitigated: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

fn one_of(list: &[String], status: &str) -> bool {
    list.iter().any(|s| s.eq_ignore_ascii_case(status.trim()))
}

fn who(person: Option<&Person>) -> Option<String> {
    let person = person?;
    if person.account_type.as_deref() == Some("app") {
        return Some("monitoring".to_string());
    }
    person.display_name.clone().filter(|n| !n.trim().is_empty())
}

pub fn timeline(
    source: &JiraSource,
    opened: DateTime<Utc>,
    fields: &serde_json::Map<String, serde_json::Value>,
    histories: &[&History],
) -> Timeline {
    let moves: Vec<(DateTime<Utc>, &str, Option<&Person>)> = histories
        .iter()
        .filter_map(|h| {
            let to = h
                .items
                .iter()
                .filter(|i| i.field.eq_ignore_ascii_case("status"))
                .find_map(|i| i.to_string.as_deref())?;
            Some((time(&h.created)?, to, h.author.as_ref()))
        })
        .collect();
    let first = |list: &[String]| moves.iter().find(|(t, to, _)| *t >= opened && one_of(list, to)).map(|(t, _, _)| *t);
    let current = fields.get("status").and_then(value_text).unwrap_or_default();
    let last_resolving = moves.iter().rev().find(|(_, to, _)| one_of(&source.resolved_statuses, to));
    let resolved = match field_time(fields, "resolutiondate") {
        Some(t) => Some(t),
        None if one_of(&source.resolved_statuses, &current) => last_resolving.map(|(t, _, _)| *t),
        None => None,
    }
    .filter(|t| *t >= opened);
    let resolved_by = resolved.and_then(|_| {
        // Who set the resolution (or moved it into a resolved status) last.
        let setter = histories.iter().rev().find(|h| {
            h.items.iter().any(|i| {
                (i.field.eq_ignore_ascii_case("resolution") && i.to_string.is_some())
                    || (i.field.eq_ignore_ascii_case("status")
                        && i.to_string.as_deref().is_some_and(|s| one_of(&source.resolved_statuses, s)))
            })
        });
        who(setter.and_then(|h| h.author.as_ref()))
    });
    let mitigated = first(&source.mitigated_statuses).filter(|m| resolved.is_none_or(|r| *m <= r));
    let acknowledged = first(&source.acknowledged_statuses);
    Timeline { acknowledged, mitigated, resolved, resolved_by }
}

/// The service an incident belongs to: the source's `service`, else the first component, label or
/// field value that `service_map` or a configured service's name (without case) claims. Without
/// configured services, the first value is the service.
fn service_of(ctx: &Context, fields: &serde_json::Map<String, serde_json::Value>) -> Result<String, Vec<String>> {
    if let Some(service) = &ctx.source.service {
        return Ok(service.clone());
    }
    let values = match &ctx.source.service_from {
        JiraServiceField::Components => value_texts(fields.get("components")),
        JiraServiceField::Labels => value_texts(fields.get("labels")),
        JiraServiceField::Field(id) => value_texts(fields.get(id)),
    };
    for value in &values {
        if let Some(service) = ctx.source.service_map.get(value) {
            return Ok(service.clone());
        }
        if let Some(service) = ctx.config.services.iter().find(|s| s.name.eq_ignore_ascii_case(value)) {
            return Ok(service.name.clone());
        }
    }
    match values.first() {
        Some(first) if ctx.config.services.is_empty() => Ok(first.clone()),
        _ => Err(values),
    }
}

/// A linked issue: its key, type and summary, and whether the link says it caused this incident.
struct Linked {
    key: String,
    kind: String,
    summary: String,
    causes: bool,
}

fn issue_links(fields: &serde_json::Map<String, serde_json::Value>) -> Vec<Linked> {
    let links = fields.get("issuelinks").and_then(|l| l.as_array()).cloned().unwrap_or_default();
    links
        .iter()
        .filter_map(|link| {
            // The linked issue is inward or outward; the phrase read from this incident's side is
            // the other direction's (`inwardIssue` X: "this is caused by X").
            let (other, phrase) = match (link.get("inwardIssue"), link.get("outwardIssue")) {
                (Some(i), _) => (i, link.pointer("/type/inward")),
                (None, Some(o)) => (o, link.pointer("/type/outward")),
                _ => return None,
            };
            let phrase = phrase.and_then(|p| p.as_str()).unwrap_or("").to_ascii_lowercase();
            let name = link.pointer("/type/name").and_then(|n| n.as_str()).unwrap_or("").to_ascii_lowercase();
            Some(Linked {
                key: other.get("key")?.as_str()?.to_string(),
                kind: other.pointer("/fields/issuetype/name").and_then(|n| n.as_str()).unwrap_or("").to_string(),
                summary: other.pointer("/fields/summary").and_then(|n| n.as_str()).unwrap_or("").to_string(),
                causes: phrase.contains("caused by") || (name.contains("cause") && !phrase.contains("causes")),
            })
        })
        .collect()
}

/// Rows of one search page. `changelogs` holds the histories read for its issues (Cloud); Data
/// Center's embedded changelogs are read from the page itself.
pub fn page_rows(
    ctx: &Context,
    page: &SearchPage,
    changelogs: &Changelogs,
    remote_links: &HashMap<String, Vec<RemoteLink>>,
) -> PageRows {
    let mut out = PageRows::default();
    for issue in &page.issues {
        let fields = &issue.fields;
        out.newest = out.newest.max(field_time(fields, "updated"));
        let Some(opened) = field_time(fields, "created") else { continue };
        let service = match service_of(ctx, fields) {
            Ok(s) => s,
            Err(values) => {
                let carried = if values.is_empty() { "nothing to map".to_string() } else { values.join(", ") };
                out.unmapped.push(format!("{} ({carried})", issue.key));
                continue;
            }
        };
        let mut histories = Changelogs::default();
        if let Some(embedded) = &issue.changelog {
            histories.add(&issue.id, &embedded.histories);
            if embedded.total.is_some_and(|t| t > embedded.histories.len() as u64) {
                out.cut.push(issue.key.clone());
            }
        }
        let mut list = histories.of(&issue.id);
        list.extend(changelogs.of(&issue.id));
        list.sort_by_key(|h| (time(&h.created), h.id.parse::<u64>().unwrap_or(0)));
        list.dedup_by(|a, b| a.id == b.id);
        let timeline = timeline(ctx.source, opened, fields, &list);
        match (timeline.mitigated, timeline.resolved) {
            (Some(_), _) => out.by_mitigation += 1,
            (None, Some(_)) => out.by_resolution += 1,
            _ => {}
        }
        let links = issue_links(fields);
        let remote = remote_links.get(&issue.key).cloned().unwrap_or_default();
        let review = links
            .iter()
            .find(|l| references::is_review(&l.kind) || references::is_review(&l.summary))
            .map(|l| browse_url(&ctx.source.api_url, &l.key))
            .or_else(|| {
                remote.iter().find_map(|r| {
                    let url = r.object.url.clone()?;
                    let title = r.object.title.clone().unwrap_or_default();
                    (references::is_review(&title) || references::is_review(&url)).then_some(url)
                })
            });
        let cause = incident_cause(ctx, &service, issue, &links, &remote);
        let summary = fields.get("summary").and_then(|s| s.as_str()).map(str::to_string);
        let reporter = fields.get("reporter").and_then(|r| serde_json::from_value::<Person>(r.clone()).ok());
        let detected_by = reporter.as_ref().and_then(|r| match r.account_type.as_deref() {
            Some("app") => Some("monitoring"),
            Some(_) => Some("person"),
            None => None,
        });
        let id = incident_id(ctx.site, &issue.key);
        let field_value = |name: &Option<String>| name.as_ref().and_then(|f| fields.get(f)).and_then(value_text);
        out.incidents.push(model::INCIDENTS.row([
            ("id", Value::Text(id)),
            ("source", Value::Text("jira".into())),
            ("service", Value::Text(service.clone())),
            ("title", text(summary)),
            ("severity", text(field_value(&ctx.source.severity_field))),
            ("opened_at", Value::Time(opened)),
            ("acknowledged_at", at(timeline.acknowledged)),
            ("resolved_at", at(timeline.resolved)),
            ("mitigated_at", at(timeline.mitigated)),
            ("assignee", text(fields.get("assignee").and_then(value_text))),
            ("priority", text(fields.get("priority").and_then(value_text))),
            ("team", text(field_value(&ctx.source.team_field))),
            ("detected_by", text(detected_by.map(str::to_string))),
            ("resolved_by", text(timeline.resolved_by)),
            ("caused_by_deployment_id", text(cause.deployment)),
            ("caused_by_change_id", text(cause.change)),
            ("caused_by_sha", text(cause.sha)),
            ("review_url", text(review.clone())),
        ]));
        if let Some(url) = review {
            out.evidence.push(model::EVIDENCE.row([
                ("id", Value::Text(format!("jira:{}:review:{}", ctx.site, issue.key))),
                ("source", Value::Text("jira".into())),
                ("service", Value::Text(service)),
                ("kind", Value::Text("practice".into())),
                ("category", Value::Text("post-incident review".into())),
                ("tool", Value::Text("jira".into())),
                ("detail", Value::Text(format!("post-incident review of {}", issue.key))),
                ("path", Value::Text(url)),
            ]));
        }
    }
    out
}

/// What the incident names as its cause: its summary and description first, then the summaries of
/// issues linked as its cause, then its remote links.
fn incident_cause(ctx: &Context, service: &str, issue: &Issue, links: &[Linked], remote: &[RemoteLink]) -> Cause {
    let only_repo = ctx.config.service(service).filter(|s| s.repos.len() == 1).map(|s| s.repos[0].as_str());
    let mut own = String::new();
    if let Some(summary) = issue.fields.get("summary") {
        document_text(summary, &mut own);
    }
    if let Some(description) = issue.fields.get("description") {
        document_text(description, &mut own);
    }
    let linked: String = links.iter().filter(|l| l.causes).map(|l| format!("{}\n", l.summary)).collect();
    let remote: String = remote
        .iter()
        .filter(|r| !r.object.title.as_deref().is_some_and(references::is_review))
        .map(|r| {
            format!("{} {}\n", r.object.title.clone().unwrap_or_default(), r.object.url.clone().unwrap_or_default())
        })
        .collect();
    references::cause(&own, only_repo)
        .or(references::cause(&linked, only_repo))
        .or(references::cause(&remote, only_repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> JiraSource {
        let text = "[analysis]\nsince = \"2025-01-01\"\nuntil = \"2026-01-01\"\n[[services]]\nname = \"ledger\"\nrepos = [\"acme/ledger\"]\n[[sources]]\ntype = \"jira\"\napi_url = \"https://acme.atlassian.net\"\nprojects = [\"OPS\"]\n";
        let config = Config::from_toml(text, Utc::now()).unwrap();
        match &config.sources[0] {
            crate::config::Source::Jira(j) => (**j).clone(),
            _ => unreachable!(),
        }
    }

    fn moved(id: &str, at: &str, to: &str) -> History {
        History {
            id: id.into(),
            created: at.into(),
            author: Some(Person { display_name: Some("Dana".into()), account_type: Some("atlassian".into()) }),
            items: vec![Item { field: "status".into(), to_string: Some(to.into()) }],
        }
    }

    fn fields(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_reopened_incident_is_resolved_by_its_last_resolution_and_mitigation_never_follows_it() {
        let s = source();
        let opened = time("2025-03-01T10:00:00.000+0000").unwrap();
        let h = [
            moved("1", "2025-03-01T10:05:00.000+0000", "In Progress"),
            moved("2", "2025-03-01T11:00:00.000+0000", "Resolved"),
            moved("3", "2025-03-01T12:00:00.000+0000", "In Progress"),
            moved("4", "2025-03-01T13:00:00.000+0000", "Mitigated"),
            moved("5", "2025-03-01T14:00:00.000+0000", "Done"),
        ];
        let refs: Vec<&History> = h.iter().collect();
        // No resolutiondate: the last move into a resolved status, while the issue is still done.
        let t = timeline(&s, opened, &fields(serde_json::json!({"status": {"name": "Done"}})), &refs);
        assert_eq!(t.resolved, time("2025-03-01T14:00:00.000+0000"));
        assert_eq!(t.mitigated, time("2025-03-01T13:00:00.000+0000"));
        assert_eq!(t.acknowledged, time("2025-03-01T10:05:00.000+0000"));
        assert_eq!(t.resolved_by.as_deref(), Some("Dana"));
        // Reopened and in progress again: open, whatever it was before.
        let t = timeline(&s, opened, &fields(serde_json::json!({"status": {"name": "In Progress"}})), &refs[..3]);
        assert_eq!((t.resolved, t.resolved_by), (None, None));
        // Jira's resolutiondate wins; a mitigation after it is not a restoration.
        let f =
            fields(serde_json::json!({"status": {"name": "Done"}, "resolutiondate": "2025-03-01T12:30:00.000+0000"}));
        let t = timeline(&s, opened, &f, &refs);
        assert_eq!(t.resolved, time("2025-03-01T12:30:00.000+0000"));
        assert_eq!(t.mitigated, None, "mitigated at 13:00, after the resolution");
    }

    #[test]
    fn an_issue_linked_as_the_cause_lends_its_summary_and_other_links_do_not() {
        let f = fields(serde_json::json!({"issuelinks": [
            {"type": {"name": "Problem/Incident", "inward": "is caused by", "outward": "causes"},
             "inwardIssue": {"key": "CHG-7", "fields": {"summary": "Deploy acme/ledger#41", "issuetype": {"name": "Change"}}}},
            {"type": {"name": "Problem/Incident", "inward": "is caused by", "outward": "causes"},
             "outwardIssue": {"key": "OPS-9", "fields": {"summary": "acme/ledger#99", "issuetype": {"name": "Incident"}}}},
            {"type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
             "outwardIssue": {"key": "OPS-8", "fields": {"summary": "acme/ledger#98", "issuetype": {"name": "Incident"}}}}
        ]}));
        let links = issue_links(&f);
        let causes: Vec<&str> = links.iter().filter(|l| l.causes).map(|l| l.key.as_str()).collect();
        assert_eq!(causes, ["CHG-7"], "only the issue this incident is caused by");
    }

    #[test]
    fn jira_times_with_offsets_without_colons_are_read() {
        let t = time("2025-01-07T18:00:00.000+0100").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-07T17:00:00+00:00");
        assert!(time("2025-01-07T17:00:00Z").is_some());
        assert!(time("yesterday").is_none());
    }

    #[test]
    fn descriptions_in_document_format_keep_their_link_targets() {
        let adf = serde_json::json!({"type": "doc", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "Broken by"},
            {"type": "text", "text": "this", "marks": [{"type": "link", "attrs": {"href": "https://github.com/acme/ledger/pull/9"}}]},
            {"type": "inlineCard", "attrs": {"url": "https://gitlab.com/acme/pay/-/merge_requests/4"}}
        ]}]});
        let mut out = String::new();
        document_text(&adf, &mut out);
        assert!(out.contains("Broken by"), "{out}");
        assert!(out.contains("https://github.com/acme/ledger/pull/9"), "{out}");
        assert!(out.contains("https://gitlab.com/acme/pay/-/merge_requests/4"), "{out}");
    }
}
