#!/usr/bin/env python3
"""Works out the sample's evidence indicators from the data files alone, without flowgauge.

EXPECTED.md ("The assessment: evidence scores") quotes what this prints. It reads the exports
(deployments.csv, changes.csv, pipelines.csv, jobs.csv, incidents.ndjson, ledger-deployments.json), the
recorded GitHub pages (github/acme/ledger/) and storefront's recorded PagerDuty pages (pagerduty/), applies the indicator definitions and bands of
docs/assessment.md ("Indicators") and prints, per service, each measurable indicator's value and score
and each capability's evidence score (the mean of its indicators' scores, one decimal).

    python3 sample-data/acme/evidence.py
"""

import csv
import json
import os
import re
import statistics
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
SINCE = datetime(2025, 1, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 1, 1, tzinfo=timezone.utc)
WEEKS = (UNTIL - SINCE).days / 7


def when(text):
    """A timestamp of any of the sample's three formats, in UTC (naive = UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def inside(moment):
    return moment is not None and SINCE <= moment < UNTIL


def hours(start, end):
    return (end - start).total_seconds() / 3600


def score(value, bands, better):
    """docs/assessment.md, "Scoring"."""
    if better == "higher":
        for points, band in zip((0, 2.5, 5, 7.5), bands):
            if value < band:
                return points
        return 10
    for points, band in zip((10, 7.5, 5, 2.5), bands):
        if value <= band:
            return points
    return 0


def path(name):
    return os.path.join(HERE, name)


def read_csv(name):
    with open(path(name), newline="") as handle:
        return list(csv.DictReader(handle))


def ledger_github():
    """Ledger's pull requests and Argo CD's automated syncs, as the recorded GraphQL pages hold them."""
    base = path("github/acme/ledger")
    pages = json.load(open(os.path.join(base, "pull_requests/00000001.json")))
    changes = []
    for pr in pages["data"]["repository"]["pullRequests"]["nodes"]:
        if pr["state"] != "MERGED":
            continue
        reviews = [r for r in pr["reviews"]["nodes"] if r["state"] == "APPROVED"]
        changes.append({
            "id": "ledger-%d" % pr["number"],
            "service": "ledger",
            "author": pr["author"]["login"],
            "created_at": pr["createdAt"],
            "first_commit_at": min(c["commit"]["authoredDate"] for c in pr["commits"]["nodes"]),
            "approved_at": min(r["submittedAt"] for r in reviews) if reviews else "",
            "merged_at": pr["mergedAt"],
            "additions": pr["additions"],
            "deletions": pr["deletions"],
        })
    pages = json.load(open(os.path.join(base, "deployments/00000001.json")))
    deployments = []
    for node in pages["data"]["repository"]["deployments"]["nodes"]:
        done = [s for s in node["statuses"]["nodes"] if s["state"] in ("SUCCESS", "FAILURE", "ERROR")]
        deployments.append({
            "id": "ldg-%d" % node["databaseId"],
            "service": "ledger",
            "environment": "production",
            "sha": node["commitOid"],
            "started_at": node["createdAt"],
            "finished_at": done[0]["createdAt"] if done else "",
            "status": "success" if done and done[0]["state"] == "SUCCESS" else "failure",
            "triggered_by": node["creator"]["login"],
            "is_manual": "",
            "approval_wait_seconds": "",
            "is_rollback": "false",
        })
    for row in json.load(open(path("ledger-deployments.json"))):
        row = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in row.items()}
        row["environment"] = "production"
        row.setdefault("approval_wait_seconds", "")
        deployments.append(row)
    errors = json.load(open(os.path.join(base, "codeowners_errors/00000001.json")))["errors"]
    return changes, deployments, errors


AUTOMATION = ("github-actions", "jenkins", "argocd", "gitlab", "circleci", "bot")
BOTS = ("dependabot", "renovate")


def started_by_person(row):
    if row.get("is_manual") in ("true", "false"):
        return row["is_manual"] == "true"
    return not any(word in row.get("triggered_by", "").lower() for word in AUTOMATION)


def median(values):
    return statistics.median(values) if values else None


def indicators(service, all_deployments, changes, deployments, pipelines, jobs, incidents, codeowners_errors):
    """(indicator, capability, value, bands, better, detail) for every indicator the files can tell."""
    out = []

    def add(capability, name, value, bands, better, detail):
        out.append((capability, name, value, bands, better, detail))

    prod = [d for d in deployments if d["environment"] == "production" and inside(when(d["finished_at"]))]
    succeeded = [d for d in prod if d["status"] == "success"]
    merged = [c for c in changes if inside(when(c["merged_at"]))]
    window_incidents = [i for i in incidents if inside(when(i["opened_at"]))]
    window_pipelines = [p for p in pipelines if inside(when(p["finished_at"] or p["started_at"]))]
    jobs_of = {}
    for job in jobs:
        jobs_of.setdefault(job["pipeline_id"], []).append(job)

    named = [d for d in prod if d["sha"]]
    add("version-control", "vc.deployments_name_sha", len(named) / len(prod), (0.5, 0.75, 0.9, 0.99),
        "higher", "%d of %d" % (len(named), len(prod)))

    if window_pipelines:
        # payments: every pipeline is a release on main with no commit, the branch every change merges
        # into: such pipelines cannot show a check before a merge, so the share is unknown.
        targets = {c["base_branch"] for c in merged}
        if any(p.get("sha") or p["ref"] not in targets for p in pipelines):
            before = [c for c in merged if any(
                p["ref"] == c.get("head_branch") and p["status"] == "success"
                and when(p["finished_at"]) < when(c["merged_at"]) for p in window_pipelines)]
            value, detail = len(before) / len(merged), "%d of %d" % (len(before), len(merged))
        else:
            value, detail = None, "unknown: %d pipelines, all on %s, none names a commit" % (
                len(pipelines), "/".join(sorted(targets)))
        add("continuous-integration", "ci.pipeline_before_merge", value, (0.5, 0.75, 0.9, 0.98), "higher",
            detail)
        red = [p for p in window_pipelines if p["ref"] == "main" and p["status"] == "failure"]
        add("continuous-integration", "ci.main_red_hours", 0.0 if not red else None,
            (1, 4, 24, 72), "lower", "%d failed main pipelines of %d" % (len(red), len(window_pipelines)))

    within_day = [c for c in merged if hours(when(c["created_at"]), when(c["merged_at"])) <= 24]
    add("trunk-based-development", "tbd.merged_within_day", len(within_day) / len(merged),
        (0.25, 0.5, 0.75, 0.9), "higher", "%d of %d" % (len(within_day), len(merged)))
    life = [hours(when(c["first_commit_at"] or c["created_at"]), when(c["merged_at"])) for c in merged]
    add("trunk-based-development", "tbd.median_branch_life_hours", median(life), (24, 72, 168, 336),
        "lower", "median of %d" % len(life))

    if window_pipelines:
        with_jobs = [p for p in window_pipelines if p["id"] in jobs_of]
        tested = [p for p in with_jobs if any(
            word in j["name"].lower() for j in jobs_of[p["id"]]
            for word in ("test", "spec", "unit", "integration", "e2e", "pytest", "jest"))]
        add("test-automation", "ta.test_jobs", len(tested) / len(with_jobs), (0.25, 0.5, 0.75, 0.95),
            "higher", "%d of %d" % (len(tested), len(with_jobs)))
        rerun = [p for p in window_pipelines if int(p["attempt"]) > 1
                 or any(int(j["attempt"]) > 1 for j in jobs_of.get(p["id"], []))]
        add("test-automation", "ta.flaky_retries", len(rerun) / len(window_pipelines),
            (0.02, 0.05, 0.1, 0.2), "lower", "%d of %d" % (len(rerun), len(window_pipelines)))

    by_hand = [d for d in prod if started_by_person(d)]
    add("deployment-automation", "da.manual_production_deployments", len(by_hand) / len(prod),
        (0.05, 0.2, 0.5, 0.8), "lower", "%d of %d" % (len(by_hand), len(prod)))
    if window_pipelines:
        manual = [p for p in with_jobs if any(j["is_manual"] == "true" for j in jobs_of[p["id"]])]
        add("deployment-automation", "da.manual_jobs", len(manual) / len(with_jobs), (0, 0.1, 0.25, 0.5),
            "lower", "%d of %d" % (len(manual), len(with_jobs)))

    days = {when(d["finished_at"]).date() for d in succeeded}
    add("continuous-delivery", "cd.deploy_days_per_week", len(days) / WEEKS, (0.25, 1, 2, 4), "higher",
        "%d days / %.2f weeks" % (len(days), WEEKS))
    add("continuous-delivery", "cd.deployment_success", len(succeeded) / len(prod),
        (0.7, 0.85, 0.95, 0.99), "higher", "%d of %d" % (len(succeeded), len(prod)))

    waits = [int(d["approval_wait_seconds"]) / 3600 for d in prod if d["approval_wait_seconds"]]
    if waits:
        add("streamlined-change-approval", "sca.approval_wait_hours", median(waits), (1, 4, 24, 72),
            "lower", "median of %d" % len(waits))
    review = [hours(when(c["created_at"]), when(c["approved_at"])) for c in merged if c["approved_at"]]
    add("streamlined-change-approval", "sca.review_hours", median(review), (4, 24, 72, 168), "lower",
        "median of %d" % len(review))

    lines = [int(c["additions"]) + int(c["deletions"]) for c in merged]
    add("small-batches", "sb.median_change_lines", median(lines), (100, 250, 500, 1000), "lower",
        "median of %d" % len(lines))
    per_deployment = changes_per_deployment(service, changes, deployments, succeeded)
    add("small-batches", "sb.changes_per_deployment", median(per_deployment), (1, 3, 8, 20), "lower",
        "%d changes in %d deployments" % (sum(per_deployment), len(per_deployment)))

    traced = [i for i in window_incidents if i.get("caused_by_deployment_id") or i.get("tracker_deployment_id")]
    if traced:  # none named: the source may not record causes, so unknown
        add("monitoring-observability", "mo.incident_cause_recorded", len(traced) / len(window_incidents),
            (0.25, 0.5, 0.75, 0.9), "higher", "%d of %d" % (len(traced), len(window_incidents)))
    told = [i for i in window_incidents if i.get("detected_by")]
    if told:  # no incident says who opened it: the source does not record it, so unknown
        monitored = [i for i in told if i["detected_by"] == "monitoring"]
        add("proactive-failure-notification", "pfn.incidents_opened_by_monitoring", len(monitored) / len(told),
            (0.25, 0.5, 0.75, 0.9), "higher", "%d of %d" % (len(monitored), len(told)))
    acknowledged = [hours(when(i["opened_at"]), when(i["acknowledged_at"]))
                    for i in window_incidents if i.get("acknowledged_at")]
    add("proactive-failure-notification", "pfn.acknowledge_hours", median(acknowledged),
        (0.1, 0.25, 1, 4), "lower", "median of %d" % len(acknowledged))
    resolved = [hours(when(i["opened_at"]), when(i["resolved_at"]))
                for i in window_incidents if i.get("resolved_at")]
    add("incident-response-review", "irr.incident_restore_hours", median(resolved), (1, 24, 168, 720),
        "lower", "%d of %d resolved" % (len(resolved), len(window_incidents)))
    majors = [i for i in window_incidents if major(i)]
    reviewed = [i for i in majors if i.get("review_url")]
    if reviewed:  # no major incident links a review: the source may not record reviews, so unknown
        add("incident-response-review", "irr.major_incidents_reviewed", len(reviewed) / len(majors),
            (0.25, 0.5, 0.75, 0.9), "higher", "%d of %d major incidents" % (len(reviewed), len(majors)))

    others = [d for d in all_deployments if d["service"] != service and d["environment"] == "production"
              and d["status"] == "success"]
    coupled = [d for d in succeeded if d["sha"] and any(
        o["sha"] == d["sha"] and abs(hours(when(o["finished_at"]), when(d["finished_at"]))) <= 1 for o in others)]
    add("loosely-coupled-architecture", "lc.coupled_deployments", len(coupled) / len(succeeded),
        (0.05, 0.15, 0.3, 0.5), "lower", "%d of %d" % (len(coupled), len(succeeded)))

    bots = [c for c in merged if any(bot in c["author"].lower() for bot in BOTS)]
    add("pervasive-security", "sec.dependency_updates", 1.0 if bots else 0.0, (0.5,) * 4, "higher",
        "%d of %d from a bot" % (len(bots), len(merged)))
    if window_pipelines:
        names = [p["name"].lower() for p in window_pipelines] + [
            j["name"].lower() for p in window_pipelines for j in jobs_of.get(p["id"], [])]
        scans = any(w in n for n in names for w in ("scan", "sast", "trivy", "snyk", "codeql", "audit"))
        add("pervasive-security", "sec.scanning_jobs", 1.0 if scans else 0.0, (0.5,) * 4, "higher",
            "%d names" % len(names))
        migrations = any(w in n for n in names for w in ("migrat", "flyway", "liquibase", "alembic"))
        if migrations:  # none found: the service may not have a database, so unknown
            add("database-change-management", "db.migrations_in_pipeline", 1.0,
                (0.5,) * 4, "higher", "%d names" % len(names))
    if codeowners_errors is not None:
        add("code-maintainability-knowledge", "km.codeowners_gaps", float(len(codeowners_errors)),
            (0, 1, 2, 4), "lower", "%d CODEOWNERS errors" % len(codeowners_errors))
    return out


MAJOR = {"sev0", "sev1", "sev2", "s0", "s1", "s2", "p0", "p1", "p2", "0", "1", "2", "critical", "high",
         "highest", "major", "urgent"}


def major(incident):
    """Severity or priority in the top two levels (docs/assessment.md, "How the indicators read the
    records")."""
    levels = ["".join(c for c in (incident.get(k) or "") if c.isalnum()).lower() for k in ("severity", "priority")]
    return any(level in MAJOR for level in levels)


def is_review(text):
    """A post-incident review, by its name (docs/jira.md, "Post-incident reviews")."""
    lower = (text or "").lower()
    return any(w in lower for w in ("post-incident review", "post incident review", "postmortem", "post-mortem",
                                    "post mortem", "incident review")) or "pir" in re.split(r"[^a-z0-9]", lower)


def changes_per_deployment(service, changes, deployments, succeeded):
    """How many changes each successful production deployment of the window shipped.

    storefront's deployments list their commits (the squash shas); payments' and ledger's do not, so a
    deployment ships the changes merged after the previous production deployment started and before it
    started (docs/metrics.md); a rollback ships nothing new."""
    by_sha = {c["merge_commit_sha"]: c for c in changes if c.get("merge_commit_sha")}
    counts = []
    if service == "storefront":
        for d in succeeded:
            shipped = {by_sha[s]["id"] for s in d["commits"].split() if s in by_sha}
            if shipped:
                counts.append(len(shipped))
        return counts
    ordered = sorted((d for d in deployments if d["environment"] == "production" and d["status"] == "success"),
                     key=lambda d: when(d["started_at"]))
    merges = sorted(when(c["merged_at"]) for c in changes if c["merged_at"])
    previous = None
    for d in ordered:
        start = when(d["started_at"])
        shipped = [m for m in merges if m < start and (previous is None or m >= previous)]
        if d in succeeded and shipped and d.get("is_rollback") != "true":
            counts.append(len(shipped))
        previous = start
    return counts


def pagerduty_incidents():
    """storefront's incidents from the recorded PagerDuty pages, as incidents.ndjson would hold them:
    acknowledged at the first acknowledge log entry; traced to a deployment when PagerDuty relates a
    change event to it (docs/pagerduty.md)."""
    directory = path("pagerduty")
    incidents = json.load(open(os.path.join(directory, "incidents", "00000001.json")))["incidents"]
    entries = json.load(open(os.path.join(directory, "log_entries", "00000001.json")))["log_entries"]
    related_dir = os.path.join(directory, "related_change_events")
    out = []
    for i in incidents:
        acks = sorted(e["created_at"] for e in entries
                      if e["incident"]["id"] == i["id"] and e["type"] == "acknowledge_log_entry")
        related = os.path.join(related_dir, i["id"] + ".json")
        events = json.load(open(related))["change_events"] if os.path.exists(related) else []
        trigger = next((e for e in entries if e["incident"]["id"] == i["id"] and e["type"] == "trigger_log_entry"),
                       None)
        out.append({"service": "storefront", "opened_at": i["created_at"], "resolved_at": i["resolved_at"],
                    "acknowledged_at": acks[0] if acks else None,
                    "tracker_deployment_id": events[0]["id"] if events else None,
                    "detected_by": pagerduty_detected_by(trigger),
                    "severity": i.get("urgency"), "priority": (i.get("priority") or {}).get("summary")})
    return out


def pagerduty_detected_by(trigger):
    """An alerting integration opened it (monitoring), or a person did; a service-level trigger says
    neither (docs/pagerduty.md)."""
    agent = (trigger or {}).get("agent", {}).get("type", "")
    if agent.endswith("_inbound_integration_reference"):
        return "monitoring"
    return "person" if agent == "user_reference" else None


def jira_time(text):
    """Jira's `2025-01-17T13:00:00.000+0000` as the `…Z` text the other files use."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def jira_incidents():
    """ledger's incidents from the recorded Jira Service Management pages (docs/jira.md): opened at
    creation, acknowledged at the first move to In Progress, resolved at the resolution date; caused
    by the GitHub deployment whose API URL the description links; opened by monitoring when an app
    (the Datadog integration) reported it, else by a person; with its severity field and priority, and
    reviewed when a linked issue is a post-incident review."""
    site = path(os.path.join("jira", "acme.atlassian.net"))
    issues = json.load(open(os.path.join(site, "search", "00000001.json")))["issues"]
    logs = json.load(open(os.path.join(site, "changelog", "00000001.json")))["issueChangeLogs"]
    histories = {log["issueId"]: log["changeHistories"] for log in logs}
    out = []
    for issue in issues:
        f = issue["fields"]
        moves = sorted((h["created"], item["toString"]) for h in histories.get(issue["id"], [])
                       for item in h["items"] if item["field"] == "status")
        acknowledged = next((jira_time(t) for t, to in moves if to == "In Progress"), None)
        cards = [c["attrs"]["url"] for block in f["description"]["content"] for c in block["content"]
                 if c["type"] == "inlineCard"]
        deployment = next((u for u in cards if "/deployments/" in u), None)
        linked = [link.get("outwardIssue") or link.get("inwardIssue") or {} for link in f.get("issuelinks", [])]
        review = next((issue["key"] for issue in linked
                       if is_review(issue["fields"]["issuetype"]["name"]) or is_review(issue["fields"]["summary"])),
                      None)
        out.append({"service": "ledger", "opened_at": jira_time(f["created"]),
                    "resolved_at": jira_time(f["resolutiondate"]) if f["resolutiondate"] else None,
                    "acknowledged_at": acknowledged,
                    "caused_by_deployment_id": deployment,
                    "detected_by": "monitoring" if f["reporter"]["accountType"] == "app" else "person",
                    "severity": (f.get("customfield_10040") or {}).get("value"),
                    "priority": (f.get("priority") or {}).get("name"), "review_url": review})
    return out


def main():
    deployments = read_csv("deployments.csv")
    changes = read_csv("changes.csv")
    pipelines = read_csv("pipelines.csv")
    jobs = read_csv("jobs.csv")
    incidents = [json.loads(line) for line in open(path("incidents.ndjson")) if line.strip()]
    incidents += pagerduty_incidents() + jira_incidents()
    ledger_changes, ledger_deployments, errors = ledger_github()
    for service in ("storefront", "payments", "ledger"):
        if service == "ledger":
            own_changes, own_deployments, gaps = ledger_changes, ledger_deployments, errors
        else:
            own_changes = [c for c in changes if c["service"] == service]
            own_deployments = [d for d in deployments if d["service"] == service]
            gaps = None
        rows = indicators(service, deployments + ledger_deployments, own_changes, own_deployments,
                          [p for p in pipelines if p["service"] == service],
                          [j for j in jobs if j["pipeline_id"].startswith(service[:3])],
                          [i for i in incidents if i["service"] == service], gaps)
        print("==", service)
        capabilities = {}
        for capability, name, value, bands, better, detail in rows:
            points = score(value, bands, better) if value is not None else None
            print("  %-36s %-10s -> %-4s  (%s)" % (name, "%.4g" % value if value is not None else "?",
                                                  points, detail))
            if points is not None:
                capabilities.setdefault(capability, []).append(points)
        for capability, points in capabilities.items():
            print("  %-32s evidence %.1f" % (capability, round(sum(points) / len(points) + 1e-9, 1)))


if __name__ == "__main__":
    main()
