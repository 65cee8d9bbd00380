//! The assessment's evidence indicators on hand-made tables: each indicator's value, the score its
//! catalogue bands give it, the unknown cases, and the `[since, until)` period.

use std::collections::{BTreeSet, HashMap};

use flowgauge::assess::capabilities::evidence::{EvidenceInput, Measurement, measure};
use flowgauge::config::Config;
use flowgauge::model::{self, Value};
use polars::prelude::*;
use serde::Deserialize;

use crate::helpers::{Fixture, b, config, repo_root, s, t, t_utc};

const CAPABILITIES: [&str; 20] = [
    "version-control",
    "continuous-integration",
    "trunk-based-development",
    "test-automation",
    "deployment-automation",
    "continuous-delivery",
    "streamlined-change-approval",
    "small-batches",
    "monitoring-observability",
    "proactive-failure-notification",
    "rollback-recovery",
    "incident-response-review",
    "loosely-coupled-architecture",
    "database-change-management",
    "infrastructure-as-code",
    "containers-orchestration",
    "configuration-management",
    "pervasive-security",
    "code-maintainability-knowledge",
    "documentation-runbooks",
];

#[derive(Deserialize)]
struct Catalogue {
    indicator: Vec<Indicator>,
}

#[derive(Deserialize)]
struct Indicator {
    id: String,
    capability: String,
    name: String,
    meaning: String,
    unit: String,
    better: String,
    bands: [f64; 4],
    tables: Vec<String>,
}

fn catalogue() -> HashMap<String, Indicator> {
    let text = std::fs::read_to_string(repo_root().join("src/assess/catalogue.toml")).unwrap();
    let catalogue: Catalogue = toml::from_str(&text).unwrap();
    catalogue.indicator.into_iter().map(|i| (i.id.clone(), i)).collect()
}

/// The contract's scoring of one value against its indicator's bands.
fn score(indicator: &Indicator, value: f64) -> f64 {
    let [t1, t2, t3, t4] = indicator.bands;
    if indicator.better == "higher" {
        [(t1, 0.0), (t2, 2.5), (t3, 5.0), (t4, 7.5)].iter().find(|(t, _)| value < *t).map_or(10.0, |(_, s)| *s)
    } else {
        [(t1, 10.0), (t2, 7.5), (t3, 5.0), (t4, 2.5)].iter().find(|(t, _)| value <= *t).map_or(0.0, |(_, s)| *s)
    }
}

const Q1: (&str, &str) = ("2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z");

/// Measures every indicator of `service` over the first quarter of 2025.
fn measured(
    fx: &Fixture,
    cfg: &Config,
    service: &str,
    edit: impl FnOnce(&mut HashMap<&'static str, DataFrame>),
) -> Measured {
    let (computation, _) = fx.compute(cfg);
    let mut tables = fx.frames();
    edit(&mut tables);
    let input = EvidenceInput { tables: &tables, computation: &computation, config: cfg };
    let list = measure(&input, service, t_utc(Q1.0), t_utc(Q1.1)).unwrap();
    let ids: Vec<&str> = list.iter().map(|m| m.indicator.as_str()).collect();
    assert_eq!(ids.len(), ids.iter().collect::<BTreeSet<_>>().len(), "each indicator once: {ids:?}");
    Measured { by_id: list.into_iter().map(|m| (m.indicator.clone(), m)).collect(), catalogue: catalogue() }
}

struct Measured {
    by_id: HashMap<String, Measurement>,
    catalogue: HashMap<String, Indicator>,
}

impl Measured {
    fn get(&self, id: &str) -> &Measurement {
        self.by_id.get(id).unwrap_or_else(|| panic!("no indicator {id}"))
    }

    /// The value, to 1e-9, and the score the catalogue's bands give it.
    fn expect(&self, id: &str, value: f64, expected_score: f64) -> &Measurement {
        let m = self.get(id);
        let v = m.value.unwrap_or_else(|| panic!("{id} is unknown: {:?}", m.unknown_reason));
        assert!((v - value).abs() < 1e-9, "{id}: expected {value}, got {v} ({})", m.detail);
        let got = score(&self.catalogue[id], v);
        assert_eq!(got, expected_score, "{id}: {v} scores {got}, expected {expected_score}");
        assert!(m.unknown_reason.is_none());
        m
    }

    fn unknown(&self, id: &str, reason: &str) {
        let m = self.get(id);
        assert_eq!(m.value, None, "{id} should be unknown: {}", m.detail);
        let why = m.unknown_reason.as_deref().unwrap_or("");
        assert!(why.contains(reason), "{id}: reason {why:?} lacks {reason:?}");
        assert_eq!(m.sample, 0);
    }

    fn records(&self, id: &str) -> Vec<&str> {
        let mut r: Vec<&str> = self.get(id).records.iter().map(String::as_str).collect();
        r.sort();
        r
    }
}

fn services(list: &[(&str, &str, &str)]) -> Config {
    let mut extra = String::new();
    for (name, repo, paths) in list {
        extra.push_str(&format!("[[services]]\nname = \"{name}\"\nrepos = [\"{repo}\"]\n"));
        if !paths.is_empty() {
            extra.push_str(&format!("paths = [\"{paths}\"]\n"));
        }
    }
    config("2025-01-01", "2026-01-01", &extra)
}

fn deploy(fx: &mut Fixture, id: &str, service: &str, env: &str, status: &str, finished: &str, extra: &[(&str, Value)]) {
    let mut cells = vec![
        ("id", s(id)),
        ("source", s("test")),
        ("service", s(service)),
        ("environment", s(env)),
        ("is_production", b(env == "production")),
        ("finished_at", t(finished)),
        ("status", s(status)),
    ];
    cells.extend(extra.iter().cloned());
    fx.add(&model::DEPLOYMENTS, &cells);
}

#[test]
fn every_indicator_is_catalogued_with_valid_bands_and_every_capability_has_one() {
    let catalogue = catalogue();
    let fx = Fixture::default();
    let cfg = services(&[("shop", "acme/shop", "")]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    let measured_ids: BTreeSet<&str> = m.by_id.keys().map(String::as_str).collect();
    let catalogued: BTreeSet<&str> = catalogue.keys().map(String::as_str).collect();
    assert_eq!(measured_ids, catalogued);
    // The indicators left out of quarters are catalogued, and every one read from the repository's
    // snapshot rows alone is among them.
    for id in flowgauge::assess::capabilities::evidence::HEAD_INDICATORS {
        assert!(catalogue.contains_key(id), "{id} is not catalogued");
    }
    for (id, i) in &catalogue {
        if i.tables == ["evidence"] {
            assert!(flowgauge::assess::capabilities::evidence::describes_head(id), "{id} reads only evidence rows");
        }
    }
    for capability in CAPABILITIES {
        assert!(catalogue.values().any(|i| i.capability == capability), "{capability} has no indicator");
    }
    let model_tables: BTreeSet<&str> = model::TABLES.iter().map(|t| t.name).collect();
    for i in catalogue.values() {
        assert!(CAPABILITIES.contains(&i.capability.as_str()), "{}: capability {}", i.id, i.capability);
        assert!(["share", "days", "hours", "count", "bool"].contains(&i.unit.as_str()), "{}", i.id);
        assert!(["higher", "lower"].contains(&i.better.as_str()), "{}", i.id);
        assert!(i.bands.windows(2).all(|w| w[0] <= w[1]), "{}: bands ascend", i.id);
        assert!(!i.name.is_empty() && !i.meaning.is_empty() && !i.tables.is_empty(), "{}", i.id);
        assert!(i.tables.iter().all(|t| model_tables.contains(t.as_str())), "{}: {:?}", i.id, i.tables);
        if i.unit == "bool" {
            assert_eq!((i.bands, i.better.as_str()), ([0.5; 4], "higher"), "{}", i.id);
        }
    }
    // An empty period is refused rather than divided by.
    let (computation, _) = fx.compute(&cfg);
    let tables = fx.frames();
    let input = EvidenceInput { tables: &tables, computation: &computation, config: &cfg };
    let err = measure(&input, "shop", t_utc(Q1.1), t_utc(Q1.1)).unwrap_err();
    assert!(err.to_string().contains("must end after it starts"), "{err}");
    // With no data at all, nothing is guessed: every indicator is unknown, with a reason.
    for (id, measurement) in &m.by_id {
        assert_eq!(measurement.value, None, "{id}: {}", measurement.detail);
        assert!(measurement.unknown_reason.as_deref().is_some_and(|r| !r.is_empty()), "{id}");
    }
}

#[test]
fn deployments_name_commits_started_by_people_days_success_and_approval_waits() {
    let mut fx = Fixture::default();
    deploy(
        &mut fx,
        "d1",
        "shop",
        "production",
        "success",
        "2025-01-06T10:00:00Z",
        &[("sha", s("aaa")), ("is_manual", b(true))],
    );
    deploy(
        &mut fx,
        "d2",
        "shop",
        "production",
        "success",
        "2025-01-06T15:00:00Z",
        &[("triggered_by", s("github-actions"))],
    );
    deploy(
        &mut fx,
        "d3",
        "shop",
        "production",
        "failure",
        "2025-01-08T10:00:00Z",
        &[("sha", s("bbb")), ("triggered_by", s("alice"))],
    );
    let wait = ("approval_wait_seconds", Value::Float(7_200.0));
    deploy(
        &mut fx,
        "d4",
        "shop",
        "production",
        "success",
        "2025-01-13T10:00:00Z",
        &[("sha", s("ccc")), ("is_manual", b(false)), wait],
    );
    deploy(&mut fx, "d5", "shop", "staging", "success", "2025-01-14T10:00:00Z", &[("is_manual", b(true))]);
    // After the period: would change every share if it were counted.
    deploy(&mut fx, "d6", "shop", "production", "failure", "2025-04-01T00:00:00Z", &[("is_manual", b(true))]);
    fx.add(
        &model::APPROVALS,
        &[
            ("id", s("a1")),
            ("subject_id", s("d1")),
            ("requested_at", t("2025-01-06T06:00:00Z")),
            ("decided_at", t("2025-01-06T10:00:00Z")),
        ],
    );
    let cfg = services(&[("shop", "acme/shop", "")]);
    let m = measured(&fx, &cfg, "shop", |_| {});

    let named = m.expect("vc.deployments_name_sha", 0.75, 5.0);
    assert_eq!(named.detail, "3 of 4 production deployments name the commit they deployed");
    assert_eq!(m.records("vc.deployments_name_sha"), ["d1", "d2", "d3", "d4"]);
    // d3 names a person in triggered_by but does not say it was started by hand: not judged.
    let manual = m.expect("da.manual_production_deployments", 1.0 / 3.0, 5.0);
    assert!(
        manual.detail.starts_with("1 of 3 production deployments were started by a person; 1 more"),
        "{}",
        manual.detail
    );
    assert_eq!(m.records("da.manual_production_deployments"), ["d1", "d2", "d4"]);
    // Two deployment days (6 and 13 January) in 90 days.
    m.expect("cd.deploy_days_per_week", 2.0 / (90.0 / 7.0), 0.0);
    m.expect("cd.deployment_success", 0.75, 2.5);
    // d4 waited 2 hours (approval_wait_seconds), d1 4 hours (its approvals row): median 3.
    m.expect("sca.approval_wait_hours", 3.0, 7.5);
    assert_eq!(m.records("sca.approval_wait_hours"), ["d1", "d4"]);

    // Bands on the other side: every production deployment automated and named, daily.
    let mut fx = Fixture::default();
    for day in 1..=31 {
        let when = format!("2025-01-{day:02}T10:00:00Z");
        deploy(
            &mut fx,
            &format!("d{day}"),
            "shop",
            "production",
            "success",
            &when,
            &[("sha", s("x")), ("is_manual", b(false))],
        );
    }
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("vc.deployments_name_sha", 1.0, 10.0);
    m.expect("da.manual_production_deployments", 0.0, 10.0);
    m.expect("cd.deploy_days_per_week", 31.0 / (90.0 / 7.0), 7.5);
    m.expect("cd.deployment_success", 1.0, 10.0);
    m.unknown("sca.approval_wait_hours", "none of the 31 production deployments records an approval wait");

    // Deployments only before the period: collected, but none in it.
    let mut fx = Fixture::default();
    deploy(&mut fx, "old", "shop", "production", "success", "2024-12-31T23:59:59Z", &[]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("cd.deploy_days_per_week", 0.0, 0.0);
    m.unknown("vc.deployments_name_sha", "no production deployment in the period");
    m.unknown("cd.deployment_success", "no production deployment succeeded or failed");

    // A source that records neither is_manual nor an automation in triggered_by cannot tell.
    let mut fx = Fixture::default();
    deploy(&mut fx, "d1", "shop", "production", "success", "2025-02-01T10:00:00Z", &[("triggered_by", s("bob"))]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("da.manual_production_deployments", "none of the 1 production deployments records whether a person");
}

#[test]
fn rollbacks_changes_per_deployment_coupled_deployments_and_incidents() {
    let mut fx = Fixture::default();
    let no = ("is_rollback", b(false));
    deploy(&mut fx, "d1", "shop", "production", "success", "2025-02-03T10:00:00Z", &[("sha", s("s1")), no.clone()]);
    deploy(
        &mut fx,
        "d2",
        "shop",
        "production",
        "success",
        "2025-02-03T12:00:00Z",
        &[("sha", s("s0")), ("is_rollback", b(true))],
    );
    deploy(&mut fx, "d3", "shop", "production", "success", "2025-02-10T10:00:00Z", &[("sha", s("s3")), no.clone()]);
    // Another service deploys d1's commit half an hour later: the two go together.
    deploy(&mut fx, "o1", "other", "production", "success", "2025-02-03T10:30:00Z", &[("sha", s("s1"))]);
    // ... and d3's a day later: not together.
    deploy(&mut fx, "o2", "other", "production", "success", "2025-02-11T10:00:00Z", &[("sha", s("s3"))]);
    fx.change("c1", "shop", "2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z", Some("2025-02-02T00:00:00Z"), "m1");
    fx.change("c2", "shop", "2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z", Some("2025-02-02T01:00:00Z"), "m2");
    fx.change("c3", "shop", "2025-02-08T00:00:00Z", "2025-02-08T01:00:00Z", Some("2025-02-09T00:00:00Z"), "m3");
    fx.ships("d1", &["m1", "m2"]).ships("d3", &["m3"]);
    fx.incident("i1", "shop", "2025-02-10T12:00:00Z", Some("2025-02-10T18:00:00Z"), Some("d3"));
    fx.add(
        &model::INCIDENTS,
        &[("id", s("i2")), ("source", s("test")), ("service", s("shop")), ("opened_at", t("2025-03-01T00:00:00Z"))],
    );
    // Opened after the period: counted nowhere.
    fx.incident("i3", "shop", "2025-04-02T00:00:00Z", Some("2025-04-02T00:10:00Z"), None);
    let cfg = services(&[("shop", "acme/shop", ""), ("other", "acme/other", "")]);
    let (computation, _) = fx.compute(&cfg);
    let mut tables = fx.frames();
    // i1 was acknowledged half an hour after it opened.
    let incidents = tables.get_mut("incidents").unwrap();
    let at = t_utc("2025-02-10T12:30:00Z").timestamp_micros();
    let ack: Vec<Option<i64>> = strs(incidents, "id").iter().map(|id| (id == "i1").then_some(at)).collect();
    let ack =
        Series::new("acknowledged_at".into(), ack).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).unwrap();
    incidents.with_column(ack.into()).unwrap();
    let input = EvidenceInput { tables: &tables, computation: &computation, config: &cfg };
    let list = measure(&input, "shop", t_utc(Q1.0), t_utc(Q1.1)).unwrap();
    let m = Measured { by_id: list.into_iter().map(|m| (m.indicator.clone(), m)).collect(), catalogue: catalogue() };

    // d1 failed (the next deployment rolled it back, 2 hours later); d3 failed (incident i1).
    let exercised = m.expect("rr.rollback_exercised", 1.0, 10.0);
    assert_eq!(exercised.detail, "1 of 2 failed production deployments were rolled back");
    m.expect("rr.rollback_recovery_hours", 2.0, 7.5);
    assert_eq!(m.records("rr.rollback_recovery_hours"), ["d1"]);
    // d1 shipped c1 and c2, d3 shipped c3: a median of 1.5 changes per deployment.
    m.expect("sb.changes_per_deployment", 1.5, 7.5);
    assert_eq!(m.records("sb.changes_per_deployment"), ["d1", "d3"]);
    let coupled = m.expect("lc.coupled_deployments", 1.0 / 3.0, 2.5);
    assert!(coupled.detail.starts_with("1 of 3 successful production deployments"), "{}", coupled.detail);
    // Incidents of the period: i1 (resolved after 6 hours, acknowledged after 30 minutes, cause
    // named) and i2 (open, nothing recorded).
    m.expect("irr.incident_restore_hours", 6.0, 7.5);
    assert_eq!(m.records("irr.incident_restore_hours"), ["i1"]);
    m.expect("pfn.acknowledge_hours", 0.5, 5.0);
    m.expect("mo.incident_cause_recorded", 0.5, 5.0);
    assert_eq!(m.records("mo.incident_cause_recorded"), ["i1", "i2"]);
    m.unknown("pfn.incidents_opened_by_monitoring", "records who or what opened it");
    m.unknown("pfn.detection_delay_hours", "not when the failure began");
    // Q2 holds only i3, which names no cause: the source may not record causes, so no evidence.
    let q2 = measure(&input, "shop", t_utc("2025-04-01T00:00:00Z"), t_utc("2025-07-01T00:00:00Z")).unwrap();
    let cause = q2.iter().find(|m| m.indicator == "mo.incident_cause_recorded").unwrap();
    assert_eq!(cause.value, None, "{}", cause.detail);
    assert!(cause.unknown_reason.as_deref().unwrap().starts_with("none of the 1 incidents names"), "{cause:?}");

    // No rollbacks recorded at all, no failures, no incidents: unknown, not zero.
    let mut fx = Fixture::default();
    deploy(&mut fx, "d1", "shop", "production", "success", "2025-02-03T10:00:00Z", &[]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("rr.rollback_exercised", "does not record rollbacks");
    m.unknown("rr.rollback_recovery_hours", "no failed production deployment of the period was rolled back");
    m.unknown("irr.incident_restore_hours", "no incident was opened in the period");
    m.unknown("pfn.incidents_opened_by_monitoring", "no incident was opened in the period");
    m.unknown("sb.changes_per_deployment", "no change reached production");
    m.unknown("lc.coupled_deployments", "names the commit it deployed");
    let mut fx = Fixture::default();
    deploy(&mut fx, "d1", "shop", "production", "success", "2025-02-03T10:00:00Z", &[no]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("rr.rollback_exercised", "no production deployment failed in the period");
    // A failure that was fixed forward: rollbacks were possible and not used.
    let mut fx = Fixture::default();
    deploy(&mut fx, "d1", "shop", "production", "success", "2025-02-03T10:00:00Z", &[("is_rollback", b(false))]);
    fx.incident("i1", "shop", "2025-02-03T11:00:00Z", Some("2025-02-03T13:00:00Z"), Some("d1"));
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("rr.rollback_exercised", 0.0, 0.0);
    m.unknown("pfn.acknowledge_hours", "none of the 1 incidents records when it was acknowledged");
}

fn strs(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
}

#[allow(clippy::too_many_arguments)]
fn change(
    fx: &mut Fixture,
    id: &str,
    times: [Option<&str>; 4],
    head: &str,
    lines: Option<(i64, i64)>,
    author: &str,
    sha: &str,
    commit: &str,
) {
    let [first_commit, created, approved, merged] = times;
    let mut cells = vec![
        ("id", s(id)),
        ("source", s("test")),
        ("repo", s("acme/shop")),
        ("service", s("shop")),
        ("author", s(author)),
        ("base_branch", s("main")),
        ("head_branch", s(head)),
        ("merge_commit_sha", s(sha)),
    ];
    for (name, value) in
        [("first_commit_at", first_commit), ("created_at", created), ("approved_at", approved), ("merged_at", merged)]
    {
        if let Some(v) = value {
            cells.push((name, t(v)));
        }
    }
    if let Some((added, deleted)) = lines {
        cells.push(("additions", Value::Int(added)));
        cells.push(("deletions", Value::Int(deleted)));
    }
    fx.add(&model::CHANGES, &cells);
    fx.add(&model::CHANGE_COMMITS, &[("change_id", s(id)), ("sha", s(commit))]);
}

fn pipeline(fx: &mut Fixture, id: &str, git_ref: &str, sha: &str, status: &str, finished: &str, attempt: Option<i64>) {
    let mut cells = vec![
        ("id", s(id)),
        ("source", s("test")),
        ("repo", s("acme/shop")),
        ("service", s("shop")),
        ("name", s("CI")),
        ("ref", s(git_ref)),
        ("sha", s(sha)),
        ("finished_at", t(finished)),
        ("status", s(status)),
    ];
    if let Some(a) = attempt {
        cells.push(("attempt", Value::Int(a)));
    }
    fx.add(&model::PIPELINES, &cells);
}

fn job(fx: &mut Fixture, id: &str, pipeline: &str, name: &str, manual: bool, attempt: Option<i64>) {
    let mut cells = vec![("id", s(id)), ("pipeline_id", s(pipeline)), ("name", s(name)), ("is_manual", b(manual))];
    if let Some(a) = attempt {
        cells.push(("attempt", Value::Int(a)));
    }
    fx.add(&model::JOBS, &cells);
}

#[test]
fn changes_and_pipelines_show_integration_branch_life_review_size_and_what_pipelines_run() {
    let mut fx = Fixture::default();
    /// First commit, opening, approval, merge.
    fn times<'a>(a: &'a str, b: Option<&'a str>, c: Option<&'a str>, d: &'a str) -> [Option<&'a str>; 4] {
        [Some(a), b, c, Some(d)]
    }
    change(
        &mut fx,
        "c1",
        times(
            "2025-01-05T08:00:00Z",
            Some("2025-01-05T09:00:00Z"),
            Some("2025-01-05T11:00:00Z"),
            "2025-01-05T15:00:00Z",
        ),
        "f1",
        Some((30, 10)),
        "alice",
        "m1",
        "h1",
    );
    change(
        &mut fx,
        "c2",
        times(
            "2025-01-06T00:00:00Z",
            Some("2025-01-07T00:00:00Z"),
            Some("2025-01-08T00:00:00Z"),
            "2025-01-09T00:00:00Z",
        ),
        "f2",
        Some((300, 100)),
        "dependabot[bot]",
        "m2",
        "h2",
    );
    change(
        &mut fx,
        "c3",
        times("2025-01-20T00:00:00Z", None, None, "2025-01-20T12:00:00Z"),
        "f3",
        None,
        "bob",
        "m3",
        "h3",
    );
    // Merged after the period.
    change(
        &mut fx,
        "c4",
        times("2025-04-01T00:00:00Z", None, None, "2025-04-05T00:00:00Z"),
        "f4",
        Some((1, 1)),
        "bob",
        "m4",
        "h4",
    );
    // c1's commit went green before it was merged; c2's only failed before, and went green after.
    pipeline(&mut fx, "p1", "f1", "h1", "success", "2025-01-05T10:00:00Z", Some(1));
    pipeline(&mut fx, "p2", "f2", "h2", "failure", "2025-01-07T01:00:00Z", Some(1));
    pipeline(&mut fx, "p2b", "f2", "h2", "success", "2025-01-10T00:00:00Z", Some(2));
    // main: red for 3 hours (two failures, then green), later red for 1 hour.
    pipeline(&mut fx, "p3", "main", "m1", "success", "2025-01-05T16:00:00Z", None);
    pipeline(&mut fx, "p4", "main", "x", "failure", "2025-01-06T00:00:00Z", None);
    pipeline(&mut fx, "p5", "main", "x", "failure", "2025-01-06T01:00:00Z", None);
    pipeline(&mut fx, "p6", "main", "x", "success", "2025-01-06T03:00:00Z", None);
    pipeline(&mut fx, "p7", "main", "x", "failure", "2025-01-21T00:00:00Z", None);
    pipeline(&mut fx, "p8", "main", "x", "success", "2025-01-21T01:00:00Z", None);
    // After the period, still red: it must not touch the period's figure.
    pipeline(&mut fx, "p9", "main", "x", "failure", "2025-04-10T00:00:00Z", Some(3));
    job(&mut fx, "j1", "p1", "unit-tests", false, None);
    job(&mut fx, "j2", "p1", "lint", false, None);
    job(&mut fx, "j3", "p3", "build", false, None);
    job(&mut fx, "j4", "p3", "approve-production", true, None);
    job(&mut fx, "j5", "p3", "db-migrate", false, None);
    job(&mut fx, "j6", "p6", "codeql analyze", false, Some(2));
    job(&mut fx, "j7", "p9", "integration tests", true, None);
    let cfg = services(&[("shop", "acme/shop", "")]);
    let m = measured(&fx, &cfg, "shop", |_| {});

    let before = m.expect("ci.pipeline_before_merge", 1.0 / 3.0, 0.0);
    assert_eq!(before.detail, "1 of 3 merged changes had a successful pipeline before they were merged");
    assert_eq!(m.records("ci.pipeline_before_merge"), ["c1", "c2", "c3"]);
    let red = m.expect("ci.main_red_hours", 2.0, 7.5);
    assert!(red.detail.starts_with("main turned red 2 times in 6 pipelines; median 2.0 hours"), "{}", red.detail);
    // c1 was merged 6 hours after opening, c2 2 days after; c3 records no opening.
    m.expect("tbd.merged_within_day", 0.5, 5.0);
    // Branch life: c1 7 h, c2 72 h, c3 12 h.
    m.expect("tbd.median_branch_life_hours", 12.0, 10.0);
    // Opening to approval: c1 2 h, c2 24 h.
    m.expect("sca.review_hours", 13.0, 7.5);
    m.expect("sb.median_change_lines", 220.0, 7.5);
    m.expect("sec.dependency_updates", 1.0, 10.0);
    assert_eq!(m.records("sec.dependency_updates"), ["c2"]);
    assert_eq!(m.get("sec.dependency_updates").sample, 3, "the merged changes looked at");
    // Pipelines of the period with jobs: p1 (tests), p3 (a manual job, a migration), p6 (CodeQL, retried).
    m.expect("ta.test_jobs", 1.0 / 3.0, 2.5);
    m.expect("da.manual_jobs", 1.0 / 3.0, 2.5);
    assert_eq!(m.records("da.manual_jobs"), ["p1", "p3", "p6"]);
    // Attempts known for p1, p2, p2b and (through its job) p6; p2b and p6 were re-run.
    m.expect("ta.flaky_retries", 0.5, 0.0);
    assert_eq!(m.records("ta.flaky_retries"), ["p1", "p2", "p2b", "p6"]);
    m.expect("db.migrations_in_pipeline", 1.0, 10.0);
    assert_eq!(m.records("db.migrations_in_pipeline"), ["p3"]);
    m.expect("sec.scanning_jobs", 1.0, 10.0);
    assert_eq!(m.records("sec.scanning_jobs"), ["p6"]);

    // The good side of the bands: every change green before merge, merged the same day, small.
    let mut fx = Fixture::default();
    change(
        &mut fx,
        "c1",
        times(
            "2025-01-05T08:00:00Z",
            Some("2025-01-05T09:00:00Z"),
            Some("2025-01-05T09:30:00Z"),
            "2025-01-05T10:00:00Z",
        ),
        "f1",
        Some((20, 5)),
        "alice",
        "m1",
        "h1",
    );
    pipeline(&mut fx, "p1", "f1", "h1", "success", "2025-01-05T09:10:00Z", Some(1));
    pipeline(&mut fx, "p2", "main", "m1", "success", "2025-01-05T10:10:00Z", Some(1));
    job(&mut fx, "j1", "p1", "test", false, Some(1));
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("ci.pipeline_before_merge", 1.0, 10.0);
    let red = m.expect("ci.main_red_hours", 0.0, 10.0);
    assert_eq!(red.detail, "main never turned red in 1 pipeline");
    m.expect("tbd.merged_within_day", 1.0, 10.0);
    m.expect("sca.review_hours", 0.5, 10.0);
    m.expect("sb.median_change_lines", 25.0, 10.0);
    m.expect("ta.test_jobs", 1.0, 10.0);
    m.expect("ta.flaky_retries", 0.0, 10.0);
    m.expect("da.manual_jobs", 0.0, 10.0);
    // No migration step: the service may have no database — unknown, not 0.
    m.unknown("db.migrations_in_pipeline", "the service may not need it");
    m.expect("sec.scanning_jobs", 0.0, 0.0);
    m.expect("sec.dependency_updates", 0.0, 0.0);

    // Changes as git recovers them (no opening, no lines, no review) and no pipelines collected.
    let mut fx = Fixture::default();
    change(
        &mut fx,
        "g1",
        times("2025-02-01T00:00:00Z", None, None, "2025-02-01T05:00:00Z"),
        "",
        None,
        "bob",
        "m1",
        "h1",
    );
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("ci.pipeline_before_merge", "no pipeline of this service was collected");
    m.unknown("ci.main_red_hours", "no pipeline of this service was collected");
    m.unknown("ta.test_jobs", "no pipeline of this service was collected");
    m.unknown("tbd.merged_within_day", "none of the 1 merged changes records when it was opened");
    m.expect("tbd.median_branch_life_hours", 5.0, 10.0);
    m.unknown("sca.review_hours", "no merged change records both its opening and its approval");
    m.unknown("sb.median_change_lines", "no merged change records the lines it changed");

    // Pipelines without jobs, and a red main that is never fixed.
    let mut fx = Fixture::default();
    pipeline(&mut fx, "p1", "main", "x", "failure", "2025-02-01T00:00:00Z", None);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("ta.test_jobs", "no jobs were collected for the 1 pipelines of the period");
    m.unknown("ta.flaky_retries", "no pipeline of the period records its attempt number");
    m.unknown("ci.main_red_hours", "main turned red in the period and no later successful pipeline was collected");
    m.unknown("tbd.merged_within_day", "no change was merged in the period");

    // Changes merged before the earliest pipeline collected are not judged.
    let mut fx = Fixture::default();
    change(
        &mut fx,
        "old",
        times("2025-01-01T00:00:00Z", None, None, "2025-01-02T00:00:00Z"),
        "f0",
        None,
        "bob",
        "m0",
        "h0",
    );
    let m = measured(&fx, &cfg, "shop", |_| {});
    change(
        &mut fx,
        "new",
        times("2025-02-01T00:00:00Z", None, None, "2025-02-03T00:00:00Z"),
        "f1",
        None,
        "bob",
        "m1",
        "h1",
    );
    pipeline(&mut fx, "p1", "f1", "h1", "success", "2025-02-02T00:00:00Z", None);
    let m2 = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("ci.pipeline_before_merge", "no pipeline of this service was collected");
    let judged = m2.expect("ci.pipeline_before_merge", 1.0, 10.0);
    assert_eq!(
        judged.detail,
        "1 of 1 merged changes had a successful pipeline before they were merged; 1 merged before the earliest pipeline collected are not judged"
    );
    assert_eq!(m2.records("ci.pipeline_before_merge"), ["new"]);
    let mut fx = Fixture::default();
    change(
        &mut fx,
        "old",
        times("2025-01-01T00:00:00Z", None, None, "2025-01-02T00:00:00Z"),
        "f0",
        None,
        "bob",
        "m0",
        "h0",
    );
    pipeline(&mut fx, "p1", "main", "x", "success", "2025-02-02T00:00:00Z", None);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("ci.pipeline_before_merge", "were merged before the earliest pipeline collected");
}

/// An `evidence` row of acme/mono: id, source, service, and kind, category, tool, path, detail.
fn evidence(fx: &mut Fixture, id: &str, source: &str, service: &str, row: [&str; 5]) {
    let [kind, category, tool, path, detail] = row;
    let mut cells = vec![
        ("id", s(id)),
        ("source", s(source)),
        ("repo", s("acme/mono")),
        ("kind", s(kind)),
        ("category", s(category)),
        ("path", s(path)),
        ("detail", s(detail)),
    ];
    if !service.is_empty() {
        cells.push(("service", s(service)));
    }
    if !tool.is_empty() {
        cells.push(("tool", s(tool)));
    }
    fx.add(&model::EVIDENCE, &cells);
}

fn commit(fx: &mut Fixture, sha: &str, at: &str, files: &[(&str, &str)]) {
    fx.add(&model::COMMITS, &[("repo", s("acme/mono")), ("sha", s(sha)), ("committed_at", t(at))]);
    for (path, kind) in files {
        fx.add(
            &model::COMMIT_FILES,
            &[("repo", s("acme/mono")), ("sha", s(sha)), ("path", s(path)), ("change_type", s(kind))],
        );
    }
}

#[test]
fn repository_files_ownership_and_changes_across_services() {
    let mut fx = Fixture::default();
    evidence(
        &mut fx,
        "e1",
        "scan",
        "",
        ["practice", "ci pipeline", "github-actions", ".github/workflows/ci.yml", "ci pipeline"],
    );
    evidence(&mut fx, "e2", "scan", "shop", ["practice", "tests", "", "services/shop/tests", "tests"]);
    evidence(
        &mut fx,
        "e3",
        "scan",
        "shop",
        ["practice", "monitoring", "prometheus", "services/shop/alerts.yml", "monitoring"],
    );
    evidence(
        &mut fx,
        "e4",
        "scan",
        "",
        ["manual_step", "manual trigger", "github-actions", ".github/workflows/deploy.yml", "manual trigger"],
    );
    evidence(
        &mut fx,
        "e5",
        "scan",
        "",
        ["practice", "post-incident review", "", "docs/postmortem-template.md", "post-incident review template"],
    );
    evidence(&mut fx, "e6", "scan", "pay", ["practice", "container", "docker", "services/pay/Dockerfile", "container"]);
    evidence(&mut fx, "e7", "scan", "", ["practice", "kubernetes (helm)", "helm", "deploy/chart", "kubernetes (helm)"]);
    evidence(
        &mut fx,
        "g1",
        "github",
        "",
        ["practice", "code owners", "github-codeowners", ".github/CODEOWNERS", "code owners"],
    );
    evidence(
        &mut fx,
        "g2",
        "github",
        "",
        ["gap", "code owners error", "github-codeowners", ".github/CODEOWNERS", "code owners error"],
    );
    evidence(&mut fx, "o1", "ownership", "shop", ["gap", "truck factor", "git", ".", "truck factor"]);
    evidence(
        &mut fx,
        "o2",
        "ownership",
        "",
        ["practice", "codeowners coverage", "git", ".github/CODEOWNERS", "codeowners coverage"],
    );
    commit(
        &mut fx,
        "k1",
        "2025-01-02T00:00:00Z",
        &[
            ("services/shop/db/migrations/001_init.sql", "added"),
            ("README.md", "added"),
            ("renovate.json", "added"),
            ("services/pay/src/main.rs", "modified"),
            ("services/shop/src/main.rs", "modified"),
        ],
    );
    commit(&mut fx, "k2", "2025-01-03T00:00:00Z", &[("docs/adr/0001-use-rust.md", "added")]);
    commit(&mut fx, "k3", "2025-01-04T00:00:00Z", &[("docs/adr/0001-use-rust.md", "deleted")]);
    // Merged before the period: not counted as a change of the period.
    commit(&mut fx, "k0", "2024-12-01T00:00:00Z", &[("services/pay/a.rs", "added"), ("services/shop/a.rs", "added")]);
    for (id, sha, merged) in [
        ("x1", "k1", "2025-01-02T00:00:00Z"),
        ("x2", "k2", "2025-01-03T00:00:00Z"),
        ("x0", "k0", "2024-12-01T00:00:00Z"),
    ] {
        fx.add(
            &model::CHANGES,
            &[
                ("id", s(id)),
                ("source", s("git")),
                ("repo", s("acme/mono")),
                ("service", s("shop")),
                ("merged_at", t(merged)),
                ("merge_commit_sha", s(sha)),
            ],
        );
    }
    // The forge shows a required reviewer on solo's production environment, but its files were never scanned.
    fx.add(
        &model::EVIDENCE,
        &[
            ("id", s("github:acme/solo:environment:production:reviewers")),
            ("source", s("github")),
            ("repo", s("acme/solo")),
            ("kind", s("manual_step")),
            ("category", s("approval")),
            ("path", s("settings/environments/production")),
        ],
    );
    let cfg = services(&[
        ("shop", "acme/mono", "services/shop/**"),
        ("pay", "acme/mono", "services/pay/**"),
        ("solo", "acme/solo", ""),
    ]);
    let with_values = |tables: &mut HashMap<&'static str, DataFrame>| {
        let df = tables.get_mut("evidence").unwrap();
        let values: Vec<Option<f64>> = strs(df, "id")
            .iter()
            .map(|id| match id.as_str() {
                "o1" => Some(1.0),
                "o2" => Some(0.6),
                _ => None,
            })
            .collect();
        df.with_column(Series::new("value".into(), values).into()).unwrap();
    };
    let m = measured(&fx, &cfg, "shop", with_values);

    let ci = m.expect("vc.pipeline_config_in_repo", 1.0, 10.0);
    assert_eq!(ci.detail, "pipeline configuration found in .github/workflows/ci.yml (github-actions)");
    assert_eq!(m.records("vc.pipeline_config_in_repo"), ["e1"]);
    m.expect("ta.tests_in_repo", 1.0, 10.0);
    m.expect("mo.monitoring_in_repo", 1.0, 10.0);
    m.expect("pfn.alerting_in_repo", 1.0, 10.0);
    m.expect("da.manual_steps", 1.0, 7.5);
    // A template is not a review.
    m.unknown("irr.review_documents", "no post-incident reviews found in the repository: teams often keep them");
    // pay's Dockerfile is not shop's; a chart outside every service's paths serves the repository.
    // Not finding a tool a service may not need is no evidence: unknown, not 0.
    m.unknown("co.containers", "the service may not need it");
    m.expect("co.orchestration", 1.0, 10.0);
    m.unknown("iac.iac_in_repo", "no infrastructure as code found in the repository");
    m.unknown("cm.config_management", "or it lives in another repository");
    m.expect("rr.rollback_script", 0.0, 0.0);
    m.unknown("doc.runbooks", "no runbooks found in the repository: teams often keep them in a wiki");
    m.expect("km.truck_factor", 1.0, 0.0);
    m.expect("km.codeowners_coverage", 0.6, 5.0);
    m.unknown("km.knowledge_loss", "no knowledge loss was stored");
    m.expect("km.codeowners_gaps", 1.0, 7.5);
    assert_eq!(m.records("km.codeowners_gaps"), ["g2"]);
    m.expect("db.migration_files", 1.0, 10.0);
    assert_eq!(m.records("db.migration_files"), ["acme/mono:services/shop/db/migrations/001_init.sql"]);
    m.expect("sec.security_config", 1.0, 10.0);
    m.expect("doc.readme", 1.0, 10.0);
    // The decision record was deleted again.
    m.expect("doc.adrs", 0.0, 0.0);
    // x1 touched pay's paths too; x2 only documentation; x0 was merged before the period.
    let crossing = m.expect("lc.cross_service_changes", 0.5, 0.0);
    assert_eq!(crossing.detail, "1 of 2 merged changes also touched another service's paths");
    assert_eq!(m.records("lc.cross_service_changes"), ["x1", "x2"]);

    // pay: shop's migrations are not its own; its Dockerfile is.
    let m = measured(&fx, &cfg, "pay", with_values);
    m.unknown("db.migration_files", "no database migrations among the repository's files: the service may not need it");
    m.expect("co.containers", 1.0, 10.0);
    m.unknown("km.truck_factor", "no truck factor was stored");
    m.unknown("lc.cross_service_changes", "no change was merged in the period");

    // solo: its repository was never read and shares it with no one.
    let m = measured(&fx, &cfg, "solo", with_values);
    m.unknown("vc.pipeline_config_in_repo", "was not scanned");
    m.unknown(
        "da.manual_steps",
        "was not scanned: collect it with the git source; the forge's settings alone show 1 manual steps",
    );
    m.unknown("db.migration_files", "were not read");
    m.unknown("km.codeowners_gaps", "CODEOWNERS was not read");
    m.unknown("km.codeowners_coverage", "no codeowners coverage was stored");
    m.unknown("lc.cross_service_changes", "no other configured service shares");
}

#[test]
fn docs_state_every_indicator_with_its_bands() {
    let doc = std::fs::read_to_string(repo_root().join("docs/assessment.md")).unwrap();
    let section = doc.split("## Indicators").nth(1).expect("docs/assessment.md has a section Indicators");
    for indicator in catalogue().values() {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` ", indicator.id)))
            .unwrap_or_else(|| panic!("docs/assessment.md lacks a row for {}", indicator.id));
        let bands = if indicator.unit == "bool" {
            "1 = present → 10; 0 → 0".to_string()
        } else {
            indicator.bands.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
        };
        assert!(row.contains(&bands), "{}: the docs' row lacks the bands {bands}: {row}", indicator.id);
        assert!(row.contains(&indicator.meaning), "{}: the docs' row lacks the catalogue's meaning", indicator.id);
    }
}

/// Tables of `n` changes (each with a commit, two files and a pipeline with a job) and `n / 5`
/// deployments and incidents, for one service in a shared repository.
fn large(n: usize) -> Fixture {
    let mut fx = Fixture::default();
    let start = t_utc("2025-01-01T00:00:00Z");
    let at = |minutes: usize| Value::Time(start + chrono::Duration::minutes((minutes % (80 * 24 * 60)) as i64));
    for i in 0..n {
        let (id, sha) = (format!("c{i}"), format!("{i:040x}"));
        fx.add(
            &model::CHANGES,
            &[
                ("id", s(&id)),
                ("source", s("test")),
                ("repo", s("acme/mono")),
                ("service", s("shop")),
                ("author", s("alice")),
                ("created_at", at(i)),
                ("first_commit_at", at(i)),
                ("merged_at", at(i + 60)),
                ("base_branch", s("main")),
                ("head_branch", s(&format!("f{i}"))),
                ("merge_commit_sha", s(&sha)),
                ("additions", Value::Int(10)),
            ],
        );
        fx.add(&model::CHANGE_COMMITS, &[("change_id", s(&id)), ("sha", s(&sha))]);
        fx.add(&model::COMMITS, &[("repo", s("acme/mono")), ("sha", s(&sha)), ("committed_at", at(i))]);
        for path in ["services/shop/a.rs", "services/pay/b.rs"] {
            let path = format!("{path}{}", i % 100);
            fx.add(&model::COMMIT_FILES, &[("repo", s("acme/mono")), ("sha", s(&sha)), ("path", s(&path))]);
        }
        let pipeline = format!("p{i}");
        let status = if i % 7 == 0 { "failure" } else { "success" };
        fx.add(
            &model::PIPELINES,
            &[
                ("id", s(&pipeline)),
                ("source", s("test")),
                ("service", s("shop")),
                ("ref", s(if i % 2 == 0 { "main" } else { "feature" })),
                ("sha", s(&sha)),
                ("finished_at", at(i + 30)),
                ("status", s(status)),
                ("attempt", Value::Int(1)),
            ],
        );
        job(&mut fx, &format!("j{i}"), &pipeline, "unit tests", false, Some(1));
        if i % 5 == 0 {
            let d = format!("d{i}");
            deploy(&mut fx, &d, "shop", "production", "success", "2025-01-01T00:00:00Z", &[("sha", s(&sha))]);
            fx.incident(&format!("i{i}"), "shop", "2025-02-01T00:00:00Z", Some("2025-02-01T01:00:00Z"), None);
        }
    }
    fx
}

/// A larger service is measured whole: every merged change is judged for a pipeline before merge.
/// (How the cost grows is a benchmark's question, not a test's: measured by hand at 20,000 and 40,000
/// changes, 2.54 s and 6.09 s in a debug build on a shared machine — see the issue notes.)
#[test]
fn a_larger_service_is_measured_whole() {
    let cfg = services(&[("shop", "acme/mono", "services/shop/**"), ("pay", "acme/mono", "services/pay/**")]);
    let n = 2_000;
    let fx = large(n);
    let (computation, _) = fx.compute(&cfg);
    let tables = fx.frames();
    let input = EvidenceInput { tables: &tables, computation: &computation, config: &cfg };
    let list = measure(&input, "shop", t_utc(Q1.0), t_utc(Q1.1)).unwrap();
    let before = list.iter().find(|m| m.indicator == "ci.pipeline_before_merge").unwrap();
    assert_eq!(before.sample, n as u64, "{}", before.detail);
}

/// The sample organisation, collected for real, measured over 2025.
fn sample_measurements() -> HashMap<String, Vec<Measurement>> {
    use flowgauge::config::Overrides;
    use flowgauge::{collect, metrics, store::Workspace};
    let dir = repo_root().join("sample-data/acme");
    let cfg = Config::load(Some(&dir.join("flowgauge.toml")), &|_| None, &Overrides::default(), crate::helpers::now())
        .unwrap();
    let workspace_dir = tempfile::tempdir().unwrap();
    let mut workspace = Workspace::open(workspace_dir.path()).unwrap();
    collect::collect_configured(&mut workspace, &cfg).unwrap();
    let tables = metrics::load_tables(&workspace).unwrap();
    let computation = metrics::compute(&tables, &cfg, &metrics::queries::load(None).unwrap()).unwrap();
    let input = EvidenceInput { tables: &tables, computation: &computation, config: &cfg };
    let (since, until) = (t_utc("2025-01-01T00:00:00Z"), t_utc("2026-01-01T00:00:00Z"));
    cfg.services.iter().map(|s| (s.name.clone(), measure(&input, &s.name, since, until).unwrap())).collect()
}

#[test]
fn the_sample_organisation_is_measured_for_every_capability() {
    let catalogue = catalogue();
    let all = sample_measurements();
    assert_eq!(all.len(), 4);
    for (service, list) in &all {
        for capability in CAPABILITIES {
            assert!(
                list.iter().any(|m| catalogue[&m.indicator].capability == capability),
                "{service}: nothing for {capability}"
            );
        }
        for m in list {
            assert!(m.value.is_some() != m.unknown_reason.is_some(), "{service} {}: value or reason", m.indicator);
            assert!(!m.detail.is_empty());
        }
    }
    let get = |service: &str, id: &str| all[service].iter().find(|m| m.indicator == id).unwrap().clone();
    // billing: GitLab reports its merge requests' commits, but nothing read the repository's files, so
    // what the files would show is unknown, not absent.
    let pipeline_config = get("billing", "vc.pipeline_config_in_repo");
    assert_eq!(pipeline_config.value, None, "{}", pipeline_config.detail);
    assert!(
        pipeline_config.unknown_reason.as_deref().is_some_and(|r| r.contains("was not scanned")),
        "{:?}",
        pipeline_config.unknown_reason
    );
    // payments: every release is approved by hand in a manual Jenkins job (jobs.csv, deployments.csv).
    let manual = get("payments", "da.manual_production_deployments");
    assert_eq!(
        (manual.value, manual.detail.as_str()),
        (Some(1.0), "52 of 52 production deployments were started by a person")
    );
    assert_eq!(get("payments", "da.manual_jobs").value, Some(1.0));
    // ledger: GitHub reports one unknown owner in its CODEOWNERS; Argo CD's hand syncs are its manual deployments.
    assert_eq!(get("ledger", "km.codeowners_gaps").value, Some(1.0));
    assert_eq!(
        get("ledger", "da.manual_production_deployments").detail,
        "2 of 52 production deployments were started by a person"
    );
    // storefront has no pipelines and no repository scan: unknown, not zero.
    assert!(get("storefront", "ci.pipeline_before_merge").unknown_reason.unwrap().contains("no pipeline"));
    assert!(get("storefront", "iac.iac_in_repo").unknown_reason.unwrap().contains("not scanned"));
}

#[test]
fn release_pipelines_alone_cannot_show_a_pipeline_before_a_merge() {
    let cfg = services(&[("shop", "acme/shop", "")]);
    let release = |fx: &mut Fixture, id: &str, finished: &str| {
        fx.add(
            &model::PIPELINES,
            &[
                ("id", s(id)),
                ("source", s("test")),
                ("repo", s("acme/shop")),
                ("service", s("shop")),
                ("name", s("release")),
                ("ref", s("main")),
                ("finished_at", t(finished)),
                ("status", s("success")),
            ],
        );
    };
    let mut fx = Fixture::default();
    change(
        &mut fx,
        "c1",
        [Some("2025-02-01T00:00:00Z"), Some("2025-02-01T01:00:00Z"), None, Some("2025-02-02T00:00:00Z")],
        "f1",
        None,
        "bob",
        "m1",
        "h1",
    );
    release(&mut fx, "r1", "2025-01-20T00:00:00Z");
    release(&mut fx, "r2", "2025-02-03T00:00:00Z");
    // Only the target branch, no commit: whether a check ran on the change is not in the data.
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("ci.pipeline_before_merge", "name no commit and run only on the branches its changes merge into");
    m.expect("ci.main_red_hours", 0.0, 10.0);
    // One pipeline on the change's branch makes the data able to tell, and it did run.
    pipeline(&mut fx, "p1", "f1", "h1", "success", "2025-02-01T12:00:00Z", None);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("ci.pipeline_before_merge", 1.0, 10.0);
}

#[test]
fn no_manual_step_counts_only_where_the_release_configuration_was_read() {
    // The repository was scanned (a Dockerfile was found) but holds no pipeline configuration:
    // nothing says how releases happen, so "no manual step found" is no evidence.
    let mut fx = Fixture::default();
    evidence(&mut fx, "e1", "scan", "shop", ["practice", "container", "docker", "Dockerfile", "container"]);
    let cfg = services(&[("shop", "acme/mono", "")]);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("da.manual_steps", "no pipeline configuration was found in the repository");
    // With the pipeline configuration read and no manual step in it: 0 steps, the best score.
    evidence(
        &mut fx,
        "e2",
        "scan",
        "shop",
        ["practice", "ci pipeline", "github-actions", ".github/workflows/ci.yml", "ci"],
    );
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.expect("da.manual_steps", 0.0, 10.0);
}

/// Who opened an incident counts only where the source says (`detected_by`): incidents it does not
/// describe are left out of the share, not taken for people.
#[test]
fn incidents_opened_by_monitoring_count_only_those_whose_opener_is_recorded() {
    let mut fx = Fixture::default();
    for (id, opened) in [("i1", "2025-02-01T00:00:00Z"), ("i2", "2025-02-02T00:00:00Z"), ("i3", "2025-02-03T00:00:00Z")]
    {
        fx.incident(id, "shop", opened, Some("2025-02-04T00:00:00Z"), None);
    }
    let cfg = services(&[("shop", "acme/shop", "")]);
    let m = measured(&fx, &cfg, "shop", |tables| {
        let incidents = tables.get_mut("incidents").unwrap();
        let opener: Vec<Option<&str>> = strs(incidents, "id")
            .iter()
            .map(|id| match id.as_str() {
                "i1" => Some("monitoring"),
                "i2" => Some("person"),
                _ => None,
            })
            .collect();
        incidents.with_column(Series::new("detected_by".into(), opener).into()).unwrap();
    });
    let share = m.expect("pfn.incidents_opened_by_monitoring", 0.5, 5.0);
    assert_eq!(share.detail, "1 of 2 incidents that record who opened them were opened by monitoring");
    assert_eq!(m.records("pfn.incidents_opened_by_monitoring"), ["i1", "i2"]);
}

/// A major incident (severity or priority in the top two levels) counts as reviewed when it links a
/// review (`review_url`) or a review evidence row names it; minor ones do not count; with no review
/// linked at all the source may not record them, and with no level recorded majors cannot be told.
#[test]
fn major_incidents_with_a_review_are_a_share_of_the_major_ones() {
    let cfg = services(&[("shop", "acme/shop", "")]);
    let level = |fx: &mut Fixture, id: &str, severity: Option<&str>, priority: Option<&str>, review: Option<&str>| {
        let mut cells = vec![
            ("id", s(id)),
            ("source", s("test")),
            ("service", s("shop")),
            ("opened_at", t("2025-02-01T00:00:00Z")),
            ("resolved_at", t("2025-02-01T02:00:00Z")),
        ];
        for (column, value) in [("severity", severity), ("priority", priority), ("review_url", review)] {
            if let Some(v) = value {
                cells.push((column, s(v)));
            }
        }
        fx.add(&model::INCIDENTS, &cells);
    };
    let mut fx = Fixture::default();
    level(&mut fx, "jira:acme:OPS-1", Some("SEV1"), None, Some("https://wiki/pir-1"));
    level(&mut fx, "jira:acme:OPS-2", Some("sev-2"), None, None);
    level(&mut fx, "jira:acme:OPS-3", None, Some("High"), None);
    level(&mut fx, "jira:acme:OPS-4", Some("SEV3"), Some("Medium"), Some("https://wiki/pir-4"));
    level(&mut fx, "pd:Q5", Some("low"), Some("P1"), None);
    // The review of OPS-3, as the Jira source writes it: named after the incident's key.
    fx.add(
        &model::EVIDENCE,
        &[
            ("id", s("jira:acme:review:OPS-3")),
            ("source", s("jira")),
            ("service", s("shop")),
            ("kind", s("practice")),
            ("category", s("post-incident review")),
            ("tool", s("jira")),
            ("detail", s("post-incident review of OPS-3")),
        ],
    );
    let m = measured(&fx, &cfg, "shop", |_| {});
    let reviewed = m.expect("irr.major_incidents_reviewed", 0.5, 5.0);
    assert_eq!(reviewed.detail, "2 of 4 major incidents link a post-incident review");
    assert_eq!(
        m.records("irr.major_incidents_reviewed"),
        ["jira:acme:OPS-1", "jira:acme:OPS-2", "jira:acme:OPS-3", "pd:Q5"]
    );

    let mut fx = Fixture::default();
    level(&mut fx, "i1", Some("critical"), None, None);
    level(&mut fx, "i2", Some("SEV3"), None, Some("https://wiki/pir"));
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("irr.major_incidents_reviewed", "none of the 1 major incidents links a post-incident review");

    let mut fx = Fixture::default();
    level(&mut fx, "i1", Some("SEV3"), Some("Low"), None);
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("irr.major_incidents_reviewed", "none of the 1 incidents is major");

    let mut fx = Fixture::default();
    level(&mut fx, "i1", None, None, Some("https://wiki/pir"));
    let m = measured(&fx, &cfg, "shop", |_| {});
    m.unknown("irr.major_incidents_reviewed", "records a severity or priority");
}
