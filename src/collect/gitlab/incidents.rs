//! GitLab incidents → the incidents table: issues of type `incident` (and issues carrying one of
//! the configured incident labels), with the severity GitLab keeps for them and the times their
//! incident timeline records, and the merge request, commit or deployment their text names as the
//! cause.
//!
//! Why two reads: the REST issues listing is the one that walks a project's issues by keyset
//! (`pagination=keyset&order_by=updated_at`, GitLab 18.3+; older instances answer with offset
//! pages, and both say the next page in `Link`), but severity and the timeline exist only in
//! GraphQL (`Issue.severity`, `project.incidentManagementTimelineEvents`; REST for the timeline is
//! still requested in gitlab#439853). So each page of issues is followed by one GraphQL request for
//! the details of its incidents, batched with aliases. Both answers are kept as raw pages and the
//! rows are a pure function of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::client::Listing;
use super::extract::{change_id, deployment_id};
use crate::config::Service;
use crate::model::{self, Row, Value};

/// Incidents whose details one GraphQL request asks for (each brings its own timeline connection,
/// so the batch stays well inside GitLab's query complexity of 250).
pub const DETAILS_BATCH: usize = 10;

/// The author GitLab gives incidents it opens from alerts (and who closes them when the alert
/// resolves, if the project lets it).
pub const ALERT_BOT: &str = "alert-bot";

/// The REST listing of a project's incidents, or of its issues carrying `label`, oldest update
/// first, from `updated_after` on (inclusive, so the last issue of a run is read again, harmlessly).
pub fn issues_listing(project: &str, label: Option<&str>, updated_after: Option<DateTime<Utc>>) -> Listing {
    let listing = Listing::project(project, "issues");
    let listing = match label {
        None => listing.param("issue_type", "incident"),
        Some(label) => listing.param("labels", label),
    };
    let listing = listing
        .param("scope", "all")
        .param("pagination", "keyset")
        .param("order_by", "updated_at")
        .param("sort", "asc")
        .param("per_page", "100");
    match updated_after {
        Some(after) => listing.param("updated_after", after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => listing,
    }
}

/// The GraphQL request for the severity, escalation status and timeline of some incidents, by
/// their `iid` and global `id`. Ids are numbers read from GitLab's answer, never user text.
pub fn details_query(incidents: &[(i64, i64)]) -> String {
    let mut query = String::from(
        "query($fullPath: ID!, $iids: [String!]) {\n  project(fullPath: $fullPath) {\n    \
         issues(iids: $iids, first: 100) { nodes { iid severity escalationStatus } }\n",
    );
    for (iid, id) in incidents {
        query.push_str(&format!(
            "    t{iid}: incidentManagementTimelineEvents(incidentId: \"gid://gitlab/Issue/{id}\") \
             {{ nodes {{ occurredAt timelineEventTags {{ nodes {{ name }} }} }} }}\n"
        ));
    }
    query.push_str("  }\n}");
    query
}

/// The variables of [`details_query`].
pub fn details_variables(full_path: &str, incidents: &[(i64, i64)]) -> serde_json::Value {
    let iids: Vec<String> = incidents.iter().map(|(iid, _)| iid.to_string()).collect();
    serde_json::json!({ "fullPath": full_path, "iids": iids })
}

/// What GraphQL adds to an incident.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// GitLab's severity, lower case (`critical`, `high`, `medium`, `low`); `None` for `UNKNOWN`.
    pub severity: Option<String>,
    /// The earliest time of each timeline tag, by tag name in lower case.
    pub tagged: BTreeMap<String, DateTime<Utc>>,
}

/// Reads the answer to a [`details_query`] into `details`, by iid (a later answer replaces an
/// earlier one for the same incident).
pub fn read_details(page: &serde_json::Value, details: &mut BTreeMap<i64, Details>) {
    let Some(project) = page.pointer("/data/project") else { return };
    let nodes = project.pointer("/issues/nodes").and_then(|n| n.as_array()).cloned().unwrap_or_default();
    for node in &nodes {
        let Some(iid) = node["iid"].as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| node["iid"].as_i64())
        else {
            continue;
        };
        let severity =
            node["severity"].as_str().filter(|s| !s.eq_ignore_ascii_case("unknown")).map(|s| s.to_ascii_lowercase());
        let mut tagged: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        let events = project.pointer(&format!("/t{iid}/nodes")).and_then(|n| n.as_array()).cloned().unwrap_or_default();
        for event in &events {
            let Some(at) = time(&event["occurredAt"]) else { continue };
            let tags =
                event.pointer("/timelineEventTags/nodes").and_then(|t| t.as_array()).cloned().unwrap_or_default();
            for tag in tags.iter().filter_map(|t| t["name"].as_str()) {
                let slot = tagged.entry(tag.to_ascii_lowercase()).or_insert(at);
                *slot = (*slot).min(at);
            }
        }
        details.insert(iid, Details { severity, tagged });
    }
}

/// The row id of an incident issue.
pub fn incident_id(project: &str, iid: i64) -> String {
    format!("gitlab:issue:{project}#{iid}")
}

/// The incident issues of a REST page worth asking GraphQL about: `(iid, id)`.
pub fn incidents_of_page(page: &serde_json::Value) -> Vec<(i64, i64)> {
    page.as_array()
        .map(|issues| issues.iter().filter_map(|i| Some((i["iid"].as_i64()?, i["id"].as_i64()?))).collect())
        .unwrap_or_default()
}

/// The newest `updated_at` of a REST page of issues (the next high-water mark).
pub fn newest_update(page: &serde_json::Value) -> Option<DateTime<Utc>> {
    page.as_array()?.iter().filter_map(|i| time(&i["updated_at"])).max()
}

/// One incidents row per issue of the REST pages (a later page's copy of an issue replaces an
/// earlier one), with what `details` adds.
///
/// Times: `opened_at` is the earliest of the timeline's "Start time" and "Impact detected", else
/// when the issue was opened; `acknowledged_at` is "Response initiated"; `mitigated_at` is
/// "Impact mitigated"; `resolved_at` is "End time", else when the issue was closed.
pub fn incident_rows(
    pages: &[serde_json::Value],
    details: &BTreeMap<i64, Details>,
    project: &str,
    service: &Service,
) -> Vec<Row> {
    let mut issues: BTreeMap<i64, &serde_json::Value> = BTreeMap::new();
    for issue in pages.iter().filter_map(|p| p.as_array()).flatten() {
        if let Some(iid) = issue["iid"].as_i64() {
            issues.insert(iid, issue);
        }
    }
    issues
        .into_iter()
        .filter_map(|(iid, issue)| incident_row(issue, iid, details.get(&iid), project, service))
        .collect()
}

fn incident_row(
    issue: &serde_json::Value,
    iid: i64,
    details: Option<&Details>,
    project: &str,
    service: &Service,
) -> Option<Row> {
    let created = time(&issue["created_at"])?;
    let empty = Details::default();
    let details = details.unwrap_or(&empty);
    let tag = |name: &str| details.tagged.get(name).copied();
    let opened = [tag("start time"), tag("impact detected")].into_iter().flatten().min().unwrap_or(created);
    let resolved = tag("end time").or_else(|| time(&issue["closed_at"]));
    let author = issue["author"]["username"].as_str();
    let closer = issue["closed_by"]["username"].as_str();
    let text = format!("{}\n{}", issue["title"].as_str().unwrap_or(""), issue["description"].as_str().unwrap_or(""));
    let cause = incident_cause(&text, project);
    let text_or_null = |v: Option<&str>| v.map_or(Value::Null, |s| Value::Text(s.to_string()));
    let time_or_null = |t: Option<DateTime<Utc>>| t.map_or(Value::Null, Value::Time);
    Some(model::INCIDENTS.row([
        ("id", Value::Text(incident_id(project, iid))),
        ("source", Value::Text("gitlab".into())),
        ("service", Value::Text(service.name.clone())),
        ("title", text_or_null(issue["title"].as_str())),
        ("severity", text_or_null(details.severity.as_deref())),
        ("opened_at", Value::Time(opened)),
        ("acknowledged_at", time_or_null(tag("response initiated"))),
        ("resolved_at", time_or_null(resolved)),
        ("mitigated_at", time_or_null(tag("impact mitigated"))),
        (
            "assignee",
            text_or_null(issue["assignees"][0]["username"].as_str().or(issue["assignee"]["username"].as_str())),
        ),
        ("detected_by", Value::Text(if author == Some(ALERT_BOT) { "monitoring" } else { "person" }.into())),
        ("resolved_by", text_or_null(closer.map(|c| if c == ALERT_BOT { "monitoring" } else { c }))),
        (
            "caused_by_change_id",
            cause.merge_request.map_or(Value::Null, |n| Value::Text(change_id(project, &n.to_string()))),
        ),
        ("caused_by_sha", text_or_null(cause.sha.as_deref())),
        ("caused_by_deployment_id", cause.deployment.map_or(Value::Null, |d| Value::Text(deployment_id(project, d)))),
    ]))
}

fn time(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// What an incident's text names as its cause, within its own project. Each is the first of its
/// kind in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    /// A merge request: `!12`, `group/project!12`, or a `…/group/project/-/merge_requests/12` URL.
    pub merge_request: Option<i64>,
    /// A commit: `…/-/commit/<sha>`, `group/project@<sha>`, or a bare hex word of 7–40 digits with
    /// at least one letter a–f and one digit.
    pub sha: Option<String>,
    /// A deployment by its API URL `…/api/v4/projects/group%2Fproject/deployments/123`.
    pub deployment: Option<i64>,
}

/// Reads the references in an incident's title and description. References to other projects do
/// not count: an incident is linked to a cause within its own service.
pub fn incident_cause(text: &str, project: &str) -> Cause {
    let mut cause = Cause::default();
    let project = project.to_ascii_lowercase();
    for raw in
        text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'' | '`'))
    {
        let word = raw.trim_end_matches(['.', ',', ';', ':', '?']);
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            url_reference(&lower, &project, &mut cause);
        } else if let Some((prefix, number)) = lower.rsplit_once('!') {
            if cause.merge_request.is_none() && (prefix.is_empty() || prefix == project) {
                cause.merge_request = number.parse::<i64>().ok().filter(|n| *n > 0);
            }
        } else if let Some((prefix, sha)) = lower.split_once('@') {
            if cause.sha.is_none() && prefix == project && looks_like_sha(sha) {
                cause.sha = Some(sha.to_string());
            }
        } else if cause.sha.is_none() && looks_like_sha(&lower) {
            cause.sha = Some(lower);
        }
    }
    cause
}

/// A URL naming a merge request, commit or deployment of `project` (lower case).
fn url_reference(url: &str, project: &str, cause: &mut Cause) {
    let web = format!("/{project}/-/");
    if let Some(at) = url.find(&web) {
        let mut parts = url[at + web.len()..].split(['/', '?', '#']);
        match (parts.next(), parts.next()) {
            (Some("merge_requests"), Some(id)) if cause.merge_request.is_none() => {
                cause.merge_request = id.parse().ok().filter(|n| *n > 0);
            }
            (Some("commit"), Some(sha)) if cause.sha.is_none() && looks_like_sha(sha) => {
                cause.sha = Some(sha.to_string());
            }
            _ => {}
        }
        return;
    }
    let api = format!("/api/v4/projects/{}/deployments/", project.replace('/', "%2f"));
    if let Some(at) = url.find(&api)
        && cause.deployment.is_none()
    {
        let id = url[at + api.len()..].split(['/', '?', '#']).next().unwrap_or("");
        cause.deployment = id.parse().ok().filter(|n| *n > 0);
    }
}

fn looks_like_sha(word: &str) -> bool {
    (7..=40).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROJECT: &str = "acme/ledger";

    #[test]
    fn causes_are_read_only_within_the_project() {
        let cause = |t: &str| incident_cause(t, PROJECT);
        assert_eq!(cause("broken by !12, see acme/other!3").merge_request, Some(12));
        assert_eq!(cause("acme/other!3 then Acme/Ledger!4").merge_request, Some(4));
        assert_eq!(cause("see https://gitlab.com/acme/ledger/-/merge_requests/40#note_1").merge_request, Some(40));
        assert_eq!(cause("https://gitlab.com/acme/other/-/merge_requests/40").merge_request, None);
        assert_eq!(cause("wow! not a reference!").merge_request, None);
        assert_eq!(cause("https://gitlab.example/acme/ledger/-/commit/0a1b2c3d4e").sha.as_deref(), Some("0a1b2c3d4e"));
        assert_eq!(cause("acme/ledger@deadbee1 broke it").sha.as_deref(), Some("deadbee1"));
        assert_eq!(cause("acme/other@deadbee1 and ops@acme.example").sha, None);
        assert_eq!(cause("reverted 9f8e7d6c (`9f8e7d6c`)").sha.as_deref(), Some("9f8e7d6c"));
        assert_eq!(cause("added 1234567 rows, faced deadbeef").sha, None, "hex words need both digits and letters");
        assert_eq!(cause("https://gitlab.com/api/v4/projects/acme%2Fledger/deployments/77").deployment, Some(77));
    }

    #[test]
    fn the_details_query_asks_each_incidents_timeline_by_its_global_id() {
        let query = details_query(&[(3, 901), (5, 905)]);
        assert!(query.contains("t3: incidentManagementTimelineEvents(incidentId: \"gid://gitlab/Issue/901\")"));
        assert!(query.contains("t5: incidentManagementTimelineEvents(incidentId: \"gid://gitlab/Issue/905\")"));
        assert_eq!(details_variables("acme/ledger", &[(3, 901)])["iids"], json!(["3"]));
        assert_eq!(issues_listing("acme/ledger", Some("sev 1"), None).path(), "projects/acme%2Fledger/issues");
    }

    #[test]
    fn timeline_tags_set_the_incident_times_and_graphql_the_severity() {
        let issues = json!([
            {
                "id": 901, "iid": 3, "title": "Ledger down after !12", "description": "rollback of 0a1b2c3d",
                "created_at": "2025-03-01T10:10:00Z", "closed_at": "2025-03-01T13:00:00Z",
                "updated_at": "2025-03-01T13:00:00Z",
                "author": { "username": "alert-bot" }, "closed_by": { "username": "dana" },
                "assignees": [{ "username": "erin" }]
            },
            {
                "id": 905, "iid": 5, "title": "Slow exports", "description": null,
                "created_at": "2025-04-01T09:00:00Z", "closed_at": null, "updated_at": "2025-04-01T09:00:00Z",
                "author": { "username": "dana" }, "closed_by": null, "assignees": []
            }
        ]);
        let answer = json!({ "data": { "project": {
            "issues": { "nodes": [
                { "iid": "3", "severity": "CRITICAL", "escalationStatus": "RESOLVED" },
                { "iid": "5", "severity": "UNKNOWN", "escalationStatus": "TRIGGERED" }
            ] },
            "t3": { "nodes": [
                { "occurredAt": "2025-03-01T10:02:00Z", "timelineEventTags": { "nodes": [{ "name": "Start time" }] } },
                { "occurredAt": "2025-03-01T10:05:00Z", "timelineEventTags": { "nodes": [{ "name": "Impact detected" }] } },
                { "occurredAt": "2025-03-01T10:20:00Z", "timelineEventTags": { "nodes": [{ "name": "Response initiated" }] } },
                { "occurredAt": "2025-03-01T11:00:00Z", "timelineEventTags": { "nodes": [{ "name": "Impact mitigated" }] } },
                { "occurredAt": "2025-03-01T12:30:00Z", "timelineEventTags": { "nodes": [{ "name": "End time" }] } },
                { "occurredAt": "2025-03-01T12:00:00Z", "timelineEventTags": { "nodes": [] } }
            ] },
            "t5": { "nodes": [] }
        } } });
        let mut details = BTreeMap::new();
        read_details(&answer, &mut details);
        let service = Service::named("ledger", None);
        let rows = incident_rows(&[issues], &details, PROJECT, &service);
        let cell = |row: &Row, column: &str| row[model::INCIDENTS.position(column).unwrap()].clone();
        let at = |s: &str| Value::Time(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let text = |s: &str| Value::Text(s.into());
        let first = &rows[0];
        assert_eq!(cell(first, "id"), text("gitlab:issue:acme/ledger#3"));
        assert_eq!(cell(first, "severity"), text("critical"));
        assert_eq!(cell(first, "opened_at"), at("2025-03-01T10:02:00Z"), "the start time, before the issue");
        assert_eq!(cell(first, "acknowledged_at"), at("2025-03-01T10:20:00Z"));
        assert_eq!(cell(first, "mitigated_at"), at("2025-03-01T11:00:00Z"));
        assert_eq!(cell(first, "resolved_at"), at("2025-03-01T12:30:00Z"), "the end time, before closing");
        assert_eq!(cell(first, "detected_by"), text("monitoring"));
        assert_eq!(cell(first, "resolved_by"), text("dana"));
        assert_eq!(cell(first, "assignee"), text("erin"));
        assert_eq!(cell(first, "caused_by_change_id"), text("gitlab:mr:acme/ledger!12"));
        assert_eq!(cell(first, "caused_by_sha"), text("0a1b2c3d"));
        let second = &rows[1];
        assert_eq!(cell(second, "severity"), Value::Null, "UNKNOWN is no severity");
        assert_eq!(cell(second, "opened_at"), at("2025-04-01T09:00:00Z"));
        assert_eq!(cell(second, "resolved_at"), Value::Null, "still open");
        assert_eq!(cell(second, "detected_by"), text("person"));
        assert_eq!(cell(second, "assignee"), Value::Null);
    }

    #[test]
    fn a_later_page_replaces_an_issue_read_before() {
        let old = json!([{ "id": 1, "iid": 1, "title": "old", "created_at": "2025-01-01T00:00:00Z" }]);
        let new = json!([{ "id": 1, "iid": 1, "title": "new", "created_at": "2025-01-01T00:00:00Z",
                           "closed_at": "2025-01-02T00:00:00Z" }]);
        let rows = incident_rows(&[old, new], &BTreeMap::new(), PROJECT, &Service::named("ledger", None));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][model::INCIDENTS.position("title").unwrap()], Value::Text("new".into()));
    }
}
