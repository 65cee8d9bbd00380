//! PagerDuty pages → rows: the shapes of the REST API v2 answers this source reads (incidents, log
//! entries, change events) as serde structs, and the pure functions that turn the pages kept in the
//! raw layer into `incidents`, `deployments` and `evidence` rows.
//!
//! Why whole-layer extraction rather than page by page: an incident row needs facts from two
//! listings (the incident, and its log entries: first acknowledgement, resolver, who opened it) and
//! from a third request (the change events PagerDuty relates to it). The pages are therefore read
//! together — incidents by id (a later page wins: an incident read again after it was resolved),
//! log entries by their own id — and every row is a function of all pages kept, which makes a
//! resumed, a repeated and an offline run produce the same tables by construction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::model::{self, Row, Value};

/// A reference to another PagerDuty object (`service_reference`, `user_reference`, …).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Assignment {
    pub assignee: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Acknowledgement {
    pub at: Option<DateTime<Utc>>,
}

/// One incident as `GET /incidents` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    pub id: String,
    pub incident_number: Option<u64>,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub urgency: Option<String>,
    pub service: Reference,
    pub priority: Option<Reference>,
    #[serde(default)]
    pub teams: Vec<Reference>,
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    #[serde(default)]
    pub acknowledgements: Vec<Acknowledgement>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_status_change_at: Option<DateTime<Utc>>,
    pub html_url: Option<String>,
}

impl Incident {
    pub fn is_resolved(&self) -> bool {
        self.status == "resolved"
    }
}

/// One log entry as `GET /log_entries` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub agent: Option<Reference>,
    pub incident: Option<Reference>,
    #[serde(default)]
    pub assignees: Vec<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: Option<String>,
}

/// One change event as `GET /change_events` and `GET /incidents/{id}/related_change_events` list
/// it.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangeEvent {
    pub id: String,
    pub summary: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub source: Option<String>,
    #[serde(default)]
    pub services: Vec<Reference>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub custom_details: Option<serde_json::Value>,
}

/// Parses a list page whose items are under `field`; `None` when the page does not have that shape.
pub fn list_page<T: serde::de::DeserializeOwned>(
    json: &serde_json::Value,
    field: &str,
) -> Option<(Vec<T>, bool, Option<u64>)> {
    let items = serde_json::from_value(json.get(field)?.clone()).ok()?;
    let more = json.get("more").and_then(|m| m.as_bool()).unwrap_or(false);
    let total = json.get("total").and_then(|t| t.as_u64());
    Some((items, more, total))
}

/// Whether an agent is an alerting integration rather than a person: PagerDuty names integrations
/// `…_inbound_integration_reference` (Events API v2, email, Datadog, …).
fn is_integration(agent: &Reference) -> bool {
    agent.kind.ends_with("_inbound_integration_reference")
}

/// `detected_by` from the trigger log entry's agent: `monitoring` for an integration, `person` for
/// a user; empty (not known) for anything else.
pub fn detected_by(trigger: Option<&LogEntry>) -> Option<&'static str> {
    let agent = trigger?.agent.as_ref()?;
    if is_integration(agent) {
        Some("monitoring")
    } else if agent.kind == "user_reference" {
        Some("person")
    } else {
        None
    }
}

/// `resolved_by` from the resolve log entry's agent: the person's name, or `monitoring` when an
/// integration resolved it or the service auto-resolved it (`service_reference`).
pub fn resolved_by(resolve: Option<&LogEntry>) -> Option<String> {
    let agent = resolve?.agent.as_ref()?;
    if is_integration(agent) || agent.kind == "service_reference" {
        Some("monitoring".into())
    } else if agent.kind == "user_reference" {
        agent.summary.clone().or_else(|| Some(agent.id.clone()))
    } else {
        None
    }
}

/// A commit named by a change event: a `sha`/`commit`/`commit_sha`/`revision` in its custom
/// details, or a link to a commit (`…/commit/SHA`, GitHub and GitLab).
pub fn change_sha(event: &ChangeEvent) -> Option<String> {
    let is_sha = |s: &str| (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(details) = event.custom_details.as_ref().and_then(|d| d.as_object()) {
        for key in ["sha", "commit", "commit_sha", "revision", "git_sha"] {
            if let Some(v) = details.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|v| is_sha(v)) {
                return Some(v.to_ascii_lowercase());
            }
        }
    }
    event.links.iter().filter_map(|l| l.href.as_deref()).find_map(|href| {
        let (_, tail) = href.split_once("/commit/")?;
        let sha = tail.split(['/', '?', '#']).next()?;
        is_sha(sha).then(|| sha.to_ascii_lowercase())
    })
}

/// The deployment id of a change event read as a deployment.
pub fn change_deployment_id(event_id: &str) -> String {
    format!("pagerduty:change:{event_id}")
}

pub fn incident_id(id: &str) -> String {
    format!("pagerduty:incident:{id}")
}

/// A deployment of another source, as a change event's commit is matched against it.
#[derive(Debug, Clone)]
pub struct KnownDeployment {
    pub id: String,
    pub service: String,
    pub sha: String,
    pub finished_at: DateTime<Utc>,
}

/// What the rows of an account are built from, besides its pages.
pub struct Context<'a> {
    /// PagerDuty service → flowgauge service (`None`: not mapped).
    pub service_of: &'a dyn Fn(&Reference) -> Option<String>,
    /// Whether a flowgauge service's change events are read as deployments.
    pub change_events_as_deployments: &'a dyn Fn(&str) -> bool,
    /// Successful production deployments of other sources, with their commit.
    pub deployments: &'a [KnownDeployment],
    pub is_production: &'a dyn Fn(&str, &str) -> bool,
    /// `source` column of the rows (`pagerduty`).
    pub source: &'a str,
    /// Prefix of the evidence ids (`pagerduty:<account>:`).
    pub evidence_prefix: &'a str,
}

/// Everything the pages of an account say, gathered.
#[derive(Default)]
pub struct Pages {
    pub incidents: BTreeMap<String, Incident>,
    pub log_entries: HashMap<String, Vec<LogEntry>>,
    seen_entries: std::collections::HashSet<String>,
    /// Incident id → the change events PagerDuty relates to it.
    pub related: HashMap<String, Vec<ChangeEvent>>,
    pub change_events: BTreeMap<String, ChangeEvent>,
}

impl Pages {
    pub fn add_incidents(&mut self, incidents: Vec<Incident>) {
        for incident in incidents {
            self.incidents.insert(incident.id.clone(), incident);
        }
    }

    pub fn add_log_entries(&mut self, entries: Vec<LogEntry>) {
        for entry in entries {
            let Some(incident) = entry.incident.as_ref().map(|i| i.id.clone()) else { continue };
            if self.seen_entries.insert(entry.id.clone()) {
                self.log_entries.entry(incident).or_default().push(entry);
            }
        }
    }

    pub fn add_change_events(&mut self, events: Vec<ChangeEvent>) {
        for event in events {
            self.change_events.insert(event.id.clone(), event);
        }
    }
}

/// The rows an account's pages become, and what could not be placed.
#[derive(Default)]
pub struct Rows {
    pub incidents: Vec<Row>,
    pub deployments: Vec<Row>,
    pub evidence: Vec<Row>,
    /// PagerDuty services no `service_map` entry matched: `name (ID)` → incidents.
    pub unmapped: BTreeMap<String, usize>,
    /// Incidents linked to a deployment by PagerDuty's change correlation.
    pub tracker_links: usize,
}

/// Opened by monitoring / by people, per flowgauge service and PagerDuty service.
#[derive(Default)]
struct Detection {
    monitoring: usize,
    person: usize,
    unknown: usize,
    auto_resolved: usize,
}

/// Builds every row of an account from its gathered pages.
pub fn rows(pages: &Pages, ctx: &Context) -> Rows {
    let mut out = Rows::default();
    let mut detection: BTreeMap<(String, String, String), Detection> = BTreeMap::new();
    let mut as_deployments: BTreeMap<String, &ChangeEvent> = BTreeMap::new();
    for event in pages.change_events.values() {
        for service in event.services.iter().filter_map(|s| (ctx.service_of)(s)) {
            if (ctx.change_events_as_deployments)(&service) {
                as_deployments.insert(event.id.clone(), event);
                out.deployments.push(model::DEPLOYMENTS.row([
                    ("id", Value::Text(change_deployment_id(&event.id))),
                    ("source", Value::Text(ctx.source.to_string())),
                    ("service", Value::Text(service.clone())),
                    ("environment", Value::Text("production".into())),
                    ("is_production", Value::Bool((ctx.is_production)(&service, "production"))),
                    ("sha", change_sha(event).map_or(Value::Null, Value::Text)),
                    ("started_at", Value::Time(event.timestamp)),
                    ("finished_at", Value::Time(event.timestamp)),
                    ("status", Value::Text("success".into())),
                    ("triggered_by", event.source.clone().map_or(Value::Null, Value::Text)),
                ]));
                break;
            }
        }
    }
    for incident in pages.incidents.values() {
        let service = match (ctx.service_of)(&incident.service) {
            Some(s) => s,
            None => {
                let name = incident.service.summary.clone().unwrap_or_default();
                *out.unmapped.entry(format!("{name} ({})", incident.service.id)).or_default() += 1;
                // Kept under the PagerDuty service's own name, like a repository no service claims.
                if name.is_empty() { incident.service.id.clone() } else { name }
            }
        };
        let empty = Vec::new();
        let mut entries: Vec<&LogEntry> = pages.log_entries.get(&incident.id).unwrap_or(&empty).iter().collect();
        entries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        let first = |kind: &str| entries.iter().copied().find(|e| e.kind == kind);
        let last = |kind: &str| entries.iter().rev().copied().find(|e| e.kind == kind);
        let trigger = first("trigger_log_entry");
        let acknowledge = first("acknowledge_log_entry");
        let resolve = if incident.is_resolved() { last("resolve_log_entry") } else { None };
        let acknowledged_at =
            acknowledge.map(|e| e.created_at).or_else(|| incident.acknowledgements.iter().filter_map(|a| a.at).min());
        let resolved_at = if incident.is_resolved() {
            incident.resolved_at.or(resolve.map(|e| e.created_at)).or(incident.last_status_change_at)
        } else {
            None
        };
        let assignee = acknowledge
            .and_then(|e| e.agent.as_ref())
            .filter(|a| a.kind == "user_reference")
            .and_then(|a| a.summary.clone())
            .or_else(|| incident.assignments.iter().find_map(|a| a.assignee.as_ref()?.summary.clone()))
            .or_else(|| first("assign_log_entry").and_then(|e| e.assignees.first()?.summary.clone()));
        let detected = detected_by(trigger);
        let resolver = resolved_by(resolve);
        let tracker = tracker_deployment(incident, &service, pages, &as_deployments, ctx);
        if tracker.is_some() {
            out.tracker_links += 1;
        }
        let d = detection
            .entry((service.clone(), incident.service.id.clone(), incident.service.summary.clone().unwrap_or_default()))
            .or_default();
        match detected {
            Some("monitoring") => d.monitoring += 1,
            Some(_) => d.person += 1,
            None => d.unknown += 1,
        }
        if resolver.as_deref() == Some("monitoring") {
            d.auto_resolved += 1;
        }
        let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
        let time = |v: Option<DateTime<Utc>>| v.map_or(Value::Null, Value::Time);
        out.incidents.push(model::INCIDENTS.row([
            ("id", Value::Text(incident_id(&incident.id))),
            ("source", Value::Text(ctx.source.to_string())),
            ("service", Value::Text(service)),
            ("title", text(incident.title.clone())),
            ("severity", text(incident.urgency.clone())),
            ("opened_at", Value::Time(incident.created_at)),
            ("acknowledged_at", time(acknowledged_at)),
            ("resolved_at", time(resolved_at)),
            ("assignee", text(assignee)),
            ("priority", text(incident.priority.as_ref().and_then(|p| p.summary.clone()))),
            ("team", text(incident.teams.first().and_then(|t| t.summary.clone()))),
            ("detected_by", text(detected.map(str::to_string))),
            ("resolved_by", text(resolver)),
            ("tracker_deployment_id", text(tracker)),
        ]));
    }
    for ((service, pd_id, pd_name), d) in detection {
        let known = d.monitoring + d.person;
        let total = known + d.unknown;
        let detail = format!(
            "PagerDuty service {pd_name} ({pd_id}): of {total} incidents, {} opened by monitoring (an alerting integration), {} by people{}; {} resolved by monitoring (integration or auto-resolve)",
            d.monitoring,
            d.person,
            if d.unknown > 0 { format!(", {} by neither (not known)", d.unknown) } else { String::new() },
            d.auto_resolved
        );
        out.evidence.push(model::EVIDENCE.row([
            ("id", Value::Text(format!("{}{pd_id}:incident detection", ctx.evidence_prefix))),
            ("source", Value::Text(ctx.source.to_string())),
            ("service", Value::Text(service)),
            ("kind", Value::Text("practice".into())),
            ("category", Value::Text("incident detection".into())),
            ("tool", Value::Text("pagerduty".into())),
            ("detail", Value::Text(detail)),
            ("path", Value::Text(format!("pagerduty/services/{pd_id}"))),
            ("value", if known > 0 { Value::Float(d.monitoring as f64 / known as f64) } else { Value::Null }),
        ]));
    }
    out
}

/// The deployment PagerDuty's change correlation points at: among the change events related to
/// the incident that happened at or before it opened, the latest that is a known deployment of the
/// incident's service — one of another source that deployed the commit the change event names
/// (the latest such deployment finished at or before the incident opened), or the change event
/// itself where change events are read as deployments.
fn tracker_deployment(
    incident: &Incident,
    service: &str,
    pages: &Pages,
    as_deployments: &BTreeMap<String, &ChangeEvent>,
    ctx: &Context,
) -> Option<String> {
    let mut related: Vec<&ChangeEvent> =
        pages.related.get(&incident.id)?.iter().filter(|e| e.timestamp <= incident.created_at).collect();
    related.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.id.cmp(&b.id)));
    related.into_iter().find_map(|event| {
        if let Some(sha) = change_sha(event) {
            let shipped = ctx
                .deployments
                .iter()
                .filter(|d| d.service == service && d.sha.starts_with(&sha) && d.finished_at <= incident.created_at)
                .max_by(|a, b| a.finished_at.cmp(&b.finished_at).then_with(|| a.id.cmp(&b.id)));
            if let Some(d) = shipped {
                return Some(d.id.clone());
            }
        }
        let read_as_deployment = as_deployments
            .get(&event.id)
            .is_some_and(|e| e.services.iter().filter_map(|s| (ctx.service_of)(s)).any(|s| s == service));
        read_as_deployment.then(|| change_deployment_id(&event.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(kind: &str) -> Option<Reference> {
        Some(Reference { id: "X".into(), kind: kind.into(), summary: Some("Ada".into()) })
    }

    fn entry(kind: &str, agent_kind: &str) -> LogEntry {
        LogEntry {
            id: "L".into(),
            kind: kind.into(),
            created_at: Utc::now(),
            agent: agent(agent_kind),
            incident: None,
            assignees: vec![],
        }
    }

    #[test]
    fn integrations_are_monitoring_and_users_are_people() {
        let t = entry("trigger_log_entry", "events_api_v2_inbound_integration_reference");
        assert_eq!(detected_by(Some(&t)), Some("monitoring"));
        assert_eq!(detected_by(Some(&entry("trigger_log_entry", "user_reference"))), Some("person"));
        assert_eq!(detected_by(Some(&entry("trigger_log_entry", "service_reference"))), None);
        assert_eq!(detected_by(None), None);
        let auto = entry("resolve_log_entry", "service_reference");
        assert_eq!(resolved_by(Some(&auto)).as_deref(), Some("monitoring"));
        assert_eq!(resolved_by(Some(&entry("resolve_log_entry", "user_reference"))).as_deref(), Some("Ada"));
    }

    #[test]
    fn a_change_event_names_its_commit_in_details_or_a_link() {
        let mut e: ChangeEvent = serde_json::from_value(serde_json::json!({
            "id": "C1", "timestamp": "2025-01-01T00:00:00Z",
            "links": [{"href": "https://github.com/acme/shop/commit/ABCDEF1234567?diff=split"}]
        }))
        .unwrap();
        assert_eq!(change_sha(&e).as_deref(), Some("abcdef1234567"));
        e.custom_details = Some(serde_json::json!({"sha": "0123456789abcdef0123456789abcdef01234567"}));
        assert_eq!(change_sha(&e).as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        e.custom_details = Some(serde_json::json!({"sha": "main"}));
        e.links.clear();
        assert_eq!(change_sha(&e), None);
    }
}
