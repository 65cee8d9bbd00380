//! Table-in/table-out tests of every metric query, on small fixtures whose expected figures are
//! worked out by hand in the comments.

use flowgauge::assess::{self, Confidence, Level};
use flowgauge::metrics;
use flowgauge::model;

use crate::helpers::*;

const Q1: (&str, &str) = ("2025-01-01", "2025-04-01");

#[test]
fn squash_merge_and_batched_deployment_lead_times() {
    let mut f = Fixture::default();
    // First deployment ever: ships c0, merged two hours before it (inside the 7-day look-back).
    f.deploy("d0", "shop", "production", "success", "2025-01-06T10:00:00Z").ships("d0", &["s0"]);
    f.change("c0", "shop", "2025-01-06T06:00:00Z", "2025-01-06T07:00:00Z", Some("2025-01-06T08:00:00Z"), "s0");
    // c1 is squash-merged: its own commits a1, a2 never reach main, only the squash commit sq1.
    f.change("c1", "shop", "2025-01-07T00:00:00Z", "2025-01-07T01:00:00Z", Some("2025-01-07T02:00:00Z"), "sq1");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c1")), ("sha", s("a1"))]);
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c1")), ("sha", s("a2"))]);
    // c2 is merged with a merge commit; its commits b1, b2 and the merge m2 all ship.
    f.change("c2", "shop", "2025-01-07T12:00:00Z", "2025-01-07T13:00:00Z", Some("2025-01-07T14:00:00Z"), "m2");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c2")), ("sha", s("b1"))]);
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c2")), ("sha", s("b2"))]);
    f.change("c3", "shop", "2025-01-07T18:00:00Z", "2025-01-07T19:00:00Z", Some("2025-01-07T20:00:00Z"), "m3");
    // One deployment ships all three (a batch).
    f.deploy("d1", "shop", "production", "success", "2025-01-08T00:00:00Z")
        .ships("d1", &["sq1", "b1", "b2", "m2", "m3"]);

    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    // Lead times: c0 4 h, c1 24 h, c2 12 h, c3 6 h → sorted 4, 6, 12, 24.
    let lt = &window(&report, "shop").lead_time;
    assert_eq!(lt.changes, 4);
    approx(lt.median_hours, 9.0); // (6 + 12) / 2
    approx(lt.p75_hours, 15.0); // position 2.25: 12 + 0.25 × 12
    approx(lt.p90_hours, 20.4); // position 2.7: 12 + 0.7 × 12
    // Coding stage: every change opened one hour after its first commit.
    approx(lt.coding.median_hours, 1.0);
    // Deploy stage: 2, 22, 10, 4 h → median (4 + 10) / 2.
    approx(lt.deploy.median_hours, 7.0);
    let reasons = reasons(&computation, "change_lead_times", "change_id");
    assert!(reasons.iter().all(|(_, r)| r == "counted"), "{reasons:?}");
    // Two deployments, one change lead time each per change, not per commit.
    assert_eq!(window(&report, "shop").deployment_frequency.deployments, 2);
}

#[test]
fn first_deployment_does_not_absorb_history() {
    let mut f = Fixture::default();
    // The first deployment observed claims two changes; one was merged 31 days before it.
    f.deploy("d0", "shop", "production", "success", "2025-02-01T12:00:00Z").ships("d0", &["old", "new"]);
    f.change("old", "shop", "2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z", Some("2025-01-01T12:00:00Z"), "old");
    f.change("new", "shop", "2025-01-30T00:00:00Z", "2025-01-30T06:00:00Z", Some("2025-01-30T12:00:00Z"), "new");
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let reasons = reasons(&computation, "change_lead_times", "change_id");
    assert_eq!(
        reasons,
        vec![
            ("new".into(), "counted".into()),
            ("old".into(), "shipped by the first observed deployment, merged before its look-back".into()),
        ]
    );
    let lt = &window(&report, "shop").lead_time;
    assert_eq!(lt.changes, 1);
    approx(lt.median_hours, 60.0); // 30 Jan 00:00 → 1 Feb 12:00
}

#[test]
fn failed_and_staging_deployments_are_ignored() {
    let mut f = Fixture::default();
    f.change("c1", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "x1");
    f.change("c2", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "x2");
    f.change("c3", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "x3");
    f.change("c4", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", None, "x4");
    f.change("c2b", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "x5");
    f.deploy("stage", "shop", "staging", "success", "2025-01-10T08:00:00Z").ships("stage", &["x1", "x2"]);
    f.deploy("broken", "shop", "production", "failure", "2025-01-10T09:00:00Z").ships("broken", &["x1", "x5"]);
    f.deploy("ok", "shop", "production", "success", "2025-01-10T12:00:00Z").ships("ok", &["x1"]);
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    assert_eq!(
        reasons(&computation, "change_lead_times", "change_id"),
        vec![
            ("c1".into(), "counted".into()),
            ("c2".into(), "deployed only outside production".into()),
            ("c2b".into(), "only in production deployments that did not succeed".into()),
            ("c3".into(), "never deployed to production".into()),
            ("c4".into(), "not merged".into()),
        ]
    );
    assert_eq!(
        reasons(&computation, "deployment_outcomes", "deployment_id"),
        vec![
            ("broken".into(), "deployment did not succeed".into()),
            ("ok".into(), "counted".into()),
            ("stage".into(), "not a production deployment".into()),
        ]
    );
    let w = window(&report, "shop");
    approx(w.lead_time.median_hours, 12.0); // first commit 00:00 → successful production 12:00
    assert_eq!(w.deployment_frequency.deployments, 1);
    assert_eq!(w.change_failure_rate.failed, 0);
}

/// Four production deployments of `api`, 3–6 Feb at 10:00, and five incidents.
fn incident_fixture() -> Fixture {
    let mut f = Fixture::default();
    for (id, day) in [("p1", 3), ("p2", 4), ("p3", 5), ("p4", 6)] {
        f.deploy(id, "api", "production", "success", &format!("2025-02-0{day}T10:00:00Z"));
    }
    // Two incidents on p2: one linked by the window (1 h after), one explicitly.
    f.incident("i1", "api", "2025-02-04T11:00:00Z", Some("2025-02-04T13:00:00Z"), None);
    f.incident("i2", "api", "2025-02-04T12:00:00Z", Some("2025-02-04T15:00:00Z"), Some("p2"));
    // Ten days after p4: no deployment within 24 h.
    f.incident("i3", "api", "2025-02-10T10:00:00Z", Some("2025-02-10T11:00:00Z"), None);
    // 23.5 h after p3 (and before p4): linked to p3 by the 24 h window.
    f.incident("i4", "api", "2025-02-06T09:30:00Z", Some("2025-02-06T10:30:00Z"), None);
    // 48.5 h after p4: not linked.
    f.incident("i5", "api", "2025-02-08T10:30:00Z", Some("2025-02-08T12:30:00Z"), None);
    f
}

#[test]
fn incidents_link_to_deployments_and_count_once() {
    let (computation, report) = incident_fixture().compute(&config(Q1.0, Q1.1, ""));
    let w = window(&report, "api");
    // p2 (two incidents, counted once) and p3 failed: 2 of 4.
    assert_eq!(w.change_failure_rate.deployments, 4);
    assert_eq!(w.change_failure_rate.failed, 2);
    assert_eq!(w.change_failure_rate.with_incident, 2);
    approx(w.change_failure_rate.rate, 0.5);
    // Recovery: p2 restored when its last incident resolved (15:00, 5 h); p3 at 10:30 next day (24.5 h).
    assert_eq!(w.failed_deployment_recovery_time.failures, 2);
    approx(w.failed_deployment_recovery_time.median_hours, 14.75);
    // Time to restore covers every incident, caused by a deployment or not: 2, 3, 1, 1, 2 h.
    assert_eq!(w.time_to_restore.incidents, 5);
    approx(w.time_to_restore.median_hours, 2.0);
    let links = &computation.records["incident_restores"];
    let linked = links.column("caused_by_deployment_id").unwrap().str().unwrap();
    let ids = links.column("incident_id").unwrap().str().unwrap();
    let pairs: Vec<(String, Option<String>)> =
        (0..links.height()).map(|i| (ids.get(i).unwrap().into(), linked.get(i).map(String::from))).collect();
    for (incident, deployment) in
        [("i1", Some("p2")), ("i2", Some("p2")), ("i3", None), ("i4", Some("p3")), ("i5", None)]
    {
        assert!(pairs.contains(&(incident.to_string(), deployment.map(String::from))), "{incident}: {pairs:?}");
    }
}

#[test]
fn incidents_that_name_their_cause_link_to_the_deployment_that_shipped_it() {
    let mut f = Fixture::default();
    // c1 (merge m1, own commits a1) ships with p1 on 3 Feb; c2 (squash s2) with p2 on 5 Feb.
    f.deploy("p1", "api", "production", "success", "2025-02-03T10:00:00Z").ships("p1", &["m1", "a1"]);
    f.change("c1", "api", "2025-02-02T00:00:00Z", "2025-02-02T01:00:00Z", Some("2025-02-02T02:00:00Z"), "m1");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c1")), ("sha", s("a1"))]);
    f.deploy("p2", "api", "production", "success", "2025-02-05T10:00:00Z").ships("p2", &["s2abcdef0123"]);
    f.change("c2", "api", "2025-02-04T00:00:00Z", "2025-02-04T01:00:00Z", Some("2025-02-04T02:00:00Z"), "s2abcdef0123");
    // A later redeploy of the same commit does not take the blame: the first deployment shipped it.
    f.deploy("p3", "api", "production", "success", "2025-02-06T10:00:00Z").ships("p3", &["s2abcdef0123"]);
    let incident = |f: &mut Fixture, id: &str, opened: &str, column: &str, value: &str| {
        f.add(
            &model::INCIDENTS,
            &[
                ("id", s(id)),
                ("source", s("test")),
                ("service", s("api")),
                ("opened_at", t(opened)),
                ("resolved_at", t("2025-02-07T12:00:00Z")),
                (column, s(value)),
            ],
        );
    };
    // Opened on 6 Feb, two days after p2 ... the window would pick p3 (2 h before); the text names c1.
    incident(&mut f, "i1", "2025-02-06T12:00:00Z", "caused_by_change_id", "c1");
    // One of c1's own commits (before it was merged) names p1 too.
    incident(&mut f, "i2", "2025-02-06T12:00:00Z", "caused_by_sha", "a1");
    // An abbreviated sha matches by prefix: c2's squash commit, first shipped by p2.
    incident(&mut f, "i3", "2025-02-06T12:00:00Z", "caused_by_sha", "s2abcde");
    // A change never deployed before the incident (or at all) falls back to the window: p3.
    incident(&mut f, "i4", "2025-02-06T12:00:00Z", "caused_by_change_id", "c9");
    // Opened before p2 shipped c2: "#2" in a title is not a cause that came later. Window: p1 is
    // more than 24 h earlier, so no link.
    incident(&mut f, "i5", "2025-02-04T12:00:00Z", "caused_by_change_id", "c2");
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let got = crate::helpers::incident_links(&computation);
    let want = |i: &str, d: Option<&str>, l: Option<&str>| (i.to_string(), d.map(String::from), l.map(String::from));
    assert_eq!(
        got,
        vec![
            want("i1", Some("p1"), Some("reference")),
            want("i2", Some("p1"), Some("reference")),
            want("i3", Some("p2"), Some("reference")),
            want("i4", Some("p3"), Some("window")),
            want("i5", None, None),
        ]
    );
    // p1, p2 and p3 each caused a failure: 3 of 3.
    assert_eq!(window(&report, "api").change_failure_rate.failed, 3);
}

#[test]
fn a_service_can_narrow_the_incident_link_window() {
    let extra = "[[services]]\nname = \"api\"\nincident_link_hours = 12.0\n";
    let (_, report) = incident_fixture().compute(&config(Q1.0, Q1.1, extra));
    // i4 is 23.5 h after p3: no longer linked. Only p2 failed.
    let w = window(&report, "api");
    assert_eq!(w.change_failure_rate.failed, 1);
    approx(w.change_failure_rate.rate, 0.25);
    approx(w.failed_deployment_recovery_time.median_hours, 5.0);
}

#[test]
fn rollback_hotfix_and_revert_are_failures_and_rework() {
    let mut f = Fixture::default();
    f.change("A", "web", "2025-03-03T07:00:00Z", "2025-03-03T07:30:00Z", Some("2025-03-03T08:00:00Z"), "a");
    f.deploy("w1", "web", "production", "success", "2025-03-03T10:00:00Z").ships("w1", &["a"]);
    f.deploy("w2", "web", "production", "success", "2025-03-03T12:00:00Z").flag_last_deploy("is_rollback");
    f.change("B", "web", "2025-03-04T08:00:00Z", "2025-03-04T08:30:00Z", Some("2025-03-04T09:00:00Z"), "b");
    f.deploy("w3", "web", "production", "success", "2025-03-04T10:00:00Z").ships("w3", &["b"]);
    f.change("H", "web", "2025-03-04T14:00:00Z", "2025-03-04T14:30:00Z", Some("2025-03-04T15:00:00Z"), "h");
    f.deploy("w4", "web", "production", "success", "2025-03-04T16:00:00Z")
        .flag_last_deploy("is_hotfix")
        .ships("w4", &["h"]);
    f.change("C", "web", "2025-03-05T08:00:00Z", "2025-03-05T08:30:00Z", Some("2025-03-05T09:00:00Z"), "c");
    f.deploy("w5", "web", "production", "success", "2025-03-05T10:00:00Z").ships("w5", &["c"]);
    f.add(
        &model::CHANGES,
        &[
            ("id", s("R")),
            ("source", s("test")),
            ("service", s("web")),
            ("first_commit_at", t("2025-03-06T08:30:00Z")),
            ("created_at", t("2025-03-06T08:40:00Z")),
            ("merged_at", t("2025-03-06T09:00:00Z")),
            ("merge_commit_sha", s("r")),
            ("is_revert", b(true)),
            ("reverts_change_id", s("C")),
        ],
    );
    f.deploy("w6", "web", "production", "success", "2025-03-06T10:00:00Z").ships("w6", &["r"]);

    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let w = window(&report, "web");
    // Failed: w1 (rolled back by w2), w3 (hotfixed by w4), w5 (its change C reverted by R).
    assert_eq!(w.change_failure_rate.deployments, 6);
    assert_eq!(w.change_failure_rate.failed, 3);
    assert_eq!(
        (w.change_failure_rate.rolled_back, w.change_failure_rate.hotfixed, w.change_failure_rate.reverted),
        (1, 1, 1)
    );
    approx(w.change_failure_rate.rate, 0.5);
    // Rework: w2 (rollback), w4 (hotfix), w6 (ships a revert).
    assert_eq!(w.rework_rate.rework, 3);
    approx(w.rework_rate.rate, 0.5);
    // Recovery: w1 → w2 2 h, w3 → w4 6 h, w5 → w6 24 h.
    approx(w.failed_deployment_recovery_time.median_hours, 6.0);
    // Every change, the revert included, reached production once.
    let reasons = reasons(&computation, "change_lead_times", "change_id");
    assert_eq!(reasons.len(), 5);
    assert!(reasons.iter().all(|(_, r)| r == "counted"), "{reasons:?}");
}

#[test]
fn daylight_saving_changes_do_not_move_events() {
    let mut f = Fixture::default();
    // Berlin springs forward at 01:00 UTC on 30 March 2025.
    f.deploy("e1", "eu", "production", "success", "2025-03-30T00:30:00+01:00"); // 29 Mar 23:30 UTC
    f.deploy("e2", "eu", "production", "success", "2025-03-30T03:30:00+02:00").ships("e2", &["d"]); // 30 Mar 01:30 UTC
    f.deploy("e3", "eu", "production", "success", "2025-04-01T01:30:00+02:00"); // 31 Mar 23:30 UTC: still Q1
    f.change(
        "dst",
        "eu",
        "2025-03-30T00:00:00+01:00",
        "2025-03-30T00:10:00+01:00",
        Some("2025-03-30T03:00:00+02:00"),
        "d",
    );
    let (_, report) = f.compute(&config("2025-03-01", "2025-05-01", ""));
    let eu = service(&report, "eu");
    // Two local-time "30 March" deployments fall on two UTC days.
    assert_eq!(eu.window.deployment_frequency.deployment_days, 3);
    // 29 Mar 23:00 UTC → 30 Mar 01:30 UTC is 2.5 h, although local clocks moved 3.5 h.
    approx(eu.window.lead_time.median_hours, 2.5);
    let march = eu.month.iter().find(|m| m.period == "2025-03").unwrap();
    assert_eq!(march.deployment_frequency.deployments, 3);
    let april = eu.month.iter().find(|m| m.period == "2025-04").unwrap();
    assert_eq!(april.deployment_frequency.deployments, 0);
}

#[test]
fn an_empty_service_reports_zeros_and_no_levels() {
    let mut f = Fixture::default();
    f.deploy("x", "busy", "production", "success", "2025-01-10T10:00:00Z");
    // ghost's deployments are collected (one, before the window), it just did not deploy in Q1.
    f.deploy("old", "ghost", "production", "success", "2024-11-20T10:00:00Z");
    let cfg = config(
        Q1.0,
        Q1.1,
        "[[services]]\nname = \"ghost\"\n[[services]]\nname = \"busy\"\n[[services]]\nname = \"never\"\n",
    );
    let (_, report) = f.compute(&cfg);
    // never has no deployment anywhere: not collected, or never deploys — the data cannot tell, so
    // its 12 whole weeks earn no level.
    let never = service(&report, "never");
    assert!(!never.window.deployment_frequency.service_has_deployments);
    let df = assess::levels(&never.window, &cfg.analysis).deployment_frequency;
    assert_eq!((df.level, df.sample, df.confidence), (None, 0, Confidence::None));
    let ghost = service(&report, "ghost");
    assert_eq!(ghost.quarter.len(), 1);
    assert_eq!(ghost.month.len(), 3);
    let w = &ghost.window;
    assert_eq!(w.deployment_frequency.deployments, 0);
    assert_eq!(w.deployment_frequency.bucket, "fewer than monthly");
    assert_eq!(w.lead_time.changes, 0);
    assert_eq!(w.lead_time.median_hours, None);
    assert_eq!(w.change_failure_rate.rate, None);
    assert_eq!(w.time_to_restore.median_hours, None);
    let levels = assess::levels(w, &cfg.analysis);
    assert_eq!(levels.lead_time.level, None);
    assert_eq!(levels.change_failure_rate.confidence, Confidence::None);
    assert_eq!(levels.recovery.level, None);
}

#[test]
fn deployment_frequency_uses_the_median_whole_week() {
    let mut f = Fixture::default();
    // 6 Jan (Mon) .. 3 Feb (Mon): four whole weeks with deployment days 5, 3, 5, 1.
    let days: &[&str] = &[
        "06", "06", "07", "08", "09", "10", // week 1: two on Monday, five days
        "13", "14", "15", // week 2: three days
        "20", "21", "22", "23", "24", // week 3: five days
        "27", // week 4: one day
    ];
    for (i, day) in days.iter().enumerate() {
        f.deploy(&format!("f{i}"), "fast", "production", "success", &format!("2025-01-{day}T1{}:00:00Z", i % 10));
    }
    f.deploy("s1", "slow", "production", "success", "2025-01-15T10:00:00Z");
    let cfg = config("2025-01-06", "2025-02-03", "");
    let (_, report) = f.compute(&cfg);
    let fast = &window(&report, "fast").deployment_frequency;
    assert_eq!((fast.deployments, fast.deployment_days, fast.whole_weeks), (15, 14, 4));
    approx(fast.median_weekly_deployment_days, 4.0); // (3 + 5) / 2
    approx(Some(fast.per_week), 3.75); // 15 × 7 / 28
    assert_eq!(fast.bucket, "daily");
    let slow = &window(&report, "slow").deployment_frequency;
    approx(slow.median_weekly_deployment_days, 0.0);
    assert_eq!(slow.bucket, "monthly"); // one deployment day ≥ 26/31 of January + 2/28 of February
    let fast_level = assess::levels(window(&report, "fast"), &cfg.analysis).deployment_frequency;
    assert_eq!((fast_level.level, fast_level.confidence), (Some(Level::High), Confidence::Normal));
    let slow_level = assess::levels(window(&report, "slow"), &cfg.analysis).deployment_frequency;
    assert_eq!(slow_level.level, Some(Level::Medium));
}

#[test]
fn changes_count_in_the_period_of_their_deployment() {
    let mut f = Fixture::default();
    f.deploy("z0", "q", "production", "success", "2024-12-31T23:00:00Z").ships("z0", &["z"]);
    f.change("before", "q", "2024-12-31T10:00:00Z", "2024-12-31T11:00:00Z", Some("2024-12-31T12:00:00Z"), "z");
    f.change("late-q1", "q", "2025-03-30T00:00:00Z", "2025-03-30T01:00:00Z", Some("2025-03-31T12:00:00Z"), "a");
    f.deploy("z1", "q", "production", "success", "2025-03-31T23:59:00Z").ships("z1", &["a"]);
    f.change("into-q2", "q", "2025-03-31T00:00:00Z", "2025-03-31T01:00:00Z", Some("2025-04-01T12:00:00Z"), "b");
    f.deploy("z2", "q", "production", "success", "2025-04-02T00:00:00Z").ships("z2", &["b"]);
    let (computation, report) = f.compute(&config("2025-01-01", "2025-07-01", ""));
    let q = service(&report, "q");
    assert_eq!(q.quarter[0].lead_time.changes, 1);
    approx(q.quarter[0].lead_time.median_hours, 47.0 + 59.0 / 60.0); // 30 Mar 00:00 → 31 Mar 23:59
    assert_eq!(q.quarter[1].lead_time.changes, 1);
    approx(q.quarter[1].lead_time.median_hours, 48.0); // first commit in Q1, deployed in Q2
    assert!(
        reasons(&computation, "change_lead_times", "change_id")
            .contains(&("before".into(), "deployed before the window".into()))
    );
    assert!(
        reasons(&computation, "deployment_outcomes", "deployment_id")
            .contains(&("z0".into(), "deployed before the window".into()))
    );
    assert_eq!(q.window.deployment_frequency.deployments, 2);
}

#[test]
fn deployments_without_commits_ship_what_was_merged_since_the_last() {
    let mut f = Fixture::default();
    // Deployments start ten minutes before they finish.
    f.deploy("i1", "inf", "production", "success", "2025-01-10T12:00:00Z"); // started 11:50
    f.deploy("i2", "inf", "production", "success", "2025-01-11T12:00:00Z"); // started 11:50
    f.change("m1", "inf", "2025-01-10T09:00:00Z", "2025-01-10T10:00:00Z", Some("2025-01-10T11:00:00Z"), "m1");
    // Merged while i1 was already running: it rides the next deployment.
    f.change("m2", "inf", "2025-01-10T11:00:00Z", "2025-01-10T11:30:00Z", Some("2025-01-10T11:55:00Z"), "m2");
    // Merged eight days before the first deployment: outside its look-back, so never attributed.
    f.change("m3", "inf", "2025-01-01T09:00:00Z", "2025-01-02T10:00:00Z", Some("2025-01-02T11:00:00Z"), "m3");
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    assert_eq!(
        reasons(&computation, "change_lead_times", "change_id"),
        vec![
            ("m1".into(), "counted".into()),
            ("m2".into(), "counted".into()),
            ("m3".into(), "never deployed to production".into()),
        ]
    );
    // m1: 09:00 → i1 12:00 = 3 h; m2: 11:00 → i2 next day 12:00 = 25 h.
    approx(window(&report, "inf").lead_time.median_hours, 14.0);
}

#[test]
fn benchmark_years_judge_the_same_figures_differently() {
    let (_, report) = incident_fixture().compute(&config(Q1.0, Q1.1, ""));
    let w = window(&report, "api");
    let mut cfg = config(Q1.0, Q1.1, "");
    // CFR 50 %: low in every year. Recovery median 14.75 h: high (< 1 day).
    let l2023 = assess::levels(w, &cfg.analysis);
    assert_eq!(l2023.change_failure_rate.level, Some(Level::Low));
    assert_eq!(l2023.recovery.level, Some(Level::High));
    assert_eq!(l2023.recovery.confidence, Confidence::Low); // 2 failures < min_sample 10
    // 2021 judges time to restore instead: median 2 h over 5 incidents → high.
    cfg.analysis.benchmark_year = flowgauge::config::BenchmarkYear::Y2021;
    let l2021 = assess::levels(w, &cfg.analysis);
    assert_eq!(l2021.recovery.sample, 5);
    assert_eq!(l2021.recovery.level, Some(Level::High));
    assert_eq!(l2021.overall.level, Some(Level::Low));
    assert_eq!(l2021.overall.confidence, Confidence::Low);
}

#[test]
fn explain_lists_counted_records_first_and_refuses_unknown_names() {
    let (computation, _) = incident_fixture().compute(&config(Q1.0, Q1.1, ""));
    let records = metrics::explain(&computation, "change-failure-rate", Some("api")).unwrap();
    assert_eq!(records.height(), 4);
    let err = metrics::explain(&computation, "lead-tim", None).unwrap_err();
    assert!(err.to_string().contains("lead-time"), "{err}");
    let err = metrics::explain(&computation, "lead-time", Some("nope")).unwrap_err();
    assert!(err.to_string().contains("known services: api"), "{err}");
}

#[test]
fn changes_merged_before_a_rollback_ride_the_next_real_deployment() {
    let mut f = Fixture::default();
    f.deploy("r1", "rb", "production", "success", "2025-01-10T12:00:00Z"); // started 11:50
    f.deploy("r2", "rb", "production", "success", "2025-01-10T18:00:00Z").flag_last_deploy("is_rollback");
    f.deploy("r3", "rb", "production", "success", "2025-01-11T12:00:00Z");
    // Merged after r1 started and before the rollback started: the rollback does not ship it.
    f.change("m", "rb", "2025-01-10T13:00:00Z", "2025-01-10T14:00:00Z", Some("2025-01-10T15:00:00Z"), "m");
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let df = &computation.records["change_lead_times"];
    assert_eq!(df.column("deployment_id").unwrap().str().unwrap().get(0), Some("r3"));
    approx(window(&report, "rb").lead_time.median_hours, 23.0); // 13:00 → 12:00 next day
}

#[test]
fn without_a_first_commit_time_lead_time_starts_at_opening_and_coding_is_unknown() {
    let mut f = Fixture::default();
    f.add(
        &model::CHANGES,
        &[
            ("id", s("nc")),
            ("source", s("test")),
            ("service", s("shop")),
            ("created_at", t("2025-01-10T08:00:00Z")),
            ("merged_at", t("2025-01-10T10:00:00Z")),
            ("merge_commit_sha", s("nc")),
        ],
    );
    f.deploy("d", "shop", "production", "success", "2025-01-10T12:00:00Z").ships("d", &["nc"]);
    let (_, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let lt = &window(&report, "shop").lead_time;
    approx(lt.median_hours, 4.0);
    assert_eq!(lt.coding.median_hours, None);
    approx(lt.review.median_hours, 2.0);
}

#[test]
fn a_period_of_whole_weeks_without_deployments_is_rated_low_and_counts_overall() {
    let mut f = Fixture::default();
    f.deploy("x", "busy", "production", "success", "2025-01-10T10:00:00Z");
    // ghost's deployments are collected (one, before the window), it just did not deploy in Q1.
    f.deploy("old", "ghost", "production", "success", "2024-11-20T10:00:00Z");
    let cfg = config(
        Q1.0,
        Q1.1,
        "[[services]]\nname = \"ghost\"\n[[services]]\nname = \"busy\"\n[[services]]\nname = \"never\"\n",
    );
    let (_, report) = f.compute(&cfg);
    // never has no deployment anywhere: not collected, or never deploys — the data cannot tell, so
    // its 12 whole weeks earn no level.
    let never = service(&report, "never");
    assert!(!never.window.deployment_frequency.service_has_deployments);
    let df = assess::levels(&never.window, &cfg.analysis).deployment_frequency;
    assert_eq!((df.level, df.sample, df.confidence), (None, 0, Confidence::None));
    let ghost = service(&report, "ghost");
    // 1 Jan 2025 is a Wednesday: the whole weeks run from Monday 6 Jan to Monday 31 Mar, 12 of them.
    assert_eq!(ghost.window.deployment_frequency.whole_weeks, 12);
    let levels = assess::levels(&ghost.window, &cfg.analysis);
    let df = &levels.deployment_frequency;
    assert_eq!((df.level, df.sample, df.confidence), (Some(Level::Low), 12, Confidence::Normal));
    // The overall level is the weakest that exists: low, resting on those 12 weeks, and only
    // indicative because the other three metrics have no level.
    let overall = &levels.overall;
    assert_eq!((overall.level, overall.sample, overall.confidence), (Some(Level::Low), 12, Confidence::Low));
    // The clipped first week (Wed 1 Jan .. Mon 6 Jan) holds no whole week and no deployment: no level.
    let first_week = &ghost.week[0];
    assert_eq!((first_week.period.as_str(), first_week.deployment_frequency.whole_weeks), ("2025-W01", 0));
    let df = assess::levels(first_week, &cfg.analysis).deployment_frequency;
    assert_eq!((df.level, df.sample, df.confidence), (None, 0, Confidence::None));
}

/// One release on the 15th of every month of 2025 (and of January 2026).
fn monthly_releases() -> Fixture {
    let mut f = Fixture::default();
    for month in 1..=12 {
        f.deploy(&format!("r{month}"), "lib", "production", "success", &format!("2025-{month:02}-15T12:00:00Z"));
    }
    f.deploy("r13", "lib", "production", "success", "2026-01-15T12:00:00Z");
    f
}

#[test]
fn a_release_every_calendar_month_is_a_monthly_cadence() {
    let cfg = config("2025-01-01", "2026-01-01", "");
    let (_, report) = monthly_releases().compute(&cfg);
    let lib = service(&report, "lib");
    let df = &lib.window.deployment_frequency;
    // 12 deployment days over 365 days is fewer than one per 30 days, but one in each of 12 months.
    assert_eq!((df.deployments, df.deployment_days), (12, 12));
    approx(Some(df.months), 12.0);
    assert_eq!(df.bucket, "monthly");
    let level = assess::levels(&lib.window, &cfg.analysis).deployment_frequency;
    assert_eq!(level.level, Some(Level::Medium)); // 2023: per month ≥ 1
    let mut cfg2021 = cfg.clone();
    cfg2021.analysis.benchmark_year = flowgauge::config::BenchmarkYear::Y2021;
    assert_eq!(assess::levels(&lib.window, &cfg2021.analysis).deployment_frequency.level, Some(Level::High));
    // Every quarter, including the 92-day third and fourth, and every month is monthly too.
    for p in lib.quarter.iter().chain(&lib.month) {
        assert_eq!(p.deployment_frequency.bucket, "monthly", "{}", p.period);
        assert_eq!(assess::levels(p, &cfg.analysis).deployment_frequency.level, Some(Level::Medium), "{}", p.period);
    }

    // A window that does not start on the 1st: 22 days of January 2025 and 9 of January 2026 make
    // one more month with the 11 between them, and it holds 12 releases.
    let cfg = config("2025-01-10", "2026-01-10", "");
    let (_, report) = monthly_releases().compute(&cfg);
    let df = &window(&report, "lib").deployment_frequency;
    assert_eq!(df.deployment_days, 12);
    approx(Some(df.months), 12.0);
    assert_eq!(df.bucket, "monthly");
}

#[test]
fn an_until_that_is_not_midnight_keeps_one_window_period() {
    let mut f = Fixture::default();
    // Three deployments, each failed with an incident restored after 1 h, 2 h and 4 h.
    for (i, (day, hours)) in [("10", 1), ("20", 2), ("30", 4)].iter().enumerate() {
        let id = format!("d{i}");
        f.deploy(&id, "api", "production", "success", &format!("2025-03-{day}T10:00:00Z"));
        let resolved = format!("2025-03-{day}T{:02}:00:00Z", 10 + hours);
        f.incident(&format!("i{i}"), "api", &format!("2025-03-{day}T10:00:00Z"), Some(&resolved), Some(&id));
    }
    let cfg = config("2025-01-01", "2025-03-31T12:00:00Z", "");
    let periods = flowgauge::calendar::periods(flowgauge::calendar::Grain::Window, &cfg.analysis.window);
    assert_eq!(periods.len(), 1, "{periods:?}");
    let (_, report) = f.compute(&cfg);
    let w = window(&report, "api");
    assert_eq!(w.period, "2025-01-01T00:00:00Z..2025-03-31T12:00:00Z");
    assert_eq!((w.start, w.end), (t_utc("2025-01-01T00:00:00Z"), t_utc("2025-03-31T12:00:00Z")));
    approx(Some(w.deployment_frequency.days), 89.5);
    assert_eq!(w.deployment_frequency.deployments, 3);
    assert_eq!(w.change_failure_rate.deployments, 3);
    assert_eq!(w.time_to_restore.incidents, 3);
    approx(w.time_to_restore.p75_hours, 3.0); // 1, 2, 4 h: position 1.5
    assert_eq!(w.failed_deployment_recovery_time.failures, 3);
    approx(w.failed_deployment_recovery_time.p75_hours, 3.0);
    // The quarter is clipped at the same instant and agrees with the window.
    let q = &service(&report, "api").quarter;
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].time_to_restore.incidents, 3);
}

#[test]
fn a_sha_naming_a_branch_commit_of_a_squash_merged_change_links_to_its_deployment() {
    let mut f = Fixture::default();
    f.deploy("p1", "api", "production", "success", "2025-02-03T10:00:00Z").ships("p1", &["m1"]);
    // c2 is squash-merged as s2: its branch commits b2a and b2b never reach main, and p2 ships s2.
    f.deploy("p2", "api", "production", "success", "2025-02-05T10:00:00Z").ships("p2", &["s2"]);
    f.change("c2", "api", "2025-02-04T00:00:00Z", "2025-02-04T01:00:00Z", Some("2025-02-04T02:00:00Z"), "s2");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c2")), ("sha", s("b2a0123456789"))]);
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c2")), ("sha", s("b2b0123456789"))]);
    f.deploy("p3", "api", "production", "success", "2025-02-06T10:00:00Z").ships("p3", &["m3"]);
    for (id, sha) in [("i1", "b2a0123456789"), ("i2", "b2b0123")] {
        f.add(
            &model::INCIDENTS,
            &[
                ("id", s(id)),
                ("source", s("test")),
                ("service", s("api")),
                ("opened_at", t("2025-02-06T12:00:00Z")),
                ("caused_by_sha", s(sha)),
            ],
        );
    }
    let (computation, _) = f.compute(&config(Q1.0, Q1.1, ""));
    let links = &computation.records["incident_restores"];
    let (ids, linked, how) = (
        links.column("incident_id").unwrap().str().unwrap(),
        links.column("caused_by_deployment_id").unwrap().str().unwrap(),
        links.column("link").unwrap().str().unwrap(),
    );
    let mut got: Vec<(Option<&str>, Option<&str>, Option<&str>)> =
        (0..links.height()).map(|i| (ids.get(i), linked.get(i), how.get(i))).collect();
    got.sort();
    // The change's deployment p2, not p3, which the 24 h window would pick.
    assert_eq!(got, vec![(Some("i1"), Some("p2"), Some("reference")), (Some("i2"), Some("p2"), Some("reference"))]);
}

#[test]
fn without_an_opening_time_coding_pickup_and_review_are_unknown_not_zero() {
    let mut f = Fixture::default();
    // A change as git recovers it: first commit and merge, no opening and no review.
    f.add(
        &model::CHANGES,
        &[
            ("id", s("g")),
            ("source", s("git")),
            ("service", s("shop")),
            ("first_commit_at", t("2025-01-10T08:00:00Z")),
            ("merged_at", t("2025-01-10T10:00:00Z")),
            ("merge_commit_sha", s("g")),
        ],
    );
    f.deploy("d", "shop", "production", "success", "2025-01-10T12:00:00Z").ships("d", &["g"]);
    let (_, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let lt = &window(&report, "shop").lead_time;
    approx(lt.median_hours, 4.0);
    assert_eq!((lt.coding.median_hours, lt.pickup.median_hours, lt.review.median_hours), (None, None, None));
    approx(lt.deploy.median_hours, 2.0);
}

#[test]
fn restore_time_stops_at_mitigation_when_the_tracker_records_it_else_at_resolution() {
    let mut f = Fixture::default();
    let incident = |f: &mut Fixture, id: &str, opened: &str, mitigated: Option<&str>, resolved: Option<&str>| {
        let mut cells = vec![("id", s(id)), ("source", s("test")), ("service", s("api")), ("opened_at", t(opened))];
        if let Some(m) = mitigated {
            cells.push(("mitigated_at", t(m)));
        }
        if let Some(r) = resolved {
            cells.push(("resolved_at", t(r)));
        }
        f.add(&model::INCIDENTS, &cells);
    };
    // m1: impact ended after 30 min, the ticket closed 4 h later: 0.5 h, by mitigation.
    incident(&mut f, "m1", "2025-02-04T10:00:00Z", Some("2025-02-04T10:30:00Z"), Some("2025-02-04T14:00:00Z"));
    // m2: no mitigation recorded: 2 h, by resolution.
    incident(&mut f, "m2", "2025-02-05T10:00:00Z", None, Some("2025-02-05T12:00:00Z"));
    // m3: mitigated after 1 h, still open for its review: restored, 1 h, by mitigation.
    incident(&mut f, "m3", "2025-02-06T10:00:00Z", Some("2025-02-06T11:00:00Z"), None);
    // m4: neither: not restored yet, counted in `open`.
    incident(&mut f, "m4", "2025-02-07T10:00:00Z", None, None);
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    let ttr = &window(&report, "api").time_to_restore;
    // Restores 0.5, 2 and 1 h: sorted 0.5, 1, 2; median 1; p75 at 1.5 of 2 → 1.5; p90 at 1.8 → 1.8.
    assert_eq!(ttr.incidents, 3);
    assert_eq!(ttr.open, 1);
    approx(ttr.median_hours, 1.0);
    approx(ttr.p75_hours, 1.5);
    approx(ttr.p90_hours, 1.8);
    let records = metrics::explain(&computation, "time-to-restore", Some("api")).unwrap();
    let ids = records.column("incident_id").unwrap().str().unwrap().clone();
    let basis = records.column("restore_basis").unwrap().str().unwrap().clone();
    let seconds = records.column("restore_s").unwrap().i64().unwrap().clone();
    let mut rows: Vec<(String, Option<String>, Option<i64>)> = (0..records.height())
        .map(|i| (ids.get(i).unwrap().to_string(), basis.get(i).map(String::from), seconds.get(i)))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("m1".into(), Some("mitigation".into()), Some(1800)),
            ("m2".into(), Some("resolution".into()), Some(7200)),
            ("m3".into(), Some("mitigation".into()), Some(3600)),
            ("m4".into(), None, None),
        ]
    );
    assert_eq!(
        reasons(&computation, "incident_restores", "incident_id"),
        vec![
            ("m1".to_string(), "counted".to_string()),
            ("m2".into(), "counted".into()),
            ("m3".into(), "counted".into()),
            ("m4".into(), "not resolved yet".into()),
        ]
    );
}

#[test]
fn a_commit_listed_twice_for_a_change_counts_the_change_once() {
    let mut f = Fixture::default();
    // c1's merge commit m1 is also among its own commits, twice; staging ships it twice, then
    // production once. c2's merge commit m2, also among its own commits, only reaches staging.
    f.change("c1", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "m1");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c1")), ("sha", s("m1"))]);
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c1")), ("sha", s("m1"))]);
    f.change("c2", "shop", "2025-01-10T00:00:00Z", "2025-01-10T01:00:00Z", Some("2025-01-10T06:00:00Z"), "m2");
    f.add(&model::CHANGE_COMMITS, &[("change_id", s("c2")), ("sha", s("m2"))]);
    f.deploy("stage", "shop", "staging", "success", "2025-01-10T08:00:00Z").ships("stage", &["m1", "m1", "m2"]);
    f.deploy("ok", "shop", "production", "success", "2025-01-10T12:00:00Z").ships("ok", &["m1"]);
    let (computation, report) = f.compute(&config(Q1.0, Q1.1, ""));
    // One record per change, however often its commits are listed or shipped.
    assert_eq!(
        reasons(&computation, "change_lead_times", "change_id"),
        vec![("c1".into(), "counted".into()), ("c2".into(), "deployed only outside production".into())]
    );
    let lt = &window(&report, "shop").lead_time;
    assert_eq!(lt.changes, 1);
    approx(lt.median_hours, 12.0); // first commit 00:00 → production 12:00
    approx(lt.deploy.median_hours, 6.0); // merged 06:00 → production 12:00
}

#[test]
fn period_outputs_are_ordered_by_service_and_period() {
    let mut f = Fixture::default();
    for (service, day) in [("web", "2025-03-03"), ("api", "2025-01-13"), ("web", "2025-01-20"), ("api", "2025-02-10")] {
        let id = format!("{service}-{day}");
        let sha = format!("m-{id}");
        f.change(
            &id,
            service,
            &format!("{day}T01:00:00Z"),
            &format!("{day}T02:00:00Z"),
            Some(&format!("{day}T03:00:00Z")),
            &sha,
        );
        f.deploy(&format!("d-{id}"), service, "production", "success", &format!("{day}T12:00:00Z"))
            .ships(&format!("d-{id}"), &[&sha]);
    }
    let (computation, _) = f.compute(&config(Q1.0, Q1.1, ""));
    let mut checked = 0;
    for ((grain, query), df) in &computation.aggregates {
        let services = df.column("service").unwrap().str().unwrap();
        let periods = df.column("period").unwrap().str().unwrap();
        let keys: Vec<(String, String)> = services
            .iter()
            .zip(periods.iter())
            .map(|(s, p)| (s.unwrap_or_default().to_string(), p.unwrap_or_default().to_string()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{query} for {grain:?}");
        assert!(keys.iter().any(|(s, _)| s == "api") && keys.iter().any(|(s, _)| s == "web"), "{query}");
        checked += 1;
    }
    assert_eq!(checked, 24, "six period queries, four grains");
}

#[test]
fn of_two_deployments_finishing_together_a_change_reaches_production_with_the_smaller_id() {
    let mut f = Fixture::default();
    // Both ship c1 and finish at the same instant; "d-10" sorts before "d-9" as text, although it
    // comes second in the data and 10 > 9: the smaller id is compared as text, as SQL's MIN does.
    f.deploy("d-9", "shop", "production", "success", "2025-01-08T00:00:00Z").ships("d-9", &["m1"]);
    f.deploy("d-10", "shop", "production", "success", "2025-01-08T00:00:00Z").ships("d-10", &["m1"]);
    f.change("c1", "shop", "2025-01-07T00:00:00Z", "2025-01-07T01:00:00Z", Some("2025-01-07T02:00:00Z"), "m1");
    let (computation, _) = f.compute(&config(Q1.0, Q1.1, ""));
    assert_eq!(reasons(&computation, "change_lead_times", "deployment_id"), vec![("d-10".into(), "counted".into())]);
}
